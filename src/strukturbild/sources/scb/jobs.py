"""SCB's jobs per tätort and population per kommun (PxWebApi 2), for ``fetch scb``.

**Jobs per tätort.** SCB publishes the day population of every tätort (*sysselsatt
dagbefolkning*: the employed by the location of their workplace, RAMS and from 2020
BAS) in the statistical database's table family MI0810; in API v1 it is
``START/MI/MI0810/MI0810C/DagbefTatort`` ("Förvärvsarbetande 16+ år med arbetsplats i
tätorten (dagbefolkning) efter region, kön och år", variables ``Region``, ``Kon``,
``Tid``: scb-java-client's ``EnvironmentLocalitiesAreasAndPopulationGainfullyEmployed
AndWorkplacesClient``). Its PxWebApi 2 id (``TAB…``) is in no source this project
could check, so :data:`JOBS_TABLE_ID` is None and :func:`find_jobs_table` asks the
API's own table search at run time (``GET {base}/tables?query=dagbefolkning tätort``,
PxTools/PxApiSpecs ``examples/tables-tables-response.json``), taking the table whose
title names the day population (or workplaces) of tätorter, the one with the latest
year first, and records the search and the choice in ``metadata.json``. Give the id
(``fetch_scb(jobs_table=...)``, ``--jobs-table``) to skip the search.

The table's variables are found, not assumed: the region variable is the one whose
codes are SCB tätort codes (``0180TC101``), the time variable the table's, the
content the one whose label names the day population, every other variable its
total (or left out where the API may eliminate it), except a variable of län, which
is summed over. A tätort that crosses a län border may be listed once per län: codes
that start with the same tätort code (``1278TC101`` and ``1278TC101-13``) are added
up, a suppressed part counting as none where another part has a figure.

The tätorter of the jobs table are those of the latest delineation not after its
year (:data:`~.geodata.TATORT_YEARS`: the day population of 2024 is given for the
tätorter of 2023); ``fetch scb`` matches them to the tätorter it fetched by code,
else by location (the fetched tätort's point in a polygon of the jobs' delineation,
from the WFS), with :func:`strukturbild.readers.match_jobs`.

**Population per kommun** comes from TAB638 (BE0101N1, v1
``BE/BE0101/BE0101A/BefolkningNy``: "Folkmängden efter region, civilstånd, ålder och
kön"; the pxweb R package's tests compare the two), for the kommun's employment rate:
employed residents (the commuting table's row sums) per inhabitant.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ...errors import FetchError
from .commuting import _pick_total
from .geodata import TATORT_YEARS
from .pxweb import PxWebClient, TableMeta

__all__ = [
    "JOBS_QUERY",
    "JOBS_TABLE_ID",
    "POPULATION_TABLE_ID",
    "KommunPopulation",
    "TatortJobs",
    "fetch_kommun_population",
    "fetch_tatort_jobs",
    "find_jobs_table",
]

#: PxWebApi 2 id of SCB's day population per tätort (MI0810, v1 ``DagbefTatort``). Not
#: known here (see the module's text): None makes :func:`find_jobs_table` search for it.
JOBS_TABLE_ID: str | None = None
#: What the table search asks for.
JOBS_QUERY = "dagbefolkning tätort"
#: SCB's population by region, civil status, age and sex (BE0101N1).
POPULATION_TABLE_ID = "TAB638"

_TATORT = re.compile(r"\d{4}T[A-Z]\d{3}")
_YEAR = re.compile(r"(\d{4})")


def _first_year(period: str) -> int:
    m = _YEAR.search(period)
    return int(m.group(1)) if m else -1


def find_jobs_table(px: PxWebClient, table_id: str | None = None) -> tuple[str, dict[str, Any]]:
    """The id of the day-population-by-tätort table, and how it was found.

    With ``table_id`` (or :data:`JOBS_TABLE_ID`) that id; else the API's table
    search for :data:`JOBS_QUERY`: of the tables not discontinued whose title names
    tätorter and the day population ("dagbef…") or workplaces ("arbetsplats…"), the
    one with the latest last year (the first listed among equals).

    Raises
    ------
    FetchError
        The search finds no such table (naming the search URL).
    """
    given = table_id or JOBS_TABLE_ID
    if given:
        return given, {"found_by": "id", "table": given}
    url = px.search_url(JOBS_QUERY)
    tables = px.search_tables(JOBS_QUERY)
    found = []
    for t in tables:
        label = t["label"].casefold()
        if t["discontinued"] or "tätort" not in label:
            continue
        if "dagbef" in label or "arbetsplats" in label:
            found.append(t)
    if not found:
        raise FetchError(f"the table search for '{JOBS_QUERY}' found no table of the day "
                         f"population by tätort among {len(tables)} tables; give its id "
                         "with --jobs-table", source=url)
    best = max(found, key=lambda t: _first_year(t["lastPeriod"]))
    return best["id"], {"found_by": "search", "query": JOBS_QUERY, "url": url,
                        "table": best["id"], "label": best["label"],
                        "candidates": [{"id": t["id"], "label": t["label"],
                                        "lastPeriod": t["lastPeriod"]} for t in found]}


@dataclass(frozen=True)
class TatortJobs:
    """SCB's jobs per tätort for one year, as :func:`fetch_tatort_jobs` read them.

    ``jobs`` is indexed by tätort code (parts split by län added up, suppressed ones
    left out); ``delineation`` is the tätort year its codes belong to.
    """

    table_id: str
    label: str
    year: int
    delineation: int
    contents: str
    jobs: pd.Series
    split: int
    suppressed: list[str]
    found: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        """What ``metadata.json`` records of the table and the year."""
        return {"table": self.table_id, "label": self.label, "year": self.year,
                "delineation": self.delineation, "contents": self.contents,
                "tatorter": len(self.jobs), "split_summed": self.split,  # with a figure
                "suppressed": self.suppressed, "total": float(self.jobs.sum()),
                **{k: v for k, v in self.found.items() if k != "table"}}


def _region_dim(meta: TableMeta) -> str:
    for d in meta.dims:
        if any(_TATORT.match(c) for c in meta.codes[d]):
            return d
    raise FetchError(f"table {meta.table_id} has no variable of tätort codes (it has "
                     f"{', '.join(meta.dims)})", source=meta.table_id)


def _content(meta: TableMeta, dim: str) -> str:
    codes = meta.codes[dim]
    for code in codes:
        label = meta.labels[dim].get(code, "").casefold()
        if "dagbef" in label or "arbetsplats" in label:
            return code
    return codes[0]


def _nearest_year(years: Iterable[str], year: int) -> int:
    listed = sorted(int(y) for y in years if y.isdigit())
    if not listed:
        raise FetchError("the table lists no year")
    before = [y for y in listed if y <= year]
    return before[-1] if before else listed[0]


def _delineation(year: int) -> int:
    older = [y for y in TATORT_YEARS if y <= year]
    return max(older) if older else TATORT_YEARS[0]


def fetch_tatort_jobs(px: PxWebClient, lans: Sequence[str], year: int, *,
                      table_id: str | None = None) -> TatortJobs:
    """SCB's jobs (day population) of the tätorter in ``lans`` (all for none).

    The year is ``year`` where the table has it, else the latest before it, else
    its first. Every count in the answer is checked to be a whole number of people.
    """
    tid, found = find_jobs_table(px, table_id)
    meta = px.metadata(tid)
    rdim = _region_dim(meta)
    jy = _nearest_year(meta.years, year)
    codes = [c for c in meta.codes[rdim] if _TATORT.match(c) and (not lans or c[:2] in lans)]
    if not codes:
        raise FetchError(f"table {tid} lists no tätort in län {', '.join(lans)}", source=tid)
    sel: dict[str, list[str]] = {}
    contents = ""
    summed_dims: list[str] = []
    for d in meta.dims:
        if d == rdim:
            sel[d] = codes
        elif d == meta.time_dim:
            sel[d] = [str(jy)]
        elif d.casefold() == "contentscode":
            contents = _content(meta, d)
            sel[d] = [contents]
        elif re.fullmatch(r"l[aä]n(skod)?|lan_code", d.casefold()):
            sel[d] = list(meta.codes[d])  # parts of a tätort by län: added up below
            summed_dims.append(d)
        else:
            total = _pick_total(meta, d)
            if total is not None:
                sel[d] = total
    raw = px.data(tid, sel, counts=True)
    if raw.empty:
        raise FetchError(f"table {tid} gave no jobs for {jy}", source=tid)
    code = raw[rdim].astype(str).str[:9]
    value = pd.to_numeric(raw["value"], errors="coerce")
    parts = code.groupby(code).size()
    jobs = value.groupby(code.to_numpy()).sum(min_count=1)
    suppressed = sorted(str(c) for c in jobs.index[jobs.isna()])
    jobs = jobs.dropna().astype(float)
    return TatortJobs(tid, meta.label, jy, _delineation(jy), contents, jobs.sort_index(),
                      int((parts > 1).sum()), suppressed,
                      {**found, "summed_over": summed_dims} if summed_dims else found)


@dataclass(frozen=True)
class KommunPopulation:
    """Inhabitants per kommun (TAB638) for one year."""

    table_id: str
    year: int
    population: pd.Series

    def describe(self) -> dict[str, Any]:
        """What ``metadata.json`` records of the table and the year."""
        return {"table": self.table_id, "year": self.year,
                "total": float(self.population.sum())}


def fetch_kommun_population(px: PxWebClient, kommuner: Sequence[str], year: int, *,
                            table_id: str = POPULATION_TABLE_ID) -> KommunPopulation:
    """Inhabitants of ``kommuner`` at the end of ``year`` (or the latest year before)."""
    meta = px.metadata(table_id)
    rdim = next((d for d in meta.dims if d.casefold() == "region"), None)
    if rdim is None:
        raise FetchError(f"table {table_id} has no variable Region (it has "
                         f"{', '.join(meta.dims)})", source=table_id)
    py = _nearest_year(meta.years, year)
    have = set(meta.codes[rdim])
    asked = [k for k in kommuner if k in have]
    sel: dict[str, list[str]] = {}
    for d in meta.dims:
        if d == rdim:
            sel[d] = asked
        elif d == meta.time_dim:
            sel[d] = [str(py)]
        elif d.casefold() == "contentscode":
            sel[d] = [meta.codes[d][0]]
        else:
            total = _pick_total(meta, d)
            if total is not None:
                sel[d] = total
    pop = pd.Series(np.nan, index=pd.Index(list(kommuner), dtype=object), name="population")
    if asked:
        raw = px.data(table_id, sel, counts=True)
        if not raw.empty:
            got = pd.to_numeric(raw["value"], errors="coerce").groupby(
                raw[rdim].astype(str).to_numpy()).sum(min_count=1)
            pop = got.reindex(pop.index).rename("population").astype(float)
    return KommunPopulation(table_id, py, pop)
