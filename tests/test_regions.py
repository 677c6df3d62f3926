"""Tests for strukturbild.analysis.regions: functional regions and their geometries.

Every method is checked on a toy whose regions can be worked out by hand (the
arithmetic is in the comments), on invalid input, and by Hypothesis properties on
random sparse flows. The LMA dispatch is also checked against the R package
LabourMarketAreas on the shared Sardinia data (skipped when that folder is absent).
"""

from __future__ import annotations

import math
import random
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from strukturbild.analysis import lma as _lma
from strukturbild.analysis.flows import Flows
from strukturbild.analysis.regions import (
    METHODS,
    STAT_COLUMNS,
    STATUSES,
    RegionResult,
    delineate_regions,
    region_geometries,
)
from strukturbild.errors import (
    ConfigError,
    CRSError,
    InvalidValueError,
    StrukturbildError,
    StrukturbildWarning,
    UnknownCodeError,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "flows"


def make_flows(rows: Sequence[tuple[str, str, float]]) -> Flows:
    """Flows from (origin, destination, count) rows, keeping the row order."""
    idx = pd.MultiIndex.from_tuples([(o, d) for o, d, _ in rows])
    return Flows(pd.Series([float(c) for _, _, c in rows], index=idx))


def labels(result: RegionResult) -> dict[str, str | None]:
    return {str(u): (None if pd.isna(r) else str(r)) for u, r in result.labels.items()}


# --------------------------------------------------------------------------- SCB LA toy
#
# unit  flows (self first)               residents  out-share  largest single   points at
# C1    C1 950, ->S1 50                   1000      5 %        5 %  (S1)        independent
# S1    S1 60,  ->C1 40                    100      40 %       40 % (C1)        C1   link .40
# S2    S2 85,  ->S1 15                    100      15 %       15 % (S1) > 7.5  S1   link .15
# S3    S3 70,  ->S2 30                    100      30 %                        S2   link .30
# S4    S4 75,  ->S3 25                    100      25 %                        S3   link .25
# T     T 50,   ->C1 25, ->I 25            100      50 %       tie C1/I         C1 (more jobs)
# P     P 50,   ->Q 50                     100      50 %                        Q
# Q     Q 60,   ->P 40                     100      40 %                        P
# I     I 100                              100      0 %                         independent
# Z     Z 0                                  0      (no residents, no jobs)     excluded
#
# jobs (inflow incl. self): C1 950+40+25 = 1015, S1 60+50+15 = 125, S2 85+30 = 115,
# S3 70+25 = 95, S4 75, T 50, P 50+40 = 90, Q 60+50 = 110, I 100+25 = 125.
# T's tie (25 to C1, 25 to I) goes to C1, which has more jobs (1015 > 125).
# P <-> Q is a cycle; Q has more jobs (110 > 90), so Q becomes a centre.
# S4 -> S3 -> S2 -> S1 -> C1 has 4 links > max_chain 3; its weakest link is S2 -> S1
# (15 % of S2's residents), so that link is cut and S2 heads {S2, S3, S4}.

SCB_ROWS: list[tuple[str, str, float]] = [
    ("C1", "C1", 950), ("C1", "S1", 50),
    ("S1", "S1", 60), ("S1", "C1", 40),
    ("S2", "S2", 85), ("S2", "S1", 15),
    ("S3", "S3", 70), ("S3", "S2", 30),
    ("S4", "S4", 75), ("S4", "S3", 25),
    ("T", "T", 50), ("T", "C1", 25), ("T", "I", 25),
    ("P", "P", 50), ("P", "Q", 50),
    ("Q", "Q", 60), ("Q", "P", 40),
    ("I", "I", 100),
    ("Z", "Z", 0),
]


@pytest.fixture
def scb_toy() -> Flows:
    return make_flows(SCB_ROWS)


def test_scb_la_toy(scb_toy: Flows) -> None:
    r = delineate_regions(scb_toy, "scb_la")
    assert r.method == "scb_la"
    assert labels(r) == {
        "C1": "C1", "I": "I", "P": "Q", "Q": "Q", "S1": "C1", "S2": "S2", "S3": "S2",
        "S4": "S2", "T": "C1", "Z": None,
    }
    assert r.status.to_dict() == {u: ("excluded" if u == "Z" else "assigned")
                                  for u in r.labels.index}
    d = r.diagnostics
    assert d["independent"] == ("C1", "I")
    assert d["cycle_centres"] == ("Q",)
    assert d["chains_broken"] == (("S2", "S1"),)
    assert d["centres"] == ("C1", "I", "Q", "S2")
    assert dict(d["region_centre"]) == {"C1": "C1", "I": "I", "Q": "Q", "S2": "S2"}
    assert d["max_links"] == 2  # S4 -> S3 -> S2 after the cut
    assert d["excluded"] == ("Z",)
    assert d["params"] == {"max_outflow": 0.2, "max_single_outflow": 0.075, "max_chain": 3}


def test_scb_la_stats(scb_toy: Flows) -> None:
    s = delineate_regions(scb_toy, "scb_la").stats
    assert list(s.columns) == list(STAT_COLUMNS)
    assert s.index.name == "region"
    assert list(s.index) == ["C1", "I", "Q", "S2"]
    # {C1, S1, T}: residents 1000 + 100 + 100; jobs 1015 + 125 + 50;
    # internal C1 950 + C1->S1 50 + S1 60 + S1->C1 40 + T 50 + T->C1 25 = 1175
    c1 = s.loc["C1"]
    assert (c1["residents"], c1["jobs"], c1["internal"]) == (1200.0, 1190.0, 1175.0)
    assert c1["sc_supply"] == pytest.approx(1175 / 1200)
    assert c1["sc_demand"] == pytest.approx(1175 / 1190)
    assert c1["n_units"] == 3 and c1["name"] == "C1" and c1["leader"] == "C1"
    assert bool(np.isnan(s["validity"]).all())
    # {S2, S3, S4}: internal 85 + 70 + 30 + 75 + 25 = 285 = jobs; residents 300
    s2 = s.loc["S2"]
    assert (s2["residents"], s2["jobs"], s2["internal"], s2["sc_demand"]) == (
        300.0, 285.0, 285.0, 1.0)
    assert s2["sc_supply"] == pytest.approx(0.95)
    # I: T's 25 commuters come in from another region
    assert (s.loc["I", "residents"], s.loc["I", "jobs"], s.loc["I", "internal"]) == (
        100.0, 125.0, 100.0)


def test_scb_la_longer_chains_allowed(scb_toy: Flows) -> None:
    r = delineate_regions(scb_toy, "scb_la", max_chain=4)
    assert r.diagnostics["chains_broken"] == ()
    assert {u for u, reg in labels(r).items() if reg == "C1"} == {
        "C1", "S1", "S2", "S3", "S4", "T"}


def test_scb_la_two_links_as_scb_2010() -> None:
    # without S4 the chain S3 -> S2 -> S1 -> C1 has 3 links: fine with max_chain = 3,
    # too long with 2, cut at S2 -> S1 (.15 < .30 and .40)
    rows = [r for r in SCB_ROWS if r[0] != "S4"]
    f = make_flows(rows)
    assert labels(delineate_regions(f, "scb_la"))["S3"] == "C1"
    r2 = delineate_regions(f, "scb_la", max_chain=2)
    assert r2.diagnostics["chains_broken"] == (("S2", "S1"),)
    assert labels(r2)["S3"] == "S2"


def test_scb_la_thresholds_are_inclusive() -> None:
    # A: 1000 residents, 800 stay; 200 out (exactly 20 %), largest 75 (exactly 7.5 %)
    rows = [("A", "A", 800), ("A", "B", 75), ("A", "C", 75), ("A", "D", 50),
            ("B", "B", 10), ("C", "C", 10), ("D", "D", 10)]
    assert labels(delineate_regions(make_flows(rows), "scb_la"))["A"] == "A"
    # one more commuter to B: 201 out (20.1 %) and 76 to B (7.6 %) -> A joins B
    more = [("A", "B", 76) if r[:2] == ("A", "B") else r for r in rows]
    r = delineate_regions(make_flows(more), "scb_la")
    # region {A, B}: leader A (800 jobs > B's 10 + 76)
    assert labels(r)["B"] == "A" and labels(r)["A"] == "A"
    assert r.diagnostics["region_centre"]["A"] == "B"
    # stricter thresholds make A dependent too
    assert "A" not in delineate_regions(make_flows(rows), "scb_la",
                                        max_outflow=0.19).diagnostics["independent"]


def test_scb_la_tie_with_equal_jobs_goes_to_smallest_id() -> None:
    # X sends 30 to M and 30 to N, which have 100 jobs each -> M (sorts first)
    rows = [("X", "X", 40), ("X", "N", 30), ("X", "M", 30), ("M", "M", 70), ("N", "N", 70)]
    r = delineate_regions(make_flows(rows), "scb_la")
    assert r.diagnostics["region_centre"]["M"] == "M"
    assert labels(r)["X"] == "M"


def test_scb_la_cycle_of_three() -> None:
    # A -> B -> C -> A, all dependent; C has most jobs (self 70 + 40 in)
    rows = [("A", "A", 50), ("A", "B", 50), ("B", "B", 50), ("B", "C", 50),
            ("C", "C", 70), ("C", "A", 30)]
    # jobs: A 50 + 30 = 80, B 50 + 50 = 100, C 70 + 50 = 120
    r = delineate_regions(make_flows(rows), "scb_la")
    assert r.diagnostics["cycle_centres"] == ("C",)
    assert set(labels(r).values()) == {"C"}


# --------------------------------------------------------------------------- commuting zones
#
# cores K1 (500 stay) and K2 (300 stay); employed residents 100 for every other unit.
# u1: 30 to K1 (30 %), 10 to K2          -> K1
# u2: 15 to K1, 15 to K2 (15 % each)      -> tie at exactly the threshold: K1 has more
#                                            jobs (500 + 30 + 15 = 545 vs 409)
# u3: 14 to K2 (14 % < 15 %)               -> its own region
# u4: 50 to u3 (not a core)                -> its own region
# u5: 20 to K2 (20 %)                      -> K2
# K1 -> K2 50: cores never join each other.
# K2 jobs: 300 + 10 + 15 + 14 + 20 + 50 = 409.

CZ_ROWS: list[tuple[str, str, float]] = [
    ("K1", "K1", 500), ("K1", "K2", 50), ("K2", "K2", 300),
    ("u1", "u1", 60), ("u1", "K1", 30), ("u1", "K2", 10),
    ("u2", "u2", 70), ("u2", "K1", 15), ("u2", "K2", 15),
    ("u3", "u3", 86), ("u3", "K2", 14),
    ("u4", "u4", 50), ("u4", "u3", 50),
    ("u5", "u5", 80), ("u5", "K2", 20),
]


def test_commuting_zone_toy() -> None:
    r = delineate_regions(make_flows(CZ_ROWS), "commuting_zone", cores=["K1", "K2"])
    assert labels(r) == {"K1": "K1", "K2": "K2", "u1": "K1", "u2": "K1", "u3": "u3",
                         "u4": "u4", "u5": "K2"}
    assert set(r.status) == {"assigned"}
    assert r.diagnostics["unassigned"] == ("u3", "u4")
    assert r.diagnostics["cores"] == ("K1", "K2")
    s = r.stats
    assert s.loc["K1", "n_units"] == 3 and s.loc["K2", "n_units"] == 2
    # K1 zone: residents 550 + 100 + 100; jobs 545 + 60 + 70 = 675;
    # internal 500 + 60 + 30 + 70 + 15 = 675
    assert (s.loc["K1", "residents"], s.loc["K1", "jobs"], s.loc["K1", "internal"]) == (
        750.0, 675.0, 675.0)


def test_commuting_zone_share_parameter() -> None:
    f = make_flows(CZ_ROWS)
    # at 14 % u3 joins K2 as well
    assert labels(delineate_regions(f, "commuting_zone", cores=["K1", "K2"],
                                    share=0.14))["u3"] == "K2"
    # at 16 % u2 (15 %) stays alone
    assert labels(delineate_regions(f, "commuting_zone", cores=["K1", "K2"],
                                    share=0.16))["u2"] == "u2"
    # a single core id as a string; hyphenated method name
    r = delineate_regions(f, "commuting-zone", cores="K2")
    assert labels(r)["u1"] == "u1" and labels(r)["u5"] == "K2"
    assert r.method == "commuting_zone"


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({}, ConfigError, "needs cores"),
        ({"cores": []}, ConfigError, "at least one core"),
        ({"cores": ["K9"]}, UnknownCodeError, "K9"),
        ({"cores": ["K1"], "share": 0}, ConfigError, "share"),
        ({"cores": ["K1"], "share": 1.5}, ConfigError, "share"),
    ],
    ids=["no-cores", "empty-cores", "unknown-core", "share-zero", "share-above-one"],
)
def test_commuting_zone_bad_parameters(kwargs: dict[str, Any], error: type[Exception],
                                       match: str) -> None:
    with pytest.raises(error, match=match):
        delineate_regions(make_flows(CZ_ROWS), "commuting_zone", **kwargs)


# --------------------------------------------------------------------------- nodal
#
# The Nystuen–Dacey toy of test_dominant (S city, T town, villages a-d): the kept
# flows a->T, b->T, T->S, c->S make one tree headed by S; d keeps nothing (it has no
# inflow) and is a region of its own. Leader of the big tree: S (jobs 1000 + 80).

NODAL_ROWS: list[tuple[str, str, float]] = [
    ("S", "S", 1000), ("T", "T", 300), ("a", "a", 50), ("b", "b", 40), ("c", "c", 60),
    ("d", "d", 20),
    ("a", "T", 40), ("a", "S", 10), ("b", "T", 30), ("T", "S", 50), ("T", "a", 5),
    ("c", "S", 20), ("c", "b", 3), ("d", "c", 7), ("S", "T", 2),
]


def test_nodal_toy() -> None:
    r = delineate_regions(make_flows(NODAL_ROWS), "nodal")
    assert labels(r) == {"S": "S", "T": "S", "a": "S", "b": "S", "c": "S", "d": "d"}
    assert r.diagnostics["heads"] == ("S", "d")
    assert r.diagnostics["nodal"].units.loc["T", "class"] == "intermediary"
    # with k = 1.2 the town heads its own tree {T, a, b}
    r2 = delineate_regions(make_flows(NODAL_ROWS), "nodal", k=1.2)
    assert labels(r2) == {"S": "S", "T": "T", "a": "T", "b": "T", "c": "S", "d": "d"}


def test_nodal_works_without_self_flows() -> None:
    rows = [r for r in NODAL_ROWS if r[0] != r[1]]
    r = delineate_regions(make_flows(rows), "nodal")
    # without self-flows S's jobs are its inflow 80, T's 72: S still leads
    assert labels(r)["T"] == "S"


# --------------------------------------------------------------------------- lma
#
# Four units, min size 500, min SC 0.6, target size 1000, target SC 0.7:
# unit 1: live 1000, work 1050, self 900: SC = min(.9, .857) = .857 >= .7 -> Y = 1,
#         live >= 1000 -> Z = 1, validity = .7 / .6 = 1.17: valid on its own.
# unit 2: live 850, work 780, self 700: SC .82 -> Y = 1; s = (1000-850)/500 = .3,
#         Z = 1 - (1 - .6/.7) * .3 = .957, validity = .957 * 1.17 = 1.12: valid.
# unit 4: live 120, work 70, self 30: SC .25 -> Y = .357; s = 1.76, Z = .749;
#         validity .31 < 1 -> dissolved, joins 3 (its only partner).

LMA_ROWS: list[tuple[str, str, float]] = [
    ("1", "1", 900), ("1", "2", 80), ("2", "2", 700), ("2", "1", 150), ("3", "3", 800),
    ("3", "4", 40), ("4", "4", 30), ("4", "3", 90), ("1", "3", 20),
]
LMA_PARAMS = {"min_size": 500, "min_self_containment": 0.6, "target_size": 1000,
              "target_self_containment": 0.7}


def test_lma_toy() -> None:
    r = delineate_regions(make_flows(LMA_ROWS), "lma", **LMA_PARAMS)
    assert labels(r) == {"1": "1", "2": "2", "3": "3", "4": "3"}
    assert set(r.status) == {"assigned"}
    assert r.stats.loc["1", "validity"] == pytest.approx(0.7 / 0.6)
    # region {3, 4}: residents (800 + 40) + (30 + 90) = 960; jobs (800 + 90 + 20 from 1)
    # + (40 + 30) = 980; internal 800 + 40 + 30 + 90 = 960
    s3 = r.stats.loc["3"]
    assert (s3["residents"], s3["jobs"], s3["internal"]) == (960.0, 980.0, 960.0)
    assert r.stats.loc["3", "n_units"] == 2
    assert r.diagnostics["iterations"] >= 1
    assert r.diagnostics["params"]["target_size"] == 1000.0


def test_lma_statistics_count_flows_of_set_aside_units() -> None:
    # X has residents but no jobs and no self-flow: LabourMarketAreas sets it aside
    # (zero list) and drops its flows; the region statistics here still count X's 100
    # commuters as jobs in A, the package's own figures are in diagnostics["lma_stats"]
    rows = [("A", "A", 10), ("B", "B", 120), ("A", "B", 30), ("B", "A", 20), ("X", "A", 100)]
    r = delineate_regions(make_flows(rows), "lma", min_size=10, min_self_containment=0.5,
                          target_size=60, target_self_containment=0.7)
    assert labels(r) == {"A": "B", "B": "B", "X": None}
    assert r.status["X"] == "excluded"
    assert r.stats.loc["B", "jobs"] == 280.0  # 10 + 20 + 100 (A) + 150 (B)
    assert r.diagnostics["lma_stats"].loc["B", "jobs"] == 180.0


def test_lma_dispatch_with_stub(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def stub(origin: Any, destination: Any, count: Any, **kw: Any) -> _lma.LMAResult:
        seen.update(kw, n=len(origin), o=list(origin), c=list(count))
        units = pd.Index(["1", "2", "3", "4"], name="unit")
        return _lma.LMAResult(
            labels=pd.Series(["1", "1", "3", pd.NA], index=units, name="region",
                             dtype="string"),
            status=pd.Series(["assigned", "reserve", "assigned", "excluded"], index=units,
                             name="status"),
            stats=pd.DataFrame({"residents": [1.0, 2.0], "jobs": [1.0, 2.0],
                                "internal": [1.0, 2.0], "sc_supply": [1.0, 1.0],
                                "sc_demand": [1.0, 1.0], "validity": [1.5, 0.8],
                                "n_units": [2, 1]}, index=pd.Index(["1", "3"], name="region")),
            reserve_list=pd.DataFrame({"type": ["A"], "unit": ["2"]}),
            excluded=("4",),
            iterations=7,
        )

    monkeypatch.setattr(_lma, "find_clusters", stub)
    r = delineate_regions(make_flows(LMA_ROWS), "lma", min_size=100, target_size=200)
    assert seen["min_size"] == 100.0 and seen["target_size"] == 200.0
    assert seen["min_self_containment"] == 0.6667
    assert seen["target_self_containment"] == 0.75
    assert seen["n"] == len(LMA_ROWS) and seen["o"][0] == "1" and seen["c"][0] == 900.0
    assert labels(r) == {"1": "1", "2": "1", "3": "3", "4": None}
    assert r.status.tolist() == ["assigned", "reserve", "assigned", "excluded"]
    assert r.stats["validity"].to_dict() == {"1": 1.5, "3": 0.8}
    assert r.diagnostics["iterations"] == 7
    assert r.diagnostics["excluded"] == ("4",)
    assert list(r.diagnostics["reserve_list"]["unit"]) == ["2"]
    # the statistics are recomputed from all flows: {1, 2} keeps 900+80+700+150
    assert r.stats.loc["1", "internal"] == 1830.0


@pytest.mark.parametrize(
    ("folder", "params"),
    [("lma_p1000_06667_10000_075", (1000, 0.6667, 10000, 0.75)),
     ("lma_p1000_06_10000_07", (1000, 0.6, 10000, 0.7))],
    ids=["documented-example", "second-example"],
)
def test_lma_matches_labourmarketareas_on_sardinia(
    folder: str, params: tuple[float, float, float, float]
) -> None:
    base = SHARED / "sardinia"
    if not (base / "reference" / folder / "assignment.csv").is_file():
        pytest.skip(f"shared Sardinia data not found at {base}")
    t = pd.read_csv(base / "flows.csv", dtype=str)
    f = Flows.from_frame(t, "community_live", "community_work", "amount")
    keys = ("min_size", "min_self_containment", "target_size", "target_self_containment")
    r = delineate_regions(f, "lma", **dict(zip(keys, params, strict=True)))
    ref = pd.read_csv(base / "reference" / folder / "assignment.csv", dtype=str)
    ref = ref.set_index("community")
    assert r.labels.reindex(ref.index).astype(str).tolist() == ref["lma_leader"].tolist()
    assert r.n_regions == ref["lma_leader"].nunique()


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("method", ["lma", "scb_la"])
def test_no_self_flows_is_explained(method: str) -> None:
    rows = [r for r in SCB_ROWS if r[0] != r[1]]
    with pytest.raises(InvalidValueError, match="intra-unit flows") as info:
        delineate_regions(make_flows(rows), method)
    assert "self-containment is 0 everywhere" in str(info.value)


@pytest.mark.parametrize("method", METHODS)
def test_single_unit(method: str) -> None:
    extra: dict[str, Any] = {"cores": ["A"]} if method == "commuting_zone" else {}
    with pytest.raises(InvalidValueError, match="at least two units"):
        delineate_regions(make_flows([("A", "A", 10)]), method, **extra)


def test_all_zero_counts() -> None:
    with pytest.raises(InvalidValueError, match="all flow counts are 0"):
        delineate_regions(make_flows([("A", "A", 0), ("A", "B", 0)]), "nodal")


@pytest.mark.parametrize(
    ("method", "kwargs", "match"),
    [
        ("lma", {"min_size": 20000}, "min_size <= target_size"),
        ("lma", {"min_size": 0}, "min_size"),
        ("lma", {"min_self_containment": 0.8}, "min_self_containment <= target"),
        ("lma", {"target_self_containment": 1.2, "min_self_containment": 0.5}, "<= 1"),
        ("lma", {"min_size": "big"}, "must be a number"),
        ("lma", {"min_size": float("nan")}, "finite"),
        ("lma", {"k": 2}, "does not take parameter 'k'"),
        ("scb_la", {"max_chain": 0}, "max_chain"),
        ("scb_la", {"max_chain": 2.5}, "max_chain"),
        ("scb_la", {"max_chain": True}, "max_chain"),
        ("scb_la", {"max_outflow": 1.5}, "max_outflow"),
        ("scb_la", {"max_single_outflow": -0.1}, "max_single_outflow"),
        ("nodal", {"k": 0}, "k must be"),
        ("nodal", {"k": True}, "must be a number"),
        ("nodal", {"share": 0.2}, "does not take"),
        ("watershed", {}, "unknown region method"),
    ],
    ids=lambda v: str(v) if not isinstance(v, dict) else ",".join(v),
)
def test_bad_parameters(scb_toy: Flows, method: str, kwargs: dict[str, Any],
                        match: str) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        delineate_regions(scb_toy, method, **kwargs)
    assert isinstance(info.value, StrukturbildError) and isinstance(info.value, ValueError)


def test_not_flows() -> None:
    with pytest.raises(TypeError, match="Flows"):
        delineate_regions(pd.DataFrame(), "nodal")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- result


def test_result_api(scb_toy: Flows) -> None:
    r = delineate_regions(scb_toy, "scb_la")
    fr = r.to_frame()
    assert list(fr.columns) == ["unit", "region", "status"]
    assert len(fr) == 10
    z = fr[fr["unit"] == "Z"].iloc[0]
    assert pd.isna(z["region"]) and z["status"] == "excluded"
    assert list(r.members("S2")) == ["S2", "S3", "S4"]
    with pytest.raises(UnknownCodeError):
        r.members("nowhere")
    assert r.n_regions == 4
    assert r.labels.name == "region" and r.labels.index.name == "unit"
    assert r.status.name == "status"
    with pytest.raises(AttributeError):
        r.method = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        r.diagnostics["x"] = 1  # type: ignore[index]


# --------------------------------------------------------------------------- properties

UNITS = [f"U{i}" for i in range(7)]


@st.composite
def region_flows(draw: st.DrawFn, *, distinct: bool = False) -> list[tuple[str, str, float]]:
    n = draw(st.integers(2, 7))
    units = UNITS[:n]
    pairs = draw(st.lists(st.tuples(st.sampled_from(units), st.sampled_from(units)),
                          min_size=1, max_size=2 * n, unique=True))
    pairs = [p for p in pairs if p[0] != p[1]]
    selfs = [(u, u) for u in units]
    allp = selfs + pairs
    if distinct:
        counts = draw(st.lists(st.floats(0.5, 500.0, allow_nan=False), min_size=len(allp),
                               max_size=len(allp), unique=True))
    else:
        counts = draw(st.lists(st.integers(0, 40).map(float), min_size=len(allp),
                               max_size=len(allp)))
    rows = [(o, d, c) for (o, d), c in zip(allp, counts, strict=True)]
    assume(sum(c for _, _, c in rows) > 0)
    return rows


def _params_for(method: str, rows: list[tuple[str, str, float]], core_pick: int) -> dict[
        str, Any]:
    if method == "commuting_zone":
        units = sorted({o for o, _, _ in rows} | {d for _, d, _ in rows})
        return {"cores": units[: 1 + core_pick % len(units)]}
    if method == "lma":
        return {"min_size": 20, "min_self_containment": 0.5, "target_size": 60,
                "target_self_containment": 0.7}
    return {}


def check_partition(f: Flows, r: RegionResult) -> None:
    assert list(r.labels.index) == list(f.units)
    assert set(r.status) <= set(STATUSES)
    na = r.labels.isna().to_numpy(dtype=bool)
    assert (na == (r.status == "excluded").to_numpy(dtype=bool)).all()
    present = r.labels.dropna()
    assert set(present) == set(r.stats.index)
    assert present.value_counts().sort_index().tolist() == r.stats["n_units"].sort_index(
        ).tolist()
    jobs = f.inflow()  # all flows, also for lma (the leader rule of LabourMarketAreas)
    for region, members in present.groupby(present):
        assert region in members.index  # the leader is a member
        assert jobs[region] == jobs[members.index].max()  # and has most jobs
    # totals are conserved: aggregate the flows to regions (excluded units stay alone)
    mapping = r.labels.astype(object).where(r.labels.notna(), r.labels.index.to_series())
    agg = f.aggregate({str(k): str(v) for k, v in mapping.items()})
    s = r.stats
    np.testing.assert_allclose(agg.outflow().reindex(s.index), s["residents"], atol=1e-9)
    np.testing.assert_allclose(agg.inflow().reindex(s.index), s["jobs"], atol=1e-9)
    np.testing.assert_allclose(agg.self_flow().reindex(s.index), s["internal"], atol=1e-9)
    excluded_out = f.outflow()[r.labels.index[na]].sum()
    assert s["residents"].sum() + excluded_out == pytest.approx(f.total)


@pytest.mark.parametrize("method", ["scb_la", "nodal", "commuting_zone", "lma"])
@settings(max_examples=60, deadline=None)
@given(rows=region_flows(), core_pick=st.integers(0, 6))
def test_every_unit_in_one_region_and_totals_conserved(
    method: str, rows: list[tuple[str, str, float]], core_pick: int
) -> None:
    f = make_flows(rows)
    assume(len(f.units) >= 2)
    r = delineate_regions(f, method, **_params_for(method, rows, core_pick))
    check_partition(f, r)


@pytest.mark.parametrize("method", ["scb_la", "nodal", "commuting_zone", "lma"])
@settings(max_examples=50, deadline=None)
@given(rows=region_flows(distinct=True), core_pick=st.integers(0, 6),
       rnd=st.randoms(use_true_random=False))
def test_independent_of_row_order(method: str, rows: list[tuple[str, str, float]],
                                  core_pick: int, rnd: random.Random) -> None:
    # distinct counts, so the nodal method meets no ties between largest outflows
    f = make_flows(rows)
    assume(len(f.units) >= 2)
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    params = _params_for(method, rows, core_pick)
    a = delineate_regions(f, method, **params)
    b = delineate_regions(make_flows(shuffled), method, **params)
    pd.testing.assert_series_equal(a.labels, b.labels)
    pd.testing.assert_series_equal(a.status, b.status)
    pd.testing.assert_frame_equal(a.stats, b.stats)


@settings(max_examples=40, deadline=None)
@given(rows=region_flows(), rnd=st.randoms(use_true_random=False))
def test_scb_la_ties_independent_of_row_order(rows: list[tuple[str, str, float]],
                                              rnd: random.Random) -> None:
    # SCB LA resolves ties by jobs and id, so even tied integer flows give one answer
    f = make_flows(rows)
    assume(len(f.units) >= 2)
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    a = delineate_regions(f, "scb_la", max_chain=1)
    b = delineate_regions(make_flows(shuffled), "scb_la", max_chain=1)
    pd.testing.assert_series_equal(a.labels, b.labels)
    assert a.diagnostics["max_links"] <= 1


# --------------------------------------------------------------------------- geometry


def _squares(ids: list[str], size: float = 1000.0, crs: str | None = "EPSG:3006"
             ) -> gpd.GeoDataFrame:
    geoms = [shapely.box(i * size, 0, (i + 1) * size, size) for i in range(len(ids))]
    return gpd.GeoDataFrame(geometry=geoms, index=pd.Index(ids, name="area_id"), crs=crs)


def test_geometries_dissolve_areas() -> None:
    r = delineate_regions(make_flows(NODAL_ROWS), "nodal")
    areas = _squares(["S", "T", "a", "b", "c", "d"])
    g = region_geometries(r, areas=areas)
    assert isinstance(g, gpd.GeoDataFrame)
    assert g.index.name == "region" and list(g.index) == ["S", "d"]
    assert list(g.columns) == ["name", "residents", "jobs", "sc_supply", "sc_demand",
                               "validity", "n_units", "method", "geometry"]
    assert g.crs == areas.crs
    # S: five adjacent squares of 1 km² dissolved into one polygon
    assert g.loc["S", "geometry"].area == pytest.approx(5e6)
    assert g.loc["S", "geometry"].geom_type == "Polygon"
    assert g.loc["d", "geometry"].area == pytest.approx(1e6)
    assert (g["method"] == "nodal").all()
    assert g.loc["S", "n_units"] == 5


def test_geometries_places_mapped_to_areas() -> None:
    # cores p1 and p3; p2 and p5 commute to p1, p4 to p3.
    rows = [("p1", "p1", 100), ("p3", "p3", 500), ("p2", "p2", 50), ("p2", "p1", 50),
            ("p5", "p5", 10), ("p5", "p1", 10), ("p4", "p4", 10), ("p4", "p3", 10)]
    r = delineate_regions(make_flows(rows), "commuting_zone", cores=["p1", "p3"])
    assert labels(r) == {"p1": "p1", "p2": "p1", "p3": "p3", "p4": "p3", "p5": "p1"}
    areas = _squares(["A1", "A2", "A3"])
    places = gpd.GeoDataFrame(
        {"area_id": ["A1", "A1", "A1", "A2", "A3"], "population": [100, 50, 500, 10, 10]},
        geometry=[shapely.Point(500, 500)] * 3 + [shapely.Point(1500, 500),
                                                  shapely.Point(2500, 500)],
        index=["p1", "p2", "p3", "p4", "p5"], crs="EPSG:3006")
    # A1 holds p1, p2 (region p1, population 150) and p3 (region p3, 500) -> p3
    with pytest.warns(StrukturbildWarning, match="more than one region"):
        g = region_geometries(r, places=places, areas=areas)
    assert g.loc["p3", "geometry"].area == pytest.approx(2e6)  # A1 + A2
    assert g.loc["p1", "geometry"].equals(areas.loc["A3", "geometry"])
    # the same through an explicit unit -> area mapping, without population weights:
    # A1 then has 2 places of region p1 against 1 of p3 -> p1
    with pytest.warns(StrukturbildWarning):
        g2 = region_geometries(r, areas=areas, unit_area=places["area_id"])
    assert g2.loc["p1", "geometry"].area == pytest.approx(2e6)  # A1 + A3


def test_geometries_hulls_of_places() -> None:
    r = delineate_regions(make_flows(NODAL_ROWS), "nodal")
    xy = {"S": (0, 0), "T": (10000, 0), "a": (10000, 10000), "b": (0, 10000),
          "c": (5000, 5000), "d": (50000, 0)}
    places = gpd.GeoDataFrame(geometry=[shapely.Point(p) for p in xy.values()],
                              index=list(xy), crs="EPSG:3006")
    g = region_geometries(r, places=places)
    assert g.crs == places.crs
    # S: the 10 km square, buffered by 2 km
    assert g.loc["S", "geometry"].bounds == pytest.approx((-2000, -2000, 12000, 12000))
    assert g.loc["S", "geometry"].contains(shapely.Point(5000, 5000))
    # d alone: a 2 km disc, so it shows on a map
    assert g.loc["d", "geometry"].area == pytest.approx(math.pi * 2000 ** 2, rel=0.01)
    g0 = region_geometries(r, places=places, buffer=0)
    assert g0.loc["S", "geometry"].area == pytest.approx(1e8)
    assert g0.loc["d", "geometry"].geom_type == "Point"


def test_geometries_leave_out_excluded_units(scb_toy: Flows) -> None:
    r = delineate_regions(scb_toy, "scb_la")
    ids = list(r.labels.index)
    places = gpd.GeoDataFrame(geometry=[shapely.Point(i * 1000, 0) for i in range(len(ids))],
                              index=ids, crs="EPSG:3006")
    g = region_geometries(r, places=places.drop(index="Z"))  # Z is excluded: not needed
    assert list(g.index) == ["C1", "I", "Q", "S2"]


def test_geometries_errors() -> None:
    r = delineate_regions(make_flows(NODAL_ROWS), "nodal")
    pts = gpd.GeoDataFrame(geometry=[shapely.Point(i, 0) for i in range(6)],
                           index=["S", "T", "a", "b", "c", "d"], crs="EPSG:3006")
    with pytest.raises(ConfigError, match="places or areas"):
        region_geometries(r)
    with pytest.raises(UnknownCodeError, match="'d'"):
        region_geometries(r, places=pts.drop(index="d"))
    with pytest.raises(CRSError, match="no CRS"):
        region_geometries(r, places=pts.set_crs(None, allow_override=True))
    with pytest.raises(CRSError, match="metres"):
        region_geometries(r, places=pts.set_crs("EPSG:4326", allow_override=True))
    # degrees are fine when nothing is buffered
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # geopandas: geographic CRS notes
        region_geometries(r, places=pts.set_crs("EPSG:4326", allow_override=True), buffer=0)
    # units are not areas and nothing maps them
    with pytest.raises(ConfigError, match="unit_area"):
        region_geometries(r, areas=_squares(["X", "Y"]))
    with pytest.raises(UnknownCodeError, match="no area"):
        region_geometries(r, areas=_squares(["X"]), unit_area=pd.Series({"S": "X"}))
    with pytest.raises(UnknownCodeError, match="not in the areas layer"):
        region_geometries(r, areas=_squares(["X"]),
                          unit_area=pd.Series(dict.fromkeys("STabcd", "Q")))
    with pytest.raises(CRSError):
        region_geometries(r, areas=_squares(["S", "T", "a", "b", "c", "d"], crs=None))
