"""The GeoPackage writer. Atomic.

The writer writes to a temporary file beside the target and renames it over the
target only when everything was written, so a failed export leaves the previous
file untouched and no partial file behind.

The GeoPackage
--------------
:func:`write_geopackage` writes one layer per frame of the structure image, in
EPSG:3006 (SWEREF 99 TM, metres), and makes the file describe and style itself:

- **Styles.** Every layer has a QGIS style (QML) in the ``layer_styles`` table,
  named ``strukturbild`` and marked as the default, so that QGIS opens each layer
  drawn like the web map (see :mod:`strukturbild.render.qml`). The table has the
  schema QGIS itself creates, ``f_table_schema`` is ``''`` (QGIS ignores rows where
  it is NULL), ``f_geometry_column`` is the layer's geometry column, and the table
  is registered in ``gpkg_contents`` as ``attributes``.
- **Metadata.** ``gpkg_contents`` gives every layer an ``identifier`` (a title) and
  a ``description`` (what it holds, whether the flows were observed or modelled,
  the CRS, the sources). The metadata extension (``gpkg_metadata``,
  ``gpkg_metadata_reference``) holds one JSON record per write
  (``md_standard_uri = 'urn:strukturbild:provenance'``, ``application/json``: the
  image's provenance, inputs and their licences, parameters, package version, CRS,
  flows observed or modelled) referenced to the whole file and to each layer it
  wrote, and per layer the QGIS layer metadata (QMD, ``http://mrcc.com/qgis.dtd``)
  that QGIS shows on the layer's *Metadata* page.
- **Time stamps** (``gpkg_contents.last_change``, ``layer_styles.update_time``,
  ``gpkg_metadata_reference.timestamp``) come from ``timestamp``, else from
  ``image.provenance["created"]``, else are the fixed ``1970-01-01T00:00:00.000Z``:
  the same image gives the same bytes, so outputs can be diffed.
- **Modes.** ``mode="overwrite"`` (the default, as ``geopandas.to_file`` and the
  command line) replaces the whole file; ``"fail"`` refuses to touch an existing
  file (:class:`OutputExistsError`); ``"append"`` adds the layers to an existing
  GeoPackage, creating the ones it lacks and appending features to the ones it
  has, after checking that each existing layer is in EPSG:3006 (GDAL would
  silently store coordinates of another CRS as if they were in the layer's), has
  the same columns of the same kinds and geometry type, and holds none of the new
  ids. ``link_id`` continues the layer's numbering. Other layers of the file are
  kept, but the file must be of the layout GDAL and this writer make: a trigger, view,
  index or table of another layout is refused before anything runs (see
  :func:`_check_schema`). Every mode is atomic: the work is done on a copy that
  replaces the file only when complete.
- **Another program.** An existing file is locked through SQLite before it is read
  for appending or replaced, and refused while another program (QGIS) has it open:
  see :class:`strukturbild._files.OutputSet`. The writer's own SQL runs with a time
  limit that Ctrl-C also reaches (:data:`SQL_SECONDS`).
- **Version.** GeoPackage 1.2 unless asked otherwise: GDAL 3.6 and QGIS 3.22 LTR
  read it without a warning (see :func:`write_geopackage`).

Layers and columns
------------------
Names are lower-case ASCII (``[a-z][a-z0-9_]*``) and stable; every layer has the
GeoPackage's ``fid`` (integer primary key, not stable between files) and the
geometry column ``geom``. Optional columns are written when the image has them.

| layer   | column               | type         | meaning |
| ------- | -------------------- | ------------ | --- |
| places  | geom                 | Point        | the place (MultiPolygon for polygon places) |
| places  | place_id             | text         | place id (SCB tätort code), unique |
| places  | name                 | text         | name |
| places  | area_id              | text         | kommun code (4 characters) |
| places  | area_name            | text         | kommun name (optional) |
| places  | population           | integer      | inhabitants |
| places  | jobs                 | real         | working-day population (jobs) |
| places  | employed             | real         | employed residents |
| places  | employed_estimated   | boolean      | `employed` is population × employment rate |
| places  | population_prev      | real         | population of the earlier year (optional) |
| places  | jobs_prev            | real         | jobs of the earlier year (optional) |
| places  | area_ha              | real         | area in hectares (optional) |
| places  | job_ratio            | real         | jobs / employed residents |
| places  | job_share            | real         | share of all the places' jobs |
| places  | net_commuting        | real         | in-commuters minus out-commuters |
| places  | inflow_sources       | integer      | places sending commuters here (observed flows) |
| places  | inflow_share         | real         | share of all commuting between places received |
| places  | population_growth    | real         | relative change since the earlier year |
| places  | rank_in_area         | integer      | 1 = largest place of its kommun |
| places  | region               | text         | id of the functional region (optional) |
| places  | regions              | text         | all its commuting zones, primary first (opt.) |
| places  | scb_step             | integer      | SCB's LA step code, 11 for a centre (optional) |
| places  | rank_in_region       | integer      | 1 = largest place of its region (optional) |
| places  | role                 | text         | role key, e.g. `storstad` (styled by this) |
| places  | role_label           | text         | role in the image's language |
| places  | role_reason          | text         | why the place has its role |
| places  | role_derived         | text         | role from the rules alone (before designations) |
| places  | role_designated      | text         | role a designation pinned (empty for none) |
| places  | designations         | text         | official designations, `; `-separated |
| places  | designation_group    | text         | joint designation of the place (optional) |
| places  | modelled             | boolean      | true when the links come from modelled flows |
| links   | geom                 | LineString   | straight line between the two places |
| links   | link_id              | integer      | 1, 2, … by total flow; unique in the layer |
| links   | origin               | text         | place id sending the larger flow |
| links   | destination          | text         | the other place id |
| links   | flow_od              | real         | commuters origin → destination per day |
| links   | flow_do              | real         | commuters destination → origin per day |
| links   | total                | real         | flow_od + flow_do (styles the width) |
| links   | share_of_origin      | real         | flow_od / employed residents of the origin |
| links   | share_of_destination | real         | flow_od / jobs of the destination |
| links   | strength             | real         | symmetric strength of the pair |
| links   | link_class           | text         | `strong`, `medium` or `weak` (styled by this) |
| links   | regional             | boolean      | between the region's higher roles (styled by) |
| links   | axis                 | boolean      | weak regional link, a place's largest outflow |
| links   | modelled             | boolean      | true when the flow is modelled, not observed |
| strak   | geom                 | LineString   | a section of a stråk, in one width class |
| strak   | strak_id             | integer      | the stråk, 1 = the busiest (its largest flow) |
| strak   | name                 | text         | its labelled places, e.g. `Malmö–Åkarp–Lund` |
| strak   | section              | integer      | 1, 2, … along the stråk |
| strak   | flow                 | real         | commuters a day on it, both ways (width) |
| strak   | width_class          | integer      | 1 = the thinnest band |
| strak   | class_min            | real         | the width class's lowest flow |
| strak   | class_max            | real         | the next class's lowest (empty: widest) |
| strak   | strak_flow           | real         | the largest flow on the stråk |
| strak   | strak_flow_mean      | real         | the stråk's flow averaged over its length |
| strak   | length_km            | real         | the stråk's length |
| strak   | places               | text         | its places' ids in order, `; `-separated |
| strak   | place_names          | text         | their names, `; `-separated |
| strak   | network              | text         | `infrastructure` or `generated` |
| strak   | modelled             | boolean      | true when the flows are modelled, not observed |
| areas   | geom                 | MultiPolygon | the kommun |
| areas   | area_id              | text         | kommun code, unique |
| areas   | name                 | text         | kommun name |
| regions | geom                 | MultiPolygon | the region |
| regions | region_id            | text         | region id, unique |
| regions | name                 | text         | name (its largest unit) |
| regions | residents            | real         | employed residents |
| regions | jobs                 | real         | jobs |
| regions | sc_supply            | real         | supply-side self-containment |
| regions | sc_demand            | real         | demand-side self-containment |
| regions | validity             | real         | LMA validity (missing for other methods) |
| regions | n_units              | integer      | number of member units |
| regions | method               | text         | delineation method |
| joint_designations | geom      | LineString   | the band joining places designated as one |
| joint_designations | name      | text         | its name, e.g. `Kristianstad–Hässleholm` |
| joint_designations | role      | text         | the role it gives its places |
| joint_designations | role_label | text        | the role in the image's language |
| joint_designations | places    | text         | its place ids, `; `-separated |
| base    | geom                 | MultiPolygon | land beside the areas (neighbours, Sweden) |
| base    | part                 | text         | `neighbour` or `sweden` |
| base    | iso_a3               | text         | the country (ISO 3166-1 alpha-3) |
| base    | name                 | text         | the country's name in the image's language |
| context | geom                 | Point        | a place beyond the project, grey, without role |
| context | name                 | text         | its name in the image's language (Köpenhamn) |
| context | iso_a3               | text         | the country (ISO 3166-1 alpha-3) |
| context | population           | integer      | inhabitants (GeoNames, or the places file) |
| context | source               | text         | `GeoNames` (CC BY 4.0) or `places` (places file) |
| ferries | geom                 | LineString   | a ferry line, schematic, between its ports |
| ferries | name                 | text         | its name in the image's language |
| ferries | operator             | text         | who runs it |
| layer_… | geom                 | any          | an own layer (`[[layers]]`), as given |
| layer_… | …                    | …            | its attributes, names made lower-case ASCII |

Other columns of the image's frames are written after these, under their own
names. Integer columns with missing values read back as floats in pandas.

Own layers are named ``layer_`` and their name in lower-case ASCII (``Stråk`` →
``layer_strak``); a layer that mixes points, lines and polygons is written as one
layer per kind (``layer_strak_lines``, …). The ``base`` layer is the land the maps
draw under the areas (Natural Earth, public domain); appending keeps the file's own,
as it keeps its ``context`` and ``ferries``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import os
import re
import sqlite3
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from .._files import OutputSet
from .._sqlite import guarded
from ..config import MapOptions
from ..errors import (
    CRSError,
    DuplicateIdError,
    InvalidValueError,
    OutputExistsError,
    TimeLimitError,
)
from ..render._scene import Scene, link_style_table, scene_of
from ..render.qml import (
    GeometryKind,
    LayerMetadata,
    SizeUnit,
    areas_qml,
    base_qml,
    joint_qml,
    layer_metadata_qmd,
    layer_qml,
    links_qml,
    places_qml,
    regions_qml,
    strak_qml,
)
from ..render.style import CONTEXT_DOT, FERRY_STYLE, TEXT, chain, role_styles, text

if TYPE_CHECKING:  # image.py imports this module (lazily): no import back at run time
    import geopandas as gpd

    from ..image import StructureImage

__all__ = [
    "GPKG_CRS",
    "GPKG_LAYERS",
    "STYLE_NAME",
    "OutputExistsError",
    "WriteMode",
    "geopackage_frames",
    "stage_geopackage",
    "write_geopackage",
]

#: Layers of the GeoPackage, in the order written (own layers, ``layer_…``, follow).
GPKG_LAYERS = ("places", "links", "strak", "areas", "regions", "joint_designations", "base",
               "context", "ferries")
#: The CRS of every layer.
GPKG_CRS = "EPSG:3006"
#: Name of the styles written to ``layer_styles``.
STYLE_NAME = "strukturbild"
#: ``overwrite`` replaces the file, ``append`` adds to it, ``fail`` refuses an existing file.
WriteMode = Literal["overwrite", "append", "fail"]

_MODES = ("overwrite", "append", "fail")
_PROVENANCE_URI = "urn:strukturbild:provenance"
_QGIS_URI = "http://mrcc.com/qgis.dtd"
_EPOCH = "1970-01-01T00:00:00.000Z"
_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
_RESERVED = frozenset({"fid", "geom", "geometry"})
_METADATA_EXTENSION = "http://www.geopackage.org/spec120/#extension_metadata"
#: Time limit of each block of the writer's own SQLite work (checking, copying and
#: finishing an appended file; styles and metadata): seconds for a planning GeoPackage.
SQL_SECONDS = 120.0

#: Id column of each layer (own layers and the base have none).
_KEYS = {"places": "place_id", "links": "link_id", "areas": "area_id", "regions": "region_id",
         "joint_designations": "name"}
#: Documented columns of each layer, in the order written (see the module docstring).
_COLUMNS: dict[str, tuple[str, ...]] = {
    "places": ("place_id", "name", "area_id", "area_name", "population", "jobs", "employed",
               "employed_estimated", "population_prev", "jobs_prev", "area_ha", "job_ratio",
               "net_commuting", "inflow_sources", "inflow_share", "population_growth",
               "rank_in_area", "region", "rank_in_region", "role", "role_label", "role_reason",
               "role_derived", "designations", "modelled"),
    "links": ("link_id", "origin", "destination", "flow_od", "flow_do", "total",
              "share_of_origin", "share_of_destination", "strength", "link_class",
              "modelled"),
    "areas": ("area_id", "name"),
    "regions": ("region_id", "name", "residents", "jobs", "sc_supply", "sc_demand",
                "validity", "n_units", "method"),
}
#: Columns that hold whole numbers; written as integers when every value is whole.
_INTEGER_COLUMNS = frozenset({"population", "inflow_sources", "rank_in_area",
                              "rank_in_region", "n_units", "link_id"})

# --------------------------------------------------------------------------- frames


def _column_values(col: pd.Series) -> pd.Series:
    """One column as it is written: plain text, numbers, booleans or dates."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        return col.astype(object).where(col.notna(), None)
    if col.dtype != object:
        if col.name in _INTEGER_COLUMNS and col.dtype.kind == "f":
            values = col.to_numpy(dtype=float)
            finite = values[~np.isnan(values)]
            if np.all(finite == np.round(finite)):
                return col.astype("Int64")
        return col
    present = col.dropna()
    if len(present) and all(isinstance(v, bool | np.bool_) for v in present):
        return col.astype("boolean")
    if any(isinstance(v, list | tuple | set | dict) for v in present):
        return col.map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v))
                       else json.dumps(sorted(v) if isinstance(v, set) else v,
                                       ensure_ascii=False, default=str))
    return col


def _layer_frame(frame: gpd.GeoDataFrame, name: str, index_name: str) -> gpd.GeoDataFrame:
    """The layer ``name`` as written: id column first, documented columns in order."""
    import geopandas as gpd

    if not isinstance(frame, gpd.GeoDataFrame):
        raise InvalidValueError(f"the {name} of the image are not a GeoDataFrame", layer=name)
    if frame.crs is None:
        raise CRSError(f"the {name} of the image have no CRS; set it before writing",
                       layer=name)
    out = frame.reset_index() if index_name else frame.reset_index(drop=True)
    if index_name:
        first = str(out.columns[0])
        if first != index_name:
            out = out.rename(columns={first: index_name})
    geometry = out.geometry.name
    order = [c for c in _COLUMNS.get(name, ()) if c in out.columns]
    rest = [str(c) for c in out.columns if c not in order and c != geometry]
    for col in rest:
        if not _NAME.fullmatch(col) or col in _RESERVED:
            raise InvalidValueError(
                f"column name {col!r} cannot be written: names must be lower-case ASCII "
                "letters, digits and '_', start with a letter, at most 63 characters, and not "
                f"one of {', '.join(sorted(_RESERVED))}", layer=name, column=col)
    data = {c: _column_values(out[c]) for c in order + rest}
    result = gpd.GeoDataFrame(data, geometry=out.geometry.to_numpy(), crs=out.crs,
                              index=pd.RangeIndex(len(out))).to_crs(GPKG_CRS)
    return _promote(result, _geometry_type(result, name))


def _promote(frame: gpd.GeoDataFrame, geometry_type: str) -> gpd.GeoDataFrame:
    """Single parts as multi-part geometries when the layer is multi-part, as GDAL stores them."""
    import shapely

    def multi(geom: Any) -> Any:
        if geometry_type == "MultiPolygon" and isinstance(geom, shapely.Polygon):
            return shapely.MultiPolygon([geom])
        if geometry_type == "MultiLineString" and isinstance(geom, shapely.LineString):
            return shapely.MultiLineString([geom])
        if geometry_type == "MultiPoint" and isinstance(geom, shapely.Point):
            return shapely.MultiPoint([geom])
        return geom

    if not geometry_type.startswith("Multi"):
        return frame
    geoms = [multi(g) for g in frame.geometry.to_numpy()]
    return frame.set_geometry(type(frame.geometry)(geoms, index=frame.index, crs=frame.crs))


def geopackage_frames(image: StructureImage) -> dict[str, Any]:
    """The layers as they are written: name → GeoDataFrame in EPSG:3006.

    ``places`` has ``place_id`` as its first column; ``links`` ``link_id`` (1, 2, …),
    ``regional`` and ``axis`` (the image's link scopes, as the maps draw them; false
    where the image has none); ``areas`` ``area_id``; ``regions``
    ``region_id``; the documented columns follow in a fixed order (see the module
    docstring), other columns after them. Roles are text (the role key) with
    ``role_label`` beside; ``modelled`` is a boolean. Then ``joint_designations``,
    ``base`` and the own layers (``layer_…``) when the image has them.

    Examples
    --------
    >>> from strukturbild.sources.example import example_project
    >>> from strukturbild.pipeline import build
    >>> frames = geopackage_frames(build(example_project()))
    >>> sorted(frames), list(frames["links"].columns[:3])
    (['areas', 'base', 'context', 'ferries', 'joint_designations', 'links', 'places', \
'strak'], ['link_id', 'origin', 'destination'])
    """
    frames: dict[str, Any] = {"places": _layer_frame(image.places, "places", "place_id")}
    links = image.links.copy()
    links.insert(0, "link_id", np.arange(1, len(links) + 1, dtype=np.int64))
    if len(links):  # the link scopes (analysis.links.link_scopes), always both columns
        for col in ("regional", "axis"):
            links[col] = links[col].fillna(False).astype(bool) if col in links else False
    frames["links"] = _layer_frame(links, "links", "")
    if image.strak is not None and len(image.strak):
        frames["strak"] = _layer_frame(image.strak, "strak", "")
    if image.areas is not None:
        frames["areas"] = _layer_frame(image.areas, "areas", "area_id")
    if image.regions is not None:
        frames["regions"] = _layer_frame(image.regions, "regions", "region_id")
    joint = _joint_frame(image)
    if joint is not None:
        frames["joint_designations"] = _layer_frame(joint, "joint_designations", "")
    if image.base is not None and (image.base["kind"] == "land").any():
        land = image.base[image.base["kind"] == "land"]
        base = land[["part", "iso_a3"]].assign(
            name=land[f"name_{image.language}"]).set_geometry(land.geometry)
        frames["base"] = _layer_frame(base.reset_index(drop=True), "base", "")
    for name, extra in _context_frames(image):
        frames[name] = extra
    for name, frame in _own_frames(image):
        frames[name] = frame
    return frames


def _context_frames(image: StructureImage) -> list[tuple[str, Any]]:
    """``context`` (places beyond the project) and ``ferries``, when the image has them."""
    out = []
    name = f"name_{image.language}"
    if image.context is not None and len(image.context):
        ctx = image.context
        frame = ctx[["iso_a3", "population", "source"]].assign(name=ctx[name])
        out.append(("context", _layer_frame(frame[["name", "iso_a3", "population", "source"]]
                                            .set_geometry(ctx.geometry), "context", "")))
    if image.ferries is not None and len(image.ferries):
        f = image.ferries
        frame = f[["operator"]].assign(name=f[name])[["name", "operator"]]
        out.append(("ferries", _layer_frame(frame.set_geometry(f.geometry), "ferries", "")))
    return out


def _joint_frame(image: StructureImage) -> Any:
    """The joint designations as lines joining their places, or None."""
    import geopandas as gpd
    import shapely

    places = image.places
    if "designation_group" not in places or places["designation_group"].isna().all():
        return None
    rows = []
    members = places[places["designation_group"].notna()]
    for group, grp in members.groupby("designation_group", sort=True):
        pts = grp.geometry.where(grp.geom_type == "Point", grp.geometry.representative_point())
        xy = np.column_stack([pts.x, pts.y])
        path = xy[chain(xy)] if len(xy) > 1 else np.vstack([xy, xy])
        rows.append({"name": str(group), "role": str(grp["role"].iloc[0]),
                     "role_label": str(grp["role_label"].iloc[0]) if "role_label" in grp
                     else str(grp["role"].iloc[0]),
                     "places": "; ".join(str(i) for i in grp.index),
                     "geometry": shapely.LineString(path)})
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=places.crs)


def _slug(text_: str) -> str:
    """Lower-case ASCII for a layer or column name: "Stråk A" → "strak_a"."""
    import unicodedata

    plain = unicodedata.normalize("NFKD", text_).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"_+", "_", re.sub(r"[^a-z0-9]", "_", plain.lower())).strip("_")


def _own_frames(image: StructureImage) -> list[tuple[str, Any]]:
    """The own layers as written: ``layer_<name>``, split by kind of geometry if mixed."""
    out: list[tuple[str, Any]] = []
    taken = set(GPKG_LAYERS)
    for layer in image.layers:
        base = f"layer_{_slug(layer.name) or 'own'}"[:55]
        frame = layer.frame.copy()
        columns: dict[str, str] = {}
        for col in frame.columns:
            if col == frame.geometry.name:
                continue
            new = _slug(str(col)) or "column"
            if not new[0].isalpha():
                new = f"c_{new}"
            new = new[:60]
            while new in _RESERVED or new in columns.values():
                new = f"{new}_"
            columns[str(col)] = new
        frame = frame.rename(columns=columns)
        families = frame.geom_type.map(lambda t: "polygons" if "Polygon" in str(t) else
                                       "lines" if "Line" in str(t) else "points")
        kinds = sorted(set(families))
        for kind in kinds:
            name = base if len(kinds) == 1 else f"{base}_{kind}"
            stem, n = name, 2
            while name in taken:
                name, n = f"{stem}_{n}", n + 1
            taken.add(name)
            part = frame[(families == kind).to_numpy()].reset_index(drop=True)
            written = _layer_frame(part, name, "")
            written.attrs["own"] = {"name": layer.name, "kind": layer.kind, "file": layer.file,
                                    "style": dict(layer.style), "family": kind,
                                    "split": len(kinds) > 1}
            out.append((name, written))
    return out


def _geometry_type(frame: gpd.GeoDataFrame, name: str) -> str:
    """The layer's geometry type: one type per layer, polygons always multi."""
    kinds = set(frame.geom_type.dropna().unique())
    if name in ("areas", "regions", "base"):
        allowed, single = {"Polygon", "MultiPolygon"}, "MultiPolygon"
    elif name == "links" or name == "joint_designations" or (
            kinds and kinds <= {"LineString", "MultiLineString"}):
        allowed, single = {"LineString", "MultiLineString"}, "LineString"
    elif kinds <= {"Point"}:
        return "Point"
    elif kinds <= {"Point", "MultiPoint"}:
        return "MultiPoint"
    else:
        allowed, single = {"Polygon", "MultiPolygon"}, "MultiPolygon"
    if not kinds <= allowed:
        raise InvalidValueError(
            f"the {name} mix geometry types ({', '.join(sorted(kinds))}); a GeoPackage layer "
            "holds one", layer=name)
    if "MultiLineString" in kinds:
        return "MultiLineString"
    return single


# --------------------------------------------------------------------------- time stamps


def _timestamp(image: StructureImage, timestamp: str | dt.datetime | None) -> str:
    """The time stamp written everywhere, as GeoPackage wants it (UTC, milliseconds)."""
    value: Any = timestamp if timestamp is not None else image.provenance.get("created")
    if value is None:
        return _EPOCH
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidValueError(f"time stamp {value!r} is not ISO 8601") from None
    if not isinstance(value, dt.datetime):
        raise InvalidValueError(f"time stamp {value!r} is not a date and time")
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    stamp: str = value.strftime("%Y-%m-%dT%H:%M:%S.")
    return f"{stamp}{value.microsecond // 1000:03d}Z"


# --------------------------------------------------------------------------- texts


def _sources(image: StructureImage) -> list[dict[str, Any]]:
    """The inputs of the provenance, each with its licence when the provenance names one."""
    inputs = image.provenance.get("inputs") or {}
    out = []
    for key, info in inputs.items():
        entry = {"input": str(key)}
        if isinstance(info, Mapping):
            entry.update({str(k): v for k, v in info.items()})
            lic = info.get("licence", info.get("license"))
            if lic is not None:
                entry["licence"] = lic
                entry.pop("license", None)
        else:
            entry["file"] = str(info)
        out.append(entry)
    return out


def _sources_text(image: StructureImage, source_note: str) -> str:
    lang = image.language
    parts = []
    for s in _sources(image):
        lic = s.get("licence") or text("gpkg_licence_unknown", lang)
        parts.append(f"{s['input']}: {s.get('file', '?')} ({lic})")
    text_ = "; ".join(parts)
    if source_note:
        text_ = f"{text_}. {source_note}" if text_ else source_note
    return text_


def _layer_text(image: StructureImage, name: str, own: Mapping[str, Any] | None = None
                ) -> str:
    """What a layer holds, in the image's language (``own``: an own layer's attrs)."""
    lang = image.language
    if own:
        return f"{own['name']}. " + text("gpkg_layer", lang).format(
            kind=own["kind"], file=own.get("file") or "?")
    key = {"joint_designations": "gpkg_joint"}.get(name, f"gpkg_{name}")
    return text(key, lang) if key in TEXT else name


def _description(image: StructureImage, name: str, source_note: str,
                 own: Mapping[str, Any] | None = None) -> str:
    lang = image.language
    version = image.provenance.get("version", "")
    parts = [_layer_text(image, name, own),
             text("gpkg_flows_modelled" if image.modelled else "gpkg_flows_observed", lang),
             text("gpkg_crs", lang)]
    sources = _sources_text(image, source_note)
    if sources:
        parts.append(f"{text('gpkg_sources', lang)}: {sources.rstrip('.')}.")
    parts.append(f"{text('gpkg_made_with', lang)} {version}".rstrip() + ".")
    return " ".join(parts)


def _identifier(image: StructureImage, name: str, own: Mapping[str, Any] | None = None
                ) -> str:
    lang = image.language
    if own:
        split = own.get("split")
        return f"{image.title}: {own['name']}" + (f" ({own['family']})" if split else "")
    labels = {"joint_designations": text("joint_member", lang), "base": text("land", lang)}
    return f"{image.title}: {labels.get(name) or text(name, lang)}"


def _run_record(image: StructureImage, frames: Mapping[str, Any], timestamp: str,
                source_note: str, mode: str) -> str:
    """The JSON record of one write: what, from what, how, when."""
    prov = dict(image.provenance)
    record = {
        "generator": "strukturbild",
        "version": prov.get("version", ""),
        "name": image.name,
        "title": image.title,
        "language": image.language,
        "created": timestamp,
        "mode": mode,
        "crs": GPKG_CRS,
        "flows": "modelled" if image.modelled else "observed",
        "modelled": bool(image.modelled),
        "layers": {name: len(frame) for name, frame in frames.items()},
        "sources": _sources(image),
        "source_note": source_note,
        "provenance": prov,
    }
    return json.dumps(record, ensure_ascii=False, indent=2, default=str)


# --------------------------------------------------------------------------- styles


def _role_styles(scene: Scene, existing: Sequence[tuple[str, str]] = ()) -> list[Any]:
    """The scene's role styles, then roles found only in the file (appending)."""
    pairs = [(s.key, s.label) for s in scene.styles]
    known = {k for k, _ in pairs}
    pairs += [(k, label) for k, label in existing if k not in known]
    return role_styles(pairs, labelled=scene.labelled)


def _link_categories(con: sqlite3.Connection) -> set[str]:
    """The categories (``regional_strong`` …) of the links in the file, as QGIS draws
    them (:data:`~strukturbild.render.qml.LINK_CATEGORY_EXPRESSION`), appended ones too."""
    columns = {r[1] for r in con.execute('PRAGMA table_info("links")')}
    if not {"link_class", "regional", "axis"} <= columns:
        return {f"local_{c}" for (c,) in con.execute(
            'SELECT DISTINCT "link_class" FROM "links"')} if "link_class" in columns else set()
    rows = con.execute('SELECT DISTINCT "link_class", coalesce("regional", 0), '
                       'coalesce("axis", 0) FROM "links"').fetchall()
    return {("regional" if regional and (cls != "weak" or axis) else "local") + f"_{cls}"
            for cls, regional, axis in rows}


def _style_qml(scene: Scene, name: str, frame: gpd.GeoDataFrame, *, unit: SizeUnit,
               existing_roles: Sequence[tuple[str, str]], links: set[str]) -> str:
    """The QGIS style of a layer, drawn from the scene (``links``: the file's link
    categories)."""
    if name == "places":
        geometry: GeometryKind = "point" if "Point" in _geometry_type(frame, name) \
            else "polygon"
        return places_qml(_role_styles(scene, existing_roles), geometry=geometry, unit=unit)
    if name == "links":
        styles = [s for s in link_style_table(scene.language) if s.category in links]
        return links_qml(styles, weak_links=scene.options.weak_links, unit=unit)
    if name == "strak":
        return strak_qml(scene.strak_classes, unit=unit)
    if name == "areas":
        return areas_qml(unit=unit)
    if name == "regions":
        return regions_qml(unit=unit)
    if name == "base":
        return base_qml(unit=unit)
    if name == "context":
        return layer_qml({"colour": CONTEXT_DOT, "width": 3.5, "fill": CONTEXT_DOT,
                          "opacity": 0.95}, "points", unit=unit)
    if name == "ferries":
        colour, width, dash, opacity = FERRY_STYLE
        return layer_qml({"colour": colour, "width": width, "dash": dash, "fill": "none",
                          "opacity": opacity}, "lines", unit=unit)
    if name == "joint_designations":
        return joint_qml(_role_styles(scene, existing_roles), unit=unit)
    own = frame.attrs.get("own", {})
    return layer_qml(own.get("style", {}), own.get("family", "lines"), unit=unit)


# --------------------------------------------------------------------------- SQL


# The layer_styles table exactly as QGIS creates it (QgsOgrProviderMetadata::saveStyle,
# through GDAL): QGIS looks styles up by f_table_schema = '' AND f_table_name AND
# f_geometry_column.
_LAYER_STYLES_DDL = (
    'CREATE TABLE "layer_styles" ( "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, '
    '"f_table_catalog" TEXT(256), "f_table_schema" TEXT(256), "f_table_name" TEXT(256), '
    '"f_geometry_column" TEXT(256), "styleName" TEXT(30), "styleQML" TEXT, "styleSLD" TEXT, '
    '"useAsDefault" BOOLEAN, "description" TEXT, "owner" TEXT(30), "ui" TEXT(30), '
    "\"update_time\" DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))"
)
# The metadata extension's tables as GDAL creates them (GeoPackage 1.2+ tables 2.4.2/2.4.3).
_METADATA_DDL = (
    "CREATE TABLE gpkg_metadata (id INTEGER CONSTRAINT m_pk PRIMARY KEY ASC NOT NULL,"
    "md_scope TEXT NOT NULL DEFAULT 'dataset',md_standard_uri TEXT NOT NULL,"
    "mime_type TEXT NOT NULL DEFAULT 'text/xml',metadata TEXT NOT NULL DEFAULT '')",
    "CREATE TABLE gpkg_metadata_reference (reference_scope TEXT NOT NULL,table_name TEXT,"
    "column_name TEXT,row_id_value INTEGER,timestamp DATETIME NOT NULL DEFAULT "
    "(strftime('%Y-%m-%dT%H:%M:%fZ','now')),md_file_id INTEGER NOT NULL,md_parent_id INTEGER,"
    "CONSTRAINT crmr_mfi_fk FOREIGN KEY (md_file_id) REFERENCES gpkg_metadata(id),"
    "CONSTRAINT crmr_mpi_fk FOREIGN KEY (md_parent_id) REFERENCES gpkg_metadata(id))",
)


def _has_table(con: sqlite3.Connection, table: str) -> bool:
    row = con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                      (table,)).fetchone()
    return row is not None


def _ensure_metadata_tables(con: sqlite3.Connection) -> None:
    if not _has_table(con, "gpkg_metadata"):
        con.execute(_METADATA_DDL[0])
    if not _has_table(con, "gpkg_metadata_reference"):
        con.execute(_METADATA_DDL[1])
    for table in ("gpkg_metadata", "gpkg_metadata_reference"):
        if con.execute("SELECT 1 FROM gpkg_extensions WHERE table_name = ? AND "
                       "extension_name = 'gpkg_metadata'", (table,)).fetchone() is None:
            con.execute("INSERT INTO gpkg_extensions (table_name, column_name, extension_name, "
                        "definition, scope) VALUES (?, NULL, 'gpkg_metadata', ?, 'read-write')",
                        (table, _METADATA_EXTENSION))


def _ensure_layer_styles(con: sqlite3.Connection, timestamp: str) -> None:
    if not _has_table(con, "layer_styles"):
        con.execute(_LAYER_STYLES_DDL)
    if con.execute("SELECT 1 FROM gpkg_contents WHERE table_name = 'layer_styles'"
                   ).fetchone() is None:
        con.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, description, "
                    "last_change, srs_id) VALUES ('layer_styles', 'attributes', 'layer_styles', "
                    "'QGIS layer styles', ?, 0)", (timestamp,))
    else:
        con.execute("UPDATE gpkg_contents SET last_change = ? WHERE table_name = 'layer_styles'",
                    (timestamp,))


def _save_style(con: sqlite3.Connection, table: str, geometry_column: str, qml: str,
                description: str, timestamp: str) -> None:
    """Insert or replace the style ``STYLE_NAME`` of ``table`` as QGIS saves one.

    It becomes the default unless the layer already has another default style
    (one a user saved in QGIS, say), which is kept.
    """
    key = (table, geometry_column)
    other_default = con.execute(
        "SELECT 1 FROM layer_styles WHERE f_table_schema = '' AND f_table_name = ? AND "
        "f_geometry_column = ? AND useAsDefault AND styleName != ?", (*key, STYLE_NAME)
    ).fetchone() is not None
    row = con.execute(
        "SELECT id FROM layer_styles WHERE f_table_schema = '' AND f_table_name = ? AND "
        "f_geometry_column = ? AND styleName = ?", (*key, STYLE_NAME)).fetchone()
    values = (qml, 0 if other_default else 1, description, timestamp)
    if row is None:
        con.execute(
            'INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, '
            'f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, description, '
            'owner, ui, update_time) VALUES (\'\', \'\', ?, ?, ?, ?, \'\', ?, ?, \'\', NULL, ?)',
            (*key, STYLE_NAME, *values))
    else:
        con.execute('UPDATE layer_styles SET styleQML = ?, useAsDefault = ?, description = ?, '
                    'update_time = ? WHERE id = ?', (*values, row[0]))


def _insert_metadata(con: sqlite3.Connection, uri: str, mime: str, document: str) -> int:
    cur = con.execute("INSERT INTO gpkg_metadata (md_scope, md_standard_uri, mime_type, metadata)"
                      " VALUES ('dataset', ?, ?, ?)", (uri, mime, document))
    assert cur.lastrowid is not None
    return cur.lastrowid


def _reference(con: sqlite3.Connection, table: str | None, md_id: int, timestamp: str,
               parent: int | None = None) -> None:
    con.execute("INSERT INTO gpkg_metadata_reference (reference_scope, table_name, column_name, "
                "row_id_value, timestamp, md_file_id, md_parent_id) VALUES (?, ?, NULL, NULL, ?, "
                "?, ?)", ("geopackage" if table is None else "table", table, timestamp, md_id,
                          parent))


def _runs_of(con: sqlite3.Connection, table: str) -> list[dict[str, Any]]:
    """The JSON records of the writes that wrote to ``table``, oldest first."""
    rows = con.execute(
        "SELECT m.metadata FROM gpkg_metadata m JOIN gpkg_metadata_reference r ON "
        "r.md_file_id = m.id WHERE m.md_standard_uri = ? AND r.reference_scope = 'table' AND "
        "r.table_name = ? ORDER BY m.id", (_PROVENANCE_URI, table)).fetchall()
    out = []
    for (doc,) in rows:
        with contextlib.suppress(ValueError):
            out.append(json.loads(doc))
    return out


def _replace_qmd(con: sqlite3.Connection, table: str, qmd: str, timestamp: str,
                 parent: int) -> None:
    """Replace the QGIS metadata of ``table`` written by strukturbild; keep a user's own."""
    rows = con.execute(
        "SELECT m.id, m.metadata FROM gpkg_metadata m JOIN gpkg_metadata_reference r ON "
        "r.md_file_id = m.id WHERE m.md_standard_uri = ? AND r.reference_scope = 'table' AND "
        "r.table_name = ?", (_QGIS_URI, table)).fetchall()
    for md_id, doc in rows:
        if 'vocabulary="strukturbild"' not in doc:
            return  # someone else's metadata: QGIS reads only one, leave theirs
        con.execute("DELETE FROM gpkg_metadata_reference WHERE md_file_id = ?", (md_id,))
        con.execute("DELETE FROM gpkg_metadata WHERE id = ?", (md_id,))
    md_id = _insert_metadata(con, _QGIS_URI, "text/xml", qmd)
    _reference(con, table, md_id, timestamp, parent)


def _layer_metadata(image: StructureImage, name: str, description: str,
                    runs: Sequence[Mapping[str, Any]], source_note: str, title: str
                    ) -> LayerMetadata:
    import pyproj

    lang = image.language
    history = []
    for run in runs:
        n = run.get("layers", {}).get(name, "?")
        history.append(
            f"{run.get('created', '')}: strukturbild {run.get('version', '')}, "
            f"{run.get('title', '')!s} ({run.get('name', '')}), {n} "
            f"{'objekt' if lang == 'sv' else 'features'}; "
            + text("gpkg_flows_modelled" if run.get("modelled")
                   else "gpkg_flows_observed", lang))
    licences = sorted({str(s["licence"]) for run in runs for s in run.get("sources", [])
                       if s.get("licence")})
    rights = [source_note] if source_note else []
    return LayerMetadata(
        identifier=name,
        title=title,
        abstract=description,
        language=lang,
        keywords={"gmd:topicCategory": ["planningCadastre", "society"],
                  "strukturbild": [name, "strukturbild"]},
        history=history,
        rights=rights,
        licenses=licences,
        crs=GPKG_CRS,
        crs_wkt=pyproj.CRS(GPKG_CRS).to_wkt(),
    )


def _finish_geopackage(path: Path, image: StructureImage, frames: Mapping[str, Any],
                       created: Sequence[str], *, source: Path, timestamp: str,
                       options: MapOptions, unit: SizeUnit, mode: str,
                       existing_roles: Sequence[tuple[str, str]]) -> None:
    """Styles, metadata and time stamps, written with SQLite after GDAL wrote the layers.

    The styles draw the scene of the image (:func:`~strukturbild.render._scene.scene_of`)
    and the links' categories found in the file. Under
    :func:`~strukturbild._sqlite.guarded`: a time limit, and Ctrl-C reaches a statement
    that runs long in C (an appended file's schema is checked first, so this is the
    second line of defence).
    """
    scene = scene_of(image, options, "gpkg")
    source_note = scene.source  # the maps' source line: publishers, licences
    with contextlib.closing(sqlite3.connect(path)) as con, \
            guarded(con, seconds=SQL_SECONDS, source=source, what="writing styles and metadata"):
        con.isolation_level = None
        con.execute("BEGIN")
        geometry_columns = dict(con.execute(
            "SELECT table_name, column_name FROM gpkg_geometry_columns").fetchall())
        _ensure_layer_styles(con, timestamp)
        _ensure_metadata_tables(con)
        run_id = _insert_metadata(con, _PROVENANCE_URI, "application/json",
                                  _run_record(image, frames, timestamp, source_note, mode))
        _reference(con, None, run_id, timestamp)
        for name, frame in frames.items():
            own = frame.attrs.get("own")
            description = _description(image, name, source_note, own)
            identifier = _identifier(image, name, own)
            qml = _style_qml(scene, name, frame, unit=unit,
                             existing_roles=existing_roles if name == "places" else (),
                             links=_link_categories(con) if name == "links" else set())
            _save_style(con, name, geometry_columns[name], qml,
                        f"{identifier} ({STYLE_NAME})", timestamp)
            _reference(con, name, run_id, timestamp)
            if name in created:
                con.execute("UPDATE gpkg_contents SET description = ? WHERE table_name = ?",
                            (description, name))
                with contextlib.suppress(sqlite3.IntegrityError):  # identifiers are unique
                    con.execute("UPDATE gpkg_contents SET identifier = ? WHERE table_name = ?",
                                (identifier, name))
            else:
                (description,) = con.execute(
                    "SELECT description FROM gpkg_contents WHERE table_name = ?", (name,)
                ).fetchone()
            con.execute("UPDATE gpkg_contents SET last_change = ? WHERE table_name = ?",
                        (timestamp, name))
            md = _layer_metadata(image, name, description, _runs_of(con, name), source_note,
                                 identifier)
            _replace_qmd(con, name, layer_metadata_qmd(md), timestamp, run_id)
        con.execute("COMMIT")


# --------------------------------------------------------------------------- appending


_KINDS = {"b": "boolean", "i": "integer", "u": "integer", "f": "real", "M": "datetime",
          "m": "duration", "O": "text", "U": "text", "S": "text"}


def _kind(dtype: Any) -> str:
    """Coarse kind of a column: text, integer, real, boolean, date or datetime."""
    name = str(dtype)
    if name.startswith("datetime64"):
        return "datetime"
    if name in ("boolean", "bool"):
        return "boolean"
    if name in ("Int64", "Int32", "int64", "int32", "int16", "int8"):
        return "integer"
    try:
        return _KINDS.get(np.dtype(dtype).kind, "text")
    except TypeError:
        return "text"


def _frame_kinds(frame: gpd.GeoDataFrame) -> dict[str, str]:
    out = {}
    for col in frame.columns:
        if col == frame.geometry.name:
            continue
        values = frame[col]
        present = values.dropna()
        if values.dtype == object and len(present) and all(
                isinstance(v, dt.date) and not isinstance(v, dt.datetime) for v in present):
            out[str(col)] = "date"
        else:
            out[str(col)] = _kind(values.dtype)
    return out


def _file_kinds(info: Mapping[str, Any]) -> dict[str, str]:
    ogr = {"OFTInteger": "integer", "OFTInteger64": "integer", "OFTReal": "real",
           "OFTString": "text", "OFTDate": "date", "OFTDateTime": "datetime"}
    out = {}
    for name, otype, sub in zip(info["fields"], info["ogr_types"], info["ogr_subtypes"],
                                strict=True):
        out[str(name)] = "boolean" if sub == "OFSTBoolean" else ogr.get(otype, "text")
    return out


def _compatible(ours: str, theirs: str) -> bool:
    return ours == theirs or (ours, theirs) in {("integer", "real"), ("boolean", "integer")}


def _check_append(path: Path, frames: dict[str, Any], *, source: Path
                  ) -> tuple[list[str], list[tuple[str, str]]]:
    """Check that ``frames`` can be appended to ``path``, the copy of ``source``.

    Returns the layers that exist already and the roles found in its places
    (key, label). Renumbers ``link_id`` after the file's largest. Raises before
    anything is written.
    """
    import pyogrio

    path, copy = source, path  # GDAL reads the copy; messages name the file appended to
    try:
        with _quiet():
            layers = [str(n) for n in pyogrio.list_layers(copy)[:, 0]]
    except Exception as exc:
        raise InvalidValueError(f"cannot append: the GeoPackage cannot be read ({exc})",
                                source=path) from None
    existing = [n for n in frames if n in layers]
    roles: list[tuple[str, str]] = []
    for name in existing:
        frame = frames[name]
        with _quiet():
            info = pyogrio.read_info(copy, layer=name)
        _check_appended_layer(name, frame, info, path)
        if name == "strak":  # the stråk of another image: their ids follow the file's
            with _quiet():
                old_ids = pyogrio.read_dataframe(path, layer=name, read_geometry=False,
                                                 columns=["strak_id"])["strak_id"]
            frame["strak_id"] = frame["strak_id"] + (int(old_ids.max()) if len(old_ids)
                                                     else 0)
        if name in _KEYS:  # own layers: features are added as they are
            roles = _check_appended_keys(name, frame, copy, _file_kinds(info), path) or roles
    return existing, roles


def _check_appended_layer(name: str, frame: gpd.GeoDataFrame, info: Mapping[str, Any], path: Path
                          ) -> None:
    """The layer ``name`` of the file (``info``) takes ``frame``'s features: the same
    CRS, geometry type and columns, of kinds that fit."""
    import pyproj

    crs = info.get("crs")
    if crs is None or not pyproj.CRS(crs).equals(pyproj.CRS(GPKG_CRS)):
        raise CRSError(
            f"cannot append: layer '{name}' is in {crs or 'no CRS'}, the structure image "
            f"is in {GPKG_CRS}; GDAL would store the coordinates unchanged in the wrong "
            "CRS. Write to a new file, or reproject the layer first",
            source=path, layer=name)
    theirs_geom = str(info.get("geometry_type", "")).replace(" Z", "")
    ours_geom = _geometry_type(frame, name)
    if theirs_geom != ours_geom and theirs_geom not in ("Unknown", "Geometry"):
        raise InvalidValueError(
            f"cannot append: layer '{name}' holds {theirs_geom}, the image has {ours_geom}",
            source=path, layer=name)
    ours, theirs = _frame_kinds(frame), _file_kinds(info)
    missing = [c for c in ours if c not in theirs]
    extra = [c for c in theirs if c not in ours]
    if missing or extra:
        detail = "; ".join(
            part for part in (f"the file lacks {', '.join(missing)}" if missing else "",
                              f"the image lacks {', '.join(extra)}" if extra else "")
            if part)
        raise InvalidValueError(
            f"cannot append: the columns of layer '{name}' differ ({detail}); GDAL would "
            "drop or leave empty the values of those columns", source=path, layer=name)
    for col, kind in ours.items():
        if not _compatible(kind, theirs[col]) and len(frame[col].dropna()):
            raise InvalidValueError(
                f"cannot append: column '{col}' is {theirs[col]} in the file and {kind} in "
                "the image", source=path, layer=name, column=col)


def _check_appended_keys(name: str, frame: gpd.GeoDataFrame, copy: Path, theirs: Mapping[str, str],
                         path: Path) -> list[tuple[str, str]]:
    """No feature of ``frame`` is in the layer already (by its key; links by their pair
    of places, whose ``link_id`` then continue after the file's largest). Returns the
    roles (key, label) of the file's places when ``name`` is the places."""
    import pyogrio

    key = _KEYS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        old = pyogrio.read_dataframe(copy, layer=name, read_geometry=False,
                                     columns=[c for c in ("link_id", "origin", "destination",
                                                          key, "role", "role_label")
                                              if c in theirs])
    if name == "links":
        pairs = {frozenset(p) for p in zip(old["origin"], old["destination"], strict=True)}
        new = [f"{o}–{d}" for o, d in zip(frame["origin"], frame["destination"],
                                           strict=True) if frozenset((o, d)) in pairs]
        start = int(old["link_id"].max()) if len(old) else 0
        frame["link_id"] = frame["link_id"] + start
    else:
        keys = set(old[key].dropna().astype(str))
        new = [str(k) for k in frame[key] if str(k) in keys]
    if new:
        raise DuplicateIdError(
            f"cannot append: layer '{name}' already has {len(new)} of the image's "
            f"{'links' if name == 'links' else key + 's'} ({', '.join(new[:5])}"
            f"{', …' if len(new) > 5 else ''}); write to a new file or overwrite",
            source=path, layer=name, column=key)
    if name != "places" or "role" not in old:
        return []
    known = old[old["role"].notna()]
    labels = known["role_label"] if "role_label" in known else known["role"]
    return list(dict.fromkeys(zip(known["role"].astype(str), labels.astype(str), strict=True)))


# The schema an append target may have: what GDAL and this writer make, nothing more.
#
# SQLite runs whatever the file's schema says whenever the writer touches a table: a
# trigger (that aborts, that runs for ever, that calls load_extension), a view where a
# table should be, a unique index that turns the next insert into an error, another
# layout of the styles or metadata tables. So an append target is read object by
# object from sqlite_master and each must be one of these:
#
# - the GeoPackage's own tables as the installed GDAL creates them (gpkg_contents, …,
#   and gpkg_tile_matrix's triggers), and layer_styles, gpkg_metadata and
#   gpkg_metadata_reference as this writer creates them (_LAYER_STYLES_DDL,
#   _METADATA_DDL, which are GDAL's and QGIS's own);
# - a layer registered in gpkg_contents: a table of GDAL's form, "fid" INTEGER PRIMARY
#   KEY AUTOINCREMENT NOT NULL, then its geometry column (features), then columns of a
#   plain type and no constraint; with GDAL's triggers for it (the spatial index for
#   GeoPackage 1.2/1.3 and for 1.4, the feature count) and its spatial index tables;
# - indexes SQLite makes itself for the constraints of those tables.
#
# GDAL's triggers and tables are taken from reference GeoPackages the installed GDAL
# writes (VERSION=1.2 and 1.4 write different spatial-index triggers), with the
# reference layer's name replaced by the layer's: "what the writer makes", for the
# GDAL at hand, rather than a copy of GDAL's SQL that could drift from it.

_REF_LAYER, _REF_GEOM, _REF_TABLE = "sbref_layer", "sbref_geom", "sbref_table"
#: Column types GDAL gives fields (OGR's types and subtypes).
_COLUMN = re.compile(r'"((?:[^"]|"")+)" (TEXT(?:\(\d+\))?|INTEGER|SMALLINT|MEDIUMINT|REAL|'
                     r'FLOAT|BOOLEAN|DATE|DATETIME|BLOB(?:\(\d+\))?)')
_GEOMETRY_TYPES = frozenset({
    "GEOMETRY", "POINT", "LINESTRING", "POLYGON", "MULTIPOINT", "MULTILINESTRING",
    "MULTIPOLYGON", "GEOMETRYCOLLECTION", "CIRCULARSTRING", "COMPOUNDCURVE", "CURVEPOLYGON",
    "MULTICURVE", "MULTISURFACE", "CURVE", "SURFACE", "POLYHEDRALSURFACE", "TIN",
    "TRIANGLE"})


def _norm(sql: str | None) -> str:
    return " ".join((sql or "").split())


@functools.cache
def _reference_schema() -> tuple[dict[str, str], dict[str, frozenset[str]]]:
    """What the installed GDAL and this writer make: the GeoPackage's own tables and
    triggers (name → SQL), and per kind of layer (``features``, ``attributes``) the
    SQL of the objects GDAL makes for one, with the reference names left in."""
    import tempfile

    import geopandas as gpd
    import pyogrio
    import shapely

    system: dict[str, str] = {}
    layer: dict[str, set[str]] = {"features": set(), "attributes": set()}
    points = gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.Point(0, 0)], crs=GPKG_CRS)
    with tempfile.TemporaryDirectory(prefix="strukturbild-") as d:
        for version in ("1.2", "1.4"):
            path = Path(d) / f"ref{version}.gpkg"
            with _quiet():
                pyogrio.write_dataframe(points, path, layer=_REF_LAYER, driver="GPKG",
                                        dataset_options={"VERSION": version},
                                        layer_options={"GEOMETRY_NAME": _REF_GEOM})
                pyogrio.write_dataframe(pd.DataFrame({"a": [1]}), path, layer=_REF_TABLE,
                                        driver="GPKG", append=True)
            with contextlib.closing(sqlite3.connect(path)) as con:
                con.isolation_level = None
                con.execute("BEGIN")
                _ensure_layer_styles(con, _EPOCH)
                _ensure_metadata_tables(con)
                con.execute("COMMIT")
                rows = con.execute("SELECT type, name, tbl_name, sql FROM sqlite_master "
                                   "WHERE sql IS NOT NULL").fetchall()
            for kind, name, table, sql in rows:
                if table == _REF_LAYER or name.startswith(f"rtree_{_REF_LAYER}_"):
                    if kind != "table" or name != _REF_LAYER:
                        layer["features"].add(_norm(sql))
                elif table == _REF_TABLE:
                    if kind != "table":
                        layer["attributes"].add(_norm(sql))
                else:
                    system[name] = _norm(sql)
    return system, {k: frozenset(v) for k, v in layer.items()}


def _layer_objects(kind: str, table: str, geometry: str | None) -> set[str]:
    """The SQL of GDAL's objects for the layer ``table`` (its triggers, spatial index)."""
    _, layer = _reference_schema()
    if kind == "features" and geometry is not None:
        return {sql.replace(_REF_LAYER, table).replace(_REF_GEOM, geometry)
                for sql in layer["features"]}
    return {sql.replace(_REF_TABLE, table) for sql in layer["attributes"]}


def _layer_table_ok(sql: str, table: str, geometry: str | None) -> bool:
    """Whether ``sql`` creates ``table`` as GDAL does: fid, the geometry, plain columns."""
    quoted = '"' + table.replace('"', '""') + '"'
    head = f"CREATE TABLE {quoted} ( \"fid\" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL"
    body = _norm(sql)
    if not body.startswith(head) or not body.endswith(")"):
        return False
    columns = body[len(head):-1]
    parts = [c.strip() for c in columns.split(",")] if columns.strip() else []
    if parts and parts[0] != "":
        return False
    parts = parts[1:]
    if geometry is not None:
        if not parts:
            return False
        geom = parts.pop(0)
        name, _, gtype = geom.rpartition(" ")
        if name != '"' + geometry.replace('"', '""') + '"' or \
                gtype.upper().removesuffix("Z").removesuffix("M") not in _GEOMETRY_TYPES:
            return False
    return all(_COLUMN.fullmatch(part) for part in parts)


def _foreign(what: str, path: Path) -> InvalidValueError:
    return InvalidValueError(
        f"cannot append: {what}. strukturbild appends only to a GeoPackage of the layout "
        "it and GDAL write: a trigger, view, index or table of another layout would run or "
        "fail as the layers are added. The file was not touched; write to a new file (or "
        "without --append)", source=path)


def _check_schema(con: sqlite3.Connection, path: Path) -> None:
    """Refuse an append target whose schema is not what GDAL and this writer make.

    Reads only ``sqlite_master`` and the GeoPackage's registers, through ``con`` (the
    connection that holds the file locked).
    """
    if con.execute("PRAGMA application_id").fetchone()[0] != 0x47504B47:  # "GPKG"
        raise InvalidValueError("cannot append: the file is not a GeoPackage", source=path)
    objects = con.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
    kinds = {name: kind for kind, name, _, _ in objects}
    for table in ("gpkg_contents", "gpkg_geometry_columns"):
        if kinds.get(table) != "table":
            raise _foreign(f"'{table}' {_kind_of(kinds, table)}", path)
    system, _ = _reference_schema()
    for name, kind in kinds.items():
        if name in system and system[name] != _norm(
                next(sql for _, n, _, sql in objects if n == name)):
            raise _foreign(f"the {kind} '{name}' has another layout", path)
    expected, allowed, tables = _layer_schemas(con, objects, kinds, system, path)
    for kind, name, table, sql in objects:
        if name in expected:
            continue
        if kind == "index" and sql is None and table in tables:
            continue  # SQLite's own index for a UNIQUE or PRIMARY KEY of a checked table
        if name == "sqlite_sequence" and kind == "table":
            continue
        if _norm(sql) in allowed:
            continue
        on = f" on '{table}'" if kind in ("trigger", "index") else ""
        raise _foreign(f"the file holds the {kind} '{name}'{on}", path)


def _kind_of(kinds: Mapping[str, str], name: str) -> str:
    return f"is a {kinds[name]}" if name in kinds else "is missing"


def _layer_schemas(con: sqlite3.Connection, objects: Sequence[tuple[Any, ...]],
                   kinds: Mapping[str, str], system: Mapping[str, str], path: Path
                   ) -> tuple[dict[str, str], set[str], set[str]]:
    """Check the table of every layer registered in ``gpkg_contents``; return the
    expected SQL of each checked table, the SQL of the objects GDAL makes for them
    (indexes, triggers), and the checked tables' names."""
    layers = dict(con.execute("SELECT table_name, data_type FROM gpkg_contents").fetchall())
    geometry = dict(con.execute("SELECT table_name, column_name FROM gpkg_geometry_columns"
                                ).fetchall())
    expected = dict(system)
    allowed: set[str] = set(system.values())
    tables = set(system)
    for table, data_type in layers.items():
        if table in system:
            if data_type == "attributes" and kinds.get(table) == "table":
                # QGIS saves a style through GDAL: the table layer_styles as this writer
                # makes it, with GDAL's feature-count triggers of an attribute table
                allowed |= _layer_objects("attributes", table, None)
            continue
        if data_type not in ("features", "attributes"):
            raise _foreign(f"'{table}' is registered as {data_type!r}", path)
        if kinds.get(table) != "table":
            raise _foreign(f"the layer '{table}' {_kind_of(kinds, table)}", path)
        if "'" in str(table):
            raise _foreign(f"the layer name {table!r} holds a quote", path)
        geom = geometry.get(table) if data_type == "features" else None
        if data_type == "features" and geom is None:
            raise _foreign(f"the layer '{table}' has no geometry column registered", path)
        sql = next(sql for _, n, _, sql in objects if n == table)
        if not _layer_table_ok(sql, table, geom):
            raise _foreign(f"the table of layer '{table}' has a layout GDAL does not make "
                           "(a constraint, a default or another type)", path)
        tables.add(table)
        expected[table] = _norm(sql)
        allowed |= _layer_objects(data_type, table, geom)
    return expected, allowed, tables


def _copy_database(held: sqlite3.Connection, source: Path, target: Path) -> None:
    """Copy the SQLite file open (and locked) as ``held`` to the new file ``target``.

    SQLite's backup API reads through the lock the output set holds, so nobody can write
    to the file between the copy and its replacement (an edit made then would be lost).
    Copied in steps of 1 MiB; between them Ctrl-C is handled and the time limit read.
    """
    import time

    deadline = time.monotonic() + SQL_SECONDS

    def progress(status: int, remaining: int, total: int) -> None:
        if time.monotonic() > deadline:
            raise TimeLimitError(f"copying the file took longer than {SQL_SECONDS:g} s; "
                                 "stopped", source=source)

    with contextlib.closing(sqlite3.connect(target)) as dst:
        held.backup(dst, pages=256, progress=progress)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


# --------------------------------------------------------------------------- writers


def write_geopackage(
    image: StructureImage,
    path: str | Path,
    options: MapOptions | None = None,
    *,
    mode: WriteMode = "overwrite",
    size_unit: SizeUnit = "Point",
    timestamp: str | dt.datetime | None = None,
    version: Literal["1.2", "1.4"] = "1.2",
) -> Path:
    """Write the structure image as a styled, self-describing GeoPackage.

    Layers ``places``, ``links``, ``areas`` and ``regions`` (the last two when the
    image has them) in EPSG:3006, each with a default QGIS style and metadata; see
    the module docstring for the layers, the columns and what the modes do.
    Written atomically: a failed write leaves ``path`` as it was and no partial file.

    Parameters
    ----------
    image
        The structure image.
    path
        The ``.gpkg`` file.
    mode
        ``"overwrite"`` replaces the file, ``"append"`` adds the layers to it (checking
        CRS, columns and ids first), ``"fail"`` raises :class:`OutputExistsError` if it
        exists.
    options
        The map options the QGIS styles follow, as the maps do (default: the image's
        own): ``label_roles`` (the places named), ``weak_links`` (the weak links'
        category on), ``source_note`` (kept in the metadata) and ``timestamp``.
    size_unit
        Unit of symbol sizes in the QGIS styles: ``"Point"`` (print) or ``"Pixel"``
        (the web map's pixels).
    timestamp
        Time stamp of the write (ISO 8601 or datetime); default the options', else
        ``image.provenance["created"]``, else 1970-01-01, so outputs can be diffed.
    version
        GeoPackage version: ``"1.2"`` (the default: what GDAL before 3.7 and QGIS 3.22
        LTR write, and read without a warning) or ``"1.4"`` (GDAL 3.7's default; GDAL
        3.6 warns on every open that such files "may only be partially supported", and
        its validator fails them). The content (features, attributes, the metadata
        extension, ``layer_styles``) is the same in both.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    OutputExistsError
        ``mode="fail"`` and the file exists.
    CRSError
        Appending to a layer in another CRS.
    InvalidValueError, DuplicateIdError
        Appending to a layer with other columns or geometry, or holding the same ids.

    Examples
    --------
    >>> import tempfile, pathlib, pyogrio
    >>> from strukturbild.sources.example import example_project
    >>> from strukturbild.pipeline import build
    >>> out = write_geopackage(build(example_project()),
    ...                        pathlib.Path(tempfile.mkdtemp()) / "s.gpkg")
    >>> [str(n) for n in pyogrio.list_layers(out)[:, 0]]
    ['places', 'links', 'strak', 'areas', 'joint_designations', 'base', 'context', \
'ferries', 'layer_styles']
    """
    target = Path(path)
    with OutputSet([target]) as out:
        stage_geopackage(image, target, out.stage(target), options, mode=mode,
                         size_unit=size_unit, timestamp=timestamp, version=version,
                         held=out.hold(target) if mode == "append" else None)
    return target


def stage_geopackage(
    image: StructureImage,
    target: Path,
    tmp: Path,
    options: MapOptions | None = None,
    *,
    mode: WriteMode = "overwrite",
    size_unit: SizeUnit = "Point",
    timestamp: str | dt.datetime | None = None,
    version: Literal["1.2", "1.4"] = "1.2",
    held: sqlite3.Connection | None = None,
) -> None:
    """Write the GeoPackage that is to replace ``target`` into the new file ``tmp``.

    The staging step of :func:`write_geopackage` and of
    :func:`strukturbild.export.outputs.write_outputs`: ``target`` is only read (the
    existing file when appending); the caller renames ``tmp`` over it. To append to an
    existing ``target``, ``held`` is the connection by which the caller's output set
    holds it locked (:meth:`strukturbild._files.OutputSet.hold`): its schema is checked
    and it is copied through that connection, so that no other program can change it
    until it is replaced.
    """
    import pyogrio

    if mode not in _MODES:
        raise ValueError(f"mode must be one of {', '.join(_MODES)}, not {mode!r}")
    if version not in ("1.2", "1.4"):
        raise ValueError(f"version must be '1.2' or '1.4', not {version!r}")
    if mode == "fail" and target.exists():
        raise OutputExistsError("the file exists and is not overwritten (write mode 'fail')",
                                source=target)
    opts = options or image.map_options
    frames = geopackage_frames(image)
    stamp = _timestamp(image, timestamp if timestamp is not None else opts.timestamp)
    existing: list[str] = []
    roles: list[tuple[str, str]] = []
    if mode == "append" and os.path.lexists(target):
        if held is None:
            raise InvalidValueError("cannot append: the file is not a GeoPackage (SQLite "
                                    "cannot open it)", source=target)
        with guarded(held, seconds=SQL_SECONDS, source=target,
                     what="checking the GeoPackage to append to"):
            _check_schema(held, target)
        _copy_database(held, target, tmp)
        with contextlib.suppress(Exception), _quiet():
            have = [str(n) for n in pyogrio.list_layers(tmp)[:, 0]]
            for kept in ("base", "context", "ferries"):
                if kept in have:
                    frames.pop(kept, None)  # the file's own land and context stay as they are
        existing, roles = _check_append(tmp, frames, source=target)
    for name, frame in frames.items():
        geometry_type = _geometry_type(frame, name)
        with _quiet():
            pyogrio.write_dataframe(
                frame, tmp, layer=name, driver="GPKG", append=tmp.exists(),
                use_arrow=True, geometry_type=geometry_type,
                promote_to_multi=geometry_type.startswith("Multi"),
                dataset_options=None if tmp.exists() else {"VERSION": version},
            )
    _finish_geopackage(tmp, image, frames, [n for n in frames if n not in existing],
                       source=target, timestamp=stamp, options=opts, unit=size_unit,
                       mode=mode,
                       existing_roles=roles)
    if mode == "fail" and target.exists():
        raise OutputExistsError("the file appeared while it was being written", source=target)
