"""House rules of the code base: one-way imports, lazy heavy imports, a guarded API."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import strukturbild

from .conftest import REPO

PKG = REPO / "src" / "strukturbild"

#: module → the package modules it may import (ARCHITECTURE.md), private helpers included.
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "config": {"errors"},
    "_validate": {"errors"},
    "io": {"config", "_validate", "errors"},
    "datasets": {"io", "config", "errors", "_scb", "flows"},
    "places": {"flows", "_validate", "errors"},
    "flows": {"_validate", "errors"},
    "roles": {"places", "flows", "config", "errors", "_validate", "io"},
    "links": {"flows", "places", "config", "errors", "_gravity", "_dominant", "_validate"},
    "_gravity": {"errors", "_validate"},
    "_dominant": {"flows", "errors", "_validate"},
    "_lma": {"errors"},
    "regions": {"flows", "links", "config", "errors", "_lma", "_dominant", "_validate"},
    "image": {"errors"},
}
ANALYSIS = {"places", "flows", "roles", "links", "regions", "_gravity", "_dominant", "_lma",
            "config", "errors", "_validate", "io", "image"}
HEAVY = {"folium", "matplotlib", "branca"}


def _imports(path: Path) -> tuple[set[str], set[str]]:
    """(package modules imported, top-level third-party modules imported at module level)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    inner: set[str] = set()
    top: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level >= 1:
                mod = (node.module or "").split(".")[0]
                if mod:
                    inner.add(mod)
                else:
                    inner.update(a.name for a in node.names)
            elif node.module and node.module.startswith("strukturbild"):
                parts = node.module.split(".")
                inner.add(parts[1] if len(parts) > 1 else parts[0])
    for node in tree.body:
        if isinstance(node, ast.Import):
            top.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            top.add(node.module.split(".")[0])
    return inner, top


def test_imports_point_one_way() -> None:
    for name, allowed in ALLOWED.items():
        path = PKG / f"{name}.py"
        if not path.exists():
            continue
        inner, top = _imports(path)
        extra = inner - allowed - {name}
        assert not extra, f"{name}.py imports {sorted(extra)}; allowed: {sorted(allowed)}"
        if name in ANALYSIS:
            assert not (inner & {"render", "export", "cli", "pipeline"}), name
            assert not (top & HEAVY), f"{name}.py imports {top & HEAVY} at module level"


def test_render_imports_only_image_style_config_errors() -> None:
    allowed = {"errors", "image", "config", "style", "_assets", "qml"}
    for path in PKG.glob("render/*.py"):
        inner, _ = _imports(path)
        assert inner <= allowed, f"render/{path.name} imports {sorted(inner - allowed)}"


def test_render_and_export_import_heavy_libraries_lazily() -> None:
    for path in [*PKG.glob("render/*.py"), PKG / "export.py", PKG / "cli.py"]:
        _, top = _imports(path)
        assert not (top & HEAVY), f"{path.name} imports {top & HEAVY} at module level"
    # importing the package does not import folium or matplotlib
    code = ("import sys, strukturbild, strukturbild.cli, strukturbild.export; "
            "print(sorted(m for m in ('folium', 'matplotlib') if m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert res.stdout.strip() == "[]"


def test_public_api_is_guarded() -> None:
    assert strukturbild.__all__ == sorted(strukturbild.__all__)
    for name in strukturbild.__all__:
        assert hasattr(strukturbild, name), name
    public = {n for n in dir(strukturbild) if not n.startswith("_")}
    modules = {n for n in public if type(getattr(strukturbild, n)).__name__ == "module"}
    assert public - modules == set(strukturbild.__all__)
