"""``validate`` catches what ``build`` rejects: the same exit code and the same message.

Each case breaks the toy project (``conftest.toy_dir``) in one way that concerns regions
or roles, then runs both commands through the real command line.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from strukturbild import cli

DESIGNATIONS = "place_id,name,designation,role,source,year\n"


def _both(project: Path, capsys: pytest.CaptureFixture[str]) -> list[tuple[int, str]]:
    results = []
    for command in ("build", "validate"):
        code = cli.main([command, str(project), "-q"] if command == "build"
                        else [command, str(project)])
        _, err = capsys.readouterr()
        assert "Traceback" not in err
        results.append((code, err))
    return results


def _edit(toy_dir: Path, extra: str, designations: str | None = None,
          drop_flows: bool = False) -> Path:
    project = toy_dir / "project.toml"
    text = project.read_text(encoding="utf-8")
    if drop_flows:
        text = text.split("[flows]")[0] + "[links]" + text.split("[links]")[1]
    if designations is not None:
        (toy_dir / "lista.csv").write_text(DESIGNATIONS + designations, encoding="utf-8")
        text += '\n[roles]\ndesignations = ["lista.csv"]\n'
    project.write_text(text + extra, encoding="utf-8")
    return project


@pytest.mark.parametrize(
    ("extra", "designations", "drop_flows", "message"),
    [
        ('\n[regions]\nmethod = "lma"\n', None, True,
         "regions.method = 'lma' needs observed flows that include intra-place flows"),
        ('\n[regions]\nmethod = "scb-la"\n', None, True,
         "regions.method = 'scb_la' needs observed flows that include intra-place flows"),
        ('\n[regions]\nmethod = "scb_la"\n', None, False,  # observed, but no intra flows
         "regions.method = 'scb_la' needs observed flows that include intra-place flows"),
        ('\n[regions]\nmethod = "commuting-zone"\ncores = ["0101TC101", "9999TC999"]\n',
         None, False, "key 'regions.cores': core '9999TC999' is not a place id"),
        ('\n[regions]\nmethod = "nodal"\nshare = 0.2\n', None, False,
         "key 'regions.share': method 'nodal' does not take it; it takes k"),
        ("", "0101TC101,Storby,storstad,storstad,Region Test,2022\n"
             "0102TC101,Mellanstad,regional kärna,regionkarna,Region Test,2022\n", False,
         "lista.csv: column 'role', row 2: 'regionkarna' is not a role of the scheme "
         "'default'"),
        ("", ",Storby,storstad,storstad,Region Test,2022\n"
             ",Småort,serviceort,serviceort,Region Test,2022\n", False, None),
    ],
    ids=["lma-on-modelled-flows", "scb-la-on-modelled-flows", "scb-la-without-intra-flows",
         "unknown-core", "key-of-another-method", "designated-role-not-in-scheme",
         "designations-fine"],
)
def test_build_and_validate_agree(toy_dir: Path, capsys: pytest.CaptureFixture[str],
                                  extra: str, designations: str | None, drop_flows: bool,
                                  message: str | None) -> None:
    project = _edit(toy_dir, extra, designations, drop_flows)
    (build_code, build_err), (validate_code, validate_err) = _both(project, capsys)
    if message is None:
        assert build_code == validate_code == 0, (build_err, validate_err)
        return
    assert build_code == validate_code == 2, (build_err, validate_err)
    assert message in build_err and message in validate_err
    assert build_err.strip().splitlines()[-1] == validate_err.strip().splitlines()[-1]
    assert not (toy_dir / "out").exists()


def test_ambiguous_designation_name_is_an_error_in_both(
        toy_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import geopandas as gpd

    places = gpd.read_file(toy_dir / "places.gpkg", layer="places")
    places.loc[places["tatort"] == "Byn", "tatort"] = "Småort"
    places.to_file(toy_dir / "places.gpkg", layer="places")
    project = _edit(toy_dir, "", ",Småort,serviceort,serviceort,Region Test,2022\n")
    results = _both(project, capsys)
    for code, err in results:
        assert code == 2
        assert "lista.csv: row 1: name 'Småort' matches 2 places" in err


def test_designated_unknown_place_warns_in_both(toy_dir: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    project = _edit(toy_dir, "", "9999TC999,Nowhere,storstad,storstad,Region Test,2022\n")
    results = _both(project, capsys)
    warning = ("lista.csv: row 1: designated place '9999TC999' is not among the places; the "
               "designation is ignored")
    for code, err in results:
        assert code == 0
        assert f"strukturbild: warning: {warning}" in err.replace(str(toy_dir) + "/", "")
