"""Bad input a user really hits: a clear error (exit 2) in build *and* validate.

Each case starts from the toy places (``conftest.TOY_PLACES``) as a CSV and spoils
one thing: coordinates in metres read as degrees, a UTF-16 file, a TOML with a
byte-order mark, control characters from a word processor, a path with a newline,
label settings that are not whole numbers. The message must name the file and the
field; no output is written.
"""

from __future__ import annotations

import json
import re
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


def test_c1_controls_line_breaks_and_bidi_overrides_leave_names(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """C1 controls, CR, LF, line separators and bidirectional overrides: cleaned on
    reading, with a warning naming the column and row; no output keeps them."""
    df = pd.DataFrame(TOY_PLACES, columns=COLUMNS)
    df.loc[0, "name"] = "Stor\x85by"            # NEL, a C1 control
    df.loc[1, "name"] = "Mellan\r\nstad"
    df.loc[2, "name"] = "För\u202eort"          # shown backwards after the override
    df.loc[3, "name"] = "Små\x9b2Jort\u2028"    # a one-character CSI, a line separator
    df["area_name"] = ["Kommun\x1b]0;TITEL\x07", "B", "B", "C\u2066", "C", "C"]
    _places(tmp_path, df)
    project = _project(tmp_path, '[places]\npath = "places.csv"\ncrs = "EPSG:3006"\n'
                                 '[export]\nformats = ["html", "gpkg", "json", "svg"]\n')
    out = tmp_path / "o"
    assert main(["build", str(project), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "places.csv: column 'name', row 1: 4 value(s) held control characters" in err
    assert "places.csv: column 'area_name', row 1: 2 value(s) held control characters" in err
    bad = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
    with sqlite3.connect(out / "t.gpkg") as con:
        names = sorted(r[0] for r in con.execute("SELECT name FROM places"))
        areas = {r[0] for r in con.execute("SELECT area_name FROM places")}
    assert {"Stor by", "Mellan stad", "Förort", "Små 2Jort"} <= set(names)
    assert "Kommun ]0;TITEL" in areas and "C" in areas
    page = (out / "t.html").read_text(encoding="utf-8")
    data = json.loads(page.split('id="strukturbild-data">')[1].split("</script>")[0])
    texts = [*_strings(data), *_strings(json.loads((out / "t.json").read_text("utf-8"))),
             *ET.parse(out / "t.svg").getroot().itertext()]
    assert "Mellan stad" in texts and "Förort" in data["places"]["n"]
    assert not [t for t in texts if bad.search(t.strip())]


def _strings(obj: object) -> list[str]:
    """Every string in a JSON document."""
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [s for k, v in obj.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(obj, list):
        return [s for v in obj for s in _strings(v)]
    return []


@pytest.mark.parametrize("title", ["Region\\u0085karta", "Region\\nkarta", "Region\\rkarta",
                                   "Region\\u202ekarta", "Region\\u2028karta",
                                   "Region\\u001b]0;x\\u0007"])
def test_titles_and_labels_hold_no_control_character(
        tmp_path: Path, title: str, capsys: pytest.CaptureFixture[str]) -> None:
    _places(tmp_path)
    project = _project(tmp_path, '[places]\npath = "places.csv"\ncrs = "EPSG:3006"\n'
                                 f'[map]\ntitle = "{title}"\n')
    for code, err in _both(project, tmp_path, capsys):
        assert code == 2 and "key 'map.title'" in err and "holds a control character" in err
        assert err.count("\n") == 1 and "\x1b" not in err and "\x85" not in err


def test_a_filter_may_span_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _places(tmp_path)
    project = _project(tmp_path, '[places]\npath = "places.csv"\ncrs = "EPSG:3006"\n'
                                 'where = """population >= 2000\nAND population < 300000"""\n')
    (b, _), (v, _) = _both(project, tmp_path, capsys)
    assert b == 0 and v == 0
