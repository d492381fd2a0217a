"""A faithful local stand-in for the OpenAI services pixir talks to (docs/fake-backend.md).

    from tests.fake_backend import FakeBackend
    from tests.fake_backend.scenario import step, text, tool_call, reasoning

See docs/fake-backend.md for the scenario format, settings and validation rules.
"""

from .backend import FakeBackend, Settings
from .record import Headers, Recorded
from .scenario import (
    cut,
    http_error,
    in_stream_error,
    rate_limit,
    raw_item,
    reasoning,
    reset,
    stall,
    step,
    text,
    tool_call,
    usage_limit,
    web_search,
)

__all__ = [
    "FakeBackend",
    "Headers",
    "Recorded",
    "Settings",
    "cut",
    "http_error",
    "in_stream_error",
    "rate_limit",
    "raw_item",
    "reasoning",
    "reset",
    "stall",
    "step",
    "text",
    "tool_call",
    "usage_limit",
    "web_search",
]
