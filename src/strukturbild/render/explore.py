"""The structure image as folium layers: :meth:`StructureImage.explore`.

The scene of the web map (:func:`~strukturbild.render._scene.scene_of`) drawn with
folium, for a notebook user who wants the structure image on a folium map of their own
or their own layers on it, as ``GeoDataFrame.explore(m=...)`` gives a frame: the base
(only on a map without tiles), the areas, the own layers, the stråk, the regions, the
links (regional and local in one layer, the weak ones in their own, both off at start
where there are stråk; the weak ones always), the
joint designations' bands and the places, one layer per role; each ``folium.GeoJson``
with the scene's styles in its features and a tooltip (a popup for places).

Texts reach folium escaped, never as markup or template source. folium hands a
feature's tooltip and popup to the browser as HTML (``innerHTML``), and layer names to
Leaflet's layer control, which takes HTML too; and branca renders every element's
output a second time as a Jinja template, so a place called ``{{ 7*7 }}`` would read
"49". Every text is therefore HTML-escaped, braces included (``&#123;`` ``&#125;``):
the browser shows it as it is, and no ``{{``, ``{%`` or ``{#`` of the data is left for
a template engine to read.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from ._scene import Scene, scene_of
from .style import (
    AREA_EDGE,
    AREA_EDGE_ON_TILES,
    AREA_FILL,
    GROUP_OPACITY,
    GROUP_PAD,
    LAND,
    REGION_STYLE,
    SEA,
    format_number,
    link_width,
    symbol_radius,
    text,
)

if TYPE_CHECKING:
    import folium

    from ..image import StructureImage

__all__ = ["explore", "safe_text"]

_WGS84 = "EPSG:4326"
#: The sea under a map without tiles (a fixed text: no data in it).
_SEA_CSS = f"<style>html body .leaflet-container{{background:{SEA}}}</style>"
#: Attributes of an own layer's features shown in their tooltips (the first ones).
_LAYER_COLUMNS = 8


def safe_text(value: Any) -> str:
    """A text for folium: HTML-escaped, braces too, so that neither a browser's HTML
    parser nor a template engine reads anything in it.

    Examples
    --------
    >>> safe_text("{{ 7*7 }} <b>&")
    '&#123;&#123; 7*7 &#125;&#125; &lt;b&gt;&amp;'
    """
    return html.escape(str(value), quote=True).replace("{", "&#123;").replace("}", "&#125;")


def _require_folium() -> Any:
    try:
        import folium
    except ImportError as exc:  # pragma: no cover - folium is a dependency
        from ..errors import StrukturbildError

        raise StrukturbildError("explore() needs folium: pip install folium") from exc
    return folium


def _geojson(geoms: Any, crs: Any, properties: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """A FeatureCollection of ``geoms`` (in ``crs``) in degrees, with ``properties``."""
    import geopandas as gpd
    import shapely

    wgs = gpd.GeoSeries(list(geoms), crs=crs).to_crs(_WGS84)
    features = [{"type": "Feature", "geometry": shapely.geometry.mapping(g), "properties": p}
                for g, p in zip(wgs, properties, strict=True) if g is not None and not g.is_empty]
    return {"type": "FeatureCollection", "features": features}


def _table(rows: Sequence[tuple[str, str]]) -> str:
    """An escaped two-column table: label, value."""
    return "<table>" + "".join(f"<tr><th>{safe_text(k)}</th><td>{safe_text(v)}</td></tr>"
                               for k, v in rows) + "</table>"


class _Layers:
    """Adds the scene's layers to a folium map, with unique, escaped names."""

    def __init__(self, folium: Any, m: Any, scene: Scene) -> None:
        self.folium, self.m, self.scene = folium, m, scene
        self.names: set[str] = set()

    def add(self, name: str, data: dict[str, Any], *, show: bool = True, popup: bool = False,
            marker: bool = False) -> None:
        """One ``GeoJson`` layer: styles from each feature's ``style``, tooltips ``tip``."""
        if not data["features"]:
            return
        label, n = safe_text(name), 2
        while label in self.names:
            label, n = f"{safe_text(name)} ({n})", n + 1
        self.names.add(label)
        f = self.folium
        self.folium.GeoJson(
            data, name=label, show=show,
            tooltip=f.GeoJsonTooltip(fields=["tip"], labels=False),
            popup=f.GeoJsonPopup(fields=["pop"], labels=False) if popup else None,
            marker=f.CircleMarker(radius=3) if marker else None,
        ).add_to(self.m)


def _base(layers: _Layers) -> None:
    scene = layers.scene
    land = scene.base[scene.base["kind"] == "land"]
    names = land[f"name_{scene.language}"].fillna("")
    layers.add(text("background", scene.language), _geojson(
        land.geometry, land.crs,
        ({"style": {"stroke": False, "fillColor": LAND, "fillOpacity": 1.0},
          "tip": safe_text(n)} for n in names)))


def _areas(layers: _Layers, on_tiles: bool) -> None:
    scene = layers.scene
    areas = scene.image.areas
    assert areas is not None
    style = {"color": AREA_EDGE_ON_TILES, "weight": 0.7, "opacity": 0.7, "fill": False} \
        if on_tiles else {"color": AREA_EDGE, "weight": 0.7, "fillColor": AREA_FILL,
                          "fillOpacity": 1.0}
    names = areas["name"] if "name" in areas else pd.Series(areas.index, index=areas.index)
    layers.add(text("areas", scene.language), _geojson(
        scene.areas, areas.crs, ({"style": style, "tip": safe_text(n)} for n in names)))


def _own_layers(layers: _Layers) -> None:
    for layer in layers.scene.image.layers:
        frame, st = layer.frame, layer.style
        fill = str(st["fill"])
        style = {"color": st["colour"], "weight": float(st["width"]),
                 "opacity": float(st["opacity"]), "dashArray": st.get("dash") or None,
                 "fill": fill != "none", "fillColor": st["colour"] if fill == "none" else fill,
                 "fillOpacity": float(st["opacity"]), "radius": 5}
        cols = [c for c in frame.columns if c != frame.geometry.name][:_LAYER_COLUMNS]
        tips = (f"<b>{safe_text(layer.name)}</b>" + _table(
            [(str(c), str(v)) for c, v in zip(cols, row, strict=True)
             if v is not None and v == v])
            for row in frame[cols].itertuples(index=False, name=None))
        layers.add(layer.name, _geojson(frame.geometry, frame.crs,
                                        ({"style": style, "tip": t} for t in tips)),
                   marker=bool(frame.geom_type.astype(str).str.contains("Point").any()))


def _strak(layers: _Layers) -> None:
    """The stråk's sections, in the widths of their classes, named in their tooltips."""
    scene = layers.scene
    lang = scene.language
    strak = scene.strak
    widths = {c.width_class: (c.width, c.colour, c.opacity) for c in scene.strak_classes}

    def props(row: Any) -> dict[str, Any]:
        width, colour, opacity = widths[int(row.width_class)]
        return {"style": {"color": colour, "weight": width, "opacity": opacity,
                          "lineCap": "round", "lineJoin": "round"},
                "tip": f"<b>{safe_text(row.name)}</b><br>"
                       f"{safe_text(format_number(float(row.flow), lang))} "
                       f"{safe_text(text('per_day', lang))}"}

    layer = scene.layer("strak")
    assert layer is not None
    layers.add(layer.name, _geojson(strak.geometry, strak.crs,
                                    (props(r) for r in strak.itertuples(index=False))),
               show=layer.visible)


def _regions(layers: _Layers) -> None:
    regions = layers.scene.image.regions
    assert regions is not None
    colour, width, dash = REGION_STYLE
    style = {"color": colour, "weight": width, "opacity": 0.85, "fill": False,
             "dashArray": dash}
    names = regions["name"] if "name" in regions else \
        pd.Series(regions.index, index=regions.index)
    layers.add(text("regions", layers.scene.language), _geojson(
        regions.geometry, regions.crs, ({"style": style, "tip": safe_text(n)} for n in names)))


def _links(layers: _Layers, key: str) -> None:
    """The links of the scene's layer ``key`` (``links`` or ``weak``), in their styles."""
    scene = layers.scene
    lang = scene.language
    styles = {s.key: s for s in scene.link_styles if s.layer == key}
    links = scene.links[scene.links["style"].isin(list(styles)).to_numpy()]
    places = scene.image.places
    names = pd.Series(places["name"].to_numpy(), index=places.index.astype(str))

    def props(row: Any) -> dict[str, Any]:
        s = styles[row.style]
        a, b = names.get(str(row.origin), row.origin), names.get(str(row.destination), "")
        total = format_number(float(row.total), lang)
        return {"style": {"color": s.colour, "weight": link_width(float(row.total),
                                                                  scene.max_flow),
                          "opacity": s.opacity, "dashArray": s.dash or None},
                "tip": f"<b>{safe_text(a)} – {safe_text(b)}</b><br>"
                       f"{safe_text(total)} {safe_text(text('per_day', lang))}<br>"
                       f"{safe_text(s.label)}"}

    layer = scene.layer(key)
    assert layer is not None
    layers.add(layer.name, _geojson(links.geometry, links.crs,
                                    (props(r) for r in links.itertuples(index=False))),
               show=layer.visible)


def _groups(layers: _Layers) -> None:
    """The joint designations: a broad band joining their places, under the circles."""
    import shapely

    scene = layers.scene
    places = scene.image.places
    pos = {str(k): i for i, k in enumerate(places.index)}
    pts = places.geometry.representative_point()
    styles = {s.key: s for s in scene.styles}
    for group in scene.groups:
        idx = [pos[m] for m in group.members]
        style = styles.get(group.role)
        radius = max(symbol_radius(float(places["population"].iloc[i])) for i in idx)
        line = shapely.LineString([pts.iloc[i] for i in idx])
        label = text("joint", scene.language).format(
            role=(style.label if style else group.role).lower())
        layers.add(f"{label}: {group.name}", _geojson([line], places.crs, [{
            "style": {"color": style.colour if style else "#a6a6a6",
                      "weight": 2 * radius + 2 * GROUP_PAD, "opacity": GROUP_OPACITY,
                      "lineCap": "round"},
            "tip": f"<b>{safe_text(group.name)}</b><br>{safe_text(label)}"}]))


def _place_popups(scene: Scene, places: pd.DataFrame) -> dict[str, str]:
    """Each place's popup: its name and the sentences the web map's popup says
    (:mod:`strukturbild.render.popups`), escaped."""
    from .popups import place_texts, popup_data

    data = popup_data(scene, places)
    names = [str(n) for n in places["name"]]
    index = {st.key: i for i, st in enumerate(scene.styles)}
    roles = [index.get(str(r), 0) for r in places["role"]]
    return {str(pid): f"<b>{safe_text(names[j])}</b><br>" + "<br>".join(
        safe_text(t) for t in place_texts(data, names, roles, j, scene.language))
        for j, pid in enumerate(places.index)}


def _places(layers: _Layers) -> None:
    """One layer per role with places, highest first; largest places drawn first."""
    scene = layers.scene
    places = scene.image.places.iloc[scene.order]
    roles = places["role"].astype(str)
    popups = _place_popups(scene, places)
    for s in scene.styles:
        pick = places[(roles == s.key).to_numpy()]
        if not len(pick):
            continue
        props = ({"style": {"radius": symbol_radius(float(p)), "color": "#ffffff",
                            "weight": 0.9, "fill": True, "fillColor": s.colour,
                            "fillOpacity": 0.92},
                  "tip": f"<b>{safe_text(row['name'])}</b><br>{safe_text(s.label)}",
                  "pop": popups[str(pid)]}
                 for p, (pid, row) in zip(pick["population"].fillna(0.0), pick.iterrows(),
                                          strict=True))
        pts = pick.geometry.where(pick.geom_type == "Point", pick.geometry.representative_point())
        layers.add(f"{s.label} ({format_number(len(pick), scene.language)})",
                   _geojson(pts, pick.crs, props), popup=True, marker=True)


def explore(image: StructureImage, m: folium.Map | None = None, **kwargs: Any) -> folium.Map:
    """The structure image's layers on the folium map ``m``, or on a new one.

    See :meth:`strukturbild.image.StructureImage.explore`. ``kwargs`` go to
    ``folium.Map`` when ``m`` is None (``tiles=None``: no tiles, the image's own base
    geography instead); the new map gets a layer control and is fitted to the image.

    Examples
    --------
    >>> from strukturbild import build, example_project
    >>> m = explore(build(example_project()), tiles=None)
    >>> sorted(c.layer_name for c in m._children.values() if hasattr(c, "layer_name")
    ...        and c.layer_name.startswith("Tillväxtmotor"))
    ['Tillväxtmotor (5)']
    """
    folium = _require_folium()
    new = m is None
    on_tiles = not new or kwargs.get("tiles", "OpenStreetMap") is not None
    options = image.map_options.replace(basemap="OpenStreetMap.Mapnik" if on_tiles else None,
                                        basemap_key=None)
    scene = scene_of(image, options, "web")
    if m is None:
        m = folium.Map(**{"control_scale": True, **kwargs})
        if not on_tiles:  # the sea, under the image's own land
            root: Any = m.get_root()
            root.header.add_child(folium.Element(_SEA_CSS))
    layers = _Layers(folium, m, scene)
    if scene.base is not None:
        _base(layers)
    if scene.layer("areas") is not None:
        _areas(layers, on_tiles)
    _own_layers(layers)
    if scene.layer("strak") is not None:
        _strak(layers)
    if scene.layer("regions") is not None:
        _regions(layers)
    for key in ("links", "weak"):
        if scene.layer(key) is not None:
            _links(layers, key)
    _groups(layers)
    _places(layers)
    if new:
        folium.LayerControl().add_to(m)
        x0, y0, x1, y1 = image.places.to_crs(_WGS84).total_bounds
        m.fit_bounds([[float(y0), float(x0)], [float(y1), float(x1)]])
    return m
