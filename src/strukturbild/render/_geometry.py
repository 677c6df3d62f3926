"""Geometry the maps need: simplified coverages, län borders and where names go."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .style import lan_of

__all__ = ["label_point", "lan_borders", "simplified"]


def simplified(geoms: Any, tolerance: float) -> Any:
    """Polygons simplified together: shared borders stay shared (a coverage).

    ``tolerance`` 0 keeps them as they are; polygons that are no valid coverage are
    simplified one by one.

    Examples
    --------
    >>> import shapely
    >>> boxes = [shapely.box(0, 0, 10, 10), shapely.box(10, 0, 20, 10)]
    >>> [round(g.area) for g in simplified(boxes, 1.0)]
    [100, 100]
    """
    import shapely

    geoms = np.asarray(geoms, dtype=object)
    if tolerance <= 0:
        return geoms
    try:
        return shapely.coverage_simplify(geoms, tolerance)
    except (shapely.errors.GEOSException, TypeError, ValueError):
        # not polygons, or no valid coverage: simplify each on its own
        return shapely.simplify(geoms, tolerance, preserve_topology=True)


def lan_borders(area_ids: Sequence[Any], geoms: Any) -> Any:
    """The borders between län (kommun codes' first two digits), or None for one län.

    ``geoms`` are the areas' polygons (simplified together, so shared borders are
    identical); the coast is left out.

    Examples
    --------
    >>> import shapely
    >>> boxes = [shapely.box(0, 0, 1000, 1000), shapely.box(1000, 0, 2000, 1000),
    ...          shapely.box(2000, 0, 3000, 1000)]
    >>> round(lan_borders(["1280", "1281", "1380"], boxes).length)
    999
    >>> lan_borders(["1280", "1281"], boxes[:2]) is None
    True
    """
    import shapely

    lan = [lan_of(a) for a in area_ids]
    if any(code is None for code in lan) or len(set(lan)) < 2:
        return None
    by = pd.Series(list(geoms), index=lan)
    unions = [shapely.union_all(list(g)) for _, g in by.groupby(level=0, sort=True)]
    every = shapely.union_all(shapely.boundary(np.array(unions, dtype=object)))
    coast = shapely.buffer(shapely.boundary(shapely.union_all(unions)), 0.5)
    inner = shapely.difference(every, coast)
    return None if inner.is_empty else shapely.line_merge(inner)


def label_point(geom: Any) -> Any:
    """Where the name of an area goes: inside its largest part, away from its edges.

    Examples
    --------
    >>> import shapely
    >>> label_point(shapely.box(0, 0, 10, 2)).y
    1.0
    """
    import shapely
    from shapely.ops import polylabel

    if geom is None:
        return None
    parts = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon" and not p.is_empty]
    if not parts:
        return None
    big = max(parts, key=lambda p: p.area)
    try:
        return polylabel(big, tolerance=max(big.length / 500.0, 1e-9))
    except Exception:  # pragma: no cover - degenerate polygons
        return big.representative_point()
