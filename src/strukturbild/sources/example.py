"""The bundled example: Skåne's tätorter of 2 000+ inhabitants with Region Skåne's designations.

The example (``geodata/skane/`` in the repository, :mod:`strukturbild.datasets` in an
installed package) holds SCB's statistical tätorter 2020 in Skåne with at least
2 000 inhabitants and SCB's kommuner of Skåne; see its README.
"""

from __future__ import annotations

from pathlib import Path

from ..config import Project, load_project
from ..datasets import get_path

__all__ = ["example_dir", "example_project"]


def example_dir() -> Path:
    """The folder of the bundled Skåne example.

    Examples
    --------
    >>> (example_dir() / "project.toml").is_file()
    True
    """
    return get_path("skane").parent


def example_project() -> Project:
    """The bundled Skåne example as a :class:`~strukturbild.config.Project`.

    Examples
    --------
    >>> example_project().name
    'skane'
    """
    return load_project(get_path("skane"))
