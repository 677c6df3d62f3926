"""The SQLite guard: a time limit on SQLite work, and SIGINT/SIGTERM reach it in C."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from strukturbild import StrukturbildError, TimeLimitError
from strukturbild._sqlite import guarded

ENDLESS = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
           "SELECT count(*) FROM c")


def _con() -> sqlite3.Connection:
    return sqlite3.connect(":memory:")


def test_plain_work_runs_and_the_handler_goes_away() -> None:
    con = _con()
    with guarded(con, seconds=5, source="a.gpkg", what="counting") as c:
        c.execute("CREATE TABLE t(x)")
        c.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(10_000)])
        assert c.execute("SELECT sum(x) FROM t").fetchone() == (49_995_000,)
    # no time limit after the block: a query longer than the limit runs to its end
    with guarded(con, seconds=0.05, source="a.gpkg", what="x"):
        pass
    time.sleep(0.1)
    assert con.execute("SELECT count(*) FROM t a, t b WHERE a.x < 300").fetchone() \
        == (3_000_000,)


def test_endless_query_ends_with_time_limit_error_naming_source_and_work() -> None:
    con = _con()
    start = time.monotonic()
    with (pytest.raises(TimeLimitError) as info,
          guarded(con, seconds=0.3, source="places.gpkg", what="reading the schema") as c):
        c.execute(ENDLESS).fetchone()
    took = time.monotonic() - start
    assert 0.3 <= took < 1.5
    assert str(info.value).startswith(
        "places.gpkg: reading the schema took longer than 0.3 s; ")
    assert isinstance(info.value, StrukturbildError)
    assert isinstance(info.value, TimeoutError)
    assert info.value.source == "places.gpkg"
    # the connection still works afterwards, without a limit
    assert con.execute("SELECT 1").fetchone() == (1,)


def test_the_limit_covers_the_whole_block_and_a_swallowed_abort() -> None:
    """Code in the block that catches the OperationalError cannot go on past the limit."""
    con = _con()
    aborted = []
    with (pytest.raises(TimeLimitError),
          guarded(con, seconds=0.2, source="out.gpkg", what="appending") as c):
        for _ in range(3):
            try:
                c.execute(ENDLESS).fetchone()
            except sqlite3.OperationalError as exc:
                aborted.append(str(exc))
    assert aborted == ["interrupted"] * 3


def test_nested_guards_keep_the_outer_limit() -> None:
    con = _con()
    with (pytest.raises(TimeLimitError, match="outer work"),
          guarded(con, seconds=0.3, source="a", what="outer work") as c):
        with guarded(c, seconds=60, source="a", what="inner work"):
            c.execute("SELECT 1").fetchone()
        c.execute(ENDLESS).fetchone()


def test_in_a_thread_only_the_time_limit() -> None:
    errors: list[BaseException] = []

    def work() -> None:
        con = _con()
        try:
            with guarded(con, seconds=0.2, source="t.gpkg", what="work") as c:
                c.execute(ENDLESS).fetchone()
        except BaseException as exc:
            errors.append(exc)

    before = signal.getsignal(signal.SIGINT)
    thread = threading.Thread(target=work)
    thread.start()
    thread.join(5)
    assert not thread.is_alive()
    assert [type(e) for e in errors] == [TimeLimitError]
    assert signal.getsignal(signal.SIGINT) is before


def test_handlers_are_restored() -> None:
    def mine(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, mine)
    try:
        before = signal.getsignal(signal.SIGINT)
        with guarded(_con(), seconds=1, source="a", what="x"):
            assert signal.getsignal(signal.SIGTERM) is not mine
        assert signal.getsignal(signal.SIGTERM) is mine
        assert signal.getsignal(signal.SIGINT) is before
    finally:
        signal.signal(signal.SIGTERM, old)


def _interrupt_after(seconds: float, signum: int) -> threading.Timer:
    timer = threading.Timer(seconds, os.kill, (os.getpid(), signum))
    timer.start()
    return timer


def test_sigint_reaches_a_statement_running_in_c() -> None:
    con = _con()
    _interrupt_after(0.3, signal.SIGINT)
    start = time.monotonic()
    with (pytest.raises(KeyboardInterrupt),
          guarded(con, seconds=60, source="a.gpkg", what="reading") as c):
        c.execute(ENDLESS).fetchone()
    assert time.monotonic() - start < 1.3
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_sigterm_raises_what_the_programs_handler_raises() -> None:
    class Terminated(KeyboardInterrupt):
        pass

    def on_term(signum: int, frame: object) -> None:
        raise Terminated

    old = signal.signal(signal.SIGTERM, on_term)
    try:
        _interrupt_after(0.3, signal.SIGTERM)
        start = time.monotonic()
        with (pytest.raises(Terminated),
              guarded(_con(), seconds=60, source="a.gpkg", what="reading") as c):
            c.execute(ENDLESS).fetchone()
        assert time.monotonic() - start < 1.3
    finally:
        signal.signal(signal.SIGTERM, old)


def test_sigint_between_statements_is_raised_at_once() -> None:
    """A signal while the block runs Python code goes to the program's handler directly."""
    con = _con()
    reached = []
    with pytest.raises(KeyboardInterrupt), guarded(con, seconds=60, source="a", what="x"):
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(1000):  # the handler runs within a few bytecodes
            time.sleep(0.001)
        reached.append(True)
    assert not reached


def test_without_the_guard_sigint_does_not_stop_sqlite() -> None:
    """Why the guard exists: a subprocess without it ignores SIGINT until killed."""
    code = textwrap.dedent(f"""
        import sqlite3, sys
        print("ready", flush=True)
        try:
            sqlite3.connect(":memory:").execute({ENDLESS!r}).fetchone()
        except KeyboardInterrupt:
            sys.exit(130)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(1.5)
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
