"""One legend for every output: the rows of what the scene draws, as data.

:func:`legend_sections` makes the legend of a :class:`~strukturbild.render._scene.Scene`,
section by section (one per map layer, so the web map can hide a section with its
layer), from what the scene draws and nothing else: a role without places, a link
style no link is drawn in, a border not drawn get no row. The web map writes the
sections as HTML (:mod:`strukturbild.render.web`), the print map draws them with
matplotlib (:mod:`strukturbild.render.static`), the QGIS styles name their categories
with the same texts (:mod:`strukturbild.render.qml`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from .style import (
    AREA_EDGE,
    AREA_EDGE_ON_TILES,
    AREA_FILL,
    BORDER,
    CONTEXT_DOT,
    FERRY_STYLE,
    GROUP_OPACITY,
    GROUP_PAD,
    LAN_EDGE,
    LINK_CLASS_STYLE,
    REGION_STYLE,
    format_number,
    legend_flows,
    legend_populations,
    link_width,
    symbol_radius,
    text,
)

if TYPE_CHECKING:
    from ._scene import Scene

__all__ = ["LegendRow", "LegendSection", "legend_sections"]

RowKind = Literal["head", "dot", "circles", "line", "taper", "patch", "band", "group",
                  "note"]


@dataclass(frozen=True)
class LegendRow:
    """One row: a symbol and its text.

    ``size`` is in CSS pixels: a dot's radius, a line's or a band's width.
    ``values`` are the populations of a ``circles`` row. ``key`` names what the row
    stands for (``role-storstad``, ``link-regional-strong`` …): the print map gives
    the row's symbol that id, the web map the row that ``data-key``.

    Examples
    --------
    >>> LegendRow("line", "Lokalt samband, starkt", "#4c6478", 3.0).kind
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


def legend_sections(scene: Scene) -> list[LegendSection]:
    """The legend of ``scene``: a section per layer it draws, a row per thing drawn.

    Examples
    --------
    >>> from strukturbild import build, example_project
    >>> from strukturbild.render._scene import scene_of
    >>> img = build(example_project())
    >>> secs = legend_sections(scene_of(img, img.map_options, "web"))
    >>> [s.layer for s in secs]
    ['places', 'strak', 'links', 'weak', 'context', 'areas']
    >>> [r.label for r in secs[0].rows][:3]
    ['Roller', 'Tillväxtmotor (5)', 'Regional kärna (4)']
    >>> [r.label for r in secs[1].rows][:3]
    ['Pendlingsstråk: pendlare per dag', '20\xa0000 och fler', '5\xa0000–20\xa0000']
    >>> [r.key for r in secs[2].rows if r.key.startswith("link-")]
    ['link-regional-strong', 'link-regional-medium', 'link-regional-weak', \
'link-local-strong', 'link-local-medium']
    """
    out = [LegendSection("places", _place_rows(scene))]
    if scene.layer("strak") is not None:
        out.append(LegendSection("strak", _strak_rows(scene)))
    if scene.layer("links") is not None:
        out.append(LegendSection("links", _link_rows(scene)))
    if scene.layer("weak") is not None:
        out.append(LegendSection("weak", tuple(
            _style_row(s) for s in scene.link_styles if s.layer == "weak")))
    image = scene.image
    for n, layer in enumerate(image.layers):
        out.append(LegendSection(f"layer-{n}", (_layer_row(layer.name, layer.style,
                                                          _family(layer.frame), n),)))
    if scene.layer("context") is not None:
        out.append(LegendSection("context", _context_rows(scene)))
    if scene.layer("regions") is not None:
        colour, width, dash = REGION_STYLE
        out.append(LegendSection("regions", (
            LegendRow("patch", text("regions", scene.language), colour, width, dash, 0.9,
                      "none", key="regions"),)))
    if scene.layer("areas") is not None:
        out.append(LegendSection("areas", _area_rows(scene)))
    if scene.national:
        out.append(LegendSection("base", (
            LegendRow("line", text("national_border", scene.language), BORDER[0], 1.2,
                      BORDER[1], key="border"),)))
    return out


def _context_rows(scene: Scene) -> tuple[LegendRow, ...]:
    """A grey dot for the places beyond the project, a dashed line for the ferries."""
    lang, rows = scene.language, []
    if scene.context is not None:
        rows.append(LegendRow("dot", text("context_place", lang), CONTEXT_DOT, 3.5,
                              key="context-place"))
    if scene.ferries is not None:
        colour, width, dash, opacity = FERRY_STYLE
        rows.append(LegendRow("line", text("ferry", lang), colour, width, dash, opacity,
                              key="context-ferry"))
    return tuple(rows)


def _place_rows(scene: Scene) -> tuple[LegendRow, ...]:
    """Roles with their counts, the joint designations, the circle sizes."""
    lang = scene.language
    rows = [LegendRow("head", text("roles", lang))]
    for s in scene.styles:
        if scene.counts.get(s.key, 0):
            rows.append(LegendRow("dot", f"{s.label} ({format_number(scene.counts[s.key], lang)})",
                                  s.colour, 5.0, key=f"role-{s.key}"))
    for label, colour, radius in _groups(scene):
        rows.append(LegendRow("group", label, colour, 2 * radius + 2 * GROUP_PAD,
                              opacity=GROUP_OPACITY, key="group"))
    rows.append(LegendRow("head", text("size", lang)))
    places = scene.image.places
    pops = places["population"].astype(float) if "population" in places else None
    top = float(pops.max()) if pops is not None and len(pops) else 1000.0
    rows.append(LegendRow("circles", text("size", lang), "#f4f4f4",
                          values=tuple(legend_populations(top)), key="size"))
    return tuple(rows)


def _style_row(style: Any) -> LegendRow:
    """The row of a link style drawn: its colour, dashes and opacity, its text."""
    return LegendRow("line", style.label, style.colour, 3.0, style.dash, style.opacity,
                     key=f"link-{style.key}")


def _link_rows(scene: Scene) -> tuple[LegendRow, ...]:
    """The link styles drawn in the links layer, the widths, the notes."""
    lang = scene.language
    shown = [s for s in scene.link_styles if s.layer == "links"]
    rows = [LegendRow("head", text("links", lang)), *(_style_row(s) for s in shown)]
    # the widths and the taper in the colour of the links they explain: the local ones
    # when the map draws any, else the regional ones
    local = [s for s in shown if s.scope == "local"]
    ink = (local or shown or list(scene.link_styles))[0].colour if scene.link_styles \
        else LINK_CLASS_STYLE["strong"][0]
    rows.append(LegendRow("head", text("width", lang)))
    for flow in legend_flows(scene.max_flow):
        rows.append(LegendRow("line", format_number(flow, lang), ink,
                              link_width(flow, scene.max_flow), opacity=0.85,
                              key=f"width-{int(flow)}"))
    rows.append(LegendRow("taper", text("taper", lang), ink, 6.0, opacity=0.85, key="taper"))
    if any(s.scope == "regional" for s in shown) and scene.regional_roles:
        rows.append(LegendRow("note", text("regional_note", lang).format(
            roles=_names(scene, scene.regional_roles))))
    if scene.min_flow is not None:
        rows.append(LegendRow("note", text("links_shown", lang).format(
            shown=format_number(len(scene.links), lang),
            total=format_number(len(scene.image.links), lang),
            min=format_number(scene.min_flow, lang))))
    if scene.image.modelled:
        rows.append(LegendRow("note", text("modelled_note", lang), "#a50f15",
                              emphasis=True, key="modelled"))
    return tuple(rows)


def _strak_rows(scene: Scene) -> tuple[LegendRow, ...]:
    """The stråk's width classes drawn, widest first, and how they were made."""
    lang = scene.language
    rows = [LegendRow("head", text("strak_head", lang))]
    for c in reversed(scene.strak_classes):
        rows.append(LegendRow("band", c.label, c.colour, c.width, "", c.opacity,
                              key=f"strak-{c.width_class}"))
    network = str(scene.strak["network"].iloc[0]) if scene.strak is not None else ""
    rows.append(LegendRow("note", text("strak_note_infrastructure" if network ==
                                       "infrastructure" else "strak_note_generated", lang)))
    if scene.image.modelled:
        rows.append(LegendRow("note", text("strak_modelled", lang)))
    return tuple(rows)


def _names(scene: Scene, keys: Sequence[str]) -> str:
    """Role labels in lower case, as a list in prose: "a, b och c"."""
    labels = [s.label.lower() for s in scene.styles if s.key in keys]
    if len(labels) < 2:
        return "".join(labels)
    return f"{', '.join(labels[:-1])} {text('and', scene.language)} {labels[-1]}"


def _area_rows(scene: Scene) -> tuple[LegendRow, ...]:
    """The areas (filled, or outlines on tiles) and the län borders when drawn."""
    lang = scene.language
    rows = [LegendRow("patch", text("areas", lang),
                      AREA_EDGE_ON_TILES if scene.on_tiles else AREA_EDGE, 1.0, "", 1.0,
                      "none" if scene.on_tiles else AREA_FILL, key="areas")]
    if scene.lan is not None:
        rows.append(LegendRow("line", text("lan_border", lang), LAN_EDGE, 1.6, key="lan"))
    return tuple(rows)


def _groups(scene: Scene) -> list[tuple[str, str, float]]:
    """Legend rows of the joint designations: label, colour, largest member's radius."""
    places = scene.image.places
    styles = {s.key: s for s in scene.styles}
    out: dict[str, tuple[str, str, float]] = {}
    for group in scene.groups:
        style = styles.get(group.role)
        colour, label = (style.colour, style.label) if style else ("#a6a6a6", group.role)
        radius = max(symbol_radius(float(p)) for p in
                     places.loc[list(group.members), "population"])
        row = text("joint", scene.language).format(role=label.lower())
        if row not in out:
            out[row] = (row, colour, min(radius, 8.0))
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
