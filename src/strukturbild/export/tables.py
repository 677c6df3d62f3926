"""Tables written as CSV, atomically, all or none, safe to open in a spreadsheet."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from .._files import OutputSet, write_csv

__all__ = ["write_tables"]

def write_tables(tables: Sequence[tuple[str | Path, pd.DataFrame, bool]], *,
                 inputs: Iterable[str | Path] = ()) -> list[Path]:
    """Write CSV files (UTF-8, ``\\n``), all or none: ``(path, frame, index)`` each.

    No output may be an input or another output (:func:`~strukturbild._files.check_outputs`).
    Text cells that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``
    first) are written with a leading ``'``, as OWASP advises for CSV files: the rule
    of every CSV strukturbild writes (:func:`~strukturbild._files.csv_text`).

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
            write_csv(frame, out.stage(Path(path)), index=index)
    return targets
