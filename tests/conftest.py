"""Tiny hand-checkable fixtures, where the shared real data lives, and what test modules
of several folders share: built images (made once per run) and the hostile project.

The toy region: six places in three kommuner, with jobs and employed residents
given, and flows between them that can be added up by hand.

=========  ==========  =======  ==========  ======  ========  ================
place_id   name        kommun   population  jobs    employed  x, y (km east/n)
=========  ==========  =======  ==========  ======  ========  ================
0101TC101  Storby      0101     250 000     140 000 120 000   500, 6500
0102TC101  Mellanstad  0102      45 000      24 000  20 000   530, 6500
0102TB102  Förort      0102       8 000       1 500   4 000   520, 6500
0103TC101  Småort      0103       6 000       2 500   3 000   500, 6530
0103TB102  Byn         0103       2 500         600   1 200   505, 6540
0103TB103  Hamlet      0103         900         100     400   510, 6545
=========  ==========  =======  ==========  ======  ========  ================

Flows (origin → destination: count), no intra-place flows::

    Mellanstad → Storby 2000    Storby → Mellanstad 1000
    Förort → Storby 1500        Storby → Förort 300
    Förort → Mellanstad 800
    Småort → Storby 300         Storby → Småort 100
    Byn → Småort 300            Småort → Byn 50
    Hamlet → Byn 20
    total 6 370
"""

from __future__ import annotations

import dataclasses
import json
import os
import warnings
from pathlib import Path
from typing import Any, NoReturn

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from strukturbild.config import LayerSource, project_from_dict
from strukturbild.errors import StrukturbildWarning
from strukturbild.image import OwnLayer, StructureImage
from strukturbild.pipeline import build
from strukturbild.sources.example import example_project

REPO = Path(__file__).resolve().parents[1]
#: The tests' own small inputs (``tests/data``), for test modules at any depth.
TEST_DATA = REPO / "tests" / "data"
SHARED = REPO.parent / "shared"
SWEDEN = SHARED / "geodata" / "sweden"
#: The reference flow data sets of ../shared (Austria, Grand Est, Sardinia, …).
FLOWS = SHARED / "flows"

TOY_PLACES = [
    # place_id, name, kommun, population, jobs, employed, x, y
    ("0101TC101", "Storby", "0101", 250_000, 140_000, 120_000, 500_000, 6_500_000),
    ("0102TC101", "Mellanstad", "0102", 45_000, 24_000, 20_000, 530_000, 6_500_000),
    ("0102TB102", "Förort", "0102", 8_000, 1_500, 4_000, 520_000, 6_500_000),
    ("0103TC101", "Småort", "0103", 6_000, 2_500, 3_000, 500_000, 6_530_000),
    ("0103TB102", "Byn", "0103", 2_500, 600, 1_200, 505_000, 6_540_000),
    ("0103TB103", "Hamlet", "0103", 900, 100, 400, 510_000, 6_545_000),
]
TOY_FLOWS = [
    ("0102TC101", "0101TC101", 2000),
    ("0101TC101", "0102TC101", 1000),
    ("0102TB102", "0101TC101", 1500),
    ("0101TC101", "0102TB102", 300),
    ("0102TB102", "0102TC101", 800),
    ("0103TC101", "0101TC101", 300),
    ("0101TC101", "0103TC101", 100),
    ("0103TB102", "0103TC101", 300),
    ("0103TC101", "0103TB102", 50),
    ("0103TB103", "0103TB102", 20),
]


def shared_missing(reason: str) -> NoReturn:
    """Skip a test whose shared data (../shared) is absent; fail instead under CI.

    CI sets ``STRUKTURBILD_REQUIRE_SHARED=1`` (``.ci/run``): there ../shared is beside
    the clone, and a test that needs it must run, not skip.
    """
    if os.environ.get("STRUKTURBILD_REQUIRE_SHARED"):
        pytest.fail(f"{reason} (STRUKTURBILD_REQUIRE_SHARED is set: ../shared must be "
                    "beside the repository)")
    pytest.skip(reason)


def requires_shared(*parts: str) -> Path:
    """The path of a file in ../shared, or skip the test with a clear message."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        shared_missing(f"shared data not found at {path} (clone the repository beside "
                       "../shared)")
    return path


@pytest.fixture
def toy_places_frame() -> gpd.GeoDataFrame:
    """The toy places as a GeoDataFrame in EPSG:3006 with SCB-style column names."""
    df = pd.DataFrame(TOY_PLACES, columns=["tatortskod", "tatort", "kommun", "bef", "jobs",
                                           "employed", "x", "y"])
    return gpd.GeoDataFrame(df.drop(columns=["x", "y"]),
                            geometry=shapely.points(df["x"], df["y"]), crs="EPSG:3006")


@pytest.fixture
def toy_dir(tmp_path: Path, toy_places_frame: gpd.GeoDataFrame) -> Path:
    """A project folder: places.gpkg, flows.csv and project.toml with observed flows."""
    toy_places_frame.to_file(tmp_path / "places.gpkg", layer="places")
    pd.DataFrame(TOY_FLOWS, columns=["from", "to", "n"]).to_csv(tmp_path / "flows.csv",
                                                                 index=False)
    (tmp_path / "project.toml").write_text(
        """
[project]
name = "toy"
title = "Toy region"
language = "en"

[places]
path = "places.gpkg"
layer = "places"

[flows]
path = "flows.csv"

[flows.columns]
origin = "from"
destination = "to"
count = "n"

[links]
min_flow = 0

[export]
out_dir = "out"
""",
        encoding="utf-8",
    )
    return tmp_path


@pytest.fixture
def toy_flows_frame() -> pd.DataFrame:
    """The toy flows as a long table."""
    return pd.DataFrame(TOY_FLOWS, columns=["origin", "destination", "count"])


# --------------------------------------------------------------------------- built images
# Built once for the whole run: the render and export tests read them and derive their
# own images with dataclasses.replace; none changes them in place.


@pytest.fixture(scope="session")
def example_image() -> StructureImage:
    """The bundled Skåne example: 70 places on 33 kommuner, modelled links, the joint
    growth engine Kristianstad–Hässleholm, the land around; no regions."""
    return build(example_project())


@pytest.fixture(scope="session")
def areas_image(tmp_path_factory: pytest.TempPathFactory) -> StructureImage:
    """Skåne's 248 tätorter with its 33 kommuner as areas and nodal regions.

    Reads the shared data by path (skips when ``../shared`` is absent).
    """
    tatorter = requires_shared("geodata", "sweden", "skane", "tatorter_2020.gpkg")
    kommuner = requires_shared("geodata", "sweden", "skane", "kommuner.gpkg")
    base_dir = tmp_path_factory.mktemp("areas_image")
    data: dict[str, Any] = {
        "project": {"name": "skane_kommuner", "title": "Skåne med kommuner",
                    "language": "sv"},
        "places": {"path": str(tatorter)},
        "areas": {"path": str(kommuner)},
        "links": {"source": "modelled", "max_distance_km": 30, "min_flow": 50},
        "regions": {"method": "nodal"},
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StrukturbildWarning)
        image = build(project_from_dict(data, base_dir=base_dir))
    assert image.areas is not None and image.regions is not None
    return image


@pytest.fixture(scope="session")
def layers_image(example_image: StructureImage) -> StructureImage:
    """The example with three own layers, named and attributed as a planner might.

    A corridor (two lines), green structure (a polygon with a hole and one without)
    and stations (points), all in Skåne, EPSG:3006.
    """
    image = example_image
    corridor = gpd.GeoDataFrame(
        {"Namn": ["Västkuststråket", "Södra stambanan"], "Typ": ["stråk", "stråk"],
         "Längd km": [60.5, 70.0]},
        geometry=[shapely.LineString([(374_000, 6_164_000), (361_000, 6_223_000),
                                      (367_000, 6_252_000)]),
                  shapely.LineString([(375_000, 6_165_000), (387_000, 6_180_000),
                                      (441_000, 6_225_000)])], crs=3006)
    green = gpd.GeoDataFrame(
        {"namn": ["Söderåsen", "Romeleåsen"]},
        geometry=[shapely.box(385_000, 6_215_000, 400_000, 6_230_000).difference(
                      shapely.box(390_000, 6_220_000, 394_000, 6_224_000)),
                  shapely.box(395_000, 6_160_000, 410_000, 6_168_000)], crs=3006)
    stations = gpd.GeoDataFrame({"station": ["Hässleholm C", "Lund C", "Malmö C"]},
                                geometry=shapely.points([(428_600, 6_226_000),
                                                         (387_500, 6_175_000),
                                                         (374_000, 6_164_500)]), crs=3006)
    layers = tuple(
        OwnLayer(name, kind, frame, LayerSource(name, Path(f"{name}.gpkg"), kind=kind).style,
                 file=f"{name}.gpkg", licence="CC0")
        for name, kind, frame in (("Stråk", "corridor", corridor),
                                  ("Grönstruktur", "green", green),
                                  ("Stationer", "infrastructure", stations)))
    return dataclasses.replace(image, layers=layers)


# --------------------------------------------------------------------------- hostile texts


def _payloads(marker: Path) -> list[str]:
    return [
        "{{ cycler.__init__.__globals__.os.system('touch " + str(marker) + "') }}",
        "{{ 7*7 }}",
        "Ort {{ oavslutad",
        "Ort {# kommentar",
        "Ort {% if x %}",
        "{% raw %}}}{{",
        "</script><script>document.title='hacked'</script>",
        "<img src=x onerror=alert(1)>",
        "Å & \"Ö\" 'ä' $x^2$ =1+2",
    ]


@pytest.fixture
def hostile_dir(tmp_path: Path) -> tuple[Path, list[str], Path]:
    """A project whose every text field is hostile (template syntax, a code-execution
    attempt, HTML, script, mathtext): (folder, the texts, the marker file a template
    that ran code would create)."""
    marker = tmp_path / "PWNED"
    texts = _payloads(marker)
    rows = []
    for i, (pid, _name, kommun, pop, jobs, emp, x, y) in enumerate(TOY_PLACES):
        rows.append({"tatortskod": pid, "tatort": texts[i], "kommun": kommun,
                     "kommunnamn": texts[-1 - i], "bef": pop, "jobs": jobs,
                     "employed": emp, "x": x, "y": y})
    df = pd.DataFrame(rows)
    gpd.GeoDataFrame(df.drop(columns=["x", "y"]), geometry=shapely.points(df["x"], df["y"]),
                     crs="EPSG:3006").to_file(tmp_path / "places.gpkg", layer="places")
    boxes = [shapely.box(480_000 + 25_000 * i, 6_480_000, 505_000 + 25_000 * i, 6_560_000)
             for i in range(3)]
    gpd.GeoDataFrame({"kommun_code": ["0101", "0102", "0103"], "kommun_name": texts[:3]},
                     geometry=boxes, crs="EPSG:3006").to_file(tmp_path / "areas.gpkg")
    pd.DataFrame(TOY_FLOWS, columns=["from", "to", "n"]).to_csv(tmp_path / "flows.csv",
                                                                 index=False)
    pd.DataFrame({"place_id": ["0101TC101", "0102TC101"], "name": ["", ""],
                  "designation": [texts[0], texts[4]], "role": ["hub", "hub"],
                  "source": [texts[5], texts[6]], "year": [2022, 2022],
                  "group": [texts[7], texts[7]]}).to_csv(
        tmp_path / "designations.csv", index=False)
    # own layers: a name and every attribute hostile, the column names too
    gpd.GeoDataFrame({texts[1]: [texts[0], texts[6]], "typ": [texts[2], texts[7]]},
                     geometry=[shapely.LineString([(480_000, 6_480_000), (540_000, 6_550_000)]),
                               shapely.box(500_000, 6_500_000, 510_000, 6_510_000)],
                     crs="EPSG:3006").to_file(tmp_path / "own.gpkg")
    toml = json.dumps  # TOML basic strings share JSON's escapes
    (tmp_path / "project.toml").write_text(f"""
[project]
name = "hostile"
title = {toml(texts[0] + " " + texts[1])}

[places]
path = "places.gpkg"

[areas]
path = "areas.gpkg"

[flows]
path = "flows.csv"
[flows.columns]
origin = "from"
destination = "to"
count = "n"

[roles]
designations = ["designations.csv"]
[[roles.role]]
key = "hub"
label = {toml(texts[1])}
label_en = {toml(texts[2])}
source = {toml(texts[3])}
[[roles.role]]
key = "town"
label = {toml(texts[6])}
rules = ["population >= 5000"]
[[roles.role]]
key = "rest"
label = {toml(texts[7])}

[[layers]]
name = {toml(texts[6])}
path = "own.gpkg"
kind = "corridor"
licence = {toml(texts[3])}

[[layers]]
name = {toml(texts[0])}
path = "own.gpkg"
kind = "green"
where = "typ = 'Ort {{{{ oavslutad'"

[links]
min_flow = 0

[regions]
method = "nodal"

[map]
source_note = {toml(texts[2] + " " + texts[5])}
weak_links = true
""", encoding="utf-8")
    return tmp_path, texts, marker
