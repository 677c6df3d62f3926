"""The web map's own script and style, shipped as package data (render/assets/)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from strukturbild.render import _assets

from ..conftest import REPO

ASSETS = REPO / "src" / "strukturbild" / "render" / "assets"


def _node() -> str:
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        if os.environ.get("STRUKTURBILD_REQUIRE_GIS_TOOLS"):
            pytest.fail("node is needed to check the map's script (apt-get install nodejs)")
        pytest.skip("node not found (apt-get install nodejs): the map's script is unchecked")
    return node


def test_script_parses(tmp_path: Path) -> None:
    res = subprocess.run([_node(), "--check", str(ASSETS / "map.js")], capture_output=True,
                         text=True)
    assert res.returncode == 0, res.stderr


def test_script_defines_the_draw_function_and_nothing_global_else(tmp_path: Path) -> None:
    """Run the script in node with a stand-in for Leaflet: it must only set
    window.strukturbildDraw, in strict mode, without throwing."""
    probe = tmp_path / "probe.js"
    probe.write_text(
        "'use strict';\n"
        "const vm = require('vm');\n"
        "const fs = require('fs');\n"
        "const ext = (o) => { const F = function () {}; F.extend = ext; "
        "Object.assign(F.prototype, o); return F; };\n"
        "const L = new Proxy({}, {get: (t, k) => k === 'Polyline' || k === 'Control' "
        "|| k === 'Layer' || k === 'Class' ? {extend: ext} : () => ({})});\n"
        "const window = {};\n"
        "const ctx = vm.createContext({L, window, document: {}, console});\n"
        f"vm.runInContext(fs.readFileSync({str(ASSETS / 'map.js')!r}, 'utf8'), ctx);\n"
        "const extra = Object.keys(ctx).filter(k => !['L', 'window', 'document', 'console']"
        ".includes(k));\n"
        "if (extra.length) { throw new Error('globals: ' + extra); }\n"
        "if (typeof window.strukturbildDraw !== 'function') { throw new Error('no draw'); }\n"
        "console.log('ok');\n", encoding="utf-8")
    res = subprocess.run([_node(), str(probe)], capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr


def test_package_data_is_what_the_page_inlines() -> None:
    assert _assets.runtime_js() == (ASSETS / "map.js").read_text(encoding="utf-8")
    assert _assets.map_css() == (ASSETS / "map.css").read_text(encoding="utf-8")
    for name in ("map.js", "map.css"):
        text = (ASSETS / name).read_text(encoding="utf-8")
        assert "http://" not in text and "https://" not in text, name
