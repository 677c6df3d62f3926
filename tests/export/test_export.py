"""The GeoPackage writer: layers and columns, QGIS styles, metadata, modes, atomicity.

GDAL's validator, ``ogrinfo`` and the read-back of every column type are in
``test_gpkg_conformance.py``; QGIS itself opens the files in ``test_qgis.py``.
The image builders here are shared with those two modules.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import re
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely

from strukturbild.errors import (
    CRSError,
    DuplicateIdError,
    InvalidValueError,
    StrukturbildError,
)
from strukturbild.export import geopackage as export
from strukturbild.export.geopackage import (
    GPKG_LAYERS,
    STYLE_NAME,
    OutputExistsError,
    geopackage_frames,
    write_geopackage,
)
from strukturbild.image import StructureImage
from strukturbild.render.qml import (
    LINK_CATEGORY_EXPRESSION,
    link_width_expression,
    place_size_expression,
)
from strukturbild.render.style import link_width, role_styles, symbol_radius

from .._support.images import AREAS_LAYERS, split_image

EPOCH = "1970-01-01T00:00:00.000Z"

# --------------------------------------------------------------------------- helpers


def _sql(path: Path, query: str, *args: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as con:
        return con.execute(query, args).fetchall()


def _qml(path: Path, layer: str) -> ET.Element:
    ((qml,),) = _sql(path, "SELECT styleQML FROM layer_styles WHERE f_table_name = ?", layer)
    assert qml.startswith("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>")
    return ET.fromstring(qml.split("\n", 1)[1])


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture(scope="module")
def example_gpkg(tmp_path_factory: pytest.TempPathFactory, example_image: StructureImage) -> Path:
    return write_geopackage(example_image, tmp_path_factory.mktemp("ex") / "skane.gpkg")


@pytest.fixture(scope="module")
def areas_gpkg(tmp_path_factory: pytest.TempPathFactory, areas_image: StructureImage) -> Path:
    base = tmp_path_factory.mktemp("areas")
    return write_geopackage(areas_image, base / "skane_kommuner.gpkg")


# --------------------------------------------------------------------------- layers


def test_layers_and_order(example_gpkg: Path, areas_gpkg: Path) -> None:
    assert [str(n) for n in pyogrio.list_layers(example_gpkg)[:, 0]] == [
        "places", "links", "strak", "areas", "joint_designations", "base", "context",
        "ferries", "layer_styles"]
    assert [str(n) for n in pyogrio.list_layers(areas_gpkg)[:, 0]] == [
        *AREAS_LAYERS, "layer_styles"]
    assert [n for n in GPKG_LAYERS if n in AREAS_LAYERS] == list(AREAS_LAYERS)


def test_column_names_valid_and_documented(example_gpkg: Path, areas_gpkg: Path) -> None:
    """Every written column is a plain lower-case name and is in the docstring table."""
    doc = export.__doc__ or ""
    documented = set(re.findall(r"^\| (\w+) +\| (\w+) +\|", doc, flags=re.MULTILINE))
    assert len(documented) > 50
    for path, layer in [(areas_gpkg, n) for n in AREAS_LAYERS] + [
            (example_gpkg, "joint_designations")]:
        info = pyogrio.read_info(path, layer=layer)
        assert info["fid_column"] == "fid" and info["geometry_name"] == "geom"
        for col in info["fields"]:
            assert re.fullmatch(r"[a-z][a-z0-9_]*", col), col
            assert (layer, col) in documented, f"{layer}.{col} is not in the docstring table"


def test_documented_columns_come_first_in_order(example_image: StructureImage) -> None:
    frames = geopackage_frames(example_image)
    assert list(frames["places"].columns[:5]) == ["place_id", "name", "area_id", "area_name",
                                                  "population"]
    assert list(frames["links"].columns[:3]) == ["link_id", "origin", "destination"]
    assert frames["links"]["link_id"].tolist() == list(range(1, len(frames["links"]) + 1))
    assert frames["places"]["rank_in_area"].dtype == "Int64"  # whole numbers → integer


def test_areas_and_regions_layers(areas_gpkg: Path) -> None:
    areas = gpd.read_file(areas_gpkg, layer="areas")
    regions = gpd.read_file(areas_gpkg, layer="regions")
    assert len(areas) == 33 and areas["area_id"].str.len().eq(4).all()
    assert set(areas.geom_type) == {"MultiPolygon"}  # polygons are always multi
    assert list(regions.columns[:2]) == ["region_id", "name"]
    assert set(regions.geom_type) == {"MultiPolygon"}
    assert pyogrio.read_info(areas_gpkg, layer="regions")["geometry_type"] == "MultiPolygon"


def test_bad_column_name_refused(example_image: StructureImage) -> None:
    image = example_image
    bad = dataclasses.replace(image, places=image.places.assign(**{"Bad Name": 1}))
    with pytest.raises(InvalidValueError, match="column name 'Bad Name' cannot be written"):
        geopackage_frames(bad)


def test_no_crs_refused(tmp_path: Path, example_image: StructureImage) -> None:
    image = example_image
    with pytest.raises(CRSError, match="no CRS"):
        write_geopackage(dataclasses.replace(image, links=image.links.set_crs(None,
                                                                             allow_override=True)),
                         tmp_path / "x.gpkg")
    assert _listing(tmp_path) == []


def test_empty_links_layer(tmp_path: Path, example_image: StructureImage) -> None:
    image = example_image
    empty = dataclasses.replace(image, links=image.links.iloc[:0])
    out = write_geopackage(empty, tmp_path / "e.gpkg")
    info = pyogrio.read_info(out, layer="links")
    assert info["features"] == 0 and info["geometry_type"] == "LineString"
    assert "link_class" in list(info["fields"])


def test_polygon_places(tmp_path: Path, example_image: StructureImage) -> None:
    image = example_image
    polys = image.places.set_geometry(image.places.geometry.buffer(500.0))
    out = write_geopackage(dataclasses.replace(image, places=polys), tmp_path / "p.gpkg")
    assert pyogrio.read_info(out, layer="places")["geometry_type"] == "MultiPolygon"
    root = _qml(out, "places")
    assert root.findtext("layerGeometryType") == "2"
    symbol = root.find("renderer-v2/symbols/symbol")
    assert symbol is not None
    classes = [lay.get("class") for lay in symbol.iter("layer")]
    assert classes == ["SimpleFill", "CentroidFill", "SimpleMarker"]


# --------------------------------------------------------------------------- layer_styles

#: The layer_styles table as QGIS 3.22 creates it in a GeoPackage (PRAGMA table_info).
QGIS_LAYER_STYLES = [
    (0, "id", "INTEGER", 1, None, 1),
    (1, "f_table_catalog", "TEXT(256)", 0, None, 0),
    (2, "f_table_schema", "TEXT(256)", 0, None, 0),
    (3, "f_table_name", "TEXT(256)", 0, None, 0),
    (4, "f_geometry_column", "TEXT(256)", 0, None, 0),
    (5, "styleName", "TEXT(30)", 0, None, 0),
    (6, "styleQML", "TEXT", 0, None, 0),
    (7, "styleSLD", "TEXT", 0, None, 0),
    (8, "useAsDefault", "BOOLEAN", 0, None, 0),
    (9, "description", "TEXT", 0, None, 0),
    (10, "owner", "TEXT(30)", 0, None, 0),
    (11, "ui", "TEXT(30)", 0, None, 0),
    (12, "update_time", "DATETIME", 0, "strftime('%Y-%m-%dT%H:%M:%fZ','now')", 0),
]


def test_layer_styles_schema_is_qgis(example_gpkg: Path) -> None:
    assert _sql(example_gpkg, "PRAGMA table_info(layer_styles)") == QGIS_LAYER_STYLES


def test_layer_styles_registered_as_attributes(example_gpkg: Path) -> None:
    assert _sql(example_gpkg, "SELECT data_type, srs_id FROM gpkg_contents "
                              "WHERE table_name = 'layer_styles'") == [("attributes", 0)]


def test_style_rows_as_qgis_looks_them_up(areas_gpkg: Path) -> None:
    """QGIS: f_table_schema = '' AND f_table_name = layer AND f_geometry_column = geom col."""
    geom = dict(_sql(areas_gpkg, "SELECT table_name, column_name FROM gpkg_geometry_columns"))
    rows = _sql(areas_gpkg, "SELECT f_table_catalog, f_table_schema, f_table_name, "
                            "f_geometry_column, styleName, useAsDefault, owner, update_time "
                            "FROM layer_styles ORDER BY id")
    assert rows == [("", "", name, geom[name], STYLE_NAME, 1, "", EPOCH) for name in AREAS_LAYERS]
    assert _sql(areas_gpkg, "SELECT count(*) FROM layer_styles WHERE f_table_schema IS NULL "
                            "OR f_table_catalog IS NULL") == [(0,)]


def test_places_style_matches_web_map(example_gpkg: Path, example_image: StructureImage) -> None:
    image = example_image
    root = _qml(example_gpkg, "places")
    renderer = root.find("renderer-v2")
    assert renderer is not None
    assert (renderer.get("type"), renderer.get("attr")) == ("categorizedSymbol", "role")
    styles = role_styles([(r.key, r.label("sv")) for r in image.roles])
    cats = [(c.get("value"), c.get("label")) for c in renderer.iter("category")]
    assert cats == [(s.key, s.label) for s in styles]
    colours = []
    for symbol in renderer.findall("symbols/symbol"):
        opts = {o.get("name"): o.get("value") or "" for o in symbol.iter("Option")}
        r, g, b, _ = (int(v) for v in opts["color"].split(","))
        colours.append(f"#{r:02x}{g:02x}{b:02x}")
        assert opts["expression"] == place_size_expression()
        assert opts["size_unit"] == "Point"
    assert colours == [s.colour for s in styles]
    rules = [r.get("filter") for r in root.iter("rule")]
    assert rules == ["\"role\" IN ('tillvaxtmotor', 'regional_karna', 'lokal_karna')"]
    assert root.get("labelsEnabled") == "1"


def test_links_style_matches_web_map(example_gpkg: Path) -> None:
    renderer = _qml(example_gpkg, "links").find("renderer-v2")
    assert renderer is not None and renderer.get("attr") == LINK_CATEGORY_EXPRESSION
    cats = [(c.get("value"), c.get("render")) for c in renderer.iter("category")]
    assert cats == [("regional_strong", "true"), ("regional_medium", "true"),
                    ("regional_weak", "true"), ("local_strong", "true"),
                    ("local_medium", "true"), ("local_weak", "false")]  # weak local off
    symbols = renderer.findall("symbols/symbol")
    colours = []
    for symbol in symbols:
        opts = {o.get("name"): o.get("value") for o in symbol.iter("Option")}
        colours.append(opts["line_color"])
        assert opts["expression"] == link_width_expression()
    assert colours[:3] == ["122,36,20,255"] * 3 and colours[3:] == ["76,100,120,255"] * 3
    opts = {o.get("name"): o.get("value") for o in symbols[5].iter("Option")}
    assert (symbols[5].get("alpha"), opts["customdash"], opts["use_custom_dash"]) == (
        "0.45", "3;3", "1")
    # the file says which links are regional, as the maps draw them
    links = gpd.read_file(example_gpkg, layer="links")
    places = gpd.read_file(example_gpkg, layer="places").set_index("place_id")["role"]
    top = {"tillvaxtmotor", "regional_karna", "lokal_karna"}
    both = places.reindex(links["origin"]).isin(top).to_numpy() & \
        places.reindex(links["destination"]).isin(top).to_numpy()
    assert links["regional"].tolist() == both.tolist() and 0 < both.sum() < len(links)


def _qgis_eval(expression: str, values: dict[str, float]) -> float:
    """Evaluate the few QGIS functions the size expressions use, in Python."""
    py = expression.replace("if(", "iff(")
    for name, value in values.items():
        py = py.replace(f'maximum("{name}")', repr(values[f"max_{name}"]) if f"max_{name}"
                        in values else "None").replace(f'"{name}"', repr(value))
    env = {"max": max, "sqrt": math.sqrt, "coalesce": lambda a, b: b if a is None else a,
           "iff": lambda c, a, b: a if c else b}
    return float(eval(py, env))


@pytest.mark.parametrize("population", [0, 500, 6_250, 100_000, 1_617_407])
def test_place_size_is_the_web_maps(population: int) -> None:
    size = _qgis_eval(place_size_expression(), {"population": population})
    assert size == pytest.approx(2 * symbol_radius(population))


@pytest.mark.parametrize("total", [0.0, 1.0, 2500.0, 10_000.0])
def test_link_width_is_the_web_maps(total: float) -> None:
    width = _qgis_eval(link_width_expression(), {"total": total, "max_total": 10_000.0})
    assert width == pytest.approx(link_width(total, 10_000.0))


def test_label_roles_and_unit(tmp_path: Path, example_image: StructureImage) -> None:
    image = example_image
    out = write_geopackage(image, tmp_path / "s.gpkg", image.options(label_roles=0),
                           size_unit="Pixel")
    root = _qml(out, "places")
    assert root.get("labelsEnabled") == "0" and root.find("labeling") is None
    assert 'name="size_unit"' in ET.tostring(root, encoding="unicode")
    assert {o.get("value") for o in root.iter("Option") if o.get("name") == "size_unit"} == {
        "Pixel"}


# --------------------------------------------------------------------------- metadata


def test_contents_describe_each_layer(areas_gpkg: Path) -> None:
    rows = dict((r[0], r[1:]) for r in _sql(
        areas_gpkg, "SELECT table_name, identifier, description, last_change FROM gpkg_contents"))
    for name in AREAS_LAYERS:
        identifier, description, last_change = rows[name]
        assert identifier.startswith("Skåne med kommuner: ")
        assert "modellerade" in description and "EPSG:3006" in description
        assert "strukturbild" in description
        assert last_change == EPOCH
    assert pyogrio.read_info(areas_gpkg, layer="places")["layer_metadata"]["DESCRIPTION"] == \
        rows["places"][1]


def test_metadata_extension(areas_gpkg: Path) -> None:
    ext = _sql(areas_gpkg, "SELECT table_name, extension_name, scope FROM gpkg_extensions "
                           "WHERE extension_name = 'gpkg_metadata' ORDER BY table_name")
    assert ext == [("gpkg_metadata", "gpkg_metadata", "read-write"),
                   ("gpkg_metadata_reference", "gpkg_metadata", "read-write")]
    runs = _sql(areas_gpkg, "SELECT id, metadata FROM gpkg_metadata WHERE md_standard_uri = "
                            "'urn:strukturbild:provenance' AND mime_type = 'application/json'")
    assert len(runs) == 1
    run_id, doc = runs[0]
    record = json.loads(doc)
    assert record["crs"] == "EPSG:3006" and record["flows"] == "modelled"
    assert record["modelled"] is True and record["version"]
    assert record["layers"] == {"places": 248, "links": record["layers"]["links"],
                                "strak": record["layers"]["strak"],
                                "areas": 33, "regions": record["layers"]["regions"],
                                "base": record["layers"]["base"],
                                "context": record["layers"]["context"],
                                "ferries": record["layers"]["ferries"]}
    assert {s["input"] for s in record["sources"]} == {"places", "areas"}
    assert all(len(s["sha256"]) == 64 for s in record["sources"])
    assert record["provenance"]["parameters"]["regions"]["method"] == "nodal"
    refs = _sql(areas_gpkg, "SELECT reference_scope, table_name, timestamp FROM "
                            "gpkg_metadata_reference WHERE md_file_id = ? ORDER BY rowid", run_id)
    assert refs == [("geopackage", None, EPOCH)] + [("table", n, EPOCH) for n in AREAS_LAYERS]
    qmd = _sql(areas_gpkg, "SELECT r.table_name, m.metadata FROM gpkg_metadata m JOIN "
                           "gpkg_metadata_reference r ON r.md_file_id = m.id WHERE "
                           "m.md_standard_uri = 'http://mrcc.com/qgis.dtd'")
    assert sorted(t for t, _ in qmd) == sorted(AREAS_LAYERS)
    for _, doc in qmd:
        root = ET.fromstring(doc.split("\n", 1)[1])
        assert root.findtext("crs/spatialrefsys/authid") == "EPSG:3006"
        assert root.findtext("title", "").startswith("Skåne med kommuner: ")


def test_licences_and_created_from_provenance(tmp_path: Path,
                                              example_image: StructureImage) -> None:
    image = example_image
    prov = dict(image.provenance)
    prov["inputs"] = {"places": {**prov["inputs"]["places"], "licence": "CC0 1.0"}}
    prov["created"] = "2025-03-01T12:30:00+01:00"
    out = write_geopackage(dataclasses.replace(image, provenance=prov), tmp_path / "s.gpkg",
                           image.options(source_note="Källa: SCB"))
    stamp = "2025-03-01T11:30:00.000Z"
    assert _sql(out, "SELECT DISTINCT last_change FROM gpkg_contents") == [(stamp,)]
    assert _sql(out, "SELECT DISTINCT update_time FROM layer_styles") == [(stamp,)]
    (description,) = _sql(out, "SELECT description FROM gpkg_contents WHERE "
                               "table_name = 'places'")[0]
    assert "tatorter_2020.csv (CC0 1.0)" in description and "Källa: SCB" in description
    qmd = _sql(out, "SELECT metadata FROM gpkg_metadata WHERE md_standard_uri = "
                    "'http://mrcc.com/qgis.dtd'")[0][0]
    # the rights: the maps' source line (the project's note, the context places' and the
    # base's publishers, modelled flows)
    assert "<license>CC0 1.0</license>" in qmd and (
        "<rights>Källa: SCB; GeoNames (orter utanför regionen; CC BY 4.0), Natural Earth "
        "(bakgrund; public domain); modellerade flöden</rights>") in qmd


def test_timestamp_argument(tmp_path: Path, example_image: StructureImage) -> None:
    out = write_geopackage(example_image, tmp_path / "s.gpkg",
                           timestamp=dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=dt.UTC))
    assert _sql(out, "SELECT DISTINCT timestamp FROM gpkg_metadata_reference") == [
        ("2024-05-06T07:08:09.123Z",)]
    with pytest.raises(InvalidValueError, match="not ISO 8601"):
        write_geopackage(example_image, tmp_path / "t.gpkg", timestamp="yesterday")


def test_same_image_same_bytes(tmp_path: Path, example_image: StructureImage) -> None:
    a = write_geopackage(example_image, tmp_path / "a.gpkg")
    b = write_geopackage(example_image, tmp_path / "b.gpkg")
    assert a.read_bytes() == b.read_bytes()


def test_version_option(tmp_path: Path, example_image: StructureImage) -> None:
    """GeoPackage 1.2 by default (GDAL 3.6 and QGIS 3.22 read it without a warning);
    1.4 on request. The application id is 'GPKG' in both."""
    out = write_geopackage(example_image, tmp_path / "default.gpkg")
    assert _sql(out, "PRAGMA user_version") == [(10200,)]
    assert _sql(out, "PRAGMA application_id") == [(0x47504B47,)]
    new = write_geopackage(example_image, tmp_path / "new.gpkg", version="1.4")
    assert _sql(new, "PRAGMA user_version") == [(10400,)]
    assert _sql(new, "PRAGMA application_id") == [(0x47504B47,)]


# --------------------------------------------------------------------------- modes


def test_overwrite_replaces_the_whole_file(tmp_path: Path, example_image: StructureImage) -> None:
    target = tmp_path / "s.gpkg"
    pyogrio.write_dataframe(gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.Point(0, 0)],
                                             crs=3006), target, layer="old")
    write_geopackage(example_image, target)
    assert "old" not in [str(n) for n in pyogrio.list_layers(target)[:, 0]]
    assert _listing(tmp_path) == ["s.gpkg"]


def test_fail_mode(tmp_path: Path, example_image: StructureImage) -> None:
    target = tmp_path / "s.gpkg"
    write_geopackage(example_image, target, mode="fail")  # absent: written
    before = target.read_bytes()
    with pytest.raises(OutputExistsError, match="the file exists") as info:
        write_geopackage(example_image, target, mode="fail")
    assert isinstance(info.value, FileExistsError) and isinstance(info.value, StrukturbildError)
    assert target.read_bytes() == before and _listing(tmp_path) == ["s.gpkg"]


def test_unknown_mode(example_image: StructureImage) -> None:
    with pytest.raises(ValueError, match="mode must be one of"):
        write_geopackage(example_image, "x.gpkg", mode="replace")  # type: ignore[arg-type]


WEST = {"1280", "1281", "1282", "1283", "1284", "1230", "1231", "1233", "1261", "1262",
        "1263", "1214", "1260", "1264", "1265", "1267", "1276", "1277", "1278"}


@pytest.fixture
def halves(example_image: StructureImage) -> tuple[StructureImage, StructureImage]:
    image = example_image
    areas = set(image.places["area_id"])
    west, east = split_image(image, areas & WEST, "väst"), split_image(image, areas - WEST,
                                                                         "öst")
    assert len(west.places) and len(east.places) and len(west.links) and len(east.links)
    return west, east


def test_append_adds_features_styles_and_history(tmp_path: Path,
                                                 halves: tuple[StructureImage,
                                                               StructureImage]) -> None:
    west, east = halves
    target = write_geopackage(west, tmp_path / "s.gpkg")
    write_geopackage(east, target, mode="append")
    places = gpd.read_file(target, layer="places")
    links = gpd.read_file(target, layer="links")
    assert len(places) == len(west.places) + len(east.places)
    assert places["place_id"].is_unique
    assert len(links) == len(west.links) + len(east.links)
    assert links["link_id"].tolist() == list(range(1, len(links) + 1))
    assert _sql(target, "SELECT f_table_name, useAsDefault FROM layer_styles ORDER BY id") == [
        ("places", 1), ("links", 1), ("strak", 1), ("areas", 1), ("base", 1), ("context", 1),
        ("ferries", 1),
        ("joint_designations", 1)]
    areas = gpd.read_file(target, layer="areas")
    assert sorted(areas["area_id"]) == sorted(set(west.places["area_id"]) |
                                              set(east.places["area_id"]))
    # the land is the first write's (appending keeps it); the joint designation is east's
    assert len(gpd.read_file(target, layer="base")) == len(west.base[west.base["kind"] ==
                                                                      "land"])
    assert gpd.read_file(target, layer="joint_designations")["name"].tolist() == [
        "Kristianstad–Hässleholm"]
    runs = _sql(target, "SELECT metadata FROM gpkg_metadata WHERE md_standard_uri = "
                        "'urn:strukturbild:provenance' ORDER BY id")
    assert [json.loads(r[0])["mode"] for r in runs] == ["overwrite", "append"]
    qmd = _sql(target, "SELECT m.metadata FROM gpkg_metadata m JOIN gpkg_metadata_reference r "
                       "ON r.md_file_id = m.id WHERE m.md_standard_uri = "
                       "'http://mrcc.com/qgis.dtd' AND r.table_name = 'places'")
    assert len(qmd) == 1 and qmd[0][0].count("<history>") == 2
    assert _listing(tmp_path) == ["s.gpkg"]


def test_append_to_missing_file_creates_it(tmp_path: Path, example_image: StructureImage) -> None:
    out = write_geopackage(example_image, tmp_path / "s.gpkg", mode="append")
    assert len(gpd.read_file(out, layer="places")) == 70


def test_append_keeps_other_tables_and_users_default_style(
        tmp_path: Path, halves: tuple[StructureImage, StructureImage]) -> None:
    west, east = halves
    target = write_geopackage(west, tmp_path / "s.gpkg")
    pyogrio.write_dataframe(pd.DataFrame({"note": ["mine"]}), target, layer="notes",
                            driver="GPKG", append=True)
    with sqlite3.connect(target) as con:
        con.execute("UPDATE layer_styles SET useAsDefault = 0 WHERE f_table_name = 'places'")
        con.execute("INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, "
                    "f_geometry_column, styleName, styleQML, useAsDefault) VALUES "
                    "('', '', 'places', 'geom', 'mine', '<qgis/>', 1)")
    write_geopackage(east, target, mode="append")
    assert "notes" in [str(n) for n in pyogrio.list_layers(target)[:, 0]]
    assert _sql(target, "SELECT styleName, useAsDefault FROM layer_styles WHERE "
                        "f_table_name = 'places' ORDER BY styleName") == [
        ("mine", 1), (STYLE_NAME, 0)]


def test_append_same_ids_refused(tmp_path: Path, example_image: StructureImage) -> None:
    target = write_geopackage(example_image, tmp_path / "s.gpkg")
    before = target.read_bytes()
    with pytest.raises(DuplicateIdError, match="already has 70 of the image's place_ids"):
        write_geopackage(example_image, target, mode="append")
    assert target.read_bytes() == before and _listing(tmp_path) == ["s.gpkg"]


def test_append_other_crs_refused(tmp_path: Path, example_image: StructureImage) -> None:
    """GDAL would append SWEREF 99 TM metres into a WGS 84 layer without a word."""
    target = tmp_path / "s.gpkg"
    frames = geopackage_frames(example_image)
    pyogrio.write_dataframe(frames["places"].iloc[:3].to_crs(4326), target, layer="places",
                            driver="GPKG")
    before = target.read_bytes()
    image = example_image
    rest = dataclasses.replace(image, places=image.places.iloc[3:])
    with pytest.raises(CRSError, match="layer 'places' is in EPSG:4326, the structure image "
                                       "is in EPSG:3006") as info:
        write_geopackage(rest, target, mode="append")
    assert info.value.layer == "places" and info.value.source == str(target)
    assert target.read_bytes() == before and _listing(tmp_path) == ["s.gpkg"]


def test_append_other_columns_refused(tmp_path: Path,
                                      halves: tuple[StructureImage, StructureImage]) -> None:
    west, east = halves
    target = write_geopackage(west, tmp_path / "s.gpkg")
    extra = dataclasses.replace(east, places=east.places.assign(note="x"))
    with pytest.raises(InvalidValueError, match="the columns of layer 'places' differ "
                                                r"\(the file lacks note\)"):
        write_geopackage(extra, target, mode="append")


def test_append_to_non_geopackage_refused(tmp_path: Path, example_image: StructureImage) -> None:
    target = tmp_path / "s.gpkg"
    target.write_bytes(b"previous")
    with pytest.raises(InvalidValueError, match="cannot append"):
        write_geopackage(example_image, target, mode="append")
    assert target.read_bytes() == b"previous"


# --------------------------------------------------------------------------- atomicity


@pytest.fixture
def previous(tmp_path: Path, example_image: StructureImage) -> Path:
    image = example_image
    return write_geopackage(split_image(image, {"1280"}, "tidigare"), tmp_path / "s.gpkg")


def _fail_on_call(n: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the n-th call of pyogrio.write_dataframe fail (after n - 1 layers were written)."""
    real = pyogrio.write_dataframe
    calls = {"n": 0}

    def flaky(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == n:
            raise OSError("disk full")
        real(*args, **kwargs)

    monkeypatch.setattr(pyogrio, "write_dataframe", flaky)


@pytest.mark.parametrize("mode", ["overwrite", "append", "fail"])
def test_failure_between_layers_leaves_previous_file(
        previous: Path, mode: str, monkeypatch: pytest.MonkeyPatch,
        example_image: StructureImage) -> None:
    before = previous.read_bytes()
    _fail_on_call(2, monkeypatch)
    image = example_image
    rest = split_image(image, set(image.places["area_id"]) - {"1280"}, "rest")
    expected: type[Exception] = OutputExistsError if mode == "fail" else OSError
    with pytest.raises(expected):
        write_geopackage(rest, previous, mode=mode)  # type: ignore[arg-type]
    assert previous.read_bytes() == before
    assert _listing(previous.parent) == ["s.gpkg"]


@pytest.mark.parametrize("mode", ["overwrite", "append"])
def test_failure_while_styling_leaves_previous_file(
        previous: Path, mode: str, monkeypatch: pytest.MonkeyPatch,
        example_image: StructureImage) -> None:
    before = previous.read_bytes()

    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("styles failed")

    monkeypatch.setattr(export, "_save_style", boom)
    image = example_image
    rest = split_image(image, set(image.places["area_id"]) - {"1280"}, "rest")
    with pytest.raises(RuntimeError, match="styles failed"):
        write_geopackage(rest, previous, mode=mode)  # type: ignore[arg-type]
    assert previous.read_bytes() == before
    assert _listing(previous.parent) == ["s.gpkg"]


def test_failure_leaves_no_file_when_there_was_none(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    example_image: StructureImage) -> None:
    _fail_on_call(2, monkeypatch)
    with pytest.raises(OSError, match="disk (is )?full"):
        write_geopackage(example_image, tmp_path / "s.gpkg")
    assert _listing(tmp_path) == []
