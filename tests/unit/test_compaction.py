"""Compaction (docs/compaction.md): where a History may be cut, the keep-recent budget,
the seq range, carrying an earlier summary forward and the accounting estimates; the
summary call, its rendering and the deterministic fallback; compaction inside a Turn,
before a call near the window and after a context_overflow."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pixir import compaction
from pixir.compaction import (
    SUMMARY_INSTRUCTION,
    SUMMARY_SCHEMA,
    cut_points,
    find_cut,
    item_chars,
    tokens,
)
from pixir.config import Settings
from pixir.errors import PixirError
from pixir.history import SUMMARY_PREFIX, History
from pixir.log import read_events
from pixir.provider.request import RequestOptions
from pixir.tools.registry import ToolContext
from pixir.turn import Turn
from tests.unit.helpers import MODEL
from tests.unit.helpers.exchanges import (
    assert_acceptable,
    assistant,
    build,
    call,
    events,
    exchange,
    history,
    reasoning,
    result,
    user,
)
from tests.unit.helpers.scripted import Result, ScriptedProvider, answer, build_request, calls


def compacted(h: History, found, summary="S", seq=None):
    """Fold the compaction a cut describes into `h` (as the Log append would)."""
    data = {
        "range": {"from_seq": found.from_seq, "to_seq": found.to_seq},
        "summary": summary,
        "files_touched": compaction.files_touched(h.items[: found.replaced], found.previous),
        "strategy": "deterministic",
        "trigger": "manual",
    }
    seq = seq if seq is not None else max(h.seqs) + 100
    h.add({"seq": seq, "type": "history_compaction", "data": data})
    return data


def kinds(items):
    return [i.get("type") or i.get("role") for i in items]


# -- cut points ---------------------------------------------------------------------------------


def test_cuts_at_user_messages_and_between_complete_pairs_only():
    h = history(
        user("one"),  # 0
        reasoning(),  # 1
        call("c1"),  # 2
        result("c1"),  # 3
        call("c2"),  # 4
        call("c3"),  # 5 (parallel calls)
        result("c2"),  # 6
        result("c3"),  # 7
        assistant("done"),  # 8
        user("two"),  # 9
    )
    assert kinds(h.items) == [
        "user",
        "reasoning",
        "function_call",
        "function_call_output",
        "function_call",
        "function_call",
        "function_call_output",
        "function_call_output",
        "message",
        "user",
    ]
    # never after a reasoning item (1→2), inside a pair (2→3) or inside parallel pairs (4..7)
    assert cut_points(h) == [1, 4, 8, 9, 10]


def test_no_cut_at_the_end_while_a_call_waits_for_its_result():
    h = history(user("one"), call("c1"), result("c1"), call("c2"))
    assert cut_points(h) == [1, 3]


def test_an_orphan_closed_by_the_next_user_message_stays_with_its_call():
    # The synthetic output the fold adds takes its call's seq: the pair stays whole.
    h = history(user("one"), call("c1"), call("c2"), result("c2"), user("two"))
    assert kinds(h.items) == [
        "user",
        "function_call",
        "function_call",
        "function_call_output",
        "function_call_output",
        "user",
    ]
    assert cut_points(h) == [1, 5, 6]


# -- the cut ----------------------------------------------------------------------------------


def long_history(exchanges=10, size=400):
    pairs = [user("start")]
    for n in range(exchanges):
        pairs += [reasoning(f"rs_{n}"), call(f"c{n}", f"f{n}.py"), result(f"c{n}", "x" * size)]
    pairs.append(assistant("done"))
    return history(*pairs)


def test_keeps_the_most_recent_items_within_the_budget():
    h = long_history()
    exchange = tokens(len("blob") + len("read") + len('{"path":"f0.py"}') + 400)
    found = find_cut(h, keep_tokens=3 * exchange + 2)
    assert found is not None
    kept = h.items[found.replaced :]
    assert tokens(sum(item_chars(i) for i in kept)) <= 3 * exchange + 2
    assert kinds(kept)[:3] == ["reasoning", "function_call", "function_call_output"]
    assert sum(1 for i in kept if i.get("type") == "function_call") == 3
    # the range runs from the first item to the event before the first kept one
    assert found.from_seq == 1 and found.to_seq == h.seqs[found.replaced] - 1
    assert found.events == found.to_seq - found.from_seq + 1
    assert found.tokens_replaced + found.tokens_kept >= found.tokens_before - 1


def test_a_zero_budget_replaces_everything_up_to_the_last_cut_point():
    h = long_history(3)
    found = find_cut(h, keep_tokens=0, last_seq=99)
    assert found.replaced == len(h.items) and found.kept == 0
    assert found.to_seq == 99  # the range ends with the Log when nothing is kept


def test_nothing_to_cut_when_everything_fits_the_budget():
    h = long_history(3)
    found = find_cut(h, keep_tokens=10**6)
    assert found is None


def test_a_last_exchange_bigger_than_the_budget_is_still_cut_before():
    h = history(user("a"), call("c1"), result("c1", "y" * 10_000), call("c2"))
    found = find_cut(h, keep_tokens=10)  # c2 is still open: the cut cannot be at the end
    assert found.replaced == 3
    assert kinds(h.items[found.replaced :]) == ["function_call"]


def test_the_fold_of_a_cut_sends_the_summary_then_exactly_the_kept_items():
    h = long_history(8)
    found = find_cut(h, keep_tokens=300)
    kept = h.items[found.replaced :]
    compacted(h, found, "what happened")
    items = h.input_items()
    assert items[0]["content"][0]["text"] == SUMMARY_PREFIX + "what happened"
    assert items[1:] == kept


def test_a_second_compaction_carries_the_first_summary_forward():
    h = long_history(8)
    first = find_cut(h, keep_tokens=300)
    compacted(h, first, "FIRST SUMMARY", seq=50)
    # more work after the first compaction
    for n, pair in enumerate(
        [call("d1", "g.py"), result("d1", "z" * 900), call("d2"), result("d2", "z" * 900)], 51
    ):
        h.add({"seq": n, "type": pair[0], "data": pair[1]})
    assert compaction.previous_summary(h) is not None
    second = find_cut(h, keep_tokens=300)
    assert second.previous is not None and second.previous["summary"] == "FIRST SUMMARY"
    assert second.from_seq == first.from_seq  # the range covers the earlier summary
    assert second.to_seq > first.to_seq
    # the deterministic summary carries the earlier one's content, and its files
    files = compaction.files_touched(h.items[: second.replaced], second.previous)
    text = compaction.fallback_summary(h.items[: second.replaced], second, "test", files)
    assert "FIRST SUMMARY" in text
    assert files[: len(first_files(first, h))] == first_files(first, h)
    assert "g.py" in files
    compacted(h, second, "SECOND")
    texts = [i["content"][0]["text"] for i in h.input_items() if i.get("role") == "user"]
    assert texts[0] == SUMMARY_PREFIX + "SECOND"
    assert not any("FIRST SUMMARY" in t for t in texts)  # replaced, not stacked


def first_files(found, h):
    return h.last_compaction["files_touched"] if h.last_compaction else []


def test_nothing_to_cut_when_only_the_earlier_summary_would_go():
    h = long_history(8)
    compacted(h, find_cut(h, keep_tokens=300), "S", seq=50)
    assert find_cut(h, keep_tokens=10**6) is None
    again = find_cut(h, keep_tokens=300)
    assert again is None or again.replaced > 1


# -- accounting ---------------------------------------------------------------------------------


def test_item_chars_counts_what_the_model_reads():
    assert item_chars({"role": "user", "content": [{"type": "input_text", "text": "abcd"}]}) == 4
    assert item_chars({"type": "function_call", "name": "read", "arguments": "{}"}) == 6
    assert item_chars({"type": "function_call_output", "call_id": "c", "output": "x" * 9}) == 9
    reasoning_item = {"type": "reasoning", "encrypted_content": "e" * 10, "summary": []}
    assert item_chars(reasoning_item) == 10
    assert tokens(0) == 0 and tokens(1) == 1 and tokens(8) == 2 and tokens(9) == 3


def test_body_tokens_is_the_compact_json_over_four():
    body = {"input": ["é" * 10]}
    assert compaction.body_tokens(body) == tokens(len(json.dumps(body, ensure_ascii=False)) - 1)


def test_keep_budget_never_exceeds_half_of_window_minus_reserve():
    def make(window, reserve, keep):
        return compaction.Compactor(window, True, reserve, keep, lambda items: {})

    assert make(272_000, 16_384, 20_000).keep_budget() == 20_000
    assert make(8_000, 2_000, 20_000).keep_budget() == 3_000
    assert make(8_000, 9_000, 20_000).threshold == 0


@settings(max_examples=150, deadline=None)
@given(st.lists(exchange(), min_size=1, max_size=5), st.integers(0, 400), st.integers(0, 400))
def test_any_cut_leaves_a_paired_request_and_carries_forward(turns, keep1, keep2):
    h = History.fold(events(*build(turns)), MODEL)
    found = find_cut(h, keep_tokens=keep1)
    if found is None:
        return
    kept = h.items[found.replaced :]
    assert all(s > found.to_seq for s in h.seqs[found.replaced :])
    assert all(found.from_seq <= s <= found.to_seq for s in h.seqs[: found.replaced])
    compacted(h, found, "ONE", seq=10_000)
    items = h.input_items()
    assert items[1 : 1 + len(kept)] == kept
    assert_acceptable(items)
    second = find_cut(h, keep_tokens=keep2)
    if second is None:
        return
    assert second.previous is not None and second.from_seq == found.from_seq
    compacted(h, second, "TWO", seq=10_001)
    items = h.input_items()
    assert items[0]["content"][0]["text"] == SUMMARY_PREFIX + "TWO"
    assert sum(1 for i in items if i.get("role") == "user" and "ONE" in str(i)) == 0
    assert_acceptable(items)


# -- the summary ---------------------------------------------------------------------------


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

    def stream(self, body, on_delta):
        self.bodies.append(body)
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer


def summary_compactor(window=272_000):
    settings = Settings()
    options = RequestOptions(model=MODEL, session_id="s")
    return compaction.Compactor(
        window, True, 16_384, 20_000, compaction.compactor_for(settings, options).summary_request
    )


def everything(h):
    return compaction.find_cut(h, keep_tokens=0, last_seq=99)


def test_the_summary_call_has_no_tools_a_strict_schema_and_the_fixed_instruction():
    h = session_history()
    provider = SummaryProvider(Result(text=json.dumps(FIELDS)))
    summary = compaction.summarise(h, everything(h), summary_compactor(), provider)
    assert summary.strategy == "model"
    body = provider.bodies[0]
    assert body["tools"] == [] and body["stream"] is True and body["store"] is False
    assert body["text"]["format"] == {
        "type": "json_schema",
        "name": "pixir_output",
        "strict": True,
        "schema": SUMMARY_SCHEMA,
    }
    # the five fields SPEC §9 names, every one required
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
    summary = compaction.summarise(h, everything(h), summary_compactor(), provider)
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
    summary = compaction.summarise(h, everything(h), summary_compactor(), SummaryProvider(answer))
    assert summary.strategy == "deterministic" and summary.fallback["kind"] == kind
    assert summary.result is None


def test_without_a_provider_the_summary_is_deterministic():
    h = session_history()
    summary = compaction.summarise(h, everything(h), summary_compactor(), None)
    assert summary.strategy == "deterministic" and summary.fallback["kind"] == "no_provider"


def test_ctrl_c_during_the_summary_call_is_not_swallowed():
    h = session_history()
    with pytest.raises(KeyboardInterrupt):
        compaction.summarise(
            h, everything(h), summary_compactor(), SummaryProvider(KeyboardInterrupt())
        )


def test_the_deterministic_summary_counts_lists_files_and_recent_requests():
    h = session_history()
    found = everything(h)
    files = compaction.files_touched(h.items, None)
    text = compaction.fallback_summary(h.items, found, "server_error: boom", files)
    assert "without the model: server_error: boom" in text
    assert f"Replaced: {found.events} Log events — 2 user messages, 2 assistant messages" in text
    assert "4 tool calls (read ×1, bash ×1, edit ×1, write ×1), 1 of them failed" in text
    assert "- fix the failing test in calc.py\n- try again, carefully" in text
    assert "- python -m pytest -q" in text  # commands, whitespace folded
    assert "Files touched: calc.py, new.py" in text
    assert "Last assistant message:\nDone now." in text


def test_the_summariser_input_keeps_the_earlier_summary_and_drops_the_oldest_entries():
    entries = ["[earlier summary]\nOLD"] + [f"[user]\nmessage {n} " + "m" * 100 for n in range(50)]
    [item] = compaction.summary_input(entries, budget_chars=len(SUMMARY_INSTRUCTION) + 1200)
    text = item["content"][0]["text"]
    assert "[earlier summary]\nOLD" in text
    assert "message 49" in text and "message 0 " not in text
    assert "earlier entries omitted" in text


def test_parse_summary_accepts_the_schema_and_tolerates_strings_for_lists():
    parsed = compaction.parse_summary(json.dumps({**FIELDS, "progress": "one step"}))
    assert parsed["progress"] == ["one step"]
    assert compaction.parse_summary("[]") is None
    assert compaction.parse_summary(json.dumps({**FIELDS, "goal": "", "progress": []})) is None
    assert compaction.parse_summary(json.dumps({**FIELDS, "decisions": {"a": 1}})) is None


def test_clip_keeps_head_and_tail():
    assert compaction.clip("abc", 10) == "abc"
    clipped = compaction.clip("a" * 50 + "b" * 50, 20)
    assert clipped.startswith("a" * 10) and clipped.endswith("b" * 10)
    assert "[… 80 characters cut …]" in clipped


def test_pixir_log_shows_the_compaction_and_its_summary():
    from pixir.commands.log import transcript

    event = {
        "seq": 30,
        "ts": "2026-11-21T14:30:00.000000Z",
        "type": "history_compaction",
        "data": {
            "range": {"from_seq": 1, "to_seq": 20},
            "summary": "Goal: x",
            "strategy": "model",
            "trigger": "auto",
        },
    }
    lines = transcript([event])
    assert "## compaction · 2026-11-21 14:30:00 · events 1–20 replaced by a summary" in lines[1]
    assert "(model, auto)" in lines[1] and lines[2] == "Goal: x"


def test_the_latest_request_gets_more_room_than_older_ones_in_the_fallback():
    pairs = [
        ("user_message", {"text": "old " + "o" * 3000}),
        ("user_message", {"text": "n" * 3000}),
    ]
    events = [{"seq": n, "type": t, "data": d} for n, (t, d) in enumerate(pairs, 1)]
    h = History.fold(events, MODEL)
    found = compaction.find_cut(h, keep_tokens=0, last_seq=9)
    text = compaction.fallback_summary(h.items, found, "r", [])
    assert "n" * 3000 in text and "o" * 3000 not in text


# -- inside a Turn --------------------------------------------------------------------------


SUMMARY = json.dumps(
    {
        "goal": "read every file",
        "progress": ["read the first files"],
        "decisions": [],
        "files_touched": [],
        "next_steps": ["read the rest"],
    }
)


OVERFLOW = PixirError(
    "context_overflow",
    "the conversation no longer fits the model's context window: too long",
    {"status": 400},
)


def summary_request(items):
    return {"summary_call": True, "input": items}


def make_compactor(window=3000, reserve=500, keep=400, auto=True):
    return compaction.Compactor(window, auto, reserve, keep, summary_request)


def measured(result):
    """A scripted step whose usage says what the request really weighed (as the API does)."""

    def play(body, on_delta):
        result.usage_summary = {"input_tokens": compaction.body_tokens(body), "output_tokens": 5}
        return result

    return play


class Provider(ScriptedProvider):
    """Scripted main calls; summary calls answered from their own queue."""

    def __init__(self, *steps, summaries=()):
        super().__init__(*steps)
        self.summaries = list(summaries)
        self.summary_bodies = []

    def stream(self, body, on_delta):
        if body.get("summary_call"):
            self.summary_bodies.append(body)
            answer_ = self.summaries.pop(0) if self.summaries else Result(text=SUMMARY)
            if isinstance(answer_, BaseException):
                raise answer_
            answer_.usage_summary = {"input_tokens": 77, "output_tokens": 11}
            return answer_
        return super().stream(body, on_delta)


def files(ws, count, size=1500):
    for n in range(count):
        (ws / f"f{n}.txt").write_text(f"{n:03d}" + "x" * size + "\n")


def reads(count):
    return [measured(calls(("read", {"path": f"f{n}.txt"}))) for n in range(count)]


def turn(session, ws, provider, events, compactor=None, **kw):
    return Turn(
        session,
        provider,
        build_request,
        ToolContext(ws),
        events.append,
        compactor=compactor or make_compactor(),
        **kw,
    )


def test_compacts_before_a_call_that_would_pass_window_minus_reserve(new_session, ws):
    files(ws, 8)
    session = new_session()
    provider = Provider(*reads(8), measured(answer("all read")))
    events = []
    outcome = turn(session, ws, provider, events).run("read every file")
    assert outcome.status == "completed" and outcome.output == "all read"
    logged = read_events(session.path)
    compactions = [e for e in logged if e["type"] == "history_compaction"]
    assert compactions and all(c["data"]["trigger"] == "auto" for c in compactions)
    assert all(c["data"]["strategy"] == "model" for c in compactions)
    # every request stayed under the threshold once compaction had started, and was paired
    for body in provider.bodies:
        assert_acceptable(body["input"])
        assert compaction.body_tokens(body) <= 3000 - 500 + 400  # one step's growth at most
    # the summary call's usage is recorded as such, just before the compaction it wrote
    for c in compactions:
        before = logged[logged.index(c) - 1]
        assert before["type"] == "provider_usage" and before["data"]["purpose"] == "compaction"
    assert outcome.usage["input_tokens"] >= 77 * len(compactions)
    # the first request after a compaction: the summary, then only what was kept
    first_after = provider.bodies[logged_steps_before(logged, compactions[0])]
    text = first_after["input"][0]["content"][0]["text"]
    assert text.startswith(SUMMARY_PREFIX + "Goal: read every file")
    # the in-memory History is what a fresh fold of the Log gives
    fresh = History.fold(logged, MODEL)
    assert session.history.input_items() == fresh.input_items()
    # presenters got a notice after the canonical event
    notices = [e for e in events if e["type"] == "compaction"]
    assert len(notices) == len(compactions)
    assert notices[0]["data"]["tokens_freed"] > 0 and "seq" not in notices[0]


def logged_steps_before(logged, compaction_event):
    """Index of the first main request after a compaction event."""
    seq = compaction_event["seq"]
    return sum(
        1
        for e in logged
        if e["type"] == "provider_usage" and e["seq"] < seq and "purpose" not in e["data"]
    )


def test_the_summary_carries_the_previous_one_into_the_next_summary_call(new_session, ws):
    files(ws, 12)
    session = new_session()
    provider = Provider(*reads(12), measured(answer("done")))
    turn(session, ws, provider, []).run("read")
    assert len(provider.summary_bodies) >= 2
    second = provider.summary_bodies[1]["input"][0]["content"][0]["text"]
    assert "[earlier summary]\nGoal: read every file" in second


def test_no_automatic_compaction_when_auto_is_off(new_session, ws):
    files(ws, 6)
    session = new_session()
    provider = Provider(*reads(6), measured(answer("done")))
    turn(session, ws, provider, [], make_compactor(auto=False)).run("read")
    assert not provider.summary_bodies
    assert "history_compaction" not in [e["type"] for e in read_events(session.path)]


def test_a_failing_summary_call_falls_back_and_the_turn_goes_on(new_session, ws):
    files(ws, 8)
    session = new_session()
    failures = [PixirError("server_error", "down")] * 10
    provider = Provider(*reads(8), measured(answer("done")), summaries=failures)
    outcome = turn(session, ws, provider, []).run("read")
    assert outcome.status == "completed"
    compactions = [e for e in read_events(session.path) if e["type"] == "history_compaction"]
    assert compactions and compactions[0]["data"]["strategy"] == "deterministic"
    assert compactions[0]["data"]["fallback"]["kind"] == "server_error"
    assert "without the model" in compactions[0]["data"]["summary"]
    assert "purpose" not in str(
        [e for e in read_events(session.path) if e["type"] == "provider_usage"]
    )


def test_context_overflow_compacts_and_retries_the_step(new_session, ws):
    files(ws, 4)
    session = new_session()
    # a window the config gets wrong: no compaction is due before the call, the API refuses
    provider = Provider(*reads(4), OVERFLOW, measured(answer("done")))
    events = []
    outcome = turn(session, ws, provider, events, make_compactor(window=10**6)).run("read")
    assert outcome.status == "completed" and outcome.output == "done"
    [c] = [e for e in read_events(session.path) if e["type"] == "history_compaction"]
    assert c["data"]["trigger"] == "overflow"
    retry = provider.bodies[-1]
    assert retry["input"][0]["content"][0]["text"].startswith(SUMMARY_PREFIX)
    assert len(json.dumps(retry)) < len(json.dumps(provider.bodies[-2]))
    assert_acceptable(retry["input"])
    assert outcome.steps == 5  # the retried step is still one step


def test_context_overflow_is_retried_at_most_twice_then_a_clear_error(new_session, ws):
    files(ws, 6)
    session = new_session()
    provider = Provider(*reads(6), OVERFLOW, OVERFLOW, OVERFLOW, measured(answer("never")))
    outcome = turn(session, ws, provider, [], make_compactor(window=10**6)).run("read")
    assert outcome.status == "error" and outcome.exit_code == 1
    assert outcome.error.kind == "context_overflow"
    assert f"pixir compact {session.id}" in outcome.error.hint
    assert "context_windows" in outcome.error.hint
    logged = read_events(session.path)
    assert len([e for e in logged if e["type"] == "history_compaction"]) == 2
    assert logged[-1]["type"] == "turn_failed"
    assert logged[-1]["data"]["error_kind"] == "context_overflow"
    assert logged[-1]["data"]["details"]["compactions"] == 2
    assert len(provider.bodies) == 6 + 3  # six reads, the step and its two retries


def test_a_third_overflow_ends_the_turn_even_when_more_could_be_compacted(new_session, ws):
    # a long History and a large keep budget: each retry keeps less, and a third compaction
    # would still find something to replace; SPEC §9 allows two retries, no more
    files(ws, 40)
    session = new_session()
    step_ = [OVERFLOW, OVERFLOW, OVERFLOW, measured(answer("never"))]
    provider = Provider(*reads(40), *step_)
    compactor = make_compactor(window=10**6, keep=100_000)
    outcome = turn(session, ws, provider, [], compactor).run("read")
    assert outcome.status == "error" and outcome.error.kind == "context_overflow"
    logged = read_events(session.path)
    assert len([e for e in logged if e["type"] == "history_compaction"]) == 2
    assert len(provider.bodies) == 40 + 3  # the step and its two retries; "never" unasked
    assert compaction.find_cut(session.history, 1, tokens_before=0, last_seq=0) is not None


def test_context_overflow_without_automatic_compaction_ends_the_turn(new_session, ws):
    session = new_session()
    provider = Provider(OVERFLOW)
    outcome = turn(session, ws, provider, [], make_compactor(auto=False)).run("hi")
    assert outcome.error.kind == "context_overflow" and "pixir compact" in outcome.error.hint
    assert not provider.summary_bodies


def test_context_overflow_with_nothing_to_compact_is_an_error_at_once(new_session, ws):
    session = new_session()
    provider = Provider(OVERFLOW, measured(answer("never")))
    outcome = turn(session, ws, provider, []).run("a prompt that alone is too big")
    assert outcome.error.kind == "context_overflow"
    assert len(provider.bodies) == 1 and not provider.summary_bodies


def test_ctrl_c_during_the_summary_call_writes_no_compaction(new_session, ws):
    files(ws, 8)
    session = new_session()
    provider = Provider(*reads(8), summaries=[KeyboardInterrupt()])
    outcome = turn(session, ws, provider, []).run("read")
    assert outcome.status == "interrupted"
    types = [e["type"] for e in read_events(session.path)]
    assert "history_compaction" not in types and types[-1] == "turn_interrupted"


def test_estimate_is_the_last_measure_plus_what_was_appended_since(new_session, ws):
    session = new_session()
    session.append("user_message", {"text": "go"})
    guard = compaction.Guard(
        session,
        None,
        make_compactor(),
        append=session.append,
        ephemeral=lambda *a: None,
        record_usage=lambda r: None,
    )
    body = build_request(session.history.input_items())
    assert guard.estimate(build_request) == compaction.body_tokens(body)  # nothing measured
    guard.after_call(Result(usage_summary={"input_tokens": 1000}))
    session.append("tool_call", {"call_id": "c", "name": "read", "args": {"path": "abcd"}})
    session.append("tool_result", {"call_id": "c", "ok": True, "output": "y" * 400})
    call_chars = len("read") + len('{"path":"abcd"}')
    assert guard.estimate(build_request) == 1000 + compaction.tokens(call_chars + 400)
    guard.after_call(Result(usage_summary={}))  # a call that reported no usage
    assert guard.estimate(build_request) == compaction.body_tokens(
        build_request(session.history.input_items())
    )


def test_auto_compaction_starts_only_above_window_minus_reserve(new_session, ws):
    # SPEC §9: compact when the estimate *exceeds* window − reserve (3000 − 500 here)
    session = new_session()
    session.append("user_message", {"text": "go"})
    for n in range(3):
        call = {"call_id": f"c{n}", "name": "read", "args": {"path": f"f{n}"}}
        session.append("tool_call", call)
        session.append("tool_result", {"call_id": f"c{n}", "ok": True, "output": "y" * 4000})
    guard = compaction.Guard(
        session,
        None,  # no provider: the deterministic summary
        make_compactor(),
        append=session.append,
        ephemeral=lambda *a: None,
        record_usage=lambda r: None,
    )

    def compactions():
        return [e for e in read_events(session.path) if e["type"] == "history_compaction"]

    guard.after_call(Result(usage_summary={"input_tokens": 2500}))
    guard.before_call(build_request)
    assert compactions() == []
    guard.after_call(Result(usage_summary={"input_tokens": 2501}))
    guard.before_call(build_request)
    [done] = compactions()
    assert done["data"]["trigger"] == "auto" and done["data"]["tokens_before"] == 2501
