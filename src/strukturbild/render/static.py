"""The structure map for reports: PNG, PDF and SVG drawn with matplotlib.

It shows what the web map (:mod:`strukturbild.render.web`) shows, from the same style
table (:mod:`strukturbild.render.style`): places as circles whose area is proportional
to population, coloured by role; links whose width follows the flow, coloured and
dashed by link class, weak links under strong ones; kommuner as a light base and
functional regions as outlines; name labels for the two highest roles that have
places; a legend, a scale bar in km, a north arrow, the title and the source line
(with "modellerade flöden" when the links are modelled).

Sizes
    The style table gives circle radii and line widths in CSS pixels (1/96 inch). On
    paper they keep that physical size: 1 px = 0.75 pt (:data:`PT_PER_PX`), for the
    map and its legend alike, so circle area stays proportional to population.
    Circles are opaque on paper (the web map's are 90 %) so that the links under a
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
import os
import re
import secrets
import textwrap
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..errors import ConfigError, EmptyInputError, StrukturbildError
from ..image import StructureImage
from .style import (
    LINK_CLASS_STYLE,
    format_number,
    legend_flows,
    legend_populations,
    link_width,
    nice_floor,
    role_styles,
    symbol_radius,
    text,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.backend_bases import RendererBase
    from matplotlib.figure import Figure
    from matplotlib.text import Annotation

__all__ = ["PT_PER_PX", "static_map_bytes", "write_static_map"]

#: Points per CSS pixel: the style table's pixel sizes drawn at the same physical size.
PT_PER_PX = 72.0 / 96.0

Format = Literal["png", "pdf", "svg"]
_FORMATS: dict[str, Format] = {".png": "png", ".pdf": "pdf", ".svg": "svg"}
_MM_PER_INCH = 25.4
_MM_PER_PT = _MM_PER_INCH / 72.0
#: A map in a geographic CRS (degrees) is drawn in SWEREF 99 TM, the project default.
_METRIC_CRS = "EPSG:3006"
_LINK_ORDER = ("weak", "medium", "strong")  # drawn in this order: strong on top

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
_AREA_FILL = "#f4f1ea"  # the web map's area base
_AREA_EDGE = "#a8a8a8"
_REGION = ("#54278f", 2.0, "6 3")  # the web map's region outline: colour, px, dash
_NOTE_RED = "#a50f15"
_HALO = "white"
_MARGIN_MM = 8.0
_ROW_MM = 4.3
_HEAD_MM = 5.2
_GAP_MM = 3.0
_ROLE_DOT_PT = 3.6  # radius of the role keys in the legend


def _require_matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError as exc:
        raise StrukturbildError(
            "PNG, PDF and SVG maps need matplotlib: pip install matplotlib "
            "(or choose --format html)"
        ) from exc
    return matplotlib


def _format_of(path: Path) -> Format:
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ConfigError(
            f"cannot tell the map format from the file name '{path.name}': "
            "use a name ending in .png, .pdf or .svg",
            source=path,
        )
    return fmt


def _metadata(fmt: Format, title: str) -> dict[str, Any]:
    """File metadata without dates, so rebuilds are byte-identical."""
    if fmt == "png":
        return {"Software": "strukturbild", "Title": title}
    if fmt == "pdf":
        return {"Creator": "strukturbild", "Title": title, "CreationDate": None}
    return {"Creator": "strukturbild", "Title": title, "Date": None}


# --------------------------------------------------------------------------- public


def static_map_bytes(
    image: StructureImage,
    fmt: Format,
    *,
    source_note: str = "",
    dpi: int = 300,
    size_mm: tuple[float, float] = (180, 240),
    label_roles: int = 2,
) -> bytes:
    """Draw the structure map and return the file's bytes.

    Parameters
    ----------
    image
        The structure image.
    fmt
        ``"png"``, ``"pdf"`` or ``"svg"``.
    source_note
        The source line ("Källa: SCB …"); "modellerade flöden" is added when the
        links are modelled. Default: "Källa: SCB".
    dpi
        Resolution of a PNG (and of any raster part of PDF/SVG).
    size_mm
        Page width and height in millimetres. Portrait pages get the legend below
        the map, landscape pages beside it.
    label_roles
        Places of this many highest roles *that have places* get a name label.

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
    width_mm, height_mm = (float(v) for v in size_mm)
    if not (width_mm >= 60 and height_mm >= 60):
        raise ConfigError(f"size_mm must be at least 60 × 60 mm, got {size_mm!r}")
    if dpi <= 0:
        raise ConfigError(f"dpi must be > 0, got {dpi!r}")
    if len(image.places) == 0:
        raise EmptyInputError("the structure image has no places to draw")
    with _rc_context():
        fig = _figure(image, source_note=source_note, dpi=dpi, size_mm=(width_mm, height_mm),
                      label_roles=label_roles)
        buf = BytesIO()
        fig.savefig(buf, format=fmt, dpi=dpi, metadata=_metadata(fmt, image.title))
    return buf.getvalue()


def _rc_context() -> AbstractContextManager[Any]:
    """matplotlib's settings for the print map, for the duration of a ``with`` block."""
    matplotlib = _require_matplotlib()
    context: AbstractContextManager[Any] = matplotlib.rc_context(_RC)
    return context


def _figure(image: StructureImage, *, source_note: str, dpi: int,
            size_mm: tuple[float, float], label_roles: int) -> Figure:
    """The map as a Figure on its own Agg canvas; call inside :func:`_rc_context`."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(size_mm[0] / _MM_PER_INCH, size_mm[1] / _MM_PER_INCH), dpi=dpi)
    canvas = FigureCanvasAgg(fig)
    renderer: RendererBase = canvas.get_renderer()  # type: ignore[no-untyped-call]
    _draw(fig, renderer, image, source_note=source_note, size_mm=size_mm,
          label_roles=label_roles)
    return fig


def write_static_map(
    image: StructureImage,
    path: str | Path,
    *,
    source_note: str = "",
    dpi: int = 300,
    size_mm: tuple[float, float] = (180, 240),
    label_roles: int = 2,
) -> Path:
    """Write the structure map as PNG, PDF or SVG, the format from the file suffix.

    The map is drawn in memory (see :func:`static_map_bytes`) and written to a
    temporary file beside ``path`` that then replaces it, so a failed run never
    leaves a half-written map.

    Parameters
    ----------
    image
        The structure image.
    path
        The file to write; ``.png``, ``.pdf`` or ``.svg``. Missing folders are made.
    source_note, dpi, size_mm, label_roles
        See :func:`static_map_bytes`.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ConfigError
        The suffix is not ``.png``, ``.pdf`` or ``.svg``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from strukturbild.sources.example import example_project
    >>> from strukturbild.pipeline import build
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "skane.png"
    >>> write_static_map(build(example_project()), out, dpi=72).read_bytes()[:4]
    b'\\x89PNG'
    """
    target = Path(path)
    data = static_map_bytes(image, _format_of(target), source_note=source_note, dpi=dpi,
                            size_mm=size_mm, label_roles=label_roles)
    _replace_atomically(target, data)
    return target


def _replace_atomically(target: Path, data: bytes) -> None:
    """Write ``data`` to a new file beside ``target`` and rename it over ``target``.

    The temporary file is created with ``open(..., "xb")``, so it gets the usual
    permissions (0666 less the umask), like any file the user writes.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "xb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    finally:
        with suppress(FileNotFoundError):
            tmp.unlink()


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


def _metric(gdf: Any, crs: Any) -> Any:
    """``gdf`` in ``crs`` (the places' metric CRS), or as it is when it has none."""
    if gdf is None or len(gdf) == 0 or crs is None or gdf.crs is None:
        return gdf
    return gdf if gdf.crs == crs else gdf.to_crs(crs)


def _places_xy(places: Any) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    geom = places.geometry
    pts = geom.where(geom.geom_type == "Point", geom.representative_point())
    return np.asarray(pts.x, dtype=float), np.asarray(pts.y, dtype=float)


def _line_parts(geom: Any) -> Iterator[np.ndarray[Any, Any]]:
    if geom is None or geom.is_empty:
        return
    for part in getattr(geom, "geoms", (geom,)):
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


@dataclass(frozen=True)
class _Row:
    """One legend row; ``size`` is a circle radius or a line width in points."""

    kind: Literal["head", "dot", "circle", "line", "patch", "outline", "note"]
    label: str
    colour: str = _INK
    size: float = 0.0
    dash: str = ""
    alpha: float = 1.0
    gid: str | None = None

    @property
    def height(self) -> float:
        if self.kind == "head":
            return _HEAD_MM
        if self.kind == "circle":
            return max(_ROW_MM, 2 * self.size * _MM_PER_PT + 1.2)
        if self.kind == "note":
            return 3.4
        return _ROW_MM


def _sections(image: StructureImage, counts: dict[str, int],
              max_flow: float) -> list[list[_Row]]:
    lang = image.language
    styles = role_styles([(r.key, r.label(lang)) for r in image.roles], label_roles=0)
    roles = [_Row("head", text("roles", lang))]
    roles += [_Row("dot", f"{s.label} ({counts[s.key]})", s.colour,
                   _ROLE_DOT_PT, gid=f"legend-role-{s.key}")
              for s in styles if counts.get(s.key, 0)]
    if image.areas is not None and len(image.areas):
        roles.append(_Row("patch", text("areas", lang), _AREA_FILL, gid="legend-areas"))
    if image.regions is not None and len(image.regions):
        colour, width_px, dash = _REGION
        roles.append(_Row("outline", text("regions", lang), colour, width_px * PT_PER_PX,
                          dash, gid="legend-regions"))
    sizes = [_Row("head", text("size", lang))]
    sizes += [_Row("circle", format_number(p, lang, None), "#dddddd", symbol_radius(p) * PT_PER_PX,
                   gid=f"legend-size-{int(p)}")
              for p in legend_populations(float(image.places["population"].max()))]
    out = [roles, sizes]
    if max_flow > 0:
        links = [_Row("head", text("links", lang))]
        for cls in ("strong", "medium", "weak"):
            colour, dash, alpha = LINK_CLASS_STYLE[cls]
            links.append(_Row("line", text(cls, lang), colour, 3 * PT_PER_PX, dash, alpha,
                              gid=f"legend-link-{cls}"))
        links.append(_Row("head", text("width", lang)))
        for n, v in enumerate(legend_flows(max_flow)):
            links.append(_Row("line", format_number(v, lang, None), LINK_CLASS_STYLE["medium"][0],
                              link_width(v, max_flow) * PT_PER_PX, gid=f"legend-width-{n}"))
        out.append(links)
    return out


def _draw_rows(ax: Axes, rows: Sequence[_Row], x: float, y_top: float) -> float:
    """Draw rows from ``(x, y_top)`` (mm, legend axes); return the y below the last."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Rectangle

    y = y_top
    key_w = 9.0  # mm of the symbol column
    for row in rows:
        h = row.height
        yc = y - h / 2
        if row.kind == "head":
            ax.text(x, y - h + 1.3, row.label, fontsize=7.5, fontweight="bold", color=_INK,
                    va="baseline", ha="left")
            y -= h
            continue
        if row.kind == "note":
            ax.text(x, yc, row.label, fontsize=6.5, fontweight="bold", color=row.colour,
                    va="center", ha="left")
            y -= h
            continue
        if row.kind in ("dot", "circle"):
            edge = "white" if row.kind == "dot" else "#555555"
            ax.scatter([x + key_w / 2], [yc], s=[(2 * row.size) ** 2], c=[row.colour],
                       edgecolors=edge, linewidths=0.8 * PT_PER_PX, gid=row.gid,
                       clip_on=False)
        elif row.kind == "line":
            ax.add_line(Line2D([x + 0.5, x + key_w - 0.5], [yc, yc], color=row.colour,
                               linewidth=row.size, alpha=row.alpha,
                               linestyle=_dashes(row.dash), solid_capstyle="butt",
                               gid=row.gid, clip_on=False))
        elif row.kind in ("patch", "outline"):
            ax.add_patch(Rectangle(
                (x + 1.0, yc - 1.4), key_w - 2.0, 2.8,
                facecolor=row.colour if row.kind == "patch" else "none",
                edgecolor=_AREA_EDGE if row.kind == "patch" else row.colour,
                linewidth=0.5 if row.kind == "patch" else row.size,
                linestyle="solid" if row.kind == "patch" else _dashes(row.dash),
                gid=row.gid, clip_on=False))
        ax.text(x + key_w + 1.0, yc, row.label, fontsize=7.0, color=_INK, va="center_baseline",
                ha="left")
        y -= h
    return y


def _stack_height(rows: Sequence[_Row]) -> float:
    return sum(r.height for r in rows)


# --------------------------------------------------------------------------- layout


@dataclass(frozen=True)
class _Layout:
    """Where things go on the page, in mm from its lower left corner."""

    title: tuple[float, float]  # left, first baseline
    title_lines: list[str]
    map: tuple[float, float, float, float]  # left, bottom, width, height
    legend: tuple[float, float, float, float]
    blocks: list[tuple[float, float, list[_Row]]]  # x, top in the legend box; rows
    footer: tuple[float, float]  # left, top
    footer_lines: list[str]


def _layout(size_mm: tuple[float, float], title: str, sections: list[list[_Row]],
            source: str, notes: list[str]) -> _Layout:
    """Title on top, source line at the bottom, the legend below the map (portrait) or
    beside it (landscape), so that it never covers the data."""
    width, height = size_mm
    m = _MARGIN_MM
    inner_w = width - 2 * m
    title_lines = _wrap(title, inner_w, 14.0)
    title_h = 6.0 * len(title_lines) + 3.0
    footer_lines = _wrap(source, inner_w, 6.0)
    footer_h = 2.9 * len(footer_lines) + 1.5
    top = height - m - title_h
    blocks: list[tuple[float, float, list[_Row]]] = []
    if width > height:  # landscape: one column on the right
        col_w = min(62.0, 0.34 * inner_w)
        note_rows = [_Row("note", line, _NOTE_RED) for n in notes
                     for line in _wrap(n, col_w, 6.5)]
        stacked = [*sections, note_rows] if note_rows else list(sections)
        leg_h = sum(_stack_height(s) for s in stacked) + _GAP_MM * (len(stacked) - 1)
        bottom = m + footer_h + 1.0
        map_w = inner_w - col_w - 4.0
        map_box = (m, bottom, map_w, top - bottom)
        leg_h = min(leg_h, top - bottom)
        legend_box = (m + map_w + 4.0, top - leg_h, col_w, leg_h)
        y_top = leg_h
        for rows in stacked:
            blocks.append((0.0, y_top, rows))
            y_top -= _stack_height(rows) + _GAP_MM
    else:  # portrait: the sections side by side under the map, the note below them
        fractions = (0.33, 0.29, 0.38)[: len(sections)]
        total = sum(fractions)
        note_rows = [_Row("note", line, _NOTE_RED) for n in notes
                     for line in _wrap(n, inner_w, 6.5)]
        cols_h = max(_stack_height(s) for s in sections)
        note_h = _GAP_MM * 0.6 + _stack_height(note_rows) if note_rows else 0.0
        leg_h = cols_h + note_h
        legend_box = (m, m + footer_h + 1.0, inner_w, leg_h)
        map_bottom = legend_box[1] + leg_h + _GAP_MM
        map_box = (m, map_bottom, inner_w, top - map_bottom)
        x = 0.0
        for rows, f in zip(sections, fractions, strict=True):
            blocks.append((x, leg_h, rows))
            x += inner_w * f / total
        if note_rows:
            blocks.append((0.0, leg_h - cols_h - _GAP_MM * 0.6, note_rows))
    if map_box[2] < 30.0 or map_box[3] < 30.0:
        raise ConfigError(f"size_mm {size_mm!r} leaves no room for the map beside its legend")
    return _Layout((m, height - m - 5.0), title_lines, map_box, legend_box, blocks,
                   (m, m + footer_h - 0.5), footer_lines)


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


def _draw(fig: Figure, renderer: RendererBase, image: StructureImage, *, source_note: str,
          size_mm: tuple[float, float], label_roles: int) -> None:
    lang = image.language
    places = image.places
    crs = places.crs
    if crs is not None and not crs.is_projected:
        crs = _METRIC_CRS
        places = places.to_crs(crs)
    links = _metric(image.links, crs)
    areas = _metric(image.areas, crs)
    regions = _metric(image.regions, crs)
    has_links = links is not None and len(links) > 0 and "total" in links
    max_flow = float(links["total"].max()) if has_links else 0.0

    counts = {str(k): int(v) for k, v in places["role"].astype(str).value_counts().items()}
    note = source_note or f"{text('source', lang)}: SCB"
    if image.modelled:
        note += f"; {text('modelled', lang)}"
    notes = [text("modelled_note", lang)] if image.modelled else []
    lay = _layout(size_mm, image.title, _sections(image, counts, max_flow), note, notes)
    width, height = size_mm

    def frac(box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        return (box[0] / width, box[1] / height, box[2] / width, box[3] / height)

    fig.text(lay.title[0] / width, lay.title[1] / height, "\n".join(lay.title_lines),
             fontsize=14, fontweight="bold", color=_INK, ha="left", va="baseline",
             linespacing=1.15, gid="title")
    fig.text(lay.footer[0] / width, lay.footer[1] / height, "\n".join(lay.footer_lines),
             fontsize=6.0, color=_MUTED, ha="left", va="top", linespacing=1.3, gid="source")

    ax = fig.add_axes(frac(lay.map))
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_edgecolor("#9e9e9e")
        spine.set_linewidth(0.5)
    x, y = _places_xy(places)
    _set_extent(ax, x, y, areas, places, lay.map)

    if areas is not None and len(areas):
        _draw_polygons(ax, areas.geometry, facecolor=_AREA_FILL, edgecolor=_AREA_EDGE,
                       linewidth=0.35, zorder=1, gid="areas")
    if regions is not None and len(regions):
        colour, width_px, dash = _REGION
        _draw_polygons(ax, regions.geometry, facecolor="none", edgecolor=colour, alpha=0.8,
                       linewidth=width_px * PT_PER_PX, linestyle=_dashes(dash), zorder=2,
                       gid="regions")
    link_ink = _draw_links(ax, links, max_flow) if has_links else _Ink(*np.zeros((3, 0)))

    styles = {s.key: s for s in role_styles([(r.key, r.label(lang)) for r in image.roles],
                                            label_roles=0)}
    role_str = places["role"].astype(str).to_numpy()
    population = places["population"].to_numpy(dtype=float)
    radii = np.array([symbol_radius(p) * PT_PER_PX for p in population])
    colours = np.array([styles[k].colour if k in styles else "#9e9e9e" for k in role_str])
    order = np.lexsort((np.arange(len(places)), -population))  # small circles on top
    ax.scatter(x[order], y[order], s=(2 * radii[order]) ** 2, c=list(colours[order]),
               edgecolors="white", linewidths=0.8 * PT_PER_PX, zorder=6, gid="places")

    pt_px = fig.dpi / 72.0
    disp = ax.transData.transform(np.column_stack([x, y]))
    circles = np.column_stack([disp, radii * pt_px])
    ink = _Ink(np.concatenate([disp[:, 0], link_ink.x]), np.concatenate([disp[:, 1], link_ink.y]),
               np.concatenate([math.pi * radii**2, link_ink.w]))
    furniture = _draw_scale_and_north(ax, renderer, ink, lang)

    labelled = [r.key for r in image.roles if counts.get(r.key, 0)][: max(label_roles, 0)]
    level = {k: n for n, k in enumerate(labelled)}
    cand = sorted((i for i in range(len(places)) if role_str[i] in level),
                  key=lambda i: (level[role_str[i]], -population[i], i))
    ids = [re.sub(r"[^A-Za-z0-9_.-]", "_", str(v)) for v in places.index]
    _place_labels(ax, renderer, [(i, f"label-{ids[i]}", str(places["name"].iloc[i]),
                                  level[role_str[i]] == 0) for i in cand],
                  x, y, radii, circles, hard=np.isin(role_str, list(level)),
                  blocked=[furniture], ink=link_ink)

    leg = fig.add_axes(frac(lay.legend))
    leg.set_axis_off()
    leg.set_xlim(0, lay.legend[2])
    leg.set_ylim(0, lay.legend[3])
    for bx, by, rows in lay.blocks:
        _draw_rows(leg, rows, bx, by)


def _set_extent(ax: Axes, x: np.ndarray[Any, Any], y: np.ndarray[Any, Any], areas: Any,
                places: Any, box_mm: tuple[float, float, float, float]) -> None:
    """Fit the places (and their own areas) in the map box, north up, one scale."""
    x0, y0, x1, y1 = float(x.min()), float(y.min()), float(x.max()), float(y.max())
    if areas is not None and len(areas) and "area_id" in places:
        own = areas[areas.index.isin(places["area_id"].astype(str))]
        if len(own):
            ax0, ay0, ax1, ay1 = (float(v) for v in own.total_bounds)
            x0, y0, x1, y1 = min(x0, ax0), min(y0, ay0), max(x1, ax1), max(y1, ay1)
    pad = 0.04 * max(x1 - x0, y1 - y0, 1000.0)
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


def _draw_links(ax: Axes, links: Any, max_flow: float) -> _Ink:
    """Links by class, weak first and strong on top, each class weakest first.

    Returns the ink of the links, sampled every 2 pt along each line.
    """
    from matplotlib.collections import LineCollection

    pt_px = ax.figure.dpi / 72.0
    cls_all = links["link_class"].astype(str)
    classes = sorted(set(cls_all), key=lambda c: (_LINK_ORDER.index(c) if c in _LINK_ORDER
                                                  else -1, c))
    xs: list[np.ndarray[Any, Any]] = []
    ys: list[np.ndarray[Any, Any]] = []
    ws: list[np.ndarray[Any, Any]] = []
    for z, cls in enumerate(classes):
        colour, dash, alpha = LINK_CLASS_STYLE.get(cls, LINK_CLASS_STYLE["weak"])
        sub = links[cls_all == cls].sort_values("total", kind="stable")
        segs: list[np.ndarray[Any, Any]] = []
        widths: list[float] = []
        for geom, total in zip(sub.geometry, sub["total"], strict=True):
            w = link_width(float(total), max_flow) * PT_PER_PX
            for part in _line_parts(geom):
                segs.append(part)
                widths.append(w)
                d = ax.transData.transform(part)
                for a, b in itertools.pairwise(d):
                    length = float(np.hypot(*(b - a)))
                    n = max(2, math.ceil(length / (2.0 * pt_px)))
                    t = np.linspace(0.0, 1.0, n)
                    xs.append(a[0] + (b[0] - a[0]) * t)
                    ys.append(a[1] + (b[1] - a[1]) * t)
                    ws.append(np.full(n, length / pt_px / n * w * alpha))
        ax.add_collection(LineCollection(
            segs, linewidths=widths, colors=colour, alpha=alpha, linestyles=_dashes(dash),
            capstyle="round", zorder=3 + z * 0.1, gid=f"links-{cls}"), autolim=False)
    if not xs:
        return _Ink(*np.zeros((3, 0)))
    return _Ink(np.concatenate(xs), np.concatenate(ys), np.concatenate(ws))


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


def _circles_hit(box: _Box, cx: np.ndarray[Any, Any], cy: np.ndarray[Any, Any],
                 rad: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Which circles a rectangle touches: the nearest point of the box is inside."""
    nx = np.clip(cx, box[0], box[2])
    ny = np.clip(cy, box[1], box[3])
    hit: np.ndarray[Any, Any] = (nx - cx) ** 2 + (ny - cy) ** 2 < rad**2
    return hit


def _rects_overlap(a: _Box, b: _Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _place_labels(ax: Axes, renderer: RendererBase, labels: list[tuple[int, str, str, bool]],
                  x: np.ndarray[Any, Any], y: np.ndarray[Any, Any],
                  radii: np.ndarray[Any, Any], circles: np.ndarray[Any, Any], *,
                  hard: np.ndarray[Any, Any], blocked: list[_Box], ink: _Ink
                  ) -> list[Annotation]:
    """Greedy label placement: the best free position around each point, or no label.

    ``labels`` are ``(place index, gid, text, bold)`` in priority order; ``circles``
    holds every place's circle (x, y, radius) in display units. A position is free
    when the label (with its halo) stays inside the map and touches no placed label,
    no circle of a ``hard`` place (a boolean mask) and nothing in ``blocked``. Among free positions
    the one covering least ink (other circles, links) wins; each step down the list
    of :data:`_POSITIONS` costs :data:`_POSITION_COST`, so a label keeps to the right
    of its point unless that covers clearly more.
    """
    from matplotlib import patheffects

    pt_px = ax.figure.dpi / 72.0
    frame = ax.get_window_extent(renderer)
    inner = (frame.x0 + 2 * pt_px, frame.y0 + 2 * pt_px, frame.x1 - 2 * pt_px,
             frame.y1 - 2 * pt_px)
    placed: list[_Box] = list(blocked)
    out: list[Annotation] = []
    for i, gid, name, bold in labels:
        gap = float(radii[i]) + 1.5
        font: dict[str, Any] = {"fontsize": 8.0 if bold else 7.0,
                                "fontweight": "bold" if bold else "normal"}
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
                    annotation_clip=False,
                    path_effects=[patheffects.Stroke(linewidth=2.2, foreground=_HALO)],
                    **font)
        placed.append(best[2])
        out.append(ann)
    return out
