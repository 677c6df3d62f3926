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
