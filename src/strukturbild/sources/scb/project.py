"""The project file that ``strukturbild fetch scb`` writes beside the data."""

from __future__ import annotations

from .commuting import CommutingTable

__all__ = ["project_toml"]


def project_toml(name: str, region: str, year: int, tyear: int,
                  table: CommutingTable, jobs_year: int | None = None) -> str:
    jobs = f", dagbefolkning {jobs_year}" if jobs_year else ""
    note = (f"Källa: SCB, statistiska tätorter {tyear}, DeSO 2025, pendling "
            f"{table.table_id} ({table.series}) {year}{jobs}")
    return f"""\
# Made by `strukturbild fetch scb` from SCB open data (CC0): tätorter {tyear},
# kommun boundaries (DeSO 2025 dissolved), commuting {year} ({table.table_id}, {table.series}).
# Flows are observed between kommuner and attached to each kommun's seat place.
# The places carry their jobs (SCB's day population per tätort); their employed
# residents are estimated from the kommun's employment rate (the kommuner layer's
# employment_rate: employed residents per inhabitant). See metadata.json.
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
