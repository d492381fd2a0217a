"""The Responses endpoint's brain: request validation the way the real service does it, the
event sequence a scripted step produces, and the error bodies of each fault (SPEC §4, §5).

Transport-neutral: HTTP/SSE and WebSocket both call these functions and only differ in how
they put the result on the wire (`backend.py`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import string
import time
from dataclasses import dataclass, field
from typing import Any

from .wire import Reply, html_reply, json_reply

SUBSCRIPTION = "subscription"
API_KEY = "api_key"

# The built-in catalog of SPEC §4.8: the default allow-list.
DEFAULT_MODELS = (
    "gpt-5.6-sol",
    "gpt-5.6",
    "gpt-5.5",
    "gpt-5.4",
    "gpt-5.4-mini",
    "gpt-5.3-codex",
    "gpt-5.3-codex-spark",
    "gpt-5.2",
)

# Parameters the ChatGPT Codex backend refuses outright (SPEC §4.2, §12.4).
SUBSCRIPTION_UNSUPPORTED = ("max_output_tokens", "prompt_cache_retention")

CONTEXT_MESSAGE = (
    "Your input exceeds the context window of this model. Please adjust your input and try again."
)
WS_LIMIT_MESSAGE = (
    "Responses websocket connection limit reached (60 minutes). "
    "Create a new websocket connection to continue."
)


@dataclass
class Comment:
    """An SSE comment line (`: keep-alive`); not an event, invisible on WebSocket."""

    text: str


@dataclass
class Call:
    """Everything known about one Responses call once its input is resolved."""

    surface: str  # SUBSCRIPTION | API_KEY
    transport: str  # "http" | "websocket"
    body: dict
    effective_input: list
    settings: Any
    sealer: Sealer
    cached_hint: int = 0  # input tokens of the previous call with this prompt_cache_key

    @property
    def model(self) -> str:
        return str(self.body.get("model"))


@dataclass
class Plan:
    """What a step will emit: the events in order (with Comments), the final output items and
    the stream-level faults to apply while emitting."""

    response_id: str
    events: list[Any]
    output: list[dict]
    faults: list[dict] = field(default_factory=list)
    terminal: str = "response.completed"
    usage: dict | None = None


# -- error bodies ---------------------------------------------------------------------------


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
    `{"type":"error","status":N,"error":{...},"headers":{...}}` (SPEC §5)."""
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


# -- reasoning blobs bound to a model (SPEC §12.10) -------------------------------------------


class Sealer:
    """Mints and checks `encrypted_content`. The blob carries the model that made it and an
    HMAC with this fake's key, so a blob from another model (or a made-up one) is refused
    exactly like the real service refuses it."""

    PREFIX = "gAAAAA"

    def __init__(self) -> None:
        self.key = secrets.token_bytes(32)

    def mint(self, model: str) -> str:
        payload = json.dumps({"model": model, "nonce": secrets.token_hex(16)}).encode()
        body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
        mac = hmac.new(self.key, body.encode(), hashlib.sha256).hexdigest()[:32]
        return f"{self.PREFIX}{body}.{mac}"

    def model_of(self, blob: Any) -> str | None:
        if not isinstance(blob, str) or not blob.startswith(self.PREFIX) or "." not in blob:
            return None
        body, mac = blob[len(self.PREFIX) :].rsplit(".", 1)
        good = hmac.new(self.key, body.encode(), hashlib.sha256).hexdigest()[:32]
        if not hmac.compare_digest(mac, good):
            return None
        try:
            return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))["model"]
        except (ValueError, KeyError, TypeError):
            return None


# -- validation ---------------------------------------------------------------------------------


def validate_params(body: Any, surface: str, transport: str, settings: Any) -> Reply | None:
    """Top-level parameter checks, in the order the real gateway applies them."""
    if not isinstance(body, dict):
        return api_error(400, "We could not parse the JSON body of your request.", param=None)
    if body.get("store") is not False:
        # The Codex backend demands an explicit false; we refuse store on /v1 too because
        # pixir must never persist a conversation server-side.
        msg = (
            "Store must be set to false"
            if surface == SUBSCRIPTION
            else ("fake backend: store must be false (pixir never stores responses server-side)")
        )
        return gateway_error(surface, settings, msg, "store", None)
    if transport == "http" and body.get("stream") is not True:
        msg = (
            "Stream must be set to true"
            if surface == SUBSCRIPTION
            else ("fake backend: only streamed responses (stream: true) are supported")
        )
        return gateway_error(surface, settings, msg, "stream", None)
    if surface == SUBSCRIPTION:
        for name in SUBSCRIPTION_UNSUPPORTED:
            if name in body:
                return gateway_error(
                    surface,
                    settings,
                    f"Unsupported parameter: {name}",
                    name,
                    "unsupported_parameter",
                )
        if not body.get("instructions"):
            return gateway_error(
                surface, settings, "Instructions are required", "instructions", None
            )
        if not isinstance(body.get("input"), list):
            return gateway_error(surface, settings, "Input must be a list", "input", None)
    model = body.get("model")
    if not model:
        return api_error(
            400,
            "Missing required parameter: 'model'.",
            param="model",
            code="missing_required_parameter",
        )
    if model not in settings.models:
        return unknown_model_reply(surface, settings, str(model))
    return None


def unknown_model_reply(surface: str, settings: Any, model: str) -> Reply:
    if surface == SUBSCRIPTION:
        msg = f"The '{model}' model is not supported when using Codex with a ChatGPT account."
        return gateway_error(surface, settings, msg, "model", None)
    return api_error(
        400,
        f"The model `{model}` does not exist or you do not have access to it.",
        code="model_not_found",
    )


def previous_not_found(prev_id: str) -> Reply:
    return api_error(
        400,
        f"Previous response with id '{prev_id}' not found.",
        param="previous_response_id",
        code="previous_response_not_found",
    )


def input_items(body: dict) -> list:
    """The request's `input` as a list (a bare string is one user message)."""
    raw = body.get("input")
    if isinstance(raw, str):
        return [{"role": "user", "content": [{"type": "input_text", "text": raw}]}]
    return list(raw) if isinstance(raw, list) else []


def validate_input(items: list, model: str, sealer: Sealer, settings: Any) -> Reply | None:
    """Checks on the effective input: tool-call pairing (SPEC §12.11) and reasoning items
    (model-bound blobs, §12.10; never without the item that followed them)."""
    calls_seen: set[str] = set()
    outputs_after: dict[str, int] = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            return api_error(
                400,
                f"Invalid type for 'input[{index}]': expected an object.",
                param=f"input[{index}]",
            )
        kind = item.get("type") or ("message" if "role" in item else None)
        if kind == "function_call":
            call_id = item.get("call_id")
            if not call_id or not isinstance(item.get("arguments"), str) or not item.get("name"):
                return api_error(
                    400,
                    f"Invalid 'input[{index}]': function_call needs call_id, name and "
                    "string arguments.",
                    param=f"input[{index}]",
                )
            calls_seen.add(call_id)
        elif kind == "function_call_output":
            call_id = item.get("call_id")
            if call_id not in calls_seen:
                return api_error(
                    400,
                    f"No tool call found for function call output with call_id {call_id}.",
                    param="input",
                )
            outputs_after[call_id] = index
        elif kind == "reasoning":
            problem = _check_reasoning(items, index, model, sealer, settings)
            if problem is not None:
                return problem
    for item in items:
        if isinstance(item, dict) and item.get("type") == "function_call":
            if item["call_id"] not in outputs_after:
                return api_error(
                    400, f"No tool output found for function call {item['call_id']}.", param="input"
                )
    return None


def _check_reasoning(
    items: list, index: int, model: str, sealer: Sealer, settings: Any
) -> Reply | None:
    item = items[index]
    item_id = item.get("id", "rs_unknown")
    blob = item.get("encrypted_content")
    if not blob:
        # Without the blob the API looks the item up server-side, where store:false kept nothing.
        return api_error(
            404,
            f"Item with id '{item_id}' not found. Items are not persisted when `store` is set to "
            "false. Try again with `store` set to true, or remove this item from your input.",
            param="input",
        )
    if sealer.model_of(blob) != model:
        return api_error(
            400,
            f"The encrypted content for item {item_id} could not be verified. "
            "Reason: Encrypted content could not be decrypted or parsed.",
            param="input",
            code="invalid_encrypted_content",
        )
    if settings.validate_reasoning_followers:
        nxt = items[index + 1] if index + 1 < len(items) else None
        follows = isinstance(nxt, dict) and (
            nxt.get("type") not in (None, "message", "function_call_output")
            or (nxt.get("type") == "message" and nxt.get("role") == "assistant")
        )
        if not follows:
            return api_error(
                400,
                f"Item '{item_id}' of type 'reasoning' was provided without its required "
                "following item.",
                param="input",
            )
    return None


def context_reply() -> Reply:
    return api_error(400, CONTEXT_MESSAGE, param="input", code="context_length_exceeded")


def check_context(items: list, settings: Any) -> Reply | None:
    limit = settings.context_limit_bytes
    if limit is not None and len(json.dumps(items, separators=(",", ":")).encode()) > int(limit):
        return context_reply()
    return None


# -- matching a step ----------------------------------------------------------------------------


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def last_user_text(items: list) -> str:
    for item in reversed(items):
        if isinstance(item, dict) and item.get("role") == "user":
            return _content_text(item.get("content"))
    return ""


def last_tool_output(items: list) -> str:
    for item in reversed(items):
        if isinstance(item, dict) and item.get("type") == "function_call_output":
            out = item.get("output")
            return out if isinstance(out, str) else _content_text(out)
    return ""


def step_matches(step: dict, call: Call) -> bool:
    match = step.get("match")
    if not match:
        return True
    checks = {
        "last_user": lambda v: v in last_user_text(call.effective_input),
        "last_tool_output": lambda v: v in last_tool_output(call.effective_input),
        "model": lambda v: v == call.model,
        "transport": lambda v: v == call.transport,
        "path": lambda v: v == call.surface,
        "input_contains": lambda v: v in json.dumps(call.effective_input, ensure_ascii=False),
    }
    return all(checks[key](value) for key, value in match.items())


# -- faults that replace the whole answer -------------------------------------------------------

STREAM_FAULTS = {"cut", "reset", "stall", "in_stream_error", "binary_frame"}


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
            headers=_codex_limit_headers(100.0, resets_in),
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


def _codex_limit_headers(used_percent: float, resets_in: int) -> list[tuple[str, str]]:
    return [
        ("x-codex-primary-used-percent", f"{used_percent:.1f}"),
        ("x-codex-primary-window-minutes", "300"),
        ("x-codex-primary-reset-after-seconds", str(resets_in)),
        ("x-codex-secondary-used-percent", "12.0"),
        ("x-codex-secondary-window-minutes", "10080"),
        ("x-codex-secondary-reset-after-seconds", "400000"),
    ]


def stream_headers(call: Call, step: dict) -> list[tuple[str, str]]:
    headers = [("x-request-id", "req_" + secrets.token_hex(16)), ("openai-processing-ms", "42")]
    if call.surface == SUBSCRIPTION and call.settings.rate_limit_headers:
        headers += _codex_limit_headers(call.settings.primary_used_percent, 9000)
    headers += list((step.get("headers") or {}).items())
    return headers


# -- the event sequence of a step ----------------------------------------------------------------


def _rand_id(prefix: str) -> str:
    return prefix + secrets.token_hex(24)


def _split(text: str, parts: int = 3) -> list[str]:
    if not text:
        return []
    size = max(1, -(-len(text) // parts))
    return [text[i : i + size] for i in range(0, len(text), size)]


def _obfuscation(delta: str) -> str:
    # The real API pads deltas with a random "obfuscation" field so their sizes leak nothing.
    return "".join(
        secrets.choice(string.ascii_letters + string.digits) for _ in range(max(2, 16 - len(delta)))
    )


def estimate_usage(call: Call, output: list[dict], override: dict | None) -> dict:
    """Usage the way compaction tests need it: input tokens ≈ bytes of the effective request/4."""
    effective = dict(call.body, input=call.effective_input)
    input_tokens = len(json.dumps(effective, separators=(",", ":")).encode()) // 4
    cached = 0
    if call.cached_hint >= 1024:
        cached = (min(call.cached_hint, input_tokens) // 128) * 128
    reasoning_tokens = 0
    output_tokens = 0
    for item in output:
        if item.get("type") == "reasoning":
            summary = "".join(p.get("text", "") for p in item.get("summary") or [])
            reasoning_tokens += 16 + len(summary) // 4
        elif item.get("type") == "message":
            output_tokens += len(_content_text(item.get("content"))) // 4 + 1
        elif item.get("type") == "function_call":
            output_tokens += len(item.get("arguments", "")) // 4 + 4
    output_tokens += reasoning_tokens
    usage = {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": cached},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
        "total_tokens": input_tokens + output_tokens,
    }
    if override:
        override = dict(override)
        if "cached_tokens" in override:
            usage["input_tokens_details"] = {"cached_tokens": override.pop("cached_tokens")}
        if "reasoning_tokens" in override:
            usage["output_tokens_details"] = {"reasoning_tokens": override.pop("reasoning_tokens")}
        usage.update(override)
        if "total_tokens" not in override:
            usage["total_tokens"] = int(usage.get("input_tokens") or 0) + int(
                usage.get("output_tokens") or 0
            )
    return usage


def response_object(
    call: Call, response_id: str, status: str, output: list, usage: dict | None, **more
) -> dict:
    body = call.body
    obj = {
        "id": response_id,
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": None,
        "max_tool_calls": None,
        "model": call.model,
        "output": output,
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "prompt_cache_key": body.get("prompt_cache_key"),
        "reasoning": body.get("reasoning") or {"effort": None, "summary": None},
        "service_tier": "auto",
        "store": False,
        "temperature": 1.0,
        "text": body.get("text") or {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools", []),
        "top_logprobs": 0,
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": usage,
        "user": None,
        "metadata": {},
    }
    obj.update(more)
    return obj


def build_plan(step: dict, call: Call) -> Plan:
    """Every event a step emits, numbered, plus the final output items."""
    response_id = _rand_id("resp_")
    wants_blob = "reasoning.encrypted_content" in (call.body.get("include") or [])
    events: list[Any] = []
    if step.get("rate_limits_event"):
        events.append(_rate_limits_event(call))
    events.append(
        {
            "type": "response.created",
            "response": response_object(call, response_id, "in_progress", [], None),
        }
    )
    events.append(
        {
            "type": "response.in_progress",
            "response": response_object(call, response_id, "in_progress", [], None),
        }
    )
    output: list[dict] = []
    for index, spec in enumerate(step["items"]):
        if step.get("keepalive"):
            events.append(Comment("keep-alive"))
            events.append({"type": "keepalive"})
        item_events, item = _item_events(spec, index, call, wants_blob)
        events.extend(item_events)
        output.append(item)
    usage = estimate_usage(call, output, step.get("usage"))
    if step.get("incomplete"):
        terminal = "response.incomplete"
        response = response_object(
            call,
            response_id,
            "incomplete",
            output,
            usage,
            incomplete_details={"reason": step["incomplete"]},
        )
    else:
        terminal = "response.completed"
        response = response_object(call, response_id, "completed", output, usage)
    if step.get("keepalive"):
        events.append(Comment("keep-alive"))
    events.append({"type": terminal, "response": response})

    faults = list(step.get("fault") or [])
    for fault in faults:
        if fault["type"] == "in_stream_error":
            terminal = _apply_in_stream_error(events, fault, call, response_id, output)
    seq = 0
    for event in events:
        if isinstance(event, dict):
            event["sequence_number"] = seq
            seq += 1
    return Plan(response_id, events, output, faults, terminal, usage)


def _apply_in_stream_error(
    events: list, fault: dict, call: Call, response_id: str, output: list
) -> str:
    """Replace everything after `after_events` real events with an error / response.failed."""
    keep = int(fault.get("after_events", 2))
    real = [i for i, e in enumerate(events) if isinstance(e, dict)]
    cut_at = real[keep] if keep < len(real) else len(events)
    del events[cut_at:]
    code, message = fault.get("code", "server_error"), fault.get("message", "An error occurred.")
    if fault.get("kind", "error") == "failed":
        error = {"code": code, "message": message}
        events.append(
            {
                "type": "response.failed",
                "response": response_object(call, response_id, "failed", [], None, error=error),
            }
        )
        return "response.failed"
    events.append({"type": "error", "code": code, "message": message, "param": None})
    return "error"


def _rate_limits_event(call: Call) -> dict:
    s = call.settings
    return {
        "type": "codex.rate_limits",
        "plan_type": s.plan,
        "rate_limits": {
            "allowed": True,
            "limit_reached": False,
            "primary": {
                "used_percent": s.primary_used_percent,
                "window_minutes": 300,
                "reset_after_seconds": 9000,
            },
            "secondary": {
                "used_percent": 12.0,
                "window_minutes": 10080,
                "reset_after_seconds": 400000,
            },
        },
    }


def _item_events(spec: dict, index: int, call: Call, wants_blob: bool) -> tuple[list[dict], dict]:
    kind = spec["type"]
    if kind == "message":
        return _message_events(spec, index)
    if kind == "function_call":
        return _function_call_events(spec, index)
    if kind == "reasoning":
        return _reasoning_events(spec, index, call, wants_blob)
    item = dict(spec["item"])
    item.setdefault("id", _rand_id("ws_"))
    added = dict(item, status="in_progress")
    return [
        {"type": "response.output_item.added", "output_index": index, "item": added},
        {"type": "response.output_item.done", "output_index": index, "item": item},
    ], item


def _message_events(spec: dict, index: int) -> tuple[list[dict], dict]:
    item_id = _rand_id("msg_")
    full = spec["text"]
    deltas = _split(full) if spec.get("deltas") is None else list(spec["deltas"])
    part = {"type": "output_text", "annotations": [], "logprobs": [], "text": full}
    item = {
        "id": item_id,
        "type": "message",
        "status": "completed",
        "content": [part],
        "role": "assistant",
    }
    loc = {"item_id": item_id, "output_index": index, "content_index": 0}
    events = [
        {
            "type": "response.output_item.added",
            "output_index": index,
            "item": {
                "id": item_id,
                "type": "message",
                "status": "in_progress",
                "content": [],
                "role": "assistant",
            },
        }
    ]
    if deltas:
        events.append({"type": "response.content_part.added", **loc, "part": dict(part, text="")})
        for delta in deltas:
            events.append(
                {
                    "type": "response.output_text.delta",
                    **loc,
                    "delta": delta,
                    "logprobs": [],
                    "obfuscation": _obfuscation(delta),
                }
            )
        events.append({"type": "response.output_text.done", **loc, "text": full, "logprobs": []})
        events.append({"type": "response.content_part.done", **loc, "part": part})
    # deltas == []: the text exists only in output_item.done (SPEC §12.8)
    events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    return events, item


def _function_call_events(spec: dict, index: int) -> tuple[list[dict], dict]:
    item_id = _rand_id("fc_")
    call_id = spec.get("call_id") or "call_" + secrets.token_urlsafe(18).replace("-", "x").replace(
        "_", "y"
    )
    args = spec["arguments"]
    args = (
        args
        if isinstance(args, str)
        else json.dumps(args, separators=(",", ":"), ensure_ascii=False)
    )
    deltas = _split(args, 2) if spec.get("deltas") is None else list(spec["deltas"])
    base = {"id": item_id, "type": "function_call", "call_id": call_id, "name": spec["name"]}
    item = dict(base, status="completed", arguments=args)
    events = [
        {
            "type": "response.output_item.added",
            "output_index": index,
            "item": dict(base, status="in_progress", arguments=""),
        }
    ]
    for delta in deltas:
        events.append(
            {
                "type": "response.function_call_arguments.delta",
                "item_id": item_id,
                "output_index": index,
                "delta": delta,
                "obfuscation": _obfuscation(delta),
            }
        )
    events.append(
        {
            "type": "response.function_call_arguments.done",
            "item_id": item_id,
            "output_index": index,
            "arguments": args,
            "name": spec["name"],
        }
    )
    events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    return events, item


def _reasoning_events(
    spec: dict, index: int, call: Call, wants_blob: bool
) -> tuple[list[dict], dict]:
    item_id = _rand_id("rs_")
    summary = spec.get("summary")
    parts = [summary] if isinstance(summary, str) and summary else list(summary or [])
    blob = spec.get("encrypted_content")
    if blob is None and wants_blob:
        blob = call.sealer.mint(call.model)
    events = [
        {
            "type": "response.output_item.added",
            "output_index": index,
            "item": {"id": item_id, "type": "reasoning", "summary": []},
        }
    ]
    for n, text in enumerate(parts):
        loc = {"item_id": item_id, "output_index": index, "summary_index": n}
        events.append(
            {
                "type": "response.reasoning_summary_part.added",
                **loc,
                "part": {"type": "summary_text", "text": ""},
            }
        )
        deltas = _split(text) if spec.get("deltas") is None else list(spec["deltas"])
        for delta in deltas:
            events.append(
                {
                    "type": "response.reasoning_summary_text.delta",
                    **loc,
                    "delta": delta,
                    "obfuscation": _obfuscation(delta),
                }
            )
        events.append({"type": "response.reasoning_summary_text.done", **loc, "text": text})
        events.append(
            {
                "type": "response.reasoning_summary_part.done",
                **loc,
                "part": {"type": "summary_text", "text": text},
            }
        )
    item = {
        "id": item_id,
        "type": "reasoning",
        "encrypted_content": blob,
        "summary": [{"type": "summary_text", "text": t} for t in parts],
    }
    events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    return events, item
