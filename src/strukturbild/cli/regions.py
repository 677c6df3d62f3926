"""The ``regions`` and ``hierarchy`` subcommands of the command line.

``strukturbild regions FLOWS.csv --method lma|scb-la|nodal|commuting-zone ...``
    Functional regions from a commuting table: one row per unit (``unit, region,
    status``) and, with ``--stats``, one row per region.
``strukturbild hierarchy FLOWS.csv [--k K] ...``
    The Nystuen–Dacey nodal structure: the kept dominant flows and, with ``--units``,
    each unit's inflow, outflow, degrees, class and head.

Both only parse arguments, call :func:`strukturbild.analysis.regions.delineate_regions` or
:func:`strukturbild.analysis.dominant.nystuen_dacey`, and write CSV files atomically. Bad
input raises a :class:`~strukturbild.errors.StrukturbildError`, which the main command
line turns into exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .. import Flows, FlowsSource, delineate_regions, nystuen_dacey, read_flows, write_tables
from ..errors import ConfigError

__all__ = ["register"]

_METHODS = ("lma", "scb-la", "nodal", "commuting-zone")


def _flow_args(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("flows", metavar="FLOWS", help="commuting table (CSV or Parquet), one row "
                    "per origin-destination pair, intra-unit flows included")
    sp.add_argument("--origin", default="origin", metavar="COL",
                    help="column of the home unit (default: origin)")
    sp.add_argument("--destination", default="destination", metavar="COL",
                    help="column of the work unit (default: destination)")
    sp.add_argument("--count", default="count", metavar="COL",
                    help="column of the number of commuters (default: count)")
    sp.add_argument("-q", "--quiet", action="store_true", help="no summary on stderr")


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add the ``regions`` and ``hierarchy`` subcommands to a subparsers action.

    Examples
    --------
    >>> p = argparse.ArgumentParser(prog="strukturbild")
    >>> register(p.add_subparsers(dest="command"))
    >>> args = p.parse_args(["hierarchy", "f.csv", "--output", "e.csv", "--k", "1.5"])
    >>> args.k, args.func is _cmd_hierarchy
    (1.5, True)
    """
    r = subparsers.add_parser(
        "regions", help="functional regions from commuting flows",
        description="Delineate functional regions: labour market areas (Eurostat/Istat), "
                    "SCB local labour markets, nodal regions (Nystuen-Dacey) or commuting "
                    "zones of given cores (OECD/Eurostat).",
    )
    _flow_args(r)
    r.add_argument("--method", choices=_METHODS, default="lma", help="default: lma")
    r.add_argument("--output", required=True, metavar="ASSIGNMENT.csv",
                   help="write unit, region, status here")
    r.add_argument("--stats", metavar="STATS.csv", help="write per-region statistics here")
    g = r.add_argument_group("lma")
    g.add_argument("--min-size", type=float, help="minimum employed residents (1000)")
    g.add_argument("--min-self-containment", type=float, help="(0.6667)")
    g.add_argument("--target-size", type=float, help="(10000)")
    g.add_argument("--target-self-containment", type=float, help="(0.75)")
    g = r.add_argument_group("scb-la")
    g.add_argument("--max-outflow", type=float, help="share commuting out (0.2)")
    g.add_argument("--max-single-outflow", type=float, help="largest single outflow (0.075)")
    g.add_argument("--max-chain", type=int, help="links allowed to the centre (3)")
    g = r.add_argument_group("nodal")
    g.add_argument("--k", type=float, help="dominance ratio w_j / w_i (1.0)")
    g = r.add_argument_group("commuting-zone")
    g.add_argument("--cores", metavar="ID,ID", help="comma-separated ids of the core units")
    g.add_argument("--share", type=float, help="share of employed residents (0.15)")
    r.set_defaults(func=_cmd_regions)

    h = subparsers.add_parser(
        "hierarchy", help="Nystuen-Dacey dominant flows and unit classes",
        description="Keep each unit's largest outflow when it goes to a unit with a larger "
                    "inflow (Nystuen & Dacey 1961; as the R package flows does), and classify "
                    "the units as dominant, intermediary, dominated or isolated.",
    )
    _flow_args(h)
    h.add_argument("--k", type=float, default=1.0, help="dominance ratio w_j / w_i (1.0)")
    h.add_argument("--output", required=True, metavar="EDGES.csv",
                   help="write the kept flows (origin, destination, count) here")
    h.add_argument("--units", metavar="UNITS.csv",
                   help="write per unit inflow, outflow, degrees, class and head here")
    h.set_defaults(func=_cmd_hierarchy)


def _read_flows(args: argparse.Namespace) -> Flows:
    columns = {"origin": args.origin, "destination": args.destination, "count": args.count}
    return read_flows(FlowsSource(args.flows, columns=columns))


def _say(args: argparse.Namespace, msg: str) -> None:
    if not getattr(args, "quiet", False):
        print(f"strukturbild: {msg}", file=sys.stderr)


def _region_params(args: argparse.Namespace, method: str) -> dict[str, Any]:
    names = {
        "min_size": "--min-size",
        "min_self_containment": "--min-self-containment",
        "target_size": "--target-size",
        "target_self_containment": "--target-self-containment",
        "max_outflow": "--max-outflow",
        "max_single_outflow": "--max-single-outflow",
        "max_chain": "--max-chain",
        "k": "--k",
        "cores": "--cores",
        "share": "--share",
    }
    allowed = {
        "lma": {"min_size", "min_self_containment", "target_size", "target_self_containment"},
        "scb_la": {"max_outflow", "max_single_outflow", "max_chain"},
        "nodal": {"k"},
        "commuting_zone": {"cores", "share"},
    }[method]
    params: dict[str, Any] = {}
    for key, flag in names.items():
        value = getattr(args, key, None)
        if value is None:
            continue
        if key not in allowed:
            raise ConfigError(f"{flag} does not apply to --method {method.replace('_', '-')}")
        if key == "cores":
            value = tuple(c.strip() for c in str(value).split(",") if c.strip())
        params[key] = value
    if method == "commuting_zone" and "cores" not in params:
        raise ConfigError("--method commuting-zone needs --cores ID,ID,...")
    return params


def _cmd_regions(args: argparse.Namespace) -> int:
    method = str(args.method).replace("-", "_")
    params = _region_params(args, method)
    flows = _read_flows(args)
    result = delineate_regions(flows, method, **params)
    tables = [(args.output, result.to_frame(), False)]
    if args.stats:
        tables.append((args.stats, result.stats, True))
    write_tables(tables, inputs=[args.flows])
    counts = result.status.value_counts()
    extra = ", ".join(f"{int(counts.get(s, 0))} {s}" for s in ("reserve", "excluded")
                      if int(counts.get(s, 0)))
    _say(args, f"{result.n_regions} regions from {len(result.labels)} units "
               f"({args.method}){'; ' + extra if extra else ''}")
    return 0


def _cmd_hierarchy(args: argparse.Namespace) -> int:
    flows = _read_flows(args)
    nd = nystuen_dacey(flows, k=args.k)
    tables = [(args.output, nd.edges, False)]
    if args.units:
        units = nd.units.copy()
        units["class"] = units["class"].astype(str)
        units["head"] = nd.head
        tables.append((args.units, units, True))
    write_tables(tables, inputs=[args.flows])
    counts = nd.units["class"].value_counts()
    _say(args, f"{len(nd.edges)} dominant flows; " + ", ".join(
        f"{int(counts.get(c, 0))} {c}" for c in ("dominant", "intermediary", "dominated",
                                                 "isolated")))
    return 0
