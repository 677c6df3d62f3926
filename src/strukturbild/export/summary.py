"""The JSON summary of a structure image: a thin writer over :meth:`StructureImage.to_json`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the writers take an image; they never import its module at run time
    from ..image import StructureImage

__all__ = ["write_summary"]


def write_summary(image: StructureImage, path: str | Path) -> Path:
    """Write the JSON summary (:meth:`StructureImage.summary`): :meth:`StructureImage.to_json`
    as a function.

    Kept, as :func:`~strukturbild.export.maps.write_html` is, for scripts that hand an
    image to writers; it only calls the method (one JSON encoding, one atomic write).

    Examples
    --------
    >>> import tempfile, pathlib, json
    >>> from strukturbild.sources.example import example_project
    >>> from strukturbild.pipeline import build
    >>> out = write_summary(build(example_project()), pathlib.Path(tempfile.mkdtemp()) / "s.json")
    >>> json.loads(out.read_text())["flows"]
    'modelled'
    """
    return image.to_json(path)
