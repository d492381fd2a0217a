"""What a person is shown of a tool call and its result, read from the Events' data (the
same text the model got): a command's own output and its last lines, whether a call
failed, and a unified diff as compact lines. Shared by the live view (present/human.py),
the `--ask` question and `pixir log`; plain text here, colour is added by the caller.
"""

from __future__ import annotations

import json
import re

TAIL_LINES = 6  # of a failed command
DIFF_LINES = 40  # of an edit's or a write's change
CONTENT_LINES = 40  # of a write's content in the --ask question


def failed(data: dict) -> bool:
    """A `tool_result` that failed: not ok, or a command that exited non-zero."""
    return not data.get("ok") or data.get("exit_code") not in (None, 0)


def command_output(data: dict) -> str:
    """The command's own output in a bash `tool_result` (without the exit code and time
    header the model gets): after `Output:` when it ran, the `output` kept in a failed
    result's JSON (timeout, Ctrl-C)."""
    output = data.get("output")
    if not isinstance(output, str):
        return ""
    if data.get("ok"):
        head, sep, rest = output.partition("Output:\n")
        return rest if sep and head.startswith("Exit code: ") else output
    try:
        body = json.loads(output)
    except ValueError:
        return ""
    kept = body.get("output") if isinstance(body, dict) else None
    return kept if isinstance(kept, str) else ""


def line_count(data: dict) -> int:
    """How many lines the command printed in all, as its result's header says when the
    output given to the model was cut (0 when it does not say)."""
    output = data.get("output")
    if not isinstance(output, str):
        return 0
    head = output[: output.find("Output:\n")] if "Output:\n" in output else ""
    for line in head.split("\n"):
        if line.startswith("Total output lines: "):
            try:
                return int(line.split(": ", 1)[1])
            except ValueError:
                return 0
    return 0


def output_lines(text: str) -> list[str]:
    """`text` as lines, without the blank ones at its end."""
    lines = text.rstrip("\n").split("\n") if text.strip() else []
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def tail(lines: list[str], count: int = TAIL_LINES) -> tuple[int, list[str]]:
    """(lines left out, the last `count` lines)."""
    return max(0, len(lines) - count), lines[-count:] if count else []


def count_note(count: int, what: str = "line") -> str:
    return f"{count} {what}{'' if count == 1 else 's'}"


def diff_of(data: dict) -> str:
    """The unified diff a write/edit `tool_result` carries: `diff` (write), or the part of
    an edit's output after its first line."""
    diff = data.get("diff")
    if isinstance(diff, str):
        return diff
    output = data.get("output")
    if not isinstance(output, str) or not output.startswith("Edited "):
        return ""
    return output.partition("\n")[2]


def diff_body(diff: str) -> tuple[list[str], int]:
    """(the lines of a unified diff worth showing, how many more it says it cut): hunks
    and changes, without the `---`/`+++` file header (the path is on the line above)."""
    lines: list[str] = []
    extra = 0
    for line in diff.split("\n"):
        if not lines and line.startswith(("--- ", "+++ ")):
            continue
        cut = _DIFF_CUT.fullmatch(line)
        if cut:
            extra += int(cut.group(1))
        elif line:
            lines.append(line)
    return lines, extra


_DIFF_CUT = re.compile(r"\[\.\.\. diff cut: (\d+) more lines \.\.\.\]")


def cap(lines: list[str], limit: int) -> tuple[list[str], int]:
    """(the first `limit` lines, how many more there were)."""
    if len(lines) <= limit:
        return lines, 0
    return lines[:limit], len(lines) - limit
