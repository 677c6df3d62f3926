"""Benchmark of the Nystuen–Dacey nodal structure on 55 000 flows between 3 000 units.

Prints the time of ``nystuen_dacey`` (best of ``--repeat``) and its ratio to a
baseline measured in the same process: one pass that finds every unit's largest
outflow with pandas (``groupby().idxmax()``), the least any dominant-flow method does.
The target (0.1) is under 1 s.

    python benchmarks/bench_dominant.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pandas as pd

from strukturbild import Flows, nystuen_dacey


def flows(n: int = 3000, pairs: int = 55_000, seed: int = 7) -> Flows:
    """A random sparse commuting table: most flows go to near neighbours."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"U{i:05d}" for i in range(n)], dtype=object)
    o = rng.integers(0, n, pairs + pairs // 4)
    d = (o + rng.geometric(0.02, len(o))) % n
    df = pd.DataFrame({"o": ids[o], "d": ids[d]}).drop_duplicates().iloc[:pairs]
    idx = pd.MultiIndex.from_arrays([df["o"].to_numpy(), df["d"].to_numpy()])
    return Flows(pd.Series(rng.gamma(0.5, 50.0, len(df)) + 0.01, index=idx))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    f = flows()
    count = f.count
    base, nd_times = [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        count.groupby(level=0).idxmax()
        t1 = time.perf_counter()
        nd = nystuen_dacey(f)
        t2 = time.perf_counter()
        base.append(t1 - t0)
        nd_times.append(t2 - t1)
    b, t = min(base), min(nd_times)
    print(f"nystuen_dacey on {len(f):,} flows between {len(f.units):,} units "
          f"(best of {args.repeat})")
    print(f"  baseline (largest outflow per unit, pandas) {b * 1000:8.1f} ms")
    print(f"  nystuen_dacey                              {t * 1000:8.1f} ms "
          f"({len(nd.edges):,} dominant flows)")
    print(f"  ratio to baseline: {t / b:.1f}x; target < 1 s -> {'ok' if t < 1 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
