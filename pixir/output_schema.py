"""`--output-schema FILE`: load the JSON Schema sent as the structured output format, and
check that a final answer is JSON of its top-level shape (docs/cli.md). The model is held to the
full schema by the server (strict mode); this check only catches an answer that is not JSON
at all, or obviously of the wrong shape."""

from __future__ import annotations

import json

from pixir.errors import PixirError

MAX_SCHEMA_BYTES = 1 << 20

JSON_TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
}


def load(path: str | None) -> dict | None:
    """The schema in `path` (None: no schema). Errors name the file: missing, unreadable,
    not JSON (with line and column), not an object, or a root the API refuses."""
    if not path:
        return None
    flag = f"--output-schema {path}"
    try:
        with open(path, "rb") as fh:  # a cap: `--output-schema /dev/zero` must not fill memory
            data = fh.read(MAX_SCHEMA_BYTES + 1)
        if len(data) > MAX_SCHEMA_BYTES:
            raise PixirError(
                "invalid_arguments",
                f"{flag}: larger than {MAX_SCHEMA_BYTES >> 20} MiB; a JSON Schema is small",
                {"path": path},
            )
        text = data.decode("utf-8")
    except FileNotFoundError:
        raise PixirError("invalid_arguments", f"{flag}: no such file", {"path": path}) from None
    except IsADirectoryError:
        raise PixirError("invalid_arguments", f"{flag}: is a directory", {"path": path}) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise PixirError(
            "invalid_arguments", f"{flag}: cannot read it ({reason})", {"path": path}
        ) from None
    try:
        schema = json.loads(text)
    except ValueError as exc:
        where = f"line {exc.lineno} column {exc.colno}" if hasattr(exc, "lineno") else ""
        raise PixirError(
            "invalid_arguments",
            f"{flag}: not valid JSON ({where}: {getattr(exc, 'msg', exc)})",
            {"path": path},
        ) from None
    if not isinstance(schema, dict):
        raise PixirError(
            "invalid_arguments", f"{flag}: a JSON Schema must be a JSON object", {"path": path}
        )
    root = schema.get("type")
    if root is not None and root != "object":
        # The Responses API refuses any other root for a strict json_schema format.
        raise PixirError(
            "invalid_arguments",
            f'{flag}: the schema\'s top-level "type" must be "object" (it is {json.dumps(root)})',
            {"path": path},
            hint='wrap the value in an object, e.g. {"type": "object", "properties": '
            '{"result": ...}, "required": ["result"], "additionalProperties": false}',
        )
    return schema


def mismatch(answer: str | None, schema: dict) -> str | None:
    """Why `answer` does not fit `schema` at the top level, or None when it does."""
    if answer is None:
        return "there is no final answer"
    try:
        value = json.loads(answer)
    except ValueError as exc:
        return f"the final answer is not JSON ({getattr(exc, 'msg', exc)})"
    expected = schema.get("type")
    if isinstance(expected, str) and not _is_type(value, expected):
        return f"the final answer is JSON but not of type {expected}"
    if isinstance(value, dict):
        missing = [k for k in schema.get("required") or () if isinstance(k, str) and k not in value]
        if missing:
            return "the final answer lacks required key(s): " + ", ".join(missing)
    return None


def _is_type(value, expected: str) -> bool:
    if expected == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if expected == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    kind = JSON_TYPES.get(expected)
    return kind is None or isinstance(value, kind)


def mismatch_error(problem: str, schema_path: str) -> PixirError:
    return PixirError(
        "schema_mismatch",
        f"{problem} (--output-schema {schema_path})",
        {"schema": schema_path},
        hint="the answer is in the session; resume it and ask for JSON that fits the schema",
    )
