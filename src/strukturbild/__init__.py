"""strukturbild: structure images for regional planning from open statistics.

Places and commuting flows in; place roles, functional links and regions out, drawn
as an interactive map, a print map and a GeoPackage that opens styled in QGIS.

This module is the public API, and only that: what a script or notebook needs, and
all the command line uses. Names are imported when first used (PEP 562), so that
``import strukturbild`` and ``strukturbild --help`` stay quick; type checkers see the
imports below ``TYPE_CHECKING``.

Examples
--------
>>> import strukturbild
>>> image = strukturbild.build(strukturbild.example_project())
>>> len(image.places)
70
"""

from __future__ import annotations

import importlib as _importlib
from typing import TYPE_CHECKING, Any

#: Public name → the module (relative to the package) that defines it.
_WHERE: dict[str, str] = {
    **dict.fromkeys(("dominant_flows", "nystuen_dacey", "NodalStructure"),
                    ".analysis.dominant"),
    "Flows": ".analysis.flows",
    **dict.fromkeys(("fit_gravity", "GravityFit"), ".analysis.gravity"),
    **dict.fromkeys(("links_from_flows", "model_flows"), ".analysis.links"),
    "place_measures": ".analysis.places",
    **dict.fromkeys(("delineate_regions", "RegionResult"), ".analysis.regions"),
    **dict.fromkeys(("classify_roles", "compare_roles"), ".analysis.roles"),
    **dict.fromkeys((
        "AreasSource", "CommutingZoneParams", "ExportOptions", "FlowsSource", "LayerSource",
        "LinkParams", "LMAParams", "MapOptions", "NodalParams", "PlacesSource", "Project",
        "RegionParams", "RoleDef", "RoleRule", "RoleScheme", "SCBLAParams",
        "default_role_scheme", "load_project"), ".config"),
    **dict.fromkeys((
        "AssetError", "ConfigError", "CRSError", "DiskFullError", "DuplicateIdError",
        "EmptyInputError", "FetchError", "InputFileNotFoundError", "InvalidGeometryError",
        "InvalidValueError", "MissingColumnError", "OnlineAssetError", "OutputConflictError",
        "OutputExistsError", "OutputLockedError", "StrukturbildError", "StrukturbildWarning",
        "TimeLimitError", "UnknownCodeError"), ".errors"),
    "write_geopackage": ".export.geopackage",
    "write_html": ".export.maps",
    "write_outputs": ".export.outputs",
    "write_summary": ".export.summary",
    "write_tables": ".export.tables",
    "StructureImage": ".image",
    **dict.fromkeys(("build", "build_image", "check_project", "package_version",
                     "read_flows"), ".pipeline"),
    **dict.fromkeys(("read_areas", "read_designations", "read_places"), ".readers"),
    "example_project": ".sources.example",
    "fetch_osm": ".sources.osm.fetch",
    "fetch_scb": ".sources.scb.fetch",
    "FetchLimits": ".sources.scb.options",
}

__all__ = [
    "AreasSource",
    "AssetError",
    "CRSError",
    "CommutingZoneParams",
    "ConfigError",
    "DiskFullError",
    "DuplicateIdError",
    "EmptyInputError",
    "ExportOptions",
    "FetchError",
    "FetchLimits",
    "Flows",
    "FlowsSource",
    "GravityFit",
    "InputFileNotFoundError",
    "InvalidGeometryError",
    "InvalidValueError",
    "LMAParams",
    "LayerSource",
    "LinkParams",
    "MapOptions",
    "MissingColumnError",
    "NodalParams",
    "NodalStructure",
    "OnlineAssetError",
    "OutputConflictError",
    "OutputExistsError",
    "OutputLockedError",
    "PlacesSource",
    "Project",
    "RegionParams",
    "RegionResult",
    "RoleDef",
    "RoleRule",
    "RoleScheme",
    "SCBLAParams",
    "StructureImage",
    "StrukturbildError",
    "StrukturbildWarning",
    "TimeLimitError",
    "UnknownCodeError",
    "build",
    "build_image",
    "check_project",
    "classify_roles",
    "compare_roles",
    "default_role_scheme",
    "delineate_regions",
    "dominant_flows",
    "example_project",
    "fetch_osm",
    "fetch_scb",
    "fit_gravity",
    "links_from_flows",
    "load_project",
    "model_flows",
    "nystuen_dacey",
    "package_version",
    "place_measures",
    "read_areas",
    "read_designations",
    "read_flows",
    "read_places",
    "write_geopackage",
    "write_html",
    "write_outputs",
    "write_summary",
    "write_tables",
]


def _package_version() -> str:
    """The installed version, from the package's metadata (importlib.metadata)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("strukturbild")
    except PackageNotFoundError:  # pragma: no cover - a source tree that is not installed
        return "0+unknown"


def __getattr__(name: str) -> Any:
    """Import a public name from its module when it is first used (PEP 562)."""
    if name == "__version__":  # importlib.metadata alone takes longer than the rest
        globals()[name] = value = _package_version()
        return value
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'strukturbild' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module, __name__), name)
    globals()[name] = value  # the next use is a plain attribute
    return value


def __dir__() -> list[str]:
    return [*__all__, "__version__"]


if TYPE_CHECKING:  # what the names are, for mypy and editors
    __version__: str
    from .analysis.dominant import NodalStructure, dominant_flows, nystuen_dacey
    from .analysis.flows import Flows
    from .analysis.gravity import GravityFit, fit_gravity
    from .analysis.links import links_from_flows, model_flows
    from .analysis.places import place_measures
    from .analysis.regions import RegionResult, delineate_regions
    from .analysis.roles import classify_roles, compare_roles
    from .config import (
        AreasSource,
        CommutingZoneParams,
        ExportOptions,
        FlowsSource,
        LayerSource,
        LinkParams,
        LMAParams,
        MapOptions,
        NodalParams,
        PlacesSource,
        Project,
        RegionParams,
        RoleDef,
        RoleRule,
        RoleScheme,
        SCBLAParams,
        default_role_scheme,
        load_project,
    )
    from .errors import (
        AssetError,
        ConfigError,
        CRSError,
        DiskFullError,
        DuplicateIdError,
        EmptyInputError,
        FetchError,
        InputFileNotFoundError,
        InvalidGeometryError,
        InvalidValueError,
        MissingColumnError,
        OnlineAssetError,
        OutputConflictError,
        OutputExistsError,
        OutputLockedError,
        StrukturbildError,
        StrukturbildWarning,
        TimeLimitError,
        UnknownCodeError,
    )
    from .export.geopackage import write_geopackage
    from .export.maps import write_html
    from .export.outputs import write_outputs
    from .export.summary import write_summary
    from .export.tables import write_tables
    from .image import StructureImage
    from .pipeline import build, build_image, check_project, package_version, read_flows
    from .readers import read_areas, read_designations, read_places
    from .sources.example import example_project
    from .sources.osm.fetch import fetch_osm
    from .sources.scb.fetch import fetch_scb
    from .sources.scb.options import FetchLimits
