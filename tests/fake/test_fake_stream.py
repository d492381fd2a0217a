"""The event sequence of a step, and every stream shape and fault, observed on the wire."""

from __future__ import annotations

import json
import socket
import time

import pytest
import requests

from tests.fake.fakeclient import (
    body,
    dechunk,
    parse_sse,
    post,
    raw_post,
    read_head,
    read_until_eof,
    stream_events,
    types,
    user,
)
from tests.fake_backend import (
    cut,
    http_error,
    in_stream_error,
    rate_limit,
    raw_item,
    reasoning,
    reset,
    stall,
    step,
    text,
    tool_call,
    usage_limit,
    web_search,
)

# -- the event sequence ---------------------------------------------------------------------------


def test_text_step_mirrors_the_real_event_sequence(fake):
    fake.script(step(text("Hello world", deltas=["Hel", "lo ", "world"])))
    resp = post(fake, body())
    raw = b"".join(resp.iter_content(chunk_size=None))
    sse = parse_sse(raw)
    events = [json.loads(e["data"]) for e in sse]
    assert types(events) == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert all(e["event"] == json.loads(e["data"])["type"] for e in sse)  # event: line == type
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert [e["delta"] for e in events if e["type"].endswith(".delta")] == ["Hel", "lo ", "world"]
    done = events[-2]["item"]
    assert done["type"] == "message" and done["role"] == "assistant"
    assert done["content"][0] == {
        "type": "output_text",
        "annotations": [],
        "logprobs": [],
        "text": "Hello world",
    }
    completed = events[-1]["response"]
    assert completed["status"] == "completed"
    assert completed["output"] == [done]  # the duplicate output array
    assert events[0]["response"]["id"] == completed["id"]
    assert completed["id"].startswith("resp_")


def test_usage_shape_and_default_estimate(fake):
    fake.script(step(text("hi")))
    data = body(input=[user("x" * 4000)])
    events = stream_events(post(fake, data))
    usage = events[-1]["response"]["usage"]
    assert set(usage) == {
        "input_tokens",
        "input_tokens_details",
        "output_tokens",
        "output_tokens_details",
        "total_tokens",
    }
    assert usage["input_tokens"] >= 1000  # ≈ request bytes / 4
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]


def test_usage_override_and_cached_tokens(fake):
    fake.script(step(text("hi"), usage={"input_tokens": 5000, "cached_tokens": 4096}))
    usage = stream_events(post(fake, body()))[-1]["response"]["usage"]
    assert usage["input_tokens"] == 5000
    assert usage["input_tokens_details"] == {"cached_tokens": 4096}
    assert usage["total_tokens"] == 5000 + usage["output_tokens"]


def test_repeated_prompt_cache_key_reports_cached_tokens(fake):
    fake.script(step(text("a")), step(text("b")))
    big = body(input=[user("y" * 8000)])
    first = stream_events(post(fake, big))[-1]["response"]["usage"]
    second = stream_events(post(fake, big))[-1]["response"]["usage"]
    assert first["input_tokens_details"]["cached_tokens"] == 0
    assert 0 < second["input_tokens_details"]["cached_tokens"] <= second["input_tokens"]


def test_no_deltas_means_text_only_in_output_item_done(fake):
    fake.script(step(text("Only at the end", deltas=[])))
    events = stream_events(post(fake, body()))
    assert "response.output_text.delta" not in types(events)
    assert "response.output_text.done" not in types(events)
    done = next(e for e in events if e["type"] == "response.output_item.done")
    assert done["item"]["content"][0]["text"] == "Only at the end"


def test_default_deltas_add_up_to_the_text(fake):
    fake.script(step(text("The whole answer in pieces")))
    events = stream_events(post(fake, body()))
    deltas = [e["delta"] for e in events if e["type"] == "response.output_text.delta"]
    assert len(deltas) > 1 and "".join(deltas) == "The whole answer in pieces"


def test_reasoning_and_several_calls_in_one_step(fake):
    fake.script(
        step(
            reasoning(["first thought", "second"]),
            tool_call("read", {"path": "a.py"}, call_id="call_A"),
            tool_call("bash", '{"command":"ls"}', call_id="call_B"),
        )
    )
    events = stream_events(post(fake, body()))
    kinds = types(events)
    assert kinds.count("response.reasoning_summary_part.added") == 2
    assert kinds.count("response.reasoning_summary_text.done") == 2
    assert kinds.count("response.function_call_arguments.done") == 2
    items = [e["item"] for e in events if e["type"] == "response.output_item.done"]
    assert [i["type"] for i in items] == ["reasoning", "function_call", "function_call"]
    assert [s["text"] for s in items[0]["summary"]] == ["first thought", "second"]
    assert items[0]["encrypted_content"].startswith("gAAAAA")
    assert items[1]["call_id"] == "call_A" and json.loads(items[1]["arguments"]) == {"path": "a.py"}
    assert items[2]["arguments"] == '{"command":"ls"}'
    args = "".join(
        e["delta"]
        for e in events
        if e["type"] == "response.function_call_arguments.delta" and e["output_index"] == 1
    )
    assert args == items[1]["arguments"]
    assert [e["output_index"] for e in events if e["type"] == "response.output_item.added"] == [
        0,
        1,
        2,
    ]


def test_no_encrypted_content_unless_included(fake):
    fake.script(step(reasoning("hm"), text("x")))
    events = stream_events(post(fake, body(include=[])))
    assert events[-1]["response"]["output"][0]["encrypted_content"] is None


def test_raw_hosted_item_is_sent_verbatim(fake):
    item = {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {}}
    fake.script(step(raw_item(item), text("found it")))
    done = [e["item"] for e in stream_events(post(fake, body())) if e["type"].endswith("item.done")]
    assert done[0] == item


def test_incomplete_terminal(fake):
    fake.script(step(text("trunc"), incomplete="max_output_tokens"))
    last = stream_events(post(fake, body()))[-1]
    assert last["type"] == "response.incomplete"
    assert last["response"]["status"] == "incomplete"
    assert last["response"]["incomplete_details"] == {"reason": "max_output_tokens"}


def test_web_search_item_events_sources_and_tool_usage(fake):
    search = web_search("pixir release", ["https://pypi.org/p/pixir", "https://x.org"])
    answer = text(
        "pixir 1.0 is out.", citations=[{"url": "https://pypi.org/p/pixir", "title": "PyPI"}]
    )
    fake.script(step(search, answer), step(search, answer))
    include = ["reasoning.encrypted_content", "web_search_call.action.sources"]
    events = stream_events(post(fake, body(include=include)))
    assert types(events)[2:7] == [
        "response.output_item.added",
        "response.web_search_call.in_progress",
        "response.web_search_call.searching",
        "response.web_search_call.completed",
        "response.output_item.done",
    ]
    added, done = events[2]["item"], events[6]["item"]
    assert added["status"] == "in_progress" and "action" not in added
    assert done["id"].startswith("ws_") and done["status"] == "completed"
    assert done["action"] == {
        "type": "search",
        "query": "pixir release",
        "sources": [
            {"type": "url", "url": "https://pypi.org/p/pixir"},
            {"type": "url", "url": "https://x.org"},
        ],
    }
    assert all(e.get("item_id") == done["id"] for e in events[3:6])
    (note,) = [e for e in events if e["type"] == "response.output_text.annotation.added"]
    assert note["annotation"] == {
        "type": "url_citation",
        "start_index": 0,
        "end_index": len("pixir 1.0 is out."),
        "url": "https://pypi.org/p/pixir",
        "title": "PyPI",
    }
    final = events[-1]["response"]
    assert final["output"][1]["content"][0]["annotations"] == [note["annotation"]]
    assert final["tool_usage"] == {"web_search": {"num_requests": 1}}
    # without the include the sources stay on the server, as with the real API
    plain = stream_events(post(fake, body()))
    assert "sources" not in plain[6]["item"]["action"]


@pytest.mark.parametrize(
    ("item", "param", "words"),
    [
        ({"id": "msg_1"}, "input[1].id", "Expected an ID that begins with 'ws'"),
        ({"id": "ws-1"}, "input[1].id", "Expected an ID that begins with 'ws'"),
        ({"action": {"type": "other"}}, "input[1].action.type", "Supported values"),
        ({"action": None}, "input[1].action.type", "Supported values"),
        ({"status": "done"}, "input[1].status", "Supported values"),
    ],
)
def test_a_replayed_web_search_is_validated_like_the_real_api(fake, item, param, words):
    good = {
        "id": "ws_0123",
        "type": "web_search_call",
        "status": "completed",
        "action": {"type": "search", "query": "q"},
    }
    fake.script(step(text("fine")))
    assert post(fake, body(input=[user("hi"), good, user("again")])).status_code == 200
    resp = post(fake, body(input=[user("hi"), {**good, **item}, user("again")]))
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert error["param"] == param and words in error["message"]
    no_id = {k: v for k, v in good.items() if k != "id"}
    fake.script(step(text("fine")))
    assert post(fake, body(input=[user("hi"), no_id, user("again")])).status_code == 200


@pytest.mark.parametrize("status", ["incomplete", "failed"])
def test_completed_status_ends_with_response_completed_saying_otherwise(fake, status):
    fake.script(step(text("half"), completed_status=status))
    last = stream_events(post(fake, body()))[-1]
    assert last["type"] == "response.completed"
    assert last["response"]["status"] == status
    if status == "incomplete":
        assert last["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    else:
        assert last["response"]["error"]["code"] == "invalid_prompt"


def test_a_message_can_finish_without_content_after_its_deltas(fake):
    fake.script(step(text("streamed only", deltas=["streamed ", "only"], done_content=False)))
    events = stream_events(post(fake, body()))
    done = [e["item"] for e in events if e["type"] == "response.output_item.done"]
    assert "content" not in done[0] and done[0]["type"] == "message"
    deltas = [e["delta"] for e in events if e["type"] == "response.output_text.delta"]
    assert deltas == ["streamed ", "only"]


@pytest.mark.parametrize("kind", ["error", "failed"])
def test_in_stream_error(fake, kind):
    fake.script(step(text("never"), fault=in_stream_error(kind=kind, code="server_error")))
    events = stream_events(post(fake, body()))
    assert types(events)[:2] == ["response.created", "response.in_progress"]
    last = events[-1]
    if kind == "error":
        assert last["type"] == "error" and last["code"] == "server_error"
    else:
        assert last["type"] == "response.failed"
        assert last["response"]["error"]["code"] == "server_error"
    assert "response.completed" not in types(events)


def test_rate_limits_event_and_headers(fake):
    fake.script(step(text("x"), rate_limits_event=True))
    resp = post(fake, body())
    assert resp.headers["x-codex-primary-used-percent"] == "25.0"
    events = stream_events(resp)
    assert events[0]["type"] == "codex.rate_limits"
    assert events[0]["rate_limits"]["primary"]["window_minutes"] == 300


# -- matching ------------------------------------------------------------------------------------


def test_steps_are_chosen_by_match_then_order(fake):
    fake.script(
        step(text("about tools"), match={"last_tool_output": "TOOL-OUT"}),
        step(text("about cats"), match={"last_user": "cats"}),
        step(text("anything")),
    )

    def answer(data):
        return stream_events(post(fake, data))[-1]["response"]["output"][0]["content"][0]["text"]

    assert answer(body(input=[user("tell me about cats")])) == "about cats"
    assert answer(body(input=[user("dogs")])) == "anything"
    items = [
        user("go"),
        {"type": "function_call", "call_id": "c", "name": "read", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c", "output": "xx TOOL-OUT xx"},
    ]
    assert answer(body(input=items)) == "about tools"
    assert fake.steps_left == 0


# -- stream shaping on the wire -----------------------------------------------------------------


def test_one_byte_chunking_arrives_in_one_byte_reads(fake):
    """Each write is one HTTP chunk of one byte, sent as its own TCP segment."""
    fake.script(step(text("one byte at a time"), chunking={"size": 1}))
    sock = raw_post(fake, body())
    head, rest = read_head(sock)
    assert b"Transfer-Encoding: chunked" in head
    reads = [rest] if rest else []
    sock.settimeout(5)
    while len(reads) < 300:
        data = sock.recv(65536)
        if not data:
            break
        reads.append(data)
    sock.close()
    one_chunk_reads = [r for r in reads if r.count(b"\r\n") == 2 and r.startswith(b"1\r\n")]
    assert len(reads) >= 300
    # every read that is exactly one frame carries a single payload byte; allow a few reads
    # to coalesce on a busy machine, but the vast majority must be single bytes
    assert len(one_chunk_reads) >= 0.9 * len(reads), reads[:20]
    payload, _ = dechunk(b"".join(reads))
    assert payload.startswith(b"event: response.created\ndata: {")


def test_one_byte_chunks_seen_by_requests(fake):
    fake.script(step(text("tiny"), chunking={"size": 1, "pause_s": 0}))
    resp = post(fake, body())
    pieces = list(resp.iter_content(chunk_size=None))
    assert {len(p) for p in pieces} == {1}
    events = [json.loads(e["data"]) for e in parse_sse(b"".join(pieces))]
    assert types(events)[-1] == "response.completed"


def test_random_chunking_is_reproducible_and_lossless(fake):
    fake.script(
        step(text("x" * 3000), chunking={"random": [1, 64], "seed": 7, "pause_s": 0}),
        step(text("x" * 3000), chunking={"random": [1, 64], "seed": 7, "pause_s": 0}),
    )
    sizes = []
    for _ in range(2):
        pieces = list(post(fake, body()).iter_content(chunk_size=None))
        sizes.append([len(p) for p in pieces])
        assert types([json.loads(e["data"]) for e in parse_sse(b"".join(pieces))])[-1] == (
            "response.completed"
        )
    assert sizes[0][:20] == sizes[1][:20]  # same seed, same cut points
    assert min(sizes[0]) >= 1 and max(sizes[0]) <= 64 and len(set(sizes[0])) > 10


@pytest.mark.parametrize(("crlf", "newline"), [(True, b"\r\n"), ("cr", b"\r"), (False, b"\n")])
def test_line_endings(fake, crlf, newline):
    fake.script(step(text("lines"), crlf=crlf))
    raw = b"".join(post(fake, body()).iter_content(chunk_size=None))
    assert raw.startswith(b"event: response.created" + newline + b"data: ")
    if newline == b"\r":
        assert b"\n" not in raw
    if newline == b"\n":
        assert b"\r" not in raw
    events = [json.loads(e["data"]) for e in parse_sse(raw)]
    assert types(events)[-1] == "response.completed"


def test_missing_content_type(fake):
    fake.script(step(text("x"), content_type=False))
    sock = raw_post(fake, body())
    head, _ = read_head(sock)
    sock.close()
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert b"content-type" not in head.lower()


def test_keepalive_comments_and_events(fake):
    fake.script(step(text("a"), tool_call("read", {}), keepalive=True))
    raw = b"".join(post(fake, body()).iter_content(chunk_size=None))
    assert raw.count(b": keep-alive\n\n") >= 2
    assert b"event: keepalive\ndata: {" in raw


def test_multiline_data_bom_and_no_event_lines(fake):
    fake.script(step(text("a,b"), multiline_data=True, bom=True, event_lines=False))
    raw = b"".join(post(fake, body()).iter_content(chunk_size=None))
    assert raw.startswith(b"\xef\xbb\xbfdata: {")
    assert b"event:" not in raw
    sse = parse_sse(raw)
    assert all("\n" in e["data"] for e in sse)  # every payload spans several data: lines
    events = [json.loads(e["data"]) for e in sse]
    assert events[-1]["response"]["output"][0]["content"][0]["text"] == "a,b"


def test_close_framing_has_no_length_and_ends_with_the_socket(fake):
    fake.script(step(text("x"), framing="close"))
    sock = raw_post(fake, body())
    head, rest = read_head(sock)
    data = rest + read_until_eof(sock)
    sock.close()
    assert b"Transfer-Encoding" not in head and b"Content-Length" not in head
    assert b"Connection: close" in head
    assert types([json.loads(e["data"]) for e in parse_sse(data)])[-1] == "response.completed"


# -- stream faults on the wire -----------------------------------------------------------------


def test_keep_open_after_completed(fake):
    fake.script(step(text("done but open"), keep_open=True))
    sock = raw_post(fake, body())
    _, data = read_head(sock)
    sock.settimeout(5)
    while b"response.completed" not in dechunk(data)[0] or not dechunk(data)[0].endswith(b"\n\n"):
        data += sock.recv(65536)
    _, ended = dechunk(data)
    assert not ended  # no terminating 0-chunk: the body is still open
    sock.settimeout(0.5)
    with pytest.raises(socket.timeout):
        sock.recv(1)  # open and silent, not EOF
    sock.close()


def test_keep_open_with_requests_blocks_until_client_closes(fake):
    fake.script(step(text("x"), keep_open=2))
    resp = post(fake, body())
    seen = b""
    for piece in resp.iter_content(chunk_size=None):
        seen += piece
        if b"response.completed" in seen:
            break
    resp.close()  # the client stops at the terminal event and closes, as pixir must
    assert b"response.completed" in seen


def test_cut_closes_before_the_terminal_event(fake):
    fake.script(step(text("never finished"), fault=cut(after_events=3)))
    sock = raw_post(fake, body())
    _, rest = read_head(sock)
    data = rest + read_until_eof(sock)
    payload, ended = dechunk(data)
    assert not ended  # the chunked body is torn off, not finished
    events = [json.loads(e["data"]) for e in parse_sse(payload)]
    assert types(events) == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
    ]


def test_clean_cut_ends_the_body_without_a_terminal_event(fake):
    fake.script(step(text("x"), fault=cut(after_events=2, clean=True)), step(text("next")))
    session = requests.Session()
    events = stream_events(post(fake, body(), session=session))
    assert types(events) == ["response.created", "response.in_progress"]
    # the body ended properly, so the connection is reusable
    assert types(stream_events(post(fake, body(), session=session)))[-1] == "response.completed"
    recs = fake.responses_requests()
    assert recs[0].connection_id == recs[1].connection_id


def test_requests_sees_a_cut_as_an_error(fake):
    fake.script(step(text("x" * 2000), fault=cut(after_events=4)))
    resp = post(fake, body())
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        b"".join(resp.iter_content(chunk_size=None))


def test_stall_really_stalls(fake):
    fake.script(step(text("slow"), fault=stall(0.6, after_events=2)))
    resp = post(fake, body())
    arrivals = []
    buf = b""
    for piece in resp.iter_content(chunk_size=None):
        buf += piece
        arrivals.append((time.monotonic(), buf.count(b"\n\n")))
    before = [t for t, n in arrivals if n <= 2]
    after = [t for t, n in arrivals if n > 2]
    assert before and after
    assert after[0] - before[-1] >= 0.5
    assert b"response.completed" in buf


def test_reset_sends_rst(fake):
    fake.script(step(text("x"), fault=reset()))
    sock = raw_post(fake, body())
    with pytest.raises(ConnectionResetError):
        sock.settimeout(5)
        while sock.recv(65536):
            pass
    sock.close()


def test_reset_mid_stream(fake):
    fake.script(step(text("x"), fault=reset(after_events=2)))
    resp = post(fake, body())
    with pytest.raises(requests.exceptions.RequestException):
        b"".join(resp.iter_content(chunk_size=None))


def test_delay_before_answer(fake):
    fake.script(step(text("x"), delay_s=0.3))
    start = time.monotonic()
    resp = post(fake, body())
    assert time.monotonic() - start >= 0.25
    assert resp.status_code == 200


# -- faults that replace the answer ---------------------------------------------------------------


def test_usage_limit(fake):
    fake.script(step(fault=usage_limit(plan_type="pro", resets_in_seconds=900)))
    before = int(time.time())
    resp = post(fake, body())
    assert resp.status_code == 429
    err = resp.json()["error"]
    assert err["type"] == "usage_limit_reached"
    assert err["plan_type"] == "pro"
    assert err["resets_in_seconds"] == 900
    assert before + 900 <= err["resets_at"] <= int(time.time()) + 900
    assert resp.headers["x-codex-primary-used-percent"] == "100.0"


def test_rate_limit_with_retry_after(fake):
    fake.script(step(fault=rate_limit(retry_after="1", try_again_in="1.5s")))
    resp = post(fake, body(), surface="api")
    assert resp.status_code == 429
    assert resp.headers["Retry-After"] == "1"
    err = resp.json()["error"]
    assert err["code"] == "rate_limit_exceeded"
    assert "Please try again in 1.5s." in err["message"]


def test_rate_limit_without_header(fake):
    fake.script(step(fault=rate_limit(retry_after=None, try_again_in="750ms")))
    resp = post(fake, body())
    assert "Retry-After" not in resp.headers
    assert "try again in 750ms" in resp.json()["error"]["message"]


@pytest.mark.parametrize("status", [500, 503])
def test_http_5xx(fake, status):
    fake.script(step(fault=http_error(status)))
    resp = post(fake, body())
    assert resp.status_code == status
    assert resp.json()["error"]["type"] == "server_error"


def test_http_fault_with_custom_body(fake):
    fake.script(step(fault=http_error(502, "<html>bad gateway</html>")))
    resp = post(fake, body())
    assert resp.status_code == 502 and resp.text == "<html>bad gateway</html>"


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ({"type": "context_length_exceeded"}, 400, "context_length_exceeded"),
        ({"type": "quota"}, 429, "insufficient_quota"),
        ({"type": "unauthorized"}, 401, "token_expired"),
    ],
)
def test_error_faults(fake, fault, status, code):
    fake.script(step(fault=fault))
    resp = post(fake, body())
    assert resp.status_code == status
    assert resp.json()["error"]["code"] == code


def test_unknown_model_fault_uses_the_path_wording(fake):
    fake.script(step(fault={"type": "unknown_model"}), step(fault={"type": "unknown_model"}))
    sub = post(fake, body())
    assert "not supported when using Codex with a ChatGPT account" in sub.json()["detail"]
    api = post(fake, body(), surface="api")
    assert api.json()["error"]["code"] == "model_not_found"


def test_unauthorized_once_then_success(fake):
    fake.script(step(fault={"type": "unauthorized"}), step(text("after refresh")))
    assert post(fake, body()).status_code == 401
    assert types(stream_events(post(fake, body())))[-1] == "response.completed"


def test_html_200(fake):
    fake.script(step(fault={"type": "html_200"}))
    resp = post(fake, body())
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/html")
    assert "<html>" in resp.text.lower() or "<!doctype html>" in resp.text.lower()
