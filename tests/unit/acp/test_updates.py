"""pixir/acp/updates.py: a Turn's Events → session/update payloads, and the replay of a Log
(docs/acp.md, "Mapping")."""

from __future__ import annotations

import os

import pytest

from pixir.acp import updates as mapping


def ev(kind: str, **data) -> dict:
    return {"type": kind, "data": data}


@pytest.fixture
def sent():
    return []


@pytest.fixture
def live(tmp_path, sent):
    return mapping.Updates(tmp_path, sent.append, model_window=lambda model: 1000)


def chunks(sent, kind="agent_message_chunk"):
    return [(u["content"]["text"], u.get("messageId")) for u in sent if u["sessionUpdate"] == kind]


def test_each_model_call_and_each_retry_gets_its_own_message_id(live, sent):
    live(ev("status", status="requesting", step=1))
    live(ev("text_delta", chunk="Hel"))
    live(ev("text_delta", chunk="lo"))
    live(ev("retry", attempt=1, error_kind="server_error"))
    live(ev("text_delta", chunk="Hello"))
    live(ev("assistant_message", text="Hello", finish_reason="stop"))
    live(ev("status", status="requesting", step=2))
    live(ev("text_delta", chunk="Next"))
    got = chunks(sent)
    assert [text for text, _ in got] == ["Hel", "lo", "Hello", "Next"]
    ids = [i for _, i in got]
    assert ids[0] == ids[1] and len({ids[0], ids[2], ids[3]}) == 3
    assert chunks(sent, "agent_thought_chunk") == [("\n[retrying after server_error]\n", None)]


def test_text_that_did_not_stream_is_sent_whole_and_streamed_text_is_not_sent_twice(live, sent):
    live(ev("assistant_message", text="All at once.", finish_reason="stop"))
    live(ev("text_delta", chunk="Stre"))
    live(ev("assistant_message", text="Streamed.", finish_reason="stop"))  # rest only
    live(ev("text_delta", chunk="cut"))
    live(ev("assistant_message", text="cut", partial=True, finish_reason="partial"))
    assert [t for t, _ in chunks(sent)] == ["All at once.", "Stre", "amed.", "cut"]


def test_the_first_prompt_titles_the_session_once(live, sent):
    live(ev("user_message", text="fix   the\nbug " + "x" * 100))
    live(ev("user_message", text="again"))
    titles = [u["title"] for u in sent if u["sessionUpdate"] == "session_info_update"]
    assert len(titles) == 1 and titles[0].startswith("fix the bug x") and len(titles[0]) == 80


def test_a_write_and_an_edit_show_the_whole_file_before_and_after(tmp_path, live, sent):
    target = tmp_path / "a.py"
    live(ev("tool_call", call_id="w", name="write", args={"path": "a.py", "content": "1\n"}))
    target.write_text("1\n")
    live(ev("tool_result", call_id="w", ok=True, output="Wrote 2 bytes (new file).", summary=""))
    live(
        ev(
            "tool_call",
            call_id="e",
            name="edit",
            args={"path": "a.py", "old_string": "1", "new_string": "2"},
        )
    )
    target.write_text("2\n")
    live(ev("tool_result", call_id="e", ok=True, output="--- diff", summary="+1 −1"))
    diffs = [u["content"][0] for u in sent if u["sessionUpdate"] == "tool_call_update"]
    assert diffs == [
        {"type": "diff", "path": str(target), "oldText": None, "newText": "1\n"},
        {"type": "diff", "path": str(target), "oldText": "1\n", "newText": "2\n"},
    ]


def test_no_diff_of_what_is_outside_the_workspace_too_large_or_not_text(
    tmp_path, live, sent, monkeypatch
):
    outside = tmp_path.parent / f"{tmp_path.name}-secret.txt"
    outside.write_text("secret\n")
    os.symlink(outside, tmp_path / "link.txt")
    (tmp_path / "bin.dat").write_bytes(b"\0\1\2")
    monkeypatch.setattr(mapping, "MAX_DIFF_BYTES", 10)
    (tmp_path / "big.txt").write_text("y" * 11)
    for call_id, path in (("l", "link.txt"), ("b", "bin.dat"), ("g", "big.txt")):
        live(ev("tool_call", call_id=call_id, name="write", args={"path": path, "content": "z"}))
        live(ev("tool_result", call_id=call_id, ok=True, output=f"Wrote to {path}", summary=""))
    done = [u for u in sent if u["sessionUpdate"] == "tool_call_update"]
    assert all(u["content"][0]["type"] == "content" for u in done)
    assert "secret" not in str(sent)


def test_tool_calls_kinds_titles_locations_and_statuses(tmp_path, sent):
    asking = mapping.Updates(
        tmp_path,
        sent.append,
        model_window=lambda m: 1,
        pending_approval=lambda name, args: name == "bash",
    )
    asking(ev("tool_call", call_id="r", name="read", args={"path": "src/a.py", "offset": 7}))
    asking(ev("tool_call", call_id="b", name="bash", args={"command": "pytest  -q\n-x"}))
    asking(ev("tool_call", call_id="u", name="mystery", args={}))
    announced = [u for u in sent if u["sessionUpdate"] == "tool_call"]
    assert [(u["kind"], u["title"], u["status"]) for u in announced] == [
        ("read", "Read src/a.py", "in_progress"),
        ("execute", "Run `pytest -q -x`", "pending"),
        ("other", "mystery", "in_progress"),
    ]
    assert announced[0]["locations"] == [{"path": f"{tmp_path}/src/a.py", "line": 7}]
    assert "locations" not in announced[1]
    assert asking.current_call() == ("u", "mystery", {})


def test_command_results_fail_on_a_non_zero_exit_and_keep_output_of_a_killed_command(live, sent):
    live(ev("tool_call", call_id="ok", name="bash", args={"command": "true"}))
    live(ev("tool_result", call_id="ok", ok=True, exit_code=0, output="Exit code: 0\n"))
    live(ev("tool_call", call_id="no", name="bash", args={"command": "false"}))
    live(ev("tool_result", call_id="no", ok=True, exit_code=1, output="Exit code: 1\n"))
    killed = '{"ok":false,"error":{"kind":"interrupted","message":"cancelled"},"output":"tick\\n"}'
    live(ev("tool_call", call_id="k", name="bash", args={"command": "sleep 9"}))
    live(
        ev(
            "tool_result",
            call_id="k",
            ok=False,
            output=killed,
            error={"kind": "interrupted", "message": "cancelled"},
        )
    )
    done = {u["toolCallId"]: u for u in sent if u["sessionUpdate"] == "tool_call_update"}
    assert [done[i]["status"] for i in ("ok", "no", "k")] == ["completed", "failed", "failed"]
    assert done["k"]["content"][0]["content"]["text"] == "cancelled\ntick\n"
    assert done["no"]["rawOutput"] == {"ok": True, "exit_code": 1}


def test_a_plan_is_sent_whole_and_usage_against_the_window(live, sent):
    steps = [{"step": "a", "status": "completed"}, {"step": "b", "status": "pending"}]
    live(ev("tool_call", call_id="p", name="update_plan", args={"steps": steps}))
    live(ev("tool_call", call_id="q", name="update_plan", args={"steps": [{"step": "x"}]}))
    live(ev("provider_usage", model="m", usage_summary={"input_tokens": 90, "output_tokens": 9}))
    live(ev("provider_usage", model="m", usage_summary={}))
    plans = [u["entries"] for u in sent if u["sessionUpdate"] == "plan"]
    assert plans == [
        [
            {"content": "a", "priority": "medium", "status": "completed"},
            {"content": "b", "priority": "medium", "status": "pending"},
        ]
    ]
    usage = [u for u in sent if u["sessionUpdate"] == "usage_update"]
    assert usage == [{"sessionUpdate": "usage_update", "used": 99, "size": 1000}]


def test_replay_skips_reasoning_and_failed_turns(tmp_path, sent):
    log = [
        ev("session_started", model="m"),
        ev("user_message", text="first", images=["data:image/png;base64,AAAA"]),
        ev("reasoning", item={"summary": [{"text": "hidden"}]}),
        ev(
            "tool_call",
            call_id="c",
            name="edit",
            args={"path": "a.py", "old_string": "x", "new_string": "y"},
        ),
        ev("tool_result", call_id="c", ok=True, output="diff"),
        ev("assistant_message", text="answer one", finish_reason="stop"),
        ev("user_message", text="doomed"),
        ev("assistant_message", text="half", partial=True, finish_reason="partial"),
        ev("turn_failed", error_kind="usage_limit_reached", error_message="limit"),
        ev("user_message", text="third"),
        ev("assistant_message", text="answer three", finish_reason="stop"),
    ]
    mapping.replay(log, tmp_path, sent.append)
    shown = [
        (
            u["sessionUpdate"],
            u.get("content", {}).get("text") if isinstance(u.get("content"), dict) else None,
        )
        for u in sent
    ]
    assert shown == [
        ("user_message_chunk", "first"),
        ("user_message_chunk", None),  # the image
        ("tool_call", None),
        ("tool_call_update", None),
        ("agent_message_chunk", "answer one"),
        ("user_message_chunk", "third"),
        ("agent_message_chunk", "answer three"),
    ]
    assert sent[1]["content"] == {"type": "image", "mimeType": "image/png", "data": "AAAA"}
    assert sent[3]["content"] == [
        {"type": "diff", "path": f"{tmp_path}/a.py", "oldText": "x", "newText": "y"}
    ]
    assert "hidden" not in str(sent) and "doomed" not in str(sent)


def test_a_title_is_the_users_words_not_the_files_embedded_after_them(tmp_path):
    from pixir.acp.content import from_blocks

    def title(*blocks):
        return mapping.title_of(from_blocks(list(blocks), tmp_path).text)

    words = {"type": "text", "text": "Look at this"}
    embedded = {"type": "resource", "resource": {"uri": "file:///w/a.py", "text": "print(1)\n"}}
    assert title(words, embedded) == "Look at this"
    assert title(embedded) == "@/w/a.py"
    # the words themselves may speak of the markup: only an embedded block is cut
    said = {"type": "text", "text": 'what does <file path="x"> mean?'}
    assert title(said) == 'what does <file path="x"> mean?'
