"""Open saved maps in headless Chromium with the network blocked (for the browser tests).

Debian's ``/usr/bin/chromium`` is driven by Playwright's Python package; no browser is
ever downloaded (``playwright install`` is never run). Every request that is not
for a ``file:`` or ``data:`` URL is aborted and counted, and console errors, page
errors and dialogs are collected, so a test can assert that a map opened offline
and cleanly.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("STRUKTURBILD_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


#: Marks the time (ms since navigation) two frames after the load event: every script
#: of the page has run and the frame after it, which paints the canvas, is done.
DRAWN_AT = (
    "window.addEventListener('load', () => requestAnimationFrame(() => "
    "requestAnimationFrame(() => { window.__drawnAt = performance.now(); })));"
)


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        return f"chromium not found at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed"
    return None


@dataclass
class PageLog:
    """What a page did besides drawing."""

    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


@contextmanager
def browser(user_data_dir: Path) -> Iterator[Any]:
    """A fresh headless Chromium (persistent context in ``user_data_dir``)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(user_data_dir), executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
            viewport={"width": 1280, "height": 860},
        )
        try:
            yield context
        finally:
            context.close()


#: Answers a URL with (body, content type), or None to abort the request.
Serve = Callable[[str], "tuple[bytes, str] | None"]


def open_map(context: Any, path: Path, log: PageLog, *,
             viewport: tuple[int, int] = (1280, 860), serve: Serve | None = None) -> Any:
    """Open ``path`` in a new page with the network blocked; wait until it is drawn.

    Every request but the page's own and ``data:`` URLs is counted in ``log``; those
    not for a ``file:`` URL are aborted, unless ``serve`` answers them from local
    files (the benchmark serves the CDN assets of a ``geopandas.explore()`` map so).
    """
    page = context.new_page()
    page.set_viewport_size({"width": viewport[0], "height": viewport[1]})

    def route(r: Any) -> None:
        url = r.request.url
        answer = None if url.startswith(("file:", "data:")) or serve is None else serve(url)
        if url.startswith(("file:", "data:")):
            r.continue_()
        elif answer is not None:
            r.fulfill(status=200, body=answer[0], content_type=answer[1])
        else:
            r.abort()

    document = path.resolve().as_uri()

    def on_request(req: Any) -> None:
        # everything but the page itself counts, files too (an injected <img src=x>)
        if req.url != document and not req.url.startswith("data:"):
            log.requests.append(req.url)

    def on_console(msg: Any) -> None:
        if msg.type == "error":
            log.console_errors.append(msg.text)

    def on_dialog(d: Any) -> None:
        log.dialogs.append(d.message)
        d.dismiss()

    page.add_init_script(DRAWN_AT)
    page.route("**/*", route)
    page.on("request", on_request)
    page.on("console", on_console)
    page.on("pageerror", lambda exc: log.page_errors.append(str(exc)))
    page.on("dialog", on_dialog)
    page.goto(document, wait_until="load")
    page.wait_for_function("window.__drawnAt !== undefined")
    return page


def drawn_at(page: Any) -> float:
    """Milliseconds from navigation until the page was drawn (see :data:`DRAWN_AT`)."""
    return float(page.evaluate("window.__drawnAt"))


def settle(page: Any) -> None:
    """Wait two animation frames, so that a change to the map is drawn."""
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => "
                  "requestAnimationFrame(() => r(0))))")
