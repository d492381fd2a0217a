"""The HTTP transport against a real loopback socket: an error body is read with a 16 KiB cap
(docs/provider.md), so a server that never stops sending cannot hold pixir or fill its memory."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from pixir.errors import PixirError
from pixir.provider.classify import MAX_ERROR_BODY
from pixir.provider.http import HttpTransport


def endless_server(head: bytes):
    """A server that answers one request with `head`, then body bytes until the client goes
    away (a close-delimited body: no Content-Length, no chunking), at most 64 MiB."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve():
        conn, _ = listener.accept()
        with conn, listener:
            conn.recv(65536)
            conn.sendall(head)
            block = b'{"error": {"message": "' + b"x" * 8192
            try:
                for _ in range(64 * 128):
                    conn.sendall(block)
            except OSError:  # the client closed: what it wanted, it has
                pass

    threading.Thread(target=serve, daemon=True).start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}/v1/responses"


def test_an_endless_error_body_is_read_only_up_to_16_kib():
    url = endless_server(
        b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
    )
    started = time.monotonic()
    exchange = HttpTransport(idle_timeout_s=5).open(url, {}, b"{}")
    exchange.close(False)
    assert exchange.status == 400
    assert len(exchange.error_body) == MAX_ERROR_BODY
    assert exchange.error_body.startswith(b'{"error": {"message": "xxx')
    assert time.monotonic() - started < 5  # it stopped reading; it did not wait for the end


def test_an_endless_html_200_is_invalid_response_after_16_kib():
    url = endless_server(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n")
    started = time.monotonic()
    with pytest.raises(PixirError) as caught:
        HttpTransport(idle_timeout_s=5).open(url, {}, b"{}")
    assert caught.value.kind == "invalid_response"
    assert "expected an event stream, got text/html" in caught.value.message
    assert time.monotonic() - started < 5


# -- abort: another thread stops the call in flight --------------------------------------------


def _stream_in_thread(provider, stopped):
    """Start provider.stream on a thread; returns (thread, outcome list)."""
    from tests.unit.helpers.ws import body, user

    outcome: list = []

    def call():
        try:
            outcome.append(provider.stream(body([user("hi")]), None, stop=stopped.is_set))
        except PixirError as err:
            outcome.append(err)

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    return thread, outcome


@pytest.mark.parametrize("phase", ["before_headers", "mid_stream"])
def test_abort_ends_a_silent_call_at_once_without_retrying(fake, phase):
    """A server that says nothing (for 60 s) before the headers or in the middle of the
    stream: abort() from another thread ends the call, and `stop` keeps it from retrying."""
    from tests.fake_backend import stall, step, text
    from tests.unit.helpers.ws import make_provider

    if phase == "before_headers":
        fake.script(step(text("never"), delay_s=60))
    else:
        fake.script(step(text("never"), fault=stall(60, after_events=2)))
    fake.script(step(text("next call")))
    provider, sleeps = make_provider(fake, transport="http_sse", max_retries=3)
    stopped = threading.Event()
    try:
        thread, outcome = _stream_in_thread(provider, stopped)
        deadline = time.monotonic() + 10
        while len(fake.responses_requests()) < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)  # let it block on the socket
        stopped.set()
        provider.abort()
        thread.join(20)
        assert not thread.is_alive(), "the call did not end after abort()"
        assert isinstance(outcome[0], PixirError)
        assert sleeps == [] and len(fake.responses_requests()) == 1  # no retry
        # the Provider stays usable: the next call opens a new connection
        from tests.unit.helpers.ws import body, user

        assert provider.stream(body([user("again")])).text == "next call"
    finally:
        provider.close()


def test_a_stop_made_while_the_socket_was_connecting_shuts_it_once_connected(fake):
    """The race `abort` alone cannot win: the stop comes while the connection is being made
    (no socket yet to shut). The transport checks the stop once the socket is up."""
    from tests.fake_backend import step, text
    from tests.unit.helpers.ws import body, user

    fake.script(step(text("never"), delay_s=60))
    transport = HttpTransport(idle_timeout_s=120)
    answers = iter([False])  # not stopped when the call starts, stopped from then on
    try:
        with pytest.raises(PixirError):
            exchange = transport.open(
                fake.openai_base_url + "/responses",
                {"Authorization": f"Bearer {fake.api_key}", "content-type": "application/json"},
                json.dumps(body([user("hi")])).encode(),
                stop=lambda: next(answers, True),
            )
            list(exchange.events)  # without the check: the answer after 60 s, no error
    finally:
        transport.close()


def test_a_call_stopped_before_it_starts_sends_nothing(fake):
    from tests.unit.helpers.ws import body, make_provider, user

    for preference in ("http_sse", "auto"):
        provider, sleeps = make_provider(fake, transport=preference, max_retries=3)
        try:
            with pytest.raises(PixirError):
                provider.stream(body([user("hi")]), None, stop=lambda: True)
            assert sleeps == []
            if preference == "auto":
                assert provider.transport.fallback_reason is None
        finally:
            provider.close()
    assert fake.responses_requests() == []


def test_liveness_counts_only_what_moves_the_response_as_progress():
    from pixir.provider.http import ITEM_BUDGET, PREAMBLE_BUDGET, Liveness

    now = [0.0]
    live = Liveness(1.5, clock=lambda: now[0])

    def at(seconds: float, **event) -> None:
        now[0] += seconds
        live.event(event)

    for _ in range(PREAMBLE_BUDGET):  # a response's first few status events count
        at(1.0, type="response.in_progress")
    at(1.0, type="keepalive")  # never progress
    at(0.0, type="response.output_text.delta", delta="")  # an empty delta is none either
    at(0.0, type=["not", "a", "string"])
    at(0.4, type="response.output_text.delta", delta="x")  # 1.4 s: text, the clock restarts
    at(1.0, type="response.output_item.added")  # an item earns its parts and statuses
    for _ in range(ITEM_BUDGET):
        at(1.0, type="response.content_part.done")
    at(1.0, type="response.content_part.done")  # past the budget: no progress
    with pytest.raises(PixirError) as info:
        at(0.6, type="response.foo")  # 1.6 s since the last thing that counted
    assert info.value.kind == "stream_idle_timeout" and info.value.exit_code == 124
    assert "no output" in info.value.message
