"""Presenters for programs: `--json` (one object at the end) and `--jsonl` (every Event as a
JSON line as it happens, then the same object). Shapes in docs/cli.md."""

from __future__ import annotations

import json
import sys

from pixir.interrupt import OutputClosed
from pixir.sanitize import for_stream


def result_object(outcome, session_id: str, model: str, resume_command: str) -> dict:
    """The `--json` object of a one-shot Turn. Its shape never depends on the outcome: even
    a session with nothing to continue is named with its resume command (programs rely on
    the field; people are told on stderr)."""
    body = {
        "ok": outcome.status == "completed",
        "status": outcome.status,
        "kind": "one_shot_turn",
        "session_id": session_id,
        "output": outcome.output,
        "usage": outcome.usage,
        "model": model,
        "steps": outcome.steps,
        "resume_command": resume_command,
    }
    searches = getattr(outcome, "web_searches", None)
    citations = getattr(outcome, "citations", None)
    if searches or citations:  # the Turn searched the web
        body["web_searches"] = searches or []
        body["citations"] = citations or []
    if outcome.error is not None:
        body["error"] = outcome.error.to_dict()
    body["exit_code"] = outcome.exit_code
    return body


class JsonPresenter:
    """Nothing while the Turn runs; one JSON object on stdout at the end."""

    def __init__(self, out=None) -> None:
        self.out = out or sys.stdout
        self.closed = False

    def __call__(self, event: dict) -> None:
        if event["type"] == "notice":  # for people, who read stderr in machine mode too
            line = f"warning: {event['data'].get('text')}"
            sys.stderr.write(for_stream(line, sys.stderr) + "\n")
            sys.stderr.flush()

    def write_line(self, obj: dict) -> None:
        if self.closed:
            return
        try:
            self.out.write(for_stream(json.dumps(obj, ensure_ascii=False), self.out) + "\n")
            self.out.flush()
        except BrokenPipeError:
            self.closed = True
            raise OutputClosed from None

    def finish(
        self, outcome, *, session_id: str, model: str, resume_command: str, continuable=True
    ) -> None:
        try:
            self.write_line(result_object(outcome, session_id, model, resume_command))
        except OutputClosed:
            pass


class JsonlPresenter(JsonPresenter):
    """Every Event, canonical and ephemeral, as one JSON line; the result object last."""

    def __call__(self, event: dict) -> None:
        super().__call__(event)
        self.write_line(event)
