"""How well the modelled commuting matches SCB's commuting between kommuner.

Models the flows between all 2,017 tätorter of 2020 (``../shared/geodata/sweden/
tatorter_2020.gpkg``), sums them to kommuner and compares them with SCB's local
labour market workbooks 2020 and 2021 (``../shared/geodata/sweden/scb_la/la_YYYY.csv``,
read by path): for every kommun, ``p1`` (the share of its employed residents working
in another kommun) and ``till`` (the kommun most of them go to). Printed for each
year and model:

- ``n``: kommuner compared (285: the five kommuner without a tätort of their own,
  Järfälla, Salem, Tyresö, Sundbyberg and Solna, whose people live in the Stockholm
  tätort, cannot have a modelled p1);
- ``mean p1`` of the model and of SCB, and ``MAE p1``, the mean absolute difference;
- ``till hit``: the share of kommuner whose largest modelled destination kommun is
  SCB's ``till``.

"before" is strukturbild 0.1's model (``decay = "exponential"``, ``beta = 0.1``,
``max_distance_km = 50``), "after" the defaults (the calibrated mixture). Then the
tätort-level check (the share of a tätort's employed residents working outside it,
for named tätorter and by size, before and after), the flows on the long axes, and
for kommuner whose ``till`` lies 40 km or more away, SCB's ``p2`` (the share working
there) against the modelled share.
SCB's ``till`` and ``p1`` are only compared with, never read by the model.

Run: ``python benchmarks/calibrate_commuting.py`` (about 15 s).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from strukturbild import Flows, LinkParams, model_flows, read_places
from strukturbild.config import PlacesSource

SWEDEN = Path(__file__).resolve().parents[1].parent / "shared" / "geodata" / "sweden"
YEARS = (2020, 2021)
MODELS = {
    "before": LinkParams(decay="exponential", beta=0.1, max_distance_km=50.0),
    "after": LinkParams(),
}
#: Tätorter shown in the tätort-level check, with what is known of them (NOTES of the
#: calibration): Stockholm about 0.10, Göteborg 0.11, Malmö 0.20 leave the tätort.
CASES = ("Stockholm", "Göteborg", "Malmö", "Uppsala", "Helsingborg", "Lund", "Umeå",
         "Kiruna", "Staffanstorp", "Lomma", "Knivsta", "Kungsbacka", "Mölnlycke", "Vännäs")
AXES = (("Malmö", "Helsingborg"), ("Lund", "Helsingborg"), ("Malmö", "Ystad"),
        ("Malmö", "Lund"), ("Stockholm", "Uppsala"), ("Göteborg", "Borås"))


def load_places() -> Any:
    """SCB's 2,017 statistical tätorter 2020 (EPSG:3006)."""
    return read_places(PlacesSource(SWEDEN / "tatorter_2020.gpkg"))


def load_scb(year: int) -> pd.DataFrame:
    """SCB's LA workbook of ``year``: ``namn``, ``till``, ``p1``, ``p2`` by kommun code."""
    d = pd.read_csv(SWEDEN / "scb_la" / f"la_{year}.csv", dtype=str).set_index("kod")
    d[["p1", "p2"]] = d[["p1", "p2"]].astype(float)
    return d[["namn", "till", "p1", "p2"]]


def all_flows(places: Any, params: LinkParams) -> Flows:
    """Every modelled flow (no pair left out), so that the kommun sums are whole."""
    flows, _ = model_flows(places, params=params, min_flow=0.0)
    return flows


def kommun_table(flows: Flows, places: Any) -> pd.DataFrame:
    """Modelled ``p1`` and ``till`` of each kommun from tätort flows."""
    k = flows.aggregate(places["area_id"])
    count = k.count
    o = count.index.get_level_values(0)
    d = count.index.get_level_values(1)
    out = count.groupby(o).sum()
    home = count[o == d].droplevel(1).reindex(out.index, fill_value=0.0)
    away = count[o != d]
    till = away.groupby(level=0).idxmax().map(lambda pair: pair[1])
    return pd.DataFrame({"p1_model": 1.0 - home / out, "till_model": till.reindex(out.index)})


def score(flows: Flows, places: Any, scb: pd.DataFrame) -> dict[str, float]:
    """``n``, ``mean_p1_model``, ``mean_p1_scb``, ``mae_p1``, ``till_hit`` against SCB."""
    m = kommun_table(flows, places).join(scb, how="inner")
    return {
        "n": float(len(m)),
        "mean_p1_model": float(m["p1_model"].mean()),
        "mean_p1_scb": float(m["p1"].mean()),
        "mae_p1": float((m["p1_model"] - m["p1"]).abs().mean()),
        "till_hit": float((m["till_model"] == m["till"]).mean()),
    }


def out_shares(flows: Flows) -> pd.Series:
    """Share of each place's employed residents working outside it."""
    return 1.0 - flows.self_flow() / flows.outflow()


def tatort_check(before: Flows, after: Flows, places: Any, scb: pd.DataFrame) -> str:
    """Out-of-tätort shares of named tätorter and by size, before and after."""
    t = pd.DataFrame({"name": places["name"], "population": places["population"],
                      "before": out_shares(before).reindex(places.index),
                      "after": out_shares(after).reindex(places.index),
                      "kommun_p1_scb": places["area_id"].map(scb["p1"])})
    named = t.sort_values("population").drop_duplicates("name", keep="last").set_index("name")
    lines = [named.loc[list(CASES)].round(3).to_string()]
    t["size"] = pd.cut(t["population"], [0, 1_000, 5_000, 20_000, 100_000, 2_000_000],
                       labels=["200-1k", "1k-5k", "5k-20k", "20k-100k", ">100k"])
    by = t.groupby("size", observed=True)
    lines.append("By size (population-weighted share leaving the tätort):")
    lines.append(pd.DataFrame({
        "n": by.size(),
        "before": by.apply(lambda g: np.average(g["before"], weights=g["population"])),
        "after": by.apply(lambda g: np.average(g["after"], weights=g["population"])),
    }).round(3).to_string())
    return "\n".join(lines)


def axes(before: Flows, after: Flows, places: Any) -> str:
    """Flows both ways on the long axes (the most populous tätort of each name)."""
    biggest = places.sort_values("population").reset_index().groupby("name")["place_id"].last()
    xy = pd.DataFrame({"x": places.geometry.x, "y": places.geometry.y}, index=places.index)
    rows = []
    for a, b in AXES:
        i, j = biggest[a], biggest[b]
        km = float(np.hypot(*(xy.loc[i] - xy.loc[j]))) / 1000
        got = [f.count.get((s, t), 0.0) for f in (after, before) for s, t in ((i, j), (j, i))]
        rows.append(f"  {a:>10} <-> {b:<12} {km:5.1f} km  after {got[0]:7.0f} / {got[1]:7.0f}"
                    f"  before {got[2]:7.0f} / {got[3]:7.0f}")
    return "\n".join(rows)


def long_shares(flows: dict[str, Flows], places: Any, scb: pd.DataFrame) -> str:
    """Where SCB's ``till`` lies 40 km or more away (between the two kommuner's largest
    tätorter): SCB's ``p2`` (the share of employed residents working in ``till``)
    against the modelled share, for named kommuner and as the median ratio."""
    biggest = places.sort_values("population").reset_index().groupby("area_id")[
        "place_id"].last()
    xy = pd.DataFrame({"x": places.geometry.x, "y": places.geometry.y}, index=places.index)
    shares = {}
    for name, f in flows.items():
        count = f.aggregate(places["area_id"]).count
        out = count.groupby(level=0).sum()
        shares[name] = count / out.reindex(count.index.get_level_values(0)).to_numpy()
    rows = []
    for kod, r in scb.iterrows():
        if kod not in biggest.index or r["till"] not in biggest.index:
            continue
        a, b = xy.loc[biggest[kod]], xy.loc[biggest[r["till"]]]
        km = float(np.hypot(a["x"] - b["x"], a["y"] - b["y"])) / 1000
        if km >= 40:
            rows.append({"kommun": r["namn"], "till": scb.loc[r["till"], "namn"], "km": km,
                         "p2_scb": r["p2"],
                         **{f"p2_{k}": float(v.get((kod, r["till"]), 0.0))
                            for k, v in shares.items()}})
    t = pd.DataFrame(rows)
    named = t[t["kommun"].isin(["Helsingborg", "Ystad", "Uppsala", "Trollhättan", "Eslöv",
                                "Landskrona"])]
    lines = [named.round(3).to_string(index=False)]
    for k in flows:
        lines.append(f"  median model/SCB over the {len(t)} kommuner: {k} "
                     f"{float(np.median(t[f'p2_{k}'] / t['p2_scb'])):.2f}")
    return "\n".join(lines)


def main() -> int:
    if not (SWEDEN / "scb_la" / "la_2020.csv").is_file():
        print(f"the shared data is not at {SWEDEN}", file=sys.stderr)
        return 2
    places = load_places()
    flows = {}
    for name, params in MODELS.items():
        t0 = time.perf_counter()
        flows[name] = all_flows(places, params)
        print(f"{name}: {len(places)} places, {len(flows[name]):,} flows in "
              f"{time.perf_counter() - t0:.1f} s")
    print("\nKommun level (tätort flows summed to kommuner):")
    print(f"  {'year':<5} {'model':<7} {'n':>4} {'mean p1':>8} {'SCB':>6} {'MAE p1':>7} "
          f"{'till hit':>9}")
    for year in YEARS:
        scb = load_scb(year)
        for name in MODELS:
            s = score(flows[name], places, scb)
            print(f"  {year:<5} {name:<7} {s['n']:4.0f} {s['mean_p1_model']:8.3f} "
                  f"{s['mean_p1_scb']:6.3f} {s['mae_p1']:7.4f} {100 * s['till_hit']:8.1f} %")
    print("\nTätort level: share of employed residents working outside their tätort")
    print(tatort_check(flows["before"], flows["after"], places, load_scb(2020)))
    print("\nLong axes (commuters a day, each way):")
    print(axes(flows["before"], flows["after"], places))
    print("\nKommuner whose 'till' is 40+ km away: share of employed residents working in "
          "it (SCB p2 2020 and modelled)")
    print(long_shares(flows, places, load_scb(2020)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
