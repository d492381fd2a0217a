"""Error bodies, exactly shaped like the real services' (docs/provider.md), and the faults a step
can script instead of an answer."""

from __future__ import annotations

import time
from typing import Any

from .common import CONTEXT_MESSAGE, SUBSCRIPTION, WS_LIMIT_MESSAGE, Call
from .wire import Reply, html_reply, json_reply


def api_error(
    status: int,
    message: str,
    *,
    type_: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
    headers: list[tuple[str, str]] | None = None,
    **more: Any,
) -> Reply:
    """The OpenAI error shape `{"error": {message, type, param, code}}`. Pretty-printed like
    the public API prints it (the client must not depend on compact JSON)."""
    error = {"message": message, "type": type_, "param": param, "code": code}
    error.update(more)
    return json_reply(status, {"error": error}, headers, pretty=True)


def detail_error(status: int, message: str) -> Reply:
    """The ChatGPT Codex backend's own gateway errors are FastAPI-style `{"detail": "..."}`
    (e.g. `{"detail":"Store must be set to false"}`) — not the OpenAI error object."""
    return json_reply(status, {"detail": message})


def gateway_error(
    call_surface: str, settings: Any, message: str, param: str | None, code: str | None
) -> Reply:
    """A parameter rejection: `detail` shape on the subscription backend (unless the
    `error_style` setting asks for the error object), the error object on /v1."""
    if call_surface == SUBSCRIPTION and settings.error_style == "real":
        return detail_error(400, message)
    return api_error(400, message, param=param, code=code)


def ws_error_frame(reply: Reply) -> dict:
    """The wrapped error frame the WebSocket endpoint sends instead of an HTTP error:
    `{"type":"error","status":N,"error":{...},"headers":{...}}` (docs/provider.md)."""
    body = reply.json_body()
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = dict(body["error"])
    elif isinstance(body, dict) and "detail" in body:
        error = {"type": "invalid_request_error", "message": body["detail"]}
    else:
        error = {
            "type": "server_error",
            "message": reply.body_bytes().decode("utf-8", "replace")[:500],
        }
    frame: dict[str, Any] = {"type": "error", "status": reply.status, "error": error}
    if reply.headers:
        frame["headers"] = {k.lower(): v for k, v in reply.headers}
    return frame


def context_reply() -> Reply:
    return api_error(400, CONTEXT_MESSAGE, param="input", code="context_length_exceeded")


def unknown_model_reply(surface: str, settings: Any, model: str) -> Reply:
    if surface == SUBSCRIPTION:
        msg = f"The '{model}' model is not supported when using Codex with a ChatGPT account."
        return gateway_error(surface, settings, msg, "model", None)
    return api_error(
        400,
        f"The model `{model}` does not exist or you do not have access to it.",
        code="model_not_found",
    )


# -- faults that replace the whole answer -------------------------------------------------------

STREAM_FAULTS = {"cut", "reset", "stall", "in_stream_error", "binary_frame", "flood"}


def fault_reply(fault: dict, call: Call) -> Reply | None:
    """The HTTP answer for a fault that replaces the stream, or None for stream faults."""
    kind = fault["type"]
    if kind in STREAM_FAULTS:
        return None
    if kind == "usage_limit":
        resets_in = int(fault.get("resets_in_seconds", 600))
        return api_error(
            429,
            fault.get("message", "The usage limit has been reached"),
            type_="usage_limit_reached",
            param=None,
            code=None,
            headers=codex_limit_headers(100.0, resets_in),
            plan_type=fault.get("plan_type", "plus"),
            resets_at=int(time.time()) + resets_in,
            resets_in_seconds=resets_in,
        )
    if kind == "rate_limit":
        wait = fault.get("try_again_in", "1.5s")
        headers = (
            [("Retry-After", str(fault["retry_after"]))]
            if fault.get("retry_after") is not None
            else []
        )
        return api_error(
            429,
            f"Rate limit reached for {call.model} in organization org-fake on tokens per min "
            "(TPM): "
            f"Limit 30000, Used 30000, Requested 1200. Please try again in {wait}. "
            "Visit https://platform.openai.com/account/rate-limits to learn more.",
            type_="tokens",
            code="rate_limit_exceeded",
            headers=headers,
        )
    if kind == "http":
        status = int(fault.get("status", 500))
        body = fault.get("body")
        headers = list((fault.get("headers") or {}).items())
        if body is None:
            return api_error(
                status,
                "The server had an error while processing your request. Sorry about that!",
                type_="server_error",
                headers=headers,
            )
        reply = json_reply(status, body, headers) if isinstance(body, (dict, list)) else None
        return reply or Reply(status, str(body), headers, "text/plain; charset=utf-8")
    if kind == "context_length_exceeded":
        return context_reply()
    if kind == "unknown_model":
        return unknown_model_reply(call.surface, call.settings, call.model)
    if kind == "quota":
        return api_error(
            429,
            "You exceeded your current quota, please check your plan and billing details. For more "
            "information on this error, read the docs: "
            "https://platform.openai.com/docs/guides/error-codes/api-errors.",
            type_="insufficient_quota",
            code="insufficient_quota",
        )
    if kind == "unauthorized":
        code = fault.get("code") or (
            "token_expired" if call.surface == SUBSCRIPTION else "invalid_api_key"
        )
        return unauthorized_reply(code)
    if kind == "html_200":
        return html_reply(
            200,
            "<!DOCTYPE html><html><head><title>Just a moment...</title></head>"
            "<body>Checking your browser before accessing chatgpt.com.</body></html>",
        )
    if kind == "ws_connection_limit":
        return api_error(400, WS_LIMIT_MESSAGE, code="websocket_connection_limit_reached")
    raise ValueError(f"unhandled fault {kind}")


UNAUTHORIZED_MESSAGES = {
    "token_expired": "Provided authentication token is expired. Please try signing in again.",
    "invalid_token": "Could not parse your authentication token. Please try signing in again.",
    "token_invalidated": "Your authentication token has been invalidated. "
    "Please try signing in again.",
    "invalid_api_key": "Incorrect API key provided. You can find your API key at "
    "https://platform.openai.com/account/api-keys.",
    "missing_api_key": "You didn't provide an API key. You need to provide your API key in an "
    "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
}


def unauthorized_reply(code: str) -> Reply:
    message = UNAUTHORIZED_MESSAGES.get(code, "Unauthorized.")
    return api_error(401, message, code=None if code == "missing_api_key" else code)


def codex_limit_headers(used_percent: float, resets_in: int) -> list[tuple[str, str]]:
    return [
        ("x-codex-primary-used-percent", f"{used_percent:.1f}"),
        ("x-codex-primary-window-minutes", "300"),
        ("x-codex-primary-reset-after-seconds", str(resets_in)),
        ("x-codex-secondary-used-percent", "12.0"),
        ("x-codex-secondary-window-minutes", "10080"),
        ("x-codex-secondary-reset-after-seconds", "400000"),
    ]


def no_step_reply() -> Reply:
    return api_error(
        500, "fake backend: no scripted response left", type_="server_error", code="fake_no_step"
    )


def previous_not_found(prev_id: str) -> Reply:
    return api_error(
        400,
        f"Previous response with id '{prev_id}' not found.",
        param="previous_response_id",
        code="previous_response_not_found",
    )
