"""``build(project)`` and ``build_image(places, …)``: the one place that knows the chain.

read → places + flows → measures → regions → roles → links → StructureImage.
Regions come before roles because role rules may use region membership
(``rank_in_region``). :func:`build` reads the files a project names;
:func:`build_image` takes frames a script already holds.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ._files import check_outputs, check_path
from ._validate import check_known, check_metric
from .analysis.flows import Flows, place_flows_from_area_flows, resolve_seats
from .analysis.links import (
    ModelledFlows,
    link_scopes,
    links_from_flows,
    links_to_lines,
    model_flows,
)
from .analysis.network import corridors
from .analysis.places import place_measures, rank_in_group
from .analysis.roles import (
    classify_roles,
    compare_roles,
    joint_designations,
    match_designations,
    role_agreement,
)
from .config import (
    DEFAULT_EMPLOYMENT_RATE,
    AreasSource,
    CommutingZoneParams,
    LayerSource,
    PlacesSource,
    Project,
    load_project,
)
from .errors import ConfigError, StrukturbildWarning, UnknownCodeError
from .image import OwnLayer, RoleInfo, StructureImage
from .readers import (
    areas_from_frame,
    flows_table_from_frame,
    join_jobs,
    places_from_frame,
    read_areas,
    read_designations,
    read_flows_table,
    read_layer,
    read_places,
    to_jsonable,
)

if TYPE_CHECKING:  # analysis.regions is imported only where regions are made
    import geopandas as gpd

    from .analysis.regions import RegionResult

__all__ = [
    "build",
    "build_image",
    "check_project",
    "package_version",
    "read_inputs",
    "read_layers",
]

Progress = Callable[[str], None]
#: Regions made from modelled flows use the pairs from this many commuters on (both
#: directions): on all 2,017 tätorter the nodal regions are those of the full table.
REGION_MIN_FLOW = 1.0


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


def _area_flows_to_places(table: pd.DataFrame, places: gpd.GeoDataFrame,
                          areas: gpd.GeoDataFrame | None, *, source: Path | str | None
                          ) -> pd.DataFrame:
    """Flows between areas (kommuner) attached to places by the one rule of
    :func:`~strukturbild.analysis.flows.resolve_seats` (without a seat table: each
    area's largest place)."""
    codes = sorted(set(table["origin"]).union(table["destination"]))
    known = pd.Index(places["area_id"].dropna().unique())
    if areas is not None:
        known = known.union(areas.index)
    names = table.attrs.get("columns", {})
    for side in ("origin", "destination"):
        check_known(table[side], known, what="area", source=source,
                    column=names.get(side, side))
    no_seats = pd.DataFrame(columns=["kommun_code", "kommun_name", "seat_name",
                                     "tatort_code", "note", "source", "year"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StrukturbildWarning)
        seat = resolve_seats(places, codes, no_seats, kommuner=areas)
    seat_of = {str(k): str(v) for k, v in seat["place_id"].items() if v is not None}
    # Areas without a place of their own (Solna, Sundbyberg, Järfälla, Tyresö and
    # Salem in SCB's 2020 tätorter) have nowhere to attach their flows.
    placeless = ~(table["origin"].isin(list(seat_of)) & table["destination"].isin(list(seat_of)))
    if placeless.any():
        lost = sorted(set(table.loc[placeless, ["origin", "destination"]].stack())
                      - set(seat_of))
        warnings.warn(
            f"{source}: {int(placeless.sum())} flow rows "
            f"({table.loc[placeless, 'count'].sum():,.0f} commuters) left out: "
            f"area(s) {', '.join(lost)} have no place to attach their flows to",
            StrukturbildWarning, stacklevel=3,
        )
    return place_flows_from_area_flows(table.loc[~placeless], seat_of).to_frame().reset_index()


def read_inputs(project: Project) -> tuple[Any, Any, Flows | None]:
    """Read and check the places, areas and flows a project names.

    Flows given between areas (``level = "area"``) are attached to each area's
    largest place.

    Returns
    -------
    (places, areas or None, flows or None)

    Examples
    --------
    >>> from strukturbild.sources.example import example_project
    >>> places, areas, flows = read_inputs(example_project())
    >>> len(places), len(areas), flows is None
    (70, 33, True)
    """
    check_metric(project.crs, source=project.path)
    if project.places is None:
        raise ConfigError("the project names no places ([places] path)", source=project.path)
    places = read_places(project.places, crs=project.crs)
    areas = read_areas(project.areas, crs=project.crs) if project.areas else None
    table = read_flows_table(project.flows) if project.flows is not None else None
    flows = _flows_of(table, places, areas, project)
    return places, areas, flows


def read_layers(project: Project) -> list[tuple[LayerSource, Any]]:
    """Read the project's own layers (``[[layers]]``) in the project's CRS.

    Examples
    --------
    >>> from strukturbild.sources.example import example_project
    >>> [src.name for src, frame in read_layers(example_project())]
    []
    """
    return [(src, read_layer(src, crs=project.crs)) for src in project.layers]


def check_outputs_of(project: Project) -> None:
    """The project's output paths, checked before anything is read or built.

    No output may hold a control character, be one of the project's inputs, or be
    another output (symlinks and ``..`` resolved).

    Examples
    --------
    >>> from strukturbild.sources.example import example_project
    >>> check_outputs_of(example_project())
    """
    targets = project.output_paths().values()
    for target in targets:
        check_path(target)
    check_outputs(targets, project.input_paths())


def check_project(project: Project) -> dict[str, Any]:
    """Every check :func:`build` makes on a project's inputs and parameters, no output.

    What ``strukturbild validate`` runs: the same functions :func:`build` runs on the
    same inputs, so both stop at the same problem with the same message, and warn
    alike (a designation of a place that is not among the places, say). Returns what
    was read (``places``, ``areas``, ``flows``, ``designations``, ``layers`` by name).

    Raises
    ------
    StrukturbildError
        The first problem found, naming the file and the field.

    Examples
    --------
    >>> from strukturbild.sources.example import example_project
    >>> found = check_project(example_project())
    >>> len(found["places"]), len(found["designations"])
    (70, 13)
    """
    check_outputs_of(project)
    places, areas, flows = read_inputs(project)
    layers = read_layers(project)
    _land(project)  # build reads it only when drawing; a bad file fails here too
    _check_regions(project, places, flows)
    designations = _designations(project, places)
    return {"places": places, "areas": areas, "flows": flows, "designations": designations,
            "layers": {src.name: frame for src, frame in layers}}


def _check_regions(project: Project, places: gpd.GeoDataFrame, observed: Flows | None) -> None:
    """The region method's demands on the inputs (what the params cannot check alone)."""
    method, params = project.regions.method, project.regions.params
    if method in ("lma", "scb_la") and (observed is None or not observed.has_self_flows):
        raise ConfigError(
            f"regions.method = '{method}' needs observed flows that include intra-place "
            "flows (people who live and work in the same place): self-containment is "
            "made of them; use 'nodal' or 'commuting_zone' with modelled flows",
            source=project.path,
        )
    if isinstance(params, CommutingZoneParams):
        for key, what, ids in (("cores", "core", params.cores),
                               ("region_units", "region unit", params.region_units)):
            unknown = [c for c in ids if c not in places.index]
            if unknown:
                raise UnknownCodeError(
                    f"key 'regions.{key}': {what} '{unknown[0]}' is not a place id "
                    f"({len(unknown)} unknown in all)", source=project.path)


def _designations(project: Project, places: gpd.GeoDataFrame) -> pd.DataFrame | None:
    """The project's designation lists, each checked against the scheme and the places
    (:func:`~strukturbild.analysis.roles.match_designations`): only matched rows."""
    if not project.roles.designations:
        return None
    frames = [match_designations(read_designations(d), project.roles, places["name"])
              for d in project.roles.designations]
    out = pd.concat(frames, ignore_index=True)
    out.attrs["source"] = ", ".join(str(d) for d in project.roles.designations)
    return out


def _flows_of(table: pd.DataFrame | Flows | None, places: gpd.GeoDataFrame,
              areas: gpd.GeoDataFrame | None, project: Project) -> Flows | None:
    """Flows between places from a checked table (or Flows), attaching area flows."""
    if table is None:
        return None
    source = project.flows.path if project.flows is not None else "<flows>"
    level = project.flows.level if project.flows is not None else "place"
    if isinstance(table, Flows):
        if level == "place":
            check_known(pd.Series(table.units), places.index, what="place", source=source)
            return table
        table = table.to_frame().reset_index()
    if level == "area":
        table = _area_flows_to_places(table, places, areas, source=source)
    names = table.attrs.get("columns", {})
    for side in ("origin", "destination"):
        check_known(table[side], places.index, what="place", source=source,
                    column=names.get(side, side))
    return Flows.from_frame(table, source=source, units=places.index)


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
    >>> from strukturbild.sources.example import example_project
    >>> img = build(example_project())
    >>> len(img.places), img.modelled, str(img.places.loc["1280TC106", "role"])
    (70, True, 'tillvaxtmotor')
    """
    say = progress or (lambda _msg: None)
    check_outputs_of(project)
    places, areas, observed = read_inputs(project)
    layers = read_layers(project)
    inputs: dict[str, Any] = {}
    for key, srcobj in (("places", project.places), ("areas", project.areas),
                        ("flows", project.flows)):
        if srcobj is not None:
            inputs[key] = _input_entry(srcobj)
    join = places.attrs.get("jobs_join")
    if project.places is not None and project.places.jobs is not None and join is not None:
        jpath = Path(project.places.jobs.path)
        inputs["jobs"] = {"file": jpath.name, "sha256": _sha256(jpath),
                          **{k: v for k, v in join.items() if k != "file"},
                          **({"source": project.places.jobs.source}
                             if project.places.jobs.source else {})}
    _layer_entries(inputs, layers)
    return _assemble(project, places, areas, observed, inputs, say, layers=layers)


def _input_entry(src: Any) -> dict[str, Any]:
    """What the provenance says of one input file: name, checksum, licence, filter."""
    entry: dict[str, Any] = {"file": Path(src.path).name, "sha256": _sha256(Path(src.path))}
    if src.licence:
        entry["licence"] = src.licence
    if src.source:
        entry["source"] = src.source
    if src.where:
        entry["where"] = src.where
    return entry


def _layer_entries(inputs: dict[str, Any], layers: list[tuple[LayerSource, Any]]) -> None:
    for src, _frame in layers:
        entry = _input_entry(src)
        inputs[f"layer: {src.name}"] = {"file": entry.pop("file"),
                                         "sha256": entry.pop("sha256"), "layer": src.name,
                                         **entry}


def build_image(
    places: gpd.GeoDataFrame,
    *,
    flows: pd.DataFrame | Flows | None = None,
    areas: gpd.GeoDataFrame | None = None,
    project: Project | str | Path | None = None,
    progress: Progress | None = None,
) -> StructureImage:
    """Build a structure image from frames a script already holds.

    Parameters
    ----------
    places
        GeoDataFrame of places in a metric CRS (or any CRS, reprojected to the
        project's): SCB's column names (``tatortskod``, ``tatort``, ``kommun``,
        ``bef``, …) are recognised as the readers recognise them, the project's
        ``[places.columns]`` maps others; an index named ``place_id`` is the id.
    flows
        Commuting as a long DataFrame (``origin``, ``destination``, ``count``, or the
        names the readers recognise) or :class:`Flows`; between places, or between
        areas when the project says ``[flows] level = "area"``. None: links are
        modelled.
    areas
        GeoDataFrame of area (kommun) polygons, optional.
    project
        A :class:`Project`, or the path of a project file, for everything else
        (roles, links, regions, map, export). Of its inputs, those the call does not
        give as frames are read from their files: its ``[areas]`` when ``areas`` is
        None, its ``[flows]`` when ``flows`` is None, its ``[places] jobs`` table when
        ``places`` has no ``jobs``, its ``[[layers]]`` and designation lists; its
        ``[places]`` file never (``places`` is the places). None: the defaults.
    progress
        Called with a short message at each step.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> places = gpd.GeoDataFrame(
    ...     {"tatortskod": ["0101TC101", "0102TC101"], "tatort": ["Storby", "Lillby"],
    ...      "bef": [250000, 8000]},
    ...     geometry=[shapely.Point(500000, 6500000), shapely.Point(520000, 6500000)],
    ...     crs="EPSG:3006")
    >>> img = build_image(places)
    >>> img.places["role"].astype(str).tolist(), img.modelled
    (['storstad', 'lokal_karna'], True)
    """
    if project is None:
        project = Project(name="strukturbild")
    elif not isinstance(project, Project):
        project = load_project(project)
    say = progress or (lambda _msg: None)
    check_metric(project.crs, source=project.path)
    columns = project.places.columns if project.places is not None else {}
    places = places_from_frame(places, columns=columns, crs=project.crs)
    inputs: dict[str, Any] = {"places": {"file": "<frame>"}}
    jobs = project.places.jobs if project.places is not None else None
    if jobs is not None and "jobs" not in places.columns:
        say(f"jobs from the project: {Path(jobs.path).name}")
        places, join = join_jobs(places, jobs, crs=project.crs)
        inputs["jobs"] = {"file": Path(jobs.path).name, "sha256": _sha256(Path(jobs.path)),
                          **{k: v for k, v in join.items() if k != "file"},
                          **({"source": jobs.source} if jobs.source else {})}
    areas_frame = None
    if areas is not None:
        acols = project.areas.columns if project.areas is not None else {}
        areas_frame = areas_from_frame(areas, columns=acols, crs=project.crs)
        inputs["areas"] = {"file": "<frame>"}
    elif project.areas is not None:  # what the call does not give, the project gives
        say(f"areas from the project: {Path(project.areas.path).name}")
        areas_frame = read_areas(project.areas, crs=project.crs)
        inputs["areas"] = _input_entry(project.areas)
    table: pd.DataFrame | Flows | None = None
    if isinstance(flows, Flows):
        table = flows
    elif flows is not None:
        fcols = project.flows.columns if project.flows is not None else {}
        table = flows_table_from_frame(flows, columns=fcols)
    elif project.flows is not None:
        say(f"flows from the project: {Path(project.flows.path).name}")
        table = read_flows_table(project.flows)
        inputs["flows"] = _input_entry(project.flows)
    if table is not None and "flows" not in inputs:
        inputs["flows"] = {"file": "<frame>"}
    observed = _flows_of(table, places, areas_frame, project)
    layers = read_layers(project)
    _layer_entries(inputs, layers)
    return _assemble(project, places, areas_frame, observed, inputs, say, layers=layers)


def _assemble(project: Project, places: gpd.GeoDataFrame, areas: gpd.GeoDataFrame | None,
              observed: Flows | None, inputs: dict[str, Any], say: Progress,
              layers: list[tuple[LayerSource, Any]] | None = None) -> StructureImage:
    """The chain after reading: measures, link flows, regions, roles, links, the image."""
    say(f"read {len(places)} places" + (f", {len(observed)} flows" if observed else ""))
    measures, employed_info, notes = _measures(project, places, areas, observed, inputs, say)
    link_flows, model_used, modelled = _link_flows(project, places, areas, measures, observed,
                                                   say)
    region_result, regions = _regions(project, places, areas, observed, link_flows, say)
    if region_result is not None:
        labels = region_result.labels.reindex(places.index)
        measures["rank_in_region"] = rank_in_group(places.assign(region=labels), "region")
    designations, roles = _roles(project, places, measures, notes, say)
    lines = _links(project, places, measures, link_flows, modelled, roles, say)
    out_places, groups = _out_places(project, places, measures, roles, region_result,
                                     link_flows, designations)
    own = tuple(OwnLayer(src.name, src.kind, frame, src.style, file=Path(src.path).name,
                         licence=src.licence, where=src.where)
                for src, frame in (layers or []))
    base, base_info = _base(project, places, areas, own)
    strak, strak_info = _strak(project, out_places, lines, own, areas, base, say)
    context, ferries, context_info = _context(project, places, areas, own)
    provenance = {
        "package": "strukturbild",
        "version": package_version(),
        "crs": project.crs,
        "inputs": inputs,
        "flows": "modelled" if link_flows.modelled else "observed",
        "model": to_jsonable(model_used),
        "notes": notes,
        "employed": employed_info,
        "unknown_measures": to_jsonable(roles.attrs.get("unknown_measures", {})),
        # where the designations pin a role the rules also give: do they name the same places
        "role_agreement": role_agreement(roles, project.roles)
        if designations is not None else {},
        "base": base_info,
        # who designated the places (the publisher and the document of each list used)
        "designation_sources": _designation_sources(designations),
        "strak": strak_info,
        "context": context_info,
        "parameters": _parameters(project),
    }
    json.dumps(provenance)  # provenance must stay JSON-able
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StrukturbildWarning)
        comparison = compare_roles(roles, places["name"], groups=groups)
    return StructureImage(
        name=project.name,
        title=project.map.title or project.title or project.name,
        places=out_places,
        links=lines,
        roles=tuple(RoleInfo(r.key, r.label_sv, r.label_en, n)
                    for n, r in enumerate(project.roles.roles)),
        areas=areas,
        regions=regions,
        role_comparison=comparison,
        language=project.map.language,
        modelled=bool(link_flows.modelled),
        provenance=provenance,
        map_options=project.map,
        layers=own,
        base=base,
        strak=strak,
        context=context,
        ferries=ferries,
    )


def _measures(project: Project, places: gpd.GeoDataFrame, areas: gpd.GeoDataFrame | None,
              observed: Flows | None, inputs: dict[str, Any], say: Progress
              ) -> tuple[pd.DataFrame, dict[str, Any], list[str]]:
    """The place measures, what the provenance says of the employed residents, and the
    notes so far (places the jobs table did not reach)."""
    notes: list[str] = []
    join = inputs.get("jobs")
    if join is not None:
        say(_join_line(join))
        if join["unmatched"]:
            notes.append(_join_note(join))
    rate = project.places.employment_rate if project.places is not None \
        else DEFAULT_EMPLOYMENT_RATE
    area_rates = None
    if areas is not None and "employment_rate" in areas.columns \
            and areas["employment_rate"].notna().any():
        area_rates = areas["employment_rate"].dropna()
    measures = place_measures(places, observed, employment_rate=rate, area_rates=area_rates)
    employed_info = _employed_info(places, measures, rate, area_rates)
    if employed_info["estimated"]:
        say(_employed_line(employed_info))
    return measures, employed_info, notes


def _link_flows(project: Project, places: gpd.GeoDataFrame, areas: gpd.GeoDataFrame | None,
                measures: pd.DataFrame, observed: Flows | None, say: Progress
                ) -> tuple[Flows, dict[str, Any], ModelledFlows | None]:
    """Which flows make the links: observed, or modelled where none are observed (with
    the model's parameters and its totals)."""
    src = project.links.source
    use_model = src == "modelled" or (src == "auto" and observed is None)
    model_used: dict[str, Any] = {}
    modelled = None
    if use_model:
        # links keep pairs of min_flow commuters, but regions made from the modelled
        # flows need the small ones too (a village's inflows decide where it belongs)
        keep = project.links.min_flow
        if observed is None and project.regions.params is not None:
            keep = min(keep, REGION_MIN_FLOW)
        distances, outside = _model_geography(project, places, areas)
        # the model reads each place's employed residents as found or estimated here
        modelled = model_flows(places.assign(employed=measures["employed"]),
                                      params=project.links, observed=observed,
                                      min_flow=keep, progress=say, distances=distances,
                                      outside=outside)
        link_flows, model_used = modelled.flows, modelled.params
        form = (f"beta={model_used['beta']:.4g}" if "beta" in model_used
                else f"d50={model_used['d50_km']:.3g} km")
        say(f"modelled commuting ({model_used['decay']} decay, {form}): "
            f"{model_used['pairs']} pairs of places with {keep:g}+ commuters (both ways)")
    else:
        assert observed is not None
        link_flows = observed
    return link_flows, model_used, modelled


def _model_geography(project: Project, places: gpd.GeoDataFrame, areas: gpd.GeoDataFrame | None
                     ) -> tuple[Any, Any]:
    """What the model knows of the land from the areas: the distances over land (or
    None: straight lines), and the jobs outside the places as destinations (or None)."""
    distances = outside = None
    if areas is not None and "jobs" in places.columns \
            and places["jobs"].notna().any() and project.links.outside_share > 0:
        # the jobs outside the places (per kommun, estimated) are destinations too
        from .analysis.links import outside_destinations, outside_jobs

        outside = outside_destinations(
            areas, outside_jobs(places, share=project.links.outside_share))
    if project.links.distance == "land" and areas is not None:
        # distance over the land of the project's areas (kommun polygons), with the
        # table of fixed links; without areas model_flows says what is missing
        from .analysis.land import LandDistance

        distances = LandDistance(areas.geometry.values, crs=areas.crs)
    return distances, outside


def _regions(project: Project, places: gpd.GeoDataFrame, areas: gpd.GeoDataFrame | None,
             observed: Flows | None, link_flows: Flows, say: Progress
             ) -> tuple[RegionResult | None, gpd.GeoDataFrame | None]:
    """The functional regions (the method's result and the region polygons), or none."""
    _check_regions(project, places, observed)
    if project.regions.params is None:
        return None, None
    from .analysis.regions import delineate_regions, region_geometries

    method = project.regions.method
    rflows = observed if observed is not None else link_flows
    region_result = delineate_regions(rflows, project.regions.params)
    regions = region_geometries(
        region_result, places=places, areas=areas,
        unit_area=places["area_id"] if areas is not None else None,
    )
    # regions of places are named after their leading place
    regions["name"] = places["name"].reindex(regions.index).fillna(regions["name"])
    say(f"delineated {len(regions)} regions ({method})")
    return region_result, regions


def _roles(project: Project, places: gpd.GeoDataFrame, measures: pd.DataFrame, notes: list[str],
           say: Progress) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    """The designations (or None) and the roles; notes on rules no place can test are
    said and added to ``notes``."""
    designations = _designations(project, places)
    roles = classify_roles(measures, project.roles, designations=designations,
                           names=places["name"], language=project.map.language)
    rule_notes = _unknown_rule_measures(measures, project,
                                        roles.attrs.get("unknown_measures"))
    for note in rule_notes:
        say(note)
    notes += rule_notes
    say("classified roles: " + ", ".join(
        f"{k} {int(v)}" for k, v in roles["role"].value_counts(sort=False).items() if v))
    return designations, roles


def _links(project: Project, places: gpd.GeoDataFrame, measures: pd.DataFrame, link_flows: Flows,
           modelled: ModelledFlows | None, roles: pd.DataFrame, say: Progress) -> Any:
    """The links as lines, with their scope (regional, axis)."""
    link_measures = measures[["employed", "jobs"]].copy()
    if not link_flows.modelled and link_flows.has_self_flows:
        # observed flows with intra-place flows are their own totals: a link's shares are
        # of the table it is drawn from (flows between kommuner attached to their seat
        # places are the kommun's, not the seat tätort's jobs and employed residents)
        for col, total in (("employed", link_flows.outflow()), ("jobs", link_flows.inflow())):
            table_total = total.reindex(link_measures.index)
            link_measures[col] = table_total.where(table_total > 0).fillna(link_measures[col])
    if modelled is not None:  # the model's totals count the pairs it left out, too
        link_measures["employed"] = link_measures["employed"].fillna(modelled.employed)
        link_measures["jobs"] = link_measures["jobs"].fillna(modelled.jobs)
    links = links_from_flows(link_flows, link_measures, params=project.links)
    lines = links_to_lines(links, places)
    # regional links and axes, once, for every map and the GeoPackage
    scopes = link_scopes(lines, roles["role"], [r.key for r in project.roles.roles],
                         levels=project.map.label_roles)
    lines = lines.assign(regional=scopes["regional"], axis=scopes["axis"])
    say(f"made {len(lines)} links" + (" (modelled)" if link_flows.modelled else ""))
    return lines


def _out_places(project: Project, places: gpd.GeoDataFrame, measures: pd.DataFrame,
                roles: pd.DataFrame, region_result: RegionResult | None, link_flows: Flows,
                designations: pd.DataFrame | None) -> tuple[Any, pd.Series | None]:
    """The image's places: the places with their measures, roles, regions and joint
    designations; and the joint designation groups (or None)."""
    out_places = places.join(measures.drop(columns=[c for c in measures.columns
                                                    if c in places.columns]))
    # employed residents and jobs as the measures found them (estimated, from flows)
    for col in ("employed", "jobs"):
        if col in places.columns:
            out_places[col] = measures[col]
    for col in roles.columns:
        out_places[col] = roles[col]
    if region_result is not None:
        out_places["region"] = region_result.labels.reindex(places.index).astype(object)
        params = project.regions.params
        if isinstance(params, CommutingZoneParams) and params.multiple \
                and region_result.details is not None:
            # every zone a place is in, primary first; "region" is the primary one
            out_places["regions"] = region_result.details["regions"].reindex(
                places.index).astype(object)
        if region_result.step is not None:
            out_places["scb_step"] = region_result.step.reindex(places.index)
    out_places["modelled"] = bool(link_flows.modelled)
    groups = None
    if designations is not None:
        groups = joint_designations(designations, roles, places["name"], scheme=project.roles)
        if (groups != "").any():
            out_places["designation_group"] = groups.where(groups != "", None)
        else:
            groups = None
    return out_places, groups


def _parameters(project: Project) -> dict[str, Any]:
    """The run's parameters, as the provenance records them."""
    scheme = project.roles
    return {
        # 0.2's flat [links] table (every form's keys): the summary stays as it was
        "links": to_jsonable(project.links.as_dict(every_form=True)),
        "regions": to_jsonable(project.regions.as_dict()),
        "strak": to_jsonable(project.strak),
        "roles": {"scheme": scheme.name,
                  "roles": [{"key": r.key, "rules": [str(x) for x in r.rules]}
                            for r in scheme.roles],
                  "designations": [str(d) if isinstance(d, str) else Path(d).name
                                   for d in scheme.designations]},
    }


def _designation_sources(designations: pd.DataFrame | None) -> list[str]:
    """"Publisher, document" of the designations that name a place of the image."""
    if designations is None or "source" not in designations:
        return []
    return list(dict.fromkeys(", ".join(p.strip() for p in str(s).split(",")[:2])
                              for s in designations["source"] if str(s).strip()))


def _strak(project: Project, places: gpd.GeoDataFrame, links: gpd.GeoDataFrame,
           layers: tuple[OwnLayer, ...], areas: gpd.GeoDataFrame | None,
           base: gpd.GeoDataFrame | None, say: Progress
           ) -> tuple[gpd.GeoDataFrame | None, dict[str, Any] | None]:
    """The stråk: the links' flows routed on the project's infrastructure layers, or on
    a network of the places over the land (the areas and the base geography)."""
    if project.strak.network == "none":
        return None, None
    land = [g for frame in (areas, None if base is None else base[base["kind"] == "land"])
            if frame is not None for g in frame.geometry]
    try:
        found = corridors(places, links, params=project.strak,
                          roles_order=[r.key for r in project.roles.roles],
                          label_roles=project.map.label_roles,
                          infrastructure=[x.frame for x in layers if x.kind == "infrastructure"],
                          land=land or None)
    except ConfigError as exc:
        raise ConfigError(exc.message, source=project.path) from None
    if found is None:
        return None, None
    info = found.info()
    article = "an" if str(info["network"])[:1] in "aeiou" else "a"
    say(f"routed {info['links_routed']} links on {article} {info['network']} network "
        f"({info['nodes']} nodes, {info['edges']} edges): {info['strak']} stråk")
    return found.frame, info


def _land(project: Project) -> Any:
    """The project's own land polygons (``[map] land``), or None."""
    if not (project.map.base and project.map.land):
        return None
    return read_areas(AreasSource(Path(project.map.land), layer=project.map.land_layer),
                      crs=project.crs)


def _base(project: Project, places: gpd.GeoDataFrame, areas: gpd.GeoDataFrame | None,
          layers: tuple[OwnLayer, ...]
          ) -> tuple[gpd.GeoDataFrame | None, dict[str, Any] | None]:
    """The land under the map (or None), and what the provenance says of it."""
    if not project.map.base:
        return None, None
    from .sources.base import BASE_LICENCE, BASE_SOURCE, base_geography, span_of

    extent = span_of(places, areas, *(layer.frame for layer in layers))
    sweden = _land(project)
    base = base_geography(extent, crs=project.crs, areas=areas, sweden=sweden)
    if base is None:
        return None, None
    info = {"source": BASE_SOURCE, "licence": BASE_LICENCE, "level": base.attrs.get("level")}
    if project.map.land:
        info["sweden"] = {"file": Path(project.map.land).name,
                          "sha256": _sha256(Path(project.map.land))}
    return base, info


def _context(project: Project, places: gpd.GeoDataFrame, areas: gpd.GeoDataFrame | None,
             layers: tuple[OwnLayer, ...]) -> tuple[Any, Any, dict[str, Any] | None]:
    """The context beyond the project (places, ferry lines), and the provenance's words."""
    if not project.map.context:
        return None, None, None
    from dataclasses import replace as _replace

    from .sources.base import span_of
    from .sources.context import (
        CONTEXT_LICENCE,
        CONTEXT_SOURCE,
        FERRY_SOURCE,
        context_ferries,
        context_frame,
        context_places,
    )

    frame = context_frame(span_of(places, areas))
    swedish = None
    info: dict[str, Any] = {"source": CONTEXT_SOURCE, "licence": CONTEXT_LICENCE}
    mp = project.map
    if mp.context_places:
        src = PlacesSource(Path(mp.context_places), layer=mp.context_layer)
        swedish = read_places(src, crs=project.crs)
        info["sweden"] = {"file": src.path.name, "sha256": _sha256(src.path)}
    elif project.places is not None and project.places.where and \
            Path(project.places.path).is_file():
        # the rows the places' filter leaves out: SCB's tätorter of the neighbouring län
        swedish = read_places(_replace(project.places, where=None), crs=project.crs)
        info["sweden"] = {"file": Path(project.places.path).name,
                          "rows": f"not matching the places' where ({project.places.where})"}
    ctx = context_places(frame, crs=project.crs, places=places, areas=areas, swedish=swedish,
                         min_population=mp.context_min_population)
    info.update({"min_population": mp.context_min_population, "places": len(ctx),
                 "from_places_file": int((ctx["source"] == "places").sum())})
    # ferry lines fetched from OpenStreetMap (fetch osm) stand in for the shipped ones
    osm_ferries = any("route" in lay.frame and (lay.frame["route"] == "ferry").any()
                      for lay in layers)
    ferries = None if osm_ferries else context_ferries(frame, crs=project.crs)
    info["ferries"] = {"source": FERRY_SOURCE, "lines": len(ferries)} if ferries is not None \
        else {"source": "the project's own layer (route = ferry)"}
    return ctx, ferries, info


def _join_line(join: dict[str, Any]) -> str:
    """The progress line of a jobs join: how its places were matched."""
    matched = join["matched_by_code"] + join["matched_by_location"]
    text = (f"jobs from {join['file']}: {matched} places matched "
            f"({join['matched_by_code']} by code, {join['matched_by_location']} by location)")
    if join["unmatched"]:
        text += f", {join['unmatched']} without jobs"
    if join["rows_unused"]:
        text += f"; {join['rows_unused']} of its places are not among the places"
    return text


def _join_note(join: dict[str, Any]) -> str:
    listed = join["unmatched_places"][:10]
    more = ", …" if join["unmatched"] > len(listed) else ""
    how = "by code or by location" if join["location"] == "polygons" else "by code"
    return (f"{join['unmatched']} place(s) have no jobs: {join['file']} does not match them "
            f"{how} ({', '.join(listed)}{more})")


def _employed_info(places: gpd.GeoDataFrame, measures: pd.DataFrame, rate: float,
                   area_rates: pd.Series | None) -> dict[str, Any]:
    """What the provenance says of the employed residents: how many were estimated, how."""
    est = measures["employed_estimated"].to_numpy(dtype=bool)
    by_kommun = 0
    if area_rates is not None and "area_id" in places.columns:
        by_kommun = int((places["area_id"].isin(area_rates.index).to_numpy() & est).sum())
    return {"estimated": int(est.sum()), "of": len(measures), "employment_rate": rate,
            "by_kommun_rate": by_kommun, "by_default_rate": int(est.sum()) - by_kommun,
            "method": "population x employment rate (the kommun's where the areas give "
                      "employment_rate, else [places] employment_rate)"}


def _employed_line(info: dict[str, Any]) -> str:
    if info["by_kommun_rate"]:
        how = (f"{info['by_kommun_rate']} by their kommun's rate, "
               f"{info['by_default_rate']} by {info['employment_rate']:g}")
    else:
        how = f"{info['employment_rate']:g} of the population"
    return (f"employed residents estimated for {info['estimated']} of {info['of']} places "
            f"({how}; [places] employment_rate)")


#: Why a rule measure can be missing for every place: what it is made of.
_MEASURE_NEEDS = {
    "jobs": "a jobs column, a jobs table joined with [places] jobs = {path = ..., key = "
            "...}, or observed flows that include intra-place flows",
    "employed": "an employed column, or observed flows that include intra-place flows",
    "job_ratio": "jobs: a jobs column, a jobs table joined with [places] jobs = {path = "
                 "..., key = ...}, or observed flows that include intra-place flows",
    "job_share": "jobs for every place (a jobs column, a jobs table joined with [places] "
                 "jobs, or observed flows that include intra-place flows)",
    "net_commuting": "jobs and employed residents, or observed flows",
    "inflow_sources": "observed flows",
    "inflow_share": "observed flows",
    "rank_in_area": "the places' area_id (kommun code) column",
    "rank_in_region": "regions ([regions] method)",
}


def _unknown_rule_measures(measures: pd.DataFrame, project: Project,
                           counts: dict[str, Any] | None = None) -> list[str]:
    """Notes on role rules that test a measure some places lack, and what it needs."""
    notes = []
    skip = project.roles.unknown == "skip"
    used = dict.fromkeys(rule.measure for role in project.roles.roles for rule in role.rules)
    for measure in used:
        if measure not in measures.columns or measures[measure].isna().all():
            roles = [r.key for r in project.roles.roles
                     if any(rule.measure == measure for rule in r.rules)]
            what = "are skipped" if skip else "do not hold"
            notes.append(
                f"no place has '{measure}' (it needs {_MEASURE_NEEDS.get(measure, 'data')}): "
                f"the rules on it {what} for {', '.join(roles)}"
            )
    if counts and counts.get("places"):
        by_role = ", ".join(f"{k} {v}" for k, v in counts["roles"].items())
        if skip:
            notes.append(f"{counts['places']} place(s) got their role with a rule skipped for "
                         f"want of a measure ({by_role})")
        else:
            notes.append(f"{counts['places']} place(s) did not get a role because a measure "
                         f"its rules test is not known ({by_role}); [roles] unknown = "
                         "\"skip\" would skip those rules instead")
    return notes
