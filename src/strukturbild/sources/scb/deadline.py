"""The wall-clock deadline of one request, which neither requests nor urllib3 has.

Hand-written because their timeouts bound each socket operation, so a server that
sends one byte every few seconds never trips them ("timeout is not a time limit on
the entire response download", requests' documentation), and name resolution
(``getaddrinfo``) has no timeout at all. What is our own, and why it holds for every
server:

- **Every socket of the request is reachable.** A connection made for the request
  hands the :class:`Watchdog` a duplicate of its descriptor (``dup``) the moment the
  TCP connection exists, before any TLS handshake, and a pooled connection reused for
  the request does the same. ``shutdown`` acts on the connection, not on one
  descriptor, so shutting the duplicate down ends every read and write on it: whatever
  http.client did with its own reference (it drops ``conn.sock`` for a ``will_close``
  answer: HTTP/1.0, ``Connection: close``), and whether TLS wrapped the socket.
  0.2 reached the socket through ``conn.sock`` only, and an HTTP/1.0 server dripping
  its body held a run past 100 s.
- **A timer shuts them down** when the deadline passes: a read blocked on a dripping
  server, on the headers, on a TLS handshake or on a connection being made then fails
  at once.
- **Name resolution runs in a thread** that is waited for at most the time left
  (:func:`resolve`); the lookup itself cannot be cancelled, so a slow resolver costs a
  daemon thread until it answers, never the run.

The body is read in small pieces (``read1``), and the clock checked after each, in
:class:`~strukturbild.sources.scb.httpclient.HttpFetcher`.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.connection import allowed_gai_family

__all__ = ["DeadlineError", "Watchdog", "WatchedAdapter", "current", "resolve"]

_ACTIVE = threading.local()

AddrInfo = tuple[Any, ...]


class DeadlineError(OSError):
    """The request's deadline passed while it was doing ``stage``."""

    def __init__(self, stage: str) -> None:
        super().__init__(f"the deadline passed while {stage}")
        self.stage = stage


class Watchdog:
    """Shut down every socket of the current request when its deadline passes.

    Used as a context manager around one request (its tries included); the sockets it
    is given are duplicates of the request's descriptors, shut down at the deadline
    and closed when the request ends. ``stage`` says what the request was doing, for
    the message.

    Examples
    --------
    >>> a, b = socket.socketpair()
    >>> with Watchdog(0.05) as dog:
    ...     dog.adopt(a)
    ...     a.recv(1)  # blocks until the deadline shuts the socket down: EOF
    b''
    >>> dog.expired
    True
    >>> a.close(); b.close()
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = float(seconds)
        self.ends = time.monotonic() + self.seconds
        self.stage = "starting the request"
        self._fired = False
        self._done = False
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._outer: Watchdog | None = None
        self._timer = threading.Timer(self.seconds, self._fire)
        self._timer.daemon = True

    @property
    def expired(self) -> bool:
        """True once the deadline has passed (whether or not the timer has run yet)."""
        return self._fired or time.monotonic() >= self.ends

    def remaining(self) -> float:
        """Seconds left until the deadline (0 when it has passed)."""
        return max(0.0, self.ends - time.monotonic())

    def __enter__(self) -> Watchdog:
        self.ends = time.monotonic() + self.seconds
        self._outer = getattr(_ACTIVE, "watchdog", None)
        _ACTIVE.watchdog = self
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        _ACTIVE.watchdog = self._outer
        with self._lock:
            self._done = True
            for s in self._socks:
                s.close()
            self._socks.clear()

    def adopt(self, sock: socket.socket) -> None:
        """Shut ``sock``'s connection down at the deadline (at once if it has passed).

        A duplicate of the descriptor is kept, so the connection stays reachable when
        its owner drops or wraps ``sock``; a socket already closed is skipped.
        """
        try:
            dup = socket.fromfd(sock.fileno(), sock.family, sock.type, sock.proto)
        except (OSError, ValueError):  # closed meanwhile: nothing left to cut off
            return
        with self._lock:
            if self._done:
                dup.close()
                return
            self._socks.append(dup)
            if self.expired:
                self._fired = True
                _shut(dup)

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self._fired = True
            for s in self._socks:
                _shut(s)


def _shut(sock: socket.socket) -> None:
    # shutdown, not close: it ends the connection for every descriptor of it, and a
    # reader blocked in recv (or in a TLS read on it) sees EOF at once
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def current() -> Watchdog | None:
    """The watchdog of the request running in this thread, if any."""
    dog: Watchdog | None = getattr(_ACTIVE, "watchdog", None)
    return dog


def resolve(host: str, port: int, family: int, seconds: float) -> list[AddrInfo]:
    """``socket.getaddrinfo`` for a TCP connection, waited for at most ``seconds``.

    The lookup runs in a daemon thread (``getaddrinfo`` cannot be interrupted or
    given a timeout); when it takes longer, :class:`DeadlineError` is raised and the
    thread is left to finish on its own. Errors of the lookup are raised as they are
    (``socket.gaierror``).

    Examples
    --------
    >>> resolve("127.0.0.1", 80, socket.AF_INET, 5.0)[0][4]
    ('127.0.0.1', 80)
    """
    box: dict[str, Any] = {}

    def lookup() -> None:
        try:
            box["result"] = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)
        except BaseException as exc:  # handed over to the waiting thread
            box["error"] = exc

    t = threading.Thread(target=lookup, name=f"strukturbild-resolve-{host}", daemon=True)
    t.start()
    t.join(max(seconds, 0.0))
    if t.is_alive():
        raise DeadlineError(f"looking up the name {host}")
    if "error" in box:
        raise box["error"]
    result: list[AddrInfo] = box["result"]
    return result


def _connect(conn: HTTPConnection) -> socket.socket:
    """urllib3's ``create_connection``, with the name lookup and each connection
    attempt bounded by the request's deadline, and the socket handed to the watchdog."""
    dog = current()
    host = conn._dns_host
    if host.startswith("["):
        host = host.strip("[]")
    left = dog.remaining if dog is not None else (lambda: 86_400.0)
    if dog is not None:
        dog.stage = f"looking up the name {host}"
    infos = resolve(host, conn.port or 0, allowed_gai_family(), left())
    if not infos:
        raise OSError("getaddrinfo returns an empty list")
    err: OSError | None = None
    for af, socktype, proto, _, sa in infos:
        if dog is not None:
            if dog.expired:
                raise DeadlineError(f"connecting to {conn.host} port {conn.port}")
            dog.stage = f"connecting to {conn.host} port {conn.port}"
        sock = socket.socket(af, socktype, proto)
        try:
            for option in conn.socket_options or ():
                sock.setsockopt(*option)
            limit = conn.timeout if isinstance(conn.timeout, int | float) else None
            sock.settimeout(min(limit, left()) if limit is not None else left())
            if conn.source_address:
                sock.bind(conn.source_address)
            if dog is not None:
                dog.adopt(sock)  # before connecting: the timer can cut a slow connect
            sock.connect(sa)
        except OSError as exc:
            sock.close()
            err = exc
            continue
        if dog is not None:
            dog.stage = "waiting for the answer (TLS handshake, headers)"
        return sock
    assert err is not None
    raise err


class _Connect:
    """The connection's ``_new_conn`` through :func:`_connect`, with urllib3's errors."""

    def _new_conn(self) -> socket.socket:
        conn: Any = self
        try:
            return _connect(conn)
        except DeadlineError as exc:
            raise ConnectTimeoutError(conn, f"{exc} (the request's deadline)") from exc
        except socket.gaierror as exc:
            raise NameResolutionError(conn.host, conn, exc) from exc
        except TimeoutError as exc:
            raise ConnectTimeoutError(
                conn, f"Connection to {conn.host} timed out. (connect timeout="
                      f"{conn.timeout})") from exc
        except OSError as exc:
            raise NewConnectionError(
                conn, f"Failed to establish a new connection: {exc}") from exc


class _WatchedHTTPConnection(_Connect, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Connect, HTTPSConnection):
    pass


def _watch_reused(conn: Any) -> None:
    """A pooled connection reused for this request: hand its socket to the watchdog."""
    dog = current()
    if dog is None:
        return
    sock = getattr(conn, "sock", None)
    if sock is not None:
        dog.adopt(sock)
        dog.stage = "waiting for the answer's headers"


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection

    def _make_request(self, conn: Any, *args: Any, **kwargs: Any) -> Any:
        _watch_reused(conn)  # before the request is sent: headers can drip too
        return super()._make_request(conn, *args, **kwargs)


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection

    def _make_request(self, conn: Any, *args: Any, **kwargs: Any) -> Any:
        _watch_reused(conn)
        return super()._make_request(conn, *args, **kwargs)


_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class WatchedAdapter(HTTPAdapter):
    """requests' adapter whose connections the watchdog reaches, and that resolve names
    within the deadline."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        manager.pool_classes_by_scheme = _POOLS
        return manager
