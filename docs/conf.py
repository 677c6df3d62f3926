"""Sphinx configuration of strukturbild's documentation (``make docs``).

The API reference is made from the numpydoc docstrings (``sphinx.ext.autodoc`` with
``napoleon``); the methods prose is the README's "Methods" section, included once
(MyST), so that it is written in one place. Warnings are errors in CI.
"""

from __future__ import annotations

import strukturbild

project = "strukturbild"
author = "strukturbild developers"
copyright = "strukturbild developers, MIT licence"  # noqa: A001 - Sphinx's name
release = strukturbild.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "ARCHITECTURE.md"]
myst_heading_anchors = 3

napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
autodoc_typehints = "description"
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": True}
# the types the annotations name that are not documented here
nitpicky = False
suppress_warnings = ["myst.header"]

html_theme = "alabaster"
html_title = f"strukturbild {release}"
html_static_path: list[str] = []
