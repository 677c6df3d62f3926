"""Benchmark of the modelled commuting: time and peak memory for 2,017 to 50,000 places.

For each size, the links step of the pipeline as it runs without observed flows: the
model (:func:`strukturbild.analysis.links.modelled_commuting`, default parameters:
the calibrated mixture with jobs as the destination mass, the own flow bounded by the
jobs, one destination per kommun for the jobs outside the places, no distance cut-off,
pairs of 50+ commuters kept block by block), then :func:`links_from_flows` and
:func:`links_to_lines`; for the real tätorter also the same with distances over land
(``+land``: the land raster made from SCB's kommun polygons included). Sizes:

- 2,017: SCB's statistical tätorter 2020 (``../shared/geodata/sweden/tatorter_2020.gpkg``,
  read by path; skipped when absent);
- 10,000 and 50,000: synthetic places, seeded (``--seed``, default 20241130): uniform
  over Sweden's extent (SWEREF 99 TM x 278–914 km, y 6,135–7,611 km), populations
  Pareto-distributed from 200 inhabitants with exponent 0.7 (SCB's tätorter: 37 % have
  1,000 or more, 6 % 10,000 or more), capped at 1.7 million, in 21 "län" by latitude.

Each size runs in a fresh Python process (so peak memory is that size's own) and
reports the time (the model, and the links made from its flows) and the peak resident
memory above what the process held before the step (``VmHWM`` reset through
``/proc/self/clear_refs``; Linux only, NaN elsewhere). The baseline, measured in the same process,
is strukturbild 0.1's model (kept here, not in the package): a KD-tree search for the
pairs within 50 km, ``exp(-0.1 d)``, all those pairs kept, then the same links. It runs
for 2,017 and 10,000 places; at 50,000 it needs about 14 GB (issue 9.6: 3 min and
13.9 GB), so only with ``--baseline-50k``. Progress of the long steps goes to stderr
through the pipeline's ``progress`` callback.

Run: ``python benchmarks/bench_model.py`` (about 3 minutes; ``--sizes 2017 10000`` for
fewer).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from strukturbild import Flows, LinkParams, read_places
from strukturbild.analysis.gravity import gravity_flows
from strukturbild.analysis.links import (
    internal_distance,
    links_from_flows,
    links_to_lines,
    modelled_commuting,
)
from strukturbild.analysis.places import place_coordinates
from strukturbild.config import PlacesSource

SWEDEN = Path(__file__).resolve().parents[1].parent / "shared" / "geodata" / "sweden"
REAL = 2017
SIZES = (REAL, 10_000, 50_000)


def synthetic_places(n: int, seed: int) -> Any:
    """``n`` places over Sweden's extent with a tätort-like size distribution."""
    import geopandas as gpd
    import shapely

    rng = np.random.default_rng(seed)
    x = rng.uniform(278_000, 914_000, n)
    y = rng.uniform(6_135_000, 7_611_000, n)
    pop = np.minimum(np.floor(200 / rng.uniform(0, 1, n) ** (1 / 0.7)), 1_700_000)
    lan = np.minimum((y - 6_135_000) // ((7_611_000 - 6_135_000) / 21), 20).astype(int)
    return gpd.GeoDataFrame(
        {"name": [f"Ort {i}" for i in range(n)],
         "area_id": [f"{k + 1:02d}{i % 100:02d}" for i, k in enumerate(lan)],
         "population": pop.astype(np.int64)},
        index=pd.Index([f"P{i:06d}" for i in range(n)], name="place_id"),
        geometry=shapely.points(x, y), crs="EPSG:3006")


def places_of(n: int, seed: int) -> Any:
    """The places, with jobs: SCB's 2024 day population for the real tätorter (joined
    by code; the others estimated by the model), synthetic ones (employed residents ×
    a job ratio, log-normal around 0.6, seeded) for the others."""
    if n == REAL:
        places = read_places(PlacesSource(SWEDEN / "tatorter_2020.gpkg"))
        raw = pd.read_csv(SWEDEN / "jobs" / "tatort_jobs_2024.csv", dtype={"tatort_code": str})
        jobs = raw.groupby("tatort_code")["jobs"].sum(min_count=1)
        return places.assign(jobs=jobs.reindex(places.index))
    places = synthetic_places(n, seed)
    rng = np.random.default_rng(seed + 1)
    ratio = np.exp(rng.normal(np.log(0.6), 0.6, n))
    return places.assign(jobs=np.round(0.5 * places["population"].to_numpy() * ratio))


def outside_of(places: Any) -> pd.DataFrame:
    """The jobs outside the places: one destination per area (kommun), at the mean of
    its places' points, spread over a disc of 500 km² (a kommun's median area is about
    700 km²), with 14 % of all jobs spread by the areas' village population."""
    from strukturbild.analysis.links import outside_jobs

    xy = pd.DataFrame({"x": places.geometry.x, "y": places.geometry.y}, index=places.index)
    at = xy.groupby(places["area_id"]).mean()
    at["jobs"] = outside_jobs(places).reindex(at.index).fillna(0.0)
    at["spread_km"] = 2 / 3 * np.sqrt(500 / np.pi)
    return at


def model_0_1(places: Any) -> Flows:
    """strukturbild 0.1's model: pairs within 50 km (KD-tree), exp(-0.1 d), all kept."""
    from scipy.spatial import cKDTree

    xy = place_coordinates(places)
    ids = places.index.to_numpy(dtype=object)
    pop = places["population"].to_numpy(dtype=float)
    pairs = cKDTree(xy).query_pairs(50_000.0, output_type="ndarray")
    own = np.arange(len(ids))
    i = np.concatenate([pairs[:, 0], pairs[:, 1], own])
    j = np.concatenate([pairs[:, 1], pairs[:, 0], own])
    dist = np.concatenate([np.hypot(*(xy[i[:-len(own)]] - xy[j[:-len(own)]]).T) / 1000.0,
                           internal_distance(places)])
    order = np.lexsort((j, i))
    i, j, dist = i[order], j[order], dist[order]
    t = gravity_flows(dist, np.maximum(pop[i], 1.0), np.maximum(pop[j], 1.0), beta=0.1,
                      decay="exponential", origin=ids[i],
                      production=dict(zip(ids, 0.5 * pop, strict=True)))
    idx = pd.MultiIndex.from_arrays([ids[i], ids[j]], names=["origin", "destination"])
    return Flows(pd.Series(t, index=idx), modelled=True)


def _links(places: Any, flows: Flows, employed: pd.Series, jobs: pd.Series) -> int:
    measures = pd.DataFrame({"employed": employed, "jobs": jobs})
    links = links_from_flows(flows, measures, params=LinkParams())
    return len(links_to_lines(links, places))


def _new(places: Any, say: Callable[[str], None]) -> dict[str, float]:
    t0 = time.perf_counter()
    m = modelled_commuting(places, params=LinkParams(), progress=say,
                           outside=outside_of(places))
    t1 = time.perf_counter()
    n = _links(places, m.flows, m.employed, m.jobs)
    return {"model_s": t1 - t0, "links_s": time.perf_counter() - t1, "pairs": m.params["pairs"],
            "links": n}


def _land(places: Any, say: Callable[[str], None]) -> dict[str, float]:
    """The same with distances over land (SCB's kommun polygons, 2 km raster)."""
    import geopandas as gpd

    from strukturbild.analysis.land import LandDistance

    t0 = time.perf_counter()
    k = gpd.read_file(SWEDEN / "kommuner.gpkg")
    land = LandDistance(k.geometry.values, crs=k.crs)
    m = modelled_commuting(places, params=LinkParams(distance="land"), progress=say,
                           outside=outside_of(places), distances=land)
    t1 = time.perf_counter()
    n = _links(places, m.flows, m.employed, m.jobs)
    return {"model_s": t1 - t0, "links_s": time.perf_counter() - t1, "pairs": m.params["pairs"],
            "links": n}


def _old(places: Any, say: Callable[[str], None]) -> dict[str, float]:
    t0 = time.perf_counter()
    flows = model_0_1(places)
    t1 = time.perf_counter()
    emp = 0.5 * places["population"].astype(float)
    net = flows.inflow(include_self=False).reindex(places.index, fill_value=0.0) - \
        flows.outflow(include_self=False).reindex(places.index, fill_value=0.0)
    n = _links(places, flows, emp, emp + net)
    return {"model_s": t1 - t0, "links_s": time.perf_counter() - t1,
            "pairs": len(flows) - len(places), "links": n}


def _status(key: str) -> float:
    """A ``/proc/self/status`` field in MiB (NaN where there is none)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def measure(step: Callable[[Any, Callable[[str], None]], dict[str, float]], places: Any,
            label: str) -> dict[str, float]:
    """Time and peak memory of one step on ``places``."""
    with contextlib.suppress(OSError):  # reset the resident-set high-water mark (Linux)
        Path("/proc/self/clear_refs").write_text("5")
    before = _status("VmRSS")
    t0 = time.perf_counter()
    out = step(places, lambda msg: print(f"  [{label}] {msg}", file=sys.stderr, flush=True))
    seconds = time.perf_counter() - t0
    return {**out, "seconds": seconds, "rss_mib": _status("VmHWM") - before}


def run_case(n: int, seed: int, baseline: bool) -> dict[str, Any]:
    """One size, in this process: the new model and (optionally) the 0.1 baseline."""
    t0 = time.perf_counter()
    places = places_of(n, seed)
    out: dict[str, Any] = {"n": len(places), "prepare_s": time.perf_counter() - t0}
    modelled_commuting(places.iloc[:50])  # warm-up: imports
    out["new"] = measure(_new, places, f"{n} new")
    if n == REAL:
        out["land"] = measure(_land, places, f"{n} land")
    if baseline:
        out["old"] = measure(_old, places, f"{n} 0.1")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=list(SIZES))
    ap.add_argument("--seed", type=int, default=20241130)
    ap.add_argument("--baseline-50k", action="store_true",
                    help="also run the 0.1 model on 50,000 places (about 14 GB)")
    ap.add_argument("--case", type=int, help=argparse.SUPPRESS)  # one size, in this process
    ap.add_argument("--no-baseline", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case is not None:
        print(json.dumps(run_case(args.case, args.seed, not args.no_baseline)))
        return 0
    print(f"{'places':>7} {'model':<6} {'time s':>8} {'(model':>7} {'+ links)':>9} "
          f"{'peak RSS MiB':>13} {'pairs kept':>11} {'links':>7}")
    for n in args.sizes:
        if n == REAL and not (SWEDEN / "tatorter_2020.gpkg").exists():
            print(f"{n:7d} skipped: shared data not found at {SWEDEN}")
            continue
        cmd = [sys.executable, __file__, "--case", str(n), "--seed", str(args.seed)]
        if n >= 50_000 and not args.baseline_50k:
            cmd.append("--no-baseline")
        done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True)
        res = json.loads(done.stdout)
        for key, name in (("new", "new"), ("land", "+land"), ("old", "0.1")):
            if key in res:
                r = res[key]
                print(f"{res['n']:7d} {name:<6} {r['seconds']:8.2f} {r['model_s']:7.2f} "
                      f"{r['links_s']:9.2f} {r['rss_mib']:13.0f} {r['pairs']:11,.0f} "
                      f"{r['links']:7d}", flush=True)
        if "old" in res:
            old, new = res["old"], res["new"]
            print(f"{'':7} ratio 0.1 / new: time {old['seconds'] / new['seconds']:.1f}x, "
                  f"peak RSS {old['rss_mib'] / max(new['rss_mib'], 1):.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
