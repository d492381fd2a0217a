"""A ToolContext on the test's workspace."""

from __future__ import annotations

import pytest

from pixir.tools.registry import ToolContext


@pytest.fixture
def ctx(ws):
    return ToolContext(ws)
