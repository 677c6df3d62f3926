"""Distance over land: water is crossed only where a bridge, tunnel or ferry crosses it.

Straight-line distance crosses water: the sounds, fjords and archipelagos of the
Swedish coast, the great lakes, the sea to Gotland. :class:`LandDistance` measures the
distance between places over land instead, on a raster of the land (the kommun
polygons, for instance), joined across the water by a small table of fixed links
(:data:`FIXED_LINKS`). Only pairs whose straight line leaves the land get another
distance: for them it is the straight distance times the detour the raster path
makes, so that the raster's own geometry (an 8-neighbour grid is up to 8 % longer
than a straight line) adds nothing where there is no water to go round.

The commuting model takes any object with a ``pair_distances`` method
(:class:`PairDistances`): a road or rail graph (issue 18) can be plugged in the same
way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
from numpy.typing import NDArray

from ..errors import InvalidValueError

__all__ = ["FIXED_LINKS", "FixedLink", "LandDistance", "PairDistances"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


class PairDistances(Protocol):
    """What the commuting model needs of a distance other than the straight line."""

    def pair_distances(self, x_km: FloatArray, y_km: FloatArray
                       ) -> tuple[IntArray, IntArray, FloatArray]:
        """Pairs ``i < j`` of the points (coordinates in km) whose distance is not the
        straight line, and that distance in km; every other pair keeps the straight
        line."""
        ...


@dataclass(frozen=True)
class FixedLink:
    """A bridge, tunnel or ferry that joins two shores.

    ``a`` and ``b`` are the two ends (longitude, latitude, WGS 84), each snapped to the
    nearest land cell; ``extra_km`` is added to the link's length (a ferry's waiting
    and slower crossing, at about 1 km a minute); ``source`` names where it is
    described.
    """

    name: str
    kind: Literal["bridge", "tunnel", "ferry"]
    a: tuple[float, float]
    b: tuple[float, float]
    extra_km: float
    source: str


#: The fixed links over water that SCB's kommun polygons leave open, and the main
#: island links (ends to about 0.01°; each snapped to the nearest land cell). Those the
#: polygons close at a 2 km raster (Tjörn, Orust, Ekerö, Värmdö, Lidingö, Vaxholm:
#: gaps under 1.1 km) are kept so that a finer raster keeps them. The Öresund Bridge
#: joins Sweden to Denmark: it counts only where the land given includes Denmark.
FIXED_LINKS: tuple[FixedLink, ...] = (
    FixedLink("Öresundsbron", "bridge", (12.91, 55.57), (12.65, 55.62), 0.0,
              "Øresundsbro Konsortiet; Trafikverket, E20 (bridge and tunnel, 16 km)"),
    FixedLink("HH-leden Helsingborg–Helsingør", "ferry", (12.69, 56.04), (12.61, 56.04),
              20.0, "ForSea / Scandlines, HH-leden (about 20 min, departures every 15–20 min)"),
    FixedLink("Ölandsbron", "bridge", (16.40, 56.68), (16.48, 56.69), 0.0,
              "Trafikverket, väg 137 Ölandsbron (6 km, 1972)"),
    FixedLink("Gotlandsfärjan Visby–Nynäshamn", "ferry", (18.28, 57.64), (17.95, 58.90),
              60.0, "Region Gotland / Trafikverket, Gotlandstrafiken (about 3 h 15 min)"),
    FixedLink("Gotlandsfärjan Visby–Oskarshamn", "ferry", (18.28, 57.64), (16.46, 57.27),
              60.0, "Region Gotland / Trafikverket, Gotlandstrafiken (about 3 h)"),
    FixedLink("Tjörnbroarna", "bridge", (11.83, 58.07), (11.74, 58.06), 0.0,
              "Trafikverket, väg 160 Tjörnbroarna (Stenungsund–Tjörn, 1960/1981)"),
    FixedLink("Skåpesundsbron", "bridge", (11.73, 58.09), (11.74, 58.11), 0.0,
              "Trafikverket, väg 160 Skåpesundsbron (Tjörn–Orust)"),
    FixedLink("Nötesundsbron", "bridge", (11.88, 58.20), (11.93, 58.21), 0.0,
              "Trafikverket, väg 160 Nötesundsbron (Orust–fastlandet)"),
    FixedLink("Skurubron", "bridge", (18.21, 59.31), (18.24, 59.31), 0.0,
              "Trafikverket, väg 222 Skurubron (Nacka–Värmdö)"),
    FixedLink("Lidingöbron", "bridge", (18.10, 59.36), (18.13, 59.36), 0.0,
              "Trafikverket / Stockholms stad, Lidingöbron (Ropsten–Lidingö, 1925)"),
    FixedLink("Nockebybron och Tappströmsbron", "bridge", (17.92, 59.33), (17.82, 59.33),
              0.0, "Trafikverket, väg 261 Ekerövägen (Stockholm–Ekerö)"),
    FixedLink("Vaxholmsbron", "bridge", (18.29, 59.42), (18.33, 59.42), 0.0,
              "Trafikverket, väg 274 Vaxholmsvägen (Resarö–Vaxholm)"),
    FixedLink("Hjulstabron", "bridge", (17.07, 59.50), (17.09, 59.53), 0.0,
              "Trafikverket, väg 55 Hjulstabron (Märsön–Uppland, Enköping–Strängnäs, 1953)"),
    FixedLink("Kvicksundsbron", "bridge", (16.32, 59.43), (16.32, 59.47), 0.0,
              "Trafikverket, väg 56 Kvicksundsbron (Eskilstuna–Västerås)"),
    FixedLink("Muskötunneln", "tunnel", (18.13, 59.04), (18.11, 59.01), 0.0,
              "Trafikverket, väg 227 Muskötunneln (3 km, 1964)"),
    FixedLink("Instöbron och Koöbron", "bridge", (11.70, 57.88), (11.63, 57.88), 0.0,
              "Trafikverket, väg 168 (Kungälv–Koön, Marstrand)"),
    FixedLink("Hönöleden", "ferry", (11.72, 57.70), (11.68, 57.70), 15.0,
              "Trafikverket Färjerederiet, Hönöleden (Hisingen–Hönö, about 10 min)"),
    FixedLink("Blidöleden", "ferry", (18.78, 59.66), (18.82, 59.64), 15.0,
              "Trafikverket Färjerederiet, Blidöleden (Furusund–Blidö, about 5 min)"),
)


@dataclass(frozen=True)
class _Grid:
    x0: float
    y0: float
    cell: float
    rows: int
    cols: int


class LandDistance:
    """Distances over land between points, on a raster of the land with fixed links.

    Parameters
    ----------
    land
        The land as one or more shapely (Multi)Polygons in a metric CRS (metres): SCB's
        kommun polygons, for instance (lakes that are holes in them are water).
    crs
        The CRS of ``land`` and of the points to come (any form pyproj reads), to place
        the fixed links; None when ``links`` is empty.
    cell_km
        Raster cell size. A cell is land when its centre lies within half a cell of the
        land, so that water narrower than about one cell is taken as crossed (SCB's
        generalised polygons leave gaps of up to a kilometre between shores that a
        bridge joins); 2 km (the default) keeps the sounds to Öland (3.7 km), Muskö,
        Blidö and Marstrand open.
    links
        Fixed links over water (:data:`FIXED_LINKS`); a link whose two ends snap to the
        same cell, or either end lies more than ``snap_km`` from the land, is not used
        (:attr:`unused_links`).
    max_km
        Pairs farther apart than this (straight line) keep the straight distance.
    max_detour
        A pair that cannot be joined over land within this many times its straight
        distance (an island without a link in the table) gets this many times it.
    snap_km
        How far a fixed link's end may lie from the land.

    Examples
    --------
    A bay 4 km wide and 16 km deep: points 9 km apart across it go round it (about
    26 km), a pair whose line cuts its corner goes a little farther than straight
    (15.8 km); the third pair's line stays on land and keeps the straight line.

    >>> import shapely
    >>> bay = shapely.Polygon([(0, 0), (20_000, 0), (20_000, 20_000), (12_000, 20_000),
    ...     (12_000, 4_000), (8_000, 4_000), (8_000, 20_000), (0, 20_000)])
    >>> ld = LandDistance(bay, crs=None, cell_km=1.0, links=(), max_detour=4)
    >>> i, j, d = ld.pair_distances(np.array([5.5, 14.5, 5.5]), np.array([15.5, 15.5, 2.5]))
    >>> i.tolist(), j.tolist(), d.round(1).tolist()
    ([0, 1], [1, 2], [29.5, 18.6])
    """

    def __init__(self, land: Any, *, crs: Any, cell_km: float = 2.0,
                 links: tuple[FixedLink, ...] = FIXED_LINKS, max_km: float = 100.0,
                 max_detour: float = 2.0, snap_km: float = 5.0) -> None:
        import shapely
        from scipy import sparse
        from scipy.spatial import cKDTree

        if not cell_km > 0 or not max_km > 0 or not max_detour >= 1:
            raise InvalidValueError("LandDistance: cell_km and max_km must be positive and "
                                    f"max_detour at least 1, got {cell_km}, {max_km}, "
                                    f"{max_detour}")
        geom = shapely.union_all(np.asarray(land, dtype=object).ravel())
        if geom.is_empty:
            raise InvalidValueError("LandDistance: the land is empty")
        self.cell_km, self.max_km, self.max_detour = float(cell_km), float(max_km), \
            float(max_detour)
        c = cell_km * 1000.0
        xmin, ymin, xmax, ymax = geom.bounds
        g = _Grid(xmin - c, ymin - c, c, math.ceil((ymax - ymin) / c) + 3,
                  math.ceil((xmax - xmin) / c) + 3)
        self._grid = g
        cx = g.x0 + (np.arange(g.cols) + 0.5) * c
        cy = g.y0 + (np.arange(g.rows) + 0.5) * c
        reach = shapely.buffer(geom, c / 2.0, quad_segs=4)
        shapely.prepare(reach)
        xx, yy = np.meshgrid(cx, cy)
        mask: NDArray[np.bool_] = np.asarray(shapely.contains_xy(reach, xx, yy), dtype=bool)
        self.mask = mask
        node = np.full(mask.shape, -1, dtype=np.intp)
        rr, cc = np.nonzero(mask)
        node[rr, cc] = np.arange(len(rr))
        self._node = node
        self._xy = np.column_stack([cx[cc], cy[rr]]) / 1000.0  # node centres, km
        n = len(rr)
        rows: list[IntArray] = []
        cols: list[IntArray] = []
        weights: list[FloatArray] = []
        for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
            r2, c2 = rr + dr, cc + dc
            ok = (r2 < g.rows) & (c2 >= 0) & (c2 < g.cols)
            a, b = np.flatnonzero(ok), node[r2[ok], c2[ok]]
            keep = b >= 0
            rows.append(a[keep])
            cols.append(b[keep])
            weights.append(np.full(int(keep.sum()), cell_km * math.hypot(dr, dc)))
        self._tree = cKDTree(self._xy)
        self.unused_links: list[str] = []
        self.links: list[FixedLink] = []
        if links:
            from pyproj import Transformer

            to = Transformer.from_crs(4326, crs, always_xy=True)
            for link in links:
                ends = np.array([to.transform(*link.a), to.transform(*link.b)]) / 1000.0
                snap, at = self._tree.query(ends)
                if (snap > snap_km).any() or at[0] == at[1]:
                    self.unused_links.append(link.name)
                    continue
                rows.append(np.array([at[0]]))
                cols.append(np.array([at[1]]))
                length = float(np.hypot(*(ends[0] - ends[1])))
                weights.append(np.array([length + link.extra_km]))
                self.links.append(link)
        one_way = sparse.coo_matrix(
            (np.concatenate(weights), (np.concatenate(rows), np.concatenate(cols))),
            shape=(n, n)).tocsr()
        self._graph = (one_way + one_way.T).tocsr()  # both ways, made once
        self.cells = n

    def components(self) -> IntArray:
        """The connected piece of land (links included) of every land cell."""
        from scipy.sparse.csgraph import connected_components

        labels: IntArray = connected_components(self._graph, directed=True,
                                                connection="weak")[1]
        return labels

    def snap(self, x_km: FloatArray, y_km: FloatArray) -> tuple[FloatArray, IntArray]:
        """Distance (km) from each point to the nearest land cell's centre, and the cell."""
        d, at = self._tree.query(np.column_stack([x_km, y_km]))
        return np.asarray(d, dtype=float), np.asarray(at, dtype=np.intp)

    def _crosses_water(self, a: FloatArray, b: FloatArray) -> NDArray[np.bool_]:
        """Whether the segments from ``a`` to ``b`` (node centres, km) leave the land,
        sampled every half cell."""
        g = self._grid
        step = self.cell_km / 2.0
        length = np.hypot(*(b - a).T)
        count = np.ceil(length / step).astype(np.intp) + 1
        out = np.zeros(len(a), dtype=bool)
        for s in range(0, len(a), 5_000):
            k = count[s:s + 5_000]
            seg = np.repeat(np.arange(len(k)), k)
            start = np.repeat(np.cumsum(k) - k, k)
            t = (np.arange(int(k.sum())) - start) / np.maximum(np.repeat(k, k) - 1, 1)
            p = a[s:s + 5_000][seg] + (b - a)[s:s + 5_000][seg] * t[:, None]
            col = np.floor((p[:, 0] * 1000.0 - g.x0) / g.cell).astype(np.intp)
            row = np.floor((p[:, 1] * 1000.0 - g.y0) / g.cell).astype(np.intp)
            inside = (row >= 0) & (row < g.rows) & (col >= 0) & (col < g.cols)
            land = np.zeros(len(p), dtype=bool)
            land[inside] = self.mask[row[inside], col[inside]]
            out[s:s + 5_000] = np.bincount(seg[~land], minlength=len(k)) > 0
        return out

    def pair_distances(self, x_km: FloatArray, y_km: FloatArray
                       ) -> tuple[IntArray, IntArray, FloatArray]:
        """Pairs ``i < j`` (up to ``max_km`` apart) whose straight line leaves the land,
        and their distance over land in km.

        The points are snapped to their nearest land cells (a point on an island the
        polygons leave out joins the nearest land). For a pair whose line between those
        cells leaves the land, the distance is the straight distance times the ratio of
        the shortest path over the land cells and the fixed links to the shortest path
        on an open grid (the octile distance); the ratio is at least 1 and at most
        ``max_detour``.
        """
        from scipy.sparse.csgraph import dijkstra
        from scipy.spatial import cKDTree

        x_km = np.asarray(x_km, dtype=float)
        y_km = np.asarray(y_km, dtype=float)
        empty = (np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp), np.empty(0))
        if len(x_km) < 2:
            return empty
        pts = np.column_stack([x_km, y_km])
        pairs = cKDTree(pts).query_pairs(self.max_km, output_type="ndarray")
        if len(pairs) == 0:
            return empty
        _, at = self.snap(x_km, y_km)
        i, j = pairs[:, 0].astype(np.intp), pairs[:, 1].astype(np.intp)
        a, b = at[i], at[j]
        other = a != b
        i, j, a, b = i[other], j[other], a[other], b[other]
        wet = self._crosses_water(self._xy[a], self._xy[b])
        i, j, a, b = i[wet], j[wet], a[wet], b[wet]
        if len(i) == 0:
            return empty
        dx, dy = np.abs(self._xy[a] - self._xy[b]).T
        octile = np.maximum(dx, dy) + (math.sqrt(2) - 1) * np.minimum(dx, dy)
        # search from the cell with more of the pairs, as far as the largest detour needs
        count = np.bincount(np.concatenate([a, b]), minlength=self.cells)
        flip = count[b] > count[a]
        src = np.where(flip, b, a)
        dst = np.where(flip, a, b)
        limit = octile * self.max_detour
        sources, inv = np.unique(src, return_inverse=True)
        need = np.zeros(len(sources))
        np.maximum.at(need, inv, limit)
        path = np.full(len(i), np.inf)
        order = np.argsort(need, kind="stable")
        chunk = max(1, 4_000_000 // max(self.cells, 1))
        for s in range(0, len(order), chunk):
            sel = order[s:s + chunk]
            dist = dijkstra(self._graph, directed=True, indices=sources[sel],
                            limit=float(need[sel].max()))
            row = np.full(len(sources), -1, dtype=np.intp)
            row[sel] = np.arange(len(sel))
            hit = row[inv] >= 0
            path[hit] = dist[row[inv[hit]], dst[hit]]
        ratio = np.clip(path / octile, 1.0, self.max_detour)
        straight = np.hypot(x_km[i] - x_km[j], y_km[i] - y_km[j])
        d = straight * ratio
        keep = ratio > 1.0
        return i[keep], j[keep], d[keep]
