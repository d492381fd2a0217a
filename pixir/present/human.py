"""The terminal presenter: the answer streamed to stdout; reasoning, tool activity, retries
and the resume hint on stderr. A small Event consumer: one `on_<type>` method per Event type
it shows, so later features (colours, spinner, REPL) extend it without touching the Turn."""

from __future__ import annotations

import os
import sys

from pixir.interrupt import OutputClosed

PLAN_MARKS = {"completed": "[x]", "in_progress": "[>]", "pending": "[ ]"}
MAX_ARG_CHARS = 120


def _one_line(text: str, limit: int = MAX_ARG_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class HumanPresenter:
    """Call with each Event; `finish` prints the closing lines."""

    def __init__(self, out=None, err=None, *, quiet: bool = False, color: bool | None = None):
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.quiet = quiet
        if color is None:
            color = not os.environ.get("NO_COLOR") and _isatty(self.err)
        self.color = color
        self.closed = False  # stdout's reader went away
        self._streamed = False  # text of the current message already shown
        self._out_open_line = False  # stdout does not end with a newline
        self._err_open_line = False  # a reasoning line on stderr is still open

    def __call__(self, event: dict) -> None:
        handler = getattr(self, "on_" + event["type"], None)
        if handler is not None:
            handler(event["data"])

    # -- writing -----------------------------------------------------------------------------

    def write_out(self, text: str) -> None:
        if self.closed or not text:
            return
        # Set first: a Ctrl-C landing inside the write must still leave a closing newline.
        self._out_open_line = not text.endswith("\n")
        try:
            self.out.write(text)
            self.out.flush()
        except BrokenPipeError:
            self.closed = True
            raise OutputClosed from None

    def end_out_line(self) -> None:
        if self._out_open_line:
            self.write_out("\n")

    def note(self, text: str, dim: bool = False) -> None:
        """One line of activity on stderr (suppressed with --quiet)."""
        if self.quiet:
            return
        self._end_err_line()
        if dim and self.color:
            text = f"\x1b[2m{text}\x1b[0m"
        self.err.write(text + "\n")
        self.err.flush()

    def _end_err_line(self) -> None:
        if self._err_open_line:
            self.err.write("\n")
            self._err_open_line = False

    # -- Events ------------------------------------------------------------------------------

    def on_text_delta(self, data: dict) -> None:
        self._end_err_line()
        self._streamed = True
        self.write_out(data["chunk"])

    def on_reasoning_delta(self, data: dict) -> None:
        if self.quiet:
            return
        chunk = data["chunk"]
        if self.color:
            chunk = f"\x1b[2m{chunk}\x1b[0m"
        self.err.write(chunk)
        self.err.flush()
        self._err_open_line = True

    def on_retry(self, data: dict) -> None:
        if self._streamed:
            self.end_out_line()
            self._streamed = False
        delay = data.get("delay_s")
        wait = f", again in {delay:.1f} s" if isinstance(delay, (int, float)) else ""
        kind = data.get("error_kind") or "error"
        self.note(f"[retrying: {kind} (attempt {data.get('attempt')}{wait})]")

    def on_assistant_message(self, data: dict) -> None:
        if data.get("finish_reason") == "max_steps":
            self.end_out_line()
            self.note(data["text"])
            return
        if not self._streamed and not data.get("partial"):
            self.write_out(data.get("text") or "")
        self.end_out_line()
        self._streamed = False

    def on_tool_call(self, data: dict) -> None:
        self.end_out_line()
        self._streamed = False
        name, args = data.get("name", "?"), data.get("args")
        args = args if isinstance(args, dict) else {}
        if name == "bash":
            self.note(f"› bash {_one_line(args.get('command', ''))}")
        elif name == "update_plan":
            self.note("› plan")
            for step in args.get("steps") or ():
                if isinstance(step, dict):
                    mark = PLAN_MARKS.get(step.get("status"), "[?]")
                    self.note(f"  {mark} {_one_line(step.get('step', ''))}")
        elif "path" in args:
            self.note(f"› {name} {_one_line(args['path'])}")
        else:
            self.note(f"› {name}")

    def on_tool_result(self, data: dict) -> None:
        if data.get("ok"):
            self.note(f"  ✓ {data.get('summary') or 'done'}", dim=True)
        else:
            error = data.get("error") or {}
            self.note(f"  ✗ {error.get('kind', 'failed')}: {_one_line(error.get('message', ''))}")

    def on_compaction(self, data: dict) -> None:
        self.end_out_line()
        self._streamed = False
        freed = data.get("tokens_freed") or 0
        shown = f"{round(freed / 1000)}k" if freed >= 1000 else str(freed)
        line = f"[compacted: {data.get('events')} events → summary, ~{shown} tokens freed"
        if data.get("strategy") == "deterministic":
            kind = (data.get("fallback") or {}).get("kind", "error")
            line += f"; summary written without the model ({kind})"
        if data.get("trigger") == "overflow":
            line += "; retrying"
        self.note(line + "]")

    def on_turn_interrupted(self, data: dict) -> None:
        self.end_out_line()
        if data.get("reason") == "sigint":
            self.note("interrupted")

    # -- the end -----------------------------------------------------------------------------

    def finish(self, outcome, *, session_id: str, model: str, resume_command: str) -> None:
        """The closing lines on stderr: where the session is and how to continue it."""
        try:
            self.end_out_line()
        except OutputClosed:
            pass
        if self.quiet and outcome.status == "completed":
            return
        self._end_err_line()
        self.err.write(f"session {session_id} · continue with: {resume_command}\n")
        self.err.flush()


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
