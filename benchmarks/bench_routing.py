"""Benchmark of the routing behind the stråk: every link of Sweden on a 50,000+ edge network.

The links are those a national build makes: SCB's 2,017 statistical tätorter 2020
(``../shared/geodata/sweden/tatorter_2020.gpkg``, read by path) with modelled commuting
(the default model, pairs of 50+ commuters a day: about 3,800 links). The network is
generated as a stand-in for a national road network: the Gabriel graph of the places
and of ``--points`` (default 30,000) random points over Sweden's land (SCB's kommuner,
``kommuner.gpkg``; seeded, ``--seed``), kept over land and joined across the water by
the fixed links (:func:`strukturbild.analysis.network.generated_network`), so at least
50,000 edges. Every link's flow is routed on it
(:func:`~strukturbild.analysis.network.route_flows`: scipy's Dijkstra with
predecessors, one search per origin, in chunks) and the stråk found.

Printed for each step: the time and the peak resident memory above what the process
held before it (``VmHWM`` reset through ``/proc/self/clear_refs``; Linux only). The
baselines run in the same process: building the network (the Gabriel graph and the
land test), and routing the same links on the network of the places alone (2,017
nodes, what a build without infrastructure layers uses); the ratios are printed.

Run: ``python benchmarks/bench_routing.py`` (about a minute).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

SWEDEN = Path(__file__).resolve().parents[1].parent / "shared" / "geodata" / "sweden"


def _status(key: str) -> float:
    """A ``/proc/self/status`` field in MiB (NaN where there is none)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def measure(label: str, step: Callable[[], Any]) -> tuple[Any, float, float]:
    """Run ``step``; print and return its result, seconds and peak RSS above the start."""
    with contextlib.suppress(OSError):  # reset the resident-set high-water mark (Linux)
        Path("/proc/self/clear_refs").write_text("5")
    before = _status("VmRSS")
    t0 = time.perf_counter()
    out = step()
    seconds = time.perf_counter() - t0
    rss = _status("VmHWM") - before
    print(f"  {label:<46} {seconds:8.2f} s {rss:9.0f} MiB", flush=True)
    return out, seconds, rss


def national_links() -> tuple[Any, Any]:
    """SCB's tätorter and the links a national build models between them."""
    from strukturbild import LinkParams, read_places
    from strukturbild.analysis.links import links_from_flows, modelled_commuting
    from strukturbild.config import PlacesSource

    places = read_places(PlacesSource(SWEDEN / "tatorter_2020.gpkg"))
    model = modelled_commuting(places, params=LinkParams())
    measures = {"employed": model.employed, "jobs": model.jobs}
    import pandas as pd

    links = links_from_flows(model.flows, pd.DataFrame(measures), params=LinkParams())
    return places, links


def land_points(n: int, seed: int) -> tuple[np.ndarray[Any, Any], Any]:
    """``n`` random points over Sweden's land (SCB's kommuner), and the land."""
    import geopandas as gpd
    import shapely

    kommuner = gpd.read_file(SWEDEN / "kommuner.gpkg").to_crs(3006)
    land = shapely.union_all(kommuner.geometry.to_numpy())
    shapely.prepare(land)
    x0, y0, x1, y1 = land.bounds
    rng = np.random.default_rng(seed)
    out: list[np.ndarray[Any, Any]] = []
    got = 0
    while got < n:
        xy = np.column_stack([rng.uniform(x0, x1, 4 * n), rng.uniform(y0, y1, 4 * n)])
        xy = xy[shapely.contains_xy(land, xy[:, 0], xy[:, 1])]
        out.append(xy)
        got += len(xy)
    return np.vstack(out)[:n], land


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=30_000,
                    help="random points over the land besides the places (default 30000)")
    ap.add_argument("--seed", type=int, default=20241207)
    args = ap.parse_args()
    if not (SWEDEN / "tatorter_2020.gpkg").exists():
        print(f"shared data not found at {SWEDEN}", file=sys.stderr)
        return 2
    from strukturbild.analysis.network import find_strak, generated_network, route_flows
    from strukturbild.analysis.places import place_coordinates

    print(f"{'step':<48} {'time':>10} {'peak RSS':>13}")
    (places, links), _, _ = measure("places and modelled links", national_links)
    (extra, land), _, _ = measure(f"{args.points:,} random points over the land",
                                  lambda: land_points(args.points, args.seed))
    xy = place_coordinates(places)
    ids = [str(i) for i in places.index]
    position = {k: i for i, k in enumerate(ids)}
    o = np.array([position[str(v)] for v in links["origin"]])
    d = np.array([position[str(v)] for v in links["destination"]])
    fod, fdo = links["flow_od"].to_numpy(), links["flow_do"].to_numpy()
    big, build_s, _ = measure(
        "network: places + points, Gabriel over land",
        lambda: generated_network(np.vstack([xy, extra]),
                                  ids + [f"x{i}" for i in range(len(extra))], land=land,
                                  crs="EPSG:3006"))
    routed, route_s, route_mb = measure(
        f"route {len(links):,} links ({big.n_edges:,} edges)",
        lambda: route_flows(big, o, d, fod, fdo))
    labelled = np.zeros(len(big.place_ids), dtype=bool)
    labelled[: len(ids)] = places["population"].to_numpy() >= 20_000
    top = np.zeros(len(big.place_ids), dtype=bool)
    top[np.argsort(-places["population"].to_numpy())[:3]] = True
    names = [str(n) for n in places["name"]] + [""] * len(extra)
    found, _, _ = measure("find the stråk", lambda: find_strak(
        big, routed, names=names, labelled=labelled, split=top, max_count=12))
    small, small_build_s, _ = measure("baseline: network of the places alone",
                                      lambda: generated_network(xy, ids, land=land,
                                                                crs="EPSG:3006"))
    _, base_s, base_mb = measure(
        f"baseline: route on it ({small.n_edges:,} edges)",
        lambda: route_flows(small, o, d, fod, fdo))
    print()
    print(f"network: {big.n_nodes:,} nodes, {big.n_edges:,} edges "
          f"({'at least' if big.n_edges >= 50_000 else 'FEWER THAN'} 50,000); "
          f"fixed links used: {len(big.fixed_links)}")
    count = np.bincount(np.concatenate([o, d]))
    searches = len(np.unique(np.where(count[d] > count[o], d, o)))
    print(f"links: {len(links):,}, routed {int(routed.routed.sum()):,} "
          f"(not routed: {int((~routed.routed).sum())}, places on islands without a fixed "
          f"link); {searches:,} searches (one per origin, from the end with more links)")
    print(f"edges with flow: {int((routed.total > 0).sum()):,}; flow x edges "
          f"{routed.total.sum():,.0f} = sum of link flow x hops "
          f"{float(((fod + fdo) * np.maximum(routed.hops, 0)).sum()):,.0f}")
    print(f"stråk: {', '.join(s.name for s in found[:5] if s.name)} …")
    print(f"ratios: routing / building the network {route_s / build_s:.2f}; routing on "
          f"{big.n_edges:,} edges / on the places' {small.n_edges:,} edges "
          f"{route_s / base_s:.1f}x (peak RSS {route_mb:.0f} / {base_mb:.0f} MiB); "
          f"building {build_s / small_build_s:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
