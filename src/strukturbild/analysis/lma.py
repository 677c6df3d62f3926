"""Labour market areas (LMAs) with the Eurostat/Istat travel-to-work-area algorithm.

This module re-implements ``findClusters`` of the R package **LabourMarketAreas 3.4**
(Franconi, D'Alò, Ichim, van den Heuvel; Istat), the implementation of the
Coombes & Bond (2008) travel-to-work-area algorithm that Eurostat recommends for
harmonised labour market areas (Eurostat 2020, *European harmonised labour market
areas - methodological guidelines*). The aim is to return *exactly* the partition the
R package returns, including its order of operations, its tie-breaking and a few of
its quirks (each marked ``R quirk`` below), but in a small fraction of its run time.

It depends on numpy and pandas only and imports nothing else from the package.

Algorithm (as the R code does it)
---------------------------------
1. **Zero list.** Units with no employed residents, no jobs, or only a self-flow are
   set aside, repeatedly (removing a unit removes its flows, which may empty others),
   until none is left.
2. Every remaining unit starts as a cluster of its own. A cluster with employed
   residents ``live``, jobs ``work`` and internal flow ``self`` has
   ``SC = min(self/live, self/work)``, ``Y = min(SC/tarSC, 1)``,
   ``s = max((tarSZ - live)/(tarSZ - minSZ), 0)``, ``Z = 1 - (1 - minSC/tarSC)*s`` and
   ``validity = Y*Z*tarSC/minSC``, set to 1 when ``SC == 1``.
3. While the least valid cluster has validity < 1 it is dissolved (ties: the cluster
   with the smallest internal number, i.e. whose seed unit sorts first).

   * A one-unit cluster: the unit goes to the cluster of highest cohesion
     ``T_ab²/(live_a·work_b) + T_ba²/(live_b·work_a)``, if that does not lower the
     target's validity; otherwise (event ``A``) or if it has no flows to any cluster
     (event ``B``) it goes to the *reserve list*.
   * A larger cluster: its members are ranked by ``inflow from outside the cluster +
     residents - self-flow`` (descending, ties by id). Only the first is moved (to the
     cluster of highest cohesion, with the same validity check; event ``C`` sends it
     to the reserve list); the others are put back together as the same cluster,
     which is dissolved again when it is the least valid one. When the first member
     has no flows to any cluster (event ``D``), the others are placed one by one,
     least valid first (events ``E`` and ``F`` for those that go to the reserve).
4. After convergence the reserve list is assigned without validity check, unit by
   unit to the cluster of highest cohesion, repeating passes until no unit can be
   placed.

R quirks reproduced (details at the code)
-----------------------------------------
* Every order follows R's cluster numbers (initial singletons numbered in id order,
  numeric or C-locale) and data.table's stable sorts, including the tie-breaks of
  the least valid cluster and of the cohesion maximum (see ``_Engine._best``).
* A cluster put back together after losing one member is, for one validity table,
  judged on R's non-aggregated rows: the minimum over member marginals times
  internal unit flows, usually tiny (0.0042 at iteration 309 of the Sardinia
  reference), so it is dissolved again at once (see ``_Engine._reform``).
* A cluster with ``SC == 1`` has validity exactly 1, whatever its size.
* The reserve list is assigned starting from the last id.
* With character ids the zero list is reported sorted.

Implementation
--------------
Unit-level adjacency lists, cluster totals updated incrementally and a heap of
validities with lazy deletion; an iteration costs O(flows of the dissolved units +
log n) rather than R's whole-table data.table operations (Sardinia: ~20 ms vs ~36 s).

References
----------
Coombes, M. and Bond, S. (2008). *Travel-to-Work Areas: the 2007 review.* Office for
National Statistics, London.

Franconi, L., D'Alò, M. and Ichim, D. (2016). *Istat implementation of the algorithm
to develop Labour Market Areas.* Istat. R package LabourMarketAreas (CRAN), Istat.

Eurostat (2020). *European harmonised labour market areas - methodological
guidelines.* Publications Office of the European Union, Luxembourg.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

__all__ = ["LMAResult", "find_clusters"]

# unit markers in the cluster array (cluster ids are seed ranks >= 0)
_RESERVE = -1  # on the reserve list (R: cluster 0)
_LOOSE = -2  # member of a cluster being dissolved (R: negative cluster ids)


@dataclass(frozen=True)
class LMAResult:
    """Result of :func:`find_clusters`.

    Attributes
    ----------
    labels : pandas.Series
        Index: every unit id of the input (original values and dtype), sorted as R
        sorts them, named ``"unit"``. Values (name ``"region"``): the id of the leader
        of the unit's region (its member with most jobs, self-flow included; ties: the
        first id in sort order), ``<NA>`` for excluded and unassigned units. Nullable
        dtype of the ids (``Int64``, ``Float64`` or ``string``).
    status : pandas.Series
        Same index, name ``"status"``: ``"assigned"`` (in its region when the
        iteration converged), ``"reserve"`` (was on the reserve list and placed by the
        final reserve assignment), ``"excluded"`` (zero list) or ``"unassigned"`` (on
        the reserve list and without any flow to a region; R's ``comNotAssigned``,
        which is empty on real data).
    stats : pandas.DataFrame
        One row per region, index the leader id (name ``"region"``), sorted by it:
        ``residents`` (employed residents: all outflows incl. self-flows), ``jobs``,
        ``internal`` (flows with origin and destination inside), ``sc_supply``
        (internal/residents), ``sc_demand`` (internal/jobs), ``validity`` (as R
        computes it, so a region built by the reserve assignment may be < 1) and
        ``n_units``. Flows of excluded units are not counted (as in R).
    reserve_list : pandas.DataFrame
        The reserve-list events in the order they happened, like R's ``reserve.list``:
        ``type`` (``"A"`` to ``"F"``), ``iteration`` (R's 1-based loop counter),
        ``dissolved_cluster`` (the cluster that was dissolved, named by its seed unit:
        R's internal cluster number ``i`` is the ``i``-th unit in sort order among
        those not on the zero list; a cluster keeps its number when it loses its seed;
        for events ``E``/``F`` the unit itself),
        ``validity`` (its validity, as R reports it), ``unit`` (the unit sent to the
        reserve list) and ``next_unit`` (events ``C``/``D``: the next member in the
        regrouping order, which is *not* sent to the reserve list; else ``<NA>``).
    excluded : tuple
        The units set aside before clustering (zero list), in R's order: for numeric
        ids sorted within each round of removal, for string ids sorted.
    iterations : int
        Number of dissolution steps of the main loop (R's final counter minus 1).
    """

    labels: pd.Series
    status: pd.Series
    stats: pd.DataFrame
    reserve_list: pd.DataFrame
    excluded: tuple[Any, ...]
    iterations: int


@dataclass(frozen=True)
class _Params:
    min_sz: float
    min_sc: float
    tar_sz: float
    tar_sc: float

    @property
    def sc_ratio(self) -> float:
        return self.min_sc / self.tar_sc

    @property
    def scale(self) -> float:
        return self.tar_sc / self.min_sc


def _validity(live: float, work: float, internal: float, p: _Params) -> float:
    """Validity of one cluster, with R's floating-point operations in R's order.

    The exact order matters: the algorithm compares validities for equality (ties)
    and for ``>=`` (the acceptance check), so they must agree with R to the last bit.
    """
    msc = min(internal / live, internal / work)
    if msc == 1.0:
        # R quirk (getLeastSelfContained): a cluster with SC == 1 is valid whatever
        # its size (`LWSelf[msc==1, validity:=1]`)
        return 1.0
    y = msc / p.tar_sc
    if y > 1.0:
        y = 1.0
    den = p.tar_sz - p.min_sz
    if den > 0.0:
        s = (p.tar_sz - live) / den
        if s < 0.0:
            s = 0.0
        z = 1.0 - ((1.0 - p.sc_ratio) * s)
    else:
        # minSZ == tarSZ (R would divide by zero): the limit tarSZ -> minSZ, i.e. a
        # step; smaller clusters get validity -inf unless minSC == tarSC
        if live >= p.tar_sz or p.sc_ratio == 1.0:
            z = 1.0
        else:
            return -math.inf
    return y * z * p.scale


def _validity_rows(msc: NDArray[np.float64], live: NDArray[np.float64],
                   p: _Params) -> NDArray[np.float64]:
    """Vectorised :func:`_validity` for given SC values (same operations)."""
    y = msc / p.tar_sc
    y[y > 1.0] = 1.0
    den = p.tar_sz - p.min_sz
    live_b = np.broadcast_to(live, msc.shape)
    if den > 0.0:
        s = (p.tar_sz - live_b) / den
        s[s < 0.0] = 0.0
        z = 1.0 - ((1.0 - p.sc_ratio) * s)
        v = y * z * p.scale
    else:
        ok = (live_b >= p.tar_sz) | (p.sc_ratio == 1.0)
        v = np.where(ok, y * p.scale, -np.inf)
    v[msc == 1.0] = 1.0
    return np.asarray(v, dtype=np.float64)


# ----------------------------------------------------------------------------------
# input handling
# ----------------------------------------------------------------------------------


def _to_array(x: ArrayLike, name: str, ids: bool = False) -> NDArray[Any]:
    if isinstance(x, pd.Series | pd.Index):
        x = x.to_numpy()
    elif isinstance(x, pd.api.extensions.ExtensionArray):
        x = np.asarray(x, dtype=object)
    elif ids and not isinstance(x, np.ndarray):
        # keep Python objects as they are: np.asarray([1, "2"]) would silently make
        # strings of the numbers
        x = np.asarray(x, dtype=object)
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr


def _ids_array(origin: NDArray[Any], destination: NDArray[Any]) -> tuple[NDArray[Any], bool]:
    """Concatenate origin and destination ids; return them and whether they are strings.

    Numeric ids are sorted numerically (R: integer ids), string ids by code point,
    which is the C-locale order data.table uses for character ids (``idcom_type``).
    """
    both = np.concatenate([origin, destination]) if origin.size + destination.size else origin
    kind = both.dtype.kind
    if kind in "iu":
        return both, False
    if kind == "f":
        if not np.all(np.isfinite(both)):
            raise ValueError("unit ids must not be NaN or infinite")
        return both, False
    if kind in "US":
        return both.astype(str), True
    if kind == "O":
        vals = both.tolist()
        if all(isinstance(v, str) for v in vals):
            return np.array(vals, dtype=str) if vals else np.array([], dtype=str), True
        if all(isinstance(v, int | float | np.integer | np.floating)
               and not isinstance(v, bool | np.bool_) for v in vals):
            arr = np.array(vals)
            if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
                raise ValueError("unit ids must not be NaN or infinite")
            return arr, False
        raise ValueError(
            "unit ids must be all numbers or all strings (no mixture, no missing values)")
    raise ValueError(f"unsupported unit id dtype {both.dtype}")


def _check_params(min_size: float, min_sc: float, target_size: float,
                  target_sc: float) -> _Params:
    vals = {"min_size": min_size, "min_self_containment": min_sc,
            "target_size": target_size, "target_self_containment": target_sc}
    for key, val in vals.items():
        if isinstance(val, bool) or not isinstance(val, int | float | np.integer | np.floating):
            raise ValueError(f"{key} must be a number, got {val!r}")
        if not math.isfinite(float(val)):
            raise ValueError(f"{key} must be finite, got {val!r}")
    p = _Params(float(min_size), float(min_sc), float(target_size), float(target_sc))
    if not 0.0 < p.min_sz <= p.tar_sz:
        raise ValueError(
            f"need 0 < min_size <= target_size, got min_size={min_size}, "
            f"target_size={target_size}")
    if not 0.0 < p.min_sc <= p.tar_sc <= 1.0:
        raise ValueError(
            "need 0 < min_self_containment <= target_self_containment <= 1, got "
            f"min_self_containment={min_sc}, target_self_containment={target_sc}")
    return p


# ----------------------------------------------------------------------------------
# the clustering engine (works on unit ranks 0..n-1 in R's sort order)
# ----------------------------------------------------------------------------------


class _Engine:
    """State of the R algorithm, kept incrementally.

    Units are numbered by their rank in R's sort order. A cluster is numbered by the
    rank of its *seed* unit (the unit it started with): R numbers the initial
    singletons 1..n in sort order, a merge keeps the number of the receiving cluster
    and a cluster that is put back together keeps its number, so R's cluster ``i`` is
    our cluster ``i - 1`` throughout, and every order R derives from cluster numbers
    is an order on ranks here.

    Only unit-level adjacency lists are stored: every cohesion R computes is between
    one unit and the clusters of its neighbours, and every cluster total is a sum over
    its members, so no cluster-to-cluster flow table is needed.
    """

    def __init__(self, n: int, out_nbr: list[list[int]], out_w: list[list[float]],
                 in_nbr: list[list[int]], in_w: list[list[float]], self_w: list[float],
                 has_self: list[bool], res: list[float], jobs: list[float],
                 p: _Params) -> None:
        self.n = n
        self.out_nbr, self.out_w, self.in_nbr, self.in_w = out_nbr, out_w, in_nbr, in_w
        self.self_w, self.has_self, self.res, self.jobs = self_w, has_self, res, jobs
        self.p = p
        self.cl: list[int] = list(range(n))
        self.members: list[list[int] | None] = [[u] for u in range(n)]
        self.live: list[float] = list(res)
        self.work: list[float] = list(jobs)
        self.internal: list[float] = list(self_w)
        self.val: list[float] = [_validity(res[u], jobs[u], self_w[u], p) for u in range(n)]
        self.ver: list[int] = [0] * n
        self.heap: list[tuple[float, int, int]] = [(self.val[c], c, 0) for c in range(n)]
        heapq.heapify(self.heap)
        # cluster -> (min, max) of the validity rows R computes for it (see _reform)
        self.bogus: dict[int, tuple[float, float]] = {}
        self.moves: list[int] = [0] * n
        # events: type, iteration, dissolved cluster, validity, unit, next unit (-1)
        self.events: list[tuple[str, int, int, float, int, int]] = []
        self.iteration = 1
        self.reserve_before: list[int] = []
        # D-loop steps in which R would have regrouped another cluster (see Notes)
        self.deviations = 0

    # -- helpers -------------------------------------------------------------------

    def _push(self, c: int, v: float) -> None:
        self.ver[c] += 1
        heapq.heappush(self.heap, (v, c, self.ver[c]))

    def _old_validity(self, k: int) -> float:
        # R compares the target's new validity with *all* its rows in the validity
        # table of the start of the iteration; for a re-formed cluster those are many
        # (see _reform), so the new one must be >= their maximum.
        b = self.bogus.get(k)
        return self.val[k] if b is None else b[1]

    def _best(self, u: int) -> tuple[int, float, float]:
        """R's regroupDissolved(.ncom): the cluster of highest cohesion with unit ``u``.

        Returns ``(cluster, T(u->cluster), T(cluster->u))``, cluster -1 when ``u`` has
        no flow (not even a zero one) to or from any cluster. Reserve units and the
        other members of a cluster being dissolved are not candidates.
        """
        cl = self.cl
        t_out: dict[int, float] = {}
        t_in: dict[int, float] = {}
        for v, t in zip(self.out_nbr[u], self.out_w[u], strict=True):
            k = cl[v]
            if k >= 0:
                t_out[k] = t_out.get(k, 0.0) + t
        for v, t in zip(self.in_nbr[u], self.in_w[u], strict=True):
            k = cl[v]
            if k >= 0:
                t_in[k] = t_in.get(k, 0.0) + t
        if not t_out and not t_in:
            return -1, 0.0, 0.0
        live_u = self.res[u]
        work_u = self.jobs[u]
        live, work = self.live, self.work
        best = -1
        best_key: tuple[float, bool, int] = (-math.inf, False, -1)
        # R quirk (determineCohesion/determineRegroupList): the one-sided strengths
        # are listed sorted by (cluster_work, cluster_live), i.e. first the clusters
        # with a flow *to* u, then those with only a flow *from* u, each by number;
        # summed per pair in that order of first appearance, stably sorted by
        # strength, and the *last* row is taken. So among equal cohesions the
        # winner is the one listed last: key (strength, only-outflow, number).
        for k, ti in t_in.items():
            s = ti / live[k] * ti / work_u  # R: amount / amount_live * amount / amount_work
            to = t_out.get(k)
            if to is not None:
                s = s + to / live_u * to / work[k]
            key = (s, False, k)
            if key > best_key:
                best_key, best = key, k
        for k, to in t_out.items():
            if k in t_in:
                continue
            s = to / live_u * to / work[k]
            key = (s, True, k)
            if key > best_key:
                best_key, best = key, k
        return best, t_out.get(best, 0.0), t_in.get(best, 0.0)

    def _join(self, u: int, k: int, internal: float, validity: float) -> None:
        self.cl[u] = k
        members = self.members[k]
        assert members is not None
        members.append(u)
        self.live[k] += self.res[u]
        self.work[k] += self.jobs[u]
        self.internal[k] = internal
        self.val[k] = validity
        # R's mergeCluster re-aggregates the whole flow table: no more split rows
        self.bogus.pop(k, None)
        self._push(k, validity)

    def _try_place(self, u: int) -> int:
        """Move ``u`` to its cluster of highest cohesion if that does not lower the
        target's validity. Returns 1 if moved, 0 if rejected, -1 if no candidate."""
        k, t_out, t_in = self._best(u)
        if k < 0:
            return -1
        internal = self.internal[k] + t_out + t_in + self.self_w[u]
        new = _validity(self.live[k] + self.res[u], self.work[k] + self.jobs[u], internal,
                        self.p)
        if new >= self._old_validity(k):
            self._join(u, k, internal, new)
            self.moves[u] += 1
            return 1
        return 0

    def _reform(self, c: int, rem: list[int]) -> bool:
        """Put the remaining members of dissolved cluster ``c`` back together.

        R quirk: after moving the first member, R relabels the other members' rows
        of the cluster flow table and marginals to ``c`` without aggregating them, so
        at the start of the next iteration the validity table has, for ``c``, one row
        per (member marginal, internal unit-flow) pair: SC = min(T_ij/live_k,
        T_ij/work_k) for every member k and every flow i->j inside (self-flows
        included). The least of them usually makes ``c`` the least valid cluster again,
        so it is dissolved at once. We keep the minimum and maximum of those rows for
        exactly that one validity table. Returns whether the cluster is in that state.
        """
        cl, res, jobs, self_w = self.cl, self.res, self.jobs, self.self_w
        self.members[c] = rem
        for u in rem:
            cl[u] = c
        live = 0.0
        work = 0.0
        internal = 0.0
        pieces: list[float] = []
        for u in rem:
            live += res[u]
            work += jobs[u]
            if self.has_self[u]:
                internal += self_w[u]
                pieces.append(self_w[u])
            for v, t in zip(self.out_nbr[u], self.out_w[u], strict=True):
                if cl[v] == c:
                    internal += t
                    pieces.append(t)
        self.live[c] = live
        self.work[c] = work
        self.internal[c] = internal
        self.val[c] = _validity(live, work, internal, self.p)
        if len(rem) >= 2:
            t_arr = np.unique(np.asarray(pieces, dtype=np.float64)) if pieces else np.zeros(1)
            lv = np.asarray([res[u] for u in rem], dtype=np.float64)[:, None]
            wk = np.asarray([jobs[u] for u in rem], dtype=np.float64)[:, None]
            msc = np.minimum(t_arr[None, :] / lv, t_arr[None, :] / wk)
            rows = _validity_rows(msc, lv, self.p)
            vmin, vmax = float(rows.min()), float(rows.max())
            self.bogus[c] = (vmin, vmax)
            self._push(c, vmin)
            return True
        self.bogus.pop(c, None)
        self._push(c, self.val[c])
        return False

    def _least_cluster_validity(self) -> float:
        heap, members, ver = self.heap, self.members, self.ver
        while heap:
            _, c, stamp = heap[0]
            if members[c] is None or stamp != ver[c]:
                heapq.heappop(heap)
                continue
            return heap[0][0]
        return 1.0  # R's cluster 0 row

    def _unbogus(self, c: int) -> None:
        if c in self.bogus:
            del self.bogus[c]
            if self.members[c] is not None:
                self._push(c, self.val[c])

    # -- main loop -------------------------------------------------------------------

    def run(self) -> None:
        heap = self.heap
        members, ver = self.members, self.ver
        pending = -1  # cluster re-formed in the previous iteration
        while True:
            while heap:
                _, c, stamp = heap[0]
                if members[c] is None or stamp != ver[c]:
                    heapq.heappop(heap)
                    continue
                break
            # convergence: R stops when the least validity is >= 1
            if not heap or not heap[0][0] < 1.0:
                break
            v0, c0, _ = heapq.heappop(heap)
            prev, pending = pending, -1
            mem = members[c0]
            assert mem is not None
            mem_sorted = sorted(mem)
            if len(mem_sorted) == 1:
                self._dissolve_single(c0, v0, mem_sorted[0])
            else:
                pending = self._dissolve_multi(c0, v0, mem_sorted, prev)
            # a re-formed cluster's split rows live for one validity table only: every
            # path of the next iteration re-aggregates R's flow table
            if prev >= 0 and prev != pending:
                self._unbogus(prev)
            self.iteration += 1
        self.reserve_before = [u for u in range(self.n) if self.cl[u] == _RESERVE]

    def _dissolve_single(self, c0: int, v0: float, m: int) -> None:
        self.members[c0] = None
        self.bogus.pop(c0, None)
        self.cl[m] = _LOOSE
        r = self._try_place(m)
        if r <= 0:
            self.cl[m] = _RESERVE
            self.events.append(("A" if r == 0 else "B", self.iteration, c0, v0, m, -1))

    def _dissolve_multi(self, c0: int, v0: float, mem: list[int], prev: int) -> int:
        cl, res, self_w = self.cl, self.res, self.self_w
        # R: orderRegroup = inflow from outside the cluster + residents - self-flow,
        # sorted decreasing with a stable sort, so ties stay in id order
        keys: list[float] = []
        for u in mem:
            from_outside = 0.0
            for v, t in zip(self.in_nbr[u], self.in_w[u], strict=True):
                if cl[v] != c0:
                    from_outside += t
            keys.append(-(from_outside + res[u] - self_w[u]))
        order = [mem[i] for i in sorted(range(len(mem)), key=keys.__getitem__)]
        for u in mem:
            cl[u] = _LOOSE
        self.members[c0] = None
        self.bogus.pop(c0, None)
        first, second = order[0], order[1]
        r = self._try_place(first)
        if r >= 0:
            if r == 0:
                cl[first] = _RESERVE
                self.events.append(("C", self.iteration, c0, v0, first, second))
            # R puts the other members back together as cluster c0 (R quirk: only
            # one member leaves per iteration)
            rem = [u for u in mem if u != first]
            return c0 if self._reform(c0, rem) else -1
        # event D: the first member has no flow to any cluster
        cl[first] = _RESERVE
        self.events.append(("D", self.iteration, c0, v0, first, second))
        # R re-aggregates its flow table here, so split rows are gone
        if prev >= 0:
            self._unbogus(prev)
        # R then takes, n-1 times, the least valid cluster of all and regroups it. The
        # loose members are one-unit clusters whose validity does not change, listed
        # before all others (negative numbers -size..-1, i.e. the last id first).
        # Deviation: should some other cluster be less valid than every loose member,
        # R would "regroup" that cluster (and can leave members loose, with
        # conflicting cluster numbers later); we always take the least valid loose
        # member, which is what R does whenever its choice is a loose member.
        neg = {u: -(i + 1) for i, u in enumerate(mem)}
        rest = [u for u in mem if u != first]
        sv = {u: _validity(res[u], self.jobs[u], self_w[u], self.p) for u in rest}
        for u in sorted(rest, key=lambda x: (sv[x], neg[x])):
            if self._least_cluster_validity() < sv[u]:
                self.deviations += 1
            r = self._try_place(u)
            if r <= 0:
                cl[u] = _RESERVE
                # R records here the member at position ncom of the regrouping order,
                # which need not be the one regrouped; we record the one regrouped
                self.events.append(("E" if r == 0 else "F", self.iteration, u, sv[u], u, -1))
        return -1

    # -- final reserve assignment -----------------------------------------------------

    def assign_reserve(self) -> list[int]:
        """R: after convergence the reserve list is dissolved (numbers -1..-m in id
        order, then sorted by number, i.e. the last id first) and each unit goes to
        its cluster of highest cohesion, without validity check, in passes repeated
        while some unit was placed. Returns the units that could not be placed."""
        cl = self.cl
        todo = sorted(self.reserve_before, reverse=True)
        moved = True
        while moved and todo:
            moved = False
            for u in todo:
                k, t_out, t_in = self._best(u)
                if k >= 0:
                    cl[u] = k
                    members = self.members[k]
                    assert members is not None
                    members.append(u)
                    self.live[k] += self.res[u]
                    self.work[k] += self.jobs[u]
                    self.internal[k] += t_out + t_in + self.self_w[u]
                    moved = True
            todo = [u for u in todo if cl[u] < 0]
        return todo


# ----------------------------------------------------------------------------------
# public function
# ----------------------------------------------------------------------------------


def find_clusters(origin: ArrayLike, destination: ArrayLike, count: ArrayLike, *,
                  min_size: float, min_self_containment: float, target_size: float,
                  target_self_containment: float) -> LMAResult:
    """Labour market areas by the Eurostat/Istat (Coombes-Bond) algorithm.

    Gives the partition that ``findClusters(LWCom, minSZ, minSC, tarSZ, tarSC)`` of
    the R package LabourMarketAreas 3.4 gives, with its final reserve assignment.

    Parameters
    ----------
    origin, destination : array-like
        Unit of residence and unit of work of each flow. Ids may be numbers (sorted
        numerically, like R's integer ids) or strings (sorted by code point, the
        C-locale order data.table uses for character ids); not a mixture.
    count : array-like
        Commuters (employed persons) of each flow, finite and >= 0; self-flows
        (origin == destination) included. Rows with the same origin and destination
        are summed. Rows with count 0 are kept: like in R, they still make the two
        units "linked" for the regrouping.
    min_size, target_size : float
        ``minSZ`` and ``tarSZ`` of R: employed residents; 0 < min_size <= target_size.
    min_self_containment, target_self_containment : float
        ``minSC`` and ``tarSC`` of R; 0 < min <= target <= 1.

    Returns
    -------
    LMAResult
        Labels (region leader per unit), status, per-region statistics, reserve-list
        events, the zero list and the number of iterations.

    Raises
    ------
    ValueError
        Unequal lengths, negative or non-finite counts, ids of mixed or unsupported
        type, or parameters out of range.

    Notes
    -----
    Known deviation from R: when the first member of a dissolved cluster cannot be
    regrouped (R's event ``D``), R regroups the globally least valid cluster ``n-1``
    times, which can be a cluster other than the loose members and then corrupts its
    cluster table; here the loose members are always the ones regrouped (identical
    to R whenever R picks a loose member). R records for events ``E``/``F`` a member
    taken from its regrouping order, here the member actually sent to the reserve.
    When ``min_size == target_size`` (R divides by zero) the limit is used.

    References
    ----------
    Coombes & Bond (2008), Travel-to-Work Areas: the 2007 review, ONS. Franconi,
    D'Alò & Ichim (2016), Istat implementation of the algorithm to develop Labour
    Market Areas; R package LabourMarketAreas, Istat. Eurostat (2020), European
    harmonised labour market areas - methodological guidelines.

    Examples
    --------
    Three towns; unit 4 (120 employed residents, 30 working locally) is too small
    and too open (validity 0.31) and joins town 3, its cluster of highest cohesion:

    >>> res = find_clusters(
    ...     [1, 1, 1, 2, 2, 3, 3, 4, 4],
    ...     [1, 2, 3, 2, 1, 3, 4, 4, 3],
    ...     [900, 80, 20, 700, 150, 800, 40, 30, 90],
    ...     min_size=500, min_self_containment=0.6, target_size=1000,
    ...     target_self_containment=0.7)
    >>> res.labels.tolist()
    [1, 2, 3, 3]
    >>> res.stats.loc[3, ["residents", "jobs", "internal"]].tolist()
    [960.0, 980.0, 960.0]
    >>> res.stats["validity"].round(4).tolist()
    [1.1667, 1.1167, 1.1533]
    """
    return _solve(origin, destination, count, min_size=min_size,
                  min_self_containment=min_self_containment, target_size=target_size,
                  target_self_containment=target_self_containment)[0]


def _solve(origin: ArrayLike, destination: ArrayLike, count: ArrayLike, *,
           min_size: float, min_self_containment: float, target_size: float,
           target_self_containment: float) -> tuple[LMAResult, dict[Any, int]]:
    """:func:`find_clusters`, also returning how often each unit was moved by the
    main loop (R's ``communitiesMovements``; for tests)."""
    o_arr = _to_array(origin, "origin", ids=True)
    d_arr = _to_array(destination, "destination", ids=True)
    w_in = _to_array(count, "count")
    if not (len(o_arr) == len(d_arr) == len(w_in)):
        raise ValueError(
            f"origin, destination and count must have equal lengths, got "
            f"{len(o_arr)}, {len(d_arr)} and {len(w_in)}")
    p = _check_params(min_size, min_self_containment, target_size, target_self_containment)
    try:
        w_raw = np.asarray(w_in, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError("count must be numeric") from exc
    if not np.all(np.isfinite(w_raw)):
        raise ValueError("count must be finite (no NaN or infinity)")
    if np.any(w_raw < 0):
        raise ValueError("count must be >= 0")

    both, is_str = _ids_array(o_arr, d_arr)
    m_rows = len(o_arr)
    uniq, inv = np.unique(both, return_inverse=True)
    inv = inv.reshape(-1)
    n_all = len(uniq)
    o_all = inv[:m_rows].astype(np.int64)
    d_all = inv[m_rows:].astype(np.int64)
    # duplicate (origin, destination) rows are summed; rows sorted by (origin, dest)
    key = o_all * max(n_all, 1) + d_all
    ukey, kinv = np.unique(key, return_inverse=True)
    w = np.bincount(kinv.reshape(-1), weights=w_raw, minlength=len(ukey)).astype(np.float64)
    o_u = ukey // max(n_all, 1)
    d_u = ukey % max(n_all, 1)
    jobs_input = np.bincount(d_u, weights=w, minlength=n_all)

    # -- zero list (R: repeated until no unit is removed) ----------------------------
    active = np.ones(n_all, dtype=bool)
    rounds: list[NDArray[np.int64]] = []
    while True:
        rows = active[o_u] & active[d_u]
        ro, rd, rw = o_u[rows], d_u[rows], w[rows]
        res_a = np.bincount(ro, weights=rw, minlength=n_all)
        jobs_a = np.bincount(rd, weights=rw, minlength=n_all)
        bad = active & ((res_a == 0) | (jobs_a == 0))
        selfonly = (ro == rd) & (rw == res_a[ro]) & (rw == jobs_a[ro])
        bad[ro[selfonly]] = True
        codes = np.flatnonzero(bad)
        if codes.size == 0:
            break
        rounds.append(codes)
        active[codes] = False
    if is_str:
        # R quirk: with character ids the zero list is mapped back through a merge,
        # which sorts it
        excl_ranks = np.sort(np.concatenate(rounds)) if rounds else np.zeros(0, np.int64)
    else:
        excl_ranks = np.concatenate(rounds) if rounds else np.zeros(0, np.int64)

    kept = np.flatnonzero(active)
    n = len(kept)
    new_id = np.full(n_all, -1, dtype=np.int64)
    new_id[kept] = np.arange(n)
    rows = active[o_u] & active[d_u]
    fo, fd, fw = new_id[o_u[rows]], new_id[d_u[rows]], w[rows]
    res_k = np.bincount(fo, weights=fw, minlength=n)
    jobs_k = np.bincount(fd, weights=fw, minlength=n)
    is_self = fo == fd
    self_k = np.zeros(n)
    self_k[fo[is_self]] = fw[is_self]
    has_self_k = np.zeros(n, dtype=bool)
    has_self_k[fo[is_self]] = True
    xo, xd, xw = fo[~is_self], fd[~is_self], fw[~is_self]

    def adjacency(a: NDArray[np.int64], b: NDArray[np.int64],
                  wt: NDArray[np.float64]) -> tuple[list[list[int]], list[list[float]]]:
        order = np.lexsort((b, a))
        a_s, b_l, w_l = a[order], b[order].tolist(), wt[order].tolist()
        ptr = np.searchsorted(a_s, np.arange(n + 1)).tolist()
        nb = [b_l[ptr[i]:ptr[i + 1]] for i in range(n)]
        ww = [w_l[ptr[i]:ptr[i + 1]] for i in range(n)]
        return nb, ww

    out_nbr, out_w = adjacency(xo, xd, xw)
    in_nbr, in_w = adjacency(xd, xo, xw)

    eng = _Engine(n, out_nbr, out_w, in_nbr, in_w, self_k.tolist(), has_self_k.tolist(),
                  res_k.tolist(), jobs_k.tolist(), p)
    if n > 0:
        eng.run()
        unplaced = eng.assign_reserve()
    else:
        unplaced = []

    # -- results ------------------------------------------------------------------
    cl_k = np.asarray(eng.cl, dtype=np.int64)  # cluster (seed rank) per kept unit
    cluster_all = np.full(n_all, -1, dtype=np.int64)
    cluster_all[kept] = np.where(cl_k >= 0, kept[np.maximum(cl_k, 0)], -1) if n else -1
    status = np.full(n_all, "assigned", dtype=object)
    status[~active] = "excluded"
    if eng.reserve_before:
        status[kept[np.asarray(eng.reserve_before, dtype=np.int64)]] = "reserve"
    if unplaced:
        status[kept[np.asarray(unplaced, dtype=np.int64)]] = "unassigned"

    # leader: member with most jobs (input flows, self-flows included), first id on ties
    in_region = np.flatnonzero(cluster_all >= 0)
    order = np.lexsort((in_region, -jobs_input[in_region], cluster_all[in_region]))
    srt = in_region[order]
    first = np.ones(len(srt), dtype=bool)
    first[1:] = cluster_all[srt][1:] != cluster_all[srt][:-1]
    leader_of = np.full(n_all, -1, dtype=np.int64)
    leader_of[cluster_all[srt][first]] = srt[first]
    leader_all = np.where(cluster_all >= 0, leader_of[np.maximum(cluster_all, 0)], -1)

    index = pd.Index(uniq, name="unit")
    has = leader_all >= 0
    if is_str:
        lab_vals: Sequence[Any] = [uniq[i] if i >= 0 else pd.NA for i in leader_all]
        labels = pd.Series(pd.array(lab_vals, dtype=pd.StringDtype()), index=index,
                           name="region")
    else:
        nullable = pd.array(uniq[:0]).dtype
        vals = pd.array(uniq[np.maximum(leader_all, 0)], dtype=nullable)
        vals[~has] = pd.NA
        labels = pd.Series(vals, index=index, name="region")
    status_s = pd.Series(status, index=index, name="status", dtype=object)

    # statistics per region, on the flows used for clustering
    regions = np.unique(leader_all[has])
    reg_pos = np.full(n_all, -1, dtype=np.int64)
    reg_pos[regions] = np.arange(len(regions))
    nr = len(regions)
    unit_reg = np.where(has, reg_pos[np.maximum(leader_all, 0)], -1)
    ko, kd = o_u[rows], d_u[rows]
    ro_reg, rd_reg = unit_reg[ko], unit_reg[kd]
    residents = np.bincount(ro_reg[ro_reg >= 0], weights=w[rows][ro_reg >= 0], minlength=nr)
    jobs_r = np.bincount(rd_reg[rd_reg >= 0], weights=w[rows][rd_reg >= 0], minlength=nr)
    inside = (ro_reg >= 0) & (ro_reg == rd_reg)
    internal = np.bincount(ro_reg[inside], weights=w[rows][inside], minlength=nr)
    n_units = np.bincount(unit_reg[unit_reg >= 0], minlength=nr)
    with np.errstate(divide="ignore", invalid="ignore"):
        sc_supply = internal / residents
        sc_demand = internal / jobs_r
    validity = np.array([_validity(float(a), float(b), float(c), p)
                         for a, b, c in zip(residents, jobs_r, internal, strict=True)])
    stats = pd.DataFrame(
        {"residents": residents, "jobs": jobs_r, "internal": internal,
         "sc_supply": sc_supply, "sc_demand": sc_demand, "validity": validity,
         "n_units": n_units.astype(np.int64)},
        index=pd.Index(uniq[regions], name="region"))

    # reserve-list events, with ranks mapped back to ids
    def ids_of(ranks: list[int]) -> NDArray[Any]:
        arr = np.asarray(ranks, dtype=np.int64)
        return uniq[kept[arr]] if len(arr) else uniq[:0]

    ev = eng.events
    nxt = [e[5] for e in ev]
    nxt_has = np.asarray([x >= 0 for x in nxt], dtype=bool)
    nxt_ids = ids_of([max(x, 0) for x in nxt])
    if is_str:
        nxt_col: Any = pd.array([x if h else pd.NA for x, h in zip(nxt_ids, nxt_has,
                                                                   strict=True)],
                                dtype=pd.StringDtype())
    else:
        nxt_col = pd.array(nxt_ids, dtype=pd.array(uniq[:0]).dtype)
        nxt_col[~nxt_has] = pd.NA
    reserve_list = pd.DataFrame({
        "type": pd.Series([e[0] for e in ev], dtype=object),
        "iteration": np.asarray([e[1] for e in ev], dtype=np.int64),
        "dissolved_cluster": ids_of([e[2] for e in ev]),
        "validity": np.asarray([e[3] for e in ev], dtype=np.float64),
        "unit": ids_of([e[4] for e in ev]),
        "next_unit": nxt_col,
    })
    excluded = tuple(uniq[excl_ranks].tolist())
    result = LMAResult(labels=labels, status=status_s, stats=stats,
                       reserve_list=reserve_list, excluded=excluded,
                       iterations=eng.iteration - 1)
    moves = dict(zip(uniq[kept].tolist(), eng.moves, strict=True))
    return result, moves
