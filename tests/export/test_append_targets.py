"""``--append`` targets: only a GeoPackage of the layout strukturbild and GDAL write.

Nine kinds of foreign append targets (issue 15) each end with exit 2, one line naming
the file, the file untouched and nothing left beside it: an abort trigger, a CHECK by
trigger, a trigger calling ``load_extension``, ``places`` or ``layer_styles`` as a
view, other layouts of the metadata, provenance and styles tables, a clashing unique
index. Files that are what GDAL writes are still appended to: one written as
GeoPackage 1.4 by 0.2, one with a user's own layers, one that Debian's GDAL 3.6 added
a layer to.

And should the schema check ever let something through: the writer's own SQLite work
has a time limit (exit 2), and SIGINT/SIGTERM stop it within a second (exit 130/143,
nothing changed).
"""

from __future__ import annotations

import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from strukturbild.cli import main

from .._support.toy_files import write_toy_inputs

ENDLESS = ("SELECT count(*) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 "
           "FROM c) SELECT x FROM c)")

#: Kind → the SQL that makes a GeoPackage strukturbild wrote into that kind of target.
FOREIGN: dict[str, str] = {
    "abort-trigger": "CREATE TRIGGER sb_block BEFORE INSERT ON places BEGIN "
                     "SELECT RAISE(ABORT, 'places are read-only'); END",
    "check-trigger": "CREATE TRIGGER sb_check BEFORE INSERT ON places "
                     "WHEN NEW.population < 5000 BEGIN "
                     "SELECT RAISE(ABORT, 'population below 5000'); END",
    "load-extension-trigger": "CREATE TRIGGER sb_ext AFTER INSERT ON gpkg_metadata BEGIN "
                              "SELECT load_extension('/nonexistent/evil.so'); END",
    "places-view": "DROP TABLE places; CREATE VIEW places AS SELECT * FROM links",
    "layer-styles-view": "DROP TABLE layer_styles; CREATE VIEW layer_styles AS SELECT 1 AS id, "
                         "'' AS f_table_catalog, '' AS f_table_schema, 'places' AS "
                         "f_table_name, 'geom' AS f_geometry_column, 'x' AS styleName, "
                         "'' AS styleQML, '' AS styleSLD, 1 AS useAsDefault, '' AS "
                         "description, '' AS owner, '' AS ui, '' AS update_time",
    "metadata-schema": "DROP TABLE gpkg_metadata; "
                       "CREATE TABLE gpkg_metadata (id INTEGER PRIMARY KEY, metadata TEXT)",
    "provenance-schema": "DROP TABLE gpkg_metadata_reference; CREATE TABLE "
                         "gpkg_metadata_reference (reference_scope TEXT, table_name TEXT, "
                         "md_file_id INTEGER)",
    "styles-schema": "DROP TABLE layer_styles; CREATE TABLE layer_styles (id INTEGER PRIMARY "
                     "KEY, f_table_name TEXT UNIQUE, styleQML TEXT)",
    # the names are unique in the file: the appended places have the same names
    "unique-index": "CREATE UNIQUE INDEX sb_unique_name ON places (name)",
}
#: Kind → what the message says is wrong.
SAYS = {
    "abort-trigger": "the file holds the trigger 'sb_block' on 'places'",
    "check-trigger": "the file holds the trigger 'sb_check' on 'places'",
    "load-extension-trigger": "the file holds the trigger 'sb_ext' on 'gpkg_metadata'",
    "places-view": "the layer 'places' is a view",
    "layer-styles-view": "the view 'layer_styles' has another layout",
    "metadata-schema": "the table 'gpkg_metadata' has another layout",
    "provenance-schema": "the table 'gpkg_metadata_reference' has another layout",
    "styles-schema": "the table 'layer_styles' has another layout",
    "unique-index": "the file holds the index 'sb_unique_name' on 'places'",
}


@pytest.fixture
def target(tmp_path: Path) -> tuple[Path, Path]:
    """(the project that appends, the GeoPackage it appends to: the toy region's)."""
    out = tmp_path / "out"
    toml = ('[project]\nname = "toy"\n[places]\npath = "places.csv"\ncrs = "EPSG:3006"\n'
            '[flows]\npath = "flows.csv"\n[links]\nmin_flow = 0\n'
            f'[export]\nformats = ["gpkg"]\nout_dir = "{out}"\n')
    for folder, mark in ((tmp_path / "first", ""), (tmp_path / "second", "X")):
        write_toy_inputs(folder, mark)
        (folder / "project.toml").write_text(toml, encoding="utf-8")
    assert main(["build", str(tmp_path / "first" / "project.toml"), "-q"]) == 0
    return tmp_path / "second" / "project.toml", out / "toy.gpkg"


def _alter(path: Path, script: str) -> None:
    con = sqlite3.connect(path)
    try:
        con.executescript(script)
    finally:
        con.close()


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _count(path: Path, table: str = "places") -> int:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        con.close()


@pytest.mark.parametrize("kind", list(FOREIGN))
def test_foreign_append_target_is_refused(kind: str, target: tuple[Path, Path],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    project, gpkg = target
    _alter(gpkg, FOREIGN[kind])
    before = _snapshot(gpkg.parent)
    start = time.monotonic()
    code = main(["build", str(project), "--append", "-q"])
    took = time.monotonic() - start
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"strukturbild: error: {gpkg}: cannot append: {SAYS[kind]}. strukturbild appends "
        "only to a GeoPackage of the layout it and GDAL write"), lines
    assert lines[0].endswith("The file was not touched; write to a new file (or without "
                             "--append)")
    assert _snapshot(gpkg.parent) == before  # untouched, no temporary file, no lock file
    assert took < 30


def test_a_version_1_4_target_of_0_2_is_appended_to(tmp_path: Path,
                                                    target: tuple[Path, Path],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from strukturbild import build, load_project
    from strukturbild.export.geopackage import write_geopackage

    project, gpkg = target
    first = load_project(tmp_path / "first" / "project.toml")
    write_geopackage(build(first), gpkg, version="1.4")  # as 0.2 wrote it
    assert main(["build", str(project), "--append", "-q"]) == 0, capsys.readouterr().err
    assert _count(gpkg) == 12
    con = sqlite3.connect(gpkg)
    try:
        assert con.execute("PRAGMA user_version").fetchone() == (10400,)  # the file's own
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        con.close()


def test_a_target_with_the_users_own_layers_is_appended_to(
        target: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    import geopandas as gpd
    import pyogrio
    import shapely

    project, gpkg = target
    roads = gpd.GeoDataFrame({"name": ["E6", "E22"], "lanes": [4, 2]},
                             geometry=[shapely.LineString([(0, 0), (1, 1)]),
                                       shapely.LineString([(1, 1), (2, 0)])], crs=3006)
    pyogrio.write_dataframe(roads, gpkg, layer="vägar 2024", driver="GPKG", append=True)
    pyogrio.write_dataframe(pd.DataFrame({"note": ["mine"]}), gpkg, layer="notes",
                            driver="GPKG", append=True)
    assert main(["build", str(project), "--append", "-q"]) == 0, capsys.readouterr().err
    assert _count(gpkg) == 12 and _count(gpkg, '"vägar 2024"') == 2 and _count(gpkg, "notes") == 1


def test_a_target_debians_gdal_added_a_layer_to_is_appended_to(
        tmp_path: Path, target: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """GDAL 3.6 (QGIS 3.22 LTR on Debian 12) writes GeoPackage 1.2's spatial-index
    triggers; a layer it adds is GDAL's layout too."""
    import geopandas as gpd
    import shapely

    ogr2ogr = shutil.which("ogr2ogr")
    if ogr2ogr is None:
        pytest.skip("ogr2ogr not found (apt install gdal-bin)")
    project, gpkg = target
    gpd.GeoDataFrame({"name": ["a"]}, geometry=[shapely.Point(1, 1)], crs=3006).to_file(
        tmp_path / "points.geojson")
    res = subprocess.run([ogr2ogr, "-update", "-f", "GPKG", str(gpkg),
                          str(tmp_path / "points.geojson"), "-nln", "punkter"],
                         capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    assert main(["build", str(project), "--append", "-q"]) == 0, capsys.readouterr().err
    assert _count(gpkg) == 12 and _count(gpkg, "punkter") == 1


# --------------------------------------------------------------------------- the guard


#: The command line, with the schema check switched off (a hole in it, say), and a mark
#: on stderr when the writer's own SQL begins.
_UNCHECKED = textwrap.dedent("""
    import sys
    import strukturbild.export.geopackage as gp
    gp._check_schema = lambda con, path: None
    gp.SQL_SECONDS = float(sys.argv[1])
    real = gp._finish_geopackage
    def finish(*a, **k):
        print("finishing", file=sys.stderr, flush=True)
        return real(*a, **k)
    gp._finish_geopackage = finish
    from strukturbild.cli import main
    sys.exit(main(sys.argv[2:]))
""")


def _unchecked(project: Path, seconds: float) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", _UNCHECKED, str(seconds), "build",
                             str(project), "--append", "-q"],
                            stderr=subprocess.PIPE, text=True)


def test_the_writers_sql_has_a_time_limit(target: tuple[Path, Path]) -> None:
    project, gpkg = target
    _alter(gpkg, f"CREATE TRIGGER sb_loop AFTER INSERT ON gpkg_metadata BEGIN {ENDLESS}; END")
    before = _snapshot(gpkg.parent)
    start = time.monotonic()
    with _unchecked(project, 1.0) as proc:
        err = proc.communicate(timeout=120)[1]
    took = time.monotonic() - start
    assert proc.returncode == 2, err
    assert err.strip().splitlines()[-1] == (
        f"strukturbild: error: {gpkg}: writing styles and metadata took longer than 1 s; "
        "stopped. Work this long means a view, trigger or query in the file that does not "
        "end, or a file far larger than a planning input")
    assert took < 60
    assert _snapshot(gpkg.parent) == before


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)],
                         ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_the_writers_sql_within_a_second(target: tuple[Path, Path], sig: int,
                                                        code: int) -> None:
    project, gpkg = target
    _alter(gpkg, f"CREATE TRIGGER sb_loop AFTER INSERT ON gpkg_metadata BEGIN {ENDLESS}; END")
    before = _snapshot(gpkg.parent)
    with _unchecked(project, 600.0) as proc:
        assert proc.stderr is not None
        assert proc.stderr.readline().strip() == "finishing"
        time.sleep(1.0)  # inside the endless trigger by now
        assert proc.poll() is None
        sent = time.monotonic()
        proc.send_signal(sig)
        said = proc.stderr.readline()
        stopped = time.monotonic() - sent  # the work stopped, the files put right
        rest = proc.stderr.read()
        proc.wait(timeout=30)
        ended = time.monotonic() - sent  # and the interpreter has exited
    assert proc.returncode == code, said + rest
    assert said.strip() == "strukturbild: interrupted; no output changed" and rest == ""
    assert stopped < 1.0
    assert ended < 5.0  # then Python's teardown: 0.4-1.1 s on a busy 2-core machine
    assert _snapshot(gpkg.parent) == before  # the file, and no temporary or lock file
    # the lock is free: the next run goes through (the trigger refused as foreign)
    res = subprocess.run([sys.executable, "-m", "strukturbild", "build", str(project),
                          "--append", "-q"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 2 and "the trigger 'sb_loop' on 'gpkg_metadata'" in res.stderr


# ------------------------------------------------------------ a style saved by QGIS
# Red team after issue 15: GIS staff style their own GeoPackage in QGIS ("Save as
# default" writes the style into the file) and then append strukturbild's layers. QGIS
# makes the table layer_styles through GDAL, as this writer makes it, but with GDAL's
# feature-count triggers of an attribute table; 0.2.0 refused such a file ("the file
# holds the trigger 'trigger_insert_feature_count_layer_styles'"). This is what QGIS
# 3.22 with GDAL 3.6 (Debian 12) wrote (read back from such a file):
QGIS_STYLE_SQL = """
CREATE TABLE IF NOT EXISTS "layer_styles" ( "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
 "f_table_catalog" TEXT(256), "f_table_schema" TEXT(256), "f_table_name" TEXT(256),
 "f_geometry_column" TEXT(256), "styleName" TEXT(30), "styleQML" TEXT, "styleSLD" TEXT,
 "useAsDefault" BOOLEAN, "description" TEXT, "owner" TEXT(30), "ui" TEXT(30),
 "update_time" DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')));
INSERT INTO gpkg_contents (table_name, data_type, identifier, last_change)
 VALUES ('layer_styles', 'attributes', 'layer_styles', '2026-12-07T00:00:00.000Z');
INSERT INTO gpkg_ogr_contents (table_name, feature_count) VALUES ('layer_styles', 0);
CREATE TRIGGER "trigger_insert_feature_count_layer_styles" AFTER INSERT ON "layer_styles"
 BEGIN UPDATE gpkg_ogr_contents SET feature_count = feature_count + 1
 WHERE lower(table_name) = lower('layer_styles'); END;
CREATE TRIGGER "trigger_delete_feature_count_layer_styles" AFTER DELETE ON "layer_styles"
 BEGIN UPDATE gpkg_ogr_contents SET feature_count = feature_count - 1
 WHERE lower(table_name) = lower('layer_styles'); END;
INSERT INTO layer_styles (f_table_name, f_geometry_column, styleName, styleQML,
 useAsDefault) VALUES ('vagar', 'geom', 'mine', '<qgis/>', 1);
"""


def _users_own_geopackage(path: Path) -> None:
    import geopandas as gpd
    import pyogrio
    import shapely

    path.unlink()
    roads = gpd.GeoDataFrame({"name": ["E6"]}, geometry=[shapely.LineString([(0, 0), (1, 1)])],
                             crs=3006)
    pyogrio.write_dataframe(roads, path, layer="vagar", driver="GPKG")


def _appended_with_the_users_style(gpkg: Path, project: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", str(project), "--append", "-q"]) == 0, capsys.readouterr().err
    con = sqlite3.connect(f"file:{gpkg}?mode=ro", uri=True)
    try:
        styles = con.execute("SELECT f_table_name, styleName FROM layer_styles").fetchall()
        assert styles[0] == ("vagar", "mine") and ("places", "strukturbild") in styles
        assert con.execute("SELECT feature_count FROM gpkg_ogr_contents WHERE table_name = "
                           "'layer_styles'").fetchone() == (len(styles),)
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        con.close()
    assert _count(gpkg) == 6 and _count(gpkg, "vagar") == 1


def test_a_target_with_a_style_qgis_saved_is_appended_to(
        target: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    project, gpkg = target
    _users_own_geopackage(gpkg)
    _alter(gpkg, QGIS_STYLE_SQL)
    _appended_with_the_users_style(gpkg, project, capsys)


def test_a_style_saved_by_qgis_itself_is_appended_to(
        target: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    import os

    qgis_python = os.environ.get("STRUKTURBILD_QGIS_PYTHON", "/usr/bin/python3")
    save = ("import sys\nfrom qgis.core import QgsApplication, QgsVectorLayer\n"
            "app = QgsApplication([], False); app.initQgis()\n"
            "layer = QgsVectorLayer(sys.argv[1] + '|layername=vagar', 'vagar', 'ogr')\n"
            "assert layer.isValid()\nlayer.saveStyleToDatabase('mine', '', True, '')\n"
            "print('saved', flush=True)\nos_exit = __import__('os')._exit\nos_exit(0)\n")
    project, gpkg = target
    _users_own_geopackage(gpkg)
    try:
        res = subprocess.run([qgis_python, "-c", save, str(gpkg)], capture_output=True,
                             text=True, timeout=120, check=False,
                             env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    except FileNotFoundError:
        res = None
    if res is None or "saved" not in res.stdout:
        what = "QGIS's Python bindings not found (apt-get install python3-qgis)"
        if os.environ.get("STRUKTURBILD_REQUIRE_GIS_TOOLS") == "1":
            pytest.fail(f"{what}: {res.stderr[-500:] if res else ''}")
        pytest.skip(what)
    _appended_with_the_users_style(gpkg, project, capsys)
