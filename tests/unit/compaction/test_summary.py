"""The summary: the model's call (no tools, strict json_schema, the fixed instruction), its
rendering, and the deterministic fallback when the call fails for any reason."""

from __future__ import annotations

import json

import pytest

from pixir.compaction.cut import Compactor, find_cut
from pixir.compaction.guard import compactor_for
from pixir.compaction.summary import (
    SUMMARY_INSTRUCTION,
    SUMMARY_SCHEMA,
    clip,
    fallback_summary,
    files_touched,
    parse_summary,
    summarise,
    summary_input,
)
from pixir.config import Settings
from pixir.errors import PixirError
from pixir.history import History
from pixir.provider.request import RequestOptions
from tests.unit.helpers import MODEL
from tests.unit.helpers.scripted import Result

FIELDS = {
    "goal": "Make the tests pass",
    "progress": ["Found the bug in calc.py", "Fixed add()"],
    "decisions": ["Kept the public API"],
    "files_touched": ["calc.py", "docs/notes.md"],
    "next_steps": ["Run the whole suite"],
}


def session_history():
    pairs = [
        ("user_message", {"text": "fix the failing test in calc.py"}),
        ("tool_call", {"call_id": "c1", "name": "read", "args": {"path": "calc.py"}}),
        ("tool_result", {"call_id": "c1", "ok": True, "output": "def add(a, b): return a - b"}),
        (
            "tool_call",
            {"call_id": "c2", "name": "bash", "args": {"command": "python -m  pytest -q"}},
        ),
        ("tool_result", {"call_id": "c2", "ok": True, "output": "Exit code: 1\n" + "E" * 5000}),
        (
            "tool_call",
            {"call_id": "c3", "name": "edit", "args": {"path": "calc.py", "old_string": "-"}},
        ),
        (
            "tool_result",
            {
                "call_id": "c3",
                "ok": False,
                "output": '{"ok": false, "error": {"kind": "no_match", "message": "m"}}',
            },
        ),
        ("assistant_message", {"text": "I could not edit it yet.", "finish_reason": "stop"}),
        ("user_message", {"text": "try again, carefully"}),
        ("tool_call", {"call_id": "c4", "name": "write", "args": {"path": "new.py"}}),
        ("tool_result", {"call_id": "c4", "ok": True, "output": "wrote"}),
        ("assistant_message", {"text": "Done now.", "finish_reason": "stop"}),
    ]
    events = [{"seq": n, "type": t, "data": d} for n, (t, d) in enumerate(pairs, 1)]
    return History.fold(events, MODEL)


class SummaryProvider:
    def __init__(self, *answers):
        self.answers = list(answers)
        self.bodies = []

    def stream(self, body, on_delta, stop=None):
        self.bodies.append(body)
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer


def summary_compactor(window=272_000):
    settings = Settings()
    options = RequestOptions(model=MODEL, session_id="s")
    return Compactor(window, True, 16_384, 20_000, compactor_for(settings, options).summary_request)


def everything(h):
    return find_cut(h, keep_tokens=0, last_seq=99)


def test_the_summary_call_has_no_tools_a_strict_schema_and_the_fixed_instruction():
    h = session_history()
    provider = SummaryProvider(Result(text=json.dumps(FIELDS)))
    summary = summarise(h, everything(h), summary_compactor(), provider)
    assert summary.strategy == "model"
    body = provider.bodies[0]
    assert body["tools"] == [] and body["stream"] is True and body["store"] is False
    assert body["text"]["format"] == {
        "type": "json_schema",
        "name": "pixir_output",
        "strict": True,
        "schema": SUMMARY_SCHEMA,
    }
    # the five fields of docs/compaction.md, every one required
    assert sorted(SUMMARY_SCHEMA["required"]) == sorted(FIELDS)
    assert set(SUMMARY_SCHEMA["required"]) == set(SUMMARY_SCHEMA["properties"])
    assert SUMMARY_SCHEMA["additionalProperties"] is False
    [message] = body["input"]  # no developer context: the instruction and the transcript
    text = message["content"][0]["text"]
    assert message["role"] == "user" and text.startswith(SUMMARY_INSTRUCTION)
    assert "[user]\nfix the failing test in calc.py" in text
    assert "[tool call: read]" in text and "[bash result]" in text
    assert "characters cut" in text  # a long output is clipped for the summariser
    assert len(text) < 9000


def test_the_model_summary_is_rendered_with_every_field():
    h = session_history()
    provider = SummaryProvider(Result(text=json.dumps(FIELDS)))
    summary = summarise(h, everything(h), summary_compactor(), provider)
    assert summary.text.startswith("Goal: Make the tests pass")
    for line in ("- Fixed add()", "- Kept the public API", "- Run the whole suite"):
        assert line in summary.text
    # files: those the tools touched, then those only the model named
    assert summary.files == ["calc.py", "new.py", "docs/notes.md"]
    assert "Files touched: calc.py, new.py, docs/notes.md" in summary.text


@pytest.mark.parametrize(
    "answer, kind",
    [
        (PixirError("server_error", "boom"), "server_error"),
        (PixirError("context_overflow", "too big"), "context_overflow"),
        (Result(text="not json"), "invalid_summary"),
        (Result(text=json.dumps({"goal": 3})), "invalid_summary"),
        (Result(text=json.dumps(FIELDS), finish_reason="length"), "incomplete"),
    ],
)
def test_any_failure_of_the_summary_call_falls_back_to_the_deterministic_summary(answer, kind):
    h = session_history()
    summary = summarise(h, everything(h), summary_compactor(), SummaryProvider(answer))
    assert summary.strategy == "deterministic" and summary.fallback["kind"] == kind
    assert summary.result is None


def test_without_a_provider_the_summary_is_deterministic():
    h = session_history()
    summary = summarise(h, everything(h), summary_compactor(), None)
    assert summary.strategy == "deterministic" and summary.fallback["kind"] == "no_provider"


def test_ctrl_c_during_the_summary_call_is_not_swallowed():
    h = session_history()
    with pytest.raises(KeyboardInterrupt):
        summarise(h, everything(h), summary_compactor(), SummaryProvider(KeyboardInterrupt()))


def test_the_deterministic_summary_counts_lists_files_and_recent_requests():
    h = session_history()
    found = everything(h)
    files = files_touched(h.items, None)
    text = fallback_summary(h.items, found, "server_error: boom", files)
    assert "without the model: server_error: boom" in text
    assert f"Replaced: {found.events} Log events — 2 user messages, 2 assistant messages" in text
    assert "4 tool calls (read ×1, bash ×1, edit ×1, write ×1), 1 of them failed" in text
    assert "- fix the failing test in calc.py\n- try again, carefully" in text
    assert "- python -m pytest -q" in text  # commands, whitespace folded
    assert "Files touched: calc.py, new.py" in text
    assert "Last assistant message:\nDone now." in text


def test_the_summariser_input_keeps_the_earlier_summary_and_drops_the_oldest_entries():
    entries = ["[earlier summary]\nOLD"] + [f"[user]\nmessage {n} " + "m" * 100 for n in range(50)]
    [item] = summary_input(entries, budget_chars=len(SUMMARY_INSTRUCTION) + 1200)
    text = item["content"][0]["text"]
    assert "[earlier summary]\nOLD" in text
    assert "message 49" in text and "message 0 " not in text
    assert "earlier entries omitted" in text


def test_parse_summary_accepts_the_schema_and_tolerates_strings_for_lists():
    parsed = parse_summary(json.dumps({**FIELDS, "progress": "one step"}))
    assert parsed["progress"] == ["one step"]
    assert parse_summary("[]") is None
    assert parse_summary(json.dumps({**FIELDS, "goal": "", "progress": []})) is None
    assert parse_summary(json.dumps({**FIELDS, "decisions": {"a": 1}})) is None


def test_clip_keeps_head_and_tail():
    assert clip("abc", 10) == "abc"
    clipped = clip("a" * 50 + "b" * 50, 20)
    assert clipped.startswith("a" * 10) and clipped.endswith("b" * 10)
    assert "[… 80 characters cut …]" in clipped


def test_the_latest_request_gets_more_room_than_older_ones_in_the_fallback():
    pairs = [
        ("user_message", {"text": "old " + "o" * 3000}),
        ("user_message", {"text": "n" * 3000}),
    ]
    events = [{"seq": n, "type": t, "data": d} for n, (t, d) in enumerate(pairs, 1)]
    h = History.fold(events, MODEL)
    found = find_cut(h, keep_tokens=0, last_seq=9)
    text = fallback_summary(h.items, found, "r", [])
    assert "n" * 3000 in text and "o" * 3000 not in text
