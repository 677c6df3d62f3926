"""The bundled example, the seat table, and kommun-to-place attachment."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from strukturbild.analysis.flows import Flows, place_flows_from_area_flows, resolve_seats
from strukturbild.errors import ConfigError, FetchError, StrukturbildWarning, UnknownCodeError
from strukturbild.sources.example import example_dir, example_project
from strukturbild.sources.scb.commuting import plan_series
from strukturbild.sources.scb.geodata import (
    LAN_NAMES,
    kommuner_from_features,
    tatorter_from_features,
)
from strukturbild.sources.scb.seats import load_seats

from ..conftest import requires_shared

SKANE = ["1214", "1230", "1231", "1233", "1256", "1257", "1260", "1261", "1262", "1263",
         "1264", "1265", "1266", "1267", "1270", "1272", "1273", "1275", "1276", "1277",
         "1278", "1280", "1281", "1282", "1283", "1284", "1285", "1286", "1287", "1290",
         "1291", "1292", "1293"]


def test_example_is_found() -> None:
    assert (example_dir() / "project.toml").is_file()
    assert example_project().name == "skane"


# --------------------------------------------------------------------------- seat table


def test_shipped_seat_table_covers_skane() -> None:
    s = load_seats()
    assert s["kommun_code"].tolist() == SKANE
    assert s["kommun_code"].str.len().eq(4).all()
    assert (s["source"] != "").all() and (s["year"] == "2020").all()
    burlov = s.set_index("kommun_code").loc["1231"]
    assert burlov["seat_name"] == "Arlöv" and burlov["tatort_code"] == "1280TC106"
    assert "Malmö tätort" in burlov["note"]
    # Every other seat is matched by name at fetch time.
    assert (s.loc[s["kommun_code"] != "1231", "tatort_code"] == "").all()


@pytest.mark.parametrize(("text", "error"), [
    ("kommun_code,kommun_name,seat_name,tatort_code,note,source,year\n"
     "128,Malmö,Malmö,,,x,2020\n", UnknownCodeError),
    ("kommun_code,kommun_name,seat_name,tatort_code,note,source,year\n"
     "1280,Malmö,Malmö,,,x,2020\n1280,Malmö,Limhamn,,,x,2020\n", ConfigError),
    ("kommun_code,kommun_name,seat_name\n1280,Malmö,Malmö\n", ValueError),
], ids=["lost-zero", "two-seats", "missing-columns"])
def test_bad_seat_tables_are_rejected(tmp_path: Path, text: str, error: type) -> None:
    p = tmp_path / "seats.csv"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(error):
        load_seats(p)


# --------------------------------------------------------------------------- resolve seats


def _toy_tatorter() -> gpd.GeoDataFrame:
    rows = [  # code, name, kommun, population, x
        ("1280TC106", "Malmö", "1280", 320000, 0),
        ("1231TB102", "Åkarp", "1231", 6300, 10),
        ("1233TC104", "Höllviken", "1233", 11000, 20),
        ("1233TC108", "Vellinge", "1233", 7000, 30),
        ("1281TC105", "Lund", "1281", 94000, 40),
        ("1281TC101", "Dalby", "1281", 6100, 50),
        ("0180TC108", "Stockholm", "0180", 1600000, 100),
    ]
    return gpd.GeoDataFrame(
        {"name": [r[1] for r in rows], "area_id": [r[2] for r in rows],
         "population": [r[3] for r in rows]},
        geometry=[shapely.box(r[4], 0, r[4] + 5, 5) for r in rows], crs="EPSG:3006",
        index=pd.Index([r[0] for r in rows], name="place_id", dtype=object))


def test_seats_by_code_and_by_name() -> None:
    got = resolve_seats(_toy_tatorter(), ["1280", "1231", "1233", "1281"], load_seats())
    assert got["place_id"].to_dict() == {"1280": "1280TC106", "1231": "1280TC106",
                                         "1233": "1233TC108", "1281": "1281TC105"}
    assert got["method"].to_dict() == {"1280": "name", "1231": "code", "1233": "name",
                                       "1281": "name"}
    assert got.loc["1231", "place_name"] == "Malmö"  # Vellinge: the seat, not the largest


def test_kommun_missing_from_the_table_falls_back_to_its_largest_tatort() -> None:
    seats = load_seats()
    seats = seats[seats["kommun_code"] != "1233"]
    with pytest.warns(StrukturbildWarning, match=r"not in the seat table \(1233\)"):
        got = resolve_seats(_toy_tatorter(), ["1233"], seats)
    assert got.loc["1233", "place_id"] == "1233TC104"
    assert got.loc["1233", "method"] == "largest"


def test_seat_not_found_falls_back_with_a_warning() -> None:
    t = _toy_tatorter().drop(index="1281TC105")
    with pytest.warns(StrukturbildWarning, match=r"1281 \(Lund\)"):
        got = resolve_seats(t, ["1281"], load_seats())
    assert got.loc["1281", ["place_id", "method"]].tolist() == ["1281TC101", "largest"]


def test_kommun_without_own_tatort_uses_its_boundary() -> None:
    # Solna (0184) has no tätort of its own: its built-up area is in Stockholm's.
    kommuner = gpd.GeoDataFrame({"name": ["Solna"]}, geometry=[shapely.box(98, 0, 103, 5)],
                                crs="EPSG:3006", index=pd.Index(["0184"], name="area_id"))
    with pytest.warns(StrukturbildWarning, match="not in the seat table"):
        got = resolve_seats(_toy_tatorter(), ["0184"], load_seats(), kommuner=kommuner)
    assert got.loc["0184", ["place_id", "method"]].tolist() == ["0180TC108",
                                                                "largest_intersecting"]
    with pytest.warns(StrukturbildWarning, match="no tätort to attach"), \
            pytest.warns(StrukturbildWarning, match="not in the seat table"):
        got = resolve_seats(_toy_tatorter(), ["0184"], load_seats())
    assert got.loc["0184", "place_id"] is None and got.loc["0184", "method"] == "none"


def test_seat_names_match_the_real_tatorter_2020() -> None:
    # Read from ../shared (never copied into the repository).
    t = gpd.read_file(requires_shared("geodata", "sweden", "skane", "tatorter_2020.gpkg"))
    tat = t.set_index("tatort_code").rename(columns={"tatort_name": "name",
                                                     "kommun_code": "area_id"})
    seats = load_seats()
    for row in seats.itertuples():
        own = tat[tat["area_id"] == row.kommun_code]
        found = (own["name"] == row.seat_name).any()
        assert found == (row.kommun_code != "1231"), (row.kommun_code, row.seat_name)
    got = resolve_seats(tat, seats["kommun_code"], seats)
    assert (got["method"] == "name").sum() == 32
    assert got.loc["1231", "place_id"] == "1280TC106"
    assert tat.loc["1280TC106", "name"] == "Malmö"
    # 32 kommuner have a seat of their own; Malmö's also serves Burlöv.
    assert got["place_id"].nunique() == 32


# --------------------------------------------------------------------------- place flows


def test_place_flows_merge_kommuner_that_share_a_seat() -> None:
    kf = pd.DataFrame({"origin": ["1280", "1231", "1231", "1280", "1281", "1380"],
                       "destination": ["1280", "1280", "1231", "1231", "1280", "1280"],
                       "count": [100.0, 30.0, 10.0, 5.0, 20.0, 7.0]})
    seat_of = {"1280": "M", "1231": "M", "1281": "L"}
    f = place_flows_from_area_flows(kf, seat_of)
    assert f.count.to_dict() == {("L", "M"): 20.0, ("M", "M"): 145.0}
    inside = kf[kf["origin"].isin(list(seat_of)) & kf["destination"].isin(list(seat_of))]
    expected = Flows.from_frame(inside).aggregate(seat_of)
    pd.testing.assert_series_equal(f.count, expected.count)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["1280", "1231", "1281", "1233"]),
                          st.sampled_from(["1280", "1231", "1281", "1233"]),
                          st.integers(0, 1000)), min_size=1, max_size=16, unique_by=lambda t:
                (t[0], t[1])),
       st.lists(st.sampled_from(["A", "B", "C"]), min_size=4, max_size=4))
def test_place_flows_keep_every_commuter(pairs: list[tuple[str, str, int]],
                                         seats: list[str]) -> None:
    kf = pd.DataFrame(pairs, columns=["origin", "destination", "count"])
    seat_of = dict(zip(["1280", "1231", "1281", "1233"], seats, strict=True))
    f = place_flows_from_area_flows(kf, seat_of)
    assert f.total == pytest.approx(float(kf["count"].sum()))
    # Independent of row order.
    g = place_flows_from_area_flows(kf.iloc[::-1], seat_of)
    pd.testing.assert_series_equal(f.count, g.count)


# --------------------------------------------------------------------------- series


def test_plan_series_prefers_the_first_table_and_records_breaks() -> None:
    years = {"TAB1830": ["2020", "2021", "2022"], "TAB5850": ["2019", "2020", "2021"],
             "TAB333": [str(y) for y in range(2004, 2019)]}
    plan = plan_series(years, ["TAB1830", "TAB5850", "TAB333"], range(2010, 2023))
    assert plan.table_of[2018] == "TAB333" and plan.table_of[2019] == "TAB5850"
    assert plan.table_of[2020] == "TAB1830"
    assert [o["year"] for o in plan.overlaps] == [2020, 2021]
    assert [(b["year"], b["from"], b["to"]) for b in plan.breaks] == [
        (2011, "TAB333", "TAB333"), (2019, "TAB333", "TAB5850"), (2020, "TAB5850", "TAB1830")]


def test_plan_series_missing_year_is_an_error() -> None:
    with pytest.raises(ConfigError, match="2023"):
        plan_series({"TAB1830": ["2022"]}, ["TAB1830"], [2022, 2023])


def test_lan_names_are_the_21_lan() -> None:
    assert len(LAN_NAMES) == 21 and LAN_NAMES["12"] == "Skåne län"


# --------------------------------------------------------------------------- WFS features


def _tatort_fc(**props: object) -> dict[str, object]:
    base = {"tatortskod": "0180TC108", "tatort": "Stockholm", "kommun": "0180",
            "kommunnamn": "Stockholm", "bef": 1_600_000, "area_ha": 38_000}
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [674000, 6580000]},
         "properties": {**base, **props}}]}


def test_tatorter_tolerate_a_lost_leading_zero_and_digits_as_text() -> None:
    t = tatorter_from_features(_tatort_fc(kommun=180, bef="1600000", area_ha=None))
    assert t.loc["0180TC108", "area_id"] == "0180"
    assert int(t.loc["0180TC108", "population"]) == 1_600_000
    assert pd.isna(t.loc["0180TC108", "area_ha"])


@pytest.mark.parametrize(("props", "field"), [
    ({"bef": "1 600 000"}, "properties.bef"),
    ({"bef": 1.5}, "properties.bef"),
    ({"bef": None}, "properties.bef"),
    ({"kommun": "180a"}, "properties.kommun"),
    ({"kommun": True}, "properties.kommun"),
    ({"tatort": ""}, "properties.tatort"),
    ({"area_ha": -3}, "properties.area_ha"),
], ids=["bef-spaces", "bef-fraction", "bef-null", "kommun-letters", "kommun-bool",
        "name-empty", "area-negative"])
def test_tatorter_reject_malformed_fields(props: dict[str, object], field: str) -> None:
    with pytest.raises(FetchError, match=rf"https://w: field 'features\[0\]\.{field}'"):
        tatorter_from_features(_tatort_fc(**props), source="https://w")


def test_kommuner_name_falls_back_to_the_code() -> None:
    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"kommunkod": "0180", "kommunnamn": None},
         "geometry": {"type": "Polygon", "coordinates": [
             [[674000, 6580000], [675000, 6580000], [675000, 6581000], [674000, 6580000]]]}}]}
    k = kommuner_from_features(fc)
    assert k.loc["0180", "name"] == "0180"
