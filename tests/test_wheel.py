"""The package installs whole: a built wheel, installed outside the checkout, runs the demo.

The wheel is built from the checkout (``pip wheel --no-deps``) and installed into a new
virtual environment in a temporary folder. Its dependencies are not downloaded again:
the new environment sees the test environment's site-packages through a ``.pth`` line
placed after its own, so the strukturbild it imports is the wheel's (the test checks
``__file__``) and nothing of the checkout is on its path (``.pth`` files of the test
environment, such as the editable install's finder, are not processed from there).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from .conftest import REPO

PKG = REPO / "src" / "strukturbild"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "-w", str(dist), str(REPO)], check=True,
                   capture_output=True)
    (whl,) = dist.glob("strukturbild-*.whl")
    return whl


def test_wheel_holds_every_module_and_the_example(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {f"strukturbild/{p.relative_to(PKG).as_posix()}" for p in PKG.rglob("*.py")}
    assert modules - names == set()
    example = {f"strukturbild/datasets/skane/{p.name}"
               for p in (REPO / "geodata" / "skane").iterdir() if p.is_file()}
    assert example and example - names == set()
    assert "strukturbild/render/assets/map.js" in names
    assert "strukturbild/data/designations_region_skane_2022.csv" in names
    assert "strukturbild/sources/scb/data/kommunhuvudorter_skane.csv" in names


def test_installed_wheel_runs_the_demo_outside_the_checkout(wheel: Path,
                                                             tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], check=True, capture_output=True,
                          text=True).stdout.strip()
    # the test environment's packages, after the new environment's own
    (Path(site) / "zz_test_env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--quiet",
                    "--no-deps", str(wheel)], check=True, capture_output=True)
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    where = subprocess.run([str(py), "-c", "import strukturbild; print(strukturbild.__file__)"],
                           cwd=work, env=env, check=True, capture_output=True, text=True)
    assert where.stdout.strip().startswith(str(venv)), where.stdout
    res = subprocess.run([str(venv / "bin" / "strukturbild"), "demo", "--json", "-q"],
                         cwd=work, env=env, capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["places"] == 70 and summary["areas"] == 33
    assert (work / "maps" / "skane.html").stat().st_size > 100_000
    assert (work / "out" / "skane.gpkg").is_file() and (work / "out" / "skane.json").is_file()
    seats = subprocess.run([str(py), "-c", "from strukturbild.sources.scb.seats import "
                            "load_seats; print(len(load_seats()))"],
                           cwd=work, env=env, capture_output=True, text=True, check=False)
    assert seats.returncode == 0 and seats.stdout.strip() == "33", seats.stderr
