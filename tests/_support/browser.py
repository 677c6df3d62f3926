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


# --------------------------------------------------------------------------- on the map


def assert_clean(log: PageLog) -> None:
    assert log.requests == []
    assert log.console_errors == []
    assert log.page_errors == []
    assert log.dialogs == []


def drawn(page: Any) -> dict[str, int]:
    """What Leaflet has on the map, counted by kind in each layer (0 for a layer off)."""
    return dict(page.evaluate("""() => {
        const s = window.strukturbild, out = {};
        for (const [key, group] of Object.entries(s.groups)) {
            if (!s.map.hasLayer(group)) { out[key] = 0; continue; }
            const kind = (key === 'places' || key === 'context') ? L.CircleMarker
                : (key === 'links' || key === 'weak' || key === 'strak') ? L.Polyline
                : key.startsWith('layer-') ? L.Layer : L.Polygon;
            out[key] = group.getLayers().filter(l => l instanceof kind && s.map.hasLayer(l))
                .length;
        }
        return out;
    }"""))


def pixel(page: Any, latlng: tuple[float, float], path: Path) -> tuple[int, int, int]:
    """The colour the page shows at ``latlng`` (from a screenshot saved to ``path``)."""
    from PIL import Image

    x, y = page.evaluate(f"""() => {{
        const m = window.strukturbild.map, p = m.latLngToContainerPoint([{latlng[0]},
            {latlng[1]}]), r = m.getContainer().getBoundingClientRect();
        return [Math.round(r.left + p.x), Math.round(r.top + p.y)];
    }}""")
    page.screenshot(path=str(path))
    with Image.open(path) as im:
        r, g, b = im.convert("RGB").getpixel((x, y))
    return int(r), int(g), int(b)


def close(rgb: tuple[int, int, int], colour: str, tolerance: int = 6) -> bool:
    want = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    return max(abs(a - b) for a, b in zip(rgb, want, strict=True)) <= tolerance


def click_at(page: Any, latlng_js: str) -> None:
    """Click the map where ``latlng_js`` (a JS expression of a LatLng) is.

    An open popup is closed first, and given the 200 ms it takes to fade out.
    """
    page.evaluate("() => { window.strukturbild.map.closePopup(); }")
    page.wait_for_timeout(250)
    x, y = page.evaluate(f"""() => {{
        const m = window.strukturbild.map, p = m.latLngToContainerPoint({latlng_js}),
              r = m.getContainer().getBoundingClientRect();
        return [r.left + p.x, r.top + p.y];
    }}""")
    page.mouse.click(x, y)
    settle(page)


RECTS = """sel => [...document.querySelectorAll(sel)]
    .filter(e => e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden')
    .map(e => { const r = e.getBoundingClientRect();
                return [r.left, r.top, r.right, r.bottom, e.textContent]; })"""


def overlaps(a: list[Any], b: list[Any]) -> bool:
    return not (a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1])


def labels_clear_of_the_controls(page: Any) -> int:
    """No shown label under the title, the legend, the search box, the zoom buttons, the
    layer list, the scale or the source line; returns how many labels are shown."""
    labels = page.evaluate(RECTS, ".sb-label.sb-on")
    controls = page.evaluate(RECTS, ".leaflet-control")
    assert len(controls) >= 7  # title, zoom, search, layers, legend, scale, source …
    for label in labels:
        for box in controls:
            assert not overlaps(label, box), (label[4], box[4][:40])
    return len(labels)
