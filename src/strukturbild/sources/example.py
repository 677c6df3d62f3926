"""The bundled example: Skåne's tätorter of 2 000+ inhabitants with Region Skåne's designations.

The example (``geodata/skane/``) holds SCB's statistical tätorter 2020 in Skåne with
at least 2 000 inhabitants and Region Skåne's designations; see its README.
"""

from __future__ import annotations

from pathlib import Path

from ..config import Project, load_project
from ..errors import InputFileNotFoundError

__all__ = ["example_dir", "example_project"]


def example_dir() -> Path:
    """The folder of the bundled Skåne example.

    Looked up in ``./geodata/skane`` (a checkout's working directory), then beside
    the package's source tree.

    Examples
    --------
    >>> (example_dir() / "project.toml").is_file()
    True
    """
    candidates = [
        Path.cwd() / "geodata" / "skane",
        Path(__file__).resolve().parents[3] / "geodata" / "skane",
    ]
    for c in candidates:
        if (c / "project.toml").is_file():
            return c
    raise InputFileNotFoundError(
        "the bundled example was not found; run from the repository root "
        "(it lives in geodata/skane/)",
        source=candidates[0],
    )


def example_project() -> Project:
    """The bundled Skåne example as a :class:`~strukturbild.config.Project`.

    Examples
    --------
    >>> example_project().name
    'skane'
    """
    return load_project(example_dir() / "project.toml")
