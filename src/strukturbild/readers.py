"""Readers that return the canonical frames.

Places and areas come from GeoPackage, GeoJSON, Shapefile (UTF-8 or Latin-1) or
CSV/Parquet with coordinate columns; flows from CSV or Parquet long tables. Column
names are mapped by the project file, and SCB's own names are recognised without
mapping, both the older upper-case (``TATORTSKOD, TATORT, KOMMUN, KOMMUNNAMN, BEF,
AREA_HA``) and the newer lower-case ones. Codes stay zero-padded strings, and every
layer is brought to the project CRS (default EPSG:3006, SWEREF 99 TM).
"""

from __future__ import annotations

import codecs
import contextlib
import os
import re
import warnings
from collections.abc import Callable, Generator, Iterator, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ._files import check_path, unformula
from ._sqlite import guarded
from ._validate import (
    check_coordinates,
    check_crs,
    check_degrees,
    check_geometries,
    check_metric,
    check_not_degrees,
    check_table_size,
    check_unique,
    clean_text,
    require_columns,
    require_rows,
    to_codes,
    to_counts,
)
from ._where import compile_filter
from .analysis.flows import Flows
from .config import (
    DEFAULT_CRS,
    AreasSource,
    FlowsSource,
    JobsSource,
    LayerSource,
    PlacesSource,
)
from .errors import (
    ConfigError,
    CRSError,
    DuplicateIdError,
    EmptyInputError,
    InputFileNotFoundError,
    InvalidValueError,
    StrukturbildWarning,
    TimeLimitError,
    UnknownCodeError,
)

__all__ = [
    "BUILTIN_DESIGNATIONS",
    "JOB_PART_ALIASES",
    "PLACE_ALIASES",
    "areas_from_frame",
    "check_sqlite_input",
    "filter_rows",
    "flows_table_from_frame",
    "gdal_readable",
    "join_jobs",
    "match_jobs",
    "places_from_frame",
    "read_areas",
    "read_designations",
    "read_flows",
    "read_flows_table",
    "read_layer",
    "read_places",
    "read_table",
    "to_jsonable",
]

#: Canonical place column → names recognised without mapping (compared case-insensitively).
PLACE_ALIASES: Mapping[str, tuple[str, ...]] = {
    "place_id": ("place_id", "tatortskod", "tatort_code", "tatortkod", "code", "id"),
    "name": ("name", "tatort", "tatort_name", "tatortsnamn", "namn"),
    "area_id": ("area_id", "kommun", "kommun_code", "kommunkod", "knkod", "kn_kod"),
    "area_name": ("area_name", "kommunnamn", "kommun_name", "knnamn"),
    "population": ("population", "bef", "befolkning", "folkmangd", "pop"),
    # SCB's day population (RAMS/BAS "sysselsatt dagbefolkning": the employed by where
    # they work). "arbetsställen" (establishments) counts workplaces, not jobs: not here.
    "jobs": ("jobs", "dagbef", "dagbefolkning", "sysselsatt_dagbefolkning",
             "sysselsatta_dagbefolkning", "sysselsatta_dag", "forvarvsarbetande_dag",
             "arbetsplatser"),
    # SCB's night population: the employed by where they live
    "employed": ("employed", "nattbef", "nattbefolkning", "sysselsatt_nattbefolkning",
                 "sysselsatta_nattbefolkning", "forvarvsarbetande", "sysselsatta",
                 "employed_residents"),
    "population_prev": ("population_prev",),
    "jobs_prev": ("jobs_prev",),
    "area_ha": ("area_ha",),
}
AREA_ALIASES: Mapping[str, tuple[str, ...]] = {
    "area_id": ("area_id", "kommun_code", "kommunkod", "knkod", "kommun", "lan_code", "code"),
    "name": ("name", "kommun_name", "kommunnamn", "knnamn", "lan_name", "namn"),
    # employed residents per inhabitant (optional; ``fetch scb`` writes it per kommun)
    "employment_rate": ("employment_rate",),
}
#: Columns of a jobs table whose rows split one place (SCB gives one row per län for
#: a tätort that crosses a län border): rows that differ in them are added up.
JOB_PART_ALIASES: tuple[str, ...] = ("lan_code", "lanskod", "lankod", "lan", "kommun_code",
                                     "kommunkod", "knkod")
FLOW_ALIASES: Mapping[str, tuple[str, ...]] = {
    "origin": ("origin", "from", "fran", "bostad", "home", "live", "o"),
    "destination": ("destination", "to", "till", "arbete", "work", "d"),
    "count": ("count", "flow", "antal", "amount", "n", "value"),
}
_X_NAMES = ("x", "lon", "longitude", "lng", "e", "easting", "x_koord")
_Y_NAMES = ("y", "lat", "latitude", "n", "northing", "y_koord")
_VECTOR_SUFFIXES = {".gpkg", ".geojson", ".json", ".shp", ".fgb", ".gml"}


# --------------------------------------------------------------------------- tables


def _decode_csv(path: Path, encoding: str | None) -> tuple[str, str]:
    raw = path.read_bytes()
    if encoding:
        try:
            return raw.decode(encoding), encoding
        except (UnicodeDecodeError, LookupError) as exc:
            raise InvalidValueError(f"cannot read the file as {encoding}: {exc}",
                                    source=path) from None
    # UTF-16/32 files (Excel's "Unicode text") start with a byte-order mark
    for bom, codec in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                       (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if raw.startswith(bom):
            try:
                return raw.decode(codec), codec
            except UnicodeDecodeError as exc:
                raise InvalidValueError(f"cannot read the file as {codec}: {exc}",
                                        source=path) from None
    if raw[:200].count(b"\x00") > len(raw[:200]) // 4:
        raise InvalidValueError("the file looks like UTF-16 without a byte-order mark; save "
                                "it as UTF-8, or give its encoding (encoding = "
                                "\"utf-16-le\")", source=path)
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        # Not UTF-8: Swedish files from older tools are Windows-1252/Latin-1.
        try:
            return raw.decode("cp1252"), "cp1252"
        except UnicodeDecodeError:
            return raw.decode("latin-1"), "latin-1"


def read_table(path: str | Path, *, encoding: str | None = None, where: str | None = None,
               ) -> pd.DataFrame:
    """Read a CSV (any common delimiter, UTF-8 or Latin-1) or Parquet table, all as text.

    CSV columns are read as strings so that codes keep their leading zeros; numbers
    are converted later by the column's role. ``where`` keeps the rows that match an
    attribute filter (:func:`filter_rows`).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = p.write_bytes("kod;namn\\n0114;Upplands V\\xe4sby\\n".encode("latin-1"))
    >>> read_table(p).iloc[0].tolist()
    ['0114', 'Upplands Väsby']
    """
    df = _read_table(Path(path), encoding=encoding)
    return df if where is None else filter_rows(df, where, source=path)


def _read_table(p: Path, *, encoding: str | None) -> pd.DataFrame:
    check_path(p)
    if not p.is_file():
        raise InputFileNotFoundError("file not found", source=p)
    check_table_size(p)
    if p.suffix.lower() in (".parquet", ".pq"):
        try:
            return pd.read_parquet(p)
        except Exception as exc:
            raise InvalidValueError(f"cannot read Parquet file: {exc}", source=p) from None
    import io as _io

    text, _ = _decode_csv(p, encoding)
    if not text.strip():
        return pd.DataFrame()
    first = text.splitlines()[0]
    sep = max([",", ";", "\t", "|"], key=first.count)
    try:
        df = pd.read_csv(_io.StringIO(text), sep=sep, dtype=str, keep_default_na=False,
                         na_values=[""])
    except pd.errors.ParserError as exc:
        raise InvalidValueError(f"cannot read CSV: {exc}", source=p) from None
    df.columns = [str(c).strip() for c in df.columns]
    # a CSV strukturbild wrote reads back as it was (the formula guard taken off)
    return df.apply(unformula)


_NUMBER = r"-?(?:0|[1-9]\d*)(?:[.,]\d+)?(?:[eE][-+]?\d+)?"


def _typed_for_filter(frame: pd.DataFrame) -> pd.DataFrame:
    """The columns as a filter compares them: text that is all numbers, as numbers.

    A CSV is read as text (codes keep their zeros); for ``where`` a column whose
    values are all numbers without a leading zero (``47000``, ``55,6``) is numeric,
    as GDAL's CSV driver would type it, so ``population >= 2000`` compares numbers
    and ``kommun_code = '0114'`` compares text. Geometry is left out.
    """
    out = {}
    for col in frame.columns:
        values = frame[col]
        if col == getattr(frame, "_geometry_column_name", None):
            continue
        if values.dtype == object or isinstance(values.dtype, pd.StringDtype):
            text = values.dropna().astype(str).str.strip()
            if len(text) and text.str.fullmatch(_NUMBER).all():
                values = pd.to_numeric(values.astype("string").str.strip()
                                       .str.replace(",", ".", regex=False), errors="coerce")
            else:
                values = values.astype(object).where(values.notna(), None)
        elif values.dtype.kind not in "biuf":
            values = values.astype(str).where(values.notna(), None)
        out[str(col)] = values.to_numpy()
    return pd.DataFrame(out)


def filter_rows(frame: pd.DataFrame, where: str, *, source: str | Path | None = None,
                layer: str | None = None) -> pd.DataFrame:
    """The rows of a table that match an attribute filter, as ``ogr2ogr -where`` selects.

    The filter is SQL as SQLite evaluates it, limited to what a filter needs
    (:mod:`strukturbild._where`): comparisons, ``AND``/``OR``/``NOT``, ``IN``,
    ``LIKE``, ``BETWEEN``, ``IS NULL``, arithmetic and a few functions;
    ``"lan_code = '12'"``, ``"population >= 2000"``, ``"kommun_code LIKE '12%'"``.
    Text columns that hold only numbers compare as numbers (see :func:`read_table`);
    quote text values, name columns as they are written in the file (``"Kommun kod"``
    in double quotes if it has a space).

    Raises
    ------
    InvalidValueError
        The filter holds what a filter may not (a subquery, a comment, ``;``), is
        incomplete, or names a column the table does not have.
    EmptyInputError
        It matches no row.
    TimeLimitError
        Evaluating it took longer than :data:`FILTER_SECONDS` for one block of rows.

    Examples
    --------
    >>> t = pd.DataFrame({"kod": ["0114", "1280", "1281"], "bef": ["47000", "325069", "94393"]})
    >>> filter_rows(t, "kod LIKE '12%' AND bef > 100000")["kod"].tolist()
    ['1280']
    >>> filter_rows(t, "lan = '12'", source="t.csv")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    strukturbild.errors.InvalidValueError: t.csv: cannot apply where = "lan = '12'": no such ...
    """
    if not len(frame):
        return frame
    positions = _matching(_typed_for_filter(frame), where, source=source, layer=layer)
    return frame.iloc[positions]


#: Time limit of a filter on one block of :data:`_FILTER_ROWS` rows, in seconds. A
#: filter of the allowed constructs takes well under a second for such a block; the
#: limit is the bound should that ever be wrong, and the guard lets Ctrl-C in.
FILTER_SECONDS = 30.0
_FILTER_ROWS = 100_000


def _matching(frame: pd.DataFrame, where: str, *, source: str | Path | None,
              layer: str | None, total: int | None = None) -> np.ndarray:
    """Positions (sorted) of the rows of ``frame`` that match ``where``.

    The filter is checked by :func:`~strukturbild._where.compile_filter` and evaluated
    by Python's own SQLite on the columns it names, copied into a table in memory, a
    block of rows at a time, under :func:`~strukturbild._sqlite.guarded`: GDAL is not
    given user SQL (it would run it in C, where Ctrl-C does not reach), and every
    format is filtered by the same SQL.
    """
    import sqlite3

    geometry = getattr(frame, "_geometry_column_name", None)
    positions = [i for i, c in enumerate(frame.columns) if c != geometry]
    names = [str(frame.columns[i]) for i in positions]
    try:
        compiled = compile_filter(where, names)
    except InvalidValueError as exc:
        raise InvalidValueError(exc.message, source=source, layer=layer) from None
    columns = [_sql_values(frame.iloc[:, positions[i]]) for i in compiled.used]
    kinds = [kind for kind, _ in columns] or ["INTEGER"]
    values = [vals for _, vals in columns] or [[None] * len(frame)]
    ids = [f"c{i}" for i in compiled.used] or ["c"]
    hits: list[np.ndarray] = []
    with contextlib.closing(sqlite3.connect(":memory:")) as con:
        declared = ", ".join(f"{c} {k}" for c, k in zip(ids, kinds, strict=True))
        con.execute(f"CREATE TABLE t({declared})")
        insert = (f"INSERT INTO t(rowid, {', '.join(ids)}) "
                  f"VALUES (?{', ?' * len(ids)})")
        select = f"SELECT rowid - 1 FROM t WHERE {compiled.sql}"
        for start in range(0, len(frame), _FILTER_ROWS):
            stop = min(start + _FILTER_ROWS, len(frame))
            with guarded(con, seconds=FILTER_SECONDS, source=source or "the table",
                         what=f'applying where = "{where}" to '
                         f'{f"{stop - start:,}".replace(",", " ")} rows'):
                try:
                    con.execute("DELETE FROM t")
                    con.executemany(insert, zip(range(start + 1, stop + 1),
                                                *(v[start:stop] for v in values), strict=True))
                    rows = con.execute(select, compiled.params).fetchall()
                except sqlite3.Error as exc:
                    raise InvalidValueError(f'cannot apply where = "{where}": {exc}',
                                            source=source, layer=layer) from None
            hits.append(np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)))
    matched = np.sort(np.concatenate(hits)) if hits else np.empty(0, dtype=np.int64)
    if not len(matched):
        # the thousands separator is a space; the filter is echoed as written
        what = f"{total if total is not None else len(frame):,} ".replace(",", " ") + \
            ("features" if total is not None else "rows")
        raise EmptyInputError(f'the filter where = "{where}" matches none of the {what}',
                              source=source, layer=layer)
    return matched


def _sql_values(values: pd.Series) -> tuple[str, list[Any]]:
    """A column as SQLite takes it: its declared type (as a GeoPackage would declare
    it, so comparisons convert as they would there) and plain Python values."""
    kind = values.dtype.kind
    if kind == "b" or (kind in "iu" and not isinstance(values.dtype, pd.CategoricalDtype)):
        if kind == "u" and len(values) and values.max() >= 2**63:
            return "REAL", values.astype(float).tolist()
        return "INTEGER", values.astype(object).where(values.notna(), None).map(
            lambda v: None if v is None else int(v)).tolist()
    if kind == "f":
        return "REAL", [None if v != v else v for v in values.tolist()]
    if kind == "M":
        return "TEXT", [None if pd.isna(v) else v.isoformat() for v in values]
    out: list[Any] = []
    for v in values.tolist():
        if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and v != v):
            out.append(None)
        elif isinstance(v, bool | np.bool_):
            out.append(int(v))
        elif isinstance(v, str | bytes | int | float):
            out.append(v if not isinstance(v, int) or -2**63 <= v < 2**63 else float(v))
        elif isinstance(v, np.integer | np.floating):
            out.append(v.item())
        else:
            out.append(str(v))
    return "TEXT", out


_FOLD = str.maketrans({"å": "a", "ä": "a", "ö": "o", "é": "e", " ": "_", "-": "_"})


def _folded(name: str) -> str:
    """A column name as the aliases are written: lower case, å/ä/ö as a/a/o, spaces
    and hyphens as ``_`` (``Sysselsatt dagbefolkning`` → ``sysselsatt_dagbefolkning``)."""
    return str(name).strip().lower().translate(_FOLD)


def _find_column(
    frame: pd.DataFrame, canonical: str, mapping: Mapping[str, str],
    aliases: Mapping[str, tuple[str, ...]],
) -> str | None:
    if canonical in mapping:
        return mapping[canonical]
    lower = {str(c).lower(): str(c) for c in frame.columns}
    folded: dict[str, str] = {}
    for c in frame.columns:
        folded.setdefault(_folded(str(c)), str(c))
    for alias in aliases.get(canonical, ()):
        if alias in lower:
            return lower[alias]
    for alias in aliases.get(canonical, ()):
        if alias in folded:
            return folded[alias]
    return None


#: Open options for every vector input. GML: never write a ``.gfs`` schema file beside
#: the input (inputs are read-only), never download an application schema (a server
#: that does not answer would hang the read). Drivers other than GML ignore them.
_OPEN_OPTIONS = {"WRITE_GFS": "NO", "DOWNLOAD_SCHEMA": "NO"}
#: Time limit of the check of an SQLite-based input (its schema), in seconds.
SQLITE_CHECK_SECONDS = 20.0
_SQLITE_HEADER = b"SQLite format 3\x00"


def _read_vector(
    path: Path, *, layer: str | None, encoding: str | None, where: str | None = None
) -> gpd.GeoDataFrame:
    with gdal_readable(path) as (source, sqlite):
        name = layer
        if layer is None and sqlite:
            with contextlib.suppress(Exception):
                name = _layer_names(source, sqlite=True)[0]
        gdf = _read_vector_layer(path, layer=layer, encoding=encoding, where=where,
                                 name=name, sqlite=sqlite, source=source)
    if layer is None and name is not None:
        # name the layer that was read (the first) in messages about it
        gdf.attrs["layer"] = name
    return gdf


def check_sqlite_input(path: str | Path) -> bool:
    """Refuse an SQLite-based input (GeoPackage) whose reading could not end; say if
    the file is SQLite at all. See :func:`gdal_readable`.

    Examples
    --------
    >>> import sqlite3, tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "v.gpkg"
    >>> with sqlite3.connect(p) as con:
    ...     _ = con.execute("CREATE VIEW places AS WITH RECURSIVE c(x) AS (SELECT 1 UNION "
    ...                     "ALL SELECT x + 1 FROM c) SELECT x FROM c")
    >>> check_sqlite_input(p)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    strukturbild.errors.InvalidValueError: .../v.gpkg: the file holds a view ('places'): ...
    """
    with gdal_readable(Path(path)) as (_, sqlite):
        return sqlite


@contextlib.contextmanager
def gdal_readable(path: Path) -> Iterator[tuple[Path, bool]]:
    """The file GDAL is to read for the input ``path``, and whether it is SQLite-based.

    Every input GDAL opens comes through here (places, areas, own layers, ``[map]
    land``). A file that is not SQLite is given as it is. An SQLite file (GeoPackage)
    is checked first, because GDAL reads it with SQLite, in C, where neither Ctrl-C nor
    a time limit reaches. Reading a plain table takes time in proportion to its size.
    A *view* is a stored query that runs when it is read, and can run for ever (a
    recursive CTE): as a layer, as ``gpkg_contents`` or any table GDAL reads on
    opening (GDAL lists the layers of a file with such a view for ever). A virtual
    table runs its module's code; a generated column computes an expression on every
    read. So the file is read here with Python's ``sqlite3``, read-only, under
    :func:`~strukturbild._sqlite.guarded`, and refused if it holds a view, a virtual
    table other than the R*Tree of a spatial index, or a generated column.

    Views are refused, not run first under a time limit: GDAL runs its own queries on
    a layer (a count, the extent, the rows in its own order), not the one run here, so
    one view can be quick here and endless there; it would then run again, unguarded;
    and a view can give other rows on every run. Planning data comes as tables; a view
    is saved as a table with "Save Features As…" in QGIS.

    Triggers are allowed: they run only when a table is written, and neither this
    check nor GDAL opens an input for writing.

    A file with a ``-wal`` (or ``-journal``) beside it is open in another program
    (QGIS edits GeoPackages in WAL mode), or was copied or left so. GDAL would read it
    and then, on closing, reopen it for writing to fold the ``-wal`` into the file and
    delete it: an input changed, under a program that has it open. So such a file is
    read once, read-only, with SQLite's backup API (which takes a consistent state,
    the ``-wal``'s changes included), into a private copy that is checked and given to
    GDAL, and removed afterwards. (SQLite keeps the ``-shm`` index of a WAL database in
    shared memory that every reader updates: that file is the one beside the input a
    read can touch, as QGIS's own reads do.)

    Raises
    ------
    InvalidValueError
        The file holds a view, a virtual table or a generated column, or SQLite
        cannot read it.
    TimeLimitError
        Reading its schema (or copying it) took longer than :data:`SQLITE_CHECK_SECONDS`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.geojson"
    >>> _ = p.write_text('{"type": "FeatureCollection", "features": []}')
    >>> with gdal_readable(p) as (source, sqlite):
    ...     source == p, sqlite
    (True, False)
    """
    try:
        with path.open("rb") as fh:
            header = fh.read(len(_SQLITE_HEADER))
    except OSError:
        header = b""  # GDAL says what is wrong with a file that cannot be read
    if header != _SQLITE_HEADER:
        yield path, False
        return
    absolute = path.resolve()
    sidecars = [s for s in ("-wal", "-journal") if Path(f"{absolute}{s}").exists()]
    if not sidecars:
        _check_sqlite_schema(absolute.as_uri() + "?mode=ro&immutable=1", source=path)
        yield path, True
        return
    import tempfile

    with tempfile.TemporaryDirectory(prefix="strukturbild-") as folder:
        copy = Path(folder) / f"snapshot{path.suffix.lower() or '.gpkg'}"
        _sqlite_snapshot(absolute.as_uri() + "?mode=ro", copy, source=path,
                         sidecar=sidecars[0])
        _check_sqlite_schema(copy.as_uri() + "?mode=ro&immutable=1", source=path)
        yield copy, True


def _sqlite_connect(uri: str, source: Path) -> Any:
    import sqlite3

    try:
        return sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:
        raise InvalidValueError(f"SQLite cannot open the file: {exc}", source=source) from None


def _sqlite_snapshot(uri: str, copy: Path, *, source: Path, sidecar: str) -> None:
    """A consistent copy of the database at ``uri`` (SQLite's backup API), stoppable."""
    import sqlite3
    import time

    deadline = time.monotonic() + SQLITE_CHECK_SECONDS

    def progress(status: int, remaining: int, total: int) -> None:
        # Python code between steps: a pending Ctrl-C is raised here
        if time.monotonic() > deadline:
            raise TimeLimitError(f"copying the file (a '{sidecar}' file is beside it) took "
                                 f"longer than {SQLITE_CHECK_SECONDS:g} s; stopped",
                                 source=source)

    src = _sqlite_connect(uri, source)
    try:
        with contextlib.closing(sqlite3.connect(copy)) as dst:
            src.backup(dst, pages=256, progress=progress)
    except sqlite3.Error as exc:
        hint = ("; a '-journal' file beside it is a write that did not finish: open the "
                "file once in QGIS (or sqlite3) to recover it" if sidecar == "-journal"
                else "")
        raise InvalidValueError(f"SQLite cannot read the file: {exc}{hint}",
                                source=source) from None
    finally:
        src.close()


def _check_sqlite_schema(uri: str, *, source: Path) -> None:
    """Refuse views, virtual tables (but R*Tree) and generated columns; see
    :func:`gdal_readable`."""
    import sqlite3

    con = _sqlite_connect(uri, source)
    with contextlib.closing(con), guarded(con, seconds=SQLITE_CHECK_SECONDS, source=source,
                                          what="checking the SQLite file's tables"):
        try:
            schema = con.execute("SELECT type, name, sql FROM sqlite_master").fetchall()
            tables = [name for kind, name, sql in schema
                      if kind == "table" and not _is_virtual(str(sql or ""))]
            generated = [(t, c) for t in tables for c, hidden in con.execute(
                "SELECT name, hidden FROM pragma_table_xinfo(?)", (t,)) if hidden in (2, 3)]
        except sqlite3.Error as exc:
            raise InvalidValueError(f"SQLite cannot read the file: {exc}",
                                    source=source) from None
    for kind, name, sql in schema:
        if kind == "view":
            raise InvalidValueError(
                f"the file holds a view ({str(name)!r}): a stored query, which GDAL would "
                "run while reading the file, where it cannot be stopped; strukturbild "
                "reads only tables (save the view as a table: in QGIS, Export ▸ Save "
                "Features As…)", source=source)
        text = str(sql or "")
        if kind == "table" and _is_virtual(text):
            found = re.search(r"\bUSING\s+(\w+)", text, re.IGNORECASE)
            module = found.group(1) if found else "?"
            if module.lower() != "rtree":
                raise InvalidValueError(
                    f"the file holds a virtual table ({str(name)!r}, module {module!r}): its "
                    "module's code would run while it is read; strukturbild reads only "
                    "tables (and the R*Tree of a spatial index)", source=source)
    if generated:
        table, column = generated[0]
        raise InvalidValueError(
            f"the table {str(table)!r} has a generated column ({str(column)!r}), computed "
            "on every read; strukturbild reads only stored values (save the layer as a "
            "new table)", source=source)


def _is_virtual(sql: str) -> bool:
    return re.match(r"\s*CREATE\s+VIRTUAL\b", sql, re.IGNORECASE) is not None


def _layer_names(path: Path, *, sqlite: bool) -> list[str]:
    """The layers of a vector file, without writing anything beside it."""
    import pyogrio

    if sqlite:  # checked by check_sqlite_input: listing reads its tables only
        return [str(n) for n in pyogrio.list_layers(path)[:, 0]]
    # pyogrio.list_layers takes no open options, and GDAL's GML driver writes a .gfs
    # file beside the input on opening without WRITE_GFS=NO: list them one by one
    names: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for index in range(100):
            try:
                info = pyogrio.read_info(path, layer=index, **_OPEN_OPTIONS)
            except Exception:
                break
            names.append(str(info.get("layer_name", index)))
    return names


def _read_vector_layer(
    path: Path, *, layer: str | None, encoding: str | None, where: str | None = None,
    name: str | None = None, sqlite: bool = False, source: Path | None = None,
) -> gpd.GeoDataFrame:
    """One layer of a vector file; with ``where``, only the features that match it.

    The filter is evaluated by :func:`_matching` (not by GDAL) on the attributes it
    names; a GeoPackage then gives only the matching features (by their ids), other
    formats are read whole and cut. GDAL reads ``source`` (:func:`gdal_readable`);
    messages name ``path``.
    """
    import pyogrio

    gdal = source if source is not None else path

    kwargs: dict[str, Any] = dict(_OPEN_OPTIONS)
    if layer is not None:
        _check_layer_name(gdal, layer, sqlite=sqlite, path=path)
        kwargs["layer"] = layer
    if encoding:
        kwargs["encoding"] = _gdal_encoding(encoding, path)
    if where is not None and sqlite:
        kwargs["fids"] = _matching_fids(gdal, kwargs, where, name=name, path=path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            try:
                gdf = pyogrio.read_dataframe(gdal, **kwargs)
            except UnicodeDecodeError:
                if encoding:
                    raise
                # No .cpg and no code page in the .dbf: Swedish shapefiles from older
                # tools are Latin-1.
                kwargs["encoding"] = "ISO-8859-1"
                gdf = pyogrio.read_dataframe(gdal, **kwargs)
    except UnicodeDecodeError as exc:
        raise InvalidValueError(f"cannot read the text as {encoding}: {exc}; give the right "
                                "'encoding' in the project file", source=path) from None
    except Exception as exc:
        raise InvalidValueError(f"cannot read the file: {exc}", source=path) from None
    if where is not None and not sqlite:
        gdf = gdf.iloc[_matching(gdf, where, source=path, layer=name, total=len(gdf))]
    return gdf


def _check_layer_name(gdal: Path, layer: str, *, sqlite: bool, path: Path) -> None:
    """Refuse a layer the file does not have, naming the layers it has."""
    import pyogrio

    if sqlite:
        try:
            layers = _layer_names(gdal, sqlite=True)
        except Exception as exc:
            raise InvalidValueError(f"cannot open the file: {exc}", source=path) from None
        known = layer in layers
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            try:
                pyogrio.read_info(gdal, layer=layer, **_OPEN_OPTIONS)
                known = True
            except Exception:
                known = False
        layers = [] if known else _layer_names(gdal, sqlite=False)
    if not known:
        raise InvalidValueError(
            f"no layer '{layer}'; the file has: {', '.join(layers) or 'no layers'}",
            source=path)


def _matching_fids(gdal: Path, kwargs: Mapping[str, Any], where: str, *, name: str | None,
                   path: Path) -> np.ndarray[Any, Any]:
    """The feature ids of a GeoPackage layer that match ``where``: the filter's columns
    are read first, without geometry."""
    import pyogrio

    layer = kwargs.get("layer")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            fields = [str(f) for f in pyogrio.read_info(gdal, layer=layer)["fields"]]
        except Exception as exc:
            raise InvalidValueError(f"cannot read the file: {exc}", source=path) from None
        try:
            compiled = compile_filter(where, fields)
        except InvalidValueError as exc:
            raise InvalidValueError(exc.message, source=path, layer=name) from None
        try:
            attrs = pyogrio.read_dataframe(
                gdal, read_geometry=False, fid_as_index=True, **kwargs,
                columns=[fields[i] for i in sorted(compiled.used)])
        except Exception as exc:
            raise InvalidValueError(f"cannot read the file: {exc}", source=path) from None
    hits = _matching(attrs, where, source=path, layer=name, total=len(attrs))
    fids: np.ndarray[Any, Any] = np.asarray(attrs.index, dtype=np.int64)[hits]
    return fids


def _gdal_encoding(encoding: str, path: Path) -> str:
    """GDAL's name for a Python codec name (``latin-1`` → ``ISO-8859-1``)."""
    import codecs

    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise InvalidValueError(f"unknown encoding '{encoding}'", source=path) from None
    return {"iso8859-1": "ISO-8859-1", "utf-8": "UTF-8", "cp1252": "CP1252"}.get(
        name, name.upper())


def _read_points_table(
    path: Path, *, encoding: str | None, crs: str | None, x: str | None, y: str | None,
    where: str | None = None,
) -> gpd.GeoDataFrame:
    df = read_table(path, encoding=encoding, where=where)
    require_rows(df, source=path)
    lower = {str(c).lower(): str(c) for c in df.columns}
    xcol = x or next((lower[n] for n in _X_NAMES if n in lower), None)
    ycol = y or next((lower[n] for n in _Y_NAMES if n in lower), None)
    if xcol is None or ycol is None:
        require_columns(df, [x or "lon", y or "lat"], source=path,
                        hint="; name the coordinate columns with 'x' and 'y' in the project file")
    assert xcol is not None and ycol is not None
    require_columns(df, [xcol, ycol], source=path)
    degrees = xcol.lower() in ("lon", "longitude", "lng") or ycol.lower() in ("lat", "latitude")
    if crs is None:
        if not degrees:
            raise CRSError(
                f"coordinates in '{xcol}'/'{ycol}' have no CRS; give 'crs' for the places "
                'in the project file (e.g. crs = "EPSG:3006")',
                source=path,
            )
        crs = "EPSG:4326"
    xs = to_float(df[xcol], source=path, column=xcol)
    ys = to_float(df[ycol], source=path, column=ycol)
    geom = gpd.points_from_xy(xs, ys)
    return gpd.GeoDataFrame(df.drop(columns=[xcol, ycol]), geometry=geom, crs=crs)


def to_float(values: pd.Series, *, source: str | Path | None = None,
             column: str | None = None) -> np.ndarray:
    """Numbers (coordinates, measures) as floats; text or missing values raise.

    Accepts a decimal comma as written by Swedish spreadsheets.

    Examples
    --------
    >>> to_float(pd.Series(["55,6", "13.0"])).tolist()
    [55.6, 13.0]
    """
    if values.dtype.kind in "fiu":
        out = values.to_numpy(dtype=float)
    else:
        cleaned = values.astype("string").str.strip().str.replace(",", ".", regex=False)
        out = pd.to_numeric(cleaned, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(out)
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise InvalidValueError(
            f"value {values.iloc[pos]!r} is not a number", source=source, column=column,
            row=pos + 1,
        )
    return out


def _read_geo(
    path: Path, *, layer: str | None, encoding: str | None, crs: str | None,
    x: str | None = None, y: str | None = None, where: str | None = None,
) -> gpd.GeoDataFrame:
    check_path(path)
    if not path.is_file():
        raise InputFileNotFoundError("file not found", source=path)
    given = _parse_crs(crs, path)
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt", ".tsv", ".parquet", ".pq"):
        check_table_size(path)
        if suffix in (".parquet", ".pq"):
            try:
                geo = gpd.read_parquet(path)
            except (ValueError, ImportError, OSError):
                geo = None  # plain Parquet without geometry: read as a points table
            if geo is not None:
                if where is not None:
                    geo = filter_rows(geo, where, source=path, layer=layer)
                return _with_crs(geo, given, path, layer)
        return _read_points_table(path, encoding=encoding, crs=crs, x=x, y=y, where=where)
    if suffix not in _VECTOR_SUFFIXES:
        raise InvalidValueError(
            f"unknown file type '{suffix}'; expected .gpkg, .geojson, .shp, .csv or .parquet",
            source=path,
        )
    return _with_crs(_read_vector(path, layer=layer, encoding=encoding, where=where), given,
                     path, layer)


def _parse_crs(crs: str | None, path: Path) -> Any:
    """The CRS the project gives for a file, checked (a typo is bad input, not a crash)."""
    if crs is None:
        return None
    from pyproj import CRS
    from pyproj.exceptions import CRSError as ProjCRSError

    try:
        return CRS.from_user_input(crs)
    except ProjCRSError:
        raise CRSError(f"unknown CRS {crs!r} given for this file in the project file (key "
                       "'crs'); write it as e.g. \"EPSG:3006\" or \"EPSG:4326\"",
                       source=path) from None


def _with_crs(gdf: gpd.GeoDataFrame, given: Any, path: Path,
              layer: str | None) -> gpd.GeoDataFrame:
    """Set the project's CRS on a layer without one; refuse one that contradicts the file."""
    if given is None:
        return gdf
    if gdf.crs is None:
        return gdf.set_crs(given)
    if not gdf.crs.equals(given):
        raise CRSError(
            f"the file declares {gdf.crs.to_string()} but the project file says "
            f"crs = {given.to_string()!r}; remove 'crs' (it is only for files without one) "
            "or fix the file", source=path, layer=layer,
        )
    return gdf


def _to_project_crs(
    gdf: gpd.GeoDataFrame, crs: str, *, source: Path, layer: str | None
) -> gpd.GeoDataFrame:
    check_crs(gdf.crs, source=source, layer=layer)
    check_coordinates(gdf.geometry, source=source, layer=layer)  # finite
    valid = ~(gdf.geometry.isna() | gdf.geometry.is_empty)
    if valid.any():
        bounds = tuple(gdf.geometry[valid].total_bounds)
        check_not_degrees(bounds, gdf.crs, source=source, layer=layer)
        check_degrees(bounds, gdf.crs, source=source, layer=layer)
    if gdf.crs is not None and not gdf.crs.equals(crs):
        from pyproj.exceptions import ProjError

        try:
            gdf = gdf.to_crs(crs)
        except ProjError as exc:
            raise CRSError(f"cannot transform from {gdf.crs.to_string()} to {crs}: {exc}",
                           source=source, layer=layer) from None
    # finite after the transformation, and where the project CRS can be used
    check_coordinates(gdf.geometry, crs, source=source, layer=layer)
    return gdf


def read_places(source: PlacesSource | str | Path, *, crs: str = DEFAULT_CRS
                ) -> gpd.GeoDataFrame:
    """Read places into the canonical frame.

    Returns a GeoDataFrame indexed by ``place_id`` (str) with ``name``, ``area_id``
    (str, or missing when unknown), ``population`` (int), and, when present,
    ``area_name``, ``jobs``, ``employed``, ``population_prev``, ``jobs_prev``,
    ``area_ha``; geometry in ``crs``. Where no area column exists and the ids are
    SCB tätort codes, the kommun code is their first four characters.

    Parameters
    ----------
    source
        A :class:`~strukturbild.config.PlacesSource`, or just the file's path.
    crs
        The metric CRS the places are returned in.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = p.write_text("TATORTSKOD,TATORT,KOMMUN,BEF,lat,lon\\n"
    ...                  "0114TC101,Upplands Väsby,0114,47000,59.52,17.91\\n")
    >>> places = read_places(PlacesSource(p))
    >>> places.loc["0114TC101", ["name", "area_id", "population"]].to_dict()
    {'name': 'Upplands Väsby', 'area_id': '0114', 'population': 47000}
    """
    if not isinstance(source, PlacesSource):
        source = PlacesSource(Path(source))
    check_metric(crs)
    path = Path(source.path)
    gdf = _read_geo(path, layer=source.layer, encoding=source.encoding, crs=source.crs,
                    x=source.x, y=source.y, where=source.where)
    layer = source.layer or gdf.attrs.get("layer")
    places = places_from_frame(gdf, columns=source.columns, crs=crs, source=path, layer=layer)
    if source.jobs is not None:
        places, report = join_jobs(places, source.jobs, crs=crs, places_source=path)
        places.attrs["jobs_join"] = report
    return places


#: Place ids listed by name in a join's report, at most.
_LISTED = 100


def join_jobs(places: gpd.GeoDataFrame, source: JobsSource, *, crs: str = DEFAULT_CRS,
              places_source: str | Path | None = None,
              ) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """The places with the ``jobs`` (and ``employed``) of a joined table, and a report.

    The table (:class:`~strukturbild.config.JobsSource`: CSV, Parquet or a vector
    file) is read as every reader reads: codes as text, counts checked (a negative
    or missing count, a code that lost its leading zero, a key twice are bad input
    naming the file, row and column). Its rows are matched to the places:

    1. **by code**: the table's ``key`` column against the places' ids; rows of one
       place split by län or kommun (SCB's file has one row per län for a tätort
       that crosses a län border; columns :data:`JOB_PART_ALIASES`) are added up
       first, an empty count in one part counting as none when another part has one;
    2. **by location**, where the table has polygons (SCB's tätorter of another
       delineation year): a place no code matched takes the row whose polygon holds
       its point. A row that so reaches several places (tätorter merged between the
       years) is shared among them by population.

    Places that neither reaches keep no jobs (missing). The report counts the
    matches, the places left unmatched (and names up to 100 of them) and the rows
    that reached no place.

    Raises
    ------
    ConfigError
        The places already have the column the table gives.
    EmptyInputError
        The table matches none of the places (a wrong ``key``, say).

    Examples
    --------
    >>> import tempfile, pathlib, shapely
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "jobs.csv").write_text("tatort_code,lan_code,dagbef\\n"
    ...     "0319TC103,03,1918\\n0319TC103,21,61\\n0330TC101,03,5000\\n")
    >>> places = gpd.GeoDataFrame({"population": [6593, 200]},
    ...     index=pd.Index(["0319TC103", "0330TB999"], name="place_id"),
    ...     geometry=[shapely.Point(650000, 6660000), shapely.Point(660000, 6650000)],
    ...     crs=3006)
    >>> out, report = join_jobs(places, JobsSource(d / "jobs.csv", key="tatort_code"))
    >>> out["jobs"].tolist(), report["matched_by_code"], report["unmatched"]
    ([1979.0, nan], 1, 1)
    """
    import shapely

    path = Path(source.path)
    table, layer = _read_join_table(source, crs)
    require_rows(table, source=path, layer=layer)
    key = source.key or _find_column(table, "place_id", {}, PLACE_ALIASES)
    require_columns(table, [key or "tatort_code"], source=path, layer=layer,
                    hint="; name the column that holds the place id with key = \"...\" in "
                         "[places] jobs")
    assert key is not None
    found = _job_columns(table, source, key, places, layer=layer,
                         places_source=places_source)
    keys = to_codes(table[key], source=path, layer=layer, column=key)
    _check_job_rows(table, keys, key, path=path, layer=layer)
    summed, n_split = _summed_jobs(table, found, keys, path=path, layer=layer)
    # a code that lost its leading zero (read as a number somewhere on its way)
    ids = pd.Index(places.index.astype(str))
    known = summed.index.isin(ids)
    for code in (str(c) for c in summed.index[~known]):
        if re.fullmatch(r"\d{3}T[A-Z]\d{3}", code) or ("0" + code) in ids:
            row = int(np.flatnonzero(keys.to_numpy() == code)[0])
            raise UnknownCodeError(
                f"code '{code}' looks like a place id that lost its leading zero (expected "
                f"'0{code}'); store codes as text", source=path, layer=layer, column=key,
                row=row + 1)
    polygons = None
    geoms = table.attrs.get("polygons")
    if geoms is not None:
        polygons = gpd.GeoSeries(geoms, crs=crs).groupby(keys.to_numpy(), sort=False).agg(
            lambda g: shapely.union_all(g.to_numpy())).reindex(summed.index)
    out, matches = match_jobs(places, summed, polygons)
    if not matches["matched_by_code"] + matches["matched_by_location"]:
        count = f"{len(ids):,}".replace(",", " ")
        raise EmptyInputError(
            f"the jobs table matches none of the {count} places by its key '{key}' "
            f"(ids like '{summed.index[0]}' there, '{ids[0]}' in the places); give the "
            "right key in [places] jobs", source=path, layer=layer)
    report: dict[str, Any] = {
        "file": path.name,
        "key": key,
        "columns": dict(found),
        "rows": len(table),
        "places_in_table": len(summed),
        "split_rows_summed": n_split,
        **matches,
    }
    if source.licence:
        report["licence"] = source.licence
    if source.where:
        report["where"] = source.where
    return out, report


def _job_columns(table: pd.DataFrame, source: JobsSource, key: str, places: pd.DataFrame, *,
                 layer: str | None, places_source: str | Path | None) -> dict[str, str]:
    """The table's columns of ``jobs`` and ``employed`` (canonical name → column): at
    least one, and none the places have already."""
    path = Path(source.path)
    found: dict[str, str] = {}
    for canonical in ("jobs", "employed"):
        col = _find_column(table, canonical, source.columns, PLACE_ALIASES)
        if canonical in source.columns:
            require_columns(table, [source.columns[canonical]], source=path, layer=layer,
                            hint=f" (mapped from places.jobs.columns.{canonical})")
        if col is not None and col != key:
            found[canonical] = col
    if not found:
        names = ", ".join(PLACE_ALIASES["jobs"][:4])
        require_columns(table, ["jobs"], source=path, layer=layer,
                        hint=f"; a jobs table needs a jobs column ({names}, …) or "
                             "employed residents (nattbef, …); map another name with "
                             "places.jobs.columns.jobs")
    for canonical, col in found.items():
        if canonical in places.columns:
            raise ConfigError(
                f"the places already have '{canonical}' and [places] jobs gives it again "
                f"(column '{col}' of {path.name}); give it once: drop the join or the "
                "places' column", source=places_source or path)
    return found


def _check_job_rows(table: pd.DataFrame, keys: pd.Series, key: str, *, path: Path,
                    layer: str | None) -> None:
    """Refuse a place twice in the same part (län, kommun: :data:`JOB_PART_ALIASES`)."""
    parts = list(dict.fromkeys(
        c for c in (_find_column(table, "part", {}, {"part": (a,)}) for a in JOB_PART_ALIASES)
        if c is not None and c != key))
    ident = pd.DataFrame({"key": keys.to_numpy()})
    for c in parts:
        ident[c] = table[c].astype(object).where(table[c].notna(), "").map(
            lambda v: str(v).strip()).to_numpy()
    dup = ident.duplicated(keep="first").to_numpy()
    if not dup.any():
        return
    pos = int(np.flatnonzero(dup)[0])
    first = int(np.flatnonzero((ident == ident.iloc[pos]).all(axis=1).to_numpy())[0])
    if parts:
        same = ", ".join(f"{c} '{ident[c].iloc[pos]}'" for c in parts)
        why = f"occurs more than once with the same {same} (first at row {first + 1})"
    else:
        why = (f"occurs more than once (first at row {first + 1}); rows of one place "
               "split by län need a lan_code column")
    raise DuplicateIdError(f"place '{keys.iloc[pos]}' {why}", source=path, layer=layer,
                           column=key, row=pos + 1)


def _summed_jobs(table: pd.DataFrame, found: Mapping[str, str], keys: pd.Series, *,
                 path: Path, layer: str | None) -> tuple[pd.DataFrame, int]:
    """The counts of each place, its parts added up (an empty part counts as none where
    another part has a figure), and how many places had several rows."""
    values: dict[str, pd.Series] = {}
    for canonical, col in found.items():
        counts = to_counts(table[col], source=path, layer=layer, column=col,
                           allow_missing=True)
        counts.index = pd.RangeIndex(len(counts))
        have = counts.notna().groupby(keys.to_numpy()).transform("any").to_numpy()
        bad = counts.isna().to_numpy() & ~have
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            raise InvalidValueError(
                f"value is missing for '{keys.iloc[pos]}'; expected a count >= 0 (only a "
                "part of a place split over several rows may be empty)", source=path,
                layer=layer, column=col, row=pos + 1)
        values[canonical] = counts
    frame = pd.DataFrame({c: v.to_numpy() for c, v in values.items()})
    frame["key"] = keys.to_numpy()
    summed = frame.groupby("key", sort=False).sum(min_count=1)
    n_split = int((frame.groupby("key", sort=False).size() > 1).sum())
    return summed, n_split


def match_jobs(places: gpd.GeoDataFrame, table: pd.DataFrame,
               polygons: gpd.GeoSeries | None = None,
               ) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """The places with the counts of ``table`` (indexed by place code), and the matches.

    Each row of ``table`` (columns ``jobs`` and/or ``employed``) reaches the place
    with its code; a place that no code reaches takes the row whose polygon
    (``polygons``, indexed like ``table``, in the places' CRS) holds its point, the
    first such row where polygons overlap. A row that reaches several places is
    shared among them by population (equally where they have none). What
    :func:`join_jobs` does after reading its file, and ``fetch scb`` with SCB's jobs
    per tätort.

    Examples
    --------
    >>> import shapely
    >>> places = gpd.GeoDataFrame({"population": [300, 100, 50]},
    ...     index=pd.Index(["A", "B", "C"], name="place_id"), crs=3006,
    ...     geometry=[shapely.Point(0, 0), shapely.Point(10, 0), shapely.Point(99, 99)])
    >>> table = pd.DataFrame({"jobs": [800.0]}, index=["A2"])
    >>> out, m = match_jobs(places, table, gpd.GeoSeries([shapely.box(-5, -5, 15, 5)],
    ...                                                  index=["A2"], crs=3006))
    >>> out["jobs"].tolist(), m["matched_by_location"], m["unmatched_places"]
    ([600.0, 200.0, nan], 2, ['C'])
    """
    import shapely

    ids = pd.Index(places.index.astype(str))
    row_of = pd.Series(pd.Index(table.index.astype(str)).get_indexer(ids), index=ids)
    by_code = row_of >= 0
    by_location = pd.Series(False, index=ids)
    if polygons is not None and (~by_code).any():
        rest = places.loc[~by_code.to_numpy()]
        geom = rest.geometry
        points = geom.where(geom.geom_type == "Point", geom.representative_point())
        tree = shapely.STRtree(polygons.reindex(table.index).to_numpy())
        pts, hits = tree.query(points.to_numpy(), predicate="within")
        # a point in overlapping polygons takes the first row of the table
        best: dict[int, int] = {}
        for pt, hit in zip(pts.tolist(), hits.tolist(), strict=True):
            best[pt] = min(hit, best.get(pt, hit))
        for pt, hit in best.items():
            pid = str(rest.index[pt])
            row_of[pid] = hit
            by_location[pid] = True
    matched = (row_of >= 0).to_numpy()
    # rows that reach several places share their counts by population
    pop = pd.to_numeric(places["population"], errors="coerce").fillna(0).to_numpy(dtype=float)
    reach = pd.DataFrame({"row": row_of.to_numpy(), "pop": pop})[matched]
    total = reach.groupby("row")["pop"].transform("sum")
    n = reach.groupby("row")["pop"].transform("size")
    weight = np.where(total > 0, reach["pop"] / total.where(total > 0, 1.0), 1.0 / n)
    out = places.copy()
    for col in ("jobs", "employed"):
        if col in table.columns:
            v = np.full(len(out), np.nan)
            v[matched] = table[col].to_numpy(dtype=float)[reach["row"].to_numpy()] * weight
            out[col] = v
    shared = reach.groupby("row").size()
    unmatched = [str(i) for i in ids[~matched]]
    return out, {
        "matched_by_code": int(by_code.sum()),
        "matched_by_location": int(by_location.sum()),
        "location": "polygons" if polygons is not None else "none (the table has no polygons)",
        "rows_shared": int((shared > 1).sum()),
        "unmatched": len(unmatched),
        "unmatched_places": unmatched[:_LISTED],
        "rows_unused": int(len(table) - reach["row"].nunique()),
    }


def _read_join_table(source: JobsSource, crs: str) -> tuple[pd.DataFrame, str | None]:
    """A join table as text columns; its polygons in ``crs`` in ``attrs['polygons']``
    (as a plain array: pandas copies attrs with care for nothing else)."""
    path = Path(source.path)
    check_path(path)
    suffix = path.suffix.lower()
    if suffix in _VECTOR_SUFFIXES:
        if not path.is_file():
            raise InputFileNotFoundError("file not found", source=path)
        gdf = _read_vector(path, layer=source.layer, encoding=source.encoding,
                           where=source.where)
        layer = source.layer or gdf.attrs.get("layer")
        geometry = gdf.geometry if isinstance(gdf, gpd.GeoDataFrame) else None
        table = pd.DataFrame({str(c): gdf[c] for c in gdf.columns
                              if geometry is None or c != geometry.name})
        if geometry is not None and len(gdf):
            kinds = set(geometry.dropna().geom_type)
            if kinds and kinds <= {"Polygon", "MultiPolygon"}:
                check_geometries(geometry, source=path, layer=layer,
                                 kinds=("Polygon", "MultiPolygon"))
                gdf = _repaired(gdf, path, "polygon(s)")
                gdf = _to_project_crs(gdf, crs, source=path, layer=layer)
                table.attrs["polygons"] = gdf.geometry.to_numpy()
        return table, layer
    return read_table(path, encoding=source.encoding, where=source.where), None


def _frame_columns(frame: gpd.GeoDataFrame, what: str, id_name: str,
                   aliases: Mapping[str, tuple[str, ...]], columns: Mapping[str, str] | None,
                   source: str | Path | None, layer: str | None
                   ) -> tuple[gpd.GeoDataFrame, Path, dict[str, str | None]]:
    """A GeoDataFrame of places or areas, checked non-empty, and its canonical columns
    found (an index named ``id_name`` counts as the id column)."""
    path = Path(source) if source is not None else Path(f"<{what} frame>")
    if not isinstance(frame, gpd.GeoDataFrame):
        raise InvalidValueError(f"{what} must be a GeoDataFrame, not {type(frame).__name__}",
                                source=path)
    gdf = frame
    if gdf.index.name == id_name and id_name not in gdf.columns:
        gdf = gdf.reset_index()
    require_rows(gdf, source=path, layer=layer)
    cols = {c: _find_column(gdf, c, columns or {}, aliases) for c in aliases}
    return gdf, path, cols


def _repaired(gdf: gpd.GeoDataFrame, path: Path, what: str) -> gpd.GeoDataFrame:
    """Invalid geometries repaired with :func:`shapely.make_valid`, with a warning that
    names the file, how many and the first row's reason (said once they are repaired)."""
    import shapely

    geoms = gdf.geometry.to_numpy()
    vertices = int(shapely.get_num_coordinates(geoms).sum())
    if vertices <= CHECK_HERE:
        invalid = np.flatnonzero(~shapely.is_valid(geoms))
        if not len(invalid):
            return gdf
        reason = shapely.is_valid_reason(geoms[invalid[0]])
        repaired = _in_child(_repair, geoms[invalid], source=path,
                             what=f"repairing {len(invalid)} invalid {what} (first at row "
                                  f"{invalid[0] + 1}: {reason}) with make_valid")
    else:
        # GEOS's validity check is C too: 4 s for a polygon of a million vertices, in
        # which Ctrl-C waited; so here the check runs in the child as well
        invalid, reason, repaired = _in_child(
            _check_and_repair, geoms, source=path,
            what=f"checking and repairing {len(geoms)} {what} "
                 f"({f'{vertices:,}'.replace(',', ' ')} vertices)")
        if not len(invalid):
            return gdf
    warnings.warn(
        f"{path}: {len(invalid)} invalid "
        f"{'geometry' if what == 'geometries' and len(invalid) == 1 else what} repaired "
        "with make_valid "
        f"(first at row {invalid[0] + 1}: {reason})",
        StrukturbildWarning, stacklevel=3,
    )
    out = geoms.copy()
    out[invalid] = repaired
    return gdf.set_geometry(gpd.GeoSeries(out, index=gdf.index, crs=gdf.crs))


#: Time limit of repairing the invalid geometries of one input, in seconds.
REPAIR_SECONDS = 60.0

#: Vertices of one input up to which its geometries are checked for validity in this
#: process (GEOS: well under a second); more are checked in the repair's child process.
CHECK_HERE = 100_000


def _repair(geoms: np.ndarray) -> np.ndarray:
    import shapely

    return np.asarray(shapely.make_valid(geoms))


def _check_and_repair(geoms: np.ndarray) -> tuple[np.ndarray, str, np.ndarray]:
    """(the positions of the invalid geometries, the first one's reason, their repairs)."""
    import shapely

    invalid = np.flatnonzero(~shapely.is_valid(geoms))
    if not len(invalid):
        return invalid, "", np.empty(0, dtype=object)
    return invalid, str(shapely.is_valid_reason(geoms[invalid[0]])), _repair(geoms[invalid])


def _in_child(work: Callable[[np.ndarray], Any], geoms: np.ndarray, *, source: Path,
              what: str) -> Any:
    """``work(geoms)`` (GEOS's), in a child process that a time limit and Ctrl-C stop.

    GEOS repairs a polygon in C, and neither Ctrl-C nor GEOS's own interrupt request
    reaches that loop (tried: ``GEOS_interruptRequest`` from another thread does not
    stop it). Its work grows with the number of self-intersections, up to the square
    of the vertices: a 320 KB polygon of 20 000 random vertices ran for minutes. So the
    repair runs in a forked child (shapely already loaded, geometries as WKB through a
    pipe, and back), which is killed on Ctrl-C, SIGTERM or past :data:`REPAIR_SECONDS`.
    Where ``fork`` is missing, it runs here, unbounded.
    """
    import multiprocessing
    import time

    import shapely

    if "fork" not in multiprocessing.get_all_start_methods():  # pragma: no cover
        return work(geoms)
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child, args=(work, shapely.to_wkb(geoms), send), daemon=True)
    deadline = time.monotonic() + REPAIR_SECONDS
    child.start()
    send.close()
    try:
        while not receive.poll(0.05):  # a signal's handler runs here
            if not child.is_alive() and not receive.poll(0):
                raise InvalidValueError(f"{what} failed (exit {child.exitcode})",
                                        source=source)
            if time.monotonic() > deadline:
                raise TimeLimitError(
                    f"{what} took longer than {REPAIR_SECONDS:g} s; stopped. Repair the "
                    "geometries in QGIS (Vector ▸ Geometry Tools ▸ Fix Geometries) or "
                    "simplify them", source=source)
        kind, result = receive.recv()
    finally:
        if child.is_alive():
            child.kill()
        child.join()
        receive.close()
    if kind == "error":
        raise InvalidValueError(f"{what} failed: {result}", source=source)
    return _from_wkb(result)


def _child(work: Callable[[np.ndarray], Any], wkb: Any, send: Any) -> None:
    import shapely

    try:
        out: Any = ("ok", _to_wkb(work(shapely.from_wkb(wkb))))
    except Exception as exc:  # said in the parent, as bad input
        out = ("error", f"{type(exc).__name__}: {exc}")
    send.send(out)
    send.close()


def _to_wkb(value: Any) -> Any:
    """Geometry arrays in ``value`` (one, or in a tuple) as WKB, to cross the pipe."""
    import shapely

    if isinstance(value, tuple):
        return tuple(_to_wkb(v) for v in value)
    if isinstance(value, np.ndarray) and value.dtype == object:
        return ("wkb", shapely.to_wkb(value))
    return value


def _from_wkb(value: Any) -> Any:
    import shapely

    if isinstance(value, tuple) and len(value) == 2 and value[0] == "wkb":
        return np.asarray(shapely.from_wkb(value[1]))
    if isinstance(value, tuple):
        return tuple(_from_wkb(v) for v in value)
    return value


def places_from_frame(frame: gpd.GeoDataFrame, *, columns: Mapping[str, str] | None = None,
                      crs: str = DEFAULT_CRS, source: str | Path | None = None,
                      layer: str | None = None) -> gpd.GeoDataFrame:
    """The canonical places frame from a GeoDataFrame, as :func:`read_places` makes it.

    Columns are found as the readers find them (SCB's names such as ``tatortskod``,
    ``tatort``, ``kommun``, ``bef`` are recognised; ``columns`` maps the others); an
    index named ``place_id`` is taken as the id column. The frame is not changed.

    Examples
    --------
    >>> import shapely
    >>> gdf = gpd.GeoDataFrame({"tatortskod": ["0114TC101"], "tatort": ["Upplands Väsby"],
    ...                         "bef": [47000]}, geometry=[shapely.Point(667000, 6595000)],
    ...                        crs="EPSG:3006")
    >>> places_from_frame(gdf).loc["0114TC101", ["name", "area_id"]].tolist()
    ['Upplands Väsby', '0114']
    """
    gdf, path, cols = _frame_columns(frame, "places", "place_id", PLACE_ALIASES,
                                     columns, source, layer)
    for canonical in ("place_id", "name", "population"):
        if cols[canonical] is None or cols[canonical] not in gdf.columns:
            col = cols[canonical] or canonical
            require_columns(
                gdf, [col], source=path, layer=layer,
                hint=f"; map it with places.columns.{canonical} in the project file",
            )
    for canonical, col in (columns or {}).items():
        require_columns(gdf, [col], source=path, layer=layer,
                        hint=f" (mapped from places.columns.{canonical})")
    keep = check_geometries(gdf.geometry, source=path, layer=layer,
                            kinds=("Point", "MultiPoint", "Polygon", "MultiPolygon"))
    assert keep.all()
    gdf = _to_project_crs(gdf, crs, source=path, layer=layer)
    ids = to_codes(gdf[cols["place_id"]], source=path, layer=layer, column=cols["place_id"])
    check_unique(ids, source=path, layer=layer, column=cols["place_id"])
    data: dict[str, Any] = {
        "name": clean_text(gdf[cols["name"]].astype(str).str.strip(), source=path, layer=layer,
                           column=cols["name"]).to_numpy(dtype=object),
    }
    if cols["area_id"] is not None:
        data["area_id"] = to_codes(
            gdf[cols["area_id"]], source=path, layer=layer, column=cols["area_id"], scb=True
        ).to_numpy(dtype=object)
    else:
        scb = ids.str.fullmatch(r"\d{4}T[A-Z]\d{3}")
        data["area_id"] = [i[:4] if ok else None
                           for i, ok in zip(ids, scb.to_numpy(dtype=bool), strict=True)]
    if cols["area_name"] is not None:
        data["area_name"] = clean_text(gdf[cols["area_name"]].astype(str), source=path,
                                       layer=layer, column=cols["area_name"]
                                       ).to_numpy(dtype=object)
    pop = to_counts(gdf[cols["population"]], source=path, layer=layer, column=cols["population"])
    frac = pop.to_numpy() % 1 != 0
    if frac.any():
        pos = int(np.flatnonzero(frac)[0])
        raise InvalidValueError(
            f"population {pop.iloc[pos]} is not a whole number", source=path, layer=layer,
            column=cols["population"], row=pos + 1,
        )
    data["population"] = pop.to_numpy().astype(np.int64)  # whole and <= MAX_COUNT: exact
    for optional in ("jobs", "employed", "population_prev", "jobs_prev", "area_ha"):
        opt = cols[optional]
        if opt is not None:
            data[optional] = to_counts(gdf[opt], source=path, layer=layer, column=opt,
                                       allow_missing=True).to_numpy()
    out = gpd.GeoDataFrame(
        data, geometry=gdf.geometry.to_numpy(), crs=gdf.crs,
        index=pd.Index(ids.to_numpy(dtype=object), name="place_id", dtype=object),
    )
    # A place's kommun must agree with the kommun prefix of an SCB tätort code.
    scb = pd.Series(out.index, index=out.index).str.fullmatch(r"\d{4}T[A-Z]\d{3}")
    if scb.all() and out["area_id"].notna().all():
        bad = out.index.str[:4] != out["area_id"].astype(str)
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            raise InvalidValueError(
                f"kommun code '{out['area_id'].iloc[pos]}' does not match the tätort code "
                f"'{out.index[pos]}' (its first four characters)",
                source=path, layer=layer, column=cols["area_id"], row=pos + 1,
            )
    return out


def read_areas(source: AreasSource | str | Path, *, crs: str = DEFAULT_CRS
               ) -> gpd.GeoDataFrame:
    """Read area polygons (kommuner) into the canonical frame.

    Invalid polygons are repaired with :func:`shapely.make_valid`, with a warning.

    Examples
    --------
    >>> import tempfile, pathlib, shapely
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "k.gpkg"
    >>> gpd.GeoDataFrame({"kommun_code": ["0114"], "kommun_name": ["Upplands Väsby"]},
    ...     geometry=[shapely.box(660000, 6590000, 670000, 6600000)], crs=3006).to_file(p)
    >>> read_areas(AreasSource(p)).loc["0114", "name"]
    'Upplands Väsby'
    """
    if not isinstance(source, AreasSource):
        source = AreasSource(Path(source))
    check_metric(crs)
    path = Path(source.path)
    gdf = _read_geo(path, layer=source.layer, encoding=source.encoding, crs=source.crs,
                    where=source.where)
    layer = source.layer or gdf.attrs.get("layer")
    return areas_from_frame(gdf, columns=source.columns, crs=crs, source=path, layer=layer)


def areas_from_frame(frame: gpd.GeoDataFrame, *, columns: Mapping[str, str] | None = None,
                     crs: str = DEFAULT_CRS, source: str | Path | None = None,
                     layer: str | None = None) -> gpd.GeoDataFrame:
    """The canonical areas frame from a GeoDataFrame, as :func:`read_areas` makes it.

    Examples
    --------
    >>> import shapely
    >>> gdf = gpd.GeoDataFrame({"kommun_code": ["0114"], "kommun_name": ["Upplands Väsby"]},
    ...     geometry=[shapely.box(660000, 6590000, 670000, 6600000)], crs=3006)
    >>> areas_from_frame(gdf).index.tolist()
    ['0114']
    """

    gdf, path, cols = _frame_columns(frame, "areas", "area_id", AREA_ALIASES,
                                     columns, source, layer)
    for canonical in ("area_id", "name"):
        require_columns(gdf, [cols[canonical] or canonical], source=path, layer=layer,
                        hint=f"; map it with areas.columns.{canonical} in the project file")
    check_geometries(gdf.geometry, source=path, layer=layer,
                     kinds=("Polygon", "MultiPolygon"))
    gdf = _repaired(gdf, path, "polygon(s)")
    gdf = _to_project_crs(gdf, crs, source=path, layer=layer)
    ids = to_codes(gdf[cols["area_id"]], source=path, layer=layer, column=cols["area_id"],
                   scb=True)
    check_unique(ids, source=path, layer=layer, column=cols["area_id"])
    data: dict[str, Any] = {
        "name": clean_text(gdf[cols["name"]].astype(str), source=path, layer=layer,
                           column=cols["name"]).to_numpy(dtype=object)}
    rate_col = cols.get("employment_rate")
    if rate_col is not None:
        data["employment_rate"] = _rates(gdf[rate_col], source=path, layer=layer,
                                         column=rate_col)
    return gpd.GeoDataFrame(
        data, geometry=gdf.geometry.to_numpy(), crs=gdf.crs,
        index=pd.Index(ids.to_numpy(dtype=object), name="area_id", dtype=object),
    )


def _rates(values: pd.Series, *, source: Path, layer: str | None, column: str) -> np.ndarray:
    """Employed residents per inhabitant: numbers in (0, 1], or missing."""
    num = pd.to_numeric(values.astype("string").str.strip().str.replace(",", ".", regex=False)
                        if values.dtype == object else values, errors="coerce")
    arr = num.to_numpy(dtype=float)
    given = values.notna().to_numpy() & (values.astype(str).str.strip() != "").to_numpy()
    bad = given & ~((arr > 0) & (arr <= 1))
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise InvalidValueError(
            f"value {values.tolist()[pos]!r} is not an employment rate: expected employed "
            "residents per inhabitant, a number in (0, 1] such as 0.48", source=source,
            layer=layer, column=column, row=pos + 1)
    return np.where(given, arr, np.nan)


#: Geometry types an own layer may hold.
_LAYER_KINDS = ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon",
                "MultiPolygon")


def read_layer(source: LayerSource, *, crs: str = DEFAULT_CRS) -> gpd.GeoDataFrame:
    """Read one of the project's own layers (``[[layers]]``) in ``crs``.

    Points, lines and polygons are kept with their attributes as the file has them
    (filtered by ``where``); features without geometry are bad input, invalid
    polygons are repaired with :func:`shapely.make_valid` (with a warning).

    Examples
    --------
    >>> import tempfile, pathlib, shapely
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "strak.gpkg"
    >>> gpd.GeoDataFrame({"namn": ["Västkuststråket", "Södra stambanan"], "typ": ["A", "B"]},
    ...     geometry=[shapely.LineString([(370000, 6160000), (360000, 6240000)]),
    ...               shapely.LineString([(375000, 6165000), (430000, 6240000)])],
    ...     crs=3006).to_file(p)
    >>> layer = read_layer(LayerSource("Stråk", p, kind="corridor", where="typ = 'A'"))
    >>> layer["namn"].tolist(), str(layer.crs)
    (['Västkuststråket'], 'EPSG:3006')
    """

    check_metric(crs)
    path = Path(source.path)
    gdf = _read_geo(path, layer=source.layer, encoding=source.encoding, crs=source.crs,
                    where=source.where)
    layer = source.layer or gdf.attrs.get("layer")
    require_rows(gdf, source=path, layer=layer)
    check_geometries(gdf.geometry, source=path, layer=layer, kinds=_LAYER_KINDS)
    gdf = _repaired(gdf, path, "geometries")
    gdf = _to_project_crs(gdf, crs, source=path, layer=layer)
    out = gdf.reset_index(drop=True)
    out.attrs = {"layer": layer} if layer else {}
    return out


def read_flows_table(source: FlowsSource) -> pd.DataFrame:
    """Read a long flow table into columns ``origin``, ``destination`` (str) and ``count``.

    Counts are checked (numbers, finite, >= 0); the error names the row.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "f.csv"
    >>> _ = p.write_text("from,to,n\\nA,B,3\\n")
    >>> read_flows_table(FlowsSource(p, columns={"origin": "from", "destination": "to",
    ...                                          "count": "n"})).to_dict("records")
    [{'origin': 'A', 'destination': 'B', 'count': 3.0}]
    """
    path = Path(source.path)
    check_path(path)
    if path.is_file() and path.stat().st_size > FLOWS_CHUNK_BYTES:
        _check_flows_memory(path, source.encoding)
        if source.where is None:
            return _read_flows_chunked(path, source)
    df = read_table(path, encoding=source.encoding, where=source.where)
    return flows_table_from_frame(df, columns=source.columns, source=path)


def read_flows(source: FlowsSource | str | Path, *, units: pd.Index | None = None) -> Flows:
    """Read a long flow table (origin, destination, count) into :class:`Flows`.

    Parameters
    ----------
    source
        A :class:`~strukturbild.config.FlowsSource`, or just the file's path (columns
        found as ``from``/``to``/``n``, ``origin``/``destination``/``count``, SCB's
        ``bostad``/``arbete``/``antal`` …).
    units
        When given, every origin and destination must be one of these ids.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "f.csv"
    >>> _ = p.write_text("from,to,n\\nA,B,3\\nB,A,1\\n")
    >>> read_flows(p).total
    4.0
    """
    if not isinstance(source, FlowsSource):
        source = FlowsSource(Path(source))
    table = read_flows_table(source)
    return Flows.from_frame(table, source=source.path, units=units)


# --------------------------------------------------------------------------- large flow tables
#
# A dense flow table of n places has n² rows (5,000 places: 25 million). Read whole,
# as text, it took four copies of the file and a Python string per cell (7 GB and a
# MemoryError for 25 M rows). Files above FLOWS_CHUNK_BYTES are read in chunks of
# FLOWS_CHUNK_ROWS rows (pandas' CSV reader, Parquet by batches), each checked as
# flows_table_from_frame checks rows, its codes kept once each; before that, the rows
# are estimated from the file's size and a build that would need more memory than
# the machine has is refused, naming the rows and the memory.

#: Flow tables larger than this (bytes) are read in chunks and checked against memory.
FLOWS_CHUNK_BYTES = 64 * 2**20
#: Rows read at a time.
FLOWS_CHUNK_ROWS = 1_000_000
#: Memory a build takes per row of a flow table (bytes; measured: about 500 on a dense
#: table of 1,000 x 1,000 places, reading, the flows, the links and the outputs).
FLOW_ROW_BYTES = 600


def available_memory() -> int:
    """Memory the system can give this process now (bytes): Linux's MemAvailable, else
    the physical memory.

    Examples
    --------
    >>> available_memory() > 0
    True
    """
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    return int(pages) * int(size)


def _sample_rows(path: Path) -> float:
    """Rows of a table estimated from its size and its first MiB (Parquet: its
    metadata)."""
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq  # type: ignore[import-untyped]

        try:
            return float(pq.ParquetFile(path).metadata.num_rows)
        except Exception as exc:
            raise InvalidValueError(f"cannot read Parquet file: {exc}", source=path) from None
    with path.open("rb") as f:
        sample = f.read(2**20)
    size = path.stat().st_size
    wide = sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    if not wide and b"\x00" in sample[:4096]:
        raise InvalidValueError("the file holds NUL bytes: it is not a text table (a UTF-16 "
                                "file needs its byte-order mark, or encoding = \"utf-16-le\")",
                                source=path)
    if size > len(sample) and b"\n" not in sample:
        raise InvalidValueError(f"no line break in the first {len(sample) // 2**20} MiB of "
                                f"{size / 2**20:,.0f} MiB: it is not a CSV table", source=path)
    lines = max(1, sample.count(b"\n"))
    return size * lines / max(1, len(sample))


def _check_flows_memory(path: Path, encoding: str | None) -> None:
    """Refuse a flow table whose build would need more memory than is available."""
    rows = _sample_rows(path)
    need, have = rows * FLOW_ROW_BYTES, available_memory()
    if need > have:
        raise InvalidValueError(
            f"the flow table has about {rows:,.0f} rows: a build with them needs about "
            f"{need / 2**30:.1f} GiB of memory, and {have / 2**30:.1f} GiB is available; "
            "leave out the pairs with no commuters, sum the table to fewer units, or "
            "select rows with [flows] where", source=path)


def _csv_format(path: Path, encoding: str | None) -> tuple[str, str]:
    """The encoding and the delimiter of a CSV file, from its first MiB (as
    :func:`read_table` finds them for a whole file)."""
    with path.open("rb") as f:
        sample = f.read(2**20)
    if encoding is None:
        for bom, codec in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                           (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
            if sample.startswith(bom):
                encoding = codec
                break
        else:
            if sample[:200].count(b"\x00") > len(sample[:200]) // 4:
                raise InvalidValueError("the file looks like UTF-16 without a byte-order "
                                        "mark; save it as UTF-8, or give its encoding "
                                        "(encoding = \"utf-16-le\")", source=path)
            encoding = "utf-8-sig" if _is_utf8(path) else "cp1252"
    first = sample.decode(encoding, errors="replace").splitlines()[0] if sample else ""
    return encoding, max([",", ";", "\t", "|"], key=first.count)


def _flow_chunks(path: Path, encoding: str | None) -> Generator[pd.DataFrame, None, None]:
    """A CSV or Parquet flow table in chunks of text columns (CSV) or as stored."""
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        try:
            with contextlib.closing(pq.ParquetFile(path)) as table:
                for batch in table.iter_batches(batch_size=FLOWS_CHUNK_ROWS):
                    yield batch.to_pandas()
        except GeneratorExit:
            raise
        except Exception as exc:
            raise InvalidValueError(f"cannot read Parquet file: {exc}", source=path) from None
        return
    codec, sep = _csv_format(path, encoding)
    try:
        with pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, na_values=[""],
                         encoding=codec, chunksize=FLOWS_CHUNK_ROWS) as reader:
            for chunk in reader:
                chunk.columns = [str(c).strip() for c in chunk.columns]
                yield chunk.apply(unformula)  # as read_table: the formula guard taken off
    except UnicodeDecodeError as exc:
        raise InvalidValueError(f"cannot read the file as {codec}: {exc}",
                                source=path) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InvalidValueError(f"cannot read CSV: {exc}", source=path) from None


def _is_utf8(path: Path) -> bool:
    """Whether a file is UTF-8 throughout, read 16 MiB at a time (else it is taken as
    Windows-1252, as :func:`read_table` takes it)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as f:
        try:
            while block := f.read(16 * 2**20):
                decoder.decode(block)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return False
    return True


def _read_flows_chunked(path: Path, source: FlowsSource) -> pd.DataFrame:
    """A large flow table read chunk by chunk (see the section comment)."""
    codes: dict[str, int] = {}
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    cols: dict[str, str] = {}
    offset = 0
    # closed (the file too) when a bad row stops the reading
    with contextlib.closing(_flow_chunks(path, source.encoding)) as chunks:
        for chunk in chunks:
            if not cols:
                for canonical in ("origin", "destination", "count"):
                    col = _find_column(chunk, canonical, source.columns or {}, FLOW_ALIASES)
                    require_columns(chunk, [col or canonical], source=path, hint=(
                        f"; map it with flows.columns.{canonical} in the project file"))
                    assert col is not None
                    cols[canonical] = col
            ends = [_chunk_codes(chunk[cols[side]], codes, path, cols[side], offset)
                    for side in ("origin", "destination")]
            count = _chunk_counts(chunk[cols["count"]], path, cols["count"], offset)
            parts.append((ends[0], ends[1], count))
            offset += len(chunk)
    if not parts:
        raise EmptyInputError("the table has no rows", source=path)
    # the codes as categories, sorted as a table read whole would sort them: each code
    # is one string, and a row holds two small numbers (25 M rows: 0.2 GB, not 3 GB)
    names = np.array(list(codes), dtype=object)
    order = np.argsort(names.astype(str), kind="stable")
    rank = np.empty(len(order), dtype=np.int32)
    rank[order] = np.arange(len(order), dtype=np.int32)
    categories = pd.Index(names[order], dtype=object)

    def column(k: int) -> pd.Categorical:
        return pd.Categorical.from_codes(rank[np.concatenate([p[k] for p in parts])],
                                         categories=categories)

    out = pd.DataFrame({"origin": column(0), "destination": column(1),
                        "count": np.concatenate([p[2] for p in parts])})
    out.attrs["columns"] = cols
    return out


def _chunk_codes(values: pd.Series, codes: dict[str, int], path: Path, column: str,
                 offset: int) -> np.ndarray:
    """A chunk's codes as numbers into ``codes`` (grown as new codes come), checked as
    :func:`~strukturbild._validate.to_codes` checks them."""
    if not pd.api.types.is_string_dtype(values.dtype):  # Parquet: numbers, say
        values = pd.Series(to_codes(values, source=path, column=column).to_numpy(),
                           dtype=object)
    text = values.str.strip()
    bad = (values.isna() | (text == "")).to_numpy()
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        what = "code is missing" if pd.isna(values.iloc[pos]) else "code is empty"
        raise InvalidValueError(what, source=path, column=column, row=offset + pos + 1)
    labels, uniques = pd.factorize(text)
    ids = np.array([codes.setdefault(str(u), len(codes)) for u in uniques], dtype=np.int64)
    out: np.ndarray = ids[labels]
    return out


def _chunk_counts(values: pd.Series, path: Path, column: str, offset: int) -> np.ndarray:
    """A chunk's counts, checked as :func:`~strukturbild._validate.to_counts` checks
    them (the first bad row raises, numbered in the whole table)."""
    arr = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        try:
            to_counts(values.iloc[pos:pos + 1].reset_index(drop=True), source=path,
                      column=column)
        except InvalidValueError as exc:
            raise InvalidValueError(exc.message, source=path, column=column,
                                    row=offset + pos + 1) from None
    return arr


def flows_table_from_frame(frame: pd.DataFrame, *, columns: Mapping[str, str] | None = None,
                           source: str | Path | None = None) -> pd.DataFrame:
    """A long flow table with columns ``origin``, ``destination`` and ``count``, checked.

    Columns are found as :func:`read_flows_table` finds them (``from``/``to``/``n``,
    SCB's ``bostad``/``arbete``/``antal``, …); ``columns`` maps the others.

    Examples
    --------
    >>> flows_table_from_frame(pd.DataFrame({"from": ["A"], "to": ["B"], "n": [2]}))["count"]
    0    2.0
    Name: count, dtype: float64
    """
    path = Path(source) if source is not None else Path("<flows frame>")
    df = frame
    require_rows(df, source=path)
    cols: dict[str, str] = {}
    for canonical in ("origin", "destination", "count"):
        col = _find_column(df, canonical, columns or {}, FLOW_ALIASES)
        require_columns(df, [col or canonical], source=path,
                        hint=f"; map it with flows.columns.{canonical} in the project file")
        assert col is not None
        cols[canonical] = col
    out = pd.DataFrame({
        "origin": to_codes(df[cols["origin"]], source=path, column=cols["origin"]).to_numpy(),
        "destination": to_codes(df[cols["destination"]], source=path,
                                column=cols["destination"]).to_numpy(),
        "count": to_counts(df[cols["count"]], source=path, column=cols["count"]).to_numpy(),
    })
    out.attrs["columns"] = cols  # the file's own names, for messages about later checks
    return out


def to_jsonable(obj: Any) -> Any:
    """Plain JSON values from dataclasses, paths, numpy scalars, dicts and sequences.

    Non-finite floats become ``None`` (JSON has no NaN).

    Examples
    --------
    >>> to_jsonable({"p": Path("a/b"), "x": np.float64(1.5), "n": float("nan"), "t": (1, 2)})
    {'p': 'a/b', 'x': 1.5, 'n': None, 't': [1, 2]}
    """
    import dataclasses
    import math

    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Path):
        return obj.as_posix()
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


# --------------------------------------------------------------------------- designations

#: Designation lists shipped with the package: name → file in ``strukturbild/data``.
BUILTIN_DESIGNATIONS = {"region_skane_2022": "designations_region_skane_2022.csv"}

_DESIGNATION_COLUMNS = ("place_id", "name", "designation", "role", "source", "year")


def read_designations(name_or_path: str | Path) -> pd.DataFrame:
    """Read a designation list: a shipped one by name, or a CSV file.

    The CSV has the columns ``place_id`` (may be empty when ``name`` is unique),
    ``name``, ``designation`` (the official wording, e.g. "regional kärna"),
    ``role`` (the scheme role it pins, or empty for a designation that pins none),
    ``source`` and ``year``, and optionally ``group``: rows with the same group
    designate their places *jointly*, as one (Region Skåne's joint growth engine
    "Kristianstad–Hässleholm"); the group is the joint designation's name; and
    optionally ``fallback_role``: the role a row pins under a scheme that lacks its
    ``role`` (the shipped ``region_skane_2022`` pins ``tillvaxtmotor``, a role of
    Region Skåne's scheme; under the default scheme its growth engines pin
    ``regional_karna``, as Region Skåne's plan also designates them).

    Examples
    --------
    >>> d = read_designations("region_skane_2022")
    >>> sorted(d.loc[d["designation"] == "tillväxtmotor", "name"])
    ['Helsingborg', 'Hässleholm', 'Kristianstad', 'Lund', 'Malmö']
    >>> sorted(set(d["group"]) - {""})
    ['Kristianstad–Hässleholm']
    >>> sorted(set(d.loc[d["role"] == "tillvaxtmotor", "fallback_role"]))
    ['regional_karna']
    """
    if isinstance(name_or_path, str) and name_or_path in BUILTIN_DESIGNATIONS:
        ref = resources.files("strukturbild") / "data" / BUILTIN_DESIGNATIONS[name_or_path]
        with resources.as_file(ref) as p:
            df = read_table(p)
        source: str | Path = f"designation list '{name_or_path}'"
    else:
        path = Path(name_or_path)
        if not path.is_file():
            known = ", ".join(sorted(BUILTIN_DESIGNATIONS))
            raise InputFileNotFoundError(
                f"designation file not found (shipped lists: {known})", source=path
            )
        df = read_table(path)
        source = path
    require_rows(df, source=source)
    require_columns(df, _DESIGNATION_COLUMNS, source=source)
    columns = [*_DESIGNATION_COLUMNS, "group", "fallback_role"]
    df = df.assign(**{c: df[c] if c in df.columns else "" for c in columns[-2:]}
                   ).loc[:, columns].copy()
    for col in columns:
        df[col] = df[col].astype(object).where(df[col].notna(), "")
        df[col] = clean_text(df[col].map(lambda v: str(v).strip()), source=source, column=col)
    for i, row in enumerate(df.itertuples(index=False), start=1):
        if not row.designation:
            raise ConfigError("designation is empty", source=source, column="designation",
                              row=i)
        if not row.place_id and not row.name:
            raise ConfigError("give place_id or name", source=source, row=i)
    df.attrs["source"] = str(source)
    return df
