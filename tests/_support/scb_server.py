"""A local stand-in for SCB's PxWebApi 2 and geodata WFS, for the fetch tests.

A stdlib ``http.server`` thread on 127.0.0.1 answers from the synthetic documents in
``tests/data/scb`` (see its README). Faults (403 for too many cells, 429 with
Retry-After, 500, a truncated body, a wrong content type, and the hostile ones: dripping
bytes, huge bodies, redirects) are queued per route, and ``mutate`` rewrites a route's
answer (malformed documents). Sleeping is injected (:class:`Sleeps`), so retries and
back-off cost no time. ``sources/scb/conftest.py`` serves it as the fixture ``server``.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import math
import re
import time
import urllib.parse
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pandas as pd

from strukturbild.sources.scb.client import HttpFetcher, ResponseCache

from ..conftest import TEST_DATA
from .local_http import LocalServer

DATA = TEST_DATA / "scb"
API = "/api/v2"
WFS = "/geoserver/stat/wfs"


def _load(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def _base_matrix() -> dict[tuple[str, str], float]:
    df = pd.read_csv(DATA / "commuting_base.csv", dtype=str)
    return {(r.Bostadskommun, r.Arbetsstallekommun): float(r.count_2020)
            for r in df.itertuples()}


def count_for(matrix: dict[tuple[str, str], float], home: str, work: str, year: str) -> float:
    """The synthetic total: the 2020 value grown 1 % a year (0 for unlisted pairs)."""
    return float(round(matrix.get((home, work), 0.0) * (1 + 0.01 * (int(year) - 2020))))


def _base_counts(name: str) -> dict[str, float | None]:
    """A region → 2020 count table (jobs per tätort, inhabitants per kommun); an empty
    count is a suppressed cell ("..", null in JSON-stat)."""
    df = pd.read_csv(DATA / name, dtype=str, keep_default_na=False)
    return {r.Region: (float(r.count_2020) if r.count_2020 else None) for r in df.itertuples()}


def grown(value: float | None, year: str) -> float | None:
    """A 2020 count grown 1 % a year, as the synthetic tables answer."""
    return None if value is None else float(round(value * (1 + 0.01 * (int(year) - 2020))))


# --------------------------------------------------------------------------- server


class FakeScb:
    """Routes, scripted faults and a request log for the local server."""

    def __init__(self) -> None:
        self.config = _load("config.json")
        self.meta = {t: _load(f"{t}_metadata.json")
                     for t in ("TAB1830", "TAB5850", "TAB333", "TAB9901", "TAB638")}
        self.search = _load("tables_search.json")
        self.layers = {"stat:Tatorter_2020": _load("wfs_Tatorter_2020.geojson"),
                       "stat:Tatorter_2023": _load("wfs_Tatorter_2023.geojson"),
                       "stat:DeSO_2025": _load("wfs_DeSO_2025.geojson")}
        self.matrix = _base_matrix()
        self.jobs = _base_counts("jobs_base.csv")  # TAB9901: day population per tätort
        self.population = _base_counts("population_base.csv")  # TAB638: per kommun
        self.server_max_cells: int | None = None  # a stricter limit than /config says
        self.page_size: int | None = None  # WFS features per page
        self.faults: dict[str, list[tuple[str, Any]]] = {}
        self.mutate: dict[str, Callable[[Any], Any]] = {}  # route (or its prefix) → rewrite
        self.log: list[dict[str, Any]] = []

    def fault(self, route: str, *faults: tuple[str, Any]) -> None:
        self.faults.setdefault(route, []).extend(faults)

    # -- answers

    def data(self, table: str, body: dict[str, Any]) -> dict[str, Any]:
        meta = self.meta[table]
        sel = {s["variableCode"]: list(s["valueCodes"]) for s in body["selection"]}
        ids = [d for d in meta["id"] if d in sel]
        dims: dict[str, Any] = {}
        for d in ids:
            cat = meta["dimension"][d]["category"]
            for c in sel[d]:
                assert c in cat["index"], f"{c} not a value of {d}"
            dims[d] = {"label": meta["dimension"][d]["label"],
                       "category": {"index": {c: i for i, c in enumerate(sel[d])},
                                    "label": {c: cat["label"][c] for c in sel[d]}}}
        values: list[float | None] = []
        for combo in _product([sel[d] for d in ids]):
            cell = dict(zip(ids, combo, strict=True))
            kon = cell.get("Kon", "1+2")
            v: float | None
            if table == "TAB9901":  # day population per tätort; content 2 is a share
                v = grown(self.jobs.get(cell["Region"]), cell["Tid"])
                if cell["ContentsCode"] != "000007Y1" and v is not None:
                    v = 50.0
            elif table == "TAB638":  # inhabitants per kommun, all ages and civil states
                v = grown(self.population.get(cell["Region"]), cell["Tid"])
                kon = "1+2" if "Kon" not in cell else kon
            else:
                v = count_for(self.matrix, cell["Bostadskommun"], cell["Arbetsstallekommun"],
                              cell["Tid"])
            values.append(v if kon == "1+2" or v is None else round(v / 2))
        return {"version": "2.0", "class": "dataset", "label": meta["label"],
                "source": "SCB", "updated": meta["updated"], "role": meta["role"],
                "id": ids, "size": [len(sel[d]) for d in ids], "dimension": dims,
                "value": values}

    def wfs(self, query: dict[str, str]) -> dict[str, Any]:
        fc = self.layers[query["typeNames"]]
        feats = list(fc["features"])
        cql = query.get("CQL_FILTER")
        if cql:
            likes = re.findall(r"kommun LIKE '(\d+)%'", cql)
            ins = re.findall(r"lanskod IN \(([^)]*)\)", cql)
            if likes:
                feats = [f for f in feats if any(f["properties"]["kommun"].startswith(p)
                                                 for p in likes)]
            if ins:
                codes = re.findall(r"'(\d+)'", ins[0])
                feats = [f for f in feats if f["properties"]["lanskod"] in codes]
        matched = len(feats)
        start = int(query.get("startIndex", 0))
        if self.page_size:
            feats = feats[start:start + self.page_size]
        return {**fc, "features": feats, "totalFeatures": matched, "numberMatched": matched,
                "numberReturned": len(feats)}


def _product(lists: list[list[str]]) -> Iterator[tuple[str, ...]]:
    if not lists:
        yield ()
        return
    for head in lists[0]:
        for rest in _product(lists[1:]):
            yield (head, *rest)


class _FakeHandler(BaseHTTPRequestHandler):
    """SCB's API and WFS as a :class:`FakeScb` says (``fake``: set by :func:`_handler`)."""

    fake: FakeScb
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # keep pytest output clean
        pass

    def _send(self, status: int, body: bytes, ctype: str = "application/json",
              headers: dict[str, str] | None = None, declared: int | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(declared if declared else len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if declared:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def _json(self, doc: Any, status: int = 200, ctype: str = "application/json") -> None:
        route = self._route()[0]
        rewrite = self.fake.mutate.get(route) or self.fake.mutate.get(route.split(":")[0])
        if rewrite is not None and status == 200:
            doc = rewrite(json.loads(json.dumps(doc)))  # a deep copy to rewrite
        self._send(status, json.dumps(doc, ensure_ascii=False).encode("utf-8"), ctype)

    def _drip(self, data: bytes, interval: float) -> None:
        """Write ``data`` one byte at a time (until the client hangs up, at most 60 s)."""
        end = time.monotonic() + 60
        try:
            for i in range(len(data)):
                self.wfile.write(data[i:i + 1])
                self.wfile.flush()
                if time.monotonic() > end:
                    break
                time.sleep(interval)
        except OSError:
            pass
        self.close_connection = True

    def _hostile(self, kind: str, arg: Any) -> bool:
        """Answer with a hostile fault; False if ``kind`` is not one."""
        if kind == "drip":  # headers at once, then the body one byte per `arg` s
            body = b'{"type": "FeatureCollection", "features": [' + b" " * 4000 + b"]}"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.flush()
            self._drip(body, arg)
        elif kind == "drip_headers":  # the header block itself, one byte per `arg` s
            self._drip(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Slow: "
                       + b"z" * 4000 + b"\r\n\r\n{}", arg)
        elif kind == "huge_length":  # claims `arg` bytes, sends a little, hangs up
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(arg))
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.wfile.write(b'{"maxDataCells": ' + b"1" * 1000)
        elif kind == "stream":  # no length: streams `arg` MiB (or until hung up)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            chunk = b"x" * 65536
            try:
                self.wfile.write(b'{"padding": "')
                for _ in range(int(arg * 16)):
                    self.wfile.write(chunk)
            except OSError:
                pass
        elif kind == "redirect":  # `arg`: the Location (a function of the request path)
            self.send_response(302)
            self.send_header("Location", arg(self.path))
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif kind == "raw":  # `arg`: the body bytes as they are
            self._send(200, arg)
        elif kind == "gzip":  # `arg`: the body, sent gzip-compressed
            self._send(200, gzip.compress(arg, 1), headers={"Content-Encoding": "gzip"})
        else:
            return False
        return True

    def _route(self) -> tuple[str, dict[str, str]]:
        u = urllib.parse.urlsplit(self.path.removeprefix("/moved"))
        q = dict(urllib.parse.parse_qsl(u.query))
        if u.path == f"{API}/config":
            return "config", q
        if u.path == f"{API}/tables":
            return "search", q
        m = re.fullmatch(rf"{API}/tables/(\w+)/(metadata|data)", u.path)
        if m:
            return f"{m.group(2)}:{m.group(1)}", q
        if u.path == WFS:
            return f"wfs:{q.get('typeNames')}", q
        return "unknown", q

    def _handle(self, method: str) -> None:
        route, query = self._route()
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        self.fake.log.append({"method": method, "route": route, "query": query, "body": body,
                              "user_agent": self.headers.get("User-Agent", ""),
                              "accept_encoding": self.headers.get("Accept-Encoding", "")})
        queued = self.fake.faults.get(route) or self.fake.faults.get(route.split(":")[0])
        if queued:
            kind, arg = queued.pop(0)
            if self._fault(kind, arg) or self._hostile(kind, arg):
                return
        self._answer(route, query, method, body)

    def _fault(self, kind: str, arg: Any) -> bool:
        """Answer with a plain fault (a status, a truncated or mistyped body); False if
        ``kind`` is not one."""
        if kind == "status":
            self._json({"type": "https://tools.ietf.org/html/rfc7231",
                        "title": "Error", "status": arg}, status=arg)
        elif kind == "words":  # `arg`: (status, reason phrase, detail), as they come
            status, reason, detail = arg
            body = json.dumps({"title": "Error", "detail": detail}).encode()
            self.send_response(status, reason)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif kind == "429":
            self._send(429, b'{"title": "Too many requests"}',
                       headers={"Retry-After": str(arg)})
        elif kind == "truncate":
            self._send(200, b'{"version": "2.0", "class": "data', declared=5000)
        elif kind == "content_type":
            self._send(200, b"<html><body>Planned maintenance</body></html>", arg)
        else:
            return False
        return True

    def _answer(self, route: str, query: dict[str, str], method: str, body: Any) -> None:
        """What the fake answers a request that met no fault."""
        fake = self.fake
        if route == "config":
            self._json(fake.config)
        elif route == "search":
            assert query.get("query") == "dagbefolkning tätort", query
            self._json(fake.search)
        elif route.startswith("metadata:") and route.split(":")[1] in fake.meta:
            self._json(fake.meta[route.split(":")[1]])
        elif route.startswith("data:") and method == "POST":
            assert query.get("outputFormat") == "json-stat2"
            assert body is not None
            cells = math.prod(len(s["valueCodes"]) for s in body["selection"])
            limit = fake.config["maxDataCells"] if fake.server_max_cells is None \
                else fake.server_max_cells
            if cells > limit:
                self._json({"title": "Forbidden", "status": 403,
                            "detail": f"Too many cells selected ({cells})"}, status=403)
                return
            self._json(fake.data(route.split(":")[1], body),
                       ctype="application/json; charset=UTF-8")
        elif route.startswith("wfs:") and query.get("typeNames") in fake.layers:
            self._json(fake.wfs(query), ctype="application/json;charset=UTF-8")
        else:
            self._json({"title": "Not found", "status": 404}, status=404)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")


def _handler(fake: FakeScb) -> type[BaseHTTPRequestHandler]:
    return type("Handler", (_FakeHandler,), {"fake": fake})


class Server(LocalServer):
    def __init__(self) -> None:
        self.fake = FakeScb()
        super().__init__(_handler(self.fake))
        self.api = self.base + API
        self.wfs = self.base + WFS


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def _fetcher(tmp_path: Path, **kw: Any) -> tuple[HttpFetcher, Sleeps]:
    sleeps = Sleeps()
    f = HttpFetcher(cache=ResponseCache(tmp_path / "cache"), sleep=sleeps, timeout=10, **kw)
    return f, sleeps


def _routes(fake: FakeScb, prefix: str) -> list[dict[str, Any]]:
    return [r for r in fake.log if r["route"].startswith(prefix)]
