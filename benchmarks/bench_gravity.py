"""Benchmark of strukturbild's gravity-model calibration (``fit_gravity``).

Fits the production-constrained (origin effects, ``log_d_var``, ``dij``) and the
doubly-constrained model (origin and destination effects, ``dij``) with
exponential decay to full ``n x n`` flow tables of n = 100, 290 (Sweden's
kommuner: 84,100 pairs), 1,000 and 2,000 units, and prints for each the time (best
of ``--repeat`` runs), the peak memory and the growth exponent of the time between
sizes (``log(t2 / t1) / log(n2 / n1)``; a fit linear in the number of pairs
``N = n^2`` has exponent 2).  The baseline is the former algorithm, kept here
(not in the package): the same IRLS on the explicit design with one dummy column
per origin/destination label, solved by ``numpy.linalg.lstsq``; it is run in the
same process for n = 100 and 290 only (``--baseline-repeat`` runs, default 1: one
fit at 290 takes a minute or more), and the speed-up and memory ratio against it
are printed with the largest difference between the two fits' coefficients.

Memory is measured two ways, both for the fit alone (the input table exists
before):

- ``traced``: tracemalloc's peak of the Python and NumPy allocations during one
  traced run of the fit (the timing runs are not traced);
- ``RSS``: the growth of the resident set of a fresh Python process (the script
  run again with ``--rss``) from just before to the peak of one fit (``VmHWM``,
  reset through ``/proc/self/clear_refs`` after the table is made, minus
  ``VmRSS``); it also counts BLAS/LAPACK workspace and allocator overhead, but not
  memory the allocator kept from making the table and hands to the fit.  Linux
  only (``n/a`` elsewhere); not measured for the baseline.

The tables are synthetic and fixed (seed 20240611): n units uniformly on a square
of ``40 km * sqrt(n)`` side (one unit per 1,600 km², like the kommuner), lognormal
masses, cost = straight-line distance (an intra-unit cost of 10 km on the
diagonal), and flows drawn from Poisson with mean
``exp(-9 + 0.8 log O_i + 0.9 log D_j - 0.01 d_ij)``; the fitted decay should be
close to -0.01.

Run: ``python benchmarks/bench_gravity.py`` (``--quick`` stops at 1,000 units,
``--repeat N`` takes the best of N runs, ``--no-baseline`` skips the old fit).
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray
from scipy.special import xlogy

from strukturbild.analysis.gravity import GravityFit, fit_gravity

SIZES = (100, 290, 1000, 2000)
BASELINE_SIZES = (100, 290)
MODELS = ("production", "doubly")
MIB = 1024 * 1024
SEED = 20240611

FloatArray = NDArray[np.float64]
_T = TypeVar("_T")


def generate(n: int, seed: int = SEED) -> dict[str, Any]:
    """A full n x n table of flows from a known gravity model plus Poisson noise."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0.0, 40.0 * math.sqrt(n), size=(n, 2))
    mass = np.exp(rng.normal(9.0, 1.0, n))
    oi, dj = np.divmod(np.arange(n * n), n)
    dij = np.hypot(*(xy[oi] - xy[dj]).T)
    dij[oi == dj] = 10.0
    mean = np.exp(-9.0 + 0.8 * np.log(mass[oi]) + 0.9 * np.log(mass[dj]) - 0.01 * dij)
    names = np.array([f"k{i:04d}" for i in range(n)])
    return {
        "flow": rng.poisson(mean).astype(np.float64),
        "dij": dij,
        "origin": names[oi],
        "destination": names[dj],
        "d_var": mass[dj],
    }


# --------------------------------------------------------------------------- #
# the baseline: the former dense-dummy fit (strukturbild before the absorbed fixed
# effects), IRLS on the explicit design with numpy.linalg.lstsq; its input checks
# and fit statistics are left out (they take a negligible part of its time)
# --------------------------------------------------------------------------- #
def _old_irls_poisson(x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
    k = x.shape[1]
    mu = (y + y.mean()) / 2.0
    eta = np.log(mu)
    beta = np.zeros(k)
    dev_old = math.inf
    noise = 64.0 * np.finfo(np.float64).eps * float(y.sum())
    for _ in range(100):
        w = np.sqrt(mu)
        z = eta + (y - mu) / mu
        beta, _res, rank, _sv = np.linalg.lstsq(x * w[:, None], z * w, rcond=None)
        if rank < k:
            raise ValueError(f"design matrix is rank-deficient (rank {rank} < {k} terms)")
        eta = x @ beta
        mu = np.exp(eta)
        dev = float(2.0 * np.sum(xlogy(y, y / mu) - (y - mu)))
        if abs(dev - dev_old) <= 1e-12 * (abs(dev) + 0.1) + noise:
            break
        dev_old = dev
    return np.asarray(beta, dtype=np.float64), mu


def _dummies(prefix: str, labels: NDArray[Any]) -> tuple[list[FloatArray], list[str]]:
    levels, codes = np.unique(labels, return_inverse=True)
    cols = (codes[:, None] == np.arange(1, len(levels))[None, :]).astype(np.float64)
    return list(cols.T), [f"{prefix}{level}" for level in levels.tolist()[1:]]


def old_fit(table: dict[str, Any], model: str) -> tuple[dict[str, float], FloatArray]:
    """The former ``fit_gravity`` for the two benchmarked models (exponential decay)."""
    y = table["flow"]
    columns: list[FloatArray] = [np.ones(y.shape[0])]
    names = ["const"]
    cols, cnames = _dummies("origin_", table["origin"])
    columns += cols
    names += cnames
    if model == "doubly":
        cols, cnames = _dummies("dest_", table["destination"])
        columns += cols
        names += cnames
    else:
        columns.append(np.log(table["d_var"]))
        names.append("log_d_var")
    columns.append(table["dij"])
    names.append("dij")
    beta, mu = _old_irls_poisson(np.column_stack(columns), y)
    return dict(zip(names, beta.tolist(), strict=True)), mu


def new_fit(table: dict[str, Any], model: str) -> GravityFit:
    return fit_gravity(
        table["flow"],
        table["dij"],
        origin=table["origin"],
        destination=table["destination"],
        d_var=table["d_var"],
        model=model,  # type: ignore[arg-type]
        decay="exponential",
    )


# --------------------------------------------------------------------------- #
# measuring
# --------------------------------------------------------------------------- #
def _proc_kib(field: str) -> int | None:
    status = Path("/proc/self/status")
    if not status.exists():
        return None
    for line in status.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return None


def _reset_rss_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def best_time(run: Callable[[], _T], repeat: int) -> tuple[float, _T]:
    """Best wall-clock time of ``repeat`` runs, and the last result."""
    best = math.inf
    for _ in range(max(repeat, 1)):
        t0 = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - t0)
    return best, result


def traced_peak(run: Callable[[], object]) -> float:
    """tracemalloc's peak during one run, in MiB."""
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1] / MIB
    finally:
        tracemalloc.stop()


def rss_growth_child(n: int, model: str) -> None:
    """In a fresh process: print the RSS growth (MiB) of one fit, or ``n/a``."""
    table = generate(n)
    before = _proc_kib("VmRSS") if _reset_rss_peak() else None
    new_fit(table, model)
    peak = _proc_kib("VmHWM")
    print("n/a" if before is None or peak is None else f"{(peak - before) / 1024:.1f}")


def rss_growth(n: int, model: str) -> float | None:
    """RSS growth of one fit in a fresh process (see the module docstring), in MiB."""
    res = subprocess.run(
        [sys.executable, __file__, "--rss", str(n), model],
        capture_output=True, text=True, check=True,
    )
    out = res.stdout.strip().splitlines()[-1]
    return None if out == "n/a" else float(out)


def _fmt_rss(rss: float | None) -> str:
    return f"{rss:8.0f}" if rss is not None else "     n/a"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="stop at 1,000 units")
    ap.add_argument("--repeat", type=int, default=3, help="best of N runs (default 3)")
    ap.add_argument("--baseline-repeat", type=int, default=1,
                    help="best of N runs of the old dense fit (default 1)")
    ap.add_argument("--no-baseline", action="store_true", help="skip the old dense fit")
    ap.add_argument("--rss", nargs=2, metavar=("UNITS", "MODEL"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.rss:  # child process of rss_growth
        rss_growth_child(int(args.rss[0]), args.rss[1])
        return 0

    sizes = [n for n in SIZES if not (args.quick and n > 1000)]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"fit_gravity (strukturbild.analysis.gravity), exponential decay, best of {args.repeat} "
          f"runs; numpy {np.__version__}, {os.cpu_count()} CPUs, load average {load:.1f}")
    print("memory (MiB): 'traced' = tracemalloc peak of the fit, 'RSS' = growth of the "
          "resident set during the fit in a fresh process")
    header = (f"  {'units':>6s} {'pairs':>9s} {'model':<10s} {'time s':>9s} {'traced':>8s} "
              f"{'RSS':>8s} {'growth':>7s}  fitted decay")
    print(header)
    times: dict[str, list[float]] = {model: [] for model in MODELS}
    results: dict[tuple[int, str], tuple[float, float, GravityFit]] = {}
    for n in sizes:
        table = generate(n)
        for model in MODELS:
            new_fit(table, model)  # warm-up (imports, caches)
            t, fit = best_time(partial(new_fit, table, model), args.repeat)
            traced = traced_peak(partial(new_fit, table, model))
            rss = rss_growth(n, model)
            times[model].append(t)
            results[(n, model)] = (t, traced, fit)
            growth = ""
            if len(times[model]) > 1:
                n_prev = sizes[len(times[model]) - 2]
                exponent = math.log(t / times[model][-2]) / math.log(n / n_prev)
                growth = f"n^{exponent:4.2f}"
            print(f"  {n:6d} {n * n:9,d} {model:<10s} {t:9.3f} {traced:8.0f} {_fmt_rss(rss)} "
                  f"{growth:>7s}  dij = {fit.params['dij']:.5f}", flush=True)
        del table
    if len(sizes) > 1:
        for model in MODELS:
            slope = np.polyfit(np.log(sizes), np.log(times[model]), 1)[0]
            print(f"  {model}: time ~ n^{slope:.2f} over {sizes[0]}..{sizes[-1]} units "
                  f"(n^2 = number of pairs)")
    n290 = 290
    if (n290, "production") in results:
        t = results[(n290, "production")][0]
        traced = results[(n290, "production")][1]
        ok = t < 1.0 and traced < 500
        print(f"  target: 290 units production-constrained < 1 s and < 500 MiB -> "
              f"{t:.3f} s, {traced:.0f} MiB traced: {'ok' if ok else 'MISSED'}")

    if args.no_baseline:
        return 0
    print(f"\nbaseline: the former dense-dummy IRLS (numpy.linalg.lstsq on the explicit "
          f"design), best of {args.baseline_repeat}, same process")
    print(f"  {'units':>6s} {'model':<10s} {'old s':>9s} {'new s':>9s} {'speed-up':>9s} "
          f"{'old MiB':>8s} {'new MiB':>8s} {'memory':>7s} {'max |d params|':>15s}")
    for n in BASELINE_SIZES:
        if (n, MODELS[0]) not in results:
            continue
        table = generate(n)
        for model in MODELS:
            t_old, (params_old, mu_old) = best_time(partial(old_fit, table, model),
                                                    args.baseline_repeat)
            traced_old = traced_peak(partial(old_fit, table, model))
            t_new, traced_new, fit = results[(n, model)]
            assert list(params_old) == list(fit.params)
            diff = max(abs(params_old[key] - fit.params[key]) for key in fit.params)
            fitted = float(np.max(np.abs(mu_old - fit.fitted) / mu_old))
            print(f"  {n:6d} {model:<10s} {t_old:9.3f} {t_new:9.3f} {t_old / t_new:8.0f}x "
                  f"{traced_old:8.0f} {traced_new:8.0f} {traced_old / traced_new:6.0f}x "
                  f"{diff:15.1e}  (fitted: max rel. difference {fitted:.1e})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
