"""Scale benchmark: a whole ``build`` (HTML, GeoPackage, JSON) from 2,017 to 200,000 places.

Places beyond the real 2,017 tätorter are synthetic (:func:`synthetic_places`): points
spread over Sweden's extent in EPSG:3006, clustered around 290 made-up kommun seats,
with SCB-shaped codes, Swedish-looking names and a population distribution fitted to
SCB's tätorter 2020 (median about 650, one place in 120 above 100,000), and jobs (the
employed residents, half the population, times a job ratio around 0.6, as
bench_model.py). The kommuner are the Voronoi cells of their seats, clipped to a rough
outline of Sweden. With jobs and kommuner a build models the commuting as it does for
SCB's tätorter: jobs as the destination mass, the own flow bounded by them, and one
destination per kommun for the jobs outside the places; the real 2,017 tätorter get
SCB's jobs 2024 joined by code.

Each size runs in a fresh process: the script prints the wall-clock time of every
stage (reading; the modelled commuting; measures and roles; links; the rest of the
image; HTML, GeoPackage, JSON), the CPU time, the peak resident memory of the run and
of each stage (sampled every 5 ms), and then the fitted growth exponent of the whole
run and of each stage over the synthetic sizes (the slope of log time over log size).
The baseline, measured in the same process before the run, is reading the inputs
alone: it grows linearly, and the whole run should grow like it.

It then writes a dense flow table of ``--flow-units`` x ``--flow-units`` rows (25 M
for 5,000) to a temporary folder and reads it as a build does, in a fresh process,
with its time and peak memory (or the refusal, when the machine lacks the memory a
build with it would need).

    python benchmarks/bench_scale.py                       # 2,017 real, 10k, 50k, 200k
    python benchmarks/bench_scale.py --sizes 5000,20000 --no-flows

The real tätorter are read from ../shared (never copied into the repository); without
them the 2,017 row is synthetic too.
"""


import argparse
import gc
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

SWEDEN = Path(__file__).resolve().parents[1].parent / "shared" / "geodata" / "sweden"

#: A rough outline of Sweden in EPSG:3006 (SWEREF 99 TM), clockwise from Smygehuk:
#: enough to spread points over the country's real extent and shape.
OUTLINE = (
    (387000, 6136000), (361000, 6145000), (357000, 6215000), (318000, 6400000),
    (284000, 6540000), (283000, 6590000), (330000, 6700000), (345000, 6860000),
    (372000, 7030000), (450000, 7200000), (530000, 7400000), (620000, 7560000),
    (750000, 7660000), (830000, 7500000), (915000, 7325000), (835000, 7290000),
    (760000, 7085000), (620000, 6920000), (620000, 6730000), (720000, 6640000),
    (690000, 6560000), (620000, 6510000), (585000, 6280000), (530000, 6225000),
    (440000, 6145000),
)
#: Län codes in use, south to north roughly (Skåne first, Norrbotten last).
LAN = ("12", "10", "07", "13", "08", "06", "14", "05", "09", "04", "17", "03", "01",
       "19", "18", "20", "21", "22", "23", "24", "25")
_PREFIX = ("Stor", "Lill", "Norr", "Söder", "Väster", "Öster", "Berg", "Sjö", "Lund",
           "Ek", "Björk", "Gran", "Ås", "Hög", "Myr", "Kvarn", "Bro", "Hamn", "Sand",
           "Sten", "Hem", "Ny", "Gammel", "Kyrk", "Mal", "Tall", "Al", "Ask", "Hag", "Vik")
_MIDDLE = ("", "", "", "a", "e", "s", "sta", "ne", "by", "lunda")
_SUFFIX = ("by", "torp", "köping", "hamn", "vik", "sund", "berg", "dal", "näs", "fors",
           "ås", "holm", "stad", "å", "bo", "ryd", "hult", "tuna", "sjö", "ed", "red",
           "måla", "bäck", "strand", "backe")


def _populations(rng: np.random.Generator, n: int) -> np.ndarray:
    """Populations shaped like SCB's tätorter 2020: 200 at least, a quarter above 2,000
    (Pareto α = 0.6 below it), a tail of α = 0.95 above, none above 1.7 million."""
    survival = 1.0 - rng.random(n)                        # in (0, 1]
    body = 200.0 * survival ** (-1 / 0.6)                   # 200 … 2,016
    tail = 200.0 * 0.25 ** (-1 / 0.6) * (survival / 0.25) ** (-1 / 0.95)
    pop = np.where(survival > 0.25, body, tail)
    return np.minimum(np.rint(pop), 2_000_000).astype(np.int64)


def synthetic_sweden(n: int, *, seed: int = 2020, kommuner: int = 290
                     ) -> tuple[Any, Any]:
    """``n`` synthetic tätorter over Sweden's extent, and their kommuner.

    Returns ``(places, kommuner)`` as GeoDataFrames in EPSG:3006. Places carry
    ``tatort_code`` (``KKKKTXnnn``, unique, prefixed by the kommun code),
    ``tatort_name``, ``kommun_code``, ``kommun_name``, ``population`` and ``jobs``; kommuner
    ``kommun_code`` and ``kommun_name`` with a polygon each. The same ``n`` and
    ``seed`` give the same frames.

    Examples
    --------
    >>> places, areas = synthetic_sweden(500, kommuner=20)
    >>> len(places), len(areas), bool(places["tatort_code"].is_unique)
    (500, 20, True)
    >>> bool((places["tatort_code"].str[:4] == places["kommun_code"]).all())
    True
    """
    import geopandas as gpd
    import shapely

    rng = np.random.default_rng(seed)
    land = shapely.Polygon(OUTLINE)
    x0, y0, x1, y1 = land.bounds

    def inside(count: int) -> np.ndarray:
        out = np.empty((0, 2))
        while len(out) < count:
            xy = rng.uniform((x0, y0), (x1, y1), size=(2 * count + 16, 2))
            ok = shapely.contains_xy(land, xy[:, 0], xy[:, 1])
            out = np.vstack([out, xy[ok]])
        return out[:count]

    seats = inside(kommuner)
    seats = seats[np.argsort(seats[:, 1], kind="stable")]  # south to north
    per_lan = math.ceil(kommuner / len(LAN))
    codes = [f"{LAN[i // per_lan]}{10 + i % per_lan:02d}" for i in range(kommuner)]
    names = [f"{_PREFIX[i % len(_PREFIX)]}{_SUFFIX[(i * 7) % len(_SUFFIX)]}s kommun"
             for i in range(kommuner)]
    cells = shapely.voronoi_polygons(shapely.multipoints(seats), extend_to=land)
    cells = [c.intersection(land) for c in shapely.get_parts(cells)]
    seat_points = shapely.points(seats)
    order = [next(j for j, c in enumerate(cells) if c.contains(p)) for p in seat_points]
    areas = gpd.GeoDataFrame({"kommun_code": codes, "kommun_name": names},
                             geometry=[cells[j] for j in order], crs="EPSG:3006")

    # Most places cluster around a seat (within about 25 km), a fifth spread evenly.
    clustered = int(n * 0.8)
    around = rng.integers(0, kommuner, size=clustered)
    xy = seats[around] + rng.normal(0.0, 12_000.0, size=(clustered, 2))
    ok = shapely.contains_xy(land, xy[:, 0], xy[:, 1])
    xy = np.vstack([xy[ok], inside(n - int(ok.sum()))])
    pts = shapely.points(xy)
    tree = shapely.STRtree(shapely.points(seats))
    kommun = tree.query_nearest(pts, return_distance=False, all_matches=False)[1]
    pop = _populations(rng, n)
    # codes: KKKK T X nnn, X from B (as SCB's TB, TC, …) counting thousands
    rank = np.zeros(n, dtype=np.int64)
    seen = np.zeros(kommuner, dtype=np.int64)
    for i, k in enumerate(kommun):  # numbered in the order they were drawn
        rank[i] = seen[k]
        seen[k] += 1
    letters = np.array(list("BCDEFGHIJKLMNOPQRSTUVWXYZ"))
    kcodes = np.array(codes, dtype=object)[kommun]
    tcodes = [f"{k}T{letters[r // 1000]}{r % 1000:03d}" for k, r in zip(kcodes, rank,
                                                                         strict=True)]
    pick = rng.integers(0, [len(_PREFIX), len(_MIDDLE), len(_SUFFIX)], size=(n, 3))
    tnames = [f"{_PREFIX[a]}{_MIDDLE[b]}{_SUFFIX[c]}" for a, b, c in pick]
    # jobs from their own stream, so that the places are those of earlier versions
    ratio = np.exp(np.random.default_rng(seed + 1).normal(np.log(0.6), 0.6, n))
    places = gpd.GeoDataFrame({
        "tatort_code": tcodes, "tatort_name": tnames, "kommun_code": kcodes,
        "kommun_name": np.array(names, dtype=object)[kommun], "population": pop,
        "jobs": np.round(0.5 * pop * ratio),
    }, geometry=pts, crs="EPSG:3006")
    return places, areas


# --------------------------------------------------------------------------- measuring

#: The stages of a run, and the progress message each ends with (``build``'s own).
STAGES = ("read", "model", "roles", "links", "image", "html", "gpkg", "json")
_ENDS = (("read ", "read"), ("modelled commuting", "model"), ("classified roles", "roles"),
         ("made ", "links"))


class _Peak:
    """The process's resident memory, sampled every 5 ms in a thread: the peak since
    the last :meth:`mark` (so per stage), and over the whole run."""

    def __init__(self) -> None:
        import threading

        self.page = os.sysconf("SC_PAGE_SIZE")
        self.stage = self.total = self._now()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _now(self) -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * self.page

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            now = self._now()
            self.stage, self.total = max(self.stage, now), max(self.total, now)

    def mark(self) -> int:
        """The peak since the last mark (bytes); starts the next stage."""
        now = self._now()
        out = max(self.stage, now)
        self.stage = now
        self.total = max(self.total, now)
        return out

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Run:
    """One size: seconds and peak memory (MiB) per stage, totals, counts."""

    n: int
    source: str
    seconds: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    peak_mib: dict[str, float] = field(default_factory=dict)
    baseline_s: float = 0.0
    total_s: float = 0.0
    cpu_s: float = 0.0
    peak_total_mib: float = 0.0
    links: int = 0


def _inputs(n: int, folder: Path) -> tuple[Path, Path, str]:
    """Places and kommuner for ``n`` places written to ``folder``: the real 2,017
    tätorter for 2,017 when ../shared has them (with their jobs), else synthetic ones."""
    if n == 2017 and (SWEDEN / "tatorter_2020.gpkg").is_file() \
            and (SWEDEN / "jobs" / "tatort_jobs_2024.csv").is_file():
        return SWEDEN / "tatorter_2020.gpkg", SWEDEN / "kommuner.gpkg", "SCB tätorter 2020"
    places, areas = synthetic_sweden(n)
    places.to_file(folder / "places.gpkg", engine="pyogrio")
    areas.to_file(folder / "kommuner.gpkg", engine="pyogrio")
    return folder / "places.gpkg", folder / "kommuner.gpkg", "synthetic"


def measure(n: int, folder: Path) -> Run:
    """A whole build of ``n`` places and its three outputs, stage by stage; the
    baseline is reading the inputs alone, in the same process, before."""
    from strukturbild import write_geopackage, write_html, write_summary
    from strukturbild.config import project_from_dict
    from strukturbild.pipeline import build, read_inputs

    def project_of(places: Path, areas: Path) -> Any:
        source: dict[str, Any] = {"path": str(places)}
        if places.parent == SWEDEN:  # SCB's tätorter: their jobs joined by code
            source["jobs"] = {"path": str(SWEDEN / "jobs" / "tatort_jobs_2024.csv"),
                              "key": "tatort_code"}
        return project_from_dict({
            "project": {"name": "skala"}, "places": source, "areas": {"path": str(areas)},
        }, base_dir=folder)

    # warm up: imports, caches and templates, on a few places (not measured)
    (folder / "warm").mkdir(exist_ok=True)
    warm = build(project_of(*_inputs(300, folder / "warm")[:2]))
    write_html(warm, folder / "warm" / "warm.html")
    write_geopackage(warm, folder / "warm" / "warm.gpkg")
    places, areas, source = _inputs(n, folder)
    project = project_of(places, areas)
    run = Run(n, source)
    peak = _Peak()
    t0 = time.perf_counter()
    read_inputs(project)
    run.baseline_s = time.perf_counter() - t0
    gc.collect()
    peak.mark()
    clock = [time.perf_counter(), time.process_time()]
    start, c0 = clock

    def stage(name: str) -> None:
        now, cpu = time.perf_counter(), time.process_time()
        run.seconds[name] = run.seconds.get(name, 0.0) + now - clock[0]
        run.cpu[name] = run.cpu.get(name, 0.0) + cpu - clock[1]
        run.peak_mib[name] = max(run.peak_mib.get(name, 0.0), peak.mark() / 2**20)
        clock[:] = [now, cpu]

    def progress(msg: str) -> None:
        for prefix, name in _ENDS:
            if msg.startswith(prefix) and name not in run.seconds:
                stage(name)
                return

    image = build(project, progress=progress)
    stage("image")
    write_html(image, folder / "skala.html")
    stage("html")
    write_geopackage(image, folder / "skala.gpkg")
    stage("gpkg")
    write_summary(image, folder / "skala.json")
    stage("json")
    run.total_s = time.perf_counter() - start
    run.cpu_s = time.process_time() - c0
    peak.close()
    run.peak_total_mib = peak.total / 2**20
    run.links = len(image.links)
    return run


def _child(n: int, out: Path) -> None:
    """Measure one size and write the result as JSON (run in its own process, so that
    its peak memory is its own)."""
    import json

    with tempfile.TemporaryDirectory() as tmp:
        run = measure(n, Path(tmp))
    out.write_text(json.dumps(run.__dict__))


def run_size(n: int) -> Run:
    """:func:`measure` in a fresh Python process."""
    import json
    import subprocess

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run.json"
        subprocess.run([sys.executable, __file__, "--one", str(n), "--out", str(out)],
                       check=True)
        return Run(**json.loads(out.read_text()))


def growth(sizes: list[int], seconds: list[float]) -> float:
    """The exponent ``k`` of ``time ~ n^k`` fitted by least squares on log-log.

    Examples
    --------
    >>> round(growth([1000, 2000, 4000], [1.0, 4.0, 16.0]), 3)
    2.0
    """
    x, y = np.log(np.asarray(sizes, dtype=float)), np.log(np.asarray(seconds, dtype=float))
    return float(np.polyfit(x, y, 1)[0])


# --------------------------------------------------------------------------- flow tables


def write_dense_flows(path: Path, units: int, *, seed: int = 1) -> int:
    """A dense flow table, every ordered pair of ``units`` synthetic tätort codes with
    a count from 0 to 199, as CSV (``origin,destination,count``); returns its rows.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "f.csv"
    >>> write_dense_flows(p, 3)
    9
    >>> p.read_text().splitlines()[:2]
    ['origin,destination,count', '0101TB000,0101TB000,35']
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    codes = np.array([f"{1 + i // 1000 % 99:02d}{1 + i // 99000:02d}TB{i % 1000:03d}"
                      for i in range(units)], dtype=object)
    step = max(1, 4_000_000 // units)
    schema = pa.schema([("origin", pa.string()), ("destination", pa.string()),
                        ("count", pa.int32())])
    with pacsv.CSVWriter(path, schema,
                         write_options=pacsv.WriteOptions(quoting_style="none")) as w:
        for a in range(0, units, step):
            o = np.repeat(codes[a:a + step], units)
            d = np.tile(codes, len(codes[a:a + step]))
            c = rng.integers(0, 200, size=len(o), dtype=np.int32)
            w.write_table(pa.table({"origin": o, "destination": d, "count": c},
                                   schema=schema))
    return units * units


def _flows_child(path: Path, out: Path) -> None:
    """Read a flow table as a build reads it, into :class:`Flows`; write seconds and
    peak memory as JSON (or the refusal)."""
    import json

    from strukturbild.config import FlowsSource
    from strukturbild.errors import StrukturbildError
    from strukturbild.pipeline import read_flows

    peak = _Peak()
    t0 = time.perf_counter()
    try:
        flows = read_flows(FlowsSource(path))
        result: dict[str, Any] = {"pairs": len(flows)}
    except StrukturbildError as exc:
        result = {"refused": str(exc)}
    result["seconds"] = time.perf_counter() - t0
    peak.close()
    result["peak_mib"] = peak.total / 2**20
    out.write_text(json.dumps(result))


def run_flows(units: int) -> dict[str, Any]:
    """Write a dense ``units`` x ``units`` flow table to a temporary folder and read it
    in a fresh process."""
    import json
    import subprocess

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "flows.csv"
        t0 = time.perf_counter()
        rows = write_dense_flows(path, units)
        made = time.perf_counter() - t0
        out = Path(tmp) / "flows.json"
        subprocess.run([sys.executable, __file__, "--flows-one", str(path), "--out",
                        str(out)], check=True)
        result: dict[str, Any] = json.loads(out.read_text())
        result.update(rows=rows, mib=path.stat().st_size / 2**20, written_s=made)
        return result


# --------------------------------------------------------------------------- report


def _table(runs: list[Run]) -> str:
    head = (f"{'places':>8} {'source':>10} {'total s':>8} {'cpu s':>7} {'read-only s':>11} "
            f"{'peak MiB':>9} {'links':>8}   " + " ".join(f"{s:>7}" for s in STAGES))
    lines = [head, "-" * len(head)]
    for r in runs:
        lines.append(f"{r.n:>8,} {r.source[:10]:>10} {r.total_s:8.2f} {r.cpu_s:7.2f} "
                     f"{r.baseline_s:11.2f} {r.peak_total_mib:9.0f} {r.links:8,}   "
                     + " ".join(f"{r.seconds.get(s, 0.0):7.2f}" for s in STAGES))
    lines.append(f"{'':>8} {'':>10} {'':>8} {'':>7} {'':>11} {'':>9} {'':>8}   "
                 + " ".join(f"{'(s)':>7}" for _ in STAGES))
    for r in runs:
        lines.append(f"{r.n:>8,} cpu s per stage{'':>43}"
                     + " ".join(f"{r.cpu.get(s, 0.0):7.2f}" for s in STAGES))
    for r in runs:
        lines.append(f"{r.n:>8,} peak MiB per stage{'':>40}"
                     + " ".join(f"{r.peak_mib.get(s, 0.0):7.0f}" for s in STAGES))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="2017,10000,50000,200000",
                    help="places per run, comma-separated (default: %(default)s)")
    ap.add_argument("--flow-units", type=int, default=5000,
                    help="units of the dense flow table (default: %(default)s, 25 M rows)")
    ap.add_argument("--no-flows", action="store_true", help="leave the flow table out")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--flows-one", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one is not None:
        _child(args.one, args.out)
        return 0
    if args.flows_one is not None:
        _flows_child(args.flows_one, args.out)
        return 0
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    runs = []
    for n in sizes:
        print(f"measuring {n:,} places …", file=sys.stderr, flush=True)
        runs.append(run_size(n))
    print(_table(runs))
    synthetic = [r for r in runs if r.source == "synthetic"]
    if len(synthetic) >= 2:
        ns = [r.n for r in synthetic]
        print(f"\ngrowth exponent k (time ~ n^k, synthetic {min(ns):,}-{max(ns):,} places):")
        print(f"  whole run {growth(ns, [r.total_s for r in synthetic]):.2f}"
              f" (cpu {growth(ns, [r.cpu_s for r in synthetic]):.2f}); reading alone "
              f"(baseline) {growth(ns, [r.baseline_s for r in synthetic]):.2f}; peak memory "
              f"{growth(ns, [r.peak_total_mib for r in synthetic]):.2f}")
        for label, of in (("wall", "seconds"), ("cpu", "cpu")):
            print(f"  by stage ({label}): " + ", ".join(
                f"{s} {growth(ns, [max(getattr(r, of).get(s, 0.0), 1e-3) for r in synthetic]):.2f}"
                for s in STAGES))
    if not args.no_flows:
        units = args.flow_units
        print(f"\nmeasuring a dense flow table of {units:,} x {units:,} …", file=sys.stderr,
              flush=True)
        f = run_flows(units)
        print(f"\ndense flow table {units:,} x {units:,}: {f['rows']:,} rows, "
              f"{f['mib']:,.0f} MiB CSV (written in {f['written_s']:.1f} s)")
        if "refused" in f:
            print(f"  refused after {f['seconds']:.2f} s, peak {f['peak_mib']:,.0f} MiB: "
                  f"{f['refused']}")
        else:
            print(f"  read into {f['pairs']:,} flows in {f['seconds']:.1f} s, peak memory "
                  f"{f['peak_mib']:,.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
