"""Jobs as an input: the [places] jobs join, SCB's names, the employed estimate.

The toy places (``conftest.TOY_PLACES``) without their jobs and employed columns get
them from small tables made here, each worked by hand; SCB's national jobs file
(``../shared/geodata/sweden/jobs/tatort_jobs_2024.csv``) is joined to SCB's 2,017
tätorter of 2020 as the README shows; bad join tables are refused with exit 2 by
``build`` and ``validate`` alike, naming the file, the row and the column.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from strukturbild.cli import main
from strukturbild.config import JobsSource, load_project, project_from_dict
from strukturbild.errors import ConfigError, StrukturbildWarning
from strukturbild.pipeline import build, build_image
from strukturbild.readers import join_jobs, read_places

from .conftest import REPO, SWEDEN, TOY_PLACES, requires_shared

SKANE = REPO / "geodata" / "skane"


def _toy(folder: Path, *, jobs: bool = False) -> Path:
    """The toy places as a CSV, without jobs and employed (unless ``jobs``)."""
    df = pd.DataFrame(TOY_PLACES, columns=["place_id", "name", "area_id", "population",
                                           "jobs", "employed", "x", "y"])
    if not jobs:
        df = df.drop(columns=["jobs", "employed"])
    df.to_csv(folder / "places.csv", index=False)
    return folder / "places.csv"


def _project(folder: Path, join: str = 'jobs = {path = "jobs.csv", key = "tatort_code"}',
             extra: str = "") -> Path:
    path = folder / "project.toml"
    path.write_text('[project]\nname = "t"\n[places]\npath = "places.csv"\n'
                    f'crs = "EPSG:3006"\n{join}\n{extra}', encoding="utf-8")
    return path


def _places(folder: Path) -> gpd.GeoDataFrame:
    return read_places(load_project(_project(folder, join="")).places)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- SCB's names


def test_scb_names_for_jobs_and_employed_are_recognised(tmp_path: Path) -> None:
    from strukturbild.config import PlacesSource

    base = pd.DataFrame(TOY_PLACES[:2], columns=["tatortskod", "tatort", "kommun", "bef",
                                                 "jobs", "employed", "x", "y"])
    # written as SCB writes them: case, spaces and å/ä/ö do not matter
    for jobs, employed in (("Sysselsatt dagbefolkning", "nattbef"),
                           ("DAGBEF", "Förvärvsarbetande"), ("dagbefolkning", "sysselsatta"),
                           ("arbetsplatser", "Nattbefolkning")):
        base.rename(columns={"jobs": jobs, "employed": employed}).to_csv(
            tmp_path / "t.csv", index=False)
        p = read_places(PlacesSource(tmp_path / "t.csv", crs="EPSG:3006"))
        assert p["jobs"].tolist() == [140_000, 24_000], jobs
        assert p["employed"].tolist() == [120_000, 20_000], employed


def test_establishments_are_not_jobs(tmp_path: Path) -> None:
    """SCB's "arbetsställen" counts workplaces (establishments), not jobs: not read as jobs."""
    df = pd.DataFrame(TOY_PLACES[:2], columns=["tatortskod", "tatort", "kommun", "bef",
                                               "arbetsstallen", "forvarvsarbetande", "x",
                                               "y"])
    df.to_csv(tmp_path / "t.csv", index=False)
    from strukturbild.config import PlacesSource

    p = read_places(PlacesSource(tmp_path / "t.csv", crs="EPSG:3006"))
    assert "jobs" not in p.columns and p["employed"].tolist() == [120_000, 20_000]


# --------------------------------------------------------------------------- the join


def test_join_by_code_adds_up_rows_split_by_lan(tmp_path: Path) -> None:
    _toy(tmp_path)
    # Storby crosses a län border: 130 000 + 10 000; Hamlet's second part has no figure
    (tmp_path / "jobs.csv").write_text(
        "tatort_code,lan_code,jobs,population\n"
        "0101TC101,01,130000,240000\n0101TC101,03,10000,10000\n"
        "0102TC101,01,24000,45000\n0102TB102,01,1500,8000\n0103TC101,01,2500,6000\n"
        "0103TB102,01,600,2500\n0103TB103,01,100,880\n0103TB103,03,,20\n"
        "9999TC999,25,77,300\n", encoding="utf-8")
    img = build(load_project(_project(tmp_path)))
    p = img.places
    assert p["jobs"].tolist() == [140_000, 24_000, 1_500, 2_500, 600, 100]
    # the toy's own figures: Storby a storstad, Mellanstad a regional kärna by its jobs
    assert str(p.loc["0102TC101", "role"]) == "regional_karna"
    join = img.summary()["provenance"]["inputs"]["jobs"]
    assert {k: join[k] for k in ("rows", "places_in_table", "split_rows_summed",
                                 "matched_by_code", "matched_by_location", "unmatched",
                                 "rows_unused", "key")} == {
        "rows": 9, "places_in_table": 7, "split_rows_summed": 2, "matched_by_code": 6,
        "matched_by_location": 0, "unmatched": 0, "rows_unused": 1, "key": "tatort_code"}
    assert join["columns"] == {"jobs": "jobs"} and len(join["sha256"]) == 64
    assert img.summary()["notes"] == []


def test_join_by_location_in_polygons_of_another_year(tmp_path: Path) -> None:
    """Tätorter of another delineation: matched by code, else by the point in a polygon.

    Worked by hand: Storby and Småort keep their codes; Mellanstad (45 000) and Förort
    (8 000) merged into 0102TC105 (26 500 jobs) share it by population: 22 500 and
    4 000; Byn (2 500), not in the table, lies in Småort's polygon (3 400 jobs): Småort
    2 400, Byn 1 000; Hamlet lies in no polygon; 2580TC999 reaches no place.
    """
    _toy(tmp_path)
    box = shapely.box
    gpd.GeoDataFrame(
        {"tatortskod": ["0101TC101", "0102TC105", "0103TC101", "2580TC999"],
         "dagbef": [150_000, 26_500, 3_400, 50]},
        geometry=[box(497_000, 6_497_000, 503_000, 6_503_000),
                  box(515_000, 6_495_000, 535_000, 6_505_000),
                  box(495_000, 6_525_000, 507_000, 6_542_000),
                  box(800_000, 7_300_000, 801_000, 7_301_000)],
        crs="EPSG:3006").to_file(tmp_path / "tatorter_2023.gpkg", layer="tatorter_2023")
    project = _project(tmp_path, 'jobs = {path = "tatorter_2023.gpkg", '
                                 'layer = "tatorter_2023"}')
    img = build(load_project(project))
    assert img.places["jobs"].iloc[:5].round(6).tolist() == [150_000, 22_500, 4_000,
                                                             2_400, 1_000]
    assert pd.isna(img.places.loc["0103TB103", "jobs"])
    s = img.summary()
    join = s["provenance"]["inputs"]["jobs"]
    assert (join["key"], join["matched_by_code"], join["matched_by_location"],
            join["rows_shared"], join["unmatched"], join["unmatched_places"],
            join["rows_unused"], join["location"]) == (
        "tatortskod", 2, 3, 2, 1, ["0103TB103"], 1, "polygons")
    assert s["notes"][0] == ("1 place(s) have no jobs: tatorter_2023.gpkg does not match "
                             "them by code or by location (0103TB103)")


def test_join_in_another_crs_is_brought_to_the_project_crs(tmp_path: Path) -> None:
    _toy(tmp_path)
    places = _places(tmp_path)
    poly = gpd.GeoSeries([shapely.box(515_000, 6_495_000, 535_000, 6_505_000)],
                         crs=3006).to_crs(4326)
    gpd.GeoDataFrame({"tatort_code": ["0102TC105"], "jobs": [26_500]}, geometry=poly,
                     crs=4326).to_file(tmp_path / "j.geojson")
    out, report = join_jobs(places, JobsSource(tmp_path / "j.geojson"))
    assert report["matched_by_location"] == 2
    assert out.loc[["0102TC101", "0102TB102"], "jobs"].round(3).tolist() == [22_500, 4_000]


def test_a_latin1_join_table_is_read(tmp_path: Path) -> None:
    _toy(tmp_path)
    rows = ["tätortskod;tätort;dagbefolkning;nattbefolkning"] + [
        f"{p[0]};{p[1]};{p[4]};{p[5]}" for p in TOY_PLACES]
    (tmp_path / "jobs.csv").write_bytes(("\n".join(rows) + "\n").encode("latin-1"))
    img = build(load_project(_project(tmp_path, 'jobs = "jobs.csv"')))
    assert img.places["jobs"].tolist() == [p[4] for p in TOY_PLACES]
    # employed residents from the table: none estimated
    assert img.places["employed"].tolist() == [p[5] for p in TOY_PLACES]
    assert img.summary()["employed_estimated"] == 0
    join = img.summary()["provenance"]["inputs"]["jobs"]
    assert join["key"] == "tätortskod"
    assert join["columns"] == {"jobs": "dagbefolkning", "employed": "nattbefolkning"}


def test_build_image_joins_the_projects_jobs_table(tmp_path: Path) -> None:
    _toy(tmp_path)
    (tmp_path / "jobs.csv").write_text(
        "tatort_code,jobs\n" + "".join(f"{p[0]},{p[4]}\n" for p in TOY_PLACES))
    project = load_project(_project(tmp_path))
    frame = pd.read_csv(tmp_path / "places.csv", dtype={"place_id": str, "area_id": str})
    places = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame.x, frame.y),
                              crs=3006).drop(columns=["x", "y"])
    img = build_image(places, project=project)
    assert img.places["jobs"].tolist() == [p[4] for p in TOY_PLACES]
    assert img.provenance["inputs"]["jobs"]["matched_by_code"] == 6
    # jobs the frame gives are kept
    img = build_image(places.assign(jobs=7.0), project=project)
    assert set(img.places["jobs"]) == {7.0} and "jobs" not in img.provenance["inputs"]


# --------------------------------------------------------------------------- bad tables


def _both(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
          ) -> list[tuple[int, str]]:
    out = tmp_path / "out"
    results = [(main(["build", str(project), "--out", str(out), "-q"]),
                capsys.readouterr().err)]
    results.append((main(["validate", str(project)]), capsys.readouterr().err))
    assert not out.exists() or not any(out.iterdir())
    return results


BAD_TABLES = {
    "duplicate key after summing": (
        "tatort_code,lan_code,jobs\n0101TC101,01,5\n0102TC101,01,7\n0101TC101,01,3\n",
        "jobs.csv: column 'tatort_code', row 3: place '0101TC101' occurs more than once "
        "with the same lan_code '01' (first at row 1)"),
    "duplicate key, no län column": (
        "tatort_code,jobs\n0101TC101,5\n0101TC101,3\n",
        "jobs.csv: column 'tatort_code', row 2: place '0101TC101' occurs more than once "
        "(first at row 1); rows of one place split by län need a lan_code column"),
    "negative count": (
        "tatort_code,jobs\n0101TC101,5\n0102TC101,-7\n",
        "jobs.csv: column 'jobs', row 2: value -7 is negative"),
    "missing count": (
        "tatort_code,jobs\n0101TC101,5\n0102TC101,\n",
        "jobs.csv: column 'jobs', row 2: value is missing for '0102TC101'; expected a "
        "count >= 0 (only a part of a place split over several rows may be empty)"),
    "missing in every part": (
        "tatort_code,lan_code,jobs\n0101TC101,01,5\n0102TC101,01,\n0102TC101,03,\n",
        "jobs.csv: column 'jobs', row 2: value is missing for '0102TC101'"),
    "text for a count": (
        "tatort_code,jobs\n0101TC101,5\n0102TC101,many\n",
        "jobs.csv: column 'jobs', row 2: value 'many' is not a number"),
    "lost leading zero": (
        "tatort_code,jobs\n101TC101,5\n0102TC101,7\n",
        "jobs.csv: column 'tatort_code', row 1: code '101TC101' looks like a place id that "
        "lost its leading zero (expected '0101TC101'); store codes as text"),
    "no key column": (
        "kod,jobs\n0101TC101,5\n",
        "jobs.csv: column 'tatort_code': required column is missing; the file has: kod, "
        "jobs; name the column that holds the place id with key"),
    "no jobs column": (
        "tatort_code,antal\n0101TC101,5\n",
        "jobs.csv: column 'jobs': required column is missing; the file has: tatort_code, "
        "antal; a jobs table needs a jobs column"),
    "matches no place": (
        "tatort_code,jobs\n2580TC101,5\n",
        "jobs.csv: the jobs table matches none of the 6 places by its key 'tatort_code' "
        "(ids like '2580TC101' there, '0101TC101' in the places)"),
    "empty": ("tatort_code,jobs\n", "jobs.csv: the input has no rows"),
}


@pytest.mark.parametrize("case", list(BAD_TABLES))
def test_bad_join_tables_exit_2_naming_file_row_and_column(
        case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text, message = BAD_TABLES[case]
    _toy(tmp_path)
    (tmp_path / "jobs.csv").write_text(text, encoding="utf-8")
    before = (tmp_path / "jobs.csv").read_bytes()
    for code, err in _both(_project(tmp_path), tmp_path, capsys):
        assert code == 2, err
        assert message in err, err
        assert "Traceback" not in err
    assert (tmp_path / "jobs.csv").read_bytes() == before


@pytest.mark.parametrize(("join", "extra", "message"), [
    ('jobs = {path = "missing.csv", key = "tatort_code"}', "",
     "missing.csv: file not found"),
    ('jobs = {path = "jobs.csv", id = "tatort_code"}', "",
     "key 'places.jobs.id': unknown key; expected one of columns, encoding, key, layer, "
     "licence, path, source, where"),
    ('jobs = {path = "jobs.csv", key = ""}', "",
     "key 'places.jobs.key': expected the name of the column that holds the place id"),
    ('jobs = {path = "jobs.csv", columns = {jobs = "dagbef"}}', "",
     "jobs.csv: column 'dagbef': required column is missing; the file has: tatort_code, "
     "jobs (mapped from places.jobs.columns.jobs)"),
    ('jobs = {path = "jobs.csv", columns = {population = "bef"}}', "",
     "key 'places.jobs.columns.population': unknown canonical column; expected jobs, "
     "employed"),
    ('employment_rate = 1.5', "", "key 'places.employment_rate': expected employed "
     "residents per inhabitant, a number in (0, 1] such as 0.5, got 1.5"),
    ('employment_rate = "half"', "", "key 'places.employment_rate': expected int or "
     "float, got str 'half'"),
])
def test_bad_join_settings(join: str, extra: str, message: str, tmp_path: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    _toy(tmp_path)
    (tmp_path / "jobs.csv").write_text("tatort_code,jobs\n0101TC101,5\n")
    project = _project(tmp_path, join, extra)
    for code, err in _both(project, tmp_path, capsys):
        assert code == 2, err
        assert message in err, err


def test_places_that_already_have_jobs(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    _toy(tmp_path, jobs=True)
    (tmp_path / "jobs.csv").write_text("tatort_code,jobs\n0101TC101,5\n")
    for code, err in _both(_project(tmp_path), tmp_path, capsys):
        assert code == 2
        assert ("places.csv: the places already have 'jobs' and [places] jobs gives it "
                "again (column 'jobs' of jobs.csv); give it once") in err


def test_bad_join_tables_stop_in_a_subprocess(tmp_path: Path) -> None:
    """As a user runs it: exit 2, one line, no traceback, the output folder untouched."""
    _toy(tmp_path)
    (tmp_path / "jobs.csv").write_text("tatort_code,jobs\n0101TC101,5\n0102TC101,-7\n")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "t.json").write_text("{}")
    run = subprocess.run([sys.executable, "-m", "strukturbild", "build",
                          str(_project(tmp_path)), "--out", str(tmp_path / "out")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert run.stderr.strip().splitlines()[-1].startswith("strukturbild: error: ")
    assert "jobs.csv: column 'jobs', row 2: value -7 is negative" in run.stderr
    assert "Traceback" not in run.stderr
    assert (tmp_path / "out" / "t.json").read_text() == "{}"


# --------------------------------------------------------------------------- employment rate


def test_employed_estimated_from_the_default_and_the_kommun_rate(tmp_path: Path) -> None:
    _toy(tmp_path)
    (tmp_path / "jobs.csv").write_text(
        "tatort_code,jobs\n" + "".join(f"{p[0]},{p[4]}\n" for p in TOY_PLACES))
    areas = gpd.GeoDataFrame(
        {"kommun_code": ["0101", "0102", "0103"], "kommun_name": ["A", "B", "C"],
         "employment_rate": [0.48, None, 0.40]},
        geometry=[shapely.box(480_000 + 20_000 * k, 6_480_000, 500_000 + 20_000 * k,
                              6_560_000) for k in range(3)], crs=3006)
    areas.to_file(tmp_path / "kommuner.gpkg")
    project = _project(tmp_path, 'jobs = {path = "jobs.csv", key = "tatort_code"}\n'
                                 'employment_rate = 0.45',
                       extra='[areas]\npath = "kommuner.gpkg"\n')
    img = build(load_project(project))
    p = img.places
    # kommun 0101 at 0.48, 0102 has no rate (0.45, [places]), 0103 at 0.40
    assert p["employed"].round(6).tolist() == [120_000, 20_250, 3_600, 2_400, 1_000, 360]
    assert p["employed_estimated"].tolist() == [True] * 6
    assert round(p.loc["0102TC101", "job_ratio"], 4) == round(24_000 / 20_250, 4)
    s = img.summary()
    assert s["employed_estimated"] == 6
    assert s["provenance"]["employed"] == {
        "estimated": 6, "of": 6, "employment_rate": 0.45, "by_kommun_rate": 4,
        "by_default_rate": 2, "method": "population x employment rate (the kommun's where "
        "the areas give employment_rate, else [places] employment_rate)"}


def test_a_kommun_rate_in_percent_is_bad_input(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    _toy(tmp_path)
    (tmp_path / "jobs.csv").write_text("tatort_code,jobs\n0101TC101,5\n")
    gpd.GeoDataFrame({"kommun_code": ["0101", "0102"], "kommun_name": ["A", "B"],
                      "employment_rate": [0.48, 48.0]},
                     geometry=[shapely.box(0, 6_400_000, 1000, 6_401_000),
                               shapely.box(2000, 6_400_000, 3000, 6_401_000)],
                     crs=3006).to_file(tmp_path / "kommuner.gpkg")
    project = _project(tmp_path, extra='[areas]\npath = "kommuner.gpkg"\n')
    for code, err in _both(project, tmp_path, capsys):
        assert code == 2
        assert ("kommuner.gpkg: layer 'kommuner', column 'employment_rate', row 2: value "
                "48.0 is not an employment rate: expected employed residents per "
                "inhabitant, a number in (0, 1] such as 0.48") in err, err


def test_employed_given_for_some_places_is_estimated_for_the_others(tmp_path: Path) -> None:
    places = _toy(tmp_path, jobs=True)
    df = pd.read_csv(places, dtype=str)
    df.loc[[1, 3, 4, 5], "employed"] = None  # given for Storby and Förort only
    df.to_csv(places, index=False)
    img = build(load_project(_project(tmp_path, join="")))
    p = img.places
    assert p["employed"].tolist() == [120_000, 22_500, 4_000, 3_000, 1_250, 450]
    assert p["employed_estimated"].tolist() == [False, True, False, True, True, True]
    assert img.summary()["employed_estimated"] == 4


def test_a_join_table_that_lacks_some_employed_is_bad_input(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A join table's column is complete or it is bad input: an empty cell is a lost
    figure, not an invitation to estimate (the places' own column may leave cells empty)."""
    _toy(tmp_path)
    (tmp_path / "jobs.csv").write_text(
        "tatort_code,jobs,nattbef\n0101TC101,140000,120000\n0102TC101,24000,\n")
    for code, err in _both(_project(tmp_path), tmp_path, capsys):
        assert code == 2
        assert "jobs.csv: column 'nattbef', row 2: value is missing for '0102TC101'" in err


def test_observed_flows_give_employed_before_any_estimate(toy_dir: Path) -> None:
    """Complete flows (with intra-place flows) are the employed residents: not estimated."""
    flows = toy_dir / "flows.csv"
    flows.write_text(flows.read_text() + "".join(f"{p[0]},{p[0]},10\n" for p in TOY_PLACES))
    places = gpd.read_file(toy_dir / "places.gpkg", layer="places")
    places.drop(columns=["employed"]).to_file(toy_dir / "places.gpkg", layer="places")
    img = build(load_project(toy_dir / "project.toml"))
    assert not img.places["employed_estimated"].any()
    assert img.places.loc["0103TB103", "employed"] == 30  # Hamlet → Byn 20, itself 10


def test_links_employment_rate_moved_to_places(tmp_path: Path) -> None:
    _toy(tmp_path)
    (tmp_path / "jobs.csv").write_text("tatort_code,jobs\n0101TC101,5\n")
    project = _project(tmp_path, extra="[links]\nemployment_rate = 0.45\n")
    with pytest.warns(StrukturbildWarning, match=r"key 'links.employment_rate' has moved "
                                                 r"to \[places\] employment_rate"):
        loaded = load_project(project)
    assert loaded.places is not None and loaded.places.employment_rate == 0.45
    # given in both places with different values: an error naming both
    project.write_text(project.read_text().replace(
        'crs = "EPSG:3006"', 'crs = "EPSG:3006"\nemployment_rate = 0.5'))
    with pytest.raises(ConfigError, match=r"moved to \[places\] employment_rate, which says "
                                          r"0.5, not 0.45; remove links.employment_rate"):
        load_project(project)
    # without [places] there is nowhere to move it
    with pytest.raises(ConfigError, match="key 'links.employment_rate': the key has moved"):
        project_from_dict({"project": {"name": "t"}, "links": {"employment_rate": 0.5}},
                          base_dir=tmp_path)


def _popup_sentences(page: str, name: str) -> tuple[list[str], list[str]]:
    """The page's place names, and the sentences of the popup of the place ``name``."""
    from strukturbild.render.popups import place_texts

    from ._support.web import page_data

    data = page_data(page)
    names, roles = data["places"]["n"], data["places"]["k"]
    return names, place_texts(data["pop"], names, roles, names.index(name), "sv")


def test_employed_estimated_in_geopackage_popup_and_summary(tmp_path: Path) -> None:
    from strukturbild.export.geopackage import geopackage_frames
    from strukturbild.render.web import web_map_html
    from strukturbild.sources.example import example_project

    img = build(example_project())
    frames = geopackage_frames(img)
    cols = list(frames["places"].columns)
    assert cols[cols.index("employed") + 1] == "employed_estimated"
    assert frames["places"]["employed_estimated"].dtype.kind == "b"
    assert frames["places"]["employed_estimated"].all()
    # the popup's job ratio says it rests on an estimate (66 093 jobs / 47 196.5
    # employed residents, half of Lund's 94 393 inhabitants: 1,40) ...
    names, lund = _popup_sentences(web_map_html(img), "Lund")
    assert lund[1].endswith("(1,40 per sysselsatt invånare, uppskattat).")
    assert all(", uppskattat)" in _popup_sentences(web_map_html(img), n)[1][1]
               for n in names[:10])
    # ... and only where the employed are estimated
    given = img.places.copy()
    given["employed_estimated"] = False
    import dataclasses

    assert lund[1].replace(", uppskattat", "") == _popup_sentences(web_map_html(
        dataclasses.replace(img, places=given)), "Lund")[1][1]
    assert img.summary()["employed_estimated"] == 70


# --------------------------------------------------------------------------- SCB's file


def test_the_national_file_joins_by_code() -> None:
    """SCB's jobs 2024 (2023 delineation) on SCB's tätorter 2020: 1 945 of 2 017 codes
    are the same (the file's README says 1 954; counted here, it is 1 945)."""
    requires_shared("geodata", "sweden", "jobs", "tatort_jobs_2024.csv")
    from strukturbild.config import PlacesSource

    places = read_places(PlacesSource(
        SWEDEN / "tatorter_2020.gpkg", columns={"place_id": "tatort_code"},
        jobs=JobsSource(SWEDEN / "jobs" / "tatort_jobs_2024.csv", key="tatort_code")))
    r = places.attrs["jobs_join"]
    assert {k: r[k] for k in ("rows", "places_in_table", "split_rows_summed",
                              "matched_by_code", "matched_by_location", "unmatched",
                              "rows_unused")} == {
        "rows": 2027, "places_in_table": 2017, "split_rows_summed": 10,
        "matched_by_code": 1945, "matched_by_location": 0, "unmatched": 72,
        "rows_unused": 72}
    assert places.loc["0180TC101", "jobs"] == 991_143  # Stockholm
    assert places.loc["1480TC108", "jobs"] == 408_523 + 17_016  # Göteborg, two län
    assert places.loc["1280TC106", "jobs"] == 200_565  # Malmö
    assert places.loc["1278TC101", "jobs"] == 2_791  # Båstad: its Halland part is empty
    assert len(places) == 2017
    # the unmatched places are the codes redrawn between 2020 and 2023
    table = pd.read_csv(SWEDEN / "jobs" / "tatort_jobs_2024.csv", dtype=str)
    assert set(r["unmatched_places"]) == set(places.index) - set(table["tatort_code"])


def test_the_national_build_with_jobs_from_the_project_file(tmp_path: Path) -> None:
    """The README's "All of Sweden with jobs" project: roles as the roles test finds them
    from the same join made by hand (tests/test_roles.py)."""
    requires_shared("geodata", "sweden", "jobs", "tatort_jobs_2024.csv")
    project = project_from_dict({
        "project": {"name": "sverige"},
        "places": {"path": str(SWEDEN / "tatorter_2020.gpkg"),
                   "columns": {"place_id": "tatort_code", "name": "tatort_name",
                               "area_id": "kommun_code", "area_name": "kommun_name"},
                   "jobs": {"path": str(SWEDEN / "jobs" / "tatort_jobs_2024.csv"),
                            "key": "tatort_code"}},
        "export": {"formats": ["json"], "out_dir": str(tmp_path)},
    }, base_dir=tmp_path)
    img = build(project)
    s = img.summary()
    assert s["roles"] == {"storstad": 3, "regional_karna": 49, "lokal_karna": 142,
                          "serviceort": 264, "ovrig_tatort": 1559}
    assert s["employed_estimated"] == 2017
    join = s["provenance"]["inputs"]["jobs"]
    assert (join["matched_by_code"], join["unmatched"]) == (1945, 72)
    assert s["notes"][0].startswith("72 place(s) have no jobs: tatort_jobs_2024.csv does "
                                    "not match them by code (0117TB113, ")


# --------------------------------------------------------------------------- the example


def test_the_examples_jobs_are_scbs(tmp_path: Path) -> None:
    """geodata/skane/jobs_2024.csv is the shared file's jobs of the 70 places, made again
    byte for byte by geodata/make_skane_jobs.py."""
    requires_shared("geodata", "sweden", "jobs", "tatort_jobs_2024.csv")
    out = tmp_path / "jobs_2024.csv"
    subprocess.run([sys.executable, str(REPO / "geodata" / "make_skane_jobs.py"),
                    "--out", str(out)], check=True, capture_output=True, timeout=120)
    assert out.read_bytes() == (SKANE / "jobs_2024.csv").read_bytes()
    ours = pd.read_csv(SKANE / "jobs_2024.csv", dtype={"tatort_code": str})
    places = pd.read_csv(SKANE / "tatorter_2020.csv", dtype={"tatort_code": str})
    assert sorted(ours["tatort_code"]) == sorted(places["tatort_code"])
    table = pd.read_csv(SWEDEN / "jobs" / "tatort_jobs_2024.csv", dtype={"tatort_code": str})
    sums = table.groupby("tatort_code")["jobs"].sum(min_count=1)
    assert (ours.set_index("tatort_code")["jobs"] == sums.reindex(ours["tatort_code"])).all()
    readme = (SKANE / "README.md").read_text(encoding="utf-8")
    assert "jobs_2024.csv" in readme and "RAMS/BAS 2024" in readme


def test_the_example_prints_no_unknown_measure(capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", StrukturbildWarning)
        assert main(["build", str(SKANE / "project.toml"), "--out", str(tmp_path),
                     "--format", "json"]) == 0
    err = capsys.readouterr().err
    assert "no place has" not in err and "did not get a role" not in err
    assert "jobs from jobs_2024.csv: 70 places matched (70 by code, 0 by location)" in err
    assert ("employed residents estimated for 70 of 70 places (0.5 of the population; "
            "[places] employment_rate)") in err
    s = json.loads((tmp_path / "skane.json").read_text(encoding="utf-8"))
    assert s["notes"] == [] and s["employed_estimated"] == 70
    assert s["role_agreement"]["regional_karna"]["agreement"] == 0.6667


@pytest.mark.browser
def test_the_popup_says_the_employed_are_estimated(tmp_path: Path) -> None:
    """In a browser: Lund's popup says its job ratio rests on an estimate of its
    employed residents ("uppskattat"); a place whose employed are known does not."""
    import dataclasses

    from strukturbild.render.web import web_map_html
    from strukturbild.sources.example import example_project

    from ._support.browser import PageLog, browser, chromium_missing, open_map, settle

    if chromium_missing() is not None:
        pytest.skip(str(chromium_missing()))
    img = build(example_project())
    known = img.places.copy()
    known.loc["1283TC107", "employed_estimated"] = False  # Helsingborg: as if given
    page_file = tmp_path / "m.html"
    page_file.write_text(web_map_html(dataclasses.replace(img, places=known)),
                         encoding="utf-8")
    with browser(tmp_path / "profile") as context:
        log = PageLog()
        page = open_map(context, page_file, log)
        texts = {}
        for name in ("Lund", "Helsingborg"):
            box = page.get_by_label("Sök ort")
            box.fill(name)
            box.press("Enter")
            settle(page)
            page.wait_for_timeout(300)  # the previous popup fades out
            texts[name] = page.locator(".leaflet-popup-content").last.inner_text()
        assert log.page_errors == [] and log.console_errors == []
    # 66 093 jobs / 47 196.5 employed (94 393 inhabitants x 0.5) = 1.40
    assert "(1,40 per sysselsatt invånare, uppskattat)" in texts["Lund"]
    # Helsingborg: 59 027 jobs / 56 914 employed = 1.04, as if known
    assert "(1,04 per sysselsatt invånare)" in texts["Helsingborg"]
    assert "uppskattat" not in texts["Helsingborg"]


def test_the_lan_recipe_with_the_jobs_fetch_writes(tmp_path: Path) -> None:
    """The README's Västra Götaland recipe on ``sverige/scb.gpkg`` laid out as
    ``fetch scb --country --tatort-year 2020`` now writes it: every tätort with its day
    population (here SCB's 2024 figures from the shared file, by code) and an empty
    ``employed``. Borås, Trollhättan, Uddevalla and Skövde, "lokal kärna" without jobs
    (issue 16), are regional kärnor."""
    requires_shared("geodata", "sweden", "jobs", "tatort_jobs_2024.csv")
    from ._support.readme import readme_recipe

    national = gpd.read_file(SWEDEN / "tatorter_2020.gpkg")
    table = pd.read_csv(SWEDEN / "jobs" / "tatort_jobs_2024.csv", dtype={"tatort_code": str})
    jobs = table.groupby("tatort_code")["jobs"].sum(min_count=1)
    places = national.rename(columns={
        "tatort_code": "place_id", "tatort_name": "name", "kommun_code": "area_id",
        "kommun_name": "area_name"})[["place_id", "name", "area_id", "area_name", "lan_code",
                                      "population", "area_ha", "geometry"]]
    places = places.assign(jobs=places["place_id"].map(jobs), employed=float("nan"),
                           seat_of="")
    kommuner = gpd.read_file(SWEDEN / "kommuner.gpkg").rename(columns={
        "kommun_code": "area_id", "kommun_name": "name"})[["area_id", "name", "lan_code",
                                                          "geometry"]]
    (tmp_path / "sverige").mkdir()
    places.to_file(tmp_path / "sverige" / "scb.gpkg", layer="places")
    kommuner.to_file(tmp_path / "sverige" / "scb.gpkg", layer="kommuner", mode="a")
    (tmp_path / "vg.toml").write_text(readme_recipe(), encoding="utf-8")
    img = build(load_project(tmp_path / "vg.toml"))
    p = img.places.set_index("name")
    role = p["role"].astype(str)
    assert role["Göteborg"] == "storstad"
    for town in ("Borås", "Trollhättan", "Uddevalla", "Skövde"):
        assert role[town] == "regional_karna", (town, p.loc[town, "role_reason"])
    assert p["employed_estimated"].all()
    assert img.summary()["employed_estimated"] == len(p)
