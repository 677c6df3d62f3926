"""``where``: picking places, areas and flows out of national files, as ``ogr2ogr -where``.

Every reader takes the filter: vector files pass it to GDAL, CSV and Parquet tables
are filtered the same way (SQL on the table in an in-memory GeoPackage). A filter
that matches nothing or cannot be evaluated is bad input: exit 2, naming the file,
the layer and the expression.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from strukturbild.cli import main
from strukturbild.config import AreasSource, FlowsSource, PlacesSource, load_project
from strukturbild.errors import EmptyInputError, InvalidValueError
from strukturbild.pipeline import build
from strukturbild.readers import filter_rows, read_areas, read_flows_table, read_places

from .conftest import SWEDEN, TOY_FLOWS, TOY_PLACES, requires_shared

COLUMNS = {"place_id": "tatort_code", "name": "tatort_name", "area_id": "kommun_code"}


@pytest.fixture
def toy_files(tmp_path: Path, toy_places_frame: gpd.GeoDataFrame) -> Path:
    """The toy places as GeoPackage, Shapefile, GeoJSON, CSV and Parquet; flows as CSV."""
    frame = toy_places_frame.assign(lan=["01", "01", "01", "01", "01", "02"])
    frame.to_file(tmp_path / "places.gpkg", layer="tatorter")
    frame.to_file(tmp_path / "places.shp")
    frame.to_crs(4326).to_file(tmp_path / "places.geojson")
    df = pd.DataFrame(TOY_PLACES, columns=["tatortskod", "tatort", "kommun", "bef", "jobs",
                                           "employed", "x", "y"])
    df.assign(lan=frame["lan"].to_numpy()).to_csv(tmp_path / "places.csv", index=False)
    df.assign(lan=frame["lan"].to_numpy()).to_parquet(tmp_path / "places.parquet")
    pd.DataFrame(TOY_FLOWS, columns=["from", "to", "n"]).to_csv(tmp_path / "flows.csv",
                                                                 index=False)
    return tmp_path


@pytest.mark.parametrize("name", ["places.gpkg", "places.shp", "places.geojson",
                                  "places.csv", "places.parquet"])
def test_every_format_takes_the_same_filter(toy_files: Path, name: str) -> None:
    src = PlacesSource(toy_files / name, where="kommun = '0103' AND bef >= 2500",
                       crs="EPSG:3006" if name.endswith((".csv", ".parquet")) else None)
    places = read_places(src)
    # Småort (6 000) and Byn (2 500); Hamlet (900) is too small
    assert sorted(places.index) == ["0103TB102", "0103TC101"]
    assert places["population"].tolist() == [6000, 2500] or \
        sorted(places["population"].tolist()) == [2500, 6000]


@pytest.mark.parametrize(("where", "expected"), [
    ("bef > 40000", ["0101TC101", "0102TC101"]),          # a number column in a CSV
    ("kommun IN ('0101', '0102')", ["0101TC101", "0102TB102", "0102TC101"]),
    ("tatort LIKE 'S%'", ["0101TC101", "0103TC101"]),     # Storby, Småort
    ("NOT lan = '01'", ["0103TB103"]),
    ("jobs BETWEEN 500 AND 3000", ["0102TB102", "0103TB102", "0103TC101"]),
], ids=["number", "in", "like", "not", "between"])
def test_sql_of_a_csv(toy_files: Path, where: str, expected: list[str]) -> None:
    places = read_places(PlacesSource(toy_files / "places.csv", where=where, crs="EPSG:3006"))
    assert sorted(places.index) == expected


def test_codes_keep_their_zeros_and_compare_as_text() -> None:
    table = pd.DataFrame({"kod": ["0114", "0180", "1280"], "n": ["1", "2", "3"]})
    assert filter_rows(table, "kod = '0180'")["n"].tolist() == ["2"]
    assert filter_rows(table, "kod < '1000'")["kod"].tolist() == ["0114", "0180"]
    # text that is all numbers compares as numbers: 10 > 9
    assert filter_rows(pd.DataFrame({"v": ["9", "10"]}), "v > 9")["v"].tolist() == ["10"]
    assert filter_rows(pd.DataFrame({"v": ["5,5", "4"]}), "v > 5")["v"].tolist() == ["5,5"]


def test_flows_and_areas_are_filtered(toy_files: Path) -> None:
    flows = read_flows_table(FlowsSource(toy_files / "flows.csv", where="n >= 800",
                                         columns={"origin": "from", "destination": "to",
                                                  "count": "n"}))
    assert flows["count"].tolist() == [2000.0, 1000.0, 1500.0, 800.0]
    boxes = gpd.GeoDataFrame({"kommun_code": ["0101", "0102"], "kommun_name": ["A", "B"],
                              "lan_code": ["01", "02"]},
                             geometry=[shapely.box(0, 6e6, 1e4, 6.01e6),
                                       shapely.box(1e4, 6e6, 2e4, 6.01e6)], crs=3006)
    boxes.to_file(toy_files / "k.gpkg")
    assert read_areas(AreasSource(toy_files / "k.gpkg", where="lan_code = '02'")).index \
        .tolist() == ["0102"]


@pytest.mark.parametrize(("name", "layer"), [("places.gpkg", "tatorter"),
                                             ("places.shp", None), ("places.csv", None)])
def test_unknown_column_names_file_layer_expression_and_columns(toy_files: Path, name: str,
                                                                layer: str | None) -> None:
    src = PlacesSource(toy_files / name, where="lan_code = '01'", crs="EPSG:3006"
                       if name.endswith(".csv") else None)
    with pytest.raises(InvalidValueError) as info:
        read_places(src)
    message = str(info.value)
    assert message.startswith(str(toy_files / name))
    assert "where = \"lan_code = '01'\"" in message and "lan_code" in message
    assert "the columns are" in message and "tatort" in message
    if layer:
        assert f"layer '{layer}'" in message


@pytest.mark.parametrize("name", ["places.gpkg", "places.geojson", "places.csv"])
def test_a_filter_that_matches_nothing_is_bad_input(toy_files: Path, name: str) -> None:
    src = PlacesSource(toy_files / name, where="kommun = '9999'",
                       crs="EPSG:3006" if name.endswith(".csv") else None)
    with pytest.raises(EmptyInputError, match=r"where = \"kommun = '9999'\" matches none "
                                              r"of the 6"):
        read_places(src)


def test_bad_filters_exit_2_through_the_command_line(toy_files: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    base = ('[project]\nname = "t"\n[places]\npath = "places.gpkg"\nlayer = "tatorter"\n'
            'where = "{}"\n')
    for where, expected in (("kommun = '9999'", "matches none"),
                            ("lan_code = '01'", "no such column"),
                            ("bef >", "incomplete input")):
        (toy_files / "p.toml").write_text(base.format(where.replace('"', '\\"')),
                                          encoding="utf-8")
        code = main(["build", str(toy_files / "p.toml"), "--out", str(toy_files / "o")])
        err = capsys.readouterr().err
        assert code == 2, err
        assert "places.gpkg" in err and "layer 'tatorter'" in err and where in err
        assert expected in err
        assert "Traceback" not in err
    assert not (toy_files / "o").exists()
    (toy_files / "p.toml").write_text(base.format(""), encoding="utf-8")
    assert main(["validate", str(toy_files / "p.toml")]) == 2
    assert "places.where" in capsys.readouterr().err
    # one expression only: a second statement is refused before GDAL sees it…
    (toy_files / "p.toml").write_text(base.format("bef > 0; DROP TABLE tatorter"),
                                      encoding="utf-8")
    assert main(["validate", str(toy_files / "p.toml")]) == 2
    assert "without ';' outside quotes" in capsys.readouterr().err
    # …while a ';' inside a quoted value is just text
    (toy_files / "p.toml").write_text(base.format("tatort <> 'A;B'"), encoding="utf-8")
    assert main(["validate", str(toy_files / "p.toml")]) == 0


def readme_recipe() -> str:
    """The project file of the README's "A län from the national files", as printed."""
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = text.split("### A län from the national files", 1)[1]
    return section.split("```toml\n", 1)[1].split("```", 1)[0]


def test_a_lan_from_the_national_files(tmp_path: Path) -> None:
    """Västra Götaland (14) from SCB's national tätorter and kommuner, as the README shows.

    The README's project reads ``sverige/scb.gpkg`` as ``strukturbild fetch scb
    --country --tatort-year 2020`` writes it (``tests/test_fetch.py`` runs the same
    project on a fetch from its local server). Here the same layout is made from the
    national files in ../shared (SCB's tätorter 2020 and kommuner, with their own
    column names), and the README's project file is built as printed.
    """
    tatorter = requires_shared("geodata", "sweden", "tatorter_2020.gpkg")
    national = gpd.read_file(tatorter)
    places = national.rename(columns={
        "tatort_code": "place_id", "tatort_name": "name", "kommun_code": "area_id",
        "kommun_name": "area_name"})
    places = places[["place_id", "name", "area_id", "area_name", "lan_code", "population",
                     "area_ha", "geometry"]].assign(jobs=float("nan"), employed=float("nan"),
                                                    seat_of="")
    kommuner = gpd.read_file(SWEDEN / "kommuner.gpkg").rename(columns={
        "kommun_code": "area_id", "kommun_name": "name"})[["area_id", "name", "lan_code",
                                                          "geometry"]]
    (tmp_path / "sverige").mkdir()
    places.to_file(tmp_path / "sverige" / "scb.gpkg", layer="places")
    kommuner.to_file(tmp_path / "sverige" / "scb.gpkg", layer="kommuner", mode="a")
    project = tmp_path / "vastra_gotaland.toml"
    project.write_text(readme_recipe(), encoding="utf-8")
    image = build(load_project(project))
    expected = national[(national["lan_code"] == "14") & (national["population"] >= 2000)]
    assert sorted(image.places.index) == sorted(expected["tatort_code"])
    assert len(image.areas) == 49 and set(image.areas.index.str[:2]) == {"14"}
    assert image.role("storstad") and "1480TC108" in image.places.index  # Göteborg
    assert str(image.places.loc["1480TC108", "role"]) == "storstad"
    inputs = image.provenance["inputs"]
    assert inputs["places"]["where"] == "lan_code = '14' AND population >= 2000"
    assert inputs["areas"]["where"] == "lan_code = '14'"
    summary = json.loads(image.render("json"))
    assert summary["places"] == len(expected) and summary["areas"] == 49
    # the neighbours of Västra Götaland read on its map: Norway and Denmark's Jutland
    assert {"NOR", "DNK"} <= set(image.base["iso_a3"])
