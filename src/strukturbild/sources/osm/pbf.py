"""A Geofabrik extract (``.osm.pbf``, or OSM XML ``.osm``) read with GDAL's OSM driver.

Why GDAL and not pyrosm: pyrosm decodes the whole file into memory before it filters
(the Sweden extract, about 700 MB, would need well over 10 GB), while GDAL's OSM
driver (through pyogrio, which every read of strukturbild already uses) streams the
file with a node index on disk, filters by a box and an attribute filter as it goes,
and reads ``.osm.pbf`` and OSM XML alike. The driver's configuration (which tags
become columns of its ``lines`` layer) is GDAL's own ``osmconf.ini`` with the
attributes of :mod:`.ways` added.
"""

from __future__ import annotations

import re
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import InputFileNotFoundError, InvalidValueError
from .ways import FERRY_ROUTES, LAYERS, RAILWAY_VALUES, ROAD_VALUES

__all__ = ["read_extract"]

Bbox = tuple[float, float, float, float]

#: The tags read from the extract's ways.
_TAGS = tuple(dict.fromkeys(["railway", "highway", "route", "service",
                             *(a for spec in LAYERS for a in spec.attributes)]))


def _config(folder: Path) -> Path:
    """GDAL's osmconf.ini with our tags as the ``lines`` layer's columns."""
    import pyogrio

    default = Path(pyogrio.get_gdal_data_path() or "") / "osmconf.ini"
    text = default.read_text(encoding="utf-8") if default.is_file() else "[lines]\nosm_id=yes\n"
    section = re.search(r"^\[lines\][^\[]*", text, flags=re.M)
    lines = "[lines]\nosm_id=yes\nattributes=" + ",".join(_TAGS) + "\n"
    text = text[:section.start()] + lines + text[section.end():] if section else text + lines
    path = folder / "osmconf.ini"
    path.write_text(text, encoding="utf-8")
    return path


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


def read_extract(path: str | Path, bbox: Bbox
                 ) -> tuple[list[int], list[dict[str, str]], list[np.ndarray[Any, Any]]]:
    """The ways of :mod:`.ways`' rule in ``bbox`` (degrees): ids, tags, lon/lat lines.

    Raises
    ------
    InputFileNotFoundError
        No such file.
    InvalidValueError
        GDAL cannot read it as OpenStreetMap data (the message names the file).

    Examples
    --------
    >>> read_extract("no-such.osm.pbf", (12.0, 55.0, 13.0, 56.0))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    strukturbild.errors.InputFileNotFoundError: no-such.osm.pbf: no such file ...
    """
    import pyogrio
    import shapely

    src = Path(path)
    if not src.is_file():
        raise InputFileNotFoundError("no such file (give a Geofabrik extract, e.g. "
                                     "sweden-latest.osm.pbf, with --pbf)", source=src)
    where = (f"(railway IN ({_quoted(RAILWAY_VALUES)}) AND service IS NULL) OR "
             f"highway IN ({_quoted(tuple(v + s for v in ROAD_VALUES for s in ('', '_link')))})"
             f" OR route IN ({_quoted(FERRY_ROUTES)})")
    with tempfile.TemporaryDirectory(prefix="strukturbild-osm-") as tmp:
        config = _config(Path(tmp))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # GDAL's notes on the file
                frame = pyogrio.read_dataframe(
                    src, layer="lines", bbox=bbox, where=where, columns=["osm_id", *_TAGS],
                    CONFIG_FILE=str(config), MAX_TMPFILE_SIZE="200")
        except Exception as exc:  # pyogrio's DataSourceError, DataLayerError, GDAL's words
            raise InvalidValueError(f"not OpenStreetMap data GDAL can read (a Geofabrik "
                                    f".osm.pbf extract or an .osm file): {exc}",
                                    source=src) from None
    frame = frame[frame.geometry.notna() & (frame.geom_type == "LineString")]
    ids = [int(v) for v in frame["osm_id"]]
    records = frame[list(_TAGS)].to_dict("records")
    tags = [{k: str(v) for k, v in r.items() if v is not None and v == v} for r in records]
    lines = [np.asarray(shapely.get_coordinates(g)) for g in frame.geometry]
    return ids, tags, lines
