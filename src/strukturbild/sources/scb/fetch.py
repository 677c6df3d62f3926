"""``fetch_scb``: SCB's open data for one or more län, as a project that builds.

:func:`fetch_scb` downloads real Swedish data for one or more län, or the whole
country, and writes a project that ``strukturbild build`` runs as is:

- **statistical tätorter** from SCB's open geodata (WFS layer
  ``stat:Tatorter_YYYY``, lower-case fields ``tatortskod, tatort, kommun,
  kommunnamn, bef, area_ha``, SWEREF 99 TM, CC0);
- **kommun boundaries**, dissolved from SCB's DeSO 2025 areas (WFS layer
  ``stat:DeSO_2025``, fields ``desokod, kommunkod, kommunnamn, lanskod``, CC0);
  SCB's WFS has no kommun layer, and DeSO areas nest exactly in kommuner;
- **commuting between kommuner** from SCB's PxWebApi 2 (see
  :data:`COMMUTING_TABLES`), decoded from JSON-stat 2.0, with **employed
  residents** (night population) and **jobs** (day population) per kommun as the
  row and column sums of the same table;
- the flows attached to each kommun's main place (its kommunhuvudort) from a seat
  table kept as data (:func:`load_seats`, :func:`resolve_seats`);
- **jobs per tätort**, SCB's day population from the statistical database (table
  family MI0810, found by the API's table search; :mod:`.jobs`), matched to the
  tätorter by code, else by location in the polygons of the jobs' delineation year;
- **population per kommun** (TAB638), for each kommun's employment rate (employed
  residents per inhabitant), from which ``strukturbild build`` estimates the
  tätorter's employed residents.

The HTTP client, its cache and its limits are in :mod:`~strukturbild.sources.scb.httpclient`,
:mod:`~strukturbild.sources.scb.cache` and :mod:`~strukturbild.sources.scb.options`, the
PxWebApi 2 and WFS clients in :mod:`~strukturbild.sources.scb.pxweb` and
:mod:`~strukturbild.sources.scb.wfs`;
the tables in :mod:`~strukturbild.sources.scb.commuting`, the geodata in
:mod:`~strukturbild.sources.scb.geodata`, the seat tables in
:mod:`~strukturbild.sources.scb.seats`.
"""

from __future__ import annotations

import dataclasses
import json
import urllib.parse
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..._files import OutputSet, write_csv
from ...analysis.flows import place_flows_from_area_flows, resolve_seats
from ...errors import ConfigError, FetchError, StrukturbildError, StrukturbildWarning
from ...readers import match_jobs, to_jsonable
from .cache import ResponseCache
from .commuting import (
    COMMUTING_TABLES,
    CommutingTable,
    _find_dim,
    _kommun_codes,
    fetch_commuting,
    plan_series,
)
from .geodata import (
    KOMMUN_FIELDS,
    KOMMUN_LAYER,
    LAN_NAMES,
    TATORT_YEARS,
    kommuner_from_features,
    tatorter_from_features,
)
from .httpclient import HttpFetcher
from .jobs import fetch_kommun_population, fetch_tatort_jobs
from .options import (
    ENV_API_URL,
    ENV_CACHE_DIR,
    ENV_WFS_URL,
    FetchLimits,
    env_or,
)
from .project import project_toml
from .pxweb import DEFAULT_API_URL, PxWebClient, TableMeta
from .seats import load_seats
from .wfs import DEFAULT_WFS_URL, WfsClient

__all__ = ["FetchResult", "fetch_scb"]

Progress = Callable[[str], None]


# --------------------------------------------------------------------------- fetch


@dataclass(frozen=True)
class FetchResult:
    """What :func:`fetch_scb` wrote.

    ``files`` maps a short name to each written file; ``project`` is the project
    file that ``strukturbild build`` runs.
    """

    out_dir: Path
    project: Path
    files: Mapping[str, Path]
    metadata: Mapping[str, Any]


def _check_lan(lan: Iterable[str]) -> tuple[str, ...]:
    out: list[str] = []
    for code in lan:
        c = str(code).strip()
        if c.isdigit() and len(c) == 1:
            c = "0" + c
        if c not in LAN_NAMES:
            raise ConfigError(f"unknown län code '{code}'; expected one of "
                              f"{', '.join(LAN_NAMES)}")
        out.append(c)
    return tuple(dict.fromkeys(out))


def _check_url(name: str, url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{name} must be an http or https URL with a host, got {url!r}")
    return url


def _tatort_year(year: int) -> int:
    older = [y for y in TATORT_YEARS if y <= year]
    return max(older) if older else TATORT_YEARS[0]


def fetch_scb(
    out_dir: str | Path,
    *,
    lan: Iterable[str] = ("12",),
    year: int | None = None,
    tatort_year: int | None = None,
    api_url: str | None = None,
    wfs_url: str | None = None,
    cache_dir: str | Path | None = None,
    offline: bool = False,
    seats: pd.DataFrame | str | Path | None = None,
    commuting_tables: Sequence[CommutingTable | str] | None = None,
    history_from: int | None = None,
    kommun_layer: str = KOMMUN_LAYER,
    jobs_table: str | None = None,
    limits: FetchLimits | None = None,
    max_retries: int | None = None,
    timeout: float | None = None,
    max_response_mb: float | None = None,
    max_wait: float | None = None,
    sleep: Callable[[float], None] | None = None,
    progress: Progress | None = None,
) -> FetchResult:
    """Download SCB's tätorter, kommuner and commuting and write a buildable project.

    Everything is downloaded (or read from the cache) before anything is written;
    then all files are written together or none (one
    :class:`~strukturbild._files.OutputSet`), so a failed run leaves the previous
    folder as it was. With no network and no cache, or a malformed answer, or a
    limit reached, nothing is written and
    :class:`~strukturbild.errors.FetchError` (a
    :class:`~strukturbild.errors.StrukturbildError`) is raised, naming the URL and,
    for a malformed answer, the field.

    Every request has limits (see :mod:`strukturbild.sources.scb.httpclient`): a
    wall-clock deadline, a size cap, caps on waits, same-host-and-port redirects only
    (followed redirects are recorded in ``metadata.json``), caps on JSON-stat cubes
    and WFS pages.

    Parameters
    ----------
    out_dir
        Folder for the outputs: ``scb.gpkg`` (layers ``places``: ``place_id``,
        ``name``, ``area_id``, ``area_name``, ``lan_code``, ``population``,
        ``area_ha``, ``jobs`` (the tätort's day population), ``employed`` (empty:
        estimated by the build from the kommun's rate), ``seat_of``; and
        ``kommuner``: ``area_id``, ``name``, ``lan_code``, ``employed``, ``jobs``,
        ``job_ratio``, ``net_commuting``, ``population``, ``employment_rate``),
        ``flows_place.csv``, ``commuting_kommun.csv``, ``employment_kommun.csv``,
        ``seats.csv``, ``metadata.json`` and ``project.toml``.
    lan
        Län codes (``"12"`` for Skåne); empty for the whole country.
    year
        Commuting year; default the latest any table has.
    tatort_year
        Tätort delineation; default the latest of :data:`TATORT_YEARS` not after
        ``year``.
    api_url, wfs_url
        PxWebApi 2 base URL and WFS URL (tests point them at a local server); default
        the environment variables ``STRUKTURBILD_SCB_API_URL`` and
        ``STRUKTURBILD_SCB_WFS_URL``, else SCB's public services.
    cache_dir
        Where raw responses are kept; default ``$STRUKTURBILD_CACHE_DIR``, else
        ``out_dir / "cache"``.
    offline
        Use only the cache.
    seats
        Seat table, or its CSV file (default: the shipped ones, :func:`load_seats`).
    commuting_tables
        Tables to take commuting from, preferred first (default
        :data:`COMMUTING_TABLES`); a table may be given by its id (``"TAB1830"``).
    history_from
        Also write ``commuting_kommun_series.csv``: flows between the region's
        kommuner for every year from this one to ``year``, one table per year
        (:func:`plan_series`), with overlaps and breaks in ``metadata.json``.
    kommun_layer
        WFS layer dissolved into kommun boundaries (fields :data:`KOMMUN_FIELDS`).
    jobs_table
        PxWebApi 2 id of the day population by tätort; default: found by the API's
        table search (:func:`~strukturbild.sources.scb.jobs.find_jobs_table`).
    limits
        The limits of every request (:class:`~strukturbild.sources.scb.options.FetchLimits`,
        whose defaults are 120 s, 4 retries, 256 MiB and 120 s): ``timeout``, the
        wall-clock seconds one request may take in all (name lookup, connection, whole
        body, retries and waits); ``retries`` after transient failures (429, 5xx,
        broken connections), 0 to 10; ``max_mb``, the largest answer read, or cached
        answer used, in MiB; ``max_wait``, the longest single wait (``Retry-After``, the
        API's call limit) in seconds, a longer one giving up at once instead of
        sleeping.
    max_retries, timeout, max_response_mb, max_wait
        Each, when given, overrides that field of ``limits`` (``retries``,
        ``timeout``, ``max_mb``, ``max_wait``).
    sleep
        The sleep function (tests pass a fake one).
    progress
        Called with short progress messages.

    Examples
    --------
    >>> fetch_scb("out", lan=["99"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    strukturbild.errors.ConfigError: unknown län code '99'; expected one of 01, 03, ..., 25
    """
    say = progress or (lambda _m: None)
    given: dict[str, Any] = {"retries": max_retries, "timeout": timeout,
                             "max_mb": max_response_mb,
                             "max_wait": max_wait}
    limits = dataclasses.replace(limits or FetchLimits(),
                                 **{k: v for k, v in given.items() if v is not None})
    lans = _check_lan(lan)
    out = Path(out_dir)
    api_url = _check_url("api_url", env_or(api_url, ENV_API_URL, DEFAULT_API_URL))
    wfs_url = _check_url("wfs_url", env_or(wfs_url, ENV_WFS_URL, DEFAULT_WFS_URL))
    cache_dir = env_or(str(cache_dir) if cache_dir else None, ENV_CACHE_DIR, "") or None
    known = {t.table_id: t for t in COMMUTING_TABLES}
    if commuting_tables is None:
        commuting_tables = COMMUTING_TABLES
    unknown = [t for t in commuting_tables if isinstance(t, str) and t not in known]
    if unknown:
        raise ConfigError(f"unknown commuting table(s) {', '.join(unknown)}; known: "
                          f"{', '.join(known)}")
    resolved = [known[t] if isinstance(t, str) else t for t in commuting_tables]
    tables = {t.table_id: t for t in resolved}  # preference order kept
    if not tables:
        raise ConfigError("give at least one commuting table")
    seats_path = None if seats is None or isinstance(seats, pd.DataFrame) else Path(seats)
    seat_frame = seats if isinstance(seats, pd.DataFrame) else (
        load_seats(seats_path) if seats_path is not None else None)
    cache = ResponseCache(Path(cache_dir) if cache_dir else out / "cache")
    fetcher = HttpFetcher.from_limits(limits, cache=cache, offline=offline)
    if sleep is not None:
        fetcher.sleep = sleep
    try:
        return _fetch(fetcher, out, lans, year, tatort_year, api_url, wfs_url, seat_frame,
                      seats_path, tables, resolved, history_from, kommun_layer, jobs_table,
                      say)
    finally:
        fetcher.close()


def _fetch(fetcher: HttpFetcher, out: Path, lans: tuple[str, ...], year: int | None,
           tatort_year: int | None, api_url: str, wfs_url: str, seats: pd.DataFrame | None,
           seats_path: Path | None, tables: Mapping[str, CommutingTable],
           resolved: Sequence[CommutingTable], history_from: int | None, kommun_layer: str,
           jobs_table: str | None, say: Progress) -> FetchResult:
    px = PxWebClient(fetcher, api_url)
    wfs = WfsClient(fetcher, wfs_url)
    notes: list[str] = []

    def note(msg: str) -> None:
        msg = str(StrukturbildError(msg))  # WFS names in it are shown as errors show them
        notes.append(msg)
        warnings.warn(msg, StrukturbildWarning, stacklevel=3)

    # 1. Which table has which year.
    say(f"reading {px.api_url}/config and the metadata of {', '.join(tables)}")
    limits = px.limits
    # Tables are read in order of preference until the years asked for are covered.
    metas: dict[str, TableMeta] = {}
    first = year
    for tid in tables:
        metas[tid] = px.metadata(tid)
        if year is None:
            listed = [int(y) for y in metas[tid].years if y.isdigit()]
            year = max(listed) if listed else None
        if year is not None:
            first = year if history_from is None else min(history_from, year)
            have = {int(y) for m in metas.values() for y in m.years if y.isdigit()}
            if all(y in have for y in range(first, year + 1)):
                break
    if year is None or first is None:
        raise FetchError("no commuting table lists any year", source=px.api_url)
    plan = plan_series({t: m.years for t, m in metas.items()}, list(metas),
                       range(first, year + 1))
    table = tables[plan.table_of[year]]
    meta = metas[table.table_id]

    # 2. The region's kommuner, and flows from and to them.
    all_k = _kommun_codes(meta.codes[_find_dim(meta, table.home, "bostad")])
    work_k = _kommun_codes(meta.codes[_find_dim(meta, table.work, "arbets")])
    region = [k for k in all_k if not lans or k[:2] in lans]
    if not region:
        raise FetchError(f"table {table.table_id} lists no kommun in län "
                         f"{', '.join(lans)}", source=table.table_id)
    say(f"commuting {year} from {table.table_id} ({table.series}) for {len(region)} kommuner")
    out_part, dropped = fetch_commuting(px, table, year, region, work_k)
    parts = [out_part]
    if set(region) != set(all_k):
        in_part, d2 = fetch_commuting(px, table, year, all_k, region)
        parts.append(in_part)
        dropped += d2
    kflows = pd.concat(parts, ignore_index=True).drop_duplicates(["origin", "destination"])
    kflows = kflows.sort_values(["origin", "destination"], kind="stable").reset_index(drop=True)
    if dropped:
        note(f"{dropped} suppressed or missing cell(s) in {table.table_id} {year} were "
             "left out")
    employed = out_part.groupby("origin")["count"].sum().reindex(region, fill_value=0.0)
    jobs_src = parts[-1] if len(parts) > 1 else out_part
    jobs = jobs_src.groupby("destination")["count"].sum().reindex(region, fill_value=0.0)

    series_frames: list[pd.DataFrame] = []
    if history_from is not None:
        for y, tid in sorted(plan.table_of.items()):
            t = tables[tid]
            tm = metas[tid]
            reg_t = [k for k in _kommun_codes(tm.codes[_find_dim(tm, t.home, "bostad")])
                     if not lans or k[:2] in lans]
            f, _ = fetch_commuting(px, t, y, reg_t, reg_t)
            series_frames.append(f.assign(year=y, table=tid, series=t.series))

    # 3. Geodata.
    tyear = tatort_year or _tatort_year(year)
    t_layer = f"stat:Tatorter_{tyear}"
    t_cql = " OR ".join(f"kommun LIKE '{c}%'" for c in lans) or None
    say(f"tätorter {tyear} from {wfs.wfs_url} ({t_layer})")
    t_url = wfs.feature_url(t_layer, cql=t_cql)
    tatorter = tatorter_from_features(wfs.features(t_layer, cql=t_cql), source=t_url)
    if lans:
        tatorter = tatorter[tatorter["area_id"].str[:2].isin(lans)]
    k_cql = (f"{KOMMUN_FIELDS['lan']} IN ({', '.join(repr(c) for c in lans)})"
             if lans else None)
    say(f"kommun boundaries from {kommun_layer}")
    k_url = wfs.feature_url(kommun_layer, cql=k_cql)
    kommuner = kommuner_from_features(wfs.features(kommun_layer, cql=k_cql), source=k_url)

    # 4. Seats, places and place flows.
    seat_table = load_seats() if seats is None else seats
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        seat = resolve_seats(tatorter, region, seat_table, kommuner=kommuner)
    for w in caught:
        note(str(w.message))
    seat_of = {str(k): str(p) for k, p in seat["place_id"].items() if p is not None}
    place_flows = place_flows_from_area_flows(kflows, seat_of)
    places = tatorter.copy()
    # the län of each place and kommun, for filters on national files (where = ...)
    places.insert(places.columns.get_loc("area_name") + 1, "lan_code",
                  places["area_id"].str[:2].astype(object))
    per_place = pd.DataFrame({"place": pd.Series(seat_of), "jobs": jobs, "employed": employed})
    per_place = per_place[per_place["place"].notna()]

    # 5. Jobs per tätort (day population), by code, else in the jobs' own tätorter.
    tjobs = fetch_tatort_jobs(px, lans, year, table_id=jobs_table)
    polygons = None
    d_layer = None
    if tjobs.delineation != tyear:
        d_layer = f"stat:Tatorter_{tjobs.delineation}"
        say(f"tätorter {tjobs.delineation} from {d_layer}, to match the jobs by location")
        d_url = wfs.feature_url(d_layer, cql=t_cql)
        other = tatorter_from_features(wfs.features(d_layer, cql=t_cql), source=d_url)
        polygons = other.geometry
    places, matches = match_jobs(places, tjobs.jobs.to_frame("jobs"), polygons)
    # SCB gives no employed residents per tätort: the column is there, empty, so that
    # the build estimates them from the kommun's employment rate (and never takes the
    # kommun flows on a seat place for its tätort's)
    places["employed"] = np.nan
    matched = matches["matched_by_code"] + matches["matched_by_location"]
    say(f"jobs {tjobs.year} per tätort from {tjobs.table_id}: {matched} of {len(places)} "
        f"tätorter matched ({matches['matched_by_code']} by code, "
        f"{matches['matched_by_location']} by location), {matches['unmatched']} without jobs")
    if tjobs.year != year:
        note(f"jobs per tätort are of {tjobs.year}, the year nearest {year} that "
             f"{tjobs.table_id} has")
    population = fetch_kommun_population(px, region, year)
    seat_list = per_place.rename_axis("kommun").reset_index().groupby("place")["kommun"].agg(
        lambda s: ",".join(sorted(s)))
    places["seat_of"] = seat_list.reindex(places.index).astype(object)
    places["seat_of"] = places["seat_of"].where(places["seat_of"].notna(), "")

    names = kommuner["name"].reindex(region)
    for k in region:
        if pd.isna(names.get(k)):
            own = tatorter.loc[tatorter["area_id"] == k, "area_name"]
            names[k] = own.iloc[0] if len(own) else meta.labels[
                _find_dim(meta, table.home, "bostad")].get(k, k)
    employment = pd.DataFrame({
        "kommun_code": region, "kommun_name": names.reindex(region).to_numpy(),
        "year": year, "table": table.table_id,
        "employed": employed.to_numpy(), "jobs": jobs.to_numpy()})
    with np.errstate(divide="ignore", invalid="ignore"):
        employment["job_ratio"] = np.where(employment["employed"] > 0,
                                           employment["jobs"] / employment["employed"], np.nan)
    employment["net_commuting"] = employment["jobs"] - employment["employed"]
    employment["population"] = population.population.reindex(region).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = employment["employed"] / employment["population"]
    # employed residents per inhabitant: what the build estimates tätorter's employed by
    employment["employment_rate"] = rate.where((rate > 0) & (rate <= 1)).round(4)
    employment["seat_place_id"] = seat["place_id"].reindex(region).to_numpy()
    employment["seat_method"] = seat["method"].reindex(region).to_numpy()
    kommun_layer_frame = kommuner.join(
        employment.set_index("kommun_code")[["employed", "jobs", "job_ratio",
                                             "net_commuting", "population",
                                             "employment_rate"]])
    kommun_layer_frame.insert(1, "lan_code", kommun_layer_frame.index.str[:2].astype(object))

    # 6. Metadata, then the files.
    region_name = ", ".join(LAN_NAMES[c] for c in lans) if lans else "Sverige"
    name = f"scb_{'_'.join(lans) if lans else 'sverige'}_{year}"
    changed = [r.to_dict() for r in fetcher.log if r.changed]
    for r in changed:
        note(f"response changed since it was cached: {r['url']}")
    metadata: dict[str, Any] = {
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": {"lan": list(lans), "name": region_name, "kommuner": region},
        "year": year,
        "tatort_year": tyear,
        "licence": "CC0 1.0 (SCB open data); source: Statistiska centralbyrån (SCB)",
        "sources": {
            "api_url": px.api_url, "wfs_url": wfs.wfs_url,
            "limits": {"maxDataCells": limits.max_data_cells,
                       "maxCallsPerTimeWindow": limits.max_calls,
                       "timeWindow": limits.time_window},
            "tatorter": {"layer": t_layer, "url": t_url, "features": len(tatorter)},
            "kommuner": {"layer": kommun_layer, "url": k_url, "fields": dict(KOMMUN_FIELDS),
                         "method": "DeSO areas dissolved by kommun code"},
            "commuting": {"table": table.table_id, "series": table.series,
                          "label": meta.label, "updated": meta.updated,
                          "description": table.description,
                          "employed": "row sums over all work kommuner (night population)",
                          "jobs": "column sums over all home kommuner (day population)",
                          "suppressed_cells_dropped": dropped},
            "commuting_tables": [t.__dict__ for t in resolved],
            "jobs": {**tjobs.describe(), **matches,
                     "match_layer": d_layer,
                     "note": "the places' jobs are their day population (employed by the "
                             "location of their workplace); a tätort of another "
                             "delineation takes the jobs of the tätort its point lies in, "
                             "shared by population"},
            "population": {**population.describe(),
                           "employment_rate": "employed (the commuting table's row sums) "
                                              "per inhabitant, per kommun"},
        },
        "series": {"table_of_year": {str(y): t for y, t in plan.table_of.items()},
                   "overlaps": plan.overlaps, "breaks": plan.breaks},
        "seats": {k: {"place_id": r["place_id"], "place_name": r["place_name"],
                      "method": r["method"], "note": r["note"]}
                  for k, r in seat.iterrows()},
        "flows": {"kommun_pairs": len(kflows), "place_pairs": len(place_flows),
                  "place_total": place_flows.total,
                  "note": "place flows cover commuting between the region's kommuner, "
                          "attached to their seat places; employed and jobs include "
                          "commuting across the region's border"},
        "warnings": notes,
        "changed_responses": changed,
        "fetch_limits": {"timeout_s": fetcher.timeout, "retries": fetcher.max_retries,
                         "max_response_mb": fetcher.max_bytes / 2**20,
                         "max_wait_s": fetcher.max_wait,
                         "max_total_wait_s": fetcher.max_total_wait,
                         "redirects": "followed within the same host and port only, recorded per "
                                      "request"},
        "requests": [r.to_dict() for r in fetcher.log],
    }

    csvs: dict[str, tuple[str, pd.DataFrame]] = {
        "flows_place": ("flows_place.csv", place_flows.to_frame().reset_index()),
        "commuting_kommun": ("commuting_kommun.csv", kflows.assign(
            year=year, table=table.table_id)[["year", "table", "origin", "destination",
                                              "count"]]),
        "employment_kommun": ("employment_kommun.csv", employment),
        "seats": ("seats.csv", seat.reset_index()),
    }
    if series_frames:
        csvs["commuting_series"] = ("commuting_kommun_series.csv", pd.concat(
            series_frames, ignore_index=True)[["year", "table", "series", "origin",
                                               "destination", "count"]])
    files: dict[str, Path] = {"gpkg": out / "scb.gpkg"}
    files.update({key: out / fname for key, (fname, _) in csvs.items()})
    files["metadata"] = out / "metadata.json"
    files["project"] = project_path = out / "project.toml"
    # All files or none: a failure (or Ctrl-C) while writing leaves the folder as it was.
    with OutputSet(files.values(), inputs=[seats_path] if seats_path else []) as outputs:
        with warnings.catch_warnings():
            # GDAL notes that the temporary file's name does not end in .gpkg.
            warnings.simplefilter("ignore", RuntimeWarning)
            tmp = outputs.stage(files["gpkg"])
            # GeoPackage 1.2, as every GeoPackage strukturbild writes: GDAL 3.6 and QGIS
            # 3.22 LTR (Debian 12) warn on every open of a 1.4 file
            places.to_file(tmp, layer="places", driver="GPKG", VERSION="1.2")
            kommun_layer_frame.to_file(tmp, layer="kommuner", driver="GPKG", mode="a")
        for key, (_, frame) in csvs.items():
            write_csv(frame, outputs.stage(files[key]))
        outputs.stage(files["metadata"]).write_text(
            json.dumps(to_jsonable(metadata), ensure_ascii=False, indent=2), encoding="utf-8")
        outputs.stage(project_path).write_text(
            project_toml(name, region_name, year, tyear, table, tjobs.year), encoding="utf-8")
    say(f"wrote {len(files)} files to {out}")
    return FetchResult(out, project_path, files, metadata)
