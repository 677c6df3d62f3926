"""Benchmark of strukturbild.analysis.lma.find_clusters (Eurostat/Istat LMA algorithm).

Times the algorithm on the Sardinia commuting flows (both parameter sets of the R
package's reference runs; R LabourMarketAreas 3.4 takes about 36 s for either) and on
generated flow tables of 1,000, 3,566, 5,000 and 20,000 units, prints the growth rate
(slope of log time on log units) and checks that the results do not depend on the
row order or on the id type (integers vs. prefixed strings).

Run: ``python benchmarks/bench_lma.py`` (``--quick`` skips the 20,000-unit case,
``--repeat N`` takes the best of N runs).

The generator puts units on a plane (clustered around a few hundred "towns"), gives
them lognormal populations, lets each unit send most of its employed residents to
itself (45-90 %) and spreads the rest over about 15 destinations, drawn among the
nearest 60 units with a gravity weight ``population * exp(-distance / 8 km)``.
Fixed seed, so every run times the same tables.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from strukturbild.analysis.lma import LMAResult, find_clusters

SARDINIA = Path(__file__).resolve().parents[1].parent / "shared" / "flows" / "sardinia"
PARAMS = {
    "p1000_06667_10000_075": (1000.0, 0.6667, 10000.0, 0.75),
    "p1000_06_10000_07": (1000.0, 0.6, 10000.0, 0.7),
}
SIZES = (1000, 3566, 5000, 20000)


def generate(n_units: int, seed: int = 20240611, n_dest: int = 15,
             ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Realistic sparse commuting flows: ``n_units`` units, about ``n_dest`` out-links each."""
    rng = np.random.default_rng(seed)
    side = 8.0 * np.sqrt(n_units)  # km: about 64 km^2 per unit
    n_towns = max(n_units // 12, 1)
    towns = rng.uniform(0, side, size=(n_towns, 2))
    xy = towns[rng.integers(0, n_towns, size=n_units)] + rng.normal(0, 6.0, size=(n_units, 2))
    pop = np.round(rng.lognormal(mean=7.0, sigma=1.1, size=n_units)) + 20  # employed
    k = min(60, n_units - 1)
    dist, near = cKDTree(xy).query(xy, k=k + 1)
    dist, near = dist[:, 1:], near[:, 1:]  # drop the unit itself
    gravity = pop[near] * np.exp(-dist / 8.0)
    # m destinations per origin, drawn without replacement in proportion to gravity
    # (Gumbel top-m), commuters spread over them in proportion to gravity
    m = np.clip(rng.poisson(n_dest, size=n_units), 1, k)
    keys = np.log(gravity) + rng.gumbel(size=gravity.shape)
    rank = np.argsort(np.argsort(-keys, axis=1), axis=1)
    chosen = rank < m[:, None]
    share_self = rng.uniform(0.45, 0.9, size=n_units)
    n_self = np.round(pop * share_self).astype(np.int64)
    rest = pop.astype(np.int64) - n_self
    pv = np.where(chosen, gravity, 0.0)
    pv /= pv.sum(axis=1, keepdims=True)
    alloc = rng.multinomial(rest, pv)
    keep = alloc > 0
    rows = np.repeat(np.arange(n_units), keep.sum(axis=1))
    origin = np.concatenate([np.arange(n_units), rows])
    dest = np.concatenate([np.arange(n_units), near[keep]])
    count = np.concatenate([n_self, alloc[keep]]).astype(np.int64)
    ids = 100000 + np.arange(n_units, dtype=np.int64)
    return ids[origin], ids[dest], count


def timed(o: NDArray[np.generic], d: NDArray[np.generic], c: NDArray[np.int64],
          params: tuple[float, float, float, float], repeat: int) -> tuple[float, LMAResult]:
    best = np.inf
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = find_clusters(o, d, c, min_size=params[0], min_self_containment=params[1],
                               target_size=params[2], target_self_containment=params[3])
        best = min(best, time.perf_counter() - t0)
    assert result is not None
    return float(best), result


def same_partition(a: LMAResult, b: LMAResult, id_map: Mapping[Any, Any]) -> bool:
    """Whether ``b`` (ids renamed by ``id_map``) gives the same regions as ``a``."""
    la = a.labels.astype(object).where(a.labels.notna(), None)
    lb = b.labels.astype(object).where(b.labels.notna(), None)
    mapped = {id_map[k]: (None if v is None else id_map[v]) for k, v in la.items()}
    return mapped == dict(lb.items()) and list(a.status) == list(b.status)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="skip the 20,000-unit case")
    ap.add_argument("--repeat", type=int, default=3, help="best of N runs (default 3)")
    args = ap.parse_args(argv)

    print("find_clusters (strukturbild.analysis.lma), best of", args.repeat, "runs")
    if (SARDINIA / "flows.csv").exists():
        f = pd.read_csv(SARDINIA / "flows.csv")
        o = f["community_live"].to_numpy()
        d = f["community_work"].to_numpy()
        c = f["amount"].to_numpy()
        for name, prm in PARAMS.items():
            t, r = timed(o, d, c, prm, args.repeat)
            print(f"  Sardinia {name}: {len(np.unique(np.r_[o, d]))} units, {len(c)} flows: "
                  f"{t * 1000:8.1f} ms, {len(r.stats)} LMAs, {r.iterations} iterations "
                  f"(R: ~36 s)")
    else:
        print(f"  (Sardinia data not found at {SARDINIA}; skipped)")

    prm = PARAMS["p1000_06667_10000_075"]
    sizes = [s for s in SIZES if not (args.quick and s > 5000)]
    times: list[float] = []
    for n_units in sizes:
        t_gen = time.perf_counter()
        o, d, c = generate(n_units)
        t_gen = time.perf_counter() - t_gen
        t, r = timed(o, d, c, prm, args.repeat if n_units <= 5000 else 1)
        times.append(t)
        # identical results with shuffled rows and with string ids
        perm = np.random.default_rng(1).permutation(len(c))
        _, r_perm = timed(o[perm], d[perm], c[perm], prm, 1)
        so = np.char.add("X", o.astype(str))
        sd = np.char.add("X", d.astype(str))
        _, r_str = timed(so, sd, c, prm, 1)
        ident = {k: k for k in r.labels.index}
        to_str = {k: "X" + str(k) for k in r.labels.index}
        same = (same_partition(r, r_perm, ident) and same_partition(r, r_str, to_str)
                and r.reserve_list["unit"].tolist() == r_perm.reserve_list["unit"].tolist())
        print(f"  generated {n_units:6d} units, {len(c):7d} flows: {t * 1000:8.1f} ms, "
              f"{len(r.stats):5d} LMAs, {r.iterations:6d} iterations, "
              f"{len(r.reserve_list):5d} reserve events; shuffled rows / string ids "
              f"identical: {same} (generation {t_gen:.1f} s)")
        if not same:
            print("ERROR: results depend on row order or id type", file=sys.stderr)
            return 1
    if len(sizes) >= 2:
        slope = np.polyfit(np.log(np.asarray(sizes, float)), np.log(np.asarray(times)), 1)[0]
        print(f"  growth: time ~ n^{slope:.2f} over {sizes[0]}..{sizes[-1]} units")
        for (n1, t1), (n2, t2) in zip(zip(sizes, times, strict=True),
                                      zip(sizes[1:], times[1:], strict=True), strict=False):
            print(f"    {n1:6d} -> {n2:6d} units: x{t2 / t1:5.2f} time for x{n2 / n1:5.2f} units")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
