"""Tiny hand-checkable fixtures, and where the shared real data lives.

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

import os
from pathlib import Path
from typing import NoReturn

import geopandas as gpd
import pandas as pd
import pytest
import shapely

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SWEDEN = SHARED / "geodata" / "sweden"

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
