"""The interactive structure map (Folium/Leaflet HTML) from a StructureImage.

Places are circles with area proportional to population, coloured by role; links
are lines whose width follows the flow; areas and regions are drawn under them.
A legend, a layer control, a scale bar, a title and a source line complete it.
Every text reaches the page as data (JSON with ``<`` escaped) and is put into the
page with ``textContent``, so a place named ``<script>`` shows as that text.
Element ids are fixed, so the same input gives the same bytes.
"""

from __future__ import annotations

import html
import json
from typing import Any

import numpy as np
import pandas as pd

from ..errors import StrukturbildError
from ..image import StructureImage
from .style import LINK_CLASS_STYLE, link_width, role_styles, symbol_radius, text

__all__ = ["web_map_html"]

_WGS84 = "EPSG:4326"
#: Decimal places of longitude/latitude in the page: 5 decimals ≈ 1 m.
_DECIMALS = 5


def _require_folium() -> Any:
    try:
        import folium
    except ImportError as exc:  # pragma: no cover - folium is a dependency
        raise StrukturbildError(
            "the web map needs folium: pip install folium"
        ) from exc
    return folium


def _round_coords(obj: Any) -> Any:
    if isinstance(obj, float):
        return round(obj, _DECIMALS)
    if isinstance(obj, list | tuple):
        return [_round_coords(v) for v in obj]
    return obj


def _features(gdf: Any, props: pd.DataFrame) -> dict[str, Any]:
    """A compact GeoJSON FeatureCollection in WGS84 with the given properties."""
    g = gdf.geometry.to_crs(_WGS84)
    feats = []
    for geom, (_, row) in zip(g, props.iterrows(), strict=True):
        gi = geom.__geo_interface__
        feats.append({
            "type": "Feature",
            "geometry": {"type": gi["type"], "coordinates": _round_coords(gi["coordinates"])},
            "properties": {k: _plain(v) for k, v in row.items()},
        })
    return {"type": "FeatureCollection", "features": feats}


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not np.isfinite(v):
        return None
    return v


def _fmt_num(v: Any, language: str, decimals: int = 0) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return text("unknown", language)
    s = f"{float(v):,.{decimals}f}".replace(",", " ")
    return s.replace(".", ",") if language == "sv" else s


_POINT_JS = """function(feature, latlng) {
  var p = feature.properties;
  return L.circleMarker(latlng, {radius: p.r, color: '#ffffff', weight: 0.8,
                                 fillColor: p.c, fillOpacity: 0.9});
}"""

# Popups are built from DOM nodes with textContent: no text is ever parsed as HTML.
_POPUP_JS = """function(feature, layer) {
  var rows = feature.properties.popup;
  if (!rows) { return; }
  var box = document.createElement('div');
  var h = document.createElement('strong');
  h.textContent = rows[0];
  box.appendChild(h);
  var t = document.createElement('table');
  t.className = 'sb-popup';
  for (var i = 1; i < rows.length; i++) {
    var tr = document.createElement('tr');
    var th = document.createElement('th'); th.textContent = rows[i][0];
    var td = document.createElement('td'); td.textContent = rows[i][1];
    tr.appendChild(th); tr.appendChild(td); t.appendChild(tr);
  }
  box.appendChild(t);
  layer.bindPopup(box, {maxWidth: 360});
  if (feature.properties.label) {
    layer.bindTooltip(feature.properties.label,
                      {permanent: true, direction: 'right', className: 'sb-label'});
  }
}"""


def _place_popup(name: str, row: pd.Series, role_label: str, language: str) -> list[Any]:
    rows: list[Any] = [name]
    rows.append([text("role", language), role_label])
    if row.get("designations"):
        rows.append([text("designations", language), str(row["designations"])])
    if row.get("area_name") is not None and not pd.isna(row.get("area_name")):
        rows.append([text("kommun", language), str(row["area_name"])])
    rows.append([text("population", language), _fmt_num(row["population"], language)])
    for key, dec in (("employed", 0), ("jobs", 0), ("job_ratio", 2), ("net_commuting", 0),
                     ("inflow_sources", 0), ("inflow_share", 3)):
        v = row.get(key)
        if v is not None and not pd.isna(v):
            rows.append([text(key, language), _fmt_num(v, language, dec)])
    if "region" in row.index and row.get("region") is not None and not pd.isna(row["region"]):
        rows.append([text("region", language), str(row["region"])])
    rows.append([text("reason", language), str(row["role_reason"])])
    return rows


def _legend_html(image: StructureImage, styles: list[Any], max_flow: float,
                 counts: dict[str, int], source_note: str) -> str:
    lang = image.language
    e = html.escape
    parts = ['<div class="sb-legend">']
    parts.append(f'<div class="sb-title">{e(image.title)}</div>')
    parts.append(f'<div class="sb-section" data-layer="places"><div class="sb-head">'
                 f'{e(text("roles", lang))}</div>')
    for s in styles:
        if counts.get(s.key, 0) == 0:
            continue
        parts.append(
            f'<div class="sb-row"><span class="sb-dot" style="background:{s.colour}"></span>'
            f'{e(s.label)} ({counts[s.key]})</div>'
        )
    parts.append(f'<div class="sb-head">{e(text("size", lang))}</div>')
    for pop in (10_000, 100_000, 300_000):
        r = symbol_radius(pop)
        parts.append(
            f'<div class="sb-row"><span class="sb-circle" style="width:{2 * r:.1f}px;'
            f'height:{2 * r:.1f}px"></span>{e(_fmt_num(pop, lang))}</div>'
        )
    parts.append("</div>")
    if len(image.links):
        parts.append(f'<div class="sb-section" data-layer="links"><div class="sb-head">'
                     f'{e(text("links", lang))}</div>')
        for cls in ("strong", "medium", "weak"):
            colour, dash, _ = LINK_CLASS_STYLE[cls]
            style = "dashed" if dash else "solid"
            parts.append(
                f'<div class="sb-row"><span class="sb-line" style="border-top:3px {style} '
                f'{colour}"></span>{e(text(cls, lang))}</div>'
            )
        parts.append(f'<div class="sb-head">{e(text("width", lang))}</div>')
        for frac in (1.0, 0.25, 0.04):
            w = link_width(max_flow * frac, max_flow)
            parts.append(
                f'<div class="sb-row"><span class="sb-line" style="border-top:{w:.1f}px solid '
                f'#2171b5"></span>{e(_fmt_num(max_flow * frac, lang))}</div>'
            )
        parts.append("</div>")
    if image.modelled:
        parts.append(f'<div class="sb-note sb-modelled">{e(text("modelled_note", lang))}</div>')
    note = source_note or f"{text('source', lang)}: SCB"
    if image.modelled:
        note += f"; {text('modelled', lang)}"
    parts.append(f'<div class="sb-note sb-source">{e(note)}</div>')
    parts.append("</div>")
    return "".join(parts)


_CSS = """
<style>
.sb-legend{background:rgba(255,255,255,.93);padding:8px 10px;border-radius:4px;
 font:12px/1.35 'Helvetica Neue',Arial,sans-serif;max-width:260px;
 box-shadow:0 1px 4px rgba(0,0,0,.3)}
.sb-title{font-size:15px;font-weight:bold;margin-bottom:4px}
.sb-head{font-weight:bold;margin-top:6px}
.sb-row{display:flex;align-items:center;gap:6px;margin:2px 0}
.sb-dot{display:inline-block;width:12px;height:12px;border-radius:50%;border:1px solid #fff}
.sb-circle{display:inline-block;border-radius:50%;border:1px solid #555;background:#ddd}
.sb-line{display:inline-block;width:30px;height:0}
.sb-note{margin-top:6px;font-size:11px;color:#333}
.sb-modelled{color:#a50f15;font-weight:bold}
.sb-popup th{text-align:left;padding-right:8px;vertical-align:top}
.sb-label{background:transparent;border:none;box-shadow:none;font-weight:bold;
 text-shadow:0 0 3px #fff,0 0 3px #fff;padding:0 2px}
.sb-label:before{display:none}
</style>
"""


def web_map_html(image: StructureImage, *, source_note: str = "", label_roles: int = 2) -> str:
    """Render the structure map as one HTML document.

    Parameters
    ----------
    image
        The structure image.
    source_note
        The source line ("Källa: SCB …"); "modellerade flöden" is added when the
        links are modelled.
    label_roles
        Places of this many highest roles get a permanent name label.

    Examples
    --------
    >>> from strukturbild.datasets import example_project
    >>> from strukturbild.pipeline import build
    >>> page = web_map_html(build(example_project()))
    >>> "Tillväxtmotor" in page and "modellerade flöden" in page
    True
    """
    folium = _require_folium()
    from folium.utilities import JsCode

    lang = image.language
    places = image.places
    styles = role_styles([(r.key, r.label(lang)) for r in image.roles], label_roles=label_roles)
    by_key = {s.key: s for s in styles}
    counts = {k: int(v) for k, v in places["role"].astype(str).value_counts().items()}

    pts = places.geometry.to_crs(_WGS84)
    pts = pts.where(pts.geom_type == "Point", pts.representative_point())
    minx, miny, maxx, maxy = pts.total_bounds
    m = folium.Map(location=[(miny + maxy) / 2, (minx + maxx) / 2], zoom_start=8, tiles=None,
                   prefer_canvas=True, control_scale=True)
    m.fit_bounds([[float(miny), float(minx)], [float(maxy), float(maxx)]])
    m.get_root().header.add_child(folium.Element(_CSS))

    if image.areas is not None and len(image.areas):
        fg = folium.FeatureGroup(name=text("areas", lang), show=True)
        data = _features(image.areas, pd.DataFrame(index=image.areas.index))
        folium.GeoJson(data, style_function=lambda _f: {
            "color": "#9e9e9e", "weight": 0.7, "fillColor": "#f4f1ea", "fillOpacity": 1.0},
        ).add_to(fg)
        fg.add_to(m)
    if image.regions is not None and len(image.regions):
        fg = folium.FeatureGroup(name=text("regions", lang), show=True)
        data = _features(image.regions, pd.DataFrame(index=image.regions.index))
        folium.GeoJson(data, style_function=lambda _f: {
            "color": "#54278f", "weight": 2, "fill": False, "dashArray": "6 3"},
        ).add_to(fg)
        fg.add_to(m)

    links = image.links
    max_flow = float(links["total"].max()) if len(links) else 0.0
    if len(links):
        fg = folium.FeatureGroup(name=text("links", lang), show=True)
        names = places["name"]
        order = links.sort_values("total").index  # strongest drawn last, on top
        lk = links.loc[order]
        props = pd.DataFrame(index=lk.index)
        props["w"] = [round(link_width(t, max_flow), 2) for t in lk["total"]]
        props["c"] = [LINK_CLASS_STYLE[c][0] for c in lk["link_class"]]
        props["d"] = [LINK_CLASS_STYLE[c][1] for c in lk["link_class"]]
        props["o"] = [LINK_CLASS_STYLE[c][2] for c in lk["link_class"]]
        props["popup"] = [
            [f"{names.get(o, o)} – {names.get(d, d)}",
             [text("flow", lang), f"{_fmt_num(fo, lang)} → / {_fmt_num(fd, lang)} ←"],
             [text("strength", lang), _fmt_num(s, lang, 3)],
             [text("link_class", lang), text(c, lang)]]
            + ([[text("source", lang), text("modelled", lang)]] if mod else [])
            for o, d, fo, fd, s, c, mod in zip(lk["origin"], lk["destination"], lk["flow_od"],
                                               lk["flow_do"], lk["strength"], lk["link_class"],
                                               lk["modelled"], strict=True)
        ]
        folium.GeoJson(
            _features(lk, props),
            style_function=lambda f: {"weight": f["properties"]["w"],
                                      "color": f["properties"]["c"],
                                      "dashArray": f["properties"]["d"] or None,
                                      "opacity": f["properties"]["o"]},
            on_each_feature=JsCode(_POPUP_JS),
        ).add_to(fg)
        fg.add_to(m)

    fg = folium.FeatureGroup(name=text("places", lang), show=True)
    order = places.sort_values("population", ascending=False).index  # small on top
    pl = places.loc[order]
    props = pd.DataFrame(index=pl.index)
    props["r"] = [round(symbol_radius(p), 2) for p in pl["population"]]
    props["c"] = [by_key[str(k)].colour for k in pl["role"]]
    props["label"] = [n if by_key[str(k)].labelled else None
                      for n, k in zip(pl["name"], pl["role"], strict=True)]
    props["popup"] = [_place_popup(str(row["name"]), row, by_key[str(row["role"])].label, lang)
                      for _, row in pl.iterrows()]
    folium.GeoJson(_features(pl, props), marker=None,
                   point_to_layer=JsCode(_POINT_JS),
                   on_each_feature=JsCode(_POPUP_JS)).add_to(fg)
    fg.add_to(m)

    legend = _legend_html(image, styles, max_flow, counts, source_note)
    _add_control(m, legend)
    folium.LayerControl(collapsed=False).add_to(m)
    _fix_ids(m)
    return str(m.get_root().render())


def _add_control(m: Any, legend_html: str) -> None:
    """A Leaflet control holding the legend (bottom right)."""
    from branca.element import MacroElement
    from jinja2 import Template

    class Legend(MacroElement):  # type: ignore[misc]
        _template = Template("""
            {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.control({position: 'bottomright'});
            {{ this.get_name() }}.onAdd = function () {
                var div = L.DomUtil.create('div', 'sb-legend-box');
                div.innerHTML = {{ this.legend|tojson }};
                L.DomEvent.disableClickPropagation(div);
                return div;
            };
            {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
            {% endmacro %}
        """)

        def __init__(self, legend: str) -> None:
            super().__init__()
            self._name = "Legend"
            self.legend = legend

    m.add_child(Legend(legend_html))


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
    walk(root)
