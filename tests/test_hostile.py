"""Hostile texts in every text field: shown literally, never run, never a crash.

A place, kommun, area, title, role label, designation or source note may hold
template syntax (``{{ 7*7 }}``, an unbalanced ``{%``), a code-execution attempt, HTML
or script, XML-breaking characters and mathtext. Built through the command line
into every format, each must come out as the same text: no marker file, exit 0,
valid XML in the SVG, the QGIS styles and the GeoPackage metadata, and in the
browser the literal text. The project is the fixture ``hostile_dir`` of ``conftest.py``
(``render/test_explore.py`` builds it too).
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


def test_every_text_field_survives_every_format(hostile_dir: tuple[Path, list[str], Path],
                                                capsys: pytest.CaptureFixture[str]) -> None:
    folder, texts, marker = hostile_dir
    out = folder / "out"
    code = main(["build", str(folder / "project.toml"), "--out", str(out),
                 "--format", "html,gpkg,json,svg,pdf"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert not marker.exists(), "a template in the data ran code"

    page = (out / "hostile.html").read_text(encoding="utf-8")
    data = json.loads(page.split('id="strukturbild-data">')[1].split("</script>")[0])
    assert set(texts[:6]) <= set(data["places"]["n"])
    assert data["title"] == texts[0] + " " + texts[1]
    assert texts[1] in [r[0] for r in data["roles"]]
    assert texts[2] in data["source"] and texts[5] in data["source"]
    assert "<title>" + texts[0].replace("'", "&#x27;") in page
    # the raw script-closing payload never appears unescaped inside the page's data
    assert "</script><script>document.title" not in page

    summary = json.loads((out / "hostile.json").read_text(encoding="utf-8"))
    assert summary["title"] == texts[0] + " " + texts[1]
    # the stråk are named by the hostile places: text in the summary, data in the page
    strak = [s["name"] for s in summary["strak"]]
    assert strak and all(any(t in name for t in texts[:6]) for name in strak)
    assert {s[0] for s in data["strak"]["s"]} == set(strak)
    assert [x["name"] for x in summary["layers"]] == [texts[6], texts[0]]
    assert summary["joint_designations"][0]["group"] == texts[7]
    # own layers and the joint designation reach the page as data only
    assert [y["name"] for y in data["layers"]] == [texts[6], texts[0]]
    attrs = dict((k, v) for k, v in data["layers"][0]["a"])
    assert attrs[texts[1]] == [texts[0], texts[6]]
    assert data["layers"][1]["a"][1][1] == [texts[2]]  # the filter kept one feature
    assert data["groups"][0][0] == texts[7]
    assert [texts[6], texts[0]] == [o[1] for o in data["overlays"] if o[0].startswith("layer")]
    assert "<img src=x onerror" not in page and "<script>document.title" not in page

    svg = (out / "hostile.svg").read_text(encoding="utf-8")
    root = ET.fromstring(svg)  # valid XML
    shown = "".join(root.itertext())
    assert "{{ 7*7 }}" in shown and "Ort {{ oavslutad" in shown

    with sqlite3.connect(out / "hostile.gpkg") as con:
        names = {r[0] for r in con.execute("SELECT name FROM places")}
        assert set(texts[:6]) <= names
        for (qml,) in con.execute("SELECT styleQML FROM layer_styles"):
            ET.fromstring(qml)
        for (doc,) in con.execute("SELECT metadata FROM gpkg_metadata "
                                  "WHERE mime_type = 'text/xml'"):
            ET.fromstring(doc)
        labels = {r[0] for r in con.execute("SELECT role_label FROM places")}
        assert texts[1] in labels
        own = [r[0] for r in con.execute("SELECT table_name FROM gpkg_contents WHERE "
                                         "table_name LIKE 'layer_%' ORDER BY table_name")]
        assert own and all(re.fullmatch(r"layer_[a-z0-9_]+", t) for t in own)
        idents = {r[0] for r in con.execute("SELECT identifier FROM gpkg_contents")}
        assert any(i.endswith(f": {texts[6]} (lines)") for i in idents)  # split by kind
        (group,) = con.execute("SELECT name FROM joint_designations").fetchone()
        assert group == texts[7]
        assert {r[0] for r in con.execute("SELECT name FROM strak")} == set(strak)


@pytest.mark.parametrize("text", ["{{", "{#", "{%", "}}{{ 7*7", "{% endraw %}"],
                         ids=["open-expr", "open-comment", "open-stmt", "mixed", "endraw"])
def test_unbalanced_template_syntax_builds(tmp_path: Path, text: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    from .conftest import TOY_PLACES as P

    df = pd.DataFrame(P, columns=["place_id", "name", "area_id", "population", "jobs",
                                  "employed", "x", "y"])
    df.loc[0, "name"] = text
    df.to_csv(tmp_path / "places.csv", index=False)
    (tmp_path / "p.toml").write_text(
        f'[project]\nname = "t"\ntitle = {json.dumps(text)}\n[places]\npath = "places.csv"\n'
        f'crs = "EPSG:3006"\n[map]\nsource_note = {json.dumps(text)}\n', encoding="utf-8")
    assert main(["build", str(tmp_path / "p.toml"), "--out", str(tmp_path / "o"),
                 "--format", "html,json"]) == 0, capsys.readouterr().err
    page = (tmp_path / "o" / "t.html").read_text(encoding="utf-8")
    data = json.loads(page.split('id="strukturbild-data">')[1].split("</script>")[0])
    assert text in data["places"]["n"] and data["title"] == text


def test_basemap_key_cannot_carry_template_syntax(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from .conftest import TOY_PLACES as P

    df = pd.DataFrame(P, columns=["place_id", "name", "area_id", "population", "jobs",
                                  "employed", "x", "y"])
    df.to_csv(tmp_path / "places.csv", index=False)
    (tmp_path / "p.toml").write_text(
        '[project]\nname = "t"\n[places]\npath = "places.csv"\ncrs = "EPSG:3006"\n'
        '[map]\nbasemap = "Lantmateriet.Topowebb"\nbasemap_key = "{{ 7*7 }}"\n',
        encoding="utf-8")
    assert main(["build", str(tmp_path / "p.toml"), "--out", str(tmp_path / "o")]) == 2
    assert "basemap_key" in capsys.readouterr().err
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


# --------------------------------------------------------------------------- terminals

#: Every kind of control character an input may carry to a terminal: C0 (NUL, BEL,
#: backspace, tab, form feed, ESC…), escape sequences (a window title, a cleared
#: screen, colours), DEL, C1 (U+0080–U+009F, U+009B being a one-character CSI), CR
#: and LF (a faked second line), the line separator and the bidirectional controls.
CONTROLS = ([chr(c) for c in range(0x20)] + ["\x7f"] + [chr(c) for c in range(0x80, 0xa0)]
            + ["\x1b]0;TITLE\x07", "\x1b[2J", "\x1b[31m", "\x9b2J", "\u202e", "\u2066",
               "\u200f", "\u2028", "\r\n"])
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e"
                     "\u2066-\u2069]")


def test_error_messages_escape_every_control_character() -> None:
    from strukturbild.errors import StrukturbildError, UnknownCodeError

    for text in CONTROLS:
        err = UnknownCodeError(f"unknown place 'X{text}Y'", source=f"f{text}.csv",
                               layer=f"l{text}", column=f"c{text}", row=f"1 (id {text})")
        shown = str(err)
        assert not _UNSAFE.search(shown), repr(shown)
        assert shown.count("X") == 1 and "Y'" in shown
        # the copy that names a source is escaped as well
        again = StrukturbildError(f"bad {text}").with_source(f"p{text}.csv")
        assert not _UNSAFE.search(str(again)) and not _UNSAFE.search(again.args[0])
    assert "\\x1b]0;TITLE\\x07" in str(StrukturbildError("\x1b]0;TITLE\x07"))
    assert str(StrukturbildError("a\u202eb\r\nc")) == "a\\u202eb\\r\\nc"


@pytest.mark.parametrize("text", CONTROLS[:-9:5] + CONTROLS[-9:])
def test_input_text_in_errors_and_warnings_reaches_the_terminal_escaped(
        tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown flow id (an error) quotes the input as it is; a designation list with
    a control character in an id is cleaned with a warning, and its place, not among
    the places, is a second warning: none prints a control character."""
    from .conftest import TOY_PLACES as P

    pd.DataFrame(P, columns=["place_id", "name", "area_id", "population", "jobs",
                             "employed", "x", "y"]).to_csv(tmp_path / "places.csv",
                                                           index=False)
    pd.DataFrame({"from": ["0101TC101", f"Ort{text}"], "to": ["0102TC101", "0101TC101"],
                  "n": [5, 5]}).to_csv(tmp_path / "flows.csv", index=False)
    (tmp_path / "q.toml").write_text(
        '[project]\nname = "t"\n[places]\npath = "places.csv"\ncrs = "EPSG:3006"\n'
        '[flows]\npath = "flows.csv"\n', encoding="utf-8")
    assert main(["validate", str(tmp_path / "q.toml")]) == 2
    err = capsys.readouterr().err
    # an id with an invisible character inside is refused as such (red team after
    # issue 15); one that strip() takes off the end is an unknown place
    assert "flows.csv: column 'from', row 2: unknown place 'Ort" in err or (
        "flows.csv: column 'from', row 2: code 'Ort" in err and "invisible character" in err)
    assert not _UNSAFE.search(err[:-1]) and err.endswith("\n"), repr(err)

    pd.DataFrame({"place_id": [f"9999T{text}X"], "name": [""], "designation": ["kärna"],
                  "role": [""], "source": ["x"], "year": [2022]}).to_csv(
        tmp_path / "d.csv", index=False)
    (tmp_path / "p.toml").write_text(
        '[project]\nname = "t"\n[places]\npath = "places.csv"\ncrs = "EPSG:3006"\n'
        '[roles]\ndesignations = ["d.csv"]\n', encoding="utf-8")
    assert main(["validate", str(tmp_path / "p.toml")]) == 0
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 2 and all(line.startswith("strukturbild: warning: ") for line in lines)
    assert "is not among the places" in lines[1] and not _UNSAFE.search(err.replace("\n", ""))


def test_the_warning_printer_escapes(capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import warnings

    import strukturbild.cli as cli
    from strukturbild.errors import StrukturbildWarning

    def warn(args: object) -> int:
        for text in CONTROLS:
            warnings.warn(f"a plain warning quoting 'a{text}b'", StrukturbildWarning,
                          stacklevel=1)
        return 0

    monkeypatch.setattr(cli, "_cmd_validate", warn)
    assert cli.main(["validate", "p.toml"]) == 0
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == len(CONTROLS)  # one line each: no LF, CR or U+2028 breaks one
    assert not any(_UNSAFE.search(line) for line in lines)
    assert "strukturbild: warning: a plain warning quoting 'a\\u202eb'" in lines


def test_internal_errors_are_escaped(capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import strukturbild.cli as cli

    def boom(args: object) -> int:
        raise RuntimeError("GDAL says \x1b]0;TITLE\x07 about 'a\u202eb'")

    monkeypatch.setattr(cli, "_cmd_validate", boom)
    assert cli.main(["validate", "p.toml"]) == 1
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: GDAL says \\x1b]0;TITLE\\x07 about 'a\\u202eb'" in err
    assert not _UNSAFE.search(err.replace("\n", ""))
