"""Flows routed on a network, and the stråk (corridors) they make.

Every link's commuters (both directions) are put on the shortest path between its two
places on a network, and the flow on each network edge is added up (all-or-nothing
assignment: a link's flow takes one path, the quickest). The busiest chains of edges
are the region's **stråk**, each named by the labelled places it runs through
("Malmö–Lund–Eslöv–Höör").

The network, in order of preference:

- the project's infrastructure layers (``[[layers]]`` of kind ``infrastructure``:
  railways, roads; also those ``strukturbild fetch osm`` writes):
  :func:`infrastructure_network` nodes their lines into a graph
  (:func:`shapely.node`), gives each edge a speed from OpenStreetMap's ``railway`` and
  ``highway`` attributes where the layer has them (:data:`SPEEDS_KMH`), closes small
  gaps between pieces and joins each place to its nearest nodes by a connector;
- else a generated one, :func:`generated_network`: the Gabriel graph of the places
  (from :class:`scipy.spatial.Delaunay`), each edge kept only if it lies over land
  (the project's areas and the base geography's land), joined across water by the
  fixed links of :data:`strukturbild.analysis.land.FIXED_LINKS` (bridges, tunnels,
  ferries) that lie within the places' reach.

Costs are minutes: an edge's length at its speed, a ferry's waiting time
(``extra_km``, about a minute a kilometre) on top. :func:`route_flows` routes with
:func:`scipy.sparse.csgraph.dijkstra` (one run per origin, with predecessors), in
chunks of origins so that memory stays bounded; :func:`find_strak` makes the stråk of
the routed flows; :func:`corridors` does it all for a structure image's links.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ..config import StrakParams
from ..errors import ConfigError, InvalidValueError
from .land import FIXED_LINKS, FixedLink
from .links import higher_roles
from .places import place_coordinates

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    "SPEEDS_KMH",
    "STRAK_COLUMNS",
    "Corridors",
    "Network",
    "Routing",
    "Strak",
    "corridors",
    "find_strak",
    "generated_network",
    "infrastructure_network",
    "route_flows",
    "strak_width_classes",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
ObjArray = NDArray[np.object_]

#: Speeds (km/h) of an infrastructure layer's lines, from OpenStreetMap's attributes:
#: ``railway`` (any value but those of :data:`_NOT_RAIL`) and ``highway`` (by value);
#: a line without either attribute gets ``"default"``. Rail and motorways are the
#: fast links, as for commuters (Pågatåg, Öresundståg; E6, E22); the values are
#: typical travel speeds, stops and junctions included, not limits.
SPEEDS_KMH: Mapping[str, float] = {
    "rail": 90.0,
    "light_rail": 50.0,
    "narrow_gauge": 50.0,
    "subway": 40.0,
    "tram": 25.0,
    "motorway": 100.0,
    "trunk": 80.0,
    "primary": 65.0,
    "secondary": 55.0,
    "tertiary": 45.0,
    "link": 40.0,  # motorway_link, trunk_link …
    "road": 40.0,  # any other highway value
    "default": 60.0,  # a line without railway/highway attributes
    "generated": 60.0,  # an edge of the generated network: a minute a kilometre
    "ferry": 15.0,  # a ferry line of the layer (route = ferry): waiting included
    "connector": 30.0,  # a gap closed between two pieces of the network
    "access": 30.0,  # a place to its nearest nodes of the network
    "fixed": 60.0,  # a bridge, tunnel or ferry of the fixed links (plus extra_km)
}
_NOT_RAIL = frozenset({"", "abandoned", "disused", "razed", "dismantled", "proposed",
                       "construction", "platform", "station", "halt", "stop", "crossing",
                       "level_crossing", "signal", "switch", "buffer_stop", "turntable",
                       "tram_stop", "subway_entrance", "no", "none", "nan"})
#: Water an edge of the generated network may cross and still count as over land
#: (metres): rivers, narrow sounds, and the generalised coast of the land polygons.
WATER_TOLERANCE_M = 1000.0
#: Gaps between the pieces of an infrastructure layer that are closed (metres): a road
#: that ends near another (a junction through a smaller road that is not in the layer).
GAP_M = 1000.0
#: A place is joined to the nearest node of each piece of the network within this
#: many times its distance to the nearest node (at least :data:`CONNECT_MIN_M`).
CONNECT_FACTOR = 2.0
CONNECT_MIN_M = 2000.0
#: The kinds of line a place is joined to, each at its nearest point (the nearest
#: railway and the nearest road, say).
_ACCESS_GROUP = {"rail": "rail", "light_rail": "rail", "narrow_gauge": "rail",
                 "subway": "rail", "tram": "rail", "ferry": "ferry"}
#: A place farther than this from the network (metres) names only the stråk that end
#: at it, not those that pass where it is joined to the network.
NAME_REACH_M = 3000.0
#: The most places a stråk's name holds: its two ends and the most important between.
MAX_NAMES = 5
#: How far (metres) a fixed link's end may lie from the land, to which it is moved.
FIXED_LINK_SNAP_M = 5000.0
#: How far (km) a fixed link's ends may lie from the places' bounding box to be used.
FIXED_LINK_REACH_KM = 25.0


# --------------------------------------------------------------------------- network


@dataclass(frozen=True)
class Network:
    """An undirected network in a metric CRS.

    Attributes
    ----------
    xy
        Node coordinates (metres), shape ``(n, 2)``.
    u, v
        The two nodes of each edge.
    cost
        Travel time of each edge in minutes.
    length
        Length of each edge in metres.
    geometry
        Each edge's LineString, from ``u`` to ``v`` (None: the straight line).
    kind
        What each edge is: ``rail``, ``motorway``, … (:data:`SPEEDS_KMH`),
        ``connector``, ``generated``, or ``bridge``/``tunnel``/``ferry`` for a fixed link.
    place_node
        The node of each place, in the order of ``place_ids``.
    place_ids
        The places' ids.
    attach
        For each place, the network nodes its connectors reach (its own node on a
        generated network): the nodes a stråk passes to pass the place.
    source
        ``"infrastructure"`` or ``"generated"``.
    fixed_links
        Names of the fixed links the network uses.
    crs
        The CRS of the coordinates.

    Examples
    --------
    >>> net = generated_network(np.array([[0.0, 0.0], [10_000.0, 0.0]]), ["a", "b"])
    >>> net.n_nodes, net.n_edges, float(net.cost[0])
    (2, 1, 10.0)
    """

    xy: FloatArray
    u: IntArray
    v: IntArray
    cost: FloatArray
    length: FloatArray
    geometry: ObjArray
    kind: ObjArray
    place_node: IntArray
    place_ids: tuple[str, ...]
    attach: tuple[tuple[int, ...], ...]
    source: Literal["infrastructure", "generated"]
    fixed_links: tuple[str, ...] = ()
    crs: Any = None

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.xy)

    @property
    def n_edges(self) -> int:
        """Number of edges."""
        return len(self.u)

    def edge_line(self, e: int) -> Any:
        """The LineString of edge ``e``, from ``u`` to ``v``."""
        import shapely

        g = self.geometry[e]
        if g is None:
            return shapely.LineString([self.xy[self.u[e]], self.xy[self.v[e]]])
        return g


def _lines_of(xy: FloatArray, u: IntArray, v: IntArray) -> ObjArray:
    import shapely

    if not len(u):
        return np.empty(0, dtype=object)
    out: ObjArray = np.asarray(shapely.linestrings(np.stack([xy[u], xy[v]], axis=1)),
                               dtype=object)
    return out


def _fixed_ends(links: Sequence[FixedLink], crs: Any) -> FloatArray:
    """The two ends of each fixed link in ``crs`` (metres), shape ``(k, 2, 2)``."""
    if not links:
        return np.empty((0, 2, 2))
    from pyproj import Transformer

    to = Transformer.from_crs(4326, crs if crs is not None else 3006, always_xy=True)
    lon = np.array([[lk.a[0], lk.b[0]] for lk in links])
    lat = np.array([[lk.a[1], lk.b[1]] for lk in links])
    x, y = to.transform(lon, lat)
    return np.stack([np.asarray(x, dtype=float), np.asarray(y, dtype=float)], axis=2)


def _links_in_reach(xy: FloatArray, links: Sequence[FixedLink], crs: Any
                    ) -> tuple[list[FixedLink], FloatArray]:
    """The fixed links with both ends within :data:`FIXED_LINK_REACH_KM` of the places'
    bounding box, and their ends."""
    ends = _fixed_ends(links, crs)
    if not len(ends) or not len(xy):
        return [], np.empty((0, 2, 2))
    pad = FIXED_LINK_REACH_KM * 1000.0
    lo, hi = xy.min(axis=0) - pad, xy.max(axis=0) + pad
    inside = np.all((ends >= lo) & (ends <= hi), axis=(1, 2))
    return [lk for lk, ok in zip(links, inside, strict=True) if ok], ends[inside]


def _unique_points(xy: FloatArray) -> tuple[FloatArray, IntArray]:
    """The distinct points (to 0.1 m) in the order they first come, and the index of
    each point among them."""
    _, first, inv = np.unique(np.round(xy, 1), axis=0, return_index=True,
                              return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty(len(order), dtype=np.intp)
    rank[order] = np.arange(len(order))
    return xy[first[order]], rank[inv.ravel()]


def _snap_ends(links: list[FixedLink], ends: FloatArray, land: Any
               ) -> tuple[list[FixedLink], FloatArray]:
    """The fixed links whose two ends lie within :data:`FIXED_LINK_SNAP_M` of the land,
    each end moved to the nearest point of the land (the table gives them to about
    0.01°, and generalised land polygons leave a shore up to a kilometre or two off)."""
    import shapely

    pts = shapely.points(ends.reshape(-1, 2))
    near = shapely.get_coordinates(shapely.get_point(shapely.shortest_line(pts, land), 1))
    dist = np.asarray(shapely.distance(pts, land)).reshape(-1, 2)
    ok = dist.max(axis=1) <= FIXED_LINK_SNAP_M
    return [lk for lk, o in zip(links, ok, strict=True) if o], near.reshape(-1, 2, 2)[ok]


def _delaunay_edges(points: FloatArray) -> tuple[IntArray, NDArray[np.bool_]]:
    """The edges ``(i, j)``, ``i < j``, of the Delaunay triangulation of ``points``, and
    which of them are edges of the Gabriel graph.

    A Delaunay edge is a Gabriel edge when the angle opposite it is acute in both of
    its triangles (no other point lies in the circle with the edge as diameter).
    Fewer than three points, or all on a line: the points in a chain along the line.
    """
    from scipy.spatial import Delaunay, QhullError

    n = len(points)
    if n < 2:
        return np.empty((0, 2), dtype=np.intp), np.empty(0, dtype=bool)
    try:
        if n < 3:
            raise ValueError("two points")
        tri = Delaunay(points)
    except (QhullError, ValueError):
        axis = points - points.mean(axis=0)
        direction = np.linalg.svd(axis, full_matrices=False)[2][0]
        order = np.argsort(axis @ direction, kind="stable")
        pairs = np.sort(np.column_stack([order[:-1], order[1:]]), axis=1)
        return np.asarray(pairs, dtype=np.intp), np.ones(len(pairs), dtype=bool)
    s = tri.simplices
    # each triangle's three edges, with the vertex opposite each
    a = np.concatenate([s[:, 1], s[:, 2], s[:, 0]])
    b = np.concatenate([s[:, 2], s[:, 0], s[:, 1]])
    c = np.concatenate([s[:, 0], s[:, 1], s[:, 2]])
    dot = np.einsum("ij,ij->i", points[a] - points[c], points[b] - points[c])
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    key = lo.astype(np.int64) * n + hi
    keys, inv = np.unique(key, return_inverse=True)
    obtuse = np.zeros(len(keys), dtype=bool)
    np.logical_or.at(obtuse, inv, dot <= 0.0)
    return np.column_stack([keys // n, keys % n]).astype(np.intp), ~obtuse


def _gabriel_edges(points: FloatArray) -> IntArray:
    """The edges ``(i, j)``, ``i < j``, of the Gabriel graph of ``points``.

    Examples
    --------
    >>> _gabriel_edges(np.array([[0.0, 0.0], [2.0, 0.0], [1.0, 0.2]])).tolist()
    [[0, 2], [1, 2]]
    """
    pairs, gabriel = _delaunay_edges(points)
    return pairs[gabriel]


def _join_pieces(n: int, u: IntArray, v: IntArray, cand: IntArray, length: FloatArray
                 ) -> IntArray:
    """Of the candidate edges, the shortest that join the graph's components (Kruskal's
    rule on the components): the indices of those to add."""
    label = _components(n, u, v)
    parent = list(range(int(label.max()) + 1 if n else 0))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    out = []
    for k in np.argsort(length, kind="stable"):
        a, b = find(int(label[cand[k, 0]])), find(int(label[cand[k, 1]]))
        if a != b:
            parent[max(a, b)] = min(a, b)
            out.append(int(k))
    return np.asarray(sorted(out), dtype=np.intp)


def _land_pieces(land: Any, points: FloatArray, reach_m: float) -> IntArray:
    """The piece of land (a polygon of ``land``) each point lies on, -1 for none.

    A point within a piece's outline lies on it, also in one of its holes (a town on a
    lake the polygons leave out); the innermost piece where outlines nest (an island in
    a lake). Other points take the nearest piece within ``reach_m``.
    """
    import shapely

    parts: ObjArray = np.asarray(shapely.get_parts(land), dtype=object)
    shells: ObjArray = np.asarray(shapely.polygons(shapely.get_exterior_ring(parts)),
                                  dtype=object)
    out = np.full(len(points), -1, dtype=np.intp)
    if not len(points):
        return out
    # each outline against the points in its bounding box, prepared: a few large
    # outlines (the mainland) hold most points
    pts: ObjArray = np.asarray(shapely.points(points), dtype=object)
    shell_of, point = shapely.STRtree(pts).query(shells)
    area = shapely.area(shells)
    best = np.full(len(points), np.inf)
    for k in np.unique(shell_of):
        cand = point[shell_of == k]
        shapely.prepare(shells[k])
        inside = cand[shapely.contains_xy(shells[k], points[cand, 0], points[cand, 1])]
        smaller = area[k] < best[inside]  # the innermost outline where they nest
        out[inside[smaller]] = k
        best[inside[smaller]] = area[k]
    rest = np.flatnonzero(out < 0)
    if len(rest):
        got, near = shapely.STRtree(parts).query_nearest(pts[rest], max_distance=reach_m,
                                                         all_matches=False)
        out[rest[got]] = near
    return out


def _over_land(lines: ObjArray, land: Any, tolerance_m: float,
               same_piece: NDArray[np.bool_] | None = None) -> NDArray[np.bool_]:
    """Whether each line lies over ``land``: it crosses at most ``tolerance_m`` of
    water, or (``same_piece``: both ends on the same piece of land) at most half its
    length of water, a shortcut across a bay that the roads go round."""
    import shapely

    if land is None:
        return np.ones(len(lines), dtype=bool)
    shapely.prepare(land)
    ok: NDArray[np.bool_] = np.asarray(shapely.covers(land, lines), dtype=bool)
    rest = np.flatnonzero(~ok)
    if len(rest):
        wet = shapely.length(shapely.difference(lines[rest], land))
        ok[rest] = wet <= tolerance_m
        if same_piece is not None:
            bay = same_piece[rest] & (wet <= 0.5 * shapely.length(lines[rest]))
            ok[rest] |= bay
    return ok


def _land_union(land: Any) -> Any:
    """One (multi)polygon of the land given (geometries, a GeoSeries, or one geometry)."""
    import shapely

    if land is None:
        return None
    if isinstance(land, shapely.Geometry):
        return shapely.make_valid(land)
    geoms = np.asarray(getattr(land, "geometry", land), dtype=object).ravel()
    geoms = geoms[[g is not None and not g.is_empty for g in geoms]]
    if not len(geoms):
        return None
    return shapely.union_all(shapely.make_valid(geoms))


def generated_network(
    xy: FloatArray,
    place_ids: Sequence[str],
    *,
    land: Any = None,
    crs: Any = None,
    fixed_links: Sequence[FixedLink] = FIXED_LINKS,
    tolerance_m: float = WATER_TOLERANCE_M,
) -> Network:
    """A network of the places: their Gabriel graph over land, with the fixed links.

    Parameters
    ----------
    xy
        The places' coordinates (metres, a metric CRS), shape ``(n, 2)``.
    place_ids
        Their ids.
    land
        The land (polygons: the project's areas and the base geography's land): an
        edge is kept only where it lies over it, but for ``tolerance_m`` of water.
        None keeps every edge (no fixed links are used then).
    crs
        The CRS of ``xy`` (to place the fixed links); None: EPSG:3006.
    fixed_links
        Bridges, tunnels and ferries (:data:`~strukturbild.analysis.land.FIXED_LINKS`):
        those whose two ends lie within :data:`FIXED_LINK_REACH_KM` of the places'
        bounding box become nodes of the graph, joined by an edge of their own (cost:
        the crossing at :data:`SPEEDS_KMH` ``fixed`` plus ``extra_km`` minutes).
    tolerance_m
        Water an edge may cross (rivers, the generalised coast).

    Returns
    -------
    Network
        Nodes: the places (places at the same point share one), then the fixed links'
        ends; costs in minutes (a minute a kilometre).

    Examples
    --------
    Four places on a square: the Gabriel graph is its four sides (the diagonals are
    not Gabriel edges).

    >>> sq = np.array([[0.0, 0.0], [1000.0, 0.0], [1000.0, 1000.0], [0.0, 1000.0]])
    >>> net = generated_network(sq, ["a", "b", "c", "d"])
    >>> sorted(zip(net.u.tolist(), net.v.tolist()))
    [(0, 1), (0, 3), (1, 2), (2, 3)]
    """
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    ids = tuple(str(i) for i in place_ids)
    if len(ids) != len(xy):
        raise InvalidValueError(f"generated_network: {len(xy)} points but {len(ids)} ids")
    land_geom = _land_union(land)
    nodes, place_node = _unique_points(xy)
    links, ends = _links_in_reach(xy, list(fixed_links) if land_geom is not None else [], crs)
    if len(links):
        links, ends = _snap_ends(links, ends, land_geom)
    n_places = len(nodes)
    while True:
        # a fixed link whose ends reach no edge over land is left out, and the graph
        # made again without its ends
        points = np.vstack([nodes, ends.reshape(-1, 2)]) if len(ends) else nodes
        pairs, gabriel = _delaunay_edges(points)
        fu = n_places + 2 * np.arange(len(links), dtype=np.intp)
        fv = fu + 1
        if len(pairs) and len(links):  # a link's ends are joined by the link itself
            own = (pairs[:, 0] >= n_places) & (pairs[:, 1] == pairs[:, 0] + 1) & \
                ((pairs[:, 0] - n_places) % 2 == 0)
            pairs, gabriel = pairs[~own], gabriel[~own]
        u, v = pairs[gabriel, 0].astype(np.intp), pairs[gabriel, 1].astype(np.intp)
        lines = _lines_of(points, u, v)
        same = None
        if land_geom is not None:
            piece = _land_pieces(land_geom, points, tolerance_m)
            same = (piece[u] == piece[v]) & (piece[u] >= 0)
        keep = _over_land(lines, land_geom, tolerance_m, same)
        u, v, lines = u[keep], v[keep], lines[keep]
        if land_geom is not None:
            # places the land test cut off on their own piece of land (a town on a bay
            # or between lakes): the shortest Delaunay edges on that piece join them
            a, b = pairs[:, 0], pairs[:, 1]
            on_one = (piece[a] == piece[b]) & (piece[a] >= 0) & (a < n_places) & \
                (b < n_places)
            cand = pairs[on_one]
            if len(cand):
                add = _join_pieces(len(points), u, v, cand,
                                   np.hypot(*(points[cand[:, 0]] - points[cand[:, 1]]).T))
                u = np.concatenate([u, cand[add, 0]]).astype(np.intp)
                v = np.concatenate([v, cand[add, 1]]).astype(np.intp)
                lines = np.concatenate([lines, _lines_of(points, cand[add, 0],
                                                         cand[add, 1])])
        degree = np.bincount(np.concatenate([u, v]), minlength=len(points))
        ok = (degree[fu] > 0) & (degree[fv] > 0)
        if ok.all():
            break
        links = [lk for lk, o in zip(links, ok, strict=True) if o]
        ends = ends[ok]
    length = np.hypot(*(points[u] - points[v]).T)
    cost = length / 1000.0 * 60.0 / SPEEDS_KMH["generated"]
    kinds = np.full(len(u), "generated", dtype=object)
    if links:
        flen = np.hypot(*(points[fu] - points[fv]).T)
        fcost = flen / 1000.0 * 60.0 / SPEEDS_KMH["fixed"] + \
            np.array([lk.extra_km for lk in links])
        u = np.concatenate([u, fu])
        v = np.concatenate([v, fv])
        length = np.concatenate([length, flen])
        cost = np.concatenate([cost, fcost])
        kinds = np.concatenate([kinds, np.array([lk.kind for lk in links], dtype=object)])
        lines = np.concatenate([lines, _lines_of(points, fu, fv)])
    used = [lk.name for lk in links]
    return Network(xy=points, u=u, v=v, cost=np.asarray(cost, dtype=float),
                   length=np.asarray(length, dtype=float), geometry=np.asarray(lines,
                                                                              dtype=object),
                   kind=np.asarray(kinds, dtype=object), place_node=place_node,
                   place_ids=ids, attach=tuple((int(n),) for n in place_node),
                   source="generated", fixed_links=tuple(used), crs=crs)


def _speed_of(frame: gpd.GeoDataFrame) -> tuple[FloatArray, ObjArray]:
    """Each line's speed (km/h) and kind from its ``railway``, ``highway`` and
    ``route`` attributes (the fastest where it has several)."""
    n = len(frame)
    speed = np.full(n, SPEEDS_KMH["default"])
    kind = np.full(n, "default", dtype=object)
    found = np.zeros(n, dtype=bool)
    cols = {str(c).lower(): c for c in frame.columns} if hasattr(frame, "columns") else {}

    def values(name: str) -> list[str]:
        if name not in cols:
            return [""] * n
        return ["" if v is None or (isinstance(v, float) and math.isnan(v))
                else str(v).strip().lower() for v in frame[cols[name]].astype(object)]

    for i, (hw, rw, rt) in enumerate(zip(values("highway"), values("railway"),
                                         values("route"), strict=True)):
        options: list[str] = []
        if hw and hw not in _NOT_RAIL:
            options.append("link" if hw.endswith("_link") else hw if hw in SPEEDS_KMH
                           and hw in ("motorway", "trunk", "primary", "secondary",
                                      "tertiary") else "road")
        if rw and rw not in _NOT_RAIL:
            options.append(rw if rw in ("light_rail", "narrow_gauge", "subway", "tram")
                           else "rail")
        if rt == "ferry":
            options.append("ferry")
        if options:
            best = max(options, key=lambda k: SPEEDS_KMH[k])
            speed[i], kind[i], found[i] = SPEEDS_KMH[best], best, True
    return speed, kind


def _components(n: int, u: IntArray, v: IntArray) -> IntArray:
    from scipy import sparse
    from scipy.sparse.csgraph import connected_components

    g = sparse.coo_matrix((np.ones(len(u)), (u, v)), shape=(n, n))
    labels: IntArray = connected_components(g, directed=False)[1]
    return labels


def _noded(lines: ObjArray) -> tuple[ObjArray, float]:
    """The lines cut where they cross or touch: :func:`shapely.node`, or, where GEOS's
    noding does not converge (OpenStreetMap's many nearly touching ways can make it
    fail), a union of the lines snapped to a grid of 1 cm, then 10 cm, then 1 m (GEOS's
    snap-rounding overlay, which always nodes). Returns the pieces and how far (metres)
    a piece may lie from the line it came from."""
    import shapely

    tolerance = 0.01
    try:
        out = shapely.get_parts(shapely.node(shapely.multilinestrings(lines)))
    except shapely.errors.GEOSException:
        for grid in (0.01, 0.1, 1.0):
            try:
                out = shapely.get_parts(shapely.union_all(lines, grid_size=grid))
                tolerance = grid
                break
            except shapely.errors.GEOSException:
                continue
        else:
            raise
        out = out[np.isin(shapely.get_type_id(out), (1, 2))]  # lines only
    result: ObjArray = np.asarray(out[shapely.length(out) > 0], dtype=object)
    return result, tolerance


def _access_segments(flat: ObjArray, kinds: ObjArray, xy: FloatArray
                     ) -> tuple[ObjArray, IntArray]:
    """Segments from each place to the nearest point of the nearest line, and of the
    nearest line of each other kind (rail, road, ferry) within :data:`CONNECT_FACTOR` times
    that distance (at least :data:`CONNECT_MIN_M`), each 1 m beyond the line so that
    noding splits the line there; and the place of each segment."""
    import shapely

    pts: ObjArray = np.asarray(shapely.points(xy), dtype=object)
    segs: list[Any] = []
    owner: list[int] = []
    tree = shapely.STRtree(flat)
    near, first = tree.query_nearest(pts, return_distance=True, all_matches=False)
    nearest = np.full(len(xy), -1, dtype=np.intp)
    reach = np.full(len(xy), CONNECT_MIN_M)
    nearest[near[0]] = near[1]
    reach[near[0]] = np.maximum(first * CONNECT_FACTOR, CONNECT_MIN_M)
    pairs = {(int(i), int(j)) for i, j in zip(near[0], near[1], strict=True)}
    group = np.array([_ACCESS_GROUP.get(str(k), "road") for k in kinds], dtype=object)
    for kind in sorted(set(group)):
        sub = np.flatnonzero(group == kind)
        at, d = shapely.STRtree(flat[sub]).query_nearest(pts, return_distance=True,
                                                        all_matches=False)
        ok = d <= reach[at[0]]
        pairs |= {(int(i), int(sub[j])) for i, j in zip(at[0][ok], at[1][ok], strict=True)}
    for i, j in sorted(pairs):
        line = flat[j]
        q = np.asarray(shapely.get_coordinates(
            shapely.line_interpolate_point(line, shapely.line_locate_point(line, pts[i]))))[0]
        p = xy[i]
        d = q - p
        n = float(np.hypot(*d))
        if n < 0.01:  # on the line: cross it at right angles
            ab = shapely.get_coordinates(line)
            k = int(np.argmin(np.hypot(*(ab - q).T)))
            t = ab[min(k + 1, len(ab) - 1)] - ab[max(k - 1, 0)]
            t = t / max(float(np.hypot(*t)), 1e-9)
            a, b = q - np.array([-t[1], t[0]]), q + np.array([-t[1], t[0]])
            segs.append(shapely.LineString([p, a]))
            segs.append(shapely.LineString([a, b]))
            owner.extend([i, i])
            continue
        segs.append(shapely.LineString([p, q + d / n * 1.0]))
        owner.append(i)
    return np.asarray(segs, dtype=object), np.asarray(owner, dtype=np.intp)


def infrastructure_network(
    layers: Iterable[Any],
    xy: FloatArray,
    place_ids: Sequence[str],
    *,
    crs: Any = None,
    fixed_links: Sequence[FixedLink] = FIXED_LINKS,
    gap_m: float = GAP_M,
) -> Network:
    """A network from line layers (railways, roads), with the places joined to it.

    Parameters
    ----------
    layers
        GeoDataFrames (or GeoSeries) of lines in the places' CRS; polygons and points
        are ignored. OpenStreetMap's ``railway``, ``highway`` and ``route`` (``ferry``)
        columns set each line's speed (:data:`SPEEDS_KMH`); other lines get the
        default speed.
    xy, place_ids
        The places (metres) and their ids.
    crs
        The CRS (to place the fixed links); None: EPSG:3006.
    fixed_links
        Bridges, tunnels and ferries: those within reach whose two ends lie within
        5 km of the network join the nodes nearest their ends (a ferry that the
        layers lack, say).
    gap_m
        A loose end is joined to the nearest node of another piece of the network
        within this distance (a main road that ends at a smaller one the layer lacks).

    Returns
    -------
    Network
        The lines noded where they cross or touch (:func:`shapely.node`), each piece an
        edge; each place joined (``access``) to the nearest point of the nearest line,
        and of the nearest line of each other kind within twice that distance, the
        line split there.

    Examples
    --------
    A railway and a road that cross; a place beside the railway near each end.

    >>> import geopandas as gpd, shapely
    >>> lines = gpd.GeoDataFrame({"railway": ["rail", None]}, geometry=[
    ...     shapely.LineString([(0, 0), (20_000, 0)]),
    ...     shapely.LineString([(10_000, -5_000), (10_000, 5_000)])])
    >>> net = infrastructure_network([lines], np.array([[1000.0, 500.0], [19_000.0, 500.0]]),
    ...                              ["a", "b"])
    >>> sorted(set(net.kind.tolist()))
    ['access', 'default', 'rail']
    >>> r = route_flows(net, [0], [1], [60.0])
    >>> sorted(set(net.kind[r.total > 0].tolist())), round(float(r.cost[0]), 1)
    (['access', 'rail'], 14.0)
    """
    import shapely
    from scipy.spatial import cKDTree

    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    ids = tuple(str(i) for i in place_ids)
    geoms: list[Any] = []
    speeds: list[FloatArray] = []
    kinds0: list[ObjArray] = []
    for frame in layers:
        gs = getattr(frame, "geometry", frame)
        line = np.asarray(gs.geom_type.astype(str).str.contains("LineString").to_numpy(),
                          dtype=bool)
        if not line.any():
            continue
        geoms.append(np.asarray(gs.to_numpy(), dtype=object)[line])
        sp, kd = _speed_of(frame[line] if hasattr(frame, "columns") else gs[line])
        speeds.append(sp)
        kinds0.append(kd)
    if not geoms:
        raise InvalidValueError("infrastructure_network: the layers hold no lines")
    flat, which = shapely.get_parts(np.concatenate(geoms), return_index=True)
    flat = np.asarray(shapely.force_2d(flat), dtype=object)
    keep = ~shapely.is_empty(flat) & (shapely.length(flat) > 0)
    flat, which = flat[keep], which[keep]
    speed0, kind0 = np.concatenate(speeds)[which], np.concatenate(kinds0)[which]
    place_pts, place_of = _unique_points(xy)
    access, owner = _access_segments(flat, kind0, place_pts)
    every = np.concatenate([flat, access])
    speed_all = np.concatenate([speed0, np.full(len(access), SPEEDS_KMH["access"])])
    kind_all = np.concatenate([kind0, np.full(len(access), "access", dtype=object)])
    noded, tolerance = _noded(every)
    # each piece's speed and kind: those of the fastest line it lies on (an access
    # segment's where it lies on one: the piece from the place to the line)
    mid = shapely.line_interpolate_point(noded, 0.5, normalized=True)
    hit_piece, hit_line = shapely.STRtree(every).query(mid, predicate="dwithin",
                                                        distance=tolerance)
    rank = np.where(kind_all[hit_line] == "access", np.inf, speed_all[hit_line])
    order = np.lexsort((-rank, hit_piece))
    hit_piece, hit_line = hit_piece[order], hit_line[order]
    first_hit = np.ones(len(hit_piece), dtype=bool)
    first_hit[1:] = hit_piece[1:] != hit_piece[:-1]
    speed = np.full(len(noded), SPEEDS_KMH["default"])
    kinds = np.full(len(noded), "default", dtype=object)
    speed[hit_piece[first_hit]] = speed_all[hit_line[first_hit]]
    kinds[hit_piece[first_hit]] = kind_all[hit_line[first_hit]]
    # the place each access piece joins to the network
    piece_owner = np.full(len(noded), -1, dtype=np.intp)
    acc = hit_line[first_hit] >= len(flat)
    piece_owner[hit_piece[first_hit][acc]] = owner[hit_line[first_hit][acc] - len(flat)]
    coords, at = shapely.get_coordinates(noded, return_index=True)
    first = np.searchsorted(at, np.arange(len(noded)))
    last = first + shapely.get_num_coordinates(noded) - 1
    ends = np.round(np.vstack([coords[first], coords[last]]), 2)
    nodes, inv = np.unique(np.vstack([np.round(place_pts, 2), ends]), axis=0,
                           return_inverse=True)
    inv = inv.ravel()
    place_node = inv[: len(place_pts)].astype(np.intp)
    inv = inv[len(place_pts):]
    u, v = inv[: len(noded)].astype(np.intp), inv[len(noded):].astype(np.intp)
    loop = u == v
    u, v, noded, speed, kinds = u[~loop], v[~loop], noded[~loop], speed[~loop], kinds[~loop]
    piece_owner = piece_owner[~loop]
    length = shapely.length(noded)
    edges: list[tuple[IntArray, IntArray, FloatArray, FloatArray, ObjArray, ObjArray]] = [
        (u, v, np.asarray(length / 1000.0 * 60.0 / speed, dtype=float),
         np.asarray(length, dtype=float), np.asarray(noded, dtype=object), kinds)]
    n = len(nodes)

    def add(a: IntArray, b: IntArray, kind: str | ObjArray,
            extra: FloatArray | None = None, speed_kmh: float | None = None) -> None:
        d = np.hypot(*(nodes[a] - nodes[b]).T) if len(a) else np.empty(0)
        kmh = speed_kmh if speed_kmh is not None else SPEEDS_KMH[str(kind)]
        c = d / 1000.0 * 60.0 / kmh + (extra if extra is not None else 0.0)
        k = np.full(len(a), kind, dtype=object) if isinstance(kind, str) else kind
        edges.append((a, b, c, d, _lines_of(nodes, a, b), k))

    # close small gaps: a loose end of a line (not of an access stub) to the nearest
    # node of another piece of the network
    comp = _components(n, u, v)
    net_edge = kinds != "access"
    degree = np.bincount(np.concatenate([u[net_edge], v[net_edge]]), minlength=n)
    all_degree = np.bincount(np.concatenate([u, v]), minlength=n)
    on_net = np.flatnonzero(degree > 0)
    loose = np.flatnonzero((degree == 1) & (all_degree == 1))
    if len(loose) and gap_m > 0 and len(on_net) > 1:
        tree = cKDTree(nodes[on_net])
        k = min(16, len(on_net))
        dist, near = tree.query(nodes[loose], k=k, distance_upper_bound=gap_m)
        dist, near = dist.reshape(len(loose), k), near.reshape(len(loose), k)
        valid = near < len(on_net)
        target = on_net[np.minimum(near, len(on_net) - 1)]
        other = valid & (comp[target] != comp[loose][:, None])
        has = other.any(axis=1)
        pick = np.argmax(other, axis=1)
        pairs = np.unique(np.sort(np.column_stack([loose[has], target[has, pick[has]]]),
                                  axis=1), axis=0)
        if len(pairs):
            add(pairs[:, 0].astype(np.intp), pairs[:, 1].astype(np.intp), "connector")
    # fixed links (a ferry the layers lack) between the nodes nearest their ends
    links, fends = _links_in_reach(xy, list(fixed_links), crs)
    used: list[str] = []
    if links and len(on_net):
        d, at2 = cKDTree(nodes[on_net]).query(fends.reshape(-1, 2))
        d, at2 = d.reshape(-1, 2), on_net[at2.reshape(-1, 2)]
        ok = (d.max(axis=1) <= 5000.0) & (at2[:, 0] != at2[:, 1])
        if ok.any():
            chosen = [lk for lk, o in zip(links, ok, strict=True) if o]
            add(at2[ok, 0].astype(np.intp), at2[ok, 1].astype(np.intp),
                np.array([lk.kind for lk in chosen], dtype=object),
                extra=np.array([lk.extra_km for lk in chosen]), speed_kmh=SPEEDS_KMH["fixed"])
            used = [lk.name for lk in chosen]
    # where each place meets the network: the network's nodes on its access pieces
    attach: dict[int, list[int]] = {int(p): [int(p)] for p in place_node}
    for e in np.flatnonzero(piece_owner >= 0):
        p = int(place_node[piece_owner[e]])
        for x in (int(u[e]), int(v[e])):
            if degree[x] > 0 and x not in attach[p]:
                attach[p].append(x)
    return Network(xy=nodes,
                   u=np.concatenate([e[0] for e in edges]).astype(np.intp),
                   v=np.concatenate([e[1] for e in edges]).astype(np.intp),
                   cost=np.concatenate([e[2] for e in edges]).astype(float),
                   length=np.concatenate([e[3] for e in edges]).astype(float),
                   geometry=np.concatenate([e[4] for e in edges]).astype(object),
                   kind=np.concatenate([e[5] for e in edges]).astype(object),
                   place_node=place_node[place_of], place_ids=ids,
                   attach=tuple(tuple(attach[int(p)]) for p in place_node[place_of]),
                   source="infrastructure", fixed_links=tuple(used), crs=crs)


# --------------------------------------------------------------------------- routing


@dataclass(frozen=True)
class Routing:
    """Flows routed on a network.

    Attributes
    ----------
    forward, backward
        Flow on each edge from ``u`` to ``v``, and from ``v`` to ``u``.
    hops
        Number of edges on each link's path (-1: not routed, no path).
    cost
        Each link's path cost in minutes (inf: not routed).
    paths
        Each link's edges in order from origin to destination (only when asked for).

    Examples
    --------
    >>> net = generated_network(np.array([[0.0, 0], [1000.0, 0], [2000.0, 0]]),
    ...                         ["a", "b", "c"])
    >>> r = route_flows(net, [0], [2], [10.0], [4.0])
    >>> r.total.tolist(), r.hops.tolist()
    ([14.0, 14.0], [2])
    """

    forward: FloatArray
    backward: FloatArray
    hops: IntArray
    cost: FloatArray
    paths: tuple[tuple[int, ...], ...] | None = None

    @property
    def total(self) -> FloatArray:
        """Flow on each edge, both directions."""
        out: FloatArray = self.forward + self.backward
        return out

    @property
    def routed(self) -> NDArray[np.bool_]:
        """Whether each link found a path."""
        out: NDArray[np.bool_] = self.hops >= 0
        return out


def _graph(net: Network) -> tuple[Any, IntArray, IntArray]:
    """The symmetric CSR matrix of the cheapest edge between each pair of nodes, the
    sorted pair keys and, for each key, its edge."""
    from scipy import sparse

    n = net.n_nodes
    lo = np.minimum(net.u, net.v).astype(np.int64)
    hi = np.maximum(net.u, net.v).astype(np.int64)
    # the cheapest of parallel edges (a railway beside a road between the same nodes)
    order = np.lexsort((net.cost, hi, lo))
    key = lo[order] * n + hi[order]
    first = np.ones(len(key), dtype=bool)
    first[1:] = key[1:] != key[:-1]
    keys, edge = key[first], order[first].astype(np.intp)
    a, b = (keys // n).astype(np.intp), (keys % n).astype(np.intp)
    w = np.maximum(net.cost[edge], 1e-9)  # csgraph drops explicit zeros
    g = sparse.coo_matrix((np.concatenate([w, w]), (np.concatenate([a, b]),
                                                    np.concatenate([b, a]))),
                          shape=(n, n)).tocsr()
    return g, keys, edge


def _minutes_per_km(net: Network) -> float:
    """The network's usual minutes a kilometre: the median over its length."""
    ok = net.length > 0
    if not ok.any():
        return 1.0
    rate = net.cost[ok] / (net.length[ok] / 1000.0)
    order = np.argsort(rate, kind="stable")
    weight = np.cumsum(net.length[ok][order])
    return float(rate[order][np.searchsorted(weight, weight[-1] / 2.0)])


def _walk(net: Network, pred: Any, row: IntArray, target: IntArray, start: IntArray,
          nodes: IntArray | None, pick: IntArray, f_sd: FloatArray, f_ds: FloatArray,
          keys: IntArray, edge_of_key: IntArray, forward: FloatArray, backward: FloatArray,
          hops: IntArray, paths: list[list[int]] | None) -> None:
    """Walk the links ``pick`` back from their targets to their starts along the
    predecessors (row ``row`` of ``pred``), adding their flows to the edges on the way:
    all links of a search at once, a step at a time. ``nodes`` maps the search's nodes
    to the network's (None: they are the network's)."""
    n = net.n_nodes
    hops[pick] = 0
    cur = target.copy()
    active = cur != start
    while active.any():
        idx = np.flatnonzero(active)
        c = cur[idx]
        p = pred[row[idx], c].astype(np.intp)
        pg, cg = (p, c) if nodes is None else (nodes[p], nodes[c])
        lo = np.minimum(pg, cg).astype(np.int64)
        hi = np.maximum(pg, cg).astype(np.int64)
        e = edge_of_key[np.searchsorted(keys, lo * n + hi)]
        # the path runs src → … → p → c → … → dst: f_sd goes p → c
        along = net.u[e] == pg
        li = pick[idx]
        np.add.at(forward, e, np.where(along, f_sd[li], f_ds[li]))
        np.add.at(backward, e, np.where(along, f_ds[li], f_sd[li]))
        hops[li] += 1
        if paths is not None:
            for link, ed in zip(li.tolist(), e.tolist(), strict=True):
                paths[link].append(ed)
        cur[idx] = p
        active[idx] = p != start[idx]


def _full_searches(g: Any, sources: IntArray, chunk_cells: int
                   ) -> Iterator[tuple[IntArray, IntArray | None, Any, Any]]:
    """Searches from ``sources`` over the whole network, in chunks."""
    from scipy.sparse.csgraph import dijkstra

    size = max(1, chunk_cells // max(g.shape[0], 1))
    for k in range(0, len(sources), size):
        dist, pred = dijkstra(g, directed=True, indices=sources[k:k + size],
                              return_predecessors=True)
        yield sources[k:k + size], None, dist, pred


def _limited_searches(g: Any, sources: IntArray, limit: FloatArray, chunk_cells: int
                      ) -> Iterator[tuple[IntArray, IntArray | None, Any, Any]]:
    """Searches from ``sources``, each only as far as its ``limit`` (minutes): sources
    of like limits together, in chunks, each chunk as far as its largest limit."""
    from scipy.sparse.csgraph import dijkstra

    order = np.argsort(limit, kind="stable")
    size = max(1, chunk_cells // max(g.shape[0], 1))
    for k in range(0, len(order), size):
        sel = order[k:k + size]
        dist, pred = dijkstra(g, directed=True, indices=sources[sel],
                              return_predecessors=True, limit=float(limit[sel].max()))
        yield sources[sel], None, dist, pred


def route_flows(
    net: Network,
    origins: Sequence[int] | IntArray,
    destinations: Sequence[int] | IntArray,
    flow_od: Sequence[float] | FloatArray,
    flow_do: Sequence[float] | FloatArray | None = None,
    *,
    keep_paths: bool = False,
    chunk_cells: int = 4_000_000,
) -> Routing:
    """Put each link's flow on its shortest path, and add up the flow on every edge.

    Parameters
    ----------
    net
        The network.
    origins, destinations
        Each link's two places, as indices into ``net.place_ids``.
    flow_od, flow_do
        The flow from origin to destination and back (None: no flow back).
    keep_paths
        Keep each link's path (its edges, origin first) in :attr:`Routing.paths`.
    chunk_cells
        At most this many (origin, node) cells of distances and predecessors are held
        at once: origins are routed in chunks of ``chunk_cells // nodes``. Each search
        goes first only as far as its links need (twice their straight distance at the
        network's usual minutes a kilometre, plus 5 minutes: the shortest paths it
        finds are exact); a link it does not reach is searched for without a limit.

    Returns
    -------
    Routing
        ``flow_od`` goes along the path from origin to destination, ``flow_do`` back
        along the same path (on an undirected network it is a shortest path that way
        too). Links whose places are not connected are not routed (``hops`` -1).

    Examples
    --------
    Two links share the edge b–c: its flow is their sum.

    >>> xy = np.array([[0.0, 0], [1000.0, 0], [2000.0, 0], [3000.0, 0]])
    >>> net = generated_network(xy, ["a", "b", "c", "d"])
    >>> r = route_flows(net, [0, 1], [2, 3], [5.0, 7.0])
    >>> r.total.round(1).tolist()
    [5.0, 12.0, 7.0]
    """
    oi = np.asarray(origins, dtype=np.intp)
    di = np.asarray(destinations, dtype=np.intp)
    fod = np.asarray(flow_od, dtype=float)
    fdo = np.zeros(len(oi)) if flow_do is None else np.asarray(flow_do, dtype=float)
    if not (len(oi) == len(di) == len(fod) == len(fdo)):
        raise InvalidValueError("route_flows: origins, destinations and flows differ in "
                                "length")
    n, m = net.n_nodes, net.n_edges
    forward, backward = np.zeros(m), np.zeros(m)
    hops = np.full(len(oi), -1, dtype=np.intp)
    cost = np.full(len(oi), np.inf)
    paths: list[list[int]] | None = [[] for _ in oi] if keep_paths else None
    if not len(oi) or not m:
        return Routing(forward, backward, hops, cost,
                       tuple(tuple(p) for p in paths) if paths is not None else None)
    a = net.place_node[oi]
    b = net.place_node[di]
    # search from the end with more links, so that fewer searches cover them all
    count = np.bincount(np.concatenate([a, b]), minlength=n)
    flip = count[b] > count[a]
    src = np.where(flip, b, a)
    dst = np.where(flip, a, b)
    # the flow that goes src → dst along the path, and back
    f_sd = np.where(flip, fdo, fod)
    f_ds = np.where(flip, fod, fdo)
    g, keys, edge_of_key = _graph(net)
    # links between pieces the network does not join are not searched for
    from scipy.sparse.csgraph import connected_components

    piece = connected_components(g, directed=False)[1]
    todo = piece[src] == piece[dst]
    # a first search from each origin only as far as its links need (twice their
    # straight distance at the network's usual minutes a kilometre, and 5 minutes);
    # a link it does not reach is searched for again without a limit
    per_km = _minutes_per_km(net)
    need = 2.0 * np.hypot(*(net.xy[src] - net.xy[dst]).T) / 1000.0 * per_km + 5.0
    for limited in (True, False):
        pick_all = np.flatnonzero(todo & (hops < 0))
        if not len(pick_all):
            break
        sources, inv = np.unique(src[pick_all], return_inverse=True)
        if limited:
            limit = np.zeros(len(sources))
            np.maximum.at(limit, inv, need[pick_all])
            searches = _limited_searches(g, sources, limit, chunk_cells)
        else:
            searches = _full_searches(g, sources, chunk_cells)
        by_source = np.argsort(sources[inv], kind="stable")
        first = np.searchsorted(sources[inv][by_source], sources)
        last = np.searchsorted(sources[inv][by_source], sources, side="right")
        for sel, part, dist, pred in searches:
            at = np.searchsorted(sources, sel)
            pick = np.concatenate([pick_all[by_source[first[a]:last[a]]] for a in at])
            row = np.repeat(np.arange(len(sel)), last[at] - first[at])
            if part is None:
                target, begin = dst[pick], src[pick]
                inside = np.ones(len(pick), dtype=bool)
            else:
                target = np.minimum(np.searchsorted(part, dst[pick]), len(part) - 1)
                inside = part[target] == dst[pick]
                begin = np.searchsorted(part, src[pick])
            reach = inside & np.isfinite(dist[row, target])
            pick, row, target, begin = pick[reach], row[reach], target[reach], begin[reach]
            _walk(net, pred, row, target, begin, part, pick, f_sd, f_ds, keys, edge_of_key,
                  forward, backward, hops, paths)
            cost[pick] = dist[row, target]
    if paths is not None:
        # walked from dst back to src: put each path in order from the link's origin
        for k in range(len(paths)):
            if not flip[k]:
                paths[k].reverse()
    return Routing(forward, backward, hops, cost,
                   tuple(tuple(p) for p in paths) if paths is not None else None)


# --------------------------------------------------------------------------- stråk


@dataclass(frozen=True)
class Strak:
    """One stråk: a chain of network edges that carry much of the region's commuting.

    Attributes
    ----------
    name
        The labelled places it runs through, in order, joined by en dashes
        ("Malmö–Lund–Eslöv").
    places
        Indices (into the network's places) of every place it runs through, in order.
    named
        The indices of the places its name is made of.
    edges
        Its network edges, in order.
    nodes
        Its nodes, in order (one more than the edges).
    flow
        The largest flow on it (commuters a day, both directions).
    flow_mean
        Its flow averaged over its length.
    length_m
        Its length in metres.
    """

    name: str
    places: tuple[int, ...]
    named: tuple[int, ...]
    edges: tuple[int, ...]
    nodes: tuple[int, ...]
    flow: float
    flow_mean: float
    length_m: float

    @property
    def commuter_km(self) -> float:
        """Flow times length, summed over its edges: how much commuting it carries."""
        return self.flow_mean * self.length_m / 1000.0


def _nice_floor(x: float) -> float:
    """The largest number of the 1-2-5 series not above ``x`` (``x`` > 0)."""
    e = 10.0 ** math.floor(math.log10(x))
    return max(m * e for m in (1, 2, 5) if m * e <= x * (1 + 1e-9))


def strak_width_classes(threshold: float, max_flow: float, *, most: int = 4
                        ) -> tuple[float, ...]:
    """The lower bounds of the stråk's width classes: round numbers of the 1-2-5
    series from the threshold up, at most ``most`` of them.

    Examples
    --------
    >>> strak_width_classes(6_000, 60_000)
    (5000.0, 10000.0, 20000.0, 50000.0)
    >>> strak_width_classes(1_000, 50_000)
    (1000.0, 5000.0, 20000.0)
    >>> strak_width_classes(300, 320)
    (200.0,)
    """
    if not (threshold > 0 and max_flow >= threshold):
        return ()
    b = _nice_floor(threshold)
    out = [b]
    while True:
        e = 10.0 ** math.floor(math.log10(out[-1]) + 1e-9)
        m = round(out[-1] / e)
        nxt = {1: 2, 2: 5, 5: 10}.get(m, 10) * e
        if nxt > max_flow * (1 + 1e-9):
            break
        out.append(nxt)
    out = out[::math.ceil(len(out) / max(most, 1))]
    return tuple(float(x) for x in out)


def find_strak(
    net: Network,
    routing: Routing,
    *,
    names: Sequence[str],
    labelled: Sequence[bool] | NDArray[np.bool_],
    split: Sequence[bool] | NDArray[np.bool_],
    population: Sequence[float] | FloatArray | None = None,
    min_share: float = 0.1,
    min_flow: float = 0.0,
    max_count: int = 10,
    centres: bool = False,
) -> list[Strak]:
    """The stråk of the routed flows: the busiest chains of edges, named by their places.

    A stråk is made of edges that carry at least the threshold (``min_share`` of the
    busiest edge's flow, and at least ``min_flow``). From the busiest edge not yet in a
    stråk, it is extended at each end along the busiest edge above the threshold that
    is not yet in one, through junctions and smaller places, until none is left or it
    reaches a place of ``split`` (the region's highest roles: a stråk runs between
    them, "Malmö–Lund", and on from them, "Lund–Eslöv–Höör"), or its own path. The
    edges that join a place to an infrastructure network (``access``) are in no stråk.
    The ``max_count`` that carry the most commuting (flow times length) are kept,
    busiest first. With ``centres``, a place of ``split`` that none of them reaches
    (Skövde and Lidköping beside Göteborg's many stråk) gets stråk of its own: from its
    busiest edges (those with at least half the flow of its busiest, at most
    :data:`CENTRE_STRAK`), each extended as above along edges that carry at least
    :data:`CENTRE_SHARE` of its busiest edge's flow, until another such place or the
    end; a structure image shows how every regional centre hangs together, not only
    the largest city's commuting.

    Parameters
    ----------
    net, routing
        The network and its routed flows.
    names, labelled, split, population
        For each place of ``net.place_ids``: its name, whether its name is put in a
        stråk's name (the labelled roles), whether a stråk ends at it, and its
        population. A stråk runs from its more important end: a place of ``split``,
        else the larger place.
    min_share, min_flow
        The threshold: the least flow on a stråk's edges.
    max_count
        The most stråk kept (before those of ``centres``).
    centres
        Give each place of ``split`` that no kept stråk reaches stråk of its own.

    Examples
    --------
    Five places on a line, flows from the middle one: two stråk, split at it.

    >>> xy = np.column_stack([np.arange(5) * 5000.0, np.zeros(5)])
    >>> net = generated_network(xy, list("abcde"))
    >>> r = route_flows(net, [2, 2, 2, 2], [0, 1, 3, 4], [100.0, 300, 300, 100])
    >>> found = find_strak(net, r, names=["A", "B", "C", "D", "E"],
    ...                    labelled=[True, False, True, False, True],
    ...                    split=[False, False, True, False, False])
    >>> [(s.name, s.flow, s.length_m) for s in found]
    [('C–A', 400.0, 10000.0), ('C–E', 400.0, 10000.0)]
    """
    total = routing.total
    if not len(total) or not total.max() > 0:
        return []
    threshold = max(min_share * float(total.max()), min_flow, 1e-9)
    usable = (total >= threshold) & (net.kind != "access")
    at_node: dict[int, list[int]] = {}
    for e in np.flatnonzero(usable):
        at_node.setdefault(int(net.u[e]), []).append(int(e))
        at_node.setdefault(int(net.v[e]), []).append(int(e))
    stop, place_at = _stops(net, split)
    taken = np.zeros(net.n_edges, dtype=bool)

    def grow(path_nodes: list[int], path_edges: list[int], seen: set[int]) -> None:
        while not stop[path_nodes[-1]]:
            here = path_nodes[-1]
            best = -1
            for e in at_node.get(here, []):
                if taken[e]:
                    continue
                other = int(net.v[e]) if int(net.u[e]) == here else int(net.u[e])
                if other in seen:
                    continue
                if best < 0 or total[e] > total[best] or (total[e] == total[best] and e < best):
                    best = e
            if best < 0:
                return
            taken[best] = True
            other = int(net.v[best]) if int(net.u[best]) == here else int(net.u[best])
            path_edges.append(best)
            path_nodes.append(other)
            seen.add(other)

    found: list[Strak] = []
    for seed in np.argsort(-total, kind="stable"):
        seed = int(seed)
        if not usable[seed] or taken[seed]:
            continue
        taken[seed] = True
        a, b = int(net.u[seed]), int(net.v[seed])
        fwd_nodes: list[int] = [a, b]
        fwd_edges: list[int] = [seed]
        seen = {a, b}
        grow(fwd_nodes, fwd_edges, seen)
        back_nodes: list[int] = [a]
        back_edges: list[int] = []
        grow(back_nodes, back_edges, seen)
        nodes = back_nodes[::-1] + fwd_nodes[1:]
        edges = back_edges[::-1] + fwd_edges
        found.append(_strak(net, total, nodes, edges, place_at, names, labelled, split,
                            population))
    found.sort(key=lambda s: -s.commuter_km)
    kept = found[:max(max_count, 0)]
    if centres:
        kept += _centre_strak(net, total, kept, stop, place_at, split, population,
                              min_flow, lambda nodes, edges: _strak(
                                  net, total, nodes, edges, place_at, names, labelled,
                                  split, population))
    kept = _distinct(kept, names, population)
    kept.sort(key=lambda s: (-s.flow, -s.commuter_km, s.name))
    return kept


def _stops(net: Network, split: Sequence[bool] | NDArray[np.bool_]
           ) -> tuple[NDArray[np.bool_], dict[int, list[int]]]:
    """The nodes where a stråk ends (those of the places of ``split``), and the places
    joined at each node."""
    stop = np.zeros(net.n_nodes, dtype=bool)
    place_at: dict[int, list[int]] = {}
    for p, joined in enumerate(net.attach):
        for node in joined:
            place_at.setdefault(int(node), []).append(p)
            if split[p]:
                stop[node] = True
    return stop, place_at


#: With ``centres``: a centre's own stråk run along edges of at least this share of the
#: flow on its busiest edge, and start from at most this many of its edges.
CENTRE_SHARE, CENTRE_STRAK = 0.25, 3


def _centre_strak(net: Network, total: FloatArray, kept: list[Strak],
                  stop: NDArray[np.bool_], place_at: Mapping[int, list[int]],
                  split: Sequence[bool] | NDArray[np.bool_],
                  population: Sequence[float] | FloatArray | None, min_flow: float,
                  make: Callable[[list[int], list[int]], Strak]) -> list[Strak]:
    """Stråk of the places of ``split`` that no kept stråk reaches (:func:`find_strak`).

    A centre's stråk start at it and grow as :func:`find_strak`'s do, on its own
    threshold (:data:`CENTRE_SHARE` of its busiest edge), never along an edge already
    drawn; a centre reached by another centre's new stråk gets none of its own.
    """
    taken = np.zeros(net.n_edges, dtype=bool)
    reached: set[int] = set()
    for st in kept:
        taken[list(st.edges)] = True
        reached.update(st.places)
    open_edge = (net.kind != "access") & (total > 0)
    order = sorted((p for p in range(len(net.attach)) if split[p]),
                   key=lambda p: (-(float(population[p]) if population is not None
                                    else 0.0), p))
    added: list[Strak] = []
    for p in order:
        if p in reached:
            continue
        starts = sorted({int(n) for n in net.attach[p]})
        mine = [int(e) for n in starts for e in np.flatnonzero(
            ((net.u == n) | (net.v == n)) & open_edge & ~taken)]
        mine = sorted(set(mine), key=lambda e: (-total[e], e))
        if not mine or total[mine[0]] < max(min_flow, 1e-9):
            continue
        level = max(CENTRE_SHARE * float(total[mine[0]]), min_flow, 1e-9)
        for seed in [e for e in mine if total[e] >= 0.5 * total[mine[0]]][:CENTRE_STRAK]:
            if taken[seed]:
                continue
            here = int(net.u[seed]) if int(net.u[seed]) in starts else int(net.v[seed])
            nodes, edges = [here], [seed]
            taken[seed] = True
            nodes.append(int(net.v[seed]) if int(net.u[seed]) == here else int(net.u[seed]))
            seen = set(nodes)
            while not stop[nodes[-1]]:
                at = nodes[-1]
                nxt = [int(e) for e in np.flatnonzero(
                    ((net.u == at) | (net.v == at)) & open_edge & ~taken
                    & (total >= level))]
                nxt = [e for e in nxt if (int(net.v[e]) if int(net.u[e]) == at
                                          else int(net.u[e])) not in seen]
                if not nxt:
                    break
                best = min(nxt, key=lambda e: (-total[e], e))
                taken[best] = True
                edges.append(best)
                nodes.append(int(net.v[best]) if int(net.u[best]) == at
                             else int(net.u[best]))
                seen.add(nodes[-1])
            st = make(nodes, edges)
            added.append(st)
            reached.update(st.places)
    return added


def _distinct(found: list[Strak], names: Sequence[str],
              population: Sequence[float] | FloatArray | None) -> list[Strak]:
    """Stråk of the same name told apart by the largest place each passes that its
    name leaves out ("Katrineholm–Sköldinge–Flen", "Katrineholm–Bettna–Flen")."""
    from dataclasses import replace

    count: dict[str, int] = {}
    for st in found:
        count[st.name] = count.get(st.name, 0) + 1
    out = []
    for st in found:
        extra = [p for p in st.places[1:-1] if p not in st.named]
        if count[st.name] < 2 or not extra:
            out.append(st)
            continue
        add = max(extra, key=lambda p: (float(population[p]) if population is not None
                                        else 0.0, -p))
        named = [p for p in st.places if p in st.named or p == add]
        title: list[str] = []
        for p in named:
            if not title or title[-1] != names[p]:
                title.append(names[p])
        out.append(replace(st, name="–".join(title), named=tuple(named)))
    return out


def _strak(net: Network, total: FloatArray, nodes: list[int], edges: list[int],
           place_at: Mapping[int, list[int]], names: Sequence[str],
           labelled: Sequence[bool] | NDArray[np.bool_],
           split: Sequence[bool] | NDArray[np.bool_],
           population: Sequence[float] | FloatArray | None) -> Strak:
    """A stråk of its nodes and edges: its places in order, its name, its flows.

    The places it runs through are those joined to the network at one of its nodes; a
    place joined farther than :data:`NAME_REACH_M` from the node names the stråk only
    at its ends, and only where no place lies nearer that end.
    """
    places: list[int] = []
    near: set[int] = set()
    last = len(nodes) - 1
    for k, node in enumerate(nodes):
        here = sorted(place_at.get(node, []), key=lambda p: (
            float(np.hypot(*(net.xy[net.place_node[p]] - net.xy[node]))), p))
        for p in here:
            d = float(np.hypot(*(net.xy[net.place_node[p]] - net.xy[node])))
            if d <= NAME_REACH_M:
                near.add(p)
            elif k not in (0, last) or p != here[0]:
                continue
            if p not in places:
                places.append(p)
    ends = {places[0], places[-1]} if places else set()
    named = [p for p in places if labelled[p] and (p in ends or p in near)]
    if len(named) < 2 and places:
        # too few labelled places: the places at its ends make the name
        named = [p for p in places if p in named or p in ends]

    def weight(p: int) -> tuple[bool, bool, float]:
        return (bool(split[p]), bool(labelled[p]),
                float(population[p]) if population is not None else 0.0)

    # it runs from the more important of the places its name ends with
    if len(named) > 1 and weight(named[-1]) > weight(named[0]):
        places.reverse()
        named.reverse()
        nodes = nodes[::-1]
        edges = edges[::-1]
    if len(named) > MAX_NAMES:
        inner = sorted(named[1:-1], key=lambda p: (not split[p], -(
            float(population[p]) if population is not None else 0.0), p))
        keep = set(inner[:MAX_NAMES - 2]) | {named[0], named[-1]}
        named = [p for p in named if p in keep]
    # the same name may stand for two places: keep the first
    title: list[str] = []
    for p in named:
        if not title or title[-1] != names[p]:
            title.append(names[p])
    e = np.asarray(edges, dtype=np.intp)
    length = float(net.length[e].sum())
    flow_mean = float((total[e] * net.length[e]).sum() / length) if length > 0 else \
        float(total[e].mean())
    return Strak(name="–".join(title), places=tuple(places), named=tuple(named),
                 edges=tuple(edges), nodes=tuple(nodes), flow=float(total[e].max()),
                 flow_mean=flow_mean, length_m=length)


# --------------------------------------------------------------------------- corridors

#: The columns of the stråk's sections (:attr:`Corridors.frame`), in order.
STRAK_COLUMNS = ("strak_id", "name", "section", "flow", "width_class", "class_min",
                 "class_max", "strak_flow", "strak_flow_mean", "length_km", "places",
                 "place_names", "network", "modelled")


@dataclass(frozen=True)
class Corridors:
    """The links' flows routed on a network, and the stråk they make.

    Attributes
    ----------
    network, routing
        The network and the flows on its edges.
    strak
        The stråk, busiest first.
    threshold
        The least flow on a stråk's edges.
    classes
        The lower bounds of the width classes (:func:`strak_width_classes`).
    frame
        The stråk as drawn: one row (a LineString) per section of a stråk whose edges
        fall in one width class, in drawing order (:data:`STRAK_COLUMNS`; ``flow`` is
        the section's flow averaged over its length, ``width_class`` 1 for the
        thinnest).
    links
        Number of links routed, and of those whose places the network does not join.
    """

    network: Network
    routing: Routing
    strak: tuple[Strak, ...]
    threshold: float
    classes: tuple[float, ...]
    frame: Any
    links: tuple[int, int] = (0, 0)

    def info(self) -> dict[str, Any]:
        """What the provenance and the summary say of the network and the routing.

        Examples
        --------
        >>> import geopandas as gpd, shapely
        >>> places = gpd.GeoDataFrame(
        ...     {"name": ["A", "B"], "role": ["x", "y"], "population": [9000, 3000]},
        ...     index=["a", "b"], geometry=[shapely.Point(0, 0), shapely.Point(8000, 0)],
        ...     crs=3006)
        >>> links = pd.DataFrame({"origin": ["b"], "destination": ["a"],
        ...                       "flow_od": [300.0], "flow_do": [100.0]})
        >>> c = corridors(places, links, roles_order=["x", "y"], label_roles=2)
        >>> c.info()["network"], c.info()["edges"], c.strak[0].name
        ('generated', 1, 'A–B')
        """
        net = self.network
        kinds = pd.Series(net.kind).value_counts().sort_index()
        return {
            "network": net.source,
            "nodes": net.n_nodes,
            "edges": net.n_edges,
            "edge_kinds": {str(k): int(v) for k, v in kinds.items()},
            "fixed_links": list(net.fixed_links),
            "links_routed": int(self.links[0]),
            "links_not_routed": int(self.links[1]),
            "threshold": round(float(self.threshold), 1),
            "classes": [float(c) for c in self.classes],
            "strak": len(self.strak),
        }


def _roles_of(places: pd.DataFrame, order: Sequence[str], label_roles: int
              ) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Which places name a stråk (those of the region's higher roles,
    :func:`~strukturbild.analysis.links.higher_roles`: the ``label_roles`` highest
    that have places, never the lowest) and which end one (the highest roles, from the
    top until they hold two places or more)."""
    role = places["role"].astype(object).astype(str).to_numpy() if "role" in places \
        else np.full(len(places), "", dtype=object)
    present = [k for k in order if k in set(role)]
    # the region's higher roles name the stråk: never the lowest present (Sörmland
    # without jobs: lokal kärna and serviceort, not every övrig tätort)
    labelled = np.isin(role, higher_roles(order, set(present), label_roles))
    top: list[str] = []
    for k in present:
        top.append(k)
        if np.isin(role, top).sum() >= 2:
            break
    return labelled, np.isin(role, top)


def _class_of(flow: FloatArray, classes: Sequence[float]) -> IntArray:
    """Width class of each flow: 1 for the thinnest (``classes`` its lower bounds)."""
    out: IntArray = np.maximum(np.searchsorted(np.asarray(classes), flow, side="right"),
                               1).astype(np.intp)
    return out


def _oriented(net: Network, e: int, start: int) -> FloatArray:
    """The coordinates of edge ``e`` from its node ``start``."""
    import shapely

    xy = shapely.get_coordinates(net.edge_line(e))
    return xy if int(net.u[e]) == start else xy[::-1]


def _sections(net: Network, routing: Routing, found: Sequence[Strak],
              classes: Sequence[float], ids: Sequence[str], names: Sequence[str],
              modelled: bool, crs: Any) -> Any:
    """The stråk's sections as a GeoDataFrame (:data:`STRAK_COLUMNS`)."""
    import geopandas as gpd
    import shapely

    total = routing.total
    rows: list[dict[str, Any]] = []
    geoms: list[Any] = []
    bounds = [*classes, math.nan]
    for k, st in enumerate(found, start=1):
        cls = _class_of(total[np.asarray(st.edges, dtype=np.intp)], classes)
        run_start = 0
        section = 0
        for i in range(1, len(st.edges) + 1):
            if i < len(st.edges) and cls[i] == cls[run_start]:
                continue
            part = st.edges[run_start:i]
            coords = [_oriented(net, e, st.nodes[run_start + j]) for j, e in enumerate(part)]
            xy = np.vstack([coords[0], *(c[1:] for c in coords[1:])])
            lengths = net.length[np.asarray(part, dtype=np.intp)]
            flows = total[np.asarray(part, dtype=np.intp)]
            c = int(cls[run_start])
            section += 1
            rows.append({
                "strak_id": k, "name": st.name, "section": section,
                "flow": float((flows * lengths).sum() / lengths.sum()) if lengths.sum() > 0
                else float(flows.mean()),
                "width_class": c, "class_min": float(bounds[c - 1]),
                "class_max": float(bounds[c]),
                "strak_flow": st.flow, "strak_flow_mean": st.flow_mean,
                "length_km": st.length_m / 1000.0,
                "places": "; ".join(ids[p] for p in st.places),
                "place_names": "; ".join(names[p] for p in st.places),
                "network": net.source, "modelled": bool(modelled)})
            geoms.append(shapely.LineString(xy))
            run_start = i
    frame = pd.DataFrame(rows, columns=list(STRAK_COLUMNS))
    for col in ("strak_id", "section", "width_class"):
        frame[col] = frame[col].astype(np.int64)
    frame["modelled"] = frame["modelled"].astype(bool)
    # drawn thinnest first, so that the busiest sections lie on top where stråk meet
    out = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=crs), crs=crs)
    order = np.lexsort((out["section"].to_numpy(), out["strak_id"].to_numpy(),
                        out["width_class"].to_numpy()))
    return out.iloc[order].reset_index(drop=True)


def corridors(
    places: gpd.GeoDataFrame,
    links: gpd.GeoDataFrame,
    *,
    params: StrakParams | None = None,
    roles_order: Sequence[str] = (),
    label_roles: int,
    infrastructure: Sequence[Any] = (),
    land: Any = None,
    fixed_links: Sequence[FixedLink] = FIXED_LINKS,
) -> Corridors | None:
    """Route the links' flows on a network and find the stråk: all of this module.

    Parameters
    ----------
    places
        GeoDataFrame of the places in a metric CRS: index the place id, ``name``,
        ``role``, ``population``.
    links
        ``origin``, ``destination``, ``flow_od``, ``flow_do`` (``modelled`` marks the
        stråk as modelled); links with a place that is not among ``places`` are left
        out.
    params
        ``[strak]``: the network, the threshold and how many stråk.
    roles_order
        The role keys, highest first: which places name the stråk (the
        ``label_roles`` highest that have places) and where they end (the highest).
    label_roles
        How many of the highest roles that have places are named.
    infrastructure
        Line layers (GeoDataFrames in the places' CRS): the network when there are any
        (``network = "auto"``).
    land
        The land (polygons) a generated network keeps to.
    fixed_links
        Bridges, tunnels and ferries joining the land.

    Returns
    -------
    Corridors or None
        None when ``params.network`` is ``"none"`` or no link has a flow.

    Raises
    ------
    ConfigError
        ``network = "infrastructure"`` without a line layer.
    """
    p = params or StrakParams()
    if p.network == "none" or places is None or not len(places):
        return None
    ids = [str(i) for i in places.index]
    position = pd.Series(np.arange(len(ids)), index=ids)
    if not len(links):
        return None
    o = position.reindex(links["origin"].astype(str)).to_numpy()
    d = position.reindex(links["destination"].astype(str)).to_numpy()
    inside = ~(np.isnan(o) | np.isnan(d))
    if not inside.any():
        return None
    fod = pd.to_numeric(links["flow_od"], errors="coerce").fillna(0.0).to_numpy()[inside]
    fdo = pd.to_numeric(links["flow_do"], errors="coerce").fillna(0.0).to_numpy()[inside]
    if not (fod + fdo).sum() > 0:
        return None
    xy = place_coordinates(places)
    lines = [f for f in infrastructure
             if len(f) and f.geom_type.astype(str).str.contains("LineString").any()]
    if p.network == "infrastructure" and not lines:
        raise ConfigError('[strak] network = "infrastructure" needs [[layers]] of kind '
                          '"infrastructure" with lines (railways, roads); the project has '
                          'none: add them (strukturbild fetch osm writes them), or use '
                          'network = "auto" or "generated"')
    if lines and p.network in ("auto", "infrastructure"):
        net = infrastructure_network(lines, xy, ids, crs=places.crs, fixed_links=fixed_links)
    else:
        net = generated_network(xy, ids, land=land, crs=places.crs, fixed_links=fixed_links)
    routing = route_flows(net, o[inside].astype(np.intp), d[inside].astype(np.intp), fod, fdo)
    labelled, split = _roles_of(places, roles_order, label_roles)
    names = [str(v) for v in places["name"]] if "name" in places else ids
    pop = pd.to_numeric(places["population"], errors="coerce").fillna(0.0).to_numpy() \
        if "population" in places else None
    found = find_strak(net, routing, names=names, labelled=labelled, split=split,
                       population=pop, min_share=p.min_share, min_flow=p.min_flow,
                       max_count=p.max_count, centres=p.centres)
    total = routing.total
    threshold = max(p.min_share * float(total.max()), p.min_flow) if len(total) else 0.0
    drawn = [f for s in found for f in total[list(s.edges)]]
    classes = strak_width_classes(min(drawn), max(drawn)) if drawn else ()
    modelled = bool(links["modelled"].fillna(False).astype(bool).any()) \
        if "modelled" in links else False
    frame = _sections(net, routing, found, classes, ids, names, modelled, places.crs)
    routed = int(routing.routed.sum())
    return Corridors(net, routing, tuple(found), threshold, classes, frame,
                     (routed, int(inside.sum()) - routed))
