"""The interactive structure map: one self-contained HTML page from a StructureImage.

One HTML file that opens anywhere, offline: Leaflet's script and stylesheet are
inlined from the installed ``django-js-lib-leaflet`` package (see
:mod:`strukturbild.render._assets`), and the build fails with
:class:`~strukturbild.render._assets.OnlineAssetError` if any script or stylesheet
would still come from the network. Background tiles are optional and off by
default; without them the map draws its own base geography: the sea as the
background, the land around the project from Natural Earth (:attr:`StructureImage.base`)
and the project's own areas (kommuner) on top.

What the map shows is the scene (:mod:`strukturbild.render._scene`): this module only
packs it as compact data and the page's script (``assets/map.js``) draws it, bottom to
top, each a layer of the layer control (its legend section goes with it):

- **the base**: land outside the project (neighbouring countries, Sweden outside
  the areas), national borders, country names;
- **areas** (kommuner): borders simplified together, so that neighbours still meet
  (:func:`shapely.coverage_simplify`, tolerance 1/4000 of the map's extent), län
  borders where several län show; coordinates quantised to 1e-4 degrees (about
  10 m) and sent as integer steps;
- **own layers** (``[[layers]]``: corridors, green structure, infrastructure…) in
  the project's order, each with its kind's style;
- **stråk**: the links' flows routed on a network (:attr:`StructureImage.strak`),
  each section a band of its width class, round-ended and opaque, so that a stråk's
  sections merge into one band; each stråk's name stands on its band or beside it
  where the places' names leave room; a click names the stråk, its flows, length and
  places. With stråk the links (below) are a layer off at start;
- **regions**: outlines and names;
- **links**: one tapered shape per pair of places: its width follows the commuters
  of both directions (square root, :func:`~strukturbild.render.style.link_width`),
  and the width at each end those who leave from that end, so a link narrows
  towards the place that receives the most; each in the style the scene gives it
  (regional links, between the region's higher roles, in their own colour, on top).
  **Weak links** are their own layer, off when the map opens (one click in the layer
  control shows them); when there are more links than a map can show legibly
  (:data:`~strukturbild.render._scene.MAX_MAP_LINKS`), the map keeps every strong and
  medium link and the weak ones from a round flow threshold up, and says so in the
  legend; the GeoPackage keeps them all;
- **places**: circles with area proportional to population, coloured by role,
  drawn on a canvas; a joint designation (Region Skåne's "Kristianstad–Hässleholm")
  as one band joining its places, with one label; names of the ``label_roles``
  highest roles as labels with halos that never overlap (greedy placement in the
  browser; lower roles join as one zooms in).

A legend (the scene's rows, :mod:`strukturbild.render.legend`, as the print map's), a
scale bar, a title, a place search box and a source line complete it. The view is kept
in the URL (``#zoom/lat/lon``), so a link opens the map where it was. Printed, the map
fills an A4 landscape page (without the zoom buttons and the layer list), fitted to the
data again unless the user has moved it.

The page is our own, not folium's: folium wrote about 2 KB of the 246 KB page (the
map's ``<div>`` and its ``L.map(...)`` call) and needed workarounds to do it safely
(emptied default assets, ids fixed through its private ``_id``/``_children``, the
data put in after branca had rendered the page, because branca renders every
element's output a second time as a Jinja template, so a place called ``{{ 7*7 }}``
would have read "49"). Here the page is a few lines of HTML put together in Python,
no template engine involved; folium is used where it earns its place:
:meth:`StructureImage.explore` gives a notebook user the structure image as folium
layers for their own maps.

Every text reaches the page as data and is put into the page as text
(``textContent``) or escaped HTML, so a place called ``<img src=x onerror=alert(1)>``
shows as just that; the names of own layers and every attribute of theirs too. Element
ids are fixed and nothing depends on the clock, so the same input gives the same bytes.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..config import MapOptions, resolve_basemap
from ..errors import EmptyInputError
from . import _assets
from ._geometry import label_point
from ._scene import MAX_MAP_LINKS, Scene, map_links, scene_of, strak_labels
from .legend import LegendRow, LegendSection
from .popups import popup_data
from .style import (
    AREA_EDGE,
    AREA_EDGE_ON_TILES,
    AREA_FILL,
    BORDER,
    CONTEXT_DOT,
    FERRY_STYLE,
    GROUP_OPACITY,
    GROUP_PAD,
    LAN_EDGE,
    LAND,
    REGION_STYLE,
    SEA,
    context_radius,
    format_number,
    link_width,
    symbol_radius,
    text,
)

if TYPE_CHECKING:
    import geopandas as gpd

    from ..image import StructureImage

__all__ = ["MAX_MAP_LINKS", "map_links", "web_map_html"]

_WGS84 = "EPSG:4326"
#: Coordinates are sent as integers of 1e-4 degrees (about 11 m north-south).
_QUANTUM = 10_000
#: Lower roles get labels every this many zoom levels past the first view.
_LABEL_ZOOM_STEP = 1.5
#: Attributes of an own layer's features shown in their popups (the first ones).
_LAYER_POPUP_COLUMNS = 8
_LAYER_TEXT_MAX = 200
#: The page's element ids (fixed: the same input gives the same bytes).
_MAP_ID = "map"
_DATA_ID = "strukturbild-data"

_AREA_STYLE = {"color": AREA_EDGE, "weight": 0.7, "opacity": 1.0, "fillColor": AREA_FILL,
               "fillOpacity": 1.0}
_AREA_STYLE_ON_TILES = {"color": AREA_EDGE_ON_TILES, "weight": 0.7, "opacity": 0.7,
                        "fill": False}
_LAN_STYLE = {"color": LAN_EDGE, "weight": 1.6, "opacity": 1.0}
_LAND_STYLE = {"stroke": False, "fillColor": LAND, "fillOpacity": 1.0}
_BORDER_STYLE = {"color": BORDER[0], "weight": 1.0, "opacity": 1.0,
                 "dashArray": BORDER[1]}
_REGION_STYLE = {"color": REGION_STYLE[0], "weight": REGION_STYLE[1], "opacity": 0.85,
                 "fill": False, "dashArray": REGION_STYLE[2]}

#: Lantmäteriet's topographic web map (open data, CC BY 4.0) needs the user's key.
_LANTMATERIET_URL = ("https://api.lantmateriet.se/open/topowebb-ccby/v1/wmts/token/{key}/"
                     "1.0.0/{layer}/default/3857/{{z}}/{{y}}/{{x}}.png")
_LANTMATERIET_ATTR = "&copy; Lantmäteriet (CC BY 4.0)"


# --------------------------------------------------------------------------- geometry


def _points_wgs84(places: gpd.GeoDataFrame) -> np.ndarray[Any, np.dtype[np.float64]]:
    """(lat, lon) of each place; polygons stand in by a point inside them."""
    import shapely

    geom = places.geometry
    pts = geom.where(geom.geom_type == "Point", geom.representative_point())
    xy = shapely.get_coordinates(pts.to_crs(_WGS84).to_numpy())
    return np.asarray(xy[:, ::-1], dtype=np.float64)


class _Encoder:
    """Coordinates as quantised [lat, lon] integer steps, one running cursor per layer.

    Rings and lines lose repeated points; rings lose their closing point and are
    dropped with fewer than three points. Shared borders, identical before, stay
    identical after: the same coordinates round the same way.
    """

    def __init__(self) -> None:
        self.cursor = np.zeros(2, dtype=np.int64)

    def path(self, coords: Any, ring: bool) -> list[int] | None:
        q = np.round(np.asarray(coords)[:, 1::-1] * _QUANTUM).astype(np.int64)
        if ring:
            q = q[:-1]
        keep = np.ones(len(q), dtype=bool)
        keep[1:] = np.any(q[1:] != q[:-1], axis=1)
        q = q[keep]
        if len(q) < (3 if ring else 2):
            return None
        steps = np.diff(q, axis=0, prepend=self.cursor[None, :])
        self.cursor = q[-1]
        out: list[int] = steps.ravel().tolist()
        return out

    def polygons(self, geom: Any) -> list[list[list[int]]]:
        import shapely

        shapes: list[list[list[int]]] = []
        if geom is None or geom.is_empty:
            return shapes
        for poly in shapely.get_parts(geom):
            if poly.geom_type != "Polygon":
                continue
            rings = [r for r in (self.path(ring.coords, True)
                                 for ring in (poly.exterior, *poly.interiors)) if r]
            if rings:
                shapes.append(rings)
        return shapes

    def lines(self, geom: Any) -> list[list[int]]:
        import shapely

        parts: list[list[int]] = []
        if geom is None or geom.is_empty:
            return parts
        for line in shapely.get_parts(shapely.line_merge(geom) if geom.geom_type ==
                                      "MultiLineString" else geom):
            if line.geom_type in ("LineString", "LinearRing"):
                path = self.path(line.coords, False)
                if path:
                    parts.append(path)
        return parts

    def points(self, geom: Any) -> list[int]:
        import shapely

        xy = shapely.get_coordinates(geom)
        q = np.round(xy[:, ::-1] * _QUANTUM).astype(np.int64)
        steps = np.diff(q, axis=0, prepend=self.cursor[None, :])
        if len(q):
            self.cursor = q[-1]
        out: list[int] = steps.ravel().tolist()
        return out


def _encode_polygons(geoms: Any, crs: Any) -> list[list[list[list[int]]]]:
    """Polygons (as drawn: simplified already) as quantised steps."""
    import geopandas as gpd

    enc = _Encoder()
    return [enc.polygons(g) for g in gpd.GeoSeries(list(geoms), crs=crs).to_crs(_WGS84)]


def _encode_lines(geoms: Any, crs: Any) -> list[list[list[int]]]:
    import geopandas as gpd

    enc = _Encoder()
    return [enc.lines(g) for g in gpd.GeoSeries(list(geoms), crs=crs).to_crs(_WGS84)]


# ------------------------------------------------------------------------------ data


def _texts(values: Sequence[Any]) -> Any:
    """A text column as a list, or (when values repeat) as uniques and codes; None if empty."""
    vals = ["" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
            for v in values]
    uniques = sorted(set(vals))
    if uniques == [""]:
        return None
    if len(uniques) * 2 > len(vals):
        return vals
    code = {u: i for i, u in enumerate(uniques)}
    return {"u": uniques, "i": [code[v] for v in vals]}


def _numbers(values: Any, decimals: int) -> list[Any] | None:
    """Numbers rounded to ``decimals`` (whole ones as int; None where missing).

    None when every value is missing.

    Examples
    --------
    >>> _numbers([1.25, 3.0, float("nan")], 1)
    [1.2, 3, None]
    """
    arr = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=np.float64)
    ok = np.isfinite(arr)
    if not ok.any():
        return None
    rounded = np.round(arr, decimals)
    return [(int(v) if v == int(v) else float(v)) if f else None
            for v, f in zip(rounded, ok, strict=True)]


def _places_data(scene: Scene, latlon: np.ndarray[Any, np.dtype[np.float64]],
                 radius: list[float]) -> dict[str, Any]:
    """The places in drawing order: names, positions, radii, roles (their popups are
    :func:`~strukturbild.render.popups.popup_data`'s)."""
    pl = scene.image.places.iloc[scene.order]
    role_index = {s.key: i for i, s in enumerate(scene.styles)}
    q = np.round(latlon * _QUANTUM).astype(np.int64)
    return {
        "n": [str(v) for v in pl["name"]],
        "ll": q.ravel().tolist(),
        "r": radius,
        "k": [role_index.get(str(k), len(role_index) - 1) for k in pl["role"]],
    }


def _links_data(scene: Scene, position: pd.Series) -> dict[str, Any]:
    """The links in drawing order, as columns; ``k`` indexes their style in ``sty``."""
    lk = scene.links
    style_index = {s.key: i for i, s in enumerate(scene.link_styles)}
    modelled = lk["modelled"].fillna(False).astype(bool) if "modelled" in lk else \
        pd.Series(False, index=lk.index)
    return {
        "o": [int(v) for v in position.reindex(lk["origin"].astype(str))],
        "d": [int(v) for v in position.reindex(lk["destination"].astype(str))],
        "a": _numbers(lk["flow_od"].fillna(0.0), 1) or [],
        "b": _numbers(lk["flow_do"].fillna(0.0), 1) or [],
        "s": _numbers(lk["strength"], 3) or [None] * len(lk),
        "w": _numbers([link_width(float(t), scene.max_flow) for t in lk["total"]], 2) or [],
        "k": [style_index[k] for k in lk["style"]],
        "m": modelled.astype(int).tolist(),
        "sty": _link_styles_data(scene),
    }


def _link_styles_data(scene: Scene) -> list[list[Any]]:
    """The styles links are drawn in: colour, dashes, opacity, layer, class (0 strong,
    1 medium, 2 weak), regional (1) or local (0)."""
    cls_index = {"strong": 0, "medium": 1, "weak": 2}
    return [[s.colour, [float(x) for x in s.dash.split()] or None, s.opacity, s.layer,
             cls_index.get(s.link_class, 2), int(s.scope == "regional")]
            for s in scene.link_styles]


def _groups_data(scene: Scene, position: pd.Series, role_index: dict[str, int],
                 radius: Sequence[float]) -> list[list[Any]]:
    """Joint designations: [label, role index, band width, member positions in path order]."""
    out = []
    for group in scene.groups:
        idx = [int(position[m]) for m in group.members]
        width = 2 * max(float(radius[i]) for i in idx) + 2 * GROUP_PAD
        out.append([group.name, role_index.get(group.role, 0), round(width, 1), idx])
    return out


def _layer_data(layer: Any, tolerance: float) -> dict[str, Any]:
    """An own layer: style, features (kind, encoded geometry) and popup attributes."""
    import shapely

    frame = layer.frame
    geoms = frame.geometry.to_numpy()
    if tolerance > 0:
        geoms = shapely.simplify(geoms, tolerance, preserve_topology=True)
    import geopandas as gpd

    wgs = gpd.GeoSeries(geoms, crs=frame.crs).to_crs(_WGS84)
    enc = _Encoder()
    features: list[list[Any]] = []
    for geom in wgs:
        kind = geom.geom_type if geom is not None else ""
        if "Polygon" in kind:
            features.append([2, enc.polygons(geom)])
        elif "LineString" in kind:
            features.append([1, enc.lines(geom)])
        elif "Point" in kind:
            features.append([0, enc.points(geom)])
        else:
            features.append([1, []])
    cols = [c for c in frame.columns if c != frame.geometry.name][:_LAYER_POPUP_COLUMNS]
    attrs = []
    for c in cols:
        values = [None if v is None or (isinstance(v, float) and math.isnan(v))
                  else str(v)[:_LAYER_TEXT_MAX] for v in frame[c].tolist()]
        packed = _texts(values)
        if packed is not None:
            attrs.append([str(c), packed])
    style = layer.style
    return {"name": layer.name, "f": features, "a": attrs,
            "st": {"color": style["colour"], "weight": style["width"],
                   "dash": style.get("dash") or None, "fill": style["fill"],
                   "opacity": style["opacity"]}}


# ---------------------------------------------------------------------------- legend


def _svg_circles(values: Sequence[float], language: str) -> str:
    """Nested circles for round populations, with leader lines and values."""
    big = symbol_radius(values[0])
    base = 2 * big + 7  # circles stand on this line; 6 px above the top one for its text
    rows: list[tuple[float, float, float]] = []  # radius, circle top, text line
    line = -math.inf
    for v in values:
        r = symbol_radius(v)
        line = max(base - 2 * r, line + 12)
        rows.append((r, base - 2 * r, line))
    height = max(base, line + 5) + 1
    parts = [f'<svg class="sb-svg" width="{2 * big + 80:.0f}" height="{height:.0f}" '
             f'role="img" aria-label="{html.escape(text("size", language))}">']
    for v, (r, top_y, y) in zip(values, rows, strict=True):
        parts.append(f'<circle cx="{big + 1:.1f}" cy="{top_y + r:.1f}" r="{r:.1f}" '
                     f'fill="#f4f4f4" fill-opacity="0.6" stroke="#555" stroke-width="0.8"/>')
        parts.append(f'<polyline points="{big + 1:.1f},{top_y:.1f} {2 * big + 6:.1f},'
                     f'{y:.1f} {2 * big + 10:.1f},{y:.1f}" fill="none" stroke="#999" '
                     f'stroke-width="0.6"/>')
        parts.append(f'<text x="{2 * big + 13:.1f}" y="{y + 4:.1f}">'
                     f'{html.escape(format_number(v, language))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _svg_row(row: LegendRow, width: int = 34) -> str:
    """The symbol of a legend row, as SVG (colours and numbers are ours, not user text)."""
    e = html.escape
    dash = f' stroke-dasharray="{e(row.dash)}"' if row.dash else ""
    if row.kind == "line":
        h = max(row.size, 2) + 2
        return (f'<svg class="sb-svg" width="{width}" height="{h:.1f}"><line x1="1" '
                f'y1="{h / 2:.1f}" x2="{width - 1}" y2="{h / 2:.1f}" stroke="{e(row.colour)}" '
                f'stroke-width="{row.size:.1f}" stroke-opacity="{row.opacity}"{dash}/></svg>')
    if row.kind == "band":
        h = row.size + 2
        return (f'<svg class="sb-svg" width="34" height="{h:.1f}"><line x1="{h / 2:.1f}" '
                f'y1="{h / 2:.1f}" x2="{34 - h / 2:.1f}" y2="{h / 2:.1f}" '
                f'stroke="{e(row.colour)}" stroke-width="{row.size:.1f}" '
                f'stroke-linecap="round" stroke-opacity="{row.opacity}"{dash}/></svg>')
    if row.kind == "taper":
        return (f'<svg class="sb-svg" width="34" height="10"><polygon points="1,1 33,4.2 '
                f'33,5.8 1,9" fill="{e(row.colour)}" fill-opacity="{row.opacity}"/></svg>')
    if row.kind == "group":
        h = row.size + 2
        return (f'<svg class="sb-svg" width="40" height="{h:.1f}"><line x1="{h / 2:.1f}" '
                f'y1="{h / 2:.1f}" x2="{40 - h / 2:.1f}" y2="{h / 2:.1f}" '
                f'stroke="{e(row.colour)}" stroke-width="{row.size:.1f}" '
                f'stroke-linecap="round" stroke-opacity="{row.opacity}"/>'
                f'<circle cx="{h / 2:.1f}" cy="{h / 2:.1f}" r="4.5" fill="{e(row.colour)}" '
                f'stroke="#fff"/><circle cx="{40 - h / 2:.1f}" cy="{h / 2:.1f}" r="4.5" '
                f'fill="{e(row.colour)}" stroke="#fff"/></svg>')
    if row.kind == "patch":
        fill = "none" if row.fill == "none" else e(row.fill)
        fop = row.opacity if row.fill != "none" else 1
        return (f'<svg class="sb-svg" width="34" height="14"><rect x="2" y="2" width="30" '
                f'height="10" fill="{fill}" fill-opacity="{fop}" stroke="{e(row.colour)}" '
                f'stroke-width="{max(row.size, 0.8):.1f}"{dash}/></svg>')
    # a dot
    return (f'<span class="sb-dot" style="background:{e(row.colour)};'
            f'opacity:{row.opacity}"></span>')


def _legend_html(sections: Sequence[LegendSection], language: str) -> str:
    """The legend, as escaped HTML, one section per layer (``data-layer``); a row that
    stands for something drawn carries its key (``data-key``)."""
    e = html.escape
    out: list[str] = []
    flowing = False
    for section in sections:
        # the small sections after the links (weak links, own layers, context, regions,
        # areas, borders) flow side by side, to keep the legend short; the stråk's width
        # classes stay one under the other, widest first, as thick as drawn
        if section.layer not in ("places", "strak", "links") and not flowing:
            out.append('<div class="sb-flow">')
            flowing = True
        out.append(f'<div class="sb-section" data-layer="{e(section.layer)}">')
        roles = [r for r in section.rows if r.kind == "dot" and r.key.startswith("role-")]
        widths = [r for r in section.rows if r.kind == "line" and r.key.startswith("width-")]
        for row in section.rows:
            key = f' data-key="{e(row.key)}"' if row.key else ""
            if widths and row is widths[0]:
                # the widths side by side, on one line
                out.append('<div class="sb-row sb-widths">' + "".join(
                    f'<span class="sb-width" data-key="{e(w.key)}">{_svg_row(w, 22)}'
                    f'<span>{e(w.label)}</span></span>' for w in widths) + "</div>")
            elif row in widths:
                continue
            elif row.kind == "head":
                out.append(f'<div class="sb-head">{e(row.label)}</div>')
            elif row.kind == "note":
                cls = " sb-modelled" if row.emphasis else ""
                out.append(f'<div class="sb-note{cls}">{e(row.label)}</div>')
            elif row.kind == "circles":
                out.append(_svg_circles(list(row.values), language))
            elif row.kind == "dot" and row.key and section.layer == "places":
                # the roles two by two
                if roles and row is roles[0]:
                    out.append('<div class="sb-grid">')
                label, _, n = row.label.rpartition(" (")
                out.append(f'<div class="sb-row"{key}>{_svg_row(row)}<span>{e(label)} '
                           f'<span class="sb-n">({e(n)}</span></span></div>')
                if roles and row is roles[-1]:
                    out.append("</div>")
            else:
                # the weak links' row says, while they are hidden, how to show them
                hint = f' <span class="sb-weak-off">{e(text("weak_hidden", language))}</span>' \
                    if section.layer == "weak" else ""
                out.append(f'<div class="sb-row"{key}>{_svg_row(row)}<span>{e(row.label)}'
                           f"{hint}</span></div>")
        out.append("</div>")
    if flowing:
        out.append("</div>")
    return "".join(out)


# ----------------------------------------------------------------------------- tiles


def _tiles(basemap: str, key: str | None) -> dict[str, Any]:
    """Background tiles for Leaflet: an xyzservices provider or Lantmäteriet's map."""
    found = resolve_basemap(basemap, key)
    if isinstance(found, str):
        return {"url": _LANTMATERIET_URL.format(key=key, layer=found),
                "options": {"attribution": _LANTMATERIET_ATTR, "maxZoom": 15,
                            "maxNativeZoom": 15}}
    max_zoom = found.get("max_zoom") or 18
    options = {"attribution": found.html_attribution, "maxZoom": max_zoom,
               "maxNativeZoom": max_zoom}
    if found.get("min_zoom"):
        options["minZoom"] = found["min_zoom"]
    if found.get("subdomains"):
        options["subdomains"] = found["subdomains"]
    return {"url": found.build_url(fill_subdomain=False, scale_factor="{r}"),
            "options": options}


# ------------------------------------------------------------------------------ layers


def _base_data(scene: Scene) -> dict[str, Any]:
    """The land around the project, the national borders and the neighbours' names."""
    base = scene.base
    land = base[base["kind"] == "land"]
    borders = base[base["kind"] == "border"]
    out: dict[str, Any] = {"g": _encode_polygons(land.geometry, land.crs), "style": _LAND_STYLE}
    if scene.national:
        out["lines"] = _encode_lines(borders.geometry, borders.crs)
        out["line_style"] = _BORDER_STYLE
    frames = [scene.image.places.geometry]
    if scene.image.areas is not None and scene.areas is not None:
        frames.append(scene.image.areas.geometry)
    view = _view_box(frames, 0.15)
    neighbours = land[land["part"] == "neighbour"]
    out["names"] = _names_at(
        [str(v).upper() for v in neighbours[f"name_{scene.language}"]],
        [label_point(g.intersection(view)) for g in neighbours.geometry], land.crs)
    return out


def _areas_data(scene: Scene) -> dict[str, Any]:
    """The areas as the scene draws them (simplified together), and the län borders."""
    areas = scene.image.areas
    assert areas is not None
    crs = areas.crs
    out: dict[str, Any] = {"g": _encode_polygons(scene.areas, crs),
                           "style": _AREA_STYLE_ON_TILES if scene.on_tiles else _AREA_STYLE}
    if scene.lan is not None:
        out["lines"] = _encode_lines([scene.lan], crs)
        out["line_style"] = _LAN_STYLE
    return out


def _regions_data(scene: Scene) -> dict[str, Any]:
    """Region outlines (simplified together) and their names."""
    from ._geometry import simplified

    regions = scene.image.regions
    assert regions is not None
    names = regions["name"] if "name" in regions else \
        pd.Series(regions.index, index=regions.index)
    return {"g": _encode_polygons(simplified(regions.geometry.to_numpy(), scene.tolerance),
                                  regions.crs),
            "style": _REGION_STYLE,
            "names": _names_at([str(v) for v in names],
                               [label_point(g) for g in regions.geometry], regions.crs)}


def _strak_data(scene: Scene) -> dict[str, Any]:
    """The stråk's sections (simplified as the areas are), their widths and flows, and
    each stråk's name, flows, length and places for its popup."""
    import shapely

    strak = scene.strak
    geoms = strak.geometry.to_numpy()
    if scene.tolerance > 0:
        geoms = shapely.simplify(geoms, scene.tolerance, preserve_topology=False)
    ids = sorted({int(v) for v in strak["strak_id"]})
    index = {sid: i for i, sid in enumerate(ids)}
    about = []
    for sid in ids:
        row = strak[strak["strak_id"] == sid].iloc[0]
        about.append([str(row["name"]), round(float(row["strak_flow"])),
                      round(float(row["length_km"]), 1),
                      str(row["place_names"]).replace("; ", ", ")])
    widths = {c.width_class: c.width for c in scene.strak_classes}
    colour, opacity = scene.strak_classes[0].colour, scene.strak_classes[0].opacity
    return {"g": _encode_lines(geoms, strak.crs),
            "w": [widths[int(c)] for c in strak["width_class"]],
            "k": [index[int(v)] for v in strak["strak_id"]],
            "f": [round(float(v)) for v in strak["flow"]],
            "s": about, "st": {"color": colour, "opacity": opacity},
            "lab": _strak_labels_data(scene, widths, index)}


def _strak_labels_data(scene: Scene, widths: dict[int, float], index: dict[int, int]
                       ) -> list[list[Any]]:
    """Each stråk's name and the points where it may stand (:func:`strak_labels`), as
    ``[name, [lat, lon, band width, …], the stråk's index in the popups' list]``."""
    import geopandas as gpd
    import shapely

    strak, places = scene.strak, scene.image.places
    pts = places.geometry.to_crs(strak.crs) if places.crs != strak.crs else places.geometry
    pts = pts.where(pts.geom_type == "Point", pts.representative_point())
    labels = strak_labels(strak, shapely.get_coordinates(pts.to_numpy()), widths,
                          skip=[g.name for g in scene.groups])
    out = []
    for lab in labels:
        at = gpd.GeoSeries(shapely.points([(x, y) for x, y, _ in lab.points]),
                           crs=strak.crs).to_crs(_WGS84)
        # to 4 decimals (about 10 m: where a name stands needs no more)
        out.append([lab.name, [v for (lon, lat), (_, _, w) in zip(
            shapely.get_coordinates(at.to_numpy()), lab.points, strict=True)
            for v in (round(float(lat), 4), round(float(lon), 4),
                      int(w) if float(w).is_integer() else w)], index[lab.strak_id]])
    return out


def _context_data(scene: Scene) -> dict[str, Any]:
    """The places beyond the project ([name, lat, lon, radius], grey) and the ferry
    lines (dashed)."""
    out: dict[str, Any] = {"dot": CONTEXT_DOT}
    ctx = scene.context
    if ctx is not None:
        ll = _points_wgs84(ctx)
        out["p"] = [[str(n), round(float(a), 4), round(float(b), 4),
                     round(context_radius(float(p)), 1)]
                    for n, p, (a, b) in zip(ctx[f"name_{scene.language}"], ctx["population"],
                                           ll, strict=True)]
    if scene.ferries is not None:
        colour, width, dash, opacity = FERRY_STYLE
        out["f"] = _encode_lines(scene.ferries.geometry, scene.ferries.crs)
        out["style"] = {"color": colour, "weight": width, "dashArray": dash,
                        "opacity": opacity}
    return out


def _bounds(scene: Scene, latlon: np.ndarray[Any, Any]) -> list[list[float]]:
    """The data's bounds in degrees: the places and the areas."""
    lat0, lon0 = latlon.min(axis=0)
    lat1, lon1 = latlon.max(axis=0)
    if scene.image.areas is not None and scene.areas is not None:
        b = scene.image.areas.geometry.to_crs(_WGS84).total_bounds
        lat0, lon0 = min(lat0, b[1]), min(lon0, b[0])
        lat1, lon1 = max(lat1, b[3]), max(lon1, b[2])
    return [[round(float(lat0), 4), round(float(lon0), 4)],
            [round(float(lat1), 4), round(float(lon1), 4)]]


def _layers_data(scene: Scene, data: dict[str, Any], position: pd.Series) -> None:
    """Each layer of the scene, as the page's script reads it."""
    data["layers"] = [_layer_data(layer, scene.tolerance) for layer in scene.image.layers]
    if scene.layer("base") is not None:
        data["sea"] = SEA
        data["base"] = _base_data(scene)
    if scene.layer("areas") is not None:
        data["areas"] = _areas_data(scene)
    if scene.layer("strak") is not None:
        data["strak"] = _strak_data(scene)
    if scene.layer("context") is not None:
        data["context"] = _context_data(scene)
    if scene.layer("regions") is not None:
        data["regions"] = _regions_data(scene)
    if scene.layer("links") is not None:
        data["links"] = _links_data(scene, position)
    data["order"] = [x.key for x in scene.layers]
    data["overlays"] = [[x.key, x.name, x.visible] for x in scene.layers]


def _page_data(scene: Scene) -> dict[str, Any]:
    """Everything the page's script draws, as JSON-able data."""
    image, lang = scene.image, scene.language
    pl = image.places.iloc[scene.order]
    latlon = _points_wgs84(pl)
    position = pd.Series(np.arange(len(pl)), index=pl.index.astype(str))
    radius = [round(symbol_radius(float(p)), 1) for p in
              pd.to_numeric(pl["population"], errors="coerce").fillna(0.0)]
    role_index = {s.key: i for i, s in enumerate(scene.styles)}
    bounds = _bounds(scene, latlon)
    data: dict[str, Any] = {
        "lang": lang, "q": _QUANTUM, "title": image.title,
        "map": {"center": [round((bounds[0][0] + bounds[1][0]) / 2, 6),
                           round((bounds[0][1] + bounds[1][1]) / 2, 6)],
                "zoom": 5, "zoomControl": False, "preferCanvas": True,
                "zoomSnap": 1 if scene.on_tiles else 0.25, "zoomDelta": 0.5},
        "label_tier": list(scene.label_tier), "label_level": list(scene.label_level),
        "label_zoom_step": _LABEL_ZOOM_STEP}
    if scene.options.basemap is not None:
        data["tiles"] = _tiles(scene.options.basemap, scene.options.basemap_key)
    _layers_data(scene, data, position)
    data["places"] = _places_data(scene, latlon, radius)
    data["roles"] = [[s.label, s.colour] for s in scene.styles]
    data["groups"] = _groups_data(scene, position, role_index, radius)
    data["group_opacity"] = GROUP_OPACITY
    data["bounds"] = bounds
    data["pop"] = popup_data(scene, pl)
    data["legend"] = _legend_html(scene.legend, lang)
    data["source"] = scene.source
    data["text"] = {k: text(k, lang) for k in (
        "unknown", "zoom_in", "zoom_out", "search", "no_match", "legend", "legend_show",
        "legend_hide", "per_day", "strak_section", "strak_flow", "strak_length",
        "strak_places")}
    return data


def _page(title: str, data: dict[str, Any]) -> str:
    """The page: our assets and the data in the head, the map's ``<div>``, one call.

    Put together from fixed strings, the escaped title and the data as script-safe
    JSON (:func:`~strukturbild.render._assets.script_json`): no template engine reads
    any of it.
    """
    return (
        "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{html.escape(title)}</title>\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1.0, "
        "maximum-scale=1.0, user-scalable=no\">\n"
        f"<!-- Leaflet {_assets.LEAFLET_VERSION}, inlined from the PyPI package "
        f"{_assets.LEAFLET_PACKAGE}.\n{_assets.leaflet_licence()}\n-->\n"
        f"<style>{_assets.leaflet_css()}</style>\n<style>{_assets.map_css()}</style>\n"
        f"<script>{_assets.leaflet_js()}</script>\n<script>{_assets.runtime_js()}</script>\n"
        f'<script type="application/json" id="{_DATA_ID}">{_assets.script_json(data)}'
        "</script>\n</head>\n<body>\n"
        f'<div id="{_MAP_ID}"></div>\n'
        f'<script>strukturbildDraw("{_MAP_ID}", JSON.parse(document.getElementById('
        f'"{_DATA_ID}").textContent));</script>\n'
        "</body>\n</html>\n")


# ------------------------------------------------------------------------------- map


def web_map_html(image: StructureImage, options: MapOptions | None = None) -> str:
    """Render the structure map as one self-contained HTML document.

    Parameters
    ----------
    image
        The structure image.
    options
        The map options (default: the image's own, :attr:`StructureImage.map_options`).
        What the web map uses: ``source_note`` (the source line; without one, it is
        made from the image's inputs and their licences, and "modellerade flöden" and
        "bakgrund: Natural Earth" are added when they apply), ``label_roles`` (places
        of this many highest roles that have places get name labels; lower roles get
        them as the map is zoomed in), ``basemap`` and ``basemap_key`` (background
        tiles: an xyzservices provider name or ``"Lantmateriet.Topowebb"``; none by
        default, and the page then needs no network at all), ``timestamp`` (added to
        the source line), ``min_link_flow`` (weak links only from this many
        commuters; by default all, unless there are more than :data:`MAX_MAP_LINKS`
        links) and ``weak_links`` (the weak links' layer on at start). Which links
        are regional the image says (its links' ``regional`` and ``axis`` columns).

    Returns
    -------
    str
        The page; the same image and options give the same bytes.

    Raises
    ------
    OnlineAssetError
        A script or stylesheet of the page would come from the network.
    AssetError
        Leaflet's package (``django-js-lib-leaflet``) is missing.
    ConfigError
        Unknown basemap, or one that needs a key without one.
    EmptyInputError
        The image has no places.

    Examples
    --------
    >>> from strukturbild.sources.example import example_project
    >>> from strukturbild.pipeline import build
    >>> page = web_map_html(build(example_project()))
    >>> "Tillväxtmotor" in page and "modellerade flöden" in page
    True
    >>> "<script src=" in page
    False
    """
    if image.places is None or not len(image.places):
        raise EmptyInputError("the structure image has no places to draw")
    scene = scene_of(image, options or image.map_options, "web")
    page = _page(image.title, _page_data(scene))
    _assets.check_offline(page)
    return page


def _names_at(names: Sequence[str], points: Sequence[Any], crs: Any) -> list[list[Any]]:
    """``[name, lat, lon]`` of each name that has a point."""
    import geopandas as gpd

    keep = [(n, p) for n, p in zip(names, points, strict=True)
            if p is not None and not p.is_empty]
    if not keep:
        return []
    ll = _points_wgs84(gpd.GeoDataFrame(geometry=[p for _, p in keep], crs=crs))
    return [[n, round(float(a), 4), round(float(b), 4)]
            for (n, _), (a, b) in zip(keep, ll, strict=True)]


def _view_box(frames: Sequence[Any], pad: float) -> Any:
    """The data's bounding box in its CRS, padded by ``pad`` of its larger side."""
    import shapely

    b = np.array([f.total_bounds for f in frames])
    x0, y0, x1, y1 = b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()
    d = pad * max(x1 - x0, y1 - y0)
    return shapely.box(x0 - d, y0 - d, x1 + d, y1 + d)
