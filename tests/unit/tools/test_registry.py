"""The tool registry: unknown tools, bad arguments, crashes, schemas."""

from __future__ import annotations

from pixir.tools.registry import preview, run_tool
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


def test_preview_says_what_a_call_would_do_and_changes_nothing(ctx, ws):
    (ws / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    before = (ws / "calc.py").read_text()
    edit = preview("edit", {"path": "calc.py", "old_string": "a - b", "new_string": "a + b"}, ctx)
    assert edit["path"] == "calc.py"
    assert edit["diff"].splitlines()[-2:] == ["-    return a - b", "+    return a + b"]
    assert (ws / "calc.py").read_text() == before
    new = preview("write", {"path": "d/new.txt", "content": "hi\n"}, ctx)
    assert new == {"path": "d/new.txt", "content": "hi\n", "bytes": 3, "replaces": None}
    assert not (ws / "d").exists()
    replace = preview("write", {"path": "calc.py", "content": "x\n"}, ctx)
    assert replace["replaces"] == len(before) and "-def add(a, b):" in replace["diff"]
    assert preview("bash", {"command": "rm -rf build"}, ctx) == {"command": "rm -rf build"}


def test_preview_of_a_call_that_would_fail_names_the_problem(ctx, ws):
    (ws / "a.txt").write_text("x\n")
    missing = preview("edit", {"path": "a.txt", "old_string": "nope", "new_string": "y"}, ctx)
    assert missing["problem"].startswith("no_match: ")
    outside = preview("write", {"path": "../escape.txt", "content": "x"}, ctx)
    assert outside["problem"].startswith("outside_workspace: ")
    assert preview("edit", {"path": "a.txt"}, ctx)["problem"].startswith("invalid_arguments")
    assert preview("bash", ["not", "a", "dict"], ctx)["problem"].startswith("invalid_arguments")
