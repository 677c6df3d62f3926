#!/usr/bin/env python3
"""Make strukturbild's offline land base: Natural Earth 1:10m land around Sweden.

What it makes
-------------
Gzipped GeoJSON files (RFC 7946: EPSG:4326, lon/lat, coordinates rounded
to 4 decimals, i.e. <= 11 m) with the land around Sweden, for the maps'
background: sea = background colour, land = these polygons, the project's
own areas (SCB's kommuner, say) on top. They are package data of
strukturbild (``src/strukturbild/data/base/``), read by
``strukturbild.sources.base``; nothing is fetched when a map is made.

``land_ne_{detail,overview}.geojson.gz``:
    every country, Sweden included, from Natural Earth only. The renderer
    draws Sweden outside the project's areas from Natural Earth's Sweden
    minus the project's areas (holes filled); inside them, the project's own
    polygons.

Levels:

* ``detail``: Douglas-Peucker tolerance 100 m, islands >= 0.1 km2. For
  regional maps (a Skåne map ~150 km wide at ~1000 px, ~150 m per pixel).
* ``overview``: tolerance 1 000 m, islands >= 4 km2. For the whole-Sweden
  map (~1 550 km tall at ~1000 px, ~1.5 km per pixel).

Each file is a FeatureCollection of

* ``"kind": "land"`` (Multi)Polygons with ``iso_a3``, ``iso_n3``, ``name``,
  ``sovereign`` (the state: ``FIN`` for Åland ``ALA``) and ``source``
  (``naturalearth``): Sweden is ``SWE``, so a renderer can tell Swedish land
  from its neighbours'; and
* ``"kind": "border"`` (Multi)LineStrings, one per pair of countries with a
  land border (``iso_a3`` e.g. ``NOR-SWE``), for drawing national borders.

The coverage is the SWEREF 99 TM (EPSG:3006) rectangle
x -50 000 .. 1 250 000 m, y 5 950 000 .. 7 950 000 m (about 0-35 deg E,
53.2-71.3 deg N in lon/lat): Sweden's extent (x 277-917 km,
y 6 134-7 670 km) padded so that a portrait (1:sqrt 2) whole-Sweden page
with a 5 % margin (x 0-1 195 km, y 5 980-7 820 km) and any regional map
reaching ~200 km past the Swedish border are covered.

Natural Earth is simplified per TopoJSON arc, in metres (EPSG:3006), so a
border shared by two countries is simplified once and the two countries'
polygons still meet exactly: no slivers of sea along a border.

Source and licence
------------------
Natural Earth 1:10m "Admin 0 - Countries", version 4.1.0
(https://www.naturalearthdata.com/downloads/10m-cultural-vectors/), which is
in the public domain ("All versions of Natural Earth raster + vector map data
found on this website are in the public domain",
https://www.naturalearthdata.com/about/terms-of-use/).

It is read from the file ``countries-10m.json`` in the npm package
**world-atlas 2.0.2** by Mike Bostock (https://www.npmjs.com/package/world-atlas,
https://github.com/topojson/world-atlas; tarball
https://registry.npmjs.org/world-atlas/-/world-atlas-2.0.2.tgz, npm shasum
4bca4a578f3a413bd409c3f07f2054fe7375824f). world-atlas converts Natural
Earth's shapefile to TopoJSON (quantised to a 1e5 x 1e5 grid, i.e.
0.0036 deg x 0.0017 deg, ~220 m x 190 m at 56 deg N) and is released under
the ISC licence (the package code; the data stays public domain). The ISO
3166-1 numeric id of each country comes from the package.

Usage
-----
::

    python geodata/base/make_land.py            # runs `npm pack world-atlas@2.0.2`
    python geodata/base/make_land.py --source world-atlas-2.0.2.tgz
    python geodata/base/make_land.py --source countries-10m.json --out DIR

The input is checked against pinned SHA-256 digests, and the output is
byte-for-byte reproducible (sorted keys, gzip mtime 0) and checked against
the digests of the committed files (:data:`EXPECTED`). Needs numpy, shapely
(>= 2) and pyproj, and ``npm`` only when no ``--source`` is given.
Nothing is fetched at run time by the renderer: the output is package data.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np
import pyproj
import shapely
import shapely.affinity
from shapely.geometry import LineString, MultiLineString, Polygon, box, mapping

PACKAGE = "world-atlas"
VERSION = "2.0.2"
MEMBER = "package/countries-10m.json"
TARBALL_SHA256 = "032e7765f2ce00edaeafec23ff22bc3b77e42987c257da944cc585b452c05b97"
MEMBER_SHA256 = "3bc6f1d367a9bcec479841bae0e76092f512838411d0cef124e92eec4db45f79"

#: Where the files go: strukturbild's package data.
OUT = Path(__file__).resolve().parents[2] / "src" / "strukturbild" / "data" / "base"
#: SHA-256 of the files this script makes (and the repository holds).
EXPECTED = {
    "land_ne_detail.geojson.gz":
        "03b4a84cae4b00233db3e38b55f89a563ae00604898c9326c8b03801b6ed0921",
    "land_ne_overview.geojson.gz":
        "2f0e6981e60d1772758dde7a34508dd85a8b2670ab71c2c4012f9a5374f06d15",
}

#: Coverage, EPSG:3006 (xmin, ymin, xmax, ymax), metres. See the docstring.
CLIP_3006 = (-50_000.0, 5_950_000.0, 1_250_000.0, 7_950_000.0)
#: Arcs are simplified only inside this lon/lat box (it holds CLIP_3006 with
#: room to spare); outside it they are dropped by the clip anyway, and far
#: from Sweden EPSG:3006 is not a sensible projection.
WORK_LONLAT = (-8.0, 50.0, 42.0, 74.0)

#: name -> (Douglas-Peucker tolerance in m, smallest island kept in m2)
LEVELS = {
    "detail": (100.0, 0.1e6),
    "overview": (1000.0, 4e6),
}
DECIMALS = 4  # lon/lat decimals in the output: 1e-4 deg <= 11 m (lat), 6 m (lon)

#: ISO 3166-1 numeric (world-atlas ids) -> alpha-3 for every country with
#: land inside CLIP_3006. An unknown id in the clip is an error, so a new
#: source version cannot slip a country in unnamed.
ISO_A3 = {
    "112": "BLR", "208": "DNK", "233": "EST", "246": "FIN", "248": "ALA",
    "276": "DEU", "428": "LVA", "440": "LTU", "528": "NLD", "578": "NOR",
    "616": "POL", "643": "RUS", "752": "SWE",
}

#: Territories whose sovereign state is another country (Åland is Finnish).
SOVEREIGN = {"ALA": "FIN"}

_TO_3006 = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:3006", always_xy=True)
_TO_4326 = pyproj.Transformer.from_crs("EPSG:3006", "EPSG:4326", always_xy=True)


# ---------------------------------------------------------------- input
def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_source(source: Path | None) -> dict:
    """The world-atlas countries-10m topology, checked against its digest."""
    if source is None:
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["npm", "pack", f"{PACKAGE}@{VERSION}", "--silent"],
                           cwd=tmp, check=True, stdout=subprocess.DEVNULL)
            return read_source(Path(tmp) / f"{PACKAGE}-{VERSION}.tgz")
    raw = source.read_bytes()
    if source.name.endswith((".tgz", ".tar.gz")):
        if _sha256(raw) != TARBALL_SHA256:
            sys.exit(f"{source}: SHA-256 differs from {PACKAGE} {VERSION}'s tarball")
        with tarfile.open(source) as tar:
            member = tar.extractfile(MEMBER)
            assert member is not None
            raw = member.read()
    if _sha256(raw) != MEMBER_SHA256:
        sys.exit(f"{source}: SHA-256 differs from {PACKAGE} {VERSION}'s {MEMBER}")
    return json.loads(raw)


def decode_arcs(topo: dict) -> list[np.ndarray]:
    """TopoJSON arcs (delta-encoded, quantised) as lon/lat float arrays."""
    scale = np.asarray(topo["transform"]["scale"])
    translate = np.asarray(topo["transform"]["translate"])
    return [np.cumsum(np.asarray(a, dtype=np.int64), axis=0) * scale + translate
            for a in topo["arcs"]]


# ---------------------------------------------------------------- simplify
def _dp_keep(xy: np.ndarray, tol: float) -> np.ndarray:
    """Douglas-Peucker (distance to segment): mask of the vertices kept."""
    n = len(xy)
    keep = np.zeros(n, dtype=bool)
    keep[0] = keep[-1] = True
    stack = [(0, n - 1)]
    while stack:
        i, j = stack.pop()
        if j <= i + 1:
            continue
        a, b, pts = xy[i], xy[j], xy[i + 1:j]
        d = b - a
        dd = float(d @ d)
        if dd == 0.0:
            dist = np.hypot(*(pts - a).T)
        else:
            t = np.clip((pts - a) @ d / dd, 0.0, 1.0)
            dist = np.hypot(*(pts - (a + t[:, None] * d)).T)
        k = int(np.argmax(dist))
        if dist[k] > tol:
            m = i + 1 + k
            keep[m] = True
            stack += [(i, m), (m, j)]
    return keep


def simplify_arc(lonlat: np.ndarray, tol: float) -> np.ndarray:
    """One arc, simplified in EPSG:3006 inside WORK_LONLAT, kept as is outside.

    The kept vertices are original ones (no reprojection round trip), and the
    first and last vertex always stay, so arcs still join where they met.
    """
    x0, y0, x1, y1 = WORK_LONLAT
    inside = ((lonlat[:, 0] >= x0) & (lonlat[:, 0] <= x1)
              & (lonlat[:, 1] >= y0) & (lonlat[:, 1] <= y1))
    keep = ~inside
    keep[0] = keep[-1] = True
    # runs of consecutive inside vertices, each with its outside neighbours
    edges = np.flatnonzero(np.diff(np.r_[0, inside.astype(np.int8), 0]))
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        lo, hi = max(start - 1, 0), min(stop, len(lonlat) - 1)
        x, y = _TO_3006.transform(lonlat[lo:hi + 1, 0], lonlat[lo:hi + 1, 1])
        keep[lo:hi + 1] |= _dp_keep(np.column_stack([x, y]), tol)
    return lonlat[keep]


# ---------------------------------------------------------------- assemble
def _ring(arcs: list[np.ndarray], idx: list[int]) -> np.ndarray:
    """A ring from its arcs, with longitudes unwrapped across the antimeridian.

    world-atlas stitched Natural Earth's antimeridian cuts (geostitch), so
    Russia's mainland ring jumps from +180 to -180 deg; unwrapped, it is a
    plain planar ring (whose longitudes may run past +-180: see ne_layers).
    """
    parts = []
    for n, i in enumerate(idx):
        a = arcs[i] if i >= 0 else arcs[~i][::-1]
        parts.append(a if n == 0 else a[1:])
    ring = np.concatenate(parts)
    jumps = np.round(np.diff(ring[:, 0]) / 360.0)
    if jumps.any():
        ring = ring.copy()
        ring[1:, 0] -= 360.0 * np.cumsum(jumps)
    return ring


def _polygons(geom: dict) -> list[list[list[int]]]:
    if geom["type"] == "Polygon":
        return [geom["arcs"]]
    if geom["type"] == "MultiPolygon":
        return geom["arcs"]
    return []


def _clip_lonlat() -> shapely.Geometry:
    """CLIP_3006 as a lon/lat polygon, densified every 10 km."""
    rect = shapely.segmentize(box(*CLIP_3006), 10_000.0)
    xy = shapely.get_coordinates(rect)
    lon, lat = _TO_4326.transform(xy[:, 0], xy[:, 1])
    return Polygon(np.column_stack([lon, lat]))


def _to_3006(geom: shapely.Geometry) -> shapely.Geometry:
    return shapely.transform(geom, lambda c: np.column_stack(_TO_3006.transform(c[:, 0], c[:, 1])))


def _to_4326(geom: shapely.Geometry) -> shapely.Geometry:
    """EPSG:3006 -> lon/lat, rounded to DECIMALS."""
    return shapely.transform(geom, lambda c: np.round(
        np.column_stack(_TO_4326.transform(c[:, 0], c[:, 1])), DECIMALS))


def _polys(geom: shapely.Geometry, min_area: float = 0.0) -> list[Polygon]:
    return [p for p in shapely.get_parts(geom)
            if p.geom_type == "Polygon" and not p.is_empty and p.area >= min_area]


def _lines(geom: shapely.Geometry) -> list[LineString]:
    geom = shapely.line_merge(shapely.union_all(
        [p for p in shapely.get_parts(geom) if p.geom_type in ("LineString", "MultiLineString")]))
    return [p for p in shapely.get_parts(geom) if p.geom_type == "LineString" and p.length > 0]


def _multi(parts: list) -> shapely.Geometry:
    if parts and isinstance(parts[0], Polygon):
        return parts[0] if len(parts) == 1 else shapely.multipolygons(parts)
    return parts[0] if len(parts) == 1 else MultiLineString(parts)


def ne_layers(topo: dict, arcs_lonlat: list[np.ndarray], tol: float, min_area: float
              ) -> tuple[dict[str, dict], dict[str, shapely.Geometry]]:
    """Natural Earth land per country and land borders per pair, in EPSG:3006.

    Returns ``lands``: alpha-3 -> {"props": ..., "geom": (Multi)Polygon} and
    ``borders``: "AAA-BBB" (sorted) -> (Multi)LineString, clipped to CLIP_3006.
    ``tol`` is the Douglas-Peucker tolerance per arc (0 keeps the source as is);
    islands smaller than ``min_area`` m2 are dropped.
    """
    clip = _clip_lonlat()
    cx0, cy0, cx1, cy1 = clip.bounds
    countries = topo["objects"]["countries"]["geometries"]

    def touches(g: dict) -> bool:  # cheap bbox test on the raw outer rings
        for poly in _polygons(g):
            xy = _ring(arcs_lonlat, poly[0])
            if (xy[:, 0].max() >= cx0 and xy[:, 0].min() <= cx1
                    and xy[:, 1].max() >= cy0 and xy[:, 1].min() <= cy1):
                return True
        return False

    chosen = [g for g in countries if touches(g)]
    used = sorted({(i if i >= 0 else ~i)
                   for g in chosen for poly in _polygons(g) for ring in poly for i in ring})
    simple: dict[int, np.ndarray] = {i: simplify_arc(arcs_lonlat[i], tol) for i in used}

    lands: dict[str, dict] = {}
    arc_owner: dict[int, set[str]] = {}
    for g in chosen:
        polys = []
        for poly in _polygons(g):
            rings = [_ring(simple, r) for r in poly]
            if len(rings[0]) < 4:
                continue  # an island thinner than the tolerance
            if abs(rings[0][-1, 0] - rings[0][0, 0]) > 180.0:
                raise SystemExit(f"{g['properties']['name']}: a ring around a pole")
            shell = Polygon(rings[0], [r for r in rings[1:] if len(r) >= 4])
            polys.append(shapely.make_valid(shell))
        if not polys:
            continue
        # the clip, and its copies one turn east and west for unwrapped rings
        whole = shapely.union_all(polys)
        inside = shapely.union_all([
            shapely.affinity.translate(shapely.intersection(
                whole, shapely.affinity.translate(clip, xoff=turn)), xoff=-turn)
            for turn in (-360.0, 0.0, 360.0)])
        parts = _polys(_to_3006(inside), min_area)
        if not parts:
            continue
        iso_n3 = g.get("id")
        if iso_n3 not in ISO_A3:
            raise SystemExit(f"no ISO alpha-3 for id {iso_n3!r} "
                             f"({g['properties']['name']}): add it to ISO_A3")
        a3 = ISO_A3[iso_n3]
        for poly in _polygons(g):
            for ring in poly:
                for i in ring:
                    arc_owner.setdefault(i if i >= 0 else ~i, set()).add(a3)
        lands[a3] = {"props": {"kind": "land", "iso_a3": a3, "iso_n3": iso_n3,
                               "name": g["properties"]["name"],
                               "sovereign": SOVEREIGN.get(a3, a3),
                               "source": "naturalearth"},
                     "geom": _multi(parts)}

    # Land borders: the arcs used by exactly two of the countries kept.
    pairs: dict[str, list[LineString]] = {}
    for i, owners in arc_owner.items():
        if len(owners) == 2 and owners <= lands.keys():
            pairs.setdefault("-".join(sorted(owners)), []).append(LineString(simple[i]))
    borders = {}
    for pair, lines in sorted(pairs.items()):
        parts = _lines(_to_3006(shapely.intersection(MultiLineString(lines), clip)))
        if parts:
            borders[pair] = _multi(parts)
    return lands, borders


def to_features(lands: list[dict], borders: dict[str, shapely.Geometry]
                ) -> tuple[list[dict], int]:
    feats, nv = [], 0
    for f in lands:
        geom = _to_4326(f["geom"])
        if not geom.is_valid:
            geom = shapely.make_valid(geom)
        nv += int(shapely.get_num_coordinates(geom))
        feats.append({"type": "Feature", "properties": f["props"], "geometry": mapping(geom)})
    for pair, line in sorted(borders.items()):
        geom = _to_4326(line)
        nv += int(shapely.get_num_coordinates(geom))
        feats.append({"type": "Feature",
                      "properties": {"kind": "border", "iso_a3": pair, "name": pair,
                                     "source": "naturalearth"},
                      "geometry": mapping(geom)})
    feats.sort(key=lambda f: (f["properties"]["kind"], f["properties"]["iso_a3"],
                              f["properties"].get("lan_code", ""),
                              f["properties"]["source"]))
    return feats, nv


def feature_collection(name: str, tol: float, min_area: float, features: list[dict]) -> dict:
    fc = {
        "type": "FeatureCollection",
        "name": name,
        "source": (f"Natural Earth 1:10m Admin 0 - Countries v4.1.0 (public domain), "
                   f"via npm {PACKAGE} {VERSION} ({MEMBER.split('/')[-1]})"),
        "license": "Public domain (Natural Earth); see LICENCE-naturalearth.txt",
        "made_by": "make_land.py",
        "tolerance_m": tol,
        "min_island_km2": min_area / 1e6,
        "clip_epsg3006": list(CLIP_3006),
        "features": features,
    }
    return fc


def write_gz(path: Path, obj: dict) -> int:
    text = json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    with open(path, "wb") as fh, gzip.GzipFile(filename="", mode="wb", fileobj=fh,
                                               compresslevel=9, mtime=0) as gz:
        gz.write(text.encode("utf-8"))
    return path.stat().st_size


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", type=Path,
                    help=f"{PACKAGE}-{VERSION}.tgz or its countries-10m.json "
                         f"(default: npm pack {PACKAGE}@{VERSION})")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    topo = read_source(args.source)
    arcs = decode_arcs(topo)
    args.out.mkdir(parents=True, exist_ok=True)
    for level, (tol, min_area) in LEVELS.items():
        lands, borders = ne_layers(topo, arcs, tol, min_area)
        feats, nv = to_features(list(lands.values()), borders)
        name = f"land_ne_{level}"
        path = args.out / f"{name}.geojson.gz"
        size = write_gz(path, feature_collection(name, tol, min_area, feats))
        digest = _sha256(path.read_bytes())
        print(f"{name}.geojson.gz: {size:,} bytes, {nv:,} vertices, {len(feats)} features, "
              f"sha256 {digest}")
        if EXPECTED.get(path.name) not in (None, digest):
            sys.exit(f"{path.name}: SHA-256 differs from the committed file's "
                     f"({EXPECTED[path.name]}); update EXPECTED on purpose")


if __name__ == "__main__":
    main()
