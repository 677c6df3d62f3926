"""The ``regions`` and ``hierarchy`` subcommands of the command line.

``strukturbild regions FLOWS.csv --method lma|scb-la|nodal|commuting-zone ...``
    Functional regions from a commuting table: one row per unit (``unit, region,
    status`` and the method's details: SCB's ``step`` code for ``scb-la``, all the
    ``regions`` of a unit for ``commuting-zone``), with ``--stats`` one row per region,
    with ``--external`` the zones' external links. The options, their defaults and
    checks come from the methods' params classes (``LMAParams``, ``SCBLAParams``,
    ``NodalParams``, ``CommutingZoneParams``).
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
import dataclasses
import re
import sys
import types
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import CommutingZoneParams, FlowsSource, LMAParams, NodalParams, SCBLAParams
from ..errors import ConfigError, MissingColumnError, printable

if TYPE_CHECKING:
    from .. import Flows

__all__ = ["register"]

#: The region methods' params classes: the options, their defaults, checks and help.
_PARAMS: tuple[type[Any], ...] = (LMAParams, SCBLAParams, NodalParams, CommutingZoneParams)
_METHODS = tuple(c.method.replace("_", "-") for c in _PARAMS)


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


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _list(cast: Any) -> Any:
    def parse(text: str) -> tuple[Any, ...]:
        return tuple(cast(x.strip()) for x in text.split(",") if x.strip())

    return parse


class _Ids(tuple[str, ...]):
    """Unit ids read from a file; ``source`` is the file (an input of the run)."""

    source: Path


def _ids(text: str) -> tuple[str, ...]:
    """``ID,ID,...``, or a file of ids: one per line, or a CSV with a column ``unit``.

    Examples
    --------
    >>> _ids("K1, K2")
    ('K1', 'K2')
    """
    path = Path(text.strip())
    if "," not in text and (path.is_file() or path.suffix.lower() in (".csv", ".txt")
                            or len(path.parts) > 1):
        if not path.is_file():
            raise argparse.ArgumentTypeError(f"file not found: {path}")
        try:
            lines = [ln.strip() for ln in path.read_text(encoding="utf-8-sig").splitlines()]
        except (OSError, UnicodeDecodeError) as exc:
            raise argparse.ArgumentTypeError(f"cannot read {path}: {exc}") from None
        rows = [re.split(r"[,;\t]", ln) for ln in lines if ln]
        col = 0
        if rows:
            header = [h.strip().strip('"').lower() for h in rows[0]]
            if "unit" in header:
                col = header.index("unit")
                rows = rows[1:]
        ids = [r[col].strip().strip('"') if col < len(r) else "" for r in rows]
        out = _Ids(dict.fromkeys(x for x in ids if x))
        if not out:
            raise argparse.ArgumentTypeError(f"{path}: no unit ids (one per line, or a "
                                             "column 'unit')")
        out.source = path
        return out
    return tuple(x.strip() for x in text.split(",") if x.strip())


def _method_options(r: argparse.ArgumentParser) -> None:
    """One option per field of each params class, with its help and default from it."""
    for cls in _PARAMS:
        title = (cls.__doc__ or "").split("\n")[0].split(":")[0]
        g = r.add_argument_group(cls.method.replace("_", "-"), title)
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            hint = hints[f.name]
            default = f.default
            shown = ("off" if default is False else "none" if default is None or default == () else
                     ",".join(map(str, default)) if isinstance(default, tuple) else default)
            text = f"{f.metadata.get('help', '')} (default: {shown})"
            if hint is bool:
                g.add_argument(_flag(f.name), action="store_true", default=None, help=text)
                continue
            if typing.get_origin(hint) is typing.Literal:
                g.add_argument(_flag(f.name), choices=typing.get_args(hint), help=text)
                continue
            kind: Any = float
            metavar = "X"
            if hint == tuple[str, ...]:
                kind, metavar = _ids, "ID,ID|FILE"
            elif hint == tuple[float, ...]:
                kind, metavar = _list(float), "X,X"
            elif hint in (int, int | None):
                kind, metavar = int, "N"
            elif not (hint is float or (isinstance(hint, types.UnionType)
                                        and float in typing.get_args(hint))):
                raise TypeError(f"no command-line type for {cls.__name__}.{f.name}")
            g.add_argument(_flag(f.name), type=kind, metavar=metavar, help=text)


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
                    "SCB local labour markets (with SCB's step codes), nodal regions "
                    "(Nystuen-Dacey) or commuting zones (OECD/Eurostat, or Region Halland's "
                    "zones with --core-job-shares, --multiple, --merge-invalid).",
    )
    _flow_args(r)
    r.add_argument("--method", type=lambda s: s.strip().lower().replace("_", "-"),
                   choices=_METHODS, default="lma",
                   help="default: lma ('scb_la' and 'scb-la' alike)")
    r.add_argument("--output", required=True, metavar="ASSIGNMENT.csv",
                   help="write unit, region, status (and the method's unit details: "
                        "scb-la's step, commuting-zone's regions) here")
    r.add_argument("--stats", metavar="STATS.csv", help="write per-region statistics here")
    r.add_argument("--external", metavar="LINKS.csv",
                   help="commuting-zone with --external-min-flow: write the zones' external "
                        "links (region, unit, sent, received) here")
    _method_options(r)
    r.set_defaults(func=_cmd_regions)

    h = subparsers.add_parser(
        "hierarchy", help="Nystuen-Dacey dominant flows and unit classes",
        description="Keep each unit's largest outflow when it goes to a unit with a larger "
                    "inflow (Nystuen & Dacey 1961; as the R package flows does), and classify "
                    "the units as dominant, intermediary, dominated or isolated.",
    )
    _flow_args(h)
    h.add_argument("--k", type=float, default=NodalParams().k,
                   help=f"dominance ratio w_j / w_i (default: {NodalParams().k})")
    h.add_argument("--output", required=True, metavar="EDGES.csv",
                   help="write the kept flows (origin, destination, count) here")
    h.add_argument("--units", metavar="UNITS.csv",
                   help="write per unit inflow, outflow, degrees, class and head here")
    h.set_defaults(func=_cmd_hierarchy)


def _read_flows(args: argparse.Namespace) -> Flows:
    from .. import read_flows

    columns = {"origin": args.origin, "destination": args.destination, "count": args.count}
    try:
        return read_flows(FlowsSource(args.flows, columns=columns))
    except MissingColumnError as exc:
        # the readers' hint names the project file's key; here the option maps it
        option = next((k for k, v in columns.items() if v == exc.column), None)
        if option is None or exc.available is None:
            raise
        raise MissingColumnError(
            f"required column is missing; the file has: {exc.available}; name the "
            f"{option} column with --{option} COL", source=exc.source, layer=exc.layer,
            column=exc.column) from None


def _say(args: argparse.Namespace, msg: str) -> None:
    if not getattr(args, "quiet", False):
        print(printable(f"strukturbild: {msg}"), file=sys.stderr)


def _region_params(args: argparse.Namespace) -> Any:
    """The chosen method's params object from the options given (others are errors)."""
    cls = next(c for c in _PARAMS if c.method == args.method.replace("-", "_"))
    own = {f.name for f in dataclasses.fields(cls)}
    given: dict[str, Any] = {}
    for other in _PARAMS:
        for f in dataclasses.fields(other):
            value = getattr(args, f.name, None)
            if value is None or f.name in given:
                continue
            if f.name not in own:
                raise ConfigError(f"{_flag(f.name)} does not apply to --method {args.method}")
            given[f.name] = value
    if cls is CommutingZoneParams and not (given.get("cores") or given.get("core_job_shares")):
        raise ConfigError("--method commuting-zone needs --cores ID,ID,... or "
                          "--core-job-shares X,X,...")
    return cls(**given)


def _cmd_regions(args: argparse.Namespace) -> int:
    from .. import delineate_regions, write_tables

    params = _region_params(args)
    if args.external and getattr(params, "external_min_flow", None) is None:
        raise ConfigError("--external needs --method commuting-zone with --external-min-flow")
    flows = _read_flows(args)
    result = delineate_regions(flows, params)
    tables = [(args.output, result.to_frame(), False)]
    if args.stats:
        tables.append((args.stats, result.stats, True))
    external = result.diagnostics.get("external_links")
    if args.external and external is not None:
        tables.append((args.external, external, False))
    # files of ids (--region-units FILE) are inputs too: no output may overwrite them
    inputs = [args.flows, *(v.source for v in vars(args).values() if isinstance(v, _Ids))]
    write_tables(tables, inputs=inputs)
    counts = result.status.value_counts()
    extra = ", ".join(f"{int(counts.get(s, 0))} {s}" for s in ("reserve", "excluded")
                      if int(counts.get(s, 0)))
    _say(args, f"{result.n_regions} regions from {len(result.labels)} units "
               f"({args.method}){'; ' + extra if extra else ''}")
    if result.step is not None:
        steps = result.step.dropna().astype(int).value_counts().sort_index()
        _say(args, "SCB step codes: " + ", ".join(f"{k}: {v}" for k, v in steps.items()))
    return 0


def _cmd_hierarchy(args: argparse.Namespace) -> int:
    from .. import nystuen_dacey, write_tables

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
