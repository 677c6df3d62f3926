"""The context beyond the project: places of the neighbouring län and countries, ferries.

On the bundled Skåne example (which has no Swedish places outside Skåne, so the
shipped towns stand in): København and Helsingør (Köpenhamn, Helsingör in Swedish)
and the ferry HH-leden are in the web page's data, on the print map, in the
GeoPackage and the summary, without any fetch; in a browser their names are grey and
never overlap the places' names.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import geopandas as gpd
import pyogrio
import pytest

from strukturbild import build, example_project, load_project
from strukturbild.errors import StrukturbildWarning
from strukturbild.image import OwnLayer, StructureImage
from strukturbild.render.static import static_map_bytes
from strukturbild.render.web import web_map_html
from strukturbild.sources.context import (
    context_frame,
    context_places,
    ferry_table,
    shipped_places,
)
from strukturbild.sources.example import example_dir

from .._support.browser import PageLog, browser, chromium_missing, open_map, settle
from ..conftest import REPO

DATA = REPO / "src" / "strukturbild" / "data" / "base"


def _page_data(page: str) -> Any:
    m = re.search(r'<script type="application/json" id="strukturbild-data">(.*?)</script>',
                  page, flags=re.S)
    assert m
    return json.loads(m.group(1))


def _svg_texts(svg: bytes) -> list[str]:
    return [re.sub(r"<[^>]+>", "", t) for t in
            re.findall(r"<text[^>]*>(.*?)</text>", svg.decode("utf-8"), flags=re.S)]


@pytest.fixture(scope="module")
def example() -> StructureImage:
    return build(example_project())


# --------------------------------------------------------------------------- shipped data


def test_shipped_places_are_the_make_scripts() -> None:
    """The committed table is what geodata/context/make_context.py makes (its digest)."""
    spec = importlib.util.spec_from_file_location(
        "make_context", REPO / "geodata" / "context" / "make_context.py")
    assert spec and spec.loader
    make = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make)
    data = (DATA / "context_places.csv").read_bytes()
    assert hashlib.sha256(data).hexdigest() == make.EXPECTED["context_places.csv"]
    assert len(data) < 40_000
    places = shipped_places()
    assert len(places) == 414 and places["geonameid"].is_unique
    by = places.set_index("name")
    assert by.loc["København", ["name_sv", "name_en"]].tolist() == ["Köpenhamn", "Copenhagen"]
    assert by.loc["Helsinki", "name_sv"] == "Helsingfors"
    # the Nordic and Baltic towns from 15 000, elsewhere from 50 000, and the ports
    nordic = places["iso_a3"].isin(["SWE", "NOR", "DNK", "FIN", "ALA", "EST", "LVA", "LTU"])
    ports = {"Grenaa", "Rønne", "Sassnitz", "Travemünde", "Strömstad", "Holmsund", "Nynäshamn"}
    small = places[~places["name"].isin(ports)]
    assert (small.loc[nordic, "population"] >= 15_000).all()
    assert (small.loc[~nordic, "population"] >= 50_000).all()
    assert ports <= set(places["name"])


def test_ferry_table_lines_run_over_the_sea() -> None:
    """Every shipped ferry line stays off land, but for its two ports (1.5 km)."""
    from strukturbild.sources.base import land

    ferries = ferry_table().to_crs(3006)
    ground = land("detail")
    ground = ground[ground["kind"] == "land"].union_all()
    for name, line in zip(ferries["name_sv"], ferries.geometry, strict=True):
        ends = line.boundary.buffer(1500)
        over = line.difference(ends).intersection(ground).length
        assert over < 0.02 * line.length + 1500, (name, over)
    assert "Helsingborg–Helsingör (HH-leden)" in set(ferries["name_sv"])


def test_context_leaves_out_the_project_and_crowds() -> None:
    project = example_project()
    image = build(project)
    ctx = image.context
    assert ctx is not None
    names = list(ctx["name_sv"])
    assert names[0] == "Köpenhamn" and "Helsingör" in names
    assert not {"Malmö", "Helsingborg", "Lund", "Frederiksberg", "Ballerup"} & set(names)
    assert (ctx["population"] >= 20_000).all() and ctx["population"].is_monotonic_decreasing
    assert image.provenance["context"]["licence"] == "CC BY 4.0 (GeoNames)"
    assert "Helsingborg–Helsingör (HH-leden)" in set(image.ferries["name_sv"])


# --------------------------------------------------------------------------- the example


def test_example_page_names_copenhagen_helsingor_and_the_ferry(example: StructureImage
                                                               ) -> None:
    data = _page_data(web_map_html(example))
    assert "context" in data["order"]
    names = [p[0] for p in data["context"]["p"]]
    assert {"Köpenhamn", "Helsingör"} <= set(names)
    assert data["context"]["f"] and data["context"]["style"]["dashArray"] == "6 4"
    assert "GeoNames" in data["source"]
    en = _page_data(web_map_html(dataclasses.replace(example, language="en")))
    assert {"Copenhagen", "Helsingør"} <= {p[0] for p in en["context"]["p"]}


def test_example_print_map_names_them(example: StructureImage) -> None:
    svg = static_map_bytes(example, "svg")
    texts = _svg_texts(svg)
    assert "Köpenhamn" in texts and "Helsingör" in texts
    assert 'id="context-ferries"' in svg.decode() and 'id="context-places"' in svg.decode()
    assert any("GeoNames" in t for t in texts)
    assert "Ort utanför regionen" in texts and "Färjeled" in texts


def test_example_geopackage_and_summary(example: StructureImage, tmp_path: Path) -> None:
    out = example.to_gpkg(tmp_path / "s.gpkg")
    ctx = gpd.read_file(out, layer="context")
    assert list(ctx.columns) == ["name", "iso_a3", "population", "source", "geometry"]
    assert {"Köpenhamn", "Helsingör"} <= set(ctx["name"])
    assert ctx.crs.to_epsg() == 3006 and (ctx.geom_type == "Point").all()
    ferries = gpd.read_file(out, layer="ferries")
    assert "Helsingborg–Helsingör (HH-leden)" in set(ferries["name"])
    styles = dict(pyogrio.read_dataframe(out, layer="layer_styles", read_geometry=False)[
        ["f_table_name", "styleQML"]].itertuples(index=False))
    assert "context" in styles and "ferries" in styles
    summary = example.summary()
    assert {"Köpenhamn", "Helsingör"} <= set(summary["context_places"])


def test_context_off(example: StructureImage, tmp_path: Path) -> None:
    options = example.options(context=False)
    data = _page_data(web_map_html(example, options))
    assert "context" not in data["order"] and "context" not in data
    assert "GeoNames" not in data["source"]
    project = dataclasses.replace(example_project(),
                                  map=example_project().map.replace(context=False))
    image = build(project)
    assert image.context is None and image.ferries is None
    assert "context" not in [str(n) for n in pyogrio.list_layers(
        image.to_gpkg(tmp_path / "s.gpkg"))[:, 0]]


def test_swedish_places_come_from_the_rows_the_filter_leaves_out(tmp_path: Path) -> None:
    """Without Helsingborg and Landskrona in the project (and without areas), the places
    file's own rows name them, and the shipped Swedish towns give way."""
    text = (example_dir() / "project.toml").read_text(encoding="utf-8")
    text = text.replace('path = "tatorter_2020.csv"',
                        f'path = "{(example_dir() / "tatorter_2020.csv").as_posix()}"\n'
                        "where = \"kommun_code NOT IN ('1283', '1282')\"")
    text = text.replace('path = "jobs_2024.csv"',
                        f'path = "{(example_dir() / "jobs_2024.csv").as_posix()}"')
    text = re.sub(r"\[areas\]\n.*?\n\n", "", text, flags=re.S)
    (tmp_path / "p.toml").write_text(text, encoding="utf-8")
    project = load_project(tmp_path / "p.toml")
    assert project.areas is None
    with pytest.warns(StrukturbildWarning, match="not among the places"):
        image = build(project)  # Helsingborg is designated by Region Skåne
    ctx = image.context.set_index("name_sv")
    assert ctx.loc["Helsingborg", "source"] == "places"
    assert int(ctx.loc["Helsingborg", "population"]) == 113828  # SCB's, not GeoNames'
    assert (image.context.loc[image.context["iso_a3"] == "SWE", "source"] == "places").all()
    assert "Malmö" not in ctx.index  # a place of the project
    assert image.provenance["context"]["from_places_file"] >= 1


def test_context_places_file_and_min_population(tmp_path: Path) -> None:
    import shapely

    # a file of SCB's form, with a CRS: the neighbours' tätorter
    # (Olofström's population made up: over the 50 000 the project asks for)
    gpd.GeoDataFrame({"tatortskod": ["1060TC101", "1380TC101"],
                      "tatort": ["Olofström", "Halmstad"], "bef": [60_000, 49_000]},
                     geometry=[shapely.Point(14.5320, 56.2770), shapely.Point(12.8578, 56.6745)],
                     crs=4326).to_file(tmp_path / "grannar.geojson")
    text = (example_dir() / "project.toml").read_text(encoding="utf-8")
    text = text.replace('path = "tatorter_2020.csv"',
                        f'path = "{(example_dir() / "tatorter_2020.csv").as_posix()}"')
    text = text.replace('path = "kommuner_skane.geojson"',
                        f'path = "{(example_dir() / "kommuner_skane.geojson").as_posix()}"')
    text = text.replace('path = "jobs_2024.csv"',
                        f'path = "{(example_dir() / "jobs_2024.csv").as_posix()}"')
    text = text.replace("[map]\n", "[map]\ncontext_places = \"grannar.geojson\"\n"
                                   "context_min_population = 50000\n")
    (tmp_path / "p.toml").write_text(text, encoding="utf-8")
    project = load_project(tmp_path / "p.toml")
    assert Path(project.map.context_places or "") == tmp_path / "grannar.geojson"
    assert tmp_path / "grannar.geojson" in project.input_paths()
    image = build(project)
    ctx = image.context.set_index("name_sv")
    # the file stands in for Sweden: its Olofström, and not its Halmstad (under 50 000),
    # nor the shipped Halmstad (70 480)
    assert ctx.loc["Olofström", "source"] == "places" and "Halmstad" not in ctx.index
    assert (ctx["population"] >= 50_000).all() and "Köpenhamn" in ctx.index
    assert image.provenance["context"]["sweden"]["file"] == "grannar.geojson"


def test_ferries_fetched_from_osm_stand_in_for_the_table(example: StructureImage) -> None:
    import shapely

    osm = gpd.GeoDataFrame({"route": ["ferry"], "name": ["HH-leden"]},
                           geometry=[shapely.LineString([(356000, 6213000),
                                                         (351600, 6212700)])], crs=3006)
    project = example_project()
    from strukturbild.pipeline import _context

    ctx, ferries, info = _context(project, example.places, example.areas,
                                  (OwnLayer("Färjeleder", "infrastructure", osm, {}),))
    assert ferries is None and ctx is not None
    assert "own layer" in info["ferries"]["source"]


def test_national_map_shows_only_large_places() -> None:
    sweden = (277_000.0, 6_134_000.0, 917_000.0, 7_670_000.0)
    ctx = context_places(context_frame(sweden))
    assert (ctx["population"] >= 100_000).all()
    assert {"Oslo", "Helsingfors", "Köpenhamn"} <= set(ctx["name_sv"])


# --------------------------------------------------------------------------- browser


@pytest.mark.browser
def test_context_labels_are_grey_and_never_cover_place_labels(example: StructureImage,
                                                              tmp_path: Path) -> None:
    missing = chromium_missing()
    if missing:
        pytest.skip(missing)
    html = example.to_html(tmp_path / "skane.html")
    with browser(tmp_path / "profile") as context:
        log = PageLog()
        page = open_map(context, html, log, viewport=(1400, 900))
        seen: set[str] = set()
        for step in range(3):
            settle(page)
            labels = page.evaluate("""() => Array.from(document.querySelectorAll(
                '.sb-label.sb-on')).map(e => {const r = e.getBoundingClientRect();
                const s = getComputedStyle(e);
                return {t: e.textContent, ctx: e.classList.contains('sb-context'),
                        c: s.color, w: s.fontWeight, b: [r.left, r.top, r.right, r.bottom]};})""")
            context_labels = [x for x in labels if x["ctx"]]
            seen |= {x["t"] for x in context_labels}
            assert all(x["c"] == "rgb(119, 114, 106)" and x["w"] == "400"
                       for x in context_labels)
            places = [x for x in labels if not x["ctx"]]
            assert places and all(x["c"] != "rgb(119, 114, 106)" for x in places)
            for a in context_labels:
                for b in labels:
                    if a is b:
                        continue
                    overlap = a["b"][0] < b["b"][2] and b["b"][0] < a["b"][2] and \
                        a["b"][1] < b["b"][3] and b["b"][1] < a["b"][3]
                    assert not overlap, (step, a["t"], b["t"])
            page.evaluate("() => { window.strukturbild.map.zoomIn(1, {animate: false}); }")
        assert {"Köpenhamn", "Helsingör"} <= seen
        assert not log.requests and not log.page_errors and not log.console_errors
