"""The WebSocket transport (docs/provider.md): upgrade, response.create, continuation, error frames,
refusals and every ws_mode."""

from __future__ import annotations

import json
import socket

import pytest
import websocket

from tests.fake.fakeclient import (
    body,
    post,
    stream_events,
    sub_headers,
    types,
    user,
    wait_for,
    ws_connect,
    ws_create,
    ws_events,
)
from tests.fake_backend import cut, reset, stall, step, text, tool_call, usage_limit


def fc_output(call_id: str, out: str = "result") -> dict:
    return {"type": "function_call_output", "call_id": call_id, "output": out}


@pytest.mark.parametrize("surface", ["sub", "api"])
def test_upgrade_and_one_response(fake, surface):
    fake.script(step(text("over the socket", deltas=["over ", "the socket"])))
    ws = ws_connect(fake, surface)
    ws_create(ws)
    events = ws_events(ws)
    ws.close()
    assert types(events) == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    handshake, frame = fake.requests
    assert handshake.kind == "ws_handshake" and handshake.status == 101
    assert frame.kind == "ws_frame" and frame.transport == "websocket"
    assert frame.json["type"] == "response.create"
    assert frame.connection_id == handshake.connection_id
    assert frame.bytes_received == len(frame.body)
    assert fake.responses_requests() == [frame]


def test_stream_field_is_not_needed_on_websocket(fake):
    fake.script(step(text("x")))
    ws = ws_connect(fake)
    ws_create(ws)  # ws_create drops "stream", as a WebSocket client must
    assert ws_events(ws)[-1]["type"] == "response.completed"
    ws.close()


def test_validation_errors_come_as_wrapped_error_frames(fake):
    ws = ws_connect(fake)
    ws_create(ws, store=True)
    frame = ws_events(ws)[-1]
    assert frame == {
        "type": "error",
        "status": 400,
        "error": {"type": "invalid_request_error", "message": "Store must be set to false"},
    }
    ws_create(ws, max_output_tokens=10)
    assert "Unsupported parameter: max_output_tokens" in ws_events(ws)[-1]["error"]["message"]
    ws_create(ws, input=[user("x"), fc_output("call_zz")])
    err = ws_events(ws)[-1]
    assert err["status"] == 400 and "No tool call found" in err["error"]["message"]
    # the socket stays usable after an error frame
    fake.script(step(text("still here")))
    ws_create(ws)
    assert ws_events(ws)[-1]["type"] == "response.completed"
    ws.close()


def test_fault_frames_carry_status_and_headers(fake):
    fake.script(step(fault=usage_limit(plan_type="plus", resets_in_seconds=60)))
    ws = ws_connect(fake)
    ws_create(ws)
    frame = ws_events(ws)[-1]
    ws.close()
    assert frame["type"] == "error" and frame["status"] == 429
    assert frame["error"]["type"] == "usage_limit_reached"
    assert frame["error"]["plan_type"] == "plus" and frame["error"]["resets_in_seconds"] == 60
    assert frame["headers"]["x-codex-primary-used-percent"] == "100.0"


def test_rate_limit_frame_has_retry_after_header(fake):
    fake.script(step(fault={"type": "rate_limit", "retry_after": "2"}))
    ws = ws_connect(fake, "api")
    ws_create(ws)
    frame = ws_events(ws)[-1]
    ws.close()
    assert frame["status"] == 429 and frame["headers"]["retry-after"] == "2"
    assert frame["error"]["code"] == "rate_limit_exceeded"


def test_a_prewarm_is_an_empty_completed_response_and_spends_no_step(fake):
    fake.script(step(text("the real answer")))
    ws = ws_connect(fake)
    ws_create(ws, generate=False)
    prewarm = ws_events(ws)
    assert types(prewarm) == ["response.created", "response.completed"]
    assert prewarm[-1]["response"]["output"] == []
    assert fake.steps_left == 1
    # the prewarm's id continues like any response's: the real request sends only new items
    rid = prewarm[-1]["response"]["id"]
    ws_create(ws, previous_response_id=rid, input=[])
    answer = ws_events(ws)
    ws.close()
    assert answer[-1]["type"] == "response.completed"
    assert answer[-1]["response"]["output"][0]["content"][0]["text"] == "the real answer"
    assert fake.steps_left == 0
    prewarm_frame, real_frame = fake.responses_requests()
    assert prewarm_frame.extra["prewarm"] is True and "prewarm" not in real_frame.extra
    assert real_frame.extra["effective_input"] == [user("hello")]


def test_a_prewarm_is_validated_like_any_request(fake):
    ws = ws_connect(fake)
    ws_create(ws, generate=False, input=[user("x"), fc_output("call_zz")])
    err = ws_events(ws)[-1]
    ws.close()
    assert err["type"] == "error" and err["status"] == 400


# -- continuation (docs/provider.md, quirk 12) -------------------------------------------------


def run_tool_turn(fake, ws):
    fake.script(step(tool_call("read", {"path": "a.py"}, call_id="call_1")), step(text("done")))
    ws_create(ws)
    first = ws_events(ws)[-1]["response"]
    return first["id"], first["output"]


def test_continuation_on_the_same_connection(fake):
    ws = ws_connect(fake)
    rid, output = run_tool_turn(fake, ws)
    ws_create(ws, previous_response_id=rid, input=[fc_output("call_1", "file text")])
    last = ws_events(ws)[-1]
    ws.close()
    assert last["type"] == "response.completed"
    assert last["response"]["previous_response_id"] == rid
    frame = fake.responses_requests()[-1]
    effective = frame.extra["effective_input"]
    assert effective == [user("hello"), *output, fc_output("call_1", "file text")]
    # the frame itself only carried the new item: that is the point of continuation
    assert len(frame.body) < len(json.dumps(effective)) + len(json.dumps(body()))


def test_continuation_pairing_is_checked_on_the_effective_input(fake):
    ws = ws_connect(fake)
    rid, _ = run_tool_turn(fake, ws)
    ws_create(ws, previous_response_id=rid, input=[user("forgot the tool output")])
    err = ws_events(ws)[-1]
    ws.close()
    assert err["type"] == "error"
    assert "No tool output found for function call call_1." in err["error"]["message"]


def test_only_the_latest_response_id_is_valid(fake):
    fake.script(step(text("one")), step(text("two")))
    ws = ws_connect(fake)
    ws_create(ws)
    first = ws_events(ws)[-1]["response"]["id"]
    ws_create(ws, previous_response_id=first, input=[user("second")])
    assert ws_events(ws)[-1]["type"] == "response.completed"
    ws_create(ws, previous_response_id=first, input=[user("third")])
    err = ws_events(ws)[-1]
    ws.close()
    assert err["status"] == 400
    assert err["error"]["code"] == "previous_response_not_found"


def test_previous_response_id_from_another_connection_is_not_found(fake):
    first_ws = ws_connect(fake)
    rid, _ = run_tool_turn(fake, first_ws)
    other = ws_connect(fake)
    ws_create(other, previous_response_id=rid, input=[fc_output("call_1")])
    err = ws_events(other)[-1]
    assert err["error"]["code"] == "previous_response_not_found"
    # and over HTTP it never works (store:false keeps nothing)
    resp = post(fake, body(previous_response_id=rid, input=[fc_output("call_1")]))
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "previous_response_not_found"
    # the original connection still can: one step is left for it
    ws_create(first_ws, previous_response_id=rid, input=[fc_output("call_1")])
    assert ws_events(first_ws)[-1]["type"] == "response.completed"
    first_ws.close()
    other.close()


def test_a_failed_continuation_evicts_the_cached_response(fake):
    ws = ws_connect(fake)
    rid, _ = run_tool_turn(fake, ws)
    ws_create(ws, previous_response_id=rid, input=[user("unpaired")])
    assert ws_events(ws)[-1]["type"] == "error"
    ws_create(ws, previous_response_id=rid, input=[fc_output("call_1")])
    assert ws_events(ws)[-1]["error"]["code"] == "previous_response_not_found"
    ws.close()


def test_cache_misses_knob_loses_the_cached_response_once(fake):
    fake.configure(ws_cache_misses=1)
    ws = ws_connect(fake)
    rid, output = run_tool_turn(fake, ws)
    ws_create(ws, previous_response_id=rid, input=[fc_output("call_1")])
    err = ws_events(ws)[-1]
    assert err["status"] == 400 and err["error"]["code"] == "previous_response_not_found"
    assert fake.settings.ws_cache_misses == 0 and fake.steps_left == 1  # nothing consumed
    # the miss evicted the cache: a full resend on the same connection is what works
    ws_create(ws, input=[user("hello"), *output, fc_output("call_1")])
    assert ws_events(ws)[-1]["type"] == "response.completed"
    ws.close()


# -- handshake refusals ----------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "status"), [("refuse_404", 404), ("refuse_426", 426)])
def test_refused_upgrade(fake, mode, status):
    fake.configure(ws_mode=mode)
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        ws_connect(fake)
    assert info.value.status_code == status
    # HTTP still works on the same path
    fake.script(step(text("http")))
    assert types(stream_events(post(fake, body())))[-1] == "response.completed"


def test_upgrade_needs_credentials(fake):
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        ws_connect(fake, headers=sub_headers(fake, fake.mint_tokens(ttl=-1)))
    assert info.value.status_code == 401
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        ws_connect(fake, "api", headers={"Authorization": "Bearer sk-nope"})
    assert info.value.status_code == 401
    assert fake.ws_connections == 0


# -- ws_mode faults ----------------------------------------------------------------------------


def test_connection_limit_after_k_responses(fake):
    fake.configure(ws_mode="connection_limit", ws_limit_after=1)
    fake.script(step(text("one")), step(text("two")))
    ws = ws_connect(fake)
    ws_create(ws)
    assert ws_events(ws)[-1]["type"] == "response.completed"
    ws_create(ws, input=[user("again")])
    frame = ws_events(ws)[-1]
    assert frame["status"] == 400
    assert frame["error"]["code"] == "websocket_connection_limit_reached"
    assert "60 minutes" in frame["error"]["message"]
    opcode, _ = ws.recv_data(control_frame=True)
    assert opcode == websocket.ABNF.OPCODE_CLOSE  # the server ends the connection
    # a new connection serves the step that was not consumed
    fresh = ws_connect(fake)
    ws_create(fresh, input=[user("again")])
    assert ws_events(fresh)[-1]["response"]["output"][0]["content"][0]["text"] == "two"
    fresh.close()


def test_connection_limit_by_age(fake):
    fake.configure(ws_max_age_s=0)
    fake.script(step(text("never")))
    ws = ws_connect(fake)
    ws_create(ws)
    assert ws_events(ws)[-1]["error"]["code"] == "websocket_connection_limit_reached"
    assert fake.steps_left == 1
    ws.close()


def test_connection_limit_as_a_one_off_step_fault(fake):
    fake.script(step(fault={"type": "ws_connection_limit"}), step(text("after reconnect")))
    ws = ws_connect(fake)
    ws_create(ws)
    assert ws_events(ws)[-1]["error"]["code"] == "websocket_connection_limit_reached"
    fresh = ws_connect(fake)
    ws_create(fresh)
    assert ws_events(fresh)[-1]["type"] == "response.completed"
    fresh.close()


def test_close_mid_stream_before_any_output_item(fake):
    fake.configure(ws_mode="close_mid_stream", ws_after_events=2)
    fake.script(step(text("kept for the fallback")))
    ws = ws_connect(fake)
    ws_create(ws)
    got = []
    with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionError)):
        while True:
            got.append(json.loads(ws.recv())["type"])
    assert got == ["response.created", "response.in_progress"]
    # the step was only peeked: an HTTP fallback gets the same answer
    assert fake.steps_left == 1
    events = stream_events(post(fake, body()))
    assert events[-1]["response"]["output"][0]["content"][0]["text"] == "kept for the fallback"


def test_binary_frame_mode(fake):
    fake.configure(ws_mode="binary_frame", ws_after_events=1)
    fake.script(step(text("x")))
    ws = ws_connect(fake)
    ws_create(ws)
    first = ws.recv_data()
    second = ws.recv_data()
    ws.close()
    assert first[0] == websocket.ABNF.OPCODE_TEXT
    assert json.loads(first[1])["type"] == "response.created"
    assert second[0] == websocket.ABNF.OPCODE_BINARY
    assert fake.steps_left == 1


def test_cut_stall_and_reset_on_websocket(fake):
    fake.script(step(text("a"), fault=cut(after_events=1)))
    ws = ws_connect(fake)
    ws_create(ws)
    assert json.loads(ws.recv())["type"] == "response.created"
    with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionError)):
        ws.recv()

    fake.script(step(text("b"), fault=stall(0.4, after_events=1)))
    ws = ws_connect(fake)
    ws_create(ws)
    ws.recv()
    ws.settimeout(0.2)
    with pytest.raises(websocket.WebSocketTimeoutException):
        ws.recv()  # stalled
    ws.settimeout(5)
    assert ws_events(ws)[-1]["type"] == "response.completed"
    ws.close()

    fake.script(step(text("c"), fault=reset(after_events=1)))
    ws = ws_connect(fake)
    ws_create(ws)
    ws.recv()
    with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionResetError)):
        ws.recv()


def test_html_200_on_websocket_is_a_non_json_frame(fake):
    fake.script(step(fault={"type": "html_200"}))
    ws = ws_connect(fake)
    ws_create(ws)
    frame = ws.recv()
    ws.close()
    assert frame.lower().startswith("<!doctype html>")


def test_ping_pong_and_unknown_frames(fake):
    ws = ws_connect(fake)
    ws.ping(b"are you there")
    opcode, data = ws.recv_data(control_frame=True)
    assert opcode == websocket.ABNF.OPCODE_PONG and data == b"are you there"
    ws.send(json.dumps({"type": "session.update"}))
    frame = json.loads(ws.recv())
    assert frame["type"] == "error" and frame["error"]["code"] == "unknown_event_type"
    ws.send_binary(b"\x00\x01")
    assert json.loads(ws.recv())["type"] == "error"
    ws.close()
    frames = [r for r in fake.requests if r.kind == "ws_frame"]
    assert [(f.body, f.status) for f in frames[1:]] == [(b"\x00\x01", 400)]
    assert fake.responses_requests() == []


def test_client_close_is_answered_and_recorded(fake):
    ws = ws_connect(fake)
    ws.close()
    assert wait_for(lambda: len(fake.requests) == 1)
    assert fake.requests[0].kind == "ws_handshake"


def test_half_closed_socket_does_not_hang_the_server(fake):
    ws = ws_connect(fake)
    ws.sock.shutdown(socket.SHUT_WR)
    ws.sock.close()
    fake.script(step(text("fine")))
    assert types(stream_events(post(fake, body())))[-1] == "response.completed"


def test_keepalive_comments_become_pings_and_pongs_are_counted(fake):
    fake.script(step(text("alive"), keepalive=True))
    ws = ws_connect(fake)
    ws_create(ws)
    events = ws_events(ws)  # websocket-client answers each ping while it reads
    ws.close()
    assert events[-1]["type"] == "response.completed"
    assert "keepalive" in types(events)
    assert wait_for(lambda: fake.ws_pongs == 2)  # one comment before the item, one at the end


def test_how_a_client_ends_its_socket_is_recorded(fake):
    polite = ws_connect(fake)
    polite.close()  # a close frame
    rude = ws_connect(fake)
    rude.sock.close()  # TCP only
    assert wait_for(lambda: len(fake.ws_closes) == 2)
    assert sorted(how for _, how in fake.ws_closes) == ["close_frame", "eof"]
    assert {cid for cid, _ in fake.ws_closes} == {r.connection_id for r in fake.requests}


def test_a_stall_ends_when_the_client_leaves(fake):
    fake.script(step(text("slow"), fault=stall(30, after_events=2)))
    ws = ws_connect(fake)
    ws_create(ws)
    assert [json.loads(ws.recv())["type"] for _ in range(2)] == [
        "response.created",
        "response.in_progress",
    ]
    ws.close()  # mid-stall: the fake reads on, sees the close frame and drops the response
    assert wait_for(lambda: fake.ws_closes == [(fake.requests[0].connection_id, "close_frame")])
