"""The source line names publishers, with what each gave and its licence after them.

0.2 built it from licence strings and file names ("CC0 1.0 (SCB …); jarnvag_strak.geojson",
issue 18). Now each input says who publishes it (``source = "SCB, statistiska tätorter
2020"``), a licence that names its source in brackets is read so, designation lists name
their publisher, the base is Natural Earth's; a file name is never a source. The same
line is on the web map, the print map, in the GeoPackage's metadata and in the summary.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
import shapely

from strukturbild.config import load_project
from strukturbild.errors import ConfigError
from strukturbild.export.geopackage import write_geopackage
from strukturbild.image import StructureImage
from strukturbild.pipeline import build
from strukturbild.render.static import static_map_bytes
from strukturbild.render.style import credit, source_line
from strukturbild.render.web import web_map_html
from strukturbild.sources.example import example_dir, example_project

from .._support.web import page_data

EXAMPLE = ("Källa: SCB (statistiska tätorter 2020, kommungränser, dagbefolkning 2024; CC0, "
           "fri med angiven källa), Region Skåne (Regionplan för Skåne 2022–2040), GeoNames "
           "(orter utanför regionen; CC BY 4.0), Natural Earth (bakgrund; public domain); "
           "modellerade flöden")


@pytest.fixture(scope="module")
def example() -> StructureImage:
    return build(example_project())


def svg_text(svg: bytes) -> str:
    """The SVG's text, wrapped lines joined."""
    texts = re.findall(r"<text[^>]*>(.*?)</text>", svg.decode("utf-8"), flags=re.S)
    return " ".join(" ".join(re.sub(r"<[^>]+>", "", t) for t in texts).split())


def test_the_example_names_its_publishers_on_every_output(example: StructureImage,
                                                          tmp_path: Path) -> None:
    assert page_data(web_map_html(example))["source"] == EXAMPLE
    assert EXAMPLE in svg_text(static_map_bytes(example, "svg"))
    assert example.summary()["source"] == EXAMPLE
    out = write_geopackage(example, tmp_path / "skane.gpkg")
    with sqlite3.connect(out) as con:
        (description,) = con.execute("SELECT description FROM gpkg_contents WHERE "
                                     "table_name = 'places'").fetchone()
        (qmd,) = con.execute("SELECT metadata FROM gpkg_metadata WHERE md_standard_uri = "
                             "'http://mrcc.com/qgis.dtd'").fetchone()
        (record,) = con.execute("SELECT metadata FROM gpkg_metadata WHERE mime_type = "
                                "'application/json'").fetchone()
    assert EXAMPLE in description
    assert f"<rights>{EXAMPLE}</rights>" in qmd
    sources = {s["input"]: s for s in json.loads(record)["sources"]}
    assert sources["places"]["source"] == "SCB, statistiska tätorter 2020"
    assert sources["places"]["licence"] == "CC0"
    assert sources["jobs"]["source"] == "SCB, dagbefolkning 2024"


def test_in_english(example: StructureImage) -> None:
    import dataclasses

    english = dataclasses.replace(example, language="en")
    assert page_data(web_map_html(english))["source"] == (
        "Source: SCB (statistiska tätorter 2020, kommungränser, dagbefolkning 2024; CC0, fri "
        "med angiven källa), Region Skåne (Regionplan för Skåne 2022–2040), GeoNames (places "
        "outside the region; CC BY 4.0), Natural Earth (background; public domain); modelled "
        "flows")


def _project(tmp_path: Path, places: str, layers: str) -> Path:
    folder = example_dir().as_posix()
    rail = gpd.GeoDataFrame({"namn": ["Södra stambanan"]}, geometry=[shapely.LineString(
        [(13.0, 55.6), (13.2, 55.7)])], crs="EPSG:4326")
    rail.to_file(tmp_path / "jarnvag_strak.geojson", driver="GeoJSON")
    rail.to_file(tmp_path / "vagar.geojson", driver="GeoJSON")
    path = tmp_path / "project.toml"
    path.write_text(f"""
[project]
name = "skane"
title = "Skåne"

[places]
path = "{folder}/tatorter_2020.csv"
crs = "EPSG:4326"
{places}

[places.columns]
place_id = "tatort_code"
name = "tatort_name"
area_id = "kommun_code"
population = "population_2020"

[areas]
path = "{folder}/kommuner_skane.geojson"
licence = "CC0 1.0 (SCB, Digitala gränser)"

{layers}
""", encoding="utf-8")
    return path


def test_each_input_says_who_publishes_it(tmp_path: Path) -> None:
    """``source`` on the places, a licence naming its source on the areas (0.2's way), a
    layer from OpenStreetMap (``fetch osm``'s copyright notice: the layer's name says what
    it gave), a layer that says nothing: its file name is left out."""
    path = _project(tmp_path, 'source = "SCB, statistiska tätorter 2020"\nlicence = "CC0"', """
[[layers]]
name = "Järnväg"
path = "jarnvag_strak.geojson"
kind = "infrastructure"

[[layers]]
name = "Järnvägar"
path = "jarnvag_strak.geojson"
kind = "infrastructure"
licence = "© OpenStreetMap contributors, ODbL 1.0"

[[layers]]
name = "Vägar"
path = "vagar.geojson"
kind = "infrastructure"
source = "Trafikverket, NVDB"
licence = "CC0"
""")
    image = build(load_project(path))
    line = page_data(web_map_html(image))["source"]
    assert line == ("Källa: SCB (statistiska tätorter 2020, Digitala gränser; CC0, CC0 1.0), "
                    "© OpenStreetMap contributors (Järnvägar; ODbL 1.0), Trafikverket (NVDB; "
                    "CC0), GeoNames (orter utanför regionen; CC BY 4.0), Natural Earth "
                    "(bakgrund; public domain); modellerade flöden")
    assert ".geojson" not in line and ".csv" not in line
    assert image.provenance["inputs"]["layer: Vägar"]["source"] == "Trafikverket, NVDB"
    assert image.summary()["source"] == line
    # a project's note stands for its sources, but OpenStreetMap's credit is kept
    noted = page_data(web_map_html(image, image.options(source_note="Källa: SCB, NVDB")))
    assert noted["source"] == ("Källa: SCB, NVDB; © OpenStreetMap contributors (Järnvägar; "
                               "ODbL 1.0), GeoNames (orter utanför regionen; CC BY 4.0), "
                               "Natural Earth (bakgrund; public domain); modellerade flöden")


def test_without_sources_the_line_names_no_files(tmp_path: Path) -> None:
    image = build(load_project(_project(tmp_path, "", "")))
    line = image.summary()["source"]
    assert line == ("Källa: SCB (Digitala gränser; CC0 1.0), GeoNames (orter utanför "
                    "regionen; CC BY 4.0), Natural Earth (bakgrund; public domain); modellerade "
                    "flöden")
    assert "tatorter_2020" not in line


@pytest.mark.parametrize(("info", "expected"), [
    ({"source": "SCB, statistiska tätorter 2020", "licence": "CC0"},
     ("SCB", "statistiska tätorter 2020", "CC0")),
    ({"source": "Lantmäteriet"}, ("Lantmäteriet", "", "")),
    ({"licence": "CC0 1.0 (SCB, statistiska tätorter 2020)"},
     ("SCB", "statistiska tätorter 2020", "CC0 1.0")),
    ({"licence": "ODbL (OpenStreetMap)"}, ("OpenStreetMap", "", "ODbL")),
    ({"licence": "CC BY 4.0 (Lantmäteriet, Topografi 50)"},
     ("Lantmäteriet", "Topografi 50", "CC BY 4.0")),
    ({"licence": "© OpenStreetMap contributors, ODbL 1.0", "layer": "Vägar"},
     ("© OpenStreetMap contributors", "Vägar", "ODbL 1.0")),
    ({"licence": "Region Skåne (exempel)"}, ("Region Skåne (exempel)", "", "")),
    ({"licence": "INSEE, Licence Ouverte 2.0"}, ("INSEE, Licence Ouverte 2.0", "", "")),
    ({"file": "jarnvag_strak.geojson"}, None),
    ({"file": "<frame>"}, None),
], ids=["source", "publisher-only", "licence-naming-source", "odbl", "cc-by",
        "copyright-notice", "publisher-as-licence", "licence-text", "file-only", "frame"])
def test_who_an_input_is_from(info: dict[str, Any], expected: Any) -> None:
    assert credit(info) == expected


def test_a_note_of_the_project_is_kept_as_written() -> None:
    assert source_line({"places": {"source": "SCB"}}, "sv", source_note="Källa: SCB 2020",
                       base=True, modelled=True) == \
        "Källa: SCB 2020; Natural Earth (bakgrund; public domain); modellerade flöden"
    assert source_line({}, "en") == ""


def test_source_must_be_text(tmp_path: Path) -> None:
    path = _project(tmp_path, "source = 3", "")
    with pytest.raises(ConfigError, match=r"places\.source"):
        load_project(path)
