"""Dominant flows and the Nystuen–Dacey nodal structure.

Nystuen and Dacey (1961) read a flow matrix as a graph and keep, for every unit, its
largest outgoing flow when that flow goes to a unit that is "larger" than itself, size
being measured by the total inflow. What remains is a forest: each tree is headed by a
*dominant* unit (it receives kept flows and sends none), its branches are
*intermediary* units (they receive and send) and its leaves *dominated* units (they only
send). Units without kept flows are *isolated*.

The functions here reproduce the R package **flows** (T. Giraud, L. Beauguitte,
M. Guérois; version 2.0.0, whose ``firstflows``/``domflows`` are word for word those
of 1.1.x) exactly, including its ordering, tie and summation rules; checked against
an oracle built from the package's own R code on 617 random tables full of ties:

- ``prepare_mat`` lists the units in order of first appearance in ``c(i, j)``: every
  distinct origin in row order, then every destination not seen yet. That order is
  the matrix order; it only matters for ties.
- the diagonal (intra-unit flows) is set to 0 and ``w = colSums(mat)``: the inflow of
  each unit *without* its intra-unit flow, added in matrix order in extended
  precision as ``colSums`` does (so that equal non-integer inflows compare as in R).
  flows 1.x built the matrix with ``reshape2::dcast``, which sorts the ids instead:
  only ties can tell the two apart.
- ``domflows(mat, w, k)`` keeps f_ij > 0 when ``w[i] > 0`` and ``w[j] / w[i] > k``
  (strict). An origin without inflow (``w[i] == 0``) keeps nothing.
- ``firstflows(mat, "nfirst", ties.method = "first", k = 1)`` keeps each origin's
  largest positive flow. It ranks the row with ``rank(x, ties.method = "first")``
  and keeps the element with the highest rank, so among equally large flows the
  destination that comes **last** in matrix order wins.
- ``nodal_flows`` is ``mat * firstflows * domflows``.

References
----------
J. D. Nystuen and M. F. Dacey (1961), "A graph theory interpretation of nodal
regions", *Papers and Proceedings of the Regional Science Association* 7, 29–42.

T. Giraud, L. Beauguitte and M. Guérois, *flows: Flow Selection and Analysis*,
R package (CRAN), functions ``prepare_mat``, ``select_flows``, ``nodal_flows``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ..errors import ConfigError
from .flows import Flows

__all__ = ["NODE_CLASSES", "NodalStructure", "dominant_flows", "nystuen_dacey"]

#: The node classes of a nodal structure, in this order.
NODE_CLASSES: tuple[str, ...] = ("dominant", "intermediary", "dominated", "isolated")

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class NodalStructure:
    """The Nystuen–Dacey nodal structure of a flow table.

    Attributes
    ----------
    edges
        The kept (nodal) flows: columns ``origin``, ``destination``, ``count``, at most
        one row per origin, in input row order.
    units
        One row per unit (index ``unit``, sorted as :attr:`Flows.units`): ``inflow``
        (``w``, inflow without intra-unit flow), ``outflow`` (outflow without
        intra-unit flow), ``indegree`` and ``outdegree`` in the nodal graph, and
        ``class`` (``dominant``: in > 0 and out = 0; ``intermediary``: in > 0 and
        out > 0; ``dominated``: in = 0 and out > 0; ``isolated``: neither).
    head
        For each unit the dominant unit at the top of its tree (an isolated unit
        heads itself). Name ``head``.
    k
        The dominance ratio used.
    """

    edges: pd.DataFrame
    units: pd.DataFrame
    head: pd.Series
    k: float

    @property
    def dominant(self) -> pd.Index:
        """The dominant units (heads of trees with at least one member besides the head)."""
        mask = np.asarray(self.units["class"] == "dominant", dtype=bool)
        out: pd.Index = pd.Index(list(self.units.index[mask]), name="unit", dtype=object)
        return out


# --------------------------------------------------------------------------- internals


def _check_k(k: float) -> float:
    try:
        kk = float(k)
    except (TypeError, ValueError):
        raise ConfigError(f"k must be a number, got {k!r}") from None
    if not math.isfinite(kk) or kk <= 0:
        raise ConfigError(
            f"k must be a finite number > 0 (the ratio w_j / w_i a kept flow must exceed), "
            f"got {k!r}"
        )
    return kk


@dataclass(frozen=True)
class _Coded:
    """A flow table with integer unit codes in order of first appearance."""

    order: pd.Index  # unit ids in order of first appearance in c(origins, destinations)
    o: IntArray  # origin codes, input row order
    d: IntArray  # destination codes
    count: FloatArray
    w: FloatArray  # inflow without intra-unit flow, by code
    out: FloatArray  # outflow without intra-unit flow, by code


def _coded(flows: Flows) -> _Coded:
    idx = flows.count.index
    o_ids = np.asarray(idx.get_level_values(0), dtype=object)
    d_ids = np.asarray(idx.get_level_values(1), dtype=object)
    # pd.unique keeps the order of first appearance (R: unique(c(unique(i), unique(j))))
    order = pd.Index(pd.unique(np.concatenate([o_ids, d_ids])), dtype=object)
    o = np.asarray(order.get_indexer(o_ids), dtype=np.int64)
    d = np.asarray(order.get_indexer(d_ids), dtype=np.int64)
    count = flows.count.to_numpy(dtype=float)
    off = np.where(o != d, count, 0.0)
    n = len(order)
    w = _column_sums(o, d, off, n)
    out = np.bincount(o, weights=off, minlength=n).astype(float)
    return _Coded(order, o, d, count, w, out)


def _column_sums(o: IntArray, d: IntArray, values: FloatArray, n: int) -> FloatArray:
    """Inflow per unit summed as R's ``colSums`` does, so equal inflows stay equal.

    R adds a column's entries in row order (origins in order of first appearance)
    in extended precision (long double) and rounds the total to a double once. With
    non-integer counts, summing in another order or in double precision can leave
    two equal inflows one rounding step apart, which flips ``w_j / w_i > k``.
    Entries are added round by round: round r adds every column's r-th entry.
    """
    keep = values != 0
    o, d, v = o[keep], d[keep], values[keep]
    order = np.lexsort((o, d))
    d, v = d[order], v[order].astype(np.longdouble)
    acc = np.zeros(n, dtype=np.longdouble)
    if len(d):
        start = np.r_[0, np.flatnonzero(d[1:] != d[:-1]) + 1]
        size = np.diff(np.r_[start, len(d)])
        pos = np.arange(len(d)) - np.repeat(start, size)
        for r in range(int(size.max())):
            sel = pos == r
            acc[d[sel]] += v[sel]
    return acc.astype(float)


def _dominance_mask(c: _Coded, k: float) -> NDArray[np.bool_]:
    """R ``domflows``: f_ij > 0 off the diagonal, w_i > 0 and w_j / w_i > k."""
    wi = c.w[c.o]
    wj = c.w[c.d]
    ok = (c.o != c.d) & (c.count > 0) & (wi > 0)
    ratio = np.zeros(len(wi))
    np.divide(wj, wi, out=ratio, where=ok)
    return np.asarray(ok & (ratio > k), dtype=bool)


def _largest_rows(c: _Coded) -> IntArray:
    """Row positions of each origin's largest positive off-diagonal flow.

    Ties go to the destination that comes last in the order of first appearance,
    as R's ``rank(x, ties.method = "first")`` in ``flows:::nfirst`` gives them.
    """
    cand = np.flatnonzero((c.o != c.d) & (c.count > 0))
    if len(cand) == 0:
        return np.empty(0, dtype=np.int64)
    # sort by origin, then count, then destination position: the last row of each
    # origin block is its largest flow, ties resolved to the latest destination.
    key = np.lexsort((c.d[cand], c.count[cand], c.o[cand]))
    rows = cand[key]
    last = np.ones(len(rows), dtype=bool)
    last[:-1] = c.o[rows[1:]] != c.o[rows[:-1]]
    return np.sort(rows[last]).astype(np.int64)


def _steps(n: int) -> int:
    return max(1, math.ceil(math.log2(n + 1)) + 1)


def _forest(
    parent: IntArray, priority: IntArray
) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """Turn a functional graph into a forest and find each node's root and depth.

    ``parent[i] == i`` marks a root. Every cycle (two or more nodes pointing round)
    is cut at its node with the lowest ``priority`` (a permutation rank), which becomes
    a root. Vectorised with pointer jumping.

    Returns ``(parent, root, depth, cut)`` where ``cut`` are the nodes that were made
    roots to break cycles.

    Examples
    --------
    >>> p = np.array([1, 0, 1, 3])          # 0 <-> 1 form a cycle, 2 -> 1, 3 a root
    >>> par, root, depth, cut = _forest(p, np.array([1, 0, 2, 3]))
    >>> par.tolist(), root.tolist(), depth.tolist(), cut.tolist()
    ([1, 1, 1, 3], [1, 1, 1, 3], [1, 0, 1, 0], [1])
    """
    n = len(parent)
    parent = parent.astype(np.int64, copy=True)
    nodes = np.arange(n, dtype=np.int64)
    steps = _steps(n)
    anc = parent.copy()
    for _ in range(steps):
        anc = anc[anc]
    on_cycle = np.zeros(n, dtype=bool)
    on_cycle[anc] = True  # after >= n steps every walk sits on its cycle (or root)
    on_cycle &= parent != nodes
    cut = np.empty(0, dtype=np.int64)
    if on_cycle.any():
        best = priority.astype(np.int64, copy=True)
        jump = parent.copy()
        for _ in range(steps):
            best = np.minimum(best, best[jump])
            jump = jump[jump]
        cut = nodes[on_cycle & (priority == best)]
        parent[cut] = cut
    depth = (parent != nodes).astype(np.int64)
    root = parent.copy()
    for _ in range(steps):
        depth = depth + depth[root]
        root = root[root]
    return parent, root, depth, cut


def _classes(indeg: IntArray, outdeg: IntArray) -> pd.Categorical:
    inn = indeg > 0
    out = outdeg > 0
    labels = np.select(
        [inn & ~out, inn & out, ~inn & out], list(NODE_CLASSES[:3]), default=NODE_CLASSES[3]
    )
    return pd.Categorical(labels, categories=list(NODE_CLASSES))


def _edges_frame(c: _Coded, rows: IntArray) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "origin": pd.Series(np.asarray(c.order)[c.o[rows]], dtype=object),
            "destination": pd.Series(np.asarray(c.order)[c.d[rows]], dtype=object),
            "count": c.count[rows].astype(float),
        }
    )


# --------------------------------------------------------------------------- public


def dominant_flows(flows: Flows, *, k: float = 1.0) -> pd.DataFrame:
    """Flows that go to a unit more than ``k`` times larger than their origin.

    The R package flows' ``domflows(mat, w = colSums(mat), k)`` on the matrix without
    its diagonal: a flow f_ij > 0 between two different units is kept when
    ``w_j / w_i > k`` (strict), where ``w`` is each unit's inflow *without* intra-unit
    flow. An origin without inflow (``w_i = 0``) keeps nothing, as in the R package.
    This is the second criterion of Nystuen and Dacey (1961).

    Parameters
    ----------
    flows
        The flows; intra-unit flows are ignored.
    k
        The ratio a kept flow's destination weight must exceed, relative to its
        origin's (finite, > 0).

    Returns
    -------
    pandas.DataFrame
        Columns ``origin``, ``destination``, ``count``: the kept flows in input row
        order.

    Raises
    ------
    ConfigError
        When ``k`` is not a finite number > 0.

    Examples
    --------
    >>> f = Flows(pd.Series([5.0, 1.0, 2.0, 4.0], index=pd.MultiIndex.from_tuples(
    ...     [("a", "b"), ("b", "a"), ("c", "b"), ("c", "a")])))
    >>> # w = inflow without self: a 5, b 7, c 0; c has no inflow so keeps nothing
    >>> dominant_flows(f)
      origin destination  count
    0      a           b    5.0
    """
    kk = _check_k(k)
    c = _coded(flows)
    rows = np.flatnonzero(_dominance_mask(c, kk)).astype(np.int64)
    return _edges_frame(c, rows)


def nystuen_dacey(flows: Flows, *, k: float = 1.0) -> NodalStructure:
    """The Nystuen–Dacey nodal structure: each unit's largest flow, when dominant.

    Each unit's largest outgoing flow to another unit is kept when it goes to a unit
    whose inflow (without intra-unit flows) is more than ``k`` times its own. This is
    ``nodal_flows`` of the R package flows (``firstflows(mat, "nfirst", k = 1) *
    domflows(mat, colSums(mat), k)`` on the matrix without its diagonal) and gives the
    same edges and classes.

    Ties between equally large outflows go to the destination that comes **last**
    when the ids are listed in order of first appearance in ``c(origin, destination)``
    (every origin in input row order, then the destinations not seen yet), because
    that is what the R package's ``rank(..., ties.method = "first")`` selection does.
    :class:`Flows` keeps the row order of its input (``Flows.from_frame`` and the
    constructor do not sort), so that order is taken from ``flows.count.index``.
    Results therefore depend on row order only when there are such ties.

    With ``k >= 1`` the kept flows always go to strictly larger units, so they form a
    forest. With ``k < 1`` two units can keep flows to each other; such a cycle is cut
    at its unit with the largest inflow (the first in order of appearance on a tie),
    which then heads the tree in :attr:`NodalStructure.head` (its class stays that of
    its degrees).

    Parameters
    ----------
    flows
        The flows; intra-unit flows are ignored.
    k
        The dominance ratio (finite, > 0); 1 in Nystuen and Dacey (1961).

    Returns
    -------
    NodalStructure
        Kept edges, per-unit inflow, outflow, degrees and class, and each unit's head.

    Raises
    ------
    ConfigError
        When ``k`` is not a finite number > 0.

    Examples
    --------
    >>> f = Flows(pd.Series([30.0, 10.0, 8.0, 2.0, 6.0], index=pd.MultiIndex.from_tuples(
    ...     [("b", "a"), ("c", "b"), ("c", "a"), ("a", "b"), ("d", "c")])))
    >>> # inflow w: a 38, b 12, c 6, d 0 -> d has no inflow, so none of its flows is kept
    >>> nd = nystuen_dacey(f)
    >>> nd.edges
      origin destination  count
    0      b           a   30.0
    1      c           b   10.0
    >>> nd.units["class"].tolist()
    ['dominant', 'intermediary', 'dominated', 'isolated']
    >>> nd.head.to_dict()
    {'a': 'a', 'b': 'a', 'c': 'a', 'd': 'd'}
    """
    kk = _check_k(k)
    c = _coded(flows)
    n = len(c.order)
    largest = _largest_rows(c)
    keep = _dominance_mask(c, kk)[largest] if len(largest) else np.empty(0, dtype=bool)
    rows = largest[keep]
    edges = _edges_frame(c, rows)

    indeg = np.bincount(c.d[rows], minlength=n).astype(np.int64)
    outdeg = np.bincount(c.o[rows], minlength=n).astype(np.int64)
    parent = np.arange(n, dtype=np.int64)
    parent[c.o[rows]] = c.d[rows]
    # priority for cutting cycles: largest w first, then order of first appearance
    priority = np.empty(n, dtype=np.int64)
    priority[np.lexsort((np.arange(n), -c.w))] = np.arange(n)
    _, root, _, _ = _forest(parent, priority)

    order = np.asarray(c.order)
    units_sorted = flows.units
    pos = c.order.get_indexer(units_sorted)
    units = pd.DataFrame(
        {
            "inflow": c.w[pos],
            "outflow": c.out[pos],
            "indegree": indeg[pos],
            "outdegree": outdeg[pos],
            "class": _classes(indeg[pos], outdeg[pos]),
        },
        index=pd.Index(units_sorted, name="unit", dtype=object),
    )
    head = pd.Series(order[root[pos]], index=units.index, name="head", dtype=object)
    return NodalStructure(edges=edges, units=units, head=head, k=kk)
