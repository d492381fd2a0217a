"""What a tool returns, how a failure is told to the model, and the output cap (docs/tools.md,
2000 lines or 50 KiB, whichever comes first, with a note on what was cut)."""

from __future__ import annotations

import json
from dataclasses import dataclass

MAX_LINES = 2000
MAX_BYTES = 50 * 1024


@dataclass
class ToolResult:
    """`output` is the exact text the model receives; `summary` is one short line for people
    (`exit 0 · 1.2 s`, `+3 −1`); `error` is `{kind, message}` when `ok` is false; `diff`
    is the change a `write` made, for people (an edit's is in its output)."""

    ok: bool
    output: str
    summary: str = ""
    exit_code: int | None = None
    error: dict | None = None
    diff: str = ""


class ToolFailure(Exception):
    """An expected tool error (`no_match`, `outside_workspace`, ...), reported to the model as
    a failed result rather than ending the Turn."""

    def __init__(self, kind: str, message: str, **extra: object) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.extra = extra

    def result(self) -> ToolResult:
        return failed(self.kind, self.message, **self.extra)


def failed(kind: str, message: str, **extra: object) -> ToolResult:
    """A failed result; the model gets `{"ok":false,"error":{kind,message}, ...extra}`."""
    error = {"kind": kind, "message": message}
    body = {"ok": False, "error": error, **extra}
    return ToolResult(
        ok=False,
        output=json.dumps(body, ensure_ascii=False),
        summary=f"{kind}: {message}",
        error=error,
    )


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / (1024 * 1024):.1f} MiB"


class ToolInterrupted(KeyboardInterrupt):
    """Ctrl-C while a tool ran: the tool stopped (a bash group was killed) and `result` holds
    what it had produced, for the Log."""

    def __init__(self, result: ToolResult) -> None:
        super().__init__()
        self.result = result
