"""The SCB client and ``strukturbild fetch scb`` against a local HTTP server.

No test touches the network: a stdlib ``http.server`` thread on 127.0.0.1
(``tests/_support/scb_server.py``) answers like SCB's PxWebApi 2 and geodata WFS, from
the synthetic documents in ``tests/data/scb`` (see its README). Faults (403 for too
many cells, 429 with Retry-After, 500, a truncated body, a wrong content type, and the
hostile ones of ``test_fetch_limits.py``: dripping bytes, huge bodies, redirects) are
queued per route, and ``mutate`` rewrites a route's answer (malformed documents).
Sleeping is injected, so retries and back-off cost no time.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strukturbild.cli import main
from strukturbild.config import load_project
from strukturbild.errors import StrukturbildError, StrukturbildWarning
from strukturbild.sources.scb.client import (
    ApiLimits,
    FetchError,
    HttpFetcher,
    PxWebClient,
    RateLimiter,
    ResponseCache,
    WfsClient,
    decode_jsonstat2,
    split_selection,
)
from strukturbild.sources.scb.commuting import COMMUTING_TABLES
from strukturbild.sources.scb.fetch import fetch_scb

from ..._support.scb_server import (
    Server,
    Sleeps,
    _fetcher,
    _load,
    _product,
    _routes,
    count_for,
    grown,
)
from ...conftest import REPO

# --------------------------------------------------------------------------- decoding


def test_decode_jsonstat2_fixture() -> None:
    df = decode_jsonstat2(_load("TAB1830_data_example.json"))
    assert list(df.columns) == ["Bostadskommun", "Arbetsstallekommun", "Kon", "ContentsCode",
                                "Tid", "value", "status"]
    got = list(zip(df["Bostadskommun"], df["Arbetsstallekommun"], df["value"], strict=True))
    assert got[:5] == [("1231", "1231", 3000.0), ("1231", "1280", 4000.0),
                       ("1231", "1281", 500.0), ("1280", "1231", 1500.0),
                       ("1280", "1280", 120000.0)]
    assert math.isnan(df["value"].iloc[5]) and df["status"].iloc[5] == ".."


def test_decode_jsonstat2_sparse_values_and_list_index() -> None:
    doc = {"version": "2.0", "class": "dataset", "id": ["a", "b"], "size": [1, 3],
           "dimension": {"a": {"category": {"index": ["x"]}},
                         "b": {"category": {"index": {"p": 0, "q": 1, "r": 2}}}},
           "value": {"2": 7}}
    df = decode_jsonstat2(doc)
    assert df["b"].tolist() == ["p", "q", "r"]
    assert df["value"].fillna(-1).tolist() == [-1.0, -1.0, 7.0]


@pytest.mark.parametrize("doc", [
    {"class": "collection"},
    {"version": "2.0", "class": "dataset", "id": ["a"], "size": [2],
     "dimension": {"a": {"category": {"index": ["x"]}}}, "value": [1]},
    {"version": "2.0", "class": "dataset", "id": ["a"], "size": [1],
     "dimension": {"a": {"category": {"index": ["x"]}}}, "value": [1, 2]},
], ids=["not-a-dataset", "size-mismatch", "too-many-values"])
def test_decode_jsonstat2_rejects_malformed(doc: dict[str, Any]) -> None:
    with pytest.raises(FetchError):
        decode_jsonstat2(doc)


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(1, 6), min_size=1, max_size=4), max_cells=st.integers(1, 50))
def test_split_selection_covers_every_cell_once(sizes: list[int], max_cells: int) -> None:
    sel = {f"d{i}": [f"v{j}" for j in range(n)] for i, n in enumerate(sizes)}
    parts = split_selection(sel, max_cells)
    cells: list[tuple[str, ...]] = []
    for p in parts:
        assert math.prod(len(v) for v in p.values()) <= max_cells
        assert list(p) == list(sel)
        cells.extend(_product([p[k] for k in sel]))
    assert sorted(cells) == sorted(_product([sel[k] for k in sel]))


def test_limits_from_config_fixture() -> None:
    assert ApiLimits.from_config(_load("config.json")) == ApiLimits(150000, 30, 10.0)


def test_rate_limiter_waits_for_the_window() -> None:
    now = [0.0]
    sleeps = Sleeps()

    def sleep(s: float) -> None:
        sleeps.append(s)
        now[0] += s

    rl = RateLimiter(3, 10.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(7):
        rl.wait()
        now[0] += 1.0
    assert sleeps == [7.0, 7.0]


# --------------------------------------------------------------------------- client


def test_client_reads_config_and_splits_queries(server: Server, tmp_path: Path) -> None:
    server.fake.config["maxDataCells"] = 8
    f, _ = _fetcher(tmp_path)
    px = PxWebClient(f, server.api)
    assert px.limits.max_data_cells == 8
    homes = ["1231", "1233", "1280", "1281", "1380"]
    sel = {"Bostadskommun": homes, "Arbetsstallekommun": homes, "Kon": ["1+2"],
           "ContentsCode": ["000000QT"], "Tid": ["2022"]}
    df = px.data("TAB1830", sel)
    posts = _routes(server.fake, "data:")
    assert len(posts) == 5  # 25 cells in parts of at most 8 (5 per home kommun)
    assert all(math.prod(len(s["valueCodes"]) for s in p["body"]["selection"]) <= 8
               for p in posts)
    assert len(df) == 25
    got = dict(zip(zip(df["Bostadskommun"], df["Arbetsstallekommun"], strict=True),
                   df["value"], strict=True))
    assert got[("1231", "1280")] == 4080.0  # 4000 grown 2 %
    assert got[("1380", "1233")] == 0.0


def test_client_sends_a_descriptive_user_agent(server: Server, tmp_path: Path) -> None:
    f, _ = _fetcher(tmp_path)
    PxWebClient(f, server.api).metadata("TAB1830")
    ua = server.fake.log[-1]["user_agent"]
    assert ua.startswith("strukturbild/") and "regional planning" in ua


def test_403_too_many_cells_splits_the_query_again(server: Server, tmp_path: Path) -> None:
    server.fake.server_max_cells = 4  # the server is stricter than its /config says
    f, _ = _fetcher(tmp_path)
    px = PxWebClient(f, server.api)
    sel = {"Bostadskommun": ["1231", "1280"], "Arbetsstallekommun": ["1231", "1280", "1281"],
           "Kon": ["1+2"], "ContentsCode": ["000000QT"], "Tid": ["2022"]}
    df = px.data("TAB1830", sel)
    assert len(df) == 6 and df["value"].sum() == pytest.approx(
        sum(count_for(server.fake.matrix, h, w, "2022") for h in ("1231", "1280")
            for w in ("1231", "1280", "1281")))
    statuses = [r for r in server.fake.log if r["route"] == "data:TAB1830"]
    assert len(statuses) == 4  # one refused with 403, then parts of at most 3 cells


def test_403_that_cannot_be_split_is_an_error(server: Server, tmp_path: Path) -> None:
    server.fake.server_max_cells = 0
    f, _ = _fetcher(tmp_path)
    px = PxWebClient(f, server.api)
    with pytest.raises(FetchError, match="403") as err:
        px.data("TAB1830", {"Bostadskommun": ["1231"], "Arbetsstallekommun": ["1231"],
                            "Kon": ["1+2"], "ContentsCode": ["000000QT"], "Tid": ["2022"]})
    assert err.value.status == 403


def test_429_waits_for_retry_after(server: Server, tmp_path: Path) -> None:
    server.fake.fault("config", ("429", 7))
    f, sleeps = _fetcher(tmp_path)
    assert PxWebClient(f, server.api).limits.max_calls == 30
    assert sleeps == [7.0]
    assert len(_routes(server.fake, "config")) == 2


def test_500_is_retried_with_growing_waits(server: Server, tmp_path: Path) -> None:
    server.fake.fault("metadata:TAB1830", ("status", 500), ("status", 503))
    f, sleeps = _fetcher(tmp_path)
    meta = PxWebClient(f, server.api).metadata("TAB1830")
    assert meta.years == ("2020", "2021", "2022")
    assert sleeps == [2.0]  # urllib3's Retry: the first retry at once, then 2, 4, 8 s


def test_truncated_body_is_retried(server: Server, tmp_path: Path) -> None:
    server.fake.fault("metadata:TAB1830", ("truncate", None))
    f, sleeps = _fetcher(tmp_path)
    assert PxWebClient(f, server.api).metadata("TAB1830").time_dim == "Tid"
    assert sleeps == []  # the first retry comes at once
    assert len(_routes(server.fake, "metadata:")) == 2


def test_wrong_content_type_is_an_error_without_retry(server: Server, tmp_path: Path) -> None:
    server.fake.fault("config", ("content_type", "text/html; charset=utf-8"))
    f, sleeps = _fetcher(tmp_path)
    with pytest.raises(FetchError, match="text/html"):
        _ = PxWebClient(f, server.api).limits
    assert sleeps == [] and len(_routes(server.fake, "config")) == 1


def test_retries_are_bounded(server: Server, tmp_path: Path) -> None:
    server.fake.fault("config", *[("status", 500)] * 10)
    f, sleeps = _fetcher(tmp_path, max_retries=3)
    with pytest.raises(FetchError, match="HTTP 500") as err:
        _ = PxWebClient(f, server.api).limits
    assert err.value.status == 500
    assert len(_routes(server.fake, "config")) == 4 and sleeps == [2.0, 4.0]
    assert "after 4 tries" in str(err.value)


def test_404_is_an_error_at_once(server: Server, tmp_path: Path) -> None:
    f, sleeps = _fetcher(tmp_path)
    with pytest.raises(FetchError, match="HTTP 404"):
        PxWebClient(f, server.api).metadata("TAB9999")
    assert sleeps == []


def test_calls_stay_under_the_rate_limit(server: Server, tmp_path: Path) -> None:
    server.fake.config.update(maxCallsPerTimeWindow=2, timeWindow=10, maxDataCells=2)
    now = [0.0]
    sleeps = Sleeps()

    def sleep(s: float) -> None:
        sleeps.append(s)
        now[0] += s

    f = HttpFetcher(cache=None, sleep=sleep, clock=lambda: now[0])
    px = PxWebClient(f, server.api)
    px.data("TAB1830", {"Bostadskommun": ["1231", "1280", "1281"],
                        "Arbetsstallekommun": ["1280"], "Kon": ["1+2"],
                        "ContentsCode": ["000000QT"], "Tid": ["2022"]})
    # 2 POSTs, limiter 2 calls / 10 s: the second call waits for the window.
    assert len(_routes(server.fake, "data:")) == 2
    assert sleeps == []  # both fit: /config is not counted, and the window holds 2
    px.metadata("TAB1830")
    assert sleeps == [10.0]


def test_wfs_pages_until_all_features(server: Server, tmp_path: Path) -> None:
    server.fake.page_size = 3
    f, _ = _fetcher(tmp_path)
    fc = WfsClient(f, server.wfs).features("stat:Tatorter_2020", cql="kommun LIKE '12%'")
    assert len(fc["features"]) == 7
    starts = [r["query"].get("startIndex") for r in _routes(server.fake, "wfs:")]
    assert starts == [None, "3", "6"]


# --------------------------------------------------------------------------- cache


def test_cache_answers_offline_and_records_the_request(server: Server, tmp_path: Path) -> None:
    f, _ = _fetcher(tmp_path)
    online = PxWebClient(f, server.api).metadata("TAB1830")
    n = len(server.fake.log)
    f2, _ = _fetcher(tmp_path, offline=True)
    offline = PxWebClient(f2, server.api).metadata("TAB1830")
    assert offline == online and len(server.fake.log) == n
    recs = [json.loads(p.read_text()) for p in (tmp_path / "cache").glob("*.json")]
    urls = sorted(r["request"]["url"] for r in recs)
    assert urls[0].endswith("/config") and "TAB1830/metadata" in urls[1]
    import hashlib

    bodies = {hashlib.sha256(p.read_bytes()).hexdigest()
              for p in (tmp_path / "cache").glob("*.body")}
    assert {r["sha256"] for r in recs} == bodies
    assert all(r["fetched_at"] and r["request"]["method"] == "GET" for r in recs)


def test_changed_response_is_warned_and_recorded(server: Server, tmp_path: Path) -> None:
    f, _ = _fetcher(tmp_path)
    _ = PxWebClient(f, server.api).limits
    server.fake.config["maxDataCells"] = 99
    f2, _ = _fetcher(tmp_path)
    with pytest.warns(StrukturbildWarning, match="changed since it was cached"):
        assert PxWebClient(f2, server.api).limits.max_data_cells == 99
    rec = ResponseCache(tmp_path / "cache").meta("GET", f"{server.api}/config", None)
    assert rec is not None and len(rec["history"]) == 1
    assert f2.log[-1].changed and f2.log[-1].previous_sha256 == rec["history"][0]["sha256"]


def test_offline_without_cache_is_a_clear_error(tmp_path: Path) -> None:
    f, _ = _fetcher(tmp_path, offline=True)
    with pytest.raises(FetchError, match="offline and no cached response"):
        _ = PxWebClient(f, "http://127.0.0.1:9/api/v2").limits


def test_network_down_falls_back_to_the_cache(server: Server, tmp_path: Path) -> None:
    f, _ = _fetcher(tmp_path)
    _ = PxWebClient(f, server.api).limits
    api = server.api
    server.stop()
    f2, sleeps = _fetcher(tmp_path, max_retries=1)
    with pytest.warns(StrukturbildWarning, match="using the cached response"):
        assert PxWebClient(f2, api).limits.max_calls == 30
    assert sleeps == []  # one retry, at once
    assert f2.log[-1].from_cache and "network error" in (f2.log[-1].fallback or "")


def test_gzip_answers_are_decoded(server: Server, tmp_path: Path) -> None:
    server.fake.fault("config", ("gzip", json.dumps(server.fake.config).encode()))
    f, _ = _fetcher(tmp_path)
    assert PxWebClient(f, server.api).limits.max_data_cells == 150000
    assert "gzip" in server.fake.log[-1]["accept_encoding"]


def test_gzip_bomb_is_cut_off_at_the_size_cap(server: Server, tmp_path: Path) -> None:
    # 64 MiB of JSON padding in about 64 KiB of gzip: the cap counts decoded bytes
    bomb = b'{"padding": "' + b" " * (64 * 2**20) + b'"}'
    server.fake.fault("config", ("gzip", bomb))
    f, _ = _fetcher(tmp_path, max_retries=0)
    f.max_bytes = 2**20
    with pytest.raises(FetchError, match="larger than the 1 MiB allowed"):
        _ = PxWebClient(f, server.api).limits


def test_a_failure_while_writing_leaves_the_previous_outputs(
        server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import strukturbild.sources.scb.fetch as fetch_module

    out = tmp_path / "skane"
    _fetch(server, out)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}

    def broken(*args: Any) -> str:
        raise RuntimeError("disk gone")

    # the project file is written last: everything else is staged by then
    monkeypatch.setattr(fetch_module, "project_toml", broken)
    with pytest.raises(RuntimeError, match="disk gone"):
        _fetch(server, out, year=2021)
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert after == before


def test_corrupt_cache_entry_is_ignored(server: Server, tmp_path: Path) -> None:
    f, _ = _fetcher(tmp_path)
    _ = PxWebClient(f, server.api).limits
    body = next((tmp_path / "cache").glob("*.body"))
    body.write_bytes(b'{"maxDataCells": 1}')
    f2, _ = _fetcher(tmp_path, offline=True)
    with pytest.warns(StrukturbildWarning, match="fails its checksum"), \
            pytest.raises(FetchError, match="offline"):
        _ = PxWebClient(f2, server.api).limits


# --------------------------------------------------------------------------- fetch


def _fetch(server: Server, out: Path, **kw: Any) -> Any:
    sleeps = Sleeps()
    kw.setdefault("lan", ["12"])
    kw.setdefault("year", 2022)
    return fetch_scb(out, api_url=server.api, wfs_url=server.wfs, sleep=sleeps, **kw)


def test_fetch_writes_a_project_that_builds(server: Server, tmp_path: Path) -> None:
    from strukturbild.pipeline import build

    out = tmp_path / "skane"
    res = _fetch(server, out)
    assert sorted(p.name for p in out.iterdir()) == [
        "cache", "commuting_kommun.csv", "employment_kommun.csv", "flows_place.csv",
        "metadata.json", "project.toml", "scb.gpkg", "seats.csv"]

    # Seats: by name, Vellinge not its largest tätort; Burlöv's seat Arlöv is in Malmö.
    seats = pd.read_csv(out / "seats.csv", dtype=str).set_index("kommun_code")
    assert seats.loc["1233", "place_id"] == "1233TC108" and seats.loc["1233", "method"] == "name"
    assert seats.loc["1231", "place_id"] == "1280TC106" and seats.loc["1231", "method"] == "code"

    # Employment: row and column sums over all kommuner, including Halmstad (län 13).
    m = server.fake.matrix
    emp = pd.read_csv(out / "employment_kommun.csv", dtype={"kommun_code": str})
    emp = emp.set_index("kommun_code")
    ks = ["1231", "1233", "1280", "1281", "1380"]
    for k in ("1231", "1233", "1280", "1281"):
        assert emp.loc[k, "employed"] == sum(count_for(m, k, w, "2022") for w in ks)
        assert emp.loc[k, "jobs"] == sum(count_for(m, h, k, "2022") for h in ks)
    assert "1380" not in emp.index

    # Place flows: Malmö and Burlöv merged; flows between them are intra-place flow.
    pf = pd.read_csv(out / "flows_place.csv", dtype=str)
    pf["count"] = pf["count"].astype(float)
    flows = {(r.origin, r.destination): r.count for r in pf.itertuples()}
    mm = sum(count_for(m, a, b, "2022") for a in ("1280", "1231") for b in ("1280", "1231"))
    assert flows[("1280TC106", "1280TC106")] == mm
    assert flows[("1281TC105", "1280TC106")] == count_for(m, "1281", "1280", "2022") + \
        count_for(m, "1281", "1231", "2022")
    assert set(pf["origin"]) | set(pf["destination"]) == {"1280TC106", "1281TC105", "1233TC108"}
    region_total = sum(count_for(m, a, b, "2022") for a in ks[:4] for b in ks[:4])
    assert pf["count"].sum() == region_total

    # The places carry their own jobs, SCB's day population per tätort (TAB9901, found
    # by the table search): Malmö's two län parts added up, Höllviken's suppressed
    # Halland part counted as none, Vellinge suppressed altogether.
    project = load_project(res.project)
    assert project.flows is not None and project.flows.level == "place"
    image = build(project)
    p = image.places
    jobs = server.fake.jobs
    assert p.loc["1280TC106", "jobs"] == grown(jobs["1280TC106"], "2022") + \
        grown(jobs["1280TC106-13"], "2022") == 193_953
    assert p.loc["1233TC104", "jobs"] == grown(jobs["1233TC104"], "2022") == 4_080
    assert p.loc["1231TB102", "jobs"] == grown(jobs["1231TB102"], "2022")
    assert pd.isna(p.loc["1233TC108", "jobs"])
    # employed residents: the tätort's inhabitants at its kommun's rate (employed per
    # inhabitant: the commuting table's row sums over TAB638's population)
    pop = {k: grown(v, "2022") for k, v in server.fake.population.items()}
    rate = round(emp.loc["1281", "employed"] / pop["1281"], 4)
    assert emp.loc["1281", "population"] == pop["1281"]
    assert emp.loc["1281", "employment_rate"] == rate
    assert p.loc["1281TC105", "employed"] == pytest.approx(94_000 * rate)
    assert p["employed_estimated"].all()
    assert p.loc["1281TC105", "job_ratio"] == pytest.approx(
        grown(jobs["1281TC105"], "2022") / (94_000 * rate))
    layer = gpd.read_file(out / "scb.gpkg", layer="places").set_index("place_id")
    assert layer["employed"].isna().all()  # estimated by the build, from the kommun's rate
    assert layer.loc["1280TC106", "seat_of"] == "1231,1280"
    assert layer.loc["1281TC105", "seat_of"] == "1281"
    kl = gpd.read_file(out / "scb.gpkg", layer="kommuner").set_index("area_id")
    assert kl.loc["1281", "employment_rate"] == rate
    assert not image.modelled and len(image.links) == 3
    assert image.areas is not None and sorted(image.areas.index) == ["1231", "1233", "1280",
                                                                      "1281"]
    # the links' shares are of the kommun flows they are drawn from, not of the tätort
    link = image.links.set_index(["origin", "destination"]).loc[("1280TC106", "1281TC105")]
    out_malmo = pf.loc[pf["origin"] == "1280TC106", "count"].sum()  # Malmö and Burlöv
    in_lund = pf.loc[pf["destination"] == "1281TC105", "count"].sum()
    assert link["share_of_origin"] == pytest.approx(link["flow_od"] / out_malmo)
    assert link["share_of_destination"] == pytest.approx(link["flow_od"] / in_lund)

    md = json.loads((out / "metadata.json").read_text())
    j = md["sources"]["jobs"]
    assert (j["table"], j["found_by"], j["year"], j["delineation"], j["contents"]) == (
        "TAB9901", "search", 2022, 2020, "000007Y1")
    # the search's candidates: the discontinued table and the kommun table left out
    assert [c["id"] for c in j["candidates"]] == ["TAB9900", "TAB9901"]
    assert (j["tatorter"], j["split_summed"], j["suppressed"]) == (6, 2, ["1233TC108"])
    assert (j["matched_by_code"], j["matched_by_location"], j["unmatched"],
            j["unmatched_places"], j["match_layer"]) == (6, 0, 1, ["1233TC108"], None)
    assert md["sources"]["population"]["table"] == "TAB638"
    assert md["sources"]["population"]["year"] == 2022
    sel = {r["route"]: {x["variableCode"]: x["valueCodes"] for x in r["body"]["selection"]}
           for r in server.fake.log if r["route"] in ("data:TAB9901", "data:TAB638")}
    assert sel["data:TAB9901"]["Kon"] == ["1+2"] and sel["data:TAB9901"]["Tid"] == ["2022"]
    assert sel["data:TAB9901"]["ContentsCode"] == ["000007Y1"]
    assert "1380TC108" not in sel["data:TAB9901"]["Region"]  # Halland's: not asked for
    assert set(sel["data:TAB638"]) == {"Region", "Alder", "ContentsCode", "Tid"}
    assert sel["data:TAB638"]["Alder"] == ["tot"]  # civil state and sex eliminated
    assert md["sources"]["commuting"]["table"] == "TAB1830"
    assert md["sources"]["tatorter"]["layer"] == "stat:Tatorter_2020"
    assert md["region"]["kommuner"] == ["1231", "1233", "1280", "1281"]
    assert md["warnings"] == [] and md["changed_responses"] == []
    assert all(r["sha256"] for r in md["requests"])
    # The BAS query names the total of Kön; the tätort query filters on the län.
    post = _routes(server.fake, "data:TAB1830")[0]["body"]["selection"]
    assert {s["variableCode"]: s["valueCodes"] for s in post}["Kon"] == ["1+2"]
    wfs = _routes(server.fake, "wfs:stat:Tatorter_2020")[0]["query"]
    assert wfs["CQL_FILTER"] == "kommun LIKE '12%'" and wfs["srsName"] == "EPSG:3006"


def test_second_run_works_offline_from_the_cache(server: Server, tmp_path: Path) -> None:
    out = tmp_path / "skane"
    _fetch(server, out)
    first = {n: (out / n).read_text() for n in ("flows_place.csv", "employment_kommun.csv",
                                                "project.toml")}
    server.stop()
    out2 = tmp_path / "again"
    res = fetch_scb(out2, lan=["12"], year=2022, api_url=server.api, wfs_url=server.wfs,
                    cache_dir=out / "cache", offline=True)
    for n, text in first.items():
        assert (out2 / n).read_text() == text
    assert all(r["from_cache"] for r in res.metadata["requests"])


def test_default_year_is_the_latest(server: Server, tmp_path: Path) -> None:
    res = fetch_scb(tmp_path / "o", lan=["12"], api_url=server.api, wfs_url=server.wfs)
    assert res.metadata["year"] == 2022 and res.metadata["tatort_year"] == 2020


def test_history_deduplicates_overlaps_and_records_breaks(server: Server,
                                                          tmp_path: Path) -> None:
    server.fake.layers["stat:Tatorter_2018"] = server.fake.layers["stat:Tatorter_2020"]
    out = tmp_path / "hist"
    res = _fetch(server, out, year=2021, history_from=2017, tatort_year=2020)
    s = pd.read_csv(out / "commuting_kommun_series.csv", dtype={"origin": str,
                                                                "destination": str})
    assert s.groupby("year")["table"].first().to_dict() == {
        2017: "TAB333", 2018: "TAB333", 2019: "TAB5850", 2020: "TAB1830", 2021: "TAB1830"}
    assert not s.duplicated(["year", "origin", "destination"]).any()
    series = res.metadata["series"]
    assert series["overlaps"] == [{"year": 2020, "used": "TAB1830", "dropped": ["TAB5850"]},
                                  {"year": 2021, "used": "TAB1830", "dropped": ["TAB5850"]}]
    assert [(b["year"], b["from"], b["to"]) for b in series["breaks"]] == [
        (2019, "TAB333", "TAB5850"), (2020, "TAB5850", "TAB1830")]
    assert "AGI" in series["breaks"][0]["note"] and "BAS" in series["breaks"][1]["note"]
    sel = {r["route"]: {s["variableCode"]: s["valueCodes"] for s in r["body"]["selection"]}
           for r in server.fake.log if r["route"].startswith("data:")}
    assert "Kon" not in sel["data:TAB5850"]  # eliminable: left out
    assert sel["data:TAB333"]["Kon"] == ["1+2"]  # its eliminationValueCode


def test_jobs_of_another_delineation_are_matched_by_location(server: Server,
                                                              tmp_path: Path) -> None:
    """The jobs table has 2023 only, with the tätorter of 2023: Burlövs egnahem and
    Åkarp (2020) are one tätort there, 1231TC103, whose polygon (WFS Tatorter_2023)
    holds both 2020 points; its jobs are shared by the 2020 population (770 and 6 300).
    The others keep their codes."""
    meta = server.fake.meta["TAB9901"]
    region = meta["dimension"]["Region"]["category"]
    codes = [c for c in region["index"] if c not in ("1231TB101", "1231TB102")] + ["1231TC103"]
    region["index"] = {c: i for i, c in enumerate(codes)}
    region["label"] = {c: region["label"].get(c, "Åkarp") for c in codes}
    meta["dimension"]["Tid"]["category"] = {"index": {"2023": 0}, "label": {"2023": "2023"}}
    meta["size"] = [len(codes), 3, 2, 1]
    out = tmp_path / "o"
    messages: list[str] = []
    with pytest.warns(StrukturbildWarning, match="jobs per tätort are of 2023, the year "
                                                 "nearest 2022 that TAB9901 has"):
        res = _fetch(server, out, progress=messages.append)
    j = res.metadata["sources"]["jobs"]
    assert (j["year"], j["delineation"], j["match_layer"]) == (2023, 2023, "stat:Tatorter_2023")
    assert (j["matched_by_code"], j["matched_by_location"], j["rows_shared"],
            j["unmatched"], j["unmatched_places"]) == (4, 2, 1, 1, ["1233TC108"])
    assert ("jobs 2023 per tätort from TAB9901: 6 of 7 tätorter matched (4 by code, 2 by "
            "location), 1 without jobs") in messages
    layer = gpd.read_file(out / "scb.gpkg", layer="places").set_index("place_id")
    akarp = grown(server.fake.jobs["1231TC103"], "2023")
    assert layer.loc["1231TB101", "jobs"] == pytest.approx(akarp * 770 / 7070)
    assert layer.loc["1231TB102", "jobs"] == pytest.approx(akarp * 6300 / 7070)
    assert layer.loc["1281TC105", "jobs"] == grown(server.fake.jobs["1281TC105"], "2023")
    wfs = _routes(server.fake, "wfs:stat:Tatorter_2023")[0]["query"]
    assert wfs["CQL_FILTER"] == "kommun LIKE '12%'"


def test_jobs_table_by_id_skips_the_search(server: Server, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("STRUKTURBILD_SCB_API_URL", server.api)
    monkeypatch.setenv("STRUKTURBILD_SCB_WFS_URL", server.wfs)
    out = tmp_path / "o"
    assert main(["fetch", "scb", "--lan", "12", "--year", "2022", "--out", str(out),
                 "--jobs-table", "TAB9901"]) == 0
    assert "jobs 2022 per tätort from TAB9901: 6 of 7 tätorter matched (6 by code, 0 by " \
           "location), 1 without jobs" in capsys.readouterr().err
    assert _routes(server.fake, "search") == []
    md = json.loads((out / "metadata.json").read_text(encoding="utf-8"))
    assert md["sources"]["jobs"]["found_by"] == "id"


@pytest.mark.parametrize(("tables", "message"), [
    ([2], "the table search for 'dagbefolkning tätort' found no table of the day population "
          "by tätort among 1 tables; give its id with --jobs-table"),
    ("bad id", "field 'tables[0].id': expected"),
], ids=["none-found", "malformed"])
def test_jobs_table_search_failures_exit_2(tables: Any, message: str, server: Server,
                                          tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    if tables == "bad id":
        server.fake.search["tables"][0]["id"] = 9901
    else:
        server.fake.search["tables"] = [server.fake.search["tables"][i] for i in tables]
    out = tmp_path / "o"
    code = main(["fetch", "scb", "--lan", "12", "--year", "2022", "--out", str(out), "-q",
                 "--api-url", server.api, "--wfs-url", server.wfs])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "/api/v2/tables?query=dagbefolkning+t%C3%A4tort&lang=sv&pageSize=100" in err
    assert message in err
    assert not (out / "project.toml").exists()


def test_year_no_table_has_is_a_config_error(server: Server, tmp_path: Path) -> None:
    with pytest.raises(StrukturbildError, match="no commuting table has the year 1990"):
        _fetch(server, tmp_path / "o", year=1990, commuting_tables=COMMUTING_TABLES[:3])
    assert not (tmp_path / "o" / "project.toml").exists()


# --------------------------------------------------------------------------- CLI


def test_cli_fetch_then_build(server: Server, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("STRUKTURBILD_SCB_API_URL", server.api)
    monkeypatch.setenv("STRUKTURBILD_SCB_WFS_URL", server.wfs)
    out = tmp_path / "skane"
    assert main(["fetch", "scb", "--lan", "12", "--year", "2022", "--out", str(out), "-q"]) == 0
    text = capsys.readouterr().out
    assert "Skåne län 2022" in text and "strukturbild build" in text
    assert main(["build", str(out / "project.toml"), "--out", str(tmp_path / "o"),
                 "--format", "json", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["places"] == 7 and summary["links"] == 3


def test_cli_no_network_no_cache_exits_2_and_writes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "nothing"
    code = main(["fetch", "scb", "--lan", "12", "--out", str(out), "--retries", "0",
                 "--api-url", "http://127.0.0.1:9/api/v2", "--wfs-url", "http://127.0.0.1:9/w",
                 "-q"])
    assert code == 2
    assert "no cached response" in capsys.readouterr().err
    assert not out.exists()


def test_cli_offline_without_cache_exits_2(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "nothing"
    assert main(["fetch", "scb", "--country", "--offline", "--out", str(out), "-q"]) == 2
    assert "offline" in capsys.readouterr().err and not out.exists()


@pytest.mark.parametrize("argv", [
    ["fetch", "scb", "--out", "x"],
    ["fetch", "scb", "--lan", "99", "--out", "x", "--offline"],
    ["fetch", "scb", "--lan", "12", "--tables", "TAB1", "--out", "x"],
], ids=["no-lan", "unknown-lan", "unknown-table"])
def test_cli_bad_arguments_exit_2(argv: list[str], tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings():
        assert main(argv) == 2
    assert not (tmp_path / "x").exists()


def test_default_tables_are_the_documented_series() -> None:
    assert [t.table_id for t in COMMUTING_TABLES] == ["TAB1830", "TAB5850", "TAB333", "TAB334"]


def _readme_recipe() -> tuple[str, str]:
    """The fetch command and the project file of the README's "A län from the national
    files", as printed."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("### A län from the national files", 1)[1]
    command = section.split("```sh\n", 1)[1].split("```", 1)[0].strip()
    return command, section.split("```toml\n", 1)[1].split("```", 1)[0]


def test_readme_national_recipe_runs_on_what_fetch_writes(server: Server, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    """The README's fetch command, then its project file beside the fetched folder.

    The local server has Skåne (12) and Halmstad (13), not Västra Götaland (14): the
    recipe is run with the län code changed, and otherwise as printed (file, layers,
    columns, filters). tests/test_where.py runs it unchanged on the shared national
    files laid out the same way.
    """
    from strukturbild.pipeline import build

    command, recipe = _readme_recipe()
    assert command.startswith("strukturbild ")
    argv = command.split()[1:]
    assert argv[:3] == ["fetch", "scb", "--country"] and argv[-2:] == ["--out", "sverige"]
    monkeypatch.chdir(tmp_path)
    assert main([*argv, "-q", "--year", "2022", "--api-url", server.api,
                 "--wfs-url", server.wfs]) == 0
    capsys.readouterr()
    gpkg = tmp_path / "sverige" / "scb.gpkg"
    places = gpd.read_file(gpkg, layer="places")
    kommuner = gpd.read_file(gpkg, layer="kommuner")
    assert {"place_id", "name", "area_id", "area_name", "lan_code", "population",
            "area_ha", "jobs", "employed"} <= set(places.columns)
    assert {"area_id", "name", "lan_code"} <= set(kommuner.columns)
    assert sorted(set(places["lan_code"])) == ["12", "13"]
    assert (places["lan_code"] == places["area_id"].str[:2]).all()
    assert sorted(kommuner["lan_code"]) == ["12"] * 4 + ["13"]
    assert "'14'" in recipe
    (tmp_path / "skane.toml").write_text(recipe.replace("'14'", "'12'"), encoding="utf-8")
    image = build(load_project(tmp_path / "skane.toml"))
    big = places[(places["lan_code"] == "12") & (places["population"] >= 2000)]
    assert sorted(image.places.index) == sorted(big["place_id"]) and len(big) == 6
    assert image.areas is not None and sorted(image.areas.index) == ["1231", "1233", "1280",
                                                                      "1281"]
    assert image.provenance["inputs"]["areas"]["where"] == "lan_code = '12'"


def test_fetched_csvs_follow_the_one_csv_rule_and_read_back(server: Server,
                                                              tmp_path: Path) -> None:
    """A WFS kommun name that a spreadsheet would run (``=HYPERLINK(…)``) is written with
    a leading ``'`` in fetch's CSVs, as in every CSV strukturbild writes; strukturbild's
    own reader takes it off again, and the GeoPackage is version 1.2."""
    import sqlite3

    from strukturbild.readers import read_table

    hostile = '=HYPERLINK("http://x.invalid","Malmö")'

    def rename(doc: Any) -> Any:
        for feat in doc.get("features", []):
            if feat["properties"].get("kommunnamn") == "Malmö":
                feat["properties"]["kommunnamn"] = hostile
        return doc

    server.fake.mutate["wfs:stat:DeSO_2025"] = rename  # the kommun layer's names
    out = tmp_path / "skane"
    _fetch(server, out)
    raw = (out / "employment_kommun.csv").read_text(encoding="utf-8")
    assert "\n1280,\"'=HYPERLINK(" in raw
    assert ",=HYPERLINK" not in raw and ',"=HYPERLINK' not in raw
    back = read_table(out / "employment_kommun.csv").set_index("kommun_code")
    assert back.loc["1280", "kommun_name"] == hostile
    with sqlite3.connect(out / "scb.gpkg") as con:
        assert con.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47  # "GPKG"
        assert con.execute("PRAGMA user_version").fetchone()[0] == 10200
