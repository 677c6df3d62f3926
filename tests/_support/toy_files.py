"""The toy region (tests/conftest.py) written as CSV inputs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..conftest import TOY_FLOWS, TOY_PLACES


def write_toy_inputs(folder: Path, mark: str = "") -> None:
    """``places.csv`` and ``flows.csv`` of the toy region in ``folder``; with ``mark``,
    the fifth character of every place code replaced by it (another set of places)."""
    df = pd.DataFrame(TOY_PLACES, columns=["place_id", "name", "area_id", "population",
                                           "jobs", "employed", "x", "y"])
    flows = pd.DataFrame(TOY_FLOWS, columns=["origin", "destination", "count"])
    if mark:
        def rename(code: str) -> str:
            return f"{code[:4]}{mark}{code[5:]}"

        df["place_id"] = df["place_id"].map(rename)
        flows["origin"] = flows["origin"].map(rename)
        flows["destination"] = flows["destination"].map(rename)
    folder.mkdir(parents=True, exist_ok=True)
    df.to_csv(folder / "places.csv", index=False)
    flows.to_csv(folder / "flows.csv", index=False)
