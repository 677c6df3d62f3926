"""Links: exact link table on the toy region, modelled flows."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from strukturbild.analysis.flows import Flows
from strukturbild.analysis.links import (
    internal_distance,
    links_from_flows,
    links_to_lines,
    model_flows,
)
from strukturbild.config import LinkParams


@pytest.fixture
def toy_measures() -> pd.DataFrame:
    from .conftest import TOY_PLACES

    return pd.DataFrame([(p[0], p[4], p[5]) for p in TOY_PLACES],
                        columns=["id", "jobs", "employed"]).set_index("id").astype(float)


def test_links_by_hand(toy_flows_frame: pd.DataFrame, toy_measures: pd.DataFrame) -> None:
    links = links_from_flows(Flows.from_frame(toy_flows_frame), toy_measures,
                             params=LinkParams(min_flow=0))
    got = links.set_index(["origin", "destination"])
    assert len(links) == 6  # ten flows, six pairs
    # Mellanstad–Storby: 2000 one way, 1000 back; Mellanstad sends the larger flow
    row = got.loc[("0102TC101", "0101TC101")]
    assert (row["flow_od"], row["flow_do"], row["total"]) == (2000, 1000, 3000)
    assert row["share_of_origin"] == pytest.approx(2000 / 20_000)
    assert row["share_of_destination"] == pytest.approx(2000 / 140_000)
    assert row["strength"] == pytest.approx(0.1)  # max(2000/20000, 1000/120000)
    assert row["link_class"] == "medium"
    expected = {
        ("0102TB102", "0101TC101"): (1500, 300, 1500 / 4000, "strong"),
        ("0102TB102", "0102TC101"): (800, 0, 800 / 4000, "strong"),
        ("0103TC101", "0101TC101"): (300, 100, 300 / 3000, "medium"),
        ("0103TB102", "0103TC101"): (300, 50, 300 / 1200, "strong"),
        ("0103TB103", "0103TB102"): (20, 0, 20 / 400, "weak"),
    }
    for pair, (od, do, strength, cls) in expected.items():
        r = got.loc[pair]
        assert (r["flow_od"], r["flow_do"], r["link_class"]) == (od, do, cls), pair
        assert r["strength"] == pytest.approx(strength), pair
    assert not links["modelled"].any()
    assert links["total"].is_monotonic_decreasing


def test_min_flow_drops_small_links(toy_flows_frame: pd.DataFrame,
                                    toy_measures: pd.DataFrame) -> None:
    links = links_from_flows(Flows.from_frame(toy_flows_frame), toy_measures,
                             params=LinkParams(min_flow=401))
    assert len(links) == 3  # 3000, 1800, 800 kept; 400 (Småort–Storby), 350, 20 dropped


def test_modelled_flows_production_constrained() -> None:
    # three places on a line, 10 km and 20 km apart, no area known
    p = gpd.GeoDataFrame({"population": [10_000, 20_000, 10_000]}, index=["a", "b", "c"],
                         geometry=shapely.points([0, 10_000, 30_000], [0, 0, 0]), crs=3006)
    f, used = model_flows(p, params=LinkParams(beta=0.1, max_distance_km=25))
    assert f.modelled and used["beta"] == 0.1
    # internal distance: 0.905 * sqrt(area / pi), area = population / 2 200 per km²
    d = 128 / (45 * np.pi) * np.sqrt(np.array([10_000, 20_000, 10_000]) / 2200 / np.pi)
    assert internal_distance(p) == pytest.approx(d)
    # a's 0.5 * 10 000 = 5 000 employed: stay (10 000 e^(-0.1 d_a)) or go to b (20 000 e^-1);
    # c, 30 km away, is beyond 25 km
    stay, go = 10_000 * np.exp(-0.1 * d[0]), 20_000 * np.exp(-1.0)
    assert f.count[("a", "a")] == pytest.approx(5000 * stay / (stay + go))
    assert f.count[("a", "b")] == pytest.approx(5000 * go / (stay + go))
    assert ("a", "c") not in f.count.index
    # b's 10 000 employed: itself, a at 10 km, c at 20 km
    wb, wa, wc = 20_000 * np.exp(-0.1 * d[1]), 10_000 * np.exp(-1.0), 10_000 * np.exp(-2.0)
    assert f.count[("b", "a")] == pytest.approx(10_000 * wa / (wb + wa + wc))
    assert f.outflow()["b"] == pytest.approx(10_000)
    # the larger place keeps more of its own: b sends a smaller share out than a
    assert f.count[("b", "b")] / 10_000 > f.count[("a", "a")] / 5_000


def test_calibration_recovers_beta() -> None:
    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 40_000, size=(12, 2))
    pop = rng.integers(2_000, 50_000, size=12).astype(float)
    p = gpd.GeoDataFrame({"population": pop}, index=[f"p{i}" for i in range(12)],
                         geometry=shapely.points(xy), crs=3006)
    truth, _ = model_flows(p, params=LinkParams(beta=0.07, max_distance_km=100))
    # calibrating on the model's own flows gives back its beta
    _, used = model_flows(p, params=LinkParams(beta=0.5, max_distance_km=100), observed=truth)
    assert used["beta"] == pytest.approx(0.07, rel=1e-6)


def test_lines_follow_places() -> None:
    p = gpd.GeoDataFrame(index=["a", "b"], geometry=shapely.points([0, 3], [0, 4]), crs=3006)
    lines = links_to_lines(pd.DataFrame({"origin": ["a"], "destination": ["b"]}), p)
    assert lines.crs.to_epsg() == 3006
    assert lines.geometry.iloc[0].equals(shapely.LineString([(0, 0), (3, 4)]))
