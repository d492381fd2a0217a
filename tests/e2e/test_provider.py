"""`dist/pixir ping` and `dist/pixir preview` against the fake backend: the bytes on the wire,
exit codes and output, over the real-service quirks 4–9, 14 and 15 (docs/provider.md)."""

from __future__ import annotations

import json
import re
import time

import pytest

from tests.fake_backend import (
    cut,
    http_error,
    rate_limit,
    stall,
    step,
    text,
    usage_limit,
)
from tests.harness import closed_port

pytestmark = pytest.mark.e2e

FORBIDDEN = ("max_output_tokens", "prompt_cache_retention", "previous_response_id")


def ping(pixir, *args, **kw):
    """`pixir ping` over HTTP/SSE: these tests are about that wire (the WebSocket one is
    tested in test_websocket*.py)."""
    return pixir.run("ping", "--transport", "http_sse", *args, **kw)


def model_calls(fake):
    return fake.responses_requests()


# -- a good call ----------------------------------------------------------------------------


def test_ping_with_an_api_key_sends_the_right_request_and_reports(pixir, fake):
    fake.script(step(text("pong")))
    pixir.login_api_key()
    result = ping(pixir)
    assert result.code == 0, result
    assert re.search(r"^model\s+gpt-5\.5$", result.stdout, re.M), result
    assert re.search(r"^transport\s+http_sse$", result.stdout, re.M)
    assert re.search(r"^first byte\s+\d+ ms$", result.stdout, re.M)
    assert re.search(r"^total\s+\d+ ms$", result.stdout, re.M)
    assert re.search(r"^reply\s+pong$", result.stdout, re.M)
    [call] = model_calls(fake)
    assert call.path == "/v1/responses"
    h = call.headers
    assert h["authorization"] == f"Bearer {fake.api_key}"
    assert h["originator"] == "pixir"
    assert h["openai-beta"] == "responses=experimental"
    assert h["accept"] == "text/event-stream"
    assert h["content-type"] == "application/json"
    assert re.fullmatch(r"pixir/\S+ \(.+; .+\) python/\S+", h["user-agent"])
    assert re.fullmatch(r"\d{8}T\d{6}-[0-9a-f]{6}", h["session_id"])
    body = call.json
    assert body["store"] is False and body["stream"] is True
    assert body["tools"] == [] and body["prompt_cache_key"] == h["session_id"]
    assert "reasoning" not in body or "summary" not in body["reasoning"]
    assert not set(FORBIDDEN) & set(body)
    # tiny: no developer context, only the prompt; reasoning effort low unless configured
    [item] = body["input"]
    assert item["role"] == "user"
    assert body["reasoning"]["effort"] == "low"
    assert fake.api_key not in result.stdout + result.stderr


def test_ping_on_the_subscription_backend_passes_its_validation(pixir, fake):
    """Quirk 4: the backend refuses store:true, stream:false and max_output_tokens."""
    fake.script(step(text("pong")))
    auth = pixir.login_subscription()
    result = ping(pixir, "--auth", "subscription")
    assert result.code == 0, result
    [call] = model_calls(fake)
    assert call.path == "/backend-api/codex/responses" and call.status == 200
    assert call.headers["chatgpt-account-id"] == auth["account_id"]
    assert not set(FORBIDDEN) & set(call.json)


def test_ping_json(pixir, fake):
    fake.script(step(text("pong")))
    pixir.login_api_key()
    result = ping(pixir, "--json", "-m", "gpt-5.4")
    assert result.code == 0, result
    out = pixir.json_out(result)
    assert out["ok"] is True and out["model"] == "gpt-5.4" and out["transport"] == "http_sse"
    assert out["reply"] == "pong" and out["attempts"] == 1
    assert isinstance(out["first_byte_ms"], float) and isinstance(out["total_ms"], float)
    assert out["usage"]["input_tokens"] > 0
    assert model_calls(fake)[0].json["model"] == "gpt-5.4"


def test_ping_without_a_credential_is_exit_4_and_sends_nothing(pixir, fake):
    result = ping(pixir)
    assert result.code == 4, result
    assert "error: not_authenticated:" in result.stderr
    assert fake.requests == []


# -- stream shapes (quirks 5–8) ----------------------------------------------------------------


def test_quirk5_an_event_stream_without_content_type(pixir, fake):
    fake.script(step(text("pong"), content_type=False))
    pixir.login_api_key()
    result = ping(pixir)
    assert result.code == 0, result
    assert "pong" in result.stdout


def test_quirk6_keep_alive_comments_and_events(pixir, fake):
    # an SSE comment and a `keepalive` event before the answer, a comment before
    # response.completed: none of them is text, an error or the end of the stream
    fake.script(step(text("pong"), keepalive=True))
    pixir.login_api_key()
    result = ping(pixir, "--json")
    assert result.code == 0, result
    out = pixir.json_out(result)
    assert out["reply"] == "pong" and out["attempts"] == 1
    assert len(model_calls(fake)) == 1


def test_quirk7_body_left_open_after_completed_still_finishes(pixir, fake):
    fake.configure(keep_open_s=120)
    fake.script(step(text("pong"), keep_open=True))
    pixir.login_api_key()
    result = ping(pixir, timeout=30)  # a client that waits for the body to end hangs here
    assert result.code == 0, result
    assert "pong" in result.stdout


@pytest.mark.parametrize("deltas", [["pong"], []], ids=["one-delta", "only-in-item-done"])
def test_quirk8_answer_in_one_delta_or_only_in_output_item_done(pixir, fake, deltas):
    fake.script(step(text("pong", deltas=deltas)))
    pixir.login_api_key()
    result = ping(pixir, "--json")
    assert result.code == 0, result
    assert pixir.json_out(result)["reply"] == "pong"


def test_odd_chunking_cr_line_ends_bom_and_multiline_data(pixir, fake):
    fake.script(
        step(
            text("pong"),
            chunking={"random": [1, 7], "seed": 3},
            crlf="cr",
            bom=True,
            multiline_data=True,
        )
    )
    pixir.login_api_key()
    result = ping(pixir, "--json")
    assert result.code == 0, result
    assert pixir.json_out(result)["reply"] == "pong"


def test_an_html_200_is_a_structured_error(pixir, fake):
    fake.script(step(fault={"type": "html_200"}))
    pixir.login_api_key()
    result = ping(pixir)
    assert result.code == 1, result
    assert "error: invalid_response: expected an event stream, got text/html" in result.stderr
    assert "Traceback" not in result.stderr


# -- failures and retries (quirks 9, 14, 15) ---------------------------------------------------


def test_quirk9_a_cut_stream_is_retried(pixir, fake):
    fake.script(step(text("pong"), fault=cut(after_events=3)), step(text("pong")))
    pixir.login_api_key()
    result = ping(pixir, "--json")
    assert result.code == 0, result
    assert pixir.json_out(result)["attempts"] == 2
    assert len(model_calls(fake)) == 2


def test_quirk9_cut_every_time_is_stream_incomplete_when_retries_run_out(pixir, fake):
    pixir.write_config({"max_retries": 1})
    fake.script(*(step(text("pong"), fault=cut(after_events=2)) for _ in range(2)))
    pixir.login_api_key()
    result = ping(pixir)
    assert result.code == 1, result
    assert "error: stream_incomplete:" in result.stderr
    assert "gave up after 2 attempts" in result.stderr
    assert "retrying in" in result.stderr
    assert len(model_calls(fake)) == 2


def test_quirk14_usage_limit_is_exit_7_with_plan_and_reset(pixir, fake):
    fake.script(step(fault=usage_limit(plan_type="plus", resets_in_seconds=600)))
    pixir.login_subscription()
    result = ping(pixir)
    assert result.code == 7, result
    line, hint = result.stderr.splitlines()[:2]
    assert line.startswith("error: usage_limit_reached: You have hit your ChatGPT usage limit")
    assert "(Plus plan)" in line
    assert re.search(r"Try again in ~(9|10) min\.", line), line
    assert hint.startswith("hint: ") and hint.endswith(
        ", or use an API key: set OPENAI_API_KEY and pass `--auth api_key`"
    )
    assert len(model_calls(fake)) == 1  # never retried
    # with OPENAI_API_KEY already set, the hint does not ask to set it
    fake.script(step(fault=usage_limit(plan_type="plus", resets_in_seconds=600)))
    again = ping(pixir, env={"OPENAI_API_KEY": "sk-already-set"})
    assert again.code == 7, again
    hint = again.stderr.splitlines()[1]
    assert hint.endswith(", or use the API key OPENAI_API_KEY holds: pass `--auth api_key`")
    assert "sk-already-set" not in again.stderr


def test_an_api_key_usage_limit_is_no_chatgpt_plan(pixir, fake):
    """The same error shape answered to an API key: not "your ChatGPT plan", and no advice
    to use the API key it already uses."""
    fake.script(step(fault=usage_limit(plan_type="plus", resets_in_seconds=600)))
    pixir.login_api_key()
    result = ping(pixir)
    assert result.code == 7, result
    line, hint = result.stderr.splitlines()[:2]
    assert line.startswith("error: usage_limit_reached: The API key's usage limit was reached.")
    assert "ChatGPT" not in result.stderr and "plan" not in line
    assert "--auth" not in hint and "API key" not in hint
    assert "raise the limits of the OpenAI account" in hint


def test_quirk14_usage_limit_json(pixir, fake):
    fake.script(step(fault=usage_limit(plan_type="pro", resets_in_seconds=120)))
    pixir.login_subscription()
    result = ping(pixir, "--json")
    assert result.code == 7
    out = pixir.json_out(result)
    assert out["ok"] is False and out["exit_code"] == 7
    assert out["error"]["kind"] == "usage_limit_reached"
    assert out["error"]["details"]["plan_type"] == "pro"


def test_quirk15_retry_after_is_honoured(pixir, fake):
    fake.script(step(fault=rate_limit(retry_after="1", try_again_in="7s")), step(text("pong")))
    pixir.login_api_key()
    result = ping(pixir)
    assert result.code == 0, result
    assert "retrying in 1 s: rate_limited" in result.stderr
    assert len(model_calls(fake)) == 2


def test_quirk15_try_again_in_the_message_is_honoured(pixir, fake):
    fake.script(step(fault=rate_limit(retry_after=None, try_again_in="20ms")), step(text("pong")))
    pixir.login_api_key()
    result = ping(pixir)
    assert result.code == 0, result
    assert "retrying in 0.02 s: rate_limited" in result.stderr


def test_500_then_success(pixir, fake):
    fake.script(step(fault=http_error(500)), step(text("pong")))
    pixir.login_api_key()
    result = ping(pixir, "--json")
    assert result.code == 0, result
    assert pixir.json_out(result)["attempts"] == 2
    assert [c.status for c in model_calls(fake)] == [500, 200]


def test_a_stalled_stream_times_out_with_exit_124_after_one_retry(pixir, fake):
    pixir.write_config({"stream_idle_timeout_ms": 300, "max_retries": 2})
    fake.script(*(step(text("pong"), fault=stall(5, after_events=2)) for _ in range(2)))
    pixir.login_api_key()
    result = ping(pixir)
    assert result.code == 124, result
    assert "error: stream_idle_timeout: no data from the server for 0.3 s" in result.stderr
    assert len(model_calls(fake)) == 2  # the idle timeout is retried once, not max_retries


def test_any_byte_resets_the_idle_timeout(pixir, fake):
    """A slow stream is not a stalled one: 0.2 s between writes, far longer than the 0.3 s
    idle timeout in total, completes on the first attempt."""
    pixir.write_config({"stream_idle_timeout_ms": 300, "max_retries": 0})
    fake.configure(small_write_bytes=512)  # the fake pauses only after writes this small
    fake.script(step(text("pong"), chunking={"size": 512, "pause_s": 0.2}))
    pixir.login_api_key()
    started = time.monotonic()
    result = ping(pixir, "--json")
    assert result.code == 0, result
    assert pixir.json_out(result)["reply"] == "pong"
    assert time.monotonic() - started > 1.0  # the stream really outlasted the timeout
    assert len(model_calls(fake)) == 1


@pytest.mark.parametrize("transport", ["auto", "websocket", "http_sse"])
def test_a_server_nobody_listens_on_is_one_plain_line_and_a_hint(pixir, transport):
    pixir.login_api_key()
    port = closed_port()
    result = pixir.run(
        "hi", "--transport", transport, env={"OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1"}
    )
    assert result.code == 1, result
    # auto falls back to HTTP/SSE when the WebSocket cannot be opened, so both end at "reach"
    opened = "open a WebSocket to" if transport == "websocket" else "reach"
    [error, hint] = [
        line for line in result.stderr.splitlines() if line.startswith(("error:", "hint:"))
    ]
    assert error == (
        f"error: network: cannot {opened} 127.0.0.1:{port}: connection refused "
        "(gave up after 3 attempts)"
    ), result
    assert hint.startswith("hint: check the network connection and the base URL"), result


def test_plain_http_to_a_remote_host_sends_nothing(pixir, fake):
    pixir.login_api_key()
    result = ping(pixir, env={"OPENAI_BASE_URL": "http://example.com/v1"})
    assert result.code == 2, result
    assert "error: insecure_transport:" in result.stderr
    assert fake.requests == []


def test_the_debug_wire_log_never_shows_the_key(pixir, fake):
    fake.script(step(text("pong")))
    pixir.login_api_key()
    result = ping(pixir, env={"PIXIR_DEBUG": "1"})
    assert result.code == 0, result
    assert "POST http://127.0.0.1" in result.stderr and "HTTP 200" in result.stderr
    assert fake.api_key not in result.stderr + result.stdout


# -- preview ------------------------------------------------------------------------------------


def test_preview_json_is_the_body_with_no_credential_and_no_network(pixir, fake):
    pixir.write_file("AGENTS.md", "Always run the tests.\n")
    result = pixir.run("preview", "fix the bug", "--json")
    assert result.code == 0, result
    out = pixir.json_out(result)
    body = out["body"]
    assert out["method"] == "POST" and out["url"] == fake.chatgpt_base_url + "/responses"
    assert out["credential_found"] is False
    assert body["store"] is False and body["stream"] is True
    assert not set(FORBIDDEN) & set(body)
    assert [t["name"] for t in body["tools"]] == ["read", "write", "edit", "bash", "update_plan"]
    assert body["input"][0]["role"] == "developer"
    context = body["input"][0]["content"][0]["text"]
    assert str(pixir.workspace) in context and "Always run the tests." in context
    assert body["input"][1] == {
        "role": "user",
        "content": [{"type": "input_text", "text": "fix the bug"}],
    }
    assert out["headers"]["Authorization"] == "Bearer [redacted]"
    assert out["headers"]["originator"] == "pixir"
    assert fake.requests == []


def test_preview_with_an_api_key_redacts_it(pixir, fake):
    result = pixir.run("preview", "hi", env={"OPENAI_API_KEY": fake.api_key})
    assert result.code == 0, result
    assert result.stdout.startswith(f"POST {fake.openai_base_url}/responses\n")
    assert "Authorization: Bearer [redacted]" in result.stdout
    assert fake.api_key not in result.stdout + result.stderr
    body = json.loads(result.stdout.split("\n\n", 1)[1])
    assert "reasoning" not in body  # API key: no summary by default
    assert fake.requests == []


def test_preview_follows_the_mode_and_output_schema_flags(pixir, fake):
    pixir.write_file("schema.json", json.dumps({"type": "object", "properties": {}}))
    base = pixir.json_out(pixir.run("preview", "x", "--json"))["body"]
    ro = pixir.json_out(
        pixir.run("preview", "x", "--json", "--read-only", "--output-schema", "schema.json")
    )["body"]
    assert ro["instructions"] != base["instructions"]
    assert "read-only" in ro["instructions"]
    assert ro["text"]["format"]["schema"] == {"type": "object", "properties": {}}
    assert fake.requests == []


def test_preview_of_a_session_is_the_body_its_resume_sends(pixir, fake):
    """Same code path as a real call: what `preview --session` prints is byte for
    byte the body `resume` then sends, and the header names match, values aside."""
    pixir.write_file("AGENTS.md", "Always run the tests.\n")
    pixir.login_api_key()
    fake.script(step(text("First answer.")), step(text("Second answer.")))
    first = pixir.run("first question", "--transport", "http_sse", "--json")
    assert first.code == 0, first
    sid = pixir.json_out(first)["session_id"]
    shown = pixir.run("preview", "next question", "--session", sid, "--json")
    assert shown.code == 0, shown
    preview = pixir.json_out(shown)
    resumed = pixir.run("resume", sid, "next question", "--transport", "http_sse")
    assert resumed.code == 0, resumed
    sent = model_calls(fake)[-1]
    assert sent.json == preview["body"]
    # the prompt cache key is the root session's, the same before and after the resume
    assert sent.json["prompt_cache_key"] == model_calls(fake)[0].json["prompt_cache_key"] == sid
    assert preview["url"].endswith(sent.path)
    missing = [k for k in preview["headers"] if sent.headers.get(k.lower()) is None]
    assert missing == [], missing
    assert preview["headers"]["session_id"] == sent.headers["session_id"] == sid
    assert fake.api_key not in shown.stdout + shown.stderr


def test_preview_of_a_missing_session_is_not_found(pixir):
    result = pixir.run("preview", "--session", "20261121T143000-a1b2c3")
    assert result.code == 2
    assert "error: not_found:" in result.stderr
