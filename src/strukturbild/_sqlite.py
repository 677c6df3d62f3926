"""A guard on SQLite work: a time limit, and Ctrl-C reaches statements running in C.

SQLite runs a statement in C. A file can make that statement endless (a view over a
recursive CTE, a trigger), and Python's signal handlers, which run only between Python
bytecodes, never get their turn: Ctrl-C and SIGTERM do nothing until the statement
ends. SQLite's progress handler is the one hook it offers into a running statement; it
is called every :data:`STEPS` virtual-machine instructions, and a non-zero answer
aborts the statement. :func:`guarded` installs one that

- aborts once the time limit has passed, and raises :class:`~strukturbild.errors.
  TimeLimitError` (exit 2 on the command line);
- lets a pending SIGINT/SIGTERM reach Python: calling the handler is Python code, so
  the interpreter runs the signal's handler there. Python's ``sqlite3`` would swallow
  the ``KeyboardInterrupt`` such a handler raises inside the callback (it turns any
  exception there into "interrupted"), so while a guard is active a small handler of
  ours stands in front of the program's own: inside the progress handler it only notes
  the signal and aborts the statement; the program's handler (``KeyboardInterrupt``,
  the CLI's ``_Terminated``) is then called as the statement unwinds. Anywhere else
  it calls the program's handler at once.

Hand-written because neither the standard library nor a maintained package offers a
time limit for ``sqlite3`` that Ctrl-C also reaches.
"""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from .errors import TimeLimitError

__all__ = ["STEPS", "guarded"]

#: SQLite virtual-machine instructions between two calls of the progress handler
#: (about 10 µs of work; a call costs well under 1 µs).
STEPS = 1000
_SIGNALS = (signal.SIGINT, signal.SIGTERM)

_lock = threading.Lock()
_depth = 0  # guards active in the main thread (ours stands in front while > 0)
_saved: dict[int, Any] = {}  # signal → the program's own handler, while ours stands in
_pending: list[int] = []  # signals noted inside a progress handler, not yet raised
_active: dict[int, list[_Guard]] = {}  # id(connection) → its guards, innermost last


class _Guard:
    """The state of one :func:`guarded` block: its deadline and why it stopped."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.timed_out = False
        self.interrupted = False

    def progress(self) -> int:
        # A pending signal's handler runs as this function starts (see _on_signal).
        if _pending:
            self.interrupted = True
        elif time.monotonic() > self.deadline:
            self.timed_out = True
        return int(self.timed_out or self.interrupted)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    """Ours, in front of the program's handler while a guard is active."""
    if frame is not None and frame.f_code is _Guard.progress.__code__:
        _pending.append(signum)  # inside SQLite: abort the statement, raise on the way out
        return
    _forward(signum, frame)


def _forward(signum: int, frame: FrameType | None) -> None:
    handler = _saved.get(signum, signal.getsignal(signum))
    if callable(handler):
        handler(signum, frame)


def _stand_in() -> None:
    global _depth
    if threading.current_thread() is not threading.main_thread():
        return  # only the main thread runs signal handlers (and may install them)
    with _lock:
        _depth += 1
        if _depth > 1:
            return
        for signum in _SIGNALS:
            handler = signal.getsignal(signum)
            # SIG_DFL and SIG_IGN are left alone: the kernel ends the process, or the
            # signal is ignored, whatever SQLite is doing
            if callable(handler):
                _saved[signum] = handler
                signal.signal(signum, _on_signal)


def _stand_down() -> None:
    global _depth
    if threading.current_thread() is not threading.main_thread():
        return
    with _lock:
        _depth -= 1
        if _depth:
            return
        for signum, handler in list(_saved.items()):
            if signal.getsignal(signum) is _on_signal:
                signal.signal(signum, handler)
            del _saved[signum]


def _raise_pending() -> None:
    """Call the program's handler for a signal noted inside SQLite (it raises)."""
    while _pending:
        _forward(_pending.pop(0), None)


@contextlib.contextmanager
def guarded(con: sqlite3.Connection, *, seconds: float, source: str | Path,
            what: str) -> Iterator[sqlite3.Connection]:
    """Run SQLite work on ``con`` with a time limit, stoppable by SIGINT and SIGTERM.

    The limit counts from entering the block and covers every statement in it. When
    it has passed, the running statement is aborted (``sqlite3.OperationalError:
    interrupted`` inside the block), every later statement in the block aborts at
    once, and the block ends with :class:`~strukturbild.errors.TimeLimitError`, even
    when the code in it caught the ``OperationalError``. A SIGINT or SIGTERM during a
    statement aborts it the same way, and the block ends with what the program's
    handler raises (``KeyboardInterrupt``; the command line's own for SIGTERM). Blocks
    may nest, on one connection or several.

    Parameters
    ----------
    con
        An open ``sqlite3.Connection``.
    seconds
        The time limit of the whole block.
    source
        The file, for the message.
    what
        The work, for the message ("reading the layers").

    Raises
    ------
    TimeLimitError
        The work took longer than ``seconds``.

    Examples
    --------
    >>> import sqlite3
    >>> con = sqlite3.connect(":memory:")
    >>> with guarded(con, seconds=5, source="a.gpkg", what="counting") as c:
    ...     c.execute("SELECT count(*) FROM sqlite_master").fetchone()
    (0,)
    >>> endless = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
    >>> with guarded(con, seconds=0.2, source="a.gpkg", what="reading the view") as c:
    ...     c.execute(endless + "SELECT count(*) FROM c").fetchone()
    Traceback (most recent call last):
    ...
    strukturbild.errors.TimeLimitError: a.gpkg: reading the view took longer than 0.2 s; ...
    """
    guard = _Guard(time.monotonic() + seconds)
    stack = _active.setdefault(id(con), [])
    stack.append(guard)
    _stand_in()
    try:
        con.set_progress_handler(guard.progress, STEPS)
        try:
            yield con
        except BaseException:
            if not (guard.timed_out or guard.interrupted):
                raise
        # here the block ended normally, or with what aborting a statement caused
        if guard.interrupted or _pending:
            _raise_pending()
        if guard.timed_out:
            raise TimeLimitError(
                f"{what} took longer than {seconds:g} s; stopped. Work this long means "
                "a view, trigger or query in the file that does not end, or a file far "
                "larger than a planning input", source=source) from None
    finally:
        stack.remove(guard)
        if stack:
            con.set_progress_handler(stack[-1].progress, STEPS)
        else:
            del _active[id(con)]
            with contextlib.suppress(Exception):  # a closed connection has no handler
                con.set_progress_handler(None, STEPS)
        _stand_down()
