"""Commuting flows as one validated value type.

:class:`Flows` holds one ``count`` Series on an ``(origin, destination)``
MultiIndex, validated once when made, in the spirit of libpysal's ``Graph``.
Intra-unit flows (origin == destination, people living and working in the same
unit) are kept: they are what self-containment is made of.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import sparse

from .._validate import (
    MAX_TOTAL,
    check_known,
    require_columns,
    require_rows,
    to_codes,
    to_counts,
)
from ..errors import DuplicateIdError, InvalidValueError, StrukturbildWarning, UnknownCodeError

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = ["Flows", "place_flows_from_area_flows", "resolve_seats"]


class Flows:
    """Flows between units: a ``count`` Series on an ``(origin, destination)`` index.

    Parameters
    ----------
    count
        Series of counts (finite, >= 0, adding up to less than 2⁵³) on a two-level
        MultiIndex named ``origin``, ``destination``; ids are strings. Each pair at
        most once. (Tables read with :meth:`from_frame` also hold each count to at
        most 10⁸, :data:`strukturbild._validate.MAX_COUNT`.)
    modelled
        True when the counts come from a model, not from observation.

    Examples
    --------
    >>> f = Flows.from_frame(pd.DataFrame({"origin": ["A", "A", "B"],
    ...                                    "destination": ["A", "B", "A"],
    ...                                    "count": [10, 5, 2]}))
    >>> f.outflow().to_dict()
    {'A': 15.0, 'B': 2.0}
    >>> f.self_containment().loc["A"].tolist()
    [0.6666666666666666, 0.8333333333333334]
    """

    def __init__(self, count: pd.Series, *, modelled: bool = False) -> None:
        if not isinstance(count.index, pd.MultiIndex) or count.index.nlevels != 2:
            raise TypeError("count needs a two-level (origin, destination) MultiIndex")
        count = count.astype(float).rename("count")
        count.index = count.index.set_names(["origin", "destination"])
        values = count.to_numpy()
        bad = ~(values >= 0) | ~np.isfinite(values)
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            o, d = count.index[pos]
            raise InvalidValueError(f"the count {values[pos]} of the pair {o} → {d} is not a "
                                    "finite number >= 0")
        total = float(values.sum())
        if total >= MAX_TOTAL:
            raise InvalidValueError(f"the counts add up to {total:.3g}, more than counts can "
                                    f"(below 2^53 = {MAX_TOTAL:.3g}, where whole numbers stay "
                                    "exact)")
        if count.index.has_duplicates:
            dup = count.index[count.index.duplicated()][0]
            raise DuplicateIdError(f"the pair {dup[0]} → {dup[1]} occurs more than once")
        self._count = count
        self._modelled = bool(modelled)

    @property
    def modelled(self) -> bool:
        """True when the counts come from a model, not from observation."""
        return self._modelled

    # ------------------------------------------------------------------ constructors

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        origin: str = "origin",
        destination: str = "destination",
        count: str = "count",
        *,
        source: str | Path | None = None,
        units: pd.Index | None = None,
        modelled: bool = False,
    ) -> Flows:
        """Make flows from a long table, checking every row.

        Parameters
        ----------
        frame
            One row per pair.
        origin, destination, count
            Column names.
        source
            File name for error messages.
        units
            When given, every origin and destination must be one of these ids.
        modelled
            Mark the flows as modelled.

        Examples
        --------
        >>> t = pd.DataFrame({"from": ["1280"], "to": ["1281"], "n": [4]})
        >>> Flows.from_frame(t, "from", "to", "n").total
        4.0
        """
        require_columns(frame, [origin, destination, count], source=source)
        require_rows(frame, source=source)
        o = to_codes(frame[origin].reset_index(drop=True), source=source, column=origin)
        d = to_codes(frame[destination].reset_index(drop=True), source=source,
                     column=destination)
        c = to_counts(frame[count].reset_index(drop=True), source=source, column=count)
        if units is not None:
            check_known(o, units, what="place", source=source, column=origin)
            check_known(d, units, what="place", source=source, column=destination)
        idx = pd.MultiIndex.from_arrays([o.to_numpy(), d.to_numpy()],
                                        names=["origin", "destination"])
        if idx.has_duplicates:
            dup = np.flatnonzero(idx.duplicated())[0]
            first = int(np.flatnonzero(idx == idx[dup])[0])
            raise DuplicateIdError(
                f"the pair {idx[dup][0]} → {idx[dup][1]} occurs more than once (first at row "
                f"{first + 1}); give each origin–destination pair once",
                source=source, row=int(dup) + 1,
            )
        return cls(pd.Series(c.to_numpy(), index=idx), modelled=modelled)

    # ------------------------------------------------------------------ basic views

    @property
    def count(self) -> pd.Series:
        """The counts, as a copy: changing it does not change the flows.

        Examples
        --------
        >>> f = Flows.from_frame(pd.DataFrame({"origin": ["A", "B"], "destination": ["B", "A"],
        ...                                    "count": [3, 4]}))
        >>> c = f.count
        >>> c.iloc[1] = -7
        >>> f.total
        7.0
        """
        return self._count.copy()

    @property
    def total(self) -> float:
        """Sum of all counts, intra-unit flows included."""
        return float(self._count.sum())

    def __len__(self) -> int:
        return len(self._count)

    def __repr__(self) -> str:
        kind = "modelled" if self.modelled else "observed"
        return f"<Flows: {len(self)} pairs, {len(self.units)} units, total {self.total:g}, {kind}>"

    @cached_property
    def units(self) -> pd.Index:
        """Every id that occurs as origin or destination, sorted."""
        o = self._count.index.get_level_values(0)
        d = self._count.index.get_level_values(1)
        units: pd.Index = pd.Index(sorted(set(o).union(d)), dtype=object)
        return units

    def to_frame(self) -> pd.DataFrame:
        """The flows as a long table with columns origin, destination, count.

        Examples
        --------
        >>> Flows(pd.Series([1.0], index=pd.MultiIndex.from_tuples([("a", "b")]))).to_frame()
          origin destination  count
        0      a           b    1.0
        """
        return self._count.reset_index()

    @property
    def is_self(self) -> np.ndarray:
        """Boolean mask of the intra-unit flows."""
        idx = self._count.index
        return np.asarray(idx.get_level_values(0) == idx.get_level_values(1))

    @property
    def has_self_flows(self) -> bool:
        """Whether any intra-unit flow is recorded."""
        return bool(self.is_self.any())

    def between(self) -> pd.Series:
        """The counts without intra-unit flows."""
        return self._count[~self.is_self]

    # ------------------------------------------------------------------ totals

    def outflow(self, *, include_self: bool = True) -> pd.Series:
        """Total flow out of each unit (employed residents when self-flows are included).

        Examples
        --------
        >>> f = Flows(pd.Series([3.0, 1.0], index=pd.MultiIndex.from_tuples(
        ...     [("a", "a"), ("a", "b")])))
        >>> f.outflow(include_self=False).to_dict()
        {'a': 1.0, 'b': 0.0}
        """
        s = self._count if include_self else self.between()
        return s.groupby(level=0).sum().reindex(self.units, fill_value=0.0).rename("outflow")

    def inflow(self, *, include_self: bool = True) -> pd.Series:
        """Total flow into each unit (jobs when self-flows are included).

        Examples
        --------
        >>> f = Flows(pd.Series([3.0, 1.0], index=pd.MultiIndex.from_tuples(
        ...     [("a", "a"), ("a", "b")])))
        >>> f.inflow().to_dict()
        {'a': 3.0, 'b': 1.0}
        """
        s = self._count if include_self else self.between()
        return s.groupby(level=1).sum().reindex(self.units, fill_value=0.0).rename("inflow")

    def self_flow(self) -> pd.Series:
        """Intra-unit flow of each unit (0 where none is recorded)."""
        s = self._count[self.is_self]
        return pd.Series(s.to_numpy(), index=s.index.get_level_values(0)).reindex(
            self.units, fill_value=0.0
        ).rename("self_flow")

    def self_containment(self) -> pd.DataFrame:
        """Supply- and demand-side self-containment of each unit.

        ``supply`` = intra-unit flow / employed residents (outflow incl. self);
        ``demand`` = intra-unit flow / jobs (inflow incl. self). NaN where the
        denominator is 0. Without recorded intra-unit flows both are 0, which is
        why self-containment needs flow tables that include them.

        Examples
        --------
        >>> f = Flows(pd.Series([3.0, 1.0], index=pd.MultiIndex.from_tuples(
        ...     [("a", "a"), ("a", "b")])))
        >>> f.self_containment().loc["a"].tolist()
        [0.75, 1.0]
        """
        own = self.self_flow()
        with np.errstate(divide="ignore", invalid="ignore"):
            out = self.outflow().to_numpy()
            inn = self.inflow().to_numpy()
            supply = np.where(out > 0, own.to_numpy() / np.where(out > 0, out, 1), np.nan)
            demand = np.where(inn > 0, own.to_numpy() / np.where(inn > 0, inn, 1), np.nan)
        return pd.DataFrame({"supply": supply, "demand": demand}, index=self.units)

    # ------------------------------------------------------------------ transforms

    def aggregate(self, mapping: Mapping[str, str] | pd.Series) -> Flows:
        """Aggregate to a coarser level (tätort → kommun → region) without loss.

        Every unit must be in ``mapping``; flows between members of one group become
        the group's intra-unit flow.

        Examples
        --------
        >>> f = Flows(pd.Series([3.0, 1.0, 2.0], index=pd.MultiIndex.from_tuples(
        ...     [("a", "a"), ("a", "b"), ("b", "c")])))
        >>> f.aggregate({"a": "X", "b": "X", "c": "Y"}).count.to_dict()
        {('X', 'X'): 4.0, ('X', 'Y'): 2.0}
        """
        m = pd.Series(mapping)
        missing = self.units.difference(m.index)
        if len(missing):
            raise UnknownCodeError(
                f"{len(missing)} unit(s) have no group in the mapping, e.g. '{missing[0]}'"
            )
        o = m.reindex(self._count.index.get_level_values(0)).to_numpy()
        d = m.reindex(self._count.index.get_level_values(1)).to_numpy()
        s = pd.Series(self._count.to_numpy(), index=pd.MultiIndex.from_arrays([o, d]))
        return Flows(s.groupby(level=[0, 1]).sum(), modelled=self.modelled)

    def to_sparse(self, units: pd.Index | None = None) -> tuple[sparse.csr_matrix, pd.Index]:
        """The flows as a sparse matrix (rows origins, columns destinations).

        Examples
        --------
        >>> f = Flows(pd.Series([3.0, 1.0], index=pd.MultiIndex.from_tuples(
        ...     [("a", "a"), ("a", "b")])))
        >>> m, idx = f.to_sparse()
        >>> m.toarray().tolist(), list(idx)
        ([[3.0, 1.0], [0.0, 0.0]], ['a', 'b'])
        """
        idx = self.units if units is None else pd.Index(units)
        i = idx.get_indexer(self._count.index.get_level_values(0))
        j = idx.get_indexer(self._count.index.get_level_values(1))
        if (i < 0).any() or (j < 0).any():
            raise UnknownCodeError("some flow ids are not among the given units")
        m = sparse.csr_matrix((self._count.to_numpy(), (i, j)), shape=(len(idx), len(idx)))
        return m, idx


# --------------------------------------------------------------------------- area flows
# Flows counted between areas (kommuner) are attached to places by one rule, here:
# each area to its seat place (kommunhuvudort) where a seat table names it, else its
# largest place, else the largest place intersecting its boundary.


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
    >>> from strukturbild.sources.scb.seats import load_seats
    >>> resolve_seats(t, ["1280", "1231", "1281"], load_seats())[["place_id", "method"]]
                  place_id method
    kommun_code
    1280         1280TC106   name
    1231         1280TC106   code
    1281         1281TC105   name
    """
    import geopandas as gpd

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


def place_flows_from_area_flows(flows: pd.DataFrame, seat_of: Mapping[str, str]) -> Flows:
    """Kommun-to-kommun flows attached to places: each kommun to its seat place.

    Only flows between kommuner that have a seat place are kept. Kommuner sharing a
    seat place (Malmö and Burlöv) are merged as :meth:`Flows.aggregate` does: the
    flows between them become the place's intra-place flow.

    Examples
    --------
    >>> kf = pd.DataFrame({"origin": ["1280", "1231", "1231", "1281"],
    ...                    "destination": ["1280", "1280", "1231", "1280"],
    ...                    "count": [100, 30, 10, 20]})
    >>> f = place_flows_from_area_flows(kf, {"1280": "M", "1231": "M", "1281": "L"})
    >>> f.count.to_dict()
    {('L', 'M'): 20.0, ('M', 'M'): 140.0}
    """
    keep = flows["origin"].isin(list(seat_of)) & flows["destination"].isin(list(seat_of))
    kflows = Flows.from_frame(flows.loc[keep, ["origin", "destination", "count"]])
    return kflows.aggregate({k: v for k, v in seat_of.items() if k in set(kflows.units)})
