"""The finished structure image: the only thing renderers and writers receive."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = ["RoleInfo", "StructureImage"]


@dataclass(frozen=True)
class RoleInfo:
    """A role as renderers need it: key, labels, position in the scheme (0 = highest).

    Examples
    --------
    >>> RoleInfo("serviceort", "Serviceort", "Service town", 3).label("en")
    'Service town'
    """

    key: str
    label_sv: str
    label_en: str
    rank: int

    def label(self, language: str) -> str:
        """The label in ``language`` (``"sv"`` or ``"en"``)."""
        return self.label_sv if language == "sv" else self.label_en


@dataclass(frozen=True)
class StructureImage:
    """Places with measures and roles, links, regions and areas, with provenance.

    Attributes
    ----------
    name, title
        Project name (used in file names) and the map title.
    places
        GeoDataFrame indexed by ``place_id``: ``name``, ``area_id``, ``population``,
        the measures, ``role`` (ordered categorical), ``role_label``, ``role_reason``,
        ``role_derived``, ``designations``, and ``region`` when regions were made.
    links
        GeoDataFrame of links (see :func:`strukturbild.links.links_from_flows`) with
        LineString geometry.
    roles
        The scheme's roles, highest first.
    areas, regions
        Optional GeoDataFrames of area and region polygons.
    role_comparison
        Designated against derived role per place.
    language
        ``"sv"`` or ``"en"`` for labels.
    modelled
        True when the links come from a model rather than observed flows.
    provenance
        Inputs, parameters and package version, as plain JSON-able values.

    Examples
    --------
    >>> import geopandas as gpd
    >>> img = StructureImage(name="x", title="X", places=gpd.GeoDataFrame(),
    ...                      links=gpd.GeoDataFrame(), roles=())
    >>> img.modelled
    False
    """

    name: str
    title: str
    places: Any
    links: Any
    roles: tuple[RoleInfo, ...]
    areas: Any = None
    regions: Any = None
    role_comparison: pd.DataFrame | None = None
    language: str = "sv"
    modelled: bool = False
    provenance: Mapping[str, Any] = field(default_factory=dict)

    def role(self, key: str) -> RoleInfo:
        """The role with ``key``.

        Examples
        --------
        >>> import geopandas as gpd
        >>> img = StructureImage("x", "X", gpd.GeoDataFrame(), gpd.GeoDataFrame(),
        ...                      (RoleInfo("a", "A", "A", 0),))
        >>> img.role("a").rank
        0
        """
        for r in self.roles:
            if r.key == key:
                return r
        raise KeyError(key)

    def summary(self) -> dict[str, Any]:
        """A JSON-able summary: counts per role, links per class, regions, provenance.

        Examples
        --------
        >>> import geopandas as gpd
        >>> StructureImage("x", "X", gpd.GeoDataFrame({"role": []}),
        ...                gpd.GeoDataFrame({"link_class": []}), ()).summary()["places"]
        0
        """
        places = self.places
        links = self.links
        roles_count = {r.key: int((places["role"] == r.key).sum()) for r in self.roles} \
            if "role" in places else {}
        classes = {str(k): int(v) for k, v in links["link_class"].value_counts().sort_index()
                   .items()} if "link_class" in links else {}
        out: dict[str, Any] = {
            "name": self.name,
            "title": self.title,
            "places": len(places),
            "population": int(places["population"].sum()) if "population" in places else 0,
            "roles": roles_count,
            "links": len(links),
            "link_classes": classes,
            "flows": "modelled" if self.modelled else "observed",
            "modelled": bool(self.modelled),
            "areas": len(self.areas) if self.areas is not None else 0,
            "regions": len(self.regions) if self.regions is not None else 0,
            "notes": list(self.provenance.get("notes", [])),
        }
        if self.role_comparison is not None and len(self.role_comparison):
            rc = self.role_comparison
            out["designated_places"] = int(rc["designated"].sum())
            out["designated_differs_from_derived"] = sorted(
                str(i) for i in rc.index[rc["designated"] & ~rc["agree"]]
            )
            # the comparison table for the places a designation or a difference concerns
            shown = rc[(rc["designations"] != "") | ~rc["agree"]]
            out["role_comparison"] = [
                {"place_id": str(i), "name": str(r.get("name", "")),
                 "designations": str(r["designations"]), "role": str(r["role"]),
                 "role_derived": str(r["role_derived"]), "agree": bool(r["agree"])}
                for i, r in shown.iterrows()
            ]
        top = places.sort_values("population", ascending=False).head(5) \
            if "population" in places else places.head(0)
        out["largest_places"] = [
            {"place_id": str(i), "name": str(r["name"]), "role": str(r["role"])}
            for i, r in top.iterrows()
        ]
        out["provenance"] = dict(self.provenance)
        return out
