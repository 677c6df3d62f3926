"""Map files (web and print): thin writers over :meth:`StructureImage.to_html` & co."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..config import MapOptions
    from ..image import StructureImage

__all__ = ["write_html"]


def write_html(image: StructureImage, path: str | Path, options: MapOptions | None = None,
               **changes: Any) -> Path:
    """Write the web map: :meth:`StructureImage.to_html` as a function.

    Kept beside :func:`~strukturbild.export.geopackage.write_geopackage` and
    :func:`~strukturbild.export.outputs.write_outputs` for scripts that hand an image
    to writers (and for 0.1's scripts); it only calls the method, so the two cannot
    drift apart.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from strukturbild.sources.example import example_project
    >>> from strukturbild.pipeline import build
    >>> out = write_html(build(example_project()), pathlib.Path(tempfile.mkdtemp()) / "m.html")
    >>> out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    True
    """
    return image.to_html(path, options, **changes)
