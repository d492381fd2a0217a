"""Faults on the wire during a tool-using Turn of the built dist/pixir.

Each case runs the same Turn — write a file, edit it, run bash on it, answer — with one fault
injected by the fake backend (or by a gate in front of it) at one step, and checks:
- the outcome: retried to success (exit 0, the files changed, the answer printed), or a
  clear `error: <kind>:` with its exit code;
- the Log: it folds, no tool_call twice (a retried model call never re-runs a tool), no
  tool_call without its tool_result, the tools that ran are exactly the expected ones;
- `pixir resume` afterwards completes a Turn on the same session, through the fake's
  validation (every function_call_output paired, reasoning followed by its item).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import pytest

from tests.fake_backend import (
    cut,
    http_error,
    in_stream_error,
    rate_limit,
    reasoning,
    reset,
    stall,
    step,
    text,
    tool_call,
)
from tests.harness import closed_port
from tests.reliability.conftest import Gate, check_log, record, tool_calls

pytestmark = pytest.mark.e2e

PROMPT = "rename hello to bye in notes.txt and show it"
RESUME = "and now say that you are done"
ANSWER = "All done: notes.txt says bye."
ALL_TOOLS = [("write", True), ("edit", True), ("bash", True)]


def plan(first_tool: dict | None = None) -> list[dict]:
    """The Turn's four steps; each later step matches the previous tool's output."""
    return [
        step(
            reasoning("Writing the file first"),
            first_tool or tool_call("write", {"path": "notes.txt", "content": "hello\n"}),
            match={"last_user": PROMPT},
        ),
        step(
            tool_call("edit", {"path": "notes.txt", "old_string": "hello", "new_string": "bye"}),
            match={"last_user": PROMPT, "last_tool_output": "Wrote 6 bytes"},
        ),
        step(
            tool_call("bash", {"command": "cat notes.txt"}),
            match={"last_user": PROMPT, "last_tool_output": "Edited"},
        ),
        step(
            reasoning("Checked"),
            text(ANSWER),
            match={"last_user": PROMPT, "last_tool_output": "Exit code: 0"},
        ),
    ]


def faulty(index: int, *faults: dict, times: int = 1, **shape) -> list[dict]:
    """The plan with `times` failing copies of step `index` queued before the real one."""
    steps = plan()
    original = steps[index]
    bad = [
        step(
            *_items(original),
            match=original.get("match"),
            fault=list(faults) or None,
            **shape,
        )
        for _ in range(times)
    ]
    return steps[:index] + bad + steps[index:]


def _items(scripted: dict) -> list[dict]:
    return [dict(item) for item in scripted["items"]]


@dataclass
class Case:
    name: str
    steps: list[dict]
    transport: str = "http_sse"
    code: int = 0
    kind: str | None = None
    tools: list = field(default_factory=lambda: list(ALL_TOOLS))
    config: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)
    env: str | None = None  # "refused": OPENAI_BASE_URL at a closed port
    seen: str = "retry"  # how the Turn shows it met the fault: retry | fallback | nothing


CASES = [
    # connection refused: a closed port, every attempt
    Case("refused at the first call", plan(), code=1, kind="network", tools=[], env="refused"),
    # reset mid-stream: TCP RST after some events, then a clean answer
    Case("reset mid-stream, http_sse", faulty(1, reset(after_events=4))),
    Case("reset mid-stream, websocket", faulty(2, reset(after_events=4)), transport="auto"),
    # a stall beyond the idle timeout: one retry, then the answer
    Case(
        "stall once, http_sse",
        faulty(1, stall(5, after_events=3)),
        config={"stream_idle_timeout_ms": 1500},
    ),
    Case(
        "stall once, websocket",
        faulty(2, stall(5, after_events=3)),
        transport="auto",
        config={"stream_idle_timeout_ms": 1500},
    ),
    Case(
        "stall every time: exit 124",
        faulty(1, stall(5, after_events=3), times=2),
        code=124,
        kind="stream_idle_timeout",
        tools=[("write", True)],
        config={"stream_idle_timeout_ms": 1500},
    ),
    # 429 with Retry-After, then the answer
    Case("429 with Retry-After", faulty(2, rate_limit(retry_after="1"))),
    Case("429 with Retry-After, websocket", faulty(1, rate_limit(retry_after="1")), "auto"),
    # 500 then success; an in-stream server error then success
    Case("500 then success", faulty(1, http_error(500))),
    Case("500 twice then success", faulty(3, http_error(503), times=2)),
    Case(
        "500 every time: exit 1",
        faulty(1, http_error(500), times=3),
        code=1,
        kind="server_error",
        tools=[("write", True)],
    ),
    Case("in-stream error then success", faulty(2, in_stream_error("failed", after_events=4))),
    # the stream cut before response.completed: torn body, clean end, close-delimited body
    Case("stream cut (torn chunked body)", faulty(1, cut(after_events=5))),
    Case("stream cut (clean end, no terminal event)", faulty(2, cut(after_events=5, clean=True))),
    Case(
        "stream cut (close-delimited body)",
        faulty(3, cut(after_events=4, clean=True), framing="close"),
    ),
    Case(
        "stream cut every time: exit 1",
        faulty(1, cut(after_events=5), times=3),
        code=1,
        kind="stream_incomplete",
        tools=[("write", True)],
    ),
    # the body left open after response.completed, on every step
    Case(
        "body left open after completion, http_sse",
        [step(*_items(s), match=s.get("match"), keep_open=True) for s in plan()],
        seen="nothing",
    ),
    Case(
        "body left open after completion, websocket",
        [step(*_items(s), match=s.get("match"), keep_open=True) for s in plan()],
        transport="auto",
        seen="nothing",
    ),
    # WebSocket closed mid-stream: before any output (falls back to HTTP/SSE), after output
    # (retried), and every time with --transport websocket (exit 1)
    Case(
        "websocket closed before output: fallback",
        plan(),
        transport="auto",
        settings={"ws_mode": "close_mid_stream", "ws_after_events": 2},
        seen="fallback",
    ),
    Case("websocket closed after output: retried", faulty(2, cut(after_events=6)), "auto"),
    Case(
        "websocket closed every time: exit 1",
        plan(),
        transport="websocket",
        code=1,
        kind="websocket_closed",
        tools=[],
        settings={"ws_mode": "close_mid_stream", "ws_after_events": 6},
    ),
    # WebSocket refused: auto carries the Turn over HTTP/SSE; websocket-only fails clearly
    Case(
        "websocket refused (426): auto",
        plan(),
        "auto",
        settings={"ws_mode": "refuse_426"},
        seen="fallback",
    ),
    Case(
        "websocket refused (404): auto",
        plan(),
        "auto",
        settings={"ws_mode": "refuse_404"},
        seen="fallback",
    ),
    Case(
        "websocket refused: websocket-only",
        plan(),
        transport="websocket",
        code=1,
        kind="websocket_connect_failed",
        tools=[],
        settings={"ws_mode": "refuse_426"},
    ),
]


@pytest.mark.timeout(90)
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_fault_during_a_tool_turn(pixir, fake, case):
    pixir.login_api_key()
    if case.config:
        pixir.write_config(case.config)
    if case.settings:
        fake.configure(**case.settings)
    fake.script(*case.steps)
    env = {"OPENAI_BASE_URL": f"http://127.0.0.1:{closed_port()}/v1"} if case.env else None

    result = pixir.run(PROMPT, "--transport", case.transport, "--jsonl", env=env, timeout=45)

    assert result.code == case.code, result
    lines = pixir.jsonl_out(result)
    final = lines[-1]
    assert final["exit_code"] == case.code
    events = check_log(pixir.sessions()[-1])
    assert tool_calls(events) == case.tools
    if case.code == 0:
        assert final["ok"] is True and final["output"] == ANSWER
        assert pixir.read_file("notes.txt") == "bye\n"
        assert fake.steps_left == 0, "a scripted step was not used"
        assert [e["type"] for e in events][-1] == "assistant_message"
        retries = [line for line in lines if line.get("type") == "retry"]
        usage = [e["data"] for e in events if e["type"] == "provider_usage"]
        if case.seen == "retry":
            assert retries, "the fault was never met"
        elif case.seen == "fallback":
            assert usage[0]["fallback_reason"], usage[0]
            assert {u["active_transport"] for u in usage} == {"http_sse"}
        else:
            assert not retries
    else:
        assert final["ok"] is False and final["error"]["kind"] == case.kind
        failed = [e for e in events if e["type"] == "turn_failed"]
        assert [e["data"]["error_kind"] for e in failed] == [case.kind]
        assert events[-1]["type"] == "turn_failed"
    if "Retry-After" in case.name:
        delays = [line["data"]["delay_s"] for line in lines if line.get("type") == "retry"]
        assert delays == [1.0], delays  # the server's delay, not the backoff's
    record("faults")

    fake.configure(ws_mode="ok")
    assert_resume_works(pixir, fake, pixir.session_id())


def assert_resume_works(pixir, fake, session_id: str, **run) -> None:
    """A later Turn on the same session completes, through the fake's pairing checks."""
    fake.script(step(text("Resumed and done."), match={"last_user": RESUME}))
    before = len(fake.responses_requests())
    result = pixir.run("resume", session_id, RESUME, "--transport", "http_sse", **run)
    assert result.code == 0, result
    assert result.stdout == "Resumed and done.\n"
    sent = fake.responses_requests()[before:]
    assert len(sent) == 1 and sent[0].status == 200
    events = check_log(pixir.sessions()[-1])
    assert events[-1]["type"] == "assistant_message"
    assert events[-1]["data"]["text"] == "Resumed and done."
    record("resumes_after_fault")


@pytest.mark.timeout(90)
def test_connection_refused_in_the_middle_of_a_turn(pixir, fake, tmp_path):
    """The server goes away while a tool runs: the next call is refused on every attempt.
    The tool's result is in the Log, the Turn fails with `network`, and once the server is
    back a resume through the same address completes."""
    gate = Gate(fake.port)
    try:
        pixir.login_api_key()
        # commands may not create top-level entries in the workspace nor in tmp_path, which
        # holds it and PIXIR_HOME (docs/sandbox.md): the files they write already exist, or
        # sit in a directory that does
        started, flag = tmp_path / "flags" / "tool-started", tmp_path / "gate-closed"
        started.parent.mkdir()
        pixir.write_file("notes.txt", "")
        waiting = (
            f"touch {started}; while [ ! -e {flag} ]; do sleep 0.02; done; echo hello > notes.txt"
        )
        fake.script(*plan(first_tool=tool_call("bash", {"command": waiting})))
        env = {"OPENAI_BASE_URL": gate.url("/v1")}
        proc = pixir.popen(PROMPT, "--transport", "http_sse", "--json", env=env)
        try:
            # the tool running, not the request arriving: on a loaded machine the first
            # response may still be on its way through the gate when the request is seen
            deadline = time.monotonic() + 30
            while not started.exists() and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.02)
            assert started.exists(), proc.communicate()
            gate.close()
            flag.touch()
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 1, err
        assert json.loads(out)["error"]["kind"] == "network"
        events = check_log(pixir.sessions()[-1])
        assert tool_calls(events) == [("bash", True)]
        assert events[-1]["type"] == "turn_failed"
        record("faults")
        gate.open()
        assert_resume_works(pixir, fake, pixir.session_id(), env=env)
    finally:
        gate.close()
