"""``python -m strukturbild`` and the ``strukturbild`` command: the command line.

:func:`run` is the console script's entry point. It is kept apart from
:mod:`strukturbild.cli` so that a Ctrl-C (or SIGTERM) that arrives while the command
line itself is still being imported or its arguments parsed ends the run the same way
as one during a command: "interrupted; no output changed" and exit 130 (143), never a
``KeyboardInterrupt`` traceback. Only the interpreter's own start-up, before this
module runs (some 20 ms), is outside its reach.
"""

from __future__ import annotations

import signal
import sys
from typing import Any, NoReturn

__all__ = ["run"]

EXIT_SIGINT, EXIT_SIGTERM = 130, 143


class _Terminated(KeyboardInterrupt):
    """SIGTERM before the command line's own handler is in place."""


def _on_term(signum: int, frame: Any) -> None:
    raise _Terminated


def run() -> NoReturn:
    """Run the command line with ``sys.argv`` and exit with its exit code.

    Examples
    --------
    >>> import subprocess, sys
    >>> subprocess.run([sys.executable, "-m", "strukturbild", "--version"],
    ...                capture_output=True, text=True).returncode
    0
    """
    # until the command line's own handler (cli._signals) takes over, SIGTERM is
    # handled like SIGINT; the import below takes most of the start-up time
    signal.signal(signal.SIGTERM, _on_term)
    try:
        from .cli import main

        code = main()
    except KeyboardInterrupt as exc:
        print("strukturbild: interrupted; no output changed", file=sys.stderr)
        code = EXIT_SIGTERM if isinstance(exc, _Terminated) else EXIT_SIGINT
    sys.exit(code)


if __name__ == "__main__":
    run()
