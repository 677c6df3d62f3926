"""Numbers that cannot be are refused: exit 2 naming the input, never exit 1 or 0.

Each case starts from the toy region (``conftest.TOY_PLACES``, ``TOY_FLOWS``) and
spoils one number: a population of 10²⁰ (which numpy once cast to
−9 223 372 036 854 775 808 inhabitants with exit 0), a flow of 10³⁰⁸, a point at
10¹² m or at infinity, a PROJ string with a scale factor of 10⁻³⁰⁰, a table of
2.5 GiB. ``build`` and ``validate`` must both stop with exit 2, one line naming the
file, the column or layer and the row, and write nothing.
"""

from __future__ import annotations

import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from strukturbild import Flows, build_image
from strukturbild._validate import (
    MAX_COUNT,
    check_coordinates,
    check_metric,
    check_table_size,
    to_counts,
)
from strukturbild.cli import main
from strukturbild.errors import CRSError, InvalidGeometryError, InvalidValueError

from .conftest import TOY_FLOWS, TOY_PLACES

COLUMNS = ["place_id", "name", "area_id", "population", "jobs", "employed", "x", "y"]
FLOW_COLUMNS = ["origin", "destination", "count"]


def _folder(tmp: Path, places: pd.DataFrame | None = None, flows: pd.DataFrame | None = None,
            *, gpkg: bool = False, project_crs: str | None = None,
            places_crs: str = "EPSG:3006") -> Path:
    """A toy project in ``tmp``: places as CSV (or GeoPackage), flows as CSV."""
    p = places if places is not None else pd.DataFrame(TOY_PLACES, columns=COLUMNS)
    if gpkg:
        geom = shapely.points(p["x"].astype(float).to_numpy(), p["y"].astype(float).to_numpy())
        gpd.GeoDataFrame(p.drop(columns=["x", "y"]), geometry=geom, crs="EPSG:3006").to_file(
            tmp / "places.gpkg", layer="places")
        places_toml = '[places]\npath = "places.gpkg"\n'
    else:
        p.to_csv(tmp / "places.csv", index=False)
        places_toml = f'[places]\npath = "places.csv"\ncrs = "{places_crs}"\n'
    f = flows if flows is not None else pd.DataFrame(TOY_FLOWS, columns=FLOW_COLUMNS)
    f.to_csv(tmp / "flows.csv", index=False)
    crs = f'crs = "{project_crs}"\n' if project_crs else ""
    (tmp / "project.toml").write_text(
        f'[project]\nname = "t"\n{crs}{places_toml}[flows]\npath = "flows.csv"\n'
        "[links]\nmin_flow = 0\n", encoding="utf-8")
    return tmp / "project.toml"


def _refused(project: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    """Run build and validate; both must exit 2 with one line and write nothing."""
    out = project.parent / "out"
    lines = []
    for argv in (["build", str(project), "--out", str(out), "--format", "html,gpkg,json"],
                 ["validate", str(project)]):
        start = time.perf_counter()
        code = main(argv)
        err = capsys.readouterr().err
        assert code == 2, err
        assert time.perf_counter() - start < 30
        first = [line for line in err.splitlines() if "error" in line]
        assert len(first) == 1 and "internal error" not in err and "Traceback" not in err, err
        lines.append(first[0])
    assert not out.exists() or not any(out.iterdir())
    assert lines[0] == lines[1]  # validate says what build says
    return lines


def _with(column: str, value: object, row: int = 0) -> pd.DataFrame:
    p = pd.DataFrame(TOY_PLACES, columns=COLUMNS).astype({column: object})
    p.loc[row, column] = value
    return p


@pytest.mark.parametrize("value", ["1e20", "9.3e18", "1e300", "100000001", "inf", "-inf",
                                   "nan", "-5"])
def test_impossible_population(tmp_path: Path, value: str,
                               capsys: pytest.CaptureFixture[str]) -> None:
    line = _refused(_folder(tmp_path, _with("population", value, row=2)), capsys)[0]
    assert "places.csv: column 'population', row 3: value" in line


@pytest.mark.parametrize("column", ["jobs", "employed", "population_prev", "jobs_prev",
                                    "area_ha"])
def test_every_count_column_is_bounded(tmp_path: Path, column: str,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    p = pd.DataFrame(TOY_PLACES, columns=COLUMNS)
    if column not in p:
        p[column] = 1000.0
    p = p.astype({column: object})
    p.loc[4, column] = "1e20"
    line = _refused(_folder(tmp_path, p), capsys)[0]
    assert line.endswith(f"places.csv: column '{column}', row 5: value 1e+20 is larger than "
                         "any count can be (at most 100 000 000); check the column and its "
                         "unit")


def test_a_population_at_the_bound_is_read(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    project = _folder(tmp_path, _with("population", str(MAX_COUNT)))
    assert main(["build", str(project), "--out", str(tmp_path / "o"), "--format", "json"]) == 0
    assert "warning" not in capsys.readouterr().err  # no numpy cast warning


@pytest.mark.parametrize("value", ["1e308", str(10**18), "1e9"])
def test_impossible_flow(tmp_path: Path, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    f = pd.DataFrame(TOY_FLOWS, columns=FLOW_COLUMNS).astype({"count": object})
    f.loc[6, "count"] = value
    line = _refused(_folder(tmp_path, flows=f), capsys)[0]
    assert "flows.csv: column 'count', row 7: value" in line and "larger than any count" in line


def test_a_huge_flow_between_new_places(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """10¹⁸ commuters between two places that are not among the places."""
    f = pd.DataFrame([*TOY_FLOWS, ("9999TC998", "9999TC999", 10**18)], columns=FLOW_COLUMNS)
    line = _refused(_folder(tmp_path, flows=f), capsys)[0]
    assert "flows.csv: column 'count', row 11: value 1e+18 is larger" in line


@pytest.mark.parametrize(("x", "y", "message"), [
    (1e12, 1e12, "row 1: the coordinates (1e+12, 1e+12) lie far outside where SWEREF99 TM "
                 "can be used"),
    (np.inf, 6_500_000.0, "row 1: a coordinate is not a finite number (inf, 6.5e+06)"),
    (-np.inf, 6_500_000.0, "row 1: a coordinate is not a finite number (-inf, 6.5e+06)"),
    (500_000.0, 1e15, "row 1: the coordinates (500000, 1e+15) lie far outside"),
], ids=["1e12", "inf", "-inf", "far-north"])
def test_impossible_point_in_a_geopackage(tmp_path: Path, x: float, y: float, message: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    p = pd.DataFrame(TOY_PLACES, columns=COLUMNS).astype({"x": float, "y": float})
    p.loc[0, ["x", "y"]] = [x, y]
    line = _refused(_folder(tmp_path, p, gpkg=True), capsys)[0]
    assert "places.gpkg: layer 'places', " + message in line


def test_impossible_point_in_a_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = _refused(_folder(tmp_path, _with("x", "1e12", row=3)), capsys)[0]
    assert "places.csv: row 4: the coordinates (1e+12, 6.53e+06) lie far outside" in line


def test_points_across_the_border_are_kept(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """Oslo, Copenhagen and Helsinki lie outside SWEREF 99 TM's area of use, but near."""
    p = pd.DataFrame(TOY_PLACES, columns=COLUMNS).astype({"x": float, "y": float})
    p.loc[[0, 1, 2], ["x", "y"]] = [[10.75, 59.91], [12.57, 55.68], [24.94, 60.17]]
    p.loc[3:, ["x", "y"]] = [[13.0, 55.6], [13.2, 55.7], [13.4, 55.8]]
    project = _folder(tmp_path, p, places_crs="EPSG:4326")
    assert main(["build", str(project), "--out", str(tmp_path / "o"), "--format", "json"]) == 0, \
        capsys.readouterr().err


BAD_PROJ = "+proj=tmerc +lat_0=0 +lon_0=15 +k=1e-300 +x_0=500000 +ellps=GRS80 +units=m"


def test_a_proj_string_with_a_scale_of_1e_minus_300(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = _refused(_folder(tmp_path, project_crs=BAD_PROJ), capsys)[0]
    assert f"project.toml: the project CRS '{BAD_PROJ}' cannot be used: PROJ cannot " \
           "transform into it" in line


def test_a_file_in_a_crs_that_cannot_be_transformed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = _refused(_folder(tmp_path, places_crs=BAD_PROJ.replace("1e-300", "1e300")),
                    capsys)[0]
    assert "places.csv: " in line and ("cannot transform" in line or "lie far outside" in line
                                       or "not a finite number" in line)


@pytest.mark.parametrize(("crs", "reason"), [
    ("+proj=tmerc +lon_0=15 +k=1e300 +x_0=500000 +ellps=GRS80 +units=m", "falls at"),
    ("+proj=tmerc +lon_0=15 +k=1 +x_0=1e300 +ellps=GRS80 +units=m", "falls at (1e+300"),
    ("+proj=ortho +lat_0=-62 +lon_0=-164 +units=m", "PROJ cannot transform"),
])
def test_insane_metric_crs(crs: str, reason: str) -> None:
    with pytest.raises(CRSError, match="cannot be used") as info:
        check_metric(crs, source="p.toml")
    assert reason in str(info.value)


@pytest.mark.parametrize("crs", ["EPSG:3006", "EPSG:3021", "EPSG:3857", "EPSG:3035",
                                 "EPSG:32633", "EPSG:2154", "EPSG:5845"])
def test_sane_metric_crs(crs: str) -> None:
    check_metric(crs)


def test_coordinates_name_the_row_and_id() -> None:
    pts = [shapely.Point(500_000, 6_500_000), shapely.Point(np.nan, 6_500_000)]
    with pytest.raises(InvalidGeometryError, match=r"row 2 \(id b\): a coordinate is not a "
                                                   r"finite number \(nan, 6\.5e\+06\)"):
        check_coordinates(pts, "EPSG:3006", ids=["a", "b"])
    ring = shapely.Polygon([(0, 6e6), (1e9, 6e6), (0, 7e6)])
    with pytest.raises(CRSError, match=r"row 1: the coordinates \(1e\+09, 6e\+06\)"):
        check_coordinates([ring], "EPSG:3006")


def test_to_counts_sum_stays_exact() -> None:
    values = pd.Series([MAX_COUNT] * 3)
    assert to_counts(values).sum() == 3 * MAX_COUNT
    with pytest.raises(InvalidValueError, match="add up to"):
        to_counts(pd.Series([2.0**52, 2.0**52]), limit=2.0**60)


def test_flows_refuse_impossible_counts() -> None:
    idx = pd.MultiIndex.from_tuples([("a", "b"), ("b", "a")])
    with pytest.raises(InvalidValueError, match="the count inf of the pair b → a"):
        Flows(pd.Series([1.0, np.inf], index=idx))
    with pytest.raises(InvalidValueError, match="add up to"):
        Flows(pd.Series([2.0**53, 1.0], index=idx))
    with pytest.raises(ValueError):  # still a ValueError, as before
        Flows(pd.Series([-1.0, 1.0], index=idx))


def test_build_image_refuses_a_population_of_1e20() -> None:
    places = gpd.GeoDataFrame({"tatortskod": ["0101TC101"], "tatort": ["Storby"],
                               "bef": [1e20]}, geometry=[shapely.Point(500_000, 6_500_000)],
                              crs="EPSG:3006")
    with pytest.raises(InvalidValueError, match="column 'bef', row 1: value 1e\\+20"):
        build_image(places)


# --------------------------------------------------------------------------- table size


def test_a_table_of_2_5_gib_is_refused_before_it_is_read(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A flow table is read in chunks, so its limit is the memory a build with it needs:
    estimated from its size and its first MiB, and refused before anything is read."""
    project = _folder(tmp_path)
    flows = tmp_path / "flows.csv"
    head = flows.read_bytes()
    row = head.splitlines()[1] + b"\n"
    with flows.open("r+b") as f:  # sparse: 2.5 GiB that take no disk and no time to write
        f.seek(len(head))
        f.write(row * (2**20 // len(row) + 1))
        f.truncate(int(2.5 * 2**30))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    line = _refused(project, capsys)[0]
    assert time.perf_counter() - start < 20
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200 * 1024  # KiB
    assert re.search(r"flows\.csv: the flow table has about [\d,]+ rows: a build with them "
                     r"needs about [\d.]+ GiB of memory, and [\d.]+ GiB is available", line)


def test_a_csv_table_of_2_5_gib_is_refused_before_it_is_read(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Other tables (places as CSV) are read whole: above 256 MiB they are refused."""
    project = _folder(tmp_path)
    places = tmp_path / "places.csv"
    with places.open("r+b") as f:
        f.truncate(int(2.5 * 2**30))
    start = time.perf_counter()
    line = _refused(project, capsys)[0]
    assert time.perf_counter() - start < 20
    assert line.endswith("places.csv: the table is 2 560.0 MiB, more than the 256 MiB "
                         "strukturbild reads whole (it would need about eight times that in "
                         "memory); select the rows you need first (a län, flows of 10 and "
                         "more), or aggregate them")


def test_a_flow_table_of_nul_bytes_is_refused_at_once(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = _folder(tmp_path)
    with (tmp_path / "flows.csv").open("r+b") as f:
        f.truncate(int(2.5 * 2**30))
    start = time.perf_counter()
    line = _refused(project, capsys)[0]
    assert time.perf_counter() - start < 20
    assert line.endswith("flows.csv: the file holds NUL bytes: it is not a text table (a "
                         "UTF-16 file needs its byte-order mark, or encoding = \"utf-16-le\")")


def test_parquet_counts_its_uncompressed_size(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import strukturbild._validate as v

    path = tmp_path / "flows.parquet"
    pd.DataFrame({"origin": ["A"] * 200_000, "destination": ["B"] * 200_000,
                  "count": np.arange(200_000)}).to_parquet(path)
    check_table_size(path)
    monkeypatch.setattr(v, "MAX_TABLE_MB", path.stat().st_size / 2**20 * 1.01)
    with pytest.raises(InvalidValueError, match="holds, uncompressed,"):
        check_table_size(path)  # smaller than the limit on disk, larger unpacked


def test_places_csv_above_the_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    import strukturbild._validate as v

    monkeypatch.setattr(v, "MAX_TABLE_MB", 0.0001)
    line = _refused(_folder(tmp_path), capsys)[0]
    assert "places.csv: the table is 0.0 MiB, more than the 0.0001 MiB" in line


def test_a_flow_table_read_by_python_is_bounded_too(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    with path.open("wb") as f:
        f.truncate(2**30)
    with pytest.raises(InvalidValueError, match="the table is 1 024.0 MiB"):
        Flows.from_csv(path)


def test_no_numpy_cast_warning_reaches_the_user(tmp_path: Path) -> None:
    """A population of 1e20 once made numpy warn 'invalid value encountered in cast'."""
    project = _folder(tmp_path, _with("population", "1e20"))
    run = subprocess.run([sys.executable, "-W", "error", "-m", "strukturbild", "validate",
                          str(project)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert "invalid value" not in run.stderr and "row 1: value 1e+20" in run.stderr


@pytest.mark.parametrize("what", ["areas", "layers", "land"])
def test_a_polygon_vertex_at_1e12_in_any_geometry_input(
        tmp_path: Path, what: str, capsys: pytest.CaptureFixture[str]) -> None:
    project = _folder(tmp_path)
    good = shapely.box(480_000, 6_480_000, 540_000, 6_560_000)
    bad = shapely.Polygon([(480_000, 6_480_000), (1e12, 6_480_000), (480_000, 6_560_000)])
    gpd.GeoDataFrame({"kommun_code": ["0101", "0102"], "kommun_name": ["A", "B"]},
                     geometry=[good, bad], crs="EPSG:3006").to_file(tmp_path / "geo.gpkg",
                                                                    layer="geo")
    extra = {"areas": '[areas]\npath = "geo.gpkg"\n',
             "layers": '[[layers]]\nname = "L"\npath = "geo.gpkg"\nkind = "area"\n',
             "land": '[map]\nland = "geo.gpkg"\nland_layer = "geo"\n'}[what]
    project.write_text(project.read_text(encoding="utf-8") + extra, encoding="utf-8")
    line = _refused(project, capsys)[0] if what != "land" else None
    if what == "land":  # the land is read when the map is made: build only
        assert main(["build", str(project), "--out", str(tmp_path / "o")]) == 2
        line = capsys.readouterr().err.strip()
        assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())
    assert line is not None
    assert "geo.gpkg: layer 'geo', row 2: the coordinates (1e+12, 6.48e+06) lie far outside " \
           "where SWEREF99 TM can be used" in line
