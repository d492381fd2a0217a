"""`session/prompt` through a real ACP client (docs/acp.md, "Prompt"): the event mapping of a
tool loop, permission round trips in ask mode, cancel during a command and during a
stream, stop reasons, and what a prompt's content blocks become — against the fake backend,
with the Log and the workspace as the proof."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time

import pytest
from acp import (
    RequestError,
    embedded_text_resource,
    image_block,
    resource_block,
    resource_link_block,
    text_block,
)
from acp.schema import SessionNotification

from tests.acp_client import run_agent, strict
from tests.acp_driver import AcpDriver
from tests.fake_backend import (
    reasoning,
    stall,
    step,
    text,
    tool_call,
    usage_limit,
    web_search,
)
from tests.harness import user_texts

pytestmark = pytest.mark.e2e

PLAN = {
    "steps": [
        {"step": "write the module", "status": "completed"},
        {"step": "run it", "status": "in_progress"},
    ]
}


def events_of(pixir, session_id: str, kind: str) -> list[dict]:
    return [e["data"] for e in pixir.log_events(session_id) if e["type"] == kind]


async def new(agent, cwd) -> str:
    await agent.conn.initialize(protocol_version=1)
    return (await agent.conn.new_session(cwd=str(cwd), mcp_servers=[])).session_id


def in_background(agent, sid: str, words: str):
    """A prompt running while the test goes on: await the returned future for its answer."""
    return asyncio.ensure_future(agent.conn.prompt(session_id=sid, prompt=[text_block(words)]))


async def until_called(fake) -> None:
    """Until the fake has the model call, and a moment for pixir to block on its socket."""
    deadline = time.monotonic() + 30
    while not fake.responses_requests() and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.2)


# -- the mapping --------------------------------------------------------------------------------


def test_a_tool_loop_maps_to_tool_calls_with_diffs_output_plan_usage_and_the_answer(fake, pixir):
    pixir.write_file("old.py", "a = 1\nb = 2\n")
    fake.script(
        step(reasoning("Planning"), tool_call("update_plan", PLAN, call_id="call_plan")),
        step(tool_call("write", {"path": "pkg/new.py", "content": "x = 1\n"}, call_id="call_w")),
        step(
            tool_call(
                "edit",
                {"path": "old.py", "old_string": "b = 2", "new_string": "b = 3"},
                call_id="call_e",
            )
        ),
        step(tool_call("read", {"path": "old.py", "offset": 2}, call_id="call_r")),
        step(tool_call("bash", {"command": "cat pkg/new.py; exit 4"}, call_id="call_b")),
        step(text("All done.", deltas=["All ", "done."])),
    )
    pixir.login_api_key()

    async def scenario(agent):
        sid = await new(agent, pixir.workspace)
        answer = await agent.conn.prompt(session_id=sid, prompt=[text_block("make the module")])
        return sid, answer, agent.client

    sid, answer, client = run_agent(pixir, scenario)
    ws = str(pixir.workspace)
    assert answer.stop_reason == "end_turn"
    assert answer.field_meta["pixir"]["usage"]["output_tokens"] > 0
    updates = client.updates
    by_kind: dict[str, list] = {}
    for _, update in updates:
        by_kind.setdefault(update.session_update, []).append(update)

    assert [u.title for u in by_kind["session_info_update"]] == ["make the module"]
    assert "".join(u.content.text for u in by_kind["agent_thought_chunk"]) == "Planning"
    calls = {u.tool_call_id: u for u in by_kind["tool_call"]}
    assert {i: (c.kind, c.title, c.status) for i, c in calls.items()} == {
        "call_plan": ("think", "Update the plan", "in_progress"),
        "call_w": ("edit", "Write pkg/new.py", "in_progress"),
        "call_e": ("edit", "Edit old.py", "in_progress"),
        "call_r": ("read", "Read old.py", "in_progress"),
        "call_b": ("execute", "Run `cat pkg/new.py; exit 4`", "in_progress"),
    }
    assert [(loc.path, loc.line) for loc in calls["call_r"].locations] == [(f"{ws}/old.py", 2)]
    assert [loc.path for loc in calls["call_w"].locations] == [f"{ws}/pkg/new.py"]
    assert calls["call_b"].raw_input == {"command": "cat pkg/new.py; exit 4"}

    done = {u.tool_call_id: u for u in by_kind["tool_call_update"]}
    write_diff = done["call_w"].content[0]
    assert (write_diff.type, write_diff.path, write_diff.old_text, write_diff.new_text) == (
        "diff",
        f"{ws}/pkg/new.py",
        None,
        "x = 1\n",
    )
    edit_diff = done["call_e"].content[0]
    assert (edit_diff.path, edit_diff.old_text, edit_diff.new_text) == (
        f"{ws}/old.py",
        "a = 1\nb = 2\n",
        "a = 1\nb = 3\n",
    )
    assert done["call_b"].status == "failed"  # a non-zero exit
    assert "Exit code: 4" in done["call_b"].content[0].content.text
    assert "x = 1" in done["call_b"].content[0].content.text
    read_text = done["call_r"].content[0].content.text
    assert "a = 1" not in read_text  # a summary, not the file
    assert all(done[i].status == "completed" for i in ("call_plan", "call_w", "call_e", "call_r"))

    (plan,) = by_kind["plan"]
    assert [(e.content, e.status) for e in plan.entries] == [
        ("write the module", "completed"),
        ("run it", "in_progress"),
    ]
    chunks = by_kind["agent_message_chunk"]
    assert "".join(c.content.text for c in chunks) == "All done."
    assert len({c.message_id for c in chunks}) == 1 and chunks[0].message_id
    usage = by_kind["usage_update"]
    assert len(usage) == 6 and all(u.size == 272_000 and u.used > 0 for u in usage)
    # the same Turn as the command line's: the Log is the truth
    results = {d["call_id"]: d for d in events_of(pixir, sid, "tool_result")}
    assert results["call_b"]["exit_code"] == 4
    assert pixir.read_file("old.py") == "a = 1\nb = 3\n"
    assert events_of(pixir, sid, "assistant_message")[-1]["text"] == "All done."


def test_every_update_fits_the_schema_strictly(fake, pixir):
    """The raw messages, not the SDK's lenient parse: nothing is salvaged or dropped."""
    fake.script(
        step(tool_call("write", {"path": "a.txt", "content": "hi\n"})),
        step(tool_call("bash", {"command": "echo out"})),
        step(tool_call("update_plan", PLAN)),
        step(text("Done.")),
    )
    pixir.login_api_key()
    with AcpDriver.start(pixir) as agent:
        agent.initialize()
        sid = agent.call("session/new", {"cwd": str(pixir.workspace), "mcpServers": []})[
            "sessionId"
        ]
        agent.call("session/prompt", {"sessionId": sid, "prompt": [{"type": "text", "text": "go"}]})
        notes = [m for m in agent.messages if m.get("method") == "session/update"]
        assert len(notes) >= 10
        for note in notes:
            strict(SessionNotification, note["params"])
        agent.assert_stdout_pure()


def test_text_that_did_not_stream_still_reaches_the_editor(fake, pixir):
    fake.script(step(text("Whole at the end.", deltas=[])))
    pixir.login_api_key()

    async def scenario(agent):
        sid = await new(agent, pixir.workspace)
        await agent.conn.prompt(session_id=sid, prompt=[text_block("hi")])
        return agent.client.agent_text(sid)

    assert run_agent(pixir, scenario) == "Whole at the end."


# -- permissions ---------------------------------------------------------------------------------


def test_ask_mode_permission_round_trips(fake, pixir):
    """allow_once runs the call; reject is told to the model and the Turn goes on;
    allow_always covers that command's first word for simple commands only."""
    fake.script(
        step(tool_call("bash", {"command": "touch out/one.txt"}, call_id="c1")),
        step(tool_call("write", {"path": "no.txt", "content": "x"}, call_id="c2")),
        step(
            tool_call("bash", {"command": "touch out/two.txt"}, call_id="c3"),
            match={"last_tool_output": "declined"},
        ),
        step(tool_call("bash", {"command": "touch out/three.txt"}, call_id="c4")),
        step(tool_call("bash", {"command": "touch out/four.txt; echo x"}, call_id="c5")),
        step(text("Finished.")),
    )
    pixir.login_api_key()
    pixir.write_file("out/.keep", "")  # the sandbox lets commands add files below the top level
    answers = {"c1": "allow_once", "c2": "reject_once", "c3": "allow_always", "c5": "allow_once"}

    async def scenario(agent):
        agent.client.choose = lambda call, options: answers[call.tool_call_id]
        sid = await new(agent, pixir.workspace)
        await agent.conn.set_session_mode(session_id=sid, mode_id="ask")
        answer = await agent.conn.prompt(session_id=sid, prompt=[text_block("go")])
        return sid, answer, agent.client

    sid, answer, client = run_agent(pixir, scenario)
    assert answer.stop_reason == "end_turn"
    asked = [call.tool_call_id for call in client.permission_requests]
    assert asked == ["c1", "c2", "c3", "c5"]  # c4: `touch` was allowed for the session
    assert client.permission_requests[0].title == "Run `touch out/one.txt`"
    pending = {u.tool_call_id: u.status for u in client.of_kind("tool_call")}
    assert pending == {
        "c1": "pending",
        "c2": "pending",
        "c3": "pending",
        "c4": "in_progress",
        "c5": "pending",
    }
    for name in ("one.txt", "two.txt", "three.txt", "four.txt"):
        assert pixir.path(f"out/{name}").exists(), name
    assert not pixir.path("no.txt").exists()
    decisions = {d["call_id"]: d["decision"] for d in events_of(pixir, sid, "permission_decision")}
    assert decisions == {
        "c1": "approved",
        "c2": "denied",
        "c3": "approved",
        "c4": "approved",
        "c5": "approved",
    }
    refused = next(d for d in events_of(pixir, sid, "tool_result") if d["call_id"] == "c2")
    assert not refused["ok"] and "declined" in refused["output"]
    statuses = {u.tool_call_id: u.status for u in client.of_kind("tool_call_update")}
    assert statuses["c2"] == "failed" and statuses["c1"] == "completed"


# -- cancel --------------------------------------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_cancel_during_a_command_kills_its_process_group_and_answers_cancelled(fake, pixir):
    command = "echo $$ > run/shell.pid; sleep 300 & echo $! > run/child.pid; wait"
    fake.script(step(tool_call("bash", {"command": command}, call_id="c1")))
    pixir.login_api_key()
    pixir.write_file("run/.keep", "")  # the sandbox lets commands add files below the top level

    async def scenario(agent):
        sid = await new(agent, pixir.workspace)
        running = in_background(agent, sid, "wait")
        await agent.client.wait_until(
            lambda: (
                pixir.path("run/child.pid").exists()
                and pixir.path("run/child.pid").read_text().strip() != ""
            )
        )
        pids = [int(pixir.read_file(f"run/{n}")) for n in ("shell.pid", "child.pid")]
        assert all(_alive(p) for p in pids)
        await agent.conn.cancel(session_id=sid)
        answer = await running
        return sid, answer, pids

    sid, answer, pids = run_agent(pixir, scenario)
    assert answer.stop_reason == "cancelled"
    deadline = time.monotonic() + 20
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(p) for p in pids), "the command's process group outlived the cancel"
    (result,) = events_of(pixir, sid, "tool_result")
    assert result["error"]["kind"] == "interrupted" and "cancelled" in result["error"]["message"]
    assert events_of(pixir, sid, "turn_interrupted") == [{"reason": "cancelled", "step": 1}]


@pytest.mark.parametrize("where", ["mid_stream", "before_the_first_byte"])
def test_cancel_stops_a_silent_stream_at_once_and_keeps_the_partial_text(fake, pixir, where):
    if where == "mid_stream":
        fake.script(
            step(
                text("Partial answer that never ends", deltas=["Partial ", "answer"]),
                fault=stall(120, after_events=6),
            )
        )
    else:
        fake.script(step(text("never"), delay_s=120))
    pixir.login_api_key()

    async def scenario(agent):
        sid = await new(agent, pixir.workspace)
        running = in_background(agent, sid, "talk")
        if where == "mid_stream":
            await agent.client.wait_until(lambda: "answer" in agent.client.agent_text(sid))
        else:
            await until_called(fake)  # blocked on the socket, waiting for headers
        await agent.conn.cancel(session_id=sid)
        return sid, await running

    sid, answer = run_agent(pixir, scenario)
    assert answer.stop_reason == "cancelled"
    assert len(fake.responses_requests()) == 1  # not retried
    assert events_of(pixir, sid, "turn_interrupted")[0]["reason"] == "cancelled"
    messages = events_of(pixir, sid, "assistant_message")
    if where == "mid_stream":
        assert messages == [{"text": "Partial answer", "partial": True, "finish_reason": "partial"}]
    else:
        assert messages == []


def test_a_second_prompt_while_one_runs_is_refused_and_cancel_answers_the_first(fake, pixir):
    fake.script(step(text("never"), delay_s=120))
    pixir.login_api_key()

    async def scenario(agent):
        sid = await new(agent, pixir.workspace)
        running = in_background(agent, sid, "one")
        await until_called(fake)
        with pytest.raises(RequestError) as info:
            await agent.conn.prompt(session_id=sid, prompt=[text_block("two")])
        await agent.conn.cancel(session_id=sid)
        return info.value, await running

    refused, answer = run_agent(pixir, scenario)
    assert refused.code == -32602
    assert answer.stop_reason == "cancelled"


# -- stop reasons ------------------------------------------------------------------------------


def test_stop_reasons_for_the_step_cap_a_cut_answer_and_a_failed_turn(fake, pixir):
    fake.script(
        step(tool_call("read", {"path": "x"}), match={"last_user": "cap"}),
        step(text("Cut sho"), incomplete="max_output_tokens", match={"last_user": "cut"}),
        step(fault=usage_limit("plus", 600), match={"last_user": "fail"}),
    )
    pixir.login_api_key()

    async def scenario(agent):
        sid = await new(agent, pixir.workspace)
        out = {}
        for word in ("cap", "cut", "fail"):
            out[word] = await agent.conn.prompt(session_id=sid, prompt=[text_block(word)])
        titles = [u.title for u in agent.client.of_kind("session_info_update")]
        return sid, out, agent.client.agent_text(sid), titles

    sid, out, text_shown, titles = run_agent(pixir, scenario, "--max-steps", "1")
    assert titles == ["cap"]  # named by its first prompt, once
    assert out["cap"].stop_reason == "max_turn_requests"
    assert out["cut"].stop_reason == "max_tokens"
    failed = out["fail"]
    assert failed.stop_reason == "end_turn"  # never a JSON-RPC error
    assert failed.field_meta["pixir"]["error"]["kind"] == "usage_limit_reached"
    assert "error: usage_limit_reached" in text_shown
    assert events_of(pixir, sid, "turn_failed")[0]["error_kind"] == "usage_limit_reached"


# -- _meta and content -------------------------------------------------------------------------


def test_per_turn_model_is_checked_before_any_call_and_applies_to_that_turn_only(fake, pixir):
    fake.script(step(text("from 5.4"), match={"model": "gpt-5.4"}), step(text("default")))
    pixir.login_api_key()

    async def scenario(agent):
        sid = await new(agent, pixir.workspace)
        with pytest.raises(RequestError) as info:
            await agent.conn.prompt(session_id=sid, prompt=[text_block("x")], model="gpt-9")
        assert not fake.responses_requests()
        first = await agent.conn.prompt(
            session_id=sid, prompt=[text_block("a")], model="gpt-5.4", reasoning_effort="high"
        )
        # a key pixir does not know is another extension's: ignored, not refused
        second = await agent.conn.prompt(
            session_id=sid, prompt=[text_block("b")], editor_extension={"x": 1}
        )
        return info.value, first, second

    refused, first, second = run_agent(pixir, scenario)
    assert refused.code == -32602 and refused.data["model"] == "gpt-9"
    assert second.stop_reason == "end_turn"
    bodies = [r.json for r in fake.responses_requests()]
    assert [b["model"] for b in bodies] == ["gpt-5.4", "gpt-5.5"]
    assert bodies[0]["reasoning"]["effort"] == "high"
    assert "effort" not in (bodies[1].get("reasoning") or {})
    assert first.field_meta["pixir"]["model"] == "gpt-5.4"


def test_content_blocks_become_the_users_message_and_images_survive_a_resume(fake, pixir):
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 32).decode()
    ws = pixir.workspace
    fake.script(step(text("seen")), step(text("again")))
    pixir.login_api_key()
    blocks = [
        text_block("look at "),
        resource_link_block(name="a.py", uri=f"file://{ws}/src/a.py"),
        text_block("and fix it"),
        resource_block(embedded_text_resource(f"file://{ws}/src/b.py", "print('b')\n")),
        image_block(png, "image/png"),
    ]

    async def scenario(agent):
        sid = await new(agent, ws)
        await agent.conn.prompt(session_id=sid, prompt=blocks)
        await agent.conn.close_session(session_id=sid)
        return sid

    sid = run_agent(pixir, scenario)
    first = fake.responses_requests()[0].json["input"]
    user = next(i for i in first if i.get("role") == "user")
    assert user["content"][0] == {
        "type": "input_text",
        "text": "look at \n@src/a.py\nand fix it\n\n<file path=\"src/b.py\">\nprint('b')\n</file>",
    }
    assert user["content"][1] == {
        "type": "input_image",
        "image_url": f"data:image/png;base64,{png}",
    }
    (message,) = events_of(pixir, sid, "user_message")
    assert message["images"] == [f"data:image/png;base64,{png}"]
    done = pixir.run("resume", sid, "and now?", "--json")
    assert done.code == 0, done
    again = fake.responses_requests()[1].json["input"]
    assert {"type": "input_image", "image_url": f"data:image/png;base64,{png}"} in [
        part for item in again if item.get("role") == "user" for part in item["content"]
    ]
    assert user_texts(fake.responses_requests()[1])[-1] == "and now?"


@pytest.mark.parametrize(
    ("block", "why"),
    [
        ({"type": "audio", "data": "AAAA", "mimeType": "audio/wav"}, "audio"),
        ({"type": "image", "data": "AAAA", "mimeType": "image/tiff"}, "image/tiff"),
        ({"type": "image", "data": "not base64!", "mimeType": "image/png"}, "base64"),
        ({"type": "text"}, "text"),
    ],
)
def test_content_that_cannot_be_sent_is_invalid_params_before_any_call(fake, pixir, block, why):
    pixir.login_api_key()
    with AcpDriver.start(pixir) as agent:
        agent.initialize()
        sid = agent.call("session/new", {"cwd": str(pixir.workspace), "mcpServers": []})[
            "sessionId"
        ]
        answer = agent.request("session/prompt", {"sessionId": sid, "prompt": [block]})
        assert answer["error"]["code"] == -32602 and why in answer["error"]["message"]
        assert not fake.responses_requests()
        assert [e["type"] for e in pixir.log_events(sid)] == ["session_started"]


def test_a_cancel_sent_right_behind_the_prompt_still_stops_it(fake, pixir):
    """The prompt and its cancel in one write: the cancel may be read before the prompt's
    worker starts its Turn. By request id (`$/cancel_request`) and by session, the latter as
    a real client sends it (an empty-string id: a notification)."""
    fake.script(step(text("never"), delay_s=120), step(text("never"), delay_s=120))
    pixir.login_api_key()
    with AcpDriver.start(pixir) as agent:
        agent.initialize()
        sid = agent.call("session/new", {"cwd": str(pixir.workspace), "mcpServers": []})[
            "sessionId"
        ]
        prompt = {"sessionId": sid, "prompt": [{"type": "text", "text": "go"}]}
        first = {"jsonrpc": "2.0", "id": 500, "method": "session/prompt", "params": prompt}
        by_id = {"jsonrpc": "2.0", "method": "$/cancel_request", "params": {"requestId": 500}}
        agent.send_raw((json.dumps(first) + "\n" + json.dumps(by_id) + "\n").encode())
        assert agent.next_response(500, timeout=60)["result"]["stopReason"] == "cancelled"
        second = {"jsonrpc": "2.0", "id": 501, "method": "session/prompt", "params": prompt}
        by_session = {
            "jsonrpc": "2.0",
            "id": "",
            "method": "session/cancel",
            "params": {"sessionId": sid},
        }
        agent.send_raw((json.dumps(second) + "\n" + json.dumps(by_session) + "\n").encode())
        assert agent.next_response(501, timeout=60)["result"]["stopReason"] == "cancelled"
        assert not [m for m in agent.messages if m.get("id") == ""]
        agent.assert_stdout_pure()
    reasons = [
        e["data"]["reason"] for e in pixir.log_events(sid) if e["type"] == "turn_interrupted"
    ]
    assert reasons == ["cancelled", "cancelled"]


def test_eof_during_a_prompt_stops_it_writes_the_log_and_exits_0(fake, pixir):
    fake.script(step(text("never"), delay_s=120))
    pixir.login_api_key()
    with AcpDriver.start(pixir) as agent:
        agent.initialize()
        sid = agent.call("session/new", {"cwd": str(pixir.workspace), "mcpServers": []})[
            "sessionId"
        ]
        agent.send(
            {
                "jsonrpc": "2.0",
                "id": 77,
                "method": "session/prompt",
                "params": {"sessionId": sid, "prompt": [{"type": "text", "text": "x"}]},
            }
        )
        deadline = time.monotonic() + 30
        while not fake.responses_requests() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert agent.close(timeout=60) == 0  # the editor went away
        assert agent.next_response(77)["result"]["stopReason"] == "cancelled"
        agent.assert_stdout_pure()
    assert [e["type"] for e in pixir.log_events(sid)][-1] == "turn_interrupted"
    # the lock went with the process: the command line can continue the session
    fake.script(step(text("back")))
    assert pixir.run("resume", sid, "again", "--json").code == 0


def test_web_search_per_turn_and_the_search_as_a_search_tool_call(fake, pixir):
    sources = ["https://docs.python.org/3.13/whatsnew/", "https://peps.python.org/pep-0719/"]
    fake.script(
        step(web_search("python 3.13 release", sources), text("Released in October 2024.")),
        step(text("no search this time")),
    )
    pixir.login_api_key()

    async def scenario(agent):
        sid = await new(agent, pixir.workspace)
        await agent.conn.prompt(session_id=sid, prompt=[text_block("when?")], web_search=True)
        with pytest.raises(RequestError) as info:
            await agent.conn.prompt(session_id=sid, prompt=[text_block("x")], web_search="yes")
        await agent.conn.prompt(session_id=sid, prompt=[text_block("and?")])
        await agent.conn.close_session(session_id=sid)
        live = list(agent.client.updates)
        await agent.conn.load_session(cwd=str(pixir.workspace), session_id=sid, mcp_servers=[])
        return info.value, live, agent.client.updates[len(live) :]

    refused, live, replayed = run_agent(pixir, scenario)
    assert refused.code == -32602
    bodies = [r.json for r in fake.responses_requests()]
    assert [t["type"] for t in bodies[0]["tools"]][-1] == "web_search"
    assert "web_search" not in [t["type"] for t in bodies[1]["tools"]]  # that Turn only
    calls = [u for _, u in live if u.session_update == "tool_call"]
    assert [c.kind for c in calls] == ["search"]  # announced when it starts: no query yet
    done = [
        u
        for _, u in live
        if u.session_update == "tool_call_update" and u.tool_call_id == calls[0].tool_call_id
    ]
    assert done[-1].status == "completed"
    assert 'Search the web: "python 3.13 release"' in [u.title for u in done]
    assert sources[0] in done[-1].content[0].content.text
    again = [u for _, u in replayed if u.session_update == "tool_call"]
    assert [(c.kind, c.title, c.status) for c in again] == [
        ("search", 'Search the web: "python 3.13 release"', "completed")
    ]
