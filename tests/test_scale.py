"""Scale: the model's near/grid split against the exact sums, the growth of a whole
build (benchmarks/bench_scale.py runs it from 2,017 to 200,000 places), and flow tables
read in chunks or refused for want of memory."""

from __future__ import annotations

import functools
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


@functools.cache
def _sweden(n: int) -> tuple[Any, Any]:
    return BENCH.synthetic_sweden(n)  # type: ignore[no-any-return]


def _frame(n: int, *, unknown: bool = False, jobs: bool = False) -> pd.DataFrame:
    """``n`` synthetic places; ``jobs``: SCB-like jobs for 70 % of them (employed
    residents times a job ratio around 0.6, as bench_model.py), the others estimated by
    the model."""
    frame = places_from_frame(_sweden(n)[0].drop(columns="jobs"))
    if unknown:  # every third place without a kommun: no border counted for it
        frame.loc[frame.index[::3], "area_id"] = None
    if jobs:
        rng = np.random.default_rng(3)
        ratio = np.exp(rng.normal(np.log(0.6), 0.6, len(frame)))
        known = DEFAULT_EMPLOYMENT_RATE * frame["population"].to_numpy() * ratio
        frame = frame.assign(jobs=np.where(rng.random(len(frame)) < 0.3, np.nan,
                                           np.round(known)))
    return frame


def _outside(frame: pd.DataFrame) -> pd.DataFrame:
    """The jobs outside the places, one destination per synthetic kommun (290)."""
    areas = _sweden(len(frame))[1]
    areas = areas.set_index(areas["kommun_code"].rename("area_id"))
    return links.outside_destinations(areas, links.outside_jobs(frame))


class _RandomDetours:
    """A table of distances not straight: a fifth of the pairs within 100 km (places
    and outside destinations alike), each 1 to 2 times its straight line; far more, and
    longer, detours than SCB's kommun polygons give (46,000 pairs among 2,017 tätorter
    and 290 kommuner)."""

    def pair_distances(self, x: np.ndarray, y: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        from scipy.spatial import cKDTree

        pairs = cKDTree(np.column_stack([x, y])).query_pairs(100.0, output_type="ndarray")
        rng = np.random.default_rng(5)
        pick = pairs[rng.random(len(pairs)) < 0.2]
        i, j = pick[:, 0].astype(np.intp), pick[:, 1].astype(np.intp)
        return i, j, np.hypot(x[i] - x[j], y[i] - y[j]) * rng.uniform(1.0, 2.0, len(i))


def _exact_and_split(monkeypatch: pytest.MonkeyPatch, frame: pd.DataFrame, p: LinkParams,
                     **kw: Any) -> tuple[links.ModelledFlows, links.ModelledFlows]:
    """The model on ``frame`` exactly and by the near/grid split (GRID_PLACES moved)."""
    monkeypatch.setattr(links, "GRID_PLACES", 10**9)
    exact = links.modelled_commuting(frame, params=p, **kw)
    said: list[str] = []
    monkeypatch.setattr(links, "GRID_PLACES", 1000)
    split = links.modelled_commuting(frame, params=p, progress=said.append, **kw)
    assert any("closer than" in s for s in said)  # the split did run
    return exact, split


def _close(got: pd.Series, want: pd.Series, tol: float) -> float:
    """The largest relative difference (a value of 0 must stay 0), after checking it is
    within ``tol``."""
    assert got.index.equals(want.index)
    a, b = got.to_numpy(dtype=float), want.to_numpy(dtype=float)
    err = np.abs(a - b) / np.where(b == 0, 1.0, np.abs(b))
    assert np.all(err[b == 0] < 1e-9) and err.max() < tol, err.max()
    return float(err.max())


def _same_flows(exact: pd.Series, split: pd.Series, min_flow: float, tol: float) -> None:
    """The kept flows within ``tol``; the pairs only one side keeps are at the threshold
    (both directions summed)."""
    common = exact.index.intersection(split.index)
    assert len(common) > 0.999 * len(exact)
    _close(split[common], exact[common], tol)
    for only, flows in ((exact.index.difference(split.index), exact),
                        (split.index.difference(exact.index), split)):
        back = [flows.get((d, o), 0.0) for o, d in only]
        total = flows[only].to_numpy() + np.asarray(back)
        assert np.all(np.abs(total / min_flow - 1) < tol)


SPLIT_CASES = {
    "mixture": ({}, {}),
    "mixture-no-kommun": ({}, {"unknown": True}),
    "exponential": ({"decay": "exponential"}, {}),
    "power": ({"decay": "power"}, {}),
    "unconstrained": ({"decay": "exponential", "model": "unconstrained"}, {}),
    "cut-off": ({"max_distance_km": 80.0}, {}),
    "jobs": ({}, {"jobs": True}),
    "jobs-no-bound": ({"own_bound": False}, {"jobs": True}),
    "outside": ({}, {"jobs": True, "outside": True}),
    "land": ({"distance": "land"}, {"jobs": True, "outside": True, "land": True}),
    "land-exponential": ({"distance": "land", "decay": "exponential"}, {"land": True}),
    "land-cut-off": ({"distance": "land", "max_distance_km": 80.0},
                     {"jobs": True, "outside": True, "land": True}),
}


@pytest.mark.parametrize("case", list(SPLIT_CASES))
def test_split_sums_match_the_exact_model(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """6,000 synthetic places: every place's employed residents and jobs, every kept
    flow, and the outside destinations' jobs and flows by the near/grid split within
    0.1 % of the exact model (0.2 % for the flows), the same pairs kept (but for pairs
    within 0.2 % of min_flow). The default mixture with estimated jobs and the own flow
    bounded by them; the other decays; jobs known for 70 % of the places, with and
    without the bound; the jobs outside the places (290 kommuner); distances over land
    (a random table of detours), also with a cut-off."""
    params, setup = SPLIT_CASES[case]
    frame = _frame(6000, unknown=setup.get("unknown", False), jobs=setup.get("jobs", False))
    kw: dict[str, Any] = {}
    if setup.get("outside"):
        kw["outside"] = _outside(frame)
    if setup.get("land"):
        kw["distances"] = _RandomDetours()
    p = LinkParams(**params)
    exact, split = _exact_and_split(monkeypatch, frame, p, **kw)
    _close(split.employed, exact.employed, 2e-3)  # exact but unconstrained
    _close(split.jobs, exact.jobs, 1e-3)
    _same_flows(exact.flows.count, split.flows.count, p.min_flow, 2e-3)
    diag = exact.flows.count.index.get_level_values(0) == \
        exact.flows.count.index.get_level_values(1)
    assert diag.sum() == len(frame)  # every place's flow to itself
    if "outside" in kw:
        assert exact.outside is not None and split.outside is not None
        assert exact.outside_jobs is not None and split.outside_jobs is not None
        assert len(exact.outside.count) > 1000
        _close(split.outside_jobs, exact.outside_jobs, 1e-3)
        _same_flows(exact.outside.count, split.outside.count, p.min_flow, 2e-3)
    if "distances" in kw:
        assert exact.params["distance_pairs_not_straight"] > 200_000
        assert split.params == exact.params


@pytest.mark.slow
def test_split_matches_the_exact_model_on_scb_tatorter(monkeypatch: pytest.MonkeyPatch
                                                       ) -> None:
    """SCB's 2,017 tätorter with their jobs (2024), the jobs outside them in 290
    kommuner and distances over SCB's kommun polygons (the defaults over land): the
    split, forced below its 5,000 places, within 0.1 % of the exact model."""
    import geopandas as gpd

    from strukturbild import read_places
    from strukturbild.analysis.land import LandDistance
    from strukturbild.config import PlacesSource

    from .conftest import requires_shared

    gpkg = requires_shared("geodata", "sweden", "tatorter_2020.gpkg")
    kommuner = gpd.read_file(requires_shared("geodata", "sweden", "kommuner.gpkg"))
    raw = pd.read_csv(requires_shared("geodata", "sweden", "jobs", "tatort_jobs_2024.csv"),
                      dtype={"tatort_code": str})
    places = read_places(PlacesSource(gpkg))
    places = places.assign(jobs=raw.groupby("tatort_code")["jobs"].sum(min_count=1)
                           .reindex(places.index))
    areas = kommuner.set_index(kommuner["kommun_code"].astype(str).rename("area_id"))
    outside = links.outside_destinations(areas, links.outside_jobs(places))
    land = LandDistance(kommuner.geometry.values, crs=kommuner.crs)
    p = LinkParams(distance="land")
    exact, split = _exact_and_split(monkeypatch, places, p, outside=outside, distances=land)
    assert exact.params["distance_pairs_not_straight"] > 40_000
    _close(split.jobs, exact.jobs, 1e-3)
    _same_flows(exact.flows.count, split.flows.count, p.min_flow, 1e-3)
    assert exact.outside_jobs is not None and split.outside_jobs is not None
    assert exact.outside is not None and split.outside is not None
    _close(split.outside_jobs, exact.outside_jobs, 1e-3)
    _same_flows(exact.outside.count, split.outside.count, p.min_flow, 1e-3)


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
