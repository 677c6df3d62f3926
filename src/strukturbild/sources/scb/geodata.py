"""SCB's open geodata (WFS): tätorter and kommun boundaries as frames.

- **statistical tätorter** (WFS layer ``stat:Tatorter_YYYY``, lower-case fields
  ``tatortskod, tatort, kommun, kommunnamn, bef, area_ha``, SWEREF 99 TM, CC0);
- **kommun boundaries**, dissolved from SCB's DeSO 2025 areas (WFS layer
  ``stat:DeSO_2025``, fields ``desokod, kommunkod, kommunnamn, lanskod``, CC0);
  SCB's WFS has no kommun layer, and DeSO areas nest exactly in kommuner.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
import shapely.geometry

from ...errors import FetchError
from .answers import (
    bad_field,
    count_value,
    describe,
    list_value,
    mapping_value,
    text_value,
)

__all__ = [
    "CRS",
    "KOMMUN_FIELDS",
    "KOMMUN_LAYER",
    "LAN_NAMES",
    "TATORT_YEARS",
    "kommuner_from_features",
    "sweden_extent",
    "tatorter_from_features",
]

#: The CRS the WFS is asked for (``srsName``), in which every geometry must come.
CRS = "EPSG:3006"


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


@functools.cache
def sweden_extent(crs: str = CRS) -> tuple[float, float, float, float]:
    """Sweden's extent (xmin, ymin, xmax, ymax) in ``crs``: SWEREF 99's area of use.

    The area of use of EPSG:3006 (Sweden, onshore and offshore: 10.03–24.17° E,
    54.96–69.07° N, from the EPSG registry through pyproj), in ``crs``.

    Examples
    --------
    >>> [round(v) for v in sweden_extent()]
    [181896, 6090354, 1086313, 7689478]
    """
    area = pyproj.CRS(CRS).area_of_use
    assert area is not None
    to = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    xmin, ymin, xmax, ymax = to.transform_bounds(*area.bounds, densify_pts=21)
    return float(xmin), float(ymin), float(xmax), float(ymax)


# The ways a GeoJSON "crs" member names an EPSG code (GeoServer writes the URN).
_EPSG_NAME = re.compile(r"(?:urn:ogc:def:crs:EPSG:[0-9.]*:|EPSG:|"
                        r"https?://www\.opengis\.net/def/crs/EPSG/[0-9.]+/)(\d{1,6})",
                        re.IGNORECASE)


def _check_crs(fc: Mapping[str, Any], crs: str, source: str) -> None:
    """The answer's declared CRS (GeoServer's ``crs`` member) must be the one asked for.

    An answer that declares none is taken to be in ``crs`` (as asked with
    ``srsName``); its coordinates must then lie in Sweden there, which coordinates in
    any other CRS (longitude and latitude, say) do not.
    """
    raw = fc.get("crs")
    if raw is None:
        return
    member = mapping_value(raw, source=source, field="crs")
    props = mapping_value(member.get("properties"), source=source, field="crs.properties")
    name = text_value(props.get("name"), source=source, field="crs.properties.name")
    m = _EPSG_NAME.fullmatch(name.strip())
    if m is None or f"EPSG:{int(m.group(1))}" != crs.upper():
        raise bad_field(source, "crs.properties.name",
                        f"the answer declares its coordinates to be in {name[:80]!r}, "
                        f"not in {crs} as asked (srsName); refused")


def _check_extent(geoms: list[shapely.Geometry], crs: str, source: str) -> None:
    """Every geometry inside Sweden's extent in ``crs``: finite is not enough (1e308)."""
    xmin, ymin, xmax, ymax = sweden_extent(crs)
    b = shapely.bounds(np.asarray(geoms, dtype=object))
    out = (b[:, 0] < xmin) | (b[:, 1] < ymin) | (b[:, 2] > xmax) | (b[:, 3] > ymax)
    if out.any():
        i = int(np.flatnonzero(out)[0])
        raise bad_field(source, f"features[{i}].geometry",
                        f"lies outside Sweden: it spans x {b[i, 0]:.9g} to {b[i, 2]:.9g}, "
                        f"y {b[i, 1]:.9g} to {b[i, 3]:.9g}, but Sweden lies within x "
                        f"{xmin:,.0f} to {xmax:,.0f}, y {ymin:,.0f} to {ymax:,.0f} in {crs}")


def _features(fc: Mapping[str, Any], *, source: str,
              crs: str = CRS) -> tuple[list[shapely.Geometry], list[dict[str, Any]]]:
    """Each feature's geometry and properties (keys lower-cased), every one checked.

    The answer must be in ``crs`` (its declared CRS, if any) and every geometry
    finite and inside Sweden there.
    """
    if not isinstance(fc, Mapping):
        raise FetchError("the answer is not a GeoJSON FeatureCollection", source=source)
    _check_crs(fc, crs, source)
    feats = list_value(fc.get("features", []), source=source, field="features")
    if not feats:
        raise FetchError("the WFS answered with no features", source=source)
    geoms: list[shapely.Geometry] = []
    props: list[dict[str, Any]] = []
    for i, raw in enumerate(feats):
        f = mapping_value(raw, source=source, field=f"features[{i}]")
        where = f"features[{i}].geometry"
        g = f.get("geometry")
        if g is None:
            raise bad_field(source, where, "the feature has no geometry (null)")
        try:
            geom = shapely.geometry.shape(dict(mapping_value(g, source=source, field=where)))
        except FetchError:
            raise
        except Exception as exc:  # shapely's errors for bad GeoJSON vary by case
            raise bad_field(source, where, f"not a GeoJSON geometry: {exc}") from None
        if geom.is_empty:
            raise bad_field(source, where, "the geometry is empty")
        if not np.isfinite(shapely.get_coordinates(geom)).all():
            raise bad_field(source, where, "has coordinates that are not finite numbers")
        geoms.append(geom)
        p = f.get("properties")
        p = mapping_value({} if p is None else p, source=source,
                          field=f"features[{i}].properties")
        props.append({str(k).lower(): v for k, v in p.items()})
    _check_extent(geoms, crs, source)
    return geoms, props


def _valid(geoms: list[shapely.Geometry]) -> np.ndarray[Any, Any]:
    arr = np.asarray(geoms, dtype=object)
    bad = ~shapely.is_valid(arr)
    if bad.any():
        arr = arr.copy()
        arr[bad] = shapely.make_valid(arr[bad])
    return arr


def _kommun_code(v: Any, *, source: str, field: str) -> str:
    """A kommun code as 4 characters: ``"0180"``, or 180 with its leading zero lost."""
    if isinstance(v, int) and not isinstance(v, bool) and 0 < v <= 9999:
        return f"{v:04d}"
    if isinstance(v, str) and v.isascii() and v.isdigit() and len(v) in (3, 4):
        return v.zfill(4)
    raise bad_field(source, field, f"expected a kommun code of 4 digits, got {describe(v)}")


def _people(v: Any, *, source: str, field: str) -> int:
    """A count of inhabitants: a whole number, also written as digits in text."""
    if isinstance(v, str) and v.strip().isascii() and v.strip().isdigit():
        v = int(v.strip())
    return count_value(v, source=source, field=field)


def _hectares(v: Any, *, source: str, field: str) -> float:
    if v is None:
        return math.nan
    if isinstance(v, str):
        try:
            v = float(v)
        except ValueError:
            raise bad_field(source, field, f"expected a number of hectares, got "
                                           f"{describe(v)}") from None
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
        raise bad_field(source, field, f"expected a number of hectares, got {describe(v)}")
    return float(v)


def tatorter_from_features(fc: Mapping[str, Any], *, source: str = "WFS",
                           crs: str = CRS) -> gpd.GeoDataFrame:
    """SCB's tätort features as places: ``place_id``, ``name``, ``area_id``, ...

    The answer must be in ``crs`` (as asked of the WFS), every geometry inside Sweden.

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
    geoms, props = _features(fc, source=source, crs=crs)
    missing = [c for c in _TATORT_FIELDS if not any(c in p for p in props)]
    if missing:
        raise FetchError(f"the tätort layer lacks field(s) {', '.join(missing)}", source=source)
    codes: list[str] = []
    names: list[str] = []
    kommuner: list[str] = []
    kommun_names: list[str] = []
    population: list[int] = []
    hectares: list[float] = []
    first: dict[str, int] = {}
    for i, p in enumerate(props):
        at = f"features[{i}].properties"
        code = text_value(p.get("tatortskod"), source=source, field=f"{at}.tatortskod").strip()
        if code in first:
            raise bad_field(source, f"{at}.tatortskod", f"the tätort '{code}' occurs twice "
                                                         f"(also features[{first[code]}])")
        first[code] = i
        codes.append(code)
        names.append(text_value(p.get("tatort"), source=source, field=f"{at}.tatort"))
        kommuner.append(_kommun_code(p.get("kommun"), source=source, field=f"{at}.kommun"))
        kommun_names.append(text_value(p.get("kommunnamn"), source=source,
                                       field=f"{at}.kommunnamn"))
        population.append(_people(p.get("bef"), source=source, field=f"{at}.bef"))
        hectares.append(_hectares(p.get("area_ha"), source=source, field=f"{at}.area_ha"))
    out = gpd.GeoDataFrame(
        {"name": np.asarray(names, dtype=object),
         "area_id": np.asarray(kommuner, dtype=object),
         "area_name": np.asarray(kommun_names, dtype=object),
         "population": np.asarray(population, dtype=np.int64)},
        geometry=_valid(geoms), crs=crs,
        index=pd.Index(codes, name="place_id", dtype=object))
    if any("area_ha" in p for p in props):
        out.insert(4, "area_ha", np.asarray(hectares, dtype=float))
    return out


def kommuner_from_features(fc: Mapping[str, Any], *, fields: Mapping[str, str] = KOMMUN_FIELDS,
                           source: str = "WFS", crs: str = CRS) -> gpd.GeoDataFrame:
    """Kommun polygons dissolved from areas that nest in kommuner (DeSO, RegSO).

    The answer must be in ``crs`` (as asked of the WFS), every geometry inside Sweden.

    Examples
    --------
    >>> sq = lambda x: {"type": "Polygon", "coordinates": [[[x, 6.2e6], [x + 1, 6.2e6],
    ...                 [x + 1, 6.2e6 + 1], [x, 6.2e6 + 1], [x, 6.2e6]]]}
    >>> fc = {"type": "FeatureCollection", "features": [
    ...     {"type": "Feature", "geometry": sq(4e5), "properties": {"kommunkod": "1280",
    ...      "kommunnamn": "Malmö"}},
    ...     {"type": "Feature", "geometry": sq(4e5 + 1), "properties": {"kommunkod": "1280",
    ...      "kommunnamn": "Malmö"}}]}
    >>> k = kommuner_from_features(fc)
    >>> k.index.tolist(), float(k.area.iloc[0])
    (['1280'], 2.0)
    >>> far = {**fc, "features": [{**fc["features"][0], "geometry": {"type": "Point",
    ...                                                            "coordinates": [1e308, 0]}}]}
    >>> kommuner_from_features(far, source="https://w")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    strukturbild.errors.FetchError: https://w: field 'features[0].geometry': lies outside Sweden...
    """
    geoms, props = _features(fc, source=source, crs=crs)
    code, name = fields["code"].lower(), fields["name"].lower()
    if not any(code in p for p in props):
        have = sorted({k for p in props for k in p})
        raise FetchError(f"the kommun layer lacks the field '{code}' (it has "
                         f"{', '.join(have)})", source=source)
    codes = [_kommun_code(p.get(code), source=source, field=f"features[{i}].properties.{code}")
             for i, p in enumerate(props)]
    names = [p[name] if isinstance(p.get(name), str) and p[name].strip() else c
             for p, c in zip(props, codes, strict=True)]
    garr = _valid(geoms)
    parts = pd.DataFrame({"code": codes, "name": names})
    rows = []
    for k, grp in parts.groupby("code", sort=True):
        geom = shapely.union_all(garr[grp.index.to_numpy()])
        rows.append((str(k), str(grp["name"].iloc[0]), shapely.make_valid(geom)))
    return gpd.GeoDataFrame({"name": [r[1] for r in rows]},
                            geometry=[r[2] for r in rows], crs=crs,
                            index=pd.Index([r[0] for r in rows], name="area_id", dtype=object))
