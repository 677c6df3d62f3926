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
