"""The structure map for reports: PNG, PDF and SVG drawn with matplotlib.

It shows what the web map (:mod:`strukturbild.render.web`) shows, from the same style
table (:mod:`strukturbild.render.style`) and the same legend
(:mod:`strukturbild.render.legend`): the sea as background, the land around the
project (:attr:`StructureImage.base`), the project's kommuner with their borders and
the län borders, the project's own layers, functional regions with their names,
links as tapered shapes whose width follows the flow (narrowing towards the place
that receives most; regional links in their own colour, on top, weak ones too; weak local links
only when asked for), places as circles whose area is proportional to population, coloured by
role, a joint designation as one band with one label; name labels with halos for the
``label_roles`` highest roles that have places, never overlapping.

The page (``paper``: A4 or A3, portrait or landscape) has a title block (title and
subtitle), the map in a frame with a scale bar and a north arrow in its emptiest
corner, the legend below the map (portrait) or beside it (landscape), and the
source line built from the project's sources.

Sizes
    The style table gives circle radii and line widths in CSS pixels (1/96 inch). On
    paper they keep that physical size: 1 px = 0.75 pt (:data:`PT_PER_PX`), for the
    map and its legend alike, so circle area stays proportional to population.
    Circles are opaque on paper (the web map's are 92 %) so that the links under a
    large circle do not show through it.
Fonts
    DejaVu Sans, which matplotlib bundles, so the glyphs and the label placement do
    not depend on the fonts installed. PDF embeds it as TrueType (``pdf.fonttype
    42``), never as Type 3; SVG keeps text as text (``svg.fonttype none``) so it can
    be searched and edited.
Determinism
    No dates in the files and a fixed SVG hash salt: the same image gives the same
    bytes. Every matplotlib setting is made in an ``rc_context`` and the figure is
    drawn on its own Agg canvas, without pyplot, so nothing global changes.
"""

from __future__ import annotations

import itertools
import math
import re
import textwrap
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from io import BytesIO
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..config import MapOptions, PrintFormat
from ..errors import ConfigError, EmptyInputError, StrukturbildError
from ._geometry import label_point
from ._scene import Scene, scene_of, strak_labels
from .legend import LegendRow, LegendSection
from .style import (
    AREA_EDGE,
    AREA_FILL,
    BORDER,
    CONTEXT_DOT,
    CONTEXT_TEXT,
    COUNTRY_TEXT,
    FERRY_STYLE,
    GROUP_OPACITY,
    GROUP_PAD,
    LAN_EDGE,
    LAND,
    PAPER_MM,
    REGION_STYLE,
    SEA,
    STRAK_TEXT,
    context_radius,
    format_number,
    link_width,
    nice_floor,
    symbol_radius,
    text,
)

if TYPE_CHECKING:
    import geopandas as gpd
    from matplotlib.axes import Axes
    from matplotlib.backend_bases import RendererBase
    from matplotlib.figure import Figure
    from matplotlib.text import Annotation

    from ..image import StructureImage

__all__ = ["PT_PER_PX", "static_map_bytes"]

#: Points per CSS pixel: the style table's pixel sizes drawn at the same physical size.
PT_PER_PX = 72.0 / 96.0

Format = PrintFormat
_MM_PER_INCH = 25.4
_MM_PER_PT = _MM_PER_INCH / 72.0
#: A map in a geographic CRS (degrees) is drawn in SWEREF 99 TM, the project default.
_METRIC_CRS = "EPSG:3006"

_RC: dict[str, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 7.0,
    "text.parse_math": False,  # a "$" in a place name is text, not mathtext
    "text.usetex": False,
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "svg.fonttype": "none",
    "svg.hashsalt": "strukturbild",
    "lines.scale_dashes": False,  # dash lengths in points, as in the style table
    "savefig.facecolor": "white",
    "savefig.edgecolor": "white",
    "savefig.transparent": False,
}

# Colours and sizes of the furniture (everything that is not in the style table).
_INK = "#222222"
_MUTED = "#555555"
_FRAME = "#8c8c8c"
_HALO = "white"
_MARGIN_MM = 10.0
_ROW_MM = 4.3
_HEAD_MM = 5.2
_NOTE_MM = 3.3
_GAP_MM = 3.0
_KEY_MM = 9.0  # width of the symbol column of the legend


def _require_matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError as exc:
        raise StrukturbildError(
            "PNG, PDF and SVG maps need matplotlib: pip install matplotlib "
            "(or choose --format html)"
        ) from exc
    return matplotlib


def _metadata(fmt: Format, title: str) -> dict[str, Any]:
    """File metadata without dates, so rebuilds are byte-identical."""
    if fmt == "png":
        return {"Software": "strukturbild", "Title": title}
    if fmt == "pdf":
        return {"Creator": "strukturbild", "Title": title, "CreationDate": None}
    return {"Creator": "strukturbild", "Title": title, "Date": None}


def _page(paper: str, size_mm: tuple[float, float] | None) -> tuple[float, float]:
    if size_mm is not None:
        width, height = (float(v) for v in size_mm)
        if not (width >= 60 and height >= 60):
            raise ConfigError(f"size_mm must be at least 60 × 60 mm, got {size_mm!r}")
        return width, height
    return PAPER_MM[paper]


# --------------------------------------------------------------------------- public


def static_map_bytes(
    image: StructureImage,
    fmt: Format,
    options: MapOptions | None = None,
    *,
    size_mm: tuple[float, float] | None = None,
) -> bytes:
    """Draw the structure map and return the file's bytes.

    Parameters
    ----------
    image
        The structure image.
    fmt
        ``"png"``, ``"pdf"`` or ``"svg"``.
    options
        The map options (default: the image's own). What the print map uses:
        ``source_note`` (the source line; without one it is made from the image's
        inputs and their licences, "modellerade flöden" added when the links are
        modelled and "bakgrund: Natural Earth" when the base is drawn), ``paper``
        (``"A4-portrait"``, ``"A4-landscape"``, ``"A3-portrait"`` or
        ``"A3-landscape"``: portrait pages get the legend below the map, landscape
        pages beside it), ``dpi`` (of a PNG, and of any raster part of PDF/SVG),
        ``label_roles`` (places of this many highest roles that have places get a
        name label), ``weak_links`` (draw the weak links too; they are left out by
        default, as on the web map) and ``timestamp`` (added to the source line).
    size_mm
        Page width and height in millimetres, instead of the ``paper``.

    Returns
    -------
    bytes
        The PNG, PDF or SVG file.

    Raises
    ------
    StrukturbildError
        matplotlib is not installed.
    EmptyInputError
        The image has no places.

    Examples
    --------
    >>> from strukturbild.sources.example import example_project
    >>> from strukturbild.pipeline import build
    >>> svg = static_map_bytes(build(example_project()), "svg")
    >>> "Tillväxtmotor".encode() in svg and "modellerade flöden".encode() in svg
    True
    """
    if fmt not in ("png", "pdf", "svg"):
        raise ConfigError(f"unknown map format {fmt!r}; expected png, pdf or svg")
    opts = options or image.map_options
    page = _page(opts.paper, size_mm)
    if len(image.places) == 0:
        raise EmptyInputError("the structure image has no places to draw")
    scene = scene_of(image, opts, "print")
    with _rc_context():
        fig = _figure(scene, size_mm=page)
        buf = BytesIO()
        fig.savefig(buf, format=fmt, dpi=opts.dpi, metadata=_metadata(fmt, image.title))
    return buf.getvalue()


def _rc_context() -> AbstractContextManager[Any]:
    """matplotlib's settings for the print map, for the duration of a ``with`` block."""
    matplotlib = _require_matplotlib()
    context: AbstractContextManager[Any] = matplotlib.rc_context(_RC)
    return context


def _figure(scene: Scene, *, size_mm: tuple[float, float]) -> Figure:
    """The map as a Figure on its own Agg canvas; call inside :func:`_rc_context`."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(size_mm[0] / _MM_PER_INCH, size_mm[1] / _MM_PER_INCH),
                 dpi=scene.options.dpi)
    canvas = FigureCanvasAgg(fig)
    renderer: RendererBase = canvas.get_renderer()  # type: ignore[no-untyped-call]
    _draw(fig, renderer, scene, size_mm)
    return fig


# --------------------------------------------------------------------------- numbers


def _dashes(dash: str) -> tuple[float, tuple[float, ...]] | Literal["solid"]:
    """An SVG dash array in pixels as a matplotlib dash pattern in points."""
    parts = [float(p) * PT_PER_PX for p in dash.replace(",", " ").split()]
    if not parts:
        return "solid"
    return (0.0, tuple(parts))


def _wrap(s: str, width_mm: float, size_pt: float) -> list[str]:
    """Wrap ``s`` for a box ``width_mm`` wide (DejaVu Sans: ~0.6 em per character)."""
    chars = max(10, int(width_mm / (0.6 * size_pt * _MM_PER_PT)))
    return textwrap.wrap(s, chars) or [""]


# --------------------------------------------------------------------------- data


def _metric(gdf: gpd.GeoDataFrame | None, crs: Any) -> Any:
    """``gdf`` in ``crs`` (the places' metric CRS), or as it is when it has none."""
    if gdf is None or len(gdf) == 0 or crs is None or gdf.crs is None:
        return gdf
    return gdf if gdf.crs == crs else gdf.to_crs(crs)


def _places_xy(places: gpd.GeoDataFrame) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    geom = places.geometry
    pts = geom.where(geom.geom_type == "Point", geom.representative_point())
    return np.asarray(pts.x, dtype=float), np.asarray(pts.y, dtype=float)


def _line_parts(geom: Any) -> Iterator[np.ndarray[Any, Any]]:
    if geom is None or geom.is_empty:
        return
    for part in getattr(geom, "geoms", (geom,)):
        if part.geom_type in ("LineString", "LinearRing"):
            yield np.asarray(part.coords, dtype=float)[:, :2]


def _polygon_path(geom: Any) -> Any:
    """A matplotlib Path of a (Multi)Polygon: every ring closed, holes included."""
    from matplotlib.path import Path as MplPath

    verts: list[np.ndarray[Any, Any]] = []
    codes: list[np.ndarray[Any, Any]] = []
    for poly in getattr(geom, "geoms", (geom,)):
        if poly.geom_type != "Polygon" or poly.is_empty:
            continue
        for ring in (poly.exterior, *poly.interiors):
            xy = np.asarray(ring.coords, dtype=float)[:, :2]
            c = np.full(len(xy), MplPath.LINETO, dtype=np.uint8)
            c[0] = MplPath.MOVETO
            c[-1] = MplPath.CLOSEPOLY
            verts.append(xy)
            codes.append(c)
    if not verts:
        return None
    return MplPath(np.concatenate(verts), np.concatenate(codes))


# --------------------------------------------------------------------------- legend


def _row_height(row: LegendRow, width_mm: float) -> float:
    """Height of a row in a legend column ``width_mm`` wide (its text wrapped to fit)."""
    if row.kind == "head":
        return _HEAD_MM
    if row.kind == "note":
        return _NOTE_MM * len(_wrap(row.label, width_mm, 6.3)) + 0.8
    if row.kind == "circles":
        return sum(max(_ROW_MM, 2 * symbol_radius(v) * PT_PER_PX * _MM_PER_PT + 1.2)
                   for v in row.values)
    lines = len(_wrap(row.label, width_mm - _KEY_MM - 1.0, 7.0))
    text_h = 3.0 * lines + 1.3
    if row.kind in ("band", "group"):
        return max(_ROW_MM, text_h, row.size * PT_PER_PX * _MM_PER_PT + 1.5)
    return max(_ROW_MM, text_h)


def _section_height(rows: Sequence[LegendRow], width_mm: float) -> float:
    return sum(_row_height(r, width_mm) for r in rows)


def _draw_rows(ax: Axes, rows: Sequence[LegendRow], x: float, y_top: float, width: float,
               lang: str) -> float:
    """Draw legend rows from ``(x, y_top)`` (mm, legend axes); return the y below the last."""
    y = y_top
    for row in rows:
        h = _row_height(row, width)
        if row.kind == "head":
            ax.text(x, y - h + 1.3, row.label, fontsize=7.5, fontweight="bold", color=_INK,
                    va="baseline", ha="left")
        elif row.kind == "note":
            lines = _wrap(row.label, width, 6.3)
            ax.text(x, y - 0.4, "\n".join(lines), fontsize=6.3, color=row.colour if
                    row.emphasis else "#333333", fontweight="bold" if row.emphasis else
                    "normal", va="top", ha="left", linespacing=1.25)
        elif row.kind == "circles":
            _legend_circles(ax, row, x, y, lang)
        else:
            yc = y - h / 2
            _LEGEND_SYMBOLS[row.kind](ax, row, x, yc)
            ax.text(x + _KEY_MM + 1.0, yc, "\n".join(_wrap(row.label, width - _KEY_MM - 1.0,
                                                             7.0)),
                    fontsize=7.0, color=_INK, va="center", ha="left", linespacing=1.2)
        y -= h
    return y


def _gid(row: LegendRow) -> str | None:
    return f"legend-{row.key}" if row.key else None


def _legend_circles(ax: Axes, row: LegendRow, x: float, y: float, lang: str) -> None:
    """Nested sizes: a circle per round population, with its value."""
    for v in row.values:
        r_pt = symbol_radius(v) * PT_PER_PX
        rh = max(_ROW_MM, 2 * r_pt * _MM_PER_PT + 1.2)
        ax.scatter([x + _KEY_MM / 2], [y - rh / 2], s=[(2 * r_pt) ** 2], c=["#dddddd"],
                   edgecolors="#555555", linewidths=0.8 * PT_PER_PX,
                   gid=f"legend-size-{int(v)}", clip_on=False)
        ax.text(x + _KEY_MM + 1.0, y - rh / 2, format_number(v, lang, None),
                fontsize=7.0, color=_INK, va="center_baseline", ha="left")
        y -= rh


def _legend_dot(ax: Axes, row: LegendRow, x: float, yc: float) -> None:
    ax.scatter([x + _KEY_MM / 2], [yc], s=[(2 * row.size * PT_PER_PX) ** 2], c=[row.colour],
               edgecolors="white", alpha=row.opacity, linewidths=0.8 * PT_PER_PX,
               gid=_gid(row), clip_on=False)


def _legend_line(ax: Axes, row: LegendRow, x: float, yc: float) -> None:
    """A line (or a round-ended band) in the row's colour, width, dashes and opacity."""
    from matplotlib.lines import Line2D

    cap: Literal["round", "butt"] = "round" if row.kind == "band" else "butt"
    inset = row.size * PT_PER_PX * _MM_PER_PT / 2 if row.kind == "band" else 0.5
    ax.add_line(Line2D([x + inset, x + _KEY_MM - inset], [yc, yc], color=row.colour,
                       linewidth=row.size * PT_PER_PX, alpha=row.opacity,
                       linestyle=_dashes(row.dash), solid_capstyle=cap,
                       dash_capstyle="butt", gid=_gid(row), clip_on=False))


def _legend_taper(ax: Axes, row: LegendRow, x: float, yc: float) -> None:
    from matplotlib.collections import PolyCollection

    ax.add_collection(PolyCollection(
        [[(x + 0.5, yc + 1.2), (x + _KEY_MM - 0.5, yc + 0.25),
          (x + _KEY_MM - 0.5, yc - 0.25), (x + 0.5, yc - 1.2)]],
        facecolors=row.colour, alpha=row.opacity, edgecolors="none", gid=_gid(row),
        clip_on=False))


def _legend_group(ax: Axes, row: LegendRow, x: float, yc: float) -> None:
    """A joint designation: the band with a place at each end."""
    from matplotlib.lines import Line2D

    band = row.size * PT_PER_PX
    pad = band * _MM_PER_PT / 2
    ax.add_line(Line2D([x + pad, x + _KEY_MM - pad], [yc, yc], color=row.colour,
                       linewidth=band, alpha=row.opacity, solid_capstyle="round",
                       gid=_gid(row), clip_on=False))
    ax.scatter([x + pad, x + _KEY_MM - pad], [yc, yc], s=[(2 * 3.4) ** 2] * 2,
               c=[row.colour] * 2, edgecolors="white", linewidths=0.6, clip_on=False)


def _legend_patch(ax: Axes, row: LegendRow, x: float, yc: float) -> None:
    from matplotlib.patches import Rectangle

    patch = ax.add_patch(Rectangle(
        (x + 1.0, yc - 1.4), _KEY_MM - 2.0, 2.8,
        facecolor="none" if row.fill == "none" else row.fill,
        alpha=None, edgecolor=row.colour,
        linewidth=max(row.size, 0.6) * PT_PER_PX, linestyle=_dashes(row.dash),
        gid=_gid(row), clip_on=False))
    if row.fill != "none" and row.opacity < 1:
        patch.set_facecolor(_rgba(row.fill, row.opacity))


#: How each kind of legend row draws its symbol (mm, legend axes: left, middle).
_LEGEND_SYMBOLS: dict[str, Any] = {
    "dot": _legend_dot, "line": _legend_line, "band": _legend_line, "taper": _legend_taper,
    "group": _legend_group, "patch": _legend_patch}


def _rgba(colour: str, alpha: float) -> tuple[float, float, float, float]:
    c = colour.lstrip("#")
    return (int(c[0:2], 16) / 255, int(c[2:4], 16) / 255, int(c[4:6], 16) / 255, alpha)


# --------------------------------------------------------------------------- layout


@dataclass(frozen=True)
class _Layout:
    """Where things go on the page, in mm from its lower left corner."""

    title: tuple[float, float]  # left, first baseline
    title_lines: list[str]
    subtitle: tuple[float, float]
    map: tuple[float, float, float, float]  # left, bottom, width, height
    legend: tuple[float, float, float, float]
    blocks: list[tuple[float, float, float, LegendSection]]  # x, top, width, section
    footer: tuple[float, float]  # left, top
    footer_lines: list[str]


def _columns(sections: Sequence[LegendSection], n: int) -> list[list[LegendSection]]:
    """Sections in ``n`` columns: places first, then links, then the rest."""
    cols: list[list[LegendSection]] = [[] for _ in range(n)]
    for s in sections:
        if s.layer == "places":
            cols[0].append(s)
        elif s.layer in ("links", "weak", "strak"):
            cols[min(1, n - 1)].append(s)
        else:
            cols[min(2, n - 1) if n > 2 else 0].append(s)
    return [c for c in cols if c]


def _fits_without_title(sections: list[LegendSection], size_mm: tuple[float, float],
                       source: str) -> bool:
    """Whether the page would hold the map and its legend with a one-line title."""
    try:
        _layout(size_mm, "", "", sections, source)
    except ConfigError:
        return False
    return True


def _layout(size_mm: tuple[float, float], title: str, subtitle: str,
            sections: list[LegendSection], source: str) -> _Layout:
    """Title block on top, source line at the bottom, the legend beside the map
    (landscape) or below it (portrait, unless beside leaves the map more room), so
    that it never covers the data."""
    width, height = size_mm
    m = _MARGIN_MM
    inner_w = width - 2 * m
    title_lines = _wrap(title, inner_w, 16.0)
    title_h = 6.8 * len(title_lines) + 6.5
    footer_lines = _wrap(source, inner_w, 6.0)
    footer_h = 2.9 * len(footer_lines) + 2.0
    top = height - m - title_h
    bottom = m + footer_h + 1.0
    options = [_beside(sections, m, inner_w, top, bottom)]
    if width <= height:
        options.insert(0, _below(sections, m, inner_w, top, bottom))
    fits = [o for o in options if o[0][2] >= 30.0 and o[0][3] >= 30.0]
    if not fits:
        if len(title_lines) > 2 and _fits_without_title(sections, size_mm, source):
            raise ConfigError(
                f"the title ({len(title)} characters) takes {len(title_lines)} lines on a "
                f"page of {width:g} × {height:g} mm and leaves no room for the map; shorten "
                "[map] title (or [project] title)")
        raise ConfigError(f"size_mm {size_mm!r} leaves no room for the map beside its legend")
    map_box, legend_box, blocks = max(fits, key=lambda o: o[0][2] * o[0][3])
    title_base = height - m - 6.0
    return _Layout((m, title_base), title_lines,
                   (m, title_base - 6.8 * (len(title_lines) - 1) - 5.2), map_box, legend_box,
                   blocks, (m, m + footer_h - 0.5), footer_lines)


_Box4 = tuple[float, float, float, float]
_Blocks = list[tuple[float, float, float, LegendSection]]


def _beside(sections: list[LegendSection], m: float, inner_w: float, top: float,
            bottom: float) -> tuple[_Box4, _Box4, _Blocks]:
    """The legend in one or two columns on the right of the map."""
    col_w = min(64.0, 0.3 * inner_w)
    avail = top - bottom
    stack = sum(_section_height(s.rows, col_w) + _GAP_MM for s in sections)
    cols = [list(sections)] if stack <= avail else _split(sections, col_w, avail)
    leg_w = col_w * len(cols) + 4.0 * (len(cols) - 1)
    map_w = inner_w - leg_w - 5.0
    blocks: _Blocks = []
    for c, col in enumerate(cols):
        y_top = avail
        for sec in col:
            blocks.append((c * (col_w + 4.0), y_top, col_w, sec))
            y_top -= _section_height(sec.rows, col_w) + _GAP_MM
    return (m, bottom, map_w, avail), (m + map_w + 5.0, bottom, leg_w, avail), blocks


def _below(sections: list[LegendSection], m: float, inner_w: float, top: float,
           bottom: float) -> tuple[_Box4, _Box4, _Blocks]:
    """The legend's sections in columns under the map."""
    cols = _columns(sections, 3)
    fractions = {1: (1.0,), 2: (0.45, 0.55), 3: (0.31, 0.36, 0.33)}[len(cols)]
    widths = [inner_w * f - 3.0 for f in fractions]
    leg_h = max(sum(_section_height(s.rows, w) + _GAP_MM for s in col) - _GAP_MM
                for col, w in zip(cols, widths, strict=True))
    map_bottom = bottom + leg_h + _GAP_MM + 1.0
    blocks: _Blocks = []
    x = 0.0
    for col, w, f in zip(cols, widths, fractions, strict=True):
        y_top = leg_h
        for sec in col:
            blocks.append((x, y_top, w, sec))
            y_top -= _section_height(sec.rows, w) + _GAP_MM
        x += inner_w * f
    return (m, map_bottom, inner_w, top - map_bottom), (m, bottom, inner_w, leg_h), blocks


def _split(sections: Sequence[LegendSection], col_w: float, avail: float
           ) -> list[list[LegendSection]]:
    """Sections in two columns, the first as full as the height allows."""
    first: list[LegendSection] = []
    used = 0.0
    rest = list(sections)
    while rest and used + _section_height(rest[0].rows, col_w) <= avail:
        used += _section_height(rest[0].rows, col_w) + _GAP_MM
        first.append(rest.pop(0))
    return [first, rest] if first else [rest]


# --------------------------------------------------------------------------- drawing

_Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in display units (pixels)


@dataclass(frozen=True)
class _Ink:
    """What the map shows, as weighted sample points in display coordinates.

    A weight is the ink in pt² the sample stands for: a circle's area, or a piece of
    a link (length × width × opacity). Used to find the emptiest corner for the
    scale bar and the least covering spot for a label.
    """

    x: np.ndarray[Any, Any]
    y: np.ndarray[Any, Any]
    w: np.ndarray[Any, Any]

    def within(self, box: _Box) -> float:
        inside = (self.x >= box[0]) & (self.x <= box[2]) & (self.y >= box[1]) & \
            (self.y <= box[3])
        return float(self.w[inside].sum())


@dataclass(frozen=True)
class _Frames:
    """The scene's frames in a metric CRS (a map in degrees is drawn in SWEREF 99 TM)."""

    places: Any
    links: Any
    areas: Any
    lan: Any
    regions: Any
    base: Any
    layers: tuple[Any, ...]
    strak: Any = None


def _frames(scene: Scene) -> _Frames:
    image = scene.image
    places = image.places
    crs = places.crs
    if crs is not None and not crs.is_projected:
        crs = _METRIC_CRS
        places = places.to_crs(crs)
    lan = scene.lan
    if lan is not None and image.areas is not None and image.areas.crs is not None \
            and crs is not None and image.areas.crs != crs:
        import geopandas as gpd

        lan = gpd.GeoSeries([lan], crs=image.areas.crs).to_crs(crs).iloc[0]
    return _Frames(places=places, links=_metric(scene.links, crs),
                   areas=_metric(image.areas if scene.areas is not None else None, crs),
                   lan=lan, regions=_metric(image.regions, crs), base=_metric(scene.base, crs),
                   layers=tuple(_metric(layer.frame, crs) for layer in image.layers),
                   strak=_metric(scene.strak, crs))


@dataclass(frozen=True)
class _View:
    """The map's window: its limits in metres, and metres per point on paper."""

    x0: float
    x1: float
    y0: float
    y1: float
    m_per_pt: float

    @staticmethod
    def of(ax: Axes, renderer: RendererBase) -> _View:
        (xa, xb), (ya, yb) = ax.get_xlim(), ax.get_ylim()
        frame = ax.get_window_extent(renderer)
        pt_px = ax.figure.dpi / 72.0
        return _View(xa, xb, ya, yb, (xb - xa) / (frame.width / pt_px))

    def box(self, pad: float = 0.0) -> Any:
        import shapely

        return shapely.box(self.x0, self.y0, self.x1, self.y1).buffer(pad * (self.x1 - self.x0)) \
            if pad > 0 else shapely.box(self.x0, self.y0, self.x1, self.y1)


@dataclass(frozen=True)
class _Marks:
    """The places as drawn: their positions (map units), circle radii (pt), roles, the
    circles in display units (x, y, radius) and the joint designations' bands."""

    x: np.ndarray[Any, Any]
    y: np.ndarray[Any, Any]
    radii: np.ndarray[Any, Any]
    roles: np.ndarray[Any, Any]
    circles: np.ndarray[Any, Any]
    groups: dict[str, Any]


def _draw(fig: Figure, renderer: RendererBase, scene: Scene, size_mm: tuple[float, float]
          ) -> None:
    """The page: title block, the map, its names, the scale bar, the legend, the source."""
    image, lang = scene.image, scene.language
    frames = _frames(scene)
    subtitle = text("subtitle", lang) + (f" · {text('modelled', lang)}" if image.modelled
                                         else "")
    lay = _layout(size_mm, image.title, subtitle, list(scene.legend), scene.source)
    _draw_titles(fig, lay, size_mm, subtitle)
    ax = _map_axes(fig, lay, size_mm)
    x, y = _places_xy(frames.places)
    _set_extent(ax, x, y, frames.areas, frames.places, lay.map)
    view = _View.of(ax, renderer)
    _draw_geography(ax, scene, frames, view)
    link_ink = _draw_links(ax, scene, frames.links, view.m_per_pt) if len(frames.links) \
        else _Ink(*np.zeros((3, 0)))
    if frames.strak is not None:
        strak_ink = _draw_strak(ax, scene, frames.strak)
        link_ink = _Ink(*(np.concatenate([getattr(link_ink, k), getattr(strak_ink, k)])
                          for k in ("x", "y", "w")))
    marks = _draw_places(ax, scene, frames.places, x, y)
    ink = _Ink(np.concatenate([marks.circles[:, 0], link_ink.x]),
               np.concatenate([marks.circles[:, 1], link_ink.y]),
               np.concatenate([math.pi * marks.radii**2, link_ink.w]))
    furniture = _draw_scale_and_north(ax, renderer, ink, lang)
    context = _draw_context(ax, scene, frames.places.crs, view)
    pt_px = ax.figure.dpi / 72.0
    dots = [(float(a) - (r + 1) * pt_px, float(b) - (r + 1) * pt_px,
             float(a) + (r + 1) * pt_px, float(b) + (r + 1) * pt_px)
            for (_, x, y, r) in context
            for a, b in [ax.transData.transform((x, y))]]  # place names leave them free
    taken = _draw_place_names(ax, renderer, scene, frames.places, marks, [furniture, *dots],
                              link_ink, tiers=print_label_tiers(size_mm))
    _draw_context_names(ax, renderer, context, marks, taken, dots)
    _draw_area_names(ax, renderer, scene, frames, view, marks, taken)
    if frames.strak is not None:
        _draw_strak_names(ax, renderer, scene, frames, marks, taken)
    _draw_legend(fig, lay, size_mm, lang)


def _frac(box: tuple[float, float, float, float], size_mm: tuple[float, float]
          ) -> tuple[float, float, float, float]:
    width, height = size_mm
    return (box[0] / width, box[1] / height, box[2] / width, box[3] / height)


def _draw_titles(fig: Figure, lay: _Layout, size_mm: tuple[float, float], subtitle: str
                 ) -> None:
    """The title block on top and the source line at the bottom."""
    width, height = size_mm
    # matplotlib aligns a text of several lines by the baseline of its last line: that
    # one goes where the layout puts it, the lines above it down from the first baseline
    # (0.2.0 put the last line at the first baseline; a title of three lines or more
    # ran off the top of the page)
    last = lay.title[1] - 6.8 * (len(lay.title_lines) - 1)
    fig.text(lay.title[0] / width, last / height, "\n".join(lay.title_lines),
             fontsize=16, fontweight="bold", color=_INK, ha="left", va="baseline",
             linespacing=1.15, gid="title")
    fig.text(lay.subtitle[0] / width, lay.subtitle[1] / height, subtitle, fontsize=8.5,
             color=_MUTED, ha="left", va="baseline", gid="subtitle")
    fig.text(lay.footer[0] / width, lay.footer[1] / height, "\n".join(lay.footer_lines),
             fontsize=6.0, color=_MUTED, ha="left", va="top", linespacing=1.3, gid="source")


def _map_axes(fig: Figure, lay: _Layout, size_mm: tuple[float, float]) -> Axes:
    """The map's frame: no ticks, a thin grey border."""
    ax = fig.add_axes(_frac(lay.map, size_mm))
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_edgecolor(_FRAME)
        spine.set_linewidth(0.6)
    return ax


def _draw_geography(ax: Axes, scene: Scene, frames: _Frames, view: _View) -> None:
    """Bottom to top: the base (sea, land, national borders), the areas and the län
    borders, the own layers, the regions."""
    import shapely

    window = view.box(0.02)
    base = frames.base
    if base is not None:
        ax.set_facecolor(SEA)
        land = base[base["kind"] == "land"]
        _draw_polygons(ax, shapely.intersection(land.geometry.to_numpy(), window),
                       facecolor=LAND, edgecolor="none", zorder=0.5, gid="base-land")
        if scene.national:
            borders = base[base["kind"] == "border"]
            _draw_lines(ax, shapely.intersection(borders.geometry.to_numpy(), window),
                        colour=BORDER[0], width=1.0 * PT_PER_PX, dash=BORDER[1], zorder=0.6,
                        gid="base-borders")
    if frames.areas is not None:
        _draw_polygons(ax, frames.areas.geometry, facecolor=AREA_FILL, edgecolor=AREA_EDGE,
                       linewidth=0.7 * PT_PER_PX, zorder=1, gid="areas")
        if frames.lan is not None:
            _draw_lines(ax, [frames.lan], colour=LAN_EDGE, width=1.6 * PT_PER_PX, dash="",
                        zorder=1.2, gid="lan-borders")
    for n, (layer, frame) in enumerate(zip(scene.image.layers, frames.layers, strict=True)):
        _draw_layer(ax, frame, layer.style, zorder=1.5 + n * 0.01, gid=f"layer-{n}")
    if scene.layer("regions") is not None:
        colour, width_px, dash = REGION_STYLE
        _draw_polygons(ax, frames.regions.geometry, facecolor="none", edgecolor=colour,
                       alpha=0.85, linewidth=width_px * PT_PER_PX, linestyle=_dashes(dash),
                       zorder=2, gid="regions")


def _draw_context(ax: Axes, scene: Scene, crs: Any, view: _View
                  ) -> list[tuple[str, float, float, float]]:
    """The context beyond the project: ferry lines dashed, places as small grey dots
    (over the land, under the links); returns each place's (name, x, y, radius pt)."""
    import shapely

    if scene.layer("context") is None:
        return []
    window = view.box(0.02)
    if scene.ferries is not None:
        colour, width, dash, opacity = FERRY_STYLE
        ferries = _metric(scene.ferries, crs)
        _draw_lines(ax, shapely.intersection(ferries.geometry.to_numpy(), window),
                    colour=colour, width=width * PT_PER_PX, dash=dash, zorder=1.7,
                    gid="context-ferries", alpha=opacity)
    if scene.context is None:
        return []
    ctx = _metric(scene.context, crs)
    xy = shapely.get_coordinates(ctx.geometry.to_numpy())
    inside = (xy[:, 0] > view.x0) & (xy[:, 0] < view.x1) & (xy[:, 1] > view.y0) & \
        (xy[:, 1] < view.y1)
    radii = np.array([context_radius(float(p)) * PT_PER_PX for p in ctx["population"]])
    if inside.any():
        ax.scatter(xy[inside, 0], xy[inside, 1], s=(2 * radii[inside]) ** 2, c=CONTEXT_DOT,
                   edgecolors="white", linewidths=0.6 * PT_PER_PX, zorder=1.8,
                   gid="context-places")
    names = ctx[f"name_{scene.language}"].astype(str).to_numpy()
    return [(str(names[i]), float(xy[i, 0]), float(xy[i, 1]), float(radii[i]))
            for i in np.flatnonzero(inside)]


def _draw_context_names(ax: Axes, renderer: RendererBase,
                        context: Sequence[tuple[str, float, float, float]], marks: _Marks,
                        taken: list[_Box], dots: Sequence[_Box]) -> None:
    """The context places' names, grey, after the places' own: right of the dot, else
    left, above or below, where they cover no name and no circle and stay in the map."""
    pt_px = ax.figure.dpi / 72.0
    frame = ax.get_window_extent(renderer)
    for k, (name, x, y, r) in enumerate(context):
        others = [t for t in taken if t is not dots[k]]  # its own dot is no obstacle
        gap = r + 1.5
        ann = ax.annotate(name, (x, y), xytext=(gap, 0.0), textcoords="offset points",
                          fontsize=6.5, color=CONTEXT_TEXT, zorder=7.05,
                          annotation_clip=False)
        spots: tuple[tuple[float, float, _HAlign, _VAlign], ...] = (
            (gap, 0.0, "left", "center_baseline"), (-gap, 0.0, "right", "center_baseline"),
            (0.0, gap, "center", "bottom"), (0.0, -gap, "center", "top"))
        for dx, dy, ha, va in spots:
            ann.xyann = (dx, dy)
            ann.set_horizontalalignment(ha)
            ann.set_verticalalignment(va)
            e = ann.get_window_extent(renderer)
            h = 1.0 * pt_px
            box = (e.x0 - h, e.y0 - h, e.x1 + h, e.y1 + h)
            inside = box[0] >= frame.x0 and box[1] >= frame.y0 and box[2] <= frame.x1 and \
                box[3] <= frame.y1
            hits = _circles_hit(box, marks.circles[:, 0], marks.circles[:, 1],
                                marks.circles[:, 2])
            if inside and not hits.any() and not any(_rects_overlap(box, t) for t in others):
                ann.set_gid(f"context-label-{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}")
                ax.annotate(name, (x, y), xytext=(dx, dy), textcoords="offset points",
                            ha=ha, va=va, fontsize=6.5, color=_HALO, zorder=7.0,
                            annotation_clip=False, path_effects=_halo())
                taken.append(box)
                break
        else:
            ann.remove()


def _draw_places(ax: Axes, scene: Scene, places: gpd.GeoDataFrame, x: np.ndarray[Any, Any],
                 y: np.ndarray[Any, Any]) -> _Marks:
    """The joint designations' bands, then the circles, coloured by role, small on top."""
    by_key = {s.key: s for s in scene.styles}
    roles = np.array([str(k) for k in places["role"]], dtype=object)
    population = places["population"].to_numpy(dtype=float)
    radii = np.array([symbol_radius(p) * PT_PER_PX for p in population])
    colours = np.array([by_key[k].colour if k in by_key else "#a6a6a6" for k in roles])
    groups = _draw_groups(ax, scene, places, x, y, radii)
    order = scene.order
    ax.scatter(x[order], y[order], s=(2 * radii[order]) ** 2, c=list(colours[order]),
               edgecolors="white", linewidths=0.8 * PT_PER_PX, zorder=6, gid="places")
    disp = ax.transData.transform(np.column_stack([x, y]))
    circles = np.column_stack([disp, radii * ax.figure.dpi / 72.0])
    return _Marks(x, y, radii, roles, circles, groups)


#: The paper a print map's labels are set for: on a page of twice its area (A3) the
#: names of one more role join, as the web map's do one zoom step in.
_LABEL_PAPER_MM2 = 210.0 * 297.0


def print_label_tiers(size_mm: tuple[float, float]) -> int:
    """How many label tiers a page of ``size_mm`` names: 1 (the labelled roles) on A4,
    one more for each doubling of the paper (A3: 2, A2: 3).

    Examples
    --------
    >>> print_label_tiers((210, 297)), print_label_tiers((420, 297)), print_label_tiers((594, 420))
    (1, 2, 3)
    """
    ratio = size_mm[0] * size_mm[1] / _LABEL_PAPER_MM2
    return 1 + max(0, math.floor(math.log2(max(ratio, 1e-9)) + 1e-6))


def _draw_place_names(ax: Axes, renderer: RendererBase, scene: Scene,
                      places: gpd.GeoDataFrame, marks: _Marks, blocked: list[_Box],
                      link_ink: _Ink, *, tiers: int = 1) -> list[_Box]:
    """The joint designations' names, then the places of the labelled roles, highest
    first, each at its dot (a joint designation's places too); on larger paper
    (``tiers`` > 1) the places of the next roles down as well, in the smallest size,
    where they fit. Returns the boxes they take."""
    level = dict(zip((s.key for s in scene.styles), scene.label_level, strict=True))
    tier = dict(zip((s.key for s in scene.styles), scene.label_tier, strict=True))
    labelled = set(scene.labelled)
    named = {k for k, t in tier.items() if t < tiers}
    population = places["population"].to_numpy(dtype=float)

    def size(key: str) -> int:
        return min(level[key], 2) if key in labelled else 2

    cand = sorted((i for i in range(len(places)) if marks.roles[i] in named),
                  key=lambda i: (tier[str(marks.roles[i])], size(str(marks.roles[i])),
                                 -population[i], i))
    ids = [re.sub(r"[^A-Za-z0-9_.-]", "_", str(v)) for v in places.index]
    if any(marks.roles[i] in labelled for i in marks.groups.get("members", [])):
        for label, (gx, gy), half in marks.groups.get("labels", []):
            box = _centred_label(ax, renderer, label, gx, gy, half, blocked, marks.circles,
                                 "group", bold=True)
            if box is not None:
                blocked.append(box)
    placed = _place_labels(ax, renderer, [(i, f"label-{ids[i]}", str(places["name"].iloc[i]),
                                           size(str(marks.roles[i]))) for i in cand],
                           marks.x, marks.y, marks.radii, marks.circles,
                           hard=np.isin(marks.roles, list(labelled)), blocked=blocked,
                           ink=link_ink)
    return blocked + [_box_of(a, renderer) for a in placed]


def _draw_area_names(ax: Axes, renderer: RendererBase, scene: Scene, frames: _Frames,
                     view: _View, marks: _Marks, taken: list[_Box]) -> None:
    """The regions' names, then the neighbouring countries', where they fit."""
    import shapely

    regions = frames.regions
    if scene.layer("regions") is not None and "name" in regions:
        for name, geom in zip(regions["name"], regions.geometry, strict=True):
            pt = label_point(geom)
            if pt is not None:
                box = _centred_label(ax, renderer, str(name), pt.x, pt.y, 0.0, taken,
                                     marks.circles, "region")
                if box is not None:
                    taken.append(box)
    base = frames.base
    if base is None:
        return
    inner = view.box().buffer(-0.04 * (view.x1 - view.x0))
    neighbours = base[(base["kind"] == "land") & (base["part"] == "neighbour")]
    for name, geom in zip(neighbours[f"name_{scene.language}"], neighbours.geometry,
                          strict=True):
        pt = label_point(shapely.intersection(geom, inner))
        if pt is not None and not pt.is_empty:
            box = _centred_label(ax, renderer, str(name).upper(), pt.x, pt.y, 0.0, taken,
                                 marks.circles, "country")
            if box is not None:
                taken.append(box)


def _draw_strak_names(ax: Axes, renderer: RendererBase, scene: Scene, frames: _Frames,
                      marks: _Marks, taken: list[_Box]) -> None:
    """The stråk's names, busiest first, in the room the other names leave: on the band
    at one of its points (:func:`~._scene.strak_labels`) or just above or below it,
    else beside it, covering no name, no circle and no other stråk's band
    (``corridor-label-<name>``)."""
    import shapely

    strak = frames.strak
    widths = {c.width_class: c.width for c in scene.strak_classes}
    pt_px = ax.figure.dpi / 72.0
    # each stråk's band on the page (display units, as wide as drawn)
    bands: dict[int, Any] = {}
    for sid, cls, geom in zip(strak["strak_id"], strak["width_class"], strak.geometry,
                              strict=True):
        half = widths.get(int(cls), 0.0) * PT_PER_PX / 2 * pt_px
        drawn = [shapely.LineString(ax.transData.transform(part)).buffer(half, 2)
                 for part in _line_parts(geom) if len(part) > 1]
        bands[int(sid)] = shapely.union_all([bands.get(int(sid), shapely.Polygon()),
                                             *drawn])
    for lab in strak_labels(strak, np.column_stack([marks.x, marks.y]), widths,
                            skip=[g.name for g in scene.groups]):
        others = shapely.union_all([b for k, b in bands.items() if k != lab.strak_id])
        shapely.prepare(others)

        def clear(box: _Box, others: Any = others) -> bool:
            """The name touches no other stråk's band: it names the one it stands by."""
            return not others.intersects(shapely.box(*box))

        # on or along the band at any of its points first, beside it only then
        for beside, (x, y, width) in itertools.product((False, True), lab.points):
            box = _centred_label(ax, renderer, lab.name, x, y, width * PT_PER_PX / 2, taken,
                                 marks.circles, "corridor", beside=beside, clear=clear)
            if box is not None:
                taken.append(box)
                break


def _draw_legend(fig: Figure, lay: _Layout, size_mm: tuple[float, float], lang: str) -> None:
    leg = fig.add_axes(_frac(lay.legend, size_mm))
    leg.set_axis_off()
    leg.set_xlim(0, lay.legend[2])
    leg.set_ylim(0, lay.legend[3])
    for bx, by, bw, section in lay.blocks:
        _draw_rows(leg, section.rows, bx, by, bw, lang)


def _set_extent(ax: Axes, x: np.ndarray[Any, Any], y: np.ndarray[Any, Any],
                areas: gpd.GeoDataFrame | None, places: gpd.GeoDataFrame,
                box_mm: tuple[float, float, float, float]) -> None:
    """Fit the places (and their own areas) in the map box, north up, one scale."""
    x0, y0, x1, y1 = float(x.min()), float(y.min()), float(x.max()), float(y.max())
    if areas is not None and len(areas) and "area_id" in places:
        own = areas[areas.index.isin(places["area_id"].astype(str))]
        if len(own):
            ax0, ay0, ax1, ay1 = (float(v) for v in own.total_bounds)
            x0, y0, x1, y1 = min(x0, ax0), min(y0, ay0), max(x1, ax1), max(y1, ay1)
    pad = 0.07 * max(x1 - x0, y1 - y0, 1000.0)
    x0, y0, x1, y1 = x0 - pad, y0 - pad, x1 + pad, y1 + pad
    scale = max((x1 - x0) / box_mm[2], (y1 - y0) / box_mm[3])  # metres per mm of paper
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    ax.set_xlim(cx - scale * box_mm[2] / 2, cx + scale * box_mm[2] / 2)
    ax.set_ylim(cy - scale * box_mm[3] / 2, cy + scale * box_mm[3] / 2)
    ax.set_autoscale_on(False)


def _draw_polygons(ax: Axes, geoms: Any, **style: Any) -> None:
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import PathPatch

    paths = [p for p in (_polygon_path(g) for g in geoms if g is not None) if p is not None]
    ax.add_collection(PatchCollection([PathPatch(p) for p in paths], **style), autolim=False)


def _draw_lines(ax: Axes, geoms: Any, *, colour: str, width: float, dash: str, zorder: float,
                gid: str, alpha: float = 1.0, cap: str = "butt") -> None:
    from matplotlib.collections import LineCollection

    segs = [part for g in geoms for part in _line_parts(g)]
    if segs:
        ax.add_collection(LineCollection(segs, colors=colour, linewidths=width, alpha=alpha,
                                         linestyles=_dashes(dash), capstyle=cap, zorder=zorder,
                                         gid=gid), autolim=False)


def _draw_layer(ax: Axes, frame: gpd.GeoDataFrame, style: Any, *, zorder: float, gid: str) -> None:
    """An own layer with its style: polygons filled and outlined, lines, points."""
    kinds = frame.geom_type.astype(str)
    polys = frame.geometry[kinds.str.contains("Polygon")]
    lines = frame.geometry[kinds.str.contains("LineString")]
    points = frame.geometry[kinds.str.contains("Point")]
    colour, width = str(style["colour"]), float(style["width"])
    fill, opacity, dash = str(style["fill"]), float(style["opacity"]), str(style.get("dash", ""))
    if len(polys):
        _draw_polygons(ax, polys, facecolor="none" if fill == "none" else _rgba(fill, opacity),
                       edgecolor=colour, linewidth=min(width, 3.0) * PT_PER_PX,
                       linestyle=_dashes(dash), zorder=zorder, gid=gid)
    if len(lines):
        _draw_lines(ax, lines, colour=colour, width=width * PT_PER_PX, dash=dash,
                    zorder=zorder + 0.001, gid=f"{gid}-lines", alpha=opacity, cap="round")
    if len(points):
        import shapely

        xy = shapely.get_coordinates(points.to_numpy())
        r = max(3.0, min(width, 8.0)) * PT_PER_PX
        ax.scatter(xy[:, 0], xy[:, 1], s=(2 * r) ** 2,
                   c=[fill if fill != "none" else colour], alpha=max(opacity, 0.6),
                   edgecolors="white", linewidths=0.75, zorder=zorder + 0.002,
                   gid=f"{gid}-points")


def _taper(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any], h0: float, h1: float,
           dash: tuple[float, float] | None) -> list[np.ndarray[Any, Any]]:
    """The quads of a tapered link from ``a`` to ``b`` (half widths ``h0``, ``h1``)."""
    d = b - a
    length = float(np.hypot(*d))
    if not length:
        return []
    nrm = np.array([-d[1], d[0]]) / length

    def quad(t0: float, t1: float) -> np.ndarray[Any, Any]:
        w0, w1 = h0 + (h1 - h0) * t0, h0 + (h1 - h0) * t1
        p0, p1 = a + d * t0, a + d * t1
        return np.array([p0 + nrm * w0, p1 + nrm * w1, p1 - nrm * w1, p0 - nrm * w0])

    if dash is None:
        return [quad(0.0, 1.0)]
    on, off = dash
    out = []
    s = 0.0
    while s < length:
        out.append(quad(s / length, min(s + on, length) / length))
        s += on + off
    return out


def _draw_links(ax: Axes, scene: Scene, links: gpd.GeoDataFrame, m_per_pt: float) -> _Ink:
    """Links as tapered shapes, as the web map draws them, in the scene's order and
    styles (local ones first, regional on top, each weakest first): one collection per
    style, ``links-<scope>-<class>``. Returns their ink, sampled every 2 pt along each
    link."""
    from matplotlib.collections import PolyCollection

    pt_px = ax.figure.dpi / 72.0
    samples: list[tuple[np.ndarray[Any, Any], ...]] = []
    z = 3.0
    for key in dict.fromkeys(links["style"]):
        style = scene.style_of(key)
        sub = links[(links["style"] == key).to_numpy()]
        pattern = None
        if style.dash:
            on, off = (float(v) * PT_PER_PX * m_per_pt for v in style.dash.split())
            pattern = (on, off)
        quads: list[np.ndarray[Any, Any]] = []
        for geom, a_, b_, total in zip(sub.geometry, sub["flow_od"].fillna(0.0),
                                       sub["flow_do"].fillna(0.0), sub["total"], strict=True):
            w = link_width(float(total), scene.max_flow)
            m = max(float(a_), float(b_), 1e-9)
            h0 = max(w * float(a_) / m, 0.6) * PT_PER_PX * m_per_pt / 2
            h1 = max(w * float(b_) / m, 0.6) * PT_PER_PX * m_per_pt / 2
            for part in _line_parts(geom):
                quads.extend(_taper(part[0], part[-1], h0, h1, pattern))
                samples.append(_ink_along(ax, part, w, style.opacity, pt_px))
        ax.add_collection(PolyCollection(
            quads, facecolors=style.colour, edgecolors="none", alpha=style.opacity,
            zorder=z, gid=f"links-{key}"), autolim=False)
        z += 0.1
    if not samples:
        return _Ink(*np.zeros((3, 0)))
    return _Ink(*(np.concatenate([s[k] for s in samples]) for k in range(3)))


def _draw_strak(ax: Axes, scene: Scene, strak: gpd.GeoDataFrame) -> _Ink:
    """The stråk's sections as round-ended bands of their class's width, thinnest
    first, in one opaque colour (a stråk's sections merge into one band), over the own
    layers and under the regions and the links: one collection per class,
    ``strak-<class>``. Returns their ink, sampled every 2 pt along each segment."""
    from matplotlib.collections import LineCollection

    pt_px = ax.figure.dpi / 72.0
    samples: list[tuple[np.ndarray[Any, Any], ...]] = []
    for c in scene.strak_classes:
        sub = strak[(strak["width_class"] == c.width_class).to_numpy()]
        segs = [part for g in sub.geometry for part in _line_parts(g)]
        if not segs:
            continue
        ax.add_collection(LineCollection(
            segs, colors=c.colour, linewidths=c.width * PT_PER_PX, alpha=c.opacity,
            capstyle="round", joinstyle="round", zorder=1.9 + c.width_class * 0.001,
            gid=f"strak-{c.width_class}"), autolim=False)
        for part in segs:
            for a, b in itertools.pairwise(part):
                samples.append(_ink_along(ax, np.array([a, b]), c.width, c.opacity, pt_px))
    if not samples:
        return _Ink(*np.zeros((3, 0)))
    return _Ink(*(np.concatenate([s[k] for s in samples]) for k in range(3)))


def _ink_along(ax: Axes, part: np.ndarray[Any, Any], width: float, alpha: float,
               pt_px: float) -> tuple[np.ndarray[Any, Any], ...]:
    """Sample points every 2 pt along a link (``width`` px), each with the ink (pt²) it
    stands for."""
    d = ax.transData.transform(np.array([part[0], part[-1]]))
    length = float(np.hypot(*(d[1] - d[0])))
    n = max(2, math.ceil(length / (2.0 * pt_px)))
    t = np.linspace(0.0, 1.0, n)
    return (d[0, 0] + (d[1, 0] - d[0, 0]) * t, d[0, 1] + (d[1, 1] - d[0, 1]) * t,
            np.full(n, length / pt_px / n * width * PT_PER_PX * alpha))


def _draw_groups(ax: Axes, scene: Scene, places: gpd.GeoDataFrame, x: np.ndarray[Any, Any],
                 y: np.ndarray[Any, Any], radii: np.ndarray[Any, Any]) -> dict[str, Any]:
    """Joint designations as one band joining their places (under the circles).

    Returns the members' positions and, per group, its label, the middle of its band
    and the band's half width in points.
    """
    from matplotlib.lines import Line2D

    out: dict[str, Any] = {"members": [], "labels": []}
    position = {str(k): i for i, k in enumerate(places.index)}
    styles = {s.key: s for s in scene.styles}
    for group in scene.groups:
        path = [position[m] for m in group.members]
        colour = styles[group.role].colour if group.role in styles else "#a6a6a6"
        width = 2 * float(radii[path].max()) + 2 * GROUP_PAD * PT_PER_PX
        ax.add_line(Line2D(x[path], y[path], color=colour, alpha=GROUP_OPACITY,
                           linewidth=width, solid_capstyle="round", solid_joinstyle="round",
                           zorder=5.5, gid=f"group-{re.sub(r'[^A-Za-z0-9_.-]', '_', group.name)}"))
        lo, hi = path[(len(path) - 1) // 2], path[len(path) // 2]
        out["members"].extend(sorted(path))
        out["labels"].append((group.name, ((x[lo] + x[hi]) / 2, (y[lo] + y[hi]) / 2),
                              width / 2))
    return out


def _draw_scale_and_north(ax: Axes, renderer: RendererBase, ink: _Ink, lang: str) -> _Box:
    """A scale bar in km and a north arrow, in the corner of the map with least ink.

    Returns the box they cover, in display coordinates.
    """
    from matplotlib.patches import FancyBboxPatch, Polygon, Rectangle

    (xa, xb), (ya, yb) = ax.get_xlim(), ax.get_ylim()
    frame = ax.get_window_extent(renderer)
    pt_px = ax.figure.dpi / 72.0
    m_per_pt = (xb - xa) / (frame.width / pt_px)
    length_km = nice_floor((xb - xa) * 0.22 / 1000.0)
    bar_w = length_km * 1000.0
    pad = 6.0 * m_per_pt
    box_w = bar_w + 2.0 * pad + 34.0 * m_per_pt  # room for "km" and the arrow
    box_h = 24.0 * m_per_pt
    corners = [
        (xa + pad, ya + pad),  # lower left
        (xb - pad - box_w, ya + pad),  # lower right
        (xa + pad, yb - pad - box_h),  # upper left
        (xb - pad - box_w, yb - pad - box_h),  # upper right
    ]

    def display_box(bx: float, by: float) -> _Box:
        (d0x, d0y), (d1x, d1y) = ax.transData.transform([(bx, by), (bx + box_w, by + box_h)])
        return (float(d0x), float(d0y), float(d1x), float(d1y))

    bx, by = min(corners, key=lambda c: (ink.within(display_box(*c)), corners.index(c)))
    ax.add_patch(FancyBboxPatch((bx, by), box_w, box_h,
                                boxstyle=f"round,pad=0,rounding_size={2.0 * m_per_pt}",
                                facecolor="white", edgecolor="none", alpha=0.85, zorder=8))
    # The bar: two halves, dark and light, labelled 0, half and the full length.
    sx, sy = bx + pad, by + 0.9 * pad
    seg_h = 3.0 * m_per_pt
    for i in range(2):
        ax.add_patch(Rectangle((sx + i * bar_w / 2, sy), bar_w / 2, seg_h,
                               facecolor=_INK if i == 0 else "white", edgecolor=_INK,
                               linewidth=0.5, zorder=9, gid=f"scalebar-{i}"))
    for v in (0.0, length_km / 2, length_km):
        ax.text(sx + v * 1000.0, sy + seg_h + 2.0 * m_per_pt, format_number(v, lang, None),
                fontsize=6.5, ha="center", va="bottom", color=_INK, zorder=9)
    ax.text(sx + bar_w + 3.0 * m_per_pt, sy + seg_h / 2, "km", fontsize=6.5, ha="left",
            va="center_baseline", color=_INK, zorder=9)
    # The north arrow: the metric CRS's grid north, which is up.
    nx = sx + bar_w + 24.0 * m_per_pt
    ny = by + 0.6 * pad
    ah, aw = 11.0 * m_per_pt, 4.5 * m_per_pt
    for n, (side, face) in enumerate(((-1.0, _INK), (1.0, "white"))):
        ax.add_patch(Polygon([(nx + side * aw, ny), (nx, ny + ah), (nx, ny + 0.3 * ah)],
                             closed=True, facecolor=face, edgecolor=_INK, linewidth=0.5,
                             zorder=9, gid=f"north-{n}"))
    ax.text(nx, ny + ah + m_per_pt, "N", fontsize=7.5, fontweight="bold", ha="center",
            va="bottom", color=_INK, zorder=9)
    return display_box(bx, by)


_HAlign = Literal["left", "center", "right"]
_VAlign = Literal["bottom", "center_baseline", "top"]
#: Label positions around a point, in order of preference: (dx, dy, ha, va).
_POSITIONS: tuple[tuple[float, float, _HAlign, _VAlign], ...] = (
    (1.0, 0.0, "left", "center_baseline"),
    (0.72, 0.72, "left", "bottom"),
    (-1.0, 0.0, "right", "center_baseline"),
    (-0.72, 0.72, "right", "bottom"),
    (0.72, -0.72, "left", "top"),
    (-0.72, -0.72, "right", "top"),
    (0.0, 1.0, "center", "bottom"),
    (0.0, -1.0, "center", "top"),
)
#: Ink (pt²) a label may cover to stay in a more preferred position.
_POSITION_COST = 6.0
#: Label styles of names that are not places: font size, weight, style, colour, spacing.
_NAME_STYLES: dict[str, dict[str, Any]] = {
    "group": {"fontsize": 8.0, "fontweight": "bold", "color": _INK},
    "region": {"fontsize": 7.5, "fontstyle": "italic", "color": REGION_STYLE[0]},
    "country": {"fontsize": 7.0, "color": COUNTRY_TEXT},
    # a stråk's name: italic, in a dark shade of the band's colour
    "corridor": {"fontsize": 7.0, "fontstyle": "italic", "fontweight": "bold",
                 "color": STRAK_TEXT},
}


def _circles_hit(box: _Box, cx: np.ndarray[Any, Any], cy: np.ndarray[Any, Any],
                 rad: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Which circles a rectangle touches: the nearest point of the box is inside."""
    nx = np.clip(cx, box[0], box[2])
    ny = np.clip(cy, box[1], box[3])
    hit: np.ndarray[Any, Any] = (nx - cx) ** 2 + (ny - cy) ** 2 < rad**2
    return hit


def _rects_overlap(a: _Box, b: _Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _box_of(ann: Any, renderer: RendererBase) -> _Box:
    e = ann.get_window_extent(renderer)
    return (float(e.x0), float(e.y0), float(e.x1), float(e.y1))


def _halo() -> list[Any]:
    from matplotlib import patheffects

    return [patheffects.Stroke(linewidth=2.2, foreground=_HALO)]


def _centred_label(ax: Axes, renderer: RendererBase, name: str, px: float, py: float,
                   half_pt: float, taken: list[_Box], circles: np.ndarray[Any, Any],
                   kind: str, bold: bool = False, beside: bool = False,
                   clear: Callable[[_Box], bool] | None = None) -> _Box | None:
    """A name centred on a point (or just above or below it; ``beside``: right or left
    of it instead): a joint designation's band, a region, a country, a stråk. Placed
    only where it covers no placed label, no circle, passes its own test (``clear``)
    and stays inside the map; returns its box."""
    style = dict(_NAME_STYLES[kind])
    pt_px = ax.figure.dpi / 72.0
    frame = ax.get_window_extent(renderer)
    gid = f"{kind}-label-{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}"
    spots: list[tuple[float, float, _HAlign, _VAlign]] = [
        (0.0, 0.0, "center", "center_baseline"), (0.0, half_pt + 1.5, "center", "bottom"),
        (0.0, -half_pt - 1.5, "center", "top")]
    if beside:  # a stråk's name, right or left of its band
        spots = [(half_pt + 2.5, 0.0, "left", "center_baseline"),
                 (-half_pt - 2.5, 0.0, "right", "center_baseline")]
    for dx, dy, ha, va in spots:
        ann = ax.annotate(name, (px, py), xytext=(dx, dy), textcoords="offset points",
                          ha=ha, va=va, zorder=7.2, annotation_clip=False, **style)
        e = ann.get_window_extent(renderer)
        h = 1.1 * pt_px
        # a stråk's name keeps a word's room from the other names beside it
        w = (5.0 if kind == "corridor" else 1.1) * pt_px
        box = (e.x0 - w, e.y0 - h, e.x1 + w, e.y1 + h)
        hits = _circles_hit(box, circles[:, 0], circles[:, 1], circles[:, 2])
        inside = box[0] >= frame.x0 and box[1] >= frame.y0 and box[2] <= frame.x1 and \
            box[3] <= frame.y1
        if inside and not hits.any() and not any(_rects_overlap(box, t) for t in taken) \
                and (clear is None or clear(box)):
            ann.set_gid(gid)
            if kind != "country":
                ax.annotate(name, (px, py), xytext=(dx, dy), textcoords="offset points",
                            ha=ha, va=va, zorder=7.15, annotation_clip=False,
                            path_effects=_halo(), **{**style, "color": _HALO})
            return box
        ann.remove()
    return None


def _place_labels(ax: Axes, renderer: RendererBase, labels: list[tuple[int, str, str, int]],
                  x: np.ndarray[Any, Any], y: np.ndarray[Any, Any],
                  radii: np.ndarray[Any, Any], circles: np.ndarray[Any, Any], *,
                  hard: np.ndarray[Any, Any], blocked: list[_Box], ink: _Ink
                  ) -> list[Annotation]:
    """Greedy label placement: the best free position around each point, or no label.

    ``labels`` are ``(place index, gid, text, level)`` in priority order (level 0, the
    highest role's names, largest; 2 the smallest, not bold); ``circles``
    holds every place's circle (x, y, radius) in display units. A position is free
    when the label (with its halo) stays inside the map and touches no placed label,
    no circle of a ``hard`` place (a boolean mask) and nothing in ``blocked``. Among free positions
    the one covering least ink (other circles, links) wins; each step down the list
    of :data:`_POSITIONS` costs :data:`_POSITION_COST`, so a label keeps to the right
    of its point unless that covers clearly more.
    """
    pt_px = ax.figure.dpi / 72.0
    frame = ax.get_window_extent(renderer)
    inner = (frame.x0 + 2 * pt_px, frame.y0 + 2 * pt_px, frame.x1 - 2 * pt_px,
             frame.y1 - 2 * pt_px)
    placed: list[_Box] = list(blocked)
    out: list[Annotation] = []
    for i, gid, name, level in labels:
        gap = float(radii[i]) + 1.5
        font: dict[str, Any] = {"fontsize": (8.5, 8.0, 7.0)[level],
                                "fontweight": "bold" if level < 2 else "normal"}
        ann = ax.annotate(name, (float(x[i]), float(y[i])), xytext=(gap, 0.0),
                          textcoords="offset points", color=_INK, zorder=7.1,
                          annotation_clip=False, **font)
        best: tuple[float, int, _Box] | None = None
        for n, (dx, dy, ha, va) in enumerate(_POSITIONS):
            ann.xyann = (dx * gap, dy * gap)
            ann.set_horizontalalignment(ha)
            ann.set_verticalalignment(va)
            e = ann.get_window_extent(renderer)
            h = 1.1 * pt_px  # the halo
            box = (e.x0 - h, e.y0 - h, e.x1 + h, e.y1 + h)
            if box[0] < inner[0] or box[1] < inner[1] or box[2] > inner[2] or \
                    box[3] > inner[3]:
                continue
            if any(_rects_overlap(box, p) for p in placed):
                continue
            hits = _circles_hit(box, circles[:, 0], circles[:, 1], circles[:, 2])
            hits[i] = False
            if (hits & hard).any():
                continue
            cost = ink.within(box) + float(math.pi * (radii[hits] ** 2).sum()) + \
                _POSITION_COST * n
            if best is None or (cost, n) < best[:2]:
                best = (cost, n, box)
        if best is None:
            ann.remove()
            continue
        dx, dy, ha, va = _POSITIONS[best[1]]
        ann.xyann = (dx * gap, dy * gap)
        ann.set_horizontalalignment(ha)
        ann.set_verticalalignment(va)
        ann.set_gid(gid)
        # The halo is a stroked copy under the label: a path effect turns text into
        # outlines, so the label itself stays text (searchable in PDF and SVG).
        ax.annotate(name, (float(x[i]), float(y[i])), xytext=ann.xyann,
                    textcoords="offset points", ha=ha, va=va, color=_HALO, zorder=7.0,
                    annotation_clip=False, path_effects=_halo(), **font)
        placed.append(best[2])
        out.append(ann)
    return out


