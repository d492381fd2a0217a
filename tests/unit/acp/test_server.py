"""pixir/acp/server.py in-process: a real Server behind a real rpc.Connection over pipes
(tests/unit/helpers/acp.py), the model calls going to the fake backend on 127.0.0.1 — the
dispatch, the answers and error codes of each method, the sessions it holds, and its end
(docs/acp.md)."""

from __future__ import annotations

import json
import threading

import pytest

from pixir import __version__, paths
from pixir import session as sessions
from pixir.acp import auth
from pixir.acp.server import Server, rpc_error
from pixir.auth import store
from pixir.config import load_settings
from pixir.errors import PixirError
from pixir.log import read_events
from pixir.provider.models import catalog
from tests.fake_backend import step, text
from tests.unit.helpers.acp import Wire


class Agent:
    """A Server serving a Wire on a reader thread, as `pixir acp` runs it."""

    def __init__(self) -> None:
        self.wire = Wire()
        self.settings = load_settings()
        self.server = Server(self.wire.conn, self.settings)
        self.reader = threading.Thread(
            target=self.wire.conn.serve, args=(self.server.handle,), daemon=True
        )
        self.reader.start()

    def end(self) -> None:
        """EOF on the agent's input, then what `pixir acp` does: shut the server down."""
        self.wire.eof()
        self.reader.join(30)
        assert not self.reader.is_alive(), "the reader did not end at EOF"
        self.server.shutdown(wait_s=30)


@pytest.fixture
def start(ws):
    made: list[Agent] = []

    def make() -> Agent:
        made.append(Agent())
        return made[-1]

    yield make
    for agent in made:
        if agent.reader.is_alive():
            agent.end()
        agent.wire.close()


@pytest.fixture
def keyed(fake, monkeypatch):
    """The fake's API key in the environment and its URL as the API's: a credential."""
    for var, value in fake.env().items():
        monkeypatch.setenv(var, value)
    monkeypatch.setenv("OPENAI_API_KEY", fake.api_key)
    return fake


def new_session(wire: Wire, ws) -> str:
    return wire.call("session/new", {"cwd": str(ws), "mcpServers": []})["sessionId"]


def prompt(text_: str, sid: str, **meta) -> dict:
    params = {"sessionId": sid, "prompt": [{"type": "text", "text": text_}]}
    if meta:
        params["_meta"] = meta
    return params


# -- initialize and dispatch --------------------------------------------------------------------


def test_initialize_answers_version_1_capabilities_catalog_and_sign_in_state(start):
    agent = start()
    answer = agent.wire.call(
        "initialize",
        {"protocolVersion": 7, "clientCapabilities": {"auth": {"terminal": True}}},
    )
    assert answer["protocolVersion"] == 1  # whatever was asked
    assert answer["agentInfo"] == {"name": "pixir", "title": "pixir", "version": __version__}
    caps = answer["agentCapabilities"]
    assert caps["loadSession"] is True
    assert set(caps["sessionCapabilities"]) == {"list", "resume", "close"}
    assert caps["promptCapabilities"]["image"] is True
    assert [m["id"] for m in answer["authMethods"]] == [auth.TERMINAL_METHOD, auth.API_KEY_METHOD]
    assert agent.server.terminal_auth is True
    models = answer["_meta"]["pixir"]["models"]
    assert models == catalog(agent.settings)
    assert [m["default"] for m in models].count(True) == 1
    assert answer["_meta"]["pixir"]["auth"] == {"authenticated": False}


def test_an_unknown_method_is_method_not_found_and_notifications_get_no_answer(start):
    agent = start()
    agent.wire.notify("bogus/notify", {"x": 1})  # unknown: ignored
    agent.wire.notify("session/cancel", {"sessionId": "nope"})  # known, for no session
    agent.wire.notify("$/cancel_request", {"requestId": 99})  # for no request
    id_ = agent.wire.start_request("bogus/method", {})
    first = agent.wire.next()  # the first thing written is that answer: nothing before it
    assert first == {
        "jsonrpc": "2.0",
        "id": id_,
        "error": {
            "code": -32601,
            "message": "Method not found: bogus/method",
            "data": {"method": "bogus/method"},
        },
    }


@pytest.mark.parametrize(
    ("method", "params", "code"),
    [
        ("session/new", {"cwd": "relative/dir"}, -32602),
        ("session/new", {}, -32602),
        ("authenticate", {"methodId": "magic"}, -32602),
        ("session/set_mode", {"sessionId": "s-1", "modeId": "ask"}, -32002),
        ("session/prompt", {"sessionId": "s-1", "prompt": []}, -32002),
        ("session/close", {"sessionId": "s-1"}, -32002),
        # an id that is no session of the workspace: not found, before any sign-in check
        ("session/load", {"sessionId": "20260101T000000-abcdef"}, -32002),
        ("session/resume", {"sessionId": "../../etc/passwd"}, -32002),
    ],
)
def test_bad_params_and_unknown_sessions_get_their_codes(start, ws, method, params, code):
    agent = start()
    if method in ("session/load", "session/resume"):
        params = {**params, "cwd": str(ws)}
    answer = agent.wire.request(method, params)
    assert answer["error"]["code"] == code, answer
    if code == -32002:
        assert answer["error"]["data"]["sessionId"] == params["sessionId"]


def test_a_bug_in_a_method_is_an_internal_error_and_the_agent_keeps_serving(start, capfd):
    agent = start()
    agent.server.methods["_pixir/boom"] = lambda params: 1 / 0
    answer = agent.wire.request("_pixir/boom")
    assert answer["error"] == {
        "code": -32603,
        "message": "Internal error: ZeroDivisionError",
        "data": {"method": "_pixir/boom"},
    }
    assert "ZeroDivisionError" in capfd.readouterr().err  # the traceback: on stderr
    assert agent.wire.call("_pixir/status")["version"] == __version__


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("not_authenticated", -32000),
        ("corrupt_auth", -32000),
        ("not_found", -32002),
        ("unknown_model", -32602),
        ("config_invalid", -32602),
        ("invalid_arguments", -32602),
        ("session_busy", -32603),
    ],
)
def test_a_pixir_error_becomes_the_json_rpc_error_a_client_can_act_on(kind, code):
    err = PixirError(kind, "what went wrong", {"model": "gpt-9"}, hint="do this")
    answer = rpc_error(err)
    assert answer.code == code
    assert answer.data["kind"] == kind and answer.data["model"] == "gpt-9"
    assert answer.data["hint"] == "do this"
    expected = "Authentication required" if code == -32000 else "what went wrong"
    assert answer.message == expected


# -- sign-in -------------------------------------------------------------------------------------


def test_authenticate_with_the_key_then_logout_forgets_the_stored_credential(start, monkeypatch):
    store.save({"kind": "api_key", "api_key": "sk-stored-secret-0123456789"})
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-secret-0123456789")
    agent = start()
    assert agent.wire.call("authenticate", {"methodId": auth.API_KEY_METHOD}) == {}
    assert agent.server.forced_auth == "api_key"
    assert agent.wire.call("logout") == {}
    assert not paths.auth_file().exists()
    assert agent.server.forced_auth is None
    state = agent.wire.call("_pixir/status")["auth"]
    assert state == {"authenticated": True, "kind": "api_key"}  # the environment's key stays
    assert b"secret" not in bytes(agent.wire.raw)


def test_without_a_credential_a_new_session_is_authentication_required_and_nothing_is_written(
    start, ws
):
    agent = start()
    answer = agent.wire.request("session/new", {"cwd": str(ws), "mcpServers": []})
    assert answer["error"]["code"] == -32000
    assert "pixir login" in answer["error"]["data"]["hint"]
    assert list(ws.rglob("*.jsonl")) == []
    assert agent.server.sessions == {}


# -- sessions ------------------------------------------------------------------------------------


def test_new_list_and_close_a_session(start, keyed, ws):
    agent = start()
    answer = agent.wire.call("session/new", {"cwd": str(ws), "mcpServers": []})
    sid = answer["sessionId"]
    assert answer["modes"]["currentModeId"] == "auto"
    assert [o["id"] for o in answer["configOptions"]] == ["mode", "model", "reasoning_effort"]
    log = paths.sessions_dir(paths.sessions_root(ws)) / f"{sid}.jsonl"
    assert [e["type"] for e in read_events(log)] == ["session_started"]
    with pytest.raises(PixirError) as busy:  # the editor holds it
        sessions.resume(ws, sid, model=None, permission_mode="auto")
    assert busy.value.kind == "session_busy"

    listed = agent.wire.call("session/list", {"cwd": str(ws)})["sessions"]
    assert [s["sessionId"] for s in listed] == [sid]
    assert listed[0]["cwd"] == str(ws)
    # without cwd: the sessions of the workspaces open here
    assert agent.wire.call("session/list", {})["sessions"] == listed

    assert agent.wire.call("session/close", {"sessionId": sid}) == {}
    assert sid not in agent.server.sessions
    reopened, _ = sessions.resume(
        ws, sid, model=None, permission_mode="auto"
    )  # released: the command line may take it over
    reopened.close()
    gone = agent.wire.request("session/set_mode", {"sessionId": sid, "modeId": "ask"})
    assert gone["error"]["code"] == -32002
    assert agent.wire.call("session/list", {})["sessions"] == []  # none open here any more


def test_a_prompt_streams_its_answer_and_ends_the_turn(start, keyed, ws):
    keyed.script(step(text("Hello from the fake", deltas=["Hello ", "from the fake"])))
    agent = start()
    sid = new_session(agent.wire, ws)
    answer = agent.wire.call("session/prompt", prompt("say hello", sid))
    assert answer["stopReason"] == "end_turn"
    assert answer["_meta"]["pixir"]["model"] == agent.server.sessions[sid].runner.model
    chunks = [
        u["content"]["text"]
        for u in agent.wire.updates(sid)
        if u["sessionUpdate"] == "agent_message_chunk"
    ]
    assert "".join(chunks) == "Hello from the fake"
    (request,) = keyed.responses_requests()
    assert request.headers.get("authorization") == f"Bearer {keyed.api_key}"
    assert request.json["input"][-1]["content"][0]["text"] == "say hello"


@pytest.mark.parametrize(
    ("meta", "field"),
    [
        ({"model": "gpt-9"}, "model"),
        ({"reasoning_effort": "max"}, "reasoning_effort"),
        ({"web_search": "yes"}, "web_search"),
    ],
)
def test_a_prompts_meta_is_checked_before_anything_reaches_the_backend(
    start, keyed, ws, meta, field
):
    agent = start()
    sid = new_session(agent.wire, ws)
    answer = agent.wire.request("session/prompt", prompt("x", sid, **meta))
    assert answer["error"]["code"] == -32602
    assert answer["error"]["data"][field] == meta[field]
    assert keyed.responses_requests() == []
    log = agent.server.sessions[sid].runner.session.path
    assert [e["type"] for e in read_events(log)] == ["session_started"]


# -- the end -------------------------------------------------------------------------------------


def test_eof_ends_the_reader_and_stdout_held_only_json_rpc_lines(start, keyed, ws):
    agent = start()
    agent.wire.call("initialize", {"protocolVersion": 1})
    new_session(agent.wire, ws)
    agent.wire.request("nope")
    agent.wire.send_raw(b"{broken\n")
    assert agent.wire.next()["error"]["code"] == -32700
    agent.wire.send_raw(b'{"jsonrpc":"2.0","id":"last","method":"_pixir/status"}')  # no newline
    agent.end()
    assert agent.wire.conn.closed.is_set()
    lines = bytes(agent.wire.raw).split(b"\n")
    assert lines[-1] == b""  # every message ends its line
    messages = [json.loads(line) for line in lines[:-1]]
    assert all(m["jsonrpc"] == "2.0" for m in messages)
    assert messages[-1]["id"] == "last" and "result" in messages[-1]


def test_shutdown_stops_a_running_prompt_and_releases_its_session(start, keyed, ws):
    keyed.script(step(text("never"), delay_s=120))
    agent = start()
    sid = new_session(agent.wire, ws)
    id_ = agent.wire.start_request("session/prompt", prompt("wait for it", sid))
    assert keyed.wait_for_responses(1, timeout=30)  # the Turn is waiting on the backend
    agent.end()
    answer = agent.wire.answer(id_)
    assert answer["result"]["stopReason"] == "cancelled"
    reopened, events = sessions.resume(
        ws, sid, model=None, permission_mode="auto"
    )  # the lock was released
    reopened.close()
    interrupted = [e["data"] for e in events if e["type"] == "turn_interrupted"]
    assert interrupted and interrupted[0]["reason"] == "cancelled"
