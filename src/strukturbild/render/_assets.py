"""Everything the web map inlines into its one HTML file, and the offline check.

Leaflet's script and stylesheet are read at build time from the installed PyPI
package ``django-js-lib-leaflet`` (Leaflet 1.9.4 as plain files, BSD-2-Clause,
no dependencies); nothing of Leaflet is kept in this repository. The images its
stylesheet names (the layer-control icon, the default marker) become ``data:`` URIs,
and the source-map comment is dropped, so the page asks the network for nothing.

:func:`check_offline` fails the build with :class:`OnlineAssetError` when a page
still loads a script or stylesheet over the network.

The map's own script (``assets/map.js``, :func:`runtime_js`) decodes the compact data the page
carries and draws it with Leaflet's canvas renderer; ``assets/map.css`` styles it.
"""

from __future__ import annotations

import base64
import json
import re
from functools import lru_cache
from html.parser import HTMLParser
from importlib import metadata, resources
from typing import Any

from ..errors import AssetError, OnlineAssetError

__all__ = [
    "LEAFLET_PACKAGE",
    "LEAFLET_VERSION",
    "AssetError",
    "OnlineAssetError",
    "check_offline",
    "leaflet_css",
    "leaflet_js",
    "leaflet_licence",
    "map_css",
    "runtime_js",
    "script_json",
]

#: The PyPI package that ships Leaflet's files, and the Leaflet version it must hold.
LEAFLET_PACKAGE = "django-js-lib-leaflet"
LEAFLET_VERSION = "1.9.4"
_MODULE = "js_lib_leaflet"
_STATIC = "static/js_lib_leaflet"


def _static_text(name: str) -> str:
    try:
        root = resources.files(_MODULE)
    except ModuleNotFoundError:
        raise AssetError(
            f"the web map inlines Leaflet {LEAFLET_VERSION} from the package "
            f"'{LEAFLET_PACKAGE}', which is not installed: "
            f"pip install '{LEAFLET_PACKAGE}==1.9.4.1'"
        ) from None
    return (root / _STATIC / name).read_text(encoding="utf-8")


def _static_bytes(name: str) -> bytes:
    return (resources.files(_MODULE) / _STATIC / name).read_bytes()


@lru_cache(maxsize=1)
def leaflet_js() -> str:
    """Leaflet's minified script, without its source-map comment.

    Raises
    ------
    AssetError
        The package is missing or holds another Leaflet version.

    Examples
    --------
    >>> 'version="1.9.4"' in leaflet_js() and "sourceMappingURL" not in leaflet_js()
    True
    """
    js = _static_text("leaflet.js")
    if f't.version="{LEAFLET_VERSION}"' not in js:
        raise AssetError(
            f"'{LEAFLET_PACKAGE}' does not hold Leaflet {LEAFLET_VERSION}: "
            f"pip install '{LEAFLET_PACKAGE}==1.9.4.1'"
        )
    js = re.sub(r"\n//# sourceMappingURL=\S*\s*$", "\n", js)
    return js.replace("</script", "<\\/script")


@lru_cache(maxsize=1)
def leaflet_css() -> str:
    """Leaflet's stylesheet with its images inlined as ``data:`` URIs.

    Examples
    --------
    >>> css = leaflet_css()
    >>> "url(data:image/png;base64," in css and "images/" not in css
    True
    """
    css = _static_text("leaflet.css")

    def inline(match: re.Match[str]) -> str:
        data = base64.b64encode(_static_bytes(match.group(1))).decode("ascii")
        return f"url(data:image/png;base64,{data})"

    return re.sub(r"url\((images/[A-Za-z0-9_.-]+\.png)\)", inline, css)


@lru_cache(maxsize=1)
def leaflet_licence() -> str:
    """Leaflet's licence (BSD-2-Clause), carried in every page that inlines it.

    Examples
    --------
    >>> "BSD 2-Clause" in leaflet_licence()
    True
    """
    try:
        dist = metadata.distribution(LEAFLET_PACKAGE)
    except metadata.PackageNotFoundError:  # pragma: no cover - leaflet_js fails first
        raise AssetError(f"'{LEAFLET_PACKAGE}' is not installed") from None
    text = dist.read_text("LICENSE") or "BSD 2-Clause License, (c) Volodymyr Agafonkin"
    return text.replace("--", "- -").strip()


def script_json(obj: Any) -> str:
    """JSON that is safe inside an inline ``<script>``: ``<``, ``>`` and ``&`` escaped.

    Non-ASCII letters stay as they are (the page is UTF-8), so å, ä and ö cost
    two bytes, not six.

    Examples
    --------
    >>> script_json({"n": "</script><b>Å"})
    '{"n":"\\\\u003c/script\\\\u003e\\\\u003cb\\\\u003eÅ"}'
    """
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


_ONLINE = re.compile(r"^\s*(?:https?:)?//", re.IGNORECASE)
_CSS_ONLINE = re.compile(r"""(?:@import\s+|url\(\s*)['"]?\s*((?:https?:)?//[^'")\s;]+)""",
                         re.IGNORECASE)


class _AssetScanner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.online: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "script" and _ONLINE.match(a.get("src", "")):
            self.online.append(a["src"])
        elif tag == "link":
            rel = a.get("rel", "").lower().split()
            if {"stylesheet", "preload", "modulepreload", "import"} & set(rel) and \
                    _ONLINE.match(a.get("href", "")):
                self.online.append(a["href"])
        elif tag == "style":
            self._in_style = True
        if "style" in a:
            self.online.extend(_CSS_ONLINE.findall(a["style"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.online.extend(_CSS_ONLINE.findall(data))


def check_offline(page: str) -> None:
    """Raise :class:`OnlineAssetError` if ``page`` loads a script or stylesheet online.

    Looks at ``<script src>``, ``<link rel=stylesheet|preload|modulepreload href>``,
    and ``@import`` / ``url()`` in ``<style>`` and ``style`` attributes. Links in
    text (an attribution's ``<a href>``) and tile URLs in scripts are not assets
    the page needs to open.

    Examples
    --------
    >>> check_offline("<script>var a = 1;</script>")
    >>> check_offline('<link rel="stylesheet" href="https://cdn.example/x.css">')
    Traceback (most recent call last):
    ...
    strukturbild.errors.OnlineAssetError: the page loads 1 script or stylesheet \
from the network, but must open offline: https://cdn.example/x.css
    """
    scanner = _AssetScanner()
    scanner.feed(page)
    scanner.close()
    if scanner.online:
        urls = sorted(set(scanner.online))
        raise OnlineAssetError(
            f"the page loads {len(urls)} script or stylesheet from the network, but must "
            f"open offline: {', '.join(urls)}"
        )


def _own(name: str) -> str:
    """One of the map's own files, shipped as package data in ``render/assets``."""
    ref = resources.files("strukturbild.render") / "assets" / name
    try:
        return ref.read_text(encoding="utf-8")
    except OSError as exc:  # pragma: no cover - a broken installation
        raise AssetError(f"the package file render/assets/{name} is missing: {exc}") from None


def map_css() -> str:
    """The map's own style (legend, title, labels, popups, print): ``assets/map.css``.

    Examples
    --------
    >>> ".sb-legend" in map_css()
    True
    """
    return _own("map.css")


def runtime_js() -> str:
    """The map's own script, which draws the data (``assets/map.js``).

    Examples
    --------
    >>> "strukturbildDraw" in runtime_js()
    True
    """
    return _own("map.js")

