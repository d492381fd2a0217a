"""The function tools offered to the model (docs/tools.md): each a well-formed Responses API
function tool, names unique, and each schema saying exactly what its tool accepts — the
required parameters are the ones the tool cannot do without, the tool runs with those
alone, and it reads every parameter its schema declares and no other."""

from __future__ import annotations

import json
import re

import pytest

from pixir.tools.registry import RUNNERS, run_tool, schema_problem
from pixir.tools.result import ToolFailure
from pixir.tools.schemas import TOOLS

BY_NAME = {tool["name"]: tool for tool in TOOLS}
JSON_TYPES = {"string", "integer", "number", "boolean", "array", "object"}

# A call of each tool using every parameter its schema declares, runnable in a workspace
# holding notes.txt.
EXAMPLES = {
    "read": {"path": "notes.txt", "offset": 2, "limit": 1},
    "write": {"path": "new.txt", "content": "hello\n"},
    "edit": {"path": "notes.txt", "old_string": "one", "new_string": "uno", "replace_all": True},
    "bash": {"command": "echo hi", "timeout_ms": 30_000},
    "update_plan": {"steps": [{"step": "look", "status": "in_progress"}]},
}


class Recording(dict):
    """Arguments that remember which keys the tool looked at."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.read: set[str] = set()

    def get(self, key, default=None):
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        self.read.add(key)
        return super().__contains__(key)


@pytest.fixture
def notes(ws):
    (ws / "notes.txt").write_text("one\ntwo\nthree\n")
    return ws


def check_schema(schema: dict, where: str) -> None:
    """`schema` is JSON Schema our tools may use: a known type everywhere, an object's
    required keys among its properties and no others allowed, an array's items described."""
    assert schema.get("type") in JSON_TYPES, f"{where}: type {schema.get('type')!r}"
    if "enum" in schema:
        assert schema["enum"] and len(set(schema["enum"])) == len(schema["enum"]), where
    if "minimum" in schema:
        assert schema["type"] in ("integer", "number"), where
    if schema["type"] == "object":
        properties = schema["properties"]
        assert isinstance(properties, dict) and properties, where
        assert set(schema["required"]) <= set(properties), f"{where}: required not declared"
        assert len(set(schema["required"])) == len(schema["required"]), where
        assert schema.get("additionalProperties") is False, where
        for key, sub in properties.items():
            check_schema(sub, f"{where}.{key}")
    if schema["type"] == "array":
        check_schema(schema["items"], f"{where}[]")


@pytest.mark.parametrize("tool", TOOLS, ids=lambda tool: tool["name"])
def test_each_tool_is_a_well_formed_function_tool(tool):
    assert set(tool) == {"type", "name", "description", "strict", "parameters"}
    assert tool["type"] == "function"
    assert re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", tool["name"])  # what the API allows
    assert isinstance(tool["description"], str) and len(tool["description"]) > 20
    params = tool["parameters"]
    assert params["type"] == "object"
    check_schema(params, tool["name"])
    if tool["strict"]:  # strict mode needs every property required
        assert set(params["required"]) == set(params["properties"])
    else:
        assert tool["strict"] is False
    json.dumps(tool)  # sent as JSON as it is


def test_tool_names_are_unique_and_each_has_a_runner():
    names = [tool["name"] for tool in TOOLS]
    assert len(names) == len(set(names))
    assert set(names) == set(RUNNERS) == set(EXAMPLES)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_the_schema_declares_every_parameter_the_tool_reads_and_no_other(notes, ctx, name):
    properties = BY_NAME[name]["parameters"]["properties"]
    args = Recording(EXAMPLES[name])
    assert set(args) == set(properties)  # the example uses them all
    assert schema_problem(BY_NAME[name]["parameters"], dict(args), "arguments") is None
    result = RUNNERS[name](args, ctx)
    assert result.ok, result.output
    assert args.read == set(properties)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_the_required_parameters_alone_are_enough(notes, ctx, name):
    required = BY_NAME[name]["parameters"]["required"]
    args = {key: EXAMPLES[name][key] for key in required}
    result = run_tool(name, args, ctx)
    assert result.ok, result.output


@pytest.mark.parametrize(
    ("name", "key"),
    [(tool["name"], key) for tool in TOOLS for key in tool["parameters"]["required"]],
)
def test_without_a_required_parameter_the_schema_and_the_tool_refuse(notes, ctx, name, key):
    args = {k: v for k, v in EXAMPLES[name].items() if k != key}
    assert key in schema_problem(BY_NAME[name]["parameters"], args, "arguments")
    with pytest.raises(ToolFailure) as info:  # the tool itself needs it too
        RUNNERS[name](args, ctx)
    assert info.value.kind == "invalid_arguments"
