"""`dist/pixir` against streams shaped the way other Responses servers send them: a message
finished without content, `response.completed` whose status says incomplete or failed, an
unknown model in a gateway's words. Each on both transports, asserted on the exit code, the
output and the Log."""

from __future__ import annotations

import pytest

from tests.fake_backend import http_error, step, text

pytestmark = pytest.mark.e2e

TRANSPORTS = ["http_sse", "websocket"]


def run(pixir, transport, *args):
    pixir.login_api_key()
    return pixir.run("--transport", transport, "--json", *args, "say it")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_message_finished_without_content_keeps_the_streamed_answer(pixir, fake, transport):
    fake.script(step(text("Streamed only.", deltas=["Streamed ", "only."], done_content=False)))
    result = run(pixir, transport)
    assert result.code == 0, result
    assert pixir.json_out(result)["output"] == "Streamed only."
    answers = [e["data"] for e in pixir.log_events() if e["type"] == "assistant_message"]
    assert answers == [{"text": "Streamed only.", "finish_reason": "stop"}]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_completed_with_status_incomplete_is_a_truncated_answer_exit_6(pixir, fake, transport):
    fake.script(step(text("The answer is cut sh"), completed_status="incomplete"))
    result = run(pixir, transport)
    assert result.code == 6, result
    body = pixir.json_out(result)
    assert body["ok"] is False and body["status"] == "incomplete"
    assert body["error"]["kind"] == "incomplete"
    assert body["output"] == "The answer is cut sh"
    answers = [e["data"] for e in pixir.log_events() if e["type"] == "assistant_message"]
    assert answers == [{"text": "The answer is cut sh", "finish_reason": "length"}]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_completed_with_status_failed_is_the_error_it_carries(pixir, fake, transport):
    fake.script(step(text("never shown"), completed_status="failed"))
    result = run(pixir, transport)
    assert result.code == 1, result
    error = pixir.json_out(result)["error"]
    assert error["kind"] == "provider_http_error"
    assert "flagged" in error["message"]
    assert len(fake.responses_requests()) == 1  # a refusal is not retried
    last = pixir.log_events()[-1]
    assert last["type"] == "turn_failed" and last["data"]["error_kind"] == "provider_http_error"
    # what was streamed before the failure is kept as a partial message, never as an answer
    answers = [e["data"] for e in pixir.log_events() if e["type"] == "assistant_message"]
    assert all(a.get("partial") for a in answers)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_an_unknown_model_in_a_gateways_words_is_model_not_supported(pixir, fake, transport):
    message = (
        "litellm.BadRequestError: Invalid model name passed in model=gpt-5.5. "
        "Call `/v1/models` to view available models for your key."
    )
    body = {"error": {"message": message, "type": "invalid_request_error", "code": "400"}}
    fake.script(step(fault=http_error(400, body)))
    result = run(pixir, transport)
    assert result.code == 2, result
    error = pixir.json_out(result)["error"]
    assert error["kind"] == "model_not_supported"
    assert "Invalid model name" in error["message"]
