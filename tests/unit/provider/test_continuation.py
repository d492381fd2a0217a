"""The continuation choice (docs/provider.md): which calls may send only their new items with
`previous_response_id`, compared against output items as the server sent them and input
items as pixir's History replays them."""

from __future__ import annotations

import json

from pixir.provider import continuation
from pixir.provider.continuation import Memory, choose, new_items, same_item
from tests.unit.helpers.ws import user

# -- items as the server sends them (output_item.done) ----------------------------------------


def server_reasoning(n: int) -> dict:
    return {
        "type": "reasoning",
        "id": f"rs_{n}",
        "summary": [{"type": "summary_text", "text": f"thinking {n}"}],
        "encrypted_content": f"blob-{n}",
    }


def server_call(n: int, arguments: str = '{"path":"a.py"}') -> dict:
    return {
        "type": "function_call",
        "id": f"fc_{n}",
        "call_id": f"call_{n}",
        "name": "read",
        "arguments": arguments,
        "status": "completed",
    }


def server_message(text: str) -> dict:
    return {
        "type": "message",
        "id": "msg_1",
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
    }


# -- items as pixir's History replays them (docs/log.md) ---------------------------------------


def replay_call(n: int, arguments: str = '{"path":"a.py"}') -> dict:
    return {"type": "function_call", "call_id": f"call_{n}", "name": "read", "arguments": arguments}


def result(n: int, output: str = "text") -> dict:
    return {"type": "function_call_output", "call_id": f"call_{n}", "output": output}


def replay_message(text: str) -> dict:
    return {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": text}],
    }


DEV = {"role": "developer", "content": [{"type": "input_text", "text": "workspace: /w"}]}


def body(items: list, model: str = "gpt-5.5") -> dict:
    return {
        "model": model,
        "instructions": "be brief",
        "input": items,
        "tools": [{"type": "function", "name": "read"}],
        "store": False,
        "stream": True,
    }


def memory(items: list, output: list, model: str = "gpt-5.5") -> Memory:
    return Memory("resp_1", model, list(items), output)


# -- choices ------------------------------------------------------------------------------------


def test_a_connections_first_call_sends_the_full_body_without_a_reset_reason():
    first = body([DEV, user("go")])
    p = choose(None, first)
    assert p.body is first and not p.continued and p.reset_reason is None
    again = choose(None, first, continuation.RECONNECTED)
    assert again.body is first and again.reset_reason == "reconnected"


def test_a_tool_step_sends_only_the_tool_result_with_previous_response_id():
    sent = [DEV, user("go")]
    held = memory(sent, [server_reasoning(1), server_call(1)])
    # the History replays the reasoning verbatim and the call without id/status
    nxt = body([*sent, server_reasoning(1), replay_call(1), result(1)])
    p = choose(held, nxt)
    assert p.continued and p.reset_reason is None
    assert p.body["input"] == [result(1)]
    assert p.body["previous_response_id"] == "resp_1"
    # everything else is resent: the API does not carry instructions or tools over
    assert {k: v for k, v in p.body.items() if k not in ("input", "previous_response_id")} == {
        k: v for k, v in nxt.items() if k != "input"
    }
    assert nxt["input"][-1] == result(1)  # the caller's body is left alone


def test_parallel_calls_answered_one_by_one_still_continue():
    """pixir puts each result right after its call; the server holds both calls first."""
    sent = [DEV, user("go")]
    held = memory(sent, [server_reasoning(1), server_call(1), server_call(2)])
    replay = [server_reasoning(1), replay_call(1), result(1), replay_call(2), result(2)]
    assert new_items(held, [*sent, *replay]) == [result(1), result(2)]


def test_commentary_before_a_call_matches_by_text():
    sent = [DEV, user("go")]
    held = memory(sent, [server_message("Let me look."), server_call(1)])
    replay = [replay_message("Let me look."), replay_call(1), result(1)]
    assert new_items(held, [*sent, *replay]) == [result(1)]


def test_a_final_answer_then_the_next_prompt_continues():
    sent = [DEV, user("hi")]
    held = memory(sent, [server_reasoning(1), server_message("Hello!")])
    nxt = [*sent, server_reasoning(1), replay_message("Hello!"), user("and now?")]
    assert new_items(held, nxt) == [user("and now?")]


def test_arguments_written_differently_are_the_same_call():
    sent = [user("go")]
    held = memory(sent, [server_call(1, '{"path": "a.py", "limit": 5}')])
    replay = [replay_call(1, '{"limit":5,"path":"a.py"}'), result(1)]
    assert new_items(held, [*sent, *replay]) == [result(1)]
    other = [replay_call(1, '{"limit":6,"path":"a.py"}'), result(1)]
    assert new_items(held, [*sent, *other]) is None


def test_the_prefix_is_compared_by_value_when_items_are_not_the_same_objects():
    sent = [DEV, user("go")]
    held = memory(sent, [server_call(1)])
    copied = json.loads(json.dumps([*sent, replay_call(1), result(1)]))
    assert new_items(held, copied) == [result(1)]


def test_a_model_change_sends_the_full_body():
    sent = [user("go")]
    held = memory(sent, [server_call(1)])
    nxt = body([*sent, replay_call(1), result(1)], model="gpt-5.4")
    p = choose(held, nxt)
    assert p.body is nxt and not p.continued and p.reset_reason == "model_changed"


def test_an_earlier_item_that_changed_sends_the_full_body():
    """A compaction replaces old items with a summary: the server's cache no longer fits."""
    sent = [DEV, user("go"), replay_call(0), result(0)]
    held = memory(sent, [server_call(1)])
    compacted = [DEV, user("Summary of the earlier part..."), replay_call(1), result(1)]
    p = choose(held, body(compacted))
    assert not p.continued and p.reset_reason == "input_diverged"


def test_an_output_item_the_history_dropped_sends_the_full_body():
    sent = [user("go")]
    held = memory(sent, [server_reasoning(1), server_call(1)])
    assert new_items(held, [*sent, replay_call(1), result(1)]) is None  # reasoning missing
    assert new_items(held, [*sent, server_reasoning(1)]) is None  # call missing


def test_only_results_of_calls_already_seen_may_come_between_output_items():
    sent = [user("go")]
    held = memory(sent, [server_call(1), server_call(2)])
    assert new_items(held, [*sent, replay_call(1), user("wait"), replay_call(2)]) is None
    assert new_items(held, [*sent, replay_call(1), result(2), replay_call(2)]) is None
    assert new_items(held, [*sent, replay_call(1), result(1), replay_call(2), result(2)]) == [
        result(1),
        result(2),
    ]


def test_a_shorter_or_non_list_input_sends_the_full_body():
    sent = [DEV, user("go")]
    held = memory(sent, [])
    assert new_items(held, [DEV]) is None
    assert new_items(held, "go") is None
    assert new_items(held, [*sent, user("more")]) == [user("more")]


def test_reasoning_matches_by_id_and_blob():
    assert same_item(server_reasoning(1), dict(server_reasoning(1)))
    trimmed = {"type": "reasoning", "id": "rs_1", "encrypted_content": "blob-1", "summary": []}
    assert same_item(trimmed, server_reasoning(1))
    assert not same_item({**trimmed, "encrypted_content": "other"}, server_reasoning(1))


def test_other_items_match_apart_from_id_and_status():
    hosted = {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {"q": 1}}
    assert same_item({"type": "web_search_call", "action": {"q": 1}}, hosted)
    assert not same_item({"type": "web_search_call", "action": {"q": 2}}, hosted)
    assert not same_item(replay_call(1), server_message("x"))


# -- against the real Turn and History ---------------------------------------------------------


class Chooser:
    """A provider double that keeps the server's cache the way ws.WsTransport does and makes
    the continuation choice of every call: which steps of a real Turn, replayed by the real
    History, continue?"""

    def __init__(self, results):
        self.results = list(results)
        self.memory = None
        self.choices = []

    def stream(self, body, on_delta, stop=None):
        self.choices.append(choose(self.memory, body))
        result = self.results.pop(0)
        self.memory = Memory(
            result.response_id, body["model"], list(body["input"]), result.output_items
        )
        return result

    def abort(self) -> None:
        raise AssertionError("nothing cancels these Turns")

    def close(self):
        pass


def test_every_step_of_a_real_turn_continues_with_only_its_new_items(workspace):
    from pixir import context
    from pixir import session as sessions
    from pixir.provider.request import RequestOptions
    from pixir.tools.registry import ToolContext
    from pixir.turn import Turn
    from tests.unit.helpers.scripted import answer, calls

    (workspace / "a.py").write_text("x = 1\n")
    steps = [
        calls(("read", {"path": "a.py"}), reasoning=True),
        # commentary, then two parallel calls: the History answers each right after it
        calls(
            ("bash", {"command": "echo one"}),
            ("read", {"path": "a.py", "limit": 1}),
            reasoning=True,
            text="Checking twice.",
        ),
        answer("Done.", reasoning=True),
    ]
    for n, result in enumerate(steps):
        result.response_id = f"resp_{n}"
    provider = Chooser(steps)
    options = RequestOptions(model="gpt-5.5", session_id="s", credential_kind="api_key")
    session = sessions.create(workspace, model="gpt-5.5", transport="auto", permission_mode="auto")
    try:
        turn = Turn(
            session,
            provider,
            lambda items: context.build(None, "auto").body(options, items),
            ToolContext(workspace),
            lambda event: None,
        )
        assert turn.run("look at a.py").status == "completed"
        # the next prompt of the same session (a REPL, or a second Turn in one process)
        provider.results.append(answer("Still done."))
        provider.results[-1].response_id = "resp_3"
        assert turn.run("anything else?").status == "completed"
    finally:
        session.close()
    first, second, third, fourth = provider.choices
    assert not first.continued and first.reset_reason is None
    kinds = [[i.get("type") or i.get("role") for i in p.body["input"]] for p in provider.choices]
    assert second.continued and kinds[1] == ["function_call_output"]
    assert third.continued and kinds[2] == ["function_call_output", "function_call_output"]
    assert fourth.continued and kinds[3] == ["user"]
    assert [p.body["previous_response_id"] for p in provider.choices[1:]] == [
        "resp_0",
        "resp_1",
        "resp_2",
    ]
