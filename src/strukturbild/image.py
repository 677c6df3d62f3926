"""The finished structure image: the only thing renderers and writers receive.

:class:`StructureImage` holds typed, finished frames and provenance; its methods
write it (``to_html``, ``to_gpkg``, ``to_json``, ``to_png``/``to_pdf``/``to_svg``)
by delegating to :mod:`strukturbild.render` and :mod:`strukturbild.export`, which are
imported only when a method is called, show it in a notebook (``_repr_html_``), and
hand its layers to folium (``explore``).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd
import pandas as pd

from .config import MAP_FORMATS, MapOptions
from .errors import InvalidValueError

if TYPE_CHECKING:
    import folium

__all__ = ["MAP_FORMATS", "OwnLayer", "RoleInfo", "StructureImage"]


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
    ``"none"``) and ``opacity``: the kind's defaults
    (:data:`strukturbild.render.style.LAYER_STYLES`) with the style given over them
    (:attr:`strukturbild.config.LayerSource.style`, what the project says).

    Examples
    --------
    >>> import geopandas as gpd
    >>> OwnLayer("Stråk", "corridor", gpd.GeoDataFrame(geometry=[]),
    ...          {"colour": "#000000"}).style["width"]
    16.0
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
        from .render.style import LAYER_STYLES, layer_style  # how a kind is drawn: render's

        if self.kind not in LAYER_STYLES:
            raise InvalidValueError(f"OwnLayer {self.name!r}: kind {self.kind!r} is not one "
                                    f"of {', '.join(map(repr, LAYER_STYLES))}")
        object.__setattr__(self, "style", MappingProxyType(layer_style(self.kind, self.style)))


@dataclass(frozen=True, repr=False)
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
        The project's :class:`~strukturbild.config.MapOptions` (source note, labels,
        basemap, paper, time stamp …), which the writing methods use unless told
        otherwise; a mapping of them is validated into one.
    layers
        The project's own layers (:class:`OwnLayer`), drawn under the places.
    base
        The land under the map (:func:`strukturbild.sources.base.base_geography`):
        ``kind`` ``"land"`` (``part`` ``"neighbour"`` or ``"sweden"``, Sweden outside
        the areas) or ``"border"``; None draws no base (the sea stays white).
    strak
        The stråk (:func:`strukturbild.analysis.network.corridors`): the links' flows
        routed on a network, one row per section of a stråk
        (:data:`~strukturbild.analysis.network.STRAK_COLUMNS`), drawn under the places
        with their width by flow; None: no stråk (``[strak] network = "none"``).
    context, ferries
        The context beyond the project (:mod:`strukturbild.sources.context`): places
        (``name_sv``, ``name_en``, ``iso_a3``, ``population``, ``source``; points) and
        ferry lines (``name_sv``, ``name_en``, ``operator``; lines), drawn small and
        grey without roles; None draws none.

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
    map_options: MapOptions = field(default_factory=MapOptions)
    layers: tuple[OwnLayer, ...] = ()
    base: gpd.GeoDataFrame | None = None
    strak: gpd.GeoDataFrame | None = None
    context: gpd.GeoDataFrame | None = None
    ferries: gpd.GeoDataFrame | None = None

    def __post_init__(self) -> None:
        for name in ("places", "links"):
            if not isinstance(getattr(self, name), gpd.GeoDataFrame):
                raise InvalidValueError(f"StructureImage.{name} must be a GeoDataFrame, not "
                                        f"{type(getattr(self, name)).__name__}")
        for name in ("areas", "regions", "base", "strak", "context", "ferries"):
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
        if isinstance(self.map_options, Mapping):
            object.__setattr__(self, "map_options", MapOptions().replace(**self.map_options))
        elif not isinstance(self.map_options, MapOptions):
            raise InvalidValueError("StructureImage.map_options must be MapOptions, not "
                                    f"{type(self.map_options).__name__}")

    # ------------------------------------------------------------------ writing

    def options(self, options: MapOptions | None = None, **changes: Any) -> MapOptions:
        """The map options a writer uses: ``options`` (the image's own by default) with
        ``changes`` (``label_roles=2``, ``paper="A3-landscape"`` …), validated.

        Examples
        --------
        >>> from strukturbild import build, example_project
        >>> build(example_project()).options(weak_links=True).weak_links
        True
        """
        return (options or self.map_options).replace(**changes)

    def render(self, fmt: Literal["html", "png", "pdf", "svg", "json"],
               options: MapOptions | None = None, *,
               size_mm: tuple[float, float] | None = None, **changes: Any) -> bytes:
        """The file contents of one format, in memory (nothing is written).

        ``options`` (default: the image's :attr:`map_options`) with ``changes``
        (``source_note``, ``label_roles``, ``basemap``, ``paper``, ``dpi`` …; see
        :class:`~strukturbild.config.MapOptions`); ``size_mm`` gives a print map a
        page of its own size instead of the ``paper``.

        Examples
        --------
        >>> from strukturbild import build, example_project
        >>> build(example_project()).render("html")[:15]
        b'<!DOCTYPE html>'
        """
        opts = self.options(options, **changes)
        if size_mm is not None and fmt not in ("png", "pdf", "svg"):
            raise InvalidValueError(f"size_mm is a print map's page size, not one of {fmt}")
        if fmt == "html":
            from .render.web import web_map_html

            return web_map_html(self, opts).encode("utf-8")
        if fmt == "json":
            import json

            return (json.dumps(self.summary(), ensure_ascii=False, indent=2) + "\n").encode()
        if fmt in ("png", "pdf", "svg"):
            from .render.static import static_map_bytes

            return static_map_bytes(self, fmt, opts, size_mm=size_mm)
        raise InvalidValueError(f"unknown format {fmt!r}; expected html, png, pdf, svg or json")

    @staticmethod
    def _write(path: str | Path, data: bytes) -> Path:
        from .export.outputs import write_files

        return write_files({Path(path): data})[0]

    def to_html(self, path: str | Path, options: MapOptions | None = None, **changes: Any
                ) -> Path:
        """Write the interactive web map (one self-contained, offline HTML file).

        Examples
        --------
        >>> import tempfile, pathlib
        >>> from strukturbild import build, example_project
        >>> out = build(example_project()).to_html(pathlib.Path(tempfile.mkdtemp()) / "m.html")
        >>> out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
        True
        """
        return self._write(path, self.render("html", options, **changes))

    def to_png(self, path: str | Path, options: MapOptions | None = None, *,
               size_mm: tuple[float, float] | None = None, **changes: Any) -> Path:
        """Write the print map as PNG (300 dpi unless ``dpi=`` says otherwise)."""
        return self._write(path, self.render("png", options, size_mm=size_mm,
                                                    **changes))

    def to_pdf(self, path: str | Path, options: MapOptions | None = None, *,
               size_mm: tuple[float, float] | None = None, **changes: Any) -> Path:
        """Write the print map as PDF (fonts embedded)."""
        return self._write(path, self.render("pdf", options, size_mm=size_mm,
                                                    **changes))

    def to_svg(self, path: str | Path, options: MapOptions | None = None, *,
               size_mm: tuple[float, float] | None = None, **changes: Any) -> Path:
        """Write the print map as SVG (text as text)."""
        return self._write(path, self.render("svg", options, size_mm=size_mm,
                                                    **changes))

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
        return self._write(path, self.render("json"))

    def to_gpkg(self, path: str | Path, options: MapOptions | None = None, *,
                mode: Literal["overwrite", "append", "fail"] = "overwrite",
                size_unit: Literal["Point", "Pixel", "MM"] = "Point",
                version: Literal["1.2", "1.4"] = "1.2", **changes: Any) -> Path:
        """Write the styled GeoPackage (EPSG:3006); see
        :func:`strukturbild.export.geopackage.write_geopackage` for ``mode``,
        ``size_unit`` and ``version``. The QGIS styles follow ``options`` with
        ``changes``, as the maps do.

        Examples
        --------
        >>> import tempfile, pathlib, pyogrio
        >>> from strukturbild import build, example_project
        >>> out = build(example_project()).to_gpkg(pathlib.Path(tempfile.mkdtemp()) / "s.gpkg")
        >>> [str(n) for n in pyogrio.list_layers(out)[:, 0]][:2]
        ['places', 'links']
        """
        from .export.geopackage import write_geopackage

        return write_geopackage(self, path, self.options(options, **changes), mode=mode,
                                size_unit=size_unit, version=version)

    def explore(self, m: folium.Map | None = None, **kwargs: Any) -> folium.Map:
        """The structure image's layers on a folium map, for a notebook.

        Places (one layer per role), links (regional and local; the weak ones a layer
        of their own, off at start), joint designations, regions, areas and the own
        layers, as folium layers with tooltips and popups: the same scene as
        :meth:`to_html` draws. As with ``GeoDataFrame.explore(m=...)``, the layers
        are added to the map ``m`` when given (your own map, tiles and layers); else
        to a new ``folium.Map(**kwargs)`` (``tiles``, ``width``, ``height`` …) with a
        layer control, fitted to the image. Add your own layers to the map it returns.

        Every text of the data reaches folium escaped: no name is read as HTML or as
        a template.

        Examples
        --------
        >>> from strukturbild import build, example_project
        >>> m = build(example_project()).explore(tiles=None)
        >>> type(m).__name__
        'Map'
        """
        from .render.explore import explore

        return explore(self, m, **kwargs)


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

    def strak_summary(self) -> list[dict[str, Any]]:
        """Each stråk, busiest first: its id, name, largest flow, flow averaged over its
        length (commuters a day, both directions), length in km and places.

        Examples
        --------
        >>> from strukturbild import build, example_project
        >>> first = build(example_project()).strak_summary()[0]
        >>> first["name"], sorted(first)
        ('Malmö–Åkarp–Lund', ['flow', 'flow_mean', 'id', 'length_km', 'name', 'places'])
        """
        if self.strak is None or not len(self.strak):
            return []
        out = []
        for sid, grp in self.strak.groupby("strak_id", sort=True):
            first = grp.iloc[0]
            out.append({"id": int(sid), "name": str(first["name"]),
                        "flow": round(float(first["strak_flow"]), 1),
                        "flow_mean": round(float(first["strak_flow_mean"]), 1),
                        "length_km": round(float(first["length_km"]), 2),
                        "places": str(first["place_names"]).split("; ")})
        return out

    def __repr__(self) -> str:
        """One line: the title and the counts, as libpysal's ``Graph`` says what it is
        (the dataclass's own repr printed every frame: 13 KB for the example).

        Examples
        --------
        >>> from strukturbild import build, example_project
        >>> build(example_project())  # doctest: +ELLIPSIS
        <StructureImage 'Strukturbild för Skåne': 70 places (4 roles), ... links (modelled), \
33 areas, 0 regions>
        """
        roles = self.places["role"].nunique() if "role" in self.places else 0
        count = {name: 0 if frame is None else len(frame)
                 for name, frame in (("areas", self.areas), ("regions", self.regions))}
        return (f"<StructureImage {self.title!r}: {len(self.places)} places ({roles} roles), "
                f"{len(self.links)} links ({'modelled' if self.modelled else 'observed'}), "
                f"{count['areas']} areas, {count['regions']} regions>")

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
        if self.strak is not None and len(self.strak):
            out["strak"] = self.strak_summary()
        if self.context is not None:
            out["context_places"] = [str(n) for n in self.context[f"name_{self.language}"]]
        if self.ferries is not None:
            out["ferries"] = [str(n) for n in self.ferries[f"name_{self.language}"]]
        top = places.sort_values("population", ascending=False).head(5) \
            if "population" in places else places.head(0)
        out["largest_places"] = [
            {"place_id": str(i), "name": str(r["name"]), "role": str(r["role"])}
            for i, r in top.iterrows()
        ]
        from .render._scene import source_of

        # the maps' source line (as printed: the base and context drawn when the image
        # has them)
        out["source"] = source_of(self, self.map_options,
                                  base=self.base is not None and len(self.base) > 0,
                                  context=self.context)
        out["provenance"] = dict(self.provenance)
        return out
