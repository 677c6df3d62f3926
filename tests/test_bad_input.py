"""Bad input a user really hits: a clear error (exit 2) in build *and* validate.

Each case starts from the toy places (``conftest.TOY_PLACES``) as a CSV and spoils
one thing: coordinates in metres read as degrees, a UTF-16 file, a TOML with a
byte-order mark, control characters from a word processor, a path with a newline,
label settings that are not whole numbers. The message must name the file and the
field; no output is written.
"""

from __future__ import annotations

import json
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest

from strukturbild.cli import main

from .conftest import TOY_PLACES

COLUMNS = ["place_id", "name", "area_id", "population", "jobs", "employed", "x", "y"]


def _places(folder: Path, frame: pd.DataFrame | None = None, name: str = "places.csv") -> Path:
    df = frame if frame is not None else pd.DataFrame(TOY_PLACES, columns=COLUMNS)
    path = folder / name
    df.to_csv(path, index=False)
    return path


def _project(folder: Path, body: str, name: str = "project.toml", bom: bool = False) -> Path:
    path = folder / name
    data = ('[project]\nname = "t"\n' + body).encode("utf-8")
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


def _both(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
          ) -> tuple[tuple[int, str], tuple[int, str]]:
    out = tmp_path / "out"
    b = main(["build", str(project), "--out", str(out)])
    berr = capsys.readouterr().err
    v = main(["validate", str(project)])
    verr = capsys.readouterr().err
    assert not out.exists() or not any(out.iterdir()) or b == 0
    return (b, berr), (v, verr)


def test_metres_declared_as_degrees(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _places(tmp_path)
    project = _project(tmp_path, '[places]\npath = "places.csv"\ncrs = "EPSG:4326"\n')
    for code, err in _both(project, tmp_path, capsys):
        assert code == 2
        assert "places.csv" in err and "x values up to 5.3e+05 are not degrees" in err


def test_metres_defaulted_as_degrees(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """lon/lat columns are taken as degrees when no CRS is given: metres there are caught."""
    df = pd.DataFrame(TOY_PLACES, columns=COLUMNS).rename(columns={"x": "lon", "y": "lat"})
    _places(tmp_path, df)
    project = _project(tmp_path, '[places]\npath = "places.csv"\n')
    for code, err in _both(project, tmp_path, capsys):
        assert code == 2 and "are not degrees" in err and "EPSG:3006" in err


def test_utf16_csv_is_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    df = pd.DataFrame(TOY_PLACES, columns=COLUMNS)
    (tmp_path / "places.csv").write_bytes(df.to_csv(index=False).encode("utf-16"))
    project = _project(tmp_path, '[places]\npath = "places.csv"\ncrs = "EPSG:3006"\n')
    assert main(["build", str(project), "--out", str(tmp_path / "o"), "--format", "json"]) == 0
    summary = json.loads((tmp_path / "o" / "t.json").read_text(encoding="utf-8"))
    assert summary["places"] == 6
    assert "Småort" in [p["name"] for p in summary["largest_places"]]


def test_utf16_without_bom_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    df = pd.DataFrame(TOY_PLACES, columns=COLUMNS)
    (tmp_path / "places.csv").write_bytes(df.to_csv(index=False).encode("utf-16-le"))
    project = _project(tmp_path, '[places]\npath = "places.csv"\ncrs = "EPSG:3006"\n')
    for code, err in _both(project, tmp_path, capsys):
        assert code == 2 and "places.csv" in err and "UTF-16" in err


def test_toml_with_a_byte_order_mark(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _places(tmp_path)
    project = _project(tmp_path, '[places]\npath = "places.csv"\ncrs = "EPSG:3006"\n', bom=True)
    (b, _), (v, _) = _both(project, tmp_path, capsys)
    assert b == 0 and v == 0


def test_control_characters_are_replaced_and_outputs_stay_xml(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    df = pd.DataFrame(TOY_PLACES, columns=COLUMNS)
    df.loc[0, "name"] = "Stor\x0bby"   # a vertical tab, as Word writes a line break
    df.loc[1, "name"] = "Mellan\x00stad"
    df.loc[2, "name"] = "För\x1fort\x7f"
    _places(tmp_path, df)
    project = _project(tmp_path, '[places]\npath = "places.csv"\ncrs = "EPSG:3006"\n'
                                 '[export]\nformats = ["html", "gpkg", "json", "svg"]\n')
    out = tmp_path / "o"
    assert main(["build", str(project), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "places.csv: column 'name', row 1: 3 value(s) held control characters" in err
    ET.parse(out / "t.svg")
    with sqlite3.connect(out / "t.gpkg") as con:
        names = sorted(r[0] for r in con.execute("SELECT name FROM places"))
        for (doc,) in con.execute("SELECT styleQML FROM layer_styles"):
            ET.fromstring(doc)
        for (doc,) in con.execute("SELECT metadata FROM gpkg_metadata WHERE "
                                  "mime_type = 'text/xml'"):
            ET.fromstring(doc)
    assert "Stor by" in names and "Mellan stad" in names and "För ort" in names


def test_control_character_in_the_project_file(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    _places(tmp_path)
    project = _project(tmp_path, '[places]\npath = "places.csv"\ncrs = "EPSG:3006"\n'
                                 '[map]\ntitle = "Region\\u000bkarta"\n')
    for code, err in _both(project, tmp_path, capsys):
        assert code == 2 and "map.title" in err and "control character" in err


def test_path_with_a_newline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "a\nb"
    folder.mkdir()
    _places(folder)
    project = _project(tmp_path, '[places]\npath = "a\\nb/places.csv"\ncrs = "EPSG:3006"\n')
    for code, err in _both(project, tmp_path, capsys):
        assert code == 2 and "control character" in err and "a\\nb" in err
    ok = _project(tmp_path, '[places]\npath = "a\\nb/../a\\nb/places.csv"\n', name="p2.toml")
    assert ok.exists()
    _places(tmp_path)
    plain = _project(tmp_path, '[places]\npath = "places.csv"\ncrs = "EPSG:3006"\n',
                     name="p3.toml")
    assert main(["build", str(plain), "--out", str(tmp_path / "x\ny")]) == 2
    err = capsys.readouterr().err
    assert "control character" in err and err.count("\n") == 1
    assert not (tmp_path / "x\ny").exists()


@pytest.mark.parametrize("value, message", [
    ("1.5", "map.label_roles': expected a whole number"),
    ("-3", "map.label_roles': expected a whole number >= 0"),
    ('"2"', "map.label_roles': expected int"),
    ('"yesterday"', None),
], ids=["fraction", "negative", "text", "timestamp"])
def test_map_settings(tmp_path: Path, value: str, message: str | None,
                      capsys: pytest.CaptureFixture[str]) -> None:
    _places(tmp_path)
    key = "timestamp" if message is None else "label_roles"
    project = _project(tmp_path, f'[places]\npath = "places.csv"\ncrs = "EPSG:3006"\n'
                                 f'[map]\n{key} = {value}\n')
    for code, err in _both(project, tmp_path, capsys):
        assert code == 2
        assert (message or "map.timestamp': expected an ISO 8601 time") in err
        assert "project.toml" in err
