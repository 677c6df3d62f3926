"""Tables written as CSV, atomically, all or none, safe to open in a spreadsheet."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from .._files import OutputSet

__all__ = ["write_tables"]

#: A text cell a spreadsheet would run as a formula (CWE-1236): = + - @, tab, CR.
_FORMULA = re.compile(r"^[=+\-@\t\r]")
_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$")


def _neutralise(value: object) -> object:
    """Prefix ``'`` to text a spreadsheet would evaluate (numbers stay as they are).

    Examples
    --------
    >>> [_neutralise(v) for v in ["=1+2", "-12.5", "@SUM(A1)", "Malmö", 3]]
    ["'=1+2", '-12.5', "'@SUM(A1)", 'Malmö', 3]
    """
    if isinstance(value, str) and _FORMULA.match(value) and not _NUMBER.match(value):
        return "'" + value
    return value


def write_tables(tables: Sequence[tuple[str | Path, pd.DataFrame, bool]], *,
                 inputs: Iterable[str | Path] = ()) -> list[Path]:
    """Write CSV files (UTF-8, ``\\n``), all or none: ``(path, frame, index)`` each.

    No output may be an input or another output (:func:`~strukturbild._files.check_outputs`).
    Text cells that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``
    first) are written with a leading ``'``, as OWASP advises for CSV files.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> out = write_tables([(d / "t.csv", pd.DataFrame({"a": ["=HYPERLINK(1)"]}), False)])
    >>> out[0].read_text()
    "a\\n'=HYPERLINK(1)\\n"
    """
    targets = [Path(p) for p, _, _ in tables]
    with OutputSet(targets, inputs=inputs) as out:
        for path, frame, index in tables:
            safe = frame.copy()
            for col in safe.columns:
                if pd.api.types.is_object_dtype(safe[col]) or \
                        pd.api.types.is_string_dtype(safe[col]):
                    safe[col] = safe[col].map(_neutralise)
            if index and (pd.api.types.is_object_dtype(safe.index)
                          or pd.api.types.is_string_dtype(safe.index)):
                safe.index = safe.index.map(_neutralise)
            safe.to_csv(out.stage(Path(path)), index=index, encoding="utf-8",
                        lineterminator="\n")
    return targets
