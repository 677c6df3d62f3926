"""Hostile SQLite-based inputs, built at test time (no binaries in the repository).

Each is a GeoPackage that GDAL opens, whose reading would never end without the
check of ``strukturbild.readers.check_sqlite_input``: a layer that is a view over an
endless recursive CTE, ``gpkg_contents`` as such a view, a view that nothing names; and
what is refused for the same reason (a virtual table, a generated column) or allowed
(a trigger, a file in WAL mode with an uncheckpointed ``-wal``).
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

from ..conftest import TOY_PLACES

#: Rows without end: SQLite counts for ever, in C.
ENDLESS = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c"


def toy_places(path: Path, layer: str = "places") -> Path:
    """The toy places as a plain GeoPackage (SCB's column names)."""
    df = pd.DataFrame(TOY_PLACES, columns=["tatortskod", "tatort", "kommun", "bef", "jobs",
                                           "employed", "x", "y"])
    frame = gpd.GeoDataFrame(df.drop(columns=["x", "y"]),
                             geometry=shapely.points(df["x"], df["y"]), crs="EPSG:3006")
    frame.to_file(path, layer=layer)
    return path


def _edit(path: Path, *sql: str) -> Path:
    with contextlib.closing(sqlite3.connect(path)) as con, con:
        for statement in sql:
            con.execute(statement)
    return path


def view_layer(path: Path) -> Path:
    """Layer 'hostile': a features view over the places that never ends."""
    toy_places(path)
    return _edit(
        path,
        f"CREATE VIEW hostile AS SELECT * FROM places WHERE fid IN ({ENDLESS})",
        "INSERT INTO gpkg_contents(table_name, data_type, identifier, srs_id) "
        "VALUES ('hostile', 'features', 'hostile', 3006)",
        "INSERT INTO gpkg_geometry_columns VALUES ('hostile', 'geom', 'POINT', 3006, 0, 0)")


def contents_view(path: Path) -> Path:
    """``gpkg_contents`` itself a view that never ends: GDAL reads it on opening."""
    toy_places(path)
    return _edit(path, "ALTER TABLE gpkg_contents RENAME TO contents_table",
                 f"CREATE VIEW gpkg_contents AS SELECT * FROM contents_table "
                 f"WHERE 0 NOT IN ({ENDLESS})")


def unnamed_view(path: Path) -> Path:
    """A view no GeoPackage table names, beside a good layer."""
    toy_places(path)
    return _edit(path, f"CREATE VIEW counting AS {ENDLESS}")


def virtual_table(path: Path) -> Path:
    """A virtual table of a module other than R*Tree (FTS4, in every SQLite build)."""
    toy_places(path)
    return _edit(path, "CREATE VIRTUAL TABLE notes USING fts4(text)")


def generated_column(path: Path) -> Path:
    """A table with a column computed on every read."""
    toy_places(path)
    return _edit(path, "CREATE TABLE computed(a INTEGER, b TEXT GENERATED ALWAYS AS "
                       "(printf('%.*c', 100000000, 'x')) VIRTUAL)",
                 "INSERT INTO computed(a) VALUES (1)")


def with_trigger(path: Path) -> Path:
    """Triggers that would never end, on writes only: the file reads as usual."""
    toy_places(path)
    return _edit(
        path,
        f"CREATE TRIGGER endless AFTER INSERT ON places BEGIN "
        f"SELECT count(*) FROM ({ENDLESS}); END",
        f"CREATE TRIGGER endless_contents AFTER UPDATE ON gpkg_contents BEGIN "
        f"SELECT count(*) FROM ({ENDLESS}); END")


def wal_mode(path: Path) -> Path:
    """A GeoPackage in WAL mode with the ``-wal`` and ``-shm`` beside it of a program
    that has it open (QGIS) and holds a later write: the row renamed there is what
    must be read."""
    toy_places(path)
    scratch = path.with_name("wal-scratch.gpkg")
    shutil.copy(path, scratch)
    con = sqlite3.connect(scratch)
    for function in ("ST_IsEmpty", "ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY"):
        # GDAL's spatial-index triggers call its functions (the geometry stays as it is)
        con.create_function(function, 1, lambda geom: 0)
    try:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA wal_autocheckpoint=0")
        with con:
            con.execute("UPDATE places SET tatort = 'Storby (WAL)' "
                        "WHERE tatortskod = '0101TC101'")
        for suffix in ("", "-wal", "-shm"):
            shutil.copy(f"{scratch}{suffix}", f"{path}{suffix}")
    finally:
        con.close()
    for leftover in scratch.parent.glob(f"{scratch.name}*"):
        leftover.unlink()
    return path


#: name → builder of a file refused with the words of the message.
REFUSED = {
    "view-layer": (view_layer, "the file holds a view ('hostile')"),
    "contents-view": (contents_view, "the file holds a view ('gpkg_contents')"),
    "unnamed-view": (unnamed_view, "the file holds a view ('counting')"),
    "virtual-table": (virtual_table, "a virtual table ('notes', module 'fts4')"),
    "generated-column": (generated_column, "generated column ('b')"),
}


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative name → content)."""
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}
