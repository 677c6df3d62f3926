"""The command line: parse arguments, load a project, call the pipeline and the writers.

Exit codes: 0 success, 2 bad input or configuration (the message names the file and
the field), 1 internal error. Progress goes to stderr; ``--json`` prints the summary
to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
import warnings
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from .config import Project, load_project
from .errors import ConfigError, StrukturbildError

__all__ = ["main", "write_outputs"]

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT = 0, 1, 2


def _progress(quiet: bool) -> Any:
    def say(msg: str) -> None:
        if not quiet:
            print(f"strukturbild: {msg}", file=sys.stderr)

    return say


def write_outputs(image: Any, project: Project, *, say: Any = None,
                  gpkg_mode: str = "overwrite") -> dict[str, Path]:
    """Write every format the project asks for; return format → path.

    Maps (html, png, pdf, svg) go to ``export.map_dir`` (default: ``export.out_dir``),
    the GeoPackage and the JSON summary to ``export.out_dir``. ``gpkg_mode`` is
    ``"overwrite"`` (default), ``"append"`` (add the layers to an existing GeoPackage)
    or ``"fail"`` (refuse to replace one).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from strukturbild.datasets import example_project
    >>> from strukturbild.pipeline import build
    >>> p = example_project()
    >>> p = p.with_export(out_dir=pathlib.Path(tempfile.mkdtemp()), formats=("json",))
    >>> sorted(write_outputs(build(p), p))
    ['json']
    """
    from .export import write_geopackage, write_html, write_summary

    ex = project.export
    out_dir = ex.out_dir
    map_dir = ex.map_dir or out_dir
    written: dict[str, Path] = {}
    name = project.name
    # The GeoPackage first: it is the one that may refuse (--no-overwrite, --append),
    # and then nothing else has been replaced either.
    for fmt in sorted(ex.formats, key=lambda f: f != "gpkg"):
        if fmt == "html":
            written[fmt] = write_html(image, map_dir / f"{name}.html",
                                      source_note=project.map.source_note,
                                      label_roles=project.map.label_roles,
                                      basemap=project.map.basemap,
                                      basemap_key=project.map.basemap_key,
                                      timestamp=project.map.timestamp)
        elif fmt == "gpkg":
            written[fmt] = write_geopackage(image, out_dir / f"{name}.gpkg",
                                            mode=gpkg_mode,  # type: ignore[arg-type]
                                            label_roles=project.map.label_roles,
                                            source_note=project.map.source_note,
                                            timestamp=project.map.timestamp)
        elif fmt == "json":
            written[fmt] = write_summary(image, out_dir / f"{name}.json")
        else:
            try:
                from .render import static
            except ImportError:
                raise ConfigError(f"output format '{fmt}' is not available in this version") \
                    from None
            written[fmt] = static.write_static_map(image, map_dir / f"{name}.{fmt}",
                                                   source_note=project.map.source_note,
                                                   label_roles=project.map.label_roles)
        if say:
            say(f"wrote {written[fmt]}")
    return written


def _cmd_build(args: argparse.Namespace) -> int:

    project = load_project(args.project)
    if args.out:
        project = project.with_export(out_dir=Path(args.out), map_dir=Path(args.out))
    if args.format:
        project = project.with_export(formats=tuple(f.strip() for f in args.format.split(",")
                                                    if f.strip()))
    return _run(project, args)


def _cmd_demo(args: argparse.Namespace) -> int:
    from .datasets import example_project

    project = example_project()
    out = Path(args.out) if args.out else Path("out")
    maps = Path(args.out) if args.out else Path("maps")
    project = replace(project, export=replace(project.export, out_dir=out, map_dir=maps))
    if args.format:
        project = project.with_export(formats=tuple(f.strip() for f in args.format.split(",")
                                                    if f.strip()))
    return _run(project, args)


def _run(project: Project, args: argparse.Namespace) -> int:
    from .pipeline import build

    say = _progress(args.quiet or args.json)
    image = build(project, progress=say)
    mode = "append" if args.append else ("fail" if args.no_overwrite else "overwrite")
    written = write_outputs(image, project, say=say, gpkg_mode=mode)
    summary = image.summary()
    summary["outputs"] = {k: str(v) for k, v in written.items()}
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
    elif not args.quiet:
        roles = ", ".join(f"{image.role(k).label(image.language).lower()} {v}"
                          for k, v in summary["roles"].items() if v)
        print(f"{image.title}: {summary['places']} places ({roles}); "
              f"{summary['links']} links from {summary['flows']} flows")
        for fmt, path in written.items():
            print(f"  {fmt:5s} {path}")
    return EXIT_OK


def _cmd_validate(args: argparse.Namespace) -> int:
    from .pipeline import read_inputs
    from .roles import load_designations

    project = load_project(args.project)
    places, areas, flows = read_inputs(project)
    for d in project.roles.designations:
        load_designations(d)
    parts = [f"{len(places)} places"]
    if areas is not None:
        parts.append(f"{len(areas)} areas")
    if flows is not None:
        parts.append(f"{len(flows)} flows")
    print(f"{args.project}: ok ({', '.join(parts)}; {len(project.roles.roles)} roles)")
    return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    from .pipeline import package_version

    p = argparse.ArgumentParser(
        prog="strukturbild",
        description="Structure images for regional planning: roles, links, regions, maps.",
    )
    p.add_argument("--version", action="version", version=f"strukturbild {package_version()}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def outputs(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--format", help="comma-separated: html,gpkg,json,png,pdf,svg")
        sp.add_argument("--json", action="store_true", help="print the summary as JSON")
        sp.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
        g = sp.add_mutually_exclusive_group()
        g.add_argument("--append", action="store_true",
                       help="add the layers to an existing GeoPackage (same CRS and columns)")
        g.add_argument("--no-overwrite", action="store_true",
                       help="refuse to replace an existing GeoPackage")

    d = sub.add_parser("demo", help="build the bundled Skåne example into maps/ and out/")
    d.add_argument("--out", help="write everything to this folder instead")
    outputs(d)
    d.set_defaults(func=_cmd_demo)

    b = sub.add_parser("build", help="build a project")
    b.add_argument("project", help="project file (TOML)")
    b.add_argument("--out", help="output folder (default: export.out_dir, 'out')")
    outputs(b)
    b.set_defaults(func=_cmd_build)

    v = sub.add_parser("validate", help="check a project's inputs and parameters")
    v.add_argument("project", help="project file (TOML)")
    v.set_defaults(func=_cmd_validate)

    for module in ("_cli_regions", "_cli_fetch"):
        try:
            mod = __import__(f"strukturbild.{module}", fromlist=["register"])
        except ImportError:
            continue
        mod.register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code.

    Examples
    --------
    >>> main(["validate", "no-such-project.toml"])
    2
    """
    parser = _parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except SystemExit as exc:  # argparse: 2 for usage errors, 0 for --help
        return int(exc.code or 0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            warnings.showwarning = _show_warning
            return int(args.func(args))
    except StrukturbildError as exc:
        print(f"strukturbild: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:  # a path the user gave cannot be read or written
        where = f": {exc.filename}" if exc.filename else ""
        print(f"strukturbild: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:  # pragma: no cover
        return 130
    except Exception as exc:
        print(f"strukturbild: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        if os.environ.get("STRUKTURBILD_DEBUG"):
            traceback.print_exc()
        else:
            print("strukturbild: set STRUKTURBILD_DEBUG=1 for the traceback, and please "
                  "report it", file=sys.stderr)
        return EXIT_INTERNAL


def _show_warning(message: Any, category: Any, filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    print(f"strukturbild: warning: {message}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
