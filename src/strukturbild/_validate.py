"""The shared input checks, called by every reader and public function.

Each check names where the problem is (file, layer, column, row) and raises one of
the errors in :mod:`strukturbild.errors`. Row numbers are 1-based data rows, as a
user sees them in a spreadsheet without the header.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from .errors import (
    CRSError,
    DuplicateIdError,
    EmptyInputError,
    InvalidGeometryError,
    InvalidValueError,
    MissingColumnError,
    StrukturbildError,
    StrukturbildWarning,
    UnknownCodeError,
)

OnInvalid = Literal["raise", "warn", "drop"]
Source = str | Path | None


def report(
    error: Exception, *, on_invalid: OnInvalid = "raise"
) -> None:
    """Raise ``error``, or turn it into a warning, as the policy says.

    ``"drop"`` is handled by the caller (it removes the rows) and warns here.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     report(ValueError("bad"), on_invalid="warn")
    >>> str(w[0].message)
    'bad'
    """
    if on_invalid == "raise":
        raise error
    warnings.warn(str(error), StrukturbildWarning, stacklevel=3)


def require_columns(
    frame: pd.DataFrame,
    columns: Iterable[str],
    *,
    source: Source = None,
    layer: str | None = None,
    hint: str = "",
) -> None:
    """Raise :class:`MissingColumnError` for the first required column not in ``frame``.

    Examples
    --------
    >>> require_columns(pd.DataFrame({"a": [1]}), ["a"])
    >>> require_columns(pd.DataFrame({"a": [1]}), ["b"], source="t.csv")
    Traceback (most recent call last):
    ...
    strukturbild.errors.MissingColumnError: t.csv: column 'b': required column is missing; the f...
    """
    for col in columns:
        if col not in frame.columns:
            have = ", ".join(str(c) for c in frame.columns if c != "geometry") or "(none)"
            raise MissingColumnError(
                f"required column is missing; the file has: {have}{hint}",
                source=source,
                layer=layer,
                column=col,
            )


def require_rows(frame: pd.DataFrame, *, source: Source = None, layer: str | None = None) -> None:
    """Raise :class:`EmptyInputError` when ``frame`` has no rows.

    Examples
    --------
    >>> require_rows(pd.DataFrame({"a": []}), source="x.gpkg", layer="places")
    Traceback (most recent call last):
    ...
    strukturbild.errors.EmptyInputError: x.gpkg: layer 'places': the input has no rows
    """
    if len(frame) == 0:
        raise EmptyInputError("the input has no rows", source=source, layer=layer)


def _row_label(frame: pd.DataFrame | pd.Series, pos: int) -> int:
    return pos + 1


def check_unique(
    values: pd.Series,
    *,
    source: Source = None,
    layer: str | None = None,
    column: str | None = None,
) -> None:
    """Raise :class:`DuplicateIdError` for the first value that occurs twice.

    Examples
    --------
    >>> check_unique(pd.Series(["a", "b", "a"]), column="id")
    Traceback (most recent call last):
    ...
    strukturbild.errors.DuplicateIdError: column 'id', row 3: id 'a' occurs more than once (firs...
    """
    dup = values.duplicated(keep="first").to_numpy()
    if dup.any():
        pos = int(np.flatnonzero(dup)[0])
        val = values.iloc[pos]
        first = int(np.flatnonzero((values == val).to_numpy())[0])
        raise DuplicateIdError(
            f"id '{val}' occurs more than once (first at row {first + 1}); ids must be unique",
            source=source,
            layer=layer,
            column=column,
            row=pos + 1,
        )


def to_codes(
    values: pd.Series,
    *,
    source: Source = None,
    layer: str | None = None,
    column: str | None = None,
    scb: bool = False,
) -> pd.Series:
    """Codes as strings, as written; missing codes raise.

    With ``scb=True`` the codes are SCB area codes, which have 2 digits (län) or 4
    digits (kommun): a code of 1 or 3 digits is one that lost its leading zero, for
    example when the column was read as a number, and raises. Other ids (places,
    foreign units such as ``"001"``) are kept as they are; :func:`check_known` spots
    a lost zero there by comparing with the known ids.

    Examples
    --------
    >>> to_codes(pd.Series(["0114", "1280"])).tolist()
    ['0114', '1280']
    >>> to_codes(pd.Series([114, 1280]), source="k.csv", column="kommun", scb=True)
    Traceback (most recent call last):
    ...
    strukturbild.errors.UnknownCodeError: k.csv: column 'kommun', row 1: code '114' has 3 digits...
    """
    if isinstance(values.dtype, pd.CategoricalDtype) and len(values):
        # a large flow table read in chunks: its codes are the categories, each once
        cats = pd.Series(values.cat.categories)
        clean = not values.isna().any() and all(isinstance(c, str) for c in cats) and \
            bool((cats.str.strip() == cats).all() & (cats != "").all())
        if clean and not (scb and bool((cats.str.isdigit()
                                        & cats.str.len().isin([1, 3])).any())):
            return values
        values = values.astype(object)
    if pd.api.types.is_string_dtype(values.dtype) and len(values):
        # text throughout (CSV): checked and stripped column-wise; a bad row is found
        # by the loop below (a Python string per row costs seconds for millions)
        text = values.str.strip()
        ok = values.notna() & (text != "")
        if scb:
            ok &= ~(text.str.isdigit() & text.str.len().isin([1, 3]))
        if bool(ok.all()) and all(isinstance(v, str) for v in values.head(1)):
            return pd.Series(text.to_numpy(dtype=object), index=values.index,
                             name=values.name, dtype=object)
    out: list[str] = []
    for i, v in enumerate(values.tolist()):
        if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
            raise InvalidValueError(
                "code is missing", source=source, layer=layer, column=column, row=i + 1
            )
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        s = str(v).strip()
        if s == "":
            raise InvalidValueError(
                "code is empty", source=source, layer=layer, column=column, row=i + 1
            )
        if scb and s.isdigit() and len(s) in (1, 3):
            kind = "kommun" if len(s) == 3 else "län"
            raise UnknownCodeError(
                f"code '{s}' has {len(s)} digit{'s' if len(s) > 1 else ''}: it looks like a "
                f"{kind} code that lost its leading zero (expected '{s.zfill(len(s) + 1)}'); "
                "store codes as text",
                source=source,
                layer=layer,
                column=column,
                row=i + 1,
            )
        out.append(s)
    return pd.Series(out, index=values.index, name=values.name, dtype=object)


def to_counts(
    values: pd.Series,
    *,
    source: Source = None,
    layer: str | None = None,
    column: str | None = None,
    allow_missing: bool = False,
) -> pd.Series:
    """Numbers that must be finite and >= 0, as float; the first bad row raises.

    Examples
    --------
    >>> to_counts(pd.Series(["3", "4.5"])).tolist()
    [3.0, 4.5]
    >>> to_counts(pd.Series(["3", "-1"]), source="f.csv", column="n")
    Traceback (most recent call last):
    ...
    strukturbild.errors.InvalidValueError: f.csv: column 'n', row 2: value -1 is negative; ...
    """
    num = pd.to_numeric(values, errors="coerce").astype(float)
    arr = num.to_numpy()
    if bool((np.isfinite(arr) & (arr >= 0)).all()):  # the common case, without a loop
        return pd.Series(arr, index=values.index, name=values.name)
    raw = values.tolist()
    for i in range(len(arr)):
        x = arr[i]
        if math.isnan(x):
            r = raw[i]
            missing = r is None or r is pd.NA or (isinstance(r, float) and math.isnan(r)) or (
                isinstance(r, str) and r.strip() == ""
            )
            if missing and allow_missing:
                continue
            msg = "value is missing" if missing else f"value {r!r} is not a number"
            raise InvalidValueError(
                msg + "; expected a count >= 0", source=source, layer=layer, column=column,
                row=i + 1,
            )
        if not math.isfinite(x):
            raise InvalidValueError(
                f"value {x} is not finite", source=source, layer=layer, column=column, row=i + 1
            )
        if x < 0:
            raise InvalidValueError(
                f"value {x:g} is negative; counts must be >= 0",
                source=source,
                layer=layer,
                column=column,
                row=i + 1,
            )
    return pd.Series(arr, index=values.index, name=values.name)


def check_known(
    values: pd.Series,
    known: pd.Index | Sequence[Any],
    *,
    what: str,
    source: Source = None,
    column: str | None = None,
) -> None:
    """Raise :class:`UnknownCodeError` for the first value not in ``known``.

    Examples
    --------
    >>> check_known(pd.Series(["a", "x"]), pd.Index(["a", "b"]), what="place", column="origin")
    Traceback (most recent call last):
    ...
    strukturbild.errors.UnknownCodeError: column 'origin', row 2: unknown place 'x' (1 unknown i...
    >>> check_known(pd.Series(["114"]), ["0114"], what="kommun")
    Traceback (most recent call last):
    ...
    strukturbild.errors.UnknownCodeError: row 1: unknown kommun '114', but '0114' is known: ...
    """
    idx = pd.Index(known)
    bad = ~values.isin(idx).to_numpy()
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        n = int(bad.sum())
        value = str(values.iloc[pos])
        known_set = set(idx)
        padded = next((value.zfill(w) for w in range(len(value) + 1, len(value) + 3)
                       if value.isdigit() and value.zfill(w) in known_set), None)
        if padded is not None:
            raise UnknownCodeError(
                f"unknown {what} '{value}', but '{padded}' is known: the code lost its "
                f"leading zero ({n} unknown in all); store codes as text",
                source=source, column=column, row=pos + 1,
            )
        sample = ", ".join(str(x) for x in list(idx[:3]))
        raise UnknownCodeError(
            f"unknown {what} '{value}' ({n} unknown in all); known are e.g. {sample}",
            source=source,
            column=column,
            row=pos + 1,
        )


#: Characters that are not allowed in XML 1.0 (and so not in SVG, QML or GeoPackage
#: metadata) or that no map can show: C0 controls other than tab, newline, return.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(values: pd.Series, *, source: Source = None, layer: str | None = None,
               column: str | None = None) -> pd.Series:
    """Text with control characters (a vertical tab from Word, a NUL) made spaces.

    Such characters would make the SVG, the QGIS styles and the GeoPackage metadata
    invalid XML; a warning names the column, the first row and how many values
    changed. Missing values stay missing.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     clean_text(pd.Series(["Stor\\x0bby", "Lund"]), column="name").tolist()
    ['Stor by', 'Lund']
    """
    text = values.astype(object)
    is_str = text.map(lambda v: isinstance(v, str))
    bad = is_str & text.map(lambda v: isinstance(v, str) and bool(_CONTROL.search(v)))
    if not bad.any():
        return values
    pos = int(np.flatnonzero(bad.to_numpy())[0])
    message = StrukturbildError(
        f"{int(bad.sum())} value(s) held control characters (a vertical tab or NUL, say), "
        "replaced by spaces", source=source, layer=layer, column=column, row=pos + 1)
    warnings.warn(str(message), StrukturbildWarning, stacklevel=3)
    return text.where(~bad, text[bad].map(lambda v: " ".join(_CONTROL.sub(" ", v).split())))


def check_crs(
    crs: Any, *, source: Source = None, layer: str | None = None
) -> None:
    """Raise :class:`CRSError` when a layer has no CRS.

    Examples
    --------
    >>> check_crs(None, source="p.geojson")
    Traceback (most recent call last):
    ...
    strukturbild.errors.CRSError: p.geojson: the layer has no CRS; set it in the file or give 'c...
    """
    if crs is None:
        raise CRSError(
            "the layer has no CRS; set it in the file or give 'crs' in the project file "
            '(e.g. "EPSG:3006" or "EPSG:4326")',
            source=source,
            layer=layer,
        )


def check_not_degrees(
    bounds: Sequence[float], crs: Any, *, source: Source = None, layer: str | None = None
) -> None:
    """Raise :class:`CRSError` when a projected (metre) layer holds degree-sized coordinates.

    ``bounds`` is ``(minx, miny, maxx, maxy)`` in the layer's declared CRS.

    Examples
    --------
    >>> from pyproj import CRS
    >>> check_not_degrees((12.5, 55.3, 14.5, 56.5), CRS("EPSG:3006"), source="t.gpkg")
    Traceback (most recent call last):
    ...
    strukturbild.errors.CRSError: t.gpkg: coordinates lie between (12.5, 55.3) and (14.5, 56.5):...
    """
    from pyproj import CRS

    c = CRS.from_user_input(crs)
    if not c.is_projected:
        return
    minx, miny, maxx, maxy = bounds
    if all(math.isfinite(v) for v in bounds) and -180 <= minx <= maxx <= 180 and (
        -90 <= miny <= maxy <= 90
    ):
        name = c.to_string()
        raise CRSError(
            f"coordinates lie between ({minx:g}, {miny:g}) and ({maxx:g}, {maxy:g}): that looks "
            f"like longitude/latitude in degrees, but the layer declares {name} in metres; "
            "declare EPSG:4326 instead",
            source=source,
            layer=layer,
        )


def check_degrees(
    bounds: Sequence[float], crs: Any, *, source: Source = None, layer: str | None = None
) -> None:
    """Raise :class:`CRSError` when a layer in degrees holds metre-sized coordinates.

    ``bounds`` is ``(minx, miny, maxx, maxy)`` in the layer's declared (or defaulted)
    geographic CRS.

    Examples
    --------
    >>> check_degrees((12.5, 55.3, 14.5, 56.5), "EPSG:4326")
    >>> check_degrees((373000, 6160000, 441000, 6250000), "EPSG:4326", source="t.csv")
    Traceback (most recent call last):
    ...
    strukturbild.errors.CRSError: t.csv: x values up to 4.41e+05 are not degrees: ...
    """
    from pyproj import CRS

    c = CRS.from_user_input(crs)
    if not c.is_geographic:
        return
    minx, miny, maxx, maxy = (float(v) for v in bounds)
    if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)):
        return
    x = max(abs(minx), abs(maxx))
    y = max(abs(miny), abs(maxy))
    if x <= 180 and y <= 90:
        return
    axis, value = ("x", x) if x > 180 else ("y", y)
    raise CRSError(
        f"{axis} values up to {value:.3g} are not degrees: the layer is read as "
        f"{c.to_string()} (longitude/latitude) but its coordinates look like metres; give "
        "its metric CRS instead (crs = \"EPSG:3006\" for SWEREF 99 TM)",
        source=source, layer=layer,
    )


def check_metric(crs: Any, *, source: Source = None) -> None:
    """Raise :class:`CRSError` unless ``crs`` is projected with metre units.

    Examples
    --------
    >>> check_metric("EPSG:3006")
    >>> check_metric("EPSG:4326", source="project.toml")
    Traceback (most recent call last):
    ...
    strukturbild.errors.CRSError: project.toml: the project CRS EPSG:4326 is not projected in me...
    """
    from pyproj import CRS
    from pyproj.exceptions import CRSError as ProjCRSError

    try:
        c = CRS.from_user_input(crs)
    except ProjCRSError:
        raise CRSError(f"unknown CRS {crs!r}", source=source) from None
    unit = c.axis_info[0].unit_name if c.axis_info else ""
    if not c.is_projected or unit not in ("metre", "meter"):
        raise CRSError(
            f"the project CRS {crs} is not projected in metres; use a metric CRS such as "
            "EPSG:3006 (SWEREF 99 TM)",
            source=source,
        )


def check_geometries(
    geoms: Any,
    *,
    source: Source = None,
    layer: str | None = None,
    ids: Sequence[Any] | None = None,
    kinds: tuple[str, ...] = (),
    on_invalid: OnInvalid = "raise",
) -> np.ndarray:
    """Check geometries are present, non-empty, of the expected kind and valid.

    Returns a boolean mask of the rows to keep (all, unless ``on_invalid="drop"``).
    Invalid polygons are not repaired here; the reader repairs them with
    :func:`shapely.make_valid` where that is the policy.

    Examples
    --------
    >>> import shapely
    >>> check_geometries([shapely.Point(0, 0), None], source="p.gpkg", on_invalid="raise")
    Traceback (most recent call last):
    ...
    strukturbild.errors.InvalidGeometryError: p.gpkg: row 2: geometry is missing
    """
    import shapely

    arr = np.asarray(geoms, dtype=object)
    keep = np.ones(len(arr), dtype=bool)
    missing = shapely.is_missing(arr) | shapely.is_empty(arr)
    for pos in np.flatnonzero(missing):
        row: int | str = int(pos) + 1 if ids is None else f"{int(pos) + 1} (id {ids[int(pos)]})"
        report(
            InvalidGeometryError("geometry is missing", source=source, layer=layer, row=row),
            on_invalid=on_invalid,
        )
        keep[pos] = False
    if kinds:
        types = shapely.get_type_id(arr)
        names = np.array(["Point", "LineString", "LinearRing", "Polygon", "MultiPoint",
                          "MultiLineString", "MultiPolygon", "GeometryCollection"])
        for pos in np.flatnonzero(~missing):
            t = names[types[pos]]
            if t not in kinds:
                row = int(pos) + 1 if ids is None else f"{int(pos) + 1} (id {ids[int(pos)]})"
                report(
                    InvalidGeometryError(
                        f"geometry is a {t}; expected {' or '.join(kinds)}",
                        source=source, layer=layer, row=row,
                    ),
                    on_invalid=on_invalid,
                )
                keep[pos] = False
    return keep
