"""The web maps in a real browser: headless Chromium, the network blocked.

Each map is written to the test's tmp folder, opened from disk in Debian's
``/usr/bin/chromium`` (driven by Playwright; no browser is downloaded) with every
request other than the page itself counted and every non-file request aborted.
Screenshots are saved beside the page (``example.png``, ``country.png``, …) to
look at. Skipped, with the reason, only where chromium is not installed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from strukturbild.image import StructureImage
from strukturbild.pipeline import build
from strukturbild.render.web import map_links, web_map_html
from strukturbild.sources.example import example_project

from .._support.browser import (
    DRAWN_AT,
    RECTS,
    PageLog,
    assert_clean,
    browser,
    chromium_missing,
    click_at,
    close,
    drawn,
    drawn_at,
    labels_clear_of_the_controls,
    open_map,
    overlaps,
    pixel,
    settle,
)
from .._support.web import COPENHAGEN, HOSTILE, MIB, ORESUND, SCRIPT
from ..conftest import TEST_DATA

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(chromium_missing() is not None, reason=str(chromium_missing())),
]


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with browser(tmp_path_factory.mktemp("chromium-profile")) as ctx:
        yield ctx


def write(folder: Path, name: str, page: str) -> Path:
    path = folder / f"{name}.html"
    path.write_text(page, encoding="utf-8")
    return path


def shown_at_start(image: StructureImage, links: Any = None) -> int:
    """How many links the map draws when it opens: the strong and medium ones, and the
    weak regional links that are axes (the other weak links are a layer, off)."""
    links = image.links if links is None else links
    return int(((links["link_class"] != "weak").to_numpy() | links["axis"].to_numpy()).sum())


@pytest.fixture(scope="module")
def example() -> StructureImage:
    return build(example_project())


def test_example_map_draws_the_data_offline(context: Any, example: StructureImage,
                                           tmp_path: Path) -> None:
    path = write(tmp_path, "example", web_map_html(example,
                                                   example.options(source_note="Källa: SCB")))
    log = PageLog()
    page = open_map(context, path, log)
    page.screenshot(path=str(tmp_path / "example.png"))
    assert page.evaluate("L.version") == "1.9.4"
    # the stråk show, the links (spokes) are a layer off at start
    assert drawn(page) == {"base": 3, "areas": 33, "strak": len(example.strak), "links": 0,
                           "weak": 0, "places": len(example.places),
                           "context": len(example.context)}
    legend = page.locator(".sb-legend")
    assert legend.is_visible()
    text = legend.inner_text()
    assert all(letter in text for letter in "åäö")
    assert "Tillväxtmotor" in text and "Regional kärna" in text
    assert page.locator(".sb-title").inner_text() == "Strukturbild för Skåne"
    assert page.locator(".sb-source").inner_text() == \
        "Källa: SCB; GeoNames (orter utanför regionen; CC BY 4.0), Natural Earth (bakgrund; " \
        "public domain); modellerade flöden"
    assert page.locator(".leaflet-control-scale").is_visible()
    labels = page.locator(".sb-label.sb-on").all_inner_texts()
    assert {"Malmö", "Helsingborg", "Lund", "Landskrona", "Ystad", "Trelleborg",
            "Kristianstad–Hässleholm", "DANMARK"} <= set(labels)
    # the joint growth engine's band has its name, and each of its towns at its dot
    assert "Kristianstad" in labels and "Hässleholm" in labels
    assert drawn_at(page) > 0  # drawn (how fast: benchmarks/bench_map.py)
    assert_clean(log)


def test_labels_do_not_overlap(context: Any, example: StructureImage, tmp_path: Path) -> None:
    path = write(tmp_path, "labels", web_map_html(example, example.options(label_roles=4)))
    log = PageLog()
    page = open_map(context, path, log)
    page.screenshot(path=str(tmp_path / "labels.png"))
    boxes = page.evaluate("""() => [...document.querySelectorAll('.sb-label.sb-on')]
        .map(e => { const r = e.getBoundingClientRect();
                    return [r.left, r.top, r.right, r.bottom]; })""")
    assert len(boxes) > 10
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)
    assert_clean(log)


def test_switching_a_layer_off_hides_it_and_its_legend(context: Any, example: StructureImage,
                                                      tmp_path: Path) -> None:
    path = write(tmp_path, "toggle", web_map_html(example, example.options(spokes=True)))
    log = PageLog()
    page = open_map(context, path, log)
    section = page.locator('.sb-legend [data-layer="links"]')
    assert section.is_visible()
    page.get_by_label("Funktionella samband").uncheck()
    settle(page)
    assert drawn(page)["links"] == 0
    assert section.is_hidden()
    assert page.locator('.sb-legend [data-layer="places"]').is_visible()
    page.screenshot(path=str(tmp_path / "toggle.png"))
    page.get_by_label("Funktionella samband").check()
    settle(page)
    assert drawn(page)["links"] == shown_at_start(example)
    assert section.is_visible()
    # back under the places: the canvas draws a place last
    assert page.evaluate("Object.values(window.strukturbild.map._layers).find(l => l._ctx)"
                         "._drawLast.layer instanceof L.CircleMarker")
    page.get_by_label("Tätorter").uncheck()
    settle(page)
    # the base's, and the context's and the stråk's (layers of their own)
    assert page.locator(".sb-label.sb-on:not(.sb-context):not(.sb-strak)"
                        ).all_inner_texts() == ["DANMARK"]
    assert page.locator('.sb-legend [data-layer="places"]').is_hidden()
    assert_clean(log)


def test_popups_show_hostile_names_as_text(context: Any, tmp_path: Path,
                                           hostile_image: StructureImage) -> None:
    image = hostile_image
    path = write(tmp_path, "hostile", web_map_html(image))
    log = PageLog()
    page = open_map(context, path, log)
    # two roles: the links between the places of the higher one (nav) are regional, the
    # weak ones (local) a layer of their own, off at start
    assert drawn(page) == {"areas": 2, "links": shown_at_start(image), "weak": 0,
                           "places": 5}
    assert shown_at_start(image) == 2
    assert page.locator(".sb-title").inner_text() == "Test <i>karta</i> & å"
    assert HOSTILE in page.locator(".sb-label.sb-on").all_inner_texts()
    assert page.locator(".sb-legend").inner_text().startswith(
        "Teckenförklaring\nRoller\nNav <em>ett</em>")
    for i, name in enumerate([HOSTILE, SCRIPT]):
        click_at(page, f"window.strukturbild.groups.places.getLayers()"
                       f".find(l => l.options.i === {i}).getLatLng()")
        popup = page.locator(".leaflet-popup-content")
        assert popup.is_visible()
        text = popup.inner_text()
        assert text.startswith(name + "\n")
        assert "Kommun: <b>Västra</b>" in text or "Kommun: Östra & co" in text
        assert f"{name} är en nav <em>ett</em>" in text or \
            f"{name} har rollen nav <em>ett</em>" in text
        assert popup.locator("img, script, b, em").count() == 0
        page.wait_for_timeout(250)  # faded in
        page.screenshot(path=str(tmp_path / f"popup{i}.png"))
    # the strongest link, clicked a third of the way along: both directions, by name
    click_at(page, """(() => { const l = window.strukturbild.groups.links.getLayers()
        .find(l => l.options.i === 3), [a, b] = l.getLatLngs();
        return L.latLng(a.lat + (b.lat - a.lat) / 3, a.lng + (b.lng - a.lng) / 3); })()""")
    text = page.locator(".leaflet-popup-content").inner_text()
    assert f"Regionalt samband {HOSTILE}–{SCRIPT}: 900 pendlare per dag från {HOSTILE} till " \
        f"{SCRIPT} och 300 åt andra hållet (modellerat)." in text
    assert page.locator(".leaflet-popup-content").locator("img, script").count() == 0
    # the link is widest at the end that sends the most, and narrows towards the other
    w0, w1 = page.evaluate("""(() => { const o = window.strukturbild.groups.links.getLayers()
        .find(l => l.options.i === 3).options; return [o.w0, o.w1]; })()""")
    assert (w0, w1) == (pytest.approx(8.0), pytest.approx(8.0 / 3, rel=1e-3))
    page.wait_for_timeout(250)
    page.screenshot(path=str(tmp_path / "popup_link.png"))
    assert_clean(log)


def test_print_fills_an_a4_page_and_restores_the_screen(context: Any, tmp_path: Path,
                                                        hostile_image: StructureImage) -> None:
    path = write(tmp_path, "print", web_map_html(hostile_image))
    log = PageLog()
    page = open_map(context, path, log)
    page.evaluate("""() => { window.addEventListener('beforeprint', () => {
        const s = window.strukturbild, c = s.map.getContainer(), b = s.map.getBounds();
        window.__printed = [c.offsetWidth, c.offsetHeight,
            s.groups.places.getLayers().filter(l => l.getLatLng)
                .every(l => b.contains(l.getLatLng())),
            document.querySelectorAll('.sb-label.sb-on').length];
    }); }""")
    page.pdf(path=str(tmp_path / "print.pdf"), prefer_css_page_size=True, print_background=True)
    assert page.evaluate("window.__printed") == [1062, 733, True, 5]
    assert (tmp_path / "print.pdf").stat().st_size > 10_000
    size = page.evaluate("(() => { const c = window.strukturbild.map.getContainer();"
                         " return [c.offsetWidth, c.offsetHeight]; })()")
    assert size == [1280, 860]
    assert_clean(log)


def test_english_map(context: Any, tmp_path: Path, hostile_image: StructureImage) -> None:
    # one labelled role: the weak links are local, a layer of their own
    english = dataclasses.replace(hostile_image, language="en")
    path = write(tmp_path, "english", web_map_html(english, english.options(label_roles=1)))
    log = PageLog()
    page = open_map(context, path, log)
    controls = page.locator(".leaflet-control-layers").inner_text()
    assert [c.strip() for c in controls.split("\n")] == [
        "Urban areas", "Weak links", "Functional links", "Municipalities"]
    legend = page.locator(".sb-legend").inner_text()
    assert "Population (circle area)" in legend and "Commuters (line width)" in legend
    assert page.locator(".sb-source").inner_text() == "modelled flows"
    assert page.evaluate("document.documentElement.lang") == "en"
    assert_clean(log)


def test_whole_country_is_small_and_drawn(context: Any, tmp_path: Path,
                                          country_image: StructureImage) -> None:
    """Within 1 MiB, every layer drawn; the draw time is measured by bench_map.py."""
    image = country_image
    page_html = web_map_html(image, image.options(
        source_note="Källa: SCB, tätorter 2020 och kommuner"))
    assert len(page_html.encode("utf-8")) <= MIB
    path = write(tmp_path, "country", page_html)
    log = PageLog()
    page = open_map(context, path, log)
    assert drawn_at(page) > 0
    assert_clean(log)
    # the stråk drawn, the links (spokes) one click away
    assert drawn(page) == {"base": 13, "areas": 290, "strak": len(image.strak), "links": 0,
                           "weak": 0, "places": 2017, "context": len(image.context)}
    page.get_by_label("Funktionella samband").check()
    settle(page)
    shown = map_links(image.links)[0]
    assert drawn(page)["links"] == shown_at_start(image, shown)
    page.screenshot(path=str(tmp_path / "country.png"))


def test_observed_links_have_no_modelled_note(context: Any, example: StructureImage,
                                              tmp_path: Path) -> None:
    observed = dataclasses.replace(example, modelled=False,
                                   links=example.links.assign(modelled=False))
    path = write(tmp_path, "observed", web_map_html(observed,
                                                    observed.options(source_note="Källa: SCB")))
    log = PageLog()
    page = open_map(context, path, log)
    assert page.locator(".sb-source").inner_text() == \
        "Källa: SCB; GeoNames (orter utanför regionen; CC BY 4.0), Natural Earth (bakgrund; " \
        "public domain)"
    assert page.locator(".sb-modelled").count() == 0
    assert_clean(log)


def test_template_syntax_shows_literally(context: Any, tmp_path: Path,
                                         hostile_image: StructureImage) -> None:
    image = hostile_image
    names = image.places["name"].tolist()
    names[0] = "{{ 7*7 }}"
    names[1] = "Ort {% if x %} {# kommentar"
    image = dataclasses.replace(image, title="{{ 7*7 }} {{", places=image.places.assign(
        name=names))
    path = write(tmp_path, "template", web_map_html(image,
                                                    image.options(source_note="Källa: {% raw %}")))
    log = PageLog()
    page = open_map(context, path, log)
    assert page.locator(".sb-title").inner_text() == "{{ 7*7 }} {{"
    assert page.title() == "{{ 7*7 }} {{"
    assert "Källa: {% raw %}" in page.locator(".sb-source").inner_text()
    labels = page.locator(".sb-label").all_inner_texts()
    assert "{{ 7*7 }}" in labels
    assert "49" not in page.locator("body").inner_text()
    assert_clean(log)


# ------------------------------------------------------------------ structure image

#: The stored picture of the example's web map (1280 x 860); a change of the map's look
#: fails this test until the picture is made again, on purpose, in its own commit:
#: ``STRUKTURBILD_UPDATE_REFERENCE=1 pytest tests/render/test_browser.py -k reference``.
REFERENCE = TEST_DATA / "skane_web.png"


def test_land_and_sea_differ_at_copenhagen_and_in_the_oresund(
        context: Any, example: StructureImage, tmp_path: Path) -> None:
    from strukturbild.render.style import AREA_FILL, LAND, SEA

    path = write(tmp_path, "base", web_map_html(example))
    log = PageLog()
    page = open_map(context, path, log)
    # the colours under the names (a stråk's name may stand over the sound)
    page.evaluate("document.querySelector('.sb-labels').style.display = 'none'")
    copenhagen = pixel(page, COPENHAGEN, tmp_path / "copenhagen.png")
    oresund = pixel(page, ORESUND, tmp_path / "oresund.png")
    hoor = pixel(page, (55.95, 13.85), tmp_path / "hoor.png")  # in a kommun, off the links
    assert close(copenhagen, LAND), copenhagen
    assert close(oresund, SEA), oresund
    assert close(hoor, AREA_FILL), hoor
    assert max(abs(a - b) for a, b in zip(copenhagen, oresund, strict=True)) > 15
    assert_clean(log)


def _compare(actual: Path, reference: Path, diff: Path) -> tuple[float, float]:
    """Share of pixels that differ clearly (> 40 in a channel), and the mean difference."""
    import numpy as np
    from PIL import Image

    with Image.open(actual) as a, Image.open(reference) as b:
        x = np.asarray(a.convert("RGB"), dtype=np.int16)
        y = np.asarray(b.convert("RGB"), dtype=np.int16)
    assert x.shape == y.shape, (x.shape, y.shape)
    d = np.abs(x - y).max(axis=2)
    Image.fromarray(np.where(d > 40, 255, d * 4).clip(0, 255).astype(np.uint8)).save(diff)
    return float((d > 40).mean()), float(np.abs(x - y).mean())


def test_screenshot_matches_the_reference(context: Any, example: StructureImage,
                                          tmp_path: Path) -> None:
    """A visual regression test: the example as a new user sees it, against a stored PNG."""
    import os
    import shutil

    path = write(tmp_path, "reference", example.render("html").decode("utf-8"))
    log = PageLog()
    page = open_map(context, path, log, viewport=(1280, 860))
    page.wait_for_timeout(200)
    shot = tmp_path / "skane_web.png"
    page.screenshot(path=str(shot))
    assert_clean(log)
    if os.environ.get("STRUKTURBILD_UPDATE_REFERENCE") == "1":
        REFERENCE.parent.mkdir(exist_ok=True)
        shutil.copyfile(shot, REFERENCE)
        pytest.skip(f"reference picture written to {REFERENCE}")
    assert REFERENCE.is_file(), "no reference picture: run with STRUKTURBILD_UPDATE_REFERENCE=1"
    share, mean = _compare(shot, REFERENCE, tmp_path / "diff.png")
    assert share < 0.005 and mean < 2.0, (
        f"the map looks different from {REFERENCE.name}: {share:.2%} of the pixels differ "
        f"(mean {mean:.2f}); see {shot} and {tmp_path / 'diff.png'}")


def test_a_changed_map_fails_the_comparison(context: Any, example: StructureImage,
                                            tmp_path: Path) -> None:
    """The comparison is no rubber stamp: the same map with the weak links on differs."""
    if not REFERENCE.is_file():
        pytest.skip("no reference picture yet")
    path = write(tmp_path, "changed", web_map_html(example, example.options(weak_links=True)))
    page = open_map(context, path, PageLog(), viewport=(1280, 860))
    page.wait_for_timeout(200)
    page.screenshot(path=str(tmp_path / "changed.png"))
    share, _ = _compare(tmp_path / "changed.png", REFERENCE, tmp_path / "diff.png")
    assert share > 0.005


def test_weak_links_are_one_click_away(context: Any, example: StructureImage,
                                       tmp_path: Path) -> None:
    # the links shown (with stråk they are off at start, and the weak ones' hint with them)
    path = write(tmp_path, "weak", web_map_html(example, example.options(spokes=True)))
    log = PageLog()
    page = open_map(context, path, log)
    # the weak links other than the axes (drawn from the start with the regional ones)
    weak = len(example.links) - shown_at_start(example)
    section = page.locator('.sb-legend [data-layer="weak"]')
    assert drawn(page)["weak"] == 0
    assert section.is_visible() and "sb-off" in (section.get_attribute("class") or "")
    assert "klicka här" in section.inner_text()
    page.get_by_label("Svaga samband").check()  # one click in the layer control
    settle(page)
    assert drawn(page)["weak"] == weak > 0
    assert "sb-off" not in (section.get_attribute("class") or "")
    page.screenshot(path=str(tmp_path / "weak_on.png"))
    section.click()  # one click in the legend hides them again
    settle(page)
    assert drawn(page)["weak"] == 0
    assert not page.get_by_label("Svaga samband").is_checked()
    # the places are still drawn last, over the links
    assert page.evaluate("Object.values(window.strukturbild.map._layers).find(l => l._ctx)"
                         "._drawLast.layer instanceof L.CircleMarker")
    assert_clean(log)


def test_search_box_finds_a_place(context: Any, example: StructureImage,
                                  tmp_path: Path) -> None:
    path = write(tmp_path, "search", web_map_html(example))
    log = PageLog()
    page = open_map(context, path, log)
    box = page.get_by_label("Sök ort")
    box.fill("hassle")  # no accents, any case
    assert page.locator(".sb-match").all_inner_texts() == ["Hässleholm"]
    box.fill("xyz")
    assert page.locator(".sb-nomatch").inner_text() == "Ingen ort med det namnet"
    box.fill("lu")
    assert page.locator(".sb-match").all_inner_texts()[0] == "Lund"
    box.press("Enter")
    settle(page)
    popup = page.locator(".leaflet-popup-content")
    assert popup.inner_text().startswith("Lund\n")
    lat, lon = page.evaluate("(() => { const c = window.strukturbild.map.getCenter();"
                             " return [c.lat, c.lng]; })()")
    assert abs(lat - 55.708) < 0.02 and abs(lon - 13.200) < 0.03
    page.screenshot(path=str(tmp_path / "search.png"))
    assert_clean(log)


def test_view_is_kept_in_the_url(context: Any, example: StructureImage, tmp_path: Path) -> None:
    path = write(tmp_path, "hash", web_map_html(example))
    log = PageLog()
    page = open_map(context, path, log)
    first = page.evaluate("location.hash")
    zoom, lat, lon = (float(v) for v in first[1:].split("/"))
    assert 55.3 < lat < 56.5 and 12.4 < lon < 14.6 and 7 <= zoom <= 10
    page.evaluate("void window.strukturbild.map.setView([55.60, 13.00], 11, {animate: false})")
    settle(page)
    assert page.evaluate("location.hash") == "#11/55.6000/13.0000"
    # a link with a view opens there
    again = context.new_page()
    again.add_init_script(DRAWN_AT)
    again.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:")
                else r.abort())
    again.goto(path.resolve().as_uri() + "#10.5/55.7080/13.1950", wait_until="load")
    again.wait_for_function("window.__drawnAt !== undefined")
    assert again.evaluate("window.strukturbild.map.getZoom()") == 10.5
    centre = again.evaluate("(() => { const c = window.strukturbild.map.getCenter();"
                            " return [c.lat, c.lng]; })()")
    assert centre == [pytest.approx(55.708, abs=1e-3), pytest.approx(13.195, abs=1e-3)]
    assert_clean(log)


def test_joint_designation_is_drawn_as_one(context: Any, example: StructureImage,
                                           tmp_path: Path) -> None:
    from strukturbild.render.style import GROUP_OPACITY, ROLE_COLOURS

    path = write(tmp_path, "joint", web_map_html(example))
    log = PageLog()
    page = open_map(context, path, log)
    # a point inside the band, beside the line that joins the two places (where the link
    # between them runs) and away from the label: the band's colour over the kommun fill
    x, y = page.evaluate("""() => {
        const s = window.strukturbild, m = s.map, P = s.groups.places.getLayers()
            .filter(l => l instanceof L.CircleMarker);
        const at = name => P.find(l => l.options.i ===
            JSON.parse(document.getElementById('strukturbild-data').textContent)
                .places.n.indexOf(name));
        const a = m.latLngToContainerPoint(at('Kristianstad').getLatLng()),
              b = m.latLngToContainerPoint(at('Hässleholm').getLatLng()),
              r = m.getContainer().getBoundingClientRect();
        const dx = b.x - a.x, dy = b.y - a.y, n = Math.hypot(dx, dy);
        return [Math.round(r.left + a.x + 0.2 * dx - 7 * dy / n),
                Math.round(r.top + a.y + 0.2 * dy + 7 * dx / n)];
    }""")
    page.screenshot(path=str(tmp_path / "band.png"))
    from PIL import Image

    with Image.open(tmp_path / "band.png") as im:
        rgb = im.convert("RGB").getpixel((x, y))
    colour = ROLE_COLOURS["tillvaxtmotor"]
    base = [0xfb, 0xfa, 0xf6]  # the kommun fill under the band
    want = [round(GROUP_OPACITY * int(colour[i:i + 2], 16) + (1 - GROUP_OPACITY) * b)
            for i, b in zip((1, 3, 5), base, strict=True)]
    assert max(abs(a - b) for a, b in zip(rgb, want, strict=True)) <= 6, (rgb, want)
    labels = page.locator(".sb-label.sb-on.sb-group").all_inner_texts()
    assert labels == ["Kristianstad–Hässleholm"]
    assert_clean(log)


def test_own_layers_in_the_layer_control_as_text(context: Any, tmp_path: Path,
                                                 layers_image: StructureImage) -> None:
    from strukturbild.config import LayerSource
    from strukturbild.image import OwnLayer

    image = layers_image
    hostile = OwnLayer(HOSTILE, "area", image.layers[1].frame.assign(namn=[SCRIPT, HOSTILE]),
                       LayerSource("x", Path("x.gpkg"), kind="area").style)
    # without the context: its layer-control row would push the list under the legend
    image = dataclasses.replace(image, layers=(*image.layers, hostile), context=None,
                                ferries=None)
    path = write(tmp_path, "own", web_map_html(image))
    log = PageLog()
    page = open_map(context, path, log)
    controls = page.locator(".leaflet-control-layers").inner_text()
    assert [c.strip() for c in controls.split("\n")][:3] == ["Tätorter", "Svaga samband",
                                                             "Funktionella samband"]
    assert HOSTILE in controls and "Stråk" in controls and "Grönstruktur" in controls
    assert page.locator(".leaflet-control-layers img, .leaflet-control-layers script") \
        .count() == 0
    counts = drawn(page)
    assert (counts["layer-0"], counts["layer-1"], counts["layer-2"], counts["layer-3"]) == \
        (2, 2, 3, 2)
    assert HOSTILE in page.locator(".sb-legend").inner_text()
    page.screenshot(path=str(tmp_path / "own.png"))
    page.get_by_label("Stråk", exact=True).uncheck()
    settle(page)
    assert drawn(page)["layer-0"] == 0
    assert page.locator('.sb-legend [data-layer="layer-0"]').is_hidden()
    # a feature's popup shows its attributes as text
    page.evaluate("""() => { const l = window.strukturbild.groups['layer-3'].getLayers()[1];
        l.fire('click', {latlng: l.getBounds().getCenter()}, true); }""")
    settle(page)
    popup = page.locator(".leaflet-popup-content")
    assert popup.inner_text() == f"{HOSTILE}\nnamn\t{HOSTILE}"
    assert popup.locator("img, script").count() == 0
    assert_clean(log)


def test_labels_from_an_address_are_those_of_the_same_view(context: Any,
                                                           example: StructureImage,
                                                           tmp_path: Path) -> None:
    """Issue 18: ``#11/55.655/13.100`` named 9 places where reaching the same view in
    the page named 24. Label tiers count from the first view, not from the address's
    zoom."""
    path = write(tmp_path, "tiers", web_map_html(example))
    log = PageLog()
    page = open_map(context, path, log)
    page.evaluate("void window.strukturbild.map.setView([55.655, 13.100], 11, "
                  "{animate: false})")
    settle(page)
    zoomed = sorted(page.locator(".sb-label.sb-on").all_inner_texts())
    linked = context.new_page()
    linked.add_init_script(DRAWN_AT)
    linked.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:")
                 else r.abort())
    linked.goto(path.resolve().as_uri() + "#11/55.655/13.100", wait_until="load")
    linked.wait_for_function("window.__drawnAt !== undefined")
    settle(linked)
    assert linked.evaluate("window.strukturbild.map.getZoom()") == 11
    shown = sorted(linked.locator(".sb-label.sb-on").all_inner_texts())
    linked.screenshot(path=str(tmp_path / "tiers.png"))
    assert shown == zoomed and len(shown) > 9
    assert_clean(log)


def test_legend_rows_are_the_links_drawn(context: Any, tmp_path: Path,
                                         sormland: StructureImage) -> None:
    """Sörmland without jobs (three role levels): each link row of the legend is drawn
    in the colour, opacity and dashes of links on the map, and each style on the map
    has its row; the weak links' too, when their layer is switched on."""
    image = sormland
    path = write(tmp_path, "sormland", web_map_html(image, image.options(spokes=True)))
    log = PageLog()
    page = open_map(context, path, log)
    page.get_by_label("Svaga samband").check()
    settle(page)
    drawn = page.evaluate("""() => {
        const s = window.strukturbild, out = new Set();
        for (const key of ['links', 'weak']) {
            for (const l of s.groups[key].getLayers()) {
                const o = l.options;
                out.add([o.fillColor, o.fillOpacity, (o.dash || []).join(' ')].join('|'));
            }
        }
        return [...out].sort();
    }""")
    rows = page.evaluate("""() => [...document.querySelectorAll(
            '.sb-legend [data-key^="link-"] line')].map(l => [l.getAttribute('stroke'),
            Number(l.getAttribute('stroke-opacity')),
            (l.getAttribute('stroke-dasharray') || '')].join('|')).sort()""")
    assert drawn == rows and len(rows) >= 4
    assert page.locator('.sb-legend [data-key="link-regional-strong"]').is_visible()
    page.screenshot(path=str(tmp_path / "sormland.png"))
    assert_clean(log)


# ------------------------------------------------------------- legend, labels, popups

def test_legend_is_compact_and_collapses(context: Any, example: StructureImage,
                                         tmp_path: Path) -> None:
    """Issue 18: the legend covered about 60 % of the height at 1400×900 and could not
    be collapsed. Now under half of it, never over the layer list, and one button (or
    Enter on it) hides and shows it."""
    path = write(tmp_path, "legend", web_map_html(example))
    log = PageLog()
    page = open_map(context, path, log, viewport=(1400, 900))
    legend, body = page.locator(".sb-legend"), page.locator(".sb-legend-body")
    button = page.get_by_role("button", name="Teckenförklaring")
    assert body.is_visible() and button.get_attribute("aria-expanded") == "true"
    box, layers = legend.bounding_box(), page.locator(".leaflet-control-layers").bounding_box()
    assert box is not None and layers is not None
    assert box["height"] < 0.5 * 900
    assert box["y"] >= layers["y"] + layers["height"]
    page.screenshot(path=str(tmp_path / "legend_open.png"))
    shown = labels_clear_of_the_controls(page)
    button.click()
    settle(page)
    assert body.is_hidden() and button.get_attribute("aria-expanded") == "false"
    assert legend.bounding_box()["height"] < 40  # type: ignore[index]
    # the labels were laid out again: none lost, and none under the closed legend either
    assert labels_clear_of_the_controls(page) >= shown
    page.screenshot(path=str(tmp_path / "legend_closed.png"))
    button.focus()
    page.keyboard.press("Enter")
    settle(page)
    assert body.is_visible() and button.get_attribute("aria-expanded") == "true"
    assert_clean(log)


def test_notebook_frame_starts_with_the_legend_closed(context: Any, example: StructureImage,
                                                      tmp_path: Path) -> None:
    """In the 640 px frame of a notebook (``_repr_html_``) the legend covered the layer
    control. It starts closed there; opened, it stays under the layer list (its rows
    scroll when they must)."""
    outer = tmp_path / "notebook.html"
    outer.write_text("<!DOCTYPE html><html><body style=\"margin:20px\">"
                     f"{example._repr_html_()}</body></html>", encoding="utf-8")
    page = context.new_page()
    page.set_viewport_size({"width": 1000, "height": 800})
    page.add_init_script(DRAWN_AT)
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("file:", "about:",
                                                                            "data:"))
               else r.abort())
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(outer.resolve().as_uri(), wait_until="load")
    frame = next(f for f in page.frames if f != page.main_frame)
    # the frame's own page (not the about:blank it starts as), drawn
    frame.wait_for_function("window.strukturbild !== undefined && "
                            "window.__drawnAt !== undefined")
    frame.wait_for_selector(".leaflet-control-layers")
    assert frame.evaluate("window.innerHeight") == 640
    button = frame.get_by_role("button", name="Teckenförklaring")
    assert button.get_attribute("aria-expanded") == "false"
    assert frame.locator(".sb-legend-body").is_hidden()
    layers = frame.evaluate(RECTS, ".leaflet-control-layers")[0]
    legend = frame.evaluate(RECTS, ".sb-legend")[0]
    assert not overlaps(layers, legend)
    assert labels_clear_of_the_controls(frame) > 10
    page.screenshot(path=str(tmp_path / "notebook_closed.png"))
    button.click()
    frame.wait_for_timeout(100)
    legend = frame.evaluate(RECTS, ".sb-legend")[0]
    assert not overlaps(layers, legend) and legend[1] >= layers[3]
    assert frame.get_by_label("Svaga samband").is_visible()  # the layer list is usable
    assert legend[3] <= 640  # all of it in the frame (its rows scroll when they must)
    assert frame.evaluate("(() => { const b = document.querySelector('.sb-legend-body'); "
                          "return getComputedStyle(b).overflowY; })()") == "auto"
    labels_clear_of_the_controls(frame)
    page.screenshot(path=str(tmp_path / "notebook_open.png"))
    assert errors == []


@pytest.mark.parametrize("viewport", [(1400, 900), (900, 640)], ids=["1400x900", "900x640"])
def test_no_label_under_the_title_legend_or_controls(context: Any, example: StructureImage,
                                                     tmp_path: Path,
                                                     viewport: tuple[int, int]) -> None:
    """Issue 18: DANMARK, NORGE and Dalby slid under the title, the legend and the
    controls. Labels now keep out of every control, at the first view, with the legend
    open, and zoomed in."""
    path = write(tmp_path, "clear", web_map_html(example, example.options(label_roles=4)))
    log = PageLog()
    page = open_map(context, path, log, viewport=viewport)
    assert labels_clear_of_the_controls(page) > 10
    button = page.get_by_role("button", name="Teckenförklaring")
    if button.get_attribute("aria-expanded") == "false":
        button.click()
        settle(page)
    labels_clear_of_the_controls(page)
    for view in ("[55.62, 13.1], 11", "[55.75, 13.6], 9.5", "[56.05, 12.75], 10"):
        page.evaluate(f"void window.strukturbild.map.setView({view}, {{animate: false}})")
        settle(page)
        labels_clear_of_the_controls(page)
    page.screenshot(path=str(tmp_path / f"clear_{viewport[0]}.png"))
    assert_clean(log)


POPUP_TEXTS = """group => {
    const s = window.strukturbild, out = {};
    for (const l of s.groups[group].getLayers()) {
        if (group === 'places' && !(l instanceof L.CircleMarker)) { continue; }
        const ll = l.getLatLng ? l.getLatLng() : l.getLatLngs()[0];
        l.fire('click', {latlng: ll}, true);
        out[l.options.i] = [...s.map._popup.getContent().querySelectorAll('p')]
            .map(p => p.textContent);
    }
    s.map.closePopup();
    return out;
}"""


@pytest.mark.parametrize("language", ["sv", "en"])
def test_popups_say_in_the_browser_what_python_says(context: Any, example: StructureImage,
                                                    tmp_path: Path, language: str) -> None:
    """Every place's and link's popup, as the page fills it, word for word the sentences
    of render/popups.py (tests/test_popups.py checks those)."""
    from strukturbild.render.popups import link_texts, place_texts

    from .._support.web import page_data

    image = example if language == "sv" else dataclasses.replace(example, language="en")
    html = web_map_html(image, image.options(weak_links=True))
    data = page_data(html)
    path = write(tmp_path, f"popups_{language}", html)
    log = PageLog()
    page = open_map(context, path, log)
    names, roles = data["places"]["n"], data["places"]["k"]
    places = page.evaluate(POPUP_TEXTS, "places")
    assert len(places) == len(names) == 70
    for j, shown in places.items():
        assert shown == place_texts(data["pop"], names, roles, int(j), language), names[int(j)]
    links = {**page.evaluate(POPUP_TEXTS, "links"), **page.evaluate(POPUP_TEXTS, "weak")}
    assert len(links) == len(data["links"]["o"])
    for j, shown in links.items():
        assert shown == link_texts(data["pop"], data["links"], names, int(j), language)
    # Lund, clicked as a user clicks it
    lund = names.index("Lund")
    click_at(page, f"window.strukturbild.groups.places.getLayers().find(l => l.options.i "
                   f"=== {lund}).getLatLng()")
    page.wait_for_timeout(250)
    popup = page.locator(".leaflet-popup-content")
    assert popup.inner_text().startswith("Lund\n")
    page.screenshot(path=str(tmp_path / f"popup_lund_{language}.png"))
    assert_clean(log)
