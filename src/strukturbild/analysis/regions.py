"""Functional regions from commuting flows.

:func:`delineate_regions` groups the units of a :class:`~strukturbild.analysis.flows.Flows`
table into functional regions by one of four methods and returns a
:class:`RegionResult`; :func:`region_geometries` gives the regions a geometry.

``"lma"``
    Labour market areas by the Eurostat/Istat version of the Coombes–Bond
    travel-to-work-area algorithm (Coombes & Bond 2008; Franconi, D'Alò & Ichim 2016),
    implemented in :mod:`strukturbild.analysis.lma`.
``"scb_la"``
    Statistics Sweden's local labour markets (lokala arbetsmarknader, LA).
``"nodal"``
    Nodal regions from the Nystuen–Dacey dominant flows (Nystuen & Dacey 1961).
``"commuting_zone"``
    Commuting zones around given cores, as in the OECD–EU definition of functional
    urban areas (OECD 2012; Dijkstra, Poelman & Veneri 2019): a unit belongs to the
    core that at least 15 % of its employed residents commute to.

Every method labels a region by its *leader*: the member unit with the most jobs
(inflow including the intra-unit flow). Ties go to the method's own centre of the
region (the LA centre, the nodal head, the core), then to the smallest id.

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
Statistiska centralbyrån, Örebro (ISBN 978-91-618-1512-8), p. 181; and SCB, "Lokala
arbetsmarknader (LA)", fördjupad information to the register-based labour market
statistics (RAMS), scb.se.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

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
METHODS: tuple[str, ...] = ("lma", "scb_la", "nodal", "commuting_zone")
#: The statuses a unit can have in a :class:`RegionResult`.
STATUSES: tuple[str, ...] = ("assigned", "reserve", "excluded")
#: The per-region statistics, in this order.
STAT_COLUMNS: tuple[str, ...] = (
    "name", "residents", "jobs", "internal", "sc_supply", "sc_demand", "validity",
    "n_units", "leader",
)

_DEFAULTS: Mapping[str, Mapping[str, Any]] = {
    "lma": {
        "min_size": 1000.0,
        "min_self_containment": 0.6667,
        "target_size": 10000.0,
        "target_self_containment": 0.75,
    },
    "scb_la": {"max_outflow": 0.2, "max_single_outflow": 0.075, "max_chain": 3},
    "nodal": {"k": 1.0},
    "commuting_zone": {"cores": None, "share": 0.15},
}

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

    @property
    def n_regions(self) -> int:
        """Number of regions."""
        return len(self.stats)

    def to_frame(self) -> pd.DataFrame:
        """One row per unit: ``unit``, ``region`` (``<NA>`` when excluded), ``status``."""
        return pd.DataFrame(
            {
                "unit": pd.Series(self.labels.index, dtype="string"),
                "region": pd.Series(self.labels.to_numpy(), dtype="string"),
                "status": pd.Series(self.status.reindex(self.labels.index).to_numpy(),
                                    dtype="string"),
            }
        )

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


def _number(method: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigError(f"{method}: parameter '{name}' must be a number, got {value!r}")
    x = float(value)
    if not math.isfinite(x):
        raise ConfigError(f"{method}: parameter '{name}' must be finite, got {value!r}")
    return x


def _params(method: str, given: Mapping[str, Any]) -> dict[str, Any]:
    allowed = _DEFAULTS[method]
    unknown = [k for k in given if k not in allowed]
    if unknown:
        takes = ", ".join(allowed)
        raise ConfigError(
            f"method '{method}' does not take parameter '{unknown[0]}'; it takes {takes}"
        )
    out = dict(allowed)
    out.update(given)
    return out


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


def _scb_la(flows: Flows, p: dict[str, Any]) -> RegionResult:
    max_out = _number("scb_la", "max_outflow", p["max_outflow"])
    max_single = _number("scb_la", "max_single_outflow", p["max_single_outflow"])
    chain = p["max_chain"]
    if isinstance(chain, bool) or not isinstance(chain, (int, float, np.integer, np.floating)) \
            or not float(chain).is_integer() or chain < 1:
        raise ConfigError(f"scb_la: max_chain must be a whole number >= 1, got {chain!r}")
    max_chain = int(chain)
    for name, val in (("max_outflow", max_out), ("max_single_outflow", max_single)):
        if not 0 <= val <= 1:
            raise ConfigError(f"scb_la: {name} is a share of employed residents and must be "
                              f"in [0, 1], got {val!r}")
    _require_self_flows(flows, "scb_la")

    b = _base(flows)
    n = len(b.units)
    rows, bo, bd = _best_per_origin(b.o, b.d, b.c, b.jobs)
    largest = np.zeros(n)
    target = np.arange(n, dtype=np.int64)
    largest[bo] = b.c[rows]
    target[bo] = bd
    res = b.residents
    with np.errstate(divide="ignore", invalid="ignore"):
        share_out = np.where(res > 0, b.out / np.where(res > 0, res, 1.0), 0.0)
        share_max = np.where(res > 0, largest / np.where(res > 0, res, 1.0), 0.0)
    excluded = _excluded(b)
    independent = (res <= 0) | ((share_out <= max_out) & (share_max <= max_single))
    dependent = ~independent & ~excluded
    parent = np.arange(n, dtype=np.int64)
    parent[dependent] = target[dependent]
    link_share = np.where(dependent, share_max, np.inf)

    # two or more units pointing round: the one with most jobs becomes a centre
    priority = _rank(b.jobs)
    parent, root, depth, cut = _forest(parent, priority)

    broken: list[tuple[str, str]] = []
    while len(depth) and int(depth.max()) > max_chain:
        deepest = int(np.flatnonzero(depth == depth.max())[0])
        path = [deepest]
        while parent[path[-1]] != path[-1]:
            path.append(int(parent[path[-1]]))
        links = np.asarray(path[:-1], dtype=np.int64)  # each x -> parent[x]
        weakest = int(links[int(np.argmin(link_share[links]))])
        broken.append((str(b.units[weakest]), str(b.units[int(parent[weakest])])))
        parent[weakest] = weakest
        parent, root, depth, _ = _forest(parent, priority)

    group = np.where(excluded, -1, root).astype(np.int64)
    centre = parent == np.arange(n)
    diagnostics: dict[str, Any] = {
        "params": {"max_outflow": max_out, "max_single_outflow": max_single,
                   "max_chain": max_chain},
        "independent": _ids(b.units, np.flatnonzero(independent & ~excluded)),
        "cycle_centres": _ids(b.units, cut),
        "chains_broken": tuple(broken),
        "centres": _ids(b.units, np.flatnonzero(centre & ~excluded)),
        "excluded": _ids(b.units, np.flatnonzero(excluded)),
        "max_links": int(depth.max()) if len(depth) else 0,
    }
    labels = _leader_labels(group, b.jobs, centre, b.units)
    keep = ~excluded
    region_centre = {
        str(r): str(b.units[int(c)])
        for r, c in zip(labels.to_numpy(dtype=object)[keep], root[keep], strict=True)
    }
    diagnostics["region_centre"] = MappingProxyType(dict(sorted(region_centre.items())))
    return _finish("scb_la", flows, b, group, centre, diagnostics, labels)


def _nodal(flows: Flows, p: dict[str, Any]) -> RegionResult:
    k = _number("nodal", "k", p["k"])
    nd = nystuen_dacey(flows, k=k)  # checks k
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


def _commuting_zone(flows: Flows, p: dict[str, Any]) -> RegionResult:
    share = _number("commuting_zone", "share", p["share"])
    if not 0 < share <= 1:
        raise ConfigError(f"commuting_zone: share must be in (0, 1], got {share!r}")
    raw = p["cores"]
    if raw is None:
        raise ConfigError("commuting_zone needs cores: the ids of the core units")
    cores_in = [raw] if isinstance(raw, str) else list(raw)
    cores = list(dict.fromkeys(str(c).strip() for c in cores_in if str(c).strip()))
    if not cores:
        raise ConfigError("commuting_zone needs at least one core id")
    b = _base(flows)
    n = len(b.units)
    pos = b.units.get_indexer(pd.Index(cores, dtype=object))
    if (pos < 0).any():
        missing = [c for c, q in zip(cores, pos, strict=True) if q < 0]
        raise UnknownCodeError(
            f"core '{missing[0]}' is not a unit of the flows ({len(missing)} unknown in all)"
        )
    is_core = np.zeros(n, dtype=bool)
    is_core[pos] = True
    to_core = is_core[b.d] & ~is_core[b.o]
    o, d = b.o[to_core], b.d[to_core]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = b.c[to_core] / b.residents[o]
    rows, bo, bd = _best_per_origin(o, d, frac, b.jobs)
    joins = frac[rows] >= share
    group = np.arange(n, dtype=np.int64)
    group[bo[joins]] = bd[joins]
    excluded = _excluded(b) & ~is_core
    group[excluded] = -1
    unassigned = ~is_core & ~excluded & (group == np.arange(n))
    diagnostics: dict[str, Any] = {
        "params": {"cores": tuple(cores), "share": share},
        "cores": tuple(cores),
        "unassigned": _ids(b.units, np.flatnonzero(unassigned)),
        "excluded": _ids(b.units, np.flatnonzero(excluded)),
    }
    return _finish("commuting_zone", flows, b, group, is_core, diagnostics)


def _lma_method(flows: Flows, p: dict[str, Any]) -> RegionResult:
    names = ("min_size", "min_self_containment", "target_size", "target_self_containment")
    v = {k: _number("lma", k, p[k]) for k in names}
    if not 0 < v["min_size"] <= v["target_size"]:
        raise ConfigError(
            f"lma: need 0 < min_size <= target_size, got min_size={v['min_size']:g}, "
            f"target_size={v['target_size']:g}"
        )
    if not 0 < v["min_self_containment"] <= v["target_self_containment"] <= 1:
        raise ConfigError(
            "lma: need 0 < min_self_containment <= target_self_containment <= 1, got "
            f"{v['min_self_containment']:g} and {v['target_self_containment']:g}"
        )
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


_DISPATCH = {
    "lma": _lma_method,
    "scb_la": _scb_la,
    "nodal": _nodal,
    "commuting_zone": _commuting_zone,
}


def delineate_regions(flows: Flows, method: str = "lma", **params: Any) -> RegionResult:
    """Group the units of a flow table into functional regions.

    Parameters
    ----------
    flows
        Commuting flows (origin = home, destination = work). ``"lma"`` and
        ``"scb_la"`` need intra-unit flows (origin = destination), because they rest
        on self-containment.
    method
        ``"lma"``, ``"scb_la"``, ``"nodal"`` or ``"commuting_zone"`` (hyphens are
        accepted too: ``"scb-la"``).
    **params
        The method's parameters (anything else raises :class:`ConfigError`):

        ``lma`` (Eurostat/Istat labour market areas, Coombes & Bond 2008):
            ``min_size`` (1000), ``min_self_containment`` (0.6667), ``target_size``
            (10000), ``target_self_containment`` (0.75); the defaults are the example
            of the Istat R package LabourMarketAreas. Need ``0 < min_size <=
            target_size`` and ``0 < min_self_containment <= target_self_containment
            <= 1``.
        ``scb_la`` (SCB local labour markets):
            ``max_outflow`` (0.2), ``max_single_outflow`` (0.075), ``max_chain`` (3).
        ``nodal`` (Nystuen & Dacey 1961):
            ``k`` (1.0), the dominance ratio.
        ``commuting_zone`` (OECD 2012; Dijkstra, Poelman & Veneri 2019):
            ``cores`` (ids, required), ``share`` (0.15).

    Returns
    -------
    RegionResult
        Labels, statuses, per-region statistics and diagnostics.

    Raises
    ------
    ConfigError
        Unknown method or parameter, or a parameter out of range.
    InvalidValueError
        Fewer than two units, all counts zero, or no intra-unit flows for ``"lma"`` /
        ``"scb_la"``.
    UnknownCodeError
        A core that is not a unit of the flows.

    Notes
    -----
    **SCB local labour markets** (``"scb_la"``). In SCB's rule (SCB 2010, p. 181) a
    kommun is self-sufficient in jobs, and may be the centre of a local labour market,
    when the share of its employed residents who commute to other kommuner does not
    exceed (*får inte överstiga*) 20 % and the share commuting to any single other
    kommun does not exceed 7.5 %; every other kommun is joined to the kommun its
    largest out-commuting goes to, and long chains of such links are not allowed.
    Here:

    - *independent*: out-commuting share ``<= max_outflow`` and largest single
      outflow ``<= max_single_outflow`` of the employed residents (outflow including
      the intra-unit flow). "Does not exceed", so a unit exactly at a threshold is
      independent. A unit without employed residents cannot point anywhere and is a
      centre too.
    - every other unit points at the unit receiving its *largest outflow*; ties go to
      the destination with most jobs, then to the smallest id (so the result does not
      depend on row order).
    - *cycles* (units pointing at each other, none of them independent): the unit of
      the cycle with most jobs becomes a centre (ties: smallest id).
    - *chains*: a unit may be at most ``max_chain`` links from its centre. While some
      unit is farther, the deepest such unit (smallest id on ties) is taken and its
      path to the centre is cut at its *weakest link*, the link whose flow is the
      smallest share of its origin's employed residents (on ties the link farthest
      from the centre). The unit whose link was cut becomes the centre of its own
      region, together with the units that point at it. SCB (2010) describes this
      rule as at most two links between a kommun and its centre, so pass
      ``max_chain=2`` to follow that wording; the default 3 follows the older
      description of the method (chains of more than three links are broken at
      their weakest part).

    Diagnostics: ``independent``, ``cycle_centres``, ``chains_broken`` (pairs of
    unit and the destination it was cut from), ``centres``, ``region_centre``
    (region id → centre), ``max_links``, ``excluded``.

    **Nodal regions** (``"nodal"``): each tree of the Nystuen–Dacey dominant flows
    (see :func:`strukturbild.analysis.dominant.nystuen_dacey`) is a region; isolated units are
    regions of their own. Diagnostics: ``heads``, ``nodal`` (the
    :class:`~strukturbild.analysis.dominant.NodalStructure`).

    **Commuting zones** (``"commuting_zone"``): each core is a region of its own; any
    other unit joins the core that receives the largest share of its employed
    residents when that share is at least ``share`` (ties: the core with most jobs,
    then the smallest id). A unit that reaches no core is a region of its own with
    status ``"assigned"`` and is listed in ``diagnostics["unassigned"]``. Cores are
    not merged with each other: aggregate polycentric cores first
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
    A kommun-like toy: A and D are self-contained centres; B sends 30 % of its
    workers to A, C sends 25 % to B.

    >>> rows = [("A", "A", 900), ("A", "B", 20), ("B", "B", 60), ("B", "A", 30),
    ...         ("C", "C", 75), ("C", "B", 25), ("D", "D", 100)]
    >>> f = Flows.from_frame(pd.DataFrame(rows, columns=["origin", "destination", "count"]))
    >>> delineate_regions(f, "scb_la").labels.to_dict()
    {'A': 'A', 'B': 'A', 'C': 'A', 'D': 'D'}
    >>> delineate_regions(f, "commuting_zone", cores=["A"]).labels.to_dict()
    {'A': 'A', 'B': 'A', 'C': 'C', 'D': 'D'}
    """
    if not isinstance(flows, Flows):
        raise TypeError(f"flows must be a strukturbild Flows, got {type(flows).__name__}")
    key = str(method).strip().lower().replace("-", "_")
    if key not in _DISPATCH:
        raise ConfigError(f"unknown region method {method!r}; use one of {', '.join(METHODS)}")
    p = _params(key, params)
    units = flows.units
    if len(units) < 2:
        only = f" ('{units[0]}')" if len(units) else ""
        raise InvalidValueError(
            f"regions need flows between at least two units; the flows have {len(units)} "
            f"unit{only}"
        )
    if flows.total <= 0:
        raise InvalidValueError("all flow counts are 0; there is nothing to delineate")
    return _DISPATCH[key](flows, p)


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
