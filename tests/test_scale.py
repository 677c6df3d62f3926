"""Scale: the model's near/grid split against the exact sums, the growth of a whole
build (benchmarks/bench_scale.py runs it from 2,017 to 200,000 places), and flow tables
read in chunks or refused for want of memory."""

from __future__ import annotations

import importlib.util
import re
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest

from strukturbild import readers
from strukturbild.analysis import links
from strukturbild.cli import main
from strukturbild.config import DEFAULT_EMPLOYMENT_RATE, LinkParams
from strukturbild.pipeline import read_flows
from strukturbild.readers import places_from_frame

from .conftest import REPO


def _bench() -> ModuleType:
    path = REPO / "benchmarks" / "bench_scale.py"
    spec = importlib.util.spec_from_file_location("bench_scale", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BENCH = _bench()


def _places(n: int, *, unknown: bool = False) -> links._Places:
    frame = places_from_frame(BENCH.synthetic_sweden(n)[0])
    if unknown:  # every third place without a kommun: no border counted for it
        frame.loc[frame.index[::3], "area_id"] = None
    xy = links.place_coordinates(frame) / 1000.0
    return links._Places(xy[:, 0].copy(), xy[:, 1].copy(), links.internal_distance(frame),
                         frame["population"].to_numpy(dtype=float),
                         links._area_codes(frame, 2), links._area_codes(frame, None))


def _relative(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    return np.abs(got / np.where(want == 0, 1.0, want) - 1.0)


@pytest.mark.parametrize(("params", "unknown"), [
    ({}, False),
    ({}, True),
    ({"decay": "exponential"}, False),
    ({"decay": "power"}, False),
    ({"decay": "exponential", "model": "unconstrained"}, False),
    ({"max_distance_km": 80.0}, False),
], ids=["mixture", "mixture-no-kommun", "exponential", "power", "unconstrained", "cut-off"])
def test_split_sums_match_the_exact_model(params: dict[str, Any], unknown: bool) -> None:
    """6,000 synthetic places: every place's employed residents and jobs and every kept
    flow by the near/grid split within 0.1 % of the exact model, the same pairs kept
    (but for pairs within 0.1 % of min_flow)."""
    pl = _places(6000, unknown=unknown)
    p = LinkParams(**params)
    production = DEFAULT_EMPLOYMENT_RATE * pl.population
    exact = links._model(pl, p, production, p.min_flow, None)
    split = links._model_split(pl, p, production, p.min_flow, None)
    assert _relative(split[3], exact[3]).max() < 2e-3  # employed (exact but unconstrained)
    assert _relative(split[4], exact[4]).max() < 1e-3  # jobs
    a = pd.Series(exact[2], index=pd.MultiIndex.from_arrays(exact[:2]))
    b = pd.Series(split[2], index=pd.MultiIndex.from_arrays(split[:2]))
    common = a.index.intersection(b.index)
    assert len(common) > 0.999 * len(a)
    assert _relative(b[common].to_numpy(), a[common].to_numpy()).max() < 2e-3
    diag = a.index.get_level_values(0) == a.index.get_level_values(1)
    assert diag.sum() == len(pl.x)  # every place's flow to itself
    # the pairs only one side keeps are at the threshold (both directions summed)
    for only, flows in ((a.index.difference(b.index), a), (b.index.difference(a.index), b)):
        back = [flows.get((d, o), 0.0) for o, d in only]
        total = flows[only].to_numpy() + np.asarray(back)
        assert np.all(np.abs(total / p.min_flow - 1) < 2e-3)


def test_split_is_used_from_grid_places() -> None:
    """modelled_commuting switches to the split at GRID_PLACES places and says so."""
    frame = places_from_frame(BENCH.synthetic_sweden(links.GRID_PLACES)[0])
    said: list[str] = []
    m = links.modelled_commuting(frame, progress=said.append)
    assert any("closer than 30 km exact" in s for s in said)
    assert len(m.flows) > len(frame) and m.jobs.notna().all()
    small = places_from_frame(BENCH.synthetic_sweden(links.GRID_PLACES - 1)[0])
    said.clear()
    links.modelled_commuting(small, progress=said.append)
    assert not any("closer than" in s for s in said)


@pytest.mark.slow
def test_whole_build_grows_linearly(tmp_path: Path) -> None:
    """A whole build (read, model, roles, links, HTML, GeoPackage, JSON) of 5,000 and
    20,000 synthetic places: CPU time grows at most like n^1.3 overall and n^1.5 in
    any stage that takes a tenth of a second (the exact model grew like n^1.9)."""
    runs = [BENCH.measure(n, tmp_path / str(n)) for n in (5000, 20000) if
            (tmp_path / str(n)).mkdir() is None]
    sizes = [r.n for r in runs]
    total = BENCH.growth(sizes, [r.cpu_s for r in runs])
    stages = {s: BENCH.growth(sizes, [max(r.cpu[s], 0.1) for r in runs])
              for s in BENCH.STAGES}
    report = f"total {total:.2f}, " + ", ".join(f"{s} {k:.2f}" for s, k in stages.items())
    assert total < 1.3, report
    assert all(k < 1.5 for k in stages.values()), report
    assert runs[1].links > 2 * runs[0].links  # the work did grow


def test_benchmark_growth_fit() -> None:
    assert BENCH.growth([1000, 4000], [2.0, 8.0]) == pytest.approx(1.0)


def _flow_project(tmp_path: Path, flows: Path) -> Path:
    project = tmp_path / "project.toml"
    example = (REPO / "geodata" / "skane" / "project.toml").read_text(encoding="utf-8")
    places = re.sub(r'path = "([^"/]+)"', lambda m: f'path = "{REPO}/geodata/skane/{m[1]}"',
                    example[example.index("[places]"):example.index("[areas]")])
    project.write_text(f'[project]\nname = "big"\n{places}[flows]\npath = "{flows}"\n',
                       encoding="utf-8")
    return project


def test_large_flow_table_read_in_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                         ) -> None:
    """A dense table read in chunks gives the flows reading it whole gives; a bad row
    in a later chunk is named by its row in the whole table."""
    path = tmp_path / "flows.csv"
    assert BENCH.write_dense_flows(path, 120) == 14_400
    whole = read_flows(path)
    monkeypatch.setattr(readers, "FLOWS_CHUNK_BYTES", 1000)
    monkeypatch.setattr(readers, "FLOWS_CHUNK_ROWS", 5000)
    chunked = read_flows(path)
    pd.testing.assert_series_equal(chunked.count, whole.count)
    lines = path.read_text().splitlines()
    lines[12_345] = lines[12_345].rsplit(",", 1)[0] + ",-4"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(readers.InvalidValueError,
                       match=r"column 'count', row 12345: value -4 is negative"):
        read_flows(path)
    lines[12_345] = "," + lines[12_345].split(",", 1)[1]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(readers.InvalidValueError,
                       match=r"column 'origin', row 12345: code is missing"):
        read_flows(path)


def test_flow_table_too_large_for_memory_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """With less memory than a build with the table needs, validate and build stop at
    once with exit 2, naming the rows and the memory; nothing is written."""
    path = tmp_path / "flows.csv"
    BENCH.write_dense_flows(path, 300)  # 90,000 rows
    project = _flow_project(tmp_path, path)
    monkeypatch.setattr(readers, "FLOWS_CHUNK_BYTES", 1000)
    monkeypatch.setattr(readers, "available_memory", lambda: 20 * 2**20)
    for command in (["validate", str(project)],
                    ["build", str(project), "--out", str(tmp_path / "out")]):
        t0 = time.perf_counter()
        assert main(command) == 2
        assert time.perf_counter() - t0 < 5
        err = capsys.readouterr().err
        assert "flows.csv: the flow table has about 90," in err
        assert "GiB of memory, and 0.0 GiB is available" in err
    assert not (tmp_path / "out").exists()


def test_available_memory_is_the_systems() -> None:
    have = readers.available_memory()
    assert 2**20 < have < 2**50


def test_chunked_area_flows_build_as_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    """Flows between kommuner (``level = "area"``) read in chunks build the same image
    as the table read whole: the same links, counts and roles."""
    from strukturbild import build
    from strukturbild.config import load_project

    example = REPO / "geodata" / "skane"
    kommuner = sorted(pd.read_csv(example / "tatorter_2020.csv", dtype=str)["kommun_code"]
                      .unique())
    rng = np.random.default_rng(7)
    rows = [(o, d, int(rng.integers(0, 500))) for o in kommuner for d in kommuner]
    pd.DataFrame(rows, columns=["bostad", "arbete", "antal"]).to_csv(
        tmp_path / "pendling.csv", index=False)
    text = (example / "project.toml").read_text(encoding="utf-8")
    text = re.sub(r'path = "([^"/]+)"', lambda m: f'path = "{example}/{m[1]}"', text)
    text = text.split("[roles]")[0] + (
        f'[flows]\npath = "{tmp_path / "pendling.csv"}"\nlevel = "area"\n')
    (tmp_path / "p.toml").write_text(text, encoding="utf-8")
    project = load_project(tmp_path / "p.toml")
    whole = build(project)
    monkeypatch.setattr(readers, "FLOWS_CHUNK_BYTES", 100)
    monkeypatch.setattr(readers, "FLOWS_CHUNK_ROWS", 100)
    chunked = build(project)
    assert not whole.modelled and len(whole.links) > 50
    pd.testing.assert_frame_equal(pd.DataFrame(chunked.links.drop(columns="geometry")),
                                  pd.DataFrame(whole.links.drop(columns="geometry")))
    assert chunked.places["role"].tolist() == whole.places["role"].tolist()
