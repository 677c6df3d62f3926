"""File transactions: all-or-none output sets, locks, atomic paths, disk-full handling.

Every file strukturbild writes goes through :class:`OutputSet` (or its one-file form
:func:`atomic_path`): each output is written to a temporary file beside it and renamed
over its target only when every output of the set is written, with the target locked
against concurrent runs for the whole time.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import signal
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import (
    DiskFullError,
    InvalidValueError,
    OutputConflictError,
    OutputLockedError,
    StrukturbildError,
    raise_noted_interrupt,
)

if TYPE_CHECKING:
    import sqlite3

    import pandas as pd

__all__ = ["OutputSet", "atomic_path", "check_outputs", "check_path", "csv_text",
           "unformula", "write_csv"]


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _real(path: Path) -> str:
    """The path with symlinks and ``..`` resolved, whether or not it exists."""
    return os.path.realpath(os.path.abspath(path))


def check_path(path: str | Path) -> None:
    """Refuse a file name with a control character (a newline, say): GDAL and SQLite
    cannot open such paths, and no tool shows them right.

    Examples
    --------
    >>> check_path("out/skåne.gpkg")
    >>> check_path("out\\n2/skåne.gpkg")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    strukturbild.errors.InvalidValueError: 'out\\n2/skåne.gpkg': the path holds a control ...
    """
    if _CONTROL.search(str(path)):
        raise InvalidValueError("the path holds a control character (a newline or tab); "
                                "rename the file or folder", source=repr(str(path)))


def check_outputs(targets: Iterable[str | Path], inputs: Iterable[str | Path] = ()) -> None:
    """Refuse outputs that resolve to an input or to another output.

    Paths are compared after resolving symlinks and ``..``, and existing files also
    by identity (hard links).

    Raises
    ------
    OutputConflictError
        Naming the output and what it would destroy.

    Examples
    --------
    >>> check_outputs(["out/a.csv", "out/b.csv"], inputs=["a.csv"])
    >>> check_outputs(["out/../a.csv"], inputs=["a.csv"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    strukturbild.errors.OutputConflictError: out/../a.csv: the output would overwrite ... a.csv
    """
    seen: dict[str, Path] = {}
    ins = [(Path(i), _real(Path(i))) for i in inputs]
    for t in targets:
        target = Path(t)
        real = _real(target)
        for given, ireal in ins:
            same = real == ireal
            if not same and target.exists() and given.exists():
                with contextlib.suppress(OSError):
                    same = os.path.samefile(target, given)
            if same:
                raise OutputConflictError(f"the output would overwrite the input {given}",
                                          source=target)
        if real in seen:
            raise OutputConflictError(f"two outputs are the same file (also {seen[real]})",
                                      source=target)
        seen[real] = target


class _Lock:
    """An exclusive lock on one output, held by a lock file beside it (``.<name>.lock``).

    The lock file is opened with ``O_NOFOLLOW`` and must be a regular file with one
    name: a symlink planted at its path would otherwise make the run create or open a
    file wherever it points (as root, anywhere).
    """

    def __init__(self, target: Path) -> None:
        self.target = target
        self.path = target.parent / f".{target.name}.lock"
        self.fd: int | None = None

    def _refuse(self, what: str) -> OutputConflictError:
        return OutputConflictError(
            f"the lock file {self.path.name} beside the output is {what}, where strukturbild "
            "makes a plain file; remove it if no other run is writing", source=self.target)

    def acquire(self) -> None:
        import fcntl
        import stat

        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
        while True:
            try:
                fd = os.open(self.path, flags, 0o644)
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise self._refuse("a symbolic link") from None
                if exc.errno == errno.EISDIR:
                    raise self._refuse("a folder") from None
                if exc.errno == errno.ENXIO:
                    raise self._refuse("a special file (a socket, a FIFO or a device)") from None
                raise _disk_full(exc, self.target) from None
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
                os.close(fd)
                raise self._refuse("a special file (a socket, a FIFO or a device)"
                                   if not stat.S_ISREG(info.st_mode)
                                   else "a hard link to another file")
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise OutputLockedError(
                    "another strukturbild run is writing this file; try again when it has "
                    "finished", source=self.target) from None
            # The holder before us may have removed the file after we opened it.
            try:
                same = os.lstat(self.path).st_ino == info.st_ino
            except FileNotFoundError:
                same = False
            if same:
                self.fd = fd
                return
            os.close(fd)

    def release(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            os.close(self.fd)
            self.fd = None


#: SQLite's files beside a database: its WAL, the WAL's shared-memory index, its journal.
_COMPANIONS = ("-wal", "-shm", "-journal")


def _remove(path: Path) -> None:
    for leftover in (path, *(Path(f"{path}{c}") for c in _COMPANIONS)):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()


def _ours(target: Path) -> re.Pattern[str]:
    """The names of the temporary files this program makes beside ``target`` while
    writing it, exactly: ``.<name>.sbtmp-<8 hex digits><suffix>``, and SQLite's files
    beside one. (The previous file, kept as ``.<name>.sbold-…`` while a set is renamed,
    is not among them: if putting it back failed, the message named it as the user's
    copy of the previous output.)"""
    return re.compile(rf"\.{re.escape(target.name)}\.sbtmp-[0-9a-f]{{{_TOKEN * 2}}}"
                      rf"{re.escape(target.suffix)}(?:-wal|-shm|-journal)?")


#: Output names this program could take for one of its own files.
_OWN_NAME = re.compile(r"\..*\.(?:sb(?:tmp|old)-[0-9a-f]{8}.*|lock)")
#: Bytes of randomness in the names of staged and kept files.
_TOKEN = 4


def _is_sqlite(path: Path) -> bool:
    """Whether ``path`` is a regular file that starts as an SQLite database does."""
    import stat

    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return False
        with open(path, "rb") as f:
            return f.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def _companions(target: Path) -> list[Path]:
    return [p for p in (Path(f"{target}{c}") for c in _COMPANIONS) if os.path.lexists(p)]


def _shm_in_use(shm: Path) -> bool:
    """Whether a connection has the database of this ``-shm`` open (in WAL mode).

    SQLite's unix VFS has every connection hold a read lock on byte 128 of the ``-shm``
    (its "dead man switch", ``UNIX_SHM_DMS``) while it is open: a write lock on that
    byte is refused while any connection is left. Without a ``-shm`` no WAL connection
    can be told from none; taken as none.
    """
    import fcntl

    try:
        fd = os.open(shm, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        return False
    except OSError:
        return True
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 128)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def _open_elsewhere(target: Path) -> OutputLockedError:
    return OutputLockedError(
        "the file is open in another program (is it open in QGIS?); close it there and run "
        "again, or write to another file. Nothing was changed", source=target)


#: Time limit of the SQLite work of taking the lock (a checkpoint of a large WAL).
_HOLD_SECONDS = 60.0
#: How long SQLite waits for another program's lock before giving up (it waits in C).
_BUSY_SECONDS = 0.5


class _Held:
    """SQLite's own lock on an existing SQLite file that is to be replaced or appended to.

    A GeoPackage open in QGIS is in WAL mode: QGIS keeps its ``-wal`` and ``-shm``
    beside the file, by name, for as long as it has the file open, and SQLite replays a
    ``-wal`` into whatever file then has that name. Renaming a new file into place under
    a live WAL corrupts it (a foreign table appears, "row missing from index"), and so
    does a ``-wal`` that a program left when it ended without a checkpoint, or a hot
    ``-journal`` of a crashed write. So, through SQLite itself, before the file is
    replaced or read for appending:

    - the file is switched out of WAL (``journal_mode=DELETE``), which SQLite allows
      only when no other connection has the file open, and does by checkpointing the
      WAL into the file and removing ``-wal`` and ``-shm``: if another connection has
      the file open, the run is refused, the file untouched
      (:func:`_open_elsewhere`), since a program that keeps the file open keeps writing
      to the ``-wal`` by name, whatever file it then meets;
    - an exclusive lock (``locking_mode=EXCLUSIVE``, ``BEGIN EXCLUSIVE``) then keeps
      every other reader and writer out until the file has been replaced (a hot journal
      is rolled back by SQLite on the way in). Nothing else in this process may open
      the file meanwhile: closing any other descriptor of it would drop SQLite's POSIX
      locks, so an appended file is read through the connection that holds it.

    Refusing rather than waiting: QGIS keeps a GeoPackage open as long as a layer of it
    is in the project, so waiting would not end. When the run does not replace the file
    (it failed, or was interrupted), the file goes back to WAL mode.
    """

    def __init__(self, target: Path) -> None:
        self.target = target
        self.con: sqlite3.Connection | None = None
        self.wal = False

    def acquire(self) -> sqlite3.Connection | None:
        """Take the lock; None when SQLite cannot open the file (it is not a database)."""
        import sqlite3
        import urllib.parse

        from ._sqlite import guarded

        uri = f"file:{urllib.parse.quote(os.path.abspath(self.target))}?mode=rw"
        try:
            con = sqlite3.connect(uri, uri=True, timeout=_BUSY_SECONDS, isolation_level=None)
        except sqlite3.Error:
            return None
        try:
            with guarded(con, seconds=_HOLD_SECONDS, source=self.target,
                         what="taking SQLite's lock on the file"):
                if str(con.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
                    self.wal = True
                    # SQLite leaves WAL only with no other connection open, checkpointing
                    # the WAL into the file and removing -wal and -shm as it does
                    mode = con.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
                    if str(mode).lower() != "delete":
                        raise _open_elsewhere(self.target)
                # An exclusive lock that outlives the transaction (locking_mode EXCLUSIVE):
                # it is held until release(), and the file can still be read through
                # this connection (SQLite's backup API will not read through an open
                # write transaction).
                con.execute("PRAGMA locking_mode=EXCLUSIVE")
                con.execute("BEGIN EXCLUSIVE")
                con.execute("COMMIT")
                con.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError as exc:
            con.close()
            if getattr(exc, "sqlite_errorcode", 0) & 0xFF in (5, 6):  # SQLITE_BUSY, _LOCKED
                raise _open_elsewhere(self.target) from None
            return None
        except sqlite3.DatabaseError:
            con.close()
            return None
        except BaseException:
            con.close()
            raise
        self.con = con
        # SQLite has rolled back a hot journal; one it left is not hot (a zeroed one of
        # journal_mode=PERSIST) and, under our lock, ours to remove before a new file
        # takes the name.
        with contextlib.suppress(FileNotFoundError):
            Path(f"{self.target}-journal").unlink()
        return con

    def release(self, *, replaced: bool) -> None:
        """Let go of the file; back to WAL mode when it was in WAL and is still there."""
        import sqlite3

        con, self.con = self.con, None
        if con is None:
            return
        try:
            if self.wal and not replaced:
                with contextlib.suppress(sqlite3.Error):
                    con.execute("PRAGMA locking_mode=NORMAL")
                    con.execute("PRAGMA journal_mode=WAL")
        finally:
            con.close()


def _disk_full(exc: OSError, target: Path) -> OSError:
    if exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        return DiskFullError(f"cannot write: {os.strerror(exc.errno)} (disk full or file "
                             "too large)", source=target)
    return exc


#: What GDAL and SQLite say when a write fails for want of space; they keep no errno.
_FULL_TEXT = re.compile(r"no space left|disk (?:i/o error|is full|full)|file too large|"
                        r"database or disk is full|quota exceeded", re.IGNORECASE)


def _out_of_space(exc: BaseException, staged: Iterable[Path]) -> bool:
    """Whether a failed write ran out of space: the error says so, the disk is (nearly)
    full, or a written file reached the process's file-size limit (``ulimit -f``)."""
    import resource

    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        return True
    if _FULL_TEXT.search(str(exc)):
        return True
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    for tmp in staged:
        with contextlib.suppress(OSError):
            vfs = os.statvfs(tmp.parent)
            if vfs.f_bavail * vfs.f_frsize < 1024 * 1024:
                return True
            for f in (tmp, Path(f"{tmp}-journal"), Path(f"{tmp}-wal")):
                if limit != resource.RLIM_INFINITY and f.exists() and \
                        f.stat().st_size >= limit - 65536:
                    return True
    return False


def _check_kind(target: Path) -> None:
    """Refuse a ``target`` that is there and is not a file (nor a symlink, which is
    replaced): a folder, or a named pipe, socket or device, whose reader would wait
    for ever on the one replaced."""
    import stat

    with contextlib.suppress(FileNotFoundError):
        mode = os.lstat(target).st_mode
        if stat.S_ISDIR(mode):
            raise OutputConflictError(
                "the output is a folder; remove or rename it. Nothing was changed",
                source=target)
        if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
            raise OutputConflictError(
                "the output is a named pipe, socket or device, not a file; remove it or "
                "write elsewhere. Nothing was changed", source=target)


class OutputSet:
    """Write several output files all or none.

    Each output is written to a temporary file beside it (:meth:`stage`); only when
    all are written are they renamed over their targets, so that a failed or
    interrupted run leaves every previous output as it was and no temporary file
    behind. On entry the outputs are checked against the inputs
    (:func:`check_outputs`), each is locked against concurrent runs
    (:class:`~strukturbild.errors.OutputLockedError`), an existing SQLite file
    (a GeoPackage) is checked for another program that has it open (see
    :class:`_Held`), and the temporary files that killed runs left beside an output are
    removed: only names this program makes for that output (:func:`_ours`).

    :meth:`commit` checks every target before it replaces any: none may be a folder,
    an SQLite file among them is locked through SQLite (:class:`_Held`), and each
    existing one is kept aside (a hard link, else a copy). Then the staged files are
    renamed over their targets with SIGINT and SIGTERM held back; if one rename fails,
    the ones before it are put back from what was kept, and the error names the output
    (and, should putting back fail too, exactly which outputs are new).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with OutputSet([d / "a.txt", d / "b.txt"]) as out:
    ...     _ = out.stage(d / "a.txt").write_text("A")
    ...     _ = out.stage(d / "b.txt").write_text("B")
    >>> sorted(p.name for p in d.iterdir())
    ['a.txt', 'b.txt']
    """

    def __init__(self, targets: Iterable[str | Path], *, inputs: Iterable[str | Path] = ()
                 ) -> None:
        self.targets = [Path(t) for t in targets]
        for target in self.targets:
            check_path(target)
            if _OWN_NAME.fullmatch(target.name):
                raise OutputConflictError(
                    "the output's name is one strukturbild gives its own files beside an "
                    "output (.NAME.sbtmp-…, .NAME.sbold-…, .NAME.lock); choose another name",
                    source=target)
        check_outputs(self.targets, inputs)
        self._staged: dict[Path, Path] = {}
        self._locks: list[_Lock] = []
        self._held: dict[Path, _Held] = {}
        self._replaced: set[Path] = set()
        self._stuck: set[Path] = set()  # replaced, and could not be put back
        self.committed = False

    def __enter__(self) -> OutputSet:
        try:
            for target in sorted(self.targets, key=_real):
                try:
                    target.parent.mkdir(parents=True, exist_ok=True)
                except (FileExistsError, NotADirectoryError):  # it, or one above, is a file
                    folder = next(p for p in (target.parent, *target.parent.parents)
                                  if os.path.lexists(p))
                    raise OutputConflictError(
                        f"the output folder {folder} is a file, not a folder; write to "
                        "another (--out, [export] out_dir). Nothing was changed",
                        source=target) from None
                except OSError as exc:
                    raise _disk_full(exc, target) from None
                _check_kind(target)  # now, before anything is made; again on commit
                lock = _Lock(target)
                lock.acquire()
                self._locks.append(lock)
                mine = _ours(target)
                with os.scandir(target.parent) as entries:
                    stale = [e.name for e in entries if mine.fullmatch(e.name)]
                for name in stale:
                    with contextlib.suppress(FileNotFoundError):
                        (target.parent / name).unlink()
            for target in self.targets:  # fail now, before anything is made, if open elsewhere
                held = self._settle(target)
                if held is not None:
                    held.release(replaced=False)
        except BaseException:
            self._release()
            raise
        return self

    def stage(self, target: str | Path) -> Path:
        """The temporary path to write ``target`` to (not created: writers make it)."""
        target = Path(target)
        if target not in self.targets:
            raise ValueError(f"{target} is not an output of this set")
        tmp = target.parent / (f".{target.name}.sbtmp-{secrets.token_hex(_TOKEN)}"
                               f"{target.suffix}")
        self._staged[target] = tmp
        return tmp

    def hold(self, target: str | Path) -> sqlite3.Connection | None:
        """SQLite's exclusive lock on the existing SQLite file ``target``, held until the
        set is committed or given up: the connection holding it, to read the file
        through (appending), or None when there is no such file.

        Raises
        ------
        OutputLockedError
            Another program has the file open (QGIS, say).
        """
        target = Path(target)
        if target not in self.targets:
            raise ValueError(f"{target} is not an output of this set")
        if target not in self._held:
            held = self._settle(target)
            if held is None:
                return None
            self._held[target] = held
        return self._held[target].con

    def _settle(self, target: Path) -> _Held | None:
        """Lock an existing SQLite ``target`` through SQLite; refuse SQLite files left
        beside it that the lock could not clear."""
        held = None
        if _is_sqlite(target):
            held = _Held(target)
            if held.acquire() is None:
                held = None
        left = _companions(target)
        if left and not os.path.lexists(target) and not _shm_in_use(Path(f"{target}-shm")):
            # a deleted file's, and no connection is left that could use them
            for path in left:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            left = _companions(target)
        if left:
            if held is not None:
                held.release(replaced=False)
            whose = ("SQLite cannot take back into the file" if os.path.lexists(target)
                     else "of an earlier file of this name")
            raise OutputLockedError(
                f"SQLite's files {whose} are beside it ({', '.join(p.name for p in left)}): "
                "a program has it open or ended without closing it (QGIS?). Close it there, "
                "or remove them if no program has the file open. Nothing was changed",
                source=target)
        return held

    def _keep(self, target: Path) -> Path:
        """Keep the existing ``target`` aside (a hard link, else a copy) until committed."""
        import shutil

        kept = target.parent / f".{target.name}.sbold-{secrets.token_hex(_TOKEN)}{target.suffix}"
        try:
            os.link(target, kept, follow_symlinks=False)
        except OSError:
            try:
                shutil.copy2(target, kept, follow_symlinks=False)
            except OSError as exc:
                _remove(kept)
                raise _cannot_replace(target, exc, []) from None
        return kept

    def commit(self) -> None:
        """Rename every staged file over its target, all or none."""
        missing = [t for t in self.targets if t not in self._staged
                   or not self._staged[t].exists()]
        if missing:
            raise RuntimeError(f"output(s) not written: {', '.join(map(str, missing))}")
        kept: dict[Path, Path] = {}
        try:
            # every target is checked, locked and kept aside before any is replaced
            for target in self.targets:
                _check_kind(target)
            for target in self.targets:
                self.hold(target)
            for target in self.targets:
                if os.path.lexists(target):
                    kept[target] = self._keep(target)
            self._rename_all(kept)
        finally:
            for target, path in kept.items():
                if target not in self._stuck:
                    _remove(path)

    def _rename_all(self, kept: dict[Path, Path]) -> None:
        main = threading.current_thread() is threading.main_thread()
        if main:
            signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
        try:
            # a signal whose exception a finalizer dropped (errors.note_interrupt) stops
            # the run here, before any output is replaced; one from now on is held back
            raise_noted_interrupt()
            done: list[Path] = []
            for target in self.targets:
                try:
                    os.replace(self._staged[target], target)
                except OSError as exc:
                    raise _cannot_replace(target, exc, self._put_back(done, kept)) from None
                done.append(target)
                self._replaced.add(target)
                del self._staged[target]
            self.committed = True
        finally:
            if main:
                try:
                    signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)
                except KeyboardInterrupt as exc:  # a signal held back during the renames
                    exc.committed = self.committed  # type: ignore[attr-defined]
                    raise

    def _put_back(self, done: list[Path], kept: dict[Path, Path]) -> list[str]:
        """Put the previous files back over the targets in ``done``; describe the ones
        that stay new (their previous file is left where it was kept)."""
        stuck = []
        for target in reversed(done):
            try:
                if target in kept:
                    os.replace(kept[target], target)
                    del kept[target]
                else:
                    target.unlink()
                self._replaced.discard(target)
            except OSError:
                self._stuck.add(target)
                stuck.append(f"{target} (the previous file is {kept[target]})"
                             if target in kept else str(target))
        return stuck

    def _release(self) -> None:
        for tmp in self._staged.values():
            _remove(tmp)
        self._staged.clear()
        for target, held in self._held.items():
            held.release(replaced=target in self._replaced)
        self._held.clear()
        for lock in reversed(self._locks):
            lock.release()
        self._locks.clear()

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:
        try:
            try:
                if kind is None:
                    self.commit()
                elif isinstance(exc, Exception) and not isinstance(exc, StrukturbildError) \
                        and _out_of_space(exc, self._staged.values()):
                    target = next((t for t, s in self._staged.items() if s.exists()),
                                  self.targets[0])
                    raise DiskFullError("cannot write: the disk is full or the file reached "
                                        "the file-size limit", source=target) from None
            except OSError as err:
                raise _disk_full(err, self.targets[0]) from None
            finally:
                self._release()
        except KeyboardInterrupt as interrupt:  # while releasing the locks, say
            if self.committed:
                interrupt.committed = True  # type: ignore[attr-defined]
            raise


def _cannot_replace(target: Path, exc: OSError, new: list[str]) -> StrukturbildError:
    """The error of an output that could not be replaced, naming it (not the temp file)."""
    if exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        return _disk_full(exc, target)  # type: ignore[return-value]
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    if new:
        state = ("these outputs were replaced and could not be put back: "
                 f"{', '.join(new)}; the others are as they were")
    else:
        state = "no output changed"
    return OutputConflictError(f"cannot replace the output ({reason}); {state}", source=target)


@contextlib.contextmanager
def atomic_path(target: str | Path, *, inputs: Iterable[str | Path] = ()) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it over ``target`` on success.

    On any exception (or interruption) the temporary file is removed and ``target``
    is left as it was, so no half-written output is ever left behind. One output of
    an :class:`OutputSet`: checked against ``inputs``, locked, stale files removed.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> with atomic_path(out) as tmp:
    ...     _ = tmp.write_text("done")
    >>> out.read_text()
    'done'
    """
    with OutputSet([target], inputs=inputs) as out:
        try:
            yield out.stage(target)
        except OSError as exc:
            raise _disk_full(exc, Path(target)) from None


# --------------------------------------------------------------------------- CSV

#: A text cell a spreadsheet would run as a formula (CWE-1236): = + - @, tab, CR first.
_FORMULA = re.compile(r"^[=+\-@\t\r]")
_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$")
#: What :func:`_neutralise` makes of such a cell; :func:`unformula` takes it back.
_NEUTRALISED = re.compile(r"^'[=+\-@\t\r]")


def _neutralise(value: object) -> object:
    """Prefix ``'`` to text a spreadsheet would evaluate (numbers stay as they are).

    Examples
    --------
    >>> [_neutralise(v) for v in ["=1+2", "-12.5", "@SUM(A1)", "Malmö", 3]]
    ["'=1+2", '-12.5', "'@SUM(A1)", 'Malmö', 3]
    """
    if isinstance(value, str) and _FORMULA.match(value) and not _NUMBER.match(value):
        return "'" + value
    return value


def csv_text(frame: pd.DataFrame, *, index: bool = False) -> str:
    """A table as strukturbild writes every CSV file: UTF-8 text, ``\\n`` line ends, and
    text cells that a spreadsheet would run as a formula written with a leading ``'``.

    One rule for every CSV the program writes (the ``regions`` and ``hierarchy``
    tables, ``fetch scb``'s tables): planners open these files in Excel or LibreOffice,
    where a cell such as ``=HYPERLINK(…)`` from a place name runs as a formula (CWE-1236;
    OWASP's advice is this prefix). The readers take the prefix off again
    (:func:`unformula`), so a table strukturbild wrote reads back as it was. Numbers,
    negative ones included, are left alone.

    Examples
    --------
    >>> import pandas as pd
    >>> print(csv_text(pd.DataFrame({"name": ["=HYPERLINK(1)", "Malmö"], "n": [-1, 2]})))
    name,n
    '=HYPERLINK(1),-1
    Malmö,2
    <BLANKLINE>
    """
    import pandas as pd  # at run time (the module imports no pandas)

    safe = frame.copy()
    for col in safe.columns:
        if pd.api.types.is_object_dtype(safe[col]) or pd.api.types.is_string_dtype(safe[col]):
            safe[col] = safe[col].map(_neutralise)
    if index and (pd.api.types.is_object_dtype(safe.index)
                  or pd.api.types.is_string_dtype(safe.index)):
        safe.index = safe.index.map(_neutralise)
    return str(safe.to_csv(index=index, lineterminator="\n"))


def write_csv(frame: pd.DataFrame, path: str | Path, *, index: bool = False) -> Path:
    """Write ``frame`` to ``path`` (a staged file of an :class:`OutputSet`) by
    :func:`csv_text`'s rule.

    Examples
    --------
    >>> import tempfile, pathlib, pandas as pd
    >>> p = write_csv(pd.DataFrame({"a": ["@x"]}), pathlib.Path(tempfile.mkdtemp()) / "t.csv")
    >>> p.read_text(encoding="utf-8")
    "a\\n'@x\\n"
    """
    target = Path(path)
    target.write_text(csv_text(frame, index=index), encoding="utf-8", newline="")
    return target


def unformula(values: pd.Series) -> pd.Series:
    """Take off the ``'`` that :func:`csv_text` put before a formula-like text cell.

    Only a ``'`` directly before ``= + - @``, a tab or CR is taken off, so that a table
    written by strukturbild reads back as it was.

    Examples
    --------
    >>> import pandas as pd
    >>> unformula(pd.Series(["'=HYPERLINK(1)", "'quoted", "'-x", "Malmö"])).tolist()
    ['=HYPERLINK(1)', "'quoted", '-x', 'Malmö']
    """
    import pandas as pd  # at run time (the module imports no pandas)

    if not (pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)):
        return values
    marked = [isinstance(v, str) and _NEUTRALISED.match(v) is not None for v in values]
    if not any(marked):
        return values
    out = values.copy()
    out[marked] = [v[1:] for v, m in zip(values, marked, strict=True) if m]
    return out
