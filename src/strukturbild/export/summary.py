"""The JSON summary of a structure image, written atomically."""

from __future__ import annotations

import json
from pathlib import Path

from .._files import atomic_path
from ..image import StructureImage

__all__ = ["write_summary"]


def write_summary(image: StructureImage, path: str | Path) -> Path:
    """Write the JSON summary (see :meth:`StructureImage.summary`) atomically.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from strukturbild.sources.example import example_project
    >>> from strukturbild.pipeline import build
    >>> out = write_summary(build(example_project()), pathlib.Path(tempfile.mkdtemp()) / "s.json")
    >>> json.loads(out.read_text())["flows"]
    'modelled'
    """
    target = Path(path)
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(image.summary(), ensure_ascii=False, indent=2) + "\n",
                       encoding="utf-8")
    return target
