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
]


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
        return prefix + self.message

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
    """A required column is missing from an input table."""


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
