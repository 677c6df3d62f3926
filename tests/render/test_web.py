"""The web map as HTML, without a browser: offline, deterministic, escaped, compact.

The maps are also opened in a real browser in ``test_browser.py``.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import shapely

from strukturbild.config import MapOptions
from strukturbild.errors import ConfigError, StrukturbildError
from strukturbild.image import StructureImage
from strukturbild.pipeline import build
from strukturbild.render import _assets, _scene
from strukturbild.render._assets import AssetError, OnlineAssetError, check_offline
from strukturbild.render.popups import link_texts
from strukturbild.render.web import map_links, web_map_html
from strukturbild.sources.example import example_project

from .._support.web import COPENHAGEN, HOSTILE, MIB, ORESUND, SCRIPT, page_data

# ----------------------------------------------------------------------------- helpers


def decode_polygons(layer: dict[str, Any], q: int) -> list[shapely.Geometry]:
    """The polygons of a layer, as the page's script decodes them (lon, lat)."""
    cursor = np.zeros(2)
    out = []
    for feature in layer["g"]:
        polys = []
        for poly in feature:
            rings = []
            for ring in poly:
                pts = np.cumsum(np.asarray(ring, dtype=float).reshape(-1, 2), axis=0) + cursor
                cursor = pts[-1]
                rings.append(pts[:, ::-1] / q)
            polys.append(shapely.Polygon(rings[0], rings[1:]))
        out.append(shapely.MultiPolygon(polys))
    return out


@pytest.fixture(scope="module")
def example() -> StructureImage:
    return build(example_project())


@pytest.fixture(scope="module")
def example_page(example: StructureImage) -> str:
    return web_map_html(example, example.options(source_note="Källa: SCB"))


# ------------------------------------------------------------------------------- tests


def test_page_needs_no_network(example_page: str) -> None:
    check_offline(example_page)
    assert not re.search(r"<script[^>]*\ssrc=", example_page)
    assert not re.search(r"<link[^>]*\shref=", example_page)
    assert "jsdelivr" not in example_page and "cdnjs" not in example_page
    # Leaflet inlined from the package, with its licence
    assert 't.version="1.9.4"' in example_page
    assert "Copyright (c) 2010-2024, Volodymyr Agafonkin" in example_page
    assert "url(data:image/png;base64," in example_page and "images/layers" not in example_page


def test_same_input_gives_the_same_bytes(example_page: str) -> None:
    image = build(example_project())
    again = web_map_html(image, image.options(source_note="Källa: SCB"))
    assert again == example_page
    assert not re.search(r"[0-9a-f]{32}", example_page)  # no folium uuids


def test_folium_default_page_fails_the_offline_check() -> None:
    import folium

    with pytest.raises(OnlineAssetError, match="cdn.jsdelivr.net") as info:
        check_offline(folium.Map().get_root().render())
    assert isinstance(info.value, StrukturbildError)


@pytest.mark.parametrize("page", [
    '<script src="//cdn.example/x.js"></script>',
    '<link rel="preload" href="https://cdn.example/f.woff2">',
    "<style>@import url('https://fonts.example/css');</style>",
    '<div style="background:url(http://x.example/a.png)"></div>',
], ids=["protocol-relative-script", "preload", "css-import", "style-attribute"])
def test_offline_check_finds_online_assets(page: str) -> None:
    with pytest.raises(OnlineAssetError):
        check_offline(page)


def test_offline_check_lets_links_in_text_pass() -> None:
    check_offline('<a href="https://leafletjs.com">Leaflet</a><script>var u = '
                  '"https://tiles.example/{z}/{x}/{y}.png";</script>')


def test_missing_leaflet_package_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def files(name: str) -> Any:
        raise ModuleNotFoundError(name)

    _assets.leaflet_js.cache_clear()
    monkeypatch.setattr(_assets.resources, "files", files)
    try:
        with pytest.raises(AssetError, match="pip install 'django-js-lib-leaflet"):
            _assets.leaflet_js()
    finally:
        monkeypatch.undo()
        _assets.leaflet_js.cache_clear()


def test_page_holds_the_image(example: StructureImage, example_page: str) -> None:
    data = page_data(example_page)
    assert len(data["places"]["n"]) == len(example.places) == 70
    assert len(data["links"]["o"]) == len(example.links)
    assert data["order"] == ["base", "areas", "context", "strak", "links", "weak", "places"]
    assert data["source"] == ("Källa: SCB; GeoNames (orter utanför regionen; CC BY 4.0), "
                              "Natural Earth (bakgrund; public domain); modellerade flöden")
    legend = data["legend"]
    for role in ("Tillväxtmotor", "Regional kärna", "Serviceort"):
        assert role in legend
    assert "Befolkning (cirkelns yta)" in legend and "Pendlare (linjens bredd)" in legend
    assert "Smalnar av" in legend  # the taper is explained
    # largest place first, so that small ones are drawn on top
    pops = example.places["population"].sort_values(ascending=False)
    assert data["places"]["n"][0] == example.places.loc[pops.index[0], "name"] == "Malmö"


def test_hostile_text_never_reaches_the_page_as_markup(hostile_image: StructureImage) -> None:
    page = web_map_html(hostile_image)
    check_offline(page)
    for attack in (HOSTILE, SCRIPT, "<b>Västra</b>", "<em>ett</em>", "<i>karta</i>"):
        assert attack not in page
    assert "<title>Test &lt;i&gt;karta&lt;/i&gt; &amp; å</title>" in page
    data = page_data(page)
    assert data["places"]["n"][:2] == [HOSTILE, SCRIPT]  # as data, to be set as text
    assert data["title"] == "Test <i>karta</i> & å"
    assert "Nav &lt;em&gt;ett&lt;/em&gt;" in data["legend"]  # the legend is escaped HTML
    assert "<em>" not in data["legend"]


def test_kommuner_are_simplified_and_still_meet(hostile_image: StructureImage) -> None:
    image = hostile_image
    data = page_data(web_map_html(image))
    west, east = decode_polygons(data["areas"], data["q"])
    assert shapely.get_num_coordinates(west) < 50  # the 1 m wiggles are gone
    assert shapely.coverage_is_valid(np.array([west, east]))  # no gap, no overlap
    shared = west.boundary.intersection(east.boundary)
    assert shared.length == pytest.approx(0.27, abs=0.01)  # the whole 30 km border, degrees


def test_english_map(hostile_image: StructureImage) -> None:
    page = web_map_html(dataclasses.replace(hostile_image, language="en"))
    data = page_data(page)
    assert data["lang"] == "en"
    assert "Urban areas" in page and "Functional links" in page and "Municipalities" in page
    assert "Hub &lt;em&gt;one&lt;/em&gt;" in data["legend"]
    assert "Population (circle area)" in data["legend"]
    assert data["source"] == "modelled flows"  # the image names no source: none is made up
    assert "Tätorter" not in page and "Roller" not in data["legend"]


def test_source_line_and_timestamp(example: StructureImage) -> None:
    data = page_data(web_map_html(example, example.options(source_note="Källa: SCB 2020",
                                                           timestamp="2024-05-01")))
    assert data["source"] == ("Källa: SCB 2020; GeoNames (orter utanför regionen; CC BY 4.0), "
                              "Natural Earth (bakgrund; public domain); modellerade flöden · "
                              "Skapad 2024-05-01")
    observed = dataclasses.replace(example, modelled=False)
    # without a note, the line names the publishers of the inputs and the designations
    assert page_data(web_map_html(observed, observed.options(source_note="")))["source"] == (
        "Källa: SCB (statistiska tätorter 2020, kommungränser, dagbefolkning 2024; CC0, fri "
        "med angiven källa), Region Skåne (Regionplan för Skåne 2022–2040), GeoNames (orter "
        "utanför regionen; CC BY 4.0), Natural Earth (bakgrund; public domain)")


def test_links_keep_both_directions(hostile_image: StructureImage) -> None:
    data = page_data(web_map_html(hostile_image))
    links, names = data["links"], data["places"]["n"]
    pairs = sorted(zip(links["a"], links["b"], strict=True))
    assert pairs == sorted([(900.0, 300.0), (200.0, 200.0), (30.0, 5.0), (10.0, 40.0)])
    totals = [a + b for a, b in zip(links["a"], links["b"], strict=True)]
    assert totals == sorted(totals)  # the strongest is drawn last, on top
    last = len(totals) - 1
    assert (names[links["o"][last]], names[links["d"][last]]) == (HOSTILE, SCRIPT)
    assert links["w"][last] == pytest.approx(8.0)  # the widest: style.link_width
    sty = links["sty"]
    assert sty[links["k"][last]][4] == 0  # strong
    assert link_texts(data["pop"], links, names, last, "sv")[1].startswith(
        "Sambandet är starkt: 20,0 % av de sysselsatta")
    # colour, dashes, opacity, layer, class, regional: the styles drawn, legend order
    assert [s[3:] for s in sty] == [["links", 0, 1], ["links", 1, 0], ["weak", 2, 0]]
    assert sty[2][1] == [3.0, 3.0]  # weak links are dashed
    assert sty[0][0] == "#7a2414" and sty[1][0] == "#4c6478"
    # P1–P2 joins the two places of the higher role (nav): regional, drawn on top
    assert sty[links["k"][last]][5] == 1 and sum(s[5] for s in sty) == 1


def test_weak_links_below_a_threshold_are_left_out(hostile_image: StructureImage,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    image = hostile_image
    kept, threshold = map_links(image.links, min_flow=40)
    assert kept["total"].tolist() == [1200.0, 400.0, 50.0] and threshold == 40
    monkeypatch.setattr(_scene, "MAX_MAP_LINKS", 3)
    data = page_data(web_map_html(image))
    assert len(data["links"]["o"]) == 3
    assert "Visar 3 av 4 samband: alla starka och medelstarka, svaga från 50 pendlare." \
        in data["legend"]


@pytest.mark.parametrize("basemap, key, host, attribution", [
    ("CartoDB.Positron", "KEY123", "basemaps.cartocdn.com", "CARTO"),
    ("OpenStreetMap.Mapnik", None, "tile.openstreetmap.org", "OpenStreetMap"),
    ("Lantmateriet.Topowebb", "KEY123", "api.lantmateriet.se", "Lantmäteriet (CC BY"),
], ids=["xyzservices-key", "xyzservices", "lantmateriet"])
def test_background_tiles_carry_their_attribution(basemap: str, key: str | None, host: str,
                                                  attribution: str,
                                                  hostile_image: StructureImage) -> None:
    page = web_map_html(hostile_image, MapOptions(basemap=basemap, basemap_key=key))
    check_offline(page)  # tiles are images the user asked for, not assets of the page
    assert host in page and attribution in page
    if key:
        assert key in page
    assert page_data(page)["areas"]["style"]["fill"] is False  # the tiles show through
    assert page_data(page)["tiles"]["options"]["attribution"]


@pytest.mark.parametrize("basemap", ["Lantmateriet.Topowebb", "CartoDB.Positron",
                                     "No.Such.Provider"])
def test_bad_basemap_is_a_config_error(basemap: str, hostile_image: StructureImage) -> None:
    with pytest.raises(ConfigError, match="basemap"):
        web_map_html(hostile_image, MapOptions(basemap=basemap))


def test_no_tiles_by_default(example_page: str) -> None:
    assert "tiles" not in page_data(example_page)
    assert not re.search(r"https?://[^\s\"']*\{z\}", example_page)  # no tile address


def test_example_page_is_small(example_page: str) -> None:
    # Leaflet (148 kB) and its CSS, our script and CSS (39 kB: popups in sentences, the
    # stråk and their names), the data (57 kB): under 264 KiB
    assert len(example_page.encode("utf-8")) < 264 * 1024


def test_whole_country_fits_in_one_mebibyte(country_image: StructureImage) -> None:
    image = country_image
    page = web_map_html(image)
    data = page_data(page)
    assert len(data["places"]["n"]) == 2017
    assert len(data["areas"]["g"]) == 290
    assert len(data["links"]["o"]) == len(map_links(image.links)[0]) > 1000
    assert len(page.encode("utf-8")) <= MIB


def test_no_places_is_an_error(example: StructureImage) -> None:
    empty = dataclasses.replace(example, places=example.places.iloc[:0])
    with pytest.raises(StrukturbildError, match="no places"):
        web_map_html(empty)


def test_write_html_writes_the_page(example: StructureImage, tmp_path: Path) -> None:
    from strukturbild.export.maps import write_html

    options = example.options(source_note="Källa: SCB")
    out = write_html(example, tmp_path / "m.html", options)
    assert out.read_text(encoding="utf-8") == web_map_html(example, options)


# ------------------------------------------------------------------ structure image


def test_base_geography_is_drawn_under_the_example(example: StructureImage,
                                                   example_page: str) -> None:
    """Sea as background, the land around Skåne from Natural Earth, kommuner on top."""
    data = page_data(example_page)
    assert data["sea"] == "#d3e4ee"
    land = decode_polygons(data["base"], data["q"])
    assert len(land) == 3  # Denmark, Germany and Sweden outside Skåne
    copenhagen = shapely.Point(COPENHAGEN[::-1])
    assert any(p.contains(copenhagen) for p in land)  # Zealand is land
    oresund = shapely.Point(ORESUND[::-1])
    assert not any(p.contains(oresund) for p in land)
    assert "DANMARK" in [n[0] for n in data["base"]["names"]]
    kommuner = decode_polygons(data["areas"], data["q"])
    assert len(kommuner) == 33
    # Sweden outside Skåne does not overlap Skåne: the kommuner draw its coast once
    sweden = land[[r["iso_a3"] for _, r in example.base.iterrows()
                   if r["kind"] == "land"].index("SWE")]
    assert sweden.intersection(shapely.union_all(kommuner)).area < 1e-4


def test_lan_borders_where_several_lan_show(example: StructureImage) -> None:
    assert "lines" not in page_data(web_map_html(example))["areas"]  # Skåne: one län
    kommuner = example.areas.copy()
    kommuner.index = pd.Index([("13" + i[2:]) if i in ("1290", "1293", "1291") else i
                               for i in kommuner.index], name="area_id")
    two = dataclasses.replace(example, areas=kommuner)
    data = page_data(web_map_html(two))
    assert len(data["areas"]["lines"]) == 1 and data["areas"]["lines"][0]
    assert "Länsgräns" in data["legend"]


def test_weak_links_are_a_layer_that_starts_off(example: StructureImage,
                                                example_page: str) -> None:
    data = page_data(example_page)
    overlays = {k: (label, on) for k, label, on in data["overlays"]}
    assert overlays["weak"] == ("Svaga samband", False)
    # with stråk the links (spokes) are one click away too; the stråk show
    assert overlays["links"] == ("Funktionella samband", False)
    assert overlays["strak"] == ("Pendlingsstråk", True)
    layer = [data["links"]["sty"][k][3] for k in data["links"]["k"]]
    # the weak links but the axes, which are drawn with the regional links
    weak = (example.links["link_class"] == "weak") & ~example.links["axis"]
    assert layer.count("weak") == int(weak.sum()) > 0
    assert 'data-layer="weak"' in data["legend"] and "klicka här" in data["legend"]
    shown = page_data(web_map_html(example, example.options(weak_links=True, spokes=True)))
    assert dict((k, on) for k, _, on in shown["overlays"])["weak"] is True
    assert dict((k, on) for k, _, on in shown["overlays"])["links"] is True


def test_regional_links_are_flagged(example: StructureImage, example_page: str) -> None:
    data = page_data(example_page)
    names, roles = data["places"]["n"], example.places.set_index("name")["role"].astype(str)
    top = {"tillvaxtmotor", "regional_karna", "lokal_karna"}
    links = example.links.set_index(["origin", "destination"])
    ids = dict(zip(example.places["name"], example.places.index, strict=True))
    axes = 0
    sty = data["links"]["sty"]
    scope = [sty[k][5] for k in data["links"]["k"]]
    cls = [sty[k][4] for k in data["links"]["k"]]
    for o, d, g, c in zip(data["links"]["o"], data["links"]["d"], scope, cls, strict=True):
        between_top = roles[names[o]] in top and roles[names[d]] in top
        if c != 2:  # strong and medium: regional when between places of the top roles
            assert g == int(between_top)
        elif g:  # a weak regional link is drawn as one only as an axis: the largest
            axes += 1  # flow out of one of its places
            a, b = ids[names[o]], ids[names[d]]
            row = links.loc[(a, b)] if (a, b) in links.index else links.loc[(b, a)]
            out_a = example.links.loc[example.links["origin"] == a, "flow_od"].tolist() + \
                example.links.loc[example.links["destination"] == a, "flow_do"].tolist()
            out_b = example.links.loc[example.links["origin"] == b, "flow_od"].tolist() + \
                example.links.loc[example.links["destination"] == b, "flow_do"].tolist()
            assert between_top
            assert row["flow_od"] == max(out_a if (a, b) in links.index else out_b) or \
                row["flow_do"] == max(out_b if (a, b) in links.index else out_a)
    assert 0 < sum(scope) < len(scope)
    assert 0 < axes < 40  # the axes, not a web of weak links
    # regional links come after (over) the local ones
    first = scope.index(1)
    assert all(scope[first:])
    assert "Regionalt samband" in data["legend"] and "Lokalt samband" in data["legend"]


def test_joint_designation_is_one_band_with_one_label(example_page: str) -> None:
    data = page_data(example_page)
    (group,) = data["groups"]
    label, role, width, members = group
    assert label == "Kristianstad–Hässleholm"
    assert data["roles"][role][0] == "Tillväxtmotor"
    assert sorted(data["places"]["n"][i] for i in members) == ["Hässleholm", "Kristianstad"]
    assert width > 2 * max(data["places"]["r"][i] for i in members)
    assert "Gemensam tillväxtmotor" in data["legend"]


def test_own_layers_are_data_with_their_style(layers_image: StructureImage) -> None:
    image = layers_image
    page = web_map_html(image)
    data = page_data(page)
    assert [y["name"] for y in data["layers"]] == ["Stråk", "Grönstruktur", "Stationer"]
    corridor = data["layers"][0]
    assert corridor["st"] == {"color": "#9e6fb8", "weight": 16.0, "dash": None,
                              "fill": "#9e6fb8", "opacity": 0.35}
    assert [f[0] for f in corridor["f"]] == [1, 1]  # two lines
    assert [f[0] for f in data["layers"][1]["f"]] == [2, 2]  # polygons
    assert [f[0] for f in data["layers"][2]["f"]] == [0, 0, 0]  # points
    assert corridor["a"][0] == ["Namn", ["Västkuststråket", "Södra stambanan"]]
    # drawn under the places and the links, over the areas
    assert data["order"].index("layer-0") > data["order"].index("areas")
    assert data["order"].index("layer-2") < data["order"].index("links")
    assert ["layer-1", "Grönstruktur", True] in data["overlays"]
    for name in ("Stråk", "Grönstruktur", "Stationer"):
        assert name in data["legend"]


#: Machado, Oliveira & Fernandes (2009), severity 1, on linear RGB.
_CVD = {
    "normal": np.eye(3),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968],
                              [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
    "protanopia": np.array([[0.152286, 1.052583, -0.204868],
                            [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
}


def _lab(colour: str, vision: str) -> np.ndarray:
    """CIE L*a*b* (D65) of ``#rrggbb`` as a reader with ``vision`` sees it."""
    c = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)]) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    lin = np.clip(_CVD[vision] @ lin, 0, 1)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722],
                    [0.0193, 0.1192, 0.9505]]) @ lin / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 216 / 24389, np.cbrt(xyz), (24389 / 27 * xyz + 16) / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


@pytest.mark.parametrize("vision", list(_CVD))
def test_roles_are_told_apart_by_colour_blind_readers(vision: str) -> None:
    """Every two role colours, and regional against local links, differ by ΔE*76 > 20
    (clearly different) for readers with deuteranopia and protanopia too; regional
    kärna and lokal kärna are no longer two neighbouring oranges."""
    from itertools import combinations

    from strukturbild.render.style import (
        AREA_FILL,
        LINK_CLASS_STYLE,
        REGIONAL_LINK_COLOUR,
        ROLE_COLOURS,
    )

    for a, b in combinations(ROLE_COLOURS, 2):
        delta = float(np.linalg.norm(_lab(ROLE_COLOURS[a], vision) -
                                     _lab(ROLE_COLOURS[b], vision)))
        assert delta > 20, (vision, a, b, delta)
    links = float(np.linalg.norm(_lab(REGIONAL_LINK_COLOUR, vision) -
                                 _lab(LINK_CLASS_STYLE["strong"][0], vision)))
    assert links > 35, (vision, links)
    # every role stands out from the land it is drawn on
    for key, colour in ROLE_COLOURS.items():
        assert np.linalg.norm(_lab(colour, vision) - _lab(AREA_FILL, vision)) > 20, key


def test_region_names_are_on_the_map(areas_image: StructureImage) -> None:
    """Functional regions are drawn with their names (Skåne's nodal regions)."""
    image = areas_image
    data = page_data(web_map_html(image))
    names = [n[0] for n in data["regions"]["names"]]
    assert sorted(names) == sorted(str(n) for n in image.regions["name"])
    for _, lat, lon in data["regions"]["names"]:
        assert 55.2 < lat < 56.6 and 12.3 < lon < 14.7
