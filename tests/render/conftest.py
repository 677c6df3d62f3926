"""Images the render tests share (web, browser, scene): built by fixtures, once where they
take long and no test changes them (each test derives its own with ``dataclasses.replace``).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from strukturbild.analysis.links import link_scopes
from strukturbild.config import project_from_dict
from strukturbild.image import RoleInfo, StructureImage
from strukturbild.pipeline import build

from .._support.images import sormland_image
from .._support.web import HOSTILE, SCRIPT
from ..conftest import SWEDEN, requires_shared


@pytest.fixture
def hostile_image() -> StructureImage:
    """Five places (two named to attack the page), two kommuner, four links; in Swedish
    (``dataclasses.replace(hostile_image, language="en")`` for English). Built afresh
    for each test: it takes milliseconds.

    The kommuner are two 20 by 30 km rectangles that share a border of 2 001 points
    (1 m wiggles every 15 m), which the map simplifies.
    """
    names = [HOSTILE, SCRIPT, 'Åmål & Ärlinge "Öst"', "Lilla Näs", "Byn"]
    ids = ["P1", "P2", "P3", "P4", "P5"]
    xy = [(390_000, 6_170_000), (405_000, 6_172_000), (395_000, 6_160_000),
          (410_000, 6_160_000), (385_000, 6_158_000)]
    places = gpd.GeoDataFrame(
        {
            "name": names,
            "area_id": ["A", "B", "A", "B", "A"],
            "area_name": ["<b>Västra</b>", "Östra & co", "<b>Västra</b>", "Östra & co",
                          "<b>Västra</b>"],
            "population": [120_000, 45_000, 9_000, 2_500, 400],
            "role": pd.Categorical(["nav", "nav", "ort", "ort", "ort"],
                                   categories=["nav", "ort"], ordered=True),
            "role_reason": [f"skäl {SCRIPT}", "befolkning >= 40 000", "x", "y", "z"],
            "designations": ["", HOSTILE, "", "", ""],
        },
        geometry=shapely.points(xy), index=pd.Index(ids, name="place_id"), crs="EPSG:3006")
    border_y = np.linspace(6_150_000, 6_180_000, 2001)
    border_x = 400_000 + np.where(np.arange(2001) % 2, 1.0, -1.0)
    border_x[[0, -1]] = 400_000
    border = list(zip(border_x, border_y, strict=True))
    west = shapely.Polygon([(380_000, 6_150_000), *border, (380_000, 6_180_000)])
    east = shapely.Polygon([(420_000, 6_150_000), *border, (420_000, 6_180_000)])
    areas = gpd.GeoDataFrame({"name": ["<b>Västra</b>", "Östra & co"]}, geometry=[west, east],
                             index=pd.Index(["A", "B"], name="area_id"), crs="EPSG:3006")
    pairs = [("P1", "P2", 900.0, 300.0, "strong"), ("P1", "P3", 200.0, 200.0, "medium"),
             ("P2", "P4", 30.0, 5.0, "weak"), ("P3", "P5", 10.0, 40.0, "weak")]
    frame = pd.DataFrame(pairs, columns=["origin", "destination", "flow_od", "flow_do",
                                         "link_class"])
    frame["total"] = frame["flow_od"] + frame["flow_do"]
    frame["strength"] = [0.2, 0.1, 0.05, 0.04]
    frame["modelled"] = True
    # the scopes the pipeline gives links: two roles, so the higher one (nav) is regional
    frame = frame.join(link_scopes(frame, places["role"], ["nav", "ort"], levels=3))
    at = dict(zip(ids, xy, strict=True))
    lines = [shapely.LineString([at[o], at[d]]) for o, d in zip(frame["origin"],
                                                              frame["destination"], strict=True)]
    links = gpd.GeoDataFrame(frame, geometry=lines, crs="EPSG:3006")
    roles = (RoleInfo("nav", "Nav <em>ett</em>", "Hub <em>one</em>", 0),
             RoleInfo("ort", "Ort", "Town", 1))
    return StructureImage(name="hostile", title="Test <i>karta</i> & å", places=places,
                          links=links, roles=roles, areas=areas, language="sv",
                          modelled=True)


@pytest.fixture(scope="package")
def country_image() -> StructureImage:
    """The whole country with the default project: tätorter, kommuner as base, links
    (built once for the render tests)."""
    requires_shared("geodata", "sweden", "tatorter_2020.gpkg")
    data = {
        "project": {"name": "sverige", "title": "Strukturbild för Sverige"},
        "places": {"path": str(SWEDEN / "tatorter_2020.gpkg"),
                   "columns": {"place_id": "tatort_code", "name": "tatort_name",
                               "area_id": "kommun_code", "area_name": "kommun_name"}},
        "areas": {"path": str(SWEDEN / "kommuner.gpkg"),
                  "columns": {"area_id": "kommun_code", "name": "kommun_name"}},
    }
    return build(project_from_dict(data, base_dir=SWEDEN))


@pytest.fixture(scope="package")
def sormland() -> StructureImage:
    """Södermanlands län (:func:`tests._support.images.sormland_image`), built once."""
    return sormland_image()
