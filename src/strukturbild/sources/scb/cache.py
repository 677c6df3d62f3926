"""The on-disk cache of raw responses: body, request, checksum and history.

Every raw response is cached on disk with its request and SHA-256 checksum, so a
second run, or a CI run, works offline from the cache; a response that changed since
it was cached is detected and recorded.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..._files import atomic_path
from ...errors import FetchError, StrukturbildWarning
from .answers import loads

__all__ = ["MAX_RECORD_BYTES", "CachedResponse", "ResponseCache"]

#: The largest record (``<key>.json``: request, checksum, history) read: 4 MiB holds
#: tens of thousands of changes of one answer; a larger one is not ours.
MAX_RECORD_BYTES = 4 * 2**20


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
        """The entry's record (request, checksum, history), or None.

        A record that cannot be read (larger than :data:`MAX_RECORD_BYTES`, nested
        too deeply, not JSON) is warned about and taken as missing.
        """
        _, mpath = self._paths(method, url, body)
        if not mpath.is_file():
            return None
        try:
            size = mpath.stat().st_size
            if size > MAX_RECORD_BYTES:
                raise ValueError(f"{size:,} bytes, more than a record may have")
            rec: Any = loads(mpath.read_bytes())
        except (OSError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
            warnings.warn(f"cache record {mpath} is unreadable ({exc}); ignored",
                          StrukturbildWarning, stacklevel=3)
            return None
        return rec if isinstance(rec, dict) else None

    def get(self, method: str, url: str, body: bytes | None, *,
            max_bytes: int | None = None) -> CachedResponse | None:
        """The cached response, or None when there is none or it fails its checksum.

        A cached body larger than ``max_bytes`` is refused before it is read: a
        :class:`~strukturbild.errors.FetchError` that names the file.
        """
        bpath, _ = self._paths(method, url, body)
        rec = self.meta(method, url, body)
        if rec is None or not bpath.is_file():
            return None
        size = bpath.stat().st_size
        if max_bytes is not None and size > max_bytes:
            raise FetchError(f"the cached answer {bpath} is {size / 2**20:.4g} MiB, more than "
                             f"the {max_bytes / 2**20:.4g} MiB allowed (--max-mb); it was not "
                             "read. Delete it, or give a larger --max-mb", source=url)
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

