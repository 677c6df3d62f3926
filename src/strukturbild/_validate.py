"""The shared input checks, called by every reader and public function.

Each check names where the problem is (file, layer, column, row) and raises one of
the errors in :mod:`strukturbild.errors`. Row numbers are 1-based data rows, as a
user sees them in a spreadsheet without the header.
"""

from __future__ import annotations

import functools
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
            err = MissingColumnError(
                f"required column is missing; the file has: {have}{hint}",
                source=source,
                layer=layer,
                column=col,
            )
            err.available = have
            raise err


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
            _refuse_invisible(cats, values, source=source, layer=layer, column=column)
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
            out_text = pd.Series(text.to_numpy(dtype=object), index=values.index,
                                 name=values.name, dtype=object)
            _refuse_invisible(pd.Series(pd.unique(out_text.to_numpy())), out_text,
                              source=source, layer=layer, column=column)
            return out_text
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
    codes = pd.Series(out, index=values.index, name=values.name, dtype=object)
    _refuse_invisible(pd.Series(pd.unique(codes.to_numpy())), codes, source=source,
                      layer=layer, column=column)
    return codes


def _refuse_invisible(unique: pd.Series, codes: pd.Series, *, source: Source,
                      layer: str | None, column: str | None) -> None:
    """Refuse codes (``unique``, each once) with a control character or a bidirectional
    mark: an id is matched, not read, so it is refused rather than cleaned as names
    are (:func:`clean_text`); as it was, ``regions`` wrote "Ö\\x1b[31m…" into its CSV
    for the terminal to run, and a U+202E made an id read backwards."""
    if not len(unique):
        return
    text = unique.astype(str)
    bad = text.str.contains(_CONTROL) | text.str.contains(_BIDI)
    if not bool(bad.any()):
        return
    code = str(text[bad.to_numpy()].iloc[0])
    char = (_CONTROL.search(code) or _BIDI.search(code))
    assert char is not None
    row = int(np.flatnonzero((codes.astype(str) == code).to_numpy())[0]) + 1
    raise InvalidValueError(
        f"code {code!r} holds the invisible character U+{ord(char.group()):04X} (a "
        "control character or bidirectional mark); an id is letters, digits and "
        "punctuation", source=source, layer=layer, column=column, row=row)


#: The largest count one row may hold: a place's population, jobs, employed residents
#: or area in hectares, or one flow. No place on Earth has 10⁸ inhabitants (Tokyo's
#: metropolitan area has under 4·10⁷; Sweden 1.05·10⁷), and 10⁸ ha is 1 000 000 km²,
#: twice Sweden. A larger value is a typing or unit error (or an attack), never data.
MAX_COUNT = 10**8
#: The largest sum of one column of counts: below 2⁵³, every whole number is exact
#: as a float, so sums of counts (totals, shares, links) stay exact.
MAX_TOTAL = 2**53


def to_counts(
    values: pd.Series,
    *,
    source: Source = None,
    layer: str | None = None,
    column: str | None = None,
    allow_missing: bool = False,
    limit: float = MAX_COUNT,
) -> pd.Series:
    """Numbers that must be finite, >= 0 and at most ``limit``, as float.

    The first bad row raises :class:`InvalidValueError` naming the file, column and
    row. ``limit`` is :data:`MAX_COUNT` (10⁸) by default, and the column's sum must
    stay below :data:`MAX_TOTAL` (2⁵³), so that whole counts stay exact in sums.

    Examples
    --------
    >>> to_counts(pd.Series(["3", "4.5"])).tolist()
    [3.0, 4.5]
    >>> to_counts(pd.Series(["3", "-1"]), source="f.csv", column="n")
    Traceback (most recent call last):
    ...
    strukturbild.errors.InvalidValueError: f.csv: column 'n', row 2: value -1 is negative; ...
    >>> to_counts(pd.Series(["3", "1e20"]), source="f.csv", column="n")
    Traceback (most recent call last):
    ...
    strukturbild.errors.InvalidValueError: f.csv: column 'n', row 2: value 1e+20 is larger ...
    """
    num = pd.to_numeric(values, errors="coerce").astype(float)
    arr = num.to_numpy()
    bad = np.isnan(arr) | ~(arr >= 0) | (arr > limit)
    if allow_missing:
        raw_missing = values.isna().to_numpy() | values.map(
            lambda r: isinstance(r, str) and r.strip() == "").to_numpy(dtype=bool)
        bad &= ~raw_missing
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        x = arr[i]
        if math.isnan(x):
            r = values.iloc[i]
            missing = r is None or r is pd.NA or (isinstance(r, float) and math.isnan(r)) or (
                isinstance(r, str) and r.strip() == ""
            )
            msg = ("value is missing" if missing else f"value {r!r} is not a number") + \
                "; expected a count >= 0"
        elif not math.isfinite(x):
            msg = f"value {x} is not finite; expected a count >= 0"
        elif x < 0:
            msg = f"value {x:g} is negative; counts must be >= 0"
        else:
            msg = (f"value {x:g} is larger than any count can be (at most "
                   f"{f'{limit:,.0f}'.replace(',', ' ')}); check the column and its unit")
        raise InvalidValueError(msg, source=source, layer=layer, column=column, row=i + 1)
    total = float(np.nansum(arr))
    if total >= MAX_TOTAL:
        raise InvalidValueError(
            f"the values add up to {total:.3g}, more than counts can (below 2^53 = "
            f"{MAX_TOTAL:.3g}, where whole numbers stay exact)",
            source=source, layer=layer, column=column)
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


#: Characters no name may keep, replaced by a space: the C0 controls (tab, line
#: feed and carriage return too: a name is one line), DEL, the C1 controls
#: (U+0080–U+009F, which XML 1.1 and terminals take as commands) and the line and
#: paragraph separators U+2028/U+2029. Most are not allowed in XML 1.0 (and so not in
#: SVG, QML or GeoPackage metadata); none can be shown on a map.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
#: Invisible formatting characters that reorder or hide text (bidirectional
#: embeddings, overrides, isolates and marks, U+061C, U+200E/F, U+202A–U+202E,
#: U+2066–U+2069), removed: "\u202e" makes a label read backwards.
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def clean_text(values: pd.Series, *, source: Source = None, layer: str | None = None,
               column: str | None = None) -> pd.Series:
    """Text with control characters made spaces and bidirectional controls removed.

    Names, titles and labels are one line of visible text: a vertical tab from Word,
    a NUL, a line break (LF, CR), a C1 control (U+0080–U+009F) or a line separator
    becomes a space (runs of spaces are made one), and the invisible bidirectional
    controls (U+202E, which shows text backwards, and its kin) are removed. Such
    characters would make the SVG, the QGIS styles and the GeoPackage metadata
    invalid XML, or show text that is not there; a warning names the column, the
    first row and how many values changed. Missing values stay missing.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     clean_text(pd.Series(["Stor\\x0bby", "Lund\\r\\n", "Y\\x85stad\\u202e"]),
    ...                column="name").tolist()
    ['Stor by', 'Lund', 'Y stad']
    """
    text = values.astype(object)

    def dirty(v: object) -> bool:
        return isinstance(v, str) and bool(_CONTROL.search(v) or _BIDI.search(v))

    bad = text.map(dirty).astype(bool)
    if not bad.any():
        return values
    pos = int(np.flatnonzero(bad.to_numpy())[0])
    message = StrukturbildError(
        f"{int(bad.sum())} value(s) held control characters (a vertical tab, NUL, line "
        "break, C1 control or bidirectional override, say), replaced by spaces",
        source=source, layer=layer, column=column, row=pos + 1)
    warnings.warn(str(message), StrukturbildWarning, stacklevel=3)
    return text.where(~bad, text[bad].map(
        lambda v: " ".join(_CONTROL.sub(" ", _BIDI.sub("", v)).split())))


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
    """Raise :class:`CRSError` unless ``crs`` is projected in metres, and sane.

    Sane: a test point (the centre of the CRS's area of use, else of Sweden) goes
    into the CRS and back, finite, within a metre, and 1 km on the ground is between
    100 m and 10 km in the CRS. A PROJ string with a scale factor of ``k=1e-300`` is
    metric and projected, yet nothing can be drawn in it.

    Examples
    --------
    >>> check_metric("EPSG:3006")
    >>> check_metric("EPSG:4326", source="project.toml")
    Traceback (most recent call last):
    ...
    strukturbild.errors.CRSError: project.toml: the project CRS EPSG:4326 is not projected in me...
    >>> check_metric("+proj=tmerc +lon_0=15 +k=1e-300 +x_0=500000 +ellps=GRS80 +units=m")
    Traceback (most recent call last):
    ...
    strukturbild.errors.CRSError: the project CRS '+proj=tmerc +lon_0=15 +k=1e-300 +x_0=500000 ...
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
    problem = _insane(c.to_wkt())
    if problem:
        raise CRSError(f"the project CRS {crs!r} cannot be used: {problem}; use a metric CRS "
                       "such as EPSG:3006 (SWEREF 99 TM)", source=source)


#: Sweden's centre (longitude, latitude): the test point of a CRS without an area of use.
_SWEDEN_CENTRE = (16.0, 62.0)
#: No coordinate of a projected CRS lies farther than this (metres) from its origin: the
#: Earth's circumference is 40 075 km, false eastings and northings add at most 10⁷ m.
MAX_METRES = 5e7


@functools.lru_cache(maxsize=16)
def _insane(wkt: str) -> str:
    """Why a projected metric CRS (as WKT) cannot be used, or "" when it can."""
    from pyproj import CRS, Transformer
    from pyproj.exceptions import ProjError

    c = CRS.from_wkt(wkt)
    area = c.area_of_use
    lon, lat = _SWEDEN_CENTRE if area is None else (
        (area.west + area.east) / 2, (area.south + area.north) / 2)
    if area is not None and area.west > area.east:  # crosses the antimeridian
        lon = ((area.west + area.east + 360) / 2 + 180) % 360 - 180
    try:
        fwd = Transformer.from_crs("EPSG:4326", c, always_xy=True)
        x, y = fwd.transform(lon, lat, errcheck=True)
        x2, y2 = fwd.transform(lon, lat + 0.009, errcheck=True)  # about 1 km north
        back = fwd.transform(x, y, direction="INVERSE", errcheck=True)
    except ProjError as exc:
        return f"PROJ cannot transform into it ({str(exc).split(': (')[-1].rstrip(')')})"
    values = (x, y, x2, y2, *back)
    if not all(math.isfinite(v) for v in values) or max(abs(x), abs(y)) > MAX_METRES:
        return f"the point {lon:g}° E {lat:g}° N falls at ({x:.6g}, {y:.6g})"
    step = math.hypot(x2 - x, y2 - y)
    if not 100 <= step <= 10_000:
        return f"1 km on the ground is {step:.3g} m in it"
    if abs(back[0] - lon) > 1e-5 or abs(back[1] - lat) > 1e-5:
        return (f"the point {lon:g}° E {lat:g}° N does not come back from it (it comes back "
                f"as {back[0]:.6g}, {back[1]:.6g})")
    return ""


@functools.lru_cache(maxsize=16)
def crs_bounds(wkt: str) -> tuple[float, float, float, float]:
    """Where coordinates in a projected CRS (given as WKT) can lie: ``(minx, miny,
    maxx, maxy)``.

    The CRS's area of use, projected, with a margin of half its larger side all
    around: for EPSG:3006 (SWEREF 99 TM, made for Sweden) x from −618 to 1 886 km and
    y from 5 291 to 8 489 km, about 48° to 76° N, so that places across the borders
    (Oslo, Copenhagen, Helsinki) fit. A CRS without an area of use: :data:`MAX_METRES`
    each way.

    Examples
    --------
    >>> from pyproj import CRS
    >>> [round(v / 1000) for v in crs_bounds(CRS("EPSG:3006").to_wkt())]
    [-618, 5291, 1886, 8489]
    """
    from pyproj import CRS, Transformer
    from pyproj.exceptions import ProjError

    c = CRS.from_wkt(wkt)
    whole = (-MAX_METRES, -MAX_METRES, MAX_METRES, MAX_METRES)
    area = c.area_of_use
    if area is None:
        return whole
    try:
        fwd = Transformer.from_crs("EPSG:4326", c, always_xy=True)
        x0, y0, x1, y1 = fwd.transform_bounds(*area.bounds, densify_pts=21)
    except ProjError:
        return whole
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        return whole
    margin = max(x1 - x0, y1 - y0) / 2
    return (max(x0 - margin, -MAX_METRES), max(y0 - margin, -MAX_METRES),
            min(x1 + margin, MAX_METRES), min(y1 + margin, MAX_METRES))


def check_coordinates(geoms: Any, crs: Any = None, *, source: Source = None,
                      layer: str | None = None, ids: Sequence[Any] | None = None) -> None:
    """Raise unless every coordinate is finite and, in a projected ``crs``, where the
    CRS can be used (:func:`crs_bounds`).

    A point at ``inf`` or ``1e12`` is a broken file, not a place: it would make every
    map, scale and distance meaningless. The error names the first bad row.

    Raises
    ------
    InvalidGeometryError
        A coordinate is not finite (``inf``, ``nan``).
    CRSError
        A coordinate lies far outside the CRS's area of use.

    Examples
    --------
    >>> import shapely
    >>> check_coordinates([shapely.Point(500000, 6500000)], "EPSG:3006")
    >>> check_coordinates([shapely.Point(1e12, 1e12)], "EPSG:3006", source="p.gpkg")
    Traceback (most recent call last):
    ...
    strukturbild.errors.CRSError: p.gpkg: row 1: the coordinates (1e+12, 1e+12) lie far outsi...
    """
    import shapely
    from pyproj import CRS

    arr = np.asarray(geoms, dtype=object)
    coords, index = shapely.get_coordinates(arr, return_index=True)
    if not len(coords):
        return

    def row(k: int) -> int | str:
        pos = int(index[k])
        return pos + 1 if ids is None else f"{pos + 1} (id {ids[pos]})"

    finite = np.isfinite(coords).all(axis=1)
    if not finite.all():
        k = int(np.flatnonzero(~finite)[0])
        raise InvalidGeometryError(
            f"a coordinate is not a finite number ({coords[k, 0]:g}, {coords[k, 1]:g})",
            source=source, layer=layer, row=row(k))
    if crs is None:
        return
    c = CRS.from_user_input(crs)
    if not c.is_projected:
        return
    x0, y0, x1, y1 = crs_bounds(c.to_wkt())
    out = (coords[:, 0] < x0) | (coords[:, 0] > x1) | (coords[:, 1] < y0) | (coords[:, 1] > y1)
    if out.any():
        k = int(np.flatnonzero(out)[0])
        raise CRSError(
            f"the coordinates ({coords[k, 0]:.6g}, {coords[k, 1]:.6g}) lie far outside where "
            f"{c.name} can be used (x from {x0:.0f} to {x1:.0f}, y from {y0:.0f} to {y1:.0f} "
            f"m); the point or the CRS is wrong ({int(out.sum())} coordinate(s) outside)",
            source=source, layer=layer, row=row(k))


#: The largest table (CSV, or Parquet uncompressed) read whole, in MiB. Reading a CSV
#: takes about eight times its size in memory (the bytes, the decoded text, the parsed
#: cells), so a table at the limit needs about 2 GB; the largest real inputs (SCB's
#: commuting between all 290 kommuner, a tätort-level table) are a few MiB.
MAX_TABLE_MB = 256


def check_table_size(path: str | Path, *, limit_mb: float | None = None) -> None:
    """Refuse a CSV or Parquet table larger than ``limit_mb`` MiB (default
    :data:`MAX_TABLE_MB`), before reading it.

    A CSV counts by its size on disk, a Parquet file by its uncompressed size (from
    its metadata, read without the data).

    Raises
    ------
    InvalidValueError
        Naming the file, its size and the limit.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "f.csv"
    >>> _ = p.write_text("origin,destination,count\\n" + "A,B,1\\n" * 200_000)
    >>> check_table_size(p)
    >>> check_table_size(p, limit_mb=1)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    strukturbild.errors.InvalidValueError: ...f.csv: the table is 1.1 MiB, more than the 1 MiB...
    """
    limit = MAX_TABLE_MB if limit_mb is None else limit_mb
    p = Path(path)
    size = float(p.stat().st_size)
    what = "the table is"
    if p.suffix.lower() in (".parquet", ".pq"):
        try:
            import pyarrow.parquet as pq  # type: ignore[import-untyped]

            meta = pq.read_metadata(p)
            size = float(sum(meta.row_group(i).total_byte_size
                             for i in range(meta.num_row_groups)))
            what = "the table holds, uncompressed,"
        except Exception:  # not Parquet after all: the reader says so
            pass
    if size > limit * 2**20:
        raise InvalidValueError(
            f"{what} {f'{size / 2**20:,.1f}'.replace(',', ' ')} MiB, more than the "
            f"{limit:g} MiB strukturbild reads whole (it would need about eight times "
            "that in memory); select the rows you need first (a län, flows of 10 and "
            "more), or aggregate them", source=p)


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
