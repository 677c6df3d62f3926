"""strukturbild: structure images for regional planning from open statistics.

Places and commuting flows in; place roles, functional links and regions out, drawn
as an interactive map, a print map and a GeoPackage that opens styled in QGIS.

Examples
--------
>>> import strukturbild
>>> image = strukturbild.build(strukturbild.example_project())
>>> len(image.places)
70
"""

from .config import Project, RoleScheme, default_role_scheme, load_project
from .datasets import example_project
from .errors import StrukturbildError, StrukturbildWarning
from .flows import Flows
from .image import StructureImage
from .links import links_from_flows, model_flows
from .pipeline import build, package_version
from .places import place_measures
from .roles import classify_roles, compare_roles, load_designations

__version__ = package_version()

__all__ = [
    "Flows",
    "Project",
    "RoleScheme",
    "StructureImage",
    "StrukturbildError",
    "StrukturbildWarning",
    "build",
    "classify_roles",
    "compare_roles",
    "default_role_scheme",
    "example_project",
    "links_from_flows",
    "load_designations",
    "load_project",
    "model_flows",
    "package_version",
    "place_measures",
]
