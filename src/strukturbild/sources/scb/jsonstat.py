"""JSON-stat 2.0 answers, read field by field into a long table.

**JSON-stat 2.0** (https://json-stat.org/format/): a ``dataset`` with ``id``,
``size``, ``dimension[id].category.index``/``label`` and a flat ``value`` array in
row-major order (the last dimension varies fastest); ``status`` marks suppressed
cells (SCB uses ``".."``). Metadata documents also carry
``dimension[id].extension.elimination`` and ``eliminationValueCode``
(``PxTools/PxApiSpecs``, ``examples/table-metadata-example-jsonstat.json``).

Every field a number is read from is checked (:mod:`.answers`): a malformed answer is
a :class:`~strukturbild.errors.FetchError` naming the URL and the field, never a
silent wrong number; the **cube** an answer claims is capped before anything is
allocated.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ...errors import FetchError
from .answers import (
    bad_field,
    count_value,
    describe,
    int_value,
    list_value,
    many,
    mapping_value,
    text_value,
)

__all__ = ["MAX_CELLS", "MAX_DIMS", "decode_jsonstat2"]

#: The largest JSON-stat cube read, whatever ``/config`` says: 10 million cells (SCB's
#: maxDataCells is 150 000; queries are split below it, so no answer needs more).
MAX_CELLS = 10_000_000
#: The most dimensions (variables) of a table read: SCB's tables have fewer than ten,
#: and PxWeb queries name each one.
MAX_DIMS = 32


def _dim_ids(doc: Mapping[str, Any], source: str | None) -> list[str]:
    raw = list_value(doc.get("id"), source=source, field="id")
    if len(raw) > MAX_DIMS:  # numpy's arrays have at most 64 dimensions, too
        raise bad_field(source, "id", f"the answer has {len(raw):,} dimensions, more than "
                                      f"the {MAX_DIMS} a table may have")
    ids = [text_value(d, source=source, field=f"id[{i}]") for i, d in enumerate(raw)]
    if len(set(ids)) != len(ids):
        dup = next(d for d in ids if ids.count(d) > 1)
        raise bad_field(source, "id", f"the dimension '{dup}' is listed twice")
    return ids


def _category_codes(dims: Mapping[str, Any], dim: str, size: int | None,
                    source: str | None) -> list[str]:
    """A dimension's category codes in index order, checked against its size."""
    where = f"dimension.{dim}"
    entry = mapping_value(dims.get(dim), source=source, field=where)
    cat = mapping_value(entry.get("category"), source=source, field=f"{where}.category")
    idx = cat.get("index")
    f_idx = f"{where}.category.index"
    if idx is None:
        codes = [str(k) for k in mapping_value(cat.get("label"), source=source,
                                               field=f"{where}.category.label")]
    elif isinstance(idx, list):
        codes = [text_value(c, source=source, field=f"{f_idx}[{i}]") for i, c in enumerate(idx)]
    elif isinstance(idx, Mapping):
        n = len(idx)
        pos = {str(k): int_value(v, source=source, field=f"{f_idx}.{k}", low=0, high=n - 1)
               for k, v in idx.items()}
        if len(set(pos.values())) != n:
            raise bad_field(source, f_idx, "two categories share a position; expected the "
                                           f"positions 0 to {n - 1} once each")
        codes = sorted(pos, key=pos.__getitem__)
    else:
        raise bad_field(source, f_idx, f"expected a list or an object, got {describe(idx)}")
    if size is not None and len(codes) != size:
        raise bad_field(source, f_idx, f"has {len(codes)} categories but 'size' says {size}")
    if len(set(codes)) != len(codes):
        dup = next(c for c in codes if codes.count(c) > 1)
        raise bad_field(source, f_idx, f"the category '{dup}' is listed twice")
    return codes


def _cell_value(v: Any, *, source: str | None, field: str, counts: bool) -> float:
    if v is None:
        return math.nan
    if counts:
        return float(count_value(v, source=source, field=field))
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise bad_field(source, field, f"expected a number or null, got {describe(v)}")
    return float(v)


def _cell_index(key: Any, total: int, *, source: str | None, field: str) -> int:
    text = str(key)
    if not text.isascii() or not text.isdigit() or int(text) >= total:
        raise bad_field(source, f"{field}.{text[:20]}", f"expected a cell index from 0 to "
                        f"{total - 1}, got {describe(key)}")
    return int(text)


def _jsonstat(doc: Any, *, source: str | None, max_cells: int,
              counts: bool) -> tuple[pd.DataFrame, list[str], list[list[str]]]:
    if not isinstance(doc, Mapping) or doc.get("class") != "dataset":
        raise FetchError("the answer is not a JSON-stat 2.0 dataset (no \"class\": \"dataset\")",
                         source=source)
    ids = _dim_ids(doc, source)
    raw_sizes = list_value(doc.get("size"), source=source, field="size")
    if len(raw_sizes) != len(ids):
        raise bad_field(source, "size", f"has {len(raw_sizes)} entries for {len(ids)} "
                                        "dimensions ('id')")
    sizes = [int_value(s, source=source, field=f"size[{i}]") for i, s in enumerate(raw_sizes)]
    total = math.prod(sizes)
    if total > max_cells:  # before anything of that size is made
        raise bad_field(source, "size", f"the answer claims {many(total)} cells "
                        f"({' × '.join(map(str, sizes))}), more than the {max_cells:,} "
                        "allowed (maxDataCells); refused before reading the values")
    dims = mapping_value(doc.get("dimension"), source=source, field="dimension")
    codes = [_category_codes(dims, d, n, source) for d, n in zip(ids, sizes, strict=True)]

    values = _cell_values(doc.get("value"), total, source=source, counts=counts)
    status = _cell_status(doc.get("status"), total, source=source)
    pos = np.unravel_index(np.arange(total), sizes) if total else [np.array([], int)] * len(ids)
    out: dict[str, Any] = {}
    for d, c, p in zip(ids, codes, pos, strict=True):
        out[d] = np.asarray(c, dtype=object)[p]
    out["value"] = values
    frame = pd.DataFrame(out)
    frame["status"] = pd.Series(status, index=frame.index, dtype=object)
    return frame, ids, codes


def _cell_values(raw: Any, total: int, *, source: str | None, counts: bool
                 ) -> np.ndarray[Any, Any]:
    """The cube's ``value``: dense (a list of every cell) or sparse (cell index → value)."""
    values = np.full(total, np.nan)
    if isinstance(raw, list):
        if len(raw) != total:
            raise bad_field(source, "value", f"has {len(raw):,} values for {total:,} cells")
        for i, v in enumerate(raw):
            values[i] = _cell_value(v, source=source, field=f"value[{i}]", counts=counts)
    elif isinstance(raw, Mapping):
        for k, v in raw.items():
            i = _cell_index(k, total, source=source, field="value")
            values[i] = _cell_value(v, source=source, field=f"value.{k}", counts=counts)
    elif raw is not None or total:
        raise bad_field(source, "value", f"expected a list or an object, got {describe(raw)}")
    return values


def _cell_status(st: Any, total: int, *, source: str | None) -> list[str | None]:
    """The cube's ``status``: one symbol for every cell, a list, or cell index → symbol."""
    status: list[str | None] = [None] * total
    if isinstance(st, str):
        status = [st] * total
    elif isinstance(st, list):
        if len(st) > total:
            raise bad_field(source, "status", f"has {len(st):,} entries for {total:,} cells")
        for i, s in enumerate(st):
            if s is not None:
                status[i] = text_value(s, source=source, field=f"status[{i}]")
    elif isinstance(st, Mapping):
        for k, s in st.items():
            i = _cell_index(k, total, source=source, field="status")
            status[i] = None if s is None else text_value(s, source=source, field=f"status.{k}")
    elif st is not None:
        raise bad_field(source, "status", f"expected text, a list or an object, got "
                                          f"{describe(st)}")
    return status


def decode_jsonstat2(doc: Mapping[str, Any], *, source: str | None = None,
                     max_cells: int = MAX_CELLS, counts: bool = False) -> pd.DataFrame:
    """A JSON-stat 2.0 dataset as a long table: one column of codes per dimension.

    Columns: the dimension ids (category codes, str), ``value`` (float, NaN for a
    missing cell) and ``status`` (the cell's status symbol, e.g. ``".."``, or None).
    Values are in row-major order, the last dimension varying fastest (JSON-stat 2.0,
    "value"); both the dense (array) and the sparse (object) forms are read.

    Every field is checked (types, index ranges, sizes); a malformed document is a
    :class:`FetchError` naming ``source`` and the field. A cube of more than
    ``max_cells`` cells is refused before anything is allocated. With ``counts``,
    every value must be a whole number of people (0 to
    :data:`~strukturbild.sources.scb.answers.MAX_PEOPLE`).

    Examples
    --------
    >>> doc = {"version": "2.0", "class": "dataset", "id": ["A", "B"], "size": [2, 2],
    ...        "dimension": {"A": {"category": {"index": {"x": 0, "y": 1}}},
    ...                      "B": {"category": {"index": ["p", "q"]}}},
    ...        "value": [1, 2, None, 4], "status": {"2": ".."}}
    >>> df = decode_jsonstat2(doc)
    >>> df[["A", "B"]].to_dict("list")
    {'A': ['x', 'x', 'y', 'y'], 'B': ['p', 'q', 'p', 'q']}
    >>> df["value"].tolist(), df["status"].tolist()
    ([1.0, 2.0, nan, 4.0], [None, None, '..', None])
    >>> decode_jsonstat2({**doc, "value": [1, "2", None, 4]}, source="https://x/data")
    Traceback (most recent call last):
    ...
    strukturbild.errors.FetchError: https://x/data: field 'value[1]': expected a number or ...
    """
    return _jsonstat(doc, source=source, max_cells=max_cells, counts=counts)[0]

