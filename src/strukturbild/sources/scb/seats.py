"""Seat tables: each kommun's main place (kommunhuvudort), shipped as data."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import ConfigError, MissingColumnError, UnknownCodeError
from ...readers import read_table

__all__ = ["load_seats"]


# --------------------------------------------------------------------------- seats


def load_seats(path: str | Path | None = None) -> pd.DataFrame:
    """The seat table: each kommun's main place (kommunhuvudort).

    Columns ``kommun_code`` (4-character text), ``kommun_name``, ``seat_name``,
    ``tatort_code`` (empty when unknown: the seat is matched by name within the
    kommun), ``note``, ``source``, ``year``; one row per kommun. Without ``path``,
    every table shipped with the package (``sources/scb/data/kommunhuvudorter_*.csv``,
    beside this module; Skåne so far).

    Examples
    --------
    >>> s = load_seats()
    >>> s.set_index("kommun_code").loc["1231", ["seat_name", "tatort_code"]].tolist()
    ['Arlöv', '1280TC106']
    """
    cols = ("kommun_code", "kommun_name", "seat_name", "tatort_code", "note", "source", "year")
    frames: list[pd.DataFrame] = []
    if path is None:
        folder = resources.files("strukturbild.sources.scb") / "data"
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
