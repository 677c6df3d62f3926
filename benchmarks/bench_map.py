"""Benchmark of the web map on the whole country, beside ``geopandas.explore()``.

Builds the whole-country project (SCB's 2,017 tätorter 2020, the 290 kommuner as
base, and the links the default project makes: modelled, 50 km) from a project file
written to a temporary folder that points at the shared files
(``<repo>/../shared/geodata/sweden``; nothing is copied into the repository). Then
it writes

- strukturbild's map (``web_map_html``), and
- ``geopandas.explore()`` of the same layers: the kommuner, the tätorter and the
  links the map draws (see :func:`strukturbild.render.web.map_links`), no tiles,

opens each in headless Chromium (Debian's ``/usr/bin/chromium``) with the network
blocked, and prints the file size, the draw time (milliseconds from navigation
until two frames after the load event; the median of ``--repeat`` loads in one
browser) and the requests the page made. explore()'s page loads Leaflet, jQuery,
Bootstrap and Font Awesome from CDNs: those requests are answered from the
installed Leaflet package (Leaflet) or with an empty file (the rest), so that its
draw time is not a network time; its size is the HTML alone.

Run: ``python benchmarks/bench_map.py`` (``--repeat N``, ``--out DIR`` keeps the
pages, ``--all-links`` also draws every link).

Since 0.2 the map also draws its base geography (sea, the neighbouring countries'
land from Natural Earth, län borders; :mod:`strukturbild.sources.base`); the figures
0.1.0 gave on the same machine are printed beside the new ones (:data:`BASELINE_01`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SWEDEN = REPO.parent / "shared" / "geodata" / "sweden"
MIB = 1024 * 1024
#: strukturbild 0.1.0 (main at 9b20bdc, no base geography) on the same machine, median
#: of 5 loads: page bytes and draw time in ms.
BASELINE_01 = {"bytes": 565_191, "ms": 512.0}
sys.path.insert(0, str(REPO))

from tests._support.browser import (  # noqa: E402
    PageLog,
    browser,
    chromium_missing,
    drawn_at,
    open_map,
)

PROJECT = f"""
[project]
name = "sverige"
title = "Strukturbild för Sverige"

[places]
path = "{(SWEDEN / 'tatorter_2020.gpkg').as_posix()}"

[places.columns]
place_id = "tatort_code"
name = "tatort_name"
area_id = "kommun_code"
area_name = "kommun_name"

[areas]
path = "{(SWEDEN / 'kommuner.gpkg').as_posix()}"

[areas.columns]
area_id = "kommun_code"
name = "kommun_name"

[map]
source_note = "Källa: SCB, statistiska tätorter 2020 och kommungränser (CC0)"
"""


def build_country(folder: Path) -> Any:
    """The whole-country StructureImage, from a project file in ``folder``."""
    from strukturbild.config import load_project
    from strukturbild.pipeline import build

    (folder / "sverige.toml").write_text(PROJECT, encoding="utf-8")
    return build(load_project(folder / "sverige.toml"))


def explore_html(image: Any, links: Any) -> str:
    """geopandas.explore() of the kommuner, the tätorter and ``links``, no tiles."""
    m = image.areas.explore(tiles=None, name="kommuner")
    image.places[["name", "population", "role", "geometry"]].astype(
        {"role": str}).explore(m=m, name="tätorter")
    links[["origin", "destination", "total", "link_class", "geometry"]].explore(
        m=m, name="samband")
    return str(m.get_root().render())


def serve_cdn(url: str) -> tuple[bytes, str] | None:
    """Leaflet's files for explore()'s CDN links, an empty file for its other assets."""
    static = resources.files("js_lib_leaflet") / "static" / "js_lib_leaflet"
    kind = "text/css" if url.endswith(".css") else "text/javascript"
    if "leaflet@" in url or url.endswith(("/leaflet.js", "/leaflet.css")):
        return (static / ("leaflet.css" if kind == "text/css" else "leaflet.js")).read_bytes(), kind
    if url.endswith((".js", ".css")):
        return b"", kind
    return None


def measure(context: Any, path: Path, repeat: int, serve: Any = None) -> dict[str, Any]:
    times, requests, errors = [], 0, 0
    for _ in range(repeat):
        log = PageLog()
        page = open_map(context, path, log, serve=serve)
        times.append(drawn_at(page))
        requests, errors = len(log.requests), len(log.console_errors) + len(log.page_errors)
        page.close()
    return {"bytes": path.stat().st_size, "ms": statistics.median(times), "requests": requests,
            "errors": errors, "all_ms": times}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--all-links", action="store_true")
    args = parser.parse_args(argv)
    if not SWEDEN.is_dir():
        print(f"the shared geodata is not at {SWEDEN}", file=sys.stderr)
        return 2
    why = chromium_missing()
    if why:
        print(why, file=sys.stderr)
        return 2

    from strukturbild.render.web import map_links, web_map_html

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.out or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        image = build_country(folder)
        print(f"built the project in {time.perf_counter() - t:.1f} s: {len(image.places)} "
              f"tätorter, {len(image.areas)} kommuner, {len(image.links)} links "
              f"({int((image.links['link_class'] != 'weak').sum())} strong or medium)")
        drawn, threshold = map_links(image.links)
        pages: dict[str, tuple[Path, Any]] = {}
        t = time.perf_counter()
        ours = folder / "strukturbild.html"
        page = web_map_html(image, image.options(source_note="Källa: SCB (CC0)"))
        ours.write_text(page, encoding="utf-8")
        data = json.loads(page.split('id="strukturbild-data">')[1].split("</script>")[0])
        print("page data by layer (bytes): " + ", ".join(
            f"{k} {len(json.dumps(data[k], separators=(',', ':'))):,}"
            for k in ("base", "areas", "links", "places") if k in data))
        which = "all" if threshold is None else f"weak ones from {threshold} commuters"
        print(f"strukturbild: {len(drawn)} links drawn ({which}), "
              f"written in {time.perf_counter() - t:.1f} s")
        pages["strukturbild"] = (ours, None)
        explored = folder / "explore.html"
        explored.write_text(explore_html(image, drawn), encoding="utf-8")
        pages["geopandas.explore()"] = (explored, serve_cdn)
        if args.all_links:
            every = folder / "strukturbild_all_links.html"
            every.write_text(web_map_html(image, image.options(min_link_flow=0)),
                             encoding="utf-8")
            pages[f"strukturbild, all {len(image.links)} links"] = (every, None)

        results = {}
        with browser(Path(tmp) / "profile") as context:
            open_map(context, ours, PageLog()).close()  # warm the browser up once
            for name, (path, serve) in pages.items():
                results[name] = measure(context, path, args.repeat, serve)

    print(f"\n{'map':<36}{'size':>14}{'MiB':>7}{'draw ms':>9}{'requests':>9}{'errors':>7}")
    for name, r in results.items():
        print(f"{name:<36}{r['bytes']:>14,}{r['bytes'] / MIB:>7.2f}{r['ms']:>9.0f}"
              f"{r['requests']:>9}{r['errors']:>7}")
    a, b = results["strukturbild"], results["geopandas.explore()"]
    print(f"{'strukturbild 0.1.0 (no base)':<36}{BASELINE_01['bytes']:>14,}"
          f"{BASELINE_01['bytes'] / MIB:>7.2f}{BASELINE_01['ms']:>9.0f}")
    print(f"\nratio strukturbild / explore(): size {a['bytes'] / b['bytes']:.2f}, "
          f"draw time {a['ms'] / b['ms']:.2f}")
    print(f"ratio to 0.1.0: size {a['bytes'] / BASELINE_01['bytes']:.2f}, "
          f"draw time {a['ms'] / BASELINE_01['ms']:.2f}")
    print("draw times (ms): " + "; ".join(
        f"{n}: {', '.join(f'{x:.0f}' for x in r['all_ms'])}" for n, r in results.items()))
    ok = a["bytes"] <= MIB and a["ms"] <= 1000 and a["requests"] == 0 and a["errors"] == 0
    print("within the bounds (<= 1 MiB, <= 1 s, offline, no errors):", "yes" if ok else "NO")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
