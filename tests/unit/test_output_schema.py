"""--output-schema: loading the file (errors name it) and the check of the final answer."""

from __future__ import annotations

import json

import pytest

from pixir import output_schema
from pixir.errors import PixirError

SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}


def test_load(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps(SCHEMA))
    assert output_schema.load(str(path)) == SCHEMA
    assert output_schema.load(None) is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("{", "not valid JSON (line 1 column 2"),
        ('"text"', "must be a JSON object"),
        ('{"type": "string"}', 'top-level "type" must be "object"'),
        (b"\xff\xfe", "cannot read it"),
    ],
)
def test_load_errors_name_the_file(tmp_path, content, message):
    path = tmp_path / "schema.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(PixirError) as caught:
        output_schema.load(str(path))
    assert caught.value.kind == "invalid_arguments" and caught.value.exit_code == 2
    assert caught.value.message.startswith(f"--output-schema {path}: ")
    assert message in caught.value.message
    assert caught.value.details == {"path": str(path)}


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(PixirError, match="is a directory"):
        output_schema.load(str(tmp_path))


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ('{"a": 1}', None),
        ('  {"a": 1, "b": 2}\n', None),
        ("Here you go: {}", "not JSON"),
        ("[1]", "not of type object"),
        ('{"b": 1}', "lacks required key(s): a"),
        (None, "no final answer"),
    ],
)
def test_mismatch(answer, problem):
    found = output_schema.mismatch(answer, SCHEMA)
    assert (found is None) if problem is None else (problem in found)


def test_mismatch_error_is_exit_6():
    err = output_schema.mismatch_error("the final answer is not JSON", "s.json")
    assert err.kind == "schema_mismatch" and err.exit_code == 6 and "s.json" in err.message
