"""The base geography: land from Natural Earth (shipped), cut to what a map needs, offline.

Checked against the shared SCB polygons: Zealand and Copenhagen are land and the
Öresund is sea on the Skåne map; Natural Earth's Sweden is cut out under the
project's kommuner without leaving slivers of a second coast; big lakes between the
kommuner stay water; a map outside the files' coverage gets no base; the shipped
files are the ones ``geodata/base/make_land.py`` makes.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
from importlib import resources
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from strukturbild import build, example_project
from strukturbild.config import project_from_dict
from strukturbild.sources.base import COUNTRY_NAMES, base_geography, land, level_for

from ..conftest import REPO, SWEDEN, requires_shared

DATA = resources.files("strukturbild") / "data" / "base"


def _pt(lon: float, lat: float) -> shapely.Point:
    return gpd.GeoSeries([shapely.Point(lon, lat)], crs=4326).to_crs(3006).iloc[0]


@pytest.fixture(scope="module")
def skane() -> gpd.GeoDataFrame:
    return build(example_project()).base


def test_zealand_is_land_and_the_oresund_is_sea(skane: gpd.GeoDataFrame) -> None:
    land_ = shapely.union_all(skane[skane["kind"] == "land"].geometry.to_numpy())
    assert land_.contains(_pt(12.55, 55.69))  # Copenhagen (Nørrebro)
    assert land_.contains(_pt(11.85, 55.45))  # the middle of Zealand
    assert land_.contains(_pt(14.0, 56.6))  # Småland, Sweden outside Skåne
    assert land_.contains(_pt(12.9, 56.65))  # Halland
    for lon, lat in ((12.75, 55.50), (12.68, 55.95), (14.5, 55.9)):  # Öresund, Hanöbukten
        assert not land_.contains(_pt(lon, lat)), (lon, lat)
    names = dict(zip(skane["iso_a3"], skane["name_sv"], strict=True))
    assert names["DNK"] == "Danmark" and names["SWE"] == "Sverige"


def test_sweden_is_cut_out_under_the_kommuner_without_a_second_coast() -> None:
    image = build(example_project())
    sweden = image.base[(image.base["kind"] == "land") & (image.base["part"] == "sweden")]
    kommuner = shapely.union_all(image.areas.geometry.to_numpy())
    outside = sweden.geometry.iloc[0]
    assert outside.intersection(kommuner).area < 1.0  # m²: they meet, they do not overlap
    # Natural Earth's coast lies up to ~2 km off SCB's: what is left of it within 3 km
    # of Skåne's coast (not its land border) is no thin fringe
    coast_zone = shapely.difference(kommuners_ring(kommuner, 3000.0),
                                    shapely.buffer(outside, -1.0))
    near = outside.intersection(coast_zone)
    thin = shapely.difference(near, shapely.buffer(shapely.buffer(near, -500.0), 500.0))
    assert thin.area < 5e6  # < 5 km² of thin land along 400 km of coast (was ~130 km²)
    # ... and it still meets Skåne along the land border to Halland and Småland
    border = kommuner.boundary.intersection(shapely.buffer(outside, 5.0))
    assert border.length > 120_000


def kommuners_ring(kommuner: shapely.Geometry, width: float) -> shapely.Geometry:
    return shapely.difference(shapely.buffer(kommuner, width), kommuner)


def test_lakes_between_the_project_kommuner_stay_water(tmp_path: Path) -> None:
    """Vänern lies between the kommuner of Västra Götaland and Värmland: not land."""
    kommuner = requires_shared("geodata", "sweden", "kommuner.gpkg")
    areas = gpd.read_file(kommuner, where="lan_code IN ('14', '17')").set_index("kommun_code")
    base = base_geography(tuple(areas.total_bounds), areas=areas)
    assert base is not None
    land_ = shapely.union_all(base[base["kind"] == "land"].geometry.to_numpy())
    vanern = _pt(13.2, 58.9)
    assert not land_.contains(vanern)
    assert not shapely.union_all(areas.geometry.to_numpy()).contains(vanern)
    # away from the project, Natural Earth's Sweden (with its lakes as land) is drawn
    assert land_.contains(_pt(14.5, 58.4))  # Vättern's east shore… and
    assert land_.contains(_pt(15.5, 59.3))  # Örebro


def test_a_map_outside_the_coverage_gets_no_base() -> None:
    grand_est = (3_200_000.0, 5_300_000.0, 3_500_000.0, 5_500_000.0)  # far south-west
    assert base_geography(grand_est) is None
    places = gpd.GeoDataFrame({"tatortskod": ["0101TC101"], "tatort": ["Nancy"],
                               "bef": [104_000]},
                              geometry=[shapely.Point(6.18, 48.69)], crs=4326)
    project = project_from_dict({"project": {"name": "ge", "crs": "EPSG:2154"}},
                                base_dir=Path("."))
    from strukturbild import build_image

    image = build_image(places, project=project)
    assert image.base is None and image.provenance["base"] is None


def test_levels_and_the_whole_country() -> None:
    assert level_for(180_000) == "detail" and level_for(1_600_000) == "overview"
    kommuner = requires_shared("geodata", "sweden", "kommuner.gpkg")
    areas = gpd.read_file(kommuner).set_index("kommun_code")
    base = base_geography(tuple(areas.total_bounds), areas=areas)
    assert base is not None and base.attrs["level"] == "overview"
    countries = set(base.loc[base["kind"] == "land", "iso_a3"])
    assert {"NOR", "FIN", "DNK", "EST", "ALA", "SWE"} <= countries <= set(COUNTRY_NAMES)
    # with every kommun drawn, hardly any of Natural Earth's Sweden is left
    sweden = base[(base["kind"] == "land") & (base["part"] == "sweden")].geometry
    assert sweden.area.sum() < 0.01 * areas.area.sum()


def test_base_can_be_switched_off(tmp_path: Path) -> None:
    from strukturbild.config import load_project

    text = (REPO / "geodata" / "skane" / "project.toml").read_text(encoding="utf-8")
    folder = REPO / "geodata" / "skane"
    path = tmp_path / "p.toml"
    path.write_text(text.replace('path = "', f'path = "{folder.as_posix()}/')
                    .replace("[map]\n", "[map]\nbase = false\n"),
                    encoding="utf-8")
    image = build(load_project(path))
    assert image.base is None
    assert "bakgrund" not in image.render("html").decode("utf-8").split(
        'id="strukturbild-data">')[1].split('"source":')[1][:300]


def test_shipped_files_are_the_scripts_and_carry_their_licence() -> None:
    spec = importlib.util.spec_from_file_location("make_land",
                                                  REPO / "geodata" / "base" / "make_land.py")
    assert spec is not None and spec.loader is not None
    make_land = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_land)
    for name, digest in make_land.EXPECTED.items():
        assert hashlib.sha256((DATA / name).read_bytes()).hexdigest() == digest, name
    licence = (DATA / "LICENCE-naturalearth.txt").read_text(encoding="utf-8")
    assert "public domain" in licence and "world-atlas 2.0.2" in licence
    with DATA.joinpath("land_ne_detail.geojson.gz").open("rb") as raw, \
            gzip.open(raw, "rt", encoding="utf-8") as fh:
        fc = json.load(fh)
    assert fc["license"].startswith("Public domain (Natural Earth)")
    assert {f["properties"]["source"] for f in fc["features"]} == {"naturalearth"}
    # nothing of SCB's polygons is in the shipped files
    assert "scb" not in json.dumps(fc).lower()


def test_land_is_cached_and_copied() -> None:
    a, b = land("overview"), land("overview")
    assert a is not b and a.equals(b)
    a.loc[0, "iso_a3"] = "XXX"
    assert land("overview").loc[0, "iso_a3"] != "XXX"
    assert np.isfinite(a.total_bounds).all()


def test_example_kommuner_are_scbs(tmp_path: Path) -> None:
    """The example's kommuner are SCB's Skåne kommuner, made by the script beside them."""
    shared = requires_shared("geodata", "sweden", "kommuner.gpkg")
    spec = importlib.util.spec_from_file_location(
        "make_skane", REPO / "geodata" / "make_skane_kommuner.py")
    assert spec is not None and spec.loader is not None
    make = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make)
    make.main(["--source", str(shared), "--out", str(tmp_path / "k.geojson")])
    shipped = REPO / "geodata" / "skane" / "kommuner_skane.geojson"
    assert (tmp_path / "k.geojson").read_bytes() == shipped.read_bytes()
    ours = gpd.read_file(shipped).to_crs(3006).set_index("kommun_code").sort_index()
    scb = gpd.read_file(SWEDEN / "kommuner.gpkg", where="lan_code = '12'") \
        .set_index("kommun_code").sort_index()
    assert list(ours.index) == list(scb.index) and len(ours) == 33
    assert ours.geometry.geom_equals_exact(scb.geometry, 0.5).all()  # 1e-6° ≈ 0.1 m


def test_land_from_swedens_own_polygons_keeps_the_lakes(tmp_path: Path) -> None:
    """A Västra Götaland map with `[map] land` = the national kommuner: Vänern, between
    Västra Götaland and Värmland, is water, and Värmland is land (SCB's, not NE's)."""
    kommuner = requires_shared("geodata", "sweden", "kommuner.gpkg")
    places = requires_shared("geodata", "sweden", "tatorter_2020.gpkg")
    (tmp_path / "vg.toml").write_text(f"""
[project]
name = "vg"
[places]
path = "{places}"
where = "lan_code = '14' AND population >= 5000"
[places.columns]
place_id = "tatort_code"
name = "tatort_name"
area_id = "kommun_code"
[areas]
path = "{kommuner}"
where = "lan_code = '14'"
[map]
land = "{kommuner}"
""", encoding="utf-8")
    import dataclasses

    from strukturbild import build, load_project

    project = load_project(tmp_path / "vg.toml")
    image = build(project)
    assert image.base is not None
    land_ = shapely.union_all(image.base[image.base["kind"] == "land"].geometry.to_numpy())
    assert not land_.contains(_pt(13.2, 58.9))       # Vänern
    assert land_.contains(_pt(13.5, 59.4))           # Karlstad, Värmland
    assert land_.contains(_pt(10.75, 59.9))          # Oslo: neighbours from Natural Earth
    sweden = image.base[image.base["part"] == "sweden"]
    assert len(sweden) == 1
    assert "sweden" in image.provenance["base"]
    # without it, Natural Earth's Sweden (no lakes) fills Vänern in
    plain = build(dataclasses.replace(project, map=dataclasses.replace(project.map, land=None)))
    assert plain.base is not None
    plain_land = shapely.union_all(plain.base[plain.base["kind"] == "land"].geometry.to_numpy())
    assert plain_land.contains(_pt(13.2, 58.9))
