"""The fold (docs/log.md): every mapping rule, model-bound reasoning, pairing repairs."""

from __future__ import annotations

import json

from pixir.history import ORPHAN_OUTPUT, SUMMARY_PREFIX, History
from tests.unit.helpers.exchanges import user

MODEL = "gpt-5.5"


def events(*pairs):
    """Log-like events from (type, data) pairs, numbered from seq 0."""
    return [{"seq": n, "type": t, "data": d} for n, (t, d) in enumerate(pairs)]


def fold(*pairs, model=MODEL):
    return History.fold(events(*pairs), model).input_items()


def assistant(text="ok", **more):
    return ("assistant_message", {"text": text, "finish_reason": "stop", **more})


def call(call_id="c1", name="read", args=None, **more):
    return ("tool_call", {"call_id": call_id, "name": name, "args": args or {"path": "a"}, **more})


def result(call_id="c1", output="out", ok=True):
    return ("tool_result", {"call_id": call_id, "ok": ok, "output": output})


def reasoning(model=MODEL, rid="rs_1"):
    item = {"id": rid, "type": "reasoning", "encrypted_content": "blob", "summary": []}
    return ("reasoning", {"item": item, "model": model})


def test_user_message():
    assert fold(user("fix it")) == [
        {"role": "user", "content": [{"type": "input_text", "text": "fix it"}]}
    ]


def test_a_user_message_with_images_sends_each_as_an_input_image_after_the_text():
    urls = ["data:image/png;base64,iVBORw0KGgo=", "data:image/jpeg;base64,/9j/4AAQ"]
    assert fold(("user_message", {"text": "what is this?", "images": urls})) == [
        {
            "role": "user",
            "content": [
                {"type": "input_text", "text": "what is this?"},
                {"type": "input_image", "image_url": urls[0]},
                {"type": "input_image", "image_url": urls[1]},
            ],
        }
    ]
    # something that is not a list of URLs is not sent as images
    assert fold(("user_message", {"text": "x", "images": "data:,"}))[0]["content"] == [
        {"type": "input_text", "text": "x"}
    ]


def test_assistant_message():
    assert fold(user(), assistant("done"))[1] == {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "done"}],
    }


def test_partial_and_empty_assistant_messages_are_not_sent():
    items = fold(user(), assistant("half", partial=True), assistant(""), user("again"))
    assert [i.get("role") for i in items] == ["user", "user"]


def test_tool_call_and_result():
    items = fold(user(), call(args={"path": "a.py", "limit": 3}), result(output="text"))
    assert items[1] == {
        "type": "function_call",
        "call_id": "c1",
        "name": "read",
        "arguments": '{"path":"a.py","limit":3}',
    }
    assert items[2] == {"type": "function_call_output", "call_id": "c1", "output": "text"}


def test_tool_call_replays_the_models_exact_argument_bytes_when_recorded():
    raw = '{"path": "a.py"}'
    items = fold(user(), call(arguments=raw), result())
    assert items[1]["arguments"] == raw


def test_reasoning_is_replayed_verbatim_for_the_same_model_only():
    log = (user(), reasoning(), call(), result(), assistant())
    same = fold(*log)
    assert same[1] == log[1][1]["item"]
    assert [i.get("type") for i in same] == [
        None,
        "reasoning",
        "function_call",
        "function_call_output",
        "message",
    ]
    other = fold(*log, model="gpt-5.4")
    assert all(i.get("type") != "reasoning" for i in other)
    assert len(other) == 4


def test_never_a_trailing_reasoning_item():
    items = fold(user(), reasoning())
    assert items == fold(user())


def test_reasoning_whose_follower_never_came_is_dropped_before_a_user_message():
    # Interrupted after the reasoning item: the API refuses reasoning without its follower.
    items = fold(user(), reasoning(), assistant("par", partial=True), user("go on"))
    assert all(i.get("type") != "reasoning" for i in items)


def test_unpaired_call_is_closed_with_a_synthetic_output_at_fold_time():
    items = fold(user(), call("c1"))
    assert items[-1] == {"type": "function_call_output", "call_id": "c1", "output": ORPHAN_OUTPUT}
    assert json.loads(ORPHAN_OUTPUT)["error"]["kind"] == "orphan_tool_call"
    assert json.loads(ORPHAN_OUTPUT)["ok"] is False


def test_unpaired_call_is_closed_before_the_next_user_message():
    items = fold(user(), call("c1"), user("again"))
    assert [i.get("type") or i["role"] for i in items] == [
        "user",
        "function_call",
        "function_call_output",
        "user",
    ]


def test_outputs_without_a_call_are_dropped():
    items = fold(user(), result("nobody"), call("c1"), result("c1"), result("c1", output="dup"))
    outputs = [i for i in items if i.get("type") == "function_call_output"]
    assert outputs == [{"type": "function_call_output", "call_id": "c1", "output": "out"}]


def test_a_late_result_after_synthetic_closure_is_dropped():
    items = fold(user(), call("c1"), user("again"), result("c1", output="late"))
    assert [i["output"] for i in items if i.get("type") == "function_call_output"] == [
        ORPHAN_OUTPUT
    ]


def test_duplicate_call_ids_are_sent_once():
    items = fold(user(), call("c1"), result("c1"), call("c1"), result("c1"))
    assert sum(1 for i in items if i.get("type") == "function_call") == 1


def test_other_events_are_not_sent():
    items = fold(
        ("session_started", {"model": MODEL}),
        user(),
        ("provider_usage", {"step": 1}),
        ("permission_decision", {"call_id": "c1", "decision": "denied", "mode": "ask"}),
        ("turn_failed", {"error_kind": "network"}),
        ("turn_interrupted", {"reason": "sigint"}),
        ("log_repaired", {"line": 3}),
        ("text_delta", {"chunk": "x"}),
        ("something_new", {}),
    )
    assert len(items) == 1


def test_compaction_replaces_its_range_with_one_summary_message():
    items = fold(
        user("first"),  # 0
        call("c1"),  # 1
        result("c1"),  # 2
        assistant("a1"),  # 3
        user("second"),  # 4
        assistant("a2"),  # 5
        ("history_compaction", {"range": {"from_seq": 0, "to_seq": 3}, "summary": "S"}),
    )
    assert items[0] == {
        "role": "user",
        "content": [{"type": "input_text", "text": SUMMARY_PREFIX + "S"}],
    }
    assert [i.get("role") for i in items[1:]] == ["user", "assistant"]


def test_compaction_never_leaves_an_output_without_its_call():
    items = fold(
        user("first"),  # 0
        call("c1"),  # 1
        result("c1"),  # 2
        ("history_compaction", {"range": {"from_seq": 0, "to_seq": 1}, "summary": "S"}),
    )
    assert all(i.get("type") != "function_call_output" for i in items)


def test_open_calls_lists_unanswered_calls_in_order():
    history = History.fold(events(user(), call("a"), call("b", name="bash"), result("a")), MODEL)
    assert history.open_calls() == [("b", "bash")]


def test_input_items_does_not_mutate_the_history():
    history = History.fold(events(user(), call("c1")), MODEL)
    first = history.input_items()
    first.append({"junk": True})
    assert history.input_items() == first[:-1]


def test_incremental_add_equals_a_fresh_fold():
    log = events(
        user(),
        reasoning(),
        call("a"),
        result("a"),
        reasoning(model="old"),
        call("b"),
        user("again"),
        reasoning(rid="rs_2"),
        assistant("final"),
    )
    live = History(MODEL)
    for n, event in enumerate(log):
        live.add(event)
        assert live.input_items() == History.fold(log[: n + 1], MODEL).input_items()


def test_fold_accepts_a_generator():
    assert History.fold(iter(events(user())), MODEL).input_items() == fold(user())


def test_call_arguments_are_the_compact_json_of_args():
    # The fold's fast encoder must give exactly json.dumps' compact, non-ASCII output.
    args = {"path": "é/ü.py", "n": [1, 2.5, None, True, False], "nested": {"q": '"\n\t\\'}}
    event = {"seq": 1, "type": "tool_call", "data": {"call_id": "c", "name": "x", "args": args}}
    history = History.fold([event], "m")
    expected = json.dumps(args, ensure_ascii=False, separators=(",", ":"))
    assert history.items[0]["arguments"] == expected


# -- web search items --------------------------------------------------------------------------


def search(item_id="ws_1", action=None, status="completed"):
    item = {"id": item_id, "type": "web_search_call", "status": status}
    item["action"] = {"type": "search", "query": "q"} if action is None else action
    return ("web_search_call", {"item": item})


def test_a_web_search_is_replayed_in_order_with_the_backends_id_status_and_action():
    action = {"type": "search", "query": "q", "sources": [{"type": "url", "url": "https://a"}]}
    log = (user(), reasoning(), search(action=action), assistant("found"))
    items = fold(*log)
    assert [i.get("type") for i in items] == [None, "reasoning", "web_search_call", "message"]
    assert items[2] == log[2][1]["item"]
    assert items[2]["action"] is action  # as received, not rebuilt


def test_a_foreign_id_is_left_out_never_invented():
    page = {"type": "open_page", "url": "https://a"}
    items = fold(user(), search("ws-aimock", page), search(None, page, "failed"), assistant())
    assert items[1:3] == [
        {"type": "web_search_call", "status": "completed", "action": page},
        {"type": "web_search_call", "status": "failed", "action": page},
    ]


def test_an_unknown_action_drops_the_item_and_never_orphans_reasoning():
    odd = {"type": "image_lookup", "query": "cats"}
    # reasoning, then only the dropped search: the reasoning goes with the next item
    items = fold(user(), reasoning(), search(action=odd), assistant("answer"))
    assert [i.get("type") for i in items] == [None, "reasoning", "message"]
    # ... or, when nothing followed in its response, not at all
    items = fold(user(), reasoning(), search(action=odd), user("next"))
    assert [i.get("type") for i in items] == [None, None]
    assert fold(user(), reasoning(), search(action=odd)) == fold(user())
    assert fold(user(), search(action={"type": "find_in_page"}))[1]["action"] == {
        "type": "find_in_page"
    }
    assert len(fold(user(), search(action="search"))) == 1


def test_a_user_messages_images_follow_its_text_as_data_urls():
    png = "data:image/png;base64,iVBORw0KGgo="
    junk = ["https://example.com/a.png", "not a url", {"url": png}, 42]  # an edited Log
    [item] = fold(("user_message", {"text": "what is this?", "images": [png, *junk]}))
    assert item == {
        "role": "user",
        "content": [
            {"type": "input_text", "text": "what is this?"},
            {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo="},
        ],
    }
    [plain] = fold(("user_message", {"text": "hi", "images": "garbage"}))
    assert plain["content"] == [{"type": "input_text", "text": "hi"}]
