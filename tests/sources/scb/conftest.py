"""The local SCB server (``tests/_support/scb_server.py``) as a fixture: a fresh one for
each test, stopped after it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ..._support.scb_server import Server


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.stop()
