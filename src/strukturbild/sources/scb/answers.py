"""Checks on the fields of SCB's answers, so that a malformed answer is never a number.

Every field a number or a code is read from is checked for its type and range; a bad
one is a :class:`~strukturbild.errors.FetchError` (exit 2 on the command line) naming
the URL and the field as a path into the document, e.g. ``value[17]``,
``dimension.Tid.category.index`` or ``features[3].properties.bef``. JSON's ``true``
is never a number here, and neither is the text ``"12"`` where a number is expected.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ...errors import FetchError

__all__ = [
    "MAX_DEPTH",
    "MAX_PEOPLE",
    "bad_field",
    "count_value",
    "describe",
    "int_value",
    "list_value",
    "loads",
    "many",
    "mapping_value",
    "nesting",
    "text_value",
]

#: More people than live in Sweden (10.6 million in 2024), with room to spare: no count
#: of inhabitants or commuters in SCB's answers can exceed it, so one that does is an error.
MAX_PEOPLE = 20_000_000


def describe(value: Any) -> str:
    """A short description of a JSON value for an error message.

    Examples
    --------
    >>> describe(True), describe("12"), describe(1e300), describe(None), describe([1, 2])
    ('true', "the text '12'", '1e+300', 'null', 'a list')
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
        return f"the text {text!r}"
    if isinstance(value, int | float):
        return f"{value:g}" if isinstance(value, float) else str(value)
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def many(n: int) -> str:
    """A count for a message: 1,234,567, or 1e+300 when it is absurdly long.

    Examples
    --------
    >>> many(1234567), many(10**300), many(27 * 10**400)
    ('1,234,567', '1e+300', 'about 10^401')
    """
    if n < 10**15:
        return f"{n:,}"
    if n < 10**308:
        return f"{float(n):.3g}"
    return f"about 10^{len(str(n)) - 1}"  # beyond a float (a product of claimed sizes)


def bad_field(source: str | None, field: str, message: str) -> FetchError:
    """The error for a malformed field of an answer.

    Examples
    --------
    >>> str(bad_field("https://x/data", "value[3]", "expected a number, got true"))
    "https://x/data: field 'value[3]': expected a number, got true"
    """
    return FetchError(f"field '{field}': {message}", source=source)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


#: The deepest nesting of lists and objects read in an answer. SCB's answers nest a few
#: levels (JSON-stat 2.0: 5; GeoJSON MultiPolygons: 8), so 64 leaves room while a
#: document nested 200 000 deep is refused before it is parsed.
MAX_DEPTH = 64
_BRACKET = np.zeros(256, dtype=bool)
_BRACKET[list(b"[]{}")] = True
_OPENING = np.zeros(256, dtype=bool)
_OPENING[list(b"[{")] = True
_BLOCK = 1 << 24


def _where(arr: np.ndarray[Any, Any], test: Any) -> np.ndarray[Any, Any]:
    """The positions where ``test`` holds, found block by block (small temporaries)."""
    found = [np.flatnonzero(test(arr[i:i + _BLOCK])) + i for i in range(0, len(arr), _BLOCK)]
    return np.concatenate(found) if found else np.zeros(0, dtype=np.intp)


def nesting(data: bytes) -> int:
    r"""The deepest nesting of lists and objects in a JSON text, strings skipped.

    Hand-written because :mod:`json` only stops at the interpreter's recursion limit
    (a ``RecursionError``, deep in the C scanner), after reading up to it. This scan
    is linear and vectorised (numpy): the quotes that are not escaped delimit the
    strings, and the brackets outside them are counted. Text that is not JSON gets
    some number: the parser then says what is wrong with it.

    Examples
    --------
    >>> nesting(b'{"a": [1, {"b": "[[[["}]}'), nesting(b"1"), nesting(b"[" * 9)
    (3, 0, 9)
    >>> nesting(rb'["a \\", [[]]]'), nesting(rb'["a \"[[", []]')
    (3, 2)
    """
    arr = np.frombuffer(data, dtype=np.uint8)
    quotes = _where(arr, lambda b: b == ord('"'))
    after_backslash = quotes[quotes > 0]
    after_backslash = after_backslash[arr[after_backslash - 1] == ord("\\")]
    if len(after_backslash):  # rare: an odd run of backslashes escapes the quote
        escaped = np.zeros(len(quotes), dtype=bool)
        for i, q in zip(np.searchsorted(quotes, after_backslash).tolist(),
                        after_backslash.tolist(), strict=True):
            j = q - 1
            while j >= 0 and data[j] == ord("\\"):
                j -= 1
            escaped[i] = (q - 1 - j) % 2 == 1
        quotes = quotes[~escaped]
    brackets = _where(arr, lambda b: _BRACKET[b])
    outside = brackets[(np.searchsorted(quotes, brackets) & 1) == 0]
    if not len(outside):
        return 0
    steps = np.where(_OPENING[arr[outside]], 1, -1).astype(np.int32)
    return max(0, int(np.cumsum(steps).max()))


def loads(data: bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse JSON strictly: ``NaN`` and ``Infinity`` (which Python accepts) are errors,
    and so is nesting deeper than ``max_depth`` (checked before parsing).

    Raises :class:`ValueError`.

    Examples
    --------
    >>> loads(b'{"a": [1, 2.5]}')
    {'a': [1, 2.5]}
    >>> loads(b'[NaN]')
    Traceback (most recent call last):
    ...
    ValueError: NaN is not a JSON number
    >>> loads(b"[" * 200_000 + b"]" * 200_000)
    Traceback (most recent call last):
    ...
    ValueError: the JSON document is nested 200,000 deep, more than the 64 levels allowed
    """
    depth = nesting(data)
    if depth > max_depth:
        raise ValueError(f"the JSON document is nested {depth:,} deep, more than the "
                         f"{max_depth} levels allowed")
    try:
        return json.loads(data.decode("utf-8-sig"), parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError("the JSON document is nested too deeply") from None


def mapping_value(value: Any, *, source: str | None, field: str) -> Mapping[str, Any]:
    """``value`` if it is a JSON object, else a :func:`bad_field` error."""
    if not isinstance(value, Mapping):
        raise bad_field(source, field, f"expected an object, got {describe(value)}")
    return value


def list_value(value: Any, *, source: str | None, field: str) -> list[Any]:
    """``value`` if it is a JSON list, else a :func:`bad_field` error."""
    if not isinstance(value, list):
        raise bad_field(source, field, f"expected a list, got {describe(value)}")
    return value


def text_value(value: Any, *, source: str | None, field: str) -> str:
    """``value`` if it is a non-empty JSON string, else a :func:`bad_field` error.

    Examples
    --------
    >>> text_value(1280, source="u", field="kommun")
    Traceback (most recent call last):
    ...
    strukturbild.errors.FetchError: u: field 'kommun': expected text, got 1280
    """
    if not isinstance(value, str) or not value.strip():
        raise bad_field(source, field, f"expected text, got {describe(value)}")
    return value


def int_value(value: Any, *, source: str | None, field: str, low: int = 0,
              high: int | None = None) -> int:
    """``value`` as an int if it is a whole JSON number in ``[low, high]``.

    Examples
    --------
    >>> int_value(3.0, source="u", field="size[0]")
    3
    >>> int_value(True, source="u", field="size[0]")
    Traceback (most recent call last):
    ...
    strukturbild.errors.FetchError: u: field 'size[0]': expected a whole number, got true
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad_field(source, field, f"expected a whole number, got {describe(value)}")
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        raise bad_field(source, field, f"expected a whole number, got {describe(value)}")
    n = int(value)
    if n < low or (high is not None and n > high):
        bound = f"from {low:,} to {high:,}" if high is not None else f"of at least {low:,}"
        raise bad_field(source, field, f"expected a whole number {bound}, got {describe(value)}")
    return n


def count_value(value: Any, *, source: str | None, field: str,
                high: int = MAX_PEOPLE) -> int:
    """A count of people: a whole JSON number from 0 to ``high`` (:data:`MAX_PEOPLE`).

    Examples
    --------
    >>> count_value(1200, source="u", field="bef")
    1200
    >>> count_value(1e300, source="u", field="bef")
    Traceback (most recent call last):
    ...
    strukturbild.errors.FetchError: u: field 'bef': expected a count of people (a whole ...
    """
    if isinstance(value, bool) or not isinstance(value, int | float) or (
            isinstance(value, float) and not (math.isfinite(value) and value.is_integer())) \
            or not 0 <= value <= high:
        raise bad_field(source, field, f"expected a count of people (a whole number from 0 to "
                                       f"{high:,}), got {describe(value)}")
    return int(value)
