"""The tools by name: argument checking against their schemas, then the implementation.
Every expected failure comes back as a failed ToolResult for the model; only Ctrl-C escapes."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pixir import fsutil, sanitize
from pixir.tools import bash, edit, plan, read, write
from pixir.tools.result import ToolFailure, ToolInterrupted, ToolResult, failed
from pixir.tools.schemas import TOOLS
from pixir.tools.workspace import display_path, resolve_for_write

RUNNERS = {
    "read": read.run,
    "write": write.run,
    "edit": edit.run,
    "bash": bash.run,
    "update_plan": plan.run,
}
PARAMETERS = {tool["name"]: tool["parameters"] for tool in TOOLS}
_TYPES = {
    "string": str,
    "integer": int,
    "boolean": bool,
    "array": list,
    "object": dict,
    "number": (int, float),
}


@dataclass(frozen=True)
class ToolContext:
    """What the tools need to know about the session they run in."""

    workspace: Path
    bash_timeout_ms: int = 120_000
    bash_timeout_max_ms: int = 600_000
    # The credential values no tool output may carry (into the Log, the terminal and the
    # model): `bash cat ~/.pixir/auth.json` or `env` would otherwise show them.
    secrets: Callable[[], Iterable[str]] | None = None
    # The running Turn's stop request from another thread (interrupt.Cancel): a command
    # polls it and is killed like on Ctrl-C.
    cancel: object | None = None
    # What confines bash commands (pixir.sandbox.policy.Sandbox); None: nothing.
    sandbox: object = None
    # What the model last saw of each file it read or wrote (real path → size, mtime,
    # inode): an edit of a file that changed on disk since is refused (tools/files.py).
    seen: dict = field(default_factory=dict)

    @property
    def commands_confined(self) -> bool:
        """Do bash commands run under a kernel sandbox (so read_only needs no allow-list)?"""
        return bool(getattr(self.sandbox, "confined", False))


REDACTED = "[redacted: pixir credential]"


def run_tool(name: str, args: object, ctx: ToolContext) -> ToolResult:
    """Run one call, its output cleared of credential values. Raises only KeyboardInterrupt
    (ToolInterrupted from bash, whose partial result is cleared too)."""
    try:
        result = _run_tool(name, args, ctx)
    except ToolInterrupted as stop:
        stop.result = scrub(_valid(stop.result), ctx)
        raise
    return scrub(_valid(result), ctx)


def _valid(result: ToolResult) -> ToolResult:
    """Output as valid text (a file's or a command's NUL bytes as U+FFFD): it goes to the
    Log, the model and the terminal."""
    result.output = sanitize.text(result.output)
    result.summary = sanitize.text(result.summary)
    return result


def scrub(result: ToolResult, ctx: ToolContext) -> ToolResult:
    """Replace every credential value in the result — and each of a JWT's payload and
    signature alone — with a marker."""
    if ctx.secrets is None:
        return result
    pieces: set[str] = set()
    for secret in ctx.secrets():
        if not isinstance(secret, str) or len(secret) < 8:
            continue
        pieces.add(secret)
        parts = secret.split(".")
        if len(parts) == 3:  # a JWT: its header is public, its payload and signature not
            pieces.update(part for part in parts[1:] if len(part) >= 16)
    error = result.error or {}
    texts = [result.output, result.summary, str(error.get("message", ""))]
    if not any(piece in text for piece in pieces for text in texts if text):
        return result
    for piece in sorted(pieces, key=len, reverse=True):
        result.output = result.output.replace(piece, REDACTED)
        result.summary = result.summary.replace(piece, REDACTED)
        if isinstance(error.get("message"), str):
            error["message"] = error["message"].replace(piece, REDACTED)
    return result


def preview(name: str, args: object, ctx: ToolContext) -> dict:
    """What a call would do, worked out without doing it — what ask mode shows before it
    asks: `{"command"}` for bash, write.preview's `{"path", "content", "bytes", "replaces"}`
    (and `"diff"` when a text file is replaced), `{"path", "diff"}` for edit. `"problem"`
    says why the call would fail. Never raises."""
    if not isinstance(args, dict):
        return {"problem": "invalid_arguments: arguments must be a JSON object"}
    path = str(args.get("path", ""))
    try:
        if name == "bash":
            return {"command": str(args.get("command", ""))}
        problem = schema_problem(PARAMETERS[name], args, "arguments") if name in RUNNERS else None
        if problem:
            return {"path": path, "problem": f"invalid_arguments: {problem}"}
        if name == "write":
            return write.preview(args, ctx)
        if name == "edit":
            target = resolve_for_write(ctx.workspace, args.get("path"))
            return {"path": display_path(ctx.workspace, target), "diff": edit.preview(args, ctx)}
    except ToolFailure as failure:
        return {"path": path, "problem": f"{failure.kind}: {failure.message}"}
    except Exception as exc:  # a preview must never end the Turn: the question still comes
        return {"problem": f"cannot work out what {name} would do: {type(exc).__name__}"}
    return {}


def clean_after_kill(name: str, arguments: str | None, ctx: ToolContext, before: float) -> None:
    """Remove what a call killed with its process may have left behind: the temporary file
    of a `write` or `edit` killed before its rename (the target itself is old or new)."""
    if name not in ("write", "edit"):
        return
    try:
        target = resolve_for_write(ctx.workspace, json.loads(arguments or "")["path"])
    except (ValueError, TypeError, KeyError, ToolFailure):
        return
    fsutil.remove_temps(target, before)


def _run_tool(name: str, args: object, ctx: ToolContext) -> ToolResult:
    runner = RUNNERS.get(name)
    if runner is None:
        known = ", ".join(RUNNERS)
        return failed("unknown_tool", f"there is no tool named {name!r}; tools: {known}")
    problem = schema_problem(PARAMETERS[name], args, "arguments")
    if problem:
        return failed("invalid_arguments", problem)
    try:
        return runner(args, ctx)
    except ToolFailure as failure:
        return failure.result()
    except OSError as exc:
        return failed("io_error", f"{name}: {exc.strerror or exc}")
    except Exception as exc:  # a bug in a tool must not end the session; the model is told
        return failed("tool_crashed", f"{name} failed unexpectedly: {type(exc).__name__}: {exc}")


def schema_problem(schema: dict, value: object, where: str) -> str | None:
    """The first way `value` breaks the (small) JSON Schema subset our tools use, or None."""
    kind = schema.get("type")
    expected = _TYPES.get(kind)
    if expected is not None:
        if isinstance(value, bool) and kind in ("integer", "number"):
            return f"{where} must be an {kind}"
        if not isinstance(value, expected):
            article = "an" if kind[0] in "aeiou" else "a"
            return f"{where} must be {article} {kind}"
    if "enum" in schema and value not in schema["enum"]:
        return f"{where} must be one of {', '.join(map(str, schema['enum']))}"
    if "minimum" in schema and isinstance(value, (int, float)) and value < schema["minimum"]:
        return f"{where} must be >= {schema['minimum']}"
    if kind == "object":
        properties = schema.get("properties", {})
        for key in schema.get("required", ()):
            if key not in value:
                return f"{where} is missing the required field {key!r}"
        if schema.get("additionalProperties") is False:
            extra = sorted(set(value) - set(properties))
            if extra:
                return f"{where} has unknown field(s) {', '.join(map(repr, extra))}"
        for key, sub in properties.items():
            if key in value and value[key] is not None:
                problem = schema_problem(sub, value[key], key)
                if problem:
                    return problem
    if kind == "array" and "items" in schema:
        for index, item in enumerate(value):
            problem = schema_problem(schema["items"], item, f"{where}[{index}]")
            if problem:
                return problem
    return None
