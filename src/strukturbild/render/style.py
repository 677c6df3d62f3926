"""One style table for the web map, the print map and the QGIS styles.

Role colours, symbol sizes, link widths and every legend text in Swedish and
English live here, so that the web map and QGIS look alike.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "LINK_CLASS_STYLE",
    "ROLE_COLOURS",
    "TEXT",
    "RoleStyle",
    "format_number",
    "legend_flows",
    "legend_populations",
    "link_width",
    "nice_floor",
    "role_styles",
    "symbol_radius",
    "text",
]

#: Colours of the known role keys (ColorBrewer-like, readable on a light base and in
#: print; the hierarchy runs from dark purple to grey).
ROLE_COLOURS: dict[str, str] = {
    "storstad": "#54278f",
    "tillvaxtmotor": "#a50f15",
    "regional_karna": "#e6550d",
    "lokal_karna": "#fd8d3c",
    "serviceort": "#3182bd",
    "ovrig_tatort": "#9e9e9e",
}
#: Colours for role keys of custom schemes, by position in the scheme.
_FALLBACK = ("#54278f", "#a50f15", "#e6550d", "#fd8d3c", "#31a354", "#3182bd", "#756bb1",
             "#636363", "#9e9e9e")

#: Link classes: colour, dash pattern (SVG dasharray or ""), opacity.
LINK_CLASS_STYLE: dict[str, tuple[str, str, float]] = {
    "strong": ("#08306b", "", 0.85),
    "medium": ("#2171b5", "", 0.7),
    "weak": ("#6baed6", "4 4", 0.55),
}

#: Legend and popup texts, Swedish and English.
TEXT: dict[str, tuple[str, str]] = {
    "places": ("Tätorter", "Urban areas"),
    "links": ("Funktionella samband", "Functional links"),
    "areas": ("Kommuner", "Municipalities"),
    "regions": ("Funktionella regioner", "Functional regions"),
    "role": ("Roll", "Role"),
    "roles": ("Roller", "Roles"),
    "reason": ("Skäl", "Reason"),
    "population": ("Befolkning", "Population"),
    "jobs": ("Arbetsplatser", "Jobs"),
    "employed": ("Förvärvsarbetande", "Employed residents"),
    "job_ratio": ("Arbetsplatskvot", "Job ratio"),
    "net_commuting": ("Nettoinpendling", "Net commuting"),
    "inflow_sources": ("Inpendling från antal orter", "In-flow from places"),
    "inflow_share": ("Andel av pendlingen", "Share of commuting"),
    "designations": ("Utpekad som", "Designated as"),
    "kommun": ("Kommun", "Municipality"),
    "region": ("Region", "Region"),
    "flow": ("Pendling", "Commuting"),
    "flow_od": ("Pendling", "Commuting"),
    "strength": ("Styrka", "Strength"),
    "link_class": ("Klass", "Class"),
    "strong": ("Starkt samband", "Strong link"),
    "medium": ("Medelstarkt samband", "Medium link"),
    "weak": ("Svagt samband", "Weak link"),
    "size": ("Befolkning (cirkelns yta)", "Population (circle area)"),
    "width": ("Pendlare (linjens bredd)", "Commuters (line width)"),
    "modelled": ("modellerade flöden", "modelled flows"),
    "observed": ("observerade flöden", "observed flows"),
    "modelled_note": (
        "Sambanden bygger på modellerade flöden (gravitationsmodell), inte på observerad "
        "pendling.",
        "The links are modelled flows (gravity model), not observed commuting.",
    ),
    "source": ("Källa", "Source"),
    "per_day": ("pendlare", "commuters"),
    "unknown": ("okänd", "unknown"),
    "taper": ("Linjen smalnar av mot orten som tar emot flest pendlare",
              "A link narrows towards the place that receives most commuters"),
    "links_shown": (
        "Visar {shown} av {total} samband: alla starka och medelstarka, svaga från "
        "{min} pendlare.",
        "Showing {shown} of {total} links: all strong and medium ones, weak ones from "
        "{min} commuters.",
    ),
    "total": ("Totalt", "Total"),
    "made": ("Skapad", "Made"),
    "zoom_in": ("Zooma in", "Zoom in"),
    "zoom_out": ("Zooma ut", "Zoom out"),
    # GeoPackage metadata
    "gpkg_places": ("Tätorter med befolkning, mått och roll i strukturbilden.",
               "Urban areas with population, measures and role in the structure image."),
    "gpkg_links": ("Funktionella samband mellan tätorter: pendling i båda riktningar, andelar, "
              "styrka och klass.",
              "Functional links between urban areas: commuting both ways, shares, "
              "strength and class."),
    "gpkg_areas": ("Kommuner.", "Municipalities."),
    "gpkg_regions": ("Funktionella regioner avgränsade från pendlingen.",
                "Functional regions delineated from commuting."),
    "gpkg_flows_modelled": ("Flöden: modellerade (gravitationsmodell), inte observerad pendling.",
                       "Flows: modelled (gravity model), not observed commuting."),
    "gpkg_flows_observed": ("Flöden: observerad pendling.", "Flows: observed commuting."),
    "gpkg_crs": ("Koordinatsystem: EPSG:3006 (SWEREF 99 TM).",
            "Coordinate reference system: EPSG:3006 (SWEREF 99 TM)."),
    "gpkg_sources": ("Källor", "Sources"),
    "gpkg_licence_unknown": ("licens ej angiven", "licence not stated"),
    "gpkg_made_with": ("Skapad med strukturbild", "Made with strukturbild"),
}


def text(key: str, language: str) -> str:
    """A legend or popup text in ``language``.

    Examples
    --------
    >>> text("places", "sv"), text("places", "en")
    ('Tätorter', 'Urban areas')
    """
    sv, en = TEXT[key]
    return sv if language == "sv" else en


@dataclass(frozen=True)
class RoleStyle:
    """How one role is drawn.

    Examples
    --------
    >>> RoleStyle("serviceort", "Serviceort", "#3182bd", 3, False).colour
    '#3182bd'
    """

    key: str
    label: str
    colour: str
    rank: int
    labelled: bool


def role_styles(
    roles: Sequence[tuple[str, str]], *, label_roles: int = 2,
    present: Collection[str] | None = None,
) -> list[RoleStyle]:
    """Styles for the roles of a scheme, highest first.

    Parameters
    ----------
    roles
        ``(key, label)`` pairs, highest first.
    label_roles
        Places of the first ``label_roles`` roles get a name label; of the roles
        in ``present`` (the roles that have places) when that is given, so that the
        web map, the print map and QGIS label the same places.
    present
        Keys of the roles that have places.

    Examples
    --------
    >>> [s.colour for s in role_styles([("storstad", "Storstad"), ("x", "X")])]
    ['#54278f', '#a50f15']
    >>> roles = [("storstad", "S"), ("regional_karna", "R"), ("serviceort", "O")]
    >>> [s.labelled for s in role_styles(roles, label_roles=2,
    ...                                  present={"regional_karna", "serviceort"})]
    [False, True, True]
    """
    keys = [k for k, _ in roles if present is None or k in present]
    labelled = set(keys[: max(label_roles, 0)])
    out = []
    for rank, (key, label) in enumerate(roles):
        colour = ROLE_COLOURS.get(key, _FALLBACK[min(rank, len(_FALLBACK) - 1)])
        out.append(RoleStyle(key, label, colour, rank, key in labelled))
    return out


#: Circle radius in pixels of a place with 1 000 inhabitants; area ∝ population.
RADIUS_PER_SQRT_THOUSAND = 0.8
MIN_RADIUS = 2.0


def symbol_radius(population: float) -> float:
    """Circle radius in pixels (web) or points (print): area proportional to population.

    ``r = 0.8 * sqrt(population / 1000)``, at least 2.

    Examples
    --------
    >>> round(symbol_radius(100_000), 2)
    8.0
    """
    return max(MIN_RADIUS, RADIUS_PER_SQRT_THOUSAND * math.sqrt(max(population, 0) / 1000.0))


def link_width(flow: float, max_flow: float, *, max_width: float = 8.0) -> float:
    """Line width in pixels: proportional to the square root of the flow, 0.5 to ``max_width``.

    Examples
    --------
    >>> link_width(100, 100), link_width(25, 100)
    (8.0, 4.0)
    """
    if max_flow <= 0:
        return 0.5
    return max(0.5, max_width * math.sqrt(max(flow, 0.0) / max_flow))


def nice_floor(x: float) -> float:
    """The largest number of the 1-2-5 series not above ``x`` (``x`` > 0).

    Examples
    --------
    >>> nice_floor(325_069), nice_floor(0.07), nice_floor(1000)
    (200000.0, 0.05, 1000.0)
    """
    e = 10.0 ** math.floor(math.log10(x))
    return max(m * e for m in (1, 2, 5) if m * e <= x * (1 + 1e-9))


def legend_populations(max_population: float) -> list[float]:
    """Round populations for the circle-size legend: the largest 1-2-5 number not
    above the largest place, then a tenth and a hundredth of it while the circles
    are still distinct.

    Examples
    --------
    >>> legend_populations(325_069)
    [200000.0, 20000.0]
    >>> legend_populations(1_617_407)
    [1000000.0, 100000.0, 10000.0]
    """
    top = nice_floor(max(max_population, 1000.0))
    return [v for v in (top, top / 10, top / 100) if symbol_radius(v) > 2.5] or [top]


def legend_flows(max_flow: float) -> list[float]:
    """Round flows for the line-width legend, on the same rule as the populations.

    Examples
    --------
    >>> legend_flows(15_246)
    [10000.0, 1000.0, 100.0]
    """
    if max_flow <= 0:
        return []
    top = nice_floor(max_flow)
    return [f for f in (top, top / 10, top / 100)
            if f >= 1 and (f == top or link_width(f, max_flow) > 0.5)]


def format_number(value: Any, language: str, decimals: int | None = 0) -> str:
    """A number as the maps show it: groups of three, decimal comma in Swedish.

    ``decimals=None`` shows whole numbers without decimals and others with one.
    Missing or non-finite values read "okänd"/"unknown".

    Examples
    --------
    >>> format_number(1234567.891, "sv", 2), format_number(1234.5, "en", 1)
    ('1\\xa0234\\xa0567,89', '1\\xa0234.5')
    >>> format_number(None, "en"), format_number(-0.0, "sv"), format_number(2.5, "sv", None)
    ('unknown', '0', '2,5')
    """
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return text("unknown", language)
    if decimals is None:
        decimals = 0 if float(value).is_integer() else 1
    s = f"{abs(float(value)):,.{decimals}f}".replace(",", "\u00a0")
    s = s.replace(".", ",") if language == "sv" else s
    return ("-" if float(value) < 0 and s.strip("0,.\u00a0") else "") + s
