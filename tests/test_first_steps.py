"""The README's first steps work as written.

The reference ``[roles]`` block (``scheme = "default"`` with the shipped
``region_skane_2022``) is taken from README.md and built; ``build_image`` reads what
the project's files give and the call does not (the README's "From Python" example
is a doctest of its own); ``regions`` names the option that maps a missing column.
"""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

import strukturbild as sb
from strukturbild.cli import main

from .conftest import REPO, TOY_FLOWS

SKANE = REPO / "geodata" / "skane"


def _reference_roles_block() -> str:
    """The ``[roles]`` table of the README's project-file reference, as written."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    reference = next(b for b in re.findall(r"```toml\n(.*?)```", readme, re.S)
                     if "[roles]" in b and "[[roles.role]]" in b and "[links]" in b)
    block = reference.split("[roles]\n", 1)[1].split("\n\n", 1)[0]
    return "[roles]\n" + block + "\n"


def _skane_project(tmp_path: Path, roles: str) -> Path:
    """The bundled Skåne example's places and kommuner with another [roles] table."""
    text = (SKANE / "project.toml").read_text(encoding="utf-8")
    head = text.split("[roles]")[0]
    tail = "[links]" + text.split("[links]", 1)[1]
    for name in ("tatorter_2020.csv", "jobs_2024.csv", "kommuner_skane.geojson"):
        head = head.replace(f'"{name}"', f'"{(SKANE / name).as_posix()}"')
    path = tmp_path / "project.toml"
    path.write_text(head + roles + "\n" + tail, encoding="utf-8")
    return path


def test_the_reference_roles_block_builds(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    block = _reference_roles_block()
    assert 'scheme = "default"' in block and 'designations = ["region_skane_2022"]' in block
    project = _skane_project(tmp_path, block)
    assert main(["validate", str(project)]) == 0, capsys.readouterr().err
    assert "5 roles" in capsys.readouterr().out
    image = sb.build(sb.load_project(project))
    roles = image.places["role"].astype(str)
    # every place Region Skåne designates regional kärna or tillväxtmotor is pinned to
    # regional kärna under the default scheme, Malmö (300 000) included
    designated = ["1280TC106", "1281TC105", "1283TC107", "1282TC108", "1290TC112",
                  "1293TC105", "1286TC110", "1287TC110"]
    assert set(roles[designated]) == {"regional_karna"}
    assert "tillväxtmotor" in image.places.loc["1280TC106", "designations"]
    assert str(image.places.loc["1280TC106", "role_derived"]) == "storstad"
    assert set(roles) <= {"storstad", "regional_karna", "lokal_karna", "serviceort",
                          "ovrig_tatort"}


def test_the_skane_scheme_still_pins_the_growth_engines(tmp_path: Path) -> None:
    """With a scheme that has the role, the list pins it, not the fallback."""
    text = (SKANE / "project.toml").read_text(encoding="utf-8")
    roles = "[roles]" + text.split("[roles]", 1)[1].split("[links]")[0]
    roles = roles.replace('"designations_region_skane_2022.csv"', '"region_skane_2022"')
    image = sb.build(sb.load_project(_skane_project(tmp_path, roles)))
    assert str(image.places.loc["1280TC106", "role"]) == "tillvaxtmotor"


def test_a_role_without_fallback_is_still_an_error(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "lista.csv").write_text(
        "place_id,name,designation,role,source,year,fallback_role\n"
        "1280TC106,,kärna,regionkarna,x,2022,\n"
        "1281TC105,,motor,motor,x,2022,huvudort\n", encoding="utf-8")
    project = _skane_project(tmp_path, '[roles]\ndesignations = ["lista.csv"]\n')
    assert main(["validate", str(project)]) == 2
    assert "lista.csv: column 'role', row 1: 'regionkarna' is not a role of the scheme " \
           "'default'; expected one of" in capsys.readouterr().err
    (tmp_path / "lista.csv").write_text(
        "place_id,name,designation,role,source,year,fallback_role\n"
        "1281TC105,,motor,motor,x,2022,huvudort\n", encoding="utf-8")
    assert main(["validate", str(project)]) == 2
    assert "row 1: 'motor' is not a role of the scheme 'default' (nor its fallback_role " \
           "'huvudort')" in capsys.readouterr().err


# --------------------------------------------------------------------------- build_image


def _places_frame() -> gpd.GeoDataFrame:
    t = pd.read_csv(SKANE / "tatorter_2020.csv", dtype={"tatort_code": str,
                                                       "kommun_code": str})
    return gpd.GeoDataFrame(t, geometry=gpd.points_from_xy(t["lon"], t["lat"]),
                            crs="EPSG:4326")


def test_build_image_reads_the_projects_areas() -> None:
    said: list[str] = []
    image = sb.build_image(_places_frame(), project=SKANE / "project.toml",
                           progress=said.append)
    assert image.areas is not None and len(image.areas) == 33
    assert "areas from the project: kommuner_skane.geojson" in said
    assert image.summary()["areas"] == 33
    entry = image.provenance["inputs"]["areas"]
    assert entry["file"] == "kommuner_skane.geojson" and len(entry["sha256"]) == 64


def test_build_image_prefers_the_frames_it_is_given() -> None:
    kommuner = gpd.read_file(SKANE / "kommuner_skane.geojson").iloc[:5]
    image = sb.build_image(_places_frame(), areas=kommuner, project=SKANE / "project.toml")
    assert image.areas is not None and len(image.areas) == 5
    assert image.provenance["inputs"]["areas"] == {"file": "<frame>"}


def test_build_image_reads_the_projects_flows_and_layers(toy_dir: Path,
                                                         toy_places_frame: gpd.GeoDataFrame
                                                         ) -> None:
    gpd.GeoDataFrame({"namn": ["Stråket"]},
                     geometry=[shapely.LineString([(500_000, 6_500_000), (530_000, 6_500_000)])],
                     crs="EPSG:3006").to_file(toy_dir / "strak.gpkg")
    project = toy_dir / "project.toml"
    project.write_text(project.read_text(encoding="utf-8") +
                       '\n[[layers]]\nname = "Stråk"\npath = "strak.gpkg"\nkind = "corridor"\n',
                       encoding="utf-8")
    image = sb.build_image(toy_places_frame, project=project)
    assert not image.modelled and image.summary()["flows"] == "observed"
    assert len(image.links) == 6  # the toy's ten flows join six pairs of places
    assert len(sb.build(sb.load_project(project)).links) == 6  # as build makes them
    assert [layer.name for layer in image.layers] == ["Stråk"]
    assert image.provenance["inputs"]["flows"]["file"] == "flows.csv"
    # flows given as a frame win over the project's file
    few = pd.DataFrame(TOY_FLOWS[:2], columns=["from", "to", "n"])  # as the project maps
    image = sb.build_image(toy_places_frame, flows=few, project=project)
    assert len(image.links) == 1 and image.provenance["inputs"]["flows"] == {"file": "<frame>"}


# --------------------------------------------------------------------------- regions


@pytest.mark.parametrize(("args", "option"), [
    ([], "origin"),
    (["--origin", "from"], "destination"),
    (["--origin", "from", "--destination", "to"], "count"),
])
def test_regions_names_the_option_for_a_missing_column(
        tmp_path: Path, args: list[str], option: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    flows = tmp_path / "f.csv"
    pd.DataFrame(TOY_FLOWS, columns=["from", "to", "n"]).to_csv(flows, index=False)
    for command in ("regions", "hierarchy"):
        assert main([command, str(flows), *args, "--output", str(tmp_path / "o.csv")]) == 2
        err = capsys.readouterr().err
        assert err == (f"strukturbild: error: {flows}: column '{option}': required column is "
                       f"missing; the file has: from, to, n; name the {option} column with "
                       f"--{option} COL\n")
        assert "project file" not in err
