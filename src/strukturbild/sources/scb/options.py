"""What a user sets for ``fetch scb``: the limits of every request, and the environment.

The defaults are written once, here; :class:`~strukturbild.sources.scb.httpclient.HttpFetcher`,
:func:`~strukturbild.sources.scb.fetch.fetch_scb` and the command line take them from
this module. It imports nothing heavy, so that the command line can build its options
from it without loading the HTTP stack.
"""

from __future__ import annotations

import math
import os
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
