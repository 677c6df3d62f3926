"""Map files (web and print): thin writers over :meth:`StructureImage.to_html` & co."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..config import MapOptions
    from ..image import StructureImage

__all__ = ["write_html", "write_static_map"]


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


def write_static_map(image: StructureImage, path: str | Path,
                     options: MapOptions | None = None, *,
                     size_mm: tuple[float, float] | None = None) -> Path:
    """Write the print map as PNG, PDF or SVG, the format from the file suffix.

    The map is drawn in memory (:meth:`StructureImage.render`) and written by the one
    writer every output goes through (:func:`~strukturbild.export.outputs.write_files`:
    a temporary file beside ``path`` renamed over it, under the output lock), so a
    failed run never leaves a half-written map.

    Raises
    ------
    ConfigError
        The suffix is not ``.png``, ``.pdf`` or ``.svg``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from strukturbild.sources.example import example_project
    >>> from strukturbild.pipeline import build
    >>> img = build(example_project())
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "skane.png"
    >>> write_static_map(img, out, img.options(dpi=72)).read_bytes()[:4]
    b'\\x89PNG'
    """
    from ..config import print_format
    from .outputs import write_files

    target = Path(path)
    data = image.render(print_format(target), options, size_mm=size_mm)
    return write_files({target: data})[0]
