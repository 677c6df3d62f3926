"""HTTP for SCB's services: a fetcher with limits, retries, a cache and an offline mode.

HTTP is :mod:`requests` (connection pooling, proxies from the environment, TLS) and
the retry policy is :class:`urllib3.util.Retry` (which failures are retried, how
often, the back-off and ``Retry-After``). What is our own is thin: every raw response
is cached on disk (:mod:`.cache`) with its request and SHA-256 checksum, so a second
run, or a CI run, works offline from the cache; a response that changed since it was
cached is detected, warned about and recorded; each request is logged for
``metadata.json``.

Every request has limits, so that no server can hold a run forever or fill the disk
or the memory (the defaults are in :mod:`.options`):

- a wall-clock **deadline** per request (default 120 s) that covers the name lookup,
  the connection, the TLS handshake, the headers, the whole body, every retry and
  every wait between tries: the body is read in small pieces and the clock checked
  between them, and a watchdog (:mod:`.deadline`) shuts every socket of the request
  down when the deadline passes, however the server keeps the connection (HTTP/1.0,
  ``Connection: close``, keep-alive, chunked, TLS), so a server that drips one byte
  every few seconds is cut off;
- a cap on the **size** of one answer (default 256 MiB), checked against
  ``Content-Length`` before reading and while streaming; nothing over it is cached;
- caps on **waits**: one wait (``Retry-After``, the API's call limit) of more than
  ``max_wait`` (120 s), or waits adding up to more than ``max_total_wait`` (600 s) in
  a run, give up at once with a clear error instead of sleeping;
- **redirects** are followed only to the same host and port (at most 5, never from
  https to http; from http to https on the default ports, 80 to 443, too) and recorded
  in the request log; a redirect to another host, or to another port of the same host
  (another service), is refused with an error that names both (give the new address
  as the base URL instead).

The answers themselves are checked by their readers (:mod:`.jsonstat`, :mod:`.pxweb`,
:mod:`.wfs`, field by field with :mod:`.answers`).
"""

from __future__ import annotations

import inspect
import json
import math
import time
import urllib.parse
import warnings
import weakref
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
from urllib3.exceptions import InvalidHeader, MaxRetryError
from urllib3.util import Retry

from ...errors import FetchError, StrukturbildWarning
from .answers import loads
from .cache import CachedResponse, ResponseCache, _now, _sha256
from .deadline import Watchdog, WatchedAdapter
from .options import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_TOTAL_WAIT,
    DEFAULT_MAX_WAIT,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    FetchLimits,
    _number_option,
    check_fetch_options,
)

__all__ = [
    "CONNECT_TIMEOUT",
    "MAX_REDIRECTS",
    "RETRY_STATUSES",
    "HttpFetcher",
    "RateLimiter",
    "RequestRecord",
]

#: Redirects followed for one request (same host and port only).
MAX_REDIRECTS = 5
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



class _TransientError(Exception):
    """A failure that another try, or the cache, may get past (5xx, 429, a broken
    connection, a truncated body, the deadline, a wait too long to sleep)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status



def _host_port(parts: urllib.parse.SplitResult) -> tuple[str, int | None]:
    """The host (lower case) and port of a URL, the scheme's default port filled in."""
    try:
        port = parts.port
    except ValueError:  # a port that is not a number: never the same host
        port = -1
    if port is None:
        port = {"http": 80, "https": 443}.get(parts.scheme)
    return (parts.hostname or "").lower(), port


def _where(host: tuple[str, int | None], port: bool) -> str:
    """``host`` for a message: ``localhost``, with ``port`` ``localhost port 8080``."""
    name = host[0] or "(none)"
    return f"{name} port {host[1]}" if port and host[1] is not None else name


def _is_loopback(url: str) -> bool:
    host = (urllib.parse.urlsplit(url).hostname or "").lower()
    return host in ("localhost", "::1") or host.startswith("127.")



def _mib(n: float) -> str:
    return f"{n / 2**20:.4g} MiB"



@dataclass
class RequestRecord:
    """One request made in a run, for the provenance record.

    ``redirects`` lists the redirects followed (same host and port) (status, from, to, method);
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
    verify
        requests' ``verify``: True checks TLS certificates against the system's (or
        ``REQUESTS_CA_BUNDLE``'s) authorities; a path trusts that CA bundle instead.
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
    verify: bool | str = True
    log: list[RequestRecord] = field(default_factory=list)
    #: The options that give a service's address, named when a redirect is refused.
    url_options: str = "--api-url/--wfs-url"
    #: Messages for error statuses a service gives a meaning of its own (PxWeb's 403).
    status_hints: Mapping[int, str] = field(default_factory=lambda: {
        403: "the query asks for more cells than the API allows"})
    waited: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        check_fetch_options(timeout=self.timeout, retries=self.max_retries,
                            max_mb=self.max_bytes / 2**20, max_wait=self.max_wait)
        _number_option("max_total_wait", self.max_total_wait, 0, 7 * 86_400, unit=" of seconds")
        self.max_retries = int(self.max_retries)
        self._deadline: float | None = None
        self._session = requests.Session()
        adapter = WatchedAdapter()
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        # pooled connections are closed when the fetcher goes, or at close()
        self._closer = weakref.finalize(self, self._session.close)

    @classmethod
    def from_limits(cls, limits: FetchLimits, **kwargs: Any) -> HttpFetcher:
        """A fetcher with a user's :class:`~strukturbild.sources.scb.options.FetchLimits`.

        Examples
        --------
        >>> HttpFetcher.from_limits(FetchLimits(timeout=30, retries=0)).timeout
        30.0
        """
        return cls(max_retries=limits.retries, timeout=limits.timeout,
                   max_bytes=limits.max_bytes, max_wait=limits.max_wait, **kwargs)

    def close(self) -> None:
        """Close the pooled connections."""
        self._closer()

    def __enter__(self) -> HttpFetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get_json(self, url: str, *, limiter: RateLimiter | None = None,
                 check: Callable[[Any], None] | None = None) -> Any:
        """GET ``url`` and parse the JSON answer.

        ``check`` is called with the parsed answer before it is cached; a
        :class:`~strukturbild.errors.FetchError` it raises stops the request, and the
        answer is neither cached nor retried (a cached answer is checked too).
        """
        return self._json("GET", url, None, limiter, check)

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
              limiter: RateLimiter | None, check: Callable[[Any], None] | None = None) -> Any:
        resp = self.fetch(method, url, body, limiter=limiter, check=check)
        if resp.doc is not None:
            return resp.doc
        try:
            doc = loads(resp.body)
        except (UnicodeDecodeError, ValueError) as exc:  # only a corrupt cache gets here
            raise FetchError(f"the answer is not JSON: {exc}", source=url) from None
        if check is not None:
            check(doc)
        return doc

    def _record(self, method: str, url: str, body: bytes | None, r: CachedResponse,
                answer: _Answer | None = None, fallback: str | None = None) -> None:
        parsed: Any = json.loads(body) if body else None
        self.log.append(RequestRecord(
            method, url, parsed, r.sha256, r.fetched_at, r.from_cache, r.changed,
            r.previous_sha256, len(r.body), answer.final_url if answer else None,
            answer.redirects if answer else [], answer.tries if answer else 0, fallback))

    def _cached(self, method: str, url: str, body: bytes | None) -> CachedResponse | None:
        if self.cache is None:
            return None
        return self.cache.get(method, url, body, max_bytes=self.max_bytes)

    def fetch(self, method: str, url: str, body: bytes | None = None, *,
              limiter: RateLimiter | None = None,
              check: Callable[[Any], None] | None = None) -> CachedResponse:
        """The response to one request: from the network (cached), or the cache offline."""
        if self.offline:
            hit = self._cached(method, url, body)
            if hit is None:
                raise FetchError("offline and no cached response (run once with network, "
                                 "or give the cache folder)", source=url)
            self._record(method, url, body, hit)
            return hit
        try:
            answer = self._network(method, url, body, limiter, check)
        except _TransientError as exc:
            hit = self._cached(method, url, body)
            if hit is None:
                raise FetchError(f"{exc}; no cached response to fall back on", source=url,
                                 status=exc.status) from None
            # the server's words (HTTP reason, error detail) are shown as errors show them
            text = str(FetchError(f"{exc}; using the cached response of {hit.fetched_at}",
                                  source=url))
            warnings.warn(text, StrukturbildWarning, stacklevel=3)
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
                 limiter: RateLimiter | None,
                 check: Callable[[Any], None] | None = None) -> _Answer:
        if limiter is not None:
            limiter.wait()
        self._deadline = self.clock() + self.timeout
        try:
            with Watchdog(self.timeout) as dog:
                answer = self._tries(method, url, body, limiter, dog)
        finally:
            self._deadline = None
        if check is not None:
            check(answer.doc)  # before the answer is cached: a bad one is never kept
        return answer

    def _late(self, dog: Watchdog, got: int = 0) -> _TransientError:
        part = f"; {got:,} byte{'s' if got != 1 else ''} had arrived" if got else ""
        return _TransientError(f"no complete answer within the deadline of {self.timeout:g} s "
                               f"(--timeout): cut off while {dog.stage}{part}")

    def _tries(self, method: str, url: str, body: bytes | None, limiter: RateLimiter | None,
               dog: Watchdog) -> _Answer:
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
                raise self._late(dog)
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
                if dog.expired:  # the watchdog cut the handshake off
                    raise self._late(dog) from None
                if "CERTIFICATE" in str(exc).upper():  # not something another try mends
                    raise FetchError(f"TLS certificate error: {_reason(exc)}",
                                     source=cur_url) from None
                again(f"TLS error: {_reason(exc)}", error=exc)
                continue
            except requests.exceptions.RequestException as exc:
                if dog.expired:
                    raise self._late(dog) from None
                again(f"network error: {_reason(exc)}", error=exc)
                continue
            dog.stage = "reading the answer"
            try:
                if dog.expired:  # the headers were cut off: whatever was parsed is partial
                    raise self._late(dog)
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
                        raise self._late(dog)
                    if status in self.status_hints:
                        raise FetchError(f"HTTP {status} {resp.reason or ''}: "
                                         f"{self.status_hints[status]}{detail}".replace(
                                             " :", ":"), source=cur_url, status=status)
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
                        raise self._late(dog, exc.got) from None
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
        # proxies and CA bundle (REQUESTS_CA_BUNDLE) from the environment, as requests does
        env = self._session.merge_environment_settings(url, {}, True, self.verify, None)
        settings: dict[str, Any] = {k: v for k, v in env.items() if k != "stream"}
        if _is_loopback(url):  # never send a loopback request through a proxy
            settings["proxies"] = {}
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
        old_host, new_host = _host_port(a), _host_port(b)
        upgrade = (a.scheme, b.scheme) == ("http", "https") and old_host == (new_host[0], 80) \
            and new_host[1] == 443
        if new_host != old_host and not upgrade:
            # another port of the same name is another service (another host, for us)
            same = old_host[0] == new_host[0]
            raise FetchError(
                f"HTTP {resp.status_code}: the server redirects from "
                f"{_where(old_host, same)} to another host, {_where(new_host, same)} ({new}); "
                "refused: only redirects within "
                "the same host and port are followed. If the service has moved, give its "
                f"new address ({self.url_options})", source=origin, status=resp.status_code)
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

    def _read(self, resp: requests.Response, url: str, dog: Watchdog) -> bytes:
        declared = resp.headers.get("Content-Length", "")
        if declared.strip().isdigit() and int(declared) > self.max_bytes:
            raise FetchError(f"the answer would be {_mib(int(declared))} (Content-Length), "
                             f"more than the {_mib(self.max_bytes)} allowed (--max-mb); nothing "
                             "was read or cached", source=url)
        buf = bytearray()
        # read1 returns what has arrived (at least a byte), so the clock is read between
        # small reads even when a server drips; stream() waits for a whole chunk
        read1 = getattr(resp.raw, "read1", None)
        chunks = (iter(lambda: read1(_CHUNK, decode_content=True), b"") if read1 is not None
                  else resp.raw.stream(_CHUNK, decode_content=True))
        try:
            for chunk in chunks:
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

