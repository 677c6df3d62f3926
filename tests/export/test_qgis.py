"""QGIS opens the GeoPackages styled like the web map.

QGIS's Python bindings live in the system Python (Debian ``python3-qgis``), not in
the project's venv, so a small script (``QGIS_SCRIPT`` below) runs headless in a
subprocess with ``/usr/bin/python3`` (or ``$STRUKTURBILD_QGIS_PYTHON``), opens
every layer as a QGIS user would (QGIS loads the default style from the file's
``layer_styles`` table by itself) and prints what it sees as JSON. QGIS is
started once for all files of the module.

The tests skip when the bindings are absent; with
``STRUKTURBILD_REQUIRE_GIS_TOOLS=1`` (set it in CI) they fail instead.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
import pyogrio
import pytest

from strukturbild.export.geopackage import write_geopackage
from strukturbild.image import StructureImage
from strukturbild.render.qml import (
    LINK_CATEGORY_EXPRESSION,
    link_width_expression,
    place_size_expression,
)
from strukturbild.render.style import (
    LAND,
    REGIONAL_LINK_COLOUR,
    link_style,
    link_width,
    role_styles,
    symbol_radius,
)

from .._support.images import AREAS_LAYERS, split_image

pytestmark = pytest.mark.qgis

QGIS_PYTHON = os.environ.get("STRUKTURBILD_QGIS_PYTHON", "/usr/bin/python3")

#: Run by QGIS's Python: argv[1] is a JSON list of [path, [layer, ...], draw the places?],
#: argv[2] and argv[3] the size and width expressions to evaluate; prints a JSON report.
QGIS_SCRIPT = r'''
import json
import os
import sys

from qgis.core import (Qgis, QgsApplication, QgsExpression, QgsExpressionContext,
                       QgsExpressionContextUtils, QgsMapRendererSequentialJob, QgsMapSettings,
                       QgsVectorLayer)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor


def symbol_report(symbol):
    layers = []
    for i in range(symbol.symbolLayerCount()):
        sl = symbol.symbolLayer(i)
        dd = sl.dataDefinedProperties()
        entry = {"class": sl.layerType(), "colour": sl.color().name(),
                 "data_defined": {str(k): dd.property(k).expressionString()
                                  for k in dd.propertyKeys() if dd.property(k).isActive()}}
        if sl.subSymbol() is not None:
            entry["sub"] = symbol_report(sl.subSymbol())
        layers.append(entry)
    return {"type": symbol.type(), "opacity": symbol.opacity(), "layers": layers}


def evaluate(layer, expression, columns):
    exp = QgsExpression(expression)
    ctx = QgsExpressionContext(QgsExpressionContextUtils.globalProjectLayerScopes(layer))
    exp.prepare(ctx)
    values = []
    for feature in layer.getFeatures():
        ctx.setFeature(feature)
        values.append([feature[c] for c in columns] + [exp.evaluate(ctx)])
    return values, exp.evalErrorString()


def render(layer, size=300):
    """Draw the layer alone on white; return colour -> pixels (colours of 10+ pixels)."""
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(layer.crs())
    settings.setExtent(layer.extent().buffered(5000))
    settings.setOutputSize(QSize(size, size))
    settings.setBackgroundColor(QColor("white"))
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    counts = {}
    for x in range(size):
        for y in range(size):
            colour = image.pixelColor(x, y).name()
            counts[colour] = counts.get(colour, 0) + 1
    return {c: n for c, n in counts.items() if n >= 10}


def layer_report(path, name, draw):
    layer = QgsVectorLayer(f"{path}|layername={name}", name, "ogr")
    out = {"valid": layer.isValid()}
    if not layer.isValid():
        return out
    out.update(features=layer.featureCount(), crs=layer.crs().authid())
    renderer = layer.renderer()
    out["renderer"] = renderer.type()
    if renderer.type() == "categorizedSymbol":
        out["attribute"] = renderer.classAttribute()
        out["categories"] = [[c.value(), c.label(), c.symbol().color().name(),
                              symbol_report(c.symbol()), c.renderState()]
                             for c in renderer.categories()]
        out["order_by"] = renderer.orderBy().dump() if renderer.orderByEnabled() else ""
    elif renderer.type() == "graduatedSymbol":
        out["attribute"] = renderer.classAttribute()
        out["ranges"] = [[r.lowerValue(), r.upperValue(), r.label(), r.symbol().color().name(),
                          symbol_report(r.symbol()), r.symbol().width()]
                         for r in renderer.ranges()]
    elif renderer.type() == "singleSymbol":
        out["symbol"] = symbol_report(renderer.symbol())
    out["labels"] = bool(layer.labelsEnabled())
    labeling = layer.labeling()
    if labeling is not None and labeling.type() == "rule-based":
        out["label_rules"] = [[r.filterExpression(), r.settings().fieldName]
                              for r in labeling.rootRule().children()]
        out["label_merge_lines"] = [r.settings().lineSettings().mergeLines()
                                    for r in labeling.rootRule().children()]
    _n, _ids, names, _descriptions, _err = layer.listStylesInDatabase()
    out["styles_in_database"] = sorted(set(names))
    md = layer.metadata()
    out["metadata"] = {"title": md.title(), "abstract": md.abstract(),
                       "history": list(md.history()), "crs": md.crs().authid(),
                       "licenses": list(md.licenses())}
    if draw:
        out["rendered"] = render(layer)
    if name == "places":
        out["sizes"], out["size_error"] = evaluate(layer, sys.argv[2], ["place_id", "population"])
    if name == "links":
        out["widths"], out["width_error"] = evaluate(layer, sys.argv[3], ["link_id", "total"])
    return out


QgsApplication.setPrefixPath("/usr", True)
app = QgsApplication([], False)
app.initQgis()
report = {"qgis": Qgis.QGIS_VERSION, "files": {}}
for path, names, draw in json.loads(sys.argv[1]):
    report["files"][path] = {name: layer_report(path, name, draw) for name in names}
print(json.dumps(report, default=str), flush=True)
os._exit(0)  # QGIS 3.22 can crash while tearing down; the report is complete
'''


def _missing(what: str) -> None:
    if os.environ.get("STRUKTURBILD_REQUIRE_GIS_TOOLS") == "1":
        pytest.fail(f"{what} (STRUKTURBILD_REQUIRE_GIS_TOOLS=1)")
    pytest.skip(what)


def _has_qgis() -> bool:
    if not Path(QGIS_PYTHON).exists():
        return False
    probe = subprocess.run([QGIS_PYTHON, "-c", "import qgis.core"], capture_output=True,
                           check=False, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    return probe.returncode == 0


# --------------------------------------------------------------------------- files


def _sql(path: Path, *statements: str) -> Path:
    with sqlite3.connect(path) as con:
        for statement in statements:
            con.execute(statement)
    return path


def _copy(src: Path, name: str) -> Path:
    dst = src.with_name(name)
    dst.write_bytes(src.read_bytes())
    return dst


def _files(d: Path, image: StructureImage, with_areas: StructureImage,
           own: StructureImage) -> dict[str, tuple[Path, tuple[str, ...], StructureImage]]:
    """The GeoPackages QGIS opens, by case: (file, layers, image), from the example, the
    example with areas and regions and the example with own layers."""
    example = write_geopackage(image, d / "skane.gpkg")
    areas = write_geopackage(with_areas, d / "kommuner.gpkg")
    polys = image.places.set_geometry(image.places.geometry.buffer(500.0))
    polygons = write_geopackage(dataclasses.replace(image, places=polys), d / "polygons.gpkg")
    west = {"1280", "1281", "1283"}
    appended = write_geopackage(split_image(image, west, "väst"), d / "appended.gpkg")
    write_geopackage(split_image(image, set(image.places["area_id"]) - west, "öst"), appended,
                     mode="append")
    # What makes QGIS fall back to a plain style, each on a copy of the example:
    null_schema = _sql(_copy(example, "null_schema.gpkg"),
                       "UPDATE layer_styles SET f_table_schema = NULL")
    wrong_column = _sql(_copy(example, "wrong_column.gpkg"),
                        "UPDATE layer_styles SET f_geometry_column = 'geometry'")
    unregistered = _copy(example, "unregistered.gpkg")
    pyogrio.write_dataframe(pd.DataFrame({"note": ["x"]}), unregistered, layer="notes",
                            driver="GPKG", append=True)  # another registered attributes table
    _sql(unregistered, "DELETE FROM gpkg_contents WHERE table_name = 'layer_styles'")
    layers = write_geopackage(own, d / "layers.gpkg")
    pair = ("places", "links")
    return {"example": (example, (*pair, "strak", "joint_designations", "base"), image),
            "areas": (areas, AREAS_LAYERS, with_areas),
            "layers": (layers, ("layer_strak", "layer_gronstruktur", "layer_stationer"), own),
            "polygons": (polygons, ("places",), image), "appended": (appended, pair, image),
            "null_schema": (null_schema, pair, image),
            "wrong_column": (wrong_column, pair, image),
            "unregistered": (unregistered, pair, image)}


@pytest.fixture(scope="module")
def qgis(tmp_path_factory: pytest.TempPathFactory, example_image: StructureImage,
         areas_image: StructureImage, layers_image: StructureImage
         ) -> dict[str, dict[str, Any]]:
    """What QGIS sees in each file: case → layer → report."""
    if not _has_qgis():
        _missing(f"QGIS's Python bindings not found for {QGIS_PYTHON} "
                 "(apt-get install python3-qgis qgis-providers)")
    d = tmp_path_factory.mktemp("qgis")
    files = _files(d, example_image, areas_image, layers_image)
    script = d / "qgis_report.py"
    script.write_text(QGIS_SCRIPT, encoding="utf-8")
    drawn = {"example", "areas", "null_schema", "layers"}
    arg = json.dumps([[str(path), list(layers), case in drawn]
                      for case, (path, layers, _) in files.items()])
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(d)}
    result = subprocess.run(
        [QGIS_PYTHON, str(script), arg, place_size_expression(), link_width_expression()],
        capture_output=True, text=True, check=False, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["qgis"].startswith("3.")
    return {case: {**report["files"][str(path)], "image": image}
            for case, (path, _, image) in files.items()}


# --------------------------------------------------------------------------- places


@pytest.mark.parametrize("case", ["example", "areas", "appended"])
def test_places_categorised_by_role_with_the_web_colours(qgis: dict[str, Any],
                                                        case: str) -> None:
    places = qgis[case]["places"]
    assert places["valid"] and places["crs"] == "EPSG:3006"
    assert places["renderer"] == "categorizedSymbol" and places["attribute"] == "role"
    image = qgis[case]["image"]
    styles = role_styles([(r.key, r.label(image.language)) for r in image.roles])
    got = [(v, label, colour) for v, label, colour, _, _ in places["categories"]]
    assert got == [(s.key, s.label, s.colour) for s in styles]
    assert places["order_by"] == '"population" DESC NULLS LAST'  # small places on top
    assert places["styles_in_database"] == ["strukturbild"]


@pytest.mark.parametrize("case", ["example", "areas", "appended"])
def test_place_sizes_follow_symbol_radius(qgis: dict[str, Any], case: str) -> None:
    places = qgis[case]["places"]
    marker = places["categories"][0][3]["layers"][0]
    assert marker["class"] == "SimpleMarker"
    assert marker["data_defined"] == {"0": place_size_expression()}  # 0 = size
    assert places["size_error"] == ""
    assert len(places["sizes"]) == places["features"] > 0
    for place_id, population, size in places["sizes"]:
        assert size == pytest.approx(2 * symbol_radius(population)), place_id


def _on_white(colour: str, opacity: float) -> str:
    rgb = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(opacity * c + (1 - opacity) * 255):02x}" for c in rgb)


@pytest.mark.parametrize("case", ["example", "areas"])
def test_places_drawn_in_role_colours(qgis: dict[str, Any], case: str) -> None:
    """QGIS draws the places in their role colours (at the web map's 0.9 opacity) and labels."""
    image = qgis[case]["image"]
    rendered = qgis[case]["places"]["rendered"]
    styles = role_styles([(r.key, r.label(image.language)) for r in image.roles])
    present = set(image.places["role"].astype(str))
    for s in styles:
        if s.key in present:
            drawn = [c for c in rendered if max(abs(int(c[i:i + 2], 16) - int(
                _on_white(s.colour, 0.9)[i:i + 2], 16)) for i in (1, 3, 5)) <= 2]
            assert drawn, (s.key, s.colour, sorted(rendered, key=rendered.get)[-10:])
    assert rendered.get("#000000", 0) > 0  # label text


def test_plain_fallback_is_drawn_differently(qgis: dict[str, Any]) -> None:
    ours = set(qgis["example"]["places"]["rendered"])
    plain = set(qgis["null_schema"]["places"]["rendered"])
    assert ours - {"#ffffff"} and not (ours - {"#ffffff", "#000000"}) <= plain


def test_labels_for_the_highest_roles(qgis: dict[str, Any]) -> None:
    places = qgis["example"]["places"]
    assert places["labels"] is True
    # the first three roles that have places (no storstad in Skåne), as on the web map
    assert places["label_rules"] == [
        ["\"role\" IN ('tillvaxtmotor', 'regional_karna', 'lokal_karna')", "name"]]


def test_polygon_places(qgis: dict[str, Any]) -> None:
    places = qgis["polygons"]["places"]
    assert places["renderer"] == "categorizedSymbol"
    symbol = places["categories"][1][3]
    assert [lay["class"] for lay in symbol["layers"]] == ["SimpleFill", "CentroidFill"]
    marker = symbol["layers"][1]["sub"]["layers"][0]
    assert marker["data_defined"] == {"0": place_size_expression()}
    assert marker["colour"] == "#b2182b"


# --------------------------------------------------------------------------- links


@pytest.mark.parametrize("case", ["example", "areas", "appended"])
def test_links_by_class_with_widths_by_flow(qgis: dict[str, Any], case: str) -> None:
    links = qgis[case]["links"]
    assert links["renderer"] == "categorizedSymbol"
    assert links["attribute"] == LINK_CATEGORY_EXPRESSION
    pairs = [(scope, cls) for scope in ("regional", "local")
             for cls in ("strong", "medium", "weak")]
    assert [c[0] for c in links["categories"]] == [f"{s}_{c}" for s, c in pairs]
    assert [c[2] for c in links["categories"]] == [
        link_style(c, s == "regional")[0] for s, c in pairs]
    # weak local links are off, as on the web map (a tick in the layer tree shows them);
    # regional ones, weak ones too, are on
    assert [c[4] for c in links["categories"]] == [(s, c) != ("local", "weak")
                                                   for s, c in pairs]
    weak = links["categories"][5][3]
    assert weak["opacity"] == pytest.approx(0.45)
    assert weak["layers"][0]["data_defined"] == {"5": link_width_expression()}  # 5 = width
    # regional over local, strongest on top
    assert links["order_by"] == ('coalesce("regional", false) ASC NULLS LAST, '
                                 '"total" ASC NULLS LAST')
    assert links["width_error"] == ""
    top = max(total for _, total, _ in links["widths"])
    for link_id, total, width in links["widths"]:
        assert width == pytest.approx(link_width(total, top)), link_id


# --------------------------------------------------------------------------- areas, regions


def test_areas_and_regions(qgis: dict[str, Any]) -> None:
    areas, regions = qgis["areas"]["areas"], qgis["areas"]["regions"]
    assert areas["renderer"] == regions["renderer"] == "singleSymbol"
    assert areas["symbol"]["layers"][0]["class"] == "SimpleFill"
    assert areas["symbol"]["layers"][0]["colour"] == "#fbfaf6"
    assert regions["symbol"]["layers"][0]["class"] == "SimpleLine"
    assert regions["symbol"]["layers"][0]["colour"] == "#54278f"
    assert regions["labels"] is True and regions["label_rules"] == [["true", "name"]]
    assert areas["features"] == 33 and regions["features"] > 0


def test_regional_links_drawn_in_their_own_colour(qgis: dict[str, Any]) -> None:
    """QGIS draws the regional links in their colour and leaves the weak ones out."""
    rendered = qgis["example"]["links"]["rendered"]
    local = link_style("strong", False)[0]

    def near(colour: str) -> int:
        return sum(n for c, n in rendered.items() if max(abs(int(c[i:i + 2], 16) - int(
            colour[i:i + 2], 16)) for i in (1, 3, 5)) <= 40)

    assert near(REGIONAL_LINK_COLOUR) > 50 and near(local) > 50


def test_strak_graduated_by_flow_as_the_maps_draw_them(qgis: dict[str, Any]) -> None:
    """QGIS opens the stråk graduated on their flow, a range per width class drawn with
    the maps' colour, width and legend text, and draws them."""
    from strukturbild.render._scene import scene_of
    from strukturbild.render.style import STRAK_STYLE

    strak = qgis["example"]["strak"]
    image = qgis["example"]["image"]
    assert strak["valid"] and strak["renderer"] == "graduatedSymbol"
    assert strak["attribute"] == "flow" and strak["features"] == len(image.strak)
    classes = scene_of(image, image.map_options, "gpkg").strak_classes
    assert [(r[0], r[2], r[3], r[5]) for r in strak["ranges"]] == [
        (c.low, c.label, c.colour, pytest.approx(c.width)) for c in classes]
    assert sum(n for c, n in strak["rendered"].items() if c == STRAK_STYLE[0]) > 100
    assert strak["metadata"]["title"] == "Strukturbild för Skåne: Pendlingsstråk"
    # each stråk named once along its band, its sections merged, as the maps name it
    assert strak["labels"] is True and strak["label_rules"] == [["true", "name"]]
    assert strak["label_merge_lines"] == [True]


def test_joint_designation_and_base(qgis: dict[str, Any]) -> None:
    joint, base = qgis["example"]["joint_designations"], qgis["example"]["base"]
    assert joint["features"] == 1 and joint["attribute"] == "role"
    assert joint["labels"] is True and joint["label_rules"] == [["true", "name"]]
    cats = {v: colour for v, _, colour, _, _ in joint["categories"]}
    assert cats["tillvaxtmotor"] == "#b2182b"
    assert joint["categories"][0][3]["opacity"] == pytest.approx(0.3)
    assert base["symbol"]["layers"][0]["colour"] == LAND
    assert LAND in base["rendered"]  # the land is drawn


def test_own_layers_styled_by_kind(qgis: dict[str, Any]) -> None:
    layers = qgis["layers"]
    corridor, green, stations = (layers[n] for n in ("layer_strak", "layer_gronstruktur",
                                                    "layer_stationer"))
    assert all(x["valid"] and x["crs"] == "EPSG:3006" for x in (corridor, green, stations))
    assert (corridor["features"], green["features"], stations["features"]) == (2, 2, 3)
    assert corridor["symbol"]["layers"][0]["class"] == "SimpleLine"
    assert corridor["symbol"]["layers"][0]["colour"] == "#9e6fb8"
    assert corridor["symbol"]["opacity"] == pytest.approx(0.35)
    assert green["symbol"]["layers"][0]["class"] == "SimpleFill"
    assert stations["symbol"]["layers"][0]["class"] == "SimpleMarker"
    assert corridor["metadata"]["title"] == "Strukturbild för Skåne: Stråk"
    # drawn: the green fill (at 75 % on white) shows in QGIS's picture of the layer
    assert any(max(abs(int(c[i:i + 2], 16) - int("#c7e1b8"[i:i + 2], 16))
                   for i in (1, 3, 5)) <= 4 for c in green["rendered"])


# --------------------------------------------------------------------------- metadata


def test_layer_metadata_shown_by_qgis(qgis: dict[str, Any]) -> None:
    for name in AREAS_LAYERS:
        md = qgis["areas"][name]["metadata"]
        assert md["title"].startswith("Skåne med kommuner: "), name
        assert "modellerade" in md["abstract"] and "EPSG:3006" in md["abstract"]
        assert md["crs"] == "EPSG:3006"
        assert len(md["history"]) == 1
    assert len(qgis["appended"]["places"]["metadata"]["history"]) == 2


# --------------------------------------------------------------------------- fall-backs


@pytest.mark.parametrize("case", ["null_schema", "wrong_column", "unregistered"])
def test_qgis_falls_back_to_a_plain_style(qgis: dict[str, Any], case: str) -> None:
    """The checks above can fail: break what QGIS needs and it silently draws plain."""
    for name in ("places", "links"):
        layer = qgis[case][name]
        assert layer["valid"]
        assert layer["renderer"] == "singleSymbol", (case, name)
