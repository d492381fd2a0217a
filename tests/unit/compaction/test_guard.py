"""Compaction inside a Turn: before a call near the window, after a context_overflow (retry
at most twice, then a clear error), and the summary call's usage."""

from __future__ import annotations

import json

from pixir.compaction.cut import Compactor, body_tokens, find_cut, tokens
from pixir.compaction.guard import Guard
from pixir.errors import PixirError
from pixir.history import SUMMARY_PREFIX, History
from pixir.log import read_events
from pixir.tools.registry import ToolContext
from pixir.turn import Turn
from tests.unit.helpers import MODEL
from tests.unit.helpers.exchanges import assert_acceptable
from tests.unit.helpers.scripted import Result, ScriptedProvider, answer, build_request, calls

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
    return Compactor(window, auto, reserve, keep, summary_request)


def measured(result):
    """A scripted step whose usage says what the request really weighed (as the API does)."""

    def play(body, on_delta):
        result.usage_summary = {"input_tokens": body_tokens(body), "output_tokens": 5}
        return result

    return play


class Provider(ScriptedProvider):
    """Scripted main calls; summary calls answered from their own queue."""

    def __init__(self, *steps, summaries=()):
        super().__init__(*steps)
        self.summaries = list(summaries)
        self.summary_bodies = []

    def stream(self, body, on_delta, stop=None):
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
        assert body_tokens(body) <= 3000 - 500 + 400  # one step's growth at most
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
    # would still find something to replace: two retries at most (docs/compaction.md)
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
    assert find_cut(session.history, 1, tokens_before=0, last_seq=0) is not None


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
    guard = Guard(
        session,
        None,
        make_compactor(),
        append=session.append,
        ephemeral=lambda *a: None,
        record_usage=lambda r: None,
    )
    body = build_request(session.history.input_items())
    assert guard.estimate(build_request) == body_tokens(body)  # nothing measured
    guard.after_call(Result(usage_summary={"input_tokens": 1000}))
    session.append("tool_call", {"call_id": "c", "name": "read", "args": {"path": "abcd"}})
    session.append("tool_result", {"call_id": "c", "ok": True, "output": "y" * 400})
    call_chars = len("read") + len('{"path":"abcd"}')
    assert guard.estimate(build_request) == 1000 + tokens(call_chars + 400)
    guard.after_call(Result(usage_summary={}))  # a call that reported no usage
    assert guard.estimate(build_request) == body_tokens(
        build_request(session.history.input_items())
    )


def test_auto_compaction_starts_only_above_window_minus_reserve(new_session, ws):
    # compact when the estimate *exceeds* window − reserve (3000 − 500 here)
    session = new_session()
    session.append("user_message", {"text": "go"})
    for n in range(3):
        call = {"call_id": f"c{n}", "name": "read", "args": {"path": f"f{n}"}}
        session.append("tool_call", call)
        session.append("tool_result", {"call_id": f"c{n}", "ok": True, "output": "y" * 4000})
    guard = Guard(
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


def test_the_summary_call_never_carries_the_web_search_tool():
    from pixir.compaction.guard import compactor_for
    from pixir.config import Settings, WebSearch
    from pixir.provider.request import RequestOptions

    options = RequestOptions(
        model="gpt-5.5", session_id="s", credential_kind="api_key", web_search=WebSearch()
    )
    body = compactor_for(Settings(), options).summary_request([])
    assert body["tools"] == []
    assert body["include"] == ["reasoning.encrypted_content"]
