"""A GeoPackage that another program has open (QGIS, in SQLite's WAL mode) is never corrupted.

The scenario of issue 15: the GeoPackage is built; a second SQLite client opens it with
``PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0`` and makes 30 small writes, as
QGIS does while a user edits; then the project is built again, or appended to. Before
0.3 the new file was renamed into place beside the old ``-wal`` and ``-shm``, and the
next opener replayed the other client's pages into it: ``PRAGMA integrity_check``
failed, the client's table appeared in the new file, an append read "database disk
image is malformed".

Two ways the client can be there, each tested with a rebuild and with ``--append``:

- it still **holds** the file (a second process, connection open): the run is refused
  with exit 2 ("is it open in QGIS?") and the file, its ``-wal`` and the client's
  writes are untouched; once the client has closed, the run goes through;
- it **ended without a checkpoint** (killed, crashed): SQLite itself takes the WAL back
  into the old file, under its lock, before the file is replaced or read; the new file
  meets no ``-wal``, and an append keeps the client's writes.

After every run the file passes ``PRAGMA integrity_check`` and no foreign table appears.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ._support.toy_files import write_toy_inputs

#: The second client: GDAL's SQL functions stand in for QGIS's (the layers' spatial
#: index triggers call them), WAL without automatic checkpoints, 30 writes: a foreign
#: table's rows (as in the issue) or edits of the layers and a saved style (as QGIS).
CLIENT = textwrap.dedent("""
    import os, sqlite3, sys
    path, how, what = sys.argv[1:4]
    con = sqlite3.connect(path, isolation_level=None)
    for name in ("ST_IsEmpty", "ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY"):
        con.create_function(name, 1, lambda g: 0)
    assert con.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
    con.execute("PRAGMA wal_autocheckpoint=0")
    if what == "table":
        con.execute("CREATE TABLE qgis_notes (id INTEGER PRIMARY KEY, note TEXT)")
    for i in range(30):
        if what == "table":
            con.execute("INSERT INTO qgis_notes (note) VALUES (?)", ("x" * 2000 + str(i),))
        else:
            con.execute("UPDATE places SET name = ? WHERE fid = ?", (f"Redigerad {i}", i % 6 + 1))
            con.execute("INSERT INTO layer_styles (f_table_catalog, f_table_schema, "
                        "f_table_name, f_geometry_column, styleName, styleQML, useAsDefault) "
                        "VALUES ('', '', 'links', 'geom', ?, '<qgis/>', 0)", (f"mine {i}",))
    assert os.path.getsize(path + "-wal") > 100_000
    if how == "exit":
        os._exit(0)  # ended without closing: no checkpoint, -wal and -shm stay
    print("holding", flush=True)
    sys.stdin.readline()
    con.close()
""")


@pytest.fixture
def projects(tmp_path: Path) -> tuple[Path, Path, Path]:
    """Two projects writing ``out/toy.gpkg``: the first, and one with other place ids
    (to append); the GeoPackage built by the first."""
    out = tmp_path / "out"
    toml = ('[project]\nname = "toy"\n[places]\npath = "places.csv"\ncrs = "EPSG:3006"\n'
            '[flows]\npath = "flows.csv"\n[links]\nmin_flow = 0\n'
            f'[export]\nformats = ["gpkg"]\nout_dir = "{out}"\n')
    first, second = tmp_path / "first", tmp_path / "second"
    write_toy_inputs(first, "")
    write_toy_inputs(second, "X")
    for folder in (first, second):
        (folder / "project.toml").write_text(toml, encoding="utf-8")
    assert _build(first / "project.toml").returncode == 0
    return first / "project.toml", second / "project.toml", out / "toy.gpkg"


def _build(project: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "strukturbild", "build", str(project), "-q",
                           *extra], capture_output=True, text=True, timeout=300)


def _client(gpkg: Path, how: str, what: str) -> subprocess.Popen[str]:
    """The second client: ``exit`` ends without a checkpoint; ``hold`` returns while it
    holds the file open, until :func:`_close`."""
    proc = subprocess.Popen([sys.executable, "-c", CLIENT, str(gpkg), how, what],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    if how == "exit":
        proc.communicate(timeout=120)
        assert proc.returncode == 0
    else:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "holding"
    return proc


def _close(proc: subprocess.Popen[str]) -> None:
    proc.communicate("\n", timeout=60)
    assert proc.returncode == 0


def _sql(path: Path, query: str) -> list[tuple[object, ...]]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()


def _tables(path: Path) -> set[str]:
    return {str(r[0]) for r in _sql(path, "SELECT name FROM sqlite_master WHERE type = 'table'")}


def _sound(path: Path) -> None:
    """The file passes SQLite's check, and no program's table but ours is in it."""
    assert _sql(path, "PRAGMA integrity_check") == [("ok",)]
    assert "qgis_notes" not in _tables(path)


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("append", [False, True], ids=["rebuild", "append"])
def test_a_client_that_holds_the_file_is_named_and_nothing_changes(
        projects: tuple[Path, Path, Path], append: bool) -> None:
    first, second, gpkg = projects
    client = _client(gpkg, "hold", "edits")
    try:
        before = {p.name: p.read_bytes() for p in gpkg.parent.iterdir() if p.name != "toy.gpkg-shm"}
        assert "toy.gpkg-wal" in before
        start = time.monotonic()
        res = _build(second, "--append") if append else _build(first, "--format", "gpkg")
        took = time.monotonic() - start
        assert res.returncode == 2, res.stderr
        lines = res.stderr.strip().splitlines()
        assert lines == [f"strukturbild: error: {gpkg}: the file is open in another program "
                         "(is it open in QGIS?); close it there and run again, or write to "
                         "another file. Nothing was changed"]
        assert took < 60
        after = {p.name: p.read_bytes() for p in gpkg.parent.iterdir() if p.name != "toy.gpkg-shm"}
        assert after == before  # the file and the client's WAL as they were, no temp file
    finally:
        _close(client)
    # the client's edits are in the file, and once it has closed the run goes through
    assert _sql(gpkg, "SELECT count(*) FROM layer_styles WHERE styleName LIKE 'mine %'") == [
        (30,)]
    res = _build(second, "--append") if append else _build(first)
    assert res.returncode == 0, res.stderr
    _sound(gpkg)
    assert _listing(gpkg.parent) == ["toy.gpkg"]
    places = _sql(gpkg, "SELECT count(*) FROM places")[0][0]
    assert places == (12 if append else 6)


def test_a_client_that_ended_without_checkpoint_cannot_reach_the_new_file(
        projects: tuple[Path, Path, Path]) -> None:
    """The issue's steps: a foreign table in the WAL, then a rebuild with a change."""
    first, _, gpkg = projects
    _client(gpkg, "exit", "table")
    assert {"toy.gpkg-wal", "toy.gpkg-shm"} <= set(_listing(gpkg.parent))
    text = first.read_text(encoding="utf-8")
    first.write_text(text.replace("min_flow = 0", "min_flow = 400"), encoding="utf-8")
    res = _build(first)
    assert res.returncode == 0, res.stderr
    assert _listing(gpkg.parent) == ["toy.gpkg"]  # no -wal, no -shm for a new opener
    _sound(gpkg)
    # it is the new build, whole: fewer links with the higher minimum
    assert _sql(gpkg, "SELECT count(*) FROM links") == [(4,)]
    assert _sql(gpkg, "SELECT count(*) FROM places") == [(6,)]


def test_append_after_a_client_that_ended_without_checkpoint_keeps_its_edits(
        projects: tuple[Path, Path, Path]) -> None:
    _, second, gpkg = projects
    _client(gpkg, "exit", "edits")
    res = _build(second, "--append")
    assert res.returncode == 0, res.stderr
    assert _listing(gpkg.parent) == ["toy.gpkg"]
    _sound(gpkg)
    assert _sql(gpkg, "SELECT count(*) FROM places") == [(12,)]
    names = {str(r[0]) for r in _sql(gpkg, "SELECT name FROM places")}
    assert {f"Redigerad {i}" for i in range(24, 30)} <= names  # the client's last edits
    assert _sql(gpkg, "SELECT count(*) FROM layer_styles WHERE styleName LIKE 'mine %'") == [
        (30,)]


def test_append_after_a_foreign_table_in_the_wal_is_refused_whole(
        projects: tuple[Path, Path, Path]) -> None:
    """The client's table is taken into the old file, and then refused as foreign: exit
    2 naming the file, which stays sound (where 0.2 said "malformed")."""
    _, second, gpkg = projects
    _client(gpkg, "exit", "table")
    res = _build(second, "--append")
    assert res.returncode == 2, res.stderr
    assert res.stderr.startswith(f"strukturbild: error: {gpkg}: cannot append: the file holds "
                                 "the table 'qgis_notes'")
    assert _sql(gpkg, "PRAGMA integrity_check") == [("ok",)]
    assert _sql(gpkg, "SELECT count(*) FROM qgis_notes") == [(30,)]  # the client's rows kept
    assert _sql(gpkg, "PRAGMA journal_mode") == [("wal",)]  # as the client left it
    assert not any(".sbtmp-" in n or ".sbold-" in n or n.endswith(".lock")
                   for n in _listing(gpkg.parent))


#: A writer in rollback mode that dies in the middle of a transaction: its pages spilled
#: into the file, the hot journal that would undo them left beside it.
CRASHED_WRITER = textwrap.dedent("""
    import os, sqlite3, sys
    con = sqlite3.connect(sys.argv[1], isolation_level=None)
    for name in ("ST_IsEmpty", "ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY"):
        con.create_function(name, 1, lambda g: 0)
    con.execute("PRAGMA cache_size=1")
    con.execute("BEGIN")
    for i in range(200):
        con.execute("INSERT INTO layer_styles (f_table_name, styleName, styleQML) "
                    "VALUES ('links', ?, ?)", (f"half {i}", "x" * 3000))
    con.execute("UPDATE places SET name = 'half-written'")
    assert os.path.getsize(sys.argv[1] + "-journal") > 0
    os._exit(0)
""")


@pytest.mark.parametrize("append", [False, True], ids=["rebuild", "append"])
def test_a_hot_journal_of_a_crashed_writer_cannot_reach_the_new_file(
        projects: tuple[Path, Path, Path], append: bool) -> None:
    first, second, gpkg = projects
    subprocess.run([sys.executable, "-c", CRASHED_WRITER, str(gpkg)], check=True, timeout=120)
    assert "toy.gpkg-journal" in _listing(gpkg.parent)
    res = _build(second, "--append") if append else _build(first)
    assert res.returncode == 0, res.stderr
    assert _listing(gpkg.parent) == ["toy.gpkg"]  # rolled back into the old file, gone
    _sound(gpkg)
    assert _sql(gpkg, "SELECT count(*) FROM layer_styles WHERE styleName LIKE 'half %'") == [
        (0,)]
    assert _sql(gpkg, "SELECT count(*) FROM places WHERE name = 'half-written'") == [(0,)]
    assert _sql(gpkg, "SELECT count(*) FROM places") == [(12 if append else 6,)]


def test_sqlite_files_of_a_deleted_file_are_refused(projects: tuple[Path, Path, Path]) -> None:
    """The GeoPackage was deleted while a program had it open: its -wal is still there
    by name, and a new file must not meet it."""
    first, _, gpkg = projects
    client = _client(gpkg, "hold", "edits")
    try:
        gpkg.unlink()
        res = _build(first)
        assert res.returncode == 2, res.stderr
        assert "SQLite's files of an earlier file of this name are beside it" in res.stderr
        assert "toy.gpkg-wal" in res.stderr
        assert not gpkg.exists()
    finally:
        _close(client)
    # the program has closed: what it left of the deleted file is nobody's, and goes
    res = _build(first)
    assert res.returncode == 0, res.stderr
    _sound(gpkg)
    assert _listing(gpkg.parent) == ["toy.gpkg"]


# --------------------------------------------------------------------------- QGIS itself

#: QGIS (Debian's python3-qgis) edits the places layer and keeps the edit open, as a
#: user in the middle of an editing session; on a line "commit" it saves and quits.
QGIS_EDITS = textwrap.dedent("""
    import os, sys
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from qgis.core import QgsApplication, QgsVectorLayer
    app = QgsApplication([], False)
    app.initQgis()
    layer = QgsVectorLayer(sys.argv[1] + "|layername=places", "places", "ogr")
    assert layer.isValid() and layer.startEditing()
    feature = next(layer.getFeatures())
    layer.changeAttributeValue(feature.id(), layer.fields().indexOf("name"), "Ändrad i QGIS")
    print("editing", flush=True)
    if sys.stdin.readline().strip() == "commit":
        assert layer.commitChanges()
    del layer
    app.exitQgis()
""")


def test_a_layer_being_edited_in_qgis_is_named_and_its_edit_kept(
        projects: tuple[Path, Path, Path]) -> None:
    import os

    python = os.environ.get("STRUKTURBILD_QGIS_PYTHON", "/usr/bin/python3")
    probe = subprocess.run([python, "-c", "import qgis.core"], capture_output=True, check=False)
    if probe.returncode != 0:
        if os.environ.get("STRUKTURBILD_REQUIRE_GIS_TOOLS") == "1":
            pytest.fail("QGIS's Python bindings not found (STRUKTURBILD_REQUIRE_GIS_TOOLS=1)")
        pytest.skip("QGIS's Python bindings not found (apt install python3-qgis)")
    first, second, gpkg = projects
    qgis = subprocess.Popen([python, "-c", QGIS_EDITS, str(gpkg)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert qgis.stdout is not None
        assert qgis.stdout.readline().strip() == "editing"
        assert "toy.gpkg-wal" in _listing(gpkg.parent)  # QGIS edits in WAL mode
        before = gpkg.read_bytes()
        for res in (_build(first), _build(second, "--append")):
            assert res.returncode == 2, res.stderr
            assert "(is it open in QGIS?)" in res.stderr
        assert gpkg.read_bytes() == before
    finally:
        qgis.communicate("commit\n", timeout=120)
    assert qgis.returncode == 0
    res = _build(second, "--append")
    assert res.returncode == 0, res.stderr
    _sound(gpkg)
    assert _listing(gpkg.parent) == ["toy.gpkg"]
    names = [str(r[0]) for r in _sql(gpkg, "SELECT name FROM places")]
    assert len(names) == 12 and "Ändrad i QGIS" in names  # the QGIS user's edit kept
