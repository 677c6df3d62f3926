"""Whole-country benchmark: all 2,017 tätorter through the pipeline, map and GeoPackage.

Prints the time of each stage, the total, peak memory, and the ratio of the whole run
to reading the inputs alone (the baseline, measured in the same process). Reads the
shared data from ../shared (never copied into the repository).

    python benchmarks/bench_pipeline.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

from strukturbild import write_geopackage, write_html, write_summary
from strukturbild.config import project_from_dict
from strukturbild.pipeline import build, read_inputs

SWEDEN = Path(__file__).resolve().parents[1].parent / "shared" / "geodata" / "sweden"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if not (SWEDEN / "tatorter_2020.gpkg").exists():
        print(f"shared data not found at {SWEDEN}; nothing to measure", file=sys.stderr)
        return 1
    tmp = Path(tempfile.mkdtemp())
    project = project_from_dict({
        "project": {"name": "sverige", "title": "Strukturbild för Sverige"},
        "places": {"path": str(SWEDEN / "tatorter_2020.gpkg")},
        "areas": {"path": str(SWEDEN / "kommuner.gpkg")},
    }, base_dir=tmp)
    build(project)  # warm-up: imports and caches
    rows: dict[str, list[float]] = {k: [] for k in ("read (baseline)", "build", "html",
                                                   "gpkg", "json", "total")}
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        read_inputs(project)
        t1 = time.perf_counter()
        image = build(project)
        t2 = time.perf_counter()
        html = write_html(image, tmp / "sverige.html")
        t3 = time.perf_counter()
        write_geopackage(image, tmp / "sverige.gpkg")
        t4 = time.perf_counter()
        write_summary(image, tmp / "sverige.json")
        t5 = time.perf_counter()
        for key, dt in zip(rows, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t5 - t1),
                           strict=True):
            rows[key].append(dt)
    best = {k: min(v) for k, v in rows.items()}
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"whole country: {len(image.places)} places, {len(image.areas)} kommuner, "
          f"{len(image.links)} modelled links (best of {args.repeat})")
    for key, dt in best.items():
        print(f"  {key:16s} {dt:7.3f} s")
    print(f"  html size        {html.stat().st_size / 1024:7.1f} KiB")
    print(f"  gpkg size        {(tmp / 'sverige.gpkg').stat().st_size / 1024:7.1f} KiB")
    print(f"  peak memory      {peak_mib:7.1f} MiB (max RSS of the process)")
    print(f"  ratio total / read-only baseline: {best['total'] / best['read (baseline)']:.1f}x")
    print(f"  target: total < 30 s -> {'ok' if best['total'] < 30 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
