"""House rules of the code base: the layout and one-way imports of docs/ARCHITECTURE.md.

:data:`TABLE` is read from the table "Layout (``src/strukturbild/``)" of the project's
design document (``docs/ARCHITECTURE.md``): each place, the package modules it may import
(the backticked names of its last column; text in parentheses is commentary). Every
module of the package must belong to a place, and import only what its place allows
(imports inside functions included). The one exception the table itself makes:
``image.py`` imports ``render`` and ``export`` inside its methods (lazily).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

import strukturbild

from .conftest import REPO

PKG = REPO / "src" / "strukturbild"
DESIGN = REPO / "docs" / "ARCHITECTURE.md"
TESTS = REPO / "tests"

ANALYSIS = ("analysis/flows", "analysis/places", "analysis/roles", "analysis/gravity",
            "analysis/links", "analysis/lma", "analysis/dominant", "analysis/regions")


def _names(cell: str) -> list[str]:
    """The backticked names of a table cell, commentary in parentheses left out."""
    depth, kept = 0, []
    for ch in cell:  # drop "( ... )", nested or not
        depth += ch == "("
        if not depth:
            kept.append(ch)
        depth -= ch == ")" and depth > 0
    return re.findall(r"`([^`]+)`", "".join(kept))


def _place_name(name: str) -> str:
    name = name.removesuffix(".py")
    return name[:-1] + "/*" if name.endswith("/") else name


def _design_table() -> dict[str, set[str]]:
    """place → the package modules it may import ("*" for a folder: any module in it)."""
    text = DESIGN.read_text(encoding="utf-8")
    section = text.split("## Layout", 1)[1].split("\n## ", 1)[0]
    table: dict[str, set[str]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        allowed = {"*"} if cells[2] == "everything" else {
            "__init__" if n == "strukturbild" else n for n in _names(cells[2])}
        for place in _names(cells[0]):
            table[_place_name(place)] = allowed
    return table


#: place → the package modules it may import, from the design document.
TABLE: dict[str, set[str]] = _design_table()
#: Imported inside functions only: image's methods delegate to the renderers and writers.
LAZY: dict[str, set[str]] = {"image": {"render/*", "export/*"}}
HEAVY = {"folium", "matplotlib", "branca", "jinja2"}


def _module(path: Path) -> str:
    parts = list(path.relative_to(PKG).with_suffix("").parts)
    return "/".join(parts)


def _place(module: str) -> str | None:
    for place in TABLE:
        if place == module or (place.endswith("/*") and module.startswith(place[:-1])):
            return place
    if module == "__main__":
        return "cli/*"
    if module.endswith("/__init__") and module[: -len("/__init__")] + "/*" in TABLE:
        return module[: -len("/__init__")] + "/*"
    return None


def _target(module: str, node: ast.ImportFrom, name: str | None) -> str:
    here = module.split("/")[:-1]
    if node.level == 0:
        parts = (node.module or "").split(".")[1:]
    else:
        parts = here[: len(here) - (node.level - 1)] + (node.module or "").split(".")
        parts = [p for p in parts if p]
    if name is not None and not node.module:
        # "from .. import x": x is a module when there is one by that name, else a
        # name of the package (its __init__)
        sub = PKG.joinpath(*parts, name)
        if sub.with_suffix(".py").is_file() or sub.is_dir():
            parts = [*parts, name]
    return "/".join(parts) or "__init__"


def _imports(path: Path) -> tuple[set[str], set[str], set[str]]:
    """(package modules imported at module level, inside functions, heavy top-level)."""
    module = _module(path)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top: set[str] = set()
    inner: set[str] = set()
    heavy: set[str] = set()
    body_nodes = {id(n) for n in tree.body}

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.ImportFrom) and (
                    child.level > 0 or (child.module or "").startswith("strukturbild")):
                names = [a.name for a in child.names] if not child.module else [None]
                for n in names:
                    (inner if nested else top).add(_target(module, child, n))
            elif id(child) in body_nodes:
                if isinstance(child, ast.Import):
                    heavy.update(a.name.split(".")[0] for a in child.names)
                elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                    heavy.add(child.module.split(".")[0])
            visit(child, nested)

    visit(tree, False)
    return top, inner, heavy & HEAVY


def _allowed(target: str, allowed: set[str]) -> bool:
    if "*" in allowed:
        return True
    for a in allowed:
        if a == target or (a.endswith("/*") and target.startswith(a[:-1])):
            return True
        if a == target + "/__init__" or target == a + "/__init__":
            return True
    if target + "/*" in allowed:
        return True
    return target.endswith("/__init__") and target[: -len("/__init__")] + "/*" in allowed


def _is_type_checking(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _as_module(target: str) -> str:
    """An import target as a module of the package ("render" → "render/__init__")."""
    if target != "__init__" and (PKG / target).is_dir():
        return target + "/__init__"
    return target


def _runtime_imports(path: Path) -> set[str]:
    """The package modules ``path`` imports when it runs: at module level or inside
    functions, ``if TYPE_CHECKING:`` blocks left out (they never run)."""
    module = _module(path)
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.ImportFrom) and (
                    child.level > 0 or (child.module or "").startswith("strukturbild")):
                names = [a.name for a in child.names] if not child.module else [None]
                found.update(_as_module(_target(module, child, n)) for n in names)
            elif isinstance(child, ast.Import):
                found.update(_as_module("/".join(a.name.split(".")[1:]) or "__init__")
                             for a in child.names if a.name.split(".")[0] == "strukturbild")
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    found.discard(module)
    return found


def import_graph() -> dict[str, set[str]]:
    """module → the package modules it imports at run time. The package's ``__init__``
    imports its public names' modules when they are first used (PEP 562): those count
    as its imports too."""
    graph = {_module(p): _runtime_imports(p) for p in sorted(PKG.rglob("*.py"))}
    graph["__init__"] |= {_as_module(m.lstrip(".").replace(".", "/"))
                          for m in strukturbild._WHERE.values()}
    return graph


def import_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The circles of the import graph: its strongly connected components of more than
    one module (Tarjan's algorithm), each sorted, largest first."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return sorted(circles, key=lambda c: (-len(c), c))


def imports_back_up(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Imports that run back up: ``a`` imports ``b`` although ``b`` (through its own
    imports) already imports ``a``; each closes a circle."""
    circle_of = {m: i for i, c in enumerate(import_circles(graph)) for m in c}
    return sorted((a, b) for a, targets in graph.items() for b in targets
                  if a in circle_of and circle_of.get(b) == circle_of[a])


def test_every_module_has_a_place() -> None:
    homeless = [_module(p) for p in PKG.rglob("*.py") if _place(_module(p)) is None
                and not _module(p).endswith("__init__")]
    assert homeless == [], f"modules outside the layout of ARCHITECTURE.md: {homeless}"


@pytest.mark.parametrize("path", [p for p in sorted(PKG.rglob("*.py"))
                                  if _place(_module(p)) is not None], ids=lambda p: _module(p))
def test_imports_point_one_way(path: Path) -> None:
    module = _module(path)
    place = _place(module)
    assert place is not None
    top, inner, heavy = _imports(path)
    allowed = TABLE[place]
    bad = sorted(t for t in top if not _allowed(t, allowed))
    bad += sorted(t for t in inner if not _allowed(t, allowed | LAZY.get(place, set())))
    assert not bad, f"{module} ({place}) imports {bad}; allowed: {sorted(allowed)}"
    assert not heavy, f"{module} imports {sorted(heavy)} at module level (import it lazily)"


def test_import_graph_has_no_circles() -> None:
    """No module imports (at run time, through any chain) a module that imports it.

    Issue 17 measured on 0.3's branch before the change: one circle
    (image → export/geopackage, export/outputs → image) with 5 imports running back
    up; render/ had already moved ``StructureImage`` under ``TYPE_CHECKING``."""
    graph = import_graph()
    # the graph was read, imports inside functions included (image's lazy ones)
    assert len(graph) > 50 and {"render/web", "export/outputs"} <= graph["image"]
    assert import_circles(graph) == []
    assert imports_back_up(graph) == []


def test_import_circle_finder_finds_circles() -> None:
    """The finder itself: a made-up graph with one circle of three and a tail."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"a"}}
    assert import_circles(graph) == [["a", "b", "c"]]
    assert imports_back_up(graph) == [("a", "b"), ("b", "c"), ("c", "a")]
    assert import_circles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("folder", ["render", "export"])
def test_renderers_and_writers_take_the_image_for_typing_only(folder: str) -> None:
    """image.py calls render/ and export/; they see ``StructureImage`` only under
    ``TYPE_CHECKING`` (the arrow runs image → render/export, never back)."""
    graph = import_graph()
    back = sorted(m for m in graph if m.startswith(folder + "/") and "image" in graph[m])
    assert back == []
    assert any(m.startswith(folder + "/") for m in graph)


def test_analysis_never_draws_or_writes() -> None:
    for name in ANALYSIS:
        top, inner, _ = _imports(PKG / f"{name}.py")
        assert not {t.split("/")[0] for t in top | inner} & {"render", "export", "sources",
                                                              "cli", "pipeline", "readers"}
        text = (PKG / f"{name}.py").read_text(encoding="utf-8")
        assert not re.search(r"^\s*(import|from) (folium|matplotlib|branca)", text, re.M), name


def test_design_document_table_is_read() -> None:
    """The table was found and says what the layout is known to be (guards the parser)."""
    for place in ("errors", "config", "readers", "_validate", "_files", "_sqlite", "_where",
                  "analysis/flows", "analysis/places", "analysis/roles", "analysis/gravity",
                  "analysis/links", "analysis/lma", "pipeline", "image", "sources/*",
                  "render/*", "export/*", "cli/*", "__init__"):
        assert place in TABLE, place
    assert TABLE["analysis/roles"] == {"analysis/places", "analysis/flows", "config", "errors"}
    assert TABLE["analysis/gravity"] == {"errors"}
    assert TABLE["image"] == {"errors", "config"}
    assert TABLE["cli/*"] == {"__init__", "errors", "cli/*"}
    assert TABLE["__init__"] == {"*"}


def test_importing_the_package_does_not_import_folium_or_matplotlib() -> None:
    code = ("import sys, strukturbild, strukturbild.cli, strukturbild.export.geopackage; "
            "print(sorted(m for m in ('folium', 'matplotlib') if m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert res.stdout.strip() == "[]"


def test_public_api_is_guarded() -> None:
    # sorted as ruff's RUF022 sorts it: constants, then classes, then functions
    assert strukturbild.__all__ == sorted(strukturbild.__all__, key=lambda n: (
        0 if n.isupper() else 1 if n[0].isupper() else 2, n))
    for name in strukturbild.__all__:
        assert hasattr(strukturbild, name), name
    public = {n for n in dir(strukturbild) if not n.startswith("_")}
    modules = {n for n in public if type(getattr(strukturbild, n)).__name__ == "module"}
    assert public - modules == set(strukturbild.__all__)


@pytest.mark.parametrize("old", ["io", "flows", "places", "roles", "links", "regions",
                                 "_gravity", "_lma", "_dominant", "_scb", "_cli_regions",
                                 "_cli_fetch"])
def test_modules_of_01_are_gone(old: str) -> None:
    """0.2 kept 0.1's module paths for one release (an import hook); 0.3 retired them."""
    code = (f"import importlib\ntry:\n    importlib.import_module('strukturbild.{old}')\n"
            "except ModuleNotFoundError:\n    print('gone')\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert res.stdout.strip() == "gone"


def test_no_import_hook_and_no_deprecated_names() -> None:
    code = ("import sys, strukturbild\n"
            "print([type(f).__name__ for f in sys.meta_path if 'Moved' in type(f).__name__],"
            " hasattr(strukturbild, 'load_designations'))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert res.stdout.strip() == "[] False"


def test_help_and_import_load_no_heavy_module() -> None:
    """`import strukturbild` and `strukturbild --help` stay quick: nothing of pandas,
    numpy, GDAL or requests is imported for them (benchmarks/bench_startup.py times it)."""
    code = ("import sys, contextlib, io, strukturbild\n"
            "from strukturbild.cli import main\n"
            "for argv in (['--help'], ['regions', '--help'], ['fetch', 'scb', '--help']):\n"
            "    with contextlib.redirect_stdout(io.StringIO()):\n"
            "        assert main(argv) == 0\n"
            "print(sorted(m for m in ('pandas', 'numpy', 'geopandas', 'pyogrio', 'shapely',"
            " 'requests', 'folium', 'matplotlib') if m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert res.stdout.strip() == "[]"


def test_lazy_names_are_the_public_api() -> None:
    """Every name of ``__all__`` has a module to come from, and only those do."""
    assert set(strukturbild._WHERE) == set(strukturbild.__all__)
    assert strukturbild.__version__ == strukturbild.package_version()


# --------------------------------------------------------------------------- the tests


def _test_modules_imported(path: Path, root: Path = REPO) -> list[str]:
    """The test modules (``test_*``) that ``path``, a module of ``root/tests/``, imports:
    relative or absolute, at module level or inside functions."""
    package = list(path.relative_to(root).parent.parts)  # ["tests", "render"]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name.split(".") for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = base + (node.module.split(".") if node.module else [])
            # "from . import test_web" imports a module by the name it gives
            targets = [module] if node.module else [[*module, a.name] for a in node.names]
        else:
            continue
        found += [".".join(t) for t in targets if any(p.startswith("test_") for p in t)]
    return found


def test_no_test_module_imports_another() -> None:
    """What several test modules use is a fixture of the ``conftest.py`` that serves them
    all, or a helper of ``tests/_support/``: never another test module."""
    bad = {str(p.relative_to(TESTS)): found for p in sorted(TESTS.rglob("*.py"))
           if (found := _test_modules_imported(p))}
    assert bad == {}, f"test modules imported from other modules of tests/: {bad}"


def test_the_guard_on_test_imports_sees_every_form(tmp_path: Path) -> None:
    """Relative, absolute and ``from . import`` forms are all caught (guards the check)."""
    (tmp_path / "tests" / "render").mkdir(parents=True)
    probe = tmp_path / "tests" / "render" / "test_probe.py"
    probe.write_text("from .test_web import page_data\nfrom .. import test_hostile\n"
                     "from ..conftest import REPO\nfrom .._support.web import page_data\n"
                     "def f():\n    import tests.export.test_export\n", encoding="utf-8")
    assert _test_modules_imported(probe, tmp_path) == [
        "tests.render.test_web", "tests.test_hostile", "tests.export.test_export"]


def _documented_tests() -> dict[str, set[str]]:
    """folder of tests/ → its test modules, from the table of the design document's
    section "Tests" (backticked names; text in parentheses is commentary)."""
    text = DESIGN.read_text(encoding="utf-8")
    section = text.split("\n## Tests", 1)[1].split("\n## ", 1)[0]
    table: dict[str, set[str]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0].startswith("`tests/"):
            (folder,) = _names(cells[0])
            table[folder.rstrip("/")] = {n for n in _names(cells[1]) if n.startswith("test_")}
    return table


def test_tests_mirror_the_package_as_documented() -> None:
    """Each folder of tests/ with test modules is a folder of the package (the tests of
    ``src/strukturbild/render/`` are in ``tests/render/``), and the design document's
    table lists every test module in its folder."""
    actual: dict[str, set[str]] = {}
    for path in TESTS.rglob("test_*.py"):
        folder = path.parent.relative_to(REPO).as_posix()
        actual.setdefault(folder, set()).add(path.stem)
    for folder in actual:
        sub = Path(folder).relative_to("tests")
        assert sub == Path() or (PKG / sub).is_dir(), f"{folder} mirrors no package folder"
    assert _documented_tests() == actual
