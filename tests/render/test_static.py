"""Tests for strukturbild.render.static: the PNG/PDF/SVG structure map.

The map of the bundled Skåne example is drawn once per format (module fixtures) and
checked for what a report needs: resolution and page size, embedded TrueType fonts,
Swedish letters, the style table's colours and sizes, byte-identical rebuilds and the
modelled-flows note. The Skåne kommuner are read from ../shared at test time (never
copied here); those tests skip when it is absent.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import tomllib
import warnings
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pytest

from strukturbild import write_outputs
from strukturbild.config import project_from_dict
from strukturbild.errors import (
    ConfigError,
    EmptyInputError,
    OutputConflictError,
    StrukturbildError,
    StrukturbildWarning,
)
from strukturbild.export.maps import write_static_map
from strukturbild.image import StructureImage
from strukturbild.pipeline import build
from strukturbild.render import static
from strukturbild.render._scene import scene_of
from strukturbild.render.static import PT_PER_PX, static_map_bytes
from strukturbild.render.style import (
    AREA_FILL,
    ROLE_COLOURS,
    link_style,
    link_width,
    role_styles,
    symbol_radius,
)
from strukturbild.sources.example import example_dir, example_project

from ..conftest import requires_shared

SVG_NS = {"svg": "http://www.w3.org/2000/svg"}
XLINK = "{http://www.w3.org/1999/xlink}href"
SOURCE = "Källa: SCB, statistiska tätorter 2020 (CC0)"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def image() -> StructureImage:
    """The example without its stråk: the print map as it draws the links (the spokes);
    with stråk it draws those instead (tests/analysis/test_strak.py)."""
    return dataclasses.replace(build(example_project()), strak=None)


@pytest.fixture(scope="module")
def png(image: StructureImage) -> bytes:
    return static_map_bytes(image, "png", image.options(source_note=SOURCE))


@pytest.fixture(scope="module")
def pdf(image: StructureImage) -> bytes:
    return static_map_bytes(image, "pdf", image.options(source_note=SOURCE))


@pytest.fixture(scope="module")
def svg(image: StructureImage) -> bytes:
    return static_map_bytes(image, "svg", image.options(source_note=SOURCE))


@pytest.fixture(scope="module")
def svg_en(image: StructureImage) -> bytes:
    english = dataclasses.replace(image, language="en")
    return static_map_bytes(english, "svg", english.options(source_note=""))


@pytest.fixture(scope="module")
def image_with_areas() -> StructureImage:
    """The example with the Skåne kommuner as areas and nodal regions."""
    kommuner = requires_shared("geodata", "sweden", "skane", "kommuner.gpkg")
    data = tomllib.loads((example_dir() / "project.toml").read_text(encoding="utf-8"))
    data["areas"] = {"path": str(kommuner),
                     "columns": {"area_id": "kommun_code", "name": "kommun_name"}}
    data["regions"] = {"method": "nodal"}
    # the modelled flows send Östra Göinge's two places to two regions (Osby and
    # Kristianstad): a warning that names the kommun, not a failure
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StrukturbildWarning)
        return build(project_from_dict(data, base_dir=example_dir()))


def _png_chunks(data: bytes) -> dict[bytes, bytes]:
    """The chunks of a PNG file by type (the first of each)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks: dict[bytes, bytes] = {}
    pos = 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(kind + body) == crc
        chunks.setdefault(kind, body)
        pos += 12 + length
    return chunks


def _svg_texts(data: bytes) -> list[str]:
    root = ET.fromstring(data)
    return ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]


def _svg_by_id(data: bytes) -> dict[str, ET.Element]:
    return {el.get("id", ""): el for el in ET.fromstring(data).iter() if el.get("id")}


def _style(el: ET.Element) -> dict[str, str]:
    pairs = (p.split(":", 1) for p in el.get("style", "").split(";") if ":" in p)
    return {k.strip(): v.strip() for k, v in pairs}


def _pdftotext(data: bytes, tmp_path: Path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    path = tmp_path / "map.pdf"
    path.write_bytes(data)
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True,
                         capture_output=True)
    return out.stdout.decode("utf-8")


def _mm_to_px(mm: float, dpi: float) -> float:
    return mm / 25.4 * dpi


# --------------------------------------------------------------------------- PNG


def test_png_is_300_dpi_with_the_page_size_in_pixels(png: bytes) -> None:
    chunks = _png_chunks(png)
    width, height = struct.unpack(">II", chunks[b"IHDR"][:8])
    assert abs(width - _mm_to_px(210, 300)) <= 1  # A4 portrait, the default paper
    assert abs(height - _mm_to_px(297, 300)) <= 1
    ppu_x, ppu_y, unit = struct.unpack(">IIB", chunks[b"pHYs"])
    assert unit == 1  # pixels per metre
    assert ppu_x == ppu_y
    assert ppu_x * 0.0254 == pytest.approx(300, abs=0.5)


def test_png_software_is_fixed_and_no_date(png: bytes) -> None:
    texts = [body for kind, body in _png_chunk_list(png) if kind == b"tEXt"]
    keys = {t.split(b"\0", 1)[0]: t.split(b"\0", 1)[1] for t in texts}
    assert keys[b"Software"] == b"strukturbild"
    assert not any(b"date" in k.lower() or b"time" in k.lower() for k in keys)


def _png_chunk_list(data: bytes) -> list[tuple[bytes, bytes]]:
    out = []
    pos = 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        out.append((data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]))
        pos += 12 + length
    return out


@pytest.mark.parametrize("paper", ["A4-landscape", "A3-portrait", "A3-landscape"])
def test_paper_sizes(image: StructureImage, paper: str) -> None:
    from strukturbild.render.style import PAPER_MM

    chunks = _png_chunks(static_map_bytes(image, "png", image.options(paper=paper, dpi=40)))
    width, height = struct.unpack(">II", chunks[b"IHDR"][:8])
    assert abs(width - _mm_to_px(PAPER_MM[paper][0], 40)) <= 1
    assert abs(height - _mm_to_px(PAPER_MM[paper][1], 40)) <= 1


@pytest.mark.parametrize(("size_mm", "dpi"), [((240, 180), 100), ((120, 160), 150)],
                         ids=["landscape-100dpi", "small-portrait-150dpi"])
def test_png_size_and_dpi_follow_the_arguments(image: StructureImage,
                                               size_mm: tuple[float, float], dpi: int) -> None:
    chunks = _png_chunks(static_map_bytes(image, "png", image.options(dpi=dpi), size_mm=size_mm))
    width, height = struct.unpack(">II", chunks[b"IHDR"][:8])
    assert abs(width - _mm_to_px(size_mm[0], dpi)) <= 1
    assert abs(height - _mm_to_px(size_mm[1], dpi)) <= 1
    assert struct.unpack(">I", chunks[b"pHYs"][:4])[0] * 0.0254 == pytest.approx(dpi, abs=0.5)


# --------------------------------------------------------------------------- PDF


def test_pdf_fonts_are_embedded_truetype_not_type3(pdf: bytes) -> None:
    # matplotlib writes font dictionaries uncompressed: these names are plain bytes.
    assert pdf.startswith(b"%PDF-")
    assert b"/FontFile2" in pdf  # an embedded TrueType font program
    assert b"/Type3" not in pdf
    assert b"/CreationDate" not in pdf


def test_pdf_fonts_with_pdffonts(pdf: bytes, tmp_path: Path) -> None:
    if shutil.which("pdffonts") is None:
        pytest.skip("pdffonts (poppler-utils) is not installed")
    path = tmp_path / "map.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdffonts", str(path)], check=True, capture_output=True,
                         text=True).stdout
    rows = out.splitlines()[2:]
    assert rows, out
    for row in rows:
        assert "TrueType" in row, row
        assert "Type 3" not in row, row
        # columns: name, type (1-2 words), encoding, emb, sub, uni, object id
        emb, _sub, uni = row.split()[-5:-2]
        assert emb == "yes", row
        assert uni == "yes", row  # a ToUnicode map: text can be copied and searched


def test_pdf_text_has_swedish_letters(pdf: bytes, tmp_path: Path) -> None:
    txt = _pdftotext(pdf, tmp_path)
    for word in ("Strukturbild för Skåne", "Tillväxtmotor", "Regional kärna", "Malmö",
                 "Källa: SCB", "modellerade flöden", "Befolkning (cirkelns yta)",
                 "Kristianstad–Hässleholm"):
        assert word in txt, word


# --------------------------------------------------------------------------- SVG


def test_svg_is_well_formed_text_with_swedish_letters(svg: bytes) -> None:
    texts = _svg_texts(svg)
    joined = "\n".join(texts)
    for word in ("Strukturbild för Skåne", "Tillväxtmotor (5)", "Regional kärna (4)",
                 "Malmö", "Kristianstad–Hässleholm", "Källa: SCB", "modellerade flöden",
                 "Gemensam tillväxtmotor", "Regionalt samband", "Lokalt samband"):
        assert word in joined, word
    ids = [el.get("id") for el in ET.fromstring(svg).iter() if el.get("id")]
    assert len(ids) == len(set(ids)), "duplicate element ids"
    assert b"<dc:date>" not in svg


def test_svg_role_legend_colours_equal_the_style_table(image: StructureImage,
                                                       svg: bytes) -> None:
    by_id = _svg_by_id(svg)
    styles = role_styles([(r.key, r.label_sv) for r in image.roles])
    counts = image.places["role"].astype(str).value_counts()
    shown = 0
    for s in styles:
        el = by_id.get(f"legend-role-{s.key}")
        if counts.get(s.key, 0) == 0:
            assert el is None, f"{s.key} has no places and must not be in the legend"
            continue
        assert el is not None, s.key
        fills = {_style(u).get("fill") for u in el.iter("{http://www.w3.org/2000/svg}use")}
        assert fills == {s.colour}
        assert s.colour == ROLE_COLOURS[s.key]
        shown += 1
    assert shown == 4


def _legend_and_drawn(svg: bytes) -> dict[str, tuple[dict[str, str], dict[str, str]]]:
    """Per link style: the legend row's line style and the drawn links' style."""
    by_id = _svg_by_id(svg)
    out = {}
    for key in (k.removeprefix("legend-link-") for k in by_id if k.startswith("legend-link-")):
        (row,) = by_id[f"legend-link-{key}"].iter("{http://www.w3.org/2000/svg}path")
        drawn = by_id.get(f"links-{key}")
        shapes = [] if drawn is None else list(drawn.iter("{http://www.w3.org/2000/svg}path"))
        out[key] = (_style(row), _style(shapes[0]) if shapes else {})
    for key in (k.removeprefix("links-") for k in by_id if k.startswith("links-")):
        assert key in out, f"links drawn in style {key} have no legend row"
    return out


def test_svg_link_legend_rows_are_the_styles_drawn(svg: bytes, image: StructureImage) -> None:
    """Every link row of the legend is a style links are drawn in, in that style, and the
    other way round: the colours, dashes and opacities of the style table."""
    rows = _legend_and_drawn(svg)
    assert set(rows) == {"regional-strong", "regional-medium", "regional-weak",
                         "local-strong", "local-medium"}  # weak local links not drawn
    weak = _legend_and_drawn(static_map_bytes(image, "svg", image.options(weak_links=True)))
    assert set(weak) == set(rows) | {"local-weak"}
    for key, (row, drawn) in weak.items():
        scope, cls = key.split("-")
        colour, dash, alpha = link_style(cls, scope == "regional")
        assert row["stroke"] == colour == drawn["fill"], key
        assert float(row.get("stroke-opacity", 1)) == pytest.approx(alpha), key
        assert float(drawn.get("fill-opacity", 1)) == pytest.approx(alpha), key
        if dash:  # the style table's pixels as points
            expected = [float(v) * PT_PER_PX for v in dash.split()]
            got = [float(v) for v in row["stroke-dasharray"].split(",")]
            assert got == pytest.approx(expected)
        else:
            assert "stroke-dasharray" not in row
    # no two rows look alike
    looks = {(r["stroke"], r.get("stroke-opacity"), r.get("stroke-dasharray"))
             for r, _ in weak.values()}
    assert len(looks) == len(weak)


def test_english_labels(svg_en: bytes) -> None:
    joined = " ".join(" ".join(_svg_texts(svg_en)).split())  # wrapped lines joined
    for word in ("Roles", "Growth engine (5)", "Regional core (4)", "Population (circle area)",
                 "Functional links", "Local link, strong", "Commuters (line width)",
                 "Joint growth engine", "Source: SCB (statistiska tätorter 2020, "
                 "kommungränser, dagbefolkning 2024; CC0, fri med angiven källa), Region Skåne "
                 "(Regionplan för Skåne 2022–2040), GeoNames (places outside the region; CC BY "
                 "4.0), Natural Earth (background; public domain); modelled flows",
                 "not observed commuting"):
        assert word in joined, word
    for word in ("Tillväxtmotor", "Roller", "modellerade"):
        assert word not in joined, word


def test_modelled_flows_are_named_only_when_modelled(image: StructureImage, svg: bytes) -> None:
    assert image.modelled
    assert " ".join(_svg_texts(svg)).endswith("; modellerade flöden")  # the source line, last
    observed_image = dataclasses.replace(image, modelled=False)
    observed = static_map_bytes(observed_image, "svg", observed_image.options(source_note=""))
    joined = "\n".join(_svg_texts(observed))
    assert "modellerade" not in joined
    # the default source line: the publishers of the inputs and designations, GeoNames'
    # for the places beyond the region, the base's
    assert "Källa: SCB (statistiska tätorter 2020, kommungränser, dagbefolkning 2024; CC0, " \
        "fri med angiven källa), Region Skåne (Regionplan för Skåne 2022–2040), GeoNames " \
        "(orter utanför regionen; CC BY 4.0), Natural Earth (bakgrund; public domain)" \
        in " ".join(joined.split())  # wrapped lines joined


def test_source_line_names_the_projects_sources_not_scb(image: StructureImage) -> None:
    """A map of INSEE data says INSEE: nothing is assumed about the sources."""
    prov = {**image.provenance, "designation_sources": [], "inputs": {
        "places": {"file": "communes_grand_est.gpkg", "licence": "INSEE, Licence Ouverte 2.0"},
        "flows": {"file": "mobpro.csv", "licence": "INSEE, Licence Ouverte 2.0"}}}
    french = dataclasses.replace(image, provenance=prov, base=None, context=None, ferries=None,
                                 language="en")
    joined = "\n".join(_svg_texts(static_map_bytes(french, "svg",
                                                    french.options(source_note=""))))
    assert "Source: INSEE, Licence Ouverte 2.0; modelled flows" in joined
    assert "SCB" not in joined and "Natural Earth" not in joined
    # with a source for each input: the publisher, what it gave, the licence
    prov["inputs"] = {"places": {"file": "communes_grand_est.gpkg", "source": "INSEE, communes",
                                 "licence": "Licence Ouverte 2.0"},
                      "flows": {"file": "mobpro.csv", "source": "INSEE, MOBPRO 2020",
                                "licence": "Licence Ouverte 2.0"}}
    french = dataclasses.replace(french, provenance=prov)
    joined = " ".join(" ".join(_svg_texts(static_map_bytes(
        french, "svg", french.options(source_note="")))).split())
    assert "Source: INSEE (communes, MOBPRO 2020; Licence Ouverte 2.0); modelled flows" in joined
    assert "mobpro.csv" not in joined and "communes_grand_est" not in joined


# --------------------------------------------------------------------------- determinism


@pytest.mark.parametrize("fmt", ["png", "pdf", "svg"])
def test_rebuilds_are_byte_identical(image: StructureImage, fmt: static.Format,
                                     png: bytes, pdf: bytes, svg: bytes) -> None:
    first = {"png": png, "pdf": pdf, "svg": svg}[fmt]
    assert static_map_bytes(image, fmt, image.options(source_note=SOURCE)) == first


def test_rebuilds_in_a_new_process_are_byte_identical(tmp_path: Path) -> None:
    """Another interpreter with another hash seed writes the same bytes."""
    code = (
        "import hashlib, sys\n"
        "from strukturbild.sources.example import example_project\n"
        "from strukturbild.pipeline import build\n"
        "from strukturbild.render.static import static_map_bytes\n"
        "img = build(example_project())\n"
        "for f in ('png', 'pdf', 'svg'):\n"
        "    print(hashlib.sha256(static_map_bytes(img, f, img.options(dpi=50))).hexdigest())\n"
        "print('pyplot' if 'matplotlib.pyplot' in sys.modules else 'no-pyplot')\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True, cwd=tmp_path, env=env)
    full = build(example_project())  # with its stråk, routed again in this process
    here = [hashlib.sha256(static_map_bytes(full, f, full.options(dpi=50))).hexdigest()
            for f in ("png", "pdf", "svg")]
    assert out.stdout.split() == [*here, "no-pyplot"]


def test_global_matplotlib_settings_are_left_alone(image: StructureImage) -> None:
    before = dict(matplotlib.rcParams)
    backend = matplotlib.get_backend()
    static_map_bytes(image, "svg")
    assert dict(matplotlib.rcParams) == before
    assert matplotlib.get_backend() == backend


# --------------------------------------------------------------------------- the figure


@pytest.fixture(scope="module")
def figure(image: StructureImage) -> Any:
    with static._rc_context():
        options = image.options(source_note=SOURCE, dpi=100, label_roles=3)
        fig = static._figure(scene_of(image, options, "print"), size_mm=(210, 297))
        fig.canvas.draw()
    return fig


def _by_gid(fig: Any) -> dict[str, Any]:
    return {a.get_gid(): a for a in fig.findobj() if a.get_gid()}


def test_circles_and_lines_have_the_style_tables_sizes_in_points(image: StructureImage,
                                                                 figure: Any) -> None:
    arts = _by_gid(figure)
    sizes = sorted(arts["places"].get_sizes())
    expected = sorted((2 * symbol_radius(p) * PT_PER_PX) ** 2 for p in image.places.population)
    assert sizes == pytest.approx(expected)
    # the legend circles are the web map's: 200 000 and 20 000 for Skåne's 325 069
    for pop in (200_000, 20_000):
        (s,) = arts[f"legend-size-{pop}"].get_sizes()
        assert math.sqrt(s) / 2 == pytest.approx(symbol_radius(pop) * PT_PER_PX)
    links = image.links
    max_flow = float(links["total"].max())
    ax = arts["places"].axes
    m_per_pt = (ax.get_xlim()[1] - ax.get_xlim()[0]) / (
        ax.get_window_extent().width / (figure.dpi / 72.0))
    drawn = 0
    for scope in ("local", "regional"):
        for cls in ("medium", "strong"):
            quads = arts[f"links-{scope}-{cls}"].get_paths()
            drawn += len(quads)
            # each link is a quad whose ends are as wide as the web map's taper, in points
            ends = sorted(max(np.hypot(*(v[1] - v[2])), np.hypot(*(v[0] - v[3]))) / m_per_pt
                          for v in (q.vertices for q in quads))
            assert ends[-1] <= 8.0 * PT_PER_PX + 1e-6
    # weak local links only when asked for; regional links (the long axes) always
    assert "links-local-weak" not in arts and "links-regional-weak" in arts
    regional = links["regional"].to_numpy()
    assert drawn == int((links["link_class"] != "weak").sum())
    assert bool(((links["link_class"] == "weak").to_numpy() & regional).any())
    widest = max(np.hypot(*(q.vertices[0] - q.vertices[3])) / m_per_pt
                 for key in arts if key.startswith("links-") for q in arts[key].get_paths())
    assert widest == pytest.approx(link_width(max_flow, max_flow) * PT_PER_PX, rel=1e-6)
    # strong links are drawn over medium ones, regional over local ones
    z = [arts[f"links-{s}-{c}"].get_zorder() for s in ("local", "regional")
         for c in ("medium", "strong")]
    assert z == sorted(z) and len(set(z)) == 4
    assert arts["places"].get_zorder() > z[-1]


def test_labels_are_the_first_three_roles_with_places_and_do_not_overlap(
        image: StructureImage, figure: Any) -> None:
    renderer = figure.canvas.get_renderer()
    labels = {a.get_gid().removeprefix("label-"): a for a in figure.findobj()
              if str(a.get_gid()).startswith("label-")}
    roles = image.places["role"].astype(str)
    # storstad has no place in the example: the labels go to the next three roles; the
    # places of the joint growth engine are named at their dots, and the band too
    allowed = set(image.places.index[roles.isin(["tillvaxtmotor", "regional_karna",
                                                 "lokal_karna"])])
    assert set(labels) <= allowed
    assert {"1280TC106", "1283TC107", "1281TC105"} <= set(labels)  # Malmö, Helsingborg, Lund
    assert {"1290TC112", "1293TC105"} <= set(labels)  # Kristianstad, Hässleholm
    assert len(labels) >= 0.75 * len(allowed)
    (group,) = [a for a in figure.findobj() if str(a.get_gid()).startswith("group-label-")]
    assert group.get_text() == "Kristianstad–Hässleholm"
    labels["group"] = group
    frame = figure.axes[0].get_window_extent(renderer)
    boxes = [a.get_window_extent(renderer) for a in labels.values()]
    for a, b in itertools.combinations(boxes, 2):
        assert not a.overlaps(b)
    for b in boxes:
        assert frame.contains(b.x0, b.y0) and frame.contains(b.x1, b.y1)


def test_scale_bar_is_a_round_number_of_km(figure: Any) -> None:
    arts = _by_gid(figure)
    left, right = arts["scalebar-0"], arts["scalebar-1"]
    km = (left.get_width() + right.get_width()) / 1000
    mantissa = km / 10 ** math.floor(math.log10(km))
    assert mantissa in (1.0, 2.0, 5.0)
    ax = left.axes
    texts = [t.get_text() for t in ax.texts]
    assert "km" in texts and _fmt(km) in texts and "N" in texts


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else str(v).replace(".", ",")


def test_legend_is_outside_the_map(figure: Any) -> None:
    map_ax, legend_ax = figure.axes
    renderer = figure.canvas.get_renderer()
    assert not map_ax.get_window_extent(renderer).overlaps(legend_ax.get_window_extent(renderer))


@pytest.mark.parametrize(("value", "nice"), [(22.0, 20.0), (9.9, 5.0), (1.0, 1.0), (0.3, 0.2),
                                             (260.0, 200.0)])
def test_nice_length(value: float, nice: float) -> None:
    from strukturbild.render.style import nice_floor

    assert nice_floor(value) == pytest.approx(nice)


# --------------------------------------------------------------------------- areas


def test_areas_and_regions_are_drawn(image_with_areas: StructureImage, tmp_path: Path) -> None:
    img = image_with_areas
    assert img.areas is not None and len(img.areas) == 33
    assert img.regions is not None and len(img.regions) > 0
    svg = static_map_bytes(img, "svg", img.options(source_note=SOURCE))
    by_id = _svg_by_id(svg)
    for key in ("areas", "regions", "legend-areas", "legend-regions"):
        assert key in by_id, key
    joined = "\n".join(_svg_texts(svg))
    assert "Kommuner" in joined and "Funktionella regioner" in joined
    # the regions' names are on the map (nodal regions are named after their centre)
    named = [k for k in by_id if k.startswith("region-label-")]
    assert named and all(k.removeprefix("region-label-").replace("_", " ").strip() for k in named)
    assert any(str(n) in joined for n in img.regions["name"])
    # one path per kommun: the light base with thin borders
    paths = list(by_id["areas"].iter("{http://www.w3.org/2000/svg}path"))
    assert len(paths) == len(img.areas)
    for path in paths:
        assert _style(path)["fill"] == AREA_FILL
        assert float(_style(path)["stroke-width"]) < 0.6
    out = write_static_map(img, tmp_path / "skane.png", img.options(source_note=SOURCE, dpi=100))
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_map_extent_holds_the_projects_kommuner(image_with_areas: StructureImage) -> None:
    with static._rc_context():
        options = image_with_areas.options(source_note="", dpi=72)
        fig = static._figure(scene_of(image_with_areas, options, "print"), size_mm=(180, 240))
    ax = fig.axes[0]
    x0, y0, x1, y1 = image_with_areas.areas.total_bounds
    (xa, xb), (ya, yb) = ax.get_xlim(), ax.get_ylim()
    assert xa < x0 and xb > x1 and ya < y0 and yb > y1
    # one scale on both axes: metres per point equal
    bbox = ax.get_position()
    w_pt, h_pt = bbox.width * 180 / 25.4 * 72, bbox.height * 240 / 25.4 * 72
    assert (xb - xa) / w_pt == pytest.approx((yb - ya) / h_pt, rel=1e-9)


# --------------------------------------------------------------------------- writing


@pytest.mark.parametrize(("suffix", "magic"), [(".png", b"\x89PNG"), (".pdf", b"%PDF"),
                                               (".svg", b"<?xml")])
def test_write_static_map_takes_the_format_from_the_suffix(
        image: StructureImage, tmp_path: Path, suffix: str, magic: bytes) -> None:
    target = tmp_path / "maps" / f"skane{suffix.upper() if suffix == '.pdf' else suffix}"
    out = write_static_map(image, target, image.options(dpi=50))
    assert out == target
    assert target.read_bytes().startswith(magic)
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]  # no temp files


def test_unknown_suffix_is_a_config_error(image: StructureImage, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\.png, \.pdf or \.svg") as exc:
        write_static_map(image, tmp_path / "skane.jpg")
    assert isinstance(exc.value, ValueError)
    assert not any(tmp_path.iterdir())


def test_a_failed_write_leaves_the_old_file(image: StructureImage, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "skane.svg"
    target.write_text("old")
    empty = dataclasses.replace(image, places=image.places.iloc[:0])
    with pytest.raises(EmptyInputError):
        write_static_map(empty, target)

    def fail(*_args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", fail)
    with pytest.raises(OutputConflictError, match=r"disk full\); no output changed"):
        write_static_map(image, target, image.options(dpi=50))
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["skane.svg"]


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"size_mm": (40, 40)}, "at least 60"),
    ({"dpi": 0}, "dpi"),
    ({"size_mm": (400, 60)}, "no room for the map"),
], ids=["tiny-page", "zero-dpi", "no-room"])
def test_bad_options_are_config_errors(image: StructureImage, kwargs: dict[str, Any],
                                       match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        size = kwargs.pop("size_mm", None)
        static_map_bytes(image, "png", image.options(**kwargs), size_mm=size)


def test_missing_matplotlib_is_a_friendly_error(image: StructureImage,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(StrukturbildError, match="pip install matplotlib"):
        static_map_bytes(image, "svg")


def test_cli_writes_every_map_format(tmp_path: Path) -> None:
    project = example_project().with_export(out_dir=tmp_path, formats=("png", "pdf", "svg"))
    written = write_outputs(build(project), project)
    assert {k: p.name for k, p in written.items()} == {
        "png": "skane.png", "pdf": "skane.pdf", "svg": "skane.svg"}
    assert "modellerade flöden" in written["svg"].read_text(encoding="utf-8")
    assert re.search(rb"/FontFile2", written["pdf"].read_bytes())


# --------------------------------------------------------------------------- paper


def _label_ids(svg: bytes) -> set[str]:
    """The places named on a print map (its labels' ids)."""
    return {m.decode() for m in re.findall(rb'id="label-([^"]+)"', svg)}


def test_a3_names_more_places_than_a4(image: StructureImage) -> None:
    """On A3 the next role down is named too (the serviceorter of the example), where
    the names fit; on A4 the three labelled roles only (issue 18)."""
    a4 = _label_ids(static_map_bytes(image, "svg", image.options(paper="A4-portrait")))
    a3 = _label_ids(static_map_bytes(image, "svg", image.options(paper="A3-landscape")))
    roles = image.places["role"].astype(str)
    service = {str(i) for i in image.places.index[roles == "serviceort"]}
    assert not a4 & service
    assert len(a3) > len(a4) + 20 and len(a3 & service) >= 0.75 * len(service)
    assert a4 <= a3  # what A4 names, A3 names too
    assert static.print_label_tiers((297.0, 420.0)) == 2
    assert static.print_label_tiers((210.0, 297.0)) == 1


def test_joint_designation_names_its_towns_at_their_dots(image: StructureImage) -> None:
    """The band of Kristianstad–Hässleholm keeps its name, and each town is named at its
    own dot (issue 18), on A4 and on A3."""
    for paper in ("A4-portrait", "A3-landscape"):
        svg = static_map_bytes(image, "svg", image.options(paper=paper))
        assert {"1290TC112", "1293TC105"} <= _label_ids(svg), paper
        assert b'id="group-label-Kristianstad_H' in svg, paper


# ---------------------------------------------------------------- long titles (red team)

@pytest.mark.parametrize("words", [12, 30, 70])
def test_a_title_of_several_lines_stays_on_the_page_above_the_subtitle(
        image: StructureImage, words: int) -> None:
    # 0.2.0 put the last line of the title where the first belongs: a title of three
    # lines or more ran off the top of the page (1 000 characters: 12 lines, most of
    # them off), with a gap as high as the title between it and the map
    title = " ".join(["Strukturbild"] * words)
    with static._rc_context():
        options = image.options(source_note=SOURCE, dpi=60)
        fig = static._figure(scene_of(dataclasses.replace(image, title=title), options,
                                      "print"), size_mm=(210, 297))
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        arts = _by_gid(fig)
        box = arts["title"].get_window_extent(renderer)
        below = arts["subtitle"].get_window_extent(renderer)
        frame = fig.axes[0].get_window_extent(renderer)
        page = fig.bbox
    margin = 10 / 25.4 * fig.dpi * 0.8  # within the page's margin of 10 mm
    assert arts["title"].get_text().count("\n") + 1 == len(static._wrap(title, 190, 16.0))
    assert box.y1 <= page.y1 - margin and box.x0 >= margin
    assert box.y0 > below.y1 > frame.y1  # title, subtitle, the map: top down, apart
    assert below.y1 - box.y0 < 0.05 * page.height  # and no gap a line high between


def test_a_title_that_leaves_no_room_for_the_map_is_named(image: StructureImage) -> None:
    # 0.2.0: "size_mm (210.0, 297.0) leaves no room for the map beside its legend"
    title = " ".join(["Strukturbild"] * 240)
    with pytest.raises(ConfigError, match=r"^the title \(3119 characters\) takes \d+ lines on "
                       r"a page of 210 × 297 mm and leaves no room for the map; shorten "
                       r"\[map\] title \(or \[project\] title\)$"):
        static_map_bytes(dataclasses.replace(image, title=title), "png")
