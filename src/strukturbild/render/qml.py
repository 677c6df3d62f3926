"""QGIS layer styles (QML) and layer metadata (QMD), written by hand from the style table.

The styles make QGIS draw each GeoPackage layer as the web map draws it: places
categorised by role with the colours of :data:`~strukturbild.render.style.ROLE_COLOURS`
and a circle whose area grows with the population (the formula of
:func:`~strukturbild.render.style.symbol_radius`), links categorised by the scene's
link styles (:class:`~strukturbild.render._scene.LinkStyle`: scope and class, one
category per style the file's links are drawn in, labelled as the maps' legends) with a
width that grows with the square root of the flow
(:func:`~strukturbild.render.style.link_width`, relative to the largest flow in the
layer), areas as a light fill and regions as a dashed outline. Names of the places of
the labelled roles are labelled.

Sizes are data-defined expressions evaluated by QGIS, not numbers baked in per
feature, so a style stays right when features are added to the layer or filtered.
The web map's pixels become points (1/72 inch) by default, as in the print map.

The XML is built with :mod:`xml.etree.ElementTree` and needs no QGIS; the same
arguments always give the same bytes. It is written for QGIS 3.22 (the oldest
version checked) and read by every later 3.x release.

Examples
--------
>>> from strukturbild.render.style import role_styles
>>> qml = places_qml(role_styles([("storstad", "Storstad"), ("serviceort", "Serviceort")]))
>>> qml.startswith("<!DOCTYPE qgis")
True
>>> 'attr="role"' in qml and "59,15,112,230" in qml
True
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from ._scene import LinkStyle, StrakClass
from .style import (
    AREA_EDGE,
    AREA_FILL,
    GROUP_OPACITY,
    LAND,
    MIN_RADIUS,
    RADIUS_PER_SQRT_THOUSAND,
    REGION_STYLE,
    STRAK_STYLE,
    STRAK_TEXT,
    RoleStyle,
    link_style,
)

__all__ = [
    "QGIS_VERSION",
    "GeometryKind",
    "LayerMetadata",
    "SizeUnit",
    "areas_qml",
    "base_qml",
    "joint_qml",
    "layer_metadata_qmd",
    "layer_qml",
    "link_width_expression",
    "links_qml",
    "place_size_expression",
    "places_qml",
    "regions_qml",
    "strak_qml",
]

#: The QGIS version written into the documents: the oldest one the styles are checked with.
QGIS_VERSION = "3.22.0"

#: Units of symbol sizes and line widths: ``"Point"`` (print, the default), ``"Pixel"``
#: (screen, exactly as the web map) or ``"MM"``.
SizeUnit = Literal["Point", "Pixel", "MM"]

_DOCTYPE = "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>"
_NS = uuid.UUID("6f1d2a64-5c1e-4d0e-9a53-7c1f3b2e8a10")  # keys of label rules

# The web map's link width: 0.5 to 8 pixels (see render.style.link_width).
_LINK_MIN_WIDTH = 0.5
_LINK_MAX_WIDTH = 8.0
# The web map's place marker: white outline 0.8 px, fill opacity 0.9.
_MARKER_OUTLINE = ("#ffffff", 0.8)
_MARKER_FILL_OPACITY = 0.9
# The web map's areas (fill, outline, width) and regions (outline, width, dashes).
_AREA_STYLE = (AREA_FILL, AREA_EDGE, 0.7)
_REGION_STYLE = REGION_STYLE
_LABEL_SIZE_PT = 9.0

#: Geometry of the places layer: points, or polygons (drawn with a circle inside).
GeometryKind = Literal["point", "polygon"]


# --------------------------------------------------------------------------- expressions


def _num(value: float) -> str:
    """A number as QGIS and the XML want it: no trailing zeros, no exponent."""
    return f"{value:.6f}".rstrip("0").rstrip(".")


def place_size_expression(column: str = "population") -> str:
    """QGIS expression for the marker diameter of a place: ``2 * symbol_radius(population)``.

    Missing or negative populations get the smallest circle, as in
    :func:`~strukturbild.render.style.symbol_radius`.

    Examples
    --------
    >>> place_size_expression()
    '2 * max(2, 0.8 * sqrt(max(coalesce("population", 0), 0) / 1000))'
    """
    return (f'2 * max({_num(MIN_RADIUS)}, {_num(RADIUS_PER_SQRT_THOUSAND)} * '
            f'sqrt(max(coalesce("{column}", 0), 0) / 1000))')


def link_width_expression(column: str = "total") -> str:
    """QGIS expression for the width of a link: :func:`link_width` of the flow.

    The largest flow is the layer's maximum (the QGIS aggregate ``maximum``), so
    the widths stay right when features are appended.

    Examples
    --------
    >>> expr = link_width_expression()
    >>> expr.startswith('if(maximum("total") > 0, max(0.5, 8 * sqrt(max(coalesce("total", 0)')
    True
    """
    lo, hi = _num(_LINK_MIN_WIDTH), _num(_LINK_MAX_WIDTH)
    return (f'if(maximum("{column}") > 0, max({lo}, {hi} * sqrt(max(coalesce("{column}", 0), 0)'
            f' / maximum("{column}"))), {lo})')


def _quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# --------------------------------------------------------------------------- XML helpers


def _rgba(colour: str, opacity: float = 1.0) -> str:
    """``#rrggbb`` → ``r,g,b,a`` as QGIS writes colours."""
    c = colour.lstrip("#")
    if len(c) != 6:
        raise ValueError(f"expected a colour as #rrggbb, got {colour!r}")
    r, g, b = (int(c[i:i + 2], 16) for i in (0, 2, 4))
    return f"{r},{g},{b},{round(opacity * 255)}"


def _option(parent: ET.Element, name: str | None, value: str, kind: str = "QString") -> None:
    attrs = {"type": kind, "value": value}
    if name is not None:
        attrs["name"] = name
    ET.SubElement(parent, "Option", attrs)


def _option_map(parent: ET.Element, props: Mapping[str, str], name: str | None = None
                ) -> ET.Element:
    attrs = {"type": "Map"}
    if name is not None:
        attrs["name"] = name
    el = ET.SubElement(parent, "Option", attrs)
    for key, value in props.items():
        _option(el, key, value)
    return el


def _data_defined(parent: ET.Element, expressions: Mapping[str, str],
                  tag: str = "data_defined_properties") -> None:
    """``<data_defined_properties>``: property name (``size``, ``outlineWidth``) → expression."""
    outer = ET.SubElement(parent, tag)
    coll = ET.SubElement(outer, "Option", {"type": "Map"})
    _option(coll, "name", "")
    props = ET.SubElement(coll, "Option", {"type": "Map", "name": "properties"})
    for prop, expression in expressions.items():
        p = ET.SubElement(props, "Option", {"type": "Map", "name": prop})
        _option(p, "active", "true", "bool")
        _option(p, "expression", expression)
        _option(p, "type", "3", "int")  # 3 = expression-based property
    _option(coll, "type", "collection")


@dataclass(frozen=True)
class _Layer:
    """One symbol layer: its class, properties, data-defined properties, sub-symbol."""

    cls: str
    props: Mapping[str, str]
    dd: Mapping[str, str] = field(default_factory=dict)
    sub: _Symbol | None = None


@dataclass(frozen=True)
class _Symbol:
    kind: Literal["marker", "line", "fill"]
    layers: tuple[_Layer, ...]
    opacity: float = 1.0


def _symbol(parent: ET.Element, symbol: _Symbol, name: str) -> None:
    el = ET.SubElement(parent, "symbol", {
        "type": symbol.kind, "name": name, "alpha": _num(symbol.opacity),
        "clip_to_extent": "1", "force_rhr": "0",
    })
    _data_defined(el, {})
    for index, layer in enumerate(symbol.layers):
        lay = ET.SubElement(el, "layer", {"class": layer.cls, "enabled": "1", "locked": "0",
                                         "pass": "0"})
        _option_map(lay, layer.props)
        _data_defined(lay, layer.dd)
        if layer.sub is not None:
            _symbol(lay, layer.sub, f"@{name}@{index}")


def _document(categories: str) -> ET.Element:
    """The ``<qgis>`` root of a style with the given style categories."""
    return ET.Element("qgis", {"version": QGIS_VERSION, "styleCategories": categories})


def _finish(root: ET.Element, geometry_type: int) -> str:
    ET.SubElement(root, "blendMode").text = "0"
    ET.SubElement(root, "featureBlendMode").text = "0"
    ET.SubElement(root, "layerGeometryType").text = str(geometry_type)
    ET.indent(root, space="  ")
    return _DOCTYPE + "\n" + ET.tostring(root, encoding="unicode") + "\n"


def _order_by(renderer: ET.Element, column: str, *, ascending: bool) -> None:
    renderer.set("enableorderby", "1")
    order = ET.SubElement(renderer, "orderby")
    clause = ET.SubElement(order, "orderByClause", {"asc": "1" if ascending else "0",
                                                    "nullsFirst": "0"})
    clause.text = f'"{column}"'


def _unit_props(unit: SizeUnit, *names: str) -> dict[str, str]:
    return {n: unit for n in names}


# --------------------------------------------------------------------------- places


def _place_marker(colour: str, unit: SizeUnit) -> _Symbol:
    outline, width = _MARKER_OUTLINE
    props = {
        "name": "circle",
        "color": _rgba(colour, _MARKER_FILL_OPACITY),
        "outline_color": _rgba(outline),
        "outline_style": "solid",
        "outline_width": _num(width),
        "size": _num(2 * MIN_RADIUS),
        "scale_method": "diameter",
        "angle": "0",
        "horizontal_anchor_point": "1",
        "vertical_anchor_point": "1",
        "joinstyle": "bevel",
        **_unit_props(unit, "size_unit", "outline_width_unit", "offset_unit"),
    }
    return _Symbol("marker", (_Layer("SimpleMarker", props, {"size": place_size_expression()}),))


def _place_symbol(colour: str, geometry: GeometryKind, unit: SizeUnit) -> _Symbol:
    marker = _place_marker(colour, unit)
    if geometry == "point":
        return marker
    fill = {
        "style": "solid",
        "color": _rgba(colour, 0.25),
        "outline_color": _rgba(colour),
        "outline_style": "solid",
        "outline_width": "0.5",
        "joinstyle": "bevel",
        **_unit_props(unit, "outline_width_unit", "offset_unit"),
    }
    centroid = {"point_on_surface": "1", "point_on_all_parts": "0", "clip_points": "0",
                "clip_on_current_part_only": "0"}
    return _Symbol("fill", (_Layer("SimpleFill", fill),
                            _Layer("CentroidFill", centroid, sub=marker)))


def _labels(root: ET.Element, rules: Sequence[tuple[str, str]], column: str, *,
            placement: str = "point", colour: str = "#000000", italic: bool = False,
            bold: bool = True, merge_lines: bool = False) -> None:
    """Rule-based labels: one rule per ``(description, filter)``, labelling ``column``.

    ``placement``: around a point (``"point"``), along a line (``"line"``) or inside
    a polygon (``"polygon"``); ``merge_lines``: connected lines of the same label are
    labelled once (a stråk's sections).
    """
    labeling = ET.SubElement(root, "labeling", {"type": "rule-based"})
    top = ET.SubElement(labeling, "rules", {"key": "{" + str(uuid.uuid5(_NS, "root")) + "}"})
    for description, expression in rules:
        rule = ET.SubElement(top, "rule", {
            "description": description, "filter": expression,
            "key": "{" + str(uuid.uuid5(_NS, description + expression)) + "}",
        })
        settings = ET.SubElement(rule, "settings", {"calloutType": "simple"})
        style = ET.SubElement(settings, "text-style", {
            "fieldName": column, "isExpression": "0",
            "fontSize": _num(_LABEL_SIZE_PT), "fontSizeUnit": "Point",
            "fontWeight": "75" if bold else "50", "fontItalic": "1" if italic else "0",
            "textColor": _rgba(colour), "textOpacity": "1",
            "namedStyle": ("Bold " if bold else "") + ("Italic" if italic else "") or "Regular",
            "blendMode": "0",
            "multilineHeight": "1", "capitalization": "0", "allowHtml": "0",
        })
        ET.SubElement(style, "text-buffer", {
            "bufferDraw": "1", "bufferSize": "1", "bufferSizeUnits": "MM",
            "bufferColor": _rgba("#ffffff"), "bufferOpacity": "1", "bufferNoFill": "1",
            "bufferJoinStyle": "128", "bufferBlendMode": "0",
        })
        ET.SubElement(settings, "text-format", {"wrapChar": "", "multilineAlign": "0",
                                                "formatNumbers": "0", "plussign": "0"})
        ET.SubElement(settings, "placement", {
            # 6 = cartographic: around the point, right first, as the web map's labels;
            # 2 = along a line (parallel); 1 = inside a polygon (over its point)
            "placement": {"point": "6", "line": "2", "polygon": "1"}[placement],
            "predefinedPositionOrder": "R,TR,BR,T,B,TL,BL,L",
            "dist": "1", "distUnits": "MM", "offsetType": "1", "priority": "5",
            "quadOffset": "4", "xOffset": "0", "yOffset": "0", "offsetUnits": "MM",
            "placementFlags": "10", "centroidInside": "1", "centroidWhole": "0",
        })
        ET.SubElement(settings, "rendering", {
            "drawLabels": "1", "obstacle": "1", "obstacleType": "1", "obstacleFactor": "1",
            "displayAll": "0", "upsidedownLabels": "0", "labelPerPart": "0",
            "mergeLines": "1" if merge_lines else "0", "limitNumLabels": "0",
            "maxNumLabels": "2000",
            "scaleVisibility": "0", "scaleMin": "0", "scaleMax": "0", "zIndex": "1",
            "fontLimitPixelSize": "0", "fontMinPixelSize": "3", "fontMaxPixelSize": "10000",
            "minFeatureSize": "0", "unplacedVisibility": "0",
        })


def _role_renderer(root: ET.Element, roles: Sequence[RoleStyle], *, order_by: bool
                   ) -> ET.Element:
    """A renderer categorised on ``role``: one category (symbol ``i``) per role."""
    renderer = ET.SubElement(root, "renderer-v2", {
        "type": "categorizedSymbol", "attr": "role", "symbollevels": "0",
        "forceraster": "0", "enableorderby": "1" if order_by else "0",
        "referencescale": "-1",
    })
    cats = ET.SubElement(renderer, "categories")
    for i, s in enumerate(roles):
        ET.SubElement(cats, "category", {"value": s.key, "label": s.label, "symbol": str(i),
                                         "render": "true"})
    return renderer


def places_qml(
    roles: Sequence[RoleStyle],
    *,
    geometry: GeometryKind = "point",
    unit: SizeUnit = "Point",
    label_column: str = "name",
) -> str:
    """The style of the ``places`` layer.

    Categorised on ``role`` (one category per role, highest first, with the role's
    colour and label), the circle sized by :func:`place_size_expression`, the
    smallest places drawn on top, and the names of the labelled roles
    (:attr:`RoleStyle.labelled`) as labels. Polygon places get a light fill of the
    role colour and the circle on a point inside.

    Parameters
    ----------
    roles
        From :func:`~strukturbild.render.style.role_styles`, highest first.
    geometry
        ``"point"`` or ``"polygon"``: the layer's geometry.
    unit
        Unit of sizes and widths.
    label_column
        The column labelled.

    Examples
    --------
    >>> from strukturbild.render.style import role_styles
    >>> qml = places_qml(role_styles([("storstad", "Storstad")], labelled={"storstad"}))
    >>> import xml.etree.ElementTree as ET
    >>> root = ET.fromstring(qml.split("\\n", 1)[1])
    >>> [c.get("value") for c in root.iter("category")]
    ['storstad']
    >>> [r.get("filter") for r in root.iter("rule")]
    ['"role" IN (\\'storstad\\')']
    """
    root = _document("Symbology|Labeling")
    labelled = [s for s in roles if s.labelled]
    root.set("labelsEnabled", "1" if labelled else "0")
    renderer = _role_renderer(root, roles, order_by=True)
    symbols = ET.SubElement(renderer, "symbols")
    for i, s in enumerate(roles):
        _symbol(symbols, _place_symbol(s.colour, geometry, unit), str(i))
    source = ET.SubElement(renderer, "source-symbol")
    _symbol(source, _place_symbol("#9e9e9e", geometry, unit), "0")
    ET.SubElement(renderer, "rotation")
    ET.SubElement(renderer, "sizescale")
    _order_by(renderer, "population", ascending=False)  # small places on top
    if labelled:
        keys = ", ".join(_quote_literal(s.key) for s in labelled)
        _labels(root, [(", ".join(s.label for s in labelled), f'"role" IN ({keys})')],
                label_column)
    return _finish(root, 0 if geometry == "point" else 2)


# --------------------------------------------------------------------------- links


def _link_symbol(style: LinkStyle, unit: SizeUnit) -> _Symbol:
    props = {
        "line_color": _rgba(style.colour),
        "line_style": "solid",
        "line_width": _num(_LINK_MIN_WIDTH),
        "capstyle": "round",
        "joinstyle": "round",
        "use_custom_dash": "1" if style.dash else "0",
        "customdash": ";".join(style.dash.split()) if style.dash else "5;2",
        **_unit_props(unit, "line_width_unit", "customdash_unit", "offset_unit"),
    }
    return _Symbol("line", (_Layer("SimpleLine", props,
                                   {"outlineWidth": link_width_expression()}),), style.opacity)


#: The links' category: scope and class, e.g. ``regional_strong``.
#: Regional: between the region's higher roles (the ``regional`` column), and not weak
#: unless an axis (``axis``), as the scene decides for the other maps.
LINK_CATEGORY_EXPRESSION = ("if(coalesce(\"regional\", false) AND (\"link_class\" <> 'weak' OR "
                            "coalesce(\"axis\", false)), 'regional', 'local') || '_' || "
                            "\"link_class\"")


#: The symbol QGIS offers for a new category: a weak local link's.
_SOURCE_LINK = LinkStyle("local", "weak", *link_style("weak", False), "", "weak")


def links_qml(styles: Sequence[LinkStyle], *, weak_links: bool, unit: SizeUnit = "Point"
              ) -> str:
    """The style of the ``links`` layer: categorised on scope and class, widths by flow.

    One category per link style of ``styles`` (the styles the layer's links are drawn
    in, :func:`~strukturbild.render._scene.link_style_table`), with its colour, dashes,
    opacity and legend label; the width is :func:`link_width_expression`. Weak local
    links are off unless ``weak_links``, as on the web map (a tick in the layer tree
    shows them); regional links, the axes too, are on and drawn over local ones, the
    strongest on top.

    Parameters
    ----------
    styles
        The link styles, in the legend's order.
    weak_links
        Draw the weak links' category (the web map's weak layer on at start).
    unit
        Unit of widths and dashes.

    Examples
    --------
    >>> from strukturbild.render._scene import link_style_table
    >>> qml = links_qml(link_style_table("en"), weak_links=False)
    >>> 'name="outlineWidth"' in qml and 'value="regional_strong"' in qml
    True
    >>> 'label="Local link, medium"' in qml
    True
    """
    root = _document("Symbology")
    renderer = ET.SubElement(root, "renderer-v2", {
        "type": "categorizedSymbol", "attr": LINK_CATEGORY_EXPRESSION, "symbollevels": "0",
        "forceraster": "0", "enableorderby": "1", "referencescale": "-1",
    })
    cats = ET.SubElement(renderer, "categories")
    for i, style in enumerate(styles):
        ET.SubElement(cats, "category", {
            "value": style.category, "symbol": str(i), "label": style.label,
            "render": "true" if style.layer != "weak" or weak_links else "false"})
    symbols = ET.SubElement(renderer, "symbols")
    for i, style in enumerate(styles):
        _symbol(symbols, _link_symbol(style, unit), str(i))
    source = ET.SubElement(renderer, "source-symbol")
    _symbol(source, _link_symbol(_SOURCE_LINK, unit), "0")
    ET.SubElement(renderer, "rotation")
    ET.SubElement(renderer, "sizescale")
    renderer.set("enableorderby", "1")
    order = ET.SubElement(renderer, "orderby")
    for column in ("coalesce(\"regional\", false)", "\"total\""):
        clause = ET.SubElement(order, "orderByClause", {"asc": "1", "nullsFirst": "0"})
        clause.text = column
    return _finish(root, 1)


# --------------------------------------------------------------------------- stråk


def _strak_symbol(colour: str, width: float, opacity: float, unit: SizeUnit) -> _Symbol:
    props = {"line_color": _rgba(colour), "line_style": "solid", "line_width": _num(width),
             "capstyle": "round", "joinstyle": "round", "use_custom_dash": "0",
             **_unit_props(unit, "line_width_unit", "customdash_unit", "offset_unit")}
    return _Symbol("line", (_Layer("SimpleLine", props),), opacity)


def strak_qml(classes: Sequence[StrakClass], *, unit: SizeUnit = "Point") -> str:
    """The style of the ``strak`` layer: graduated on ``flow``, one range per width
    class drawn (the scene's :class:`~strukturbild.render._scene.StrakClass`: the same
    widths, colour and legend texts as the maps), round-ended, thinnest first so the
    busiest sections lie on top.

    Examples
    --------
    >>> from strukturbild.render._scene import StrakClass
    >>> qml = strak_qml([StrakClass(1, 1000, 5000, 3.5, "#c0907b", 1.0, "1 000–5 000"),
    ...                  StrakClass(2, 5000, None, 7.0, "#c0907b", 1.0, "5 000 och fler")])
    >>> 'type="graduatedSymbol"' in qml and 'attr="flow"' in qml
    True
    >>> 'lower="5000" upper="1000000000"' in qml
    True
    """
    root = _document("Symbology")
    renderer = ET.SubElement(root, "renderer-v2", {
        "type": "graduatedSymbol", "attr": "flow", "graduatedMethod": "GraduatedColor",
        "symbollevels": "0", "forceraster": "0", "enableorderby": "0",
        "referencescale": "-1"})
    ranges = ET.SubElement(renderer, "ranges")
    for i, c in enumerate(classes):
        ET.SubElement(ranges, "range", {
            "symbol": str(i), "lower": _num(c.low),
            "upper": _num(c.high if c.high is not None else max(1e9, c.low * 10)),
            "label": c.label, "render": "true"})
    symbols = ET.SubElement(renderer, "symbols")
    for i, c in enumerate(classes):
        _symbol(symbols, _strak_symbol(c.colour, c.width, c.opacity, unit), str(i))
    source = ET.SubElement(renderer, "source-symbol")
    first = classes[0] if classes else StrakClass(1, 0.0, None, 3.0, *STRAK_STYLE, "")
    _symbol(source, _strak_symbol(first.colour, first.width, first.opacity, unit), "0")
    ET.SubElement(renderer, "rotation")
    ET.SubElement(renderer, "sizescale")
    _order_by(renderer, "flow", ascending=True)
    # each stråk named once along its band (its sections merged), as the maps name it
    _labels(root, [("strak", "true")], "name", placement="line", colour=STRAK_TEXT,
            italic=True, merge_lines=True)
    return _finish(root, 1)


# --------------------------------------------------------------------------- polygons


def _single(symbol: _Symbol, geometry_type: int) -> str:
    root = _document("Symbology")
    renderer = ET.SubElement(root, "renderer-v2", {
        "type": "singleSymbol", "symbollevels": "0", "forceraster": "0",
        "enableorderby": "0", "referencescale": "-1",
    })
    symbols = ET.SubElement(renderer, "symbols")
    _symbol(symbols, symbol, "0")
    ET.SubElement(renderer, "rotation")
    ET.SubElement(renderer, "sizescale")
    return _finish(root, geometry_type)


def areas_qml(*, unit: SizeUnit = "Point") -> str:
    """The style of the ``areas`` layer: the web map's light fill with a grey outline.

    Examples
    --------
    >>> "251,250,246,255" in areas_qml()
    True
    """
    fill, outline, width = _AREA_STYLE
    props = {"style": "solid", "color": _rgba(fill), "outline_color": _rgba(outline),
             "outline_style": "solid", "outline_width": _num(width), "joinstyle": "bevel",
             **_unit_props(unit, "outline_width_unit", "offset_unit")}
    return _single(_Symbol("fill", (_Layer("SimpleFill", props),)), 2)


def base_qml(*, unit: SizeUnit = "Point") -> str:
    """The style of the ``base`` layer: the maps' land fill, no outline.

    Examples
    --------
    >>> "232,229,222,255" in base_qml()
    True
    """
    props = {"style": "solid", "color": _rgba(LAND), "outline_color": _rgba(LAND),
             "outline_style": "no", "outline_width": "0", "joinstyle": "bevel",
             **_unit_props(unit, "outline_width_unit", "offset_unit")}
    return _single(_Symbol("fill", (_Layer("SimpleFill", props),)), 2)


def joint_qml(roles: Sequence[RoleStyle], *, unit: SizeUnit = "Point") -> str:
    """The style of ``joint_designations``: a broad translucent band in the role's
    colour, round-ended, under the places, labelled with its name.

    Examples
    --------
    >>> from strukturbild.render.style import role_styles
    >>> qml = joint_qml(role_styles([("tillvaxtmotor", "Tillväxtmotor")]))
    >>> 'attr="role"' in qml and 'capstyle' in qml
    True
    """
    root = _document("Symbology|Labeling")
    root.set("labelsEnabled", "1")
    renderer = _role_renderer(root, roles, order_by=False)
    symbols = ET.SubElement(renderer, "symbols")

    def band(colour: str) -> _Symbol:
        props = {"line_color": _rgba(colour), "line_style": "solid", "line_width": "16",
                 "capstyle": "round", "joinstyle": "round", "use_custom_dash": "0",
                 **_unit_props(unit, "line_width_unit", "customdash_unit", "offset_unit")}
        return _Symbol("line", (_Layer("SimpleLine", props),), GROUP_OPACITY)

    for i, r in enumerate(roles):
        _symbol(symbols, band(r.colour), str(i))
    source = ET.SubElement(renderer, "source-symbol")
    _symbol(source, band("#a6a6a6"), "0")
    ET.SubElement(renderer, "rotation")
    ET.SubElement(renderer, "sizescale")
    _labels(root, [("joint", "true")], "name", placement="line")
    return _finish(root, 1)


def layer_qml(style: Mapping[str, object], family: str, *, unit: SizeUnit = "Point") -> str:
    """The style of an own layer (``layer_…``), as the maps draw it.

    ``style`` holds ``colour``, ``width``, ``dash``, ``fill`` and ``opacity``
    (:attr:`strukturbild.image.OwnLayer.style`); ``family`` is ``"polygons"``,
    ``"lines"`` or ``"points"``.

    Examples
    --------
    >>> qml = layer_qml({"colour": "#5a9a46", "width": 0.8, "dash": "", "fill": "#b5d8a0",
    ...                  "opacity": 0.75}, "polygons")
    >>> "181,216,160,191" in qml
    True
    """
    colour = str(style.get("colour", "#555555"))
    width = float(str(style.get("width", 1.0)))
    dash = str(style.get("dash", "") or "")
    fill = str(style.get("fill", "none"))
    opacity = float(str(style.get("opacity", 1.0)))
    dashed = {"use_custom_dash": "1" if dash else "0",
              "customdash": ";".join(dash.split()) if dash else "5;2"}
    if family == "polygons":
        props = {"style": "no" if fill == "none" else "solid",
                 "color": _rgba(colour if fill == "none" else fill, opacity),
                 "outline_color": _rgba(colour),
                 "outline_style": "dash" if dash else "solid",
                 "outline_width": _num(min(width, 3.0)), "joinstyle": "round",
                 **_unit_props(unit, "outline_width_unit", "offset_unit")}
        return _single(_Symbol("fill", (_Layer("SimpleFill", props),)), 2)
    if family == "points":
        props = {"name": "circle",
                 "color": _rgba(colour if fill == "none" else fill, max(opacity, 0.6)),
                 "outline_color": _rgba("#ffffff"), "outline_style": "solid",
                 "outline_width": "1", "size": _num(2 * max(3.0, min(width, 8.0))),
                 "scale_method": "diameter",
                 **_unit_props(unit, "size_unit", "outline_width_unit", "offset_unit")}
        return _single(_Symbol("marker", (_Layer("SimpleMarker", props),)), 0)
    props = {"line_color": _rgba(colour), "line_style": "solid", "line_width": _num(width),
             "capstyle": "round", "joinstyle": "round", **dashed,
             **_unit_props(unit, "line_width_unit", "customdash_unit", "offset_unit")}
    return _single(_Symbol("line", (_Layer("SimpleLine", props),), opacity), 1)


def regions_qml(*, unit: SizeUnit = "Point") -> str:
    """The style of the ``regions`` layer: the web map's dashed outline, no fill, names.

    Examples
    --------
    >>> qml = regions_qml()
    >>> 'value="6;4"' in qml and 'fieldName="name"' in qml
    True
    """
    colour, width, dash = _REGION_STYLE
    props = {"line_color": _rgba(colour), "line_style": "solid", "line_width": _num(width),
             "use_custom_dash": "1", "customdash": ";".join(dash.split()),
             "capstyle": "round", "joinstyle": "round",
             **_unit_props(unit, "line_width_unit", "customdash_unit", "offset_unit")}
    qml = _single(_Symbol("fill", (_Layer("SimpleLine", props),)), 2)
    # the region names, as the maps write them: italic, in the outline's colour
    root = ET.fromstring(qml.split("\n", 1)[1])
    root.set("styleCategories", "Symbology|Labeling")
    root.set("labelsEnabled", "1")
    tail = [root.find(t) for t in ("blendMode", "featureBlendMode", "layerGeometryType")]
    for t in tail:
        if t is not None:
            root.remove(t)
    _labels(root, [("regions", "true")], "name", placement="polygon", colour=colour,
            italic=True, bold=False)
    return _finish(root, 2)


# --------------------------------------------------------------------------- metadata


@dataclass(frozen=True)
class LayerMetadata:
    """What QGIS shows on a layer's Metadata page (a subset of ``QgsLayerMetadata``).

    Examples
    --------
    >>> LayerMetadata("places", "Tätorter").crs
    'EPSG:3006'
    """

    identifier: str
    title: str
    abstract: str = ""
    language: str = "sv"
    keywords: Mapping[str, Sequence[str]] = field(default_factory=dict)
    history: Sequence[str] = ()
    rights: Sequence[str] = ()
    licenses: Sequence[str] = ()
    crs: str = "EPSG:3006"
    crs_description: str = "SWEREF99 TM"
    crs_wkt: str = ""


def _texts(parent: ET.Element, tag: str, values: Iterable[str]) -> None:
    for v in values:
        ET.SubElement(parent, tag).text = v


def layer_metadata_qmd(md: LayerMetadata) -> str:
    """QGIS layer metadata (the QMD format QGIS stores in ``gpkg_metadata``).

    QGIS reads it from a GeoPackage row with ``md_standard_uri =
    'http://mrcc.com/qgis.dtd'`` referenced to the table, and shows it in the
    layer's properties.

    Examples
    --------
    >>> qmd = layer_metadata_qmd(LayerMetadata("places", "Tätorter", licenses=["CC0 1.0"]))
    >>> "<license>CC0 1.0</license>" in qmd and "<authid>EPSG:3006</authid>" in qmd
    True
    """
    root = ET.Element("qgis", {"version": QGIS_VERSION})
    ET.SubElement(root, "identifier").text = md.identifier
    ET.SubElement(root, "parentidentifier").text = ""
    ET.SubElement(root, "language").text = md.language
    ET.SubElement(root, "type").text = "dataset"
    ET.SubElement(root, "title").text = md.title
    ET.SubElement(root, "abstract").text = md.abstract
    for vocabulary, words in md.keywords.items():
        kw = ET.SubElement(root, "keywords", {"vocabulary": vocabulary})
        _texts(kw, "keyword", words)
    ET.SubElement(root, "links")
    _texts(root, "history", md.history)
    ET.SubElement(root, "fees").text = ""
    for lic in md.licenses:
        ET.SubElement(root, "constraints", {"type": "license"}).text = lic
    _texts(root, "rights", md.rights)
    _texts(root, "license", md.licenses)
    ET.SubElement(root, "encoding").text = "UTF-8"
    crs = ET.SubElement(root, "crs")
    srs = ET.SubElement(crs, "spatialrefsys")
    auth, _, code = md.crs.partition(":")
    if md.crs_wkt:
        ET.SubElement(srs, "wkt").text = md.crs_wkt
    ET.SubElement(srs, "srid").text = code if auth.upper() == "EPSG" else ""
    ET.SubElement(srs, "authid").text = md.crs
    ET.SubElement(srs, "description").text = md.crs_description
    ET.SubElement(root, "extent")
    ET.indent(root, space="  ")
    return _DOCTYPE + "\n" + ET.tostring(root, encoding="unicode") + "\n"
