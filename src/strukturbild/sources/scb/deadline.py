"""The wall-clock deadline of one request, which neither requests nor urllib3 has.

Their timeouts bound each socket operation, so a server that sends one byte every few
seconds never trips them ("timeout is not a time limit on the entire response
download", requests' documentation). A :class:`Watchdog` shuts the request's
connections down when the deadline passes; the blocked read then fails at once.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

__all__ = ["Watchdog", "WatchedAdapter"]

# Hand-written because neither requests nor urllib3 has a total deadline: their
# timeouts bound each socket operation, so a server that sends one byte every few
# seconds never trips them ("timeout is not a time limit on the entire response
# download", requests' documentation). A timer shuts the request's connection down
# when the deadline passes; the blocked read then fails at once.
_ACTIVE = threading.local()


class Watchdog:
    """Shut down the connections of the current request when its deadline passes."""

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self._conns: list[Any] = []
        self._lock = threading.Lock()
        self._outer: Watchdog | None = None
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def __enter__(self) -> Watchdog:
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
    dog: Watchdog | None = getattr(_ACTIVE, "watchdog", None)
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


class WatchedAdapter(HTTPAdapter):
    """requests' adapter with connection pools the watchdog can reach."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        manager.pool_classes_by_scheme = _POOLS
        return manager

