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
from strukturbild.analysis.roles import classify_roles, compare_roles, role_agreement
from strukturbild.config import PlacesSource, RoleDef, RoleRule, RoleScheme, default_role_scheme
from strukturbild.errors import ConfigError, StrukturbildWarning
from strukturbild.readers import read_designations as load_designations
from strukturbild.readers import read_places
from strukturbild.sources.example import example_project

from ..conftest import REPO, SWEDEN, requires_shared


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
        "population 45 000 >= 15 000 and jobs 24 000 >= 10 000 and job ratio 1.20 >= 0.85",
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
        "befolkning 45 000 >= 15 000 och arbetsplatser 24 000 >= 10 000 och "
        "arbetsplatskvot 1,20 >= 0,85")
    assert r.loc["0102TC101", "role_label"] == "Regional kärna"


def test_job_ratio_below_threshold_blocks_regional_core(measures) -> None:  # type: ignore[no-untyped-def]
    m, _ = measures
    m = m.copy()
    m.loc["0102TC101", "job_ratio"] = 0.84
    r = classify_roles(m, default_role_scheme(), language="en")
    # falls to lokal kärna: the largest place of kommun 0102
    assert r.loc["0102TC101", "role"] == "lokal_karna"
    m.loc["0102TC101", "job_ratio"] = 0.85
    assert classify_roles(m, default_role_scheme()).loc["0102TC101", "role"] == \
        "regional_karna"


def test_few_jobs_block_regional_core_whatever_the_ratio(measures) -> None:  # type: ignore[no-untyped-def]
    m, _ = measures
    m = m.copy()
    m.loc["0102TC101", "jobs"] = 9_999
    r = classify_roles(m, default_role_scheme(), language="en")
    assert r.loc["0102TC101", "role"] == "lokal_karna"
    assert r.loc["0102TC101", "role_reason"] == (
        "rank in kommun 1 == 1 and population 45 000 >= 5 000")


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
        "population 45 000 >= 15 000 and jobs 24 000 >= 10 000 (job ratio not known)")
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
                          st.integers(1, 4), st.one_of(st.none(), st.integers(0, 50_000))),
                min_size=1, max_size=25))
def test_every_place_gets_exactly_one_role(
        rows: list[tuple[int, float | None, int, int | None]]) -> None:
    m = pd.DataFrame(rows, columns=["population", "job_ratio", "rank_in_area", "jobs"],
                     index=[f"p{i}" for i in range(len(rows))]).astype(float)
    r = classify_roles(m, default_role_scheme())
    assert r["role"].notna().all()
    assert (r["role_reason"].str.len() > 0).all()
    # a larger population never gives a lower role when other measures are equal
    big = m.assign(population=m["population"] + 300_000)
    assert (classify_roles(big, default_role_scheme())["role"].cat.codes
            <= r["role"].cat.codes).all()


def test_role_agreement_by_hand(measures) -> None:  # type: ignore[no-untyped-def]
    m, names = measures
    # a list that names Storby and Byn regional kärnor, and Småort a lokal kärna
    d = pd.DataFrame({
        "place_id": ["0101TC101", "0103TB102", "0103TC101"], "name": ["", "", ""],
        "designation": ["regional kärna", "regional kärna", "kommunhuvudort"],
        "role": ["regional_karna", "regional_karna", "lokal_karna"],
        "source": ["s"] * 3, "year": ["2022"] * 3})
    r = classify_roles(m, default_role_scheme(), designations=d, names=names)
    a = role_agreement(r, default_role_scheme())
    # regional kärna or higher: the list names Storby, Byn (and so 2 places); the rules
    # Storby (storstad) and Mellanstad: both name Storby, either names 3 → 1/3
    assert a["regional_karna"] == {
        "designated": 2, "derived": 2, "both": 1, "agreement": 0.3333,
        "designated_only": ["0103TB102"], "derived_only": ["0102TC101"]}
    # lokal kärna or higher: list Storby, Byn, Småort; rules Storby, Mellanstad, Småort
    assert a["lokal_karna"]["both"] == 2 and a["lokal_karna"]["agreement"] == 0.5
    # storstad is pinned by no row, serviceort neither: not compared
    assert set(a) == {"regional_karna", "lokal_karna"}
    # a list that pins no role the rules give compares nothing
    d["role"] = ""
    assert role_agreement(classify_roles(m, default_role_scheme(), designations=d,
                                         names=names), default_role_scheme()) == {}


def _sweden_with_jobs(population: str = "places") -> gpd.GeoDataFrame:
    """SCB's 2,017 tätorter 2020 with SCB's jobs 2024 joined by tätort code (rows split
    by län added up); employed residents 0.5 of the inhabitants, of the places (2020)
    or, with ``population = "jobs"``, of the jobs file's tätort (2024)."""
    requires_shared("geodata", "sweden", "jobs", "tatort_jobs_2024.csv")
    places = gpd.read_file(SWEDEN / "tatorter_2020.gpkg")
    table = pd.read_csv(SWEDEN / "jobs" / "tatort_jobs_2024.csv",
                        dtype={"tatort_code": str, "lan_code": str})
    jobs = table.groupby("tatort_code")[["jobs", "population"]].sum(min_count=1)
    places["jobs"] = places["tatort_code"].map(jobs["jobs"])
    inhabitants = places["population"].astype(float)
    if population == "jobs":
        inhabitants = places["tatort_code"].map(jobs["population"]).fillna(inhabitants)
    places["employed"] = 0.5 * inhabitants
    return places


#: The regional centres a Swedish planner expects: the residensstäder but Härnösand
#: (8 625 jobs), the other regional cores of Region Skåne, Västra Götaland, RUFS 2050
#: and ÖMS 2050 that are tätorter of their own with a job surplus, and large towns
#: with one.
REGIONAL_CENTRES = [
    "Uppsala", "Nyköping", "Linköping", "Jönköping", "Växjö", "Kalmar", "Visby",
    "Karlskrona", "Halmstad", "Karlstad", "Örebro", "Västerås", "Falun", "Gävle",
    "Östersund", "Umeå", "Luleå",                                   # residensstäder
    "Lund", "Helsingborg", "Kristianstad", "Hässleholm", "Ystad",   # Region Skåne
    "Borås", "Trollhättan", "Uddevalla", "Skövde",                  # Västra Götaland
    "Södertälje", "Eskilstuna", "Norrköping",                       # RUFS, ÖMS 2050
    "Upplands Väsby och Sollentuna",                                # Kista–Sollentuna–Häggvik
    "Sundsvall", "Borlänge", "Skellefteå", "Varberg", "Örnsköldsvik",
]
#: Suburbs that are tätorter of their own in 2020 (Täby, Partille, Mölndal and Haninge
#: are part of the Stockholm or Göteborg tätort; Kungsängen was redrawn in 2023).
SUBURBS = ["Tumba", "Lidingö", "Åkersberga", "Märsta", "Vallentuna", "Gustavsberg",
           "Nordöstra Göteborg", "Lerum", "Ekerö", "Nynäshamn", "Höllviken och Ljunghusen",
           "Bunkeflostrand", "Oxie", "Staffanstorp", "Lomma", "Onsala", "Skoghall"]


@pytest.mark.slow
def test_sweden_with_jobs_reads_as_a_planner_expects() -> None:
    """The whole country built (2,017 tätorter, modelled links) with SCB's jobs."""
    from strukturbild.config import project_from_dict
    from strukturbild.pipeline import build_image

    project = project_from_dict({"project": {"name": "sverige"}}, base_dir=SWEDEN)
    img = build_image(_sweden_with_jobs(), project=project)
    p = img.places
    assert len(p) == 2017 and img.modelled
    role = p["role"].astype(str)
    assert sorted(p.loc[role == "storstad", "name"]) == ["Göteborg", "Malmö", "Stockholm"]
    # by name, the largest tätort of the name (there is a Lund of 200 in Dalarna too)
    named = p.assign(role=role).sort_values("population", ascending=False) \
        .drop_duplicates("name").set_index("name")
    centres = named.loc[REGIONAL_CENTRES, "role"]
    assert (centres == "regional_karna").all(), centres[centres != "regional_karna"]
    suburbs = named.loc[SUBURBS]
    assert (suburbs["job_ratio"] < 0.7).all() and (suburbs["population"] >= 12_000).all()
    assert not (suburbs["role"] == "regional_karna").any()
    # the national role table
    counts = role.value_counts().to_dict()
    assert counts == {"storstad": 3, "regional_karna": 49, "lokal_karna": 142,
                      "serviceort": 264, "ovrig_tatort": 1559}
    cores = set(p.loc[role == "regional_karna", "name"])
    assert cores - set(REGIONAL_CENTRES) == {
        "Alingsås", "Enköping", "Falkenberg", "Hudiksvall", "Karlskoga", "Kungälv",
        "Lidköping", "Norrtälje", "Oskarshamn", "Piteå", "Sandviken", "Värnamo",
        "Västervik", "Ängelholm"}
    # every regional kärna has a job surplus within the default rate's error
    assert (p.loc[role == "regional_karna", "job_ratio"] >= 0.85).all()
    # only the two places ≥ 15 000 whose 2020 code has no jobs row lack a role for it
    s = img.summary()
    assert s["provenance"]["unknown_measures"]["places"] == 2
    assert sorted(p.loc[p["role_reason"].str.contains("arbetsplatser okänd"), "name"]) == [
        "Kungsbacka", "Torslanda"]
    # with the 2024 inhabitants of the jobs' own tätorter the same places are cores
    m = place_measures(_sweden_with_jobs("jobs").set_index("tatort_code").rename(
        columns={"kommun_code": "area_id"}))
    again = classify_roles(m, default_role_scheme())
    assert set(again.index[again["role"] == "regional_karna"]) == \
        set(p.index[role == "regional_karna"])


def test_skane_example_with_jobs_agrees_with_region_skane() -> None:
    """The bundled example carries SCB's jobs 2024 of its 70 tätorter (by code from the
    shared file, tests/test_jobs.py); employed residents 0.5 of the inhabitants."""
    from strukturbild.pipeline import build
    from strukturbild.sources.example import example_project

    img = build(example_project())
    s = img.summary()
    assert s["notes"] == []
    assert s["provenance"]["unknown_measures"]["places"] == 0
    p = img.places.set_index("name")
    derived = p["role_derived"].astype(str)
    assert derived["Malmö"] == "storstad"
    assert sorted(derived.index[derived == "regional_karna"]) == [
        "Helsingborg", "Hässleholm", "Kristianstad", "Lund", "Ystad", "Ängelholm"]
    # Region Skåne's eight regional kärnor against the rules: Malmö (storstad), Lund,
    # Helsingborg, Kristianstad, Hässleholm and Ystad both; Landskrona (job ratio 0.78)
    # and Trelleborg (0.64) only the list; Ängelholm (13 657 jobs, 0.93) only the rules
    a = s["role_agreement"]
    assert list(a) == ["regional_karna"]
    ids = dict(zip(img.places["name"], img.places.index, strict=True))
    assert a["regional_karna"] == {
        "designated": 8, "derived": 7, "both": 6, "agreement": round(6 / 9, 4),
        "designated_only": sorted([ids["Landskrona"], ids["Trelleborg"]]),
        "derived_only": [ids["Ängelholm"]]}
    assert s["provenance"]["role_agreement"] == a
