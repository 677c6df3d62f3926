"""``strukturbild fetch scb``: real Swedish data in one command.

Downloads SCB's statistical tätorter, kommun boundaries and commuting between
kommuner for one or more län (or the whole country) and writes a project that
``strukturbild build`` runs as is. See :func:`strukturbild.sources.scb.fetch.fetch_scb`.

Base URLs and the cache folder come from the options, else from the environment
variables ``STRUKTURBILD_SCB_API_URL``, ``STRUKTURBILD_SCB_WFS_URL`` and
``STRUKTURBILD_CACHE_DIR``, else SCB's public services and ``OUT/cache``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import typing
from typing import Any

from .. import FetchLimits
from ..errors import ConfigError

__all__ = ["register"]

# for the help text only (the cli uses the public API alone): the names fetch_scb reads
ENV_API_URL = "STRUKTURBILD_SCB_API_URL"
ENV_WFS_URL = "STRUKTURBILD_SCB_WFS_URL"
ENV_CACHE_DIR = "STRUKTURBILD_CACHE_DIR"


def _limit_options(s: argparse.ArgumentParser) -> None:
    """One option per field of :class:`FetchLimits`, with its help and default from it."""
    hints = typing.get_type_hints(FetchLimits)
    for f in dataclasses.fields(FetchLimits):
        kind = hints[f.name]
        if kind not in (int, float):
            raise TypeError(f"no command-line type for FetchLimits.{f.name}")
        s.add_argument("--" + f.name.replace("_", "-"), type=kind, metavar=f.metadata["metavar"],
                       help=f"{f.metadata['help']} (default: {f.default:g})")


def _limits(args: argparse.Namespace) -> FetchLimits:
    """The limits given on the command line (the others at their defaults)."""
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(FetchLimits)
             if getattr(args, f.name, None) is not None}
    return FetchLimits(**given)


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``fetch`` command (with its source ``scb``) to a subparsers action.

    Examples
    --------
    >>> p = argparse.ArgumentParser(prog="strukturbild")
    >>> register(p.add_subparsers(dest="command"))
    >>> a = p.parse_args(["fetch", "scb", "--lan", "12,13", "--year", "2022", "--out", "d"])
    >>> a.lan, a.year, a.func is _cmd_fetch_scb
    (['12,13'], 2022, True)
    >>> a = p.parse_args(["fetch", "scb", "--country", "--out", "d", "--max-mb", "8"])
    >>> _limits(a)
    FetchLimits(timeout=120.0, retries=4, max_mb=8.0, max_wait=120.0)
    """
    f = subparsers.add_parser(
        "fetch", help="download open data and write a project that builds",
        description="Download open data into a folder, with a project file that "
                    "'strukturbild build' runs as is.")
    sources = f.add_subparsers(dest="source", metavar="SOURCE")
    sources.required = True
    s = sources.add_parser(
        "scb", help="SCB: tätorter, kommuner, jobs, employment and commuting (CC0)",
        description="SCB's statistical tätorter (WFS), kommun boundaries (DeSO 2025, "
                    "dissolved), commuting between kommuner from PxWebApi 2 (BAS "
                    "TAB1830 from 2020, RAMS before), attached to each kommun's seat "
                    "place, jobs per tätort (day population, MI0810) and population per "
                    "kommun (TAB638). Every response is cached; --offline works from the cache. "
                    "Each request has a deadline (--timeout), a size cap (--max-mb) and "
                    "bounded retries and waits; redirects are followed only within the "
                    "same host and port (and recorded in metadata.json). Exit 2 names the URL and "
                    "the field of a malformed answer.")
    s.add_argument("--lan", action="append", metavar="CODE[,CODE]",
                   help="län code(s), e.g. 12 for Skåne; repeat or separate with commas; "
                        "'all' (or --country) for the whole country")
    s.add_argument("--country", action="store_true", help="the whole country")
    s.add_argument("--year", type=int, help="commuting year (default: the latest)")
    s.add_argument("--tatort-year", type=int,
                   help="tätort delineation (default: the latest up to --year)")
    s.add_argument("--history-from", type=int, metavar="YEAR",
                   help="also write commuting_kommun_series.csv from this year on")
    s.add_argument("--out", required=True, metavar="DIR", help="output folder")
    s.add_argument("--cache", metavar="DIR",
                   help=f"response cache (default: ${ENV_CACHE_DIR} or DIR/cache)")
    s.add_argument("--offline", action="store_true",
                   help="use only cached responses; fail if one is missing")
    s.add_argument("--api-url", help=f"PxWebApi 2 base URL (default: ${ENV_API_URL} or "
                                     "SCB's statistikdatabasen.scb.se/api/v2)")
    s.add_argument("--wfs-url", help=f"WFS URL (default: ${ENV_WFS_URL} or SCB's "
                                     "geodata.scb.se/geoserver/stat/wfs)")
    s.add_argument("--tables", metavar="TAB,TAB",
                   help="commuting tables, preferred first (default: TAB1830,TAB5850,"
                        "TAB333,TAB334)")
    s.add_argument("--jobs-table", metavar="TAB",
                   help="PxWebApi 2 id of SCB's day population by tätort (default: found "
                        "by the API's table search for 'dagbefolkning tätort')")
    s.add_argument("--seats", metavar="SEATS.csv",
                   help="seat table (kommun_code, kommun_name, seat_name, tatort_code, note, "
                        "source, year); default: the shipped ones")
    _limit_options(s)
    s.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    s.set_defaults(func=_cmd_fetch_scb)
    _register_osm(sources)


def _register_osm(sources: argparse._SubParsersAction[Any]) -> None:
    """``fetch osm``: OpenStreetMap's railways, main roads and ferry lines.

    Examples
    --------
    >>> p = argparse.ArgumentParser(prog="strukturbild")
    >>> register(p.add_subparsers(dest="command"))
    >>> a = p.parse_args(["fetch", "osm", "--project", "p.toml", "--margin-km", "30"])
    >>> a.project, a.margin_km, a.bbox, a.func is _cmd_fetch_osm
    ('p.toml', 30.0, None, True)
    """
    s = sources.add_parser(
        "osm", help="OpenStreetMap: railways, main roads and ferry lines (ODbL)",
        description="Railways (rail, light rail, subway, tram; no sidings), motorways, "
                    "trunk and primary roads (with their ramps) and ferry lines from "
                    "OpenStreetMap, for a project's places and areas plus a margin or for a "
                    "box, through the Overpass API (cached with checksums, --offline, a "
                    "deadline per request, tiles) or from a Geofabrik extract (--pbf). Writes "
                    "osm_railways.gpkg, osm_roads.gpkg, osm_ferries.gpkg and "
                    "osm_metadata.json, all or none, and prints the [[layers]] blocks to add "
                    "to the project (--update-project adds them). Data © OpenStreetMap "
                    "contributors, ODbL 1.0.")
    where = s.add_mutually_exclusive_group(required=True)
    where.add_argument("--project", metavar="PROJECT.toml",
                       help="the project: its places and areas plus --margin-km")
    where.add_argument("--bbox", metavar="W,S,E,N",
                       help="a box in degrees instead: west,south,east,north")
    s.add_argument("--margin-km", type=float, default=20.0, metavar="KM",
                   help="how far around the project's places and areas (default: 20)")
    s.add_argument("--out", metavar="DIR",
                   help="output folder (default: osm/ beside the project file)")
    s.add_argument("--pbf", metavar="FILE",
                   help="read a Geofabrik extract (.osm.pbf or .osm) instead of asking "
                        "Overpass: no network needed")
    s.add_argument("--overpass-url", metavar="URL",
                   help="the Overpass API's interpreter (default: $STRUKTURBILD_OVERPASS_URL "
                        "or overpass-api.de/api/interpreter)")
    s.add_argument("--tile-km", type=float, default=150.0, metavar="KM",
                   help="split the box into tiles of at most this size, one request each "
                        "(default: 150)")
    s.add_argument("--crs", help="the layers' CRS (default: the project's, else EPSG:3006)")
    s.add_argument("--cache", metavar="DIR",
                   help=f"response cache (default: ${ENV_CACHE_DIR} or OUT/cache)")
    s.add_argument("--offline", action="store_true",
                   help="use only cached answers; fail if one is missing")
    s.add_argument("--update-project", action="store_true",
                   help="add the [[layers]] blocks to the project file (the layers it lacks)")
    _limit_options(s)
    s.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    s.set_defaults(func=_cmd_fetch_osm)


def _cmd_fetch_osm(args: argparse.Namespace) -> int:
    from .. import fetch_osm  # requests, geopandas: only when fetching

    bbox = None
    if args.bbox:
        try:
            bbox = [float(v) for v in args.bbox.split(",")]
        except ValueError:
            raise ConfigError(f"--bbox must be four numbers west,south,east,north, got "
                              f"{args.bbox!r}") from None

    def say(msg: str) -> None:
        if not args.quiet:
            print(f"strukturbild: {msg}", file=sys.stderr)

    result = fetch_osm(args.out, project=args.project, bbox=bbox, margin_km=args.margin_km,
                       pbf=args.pbf, overpass_url=args.overpass_url, tile_km=args.tile_km,
                       crs=args.crs, cache_dir=args.cache, offline=args.offline,
                       update_project=args.update_project, limits=_limits(args),
                       progress=say)
    print(", ".join(f"{n} {k}" for k, n in result.counts.items()) +
          f" in {', '.join(f'{v:g}' for v in result.bbox)} (© OpenStreetMap contributors, "
          "ODbL 1.0)")
    for key, path in result.files.items():
        print(f"  {key:10s} {path}")
    if args.update_project:
        print(f"added the layers to {result.project}")
    elif result.layers_toml:
        print("add to the project file:\n")
        print(result.layers_toml)
    return 0


def _lan_codes(args: argparse.Namespace) -> list[str]:
    codes = [c.strip() for item in (args.lan or []) for c in item.split(",") if c.strip()]
    if args.country or any(c.lower() in ("all", "sverige", "riket", "00") for c in codes):
        return []
    if not codes:
        raise ConfigError("give --lan CODE (e.g. --lan 12 for Skåne) or --country")
    return codes


def _cmd_fetch_scb(args: argparse.Namespace) -> int:
    from .. import fetch_scb  # requests, geopandas: only when fetching

    tables: tuple[str, ...] = tuple(t.strip() for t in args.tables.split(",") if t.strip()) \
        if args.tables else ()

    def say(msg: str) -> None:
        if not args.quiet:
            print(f"strukturbild: {msg}", file=sys.stderr)

    result = fetch_scb(
        args.out,
        lan=_lan_codes(args),
        year=args.year,
        tatort_year=args.tatort_year,
        api_url=args.api_url,
        wfs_url=args.wfs_url,
        cache_dir=args.cache,
        offline=args.offline,
        seats=args.seats,
        commuting_tables=tables or None,
        history_from=args.history_from,
        jobs_table=args.jobs_table,
        limits=_limits(args),
        progress=say,
    )
    md = result.metadata
    print(f"{md['region']['name']} {md['year']}: {len(md['region']['kommuner'])} kommuner, "
          f"{md['sources']['tatorter']['features']} tätorter, "
          f"{md['flows']['place_pairs']} place flows ({md['sources']['commuting']['table']})")
    for key, path in result.files.items():
        print(f"  {key:18s} {path}")
    print(f"next: strukturbild build {result.project}")
    return 0
