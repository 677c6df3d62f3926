"""First contact: how long ``import strukturbild`` and ``strukturbild --help`` take.

Each command runs as a fresh process (``python -c ...``) ``--repeat`` times; the median
wall time is printed, with the ratio to a bare ``python -c pass`` measured in the same
run as the baseline, and what each imports (pandas, geopandas, GDAL must not load for
``--help``). The target of issue 17 is ``--help`` under 0.3 s.

    python benchmarks/bench_startup.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "python -c pass (baseline)": "pass",
    "import strukturbild": "import strukturbild",
    "import strukturbild.config, errors": "import strukturbild.config, strukturbild.errors",
    "strukturbild --help": "import sys; sys.argv = ['strukturbild', '--help']\n"
                           "from strukturbild.cli import main\n"
                           "import contextlib, io\n"
                           "with contextlib.redirect_stdout(io.StringIO()):\n"
                           "    main(['--help'])",
    "strukturbild regions --help": "from strukturbild.cli import main\n"
                                   "import contextlib, io\n"
                                   "with contextlib.redirect_stdout(io.StringIO()):\n"
                                   "    main(['regions', '--help'])",
    "import strukturbild; build (the API)": "import strukturbild; strukturbild.build",
}
HEAVY = ("pandas", "numpy", "geopandas", "pyogrio", "shapely", "requests", "folium",
         "matplotlib")


def _time(code: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _heavy(code: str) -> list[str]:
    probe = f"{code}\nimport sys\nprint(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True,
                         text=True).stdout.strip().splitlines()
    return [m for m in (out[-1] if out else "").split(",") if m]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    base = _time(COMMANDS["python -c pass (baseline)"], args.repeat)
    print(f"{'command':40s} {'median s':>9s} {'× python':>9s}  heavy modules loaded")
    for name, code in COMMANDS.items():
        t = base if name.endswith("(baseline)") else _time(code, args.repeat)
        print(f"{name:40s} {t:9.3f} {t / base:9.1f}  {', '.join(_heavy(code)) or '-'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
