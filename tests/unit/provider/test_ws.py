"""The WebSocket transport (docs/provider.md) through the Provider, against the in-process fake
backend on 127.0.0.1: the upgrade, frames, continuation, the resend and reconnect rules,
wire failures, pings, error frames and closing."""

from __future__ import annotations

import time

import pytest

from pixir.errors import PixirError
from pixir.provider.ws import BETA, frame_bytes, upgrade_headers, ws_url
from tests.fake_backend import (
    cut,
    reasoning,
    stall,
    step,
    text,
    tool_call,
    usage_limit,
)
from tests.unit.helpers.ws import (
    Loop,
    body,
    frames,
    handshakes,
    http_calls,
    make_provider,
    user,
    wire_json,
)


def wait_for(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.01)
    return predicate()


def tool_step(n: int) -> dict:
    return step(
        reasoning(f"step {n}"), tool_call("read", {"path": f"f{n}.py"}, call_id=f"call_{n}")
    )


# -- pure helpers -------------------------------------------------------------------------------


def test_urls_and_upgrade_headers():
    assert ws_url("https://chatgpt.com/backend-api/codex/responses") == (
        "wss://chatgpt.com/backend-api/codex/responses"
    )
    assert ws_url("http://127.0.0.1:9/v1/responses") == "ws://127.0.0.1:9/v1/responses"
    headers = {
        "content-type": "application/json",
        "accept": "text/event-stream",
        "OpenAI-Beta": "responses=experimental",
        "originator": "pixir",
        "session_id": "s1",
        "Authorization": "Bearer k",
    }
    assert upgrade_headers(headers) == [
        "originator: pixir",
        "session_id: s1",
        "Authorization: Bearer k",
        f"OpenAI-Beta: {BETA}",
    ]


def test_a_frame_is_the_body_without_stream():
    frame = frame_bytes({"model": "m", "stream": True, "store": False, "input": []})
    assert frame == b'{"type":"response.create","model":"m","store":false,"input":[]}'


# -- one call ---------------------------------------------------------------------------------


def test_upgrade_headers_and_one_frame_on_the_wire(fake):
    fake.script(step(text("hello over the socket")))
    provider, _ = make_provider(fake)
    deltas = []
    result = provider.stream(body([user("hi")]), deltas.append)
    provider.close()
    assert result.text == "hello over the socket"
    assert "".join(d for k, d in deltas if k == "text") == "hello over the socket"
    [shake] = handshakes(fake)
    assert shake.status == 101 and shake.path == "/v1/responses"
    h = shake.headers
    assert h["openai-beta"] == "responses_websockets=2026-02-06"
    assert h["authorization"] == f"Bearer {fake.api_key}"
    assert h["originator"] == "pixir" and h["session_id"] == "sess-1"
    assert h["user-agent"].startswith("pixir/")
    assert "accept" not in h and "origin" not in h
    [frame] = frames(fake)
    sent = wire_json(frame)
    assert sent["type"] == "response.create" and "stream" not in sent
    assert sent["store"] is False and "previous_response_id" not in sent
    assert frame.connection_id == shake.connection_id
    meta = result.transport
    assert meta["active_transport"] == "websocket"
    assert meta["transport_preference"] == "websocket"
    assert meta["continuation_attempted"] is False
    assert meta["used_previous_response_id"] is False
    assert meta["continuation_reset_reason"] is None and meta["fallback_reason"] is None
    assert meta["bytes_sent"] == frame.bytes_received == len(frame.body)
    assert meta["attempts"] == 1 and meta["first_byte_ms"] is not None
    assert meta["request_id"]  # the handshake's x-request-id
    assert not http_calls(fake)


def test_pings_are_answered_while_a_response_streams(fake):
    fake.script(step(reasoning("hm"), text("alive"), keepalive=True))
    provider, _ = make_provider(fake)
    assert provider.stream(body([user("hi")])).text == "alive"
    provider.close()
    # a ping before each item and one before the terminal event; the fake reads the pongs
    # when it next reads the socket
    assert wait_for(lambda: fake.ws_pongs == 3)


# -- continuation ---------------------------------------------------------------------------------


def test_a_tool_loop_uses_one_connection_and_sends_only_new_items(fake):
    fake.script(*(tool_step(n) for n in range(1, 5)), step(text("done")))
    provider, _ = make_provider(fake)
    loop = Loop(provider)
    for _ in range(5):
        loop.call()
    provider.close()
    assert loop.results[-1].text == "done"
    assert fake.ws_connections == 1
    sent = frames(fake)
    assert len(sent) == 5 and len({f.connection_id for f in sent}) == 1
    assert "previous_response_id" not in wire_json(sent[0])
    for n in range(1, 5):
        frame = wire_json(sent[n])
        assert frame["previous_response_id"] == loop.results[n - 1].response_id
        assert frame["input"] == [
            {"type": "function_call_output", "call_id": f"call_{n}", "output": "file text"}
        ]
        meta = loop.results[n].transport
        assert meta["continuation_attempted"] and meta["used_previous_response_id"]
        assert meta["continuation_reset_reason"] is None
        assert meta["bytes_sent"] == sent[n].bytes_received
        # the server's view of the input is exactly the History's
        assert sent[n].extra["effective_input"][-1] == frame["input"][-1]
    assert fake.steps_left == 0


def test_a_model_change_sends_the_full_body(fake):
    fake.script(tool_step(1), step(text("done")))
    provider, _ = make_provider(fake)
    loop = Loop(provider)
    loop.call()
    loop.items = [i for i in loop.items if i.get("type") != "reasoning"]  # bound to gpt-5.5
    result = loop.call(model="gpt-5.4")
    provider.close()
    assert result.transport["continuation_reset_reason"] == "model_changed"
    assert result.transport["used_previous_response_id"] is False
    assert "previous_response_id" not in wire_json(frames(fake)[1])


def test_previous_response_not_found_resends_the_full_body_once_on_the_same_connection(fake):
    fake.script(tool_step(1), step(text("done")))
    fake.configure(ws_cache_misses=1)
    provider, sleeps = make_provider(fake)
    loop = Loop(provider)
    loop.call()
    result = loop.call()
    provider.close()
    assert result.text == "done"
    meta = result.transport
    assert meta["continuation_attempted"] is True
    assert meta["used_previous_response_id"] is False
    assert meta["continuation_reset_reason"] == "previous_response_not_found"
    assert meta["attempts"] == 1 and sleeps == []
    first, continued, resent = frames(fake)
    assert continued.status == 400 and "previous_response_id" in wire_json(continued)
    assert "previous_response_id" not in wire_json(resent)
    assert len(wire_json(resent)["input"]) == len(loop.items) - 1  # the whole History
    assert meta["bytes_sent"] == continued.bytes_received + resent.bytes_received
    assert fake.ws_connections == 1
    assert first.connection_id == continued.connection_id == resent.connection_id


def test_the_connection_limit_reconnects_and_resends_the_full_body(fake):
    fake.script(tool_step(1), tool_step(2), step(text("done")))
    fake.configure(ws_mode="connection_limit", ws_limit_after=2)
    provider, _ = make_provider(fake)
    loop = Loop(provider)
    loop.call()
    loop.call()
    result = loop.call()
    provider.close()
    assert result.text == "done"
    assert result.transport["continuation_reset_reason"] == "websocket_connection_limit_reached"
    assert result.transport["used_previous_response_id"] is False
    assert result.transport["attempts"] == 1
    assert fake.ws_connections == 2
    sent = frames(fake)
    assert [wire_json(f).get("previous_response_id") is not None for f in sent] == [
        False,
        True,
        True,  # refused: the connection is at its limit
        False,
    ]
    assert sent[2].status == 400 and sent[3].connection_id != sent[2].connection_id


def test_a_failed_call_forgets_the_cache(fake):
    """The server drops its cached response when a call fails; the next call is full."""
    fake.script(tool_step(1), step(fault=usage_limit()), step(text("done")))
    provider, _ = make_provider(fake)
    loop = Loop(provider)
    loop.call()
    with pytest.raises(PixirError) as err:
        loop.call()
    assert err.value.kind == "usage_limit_reached" and err.value.exit_code == 7
    result = loop.call()
    provider.close()
    assert result.transport["continuation_reset_reason"] == "previous_call_failed"
    assert result.transport["used_previous_response_id"] is False
    assert fake.ws_connections == 1  # an error frame leaves the socket usable


def test_an_idle_connection_closed_by_the_server_is_reopened_once(fake):
    """A socket that ends before any frame of a later call was closed while tools ran: a
    new connection and the full body, not a failure."""
    fake.script(tool_step(1), step(text("never"), fault=cut(after_events=0)), step(text("done")))
    provider, sleeps = make_provider(fake)
    loop = Loop(provider)
    loop.call()
    result = loop.call()
    provider.close()
    assert result.text == "done" and sleeps == []
    assert result.transport["continuation_reset_reason"] == "reconnected"
    assert result.transport["attempts"] == 1
    assert fake.ws_connections == 2


# -- failures ---------------------------------------------------------------------------------


def test_a_close_before_the_terminal_event_is_websocket_closed_and_retried(fake):
    fake.script(step(text("part", deltas=["pa", "rt"]), fault=cut(after_events=5)))
    fake.script(step(text("whole")))
    provider, sleeps = make_provider(fake)
    retries = []
    result = provider.stream(body([user("hi")]), lambda d: d[0] == "retry" and retries.append(d))
    provider.close()
    assert result.text == "whole"
    [(_, info)] = retries
    assert info["error_kind"] == "websocket_closed" and info["text_streamed"] is True
    assert result.transport["attempts"] == 2 and len(sleeps) == 1
    assert fake.ws_connections == 2
    assert result.transport["continuation_reset_reason"] == "reconnected"


def test_a_binary_frame_is_websocket_closed(fake):
    fake.script(step(text("x"), fault={"type": "binary_frame", "after_events": 3}))
    provider, _ = make_provider(fake, max_retries=0)
    with pytest.raises(PixirError) as err:
        provider.stream(body([user("hi")]))
    provider.close()
    assert err.value.kind == "websocket_closed" and err.value.retryable
    assert "binary frame" in err.value.message


def test_a_close_frame_names_its_code(fake):
    fake.script(step(text("x"), fault=cut(after_events=3, clean=True)))
    provider, _ = make_provider(fake, max_retries=0)
    with pytest.raises(PixirError) as err:
        provider.stream(body([user("hi")]))
    provider.close()
    assert err.value.kind == "websocket_closed" and "code 1011" in err.value.message


def test_silence_is_an_idle_timeout_retried_once(fake):
    fake.script(step(text("slow"), fault=stall(5, after_events=3)), step(text("quick")))
    provider, _ = make_provider(fake, stream_idle_timeout_ms=300)
    result = provider.stream(body([user("hi")]))
    provider.close()
    assert result.text == "quick" and result.transport["attempts"] == 2
    assert fake.ws_connections == 2  # a response left half read is never reused


def test_error_frames_are_classified_like_http_errors(fake):
    fake.script(step(fault={"type": "context_length_exceeded"}))
    provider, _ = make_provider(fake)
    with pytest.raises(PixirError) as err:
        provider.stream(body([user("hi")]))
    provider.close()
    assert err.value.kind == "context_overflow" and err.value.details["status"] == 400


def test_a_non_json_frame_is_an_invalid_response(fake):
    fake.script(step(fault={"type": "html_200"}))
    provider, _ = make_provider(fake)
    with pytest.raises(PixirError) as err:
        provider.stream(body([user("hi")]))
    provider.close()
    assert err.value.kind == "invalid_response" and "Just a moment" in err.value.message


# -- closing and interrupting -----------------------------------------------------------------


def test_close_drops_the_socket_at_once_and_a_later_call_reconnects(fake):
    fake.script(step(text("one")), step(text("two")))
    provider, _ = make_provider(fake)
    provider.stream(body([user("hi")]))
    ws = provider.transport.ws
    sock = ws.conn.ws.sock
    provider.close()
    assert ws.conn is None and sock.fileno() == -1
    provider.close()  # twice is fine
    result = provider.stream(body([user("hi")]))
    provider.close()
    assert result.text == "two" and fake.ws_connections == 2
    assert result.transport["continuation_reset_reason"] is None  # no cache to lose


def test_an_interrupt_mid_stream_drops_the_connection(fake):
    fake.script(step(text("a long answer", deltas=["a ", "long ", "answer"])), step(text("ok")))
    provider, _ = make_provider(fake)

    def interrupt(delta):
        if delta[0] == "text":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        provider.stream(body([user("hi")]), interrupt)
    assert provider.transport.ws.conn is None
    result = provider.stream(body([user("hi")]))
    provider.close()
    assert result.text == "ok" and fake.ws_connections == 2
    assert result.transport["continuation_reset_reason"] == "reconnected"


def test_a_continuation_the_server_refuses_is_resent_whole(fake, monkeypatch):
    """Continuation is an optimisation: if the server refuses a continued call (here: a
    continuation that lost the tool result), the full body decides."""
    from pixir.provider import continuation

    fake.script(tool_step(1), step(text("done")))
    provider, sleeps = make_provider(fake)
    loop = Loop(provider)
    loop.call()
    monkeypatch.setattr(continuation, "new_items", lambda memory, items: [])
    result = loop.call()
    provider.close()
    assert result.text == "done" and sleeps == []
    assert result.transport["continuation_reset_reason"] == "continuation_rejected"
    assert result.transport["continuation_attempted"] is True
    refused, resent = frames(fake)[1:]
    assert refused.status == 400 and "previous_response_id" not in wire_json(resent)


def test_a_genuine_error_is_still_raised_after_the_full_resend(fake):
    bad = {
        "error": {"type": "invalid_request_error", "message": "Invalid 'tools'.", "param": "tools"}
    }
    fake.script(tool_step(1), *(step(fault={"type": "http", "status": 400, "body": bad}),) * 2)
    provider, _ = make_provider(fake)
    loop = Loop(provider)
    loop.call()
    with pytest.raises(PixirError) as err:
        loop.call()
    provider.close()
    assert err.value.kind == "provider_http_error" and err.value.details["status"] == 400
    assert "Invalid 'tools'." in err.value.message
    assert len(frames(fake)) == 3  # the continued call, then the full body once


def test_wss_trusts_the_ca_bundle_requests_would(monkeypatch):
    # README: REQUESTS_CA_BUNDLE / SSL_CERT_FILE as `requests` reads them, for both transports
    import certifi

    from pixir.provider.ws import _ssl_options

    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    assert _ssl_options("ws://127.0.0.1:9/v1/responses") == {}  # loopback tests: no TLS
    assert _ssl_options("wss://api.example/v1/responses") == {"ca_certs": certifi.where()}
    monkeypatch.setenv("SSL_CERT_FILE", "/etc/ssl/second.pem")
    assert _ssl_options("wss://api.example/v1/responses") == {"ca_certs": "/etc/ssl/second.pem"}
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/first.pem")
    assert _ssl_options("wss://api.example/v1/responses") == {"ca_certs": "/etc/ssl/first.pem"}


def test_a_text_frame_that_is_not_utf8_is_read_with_replacement_characters():
    """websocket-client is told not to check UTF-8 (its check is slow Python): the frame is
    decoded here, invalid bytes and escaped lone surrogates as U+FFFD — never an
    `invalid_response` for one bad byte, never a string the Log or a request cannot hold."""
    from pixir.provider.ws import Connection, WsTransport, _Progress

    class Frame:
        def __init__(self, data: bytes) -> None:
            self.data = data

    queued = iter([(1, Frame(b'{"type":"response.output_text.delta","delta":"caf\xe9 \\ud800"}'))])

    class Socket:
        def recv_data_frame(self, control_frame=False):
            return next(queued)

    transport = WsTransport(5)
    meta = {"started": 0.0, "first_byte_s": None, "bytes_received": 0}
    events = transport._events(Connection(Socket(), {}, 0.0, 1), _Progress(), meta)
    assert next(events) == {"type": "response.output_text.delta", "delta": "caf\ufffd \ufffd"}


# -- abort: another thread stops the call in flight --------------------------------------------


def test_abort_mid_stream_neither_reconnects_nor_falls_back_to_http(fake):
    import threading

    fake.script(step(text("hello"), fault=stall(60, after_events=2)))
    fake.script(step(text("next call")))
    provider, sleeps = make_provider(fake, transport="auto", max_retries=3)
    stopped = threading.Event()
    outcome: list = []

    def call():
        try:
            outcome.append(provider.stream(body([user("hi")]), None, stop=stopped.is_set))
        except PixirError as err:
            outcome.append(err)

    try:
        thread = threading.Thread(target=call, daemon=True)
        thread.start()
        assert wait_for(lambda: len(frames(fake)) == 1)
        time.sleep(0.2)
        stopped.set()
        provider.abort()
        thread.join(20)
        assert not thread.is_alive(), "the call did not end after abort()"
        assert isinstance(outcome[0], PixirError)
        assert sleeps == [] and len(fake.responses_requests()) == 1
        assert provider.transport.fallback_reason is None  # WebSocket stays the transport
        assert provider.stream(body([user("again")])).text == "next call"
        assert http_calls(fake) == []
    finally:
        provider.close()


def test_a_fragmented_message_is_joined_once_and_capped_however_many_frames():
    import websocket

    from pixir.provider import ws
    from pixir.provider.sse import MAX_EVENT_BYTES

    message = ws._Message()
    parts = [(ws.OPCODE_TEXT, b'{"type":'), (ws.OPCODE_CONT, b'"x"'), (ws.OPCODE_CONT, b"}")]
    for index, (opcode, data) in enumerate(parts):
        frame = websocket.ABNF(fin=int(index == len(parts) - 1), opcode=opcode, data=data)
        message.validate(frame)
        message.add(frame)
    assert message.is_fire(frame)
    assert message.extract(frame) == (ws.OPCODE_TEXT, frame) and frame.data == b'{"type":"x"}'
    with pytest.raises(websocket.WebSocketProtocolException):  # a continuation of nothing
        message.validate(websocket.ABNF(fin=1, opcode=ws.OPCODE_CONT, data=b""))
    big = websocket.ABNF(fin=0, opcode=ws.OPCODE_TEXT, data=b"x" * (1 << 20))
    message.add(big)
    more = websocket.ABNF(fin=0, opcode=ws.OPCODE_CONT, data=b"x" * (1 << 20))
    with pytest.raises(websocket.WebSocketProtocolException):  # a new message inside it
        message.validate(websocket.ABNF(fin=1, opcode=ws.OPCODE_TEXT, data=b""))
    with pytest.raises(PixirError) as info:
        for _ in range(MAX_EVENT_BYTES >> 20):
            message.add(more)
    assert info.value.kind == "stream_too_large"


def test_endless_empty_fragments_end_as_stream_too_large():
    import websocket

    from pixir.provider import ws
    from pixir.provider.sse import MAX_EVENT_BYTES

    message = ws._Message()
    message.add(websocket.ABNF(fin=0, opcode=ws.OPCODE_TEXT, data=b""))
    empty = websocket.ABNF(fin=0, opcode=ws.OPCODE_CONT, data=b"")
    with pytest.raises(PixirError) as info:
        for _ in range(MAX_EVENT_BYTES // ws.FRAGMENT_MIN_BYTES + 1):
            message.add(empty)
    assert info.value.kind == "stream_too_large"
