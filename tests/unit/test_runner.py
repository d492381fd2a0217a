"""The runner every front end shares (pixir/runner.py): sessions opened and resumed, Turns
with per-Turn overrides, a stop from another thread, several sessions at once on worker
threads — against a scripted Provider, with the real request builder, Log and tools."""

from __future__ import annotations

import os
import threading
import time

import pytest

from pixir import interrupt
from pixir.config import Settings
from pixir.errors import PixirError
from pixir.log import Log, read_events
from pixir.runner import Overrides, Runner, settle
from pixir.turn import TurnOutcome
from tests.unit.helpers.scripted import ScriptedProvider, answer, calls

MODEL = "gpt-5.5"
WAIT_S = 20  # an upper bound for conditions, never a timing that is asserted


class Key:
    kind = "api_key"

    def headers(self) -> dict:
        return {"Authorization": "Bearer sk-test"}


@pytest.fixture
def scripted(monkeypatch):
    """A Runner's Provider plays the steps given by `script(*steps)` before it is made, or
    by `script(*steps, session=id)` for that session's."""
    import pixir.provider.client as client

    made: list[ScriptedProvider] = []
    pending: list = []
    by_session: dict[str, list] = {}

    class Provider(ScriptedProvider):
        def __init__(self, settings, credential, session_id):
            steps = by_session.pop(session_id, None)
            if steps is None:
                steps = list(pending)
                pending.clear()
            super().__init__(*steps)
            made.append(self)

    monkeypatch.setattr(client, "Provider", Provider)

    def script(*steps, session: str | None = None):
        if session is None:
            pending.extend(steps)
        else:
            by_session[session] = list(steps)
        return made

    return script


def make_runner(workspace, **kw) -> Runner:
    settings = kw.pop("settings", Settings())
    return Runner(settings, Key(), workspace, kw.pop("model", MODEL), **kw)


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


class Worker:
    """One Turn of `runner` on a worker thread, as the ACP server runs them."""

    def __init__(self, runner: Runner, text: str, emit=None, **kw) -> None:
        self.result: list[TurnOutcome] = []
        emit = emit or (lambda event: None)
        self.thread = threading.Thread(
            daemon=True, target=lambda: self.result.append(runner.turn(text, emit, **kw))
        )
        self.thread.start()

    def outcome(self) -> TurnOutcome:
        self.thread.join(WAIT_S)
        assert not self.thread.is_alive(), "the Turn did not stop"
        return self.result[0]


def types(path) -> list[str]:
    return [e["type"] for e in read_events(path)]


# -- sessions and Turns ---------------------------------------------------------------------


def test_a_turn_opens_a_new_session_and_the_id_outlives_close(scripted, workspace):
    made = scripted(answer("hello"))
    runner = make_runner(workspace)
    events: list[dict] = []
    outcome = runner.turn("hi", events.append)
    path = runner.session.path
    runner.close()
    assert outcome.status == "completed" and outcome.output == "hello"
    assert runner.session is None and runner.session_id == path.stem
    assert types(path) == [
        "session_started",
        "user_message",
        "provider_usage",
        "assistant_message",
    ]
    assert [e["type"] for e in events if "seq" in e] == types(path)[1:]
    assert made[0].closed
    assert made[0].bodies[0]["model"] == MODEL and made[0].bodies[0]["input"][0]["role"] == (
        "developer"
    )


def test_resume_never_widens_the_mode_and_warns_through_the_callable(scripted, workspace):
    narrow = Settings(permission_default="read_only")
    first = make_runner(workspace, settings=narrow)
    first.new()
    sid = first.session_id
    first.close()
    warnings: list[str] = []
    wide = Settings(permission_default="auto", sources={"permission_default": "flag"})
    runner = make_runner(workspace, settings=wide, warn=warnings.append)
    runner.resume(sid)
    try:
        assert runner.session.permission_mode == "read_only"
        assert warnings == [
            f"session {sid} was started in read_only mode; resuming cannot widen it to auto"
        ]
    finally:
        runner.close()


def test_a_busy_session_names_the_process_holding_it(workspace):
    runner = make_runner(workspace)
    runner.new()
    other = make_runner(workspace)
    try:
        with pytest.raises(PixirError) as caught:
            other.resume(runner.session_id)
        assert caught.value.kind == "session_busy"
        if os.path.exists("/proc/locks"):
            assert caught.value.details["pid"] == os.getpid()
            assert caught.value.hint.startswith(f"pid {os.getpid()}")
    finally:
        runner.close()


def test_per_turn_overrides_apply_to_that_turn_only(scripted, workspace):
    made = scripted(answer("one"), answer("two"), answer("three"))
    runner = make_runner(workspace, settings=Settings(reasoning_effort="low"))
    try:
        runner.turn("a", lambda e: None, overrides=Overrides(reasoning_effort="high"))
        runner.turn("b", lambda e: None, overrides=Overrides(model="gpt-5.4"))
        runner.turn("c", lambda e: None)
        path = runner.session.path
    finally:
        runner.close()
    bodies = made[0].bodies
    assert [b["reasoning"].get("effort") for b in bodies] == ["high", "low", "low"]
    assert [b["model"] for b in bodies] == [MODEL, "gpt-5.4", MODEL]
    usage = [e["data"]["model"] for e in read_events(path) if e["type"] == "provider_usage"]
    assert usage == [MODEL, "gpt-5.4", MODEL]
    assert runner.model == MODEL


def test_web_search_per_turn(scripted, workspace):
    """The switch a front end (ACP's `_meta.web_search`) passes for one Turn: on with the
    configured object, off although configured, the settings again when not given, and on
    with the defaults where nothing is configured."""
    from pixir.config import WebSearch

    def searches(settings, *switches):
        made = scripted(*(answer(str(n)) for n in range(len(switches))))
        runner = make_runner(workspace, settings=settings)
        try:
            for switch in switches:
                runner.turn("go", lambda e: None, overrides=Overrides(web_search=switch))
        finally:
            runner.close()
        bodies = made[-1].bodies
        return [[t for t in b["tools"] if t["type"] == "web_search"] for b in bodies]

    high = {"type": "web_search", "search_context_size": "high"}
    configured = Settings(web_search=WebSearch(context_size="high"))
    assert searches(configured, None, False, None) == [[high], [], [high]]
    low = {"type": "web_search", "search_context_size": "low"}
    assert searches(Settings(), True, None) == [[low], []]


def test_switching_model_refolds_without_letting_go_of_the_lock(scripted, workspace):
    scripted(answer("one"))
    runner = make_runner(workspace)
    try:
        runner.turn("a", lambda e: None)
        runner.switch_model("gpt-5.4")
        runner.switch_model("gpt-5.4")  # the same again changes nothing
        assert runner.session.model == "gpt-5.4" and runner.model == "gpt-5.4"
        with pytest.raises(PixirError) as caught:
            Log.open(runner.session.path, runner.session_id)
        assert caught.value.kind == "session_busy"
        sid = runner.session_id
    finally:
        runner.close()
    changed = [
        e["data"]
        for e in read_events(runner_path(workspace, sid))
        if e["type"] == "settings_changed"
    ]
    assert changed == [{"model": "gpt-5.4"}]  # a resume keeps the model (the REPL's /model)
    again = make_runner(workspace)
    try:
        again.resume(sid)
        assert again.model == "gpt-5.4" and again.session.model == "gpt-5.4"
    finally:
        again.close()


def test_sessions_live_in_the_store_and_a_resume_works_where_it_was_started(scripted, tmp_path):
    root, sub = tmp_path / "repo", tmp_path / "repo" / "sub"
    sub.mkdir(parents=True)
    scripted(answer("one"))
    runner = make_runner(sub, store=root)
    try:
        runner.turn("a", lambda e: None)
        sid = runner.session_id
    finally:
        runner.close()
    assert (root / ".pixir" / "sessions" / f"{sid}.jsonl").is_file()
    elsewhere = make_runner(root, store=root)
    try:
        elsewhere.resume(None)
        assert elsewhere.session.workspace == sub
    finally:
        elsewhere.close()


# -- a stop from another thread -----------------------------------------------------------------


def test_cancel_from_another_thread_stops_a_streaming_turn_like_ctrl_c(scripted, workspace):
    started = threading.Event()

    def endless(body, on_delta):
        on_delta(("text", "partial "))
        started.set()
        while True:  # the stream goes on until the stop lands on a delta
            on_delta(("text", "more "))
            time.sleep(0.01)

    scripted(endless)
    runner = make_runner(workspace)
    events: list[dict] = []
    turn = Worker(runner, "go", events.append)
    assert started.wait(WAIT_S)
    runner.cancel()
    outcome = turn.outcome()
    path = runner.session.path
    runner.close()
    assert (outcome.status, outcome.reason) == ("interrupted", "cancelled")
    logged = read_events(path)
    assert [e["type"] for e in logged][-2:] == ["assistant_message", "turn_interrupted"]
    assert logged[-2]["data"]["partial"] is True
    assert logged[-2]["data"]["text"].startswith("partial more")
    assert logged[-1]["data"]["reason"] == "cancelled"
    settled = settle(outcome)
    assert settled.error.kind == "interrupted" and "cancelled" in settled.error.message
    assert settled.exit_code == 130


def test_cancel_kills_a_running_command_and_closes_its_call(scripted, workspace):
    marker = workspace / "pid"
    marker.write_text("")  # commands may not create top-level entries (docs/sandbox.md)
    command = f"echo $$ > {marker}; sleep 60"
    scripted(calls(("bash", {"command": command})), answer("never"))
    runner = make_runner(workspace)
    turn = Worker(runner, "run it", lambda e: None)
    wait_for(lambda: marker.exists() and marker.read_text().strip(), "the command to start")
    pid = int(marker.read_text())
    runner.cancel()
    outcome = turn.outcome()
    path = runner.session.path
    runner.close()
    assert outcome.reason == "cancelled"
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    logged = read_events(path)
    tool_result = next(e["data"] for e in logged if e["type"] == "tool_result")
    assert tool_result["ok"] is False and tool_result["error"]["kind"] == "interrupted"
    assert tool_result["error"]["message"].startswith("cancelled by the user")
    assert logged[-1]["type"] == "turn_interrupted"


def test_cancel_while_a_permission_question_is_open_runs_nothing(scripted, workspace):
    asked = threading.Event()
    release = threading.Event()

    def ask(question: str):
        asked.set()
        release.wait(WAIT_S)
        return None  # what an editor's pending request answers once cancelled

    scripted(calls(("write", {"path": "x.txt", "content": "x"})), answer("never"))
    runner = make_runner(workspace, settings=Settings(permission_default="ask"), ask=ask)
    stop = interrupt.Cancel()
    stop.on_set(release.set)
    turn = Worker(runner, "write", cancel=stop)
    assert asked.wait(WAIT_S)
    stop.set()
    outcome = turn.outcome()
    path = runner.session.path
    runner.close()
    assert outcome.reason == "cancelled"
    assert not (workspace / "x.txt").exists()
    logged = read_events(path)
    assert "permission_decision" not in [e["type"] for e in logged]
    tool_result = next(e["data"] for e in logged if e["type"] == "tool_result")
    assert tool_result["error"]["kind"] == "interrupted"


def test_a_stop_requested_before_the_turn_starts_ends_it_at_once(scripted, workspace):
    made = scripted(answer("never"))
    runner = make_runner(workspace)
    stop = interrupt.Cancel()
    stop.set()
    try:
        outcome = runner.turn("go", lambda e: None, cancel=stop)
        path = runner.session.path
    finally:
        runner.close()
    assert outcome.reason == "cancelled" and made[0].bodies == []
    assert types(path)[-2:] == ["user_message", "turn_interrupted"]
    runner.cancel()  # idle: nothing to stop, nothing raised


def test_two_sessions_in_two_workspaces_run_at_once_on_worker_threads(scripted, tmp_path):
    both = threading.Barrier(2, timeout=WAIT_S)

    def meet(text):
        def step(body, on_delta):
            both.wait()  # each Turn is inside its model call while the other is too
            return answer(text)

        return step

    runners = []
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        runner = make_runner(folder)
        runner.new()
        scripted(meet(f"answer {name}"), session=runner.session_id)
        runners.append(runner)
    turns = {n: Worker(r, f"task {n}") for r, n in zip(runners, ("a", "b"), strict=True)}
    results = {n: turn.outcome() for n, turn in turns.items()}
    paths = [r.session.path for r in runners]
    for runner in runners:
        runner.close()
    assert results["a"].output == "answer a" and results["b"].output == "answer b"
    for path, name in zip(paths, ("a", "b"), strict=True):
        assert path.parent.parent.parent.name == name
        texts = [e["data"].get("text") for e in read_events(path) if "text" in e["data"]]
        assert texts == [f"task {name}", f"answer {name}"]


# -- choices kept in the Log, images, an abort of a silent call ---------------------------------


def test_choices_are_written_to_the_log_and_a_resume_keeps_them(scripted, workspace):
    made = scripted(answer("one"))
    runner = make_runner(workspace)
    runner.new()
    sid = runner.session_id
    runner.choose(model="gpt-5.4")
    runner.choose(reasoning_effort="high", permission_mode="read_only")
    runner.turn("a", lambda e: None)
    runner.close()
    changed = [
        e["data"]
        for e in read_events(runner_path(workspace, sid))
        if e["type"] == "settings_changed"
    ]
    assert changed == [
        {"model": "gpt-5.4"},
        {"reasoning_effort": "high", "permission_mode": "read_only"},
    ]
    body = made[0].bodies[0]
    assert (body["model"], body["reasoning"]["effort"]) == ("gpt-5.4", "high")
    assert "read_only" in str(body["input"][0])

    scripted(answer("two"))
    again = make_runner(workspace)  # the settings say nothing: the session's choices apply
    again.resume(sid)
    try:
        assert (again.model, again.reasoning_effort) == ("gpt-5.4", "high")
        assert again.session.permission_mode == "read_only"
        again.choose(reasoning_effort=None)  # back to the default
        again.turn("b", lambda e: None)
    finally:
        again.close()
    assert "effort" not in (made[1].bodies[0].get("reasoning") or {})


def test_flags_win_over_a_sessions_choices(scripted, workspace):
    runner = make_runner(workspace)
    runner.new()
    sid = runner.session_id
    runner.choose(model="gpt-5.4", reasoning_effort="high")
    runner.close()
    flags = Settings(
        model="gpt-5.2",
        reasoning_effort="low",
        sources={"model": "flag", "reasoning_effort": "flag"},
    )
    again = make_runner(workspace, settings=flags, model="gpt-5.2")
    again.resume(sid)
    try:
        assert (again.model, again.reasoning_effort) == ("gpt-5.2", "low")
    finally:
        again.close()
    config = Settings(reasoning_effort="low", sources={"reasoning_effort": "config"})
    third = make_runner(workspace, settings=config)
    third.resume(sid)
    try:  # a config file is a default: the session's own choice wins over it
        assert (third.model, third.reasoning_effort) == ("gpt-5.4", "high")
    finally:
        third.close()


def test_a_choice_made_while_a_turn_runs_applies_from_the_next_turn(scripted, workspace):
    release = threading.Event()

    def slow(body, on_delta):
        release.wait(WAIT_S)
        return answer("first")

    made = scripted(slow, answer("second"))
    runner = make_runner(workspace)
    runner.new()
    turn = Worker(runner, "a")
    wait_for(lambda: made and made[0].bodies, "the first call")
    runner.choose(model="gpt-5.4", permission_mode="ask")  # the Log takes both appends
    release.set()
    try:
        assert turn.outcome().status == "completed"
        runner.turn("b", lambda e: None)
        seqs = [e["seq"] for e in read_events(runner.session.path)]
        assert seqs == list(range(len(seqs)))  # no seq given twice
    finally:
        runner.close()
    assert [b["model"] for b in made[0].bodies] == [MODEL, "gpt-5.4"]


def test_images_go_with_the_prompt_into_the_log_and_the_request(scripted, workspace):
    made = scripted(answer("a cat"))
    runner = make_runner(workspace)
    url = "data:image/png;base64,iVBORw0KGgo="
    try:
        runner.turn("what is this?", lambda e: None, images=[url])
        events = read_events(runner.session.path)
    finally:
        runner.close()
    (message,) = [e["data"] for e in events if e["type"] == "user_message"]
    assert message == {"text": "what is this?", "images": [url]}
    user = made[0].bodies[0]["input"][-1]
    assert user["content"] == [
        {"type": "input_text", "text": "what is this?"},
        {"type": "input_image", "image_url": url},
    ]


def test_a_cancel_aborts_a_model_call_that_receives_nothing(scripted, workspace):
    """A call blocked on the network gets no event to check the stop at: the Turn asks the
    Provider to abort it, and passes `stop` so the failure is final."""
    aborted = threading.Event()

    def blocked(body, on_delta):
        aborted.wait(WAIT_S)
        raise PixirError("stream_incomplete", "connection broken: shut down")

    made = scripted(blocked)  # the list fills when the runner makes its Provider
    runner = make_runner(workspace)
    runner.new()
    turn = Worker(runner, "a")
    wait_for(lambda: made and made[0].bodies, "the call")
    provider = made[0]
    provider.abort = aborted.set
    runner.cancel()
    try:
        outcome = turn.outcome()
        assert aborted.is_set()
        assert provider.stops[0] is not None and provider.stops[0]() is True
        assert outcome.status == "interrupted" and outcome.reason == "cancelled"
        assert [
            e["data"]["reason"]
            for e in read_events(runner.session.path)
            if e["type"] == "turn_interrupted"
        ] == ["cancelled"]
    finally:
        runner.close()


def runner_path(workspace, sid):
    return workspace / ".pixir" / "sessions" / f"{sid}.jsonl"


def test_a_manual_compaction_records_its_call_like_a_turn_rate_limits_included(scripted, workspace):
    import json

    from pixir.config import Compaction
    from pixir.provider.assemble import Result

    fields = {
        "goal": "g",
        "progress": ["p"],
        "decisions": [],
        "files_touched": [],
        "next_steps": [],
    }
    limits = {"primary": {"used_percent": 40.0}}
    summary = Result(
        text=json.dumps(fields),
        response_id="resp_sum",
        usage_summary={"input_tokens": 9},
        transport={"active_transport": "http_sse"},
        rate_limits=limits,
    )
    scripted(answer("a" * 400), answer("b" * 400), summary)
    settings = Settings(compaction=Compaction(keep_recent_tokens=10))
    runner = make_runner(workspace, settings=settings)
    try:
        runner.turn("one", lambda e: None)
        runner.turn("two", lambda e: None)
        found = runner.compaction_cut()
        assert found is not None
        data = runner.compact(found)
        path = runner.session.path
    finally:
        runner.close()
    assert data["strategy"] == "model"
    logged = read_events(path)
    usage = [e["data"] for e in logged if e["type"] == "provider_usage"][-1]
    assert usage["purpose"] == "compaction" and usage["step"] == 0
    assert usage["response_id"] == "resp_sum" and usage["rate_limits"] == limits
    assert usage["active_transport"] == "http_sse"
    assert logged[-1]["type"] == "history_compaction"
