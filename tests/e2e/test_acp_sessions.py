"""Editor sessions are pixir sessions (docs/acp.md, "Sessions"): new, load with replay,
resume, list and close through a real ACP client; modes and config options kept in the
Log so the command line keeps them; a session made in the editor continues with `pixir
resume` and one made on the command line loads in the editor; -32000 without a credential,
-32002 for an unknown session."""

from __future__ import annotations

import json
import time

import pytest
from acp import text_block

from tests.acp_client import run_agent
from tests.acp_driver import AcpDriver
from tests.fake_backend import step, text, tool_call, usage_limit
from tests.harness import user_texts

pytestmark = pytest.mark.e2e


async def start(agent):
    await agent.conn.initialize(protocol_version=1)


def options(state) -> dict:
    return {o.root.id if hasattr(o, "root") else o.id: o for o in state.config_options}


def current(state) -> dict:
    out = {}
    for option in state.config_options:
        option = getattr(option, "root", option)
        out[option.id] = option.current_value
    return out


def test_new_session_offers_modes_and_config_options_in_step(fake, pixir):
    pixir.login_api_key()

    async def scenario(agent):
        await start(agent)
        return await agent.conn.new_session(cwd=str(pixir.workspace), mcp_servers=[])

    state = run_agent(pixir, scenario, "--ask")
    assert state.session_id == pixir.sessions()[0].stem  # the pixir session id
    assert state.modes.current_mode_id == "ask"
    assert [(m.id, m.name) for m in state.modes.available_modes] == [
        ("auto", "Agent"),
        ("ask", "Ask first"),
        ("read_only", "Read only"),
    ]
    assert current(state) == {"mode": "ask", "model": "gpt-5.5", "reasoning_effort": "default"}
    categories = {}
    for option in state.config_options:
        option = getattr(option, "root", option)
        categories[option.id] = option.category
    assert categories == {"mode": "mode", "model": "model", "reasoning_effort": "thought_level"}


def test_choices_are_kept_in_the_log_and_the_command_line_resume_keeps_them(fake, pixir):
    fake.script(step(text("first answer")), step(text("second answer")))
    pixir.login_api_key()

    async def scenario(agent):
        await start(agent)
        sid = (await agent.conn.new_session(cwd=str(pixir.workspace), mcp_servers=[])).session_id
        answer = await agent.conn.set_config_option(
            session_id=sid, config_id="model", value="gpt-5.4"
        )
        await agent.conn.set_config_option(
            session_id=sid, config_id="reasoning_effort", value="high"
        )
        await agent.conn.set_session_mode(session_id=sid, mode_id="read_only")
        await agent.conn.prompt(session_id=sid, prompt=[text_block("first question")])
        return sid, answer, agent.client

    sid, answer, client = run_agent(pixir, scenario)
    assert current(answer)["model"] == "gpt-5.4"  # the complete configOptions
    changed = [e["data"] for e in pixir.log_events(sid) if e["type"] == "settings_changed"]
    assert changed == [
        {"model": "gpt-5.4"},
        {"reasoning_effort": "high"},
        {"permission_mode": "read_only"},
    ]
    assert client.of_kind("config_option_update")  # set_mode told the option
    first = fake.responses_requests()[0].json
    assert (first["model"], first["reasoning"]["effort"]) == ("gpt-5.4", "high")
    # the editor is gone; the command line continues the same session, with its choices
    done = pixir.run("resume", sid, "second question", "--json")
    assert done.code == 0, done
    assert pixir.json_out(done)["output"] == "second answer"
    second = fake.responses_requests()[1]
    assert (second.json["model"], second.json["reasoning"]["effort"]) == ("gpt-5.4", "high")
    assert user_texts(second) == ["first question", "second question"]
    assert "read_only" in str(second.json["input"][0])  # the mode the editor chose


def test_a_flag_on_the_command_line_wins_over_the_editors_choice(fake, pixir):
    fake.script(step(text("one")), step(text("two")))
    pixir.login_api_key()

    async def scenario(agent):
        await start(agent)
        sid = (await agent.conn.new_session(cwd=str(pixir.workspace), mcp_servers=[])).session_id
        await agent.conn.set_config_option(session_id=sid, config_id="model", value="gpt-5.4")
        await agent.conn.prompt(session_id=sid, prompt=[text_block("a")])
        return sid

    sid = run_agent(pixir, scenario)
    done = pixir.run("resume", sid, "b", "-m", "gpt-5.2", "--reasoning-effort", "low", "--json")
    assert done.code == 0, done
    body = fake.responses_requests()[1].json
    assert (body["model"], body["reasoning"]["effort"]) == ("gpt-5.2", "low")


def test_a_command_line_session_loads_in_the_editor_with_its_conversation_replayed(fake, pixir):
    fake.script(
        step(tool_call("write", {"path": "notes.md", "content": "# Notes\n"}, call_id="cw")),
        step(text("Wrote the notes.")),
        step(fault=usage_limit("plus", 600)),
        step(text("Continued in the editor.")),
    )
    pixir.login_api_key()
    made = pixir.run("write the notes", "--json")
    assert made.code == 0, made
    sid = pixir.json_out(made)["session_id"]
    failed = pixir.run("resume", sid, "this one fails", "--json")
    assert failed.code == 7, failed

    async def scenario(agent):
        await start(agent)
        state = await agent.conn.load_session(
            cwd=str(pixir.workspace), session_id=sid, mcp_servers=[]
        )
        replayed = list(agent.client.updates)
        answer = await agent.conn.prompt(session_id=sid, prompt=[text_block("and more")])
        assert not agent.client.of_kind("session_info_update")  # it has its title already
        return state, replayed, answer, agent.client.agent_text(sid)

    state, replayed, answer, shown = run_agent(pixir, scenario)
    kinds = [u.session_update for _, u in replayed]
    assert kinds == ["user_message_chunk", "tool_call", "tool_call_update", "agent_message_chunk"]
    updates = [u for _, u in replayed]
    assert updates[0].content.text == "write the notes"
    assert (updates[1].tool_call_id, updates[1].title) == ("cw", "Write notes.md")
    diff = updates[2].content[0]
    assert (diff.old_text, diff.new_text) == (None, "# Notes\n")
    assert updates[3].content.text == "Wrote the notes."
    assert "this one fails" not in str(replayed)  # a failed Turn is not replayed
    assert state.modes.current_mode_id == "auto"
    assert answer.stop_reason == "end_turn"
    assert shown.endswith("Continued in the editor.")
    assert user_texts(fake.responses_requests()[-1]) == [
        "write the notes",
        "this one fails",
        "and more",
    ]


def test_resume_opens_without_replay_and_close_lets_the_command_line_take_over(fake, pixir):
    fake.script(step(text("one")), step(text("two")), step(text("three")))
    pixir.login_api_key()
    made = pixir.run("hello", "--json")
    sid = pixir.json_out(made)["session_id"]

    with AcpDriver.start(pixir) as agent:
        agent.initialize()
        params = {"sessionId": sid, "cwd": str(pixir.workspace), "mcpServers": []}
        state = agent.call("session/resume", params)
        assert state["modes"]["currentModeId"] == "auto"
        assert agent.updates(sid) == []  # no replay
        # held by the editor: the command line is told who holds it
        busy = pixir.run("resume", sid, "now?", "--json")
        assert busy.code == 5, busy
        agent.call(
            "session/prompt", {"sessionId": sid, "prompt": [{"type": "text", "text": "two?"}]}
        )
        assert agent.call("session/close", {"sessionId": sid}) == {}
        free = pixir.run("resume", sid, "three?", "--json")
        assert free.code == 0, free
        gone = agent.request(
            "session/prompt", {"sessionId": sid, "prompt": [{"type": "text", "text": "x"}]}
        )
        assert gone["error"]["code"] == -32002 and gone["error"]["data"]["sessionId"] == sid
        assert agent.close() == 0


def test_list_names_this_workspaces_sessions_with_titles(fake, pixir):
    fake.script(step(text("a")), step(text("b")))
    pixir.login_api_key()
    for words in ("first task is this one", "second task"):
        assert pixir.run(words, "--json").code == 0
    with AcpDriver.start(pixir) as agent:
        agent.initialize()
        listed = agent.call("session/list", {"cwd": str(pixir.workspace)})["sessions"]
        assert agent.call("session/list", {})["sessions"] == []  # nothing open here yet
    assert [s["title"] for s in listed] == ["second task", "first task is this one"]
    assert {s["sessionId"] for s in listed} == {p.stem for p in pixir.sessions()}
    assert all(s["cwd"] == str(pixir.workspace) and s["updatedAt"] for s in listed)


def test_without_a_credential_session_methods_answer_authentication_required(fake, pixir):
    other = pixir.root / "elsewhere"
    other.mkdir()
    with AcpDriver.start(pixir) as agent:
        agent.initialize()
        new = agent.request("session/new", {"cwd": str(pixir.workspace), "mcpServers": []})
        assert new["error"]["code"] == -32000
        assert new["error"]["message"] == "Authentication required"
        assert "pixir login" in new["error"]["data"]["hint"]
        pixir.login_api_key()
        sid = agent.call("session/new", {"cwd": str(pixir.workspace), "mcpServers": []})[
            "sessionId"
        ]
        (pixir.home / "auth.json").unlink()  # signed out meanwhile
        prompt = agent.request(
            "session/prompt", {"sessionId": sid, "prompt": [{"type": "text", "text": "hi"}]}
        )
        assert prompt["error"]["code"] == -32000
        load = agent.request(
            "session/load", {"sessionId": sid, "cwd": str(pixir.workspace), "mcpServers": []}
        )
        assert load["error"]["code"] == -32000
    assert not fake.responses_requests()


@pytest.mark.parametrize(
    ("method", "params", "code"),
    [
        ("session/load", {"sessionId": "20260101T000000-abcdef"}, -32002),
        ("session/resume", {"sessionId": "../../etc/passwd"}, -32002),
        ("session/set_mode", {"sessionId": "nope", "modeId": "auto"}, -32002),
        ("session/new", {"cwd": "relative/dir", "mcpServers": []}, -32602),
        ("session/new", {"cwd": "/no/such/dir", "mcpServers": []}, -32602),
    ],
)
def test_unknown_sessions_and_bad_workspaces(fake, pixir, method, params, code):
    pixir.login_api_key()
    with AcpDriver.start(pixir) as agent:
        agent.initialize()
        params = {"cwd": str(pixir.workspace), "mcpServers": [], **params}
        answer = agent.request(method, params)
        assert answer["error"]["code"] == code, answer
        if code == -32002:
            assert answer["error"]["data"]["sessionId"] == params["sessionId"]


def test_bad_choices_are_invalid_params_and_the_legacy_set_model_works(fake, pixir):
    fake.script(step(text("ok"), match={"model": "gpt-5.2"}))
    pixir.login_api_key()
    with AcpDriver.start(pixir) as agent:
        agent.initialize()
        sid = agent.call("session/new", {"cwd": str(pixir.workspace), "mcpServers": []})[
            "sessionId"
        ]
        for method, params in [
            ("session/set_mode", {"modeId": "yolo"}),
            ("session/set_config_option", {"configId": "model", "value": "gpt-9"}),
            ("session/set_config_option", {"configId": "reasoning_effort", "value": "max"}),
            ("session/set_config_option", {"configId": "colour", "value": "red"}),
            ("session/set_model", {"modelId": "gpt-9"}),
        ]:
            answer = agent.request(method, {"sessionId": sid, **params})
            assert answer["error"]["code"] == -32602, (method, answer)
        assert agent.call("session/set_model", {"sessionId": sid, "modelId": "gpt-5.2"}) == {}
        agent.call("session/prompt", {"sessionId": sid, "prompt": [{"type": "text", "text": "hi"}]})
        assert fake.responses_requests()[0].json["model"] == "gpt-5.2"
        legacy = agent.call("session/resume", {"sessionId": sid, "cwd": str(pixir.workspace)})
        assert legacy["models"]["currentModelId"] == "gpt-5.2"
        told = agent.updates(sid)[0]
        assert told["sessionUpdate"] == "config_option_update"
        model = next(o for o in told["configOptions"] if o["id"] == "model")
        assert model["currentValue"] == "gpt-5.2"


def test_sessions_live_at_the_repository_root_as_on_the_command_line(fake, pixir):
    """An editor opened on a subdirectory of a repository keeps its sessions where `pixir -c`
    in any directory of that repository finds them, and the session works where it began."""
    fake.script(step(text("from the editor")), step(text("from the terminal")))
    pixir.login_api_key()
    (pixir.workspace / ".git").mkdir()
    sub = pixir.workspace / "pkg" / "sub"
    sub.mkdir(parents=True)

    async def scenario(agent):
        await start(agent)
        sid = (await agent.conn.new_session(cwd=str(sub), mcp_servers=[])).session_id
        await agent.conn.prompt(session_id=sid, prompt=[text_block("hello")])
        await agent.conn.close_session(session_id=sid)
        await agent.conn.load_session(cwd=str(pixir.workspace), session_id=sid, mcp_servers=[])
        listed = await agent.conn.list_sessions(cwd=str(sub))
        return sid, listed

    sid, listed = run_agent(pixir, scenario)
    assert [p.stem for p in pixir.sessions()] == [sid]  # <repo>/.pixir/sessions
    assert not (sub / ".pixir").exists()
    assert [(s.session_id, s.cwd) for s in listed.sessions] == [(sid, str(sub))]
    done = pixir.run("-c", "and now?", "--json", cwd=sub.parent)
    assert done.code == 0, done
    assert user_texts(fake.responses_requests()[-1]) == ["hello", "and now?"]
    assert str(sub) in str(fake.responses_requests()[-1].json["input"][0])  # works in sub


def test_a_session_another_pixir_holds_cannot_be_loaded_and_says_who_holds_it(fake, pixir):
    fake.script(step(text("one")), step(text("slow"), delay_s=60))
    pixir.login_api_key()
    sid = pixir.json_out(pixir.run("first", "--json"))["session_id"]
    holder = pixir.popen("resume", sid, "second", "--json")
    try:
        deadline = time.monotonic() + 30
        while len(fake.responses_requests()) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        with AcpDriver.start(pixir) as agent:
            agent.initialize()
            answer = agent.request(
                "session/load", {"sessionId": sid, "cwd": str(pixir.workspace), "mcpServers": []}
            )
            assert answer["error"]["code"] == -32603
            assert answer["error"]["data"]["kind"] == "session_busy"
            assert str(holder.pid) in json.dumps(answer["error"])
            assert agent.updates(sid) == []  # nothing replayed
            still = agent.call("initialize", {"protocolVersion": 1})  # and it keeps serving
            assert still["protocolVersion"] == 1
    finally:
        holder.kill()
        holder.wait()


def test_mcp_servers_are_accepted_and_said_to_be_unused_on_stderr(fake, pixir):
    pixir.login_api_key()
    servers = [{"name": "files", "command": "/bin/true", "args": [], "env": []}]
    with AcpDriver.start(pixir) as agent:
        agent.initialize()
        state = agent.call("session/new", {"cwd": str(pixir.workspace), "mcpServers": servers})
        assert state["sessionId"]
        agent.close()
        assert "does not connect MCP servers yet" in agent.stderr_text()
        agent.assert_stdout_pure()
