"""The finished structure image: the only thing renderers and writers receive.

:class:`StructureImage` holds typed, finished frames and provenance; its methods
write it (``to_html``, ``to_gpkg``, ``to_json``, ``to_png``/``to_pdf``/``to_svg``)
by delegating to :mod:`strukturbild.render` and :mod:`strukturbild.export`, which are
imported only when a method is called, and show it in a notebook (``_repr_html_``).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import geopandas as gpd
import pandas as pd

from .errors import InvalidValueError

__all__ = ["MAP_FORMATS", "OwnLayer", "RoleInfo", "StructureImage"]

#: Formats drawn as maps (web and print); the others are data files.
MAP_FORMATS = ("html", "png", "pdf", "svg")
_RENDER_OPTIONS = ("source_note", "label_roles", "basemap", "basemap_key", "timestamp",
                   "min_link_flow", "weak_links")
_PRINT_OPTIONS = ("source_note", "label_roles", "timestamp", "weak_links", "paper")


@dataclass(frozen=True)
class RoleInfo:
    """A role as renderers need it: key, labels, position in the scheme (0 = highest).

    Examples
    --------
    >>> RoleInfo("serviceort", "Serviceort", "Service town", 3).label("en")
    'Service town'
    """

    key: str
    label_sv: str
    label_en: str
    rank: int

    def label(self, language: str) -> str:
        """The label in ``language`` (``"sv"`` or ``"en"``)."""
        return self.label_sv if language == "sv" else self.label_en


@dataclass(frozen=True)
class OwnLayer:
    """One of the project's own layers (corridors, green structure, infrastructure…).

    ``style`` holds ``colour``, ``width`` (pixels), ``dash``, ``fill`` (a colour or
    ``"none"``) and ``opacity``, resolved from the layer's kind and the project
    (:class:`strukturbild.config.LayerSource`).

    Examples
    --------
    >>> import geopandas as gpd
    >>> OwnLayer("Stråk", "corridor", gpd.GeoDataFrame(geometry=[]),
    ...          {"colour": "#9e6fb8", "width": 16.0}).kind
    'corridor'
    """

    name: str
    kind: str
    frame: gpd.GeoDataFrame
    style: Mapping[str, Any]
    file: str = ""
    licence: str = ""
    where: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.frame, gpd.GeoDataFrame):
            raise InvalidValueError(f"OwnLayer {self.name!r}: frame must be a GeoDataFrame")
        object.__setattr__(self, "style", MappingProxyType(dict(self.style)))


@dataclass(frozen=True)
class StructureImage:
    """Places with measures and roles, links, regions and areas, with provenance.

    Attributes
    ----------
    name, title
        Project name (used in file names) and the map title.
    places
        GeoDataFrame indexed by ``place_id``: ``name``, ``area_id``, ``population``,
        the measures, ``role`` (ordered categorical), ``role_label``, ``role_reason``,
        ``role_derived``, ``designations``, and ``region`` when regions were made.
    links
        GeoDataFrame of links (see :func:`strukturbild.analysis.links.links_from_flows`) with
        LineString geometry.
    roles
        The scheme's roles, highest first.
    areas, regions
        Optional GeoDataFrames of area and region polygons.
    role_comparison
        Designated against derived role per place.
    language
        ``"sv"`` or ``"en"`` for labels.
    modelled
        True when the links come from a model rather than observed flows.
    provenance
        Inputs, parameters and package version, as plain JSON-able values.
    map_options
        The project's map options (title, language, source note, labels, basemap,
        time stamp) that the writing methods use unless told otherwise.
    layers
        The project's own layers (:class:`OwnLayer`), drawn under the places.
    base
        The land under the map (:func:`strukturbild.sources.base.base_geography`):
        ``kind`` ``"land"`` (``part`` ``"neighbour"`` or ``"sweden"``, Sweden outside
        the areas) or ``"border"``; None draws no base (the sea stays white).

    Examples
    --------
    >>> import geopandas as gpd
    >>> img = StructureImage(name="x", title="X", places=gpd.GeoDataFrame(),
    ...                      links=gpd.GeoDataFrame(), roles=())
    >>> img.modelled
    False
    """

    name: str
    title: str
    places: gpd.GeoDataFrame
    links: gpd.GeoDataFrame
    roles: tuple[RoleInfo, ...]
    areas: gpd.GeoDataFrame | None = None
    regions: gpd.GeoDataFrame | None = None
    role_comparison: pd.DataFrame | None = None
    language: str = "sv"
    modelled: bool = False
    provenance: Mapping[str, Any] = field(default_factory=dict)
    map_options: Mapping[str, Any] = field(default_factory=dict)
    layers: tuple[OwnLayer, ...] = ()
    base: gpd.GeoDataFrame | None = None

    def __post_init__(self) -> None:
        for name in ("places", "links"):
            if not isinstance(getattr(self, name), gpd.GeoDataFrame):
                raise InvalidValueError(f"StructureImage.{name} must be a GeoDataFrame, not "
                                        f"{type(getattr(self, name)).__name__}")
        for name in ("areas", "regions", "base"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, gpd.GeoDataFrame):
                raise InvalidValueError(f"StructureImage.{name} must be a GeoDataFrame or "
                                        f"None, not {type(value).__name__}")
        if self.language not in ("sv", "en"):
            raise InvalidValueError(f"StructureImage.language must be 'sv' or 'en', not "
                                    f"{self.language!r}")
        if not all(isinstance(r, RoleInfo) for r in self.roles):
            raise InvalidValueError("StructureImage.roles must be RoleInfo values")
        if not all(isinstance(x, OwnLayer) for x in self.layers):
            raise InvalidValueError("StructureImage.layers must be OwnLayer values")
        object.__setattr__(self, "roles", tuple(self.roles))
        object.__setattr__(self, "layers", tuple(self.layers))
        object.__setattr__(self, "provenance", MappingProxyType(dict(self.provenance)))
        object.__setattr__(self, "map_options", MappingProxyType(dict(self.map_options)))

    # ------------------------------------------------------------------ writing

    def render_options(self, fmt: str, given: Mapping[str, Any]) -> dict[str, Any]:
        """Map options for ``fmt``: the project's (``map_options``), then ``given``."""
        keep: tuple[str, ...] = _RENDER_OPTIONS if fmt == "html" else _PRINT_OPTIONS
        if fmt == "gpkg":
            keep = ("source_note", "label_roles", "timestamp")
        opts = {k: v for k, v in self.map_options.items() if k in keep and v is not None}
        opts.update(given)
        return opts

    def render(self, fmt: Literal["html", "png", "pdf", "svg", "json"], **options: Any
               ) -> bytes:
        """The file contents of one format, in memory (nothing is written).

        ``options`` override the project's map options (``source_note``,
        ``label_roles``, ``basemap``, ``timestamp`` …); see
        :func:`strukturbild.render.web.web_map_html` and
        :func:`strukturbild.render.static.static_map_bytes`.

        Examples
        --------
        >>> from strukturbild import build, example_project
        >>> build(example_project()).render("html")[:15]
        b'<!DOCTYPE html>'
        """
        if fmt == "html":
            from .render.web import web_map_html

            return web_map_html(self, **self.render_options(fmt, options)).encode("utf-8")
        if fmt == "json":
            import json

            return (json.dumps(self.summary(), ensure_ascii=False, indent=2) + "\n").encode()
        if fmt in ("png", "pdf", "svg"):
            from .render.static import static_map_bytes

            return static_map_bytes(self, fmt, **self.render_options(fmt, options))
        raise InvalidValueError(f"unknown format {fmt!r}; expected html, png, pdf, svg or json")

    def _write(self, fmt: str, path: str | Path, options: Mapping[str, Any]) -> Path:
        from .export.outputs import write_files

        data = self.render(fmt, **options)  # type: ignore[arg-type]
        return write_files({Path(path): data})[0]

    def to_html(self, path: str | Path, **options: Any) -> Path:
        """Write the interactive web map (one self-contained, offline HTML file).

        Examples
        --------
        >>> import tempfile, pathlib
        >>> from strukturbild import build, example_project
        >>> out = build(example_project()).to_html(pathlib.Path(tempfile.mkdtemp()) / "m.html")
        >>> out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
        True
        """
        return self._write("html", path, options)

    def to_png(self, path: str | Path, **options: Any) -> Path:
        """Write the print map as PNG (300 dpi unless ``dpi=`` says otherwise)."""
        return self._write("png", path, options)

    def to_pdf(self, path: str | Path, **options: Any) -> Path:
        """Write the print map as PDF (fonts embedded)."""
        return self._write("pdf", path, options)

    def to_svg(self, path: str | Path, **options: Any) -> Path:
        """Write the print map as SVG (text as text)."""
        return self._write("svg", path, options)

    def to_json(self, path: str | Path) -> Path:
        """Write the JSON summary (:meth:`summary`).

        Examples
        --------
        >>> import tempfile, pathlib, json
        >>> from strukturbild import build, example_project
        >>> out = build(example_project()).to_json(pathlib.Path(tempfile.mkdtemp()) / "s.json")
        >>> json.loads(out.read_text())["places"]
        70
        """
        return self._write("json", path, {})

    def to_gpkg(self, path: str | Path, *, mode: Literal["overwrite", "append", "fail"] =
                "overwrite", **options: Any) -> Path:
        """Write the styled GeoPackage (EPSG:3006); see
        :func:`strukturbild.export.geopackage.write_geopackage` for ``mode`` and options.

        Examples
        --------
        >>> import tempfile, pathlib, pyogrio
        >>> from strukturbild import build, example_project
        >>> out = build(example_project()).to_gpkg(pathlib.Path(tempfile.mkdtemp()) / "s.gpkg")
        >>> [str(n) for n in pyogrio.list_layers(out)[:, 0]][:2]
        ['places', 'links']
        """
        from .export.geopackage import write_geopackage

        return write_geopackage(self, path, mode=mode, **self.render_options("gpkg", options))

    def _repr_html_(self) -> str:
        """The web map inline in a notebook: the page in a sandboxed ``iframe``.

        Examples
        --------
        >>> from strukturbild import build, example_project
        >>> build(example_project())._repr_html_().startswith("<iframe")
        True
        """
        page = self.render("html").decode("utf-8")
        return (f'<iframe srcdoc="{html.escape(page, quote=True)}" '
                'style="width:100%;height:640px;border:none" '
                'sandbox="allow-scripts allow-popups"></iframe>')

    def role(self, key: str) -> RoleInfo:
        """The role with ``key``.

        Examples
        --------
        >>> import geopandas as gpd
        >>> img = StructureImage("x", "X", gpd.GeoDataFrame(), gpd.GeoDataFrame(),
        ...                      (RoleInfo("a", "A", "A", 0),))
        >>> img.role("a").rank
        0
        """
        for r in self.roles:
            if r.key == key:
                return r
        raise KeyError(key)

    def summary(self) -> dict[str, Any]:
        """A JSON-able summary: counts per role, links per class, regions, provenance.

        Examples
        --------
        >>> import geopandas as gpd
        >>> StructureImage("x", "X", gpd.GeoDataFrame({"role": []}),
        ...                gpd.GeoDataFrame({"link_class": []}), ()).summary()["places"]
        0
        """
        places = self.places
        links = self.links
        roles_count = {r.key: int((places["role"] == r.key).sum()) for r in self.roles} \
            if "role" in places else {}
        classes = {str(k): int(v) for k, v in links["link_class"].value_counts().sort_index()
                   .items()} if "link_class" in links else {}
        out: dict[str, Any] = {
            "name": self.name,
            "title": self.title,
            "places": len(places),
            "population": int(places["population"].sum()) if "population" in places else 0,
            # places whose employed residents are estimated (population x employment rate)
            "employed_estimated": int(places["employed_estimated"].fillna(False).astype(bool)
                                      .sum()) if "employed_estimated" in places else 0,
            "roles": roles_count,
            "links": len(links),
            "link_classes": classes,
            "flows": "modelled" if self.modelled else "observed",
            "modelled": bool(self.modelled),
            "areas": len(self.areas) if self.areas is not None else 0,
            "regions": len(self.regions) if self.regions is not None else 0,
            "notes": list(self.provenance.get("notes", [])),
        }
        if self.role_comparison is not None and len(self.role_comparison):
            rc = self.role_comparison
            out["designated_places"] = int(rc["designated"].sum())
            out["designated_differs_from_derived"] = sorted(
                str(i) for i in rc.index[rc["designated"] & ~rc["agree"]]
            )
            # per role both name: rules and designations naming the same places (0..1)
            if self.provenance.get("role_agreement"):
                out["role_agreement"] = dict(self.provenance["role_agreement"])
            # the comparison table for the places a designation or a difference concerns
            shown = rc[(rc["designations"] != "") | ~rc["agree"]]
            out["role_comparison"] = [
                {"place_id": str(i), "name": str(r.get("name", "")),
                 "designations": str(r["designations"]), "role": str(r["role"]),
                 "role_derived": str(r["role_derived"]), "agree": bool(r["agree"]),
                 **({"group": str(r["group"])} if r.get("group") else {})}
                for i, r in shown.iterrows()
            ]
        if "designation_group" in places:
            groups = places[places["designation_group"].fillna("") != ""]
            out["joint_designations"] = [
                {"group": str(g), "role": str(grp["role"].iloc[0]),
                 "places": [str(i) for i in grp.index],
                 "names": [str(n) for n in grp["name"]]}
                for g, grp in groups.groupby("designation_group", sort=True)]
        out["layers"] = [
            {"name": lay.name, "kind": lay.kind, "features": len(lay.frame),
             "geometry": sorted({str(t) for t in lay.frame.geom_type.dropna()}),
             "file": lay.file, "where": lay.where, "licence": lay.licence}
            for lay in self.layers]
        top = places.sort_values("population", ascending=False).head(5) \
            if "population" in places else places.head(0)
        out["largest_places"] = [
            {"place_id": str(i), "name": str(r["name"]), "role": str(r["role"])}
            for i, r in top.iterrows()
        ]
        out["provenance"] = dict(self.provenance)
        return out
