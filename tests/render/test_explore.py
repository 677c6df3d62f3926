"""``StructureImage.explore()``: the structure image as folium layers, hostile text safe.

folium renders a map's page with Jinja (branca renders each element's output a second
time as a template) and puts tooltips, popups and layer names into the page as HTML.
The hostile texts of ``test_hostile.py`` (template syntax, a code-execution attempt,
``</script>``, HTML, quotes, ``&``) go through ``explore()`` into every layer name,
tooltip and popup: the page must show them as text and run nothing. The rendered
page is checked as text and its scripts with node; it is also opened in headless
Chromium, with folium's CDN files answered locally (Leaflet from the installed
package, the others empty), to see the texts as a user does.
"""

from __future__ import annotations

import html.parser
import json
import shutil
import subprocess
import warnings
from importlib import resources
from pathlib import Path
from typing import Any

import folium
import pytest

from strukturbild.config import load_project
from strukturbild.errors import StrukturbildWarning
from strukturbild.image import StructureImage
from strukturbild.pipeline import build
from strukturbild.render.explore import safe_text
from strukturbild.sources.example import example_project

from .._support.browser import PageLog, browser, chromium_missing, open_map


@pytest.fixture(scope="module")
def example() -> StructureImage:
    return build(example_project())


@pytest.fixture
def hostile(hostile_dir: tuple[Path, list[str], Path]) -> tuple[StructureImage, list[str], Path]:
    folder, texts, marker = hostile_dir
    with warnings.catch_warnings():  # a kommun of places in two regions: said, not failed
        warnings.simplefilter("ignore", StrukturbildWarning)
        return build(load_project(folder / "project.toml")), texts, marker


def _json(text: str) -> str:
    """``text`` inside a JSON string as Jinja's ``tojson`` writes it (``&`` as ``\\u0026``)."""
    from jinja2.utils import htmlsafe_json_dumps

    return str(htmlsafe_json_dumps(text))[1:-1]


def _layers(m: folium.Map) -> dict[str, Any]:
    return {c.layer_name: c for c in m._children.values() if isinstance(c, folium.GeoJson)}


class _Scripts(html.parser.HTMLParser):
    """The page's inline scripts, and its tags as opened and closed."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.scripts: list[str] = []
        self.open: list[str] = []
        self._in = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.open.append(tag)
        if tag == "script" and not dict(attrs).get("src"):
            self._in = True
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        self.open.append(f"/{tag}")
        self._in = self._in and tag != "script"

    def handle_data(self, data: str) -> None:
        if self._in:
            self.scripts[-1] += data


# --------------------------------------------------------------------------- layers


def test_the_structure_image_as_folium_layers(example: StructureImage) -> None:
    m = example.explore(tiles=None)
    assert isinstance(m, folium.Map)
    layers = _layers(m)
    assert list(layers) == [
        "Bakgrund", "Kommuner", "Pendlingsstråk", "Funktionella samband", "Svaga samband",
        "Gemensam tillväxtmotor: Kristianstad–Hässleholm", "Tillväxtmotor (5)",
        "Regional kärna (4)", "Lokal kärna (22)", "Serviceort (39)"]
    # the stråk show; the links (spokes) are there, off at start, as on the web map
    assert layers["Pendlingsstråk"].show and len(
        layers["Pendlingsstråk"].data["features"]) == len(example.strak)
    assert not layers["Svaga samband"].show and not layers["Funktionella samband"].show
    # every place, every link, in the scene's styles
    places = sum(len(layers[k].data["features"]) for k in layers if k.endswith(")"))
    assert places == len(example.places) == 70
    drawn = [f["properties"]["style"] for k in ("Funktionella samband", "Svaga samband")
             for f in layers[k].data["features"]]
    assert len(drawn) == len(example.links)
    assert {(s["color"], s["opacity"]) for s in drawn} == {
        ("#7a2414", 0.85), ("#7a2414", 0.5), ("#7a2414", 0.45), ("#4c6478", 0.85),
        ("#4c6478", 0.5), ("#4c6478", 0.45)}
    assert any(isinstance(c, folium.LayerControl) for c in m._children.values())
    html_ = m.get_root().render()
    for word in ("Malmö", "Regionalt samband, starkt", "Tillväxtmotor (5)"):
        assert json.dumps(word)[1:-1] in html_, word  # as folium's JSON writes it
    # a place's popup says what the web map's says, in sentences
    lund = next(f["properties"]["pop"] for f in layers["Tillväxtmotor (5)"].data["features"]
                if f["properties"]["pop"].startswith("<b>Lund</b>"))
    assert "Lund är en tillväxtmotor: 94\xa0393 invånare, 66\xa0093 arbetstillfällen (1,40 " \
        "per sysselsatt invånare, uppskattat).<br>" in lund
    assert "Region Skåne utpekar den som tillväxtmotor." in lund and ">=" not in lund


def test_layers_go_onto_your_own_map(example: StructureImage) -> None:
    """As GeoDataFrame.explore(m=...): the layers join the map given, tiles and all."""
    m = folium.Map(tiles="OpenStreetMap")
    folium.Marker([55.6, 13.0], tooltip="mine").add_to(m)
    folium.LayerControl().add_to(m)
    assert example.explore(m) is m
    layers = _layers(m)
    assert "Bakgrund" not in layers  # the map's own tiles are the background
    assert layers["Kommuner"].data["features"][0]["properties"]["style"]["fill"] is False
    assert sum(isinstance(c, folium.LayerControl) for c in m._children.values()) == 1
    html_ = m.get_root().render()
    assert "mine" in html_ and json.dumps("Tillväxtmotor (5)")[1:-1] in html_


# --------------------------------------------------------------------------- hostile text


def test_hostile_text_reaches_folium_as_text(hostile: tuple[StructureImage, list[str], Path],
                                             tmp_path: Path) -> None:
    image, texts, marker = hostile
    m = image.explore()
    page = m.get_root().render()
    assert not marker.exists(), "a template in the data ran code"
    for t in texts:  # every text is there, escaped (and as folium's JSON writes it)
        assert _json(safe_text(t)) in page, t
    # no template syntax of the data was left for Jinja, and none was evaluated
    assert page.count("7*7") == page.count(_json("&#123;&#123; 7*7 &#125;&#125;")) > 0
    assert ">49<" not in page and '"49"' not in page
    assert "{% raw %}" not in page and "Ort {{ oavslutad" not in page
    # no markup of the data
    for raw in ("</script><script>document.title", "<img src=x onerror",
                "Å & \"Ö\" 'ä'"):
        assert raw not in page
    # the page is whole: its tags close, its scripts parse
    parser = _Scripts()
    parser.feed(page)
    parser.close()
    assert parser.open.count("script") == parser.open.count("/script")
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        pytest.skip("node not found (apt-get install nodejs): the scripts are unchecked")
    for n, script in enumerate(parser.scripts):
        path = tmp_path / f"script{n}.js"
        path.write_text(script, encoding="utf-8")
        res = subprocess.run([node, "--check", str(path)], capture_output=True, text=True)
        assert res.returncode == 0, res.stderr


def _serve(url: str) -> tuple[bytes, str] | None:
    """folium's CDN files: Leaflet from the installed package, the others empty."""
    static = resources.files("js_lib_leaflet") / "static" / "js_lib_leaflet"
    kind = "text/css" if url.endswith(".css") else "text/javascript"
    if "leaflet@" in url or url.endswith(("/leaflet.js", "/leaflet.css")):
        name = "leaflet.css" if kind == "text/css" else "leaflet.js"
        return (static / name).read_bytes(), kind
    if url.endswith((".js", ".css")):
        return b"", kind
    return None


@pytest.mark.browser
@pytest.mark.skipif(chromium_missing() is not None, reason=str(chromium_missing()))
def test_hostile_text_shows_as_text_in_the_browser(
        hostile: tuple[StructureImage, list[str], Path], tmp_path: Path) -> None:
    image, texts, _ = hostile
    path = tmp_path / "explore.html"
    image.explore(tiles=None).save(str(path))
    with browser(tmp_path / "profile") as context:
        log = PageLog()
        page = open_map(context, path, log, serve=_serve)
        assert log.console_errors == [] and log.page_errors == [] and log.dialogs == []
        assert page.title() != "hacked"
        control = str(page.locator(".leaflet-control-layers").text_content())
        for name in (texts[6], texts[0]):  # the own layers' names
            assert name in control
        assert page.locator(".leaflet-control-layers img, .leaflet-control-layers script"
                            ).count() == 0
        # each place's tooltip, as the mouse shows it: its name as text
        points = page.evaluate("""() => {
            const out = [];
            for (const g of Object.values(window).filter(v => v instanceof L.GeoJSON)) {
                g.eachLayer(f => { if (f instanceof L.CircleMarker && f._map) {
                    const p = f._map.latLngToContainerPoint(f.getLatLng()),
                          r = f._map.getContainer().getBoundingClientRect();
                    out.push([r.left + p.x, r.top + p.y]); } });
            }
            return out;
        }""")
        names = set()
        for x, y in points:
            page.mouse.move(x, y)
            page.wait_for_timeout(50)
            names |= {t.split("\n")[0] for t in
                      page.locator(".leaflet-tooltip").all_inner_texts()}
        assert set(texts[:6]) <= names
        assert page.locator(".leaflet-tooltip img, .leaflet-tooltip script").count() == 0
        page.screenshot(path=str(tmp_path / "explore.png"))
