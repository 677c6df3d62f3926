"""SCB's open geodata (WFS): tätorter and kommun boundaries as frames.

- **statistical tätorter** (WFS layer ``stat:Tatorter_YYYY``, lower-case fields
  ``tatortskod, tatort, kommun, kommunnamn, bef, area_ha``, SWEREF 99 TM, CC0);
- **kommun boundaries**, dissolved from SCB's DeSO 2025 areas (WFS layer
  ``stat:DeSO_2025``, fields ``desokod, kommunkod, kommunnamn, lanskod``, CC0);
  SCB's WFS has no kommun layer, and DeSO areas nest exactly in kommuner.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .client import FetchError

__all__ = [
    "KOMMUN_FIELDS",
    "KOMMUN_LAYER",
    "LAN_NAMES",
    "TATORT_YEARS",
    "kommuner_from_features",
    "tatorter_from_features",
]


#: The 21 län (SCB codes, valid since 2007).
LAN_NAMES: Mapping[str, str] = {
    "01": "Stockholms län", "03": "Uppsala län", "04": "Södermanlands län",
    "05": "Östergötlands län", "06": "Jönköpings län", "07": "Kronobergs län",
    "08": "Kalmar län", "09": "Gotlands län", "10": "Blekinge län", "12": "Skåne län",
    "13": "Hallands län", "14": "Västra Götalands län", "17": "Värmlands län",
    "18": "Örebro län", "19": "Västmanlands län", "20": "Dalarnas län",
    "21": "Gävleborgs län", "22": "Västernorrlands län", "23": "Jämtlands län",
    "24": "Västerbottens län", "25": "Norrbottens län",
}

#: Years for which SCB's WFS has a tätort layer ``stat:Tatorter_YYYY`` (its
#: GetCapabilities lists 1980, 1990, 1995, 2000, 2005, 2010, 2015, 2018, 2020, 2023).
TATORT_YEARS: tuple[int, ...] = (1980, 1990, 1995, 2000, 2005, 2010, 2015, 2018, 2020, 2023)

#: The WFS layer whose areas are dissolved into kommun boundaries, and its fields.
KOMMUN_LAYER = "stat:DeSO_2025"
KOMMUN_FIELDS: Mapping[str, str] = {"code": "kommunkod", "name": "kommunnamn",
                                    "lan": "lanskod"}

_TATORT_FIELDS = ("tatortskod", "tatort", "kommun", "kommunnamn", "bef")

# --------------------------------------------------------------------------- geodata


def _fc_to_frame(fc: Mapping[str, Any], *, source: str) -> gpd.GeoDataFrame:
    feats = fc.get("features", [])
    if not feats:
        raise FetchError("the WFS answered with no features", source=source)
    gdf = gpd.GeoDataFrame.from_features(feats, crs="EPSG:3006")
    gdf.columns = [c if c == "geometry" else str(c).lower() for c in gdf.columns]
    geoms = gdf.geometry.to_numpy()
    bad = ~shapely.is_valid(geoms)
    if bad.any():
        gdf = gdf.set_geometry(gpd.GeoSeries(shapely.make_valid(geoms), index=gdf.index,
                                             crs=gdf.crs))
    return gdf


def tatorter_from_features(fc: Mapping[str, Any], *, source: str = "WFS") -> gpd.GeoDataFrame:
    """SCB's tätort features as places: ``place_id``, ``name``, ``area_id``, ...

    Examples
    --------
    >>> fc = {"type": "FeatureCollection", "features": [{"type": "Feature",
    ...       "geometry": {"type": "Point", "coordinates": [374000, 6164000]},
    ...       "properties": {"tatortskod": "1280TC106", "tatort": "Malmö",
    ...       "kommun": "1280", "kommunnamn": "Malmö", "bef": 325069, "area_ha": 7816}}]}
    >>> t = tatorter_from_features(fc)
    >>> t.loc["1280TC106", "name"], int(t.loc["1280TC106", "population"])
    ('Malmö', 325069)
    """
    gdf = _fc_to_frame(fc, source=source)
    missing = [c for c in _TATORT_FIELDS if c not in gdf.columns]
    if missing:
        raise FetchError(f"the tätort layer lacks field(s) {', '.join(missing)}", source=source)
    out = gpd.GeoDataFrame(
        {"name": gdf["tatort"].astype(str).to_numpy(dtype=object),
         "area_id": gdf["kommun"].astype(str).str.zfill(4).to_numpy(dtype=object),
         "area_name": gdf["kommunnamn"].astype(str).to_numpy(dtype=object),
         "population": pd.to_numeric(gdf["bef"], errors="coerce").fillna(0).astype(np.int64)
         .to_numpy()},
        geometry=gdf.geometry.to_numpy(), crs=gdf.crs,
        index=pd.Index(gdf["tatortskod"].astype(str).to_numpy(dtype=object), name="place_id",
                       dtype=object))
    if "area_ha" in gdf.columns:
        out.insert(4, "area_ha", pd.to_numeric(gdf["area_ha"], errors="coerce").to_numpy())
    return out


def kommuner_from_features(fc: Mapping[str, Any], *, fields: Mapping[str, str] = KOMMUN_FIELDS,
                           source: str = "WFS") -> gpd.GeoDataFrame:
    """Kommun polygons dissolved from areas that nest in kommuner (DeSO, RegSO).

    Examples
    --------
    >>> sq = lambda x: {"type": "Polygon", "coordinates": [[[x, 0], [x + 1, 0],
    ...                 [x + 1, 1], [x, 1], [x, 0]]]}
    >>> fc = {"type": "FeatureCollection", "features": [
    ...     {"type": "Feature", "geometry": sq(0), "properties": {"kommunkod": "1280",
    ...      "kommunnamn": "Malmö"}},
    ...     {"type": "Feature", "geometry": sq(1), "properties": {"kommunkod": "1280",
    ...      "kommunnamn": "Malmö"}}]}
    >>> k = kommuner_from_features(fc)
    >>> k.index.tolist(), float(k.area.iloc[0])
    (['1280'], 2.0)
    """
    gdf = _fc_to_frame(fc, source=source)
    code, name = fields["code"].lower(), fields["name"].lower()
    if code not in gdf.columns:
        raise FetchError(f"the kommun layer lacks the field '{code}' (it has "
                         f"{', '.join(c for c in gdf.columns if c != 'geometry')})",
                         source=source)
    codes = gdf[code].astype(str).str.zfill(4)
    names = gdf[name].astype(str) if name in gdf.columns else codes
    parts = pd.DataFrame({"code": codes.to_numpy(), "name": names.to_numpy()})
    rows = []
    for k, grp in parts.groupby("code", sort=True):
        geom = shapely.union_all(gdf.geometry.to_numpy()[grp.index.to_numpy()])
        rows.append((str(k), str(grp["name"].iloc[0]), shapely.make_valid(geom)))
    return gpd.GeoDataFrame({"name": [r[1] for r in rows]},
                            geometry=[r[2] for r in rows], crs=gdf.crs,
                            index=pd.Index([r[0] for r in rows], name="area_id", dtype=object))
