"""The tool registry: unknown tools, bad arguments, crashes, schemas."""

from __future__ import annotations

from pixir.tools.registry import run_tool
from tests.unit.helpers.tools import error_kind


def test_unknown_tool_and_bad_arguments(ctx):
    assert error_kind(run_tool("delete_everything", {}, ctx)) == "unknown_tool"
    assert error_kind(run_tool("read", {}, ctx)) == "invalid_arguments"
    assert error_kind(run_tool("read", {"path": 3}, ctx)) == "invalid_arguments"
    assert error_kind(run_tool("read", {"path": "a", "offset": "2"}, ctx)) == "invalid_arguments"
    assert error_kind(run_tool("read", {"path": "a", "offset": True}, ctx)) == "invalid_arguments"
    assert error_kind(run_tool("read", {"path": "a", "extra": 1}, ctx)) == "invalid_arguments"
    assert error_kind(run_tool("read", ["a"], ctx)) == "invalid_arguments"


def test_a_crashing_tool_is_a_failed_result(ctx, monkeypatch):
    from pixir.tools import registry

    def boom(args, ctx):
        raise ZeroDivisionError("oops")

    monkeypatch.setitem(registry.RUNNERS, "read", boom)
    result = run_tool("read", {"path": "a"}, ctx)
    assert error_kind(result) == "tool_crashed" and "ZeroDivisionError" in result.error["message"]


def test_tool_schemas_match_the_registry():
    from pixir.tools.registry import RUNNERS
    from pixir.tools.schemas import TOOLS

    assert {tool["name"] for tool in TOOLS} == set(RUNNERS)
    for tool in TOOLS:
        assert tool["parameters"]["additionalProperties"] is False
