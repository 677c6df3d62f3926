"""Which OpenStreetMap ways an infrastructure layer keeps, and the layers made of them.

One rule for both sources (Overpass answers and Geofabrik extracts):

- **railways**: ``railway`` = ``rail``, ``light_rail``, ``subway``, ``tram`` or
  ``narrow_gauge``, without a ``service`` tag (sidings, yards, spurs and crossovers
  are not part of a structure image);
- **roads**: ``highway`` = ``motorway``, ``trunk`` or ``primary``, and their ``_link``
  ramps (``class`` is the road's class, ``link`` says it is a ramp: a network needs
  them to join roads);
- **ferries**: ``route`` = ``ferry``.

Each layer keeps OSM's own attribute names (``railway``, ``highway``, ``route``,
``name``, ``ref`` …) beside ``osm_id`` and ``class``, so that a network built on
them (the stråk) reads the same columns whichever source made them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

__all__ = [
    "FERRY_ROUTES",
    "LAYERS",
    "OSM_LICENCE",
    "RAILWAY_VALUES",
    "ROAD_VALUES",
    "OsmLayer",
    "classify",
    "layer_frames",
]

#: The licence of every layer made from OpenStreetMap: the map's source line, the
#: GeoPackage metadata and the summary's provenance name it.
OSM_LICENCE = "© OpenStreetMap contributors, ODbL 1.0"
RAILWAY_VALUES = ("rail", "light_rail", "subway", "tram", "narrow_gauge")
ROAD_VALUES = ("motorway", "trunk", "primary")
FERRY_ROUTES = ("ferry",)


@dataclass(frozen=True)
class OsmLayer:
    """One layer made from OSM ways: its key, file, layer name in the file, the tag
    that classifies it and the attributes kept (OSM's tag names)."""

    key: str
    file: str
    layer: str
    tag: str
    attributes: tuple[str, ...]
    names: tuple[str, str]  # Swedish, English: the [[layers]] name
    style: Mapping[str, Any]


#: The layers ``fetch osm`` writes, in order.
LAYERS: tuple[OsmLayer, ...] = (
    OsmLayer("railways", "osm_railways.gpkg", "railways", "railway",
             ("railway", "name", "ref", "usage", "electrified", "maxspeed", "gauge",
              "tunnel", "bridge", "operator"),
             ("Järnväg", "Railways"), {"colour": "#3d3d3d", "width": 1.6}),
    OsmLayer("roads", "osm_roads.gpkg", "roads", "highway",
             ("highway", "name", "ref", "maxspeed", "lanes", "oneway", "tunnel", "bridge"),
             ("Större vägar", "Main roads"), {"colour": "#999999", "width": 1.2}),
    OsmLayer("ferries", "osm_ferries.gpkg", "ferries", "route",
             ("route", "name", "ref", "operator", "duration"),
             ("Färjeleder", "Ferry lines"),
             {"colour": "#4f7391", "width": 1.4, "dash": "6 4"}),
)


def classify(tags: Mapping[str, str]) -> dict[str, str]:
    """The layers a way with ``tags`` belongs to, each with the way's ``class``.

    Examples
    --------
    >>> classify({"railway": "rail"}), classify({"railway": "rail", "service": "siding"})
    ({'railways': 'rail'}, {})
    >>> classify({"highway": "motorway_link"}), classify({"highway": "residential"})
    ({'roads': 'motorway'}, {})
    >>> classify({"route": "ferry", "name": "HH-leden"})
    {'ferries': 'ferry'}
    """
    out: dict[str, str] = {}
    rail = tags.get("railway")
    if rail in RAILWAY_VALUES and not tags.get("service"):
        out["railways"] = str(rail)
    road = tags.get("highway")
    if road is not None and road.removesuffix("_link") in ROAD_VALUES:
        out["roads"] = road.removesuffix("_link")
    if tags.get("route") in FERRY_ROUTES:
        out["ferries"] = "ferry"
    return out


def layer_frames(ids: Sequence[int], tags: Sequence[Mapping[str, str]],
                 lines: Iterable[np.ndarray[Any, Any]], *, crs: str
                 ) -> dict[str, gpd.GeoDataFrame]:
    """The layers (:data:`LAYERS`) of the ways given by id, tags and lon/lat coordinates.

    A way is kept once per layer (the first time its id comes: tiles overlap), sorted
    by id; lines are made with :func:`shapely.linestrings` and projected to ``crs``.

    Examples
    --------
    >>> f = layer_frames([7, 3, 7], [{"highway": "primary", "ref": "11"},
    ...                              {"railway": "rail"}, {"highway": "primary"}],
    ...                  [np.array([[13.0, 55.6], [13.2, 55.7]])] * 3, crs="EPSG:3006")
    >>> {k: len(v) for k, v in f.items()}
    {'railways': 1, 'roads': 1, 'ferries': 0}
    >>> f["roads"][["osm_id", "class", "highway", "ref", "link"]].values.tolist()
    [[7, 'primary', 'primary', '11', False]]
    """
    rows: dict[str, dict[int, tuple[dict[str, Any], np.ndarray[Any, Any]]]] = {
        spec.key: {} for spec in LAYERS}
    for osm_id, t, xy in zip(ids, tags, lines, strict=True):
        for key, cls in classify(t).items():
            rows[key].setdefault(int(osm_id), ({**t, "class": cls}, xy))
    out: dict[str, gpd.GeoDataFrame] = {}
    for spec in LAYERS:
        got = rows[spec.key]
        order = sorted(got)
        columns: dict[str, Any] = {
            "osm_id": pd.array(order, dtype="int64"),
            "class": pd.array([got[i][0]["class"] for i in order], dtype=object)}
        if spec.key == "roads":
            columns["link"] = [str(got[i][0].get("highway", "")).endswith("_link")
                               for i in order]
        for name in spec.attributes:
            columns[name] = pd.array([got[i][0].get(name) for i in order], dtype=object)
        parts = [got[i][1] for i in order]
        geoms: Any = shapely.linestrings(
            np.concatenate(parts), indices=np.repeat(np.arange(len(parts)),
                                                     [len(p) for p in parts])) \
            if parts else []
        frame = gpd.GeoDataFrame(columns, geometry=gpd.GeoSeries(geoms, crs="EPSG:4326"),
                                 crs="EPSG:4326")
        out[spec.key] = frame.to_crs(crs)
    return out
