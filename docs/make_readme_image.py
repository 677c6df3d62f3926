#!/usr/bin/env python3
"""Make ``docs/skane.png``, the README's picture: the bundled example's web map as a new
user sees it, opened offline in headless Chromium (Debian's ``/usr/bin/chromium``,
driven by Playwright; see ``tests/_support/browser.py``) at 1200 x 900 pixels.

Run from the repository root: ``python docs/make_readme_image.py``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests._support.browser import PageLog, browser, chromium_missing, open_map  # noqa: E402


def main() -> int:
    why = chromium_missing()
    if why:
        print(why, file=sys.stderr)
        return 2
    from strukturbild import build, example_project

    image = build(example_project())
    with tempfile.TemporaryDirectory() as tmp:
        page_path = Path(tmp) / "skane.html"
        page_path.write_bytes(image.render("html"))
        with browser(Path(tmp) / "profile") as context:
            log = PageLog()
            page = open_map(context, page_path, log, viewport=(1200, 900))
            page.wait_for_timeout(200)
            page.screenshot(path=str(REPO / "docs" / "skane.png"))
            if log.requests or log.console_errors or log.page_errors:
                print(f"the page was not clean: {log}", file=sys.stderr)
                return 1
    print(REPO / "docs" / "skane.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
