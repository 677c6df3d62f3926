"""Readers: every format, SCB's names, encodings, CRS handling and bad input."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from strukturbild._files import atomic_path
from strukturbild.config import AreasSource, FlowsSource, LayerSource, PlacesSource
from strukturbild.errors import (
    CRSError,
    DuplicateIdError,
    EmptyInputError,
    InputFileNotFoundError,
    InvalidGeometryError,
    InvalidValueError,
    MissingColumnError,
    StrukturbildError,
    StrukturbildWarning,
    UnknownCodeError,
)
from strukturbild.readers import (
    check_sqlite_input,
    read_areas,
    read_flows_table,
    read_layer,
    read_places,
    read_table,
)

from ._support.hostile_files import REFUSED, snapshot, view_layer, wal_mode, with_trigger
from .conftest import requires_shared

HOSTILE = 'Å<script>alert(1)</script> & "Ö" \'x\''


def _frame(upper: bool = False) -> gpd.GeoDataFrame:
    cols = ["TATORTSKOD", "TATORT", "KOMMUN", "KOMMUNNAMN", "BEF", "AREA_HA"]
    if not upper:
        cols = [c.lower() for c in cols]
    df = pd.DataFrame([["0114TC101", "Upplands Väsby", "0114", "Upplands Väsby", 47_000, 1_100],
                       ["0180TC108", HOSTILE, "0180", "Stockholm", 1_617_407, 38_000]],
                      columns=cols)
    return gpd.GeoDataFrame(df, geometry=shapely.points([661_000, 674_000],
                                                        [6_596_000, 6_580_000]), crs=3006)


@pytest.mark.parametrize("suffix", ["gpkg", "geojson", "shp"])
@pytest.mark.parametrize("upper", [False, True], ids=["lower", "upper"])
def test_vector_formats_and_scb_names(tmp_path: Path, suffix: str, upper: bool) -> None:
    path = tmp_path / f"t.{suffix}"
    gdf = _frame(upper)
    if suffix == "geojson":
        gdf = gdf.to_crs(4326)
    gdf.to_file(path)
    places = read_places(PlacesSource(path))
    assert places.index.tolist() == ["0114TC101", "0180TC108"]
    assert places["area_id"].tolist() == ["0114", "0180"]
    assert places["population"].tolist() == [47_000, 1_617_407]
    assert places["name"].tolist()[1] == HOSTILE
    assert places.crs.to_epsg() == 3006
    assert places.geometry.x.iloc[0] == pytest.approx(661_000, abs=0.01)
    assert places["area_ha"].tolist() == [1_100, 38_000]


def test_shapefile_latin1(tmp_path: Path) -> None:
    path = tmp_path / "latin.shp"
    _frame().to_file(path, encoding="ISO-8859-1")
    assert "Upplands V\xe4sby".encode("latin-1") in path.with_suffix(".dbf").read_bytes()
    for cpg in tmp_path.glob("*.cpg"):
        cpg.unlink()  # an old shapefile without a .cpg
    places = read_places(PlacesSource(path))
    assert places["name"].iloc[0] == "Upplands Väsby"
    # and with the encoding given
    assert read_places(PlacesSource(path, encoding="latin-1"))["name"].iloc[0] == \
        "Upplands Väsby"


def test_csv_latlon_latin1_semicolon(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes("tatortskod;tatort;kommun;bef;lat;lon\n"
                     "1280TC106;Malmö;1280;325069;55,5968;13,0123\n".encode("latin-1"))
    places = read_places(PlacesSource(path))
    assert places.loc["1280TC106", "name"] == "Malmö"
    x, y = places.geometry.x.iloc[0], places.geometry.y.iloc[0]
    assert 370_000 < x < 380_000 and 6_160_000 < y < 6_170_000


def test_csv_xy_with_crs_and_mapping(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("kod,namn,kn,invanare,e,n\nA1,Ett,0114,12,661000,6596000\n",
                    encoding="utf-8")
    src = PlacesSource(path, crs="EPSG:3006", x="e", y="n",
                       columns={"place_id": "kod", "name": "namn", "area_id": "kn",
                                "population": "invanare"})
    places = read_places(src)
    assert places.loc["A1", "population"] == 12


def test_parquet_flows_and_csv_flows(tmp_path: Path) -> None:
    df = pd.DataFrame({"origin": ["0114", "0180"], "destination": ["0180", "0114"],
                       "count": [10.0, 2.0]})
    df.to_parquet(tmp_path / "f.parquet")
    t = read_flows_table(FlowsSource(tmp_path / "f.parquet"))
    assert t["count"].tolist() == [10.0, 2.0]
    (tmp_path / "f.csv").write_text("bostad,arbete,antal\n0114,0180,10\n")
    t = read_flows_table(FlowsSource(tmp_path / "f.csv"))
    assert t.iloc[0].tolist() == ["0114", "0180", 10.0]


# ----------------------------------------------------------------------------- bad input


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputFileNotFoundError, match=r"nope\.gpkg: file not found"):
        read_places(PlacesSource(tmp_path / "nope.gpkg"))


def test_missing_column_names_file_and_column(tmp_path: Path) -> None:
    _frame().drop(columns=["bef"]).to_file(tmp_path / "t.gpkg", layer="t")
    with pytest.raises(MissingColumnError) as exc:
        read_places(PlacesSource(tmp_path / "t.gpkg", layer="t"))
    msg = str(exc.value)
    assert "t.gpkg" in msg and "layer 't'" in msg and "column 'population'" in msg
    assert "places.columns.population" in msg


def test_no_crs(tmp_path: Path) -> None:
    gdf = _frame().set_crs(None, allow_override=True)
    (tmp_path / "t.csv").write_text("tatortskod,tatort,bef,x,y\nA,B,1,661000,6596000\n")
    with pytest.raises(CRSError, match=r"t\.csv: coordinates in 'x'/'y' have no CRS"):
        read_places(PlacesSource(tmp_path / "t.csv"))
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        gdf.to_file(tmp_path / "t.gpkg")
    with pytest.raises(CRSError, match=r"t\.gpkg: layer 't': the layer has no CRS"):
        read_places(PlacesSource(tmp_path / "t.gpkg"))


def test_degrees_declared_as_sweref(tmp_path: Path) -> None:
    gdf = _frame().to_crs(4326).set_crs(3006, allow_override=True)
    gdf.to_file(tmp_path / "t.gpkg")
    with pytest.raises(CRSError, match="looks like longitude/latitude in degrees"):
        read_places(PlacesSource(tmp_path / "t.gpkg"))


def test_duplicate_ids(tmp_path: Path) -> None:
    gdf = _frame()
    gdf.loc[1, "tatortskod"] = "0114TC101"
    gdf.loc[1, "kommun"] = "0114"
    gdf.to_file(tmp_path / "t.gpkg")
    with pytest.raises(DuplicateIdError, match="column 'tatortskod', row 2: id '0114TC101'"):
        read_places(PlacesSource(tmp_path / "t.gpkg"))


def test_lost_leading_zero(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text(
        "tatortskod,tatort,kommun,bef,lat,lon\n0114TC101,Väsby,114,47000,59.5,17.9\n")
    with pytest.raises(UnknownCodeError, match="column 'kommun', row 1: code '114' has 3 digits"):
        read_places(PlacesSource(tmp_path / "t.csv"))


def test_kommun_code_must_match_tatort_code(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text(
        "tatortskod,tatort,kommun,bef,lat,lon\n0114TC101,Väsby,0115,47000,59.5,17.9\n")
    with pytest.raises(InvalidValueError, match="does not match the tätort code"):
        read_places(PlacesSource(tmp_path / "t.csv"))


def test_empty_layer(tmp_path: Path) -> None:
    _frame().iloc[:0].to_file(tmp_path / "t.gpkg", layer="empty")
    with pytest.raises(EmptyInputError, match="layer 'empty': the input has no rows"):
        read_places(PlacesSource(tmp_path / "t.gpkg", layer="empty"))


def test_unknown_layer(tmp_path: Path) -> None:
    _frame().to_file(tmp_path / "t.gpkg", layer="places")
    with pytest.raises(InvalidValueError, match="no layer 'tatorter'; the file has: places"):
        read_places(PlacesSource(tmp_path / "t.gpkg", layer="tatorter"))


def test_negative_and_text_population(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text(
        "tatortskod,tatort,bef,lat,lon\nA,B,12,59.5,17.9\nC,D,-5,59.6,17.9\n")
    with pytest.raises(InvalidValueError, match="column 'bef', row 2: value -5 is negative"):
        read_places(PlacesSource(tmp_path / "t.csv"))
    (tmp_path / "t.csv").write_text("tatortskod,tatort,bef,lat,lon\nA,B,many,59.5,17.9\n")
    with pytest.raises(InvalidValueError, match="row 1: value 'many' is not a number"):
        read_places(PlacesSource(tmp_path / "t.csv"))


def test_missing_geometry(tmp_path: Path) -> None:
    gdf = _frame()
    gdf.loc[1, "geometry"] = None
    gdf.to_file(tmp_path / "t.gpkg")
    with pytest.raises(InvalidGeometryError, match="row 2: geometry is missing"):
        read_places(PlacesSource(tmp_path / "t.gpkg"))


def test_invalid_area_polygon_is_repaired_with_a_warning(tmp_path: Path) -> None:
    bowtie = shapely.Polygon([(0, 0), (10, 10), (10, 0), (0, 10), (0, 0)])
    gdf = gpd.GeoDataFrame({"kommun_code": ["0114", "0115"], "kommun_name": ["A", "B"]},
                           geometry=[shapely.box(600_000, 6_500_000, 610_000, 6_510_000),
                                     shapely.affinity.translate(
                                         shapely.affinity.scale(bowtie, 1000, 1000,
                                                                origin=(0, 0)),
                                         620_000, 6_500_000)],
                           crs=3006)
    gdf.to_file(tmp_path / "k.gpkg")
    with pytest.warns(UserWarning, match=r"1 invalid polygon\(s\) repaired"):
        areas = read_areas(AreasSource(tmp_path / "k.gpkg"))
    assert areas.geometry.is_valid.all()


def test_every_error_is_a_value_or_file_error() -> None:
    for cls in (CRSError, DuplicateIdError, EmptyInputError, InvalidValueError,
                MissingColumnError, UnknownCodeError, InvalidGeometryError):
        assert issubclass(cls, ValueError) and issubclass(cls, StrukturbildError)
    assert issubclass(InputFileNotFoundError, FileNotFoundError)


def test_atomic_path_leaves_nothing_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_read_table_latin1_and_bom(tmp_path: Path) -> None:
    p = tmp_path / "t.csv"
    p.write_bytes("\ufeffkod,namn\n0114,Väsby\n".encode())
    assert read_table(p).columns.tolist() == ["kod", "namn"]


def test_real_tatorter_and_kommuner() -> None:
    tat = read_places(PlacesSource(requires_shared("geodata", "sweden", "tatorter_2020.gpkg")))
    assert len(tat) == 2017
    assert int(tat["population"].sum()) == 9_088_367
    assert tat.loc["0180TC108", "name"] == "Stockholm" if "0180TC108" in tat.index else True
    assert (tat["area_id"].str.len() == 4).all()
    k = read_areas(AreasSource(requires_shared("geodata", "sweden", "kommuner.gpkg")))
    assert len(k) == 290 and k.loc["0114", "name"] == "Upplands Väsby"


def test_crs_typo_and_contradiction(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("tatortskod,tatort,bef,x,y\nA,B,1,661000,6596000\n")
    with pytest.raises(CRSError, match=r"t\.csv: unknown CRS 'EPSG3006' given for this file"):
        read_places(PlacesSource(tmp_path / "t.csv", crs="EPSG3006"))
    _frame().to_file(tmp_path / "t.gpkg")
    with pytest.raises(CRSError, match="the file declares EPSG:3006 but the project file says"):
        read_places(PlacesSource(tmp_path / "t.gpkg", crs="EPSG:4326"))
    # the same CRS given again is fine
    assert len(read_places(PlacesSource(tmp_path / "t.gpkg", crs="EPSG:3006"))) == 2


def test_empty_layer_is_named_when_not_given(tmp_path: Path) -> None:
    _frame().iloc[:0].to_file(tmp_path / "t.gpkg", layer="tatorter")
    with pytest.raises(EmptyInputError, match=r"t\.gpkg: layer 'tatorter': the input has no"):
        read_places(PlacesSource(tmp_path / "t.gpkg"))


# --------------------------------------------------------------------------- SQLite inputs


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_sqlite_inputs_that_could_run_for_ever_are_refused(tmp_path: Path, case: str) -> None:
    """Views (layer, gpkg_contents, any), virtual tables, generated columns: refused
    before GDAL opens the file, in well under a second, the folder left as it was."""
    build, words = REFUSED[case]
    path = build(tmp_path / "hostile.gpkg")
    before = snapshot(tmp_path)
    for read in (lambda: read_places(PlacesSource(path)),
                 lambda: read_places(PlacesSource(path, layer="hostile")),
                 lambda: read_areas(AreasSource(path, where="kommun = '0101'")),
                 lambda: read_layer(LayerSource("Lager", path)),
                 lambda: check_sqlite_input(path)):
        start = time.monotonic()
        with pytest.raises(InvalidValueError) as info:
            read()
        assert time.monotonic() - start < 2
        assert str(info.value).startswith(f"{path}: ") and words in str(info.value)
    assert snapshot(tmp_path) == before


def test_sqlite_inputs_with_triggers_or_in_wal_mode_are_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Triggers run only on writes (inputs are opened read-only); a -wal beside the file
    is read (not ignored, as an immutable open would), and the file and its -wal are
    left as they were (GDAL alone folds the -wal into the file on closing, and deletes
    it). The -shm is SQLite's shared-memory index, which every reader updates. The
    readers' temporary copies go to a folder of this test's own (another run's copies
    in the shared /tmp are not this test's business)."""
    own_tmp = tmp_path.parent / f"{tmp_path.name}-tmp"
    own_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(own_tmp))
    trig = with_trigger(tmp_path / "trigger.gpkg")
    wal = wal_mode(tmp_path / "wal.gpkg")
    assert {p.name for p in tmp_path.iterdir()} == {"trigger.gpkg", "wal.gpkg", "wal.gpkg-wal",
                                                    "wal.gpkg-shm"}
    before = snapshot(tmp_path)
    assert check_sqlite_input(trig) and check_sqlite_input(wal)
    assert len(read_places(PlacesSource(trig))) == 6
    places = read_places(PlacesSource(wal, where="kommun = '0101'"))
    assert places["name"].tolist() == ["Storby (WAL)"]
    assert read_places(PlacesSource(wal)).loc["0101TC101", "name"] == "Storby (WAL)"
    after = snapshot(tmp_path)
    assert after.keys() == before.keys()
    assert {k: v for k, v in after.items() if not k.endswith("-shm")} == \
        {k: v for k, v in before.items() if not k.endswith("-shm")}
    assert not list(own_tmp.glob("strukturbild-*/snapshot.gpkg"))
    # what GDAL does by itself, so this test can fail
    pyogrio.list_layers(wal)
    assert not (tmp_path / "wal.gpkg-wal").exists()
    assert (tmp_path / "wal.gpkg").read_bytes() != before["wal.gpkg"]


def test_files_that_are_not_sqlite_pass_the_check_untouched(tmp_path: Path) -> None:
    _frame().to_file(tmp_path / "t.geojson")
    (tmp_path / "fake.gpkg").write_text("not a database")
    assert not check_sqlite_input(tmp_path / "t.geojson")
    assert not check_sqlite_input(tmp_path / "fake.gpkg")
    with pytest.raises(InvalidValueError, match="fake.gpkg: cannot read the file"):
        read_places(PlacesSource(tmp_path / "fake.gpkg"))


def test_sqlite_input_that_is_a_geojson_by_name_is_checked(tmp_path: Path) -> None:
    """GDAL opens a file by what it holds, not by its name."""
    path = view_layer(tmp_path / "v.gpkg").rename(tmp_path / "places.geojson")
    with pytest.raises(InvalidValueError, match="holds a view"):
        read_places(PlacesSource(path))


def test_the_real_geopackages_pass_the_check() -> None:
    for name in ("tatorter_2020.gpkg", "kommuner.gpkg", "lan.gpkg",
                 "lokal_arbetsmarknad.gpkg", "skane/kommuner.gpkg", "skane/tatorter_2020.gpkg"):
        assert check_sqlite_input(requires_shared("geodata", "sweden", *name.split("/")))


# --------------------------------------------------------------------------- GML


@pytest.mark.parametrize(("name", "layer"), [("places.gml", None), ("places.gml", "places"),
                                             ("places.xml.geojson", None)])
def test_a_gml_input_leaves_its_folder_as_it_was(tmp_path: Path, name: str,
                                                 layer: str | None) -> None:
    """GDAL's GML driver writes a .gfs schema beside the file it opens; not here."""
    folder = tmp_path / "in"
    folder.mkdir()
    _frame().to_file(tmp_path / "places.gml", driver="GML", layer="places")
    (folder / name).write_bytes((tmp_path / "places.gml").read_bytes())
    before = snapshot(folder)
    places = read_places(PlacesSource(folder / name, layer=layer, where="bef > 50000"))
    assert places.index.tolist() == ["0180TC108"]
    with pytest.raises(InvalidValueError, match="no layer 'saknas'; the file has: places"):
        read_places(PlacesSource(folder / name, layer="saknas"))
    assert snapshot(folder) == before
    # what GDAL does by itself, so this test can fail
    pyogrio.read_info(folder / name)
    assert (folder / name).with_suffix(".gfs").exists()


# -- red team after issue 15: GEOS's validity check of a large layer -------------------

def _knot(vertices: int) -> Any:
    import shapely

    rng = np.random.default_rng(15)
    return shapely.Polygon(rng.random((vertices, 2)) * 1000 + (500_000, 6_500_000))


def test_a_large_layer_is_checked_for_validity_in_the_child(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # shapely.is_valid of a polygon of a million vertices took 4 s in C, and its reason
    # 4 s more, where Ctrl-C waited (stopped after 2 s, not within one); above
    # CHECK_HERE vertices both run in the repair's child, which a signal kills
    import os

    import shapely

    from strukturbild import readers

    calls = tmp_path / "calls"
    real = shapely.is_valid

    def recording(geoms: Any, *args: Any, **kwargs: Any) -> Any:
        with open(calls, "a", encoding="utf-8") as f:
            f.write(f"{os.getpid()}\n")
        return real(geoms, *args, **kwargs)

    monkeypatch.setattr(shapely, "is_valid", recording)
    monkeypatch.setattr(readers, "CHECK_HERE", 20)
    gdf = gpd.GeoDataFrame({"a": [1, 2]}, geometry=[shapely.box(0, 0, 1, 1), _knot(40)],
                           crs=3006)
    with pytest.warns(StrukturbildWarning, match=r"x.gpkg: 1 invalid polygons repaired with "
                                                  r"make_valid \(first at row 2: Self-inter"):
        out = readers._repaired(gdf, tmp_path / "x.gpkg", "polygons")
    assert real(out.geometry.to_numpy()).all() and out.geometry.iloc[0] == gdf.geometry.iloc[0]
    pids = set(calls.read_text(encoding="utf-8").split())
    assert pids and str(os.getpid()) not in pids
    # below the bound: here, and the same answer
    monkeypatch.setattr(readers, "CHECK_HERE", 100_000)
    with pytest.warns(StrukturbildWarning, match=r"1 invalid polygons repaired"):
        here = readers._repaired(gdf, tmp_path / "x.gpkg", "polygons")
    assert here.geometry.iloc[1].equals(out.geometry.iloc[1])
    assert str(os.getpid()) in calls.read_text(encoding="utf-8").split()


@pytest.mark.parametrize("check_here", [100, 100_000])
def test_a_repair_past_its_time_limit_says_no_repaired(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, check_here: int) -> None:
    # 0.2.0 warned "1 invalid polygons repaired with make_valid" before the repair, then
    # failed: "repairing … took longer than 60 s"
    import warnings

    import shapely

    from strukturbild import readers
    from strukturbild.errors import TimeLimitError

    monkeypatch.setattr(readers, "CHECK_HERE", check_here)
    monkeypatch.setattr(readers, "REPAIR_SECONDS", 0.0)
    gdf = gpd.GeoDataFrame({"a": [1]}, geometry=[_knot(5000)], crs=3006)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        with pytest.raises(TimeLimitError, match=r"took longer than 0 s; stopped"):
            readers._repaired(gdf, tmp_path / "x.gpkg", "polygons")
    assert not [w for w in said if "repaired" in str(w.message)]
    assert not shapely.is_valid(gdf.geometry.iloc[0])
