"""The interactive structure map (Folium/Leaflet HTML) from a StructureImage.

One HTML file that opens anywhere, offline: Leaflet's script and stylesheet are
inlined from the installed ``django-js-lib-leaflet`` package (see
:mod:`strukturbild.render._assets`), and the build fails with
:class:`~strukturbild.render._assets.OnlineAssetError` if any script or stylesheet
would still come from the network. Background tiles are optional and off by
default; without them the map draws its own base geography: the sea as the
background, the land around the project from Natural Earth (:attr:`StructureImage.base`)
and the project's own areas (kommuner) on top.

What is drawn, bottom to top, each a layer of the layer control (its legend section
goes with it):

- **the base**: land outside the project (neighbouring countries, Sweden outside
  the areas), national borders, country names;
- **areas** (kommuner): borders simplified together, so that neighbours still meet
  (:func:`shapely.coverage_simplify`, tolerance 1/4000 of the map's extent), län
  borders where several län show; coordinates quantised to 1e-4 degrees (about
  10 m) and sent as integer steps;
- **own layers** (``[[layers]]``: corridors, green structure, infrastructure…) in
  the project's order, each with its kind's style;
- **regions**: outlines and names;
- **links**: one tapered shape per pair of places: its width follows the commuters
  of both directions (square root, :func:`~strukturbild.render.style.link_width`),
  and the width at each end those who leave from that end, so a link narrows
  towards the place that receives the most. Links between places of the labelled
  roles ("regionala samband") are drawn in their own colour, on top. **Weak links**
  are their own layer, off when the map opens (one click in the layer control shows
  them); when there are more links than a map can show legibly
  (:data:`MAX_MAP_LINKS`), the map keeps every strong and medium link and the weak
  ones from a round flow threshold up, and says so in the legend; the GeoPackage
  keeps them all;
- **places**: circles with area proportional to population, coloured by role,
  drawn on a canvas; a joint designation (Region Skåne's "Kristianstad–Hässleholm")
  as one band joining its places, with one label; names of the ``label_roles``
  highest roles as labels with halos that never overlap (greedy placement in the
  browser; lower roles join as one zooms in).

A legend (the same rows as the print map's, :mod:`strukturbild.render.legend`), a
scale bar, a title, a place search box and a source line built from the project's
sources complete it. The view is kept in the URL (``#zoom/lat/lon``), so a link
opens the map where it was. Printed, the map fills an A4 landscape page (without
the zoom buttons and the layer list), fitted to the data again unless the user has
moved it.

Every text reaches the page as data and is put into the page as text
(``textContent``) or escaped HTML, so a place called ``<img src=x onerror=alert(1)>``
shows as just that; the names of own layers and every attribute of theirs too. Element
ids are fixed and nothing depends on the clock, so the same input gives the same bytes.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..config import resolve_basemap
from ..errors import EmptyInputError, StrukturbildError
from ..image import StructureImage
from . import _assets
from ._geometry import label_point, lan_borders
from .legend import LegendRow, LegendSection, legend_sections
from .style import (
    AREA_EDGE,
    AREA_EDGE_ON_TILES,
    AREA_FILL,
    BORDER,
    GROUP_OPACITY,
    GROUP_PAD,
    LAN_EDGE,
    LAND,
    LINK_SCOPES,
    REGION_STYLE,
    SEA,
    chain,
    format_number,
    labelled_roles,
    link_style,
    link_width,
    regional_links,
    role_styles,
    shown_as_regional,
    source_line,
    symbol_radius,
    text,
)

__all__ = ["MAX_MAP_LINKS", "map_links", "regional_links", "web_map_html"]

_WGS84 = "EPSG:4326"
#: Coordinates are sent as integers of 1e-4 degrees (about 11 m north-south).
_QUANTUM = 10_000
#: Simplification tolerance of areas, regions and own layers, as a share of the extent.
_SIMPLIFY_SHARE = 1 / 4000
#: The most links the map draws; beyond it, weak links below a round flow are left out.
MAX_MAP_LINKS = 4000
#: Flow thresholds tried for weak links, smallest first.
_ROUND_FLOWS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000)
#: Lower roles get labels every this many zoom levels past the first view.
_LABEL_ZOOM_STEP = 1.5
_LINK_CLASSES = ("strong", "medium", "weak")
#: Attributes of an own layer's features shown in their popups (the first ones).
_LAYER_POPUP_COLUMNS = 8
_LAYER_TEXT_MAX = 200

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


def _require_folium() -> Any:
    try:
        import folium
    except ImportError as exc:  # pragma: no cover - folium is a dependency
        raise StrukturbildError("the web map needs folium: pip install folium") from exc
    return folium


# --------------------------------------------------------------------------- geometry


def _points_wgs84(places: Any) -> np.ndarray[Any, np.dtype[np.float64]]:
    """(lat, lon) of each place; polygons stand in by a point inside them."""
    import shapely

    geom = places.geometry
    pts = geom.where(geom.geom_type == "Point", geom.representative_point())
    xy = shapely.get_coordinates(pts.to_crs(_WGS84).to_numpy())
    return np.asarray(xy[:, ::-1], dtype=np.float64)


def _simplified(gdf: Any, tolerance: float) -> Any:
    """Polygons simplified together: shared borders stay shared (a coverage)."""
    import shapely

    geoms = gdf.geometry.to_numpy()
    if tolerance <= 0:
        return geoms
    try:
        return shapely.coverage_simplify(geoms, tolerance)
    except (shapely.errors.GEOSException, TypeError, ValueError):
        # not polygons, or no valid coverage: simplify each on its own
        return shapely.simplify(geoms, tolerance, preserve_topology=True)


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


def _encode_polygons(gdf: Any, tolerance: float) -> list[list[list[list[int]]]]:
    """Polygons of a frame, simplified together, as quantised steps."""
    import geopandas as gpd

    simple = gpd.GeoSeries(_simplified(gdf, tolerance), crs=gdf.crs).to_crs(_WGS84)
    enc = _Encoder()
    return [enc.polygons(g) for g in simple]


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


#: Place popup rows after the role: (column, decimals or "s" for text).
_PLACE_ROWS: tuple[tuple[str, int | str], ...] = (
    ("designations", "s"), ("designation_group", "s"), ("area_name", "s"),
    ("population", 0), ("employed", 0), ("employed_estimated", "s"), ("jobs", 0),
    ("job_ratio", 2),
    ("net_commuting", 0), ("inflow_sources", 0), ("inflow_share", 3), ("region", "s"),
    ("role_reason", "s"),
)
_ROW_TEXT = {"area_name": "kommun", "role_reason": "reason",
             "designation_group": "joint_member"}


def _places_data(places: Any, role_index: dict[str, int], radius: list[float],
                 latlon: np.ndarray[Any, np.dtype[np.float64]], language: str) -> dict[str, Any]:
    cols: list[list[Any]] = []
    for col, kind in _PLACE_ROWS:
        if col not in places.columns:
            continue
        label = text(_ROW_TEXT.get(col, col), language)
        column = places[col]
        if col == "employed_estimated":  # a word where the employed are estimated
            column = pd.Series(np.where(column.fillna(False).astype(bool),
                                        text("employed_estimated_value", language), ""))
        values = _texts(column.tolist()) if kind == "s" else _numbers(column, int(kind))
        if values is not None:
            cols.append([label, kind, values])
    q = np.round(latlon * _QUANTUM).astype(np.int64)
    return {
        "n": [str(v) for v in places["name"]],
        "ll": q.ravel().tolist(),
        "r": radius,
        "k": [role_index.get(str(k), len(role_index) - 1) for k in places["role"]],
        "cols": cols,
    }


def map_links(links: Any, *, min_flow: float | None = None) -> tuple[Any, float | None]:
    """The links the web map draws, and the flow from which weak links are drawn.

    Strong and medium links are always drawn. Weak links are drawn from ``min_flow``
    commuters (both directions together) up; with ``min_flow=None``, all of them when
    there are at most :data:`MAX_MAP_LINKS` links in all, else from the smallest
    1-2-5 flow that brings the count within it. The threshold is None when every
    link is drawn.

    Examples
    --------
    >>> import pandas as pd
    >>> links = pd.DataFrame({"total": [5.0, 80.0, 3.0],
    ...                       "link_class": ["weak", "weak", "strong"]})
    >>> kept, threshold = map_links(links, min_flow=50)
    >>> kept.index.tolist(), threshold
    ([1, 2], 50)
    >>> map_links(links)[1] is None
    True
    """
    if not len(links):
        return links, None
    weak = (links["link_class"].astype(str) == "weak").to_numpy()
    total = pd.to_numeric(links["total"], errors="coerce").fillna(0.0).to_numpy()
    if min_flow is None:
        if len(links) <= MAX_MAP_LINKS:
            return links, None
        others = int((~weak).sum())
        min_flow = math.inf
        for candidate in _ROUND_FLOWS:
            if others + int((total[weak] >= candidate).sum()) <= MAX_MAP_LINKS:
                min_flow = candidate
                break
    return links[~weak | (total >= min_flow)], min_flow


def _links_data(links: Any, position: pd.Series, max_flow: float,
                regional: np.ndarray[Any, Any]) -> dict[str, Any]:
    """Links as columns; local before regional, each weakest first (strongest on top)."""
    inside = (links["origin"].isin(position.index) & links["destination"].isin(position.index)
              ).to_numpy()
    lk = links[inside]
    lk = lk.assign(_o=position.reindex(lk["origin"]).to_numpy(),
                   _d=position.reindex(lk["destination"]).to_numpy(),
                   _g=regional[inside].astype(int))
    lk = lk.sort_values(["_g", "total", "_o", "_d"], kind="mergesort")
    cls_index = {c: i for i, c in enumerate(_LINK_CLASSES)}
    return {
        "o": [int(v) for v in lk["_o"]],
        "d": [int(v) for v in lk["_d"]],
        "a": _numbers(lk["flow_od"].fillna(0.0), 1) or [],
        "b": _numbers(lk["flow_do"].fillna(0.0), 1) or [],
        "s": _numbers(lk["strength"], 3) or [None] * len(lk),
        "w": _numbers([link_width(float(t), max_flow) for t in lk["total"]], 2) or [],
        "c": [cls_index.get(str(c), 2) for c in lk["link_class"]],
        "g": [int(v) for v in lk["_g"]],
        "m": [1 if bool(m) else 0 for m in lk["modelled"]] if "modelled" in lk
        else [0] * len(lk),
    }


def _groups_data(pl: Any, position: pd.Series, role_index: dict[str, int],
                 radius: Sequence[float]) -> list[list[Any]]:
    """Joint designations: [label, role index, band width, member positions in path order]."""
    if "designation_group" not in pl or pl["designation_group"].isna().all():
        return []
    out = []
    members = pl[pl["designation_group"].notna()]
    for group, grp in members.groupby("designation_group", sort=True):
        if len(grp) < 2:
            continue
        idx = [int(position[str(i)]) for i in grp.index]
        xy = np.column_stack([grp.geometry.centroid.x, grp.geometry.centroid.y])
        order = chain(xy)
        width = 2 * max(float(radius[i]) for i in idx) + 2 * GROUP_PAD
        out.append([str(group), role_index.get(str(grp["role"].iloc[0]), 0), round(width, 1),
                    [idx[k] for k in order]])
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


def _svg_row(row: LegendRow) -> str:
    """The symbol of a legend row, as SVG (colours and numbers are ours, not user text)."""
    e = html.escape
    dash = f' stroke-dasharray="{e(row.dash)}"' if row.dash else ""
    if row.kind == "line":
        h = max(row.size, 2) + 2
        return (f'<svg class="sb-svg" width="34" height="{h:.1f}"><line x1="1" '
                f'y1="{h / 2:.1f}" x2="33" y2="{h / 2:.1f}" stroke="{e(row.colour)}" '
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
    """The legend, as escaped HTML, one section per layer (``data-layer``)."""
    e = html.escape
    out: list[str] = []
    for section in sections:
        out.append(f'<div class="sb-section" data-layer="{e(section.layer)}">')
        for row in section.rows:
            if row.kind == "head":
                out.append(f'<div class="sb-head">{e(row.label)}</div>')
            elif row.kind == "note":
                cls = " sb-modelled" if row.emphasis else ""
                out.append(f'<div class="sb-note{cls}">{e(row.label)}</div>')
            elif row.kind == "circles":
                out.append(_svg_circles(list(row.values), language))
            elif row.kind == "dot" and row.key and section.layer == "places":
                label, _, n = row.label.rpartition(" (")
                out.append(f'<div class="sb-row">{_svg_row(row)}<span>{e(label)} '
                           f'<span class="sb-n">({e(n)}</span></span></div>')
            else:
                out.append(f'<div class="sb-row">{_svg_row(row)}<span>{e(row.label)}'
                           "</span></div>")
        if section.layer == "weak":
            out.append(f'<div class="sb-note sb-weak-off">{e(text("weak_hidden", language))}'
                       "</div>")
        out.append("</div>")
    return "".join(out)


# ----------------------------------------------------------------------------- tiles


def _tile_layer(folium: Any, basemap: str, key: str | None) -> Any:
    """A folium TileLayer for an xyzservices provider name or Lantmäteriet's map."""
    found = resolve_basemap(basemap, key)
    if isinstance(found, str):
        return folium.TileLayer(
            tiles=_LANTMATERIET_URL.format(key=key, layer=found), attr=_LANTMATERIET_ATTR,
            name="Lantmäteriet", max_zoom=15, control=False)
    return folium.TileLayer(tiles=found, name=found.name, control=False)


# ------------------------------------------------------------------------------- map


def web_map_html(
    image: StructureImage,
    *,
    source_note: str = "",
    label_roles: int = 3,
    basemap: str | None = None,
    basemap_key: str | None = None,
    timestamp: str | None = None,
    min_link_flow: float | None = None,
    weak_links: bool = False,
) -> str:
    """Render the structure map as one self-contained HTML document.

    Parameters
    ----------
    image
        The structure image.
    source_note
        The source line ("Källa: SCB …"); without one, it is made from the image's
        inputs and their licences. "modellerade flöden" ("modelled flows") is added
        when the links are modelled, and "bakgrund: Natural Earth" when the map
        draws its base.
    label_roles
        Places of this many highest roles (that have places) get name labels; lower
        roles get them as the map is zoomed in, where they fit. Links between places
        of these roles are the regional ones.
    basemap
        Background tiles: an xyzservices provider name (``"CartoDB.Positron"``) or
        ``"Lantmateriet.Topowebb"`` / ``"Lantmateriet.TopowebbNedtonad"``; the
        default ``None`` draws no tiles (the page then needs no network at all) and
        the image's own base geography instead.
    basemap_key
        The key of a provider that needs one (Lantmäteriet's, for example).
    timestamp
        Added to the source line when given; nothing in the page depends on the clock.
    min_link_flow
        Draw weak links only from this many commuters (both directions together);
        strong and medium links are always drawn. ``None``: draw all, unless there
        are more than :data:`MAX_MAP_LINKS`, then the smallest round threshold that
        fits; the legend tells how many links are shown.
    weak_links
        Show the weak links when the map opens (they are a layer of the layer
        control either way, off by default).

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
    folium = _require_folium()
    from branca.element import Element, MacroElement
    from jinja2 import Template

    lang = image.language
    places = image.places
    if places is None or not len(places):
        raise EmptyInputError("the structure image has no places to draw")

    # places, largest first (so small ones are drawn on top); ties by id
    pop = pd.to_numeric(places["population"], errors="coerce").fillna(0.0)
    order = np.lexsort((places.index.astype(str).to_numpy(), -pop.to_numpy(dtype=float)))
    pl = places.iloc[order]
    latlon = _points_wgs84(pl)
    position = pd.Series(np.arange(len(pl)), index=pl.index.astype(str))

    present = set(pl["role"].astype(str))
    styles = role_styles([(r.key, r.label(lang)) for r in image.roles], label_roles=label_roles,
                         present=present)
    if not styles:
        styles = role_styles([(k, k) for k in sorted(present)], label_roles=label_roles)
    role_index = {s.key: i for i, s in enumerate(styles)}
    counts = {str(k): int(v) for k, v in pl["role"].astype(str).value_counts().items()}
    labelled = labelled_roles([s.key for s in styles], present, label_roles)

    # the extent: places and areas, in the project CRS and in degrees
    areas_frame = image.areas if image.areas is not None and len(image.areas) else None
    frames = [pl.geometry] + ([areas_frame.geometry] if areas_frame is not None else [])
    minx, miny, maxx, maxy = np.array([f.total_bounds for f in frames]).T
    extent = max(float(maxx.max() - minx.min()), float(maxy.max() - miny.min()))
    tolerance = extent * _SIMPLIFY_SHARE

    # Label tiers: 0 for the places of the first ``label_roles`` roles that have places
    # (the same places as the print map and QGIS label), then one tier per lower role,
    # shown as the map is zoomed in.
    present_rank = {k: n for n, k in enumerate(s.key for s in styles if s.key in present)}
    tiers = [max(0, present_rank.get(s.key, len(styles)) - label_roles + 1) for s in styles]
    # ... and the labelled roles' names in three sizes, the highest role's largest
    levels = [min(present_rank.get(s.key, 2), 2) for s in styles]
    data: dict[str, Any] = {"lang": lang, "q": _QUANTUM, "title": image.title,
                            "label_tier": tiers, "label_level": levels,
                            "label_zoom_step": _LABEL_ZOOM_STEP}
    layers: list[str] = []
    overlays: list[list[Any]] = []
    on_tiles = basemap is not None
    base = image.base if not on_tiles else None
    national = False
    if base is not None and len(base):
        land = base[base["kind"] == "land"]
        borders = base[base["kind"] == "border"]
        data["sea"] = SEA
        data["base"] = {"g": _encode_polygons(land, 0.0), "style": _LAND_STYLE}
        national = bool(len(borders))
        if national:
            data["base"]["lines"] = _encode_lines(borders.geometry, borders.crs)
            data["base"]["line_style"] = _BORDER_STYLE
        view = _view_box(frames, 0.15)
        neighbours = land[land["part"] == "neighbour"]
        data["base"]["names"] = _names_at(
            [str(v).upper() for v in neighbours[f"name_{lang}"]],
            [label_point(g.intersection(view)) for g in neighbours.geometry], land.crs)
        layers.append("base")
        overlays.append(["base", text("background", lang), True])
    lan = None
    if areas_frame is not None:
        import geopandas as gpd

        style = _AREA_STYLE_ON_TILES if on_tiles else _AREA_STYLE
        simple = _simplified(areas_frame, tolerance)
        areas_simple = gpd.GeoDataFrame(geometry=list(simple), crs=areas_frame.crs)
        data["areas"] = {"g": _encode_polygons(areas_simple, 0.0), "style": style}
        lan = lan_borders(list(areas_frame.index), simple)
        if lan is not None:
            data["areas"]["lines"] = _encode_lines([lan], areas_frame.crs)
            data["areas"]["line_style"] = _LAN_STYLE
        layers.append("areas")
        overlays.append(["areas", text("areas", lang), True])
    data["layers"] = []
    for n, layer in enumerate(image.layers):
        data["layers"].append(_layer_data(layer, tolerance))
        layers.append(f"layer-{n}")
        overlays.append([f"layer-{n}", layer.name, True])
    if image.regions is not None and len(image.regions):
        names = image.regions["name"] if "name" in image.regions else \
            pd.Series(image.regions.index, index=image.regions.index)
        data["regions"] = {
            "g": _encode_polygons(image.regions, tolerance), "style": _REGION_STYLE,
            "names": _names_at([str(v) for v in names],
                               [label_point(g) for g in image.regions.geometry],
                               image.regions.crs)}
        layers.append("regions")
        overlays.append(["regions", text("regions", lang), True])

    links = image.links
    has_links = links is not None and len(links) > 0 and "total" in links
    max_flow = float(links["total"].max()) if has_links else 0.0
    min_flow: float | None = None
    scopes: list[str] = []
    weak_present = axes_present = False
    links_note = ""
    if has_links:
        drawn, min_flow = map_links(links, min_flow=min_link_flow)
        regional = shown_as_regional(drawn, pl["role"], labelled)
        data["links"] = _links_data(drawn, position, max_flow, regional)
        data["links"]["cls"] = [text(c, lang) for c in _LINK_CLASSES]
        data["links"]["sty"] = [
            [colour, [float(x) for x in dash.split()] or None, opacity]
            for scope in LINK_SCOPES for cls in _LINK_CLASSES
            for colour, dash, opacity in [link_style(cls, scope == "regional")]]
        scopes = [sc for sc, flag in (("regional", 1), ("local", 0))
                  if flag in data["links"]["g"]]
        # weak local links are a layer of their own, off at start; a weak regional link
        # that is an axis (Malmö–Helsingborg) is drawn with the others
        weak_present = any(c == 2 and g == 0 for c, g in zip(data["links"]["c"],
                                                              data["links"]["g"], strict=True))
        axes_present = any(c == 2 and g == 1 for c, g in zip(data["links"]["c"],
                                                             data["links"]["g"], strict=True))
        layers.append("links")
        overlays.append(["links", text("links", lang), True])
        if weak_present:
            layers.append("weak")
            overlays.append(["weak", text("weak_links", lang), bool(weak_links)])
        if min_flow is not None:
            links_note = text("links_shown", lang).format(
                shown=format_number(len(data["links"]["o"]), lang),
                total=format_number(len(links), lang), min=format_number(min_flow, lang))
    radius = [round(symbol_radius(float(p)), 1) for p in pop.iloc[order]]
    data["places"] = _places_data(pl, role_index, radius, latlon, lang)
    data["roles"] = [[s.label, s.colour] for s in styles]
    data["groups"] = _groups_data(pl, position, role_index, radius)
    data["group_opacity"] = GROUP_OPACITY
    layers.append("places")
    overlays.append(["places", text("places", lang), True])
    data["order"] = layers
    data["overlays"] = overlays

    lat0, lon0 = latlon.min(axis=0)
    lat1, lon1 = latlon.max(axis=0)
    if areas_frame is not None:
        b = areas_frame.geometry.to_crs(_WGS84).total_bounds
        lat0, lon0 = min(lat0, b[1]), min(lon0, b[0])
        lat1, lon1 = max(lat1, b[3]), max(lon1, b[2])
    data["bounds"] = [[round(float(lat0), 4), round(float(lon0), 4)],
                      [round(float(lat1), 4), round(float(lon1), 4)]]
    sections = legend_sections(image, styles, counts, labelled=labelled, max_flow=max_flow,
                               scopes=scopes, weak=weak_present, axes=axes_present,
                               links_note=links_note,
                               lan_borders=lan is not None, national_borders=national,
                               on_tiles=on_tiles)
    data["legend"] = _legend_html(sections, lang)
    data["source"] = source_line(image.provenance.get("inputs") or {}, lang,
                                 source_note=source_note, modelled=image.modelled,
                                 base=base is not None, timestamp=timestamp)
    data["text"] = {k: text(k, lang) for k in (
        "role", "unknown", "per_day", "total", "strength", "link_class", "source",
        "modelled", "zoom_in", "zoom_out", "search", "no_match", "scope", "regional",
        "local")}

    # the folium map: no tiles unless asked for, no CDN assets, our controls
    m = folium.Map(location=[float(lat0 + lat1) / 2, float(lon0 + lon1) / 2], zoom_start=5,
                   tiles=None, prefer_canvas=True, zoom_control=False,
                   zoom_snap=1 if on_tiles else 0.25, zoom_delta=0.5)
    m.default_js = []
    m.default_css = []
    root = m.get_root()
    # Nothing of the data passes through a template engine: branca renders every
    # element's output a second time as a Jinja template (MacroElement.render wraps it
    # in Element(...)), so a place called "{{ 7*7 }}" would be evaluated. folium only
    # renders the skeleton (the map and the tiles); the title, our assets and the map
    # data are put into the rendered page afterwards, in place of placeholders that
    # contain no template syntax. The layers, their control and every text are made
    # by the page's own script from the data.
    root.title = _TITLE_SLOT
    root.header.add_child(Element(_HEAD_SLOT), name="strukturbild_assets")
    if basemap is not None:
        _tile_layer(folium, basemap, basemap_key).add_to(m)

    class Draw(MacroElement):
        _template = Template("{% macro script(this, kwargs) %}{{ this.code }}{% endmacro %}")

        def __init__(self) -> None:
            super().__init__()  # type: ignore[no-untyped-call]
            self._name = "Strukturbild"
            self.code = ""

    draw = Draw()
    m.add_child(draw, name="strukturbild_draw")
    _fix_ids(m)
    draw.code = (f"strukturbildDraw({m.get_name()}, JSON.parse("
                 f"document.getElementById({_DATA_ID!r}).textContent));")
    skeleton = str(root.render())
    page = _fill_slots(skeleton, {
        _TITLE_SLOT: html.escape(image.title),
        _HEAD_SLOT: (
            f"<!-- Leaflet {_assets.LEAFLET_VERSION}, inlined from the PyPI package "
            f"{_assets.LEAFLET_PACKAGE}.\n{_assets.leaflet_licence()}\n-->\n"
            f"<style>{_assets.leaflet_css()}</style>\n<style>{_assets.map_css()}</style>\n"
            f"<script>{_assets.leaflet_js()}</script>\n<script>{_assets.runtime_js()}</script>\n"
            f'<script type="application/json" id="{_DATA_ID}">{_assets.script_json(data)}'
            "</script>"),
    })
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


#: Placeholders in the page folium renders, filled afterwards (see web_map_html).
_TITLE_SLOT = "strukturbild-slot-title-7c1e"
_HEAD_SLOT = "<!--strukturbild-slot-head-7c1e-->"
_DATA_ID = "strukturbild-data"


def _fill_slots(skeleton: str, values: dict[str, str]) -> str:
    """Put ``values`` into the skeleton in place of their placeholders, in one pass.

    Each placeholder must occur exactly once in the skeleton; the values are never
    scanned again, so a value that happens to contain a placeholder stays as it is.

    Examples
    --------
    >>> _fill_slots("<t>A</t><h>B</h>", {"A": "{{ 7*7 }}", "B": "A"})
    '<t>{{ 7*7 }}</t><h>A</h>'
    """
    for slot in values:
        if skeleton.count(slot) != 1:
            raise AssertionError(f"placeholder {slot!r} found {skeleton.count(slot)} times")
    pattern = re.compile("|".join(re.escape(s) for s in values))
    return pattern.sub(lambda m: values[m.group(0)], skeleton)


def _fix_ids(root: Any) -> None:
    """Replace folium's random element ids with a counter, depth first.

    folium/branca give every element a uuid4 id; the same map would otherwise
    differ byte for byte on every save.
    """
    counter = 0

    def walk(el: Any) -> None:
        nonlocal counter
        el._id = f"{counter:06d}"
        counter += 1
        for child in el._children.values():
            walk(child)

    walk(root.get_root())
