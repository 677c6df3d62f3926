"""Errors and warnings of strukturbild.

Every error the package raises for bad input derives from :class:`StrukturbildError`
and also from the builtin exception it refines, so ``except ValueError`` keeps
working. Each error carries where the problem is, when known: the file, the layer,
the column and the row. The command line turns any :class:`StrukturbildError` into
exit code 2 and prints its message; anything else is an internal error (exit code 1).

The tree::

    StrukturbildError
    ├── InputFileNotFoundError (FileNotFoundError)
    ├── ConfigError (ValueError)
    ├── MissingColumnError (ValueError)
    ├── CRSError (ValueError)
    ├── DuplicateIdError (ValueError)
    ├── UnknownCodeError (ValueError)
    ├── InvalidValueError (ValueError)
    ├── EmptyInputError (ValueError)
    ├── InvalidGeometryError (ValueError)
    ├── OutputExistsError (FileExistsError)
    ├── OutputConflictError (ValueError)
    ├── OutputLockedError (BlockingIOError)
    ├── DiskFullError (OSError)
    ├── FetchError (ConnectionError)
    ├── TimeLimitError (TimeoutError)
    └── AssetError (RuntimeError)
        └── OnlineAssetError
    StrukturbildWarning (UserWarning)
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

__all__ = [
    "AssetError",
    "CRSError",
    "ConfigError",
    "DiskFullError",
    "DuplicateIdError",
    "EmptyInputError",
    "FetchError",
    "InputFileNotFoundError",
    "InvalidGeometryError",
    "InvalidValueError",
    "MissingColumnError",
    "OnlineAssetError",
    "OutputConflictError",
    "OutputExistsError",
    "OutputLockedError",
    "StrukturbildError",
    "StrukturbildWarning",
    "TimeLimitError",
    "UnknownCodeError",
    "printable",
]

#: What a message must not carry to a terminal as it is: the C0 controls (escape
#: sequences start with ESC, U+001B), DEL, the C1 controls (U+0080–U+009F; U+009B is
#: a one-character CSI), the line and paragraph separators, and the bidirectional
#: embeddings, overrides, isolates and marks that reorder what is shown.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029"
                          "\u202a-\u202e\u2066-\u2069]")
_SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(m: re.Match[str]) -> str:
    c = m.group()
    return _SHORT.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")


def printable(text: str) -> str:
    """``text`` with every control character shown as an escape (``\\x1b``, ``\\u202e``).

    Every message strukturbild prints goes through this: input files may hold
    terminal escape sequences (a window title, colours, a cleared screen), line
    breaks that fake a second message, or bidirectional overrides that show text
    backwards; printed escaped, they are seen, not obeyed.

    Examples
    --------
    >>> printable("Ort\\x1b]0;TITLE\\x07 \\u202eabc\\r\\n")
    'Ort\\\\x1b]0;TITLE\\\\x07 \\\\u202eabc\\\\r\\\\n'
    >>> print(printable("Ort\\x9b2J"))
    Ort\\x9b2J
    """
    return _UNPRINTABLE.sub(_escape, text)


class StrukturbildError(Exception):
    """Base of every error strukturbild raises for bad input or configuration.

    Parameters
    ----------
    message
        What is wrong and what was expected.
    source
        The file (or other source) the problem was found in.
    layer, column, row
        Where in the source, when known. ``row`` is the 1-based data row as a
        user sees it in a spreadsheet (header not counted), or an id.

    Examples
    --------
    >>> err = StrukturbildError("expected a number", source="flows.csv", column="count", row=3)
    >>> str(err)
    "flows.csv: column 'count', row 3: expected a number"

    Control characters from the input are shown escaped (:func:`printable`):

    >>> print(StrukturbildError("unknown place 'X\\x1b[2J'", source="f.csv"))
    f.csv: unknown place 'X\\x1b[2J'
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | Path | None = None,
        layer: str | None = None,
        column: str | None = None,
        row: int | str | None = None,
    ) -> None:
        self.message = message
        self.source = str(source) if source is not None else None
        self.layer = layer
        self.column = column
        self.row = row
        super().__init__(self._format())

    def _format(self) -> str:
        where: list[str] = []
        if self.layer is not None:
            where.append(f"layer '{self.layer}'")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        if self.row is not None:
            where.append(f"row {self.row}")
        prefix = ""
        if self.source is not None:
            prefix = f"{self.source}: "
        if where:
            prefix += ", ".join(where) + ": "
        # escaped here, once, so that no message can carry a control character from an
        # input (a name, a column, a path) to the terminal
        return printable(prefix + self.message)

    def with_source(self, source: str | Path) -> StrukturbildError:
        """Return a copy of this error that names ``source`` (when it named none).

        Examples
        --------
        >>> str(InvalidValueError("negative count", row=2).with_source("f.csv"))
        'f.csv: row 2: negative count'
        """
        if self.source is not None:
            return self
        # a copy keeps what subclasses add (FetchError's status, say)
        out = copy.copy(self)
        out.source = str(source)
        out.args = (out._format(),)
        return out

    def __str__(self) -> str:
        return self._format()


class InputFileNotFoundError(StrukturbildError, FileNotFoundError):
    """An input file named in the project or on the command line does not exist."""


class ConfigError(StrukturbildError, ValueError):
    """The project file or a parameter is wrong: unknown key, wrong type, out of range."""


class MissingColumnError(StrukturbildError, ValueError):
    """A required column is missing from an input table.

    ``available`` names the columns the table has (comma-separated), when known.
    """

    available: str | None = None


class CRSError(StrukturbildError, ValueError):
    """A layer has no CRS, or coordinates do not fit the CRS they claim."""


class DuplicateIdError(StrukturbildError, ValueError):
    """An id that must be unique occurs more than once."""


class UnknownCodeError(StrukturbildError, ValueError):
    """A code (place id, kommun code) is not known where it is used."""


class InvalidValueError(StrukturbildError, ValueError):
    """A value is of the wrong kind or out of range (negative count, text for a number)."""


class EmptyInputError(StrukturbildError, ValueError):
    """An input has no rows."""


class InvalidGeometryError(StrukturbildError, ValueError):
    """A geometry is missing, empty or invalid."""


class OutputExistsError(StrukturbildError, FileExistsError):
    """The output file exists and ``mode="fail"`` was asked for."""


class OutputConflictError(StrukturbildError, ValueError):
    """An output path is an input, or another output (symlinks and ``..`` resolved)."""


class OutputLockedError(StrukturbildError, BlockingIOError):
    """Another run is writing the same output file right now."""


class DiskFullError(StrukturbildError, OSError):
    """An output could not be written: the disk is full or a file-size limit was hit."""


class FetchError(StrukturbildError, ConnectionError):
    """Open data could not be fetched: no network and no cache, or a bad answer.

    ``status`` is the HTTP status when the server answered.

    Examples
    --------
    >>> str(FetchError("HTTP 404", source="https://x/tables/T1/metadata", status=404))
    'https://x/tables/T1/metadata: HTTP 404'
    """

    def __init__(self, message: str, *, source: str | Path | None = None,
                 status: int | None = None) -> None:
        self.status = status
        super().__init__(message, source=source)


class TimeLimitError(StrukturbildError, TimeoutError):
    """Work on an input or output took longer than its time limit and was stopped.

    A file can hold work that never ends (a view over a recursive query, a trigger);
    SQLite runs it in C, so it gets a time limit (see ``strukturbild._sqlite``).

    Examples
    --------
    >>> err = TimeLimitError("reading the layers took longer than 10 s", source="a.gpkg")
    >>> isinstance(err, TimeoutError), str(err)
    (True, 'a.gpkg: reading the layers took longer than 10 s')
    """


class AssetError(StrukturbildError, RuntimeError):
    """A file the web map inlines cannot be had (package missing or of the wrong version).

    Examples
    --------
    >>> issubclass(AssetError, StrukturbildError) and issubclass(AssetError, RuntimeError)
    True
    """


class OnlineAssetError(AssetError):
    """The page would load a script or stylesheet over the network.

    Examples
    --------
    >>> str(OnlineAssetError("1 online asset: https://x/y.js"))
    '1 online asset: https://x/y.js'
    """


class StrukturbildWarning(UserWarning):
    """Something in the input was accepted but deserves attention."""


# -- interruptions -------------------------------------------------------------------
# Python runs a signal handler between any two bytecodes, also inside a finalizer or a
# weakref callback, where the KeyboardInterrupt it raises is printed ("Exception
# ignored in: <function WeakKeyDictionary…remove>") and dropped: a SIGTERM sent while
# matplotlib wrote the PNG let the run go on, replace every output and exit 0 (3 in 10
# tries near the end of `build --format html,gpkg,png,pdf`). The command line's
# handlers note each signal here before raising, so that one whose exception was dropped
# still stops the run: OutputSet checks before it replaces any output, and the command
# line before it reports success.
_interrupts: list[int] = []


def note_interrupt(signum: int) -> None:
    """Note that the handler of signal ``signum`` (SIGINT, SIGTERM) has run.

    Examples
    --------
    >>> import signal
    >>> note_interrupt(signal.SIGINT); noted_interrupts()
    (<Signals.SIGINT: 2>,)
    >>> clear_interrupts(); noted_interrupts()
    ()
    """
    import signal

    _interrupts.append(signal.Signals(signum))


def noted_interrupts() -> tuple[int, ...]:
    """The signals noted by :func:`note_interrupt` and not yet cleared.

    Examples
    --------
    >>> noted_interrupts()
    ()
    """
    return tuple(_interrupts)


def clear_interrupts() -> None:
    """Forget the noted signals (the interruption has been reported).

    Examples
    --------
    >>> clear_interrupts(); noted_interrupts()
    ()
    """
    _interrupts.clear()


def raise_noted_interrupt() -> None:
    """Raise again for a noted signal whose exception was dropped; else do nothing.

    Calls the signal's handler as the program has it (the command line's raises
    ``KeyboardInterrupt``, its own kind for SIGTERM); ``KeyboardInterrupt`` where the
    handler does not raise.

    Examples
    --------
    >>> raise_noted_interrupt()
    >>> import signal
    >>> note_interrupt(signal.SIGINT)
    >>> try:
    ...     raise_noted_interrupt()
    ... except KeyboardInterrupt:
    ...     print("stopped")
    stopped
    >>> clear_interrupts()
    """
    if not _interrupts:
        return
    import signal

    signum = _interrupts[-1]
    handler = signal.getsignal(signum)
    if callable(handler):
        handler(signum, None)
    raise KeyboardInterrupt
