"""Error classification: every rule of docs/provider.md ("Classification"), for HTTP bodies,
in-stream events and WebSocket error frames."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from pixir.errors import exit_code_for
from pixir.provider.classify import (
    MAX_ERROR_BODY,
    classify_event,
    classify_http,
    parse_error_body,
    retry_after,
)


def api_error(message, type_="invalid_request_error", code=None, **more):
    return json.dumps(
        {"error": {"message": message, "type": type_, "param": None, "code": code, **more}},
        indent=2,
    )


# 1. usage limit --------------------------------------------------------------------------


def test_usage_limit_with_plan_and_resets_at():
    body = api_error(
        "The usage limit has been reached",
        type_="usage_limit_reached",
        plan_type="plus",
        resets_at=int(time.time()) + 600,
    )
    err = classify_http(429, body, {}, "subscription")
    assert err.kind == "usage_limit_reached"
    assert err.message == "You have hit your ChatGPT usage limit (Plus plan). Try again in ~10 min."
    assert err.retryable is False
    assert err.exit_code == 7
    assert err.details["plan_type"] == "plus"


def test_usage_limit_with_resets_in_seconds_rounds_up_to_a_minute():
    body = api_error("limit", type_="usage_limit_reached", plan_type="pro", resets_in_seconds=61)
    err = classify_http(429, body)
    assert err.message.endswith("(Pro plan). Try again in ~2 min.")


def test_usage_limit_code_without_reset_or_plan():
    err = classify_http(429, json.dumps({"error": {"code": "usage_limit_reached", "message": "x"}}))
    assert err.kind == "usage_limit_reached"
    assert err.message == "You have hit your ChatGPT usage limit."


def test_a_subscription_limit_suggests_an_api_key_and_says_how(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    body = api_error("limit", type_="usage_limit_reached", plan_type="plus", resets_in_seconds=60)
    err = classify_http(429, body, {}, "subscription")
    assert err.hint == (
        "wait for the reset, or use an API key: set OPENAI_API_KEY and pass `--auth api_key`"
    )
    monkeypatch.setenv("OPENAI_API_KEY", "sk-set")  # already set: only the flag is missing
    err = classify_http(429, body, {}, "subscription")
    assert (
        err.hint
        == "wait for the reset, or use the API key OPENAI_API_KEY holds: pass `--auth api_key`"
    )
    assert "sk-set" not in err.hint


def test_an_api_key_limit_is_no_chatgpt_plan_and_suggests_no_api_key():
    # the fake (and a gateway) can send the ChatGPT error shape to an API key, plan and all
    body = api_error("limit", type_="usage_limit_reached", plan_type="plus", resets_in_seconds=61)
    err = classify_http(429, body, {}, "api_key")
    assert err.kind == "usage_limit_reached" and err.exit_code == 7
    assert err.message == "The API key's usage limit was reached. Try again in ~2 min."
    assert "ChatGPT" not in err.message and "plan" not in err.message.lower()
    assert err.hint.startswith("wait for the reset, or raise the limits of the OpenAI account")
    assert "API key" not in err.hint and "--auth" not in err.hint
    assert err.details["resets_in_seconds"] == 61
    in_stream = classify_event(
        {"type": "error", "error": {"code": "usage_limit_reached", "message": "x"}}, "api_key"
    )
    assert in_stream.message == "The API key's usage limit was reached."


def test_usage_not_included_is_the_same_kind_with_its_own_words():
    err = classify_http(403, api_error("no", type_="usage_not_included", plan_type="free"))
    assert err.kind == "usage_limit_reached" and err.exit_code == 7
    assert "Free plan" in err.message and "does not include" in err.message


# 2. 401 ----------------------------------------------------------------------------------


def test_401_is_not_authenticated_with_the_status_for_the_refresh_path():
    err = classify_http(
        401,
        api_error("Provided authentication token is expired.", code="token_expired"),
        credential_kind="subscription",
    )
    assert err.kind == "not_authenticated" and err.exit_code == 4
    assert err.details["status"] == 401
    assert "pixir login" in err.message


def test_401_with_an_api_key_quotes_the_server_but_masks_the_key():
    body = api_error(
        "Incorrect API key provided: sk-proj-abcdefghijklmnop1234.", code="invalid_api_key"
    )
    err = classify_http(401, body, credential_kind="api_key")
    assert err.kind == "not_authenticated"
    assert "sk-proj-abcdefghijklmnop1234" not in err.message
    assert "Incorrect API key provided" in err.message


# 3. rate limits --------------------------------------------------------------------------


def test_429_with_retry_after_seconds():
    err = classify_http(
        429,
        api_error("Rate limit reached", type_="tokens", code="rate_limit_exceeded"),
        {"Retry-After": "3"},
    )
    assert err.kind == "rate_limited" and err.retryable
    assert err.details["retry_after_s"] == 3.0


def test_429_with_retry_after_http_date():
    when = datetime.now(timezone.utc) + timedelta(seconds=30)
    err = classify_http(429, "{}", {"retry-after": format_datetime(when, usegmt=True)})
    assert err.kind == "rate_limited"
    assert 25 <= err.details["retry_after_s"] <= 31


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("Please try again in 1.5s.", 1.5),
        ("Please try again in 20ms.", 0.02),
        ("try again in 1m30s", 90.0),
        ("Try again in 2 seconds", 2.0),
    ],
)
def test_try_again_in_the_message(text, seconds):
    err = classify_http(
        429, api_error(f"Rate limit reached for gpt-5.5. {text}", code="rate_limit_exceeded")
    )
    assert err.kind == "rate_limited"
    assert err.details["retry_after_s"] == pytest.approx(seconds)


def test_retry_after_header_wins_over_the_message_and_ms_header_wins_over_both():
    msg = "try again in 9s"
    assert retry_after({"retry-after": "2"}, msg) == 2.0
    assert retry_after({"retry-after-ms": "250", "retry-after": "2"}, msg) == 0.25
    assert retry_after({"retry-after": "garbage"}, msg) == 9.0
    assert retry_after({}, "no hint") is None


def test_rate_limit_exceeded_code_without_429():
    err = classify_event({"type": "error", "code": "rate_limit_exceeded", "message": "slow"})
    assert err.kind == "rate_limited"


# 4. context overflow ----------------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 413])
def test_context_length_exceeded_code(status):
    body = api_error(
        "Your input exceeds the context window of this model.", code="context_length_exceeded"
    )
    err = classify_http(status, body)
    assert err.kind == "context_overflow" and err.retryable is False


def test_context_overflow_by_message_only():
    err = classify_http(
        400, json.dumps({"detail": "Input exceeds the context window of this model"})
    )
    assert err.kind == "context_overflow"


# 5. model not supported ------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"detail": "The 'gpt-9' model is not supported when using Codex with a ChatGPT account."},
        {
            "error": {
                "message": "The model `gpt-9` does not exist or you do not have access to it.",
                "code": "model_not_found",
            }
        },
        {
            "error": {
                "message": "litellm.BadRequestError: Invalid model name passed in model=gpt-9. "
                "Call `/v1/models` to view available models for your key.",
                "type": "invalid_request_error",
                "code": "400",
            }
        },
        {"error": {"message": "gpt-9: model_not_found", "type": "invalid_request_error"}},
        {"detail": "Model gpt-9 does not exist"},
    ],
)
def test_model_not_supported(body):
    err = classify_http(400, json.dumps(body))
    assert err.kind == "model_not_supported"
    assert exit_code_for(err.kind) == 2
    assert "gpt-9" in err.message


def test_an_unknown_model_worded_as_an_in_stream_error_is_model_not_supported():
    event = {"type": "error", "error": {"message": "Invalid model name passed in model=gpt-9"}}
    assert classify_event(event).kind == "model_not_supported"


def test_does_not_exist_about_something_else_is_not_a_model_error():
    err = classify_http(400, json.dumps({"error": {"message": "The file does not exist"}}))
    assert err.kind == "provider_http_error"


# 6. quota -------------------------------------------------------------------------------


def test_insufficient_quota_is_not_retried_even_as_a_429():
    body = api_error(
        "You exceeded your current quota", type_="insufficient_quota", code="insufficient_quota"
    )
    err = classify_http(429, body, {"retry-after": "1"})
    assert err.kind == "quota_exceeded"
    assert err.retryable is False


# 7. server errors -----------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_a_retried_server_error(status):
    err = classify_http(status, api_error("The server had an error", type_="server_error"))
    assert err.kind == "server_error" and err.retryable
    assert f"HTTP {status}" in err.message


@pytest.mark.parametrize("code", ["server_is_overloaded", "slow_down"])
def test_overloaded_codes_are_server_errors(code):
    err = classify_event({"type": "error", "code": code, "message": "busy"})
    assert err.kind == "server_error" and err.retryable


def test_a_failed_response_without_a_known_code_is_retried_like_a_server_error():
    err = classify_event(
        {"type": "response.failed", "response": {"error": {"code": "weird", "message": "?"}}}
    )
    assert err.kind == "server_error" and err.retryable


def test_a_failed_response_without_an_error_object_still_says_something():
    err = classify_event({"type": "response.failed", "response": {"status": "failed"}})
    assert err.kind == "server_error" and err.message


# 8. other 4xx ---------------------------------------------------------------------------


def test_other_4xx_keeps_the_status_and_the_servers_message():
    err = classify_http(400, json.dumps({"detail": "Store must be set to false"}))
    assert err.kind == "provider_http_error"
    assert err.message == "HTTP 400: Store must be set to false"
    assert err.details["status"] == 400
    assert err.retryable is False


def test_an_in_stream_invalid_request_is_final():
    err = classify_event(
        {"type": "error", "error": {"type": "invalid_request_error", "message": "bad input"}}
    )
    assert err.kind == "provider_http_error" and err.retryable is False


# WebSocket error frames -----------------------------------------------------------------


def test_websocket_error_frame_is_classified_like_http_with_its_headers():
    frame = {
        "type": "error",
        "status": 429,
        "error": {"type": "tokens", "code": "rate_limit_exceeded", "message": "Rate limit"},
        "headers": {"retry-after": "2"},
    }
    err = classify_event(frame)
    assert err.kind == "rate_limited" and err.details["retry_after_s"] == 2.0


def test_websocket_usage_limit_frame():
    frame = {
        "type": "error",
        "status": 429,
        "error": {"type": "usage_limit_reached", "plan_type": "team", "resets_in_seconds": 120},
    }
    err = classify_event(frame)
    assert (
        err.kind == "usage_limit_reached" and "Team plan" in err.message and "~2 min" in err.message
    )


# bodies ---------------------------------------------------------------------------------


def test_html_error_body_gives_its_title():
    html = (
        "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
        "<body><h1>nginx</h1></body></html>"
    )
    err = classify_http(502, html)
    assert err.kind == "server_error"
    assert "502 Bad Gateway" in err.message and "<" not in err.message


def test_plain_text_and_empty_bodies():
    assert classify_http(418, "I'm a teapot\n").message == "HTTP 418: I'm a teapot"
    assert classify_http(503, b"").message == "server error (HTTP 503): HTTP 503 with no message"


def test_non_json_and_odd_json_bodies_never_raise():
    for body in [
        b"\xff\xfe garbage",
        "[1,2,3]",
        '{"detail": [{"msg": "x"}]}',
        '{"error": 5}',
        "null",
    ]:
        err = classify_http(400, body)
        assert err.kind == "provider_http_error"


def test_error_body_parsing_is_capped_at_16_kib():
    body = ("x" * (MAX_ERROR_BODY + 100)).encode()
    _, text = parse_error_body(body)
    assert len(text) <= 300
    assert parse_error_body(json.dumps({"detail": "short"}))[0] == {"message": "short"}


def test_long_messages_are_cut_to_one_line():
    err = classify_http(400, api_error("line one\nline two " + "y" * 1000))
    assert "\n" not in err.message and len(err.message) < 340
