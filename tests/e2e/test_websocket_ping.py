"""`dist/pixir ping` over the WebSocket transport and the auto policy (docs/provider.md, quirks
12–16), asserted on the fake's records and exit codes."""

from __future__ import annotations

import re
import time

import pytest

from tests.fake_backend import cut, step, text, usage_limit
from tests.unit.helpers.ws import frames, handshakes, http_calls

pytestmark = pytest.mark.e2e


def wait_for(predicate, timeout: float = 5.0) -> bool:
    """The fake reads a closing socket on its own thread: give it a moment."""
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.01)
    return predicate()


def test_auto_pings_over_websocket_and_closes_the_socket_itself(pixir, fake):
    fake.script(step(text("pong")))
    pixir.login_api_key()
    result = pixir.run("ping")
    assert result.code == 0, result
    assert re.search(r"^transport\s+websocket$", result.stdout, re.M)
    assert re.search(r"^reply\s+pong$", result.stdout, re.M)
    [shake] = handshakes(fake)
    assert shake.status == 101 and shake.path == "/v1/responses"
    assert shake.headers["openai-beta"] == "responses_websockets=2026-02-06"
    assert shake.headers["authorization"] == f"Bearer {fake.api_key}"
    assert shake.headers["originator"] == "pixir"
    assert re.fullmatch(r"\d{8}T\d{6}-[0-9a-f]{6}", shake.headers["session_id"])
    [frame] = frames(fake)
    assert frame.json["type"] == "response.create" and "stream" not in frame.json
    assert frame.json["store"] is False and "previous_response_id" not in frame.json
    assert not http_calls(fake)
    # pixir ended the socket with a close frame before exiting, not the OS at exit (quirk 16);
    # the fake never closes an idle WebSocket on its own
    assert wait_for(lambda: (shake.connection_id, "close_frame") in fake.ws_closes)


def test_subscription_ping_over_websocket(pixir, fake):
    fake.script(step(text("pong")))
    auth = pixir.login_subscription()
    result = pixir.run("ping", "--json")
    assert result.code == 0, result
    assert pixir.json_out(result)["transport"] == "websocket"
    [shake] = handshakes(fake)
    assert shake.path == "/backend-api/codex/responses"
    assert shake.headers["chatgpt-account-id"] == auth["account_id"]
    [frame] = frames(fake)
    assert frame.status == 200 and "instructions" in frame.json  # the gateway's own checks


@pytest.mark.parametrize(("mode", "status"), [("refuse_404", 404), ("refuse_426", 426)])
def test_auto_completes_over_sse_when_the_upgrade_is_refused(pixir, fake, mode, status):
    fake.configure(ws_mode=mode)
    fake.script(step(text("pong")))
    pixir.login_api_key()
    result = pixir.run("ping", "--json")
    assert result.code == 0, result
    assert pixir.json_out(result)["transport"] == "http_sse"
    assert [h.status for h in handshakes(fake)] == [status]
    [post] = http_calls(fake)
    assert post.status == 200 and post.json["stream"] is True


@pytest.mark.parametrize(("mode", "status"), [("refuse_404", 404), ("refuse_426", 426)])
def test_websocket_only_fails_with_websocket_connect_failed(pixir, fake, mode, status):
    fake.configure(ws_mode=mode)
    pixir.login_api_key()
    result = pixir.run("ping", "--transport", "websocket")
    assert result.code == 1, result
    assert re.search(rf"^error: websocket_connect_failed: .*HTTP {status}", result.stderr, re.M)
    assert not http_calls(fake) and len(handshakes(fake)) == 1
    as_json = pixir.run("ping", "--transport", "websocket", "--json")
    assert as_json.code == 1
    error = pixir.json_out(as_json)["error"]
    assert error["kind"] == "websocket_connect_failed" and error["details"]["status"] == status


def test_auto_never_hides_a_provider_error_behind_a_fallback(pixir, fake):
    """An error frame is the provider speaking, not a broken socket: under `auto` the usage
    limit is exit 7 with its plan, nothing is replayed over HTTP/SSE, and the socket is
    closed on this error path too (as on every path)."""
    fake.script(step(fault=usage_limit(plan_type="pro", resets_in_seconds=600)))
    pixir.login_subscription()
    result = pixir.run("ping")
    assert result.code == 7, result
    line = result.stderr.splitlines()[0]
    assert line.startswith("error: usage_limit_reached: You have hit your ChatGPT usage limit")
    assert "(Pro plan)" in line
    assert len(frames(fake)) == 1 and not http_calls(fake)
    # the error path closes the socket too, with a close frame, before the process exits
    [shake] = handshakes(fake)
    assert wait_for(lambda: (shake.connection_id, "close_frame") in fake.ws_closes)


def test_the_transport_comes_from_the_environment_and_config(pixir, fake):
    fake.configure(ws_mode="refuse_426")
    pixir.login_api_key()
    pixir.write_config({"transport": "websocket"})
    assert pixir.run("ping").code == 1  # config: websocket only
    fake.script(step(text("pong")))
    env = pixir.run("ping", "--json", env={"PIXIR_TRANSPORT": "http_sse"})
    assert env.code == 0 and pixir.json_out(env)["transport"] == "http_sse"
    assert len(handshakes(fake)) == 1  # http_sse never tried the upgrade


def test_a_socket_closed_before_any_output_falls_back_to_sse(pixir, fake):
    fake.configure(ws_mode="close_mid_stream")  # after response.created + in_progress
    fake.script(step(text("pong")))
    pixir.login_api_key()
    result = pixir.run("ping", "--json")
    assert result.code == 0, result
    out = pixir.json_out(result)
    assert out["transport"] == "http_sse" and out["attempts"] == 1
    assert len(frames(fake)) == 1 and len(http_calls(fake)) == 1


def test_a_socket_closed_after_output_is_retried(pixir, fake):
    fake.script(step(text("po", deltas=["p", "o"]), fault=cut(after_events=5)))
    fake.script(step(text("pong")))
    pixir.login_api_key()
    result = pixir.run("ping")
    assert result.code == 0, result
    assert "retrying in" in result.stderr and "websocket_closed" in result.stderr
    assert re.search(r"^reply\s+pong$", result.stdout, re.M)
    assert re.search(r"^attempts\s+2$", result.stdout, re.M)


def test_a_socket_closed_after_output_every_time_is_exit_1(pixir, fake):
    pixir.login_api_key()
    for _ in range(3):
        fake.script(step(text("po", deltas=["p", "o"]), fault=cut(after_events=5)))
    result = pixir.run("ping", "--transport", "websocket")
    assert result.code == 1, result
    assert (
        "error: websocket_closed:" in result.stderr and "gave up after 3 attempts" in result.stderr
    )
    assert len(handshakes(fake)) == 3 and not http_calls(fake)


def test_the_debug_wire_log_over_websocket_never_shows_the_key(pixir, fake):
    fake.script(step(text("pong")))
    pixir.login_api_key()
    result = pixir.run("ping", env={"PIXIR_DEBUG": "1"})
    assert result.code == 0, result
    assert (
        "ws connect ws://127.0.0.1" in result.stderr
        and "ws event response.completed" in result.stderr
    )
    assert fake.api_key not in result.stdout + result.stderr
    assert "[redacted]" in result.stderr
