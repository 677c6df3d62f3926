"""Roles and designations: exact roles and reasons on the toy region."""

from __future__ import annotations

from dataclasses import replace

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strukturbild.analysis.flows import Flows
from strukturbild.analysis.places import place_measures
from strukturbild.analysis.roles import classify_roles, compare_roles
from strukturbild.config import PlacesSource, RoleDef, RoleRule, RoleScheme, default_role_scheme
from strukturbild.errors import ConfigError, StrukturbildWarning
from strukturbild.readers import read_designations as load_designations
from strukturbild.readers import read_places
from strukturbild.sources.example import example_project

from .conftest import REPO


@pytest.fixture
def measures(toy_places_frame: gpd.GeoDataFrame, toy_flows_frame: pd.DataFrame, tmp_path):  # type: ignore[no-untyped-def]
    toy_places_frame.to_file(tmp_path / "p.gpkg")
    places = read_places(PlacesSource(tmp_path / "p.gpkg"))
    return place_measures(places, Flows.from_frame(toy_flows_frame)), places["name"]


def test_roles_and_reasons_by_hand(measures) -> None:  # type: ignore[no-untyped-def]
    m, _ = measures
    r = classify_roles(m, default_role_scheme(), language="en")
    assert r["role"].astype(str).tolist() == [
        "storstad", "regional_karna", "serviceort", "lokal_karna", "serviceort", "ovrig_tatort"
    ]
    assert r["role_reason"].tolist() == [
        "population 250 000 >= 200 000",
        "population 45 000 >= 40 000 and job ratio 1.20 >= 1.0",
        "population 8 000 >= 2 000",
        "rank in kommun 1 == 1 and population 6 000 >= 5 000",
        "population 2 500 >= 2 000",
        "population 900 < 2 000 (serviceort)",
    ]
    assert r["role"].cat.ordered
    assert list(r["role"].cat.categories) == list(default_role_scheme().keys)


def test_reasons_in_swedish(measures) -> None:  # type: ignore[no-untyped-def]
    m, _ = measures
    r = classify_roles(m, default_role_scheme(), language="sv")
    assert r.loc["0102TC101", "role_reason"] == (
        "befolkning 45 000 >= 40 000 och arbetsplatskvot 1,20 >= 1,0")
    assert r.loc["0102TC101", "role_label"] == "Regional kärna"


def test_job_ratio_below_one_blocks_regional_core(measures) -> None:  # type: ignore[no-untyped-def]
    m, _ = measures
    m = m.copy()
    m.loc["0102TC101", "job_ratio"] = 0.9
    r = classify_roles(m, default_role_scheme(), language="en")
    # falls to lokal kärna: the largest place of kommun 0102
    assert r.loc["0102TC101", "role"] == "lokal_karna"


def test_unknown_measure_fails_closed_and_is_said(measures) -> None:  # type: ignore[no-untyped-def]
    m, _ = measures
    m = m.copy()
    m["job_ratio"] = np.nan
    r = classify_roles(m, default_role_scheme(), language="en")
    # Mellanstad (45 000) has no job ratio: not a regional core by population alone;
    # it is the largest place of kommun 0102, so a lokal kärna, and the reason says why
    assert r.loc["0102TC101", "role"] == "lokal_karna"
    assert r.loc["0102TC101", "role_reason"] == (
        "rank in kommun 1 == 1 and population 45 000 >= 5 000; "
        "not regional core: job ratio not known")
    # Storby's storstad rule needs no job ratio; small places never reach the job-ratio rule
    assert r.loc["0101TC101", "role"] == "storstad"
    assert r.loc["0103TB103", "role_reason"] == "population 900 < 2 000 (serviceort)"
    assert r.attrs["unknown_measures"] == {"mode": "fail", "places": 1,
                                           "roles": {"regional_karna": 1},
                                           "measures": {"job_ratio": 1}}
    sv = classify_roles(m, default_role_scheme(), language="sv")
    assert sv.loc["0102TC101", "role_reason"].endswith(
        "; inte regional kärna: arbetsplatskvot okänd")


def test_unknown_skip_restores_01(measures) -> None:  # type: ignore[no-untyped-def]
    m, _ = measures
    m = m.copy()
    m["job_ratio"] = np.nan
    r = classify_roles(m, replace(default_role_scheme(), unknown="skip"), language="en")
    assert r.loc["0102TC101", "role"] == "regional_karna"
    assert r.loc["0102TC101", "role_reason"] == (
        "population 45 000 >= 40 000 (job ratio not known)")
    assert r.attrs["unknown_measures"]["mode"] == "skip"
    assert r.attrs["unknown_measures"]["roles"] == {"regional_karna": 1}
    # the keyword overrides the scheme
    r2 = classify_roles(m, default_role_scheme(), language="en", unknown="skip")
    assert r2["role"].equals(r["role"])


def test_rank_in_area_unknown_without_area(measures) -> None:  # type: ignore[no-untyped-def]
    m, _ = measures
    m = m.copy()
    m["rank_in_area"] = np.nan
    r = classify_roles(m, default_role_scheme(), language="en")
    # Småort (6 000, the largest of 0103) is not a lokal kärna without its rank
    assert r.loc["0103TC101", "role"] == "serviceort"
    assert r.loc["0103TC101", "role_reason"] == (
        "population 6 000 >= 2 000; not local core: rank in kommun not known")


def test_job_share_rule(measures) -> None:  # type: ignore[no-untyped-def]
    m, _ = measures
    # jobs 140 000 + 24 000 + 1 500 + 2 500 + 600 + 100 = 168 700
    assert m.loc["0102TC101", "job_share"] == pytest.approx(24_000 / 168_700)
    scheme = RoleScheme("centres", (
        RoleDef("centre_1", "C1", "C1", (RoleRule.parse("job_share >= 0.2"),)),
        RoleDef("centre_2", "C2", "C2", (RoleRule.parse("job_share >= 0.085"),)),
        RoleDef("centre_3", "C3", "C3", (RoleRule.parse("job_share >= 0.01"),)),
        RoleDef("other", "O", "O"),
    ))
    r = classify_roles(m, scheme, language="en")
    # shares: 0.830, 0.142, 0.0089, 0.0148, 0.0036, 0.0006
    assert r["role"].astype(str).tolist() == ["centre_1", "centre_2", "other", "centre_3",
                                              "other", "other"]
    assert r.loc["0102TC101", "role_reason"] == "share of jobs 0.14 >= 0.085"


def test_designation_role_not_in_scheme_is_an_error(measures) -> None:  # type: ignore[no-untyped-def]
    m, names = measures
    d = pd.DataFrame({"place_id": ["0101TC101", "0102TC101"], "name": ["Storby", "Mellanstad"],
                      "designation": ["storstad", "regional kärna"],
                      "role": ["storstad", "regionkarna"], "source": ["s", "s"],
                      "year": ["2022", "2022"]})
    d.attrs["source"] = "lista.csv"
    with pytest.raises(ConfigError) as exc:
        classify_roles(m, default_role_scheme(), designations=d, names=names)
    assert str(exc.value).startswith(
        "lista.csv: column 'role', row 2: 'regionkarna' is not a role of the scheme 'default'")


def test_designation_of_unknown_place_warns(measures) -> None:  # type: ignore[no-untyped-def]
    m, names = measures
    d = pd.DataFrame({"place_id": ["9999TC999"], "name": ["Nowhere"], "designation": ["x"],
                      "role": [""], "source": ["s"], "year": ["2022"]})
    d.attrs["source"] = "lista.csv"
    with pytest.warns(StrukturbildWarning, match="lista.csv: row 1: designated place "
                                                 "'9999TC999' is not among the places"):
        r = classify_roles(m, default_role_scheme(), designations=d, names=names)
    assert (r["designations"] == "").all()


def test_compare_roles_reads_designations_not_reasons(measures) -> None:  # type: ignore[no-untyped-def]
    m, names = measures
    d = pd.DataFrame({"place_id": ["0103TB102"], "name": ["Byn"], "designation": ["kärna"],
                      "role": ["lokal_karna"], "source": ["s"], "year": ["2022"]})
    r = classify_roles(m, default_role_scheme(), designations=d, names=names, language="en")
    assert r.loc["0103TB102", "role_designated"] == "lokal_karna"
    assert r["role_designated"].isna().sum() == 5
    # the reasons are for people: rewriting them changes nothing
    r["role_reason"] = ["designated by hand"] * 3 + ["x"] * 3
    c = compare_roles(r, names)
    assert c["designated"].tolist() == [False, False, False, False, True, False]
    assert not c.loc["0103TB102", "agree"]


def test_designation_pins_and_scheme_order_decides(measures) -> None:  # type: ignore[no-untyped-def]
    m, names = measures
    d = pd.DataFrame({
        "place_id": ["0103TB102", "", "0103TB102"],
        "name": ["Byn", "Småort", "Byn"],
        "designation": ["regional kärna", "serviceort", "lokal kärna"],
        "role": ["regional_karna", "serviceort", "lokal_karna"],
        "source": ["Region Test, Plan", "Region Test", "Region Test"],
        "year": ["2022", "2022", "2022"],
    })
    r = classify_roles(m, default_role_scheme(), designations=d, names=names, language="en")
    assert r.loc["0103TB102", "role"] == "regional_karna"  # highest of its two designations
    assert r.loc["0103TB102", "role_derived"] == "serviceort"
    assert r.loc["0103TB102", "designations"] == "regional kärna; lokal kärna"
    assert r.loc["0103TB102", "role_reason"].startswith(
        "designated regional core (Region Test, 2022); rules give service town: population 2 500")
    assert r.loc["0103TC101", "role"] == "serviceort"  # matched by name, pinned lower
    c = compare_roles(r, names)
    assert c.loc["0103TB102", ["designated", "agree"]].tolist() == [True, False]
    assert c.loc["0101TC101", ["designated", "agree"]].tolist() == [False, True]


def test_ambiguous_designation_name(measures) -> None:  # type: ignore[no-untyped-def]
    m, names = measures
    names = names.copy()
    names.iloc[1] = "Storby"
    d = pd.DataFrame({"place_id": [""], "name": ["Storby"], "designation": ["x"],
                      "role": [""], "source": ["s"], "year": ["2020"]})
    with pytest.raises(ConfigError, match="matches 2 places"):
        classify_roles(m, default_role_scheme(), designations=d, names=names)


def test_skane_designations_shipped_and_in_example() -> None:
    d = load_designations("region_skane_2022")
    cores = d.loc[d["designation"] == "regional kärna", "name"].tolist()
    assert cores == ["Malmö", "Lund", "Helsingborg", "Landskrona", "Kristianstad",
                     "Hässleholm", "Ystad", "Trelleborg"]
    assert set(d["year"]) == {"2022"}
    assert d["source"].str.contains("Regionplan för Skåne 2022–2040").all()
    # the list is kept once, in the package; the example names it
    assert not (REPO / "geodata" / "skane" / "designations_region_skane_2022.csv").exists()
    assert example_project().roles.designations == ("region_skane_2022",)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 400_000), st.one_of(st.none(), st.floats(0, 3)),
                          st.integers(1, 4)), min_size=1, max_size=25))
def test_every_place_gets_exactly_one_role(rows: list[tuple[int, float | None, int]]) -> None:
    m = pd.DataFrame(rows, columns=["population", "job_ratio", "rank_in_area"],
                     index=[f"p{i}" for i in range(len(rows))]).astype(float)
    r = classify_roles(m, default_role_scheme())
    assert r["role"].notna().all()
    assert (r["role_reason"].str.len() > 0).all()
    # a larger population never gives a lower role when other measures are equal
    big = m.assign(population=m["population"] + 300_000)
    assert (classify_roles(big, default_role_scheme())["role"].cat.codes
            <= r["role"].cat.codes).all()
