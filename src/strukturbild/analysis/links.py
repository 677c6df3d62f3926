"""Functional links between places: observed or modelled, with shares, strength and class.

One link per pair of places carries both directions: ``origin`` is the place that
sends the larger flow, so ``flow_od >= flow_do`` and the asymmetry is
``flow_od / total``. Geometry is added only at the end (:func:`links_to_lines`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..config import LinkParams
from ..errors import EmptyInputError
from .flows import Flows
from .gravity import fit_gravity, gravity_flows
from .places import place_coordinates

__all__ = [
    "LINK_CLASSES",
    "classify_links",
    "internal_distance",
    "links_from_flows",
    "links_to_lines",
    "model_flows",
]

#: Link classes, strongest first.
LINK_CLASSES = ("strong", "medium", "weak")


def classify_links(strength: pd.Series, params: LinkParams | None = None) -> pd.Series:
    """Link class from the strength: ``strong``, ``medium`` or ``weak``.

    Examples
    --------
    >>> classify_links(pd.Series([0.2, 0.1, 0.01])).tolist()
    ['strong', 'medium', 'weak']
    """
    p = params or LinkParams()
    s = strength.to_numpy(dtype=float)
    cls = np.where(s >= p.strong, "strong", np.where(s >= p.medium, "medium", "weak"))
    return pd.Series(cls, index=strength.index, name="link_class", dtype=object)


def links_from_flows(
    flows: Flows,
    measures: pd.DataFrame,
    *,
    params: LinkParams | None = None,
) -> pd.DataFrame:
    """One link per pair of places from flows, with shares, strength and class.

    Parameters
    ----------
    flows
        Flows between places (intra-place flows are ignored here).
    measures
        Place measures with ``employed`` and ``jobs`` (NaN where unknown), index
        place ids. Unknown employed/jobs give NaN shares.
    params
        Thresholds for the classes and ``min_flow`` (links with a smaller total are
        dropped).

    Returns
    -------
    pandas.DataFrame
        ``origin``, ``destination`` (origin sends the larger flow; ties: smaller id
        first), ``flow_od``, ``flow_do``, ``total``, ``share_of_origin`` (flow_od /
        employed residents of the origin), ``share_of_destination`` (flow_od / jobs
        of the destination), ``strength`` (the larger of the two places' shares of
        employed residents commuting to the other: symmetric in the pair),
        ``link_class``, ``modelled``. Sorted by total, largest first.

    Examples
    --------
    >>> f = Flows.from_frame(pd.DataFrame({"origin": ["a", "b", "a"],
    ...     "destination": ["b", "a", "a"], "count": [20, 5, 75]}))
    >>> m = pd.DataFrame({"employed": [100.0, 50.0], "jobs": [80.0, 70.0]}, index=["a", "b"])
    >>> row = links_from_flows(f, m, params=LinkParams(min_flow=0)).iloc[0]
    >>> row[["origin", "flow_od", "flow_do", "strength", "link_class"]].to_dict()
    {'origin': 'a', 'flow_od': 20.0, 'flow_do': 5.0, 'strength': 0.2, 'link_class': 'strong'}
    """
    p = params or LinkParams()
    b = flows.between()
    b = b[b > 0]
    if len(b) == 0:
        return _empty_links()
    o = b.index.get_level_values(0).to_numpy(dtype=object)
    d = b.index.get_level_values(1).to_numpy(dtype=object)
    lo = np.where(o < d, o, d)
    hi = np.where(o < d, d, o)
    forward = o < d  # flow from lo to hi
    pair = pd.DataFrame({"lo": lo, "hi": hi, "f": np.where(forward, b.to_numpy(), 0.0),
                         "r": np.where(forward, 0.0, b.to_numpy())})
    g = pair.groupby(["lo", "hi"], sort=True)[["f", "r"]].sum().reset_index()
    swap = g["r"].to_numpy() > g["f"].to_numpy()
    origin = np.where(swap, g["hi"], g["lo"])
    dest = np.where(swap, g["lo"], g["hi"])
    f_od = np.where(swap, g["r"], g["f"]).astype(float)
    f_do = np.where(swap, g["f"], g["r"]).astype(float)
    emp = measures["employed"].astype(float)
    jobs = measures["jobs"].astype(float)
    emp_o = emp.reindex(origin).to_numpy()
    emp_d = emp.reindex(dest).to_numpy()
    jobs_d = jobs.reindex(dest).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        share_o = np.where(emp_o > 0, f_od / emp_o, np.nan)
        share_d = np.where(jobs_d > 0, f_od / jobs_d, np.nan)
        share_back = np.where(emp_d > 0, f_do / emp_d, np.nan)
    strength = np.fmax(share_o, share_back)
    out = pd.DataFrame({
        "origin": origin.astype(object),
        "destination": dest.astype(object),
        "flow_od": f_od,
        "flow_do": f_do,
        "total": f_od + f_do,
        "share_of_origin": share_o,
        "share_of_destination": share_d,
        "strength": strength,
    })
    out["link_class"] = classify_links(out["strength"], p).to_numpy()
    out.loc[np.isnan(strength), "link_class"] = "weak"
    out["modelled"] = bool(flows.modelled)
    out = out[out["total"] >= p.min_flow]
    out = out.sort_values(["total", "origin", "destination"], ascending=[False, True, True])
    return out.reset_index(drop=True)


def _empty_links() -> pd.DataFrame:
    return pd.DataFrame({
        "origin": pd.Series(dtype=object), "destination": pd.Series(dtype=object),
        **{c: pd.Series(dtype=float) for c in ("flow_od", "flow_do", "total",
                                               "share_of_origin", "share_of_destination",
                                               "strength")},
        "link_class": pd.Series(dtype=object), "modelled": pd.Series(dtype=bool),
    })


def _pairs_within(xy: np.ndarray, max_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ordered pairs (i, j), i != j, closer than ``max_m``, with their distance in metres."""
    from scipy.spatial import cKDTree

    pairs = cKDTree(xy).query_pairs(max_m, output_type="ndarray")
    if len(pairs) == 0:
        return np.empty(0, int), np.empty(0, int), np.empty(0)
    i = np.concatenate([pairs[:, 0], pairs[:, 1]])
    j = np.concatenate([pairs[:, 1], pairs[:, 0]])
    dist = np.hypot(*(xy[i] - xy[j]).T)
    order = np.lexsort((j, i))
    return i[order], j[order], dist[order]


def internal_distance(places: pd.DataFrame, *, urban_density: float = 2200.0) -> np.ndarray:
    """Mean distance in km between two points of a place, taken as a disc.

    ``0.905 * sqrt(area / pi)`` (the mean distance between two random points of a
    disc of radius r is 128 r / (45 pi) ≈ 0.905 r). The area is ``area_ha`` when
    known, else the population at ``urban_density`` inhabitants per km².

    Examples
    --------
    >>> p = pd.DataFrame({"population": [2200 * np.pi, 1000], "area_ha": [np.nan, 400]})
    >>> internal_distance(p).round(3).tolist()
    [0.905, 1.022]
    """
    pop = places["population"].to_numpy(dtype=float)
    area = pop / urban_density
    if "area_ha" in places.columns:
        known = pd.to_numeric(places["area_ha"], errors="coerce").to_numpy(dtype=float) / 100
        area = np.where(np.isfinite(known) & (known > 0), known, area)
    return np.asarray(128.0 / (45.0 * np.pi) * np.sqrt(area / np.pi), dtype=float)


def model_flows(
    places: pd.DataFrame,
    *,
    params: LinkParams | None = None,
    observed: Flows | None = None,
) -> tuple[Flows, dict[str, float | str]]:
    """Modelled commuting between places from a spatial-interaction (gravity) model.

    With the production-constrained model (default), the employed residents of
    place *i* (``employment_rate * population_i``) are shared among the places
    within ``max_distance_km`` and *i* itself, in proportion to
    ``population_j * f(d_ij)``, with ``f(d) = exp(-beta d)`` (d in km) or
    ``d^-beta`` (distances under 1 km count as 1 km); *i* itself counts at its
    internal distance (:func:`internal_distance`). The result includes those
    intra-place flows: people who live and work in the same place. The
    unconstrained model ``T_ij = k P_i P_j f(d_ij)`` is scaled to the same total.
    With observed flows and ``calibrate = true``, ``beta`` is estimated by a Poisson
    model on the observed between-place flows (production-constrained, see
    :mod:`strukturbild.analysis.gravity`), and the observed employed residents (outflow
    including intra-place flows) replace the estimate where known. Defaults and
    their sources: :class:`~strukturbild.config.LinkParams`.

    Returns
    -------
    (Flows, dict)
        The modelled flows (``modelled=True``) and the parameters used.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> p = gpd.GeoDataFrame({"population": [10000, 10000, 10000]}, index=["a", "b", "c"],
    ...     geometry=[shapely.Point(0, 0), shapely.Point(10000, 0), shapely.Point(30000, 0)],
    ...     crs=3006)
    >>> f, used = model_flows(p)
    >>> f.modelled, round(float(f.outflow()["a"]), 6)
    (True, 5000.0)
    """
    p = params or LinkParams()
    if len(places) == 0:
        raise EmptyInputError("no places to model flows between")
    xy = place_coordinates(places)
    ids = places.index.to_numpy(dtype=object)
    pop = places["population"].to_numpy(dtype=float)
    i, j, dist_m = _pairs_within(xy, p.max_distance_km * 1000.0)
    # every place is also a destination of its own residents, at its internal distance
    own = np.arange(len(ids))
    i = np.concatenate([i, own])
    j = np.concatenate([j, own])
    dist = np.concatenate([dist_m / 1000.0,
                           internal_distance(places, urban_density=p.urban_density)])
    order = np.lexsort((j, i))
    i, j, dist = i[order], j[order], dist[order]
    if p.decay == "power":
        dist = np.maximum(dist, 1.0)
    beta = p.beta
    production = p.employment_rate * pop
    used: dict[str, float | str] = {"model": p.model, "decay": p.decay,
                                    "max_distance_km": p.max_distance_km}
    if observed is not None and p.calibrate:
        b = observed.between()
        b = b[b > 0]
        pos = pd.Index(ids)
        oi = pos.get_indexer(b.index.get_level_values(0))
        dj = pos.get_indexer(b.index.get_level_values(1))
        ok = (oi >= 0) & (dj >= 0)
        if ok.sum() >= 3:
            od = np.maximum(np.hypot(*(xy[oi[ok]] - xy[dj[ok]]).T) / 1000.0, 1.0)
            fit = fit_gravity(b.to_numpy()[ok], od, origin=ids[oi[ok]], destination=ids[dj[ok]],
                              o_var=pop[oi[ok]], d_var=np.maximum(pop[dj[ok]], 1.0),
                              model="production", decay=p.decay)
            term = "dij" if p.decay == "exponential" else "log_dij"
            beta = -float(fit.params[term])
            used["calibrated_on_pairs"] = float(ok.sum())
        if observed.has_self_flows:
            emp = observed.outflow().reindex(ids)
            production = np.where(emp.notna(), emp.fillna(0).to_numpy(), production)
    used["beta"] = beta
    if p.model == "production":
        t = gravity_flows(dist, pop[i], np.maximum(pop[j], 1.0), beta=beta, decay=p.decay,
                          origin=ids[i], production=dict(zip(ids, production, strict=True)))
    else:
        t = gravity_flows(dist, pop[i], pop[j], beta=beta, decay=p.decay)
        t = t * (production.sum() / t.sum()) if t.sum() > 0 else t
    idx = pd.MultiIndex.from_arrays([ids[i], ids[j]], names=["origin", "destination"])
    return Flows(pd.Series(np.nan_to_num(t), index=idx), modelled=True), used


def links_to_lines(links: pd.DataFrame, places: pd.DataFrame) -> pd.DataFrame:
    """Add straight-line geometry from origin to destination point.

    Returns a GeoDataFrame in the places' CRS.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> p = gpd.GeoDataFrame(geometry=[shapely.Point(0, 0), shapely.Point(3, 4)],
    ...                      index=["a", "b"], crs=3006)
    >>> l = pd.DataFrame({"origin": ["a"], "destination": ["b"]})
    >>> links_to_lines(l, p).length.tolist()
    [5.0]
    """
    import geopandas as gpd
    import shapely

    xy = pd.DataFrame(place_coordinates(places), index=places.index, columns=["x", "y"])
    a = xy.reindex(links["origin"]).to_numpy()
    b = xy.reindex(links["destination"]).to_numpy()
    coords = np.stack([a, b], axis=1)
    lines = shapely.linestrings(coords) if len(coords) else np.empty(0, dtype=object)
    out: pd.DataFrame = gpd.GeoDataFrame(links.copy(), geometry=lines, crs=places.crs)
    return out
