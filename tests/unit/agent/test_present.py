"""Presenters consume Events only: the human one (stdout answer, stderr activity) and the
machine ones (--json, --jsonl)."""

from __future__ import annotations

import io
import json

import pytest

from pixir.errors import PixirError
from pixir.interrupt import OutputClosed
from pixir.present.human import HumanPresenter
from pixir.present.machine import JsonlPresenter, JsonPresenter, result_object
from pixir.turn import TurnOutcome


def ev(type_, **data):
    return {"type": type_, "data": data}


def human(**kw):
    out, err = io.StringIO(), io.StringIO()
    return HumanPresenter(out, err, color=False, **kw), out, err


def test_answer_streams_to_stdout_and_activity_to_stderr():
    present, out, err = human()
    present(ev("tool_call", call_id="c", name="bash", args={"command": "pytest -q"}))
    present(ev("tool_result", call_id="c", ok=True, output="...", summary="exit 0 · 1.2 s"))
    present(ev("tool_call", call_id="d", name="edit", args={"path": "a.py"}))
    present(ev("tool_result", call_id="d", ok=False, error={"kind": "no_match", "message": "m"}))
    present(ev("text_delta", chunk="All "))
    present(ev("text_delta", chunk="good."))
    present(ev("assistant_message", text="All good.", finish_reason="stop"))
    assert out.getvalue() == "All good.\n"
    assert err.getvalue() == (
        "› bash pytest -q\n  ✓ exit 0 · 1.2 s\n› edit a.py\n  ✗ no_match: m\n"
    )


def test_answer_that_was_not_streamed_is_printed_whole():
    present, out, _ = human()
    present(ev("assistant_message", text="whole", finish_reason="stop"))
    assert out.getvalue() == "whole\n"


def test_plan_and_retry_and_reasoning_go_to_stderr():
    present, out, err = human()
    present(
        ev(
            "tool_call",
            name="update_plan",
            args={
                "steps": [{"step": "a", "status": "completed"}, {"step": "b", "status": "pending"}]
            },
        )
    )
    present(ev("reasoning_delta", chunk="thinking"))
    present(ev("retry", attempt=1, delay_s=0.5, error_kind="network"))
    assert out.getvalue() == ""
    assert err.getvalue() == (
        "› plan\n  [x] a\n  [ ] b\nthinking\n[retrying: network (retry 1, in 0.5 s)]\n"
    )


def test_quiet_shows_only_the_answer():
    present, out, err = human(quiet=True)
    present(ev("tool_call", name="bash", args={"command": "ls"}))
    present(ev("text_delta", chunk="x"))
    present(ev("assistant_message", text="x", finish_reason="stop"))
    present.finish(TurnOutcome("completed", "x"), session_id="s", model="m", resume_command="r")
    assert out.getvalue() == "x\n" and err.getvalue() == ""


def test_finish_prints_the_session_and_resume_command():
    present, _, err = human()
    present.finish(
        TurnOutcome("completed", "x"), session_id="S1", model="m", resume_command="pixir resume S1"
    )
    assert err.getvalue() == "session S1 · continue with: pixir resume S1\n"


class Broken(io.StringIO):
    def write(self, text):
        raise BrokenPipeError


def test_broken_stdout_raises_output_closed_once():
    present = HumanPresenter(Broken(), io.StringIO(), color=False)
    with pytest.raises(OutputClosed):
        present(ev("text_delta", chunk="x"))
    present(ev("text_delta", chunk="y"))  # later writes are dropped quietly
    present.finish(TurnOutcome("interrupted"), session_id="s", model="m", resume_command="r")
    assert present.closed


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
