"""The README's project-file reference ("## The project file") against the dataclasses.

Every key the reference writes is a field of the dataclass its table is read into, every
field is written there, and every value shown is the field's default, unless the
default is "nothing" (``None``, ``""``, an empty tuple: the value is an example) or the
key's comment names the default (``… or other (default)``). Keys written as comments
(``# max_distance_km = 50``) count as written; the region methods' keys are the comment
lines of ``[regions]`` (``# lma: min_size = 1000, …``). The reference as a whole must
also load as a project.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import MISSING, Field, fields, is_dataclass
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin, get_type_hints

import pytest

from strukturbild import ConfigError
from strukturbild.config import (
    DECAY_FORMS,
    REGION_METHODS,
    LinkParams,
    MapOptions,
    Project,
    RegionParams,
    RoleDef,
    RoleRule,
    RoleScheme,
    project_from_dict,
)

from .conftest import REPO

#: Fields the file writes under another key.
KEYS: dict[type, dict[str, str]] = {RoleScheme: {"name": "scheme", "roles": "role"},
                                    RoleDef: {"label_sv": "label"}}
#: Fields that are written in another table, or not in the file at all.
ELSEWHERE: dict[type, set[str]] = {
    # [project]; [regions] (the method's keys: _regions); path is the file itself
    Project: {"name", "title", "crs", "regions", "path"},
    MapOptions: {"language"},  # [project] language
    LinkParams: {"form"},  # written as its keys (FORMS)
}
#: Fields whose params classes the file writes flat in the same table: [links] holds
#: every model form's keys beside ``decay`` (link_params).
FORMS: dict[type, tuple[type, ...]] = {LinkParams: tuple(DECAY_FORMS.values())}


def _reference() -> str:
    section = (REPO / "README.md").read_text(encoding="utf-8").split(
        "\n## The project file\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```toml\n(.*?)```", section, flags=re.S)
    assert match, "the README's section 'The project file' has no TOML block"
    return match.group(1)


def _comment(line: str) -> tuple[str, str]:
    """(the line before its comment, the comment): a '#' inside a string is text."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            return line[:i].rstrip(), line[i + 1:].strip()
    return line.rstrip(), ""


class Notes:
    """What the block says beside the TOML: each key's comment, the keys written as
    comments, and the region methods' keys."""

    def __init__(self, text: str) -> None:
        self.comments: dict[tuple[str, str], str] = {}
        self.commented: dict[str, dict[str, str]] = {}  # table → key → value text
        self.methods: dict[str, str] = {}  # region method → its "key = value, …" text
        table, last, method = "", None, None
        for line in text.splitlines():
            if m := re.match(r"\[\[?([\w.]+)\]\]?", line):
                table, last, method = m.group(1), None, None
            elif m := re.match(r"# (\w+):\s+(.*)", line):
                method, last = m.group(1), None
                self.methods[method] = m.group(2)
            elif m := re.match(r"#\s{2,}(\S.*)", line):
                assert method, line
                self.methods[method] += " " + m.group(1)
            elif m := re.match(r"# (\w+) = (.*)", line):
                value, comment = _comment(m.group(2))
                self.commented.setdefault(table, {})[m.group(1)] = value
                last, method = (table, m.group(1)), None
                self.comments[last] = comment
            elif m := re.match(r"(\w+) = (.*)", line):
                last, method = (table, m.group(1)), None
                self.comments[last] = _comment(m.group(2))[1]
            elif (m := re.match(r"\s+# ?(.*)", line)) and last is not None:
                self.comments[last] += " " + m.group(1)


def _empty(default: Any) -> bool:
    return default is None or default is MISSING or default in ("", (), {})


def _default(f: Field[Any]) -> Any:
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    return MISSING


def _same(value: Any, default: Any) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return value is default
    if isinstance(default, Path):
        return value == str(default)
    if isinstance(default, tuple):
        return isinstance(value, list) and tuple(value) == default
    return bool(value == default)


def _dataclass_of(hint: Any) -> tuple[type | None, bool]:
    """(the dataclass a field holds, whether it holds a tuple of them)."""
    members = get_args(hint) if get_origin(hint) in (Union, UnionType) else (hint,)
    for m in members:
        if is_dataclass(m):
            return m, False  # type: ignore[return-value]
        if get_origin(m) is tuple and is_dataclass(get_args(m)[0]):
            return get_args(m)[0], True
    return None, False


def _check_default(where: str, value: Any, default: Any, comment: str) -> list[str]:
    if _empty(default) or _same(value, default):
        return []
    shown = str(default).lower() if isinstance(default, bool) else str(default)
    named = re.search(rf"{re.escape(shown)} \(default\)|default:? {re.escape(shown)}\b",
                      comment)
    return [] if named else [f"{where} = {value!r}, but the default is {default!r} (and the "
                             f"comment does not say so)"]


def _walk(name: str, table: dict[str, Any], cls: type, notes: Notes) -> list[str]:
    """The differences between the README's table ``name`` and the dataclass ``cls``."""
    keys = KEYS.get(cls, {})
    hints = get_type_hints(cls)
    expected = {keys.get(f.name, f.name): f for f in fields(cls)  # type: ignore[arg-type]
                if f.name not in ELSEWHERE.get(cls, set())}
    for form in FORMS.get(cls, ()):
        hints |= get_type_hints(form)
        for f in fields(form):  # a key of two forms (beta): the same default in each
            assert f.name not in expected or _default(expected[f.name]) == _default(f)
            expected[f.name] = f
    commented = notes.commented.get(name, {})
    written = set(table) | set(commented)
    problems = [f"[{name}] {k}: not a field of {cls.__name__}" for k in sorted(written - set(
        expected))]
    problems += [f"[{name}] lacks {k} ({cls.__name__}.{expected[k].name})"
                 for k in sorted(set(expected) - written)]
    for key, f in expected.items():
        if key not in written:
            continue
        if key in commented:  # a key shown as a comment has no default: it is optional
            if _default(f) is not None:
                problems.append(f"[{name}] {key} is shown commented out, but its default is "
                                f"{_default(f)!r}")
            continue
        value = table[key]
        sub, many = _dataclass_of(hints[f.name])
        if f.name == "columns":
            allowed = f.metadata["columns"]
            if set(value) != set(allowed):
                problems.append(f"[{name}.columns] writes {sorted(value)}, the canonical "
                                f"columns are {sorted(allowed)}")
        elif sub is not None and many and all(isinstance(v, dict) for v in value):
            for item in value:
                problems += _walk(f"{name}.{key}" if name else key, item, sub, notes)
        elif sub is RoleRule:  # written as text
            for rule in value:
                try:
                    RoleRule.parse(rule)
                except ConfigError as exc:
                    problems.append(f"[{name}] {key}: {exc}")
        elif sub is not None and isinstance(value, dict):
            problems += _walk(f"{name}.{key}" if name else key, value, sub, notes)
        else:
            problems += _check_default(f"{name}.{key}", value, _default(f),
                                       notes.comments.get((name, key), ""))
    return problems


def _regions(table: dict[str, Any], notes: Notes) -> list[str]:
    problems = [f"[regions] {k}: not a key of [regions] besides the method's"
                for k in sorted(set(table) - {"method"})]
    problems += _check_default("regions.method", table.get("method"), RegionParams().method,
                               notes.comments.get(("regions", "method"), ""))
    if set(notes.methods) != set(REGION_METHODS):
        problems.append(f"[regions] documents the methods {sorted(notes.methods)}, there are "
                        f"{sorted(REGION_METHODS)}")
    for method, text in notes.methods.items():
        cls = REGION_METHODS.get(method)
        if cls is None:
            continue
        pairs = dict(re.findall(r"(\w+) = (\[[^\]]*\]|\"[^\"]*\"|[-\w.]+)", text))
        expected = {f.name: f for f in fields(cls)}
        problems += [f"[regions] {method}: {k} is not a key of {cls.__name__}"
                     for k in sorted(set(pairs) - set(expected))]
        problems += [f"[regions] {method}: lacks {k}" for k in sorted(set(expected) - set(pairs))]
        for key, f in expected.items():
            if key not in pairs:
                continue
            try:
                value = tomllib.loads(f"v = {pairs[key]}")["v"]
            except tomllib.TOMLDecodeError:  # an example with "…": only for empty defaults
                value = pairs[key]
            problems += _check_default(f"regions.{key} ({method})", value, _default(f), text)
    return problems


def reference_problems(text: str) -> list[str]:
    """Every difference between a reference block and the dataclasses."""
    data, notes = tomllib.loads(text), Notes(text)
    regions = data.pop("regions", {})
    project = data.pop("project", {})
    problems = _walk("", data, Project, notes)
    problems += [f"[{k}] is missing" for k, t in (("project", project), ("regions", regions))
                 if not t]
    own = {f.name: f for f in fields(Project) if f.name in ("name", "title", "crs")}
    expected = set(own) | {"language"}
    problems += [f"[project] {k}: not a key of [project]" for k in sorted(set(project) -
                                                                          expected)]
    problems += [f"[project] lacks {k}" for k in sorted(expected - set(project))]
    for key, f in own.items():
        if key in project:
            problems += _check_default(f"project.{key}", project[key], _default(f),
                                       notes.comments.get(("project", key), ""))
    if "language" in project:
        problems += _check_default("project.language", project["language"],
                                   MapOptions().language,
                                   notes.comments.get(("project", "language"), ""))
    return problems + _regions(regions, notes)


def test_the_readme_reference_is_the_dataclasses() -> None:
    assert reference_problems(_reference()) == []


def test_the_readme_reference_loads_as_a_project(tmp_path: Path) -> None:
    project = project_from_dict(tomllib.loads(_reference()), base_dir=tmp_path)
    assert project.places is not None and project.places.jobs is not None
    assert project.places.jobs.columns == {"jobs": "dagbef", "employed": "nattbef"}
    assert [r.key for r in project.roles.roles] == ["regional_karna"]
    assert project.layers[0].kind == "corridor"


@pytest.mark.parametrize(("change", "problem"), [
    ("own_share = 0.193", "own_share = 0.2"),
    ("dpi = 300 ", "dpi = 150 "),
    ("weak_links = false", "weak_links = true"),
    ('out_dir = "out"', 'out_dir = "ut"'),
    ("kind = \"corridor\"              # corridor (stråk), green, infrastructure, area, or "
     "other\n                               # (default)", 'kind = "corridor"'),
    ("strong = 0.15", "stronk = 0.15"),
    ("medium = 0.075\n", ""),
    ('employed = "nattbef"\n', ""),
    ('"jobs >= 10000"', '"jobs >> 10000"'),
    ("#                 target_size = 10000", "#                 target_size = 5000"),
    ("k = 1.0", "k = 1.5"),
    ("# max_distance_km = 50", "# min_distance_km = 50"),
    ("d50_km = 18.5", "d50_km = 20"),  # a form's key (MixtureParams)
    ("beta = 0.1 ", "beta = 0.2 "),  # the other forms' (ExponentialParams, PowerParams)
    ("kommun_border = 1.025 ", ""),
])
def test_a_changed_reference_is_caught(change: str, problem: str) -> None:
    """The check itself: a wrong default, a misspelt, missing or unknown key is found."""
    text = _reference()
    assert change in text, change
    assert reference_problems(text.replace(change, problem, 1)) != []
