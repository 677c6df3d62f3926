"""SCB's PxWebApi 2: the API's limits, table metadata, and data split under the cell limit.

**PxWebApi 2** (Statistics Sweden's statistical database API). The endpoints and
their query parameters follow the PxTools reference implementation
(``PxTools/PxWebApi``, ``LinkCreator.cs``): ``GET {base}/config``,
``GET {base}/tables/{id}/metadata?lang=sv&outputFormat=json-stat2`` and
``POST {base}/tables/{id}/data?lang=sv&outputFormat=json-stat2`` with the body
``{"selection": [{"variableCode": ..., "valueCodes": [...]}, ...]}``. The
``/config`` document (``PxTools/PxApiSpecs``, ``examples/config-response.json``)
gives ``maxDataCells``, ``maxCallsPerTimeWindow`` and ``timeWindow`` (seconds).
SCB's base URL is ``https://statistikdatabasen.scb.se/api/v2`` (the beta was
``https://api.scb.se/OV0104/v2beta/api/v2``). SCB answers a query with too many
cells with HTTP 403 ("Felmeddelandet HTTP 403 Forbidden markerar att maxvärdet
är överskridet", scb.se, *Öppna data*), and too many calls with HTTP 429.

The answers are JSON-stat 2.0 (:mod:`.jsonstat`); the HTTP is :mod:`.httpclient`.
"""

from __future__ import annotations

import math
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ...errors import FetchError
from .answers import bad_field, describe, int_value, list_value, mapping_value, text_value
from .httpclient import HttpFetcher, RateLimiter
from .jsonstat import MAX_CELLS, _category_codes, _dim_ids, _jsonstat, decode_jsonstat2

__all__ = ["DEFAULT_API_URL", "ApiLimits", "PxWebClient", "TableMeta", "split_selection"]

#: SCB's PxWebApi 2 (production; the beta lived at api.scb.se/OV0104/v2beta/api/v2).
DEFAULT_API_URL = "https://statistikdatabasen.scb.se/api/v2"


@dataclass(frozen=True)
class ApiLimits:
    """The API's limits from its ``/config`` document.

    Missing, null or zero values fall back to conservative defaults (100 000 cells,
    10 calls per 10 seconds: SCB's published limits for its first API); a value of
    the wrong type is an error naming the field. ``maxDataCells`` above
    :data:`MAX_CELLS` is lowered to it (queries are split below it anyway).

    Examples
    --------
    >>> ApiLimits.from_config({"maxDataCells": 150000, "maxCallsPerTimeWindow": 30,
    ...                        "timeWindow": 10})
    ApiLimits(max_data_cells=150000, max_calls=30, time_window=10.0)
    >>> ApiLimits.from_config({}).max_calls
    10
    >>> ApiLimits.from_config({"timeWindow": "10"}, source="https://x/config")
    Traceback (most recent call last):
    ...
    strukturbild.errors.FetchError: https://x/config: field 'timeWindow': expected a positive ...
    """

    max_data_cells: int = 100_000
    max_calls: int = 10
    time_window: float = 10.0

    @classmethod
    def from_config(cls, doc: Mapping[str, Any], *, source: str | None = None) -> ApiLimits:
        """Read the limits from a parsed ``/config`` document."""

        def positive(key: str, whole: bool) -> float | None:
            v = doc.get(key)
            if v is None or (not isinstance(v, bool) and v == 0):
                return None
            if isinstance(v, bool) or not isinstance(v, int | float) or \
                    not math.isfinite(v) or v < 0:
                raise bad_field(source, key, f"expected a positive number, got {describe(v)}")
            if whole:
                return float(int_value(v, source=source, field=key, low=1))
            return float(v)

        d = cls()
        cells = positive("maxDataCells", True)
        calls = positive("maxCallsPerTimeWindow", True)
        window = positive("timeWindow", False)
        return cls(min(int(cells), MAX_CELLS) if cells else d.max_data_cells,
                   int(calls) if calls else d.max_calls,
                   window if window else d.time_window)



def split_selection(selection: Mapping[str, Sequence[str]],
                    max_cells: int) -> list[dict[str, list[str]]]:
    """Split a selection into parts of at most ``max_cells`` cells each.

    The dimension with the most values is cut first, into runs as long as the limit
    allows; the parts cover every cell exactly once, in order.

    Examples
    --------
    >>> parts = split_selection({"A": ["1", "2", "3"], "B": ["x", "y"]}, 4)
    >>> [p["A"] for p in parts], [p["B"] for p in parts]
    ([['1', '2'], ['3']], [['x', 'y'], ['x', 'y']])
    """
    sel = {k: list(v) for k, v in selection.items()}
    cells = math.prod(len(v) for v in sel.values())
    if cells <= max_cells or not sel:
        return [sel]
    dim = max(sel, key=lambda k: len(sel[k]))
    vals = sel[dim]
    rest = cells // len(vals)
    per = max(1, max_cells // rest) if rest <= max_cells else 1
    out: list[dict[str, list[str]]] = []
    for i in range(0, len(vals), per):
        out.extend(split_selection({**sel, dim: vals[i:i + per]}, max_cells))
    return out



@dataclass(frozen=True)
class TableMeta:
    """What a PxWebApi 2 table offers, read from its JSON-stat 2.0 metadata.

    Examples
    --------
    >>> doc = {"version": "2.0", "class": "dataset", "label": "t", "id": ["Kon", "Tid"],
    ...        "size": [2, 1], "role": {"time": ["Tid"]},
    ...        "dimension": {"Kon": {"category": {"index": {"1": 0, "2": 1},
    ...                                           "label": {"1": "män", "2": "kvinnor"}},
    ...                              "extension": {"elimination": True}},
    ...                      "Tid": {"category": {"index": {"2022": 0}}}}}
    >>> m = TableMeta.from_jsonstat("T1", doc)
    >>> m.codes["Kon"], m.time_dim, m.eliminable("Kon")
    (('1', '2'), 'Tid', True)
    """

    table_id: str
    label: str
    dims: tuple[str, ...]
    codes: Mapping[str, tuple[str, ...]]
    labels: Mapping[str, Mapping[str, str]]
    elimination: Mapping[str, bool]
    elimination_value: Mapping[str, str | None]
    time_dim: str | None
    updated: str | None = None

    @classmethod
    def from_jsonstat(cls, table_id: str, doc: Any, *,
                      source: str | None = None) -> TableMeta:
        """Read the metadata document of ``table_id`` (fetched from ``source``)."""
        src = source or table_id
        if not isinstance(doc, Mapping) or "id" not in doc or "dimension" not in doc:
            raise FetchError("the table metadata is not a JSON-stat 2.0 document", source=src)
        dims = tuple(_dim_ids(doc, src))
        sizes: list[int | None] = [None] * len(dims)
        if doc.get("size") is not None:
            raw = list_value(doc.get("size"), source=src, field="size")
            if len(raw) != len(dims):
                raise bad_field(src, "size", f"has {len(raw)} entries for {len(dims)} "
                                             "dimensions ('id')")
            sizes = [int_value(s, source=src, field=f"size[{i}]") for i, s in enumerate(raw)]
        all_dims = mapping_value(doc.get("dimension"), source=src, field="dimension")
        codes: dict[str, tuple[str, ...]] = {}
        labels: dict[str, dict[str, str]] = {}
        elim: dict[str, bool] = {}
        elim_value: dict[str, str | None] = {}
        for d, n in zip(dims, sizes, strict=True):
            codes[d] = tuple(_category_codes(all_dims, d, n, src))
            where = f"dimension.{d}"
            lab = all_dims[d]["category"].get("label") or {}
            lab = mapping_value(lab, source=src, field=f"{where}.category.label")
            labels[d] = {str(k): text_value(v, source=src, field=f"{where}.category.label.{k}")
                         for k, v in lab.items()}
            ext = mapping_value(all_dims[d].get("extension") or {}, source=src,
                                field=f"{where}.extension")
            e = ext.get("elimination", False)
            if not isinstance(e, bool):
                raise bad_field(src, f"{where}.extension.elimination",
                                f"expected true or false, got {describe(e)}")
            elim[d] = e
            ev = ext.get("eliminationValueCode")
            elim_value[d] = None if ev is None else text_value(
                ev, source=src, field=f"{where}.extension.eliminationValueCode")
        role = mapping_value(doc.get("role") or {}, source=src, field="role")
        if role.get("time") is not None:
            time_dims = [text_value(t, source=src, field=f"role.time[{i}]")
                         for i, t in enumerate(list_value(role["time"], source=src,
                                                          field="role.time"))]
            unknown = [t for t in time_dims if t not in dims]
            if unknown:
                raise bad_field(src, "role.time", f"names '{unknown[0]}', which is not a "
                                                  "dimension ('id')")
        else:
            time_dims = [d for d in dims if d.lower() in ("tid", "time", "år")]
        label = doc.get("label", "")
        updated = doc.get("updated")
        return cls(table_id, label if isinstance(label, str) else "", dims, codes, labels,
                   elim, elim_value, time_dims[0] if time_dims else None,
                   updated if isinstance(updated, str) and updated else None)

    def eliminable(self, dim: str) -> bool:
        """True when the dimension may be left out of a query (the API sums over it)."""
        return self.elimination.get(dim, False)

    @property
    def years(self) -> tuple[str, ...]:
        """The time dimension's codes (empty without a time dimension)."""
        return self.codes.get(self.time_dim, ()) if self.time_dim else ()


class PxWebClient:
    """PxWebApi 2: ``/config``, table metadata, and data split under the cell limit.

    Examples
    --------
    >>> PxWebClient(HttpFetcher(), "https://statistikdatabasen.scb.se/api/v2/").api_url
    'https://statistikdatabasen.scb.se/api/v2'
    """

    def __init__(self, fetcher: HttpFetcher, api_url: str = DEFAULT_API_URL, *,
                 lang: str = "sv") -> None:
        self.fetcher = fetcher
        self.api_url = api_url.rstrip("/")
        self.lang = lang
        self._limits: ApiLimits | None = None
        self._limiter: RateLimiter | None = None
        self._meta: dict[str, TableMeta] = {}

    @property
    def limits(self) -> ApiLimits:
        """The API's limits (read once from ``/config``)."""
        if self._limits is None:
            url = f"{self.api_url}/config"
            doc = self.fetcher.get_json(url)
            if not isinstance(doc, Mapping):
                raise FetchError("the /config answer is not a JSON object", source=url)
            limits = ApiLimits.from_config(doc, source=url)
            calls = f"{limits.max_calls} call{'s' if limits.max_calls != 1 else ''}"
            why = f"the API's call limit ({calls} per {limits.time_window:g} s, {url})"
            self._limits = limits
            self._limiter = RateLimiter(limits.max_calls, limits.time_window,
                                        clock=self.fetcher.clock,
                                        sleep=lambda s: self.fetcher.wait(s, why))
        return self._limits

    @property
    def limiter(self) -> RateLimiter:
        """The call limiter made from ``/config``."""
        _ = self.limits
        assert self._limiter is not None
        return self._limiter

    def _url(self, path: str) -> str:
        q = urllib.parse.urlencode({"lang": self.lang, "outputFormat": "json-stat2"})
        return f"{self.api_url}/{path}?{q}"

    def metadata(self, table_id: str) -> TableMeta:
        """The table's variables and values (JSON-stat 2.0 metadata)."""
        if table_id not in self._meta:
            url = self._url(f"tables/{urllib.parse.quote(table_id)}/metadata")
            doc = self.fetcher.get_json(url, limiter=self.limiter)
            self._meta[table_id] = TableMeta.from_jsonstat(table_id, doc, source=url)
        return self._meta[table_id]

    def search_tables(self, query: str, *, page_size: int = 100) -> list[dict[str, Any]]:
        """The tables the API's table search finds for ``query`` (first page).

        ``GET {base}/tables?query=...&lang=sv&pageSize=...`` (PxTools/PxApiSpecs,
        ``examples/tables-tables-response.json``): each table's ``id``, ``label``,
        ``firstPeriod``, ``lastPeriod``, ``updated`` and ``discontinued``, checked.

        Examples
        --------
        >>> PxWebClient(HttpFetcher(), "https://x/api/v2").search_url("dagbefolkning tätort")
        'https://x/api/v2/tables?query=dagbefolkning+t%C3%A4tort&lang=sv&pageSize=100'
        """
        url = self.search_url(query, page_size=page_size)
        doc = self.fetcher.get_json(url, limiter=self.limiter)
        if not isinstance(doc, Mapping):
            raise FetchError("the table search answer is not a JSON object", source=url)
        out: list[dict[str, Any]] = []
        for i, t in enumerate(list_value(doc.get("tables"), source=url, field="tables")):
            at = f"tables[{i}]"
            t = mapping_value(t, source=url, field=at)
            disc = t.get("discontinued", False)
            if not isinstance(disc, bool) and disc is not None:
                raise bad_field(url, f"{at}.discontinued",
                                f"expected true or false, got {describe(disc)}")
            out.append({
                "id": text_value(t.get("id"), source=url, field=f"{at}.id").strip(),
                "label": text_value(t.get("label", ""), source=url, field=f"{at}.label"),
                "firstPeriod": str(t.get("firstPeriod") or ""),
                "lastPeriod": str(t.get("lastPeriod") or ""),
                "updated": str(t.get("updated") or ""),
                "discontinued": bool(disc),
            })
        return out

    def search_url(self, query: str, *, page_size: int = 100) -> str:
        """The table search URL for ``query``."""
        q = urllib.parse.urlencode({"query": query, "lang": self.lang,
                                    "pageSize": str(page_size)})
        return f"{self.api_url}/tables?{q}"

    def data(self, table_id: str, selection: Mapping[str, Sequence[str]], *,
             max_splits: int = 6, counts: bool = False) -> pd.DataFrame:
        """Cells of a table as a long frame (see :func:`decode_jsonstat2`).

        The selection (variable code → value codes; variables left out are
        eliminated) is split so that no query asks for more than ``maxDataCells``
        cells; a 403 answer (too many cells for the server) splits the query in two
        once more, up to ``max_splits`` times. Each answer must have exactly the
        variables asked for and no value code that was not asked for; with
        ``counts`` every value must be a whole number of people.
        """
        url = self._url(f"tables/{urllib.parse.quote(table_id)}/data")
        frames = [self._data_part(url, part, max_splits, counts)
                  for part in split_selection(selection, self.limits.max_data_cells)]
        frames = [f for f in frames if len(f)]
        if not frames:
            return decode_jsonstat2({"class": "dataset", "id": [], "size": [], "dimension": {},
                                     "value": []})
        return pd.concat(frames, ignore_index=True)

    def _data_part(self, url: str, part: Mapping[str, Sequence[str]],
                   splits_left: int, counts: bool) -> pd.DataFrame:
        body = {"selection": [{"variableCode": k, "valueCodes": list(v)}
                              for k, v in part.items()]}
        try:
            doc = self.fetcher.post_json(url, body, limiter=self.limiter)
        except FetchError as exc:
            cells = math.prod(len(v) for v in part.values())
            if exc.status != 403 or splits_left <= 0 or cells <= 1:
                raise
            halves = split_selection(part, max(1, math.ceil(cells / 2)))
            return pd.concat([self._data_part(url, h, splits_left - 1, counts) for h in halves],
                             ignore_index=True)
        frame, ids, codes = _jsonstat(doc, source=url, max_cells=self.limits.max_data_cells,
                                      counts=counts)
        if set(ids) != set(part):
            raise bad_field(url, "id", f"the answer has the variables {', '.join(ids) or 'none'} "
                                       f"but the query asked for {', '.join(part)}")
        for d, c in zip(ids, codes, strict=True):
            extra = sorted(set(c) - set(part[d]))
            if extra:
                raise bad_field(url, f"dimension.{d}.category.index",
                                f"the answer has the value(s) {', '.join(extra[:5])}, which "
                                "the query did not ask for")
        return frame
