"""The Overpass API: OpenStreetMap's railways, main roads and ferry lines in a box.

Why the answers are fetched here and not by osmnx: osmnx's ``features`` module does
its own HTTP with the module-level ``requests.get``/``requests.post`` (no session on
which our :class:`~strukturbild.sources.scb.deadline.WatchedAdapter` could be mounted;
``settings.requests_kwargs`` cannot carry an adapter), retries HTTP 429 and 504 by
sleeping 55 s without bound, and caches answers without checksums, so neither the
deadline per request, nor ``--max-mb``, nor ``--max-wait``, nor a verified cache would
hold. And its converter from Overpass JSON (``features._create_gdf``) is private: the
public one reads only OSM XML files. So the query goes through the SCB client's
:class:`~strukturbild.sources.scb.httpclient.HttpFetcher` (cache with checksums,
``--offline``, a wall-clock deadline per request, size cap, bounded retries and
waits), asks ``out geom`` (every way with its own coordinates, nothing to join), each
field is checked (a malformed answer names the URL and the field, as SCB's do), and
:func:`shapely.linestrings` makes the lines (:mod:`.ways`).

A large box is split into tiles of at most ``tile_km`` kilometres a side, one request
(and one cache entry) each; a way that crosses tiles comes once. An answer whose
``remark`` says the server stopped the query (Overpass answers HTTP 200 with the
elements found so far) is an error and is never cached: all or none.
"""

from __future__ import annotations

import math
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from pyproj import Transformer

from ...errors import FetchError
from ..scb.answers import bad_field, describe, int_value, list_value, mapping_value
from ..scb.httpclient import HttpFetcher
from .ways import FERRY_ROUTES, RAILWAY_VALUES, ROAD_VALUES

__all__ = [
    "DEFAULT_OVERPASS_URL",
    "DEFAULT_TILE_KM",
    "ENV_OVERPASS_URL",
    "MAX_TILES",
    "OverpassWays",
    "check_answer",
    "fetch_ways",
    "query",
    "tiles",
]

#: The main public Overpass instance (overpass-api.de).
DEFAULT_OVERPASS_URL = "https://overpass-api.de/api/interpreter"
#: The environment variable that overrides it (tests point it at a local server).
ENV_OVERPASS_URL = "STRUKTURBILD_OVERPASS_URL"
#: Tiles of at most this many km a side: a tile of Skåne's size answers in seconds.
DEFAULT_TILE_KM = 150.0
#: The most tiles one run asks for (all of Sweden at 50 km is about 400).
MAX_TILES = 2000
#: Seconds the server may spend on one query (Overpass's [timeout:]); our own deadline
#: per request (--timeout) bounds the whole request whatever the server does.
SERVER_TIMEOUT = 180

Bbox = tuple[float, float, float, float]  # west, south, east, north (degrees)


def query(bbox: Bbox, *, server_timeout: int = SERVER_TIMEOUT) -> str:
    """The Overpass QL query for one tile: the ways of :mod:`.ways`' rule, with geometry.

    Examples
    --------
    >>> print(query((12.9, 55.5, 13.3, 55.8)))  # doctest: +NORMALIZE_WHITESPACE
    [out:json][timeout:180];
    (way["railway"~"^(rail|light_rail|subway|tram|narrow_gauge)$"][!"service"](55.5,12.9,55.8,13.3);
    way["highway"~"^(motorway|trunk|primary)(_link)?$"](55.5,12.9,55.8,13.3);
    way["route"~"^(ferry)$"](55.5,12.9,55.8,13.3););
    out tags geom qt;
    """
    w, s, e, n = (f"{v:.5f}".rstrip("0").rstrip(".") for v in bbox)
    box = f"({s},{w},{n},{e})"
    return (f"[out:json][timeout:{server_timeout}];\n"
            f'(way["railway"~"^({"|".join(RAILWAY_VALUES)})$"][!"service"]{box};\n'
            f'way["highway"~"^({"|".join(ROAD_VALUES)})(_link)?$"]{box};\n'
            f'way["route"~"^({"|".join(FERRY_ROUTES)})$"]{box};);\n'
            "out tags geom qt;")


def tiles(bbox: Bbox, tile_km: float = DEFAULT_TILE_KM) -> list[Bbox]:
    """``bbox`` (degrees) cut into a grid of tiles of at most ``tile_km`` a side.

    Sides are measured in SWEREF 99 TM (EPSG:3006); the tiles' edges are rounded to
    1e-5 degrees, so the same box gives the same requests (and cache entries).

    Examples
    --------
    >>> len(tiles((12.4, 55.3, 14.6, 56.5), 150)), len(tiles((12.4, 55.3, 14.6, 56.5), 50))
    (1, 9)
    """
    w, s, e, n = bbox
    to_m = Transformer.from_crs("EPSG:4326", "EPSG:3006", always_xy=True)
    xs, ys = to_m.transform([w, e, w, e, (w + e) / 2, (w + e) / 2], [s, s, n, n, s, n])
    width = max(abs(xs[1] - xs[0]), abs(xs[3] - xs[2]))
    height = max(abs(ys[5] - ys[4]), abs(ys[2] - ys[0]), abs(ys[3] - ys[1]))
    nx = max(1, math.ceil(width / (tile_km * 1000.0) - 1e-9))
    ny = max(1, math.ceil(height / (tile_km * 1000.0) - 1e-9))
    if nx * ny > MAX_TILES:
        raise FetchError(f"the box {w:g},{s:g},{e:g},{n:g} would take {nx * ny:,} tiles of "
                         f"{tile_km:g} km, more than the {MAX_TILES:,} allowed: give a larger "
                         "--tile-km or a smaller box")
    lons = np.round(np.linspace(w, e, nx + 1), 5)
    lats = np.round(np.linspace(s, n, ny + 1), 5)
    return [(float(lons[i]), float(lats[j]), float(lons[i + 1]), float(lats[j + 1]))
            for j in range(ny) for i in range(nx)]


@dataclass
class OverpassWays:
    """The ways of all tiles: ids, tags, lon/lat coordinates, and where they came from."""

    ids: list[int]
    tags: list[dict[str, str]]
    lines: list[np.ndarray[Any, Any]]
    urls: list[str]
    timestamps: list[str]


def check_answer(doc: Any, url: str) -> list[tuple[int, dict[str, str], np.ndarray[Any, Any]]]:
    """The ways of one Overpass answer, every field checked.

    A malformed answer is a :class:`~strukturbild.errors.FetchError` naming ``url``
    and the field (``elements[3].geometry[2].lat``); a ``remark`` with an error (the
    server stopped the query and sent what it had) is one too.

    Examples
    --------
    >>> way = {"type": "way", "id": 5, "tags": {"highway": "primary"},
    ...        "geometry": [{"lat": 55.6, "lon": 13.0}, {"lat": 55.7, "lon": 13.1}]}
    >>> [(i, t) for i, t, _ in check_answer({"elements": [way]}, "u")]
    [(5, {'highway': 'primary'})]
    >>> check_answer({"elements": [{**way, "geometry": [{"lat": True, "lon": 1}]}]}, "u")
    Traceback (most recent call last):
    ...
    strukturbild.errors.FetchError: u: field 'elements[0].geometry': expected at least 2 ...
    """
    doc = mapping_value(doc, source=url, field="(the answer)")
    remark = doc.get("remark")
    if isinstance(remark, str) and ("error" in remark.lower() or "timed out" in remark.lower()):
        raise bad_field(url, "remark", f"the server stopped the query and sent only part of "
                        f"the answer ({remark.strip()[:300]!r}); nothing was kept. Try again "
                        "later, or with a smaller --tile-km")
    elements = list_value(doc.get("elements"), source=url, field="elements")
    out = []
    for k, el in enumerate(elements):
        where = f"elements[{k}]"
        el = mapping_value(el, source=url, field=where)
        if el.get("type") != "way":
            raise bad_field(url, f"{where}.type", f"expected 'way', got {describe(el.get('type'))}")
        osm_id = int_value(el.get("id"), source=url, field=f"{where}.id", low=1,
                           high=2**62)
        raw_tags = mapping_value(el.get("tags", {}), source=url, field=f"{where}.tags")
        tags: dict[str, str] = {}
        for key, value in raw_tags.items():
            if not isinstance(value, str):
                raise bad_field(url, f"{where}.tags.{key}", f"expected text, got "
                                f"{describe(value)}")
            tags[str(key)] = value
        geometry = list_value(el.get("geometry"), source=url, field=f"{where}.geometry")
        if len(geometry) < 2:
            raise bad_field(url, f"{where}.geometry",
                            f"expected at least 2 points, got {len(geometry)}")
        xy = np.empty((len(geometry), 2))
        for j, pt in enumerate(geometry):
            pt = mapping_value(pt, source=url, field=f"{where}.geometry[{j}]")
            for c, (name, limit) in enumerate((("lon", 180.0), ("lat", 90.0))):
                v = pt.get(name)
                if isinstance(v, bool) or not isinstance(v, int | float) or \
                        not math.isfinite(v) or abs(v) > limit:
                    raise bad_field(url, f"{where}.geometry[{j}].{name}",
                                    f"expected degrees from -{limit:g} to {limit:g}, got "
                                    f"{describe(v)}")
                xy[j, c] = float(v)
        out.append((osm_id, tags, xy))
    return out


def fetch_ways(fetcher: HttpFetcher, bbox: Bbox, *, url: str = DEFAULT_OVERPASS_URL,
               tile_km: float = DEFAULT_TILE_KM,
               progress: Callable[[str], None] | None = None) -> OverpassWays:
    """Every tile's answer (from the network or the cache), checked, joined.

    Examples
    --------
    >>> f = HttpFetcher(offline=True)
    >>> fetch_ways(f, (12.9, 55.5, 13.3, 55.8), url="http://127.0.0.1:9/api/interpreter")
    Traceback (most recent call last):
    ...
    strukturbild.errors.FetchError: http://127.0.0.1:9/api/interpreter (Overpass query of tile ...
    """
    say = progress or (lambda _m: None)
    parts = tiles(bbox, tile_km)
    out = OverpassWays([], [], [], [], [])
    for n, tile in enumerate(parts, 1):
        q = urllib.parse.urlencode({"data": query(tile)}, quote_via=urllib.parse.quote)
        tile_url = f"{url}?{q}"
        say(f"Overpass tile {n}/{len(parts)} ({', '.join(f'{v:g}' for v in tile)})")
        got: dict[str, Any] = {}

        def check(d: Any, u: str = tile_url, got: dict[str, Any] = got) -> None:
            got["ways"] = check_answer(d, u)  # before the answer is cached

        try:
            doc = fetcher.get_json(tile_url, check=check)
        except FetchError as exc:  # the query's URL runs to 600 characters: name the tile
            raise FetchError(exc.message, status=exc.status, source=(
                f"{url} (Overpass query of tile {n}/{len(parts)}, box "
                f"{','.join(f'{v:g}' for v in tile)})")) from None
        for osm_id, tags, xy in got["ways"]:
            out.ids.append(osm_id)
            out.tags.append(tags)
            out.lines.append(xy)
        out.urls.append(tile_url)
        base = doc.get("osm3s") if isinstance(doc, Mapping) else None
        stamp = base.get("timestamp_osm_base") if isinstance(base, Mapping) else None
        out.timestamps.append(str(stamp) if stamp else "")
    return out

