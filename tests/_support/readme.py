"""The README's examples, as printed, for the tests that build them."""

from __future__ import annotations

from ..conftest import REPO


def readme_recipe() -> str:
    """The project file of the README's "A län from the national files", as printed."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("### A län from the national files", 1)[1]
    return section.split("```toml\n", 1)[1].split("```", 1)[0]
