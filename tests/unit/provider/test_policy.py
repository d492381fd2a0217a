"""The transport policy (docs/provider.md): `auto` falls back to HTTP/SSE for the process when the
upgrade fails or the socket dies before any output, and never hides a provider error;
`websocket` fails clearly; `http_sse` never opens a socket."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
from urllib.parse import urlsplit

import pytest

from pixir.config import Settings
from pixir.errors import PixirError
from pixir.provider.client import Provider
from pixir.provider.policy import Policy, Request
from tests.fake_backend import cut, step, text, usage_limit
from tests.unit.helpers.ws import (
    Key,
    Loop,
    body,
    frames,
    handshakes,
    http_calls,
    make_provider,
    user,
)


@pytest.mark.parametrize(("mode", "status"), [("refuse_404", 404), ("refuse_426", 426)])
def test_auto_replays_a_refused_upgrade_over_http_and_stays_there(fake, mode, status):
    fake.configure(ws_mode=mode)
    fake.script(step(text("one")), step(text("two")))
    provider, sleeps = make_provider(fake, transport="auto")
    first = provider.stream(body([user("hi")]))
    second = provider.stream(body([user("hi")]))
    provider.close()
    assert (first.text, second.text) == ("one", "two")
    reason = f"websocket_upgrade_refused: HTTP {status}"
    for result in (first, second):
        meta = result.transport
        assert meta["transport_preference"] == "auto"
        assert meta["active_transport"] == "http_sse"
        assert meta["fallback_reason"] == reason
        assert meta["attempts"] == 1
    assert first.transport["bytes_sent"] == len(http_calls(fake)[0].body)
    assert len(handshakes(fake)) == 1 and len(http_calls(fake)) == 2 and sleeps == []
    assert provider.transport.name == "http_sse"


@pytest.mark.parametrize(("mode", "status"), [("refuse_404", 404), ("refuse_426", 426)])
def test_websocket_only_fails_clearly_on_a_refused_upgrade(fake, mode, status):
    fake.configure(ws_mode=mode)
    provider, sleeps = make_provider(fake, transport="websocket")
    with pytest.raises(PixirError) as err:
        provider.stream(body([user("hi")]))
    provider.close()
    e = err.value
    assert e.kind == "websocket_connect_failed" and e.exit_code == 1
    assert e.details["status"] == status and f"HTTP {status}" in e.message
    assert not e.retryable and sleeps == [] and "--transport" in e.hint
    assert not http_calls(fake)


def test_http_sse_never_opens_a_socket(fake):
    fake.script(step(text("one")))
    provider, _ = make_provider(fake, transport="http_sse")
    result = provider.stream(body([user("hi")]))
    provider.close()
    assert result.transport["active_transport"] == "http_sse"
    assert result.transport["fallback_reason"] is None
    assert not handshakes(fake) and provider.transport.ws is None


def test_auto_replays_a_socket_that_died_before_any_output_over_http(fake):
    fake.configure(ws_mode="close_mid_stream")  # after response.created + in_progress
    fake.script(step(text("fine over http")), step(text("still http")))
    provider, sleeps = make_provider(fake, transport="auto")
    deltas = []
    result = provider.stream(body([user("hi")]), deltas.append)
    assert result.text == "fine over http"
    assert [k for k, _ in deltas] == ["text"] * len(deltas)  # no retry was announced
    meta = result.transport
    assert meta["active_transport"] == "http_sse" and meta["attempts"] == 1 and sleeps == []
    assert meta["fallback_reason"].startswith("websocket_closed:")
    [frame] = frames(fake)
    [post] = http_calls(fake)
    assert meta["bytes_sent"] == frame.bytes_received + len(post.body)
    later = provider.stream(body([user("hi")]))
    provider.close()
    assert later.transport["active_transport"] == "http_sse" and len(handshakes(fake)) == 1


def test_after_output_a_dead_socket_is_a_retry_and_auto_moves_to_http(fake):
    fake.script(step(text("partial", deltas=["par", "tial"]), fault=cut(after_events=5)))
    fake.script(step(text("complete")))
    provider, sleeps = make_provider(fake, transport="auto")
    retries = []
    result = provider.stream(body([user("hi")]), lambda d: d[0] == "retry" and retries.append(d))
    provider.close()
    assert result.text == "complete"
    [(_, info)] = retries
    assert info["error_kind"] == "websocket_closed" and info["text_streamed"] is True
    meta = result.transport
    assert meta["attempts"] == 2 and len(sleeps) == 1
    assert meta["active_transport"] == "http_sse"
    assert meta["fallback_reason"].startswith("websocket_closed:")
    assert len(handshakes(fake)) == 1 and len(http_calls(fake)) == 1


def test_websocket_only_retries_a_socket_that_died_before_output_on_a_new_socket(fake):
    fake.script(step(text("x"), fault=cut(after_events=2)), step(text("ok")))
    provider, sleeps = make_provider(fake, transport="websocket")
    result = provider.stream(body([user("hi")]))
    provider.close()
    assert result.text == "ok" and result.transport["attempts"] == 2 and len(sleeps) == 1
    assert result.transport["fallback_reason"] is None
    assert fake.ws_connections == 2 and not http_calls(fake)


def test_auto_never_hides_a_provider_error_behind_a_fallback(fake):
    fake.script(step(fault=usage_limit("pro", 600)))
    provider, _ = make_provider(fake, transport="auto")
    with pytest.raises(PixirError) as err:
        provider.stream(body([user("hi")]))
    # an API key (make_provider's credential) has a usage limit, not a ChatGPT plan
    assert err.value.kind == "usage_limit_reached"
    assert err.value.message.startswith("The API key's usage limit was reached.")
    assert not http_calls(fake)
    fake.script(step(text("later")))
    result = provider.stream(body([user("hi")]))
    provider.close()
    assert result.transport["active_transport"] == "websocket"  # no fallback happened
    assert result.transport["fallback_reason"] is None


def test_auto_does_not_fall_back_on_a_refused_credential(fake):
    provider, _ = make_provider(fake, transport="auto", key="sk-wrong")
    with pytest.raises(PixirError) as err:
        provider.stream(body([user("hi")]))
    provider.close()
    assert err.value.kind == "not_authenticated" and err.value.details["status"] == 401
    assert provider.credential.recoveries == 1
    assert len(handshakes(fake)) == 1 and not http_calls(fake)


def test_a_recovered_credential_upgrades_again(fake):
    """A 401 at the upgrade goes through the credential's recovery, then a new upgrade."""

    class Rotating(Key):
        def recover_unauthorized(self):
            self.recoveries += 1
            self.key = fake.api_key
            return True

    fake.script(step(text("in")))
    provider, _ = make_provider(fake, transport="auto")
    provider.credential = Rotating("sk-stale")
    result = provider.stream(body([user("hi")]))
    provider.close()
    assert result.text == "in" and result.transport["active_transport"] == "websocket"
    assert [h.status for h in handshakes(fake)] == [401, 101] and not http_calls(fake)


def test_an_unreachable_host_under_websocket_only_is_a_network_error():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Settings(
        transport="websocket", openai_base_url=f"http://127.0.0.1:{port}/v1", max_retries=0
    )
    provider = Provider(settings, Key("sk-x"), "s", sleep=lambda s: None)
    with pytest.raises(PixirError) as err:
        provider.stream(body([user("hi")]))
    provider.close()
    assert err.value.kind == "network" and err.value.retryable


def front_that_hangs_up_on_upgrades(fake) -> str:
    """A loopback front for `fake`: an upgrade request (GET) gets its connection closed
    mid-handshake, anything else is relayed to the fake. Returns the front's base URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = urlsplit(fake.openai_base_url).port

    def pipe(src, dst):
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def serve():
        while True:
            client, _ = listener.accept()
            if client.recv(3, socket.MSG_PEEK) == b"GET":
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", port))
            threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
            threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}/v1"


def test_auto_replays_a_torn_handshake_over_http_and_stays_there(fake):
    """Not a refusal with a status: the connection dies during the upgrade (a middlebox
    that drops WebSocket). `auto` replays over HTTP/SSE; `websocket` says `network`."""
    fake.script(step(text("one")), step(text("two")))
    base = front_that_hangs_up_on_upgrades(fake)
    sleeps: list[float] = []
    settings = Settings(transport="auto", openai_base_url=base)
    provider = Provider(settings, Key(fake.api_key), "s", sleep=sleeps.append)
    first = provider.stream(body([user("hi")]))
    second = provider.stream(body([user("hi")]))
    provider.close()
    assert (first.text, second.text) == ("one", "two")
    for result in (first, second):
        assert result.transport["active_transport"] == "http_sse"
        assert result.transport["fallback_reason"].startswith("websocket_connect_failed:")
        assert result.transport["attempts"] == 1
    assert len(http_calls(fake)) == 2 and not handshakes(fake) and sleeps == []
    settings = Settings(transport="websocket", openai_base_url=base, max_retries=0)
    only_ws = Provider(settings, Key(fake.api_key), "s", sleep=sleeps.append)
    with pytest.raises(PixirError) as err:
        only_ws.stream(body([user("hi")]))
    only_ws.close()
    assert err.value.kind == "network" and len(http_calls(fake)) == 2


def test_a_fallback_mid_loop_replays_the_full_body_over_http(fake):
    """After the fallback the History goes over HTTP whole: no previous_response_id."""
    from tests.fake_backend import reasoning, tool_call

    fake.script(step(reasoning("r"), tool_call("read", {"path": "a"}, call_id="call_1")))
    fake.script(step(text("done")))
    provider, _ = make_provider(fake, transport="auto")
    loop = Loop(provider)
    loop.call()
    fake.configure(ws_mode="close_mid_stream")
    result = loop.call()
    provider.close()
    assert result.text == "done" and result.transport["active_transport"] == "http_sse"
    [post] = http_calls(fake)
    assert "previous_response_id" not in post.json
    assert post.json["input"][-1]["type"] == "function_call_output"


def test_policy_defaults_and_names():
    assert Policy("http_sse", 1.0).name == "http_sse"
    assert Policy("auto", 1.0).name == "websocket"
    assert Policy("nonsense", 1.0).preference == "auto"
    request = Request({"a": 1})
    assert request.payload == b'{"a":1}' and request.payload is request.payload


def test_a_websocket_call_needs_neither_requests_nor_a_full_body_serialisation(fake):
    """Start-up and per-step cost: `auto` over WebSocket never imports `requests`."""
    fake.script(step(text("pong")))
    code = f"""
import sys
from pixir.config import Settings
from pixir.provider.client import Provider
from tests.unit.helpers.ws import Key, body, user
settings = Settings(transport="auto", openai_base_url={fake.openai_base_url!r})
provider = Provider(settings, Key({fake.api_key!r}), "s")
result = provider.stream(body([user("hi")]))
provider.close()
assert result.text == "pong", result.text
assert "requests" not in sys.modules, "requests was imported"
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
