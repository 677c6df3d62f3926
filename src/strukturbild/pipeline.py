"""``build(project) -> StructureImage``: the one place that knows the whole chain.

read → places + flows → measures → regions → roles → links → StructureImage.
Regions come before roles because role rules may use region membership
(``rank_in_region``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import warnings
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pandas as pd

from ._validate import check_known, check_metric
from .config import Project
from .errors import ConfigError, StrukturbildWarning
from .flows import Flows
from .image import RoleInfo, StructureImage
from .io import read_areas, read_flows_table, read_places, to_jsonable
from .links import links_from_flows, links_to_lines, model_flows
from .places import place_measures, rank_in_group
from .roles import classify_roles, compare_roles, load_designations

__all__ = ["build", "package_version", "read_inputs"]

Progress = Callable[[str], None]


def package_version() -> str:
    """The installed package version ("0+unknown" when run from a source tree).

    Examples
    --------
    >>> isinstance(package_version(), str)
    True
    """
    try:
        return version("strukturbild")
    except PackageNotFoundError:  # pragma: no cover - only in an uninstalled tree
        return "0+unknown"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_inputs(project: Project) -> tuple[Any, Any, Flows | None]:
    """Read and check the places, areas and flows a project names.

    Flows given between areas (``level = "area"``) are attached to each area's
    largest place.

    Returns
    -------
    (places, areas or None, flows or None)

    Examples
    --------
    >>> from strukturbild.datasets import example_project
    >>> places, areas, flows = read_inputs(example_project())
    >>> len(places), areas is None, flows is None
    (70, True, True)
    """
    check_metric(project.crs, source=project.path)
    places = read_places(project.places, crs=project.crs)
    areas = read_areas(project.areas, crs=project.crs) if project.areas else None
    flows = None
    if project.flows is not None:
        table = read_flows_table(project.flows)
        names = table.attrs.get("columns", {})
        units = places.index
        what = "place"
        if project.flows.level == "area":
            main = rank_in_group(places, "area_id")
            seat = pd.Series(main[main == 1].index, index=places.loc[main == 1, "area_id"])
            units, what = seat.index, "area"
            if areas is not None:
                units = units.union(areas.index)
        for side in ("origin", "destination"):
            check_known(table[side], units, what=what, source=project.flows.path,
                        column=names.get(side, side))
        if project.flows.level == "area":
            # Areas of the areas layer without a place of their own (Solna, Sundbyberg,
            # Järfälla, Tyresö and Salem in SCB's 2020 tätorter) have nowhere to attach.
            placeless = ~(table["origin"].isin(seat.index) & table["destination"].isin(seat.index))
            if placeless.any():
                lost = sorted(set(table.loc[placeless, ["origin", "destination"]].stack())
                              - set(seat.index))
                warnings.warn(
                    f"{project.flows.path}: {int(placeless.sum())} flow rows "
                    f"({table.loc[placeless, 'count'].sum():,.0f} commuters) left out: "
                    f"area(s) {', '.join(lost)} have no place to attach their flows to",
                    StrukturbildWarning, stacklevel=2,
                )
                table = table.loc[~placeless].reset_index(drop=True)
            table = table.assign(origin=seat.reindex(table["origin"]).to_numpy(),
                                 destination=seat.reindex(table["destination"]).to_numpy())
        flows = Flows.from_frame(table, source=project.flows.path, units=places.index)
    return places, areas, flows


def build(project: Project, *, progress: Progress | None = None) -> StructureImage:
    """Build the structure image a project describes.

    Parameters
    ----------
    project
        The project (see :func:`strukturbild.config.load_project`).
    progress
        Called with a short message at each step (the CLI prints them to stderr).

    Examples
    --------
    >>> from strukturbild.datasets import example_project
    >>> img = build(example_project())
    >>> len(img.places), img.modelled, str(img.places.loc["1280TC106", "role"])
    (70, True, 'tillvaxtmotor')
    """
    say = progress or (lambda _msg: None)
    places, areas, observed = read_inputs(project)
    say(f"read {len(places)} places" + (f", {len(observed)} flows" if observed else ""))
    measures = place_measures(places, observed)

    # Which flows make the links: observed, or modelled where none are observed.
    src = project.links.source
    use_model = src == "modelled" or (src == "auto" and observed is None)
    model_used: dict[str, Any] = {}
    if use_model:
        link_flows, model_used = model_flows(places, params=project.links, observed=observed)
        say(f"modelled {len(link_flows)} flows (gravity model, beta={model_used['beta']:.4g})")
    else:
        assert observed is not None
        link_flows = observed

    region_result = None
    regions = None
    if project.regions.method != "none":
        from .regions import delineate_regions, region_geometries

        rp = dataclasses.asdict(project.regions)
        method = rp.pop("method")
        if method in ("lma", "scb_la") and (observed is None or not observed.has_self_flows):
            raise ConfigError(
                f"regions.method = '{method}' needs observed flows that include intra-place "
                "flows (people who live and work in the same place): self-containment is "
                "made of them; use 'nodal' or 'commuting_zone' with modelled flows",
                source=project.path,
            )
        rflows = observed if observed is not None else link_flows
        region_result = delineate_regions(rflows, method, **_region_kwargs(method, rp))
        labels = region_result.labels.reindex(places.index)
        measures["rank_in_region"] = rank_in_group(places.assign(region=labels), "region")
        regions = region_geometries(
            region_result, places=places, areas=areas,
            unit_area=places["area_id"] if areas is not None else None,
        )
        # regions of places are named after their leading place
        regions["name"] = places["name"].reindex(regions.index).fillna(regions["name"])
        say(f"delineated {len(regions)} regions ({method})")

    designations = None
    if project.roles.designations:
        designations = pd.concat([load_designations(d) for d in project.roles.designations],
                                 ignore_index=True)
        designations.attrs["source"] = ", ".join(str(d) for d in project.roles.designations)
    roles = classify_roles(measures, project.roles, designations=designations,
                           names=places["name"], language=project.map.language)
    notes = _unknown_rule_measures(measures, project)
    for note in notes:
        say(note)
    say("classified roles: " + ", ".join(
        f"{k} {int(v)}" for k, v in roles["role"].value_counts(sort=False).items() if v))

    link_measures = measures[["employed", "jobs"]].copy()
    if link_flows.modelled:
        est = project.links.employment_rate * places["population"].astype(float)
        net = link_flows.inflow(include_self=False).reindex(places.index, fill_value=0.0) - \
            link_flows.outflow(include_self=False).reindex(places.index, fill_value=0.0)
        link_measures["employed"] = link_measures["employed"].fillna(est)
        link_measures["jobs"] = link_measures["jobs"].fillna(est + net)
    links = links_from_flows(link_flows, link_measures, params=project.links)
    lines = links_to_lines(links, places)
    say(f"made {len(lines)} links" + (" (modelled)" if link_flows.modelled else ""))

    out_places = places.join(measures.drop(columns=[c for c in measures.columns
                                                    if c in places.columns]))
    for col in roles.columns:
        out_places[col] = roles[col]
    if region_result is not None:
        out_places["region"] = region_result.labels.reindex(places.index).astype(object)
    out_places["modelled"] = bool(link_flows.modelled)

    scheme = project.roles
    role_info = tuple(RoleInfo(r.key, r.label_sv, r.label_en, n)
                      for n, r in enumerate(scheme.roles))
    inputs: dict[str, Any] = {}
    for key, srcobj in (("places", project.places), ("areas", project.areas),
                        ("flows", project.flows)):
        if srcobj is not None:
            inputs[key] = {"file": Path(srcobj.path).name, "sha256": _sha256(Path(srcobj.path))}
            if srcobj.licence:
                inputs[key]["licence"] = srcobj.licence
    provenance = {
        "package": "strukturbild",
        "version": package_version(),
        "crs": project.crs,
        "inputs": inputs,
        "flows": "modelled" if link_flows.modelled else "observed",
        "model": to_jsonable(model_used),
        "notes": notes,
        "parameters": {
            "links": to_jsonable(project.links),
            "regions": to_jsonable(project.regions),
            "roles": {"scheme": scheme.name,
                      "roles": [{"key": r.key, "rules": [str(x) for x in r.rules]}
                                for r in scheme.roles],
                      "designations": [str(d) if isinstance(d, str) else Path(d).name
                                       for d in scheme.designations]},
        },
    }
    json.dumps(provenance)  # provenance must stay JSON-able
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StrukturbildWarning)
        comparison = compare_roles(roles, places["name"])
    return StructureImage(
        name=project.name,
        title=project.map.title or project.title or project.name,
        places=out_places,
        links=lines,
        roles=role_info,
        areas=areas,
        regions=regions,
        role_comparison=comparison,
        language=project.map.language,
        modelled=bool(link_flows.modelled),
        provenance=provenance,
    )


def _unknown_rule_measures(measures: pd.DataFrame, project: Project) -> list[str]:
    """Notes on role rules that test a measure no place has: those rules are skipped."""
    notes = []
    used = dict.fromkeys(rule.measure for role in project.roles.roles for rule in role.rules)
    for measure in used:
        if measure not in measures.columns or measures[measure].isna().all():
            roles = [r.key for r in project.roles.roles
                     if any(rule.measure == measure for rule in r.rules)]
            notes.append(
                f"no place has '{measure}' (it needs jobs and employed residents, or "
                f"observed flows): the rules on it are skipped for {', '.join(roles)}"
            )
    return notes


def _region_kwargs(method: str, params: dict[str, Any]) -> dict[str, Any]:
    keys = {
        "lma": ("min_size", "min_self_containment", "target_size", "target_self_containment"),
        "scb_la": ("max_outflow", "max_single_outflow", "max_chain"),
        "nodal": ("k",),
        "commuting_zone": ("cores", "share"),
    }[method]
    return {k: params[k] for k in keys}
