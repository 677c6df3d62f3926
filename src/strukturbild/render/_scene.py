"""The one scene every output draws: what a map of a structure image shows, computed once.

The web map (:mod:`strukturbild.render.web` and its script), the print map
(:mod:`strukturbild.render.static`), the QGIS styles of the GeoPackage
(:mod:`strukturbild.render.qml`) and folium (:mod:`strukturbild.render.explore`) are
thin over this module, in the way libpysal keeps ``Graph.explore`` thin over
``graph/_plotting.py``: :func:`scene_of` decides, and the renderers only draw.

It decides

- the roles' styles, which roles are named (``label_roles``), the label tiers and
  sizes of the web map;
- the links as drawn: which ones (weak local links are a layer of their own, off at
  start on the web, left out in print unless ``weak_links``; too many for a web map are
  thinned, :func:`map_links`), in which style (:class:`LinkStyle`: scope and class;
  the scope is the image's own ``regional`` and ``axis`` columns, made by
  :func:`strukturbild.analysis.links.link_scopes` when the image was built) and in
  which order (local under regional, weak under strong, small under large);
- the joint designations (their places along the band);
- the stråk (the links' flows routed on a network, :attr:`StructureImage.strak`) with
  their width classes; with stråk the links (spokes) are a layer off at start on the
  web and left out in print, unless ``spokes``;
- the areas as drawn (simplified together on the web) and the län borders, the
  base geography and the national borders;
- the layers, bottom to top, their names and whether they are on at start;
- the legend (:mod:`strukturbild.render.legend`, made from all of the above, so that
  every row matches something drawn) and the source line.

A new layer (stråk, context places, infrastructure) is added here once, with its
style, its place in :attr:`Scene.layers` and its legend rows; each renderer then draws
it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from ..config import MapOptions
from ._geometry import lan_borders, simplified
from .style import (
    STRAK_STYLE,
    RoleStyle,
    chain,
    format_number,
    labelled_roles,
    link_style,
    role_styles,
    source_line,
    strak_width,
    text,
)

if TYPE_CHECKING:
    import geopandas as gpd

    from ..image import StructureImage
    from .legend import LegendSection

__all__ = [
    "LINK_KEYS",
    "MAX_MAP_LINKS",
    "JointGroup",
    "LinkStyle",
    "Medium",
    "Scene",
    "SceneLayer",
    "StrakClass",
    "StrakLabel",
    "link_style_table",
    "map_links",
    "scene_of",
    "source_of",
    "strak_labels",
]

#: What the scene is for: the web map (and folium), the print map, the QGIS styles.
Medium = Literal["web", "print", "gpkg"]
#: The link styles, in the legend's order: (scope, class).
LINK_KEYS: tuple[tuple[str, str], ...] = (
    ("regional", "strong"), ("regional", "medium"), ("regional", "weak"),
    ("local", "strong"), ("local", "medium"), ("local", "weak"))
#: The most links a web map draws; beyond it, weak links below a round flow are left out.
MAX_MAP_LINKS = 4000
#: Flow thresholds tried for weak links, smallest first.
_ROUND_FLOWS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000)
#: Simplification tolerance of the web map's areas, regions and own layers, as a share
#: of the extent.
_SIMPLIFY_SHARE = 1 / 4000
_CLASS_RANK = {"weak": 0, "medium": 1, "strong": 2}
_METRIC_CRS = "EPSG:3006"


@dataclass(frozen=True)
class LinkStyle:
    """How the links of one scope and class are drawn, and what the legend says of them.

    ``layer`` is the map layer they are in: ``"links"``, or ``"weak"`` for weak local
    links (and weak regional ones that are no axis), a layer off at start.

    Examples
    --------
    >>> s = link_style_table("sv")[0]
    >>> s.key, s.category, s.label
    ('regional-strong', 'regional_strong', 'Regionalt samband, starkt')
    """

    scope: str
    link_class: str
    colour: str
    dash: str
    opacity: float
    label: str
    layer: str

    @property
    def key(self) -> str:
        """``scope-class``: the key of its legend row and of the print map's shapes."""
        return f"{self.scope}-{self.link_class}"

    @property
    def category(self) -> str:
        """``scope_class``: the QGIS category (:data:`~.qml.LINK_CATEGORY_EXPRESSION`)."""
        return f"{self.scope}_{self.link_class}"


def link_style_table(language: str) -> tuple[LinkStyle, ...]:
    """Every link style, in the legend's order (:data:`LINK_KEYS`).

    Strong and medium links differ by opacity, weak ones are dashed; regional links
    are drawn in their own colour. A weak regional link is drawn as one only as an
    axis (the ``axis`` column), so the regional weak style is the axes'.

    Examples
    --------
    >>> [(s.key, s.opacity, s.layer) for s in link_style_table("en")][-2:]
    [('local-medium', 0.5, 'links'), ('local-weak', 0.45, 'weak')]
    """
    out = []
    for scope, cls in LINK_KEYS:
        colour, dash, opacity = link_style(cls, scope == "regional")
        layer = "weak" if (scope, cls) == ("local", "weak") else "links"
        out.append(LinkStyle(scope, cls, colour, dash, opacity,
                             text(f"{scope}_{cls}", language), layer))
    return tuple(out)


@dataclass(frozen=True)
class SceneLayer:
    """A layer of the map, bottom to top: its key, its name, on at start or not."""

    key: str
    name: str
    visible: bool


@dataclass(frozen=True)
class JointGroup:
    """A joint designation: its name, its role and its places along the band."""

    name: str
    role: str
    members: tuple[str, ...]


@dataclass(frozen=True)
class StrakClass:
    """A width class of the stråk: its flows (``high`` None for the top class), its
    width in pixels, colour and opacity, and its legend text."""

    width_class: int
    low: float
    high: float | None
    width: float
    colour: str
    opacity: float
    label: str


@dataclass(frozen=True)
class StrakLabel:
    """A stråk's name and the points along it where the name may stand, best first:
    ``(x, y, width)``, in the stråk's CRS, with the band's width there in pixels."""

    strak_id: int
    name: str
    points: tuple[tuple[float, float, float], ...]


@dataclass(frozen=True)
class Scene:
    """What a map of a structure image draws (see the module docstring).

    Frames are the image's own, in its CRS; ``order`` and ``links`` are in drawing
    order. Per-role tuples (``label_tier``, ``label_level``) follow ``styles``.
    """

    image: StructureImage
    options: MapOptions
    medium: Medium
    styles: tuple[RoleStyle, ...]
    counts: Mapping[str, int]
    labelled: tuple[str, ...]
    label_tier: tuple[int, ...]
    label_level: tuple[int, ...]
    order: np.ndarray[Any, Any]
    links: Any
    link_styles: tuple[LinkStyle, ...]
    max_flow: float
    min_flow: float | None
    regional_roles: tuple[str, ...]
    groups: tuple[JointGroup, ...]
    areas: Any
    lan: Any
    tolerance: float
    base: Any
    national: bool
    on_tiles: bool
    layers: tuple[SceneLayer, ...]
    legend: tuple[LegendSection, ...]
    source: str
    strak: Any = None
    strak_classes: tuple[StrakClass, ...] = ()
    #: The context beyond the project as drawn (layer ``context``): places and ferry
    #: lines, each None when not drawn.
    context: Any = None
    ferries: Any = None

    @property
    def language(self) -> str:
        """The image's language."""
        return self.image.language

    def layer(self, key: str) -> SceneLayer | None:
        """The layer ``key``, or None when the scene has none."""
        return next((x for x in self.layers if x.key == key), None)

    def strak_class(self, width_class: int) -> StrakClass:
        """The drawn stråk class ``width_class`` (1: the thinnest)."""
        return next(c for c in self.strak_classes if c.width_class == width_class)

    def style_of(self, key: str) -> LinkStyle:
        """The drawn link style ``key`` (``"regional-strong"`` …)."""
        return next(s for s in self.link_styles if s.key == key)


# --------------------------------------------------------------------------- links


def map_links(links: gpd.GeoDataFrame, *, min_flow: float | None = None
              ) -> tuple[Any, float | None]:
    """The links a web map draws, and the flow from which weak links are drawn.

    Strong and medium links are always drawn. Weak links are drawn from ``min_flow``
    commuters (both directions together) up; with ``min_flow=None``, all of them when
    there are at most :data:`MAX_MAP_LINKS` links in all, else from the smallest
    1-2-5 flow that brings the count within it. The threshold is None when every
    link is drawn.

    Examples
    --------
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


def _flag(links: pd.DataFrame, column: str) -> np.ndarray[Any, Any]:
    """A boolean column of the links (all False where the image has none)."""
    if column not in links:
        return np.zeros(len(links), dtype=bool)
    out: np.ndarray[Any, Any] = links[column].fillna(False).astype(bool).to_numpy()
    return out


def _drawn_links(image: StructureImage, options: MapOptions, medium: Medium
                 ) -> tuple[Any, float | None]:
    """The links the map draws, with their style key, in drawing order; the web's
    weak-link threshold."""
    links = image.links
    ids = set(image.places.index.astype(str))
    inside = (links["origin"].astype(str).isin(ids) &
              links["destination"].astype(str).isin(ids)).to_numpy()
    links = links[inside]
    min_flow = None
    if medium == "web":
        links, min_flow = map_links(links, min_flow=options.min_link_flow)
    cls = links["link_class"].astype(str)
    weak = (cls == "weak").to_numpy()
    # regional: between the region's higher roles, and not weak unless an axis
    regional = _flag(links, "regional") & (~weak | _flag(links, "axis"))
    if medium == "print" and not options.weak_links:
        keep = ~weak | regional
        links, cls, regional = links[keep], cls[keep], regional[keep]
    scope = np.where(regional, "regional", "local")
    rank = cls.map(_CLASS_RANK).fillna(0).to_numpy()
    total = pd.to_numeric(links["total"], errors="coerce").fillna(0.0).to_numpy()
    drawn = links.assign(style=[f"{s}-{c}" for s, c in zip(scope, cls, strict=True)])
    order = np.lexsort((total, rank, regional))  # stable: ties keep the image's order
    return drawn.iloc[order], min_flow


def _regional_roles(image: StructureImage, styles: Sequence[RoleStyle]) -> tuple[str, ...]:
    """The roles the image's regional links join, highest first."""
    links = image.links
    if not len(links) or "regional" not in links:
        return ()
    pick = links[_flag(links, "regional")]
    role = image.places["role"].astype(str)
    ends = set(role.reindex(pick["origin"].astype(str))) | \
        set(role.reindex(pick["destination"].astype(str)))
    return tuple(s.key for s in styles if s.key in ends)


# --------------------------------------------------------------------------- places


def _role_styles(image: StructureImage, options: MapOptions
                 ) -> tuple[list[RoleStyle], list[str], set[str]]:
    """The roles' styles (the scheme's, or the roles found), the labelled ones, and
    the roles that have places."""
    present = {str(k) for k in image.places["role"].dropna()}
    pairs = [(r.key, r.label(image.language)) for r in image.roles] or \
        [(k, k) for k in sorted(present)]
    labelled = labelled_roles([k for k, _ in pairs], present, options.label_roles)
    return role_styles(pairs, labelled=labelled), labelled, present


def _label_tiers(styles: Sequence[RoleStyle], present: set[str], label_roles: int
                 ) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Per role: the web map's label tier (0 for the labelled roles, then one per lower
    role, shown as the map is zoomed in) and the size of its names (0 largest, 2)."""
    rank = {k: n for n, k in enumerate(s.key for s in styles if s.key in present)}
    tiers = tuple(max(0, rank.get(s.key, len(styles)) - label_roles + 1) for s in styles)
    levels = tuple(min(rank.get(s.key, 2), 2) for s in styles)
    return tiers, levels


def _place_order(places: pd.DataFrame) -> np.ndarray[Any, Any]:
    """Largest first (small ones are drawn on top); ties by id."""
    pop = pd.to_numeric(places["population"], errors="coerce").fillna(0.0)
    out: np.ndarray[Any, Any] = np.lexsort((places.index.astype(str).to_numpy(),
                                            -pop.to_numpy(dtype=float)))
    return out


def _metric_points(places: gpd.GeoDataFrame) -> np.ndarray[Any, Any]:
    """x, y of each place in a metric CRS (polygons by a point inside them)."""
    if places.crs is not None and not places.crs.is_projected:
        places = places.to_crs(_METRIC_CRS)
    geom = places.geometry
    pts = geom.where(geom.geom_type == "Point", geom.representative_point())
    return np.column_stack([np.asarray(pts.x, dtype=float), np.asarray(pts.y, dtype=float)])


def _groups(image: StructureImage) -> tuple[JointGroup, ...]:
    """The joint designations of two places or more, their places along the band."""
    places = image.places
    if "designation_group" not in places or places["designation_group"].isna().all():
        return ()
    group = places["designation_group"].to_numpy(dtype=object)
    xy = _metric_points(places)
    ids = places.index.astype(str).to_numpy()
    out = []
    for name in sorted({str(g) for g in group if g is not None and g == g}):
        idx = [i for i, g in enumerate(group) if g is not None and str(g) == name]
        if len(idx) < 2:
            continue
        path = [idx[k] for k in chain(xy[idx])]
        out.append(JointGroup(name, str(places["role"].iloc[idx[0]]),
                              tuple(str(ids[i]) for i in path)))
    return tuple(out)


# --------------------------------------------------------------------------- geography


def _tolerance(image: StructureImage, medium: Medium) -> float:
    """The web map simplifies by 1/4000 of the extent of places and areas; print: 0."""
    if medium != "web":
        return 0.0
    frames = [image.places.geometry]
    if image.areas is not None and len(image.areas):
        frames.append(image.areas.geometry)
    b = np.array([f.total_bounds for f in frames])
    extent = max(float(b[:, 2].max() - b[:, 0].min()), float(b[:, 3].max() - b[:, 1].min()))
    return extent * _SIMPLIFY_SHARE


def _areas(image: StructureImage, tolerance: float) -> tuple[Any, Any]:
    """The areas' polygons as drawn, and the län borders between them (or None)."""
    areas = image.areas
    if areas is None or not len(areas):
        return None, None
    geoms = simplified(areas.geometry.to_numpy(), tolerance)
    return geoms, lan_borders(list(areas.index), geoms)


# --------------------------------------------------------------------------- layers


def _strak(image: StructureImage) -> tuple[Any, tuple[StrakClass, ...]]:
    """The stråk's sections in drawing order (thinnest first), and the width classes
    drawn; (None, ()) without stråk."""
    strak = image.strak
    if strak is None or not len(strak):
        return None, ()
    colour, opacity = STRAK_STYLE
    lang = image.language
    n = int(strak["width_class"].max())
    out = []
    for c in sorted({int(v) for v in strak["width_class"]}):
        row = strak[strak["width_class"] == c].iloc[0]
        low = float(row["class_min"])
        high = None if c == n or pd.isna(row["class_max"]) else float(row["class_max"])
        label = text("strak_top", lang).format(low=format_number(low, lang)) \
            if high is None else text("strak_class", lang).format(
                low=format_number(low, lang), high=format_number(high, lang))
        out.append(StrakClass(c, low, high, strak_width(c, n), colour, opacity, label))
    order = np.lexsort((strak["section"].to_numpy(), strak["strak_id"].to_numpy(),
                        strak["width_class"].to_numpy()))
    return strak.iloc[order], tuple(out)


#: Where along a stråk its name is tried: every twentieth of its length, the points
#: farthest from the places first (the name stands between the towns it names).
_LABEL_STEPS = 20
_LABEL_POINTS = 6


def strak_labels(strak: Any, places_xy: np.ndarray[Any, Any], widths: Mapping[int, float],
                 skip: Sequence[str] = ()) -> tuple[StrakLabel, ...]:
    """The stråk's names, busiest stråk first, each with the points along it where a
    map may set it: every twentieth of its length (its longest run where it branches),
    those farthest from the places (``places_xy``, in the stråk's CRS) first, near
    the middle before the ends; at most six, none closer to a place than a third of
    the farthest. ``widths`` gives each width class's band width; a stråk named as a
    joint designation (``skip``: its band has the name already) is left out.

    Examples
    --------
    >>> import geopandas as gpd, numpy as np, shapely
    >>> strak = gpd.GeoDataFrame({"strak_id": [1], "name": ["A–B"], "width_class": [2]},
    ...                          geometry=[shapely.LineString([(0, 0), (100, 0)])])
    >>> (lab,) = strak_labels(strak, np.array([[0.0, 0.0], [100.0, 0.0]]), {2: 7.0})
    >>> lab.name, lab.points[0]
    ('A–B', (50.0, 0.0, 7.0))
    >>> [round(x, 6) for x, _, _ in lab.points]
    [50.0, 45.0, 55.0, 40.0, 60.0, 35.0]
    """
    import shapely

    out = []
    t = np.arange(1, _LABEL_STEPS) / _LABEL_STEPS
    for sid in sorted({int(v) for v in strak["strak_id"]}):
        rows = strak[(strak["strak_id"] == sid).to_numpy()]
        name = str(rows["name"].iloc[0])
        if name in skip:
            continue
        geoms = rows.geometry.to_numpy()
        merged = shapely.line_merge(shapely.union_all(geoms))
        line = max(getattr(merged, "geoms", [merged]), key=lambda g: g.length)
        if line.is_empty or line.length <= 0:
            continue
        pts = shapely.line_interpolate_point(line, t, normalized=True)
        xy = shapely.get_coordinates(pts)
        near = np.full(len(t), np.inf) if not len(places_xy) else np.sqrt(
            ((xy[:, None, :] - np.asarray(places_xy)[None, :, :]) ** 2).sum(axis=2)).min(axis=1)
        # the band's width at each point: its nearest section's class
        section = shapely.distance(pts[:, None], geoms[None, :]).argmin(axis=1)
        band = [float(widths.get(int(rows["width_class"].iloc[j]), 0.0)) for j in section]
        # round the distances so that points about as far from the places go by the middle
        far = np.round(near / max(float(near.max()), 1e-9), 1) if np.isfinite(near).all() \
            else np.ones(len(t))
        order = [i for i in np.lexsort((np.abs(t - 0.5), -far)) if far[i] >= 1 / 3]
        out.append(StrakLabel(sid, name, tuple(
            (float(xy[i, 0]), float(xy[i, 1]), band[i]) for i in order[:_LABEL_POINTS])))
    return tuple(out)


def _context(image: StructureImage, options: MapOptions) -> tuple[Any, Any]:
    """The context places and ferry lines the map draws (None for none)."""
    if not options.context:
        return None, None
    ctx = image.context if image.context is not None and len(image.context) else None
    ferries = image.ferries if image.ferries is not None and len(image.ferries) else None
    return ctx, ferries


def _layers(image: StructureImage, options: MapOptions, *, base: bool, areas: bool,
            styles: Sequence[LinkStyle], has_links: bool, context: bool = False,
            strak: bool = False) -> tuple[SceneLayer, ...]:
    """The layers, bottom to top: base, areas, own layers, context, stråk, regions,
    links, weak links, places. With stråk the links are off at start unless
    ``spokes``."""
    lang = image.language
    out = []
    if base:
        out.append(SceneLayer("base", text("background", lang), True))
    if areas:
        out.append(SceneLayer("areas", text("areas", lang), True))
    out.extend(SceneLayer(f"layer-{n}", layer.name, True)
               for n, layer in enumerate(image.layers))
    if context:
        out.append(SceneLayer("context", text("context", lang), True))
    if strak:
        out.append(SceneLayer("strak", text("strak", lang), True))
    if image.regions is not None and len(image.regions):
        out.append(SceneLayer("regions", text("regions", lang), True))
    spokes = options.spokes or not strak
    if has_links:
        out.append(SceneLayer("links", text("links", lang), spokes))
    if any(s.layer == "weak" for s in styles):
        out.append(SceneLayer("weak", text("weak_links", lang), options.weak_links))
    out.append(SceneLayer("places", text("places", lang), True))
    return tuple(out)


# --------------------------------------------------------------------------- the scene


def source_of(image: StructureImage, options: MapOptions, *, base: bool,
              context: Any = None) -> str:
    """The source line of ``image`` (:func:`~.style.source_line`): the project's
    ``source_note``, or its inputs' and designations' publishers; Natural Earth when
    the ``base`` is drawn, GeoNames when the ``context`` places drawn are theirs.

    Examples
    --------
    >>> from strukturbild import build, example_project
    >>> img = build(example_project())
    >>> source_of(img, img.map_options, base=False)
    'Källa: SCB (statistiska tätorter 2020, kommungränser, dagbefolkning 2024; CC0, fri \
med angiven källa), Region Skåne (Regionplan för Skåne 2022–2040); modellerade flöden'
    """
    geonames = context is not None and "source" in context and \
        bool((context["source"] == "GeoNames").any())
    return source_line(image.provenance.get("inputs") or {}, image.language,
                       source_note=options.source_note, modelled=image.modelled, base=base,
                       timestamp=options.timestamp,
                       designations=image.provenance.get("designation_sources") or (),
                       context=geonames)


def scene_of(image: StructureImage, options: MapOptions, medium: Medium) -> Scene:
    """The scene of ``image`` drawn with ``options`` for ``medium``.

    Examples
    --------
    >>> from strukturbild import build, example_project
    >>> img = build(example_project())
    >>> s = scene_of(img, img.map_options, "web")
    >>> s.labelled
    ('tillvaxtmotor', 'regional_karna', 'lokal_karna')
    >>> [x.key for x in s.layers]
    ['base', 'areas', 'context', 'strak', 'links', 'weak', 'places']
    >>> [x.key for x in s.layers if x.visible]
    ['base', 'areas', 'context', 'strak', 'places']
    >>> [x.key for x in s.link_styles]
    ['regional-strong', 'regional-medium', 'regional-weak', 'local-strong', \
'local-medium', 'local-weak']
    """
    from .legend import legend_sections

    lang = image.language
    styles, labelled, present = _role_styles(image, options)
    tiers, levels = _label_tiers(styles, present, options.label_roles)
    counts = {str(k): int(v) for k, v in
              image.places["role"].dropna().astype(str).value_counts().items()}
    strak, strak_classes = _strak(image)
    has_links = len(image.links) > 0 and "total" in image.links
    if medium == "print" and strak is not None and not options.spokes:
        has_links = False  # print draws the stråk, not the spokes
    links, min_flow = _drawn_links(image, options, medium) if has_links else \
        (image.links.iloc[:0].assign(style=[]), None)
    drawn = set(links["style"])
    link_styles = tuple(s for s in link_style_table(lang) if s.key in drawn)
    on_tiles = medium == "web" and options.basemap is not None
    base = image.base if not on_tiles and image.base is not None and len(image.base) \
        else None
    tolerance = _tolerance(image, medium)
    areas, lan = _areas(image, tolerance)
    context, ferries = _context(image, options)
    scene = Scene(
        image=image, options=options, medium=medium, styles=tuple(styles), counts=counts,
        labelled=tuple(labelled), label_tier=tiers, label_level=levels,
        order=_place_order(image.places), links=links, link_styles=link_styles,
        max_flow=float(image.links["total"].max()) if has_links else 0.0,
        min_flow=min_flow, regional_roles=_regional_roles(image, styles),
        groups=_groups(image), areas=areas, lan=lan, tolerance=tolerance, base=base,
        national=base is not None and bool((base["kind"] == "border").any()),
        on_tiles=on_tiles,
        layers=_layers(image, options, base=base is not None, areas=areas is not None,
                       styles=link_styles, has_links=has_links,
                       context=context is not None or ferries is not None,
                       strak=strak is not None),
        legend=(), strak=strak, strak_classes=strak_classes,
        source=source_of(image, options, base=base is not None, context=context),
        context=context, ferries=ferries,
    )
    return replace(scene, legend=tuple(legend_sections(scene)))
