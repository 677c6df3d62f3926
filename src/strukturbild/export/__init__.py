"""Writers: the GeoPackage, the JSON summary, map files, tables; all outputs or none."""

from __future__ import annotations

import warnings
from typing import Any

_MOVED = {"write_geopackage": "geopackage", "write_summary": "summary", "write_html": "maps",
          "geopackage_frames": "geopackage", "OutputExistsError": "geopackage"}


def __getattr__(name: str) -> Any:
    # 0.1 had these in the module strukturbild.export
    if name in _MOVED:
        import importlib

        warnings.warn(f"strukturbild.export.{name} moved to "
                      f"strukturbild.export.{_MOVED[name]}.{name} (or strukturbild.{name})",
                      DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(f"{__name__}.{_MOVED[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
