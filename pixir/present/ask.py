"""The question of ask mode on a terminal (`--ask`): what the call will do — the full
command, the content of a write (capped), the diff of an edit — then the choice:

    y  allow it, once
    a  allow it always, for the rest of this session: this tool, or for bash every simple
       command with the same first word (tools.permissions.Approvals)
    n  refuse it: the model is told and the Turn goes on
    q  refuse it and stop the Turn (exit 3)

Everything shown comes from the model and goes through `sanitize.terminal` first, so a
command cannot disguise itself with carriage returns or escape sequences. Reading the
answer and mapping it to the Asker's answers is the caller's (commands/run.py).
"""

from __future__ import annotations

from pixir.present import results
from pixir.present.human import BOLD, DIM, GREEN, YELLOW, diff_lines
from pixir.sanitize import terminal

# What may be typed, as the letter it stands for; Enter alone is "n", the safe answer that
# keeps the Turn going.
CHOICES = {"y": "y", "yes": "y", "a": "a", "always": "a", "n": "n", "no": "n", "": "n"}
CHOICES.update({"q": "q", "quit": "q"})
PROMPT = "  [y/a/n/q] "
AGAIN = "  please answer y, a, n or q"


def choice(typed: str) -> str | None:
    """`y`, `a`, `n` or `q` for what was typed, or None when it is none of them."""
    return CHOICES.get(typed.strip().lower())


def lines(question, *, color: bool = False) -> list[str]:
    """What will happen, then the choices, as lines for stderr (the prompt is `PROMPT`)."""
    paint = _painter(color)
    preview = question.preview or {}
    out: list[str] = []
    if question.name == "bash":
        command = terminal(str(preview.get("command", question.args.get("command", ""))))
        for number, line in enumerate(command.split("\n")):
            out.append(paint(f"    {'$' if number == 0 else ' '} {line}", BOLD))
    elif question.name == "write" and "content" in preview:
        out += _write_lines(preview, paint)
    elif question.name == "edit" and "diff" in preview:
        out += [paint(terminal(line), code) for line, code in diff_lines(preview["diff"])]
    problem = preview.get("problem")
    if problem:
        out.append(paint(f"    (this call will fail: {terminal(str(problem))})", YELLOW))
    scope = getattr(question, "scope", "") or f"every {question.name}"
    out.append(
        f"  {terminal(str(question))} "
        + paint(f"y yes · a always ({terminal(scope)}, this session) · n no · q no, and stop", DIM)
    )
    return out


def _write_lines(preview: dict, paint) -> list[str]:
    size = preview.get("bytes", 0)
    replaces = preview.get("replaces")
    if replaces is not None and "diff" in preview:
        head = f"    replaces {replaces} bytes with {size}:"
        return [paint(head, DIM)] + [
            paint(terminal(line), code) for line, code in diff_lines(preview["diff"])
        ]
    head = f"    new file, {size} bytes:" if replaces is None else f"    {size} bytes:"
    content = results.output_lines(terminal(str(preview.get("content", ""))))
    shown, hidden = results.cap(content, results.CONTENT_LINES)
    out = [paint(head, DIM)] + [paint(f"    {line}", GREEN) for line in shown]
    if hidden:
        out.append(paint(f"    … {results.count_note(hidden, 'more line')}", DIM))
    return out


def _painter(color: bool):
    def paint(text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if color and code else text

    return paint
