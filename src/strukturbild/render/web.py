"""The interactive structure map (Folium/Leaflet HTML) from a StructureImage.

One HTML file that opens anywhere, offline: Leaflet's script and stylesheet are
inlined from the installed ``django-js-lib-leaflet`` package (see
:mod:`strukturbild.render._assets`), and the build fails with
:class:`~strukturbild.render._assets.OnlineAssetError` if any script or stylesheet
would still come from the network. Background tiles are optional and off by
default; without them the map draws its own base from the area polygons (kommuner)
and leaves the sea blank.

What is drawn, bottom to top, each a layer that can be switched off (its legend
section goes with it):

- **areas** (kommuner): borders simplified together, so that neighbours still meet
  (:func:`shapely.coverage_simplify`, tolerance 1/4000 of the map's extent), then
  quantised to 1e-4 degrees (about 10 m) and sent as integer steps;
- **regions**: outlines, simplified the same way;
- **links**: one tapered shape per pair of places: its width follows the commuters
  of both directions (square root, :func:`~strukturbild.render.style.link_width`),
  and the width at each end those who leave from that end, so a link narrows
  towards the place that receives the most. Weak links are dashed. When there are
  more links than a map can show legibly (:data:`MAX_MAP_LINKS`), the map keeps
  every strong and medium link and the weak ones from a round flow threshold up,
  and says so in the legend; the GeoPackage keeps them all;
- **places**: circles with area proportional to population, coloured by role,
  drawn on a canvas; names of the ``label_roles`` highest roles as labels that never
  overlap (greedy placement in the browser; lower roles join as one zooms in).

A legend (roles, circle sizes, link classes and widths, the taper), a scale bar, a
title and a source line ("Källa: …", with "modellerade flöden" when the links are
modelled) complete it. Printed, the map fills an A4 landscape page (without the zoom
buttons and the layer list), fitted to the data again unless the user has moved it.

Every text reaches the page as data and is put into the page as text
(``textContent``) or escaped HTML, so a place called ``<img src=x onerror=alert(1)>``
shows as just that. Element ids are fixed and nothing depends on the clock, so the
same input gives the same bytes.
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
from .style import (
    LINK_CLASS_STYLE,
    format_number,
    legend_flows,
    legend_populations,
    link_width,
    role_styles,
    symbol_radius,
    text,
)

__all__ = ["MAX_MAP_LINKS", "map_links", "web_map_html"]

_WGS84 = "EPSG:4326"
#: Coordinates are sent as integers of 1e-4 degrees (about 11 m north-south).
_QUANTUM = 10_000
#: Simplification tolerance of areas and regions, as a share of the map's extent.
_SIMPLIFY_SHARE = 1 / 4000
#: The most links the map draws; beyond it, weak links below a round flow are left out.
MAX_MAP_LINKS = 4000
#: Flow thresholds tried for weak links, smallest first.
_ROUND_FLOWS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000)
#: Lower roles get labels every this many zoom levels past the first view.
_LABEL_ZOOM_STEP = 1.5
_LINK_CLASSES = ("strong", "medium", "weak")

#: The base the map draws for itself (no tiles): land in a warm light grey, sea blank.
_AREA_STYLE = {"color": "#b9b3a8", "weight": 0.6, "opacity": 1.0, "fillColor": "#f1eee8",
               "fillOpacity": 1.0}
_AREA_STYLE_ON_TILES = {"color": "#6b6b6b", "weight": 0.7, "opacity": 0.7, "fill": False}
_REGION_COLOUR = "#54278f"
_REGION_STYLE = {"color": _REGION_COLOUR, "weight": 1.8, "opacity": 0.8, "fill": False,
                 "dashArray": "6 4"}

#: Texts of the web map that the style table does not (yet) hold: Swedish, English.
#: Providers of background tiles that xyzservices does not know, by lower-case name.
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


def _encode_polygons(gdf: Any, tolerance: float) -> list[list[list[list[int]]]]:
    """Polygons as rings of quantised [lat, lon] steps, one running cursor.

    Rings lose their closing point and repeated points; rings of fewer than three
    points after quantisation are dropped. Shared borders, identical before, stay
    identical after: the same coordinates round the same way.
    """
    import geopandas as gpd
    import shapely

    simple = gpd.GeoSeries(_simplified(gdf, tolerance), crs=gdf.crs).to_crs(_WGS84)
    out: list[list[list[list[int]]]] = []
    cursor = np.zeros(2, dtype=np.int64)
    for geom in simple:
        shapes: list[list[list[int]]] = []
        if geom is not None and not geom.is_empty:
            for poly in shapely.get_parts(geom):
                if poly.geom_type != "Polygon":
                    continue
                rings: list[list[int]] = []
                for ring in (poly.exterior, *poly.interiors):
                    q = np.round(np.asarray(ring.coords)[:-1, ::-1] * _QUANTUM).astype(np.int64)
                    keep = np.ones(len(q), dtype=bool)
                    keep[1:] = np.any(q[1:] != q[:-1], axis=1)
                    q = q[keep]
                    if len(q) < 3:
                        continue
                    steps = np.diff(q, axis=0, prepend=cursor[None, :])
                    cursor = q[-1]
                    rings.append(steps.ravel().tolist())
                if rings:
                    shapes.append(rings)
        out.append(shapes)
    return out


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
    ("designations", "s"), ("area_name", "s"), ("population", 0), ("employed", 0),
    ("jobs", 0), ("job_ratio", 2), ("net_commuting", 0), ("inflow_sources", 0),
    ("inflow_share", 3), ("region", "s"), ("role_reason", "s"),
)
_ROW_TEXT = {"area_name": "kommun", "role_reason": "reason"}


def _places_data(places: Any, role_index: dict[str, int], radius: list[float],
                 latlon: np.ndarray[Any, np.dtype[np.float64]], language: str) -> dict[str, Any]:
    cols: list[list[Any]] = []
    for col, kind in _PLACE_ROWS:
        if col not in places.columns:
            continue
        label = text(_ROW_TEXT.get(col, col), language)
        values = _texts(places[col].tolist()) if kind == "s" else \
            _numbers(places[col], int(kind))
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


def _links_data(links: Any, position: pd.Series, max_flow: float) -> dict[str, Any]:
    """Links as columns; strongest last, so that they are drawn on top."""
    lk = links[links["origin"].isin(position.index) & links["destination"].isin(position.index)]
    lk = lk.assign(_o=position.reindex(lk["origin"]).to_numpy(),
                   _d=position.reindex(lk["destination"]).to_numpy())
    lk = lk.sort_values(["total", "_o", "_d"], kind="mergesort")
    cls_index = {c: i for i, c in enumerate(_LINK_CLASSES)}
    return {
        "o": [int(v) for v in lk["_o"]],
        "d": [int(v) for v in lk["_d"]],
        "a": _numbers(lk["flow_od"].fillna(0.0), 1) or [],
        "b": _numbers(lk["flow_do"].fillna(0.0), 1) or [],
        "s": _numbers(lk["strength"], 3) or [None] * len(lk),
        "w": _numbers([link_width(float(t), max_flow) for t in lk["total"]], 2) or [],
        "c": [cls_index.get(str(c), 2) for c in lk["link_class"]],
        "m": [1 if bool(m) else 0 for m in lk["modelled"]] if "modelled" in lk
        else [0] * len(lk),
    }


# ---------------------------------------------------------------------------- legend


def _svg_circles(max_population: float, language: str) -> str:
    """Nested circles for three round populations, with leader lines and values."""
    values = legend_populations(max_population)
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


def _svg_line(width: float, colour: str, dash: str, opacity: float) -> str:
    d = f' stroke-dasharray="{dash}"' if dash else ""
    h = max(width, 2) + 2
    return (f'<svg class="sb-svg" width="34" height="{h:.1f}"><line x1="1" y1="{h / 2:.1f}" '
            f'x2="33" y2="{h / 2:.1f}" stroke="{colour}" stroke-width="{width:.1f}" '
            f'stroke-opacity="{opacity}"{d}/></svg>')


def _svg_taper(colour: str) -> str:
    return (f'<svg class="sb-svg" width="34" height="10"><polygon points="1,1 33,4.2 33,5.8 '
            f'1,9" fill="{colour}" fill-opacity="0.85"/></svg>')


def _legend_html(image: StructureImage, styles: Sequence[Any], counts: dict[str, int],
                 layers: Sequence[str], max_flow: float, shown_links: int,
                 min_flow: float | None, areas_on_tiles: bool) -> str:
    """The legend, as escaped HTML, one section per layer (``data-layer``)."""
    lang = image.language
    e = html.escape
    out: list[str] = []

    def section(layer: str, head: str) -> None:
        out.append(f'<div class="sb-section" data-layer="{layer}">'
                   f'<div class="sb-head">{e(head)}</div>')

    section("places", text("roles", lang))
    for s in styles:
        if counts.get(s.key, 0):
            out.append(f'<div class="sb-row"><span class="sb-dot" style="background:'
                       f'{e(s.colour)}"></span><span>{e(s.label)} <span class="sb-n">'
                       f'({format_number(counts[s.key], lang)})</span></span></div>')
    out.append(f'<div class="sb-head">{e(text("size", lang))}</div>')
    pops = image.places["population"] if "population" in image.places else pd.Series([0.0])
    out.append(_svg_circles(float(np.nanmax(pops.to_numpy(dtype=float))), lang))
    out.append("</div>")

    if "links" in layers:
        section("links", text("links", lang))
        for cls in _LINK_CLASSES:
            colour, dash, opacity = LINK_CLASS_STYLE[cls]
            out.append(f'<div class="sb-row">{_svg_line(3, colour, dash, opacity)}'
                       f'{e(text(cls, lang))}</div>')
        out.append(f'<div class="sb-head">{e(text("width", lang))}</div>')
        for flow in legend_flows(max_flow):
            w = link_width(flow, max_flow)
            out.append(f'<div class="sb-row">{_svg_line(w, "#2171b5", "", 0.85)}'
                       f'{e(format_number(flow, lang))}</div>')
        out.append(f'<div class="sb-row">{_svg_taper("#2171b5")}'
                   f'<span>{e(text("taper", lang))}</span></div>')
        if min_flow is not None:
            note = text("links_shown", lang).format(
                shown=format_number(shown_links, lang), total=format_number(len(image.links), lang),
                min=format_number(min_flow, lang))
            out.append(f'<div class="sb-note">{e(note)}</div>')
        if image.modelled:
            out.append(f'<div class="sb-note sb-modelled">{e(text("modelled_note", lang))}</div>')
        out.append("</div>")

    if "regions" in layers:
        section("regions", text("regions", lang))
        out.append(f'<div class="sb-row">{_svg_line(2, _REGION_COLOUR, "6 4", 0.8)}'
                   f'{e(text("region", lang))}</div></div>')
    if "areas" in layers:
        section("areas", text("areas", lang))
        if areas_on_tiles:
            swatch = '<span class="sb-dot" style="background:none;border:1px solid #6b6b6b">'
        else:
            swatch = (f'<span class="sb-dot" style="border-radius:0;background:'
                      f'{_AREA_STYLE["fillColor"]};border:1px solid {_AREA_STYLE["color"]}">')
        out.append(f'<div class="sb-row">{swatch}</span>{e(text("kommun", lang))}</div></div>')
    return "".join(out)


def _source_line(image: StructureImage, source_note: str, timestamp: str | None) -> str:
    lang = image.language
    note = source_note or f"{text('source', lang)}: SCB"
    if image.modelled and text("modelled", lang) not in note:
        note += f"; {text('modelled', lang)}"
    if timestamp:
        note += f" · {text('made', lang)} {timestamp}"
    return note


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
    label_roles: int = 2,
    basemap: str | None = None,
    basemap_key: str | None = None,
    timestamp: str | None = None,
    min_link_flow: float | None = None,
) -> str:
    """Render the structure map as one self-contained HTML document.

    Parameters
    ----------
    image
        The structure image.
    source_note
        The source line ("Källa: SCB …"); "modellerade flöden" ("modelled flows") is
        added when the links are modelled.
    label_roles
        Places of this many highest roles get name labels; lower roles get them as
        the map is zoomed in, where they fit.
    basemap
        Background tiles: an xyzservices provider name (``"CartoDB.Positron"``) or
        ``"Lantmateriet.Topowebb"`` / ``"Lantmateriet.TopowebbNedtonad"``; the
        default ``None`` draws no tiles (the page then needs no network at all).
    basemap_key
        The key of a provider that needs one (Lantmäteriet's, for example).
    timestamp
        Added to the source line when given; nothing in the page depends on the clock.
    min_link_flow
        Draw weak links only from this many commuters (both directions together);
        strong and medium links are always drawn. ``None``: draw all, unless there
        are more than :data:`MAX_MAP_LINKS`, then the smallest round threshold that
        fits; the legend tells how many links are shown.

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

    # the extent: places and areas, in the project CRS and in degrees
    frames = [pl.geometry] + ([image.areas.geometry] if image.areas is not None
                              and len(image.areas) else [])
    minx, miny, maxx, maxy = np.array([f.total_bounds for f in frames]).T
    extent = max(float(maxx.max() - minx.min()), float(maxy.max() - miny.min()))
    tolerance = extent * _SIMPLIFY_SHARE

    # Label tiers: 0 for the places of the first ``label_roles`` roles that have places
    # (the same places as the print map and QGIS label), then one tier per lower role,
    # shown as the map is zoomed in.
    present_rank = {k: n for n, k in enumerate(s.key for s in styles if s.key in present)}
    tiers = [max(0, present_rank.get(s.key, len(styles)) - label_roles + 1) for s in styles]
    data: dict[str, Any] = {"lang": lang, "q": _QUANTUM, "title": image.title,
                            "label_tier": tiers, "label_zoom_step": _LABEL_ZOOM_STEP}
    layers: list[str] = []
    on_tiles = basemap is not None
    if image.areas is not None and len(image.areas):
        style = _AREA_STYLE_ON_TILES if on_tiles else _AREA_STYLE
        data["areas"] = {"g": _encode_polygons(image.areas, tolerance), "style": style}
        layers.append("areas")
    if image.regions is not None and len(image.regions):
        data["regions"] = {"g": _encode_polygons(image.regions, tolerance),
                           "style": _REGION_STYLE}
        layers.append("regions")

    links = image.links
    has_links = links is not None and len(links) > 0 and "total" in links
    max_flow = float(links["total"].max()) if has_links else 0.0
    min_flow: float | None = None
    shown = 0
    if has_links:
        drawn, min_flow = map_links(links, min_flow=min_link_flow)
        data["links"] = _links_data(drawn, position, max_flow)
        data["links"]["cls"] = [
            [text(c, lang), LINK_CLASS_STYLE[c][0],
             [float(x) for x in LINK_CLASS_STYLE[c][1].split()] or None,
             LINK_CLASS_STYLE[c][2]] for c in _LINK_CLASSES]
        shown = len(data["links"]["o"])
        layers.append("links")
    radius = [round(symbol_radius(float(p)), 1) for p in pop.iloc[order]]
    data["places"] = _places_data(pl, role_index, radius, latlon, lang)
    data["roles"] = [[s.label, s.colour] for s in styles]
    layers.append("places")
    data["order"] = layers

    lat0, lon0 = latlon.min(axis=0)
    lat1, lon1 = latlon.max(axis=0)
    if image.areas is not None and "areas" in layers:
        b = image.areas.geometry.to_crs(_WGS84).total_bounds
        lat0, lon0 = min(lat0, b[1]), min(lon0, b[0])
        lat1, lon1 = max(lat1, b[3]), max(lon1, b[2])
    data["bounds"] = [[round(float(lat0), 4), round(float(lon0), 4)],
                      [round(float(lat1), 4), round(float(lon1), 4)]]
    data["legend"] = _legend_html(image, styles, counts, layers, max_flow, shown, min_flow,
                                  on_tiles)
    data["source"] = _source_line(image, source_note, timestamp)
    data["text"] = {k: text(k, lang) for k in (
        "role", "unknown", "per_day", "total", "strength", "link_class", "source",
        "modelled", "zoom_in", "zoom_out")}

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
    # renders the skeleton (map, groups, controls: our own fixed texts); the title,
    # our assets and the map data are put into the rendered page afterwards, in place
    # of placeholders that contain no template syntax.
    root.title = _TITLE_SLOT
    root.header.add_child(Element(_HEAD_SLOT), name="strukturbild_assets")
    if basemap is not None:
        _tile_layer(folium, basemap, basemap_key).add_to(m)
    groups = {}
    for key in layers:
        groups[key] = folium.FeatureGroup(name=html.escape(text(key, lang)), show=True)
        groups[key].add_to(m)
    folium.LayerControl(collapsed=False, position="topright").add_to(m)

    class Draw(MacroElement):
        _template = Template("{% macro script(this, kwargs) %}{{ this.code }}{% endmacro %}")

        def __init__(self) -> None:
            super().__init__()  # type: ignore[no-untyped-call]
            self._name = "Strukturbild"
            self.code = ""

    draw = Draw()
    m.add_child(draw, name="strukturbild_draw")
    _fix_ids(m)
    group_js = "{" + ",".join(f"{k}:{g.get_name()}" for k, g in groups.items()) + "}"
    draw.code = (f"strukturbildDraw({m.get_name()}, {group_js}, JSON.parse("
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
