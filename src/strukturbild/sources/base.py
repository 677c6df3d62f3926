"""The base geography under every map: land, sea and borders, offline.

The maps draw the sea as their background and the land as polygons. The land comes
from Natural Earth 1:10m (public domain), shipped with the package as two gzipped
GeoJSON files in ``strukturbild/data/base/`` (made by ``geodata/base/make_land.py``):
``detail`` (100 m) for maps whose data span at most :data:`DETAIL_MAX_SPAN_M`, and
``overview`` (1 km) for larger ones (the whole country). Nothing is fetched.

:func:`base_geography` cuts what a map needs out of them:

- **neighbours**: every other country's land (Denmark with Zealand and Copenhagen,
  Norway, Finland, …);
- **Sweden outside the project**: Natural Earth's Sweden minus the union of the
  project's area polygons with their holes filled, so that big lakes between
  kommuner (Vänern, Vättern) are not turned into land inside the project. Natural
  Earth's coast lies up to ~2 km from SCB's, so where the project's areas meet the
  sea the difference leaves thin slivers of land along their coast; those are
  dropped (pieces thinner than 2 km whose edge runs mostly along the coast), so the
  coast is drawn once, by the project's own polygons;
- **borders** between countries, away from the project's areas (there the areas
  draw their own).

The project's own areas (SCB's kommuner) are drawn on top by the renderers.
"""

from __future__ import annotations

import gzip
import json
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

__all__ = [
    "BASE_CREDIT",
    "BASE_LICENCE",
    "BASE_SOURCE",
    "COUNTRY_NAMES",
    "DETAIL_MAX_SPAN_M",
    "Level",
    "base_geography",
    "land",
    "level_for",
]

Level = Literal["detail", "overview"]

#: The data behind the base, as the provenance and the GeoPackage name it.
BASE_SOURCE = ("Natural Earth 1:10m Admin 0 – Countries 4.1.0, via the npm package "
               "world-atlas 2.0.2")
BASE_LICENCE = "public domain (Natural Earth)"
#: What a map's source line says about its base.
BASE_CREDIT = "Natural Earth"
#: Maps whose data span at most this (larger side, metres) get the detailed land.
DETAIL_MAX_SPAN_M = 600_000.0
#: The rectangle the files cover, EPSG:3006 (see make_land.py).
COVERAGE_3006 = (-50_000.0, 5_950_000.0, 1_250_000.0, 7_950_000.0)
#: Country names by ISO 3166-1 alpha-3: Swedish, English.
COUNTRY_NAMES: dict[str, tuple[str, str]] = {
    "SWE": ("Sverige", "Sweden"), "NOR": ("Norge", "Norway"), "FIN": ("Finland", "Finland"),
    "ALA": ("Åland", "Åland"), "DNK": ("Danmark", "Denmark"), "EST": ("Estland", "Estonia"),
    "LVA": ("Lettland", "Latvia"), "LTU": ("Litauen", "Lithuania"), "POL": ("Polen", "Poland"),
    "DEU": ("Tyskland", "Germany"), "RUS": ("Ryssland", "Russia"),
    "BLR": ("Belarus", "Belarus"), "NLD": ("Nederländerna", "Netherlands"),
}

_FILES: dict[str, str] = {"detail": "land_ne_detail.geojson.gz",
                          "overview": "land_ne_overview.geojson.gz"}
#: Slivers of Natural Earth's Sweden along the project's coast: thinner than twice this.
_SLIVER_M = 1000.0
#: ... and with at least this share of their edge on Natural Earth's coast.
_SLIVER_COAST_SHARE = 0.2
#: Natural Earth's borders are not drawn within this distance of the project's areas.
_BORDER_GAP_M = 4000.0


def level_for(span_m: float) -> Level:
    """The level of detail for a map whose data span ``span_m`` metres.

    Examples
    --------
    >>> level_for(180_000), level_for(1_550_000)
    ('detail', 'overview')
    """
    return "detail" if span_m <= DETAIL_MAX_SPAN_M else "overview"


@lru_cache(maxsize=4)
def _land(level: Level, crs: str) -> gpd.GeoDataFrame:
    ref = resources.files("strukturbild") / "data" / "base" / _FILES[level]
    with ref.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as fh:
        fc = json.load(fh)
    frame = gpd.GeoDataFrame.from_features(fc["features"], crs="EPSG:4326")
    return frame[["kind", "iso_a3", "name", "geometry"]].to_crs(crs)


def land(level: Level = "detail", crs: str = "EPSG:3006") -> gpd.GeoDataFrame:
    """Natural Earth's land (``kind == "land"``) and borders (``"border"``) in ``crs``.

    Read once per level and CRS; a copy is returned.

    Examples
    --------
    >>> frame = land("overview")
    >>> sorted(frame.loc[frame["kind"] == "land", "iso_a3"])[:4]
    ['ALA', 'BLR', 'DEU', 'DNK']
    """
    return _land(level, str(crs)).copy()


def _filled(areas: gpd.GeoDataFrame | None) -> Any:
    """The union of the areas with every hole filled (None without areas)."""
    if areas is None or not len(areas):
        return None
    union = shapely.union_all(shapely.make_valid(areas.geometry.to_numpy()))
    shells = [shapely.Polygon(p.exterior) for p in shapely.get_parts(union)
              if p.geom_type == "Polygon"]
    return shapely.union_all(shells) if shells else None


def _drop_coast_slivers(outside: Any, coast: Any) -> Any:
    """``outside`` without its thin pieces that run mostly along ``coast``."""
    if outside is None or outside.is_empty:
        return outside
    opened = shapely.intersection(
        shapely.buffer(shapely.buffer(outside, -_SLIVER_M), _SLIVER_M), outside)
    thin = shapely.difference(outside, opened)
    pieces = shapely.get_parts(thin)
    if not len(pieces):
        return outside
    # the share of each piece's edge that lies on the coast, from points every 100 m
    xy, which = shapely.get_coordinates(shapely.segmentize(shapely.boundary(pieces), 100.0),
                                        return_index=True)
    cxy, cidx = shapely.get_coordinates(np.asarray(shapely.get_parts(coast)),
                                        return_index=True)
    same = cidx[1:] == cidx[:-1]  # the coast as single segments, in a spatial index
    segments = shapely.linestrings(np.stack([cxy[:-1][same], cxy[1:][same]], axis=1))
    hits = shapely.STRtree(np.asarray(segments)).query(shapely.points(xy), predicate="dwithin",
                                           distance=2.0)
    on_coast = np.zeros(len(xy))
    on_coast[hits[0]] = 1.0
    share = np.bincount(which, weights=on_coast, minlength=len(pieces)) / \
        np.maximum(np.bincount(which, minlength=len(pieces)), 1)
    drop = list(pieces[share >= _SLIVER_COAST_SHARE])
    if not drop:
        return outside
    return shapely.difference(outside, shapely.buffer(shapely.union_all(drop), 0.5))


def base_geography(
    extent: tuple[float, float, float, float],
    *,
    crs: str = "EPSG:3006",
    areas: gpd.GeoDataFrame | None = None,
    margin: float | None = None,
    level: Level | None = None,
    sweden: gpd.GeoDataFrame | None = None,
) -> gpd.GeoDataFrame | None:
    """The land and borders a map of ``extent`` needs, in ``crs``.

    Parameters
    ----------
    extent
        ``(xmin, ymin, xmax, ymax)`` of the map's data in ``crs`` (metres).
    crs
        The project's metric CRS.
    areas
        The project's area polygons (kommuner), drawn by the map itself: Sweden's
        land is cut out under them.
    margin
        How far around ``extent`` the land reaches (default: half the larger side,
        at least 100 km, so the map can be panned and zoomed out).
    level
        ``"detail"`` or ``"overview"``; default by the data's span (:func:`level_for`).
    sweden
        Sweden's own polygons (SCB's kommuner or län, ``[map] land``): Sweden's land
        outside the project's areas is drawn from them instead of from Natural Earth,
        so the gaps between them (the big lakes) stay water and the coast is SCB's.

    Returns
    -------
    GeoDataFrame or None
        Columns ``kind`` (``"land"`` or ``"border"``), ``part`` (``"neighbour"``,
        ``"sweden"`` — Sweden outside the project's areas — or ``"border"``),
        ``iso_a3``, ``name_sv``, ``name_en``; None when the extent lies outside the
        files' coverage (the Nordic and Baltic area), e.g. a map of France.

    Examples
    --------
    >>> skane = (360_000, 6_140_000, 470_000, 6_260_000)
    >>> base = base_geography(skane)
    >>> sorted(base.loc[base["part"] == "neighbour", "iso_a3"])
    ['DEU', 'DNK']
    >>> base_geography((3_000_000, 5_000_000, 3_100_000, 5_100_000)) is None
    True
    >>> lake = gpd.GeoDataFrame(geometry=[shapely.box(400_000, 6_300_000, 500_000, 6_400_000)
    ...     .difference(shapely.box(440_000, 6_340_000, 460_000, 6_360_000))], crs=3006)
    >>> with_own = base_geography(skane, sweden=lake)
    >>> own = with_own.loc[with_own["part"] == "sweden", "geometry"].iloc[0]
    >>> own.contains(shapely.Point(450_000, 6_350_000)), own.contains(shapely.Point(410_000,
    ...                                                                         6_310_000))
    (False, True)
    """
    x0, y0, x1, y1 = (float(v) for v in extent)
    span = max(x1 - x0, y1 - y0, 1000.0)
    chosen: Level = level or level_for(span)
    pad = margin if margin is not None else max(0.5 * span, 100_000.0)
    window = shapely.box(x0 - pad, y0 - pad, x1 + pad, y1 + pad)
    covered = gpd.GeoSeries([shapely.box(*COVERAGE_3006)], crs="EPSG:3006").to_crs(crs).iloc[0]
    if not shapely.intersects(covered, shapely.box(x0, y0, x1, y1)):
        return None
    ne = land(chosen, crs)
    ne = ne[ne.intersects(window)]
    geoms = shapely.intersection(ne.geometry.to_numpy(), window)
    ne = ne.set_geometry(gpd.GeoSeries(geoms, index=ne.index, crs=ne.crs))
    is_land = (ne["kind"] == "land").to_numpy()
    filled = _filled(areas)
    rows: list[dict[str, Any]] = []
    coast = shapely.boundary(shapely.union_all(ne.geometry.to_numpy()[is_land]))
    for iso, geom in zip(ne["iso_a3"][is_land], ne.geometry[is_land], strict=True):
        part = "sweden" if iso == "SWE" else "neighbour"
        if iso == "SWE" and sweden is not None:
            continue  # Sweden's own polygons stand in for Natural Earth's Sweden below
        if iso == "SWE" and filled is not None:
            geom = _drop_coast_slivers(shapely.difference(geom, filled), coast)
        rows.append({"kind": "land", "part": part, "iso_a3": iso, "geometry": geom})
    if sweden is not None and len(sweden):
        own = shapely.intersection(shapely.union_all(sweden.to_crs(ne.crs).geometry.to_numpy()),
                                   window)
        if areas is not None and len(areas):
            # under the project's own areas the map draws them; their holes stay open
            own = shapely.difference(own, shapely.union_all(
                areas.to_crs(ne.crs).geometry.to_numpy()))
        rows.append({"kind": "land", "part": "sweden", "iso_a3": "SWE", "geometry": own})
    gap = shapely.buffer(filled, _BORDER_GAP_M) if filled is not None else None
    for iso, geom in zip(ne["iso_a3"][~is_land], ne.geometry[~is_land], strict=True):
        if gap is not None:
            geom = shapely.difference(geom, gap)
        rows.append({"kind": "border", "part": "border", "iso_a3": iso, "geometry": geom})
    frame = gpd.GeoDataFrame(rows, geometry="geometry", crs=ne.crs) if rows else \
        gpd.GeoDataFrame({"kind": [], "part": [], "iso_a3": []}, geometry=[], crs=ne.crs)
    keep = ~(frame.geometry.is_empty | frame.geometry.isna())
    frame = frame[keep].reset_index(drop=True)
    polys = frame["kind"] == "land"
    frame.loc[polys, "geometry"] = [
        shapely.multipolygons([p for p in shapely.get_parts(g) if p.geom_type == "Polygon"])
        for g in frame.geometry[polys]]
    names = [COUNTRY_NAMES.get(str(i), (str(i), str(i))) for i in frame["iso_a3"]]
    frame["name_sv"] = pd.Series([n[0] for n in names], index=frame.index, dtype=object)
    frame["name_en"] = pd.Series([n[1] for n in names], index=frame.index, dtype=object)
    frame = frame[~(frame.geometry.is_empty)].reset_index(drop=True)
    frame.attrs.update({"level": chosen, "source": BASE_SOURCE, "licence": BASE_LICENCE})
    frame["kind"] = frame["kind"].astype(object)
    return frame[["kind", "part", "iso_a3", "name_sv", "name_en", "geometry"]].set_index(
        pd.RangeIndex(len(frame)))


def span_of(*frames: Any) -> tuple[float, float, float, float]:
    """The total bounds of the non-empty frames given.

    Examples
    --------
    >>> import shapely
    >>> g = gpd.GeoSeries([shapely.Point(0, 0), shapely.Point(10, 5)])
    >>> span_of(g, None)
    (0.0, 0.0, 10.0, 5.0)
    """
    bounds = [np.asarray(f.total_bounds, dtype=float) for f in frames
              if f is not None and len(f)]
    if not bounds:
        raise ValueError("nothing to take the extent of")
    b = np.vstack(bounds)
    return (float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()),
            float(b[:, 3].max()))
