"""A small, well-behaved client for SCB's open data: PxWebApi 2 and the geodata WFS.

HTTP is :mod:`requests` (connection pooling, proxies from the environment, TLS) and
the retry policy is :class:`urllib3.util.Retry` (which failures are retried, how
often, the back-off and ``Retry-After``). What is our own is thin: every raw response
is cached on disk with its request and SHA-256 checksum, so a second run, or a CI
run, works offline from the cache; a response that changed since it was cached is
detected, warned about and recorded; each request is logged for ``metadata.json``.

Every request has limits, so that no server can hold a run forever or fill the disk
or the memory (the defaults are in :data:`DEFAULT_TIMEOUT` and beside it):

- a wall-clock **deadline** per request (default 120 s) that covers the connection,
  the whole body, every retry and every wait between tries: the body is streamed and
  the clock checked between chunks, and a watchdog shuts the connection down when the
  deadline passes, so a server that drips one byte every few seconds is cut off;
- a cap on the **size** of one answer (default 256 MiB), checked against
  ``Content-Length`` before reading and while streaming; nothing over it is cached;
- caps on **waits**: one wait (``Retry-After``, the API's call limit) of more than
  ``max_wait`` (120 s), or waits adding up to more than ``max_total_wait`` (600 s) in
  a run, give up at once with a clear error instead of sleeping;
- **redirects** are followed only to the same host (at most 5, never from https to
  http) and recorded in the request log; a redirect to another host is refused with
  an error that names both hosts (give the new address as the base URL instead);
- caps on the **cube** a JSON-stat answer may claim (the API's own ``maxDataCells``,
  checked before anything is allocated) and on the **features and pages** of a WFS
  answer (:data:`DEFAULT_MAX_FEATURES`, :data:`DEFAULT_MAX_PAGES`);
- every field a number is read from is checked (:mod:`.answers`): a malformed answer
  is a :class:`FetchError` naming the URL and the field, never a silent wrong number.

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

import contextlib
import hashlib
import inspect
import json
import math
import os
import socket
import threading
import time
import urllib.parse
import warnings
import weakref
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import requests
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import InvalidHeader, MaxRetryError
from urllib3.util import Retry

from ..._files import atomic_path
from ...errors import ConfigError, FetchError, StrukturbildWarning
from .answers import (
    bad_field,
    count_value,
    describe,
    int_value,
    list_value,
    loads,
    mapping_value,
    text_value,
)

__all__ = [
    "DEFAULT_API_URL",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_FEATURES",
    "DEFAULT_MAX_PAGES",
    "DEFAULT_MAX_TOTAL_WAIT",
    "DEFAULT_MAX_WAIT",
    "DEFAULT_RETRIES",
    "DEFAULT_TIMEOUT",
    "DEFAULT_WFS_URL",
    "MAX_CELLS",
    "ApiLimits",
    "FetchError",
    "HttpFetcher",
    "PxWebClient",
    "ResponseCache",
    "TableMeta",
    "WfsClient",
    "check_fetch_options",
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

#: Wall-clock seconds one request may take in all: connection, body, retries, waits.
DEFAULT_TIMEOUT = 120.0
#: Further tries after a transient failure (5xx, 429, broken connection, bad JSON).
DEFAULT_RETRIES = 4
#: The most retries one may ask for (4 already spans 2 + 4 + 8 s of back-off).
MAX_RETRIES = 10
#: The largest answer read: 256 MiB. SCB's largest answer that ``fetch_scb`` asks for,
#: the whole country's DeSO areas as GeoJSON, is well below it.
DEFAULT_MAX_BYTES = 256 * 2**20
#: The longest single wait (``Retry-After``, the API's call limit), in seconds.
DEFAULT_MAX_WAIT = 120.0
#: All waits of one fetcher (a run) together, in seconds.
DEFAULT_MAX_TOTAL_WAIT = 600.0
#: Redirects followed for one request (same host only).
MAX_REDIRECTS = 5
#: The largest JSON-stat cube read, whatever ``/config`` says: 10 million cells (SCB's
#: maxDataCells is 150 000; queries are split below it, so no answer needs more).
MAX_CELLS = 10_000_000
#: The most features one WFS layer may claim: SCB's layers that fetch_scb reads have a
#: few thousand (about 2 000 tätorter, 6 160 DeSO areas), so 200 000 leaves room for
#: finer layers while a server claiming 10⁹ matches is refused at once.
DEFAULT_MAX_FEATURES = 200_000
#: The most pages read from one WFS layer (GeoServer's pages hold 1 000 features or
#: more; 1 000 pages of 200 features still cover :data:`DEFAULT_MAX_FEATURES`).
DEFAULT_MAX_PAGES = 1_000
#: Statuses worth another try: too many requests, and the server's own failures.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Seconds to connect at most (the deadline may be longer; a connection is quick).
CONNECT_TIMEOUT = 30.0
_CHUNK = 64 * 1024
# urllib3 (2.6 on) clamps Retry-After to 6 hours; we want the asked wait, to refuse it
_NO_RETRY_AFTER_CLAMP: dict[str, Any] = (
    {"retry_after_max": 10**12}
    if "retry_after_max" in inspect.signature(Retry.__init__).parameters else {})

Sleep = Callable[[float], None]
Clock = Callable[[], float]


def _user_agent() -> str:
    try:
        from importlib.metadata import version

        v = version("strukturbild")
    except Exception:  # pragma: no cover - uninstalled tree
        v = "0+unknown"
    return (f"strukturbild/{v} (structure images for Swedish regional planning; "
            f"Python requests {requests.__version__}; caches every response)")


# --------------------------------------------------------------------------- options


def _number_option(name: str, value: Any, low: float, high: float, *,
                   whole: bool = False, unit: str = "") -> float:
    kind = "a whole number" if whole else "a number"
    ok = not isinstance(value, bool) and isinstance(value, int | float) and \
        math.isfinite(value) and (not whole or float(value).is_integer())
    if ok and whole:
        ok = low <= value <= high
    elif ok:
        ok = low < value <= high
    if not ok:
        span = f"from {low:g} to {high:g}" if whole else f"above {low:g} and at most {high:g}"
        raise ConfigError(f"{name} must be {kind}{unit} {span}, got {value!r}")
    return float(value)


def check_fetch_options(*, timeout: Any = DEFAULT_TIMEOUT, retries: Any = DEFAULT_RETRIES,
                        max_mb: Any = DEFAULT_MAX_BYTES / 2**20,
                        max_wait: Any = DEFAULT_MAX_WAIT) -> None:
    """Check the limits a user may set; a bad one is a :class:`~strukturbild.errors.ConfigError`.

    ``timeout`` (seconds, above 0 and at most a day), ``retries`` (0 to
    :data:`MAX_RETRIES`), ``max_mb`` (MiB, above 0 and at most 64 GiB) and
    ``max_wait`` (seconds, above 0 and at most a day).

    Examples
    --------
    >>> check_fetch_options(timeout=30, retries=0, max_mb=1)
    >>> check_fetch_options(retries=-1)
    Traceback (most recent call last):
    ...
    strukturbild.errors.ConfigError: retries must be a whole number from 0 to 10, got -1
    """
    _number_option("timeout", timeout, 0, 86_400, unit=" of seconds")
    _number_option("retries", retries, 0, MAX_RETRIES, whole=True)
    _number_option("max_mb", max_mb, 0, 65_536, unit=" of MiB")
    _number_option("max_wait", max_wait, 0, 86_400, unit=" of seconds")


# --------------------------------------------------------------------------- limits


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


class RateLimiter:
    """Keep at most ``max_calls`` calls in any ``window`` seconds (a sliding window).

    ``sleep`` does the waiting; :class:`PxWebClient` passes :meth:`HttpFetcher.wait`,
    which gives up instead of sleeping longer than the fetcher allows.

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
    """A response body and where it came from.

    ``doc`` is the parsed JSON when the body was just checked (not from the cache).
    """

    body: bytes
    sha256: str
    fetched_at: str
    from_cache: bool
    changed: bool = False
    previous_sha256: str | None = None
    doc: Any = field(default=None, repr=False, compare=False)


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
        return rec if isinstance(rec, dict) else None

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
    """A failure that another try, or the cache, may get past (5xx, 429, a broken
    connection, a truncated body, the deadline, a wait too long to sleep)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


# Hand-written because neither requests nor urllib3 has a total deadline: their
# timeouts bound each socket operation, so a server that sends one byte every few
# seconds never trips them ("timeout is not a time limit on the entire response
# download", requests' documentation). A timer shuts the request's connection down
# when the deadline passes; the blocked read then fails at once.
_ACTIVE = threading.local()


class _Watchdog:
    """Shut down the connections of the current request when its deadline passes."""

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self._conns: list[Any] = []
        self._lock = threading.Lock()
        self._outer: _Watchdog | None = None
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def __enter__(self) -> _Watchdog:
        self._outer = getattr(_ACTIVE, "watchdog", None)
        _ACTIVE.watchdog = self
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        _ACTIVE.watchdog = self._outer
        with self._lock:
            self._conns.clear()

    def watch(self, conn: Any) -> None:
        """Shut ``conn`` down when the deadline passes (at once if it has passed)."""
        with self._lock:
            self._conns.append(conn)
            if self.expired:
                self._shut(conn)

    def _fire(self) -> None:
        with self._lock:
            self.expired = True
            for conn in self._conns:
                self._shut(conn)

    @staticmethod
    def _shut(conn: Any) -> None:
        sock = getattr(conn, "sock", None)
        if sock is not None:
            # the plain socket's shutdown, also under TLS: the blocked reader sees EOF
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _watch_current(conn: Any) -> None:
    dog: _Watchdog | None = getattr(_ACTIVE, "watchdog", None)
    if dog is not None:
        dog.watch(conn)


class _WatchedHTTPPool(HTTPConnectionPool):
    def _make_request(self, conn: Any, *args: Any, **kwargs: Any) -> Any:
        _watch_current(conn)  # before the request is sent: headers can drip too
        return super()._make_request(conn, *args, **kwargs)


class _WatchedHTTPSPool(HTTPSConnectionPool):
    def _make_request(self, conn: Any, *args: Any, **kwargs: Any) -> Any:
        _watch_current(conn)
        return super()._make_request(conn, *args, **kwargs)


_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class _Adapter(HTTPAdapter):
    """requests' adapter with connection pools the watchdog can reach."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        manager.pool_classes_by_scheme = _POOLS
        return manager


def _is_loopback(url: str) -> bool:
    host = (urllib.parse.urlsplit(url).hostname or "").lower()
    return host in ("localhost", "::1") or host.startswith("127.")


def _many(n: int) -> str:
    """A count for a message: 1,234,567, or 1e+300 when it is absurdly long."""
    return f"{n:,}" if n < 10**15 else f"{float(n):.3g}"


def _mib(n: float) -> str:
    return f"{n / 2**20:.4g} MiB"


@dataclass
class RequestRecord:
    """One request made in a run, for the provenance record.

    ``redirects`` lists the same-host redirects followed (status, from, to, method);
    ``final_url`` is where the answer came from; ``tries`` counts the attempts;
    ``fallback`` says why the cached response was used when the network failed.
    """

    method: str
    url: str
    body: Any
    sha256: str
    fetched_at: str
    from_cache: bool
    changed: bool = False
    previous_sha256: str | None = None
    bytes: int = 0
    final_url: str | None = None
    redirects: list[dict[str, Any]] = field(default_factory=list)
    tries: int = 0
    fallback: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """As a JSON-able dict."""
        return dict(self.__dict__)


@dataclass
class _Answer:
    data: bytes
    ctype: str
    doc: Any
    final_url: str
    redirects: list[dict[str, Any]]
    tries: int


@dataclass(eq=False)
class HttpFetcher:
    """GET/POST JSON with limits, retries, an on-disk cache and an offline mode.

    Parameters
    ----------
    cache
        Where raw responses are kept; None keeps nothing (and offline mode fails).
    offline
        Never touch the network: answer from the cache or raise :class:`FetchError`.
    max_retries
        Further tries after a transient failure (429 and 5xx answers, a broken or
        refused connection, a truncated body, unreadable JSON). The policy is
        urllib3's :class:`~urllib3.util.Retry`: the first retry at once, then waits
        of 2, 4, 8 ... seconds (``backoff``), or what ``Retry-After`` asks.
    timeout
        Wall-clock seconds for one request in all: connecting, the whole body, every
        retry and every wait. Not retried when it passes.
    max_bytes
        The largest answer read (decoded bytes); a larger one is an error and is not
        cached.
    max_wait, max_total_wait
        The longest single wait, and all waits of this fetcher together, in seconds:
        a longer ``Retry-After`` or rate-limit wait gives up at once instead of
        sleeping.
    sleep, clock
        Injectable for tests.

    When the network fails after every retry, or the deadline or a wait limit is
    reached, but the cache has the response, the cached one is used with a warning.

    Examples
    --------
    >>> f = HttpFetcher(cache=None, offline=True)
    >>> f.get_json("https://example.invalid/config")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    strukturbild.errors.FetchError: https://example.invalid/config: offline and no cached ...
    >>> HttpFetcher(max_retries=-1)
    Traceback (most recent call last):
    ...
    strukturbild.errors.ConfigError: retries must be a whole number from 0 to 10, got -1
    """

    cache: ResponseCache | None = None
    offline: bool = False
    max_retries: int = DEFAULT_RETRIES
    backoff: float = 1.0
    max_wait: float = DEFAULT_MAX_WAIT
    max_total_wait: float = DEFAULT_MAX_TOTAL_WAIT
    timeout: float = DEFAULT_TIMEOUT
    max_bytes: int = DEFAULT_MAX_BYTES
    sleep: Sleep = time.sleep
    clock: Clock = time.monotonic
    user_agent: str = field(default_factory=_user_agent)
    log: list[RequestRecord] = field(default_factory=list)
    waited: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        check_fetch_options(timeout=self.timeout, retries=self.max_retries,
                            max_mb=self.max_bytes / 2**20, max_wait=self.max_wait)
        _number_option("max_total_wait", self.max_total_wait, 0, 7 * 86_400, unit=" of seconds")
        self.max_retries = int(self.max_retries)
        self._deadline: float | None = None
        self._session = requests.Session()
        adapter = _Adapter()
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        # pooled connections are closed when the fetcher goes, or at close()
        self._closer = weakref.finalize(self, self._session.close)

    def close(self) -> None:
        """Close the pooled connections."""
        self._closer()

    def __enter__(self) -> HttpFetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get_json(self, url: str, *, limiter: RateLimiter | None = None) -> Any:
        """GET ``url`` and parse the JSON answer."""
        return self._json("GET", url, None, limiter)

    def post_json(self, url: str, payload: Any, *, limiter: RateLimiter | None = None) -> Any:
        """POST ``payload`` as JSON to ``url`` and parse the JSON answer."""
        body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8")
        return self._json("POST", url, body, limiter)

    def wait(self, seconds: float, why: str) -> None:
        """Sleep ``seconds``, or give up at once if that passes a limit.

        The limits: one wait of at most ``max_wait``, within the current request's
        deadline, and all waits together within ``max_total_wait``.
        """
        if not seconds > 0:
            return
        if seconds > self.max_wait:
            raise _TransientError(f"{why}: a wait of {seconds:g} s is more than the "
                                  f"{self.max_wait:g} s allowed for one wait; gave up instead "
                                  "of sleeping")
        if self._deadline is not None and self.clock() + seconds > self._deadline:
            raise _TransientError(f"{why}: waiting {seconds:g} s would pass the request's "
                                  f"deadline of {self.timeout:g} s (--timeout); gave up instead "
                                  "of sleeping")
        if self.waited + seconds > self.max_total_wait:
            raise _TransientError(f"{why}: waiting {seconds:g} s more would take this run's "
                                  f"waits past {self.max_total_wait:g} s; gave up instead of "
                                  "sleeping")
        self.waited += seconds
        self.sleep(seconds)

    # -- internals

    def _json(self, method: str, url: str, body: bytes | None,
              limiter: RateLimiter | None) -> Any:
        resp = self.fetch(method, url, body, limiter=limiter)
        if resp.doc is not None:
            return resp.doc
        try:
            return loads(resp.body)
        except (UnicodeDecodeError, ValueError) as exc:  # only a corrupt cache gets here
            raise FetchError(f"the answer is not JSON: {exc}", source=url) from None

    def _record(self, method: str, url: str, body: bytes | None, r: CachedResponse,
                answer: _Answer | None = None, fallback: str | None = None) -> None:
        parsed: Any = json.loads(body) if body else None
        self.log.append(RequestRecord(
            method, url, parsed, r.sha256, r.fetched_at, r.from_cache, r.changed,
            r.previous_sha256, len(r.body), answer.final_url if answer else None,
            answer.redirects if answer else [], answer.tries if answer else 0, fallback))

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
            answer = self._network(method, url, body, limiter)
        except _TransientError as exc:
            hit = self.cache.get(method, url, body) if self.cache else None
            if hit is None:
                raise FetchError(f"{exc}; no cached response to fall back on", source=url,
                                 status=exc.status) from None
            warnings.warn(f"{url}: {exc}; using the cached response of {hit.fetched_at}",
                          StrukturbildWarning, stacklevel=3)
            self._record(method, url, body, hit, fallback=str(exc))
            return hit
        if self.cache is not None:
            r = self.cache.put(method, url, body, answer.data, answer.ctype)
            if r.changed:
                warnings.warn(f"{url}: the response changed since it was cached "
                              f"(sha256 {r.previous_sha256} → {r.sha256}); recorded",
                              StrukturbildWarning, stacklevel=3)
        else:
            r = CachedResponse(answer.data, _sha256(answer.data), _now(), False)
        r.doc = answer.doc
        self._record(method, url, body, r, answer)
        return r

    def _retry_policy(self) -> Retry:
        # urllib3's policy, applied by the loop in _network (which streams each body
        # under the deadline and the size cap, so urllib3 cannot read it for us).
        return Retry(total=self.max_retries, connect=None, read=None, status=None,
                     other=None, redirect=False, status_forcelist=RETRY_STATUSES,
                     allowed_methods=frozenset({"GET", "POST"}),  # PxWeb's POST only reads
                     backoff_factor=self.backoff, backoff_max=self.max_wait,
                     raise_on_status=False, respect_retry_after_header=True,
                     **_NO_RETRY_AFTER_CLAMP)

    def _network(self, method: str, url: str, body: bytes | None,
                 limiter: RateLimiter | None) -> _Answer:
        if limiter is not None:
            limiter.wait()
        self._deadline = self.clock() + self.timeout
        try:
            with _Watchdog(self.timeout) as dog:
                return self._tries(method, url, body, limiter, dog)
        finally:
            self._deadline = None

    def _late(self, got: int = 0) -> _TransientError:
        part = f"; {got:,} bytes had arrived" if got else ""
        return _TransientError(f"no complete answer within the deadline of {self.timeout:g} s "
                               f"(--timeout){part}")

    def _tries(self, method: str, url: str, body: bytes | None, limiter: RateLimiter | None,
               dog: _Watchdog) -> _Answer:
        retry = self._retry_policy()
        hops: list[dict[str, Any]] = []
        cur_method, cur_url, cur_body = method, url, body
        tries = 0

        def again(why: str, *, error: Exception | None = None,
                  response: requests.Response | None = None, status: int | None = None) -> None:
            nonlocal retry
            try:
                retry = retry.increment(cur_method, cur_url, error=error,
                                        response=response.raw if response is not None else None)
            except MaxRetryError:
                raise _TransientError(f"{why} (after {tries} tr{'y' if tries == 1 else 'ies'})",
                                      status=status) from None
            wait: float | None = None
            header = response.headers.get("Retry-After") if response is not None else None
            if header is not None:
                try:
                    wait = retry.get_retry_after(response.raw)  # type: ignore[union-attr]
                except InvalidHeader:
                    wait = None
            if wait:
                self.wait(float(wait), f"{why} (Retry-After: {header.strip()})"
                          if header else why)
            else:
                self.wait(retry.get_backoff_time(), f"{why}; back-off")
            if limiter is not None:
                limiter.wait()

        while True:
            if dog.expired or self.clock() >= (self._deadline or math.inf):
                raise self._late()
            tries += 1
            try:
                resp = self._send(cur_method, cur_url, cur_body)
            except requests.exceptions.InvalidURL as exc:
                raise FetchError(f"not a valid URL: {exc}", source=cur_url) from None
            except (requests.exceptions.InvalidSchema,
                    requests.exceptions.MissingSchema) as exc:
                raise FetchError(f"only http and https URLs can be fetched: {exc}",
                                 source=cur_url) from None
            except requests.exceptions.SSLError as exc:
                if "CERTIFICATE" in str(exc).upper():  # not something another try mends
                    raise FetchError(f"TLS certificate error: {_reason(exc)}",
                                     source=cur_url) from None
                again(f"TLS error: {_reason(exc)}", error=exc)
                continue
            except requests.exceptions.RequestException as exc:
                if dog.expired:
                    raise self._late() from None
                again(f"network error: {_reason(exc)}", error=exc)
                continue
            if resp.raw is not None and getattr(resp.raw, "connection", None) is not None:
                dog.watch(resp.raw.connection)
            try:
                if dog.expired:  # the headers were cut off: whatever was parsed is partial
                    raise self._late()
                status = resp.status_code
                if resp.is_redirect:
                    cur_method, cur_url, cur_body = self._redirect(
                        resp, cur_method, cur_url, cur_body, hops, origin=url)
                    continue
                if not 200 <= status < 300:
                    detail = _error_detail(resp)
                    has_after = "Retry-After" in resp.headers
                    if retry.is_retry(cur_method, status, has_after):
                        reason = resp.reason or ""
                        again(f"HTTP {status} {reason}{detail}".replace("  ", " "),
                              response=resp, status=status)
                        continue
                    if dog.expired:
                        raise self._late()
                    if status == 403:
                        raise FetchError(f"HTTP 403 Forbidden: the query asks for more cells "
                                         f"than the API allows{detail}", source=cur_url,
                                         status=403)
                    raise FetchError(f"HTTP {status} {resp.reason or ''}{detail}".replace(
                        "  ", " "), source=cur_url, status=status)
                ctype = resp.headers.get("Content-Type", "") or ""
                if "json" not in ctype.lower():
                    start = _bounded_read(resp, 60)
                    raise FetchError(f"expected JSON but the server answered with content type "
                                     f"'{ctype or 'none'}' (starts {start!r})", source=cur_url)
                try:
                    data = self._read(resp, cur_url, dog)
                except _BodyError as exc:
                    if exc.late or dog.expired:
                        raise self._late(exc.got) from None
                    again(str(exc), error=exc.cause)
                    continue
                try:
                    doc = loads(data)
                except (UnicodeDecodeError, ValueError) as exc:
                    again(f"unreadable (probably truncated) JSON answer of {len(data):,} bytes "
                          f"({exc})", error=exc)
                    continue
                return _Answer(data, ctype, doc, cur_url, hops, tries)
            finally:
                resp.close()

    def _send(self, method: str, url: str, body: bytes | None) -> requests.Response:
        headers = {"User-Agent": self.user_agent,
                   "Accept": "application/json, application/geo+json, "
                             "application/vnd.json-stat2+json;q=0.9",
                   # GeoJSON shrinks 5-10 times; the size cap applies to the decoded bytes
                   "Accept-Encoding": requests.utils.DEFAULT_ACCEPT_ENCODING}
        if body is not None:
            headers["Content-Type"] = "application/json; charset=utf-8"
        prep = requests.Request(method, url, data=body, headers=headers).prepare()
        adapter = self._session.get_adapter(url)
        if _is_loopback(url):  # never send a loopback request through a proxy
            settings: dict[str, Any] = {"proxies": {}, "verify": True, "cert": None}
        else:
            env = self._session.merge_environment_settings(url, {}, True, None, None)
            settings = {k: v for k, v in env.items() if k != "stream"}
        remaining = max((self._deadline or math.inf) - self.clock(), 0.001)
        timeout = (min(remaining, CONNECT_TIMEOUT), min(remaining, self.timeout))
        # adapter.send, not session.send: the session would read the body of every
        # redirect answer whole before we could refuse it
        return adapter.send(prep, stream=True, timeout=timeout, **settings)

    def _redirect(self, resp: requests.Response, method: str, url: str, body: bytes | None,
                  hops: list[dict[str, Any]], *, origin: str) -> tuple[str, str, bytes | None]:
        target = self._session.get_redirect_target(resp)
        new = urllib.parse.urljoin(url, target or "")
        a, b = urllib.parse.urlsplit(url), urllib.parse.urlsplit(new)
        old_host, new_host = (a.hostname or "").lower(), (b.hostname or "").lower()
        if new_host != old_host:
            raise FetchError(
                f"HTTP {resp.status_code}: the server redirects from {old_host} to another "
                f"host, {new_host or '(none)'} ({new}); refused: only redirects within the "
                "same host are followed. If the service has moved, give its new address "
                "(--api-url/--wfs-url)", source=origin, status=resp.status_code)
        if b.scheme not in ("http", "https") or (a.scheme == "https" and b.scheme != "https"):
            raise FetchError(f"HTTP {resp.status_code}: refused a redirect from {a.scheme} to "
                             f"{b.scheme or '(none)'} ({new})", source=origin,
                             status=resp.status_code)
        if len(hops) >= MAX_REDIRECTS:
            raise FetchError(f"more than {MAX_REDIRECTS} redirects (last to {new})",
                             source=origin, status=resp.status_code)
        status = resp.status_code
        if status == 303 or (status in (301, 302) and method == "POST"):
            method, body = "GET", None  # as browsers and requests do
        hops.append({"status": status, "from": url, "to": new, "method": method})
        return method, new, body

    def _read(self, resp: requests.Response, url: str, dog: _Watchdog) -> bytes:
        declared = resp.headers.get("Content-Length", "")
        if declared.strip().isdigit() and int(declared) > self.max_bytes:
            raise FetchError(f"the answer would be {_mib(int(declared))} (Content-Length), "
                             f"more than the {_mib(self.max_bytes)} allowed (--max-mb); nothing "
                             "was read or cached", source=url)
        buf = bytearray()
        try:
            for chunk in resp.raw.stream(_CHUNK, decode_content=True):
                buf += chunk
                if len(buf) > self.max_bytes:
                    raise FetchError(f"the answer is larger than the {_mib(self.max_bytes)} "
                                     f"allowed (--max-mb); stopped reading after "
                                     f"{_mib(len(buf))}, nothing was cached", source=url)
                if dog.expired or self.clock() > (self._deadline or math.inf):
                    raise _BodyError("deadline", None, len(buf), late=True)
        except FetchError:
            raise
        except _BodyError:
            raise
        except Exception as exc:  # urllib3's ProtocolError, ReadTimeoutError, DecodeError...
            raise _BodyError(f"broken answer after {len(buf):,} bytes: {_reason(exc)}", exc,
                             len(buf)) from None
        if dog.expired:
            raise _BodyError("deadline", None, len(buf), late=True)
        return bytes(buf)


class _BodyError(Exception):
    """The body could not be read whole: broken (retried) or ``late`` (the deadline)."""

    def __init__(self, message: str, cause: Exception | None, got: int, *,
                 late: bool = False) -> None:
        super().__init__(message)
        self.cause = cause if cause is not None else TimeoutError(message)
        self.got = got
        self.late = late


def _reason(exc: BaseException) -> str:
    """The innermost message of a requests/urllib3 error chain."""
    seen = 0
    while seen < 6:
        inner = getattr(exc, "reason", None)
        if isinstance(inner, BaseException):
            exc = inner
        elif exc.args and isinstance(exc.args[0], BaseException):
            exc = exc.args[0]
        else:
            break
        seen += 1
    return str(exc) or type(exc).__name__


def _bounded_read(resp: requests.Response, n: int) -> bytes:
    try:
        data: bytes = resp.raw.read(n, decode_content=True) or b""
    except Exception:
        return b""
    return data[:n]


def _error_detail(resp: requests.Response) -> str:
    raw = _bounded_read(resp, 16_384)
    try:
        doc = loads(raw)
    except (UnicodeDecodeError, ValueError):
        return ""
    if isinstance(doc, dict):
        for k in ("detail", "title", "message"):
            if isinstance(doc.get(k), str):
                return f": {doc[k][:300]}"
    return ""


# --------------------------------------------------------------------------- JSON-stat


def _dim_ids(doc: Mapping[str, Any], source: str | None) -> list[str]:
    ids = [text_value(d, source=source, field=f"id[{i}]")
           for i, d in enumerate(list_value(doc.get("id"), source=source, field="id"))]
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
        raise bad_field(source, "size", f"the answer claims {_many(total)} cells "
                        f"({' × '.join(map(str, sizes))}), more than the {max_cells:,} "
                        "allowed (maxDataCells); refused before reading the values")
    dims = mapping_value(doc.get("dimension"), source=source, field="dimension")
    codes = [_category_codes(dims, d, n, source) for d, n in zip(ids, sizes, strict=True)]

    raw = doc.get("value")
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

    status: list[str | None] = [None] * total
    st = doc.get("status")
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

    pos = np.unravel_index(np.arange(total), sizes) if total else [np.array([], int)] * len(ids)
    out: dict[str, Any] = {}
    for d, c, p in zip(ids, codes, pos, strict=True):
        out[d] = np.asarray(c, dtype=object)[p]
    out["value"] = values
    frame = pd.DataFrame(out)
    frame["status"] = pd.Series(status, index=frame.index, dtype=object)
    return frame, ids, codes


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


# --------------------------------------------------------------------------- WFS


def _matched(doc: Mapping[str, Any], url: str) -> int | None:
    """numberMatched (or totalFeatures), None when the server does not say."""
    key = "numberMatched" if "numberMatched" in doc else "totalFeatures"
    v = doc.get(key)
    if v is None or v == "unknown":  # GeoServer's word when it skipped counting
        return None
    return int_value(v, source=url, field=key)


class WfsClient:
    """GetFeature from a GeoServer WFS as GeoJSON, paged when the server caps a page.

    A layer claiming more than ``max_features`` features is refused at once, and
    paging stops with an error after ``max_pages`` pages, or at a page that is empty
    before every feature that matched has come.

    Examples
    --------
    >>> WfsClient(HttpFetcher()).feature_url("stat:Tatorter_2020", cql="kommun LIKE '12%'")
    'https://geodata.scb.se/geoserver/stat/wfs?service=WFS&version=2.0.0&request=GetFeature&typeNames=stat%3ATatorter_2020&outputFormat=application%2Fjson&srsName=EPSG%3A3006&CQL_FILTER=kommun+LIKE+%2712%25%27'
    """

    def __init__(self, fetcher: HttpFetcher, wfs_url: str = DEFAULT_WFS_URL, *,
                 max_features: int = DEFAULT_MAX_FEATURES,
                 max_pages: int = DEFAULT_MAX_PAGES) -> None:
        self.fetcher = fetcher
        self.wfs_url = wfs_url.rstrip("?")
        self.max_features = int(max_features)
        self.max_pages = int(max_pages)

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

    def _page(self, url: str) -> tuple[Mapping[str, Any], list[Any], int | None]:
        doc = self.fetcher.get_json(url)
        if not isinstance(doc, Mapping) or doc.get("type") != "FeatureCollection":
            raise FetchError("the answer is not a GeoJSON FeatureCollection", source=url)
        feats = list_value(doc.get("features", []), source=url, field="features")
        matched = _matched(doc, url)
        if matched is not None and matched > self.max_features:
            raise bad_field(url, "numberMatched" if "numberMatched" in doc else "totalFeatures",
                            f"the layer claims {_many(matched)} features, more than the "
                            f"{self.max_features:,} allowed; no page was read after the first")
        return doc, feats, matched

    def features(self, type_name: str, *, cql: str | None = None,
                 srs: str = "EPSG:3006") -> dict[str, Any]:
        """All features of a layer as one GeoJSON FeatureCollection."""
        url = self.feature_url(type_name, cql=cql, srs=srs)
        doc, feats, matched = self._page(url)
        feats = list(feats)
        pages = 1
        while matched is not None and len(feats) < matched:
            if pages >= self.max_pages:
                raise FetchError(f"the WFS says {matched:,} features match but sent "
                                 f"{len(feats):,} in {pages} pages; stopped at the limit of "
                                 f"{self.max_pages} pages", source=url)
            page_url = self.feature_url(type_name, cql=cql, srs=srs, start=len(feats))
            _, more, _ = self._page(page_url)
            pages += 1
            if not more:
                raise FetchError(f"the WFS says {matched:,} features match but the page from "
                                 f"{len(feats):,} on is empty; the layer would be incomplete",
                                 source=page_url)
            feats.extend(more)
        if len(feats) > self.max_features:
            raise FetchError(f"the WFS sent {len(feats):,} features, more than the "
                             f"{self.max_features:,} allowed", source=url)
        if matched is not None and len(feats) > matched:
            raise FetchError(f"the WFS sent {len(feats):,} features but says {matched:,} match",
                             source=url)
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
