"""The machine presenters: --json and --jsonl."""

from __future__ import annotations

import io
import json

from pixir.errors import PixirError
from pixir.present.machine import JsonlPresenter, JsonPresenter, result_object
from pixir.turn import TurnOutcome
from tests.unit.helpers.present import NOTICE, ev


def test_json_object_shape():
    outcome = TurnOutcome("completed", "answer", 2, {"input_tokens": 5})
    body = result_object(outcome, "S1", "gpt-5.5", "pixir resume S1")
    assert body == {
        "ok": True,
        "status": "completed",
        "kind": "one_shot_turn",
        "session_id": "S1",
        "output": "answer",
        "usage": {"input_tokens": 5},
        "model": "gpt-5.5",
        "steps": 2,
        "resume_command": "pixir resume S1",
        "exit_code": 0,
    }
    failed = TurnOutcome(
        "error", error=PixirError("usage_limit_reached", "limit", {"plan": "plus"})
    )
    body = result_object(failed, "S1", "gpt-5.5", "r")
    assert body["ok"] is False and body["exit_code"] == 7
    assert body["error"] == {
        "kind": "usage_limit_reached",
        "message": "limit",
        "details": {"plan": "plus"},
    }


def test_json_presenter_prints_one_object_and_jsonl_every_event():
    out = io.StringIO()
    present = JsonPresenter(out)
    present(ev("text_delta", chunk="x"))
    present.finish(TurnOutcome("completed", "x"), session_id="s", model="m", resume_command="r")
    assert json.loads(out.getvalue())["output"] == "x"
    out = io.StringIO()
    present = JsonlPresenter(out)
    present(ev("text_delta", chunk="x"))
    present.finish(TurnOutcome("completed", "x"), session_id="s", model="m", resume_command="r")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines[0]["type"] == "text_delta" and lines[-1]["kind"] == "one_shot_turn"


def test_jsonl_presenter_streams_the_notice():
    out = io.StringIO()
    JsonlPresenter(out)(NOTICE)
    assert json.loads(out.getvalue()) == NOTICE
