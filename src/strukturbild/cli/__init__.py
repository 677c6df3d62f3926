"""The command line: parse arguments, build config objects, call the public API.

Exit codes: 0 success, 2 bad input or configuration (the message names the file and
the field), 1 internal error, 130 interrupted (SIGINT; 143 for SIGTERM), with one
line and no output changed. Progress goes to stderr; ``--json`` prints the summary
to stdout. The command line uses nothing but :mod:`strukturbild`'s public API.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from .. import FORMATS, Project, example_project, load_project
from ..errors import (
    StrukturbildError,
    clear_interrupts,
    note_interrupt,
    noted_interrupts,
    printable,
    raise_noted_interrupt,
)

# The analysis and the writers (pandas, geopandas, GDAL) are imported inside the commands
# that use them, so that `strukturbild --help` and argument errors answer at once.

__all__ = ["main"]

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_SIGINT = 0, 1, 2, 130


def _progress(quiet: bool) -> Callable[[str], None]:
    def say(msg: str) -> None:
        raise_noted_interrupt()  # each step: a signal whose exception was dropped stops here
        if not quiet:
            print(printable(f"strukturbild: {msg}"), file=sys.stderr)

    return say


def _formats(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    return tuple(f.strip() for f in text.split(",") if f.strip())


def _papers() -> tuple[str, ...]:
    """The print maps' papers, as ``[map] paper`` takes them."""
    import typing

    from .. import MapOptions

    return tuple(typing.get_args(typing.get_type_hints(MapOptions)["paper"]))


def _with_map_options(project: Project, args: argparse.Namespace) -> Project:
    """The project with the map options given on the command line (``--paper``)."""
    if getattr(args, "paper", None):
        project = replace(project, map=project.map.replace(paper=args.paper))
    return project


def _cmd_build(args: argparse.Namespace) -> int:
    project = load_project(args.project)
    if args.out:
        project = project.with_export(out_dir=Path(args.out), map_dir=Path(args.out))
    formats = _formats(args.format)
    if formats is not None:
        project = project.with_export(formats=formats)
    return _run(_with_map_options(project, args), args)


def _cmd_demo(args: argparse.Namespace) -> int:
    project = example_project()
    out = Path(args.out) if args.out else Path("out")
    maps = Path(args.out) if args.out else Path("maps")
    project = replace(project, export=replace(project.export, out_dir=out, map_dir=maps))
    formats = _formats(args.format)
    if formats is not None:
        project = project.with_export(formats=formats)
    return _run(_with_map_options(project, args), args)


def _run(project: Project, args: argparse.Namespace) -> int:
    from .. import build, write_outputs

    say = _progress(args.quiet or args.json)
    image = build(project, progress=say)
    mode: Literal["overwrite", "append", "fail"] = \
        "append" if args.append else ("fail" if args.no_overwrite else "overwrite")
    written = write_outputs(image, project, gpkg_mode=mode, progress=say)
    try:
        summary = image.summary()
        summary["outputs"] = {k: str(v) for k, v in written.items()}
        if args.json:
            print(json.dumps(summary, ensure_ascii=False, indent=2))
        elif not args.quiet:
            roles = ", ".join(f"{image.role(k).label(image.language).lower()} {v}"
                              for k, v in summary["roles"].items() if v)
            print(printable(f"{image.title}: {summary['places']} places ({roles}); "
                            f"{summary['links']} links from {summary['flows']} flows"))
            for fmt, path in written.items():
                print(printable(f"  {fmt:5s} {path}"))
    except KeyboardInterrupt as exc:  # not "no output changed": they were written
        exc.committed = True  # type: ignore[attr-defined]
        raise
    return EXIT_OK


def _cmd_validate(args: argparse.Namespace) -> int:
    from .. import check_project

    project = load_project(args.project)
    found = check_project(project)
    parts = [f"{len(found['places'])} places"]
    if found["areas"] is not None:
        parts.append(f"{len(found['areas'])} areas")
    if found["flows"] is not None:
        parts.append(f"{len(found['flows'])} flows")
    print(printable(f"{args.project}: ok ({', '.join(parts)}; {len(project.roles.roles)} roles)"))
    return EXIT_OK


class _Version(argparse.Action):
    """``--version``: the version is looked up only when asked for (importlib.metadata
    is slower to import than the rest of ``--help``)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        import strukturbild

        print(f"strukturbild {strukturbild.__version__}")
        parser.exit()


def _parser() -> argparse.ArgumentParser:
    from . import fetch, regions

    p = argparse.ArgumentParser(
        prog="strukturbild",
        description="Structure images for regional planning: roles, links, regions, maps.",
    )
    p.add_argument("--version", action=_Version, nargs=0,
                   help="show the program's version number and exit")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def outputs(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--format", help=f"comma-separated: {','.join(FORMATS)}")
        sp.add_argument("--json", action="store_true", help="print the summary as JSON")
        sp.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
        sp.add_argument("--paper", choices=_papers(), metavar="PAPER",
                        help="the print maps' (png, pdf, svg) paper: "
                             f"{', '.join(_papers())} (default: the project's [map] paper)")
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

    regions.register(sub)
    fetch.register(sub)
    return p


class _ClosableStderr:
    """stderr that a closed pipe cannot stop: ``build … 2>&1 | head -1``.

    When the reader of stderr has gone, the messages are silenced (stderr goes to
    os.devnull) and the run goes on: the reader said it had seen enough messages, not
    that the work should stop, and the exit code still tells how the run went. (0.2
    took the broken pipe for "stop quietly", and exited 0 having written nothing.)
    A closed stdout is another matter, see :func:`main`.
    """

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.closed_pipe = False

    def _gone(self) -> None:
        self.closed_pipe = True
        with contextlib.suppress(OSError, ValueError, AttributeError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)

    def write(self, text: str) -> int:
        if not self.closed_pipe:
            try:
                self._stream.write(text)
                self._stream.flush()
            except BrokenPipeError:
                self._gone()
        return len(text)

    def flush(self) -> None:
        if not self.closed_pipe:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._gone()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _stderr_may_close() -> Any:
    """Put :class:`_ClosableStderr` in front of stderr; return the stream it stands for."""
    real = sys.stderr
    sys.stderr = _ClosableStderr(real)
    return real


class _Terminated(KeyboardInterrupt):
    """SIGTERM, handled like SIGINT (temporary files removed, no output changed)."""


@contextmanager
def _signals() -> Iterator[None]:
    """SIGTERM raises :class:`_Terminated` in the main thread, so cleanup runs; SIGINT
    ``KeyboardInterrupt``. Both are noted first (:func:`~strukturbild.errors.note_interrupt`),
    so that one raised inside a finalizer, where Python drops it, still stops the run;
    and such a dropped one is not printed as a traceback."""
    if threading_main():
        def on_term(signum: int, frame: Any) -> None:
            note_interrupt(signum)
            raise _Terminated

        def on_int(signum: int, frame: Any) -> None:
            note_interrupt(signum)
            raise KeyboardInterrupt

        def unraisable(info: Any) -> None:
            if isinstance(info.exc_value, KeyboardInterrupt) and noted_interrupts():
                return  # noted; raised again before any output is replaced
            hook(info)

        hook = sys.unraisablehook
        clear_interrupts()
        old_term = signal.signal(signal.SIGTERM, on_term)
        old_int = signal.signal(signal.SIGINT, on_int) \
            if signal.getsignal(signal.SIGINT) is signal.default_int_handler else None
        sys.unraisablehook = unraisable
        try:
            yield
        finally:
            sys.unraisablehook = hook
            signal.signal(signal.SIGTERM, old_term)
            if old_int is not None:
                signal.signal(signal.SIGINT, old_int)
    else:  # pragma: no cover - only the main thread may install handlers
        yield


def threading_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


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
    stderr = _stderr_may_close()  # the error messages below too
    try:
        with _signals(), warnings.catch_warnings():
            warnings.simplefilter("default")
            warnings.showwarning = _show_warning
            code = int(args.func(args))
            sys.stdout.flush()
            clear_interrupts()  # dropped after the last step: the work is done
            return code
    except StrukturbildError as exc:
        print(f"strukturbild: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        # stdout: `strukturbild demo --json | head`, the outputs written, the reader of
        # the summary gone; stop quietly (stderr cannot raise this, see _ClosableStderr)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except OSError as exc:  # a path the user gave cannot be read or written
        where = f": {exc.filename}" if exc.filename else ""
        print(printable(f"strukturbild: error: {exc.strerror or exc}{where}"), file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt as exc:
        clear_interrupts()
        done = "the outputs were written" if getattr(exc, "committed", False) else \
            "no output changed"
        print(f"strukturbild: interrupted; {done}", file=sys.stderr)
        return 128 + signal.SIGTERM if isinstance(exc, _Terminated) else EXIT_SIGINT
    except Exception as exc:
        print(printable(f"strukturbild: internal error: {type(exc).__name__}: {exc}"),
              file=sys.stderr)
        if os.environ.get("STRUKTURBILD_DEBUG"):
            traceback.print_exc()
        else:
            print("strukturbild: set STRUKTURBILD_DEBUG=1 for the traceback, and please "
                  "report it", file=sys.stderr)
        return EXIT_INTERNAL
    finally:
        sys.stderr = stderr


def _show_warning(message: Any, category: Any, filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    # escaped: a warning may quote an input (a name, a GDAL message about a file)
    print(printable(f"strukturbild: warning: {message}"), file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
