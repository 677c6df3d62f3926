"""Place measures on the toy region, by hand."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from strukturbild.analysis.flows import Flows
from strukturbild.analysis.places import job_share, nearest_larger_place, place_measures
from strukturbild.config import PlacesSource
from strukturbild.readers import read_places


@pytest.fixture
def toy(toy_places_frame: gpd.GeoDataFrame, tmp_path) -> gpd.GeoDataFrame:  # type: ignore[no-untyped-def]
    toy_places_frame.to_file(tmp_path / "p.gpkg")
    return read_places(PlacesSource(tmp_path / "p.gpkg"))


def test_measures_by_hand(toy: gpd.GeoDataFrame, toy_flows_frame: pd.DataFrame) -> None:
    m = place_measures(toy, Flows.from_frame(toy_flows_frame))
    assert m.loc["0101TC101", "job_ratio"] == pytest.approx(140_000 / 120_000)
    assert m.loc["0102TC101", "job_ratio"] == pytest.approx(1.2)
    assert m.loc["0102TB102", "net_commuting"] == 1_500 - 4_000
    # Storby receives from Mellanstad, Förort and Småort
    assert m.loc["0101TC101", "inflow_sources"] == 3
    assert m.loc["0101TC101", "inflow_share"] == pytest.approx((2000 + 1500 + 300) / 6370)
    assert m.loc["0103TB103", "inflow_sources"] == 0
    assert m["rank_in_area"].tolist() == [1, 1, 2, 1, 2, 3]


def test_measures_without_flows_or_jobs(toy: gpd.GeoDataFrame) -> None:
    m = place_measures(toy.drop(columns=["jobs", "employed"]))
    assert m["job_ratio"].isna().all()
    assert m["inflow_sources"].isna().all()


def test_nearest_larger(toy: gpd.GeoDataFrame) -> None:
    n = nearest_larger_place(toy)
    assert pd.isna(n.loc["0101TC101", "nearest_larger"])
    # Förort (520 km) is 10 km from Mellanstad (530 km) and 20 km from Storby
    assert n.loc["0102TB102", "nearest_larger"] == "0102TC101"
    assert n.loc["0102TB102", "nearest_larger_km"] == pytest.approx(10.0)
    assert n.loc["0103TB103", "nearest_larger"] == "0103TB102"
    assert n.loc["0103TB103", "nearest_larger_km"] == pytest.approx(np.hypot(5, 5))


def test_job_share(toy: gpd.GeoDataFrame, toy_flows_frame: pd.DataFrame) -> None:
    m = place_measures(toy, Flows.from_frame(toy_flows_frame))
    # jobs 140 000 + 24 000 + 1 500 + 2 500 + 600 + 100 = 168 700
    assert m.loc["0101TC101", "job_share"] == pytest.approx(140_000 / 168_700)
    assert m["job_share"].sum() == pytest.approx(1.0)
    # no jobs for a place: no total, so no share for any place
    partly = toy.copy()
    partly.loc["0103TB103", "jobs"] = np.nan
    assert job_share(partly).isna().all()
    assert place_measures(toy.drop(columns=["jobs", "employed"]))["job_share"].isna().all()


def test_employed_estimated_where_no_input_gives_them(toy: gpd.GeoDataFrame) -> None:
    from strukturbild.analysis.places import estimate_employed

    bare = toy.drop(columns=["employed"])
    # the kommun's rate where given, else the default
    est = estimate_employed(bare, 0.5, pd.Series({"0101": 0.48, "0103": 0.4}))
    assert est.tolist() == [120_000, 22_500, 4_000, 2_400, 1_000, 360]
    m = place_measures(bare, employment_rate=0.5)
    assert m["employed"].tolist() == [125_000, 22_500, 4_000, 3_000, 1_250, 450]
    assert m["employed_estimated"].all()
    assert m.loc["0101TC101", "job_ratio"] == pytest.approx(140_000 / 125_000)
    assert m.loc["0101TC101", "net_commuting"] == 15_000
    # the places' own figures stand; none is estimated
    given = place_measures(toy, employment_rate=0.5)
    assert not given["employed_estimated"].any()
    assert given["employed"].tolist() == toy["employed"].astype(float).tolist()
    # without a rate nothing is estimated (the measures' 0.2 behaviour)
    assert place_measures(bare)["employed"].isna().all()
    assert "employed_estimated" not in place_measures(bare).columns


def test_complete_flows_give_a_missing_column_not_the_gaps_of_one(
        toy: gpd.GeoDataFrame, toy_flows_frame: pd.DataFrame) -> None:
    self_flows = pd.DataFrame({"origin": toy.index, "destination": toy.index,
                               "count": [10] * len(toy)})
    flows = Flows.from_frame(pd.concat([toy_flows_frame, self_flows], ignore_index=True))
    # no employed column: Hamlet's employed residents are its outflow (20 + 10 at home)
    m = place_measures(toy.drop(columns=["employed"]), flows, employment_rate=0.5)
    assert m.loc["0103TB103", "employed"] == 30
    assert not m["employed_estimated"].any()
    # a gap in a column is estimated, not filled from flows (which may be of other
    # units: kommun flows on their seat places); jobs keep their gap
    partly = toy.copy()
    partly.loc["0103TB103", ["employed", "jobs"]] = np.nan
    m = place_measures(partly, flows, employment_rate=0.5)
    assert m.loc["0103TB103", "employed"] == 450
    assert m["employed_estimated"].tolist() == [False] * 5 + [True]
    assert np.isnan(m.loc["0103TB103", "jobs"])
