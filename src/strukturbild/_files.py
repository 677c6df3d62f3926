"""File transactions: all-or-none output sets, locks, atomic paths, disk-full handling.

Every file strukturbild writes goes through :class:`OutputSet` (or its one-file form
:func:`atomic_path`): each output is written to a temporary file beside it and renamed
over its target only when every output of the set is written, with the target locked
against concurrent runs for the whole time.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import re
import secrets
import signal
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .errors import (
    DiskFullError,
    InvalidValueError,
    OutputConflictError,
    OutputLockedError,
    StrukturbildError,
)

__all__ = ["OutputSet", "atomic_path", "check_outputs", "check_path"]



_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: Temporary files are named ``.<target name>.sbtmp-<random><suffix>`` beside the target.
_TMP_MARK = ".sbtmp-"
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
    """An exclusive lock on one output, held by a lock file beside it (``.<name>.lock``)."""

    def __init__(self, target: Path) -> None:
        self.path = target.parent / f".{target.name}.lock"
        self.fd: int | None = None

    def acquire(self) -> None:
        import fcntl

        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                target = self.path.parent / self.path.name[1:-len(".lock")]
                raise OutputLockedError(
                    "another strukturbild run is writing this file; try again when it has "
                    "finished", source=target) from None
            # The holder before us may have removed the file after we opened it.
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
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


def _remove(path: Path) -> None:
    for leftover in (path, Path(f"{path}-journal"), Path(f"{path}-wal"), Path(f"{path}-shm")):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()


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


class OutputSet:
    """Write several output files all or none.

    Each output is written to a temporary file beside it (:meth:`stage`); only when
    all are written are they renamed over their targets, one after the other with
    SIGINT and SIGTERM held back, so that an interrupted or failed run leaves every
    previous output as it was and no temporary file behind. On entry the outputs
    are checked against the inputs (:func:`check_outputs`), each is locked against
    concurrent runs (:class:`~strukturbild.errors.OutputLockedError`), and
    temporary files that killed runs left beside it are removed.

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
        check_outputs(self.targets, inputs)
        self._staged: dict[Path, Path] = {}
        self._locks: list[_Lock] = []
        self.committed = False

    def __enter__(self) -> OutputSet:
        try:
            for target in sorted(self.targets, key=_real):
                try:
                    target.parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise _disk_full(exc, target) from None
                lock = _Lock(target)
                lock.acquire()
                self._locks.append(lock)
                for stale in target.parent.glob(f".{glob.escape(target.name)}{_TMP_MARK}*"):
                    _remove(stale)
        except BaseException:
            self._release()
            raise
        return self

    def stage(self, target: str | Path) -> Path:
        """The temporary path to write ``target`` to (not created: writers make it)."""
        target = Path(target)
        if target not in self.targets:
            raise ValueError(f"{target} is not an output of this set")
        tmp = target.parent / f".{target.name}{_TMP_MARK}{secrets.token_hex(4)}{target.suffix}"
        self._staged[target] = tmp
        return tmp

    def commit(self) -> None:
        """Rename every staged file over its target."""
        missing = [t for t in self.targets if t not in self._staged
                   or not self._staged[t].exists()]
        if missing:
            raise RuntimeError(f"output(s) not written: {', '.join(map(str, missing))}")
        main = threading.current_thread() is threading.main_thread()
        if main:
            signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
        try:
            for target in self.targets:
                os.replace(self._staged.pop(target), target)
            self.committed = True
        finally:
            if main:
                try:
                    signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)
                except KeyboardInterrupt as exc:  # a signal held back during the renames
                    exc.committed = True  # type: ignore[attr-defined]
                    raise

    def _release(self) -> None:
        for tmp in self._staged.values():
            _remove(tmp)
        self._staged.clear()
        for lock in reversed(self._locks):
            lock.release()
        self._locks.clear()

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:
        try:
            if kind is None:
                self.commit()
            elif isinstance(exc, Exception) and not isinstance(exc, StrukturbildError) and \
                    _out_of_space(exc, self._staged.values()):
                target = next((t for t, s in self._staged.items() if s.exists()),
                              self.targets[0])
                raise DiskFullError("cannot write: the disk is full or the file reached the "
                                    "file-size limit", source=target) from None
        except OSError as err:
            raise _disk_full(err, self.targets[0]) from None
        finally:
            self._release()


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
