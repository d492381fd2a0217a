"""Event assembly: one test (at least) per row of the table in
docs/provider.md, "Assembly"."""

from __future__ import annotations

import pytest

from pixir.errors import PixirError
from pixir.provider.assemble import Assembler, assemble, rate_limits_from_headers

USAGE = {
    "input_tokens": 100,
    "input_tokens_details": {"cached_tokens": 50},
    "output_tokens": 20,
    "output_tokens_details": {"reasoning_tokens": 5},
    "total_tokens": 120,
}


def created(rid="resp_1"):
    return {"type": "response.created", "response": {"id": rid, "model": "gpt-5.5"}}


def completed(usage=USAGE, output=None, rid="resp_1"):
    return {
        "type": "response.completed",
        "response": {"id": rid, "status": "completed", "usage": usage, "output": output or []},
    }


def message(text, item_id="msg_1"):
    return {
        "id": item_id,
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "annotations": [], "text": text}],
    }


def done(item, index=0):
    return {"type": "response.output_item.done", "output_index": index, "item": item}


def added(item, index=0):
    return {"type": "response.output_item.added", "output_index": index, "item": item}


def delta(text, kind="response.output_text.delta"):
    return {"type": kind, "delta": text}


def fcall(args='{"path":"a.py"}', call_id="call_1", name="read"):
    return {
        "id": "fc_1",
        "type": "function_call",
        "call_id": call_id,
        "name": name,
        "arguments": args,
        "status": "completed",
    }


def run(events, **kw):
    deltas = []
    result = assemble(events, on_delta=deltas.append, **kw)
    return result, deltas


def test_created_and_in_progress_note_the_response_id():
    result, _ = run(
        [created("resp_a"), {"type": "response.in_progress", "response": {}}, completed(rid="")]
    )
    assert result.response_id == "resp_a"
    assert result.model == "gpt-5.5"


def test_text_deltas_stream_and_add_up():
    events = [created(), delta("Hel"), delta("lo"), completed()]
    result, deltas = run(events)
    assert deltas == [("text", "Hel"), ("text", "lo")]
    assert result.text == "Hello"
    assert result.finish_reason == "stop" and result.status == "completed"


@pytest.mark.parametrize(
    "kind", ["response.reasoning_summary_text.delta", "response.reasoning_text.delta"]
)
def test_reasoning_deltas_stream_to_reasoning(kind):
    result, deltas = run([delta("thinking", kind), completed()])
    assert deltas == [("reasoning", "thinking")]
    assert result.reasoning == "thinking"
    assert result.text == ""


def test_summary_parts_are_separated_by_a_blank_line():
    part = {"type": "response.reasoning_summary_part.added", "summary_index": 1}
    kind = "response.reasoning_summary_text.delta"
    result, deltas = run([delta("one", kind), part, delta("two", kind), completed()])
    assert result.reasoning == "one\n\ntwo"
    assert ("reasoning", "\n\n") in deltas


def test_message_done_is_authoritative_when_deltas_are_partial():
    events = [delta("Hel"), done(message("Hello, world")), completed()]
    result, _ = run(events)
    assert result.text == "Hello, world"


def test_whole_answer_in_one_delta():
    result, deltas = run(
        [delta("The whole answer."), done(message("The whole answer.")), completed()]
    )
    assert deltas == [("text", "The whole answer.")]
    assert result.text == "The whole answer."


def test_answer_only_in_output_item_done():
    result, deltas = run([created(), done(message("Only here")), completed()])
    assert deltas == []
    assert result.text == "Only here"
    assert result.output_items == [message("Only here")]


def test_two_messages_are_paragraphs_in_stream_and_result():
    events = [
        added({"type": "message"}),
        delta("One."),
        done(message("One.")),
        added({"type": "message"}, 1),
        delta("Two."),
        done(message("Two.", "msg_2"), 1),
        completed(),
    ]
    result, deltas = run(events)
    assert result.text == "One.\n\nTwo."
    assert "".join(d for k, d in deltas if k == "text") == result.text


def test_function_call_is_validated_and_parsed():
    result, _ = run([done(fcall()), completed()])
    assert result.function_calls == [
        {
            "call_id": "call_1",
            "name": "read",
            "arguments": {"path": "a.py"},
            "raw_arguments": '{"path":"a.py"}',
        }
    ]
    assert result.finish_reason == "tool_calls"
    assert result.output_items == [fcall()]


@pytest.mark.parametrize(
    ("args", "said"),
    [
        ("{not json", "not valid JSON (Expecting property name enclosed in double quotes at"),
        ("[1, 2]", "must be a JSON object, not an array"),
        ('"a string"', "must be a JSON object, not a string"),
        ("42", "must be a JSON object, not a number"),
        ("null", "must be a JSON object, not null"),
    ],
)
def test_arguments_that_are_not_a_json_object_are_a_problem_of_the_call_not_the_stream(args, said):
    """The model's mistake: the Turn answers the call with a failed tool_result (the rest
    of the response stands), it does not fail the stream."""
    result, _ = run([done(fcall(args)), completed()])
    [call] = result.function_calls
    assert call["arguments"] is None and call["raw_arguments"] == args
    assert call["problem"]["kind"] == "invalid_arguments"
    assert said in call["problem"]["message"]


def test_arguments_over_one_mib_are_refused_and_not_kept():
    big = '{"path":"a.py","content":"' + "x" * (1 << 20) + '"}'
    result, _ = run([done(fcall(big)), completed()])
    [call] = result.function_calls
    assert call["problem"]["kind"] == "arguments_too_large"
    assert f"{len(big):,} bytes" in call["problem"]["message"]
    assert call["raw_arguments"] == "{}" and result.output_items[0]["arguments"] == "{}"
    exactly, _ = run([done(fcall('{"a":"' + "y" * ((1 << 20) - 8) + '"}')), completed()])
    assert "problem" not in exactly.function_calls[0]  # 1 MiB itself is fine


def test_escaped_lone_surrogates_in_arguments_become_replacement_characters_nul_stays():
    raw = '{"command": "echo hi \\ud800", "path": "x\\udc80y\\u0000.txt", "n": ["\\ud83d"]}'
    result, _ = run([done(fcall(raw)), completed()])
    [call] = result.function_calls
    assert call["arguments"] == {
        "command": "echo hi \ufffd",
        "path": "x\ufffdy\x00.txt",  # a NUL is the tool's to refuse (invalid_arguments)
        "n": ["\ufffd"],
    }
    assert call["arguments"]["command"].encode("utf-8")  # valid text: encodes without error
    pair, _ = run([done(fcall('{"s": "\\ud83d\\ude00"}')), completed()])
    assert pair.function_calls[0]["arguments"] == {"s": "\U0001f600"}  # a real pair stays


def test_arguments_nested_too_deeply_are_a_problem_of_the_call():
    raw = '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}"
    result, _ = run([done(fcall(raw)), completed()])
    [call] = result.function_calls
    assert call["problem"]["kind"] == "invalid_arguments"
    assert "nested too deeply" in call["problem"]["message"]


def test_endless_argument_deltas_end_the_stream_past_16_mi_characters():
    chunk = {"type": "response.function_call_arguments.delta", "item_id": "fc_1", "delta": ""}
    deltas = [{**chunk, "delta": "a" * (1 << 20)} for _ in range(16)]
    result, _ = run([*deltas, done(fcall("{}")), completed()])  # 16 Mi: still read through
    assert result.function_calls[0]["arguments"] == {}
    with pytest.raises(PixirError) as err:
        run([*deltas, {**chunk, "delta": "a"}, done(fcall("{}")), completed()])
    assert err.value.kind == "stream_too_large"
    assert "function call arguments" in err.value.message and "16 Mi" in err.value.message


def test_function_call_without_call_id_is_invalid_response():
    item = fcall()
    del item["call_id"]
    with pytest.raises(PixirError) as err:
        run([done(item), completed()])
    assert err.value.kind == "invalid_response"


def test_empty_arguments_mean_an_empty_object():
    result, _ = run([done(fcall("")), completed()])
    assert result.function_calls[0]["arguments"] == {}


def test_reasoning_items_are_kept_verbatim_in_arrival_order():
    reasoning = {
        "id": "rs_1",
        "type": "reasoning",
        "encrypted_content": "gAAAAblob",
        "summary": [{"type": "summary_text", "text": "Looked around"}],
        "extra_future_field": {"kept": True},
    }
    result, _ = run([done(reasoning), done(fcall(), 1), done(message("ok"), 2), completed()])
    assert result.output_items == [reasoning, fcall(), message("ok")]
    assert result.output_items[0] is reasoning
    # No reasoning deltas: the summary stands in for the reasoning text.
    assert result.reasoning == "Looked around"


def test_hosted_tool_items_are_kept_verbatim():
    search = {"id": "ws_1", "type": "web_search_call", "status": "completed", "action": {"q": "x"}}
    result, _ = run([done(search), done(message("found"), 1), completed()])
    assert result.output_items == [search, message("found")]
    assert result.function_calls == []


def test_completed_gives_usage_and_ignores_the_duplicate_output_array():
    result, _ = run([done(message("a")), completed(output=[message("a"), message("b")])])
    assert result.output_items == [message("a")]
    assert result.usage == USAGE
    assert result.usage_summary == {
        "input_tokens": 100,
        "cached_tokens": 50,
        "output_tokens": 20,
        "reasoning_tokens": 5,
        "total_tokens": 120,
        "cache_hit_rate": 0.5,
    }


@pytest.mark.parametrize("reason", ["max_output_tokens", "content_filter"])
def test_incomplete_is_a_terminal_marked_truncated(reason):
    event = {
        "type": "response.incomplete",
        "response": {"id": "resp_1", "incomplete_details": {"reason": reason}, "usage": USAGE},
    }
    result, _ = run([delta("cut sh"), event])
    assert result.truncated is True
    assert result.status == "incomplete"
    assert result.incomplete_reason == reason
    assert result.finish_reason == "length"
    assert result.text == "cut sh"


def test_response_failed_is_a_classified_error():
    event = {
        "type": "response.failed",
        "response": {
            "id": "resp_1",
            "status": "failed",
            "error": {
                "code": "context_length_exceeded",
                "message": "Your input exceeds the context window",
            },
        },
    }
    with pytest.raises(PixirError) as err:
        run([created(), event])
    assert err.value.kind == "context_overflow"


@pytest.mark.parametrize(
    "event",
    [
        {
            "type": "error",
            "code": "rate_limit_exceeded",
            "message": "Slow down. Please try again in 2s.",
        },
        {"type": "error", "error": {"code": "rate_limit_exceeded", "message": "try again in 2s"}},
    ],
)
def test_error_event_with_top_level_or_nested_fields(event):
    with pytest.raises(PixirError) as err:
        run([event])
    assert err.value.kind == "rate_limited"
    assert err.value.details["retry_after_s"] == 2.0


def test_rate_limits_event_unknown_types_and_keepalives_are_ignored():
    events = [
        {
            "type": "codex.rate_limits",
            "plan_type": "plus",
            "rate_limits": {"primary": {"used_percent": 30.0}},
        },
        {"type": "keepalive"},
        {"type": "response.some_future_event", "delta": "not text"},
        {"type": "response.function_call_arguments.delta", "delta": "{"},
        {"no_type": True},
        delta("ok"),
        completed(),
    ]
    result, deltas = run(events)
    assert deltas == [("text", "ok")]
    assert result.text == "ok"
    assert result.rate_limits == {"primary": {"used_percent": 30.0}, "plan_type": "plus"}


def test_rate_limits_from_headers():
    headers = {
        "x-codex-primary-used-percent": "25.0",
        "x-codex-primary-window-minutes": "300",
        "X-Codex-Secondary-Reset-After-Seconds": "400000",
        "x-request-id": "req_1",
    }
    assert rate_limits_from_headers(headers) == {
        "primary": {"used_percent": 25.0, "window_minutes": 300},
        "secondary": {"reset_after_seconds": 400000},
    }
    result, _ = run([completed()], headers=headers)
    assert result.rate_limits["primary"]["used_percent"] == 25.0
    assert rate_limits_from_headers({"content-type": "text/event-stream"}) is None


def test_feeding_stops_at_the_first_terminal_event():
    consumed = []

    def events():
        for event in [delta("a"), completed(), delta("after")]:
            consumed.append(event["type"])
            yield event

    result, _ = run(events())
    assert result.text == "a"
    assert consumed == ["response.output_text.delta", "response.completed"]


def test_a_stream_that_ends_without_a_terminal_is_stream_incomplete():
    with pytest.raises(PixirError) as err:
        run([created(), delta("partial")])
    assert err.value.kind == "stream_incomplete"
    assert err.value.retryable is True


def test_result_before_a_terminal_is_stream_incomplete():
    assembler = Assembler()
    with pytest.raises(PixirError) as err:
        assembler.result()
    assert err.value.kind == "stream_incomplete"


def test_malformed_events_are_ignored_not_raised():
    events = [
        {"type": "response.output_text.delta", "delta": 42},
        {"type": "response.output_item.done", "item": "not a dict"},
        {"type": "response.created", "response": None},
        {"type": "response.completed", "response": "oops"},
    ]
    result, deltas = run(events)
    assert deltas == [] and result.text == "" and result.usage is None
    assert result.usage_summary["input_tokens"] == 0


# -- conformance with streams other servers send -------------------------------------------


@pytest.mark.parametrize(
    "item",
    [
        {"id": "msg_1", "type": "message", "role": "assistant", "status": "completed"},
        {"id": "msg_1", "type": "message", "role": "assistant", "content": []},
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": ""}],
        },
    ],
    ids=["no-content", "empty-list", "empty-text"],
)
def test_a_finished_message_without_content_keeps_the_streamed_text(item):
    result, deltas = run([created(), delta("Hel"), delta("lo"), done(item), completed()])
    assert result.text == "Hello"
    assert deltas == [("text", "Hel"), ("text", "lo")]
    # the item replayed from the History says what was streamed, not nothing
    assert result.output_items == [{**item, "content": [{"type": "output_text", "text": "Hello"}]}]


def test_each_message_without_content_keeps_only_its_own_deltas():
    bare = {"type": "message", "role": "assistant"}
    events = [
        added(bare),
        delta("First."),
        done(bare),
        added(bare, 1),
        delta("Sec"),
        delta("ond."),
        done(message("Second, as finished."), 1),
        added(bare, 2),
        delta("Third."),
        done(bare, 2),
        completed(),
    ]
    result, _ = run(events)
    assert result.text == "First.\n\nSecond, as finished.\n\nThird."


def test_completed_with_status_incomplete_is_a_truncated_answer():
    event = completed()
    event["response"] = {
        **event["response"],
        "status": "incomplete",
        "incomplete_details": {"reason": "max_output_tokens"},
    }
    result, _ = run([delta("cut sh"), event])
    assert result.truncated is True
    assert result.status == "incomplete"
    assert result.finish_reason == "length"
    assert result.incomplete_reason == "max_output_tokens"
    assert result.text == "cut sh"


def test_completed_with_status_failed_raises_the_error_it_carries():
    event = completed()
    event["response"] = {
        **event["response"],
        "status": "failed",
        "error": {"code": "context_length_exceeded", "message": "too long for the window"},
    }
    with pytest.raises(PixirError) as err:
        run([delta("x"), event])
    assert err.value.kind == "context_overflow"


def test_completed_with_status_failed_and_no_error_is_a_failure_not_a_success():
    event = completed()
    event["response"] = {**event["response"], "status": "failed"}
    with pytest.raises(PixirError) as err:
        run([delta("x"), event])
    assert err.value.kind == "server_error"
    assert "failed" in err.value.message


def test_the_response_id_is_the_final_events():
    result, _ = run([created("resp_early"), delta("a"), completed(rid="resp_final")])
    assert result.response_id == "resp_final"


# -- hosted web search ------------------------------------------------------------------------


def search_item(status="completed", query="pixir python", item_id="ws_1", **action):
    item = {"id": item_id, "type": "web_search_call", "status": status}
    if query is not None:
        item["action"] = {"type": "search", "query": query, **action}
    return item


def test_web_search_items_events_and_citations():
    sources = [{"type": "url", "url": "https://pypi.org/project/pixir"}]
    cited = {
        "type": "url_citation",
        "start_index": 0,
        "end_index": 4,
        "url": "https://pypi.org/project/pixir",
        "title": "pixir on PyPI",
    }
    answer = message("pixir is on PyPI.")
    answer["content"][0]["annotations"] = [
        cited,
        {**cited, "url": "https://github.com/x/pixir", "title": "source"},
    ]
    events = [
        created(),
        added(search_item("in_progress", query=None)),
        {"type": "response.web_search_call.in_progress", "item_id": "ws_1", "output_index": 0},
        {"type": "response.web_search_call.searching", "item_id": "ws_1", "output_index": 0},
        {"type": "response.web_search_call.completed", "item_id": "ws_1", "output_index": 0},
        done(search_item(sources=sources)),
        added({"type": "message"}, 1),
        delta("pixir is on PyPI."),
        {
            "type": "response.output_text.annotation.added",
            "item_id": "msg_1",
            "output_index": 1,
            "content_index": 0,
            "annotation_index": 0,
            "annotation": cited,
        },
        done(answer, 1),
        completed(),
    ]
    result, deltas = run(events)
    searches = [payload for kind, payload in deltas if kind == "web_search"]
    assert searches[0] == {"id": "ws_1", "status": "in_progress", "action": "", "sources": []}
    assert [s["status"] for s in searches[1:4]] == ["in_progress", "searching", "completed"]
    assert searches[-1]["query"] == "pixir python"
    assert result.web_searches == [
        {
            "id": "ws_1",
            "status": "completed",
            "action": "search",
            "query": "pixir python",
            "sources": [{"url": "https://pypi.org/project/pixir"}],
        }
    ]
    # streamed and final annotations, each url once, the first title kept
    assert result.citations == [
        {"url": "https://pypi.org/project/pixir", "title": "pixir on PyPI"},
        {"url": "https://github.com/x/pixir", "title": "source"},
    ]
    assert result.output_items[0] == search_item(sources=sources)  # verbatim
    assert result.text == "pixir is on PyPI."


def test_tool_usage_of_the_response_is_kept():
    event = completed()
    event["response"]["tool_usage"] = {"web_search": {"num_requests": 2}}
    result, _ = run([event])
    assert result.tool_usage == {"web_search": {"num_requests": 2}}
    assert run([completed()])[0].tool_usage is None
