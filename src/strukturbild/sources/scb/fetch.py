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
from ...analysis.flows import Flows, place_flows_from_area_flows, resolve_seats
from ...errors import ConfigError, FetchError, StrukturbildError, StrukturbildWarning
from ...readers import match_jobs, to_jsonable
from .cache import ResponseCache
from .commuting import (
    COMMUTING_TABLES,
    CommutingTable,
    SeriesPlan,
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
from .jobs import KommunPopulation, TatortJobs, fetch_kommun_population, fetch_tatort_jobs
from .options import (
    ENV_API_URL,
    ENV_CACHE_DIR,
    ENV_WFS_URL,
    FetchLimits,
    env_or,
)
from .project import project_toml
from .pxweb import DEFAULT_API_URL, ApiLimits, PxWebClient, TableMeta
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
        request = _Request(out, lans, year, tatort_year, api_url, wfs_url, seat_frame,
                           seats_path, tables, resolved, history_from, kommun_layer,
                           jobs_table)
        return _fetch(fetcher, request, say)
    finally:
        fetcher.close()


@dataclass(frozen=True)
class _Request:
    """What one :func:`fetch_scb` call asks for, checked."""

    out: Path
    lans: tuple[str, ...]
    year: int | None
    tatort_year: int | None
    api_url: str
    wfs_url: str
    seats: pd.DataFrame | None
    seats_path: Path | None
    tables: Mapping[str, CommutingTable]  # by id, in order of preference
    resolved: Sequence[CommutingTable]
    history_from: int | None
    kommun_layer: str
    jobs_table: str | None


@dataclass
class _Run:
    """One fetch: the request, its clients, progress and notes, which every step shares."""

    request: _Request
    fetcher: HttpFetcher
    px: PxWebClient
    wfs: WfsClient
    say: Progress
    notes: list[str] = dataclasses.field(default_factory=list)

    def note(self, msg: str) -> None:
        """Warn, and keep the warning for ``metadata.json``."""
        msg = str(StrukturbildError(msg))  # WFS names in it are shown as errors show them
        self.notes.append(msg)
        warnings.warn(msg, StrukturbildWarning, stacklevel=3)


@dataclass(frozen=True)
class _Years:
    """Step 1: the year, and the table each year is taken from."""

    year: int
    plan: SeriesPlan
    metas: Mapping[str, TableMeta]
    table: CommutingTable  # the year's
    meta: TableMeta
    limits: ApiLimits


@dataclass(frozen=True)
class _Commuting:
    """Step 2: the region's kommuner, the flows from and to them, and their totals."""

    region: list[str]
    flows: pd.DataFrame  # origin, destination, count between kommuner
    dropped: int
    employed: pd.Series  # per kommun: row sums (night population)
    jobs: pd.Series  # per kommun: column sums (day population)
    series: list[pd.DataFrame]  # every year from history_from, when asked for


@dataclass(frozen=True)
class _Geodata:
    """Step 3: the tätorter and the kommun boundaries."""

    tatort_year: int
    tatort_layer: str
    tatort_cql: str | None
    tatort_url: str
    tatorter: Any
    kommun_url: str
    kommuner: Any


@dataclass(frozen=True)
class _Places:
    """Step 4: each kommun's seat place, the flows between places, and the places."""

    seat: pd.DataFrame
    place_flows: Flows
    places: Any
    per_place: pd.DataFrame  # each kommun's seat place, jobs and employed


@dataclass(frozen=True)
class _Jobs:
    """Step 5: jobs per tätort and the kommun table (employment, population, rate)."""

    places: Any  # with jobs, employed (empty: estimated by the build) and seat_of
    tatort_jobs: TatortJobs
    matches: Mapping[str, Any]
    match_layer: str | None
    population: KommunPopulation
    employment: pd.DataFrame
    kommuner: Any  # the kommun layer, with the employment table's columns


def _fetch(fetcher: HttpFetcher, request: _Request, say: Progress) -> FetchResult:
    """The fetch in its steps: everything is read before anything is written."""
    run = _Run(request, fetcher, PxWebClient(fetcher, request.api_url),
               WfsClient(fetcher, request.wfs_url), say)
    years = _years(run)
    commuting = _commuting(run, years)
    geo = _geodata(run, years.year)
    placed = _seats_and_places(run, commuting, geo)
    jobs = _jobs(run, years, commuting, geo, placed)
    return _write(run, years, commuting, geo, placed, jobs)


def _years(run: _Run) -> _Years:
    """1. Which table has which year: tables are read in order of preference until the
    years asked for are covered."""
    px, tables, year, history_from = (run.px, run.request.tables, run.request.year,
                                      run.request.history_from)
    run.say(f"reading {px.api_url}/config and the metadata of {', '.join(tables)}")
    limits = px.limits
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
    return _Years(year, plan, metas, table, metas[table.table_id], limits)


def _commuting(run: _Run, years: _Years) -> _Commuting:
    """2. The region's kommuner, and flows from and to them."""
    px, lans, table, meta, year = run.px, run.request.lans, years.table, years.meta, years.year
    all_k = _kommun_codes(meta.codes[_find_dim(meta, table.home, "bostad")])
    work_k = _kommun_codes(meta.codes[_find_dim(meta, table.work, "arbets")])
    region = [k for k in all_k if not lans or k[:2] in lans]
    if not region:
        raise FetchError(f"table {table.table_id} lists no kommun in län "
                         f"{', '.join(lans)}", source=table.table_id)
    run.say(f"commuting {year} from {table.table_id} ({table.series}) for {len(region)} "
            "kommuner")
    out_part, dropped = fetch_commuting(px, table, year, region, work_k)
    parts = [out_part]
    if set(region) != set(all_k):
        in_part, d2 = fetch_commuting(px, table, year, all_k, region)
        parts.append(in_part)
        dropped += d2
    kflows = pd.concat(parts, ignore_index=True).drop_duplicates(["origin", "destination"])
    kflows = kflows.sort_values(["origin", "destination"], kind="stable").reset_index(drop=True)
    if dropped:
        run.note(f"{dropped} suppressed or missing cell(s) in {table.table_id} {year} were "
                 "left out")
    employed = out_part.groupby("origin")["count"].sum().reindex(region, fill_value=0.0)
    jobs_src = parts[-1] if len(parts) > 1 else out_part
    jobs = jobs_src.groupby("destination")["count"].sum().reindex(region, fill_value=0.0)
    series: list[pd.DataFrame] = []
    if run.request.history_from is not None:
        for y, tid in sorted(years.plan.table_of.items()):
            t = run.request.tables[tid]
            tm = years.metas[tid]
            reg_t = [k for k in _kommun_codes(tm.codes[_find_dim(tm, t.home, "bostad")])
                     if not lans or k[:2] in lans]
            f, _ = fetch_commuting(px, t, y, reg_t, reg_t)
            series.append(f.assign(year=y, table=tid, series=t.series))
    return _Commuting(region, kflows, dropped, employed, jobs, series)


def _geodata(run: _Run, year: int) -> _Geodata:
    """3. Geodata: the tätorter, and the kommun boundaries."""
    wfs, lans, kommun_layer = run.wfs, run.request.lans, run.request.kommun_layer
    tyear = run.request.tatort_year or _tatort_year(year)
    t_layer = f"stat:Tatorter_{tyear}"
    t_cql = " OR ".join(f"kommun LIKE '{c}%'" for c in lans) or None
    run.say(f"tätorter {tyear} from {wfs.wfs_url} ({t_layer})")
    t_url = wfs.feature_url(t_layer, cql=t_cql)
    tatorter = tatorter_from_features(wfs.features(t_layer, cql=t_cql), source=t_url)
    if lans:
        tatorter = tatorter[tatorter["area_id"].str[:2].isin(lans)]
    k_cql = (f"{KOMMUN_FIELDS['lan']} IN ({', '.join(repr(c) for c in lans)})"
             if lans else None)
    run.say(f"kommun boundaries from {kommun_layer}")
    k_url = wfs.feature_url(kommun_layer, cql=k_cql)
    kommuner = kommuner_from_features(wfs.features(kommun_layer, cql=k_cql), source=k_url)
    return _Geodata(tyear, t_layer, t_cql, t_url, tatorter, k_url, kommuner)


def _seats_and_places(run: _Run, commuting: _Commuting, geo: _Geodata) -> _Places:
    """4. Seats, places and place flows."""
    seats = run.request.seats
    seat_table = load_seats() if seats is None else seats
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        seat = resolve_seats(geo.tatorter, commuting.region, seat_table, kommuner=geo.kommuner)
    for w in caught:
        run.note(str(w.message))
    seat_of = {str(k): str(p) for k, p in seat["place_id"].items() if p is not None}
    place_flows = place_flows_from_area_flows(commuting.flows, seat_of)
    places = geo.tatorter.copy()
    # the län of each place and kommun, for filters on national files (where = ...)
    places.insert(places.columns.get_loc("area_name") + 1, "lan_code",
                  places["area_id"].str[:2].astype(object))
    per_place = pd.DataFrame({"place": pd.Series(seat_of), "jobs": commuting.jobs,
                              "employed": commuting.employed})
    per_place = per_place[per_place["place"].notna()]
    return _Places(seat, place_flows, places, per_place)


def _jobs(run: _Run, years: _Years, commuting: _Commuting, geo: _Geodata, placed: _Places
          ) -> _Jobs:
    """5. Jobs per tätort (day population), by code, else in the jobs' own tätorter; the
    kommuner's population, and their employment table."""
    year, region = years.year, commuting.region
    tjobs = fetch_tatort_jobs(run.px, run.request.lans, year, table_id=run.request.jobs_table)
    polygons = None
    d_layer = None
    if tjobs.delineation != geo.tatort_year:
        d_layer = f"stat:Tatorter_{tjobs.delineation}"
        run.say(f"tätorter {tjobs.delineation} from {d_layer}, to match the jobs by location")
        d_url = run.wfs.feature_url(d_layer, cql=geo.tatort_cql)
        other = tatorter_from_features(run.wfs.features(d_layer, cql=geo.tatort_cql),
                                       source=d_url)
        polygons = other.geometry
    places, matches = match_jobs(placed.places, tjobs.jobs.to_frame("jobs"), polygons)
    # SCB gives no employed residents per tätort: the column is there, empty, so that
    # the build estimates them from the kommun's employment rate (and never takes the
    # kommun flows on a seat place for its tätort's)
    places["employed"] = np.nan
    matched = matches["matched_by_code"] + matches["matched_by_location"]
    run.say(f"jobs {tjobs.year} per tätort from {tjobs.table_id}: {matched} of {len(places)} "
            f"tätorter matched ({matches['matched_by_code']} by code, "
            f"{matches['matched_by_location']} by location), {matches['unmatched']} without "
            "jobs")
    if tjobs.year != year:
        run.note(f"jobs per tätort are of {tjobs.year}, the year nearest {year} that "
                 f"{tjobs.table_id} has")
    population = fetch_kommun_population(run.px, region, year)
    seat_list = placed.per_place.rename_axis("kommun").reset_index().groupby("place")[
        "kommun"].agg(lambda s: ",".join(sorted(s)))
    places["seat_of"] = seat_list.reindex(places.index).astype(object)
    places["seat_of"] = places["seat_of"].where(places["seat_of"].notna(), "")
    employment = _employment(years, commuting, geo, placed.seat, population)
    kommuner = geo.kommuner.join(
        employment.set_index("kommun_code")[["employed", "jobs", "job_ratio",
                                             "net_commuting", "population",
                                             "employment_rate"]])
    kommuner.insert(1, "lan_code", kommuner.index.str[:2].astype(object))
    return _Jobs(places, tjobs, matches, d_layer, population, employment, kommuner)


def _employment(years: _Years, commuting: _Commuting, geo: _Geodata, seat: pd.DataFrame,
                population: KommunPopulation) -> pd.DataFrame:
    """The kommun table: employed, jobs, their ratio, net commuting, population and the
    employment rate (employed per inhabitant), and each kommun's seat."""
    region, meta, table = commuting.region, years.meta, years.table
    names = geo.kommuner["name"].reindex(region)
    for k in region:
        if pd.isna(names.get(k)):
            own = geo.tatorter.loc[geo.tatorter["area_id"] == k, "area_name"]
            names[k] = own.iloc[0] if len(own) else meta.labels[
                _find_dim(meta, table.home, "bostad")].get(k, k)
    employment = pd.DataFrame({
        "kommun_code": region, "kommun_name": names.reindex(region).to_numpy(),
        "year": years.year, "table": table.table_id,
        "employed": commuting.employed.to_numpy(), "jobs": commuting.jobs.to_numpy()})
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
    return employment


def _metadata(run: _Run, years: _Years, commuting: _Commuting, geo: _Geodata,
              placed: _Places, jobs: _Jobs) -> dict[str, Any]:
    """6. Metadata: where everything came from, the limits, the notes and the requests."""
    lans, fetcher, table, limits = run.request.lans, run.fetcher, years.table, years.limits
    changed = [r.to_dict() for r in fetcher.log if r.changed]
    for r in changed:
        run.note(f"response changed since it was cached: {r['url']}")
    return {
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": {"lan": list(lans), "name": _region_name(lans),
                   "kommuner": commuting.region},
        "year": years.year,
        "tatort_year": geo.tatort_year,
        "licence": "CC0 1.0 (SCB open data); source: Statistiska centralbyrån (SCB)",
        "sources": {
            "api_url": run.px.api_url, "wfs_url": run.wfs.wfs_url,
            "limits": {"maxDataCells": limits.max_data_cells,
                       "maxCallsPerTimeWindow": limits.max_calls,
                       "timeWindow": limits.time_window},
            "tatorter": {"layer": geo.tatort_layer, "url": geo.tatort_url,
                         "features": len(geo.tatorter)},
            "kommuner": {"layer": run.request.kommun_layer, "url": geo.kommun_url,
                         "fields": dict(KOMMUN_FIELDS),
                         "method": "DeSO areas dissolved by kommun code"},
            "commuting": {"table": table.table_id, "series": table.series,
                          "label": years.meta.label, "updated": years.meta.updated,
                          "description": table.description,
                          "employed": "row sums over all work kommuner (night population)",
                          "jobs": "column sums over all home kommuner (day population)",
                          "suppressed_cells_dropped": commuting.dropped},
            "commuting_tables": [t.__dict__ for t in run.request.resolved],
            "jobs": {**jobs.tatort_jobs.describe(), **jobs.matches,
                     "match_layer": jobs.match_layer,
                     "note": "the places' jobs are their day population (employed by the "
                             "location of their workplace); a tätort of another "
                             "delineation takes the jobs of the tätort its point lies in, "
                             "shared by population"},
            "population": {**jobs.population.describe(),
                           "employment_rate": "employed (the commuting table's row sums) "
                                              "per inhabitant, per kommun"},
        },
        "series": {"table_of_year": {str(y): t for y, t in years.plan.table_of.items()},
                   "overlaps": years.plan.overlaps, "breaks": years.plan.breaks},
        "seats": {k: {"place_id": r["place_id"], "place_name": r["place_name"],
                      "method": r["method"], "note": r["note"]}
                  for k, r in placed.seat.iterrows()},
        "flows": {"kommun_pairs": len(commuting.flows),
                  "place_pairs": len(placed.place_flows),
                  "place_total": placed.place_flows.total,
                  "note": "place flows cover commuting between the region's kommuner, "
                          "attached to their seat places; employed and jobs include "
                          "commuting across the region's border"},
        "warnings": run.notes,
        "changed_responses": changed,
        "fetch_limits": {"timeout_s": fetcher.timeout, "retries": fetcher.max_retries,
                         "max_response_mb": fetcher.max_bytes / 2**20,
                         "max_wait_s": fetcher.max_wait,
                         "max_total_wait_s": fetcher.max_total_wait,
                         "redirects": "followed within the same host and port only, recorded per "
                                      "request"},
        "requests": [r.to_dict() for r in fetcher.log],
    }


def _region_name(lans: Sequence[str]) -> str:
    return ", ".join(LAN_NAMES[c] for c in lans) if lans else "Sverige"


def _write(run: _Run, years: _Years, commuting: _Commuting, geo: _Geodata, placed: _Places,
           jobs: _Jobs) -> FetchResult:
    """6. Then the files: all of them or none."""
    out, lans, year, table = run.request.out, run.request.lans, years.year, years.table
    metadata = _metadata(run, years, commuting, geo, placed, jobs)
    name = f"scb_{'_'.join(lans) if lans else 'sverige'}_{year}"
    csvs: dict[str, tuple[str, pd.DataFrame]] = {
        "flows_place": ("flows_place.csv", placed.place_flows.to_frame().reset_index()),
        "commuting_kommun": ("commuting_kommun.csv", commuting.flows.assign(
            year=year, table=table.table_id)[["year", "table", "origin", "destination",
                                              "count"]]),
        "employment_kommun": ("employment_kommun.csv", jobs.employment),
        "seats": ("seats.csv", placed.seat.reset_index()),
    }
    if commuting.series:
        csvs["commuting_series"] = ("commuting_kommun_series.csv", pd.concat(
            commuting.series, ignore_index=True)[["year", "table", "series", "origin",
                                                  "destination", "count"]])
    files: dict[str, Path] = {"gpkg": out / "scb.gpkg"}
    files.update({key: out / fname for key, (fname, _) in csvs.items()})
    files["metadata"] = out / "metadata.json"
    files["project"] = project_path = out / "project.toml"
    seats_path = run.request.seats_path
    # All files or none: a failure (or Ctrl-C) while writing leaves the folder as it was.
    with OutputSet(files.values(), inputs=[seats_path] if seats_path else []) as outputs:
        with warnings.catch_warnings():
            # GDAL notes that the temporary file's name does not end in .gpkg.
            warnings.simplefilter("ignore", RuntimeWarning)
            tmp = outputs.stage(files["gpkg"])
            # GeoPackage 1.2, as every GeoPackage strukturbild writes: GDAL 3.6 and QGIS
            # 3.22 LTR (Debian 12) warn on every open of a 1.4 file
            jobs.places.to_file(tmp, layer="places", driver="GPKG", VERSION="1.2")
            jobs.kommuner.to_file(tmp, layer="kommuner", driver="GPKG", mode="a")
        for key, (_, frame) in csvs.items():
            write_csv(frame, outputs.stage(files[key]))
        outputs.stage(files["metadata"]).write_text(
            json.dumps(to_jsonable(metadata), ensure_ascii=False, indent=2), encoding="utf-8")
        outputs.stage(project_path).write_text(
            project_toml(name, _region_name(lans), year, geo.tatort_year, table,
                         jobs.tatort_jobs.year), encoding="utf-8")
    run.say(f"wrote {len(files)} files to {out}")
    return FetchResult(out, project_path, files, metadata)
