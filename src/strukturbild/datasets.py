"""The bundled example and connectors to open data.

The example (``geodata/skane/``) holds SCB's statistical tätorter 2020 in Skåne with
at least 2 000 inhabitants and Region Skåne's designations; see its README.

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
  table kept as data (:func:`load_seats`, :func:`resolve_seats`).

The HTTP client, its cache and its limits are in :mod:`strukturbild._scb`.
"""

from __future__ import annotations

import itertools
import json
import re
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ._scb import (
    DEFAULT_API_URL,
    DEFAULT_WFS_URL,
    FetchError,
    HttpFetcher,
    PxWebClient,
    ResponseCache,
    TableMeta,
    WfsClient,
)
from .config import Project, load_project
from .errors import (
    ConfigError,
    InputFileNotFoundError,
    MissingColumnError,
    StrukturbildWarning,
    UnknownCodeError,
)
from .flows import Flows
from .io import atomic_path, read_table, to_jsonable

__all__ = [
    "COMMUTING_TABLES",
    "LAN_NAMES",
    "CommutingTable",
    "FetchResult",
    "SeriesPlan",
    "example_dir",
    "example_project",
    "fetch_scb",
    "load_seats",
    "place_flows_from_kommun_flows",
    "plan_series",
    "resolve_seats",
]

Progress = Callable[[str], None]


def example_dir() -> Path:
    """The folder of the bundled Skåne example.

    Looked up in ``./geodata/skane`` (a checkout's working directory), then beside
    the package's source tree.

    Examples
    --------
    >>> (example_dir() / "project.toml").is_file()
    True
    """
    candidates = [
        Path.cwd() / "geodata" / "skane",
        Path(__file__).resolve().parents[2] / "geodata" / "skane",
    ]
    for c in candidates:
        if (c / "project.toml").is_file():
            return c
    raise InputFileNotFoundError(
        "the bundled example was not found; run from the repository root "
        "(it lives in geodata/skane/)",
        source=candidates[0],
    )


def example_project() -> Project:
    """The bundled Skåne example as a :class:`~strukturbild.config.Project`.

    Examples
    --------
    >>> example_project().name
    'skane'
    """
    return load_project(example_dir() / "project.toml")


# --------------------------------------------------------------------------- constants

#: The 21 län (SCB codes, valid since 2007).
LAN_NAMES: Mapping[str, str] = {
    "01": "Stockholms län", "03": "Uppsala län", "04": "Södermanlands län",
    "05": "Östergötlands län", "06": "Jönköpings län", "07": "Kronobergs län",
    "08": "Kalmar län", "09": "Gotlands län", "10": "Blekinge län", "12": "Skåne län",
    "13": "Hallands län", "14": "Västra Götalands län", "17": "Värmlands län",
    "18": "Örebro län", "19": "Västmanlands län", "20": "Dalarnas län",
    "21": "Gävleborgs län", "22": "Västernorrlands län", "23": "Jämtlands län",
    "24": "Västerbottens län", "25": "Norrbottens län",
}

#: Years for which SCB's WFS has a tätort layer ``stat:Tatorter_YYYY`` (its
#: GetCapabilities lists 1980, 1990, 1995, 2000, 2005, 2010, 2015, 2018, 2020, 2023).
TATORT_YEARS: tuple[int, ...] = (1980, 1990, 1995, 2000, 2005, 2010, 2015, 2018, 2020, 2023)

#: The WFS layer whose areas are dissolved into kommun boundaries, and its fields.
KOMMUN_LAYER = "stat:DeSO_2025"
KOMMUN_FIELDS: Mapping[str, str] = {"code": "kommunkod", "name": "kommunnamn",
                                    "lan": "lanskod"}

_TATORT_FIELDS = ("tatortskod", "tatort", "kommun", "kommunnamn", "bef")


@dataclass(frozen=True)
class CommutingTable:
    """One PxWebApi 2 table of commuting between kommuner.

    ``home`` and ``work`` are the variable codes of the kommun of residence and of
    the workplace; ``contents`` the ContentsCode to ask for (None: the table's only
    one, else its first).

    Examples
    --------
    >>> COMMUTING_TABLES[0].table_id, COMMUTING_TABLES[0].series
    ('TAB1830', 'BAS')
    """

    table_id: str
    series: str
    coverage: str
    description: str
    home: str = "Bostadskommun"
    work: str = "Arbetsstallekommun"
    contents: str | None = None


#: SCB's kommun-to-kommun commuting tables, newest series first (the order is the
#: preference where series overlap). The v2 table ids and the v1 paths they replace
#: were taken from two independent public scripts that use them (Region Dalarna's
#: ``hamta_pendling_rams_bas_scb`` in its pxweb2r migration, and a Swedish job–home
#: network atlas built from TAB333/TAB5850/TAB1830); the variable codes
#: ``Bostadskommun``, ``Arbetsstallekommun``, ``Kon`` (total ``1+2``) and, for
#: TAB1830, ContentsCode ``000000QT`` from scripts querying ArRegPend2. Confidence:
#: high for TAB1830, TAB5850 and TAB333 (same mapping in both sources), medium for
#: the ContentsCode (the client falls back to the table's only content). Override
#: with ``commuting_tables=`` or ``--tables`` if SCB renumbers them.
COMMUTING_TABLES: tuple[CommutingTable, ...] = (
    CommutingTable("TAB1830", "BAS", "2020–",
                   "BAS: förvärvsarbetande 15–74 år efter bostadskommun, arbetsställekommun "
                   "och kön (v1: AM/AM0210/AM0210F/ArRegPend2)", contents="000000QT"),
    CommutingTable("TAB5850", "RAMS (AGI)", "2019–2021",
                   "RAMS: förvärvsarbetande pendlare 16–74 år efter bostadskommun, "
                   "arbetsställekommun och kön (v1: AM/AM0207/AM0207Z/AM0207PendlKomA04N)"),
    CommutingTable("TAB333", "RAMS", "2004–2018",
                   "RAMS: förvärvsarbetande pendlare 16+ år efter bostadskommun, "
                   "arbetsställekommun och kön (v1: AM/AM0207/AM0207L/AM0207PendlKomA04)"),
    CommutingTable("TAB334", "RAMS", "1993–2003",
                   "RAMS: pendlare efter bostadskommun och arbetsställekommun "
                   "(v1: AM/AM0207/AM0207L/AM0207PendlKomA9303)"),
)

#: Series breaks inside the tables, as SCB's table notes describe them.
KNOWN_BREAKS: tuple[dict[str, Any], ...] = (
    {"year": 2011, "table": "TAB333",
     "note": "RAMS: new classification of gainfully employed from 2011 (persons 75+ "
             "excluded); SCB note on AM0207"},
    {"year": 2019, "table": "TAB5850",
     "note": "RAMS: from 2019 employment is classified from monthly employer "
             "declarations (AGI) instead of annual statements (KU)"},
    {"year": 2020, "table": "TAB1830",
     "note": "BAS replaces RAMS from 2020 and covers about 50 000 more persons; "
             "compare over time with care"},
)


# --------------------------------------------------------------------------- series


@dataclass(frozen=True)
class SeriesPlan:
    """Which table each year is taken from, and where series overlap or break.

    Examples
    --------
    >>> plan = plan_series({"TAB1830": ("2020", "2021"), "TAB5850": ("2019", "2020")},
    ...                    ["TAB1830", "TAB5850"], [2019, 2020, 2021])
    >>> dict(plan.table_of)
    {2019: 'TAB5850', 2020: 'TAB1830', 2021: 'TAB1830'}
    >>> plan.overlaps
    [{'year': 2020, 'used': 'TAB1830', 'dropped': ['TAB5850']}]
    >>> [(b["year"], b["from"], b["to"]) for b in plan.breaks]
    [(2020, 'TAB5850', 'TAB1830')]
    """

    table_of: Mapping[int, str]
    overlaps: list[dict[str, Any]] = field(default_factory=list)
    breaks: list[dict[str, Any]] = field(default_factory=list)


def plan_series(years_by_table: Mapping[str, Iterable[str]], order: Sequence[str],
                years: Iterable[int]) -> SeriesPlan:
    """Choose one table per year; the first table in ``order`` wins where they overlap.

    Overlap years are kept once (from the preferred table) and the tables dropped
    for them are listed; a change of table between consecutive years is a series
    break, and so are the known breaks inside a used table (:data:`KNOWN_BREAKS`).
    """
    avail = {t: {int(y) for y in ys if str(y).isdigit()} for t, ys in years_by_table.items()}
    table_of: dict[int, str] = {}
    overlaps: list[dict[str, Any]] = []
    wanted = sorted(set(years))
    for y in wanted:
        having = [t for t in order if y in avail.get(t, set())]
        if not having:
            covered = ", ".join(f"{t} {min(v)}–{max(v)}" for t, v in avail.items() if v)
            raise ConfigError(f"no commuting table has the year {y} (available: {covered})")
        table_of[y] = having[0]
        if len(having) > 1:
            overlaps.append({"year": y, "used": having[0], "dropped": having[1:]})
    breaks: dict[int, dict[str, Any]] = {}
    for a, b in itertools.pairwise(wanted):
        if table_of[a] != table_of[b]:
            breaks[b] = {"year": b, "from": table_of[a], "to": table_of[b],
                         "note": "the series changes table (definitions differ)"}
    for kb in KNOWN_BREAKS:
        y = kb["year"]
        if y in table_of and table_of[y] == kb["table"] and (y - 1) in table_of:
            entry = breaks.setdefault(y, {"year": y, "from": table_of[y - 1], "to": kb["table"],
                                          "note": ""})
            entry["note"] = "; ".join(n for n in (entry["note"], kb["note"]) if n)
    return SeriesPlan(table_of, overlaps, [breaks[y] for y in sorted(breaks)])


# --------------------------------------------------------------------------- seats


def load_seats(path: str | Path | None = None) -> pd.DataFrame:
    """The seat table: each kommun's main place (kommunhuvudort).

    Columns ``kommun_code`` (4-character text), ``kommun_name``, ``seat_name``,
    ``tatort_code`` (empty when unknown: the seat is matched by name within the
    kommun), ``note``, ``source``, ``year``; one row per kommun. Without ``path``,
    every table shipped with the package (``data/kommunhuvudorter_*.csv``; Skåne
    so far).

    Examples
    --------
    >>> s = load_seats()
    >>> s.set_index("kommun_code").loc["1231", ["seat_name", "tatort_code"]].tolist()
    ['Arlöv', '1280TC106']
    """
    cols = ("kommun_code", "kommun_name", "seat_name", "tatort_code", "note", "source", "year")
    frames: list[pd.DataFrame] = []
    if path is None:
        folder = resources.files("strukturbild") / "data"
        for ref in sorted(folder.iterdir(), key=lambda r: r.name):
            if ref.name.startswith("kommunhuvudorter_") and ref.name.endswith(".csv"):
                with resources.as_file(ref) as p:
                    frames.append(read_table(p))
        source: str | Path = "the shipped seat tables"
    else:
        frames.append(read_table(path))
        source = Path(path)
    df = pd.concat(frames, ignore_index=True)
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise MissingColumnError(f"seat table lacks column(s) {', '.join(missing)}",
                                 source=source)
    df = df.loc[:, list(cols)].astype(object)
    df = df.where(df.notna(), "").map(lambda v: str(v).strip())
    bad = ~df["kommun_code"].str.fullmatch(r"\d{4}")
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise UnknownCodeError(f"kommun code '{df['kommun_code'].iloc[i]}' is not 4 digits",
                               source=source, column="kommun_code", row=i + 1)
    dup = df["kommun_code"].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise ConfigError(f"kommun {df['kommun_code'].iloc[i]} has two seats", source=source,
                          row=i + 1)
    return df


def _norm(name: str) -> str:
    return re.sub(r"\s+", " ", str(name)).strip().casefold()


def resolve_seats(tatorter: pd.DataFrame, kommun_codes: Iterable[str], seats: pd.DataFrame,
                  *, kommuner: gpd.GeoDataFrame | None = None) -> pd.DataFrame:
    """The place each kommun's flows attach to: its seat, else its largest tätort.

    For each kommun: the seat table's ``tatort_code`` when that tätort exists (it
    may lie in another kommun: Burlöv's seat Arlöv is part of the Malmö tätort in
    SCB's 2020 delineation); else the tätort of the kommun named ``seat_name``; else,
    with a warning, the kommun's largest tätort; for a kommun with no tätort of its
    own (Solna, say, whose built-up area is part of the Stockholm tätort), the
    largest tätort intersecting its boundary when ``kommuner`` is given; else none
    (its flows are left out, with a warning).

    Parameters
    ----------
    tatorter
        Indexed by tätort code, with ``name``, ``area_id`` (kommun code),
        ``population`` and, for the boundary fallback, a geometry.
    kommun_codes
        The kommuner to attach.
    seats
        The seat table (:func:`load_seats`).
    kommuner
        Kommun polygons indexed by kommun code (optional).

    Returns
    -------
    DataFrame indexed by ``kommun_code`` with ``place_id`` (None when unattached),
    ``place_name``, ``method`` (``code``, ``name``, ``largest``,
    ``largest_intersecting`` or ``none``) and ``note``.

    Examples
    --------
    >>> t = pd.DataFrame({"name": ["Malmö", "Åkarp", "Lund", "Dalby"],
    ...                   "area_id": ["1280", "1231", "1281", "1281"],
    ...                   "population": [300000, 6000, 90000, 6000]},
    ...                  index=["1280TC106", "1231TB102", "1281TC105", "1281TC101"])
    >>> resolve_seats(t, ["1280", "1231", "1281"], load_seats())[["place_id", "method"]]
                  place_id method
    kommun_code
    1280         1280TC106   name
    1231         1280TC106   code
    1281         1281TC105   name
    """
    seat_rows = seats.set_index("kommun_code")
    names = tatorter["name"].map(_norm)
    rows: dict[str, dict[str, Any]] = {}
    not_in_table: list[str] = []
    not_found: list[str] = []
    no_place: list[str] = []
    for k in kommun_codes:
        own = tatorter[tatorter["area_id"] == k]
        rec: dict[str, Any] = {"place_id": None, "method": "none", "note": ""}
        if k in seat_rows.index:
            s = seat_rows.loc[k]
            code, seat = str(s["tatort_code"]), str(s["seat_name"])
            rec["note"] = str(s["note"])
            if code and code in tatorter.index:
                rec.update(place_id=code, method="code")
            else:
                hit = own.index[names.reindex(own.index) == _norm(seat)]
                if len(hit):
                    rec.update(place_id=hit[0], method="name")
                else:
                    not_found.append(f"{k} ({seat})")
        else:
            not_in_table.append(k)
        if rec["place_id"] is None and len(own):
            largest = own.sort_values(["population"], ascending=False, kind="stable").index[0]
            rec.update(place_id=largest, method="largest")
        if rec["place_id"] is None and kommuner is not None and k in kommuner.index and \
                "geometry" in tatorter:
            geoms = gpd.GeoSeries(tatorter.geometry, crs=kommuner.crs)
            inside = tatorter[geoms.intersects(kommuner.geometry.loc[k]).to_numpy()]
            if len(inside):
                best = inside.sort_values("population", ascending=False, kind="stable").index[0]
                rec.update(place_id=best, method="largest_intersecting")
        if rec["place_id"] is None:
            no_place.append(k)
        rows[k] = rec
    if not_found:
        warnings.warn(f"{len(not_found)} seat(s) not found among their kommun's tätorter: "
                      f"{', '.join(not_found)}; their flows attach to the kommun's largest "
                      "tätort", StrukturbildWarning, stacklevel=2)
    if not_in_table:
        warnings.warn(f"{len(not_in_table)} kommun(er) not in the seat table "
                      f"({', '.join(not_in_table)}): their flows attach to their largest "
                      "tätort where they have one", StrukturbildWarning, stacklevel=2)
    if no_place:
        warnings.warn(f"{len(no_place)} kommun(er) have no tätort to attach their flows to "
                      f"({', '.join(no_place)}); their flows are left out",
                      StrukturbildWarning, stacklevel=2)
    out = pd.DataFrame.from_dict(rows, orient="index", columns=["place_id", "method", "note"])
    out.index = pd.Index(out.index.astype(object), name="kommun_code", dtype=object)
    out.insert(1, "place_name", tatorter["name"].reindex(out["place_id"]).to_numpy())
    out = out.astype(object).where(out.notna(), None)
    return out


def place_flows_from_kommun_flows(flows: pd.DataFrame, seat_of: Mapping[str, str]) -> Flows:
    """Kommun-to-kommun flows attached to places: each kommun to its seat place.

    Only flows between kommuner that have a seat place are kept. Kommuner sharing a
    seat place (Malmö and Burlöv) are merged as :meth:`Flows.aggregate` does: the
    flows between them become the place's intra-place flow.

    Examples
    --------
    >>> kf = pd.DataFrame({"origin": ["1280", "1231", "1231", "1281"],
    ...                    "destination": ["1280", "1280", "1231", "1280"],
    ...                    "count": [100, 30, 10, 20]})
    >>> f = place_flows_from_kommun_flows(kf, {"1280": "M", "1231": "M", "1281": "L"})
    >>> f.count.to_dict()
    {('L', 'M'): 20.0, ('M', 'M'): 140.0}
    """
    keep = flows["origin"].isin(list(seat_of)) & flows["destination"].isin(list(seat_of))
    kflows = Flows.from_frame(flows.loc[keep, ["origin", "destination", "count"]])
    return kflows.aggregate({k: v for k, v in seat_of.items() if k in set(kflows.units)})


# --------------------------------------------------------------------------- commuting


def _pick_total(meta: TableMeta, dim: str) -> list[str] | None:
    """The value codes meaning 'all' for a dimension, or None to eliminate it."""
    ev = meta.elimination_value.get(dim)
    if ev:
        return [ev]
    for code in meta.codes[dim]:
        label = meta.labels[dim].get(code, "").casefold()
        if code.casefold() in ("1+2", "tot", "totalt", "totsa", "t") or label.startswith(
                ("totalt", "samtliga", "män och kvinnor", "total", "båda könen")):
            return [code]
    if meta.eliminable(dim):
        return None
    if len(meta.codes[dim]) == 1:
        return list(meta.codes[dim])
    raise FetchError(f"cannot choose a total for variable '{dim}' (values: "
                     f"{', '.join(meta.codes[dim][:8])}); it cannot be eliminated",
                     source=meta.table_id)


def _find_dim(meta: TableMeta, preferred: str, needle: str) -> str:
    if preferred in meta.dims:
        return preferred
    for d in meta.dims:
        if needle in d.casefold():
            return d
    raise FetchError(f"the table has no variable '{preferred}' (it has "
                     f"{', '.join(meta.dims)})", source=meta.table_id)


def _kommun_codes(codes: Iterable[str]) -> list[str]:
    return [c for c in codes if re.fullmatch(r"\d{4}", c)]


def commuting_selection(meta: TableMeta, table: CommutingTable, year: int,
                        home: Sequence[str], work: Sequence[str]) -> dict[str, list[str]]:
    """The PxWebApi selection for flows from ``home`` to ``work`` kommuner in ``year``.

    Every other variable is set to its total (``eliminationValueCode``, a code or
    label meaning "all"), or left out when the API may eliminate it.

    Examples
    --------
    >>> doc = {"version": "2.0", "class": "dataset", "id": ["Bostadskommun",
    ...        "Arbetsstallekommun", "Kon", "ContentsCode", "Tid"], "size": [1, 1, 3, 1, 1],
    ...        "role": {"time": ["Tid"], "metric": ["ContentsCode"]}, "dimension": {
    ...        "Bostadskommun": {"category": {"index": {"1280": 0}}},
    ...        "Arbetsstallekommun": {"category": {"index": {"1280": 0}}},
    ...        "Kon": {"category": {"index": {"1": 0, "2": 1, "1+2": 2}}},
    ...        "ContentsCode": {"category": {"index": {"000000QT": 0}}},
    ...        "Tid": {"category": {"index": {"2022": 0}}}}}
    >>> m = TableMeta.from_jsonstat("TAB1830", doc)
    >>> commuting_selection(m, COMMUTING_TABLES[0], 2022, ["1280"], ["1280"])["Kon"]
    ['1+2']
    """
    hd = _find_dim(meta, table.home, "bostad")
    wd = _find_dim(meta, table.work, "arbets")
    sel: dict[str, list[str]] = {}
    for d in meta.dims:
        if d == hd:
            sel[d] = list(home)
        elif d == wd:
            sel[d] = list(work)
        elif d == meta.time_dim:
            if str(year) not in meta.codes[d]:
                raise ConfigError(f"table {meta.table_id} has no year {year}")
            sel[d] = [str(year)]
        elif d.casefold() == "contentscode":
            codes = meta.codes[d]
            if table.contents and table.contents in codes:
                sel[d] = [table.contents]
            else:
                sel[d] = [codes[0]]
        else:
            total = _pick_total(meta, d)
            if total is not None:
                sel[d] = total
    return sel


def fetch_commuting(px: PxWebClient, table: CommutingTable, year: int,
                    home: Sequence[str], work: Sequence[str]) -> tuple[pd.DataFrame, int]:
    """Flows ``origin`` (home kommun) → ``destination`` (work kommun), ``count``.

    Returns the flows (pairs with no commuters, and suppressed or missing cells,
    left out) and the number of suppressed or missing cells.
    """
    meta = px.metadata(table.table_id)
    sel = commuting_selection(meta, table, year, home, work)
    raw = px.data(table.table_id, sel)
    hd = _find_dim(meta, table.home, "bostad")
    wd = _find_dim(meta, table.work, "arbets")
    if raw.empty:
        return pd.DataFrame({"origin": [], "destination": [], "count": []}), 0
    ok = raw["value"].notna() & np.isfinite(raw["value"].to_numpy(dtype=float))
    df = pd.DataFrame({"origin": raw.loc[ok, hd].astype(str).to_numpy(dtype=object),
                       "destination": raw.loc[ok, wd].astype(str).to_numpy(dtype=object),
                       "count": raw.loc[ok, "value"].astype(float).to_numpy()})
    if (df["count"] < 0).any():
        raise FetchError("negative commuter count in the answer", source=table.table_id)
    return df[df["count"] > 0].reset_index(drop=True), int((~ok).sum())


# --------------------------------------------------------------------------- geodata


def _fc_to_frame(fc: Mapping[str, Any], *, source: str) -> gpd.GeoDataFrame:
    feats = fc.get("features", [])
    if not feats:
        raise FetchError("the WFS answered with no features", source=source)
    gdf = gpd.GeoDataFrame.from_features(feats, crs="EPSG:3006")
    gdf.columns = [c if c == "geometry" else str(c).lower() for c in gdf.columns]
    geoms = gdf.geometry.to_numpy()
    bad = ~shapely.is_valid(geoms)
    if bad.any():
        gdf = gdf.set_geometry(gpd.GeoSeries(shapely.make_valid(geoms), index=gdf.index,
                                             crs=gdf.crs))
    return gdf


def tatorter_from_features(fc: Mapping[str, Any], *, source: str = "WFS") -> gpd.GeoDataFrame:
    """SCB's tätort features as places: ``place_id``, ``name``, ``area_id``, ...

    Examples
    --------
    >>> fc = {"type": "FeatureCollection", "features": [{"type": "Feature",
    ...       "geometry": {"type": "Point", "coordinates": [374000, 6164000]},
    ...       "properties": {"tatortskod": "1280TC106", "tatort": "Malmö",
    ...       "kommun": "1280", "kommunnamn": "Malmö", "bef": 325069, "area_ha": 7816}}]}
    >>> t = tatorter_from_features(fc)
    >>> t.loc["1280TC106", "name"], int(t.loc["1280TC106", "population"])
    ('Malmö', 325069)
    """
    gdf = _fc_to_frame(fc, source=source)
    missing = [c for c in _TATORT_FIELDS if c not in gdf.columns]
    if missing:
        raise FetchError(f"the tätort layer lacks field(s) {', '.join(missing)}", source=source)
    out = gpd.GeoDataFrame(
        {"name": gdf["tatort"].astype(str).to_numpy(dtype=object),
         "area_id": gdf["kommun"].astype(str).str.zfill(4).to_numpy(dtype=object),
         "area_name": gdf["kommunnamn"].astype(str).to_numpy(dtype=object),
         "population": pd.to_numeric(gdf["bef"], errors="coerce").fillna(0).astype(np.int64)
         .to_numpy()},
        geometry=gdf.geometry.to_numpy(), crs=gdf.crs,
        index=pd.Index(gdf["tatortskod"].astype(str).to_numpy(dtype=object), name="place_id",
                       dtype=object))
    if "area_ha" in gdf.columns:
        out.insert(4, "area_ha", pd.to_numeric(gdf["area_ha"], errors="coerce").to_numpy())
    return out


def kommuner_from_features(fc: Mapping[str, Any], *, fields: Mapping[str, str] = KOMMUN_FIELDS,
                           source: str = "WFS") -> gpd.GeoDataFrame:
    """Kommun polygons dissolved from areas that nest in kommuner (DeSO, RegSO).

    Examples
    --------
    >>> sq = lambda x: {"type": "Polygon", "coordinates": [[[x, 0], [x + 1, 0],
    ...                 [x + 1, 1], [x, 1], [x, 0]]]}
    >>> fc = {"type": "FeatureCollection", "features": [
    ...     {"type": "Feature", "geometry": sq(0), "properties": {"kommunkod": "1280",
    ...      "kommunnamn": "Malmö"}},
    ...     {"type": "Feature", "geometry": sq(1), "properties": {"kommunkod": "1280",
    ...      "kommunnamn": "Malmö"}}]}
    >>> k = kommuner_from_features(fc)
    >>> k.index.tolist(), float(k.area.iloc[0])
    (['1280'], 2.0)
    """
    gdf = _fc_to_frame(fc, source=source)
    code, name = fields["code"].lower(), fields["name"].lower()
    if code not in gdf.columns:
        raise FetchError(f"the kommun layer lacks the field '{code}' (it has "
                         f"{', '.join(c for c in gdf.columns if c != 'geometry')})",
                         source=source)
    codes = gdf[code].astype(str).str.zfill(4)
    names = gdf[name].astype(str) if name in gdf.columns else codes
    parts = pd.DataFrame({"code": codes.to_numpy(), "name": names.to_numpy()})
    rows = []
    for k, grp in parts.groupby("code", sort=True):
        geom = shapely.union_all(gdf.geometry.to_numpy()[grp.index.to_numpy()])
        rows.append((str(k), str(grp["name"].iloc[0]), shapely.make_valid(geom)))
    return gpd.GeoDataFrame({"name": [r[1] for r in rows]},
                            geometry=[r[2] for r in rows], crs=gdf.crs,
                            index=pd.Index([r[0] for r in rows], name="area_id", dtype=object))


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


def _tatort_year(year: int) -> int:
    older = [y for y in TATORT_YEARS if y <= year]
    return max(older) if older else TATORT_YEARS[0]


def fetch_scb(
    out_dir: str | Path,
    *,
    lan: Iterable[str] = ("12",),
    year: int | None = None,
    tatort_year: int | None = None,
    api_url: str = DEFAULT_API_URL,
    wfs_url: str = DEFAULT_WFS_URL,
    cache_dir: str | Path | None = None,
    offline: bool = False,
    seats: pd.DataFrame | None = None,
    commuting_tables: Sequence[CommutingTable] = COMMUTING_TABLES,
    history_from: int | None = None,
    kommun_layer: str = KOMMUN_LAYER,
    max_retries: int = 4,
    sleep: Callable[[float], None] | None = None,
    progress: Progress | None = None,
) -> FetchResult:
    """Download SCB's tätorter, kommuner and commuting and write a buildable project.

    Everything is downloaded (or read from the cache) before anything is written;
    then each file is written atomically, the project file last. With no network
    and no cache nothing is written and :class:`~strukturbild._scb.FetchError`
    (a :class:`~strukturbild.errors.StrukturbildError`) is raised.

    Parameters
    ----------
    out_dir
        Folder for the outputs: ``scb.gpkg`` (layers ``places`` and ``kommuner``),
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
        PxWebApi 2 base URL and WFS URL (tests point them at a local server).
    cache_dir
        Where raw responses are kept; default ``out_dir / "cache"``.
    offline
        Use only the cache.
    seats
        Seat table (default: :func:`load_seats`).
    commuting_tables
        Tables to take commuting from, preferred first (:data:`COMMUTING_TABLES`).
    history_from
        Also write ``commuting_kommun_series.csv``: flows between the region's
        kommuner for every year from this one to ``year``, one table per year
        (:func:`plan_series`), with overlaps and breaks in ``metadata.json``.
    kommun_layer
        WFS layer dissolved into kommun boundaries (fields :data:`KOMMUN_FIELDS`).
    max_retries, sleep
        Retries after transient failures, and the sleep function (tests pass a
        fake one).
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
    lans = _check_lan(lan)
    out = Path(out_dir)
    tables = {t.table_id: t for t in commuting_tables}
    if not tables:
        raise ConfigError("give at least one commuting table")
    cache = ResponseCache(Path(cache_dir) if cache_dir else out / "cache")
    fetcher = HttpFetcher(cache=cache, offline=offline, max_retries=max_retries)
    if sleep is not None:
        fetcher.sleep = sleep
    px = PxWebClient(fetcher, api_url)
    wfs = WfsClient(fetcher, wfs_url)
    notes: list[str] = []

    def note(msg: str) -> None:
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
    place_flows = place_flows_from_kommun_flows(kflows, seat_of)
    places = tatorter.copy()
    per_place = pd.DataFrame({"place": pd.Series(seat_of), "jobs": jobs, "employed": employed})
    per_place = per_place[per_place["place"].notna()]
    sums = per_place.groupby("place")[["jobs", "employed"]].sum()
    places["jobs"] = sums["jobs"].reindex(places.index)
    places["employed"] = sums["employed"].reindex(places.index)
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
    employment["seat_place_id"] = seat["place_id"].reindex(region).to_numpy()
    employment["seat_method"] = seat["method"].reindex(region).to_numpy()
    kommun_layer_frame = kommuner.join(
        employment.set_index("kommun_code")[["employed", "jobs", "job_ratio",
                                             "net_commuting"]])

    # 5. Metadata, then the files.
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
            "commuting_tables": [t.__dict__ for t in commuting_tables],
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
        "requests": [r.to_dict() for r in fetcher.log],
    }

    files: dict[str, Path] = {}
    out.mkdir(parents=True, exist_ok=True)
    gpkg = out / "scb.gpkg"
    with atomic_path(gpkg) as tmp, warnings.catch_warnings():
        # GDAL notes that the temporary file's name does not end in .gpkg.
        warnings.simplefilter("ignore", RuntimeWarning)
        places.to_file(tmp, layer="places", driver="GPKG")
        kommun_layer_frame.to_file(tmp, layer="kommuner", driver="GPKG", mode="a")
    files["gpkg"] = gpkg

    def write_csv(key: str, frame: pd.DataFrame, fname: str) -> None:
        path = out / fname
        with atomic_path(path) as tmp:
            frame.to_csv(tmp, index=False, encoding="utf-8")
        files[key] = path

    write_csv("flows_place", place_flows.to_frame().reset_index(), "flows_place.csv")
    write_csv("commuting_kommun", kflows.assign(year=year, table=table.table_id)
              [["year", "table", "origin", "destination", "count"]], "commuting_kommun.csv")
    write_csv("employment_kommun", employment, "employment_kommun.csv")
    write_csv("seats", seat.reset_index(), "seats.csv")
    if series_frames:
        write_csv("commuting_series", pd.concat(series_frames, ignore_index=True)
                  [["year", "table", "series", "origin", "destination", "count"]],
                  "commuting_kommun_series.csv")
    meta_path = out / "metadata.json"
    with atomic_path(meta_path) as tmp:
        tmp.write_text(json.dumps(to_jsonable(metadata), ensure_ascii=False, indent=2),
                       encoding="utf-8")
    files["metadata"] = meta_path
    project_path = out / "project.toml"
    with atomic_path(project_path) as tmp:
        tmp.write_text(_project_toml(name, region_name, year, tyear, table), encoding="utf-8")
    files["project"] = project_path
    say(f"wrote {len(files)} files to {out}")
    return FetchResult(out, project_path, files, metadata)


def _project_toml(name: str, region: str, year: int, tyear: int,
                  table: CommutingTable) -> str:
    note = (f"Källa: SCB, statistiska tätorter {tyear}, DeSO 2025 och pendling "
            f"{table.table_id} ({table.series}) {year} (CC0)")
    return f"""\
# Made by `strukturbild fetch scb` from SCB open data (CC0): tätorter {tyear},
# kommun boundaries (DeSO 2025 dissolved), commuting {year} ({table.table_id}, {table.series}).
# Flows are observed between kommuner and attached to each kommun's seat place;
# seat places carry the kommun's employed residents and jobs. See metadata.json.
# Reference of every key: README.md, "Project file".

[project]
name = "{name}"
title = "Strukturbild för {region} {year}"
crs = "EPSG:3006"
language = "sv"

[places]
path = "scb.gpkg"
layer = "places"

[areas]
path = "scb.gpkg"
layer = "kommuner"

[flows]
path = "flows_place.csv"
level = "place"

[links]
source = "observed"

[map]
source_note = "{note}"
"""
