"""What a user sets for ``fetch scb``: the limits of every request, and the environment.

The defaults are written once, here; :class:`~strukturbild.sources.scb.httpclient.HttpFetcher`,
:func:`~strukturbild.sources.scb.fetch.fetch_scb` and the command line take them from
this module. It imports nothing heavy, so that the command line can build its options
from it without loading the HTTP stack.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, fields
from typing import Any

from ...errors import ConfigError

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_TOTAL_WAIT",
    "DEFAULT_MAX_WAIT",
    "DEFAULT_RETRIES",
    "DEFAULT_TIMEOUT",
    "ENV_API_URL",
    "ENV_CACHE_DIR",
    "ENV_WFS_URL",
    "MAX_RETRIES",
    "FetchLimits",
    "check_fetch_options",
    "env_or",
]

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


def _limit(default: float, low: float, high: float, *, help: str, metavar: str,
           unit: str = "", whole: bool = False) -> Any:
    """A field of :class:`FetchLimits`: its default, range, and command-line help."""
    return field(default=default, metadata={"low": low, "high": high, "help": help,
                                            "metavar": metavar, "unit": unit,
                                            "whole": whole})


@dataclass(frozen=True)
class FetchLimits:
    """The limits of every request of a run, as a user sets them.

    The command line's ``--timeout``, ``--retries``, ``--max-mb`` and ``--max-wait``,
    their help and defaults are made from these fields (``cli/fetch.py``), as
    :func:`~strukturbild.sources.scb.fetch.fetch_scb` and the fetcher take them from
    here. Each value is checked when the object is made; a bad one is a
    :class:`~strukturbild.errors.ConfigError` naming the option.

    Examples
    --------
    >>> FetchLimits()
    FetchLimits(timeout=120.0, retries=4, max_mb=256.0, max_wait=120.0)
    >>> FetchLimits(max_mb=1).max_bytes
    1048576
    >>> FetchLimits(retries=-1)
    Traceback (most recent call last):
    ...
    strukturbild.errors.ConfigError: retries must be a whole number from 0 to 10, got -1
    """

    timeout: float = _limit(
        DEFAULT_TIMEOUT, 0, 86_400, unit=" of seconds", metavar="SECONDS",
        help="wall-clock limit for one request in all: name lookup, connection, whole "
             "answer, retries and waits")
    retries: int = _limit(
        DEFAULT_RETRIES, 0, MAX_RETRIES, whole=True, metavar="N",
        help=f"retries after transient errors (429, 5xx, broken connections), 0 to "
             f"{MAX_RETRIES}")
    max_mb: float = _limit(
        DEFAULT_MAX_BYTES / 2**20, 0, 65_536, unit=" of MiB", metavar="MB",
        help="largest answer read (and largest cached answer used), in MiB; a larger one "
             "is an error and is not cached")
    max_wait: float = _limit(
        DEFAULT_MAX_WAIT, 0, 86_400, unit=" of seconds", metavar="SECONDS",
        help="longest single wait a server may ask for (Retry-After, the API's call "
             "limit); a longer one stops the run at once instead of sleeping")

    def __post_init__(self) -> None:
        for f in fields(self):
            m = f.metadata
            value = _number_option(f.name, getattr(self, f.name), m["low"], m["high"],
                                   whole=m["whole"], unit=m["unit"])
            object.__setattr__(self, f.name, int(value) if m["whole"] else value)

    @property
    def max_bytes(self) -> int:
        """``max_mb`` in bytes."""
        return int(self.max_mb * 2**20)


def check_fetch_options(*, timeout: Any = DEFAULT_TIMEOUT, retries: Any = DEFAULT_RETRIES,
                        max_mb: Any = DEFAULT_MAX_BYTES / 2**20,
                        max_wait: Any = DEFAULT_MAX_WAIT) -> None:
    """Check the limits a user may set; a bad one is a :class:`~strukturbild.errors.ConfigError`.

    The ranges are :class:`FetchLimits`': ``timeout`` (seconds, above 0 and at most a
    day), ``retries`` (0 to :data:`MAX_RETRIES`), ``max_mb`` (MiB, above 0 and at most
    64 GiB) and ``max_wait`` (seconds, above 0 and at most a day).

    Examples
    --------
    >>> check_fetch_options(timeout=30, retries=0, max_mb=1)
    >>> check_fetch_options(retries=-1)
    Traceback (most recent call last):
    ...
    strukturbild.errors.ConfigError: retries must be a whole number from 0 to 10, got -1
    """
    FetchLimits(timeout=timeout, retries=retries, max_mb=max_mb, max_wait=max_wait)


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
