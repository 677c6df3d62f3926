"""One legend for the web map and the print map: the rows both draw, as data.

:func:`legend_sections` says what the legend holds, section by section (one per map
layer, so the web map can hide a section with its layer); the web map writes the
sections as HTML (:mod:`strukturbild.render.web`), the print map draws them with
matplotlib (:mod:`strukturbild.render.static`). Both therefore show the same rows in
the same order, with the same colours, widths and texts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ..image import StructureImage
from .style import (
    AREA_EDGE,
    AREA_EDGE_ON_TILES,
    AREA_FILL,
    BORDER,
    GROUP_OPACITY,
    LAN_EDGE,
    LINK_CLASS_STYLE,
    REGION_STYLE,
    REGIONAL_LINK_COLOUR,
    RoleStyle,
    format_number,
    legend_flows,
    legend_populations,
    link_style,
    link_width,
    symbol_radius,
    text,
)

__all__ = ["LegendRow", "LegendSection", "legend_sections"]

RowKind = Literal["head", "dot", "circles", "line", "taper", "patch", "band", "group",
                  "note"]


@dataclass(frozen=True)
class LegendRow:
    """One row: a symbol and its text.

    ``size`` is in CSS pixels: a dot's radius, a line's or a band's width.
    ``values`` are the populations of a ``circles`` row.

    Examples
    --------
    >>> LegendRow("line", "Starkt samband", "#4c6478", 3.0).kind
    'line'
    """

    kind: RowKind
    label: str
    colour: str = "#222222"
    size: float = 0.0
    dash: str = ""
    opacity: float = 1.0
    fill: str = "none"
    values: tuple[float, ...] = ()
    key: str = ""
    emphasis: bool = False


@dataclass(frozen=True)
class LegendSection:
    """The rows of one map layer (``places``, ``links``, ``weak``, ``layer-0``, …)."""

    layer: str
    rows: tuple[LegendRow, ...]


def legend_sections(
    image: StructureImage,
    styles: Sequence[RoleStyle],
    counts: Mapping[str, int],
    *,
    labelled: Sequence[str],
    max_flow: float,
    scopes: Sequence[str] = (),
    weak: bool = False,
    axes: bool = False,
    links_note: str = "",
    lan_borders: bool = False,
    national_borders: bool = False,
    on_tiles: bool = False,
) -> list[LegendSection]:
    """The legend of a map of ``image``.

    Parameters
    ----------
    image
        The structure image.
    styles, counts
        The roles' styles and how many places each has (roles without places are
        left out).
    labelled
        Keys of the roles whose places are named on the map.
    max_flow
        The largest link total (0: no links section).
    scopes
        The link scopes drawn (``"regional"``, ``"local"``).
    weak
        Whether the map has weak links (they get their own section).
    axes
        Whether the map draws weak regional links that are axes
        (:func:`~strukturbild.render.style.axis_links`); they get a row of their own.
    links_note
        A note under the links ("showing 3 677 of 4 660 links …").
    lan_borders, national_borders
        Whether the map draws län borders and national borders.
    on_tiles
        The areas are drawn as outlines on background tiles.

    Examples
    --------
    >>> from strukturbild import build, example_project
    >>> from strukturbild.render.style import role_styles
    >>> img = build(example_project())
    >>> styles = role_styles([(r.key, r.label("sv")) for r in img.roles])
    >>> counts = img.places["role"].astype(str).value_counts().to_dict()
    >>> secs = legend_sections(img, styles, counts, labelled=["tillvaxtmotor"],
    ...                        max_flow=1000.0, scopes=["regional", "local"], weak=True)
    >>> [s.layer for s in secs]
    ['places', 'links', 'weak', 'areas']
    >>> [r.label for r in secs[0].rows][:3]
    ['Roller', 'Tillväxtmotor (5)', 'Regional kärna (4)']
    >>> "Gemensam tillväxtmotor" in [r.label for r in secs[0].rows]
    True
    """
    lang = image.language
    out: list[LegendSection] = []
    rows: list[LegendRow] = [LegendRow("head", text("roles", lang))]
    for s in styles:
        if counts.get(s.key, 0):
            rows.append(LegendRow("dot", f"{s.label} ({format_number(counts[s.key], lang)})",
                                  s.colour, 5.0, key=f"role-{s.key}"))
    groups = _groups(image, styles)
    for label, colour, radius in groups:
        rows.append(LegendRow("group", label, colour, 2 * radius + 2 * 4.0,
                              opacity=GROUP_OPACITY, key="group"))
    rows.append(LegendRow("head", text("size", lang)))
    pops = image.places["population"].astype(float) if "population" in image.places else None
    top = float(pops.max()) if pops is not None and len(pops) else 1000.0
    rows.append(LegendRow("circles", text("size", lang), "#f4f4f4",
                          values=tuple(legend_populations(top)), key="size"))
    out.append(LegendSection("places", tuple(rows)))

    if max_flow > 0:
        rows = [LegendRow("head", text("links", lang))]
        if "regional" in scopes:
            rows.append(LegendRow("line", text("regional_link", lang), REGIONAL_LINK_COLOUR,
                                  3.0, opacity=LINK_CLASS_STYLE["strong"][2],
                                  key="link-regional"))
        if axes:
            _, dash, opacity = link_style("weak", True)
            rows.append(LegendRow("line", text("axis_link", lang), REGIONAL_LINK_COLOUR, 3.0,
                                  dash, opacity, key="link-axis"))
        if "local" in scopes:
            rows.append(LegendRow("line", text("local_link", lang), LINK_CLASS_STYLE["strong"][0],
                                  3.0, opacity=LINK_CLASS_STYLE["strong"][2], key="link-local"))
        for cls in ("strong", "medium"):
            colour, dash, opacity = LINK_CLASS_STYLE[cls]
            rows.append(LegendRow("line", text(cls, lang), colour, 3.0, dash, opacity,
                                  key=f"link-{cls}"))
        rows.append(LegendRow("head", text("width", lang)))
        for flow in legend_flows(max_flow):
            rows.append(LegendRow("line", format_number(flow, lang), LINK_CLASS_STYLE["strong"][0],
                                  link_width(flow, max_flow), opacity=0.85,
                                  key=f"width-{int(flow)}"))
        rows.append(LegendRow("taper", text("taper", lang), LINK_CLASS_STYLE["strong"][0],
                              6.0, opacity=0.85, key="taper"))
        if "regional" in scopes and labelled:
            names = ", ".join(s.label.lower() for s in styles if s.key in labelled)
            rows.append(LegendRow("note", text("regional_note", lang).format(roles=names)))
        if links_note:
            rows.append(LegendRow("note", links_note))
        if image.modelled:
            rows.append(LegendRow("note", text("modelled_note", lang), "#a50f15",
                                  emphasis=True, key="modelled"))
        out.append(LegendSection("links", tuple(rows)))
        if weak:
            colour, dash, opacity = LINK_CLASS_STYLE["weak"]
            out.append(LegendSection("weak", (
                LegendRow("line", text("weak", lang), colour, 3.0, dash, opacity,
                          key="link-weak"),)))

    for n, layer in enumerate(image.layers):
        out.append(LegendSection(f"layer-{n}", (_layer_row(layer.name, layer.style,
                                                          _family(layer.frame), n),)))
    if image.regions is not None and len(image.regions):
        colour, width, dash = REGION_STYLE
        out.append(LegendSection("regions", (
            LegendRow("patch", text("regions", lang), colour, width, dash, 0.9, "none",
                      key="regions"),)))
    if image.areas is not None and len(image.areas):
        rows = [LegendRow("patch", text("areas", lang),
                          AREA_EDGE_ON_TILES if on_tiles else AREA_EDGE, 1.0, "", 1.0,
                          "none" if on_tiles else AREA_FILL, key="areas")]
        if lan_borders:
            rows.append(LegendRow("line", text("lan_border", lang), LAN_EDGE, 1.6,
                                  key="lan"))
        out.append(LegendSection("areas", tuple(rows)))
    if national_borders:
        out.append(LegendSection("base", (
            LegendRow("line", text("national_border", lang), BORDER[0], 1.2, BORDER[1],
                      key="border"),)))
    return out


def _groups(image: StructureImage, styles: Sequence[RoleStyle]) -> list[tuple[str, str, float]]:
    """Legend rows of the joint designations: label, colour, largest member's radius."""
    places = image.places
    if "designation_group" not in places or places["designation_group"].isna().all():
        return []
    colour = {s.key: (s.colour, s.label) for s in styles}
    out: dict[str, tuple[str, str, float]] = {}
    members = places[places["designation_group"].notna()]
    for _group, grp in members.groupby("designation_group", sort=True):
        role = str(grp["role"].iloc[0])
        c, label = colour.get(role, ("#a6a6a6", role))
        radius = max(symbol_radius(float(p)) for p in grp["population"])
        row = text("joint", image.language).format(role=label.lower())
        if row not in out:
            out[row] = (row, c, min(radius, 8.0))
    return list(out.values())


def _family(frame: Any) -> str:
    """``"polygon"``, ``"line"`` or ``"point"``: what most of a layer's features are."""
    types = frame.geom_type.dropna().astype(str)
    if not len(types):
        return "line"
    counts = {"polygon": int(types.str.contains("Polygon").sum()),
              "line": int(types.str.contains("LineString").sum()),
              "point": int(types.str.contains("Point").sum())}
    return max(counts, key=lambda k: (counts[k], k == "line"))


def _layer_row(name: str, style: Mapping[str, Any], family: str, n: int) -> LegendRow:
    """The legend row of an own layer: a band, a line, a patch or a dot."""
    colour, width = str(style["colour"]), float(style["width"])
    dash, fill, opacity = str(style.get("dash", "")), str(style["fill"]), float(style["opacity"])
    if family == "polygon":
        return LegendRow("patch", name, colour, min(width, 3.0), dash, opacity, fill,
                         key=f"layer-{n}")
    if family == "point":
        return LegendRow("dot", name, fill if fill != "none" else colour,
                         max(3.0, min(width, 6.0)), opacity=opacity, key=f"layer-{n}")
    if width >= 6:
        return LegendRow("band", name, colour, min(width, 14.0), dash, opacity, key=f"layer-{n}")
    return LegendRow("line", name, colour, width, dash, opacity, key=f"layer-{n}")
