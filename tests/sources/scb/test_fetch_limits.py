"""The SCB fetch against hostile and broken servers: limits, and malformed answers.

Each case runs against the local server of ``tests/_support/scb_server.py`` (127.0.0.1
only): a server that drips bytes, claims huge bodies or cubes, asks to wait for days,
redirects elsewhere, or answers with malformed JSON-stat or GeoJSON. Through the
command line every case must end with exit 2, a message naming the URL (and the
field, for a malformed answer), within its time bound, with every output file of the
previous run unchanged and nothing of the bad answer cached.

Set ``STRUKTURBILD_HOSTILE_REPORT=FILE`` to write a table of the command-line cases
(exit code, files changed, seconds) to FILE.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strukturbild.cli import main
from strukturbild.errors import ConfigError, FetchError, StrukturbildWarning
from strukturbild.sources.scb.client import (
    ApiLimits,
    HttpFetcher,
    PxWebClient,
    ResponseCache,
    WfsClient,
    decode_jsonstat2,
)
from strukturbild.sources.scb.fetch import fetch_scb

from ..._support.scb_server import Server, Sleeps, _fetcher, _load, _routes

_REPORT: list[tuple[str, int, str, float, str]] = []


def _first_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    return lines[0].replace("|", "\\|") if lines else ""


@pytest.fixture(scope="module", autouse=True)
def _report() -> Iterator[None]:
    yield
    target = os.environ.get("STRUKTURBILD_HOSTILE_REPORT")
    if target and _REPORT:
        lines = ["| case | exit | files changed | seconds | first line of the message |",
                 "| --- | --- | --- | --- | --- |"]
        lines += [f"| {c} | {code} | {lost} | {dt:.2f} | `{first}` |"
                  for c, code, lost, dt, first in _REPORT]
        Path(target).write_text("\n".join(lines) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------- helpers


def _snapshot(out: Path) -> dict[str, str]:
    """Every file of an output folder (the cache left out) with its checksum."""
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file() and "cache" not in p.parts}


@pytest.fixture(scope="module")
def golden(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The outputs of one good run (made once; each case starts from a copy)."""
    out = tmp_path_factory.mktemp("golden") / "out"
    s = Server()
    try:
        code = main(["fetch", "scb", "--lan", "12", "--year", "2022", "--out", str(out), "-q",
                     "--api-url", s.api, "--wfs-url", s.wfs])
    finally:
        s.stop()
    assert code == 0
    return out


def _hostile_run(case: str, server: Server, golden: Path, tmp_path: Path,
                 capsys: pytest.CaptureFixture[str], setup: Callable[[Server], None],
                 *extra: str, limit: float = 10.0) -> tuple[str, float, Path]:
    """The outputs of a good run, then ``setup`` spoils the server, then the run again.

    Returns stderr, the seconds the spoiled run took and its (fresh) cache folder.
    """
    out = tmp_path / "out"
    shutil.copytree(golden, out, ignore=shutil.ignore_patterns("cache"))
    before = _snapshot(out)
    assert "project.toml" in before and "scb.gpkg" in before
    capsys.readouterr()
    setup(server)
    cache = tmp_path / "fresh-cache"  # nothing to fall back on
    t0 = time.monotonic()
    code = main(["fetch", "scb", "--lan", "12", "--year", "2022", "--out", str(out), "-q",
                 "--api-url", server.api, "--wfs-url", server.wfs, "--cache", str(cache),
                 "--retries", "1", *extra])
    dt = time.monotonic() - t0
    err = capsys.readouterr().err
    after = _snapshot(out)
    lost = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    _REPORT.append((case, code, ", ".join(lost) or "none", dt, _first_line(err)))
    assert code == 2, err
    assert "internal error" not in err and "Traceback" not in err
    assert lost == [], f"output files changed: {lost}"
    assert not [p for p in out.iterdir() if ".sbtmp-" in p.name]
    assert dt < limit, f"took {dt:.1f} s"
    return err, dt, cache


def _cached_urls(cache: Path) -> list[str]:
    if not cache.is_dir():
        return []
    return [json.loads(p.read_text())["request"]["url"] for p in cache.glob("*.json")]


TATORT = "wfs:stat:Tatorter_2020"


# --------------------------------------------------------------------------- options


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--retries", "-1", "retries must be a whole number from 0 to 10"),
    ("--retries", "11", "retries must be a whole number from 0 to 10"),
    ("--timeout", "0", "timeout must be a number of seconds above 0"),
    ("--timeout", "nan", "timeout must be a number"),
    ("--timeout", "inf", "timeout must be a number"),
    ("--max-mb", "-5", "max_mb must be a number of MiB above 0"),
], ids=["retries-negative", "retries-too-many", "timeout-zero", "timeout-nan", "timeout-inf",
        "max-mb-negative"])
def test_bad_limits_exit_2_before_any_request(option: str, value: str, message: str,
                                              tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code = main(["fetch", "scb", "--lan", "12", "--out", str(out), option, value,
                 "--api-url", "http://127.0.0.1:9/api/v2", "-q"])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("kw", [{"max_retries": -1}, {"timeout": -1.0},
                                {"max_response_mb": 0}, {"max_retries": True},
                                {"max_wait": math.nan}],
                         ids=["retries", "timeout", "max-mb", "retries-bool", "max-wait-nan"])
def test_fetch_scb_checks_its_limits(kw: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        fetch_scb(tmp_path / "o", **kw)
    assert not (tmp_path / "o").exists()


def test_base_url_must_be_http(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="api_url must be an http or https URL"):
        fetch_scb(tmp_path / "o", api_url="file:///etc/passwd")


# --------------------------------------------------------------------------- deadline


@pytest.mark.parametrize("kind", ["drip", "drip_headers"])
def test_deadline_cuts_off_a_dripping_server(kind: str, server: Server, tmp_path: Path) -> None:
    server.fake.fault("config", (kind, 0.05))
    f, _ = _fetcher(tmp_path, max_retries=2)
    f.timeout = 1.0
    t0 = time.monotonic()
    with pytest.raises(FetchError, match=r"no complete answer within the deadline of 1 s"):
        _ = PxWebClient(f, server.api).limits
    dt = time.monotonic() - t0
    assert 0.95 <= dt < 1.5, dt  # the deadline, plus a little slack; not retried
    assert len(_routes(server.fake, "config")) == 1
    assert not list((tmp_path / "cache").glob("*.body"))


def test_deadline_falls_back_to_the_cache(server: Server, tmp_path: Path) -> None:
    f, _ = _fetcher(tmp_path)
    _ = PxWebClient(f, server.api).limits
    server.fake.fault("config", ("drip", 0.05))
    f2, _ = _fetcher(tmp_path)
    f2.timeout = 0.5
    with pytest.warns(StrukturbildWarning, match="deadline.*using the cached response"):
        assert PxWebClient(f2, server.api).limits.max_calls == 30


def test_deadline_covers_the_retries_and_their_waits(server: Server, tmp_path: Path) -> None:
    # Retry-After 5 s fits the 120 s wait cap but not a 2 s deadline: give up at once.
    server.fake.fault("config", ("429", 5))
    f, sleeps = _fetcher(tmp_path)
    f.timeout = 2.0
    with pytest.raises(FetchError, match="would pass the request's deadline of 2 s"):
        _ = PxWebClient(f, server.api).limits
    assert sleeps == []


def test_cli_dripping_body_stops_at_the_deadline(server: Server, golden: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    err, _, cache = _hostile_run(
        "WFS body drips 1 byte / 0.05 s, --timeout 1.5", server, golden, tmp_path, capsys,
        lambda s: s.fake.fault(TATORT, ("drip", 0.05)), "--timeout", "1.5", limit=1.5 + 1.5)
    assert "no complete answer within the deadline of 1.5 s" in err
    assert "Tatorter_2020" in err
    assert not any("Tatorter" in u for u in _cached_urls(cache))


def test_cli_dripping_headers_stop_at_the_deadline(server: Server, golden: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    err, _, _ = _hostile_run(
        "WFS headers drip 1 byte / 0.05 s, --timeout 1.5", server, golden, tmp_path, capsys,
        lambda s: s.fake.fault(TATORT, ("drip_headers", 0.05)), "--timeout", "1.5",
        limit=1.5 + 1.5)
    assert "deadline of 1.5 s" in err


# --------------------------------------------------------------------------- size


def test_cli_huge_content_length_is_refused_unread(server: Server, golden: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    err, _, cache = _hostile_run(
        "Content-Length 2 GiB on /config", server, golden, tmp_path, capsys,
        lambda s: s.fake.fault("config", ("huge_length", 2 * 2**30)), limit=3)
    assert "2048 MiB (Content-Length), more than the 256 MiB allowed" in err
    assert "/config" in err
    assert not any(u.endswith("/config") for u in _cached_urls(cache))


def test_cli_streamed_body_over_the_cap_is_cut_off(server: Server, golden: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    err, _, cache = _hostile_run(
        "WFS streams 64 MiB without length, --max-mb 1", server, golden, tmp_path, capsys,
        lambda s: s.fake.fault(TATORT, ("stream", 64)), "--max-mb", "1", limit=5)
    assert "larger than the 1 MiB allowed" in err and "nothing was cached" in err
    assert not any("Tatorter" in u for u in _cached_urls(cache))


def test_size_cap_is_not_retried(server: Server, tmp_path: Path) -> None:
    server.fake.fault("config", ("stream", 4), ("stream", 4))
    f, _ = _fetcher(tmp_path, max_retries=3)
    f.max_bytes = 2**20
    with pytest.raises(FetchError, match="larger than the 1 MiB allowed"):
        _ = PxWebClient(f, server.api).limits
    assert len(_routes(server.fake, "config")) == 1


# --------------------------------------------------------------------------- WFS pages


def _claims(n: Any) -> Callable[[Server], None]:
    def setup(s: Server) -> None:
        s.fake.mutate[TATORT] = lambda doc: {**doc, "numberMatched": n, "totalFeatures": n}
    return setup


def test_cli_wfs_claiming_a_billion_features_is_refused(
        server: Server, golden: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err, _, _ = _hostile_run("WFS numberMatched 10⁹", server, golden, tmp_path, capsys,
                             _claims(10**9), limit=3)
    assert "field 'numberMatched'" in err and "1,000,000,000 features" in err
    # one page was read, none after it
    assert len([r for r in server.fake.log if r["route"] == TATORT]) == 1


def test_wfs_paging_stops_at_the_page_limit(server: Server, tmp_path: Path) -> None:
    server.fake.page_size = 1
    f, _ = _fetcher(tmp_path)
    wfs = WfsClient(f, server.wfs, max_pages=3)
    with pytest.raises(FetchError, match="7 features match but sent 3 in 3 pages; stopped at "
                                         "the limit of 3 pages"):
        wfs.features("stat:Tatorter_2020", cql="kommun LIKE '12%'")
    assert len(_routes(server.fake, "wfs:")) == 3


def test_wfs_empty_page_before_the_end_is_an_error(server: Server, tmp_path: Path) -> None:
    server.fake.page_size = 3
    server.fake.mutate[TATORT] = lambda doc: (
        {**doc, "features": []} if doc["numberReturned"] < 3 else doc)
    f, _ = _fetcher(tmp_path)
    with pytest.raises(FetchError, match="the page from 6 on is empty"):
        WfsClient(f, server.wfs).features("stat:Tatorter_2020", cql="kommun LIKE '12%'")


# --------------------------------------------------------------------------- cube


def test_cli_cube_claiming_ten_billion_cells_is_refused_before_allocation(
        server: Server, golden: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def setup(s: Server) -> None:
        s.fake.mutate["data"] = lambda doc: {**doc, "size": [100_000, 100_000, 1, 1, 1],
                                             "value": {}}
    err, _, _ = _hostile_run("JSON-stat size claims 10¹⁰ cells", server, golden, tmp_path, capsys,
                             setup, limit=3)
    assert "field 'size'" in err and "10,000,000,000 cells" in err
    assert "/tables/TAB1830/data" in err and "MemoryError" not in err


def test_config_cannot_raise_the_cube_limit_past_the_ceiling() -> None:
    assert ApiLimits.from_config({"maxDataCells": 10**12}).max_data_cells == 10_000_000
    doc = {"class": "dataset", "id": ["a"], "size": [10**8],
           "dimension": {"a": {"category": {"index": []}}}, "value": {}}
    with pytest.raises(FetchError, match="claims 100,000,000 cells"):
        decode_jsonstat2(doc)


# --------------------------------------------------------------------------- waits


def test_cli_retry_after_999999_gives_up_at_once(server: Server, golden: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    err, dt, _ = _hostile_run(
        "HTTP 429 Retry-After: 999999 on the data query", server, golden, tmp_path, capsys,
        lambda s: s.fake.fault("data:TAB1830", ("429", 999999)), limit=3)
    assert "(Retry-After: 999999): a wait of 999999 s is more than the 120 s allowed" in err
    assert "gave up instead of sleeping" in err
    assert dt < 1.5  # the whole run, good requests included: no sleeping


def test_cli_one_call_per_billion_seconds_gives_up_at_once(
        server: Server, golden: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def setup(s: Server) -> None:
        s.fake.config.update(maxCallsPerTimeWindow=1, timeWindow=10**9)
    err, _, _ = _hostile_run("/config allows 1 call per 10⁹ s", server, golden, tmp_path, capsys,
                             setup, limit=3)
    assert "the API's call limit (1 call per 1e+09 s" in err
    assert "gave up instead of sleeping" in err


def test_waits_of_a_run_are_capped_in_total(server: Server, tmp_path: Path) -> None:
    server.fake.fault("config", ("429", 3), ("429", 3))
    server.fake.fault("metadata:TAB1830", ("429", 3), ("429", 3))
    f, sleeps = _fetcher(tmp_path)
    f.max_total_wait = 8.0
    px = PxWebClient(f, server.api)
    _ = px.limits  # 3 + 3 s
    with pytest.raises(FetchError, match="past 8 s"):
        px.metadata("TAB1830")  # 3 s more: 9 s
    assert sleeps == [3.0, 3.0]


# --------------------------------------------------------------------------- redirects


def test_cli_redirect_to_another_host_is_refused(server: Server, golden: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    port = server.base.rsplit(":", 1)[1]

    def setup(s: Server) -> None:
        s.fake.fault(TATORT, ("redirect", lambda path: f"http://localhost:{port}{path}"))
    err, _, _ = _hostile_run("WFS 302 to another host", server, golden, tmp_path, capsys, setup,
                             limit=3)
    assert "redirects from 127.0.0.1 to another host, localhost" in err and "refused" in err
    # never followed: the server saw no second request for the layer
    assert len([r for r in server.fake.log if r["route"] == TATORT]) == 1  # good run + this


def test_cli_redirect_to_another_port_of_the_same_host_is_refused(
        server: Server, golden: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = Server()  # the same name, 127.0.0.1, on another port: another service
    try:
        def setup(s: Server) -> None:
            s.fake.fault(TATORT, ("redirect", lambda path: f"{other.base}{path}"))
        err, _, _ = _hostile_run("WFS 302 to another port of the same host", server, golden,
                                 tmp_path, capsys, setup, limit=3)
    finally:
        other.stop()
    port, other_port = server.base.rsplit(":", 1)[1], other.base.rsplit(":", 1)[1]
    assert (f"redirects from 127.0.0.1 port {port} to another host, 127.0.0.1 port "
            f"{other_port}") in err and "refused" in err
    assert other.fake.log == []  # never followed


@pytest.mark.parametrize(("origin", "target", "followed"), [
    ("http://h.se/a", "http://h.se/b", True),
    ("http://h.se/a", "http://h.se:80/b", True),  # the default port, written out
    ("https://h.se/a", "https://H.SE:443/b", True),
    ("http://h.se/a", "https://h.se/b", True),  # the upgrade to https, default ports
    ("http://h.se:8080/a", "http://h.se:8081/b", False),
    ("http://h.se/a", "http://h.se:8080/b", False),
    ("http://h.se:8080/a", "https://h.se/b", False),
    ("https://h.se/a", "http://h.se/b", False),  # never down to http
    ("http://h.se/a", "http://h.se:x/b", False),
    ("http://h.se/a", "http://g.se/b", False),
])
def test_redirects_are_followed_within_one_host_and_port(origin: str, target: str,
                                                         followed: bool) -> None:
    import requests

    resp = requests.Response()
    resp.status_code = 302
    resp.headers["Location"] = target
    f = HttpFetcher()
    try:
        hops: list[dict[str, Any]] = []
        if followed:
            assert f._redirect(resp, "GET", origin, None, hops, origin=origin)[1] == target
            assert hops[0]["to"] == target
        else:
            with pytest.raises(FetchError, match="refused"):
                f._redirect(resp, "GET", origin, None, hops, origin=origin)
            assert hops == []
    finally:
        f.close()


def test_same_host_redirect_is_followed_and_recorded(server: Server, tmp_path: Path) -> None:
    server.fake.fault(TATORT, ("redirect", lambda path: f"/moved{path}"))
    res = fetch_scb(tmp_path / "o", lan=["12"], year=2022, api_url=server.api,
                    wfs_url=server.wfs, sleep=Sleeps())
    md = json.loads((tmp_path / "o" / "metadata.json").read_text())
    hops = [r for r in md["requests"] if r["redirects"]]
    assert len(hops) == 1 and "Tatorter_2020" in hops[0]["url"]
    hop = hops[0]["redirects"][0]
    assert hop["status"] == 302 and hop["to"].startswith(f"{server.base}/moved/geoserver")
    assert hops[0]["final_url"] == hop["to"]
    assert res.metadata["sources"]["tatorter"]["features"] == 7


def test_redirect_loop_is_bounded(server: Server, tmp_path: Path) -> None:
    server.fake.fault("config", *[("redirect", lambda path: path)] * 10)
    f, _ = _fetcher(tmp_path)
    with pytest.raises(FetchError, match="more than 5 redirects"):
        _ = PxWebClient(f, server.api).limits
    assert len(_routes(server.fake, "config")) == 6


# --------------------------------------------------------------------------- malformed


def _cell0(value: Any) -> Callable[[Any], Any]:
    return lambda doc: {**doc, "value": [value, *doc["value"][1:]]}


def _dim(name: str, rewrite: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def f(doc: Any) -> Any:
        doc["dimension"][name] = rewrite(doc["dimension"][name])
        return doc
    return f


def _index_out_of_range(dim: Any) -> Any:
    idx = dim["category"]["index"]
    first = next(iter(idx))
    idx[first] = 99
    return dim


def _feature0(**props: Any) -> Callable[[Any], Any]:
    def f(doc: Any) -> Any:
        doc["features"][0]["properties"].update(props)
        return doc
    return f


def _geometry0(geometry: Any) -> Callable[[Any], Any]:
    def f(doc: Any) -> Any:
        doc["features"][0]["geometry"] = geometry
        return doc
    return f


def _extra_year(doc: Any) -> Any:
    doc["dimension"]["Tid"]["category"]["index"] = {"2022": 0, "2021": 1}
    doc["size"][doc["id"].index("Tid")] = 2
    doc["value"] = doc["value"] * 2
    return doc


MALFORMED: list[tuple[str, str, Callable[[Any], Any], str]] = [
    # (case, route, rewrite, the field the message must name)
    ("value is a string", "data", _cell0("12"), "field 'value[0]'"),
    ("value is true", "data", _cell0(True), "field 'value[0]'"),
    ("value is 1e300", "data", _cell0(1e300), "field 'value[0]'"),
    ("value is negative", "data", _cell0(-5), "field 'value[0]'"),
    ("value is a fraction", "data", _cell0(12.5), "field 'value[0]'"),
    ("value is an object", "data", _cell0({"n": 1}), "field 'value[0]'"),
    ("sparse value index out of range", "data",
     lambda d: {**d, "value": {"999999": 5}}, "field 'value.999999'"),
    ("status index out of range", "data",
     lambda d: {**d, "status": {"999999": ".."}}, "field 'status.999999'"),
    ("category index out of range", "data", _dim("Bostadskommun", _index_out_of_range),
     "field 'dimension.Bostadskommun.category.index."),
    ("category index not a list or object", "data",
     _dim("Tid", lambda d: {**d, "category": {"index": "2022"}}),
     "field 'dimension.Tid.category.index'"),
    ("size is text", "data", lambda d: {**d, "size": [str(n) for n in d["size"]]},
     "field 'size[0]'"),
    ("size has the wrong length", "data", lambda d: {**d, "size": d["size"][:-1]},
     "field 'size'"),
    ("id is text", "data", lambda d: {**d, "id": "Bostadskommun"}, "field 'id'"),
    ("dimension is a list", "data", lambda d: {**d, "dimension": []}, "field 'dimension'"),
    ("a year not asked for", "data", _extra_year, "field 'dimension.Tid.category.index'"),
    ("metadata elimination is text", "metadata:TAB1830",
     _dim("Kon", lambda d: {**d, "extension": {"elimination": "yes"}}),
     "field 'dimension.Kon.extension.elimination'"),
    ("metadata role.time names no dimension", "metadata:TAB1830",
     lambda d: {**d, "role": {"time": ["År"]}}, "field 'role.time'"),
    ("/config timeWindow is text", "config", lambda d: {**d, "timeWindow": "10"},
     "field 'timeWindow'"),
    ("/config maxDataCells is true", "config", lambda d: {**d, "maxDataCells": True},
     "field 'maxDataCells'"),
    ("bef is not a number", TATORT, _feature0(bef="many"), "features[0].properties.bef"),
    ("bef is true", TATORT, _feature0(bef=True), "features[0].properties.bef"),
    ("bef is 1e300", TATORT, _feature0(bef=1e300), "features[0].properties.bef"),
    ("bef is negative", TATORT, _feature0(bef=-1), "features[0].properties.bef"),
    ("area_ha is text", TATORT, _feature0(area_ha="big"), "features[0].properties.area_ha"),
    ("kommun code too short", TATORT, _feature0(kommun="12"),
     "features[0].properties.kommun"),
    ("tätort code is a number", TATORT, _feature0(tatortskod=1280),
     "features[0].properties.tatortskod"),
    ("tätort code twice", TATORT, lambda d: {**d, "features": [d["features"][0],
                                                               *d["features"][:-1]]},
     "features[1].properties.tatortskod"),
    ("geometry null", TATORT, _geometry0(None), "features[0].geometry"),
    ("coordinates are text", TATORT,
     _geometry0({"type": "Point", "coordinates": ["a", "b"]}), "features[0].geometry"),
    ("features is text", TATORT, lambda d: {**d, "features": "none"}, "field 'features'"),
    ("numberMatched is true", TATORT,
     lambda d: {**d, "numberMatched": True}, "field 'numberMatched'"),
    ("numberMatched is 1e300", TATORT,
     lambda d: {**d, "numberMatched": 1e300}, "claims 1e+300 features"),
    ("numberMatched is a fraction", TATORT,
     lambda d: {**d, "numberMatched": 7.5}, "field 'numberMatched'"),
    ("a point at 1e308", TATORT,
     _geometry0({"type": "Point", "coordinates": [1e308, 1e308]}), "features[0].geometry"),
    ("a point at (1e12, 1e12)", TATORT,
     _geometry0({"type": "Point", "coordinates": [1e12, 1e12]}), "features[0].geometry"),
    ("a point in lon/lat without a declared CRS", TATORT,
     lambda d: {**_geometry0({"type": "Point", "coordinates": [13.0, 55.6]})(d),
                "crs": None}, "features[0].geometry"),
    ("a DeSO polygon reaching 1e308", "wfs:stat:DeSO_2025",
     lambda d: {**d, "features": [{**d["features"][0], "geometry": {
         "type": "Polygon", "coordinates": [[[4e5, 6.2e6], [1e308, 6.2e6], [4e5, 6.3e6],
                                             [4e5, 6.2e6]]]}}, *d["features"][1:]]},
     "features[0].geometry"),
    ("declared CRS is EPSG:4326", TATORT,
     lambda d: {**d, "crs": {"type": "name",
                             "properties": {"name": "urn:ogc:def:crs:EPSG::4326"}}},
     "field 'crs.properties.name'"),
    ("declared CRS is not a name", TATORT,
     lambda d: {**d, "crs": {"type": "name", "properties": {"name": 3006}}},
     "field 'crs.properties.name'"),
    ("65 dimensions", "data",
     lambda d: {**d, "id": d["id"] + [f"X{i}" for i in range(60)],
                "size": d["size"] + [1] * 60,
                "dimension": {**d["dimension"], **{f"X{i}": {"category": {"index": ["a"]}}
                                                   for i in range(60)}}},
     "field 'id'"),
    ("DeSO kommunkod is a list", "wfs:stat:DeSO_2025",
     lambda d: {**d, "features": [{**f, "properties": {**f["properties"], "kommunkod": [1]}}
                                  for f in d["features"]]},
     "features[0].properties.kommunkod"),
]


@pytest.mark.parametrize(("case", "route", "rewrite", "field"), MALFORMED,
                         ids=[m[0].replace(" ", "-") for m in MALFORMED])
def test_cli_malformed_answer_exits_2_naming_url_and_field(
        case: str, route: str, rewrite: Callable[[Any], Any], field: str, server: Server,
        golden: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def setup(s: Server) -> None:
        s.fake.mutate[route] = rewrite
    err, _, _ = _hostile_run(f"malformed: {case}", server, golden, tmp_path, capsys, setup, limit=5)
    assert field in err
    path = {"data": "/tables/TAB1830/data?", "metadata:TAB1830": "/tables/TAB1830/metadata?",
            "config": "/api/v2/config", TATORT: "typeNames=stat%3ATatorter_2020",
            "wfs:stat:DeSO_2025": "typeNames=stat%3ADeSO_2025"}[route]
    assert f"{server.base}" in err and path in err, err


def test_cli_json_with_nan_literal_exits_2(server: Server, golden: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    err, _, _ = _hostile_run(
        "answer with a NaN literal (not JSON)", server, golden, tmp_path, capsys,
        lambda s: s.fake.fault("config", ("raw", b'{"maxDataCells": NaN}'),
                               ("raw", b'{"maxDataCells": NaN}')), limit=3)
    assert "unreadable" in err and "NaN is not a JSON number" in err and "/config" in err


# --------------------------------------------------------------------------- properties


def _valid_doc() -> dict[str, Any]:
    return {"version": "2.0", "class": "dataset", "id": ["a", "b"], "size": [2, 3],
            "dimension": {"a": {"category": {"index": {"x": 0, "y": 1}}},
                          "b": {"category": {"index": ["p", "q", "r"]}}},
            "value": [1, 2, 3, 4, None, 6], "status": {"4": ".."}}


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) |
    st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                max_size=3),
    max_leaves=6)
_PATHS = [("id",), ("id", 0), ("size",), ("size", 1), ("dimension",), ("dimension", "a"),
          ("dimension", "a", "category"), ("dimension", "a", "category", "index"),
          ("dimension", "a", "category", "index", "y"), ("dimension", "b", "category", "index"),
          ("dimension", "b", "category", "index", 2), ("value",), ("value", 0), ("value", 5),
          ("status",), ("class",)]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(_PATHS), new=_JSON, counts=st.booleans())
def test_a_spoiled_field_is_an_error_or_a_number_never_a_crash(
        path: tuple[Any, ...], new: Any, counts: bool) -> None:
    doc = _valid_doc()
    node: Any = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = new
    try:
        df = decode_jsonstat2(doc, source="https://x/data", counts=counts)
    except FetchError as exc:
        assert str(exc).startswith("https://x/data: ")
        return
    values = df["value"].to_numpy(dtype=float)
    finite = values[~df["value"].isna().to_numpy()]
    assert all(math.isfinite(v) for v in finite)
    if counts:
        assert all(v >= 0 and float(v).is_integer() for v in finite)
    assert len(df) == math.prod(int(s) for s in doc["size"])


def test_limits_in_metadata_json(server: Server, tmp_path: Path) -> None:
    res = fetch_scb(tmp_path / "o", lan=["12"], year=2022, api_url=server.api,
                    wfs_url=server.wfs, timeout=60, max_retries=2, max_response_mb=32)
    assert res.metadata["fetch_limits"]["timeout_s"] == 60
    assert res.metadata["fetch_limits"]["retries"] == 2
    assert res.metadata["fetch_limits"]["max_response_mb"] == 32
    assert all(r["tries"] == 1 and r["bytes"] > 0 for r in res.metadata["requests"])


def test_cache_of_a_good_answer_is_kept_when_a_later_one_fails(server: Server,
                                                                tmp_path: Path) -> None:
    f, _ = _fetcher(tmp_path)
    _ = PxWebClient(f, server.api).limits
    cache = ResponseCache(tmp_path / "cache")
    before = cache.meta("GET", f"{server.api}/config", None)
    server.fake.fault("config", ("stream", 4))
    f2, _ = _fetcher(tmp_path)
    f2.max_bytes = 2**20
    with pytest.raises(FetchError, match="larger than"):
        _ = PxWebClient(f2, server.api).limits
    assert cache.meta("GET", f"{server.api}/config", None) == before
    assert _load("config.json")["maxDataCells"] == 150000


# --------------------------------------------------------------------------- FetchLimits


def test_cli_options_are_made_from_fetch_limits(server: Server, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    import dataclasses

    from strukturbild.sources.scb.options import FetchLimits

    assert main(["fetch", "scb", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for f in dataclasses.fields(FetchLimits):
        flag = "--" + f.name.replace("_", "-")
        assert f"{flag} {f.metadata['metavar']}" in text, flag
        assert f"(default: {f.default:g})" in text
    out = tmp_path / "o"
    assert main(["fetch", "scb", "--lan", "12", "--year", "2022", "--out", str(out), "-q",
                 "--api-url", server.api, "--wfs-url", server.wfs, "--timeout", "60",
                 "--retries", "2", "--max-mb", "32", "--max-wait", "7"]) == 0
    md = json.loads((out / "metadata.json").read_text())
    assert md["fetch_limits"] == {**md["fetch_limits"], "timeout_s": 60, "retries": 2,
                                  "max_response_mb": 32, "max_wait_s": 7}
    # the defaults are FetchLimits' own, in the library as on the command line
    assert FetchLimits() == FetchLimits(timeout=120, retries=4, max_mb=256, max_wait=120)


def test_the_help_names_the_environment_variables_fetch_scb_reads() -> None:
    from strukturbild.cli import fetch as cli_fetch
    from strukturbild.sources.scb import options

    assert (cli_fetch.ENV_API_URL, cli_fetch.ENV_WFS_URL, cli_fetch.ENV_CACHE_DIR) == (
        options.ENV_API_URL, options.ENV_WFS_URL, options.ENV_CACHE_DIR)


# --------------------------------------------------------------------------- the cache


def _cached_config(tmp_path: Path, server: Server) -> tuple[Path, Path, Path]:
    """A cache filled by a good run; the body and record files of its /config entry."""
    f, _ = _fetcher(tmp_path)
    _ = PxWebClient(f, server.api).limits
    cache = tmp_path / "cache"
    key = ResponseCache.key("GET", f"{server.api}/config", None)
    return cache, cache / f"{key}.body", cache / f"{key}.json"


def _offline_run(server: Server, cache: Path, tmp_path: Path,
                 capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, float]:
    capsys.readouterr()
    t0 = time.monotonic()
    code = main(["fetch", "scb", "--lan", "12", "--year", "2022", "--out", str(tmp_path / "o"),
                 "-q", "--offline", "--cache", str(cache), "--api-url", server.api,
                 "--wfs-url", server.wfs, *extra])
    dt = time.monotonic() - t0
    err = capsys.readouterr().err
    assert "internal error" not in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()
    return code, err, dt


def test_cached_answer_nested_200000_deep_exits_2(server: Server, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    cache, body, record = _cached_config(tmp_path, server)
    deep = b"[" * 200_000 + b"]" * 200_000
    body.write_bytes(deep)
    rec = json.loads(record.read_text())
    record.write_text(json.dumps({**rec, "sha256": hashlib.sha256(deep).hexdigest()}))
    code, err, dt = _offline_run(server, cache, tmp_path, capsys)
    _REPORT.append(("cached answer nested 200,000 deep", code, "none", dt, _first_line(err)))
    assert code == 2
    assert "/api/v2/config: the answer is not JSON: the JSON document is nested 200,000 " \
           "deep, more than the 64 levels allowed" in err


def test_cache_record_nested_200000_deep_is_ignored_with_a_warning(
        server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cache, _, record = _cached_config(tmp_path, server)
    record.write_bytes(b"[" * 200_000 + b"]" * 200_000)
    code, err, dt = _offline_run(server, cache, tmp_path, capsys)
    _REPORT.append(("cache record nested 200,000 deep", code, "none", dt, _first_line(err)))
    assert code == 2
    assert f"cache record {record} is unreadable (the JSON document is nested 200,000 deep" in err
    assert "offline and no cached response" in err


def test_cached_answer_over_max_mb_is_refused_unread(server: Server, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    cache, body, _ = _cached_config(tmp_path, server)
    with body.open("r+b") as fh:  # 3 GiB, sparse: no disk used, nothing to read quickly
        fh.truncate(3 * 2**30)
    code, err, dt = _offline_run(server, cache, tmp_path, capsys)
    _REPORT.append(("cached answer of 3 GiB (sparse), --max-mb 256", code, "none", dt,
                    _first_line(err)))
    assert code == 2 and dt < 3
    assert f"the cached answer {body} is 3072 MiB, more than the 256 MiB allowed (--max-mb)" in err
    assert "/api/v2/config" in err
    # --max-mb covers the cache both ways: a small cap refuses a normal entry too
    cache2, body2, _ = _cached_config(tmp_path / "second", server)
    code, err, _ = _offline_run(server, cache2, tmp_path, capsys, "--max-mb", "0.00001")
    assert code == 2 and f"the cached answer {body2} is" in err


def test_cache_falls_back_only_within_max_mb(server: Server, tmp_path: Path) -> None:
    # the network fails and the cached answer is over the cap: an error, not a read
    f, _ = _fetcher(tmp_path)
    _ = PxWebClient(f, server.api).limits
    api = server.api
    server.stop()
    f2, _ = _fetcher(tmp_path, max_retries=0)
    f2.max_bytes = 10
    with pytest.raises(FetchError, match=r"the cached answer .* more than the .* allowed"):
        _ = PxWebClient(f2, api).limits


# --------------------------------------------------------------------------- server's words

ESCAPES = "\x1b]0;TITLE\x07\x1b[2J\x9b"


def _shown_as_errors_show_it(text: str) -> bool:
    """Control characters appear in ``text`` only if StrukturbildError lets them through."""
    raw = str(FetchError(ESCAPES))
    return all((c in text) == (c in raw) for c in "\x1b\x07\x9b")


def test_cli_server_words_in_an_error_go_through_strukturbild_error(
        server: Server, golden: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err, _, _ = _hostile_run(
        "HTTP 404 with escapes in its reason and detail", server, golden, tmp_path, capsys,
        lambda s: s.fake.fault("config", ("words", (404, f"Not{ESCAPES}Found",
                                                     f"gone{ESCAPES}"))), limit=3)
    assert "/api/v2/config: HTTP 404 Not" in err
    assert _shown_as_errors_show_it(err)


def test_server_words_in_the_cache_fallback_warning_go_through_strukturbild_error(
        server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f, _ = _fetcher(tmp_path)
    _ = PxWebClient(f, server.api).limits
    server.fake.fault("config", ("words", (500, f"Oops{ESCAPES}", f"down{ESCAPES}")))
    code = main(["fetch", "scb", "--lan", "12", "--year", "2022", "--out", str(tmp_path / "o"),
                 "-q", "--cache", str(tmp_path / "cache"), "--retries", "0",
                 "--api-url", server.api, "--wfs-url", server.wfs])
    err = capsys.readouterr().err
    assert code == 0
    warning = next(line for line in err.splitlines() if "using the cached response" in line)
    assert "HTTP 500 Oops" in warning and _shown_as_errors_show_it(warning)
