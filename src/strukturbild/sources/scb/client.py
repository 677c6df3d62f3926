"""The SCB client in one import: HTTP, cache, limits, PxWebApi 2, JSON-stat and WFS.

The client is split by concern; this module gathers their public names, so that
``strukturbild.sources.scb.client`` (0.2's path) keeps working:

- :mod:`.options`: the limits a user sets (defaults written once) and the
  environment variables;
- :mod:`.httpclient`: :class:`HttpFetcher` (retries, redirects, size caps, waits),
  :class:`RateLimiter`, the request log;
- :mod:`.deadline`: the wall-clock deadline of one request (a watchdog on its sockets);
- :mod:`.cache`: :class:`ResponseCache`, raw responses on disk with their checksums;
- :mod:`.jsonstat`: :func:`decode_jsonstat2`;
- :mod:`.pxweb`: :class:`PxWebClient`, :class:`TableMeta`, :class:`ApiLimits`,
  :func:`split_selection`;
- :mod:`.wfs`: :class:`WfsClient`.

Examples
--------
>>> from strukturbild.sources.scb import client, httpclient
>>> client.HttpFetcher is httpclient.HttpFetcher
True
"""

from __future__ import annotations

from ...errors import FetchError
from .cache import CachedResponse, ResponseCache
from .httpclient import (
    CONNECT_TIMEOUT,
    MAX_REDIRECTS,
    RETRY_STATUSES,
    HttpFetcher,
    RateLimiter,
    RequestRecord,
)
from .jsonstat import MAX_CELLS, decode_jsonstat2
from .options import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_TOTAL_WAIT,
    DEFAULT_MAX_WAIT,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    ENV_API_URL,
    ENV_CACHE_DIR,
    ENV_WFS_URL,
    MAX_RETRIES,
    check_fetch_options,
    env_or,
)
from .pxweb import DEFAULT_API_URL, ApiLimits, PxWebClient, TableMeta, split_selection
from .wfs import DEFAULT_MAX_FEATURES, DEFAULT_MAX_PAGES, DEFAULT_WFS_URL, WfsClient

__all__ = [
    "CONNECT_TIMEOUT",
    "DEFAULT_API_URL",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_FEATURES",
    "DEFAULT_MAX_PAGES",
    "DEFAULT_MAX_TOTAL_WAIT",
    "DEFAULT_MAX_WAIT",
    "DEFAULT_RETRIES",
    "DEFAULT_TIMEOUT",
    "DEFAULT_WFS_URL",
    "ENV_API_URL",
    "ENV_CACHE_DIR",
    "ENV_WFS_URL",
    "MAX_CELLS",
    "MAX_REDIRECTS",
    "MAX_RETRIES",
    "RETRY_STATUSES",
    "ApiLimits",
    "CachedResponse",
    "FetchError",
    "HttpFetcher",
    "PxWebClient",
    "RateLimiter",
    "RequestRecord",
    "ResponseCache",
    "TableMeta",
    "WfsClient",
    "check_fetch_options",
    "decode_jsonstat2",
    "env_or",
    "split_selection",
]
