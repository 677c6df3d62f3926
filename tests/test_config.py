"""Project files: the example loads; unknown keys and wrong types are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from strukturbild.config import LinkParams, RoleRule, default_role_scheme, load_project
from strukturbild.errors import ConfigError, InputFileNotFoundError
from strukturbild.sources.example import example_project

BASE = """
[project]
name = "t"

[places]
path = "p.gpkg"
"""


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "project.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_example_project() -> None:
    p = example_project()
    assert p.name == "skane" and p.crs == "EPSG:3006" and p.map.language == "sv"
    assert p.roles.keys == ("storstad", "tillvaxtmotor", "regional_karna", "lokal_karna",
                            "serviceort", "ovrig_tatort")
    assert p.places.path.name == "tatorter_2020.csv" and p.places.path.is_absolute()
    assert p.links.source == "modelled" and p.links.max_distance_km == 50.0


def test_defaults(tmp_path: Path) -> None:
    p = load_project(_write(tmp_path, BASE))
    assert p.roles == default_role_scheme()
    assert p.links == LinkParams()
    assert p.export.formats == ("html", "gpkg", "json")
    assert p.places.path == tmp_path / "p.gpkg"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("[links]\nbeta2 = 0.1\n", "key 'links.beta2': unknown key; expected one of"),
        ("[links]\nbeta = \"fast\"\n", "key 'links.beta': expected int or float, got str"),
        ("[links]\nbeta = -1\n", "links.beta must be a positive number"),
        ("[links]\nsource = \"maybe\"\n", "key 'links.source': expected one of 'auto'"),
        ("[places.columns]\npop = \"bef\"\n", "key 'places.columns.pop': unknown canonical"),
        ("[roles]\nscheme = \"fancy\"\n", "unknown scheme 'fancy'"),
        ("[[roles.role]]\nkey = \"a\"\nlabel = \"A\"\nrules = [\"size >= 3\"]\n",
         "unknown measure 'size'"),
        ("[regions]\nmethod = \"lma\"\nmin_size = 5000\ntarget_size = 1000\n",
         "min_size <= target_size"),
        ("[export]\nformats = [\"html\", \"docx\"]\n", "unknown output format"),
        ("[mystery]\n", "key 'mystery': unknown key"),
        ("[links]\nsource = \"observed\"\n", "'observed' needs a [flows] table"),
    ],
    ids=["unknown-key", "wrong-type", "negative", "bad-literal", "bad-column", "bad-scheme",
         "bad-measure", "min-above-target", "bad-format", "unknown-table", "observed-no-flows"],
)
def test_bad_project_files(tmp_path: Path, extra: str, message: str) -> None:
    path = _write(tmp_path, BASE + extra)
    with pytest.raises(ConfigError) as exc:
        load_project(path)
    assert message in str(exc.value)
    assert str(path) in str(exc.value)


def test_not_toml_and_missing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_project(_write(tmp_path, "[project\nname="))
    with pytest.raises(InputFileNotFoundError):
        load_project(tmp_path / "missing.toml")


def test_rule_parsing() -> None:
    assert str(RoleRule.parse("population >= 40 000")) == "population >= 40000"
    assert RoleRule.parse("job_ratio>1.5").value == 1.5
    with pytest.raises(ConfigError, match="cannot read role rule"):
        RoleRule.parse("population is big")


def test_projects_are_frozen() -> None:
    p = example_project()
    with pytest.raises(AttributeError):
        p.name = "x"  # type: ignore[misc]
