"""All outputs or none: every requested format rendered first, then committed together.

:func:`write_outputs` is what ``strukturbild build`` and ``demo`` run. It checks that
no output is an input or another output (symlinks and ``..`` resolved), locks every
output against concurrent runs, renders every format into a temporary file beside
its target, and only when all succeeded renames them over the previous files, with
SIGINT and SIGTERM held back while it does (:class:`strukturbild._files.OutputSet`).
A failure or an interruption at any point before that leaves the previous set of
outputs as it was, and no temporary file behind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from .._files import OutputSet
from ..config import Format, Project
from .geopackage import stage_geopackage

if TYPE_CHECKING:  # image.py imports this module (lazily): no import back at run time
    from ..image import StructureImage

__all__ = ["write_files", "write_outputs"]


def write_files(contents: Mapping[Path, bytes], *, inputs: Iterable[str | Path] = ()
                ) -> list[Path]:
    """Write several files all or none (see :class:`~strukturbild._files.OutputSet`).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> [p.name for p in write_files({d / "a.txt": b"A", d / "b.txt": b"B"})]
    ['a.txt', 'b.txt']
    """
    targets = [Path(p) for p in contents]
    with OutputSet(targets, inputs=inputs) as out:
        for target, data in contents.items():
            out.stage(target).write_bytes(data)
    return targets


def write_outputs(
    image: StructureImage,
    project: Project,
    *,
    gpkg_mode: Literal["overwrite", "append", "fail"] = "overwrite",
    progress: Callable[[str], None] | None = None,
) -> dict[Format, Path]:
    """Write every format the project asks for (of :data:`~strukturbild.config.FORMATS`),
    all or none; return format → path.

    Maps (html, png, pdf, svg) go to ``export.map_dir`` (default: ``export.out_dir``),
    the GeoPackage and the JSON summary to ``export.out_dir``. ``gpkg_mode`` is
    ``"overwrite"`` (default), ``"append"`` (add the layers to an existing
    GeoPackage) or ``"fail"`` (refuse to replace one).

    Raises
    ------
    OutputConflictError
        An output is one of the project's inputs, or two outputs are the same file.
    OutputLockedError
        Another run is writing one of the outputs, or another program (QGIS) has the
        GeoPackage open.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from strukturbild import build, example_project
    >>> p = example_project()
    >>> p = p.with_export(out_dir=pathlib.Path(tempfile.mkdtemp()), formats=("json",))
    >>> sorted(write_outputs(build(p), p))
    ['json']
    """
    say = progress or (lambda _m: None)
    targets = project.output_paths()
    with OutputSet(targets.values(), inputs=project.input_paths()) as out:
        # the GeoPackage first: it is the one that may refuse (--no-overwrite, --append)
        for fmt in sorted(targets, key=lambda f: f != "gpkg"):
            target = targets[fmt]
            if fmt == "gpkg":
                held = out.hold(target) if gpkg_mode == "append" else None
                stage_geopackage(image, target, out.stage(target), mode=gpkg_mode, held=held)
            else:
                out.stage(target).write_bytes(image.render(fmt))
            say(f"made {fmt}")
    try:
        for target in targets.values():
            say(f"wrote {target}")
    except KeyboardInterrupt as exc:  # after the commit: the outputs are the new ones
        exc.committed = True  # type: ignore[attr-defined]
        raise
    return dict(targets)
