"""The web map page as data: what the tests read out of a page, and texts that attack it."""

from __future__ import annotations

import json
import re
from typing import Any

#: (lat, lon) of Nørrebro, Copenhagen (the inner harbour is an inlet of the sea in Natural
#: Earth 1:10m), and of the Öresund between Dragør and Skanör.
COPENHAGEN = (55.69, 12.55)
ORESUND = (55.50, 12.75)
HOSTILE = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(1)</script>"
MIB = 1024 * 1024


def page_data(page: str) -> dict[str, Any]:
    """The data the page hands to its drawing script."""
    m = re.search(r'<script type="application/json" id="strukturbild-data">(.*?)</script>',
                  page, re.DOTALL)
    assert m is not None
    data: dict[str, Any] = json.loads(m.group(1))
    return data
