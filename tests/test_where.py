"""``where``: picking places, areas and flows out of national files, as ``ogr2ogr -where``.

Every reader takes the filter, and every format is filtered the same way: the filter
is parsed against an allow-list of constructs (``strukturbild._where``) and evaluated by
Python's SQLite on the columns it names. A filter that holds anything else (a subquery,
a recursive CTE, a comment), matches nothing or names an unknown column is bad input:
exit 2, naming the file, the layer and the expression.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from strukturbild._where import FUNCTIONS, compile_filter
from strukturbild.cli import main
from strukturbild.config import AreasSource, FlowsSource, PlacesSource, load_project
from strukturbild.errors import EmptyInputError, InvalidValueError
from strukturbild.pipeline import build
from strukturbild.readers import filter_rows, read_areas, read_flows_table, read_places

from ._support.readme import readme_recipe
from .conftest import SWEDEN, TOY_FLOWS, TOY_PLACES, requires_shared

COLUMNS = {"place_id": "tatort_code", "name": "tatort_name", "area_id": "kommun_code"}


@pytest.fixture
def toy_files(tmp_path: Path, toy_places_frame: gpd.GeoDataFrame) -> Path:
    """The toy places as GeoPackage, Shapefile, GeoJSON, CSV and Parquet; flows as CSV."""
    frame = toy_places_frame.assign(lan=["01", "01", "01", "01", "01", "02"])
    frame.to_file(tmp_path / "places.gpkg", layer="tatorter")
    frame.to_file(tmp_path / "places.shp")
    frame.to_crs(4326).to_file(tmp_path / "places.geojson")
    df = pd.DataFrame(TOY_PLACES, columns=["tatortskod", "tatort", "kommun", "bef", "jobs",
                                           "employed", "x", "y"])
    df.assign(lan=frame["lan"].to_numpy()).to_csv(tmp_path / "places.csv", index=False)
    df.assign(lan=frame["lan"].to_numpy()).to_parquet(tmp_path / "places.parquet")
    pd.DataFrame(TOY_FLOWS, columns=["from", "to", "n"]).to_csv(tmp_path / "flows.csv",
                                                                 index=False)
    return tmp_path


@pytest.mark.parametrize("name", ["places.gpkg", "places.shp", "places.geojson",
                                  "places.csv", "places.parquet"])
def test_every_format_takes_the_same_filter(toy_files: Path, name: str) -> None:
    src = PlacesSource(toy_files / name, where="kommun = '0103' AND bef >= 2500",
                       crs="EPSG:3006" if name.endswith((".csv", ".parquet")) else None)
    places = read_places(src)
    # Småort (6 000) and Byn (2 500); Hamlet (900) is too small
    assert sorted(places.index) == ["0103TB102", "0103TC101"]
    assert places["population"].tolist() == [6000, 2500] or \
        sorted(places["population"].tolist()) == [2500, 6000]


@pytest.mark.parametrize(("where", "expected"), [
    ("bef > 40000", ["0101TC101", "0102TC101"]),          # a number column in a CSV
    ("kommun IN ('0101', '0102')", ["0101TC101", "0102TB102", "0102TC101"]),
    ("tatort LIKE 'S%'", ["0101TC101", "0103TC101"]),     # Storby, Småort
    ("NOT lan = '01'", ["0103TB103"]),
    ("jobs BETWEEN 500 AND 3000", ["0102TB102", "0103TB102", "0103TC101"]),
], ids=["number", "in", "like", "not", "between"])
def test_sql_of_a_csv(toy_files: Path, where: str, expected: list[str]) -> None:
    places = read_places(PlacesSource(toy_files / "places.csv", where=where, crs="EPSG:3006"))
    assert sorted(places.index) == expected


def test_codes_keep_their_zeros_and_compare_as_text() -> None:
    table = pd.DataFrame({"kod": ["0114", "0180", "1280"], "n": ["1", "2", "3"]})
    assert filter_rows(table, "kod = '0180'")["n"].tolist() == ["2"]
    assert filter_rows(table, "kod < '1000'")["kod"].tolist() == ["0114", "0180"]
    # text that is all numbers compares as numbers: 10 > 9
    assert filter_rows(pd.DataFrame({"v": ["9", "10"]}), "v > 9")["v"].tolist() == ["10"]
    assert filter_rows(pd.DataFrame({"v": ["5,5", "4"]}), "v > 5")["v"].tolist() == ["5,5"]


def test_flows_and_areas_are_filtered(toy_files: Path) -> None:
    flows = read_flows_table(FlowsSource(toy_files / "flows.csv", where="n >= 800",
                                         columns={"origin": "from", "destination": "to",
                                                  "count": "n"}))
    assert flows["count"].tolist() == [2000.0, 1000.0, 1500.0, 800.0]
    boxes = gpd.GeoDataFrame({"kommun_code": ["0101", "0102"], "kommun_name": ["A", "B"],
                              "lan_code": ["01", "02"]},
                             geometry=[shapely.box(0, 6e6, 1e4, 6.01e6),
                                       shapely.box(1e4, 6e6, 2e4, 6.01e6)], crs=3006)
    boxes.to_file(toy_files / "k.gpkg")
    assert read_areas(AreasSource(toy_files / "k.gpkg", where="lan_code = '02'")).index \
        .tolist() == ["0102"]


@pytest.mark.parametrize(("name", "layer"), [("places.gpkg", "tatorter"),
                                             ("places.shp", None), ("places.csv", None)])
def test_unknown_column_names_file_layer_expression_and_columns(toy_files: Path, name: str,
                                                                layer: str | None) -> None:
    src = PlacesSource(toy_files / name, where="lan_code = '01'", crs="EPSG:3006"
                       if name.endswith(".csv") else None)
    with pytest.raises(InvalidValueError) as info:
        read_places(src)
    message = str(info.value)
    assert message.startswith(str(toy_files / name))
    assert "where = \"lan_code = '01'\"" in message and "lan_code" in message
    assert "the columns are" in message and "tatort" in message
    if layer:
        assert f"layer '{layer}'" in message


@pytest.mark.parametrize("name", ["places.gpkg", "places.geojson", "places.csv"])
def test_a_filter_that_matches_nothing_is_bad_input(toy_files: Path, name: str) -> None:
    src = PlacesSource(toy_files / name, where="kommun = '9999'",
                       crs="EPSG:3006" if name.endswith(".csv") else None)
    with pytest.raises(EmptyInputError, match=r"where = \"kommun = '9999'\" matches none "
                                              r"of the 6"):
        read_places(src)


def test_bad_filters_exit_2_through_the_command_line(toy_files: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    base = ('[project]\nname = "t"\n[places]\npath = "places.gpkg"\nlayer = "tatorter"\n'
            'where = "{}"\n')
    for where, expected in (("kommun = '9999'", "matches none"),
                            ("lan_code = '01'", "no such column"),
                            ("bef >", "ends too early")):
        (toy_files / "p.toml").write_text(base.format(where.replace('"', '\\"')),
                                          encoding="utf-8")
        code = main(["build", str(toy_files / "p.toml"), "--out", str(toy_files / "o")])
        err = capsys.readouterr().err
        assert code == 2, err
        assert "places.gpkg" in err and "layer 'tatorter'" in err and where in err
        assert expected in err
        assert "Traceback" not in err
    assert not (toy_files / "o").exists()
    (toy_files / "p.toml").write_text(base.format(""), encoding="utf-8")
    assert main(["validate", str(toy_files / "p.toml")]) == 2
    assert "places.where" in capsys.readouterr().err
    # one expression only: a second statement is refused before GDAL sees it…
    (toy_files / "p.toml").write_text(base.format("bef > 0; DROP TABLE tatorter"),
                                      encoding="utf-8")
    assert main(["validate", str(toy_files / "p.toml")]) == 2
    assert "without ';' outside quotes" in capsys.readouterr().err
    # …while a ';' inside a quoted value is just text
    (toy_files / "p.toml").write_text(base.format("tatort <> 'A;B'"), encoding="utf-8")
    assert main(["validate", str(toy_files / "p.toml")]) == 0


def test_a_lan_from_the_national_files(tmp_path: Path) -> None:
    """Västra Götaland (14) from SCB's national tätorter and kommuner, as the README shows.

    The README's project reads ``sverige/scb.gpkg`` as ``strukturbild fetch scb
    --country --tatort-year 2020`` writes it (``tests/sources/scb/test_fetch.py`` runs the same
    project on a fetch from its local server). Here the same layout is made from the
    national files in ../shared (SCB's tätorter 2020 and kommuner, with their own
    column names), and the README's project file is built as printed.
    """
    tatorter = requires_shared("geodata", "sweden", "tatorter_2020.gpkg")
    national = gpd.read_file(tatorter)
    places = national.rename(columns={
        "tatort_code": "place_id", "tatort_name": "name", "kommun_code": "area_id",
        "kommun_name": "area_name"})
    places = places[["place_id", "name", "area_id", "area_name", "lan_code", "population",
                     "area_ha", "geometry"]].assign(jobs=float("nan"), employed=float("nan"),
                                                    seat_of="")
    kommuner = gpd.read_file(SWEDEN / "kommuner.gpkg").rename(columns={
        "kommun_code": "area_id", "kommun_name": "name"})[["area_id", "name", "lan_code",
                                                          "geometry"]]
    (tmp_path / "sverige").mkdir()
    places.to_file(tmp_path / "sverige" / "scb.gpkg", layer="places")
    kommuner.to_file(tmp_path / "sverige" / "scb.gpkg", layer="kommuner", mode="a")
    project = tmp_path / "vastra_gotaland.toml"
    project.write_text(readme_recipe(), encoding="utf-8")
    image = build(load_project(project))
    expected = national[(national["lan_code"] == "14") & (national["population"] >= 2000)]
    assert sorted(image.places.index) == sorted(expected["tatort_code"])
    assert len(image.areas) == 49 and set(image.areas.index.str[:2]) == {"14"}
    assert image.role("storstad") and "1480TC108" in image.places.index  # Göteborg
    assert str(image.places.loc["1480TC108", "role"]) == "storstad"
    inputs = image.provenance["inputs"]
    assert inputs["places"]["where"] == "lan_code = '14' AND population >= 2000"
    assert inputs["areas"]["where"] == "lan_code = '14'"
    summary = json.loads(image.render("json"))
    assert summary["places"] == len(expected) and summary["areas"] == 49
    # the neighbours of Västra Götaland read on its map: Norway and Denmark's Jutland
    assert {"NOR", "DNK"} <= set(image.base["iso_a3"])
    # and their towns, grey: Halland's and Småland's from the national file's rows the
    # filter leaves out (SCB's numbers), Norway's from the shipped table
    ctx = image.context.set_index("name_sv")
    assert ctx.loc[["Halmstad", "Jönköping", "Kungsbacka"], "source"].tolist() == ["places"] * 3
    assert ctx.loc["Fredrikstad", "source"] == "GeoNames" and "Göteborg" not in ctx.index


# --------------------------------------------------------------------------- allowed SQL

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
FILTERS = README.split("**Filters (`where`).**", 1)[1].split("\n\n**", 1)[0]
#: Columns the README's filters name, with values to evaluate them on.
README_TABLE = pd.DataFrame({
    "population": [47_000, 2_500, 900, 12_000], "lan_code": ["14", "05", "06", "12"],
    "kommun_code": ["1480", "0580", "0680", "1280"], "name": ["Göteborg", "Linköping",
                                                               "Jönköping", "Malmö"],
    "jobs": [30_000, None, 400, 8_000], "Kommun kod": ["1480", "0580", "0680", "1280"],
    "from": ["a", "b", "c", "d"], "antal": [10, 5, 20, 1],
    "klass": ["regional", "lokal", "regional", "lokal"], "tatort": ["G", "L", "J", "M"],
    "bef": [47_000, 2_500, 900, 12_000], "kommun": ["1480", "0580", "0680", "1280"],
    "a": [1, 2, 3, 4], "b": [2, 2, 2, 2], "c": [3, 3, 1, 3],
})


def _readme_filters() -> list[str]:
    """Every filter the README shows: `where = "…"` lines and the examples in backticks
    of the Filters paragraph that are whole filters."""
    found = re.findall(r'^where = "([^"]+)"', README, flags=re.MULTILINE)
    found += [f for f in re.findall(r"`([^`]+)`", FILTERS)
              if re.search(r"\s(=|<>|<|<=|>|>=|IN|LIKE|BETWEEN|IS)\s", f)
              and not f.startswith(("SELECT", "--"))]
    return sorted(set(found))


def test_the_readme_shows_filters() -> None:
    filters = _readme_filters()
    assert len(filters) >= 10
    assert "lan_code IN ('05', '06')" in filters
    assert "substr(kommun_code, 1, 2) = '14'" in filters


@pytest.mark.parametrize("where", _readme_filters())
def test_every_filter_of_the_readme_works(where: str) -> None:
    try:
        rows = filter_rows(README_TABLE, where)
    except EmptyInputError:
        return  # evaluated; this table has no row for it
    assert 0 < len(rows) <= len(README_TABLE)


@pytest.mark.parametrize(("where", "expected"), [
    ("lan_code IN ('05', '06')", ["Linköping", "Jönköping"]),
    ("lan_code NOT IN ('05', '06')", ["Göteborg", "Malmö"]),
    ("name LIKE 'gö%'", ["Göteborg"]),            # ASCII letters in any case
    ("name NOT LIKE '%ping'", ["Göteborg", "Malmö"]),
    ("population BETWEEN 2000 AND 12000", ["Linköping", "Malmö"]),
    ("population NOT BETWEEN 2000 AND 12000", ["Göteborg", "Jönköping"]),
    ("jobs IS NULL", ["Linköping"]),
    ("jobs IS NOT NULL AND jobs / population > 0.5", ["Göteborg", "Malmö"]),
    ("substr(kommun_code, 1, 2) = '14'", ["Göteborg"]),
    ("CAST(kommun_code AS INTEGER) < 1000", ["Linköping", "Jönköping"]),
    ('"Kommun kod" = \'1280\' OR "from" = \'a\'', ["Göteborg", "Malmö"]),
    ("NOT (lan_code = '14' OR population < 1000)", ["Linköping", "Malmö"]),
    ("-population < -10000 AND population % 2 = 0", ["Göteborg", "Malmö"]),
    ("lower(name) = 'malmö' OR upper(lan_code) = '05'", ["Linköping", "Malmö"]),
    ("length(trim(name)) = 5 OR abs(round(population / 1000.0)) = 1", ["Jönköping", "Malmö"]),
    ("coalesce(jobs, 0) = 0 OR ifnull(jobs, 0) > 20000", ["Göteborg", "Linköping"]),
    ("population == 900 OR population != population", ["Jönköping"]),
    ("POPULATION >= 47e3", ["Göteborg"]),         # bare names ignore the case
], ids=lambda v: v if isinstance(v, str) else None)
def test_each_allowed_construct(where: str, expected: list[str]) -> None:
    assert filter_rows(README_TABLE, where)["name"].tolist() == expected


@pytest.mark.parametrize(("where", "reason"), [
    ("population IN (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) "
     "SELECT x FROM c)", "common table expression (WITH)"),
    ("population IN (SELECT population FROM t)", "subquery (SELECT)"),
    ("population > (SELECT 1)", "subquery (SELECT)"),
    ("EXISTS (SELECT 1)", "EXISTS"),
    ("population > 1 -- a comment", "comments"),
    ("population /* a comment */ > 1", "comments"),
    ("population > 1; DROP TABLE t", "';'"),
    ("length(randomblob(1000000000)) > 1", "randomblob()"),
    ("length(zeroblob(1000000000)) > 1", "zeroblob()"),
    ("printf('%.*c', 1000000000, 'x') = ''", "printf()"),
    ("replace(name, 'a', name) = ''", "replace()"),
    ("name || name = 'x'", "'||'"),
    ("name GLOB 'G*'", "GLOB"),
    ("name LIKE name", "pattern in single quotes"),
    ("name LIKE '" + "%" * 101 + "'", "more than 100"),
    ("name LIKE 'a!%' ESCAPE '!'", "ESCAPE"),
    ("CASE WHEN 1 THEN 1 END = 1", "CASE"),
    ("name = 'a' COLLATE NOCASE", "COLLATE"),
    ("population = ?", "'?'"),
    ("population = :x", "':'"),
    ("load_extension('x') = 1", "load_extension()"),
    ("sqlite_version() = '3'", "sqlite_version()"),
    ("1 < population < 5", "one comparison per term"),
    ("population = 1 = 1", "one comparison per term"),
    ("population >", "ends too early"),
    ("(population > 1", "ends too early"),
    ("population > 1)", "')' without its '('"),
    ("name = 'unclosed", "not closed"),
    ("select = 1", "subquery (SELECT)"),
    ("from = 'a'", 'double quotes ("from")'),
    ("population IN ()", "expected 'text' or a number"),
    ("population IN (jobs)", "expected 'text' or a number"),
    ("(" * 70 + "population > 1" + ")" * 70, "nested more than 64"),
    ("population = 1 OR " * 700 + "population = 2", "longer than 10000"),
    ("population IS 1", "expected NULL"),
    ("name LIKE 'a' LIKE 'b'", "one comparison per term"),
    ("", "empty"),
], ids=lambda v: v[:40] if isinstance(v, str) else None)
def test_what_a_filter_may_not_hold_is_refused(where: str, reason: str) -> None:
    with pytest.raises(InvalidValueError) as info:
        filter_rows(README_TABLE, where, source="t.csv", layer="l")
    message = str(info.value)
    assert message.startswith(f"t.csv: layer 'l': cannot apply where = \"{where}\": ")
    assert reason in message
    assert "a filter may hold column names" in message  # and what is allowed


def test_unknown_columns_are_named_with_the_columns_there_are() -> None:
    with pytest.raises(InvalidValueError, match=r"no such column: lan; the columns are "
                                                r"population, lan_code"):
        compile_filter("lan = '14'", ["population", "lan_code"])
    # a double-quoted name is a column, never text (SQLite would take it for text)
    with pytest.raises(InvalidValueError, match=r"no such column: 14 \(text goes in single "
                                                r"quotes: '14'\)"):
        compile_filter('lan_code = "14"', ["population", "lan_code"])
    with pytest.raises(InvalidValueError, match="ambiguous"):
        compile_filter("BEF > 1", ["bef", "Bef"])
    assert compile_filter("Bef > 1", ["bef", "Bef"]).used == (1,)


# Random filters of the allowed grammar, over integer columns without NULLs (where SQL
# and Python agree), evaluated by filter_rows and by Python.
_INTS = pd.DataFrame({"a": [-3, 0, 1, 2, 5, 8, 13, 40], "b": [7, 7, 1, 0, -2, 9, 4, 40]})


@st.composite
def _filters(draw: st.DrawFn, depth: int = 0) -> tuple[str, Callable[[Any], Any]]:
    """A filter and the same test in Python, on a row of _INTS."""
    column = st.sampled_from(["a", "b", '"a"', "B"])
    number = st.integers(-50, 50)
    kind = draw(st.sampled_from(["cmp", "in", "between", "arith"] +
                                (["and", "or", "not"] if depth < 3 else [])))
    if kind in ("and", "or"):
        (left, f), (right, g) = draw(_filters(depth + 1)), draw(_filters(depth + 1))
        op = kind.upper() if draw(st.booleans()) else kind
        if kind == "and":
            return f"({left}) {op} ({right})", lambda r: f(r) and g(r)
        return f"({left}) {op} ({right})", lambda r: f(r) or g(r)
    if kind == "not":
        inner, f = draw(_filters(depth + 1))
        return f"NOT ({inner})", lambda r: not f(r)
    col = draw(column)
    name = col.strip('"').lower()
    if kind == "cmp":
        op, n = draw(st.sampled_from(["=", "==", "<>", "!=", "<", "<=", ">", ">="])), \
            draw(number)
        py = {"=": "==", "<>": "!="}.get(op, op)
        return f"{col} {op} {n}", lambda r: eval(f"{r[name]} {py} {n}")
    if kind == "in":
        values = draw(st.lists(number, min_size=1, max_size=5))
        negate = draw(st.booleans())
        text = f"{col} {'NOT ' if negate else ''}IN ({', '.join(map(str, values))})"
        return text, lambda r: (r[name] in values) != negate
    if kind == "between":
        low, high = sorted(draw(st.lists(number, min_size=2, max_size=2)))
        return f"{col} BETWEEN {low} AND {high}", lambda r: low <= r[name] <= high
    n, m = draw(number), draw(st.integers(1, 9))
    return f"{col} * {m} - {n} > 0", lambda r: r[name] * m - n > 0


@settings(max_examples=300, deadline=None)
@given(_filters())
def test_random_allowed_filters_select_what_python_selects(case: tuple[str, Any]) -> None:
    where, python = case
    expected = [i for i, row in _INTS.iterrows() if python(row)]
    try:
        got = filter_rows(_INTS, where).index.tolist()
    except EmptyInputError:
        got = []
    assert got == expected, where


_FORBIDDEN = ["(SELECT 1)", "(WITH c(x) AS (SELECT 1) SELECT x FROM c)", "randomblob(9)",
              "zeroblob(9)", "printf('%d', 1)", "a || a", "(VALUES (1))", "load_extension('x')",
              "?", ":p", "@p", "$p", "x'00'", "a COLLATE NOCASE", "CASE a WHEN 1 THEN 1 END",
              "likelihood(a, 0.5)", "char(65)", "hex(a)", "group_concat(a)", "max(a, b)"]


@settings(max_examples=200, deadline=None)
@given(_filters(), st.sampled_from(_FORBIDDEN), st.data())
def test_a_forbidden_construct_anywhere_is_refused(case: tuple[str, Any], bad: str,
                                                   data: st.DataObject) -> None:
    where, _ = case
    numbers = list(re.finditer(r"(?<![\w.])-?\d+", where))
    spot = data.draw(st.sampled_from(numbers)) if numbers else None
    hostile = (where[:spot.start()] + bad + where[spot.end():]) if spot else f"{bad} = 1"
    with pytest.raises(InvalidValueError, match="cannot apply where"):
        compile_filter(hostile, ["a", "b"])


#: All SQLite ever sees of a filter: these words, placeholders, numbers of columns.
_SQL_VOCABULARY = {"AND", "OR", "NOT", "IN", "LIKE", "BETWEEN", "IS", "NULL", "CAST", "AS",
                   "INTEGER", "REAL", "TEXT", "NUMERIC", *FUNCTIONS}


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(max_size=80),
                 st.lists(st.sampled_from(
                     ["a", "b", "(", ")", "'x'", '"a"', "1", "2.5", "=", "<", "<>", "AND",
                      "OR", "NOT", "IN", "LIKE", "BETWEEN", "IS", "NULL", ",", "-", "*",
                      "SELECT", "WITH", "--", "/*", ";", "||", "substr", "CAST", "AS", "TEXT",
                      "randomblob", "x", "'", '"']), max_size=20).map(" ".join)))
def test_nothing_but_the_allowed_vocabulary_reaches_sqlite(text: str) -> None:
    """Whatever the text, the filter is refused with a message, or SQLite is given only
    the allowed words, '?' for every literal and c<i> for every column."""
    try:
        compiled = compile_filter(text, ["a", "b"])
    except InvalidValueError as exc:
        assert "cannot apply where" in str(exc)
        return
    words = set(re.findall(r"[A-Za-z_]\w*", compiled.sql))
    assert words <= _SQL_VOCABULARY | {"c0", "c1"}, compiled.sql
    assert not set(compiled.sql) - set("c0123456789?(), =<>!+-*/%ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                       "abcdefghijklmnopqrstuvwxyz_."), compiled.sql
    assert "--" not in compiled.sql and "/*" not in compiled.sql
    sqlite3.connect(":memory:").execute(      # and it is SQL SQLite takes
        f"SELECT 1 FROM (SELECT 1 AS c0, 2 AS c1) WHERE {compiled.sql}", compiled.params)


# --------------------------------------------------------------------------- hostile filters

CTE = ("population IN (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) "
       "SELECT x FROM c)")


@pytest.mark.parametrize("section", ["places", "areas", "flows", "layers"])
def test_a_recursive_cte_is_refused_on_every_input_before_it_runs(
        toy_files: Path, section: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The filter of the issue: it passed the one-expression check and ran for ever in
    C on places, areas, flows and own layers alike."""
    boxes = gpd.GeoDataFrame({"kommun": ["0101", "0102", "0103"], "namn": ["A", "B", "C"],
                              "population": [1, 2, 3]},
                             geometry=[shapely.box(490_000 + i * 20_000, 6_490_000,
                                                   510_000 + i * 20_000, 6_560_000)
                                       for i in range(3)], crs=3006)
    boxes.to_file(toy_files / "kommuner.gpkg", layer="kommuner")
    where = {s: "" for s in ("places", "areas", "flows", "layers")}
    hostile = CTE.replace("population", {"places": "bef", "areas": "population",
                                         "flows": "n", "layers": "population"}[section])
    where[section] = f'where = "{hostile}"\n'
    project = toy_files / "p.toml"
    project.write_text(f"""
[project]
name = "t"
[places]
path = "places.gpkg"
layer = "tatorter"
{where["places"]}[areas]
path = "kommuner.gpkg"
{where["areas"]}[areas.columns]
area_id = "kommun"
name = "namn"
[flows]
path = "flows.csv"
{where["flows"]}[flows.columns]
origin = "from"
destination = "to"
count = "n"
[[layers]]
name = "Kommuner"
path = "kommuner.gpkg"
{where["layers"]}""", encoding="utf-8")
    for command in (["validate", str(project)],
                    ["build", str(project), "--out", str(toy_files / "o")]):
        start = time.monotonic()
        code = main(command)
        took = time.monotonic() - start
        err = capsys.readouterr().err
        assert code == 2, err
        assert took < 10, took
        assert f'cannot apply where = "{hostile}": a common table expression (WITH) is ' \
               "not allowed" in err
        assert ("flows.csv" if section == "flows" else ".gpkg") in err
    assert not (toy_files / "o").exists()


# -- red team (after issue 15): filters at the grammar's limits ------------------------

@pytest.mark.parametrize("where", [
    "NOT " * 50 + "population > 1",                                   # within MAX_DEPTH
    "upper(" * 40 + "name" + ")" * 40 + " = 'X'",
    "coalesce(jobs, " * 30 + "0" + ")" * 30 + " > 0",
    "(population > 0 AND " * 40 + "population > 0" + ")" * 40,
    " AND ".join(["a>0"] * 1000),                                     # tree 1000 deep
], ids=["not-50", "upper-40", "coalesce-30", "and-nest-40", "and-1000"])
def test_a_filter_too_deep_for_sqlite_is_refused_before_any_row(where: str) -> None:
    # 0.2.0 let these through the grammar (under 64 deep, under 10 000 characters) and
    # SQLite then failed with a bare "parser stack overflow" or "Expression tree is too
    # large": exit 2, but no word of what was wrong or what a filter may hold.
    assert len(where) <= 10_000
    with pytest.raises(InvalidValueError) as info:
        filter_rows(README_TABLE, where, source="t.csv", layer="l")
    message = str(info.value)
    assert message.startswith(f"t.csv: layer 'l': cannot apply where = \"{where}\": "
                              "the filter is too deep for SQLite (")
    assert "fewer nested parentheses" in message
    assert "a filter may hold column names" in message


def test_a_long_sum_is_one_chain_not_a_nest() -> None:
    # "a + 1 + 1 + …" was written as ((a + 1) + 1) …, a parenthesis per operator, and
    # overflowed SQLite's parser from about 40 terms; a chain is now one pair of
    # parentheses, evaluated left to right as SQLite does.
    where = "population" + " + 1 - 1" * 300 + " * 2 / 2 % 100000 > 46999"
    assert filter_rows(README_TABLE, where)["name"].tolist() == ["Göteborg"]
    assert compile_filter("a - b + c * b / a % c > -a", ["a", "b", "c"]).sql == \
        "((c0 - c1 + (c2 * c1 / c0 % c2)) > (-c0))"
    assert filter_rows(README_TABLE, "a - b + c * b / a % c > 2")["name"].tolist() == \
        [x for x, a, b, c in zip(README_TABLE["name"], README_TABLE["a"], README_TABLE["b"],
                                 README_TABLE["c"], strict=True)
         if a - b + (c * b // a) % c > 2]


def test_a_filter_that_matches_nothing_is_echoed_as_written() -> None:
    # 0.2.0 put spaces for every comma of the message, the filter's too:
    # 'where = "substr(name  1  2) = ..."' and 'IN (0 1 2 …' for what the user wrote.
    where = "substr(kommun_code, 1, 2) IN ('99', '98')"
    with pytest.raises(EmptyInputError) as info:
        filter_rows(README_TABLE, where, source="t.csv")
    assert f'where = "{where}" matches none of the 4 rows' in str(info.value)
