"""Flows: construction, totals, self-containment, aggregation, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strukturbild.analysis.flows import Flows
from strukturbild.errors import DuplicateIdError, InvalidValueError, UnknownCodeError


def test_toy_totals(toy_flows_frame: pd.DataFrame) -> None:
    f = Flows.from_frame(toy_flows_frame)
    assert f.total == 6370
    assert f.inflow()["0101TC101"] == 2000 + 1500 + 300
    assert f.outflow()["0101TC101"] == 1000 + 300 + 100
    assert not f.has_self_flows
    assert len(f.units) == 6


def test_self_containment_by_hand() -> None:
    # a lives 10 (8 stay, 2 go to b); b lives 5 (5 stay); jobs a 8, b 7
    f = Flows.from_frame(pd.DataFrame({"origin": ["a", "a", "b"], "destination": ["a", "b", "b"],
                                       "count": [8, 2, 5]}))
    sc = f.self_containment()
    assert sc.loc["a"].tolist() == [0.8, 1.0]
    assert sc.loc["b"].tolist() == [1.0, 5 / 7]


def test_aggregate_and_sparse(toy_flows_frame: pd.DataFrame) -> None:
    f = Flows.from_frame(toy_flows_frame)
    k = f.aggregate({u: u[:4] for u in f.units})
    # Förort → Mellanstad (800) is inside kommun 0102; Byn/Småort/Hamlet inside 0103
    assert k.count[("0102", "0102")] == 800
    assert k.count[("0103", "0103")] == 300 + 50 + 20
    assert k.total == f.total
    m, idx = f.to_sparse()
    assert m.sum() == f.total
    assert m[idx.get_loc("0102TC101"), idx.get_loc("0101TC101")] == 2000


@pytest.mark.parametrize(
    ("counts", "error", "text"),
    [
        (["1", "-3"], InvalidValueError, "row 2: value -3 is negative"),
        (["1", "many"], InvalidValueError, "row 2: value 'many' is not a number"),
        (["1", None], InvalidValueError, "row 2: value is missing"),
        (["1", "inf"], InvalidValueError, "row 2: value inf is not finite"),
    ],
    ids=["negative", "text", "missing", "infinite"],
)
def test_bad_counts(counts: list[object], error: type[Exception], text: str) -> None:
    frame = pd.DataFrame({"origin": ["a", "b"], "destination": ["b", "a"], "count": counts})
    with pytest.raises(error, match=text):
        Flows.from_frame(frame, source="flows.csv")


def test_duplicate_pair_and_unknown_place() -> None:
    frame = pd.DataFrame({"origin": ["a", "a"], "destination": ["b", "b"], "count": [1, 2]})
    with pytest.raises(DuplicateIdError, match="row 2: the pair a → b occurs more than once"):
        Flows.from_frame(frame, source="f.csv")
    frame = pd.DataFrame({"origin": ["a"], "destination": ["zz"], "count": [1]})
    with pytest.raises(UnknownCodeError, match="f.csv: column 'destination', row 1: unknown"):
        Flows.from_frame(frame, source="f.csv", units=pd.Index(["a", "b"]))


def test_lost_leading_zero_in_flows() -> None:
    frame = pd.DataFrame({"origin": [114], "destination": ["0180"], "count": [5]})
    with pytest.raises(UnknownCodeError,
                       match="f.csv: column 'origin', row 1: unknown place '114', but '0114'"):
        Flows.from_frame(frame, source="f.csv", units=pd.Index(["0114", "0180"]))
    # foreign ids of three digits are fine where they are the ids
    ok = pd.DataFrame({"origin": ["001"], "destination": ["048"], "count": [5]})
    assert Flows.from_frame(ok).units.tolist() == ["001", "048"]


flow_tables = st.lists(
    st.tuples(st.sampled_from("abcdefg"), st.sampled_from("abcdefg"),
              st.integers(min_value=0, max_value=1000)),
    min_size=1, max_size=30, unique_by=lambda t: (t[0], t[1]),
)


@settings(max_examples=60, deadline=None)
@given(flow_tables, st.randoms(use_true_random=False))
def test_aggregation_conserves_totals(rows: list[tuple[str, str, int]], rnd: object) -> None:
    frame = pd.DataFrame(rows, columns=["origin", "destination", "count"])
    f = Flows.from_frame(frame)
    groups = {u: ("X" if u in "abc" else "Y") for u in f.units}
    agg = f.aggregate(groups)
    assert agg.total == pytest.approx(f.total)
    # outflow of a group is the sum of its members' outflows
    out = f.outflow().groupby(pd.Series(groups)).sum()
    assert np.allclose(agg.outflow().reindex(out.index).to_numpy(), out.to_numpy())
    # row order does not matter
    shuffled = frame.sample(frac=1.0, random_state=len(rows))
    g = Flows.from_frame(shuffled)
    assert g.count.sort_index().equals(f.count.sort_index())
