"""Functional regions from commuting flows.

:func:`delineate_regions` groups the units of a :class:`~strukturbild.analysis.flows.Flows`
table into functional regions by one of four methods and returns a
:class:`RegionResult`; :func:`region_geometries` gives the regions a geometry.

``"lma"``
    Labour market areas by the Eurostat/Istat version of the Coombes–Bond
    travel-to-work-area algorithm (Coombes & Bond 2008; Franconi, D'Alò & Ichim 2016),
    implemented in :mod:`strukturbild.analysis.lma`.
``"scb_la"``
    Statistics Sweden's local labour markets (lokala arbetsmarknader, LA), with SCB's
    step code for each unit; reproduces SCB's LA 2020 and 2021 kommun for kommun.
``"nodal"``
    Nodal regions from the Nystuen–Dacey dominant flows (Nystuen & Dacey 1961).
``"commuting_zone"``
    Commuting zones around cores, as in the OECD–EU definition of functional urban
    areas (OECD 2012; Dijkstra, Poelman & Veneri 2019): a unit belongs to the core
    that at least 15 % of its employed residents commute to; with the options of
    regional analysts' zones (Region Halland): cores by their share of the jobs of
    all units or of the region's, several memberships, merging cores that attract
    nobody, and zones' external links.

Each method's parameters are a frozen params class in :mod:`strukturbild.config`
(:class:`~strukturbild.config.LMAParams`, :class:`~strukturbild.config.SCBLAParams`,
:class:`~strukturbild.config.NodalParams`,
:class:`~strukturbild.config.CommutingZoneParams`), which holds the defaults and checks.

Every method but ``scb_la`` labels a region by its *leader*: the member unit with the
most jobs (inflow including the intra-unit flow). Ties go to the method's own centre
of the region (the nodal head, the core), then to the smallest id. An SCB LA is
labelled by its centre (a pair's: the one with most jobs, then the smallest id).

References
----------
M. Coombes and S. Bond (2008), *Travel-to-Work Areas: the 2007 review*, Office for
National Statistics, London.

L. Franconi, M. D'Alò and D. Ichim (2016), *Istat implementation of the algorithm to
develop Labour Market Areas*, Istat, Rome.

J. D. Nystuen and M. F. Dacey (1961), "A graph theory interpretation of nodal regions",
*Papers and Proceedings of the Regional Science Association* 7, 29–42.

OECD (2012), *Redefining "Urban": A New Way to Measure Metropolitan Areas*, OECD
Publishing, Paris.

L. Dijkstra, H. Poelman and P. Veneri (2019), "The EU-OECD definition of a functional
urban area", *OECD Regional Development Working Papers* 2019/11.

SCB (2010), *Lokala arbetsmarknader – egenskaper, utveckling och funktion*,
Statistiska centralbyrån, Örebro (ISBN 978-91-618-1512-8), p. 181, as quoted in Swedish
Wikipedia, "Lokal arbetsmarknadsregion"; SCB, "Lokala arbetsmarknader (LA)", fördjupad
information to the register-based labour market statistics (RAMS), scb.se; SCB,
*Lokala arbetsmarknader 2020–2023 (BAS)*, workbook (LA, step code, largest destination
and shares per kommun; the reference of the tests).

Nordic Council of Ministers (2007), *Nordisk Pendlingskarta 2007*, ch. "Metoden att
skapa lokala arbetsmarknader (LA)".

M. Johansson, on Swedish local labour markets, citing Carlsson et al. (1993): the older
rule that chains of more than three links are cut at their weakest link.

Region Halland, regional analyses of functional zones (centres by their share of the
region's jobs, zones at 10 % of employed residents, zones' links of 100 commuters).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ..config import (
    REGION_METHODS,
    CommutingZoneParams,
    LMAParams,
    MethodParams,
    NodalParams,
    SCBLAParams,
    region_params,
)
from ..errors import (
    ConfigError,
    CRSError,
    InvalidValueError,
    StrukturbildWarning,
    UnknownCodeError,
)
from .dominant import _forest, nystuen_dacey
from .flows import Flows

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = ["METHODS", "STATUSES", "RegionResult", "delineate_regions", "region_geometries"]

#: The region methods :func:`delineate_regions` knows.
METHODS: tuple[str, ...] = tuple(REGION_METHODS)
#: The statuses a unit can have in a :class:`RegionResult`.
STATUSES: tuple[str, ...] = ("assigned", "reserve", "excluded")
#: The per-region statistics, in this order.
STAT_COLUMNS: tuple[str, ...] = (
    "name", "residents", "jobs", "internal", "sc_supply", "sc_demand", "validity",
    "n_units", "leader",
)

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


# --------------------------------------------------------------------------- result


@dataclass(frozen=True, eq=False)
class RegionResult:
    """Functional regions: which unit belongs where, and what each region is like.

    Attributes
    ----------
    method
        The method that made the regions (one of :data:`METHODS`).
    labels
        Unit → region id (the id of the region's leader, its member with most jobs);
        ``<NA>`` for excluded units. Index ``unit`` (all units of the flows, sorted),
        name ``region``.
    status
        Unit → ``"assigned"``, ``"reserve"`` (LMA: placed from the reserve list at the
        end, without a validity check) or ``"excluded"``. Name ``status``.
    stats
        One row per region, index ``region``: ``name`` (the leader's id),
        ``residents`` (employed residents: outflow including intra-unit flows),
        ``jobs`` (inflow including intra-unit flows), ``internal`` (flows between
        members, each member's own included), ``sc_supply`` (internal / residents),
        ``sc_demand`` (internal / jobs), ``validity`` (LMA only; NaN otherwise),
        ``n_units``, ``leader``.
    diagnostics
        What else the method reports: parameters, centres, broken chains, the reserve
        list, excluded units, iterations.
    details
        Per-unit facts of the method, index ``unit`` (None when it has none):
        ``scb_la`` gives ``step`` (SCB's step code), ``links``, ``target``,
        ``out_share``, ``top_share``; ``commuting_zone`` gives ``regions`` (every zone
        the unit is in, primary first, ``;``-separated), ``share`` (of its employed
        residents working in the primary zone's core), ``level`` (of a core found by
        its job share). :meth:`to_frame` adds these columns.

    Examples
    --------
    >>> f = Flows(pd.Series([8.0, 2.0, 5.0, 5.0], index=pd.MultiIndex.from_tuples(
    ...     [("a", "a"), ("a", "b"), ("b", "b"), ("b", "a")])))
    >>> r = delineate_regions(f, "nodal")
    >>> r.to_frame()
      unit region    status
    0    a      a  assigned
    1    b      a  assigned
    """

    method: str
    labels: pd.Series
    status: pd.Series
    stats: pd.DataFrame
    diagnostics: Mapping[str, Any] = field(default_factory=dict)
    details: pd.DataFrame | None = None

    @property
    def n_regions(self) -> int:
        """Number of regions."""
        return len(self.stats)

    @property
    def step(self) -> pd.Series | None:
        """SCB's step code of each unit (``scb_la`` only; None for the other methods).

        11 for a local centre (alone, or one of a pair or group of centres), 20, 30,
        50, 70 for a unit 1, 2, 3, 4 links from its centre; ``<NA>`` for excluded units
        and deeper ones.
        """
        if self.details is None or "step" not in self.details.columns:
            return None
        out: pd.Series = self.details["step"]
        return out

    def to_frame(self) -> pd.DataFrame:
        """One row per unit: ``unit``, ``region`` (``<NA>`` when excluded), ``status``,
        then the method's :attr:`details` columns."""
        frame = pd.DataFrame(
            {
                "unit": pd.Series(self.labels.index, dtype="string"),
                "region": pd.Series(self.labels.to_numpy(), dtype="string"),
                "status": pd.Series(self.status.reindex(self.labels.index).to_numpy(),
                                    dtype="string"),
            }
        )
        if self.details is not None:
            extra = self.details.reindex(self.labels.index)
            for col in extra.columns:
                frame[col] = extra[col].to_numpy()
                frame[col] = frame[col].astype(extra[col].dtype)
        return frame

    def members(self, region: str) -> pd.Index:
        """The units of one region.

        Examples
        --------
        >>> f = Flows(pd.Series([8.0, 2.0, 5.0, 5.0], index=pd.MultiIndex.from_tuples(
        ...     [("a", "a"), ("a", "b"), ("b", "b"), ("b", "a")])))
        >>> list(delineate_regions(f, "nodal").members("a"))
        ['a', 'b']
        """
        if region not in self.stats.index:
            raise UnknownCodeError(f"unknown region '{region}'")
        mask = np.array([x == region for x in _objects(self.labels)], dtype=bool)
        out: pd.Index = pd.Index(list(self.labels.index[mask]), name="unit", dtype=object)
        return out


# --------------------------------------------------------------------------- helpers


@dataclass(frozen=True)
class _Base:
    units: pd.Index  # sorted unit ids
    residents: FloatArray  # outflow incl. self
    jobs: FloatArray  # inflow incl. self
    own: FloatArray  # intra-unit flow
    out: FloatArray  # outflow without self
    o: IntArray  # positive between-unit flows: origin position
    d: IntArray  # destination position
    c: FloatArray  # count


def _base(flows: Flows) -> _Base:
    units = flows.units
    btw = flows.between()
    btw = btw[btw.to_numpy() > 0]
    return _Base(
        units=units,
        residents=flows.outflow().to_numpy(dtype=float),
        jobs=flows.inflow().to_numpy(dtype=float),
        own=flows.self_flow().to_numpy(dtype=float),
        out=flows.outflow(include_self=False).to_numpy(dtype=float),
        o=np.asarray(units.get_indexer(btw.index.get_level_values(0)), dtype=np.int64),
        d=np.asarray(units.get_indexer(btw.index.get_level_values(1)), dtype=np.int64),
        c=btw.to_numpy(dtype=float),
    )


def _best_per_origin(
    o: IntArray, d: IntArray, value: FloatArray, jobs: FloatArray
) -> tuple[IntArray, IntArray, IntArray]:
    """Per origin the row with the largest ``value``; ties: most jobs, then smallest id.

    Returns ``(rows, origins, destinations)``. Units are sorted, so the smallest
    position is the smallest id; the result does not depend on row order.
    """
    if len(o) == 0:
        e = np.empty(0, dtype=np.int64)
        return e, e, e
    key = np.lexsort((-d, jobs[d], value, o))
    last = np.ones(len(key), dtype=bool)
    last[:-1] = o[key[1:]] != o[key[:-1]]
    rows = key[last].astype(np.int64)
    return rows, o[rows], d[rows]


def _rank(primary: FloatArray, prefer: BoolArray | None = None) -> IntArray:
    """Permutation rank: largest ``primary`` first, then ``prefer``, then position."""
    n = len(primary)
    keys: list[Any] = [np.arange(n)]
    if prefer is not None:
        keys.append(~prefer)
    keys.append(-primary)
    rank = np.empty(n, dtype=np.int64)
    rank[np.lexsort(tuple(keys))] = np.arange(n)
    return rank


def _leader_labels(group: IntArray, jobs: FloatArray, prefer: BoolArray,
                   units: pd.Index) -> pd.Series:
    """Label each unit with the id of its group's leader (most jobs); -1 = excluded."""
    n = len(units)
    rank = _rank(jobs, prefer)
    inc = np.flatnonzero(group >= 0)
    order = inc[np.argsort(rank[inc], kind="stable")]
    g = group[order]
    _, first = np.unique(g, return_index=True)
    leader = np.full(n, -1, dtype=np.int64)
    leader[g[first]] = order[first]
    ids = np.asarray(units, dtype=object)
    values = np.full(n, None, dtype=object)
    values[inc] = ids[leader[group[inc]]]
    return pd.Series(values, index=pd.Index(units, name="unit", dtype=object),
                     name="region", dtype="string")


def _status(units: pd.Index, excluded: BoolArray, reserve: BoolArray | None = None) -> pd.Series:
    values = np.where(excluded, "excluded", "assigned").astype(object)
    if reserve is not None:
        values[reserve & ~excluded] = "reserve"
    return pd.Series(values, index=pd.Index(units, name="unit", dtype=object), name="status",
                     dtype="string")


def _region_stats(flows: Flows, labels: pd.Series,
                  validity: pd.Series | None = None) -> pd.DataFrame:
    """Per-region totals from unit labels (vectorised, without aggregating Flows)."""
    units = flows.units
    lab = labels.reindex(units)
    present = lab.notna().to_numpy(dtype=bool)
    ids = _objects(lab)
    regions = pd.Index(sorted({str(x) for x in ids[present]}), name="region", dtype=object)
    code = np.full(len(units), -1, dtype=np.int64)
    code[present] = regions.get_indexer(pd.Index(ids[present], dtype=object))
    m = len(regions)
    inc = code >= 0
    residents = np.bincount(code[inc], weights=flows.outflow().to_numpy(dtype=float)[inc],
                            minlength=m)
    jobs = np.bincount(code[inc], weights=flows.inflow().to_numpy(dtype=float)[inc],
                       minlength=m)
    n_units = np.bincount(code[inc], minlength=m)
    idx = flows.count.index
    ro = code[units.get_indexer(idx.get_level_values(0))]
    rd = code[units.get_indexer(idx.get_level_values(1))]
    same = (ro == rd) & (ro >= 0)
    internal = np.bincount(ro[same], weights=flows.count.to_numpy(dtype=float)[same],
                           minlength=m)
    with np.errstate(divide="ignore", invalid="ignore"):
        sc_supply = np.where(residents > 0, internal / np.where(residents > 0, residents, 1.0),
                             np.nan)
        sc_demand = np.where(jobs > 0, internal / np.where(jobs > 0, jobs, 1.0), np.nan)
    val = (np.full(m, np.nan) if validity is None
           else validity.reindex(regions).to_numpy(dtype=float, na_value=np.nan))
    names = pd.Series(np.asarray(regions, dtype=object), index=regions, dtype="string")
    return pd.DataFrame(
        {
            "name": names,
            "residents": residents.astype(float),
            "jobs": jobs.astype(float),
            "internal": internal.astype(float),
            "sc_supply": sc_supply,
            "sc_demand": sc_demand,
            "validity": val,
            "n_units": n_units.astype(np.int64),
            "leader": names.copy(),
        },
        index=regions,
    )


def _objects(s: pd.Series) -> NDArray[np.object_]:
    """The values of ``s`` as an object array, missing values as None."""
    return np.array([None if pd.isna(x) else x for x in s.tolist()], dtype=object)


def _require_self_flows(flows: Flows, method: str) -> None:
    if not flows.has_self_flows:
        raise InvalidValueError(
            f"method '{method}' needs intra-unit flows (rows with origin = destination: "
            "people who live and work in the same unit), but the flows have none; without "
            "them self-containment is 0 everywhere and every unit looks like it sends all "
            "its workers elsewhere. Use a commuting table that includes them"
        )


def _excluded(base: _Base) -> BoolArray:
    """Units with neither employed residents nor jobs (only zero counts)."""
    return np.asarray((base.residents <= 0) & (base.jobs <= 0), dtype=bool)


def _finish(method: str, flows: Flows, base: _Base, group: IntArray, prefer: BoolArray,
            diagnostics: dict[str, Any], labels: pd.Series | None = None) -> RegionResult:
    excluded = group < 0
    if labels is None:
        labels = _leader_labels(group, base.jobs, prefer, base.units)
    return RegionResult(
        method=method,
        labels=labels,
        status=_status(base.units, excluded),
        stats=_region_stats(flows, labels),
        diagnostics=MappingProxyType(diagnostics),
    )


def _ids(units: pd.Index, positions: Iterable[int]) -> tuple[str, ...]:
    return tuple(str(units[int(p)]) for p in positions)


# --------------------------------------------------------------------------- methods

#: SCB's step code of a local centre: a self-sufficient kommun, or one of a pair (group)
#: of kommuner whose largest flows point at each other.
SCB_CENTRE_CODE = 11
#: SCB's step codes of a kommun 1, 2, 3 and 4 links from its centre.
SCB_STEP_CODES: tuple[int, ...] = (20, 30, 50, 70)


def _loops(parent: IntArray, priority: IntArray) -> tuple[BoolArray, IntArray]:
    """Units on a loop of ``parent`` links, and each unit's loop representative.

    The representative of a loop is its unit with the lowest ``priority`` (most jobs,
    then smallest id); every other unit represents itself.
    """
    n = len(parent)
    _, _, _, cut = _forest(parent, priority)
    in_loop = np.zeros(n, dtype=bool)
    rep = np.arange(n, dtype=np.int64)
    for c in cut.tolist():  # one representative per loop; loops are few and short
        v = int(c)
        while True:
            in_loop[v] = True
            rep[v] = c
            v = int(parent[v])
            if v == c:
                break
    return in_loop, rep


def _scb_la(flows: Flows, p: SCBLAParams) -> RegionResult:
    _require_self_flows(flows, "scb_la")
    rtol = 1e-12  # absorbs only the rounding of shares computed from counts
    b = _base(flows)
    n = len(b.units)
    nodes = np.arange(n, dtype=np.int64)
    rows, bo, bd = _best_per_origin(b.o, b.d, b.c, b.jobs)
    largest = np.zeros(n)
    target = nodes.copy()
    largest[bo] = b.c[rows]
    target[bo] = bd
    has_target = np.zeros(n, dtype=bool)
    has_target[bo] = True
    res = b.residents
    has_res = res > 0
    safe = np.where(has_res, res, 1.0)
    out_share = np.where(has_res, b.out / safe, np.nan)
    top_share = np.where(has_res, largest / safe, np.nan)
    excluded = _excluded(b)
    # step 1: self-sufficient kommuner (limits inclusive: "får inte överstiga")
    independent = has_res & (b.out <= p.max_outflow * res * (1 + rtol)) \
        & (largest <= p.max_single_outflow * res * (1 + rtol))
    sink = independent | ~has_res  # no employed residents: cannot be judged, a centre
    # step 2: every other kommun links to its largest destination
    parent = np.where(sink, nodes, target).astype(np.int64)
    priority = _rank(b.jobs)
    # step 3: kommuner linking round (pairs; longer loops alike) form a group of centres
    in_loop, rep = _loops(parent, priority)
    parent[in_loop] = nodes[in_loop]
    centre = sink | in_loop
    # step 4: every other kommun joins the LA its chain ends in
    parent, root, depth, _ = _forest(parent, priority)
    link_share = np.where(parent != nodes, top_share, np.inf)
    broken: list[tuple[str, str]] = []
    if p.max_chain is not None:
        while len(depth) and int(depth.max()) > p.max_chain:
            deepest = int(np.flatnonzero(depth == depth.max())[0])
            path = [deepest]
            while parent[path[-1]] != path[-1]:
                path.append(int(parent[path[-1]]))
            links = np.asarray(path[:-1], dtype=np.int64)  # each x -> parent[x]
            weakest = int(links[int(np.argmin(link_share[links]))])
            broken.append((str(b.units[weakest]), str(b.units[int(parent[weakest])])))
            parent[weakest] = weakest
            link_share[weakest] = np.inf
            centre[weakest] = True
            parent, root, depth, _ = _forest(parent, priority)

    codes = (SCB_CENTRE_CODE, *SCB_STEP_CODES)
    step = pd.array([codes[d] if d < len(codes) else pd.NA for d in depth.tolist()],
                    dtype="Int64")
    unknown_depth = np.flatnonzero((depth >= len(codes)) & ~excluded)
    step[excluded] = pd.NA
    if len(unknown_depth):
        some = ", ".join(_ids(b.units, unknown_depth[:5]))
        warnings.warn(
            f"{len(unknown_depth)} unit(s) more than {len(SCB_STEP_CODES)} links from their "
            f"centre ({some}{', ...' if len(unknown_depth) > 5 else ''}): SCB's step code for "
            "that depth is not known, so their step is <NA>; they still join the LA their "
            "chain ends in", StrukturbildWarning, stacklevel=4)

    label_pos = rep[root]
    ids = np.asarray(b.units, dtype=object)
    values = ids[label_pos].copy()
    values[excluded] = None
    index = pd.Index(b.units, name="unit", dtype=object)
    labels = pd.Series(values, index=index, name="region", dtype="string")
    groups: dict[str, list[int]] = {}
    for v in sorted(np.flatnonzero(centre & ~excluded).tolist(), key=lambda k: priority[k]):
        groups.setdefault(str(ids[label_pos[v]]), []).append(v)
    centre_groups = {k: _ids(b.units, groups[k]) for k in sorted(groups)}
    target_ids = ids[target].copy()
    target_ids[~(has_target & has_res & (b.out > 0))] = None
    details = pd.DataFrame(
        {
            "step": step,
            "links": pd.array(np.where(excluded, -1, depth), dtype="Int64"),
            "target": pd.Series(target_ids, index=index, dtype="string").to_numpy(),
            "out_share": out_share,
            "top_share": top_share,
        },
        index=index,
    )
    details.loc[excluded, "links"] = pd.NA
    diagnostics: dict[str, Any] = {
        "params": {"max_outflow": p.max_outflow, "max_single_outflow": p.max_single_outflow,
                   "max_chain": p.max_chain},
        "independent": _ids(b.units, np.flatnonzero(independent & ~excluded)),
        "group_centres": _ids(b.units, np.flatnonzero(in_loop)),
        "centres": _ids(b.units, np.flatnonzero(centre & ~excluded)),
        "centre_groups": MappingProxyType(centre_groups),
        "region_centre": MappingProxyType({k: v[0] for k, v in centre_groups.items()}),
        "chains_broken": tuple(broken),
        "max_links": int(depth[~excluded].max()) if (~excluded).any() else 0,
        "unknown_depth": _ids(b.units, unknown_depth),
        "no_residents": _ids(b.units, np.flatnonzero(~has_res & ~excluded)),
        "excluded": _ids(b.units, np.flatnonzero(excluded)),
    }
    return RegionResult(
        method="scb_la",
        labels=labels,
        status=_status(b.units, excluded),
        stats=_region_stats(flows, labels),
        diagnostics=MappingProxyType(diagnostics),
        details=details,
    )


def _nodal(flows: Flows, p: NodalParams) -> RegionResult:
    nd = nystuen_dacey(flows, k=p.k)
    b = _base(flows)
    excluded = _excluded(b)
    head = np.asarray(b.units.get_indexer(pd.Index(nd.head.reindex(b.units).to_numpy(),
                                                   dtype=object)), dtype=np.int64)
    group = np.where(excluded, -1, head).astype(np.int64)
    prefer = head == np.arange(len(b.units))
    diagnostics: dict[str, Any] = {
        "params": {"k": nd.k},
        "heads": _ids(b.units, np.flatnonzero(prefer & ~excluded)),
        "excluded": _ids(b.units, np.flatnonzero(excluded)),
        "nodal": nd,
    }
    return _finish("nodal", flows, b, group, prefer, diagnostics)


def _job_share_cores(flows: Flows, b: _Base, thresholds: tuple[float, ...],
                     inside: BoolArray) -> IntArray:
    """Core level of each unit inside the region by its share of the region's jobs
    (1 = highest; 0 = not a core)."""
    if not flows.has_self_flows:
        raise InvalidValueError(
            "commuting_zone with core_job_shares needs intra-unit flows (rows with origin = "
            "destination): a unit's jobs are its inflow including them"
        )
    total = b.jobs[inside].sum()
    if not total > 0:
        raise InvalidValueError("the region's units have no jobs (inflow including "
                                "intra-unit flows): no job share can be measured")
    share = b.jobs / total
    level = np.zeros(len(b.units), dtype=np.int64)
    for k, t in reversed(list(enumerate(thresholds, start=1))):
        level[(share >= t * (1 - 1e-12)) & inside] = k
    return level


def _region_mask(units: pd.Index, p: CommutingZoneParams) -> BoolArray:
    """Which units are inside the region: all, or ``region_units`` (each must be a unit)."""
    if p.share_of != "region":
        return np.ones(len(units), dtype=bool)
    pos = units.get_indexer(pd.Index(list(p.region_units), dtype=object))
    if (pos < 0).any():
        missing = [u for u, q in zip(p.region_units, pos, strict=True) if q < 0]
        raise UnknownCodeError(
            f"region unit '{missing[0]}' is not a unit of the flows ({len(missing)} unknown "
            "in all)"
        )
    inside = np.zeros(len(units), dtype=bool)
    inside[pos] = True
    return inside


def _external_links(flows: Flows, member_of: pd.DataFrame, minimum: float) -> pd.DataFrame:
    """Links of each zone to units outside it, with the members' flows summed."""
    cols = ["region", "unit", "sent", "received"]
    btw = flows.between()
    f = pd.DataFrame({"origin": btw.index.get_level_values(0).astype(object),
                      "destination": btw.index.get_level_values(1).astype(object),
                      "count": btw.to_numpy(dtype=float)})
    m = member_of.rename(columns={"unit": "member"})
    sent = f.merge(m, left_on="origin", right_on="member").rename(
        columns={"destination": "unit"})
    recv = f.merge(m, left_on="destination", right_on="member").rename(
        columns={"origin": "unit"})
    inside = set(zip(member_of["region"], member_of["unit"], strict=True))
    parts = []
    for frame, col in ((sent, "sent"), (recv, "received")):
        keep = [(r, u) not in inside for r, u in zip(frame["region"], frame["unit"],
                                                      strict=True)]
        parts.append(frame.loc[keep].groupby(["region", "unit"])["count"].sum().rename(col))
    table = pd.concat(parts, axis=1).fillna(0.0).reset_index()
    if table.empty:
        return pd.DataFrame({c: pd.Series(dtype=object if c in ("region", "unit") else float)
                             for c in cols})
    table = table[(table["sent"] >= minimum) | (table["received"] >= minimum)]
    return table.sort_values(["region", "unit"]).reset_index(drop=True)[cols]


def _commuting_zone(flows: Flows, p: CommutingZoneParams) -> RegionResult:
    b = _base(flows)
    n = len(b.units)
    nodes = np.arange(n, dtype=np.int64)
    level = np.zeros(n, dtype=np.int64)
    inside = _region_mask(b.units, p)
    if p.core_job_shares:
        level = _job_share_cores(flows, b, p.core_job_shares, inside)
        is_core = level > 0
        if not is_core.any():
            of = "the region's jobs" if p.share_of == "region" else "all jobs"
            raise InvalidValueError(
                f"no unit has {p.core_job_shares[-1]:g} or more of {of}: no core")
    else:
        pos = b.units.get_indexer(pd.Index(list(p.cores), dtype=object))
        if (pos < 0).any():
            missing = [c for c, q in zip(p.cores, pos, strict=True) if q < 0]
            raise UnknownCodeError(
                f"core '{missing[0]}' is not a unit of the flows ({len(missing)} unknown in "
                "all)"
            )
        is_core = np.zeros(n, dtype=bool)
        is_core[pos] = True
    to_core = is_core[b.d] & ~is_core[b.o]
    o, d = b.o[to_core], b.d[to_core]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = b.c[to_core] / b.residents[o]
    ok = frac >= p.share
    # primary: the largest share (ties: the core with most jobs, then the smallest id)
    rows, bo, bd = _best_per_origin(o[ok], d[ok], frac[ok], b.jobs)
    group = nodes.copy()
    group[bo] = bd
    primary_share = np.full(n, np.nan)
    primary_share[bo] = frac[ok][rows]
    # every membership (unit, core), primary first then by share
    memb = pd.DataFrame({"u": o[ok], "c": d[ok], "f": frac[ok]})
    if not p.multiple:
        memb = memb[group[memb["u"].to_numpy()] == memb["c"].to_numpy()]
    attracts = np.zeros(n, dtype=bool)
    attracts[memb["c"].to_numpy(dtype=np.int64)] = True
    merged: list[tuple[str, str]] = []
    lone: list[int] = []
    active = is_core.copy()
    if p.merge_invalid:
        between: dict[tuple[int, int], float] = {}
        for x, y, c in zip(b.o.tolist(), b.d.tolist(), b.c.tolist(), strict=True):
            between[(x, y)] = c
        priority = _rank(b.jobs)
        # smallest first (ties: smallest id), so a small core joins a larger one
        for c in sorted(np.flatnonzero(is_core & ~attracts).tolist(),
                        key=lambda k: (b.jobs[k], k)):
            if attracts[c]:  # a smaller core has joined it meanwhile
                continue
            flow = {q: between.get((c, q), 0.0) + between.get((q, c), 0.0)
                    for q in np.flatnonzero(active).tolist() if q != c}
            best = [q for q, v in flow.items() if v > 0]
            if not best:
                lone.append(c)
                continue
            q = min(best, key=lambda k: (-flow[k], priority[k]))
            group[group == c] = q
            active[c] = False
            attracts[q] = True
            merged.append((str(b.units[c]), str(b.units[q])))
    # a neighbour of the region (share_of = "region") that joins no zone is left out
    excluded = (_excluded(b) | (~inside & (group == nodes))) & ~is_core
    group[excluded] = -1
    unassigned = ~is_core & ~excluded & (group == nodes)
    labels = _leader_labels(group, b.jobs, active, b.units)
    lab = _objects(labels)
    index = pd.Index(b.units, name="unit", dtype=object)
    memb = memb.assign(r=[lab[int(c)] for c in memb["c"]],
                       primary=lambda t: group[t["u"].to_numpy()] == t["c"].to_numpy())
    memb = memb.sort_values(["u", "primary", "f", "r"], ascending=[True, False, False, True])
    listed: dict[int, list[str]] = {}
    for u, r in zip(memb["u"].tolist(), memb["r"].tolist(), strict=True):
        regs = listed.setdefault(int(u), [])
        if r not in regs:
            regs.append(r)
    regions = [None if lab[i] is None else ";".join(listed.get(i, [str(lab[i])]))
               for i in range(n)]
    details = pd.DataFrame(
        {
            "regions": pd.array(regions, dtype="string"),
            "share": primary_share,
            "level": pd.array([int(x) if x > 0 else pd.NA for x in level.tolist()],
                              dtype="Int64"),
        },
        index=index,
    )
    diagnostics: dict[str, Any] = {
        "params": {f: getattr(p, f) for f in ("cores", "core_job_shares", "share_of", "share",
                                              "multiple", "merge_invalid",
                                              "external_min_flow")},
        "cores": _ids(b.units, np.flatnonzero(is_core)),
        "outside": _ids(b.units, np.flatnonzero(~inside)),
        "merged_cores": tuple(merged),
        "lone_cores": _ids(b.units, lone),
        "unassigned": _ids(b.units, np.flatnonzero(unassigned)),
        "excluded": _ids(b.units, np.flatnonzero(excluded)),
    }
    if p.external_min_flow is not None:
        zones = {lab[q] for q in np.flatnonzero(active).tolist()}
        member_of = pd.DataFrame(
            [(r, str(b.units[i])) for i in range(n) if regions[i] is not None
             for r in str(regions[i]).split(";") if r in zones],
            columns=["region", "unit"])
        diagnostics["external_links"] = _external_links(flows, member_of, p.external_min_flow)
    return RegionResult(
        method="commuting_zone",
        labels=labels,
        status=_status(b.units, excluded),
        stats=_region_stats(flows, labels),
        diagnostics=MappingProxyType(diagnostics),
        details=details,
    )


def _lma_method(flows: Flows, p: LMAParams) -> RegionResult:
    v = {"min_size": p.min_size, "min_self_containment": p.min_self_containment,
         "target_size": p.target_size, "target_self_containment": p.target_self_containment}
    _require_self_flows(flows, "lma")
    from . import lma as _lma

    frame = flows.to_frame()
    out = _lma.find_clusters(
        frame["origin"], frame["destination"], frame["count"],
        min_size=v["min_size"], min_self_containment=v["min_self_containment"],
        target_size=v["target_size"], target_self_containment=v["target_self_containment"],
    )
    units = pd.Index(flows.units, name="unit", dtype=object)
    lab = out.labels.reindex(units)
    labels = pd.Series([None if x is None else str(x) for x in _objects(lab)], index=units,
                       name="region", dtype="string")
    raw_status = _objects(out.status.reindex(units))
    missing_label = labels.isna().to_numpy(dtype=bool)
    reserve = np.array([s == "reserve" for s in raw_status], dtype=bool)
    unassigned = np.array([s == "unassigned" for s in raw_status], dtype=bool)
    status = _status(units, missing_label, reserve)
    stats_lma = out.stats
    validity = pd.Series(stats_lma["validity"].to_numpy(dtype=float),
                         index=pd.Index([str(x) for x in stats_lma.index], dtype=object))
    diagnostics: dict[str, Any] = {
        "params": dict(v),
        "reserve_list": out.reserve_list,
        "excluded": tuple(str(x) for x in out.excluded),
        "unassigned": _ids(units, np.flatnonzero(unassigned)),
        "iterations": int(out.iterations),
        "lma_stats": stats_lma,
    }
    return RegionResult(
        method="lma",
        labels=labels,
        status=status,
        stats=_region_stats(flows, labels, validity),
        diagnostics=MappingProxyType(diagnostics),
    )


def _dispatch(flows: Flows, p: MethodParams) -> RegionResult:
    if isinstance(p, LMAParams):
        return _lma_method(flows, p)
    if isinstance(p, SCBLAParams):
        return _scb_la(flows, p)
    if isinstance(p, NodalParams):
        return _nodal(flows, p)
    return _commuting_zone(flows, p)


def delineate_regions(flows: Flows, method: str | MethodParams = "lma",
                      **params: Any) -> RegionResult:
    """Group the units of a flow table into functional regions.

    Parameters
    ----------
    flows
        Commuting flows (origin = home, destination = work). ``"lma"`` and
        ``"scb_la"`` need intra-unit flows (origin = destination), because they rest
        on self-containment.
    method
        ``"lma"``, ``"scb_la"``, ``"nodal"`` or ``"commuting_zone"`` (``"scb-la"`` and
        ``"commuting-zone"`` alike), or the method's params object
        (:class:`~strukturbild.config.SCBLAParams` and its siblings).
    **params
        The method's parameters, the fields of its params class (anything else raises
        :class:`ConfigError`; defaults and checks are the class's):

        ``lma`` (:class:`~strukturbild.config.LMAParams`, Coombes & Bond 2008):
            ``min_size`` (1000), ``min_self_containment`` (0.6667), ``target_size``
            (10000), ``target_self_containment`` (0.75).
        ``scb_la`` (:class:`~strukturbild.config.SCBLAParams`):
            ``max_outflow`` (0.2), ``max_single_outflow`` (0.075), ``max_chain`` (None:
            no chain is cut).
        ``nodal`` (:class:`~strukturbild.config.NodalParams`, Nystuen & Dacey 1961):
            ``k`` (1.0), the dominance ratio.
        ``commuting_zone`` (:class:`~strukturbild.config.CommutingZoneParams`):
            ``cores`` or ``core_job_shares``, ``share_of`` ("all") and
            ``region_units``, ``share`` (0.15), ``multiple`` (False), ``merge_invalid``
            (False), ``external_min_flow`` (None).

    Returns
    -------
    RegionResult
        Labels, statuses, per-region statistics, per-unit details and diagnostics.

    Raises
    ------
    ConfigError
        Unknown method or parameter, or a parameter out of range.
    InvalidValueError
        Fewer than two units, all counts zero, or no intra-unit flows for ``"lma"`` /
        ``"scb_la"``.
    UnknownCodeError
        A core or region unit that is not a unit of the flows.

    Notes
    -----
    **SCB local labour markets** (``"scb_la"``) follow SCB's procedure for its LA, as
    its 2020 and 2021 results show it, step by step. E_i is kommun i's employed
    residents (its outflow, the intra-unit flow included), p1_i the share of E_i
    working in other kommuner, t_i the kommun receiving i's largest outflow and p2_i
    the share working there. "SCB:" marks SCB's text; "data:" what SCB's LA workbook
    2020–2023 (sheets 2020 and 2021: all 290 kommuner, their LA, step code, t_i, p1_i
    and p2_i) settled where the text is silent or ambiguous.

    1. *Local centres*, step code 11. SCB: a kommun may be the centre of an LA when
       the share of its employed residents commuting to other kommuner does not
       exceed (*får inte överstiga*) 20 % and the share commuting to any single other
       kommun does not exceed 7.5 % (SCB 2010, p. 181; quoted in Swedish Wikipedia,
       "Lokal arbetsmarknadsregion"; the same in Nordic Council of Ministers 2007,
       ch. "Metoden att skapa lokala arbetsmarknader"). So both limits are
       inclusive: p1_i <= ``max_outflow`` and p2_i <= ``max_single_outflow``. Data:
       no kommun sits exactly at a limit (Norrköping 2020: p2 = 7.53 %, step 20;
       Arvika: 7.41 %, step 11).
    2. *Links.* SCB: every other kommun "förs till den kommun mot vilken den största
       utpendlingen är riktad" (SCB 2010): it links to t_i. Ties (not in SCB's data):
       the destination with most jobs, then the smallest id, so the result does not
       depend on row order.
    3. *Pairs of centres*, step code 11. SCB's workbook: code 11 is "a local centre,
       alone or as a pair/group of centres"; SCB 2010 mentions only further rules
       "som utnyttjas mer sällan". Data: the step-11 kommuner that fail step 1 are
       exactly the kommuner that fail it and link to each other (15 pairs in 2020,
       e.g. Stockholm–Solna, Malmö–Lund; 14 in 2021); the alternative reading, that
       the pair together must pass step 1, fails for Katrineholm–Flen, Lidköping–Götene
       and Skövde–Skara. A loop of three or more such kommuner (none in 2020–2021) is
       treated alike, as a group of centres.
    4. *Chains*, step codes 20, 30, 50, 70. Every other kommun joins the LA its chain
       of links ends in; its code is the number of links to the centre: 1 → 20,
       2 → 30, 3 → 50, 4 → 70. SCB 2010 says "maximalt två länkar", and a 1990s
       description (Johansson, citing Carlsson et al. 1993) cuts chains of more than
       three links at their weakest link; data: SCB's 2020 and 2021 LA cut no chain
       (Vetlanda, three links, and Sävsjö, four, are in Jönköping's LA; Sotenäs, four
       links, in Göteborg's), so no chain is cut unless ``max_chain`` is given. Then
       the deepest unit's chain is cut at its weakest link (smallest share of the
       origin's employed residents; ties the link farthest from the centre), and the
       unit whose link was cut becomes a centre (code 11) — an option, not SCB's 2020
       rule. A unit five or more links deep (none in 2020–2021; SCB's code is not
       known) still joins its chain's LA, with step ``<NA>`` and a warning.

    Only each kommun's own shares decide, so the result does not depend on kommun
    sizes. With a flow table built from the workbook's shares, this reproduces SCB's
    69 LA of 2020 and 67 of 2021 kommun for kommun, with every step code (tested).
    An LA is labelled by its centre; a pair or group by its centre with most jobs
    (then smallest id). A unit without employed residents cannot be judged by shares
    and is a centre of its own (``diagnostics["no_residents"]``). Per unit,
    :attr:`RegionResult.details` has ``step``, ``links``, ``target`` (t_i),
    ``out_share`` (p1_i) and ``top_share`` (p2_i). Diagnostics: ``independent``,
    ``group_centres``, ``centres``, ``centre_groups`` (label → its centres, most jobs
    first), ``region_centre``, ``chains_broken``, ``max_links``, ``unknown_depth``,
    ``no_residents``, ``excluded``. ``tests/analysis/test_regions.py`` checks all of this against
    SCB's workbook, from a flow table built from its shares.

    **Nodal regions** (``"nodal"``): each tree of the Nystuen–Dacey dominant flows
    (see :func:`strukturbild.analysis.dominant.nystuen_dacey`) is a region; isolated units are
    regions of their own. Diagnostics: ``heads``, ``nodal`` (the
    :class:`~strukturbild.analysis.dominant.NodalStructure`).

    **Commuting zones** (``"commuting_zone"``). The cores are ``cores``, or the units
    whose share of the jobs (inflow including the intra-unit flow) reaches one of
    ``core_job_shares``, highest first; the first threshold reached is the core's
    ``level`` (Region Halland's analyses use 20 %, 8.5 % and 1 %). With ``share_of =
    "all"`` the share is of the jobs of all units; with ``"region"`` of the jobs of the
    units inside the region (``region_units``): a flow table that also holds the
    neighbours (Halland's 125 508 jobs beside Göteborg's 408 000) no longer drowns the
    region's centres, and only units inside it can be cores. The units outside
    (``diagnostics["outside"]``) join a zone as any unit does, and are
    ``"excluded"`` when they join none. Any unit that is not a core joins a core's zone
    when at least ``share`` of its employed residents work in the core (OECD 2012 and
    Dijkstra, Poelman & Veneri 2019 use 15 %; Region Halland 10 %); its primary zone is
    the core with the largest share (ties: most jobs, then smallest id). A core is
    never a member of another core's zone, whatever share of its workers go there.
    With ``multiple`` a unit is a member of every zone it reaches the share for:
    ``labels`` hold the primary zone and ``details["regions"]`` all of them, primary
    first, then by share. With ``merge_invalid``, a core that attracts no other unit
    (as primary zone, or any zone with ``multiple``) joins the core it has the largest
    flow with (both directions; ties: most jobs, then smallest id), smallest cores
    first, and is a member of that zone only; a core with no flow to any other stays
    alone (``diagnostics["lone_cores"]``). With
    ``external_min_flow``, ``diagnostics["external_links"]`` lists each zone's links
    to units outside it (``region``, ``unit``, ``sent``, ``received``: the flows of
    all its members together, secondary members included) where either direction
    reaches the minimum (Region Halland keeps those of 100 commuters or more). A unit
    inside the region that reaches no core is a region of its own with status
    ``"assigned"`` and is listed in ``diagnostics["unassigned"]``. Cores are not
    merged with each other otherwise: aggregate polycentric cores first
    (:meth:`Flows.aggregate`) if they should form one zone.

    **Labour market areas** (``"lma"``): :func:`strukturbild.analysis.lma.find_clusters`, which
    gives the partition of the R package LabourMarketAreas (``findClusters``). Units it
    sets aside before clustering (no employed residents, no jobs, or only an intra-unit
    flow) are ``"excluded"``, and so are units it could not place at all; units placed
    from the reserve list at the end have status ``"reserve"``. Region ids and
    ``validity`` are the package's. The other statistics here count *all* flows, also
    those from or to the units set aside, which the R package drops, so they add up
    like :meth:`Flows.aggregate`; the package's own figures are in
    ``diagnostics["lma_stats"]``. Diagnostics: ``reserve_list``, ``excluded``,
    ``unassigned``, ``iterations``, ``lma_stats``.

    In the other methods a unit with neither employed residents nor jobs (only zero
    counts) is ``"excluded"`` (its label is ``<NA>``).

    Examples
    --------
    A kommun-like toy: A and D are self-sufficient centres; B sends 30 % of its
    workers to A (step 20), C sends 25 % to B (step 30).

    >>> rows = [("A", "A", 900), ("A", "B", 20), ("B", "B", 60), ("B", "A", 30),
    ...         ("C", "C", 75), ("C", "B", 25), ("D", "D", 100)]
    >>> f = Flows.from_frame(pd.DataFrame(rows, columns=["origin", "destination", "count"]))
    >>> r = delineate_regions(f, "scb-la")
    >>> r.labels.to_dict(), r.step.to_dict()
    ({'A': 'A', 'B': 'A', 'C': 'A', 'D': 'D'}, {'A': 11, 'B': 20, 'C': 30, 'D': 11})
    >>> delineate_regions(f, "commuting_zone", cores=["A"]).labels.to_dict()
    {'A': 'A', 'B': 'A', 'C': 'C', 'D': 'D'}
    """
    if not isinstance(flows, Flows):
        raise TypeError(f"flows must be a strukturbild Flows, got {type(flows).__name__}")
    if isinstance(method, LMAParams | SCBLAParams | NodalParams | CommutingZoneParams):
        if params:
            raise ConfigError(f"give the parameters in the {type(method).__name__} object, "
                              f"not also as keywords ({', '.join(params)})")
        p: MethodParams = method
    else:
        p = region_params(method, params)
    units = flows.units
    if len(units) < 2:
        only = f" ('{units[0]}')" if len(units) else ""
        raise InvalidValueError(
            f"regions need flows between at least two units; the flows have {len(units)} "
            f"unit{only}"
        )
    if flows.total <= 0:
        raise InvalidValueError("all flow counts are 0; there is nothing to delineate")
    return _dispatch(flows, p)


# --------------------------------------------------------------------------- geometry


def _check_crs(crs: Any, what: str, *, metric: bool) -> None:
    if crs is None:
        raise CRSError(f"the {what} layer has no CRS; set one (e.g. EPSG:3006)")
    if metric:
        from pyproj import CRS

        if not CRS.from_user_input(crs).is_projected:
            raise CRSError(
                f"the {what} layer is in {crs}, not in metres; hulls are buffered in metres, "
                "so reproject it to a metric CRS such as EPSG:3006 first"
            )


def _geo_frame(result: RegionResult, geometry: Any, crs: Any) -> gpd.GeoDataFrame:
    import geopandas as gpd

    s = result.stats
    cols = ["name", "residents", "jobs", "sc_supply", "sc_demand", "validity", "n_units"]
    frame = s[cols].copy()
    frame["name"] = frame["name"].astype(object)
    frame["method"] = result.method
    frame.index = pd.Index(frame.index.astype(object), name="region")
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geometry, index=frame.index,
                                                          crs=crs), crs=crs)


def _members(regions: list[str], geoms: NDArray[Any]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for r, g in zip(regions, geoms, strict=True):
        out.setdefault(r, []).append(g)
    return out


def region_geometries(
    result: RegionResult,
    *,
    places: gpd.GeoDataFrame | None = None,
    areas: gpd.GeoDataFrame | None = None,
    unit_area: pd.Series | None = None,
    buffer: float = 2000.0,
) -> gpd.GeoDataFrame:
    """Give each region a geometry.

    With ``areas`` the regions are dissolved from area polygons: when the units are
    areas (every unit id is in ``areas.index``), directly; otherwise the units are
    places, mapped to areas by ``unit_area`` or by the ``area_id`` column of
    ``places``. An area whose places fall in several regions goes to the region with
    most of their population (``places["population"]`` when given, else the number of
    places; ties to the smallest region id), with a :class:`StrukturbildWarning`.

    Without ``areas`` each region is the convex hull of its member places (points or
    polygons), buffered by ``buffer`` metres so that one-place regions show.

    Parameters
    ----------
    result
        Regions from :func:`delineate_regions`.
    places
        Places (index place id, geometry), for hulls or for mapping places to areas.
    areas
        Areas (index area id, polygon geometry).
    unit_area
        Unit id → area id, when units are places and ``places`` lacks ``area_id``.
    buffer
        Buffer of the hulls in CRS units (metres); 0 for none.

    Returns
    -------
    geopandas.GeoDataFrame
        Index ``region``; ``name``, ``residents``, ``jobs``, ``sc_supply``,
        ``sc_demand``, ``validity``, ``n_units``, ``method``; geometry in the CRS of
        the input layer. Excluded units are left out.

    Raises
    ------
    ConfigError
        Neither ``places`` nor ``areas``, or no way to map places to areas.
    UnknownCodeError
        A unit without a geometry (or without an area).
    CRSError
        The layer has no CRS, or hulls are asked for in a CRS not in metres.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> f = Flows(pd.Series([8.0, 2.0, 5.0, 5.0], index=pd.MultiIndex.from_tuples(
    ...     [("a", "a"), ("a", "b"), ("b", "b"), ("b", "a")])))
    >>> r = delineate_regions(f, "nodal")
    >>> pts = gpd.GeoDataFrame(geometry=[shapely.Point(0, 0), shapely.Point(10000, 0)],
    ...                        index=["a", "b"], crs="EPSG:3006")
    >>> g = region_geometries(r, places=pts)
    >>> g.index.tolist(), g.loc["a", "name"], int(g.loc["a", "n_units"]), g.loc["a", "method"]
    (['a'], 'a', 2, 'nodal')
    >>> round(g.geometry.iloc[0].bounds[0])
    -2000
    """
    import shapely

    lab = result.labels.dropna()
    ids = [str(x) for x in lab.index]
    regions = [str(x) for x in lab.to_numpy()]
    if areas is not None:
        _check_crs(areas.crs, "areas", metric=False)
        area_index = pd.Index([str(x) for x in areas.index], dtype=object)
        units_are_areas = bool(
            (area_index.get_indexer(pd.Index(ids, dtype=object)) >= 0).all())
        if unit_area is None and units_are_areas:
            unit_areas = ids
            assign = pd.Series(regions, index=pd.Index(ids, dtype=object))
        else:
            if unit_area is not None:
                mapping = pd.Series(unit_area)
            elif places is not None and "area_id" in places.columns:
                mapping = places["area_id"]
            else:
                raise ConfigError(
                    "the units are not the areas; give unit_area (unit → area id) or places "
                    "with an area_id column"
                )
            mapping = pd.Series([None if pd.isna(v) else str(v) for v in mapping.to_numpy()],
                                index=pd.Index([str(x) for x in mapping.index], dtype=object),
                                dtype=object)
            got = mapping.reindex(pd.Index(ids, dtype=object))
            if got.isna().any():
                bad = got.index[got.isna().to_numpy(dtype=bool)]
                raise UnknownCodeError(
                    f"unit '{bad[0]}' has no area ({len(bad)} in all); map every unit to an area"
                )
            unknown = ~got.isin(area_index).to_numpy(dtype=bool)
            if unknown.any():
                raise UnknownCodeError(
                    f"area '{got.iloc[int(np.flatnonzero(unknown)[0])]}' (of unit "
                    f"'{got.index[int(np.flatnonzero(unknown)[0])]}') is not in the areas layer "
                    f"({int(unknown.sum())} unit(s) in all)"
                )
            weight = np.ones(len(ids))
            if places is not None and "population" in places.columns:
                pop = pd.to_numeric(places["population"], errors="coerce")
                pop.index = pd.Index([str(x) for x in pop.index], dtype=object)
                weight = pop.reindex(pd.Index(ids, dtype=object)).fillna(0.0).to_numpy(float)
            t = pd.DataFrame({"area": got.to_numpy(dtype=object),
                              "region": np.asarray(regions, dtype=object), "w": weight})
            tot = t.groupby(["area", "region"], sort=True)["w"].sum().reset_index()
            split = tot.groupby("area")["region"].nunique()
            if (split > 1).any():
                warnings.warn(
                    f"{int((split > 1).sum())} area(s) hold places of more than one region, "
                    f"e.g. '{split.index[(split > 1).to_numpy()][0]}'; each goes to the region "
                    "with most of its population",
                    StrukturbildWarning, stacklevel=2,
                )
            tot = tot.sort_values(["area", "w", "region"], ascending=[True, False, True])
            best = tot.drop_duplicates("area")
            assign = pd.Series(best["region"].to_numpy(dtype=object),
                               index=pd.Index(best["area"].to_numpy(dtype=object)))
            unit_areas = list(assign.index)
        pos = area_index.get_indexer(pd.Index(unit_areas, dtype=object))
        if (pos < 0).any():
            bad_area = unit_areas[int(np.flatnonzero(pos < 0)[0])]
            raise UnknownCodeError(f"area '{bad_area}' is not in the areas layer "
                                   f"({int((pos < 0).sum())} missing in all)")
        geoms = np.asarray(areas.geometry.to_numpy(), dtype=object)[pos]
        members = _members([str(x) for x in assign.to_numpy()], geoms)
        out_geom = [shapely.union_all(members[str(r)]) if str(r) in members else None
                    for r in result.stats.index]
        return _geo_frame(result, out_geom, areas.crs)

    if places is None:
        raise ConfigError("region_geometries needs places or areas")
    _check_crs(places.crs, "places", metric=buffer > 0)
    place_index = pd.Index([str(x) for x in places.index], dtype=object)
    pos = place_index.get_indexer(pd.Index(ids, dtype=object))
    if (pos < 0).any():
        missing = ids[int(np.flatnonzero(pos < 0)[0])]
        raise UnknownCodeError(
            f"unit '{missing}' is not among the places ({int((pos < 0).sum())} missing in all); "
            "every unit of the regions needs a place geometry"
        )
    geoms = np.asarray(places.geometry.to_numpy(), dtype=object)[pos]
    members = _members(regions, geoms)
    out_geom = []
    for r in result.stats.index:
        hull = shapely.convex_hull(shapely.GeometryCollection(members.get(str(r), [])))
        out_geom.append(shapely.buffer(hull, buffer) if buffer > 0 else hull)
    return _geo_frame(result, out_geom, places.crs)
