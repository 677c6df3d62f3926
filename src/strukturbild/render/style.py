"""One style table for the web map, the print map and the QGIS styles.

Role colours, symbol sizes, link widths and every legend text in Swedish and
English live here, so that the web map and QGIS look alike.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "AREA_EDGE",
    "AREA_FILL",
    "LAND",
    "LAYER_STYLES",
    "LINK_CLASS_STYLE",
    "PAPER_MM",
    "REGIONAL_LINK_COLOUR",
    "REGION_STYLE",
    "ROLE_COLOURS",
    "SEA",
    "STRAK_STYLE",
    "STRAK_TEXT",
    "TEXT",
    "RoleStyle",
    "chain",
    "credit",
    "credits_text",
    "format_number",
    "labelled_roles",
    "lan_of",
    "layer_style",
    "legend_flows",
    "legend_populations",
    "link_style",
    "link_width",
    "nice_floor",
    "role_styles",
    "source_line",
    "strak_width",
    "symbol_radius",
    "text",
]

#: Colours of the known role keys. Regional roles are warm (dark purple, dark red,
#: orange), local ones cool (blue, light blue), the rest grey: the hierarchy reads by
#: hue *and* by lightness, so it survives deuteranopia and protanopia (checked by
#: simulation, Machado et al. 2009) and greyscale print.
ROLE_COLOURS: dict[str, str] = {
    "storstad": "#3b0f70",
    "tillvaxtmotor": "#b2182b",
    "regional_karna": "#f08a24",
    "lokal_karna": "#2b73b3",
    "serviceort": "#8fc1e3",
    "ovrig_tatort": "#a6a6a6",
}
#: Colours for role keys of custom schemes, by position in the scheme.
_FALLBACK = ("#3b0f70", "#b2182b", "#f08a24", "#2b73b3", "#8fc1e3", "#1b9e77", "#7570b3",
             "#636363", "#a6a6a6")

#: Link classes: colour (of local links), dash pattern (SVG dasharray or ""), opacity.
LINK_CLASS_STYLE: dict[str, tuple[str, str, float]] = {
    "strong": ("#4c6478", "", 0.85),
    "medium": ("#4c6478", "", 0.5),
    "weak": ("#4c6478", "3 3", 0.45),
}
#: Links between places of the region's higher roles ("regionala samband"): this colour,
#: on top.
REGIONAL_LINK_COLOUR = "#7a2414"


def link_style(link_class: str, regional: bool) -> tuple[str, str, float]:
    """Colour, dash and opacity of a link of ``link_class`` (regional or local).

    Examples
    --------
    >>> link_style("strong", True)
    ('#7a2414', '', 0.85)
    >>> link_style("weak", False)
    ('#4c6478', '3 3', 0.45)
    """
    colour, dash, opacity = LINK_CLASS_STYLE.get(link_class, LINK_CLASS_STYLE["weak"])
    return (REGIONAL_LINK_COLOUR if regional else colour), dash, opacity


#: Stråk (corridors of routed commuting, :mod:`strukturbild.analysis.network`): one
#: opaque colour, so that the sections of a stråk, drawn with round ends and joins,
#: merge into one band where they meet; a warm grey that neither the roles' hues nor
#: the regional links' dark red take.
STRAK_STYLE = ("#c0907b", 1.0)  # colour, opacity
#: A stråk's name on the maps: a dark shade of the band's colour (the web map's
#: ``.sb-strak`` label in map.css has the same).
STRAK_TEXT = "#6e4332"
#: Width (px) of each width class, by the number of classes drawn (thinnest first):
#: each class about twice the one below, so that a class reads at a glance at the
#: region's zoom (print draws them at 0.75 pt a px, as every other width).
STRAK_WIDTHS: dict[int, tuple[float, ...]] = {
    1: (7.0,), 2: (3.5, 10.0), 3: (3.0, 7.0, 13.0), 4: (2.5, 5.0, 9.0, 14.0)}


def strak_width(width_class: int, classes: int) -> float:
    """Width in pixels of a stråk section of ``width_class`` (1: the thinnest) when
    ``classes`` classes are drawn.

    Examples
    --------
    >>> strak_width(1, 3), strak_width(2, 3), strak_width(3, 3), strak_width(1, 1)
    (3.0, 7.0, 13.0, 7.0)
    """
    widths = STRAK_WIDTHS[min(max(classes, 1), max(STRAK_WIDTHS))]
    return widths[min(max(width_class, 1), len(widths)) - 1]


#: The base geography: sea (the background), land outside the project's areas, the
#: project's areas (kommuner) and their borders, län borders, national borders.
SEA = "#d3e4ee"
LAND = "#e8e5de"
AREA_FILL = "#fbfaf6"
AREA_EDGE = "#c3bcb0"
LAN_EDGE = "#8b8376"
BORDER = ("#9a9286", "5 3")  # national borders: colour, dash
COUNTRY_TEXT = "#8c867c"
#: The context beyond the project: places (dot fill, label colour) and ferry lines
#: (colour, width px, dash, opacity: the infrastructure kind's line, dashed).
CONTEXT_DOT = "#9d978c"
CONTEXT_TEXT = "#77726a"
FERRY_STYLE = ("#3d3d3d", 1.3, "6 4", 0.7)


def context_radius(population: float) -> float:
    """A context place's dot, in pixels (points on paper): small, 2.5 to 5.

    Examples
    --------
    >>> context_radius(35_000), context_radius(1_150_000)
    (2.5, 5.0)
    """
    return min(max(0.4 * symbol_radius(population), 2.5), 5.0)


#: Areas drawn over background tiles: outline only.
AREA_EDGE_ON_TILES = "#6b6b6b"
#: Functional regions: outline colour, width (px), dash; their names in this colour.
REGION_STYLE = ("#54278f", 2.0, "6 4")
#: Joint designations (a group of places designated as one): the band joining them.
GROUP_OPACITY = 0.3
GROUP_PAD = 4.0  # px beyond the largest member's circle on each side
#: Paper sizes of the print map (width, height in mm).
PAPER_MM: dict[str, tuple[float, float]] = {
    "A4-portrait": (210.0, 297.0),
    "A4-landscape": (297.0, 210.0),
    "A3-portrait": (297.0, 420.0),
    "A3-landscape": (420.0, 297.0),
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
    # popup row of a place whose employed residents are estimated (employed_estimated)
    "employed_estimated": ("Uppskattat", "Estimated"),
    "employed_estimated_value": ("förvärvsarbetande, ur folkmängden",
                                 "employed residents, from the population"),
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
    # the legend's link rows: one per style drawn (scope and class)
    "regional_strong": ("Regionalt samband, starkt", "Regional link, strong"),
    "regional_medium": ("Regionalt samband, medelstarkt", "Regional link, medium"),
    "regional_weak": ("Regional axel (en orts största flöde)",
                      "Regional axis (a place's largest flow)"),
    "local_strong": ("Lokalt samband, starkt", "Local link, strong"),
    "local_medium": ("Lokalt samband, medelstarkt", "Local link, medium"),
    "local_weak": ("Svagt samband", "Weak link"),
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
    "taper": ("Smalnar av mot orten dit flest pendlar",
              "Narrows towards where most commute to"),
    "links_shown": (
        "Visar {shown} av {total} samband: alla starka och medelstarka, svaga från "
        "{min} pendlare.",
        "Showing {shown} of {total} links: all strong and medium ones, weak ones from "
        "{min} commuters.",
    ),
    "total": ("Totalt", "Total"),
    "regional_note": (
        "Regionala samband går mellan orter med rollerna {roles}.",
        "Regional links join places with the roles {roles}.",
    ),
    "and": ("och", "and"),
    "scope": ("Typ", "Type"),
    "regional": ("regionalt", "regional"),
    "local": ("lokalt", "local"),
    "weak_links": ("Svaga samband", "Weak links"),
    "weak_hidden": ("(dolda: klicka här)", "(hidden: click here)"),
    "joint": ("Gemensam {role}", "Joint {role}"),
    "joint_member": ("Gemensamt utpekad", "Designated jointly"),
    "kommun_border": ("Kommungräns", "Municipal border"),
    "lan_border": ("Länsgräns", "County border"),
    "national_border": ("Riksgräns", "National border"),
    "land": ("Land", "Land"),
    "background": ("Bakgrund", "Background"),
    "search": ("Sök ort", "Find a place"),
    "no_match": ("Ingen ort med det namnet", "No place of that name"),
    "base_credit": ("bakgrund", "background"),
    "context": ("Omvärld", "Surroundings"),
    "context_place": ("Ort utanför regionen", "Place outside the region"),
    "ferry": ("Färjeled", "Ferry line"),
    "ferries": ("Färjeleder", "Ferry lines"),
    "context_credit": ("orter utanför regionen", "places outside the region"),
    "gpkg_context": ("Orter utanför regionen (GeoNames, CC BY 4.0, eller projektets "
                     "ortfil), utan roller.",
                     "Places outside the region (GeoNames, CC BY 4.0, or the project's "
                     "places file), without roles."),
    "gpkg_ferries": ("Färjeleder, schematiskt ritade mellan hamnarna.",
                     "Ferry lines, drawn schematically between the ports."),
    "subtitle": ("Tätorternas roller och funktionella samband",
                 "Roles of the urban areas and their functional links"),
    "own_layers": ("Egna lager", "Own layers"),
    "made": ("Skapad", "Made"),
    # stråk: the links' flows routed on a network
    "strak": ("Pendlingsstråk", "Commuting corridors"),
    "strak_head": ("Pendlingsstråk: pendlare per dag", "Commuting corridors: commuters a day"),
    "strak_class": ("{low}–{high}", "{low}–{high}"),
    "strak_top": ("{low} och fler", "{low} or more"),
    "strak_note_generated": (
        "Pendlingen mellan orterna lagd på kortaste väg i ett nät av orterna över land "
        "och fasta förbindelser; bredden efter pendlarna i båda riktningarna.",
        "The commuting between the places routed on the shortest path in a network of "
        "the places over land and fixed links; the width by the commuters both ways."),
    "strak_note_infrastructure": (
        "Pendlingen mellan orterna lagd på kortaste väg i järnvägs- och vägnätet; "
        "bredden efter pendlarna i båda riktningarna.",
        "The commuting between the places routed on the shortest path in the rail and "
        "road network; the width by the commuters both ways."),
    "strak_modelled": ("Bygger på modellerade flöden.", "Made of modelled flows."),
    "strak_section": ("Pendlare på sträckan", "Commuters on this section"),
    "strak_flow": ("Största flöde", "Largest flow"),
    "strak_length": ("Längd", "Length"),
    "strak_places": ("Orter", "Places"),
    "links_off": ("Dolda; visas i lagerlistan.", "Hidden; switch them on in the layer list."),
    "gpkg_strak": ("Stråk: pendlingen lagd på kortaste väg i ett nät, en rad per sträcka "
                   "med flödet (pendlare per dag, båda riktningarna).",
                   "Corridors: the commuting routed on the shortest path in a network, one "
                   "row per section with its flow (commuters a day, both directions)."),
    "zoom_in": ("Zooma in", "Zoom in"),
    "legend": ("Teckenförklaring", "Legend"),
    "legend_show": ("Visa teckenförklaringen", "Show the legend"),
    "legend_hide": ("Dölj teckenförklaringen", "Hide the legend"),
    "zoom_out": ("Zooma ut", "Zoom out"),
    # GeoPackage metadata
    "gpkg_places": ("Tätorter med befolkning, mått och roll i strukturbilden.",
               "Urban areas with population, measures and role in the structure image."),
    "gpkg_links": ("Funktionella samband mellan tätorter: pendling i båda riktningar, andelar, "
              "styrka och klass.",
              "Functional links between urban areas: commuting both ways, shares, "
              "strength and class."),
    "gpkg_areas": ("Kommuner.", "Municipalities."),
    "gpkg_base": ("Land under kartan: grannländerna och Sverige utanför kommunerna "
                  "(Natural Earth, public domain).",
                  "Land under the map: the neighbouring countries and Sweden outside the "
                  "areas (Natural Earth, public domain)."),
    "gpkg_joint": ("Gemensamma utpekanden: orter som pekats ut tillsammans, som en.",
                   "Joint designations: places designated together, as one."),
    "gpkg_layer": ("Eget lager ({kind}) ur {file}.", "Own layer ({kind}) from {file}."),
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


def role_styles(roles: Sequence[tuple[str, str]], *, labelled: Collection[str] = ()
                ) -> list[RoleStyle]:
    """Styles for the roles of a scheme, highest first.

    Parameters
    ----------
    roles
        ``(key, label)`` pairs, highest first.
    labelled
        Keys of the roles whose places get a name label (:func:`labelled_roles`), so
        that the web map, the print map and QGIS label the same places.

    Examples
    --------
    >>> [s.colour for s in role_styles([("storstad", "Storstad"), ("x", "X")])]
    ['#3b0f70', '#b2182b']
    >>> roles = [("storstad", "S"), ("regional_karna", "R"), ("serviceort", "O")]
    >>> [s.labelled for s in role_styles(roles, labelled={"regional_karna", "serviceort"})]
    [False, True, True]
    """
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


def labelled_roles(roles: Sequence[str], present: Collection[str], label_roles: int
                   ) -> list[str]:
    """The roles whose places get name labels: the first ``label_roles`` that have places.

    Examples
    --------
    >>> labelled_roles(["storstad", "regional_karna", "serviceort"],
    ...                {"regional_karna", "serviceort"}, 1)
    ['regional_karna']
    """
    return [k for k in roles if k in present][: max(label_roles, 0)]


def lan_of(area_id: Any) -> str | None:
    """The län code of a kommun code (its first two digits), else None.

    Examples
    --------
    >>> lan_of("1280"), lan_of("A")
    ('12', None)
    """
    text_ = str(area_id) if area_id is not None else ""
    return text_[:2] if len(text_) == 4 and text_.isdigit() else None


#: How a licence text named its source before inputs had a ``source``: "CC0 1.0 (SCB,
#: statistiska tätorter 2020)": a licence, then the publisher and the data in brackets.
_LICENCE_NAMING_SOURCE = re.compile(
    r"(?P<licence>(?:CC[ -]?(?:0|BY)|ODbL|ODC|PDDL|OGL|public domain|Etalab|Licence "
    r"Ouverte|DL-DE|NLOD)[^()]*?)\s*\((?P<source>[^()]+)\)\s*", re.IGNORECASE)


#: A copyright notice as licence: "© OpenStreetMap contributors, ODbL 1.0".
_COPYRIGHT = re.compile(r"©\s*(?P<holder>[^,]+)(?:,\s*(?P<licence>.+))?")


def credit(info: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """Who an input is from, what it is and its licence: ``(publisher, what, licence)``.

    The input's ``source`` ("SCB, statistiska tätorter 2020": the publisher, then what
    it is) and ``licence``; without a ``source``, a licence that names one in brackets
    ("CC0 1.0 (SCB, Digitala gränser)") or a copyright notice ("© OpenStreetMap
    contributors, ODbL 1.0") is read so, and any other licence text stands for its
    publisher as it is. An own layer (``layer``) says what it gave by its name when the
    source does not. None when the input says neither: a file name is no source.

    Examples
    --------
    >>> credit({"source": "SCB, statistiska tätorter 2020", "licence": "CC0"})
    ('SCB', 'statistiska tätorter 2020', 'CC0')
    >>> credit({"licence": "CC0 1.0 (SCB, Digitala gränser)", "file": "kommuner.gpkg"})
    ('SCB', 'Digitala gränser', 'CC0 1.0')
    >>> credit({"licence": "© OpenStreetMap contributors, ODbL 1.0", "layer": "Järnvägar"})
    ('© OpenStreetMap contributors', 'Järnvägar', 'ODbL 1.0')
    >>> credit({"licence": "Region Skåne (exempel)"})
    ('Region Skåne (exempel)', '', '')
    >>> credit({"file": "jarnvag_strak.geojson"}) is None
    True
    """
    source = str(info.get("source") or "").strip()
    licence = str(info.get("licence") or "").strip()
    if not source and licence:
        found = _LICENCE_NAMING_SOURCE.fullmatch(licence)
        copyright_ = _COPYRIGHT.fullmatch(licence)
        if found is not None:
            source, licence = found["source"].strip(), found["licence"].strip()
        elif copyright_ is not None:  # "© OpenStreetMap contributors, ODbL 1.0"
            publisher = "© " + copyright_["holder"].strip()
            return publisher, str(info.get("layer") or ""), (copyright_["licence"] or "").strip()
        else:
            return licence, "", ""
    if not source:
        return None
    publisher, _, what = source.partition(",")
    return publisher.strip(), what.strip() or str(info.get("layer") or ""), licence


def credits_text(credits: Sequence[tuple[str, str, str]]) -> str:
    """Credits by publisher, in order of first mention: "SCB (tätorter, kommuner; CC0)".

    Examples
    --------
    >>> credits_text([("SCB", "tätorter", "CC0"), ("Region Skåne", "", ""),
    ...               ("SCB", "kommuner", "CC0")])
    'SCB (tätorter, kommuner; CC0), Region Skåne'
    """
    by: dict[str, tuple[dict[str, None], dict[str, None]]] = {}
    for publisher, what, licence in credits:
        whats, licences = by.setdefault(publisher, ({}, {}))
        if what:
            whats[what] = None
        if licence:
            licences[licence] = None
    out = []
    for publisher, (whats, licences) in by.items():
        inner = "; ".join(p for p in (", ".join(whats), ", ".join(licences)) if p)
        out.append(f"{publisher} ({inner})" if inner else publisher)
    return ", ".join(out)


def source_line(inputs: Mapping[str, Any], language: str, *, source_note: str = "",
                modelled: bool = False, base: bool = False, timestamp: str | None = None,
                designations: Sequence[str] = (), context: bool = False) -> str:
    """The map's source line: the publishers of its data, each with what it gave and
    its licence.

    The project's ``source_note`` when it gives one; otherwise "Källa: " and each
    publisher (:func:`credit`) of the inputs and of the ``designations`` ("Region
    Skåne, Regionplan för Skåne 2022–2040"), in that order, what each gave and its
    licence in brackets. The credits the data asks for are given after a
    ``source_note`` too, unless it names them: Natural Earth when the map draws its
    base, GeoNames (CC BY 4.0) for the ``context`` places, OpenStreetMap (ODbL) for own
    layers from it. "modellerade flöden" is added when the links are modelled, and the
    time stamp when given. Nothing is assumed: a map of INSEE data says INSEE.

    Examples
    --------
    >>> source_line({"places": {"source": "INSEE, communes", "licence": "Licence Ouverte"}},
    ...             "en", modelled=True)
    'Source: INSEE (communes; Licence Ouverte); modelled flows'
    >>> source_line({"places": {"source": "SCB, tätorter 2020", "licence": "CC0"},
    ...              "areas": {"licence": "CC0 1.0 (SCB, kommungränser)"}}, "sv",
    ...             designations=["Region Skåne, Regionplan 2022–2040"], base=True)
    'Källa: SCB (tätorter 2020, kommungränser; CC0, CC0 1.0), Region Skåne (Regionplan \
2022–2040), Natural Earth (bakgrund; public domain)'
    >>> source_line({}, "sv", source_note="Källa: SCB", base=True, timestamp="2026-05-01")
    'Källa: SCB; Natural Earth (bakgrund; public domain) · Skapad 2026-05-01'
    """
    note = source_note.strip()
    credits: list[tuple[str, str, str]] = []
    for info in inputs.values():
        found = credit(info) if isinstance(info, Mapping) else None
        # a project's note stands for its sources, but not for OpenStreetMap's credit
        if found is not None and (not note or ("openstreetmap" in found[0].lower()
                                  and "openstreetmap" not in note.lower())):
            credits.append(found)
    if not note:
        for d in designations:
            publisher, _, what = str(d).partition(",")
            credits.append((publisher.strip(), what.strip(), ""))
    if context and "geonames" not in note.lower():
        credits.append(("GeoNames", text("context_credit", language), "CC BY 4.0"))
    if base and "natural earth" not in note.lower():
        credits.append(("Natural Earth", text("base_credit", language), "public domain"))
    named = credits_text(credits)
    if note:
        note = "; ".join(p for p in (note, named) if p)
    elif named:
        note = f"{text('source', language)}: {named}"
    if modelled and text("modelled", language) not in note:
        note = "; ".join(p for p in (note, text("modelled", language)) if p)
    if timestamp:
        note += f" · {text('made', language)} {timestamp}"
    return note


def chain(xy: np.ndarray[Any, Any]) -> list[int]:
    """An order of points that walks between near neighbours (from the westernmost).

    Examples
    --------
    >>> chain(np.array([[0.0, 0.0], [10.0, 0.0], [1.0, 0.0]]))
    [0, 2, 1]
    """
    left = list(range(len(xy)))
    at = int(np.argmin(xy[:, 0]))
    order = [at]
    left.remove(at)
    while left:
        at = min(left, key=lambda k: (float(np.hypot(*(xy[k] - xy[at]))), k))
        order.append(at)
        left.remove(at)
    return order


# --------------------------------------------------------------------------- own layers

#: How each kind of own layer (``[[layers]] kind``, :data:`strukturbild.config.LAYER_KINDS`)
#: is drawn unless the project says otherwise: line or outline colour, width in pixels
#: (points on paper), dash pattern, fill colour ("none" for none) and opacity.
LAYER_STYLES: Mapping[str, Mapping[str, Any]] = {
    # stråk: a broad translucent band under the links, as structure images draw them
    "corridor": {"colour": "#9e6fb8", "width": 16.0, "dash": "", "fill": "#9e6fb8",
                 "opacity": 0.35},
    # grönstruktur: green fill, darker green edge
    "green": {"colour": "#5a9a46", "width": 0.8, "dash": "", "fill": "#b5d8a0",
              "opacity": 0.75},
    # railways, roads: a dark thin line
    "infrastructure": {"colour": "#3d3d3d", "width": 1.6, "dash": "", "fill": "none",
                       "opacity": 0.9},
    # an area of the plan: dashed outline, faint fill
    "area": {"colour": "#7a5c99", "width": 1.5, "dash": "6 3", "fill": "#7a5c99",
             "opacity": 0.12},
    "other": {"colour": "#555555", "width": 1.2, "dash": "", "fill": "none",
              "opacity": 0.8},
}


def layer_style(kind: str, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The style of an own layer: its kind's defaults (:data:`LAYER_STYLES`), then
    what the project gives (:attr:`strukturbild.config.LayerSource.style`).

    Raises
    ------
    KeyError
        For a kind that has no style.

    Examples
    --------
    >>> layer_style("infrastructure", {"colour": "#000000"})
    {'colour': '#000000', 'width': 1.6, 'dash': '', 'fill': 'none', 'opacity': 0.9}
    """
    return {**LAYER_STYLES[kind], **(given or {})}
