"""``strukturbild fetch osm`` against recorded Overpass answers on a local server.

No test touches the network: a stdlib ``http.server`` thread on 127.0.0.1 answers
like the Overpass API's interpreter from ``tests/data/osm/skane_ways.json`` (see its
README), cut to the box of each query as Overpass would. Faults (statuses, a
server-side ``remark``, a malformed answer, a dripping body) are queued per request.
The same ways, written as OSM XML and ``.osm.pbf`` (pyosmium), test ``--pbf``.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import time
import urllib.parse
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import geopandas as gpd
import pyogrio
import pytest

from strukturbild import fetch_osm, load_project
from strukturbild.cli import main
from strukturbild.errors import ConfigError, FetchError
from strukturbild.sources.example import example_dir
from strukturbild.sources.osm.overpass import query, tiles

from ..._support.local_http import LocalServer
from ...conftest import TEST_DATA

DATA = TEST_DATA / "osm"
RECORDED = json.loads((DATA / "skane_ways.json").read_text(encoding="utf-8"))
#: Western Skåne: Malmö, Lund, Helsingborg, Ystad.
BOX = (12.5, 55.3, 14.8, 56.2)
#: The ways the rule keeps, by layer (not the siding, the disused line, the street).
EXPECTED = {"railways": [4211001, 4211002, 4211004],
            "roads": [5300001, 5300002, 5300003, 5300004, 5300006],
            "ferries": [6100001, 6100002]}


class FakeOverpass:
    def __init__(self) -> None:
        self.faults: list[tuple[str, Any]] = []
        self.mutate: Callable[[Any], Any] | None = None
        self.log: list[str] = []

    def answer(self, q: str) -> dict[str, Any]:
        m = re.search(r"\(([-\d.]+),([-\d.]+),([-\d.]+),([-\d.]+)\);", q)
        assert m, q
        s, w, n, e = (float(v) for v in m.groups())
        assert "[out:json]" in q and "out tags geom" in q
        keep = [el for el in RECORDED["elements"]
                if any(w <= p["lon"] <= e and s <= p["lat"] <= n for p in el["geometry"])]
        doc = {**RECORDED, "elements": copy.deepcopy(keep)}
        return self.mutate(doc) if self.mutate else doc


def _handler(fake: FakeOverpass) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            u = urllib.parse.urlsplit(self.path)
            q = dict(urllib.parse.parse_qsl(u.query)).get("data", "")
            fake.log.append(q)
            if u.path != "/api/interpreter":
                self._send(404, b"<html>not found</html>", "text/html")
                return
            if fake.faults:
                kind, arg = fake.faults.pop(0)
                if kind == "status":
                    self._send(arg, b"<html><body>busy</body></html>", "text/html")
                    return
                if kind == "raw":
                    self._send(200, arg)
                    return
                if kind == "drip":  # the headers, then a byte every `arg` seconds
                    body = json.dumps(fake.answer(q)).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    end = time.monotonic() + 30
                    try:
                        for i in range(len(body)):
                            self.wfile.write(body[i:i + 1])
                            self.wfile.flush()
                            time.sleep(arg)
                            if time.monotonic() > end:
                                break
                    except OSError:
                        pass
                    self.close_connection = True
                    return
            self._send(200, json.dumps(fake.answer(q), ensure_ascii=False).encode(),
                       "application/json")

    return Handler


class Server(LocalServer):
    def __init__(self) -> None:
        self.fake = FakeOverpass()
        super().__init__(_handler(self.fake))
        self.url = f"{self.base}/api/interpreter"


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.stop()


def _ids(path: Path) -> list[int]:
    return [int(v) for v in gpd.read_file(path)["osm_id"]]


def _fetch(server: Server, out: Path, **kw: Any) -> Any:
    kw.setdefault("bbox", BOX)
    return fetch_osm(out, overpass_url=server.url, sleep=lambda _s: None, **kw)


# --------------------------------------------------------------------------- query


def test_query_asks_the_rule_with_geometry() -> None:
    q = query((12.5, 55.3, 14.8, 56.2))
    assert '[!"service"](55.3,12.5,56.2,14.8)' in q
    assert "motorway|trunk|primary)(_link)?" in q and "out tags geom" in q


def test_tiles_cover_the_box_without_gaps() -> None:
    parts = tiles(BOX, 50)
    assert len(parts) == 3 * 3  # 144 km by 100 km
    assert min(t[0] for t in parts) == BOX[0] and max(t[2] for t in parts) == BOX[2]
    assert min(t[1] for t in parts) == BOX[1] and max(t[3] for t in parts) == BOX[3]
    with pytest.raises(FetchError, match="tiles"):
        tiles((-180, -80, 180, 80), 1)


# --------------------------------------------------------------------------- happy path


def test_fetch_writes_the_layers_with_osm_names_and_licence(server: Server,
                                                           tmp_path: Path) -> None:
    out = tmp_path / "osm"
    res = _fetch(server, out)
    assert res.counts == {k: len(v) for k, v in EXPECTED.items()}
    for key, ids in EXPECTED.items():
        assert _ids(res.files[key]) == ids
    roads = gpd.read_file(res.files["roads"])
    assert roads.crs.to_epsg() == 3006
    assert roads.set_index("osm_id").loc[5300002, ["class", "highway", "link"]].tolist() == \
        ["motorway", "motorway_link", 1]
    assert roads.set_index("osm_id").loc[5300003, "ref"] == "E 22"
    rail = gpd.read_file(res.files["railways"]).set_index("osm_id")
    assert rail.loc[4211001, "name"] == "Södra stambanan"
    assert rail.loc[4211004, "class"] == "tram"
    meta = json.loads(res.files["metadata"].read_text(encoding="utf-8"))
    assert meta["licence"] == "© OpenStreetMap contributors, ODbL 1.0"
    assert meta["source"]["timestamp_osm_base"] == ["2026-11-20T10:00:00Z"]
    assert meta["requests"][0]["sha256"] and not meta["requests"][0]["from_cache"]
    assert "ODbL" in pyogrio.read_info(res.files["ferries"])["layer_metadata"]["licence"]
    assert 'kind = "infrastructure"' in res.layers_toml
    assert res.layers_toml.count("[[layers]]") == 3
    assert 'licence = "© OpenStreetMap contributors, ODbL 1.0"' in res.layers_toml


def test_tiles_ask_once_each_and_keep_each_way_once(server: Server, tmp_path: Path) -> None:
    res = _fetch(server, tmp_path / "osm", tile_km=50)
    assert len(server.fake.log) == 9 and len(set(server.fake.log)) == 9
    for key, ids in EXPECTED.items():  # the motorway crosses tiles: still once
        assert _ids(res.files[key]) == ids


def test_second_run_works_offline_from_the_cache(server: Server, tmp_path: Path) -> None:
    first = _fetch(server, tmp_path / "a", cache_dir=tmp_path / "cache")
    server.stop()
    second = fetch_osm(tmp_path / "b", bbox=BOX, overpass_url=server.url, offline=True,
                       cache_dir=tmp_path / "cache")
    for key in EXPECTED:
        assert _ids(second.files[key]) == _ids(first.files[key])
    assert all(r["from_cache"] for r in second.metadata["requests"])


def test_project_extent_update_project_and_build(server: Server, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    proj = tmp_path / "skane"
    shutil.copytree(example_dir(), proj)
    argv = ["fetch", "osm", "--project", str(proj / "project.toml"), "--overpass-url",
            server.url, "--update-project", "-q"]
    assert main(argv) == 0
    assert (proj / "osm" / "osm_roads.gpkg").is_file()
    project = load_project(proj / "project.toml")
    layers = {x.name: x for x in project.layers}
    assert set(layers) == {"Järnväg", "Större vägar", "Färjeleder"}
    assert {x.kind for x in layers.values()} == {"infrastructure"}
    # the box: Skåne's places and areas plus 20 km, in 2 x 2 tiles of at most 150 km
    boxes = [[float(v) for v in re.findall(r"\(([-\d.,]+)\);", q)[0].split(",")]
             for q in server.fake.log]
    assert len(boxes) == 4
    assert [min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes),
            max(b[3] for b in boxes)] == [55.13992, 12.10691, 56.71571, 14.91821]
    assert main(argv) == 0  # a second run adds nothing
    assert load_project(proj / "project.toml").layers == project.layers
    capsys.readouterr()
    assert main(["build", str(proj / "project.toml"), "--out", str(tmp_path / "o"),
                 "--format", "json,gpkg", "--json", "-q"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert {x["name"]: x["features"] for x in summary["layers"]} == \
        {"Järnväg": 3, "Större vägar": 5, "Färjeleder": 2}
    assert {x["licence"] for x in summary["layers"]} == {"© OpenStreetMap contributors, ODbL 1.0"}
    names = set(pyogrio.list_layers(tmp_path / "o" / "skane.gpkg")[:, 0])
    assert {"layer_jarnvag", "layer_storre_vagar", "layer_farjeleder"} <= names


def test_cli_prints_the_layers_blocks(server: Server, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "osm"
    assert main(["fetch", "osm", "--bbox", ",".join(map(str, BOX)), "--out", str(out),
                 "--overpass-url", server.url, "-q"]) == 0
    text = capsys.readouterr().out
    assert "3 railways, 5 roads, 2 ferries" in text and "ODbL" in text
    assert text.count("[[layers]]") == 3 and 'path = "osm_roads.gpkg"' in text


# --------------------------------------------------------------------------- failures


def test_no_network_names_the_fixes(tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "osm"
    code = main(["fetch", "osm", "--bbox", ",".join(map(str, BOX)), "--out", str(out),
                 "--overpass-url", "http://127.0.0.1:9/api/interpreter", "--retries", "0",
                 "-q"])
    err = capsys.readouterr().err
    assert code == 2
    assert "no cached response" in err
    assert "--offline" in err and "--pbf" in err and "--overpass-url" in err
    assert not out.exists() or not any(out.glob("*.gpkg"))


def test_offline_without_cache_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match=r"offline and no cached response.*--pbf"):
        fetch_osm(tmp_path / "osm", bbox=BOX, offline=True,
                  overpass_url="http://127.0.0.1:9/api/interpreter")


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda d: {**d, "elements": {"a": 1}}, "'elements'"),
    (lambda d: {**d, "elements": [{**d["elements"][0], "id": True}]}, r"'elements\[0\]\.id'"),
    (lambda d: {**d, "elements": [{**d["elements"][0], "geometry": [
        {"lat": 55.6, "lon": 13.0}, {"lat": "55.7", "lon": 13.1}]}]},
     r"'elements\[0\]\.geometry\[1\]\.lat'"),
    (lambda d: {**d, "elements": [{**d["elements"][0], "tags": {"railway": 1}}]},
     r"'elements\[0\]\.tags\.railway'"),
    (lambda d: {**d, "elements": [{**d["elements"][0], "type": "node"}]},
     r"'elements\[0\]\.type'"),
], ids=["elements", "id", "lat", "tag", "type"])
def test_malformed_answer_exits_2_naming_url_and_field(
        server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        mutate: Callable[[Any], Any], field: str) -> None:
    server.fake.mutate = mutate
    out = tmp_path / "osm"
    assert main(["fetch", "osm", "--bbox", ",".join(map(str, BOX)), "--out", str(out),
                 "--overpass-url", server.url, "-q"]) == 2
    err = capsys.readouterr().err
    assert re.search(rf"{re.escape(server.url)} \(Overpass query of tile 1/1, box "
                     rf"12.5,55.3,14.8,56.2\): field {field}", err), err
    assert not out.exists() or not any(out.glob("*.gpkg"))


def test_remark_of_a_stopped_query_is_an_error_and_not_cached(server: Server,
                                                              tmp_path: Path) -> None:
    server.fake.mutate = lambda d: {**d, "remark": 'runtime error: Query timed out in "query" '
                                    "at line 3 after 181 seconds."}
    with pytest.raises(FetchError, match=r"field 'remark': the server stopped the query"):
        _fetch(server, tmp_path / "osm", cache_dir=tmp_path / "cache")
    with pytest.raises(FetchError, match="offline and no cached response"):
        fetch_osm(tmp_path / "osm", bbox=BOX, overpass_url=server.url, offline=True,
                  cache_dir=tmp_path / "cache")


def test_busy_server_is_retried(server: Server, tmp_path: Path) -> None:
    server.fake.faults += [("status", 429), ("status", 504)]
    res = _fetch(server, tmp_path / "osm")
    assert res.metadata["requests"][0]["tries"] == 3


def test_deadline_cuts_a_dripping_server(server: Server, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    server.fake.faults.append(("drip", 0.05))
    t0 = time.monotonic()
    code = main(["fetch", "osm", "--bbox", ",".join(map(str, BOX)), "--out",
                 str(tmp_path / "osm"), "--overpass-url", server.url, "--timeout", "1.5",
                 "--retries", "0", "-q"])
    took = time.monotonic() - t0
    err = capsys.readouterr().err
    assert code == 2 and "deadline of 1.5 s" in err, err
    assert took < 5, took


def test_all_or_none_when_a_later_tile_fails(server: Server, tmp_path: Path) -> None:
    out = tmp_path / "osm"
    first = _fetch(server, out)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    server.fake.faults += [("raw", json.dumps(RECORDED).encode())] + \
        [("raw", b'{"elements": [{"type": "way"}]}')] * 5
    with pytest.raises(FetchError, match=r"elements\[0\]\.id"):
        _fetch(server, out, tile_km=50)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    assert not list(out.glob(".*sbtmp*"))
    assert first.counts["roads"] == 5


def test_bad_options_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="west < east"):
        fetch_osm(tmp_path, bbox=(14, 55, 13, 56))
    with pytest.raises(ConfigError, match="not both"):
        fetch_osm(tmp_path, bbox=BOX, project=example_dir() / "project.toml")
    assert main(["fetch", "osm", "--bbox", "a,b", "--out", str(tmp_path)]) == 2


# --------------------------------------------------------------------------- --pbf


def _osm_xml(path: Path) -> Path:
    """The recorded ways as OSM XML, with nodes of their own."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="test">']
    ways = []
    node = 1
    for el in RECORDED["elements"]:
        refs = []
        for p in el["geometry"]:
            lines.append(f'<node id="{node}" version="1" lat="{p["lat"]}" lon="{p["lon"]}"/>')
            refs.append(node)
            node += 1
        tags = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in el["tags"].items())
        ways.append(f'<way id="{el["id"]}" version="1">' +
                    "".join(f'<nd ref="{r}"/>' for r in refs) + tags + "</way>")
    path.write_text("\n".join(lines + ways + ["</osm>"]), encoding="utf-8")
    return path


def test_pbf_extract_gives_the_same_layers(server: Server, tmp_path: Path) -> None:
    osmium = pytest.importorskip("osmium")
    xml = _osm_xml(tmp_path / "skane.osm")
    pbf = tmp_path / "skane.osm.pbf"
    writer = osmium.SimpleWriter(str(pbf))
    for obj in osmium.FileProcessor(str(xml)):
        writer.add(obj)
    writer.close()
    online = _fetch(server, tmp_path / "a")
    for src in (xml, pbf):
        res = fetch_osm(tmp_path / src.suffix[1:], bbox=BOX, pbf=src)
        assert res.metadata["source"]["kind"] == "extract"
        for key in EXPECTED:
            a = gpd.read_file(res.files[key])
            b = gpd.read_file(online.files[key])
            assert a["osm_id"].tolist() == b["osm_id"].tolist()
            assert a.drop(columns="geometry").fillna("").equals(
                b.drop(columns="geometry").fillna(""))
            assert (a.geometry.distance(b.geometry) < 0.01).all()


def test_pbf_that_is_not_osm_exits_2(tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "x.osm.pbf"
    bad.write_bytes(b"not a pbf at all")
    assert main(["fetch", "osm", "--bbox", ",".join(map(str, BOX)), "--out",
                 str(tmp_path / "o"), "--pbf", str(bad), "-q"]) == 2
    assert "x.osm.pbf" in capsys.readouterr().err


def test_an_answer_over_max_mb_is_refused_and_not_cached(server: Server, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    out = tmp_path / "osm"
    assert main(["fetch", "osm", "--bbox", ",".join(map(str, BOX)), "--out", str(out),
                 "--overpass-url", server.url, "--max-mb", "0.001", "-q"]) == 2
    err = capsys.readouterr().err
    assert "(--max-mb)" in err and "nothing was" in err
    assert not list((out / "cache").glob("*.body")) if (out / "cache").exists() else True
