#!/usr/bin/env python3
"""Write the bundled example's kommun polygons: SCB's 33 kommuner of Skåne län.

Reads SCB's kommun boundaries ("Digitala gränser", CC0 1.0) from the project's
shared geodata (``../shared/geodata/sweden/kommuner.gpkg`` beside the repository,
EPSG:3006) with the filter ``lan_code = '12'`` and writes
``geodata/skane/kommuner_skane.geojson``: RFC 7946 GeoJSON (lon/lat), coordinates
rounded to 6 decimals (about 0.1 m), one feature per line, sorted by kommun code,
so that the file diffs cleanly and rebuilds byte for byte.

SCB's polygons are already strongly generalised (853 vertices for the 33 kommuner;
:func:`shapely.coverage_simplify` at 100 m would drop 2 of them), so they are kept
as SCB publishes them: the kommun borders still meet exactly, and the coast is the
one every SCB kommun layer has.

Run from the repository root::

    python geodata/make_skane_kommuner.py [--source PATH] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO.parent / "shared" / "geodata" / "sweden" / "kommuner.gpkg"
OUT = REPO / "geodata" / "skane" / "kommuner_skane.geojson"
COLUMNS = ("kommun_code", "kommun_name", "lan_code", "lan_name")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", type=Path, default=SOURCE)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    frame = gpd.read_file(args.source, where="lan_code = '12'").to_crs("EPSG:4326")
    frame = frame.sort_values("kommun_code")
    lines = []
    for row in frame.itertuples(index=False):
        geom = shapely.transform(row.geometry, lambda c: np.round(c, 6))
        feature = {"type": "Feature",
                   "properties": {c: getattr(row, c) for c in COLUMNS},
                   "geometry": shapely.geometry.mapping(geom)}
        lines.append(json.dumps(feature, ensure_ascii=False, separators=(",", ":")))
    text = ('{"type":"FeatureCollection","name":"kommuner_skane","features":[\n'
            + ",\n".join(lines) + "\n]}\n")
    args.out.write_text(text, encoding="utf-8")
    print(f"{args.out}: {len(lines)} kommuner, {len(text.encode()):,} bytes")


if __name__ == "__main__":
    main()
