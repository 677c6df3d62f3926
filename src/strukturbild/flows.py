"""Commuting flows as one validated value type.

:class:`Flows` holds one ``count`` Series on an ``(origin, destination)``
MultiIndex, validated once when made, in the spirit of libpysal's ``Graph``.
Intra-unit flows (origin == destination, people living and working in the same
unit) are kept: they are what self-containment is made of.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from ._validate import check_known, require_columns, require_rows, to_codes, to_counts
from .errors import DuplicateIdError, UnknownCodeError

__all__ = ["Flows"]


class Flows:
    """Flows between units: a ``count`` Series on an ``(origin, destination)`` index.

    Parameters
    ----------
    count
        Series of counts (finite, >= 0) on a two-level MultiIndex named
        ``origin``, ``destination``; ids are strings. Each pair at most once.
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
        if not np.isfinite(values).all() or (values < 0).any():
            raise ValueError("counts must be finite and >= 0")
        if count.index.has_duplicates:
            dup = count.index[count.index.duplicated()][0]
            raise DuplicateIdError(f"the pair {dup[0]} → {dup[1]} occurs more than once")
        self._count = count
        self.modelled = modelled

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

    @classmethod
    def from_csv(
        cls,
        path: str | Path,
        origin: str = "origin",
        destination: str = "destination",
        count: str = "count",
        **kwargs: Any,
    ) -> Flows:
        """Read flows from a CSV file (ids read as text, so leading zeros stay).

        Examples
        --------
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "f.csv"
        >>> _ = p.write_text("origin,destination,count\\n0114,0180,120\\n")
        >>> Flows.from_csv(p).count.index[0]
        ('0114', '0180')
        """
        frame = pd.read_csv(path, dtype={origin: str, destination: str})
        return cls.from_frame(frame, origin, destination, count, source=path, **kwargs)

    # ------------------------------------------------------------------ basic views

    @property
    def count(self) -> pd.Series:
        """The counts (a copy-safe view; do not change it in place)."""
        return self._count

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
