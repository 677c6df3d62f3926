"""strukturbild: structure images for regional planning from open statistics.

Places and commuting flows in; place roles, functional links and regions out, drawn
as an interactive map, a print map and a GeoPackage that opens styled in QGIS.

This module is the public API, and only that: what a script or notebook needs, and
all the command line uses.

Examples
--------
>>> import strukturbild
>>> image = strukturbild.build(strukturbild.example_project())
>>> len(image.places)
70
"""

import importlib as _importlib
import importlib.abc as _abc
import importlib.util as _util
import sys as _sys
import warnings as _warnings
from typing import Any as _Any

from .analysis.dominant import dominant_flows, nystuen_dacey
from .analysis.flows import Flows
from .analysis.gravity import fit_gravity
from .analysis.links import links_from_flows, model_flows
from .analysis.places import place_measures
from .analysis.regions import delineate_regions
from .analysis.roles import classify_roles, compare_roles
from .config import (
    AreasSource,
    CommutingZoneParams,
    ExportOptions,
    FlowsSource,
    LinkParams,
    LMAParams,
    MapOptions,
    NodalParams,
    PlacesSource,
    Project,
    RegionParams,
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
from .sources.scb.fetch import fetch_scb

__version__ = package_version()

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
    "Flows",
    "FlowsSource",
    "InputFileNotFoundError",
    "InvalidGeometryError",
    "InvalidValueError",
    "LMAParams",
    "LinkParams",
    "MapOptions",
    "MissingColumnError",
    "NodalParams",
    "OnlineAssetError",
    "OutputConflictError",
    "OutputExistsError",
    "OutputLockedError",
    "PlacesSource",
    "Project",
    "RegionParams",
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

#: Names of 0.1 that moved, still importable from here with a DeprecationWarning.
_DEPRECATED = {"load_designations": ("read_designations", read_designations)}


def __getattr__(name: str) -> _Any:
    if name in _DEPRECATED:
        new, value = _DEPRECATED[name]
        _warnings.warn(f"strukturbild.{name} is deprecated; use strukturbild.{new}",
                      DeprecationWarning, stacklevel=2)
        return value
    raise AttributeError(f"module 'strukturbild' has no attribute {name!r}")


#: Modules of 0.1 and where they went in 0.2 (importable under the old name, with a
#: DeprecationWarning, until 0.3).
_MOVED_MODULES = {
    "io": "readers", "flows": "analysis.flows", "places": "analysis.places",
    "roles": "analysis.roles", "links": "analysis.links", "regions": "analysis.regions",
    "_gravity": "analysis.gravity", "_lma": "analysis.lma", "_dominant": "analysis.dominant",
    "datasets": "sources.scb.fetch", "_scb": "sources.scb.client",
    "export": "export.geopackage", "_cli_regions": "cli.regions", "_cli_fetch": "cli.fetch",
}


class _MovedModuleFinder(_abc.MetaPathFinder, _abc.Loader):
    """Finds ``strukturbild.<old name>`` for a module that moved, as the new module."""

    def find_spec(self, fullname: str, path: _Any, target: _Any = None) -> _Any:
        prefix, _, name = fullname.partition(".")
        if prefix != __name__ or name not in _MOVED_MODULES or name == "export":
            return None
        return _util.spec_from_loader(fullname, self)

    def create_module(self, spec: _Any) -> _Any:
        new = f"{__name__}.{_MOVED_MODULES[spec.name.partition('.')[2]]}"
        _warnings.warn(f"{spec.name} moved to {new} in strukturbild 0.2",
                      DeprecationWarning, stacklevel=2)
        module = _importlib.import_module(new)
        _sys.modules[spec.name] = module
        return module

    def exec_module(self, module: _Any) -> None:
        return None


_sys.meta_path.append(_MovedModuleFinder())
