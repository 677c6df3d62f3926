"""Outputs never destroy inputs, and are written all or none.

Through the command line: an output that resolves to an input or to another output
(symlinks and ``..`` included) is refused with exit 2 before anything is written; a
late failure leaves the previous set of outputs as it was; temporary files of killed
runs are removed; SIGINT and SIGTERM leave no output changed and exit 130/143 with
one line; concurrent runs on the same outputs take a lock or fail clearly; a disk
that is full (or a file-size limit) is one clear line, exit 2.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from strukturbild._files import OutputSet
from strukturbild.cli import main

from ..conftest import TOY_FLOWS, TOY_PLACES


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(args)
    return code, capsys.readouterr().err


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


@pytest.fixture
def csv_project(tmp_path: Path) -> Path:
    """The toy places as a CSV, in a project named 'toy' whose outputs go beside it."""
    df = pd.DataFrame(TOY_PLACES, columns=["place_id", "name", "area_id", "population",
                                           "jobs", "employed", "x", "y"])
    df.to_csv(tmp_path / "places.csv", index=False)
    pd.DataFrame(TOY_FLOWS, columns=["origin", "destination", "count"]).to_csv(
        tmp_path / "flows.csv", index=False)
    (tmp_path / "project.toml").write_text(textwrap.dedent("""
        [project]
        name = "toy"
        [places]
        path = "places.csv"
        crs = "EPSG:3006"
        [flows]
        path = "flows.csv"
        [links]
        min_flow = 0
    """), encoding="utf-8")
    return tmp_path


# --------------------------------------------------------------------------- collisions


@pytest.fixture
def geojson_project(tmp_path: Path) -> Path:
    """Places in 'toy.json' (GeoJSON): the summary of project 'toy' has that name."""
    import geopandas as gpd
    import shapely

    df = pd.DataFrame(TOY_PLACES, columns=["place_id", "name", "area_id", "population",
                                           "jobs", "employed", "x", "y"])
    gdf = gpd.GeoDataFrame(df.drop(columns=["x", "y"]),
                           geometry=shapely.points(df["x"], df["y"]), crs="EPSG:3006")
    gdf.to_file(tmp_path / "toy.json", driver="GeoJSON")
    (tmp_path / "project.toml").write_text('[project]\nname = "toy"\n[places]\n'
                                           'path = "toy.json"\n', encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("how", ["dot", "dotdot", "symlink-dir", "symlink-file"])
def test_summary_over_a_geojson_input_is_refused(geojson_project: Path, how: str,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    folder = geojson_project
    monkeypatch.chdir(folder)
    if how == "dot":
        out = "."
    elif how == "dotdot":
        (folder / "sub").mkdir()
        out = "sub/.."
    elif how == "symlink-dir":
        (folder / "link").symlink_to(folder, target_is_directory=True)
        out = "link"
    else:
        (folder / "out").mkdir()
        (folder / "out" / "toy.json").symlink_to(folder / "toy.json")
        out = "out"
    before = _snapshot(folder)
    code, err = _run(["build", "project.toml", "--out", out], capsys)
    assert code == 2, err
    assert "would overwrite the input" in err and "toy.json" in err
    assert _snapshot(folder) == before  # nothing written, the input intact


def test_two_outputs_in_one_file_are_refused(csv_project: Path,
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """The summary's path is a link to the map's: refused before anything is written."""
    (csv_project / "maps").mkdir()
    (csv_project / "out").mkdir()
    (csv_project / "out" / "toy.json").symlink_to(csv_project / "maps" / "toy.html")
    text = (csv_project / "project.toml").read_text(encoding="utf-8")
    (csv_project / "project.toml").write_text(
        text + '\n[export]\nformats = ["html", "json"]\nout_dir = "out"\nmap_dir = "maps"\n',
        encoding="utf-8")
    before = _snapshot(csv_project)
    monkeypatch.chdir(csv_project)  # out_dir and map_dir are relative to the working dir
    for command in ("validate", "build"):
        code, err = _run([command, "project.toml"], capsys)
        assert code == 2 and "two outputs are the same file" in err, (command, err)
    assert _snapshot(csv_project) == before


@pytest.mark.parametrize("command", ["regions", "hierarchy"])
def test_regions_output_over_its_input_is_refused(csv_project: Path, command: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    flows = csv_project / "flows.csv"
    before = flows.read_bytes()
    extra = ["--method", "nodal"] if command == "regions" else []
    code, err = _run([command, str(flows), *extra, "--output", str(flows)], capsys)
    assert code == 2 and "would overwrite the input" in err
    assert flows.read_bytes() == before
    # the same through '..' and a symlink
    (csv_project / "d").mkdir()
    (csv_project / "d" / "f.csv").symlink_to(flows)
    for target in (csv_project / "d" / ".." / "flows.csv", csv_project / "d" / "f.csv"):
        code, err = _run([command, str(flows), *extra, "--output", str(target)], capsys)
        assert code == 2 and "would overwrite the input" in err
    assert flows.read_bytes() == before


@pytest.mark.parametrize("command, flag", [("regions", "--stats"), ("hierarchy", "--units")])
def test_second_output_equal_to_the_first_is_refused(csv_project: Path, command: str,
                                                     flag: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    flows = csv_project / "flows.csv"
    out = csv_project / "out.csv"
    extra = ["--method", "nodal"] if command == "regions" else []
    for second in (out, csv_project / "x" / ".." / "out.csv"):
        code, err = _run([command, str(flows), *extra, "--output", str(out), flag,
                          str(second)], capsys)
        assert code == 2, err
        assert "same file" in err
        assert not out.exists()


# --------------------------------------------------------------------------- all or none


def test_a_late_failure_leaves_the_previous_set(csv_project: Path,
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = csv_project / "out"
    args = ["build", str(csv_project / "project.toml"), "--out", str(out), "--format",
            "html,gpkg,json,svg"]
    assert _run(args, capsys)[0] == 0
    before = _snapshot(out)
    assert set(before) == {"toy.html", "toy.gpkg", "toy.json", "toy.svg"}

    from strukturbild.render import static

    def boom(*a: object, **k: object) -> bytes:
        raise RuntimeError("the print map failed last")

    monkeypatch.setattr(static, "static_map_bytes", boom)
    # a changed input, so that a partial write would show
    places = pd.read_csv(csv_project / "places.csv", dtype=str)
    places.loc[0, "name"] = "Nytt namn"
    places.to_csv(csv_project / "places.csv", index=False)
    code, err = _run(args, capsys)
    assert code == 1 and "the print map failed last" in err
    assert _snapshot(out) == before  # html, gpkg and json unchanged, no temporary file


def test_stale_temporary_files_of_killed_runs_are_removed(csv_project: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    out = csv_project / "out"
    out.mkdir()
    stale = [out / ".toy.gpkg.sbtmp-deadbeef.gpkg", out / ".toy.gpkg.sbtmp-deadbeef.gpkg-journal",
             out / ".toy.html.sbtmp-0badcafe.html"]
    for p in stale:
        p.write_bytes(b"left by a killed run")
    other = out / ".notes.txt"
    other.write_text("mine")
    assert _run(["build", str(csv_project / "project.toml"), "--out", str(out)], capsys)[0] == 0
    assert not any(p.exists() for p in stale)
    assert other.read_text() == "mine"
    assert sorted(p.name for p in out.iterdir()) == [".notes.txt", "toy.gpkg", "toy.html",
                                                     "toy.json"]


def test_a_locked_output_fails_clearly(csv_project: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    out = csv_project / "out"
    with OutputSet([out / "toy.gpkg"]) as held:  # another run, writing the GeoPackage
        held.stage(out / "toy.gpkg").write_bytes(b"the other run's file")
        code, err = _run(["build", str(csv_project / "project.toml"), "--out", str(out)],
                         capsys)
    assert code == 2
    assert "another strukturbild run is writing this file" in err
    assert not (out / "toy.html").exists() and not (out / "toy.json").exists()
    assert (out / "toy.gpkg").read_bytes() == b"the other run's file"
    assert _run(["build", str(csv_project / "project.toml"), "--out", str(out)], capsys)[0] == 0


def _cli(args: list[str], cwd: Path, **kw: object) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "strukturbild", *args], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            **kw)  # type: ignore[call-overload]


def test_concurrent_appends_lose_nothing(csv_project: Path) -> None:
    """Two appends to one GeoPackage at once: each either adds all its places or fails
    clearly (exit 2, the file is locked); no place is ever lost."""
    import pyogrio

    target = csv_project / "out" / "toy.gpkg"
    projects = []
    for k in range(2):
        folder = csv_project / f"p{k}"
        folder.mkdir()
        df = pd.DataFrame(TOY_PLACES, columns=["place_id", "name", "area_id", "population",
                                               "jobs", "employed", "x", "y"])
        df["place_id"] = [f"{pid[:4]}T{'XY'[k]}{pid[6:]}" for pid in df["place_id"]]
        df.to_csv(folder / "places.csv", index=False)
        (folder / "project.toml").write_text(
            '[project]\nname = "toy"\n[places]\npath = "places.csv"\ncrs = "EPSG:3006"\n'
            f'[export]\nformats = ["gpkg"]\nout_dir = "{target.parent}"\n', encoding="utf-8")
        projects.append(folder / "project.toml")
    results = []
    for _ in range(3):
        if target.exists():
            target.unlink()
        procs = [_cli(["build", str(p), "--append", "-q"], csv_project) for p in projects]
        done = []
        for proc in procs:
            with proc:
                err = proc.communicate(timeout=120)[1]
                done.append((proc.returncode, err))
        codes = [c for c, _ in done]
        assert all(c in (0, 2) for c in codes), done
        for code, err in done:
            if code == 2:
                assert "another strukturbild run is writing" in err
        n = len(pyogrio.read_dataframe(target, layer="places")) if target.exists() else 0
        assert n == 6 * codes.count(0), (codes, n)
        results.append(codes)
    assert all(0 in codes for codes in results)  # one of the two always gets through


# --------------------------------------------------------------------------- signals


_SLOW = textwrap.dedent("""
    import sys, time
    import strukturbild
    import strukturbild.cli as cli
    real = strukturbild.build
    def slow(*a, **k):
        image = real(*a, **k)
        print("built", file=sys.stderr, flush=True)
        time.sleep(60)
        return image
    strukturbild.build = slow  # the CLI imports it from the API when it runs
    sys.exit(cli.main(sys.argv[1:]))
""")


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)],
                         ids=["SIGINT", "SIGTERM"])
def test_interrupt_changes_no_output(csv_project: Path, sig: int, code: int,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = csv_project / "out"
    assert _run(["build", str(csv_project / "project.toml"), "--out", str(out)], capsys)[0] == 0
    before = _snapshot(out)
    script = csv_project / "slow.py"
    script.write_text(_SLOW, encoding="utf-8")
    with subprocess.Popen([sys.executable, str(script), "build",
                           str(csv_project / "project.toml"), "--out", str(out)],
                          stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stderr is not None
        deadline = time.monotonic() + 120
        for line in proc.stderr:
            if line.startswith("built") or time.monotonic() > deadline:
                break
        proc.send_signal(sig)
        rest = proc.stderr.read()
        returned = proc.wait(timeout=30)
    assert returned == code
    assert rest.strip().splitlines() == ["strukturbild: interrupted; no output changed"]
    assert _snapshot(out) == before


def test_interrupt_while_writing_leaves_no_temporary_file(csv_project: Path) -> None:
    """SIGINT in the middle of staging (the GeoPackage being written): nothing changes."""
    out = csv_project / "out"
    script = csv_project / "slow_write.py"
    script.write_text(textwrap.dedent("""
        import os, signal, sys
        import strukturbild.export.outputs as outputs
        real = outputs.stage_geopackage
        def interrupted(image, target, tmp, **k):
            real(image, target, tmp, **k)
            assert tmp.exists()
            os.kill(os.getpid(), signal.SIGINT)
        outputs.stage_geopackage = interrupted
        import strukturbild.cli as cli
        sys.exit(cli.main(sys.argv[1:]))
    """), encoding="utf-8")
    res = subprocess.run([sys.executable, str(script), "build",
                          str(csv_project / "project.toml"), "--out", str(out)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 130, res.stderr
    assert res.stderr.strip().splitlines()[-1] == "strukturbild: interrupted; no output changed"
    assert not out.exists() or list(out.iterdir()) == []


# --------------------------------------------------------------------------- disk full


def test_file_size_limit_is_one_clear_line(csv_project: Path) -> None:
    """GDAL keeps no errno: a GeoPackage that hits ``ulimit -f`` is still 'disk full'."""
    out = csv_project / "out"
    script = csv_project / "limited.py"
    script.write_text(textwrap.dedent("""
        import resource, signal, sys
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (30000, 30000))
        from strukturbild.cli import main
        sys.exit(main(sys.argv[1:]))
    """), encoding="utf-8")
    res = subprocess.run([sys.executable, str(script), "demo", "--out", str(out), "-q"],
                         capture_output=True, text=True, timeout=300, cwd=csv_project)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "skane.gpkg" in lines[0] and "disk is full" in lines[0]
    assert not out.exists() or list(out.iterdir()) == []


# --------------------------------------------------------------------------- renames


def _built(csv_project: Path, capsys: pytest.CaptureFixture[str]) -> tuple[list[str], Path]:
    """Build html, gpkg and json once; change an input so a new build differs."""
    out = csv_project / "out"
    args = ["build", str(csv_project / "project.toml"), "--out", str(out), "--format",
            "html,gpkg,json"]
    assert _run(args, capsys)[0] == 0
    places = pd.read_csv(csv_project / "places.csv", dtype=str)
    places.loc[0, "name"] = "Nytt namn"
    places.to_csv(csv_project / "places.csv", index=False)
    return args, out


def test_a_folder_in_place_of_an_output_is_refused_before_any_is_replaced(
        csv_project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args, out = _built(csv_project, capsys)
    (out / "toy.json").unlink()
    (out / "toy.json").mkdir()
    (out / "toy.json" / "mine.txt").write_text("a user's file")
    before = _snapshot(out)
    code, err = _run(args, capsys)
    assert code == 2
    assert err.strip().splitlines()[-1] == (
        f"strukturbild: error: {out / 'toy.json'}: the output is a folder; remove or rename "
        "it. Nothing was changed")
    assert _snapshot(out) == before and sorted(p.name for p in out.iterdir()) == [
        "toy.gpkg", "toy.html", "toy.json"]


@pytest.mark.parametrize("name", ["toy.gpkg", "toy.html"])
def test_a_named_pipe_in_place_of_an_output_is_refused(
        csv_project: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    # red team after issue 15: 0.2.0 renamed the new file over the pipe, exit 0, and a
    # program reading the pipe waited for ever
    import os
    import stat

    args, out = _built(csv_project, capsys)
    (out / name).unlink()
    os.mkfifo(out / name)
    before = _snapshot(out)
    code, err = _run(args, capsys)
    assert code == 2
    assert err.strip().splitlines()[-1] == (
        f"strukturbild: error: {out / name}: the output is a named pipe, socket or device, "
        "not a file; remove it or write elsewhere. Nothing was changed")
    assert stat.S_ISFIFO(os.lstat(out / name).st_mode)
    assert _snapshot(out) == before
    assert sorted(p.name for p in out.iterdir()) == ["toy.gpkg", "toy.html", "toy.json"]


@pytest.mark.parametrize("out", ["a-file", "a-file/below"])
def test_an_output_folder_that_is_a_file_is_named(
        csv_project: Path, capsys: pytest.CaptureFixture[str], out: str) -> None:
    # 0.2.0: "strukturbild: error: File exists: a-file" (or "Not a directory: a-file/below")
    (csv_project / "a-file").write_text("a user's file")
    code, err = _run(["build", str(csv_project / "project.toml"), "--out",
                      str(csv_project / out), "--format", "html"], capsys)
    assert code == 2
    assert err.strip().splitlines()[-1] == (
        f"strukturbild: error: {csv_project / out / 'toy.html'}: the output folder "
        f"{csv_project / 'a-file'} is a file, not a folder; write to another (--out, "
        "[export] out_dir). Nothing was changed")
    assert (csv_project / "a-file").read_text() == "a user's file"


def _failing_replace(monkeypatch: pytest.MonkeyPatch, fail: set[tuple[str, str]]) -> None:
    """os.replace fails (EPERM, as for an immutable file) for these (kind, target name):
    kind "new" for a staged file renamed in, "old" for a kept file put back."""
    import errno
    import os

    real = os.replace

    def replace(src: object, dst: object) -> None:
        kind = "new" if ".sbtmp-" in str(src) else "old" if ".sbold-" in str(src) else ""
        if (kind, Path(str(dst)).name) in fail:
            raise PermissionError(errno.EPERM, "Operation not permitted", str(src))
        real(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "replace", replace)


def test_a_failed_rename_puts_back_the_outputs_renamed_before(
        csv_project: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    args, out = _built(csv_project, capsys)
    before = _snapshot(out)
    _failing_replace(monkeypatch, {("new", "toy.json")})  # the last of the three
    code, err = _run(args, capsys)
    assert code == 2
    assert err.strip().splitlines()[-1] == (
        f"strukturbild: error: {out / 'toy.json'}: cannot replace the output (Operation not "
        "permitted); no output changed")  # the output named, not its temporary file
    assert _snapshot(out) == before  # html and gpkg put back; no temporary or kept file


def test_when_putting_back_fails_the_message_says_which_outputs_are_new(
        csv_project: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    args, out = _built(csv_project, capsys)
    before = _snapshot(out)
    _failing_replace(monkeypatch, {("new", "toy.json"), ("old", "toy.html")})
    code, err = _run(args, capsys)
    assert code == 2
    kept = sorted(p for p in out.iterdir() if p.name.startswith(".toy.html.sbold-"))
    assert len(kept) == 1 and kept[0].read_bytes() == before["toy.html"]
    assert err.strip().splitlines()[-1] == (
        f"strukturbild: error: {out / 'toy.json'}: cannot replace the output (Operation not "
        f"permitted); these outputs were replaced and could not be put back: "
        f"{out / 'toy.html'} (the previous file is {kept[0]}); the others are as they were")
    after = _snapshot(out)
    assert after["toy.gpkg"] == before["toy.gpkg"] and after["toy.json"] == before["toy.json"]
    assert after["toy.html"] != before["toy.html"] and "Nytt namn" in (out / "toy.html").read_text(
        encoding="utf-8")
    assert not [n for n in after if ".sbtmp-" in n or n.endswith(".lock")]


def test_an_immutable_output_changes_no_output(csv_project: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """A real immutable file (chattr +i, as root on ext4): its rename fails last."""
    args, out = _built(csv_project, capsys)
    json_file = out / "toy.json"
    res = subprocess.run(["chattr", "+i", str(json_file)], capture_output=True, text=True,
                         check=False)
    if res.returncode != 0:
        pytest.skip(f"chattr +i is not possible here: {res.stderr.strip()}")
    try:
        before = _snapshot(out)
        code, err = _run(args, capsys)
        assert code == 2
        assert err.strip().splitlines()[-1] == (
            f"strukturbild: error: {json_file}: cannot replace the output (Operation not "
            "permitted); no output changed")
        assert _snapshot(out) == before
    finally:
        subprocess.run(["chattr", "-i", str(json_file)], check=True)


# --------------------------------------------------------------------------- lock files


@pytest.mark.parametrize("plant", ["dangling-symlink", "symlink-to-file", "fifo", "folder",
                                   "hard-link"])
def test_a_planted_lock_file_is_refused(csv_project: Path, plant: str,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    import os

    out = csv_project / "out"
    out.mkdir()
    lock = out / ".toy.html.lock"
    elsewhere = csv_project / "elsewhere"
    elsewhere.mkdir()
    victim = elsewhere / "victim.txt"
    if plant == "dangling-symlink":
        lock.symlink_to(elsewhere / "created-by-the-run")
    elif plant == "symlink-to-file":
        victim.write_text("keep me")
        lock.symlink_to(victim)
    elif plant == "fifo":
        os.mkfifo(lock)
    elif plant == "folder":
        lock.mkdir()
    else:
        victim.write_text("keep me")
        os.link(victim, lock)
    code, err = _run(["build", str(csv_project / "project.toml"), "--out", str(out)], capsys)
    assert code == 2
    what = {"dangling-symlink": "a symbolic link", "symlink-to-file": "a symbolic link",
            "fifo": "a special file (a socket, a FIFO or a device)", "folder": "a folder",
            "hard-link": "a hard link to another file"}[plant]
    assert err.strip().splitlines()[-1] == (
        f"strukturbild: error: {out / 'toy.html'}: the lock file .toy.html.lock beside the "
        f"output is {what}, where strukturbild makes a plain file; remove it if no other "
        "run is writing")
    assert not (elsewhere / "created-by-the-run").exists()
    assert sorted(p.name for p in elsewhere.iterdir()) == (
        [] if plant in ("dangling-symlink", "fifo", "folder") else ["victim.txt"])
    if victim.exists():
        assert victim.read_text() == "keep me"
    assert os.path.lexists(lock)  # left for the user to look at
    assert sorted(p.name for p in out.iterdir()) == [".toy.html.lock"]  # nothing written


# --------------------------------------------------------------------------- stale files


def test_stale_file_cleanup_removes_only_this_programs_files(
        csv_project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = csv_project / "out"
    out.mkdir()
    ours = [".toy.html.sbtmp-deadbeef.html", ".toy.gpkg.sbtmp-0badcafe.gpkg-wal",
            ".toy.json.sbtmp-01234567.json-journal"]
    others = [
        ".toy.gpkg.sbold-0badcafe.gpkg",  # a previous file kept: the user's, if it is left
        ".toy.html.sbtmp-x.html",  # the output of a project named ".toy.html.sbtmp-x"
        ".toy.html.sbtmp-x.gpkg",
        "..toy.html.sbtmp-x.html.sbtmp-deadbeef.html",  # that project's staged file
        ".toy.html.sbtmp-DEADBEEF.html",  # upper case: not a name this program makes
        ".toy.html.sbtmp-deadbeef0.html",  # nine digits
        ".toy.html.sbtmp-deadbeef.htm",  # another suffix
        ".toy.html.sbtmp-deadbeef.html.bak",
        ".toy.gpkg.sbtmp-deadbeef.gpkg-other",
    ]
    for name in ours + others:
        (out / name).write_text("left here")
    assert _run(["build", str(csv_project / "project.toml"), "--out", str(out)], capsys)[0] == 0
    names = {p.name for p in out.iterdir()}
    assert not names & set(ours)
    assert names == set(others) | {"toy.html", "toy.gpkg", "toy.json"}


def test_an_output_named_like_this_programs_own_files_is_refused(tmp_path: Path) -> None:
    from strukturbild.errors import OutputConflictError
    from strukturbild.export.outputs import write_files

    (tmp_path / "toy.html").write_text("previous")
    for name in (".toy.html.sbtmp-deadbeef.html", ".toy.html.sbold-0badcafe.html",
                 ".toy.html.lock"):
        with pytest.raises(OutputConflictError, match="the output's name is one strukturbild "
                                                      "gives its own files"):
            write_files({tmp_path / name: b"x"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["toy.html"]
    write_files({tmp_path / ".toy.html.sbtmp-x.html": b"x"})  # not a name it makes: fine


# --------------------------------------------------------------------------- stderr closed


def test_a_closed_stderr_does_not_stop_the_build(csv_project: Path) -> None:
    """`build … 2>&1 | head -1`: the reader of stderr gone, the build goes on, silenced,
    and its exit code is the build's (0.2 exited 0 and wrote nothing)."""
    import os

    out = csv_project / "out"
    read, write = os.pipe()
    os.close(read)  # the reader has gone before the first message
    try:
        res = subprocess.run([sys.executable, "-m", "strukturbild", "build",
                              str(csv_project / "project.toml"), "--out", str(out)],
                             stdout=subprocess.PIPE, stderr=write, text=True, timeout=300)
    finally:
        os.close(write)
    assert res.returncode == 0
    assert sorted(p.name for p in out.iterdir()) == ["toy.gpkg", "toy.html", "toy.json"]
    assert res.stdout.startswith("toy: 6 places")
    # bad input: the message is lost with stderr, the exit code says it
    (csv_project / "places.csv").write_text("place_id,name\n")
    read, write = os.pipe()
    os.close(read)
    try:
        res = subprocess.run([sys.executable, "-m", "strukturbild", "build",
                              str(csv_project / "project.toml"), "--out", str(out)],
                             stdout=subprocess.PIPE, stderr=write, text=True, timeout=300)
    finally:
        os.close(write)
    assert res.returncode == 2 and res.stdout == ""


def test_build_into_head_writes_the_outputs(csv_project: Path) -> None:
    """The issue's command line, as a shell runs it."""
    out = csv_project / "out"
    res = subprocess.run(
        f"{sys.executable} -m strukturbild build {csv_project / 'project.toml'} --out {out} "
        "2>&1 | head -1; echo \"exit ${PIPESTATUS[0]}\"", shell=True, capture_output=True,
        text=True, timeout=300, executable="/bin/bash")
    lines = res.stdout.strip().splitlines()
    assert lines == ["strukturbild: read 6 places, 10 flows", "exit 0"], res.stdout
    assert sorted(p.name for p in out.iterdir()) == ["toy.gpkg", "toy.html", "toy.json"]
