"""One scene, every output: the web map, the print map and the QGIS styles draw what
``render/_scene.py`` decides, and every legend row matches something drawn.

The case of issue 18: Sörmland built without jobs has three role levels (lokal kärna,
serviceort, övrig tätort), and 0.2 drew every link "regional" and showed print legend
rows for link styles no link was drawn in. The tätorter and kommuner are read from
../shared at test time (never copied here).
"""

from __future__ import annotations

import dataclasses
import html.parser
import json
import re
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from strukturbild.analysis.links import higher_roles, link_scopes
from strukturbild.config import MapOptions
from strukturbild.errors import ConfigError, InvalidValueError
from strukturbild.export.geopackage import write_geopackage
from strukturbild.image import StructureImage
from strukturbild.pipeline import build
from strukturbild.render._scene import link_style_table, scene_of
from strukturbild.render.static import static_map_bytes
from strukturbild.render.style import LINK_CLASS_STYLE, REGIONAL_LINK_COLOUR
from strukturbild.render.web import web_map_html
from strukturbild.sources.example import example_project

from .._support.web import page_data
from ..conftest import REPO

SVG = "{http://www.w3.org/2000/svg}"
ORDER = ["storstad", "regional_karna", "lokal_karna", "serviceort", "ovrig_tatort"]


@pytest.fixture(scope="module")
def example() -> StructureImage:
    return build(example_project())


# --------------------------------------------------------------------------- scopes


@pytest.mark.parametrize(("present", "higher"), [
    (ORDER, ["storstad", "regional_karna", "lokal_karna"]),
    (ORDER[1:], ["regional_karna", "lokal_karna", "serviceort"]),
    (ORDER[2:], ["lokal_karna", "serviceort"]),  # Sörmland without jobs
    (ORDER[3:], ["serviceort"]),
    (ORDER[4:], []),
], ids=["five-levels", "four", "three", "two", "one"])
def test_regional_means_between_the_higher_roles_whatever_levels_are_present(
        present: list[str], higher: list[str]) -> None:
    assert higher_roles(ORDER, set(present), 3) == higher


def test_sormland_without_jobs_is_not_all_regional(sormland: StructureImage) -> None:
    roles = sormland.places["role"].astype(str)
    assert set(roles) == {"lokal_karna", "serviceort", "ovrig_tatort"}
    links = sormland.links
    regional = links["regional"].to_numpy()
    assert 0 < regional.sum() < len(links)  # 0.2: every one of the 132
    ends = pd.concat([links["origin"], links["destination"]]).map(roles)
    both = pd.concat([links["regional"], links["regional"]])
    assert set(ends[both.to_numpy()]) == {"lokal_karna", "serviceort"}
    assert (~links["axis"] | links["regional"]).all()  # an axis is a regional link
    # the scene draws a weak regional link as regional only when it is an axis
    scene = scene_of(sormland, sormland.map_options, "web")
    drawn = scene.links.set_index(["origin", "destination"])["style"]
    for row in links.itertuples():
        scope = "regional" if row.regional and (row.link_class != "weak" or row.axis) \
            else "local"
        assert drawn[(row.origin, row.destination)] == f"{scope}-{row.link_class}"


def test_scopes_are_the_images_own_columns(example: StructureImage) -> None:
    """Computed once when the image is built; the GeoPackage writes them as they are."""
    scopes = link_scopes(example.links, example.places["role"],
                         [r.key for r in example.roles], levels=3)
    assert example.links[["regional", "axis"]].equals(scopes)
    # a map's label_roles names places; which links are regional the image says
    two = scene_of(example, example.options(label_roles=1), "web")
    assert two.labelled == ("tillvaxtmotor",)
    assert set(two.links["style"]) == set(scene_of(example, example.map_options,
                                                   "web").links["style"])


# --------------------------------------------------------------------------- legends


class _Rows(html.parser.HTMLParser):
    """The link rows of the web legend: data-key → the line's stroke, opacity, dashes."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, tuple[str, float, str]] = {}
        self._key: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("data-key", "") and str(a["data-key"]).startswith("link-"):
            self._key = str(a["data-key"]).removeprefix("link-")
        elif tag == "line" and self._key is not None:
            self.rows[self._key] = (str(a["stroke"]), float(str(a["stroke-opacity"])),
                                    str(a.get("stroke-dasharray") or ""))
            self._key = None


def _web(image: StructureImage, options: MapOptions) -> tuple[set[str], dict[str, Any]]:
    """The styles the web map's links are drawn in, and its legend's link rows."""
    data = page_data(web_map_html(image, options))
    sty = data["links"]["sty"]
    drawn = {(s[0], s[2], " ".join(f"{v:g}" for v in (s[1] or []))) for s in
             (sty[k] for k in data["links"]["k"])}
    parser = _Rows()
    parser.feed(data["legend"])
    return drawn, parser.rows


def _print(image: StructureImage, options: MapOptions) -> tuple[set[str], set[str]]:
    """The link styles the print map draws (its shapes' ids) and its legend rows' ids."""
    ids = {el.get("id", "") for el in ET.fromstring(static_map_bytes(image, "svg",
                                                                     options)).iter()}
    return ({i.removeprefix("links-") for i in ids if i.startswith("links-")},
            {i.removeprefix("legend-link-") for i in ids if i.startswith("legend-link-")})


def _qgis(image: StructureImage, options: MapOptions, path: Path
          ) -> tuple[set[str], dict[str, tuple[str, str]]]:
    """The categories of the links the GeoPackage holds (as QGIS's expression makes
    them) and the links style's categories: value → (label, rendered)."""
    import geopandas as gpd

    out = write_geopackage(image, path, options)
    links = gpd.read_file(out, layer="links")
    regional = links["regional"].astype(bool) & ((links["link_class"] != "weak") |
                                                 links["axis"].astype(bool))
    held = {f"{'regional' if r else 'local'}_{c}"
            for r, c in zip(regional, links["link_class"], strict=True)}
    with sqlite3.connect(out) as con:
        (qml,) = con.execute("SELECT styleQML FROM layer_styles WHERE f_table_name = "
                             "'links'").fetchone()
    root = ET.fromstring(qml.split("\n", 1)[1])
    cats = {c.get("value", ""): (c.get("label", ""), c.get("render", ""))
            for c in root.iter("category")}
    return held, cats


@pytest.mark.parametrize("weak_links", [False, True], ids=["weak-off", "weak-on"])
@pytest.mark.parametrize("case", ["sormland", "example", "one-role"])
def test_every_legend_row_matches_a_drawn_link_on_every_output(
        case: str, weak_links: bool, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    if case == "one-role":  # no hierarchy: no regional link
        image = request.getfixturevalue("hostile_image")
        image = dataclasses.replace(image, places=image.places.assign(
            role=pd.Categorical(["nav"] * 5, categories=["nav", "ort"], ordered=True)),
            links=image.links.assign(regional=False, axis=False))
    else:
        image = request.getfixturevalue(case)
    # the spokes drawn (with stråk they are off at start on the web, left out in print)
    options = image.options(weak_links=weak_links, spokes=True)
    table = {s.key: s for s in link_style_table(image.language)}
    # web: each legend row in the style of links drawn, and a row for each style drawn
    drawn, rows = _web(image, options)
    assert drawn == {(table[k].colour, table[k].opacity, table[k].dash) for k in rows}
    for key, (stroke, opacity, dash) in rows.items():
        assert (stroke, opacity, dash) == (table[key].colour, table[key].opacity,
                                           table[key].dash)
    # print: a legend row per style drawn, none other
    shapes, legend = _print(image, options)
    assert shapes == legend
    # QGIS: a category per style the file's links are drawn in, labelled as the maps
    held, cats = _qgis(image, options, tmp_path / "s.gpkg")
    assert set(cats) == held
    for value, (label, rendered) in cats.items():
        style = table[value.replace("_", "-")]
        assert label == style.label
        assert rendered == ("true" if style.layer == "links" or weak_links else "false")
    # the print map leaves the weak links out unless asked; web and QGIS hold them all
    assert legend == set(rows) - ({"local-weak"} if not weak_links else set())
    assert {k.replace("-", "_") for k in rows} == held
    if case == "sormland":
        assert set(rows) >= {"regional-strong", "local-strong"}
    if case == "one-role":
        assert not any(k.startswith("regional") for k in rows)


def test_styles_are_told_apart_and_every_row_says_what_it_is(example: StructureImage) -> None:
    """Issue 18: "Lokalt samband" and "Starkt samband" looked identical; the lighter red
    of medium and weak regional links was not explained."""
    scene = scene_of(example, example.map_options, "web")
    (links,) = [s for s in scene.legend if s.layer == "links"]
    rows = {r.key: r for r in links.rows if r.key.startswith("link-")}
    looks = [(r.colour, r.opacity, r.dash) for r in rows.values()]
    assert len(set(looks)) == len(looks) == 5
    assert rows["link-regional-medium"].label == "Regionalt samband, medelstarkt"
    assert rows["link-regional-medium"].colour == REGIONAL_LINK_COLOUR
    assert rows["link-regional-medium"].opacity < rows["link-regional-strong"].opacity
    assert rows["link-local-strong"].label == "Lokalt samband, starkt"
    notes = [r.label for r in links.rows if r.kind == "note"]
    assert "Regionala samband går mellan orter med rollerna tillväxtmotor, regional kärna " \
        "och lokal kärna." in notes
    # the widths are explained in the colour of links drawn
    widths = [r for r in links.rows if r.key.startswith("width-")]
    assert widths and {r.colour for r in widths} == {LINK_CLASS_STYLE["strong"][0]}


def test_widths_in_the_regional_colour_when_no_local_link_is_drawn(
        hostile_image: StructureImage) -> None:
    image = hostile_image
    links = image.links.assign(regional=True, axis=image.links["link_class"] == "weak")
    scene = scene_of(dataclasses.replace(image, links=links), image.map_options, "print")
    (section,) = [s for s in scene.legend if s.layer == "links"]
    assert {r.colour for r in section.rows if r.key.startswith(("width-", "taper"))} == \
        {REGIONAL_LINK_COLOUR}
    assert not [s for s in scene.legend if s.layer == "weak"]


def test_one_scene_for_every_output(sormland: StructureImage) -> None:
    """The web map's layers and legend are the scene's, and the print map's legend the same
    rows but the weak links'."""
    web = scene_of(sormland, sormland.map_options, "web")
    data = page_data(web_map_html(sormland))
    assert data["order"] == [x.key for x in web.layers]
    assert data["overlays"] == [[x.key, x.name, x.visible] for x in web.layers]
    assert data["source"] == web.source
    print_ = scene_of(sormland, sormland.map_options, "print")
    # print draws the stråk, not the spokes (the links are off at start on the web)
    assert [s.layer for s in print_.legend] == [s.layer for s in web.legend
                                                if s.layer not in ("weak", "links")]
    assert [x.key for x in web.layers if not x.visible] == ["links", "weak"]
    assert print_.labelled == web.labelled == ("lokal_karna", "serviceort", "ovrig_tatort")
    rows = {s.layer: s.rows for s in web.legend}
    for section in print_.legend:
        assert section.rows == rows[section.layer], section.layer


# --------------------------------------------------------------------------- options


def test_map_options_are_typed_and_validated(example: StructureImage) -> None:
    with pytest.raises(ConfigError, match="unknown map option 'colour'"):
        example.render("html", colour="red")
    with pytest.raises(ConfigError, match="map.dpi"):
        example.options(dpi=0)
    with pytest.raises(ConfigError, match="map.min_link_flow"):
        MapOptions(min_link_flow=-1)
    with pytest.raises(ConfigError, match="map.paper"):
        MapOptions(paper="A5")  # type: ignore[arg-type]
    with pytest.raises(InvalidValueError, match="size_mm"):
        example.render("html", size_mm=(200, 200))
    assert example.render("svg", size_mm=(120, 100), dpi=50).startswith(b"<?xml")
    with pytest.raises(InvalidValueError, match="map_options"):
        dataclasses.replace(example, map_options=42)  # type: ignore[arg-type]
    # a mapping (0.2's JSON-able options) is validated into MapOptions
    again = dataclasses.replace(example, map_options=json.loads(json.dumps(
        dataclasses.asdict(example.map_options))))
    assert again.map_options == example.map_options


def test_each_default_is_written_once() -> None:
    """``label_roles``, ``weak_links`` and ``paper`` have their default in MapOptions only."""
    text = "\n".join(p.read_text(encoding="utf-8")
                     for p in (REPO / "src" / "strukturbild").rglob("*.py"))
    assert len(re.findall(r"\blabel_roles: int = \d", text)) == 1
    assert len(re.findall(r"\bweak_links: bool = (?:False|True)", text)) == 1
    assert len(re.findall(r"\bpaper: [^=\n]*= *\\?\s*\"A[34]-", text)) == 1
