"""Example data sets that ship inside the package, looked up by name.

As momepy's ``datasets``: :data:`available` names them, :func:`get_path` gives the
path of one's project file, which ``strukturbild build`` (or
:func:`strukturbild.load_project`) runs as is; its inputs lie beside it. In a
repository checkout the data live in ``geodata/<name>/``, and the wheel carries them as
``strukturbild/datasets/<name>/`` (``package-dir`` in ``pyproject.toml``), so an
installed package has them too.

Examples
--------
>>> from strukturbild import datasets
>>> datasets.available
('skane',)
>>> datasets.get_path("skane").name
'project.toml'
"""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError, InputFileNotFoundError

__all__ = ["available", "get_path"]

#: The names of the data sets that ship with the package.
available: tuple[str, ...] = ("skane",)


def get_path(name: str) -> Path:
    """The project file of the bundled data set ``name``.

    Parameters
    ----------
    name
        One of :data:`available`.

    Returns
    -------
    Path
        ``project.toml`` of the data set; its inputs lie in the same folder.

    Raises
    ------
    ConfigError
        ``name`` is not a data set of the package.
    InputFileNotFoundError
        The installation lacks the data (a broken install).

    Examples
    --------
    >>> get_path("skane").parent.name
    'skane'
    >>> get_path("halland")
    Traceback (most recent call last):
    ...
    strukturbild.errors.ConfigError: no data set 'halland'; the package has: skane
    """
    if name not in available:
        raise ConfigError(f"no data set {name!r}; the package has: {', '.join(available)}")
    # An installed wheel has the folder beside this module; an editable install or a
    # checkout has it in the repository's geodata/ (setuptools' editable finder does not
    # map a data folder nested in a regular package).
    here = Path(__file__).resolve().parent
    candidates = (here / name, here.parents[2] / "geodata" / name)
    path = next((c / "project.toml" for c in candidates if (c / "project.toml").is_file()),
                candidates[0] / "project.toml")
    if not path.is_file():
        raise InputFileNotFoundError(f"the data set {name!r} is missing from the installed "
                                     "package; reinstall strukturbild", source=path)
    return path
