"""SCB's commuting tables (PxWebApi 2): which tables, which years, what to ask for.

Commuting between kommuner comes from the tables in :data:`COMMUTING_TABLES`,
decoded from JSON-stat 2.0; :func:`plan_series` picks one table per year and records
overlaps and series breaks; :func:`commuting_selection` builds the query.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ...errors import ConfigError, FetchError
from .pxweb import PxWebClient, TableMeta

__all__ = [
    "COMMUTING_TABLES",
    "KNOWN_BREAKS",
    "CommutingTable",
    "SeriesPlan",
    "commuting_selection",
    "fetch_commuting",
    "plan_series",
]


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
    left out) and the number of suppressed or missing cells. Every count in the
    answer is checked to be a whole number of people (a malformed one is a
    :class:`FetchError` naming the URL and the field).
    """
    meta = px.metadata(table.table_id)
    sel = commuting_selection(meta, table, year, home, work)
    raw = px.data(table.table_id, sel, counts=True)  # whole numbers of people, or null
    hd = _find_dim(meta, table.home, "bostad")
    wd = _find_dim(meta, table.work, "arbets")
    if raw.empty:
        return pd.DataFrame({"origin": [], "destination": [], "count": []}), 0
    ok = raw["value"].notna() & np.isfinite(raw["value"].to_numpy(dtype=float))
    df = pd.DataFrame({"origin": raw.loc[ok, hd].astype(str).to_numpy(dtype=object),
                       "destination": raw.loc[ok, wd].astype(str).to_numpy(dtype=object),
                       "count": raw.loc[ok, "value"].astype(float).to_numpy()})
    return df[df["count"] > 0].reset_index(drop=True), int((~ok).sum())
