"""Project files: the example loads; unknown keys and wrong types are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from strukturbild.config import (
    CommutingZoneParams,
    LinkParams,
    LMAParams,
    NodalParams,
    RegionParams,
    RoleRule,
    SCBLAParams,
    default_role_scheme,
    load_project,
)
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
    assert p.links.source == "modelled" and p.links.max_distance_km is None


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
        ("[links]\nbeta = -1\n", "key 'links.beta': expected a positive number"),
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
        ("[regions]\nmethod = \"lma\"\nk = 1.5\n",
         "key 'regions.k': method 'lma' does not take it; it takes min_size, "
         "min_self_containment, target_size, target_self_containment"),
        ("[regions]\nmethod = \"scb-la\"\nshare = 0.1\n",
         "key 'regions.share': method 'scb_la' does not take it"),
        ("[regions]\nmax_chain = 2\n", "key 'regions.max_chain': no region method is chosen"),
        ("[regions]\nmethod = \"watershed\"\n", "unknown region method 'watershed'"),
        ("[regions]\nmethod = 3\n", "key 'regions.method': expected a string"),
        ("[regions]\nmethod = \"commuting_zone\"\n", "key 'regions.cores': commuting_zone "
         "needs cores"),
        ("[regions]\nmethod = \"commuting-zone\"\ncores = \"A\"\nshare = \"lots\"\n",
         "key 'regions.share': expected a number, got 'lots'"),
        ("[regions]\nmethod = \"commuting-zone\"\ncore_job_shares = [0.01, 0.2]\n",
         "key 'regions.core_job_shares': expected shares in (0, 1], highest first"),
        ("[regions]\nmethod = \"commuting-zone\"\ncores = [\"A\"]\nmultiple = 1\n",
         "key 'regions.multiple': expected true or false, got 1"),
        ("[regions]\nmethod = \"scb_la\"\nmax_chain = 1.5\n",
         "key 'regions.max_chain': expected a whole number, got 1.5"),
        ("[regions]\nmethod = \"scb_la\"\nmax_outflow = 1.2\n",
         "key 'regions.max_outflow': is a share of employed residents and must be in [0, 1]"),
        ("[regions]\nmethod = \"nodal\"\nk = 0\n", "key 'regions.k': k must be > 0"),
        ("[roles]\nunknown = \"ignore\"\n", "key 'roles.unknown': expected 'fail' or 'skip'"),
    ],
    ids=["unknown-key", "wrong-type", "negative", "bad-literal", "bad-column", "bad-scheme",
         "bad-measure", "min-above-target", "bad-format", "unknown-table", "observed-no-flows",
         "key-of-another-method", "key-of-another-method-hyphen", "key-without-method",
         "unknown-method", "method-not-text", "zone-without-cores", "zone-share-text",
         "zone-shares-rising", "zone-multiple-not-bool", "max-chain-not-whole",
         "max-outflow-above-one", "k-zero", "unknown-mode"],
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


@pytest.mark.parametrize("spelling", ["scb_la", "scb-la", "SCB-LA"])
def test_region_method_spellings(tmp_path: Path, spelling: str) -> None:
    p = load_project(_write(tmp_path, BASE + f'[regions]\nmethod = "{spelling}"\n'
                                              'max_chain = 2\n'))
    assert p.regions.method == "scb_la"
    assert p.regions.params == SCBLAParams(max_chain=2)


def test_region_params_from_the_project_file(tmp_path: Path) -> None:
    p = load_project(_write(tmp_path, BASE + """
[regions]
method = "commuting-zone"
core_job_shares = [0.20, 0.085, 0.01]
share = 0.10
multiple = true
merge_invalid = true
external_min_flow = 100
"""))
    assert p.regions.params == CommutingZoneParams(
        core_job_shares=(0.2, 0.085, 0.01), share=0.1, multiple=True, merge_invalid=True,
        external_min_flow=100.0)
    assert p.regions.as_dict()["method"] == "commuting_zone"
    lma = load_project(_write(tmp_path, BASE + '[regions]\nmethod = "lma"\nmin_size = 500\n'))
    assert lma.regions.params == LMAParams(min_size=500.0)
    assert load_project(_write(tmp_path, BASE)).regions == RegionParams()


def test_region_params_classes() -> None:
    # numbers are stored as floats; defaults written once, in the class
    assert LMAParams(min_size=500).min_size == 500.0
    assert SCBLAParams().max_chain is None
    assert NodalParams().k == 1.0
    assert CommutingZoneParams(cores=["A", " ", "A", "B"]).cores == ("A", "B")
    assert RegionParams("commuting-zone", CommutingZoneParams(cores=("A",))).method == \
        "commuting_zone"
    assert RegionParams("nodal").params == NodalParams()
    with pytest.raises(ConfigError, match="needs NodalParams, got LMAParams"):
        RegionParams("nodal", LMAParams())  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="'none' takes no parameters"):
        RegionParams("none", NodalParams())
    with pytest.raises(ConfigError, match="regions.method"):
        RegionParams("kmeans")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="regions.max_chain"):
        SCBLAParams(max_chain=True)
    with pytest.raises(ConfigError, match="not both"):
        CommutingZoneParams(cores=("A",), core_job_shares=(0.2,))
    with pytest.raises(AttributeError):
        SCBLAParams().max_chain = 3  # type: ignore[misc]


def test_roles_unknown_mode(tmp_path: Path) -> None:
    assert load_project(_write(tmp_path, BASE)).roles.unknown == "fail"
    p = load_project(_write(tmp_path, BASE + '[roles]\nunknown = "skip"\n'))
    assert p.roles.unknown == "skip" and p.roles.keys == default_role_scheme().keys


# --------------------------------------------------------------------------- hostile TOML

_MEASURE = """
import resource, sys, time
from strukturbild.config import load_project
from strukturbild.errors import ConfigError
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
for path in sys.argv[1:]:
    try:
        load_project(path)
        print("loaded")
    except ConfigError as exc:
        print("refused", exc)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024,
      time.perf_counter() - start)
"""


def _load_measured(*paths: Path) -> tuple[list[str], int, float]:
    """Load project files in one fresh interpreter: the message of each, the memory
    the loads added (MiB of peak resident memory) and the seconds they took."""
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-c", _MEASURE, *map(str, paths)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    *messages, numbers = run.stdout.strip().split("\n")
    mib, seconds = numbers.split()
    return messages, int(mib), float(seconds)


HOSTILE_TOML = {
    "arrays-1000": ("x = " + "[" * 1000 + "]" * 1000,
                    "line 3: arrays or inline tables nested 9 deep; at most 8 are read"),
    "inline-1000": ("x = " + "{a = " * 1000 + "1" + "}" * 1000,
                    "line 3: arrays or inline tables nested 9 deep"),
    "mixed-1000": ("[map]\nx = " + "[{a = " * 500 + "1" + "}]" * 500,
                   "line 4: arrays or inline tables nested 9 deep"),
    "dotted-40kb": ("a" + ".a" * 20_000 + " = 1",
                    "line 3: a key of 9 parts (a.b.c has 3); at most 8 are read"),
    "header-40kb": ("[" + ".".join(["a"] * 20_000) + "]", "line 3: a key of 9 parts"),
    "quoted-40kb": ('"a"' + '."a"' * 20_000 + " = 1", "line 3: a key of 9 parts"),
    "inline-dotted": ("[x]\n" + "y = {" + "b." * 20_000 + "c = 1}", "line 4: a key of 9 parts"),
    "dotted-400kb": ("a" + ".a" * 200_000 + " = 1", "line 3: a key of 9 parts"),
}


def test_deep_or_dotted_toml_is_refused_before_parsing(tmp_path: Path) -> None:
    """0.2 took 2.4 GB for the 40 KB dotted key (18 GB for 400 KB) and crashed with a
    RecursionError (exit 1) on the nesting."""
    paths = []
    for name, (body, _) in HOSTILE_TOML.items():
        path = tmp_path / f"{name}.toml"
        path.write_text('[project]\nname = "t"\n' + body + "\n", encoding="utf-8")
        paths.append(path)
    messages, mib, seconds = _load_measured(*paths)
    for path, message, (_, expected) in zip(paths, messages, HOSTILE_TOML.values(),
                                            strict=True):
        assert message.startswith(f"refused {path}: ") and expected in message, message
    assert mib < 20 and seconds < 5, (mib, seconds)


def test_hostile_toml_through_the_command_line(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from strukturbild.cli import main

    for name, (body, expected) in HOSTILE_TOML.items():
        path = tmp_path / f"{name}.toml"
        path.write_text('[project]\nname = "t"\n' + body + "\n", encoding="utf-8")
        for command in ("build", "validate"):
            assert main([command, str(path)]) == 2
            err = capsys.readouterr().err
            assert err == f"strukturbild: error: {path}: {expected}" + err.split(expected)[1]
            assert err.count("\n") == 1


def test_brackets_and_dots_in_strings_and_comments_do_not_count(tmp_path: Path) -> None:
    deep = "[" * 50 + "a.b.c.d.e.f.g.h.i.j" + "]" * 50
    path = _write(tmp_path, f'[project]\nname = "t"\ntitle = "{deep}"  # {deep}\n'
                            f"[map]\nsource_note = '''{deep}'''\n"
                            f'[places]\npath = "p.csv"\nwhere = """{deep}\\""""\n')
    p = load_project(path)
    assert p.title == deep and p.map.source_note == deep and p.places is not None
    assert p.places.where == deep + '"'


def test_the_project_file_is_bounded_in_size(tmp_path: Path) -> None:
    from strukturbild.config import MAX_PROJECT_BYTES

    path = _write(tmp_path, '[project]\nname = "t"\n' + "# padding\n" * 110_000)
    assert path.stat().st_size > MAX_PROJECT_BYTES
    with pytest.raises(ConfigError, match="the project file is larger than 1024 KiB"):
        load_project(path)


def test_a_project_file_at_the_limits_stays_small_in_memory(tmp_path: Path) -> None:
    """The worst a file within the bounds can do: 1 MiB of distinct keys of 8 parts."""
    lines, size, i = [], 0, 0
    while True:
        line = f"k{i}" + ".a" * 7 + " = 1\n"
        if size + len(line) > 2**20 - 100:
            break
        lines.append(line)
        size += len(line)
        i += 1
    path = _write(tmp_path, '[project]\nname = "t"\n[links]\n' + "".join(lines))
    (text,), mib, seconds = _load_measured(path)
    assert text.startswith("refused ") and "unknown key" in text
    assert mib < 300 and seconds < 20, (mib, seconds)


def test_places_jobs_join_and_employment_rate(tmp_path: Path) -> None:
    from strukturbild.config import DEFAULT_EMPLOYMENT_RATE, JobsSource

    (tmp_path / "p.toml").write_text(BASE + 'employment_rate = 0.48\n'
                                     'jobs = {path = "j/jobs.csv", key = "tatort_code", '
                                     'columns = {jobs = "dagbef_2024"}}\n')
    p = load_project(tmp_path / "p.toml")
    assert p.places is not None and p.places.employment_rate == 0.48
    assert p.places.jobs == JobsSource(tmp_path / "j" / "jobs.csv", key="tatort_code",
                                       columns={"jobs": "dagbef_2024"})
    # the join's table is an input: no output may overwrite it
    assert tmp_path / "j" / "jobs.csv" in p.input_paths()
    # a path alone, and the default rate
    (tmp_path / "p.toml").write_text(BASE + 'jobs = "jobs.csv"\n')
    p = load_project(tmp_path / "p.toml")
    assert p.places is not None and p.places.jobs is not None
    assert p.places.jobs.key is None and p.places.employment_rate == DEFAULT_EMPLOYMENT_RATE
    (tmp_path / "p.toml").write_text(BASE + "jobs = 5\n")
    with pytest.raises(ConfigError, match="key 'places.jobs': expected str or dict, got "
                                          "int 5"):
        load_project(tmp_path / "p.toml")
    assert "employment_rate" not in {f for f in LinkParams.__dataclass_fields__}
