"""Frozen configuration objects and the project-file (TOML) reader.

A project file describes one structure image: where the places, areas and flows
are, how roles are derived, how links and regions are made, and what is written.
:func:`load_project` reads it with the standard library's :mod:`tomllib` into the
frozen dataclasses below; every value is checked, and an unknown key or a value of
the wrong type raises :class:`~strukturbild.errors.ConfigError` naming the file and
the key. Relative paths are resolved against the project file's folder.

The full reference of the file is in the README ("Project file").
"""

from __future__ import annotations

import itertools
import math
import re
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import MISSING, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from types import UnionType
from typing import Any, ClassVar, Literal, Union, get_args, get_origin, get_type_hints

from .errors import ConfigError, InputFileNotFoundError

__all__ = [
    "DECAY_FORMS",
    "DEFAULT_CRS",
    "DEFAULT_EMPLOYMENT_RATE",
    "FORMATS",
    "LAYER_KINDS",
    "MAP_FORMATS",
    "PRINT_FORMATS",
    "REGION_METHODS",
    "AreasSource",
    "CommutingZoneParams",
    "DecayParams",
    "ExponentialParams",
    "ExportOptions",
    "FlowsSource",
    "JobsSource",
    "LMAParams",
    "LayerSource",
    "LinkParams",
    "MapOptions",
    "MixtureParams",
    "NodalParams",
    "PlacesSource",
    "PowerParams",
    "PrintFormat",
    "Project",
    "RegionParams",
    "RoleDef",
    "RoleRule",
    "RoleScheme",
    "SCBLAParams",
    "StrakParams",
    "default_role_scheme",
    "link_params",
    "load_project",
    "print_format",
    "region_method",
    "region_params",
    "resolve_basemap",
]

DEFAULT_CRS = "EPSG:3006"
#: The output formats: what ``[export] formats``, ``--format`` and
#: :func:`~strukturbild.export.outputs.write_outputs` take.
Format = Literal["html", "gpkg", "json", "png", "pdf", "svg"]
FORMATS: tuple[Format, ...] = get_args(Format)
#: The formats drawn as maps (written to ``[export] map_dir``); the others are data.
MAP_FORMATS: tuple[Format, ...] = ("html", "png", "pdf", "svg")
#: The print maps' formats, each known by its file suffix.
PrintFormat = Literal["png", "pdf", "svg"]
PRINT_FORMATS: tuple[PrintFormat, ...] = get_args(PrintFormat)


def print_format(path: Path) -> PrintFormat:
    """The print format a file name asks for (``.png``, ``.pdf``, ``.svg``, any case).

    Examples
    --------
    >>> print_format(Path("skane.PDF"))
    'pdf'
    >>> print_format(Path("skane.jpg"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    strukturbild.errors.ConfigError: ...use a name ending in .png, .pdf or .svg
    """
    suffix = path.suffix.lower().lstrip(".")
    for fmt in PRINT_FORMATS:
        if suffix == fmt:
            return fmt
    raise ConfigError(f"cannot tell the map format from the file name '{path.name}': "
                      "use a name ending in .png, .pdf or .svg", source=path)
#: Employed residents per inhabitant where neither the places nor the kommun give them:
#: Region Halland's SCB figures for its tätorter give 0.500 (weighted), and SCB's BAS
#: 2020 about 5.1 million employed among 10.4 million inhabitants (0.49).
DEFAULT_EMPLOYMENT_RATE = 0.5

Language = Literal["sv", "en"]
_OPS = (">=", "<=", "==", "!=", ">", "<")
#: Measures a role rule may test. ``rank_in_area`` is 1 for the largest place of its
#: area (kommun); ``rank_in_region`` likewise within a functional region; ``job_share``
#: is a place's share of all the places' jobs (the study area's).
RULE_MEASURES = (
    "population",
    "jobs",
    "employed",
    "job_ratio",
    "job_share",
    "net_commuting",
    "inflow_sources",
    "inflow_share",
    "rank_in_area",
    "rank_in_region",
)


def _err(path: Path | None, key: str, message: str) -> ConfigError:
    return ConfigError(f"key '{key}': {message}", source=path)


def _columns(*names: str) -> dict[str, tuple[str, ...]]:
    """Field metadata of a ``columns`` mapping: the canonical names it may map."""
    return {"columns": names}


def check_fields(obj: Any, section: str) -> None:
    """Check every field of a frozen options dataclass against its annotation.

    ``Literal`` fields must hold one of their values; ``bool``, ``int``, ``float``
    and ``str`` fields a value of that type (an int is a float, a bool is not a
    number); floats must be finite. The error names the key as the project file
    writes it (``links.source``).

    Examples
    --------
    >>> LinkParams(source="bogus")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    strukturbild.errors.ConfigError: key 'links.source': expected one of 'auto', ...
    """
    hints = get_type_hints(type(obj))
    for f in fields(obj):
        value = getattr(obj, f.name)
        hint = hints[f.name]
        key = f"{section}.{f.name}"
        if get_origin(hint) is Literal:
            allowed = get_args(hint)
            if value not in allowed:
                raise _err(None, key, f"expected one of {', '.join(map(repr, allowed))}, "
                                      f"got {value!r}")
        elif hint is bool and not isinstance(value, bool):
            raise _err(None, key, f"expected true or false, got {value!r}")
        elif hint is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise _err(None, key, f"expected a whole number, got {value!r}")
        elif hint is float:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise _err(None, key, f"expected a number, got {value!r}")
            if not math.isfinite(value):
                raise _err(None, key, f"expected a finite number, got {value!r}")
        elif hint is str and not isinstance(value, str):
            raise _err(None, key, f"expected a string, got {value!r}")


@dataclass(frozen=True)
class JobsSource:
    """A table joined to the places for their jobs (``[places] jobs = {...}``).

    The table gives each place's ``jobs`` (and, where it has them, ``employed``
    residents), keyed by the place id: SCB's own column names are recognised
    (``jobs``, ``dagbef``, ``dagbefolkning``, ``sysselsatt_dagbefolkning``; for
    employed residents ``nattbef``, ``nattbefolkning``, ``forvarvsarbetande``), and
    rows of one place split by län (or kommun: columns ``lan_code``, ``kommun_code``
    and their SCB names) are added up. Places whose id the table lacks are matched by
    location where the table has polygons (the place's point inside a polygon of
    another delineation year); see :func:`strukturbild.readers.join_jobs`.

    Parameters
    ----------
    path
        CSV, Parquet, GeoPackage, GeoJSON or Shapefile.
    key
        The column holding the place id (SCB's tätort code); default: found by the
        names the places reader recognises (``tatort_code``, ``tatortskod``, …).
    layer, encoding, where
        As for the places.
    columns
        ``jobs`` and ``employed`` → the table's column, for names not recognised.
    licence, source
        The table's licence, and who publishes it ("SCB, dagbefolkning 2024"), as for
        the places: named in the source line, carried into the provenance.

    Examples
    --------
    >>> JobsSource(Path("tatort_jobs_2024.csv"), key="tatort_code").key
    'tatort_code'
    """

    path: Path
    key: str | None = None
    layer: str | None = None
    encoding: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict,
                                       metadata=_columns("jobs", "employed"))
    licence: str = ""
    where: str | None = None
    source: str = ""


@dataclass(frozen=True)
class PlacesSource:
    """Where the places are and how their columns are named.

    Parameters
    ----------
    path
        GeoPackage, GeoJSON, Shapefile, CSV or Parquet file.
    layer
        Layer name for multi-layer files (GeoPackage).
    encoding
        Text encoding for Shapefile and CSV (``"utf-8"`` or ``"latin-1"``); guessed
        when not given.
    crs
        CRS of the coordinates when the file has none (CSV, Parquet), e.g.
        ``"EPSG:4326"`` for latitude/longitude.
    x, y
        Coordinate columns of a CSV/Parquet file; recognised without mapping:
        ``lon``/``lat``, ``longitude``/``latitude``, ``x``/``y``, ``e``/``n``.
    columns
        Canonical name → column in the file (``place_id``, ``name``, ``area_id``,
        ``area_name``, ``population``, ``jobs``, ``employed``, ``population_prev``,
        ``jobs_prev``, ``area_ha``).
    source
        Who publishes the data and what it is, publisher first: ``"SCB, statistiska
        tätorter 2020"``. The maps' source line names the publisher with the rest and
        the licence after it: "SCB (statistiska tätorter 2020; CC0)".
    licence
        The data's licence (e.g. "CC0 1.0"), carried into the GeoPackage metadata.
    where
        Keep only the rows that match this attribute filter, written as for
        ``ogr2ogr -where`` (``"lan_code = '12'"``, ``"population >= 2000 AND
        lan_code IN ('05', '06')"``); see :func:`strukturbild.readers.filter_rows`.
    jobs
        A table joined to the places for their jobs (:class:`JobsSource`).
    employment_rate
        Employed residents per inhabitant, for places whose employed residents no
        input gives: they are estimated as ``population * employment_rate`` (the
        kommun's own rate where the areas give one, column ``employment_rate``) and
        marked ``employed_estimated``. Default :data:`DEFAULT_EMPLOYMENT_RATE`.

    Examples
    --------
    >>> PlacesSource(Path("t.csv"), columns={"place_id": "kod"}).columns["place_id"]
    'kod'
    >>> PlacesSource(Path("t.csv")).employment_rate
    0.5
    """

    path: Path
    layer: str | None = None
    encoding: str | None = None
    crs: str | None = None
    x: str | None = None
    y: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict, metadata=_columns(
        "place_id", "name", "area_id", "area_name", "population", "jobs", "employed",
        "population_prev", "jobs_prev", "area_ha"))
    licence: str = ""
    where: str | None = None
    source: str = ""
    # a table, or just its path
    jobs: JobsSource | None = field(default=None, metadata={"toml": (str, dict)})
    employment_rate: float = DEFAULT_EMPLOYMENT_RATE

    def __post_init__(self) -> None:
        _check_employment_rate(self.employment_rate, "places.employment_rate")


def _check_employment_rate(rate: Any, key: str) -> None:
    """Refuse an employment rate that is not a number in (0, 1].

    Examples
    --------
    >>> _check_employment_rate(0.48, "places.employment_rate")
    >>> _check_employment_rate(48, "places.employment_rate")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    strukturbild.errors.ConfigError: key 'places.employment_rate': expected employed ...
    """
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not math.isfinite(rate) \
            or not 0 < rate <= 1:
        raise _err(None, key, "expected employed residents per inhabitant, a number in "
                   f"(0, 1] such as 0.5, got {rate!r}")


@dataclass(frozen=True)
class AreasSource:
    """Area polygons (kommuner or other areas) drawn under the places.

    Examples
    --------
    >>> AreasSource(Path("kommuner.gpkg"), layer="kommuner").layer
    'kommuner'
    """

    path: Path
    layer: str | None = None
    encoding: str | None = None
    crs: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict, metadata=_columns(
        "area_id", "name", "employment_rate"))
    licence: str = ""
    where: str | None = None
    source: str = ""


#: The kinds of own layers (``[[layers]] kind``). How each is drawn is the renderers'
#: business: :data:`strukturbild.render.style.LAYER_STYLES`.
LayerKind = Literal["corridor", "green", "infrastructure", "area", "other"]
LAYER_KINDS: tuple[str, ...] = get_args(LayerKind)
_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")


def _check_colour(value: str | None, key: str) -> None:
    if value is not None and not _COLOUR.fullmatch(value) and not (
            key.endswith(".fill") and value == "none"):
        raise _err(None, key, "expected a colour as \"#rrggbb\"" +
                   (" or \"none\"" if key.endswith(".fill") else "") + f", got {value!r}")


#: Dash patterns: at most this many lengths, each at least _DASH_MIN px (and at most
#: _DASH_MAX px), together at least _DASH_SUM px. A renderer draws one dash per pattern
#: length along every line: matplotlib's PNG writer, a browser and QGIS all spin on a
#: pattern of zeros or of near-zero lengths ("0", "0.000001 0.000001").
_DASH_COUNT, _DASH_MIN, _DASH_MAX, _DASH_SUM = 8, 0.5, 1000.0, 2.0


def _check_dash(value: str | None, key: str) -> None:
    """A dash pattern a renderer can draw: ``""`` (solid) or lengths in pixels, ``"6 3"``.

    Examples
    --------
    >>> _check_dash("6 3", "layers.dash")
    >>> _check_dash("0.000001 0.000001", "layers.dash")
    Traceback (most recent call last):
    ...
    strukturbild.errors.ConfigError: key 'layers.dash': expected at most 8 dash and gap ...
    """
    if value is None:
        return
    rule = (f"expected at most {_DASH_COUNT} dash and gap lengths in pixels, each from "
            f"{_DASH_MIN:g} to {_DASH_MAX:g}, together at least {_DASH_SUM:g} (e.g. \"6 3\"), "
            "or \"\" for a solid line")
    if not isinstance(value, str) or not re.fullmatch(r"\s*(\d+(\.\d+)?\s*)*", value):
        raise _err(None, key, f"{rule}, got {value!r}")
    lengths = [float(v) for v in value.split()]
    if len(lengths) > _DASH_COUNT:
        raise _err(None, key, f"{rule}; got {len(lengths)} lengths in {value!r}")
    if any(not _DASH_MIN <= v <= _DASH_MAX for v in lengths):
        bad = next(v for v in lengths if not _DASH_MIN <= v <= _DASH_MAX)
        raise _err(None, key, f"{rule}; got {bad:g} in {value!r}")
    if lengths and sum(lengths) < _DASH_SUM:
        raise _err(None, key, f"{rule}; {value!r} adds up to {sum(lengths):g}")


@dataclass(frozen=True)
class LayerSource:
    """One of the project's own layers (``[[layers]]``): corridors, green structure,
    infrastructure, areas of a plan, drawn under the places as given.

    Parameters
    ----------
    name
        The layer's name in the legend, the layer control and the GeoPackage.
    path, layer, encoding, crs, where
        As for the places: the file, its layer, text encoding, the CRS of a file
        without one, and an attribute filter (``ogr2ogr -where``).
    kind
        ``"corridor"`` (stråk), ``"green"`` (grönstruktur), ``"infrastructure"``,
        ``"area"`` or ``"other"`` (:data:`LAYER_KINDS`); gives the default style
        (:data:`strukturbild.render.style.LAYER_STYLES`).
    colour, width, dash, fill, opacity
        The style, each overriding the kind's default: line colour (``#rrggbb``),
        line width in pixels, dash pattern (``"6 3"``), fill colour (or ``"none"``),
        opacity 0–1.
    licence, source
        The data's licence, and who publishes it ("Trafikverket, järnvägsnätet"), as
        for the places: named in the source line and the metadata.

    Examples
    --------
    >>> LayerSource("Stråk", Path("strak.gpkg"), kind="corridor").style
    {}
    >>> LayerSource("Järnväg", Path("j.gpkg"), kind="infrastructure", colour="#000000"
    ...             ).style
    {'colour': '#000000'}
    """

    name: str
    path: Path
    kind: LayerKind = "other"
    layer: str | None = None
    where: str | None = None
    encoding: str | None = None
    crs: str | None = None
    colour: str | None = None
    width: float | None = None
    dash: str | None = None
    fill: str | None = None
    opacity: float | None = None
    licence: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise _err(None, "layers.name", "expected a non-empty name")
        if self.kind not in LAYER_KINDS:
            raise _err(None, "layers.kind", f"expected one of {', '.join(map(repr, LAYER_KINDS))}"
                       f", got {self.kind!r}")
        _check_colour(self.colour, "layers.colour")
        _check_colour(self.fill, "layers.fill")
        for key in ("width", "opacity"):
            v = getattr(self, key)
            if v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) \
                    or v < 0:
                raise _err(None, f"layers.{key}", f"expected a number >= 0, got {v!r}")
            if key == "opacity" and v > 1:
                raise _err(None, "layers.opacity", f"expected a number from 0 to 1, got {v!r}")
        _check_dash(self.dash, "layers.dash")

    @property
    def style(self) -> dict[str, Any]:
        """The style the project gives, over the kind's defaults: the image's layer
        (:class:`strukturbild.image.OwnLayer`) adds those (render's ``LAYER_STYLES``)."""
        out: dict[str, Any] = {}
        for key in ("colour", "width", "dash", "fill", "opacity"):
            value = getattr(self, key)
            if value is not None:
                out[key] = float(value) if key in ("width", "opacity") else value.strip()
        return out


@dataclass(frozen=True)
class FlowsSource:
    """A long table of flows: origin, destination, count.

    Examples
    --------
    >>> FlowsSource(Path("flows.csv")).level
    'place'
    """

    path: Path
    encoding: str | None = None
    level: Literal["place", "area"] = "place"
    columns: Mapping[str, str] = field(default_factory=dict, metadata=_columns(
        "origin", "destination", "count"))
    licence: str = ""
    where: str | None = None
    source: str = ""


@dataclass(frozen=True)
class RoleRule:
    """One threshold test on a place measure, e.g. ``population >= 40000``.

    Examples
    --------
    >>> RoleRule.parse("job_ratio >= 1.0")
    RoleRule(measure='job_ratio', op='>=', value=1.0)
    """

    measure: str
    op: str
    value: float

    def __post_init__(self) -> None:
        if self.measure not in RULE_MEASURES:
            raise ConfigError(
                f"unknown measure '{self.measure}' in a role rule; "
                f"expected one of {', '.join(RULE_MEASURES)}"
            )
        if self.op not in _OPS:
            raise ConfigError(f"unknown operator '{self.op}'; expected one of {' '.join(_OPS)}")
        if not math.isfinite(self.value):
            raise ConfigError(f"rule threshold for '{self.measure}' must be a finite number")

    @classmethod
    def parse(cls, text: str) -> RoleRule:
        """Parse ``"measure op number"``.

        Examples
        --------
        >>> RoleRule.parse("rank_in_area == 1").op
        '=='
        """
        m = re.fullmatch(r"\s*([a-z_]+)\s*(>=|<=|==|!=|>|<)\s*([-+0-9.eE_ ]+)\s*", text)
        if m is None:
            raise ConfigError(
                f"cannot read role rule '{text}'; expected 'measure op number', "
                "e.g. 'population >= 40000'"
            )
        try:
            value = float(m.group(3).replace(" ", "").replace("_", ""))
        except ValueError:
            raise ConfigError(f"cannot read the number in role rule '{text}'") from None
        return cls(m.group(1), m.group(2), value)

    def __str__(self) -> str:
        value = int(self.value) if float(self.value).is_integer() else self.value
        return f"{self.measure} {self.op} {value}"


@dataclass(frozen=True)
class RoleDef:
    """One role of a scheme: a key, labels, and the rules that must all hold.

    A role with no rules is only given by designation, except the last role of a
    scheme, which is the fallback every remaining place gets.

    Examples
    --------
    >>> rule = RoleRule.parse("population >= 2000")
    >>> RoleDef("serviceort", "Serviceort", "Service town", (rule,)).key
    'serviceort'
    """

    key: str
    label_sv: str
    label_en: str
    rules: tuple[RoleRule, ...] = ()
    source: str = ""

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", self.key):
            raise ConfigError(
                f"role key '{self.key}' must be lower-case ASCII letters, digits and '_'"
            )

    def label(self, language: Language) -> str:
        """The role's label in ``language``.

        Examples
        --------
        >>> default_role_scheme().roles[0].label("en")
        'Metropolis'
        """
        return self.label_sv if language == "sv" else self.label_en


@dataclass(frozen=True)
class RoleScheme:
    """An ordered list of roles, highest first, and the designation lists that pin roles.

    ``unknown`` says what a rule on a measure a place does not have (no jobs data,
    say) does: ``"fail"`` (default) — the rule does not hold, so the place does not
    get the role, and its reason names the missing measure; ``"skip"`` — the rule is
    left out and the role's other rules decide (strukturbild 0.1).

    Examples
    --------
    >>> [r.key for r in default_role_scheme().roles]
    ['storstad', 'regional_karna', 'lokal_karna', 'serviceort', 'ovrig_tatort']
    """

    name: str
    roles: tuple[RoleDef, ...]
    designations: tuple[Path | str, ...] = ()
    unknown: Literal["fail", "skip"] = "fail"

    def __post_init__(self) -> None:
        if self.unknown not in ("fail", "skip"):
            raise _err(None, "roles.unknown", f"expected 'fail' or 'skip', got {self.unknown!r}")
        if len(self.roles) < 1:
            raise ConfigError("a role scheme needs at least one role")
        keys = [r.key for r in self.roles]
        dup = sorted({k for k in keys if keys.count(k) > 1})
        if dup:
            raise ConfigError(f"role key(s) defined twice: {', '.join(dup)}")

    @property
    def keys(self) -> tuple[str, ...]:
        """Role keys, highest first."""
        return tuple(r.key for r in self.roles)

    def role(self, key: str) -> RoleDef:
        """The role with ``key``.

        Examples
        --------
        >>> default_role_scheme().role("serviceort").label_sv
        'Serviceort'
        """
        for r in self.roles:
            if r.key == key:
                return r
        raise KeyError(key)


def default_role_scheme() -> RoleScheme:
    """The default hierarchy: storstad, regional kärna, lokal kärna, serviceort, övrig tätort.

    The thresholds reproduce the published designations of Swedish regional plans on
    SCB's tätorter with SCB's jobs (day population, RAMS/BAS 2024) and employed
    residents estimated as 0.5 of the inhabitants. Each is cited to the designation
    that sets it:

    - **storstad**: population >= 200 000. SKR's kommungruppsindelning 2017, group
      A1 ("storstäder"), requires 200 000 inhabitants in the largest tätort:
      Stockholm, Göteborg and Malmö.
    - **regional kärna**: population >= 15 000, jobs >= 10 000 and job ratio (jobs
      per employed resident) >= 0.85.

      *Population 15 000* is SKR 2017's smallest town ("mindre städer/tätorter", C5:
      15 000 inhabitants in the largest tätort); it keeps villages out without jobs
      data and adds nothing to the two job rules.

      *Jobs 10 000* is set by the smallest of the published regional kärnor that
      have a job surplus: Ystad (10 652 jobs) and Hässleholm (11 335) in Region
      Skåne's list (Regionplan för Skåne 2022–2040, "Det flerkärniga Skåne"). The
      other designations that are tätorter of their own have more: Västra
      Götaland's regional centres Borås, Trollhättan, Skövde and Uddevalla (18 686
      the smallest), ÖMS 2050's storregionala nodstäder (Nyköping 18 201), RUFS
      2050's regional stadskärnor Södertälje (47 808) and Kista–Sollentuna–Häggvik
      (in "Upplands Väsby och Sollentuna", 75 329), and the residensstäder but
      Härnösand (8 625).

      *Job ratio 0.85* is set by the lowest job ratio among those designations:
      the ÖMS 2050 nodstäder Nyköping (0.94; 0.91 on the 2024 inhabitants of the
      2023 tätort the jobs are counted on) and Eskilstuna (0.95) — under 1.0 only
      because 0.5 employed per inhabitant overstates their employment. The threshold
      lies under them by that uncertainty, so the year of the inhabitants moves no
      town across it (Ängelholm: 0.93 or 0.87). Job-poor suburbs lie far below
      whatever their size: Tumba 0.55, Lidingö 0.48, Åkersberga 0.45, Vallentuna
      0.51, Märsta 0.38, Nordöstra Göteborg 0.34. The designations the rules do not
      reproduce are those of strategy rather than of jobs: Landskrona (0.78) and
      Trelleborg (0.64) in Region Skåne's list, and RUFS 2050's Arlanda–Märsta, whose
      jobs lie at the airport outside the tätort.

      Where jobs are not known, the job rules do not hold (the scheme's ``unknown =
      "fail"``), so population alone never makes a regional kärna, and the reason
      says so.
    - **lokal kärna**: the largest tätort of its kommun with population >= 5 000
      (the kommun's main place, the level of local service in Region Skåne's
      "Det flerkärniga Skåne").
    - **serviceort**: population >= 2 000. SCB counts tätorter of 2 000 and more as
      the size class with local commercial and public service.
    - **övrig tätort**: every other tätort.

    Examples
    --------
    >>> [str(r) for r in default_role_scheme().role("regional_karna").rules]
    ['population >= 15000', 'jobs >= 10000', 'job_ratio >= 0.85']
    """
    p = RoleRule.parse
    return RoleScheme(
        name="default",
        roles=(
            RoleDef(
                "storstad",
                "Storstad",
                "Metropolis",
                (p("population >= 200000"),),
                "SKR kommungruppsindelning 2017, A1",
            ),
            RoleDef(
                "regional_karna",
                "Regional kärna",
                "Regional core",
                (p("population >= 15000"), p("jobs >= 10000"), p("job_ratio >= 0.85")),
                "population: SKR kommungruppsindelning 2017, C5; jobs: Region Skåne, "
                "Regionplan för Skåne 2022–2040 (Ystad, Hässleholm); job ratio: ÖMS 2050, "
                "storregionala nodstäder (Nyköping, Eskilstuna); checked against RUFS 2050's "
                "regionala stadskärnor and Västra Götaland's regional centres",
            ),
            RoleDef(
                "lokal_karna",
                "Lokal kärna",
                "Local core",
                (p("rank_in_area == 1"), p("population >= 5000")),
                "largest tätort of its kommun",
            ),
            RoleDef(
                "serviceort",
                "Serviceort",
                "Service town",
                (p("population >= 2000"),),
                "SCB tätort size class 2 000+",
            ),
            RoleDef("ovrig_tatort", "Övrig tätort", "Other urban area", ()),
        ),
    )


# --------------------------------------------------------------------------- links
#
# One frozen params class per form of the commuting model (``decay``), as the region
# methods have theirs: the keys one form only uses are its class's fields. The project
# file writes them all flat in ``[links]`` beside ``decay`` (:func:`link_params`).


def _form_fields(obj: Any) -> None:
    """Check a form's params against their annotations, and store the numbers as floats
    (``PowerParams(beta=2).beta`` is 2.0, as TOML's ``beta = 2`` is)."""
    check_fields(obj, "links")
    for f in fields(obj):
        object.__setattr__(obj, f.name, float(getattr(obj, f.name)))


@dataclass(frozen=True)
class MixtureParams:
    """The calibrated commuting model: ``decay = "mixture"``.

    The employed residents of a place are split into three groups:

    - a share ``own_share * (population / 10 000) ** own_share_exponent`` (at most
      ``1 - long_share``) works in the own place whatever the geography (local
      services, schools, home-based work);
    - a share ``long_share`` is spread over all destinations in proportion to
      ``jobs_j ** long_gamma * exp(-d / long_km)``: long-distance and weekly commuters,
      people whose workplace is registered far from home;
    - the rest, the regional labour market, is spread in proportion to
      ``jobs_j ** gamma / (1 + (d / d50_km) ** decay_exponent)``: flat for short
      trips, falling steeply around ``d50_km``, with a power tail beyond;
    - the regional group is damped by ``exp(-kommun_border)`` between places in
      different kommuner (``area_id``), both groups by ``exp(-lan_border)`` between
      places in different län (the first two characters of ``area_id``, SCB's kommun
      code); a place without ``area_id`` counts no border.

    It was calibrated on SCB's commuting between kommuner (the LA workbooks 2020 and
    2021: ``p1``, the share of employed residents working in another kommun, and
    ``till``, where most of them go; 2,017 tätorter with SCB's jobs, summed to 285
    kommuner). Defaults, each fixed or fitted (the fitted ones on 2020 and 2021
    together, with jobs, the bound, the jobs outside the tätorter and distances over
    land; the loss: the MAE of ``p1``, the missed ``till``, the big cities'
    out-of-tätort shares and Region Halland's tätorter, README "Modelled flows"), and
    the evidence:

    - ``own_share = 0.193`` and ``own_share_exponent = -0.132`` (fitted): a place of
      10 000 keeps 19 % of its workers at home whatever the geography, a village of
      500 29 % (at most its jobs), a city of 200 000 13 %; the issue reports that 0.2
      (24 % at 10 000) sent too few out of their own tätort in every size class of
      Region Halland's tätort figures (MAE 0.14-0.15);
    - ``d50_km = 18.5`` (fitted): straight-line km, about 23 km or 20-25 minutes by
      road; commuting "declines rapidly when commuting times exceed 45 minutes"
      (Sandow & Westin 2010, J. Transport and Land Use 2(3/4)), and is insensitive to
      short time distances and very sensitive beyond a threshold (Johansson, Klaesson
      & Olsson 2003, J. Geographical Systems 5);
    - ``decay_exponent = 4`` (fixed): free fits gave 4.0-4.35 (0.2);
    - ``gamma = 0.916`` (fitted): the regional group's jobs exponent (0.2: 1.110 on the
      population, which grows more slowly than the jobs with a place's size);
    - ``long_share = 0.135`` (fitted): about 16 % of Swedes travel more than 45
      minutes to work (a national survey of 5 003 people); long-distance commuting is
      a recognised group (Sandow 2011; Öhman & Lindgren 2003);
    - ``long_km = 45.0`` (fitted): weight 0.33 at 50 km, 0.11 at 100 km;
    - ``long_gamma = 0.931`` (fitted; 1 in 0.2): with jobs as the mass, exponent 1 sends
      the long-range group to Stockholm and Göteborg from every kommun within 100 km
      (Nykvarn, Gnesta, Trosa, Eskilstuna, Tjörn, Orust, Skövde had them as largest
      destination);
    - ``lan_border = 0.618`` (fitted): factor 0.54 across a län border; län are the
      units of regional public transport and of the regions' own employment, and
      commuters lose more utility commuting to another region (Laitila, Lundgren &
      Olsson);
    - ``kommun_border = 1.025`` (fitted): factor 0.36 on the regional group across a
      kommun border (0.2: 0.67): with a smaller own-place share, more of a tätort's
      workers leave it, and most of them stay in its kommun (its other tätorter and
      the jobs outside them), as SCB's ``p1`` says.

    Calibrating on observed flows (``[links] calibrate``) fits ``d50_km``, ``gamma``,
    ``long_share``, ``long_km``, ``lan_border`` and ``kommun_border`` by maximum
    likelihood of where each place's out-commuters go (``own_share``,
    ``own_share_exponent`` and ``decay_exponent`` stay as given: between-place flows
    cannot tell them).

    Examples
    --------
    >>> MixtureParams().d50_km
    18.5
    >>> MixtureParams(own_share=0.9, long_share=0.2)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    strukturbild.errors.ConfigError: key 'links.long_share': own_share + long_share must ...
    """

    decay: ClassVar[str] = "mixture"

    own_share: float = 0.193
    own_share_exponent: float = -0.132
    d50_km: float = 18.5
    decay_exponent: float = 4.0
    gamma: float = 0.916
    long_share: float = 0.135
    long_km: float = 45.0
    long_gamma: float = 0.931
    lan_border: float = 0.618
    kommun_border: float = 1.025

    def __post_init__(self) -> None:
        _form_fields(self)
        for name in ("d50_km", "decay_exponent", "long_km"):
            v = getattr(self, name)
            if not v > 0:
                raise _err(None, f"links.{name}", f"expected a positive number, got {v}")
        for name in ("own_share", "long_share"):
            v = getattr(self, name)
            if not 0 <= v < 1:
                raise _err(None, f"links.{name}", f"expected a share from 0 to 1, got {v}")
        if self.own_share + self.long_share > 1:
            raise _err(None, "links.long_share", "own_share + long_share must not exceed 1, "
                       f"got {self.own_share} + {self.long_share}")
        for name in ("gamma", "long_gamma", "lan_border", "kommun_border"):
            if not getattr(self, name) >= 0:
                raise _err(None, f"links.{name}", f"expected a number >= 0, got "
                           f"{getattr(self, name)}")


@dataclass(frozen=True)
class _BetaParams:
    """The forms of strukturbild 0.1, one parameter each: ``beta``."""

    beta: float = 0.1

    def __post_init__(self) -> None:
        _form_fields(self)
        if not self.beta > 0:
            raise _err(None, "links.beta", f"expected a positive number, got {self.beta}")


@dataclass(frozen=True)
class ExponentialParams(_BetaParams):
    """``decay = "exponential"``: every employed resident spread in proportion to
    ``jobs_j * exp(-beta d)``; ``beta`` per km (default 0.1: about 0.1 per minute,
    Johansson, Klaesson & Olsson 2003, at about 1 km per minute). With observed flows
    and ``calibrate``, ``beta`` is fitted by a Poisson model (see
    :func:`~strukturbild.analysis.gravity.fit_gravity`).

    Examples
    --------
    >>> ExponentialParams(beta=0.07).beta
    0.07
    """

    decay: ClassVar[str] = "exponential"


@dataclass(frozen=True)
class PowerParams(_BetaParams):
    """``decay = "power"``: every employed resident spread in proportion to
    ``jobs_j * d ** -beta`` (distances under 1 km count as 1 km); ``beta`` the
    exponent, fitted as the exponential form's is.

    Examples
    --------
    >>> PowerParams(beta=2).beta
    2.0
    """

    decay: ClassVar[str] = "power"


#: The params class of each form of the model.
DecayParams = MixtureParams | ExponentialParams | PowerParams
DECAY_FORMS: Mapping[str, type[DecayParams]] = {
    c.decay: c for c in (MixtureParams, ExponentialParams, PowerParams)
}


@dataclass(frozen=True)
class LinkParams:
    """How functional links are made.

    ``source``: ``"observed"`` uses the flows only; ``"modelled"`` always models;
    ``"auto"`` (default) uses observed flows when given and models otherwise.

    **Modelled flows** (:func:`~strukturbild.analysis.links.model_flows`) come from a
    production-constrained model: the employed residents of each place (its
    ``employed``, else estimated as ``population`` times ``[places] employment_rate``)
    are shared among all destinations, the place itself included. A destination's mass
    is its jobs (``jobs``); a place whose jobs are not known gets its employed residents
    times a job ratio that grows with its size (``job_ratio``, ``job_ratio_exponent``;
    counted in the parameters used). ``decay`` names the model's form and ``form``
    holds its parameters, as :class:`RegionParams` holds a region method's: the
    calibrated ``"mixture"`` (:class:`MixtureParams`, the default), or 0.1's
    ``"exponential"`` and ``"power"`` (:class:`ExponentialParams`,
    :class:`PowerParams`). Given no ``form``, the form's defaults. Whatever the form:

    - with ``own_bound`` a place keeps at most as many of its workers as it has jobs;
      the rest go to the other destinations in proportion to its flows to them;
    - the jobs outside any tätort (about 14 % of Sweden's) are destinations too, one
      per kommun, spread over it (given to the model, or made by the pipeline from the
      areas: :func:`~strukturbild.analysis.links.outside_jobs`);
    - ``distance = "straight"`` measures the straight line, ``"land"`` the distance
      over land (:class:`~strukturbild.analysis.land.LandDistance`: the areas' polygons
      as the land, water crossed only by a bridge, tunnel or ferry of its table);
    - there is no distance cut-off (``max_distance_km``, optional, sets one).

    Defaults and the evidence (the form's own: :class:`MixtureParams`):

    - the employed residents where not known: ``[places] employment_rate = 0.5``
      (:data:`DEFAULT_EMPLOYMENT_RATE`; about 5.1 million employed, SCB BAS 2020, day
      population, among 10.4 million inhabitants); a rate the same for every place
      cancels out of every share;
    - ``urban_density = 2200`` inhabitants per km² (fixed): the population-weighted
      mean density of SCB's statistical tätorter 2020, giving a place's area where
      ``area_ha`` is not known; a place's distance to itself is the mean distance
      between two points of a disc of its area (``0.905 * sqrt(area / pi)``);
    - ``own_bound = true``: a tätort cannot employ more of its own residents than it
      has jobs (SCB's jobs per tätort, RAMS/BAS 2024: suburbs have a third of their
      employed residents' number of jobs);
    - ``job_ratio = 0.72`` and ``job_ratio_exponent = 0.2`` (fixed): a place whose
      jobs are not known (or every place, when none has jobs) gets its employed
      residents times ``job_ratio * (population / 10 000) ** job_ratio_exponent``
      jobs: the least-squares line of log(jobs / employed) on log(population) over the
      1,991 tätorter of 2020 with SCB's jobs (RAMS/BAS 2024); it gives the medians by
      size, 0.37 for 200-1 000 inhabitants (SCB: 0.37), 0.51 (0.51), 0.69 (0.76), 0.94
      (1.04) and 1.23 over 100 000 (1.23);
    - ``outside_share = 0.14``: the share of all jobs outside any tätort when the
      kommuner's job totals are not known (SCB RAMS/BAS 2024: the tätorter hold
      4 488 706 jobs, about 86 % of the employed), spread over the kommuner by the
      population of their villages (places under 1 000); 0 leaves them out;
    - ``distance = "straight"``: ``"land"`` needs the land (the areas); the fit of the
      mixture used it (README: the straight line scores about as well on the kommun
      shares);
    - ``min_flow = 50``: pairs of places with fewer than 50 commuters a day (both
      directions together) draw no link, and the model does not keep them (regions
      made from modelled flows use the pairs from 1 commuter on); set 0 to keep every
      pair.

    The exponential and power forms spread all employed residents in proportion to
    ``jobs_j * f(d)`` (no own-place share, no long-range group), and with ``model =
    "unconstrained"`` the model ``T_ij = k P_i P_j f(d_ij)`` scaled to the same total.
    strukturbild 0.1's modelled links are ``decay = "exponential"``,
    ``max_distance_km = 50`` (with the default ``beta`` and ``min_flow``) on places
    without jobs, with ``job_ratio_exponent = 0`` (the estimated jobs then are in
    proportion to the population) and ``own_bound = false``; 0.2's are the mixture
    with its parameters (README) and the same two.

    With observed flows and ``calibrate = true`` the model is fitted to the observed
    between-place flows (the form's parameters: see its class), and the observed
    employed residents (outflows including intra-place flows) replace the estimate
    where known.

    Link classes use the larger share of employed residents that commute to the
    other place (the ``strength``): ``strong`` from 0.15 (the OECD/Eurostat
    commuting-zone threshold), ``medium`` from 0.075 (SCB's single-flow threshold for
    local labour markets), otherwise ``weak``.

    Examples
    --------
    >>> LinkParams().decay, LinkParams().form
    ('mixture', MixtureParams(own_share=0.193, own_share_exponent=-0.132, d50_km=18.5, \
decay_exponent=4.0, gamma=0.916, long_share=0.135, long_km=45.0, long_gamma=0.931, \
lan_border=0.618, kommun_border=1.025))
    >>> LinkParams(decay="exponential", max_distance_km=50).form  # strukturbild 0.1
    ExponentialParams(beta=0.1)
    >>> LinkParams(decay="power", form=ExponentialParams())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    strukturbild.errors.ConfigError: key 'links.decay': decay 'power' takes PowerParams, ...
    """

    source: Literal["auto", "observed", "modelled"] = "auto"
    model: Literal["production", "unconstrained"] = "production"
    decay: Literal["mixture", "exponential", "power"] = "mixture"
    form: DecayParams | None = None
    max_distance_km: float | None = None
    distance: Literal["straight", "land"] = "straight"
    own_bound: bool = True
    job_ratio: float = 0.72
    job_ratio_exponent: float = 0.2
    outside_share: float = 0.14
    min_flow: float = 50.0
    urban_density: float = 2200.0
    strong: float = 0.15
    medium: float = 0.075
    calibrate: bool = True

    def __post_init__(self) -> None:
        check_fields(self, "links")
        cls = DECAY_FORMS[self.decay]
        if self.form is None:
            object.__setattr__(self, "form", cls())
        elif type(self.form) is not cls:
            raise _err(None, "links.decay", f"decay '{self.decay}' takes {cls.__name__}, "
                       f"got {type(self.form).__name__}")
        if not self.urban_density > 0:
            raise _err(None, "links.urban_density",
                       f"expected a positive number, got {self.urban_density}")
        d = self.max_distance_km
        if d is not None:
            if isinstance(d, bool) or not isinstance(d, int | float) or not d > 0 \
                    or not math.isfinite(d):
                raise _err(None, "links.max_distance_km",
                           f"expected a positive number of km (or none), got {d!r}")
            object.__setattr__(self, "max_distance_km", float(d))
        if not self.job_ratio > 0:
            raise _err(None, "links.job_ratio",
                       f"expected a positive number, got {self.job_ratio}")
        if not 0 <= self.outside_share < 1:
            raise _err(None, "links.outside_share",
                       f"expected a share from 0 to below 1, got {self.outside_share}")
        if not self.min_flow >= 0:
            raise _err(None, "links.min_flow", f"expected a number >= 0, got {self.min_flow}")
        if not (0 < self.medium <= self.strong <= 1):
            raise ConfigError(
                "link class thresholds must satisfy 0 < links.medium <= links.strong <= 1"
            )
        if self.model == "unconstrained" and self.decay == "mixture":
            raise _err(None, "links.model", "the unconstrained model needs decay "
                       "\"exponential\" or \"power\" (the mixture is production-constrained)")

    def as_dict(self, *, every_form: bool = False) -> dict[str, Any]:
        """The ``[links]`` table as the project file writes it: the keys of the form's
        parameters in the place of ``form``; with ``every_form``, the other forms' keys
        too, at their defaults (strukturbild 0.2's one flat table, which the summary's
        ``provenance.parameters.links`` keeps).

        Examples
        --------
        >>> d = LinkParams(decay="power", form=PowerParams(beta=2)).as_dict()
        >>> d["decay"], d["beta"], "d50_km" in d
        ('power', 2.0, False)
        >>> LinkParams(decay="power", form=PowerParams(beta=2)).as_dict(every_form=True)["d50_km"]
        18.5
        >>> link_params(LinkParams().as_dict()) == LinkParams()
        True
        """
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name != "form":
                out[f.name] = getattr(self, f.name)
                continue
            for cls in DECAY_FORMS.values() if every_form else (DECAY_FORMS[self.decay],):
                own = type(self.form) is cls
                given = self.form if own else cls()
                for g in fields(cls):
                    if own or g.name not in out:
                        out[g.name] = getattr(given, g.name)
        return out


def link_params(values: Mapping[str, Any]) -> LinkParams:
    """A :class:`LinkParams` from the ``[links]`` table's keys, written flat as the
    project file writes them (the form's keys beside ``decay``).

    The keys of another form than ``decay``'s are checked and left out: strukturbild
    0.2's files, and the README's reference, write ``beta`` beside the mixture. A key
    no form and no field of :class:`LinkParams` takes is an error naming it.

    Examples
    --------
    >>> link_params({"decay": "exponential", "beta": 0.07, "max_distance_km": 50}).form
    ExponentialParams(beta=0.07)
    >>> link_params({"d50_km": 20, "beta": 0.1}).form.d50_km
    20.0
    >>> link_params({"d50km": 20})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    strukturbild.errors.ConfigError: key 'links.d50km': unknown key; expected one of ...
    """
    own = {f.name for f in fields(LinkParams)} - {"form"}
    takes = {cls: {f.name for f in fields(cls)} for cls in DECAY_FORMS.values()}
    for key in values:
        if key not in own and not any(key in names for names in takes.values()):
            known = sorted(own.union(*takes.values()))
            raise _err(None, f"links.{key}", f"unknown key; expected one of {', '.join(known)}")
    forms = {cls.decay: cls(**_floats(cls, {k: v for k, v in values.items() if k in names}))
             for cls, names in takes.items()}
    common = _floats(LinkParams, {k: v for k, v in values.items() if k in own})
    return LinkParams(**common, form=forms.get(common.get("decay", "mixture")))


def _floats(cls: type[Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with the whole numbers of ``cls``'s float fields as floats (TOML's
    ``min_flow = 50`` is the field's 50.0)."""
    hints = get_type_hints(cls)
    return {k: float(v) if isinstance(v, int) and not isinstance(v, bool)
            and hints.get(k) in (float, float | None) else v for k, v in values.items()}


# --------------------------------------------------------------------------- regions
#
# One frozen params class per region method, each validated in ``__post_init__``. The
# project file's ``[regions]`` table, the pipeline, :func:`delineate_regions` and the
# ``strukturbild regions`` command all build these classes, so the defaults and the
# checks are written once, here. ``metadata["help"]`` is the command line's help text.


def _help(text: str) -> dict[str, str]:
    return {"help": text}


def _region_fields(obj: Any) -> None:
    """Check a region params object against its annotations, and store numbers as floats.

    ``check_fields`` covers the plain types; tuples and optional values are checked here.
    """
    check_fields(obj, "regions")
    hints = get_type_hints(type(obj))
    for f in fields(obj):
        value = getattr(obj, f.name)
        hint = hints[f.name]
        key = f"regions.{f.name}"
        if hint is float:
            object.__setattr__(obj, f.name, float(value))
        elif hint == (int | None) and value is not None and (
                isinstance(value, bool) or not isinstance(value, int)):
            raise _err(None, key, f"expected a whole number, got {value!r}")
        elif hint == (float | None) and value is not None:
            if isinstance(value, bool) or not isinstance(value, int | float) \
                    or not math.isfinite(value):
                raise _err(None, key, f"expected a finite number, got {value!r}")
            object.__setattr__(obj, f.name, float(value))
        elif hint == tuple[str, ...]:
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, list | tuple) or not all(isinstance(x, str) for x in items):
                raise _err(None, key, f"expected a list of ids (strings), got {value!r}")
            object.__setattr__(obj, f.name, tuple(dict.fromkeys(
                x.strip() for x in items if x.strip())))
        elif hint == tuple[float, ...]:
            items = [value] if isinstance(value, int | float) else value
            if not isinstance(items, list | tuple) or not all(
                    isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
                    for x in items):
                raise _err(None, key, f"expected a list of numbers, got {value!r}")
            object.__setattr__(obj, f.name, tuple(float(x) for x in items))


def _share(obj: Any, name: str, *, low_open: bool = False) -> None:
    v = getattr(obj, name)
    if not ((v > 0) if low_open else (v >= 0)) or not v <= 1:
        interval = "(0, 1]" if low_open else "[0, 1]"
        raise _err(None, f"regions.{name}", f"is a share of employed residents and must be in "
                   f"{interval}, got {v:g}")


@dataclass(frozen=True)
class LMAParams:
    """Labour market areas (Eurostat/Istat, Coombes & Bond 2008): ``method = "lma"``.

    The defaults are the example of the Istat R package LabourMarketAreas. Need
    ``0 < min_size <= target_size`` and ``0 < min_self_containment <=
    target_self_containment <= 1``.

    Examples
    --------
    >>> LMAParams(min_size=500).min_size
    500.0
    >>> LMAParams(min_size=20000)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    strukturbild.errors.ConfigError: key 'regions.min_size': need 0 < min_size <= target_size, ...
    """

    method: ClassVar[str] = "lma"

    min_size: float = field(default=1000.0, metadata=_help(
        "minimum employed residents of an area"))
    min_self_containment: float = field(default=0.6667, metadata=_help(
        "minimum self-containment"))
    target_size: float = field(default=10000.0, metadata=_help(
        "employed residents from which the minimum self-containment suffices"))
    target_self_containment: float = field(default=0.75, metadata=_help(
        "self-containment that suffices at the minimum size"))

    def __post_init__(self) -> None:
        _region_fields(self)
        if not 0 < self.min_size <= self.target_size:
            raise _err(None, "regions.min_size", "need 0 < min_size <= target_size, got "
                       f"min_size={self.min_size:g}, target_size={self.target_size:g}")
        if not 0 < self.min_self_containment <= self.target_self_containment <= 1:
            raise _err(None, "regions.min_self_containment",
                       "need 0 < min_self_containment <= target_self_containment <= 1, got "
                       f"{self.min_self_containment:g} and {self.target_self_containment:g}")


@dataclass(frozen=True)
class SCBLAParams:
    """SCB's local labour markets (lokala arbetsmarknader): ``method = "scb_la"``.

    ``max_outflow`` and ``max_single_outflow`` are SCB's limits for a self-sufficient
    kommun (20 % and 7.5 %, inclusive). SCB's 2020 and 2021 LA cut no chain, so
    ``max_chain`` is unset by default; set it (e.g. 2, SCB 2010's wording) to cut
    longer chains at their weakest link.

    Examples
    --------
    >>> SCBLAParams().max_chain is None
    True
    >>> SCBLAParams(max_chain=0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    strukturbild.errors.ConfigError: key 'regions.max_chain': expected a whole number >= 1...
    """

    method: ClassVar[str] = "scb_la"

    max_outflow: float = field(default=0.2, metadata=_help(
        "largest share of employed residents working in other units for a centre"))
    max_single_outflow: float = field(default=0.075, metadata=_help(
        "largest share working in any single other unit for a centre"))
    max_chain: int | None = field(default=None, metadata=_help(
        "cut chains longer than this many links at their weakest link (none: no chain is "
        "cut, as in SCB's LA 2020-2021)"))

    def __post_init__(self) -> None:
        _region_fields(self)
        _share(self, "max_outflow")
        _share(self, "max_single_outflow")
        if self.max_chain is not None and self.max_chain < 1:
            raise _err(None, "regions.max_chain", "expected a whole number >= 1 (links to "
                       f"the centre), or no value for no limit; got {self.max_chain!r}")


@dataclass(frozen=True)
class NodalParams:
    """Nystuen–Dacey nodal regions: ``method = "nodal"``.

    Examples
    --------
    >>> NodalParams(k=1.2).k
    1.2
    """

    method: ClassVar[str] = "nodal"

    k: float = field(default=1.0, metadata=_help(
        "dominance ratio: a flow is dominant when the destination's inflow is at least k "
        "times the origin's"))

    def __post_init__(self) -> None:
        _region_fields(self)
        if not self.k > 0:
            raise _err(None, "regions.k", f"k must be > 0, got {self.k:g}")


@dataclass(frozen=True)
class CommutingZoneParams:
    """Commuting zones around cores: ``method = "commuting_zone"``.

    The cores are given (``cores``), or found by their share of the jobs
    (``core_job_shares``, one threshold per level, highest first; e.g. ``[0.20, 0.085,
    0.01]`` as in Region Halland's analyses). ``share_of`` says of which jobs:
    ``"all"`` (default), those of every unit of the flows; ``"region"``, those of the
    units inside the region (``region_units``), the other units of the flows being
    its neighbours: they are never cores by job share, may join a zone, and are left
    out (``"excluded"``) when they join none. A unit joins a core's zone when at
    least ``share`` of its employed residents work there (OECD/Eurostat 0.15; Region
    Halland 0.10); a core is never a member of another core's zone. ``multiple`` lets
    a unit be in every zone it qualifies for, the one with the largest share being
    its primary zone. ``merge_invalid`` merges a core that attracts no other unit into
    the core it has the largest flow with (both directions); it is then in that zone
    only. ``external_min_flow`` keeps the links of a zone to units outside it whose
    flow, summed over the zone's members, is at least this many commuters in one
    direction.

    Examples
    --------
    >>> CommutingZoneParams(cores="K1").cores
    ('K1',)
    >>> CommutingZoneParams(core_job_shares=[0.2, 0.085, 0.01], share=0.1).core_job_shares
    (0.2, 0.085, 0.01)
    >>> CommutingZoneParams(core_job_shares=[0.2], share_of="region",
    ...                     region_units=["H", "K"]).region_units
    ('H', 'K')
    >>> CommutingZoneParams(core_job_shares=[0.2], share_of="region")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    strukturbild.errors.ConfigError: key 'regions.region_units': share_of = 'region' needs ...
    """

    method: ClassVar[str] = "commuting_zone"

    cores: tuple[str, ...] = field(default=(), metadata=_help("ids of the core units"))
    core_job_shares: tuple[float, ...] = field(default=(), metadata=_help(
        "cores by their share of the jobs (see share_of), one threshold per level, "
        "highest first (instead of cores)"))
    share_of: Literal["all", "region"] = field(default="all", metadata=_help(
        "the jobs core_job_shares are shares of: all units' jobs, or the jobs of the "
        "region's units (region_units)"))
    region_units: tuple[str, ...] = field(default=(), metadata=_help(
        "ids of the units inside the region, with share_of region (the other units are "
        "its neighbours): ID,ID or a file of ids (one per line, or a column unit)"))
    share: float = field(default=0.15, metadata=_help(
        "share of a unit's employed residents working in a core for the unit to join its "
        "zone"))
    multiple: bool = field(default=False, metadata=_help(
        "a unit joins every zone it reaches the share for; the largest is its primary"))
    merge_invalid: bool = field(default=False, metadata=_help(
        "merge a core that attracts no other unit into the core it has the largest flow "
        "with"))
    external_min_flow: float | None = field(default=None, metadata=_help(
        "keep links from a zone to outside units that its members together send or "
        "receive at least this many commuters"))

    def __post_init__(self) -> None:
        _region_fields(self)
        if not self.cores and not self.core_job_shares:
            raise _err(None, "regions.cores", "commuting_zone needs cores (the ids of the "
                       "core units) or core_job_shares (cores by their share of all jobs)")
        if self.cores and self.core_job_shares:
            raise _err(None, "regions.core_job_shares",
                       "give cores or core_job_shares, not both")
        t = self.core_job_shares
        if t and (not all(0 < x <= 1 for x in t) or any(a <= b for a, b in itertools.pairwise(t))):
            raise _err(None, "regions.core_job_shares", "expected shares in (0, 1], "
                       f"highest first and each lower than the one before, got {list(t)}")
        _share(self, "share", low_open=True)
        if self.external_min_flow is not None and self.external_min_flow < 0:
            raise _err(None, "regions.external_min_flow",
                       f"expected a number >= 0, got {self.external_min_flow:g}")
        if self.share_of == "region":
            if not self.core_job_shares:
                raise _err(None, "regions.share_of", "share_of = 'region' applies to cores "
                           "found by core_job_shares; give them")
            if not self.region_units:
                raise _err(None, "regions.region_units", "share_of = 'region' needs "
                           "region_units: the ids of the units inside the region")
        elif self.region_units:
            raise _err(None, "regions.region_units", "region_units applies to share_of = "
                       "'region'; set it or drop region_units")


#: The params class of each region method.
MethodParams = LMAParams | SCBLAParams | NodalParams | CommutingZoneParams
REGION_METHODS: Mapping[str, type[MethodParams]] = {
    c.method: c for c in (LMAParams, SCBLAParams, NodalParams, CommutingZoneParams)
}


def region_method(name: str, *, allow_none: bool = False) -> str:
    """The canonical name of a region method; ``scb-la`` and ``scb_la`` are the same.

    Examples
    --------
    >>> region_method("Commuting-Zone")
    'commuting_zone'
    """
    key = str(name).strip().lower().replace("-", "_")
    allowed = (("none",) if allow_none else ()) + tuple(REGION_METHODS)
    if key not in allowed:
        raise _err(None, "regions.method", f"unknown region method {name!r}; use one of "
                   f"{', '.join(allowed)} ('-' or '_' alike)")
    return key


def region_params(method: str, params: Mapping[str, Any] | None = None) -> MethodParams:
    """The params object of a region method from keyword values.

    A key the method does not take is an error naming it and the keys it takes.

    Examples
    --------
    >>> region_params("scb-la", {"max_chain": 3})
    SCBLAParams(max_outflow=0.2, max_single_outflow=0.075, max_chain=3)
    >>> region_params("nodal", {"share": 0.2})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    strukturbild.errors.ConfigError: key 'regions.share': method 'nodal' does not take it; ...
    """
    cls = REGION_METHODS[region_method(method)]
    given = dict(params or {})
    takes = [f.name for f in fields(cls)]
    for key in given:
        if key not in takes:
            raise _err(None, f"regions.{key}", f"method '{cls.method}' does not take it; "
                       f"it takes {', '.join(takes)}")
    return cls(**given)


@dataclass(frozen=True)
class RegionParams:
    """Functional regions: the method (``"none"`` for none) and its params object.

    The project file writes the method's keys beside ``method`` in ``[regions]``.

    Examples
    --------
    >>> RegionParams().method
    'none'
    >>> RegionParams("scb-la").params
    SCBLAParams(max_outflow=0.2, max_single_outflow=0.075, max_chain=None)
    """

    method: Literal["none", "lma", "scb_la", "nodal", "commuting_zone"] = "none"
    params: MethodParams | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "method", region_method(self.method, allow_none=True))
        check_fields(self, "regions")
        if self.method == "none":
            if self.params is not None:
                raise _err(None, "regions.method", "'none' takes no parameters")
            return
        cls = REGION_METHODS[self.method]
        if self.params is None:
            object.__setattr__(self, "params", cls())
        elif type(self.params) is not cls:
            raise _err(None, "regions.method", f"method '{self.method}' needs "
                       f"{cls.__name__}, got {type(self.params).__name__}")

    def as_dict(self) -> dict[str, Any]:
        """``method`` and the method's parameters, as the project file writes them.

        Examples
        --------
        >>> RegionParams("nodal").as_dict()
        {'method': 'nodal', 'k': 1.0}
        """
        out: dict[str, Any] = {"method": self.method}
        if self.params is not None:
            out.update({f.name: getattr(self.params, f.name) for f in fields(self.params)})
        return out


#: Lantmäteriet's topographic web maps (open data, CC BY 4.0; the user's key needed).
_LANTMATERIET = {
    "lantmateriet": "topowebb",
    "lantmateriet.topowebb": "topowebb",
    "lantmateriet.topowebbnedtonad": "topowebb_nedtonad",
}


def resolve_basemap(basemap: str, key: str | None) -> Any:
    """The tiles a ``[map] basemap`` names: a Lantmäteriet layer name, or an
    xyzservices provider (with the key filled in).

    Raises
    ------
    ConfigError
        An unknown name, or a provider that needs a key given none.

    Examples
    --------
    >>> resolve_basemap("Lantmateriet.Topowebb", "abc123")
    'topowebb'
    >>> resolve_basemap("OpenStreetMap.Mapnik", None).name
    'OpenStreetMap.Mapnik'
    """
    name = basemap.strip()
    if key is not None and not re.fullmatch(r"[A-Za-z0-9_.~-]{1,200}", key):
        # the key goes into a tile URL: an API key is letters, digits and a few marks
        raise _err(None, "map.basemap_key", "may hold only letters, digits and '-', '_', "
                   "'.', '~' (an API key)")
    lm = _LANTMATERIET.get(name.lower().replace(" ", ""))
    if lm is not None:
        if not key:
            raise _err(None, "map.basemap", f"'{basemap}' needs your Lantmäteriet key: set "
                       "map.basemap_key")
        return lm
    import xyzservices

    try:
        provider = xyzservices.providers.query_name(name)
    except ValueError:
        raise _err(None, "map.basemap", f"unknown basemap '{basemap}'; use an xyzservices "
                   "provider such as 'CartoDB.Positron', or 'Lantmateriet.Topowebb' with "
                   "map.basemap_key") from None
    if provider.requires_token():
        if not key:
            raise _err(None, "map.basemap", f"'{basemap}' needs a key: set map.basemap_key")
        provider = provider(**{k: key for k, v in provider.items()
                               if isinstance(v, str) and v.startswith("<insert your")})
    return provider


@dataclass(frozen=True)
class MapOptions:
    """Options of the web and print maps.

    ``label_roles``: places of this many highest roles (that have places) get name
    labels. ``base``: draw the land, the sea and the neighbouring countries under
    the map (offline, :mod:`strukturbild.sources.base`). ``weak_links``: show weak
    links when the map opens (the web map's layer control shows them with one click
    either way). ``paper``: the print map's page; ``dpi``: its resolution (PNG, and
    any raster part of PDF and SVG). ``min_link_flow``: the web map draws weak links
    only from this many commuters (both directions together; ``None``: all of them,
    unless there are too many to draw legibly). ``land``: a file of Sweden's
    polygons (SCB's kommuner or län, e.g. the national ``kommuner.gpkg``; layer
    ``land_layer``) to draw Sweden's land outside the project's areas from, instead of
    Natural Earth's Sweden: their gaps (Vänern, Vättern, Mälaren) stay water, and
    their coast is SCB's. ``spokes``: with stråk (``[strak]``), show the links (straight
    lines between the places) when the web map opens, and draw them on the print map
    and in QGIS too; otherwise they are a layer one click away. Without stråk the links
    are drawn as ever.

    Every renderer (web, print, QGIS styles) takes one ``MapOptions``; the defaults
    are written here only. ``title`` and ``language`` are the project's: a
    :class:`~strukturbild.image.StructureImage` carries its own.

    Examples
    --------
    >>> MapOptions().language
    'sv'
    >>> MapOptions().replace(label_roles=2).label_roles
    2
    """

    title: str = ""
    language: Language = "sv"
    basemap: str | None = None
    basemap_key: str | None = None
    label_roles: int = 3
    timestamp: str | None = None
    source_note: str = ""
    base: bool = True
    land: str | None = None
    land_layer: str | None = None
    weak_links: bool = False
    paper: Literal["A4-portrait", "A4-landscape", "A3-portrait", "A3-landscape"] = \
        "A4-portrait"
    dpi: int = 300
    min_link_flow: float | None = None
    spokes: bool = False
    context: bool = True
    context_places: str | None = None
    context_layer: str | None = None
    context_min_population: float = 20_000.0

    def __post_init__(self) -> None:
        check_fields(self, "map")
        if isinstance(self.label_roles, bool) or not isinstance(self.label_roles, int) \
                or self.label_roles < 0:
            raise _err(None, "map.label_roles", "expected a whole number >= 0 (how many of "
                       f"the highest roles get labels), got {self.label_roles!r}")
        if not 1 <= self.dpi <= 1200:
            raise _err(None, "map.dpi", f"expected a whole number from 1 to 1200, got "
                       f"{self.dpi!r}")
        flow = self.min_link_flow
        if flow is not None and (isinstance(flow, bool) or not isinstance(flow, int | float)
                                 or not 0 <= flow < math.inf):
            raise _err(None, "map.min_link_flow", "expected a number of commuters >= 0, got "
                       f"{flow!r}")
        if not 0 <= self.context_min_population < math.inf:
            raise _err(None, "map.context_min_population", "expected a number of inhabitants "
                       f">= 0, got {self.context_min_population!r}")
        if self.timestamp is not None:
            import datetime as dt

            try:
                dt.datetime.fromisoformat(self.timestamp.replace("Z", "+00:00"))
            except ValueError:
                raise _err(None, "map.timestamp", "expected an ISO 8601 time, e.g. "
                           f"\"2026-05-01T12:00:00Z\", got {self.timestamp!r}") from None
        if self.basemap is not None:
            resolve_basemap(self.basemap, self.basemap_key)
        elif self.basemap_key is not None:
            resolve_basemap("Lantmateriet", self.basemap_key)  # checks the key's characters

    def replace(self, **changes: Any) -> MapOptions:
        """These options with ``changes``, validated like the project file's.

        Raises
        ------
        ConfigError
            An unknown option, or a value of the wrong kind.

        Examples
        --------
        >>> MapOptions().replace(paper="A3-landscape").paper
        'A3-landscape'
        >>> MapOptions().replace(colour="red")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        strukturbild.errors.ConfigError: unknown map option 'colour'; expected one of ...
        """
        names = [f.name for f in fields(self)]
        for key in changes:
            if key not in names:
                raise ConfigError(f"unknown map option {key!r}; expected one of "
                                  f"{', '.join(names)}")
        return replace(self, **changes)


@dataclass(frozen=True)
class StrakParams:
    """``[strak]``: the links' flows routed on a network, and the stråk they make.

    ``network``: ``"auto"`` (the project's ``[[layers]]`` of kind ``infrastructure``
    when it has any with lines, else a network generated from the places over land),
    ``"infrastructure"``, ``"generated"``, or ``"none"`` (no stråk; the links are
    drawn as before). A stråk is made of network edges that carry at least
    ``min_share`` of the busiest edge's flow and at least ``min_flow`` commuters a day
    (both directions); the ``max_count`` that carry the most commuting are drawn, and,
    with ``centres`` (the default), the busiest stråk of each of the region's highest
    roles' places that none of them reaches (see
    :func:`strukturbild.analysis.network.find_strak`).

    Examples
    --------
    >>> StrakParams().network, StrakParams().max_count
    ('auto', 12)
    >>> StrakParams(min_share=2)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    strukturbild.errors.ConfigError: key 'strak.min_share': expected a share ...
    """

    network: Literal["auto", "infrastructure", "generated", "none"] = "auto"
    min_share: float = 0.04
    min_flow: float = 0.0
    max_count: int = 12
    centres: bool = True

    def __post_init__(self) -> None:
        check_fields(self, "strak")
        if not (isinstance(self.min_share, int | float) and 0 < self.min_share <= 1):
            raise _err(None, "strak.min_share", "expected a share of the busiest edge's "
                       f"flow, more than 0 and at most 1, got {self.min_share!r}")
        if not (isinstance(self.min_flow, int | float) and 0 <= self.min_flow < math.inf):
            raise _err(None, "strak.min_flow", "expected a number of commuters >= 0, got "
                       f"{self.min_flow!r}")
        count = self.max_count
        if isinstance(count, bool) or not isinstance(count, int | float) or count < 1 \
                or count != int(count):
            raise _err(None, "strak.max_count", "expected a whole number >= 1 (the most "
                       f"stråk drawn), got {count!r}")
        object.__setattr__(self, "max_count", int(count))


@dataclass(frozen=True)
class ExportOptions:
    """What is written, and where.

    ``formats`` from :data:`FORMATS` (``html``, ``gpkg``, ``json``, ``png``, ``pdf``,
    ``svg``). Maps (:data:`MAP_FORMATS`) go to ``map_dir``, everything else to
    ``out_dir``; both are relative to the working directory unless absolute.

    Examples
    --------
    >>> ExportOptions().formats
    ('html', 'gpkg', 'json')
    """

    formats: tuple[Format, ...] = ("html", "gpkg", "json")
    out_dir: Path = Path("out")
    map_dir: Path | None = None

    def __post_init__(self) -> None:
        bad = [f for f in self.formats if f not in FORMATS]
        if bad:
            raise ConfigError(
                f"unknown output format(s) {', '.join(bad)}; expected some of "
                f"{', '.join(sorted(FORMATS))}"
            )


@dataclass(frozen=True)
class Project:
    """Everything one run needs.

    Examples
    --------
    >>> p = Project(name="x", places=PlacesSource(Path("t.gpkg")))
    >>> p.crs, p.links.source
    ('EPSG:3006', 'auto')
    """

    name: str
    places: PlacesSource | None = None
    title: str = ""
    crs: str = DEFAULT_CRS
    areas: AreasSource | None = None
    flows: FlowsSource | None = None
    layers: tuple[LayerSource, ...] = ()
    roles: RoleScheme = field(default_factory=default_role_scheme)
    links: LinkParams = field(default_factory=LinkParams)
    regions: RegionParams = field(default_factory=RegionParams)
    strak: StrakParams = field(default_factory=StrakParams)
    map: MapOptions = field(default_factory=MapOptions)
    export: ExportOptions = field(default_factory=ExportOptions)
    path: Path | None = None

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", self.name):
            raise ConfigError(
                f"project.name '{self.name}' is used in file names: use letters, digits, "
                "'_', '-' and '.' only",
                source=self.path,
            )

    def input_paths(self) -> tuple[Path, ...]:
        """Every file the project reads: outputs must never be one of them.

        Examples
        --------
        >>> p = Project(name="x", places=PlacesSource(Path("t.gpkg")))
        >>> p.input_paths()
        (PosixPath('t.gpkg'),)
        """
        paths: list[Path] = []
        if self.path is not None:
            paths.append(Path(self.path))
        for src in (self.places, self.areas, self.flows, *self.layers):
            if src is not None:
                paths.append(Path(src.path))
        if self.places is not None and self.places.jobs is not None:
            paths.append(Path(self.places.jobs.path))
        paths.extend(Path(d) for d in self.roles.designations if isinstance(d, Path))
        if self.map.land:
            paths.append(Path(self.map.land))
        if self.map.context_places:
            paths.append(Path(self.map.context_places))
        return tuple(paths)

    def output_paths(self) -> dict[Format, Path]:
        """Format → the file it is written to (maps in ``map_dir``, the rest in ``out_dir``).

        Examples
        --------
        >>> p = Project(name="x").with_export(formats=("html", "json"))
        >>> {k: str(v) for k, v in p.output_paths().items()}
        {'html': 'out/x.html', 'json': 'out/x.json'}
        """
        ex = self.export
        map_dir = ex.map_dir or ex.out_dir
        return {fmt: (map_dir if fmt in MAP_FORMATS else ex.out_dir)
                / f"{self.name}.{fmt}" for fmt in ex.formats}

    def with_export(self, **changes: Any) -> Project:
        """A copy with some export options changed.

        Examples
        --------
        >>> p = Project(name="x", places=PlacesSource(Path("t.gpkg")))
        >>> p.with_export(out_dir=Path("o")).export.out_dir
        PosixPath('o')
        """
        return replace(self, export=replace(self.export, **changes))


# --------------------------------------------------------------------------- reading

_Spec = Mapping[str, tuple[tuple[type, ...], bool]]  # key -> (TOML types, required)
_NUM = (int, float)


def _toml_types(hint: Any) -> tuple[type, ...]:
    """The TOML value types a field of this annotation is written with.

    A number field takes an int or a float (the dataclass checks that a whole number is
    whole), a ``Literal`` its values' type, a path a string, a tuple an array, a mapping
    or a dataclass a table; ``None`` is never written (the key is left out).

    Examples
    --------
    >>> _toml_types(float | None), _toml_types(Literal["a", "b"]), _toml_types(Path)
    ((<class 'int'>, <class 'float'>), (<class 'str'>,), (<class 'str'>,))
    """
    members = get_args(hint) if get_origin(hint) in (Union, UnionType) else (hint,)
    out: list[type] = []
    for m in members:
        origin = get_origin(m) or m
        if m is type(None):
            continue
        if origin is Literal:
            add: tuple[type, ...] = tuple(dict.fromkeys(type(v) for v in get_args(m)))
        elif m is bool:
            add = (bool,)
        elif m in (int, float):
            add = _NUM
        elif m in (str, Path):
            add = (str,)
        elif origin in (tuple, list):
            add = (list,)
        elif origin in (Mapping, dict) or is_dataclass(m):
            add = (dict,)
        else:  # pragma: no cover - a new field type: say how the file writes it
            raise TypeError(f"no TOML type for the annotation {hint!r}")
        out.extend(t for t in add if t not in out)
    return tuple(out)


def _spec_of(cls: type[Any], *, only: Collection[str] | None = None, skip: Collection[str] = (),
             keys: Mapping[str, str] | None = None, required: Collection[str] | None = None
             ) -> dict[str, tuple[tuple[type, ...], bool]]:
    """The keys of a TOML table, made from the fields of the dataclass it is read into:
    each field's TOML types from its annotation (:func:`_toml_types`, or the field's
    ``metadata["toml"]``), required when the field has no default.

    ``only``/``skip`` pick fields, ``keys`` renames fields to the file's keys
    (``{"label_sv": "label"}``), ``required`` names the required keys where the file
    differs from the dataclass (a key the reader fills in itself).

    Examples
    --------
    >>> _spec_of(FlowsSource, only=("path", "level"))
    {'path': ((<class 'str'>,), True), 'level': ((<class 'str'>,), False)}
    """
    hints = get_type_hints(cls)
    keys = keys or {}
    spec: dict[str, tuple[tuple[type, ...], bool]] = {}
    for f in fields(cls):
        if (only is not None and f.name not in only) or f.name in skip:
            continue
        key = keys.get(f.name, f.name)
        types = tuple(f.metadata.get("toml", ())) or _toml_types(hints[f.name])
        no_default = f.default is MISSING and f.default_factory is MISSING
        spec[key] = (types, no_default if required is None else key in required)
    return spec


def _check_columns(cls: type[Any], cols: Mapping[str, str], where: str, path: Path | None
                   ) -> None:
    """Refuse a ``columns`` key that is not one of the canonical names of ``cls``'s field."""
    (allowed,) = (f.metadata["columns"] for f in fields(cls) if f.name == "columns")
    for k in cols:
        if k not in allowed:
            raise _err(path, f"{where}.columns.{k}",
                       f"unknown canonical column; expected {', '.join(allowed)}")


#: Characters no text setting may hold: C0 controls but the tab (titles and labels are
#: one line), DEL, C1 controls, line separators and bidirectional controls (which show
#: text other than it is). A filter (``where``) may span lines.
_CONTROL_IN_TEXT = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u061c\u200e"
                              "\u200f\u202a-\u202e\u2066-\u2069]")
_CONTROL_IN_SQL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\u061c"
                             "\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _check_table(
    table: Any, spec: _Spec, where: str, path: Path | None
) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise _err(path, where, f"expected a table, got {type(table).__name__}")
    out: dict[str, Any] = {}
    for key, value in table.items():
        full = f"{where}.{key}" if where else key
        if key not in spec:
            raise _err(
                path, full, f"unknown key; expected one of {', '.join(sorted(spec))}"
            )
        tt, _ = spec[key]
        ok = isinstance(value, tt) and not (isinstance(value, bool) and bool not in tt)
        if not ok:
            names = " or ".join(t.__name__ for t in tt)
            raise _err(path, full, f"expected {names}, got {type(value).__name__} {value!r}")
        bad = _CONTROL_IN_SQL if key == "where" else _CONTROL_IN_TEXT
        if isinstance(value, str) and bad.search(value):
            ch = bad.search(value).group()  # type: ignore[union-attr]
            shown = value if len(value) <= 60 else value[:57] + "..."
            raise _err(path, full, f"{shown!r} holds a control character (U+{ord(ch):04X}: a "
                       "line break, vertical tab, NUL, C1 control or bidirectional "
                       "override, say); remove it")
        out[key] = value
    for key, (_, required) in spec.items():
        if required and key not in out:
            raise _err(path, f"{where}.{key}" if where else key, "required key is missing")
    return out


def _str_map(value: Any, where: str, path: Path | None) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _err(path, where, "expected a table of column names")
    for k, v in value.items():
        if not isinstance(v, str):
            raise _err(path, f"{where}.{k}", f"expected a column name (string), got {v!r}")
    return dict(value)


def _resolve(base: Path, p: str) -> Path:
    q = Path(p).expanduser()
    return q if q.is_absolute() else (base / q)


def _places(t: dict[str, Any], base: Path, path: Path | None) -> PlacesSource:
    d = _check_table(t, _spec_of(PlacesSource), "places", path)
    _check_where(d, "places", path)
    cols = _str_map(d.pop("columns", {}), "places.columns", path)
    _check_columns(PlacesSource, cols, "places", path)
    if "jobs" in d:
        d["jobs"] = _jobs(d["jobs"], base, path)
    if "employment_rate" in d:
        d["employment_rate"] = float(d["employment_rate"])
        try:
            _check_employment_rate(d["employment_rate"], "places.employment_rate")
        except ConfigError as exc:
            raise ConfigError(exc.message, source=path) from None
    return PlacesSource(path=_resolve(base, d.pop("path")), columns=cols, **d)


def _jobs(t: Any, base: Path, path: Path | None) -> JobsSource:
    """``[places] jobs``: a table joined to the places for their jobs, or just its path."""
    if isinstance(t, str):
        t = {"path": t}
    d = _check_table(t, _spec_of(JobsSource), "places.jobs", path)
    _check_where(d, "places.jobs", path)
    if "key" in d and not d["key"].strip():
        raise _err(path, "places.jobs.key", "expected the name of the column that holds the "
                   "place id (e.g. \"tatort_code\"), got an empty string")
    cols = _str_map(d.pop("columns", {}), "places.jobs.columns", path)
    _check_columns(JobsSource, cols, "places.jobs", path)
    return JobsSource(path=_resolve(base, d.pop("path")), columns=cols, **d)


def _areas(t: dict[str, Any], base: Path, path: Path | None) -> AreasSource:
    d = _check_table(t, _spec_of(AreasSource), "areas", path)
    _check_where(d, "areas", path)
    cols = _str_map(d.pop("columns", {}), "areas.columns", path)
    _check_columns(AreasSource, cols, "areas", path)
    return AreasSource(path=_resolve(base, d.pop("path")), columns=cols, **d)


def _flows(t: dict[str, Any], base: Path, path: Path | None) -> FlowsSource:
    d = _check_table(t, _spec_of(FlowsSource), "flows", path)
    _check_where(d, "flows", path)
    cols = _str_map(d.pop("columns", {}), "flows.columns", path)
    _check_columns(FlowsSource, cols, "flows", path)
    level = d.pop("level", "place")
    if level not in ("place", "area"):
        raise _err(path, "flows.level", f"expected 'place' or 'area', got {level!r}")
    return FlowsSource(path=_resolve(base, d.pop("path")), columns=cols, level=level, **d)


def _check_where(d: dict[str, Any], where: str, path: Path | None) -> None:
    if "where" in d and not d["where"].strip():
        raise _err(path, f"{where}.where", "expected an attribute filter such as "
                   "\"lan_code = '12'\", got an empty string")
    # one expression only: GDAL would pass "a = 1; DROP TABLE t" on to SQLite
    if "where" in d and ";" in re.sub(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"", "", d["where"]):
        raise _err(path, f"{where}.where", "expected one attribute filter, without ';' "
                   f"outside quotes, got {d['where']!r}")


def _layers(items: Any, base: Path, path: Path | None) -> tuple[LayerSource, ...]:
    if not isinstance(items, list):
        raise _err(path, "layers", "expected [[layers]] tables")
    spec = _spec_of(LayerSource)
    out: list[LayerSource] = []
    names: set[str] = set()
    for i, item in enumerate(items):
        key = f"layers[{i}]"
        d = _check_table(item, spec, key, path)
        _check_where(d, key, path)
        if d["name"].strip() in names:
            raise _err(path, f"{key}.name", f"a layer named {d['name']!r} is already defined")
        names.add(d["name"].strip())
        try:
            out.append(LayerSource(path=_resolve(base, d.pop("path")), **d))
        except ConfigError as exc:  # "key 'layers.colour': ..." names the table in the file
            m = re.fullmatch(r"key 'layers\.(\w+)': (.*)", exc.message, flags=re.S)
            raise (_err(path, f"{key}.{m.group(1)}", m.group(2)) if m
                   else ConfigError(exc.message, source=path)) from None
    return tuple(out)


def _roles(t: dict[str, Any], base: Path, path: Path | None) -> RoleScheme:
    spec = _spec_of(RoleScheme, keys={"name": "scheme", "roles": "role"}, required=())
    d = _check_table(t, spec, "roles", path)
    unknown = d.get("unknown", "fail")
    if unknown not in ("fail", "skip"):
        raise _err(path, "roles.unknown", f"expected 'fail' or 'skip', got {unknown!r}")
    designations: list[Path | str] = []
    for i, item in enumerate(d.get("designations", [])):
        if not isinstance(item, str):
            raise _err(path, f"roles.designations[{i}]", "expected a file name or a list name")
        # A bare name without a suffix is a list shipped with the package.
        designations.append(item if "." not in Path(item).name else _resolve(base, item))
    if "role" in d:
        roles: list[RoleDef] = []
        # label_en defaults to the label; rules are written as text ("population >= 2000")
        rspec = _spec_of(RoleDef, keys={"label_sv": "label"}, required=("key", "label"))
        for i, rt in enumerate(d["role"]):
            r = _check_table(rt, rspec, f"roles.role[{i}]", path)
            rules = []
            for j, rule in enumerate(r.get("rules", [])):
                if not isinstance(rule, str):
                    raise _err(path, f"roles.role[{i}].rules[{j}]", "expected a string")
                try:
                    rules.append(RoleRule.parse(rule))
                except ConfigError as exc:
                    raise _err(path, f"roles.role[{i}].rules[{j}]", exc.message) from None
            try:
                roles.append(RoleDef(r["key"], r["label"], r.get("label_en", r["label"]),
                                     tuple(rules), r.get("source", "")))
            except ConfigError as exc:
                raise _err(path, f"roles.role[{i}]", exc.message) from None
        name = d.get("scheme", "custom")
        try:
            return RoleScheme(name, tuple(roles), tuple(designations), unknown)
        except ConfigError as exc:
            raise _err(path, "roles", exc.message) from None
    scheme = d.get("scheme", "default")
    if scheme != "default":
        raise _err(path, "roles.scheme",
                   f"unknown scheme '{scheme}'; use 'default' or define [[roles.role]] tables")
    return replace(default_role_scheme(), designations=tuple(designations), unknown=unknown)


def _dataclass_from(cls: type[Any], t: Any, where: str, path: Path | None) -> Any:
    d = _check_table(t, _spec_of(cls), where, path)
    hints = get_type_hints(cls)
    for k, v in list(d.items()):
        if isinstance(v, list):
            if not all(isinstance(x, str) for x in v):
                raise _err(path, f"{where}.{k}", "expected a list of strings")
            d[k] = tuple(v)
        elif isinstance(v, int) and not isinstance(v, bool) and hints[k] is float:
            d[k] = float(v)
    try:
        return cls(**d)
    except ConfigError as exc:
        raise ConfigError(exc.message, source=path) from None
    except TypeError as exc:  # a Literal value outside its set is caught below
        raise _err(path, where, str(exc)) from None


def _links(t: Any, path: Path | None) -> LinkParams:
    """``[links]``: the keys of :class:`LinkParams` and of its forms, flat
    (:func:`link_params`)."""
    spec = _spec_of(LinkParams, skip=("form",))
    for cls in DECAY_FORMS.values():
        spec.update(_spec_of(cls))
    d = _check_table(t, spec, "links", path)
    try:
        return link_params(d)
    except ConfigError as exc:
        raise ConfigError(exc.message, source=path) from None


def _regions(t: Any, path: Path | None) -> RegionParams:
    """``[regions]``: ``method`` and the keys of that method's params class."""
    if not isinstance(t, dict):
        raise _err(path, "regions", f"expected a table, got {type(t).__name__}")
    table = dict(t)
    method = table.pop("method", "none")
    try:
        if not isinstance(method, str):
            raise _err(None, "regions.method", f"expected a string, got {method!r}")
        name = region_method(method, allow_none=True)
        if name == "none":
            if table:
                raise _err(None, f"regions.{next(iter(table))}",
                           "no region method is chosen (regions.method); set one of "
                           f"{', '.join(REGION_METHODS)} or drop this key")
            return RegionParams()
        return RegionParams(name, region_params(name, table))  # type: ignore[arg-type]
    except ConfigError as exc:
        raise ConfigError(exc.message, source=path) from None


def _check_literal(value: str, allowed: tuple[str, ...], key: str, path: Path | None) -> None:
    if value not in allowed:
        raise _err(path, key, f"expected one of {', '.join(allowed)}, got {value!r}")


def _moved_employment_rate(rate: Any, places: PlacesSource | None, given: bool,
                           path: Path | None) -> PlacesSource | None:
    """strukturbild 0.2's ``[links] employment_rate``, read as ``[places] employment_rate``
    (one setting: the places' estimate of employed residents feeds the model), with a
    warning; an error where both are given and differ, or where there is no [places]."""
    import warnings

    from .errors import StrukturbildWarning

    try:
        _check_employment_rate(rate, "links.employment_rate")
    except ConfigError as exc:
        raise ConfigError(exc.message, source=path) from None
    rate = float(rate)
    if places is None:
        raise _err(path, "links.employment_rate", "the key has moved to [places] "
                   "employment_rate; write it there")
    if given and places.employment_rate != rate:
        raise _err(path, "links.employment_rate", "the key has moved to [places] "
                   f"employment_rate, which says {places.employment_rate:g}, not {rate:g}; "
                   "remove links.employment_rate")
    warnings.warn(f"{path or 'project'}: key 'links.employment_rate' has moved to [places] "
                  "employment_rate (it is read from there now); move it",
                  StrukturbildWarning, stacklevel=4)
    return replace(places, employment_rate=rate)


#: The keys of ``[project]`` that are fields of :class:`Project`.
_PROJECT_KEYS = ("name", "title", "crs")


def project_from_dict(
    data: Mapping[str, Any], *, base_dir: Path, path: Path | None = None
) -> Project:
    """Build a :class:`Project` from the parsed TOML table.

    Parameters
    ----------
    data
        The TOML document as a dict.
    base_dir
        Folder that relative paths are resolved against.
    path
        The project file, named in error messages.

    Examples
    --------
    >>> p = project_from_dict({"project": {"name": "t"}, "places": {"path": "p.gpkg"}},
    ...                       base_dir=Path("/data"))
    >>> p.places.path
    PosixPath('/data/p.gpkg')
    """
    # [project] holds the Project's own values and the language (the maps'); the other
    # tables are the Project's other fields
    top = {"project": ((dict,), True), **_spec_of(Project, skip=(*_PROJECT_KEYS, "path"))}
    d = _check_table(dict(data), top, "", path)
    pspec = {**_spec_of(Project, only=_PROJECT_KEYS), **_spec_of(MapOptions, only=("language",))}
    proj = _check_table(d["project"], pspec, "project", path)
    places = _places(d["places"], base_dir, path) if "places" in d else None
    areas = _areas(d["areas"], base_dir, path) if "areas" in d else None
    flows = _flows(d["flows"], base_dir, path) if "flows" in d else None
    layers = _layers(d["layers"], base_dir, path) if "layers" in d else ()
    roles = _roles(d.get("roles", {}), base_dir, path)
    links_table = d.get("links", {})
    if isinstance(links_table, dict) and "employment_rate" in links_table:
        links_table = dict(links_table)
        places = _moved_employment_rate(links_table.pop("employment_rate"), places,
                                        "employment_rate" in d.get("places", {}), path)
    links = _links(links_table, path)
    regions = _regions(d.get("regions", {}), path)
    strak = _dataclass_from(StrakParams, d.get("strak", {}), "strak", path)
    mp = _dataclass_from(MapOptions, d.get("map", {}), "map", path)
    if mp.land:
        mp = replace(mp, land=str(_resolve(base_dir, mp.land)))
    if mp.context_places:
        mp = replace(mp, context_places=str(_resolve(base_dir, mp.context_places)))
    language = proj.get("language", mp.language)
    _check_literal(language, ("sv", "en"), "project.language", path)
    mp = replace(mp, language=language, title=mp.title or proj.get("title", ""))
    ex_raw = dict(d.get("export", {}))
    ex = _dataclass_from(ExportOptions, {k: v for k, v in ex_raw.items()
                                         if k not in ("out_dir", "map_dir")}, "export", path)
    for k in ("out_dir", "map_dir"):
        if k in ex_raw:
            if not isinstance(ex_raw[k], str):
                raise _err(path, f"export.{k}", "expected a folder name (string)")
            ex = replace(ex, **{k: Path(ex_raw[k])})
    if flows is None and links.source == "observed":
        raise _err(path, "links.source", "'observed' needs a [flows] table")
    try:
        return Project(
            name=proj["name"],
            title=proj.get("title", ""),
            crs=proj.get("crs", DEFAULT_CRS),
            places=places,
            areas=areas,
            flows=flows,
            layers=layers,
            roles=roles,
            links=links,
            regions=regions,
            strak=strak,
            map=mp,
            export=ex,
            path=path,
        )
    except ConfigError as exc:
        raise ConfigError(exc.message, source=path) from None


#: The largest project file read, in bytes. A project file is a few KiB; Python's
#: ``tomllib`` needs memory that grows with the square of a dotted key's length (a
#: 40 KB key took 2.4 GB), so the file's size and shape are checked before it parses.
MAX_PROJECT_BYTES = 2**20
#: The deepest nesting of arrays and inline tables (``[[[…]]]``, ``{a = {…}}``) and the
#: most parts of one key (``a.b.c`` has 3; a table header counts too). The reference
#: project needs 2 of each; at these limits a 1 MiB file parses in about 100 MB.
MAX_TOML_NESTING = 8
MAX_KEY_PARTS = 8


def check_toml_shape(text: str, *, source: str | Path | None = None) -> None:
    """Refuse TOML nested deeper than :data:`MAX_TOML_NESTING` or with a key of more
    than :data:`MAX_KEY_PARTS` parts, by one pass over the text before it is parsed.

    Strings and comments are skipped as TOML reads them, so brackets and dots inside
    them do not count. Written by hand because ``tomllib`` has no such limits and
    fails by recursion (nesting) or by memory (dotted keys), and no kept library
    checks TOML's shape without parsing it.

    Examples
    --------
    >>> check_toml_shape('[places.columns]\\nname = "a.b.c [x]"  # [[[[\\n')
    >>> check_toml_shape("x = " + "[" * 20 + "]" * 20, source="p.toml")
    Traceback (most recent call last):
    ...
    strukturbild.errors.ConfigError: p.toml: line 1: arrays or inline tables nested 9 deep; at...
    >>> check_toml_shape("a" + ".a" * 20 + " = 1")
    Traceback (most recent call last):
    ...
    strukturbild.errors.ConfigError: line 1: a key of 9 parts (a.b.c has 3); at most 8 are read
    """
    depth = parts = 0
    line = 1
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            parts = 0
        elif c == "#":
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        elif c in "\"'":
            j = _string_end(text, i)
            if text.startswith(c * 3, i):  # a multi-line string
                line += text.count("\n", i, j)
            i = j
            continue  # a quoted key part keeps the count of parts
        elif c in "[{":
            depth += 1
            parts = 0
            if depth > MAX_TOML_NESTING:
                raise ConfigError(
                    f"line {line}: arrays or inline tables nested {depth} deep; at most "
                    f"{MAX_TOML_NESTING} are read", source=source)
        elif c in "]}":
            depth = max(depth - 1, 0)
            parts = 0
        elif c == ".":
            parts += 1
            if parts + 1 > MAX_KEY_PARTS:
                raise ConfigError(
                    f"line {line}: a key of {parts + 1} parts (a.b.c has 3); at most "
                    f"{MAX_KEY_PARTS} are read", source=source)
        elif not (c.isalnum() or c in "_- \t"):
            parts = 0
        i += 1


def _string_end(text: str, i: int) -> int:
    """Where the TOML string that opens at ``text[i]`` (a quote) ends: the index after
    its closing quotes, or after the line of a one-line string left open.

    Examples
    --------
    >>> _string_end('k = "a.b" # c', 4), _string_end("'''a''''", 0)
    (9, 8)
    """
    c, n = text[i], len(text)
    if text.startswith(c * 3, i):
        j = i + 3
        while True:  # the closing quotes, not escaped (basic strings)
            j = text.find(c * 3, j)
            if j < 0 or c == "'" or _unescaped(text, j):
                break
            j += 1
        j = n if j < 0 else j + 3
        for _ in range(2):  # up to two quotes more end the string's text
            if j < n and text[j] == c:
                j += 1
        return j
    j = i + 1
    while j < n and text[j] != c and text[j] != "\n":
        j += 2 if c == '"' and text[j] == "\\" else 1
    return min(j + 1, n)


def _unescaped(text: str, j: int) -> bool:
    """Whether the character at ``j`` is not escaped by an odd run of backslashes."""
    k = j
    while k > 0 and text[k - 1] == "\\":
        k -= 1
    return (j - k) % 2 == 0


def load_project(path: str | Path) -> Project:
    """Read a project file (TOML) into a :class:`Project`.

    Parameters
    ----------
    path
        The project file. Relative paths inside it are resolved against its folder.

    Raises
    ------
    InputFileNotFoundError
        The file does not exist.
    ConfigError
        The file is not valid TOML, has an unknown key, or a value of the wrong type.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "p.toml").write_text('[project]\\nname = "t"\\n[places]\\npath = "p.gpkg"\\n')
    >>> load_project(d / "p.toml").name
    't'
    """
    p = Path(path)
    if not p.is_file():
        raise InputFileNotFoundError("project file not found", source=p)
    with p.open("rb") as f:
        raw = f.read(MAX_PROJECT_BYTES + 1)
    if len(raw) > MAX_PROJECT_BYTES:
        raise ConfigError(f"the project file is larger than {MAX_PROJECT_BYTES // 1024} KiB; "
                          "a project file is a few KiB of settings (data belong in the "
                          "files it names)", source=p)
    try:
        # utf-8-sig: Notepad and some editors start UTF-8 files with a byte-order mark
        text = raw.decode("utf-8-sig")
        check_toml_shape(text, source=p)
        data = tomllib.loads(text)
    except UnicodeDecodeError:
        raise ConfigError("project file is not UTF-8 text", source=p) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", source=p) from None
    except RecursionError:  # a backstop: check_toml_shape bounds the nesting
        raise ConfigError("not valid TOML: nested too deep", source=p) from None
    return project_from_dict(data, base_dir=p.resolve().parent, path=p)
