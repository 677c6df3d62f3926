"""Helpers on built structure images (the images themselves are fixtures of conftest.py)."""

from __future__ import annotations

import dataclasses

from strukturbild.image import StructureImage

#: The layers of the areas image (no joint designation in it), in the order written.
AREAS_LAYERS = ("places", "links", "strak", "areas", "regions", "base", "context",
                "ferries")


def split_image(image: StructureImage, area_ids: set[str], name: str) -> StructureImage:
    """The part of ``image`` in the given kommuner (links within it only)."""
    places = image.places[image.places["area_id"].isin(area_ids)]
    links = image.links[image.links["origin"].isin(places.index)
                        & image.links["destination"].isin(places.index)]
    areas = image.areas[image.areas.index.isin(area_ids)] if image.areas is not None else None
    return dataclasses.replace(image, name=name, title=name, places=places, links=links,
                               areas=areas)


def sormland_image() -> StructureImage:
    """Södermanlands län from SCB's tätorter and kommuner, no jobs: modelled links, three
    role levels."""
    from strukturbild.config import project_from_dict
    from strukturbild.pipeline import build

    from ..conftest import SWEDEN, requires_shared

    requires_shared("geodata", "sweden", "tatorter_2020.gpkg")
    data = {
        "project": {"name": "sormland", "title": "Sörmland"},
        "places": {"path": str(SWEDEN / "tatorter_2020.gpkg"), "where": "lan_code = '04'",
                   "columns": {"place_id": "tatort_code", "name": "tatort_name",
                               "area_id": "kommun_code", "area_name": "kommun_name"}},
        "areas": {"path": str(SWEDEN / "kommuner.gpkg"), "where": "lan_code = '04'",
                  "columns": {"area_id": "kommun_code", "name": "kommun_name"}},
    }
    return build(project_from_dict(data, base_dir=SWEDEN))
