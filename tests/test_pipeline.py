"""The pipeline end to end: toy region with observed flows, the example, the country."""

from __future__ import annotations

from pathlib import Path

import pytest

from strukturbild.config import load_project, project_from_dict
from strukturbild.errors import UnknownCodeError
from strukturbild.pipeline import build
from strukturbild.sources.example import example_project

from .conftest import SWEDEN, requires_shared


def test_toy_observed(toy_dir: Path) -> None:
    img = build(load_project(toy_dir / "project.toml"))
    assert not img.modelled
    assert img.places["role"].astype(str).tolist() == [
        "storstad", "regional_karna", "serviceort", "lokal_karna", "serviceort", "ovrig_tatort"
    ]
    assert len(img.links) == 6
    assert img.links.crs.to_epsg() == 3006
    s = img.summary()
    assert s["flows"] == "observed" and s["link_classes"] == {"medium": 2, "strong": 3,
                                                             "weak": 1}
    assert s["provenance"]["inputs"]["flows"]["file"] == "flows.csv"


def test_toy_unknown_place_in_flows(toy_dir: Path) -> None:
    flows = toy_dir / "flows.csv"
    flows.write_text(flows.read_text() + "0101TC101,9999TC999,5\n")
    with pytest.raises(UnknownCodeError) as exc:
        build(load_project(toy_dir / "project.toml"))
    assert "flows.csv: column 'to', row 11: unknown place '9999TC999'" in str(exc.value)


def test_toy_modelled_when_asked_is_calibrated(toy_dir: Path) -> None:
    proj = toy_dir / "project.toml"
    proj.write_text(proj.read_text().replace("[links]\n", "[links]\nsource = \"modelled\"\n"))
    img = build(load_project(proj))
    assert img.modelled and img.links["modelled"].all()
    assert "calibrated_on_pairs" in img.provenance["model"]


def test_example() -> None:
    img = build(example_project())
    roles = img.places["role"].astype(str)
    assert len(img.places) == 70
    assert sorted(img.places.index[roles == "tillvaxtmotor"]) == [
        "1280TC106", "1281TC105", "1283TC107", "1290TC112", "1293TC105"]
    # Region Skåne's regional kärnor but the growth engines, and Ängelholm by its jobs
    assert sorted(img.places.loc[roles == "regional_karna", "name"]) == [
        "Landskrona", "Trelleborg", "Ystad", "Ängelholm"]
    assert img.places.loc["1280TC106", "designations"] == "regional kärna; tillväxtmotor"
    assert img.places.loc["1280TC106", "role_derived"] == "storstad"
    assert img.modelled and img.links["modelled"].all() and len(img.links) > 100
    assert (img.links["total"] >= 50).all()
    assert img.summary()["flows"] == "modelled"
    # Every kommun's largest tätort of 5 000+ is at least a lokal kärna
    assert (roles[img.places["rank_in_area"] == 1].isin(
        ["tillvaxtmotor", "regional_karna", "lokal_karna"]) |
        (img.places["population"] < 5000)[img.places["rank_in_area"] == 1]).all()


@pytest.mark.slow
def test_whole_country(tmp_path: Path) -> None:
    """All 2,017 tätorter (the time is in benchmarks/bench_pipeline.py)."""
    requires_shared("geodata", "sweden", "tatorter_2020.gpkg")
    project = project_from_dict({
        "project": {"name": "sverige", "title": "Sverige"},
        "places": {"path": str(SWEDEN / "tatorter_2020.gpkg")},
        "areas": {"path": str(SWEDEN / "kommuner.gpkg")},
    }, base_dir=tmp_path)
    img = build(project)
    assert len(img.places) == 2017 and len(img.areas) == 290
    assert int(img.places["population"].sum()) == 9_088_367
    roles = img.places["role"].astype(str)
    # Stockholm, Göteborg and Malmö are the only tätorter of 200 000 or more
    assert sorted(img.places.loc[roles == "storstad", "name"]) == ["Göteborg", "Malmö",
                                                                  "Stockholm"]
    assert img.links["modelled"].all() and len(img.links) > 1000


def test_toy_nodal_regions(toy_dir: Path) -> None:
    proj = toy_dir / "project.toml"
    proj.write_text(proj.read_text() + '\n[regions]\nmethod = "nodal"\n')
    img = build(load_project(proj))
    # Largest outflows to a unit with larger inflow: Mellanstad, Förort and Småort →
    # Storby, Byn → Småort; Hamlet has no inflow, so (as in R's flows) keeps no flow.
    region = img.places["region"]
    assert (region.drop("0103TB103") == "0101TC101").all()
    assert region["0103TB103"] == "0103TB103"
    assert img.places["rank_in_region"].tolist() == [1, 2, 3, 4, 5, 1]
    assert sorted(img.regions.index) == ["0101TC101", "0103TB103"]
    assert img.regions.loc[["0101TC101", "0103TB103"], "name"].tolist() == ["Storby", "Hamlet"]
    assert img.regions.geometry.is_valid.all() and img.regions.crs.to_epsg() == 3006
    assert img.summary()["regions"] == 2


def test_lma_needs_self_flows(toy_dir: Path) -> None:
    from strukturbild.errors import ConfigError

    proj = toy_dir / "project.toml"
    proj.write_text(proj.read_text() + '\n[regions]\nmethod = "lma"\n')
    with pytest.raises(ConfigError, match="needs observed flows that include intra-place"):
        build(load_project(proj))


def test_example_modelled_commuting_runs_towards_the_towns() -> None:
    img = build(example_project())
    links = img.links.set_index(["origin", "destination"])
    malmo = "1280TC106"
    # Lomma, Oxie, Bunkeflostrand, Staffanstorp, Svedala and Trelleborg send more to
    # Malmö than they receive from it
    for suburb in ("1262TC103", "1280TB107", "1280TB101", "1230TC105", "1263TC105",
                   "1287TC110"):
        assert (suburb, malmo) in links.index, suburb
    pop = img.places["population"]
    strong = img.links[img.links["link_class"] == "strong"]
    to_larger = pop.reindex(strong["destination"]).to_numpy() > \
        pop.reindex(strong["origin"]).to_numpy()
    assert to_larger.mean() > 0.9


def test_area_flows_of_areas_without_places_are_left_out_with_a_warning(
        toy_dir: Path) -> None:
    import geopandas as gpd
    import shapely

    from strukturbild.errors import StrukturbildWarning

    areas = gpd.GeoDataFrame(
        {"kommun_code": ["0101", "0102", "0103", "0104"], "kommun_name": list("ABCD")},
        geometry=[shapely.box(490_000 + 20_000 * k, 6_490_000, 510_000 + 20_000 * k,
                              6_550_000) for k in range(4)], crs=3006)
    areas.to_file(toy_dir / "areas.gpkg")
    (toy_dir / "kflows.csv").write_text(
        "from,to,n\n0101,0101,900\n0102,0101,300\n0104,0101,40\n0103,0102,20\n")
    proj = toy_dir / "project.toml"
    text = proj.read_text().replace('path = "flows.csv"', 'path = "kflows.csv"\nlevel = "area"')
    proj.write_text(text + '\n[areas]\npath = "areas.gpkg"\n')
    with pytest.warns(StrukturbildWarning, match=r"1 flow rows \(40 commuters\) left out: "
                                                 r"area\(s\) 0104 have no place"):
        img = build(load_project(proj))
    # kommun flows sit on each kommun's largest place
    assert img.links.set_index(["origin", "destination"]).loc[
        ("0102TC101", "0101TC101"), "flow_od"] == 300
    # an area that is in neither the places nor the areas is still an error
    (toy_dir / "kflows.csv").write_text("from,to,n\n0101,0199,5\n")
    with pytest.raises(UnknownCodeError, match="unknown area '0199'"):
        build(load_project(proj))


def _example_without_jobs(tmp_path: Path, roles_extra: str = "") -> Path:
    """The bundled example's project without its jobs table ([places.jobs])."""
    from strukturbild.sources.example import example_dir

    text = (example_dir() / "project.toml").read_text(encoding="utf-8")
    start = text.index("[places.jobs]")
    text = text[:start] + text[text.index("[areas]"):]
    text = text.replace("[roles]\n", "[roles]\n" + roles_extra)
    for name in ("tatorter_2020.csv", "kommuner_skane.geojson"):
        text = text.replace(f'path = "{name}"', f'path = "{example_dir() / name}"')
    (tmp_path / "p.toml").write_text(text, encoding="utf-8")
    return tmp_path / "p.toml"


def test_example_summary_has_no_notes_with_its_jobs() -> None:
    """The bundled example carries SCB's jobs: every rule has its measure."""
    s = build(example_project()).summary()
    assert s["notes"] == []
    assert s["provenance"]["unknown_measures"]["places"] == 0
    assert s["employed_estimated"] == 70
    join = s["provenance"]["inputs"]["jobs"]
    assert (join["matched_by_code"], join["unmatched"], join["rows_unused"]) == (70, 0, 0)
    assert s["role_agreement"]["regional_karna"]["agreement"] == 0.6667


def test_summary_notes_and_counts_rules_that_fail_for_want_of_jobs(tmp_path: Path) -> None:
    s = build(load_project(_example_without_jobs(tmp_path))).summary()
    assert s["notes"] == [
        "no place has 'jobs' (it needs a jobs column, a jobs table joined with [places] "
        "jobs = {path = ..., key = ...}, or observed flows that include intra-place flows): "
        "the rules on it do not hold for regional_karna",
        "no place has 'job_ratio' (it needs jobs: a jobs column, a jobs table joined with "
        "[places] jobs = {path = ..., key = ...}, or observed flows that include "
        "intra-place flows): the rules on it do not hold for regional_karna",
        "13 place(s) did not get a role because a measure its rules test is not known "
        "(regional_karna 13); [roles] unknown = \"skip\" would skip those rules instead",
    ]
    # the 13 places of 15 000+ but Malmö (Helsingborg … Bunkeflostrand): counted, and
    # said in their reasons
    assert s["provenance"]["unknown_measures"] == {
        "mode": "fail", "places": 13, "roles": {"regional_karna": 13},
        "measures": {"jobs": 13, "job_ratio": 13}}


def test_example_keeps_designated_roles_and_shows_where_rules_differ() -> None:
    img = build(example_project())
    p = img.places.set_index("name")
    # designated roles stand; by its jobs Lund is a regional kärna by the rules alone
    assert p.loc["Lund", "role"] == "tillvaxtmotor"
    assert p.loc["Lund", "role_derived"] == "regional_karna"
    assert p.loc["Lund", "role_designated"] == "tillvaxtmotor"
    assert p.loc["Lund", "role_reason"].endswith(
        "enligt reglerna regional kärna: befolkning 94 393 >= 15 000 och arbetsplatser "
        "66 093 >= 10 000 och arbetsplatskvot 1,40 >= 0,85")
    # Landskrona is Region Skåne's regional kärna, but has fewer jobs than employed
    assert p.loc["Landskrona", "role"] == "regional_karna"
    assert p.loc["Landskrona", "role_derived"] == "lokal_karna"
    assert round(p.loc["Landskrona", "job_ratio"], 2) == 0.78
    s = img.summary()
    assert s["designated_places"] == 8
    assert "1282TC108" in s["designated_differs_from_derived"]  # Landskrona


def test_example_without_jobs_fails_closed(tmp_path: Path) -> None:
    img = build(load_project(_example_without_jobs(tmp_path)))
    p = img.places.set_index("name")
    assert p.loc["Lund", "role_derived"] == "lokal_karna"
    assert p.loc["Lund", "role_reason"].endswith(
        "inte regional kärna: arbetsplatser okänd, arbetsplatskvot okänd")
    # no place is a regional kärna by the rules alone
    assert (img.places["role_derived"] != "regional_karna").all()


def test_unknown_skip_in_the_project_file_restores_01(tmp_path: Path) -> None:
    img = build(load_project(_example_without_jobs(tmp_path, 'unknown = "skip"\n')))
    p = img.places.set_index("name")
    assert p.loc["Lund", "role_derived"] == "regional_karna"
    assert img.summary()["notes"][0].endswith("the rules on it are skipped for regional_karna")


@pytest.mark.slow
def test_national_places_without_jobs_get_no_regional_core_by_population() -> None:
    requires_shared("geodata", "sweden", "tatorter_2020.gpkg")
    project = project_from_dict({
        "project": {"name": "sverige"},
        "places": {"path": str(SWEDEN / "tatorter_2020.gpkg")},
    }, base_dir=SWEDEN)
    img = build(project)
    roles = img.places["role"].astype(str)
    # 0.1 made 27 places regional kärna by population alone (Lidingö, Tumba, ...)
    assert (roles == "regional_karna").sum() == 0
    lidingo = img.places.loc[img.places["name"] == "Lidingö"].iloc[0]
    assert lidingo["role_reason"].endswith(
        "inte regional kärna: arbetsplatser okänd, arbetsplatskvot okänd")
    s = img.summary()
    # the 87 tätorter of 15 000 to 200 000 inhabitants
    assert s["provenance"]["unknown_measures"]["roles"] == {"regional_karna": 87}


def test_no_notes_when_jobs_are_known(toy_dir: Path) -> None:
    assert build(load_project(toy_dir / "project.toml")).summary()["notes"] == []


def test_toy_scb_la_regions_with_step_codes(toy_dir: Path) -> None:
    # intra-place flows make the toy a complete table: employed residents = outflow.
    # Storby keeps 118 600 of 120 000 (1.2 % out): a centre. Mellanstad (10 % to Storby),
    # Förort (37.5 %) and Småort (10 %) link to Storby (step 20); Byn (25 % to Småort)
    # is two links away (30). Hamlet sends 5 % (20 of 400) to Byn: a centre of its own.
    flows = toy_dir / "flows.csv"
    flows.write_text(flows.read_text() + "0101TC101,0101TC101,118600\n"
                     "0102TC101,0102TC101,18000\n0102TB102,0102TB102,1700\n"
                     "0103TC101,0103TC101,2650\n0103TB102,0103TB102,900\n"
                     "0103TB103,0103TB103,380\n")
    proj = toy_dir / "project.toml"
    proj.write_text(proj.read_text() + '\n[regions]\nmethod = "scb-la"\n')
    img = build(load_project(proj))
    assert img.places["region"].tolist() == ["0101TC101"] * 5 + ["0103TB103"]
    assert img.places["scb_step"].tolist() == [11, 20, 20, 20, 30, 11]
    assert img.summary()["provenance"]["parameters"]["regions"] == {
        "method": "scb_la", "max_outflow": 0.2, "max_single_outflow": 0.075,
        "max_chain": None}


def test_toy_zones_with_several_memberships(toy_dir: Path) -> None:
    # Förort sends 1 500 of its 2 300 out-commuters to Storby (65 %) and 800 to
    # Mellanstad (35 %): in both zones, Storby's first. Hamlet (20 to Byn) in none.
    proj = toy_dir / "project.toml"
    proj.write_text(proj.read_text() + '\n[regions]\nmethod = "commuting-zone"\n'
                    'cores = ["0101TC101", "0102TC101"]\nshare = 0.1\nmultiple = true\n')
    img = build(load_project(proj))
    p = img.places
    assert p.loc["0102TB102", "region"] == "0101TC101"
    assert p.loc["0102TB102", "regions"] == "0101TC101;0102TC101"
    assert p.loc["0103TB103", "regions"] == "0103TB103"
    assert "scb_step" not in p.columns


def test_note_names_the_real_cause_of_a_missing_rank_in_area() -> None:
    import geopandas as gpd
    import shapely

    from strukturbild.pipeline import build_image

    # ids that are not SCB codes and no kommun column: no area_id, so no rank_in_area
    places = gpd.GeoDataFrame(
        {"place_id": ["a", "b"], "name": ["Storby", "Lillby"], "population": [250000, 8000],
         "jobs": [130000.0, 3000.0], "employed": [120000.0, 4000.0]},
        geometry=[shapely.Point(500000, 6500000), shapely.Point(520000, 6500000)],
        crs="EPSG:3006").set_index("place_id")
    img = build_image(places)
    notes = img.summary()["notes"]
    assert notes[0] == ("no place has 'rank_in_area' (it needs the places' area_id (kommun "
                        "code) column): the rules on it do not hold for lokal_karna")
    assert all("jobs" not in n for n in notes)
    # Lillby (8 000) is no lokal kärna without a kommun to rank it in, and says so
    assert img.places.loc["b", "role"] == "serviceort"
    assert img.places.loc["b", "role_reason"].endswith("inte lokal kärna: rang i kommunen okänd")
