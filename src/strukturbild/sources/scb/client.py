"""A small, well-behaved client for SCB's open data: PxWebApi 2 and the geodata WFS.

Standard library only (:mod:`urllib.request`). Every raw response is cached on disk
with its request and SHA-256 checksum, so a second run, or a CI run, works offline
from the cache; a response that changed since it was cached is detected, warned
about and recorded.

Sources (looked up for this module):

- **PxWebApi 2** (Statistics Sweden's statistical database API). The endpoints and
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
- **JSON-stat 2.0** (https://json-stat.org/format/): a ``dataset`` with ``id``,
  ``size``, ``dimension[id].category.index``/``label`` and a flat ``value`` array
  in row-major order (the last dimension varies fastest); ``status`` marks
  suppressed cells (SCB uses ``".."``). Metadata documents also carry
  ``dimension[id].extension.elimination`` and ``eliminationValueCode``
  (``PxTools/PxApiSpecs``, ``examples/table-metadata-example-jsonstat.json``).
- **SCB geodata WFS** ``https://geodata.scb.se/geoserver/stat/wfs`` (GeoServer):
  ``service=WFS&version=2.0.0&request=GetFeature&typeNames=stat:Tatorter_2020&
  outputFormat=application/json&srsName=EPSG:3006``; layers ``stat:Tatorter_YYYY``
  and ``stat:DeSO_2025`` among others. CC0.
"""

from __future__ import annotations

import email.utils
import hashlib
import http.client
import json
import math
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ...errors import FetchError, StrukturbildWarning
from ...readers import atomic_path

__all__ = [
    "DEFAULT_API_URL",
    "DEFAULT_WFS_URL",
    "ApiLimits",
    "FetchError",
    "HttpFetcher",
    "PxWebClient",
    "ResponseCache",
    "TableMeta",
    "WfsClient",
    "decode_jsonstat2",
    "split_selection",
]

#: SCB's PxWebApi 2 (production; the beta lived at api.scb.se/OV0104/v2beta/api/v2).
DEFAULT_API_URL = "https://statistikdatabasen.scb.se/api/v2"
#: SCB's open geodata (GeoServer WFS, workspace ``stat``).
DEFAULT_WFS_URL = "https://geodata.scb.se/geoserver/stat/wfs"
#: Environment variables that override the base URLs and the cache folder.
ENV_API_URL = "STRUKTURBILD_SCB_API_URL"
ENV_WFS_URL = "STRUKTURBILD_SCB_WFS_URL"
ENV_CACHE_DIR = "STRUKTURBILD_CACHE_DIR"

Sleep = Callable[[float], None]
Clock = Callable[[], float]


def _user_agent() -> str:
    try:
        from importlib.metadata import version

        v = version("strukturbild")
    except Exception:  # pragma: no cover - uninstalled tree
        v = "0+unknown"
    return (f"strukturbild/{v} (structure images for Swedish regional planning; "
            "Python urllib; caches every response)")


# --------------------------------------------------------------------------- limits


@dataclass(frozen=True)
class ApiLimits:
    """The API's limits from its ``/config`` document.

    Missing or zero values fall back to conservative defaults (100 000 cells, 10
    calls per 10 seconds: SCB's published limits for its first API).

    Examples
    --------
    >>> ApiLimits.from_config({"maxDataCells": 150000, "maxCallsPerTimeWindow": 30,
    ...                        "timeWindow": 10})
    ApiLimits(max_data_cells=150000, max_calls=30, time_window=10.0)
    >>> ApiLimits.from_config({}).max_calls
    10
    """

    max_data_cells: int = 100_000
    max_calls: int = 10
    time_window: float = 10.0

    @classmethod
    def from_config(cls, doc: Mapping[str, Any]) -> ApiLimits:
        """Read the limits from a parsed ``/config`` document."""

        def positive(key: str) -> float | None:
            v = doc.get(key)
            if isinstance(v, bool) or not isinstance(v, int | float):
                return None
            return float(v) if v > 0 and math.isfinite(v) else None

        d = cls()
        cells = positive("maxDataCells")
        calls = positive("maxCallsPerTimeWindow")
        window = positive("timeWindow")
        return cls(int(cells) if cells else d.max_data_cells,
                   int(calls) if calls else d.max_calls,
                   window if window else d.time_window)


class RateLimiter:
    """Keep at most ``max_calls`` calls in any ``window`` seconds (a sliding window).

    Examples
    --------
    >>> t = [0.0]
    >>> slept = []
    >>> def sleep(s):
    ...     slept.append(s)
    ...     t[0] += s
    >>> rl = RateLimiter(2, 10.0, clock=lambda: t[0], sleep=sleep)
    >>> for _ in range(3):
    ...     rl.wait()
    >>> slept
    [10.0]
    """

    def __init__(self, max_calls: int, window: float, *, clock: Clock = time.monotonic,
                 sleep: Sleep = time.sleep) -> None:
        self.max_calls = max(1, int(max_calls))
        self.window = float(window)
        self._clock = clock
        self._sleep = sleep
        self._calls: deque[float] = deque()

    def wait(self) -> None:
        """Sleep until one more call fits in the window, then count it."""
        now = self._clock()
        while self._calls and now - self._calls[0] >= self.window:
            self._calls.popleft()
        if len(self._calls) >= self.max_calls:
            delay = self._calls[0] + self.window - now
            if delay > 0:
                self._sleep(delay)
            now = self._clock()
            while self._calls and now - self._calls[0] >= self.window:
                self._calls.popleft()
        self._calls.append(now)


# --------------------------------------------------------------------------- cache


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class CachedResponse:
    """A response body and where it came from."""

    body: bytes
    sha256: str
    fetched_at: str
    from_cache: bool
    changed: bool = False
    previous_sha256: str | None = None


class ResponseCache:
    """Raw responses on disk: ``<key>.body`` and ``<key>.json`` (request, checksum, history).

    The key is the SHA-256 of the method, URL and request body, so one request
    always maps to one entry. Entries are written atomically.

    Examples
    --------
    >>> import tempfile
    >>> c = ResponseCache(tempfile.mkdtemp())
    >>> c.put("GET", "https://x/config", None, b'{"a": 1}', "application/json").changed
    False
    >>> c.get("GET", "https://x/config", None).body
    b'{"a": 1}'
    >>> c.put("GET", "https://x/config", None, b'{"a": 2}', "application/json").changed
    True
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @staticmethod
    def key(method: str, url: str, body: bytes | None) -> str:
        """The entry name for a request."""
        h = hashlib.sha256(f"{method.upper()} {url}\n".encode())
        h.update(body or b"")
        return h.hexdigest()

    def _paths(self, method: str, url: str, body: bytes | None) -> tuple[Path, Path]:
        k = self.key(method, url, body)
        return self.root / f"{k}.body", self.root / f"{k}.json"

    def meta(self, method: str, url: str, body: bytes | None) -> dict[str, Any] | None:
        """The entry's record (request, checksum, history), or None."""
        _, mpath = self._paths(method, url, body)
        if not mpath.is_file():
            return None
        try:
            rec: dict[str, Any] = json.loads(mpath.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return rec

    def get(self, method: str, url: str, body: bytes | None) -> CachedResponse | None:
        """The cached response, or None when there is none or it fails its checksum."""
        bpath, _ = self._paths(method, url, body)
        rec = self.meta(method, url, body)
        if rec is None or not bpath.is_file():
            return None
        data = bpath.read_bytes()
        if _sha256(data) != rec.get("sha256"):
            warnings.warn(f"cached response for {url} fails its checksum; ignored",
                          StrukturbildWarning, stacklevel=3)
            return None
        return CachedResponse(data, rec["sha256"], str(rec.get("fetched_at", "")), True)

    def put(self, method: str, url: str, body: bytes | None, data: bytes,
            content_type: str) -> CachedResponse:
        """Store a fresh response; report whether it differs from the cached one."""
        bpath, mpath = self._paths(method, url, body)
        old = self.meta(method, url, body)
        sha = _sha256(data)
        fetched = _now()
        history: list[dict[str, str]] = list(old.get("history", [])) if old else []
        previous = str(old["sha256"]) if old and "sha256" in old else None
        changed = previous is not None and previous != sha
        if changed:
            history.append({"sha256": previous or "", "fetched_at": str(old.get("fetched_at"))
                            if old else ""})
        request_body: Any = None
        if body:
            try:
                request_body = json.loads(body)
            except ValueError:
                request_body = body.decode("utf-8", "replace")
        rec = {"request": {"method": method.upper(), "url": url, "body": request_body},
               "sha256": sha, "bytes": len(data), "content_type": content_type,
               "fetched_at": fetched, "history": history}
        self.root.mkdir(parents=True, exist_ok=True)
        with atomic_path(bpath) as tmp:
            tmp.write_bytes(data)
        with atomic_path(mpath) as tmp:
            tmp.write_text(json.dumps(rec, ensure_ascii=False, indent=1), encoding="utf-8")
        return CachedResponse(data, sha, fetched, False, changed, previous)


# --------------------------------------------------------------------------- HTTP


class _TransientError(Exception):
    """A failure worth another try (5xx, 429, reset connection, truncated body)."""

    def __init__(self, message: str, *, retry_after: float | None = None,
                 status: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


def _retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date).

    Examples
    --------
    >>> _retry_after("7")
    7.0
    >>> _retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0)
    10.0
    >>> _retry_after("soon") is None
    True
    """
    if value is None:
        return None
    value = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:  # pragma: no cover - older Pythons returned None
        return None
    ref = time.time() if now is None else now
    return max(0.0, when.timestamp() - ref)


def _is_json(content_type: str) -> bool:
    return "json" in content_type.lower()


@dataclass
class RequestRecord:
    """One request made in a run, for the provenance record."""

    method: str
    url: str
    body: Any
    sha256: str
    fetched_at: str
    from_cache: bool
    changed: bool = False
    previous_sha256: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """As a JSON-able dict."""
        return dict(self.__dict__)


@dataclass
class HttpFetcher:
    """GET/POST JSON with retries, back-off, an on-disk cache and an offline mode.

    Parameters
    ----------
    cache
        Where raw responses are kept; None keeps nothing (and offline mode fails).
    offline
        Never touch the network: answer from the cache or raise :class:`FetchError`.
    max_retries
        Further tries after a transient failure (5xx, 429, reset connection,
        truncated body, unreadable JSON); the waits grow 1, 2, 4, ... seconds
        (``backoff``), capped at ``max_wait``, or follow ``Retry-After``.
    sleep, clock
        Injectable for tests.

    When the network fails after every retry but the cache has the response, the
    cached one is used with a warning.

    Examples
    --------
    >>> f = HttpFetcher(cache=None, offline=True)
    >>> f.get_json("https://example.invalid/config")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    strukturbild.errors.FetchError: https://example.invalid/config: offline and no cached ...
    """

    cache: ResponseCache | None = None
    offline: bool = False
    max_retries: int = 4
    backoff: float = 1.0
    max_wait: float = 120.0
    timeout: float = 120.0
    sleep: Sleep = time.sleep
    clock: Clock = time.monotonic
    user_agent: str = field(default_factory=_user_agent)
    opener: urllib.request.OpenerDirector = field(
        default_factory=lambda: urllib.request.build_opener(urllib.request.ProxyHandler()))
    log: list[RequestRecord] = field(default_factory=list)

    def get_json(self, url: str, *, limiter: RateLimiter | None = None) -> Any:
        """GET ``url`` and parse the JSON answer."""
        return self._json("GET", url, None, limiter)

    def post_json(self, url: str, payload: Any, *, limiter: RateLimiter | None = None) -> Any:
        """POST ``payload`` as JSON to ``url`` and parse the JSON answer."""
        body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8")
        return self._json("POST", url, body, limiter)

    # -- internals

    def _json(self, method: str, url: str, body: bytes | None,
              limiter: RateLimiter | None) -> Any:
        resp = self.fetch(method, url, body, limiter=limiter)
        try:
            return json.loads(resp.body.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError) as exc:  # only a corrupt cache gets here
            raise FetchError(f"the answer is not JSON: {exc}", source=url) from None

    def _record(self, method: str, url: str, body: bytes | None, r: CachedResponse) -> None:
        parsed: Any = None
        if body:
            parsed = json.loads(body)
        self.log.append(RequestRecord(method, url, parsed, r.sha256, r.fetched_at,
                                      r.from_cache, r.changed, r.previous_sha256))

    def fetch(self, method: str, url: str, body: bytes | None = None, *,
              limiter: RateLimiter | None = None) -> CachedResponse:
        """The response to one request: from the network (cached), or the cache offline."""
        if self.offline:
            hit = self.cache.get(method, url, body) if self.cache else None
            if hit is None:
                raise FetchError("offline and no cached response (run once with network, "
                                 "or give the cache folder)", source=url)
            self._record(method, url, body, hit)
            return hit
        try:
            data, ctype = self._network(method, url, body, limiter)
        except _TransientError as exc:
            hit = self.cache.get(method, url, body) if self.cache else None
            if hit is None:
                raise FetchError(f"{exc} (after {self.max_retries + 1} tries; no cached "
                                 "response to fall back on)", source=url,
                                 status=exc.status) from None
            warnings.warn(f"{url}: {exc}; using the cached response of {hit.fetched_at}",
                          StrukturbildWarning, stacklevel=3)
            self._record(method, url, body, hit)
            return hit
        if self.cache is not None:
            r = self.cache.put(method, url, body, data, ctype)
            if r.changed:
                warnings.warn(f"{url}: the response changed since it was cached "
                              f"(sha256 {r.previous_sha256} → {r.sha256}); recorded",
                              StrukturbildWarning, stacklevel=3)
        else:
            r = CachedResponse(data, _sha256(data), _now(), False)
        self._record(method, url, body, r)
        return r

    def _network(self, method: str, url: str, body: bytes | None,
                 limiter: RateLimiter | None) -> tuple[bytes, str]:
        last: _TransientError | None = None
        for attempt in range(self.max_retries + 1):
            if attempt:
                assert last is not None
                wait = last.retry_after if last.retry_after is not None else \
                    self.backoff * 2 ** (attempt - 1)
                self.sleep(min(max(wait, 0.0), self.max_wait))
            if limiter is not None:
                limiter.wait()
            try:
                return self._once(method, url, body)
            except _TransientError as exc:
                last = exc
        assert last is not None
        raise last

    def _once(self, method: str, url: str, body: bytes | None) -> tuple[bytes, str]:
        headers = {"User-Agent": self.user_agent,
                   "Accept": "application/json, application/geo+json, "
                             "application/vnd.json-stat2+json;q=0.9"}
        if body is not None:
            headers["Content-Type"] = "application/json; charset=utf-8"
        req = urllib.request.Request(url, data=body, method=method, headers=headers)
        host = urllib.parse.urlsplit(url).hostname or ""
        loopback = host in ("localhost", "::1") or host.startswith("127.")
        opener = _DIRECT if loopback else self.opener  # never send loopback via a proxy
        try:
            with opener.open(req, timeout=self.timeout) as resp:
                ctype = resp.headers.get("Content-Type", "") or ""
                data = resp.read()
        except urllib.error.HTTPError as exc:
            detail = _error_detail(exc)
            if exc.code == 429:
                raise _TransientError(f"HTTP 429 Too Many Requests{detail}",
                                 retry_after=_retry_after(exc.headers.get("Retry-After")),
                                 status=429) from None
            if exc.code >= 500:
                raise _TransientError(f"HTTP {exc.code}{detail}", status=exc.code) from None
            if exc.code == 403:
                raise FetchError(f"HTTP 403 Forbidden: the query asks for more cells than "
                                 f"the API allows{detail}", source=url, status=403) from None
            raise FetchError(f"HTTP {exc.code} {exc.reason}{detail}", source=url,
                             status=exc.code) from None
        except http.client.IncompleteRead as exc:
            raise _TransientError(f"truncated answer ({len(exc.partial)} bytes, "
                             f"{exc.expected} more expected)") from None
        except (urllib.error.URLError, ConnectionError, TimeoutError,
                http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", exc)
            raise _TransientError(f"network error: {reason}") from None
        if not _is_json(ctype):
            raise FetchError(f"expected JSON but the server answered with content type "
                             f"'{ctype or 'none'}' (starts {data[:60]!r})", source=url)
        try:
            json.loads(data.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError):
            raise _TransientError(f"unreadable (probably truncated) JSON answer of "
                             f"{len(data)} bytes") from None
        return data, ctype


_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _error_detail(exc: urllib.error.HTTPError) -> str:
    try:
        raw = exc.read()[:2000]
    except Exception:
        return ""
    try:
        doc = json.loads(raw)
    except ValueError:
        return ""
    if isinstance(doc, dict):
        for k in ("detail", "title", "message"):
            if isinstance(doc.get(k), str):
                return f": {doc[k]}"
    return ""


# --------------------------------------------------------------------------- JSON-stat


def _category_codes(doc: Mapping[str, Any], dim: str) -> list[str]:
    cat = doc["dimension"][dim]["category"]
    idx = cat.get("index")
    if idx is None:
        return [str(k) for k in cat.get("label", {})]
    if isinstance(idx, list):
        return [str(k) for k in idx]
    return [str(k) for k in sorted(idx, key=lambda k: idx[k])]


def decode_jsonstat2(doc: Mapping[str, Any], *, source: str | None = None) -> pd.DataFrame:
    """A JSON-stat 2.0 dataset as a long table: one column of codes per dimension.

    Columns: the dimension ids (category codes, str), ``value`` (float, NaN for a
    missing cell) and ``status`` (the cell's status symbol, e.g. ``".."``, or None).
    Values are in row-major order, the last dimension varying fastest (JSON-stat 2.0,
    "value"); both the dense (array) and the sparse (object) forms are read.

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
    """
    if not isinstance(doc, Mapping) or doc.get("class") != "dataset" or "id" not in doc:
        raise FetchError("the answer is not a JSON-stat 2.0 dataset", source=source)
    try:
        ids = [str(d) for d in doc["id"]]
        sizes = [int(s) for s in doc["size"]]
        codes = [_category_codes(doc, d) for d in ids]
    except (KeyError, TypeError, ValueError) as exc:
        raise FetchError(f"malformed JSON-stat 2.0 dataset: {exc!r}", source=source) from None
    for d, n, c in zip(ids, sizes, codes, strict=True):
        if len(c) != n:
            raise FetchError(f"JSON-stat dimension '{d}' has {len(c)} categories but size {n}",
                             source=source)
    total = int(np.prod(sizes)) if sizes else 0
    raw = doc.get("value", [])
    values = np.full(total, np.nan)
    if isinstance(raw, list):
        if len(raw) != total:
            raise FetchError(f"JSON-stat dataset has {len(raw)} values for {total} cells",
                             source=source)
        for i, v in enumerate(raw):
            if v is not None:
                values[i] = float(v)
    elif isinstance(raw, Mapping):
        for k, v in raw.items():
            if v is not None:
                values[int(k)] = float(v)
    status: list[str | None] = [None] * total
    st = doc.get("status")
    if isinstance(st, str):
        status = [st] * total
    elif isinstance(st, list):
        status = [None if s is None else str(s) for s in st] + [None] * (total - len(st))
    elif isinstance(st, Mapping):
        for k, s in st.items():
            status[int(k)] = None if s is None else str(s)
    pos = np.unravel_index(np.arange(total), sizes) if total else [np.array([], int)] * len(ids)
    out: dict[str, Any] = {}
    for d, c, p in zip(ids, codes, pos, strict=True):
        out[d] = np.asarray(c, dtype=object)[p]
    out["value"] = values
    frame = pd.DataFrame(out)
    frame["status"] = pd.Series(status, index=frame.index, dtype=object)
    return frame


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


# --------------------------------------------------------------------------- PxWeb


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
    def from_jsonstat(cls, table_id: str, doc: Mapping[str, Any]) -> TableMeta:
        """Read the metadata document of ``table_id``."""
        if not isinstance(doc, Mapping) or "id" not in doc or "dimension" not in doc:
            raise FetchError("the table metadata is not a JSON-stat 2.0 document",
                             source=table_id)
        dims = tuple(str(d) for d in doc["id"])
        codes: dict[str, tuple[str, ...]] = {}
        labels: dict[str, dict[str, str]] = {}
        elim: dict[str, bool] = {}
        elim_value: dict[str, str | None] = {}
        for d in dims:
            codes[d] = tuple(_category_codes(doc, d))
            lab = doc["dimension"][d]["category"].get("label", {}) or {}
            labels[d] = {str(k): str(v) for k, v in lab.items()}
            ext = doc["dimension"][d].get("extension", {}) or {}
            elim[d] = bool(ext.get("elimination", False))
            ev = ext.get("eliminationValueCode")
            elim_value[d] = str(ev) if ev is not None else None
        role = doc.get("role", {}) or {}
        time_dims = role.get("time") or [d for d in dims if d.lower() in ("tid", "time", "år")]
        return cls(table_id, str(doc.get("label", "")), dims, codes, labels, elim, elim_value,
                   str(time_dims[0]) if time_dims else None,
                   str(doc["updated"]) if doc.get("updated") else None)

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
            doc = self.fetcher.get_json(f"{self.api_url}/config")
            if not isinstance(doc, Mapping):
                raise FetchError("the /config answer is not a JSON object",
                                 source=f"{self.api_url}/config")
            self._limits = ApiLimits.from_config(doc)
            self._limiter = RateLimiter(self._limits.max_calls, self._limits.time_window,
                                        clock=self.fetcher.clock, sleep=self.fetcher.sleep)
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
            self._meta[table_id] = TableMeta.from_jsonstat(table_id, doc)
        return self._meta[table_id]

    def data(self, table_id: str, selection: Mapping[str, Sequence[str]], *,
             max_splits: int = 6) -> pd.DataFrame:
        """Cells of a table as a long frame (see :func:`decode_jsonstat2`).

        The selection (variable code → value codes; variables left out are
        eliminated) is split so that no query asks for more than ``maxDataCells``
        cells; a 403 answer (too many cells for the server) splits the query in two
        once more, up to ``max_splits`` times.
        """
        url = self._url(f"tables/{urllib.parse.quote(table_id)}/data")
        frames = [self._data_part(url, part, max_splits)
                  for part in split_selection(selection, self.limits.max_data_cells)]
        frames = [f for f in frames if len(f)]
        if not frames:
            return decode_jsonstat2({"class": "dataset", "id": [], "size": [], "dimension": {},
                                     "value": []})
        return pd.concat(frames, ignore_index=True)

    def _data_part(self, url: str, part: Mapping[str, Sequence[str]],
                   splits_left: int) -> pd.DataFrame:
        body = {"selection": [{"variableCode": k, "valueCodes": list(v)}
                              for k, v in part.items()]}
        try:
            doc = self.fetcher.post_json(url, body, limiter=self.limiter)
        except FetchError as exc:
            cells = math.prod(len(v) for v in part.values())
            if exc.status != 403 or splits_left <= 0 or cells <= 1:
                raise
            halves = split_selection(part, max(1, math.ceil(cells / 2)))
            return pd.concat([self._data_part(url, h, splits_left - 1) for h in halves],
                             ignore_index=True)
        return decode_jsonstat2(doc, source=url)


# --------------------------------------------------------------------------- WFS


class WfsClient:
    """GetFeature from a GeoServer WFS as GeoJSON, paged when the server caps a page.

    Examples
    --------
    >>> WfsClient(HttpFetcher()).feature_url("stat:Tatorter_2020", cql="kommun LIKE '12%'")
    'https://geodata.scb.se/geoserver/stat/wfs?service=WFS&version=2.0.0&request=GetFeature&typeNames=stat%3ATatorter_2020&outputFormat=application%2Fjson&srsName=EPSG%3A3006&CQL_FILTER=kommun+LIKE+%2712%25%27'
    """

    def __init__(self, fetcher: HttpFetcher, wfs_url: str = DEFAULT_WFS_URL) -> None:
        self.fetcher = fetcher
        self.wfs_url = wfs_url.rstrip("?")

    def feature_url(self, type_name: str, *, cql: str | None = None,
                    srs: str = "EPSG:3006", start: int | None = None) -> str:
        """The GetFeature URL (GeoJSON output, coordinates in ``srs``)."""
        params = {"service": "WFS", "version": "2.0.0", "request": "GetFeature",
                  "typeNames": type_name, "outputFormat": "application/json",
                  "srsName": srs}
        if cql:
            params["CQL_FILTER"] = cql
        if start:
            params["startIndex"] = str(start)
        return f"{self.wfs_url}?{urllib.parse.urlencode(params)}"

    def features(self, type_name: str, *, cql: str | None = None,
                 srs: str = "EPSG:3006") -> dict[str, Any]:
        """All features of a layer as one GeoJSON FeatureCollection."""
        url = self.feature_url(type_name, cql=cql, srs=srs)
        doc = self.fetcher.get_json(url)
        if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
            raise FetchError("the answer is not a GeoJSON FeatureCollection", source=url)
        feats: list[Any] = list(doc.get("features", []))
        matched = doc.get("numberMatched", doc.get("totalFeatures"))
        while isinstance(matched, int) and len(feats) < matched:
            page = self.fetcher.get_json(self.feature_url(type_name, cql=cql, srs=srs,
                                                          start=len(feats)))
            more = page.get("features", []) if isinstance(page, dict) else []
            if not more:
                break
            feats.extend(more)
        return {**doc, "features": feats, "numberReturned": len(feats)}


def env_or(value: str | None, env: str, default: str) -> str:
    """``value``, else the environment variable ``env``, else ``default``.

    Examples
    --------
    >>> env_or(None, "STRUKTURBILD_NO_SUCH_VARIABLE", "d")
    'd'
    """
    if value:
        return value
    return os.environ.get(env) or default
