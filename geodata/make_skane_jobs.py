#!/usr/bin/env python3
"""Write the bundled example's jobs: SCB's day population 2024 of its 70 tätorter.

Reads SCB's jobs per tätort (RAMS/BAS 2024 *sysselsatt dagbefolkning*, the employed
by the location of their workplace; 2023 delineation) from the project's shared data
(``../shared/geodata/sweden/jobs/tatort_jobs_2024.csv`` beside the repository, as
published in Region Halland's open analysis repository) and writes
``geodata/skane/jobs_2024.csv``: ``tatort_code`` and ``jobs`` for the example's 70
tätorter (``geodata/skane/tatorter_2020.csv``), sorted by code, codes as text. The
shared file's README allows the bundled example to carry the jobs of its own places,
with the source named (``geodata/skane/README.md``).

Every one of the 70 codes of 2020 is in the 2023 file with the same code; the script
checks it and refuses to write otherwise, so the example never carries a guessed
figure. A tätort that crosses a län border has one row per län, added up here as
strukturbild's join adds them (Båstad, ``1278TC101``: 2 791 jobs in Skåne and a part
of 5 inhabitants in Halland without a figure). Codes are read as text (``dtype=str``).

Run from the repository root::

    python geodata/make_skane_jobs.py [--source PATH] [--places PATH] [--out PATH]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO.parent / "shared" / "geodata" / "sweden" / "jobs" / "tatort_jobs_2024.csv"
PLACES = REPO / "geodata" / "skane" / "tatorter_2020.csv"
OUT = REPO / "geodata" / "skane" / "jobs_2024.csv"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", type=Path, default=SOURCE)
    ap.add_argument("--places", type=Path, default=PLACES)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    table = pd.read_csv(args.source, dtype=str, keep_default_na=False)
    places = pd.read_csv(args.places, dtype=str, keep_default_na=False)
    codes = sorted(places["tatort_code"])
    rows = table[table["tatort_code"].isin(codes)]
    missing = sorted(set(codes) - set(rows["tatort_code"]))
    if missing:
        raise SystemExit(f"{args.source}: no jobs for {', '.join(missing)}")
    jobs = pd.to_numeric(rows["jobs"].str.strip().replace("", None))
    summed = jobs.groupby(rows["tatort_code"]).sum(min_count=1)
    if summed.isna().any():
        raise SystemExit(f"{args.source}: no jobs figure for "
                         f"{', '.join(summed.index[summed.isna()])}")
    out = summed.astype(int).rename("jobs").rename_axis("tatort_code").reset_index()
    text = out.to_csv(index=False, lineterminator="\n")
    args.out.write_text(text, encoding="utf-8")
    print(f"{args.out}: {len(out)} tätorter, {out['jobs'].sum():,} jobs, "
          f"{len(text.encode()):,} bytes")


if __name__ == "__main__":
    main()
