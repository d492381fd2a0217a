"""The Turn loop (docs/log.md) against a scripted provider."""

from __future__ import annotations

import json
import os

import pytest

from pixir import session as sessions
from pixir.errors import PixirError
from pixir.history import ORPHAN_OUTPUT, History
from pixir.interrupt import OutputClosed
from pixir.log import read_events
from pixir.tools.result import ToolInterrupted, failed
from tests.unit.helpers import MODEL
from tests.unit.helpers.scripted import Result, answer, calls, message_item, reasoning_item


def log_types(session):
    return [e["type"] for e in read_events(session.path)]


def paired(items):
    """Every function_call has exactly one later output and every output a call before it."""
    seen, answered = set(), set()
    for item in items:
        if item.get("type") == "function_call":
            seen.add(item["call_id"])
        elif item.get("type") == "function_call_output":
            assert item["call_id"] in seen and item["call_id"] not in answered
            answered.add(item["call_id"])
    return seen == answered


def test_text_answer(runner):
    run = runner()
    outcome = run("hello", answer("Hi there"))
    assert outcome.status == "completed" and outcome.output == "Hi there"
    assert outcome.exit_code == 0 and outcome.steps == 1
    assert log_types(run.session) == [
        "session_started",
        "user_message",
        "provider_usage",
        "assistant_message",
    ]
    deltas = [e["data"]["chunk"] for e in run.events if e["type"] == "text_delta"]
    assert "".join(deltas) == "Hi there"
    assert all("seq" not in e for e in run.events if e["type"] in ("text_delta", "status"))
    assert outcome.usage["input_tokens"] == 100 and outcome.usage["cache_hit_rate"] == 0.0


def test_emit_receives_canonical_events_after_they_are_in_the_log(runner):
    run = runner()
    run("hello", answer("Hi"))
    logged = read_events(run.session.path)[1:]
    emitted = [e for e in run.events if "seq" in e]
    assert emitted == logged


def test_tool_loop_fixes_a_file_with_full_paired_history_on_every_request(runner, ws):
    (ws / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    run = runner()
    outcome = run(
        "fix the bug",
        calls(("read", {"path": "calc.py"}), reasoning=True),
        calls(
            ("edit", {"path": "calc.py", "old_string": "a - b", "new_string": "a + b"}),
            reasoning=True,
            text="Found it.",
        ),
        calls(("bash", {"command": "python3 -c 'import calc; assert calc.add(2, 3) == 5'"})),
        answer("Fixed: add now adds.", reasoning=True),
    )
    assert outcome.status == "completed" and outcome.steps == 4
    assert (ws / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    types = log_types(run.session)
    assert types == [
        "session_started",
        "user_message",
        "provider_usage",
        "reasoning",
        "tool_call",
        "tool_result",
        "provider_usage",
        "reasoning",
        "assistant_message",
        "tool_call",
        "tool_result",
        "provider_usage",
        "tool_call",
        "tool_result",
        "provider_usage",
        "reasoning",
        "assistant_message",
    ]
    results = [e["data"] for e in read_events(run.session.path) if e["type"] == "tool_result"]
    assert all(r["ok"] for r in results) and results[-1]["exit_code"] == 0
    bodies = run.provider.bodies
    for n, body in enumerate(bodies):
        assert paired(body["input"])
        calls_so_far = sum(1 for i in body["input"] if i.get("type") == "function_call")
        assert calls_so_far == n  # each request carried every earlier call with its output
    assert [i.get("type") for i in bodies[2]["input"]][:5] == [
        None,
        "reasoning",
        "function_call",
        "function_call_output",
        "reasoning",
    ]


def test_in_memory_history_equals_a_fresh_fold_from_disk(runner, ws):
    (ws / "a.txt").write_text("a\n")
    run = runner()
    run(
        "go",
        calls(("read", {"path": "a.txt"}), ("bash", {"command": "echo hi"}), reasoning=True),
        calls(("write", {"path": "b.txt", "content": "b"}), reasoning=True, text="writing"),
        calls(("read", {"path": "missing"})),
        answer("done", reasoning=True),
    )
    fresh = History.fold(read_events(run.session.path), MODEL)
    assert run.session.history.input_items() == fresh.input_items()
    assert run.session.history.input_items()[-1]["role"] == "assistant"


def test_tool_errors_go_back_to_the_model(runner, ws):
    (ws / "a.py").write_text("x = 1\n")
    run = runner()
    outcome = run(
        "edit",
        calls(("edit", {"path": "a.py", "old_string": "nope", "new_string": "y"})),
        answer("could not"),
    )
    assert outcome.status == "completed"
    last_output = run.provider.bodies[1]["input"][-1]
    assert last_output["type"] == "function_call_output"
    assert json.loads(last_output["output"])["error"]["kind"] == "no_match"


def test_calls_run_one_at_a_time_in_arrival_order(runner, ws):
    run = runner()
    run(
        "order",
        calls(
            ("bash", {"command": "echo 1 >> order.txt"}),
            ("bash", {"command": "echo 2 >> order.txt"}),
            ("bash", {"command": "echo 3 >> order.txt"}),
        ),
        answer("ok"),
    )
    assert (ws / "order.txt").read_text() == "1\n2\n3\n"
    types = log_types(run.session)[3:9]
    assert types == ["tool_call", "tool_result"] * 3


def test_max_steps_stops_with_an_explanation(runner):
    run = runner()
    outcome = run(
        "loop",
        calls(("bash", {"command": "true"})),
        calls(("bash", {"command": "true"})),
        max_steps=2,
    )
    assert outcome.status == "incomplete" and outcome.exit_code == 6
    assert outcome.error.kind == "max_steps" and outcome.steps == 2
    last = read_events(run.session.path)[-1]
    assert last["type"] == "assistant_message" and last["data"]["finish_reason"] == "max_steps"
    assert "max_steps" in last["data"]["text"] and run.session.id in last["data"]["text"]
    assert paired(run.session.history.input_items())


def test_truncated_answer_is_incomplete(runner):
    run = runner()
    result = answer("half an ans")
    result.finish_reason = "length"
    outcome = run("long", result)
    assert outcome.status == "incomplete" and outcome.exit_code == 6


def test_a_truncated_answer_says_why_the_backend_cut_it(runner):
    result = answer("I can't")
    result.finish_reason, result.incomplete_reason = "length", "content_filter"
    outcome = runner()("x", result)
    assert outcome.error.kind == "incomplete"
    assert outcome.error.details == {
        "finish_reason": "length",
        "incomplete_reason": "content_filter",
    }


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        ("server_error", "error", 1),
        ("usage_limit_reached", "error", 7),
        ("not_authenticated", "error", 4),
        ("stream_idle_timeout", "timed_out", 124),
    ],
)
def test_provider_errors_end_the_turn_keeping_partial_text(runner, kind, status, code):
    def fail_midway(body, on_delta):
        on_delta(("text", "Part of "))
        on_delta(("text", "an answer"))
        raise PixirError(kind, f"{kind} happened", {"x": 1})

    run = runner()
    outcome = run("hi", fail_midway)
    assert outcome.status == status and outcome.exit_code == code
    events = read_events(run.session.path)
    partial, failed_event = events[-2], events[-1]
    assert partial["type"] == "assistant_message"
    assert partial["data"] == {
        "text": "Part of an answer",
        "partial": True,
        "finish_reason": "partial",
    }
    assert failed_event["type"] == "turn_failed"
    assert failed_event["data"] == {
        "error_kind": kind,
        "error_message": f"{kind} happened",
        "details": {"x": 1},
    }


def test_a_retry_forgets_the_text_of_the_failed_attempt(runner):
    def retried(body, on_delta):
        on_delta(("text", "Hel"))
        on_delta(("retry", {"attempt": 1, "delay_s": 0.5, "error_kind": "network", "message": "x"}))
        on_delta(("text", "Hello"))
        raise PixirError("network", "gone again")

    run = runner()
    run("hi", retried)
    partial = [e for e in read_events(run.session.path) if e["type"] == "assistant_message"]
    assert partial[0]["data"]["text"] == "Hello"
    retry = next(e for e in run.events if e["type"] == "retry")
    assert retry["data"]["attempt"] == 1 and retry["data"]["error_kind"] == "network"


def test_ctrl_c_during_the_stream(runner):
    def interrupted(body, on_delta):
        on_delta(("text", "I was say"))
        raise KeyboardInterrupt

    run = runner()
    outcome = run("hi", interrupted)
    assert outcome.status == "interrupted" and outcome.exit_code == 130
    assert outcome.reason == "sigint"
    events = read_events(run.session.path)
    assert [e["type"] for e in events[-2:]] == ["assistant_message", "turn_interrupted"]
    assert events[-2]["data"]["partial"] is True and events[-2]["data"]["text"] == "I was say"
    assert events[-1]["data"]["reason"] == "sigint"


def test_ctrl_c_during_bash_records_its_result(runner, monkeypatch):
    from pixir import turn as turn_module

    def interrupted_tool(name, args, ctx):
        raise ToolInterrupted(failed("interrupted", "killed", output="partial\n"))

    monkeypatch.setattr(turn_module, "run_tool", interrupted_tool)
    run = runner()
    outcome = run("go", calls(("bash", {"command": "sleep 100"})))
    assert outcome.status == "interrupted"
    events = read_events(run.session.path)
    assert [e["type"] for e in events[-3:]] == ["tool_call", "tool_result", "turn_interrupted"]
    assert json.loads(events[-2]["data"]["output"])["output"] == "partial\n"
    assert paired(run.session.history.input_items())


def test_ctrl_c_during_another_tool_closes_its_call(runner, monkeypatch):
    from pixir import turn as turn_module

    def interrupted_tool(name, args, ctx):
        raise KeyboardInterrupt

    monkeypatch.setattr(turn_module, "run_tool", interrupted_tool)
    run = runner()
    run("go", calls(("read", {"path": "x"}), ("read", {"path": "y"})))
    events = read_events(run.session.path)
    assert [e["type"] for e in events[-3:]] == ["tool_call", "tool_result", "turn_interrupted"]
    assert events[-2]["data"]["error"]["kind"] == "interrupted"
    assert sum(1 for e in events if e["type"] == "tool_call") == 1  # the 2nd never started


def test_closed_stdout_ends_the_turn_consistently(new_session, ws):
    from pixir.tools.registry import ToolContext
    from pixir.turn import Turn
    from tests.unit.helpers.scripted import ScriptedProvider, build_request

    def emit(event):
        if event["type"] == "text_delta":
            raise OutputClosed

    session = new_session()
    turn = Turn(session, ScriptedProvider(answer("Hello")), build_request, ToolContext(ws), emit)
    outcome = turn.run("hi")
    assert outcome.status == "interrupted" and outcome.reason == "broken_pipe"
    assert log_types(session)[-1] == "turn_interrupted"


def test_orphaned_calls_are_closed_with_real_results_before_the_next_turn(runner):
    run = runner()
    # A crash in the middle of a tool call: the Log holds the call and nothing after it.
    run.session.append("user_message", {"text": "first"})
    run.session.append("tool_call", {"call_id": "c_lost", "name": "bash", "args": {"command": "x"}})
    folded = History.fold(read_events(run.session.path), MODEL).input_items()
    outcome = run("again", answer("ok"))
    assert outcome.status == "completed"
    events = read_events(run.session.path)
    orphan = events[3]
    assert orphan["type"] == "tool_result" and orphan["data"]["call_id"] == "c_lost"
    assert orphan["data"]["error"]["kind"] == "orphan_tool_call"
    assert orphan["data"]["output"] == ORPHAN_OUTPUT
    assert events[4]["type"] == "user_message"
    sent = run.provider.bodies[0]["input"]
    assert paired(sent)
    # the real result is byte-for-byte what the fold had sent in its place (preview == call)
    assert sent[:-1] == folded


def test_a_write_killed_before_its_rename_leaves_no_temp_file_after_the_next_turn(runner, ws):
    (ws / "src").mkdir()
    target = ws / "src" / "notes.txt"
    target.write_text("old\n")
    # What a SIGKILL between the temp file and the rename leaves: the call with no result,
    # the target intact, and the temp file beside it (written before this process started).
    left = ws / "src" / ".notes.txt.k1ll3d0x.pixir-tmp"
    left.write_text("new, half")
    os.utime(left, (1_000_000_000, 1_000_000_000))
    fresh = ws / "src" / ".notes.txt.st1llw0r.pixir-tmp"  # another process writing right now
    fresh.write_text("busy")
    os.utime(fresh, (4_000_000_000, 4_000_000_000))
    other = ws / "src" / ".other.txt.k1ll3d0x.pixir-tmp"  # not this call's file
    other.write_text("x")
    os.utime(other, (1_000_000_000, 1_000_000_000))
    run = runner()
    run.session.append("user_message", {"text": "first"})
    args = {"path": "src/notes.txt", "content": "new\n"}
    run.session.append("tool_call", {"call_id": "c_write", "name": "write", "args": args})

    outcome = run("again", answer("ok"))

    assert outcome.status == "completed"
    assert sorted(p.name for p in (ws / "src").iterdir()) == sorted(
        ["notes.txt", fresh.name, other.name]
    )
    assert target.read_text() == "old\n"
    closing = read_events(run.session.path)[3]
    assert closing["type"] == "tool_result" and closing["data"]["call_id"] == "c_write"


def test_read_only_refusal_is_logged_and_the_turn_goes_on(runner, ws):
    run = runner(mode="read_only")
    outcome = run(
        "try",
        calls(("write", {"path": "x.txt", "content": "x"}), ("bash", {"command": "git status"})),
        answer("I am read-only"),
    )
    assert outcome.status == "completed" and not (ws / "x.txt").exists()
    events = read_events(run.session.path)
    decision = next(e for e in events if e["type"] == "permission_decision")
    assert decision["data"]["decision"] == "denied" and decision["data"]["mode"] == "read_only"
    refused = next(e for e in events if e["type"] == "tool_result")
    assert (
        refused["data"]["ok"] is False and refused["data"]["error"]["kind"] == "permission_denied"
    )
    assert sum(1 for e in events if e["type"] == "permission_decision") == 1  # git status ran


def test_ask_refusal_ends_the_turn_with_exit_3(runner, ws):
    run = runner(mode="ask")
    outcome = run(
        "try",
        calls(("write", {"path": "x.txt", "content": "x"}), ("bash", {"command": "true"})),
        ask=lambda question: False,
    )
    assert outcome.status == "error" and outcome.exit_code == 3
    assert outcome.error.kind == "permission_denied"
    assert log_types(run.session)[-4:] == [
        "tool_call",
        "permission_decision",
        "tool_result",
        "turn_failed",
    ]
    assert paired(run.session.history.input_items()) and not (ws / "x.txt").exists()


def test_ask_approval_is_logged_and_the_tool_runs(runner, ws):
    run = runner(mode="ask")
    outcome = run(
        "try", calls(("write", {"path": "x.txt", "content": "x"})), answer("ok"), ask=lambda q: True
    )
    assert outcome.status == "completed" and (ws / "x.txt").read_text() == "x"
    decision = next(e for e in read_events(run.session.path) if e["type"] == "permission_decision")
    assert decision["data"]["decision"] == "approved"


def test_fsync_once_per_step_and_per_turn_not_per_event(runner, monkeypatch):
    syncs = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: syncs.append(fd) or real(fd))
    run = runner()
    syncs.clear()
    run(
        "go",
        calls(("bash", {"command": "true"})),
        calls(("bash", {"command": "true"})),
        answer("x"),
    )
    assert len(syncs) == 3 + 1  # three steps, then the end of the Turn


def test_provider_usage_records_step_model_and_transport(runner):
    run = runner()
    result = answer("x")
    result.rate_limits = {"primary": {"used_percent": 5}}
    run("go", result)
    usage = next(e for e in read_events(run.session.path) if e["type"] == "provider_usage")
    assert usage["data"]["model"] == MODEL and usage["data"]["step"] == 1
    assert usage["data"]["active_transport"] == "http_sse"
    assert usage["data"]["rate_limits"] == {"primary": {"used_percent": 5}}
    assert usage["data"]["usage_summary"]["input_tokens"] == 100


def test_answer_only_in_output_item_done(runner):
    run = runner()
    outcome = run("hi", answer("whole answer", deltas=False))
    assert outcome.output == "whole answer"


def test_a_step_with_only_hosted_items_and_text(runner):
    run = runner()
    result = Result(
        text="found",
        output_items=[{"type": "web_search_call", "id": "ws_1"}, message_item("found")],
    )
    assert run("search", result).output == "found"


def test_resume_with_another_model_drops_its_reasoning(runner, ws):
    run = runner()
    run("first", calls(("bash", {"command": "true"}), reasoning=True), answer("a", reasoning=True))
    run.session.close()
    same, _ = sessions.resume(ws, run.session.id, model=None, permission_mode="auto")
    assert sum(1 for i in same.history.input_items() if i.get("type") == "reasoning") == 2
    same.close()
    other, _ = sessions.resume(ws, run.session.id, model="gpt-5.4", permission_mode="auto")
    items = other.history.input_items()
    assert other.model == "gpt-5.4" and all(i.get("type") != "reasoning" for i in items)
    assert paired(items) and len(items) == 4  # user, call, output, answer
    other.close()


def test_invalid_arguments_object_is_a_failed_result(runner):
    run = runner()
    step = calls(("read", {"path": "a"}))
    step.function_calls[0]["arguments"] = ["not", "an", "object"]
    run("x", step, answer("ok"))
    result = next(e for e in read_events(run.session.path) if e["type"] == "tool_result")
    assert result["data"]["error"]["kind"] == "invalid_arguments"


def test_a_second_call_with_the_same_call_id_is_refused_and_never_runs(runner, ws):
    """Two calls sharing a call_id in one response (and one reusing an earlier call's id in
    the next): the first runs, each repeat is a failed `duplicate_call_id` result, no
    command runs twice, and the History stays paired."""
    run = runner()
    outcome = run(
        "append",
        calls(
            ("bash", {"command": "echo first >> f.txt"}, "call_dup"),
            ("bash", {"command": "echo second >> f.txt"}, "call_dup"),
        ),
        calls(("bash", {"command": "echo third >> f.txt"}, "call_dup")),
        answer("done"),
    )
    assert outcome.status == "completed"
    assert (ws / "f.txt").read_text() == "first\n"
    events = read_events(run.session.path)
    results = [e["data"] for e in events if e["type"] == "tool_result"]
    assert [r["ok"] for r in results] == [True, False, False]
    assert [r.get("duplicate") for r in results] == [None, True, True]
    assert results[1]["error"]["kind"] == "duplicate_call_id"
    assert "call_dup" in results[1]["error"]["message"]
    dup_calls = [
        e["data"] for e in events if e["type"] == "tool_call" and e["data"].get("duplicate")
    ]
    assert [c["args"]["command"] for c in dup_calls] == [
        "echo second >> f.txt",
        "echo third >> f.txt",
    ]
    for history in (run.session.history, History.fold(events, MODEL)):
        items = history.input_items()
        assert paired(items)
        assert [i["call_id"] for i in items if i.get("type") == "function_call"] == ["call_dup"]
        assert "echo first" in json.dumps(items) and "echo second" not in json.dumps(items)


@pytest.mark.parametrize(
    "problem",
    [
        {"kind": "invalid_arguments", "message": "not valid JSON"},
        {"kind": "arguments_too_large", "message": "over 1 MiB"},
    ],
)
def test_a_call_with_a_problem_is_a_failed_result_and_the_turn_goes_on(runner, ws, problem):
    run = runner()
    step = calls(("write", {"path": "x.txt", "content": "never"}), ("bash", {"command": "true"}))
    step.function_calls[0].update(arguments=None, raw_arguments="{broken", problem=problem)
    outcome = run("x", step, answer("ok"))
    assert outcome.status == "completed" and not (ws / "x.txt").exists()
    events = read_events(run.session.path)
    results = [e["data"] for e in events if e["type"] == "tool_result"]
    assert results[0]["error"] == problem and results[1]["ok"]
    [call] = [e["data"] for e in events if e["type"] == "tool_call"][:1]
    assert call["args"] is None and call["arguments"] == "{broken"  # replayed as sent
    assert paired(run.session.history.input_items())


def test_update_plan_shows_in_events(runner):
    run = runner()
    run(
        "plan", calls(("update_plan", {"steps": [{"step": "a", "status": "pending"}]})), answer("x")
    )
    call_event = next(e for e in run.events if e["type"] == "tool_call")
    assert call_event["data"]["args"]["steps"][0]["step"] == "a"


def test_reasoning_item_kept_verbatim_with_its_model(runner):
    run = runner()
    item = reasoning_item("deep thought")
    result = Result(text="x", output_items=[item, message_item("x")])
    run("x", result)
    logged = next(e for e in read_events(run.session.path) if e["type"] == "reasoning")
    assert logged["data"] == {"item": item, "model": MODEL}


def test_a_sandbox_notice_a_command_finds_out_is_said_right_after_it(new_session, ws):
    # a command may find that the sandbox must fall back (its mount namespace could not be
    # joined): people are told then, not before a next command that may never come
    import subprocess

    from pixir.tools.registry import ToolContext
    from pixir.turn import Turn
    from tests.unit.helpers.scripted import ScriptedProvider, build_request

    class FallsBack:
        confined = True
        commands = 0
        said = False

        def popen(self, argv, **options):
            self.commands += 1
            return subprocess.Popen(argv, **options)

        def denial_note(self, output):
            return None

        def notice_once(self):
            if self.commands and not self.said:
                self.said = True
                return "no mount namespace for commands (test)"
            return None

    events = []
    tools = ToolContext(ws, sandbox=FallsBack())
    steps = calls(("bash", {"command": "true"})), answer("done")
    turn = Turn(new_session(), ScriptedProvider(*steps), build_request, tools, events.append)
    turn.run("go")
    seen = [
        (e["type"], e["data"].get("text")) for e in events if e["type"] in ("notice", "tool_result")
    ]
    assert seen == [("tool_result", None), ("notice", "no mount namespace for commands (test)")]
