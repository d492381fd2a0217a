"""The Provider over HTTP/SSE with `requests` mocked: endpoints and headers (docs/provider.md),
401 recovery, retries, and wire failures as structured errors."""

from __future__ import annotations

import dataclasses
import json

import pytest
import requests
import responses

from pixir.config import Settings
from pixir.errors import PixirError
from pixir.provider.client import Provider, base_headers, endpoint, user_agent
from pixir.provider.http import Exchange

API_URL = "https://api.openai.com/v1/responses"
SUB_URL = "https://chatgpt.com/backend-api/codex/responses"
BODY = {"model": "gpt-5.5", "input": [], "store": False, "stream": True}


class Cred:
    """A Credential double: records 401 recoveries and rotates its token on recovery."""

    def __init__(self, kind="api_key", can_recover=False):
        self.kind = kind
        self.can_recover = can_recover
        self.token = "tok-1"
        self.recoveries = 0

    def headers(self):
        headers = {"Authorization": f"Bearer {self.token}"}
        if self.kind == "subscription":
            headers["chatgpt-account-id"] = "acct-1"
        return headers

    def recover_unauthorized(self):
        self.recoveries += 1
        if self.can_recover:
            self.token = "tok-2"
        return self.can_recover


def sse(*events, done=True) -> bytes:
    out = b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)
    return out


def completed(text="ok"):
    return sse(
        {"type": "response.created", "response": {"id": "resp_1", "model": "gpt-5.5"}},
        {"type": "response.output_text.delta", "delta": text},
        {
            "type": "response.output_item.done",
            "item": {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text}],
            },
        },
        {
            "type": "response.completed",
            "response": {"id": "resp_1", "usage": {"input_tokens": 10, "output_tokens": 2}},
        },
    )


def stream_reply(body: bytes, status=200, content_type="text/event-stream", headers=None):
    return dict(body=body, status=status, content_type=content_type, headers=headers or {})


def error_reply(status, payload, headers=None):
    return dict(
        body=json.dumps(payload),
        status=status,
        content_type="application/json",
        headers=headers or {},
    )


@pytest.fixture
def mock():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def make(settings=None, cred=None, **kw):
    """A Provider over HTTP/SSE only (these tests mock `requests`; the WebSocket side and
    the auto policy are tested in test_ws*.py and test_policy*.py)."""
    sleeps = []
    settings = settings or Settings()
    if settings.transport == "auto":
        settings = dataclasses.replace(settings, transport="http_sse")
    provider = Provider(
        settings, cred or Cred(), "sess-1", sleep=sleeps.append, rng=lambda: 0.5, **kw
    )
    return provider, sleeps


# -- endpoints and headers ----------------------------------------------------------------


def test_endpoint_per_credential_kind():
    settings = Settings()
    assert endpoint(settings, "api_key") == API_URL
    assert endpoint(settings, "subscription") == SUB_URL
    custom = Settings(
        openai_base_url="http://127.0.0.1:9/v1", chatgpt_base_url="http://localhost:9/c"
    )
    assert endpoint(custom, "api_key") == "http://127.0.0.1:9/v1/responses"
    assert endpoint(custom, "subscription") == "http://localhost:9/c/responses"


def test_headers_on_the_wire_for_a_subscription(mock):
    mock.add(responses.POST, SUB_URL, **stream_reply(completed()))
    provider, _ = make(cred=Cred("subscription"))
    result = provider.stream(BODY)
    sent = mock.calls[0].request
    assert sent.headers["Authorization"] == "Bearer tok-1"
    assert sent.headers["chatgpt-account-id"] == "acct-1"
    assert sent.headers["originator"] == "pixir"
    assert sent.headers["session_id"] == "sess-1"
    assert sent.headers["OpenAI-Beta"] == "responses=experimental"
    assert sent.headers["accept"] == "text/event-stream"
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["User-Agent"] == user_agent()
    assert json.loads(sent.body) == BODY
    assert result.text == "ok"


def test_user_agent_shape():
    import re

    assert re.fullmatch(r"pixir/\S+ \(\S+ \S*; \S+\) python/\d+\.\d+\.\d+\S*", user_agent())
    assert set(base_headers("s")) == {
        "content-type",
        "accept",
        "OpenAI-Beta",
        "originator",
        "User-Agent",
        "session_id",
    }


def test_plain_http_to_a_remote_host_is_refused_before_anything_is_sent(mock):
    settings = Settings(openai_base_url="http://example.com/v1")
    provider, _ = make(settings=settings)
    with pytest.raises(PixirError) as err:
        provider.stream(BODY)
    assert err.value.kind == "insecure_transport" and err.value.exit_code == 2
    assert len(mock.calls) == 0


def test_plain_http_to_loopback_is_allowed(mock):
    settings = Settings(openai_base_url="http://127.0.0.1:8080/v1")
    mock.add(responses.POST, "http://127.0.0.1:8080/v1/responses", **stream_reply(completed()))
    provider, _ = make(settings=settings)
    assert provider.stream(BODY).text == "ok"


# -- a successful call ------------------------------------------------------------------------


def test_deltas_result_and_transport_metadata(mock):
    mock.add(
        responses.POST, API_URL, **stream_reply(completed("hi"), headers={"x-request-id": "req_9"})
    )
    provider, _ = make()
    deltas = []
    result = provider.stream(BODY, on_delta=deltas.append)
    assert deltas == [("text", "hi")]
    assert result.response_id == "resp_1"
    assert result.usage_summary["input_tokens"] == 10
    meta = result.transport
    assert meta["active_transport"] == "http_sse"
    assert meta["transport_preference"] == "http_sse"
    assert meta["fallback_reason"] is None and meta["continuation_reset_reason"] is None
    assert meta["attempts"] == 1
    assert meta["bytes_sent"] == len(json.dumps(BODY, separators=(",", ":")).encode())
    assert meta["request_id"] == "req_9"
    assert meta["used_previous_response_id"] is False


def test_missing_content_type_is_fine(mock):
    mock.add(responses.POST, API_URL, body=completed(), status=200, content_type=None)
    provider, _ = make()
    assert provider.stream(BODY).text == "ok"


def test_an_html_200_is_invalid_response_not_a_traceback(mock):
    html = "<html><head><title>Just a moment...</title></head><body>bot check</body></html>"
    mock.add(responses.POST, API_URL, body=html, status=200, content_type="text/html")
    provider, sleeps = make()
    with pytest.raises(PixirError) as err:
        provider.stream(BODY)
    assert err.value.kind == "invalid_response"
    assert "text/html" in err.value.message and "Just a moment" in err.value.message
    assert sleeps == []


# -- 401 ----------------------------------------------------------------------------------------


def test_401_recovers_once_and_retries_with_the_new_token(mock):
    mock.add(responses.POST, SUB_URL, **error_reply(401, {"error": {"message": "expired"}}))
    mock.add(responses.POST, SUB_URL, **stream_reply(completed()))
    cred = Cred("subscription", can_recover=True)
    provider, sleeps = make(cred=cred)
    assert provider.stream(BODY).text == "ok"
    assert cred.recoveries == 1
    assert [c.request.headers["Authorization"] for c in mock.calls] == [
        "Bearer tok-1",
        "Bearer tok-2",
    ]
    assert sleeps == []


def test_401_without_recovery_is_not_authenticated(mock):
    mock.add(
        responses.POST, API_URL, **error_reply(401, {"error": {"message": "Incorrect API key"}})
    )
    cred = Cred("api_key")
    provider, _ = make(cred=cred)
    with pytest.raises(PixirError) as err:
        provider.stream(BODY)
    assert err.value.kind == "not_authenticated" and err.value.exit_code == 4
    assert cred.recoveries == 1 and len(mock.calls) == 1


def test_a_second_401_after_recovery_is_final(mock):
    mock.add(responses.POST, SUB_URL, **error_reply(401, {"error": {"message": "no"}}))
    cred = Cred("subscription", can_recover=True)
    provider, _ = make(cred=cred)
    with pytest.raises(PixirError) as err:
        provider.stream(BODY)
    assert err.value.kind == "not_authenticated"
    assert cred.recoveries == 1 and len(mock.calls) == 2


# -- retries ------------------------------------------------------------------------------------


def test_500_then_success_retries_with_backoff_and_signals_the_caller(mock):
    mock.add(
        responses.POST,
        API_URL,
        **error_reply(500, {"error": {"message": "boom", "type": "server_error"}}),
    )
    mock.add(responses.POST, API_URL, **stream_reply(completed("fine")))
    provider, sleeps = make()
    deltas = []
    result = provider.stream(BODY, on_delta=deltas.append)
    assert result.text == "fine"
    assert sleeps == [0.5]
    assert deltas[0] == (
        "retry",
        {
            "attempt": 1,
            "delay_s": 0.5,
            "error_kind": "server_error",
            "message": "server error (HTTP 500): boom",
            "text_streamed": False,
        },
    )
    assert result.transport["attempts"] == 2


def test_exhausted_retries_give_the_last_error_with_the_attempt_count(mock):
    mock.add(responses.POST, API_URL, **error_reply(503, {"error": {"message": "busy"}}))
    provider, sleeps = make(settings=Settings(max_retries=3))
    with pytest.raises(PixirError) as err:
        provider.stream(BODY)
    assert err.value.kind == "server_error"
    assert "gave up after 4 attempts" in err.value.message
    assert sleeps == [0.5, 1.0, 2.0]
    assert len(mock.calls) == 4


def test_max_retries_zero_means_one_attempt(mock):
    mock.add(responses.POST, API_URL, **error_reply(500, {"error": {"message": "x"}}))
    provider, sleeps = make(settings=Settings(max_retries=0))
    with pytest.raises(PixirError):
        provider.stream(BODY)
    assert sleeps == [] and len(mock.calls) == 1


def test_retry_after_is_honoured(mock):
    mock.add(
        responses.POST,
        API_URL,
        **error_reply(
            429, {"error": {"message": "slow", "code": "rate_limit_exceeded"}}, {"Retry-After": "2"}
        ),
    )
    mock.add(responses.POST, API_URL, **stream_reply(completed()))
    provider, sleeps = make()
    provider.stream(BODY)
    assert sleeps == [2.0]


def test_try_again_in_ms_is_honoured(mock):
    msg = "Rate limit reached. Please try again in 20ms."
    mock.add(
        responses.POST,
        API_URL,
        **error_reply(429, {"error": {"message": msg, "code": "rate_limit_exceeded"}}),
    )
    mock.add(responses.POST, API_URL, **stream_reply(completed()))
    provider, sleeps = make()
    provider.stream(BODY)
    assert sleeps == [pytest.approx(0.02)]


def test_a_server_delay_over_60_s_fails_now_saying_when(mock):
    mock.add(
        responses.POST,
        API_URL,
        **error_reply(429, {"error": {"message": "slow"}}, {"Retry-After": "120"}),
    )
    provider, sleeps = make()
    with pytest.raises(PixirError) as err:
        provider.stream(BODY)
    assert err.value.kind == "rate_limited"
    assert "wait 120 s" in err.value.message and "try again after" in err.value.message
    assert sleeps == [] and len(mock.calls) == 1


@pytest.mark.parametrize(
    ("status", "payload", "kind"),
    [
        (
            429,
            {
                "error": {
                    "type": "usage_limit_reached",
                    "plan_type": "plus",
                    "resets_in_seconds": 60,
                }
            },
            "usage_limit_reached",
        ),
        (
            400,
            {"error": {"code": "context_length_exceeded", "message": "too long"}},
            "context_overflow",
        ),
        (429, {"error": {"code": "insufficient_quota", "message": "quota"}}, "quota_exceeded"),
        (400, {"detail": "Store must be set to false"}, "provider_http_error"),
    ],
)
def test_final_errors_are_not_retried(mock, status, payload, kind):
    mock.add(responses.POST, API_URL, **error_reply(status, payload))
    provider, sleeps = make()
    with pytest.raises(PixirError) as err:
        provider.stream(BODY)
    assert err.value.kind == kind
    assert sleeps == [] and len(mock.calls) == 1


def test_a_cut_stream_is_retried_the_restart_is_marked_and_only_the_last_attempt_counts(mock):
    partial = sse({"type": "response.output_text.delta", "delta": "Half an ans"})
    mock.add(responses.POST, API_URL, **stream_reply(partial))
    mock.add(responses.POST, API_URL, **stream_reply(completed("Whole answer")))
    provider, _ = make()
    deltas = []
    result = provider.stream(BODY, on_delta=deltas.append)
    assert result.text == "Whole answer"
    assert [d[0] for d in deltas] == ["text", "retry", "text"]
    assert deltas[1][1]["error_kind"] == "stream_incomplete"
    assert deltas[1][1]["text_streamed"] is True
    assert len(result.output_items) == 1


def test_in_stream_server_error_is_retried(mock):
    failing = sse(
        {"type": "response.created", "response": {"id": "r"}},
        {"type": "error", "code": "server_is_overloaded", "message": "busy"},
    )
    mock.add(responses.POST, API_URL, **stream_reply(failing))
    mock.add(responses.POST, API_URL, **stream_reply(completed()))
    provider, sleeps = make()
    assert provider.stream(BODY).text == "ok"
    assert sleeps == [0.5]


def test_connection_failures_are_network_errors_and_retried(mock):
    mock.add(responses.POST, API_URL, body=requests.exceptions.ConnectionError("refused"))
    provider, sleeps = make(settings=Settings(max_retries=1))
    with pytest.raises(PixirError) as err:
        provider.stream(BODY)
    assert err.value.kind == "network" and err.value.exit_code == 1
    assert "api.openai.com" in err.value.message
    assert len(sleeps) == 1


def test_a_read_timeout_before_the_head_is_the_idle_timeout_and_retried_once(mock):
    mock.add(responses.POST, API_URL, body=requests.exceptions.ReadTimeout("slow"))
    provider, sleeps = make(settings=Settings(max_retries=5, stream_idle_timeout_ms=1500))
    with pytest.raises(PixirError) as err:
        provider.stream(BODY)
    assert err.value.kind == "stream_idle_timeout" and err.value.exit_code == 124
    assert "1.5 s" in err.value.message
    assert len(mock.calls) == 2 and len(sleeps) == 1


class ScriptedTransport:
    """A transport double: each open() pops the next Exchange or exception."""

    name = "scripted"

    def __init__(self, *script):
        self.script = list(script)
        self.opened = []
        self.closed_with = []

    def open(self, url, headers, body):
        self.opened.append((url, dict(headers), body))
        item = self.script.pop(0)
        if isinstance(item, Exception):
            raise item
        item.close = self.closed_with.append
        return item

    def close(self):
        self.closed_with.append("transport")


def test_the_exchange_is_closed_at_the_terminal_event_without_reading_further():
    read = []

    def events():
        for event in [
            {"type": "response.output_text.delta", "delta": "x"},
            {"type": "response.completed", "response": {}},
            {"type": "response.output_text.delta", "delta": "never"},
        ]:
            read.append(event["type"])
            yield event

    transport = ScriptedTransport(Exchange(200, {}, events=events()))
    provider, _ = make(transport=transport)
    assert provider.stream(BODY).text == "x"
    assert read == ["response.output_text.delta", "response.completed"]
    assert transport.closed_with == [True]
    provider.close()
    assert transport.closed_with[-1] == "transport"


def test_idle_timeouts_from_the_transport_are_retried_once_only():
    idle = lambda: PixirError("stream_idle_timeout", "silent")  # noqa: E731
    transport = ScriptedTransport(idle(), idle(), idle())
    provider, _ = make(settings=Settings(max_retries=5), transport=transport)
    with pytest.raises(PixirError) as err:
        provider.stream(BODY)
    assert err.value.kind == "stream_idle_timeout"
    assert len(transport.opened) == 2
