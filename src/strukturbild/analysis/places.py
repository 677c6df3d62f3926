"""Place measures, each a Series aligned to the places index.

Measures never change the places frame; :func:`place_measures` gathers them into
a new frame that the role rules read.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .flows import Flows

__all__ = [
    "employed_and_jobs",
    "estimate_employed",
    "growth",
    "inflow_share",
    "inflow_sources",
    "job_ratio",
    "job_share",
    "nearest_larger_place",
    "net_commuting",
    "place_coordinates",
    "place_measures",
    "rank_in_group",
]


def employed_and_jobs(places: pd.DataFrame, flows: Flows | None = None, *,
                      employment_rate: float | None = None,
                      area_rates: pd.Series | None = None) -> pd.DataFrame:
    """Employed residents and jobs per place: from the columns, else from complete flows.

    When the places have no ``employed``/``jobs`` column and the flows record
    intra-unit flows (so that they are a complete commuting matrix), employed
    residents are the outflow and jobs the inflow, both including the intra-unit
    flow. With ``employment_rate``, the employed residents still unknown (no column,
    an empty cell, no complete flows) are estimated (:func:`estimate_employed`) and
    the column ``employed_estimated`` says where. Otherwise the value is missing (NaN).

    Examples
    --------
    >>> p = pd.DataFrame({"population": [100, 50]}, index=pd.Index(["a", "b"]))
    >>> f = Flows.from_frame(pd.DataFrame({"origin": ["a", "a", "b"],
    ...     "destination": ["a", "b", "a"], "count": [30, 10, 20]}))
    >>> employed_and_jobs(p, f).to_dict("list")
    {'employed': [40.0, 20.0], 'jobs': [50.0, 10.0]}
    >>> employed_and_jobs(p, employment_rate=0.5).to_dict("list")
    {'employed': [50.0, 25.0], 'jobs': [nan, nan], 'employed_estimated': [True, True]}
    """
    out = pd.DataFrame(index=places.index)
    complete = flows is not None and flows.has_self_flows and not flows.modelled
    for col, side in (("employed", "out"), ("jobs", "in")):
        if col in places.columns:
            # a column stands as given, gaps too: flows may be of other units (kommun
            # flows on their seat places) and are not mixed in
            out[col] = pd.to_numeric(places[col], errors="coerce").astype(float)
        elif complete:
            assert flows is not None
            s = flows.outflow() if side == "out" else flows.inflow()
            # a place with no flow at all is not in the table: unknown, not 0
            seen = (flows.outflow() + flows.inflow()).reindex(places.index).fillna(0) > 0
            out[col] = s.reindex(places.index).astype(float).where(seen)
        else:
            out[col] = np.nan
    if employment_rate is not None:
        est = estimate_employed(places, employment_rate, area_rates)
        missing = out["employed"].isna()
        out["employed"] = out["employed"].fillna(est)
        out["employed_estimated"] = missing.to_numpy(dtype=bool)
    return out


def estimate_employed(places: pd.DataFrame, employment_rate: float,
                      area_rates: pd.Series | None = None) -> pd.Series:
    """Employed residents estimated from the population: ``population * rate``.

    The rate is the place's kommun's where ``area_rates`` (employed residents per
    inhabitant, indexed by ``area_id``; ``fetch scb`` writes them) has one, else
    ``employment_rate`` (``[places] employment_rate``, default 0.5: Region Halland's
    SCB figures for its tätorter give 0.500). A tätort's own rate differs from its
    kommun's (suburbs have more employed residents per inhabitant than centres), so
    this is an estimate, and the pipeline marks it (``employed_estimated``).

    Examples
    --------
    >>> p = pd.DataFrame({"population": [1000, 2000], "area_id": ["0114", "0115"]},
    ...                  index=["a", "b"])
    >>> estimate_employed(p, 0.5, pd.Series({"0114": 0.42})).tolist()
    [420.0, 1000.0]
    """
    rate = pd.Series(float(employment_rate), index=places.index)
    if area_rates is not None and "area_id" in places.columns:
        own = places["area_id"].map(pd.Series(area_rates, dtype=float).dropna())
        rate = own.astype(float).fillna(rate)
    pop = pd.to_numeric(places["population"], errors="coerce").astype(float)
    return (pop * rate).rename("employed")


def job_ratio(places: pd.DataFrame, flows: Flows | None = None) -> pd.Series:
    """Jobs per employed resident (NaN where either is unknown or employed is 0).

    Examples
    --------
    >>> p = pd.DataFrame({"jobs": [120.0, 50.0], "employed": [100.0, 0.0]}, index=["a", "b"])
    >>> job_ratio(p).tolist()
    [1.2, nan]
    """
    ej = employed_and_jobs(places, flows)
    emp = ej["employed"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(emp > 0, ej["jobs"].to_numpy() / np.where(emp > 0, emp, 1), np.nan)
    return pd.Series(r, index=places.index, name="job_ratio")


def job_share(places: pd.DataFrame, flows: Flows | None = None) -> pd.Series:
    """Each place's share of the jobs of all the places (the study area's jobs).

    Regional analysts grade centres by it (Region Halland: 20 %, 8.5 % and 1 % of the
    region's jobs for three levels). NaN for every place when any place's jobs are
    unknown, since the total is then unknown too.

    Examples
    --------
    >>> p = pd.DataFrame({"jobs": [600.0, 300.0, 100.0]}, index=["a", "b", "c"])
    >>> job_share(p).tolist()
    [0.6, 0.3, 0.1]
    """
    jobs = employed_and_jobs(places, flows)["jobs"]
    total = float(jobs.sum())
    if jobs.isna().any() or not total > 0:
        return pd.Series(np.nan, index=places.index, name="job_share")
    return (jobs / total).astype(float).rename("job_share")


def net_commuting(places: pd.DataFrame, flows: Flows | None = None) -> pd.Series:
    """Net in-commuting: jobs minus employed residents; from flows (in minus out) otherwise.

    Examples
    --------
    >>> p = pd.DataFrame({"population": [1, 1]}, index=["a", "b"])
    >>> f = Flows.from_frame(pd.DataFrame({"origin": ["a"], "destination": ["b"],
    ...                                    "count": [5]}))
    >>> net_commuting(p, f).tolist()
    [-5.0, 5.0]
    """
    ej = employed_and_jobs(places, flows)
    net = ej["jobs"] - ej["employed"]
    if flows is not None and not flows.modelled:
        from_flows = (flows.inflow(include_self=False) - flows.outflow(include_self=False))
        net = net.fillna(from_flows.reindex(places.index).fillna(0.0))
    return net.astype(float).rename("net_commuting")


def inflow_sources(places: pd.DataFrame, flows: Flows) -> pd.Series:
    """From how many other places each place receives commuters (flow > 0).

    Examples
    --------
    >>> p = pd.DataFrame(index=["a", "b", "c"])
    >>> f = Flows.from_frame(pd.DataFrame({"origin": ["a", "c", "b"],
    ...     "destination": ["b", "b", "b"], "count": [5, 1, 9]}))
    >>> inflow_sources(p, f).tolist()
    [0, 2, 0]
    """
    b = flows.between()
    b = b[b > 0]
    n = b.groupby(level=1).size()
    return n.reindex(places.index, fill_value=0).astype(np.int64).rename("inflow_sources")


def inflow_share(places: pd.DataFrame, flows: Flows) -> pd.Series:
    """Share of the region's commuting between places that each place receives.

    Examples
    --------
    >>> p = pd.DataFrame(index=["a", "b"])
    >>> f = Flows.from_frame(pd.DataFrame({"origin": ["a", "b"], "destination": ["b", "a"],
    ...                                    "count": [3, 1]}))
    >>> inflow_share(p, f).tolist()
    [0.25, 0.75]
    """
    b = flows.between()
    total = float(b.sum())
    inn = b.groupby(level=1).sum().reindex(places.index, fill_value=0.0)
    share = inn / total if total > 0 else inn * np.nan
    return share.astype(float).rename("inflow_share")


def rank_in_group(places: pd.DataFrame, group: pd.Series | str = "area_id") -> pd.Series:
    """Rank of each place by population within its group (1 = largest; ties by id).

    Places without a group get a missing rank.

    Examples
    --------
    >>> p = pd.DataFrame({"population": [10, 30, 20], "area_id": ["k", "k", "m"]},
    ...                  index=["a", "b", "c"])
    >>> rank_in_group(p).tolist()
    [2.0, 1.0, 1.0]
    """
    g = places[group] if isinstance(group, str) else group.reindex(places.index)
    df = pd.DataFrame({"g": g.to_numpy(), "pop": places["population"].to_numpy(),
                       "id": places.index.to_numpy()}, index=places.index)
    df = df[df["g"].notna()].sort_values(["g", "pop", "id"], ascending=[True, False, True])
    rank = df.groupby("g", sort=False).cumcount() + 1
    return rank.reindex(places.index).astype(float).rename("rank")


def growth(places: pd.DataFrame, column: str = "population") -> pd.Series:
    """Relative change since the previous year (``population_prev`` or ``jobs_prev``).

    Examples
    --------
    >>> p = pd.DataFrame({"population": [110], "population_prev": [100]}, index=["a"])
    >>> round(float(growth(p).iloc[0]), 3)
    0.1
    """
    prev = f"{column}_prev"
    if prev not in places.columns or column not in places.columns:
        return pd.Series(np.nan, index=places.index, name=f"{column}_growth")
    p0 = places[prev].astype(float).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(p0 > 0, places[column].astype(float).to_numpy() / p0 - 1, np.nan)
    return pd.Series(g, index=places.index, name=f"{column}_growth")


def nearest_larger_place(places: pd.DataFrame) -> pd.DataFrame:
    """For each place, the nearest place with a larger population, and the distance in km.

    Polygons are represented by a point inside them.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> p = gpd.GeoDataFrame({"population": [100, 10, 50]}, index=["a", "b", "c"],
    ...     geometry=[shapely.Point(0, 0), shapely.Point(1000, 0), shapely.Point(5000, 0)],
    ...     crs=3006)
    >>> nearest_larger_place(p).to_dict("list")
    {'nearest_larger': [nan, 'a', 'a'], 'nearest_larger_km': [nan, 1.0, 5.0]}
    """
    xy = place_coordinates(places)
    pop = places["population"].to_numpy()
    ids = places.index.to_numpy()
    near: list[object] = [np.nan] * len(places)
    dist = np.full(len(places), np.nan)
    # Brute force in blocks: n x n distances are cheap for the few thousand tätorter of
    # a country, and simpler than a spatial index that must also filter by population.
    for start in range(0, len(places), 512):
        block = slice(start, start + 512)
        d = np.hypot(xy[block, 0, None] - xy[None, :, 0], xy[block, 1, None] - xy[None, :, 1])
        d[pop[None, :] <= pop[block, None]] = np.inf
        j = np.argmin(d, axis=1)
        best = d[np.arange(d.shape[0]), j]
        for r, (jj, bd) in enumerate(zip(j, best, strict=True)):
            if np.isfinite(bd):
                near[start + r] = ids[jj]
                dist[start + r] = bd / 1000.0
    return pd.DataFrame({"nearest_larger": near, "nearest_larger_km": dist}, index=places.index)


def place_coordinates(places: pd.DataFrame) -> np.ndarray:
    """Point coordinates of places (a point inside each polygon), shape ``(n, 2)``.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> p = gpd.GeoDataFrame(geometry=[shapely.Point(1, 2)], crs=3006)
    >>> place_coordinates(p).tolist()
    [[1.0, 2.0]]
    """
    geom = places.geometry
    pts = geom.where(geom.geom_type == "Point", geom.representative_point())
    return np.column_stack([pts.x.to_numpy(dtype=float), pts.y.to_numpy(dtype=float)])


def place_measures(places: pd.DataFrame, flows: Flows | None = None, *,
                   employment_rate: float | None = None,
                   area_rates: pd.Series | None = None) -> pd.DataFrame:
    """All place measures in one new frame aligned to ``places``.

    Columns: ``population``, ``employed``, ``jobs``, ``job_ratio``, ``job_share``,
    ``net_commuting``, ``inflow_sources``, ``inflow_share`` (NaN without observed
    flows), ``rank_in_area``, ``population_growth``; with ``employment_rate``,
    employed residents no input gives are estimated (see :func:`employed_and_jobs`)
    and ``employed_estimated`` marks them.

    Examples
    --------
    >>> p = pd.DataFrame({"population": [100, 50], "area_id": ["k", "k"]}, index=["a", "b"])
    >>> place_measures(p)["rank_in_area"].tolist()
    [1.0, 2.0]
    >>> m = place_measures(p.assign(jobs=[80, 10]), employment_rate=0.5)
    >>> m["job_ratio"].tolist(), m["employed_estimated"].tolist()
    ([1.6, 0.4], [True, True])
    """
    out = pd.DataFrame(index=places.index)
    out["population"] = places["population"].astype(np.int64)
    ej = employed_and_jobs(places, flows, employment_rate=employment_rate,
                           area_rates=area_rates)
    out = out.join(ej)
    # the measures below read employed and jobs as found (or estimated) here
    known = pd.DataFrame(places).assign(employed=ej["employed"], jobs=ej["jobs"])
    out["job_ratio"] = job_ratio(known, flows)
    out["job_share"] = job_share(known, flows)
    out["net_commuting"] = net_commuting(known, flows)
    observed = flows is not None and not flows.modelled
    if observed:
        assert flows is not None
        out["inflow_sources"] = inflow_sources(places, flows).astype(float)
        out["inflow_share"] = inflow_share(places, flows)
    else:
        out["inflow_sources"] = np.nan
        out["inflow_share"] = np.nan
    if "area_id" in places.columns:
        out["rank_in_area"] = rank_in_group(places, "area_id")
    else:
        out["rank_in_area"] = np.nan
    out["population_growth"] = growth(places)
    return out
