"""Own layers (``[[layers]]``): corridors, green structure, infrastructure, plan areas.

Read from any vector format (with ``where``), drawn under the places on the web and
print maps with their kind's style or the project's, in the legend and the layer
control, written to the GeoPackage as their own layers with QGIS styles, and listed
in the summary and the provenance.
"""

from __future__ import annotations

import json
import sqlite3
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely

from strukturbild.cli import main
from strukturbild.config import LAYER_KINDS, LayerSource, load_project
from strukturbild.errors import (
    ConfigError,
    EmptyInputError,
    InvalidGeometryError,
    InvalidValueError,
)
from strukturbild.image import OwnLayer
from strukturbild.pipeline import build
from strukturbild.readers import read_layer
from strukturbild.render.style import LAYER_STYLES
from strukturbild.sources.example import example_dir

from ._support.web import page_data

PROJECT = """
[project]
name = "skane_lager"
title = "Skåne med stråk"

[places]
path = "{example}/tatorter_2020.csv"
crs = "EPSG:4326"
licence = "CC0 1.0 (SCB)"
[places.columns]
place_id = "tatort_code"
name = "tatort_name"
area_id = "kommun_code"
population = "population_2020"

[[layers]]
name = "Stråk"
path = "plan.gpkg"
layer = "strak"
kind = "corridor"
where = "klass = 'regional'"
licence = "Region Skåne (exempel)"

[[layers]]
name = "Grönstruktur"
path = "gront.geojson"
kind = "green"

[[layers]]
name = "Stationer"
path = "plan.gpkg"
layer = "stationer"
kind = "infrastructure"
colour = "#000000"
width = 4

[export]
formats = ["html", "gpkg", "json", "svg"]
"""


@pytest.fixture
def plan_dir(tmp_path: Path) -> Path:
    lines = gpd.GeoDataFrame(
        {"namn": ["Västkuststråket", "Södra stambanan", "Lokalt stråk"],
         "klass": ["regional", "regional", "lokal"]},
        geometry=[shapely.LineString([(374_000, 6_164_000), (361_000, 6_223_000)]),
                  shapely.LineString([(375_000, 6_165_000), (441_000, 6_225_000)]),
                  shapely.LineString([(400_000, 6_150_000), (420_000, 6_160_000)])],
        crs=3006)
    lines.to_file(tmp_path / "plan.gpkg", layer="strak")
    gpd.GeoDataFrame({"station": ["Lund C", "Malmö C"]},
                     geometry=shapely.points([(387_500, 6_175_000), (374_000, 6_164_500)]),
                     crs=3006).to_file(tmp_path / "plan.gpkg", layer="stationer")
    gpd.GeoDataFrame({"namn": ["Söderåsen"]},
                     geometry=[shapely.box(385_000, 6_215_000, 400_000, 6_230_000)],
                     crs=3006).to_crs(4326).to_file(tmp_path / "gront.geojson")
    (tmp_path / "p.toml").write_text(PROJECT.format(example=example_dir().as_posix()),
                                     encoding="utf-8")
    return tmp_path


def test_config_names_the_kinds_and_render_draws_them() -> None:
    """config validates the kind names; the styles of the kinds are render's."""
    assert LAYER_KINDS == ("corridor", "green", "infrastructure", "area", "other")
    assert tuple(LAYER_STYLES) == LAYER_KINDS
    given = LayerSource("Järnväg", Path("j.gpkg"), kind="infrastructure", width=3)
    assert given.style == {"width": 3.0}  # what the project says, nothing more
    layer = OwnLayer("Järnväg", "infrastructure", gpd.GeoDataFrame(geometry=[]), given.style)
    assert dict(layer.style) == {**LAYER_STYLES["infrastructure"], "width": 3.0}
    with pytest.raises(InvalidValueError, match="kind 'railway' is not one of 'corridor'"):
        OwnLayer("Järnväg", "railway", gpd.GeoDataFrame(geometry=[]), {})


def test_layers_are_read_with_their_filter_and_style(plan_dir: Path) -> None:
    project = load_project(plan_dir / "p.toml")
    assert [src.name for src in project.layers] == ["Stråk", "Grönstruktur", "Stationer"]
    image = build(project)
    corridor, green, stations = image.layers
    assert corridor.frame["namn"].tolist() == ["Västkuststråket", "Södra stambanan"]
    assert corridor.style == LAYER_STYLES["corridor"]
    assert stations.style["colour"] == "#000000" and stations.style["width"] == 4.0
    assert green.frame.crs == "EPSG:3006"  # read from lon/lat, drawn in the project's CRS
    assert image.provenance["inputs"]["layer: Stråk"]["where"] == "klass = 'regional'"
    assert image.provenance["inputs"]["layer: Stråk"]["licence"] == "Region Skåne (exempel)"
    summary = image.summary()
    assert summary["layers"] == [
        {"name": "Stråk", "kind": "corridor", "features": 2, "geometry": ["LineString"],
         "file": "plan.gpkg", "where": "klass = 'regional'",
         "licence": "Region Skåne (exempel)"},
        {"name": "Grönstruktur", "kind": "green", "features": 1, "geometry": ["Polygon"],
         "file": "gront.geojson", "where": None, "licence": ""},
        {"name": "Stationer", "kind": "infrastructure", "features": 2, "geometry": ["Point"],
         "file": "plan.gpkg", "where": None, "licence": ""}]


def test_every_output_has_the_layers(plan_dir: Path, capsys: pytest.CaptureFixture[str]
                                     ) -> None:
    assert main(["build", str(plan_dir / "p.toml"), "--out", str(plan_dir / "out")]) == 0, \
        capsys.readouterr().err
    out = plan_dir / "out"
    page = page_data((out / "skane_lager.html").read_text(encoding="utf-8"))
    assert [y["name"] for y in page["layers"]] == ["Stråk", "Grönstruktur", "Stationer"]
    assert ["layer-0", "Stråk", True] in page["overlays"]
    for name in ("Stråk", "Grönstruktur", "Stationer"):
        assert name in page["legend"]
    # the source line names the layers' licences too
    assert "Region Skåne (exempel)" in page["source"]
    layers = [str(n) for n in pyogrio.list_layers(out / "skane_lager.gpkg")[:, 0]]
    assert {"layer_strak", "layer_gronstruktur", "layer_stationer"} <= set(layers)
    strak = gpd.read_file(out / "skane_lager.gpkg", layer="layer_strak")
    assert strak["namn"].tolist() == ["Västkuststråket", "Södra stambanan"]
    with sqlite3.connect(out / "skane_lager.gpkg") as con:
        (qml,) = con.execute("SELECT styleQML FROM layer_styles WHERE f_table_name = "
                             "'layer_strak'").fetchone()
        (ident, desc) = con.execute("SELECT identifier, description FROM gpkg_contents "
                                    "WHERE table_name = 'layer_strak'").fetchone()
    root = ET.fromstring(qml.split("\n", 1)[1])
    opts = {o.get("name"): o.get("value") for o in root.iter("Option")}
    assert opts["line_color"] == "158,111,184,255" and opts["line_width"] == "16"
    assert ident == "Skåne med stråk: Stråk"
    assert "Stråk. Eget lager (corridor) ur plan.gpkg." in desc
    summary = json.loads((out / "skane_lager.json").read_text(encoding="utf-8"))
    assert [x["name"] for x in summary["layers"]] == ["Stråk", "Grönstruktur", "Stationer"]
    svg = (out / "skane_lager.svg").read_text(encoding="utf-8")
    for gid in ("layer-0-lines", "layer-1", "layer-2-points", "legend-layer-0"):
        assert f'id="{gid}"' in svg, gid


def test_mixed_geometries_are_written_one_layer_per_kind(plan_dir: Path) -> None:
    mixed = gpd.GeoDataFrame({"namn": ["a", "b"]},
                             geometry=[shapely.Point(380_000, 6_170_000),
                                       shapely.LineString([(380_000, 6_170_000),
                                                           (390_000, 6_180_000)])], crs=3006)
    mixed.to_file(plan_dir / "mixed.geojson")
    frame = read_layer(LayerSource("Blandat", plan_dir / "mixed.geojson"))
    assert frame.geom_type.tolist() == ["Point", "LineString"]
    text = (plan_dir / "p.toml").read_text(encoding="utf-8")
    (plan_dir / "p.toml").write_text(text + '\n[[layers]]\nname = "Blandat"\n'
                                     'path = "mixed.geojson"\n', encoding="utf-8")
    out = build(load_project(plan_dir / "p.toml")).to_gpkg(plan_dir / "m.gpkg")
    layers = [str(n) for n in pyogrio.list_layers(out)[:, 0]]
    assert "layer_blandat_points" in layers and "layer_blandat_lines" in layers


@pytest.mark.parametrize(("table", "match"), [
    ('name = "X"\npath = "plan.gpkg"\nkind = "motorway"', "layers\\[0\\].kind"),
    ('name = "X"\npath = "plan.gpkg"\ncolour = "green"', "layers\\[0\\].colour"),
    ('name = "X"\npath = "plan.gpkg"\nopacity = 1.5', "layers\\[0\\].opacity"),
    ('name = "X"\npath = "plan.gpkg"\ndash = "long"', "layers\\[0\\].dash"),
    ('name = "X"', "layers\\[0\\].path"),
    ('name = "X"\npath = "plan.gpkg"\nwhere = ""', "layers\\[0\\].where"),
], ids=["kind", "colour", "opacity", "dash", "no-path", "empty-where"])
def test_bad_layer_tables_name_the_key(plan_dir: Path, table: str, match: str) -> None:
    (plan_dir / "bad.toml").write_text(f'[project]\nname = "x"\n[[layers]]\n{table}\n',
                                       encoding="utf-8")
    with pytest.raises(ConfigError, match=match):
        load_project(plan_dir / "bad.toml")


def test_two_layers_of_one_name_are_refused(plan_dir: Path) -> None:
    (plan_dir / "bad.toml").write_text(
        '[project]\nname = "x"\n[[layers]]\nname = "A"\npath = "a.gpkg"\n'
        '[[layers]]\nname = "A"\npath = "b.gpkg"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"layers\[1\].name.*already defined"):
        load_project(plan_dir / "bad.toml")


def test_bad_layer_files_exit_2(plan_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (plan_dir / "p.toml").read_text(encoding="utf-8")
    (plan_dir / "p.toml").write_text(text.replace("klass = 'regional'", "klass = 'ingen'"),
                                     encoding="utf-8")
    assert main(["build", str(plan_dir / "p.toml"), "--out", str(plan_dir / "o")]) == 2
    err = capsys.readouterr().err
    assert "plan.gpkg" in err and "layer 'strak'" in err and "klass = 'ingen'" in err
    (plan_dir / "p.toml").write_text(text.replace('"gront.geojson"', '"saknas.geojson"'),
                                     encoding="utf-8")
    assert main(["validate", str(plan_dir / "p.toml")]) == 2
    assert "saknas.geojson" in capsys.readouterr().err
    assert not (plan_dir / "o").exists()


def test_missing_geometry_and_empty_filters(plan_dir: Path) -> None:
    broken = gpd.GeoDataFrame({"namn": ["a", "b"]},
                              geometry=[shapely.Point(380_000, 6_170_000), None], crs=3006)
    broken.to_file(plan_dir / "broken.gpkg")
    with pytest.raises(InvalidGeometryError, match="row 2: geometry is missing"):
        read_layer(LayerSource("Trasigt", plan_dir / "broken.gpkg"))
    with pytest.raises(EmptyInputError, match="matches none"):
        read_layer(LayerSource("Tomt", plan_dir / "broken.gpkg", where="namn = 'c'"))


# --------------------------------------------------------------------------- dash patterns


@pytest.mark.parametrize(("dash", "why"), [
    ("0", "got 0 in '0'"),
    ("0 0", "got 0 in '0 0'"),
    ("0.000001 0.000001", "got 1e-06"),
    ("0.4 4", "got 0.4"),
    ("0.5 0.5", "adds up to 1"),
    ("1 1 1 1 1 1 1 1 1", "got 9 lengths"),
    ("5000 5", "got 5000"),
    ("6,3", "got '6,3'"),
], ids=["zero", "zeros", "tiny", "one-tiny", "short", "nine", "huge", "comma"])
def test_dash_patterns_a_renderer_would_spin_on_are_refused(
        plan_dir: Path, dash: str, why: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A pattern of zeros or near-zero lengths made matplotlib's PNG writer hang (one
    dash per pattern length along every line); validate accepted it."""
    text = (plan_dir / "p.toml").read_text(encoding="utf-8")
    (plan_dir / "p.toml").write_text(text.replace('kind = "corridor"\n',
                                                  f'kind = "corridor"\ndash = "{dash}"\n'),
                                     encoding="utf-8")
    with pytest.raises(ConfigError, match=r"layers\[0\].dash") as info:
        load_project(plan_dir / "p.toml")
    assert why in str(info.value)
    assert main(["validate", str(plan_dir / "p.toml")]) == 2
    err = capsys.readouterr().err
    assert "p.toml" in err and "layers[0].dash" in err and "at most 8 dash and gap" in err


@pytest.mark.parametrize("dash", ["", "6 3", "0.5 1.5", "2", "1 1 1 1 1 1 1 1", "1000 1000"])
def test_the_finest_dash_patterns_allowed_are_drawn(plan_dir: Path, dash: str) -> None:
    """The smallest patterns allowed print quickly, on the longest lines of the map."""
    layer = LayerSource("Stråk", plan_dir / "plan.gpkg", layer="strak", kind="area",
                        dash=dash, width=0.5)
    assert layer.style["dash"] == dash
    text = (plan_dir / "p.toml").read_text(encoding="utf-8")
    (plan_dir / "p.toml").write_text(
        text.replace('kind = "corridor"\n', f'kind = "area"\ndash = "{dash}"\nwidth = 0.5\n')
        .replace('["html", "gpkg", "json", "svg"]', '["png"]'), encoding="utf-8")
    start = time.monotonic()
    assert main(["build", str(plan_dir / "p.toml"), "--out", str(plan_dir / "o")]) == 0
    assert time.monotonic() - start < 60
    assert (plan_dir / "o" / "skane_lager.png").stat().st_size > 10_000
