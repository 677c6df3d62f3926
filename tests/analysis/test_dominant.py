"""Tests for strukturbild.analysis.dominant: dominant flows and the Nystuen–Dacey structure.

The reference results are those of the R package flows 1.2.0 on the Grand Est commuting
flows; they are read at test time from the shared data folder (never copied here).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from strukturbild.analysis.dominant import (
    NODE_CLASSES,
    NodalStructure,
    _forest,
    dominant_flows,
    nystuen_dacey,
)
from strukturbild.analysis.flows import Flows
from strukturbild.errors import ConfigError

from ..conftest import FLOWS, shared_missing

GRAND_EST = FLOWS / "grand_est"


def make_flows(rows: Sequence[tuple[str, str, float]]) -> Flows:
    """Flows from (origin, destination, count) rows, keeping the row order."""
    idx = pd.MultiIndex.from_tuples([(o, d) for o, d, _ in rows])
    return Flows(pd.Series([float(c) for _, _, c in rows], index=idx))


def edge_set(frame: pd.DataFrame) -> set[tuple[str, str]]:
    return set(zip(frame["origin"], frame["destination"], strict=True))


# --------------------------------------------------------------------------- toy
#
# A city S, a town T, villages a, b, c, d. Intra-unit flows are given but ignored.
#
#   off-diagonal flows          inflow w (without self)
#   a -> T 40, a -> S 10        S: 10 (a) + 50 (T) + 20 (c)      = 80
#   b -> T 30                   T: 40 (a) + 30 (b) + 2 (S)       = 72
#   T -> S 50, T -> a 5         a: 5 (T)                         = 5
#   c -> S 20, c -> b 3         b: 3 (c)                         = 3
#   d -> c 7                    c: 7 (d)                         = 7
#   S -> T 2                    d: nothing                       = 0
#
# domflows (k = 1) keeps f_ij when w_j / w_i > 1:
#   a->T 72/5 yes, a->S 80/5 yes, b->T 72/3 yes, T->S 80/72 = 1.11 yes, T->a 5/72 no,
#   c->S 80/7 yes, c->b 3/7 no, d->c: w_d = 0 so nothing from d, S->T 72/80 no.
# Largest outflows: a->T (40), b->T, T->S (50), c->S (20), d->c, S->T; of these the
# dominant ones are a->T, b->T, T->S and c->S.
#   S: in 2 (T, c), out 0 -> dominant;  T: in 2, out 1 -> intermediary;
#   a, b, c: in 0, out 1 -> dominated;  d: nothing kept -> isolated.

TOY_ROWS: list[tuple[str, str, float]] = [
    ("S", "S", 1000), ("T", "T", 300), ("a", "a", 50), ("b", "b", 40), ("c", "c", 60),
    ("d", "d", 20),
    ("a", "T", 40), ("a", "S", 10), ("b", "T", 30), ("T", "S", 50), ("T", "a", 5),
    ("c", "S", 20), ("c", "b", 3), ("d", "c", 7), ("S", "T", 2),
]


@pytest.fixture
def toy() -> Flows:
    return make_flows(TOY_ROWS)


def test_dominant_flows_toy(toy: Flows) -> None:
    dom = dominant_flows(toy)
    assert list(dom.columns) == ["origin", "destination", "count"]
    assert edge_set(dom) == {("a", "T"), ("a", "S"), ("b", "T"), ("T", "S"), ("c", "S")}
    # input row order is kept
    assert list(zip(dom["origin"], dom["destination"], strict=True)) == [
        ("a", "T"), ("a", "S"), ("b", "T"), ("T", "S"), ("c", "S")]
    assert dom["count"].tolist() == [40.0, 10.0, 30.0, 50.0, 20.0]


def test_dominant_flows_k_is_strict(toy: Flows) -> None:
    # T -> S has w_S / w_T = 80 / 72 = 1.111...; k = 80/72 exactly drops it (strict >)
    dom = dominant_flows(toy, k=80 / 72)
    assert ("T", "S") not in edge_set(dom)
    assert ("T", "S") in edge_set(dominant_flows(toy, k=1.11))


def test_nystuen_dacey_toy(toy: Flows) -> None:
    nd = nystuen_dacey(toy)
    assert isinstance(nd, NodalStructure)
    assert edge_set(nd.edges) == {("a", "T"), ("b", "T"), ("T", "S"), ("c", "S")}
    u = nd.units
    assert list(u.index) == ["S", "T", "a", "b", "c", "d"]  # sorted like Flows.units
    assert u.index.name == "unit"
    assert list(u.columns) == ["inflow", "outflow", "indegree", "outdegree", "class"]
    assert u["inflow"].to_dict() == {"S": 80.0, "T": 72.0, "a": 5.0, "b": 3.0, "c": 7.0,
                                     "d": 0.0}
    # outflow without self: S 2, T 55, a 50, b 30, c 23, d 7
    assert u["outflow"].to_dict() == {"S": 2.0, "T": 55.0, "a": 50.0, "b": 30.0, "c": 23.0,
                                      "d": 7.0}
    assert u["indegree"].tolist() == [2, 2, 0, 0, 0, 0]
    assert u["outdegree"].tolist() == [0, 1, 1, 1, 1, 0]
    assert u["class"].astype(str).tolist() == [
        "dominant", "intermediary", "dominated", "dominated", "dominated", "isolated"]
    assert list(u["class"].cat.categories) == list(NODE_CLASSES)
    assert nd.head.to_dict() == {"S": "S", "T": "S", "a": "S", "b": "S", "c": "S", "d": "d"}
    assert list(nd.dominant) == ["S"]
    assert nd.k == 1.0


def test_nystuen_dacey_larger_k_cuts_the_town_loose(toy: Flows) -> None:
    # k = 1.2: T -> S (ratio 1.11) is no longer dominant, so T heads its own tree
    nd = nystuen_dacey(toy, k=1.2)
    assert edge_set(nd.edges) == {("a", "T"), ("b", "T"), ("c", "S")}
    assert nd.units.loc["T", "class"] == "dominant"
    assert nd.head.to_dict() == {"S": "S", "T": "T", "a": "T", "b": "T", "c": "S", "d": "d"}


def test_origin_without_inflow_keeps_nothing() -> None:
    # R's domflows only looks at origins with w_i > 0: d sends 7 to c but has no inflow
    # (w: c 7, e 1, d 0); c -> e is not dominant either (1/7), so nothing is kept
    f = make_flows([("d", "c", 7), ("c", "e", 1)])
    assert dominant_flows(f).empty
    nd = nystuen_dacey(f)
    assert nd.units.loc["d", "class"] == "isolated"
    # with an inflow of 1, d's flow to c (w 7) is kept
    g = make_flows([("d", "c", 7), ("c", "e", 1), ("e", "d", 1)])
    assert ("d", "c") in edge_set(dominant_flows(g))


def test_ties_go_to_the_destination_appearing_last() -> None:
    # x sends 5 to y and 5 to z. Order of first appearance: origins x, s; then y, z.
    # R: rank(c(y=5, z=5), ties.method = "first") = (1, 2), keep rank > 1 -> z.
    # w: x 2 (from s), y 5 + 1 = 6, z 5; both ratios > 1, so the tie decides.
    rows = [("x", "y", 5), ("x", "z", 5), ("s", "x", 2), ("s", "y", 1)]
    assert edge_set(nystuen_dacey(make_flows(rows)).edges) == {("x", "z")}
    # the same flows with y and z swapped in the rows: now y comes last
    swapped = [("x", "z", 5), ("x", "y", 5), ("s", "x", 2), ("s", "y", 1)]
    assert edge_set(nystuen_dacey(make_flows(swapped)).edges) == {("x", "y")}


def test_order_of_first_appearance_counts_origins_first() -> None:
    # z appears as an origin (row 3) before y appears anywhere but as a destination of x
    # row 1: c(i, j) -> unique: x, z, y  => z before y => the tie goes to y
    rows = [("x", "y", 5), ("x", "z", 5), ("z", "x", 1), ("s", "x", 2), ("s", "y", 4)]
    # w: x 3, y 9, z 5 -> both ratios > 1
    assert ("x", "y") in edge_set(nystuen_dacey(make_flows(rows)).edges)


def test_flows_keep_input_row_order() -> None:
    # the tie rule relies on Flows not reordering its rows
    rows = [("b", "a", 1), ("a", "c", 2), ("c", "b", 3)]
    f = make_flows(rows)
    assert list(f.count.index) == [("b", "a"), ("a", "c"), ("c", "b")]
    g = Flows.from_frame(pd.DataFrame(rows, columns=["origin", "destination", "count"]))
    assert list(g.count.index) == [("b", "a"), ("a", "c"), ("c", "b")]


def test_small_k_cycle_is_cut_at_the_largest_unit() -> None:
    # p and q send their largest flows to each other; w_p = 4, w_q = 6.
    # With k = 0.5 both are "dominant" (6/4 > 0.5 and 4/6 > 0.5): a cycle.
    f = make_flows([("p", "q", 4), ("q", "p", 4), ("r", "q", 2)])
    nd = nystuen_dacey(f, k=0.5)
    assert edge_set(nd.edges) == {("p", "q"), ("q", "p")}
    assert nd.head.to_dict() == {"p": "q", "q": "q", "r": "r"}


@pytest.mark.parametrize("k", [0, -1, float("nan"), float("inf"), "x"],
                         ids=["zero", "negative", "nan", "inf", "text"])
def test_bad_k(toy: Flows, k: object) -> None:
    with pytest.raises(ConfigError, match="k must be"):
        nystuen_dacey(toy, k=k)  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        dominant_flows(toy, k=k)  # type: ignore[arg-type]


def test_only_self_flows() -> None:
    f = make_flows([("a", "a", 3), ("b", "b", 2)])
    nd = nystuen_dacey(f)
    assert nd.edges.empty and list(nd.edges.columns) == ["origin", "destination", "count"]
    assert nd.units["class"].astype(str).tolist() == ["isolated", "isolated"]
    assert dominant_flows(f).empty


def test_zero_counts_are_no_flows() -> None:
    f = make_flows([("a", "b", 0), ("c", "b", 1), ("a", "c", 1)])
    # w: b 1, c 1, a 0 -> a keeps nothing; c -> b ratio 1/1 not > 1
    assert nystuen_dacey(f).edges.empty
    assert nystuen_dacey(f, k=0.5).edges[["origin", "destination"]].values.tolist() == [
        ["c", "b"]]


def test_forest_helper() -> None:
    # 0 -> 1 -> 2 -> 0 (cycle), 3 -> 0, 4 root; priority: 2 is best in the cycle
    parent = np.array([1, 2, 0, 0, 4])
    par, root, depth, cut = _forest(parent, np.array([3, 1, 0, 2, 4]))
    assert cut.tolist() == [2]
    assert par.tolist() == [1, 2, 2, 0, 4]
    assert root.tolist() == [2, 2, 2, 2, 4]
    assert depth.tolist() == [2, 1, 0, 3, 0]


# --------------------------------------------------------------------------- reference


@pytest.fixture(scope="module")
def grand_est() -> Flows:
    path = GRAND_EST / "flows.csv"
    if not path.is_file():
        shared_missing(f"shared Grand Est data not found at {GRAND_EST}; the reference "
                    "comparison needs the shared flows folder beside the repository")
    t = pd.read_csv(path, dtype={"i": str, "j": str})
    # built directly, not with Flows.from_frame: the French ids are 3-digit strings like
    # "001", which the Swedish code check would take for kommun codes missing a zero
    idx = pd.MultiIndex.from_arrays([t["i"].to_numpy(dtype=object),
                                     t["j"].to_numpy(dtype=object)])
    return Flows(pd.Series(t["fij"].to_numpy(dtype=float), index=idx))


def _reference(name: str) -> pd.DataFrame:
    return pd.read_csv(GRAND_EST / "reference" / name, dtype={"i": str, "j": str, "id": str})


def test_grand_est_domflows(grand_est: Flows) -> None:
    ours = dominant_flows(grand_est, k=1)
    ref = _reference("domflows_k1_edges.csv")
    assert len(ours) == len(ref) == 1616
    assert edge_set(ours) == set(zip(ref["i"], ref["j"], strict=True))
    merged = ours.merge(ref, left_on=["origin", "destination"], right_on=["i", "j"])
    np.testing.assert_allclose(merged["count"], merged["fij"], rtol=1e-9)


def test_grand_est_nystuen_dacey_edges(grand_est: Flows) -> None:
    nd = nystuen_dacey(grand_est)
    ref = _reference("nystuen_dacey_edges.csv")
    assert len(nd.edges) == len(ref) == 134
    assert edge_set(nd.edges) == set(zip(ref["i"], ref["j"], strict=True))
    merged = nd.edges.merge(ref, left_on=["origin", "destination"], right_on=["i", "j"])
    np.testing.assert_allclose(merged["count"], merged["fij"], rtol=1e-9)


def test_grand_est_classes(grand_est: Flows) -> None:
    nd = nystuen_dacey(grand_est)
    ref = _reference("units_classification.csv").set_index("id")
    ours = nd.units.reindex(ref.index)
    assert len(nd.units) == len(ref) == 159
    assert ours["class"].astype(str).tolist() == ref["nodal_class"].tolist()
    assert ours["indegree"].tolist() == ref["nodal_indeg"].tolist()
    assert ours["outdegree"].tolist() == ref["nodal_outdeg"].tolist()
    np.testing.assert_allclose(ours["inflow"], ref["inflow_w"], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(ours["outflow"], ref["outflow"], rtol=1e-9, atol=1e-9)
    assert int((nd.units["class"] == "dominant").sum()) == 25
    # every tree is headed by a dominant unit, or the unit is isolated
    heads = set(nd.head)
    assert heads <= set(nd.dominant) | set(nd.units.index[nd.units["class"] == "isolated"])


def test_nodal_55k_flows() -> None:
    """55 000 flows between 3 000 units (the time is in benchmarks/bench_dominant.py)."""
    rng = np.random.default_rng(7)
    n = 3000
    ids = np.array([f"U{i:05d}" for i in range(n)], dtype=object)
    o = rng.integers(0, n, 70_000)
    d = (o + rng.geometric(0.02, 70_000)) % n
    pairs = pd.DataFrame({"o": ids[o], "d": ids[d]}).drop_duplicates().iloc[:55_000]
    idx = pd.MultiIndex.from_arrays([pairs["o"].to_numpy(), pairs["d"].to_numpy()])
    f = Flows(pd.Series(rng.gamma(0.5, 50.0, len(pairs)) + 0.01, index=idx))
    assert len(f) == 55_000
    nd = nystuen_dacey(f)
    assert len(nd.units) == len(f.units)
    assert set(nd.units["class"].astype(str)) <= {"dominant", "intermediary", "dominated",
                                                  "isolated"}
    # every kept edge is the largest outflow of its origin
    largest = f.count.groupby(level=0).max()
    edges = nd.edges.set_index("origin")["count"]
    assert (edges <= largest.reindex(edges.index) + 1e-9).all()


# --------------------------------------------------------------------------- properties

UNITS = [f"u{i}" for i in range(7)]


@st.composite
def sparse_flows(draw: st.DrawFn, *, distinct: bool = False) -> list[tuple[str, str, float]]:
    n = draw(st.integers(2, 7))
    units = UNITS[:n]
    pairs = draw(st.lists(st.tuples(st.sampled_from(units), st.sampled_from(units)),
                          min_size=1, max_size=n * n, unique=True))
    if distinct:
        counts = draw(st.lists(st.floats(0.5, 1000.0, allow_nan=False), min_size=len(pairs),
                               max_size=len(pairs), unique=True))
    else:
        counts = draw(st.lists(st.integers(0, 12).map(float), min_size=len(pairs),
                               max_size=len(pairs)))
    return [(o, d, c) for (o, d), c in zip(pairs, counts, strict=True)]


@settings(max_examples=150, deadline=None)
@given(sparse_flows())
def test_nodal_structure_invariants(rows: list[tuple[str, str, float]]) -> None:
    f = make_flows(rows)
    nd = nystuen_dacey(f)
    e = nd.edges
    off = f.between()
    off = off[off > 0]
    # at most one kept flow per origin, and it is the origin's largest
    assert not e["origin"].duplicated().any()
    for o, d, c in e.itertuples(index=False):
        assert c == off.xs(o, level=0).max()
        assert (o, d) in off.index
    # kept nodal flows are dominant flows
    assert edge_set(e) <= edge_set(dominant_flows(f))
    # degrees and classes agree with the edges
    u = nd.units
    assert int(u["outdegree"].sum()) == int(u["indegree"].sum()) == len(e)
    for unit, row in u.iterrows():
        cls = ("dominant" if row.indegree > 0 and row.outdegree == 0 else
               "intermediary" if row.indegree > 0 else
               "dominated" if row.outdegree > 0 else "isolated")
        assert row["class"] == cls, unit
    # following the edges from any unit ends at its head, which heads itself
    nxt = dict(zip(e["origin"], e["destination"], strict=True))
    for unit in u.index:
        x, steps = unit, 0
        while x in nxt:
            x, steps = nxt[x], steps + 1
            assert steps <= len(u)
        assert nd.head[unit] == x
        assert nd.head[x] == x


@settings(max_examples=100, deadline=None)
@given(sparse_flows(distinct=True), st.randoms(use_true_random=False))
def test_nodal_structure_independent_of_row_order(
    rows: list[tuple[str, str, float]], rnd: random.Random
) -> None:
    # distinct counts, so there are no ties between largest outflows
    assume(len(rows) > 1)
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    a, b = nystuen_dacey(make_flows(rows)), nystuen_dacey(make_flows(shuffled))
    assert edge_set(a.edges) == edge_set(b.edges)
    pd.testing.assert_frame_equal(a.units, b.units)
    pd.testing.assert_series_equal(a.head, b.head)
    assert edge_set(dominant_flows(make_flows(rows))) == edge_set(
        dominant_flows(make_flows(shuffled)))


def test_equal_real_inflows_compare_as_in_r() -> None:
    # R's colSums adds 1.3 + 2.2 + 1.0 + 0.1 (origins in order of first appearance) in
    # long double and gets 4.6000000000000005 for unit 09, while 2.3 + 2.3 = 4.6 for 01:
    # so 01 -> 09 passes w_j / w_i > 1 in R (checked with flows 2.0.0's own code).
    df = pd.DataFrame({"i": ["01", "02", "03", "04", "01", "05", "06"],
                       "j": ["01", "09", "09", "09", "09", "01", "01"],
                       "fij": [5, 1.3, 2.2, 1.0, 0.1, 2.3, 2.3]})
    n = nystuen_dacey(Flows.from_frame(df, "i", "j", "fij"))
    assert n.edges[["origin", "destination"]].values.tolist() == [["01", "09"]]
    assert n.units.loc["09", "class"] == "dominant"


def test_tie_goes_to_the_destination_last_in_order_of_first_appearance() -> None:
    # 01 sends 5 to 03 and 5 to 02; ids in order of first appearance (origins first):
    # 01, 04, 03, 02. R's nfirst keeps rank(x, ties.method = "first") == n: the last.
    df = pd.DataFrame({"i": ["01", "01", "04", "04"], "j": ["03", "02", "01", "02"],
                       "fij": [5, 5, 1, 1]})
    n = nystuen_dacey(Flows.from_frame(df, "i", "j", "fij"))
    assert ["01", "02"] in n.edges[["origin", "destination"]].values.tolist()
    assert n.units.loc["02", "class"] == "dominant"
    assert n.units.loc["03", "class"] == "isolated"
