"""Functional links between places: observed or modelled, with shares, strength and class.

One link per pair of places carries both directions: ``origin`` is the place that
sends the larger flow, so ``flow_od >= flow_do`` and the asymmetry is
``flow_od / total``. Geometry is added only at the end (:func:`links_to_lines`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ..config import (
    DEFAULT_EMPLOYMENT_RATE,
    ExponentialParams,
    LinkParams,
    MixtureParams,
    PowerParams,
)
from ..errors import ConfigError, EmptyInputError
from .flows import Flows
from .gravity import fit_gravity
from .land import PairDistances
from .places import place_coordinates

__all__ = [
    "LINK_CLASSES",
    "ModelledFlows",
    "axis_links",
    "classify_links",
    "higher_roles",
    "internal_distance",
    "link_scopes",
    "links_from_flows",
    "links_to_lines",
    "model_flows",
    "outside_destinations",
    "outside_jobs",
    "regional_links",
]

#: Link classes, strongest first.
LINK_CLASSES = ("strong", "medium", "weak")


def classify_links(strength: pd.Series, params: LinkParams | None = None) -> pd.Series:
    """Link class from the strength: ``strong``, ``medium`` or ``weak``.

    Examples
    --------
    >>> classify_links(pd.Series([0.2, 0.1, 0.01])).tolist()
    ['strong', 'medium', 'weak']
    """
    p = params or LinkParams()
    s = strength.to_numpy(dtype=float)
    cls = np.where(s >= p.strong, "strong", np.where(s >= p.medium, "medium", "weak"))
    return pd.Series(cls, index=strength.index, name="link_class", dtype=object)


def links_from_flows(
    flows: Flows,
    measures: pd.DataFrame,
    *,
    params: LinkParams | None = None,
) -> pd.DataFrame:
    """One link per pair of places from flows, with shares, strength and class.

    Parameters
    ----------
    flows
        Flows between places (intra-place flows are ignored here).
    measures
        Place measures with ``employed`` and ``jobs`` (NaN where unknown), index
        place ids. Unknown employed/jobs give NaN shares.
    params
        Thresholds for the classes and ``min_flow`` (links with a smaller total are
        dropped).

    Returns
    -------
    pandas.DataFrame
        ``origin``, ``destination`` (origin sends the larger flow; ties: smaller id
        first), ``flow_od``, ``flow_do``, ``total``, ``share_of_origin`` (flow_od /
        employed residents of the origin), ``share_of_destination`` (flow_od / jobs
        of the destination), ``strength`` (the larger of the two places' shares of
        employed residents commuting to the other: symmetric in the pair),
        ``link_class``, ``modelled``. Sorted by total, largest first.

    Examples
    --------
    >>> f = Flows.from_frame(pd.DataFrame({"origin": ["a", "b", "a"],
    ...     "destination": ["b", "a", "a"], "count": [20, 5, 75]}))
    >>> m = pd.DataFrame({"employed": [100.0, 50.0], "jobs": [80.0, 70.0]}, index=["a", "b"])
    >>> row = links_from_flows(f, m, params=LinkParams(min_flow=0)).iloc[0]
    >>> row[["origin", "flow_od", "flow_do", "strength", "link_class"]].to_dict()
    {'origin': 'a', 'flow_od': 20.0, 'flow_do': 5.0, 'strength': 0.2, 'link_class': 'strong'}
    """
    p = params or LinkParams()
    b = flows.between()
    b = b[b > 0]
    if len(b) == 0:
        return _empty_links()
    o = b.index.get_level_values(0).to_numpy(dtype=object)
    d = b.index.get_level_values(1).to_numpy(dtype=object)
    lo = np.where(o < d, o, d)
    hi = np.where(o < d, d, o)
    forward = o < d  # flow from lo to hi
    pair = pd.DataFrame({"lo": lo, "hi": hi, "f": np.where(forward, b.to_numpy(), 0.0),
                         "r": np.where(forward, 0.0, b.to_numpy())})
    g = pair.groupby(["lo", "hi"], sort=True)[["f", "r"]].sum().reset_index()
    swap = g["r"].to_numpy() > g["f"].to_numpy()
    origin = np.where(swap, g["hi"], g["lo"])
    dest = np.where(swap, g["lo"], g["hi"])
    f_od = np.where(swap, g["r"], g["f"]).astype(float)
    f_do = np.where(swap, g["f"], g["r"]).astype(float)
    emp = measures["employed"].astype(float)
    jobs = measures["jobs"].astype(float)
    emp_o = emp.reindex(origin).to_numpy()
    emp_d = emp.reindex(dest).to_numpy()
    jobs_d = jobs.reindex(dest).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        share_o = np.where(emp_o > 0, f_od / emp_o, np.nan)
        share_d = np.where(jobs_d > 0, f_od / jobs_d, np.nan)
        share_back = np.where(emp_d > 0, f_do / emp_d, np.nan)
    strength = np.fmax(share_o, share_back)
    out = pd.DataFrame({
        "origin": origin.astype(object),
        "destination": dest.astype(object),
        "flow_od": f_od,
        "flow_do": f_do,
        "total": f_od + f_do,
        "share_of_origin": share_o,
        "share_of_destination": share_d,
        "strength": strength,
    })
    out["link_class"] = classify_links(out["strength"], p).to_numpy()
    out.loc[np.isnan(strength), "link_class"] = "weak"
    out["modelled"] = bool(flows.modelled)
    out = out[out["total"] >= p.min_flow]
    out = out.sort_values(["total", "origin", "destination"], ascending=[False, True, True])
    return out.reset_index(drop=True)


def _empty_links() -> pd.DataFrame:
    return pd.DataFrame({
        "origin": pd.Series(dtype=object), "destination": pd.Series(dtype=object),
        **{c: pd.Series(dtype=float) for c in ("flow_od", "flow_do", "total",
                                               "share_of_origin", "share_of_destination",
                                               "strength")},
        "link_class": pd.Series(dtype=object), "modelled": pd.Series(dtype=bool),
    })


def internal_distance(places: pd.DataFrame, *, urban_density: float = 2200.0) -> np.ndarray:
    """Mean distance in km between two points of a place, taken as a disc.

    ``0.905 * sqrt(area / pi)`` (the mean distance between two random points of a
    disc of radius r is 128 r / (45 pi) ≈ 0.905 r). The area is ``area_ha`` when
    known, else the population at ``urban_density`` inhabitants per km².

    Examples
    --------
    >>> p = pd.DataFrame({"population": [2200 * np.pi, 1000], "area_ha": [np.nan, 400]})
    >>> internal_distance(p).round(3).tolist()
    [0.905, 1.022]
    """
    pop = places["population"].to_numpy(dtype=float)
    area = pop / urban_density
    if "area_ha" in places.columns:
        known = pd.to_numeric(places["area_ha"], errors="coerce").to_numpy(dtype=float) / 100
        area = np.where(np.isfinite(known) & (known > 0), known, area)
    return np.asarray(128.0 / (45.0 * np.pi) * np.sqrt(area / np.pi), dtype=float)


def links_to_lines(links: pd.DataFrame, places: pd.DataFrame) -> pd.DataFrame:
    """Add straight-line geometry from origin to destination point.

    Returns a GeoDataFrame in the places' CRS.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> p = gpd.GeoDataFrame(geometry=[shapely.Point(0, 0), shapely.Point(3, 4)],
    ...                      index=["a", "b"], crs=3006)
    >>> l = pd.DataFrame({"origin": ["a"], "destination": ["b"]})
    >>> links_to_lines(l, p).length.tolist()
    [5.0]
    """
    import geopandas as gpd
    import shapely

    xy = pd.DataFrame(place_coordinates(places), index=places.index, columns=["x", "y"])
    a = xy.reindex(links["origin"]).to_numpy()
    b = xy.reindex(links["destination"]).to_numpy()
    coords = np.stack([a, b], axis=1)
    lines = shapely.linestrings(coords) if len(coords) else np.empty(0, dtype=object)
    out: pd.DataFrame = gpd.GeoDataFrame(links.copy(), geometry=lines, crs=places.crs)
    return out


# --------------------------------------------------------------------------- link scopes


def higher_roles(order: Sequence[str], present: Collection[str], levels: int) -> list[str]:
    """The roles whose places regional links join: the region's higher roles.

    Of the roles that have places (in the scheme's ``order``, highest first), the
    first ``levels``, and never the lowest of them, whatever levels are present: a
    region whose places hold three roles has two higher ones (Sörmland without jobs:
    lokal kärna and serviceort over övrig tätort), one with a single role none.

    Examples
    --------
    >>> order = ["storstad", "regional_karna", "lokal_karna", "serviceort", "ovrig_tatort"]
    >>> higher_roles(order, {"regional_karna", "lokal_karna", "serviceort", "ovrig_tatort"}, 3)
    ['regional_karna', 'lokal_karna', 'serviceort']
    >>> higher_roles(order, {"lokal_karna", "serviceort", "ovrig_tatort"}, 3)
    ['lokal_karna', 'serviceort']
    >>> higher_roles(order, {"ovrig_tatort"}, 3)
    []
    """
    keys = [k for k in order if k in present]
    return keys[: max(0, min(levels, len(keys) - 1))]


def regional_links(links: pd.DataFrame, roles: pd.Series, higher: Collection[str]
                   ) -> NDArray[np.bool_]:
    """Which links join two places of the ``higher`` roles ("regionala samband").

    ``roles`` holds each place's role key, on the places' index.

    Examples
    --------
    >>> links = pd.DataFrame({"origin": ["a", "a"], "destination": ["b", "c"]})
    >>> roles = pd.Series({"a": "x", "b": "x", "c": "y"})
    >>> regional_links(links, roles, ["x"]).tolist()
    [True, False]
    """
    keys = set(higher)
    role = roles.astype(str)
    o = role.reindex(links["origin"].astype(str)).isin(keys).to_numpy()
    d = role.reindex(links["destination"].astype(str)).isin(keys).to_numpy()
    out: NDArray[np.bool_] = o & d
    return out


def axis_links(links: pd.DataFrame, regional: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """Weak regional links that carry the largest outflow of one of their places.

    A regional link is weak when it carries a small share of its places' employed
    (Helsingborg sends 4 % of its workers to Malmö) though many commuters: such a
    link is still the structure's axis when it is the largest flow out of one of its
    places (its dominant flow, in Nystuen and Dacey's sense). The maps draw those
    with the regional links; other weak links wait in the layer of weak links.

    Examples
    --------
    >>> links = pd.DataFrame({"origin": ["h", "h", "y"], "destination": ["m", "l", "m"],
    ...                       "flow_od": [1900.0, 300.0, 600.0], "flow_do": [1400.0, 900.0, 200.0],
    ...                       "link_class": ["weak", "weak", "strong"]})
    >>> axis_links(links, np.array([True, True, True])).tolist()
    [True, True, False]
    """
    n = len(links)
    if n == 0:
        return np.zeros(0, dtype=bool)
    o = links["origin"].astype(str).to_numpy()
    d = links["destination"].astype(str).to_numpy()
    out_o = pd.to_numeric(links["flow_od"], errors="coerce").fillna(0.0).to_numpy()
    out_d = pd.to_numeric(links["flow_do"], errors="coerce").fillna(0.0).to_numpy()
    ends = pd.DataFrame({"place": np.concatenate([o, d]),
                         "out": np.concatenate([out_o, out_d]),
                         "link": np.concatenate([np.arange(n), np.arange(n)])})
    ends = ends[ends["out"] > 0]
    top = ends.loc[ends.groupby("place")["out"].idxmax(), "link"].to_numpy()
    dominant = np.zeros(n, dtype=bool)
    dominant[top] = True
    weak = (links["link_class"].astype(str) == "weak").to_numpy()
    out: NDArray[np.bool_] = weak & np.asarray(regional, dtype=bool) & dominant
    return out


def link_scopes(links: pd.DataFrame, roles: pd.Series, order: Sequence[str], *,
                levels: int) -> pd.DataFrame:
    """The scope of each link: ``regional`` and ``axis``, on the links' index.

    ``regional``: both places hold one of the region's higher roles
    (:func:`higher_roles` of the roles present, at most ``levels`` of them);
    ``axis``: a weak regional link that is the largest flow out of one of its places
    (:func:`axis_links`). Computed once, when the image is built; every map and the
    GeoPackage draw from these columns.

    Parameters
    ----------
    links
        ``origin``, ``destination``, ``flow_od``, ``flow_do``, ``link_class``.
    roles
        Each place's role key, on the places' index.
    order
        The scheme's role keys, highest first.
    levels
        At most this many of the highest roles present are higher roles (the maps'
        ``label_roles``).

    Examples
    --------
    >>> links = pd.DataFrame({"origin": ["a", "a", "b"], "destination": ["b", "c", "c"],
    ...                       "flow_od": [5.0, 9.0, 4.0], "flow_do": [1.0, 1.0, 1.0],
    ...                       "link_class": ["weak", "strong", "strong"]})
    >>> roles = pd.Series({"a": "x", "b": "x", "c": "y"})
    >>> link_scopes(links, roles, ["x", "y"], levels=3).to_dict("list")
    {'regional': [True, False, False], 'axis': [False, False, False]}
    """
    present = {str(k) for k in roles.dropna()}
    regional = regional_links(links, roles, higher_roles(order, present, levels))
    return pd.DataFrame({"regional": regional, "axis": axis_links(links, regional)},
                        index=links.index)


# --------------------------------------------------------------------------- modelled flows
#
# The model is computed on blocks of places (origins x destinations) without ever
# holding the n x n table: each origin's flows need only two sums over all
# destinations (one per group), so a first pass over the blocks gathers those sums and
# a second makes the flows, each place's jobs, and keeps the pairs from ``min_flow`` on.
# Distances and decays are symmetric, so each block is computed once for both
# directions (blocks on and above the diagonal only). The places are put in Z-order
# first, so that a block holds places near each other and a block of places far apart
# can be passed over when no pair in it can reach ``min_flow`` (its jobs still count).
# Hand-written rather than a KD-tree search: with no distance cut-off every pair counts
# in the sums.

#: Pairs of places in one block (origins x destinations): 2^15 (181 x 181), 256 KB per
#: array: small blocks are passed over more often, and fit in the processor's cache.
_BLOCK_PAIRS = 2**15
#: Places under this many inhabitants are villages: the jobs outside the places are
#: estimated in proportion to the kommun's village population (:func:`outside_jobs`).
VILLAGE_POPULATION = 1_000.0
#: ``own_share`` is the own-place share of a place of this many inhabitants.
OWN_SHARE_POPULATION = 10_000.0
#: The calibration keeps the distances of up to this many pairs between its steps.
_FIT_CACHE_PAIRS = 10_000_000
#: Report progress (at every 10 %) from this many pairs of places on (5 000 places).
_PROGRESS_PAIRS = 25_000_000

Progress = Callable[[str], None]
FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class ModelledFlows:
    """The result of the commuting model (:func:`model_flows`).

    Attributes
    ----------
    flows
        Modelled flows (``modelled=True``): every place's flow to itself and every
        pair of places whose flows in both directions add up to ``min_flow`` or more.
    employed
        Employed residents of each place: all its modelled flows added up (the
        pairs left out included).
    jobs
        Modelled jobs of each place: all flows into it (the pairs left out included).
    params
        The model and the parameter values used (fitted ones when calibrated).
    outside
        Flows from the places to the destinations outside them (the jobs outside any
        tätort, one destination per kommun, named by its ``area_id``): they count in
        each place's employed residents and out-commuting, draw no link. Pairs kept
        from ``min_flow`` on, as for the places.
    outside_jobs
        The modelled jobs (all flows in) of each outside destination.
    """

    flows: Flows
    employed: pd.Series
    jobs: pd.Series
    params: dict[str, Any]
    outside: Flows | None = None
    outside_jobs: pd.Series | None = None


@dataclass(frozen=True)
class _Places:
    """What the model needs of the places (and of the destinations outside them): km
    coordinates, distance to itself, population, destination mass, the bound on what a
    place keeps (its jobs; inf where none), the spread of a destination over an area
    (km; 0 for a place), län and kommun, and the distances that replace the straight
    line for some pairs (a sparse matrix in km, or None)."""

    x: FloatArray
    y: FloatArray
    internal: FloatArray
    population: FloatArray
    lan: NDArray[np.intp]
    area: NDArray[np.intp]
    mass: FloatArray
    bound: FloatArray
    spread: FloatArray
    detour: Any = None

    def sq_distances(self, rows: NDArray[np.intp], c0: int, c1: int
                     ) -> tuple[FloatArray, tuple[NDArray[np.intp], NDArray[np.intp]]]:
        """Squared distances in km² from the places ``rows`` to the places ``c0:c1``
        (a place's distance to itself is its internal distance), and where the places
        meet themselves in the block."""
        # not np.hypot: it is several times slower than the sum of squares
        d2: FloatArray = self.x[rows, None] - self.x[None, c0:c1]
        d2 *= d2
        dy = self.y[rows, None] - self.y[None, c0:c1]
        dy *= dy
        d2 += dy
        if self.detour is not None:  # over land (or a network) where it is not straight
            if len(rows) and rows[-1] - rows[0] + 1 == len(rows):  # a block: slice it
                sub = self.detour[int(rows[0]):int(rows[-1]) + 1, c0:c1].tocoo()
            else:
                sub = self.detour[rows][:, c0:c1].tocoo()
            d2[sub.row, sub.col] = sub.data ** 2
        if self.spread[rows].any() or self.spread[c0:c1].any():
            # a destination spread over an area: sqrt(d² + s²) is the mean distance to
            # it at d = 0 (s = 2/3 of the disc's radius) and d itself far away
            d2 += self.spread[rows, None] ** 2
            d2 += self.spread[None, c0:c1] ** 2
        own = (rows >= c0) & (rows < c1)
        pos = (np.flatnonzero(own), rows[own] - c0)
        d2[pos] = self.internal[rows[own]] ** 2
        return d2, pos

    def pair_distances(self, oi: NDArray[np.intp], dj: NDArray[np.intp]) -> FloatArray:
        """Distances in km between the places ``oi`` and ``dj`` (pairwise, i != j)."""
        d2 = (self.x[oi] - self.x[dj]) ** 2 + (self.y[oi] - self.y[dj]) ** 2
        if self.detour is not None and len(oi):
            over = np.asarray(self.detour[oi, dj]).ravel()
            d2 = np.where(over > 0, over**2, d2)
        out: FloatArray = np.sqrt(d2 + self.spread[oi] ** 2 + self.spread[dj] ** 2)
        return out

    def borders(self, rows: NDArray[np.intp], c0: int, c1: int) -> NDArray[np.int8]:
        """Borders between the places ``rows`` and ``c0:c1``: 0 in one kommun (or where
        either is not known), 1 another kommun in the same län, 2 another län (and so
        another kommun: the län is the kommun code's start)."""
        out: NDArray[np.int8] = np.zeros((len(rows), c1 - c0), dtype=np.int8)
        for code in (self.lan, self.area):
            a, b = code[rows, None], code[None, c0:c1]
            differ = a != b
            if (a < 0).any() or (b < 0).any():
                differ &= (a >= 0) & (b >= 0)
            out += differ
        return out

    def take(self, order: NDArray[np.intp]) -> _Places:
        detour = None if self.detour is None else self.detour[order][:, order].tocsr()
        return _Places(self.x[order], self.y[order], self.internal[order],
                       self.population[order], self.lan[order], self.area[order],
                       self.mass[order], self.bound[order], self.spread[order], detour)


def _area_codes(places: pd.DataFrame, chars: int | None) -> NDArray[np.intp]:
    """Kommun (``chars`` None) or län (``chars`` 2: SCB's kommun code starts with the
    län code) of each place as an integer from ``area_id``; -1 where ``area_id`` is not
    known (no border is then counted)."""
    if "area_id" not in places.columns:
        return np.full(len(places), -1, dtype=np.intp)
    area = places["area_id"].astype("string").str.strip()
    known = (area.notna() & (area != "")).to_numpy(dtype=bool)
    codes = pd.factorize((area.str[:chars] if chars else area).fillna(""))[0].astype(np.intp)
    out: NDArray[np.intp] = np.where(known, codes, -1)
    return out


def _z_order(x: FloatArray, y: FloatArray) -> NDArray[np.intp]:
    """Places in Z-order (Morton order on a 2^16 grid): consecutive places lie near
    each other. Bit interleaving as in Morton (1966); stable, so it is deterministic."""

    def spread(v: NDArray[np.uint64]) -> NDArray[np.uint64]:
        for shift, mask in ((16, 0x0000FFFF0000FFFF), (8, 0x00FF00FF00FF00FF),
                            (4, 0x0F0F0F0F0F0F0F0F), (2, 0x3333333333333333),
                            (1, 0x5555555555555555)):
            v = np.bitwise_and(v | (v << np.uint64(shift)), np.uint64(mask))
        return v

    def grid(v: FloatArray) -> NDArray[np.uint64]:
        span = float(v.max() - v.min()) or 1.0
        out: NDArray[np.uint64] = ((v - v.min()) * (65535 / span)).astype(np.uint64)
        return out

    code = spread(grid(x)) | (spread(grid(y)) << np.uint64(1))
    return np.argsort(code, kind="stable")


def _decay(d2: FloatArray, borders: NDArray[np.int8] | None, p: LinkParams,
           own: tuple[NDArray[np.intp], NDArray[np.intp]] | None = None
           ) -> tuple[FloatArray, FloatArray | None]:
    """Decay weights of a block from its squared distances (overwritten): the regional
    (or only) group's and the long-range group's (None but for the mixture), border
    damping (``borders``, see :meth:`_Places.borders`) and cut-off included; ``own``
    (where places meet themselves) is never cut."""
    h: FloatArray | None = None
    m = p.form
    if isinstance(m, MixtureParams):
        q = d2 * (1.0 / m.d50_km**2)  # (d / d50)^2
        if m.decay_exponent == 4.0:  # the default: one squaring, much faster than power
            q *= q
        else:
            np.power(q, m.decay_exponent / 2.0, out=q)
        q += 1.0
        g: FloatArray = np.reciprocal(q, out=q)
        h = np.sqrt(d2)
        h *= -1.0 / m.long_km
        np.exp(h, out=h)
        if borders is not None and (m.lan_border > 0 or m.kommun_border > 0):
            # the regional group is damped across kommun and län borders, the long-range
            # group across län borders only
            lan, kommun = math.exp(-m.lan_border), math.exp(-m.kommun_border)
            g *= np.take(np.array([1.0, kommun, kommun * lan]), borders)
            if m.lan_border > 0:
                h *= np.take(np.array([1.0, 1.0, lan]), borders)
    elif isinstance(m, ExponentialParams):
        g = np.sqrt(d2)
        g *= -m.beta
        np.exp(g, out=g)
    else:
        g = np.maximum(np.sqrt(d2), 1.0) ** -_power(p).beta
    if p.max_distance_km is not None:
        far = d2 > p.max_distance_km**2
        if own is not None:
            far[own] = False  # what stays at home
        g[far] = 0.0
        if h is not None:
            h[far] = 0.0
    return g, h


def _decay_at(d: float, p: LinkParams) -> tuple[float, float]:
    """The two groups' decay at one distance, without border damping (an upper bound)."""
    if p.max_distance_km is not None and d > p.max_distance_km:
        return 0.0, 0.0
    m = p.form
    if isinstance(m, MixtureParams):
        return 1.0 / (1.0 + (d / m.d50_km) ** m.decay_exponent), math.exp(-d / m.long_km)
    if isinstance(m, ExponentialParams):
        return math.exp(-m.beta * d), 0.0
    return max(d, 1.0) ** -_power(p).beta, 0.0


def _power(p: LinkParams) -> PowerParams:
    """The power form's parameters (what is left when the form is neither of the
    others)."""
    assert isinstance(p.form, PowerParams)
    return p.form


def _own_shares(pop: FloatArray, p: LinkParams) -> FloatArray:
    """The share of each place's employed residents who work in it whatever the
    geography: ``own_share * (population / 10 000) ** own_share_exponent``, at most
    ``1 - long_share`` (0 but for the mixture)."""
    m = p.form
    if not isinstance(m, MixtureParams):
        return np.zeros_like(pop)
    scale = np.ones_like(pop)
    if m.own_share_exponent != 0:
        big = pop > 0
        scale[big] = (pop[big] / OWN_SHARE_POPULATION) ** m.own_share_exponent
    out: FloatArray = np.minimum(m.own_share * scale, 1.0 - m.long_share)
    return out


def _masses(mass: FloatArray, p: LinkParams) -> tuple[FloatArray, FloatArray]:
    """Destination masses of the two groups from the jobs (or the population where no
    jobs are known): ``mass ** gamma`` and ``mass ** long_gamma`` (0 where the mass is
    0)."""
    m = p.form
    if not isinstance(m, MixtureParams):
        return mass.copy(), mass.copy()
    big = mass > 0
    return (np.where(big, mass ** m.gamma, 0.0),
            np.where(big, mass ** m.long_gamma, 0.0) if m.long_gamma != 1.0 else mass.copy())


class _Blocks:
    """The blocks of consecutive places, their bounding boxes, and the pairs of blocks
    on and above the diagonal."""

    def __init__(self, pl: _Places) -> None:
        n = len(pl.population)
        size = max(64, min(n, math.isqrt(_BLOCK_PAIRS)))
        self.bounds = [(a, min(n, a + size)) for a in range(0, n, size)]
        self.box = np.array([(pl.x[a:b].min(), pl.x[a:b].max(), pl.y[a:b].min(),
                              pl.y[a:b].max()) for a, b in self.bounds])
        nb = len(self.bounds)
        self.pairs = [(a, b) for a in range(nb) for b in range(a, nb)]

    def gap(self, a: int, b: int) -> float:
        """The shortest distance between two blocks' bounding boxes (km)."""
        x0, x1, y0, y1 = self.box[a]
        u0, u1, v0, v1 = self.box[b]
        return math.hypot(max(0.0, u0 - x1, x0 - u1), max(0.0, v0 - y1, y0 - v1))


class _Reporter:
    """Progress of a long pass over the blocks, at every 10 % (only for large inputs)."""

    def __init__(self, progress: Progress | None, n: int, total: int, what: str) -> None:
        self.say = progress if progress is not None and n * n >= _PROGRESS_PAIRS else None
        self.total, self.what, self.done, self.next = total, what, 0, 1

    def step(self) -> None:
        self.done += 1
        if self.say is not None and self.done * 10 >= self.next * self.total:
            self.say(f"{self.what}: {100 * self.done // self.total} %")
            self.next = 10 * self.done // self.total + 1


def _row_sums(pl: _Places, blocks: _Blocks, p: LinkParams, m_reg: FloatArray,
              m_long: FloatArray, progress: Progress | None) -> tuple[FloatArray, FloatArray]:
    """First pass: each origin's sums of destination mass times decay, per group."""
    n = len(m_reg)
    s_reg, s_long = np.zeros(n), np.zeros(n)
    mixture = isinstance(p.form, MixtureParams)
    report = _Reporter(progress, n, len(blocks.pairs),
                       f"modelled flows between {n:,} places, pass 1 of 2")
    for a, b in blocks.pairs:
        report.step()
        if a != b and p.max_distance_km is not None and \
                blocks.gap(a, b) > p.max_distance_km:
            continue
        (r0, r1), (c0, c1) = blocks.bounds[a], blocks.bounds[b]
        rows = np.arange(r0, r1)
        d2, own = pl.sq_distances(rows, c0, c1)
        g, h = _decay(d2, pl.borders(rows, c0, c1) if mixture else None, p, own)
        s_reg[r0:r1] += g @ m_reg[c0:c1]
        if a != b:
            s_reg[c0:c1] += m_reg[r0:r1] @ g
        if h is not None:
            s_long[r0:r1] += h @ m_long[c0:c1]
            if a != b:
                s_long[c0:c1] += m_long[r0:r1] @ h
    return s_reg, s_long


def _balancing(pl: _Places, p: LinkParams, production: FloatArray, s_reg: FloatArray,
               s_long: FloatArray, m_reg: FloatArray, m_long: FloatArray
               ) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Each origin's own flow and its balancing constants of the regional and the
    long-range group, from the destinations' weighted sums ``s_reg``, ``s_long``:
    ``T_ij = c_reg_i m_reg_j g_ij + c_long_i m_long_j h_ij (+ own_i if i = j)``."""
    own = np.zeros(len(production))
    c_long = np.zeros(len(production))
    if isinstance(p.form, MixtureParams):
        share = _own_shares(pl.population, p)
        c_reg = _ratio(production * (1.0 - share - p.form.long_share), s_reg)
        c_long = _ratio(production * p.form.long_share, s_long)
        own = production * share
    elif p.model == "production":
        c_reg = _ratio(production, s_reg)
    else:  # T_ij = k P_i P_j f(d_ij), k such that the flows add up to the employed
        total = float(pl.population @ s_reg)
        c_reg = pl.population * (production.sum() / total if total > 0 else 0.0)
    if p.model == "production" and np.isfinite(pl.bound).any():
        own, c_reg, c_long = _bound_own(pl, p, production, own, c_reg, c_long, m_reg,
                                        m_long)
    return own, c_reg, c_long


def _ratio(num: FloatArray, den: FloatArray) -> FloatArray:
    out: FloatArray = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    return out


def _bound_own(pl: _Places, p: LinkParams, production: FloatArray, own: FloatArray,
               c_reg: FloatArray, c_long: FloatArray, m_reg: FloatArray, m_long: FloatArray
               ) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Bound each place's flow to itself by its jobs: where the model keeps more of a
    place's employed residents at home than the place has jobs, it keeps as many as the
    jobs and sends the rest out in proportion to its flows to the other destinations.

    A place's flow to itself is ``own_i + c_reg_i m_reg_i g_ii + c_long_i m_long_i h_ii``
    (``g_ii``, ``h_ii``: the decays at its internal distance). Scaling ``c_reg_i`` and
    ``c_long_i`` by ``k_i = (E_i - J_i) / (E_i - S_i)`` scales every flow to another
    destination; ``own_i`` is then set so that the flow to itself is ``J_i`` (it may go
    below 0: it is only the correction of the diagonal, never a flow of its own).
    """
    d2 = (pl.internal**2)[None, :]
    g, h = _decay(d2.copy(), None, p, (np.zeros(len(own), np.intp), np.arange(len(own))))
    diag = c_reg * m_reg * g[0]
    if h is not None:
        diag = diag + c_long * m_long * h[0]
    stay = own + diag
    away = production - stay
    over = (stay > pl.bound) & (away > 0)
    if not over.any():
        return own, c_reg, c_long
    k = np.ones(len(own))
    k[over] = (production[over] - pl.bound[over]) / away[over]
    c_reg, c_long = c_reg * k, c_long * k
    own = np.where(over, pl.bound - diag * k, own)
    return own, c_reg, c_long


def _model(pl_in: _Places, p: LinkParams, production_in: FloatArray, min_flow: float,
           progress: Progress | None
           ) -> tuple[NDArray[np.intp], NDArray[np.intp], FloatArray, FloatArray, FloatArray]:
    """The flows kept (origin and destination positions, count, sorted), and every
    place's employed residents (all its outflow) and jobs (all its inflow)."""
    n = len(production_in)
    # the places in Z-order, then the destinations outside them (which send no one) in
    # their own blocks: mixed in, their large masses would keep blocks of places far
    # apart from being passed over
    sends = production_in > 0
    inner, outer = np.flatnonzero(sends | (pl_in.spread == 0)), np.flatnonzero(
        ~sends & (pl_in.spread > 0))
    order = np.concatenate([inner[_z_order(pl_in.x[inner], pl_in.y[inner])],
                            outer[_z_order(pl_in.x[outer], pl_in.y[outer])]
                            if len(outer) else outer]).astype(np.intp)
    pl, production = pl_in.take(order), production_in[order]
    blocks = _Blocks(pl)
    m_reg, m_long = _masses(pl.mass, p)
    s_reg, s_long = _row_sums(pl, blocks, p, m_reg, m_long, progress)
    own, c_reg, c_long = _balancing(pl, p, production, s_reg, s_long, m_reg, m_long)
    # T_ij = c_reg_i m_reg_j g_ij + c_long_i m_long_j h_ij (+ own_i if i = j)
    employed = own + c_reg * s_reg + c_long * s_long
    jobs = own.copy()
    mixture = isinstance(p.form, MixtureParams)
    found: list[tuple[NDArray[np.intp], NDArray[np.intp], FloatArray]] = []
    # the largest flow any place sends to another, per block: for passing blocks over
    top = [(float(c_reg[r0:r1].max()), float(m_reg[r0:r1].max()), float(c_long[r0:r1].max()),
            float(m_long[r0:r1].max())) for r0, r1 in blocks.bounds]
    report = _Reporter(progress, n, len(blocks.pairs),
                       f"modelled flows between {n:,} places, pass 2 of 2")
    for a, b in blocks.pairs:
        report.step()
        gap = blocks.gap(a, b)
        if a != b and p.max_distance_km is not None and gap > p.max_distance_km:
            continue
        (r0, r1), (c0, c1) = blocks.bounds[a], blocks.bounds[b]
        rows = np.arange(r0, r1)
        d2, pos = pl.sq_distances(rows, c0, c1)
        g, h = _decay(d2, pl.borders(rows, c0, c1) if mixture else None, p, pos)
        jobs[c0:c1] += m_reg[c0:c1] * (c_reg[r0:r1] @ g)
        if a != b:
            jobs[r0:r1] += m_reg[r0:r1] * (g @ c_reg[c0:c1])
        if h is not None:
            jobs[c0:c1] += m_long[c0:c1] * (c_long[r0:r1] @ h)
            if a != b:
                jobs[r0:r1] += m_long[r0:r1] * (h @ c_long[c0:c1])
        if a != b:
            fg, fh = _decay_at(gap, p)
            (cr, mr, cl, ml), (cr2, mr2, cl2, ml2) = top[a], top[b]
            if (cr * mr2 + cr2 * mr) * fg + (cl * ml2 + cl2 * ml) * fh < min_flow:
                continue  # no pair of this block reaches min_flow
        # t[i, j]: flow i -> j; u[i, j]: flow j -> i (the same pairs the other way)
        t = np.multiply.outer(c_reg[r0:r1], m_reg[c0:c1])
        t *= g
        if h is not None:
            tl = np.multiply.outer(c_long[r0:r1], m_long[c0:c1])
            tl *= h
            t += tl
        if a == b:
            t[pos] += own[r0:r1]
            found.append((rows, rows, t[pos].copy()))  # every place's flow to itself
            t[pos] = 0.0
            kept = (t + t.T) >= min_flow
            kept[pos] = False
            i, j = np.nonzero(kept)
            found.append((r0 + i, c0 + j, t[i, j]))
            continue
        u = np.multiply.outer(m_reg[r0:r1], c_reg[c0:c1])
        u *= g
        if h is not None:
            ul = np.multiply.outer(m_long[r0:r1], c_long[c0:c1])
            ul *= h
            u += ul
        i, j = np.nonzero((t + u) >= min_flow)
        found.append((r0 + i, c0 + j, t[i, j]))
        found.append((c0 + j, r0 + i, u[i, j]))
    oi = order[np.concatenate([f[0] for f in found])]
    dj = order[np.concatenate([f[1] for f in found])]
    count = np.concatenate([f[2] for f in found])
    keep = (count > 0) | (oi == dj)
    oi, dj, count = oi[keep], dj[keep], count[keep]
    sort = np.lexsort((dj, oi))
    back = np.empty(n, dtype=np.float64), np.empty(n, dtype=np.float64)
    back[0][order], back[1][order] = employed, jobs
    return oi[sort], dj[sort], count[sort], back[0], back[1]


# --------------------------------------------------------------------------- many places
#
# From :data:`GRID_PLACES` places on, the passes above would take time that grows with
# the square of the places (200,000 places: 2 * 10^10 pairs, some ten minutes). There
# each decay K is split into a part that vanishes beyond ``R`` (:data:`NEAR_KM`) and a
# smooth rest, ``K = K (1 - u⁴)^4 + K (1 - (1 - u⁴)^4)`` with ``u = d / R`` (the second
# term is all of K beyond R, and flat at 0): the first is summed exactly over the pairs
# of places closer than R, on the same blocks as above; the second, smooth over
# distances of R, is summed on a grid of :data:`GRID_KM` cells (the places' weights
# spread to the grid and the sums read back by cubic interpolation, the grid convolved
# with the decay by FFT: the particle-mesh split of Hockney & Eastwood, "Computer
# simulation using particles", 1988); what the grid makes of a place's pair with itself
# is taken off (:meth:`_Grid.transform`). Border damping splits the smooth part into
# sums over all places, over the places of the same län and of the same kommun
# (exp(-kommun_border) and exp(-lan_border) are constants), each on its own grid (a
# small one pair by pair); the exact part applies it pair by pair. The destination mass
# (jobs, known or estimated, to the power gamma or long_gamma) is the weight summed. The
# own flow is bounded from the sums as :func:`_model` bounds it. The destinations
# outside the places (one per kommun: few, spread over an area) are summed exactly with
# every place (:class:`_Outside`). The pairs whose distance is over land are summed at
# their straight distance and then made exact pair by pair (:class:`_Detours`). The
# pairs kept (from ``min_flow`` on) and every place's flow to itself are computed
# exactly from the sums. Against the exact model on 6,000 synthetic places
# (tests/test_scale.py, which allows 0.1 % for jobs, 0.2 % for flows), jobs differ by at
# most 1.5e-4 relative (mixture; 3e-4 for the exponential decay) and kept flows by at
# most 5e-4 (6.5e-4 exponential), with jobs, the own bound, outside destinations and
# land detours alike; on SCB's 2,017 tätorter over land 4e-5 and 2.3e-4. Time grows
# like n times the places within R of each (and n times the kommuner). With a cut-off
# (``max_distance_km``) the decay is not smooth: every pair within it is summed
# exactly. Hand-written: no maintained library sums an arbitrary radial decay over
# points with group-dependent factors (scipy gives the FFTs).

#: From this many places on the model's sums are made by the near/grid split (below:
#: exactly, as before; SCB's 2,017 tätorter stay exact).
GRID_PLACES = 5_000
#: Pairs of places closer than this (km) are summed exactly.
NEAR_KM = 30.0
#: The grid's cell (km).
GRID_KM = 1.5
#: At most this many cells in one grid (a wider spread of places gets coarser cells).
_GRID_CELLS = 2**22
#: A decay on a grid: its Fourier transform, and each place's pair with itself.
_Kernel = tuple[NDArray[np.complex128], FloatArray]


def _near_factor(d2: FloatArray, radius: float) -> FloatArray:
    """``(1 - d⁴/R⁴)^4`` within R, 0 beyond: the exactly summed share of a decay (its
    complement is flat at 0 to fourth order, so the exponential decays' kink at 0
    does not reach the grid)."""
    q = d2 * (1.0 / radius**2)
    u = np.clip(1.0 - q * q, 0.0, None)
    u *= u
    u *= u
    return u


def _lagrange(t: FloatArray) -> FloatArray:
    """Cubic Lagrange weights of the four grid nodes ``-1, 0, 1, 2`` around a point at
    ``t`` in [0, 1) from node 0, shape ``(n, 4)``."""
    return np.column_stack([-t * (t - 1) * (t - 2) / 6, (t + 1) * (t - 1) * (t - 2) / 2,
                            -(t + 1) * t * (t - 2) / 2, (t + 1) * t * (t - 1) / 6])


class _Grid:
    """Smooth sums on a grid: ``out[i] = sum_j w_j F(|x_i - x_j|)`` for places of one
    group, F the smooth part of the decays (see the section comment)."""

    def __init__(self, x: FloatArray, y: FloatArray, cell: float,
                 on: _Grid | None = None) -> None:
        x0, y0 = float(x.min()), float(y.min())
        span = max(float(x.max()) - x0, float(y.max()) - y0, cell)
        self.cell = max(cell, span / math.sqrt(_GRID_CELLS))
        if on is not None:  # the nodes of ``on`` (a group's grid): a place's 4 x 4 nodes
            # and weights are then the same on both grids
            self.cell = on.cell
            x0 = on.x0 + math.floor((x0 - on.x0) / self.cell) * self.cell
            y0 = on.y0 + math.floor((y0 - on.y0) / self.cell) * self.cell
        self.x0: float = x0
        self.y0: float = y0
        ux, uy = (x - x0) / self.cell, (y - y0) / self.cell
        bx, by = np.floor(ux), np.floor(uy)
        self.base = (by.astype(np.intp), bx.astype(np.intp))
        self.shape = (int(by.max()) + 4, int(bx.max()) + 4)
        wx, wy = _lagrange(ux - bx), _lagrange(uy - by)
        # node (by + a, bx + b) of the 4 x 4 around each place, flat, and its weight
        ia, ib = np.meshgrid(np.arange(4), np.arange(4), indexing="ij")
        rows = by.astype(np.intp)[:, None] + ia.ravel()[None, :]
        cols = bx.astype(np.intp)[:, None] + ib.ravel()[None, :]
        self.node = rows * self.shape[1] + cols
        self.weight = wy[:, ia.ravel()] * wx[:, ib.ravel()]
        self._stencil = (ia.ravel(), ib.ravel())

    def offsets(self) -> FloatArray:
        """Squared distances (km²) of the node offsets of the padded grid, wrapped
        around (offset ``k`` and ``k - size`` alike), for a circular convolution that
        equals the plain one on the grid."""
        from scipy.fft import next_fast_len

        ny, nx = self.shape
        self.padded = (next_fast_len(2 * ny - 1, real=True),
                       next_fast_len(2 * nx - 1, real=True))

        def wrapped(size: int) -> FloatArray:
            k = np.arange(size)
            out: FloatArray = (np.minimum(k, size - k) * self.cell) ** 2
            return out

        out: FloatArray = wrapped(self.padded[0])[:, None] + wrapped(self.padded[1])[None, :]
        return out

    def transform(self, kernel: FloatArray) -> _Kernel:
        """The decay on :meth:`offsets`, Fourier-transformed once for every sum, and
        what the grid makes of each place's pair with itself.

        Spread to its 4 x 4 nodes and read back from them, a place meets itself at the
        nodes' offsets (up to three cells): ``sum_ab W_a W_b F(node_a - node_b)``,
        where the smooth part is 0 (the pair with itself is all in the exact part).
        Next to an isolated place's own mass that is the grid's largest error (the
        exponential decay's 4.5 km, three cells, is still 0.64), and the own-flow bound
        magnifies it in the flows to the others; it is known exactly, so it is taken
        off."""
        from scipy.fft import rfft2

        fft: NDArray[np.complex128] = rfft2(kernel)
        ia, ib = self._stencil
        near = kernel[(ia[:, None] - ia[None, :]) % kernel.shape[0],
                      (ib[:, None] - ib[None, :]) % kernel.shape[1]]
        itself: FloatArray = np.einsum("ia,ab,ib->i", self.weight, near, self.weight)
        return fft, itself

    def sums(self, w: FloatArray, kernel: _Kernel) -> FloatArray:
        """``sum_j w_j F(|x_i - x_j|)`` at every place, ``j = i`` left out (``kernel``
        from :meth:`transform`)."""
        from scipy.fft import irfft2, rfft2

        ny, nx = self.shape
        mass = np.bincount(self.node.ravel(), weights=(self.weight * w[:, None]).ravel(),
                           minlength=ny * nx).reshape(self.shape)
        field = irfft2(rfft2(mass, s=self.padded) * kernel[0], s=self.padded)[:ny, :nx]
        out: FloatArray = (field.ravel()[self.node] * self.weight).sum(axis=1)
        out -= w * kernel[1]
        return out


class _SplitSums:
    """The model's sums over all places for many places: ``s_reg[i] = sum_j w_reg[j]
    g(d_ij) b_ij`` (border damping ``b``) and ``s_long`` likewise, by the near/grid
    split (see the section comment). ``pl``: the places alone, in Z-order, straight
    distances; the pairs of ``detours`` (over land) are then corrected exactly."""

    def __init__(self, pl: _Places, blocks: _Blocks, p: LinkParams,
                 detours: _Detours | None = None) -> None:
        self.pl, self.blocks, self.p, self.detours = pl, blocks, p, detours
        # with a cut-off the decays are not smooth there: every pair within it exact
        cut = p.max_distance_km
        self.exact = cut is not None
        self.radius: float = cut if cut is not None else NEAR_KM
        m = p.form
        self.mixture = isinstance(m, MixtureParams)
        self.known = pl.area >= 0
        self.damp = isinstance(m, MixtureParams) and (m.lan_border > 0 or m.kommun_border > 0) \
            and bool(self.known.any())
        # the kommun and län border factors (1 without damping)
        self.kk = math.exp(-m.kommun_border) if isinstance(m, MixtureParams) and self.damp \
            else 1.0
        self.kl = math.exp(-m.lan_border) if isinstance(m, MixtureParams) and self.damp else 1.0
        self.grids: list[tuple[NDArray[np.intp], _Grid, str]] = []
        self.small: list[tuple[list[NDArray[np.intp]], str]] = []
        # the places whose län (kommun) has a grid of its own, not summed pair by pair
        self.gridded = {kind: np.zeros(len(pl.x), dtype=bool) for kind in ("lan", "kommun")}
        if not self.exact:
            everyone = _Grid(pl.x, pl.y, GRID_KM)
            # places spread so wide that the grid's cells grow: R grows with them
            self.radius = max(NEAR_KM, NEAR_KM * everyone.cell / GRID_KM)
            self.grids.append((np.arange(len(pl.x)), everyone, "all"))
            if self.damp:
                for code, kind in ((pl.lan, "lan"), (pl.area, "kommun")):
                    small = []
                    for members in _groups(np.where(self.known, code, -1)):
                        if len(members) > _SMALL_GROUP:
                            self.grids.append((members, _Grid(pl.x[members], pl.y[members],
                                                              everyone.cell, everyone), kind))
                            self.gridded[kind][members] = True
                        elif len(members) > 1:  # one place alone: its own share is 0
                            small.append(members)
                    self.small.append((small, kind))
        nb = len(blocks.bounds)
        a, b = np.triu_indices(nb)
        near = _block_gaps(blocks, a, b) <= self.radius
        self.near = list(zip(a[near].tolist(), b[near].tolist(), strict=True))
        self._kernels: dict[int, tuple[_Kernel, _Kernel | None]] = {}
        self._fix = self._detour_terms() if detours is not None and len(detours) else None

    def _detour_terms(self) -> tuple[FloatArray, FloatArray | None]:
        """What each pair of :attr:`detours` changes in the sums (without the weights):
        its decay over land less all that the near part and the grids add for it at the
        straight distance, so that the pair is exact.

        The near part adds ``b K(d) (1 - u⁴)^4``. Each grid adds the interpolated smooth
        part ``F~_ij = sum_ab W_ia W_jb F(node_a - node_b)`` (the nodes and weights are
        the same on every grid: the groups' grids lie on the nodes of the first) times
        its factor: ``exp(-kommun_border - lan_border)`` on the grid of all places (1
        where a kommun is not known), the rest of the damping ``b_ij`` on the grids of
        the pair's län and kommun; a small län or kommun adds the smooth part itself
        instead, pair by pair."""
        det, p, pl = self.detours, self.p, self.pl
        assert det is not None
        i, j = det.i, det.j
        d2 = (pl.x[i] - pl.x[j]) ** 2 + (pl.y[i] - pl.y[j]) ** 2
        border = det.borders
        g_land, h_land = _decay(det.d**2, border, p)
        g_line, h_line = _decay(d2.copy(), border, p)
        if self.exact:  # with a cut-off every pair is in the near part, at the line
            return g_land - g_line, None if h_land is None or h_line is None \
                else h_land - h_line
        share = _near_factor(d2, self.radius)
        dg = g_land - g_line * share
        dh = None if h_land is None or h_line is None else h_land - h_line * share
        # the smooth part, exact and as the grid interpolates it
        uncut = replace(p, max_distance_km=None)
        f_g, f_h = _decay(d2.copy(), None, uncut)
        far = 1.0 - share
        f_g = f_g * far
        f_h = None if f_h is None else f_h * far
        t_g, t_h = self._interpolated(i, j, uncut)
        # each grid's factor, and what the small groups add pair by pair
        ones = np.ones(len(i))
        on_g, exact_g, on_h, exact_h = ones.copy(), np.zeros(len(i)), ones.copy(), \
            np.zeros(len(i))
        if self.damp:
            kk, kl = self.kk, self.kl
            both = self.known[i] & self.known[j]
            on_g = np.where(both, kk * kl, 1.0)
            on_h = np.where(both, kl, 1.0)
            for code, kind, fg, fh in ((pl.lan, "lan", kk * (1 - kl), 1 - kl),
                                       (pl.area, "kommun", 1 - kk, 0.0)):
                same = both & (code[i] == code[j])
                big = same & self.gridded[kind][i]
                on_g += np.where(big, fg, 0.0)
                exact_g += np.where(same & ~big, fg, 0.0)
                on_h += np.where(big, fh, 0.0)
                exact_h += np.where(same & ~big, fh, 0.0)
        dg -= t_g * on_g + f_g * exact_g
        if dh is not None and t_h is not None and f_h is not None:
            dh -= t_h * on_h + f_h * exact_h
        return dg, dh

    def _interpolated(self, i: NDArray[np.intp], j: NDArray[np.intp], p: LinkParams
                      ) -> tuple[FloatArray, FloatArray | None]:
        """``F~_ij`` of the regional and long-range smooth parts for the pairs ``i``,
        ``j``: the grid's value for them (the same on every grid)."""
        grid = self.grids[0][1]
        by, bx = grid.base
        ia, ib = grid._stencil
        da = ia[:, None] - ia[None, :]  # node offsets within two stencils, 16 x 16
        db = ib[:, None] - ib[None, :]
        reach = int(max(np.abs(by[i] - by[j]).max(), np.abs(bx[i] - bx[j]).max())) + 4
        k = np.arange(reach)
        off2 = ((k[:, None] * grid.cell) ** 2 + (k[None, :] * grid.cell) ** 2)
        g, h = _decay(off2.copy(), None, p)
        far = 1.0 - _near_factor(off2, self.radius)
        tables = [g * far] + ([h * far] if h is not None else [])
        out: list[FloatArray] = [np.empty(len(i)) for _ in tables]
        for s in range(0, len(i), 2**14):
            a, b = i[s:s + 2**14], j[s:s + 2**14]
            r = np.abs((by[a] - by[b])[:, None, None] + da[None])
            c = np.abs((bx[a] - bx[b])[:, None, None] + db[None])
            for table, o in zip(tables, out, strict=True):
                o[s:s + 2**14] = np.einsum("pa,pab,pb->p", grid.weight[a], table[r, c],
                                           grid.weight[b])
        return out[0], out[1] if len(out) > 1 else None

    def _smooth(self, grid: _Grid) -> tuple[_Kernel, _Kernel | None]:
        """The smooth parts of the regional and long-range decays on a grid, ready
        for :meth:`_Grid.sums` (made once, kept for both passes)."""
        key = id(grid)
        if key not in self._kernels:
            d2 = grid.offsets()
            g, h = _decay(d2.copy(), None, replace(self.p, max_distance_km=None))
            far = 1.0 - _near_factor(d2, self.radius)
            self._kernels[key] = (grid.transform(g * far),
                                  grid.transform(h * far) if h is not None else None)
        return self._kernels[key]

    def __call__(self, w_reg: FloatArray, w_long: FloatArray
                 ) -> tuple[FloatArray, FloatArray]:
        n = len(w_reg)
        s_reg, s_long = np.zeros(n), np.zeros(n)
        self._near_sums(w_reg, w_long, s_reg, s_long)
        if self._fix is not None:
            assert self.detours is not None
            self.detours.correct(s_reg, s_long, w_reg, w_long, *self._fix)
        if self.exact:
            return s_reg, s_long
        self._grid_sums(w_reg, w_long, s_reg, s_long, self.kk, self.kl)
        self._small_sums(w_reg, w_long, s_reg, s_long, self.kk, self.kl)
        return s_reg, s_long

    def _near_sums(self, w_reg: FloatArray, w_long: FloatArray, s_reg: FloatArray,
                   s_long: FloatArray) -> None:
        """The near part, exact, border damping pair by pair (added to the sums)."""
        pl, p = self.pl, self.p
        for a, b in self.near:
            (r0, r1), (c0, c1) = self.blocks.bounds[a], self.blocks.bounds[b]
            rows = np.arange(r0, r1)
            d2, own = pl.sq_distances(rows, c0, c1)
            share = _near_factor(d2, self.radius) if not self.exact else None
            if share is not None:
                share[own] = 1.0  # a place and itself: the grid adds nothing for it
            g, h = _decay(d2, pl.borders(rows, c0, c1) if self.mixture else None, p, own)
            if share is not None:
                g *= share
                if h is not None:
                    h *= share
            s_reg[r0:r1] += g @ w_reg[c0:c1]
            if a != b:
                s_reg[c0:c1] += w_reg[r0:r1] @ g
            if h is not None:
                s_long[r0:r1] += h @ w_long[c0:c1]
                if a != b:
                    s_long[c0:c1] += w_long[r0:r1] @ h

    def _grid_sums(self, w_reg: FloatArray, w_long: FloatArray, s_reg: FloatArray,
                   s_long: FloatArray, kk: float, kl: float) -> None:
        """The smooth part on grids: all places, then each län and each kommun with a
        grid of its own (``kk``, ``kl``: the kommun and län border factors)."""
        for members, grid, kind in self.grids:
            fg, fh = self._smooth(grid)
            if kind == "all":  # same kommun 1, same län kappa, else kappa lambda
                self._add_damped(s_reg, grid, w_reg, fg, kk * kl)
                if fh is not None:
                    self._add_damped(s_long, grid, w_long, fh, kl)
            elif kind == "lan":  # the places of one län
                s_reg[members] += kk * (1 - kl) * grid.sums(w_reg[members], fg)
                if fh is not None:
                    s_long[members] += (1 - kl) * grid.sums(w_long[members], fh)
            else:  # one kommun
                s_reg[members] += (1 - kk) * grid.sums(w_reg[members], fg)

    def _add_damped(self, s: FloatArray, grid: _Grid, w: FloatArray, kernel: _Kernel,
                    factor: float) -> None:
        """Add a grid's sums over all places to ``s``: between places of known kommuner
        times ``factor`` (the damping across kommun and län borders), plain without
        damping."""
        if not self.damp:
            s += grid.sums(w, kernel)
            return
        known = self.known
        sk = grid.sums(w * known, kernel)
        s += np.where(known, factor * sk, sk)
        if not known.all():
            s += grid.sums(w * ~known, kernel)

    def _small_sums(self, w_reg: FloatArray, w_long: FloatArray, s_reg: FloatArray,
                    s_long: FloatArray, kk: float, kl: float) -> None:
        """The small groups (län and kommuner without a grid of their own): the smooth
        part pair by pair."""
        pl, n = self.pl, len(w_reg)
        uncut = replace(self.p, max_distance_km=None)
        for groups, kind in self.small:
            for i, j in _group_pairs(groups):
                dx, dy = pl.x[i] - pl.x[j], pl.y[i] - pl.y[j]
                d2 = dx * dx + dy * dy
                g, h = _decay(d2.copy(), None, uncut)
                far = 1.0 - _near_factor(d2, self.radius)
                g *= far * (kk * (1 - kl) if kind == "lan" else 1 - kk)
                s_reg += np.bincount(i, weights=w_reg[j] * g, minlength=n)
                s_reg += np.bincount(j, weights=w_reg[i] * g, minlength=n)
                if h is not None and kind == "lan":
                    h *= far * (1 - kl)
                    s_long += np.bincount(i, weights=w_long[j] * h, minlength=n)
                    s_long += np.bincount(j, weights=w_long[i] * h, minlength=n)


class _Detours:
    """The pairs of places whose distance is not the straight line (over land:
    ``_Places.detour``), for the split.

    The grid can only sum a decay of the straight distance (a convolution), and the
    near part's share ``(1 - u⁴)^4`` must be taken at the same distance as the grid's
    complement for the two to add up to the whole decay. So the split sums every pair
    at its straight distance, and these pairs (a sparse table: those within 100 km whose
    line crosses water, a few per place) are then made exact pair by pair: what the
    near part and the grids added for them is taken off and ``b_ij K(d_land)`` added
    (:meth:`_SplitSums._detour_terms`, made once). Corrected against the exact
    straight decay alone, the grid's error on such a pair would stay, and could be
    large beside the place's sum over land (a place whose neighbours are all across
    water); taken off as the grid made it, it is gone."""

    def __init__(self, pl: _Places, n: int, p: LinkParams) -> None:
        from scipy import sparse

        self.n = n
        if pl.detour is None:
            i = j = np.empty(0, dtype=np.intp)
            d = np.empty(0)
        else:
            half = sparse.triu(pl.detour[:n, :n], k=1).tocoo()
            i, j, d = half.row.astype(np.intp), half.col.astype(np.intp), half.data
        key = i.astype(np.int64) * n + j
        sort = np.argsort(key, kind="stable")
        self.i, self.j, self.d, self.key = i[sort], j[sort], d[sort], key[sort]
        straight2 = (pl.x[self.i] - pl.x[self.j]) ** 2 + (pl.y[self.i] - pl.y[self.j]) ** 2
        # the least a listed distance is of the straight one: over land it is at least 1;
        # a table of shorter distances loosens the bound that passes pairs over
        ratio = np.divide(self.d**2, straight2, out=np.ones(len(self.d)),
                          where=straight2 > 0)
        self.shrink = math.sqrt(min(1.0, float(ratio.min()))) if len(ratio) else 1.0
        self.borders: NDArray[np.int8] | None = None
        if isinstance(p.form, MixtureParams):
            self.borders = np.zeros(len(self.i), dtype=np.int8)
            for code in (pl.lan, pl.area):
                a, b = code[self.i], code[self.j]
                self.borders += (a != b) & (a >= 0) & (b >= 0)

    def __len__(self) -> int:
        return len(self.d)

    def correct(self, s_reg: FloatArray, s_long: FloatArray, w_reg: FloatArray,
                w_long: FloatArray, dg: FloatArray, dh: FloatArray | None) -> None:
        """Add each pair's change ``dg`` (``dh``: the long-range group's), times the
        other place's weight, to sums made at straight distances (in place)."""
        n = len(s_reg)
        i, j = self.i, self.j
        s_reg += np.bincount(i, weights=w_reg[j] * dg, minlength=n)
        s_reg += np.bincount(j, weights=w_reg[i] * dg, minlength=n)
        if dh is not None:
            s_long += np.bincount(i, weights=w_long[j] * dh, minlength=n)
            s_long += np.bincount(j, weights=w_long[i] * dh, minlength=n)

    def lookup(self, a: NDArray[np.intp], b: NDArray[np.intp]) -> FloatArray:
        """The listed distance of each pair ``a``, ``b`` (either order); NaN where the
        pair keeps the straight line."""
        out = np.full(len(a), np.nan)
        if not len(self.d) or not len(a):
            return out
        key = np.minimum(a, b).astype(np.int64) * self.n + np.maximum(a, b)
        at = np.minimum(np.searchsorted(self.key, key), len(self.key) - 1)
        hit = self.key[at] == key
        out[hit] = self.d[at[hit]]
        return out


#: A län or kommun of at most this many places has its smooth part summed pair by pair
#: (a grid for each of thousands of small areas would cost more).
_SMALL_GROUP = 256


def _group_pairs(groups: list[NDArray[np.intp]]
                 ) -> Iterator[tuple[NDArray[np.intp], NDArray[np.intp]]]:
    """Every pair (i < j in the list) of places of one group, groups in batches."""
    if not groups:
        return
    members = np.concatenate(groups)
    size = np.array([len(g) for g in groups], dtype=np.intp)
    first = np.cumsum(size) - size
    cum = np.cumsum(size * size)
    lo = 0
    while lo < len(groups):
        hi = max(lo + 1, int(np.searchsorted(cum, (cum[lo - 1] if lo else 0) + 2**20,
                                             side="right")))
        sq = size[lo:hi] * size[lo:hi]
        g = np.repeat(np.arange(lo, hi), sq)
        r = _ranks(sq)
        a, b = r // size[g], r % size[g]
        keep = a < b
        yield members[first[g] + a][keep], members[first[g] + b][keep]
        lo = hi


def _groups(code: NDArray[np.intp]) -> list[NDArray[np.intp]]:
    """The positions of each code's places (code >= 0), by code."""
    known = np.flatnonzero(code >= 0)
    order = known[np.argsort(code[known], kind="stable")]
    cuts = np.flatnonzero(np.diff(code[order])) + 1
    return [g for g in np.split(order, cuts) if len(g)]


def _block_gaps(blocks: _Blocks, a: NDArray[np.intp], b: NDArray[np.intp]) -> FloatArray:
    """:meth:`_Blocks.gap` for many pairs of blocks at once."""
    x0, x1, y0, y1 = blocks.box.T
    gx = np.maximum(0.0, np.maximum(x0[b] - x1[a], x0[a] - x1[b]))
    gy = np.maximum(0.0, np.maximum(y0[b] - y1[a], y0[a] - y1[b]))
    out: FloatArray = np.hypot(gx, gy)
    return out


# The pairs kept (from ``min_flow`` on) among many places. The blocks of :func:`_model`
# pass over a pair of blocks only when no pair of places in it can reach ``min_flow``;
# with many places, every block that holds one large place is paired with every block
# within that place's reach, and the pairs of blocks grow with the square of the
# places. A quadtree on the same Z-order refines the test node by node instead.

#: Places in a leaf of the quadtree.
_LEAF = 32
_DEPTH = 16
IntArray = NDArray[np.intp]
UIntArray = NDArray[np.uint64]


@dataclass(frozen=True)
class _Tree:
    """A quadtree over points in Z-order: the nodes of every level in one table.
    ``order`` puts the caller's points in tree order."""

    order: IntArray
    x: FloatArray        # points in tree order, centred on their mean (km)
    y: FloatArray
    start: IntArray      # node -> its points, start:end in tree order
    end: IntArray
    level_bounds: IntArray  # nodes of level l: level_bounds[l]:level_bounds[l + 1]
    first: IntArray      # first child, -1 for a leaf
    kids: IntArray       # number of children
    r: FloatArray        # half diagonal of the node's bounding box
    x0: FloatArray       # the bounding box
    x1: FloatArray
    y0: FloatArray
    y1: FloatArray
    roots: IntArray


def _morton(x: FloatArray, y: FloatArray) -> UIntArray:
    """Z-order codes on a 2^16 grid (the codes :func:`_z_order` sorts by)."""

    def spread(v: UIntArray) -> UIntArray:
        for shift, mask in ((16, 0x0000FFFF0000FFFF), (8, 0x00FF00FF00FF00FF),
                            (4, 0x0F0F0F0F0F0F0F0F), (2, 0x3333333333333333),
                            (1, 0x5555555555555555)):
            v = np.bitwise_and(v | (v << np.uint64(shift)), np.uint64(mask))
        return v

    def grid(v: FloatArray) -> UIntArray:
        span = float(v.max() - v.min()) or 1.0
        out: UIntArray = ((v - v.min()) * (65535 / span)).astype(np.uint64)
        return out

    out: UIntArray = spread(grid(x)) | (spread(grid(y)) << np.uint64(1))
    return out


def _ranks(k: IntArray) -> IntArray:
    """``0 … k_i - 1`` for each ``i``, concatenated."""
    total = int(k.sum())
    out: IntArray = np.arange(total, dtype=np.intp) - np.repeat(np.cumsum(k) - k, k)
    return out


def _tree(x: FloatArray, y: FloatArray) -> _Tree:
    """The quadtree of the points (Z-order prefixes), split down to :data:`_LEAF`
    points a leaf."""
    n = len(x)
    key = _morton(x, y)
    order: IntArray = np.argsort(key, kind="stable")
    key = key[order]
    xs = x[order] - x.mean()
    ys = y[order] - y.mean()
    starts = []
    for lev in range(_DEPTH + 1):
        k = key >> np.uint64(2 * (_DEPTH - lev))
        starts.append(np.flatnonzero(np.r_[True, k[1:] != k[:-1]]))
    bounds = np.cumsum([0] + [len(s) for s in starts])
    start = np.concatenate(starts)
    end = np.concatenate([np.r_[s[1:], n] for s in starts])
    count = end - start
    first = np.full(len(start), -1, dtype=np.intp)
    kids = np.zeros(len(start), dtype=np.intp)
    for lev in range(_DEPTH):
        a, b, c = bounds[lev], bounds[lev + 1], bounds[lev + 2]
        f = np.searchsorted(start[b:c], start[a:b])
        last = np.searchsorted(start[b:c], end[a:b])
        split = count[a:b] > _LEAF
        first[a:b] = np.where(split, b + f, -1)
        kids[a:b] = np.where(split, last - f, 0)

    def per_level(f: np.ufunc, v: FloatArray) -> FloatArray:
        out: FloatArray = np.concatenate([f.reduceat(v, s) for s in starts])
        return out

    x0, x1 = per_level(np.minimum, xs), per_level(np.maximum, xs)
    y0, y1 = per_level(np.minimum, ys), per_level(np.maximum, ys)
    return _Tree(order, xs, ys, start, end, bounds, first, kids,
                 np.hypot(x1 - x0, y1 - y0) / 2, x0, x1, y0, y1,
                 np.arange(bounds[0], bounds[1]))


def _gaps(t: _Tree, a: IntArray, b: IntArray) -> FloatArray:
    """The shortest distance between two nodes' boxes (km)."""
    gx = np.maximum(0.0, np.maximum(t.x0[b] - t.x1[a], t.x0[a] - t.x1[b]))
    gy = np.maximum(0.0, np.maximum(t.y0[b] - t.y1[a], t.y0[a] - t.y1[b]))
    out: FloatArray = np.hypot(gx, gy)
    return out


PairTest = Callable[[_Tree, IntArray, IntArray], NDArray[np.bool_]]


def _traverse(t: _Tree, drop: PairTest) -> tuple[IntArray, IntArray]:
    """Walk pairs of nodes down from the root with itself; a pair of distinct nodes
    that ``drop`` says can be passed over is, the others are split (the larger node)
    down to pairs of leaves, which are returned (a leaf with itself included)."""
    a, b = t.roots.copy(), t.roots.copy()
    near_a: list[IntArray] = []
    near_b: list[IntArray] = []
    while len(a):
        same = a == b
        go = same | ~drop(t, a, b)
        a, b, same = a[go], b[go], same[go]
        leaf_a, leaf_b = t.first[a] < 0, t.first[b] < 0
        near = leaf_a & leaf_b
        near_a.append(a[near])
        near_b.append(b[near])
        a, b, same = a[~near], b[~near], same[~near]
        leaf_a, leaf_b = leaf_a[~near], leaf_b[~near]
        new_a: list[IntArray] = []
        new_b: list[IntArray] = []
        parents = a[same]  # a node with itself: every pair of its children (i <= j)
        for k in np.unique(t.kids[parents]):
            p = parents[t.kids[parents] == k]
            i, j = np.triu_indices(int(k))
            new_a.append((t.first[p][:, None] + i[None, :]).ravel())
            new_b.append((t.first[p][:, None] + j[None, :]).ravel())
        aa, bb = a[~same], b[~same]
        split_a = ~leaf_a[~same] & (leaf_b[~same] | (t.r[aa] >= t.r[bb]))
        for node, other in ((aa[split_a], bb[split_a]), (bb[~split_a], aa[~split_a])):
            k = t.kids[node]
            new_a.append(np.repeat(t.first[node], k) + _ranks(k))
            new_b.append(np.repeat(other, k))
        a = np.concatenate(new_a) if new_a else np.empty(0, dtype=np.intp)
        b = np.concatenate(new_b) if new_b else np.empty(0, dtype=np.intp)
    return np.concatenate(near_a), np.concatenate(near_b)


_BATCH = 2**20  # pairs of places computed at once


def _point_pairs(t: _Tree, a: IntArray, b: IntArray
                 ) -> Iterator[tuple[IntArray, IntArray]]:
    """The pairs of points (tree positions) of pairs of leaves, in batches: every point
    of ``a`` with every point of ``b``; a leaf with itself: each pair once, no point
    with itself."""
    ca, cb = t.end[a] - t.start[a], t.end[b] - t.start[b]
    size = ca * cb
    cum = np.cumsum(size)
    lo = 0
    while lo < len(a):
        hi = max(lo + 1, int(np.searchsorted(cum, (cum[lo - 1] if lo else 0) + _BATCH,
                                             side="right")))
        pair = np.repeat(np.arange(lo, hi), size[lo:hi])
        r = _ranks(size[lo:hi])
        i = t.start[a][pair] + r // cb[pair]
        j = t.start[b][pair] + r % cb[pair]
        keep = (a[pair] != b[pair]) | (i < j)
        yield i[keep], j[keep]
        lo = hi


def _node_max(t: _Tree, v: FloatArray) -> FloatArray:
    out: FloatArray = np.concatenate([
        np.maximum.reduceat(v, t.start[t.level_bounds[i]:t.level_bounds[i + 1]])
        for i in range(len(t.level_bounds) - 1)])
    return out




def _kept_pairs(pl: _Places, p: LinkParams, c_reg: FloatArray, m_reg: FloatArray,
                c_long: FloatArray, m_long: FloatArray, min_flow: float,
                detours: _Detours | None = None) -> tuple[IntArray, IntArray, FloatArray]:
    """Every ordered pair of distinct places whose flows add up to ``min_flow`` or
    more (both directions), exactly. Pairs of quadtree nodes whose largest possible
    flow (largest ``c`` times largest mass, at the nodes' shortest distance) falls
    short are passed over, as the blocks are in :func:`_model`, but node by node down
    to leaves of :data:`_LEAF` places: the blocks alone would leave every block with a
    large place paired with every block within its reach. The pairs of ``detours``
    take their distance over land (never shorter than the straight line, so the
    bound holds; a table with shorter distances shrinks the nodes' gaps to match)."""
    t = _tree(pl.x, pl.y)
    o = t.order
    top = [_node_max(t, v[o]) for v in (c_reg, m_reg, c_long, m_long)]
    uncut = replace(p, max_distance_km=None)
    cut = p.max_distance_km
    shrink = detours.shrink if detours is not None else 1.0

    def drop(tt: _Tree, a: IntArray, b: IntArray) -> NDArray[np.bool_]:
        gap = _gaps(tt, a, b) * shrink
        g, h = _decay(gap * gap, None, uncut)
        cr, mr, cl, ml = top
        bound = (cr[a] * mr[b] + cr[b] * mr[a]) * g
        if h is not None:
            bound += (cl[a] * ml[b] + cl[b] * ml[a]) * h
        out: NDArray[np.bool_] = bound < min_flow
        if cut is not None:
            out |= gap > cut
        return out

    na, nb = _traverse(t, drop)
    lan, area = pl.lan[o], pl.area[o]
    cr, mr, cl, ml = c_reg[o], m_reg[o], c_long[o], m_long[o]
    found: list[tuple[IntArray, IntArray, FloatArray]] = []
    for i, j in _point_pairs(t, na, nb):
        dx, dy = t.x[i] - t.x[j], t.y[i] - t.y[j]
        d2 = dx * dx + dy * dy
        if detours is not None and len(detours):
            land = detours.lookup(o[i], o[j])
            d2 = np.where(np.isnan(land), d2, land * land)
        borders = None
        if isinstance(p.form, MixtureParams):
            borders = np.zeros(len(i), dtype=np.int8)
            for code in (lan, area):
                borders += (code[i] != code[j]) & (code[i] >= 0) & (code[j] >= 0)
        g, h = _decay(d2, borders, p)
        fwd, back = cr[i] * mr[j] * g, cr[j] * mr[i] * g
        if h is not None:
            fwd += cl[i] * ml[j] * h
            back += cl[j] * ml[i] * h
        keep = (fwd + back) >= min_flow
        found.append((i[keep], j[keep], fwd[keep]))
        found.append((j[keep], i[keep], back[keep]))
    if not found:
        return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp), np.empty(0)
    return (o[np.concatenate([f[0] for f in found])], o[np.concatenate([f[1] for f in found])],
            np.concatenate([f[2] for f in found]))


class _Outside:
    """The destinations outside the places (positions ``n:`` of ``pl``: the jobs
    outside the tätorter, one per kommun) with every place, exactly, in chunks of
    places. There are few of them (290 in Sweden), so the ``n x k`` pairs cost about
    what the grid does, and neither their spread over the kommun (``sqrt(d² + s²)``,
    not a function of the straight distance alone) nor their distances over land need
    an approximation. They send no one: their flows are those the places send them."""

    def __init__(self, pl: _Places, n: int, p: LinkParams) -> None:
        self.pl, self.n, self.p = pl, n, p
        self.k = len(pl.x) - n
        step = max(1, _BATCH // max(self.k, 1))
        self.chunks = [(a, min(n, a + step)) for a in range(0, n, step)] if self.k else []

    def _decays(self) -> Iterator[tuple[int, int, FloatArray, FloatArray | None]]:
        pl, n, p = self.pl, self.n, self.p
        for r0, r1 in self.chunks:
            rows = np.arange(r0, r1)
            d2, _ = pl.sq_distances(rows, n, n + self.k)
            borders = pl.borders(rows, n, n + self.k) if isinstance(p.form, MixtureParams) \
                else None
            g, h = _decay(d2, borders, p)
            yield r0, r1, g, h

    def sums(self, m_reg: FloatArray, m_long: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Each place's sums of the outside destinations' mass times decay."""
        n = self.n
        s_reg, s_long = np.zeros(n), np.zeros(n)
        for r0, r1, g, h in self._decays():
            s_reg[r0:r1] = g @ m_reg[n:]
            if h is not None:
                s_long[r0:r1] = h @ m_long[n:]
        return s_reg, s_long

    def flows(self, c_reg: FloatArray, c_long: FloatArray, m_reg: FloatArray,
              m_long: FloatArray, min_flow: float
              ) -> tuple[FloatArray, tuple[IntArray, IntArray, FloatArray]]:
        """The outside destinations' jobs (all flows in), and the flows to them from
        ``min_flow`` on (origin and destination positions, count)."""
        n = self.n
        jobs = np.zeros(self.k)
        found: list[tuple[IntArray, IntArray, FloatArray]] = []
        for r0, r1, g, h in self._decays():
            jobs += m_reg[n:] * (c_reg[r0:r1] @ g)
            t = np.multiply.outer(c_reg[r0:r1], m_reg[n:])
            t *= g
            if h is not None:
                jobs += m_long[n:] * (c_long[r0:r1] @ h)
                tl = np.multiply.outer(c_long[r0:r1], m_long[n:])
                tl *= h
                t += tl
            i, j = np.nonzero(t >= min_flow)
            found.append((r0 + i, n + j, t[i, j]))
        if not found:
            return jobs, (np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp), np.empty(0))
        return jobs, (np.concatenate([f[0] for f in found]),
                      np.concatenate([f[1] for f in found]),
                      np.concatenate([f[2] for f in found]))


def _model_split(pl_in: _Places, p: LinkParams, production_in: FloatArray,
                 min_flow: float, progress: Progress | None
                 ) -> tuple[NDArray[np.intp], NDArray[np.intp], FloatArray, FloatArray,
                            FloatArray]:
    """:func:`_model` for many places: the sums over pairs of places by the near/grid
    split (straight distances, the pairs over land corrected exactly: :class:`_Detours`),
    the destinations outside the places exactly (:class:`_Outside`), the own flow
    bounded as :func:`_model` bounds it, the kept pairs and every place's flow to itself
    exact from the sums."""
    n_all = len(production_in)
    say = progress or (lambda _m: None)
    # the places in Z-order, then the destinations outside them (which send no one), as
    # in _model
    sends = production_in > 0
    inner = np.flatnonzero(sends | (pl_in.spread == 0))
    outer = np.flatnonzero(~sends & (pl_in.spread > 0))
    order = np.concatenate([inner[_z_order(pl_in.x[inner], pl_in.y[inner])],
                            outer]).astype(np.intp)
    pl, production = pl_in.take(order), production_in[order]
    n = len(inner)
    m_reg, m_long = _masses(pl.mass, p)
    places = replace(pl, detour=None).take(np.arange(n))  # straight, for the split
    blocks = _Blocks(places)
    detours = _Detours(pl, n, p)
    sums = _SplitSums(places, blocks, p, detours)
    outside = _Outside(pl, n, p)
    say(f"modelled flows between {n:,} places: sums over all pairs "
        f"({len(sums.near):,} pairs of blocks closer than {sums.radius:g} km exact"
        + (f", {len(detours):,} pairs over land corrected" if len(detours) else "")
        + (f", {outside.k:,} destinations outside the places exact" if outside.k else "")
        + ")")
    s_reg, s_long = np.zeros(n_all), np.zeros(n_all)
    s_reg[:n], s_long[:n] = sums(m_reg[:n], m_long[:n])
    o_reg, o_long = outside.sums(m_reg, m_long)
    s_reg[:n] += o_reg
    s_long[:n] += o_long
    own, c_reg, c_long = _balancing(pl, p, production, s_reg, s_long, m_reg, m_long)
    employed = own + c_reg * s_reg + c_long * s_long
    j_reg, j_long = sums(c_reg[:n], c_long[:n])
    jobs = own.copy()
    jobs[:n] += m_reg[:n] * j_reg + m_long[:n] * j_long
    out_jobs, (fo, fd, fc) = outside.flows(c_reg, c_long, m_reg, m_long, min_flow)
    jobs[n:] += out_jobs
    say(f"modelled flows between {n:,} places: pairs from {min_flow:g} commuters")
    oi, dj, count = _kept_pairs(places, p, c_reg[:n], m_reg[:n], c_long[:n], m_long[:n],
                                min_flow, detours)
    # every place's flow to itself (a place is in its own kommun: no border)
    g, h = _decay(pl.internal**2, None, replace(p, max_distance_km=None))
    diag = own + c_reg * m_reg * g
    if h is not None:
        diag += c_long * m_long * h
    every = np.arange(n_all)
    oi = order[np.concatenate([every, oi, fo])]
    dj = order[np.concatenate([every, dj, fd])]
    count = np.concatenate([diag, count, fc])
    keep = (count > 0) | (oi == dj)
    oi, dj, count = oi[keep], dj[keep], count[keep]
    sort = np.lexsort((dj, oi))
    back = np.empty(n_all, dtype=np.float64), np.empty(n_all, dtype=np.float64)
    back[0][order], back[1][order] = employed, jobs
    return oi[sort], dj[sort], count[sort], back[0], back[1]


def _fit_mixture(pl: _Places, p: LinkParams, oi: NDArray[np.intp], dj: NDArray[np.intp],
                 y: FloatArray) -> LinkParams:
    """Fit the mixture's distance and border parameters to observed between-place flows
    by maximum likelihood (:data:`FITTED`).

    Each origin's out-commuters are multinomial over the other places with the model's
    shares given that they leave (``s_ij / (1 - s_ii)``): the likelihood of the
    production-constrained Poisson model on the between-place flows, whose origin
    totals are the observed ones. ``own_share``, ``own_share_exponent`` and
    ``decay_exponent`` stay as given. A parameter the flows say nothing about
    (``lan_border`` when no observed flow crosses a län border) stays where it starts.
    """
    from scipy.optimize import minimize

    n = len(pl.population)
    origins, inv = np.unique(oi, return_inverse=True)
    size = max(1, 4 * _BLOCK_PAIRS // n)
    chunks = []
    for s in range(0, len(origins), size):
        sel = (inv >= s) & (inv < s + size)
        rows = origins[s:s + size]
        chunks.append((rows, inv[sel] - s, dj[sel], y[sel]))
    # keep the distances between evaluations unless there are very many
    cache = [(pl.sq_distances(c[0], 0, n), pl.borders(c[0], 0, n))
             if len(origins) * n <= _FIT_CACHE_PAIRS else None for c in chunks]
    total = float(y.sum())

    start = p.form
    assert isinstance(start, MixtureParams)

    def params_of(x: FloatArray) -> LinkParams:
        return replace(p, form=replace(start, d50_km=math.exp(x[0]), gamma=float(x[1]),
                                       long_share=float(x[2]), long_km=math.exp(x[3]),
                                       lan_border=float(x[4]), kommun_border=float(x[5])))

    def loss(x: FloatArray) -> float:
        q = params_of(x)
        w = float(x[2])  # q's long_share
        m_reg, m_long = _masses(pl.mass, q)
        a = _own_shares(pl.population, q)
        ll = 0.0
        for (rows, r, c, yy), kept in zip(chunks, cache, strict=True):
            (d2, pos), borders = kept if kept is not None else (
                pl.sq_distances(rows, 0, n), pl.borders(rows, 0, n))
            g, h = _decay(d2.copy(), borders, q, pos)
            assert h is not None
            reg = _ratio(1.0 - a[rows] - w, g @ m_reg)
            lng = _ratio(np.full(len(rows), w), h @ m_long)
            k = np.arange(len(rows))
            stay = a[rows] + reg * m_reg[rows] * g[k, rows] + lng * m_long[rows] * h[k, rows]
            s = reg[r] * m_reg[c] * g[r, c] + lng[r] * m_long[c] * h[r, c]
            with np.errstate(divide="ignore", invalid="ignore"):
                ll += float(yy @ (np.log(s) - np.log1p(-stay[r])))
        return -ll / total if math.isfinite(ll) else 1e6

    x0 = np.array([math.log(start.d50_km), start.gamma, start.long_share,
                   math.log(start.long_km), start.lan_border, start.kommun_border])
    bounds = [(math.log(0.5), math.log(1000.0)), (0.0, 3.0),
              (0.0, 1.0 - start.own_share - 1e-9),
              (0.0, math.log(10_000.0)), (0.0, 10.0), (0.0, 10.0)]
    x0 = np.clip(x0, [b[0] for b in bounds], [b[1] for b in bounds])
    fit = minimize(loss, x0, method="L-BFGS-B", bounds=bounds,
                   options={"ftol": 1e-13, "gtol": 1e-9, "maxiter": 500})
    return params_of(fit.x)


#: What calibrating the mixture on observed flows fits.
FITTED = ("d50_km", "gamma", "long_share", "long_km", "lan_border", "kommun_border")


def _used(p: LinkParams) -> dict[str, Any]:
    """The model and its parameters, as the provenance records them."""
    out: dict[str, Any] = {"model": p.model, "decay": p.decay}
    form = p.form
    assert form is not None  # LinkParams fills it in
    out.update({f.name: getattr(form, f.name) for f in fields(form)})
    if isinstance(form, MixtureParams):
        out["own_bound"] = p.own_bound
    out["max_distance_km"] = p.max_distance_km
    return out


def model_flows(
    places: pd.DataFrame,
    *,
    params: LinkParams | None = None,
    observed: Flows | None = None,
    min_flow: float | None = None,
    progress: Progress | None = None,
    outside: pd.DataFrame | None = None,
    distances: PairDistances | None = None,
) -> ModelledFlows:
    """Modelled commuting between places (no observed flows needed), with every place's
    employed residents and jobs.

    A production-constrained model: the employed residents of each place *i*
    (``employed``, else ``0.5 * population_i``,
    :data:`~strukturbild.config.DEFAULT_EMPLOYMENT_RATE`) are shared among all
    destinations, *i* itself included. The default form (``decay = "mixture"``),
    calibrated on SCB's commuting between kommuner 2020 and 2021, gives

    ``T_ij = E_i (a_i [i = j] + (1 - a_i - w) R_ij + w L_ij)``

    with ``R_ij ∝ J_j^gamma b_ij c_ij / (1 + (d_ij / d50)^k)`` (the regional labour
    market) and ``L_ij ∝ J_j^long_gamma b_ij exp(-d_ij / L)`` (long-distance
    commuters), each summing to 1 over j; ``J_j`` is the destination's jobs (``jobs``;
    ``employed × job_ratio × (P_j / 10 000)^job_ratio_exponent`` where not known);
    ``b_ij = exp(-lan_border)`` between places in different län (the first two
    characters of ``area_id``), ``c_ij = exp(-kommun_border)`` between places in
    different kommuner (``area_id``), 1 otherwise; the own-place share
    ``a_i = own_share (P_i / 10 000)^own_share_exponent`` (at most ``1 - w``); ``w`` =
    ``long_share``, ``L`` = ``long_km``, ``k`` = ``decay_exponent``. With
    ``own_bound`` (and jobs) a place keeps at most its jobs, the rest going to the
    other destinations in proportion. Destinations outside the places (the jobs outside
    any tätort, one per kommun: ``outside``) receive and never send. A place's distance
    to itself is its internal distance (:func:`internal_distance`); other distances are
    straight, or over land (``distance = "land"``, ``distances``). There is no
    distance cut-off unless ``max_distance_km`` is set. ``decay = "exponential"``
    or ``"power"`` spreads all employed residents in proportion to
    ``J_j exp(-beta d)`` or ``J_j d^-beta`` instead (``model = "unconstrained"``: the
    model ``T_ij = k P_i P_j f(d_ij)`` scaled to the same total); strukturbild 0.1's
    model is ``decay = "exponential"``, ``max_distance_km = 50``.

    The model is computed in blocks of places, never as one ``n x n`` table, and only
    pairs whose flows add up to ``min_flow`` or more (both directions) are kept, with
    every place's flow to itself. A place of 0 inhabitants sends and receives no one.
    From :data:`GRID_PLACES` (5,000) places on, the sums over all pairs are made
    exactly for the pairs closer than :data:`NEAR_KM` (30 km) and on a 1.5 km grid
    beyond (the outside destinations and the pairs over land exactly), so the time
    grows about linearly with the places instead of with their square; jobs and flows
    then differ from the exact ones by less than 0.1 %.

    With observed flows and ``calibrate = true``, the exponential and power forms
    fit ``beta`` by a Poisson model on the observed between-place flows
    (production-constrained, :func:`~strukturbild.analysis.gravity.fit_gravity`); the
    mixture fits ``d50_km``, ``gamma``, ``long_share``, ``long_km``, ``lan_border`` and
    ``kommun_border`` by maximum likelihood of where each place's out-commuters go
    (``own_share``, ``own_share_exponent`` and ``decay_exponent`` stay as given); the
    observed employed residents (outflow including intra-place flows) replace the
    estimate where known. Defaults and their sources: :class:`~strukturbild.config.LinkParams`
    and the form's class (:class:`~strukturbild.config.MixtureParams`).

    The employed residents and jobs count the pairs left out (under ``min_flow``)
    too: the pipeline's shares of employed residents and of jobs use them.

    Parameters
    ----------
    places
        Places with ``population`` (0 allowed: such a place sends no one, and receives
        no one unless it has jobs), optional ``jobs`` (the destination mass where known;
        NaN where not), ``employed`` (else ``0.5 * population``:
        :data:`~strukturbild.config.DEFAULT_EMPLOYMENT_RATE`; the pipeline gives it),
        ``area_id`` (the kommun and län borders) and ``area_ha``, point or polygon
        geometry in a metric CRS.
    params
        The model (:class:`~strukturbild.config.LinkParams`).
    observed
        Observed flows to calibrate on (with ``calibrate = true``).
    min_flow
        Keep the pairs whose flows add up to this many commuters or more (both
        directions); default ``params.min_flow``. The region methods want the small
        flows too (a village's inflow decides where it belongs): the pipeline keeps
        pairs from 1 commuter on when it delineates regions from modelled flows.
    progress
        Called with a short message at every 10 % of a long computation (from 5 000
        places on).
    outside
        Destinations outside the places: the jobs outside any tätort, one row per
        kommun (:func:`outside_destinations`): index ``area_id``, columns ``jobs``,
        ``x``, ``y`` (the places' CRS) and ``spread_km``. They receive commuters and
        send none; their flows are in :attr:`ModelledFlows.outside`.
    distances
        Distances other than the straight line (``params.distance = "land"``): an
        object with a ``pair_distances`` method, e.g.
        :class:`~strukturbild.analysis.land.LandDistance`.

    Returns
    -------
    ModelledFlows
        The flows (``modelled=True``), every place's employed residents and jobs, the
        parameters used (fitted ones when calibrated), and the flows to the outside
        destinations.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> p = gpd.GeoDataFrame({"population": [10000, 10000, 10000]}, index=["a", "b", "c"],
    ...     geometry=[shapely.Point(0, 0), shapely.Point(10000, 0), shapely.Point(30000, 0)],
    ...     crs=3006)
    >>> m = model_flows(p, params=LinkParams(min_flow=0))
    >>> m.flows.modelled, round(float(m.flows.outflow()["a"]), 6), m.params["d50_km"]
    (True, 5000.0, 18.5)
    >>> round(float(m.flows.count[("a", "a")] / 5000), 3)  # the share who work at home
    0.579
    >>> q = gpd.GeoDataFrame({"population": [10000, 0]}, index=["a", "b"],
    ...     geometry=[shapely.Point(0, 0), shapely.Point(5000, 0)], crs=3006)
    >>> m = model_flows(q, params=LinkParams(min_flow=0))  # "b" has no one: no jobs
    >>> m.employed.tolist(), m.jobs.tolist(), len(m.flows)
    ([5000.0, 0.0], [5000.0, 0.0], 2)
    """
    p = params or LinkParams()
    if len(places) == 0:
        raise EmptyInputError("no places to model flows between")
    if p.distance != "straight" and distances is None:
        raise ConfigError(f"links.distance = {p.distance!r} needs the land: give the "
                          "areas (kommun polygons), or set distance = \"straight\"")
    n = len(places)
    xy = place_coordinates(places) / 1000.0
    pop = places["population"].to_numpy(dtype=float)
    production = DEFAULT_EMPLOYMENT_RATE * pop
    if "employed" in places.columns:
        emp = pd.to_numeric(places["employed"], errors="coerce").to_numpy(dtype=float)
        production = np.where(np.isfinite(emp) & (emp >= 0), emp, production)
    mass, bound, estimated, _ratio = _jobs_mass(places, pop, production, p)
    ext = _outside_nodes(outside, places, p)
    ids = places.index.to_numpy(dtype=object)
    pl = _Places(np.concatenate([xy[:, 0], ext["x"]]), np.concatenate([xy[:, 1], ext["y"]]),
                 np.concatenate([internal_distance(places, urban_density=p.urban_density),
                                 ext["spread"]]),
                 np.concatenate([pop, np.zeros(len(ext["x"]))]),
                 *_codes(places, ext["area"]),
                 np.concatenate([mass, ext["jobs"]]),
                 np.concatenate([bound, np.full(len(ext["x"]), np.inf)]),
                 np.concatenate([np.zeros(n), ext["spread"]]))
    used_extra: dict[str, Any] = {"mass": "jobs", "jobs_estimated": estimated}
    if len(ext["x"]):
        used_extra["outside_destinations"] = len(ext["x"])
        used_extra["outside_jobs"] = float(ext["jobs"].sum())
    if distances is not None and p.distance != "straight":
        from scipy import sparse

        i, j, d = distances.pair_distances(pl.x, pl.y)
        m = len(pl.x)
        half = sparse.coo_matrix((d, (i, j)), shape=(m, m))
        pl = replace(pl, detour=(half + half.T).tocsr())
        used_extra["distance_pairs_not_straight"] = len(d)
    used_extra["distance"] = p.distance
    calibrated: dict[str, Any] = {}
    if observed is not None and p.calibrate:
        places_only = pl.take(np.arange(n))
        b = observed.between()
        b = b[b > 0]
        pos = pd.Index(ids)
        oi = pos.get_indexer(b.index.get_level_values(0))
        dj = pos.get_indexer(b.index.get_level_values(1))
        ok = (oi >= 0) & (dj >= 0)
        oi, dj, y = oi[ok], dj[ok], b.to_numpy(dtype=float)[ok]
        dist = places_only.pair_distances(oi, dj)
        # pairs the model cannot give: from a place of 0 inhabitants, to a place of no
        # mass, beyond the cut
        ok = (pop[oi] > 0) & (mass[dj] > 0)
        if p.max_distance_km is not None:
            ok &= dist <= p.max_distance_km
        if ok.sum() >= 3:
            oi, dj, y, dist = oi[ok], dj[ok], y[ok], dist[ok]
            if isinstance(p.form, MixtureParams):
                p = _fit_mixture(places_only, p, oi, dj, y)
            else:
                fit = fit_gravity(y, np.maximum(dist, 1.0), origin=ids[oi],
                                  destination=ids[dj], d_var=mass[dj], model="production",
                                  decay="exponential" if p.decay == "exponential" else "power")
                term = "dij" if p.decay == "exponential" else "log_dij"
                beta = -float(fit.params[term])
                p = replace(p, form=ExponentialParams(beta) if p.decay == "exponential"
                            else PowerParams(beta))
            calibrated["calibrated_on_pairs"] = int(ok.sum())
        if observed.has_self_flows:
            out = observed.outflow().reindex(ids)
            production = np.where(out.notna(), out.fillna(0).to_numpy(), production)
    used = _used(p) | used_extra | calibrated
    keep = p.min_flow if min_flow is None else float(min_flow)
    if not keep >= 0:
        raise ConfigError(f"min_flow must be a number >= 0, got {min_flow!r}")
    production = np.concatenate([production, np.zeros(len(ext["x"]))])
    model = _model_split if n >= GRID_PLACES else _model
    oi, dj, count, employed, jobs = model(pl, p, production, keep, progress)
    inner = dj < n
    idx = pd.MultiIndex.from_arrays([ids[oi[inner]], ids[dj[inner]]],
                                    names=["origin", "destination"])
    flows = Flows(pd.Series(count[inner], index=idx), modelled=True)
    far = ~inner & (count > 0)
    out_idx = pd.MultiIndex.from_arrays([ids[oi[far]], ext["ids"][dj[far] - n]],
                                        names=["origin", "destination"])
    outside_flows = Flows(pd.Series(count[far], index=out_idx), modelled=True)
    used["pairs"] = int(len(flows) - len(ids))
    used["pairs_min_flow"] = keep
    return ModelledFlows(flows, pd.Series(employed[:n], index=places.index, name="employed"),
                         pd.Series(jobs[:n], index=places.index, name="jobs"), used,
                         outside_flows,
                         pd.Series(jobs[n:], index=pd.Index(ext["ids"], name="area_id"),
                                   name="jobs"))


def _jobs_mass(places: pd.DataFrame, pop: FloatArray, production: FloatArray,
               p: LinkParams) -> tuple[FloatArray, FloatArray, int, float | None]:
    """The destination mass (the jobs), the bound on what each place keeps, how many
    places' jobs were estimated, and the job ratio at 10 000 inhabitants they were
    estimated with.

    A place whose jobs are not known (every place, without a ``jobs`` column) gets
    ``employed × job_ratio × (population / 10 000) ** job_ratio_exponent``: the
    relation of SCB's tätorter (:class:`~strukturbild.config.LinkParams`)."""
    jobs = np.full(len(pop), np.nan)
    if "jobs" in places.columns:
        jobs = pd.to_numeric(places["jobs"], errors="coerce").to_numpy(dtype=float)
    known = np.isfinite(jobs) & (jobs >= 0)
    ratio = np.zeros(len(pop))
    big = pop > 0
    ratio[big] = p.job_ratio * (pop[big] / OWN_SHARE_POPULATION) ** p.job_ratio_exponent
    mass = np.where(known, jobs, production * ratio)
    bound = mass.copy() if p.own_bound else np.full(len(pop), np.inf)
    return mass, bound, int((~known).sum()), float(p.job_ratio)


def _codes(places: pd.DataFrame, extra: NDArray[Any]
           ) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Län and kommun codes of the places followed by those of the outside
    destinations (``extra``: their area ids)."""
    if not len(extra):
        return _area_codes(places, 2), _area_codes(places, None)
    area = pd.concat([places["area_id"] if "area_id" in places.columns
                      else pd.Series([None] * len(places), dtype=object),
                      pd.Series(extra, dtype=object)], ignore_index=True)
    both = pd.DataFrame({"area_id": area})
    return _area_codes(both, 2), _area_codes(both, None)


def _outside_nodes(outside: pd.DataFrame | None, places: pd.DataFrame, p: LinkParams
                   ) -> dict[str, Any]:
    """The destinations outside the places as arrays (km)."""
    if outside is None or len(outside) == 0:
        z = np.zeros(0)
        return {"x": z, "y": z, "spread": z, "jobs": z, "area": np.zeros(0, dtype=object),
                "ids": np.zeros(0, dtype=object)}
    need = [c for c in ("jobs", "x", "y", "spread_km") if c not in outside.columns]
    if need:
        raise ConfigError("the outside destinations need the columns jobs, x, y and "
                          f"spread_km; missing: {', '.join(need)}")
    jobs = pd.to_numeric(outside["jobs"], errors="coerce").to_numpy(dtype=float)
    if not (np.isfinite(jobs) & (jobs >= 0)).all():
        raise ConfigError("the outside destinations' jobs must be numbers >= 0")
    ids = np.array([f"{a}" for a in outside.index], dtype=object)
    return {"x": outside["x"].to_numpy(dtype=float) / 1000.0,
            "y": outside["y"].to_numpy(dtype=float) / 1000.0,
            "spread": outside["spread_km"].to_numpy(dtype=float),
            "jobs": jobs, "area": ids, "ids": ids}


def outside_destinations(areas: pd.DataFrame, jobs: pd.Series) -> pd.DataFrame:
    """One destination per area (kommun) for the jobs outside its places, spread over it.

    Parameters
    ----------
    areas
        Area polygons (a GeoDataFrame in a metric CRS), index ``area_id``.
    jobs
        The jobs outside any place, by ``area_id`` (areas not in it get none):
        :func:`outside_jobs` estimates them.

    Returns
    -------
    pandas.DataFrame
        Index ``area_id``; ``jobs``, ``x``, ``y`` (the polygon's centroid) and
        ``spread_km``: two thirds of the radius of a disc of the area's size (the mean
        distance from a disc's centre to its points), so that a place at the centre is
        ``spread_km`` from the area's jobs and a place far away its distance to the
        centroid (``sqrt(d² + spread²)``).

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> a = gpd.GeoDataFrame(index=pd.Index(["0101"], name="area_id"),
    ...     geometry=[shapely.box(0, 0, 10_000, 10_000)], crs=3006)
    >>> o = outside_destinations(a, pd.Series({"0101": 700.0}))
    >>> o.round(3).to_dict("records")
    [{'jobs': 700.0, 'x': 5000.0, 'y': 5000.0, 'spread_km': 3.761}]
    """
    geom = areas.geometry
    c = geom.centroid
    radius_km = np.sqrt(geom.area.to_numpy(dtype=float) / np.pi) / 1000.0
    out = pd.DataFrame({"jobs": jobs.reindex(areas.index).fillna(0.0).to_numpy(dtype=float),
                        "x": c.x.to_numpy(), "y": c.y.to_numpy(),
                        "spread_km": 2.0 / 3.0 * radius_km}, index=areas.index)
    return out


def outside_jobs(places: pd.DataFrame, *, area_jobs: pd.Series | None = None,
                 share: float | None = None, weights: pd.Series | None = None) -> pd.Series:
    """The jobs outside any place, per area (kommun).

    With ``area_jobs`` (all the jobs of each kommun, SCB's day population by kommun):
    those jobs less the jobs of the kommun's places, at least 0. Without, an estimate:
    a share ``share`` (default ``LinkParams().outside_share``, 0.14) of all jobs lies
    outside the places, ``share / (1 - share)`` times the places' jobs, spread over the
    kommuner in proportion to ``weights`` (by ``area_id``). The default weights are the
    population of each kommun's villages (places under 1 000 inhabitants): farms,
    forestry and rural workplaces lie where the villages are, and a city kommun has
    almost none of either (spread by the kommun's own tätort jobs instead, Stockholm
    kommun alone would get 161 000 jobs outside its tätort; the calibration fits worse
    that way: README, "Modelled flows"). Where the places hold no village at all (an
    input of the larger tätorter only, as the bundled example), every kommun with places
    gets the same share: nothing then says where its countryside's jobs are.

    Examples
    --------
    >>> p = pd.DataFrame({"area_id": ["0101", "0101", "0102"], "jobs": [600, 260, 100],
    ...                   "population": [2000, 500, 400]})
    >>> outside_jobs(p).round(1).to_dict()  # 156.3 outside: by village population 5:4
    {'0101': 86.8, '0102': 69.5}
    >>> outside_jobs(p, weights=pd.Series({"0101": 1.0, "0102": 3.0})).round(1).to_dict()
    {'0101': 39.1, '0102': 117.2}
    >>> outside_jobs(p, area_jobs=pd.Series({"0101": 1000, "0102": 90})).to_dict()
    {'0101': 140.0, '0102': 0.0}
    >>> outside_jobs(p.assign(population=[2000, 1500, 1200])).round(1).to_dict()  # no village
    {'0101': 78.1, '0102': 78.1}
    """
    area = places["area_id"].astype(str)
    inside = pd.to_numeric(places["jobs"], errors="coerce").fillna(0.0).groupby(area).sum()
    if weights is None:
        pop = pd.to_numeric(places["population"], errors="coerce").fillna(0.0)
        small = pop < VILLAGE_POPULATION
        weights = pop[small].groupby(area[small]).sum().reindex(inside.index, fill_value=0.0)
        if not weights.sum() > 0:  # no village among the places: the same for each kommun
            weights = pd.Series(1.0, index=inside.index)
    if area_jobs is not None:
        total = pd.to_numeric(area_jobs, errors="coerce").astype(float)
        total.index = total.index.astype(str)
        rest: pd.Series = (total - inside.reindex(total.index).fillna(0.0)).clip(lower=0.0)
        return rest.rename("jobs")
    s = LinkParams().outside_share if share is None else float(share)
    if not 0 <= s < 1:
        raise ConfigError(f"the share of jobs outside the places must be in [0, 1), got {s}")
    w = inside if weights is None else pd.to_numeric(weights, errors="coerce").fillna(0.0)
    w.index = w.index.astype(str)
    if not (w >= 0).all() or not w.sum() > 0:
        raise ConfigError("the weights of the jobs outside the places must be >= 0, "
                          "and not all 0")
    total_out = float(inside.sum()) * s / (1.0 - s)
    return (w / w.sum() * total_out).astype(float).rename("jobs")
