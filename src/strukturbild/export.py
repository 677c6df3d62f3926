"""Writers: the GeoPackage, the JSON summary and the map files. All atomic.

Each writer writes to a temporary file beside the target and renames it over the
target only when everything was written, so a failed export leaves the previous
file untouched and no partial file behind.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from .image import StructureImage
from .io import atomic_path

__all__ = [
    "GPKG_LAYERS",
    "geopackage_frames",
    "write_geopackage",
    "write_html",
    "write_summary",
]

#: Layers of the GeoPackage, in the order written.
GPKG_LAYERS = ("places", "links", "areas", "regions")
GPKG_CRS = "EPSG:3006"


def _plain_columns(frame: Any) -> Any:
    """Categoricals as text, object columns of text kept; index to a column."""
    out = frame.copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.CategoricalDtype):
            out[col] = out[col].astype(str)
    return out


def geopackage_frames(image: StructureImage) -> dict[str, Any]:
    """The layers as they are written: name → GeoDataFrame in EPSG:3006.

    ``places`` has ``place_id`` as its first column; ``areas`` ``area_id``;
    ``regions`` ``region_id``. Roles are text (the role key) with ``role_label``
    beside; ``modelled`` is a boolean.

    Examples
    --------
    >>> from strukturbild.datasets import example_project
    >>> from strukturbild.pipeline import build
    >>> sorted(geopackage_frames(build(example_project())))
    ['links', 'places']
    """
    frames: dict[str, Any] = {}
    places = _plain_columns(image.places).reset_index()
    frames["places"] = places.to_crs(GPKG_CRS)
    links = _plain_columns(image.links)
    links.insert(0, "link_id", range(1, len(links) + 1))
    frames["links"] = links.to_crs(GPKG_CRS)
    if image.areas is not None:
        frames["areas"] = _plain_columns(image.areas).reset_index().to_crs(GPKG_CRS)
    if image.regions is not None:
        regions = _plain_columns(image.regions).reset_index()
        regions = regions.rename(columns={regions.columns[0]: "region_id"})
        frames["regions"] = regions.to_crs(GPKG_CRS)
    return frames


def write_geopackage(image: StructureImage, path: str | Path) -> Path:
    """Write the structure image as a GeoPackage (layers places, links, areas, regions).

    Written atomically: to a temporary file that replaces ``path`` when complete.

    Examples
    --------
    >>> import tempfile, pathlib, pyogrio
    >>> from strukturbild.datasets import example_project
    >>> from strukturbild.pipeline import build
    >>> out = write_geopackage(build(example_project()),
    ...                        pathlib.Path(tempfile.mkdtemp()) / "s.gpkg")
    >>> [str(n) for n in pyogrio.list_layers(out)[:, 0]]
    ['places', 'links']
    """
    import pyogrio

    target = Path(path)
    frames = geopackage_frames(image)
    with atomic_path(target) as tmp:
        for name in GPKG_LAYERS:
            if name not in frames:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                pyogrio.write_dataframe(frames[name], tmp, layer=name, driver="GPKG",
                                        append=tmp.exists())
    return target


def write_summary(image: StructureImage, path: str | Path) -> Path:
    """Write the JSON summary (see :meth:`StructureImage.summary`) atomically.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from strukturbild.datasets import example_project
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


def write_html(image: StructureImage, path: str | Path, **options: Any) -> Path:
    """Write the web map (see :func:`strukturbild.render.web.web_map_html`) atomically.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from strukturbild.datasets import example_project
    >>> from strukturbild.pipeline import build
    >>> out = write_html(build(example_project()), pathlib.Path(tempfile.mkdtemp()) / "m.html")
    >>> out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    True
    """
    from .render.web import web_map_html

    page = web_map_html(image, **options)
    target = Path(path)
    with atomic_path(target) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return target
