"""Request validation the way the real Responses endpoints do it (docs/provider.md), and the
choice of the scripted step that answers a call.

Transport-neutral: HTTP/SSE and WebSocket both call these functions (`backend.py`,
`websocket.py`) and only differ in how they put the result on the wire.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from .common import SUBSCRIPTION, SUBSCRIPTION_UNSUPPORTED, Call, Sealer
from .errors import (
    api_error,
    context_reply,
    gateway_error,
    unknown_model_reply,
)
from .wire import Reply

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


def input_items(body: dict) -> list:
    """The request's `input` as a list (a bare string is one user message)."""
    raw = body.get("input")
    if isinstance(raw, str):
        return [{"role": "user", "content": [{"type": "input_text", "text": raw}]}]
    return list(raw) if isinstance(raw, list) else []


def validate_input(items: list, model: str, sealer: Sealer, settings: Any) -> Reply | None:
    """Checks on the effective input: tool-call pairing (quirk 11 in docs/provider.md) and
    reasoning items (model-bound blobs, quirk 10; never without the item that followed them)."""
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
        if kind == "message" and isinstance(item.get("content"), list):
            problem = _check_images(item, index)
            if problem is not None:
                return problem
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
        elif kind == "web_search_call":
            problem = _check_web_search(item, index)
            if problem is not None:
                return problem
    for item in items:
        is_call = isinstance(item, dict) and item.get("type") == "function_call"
        if is_call and item["call_id"] not in outputs_after:
            return api_error(
                400, f"No tool output found for function call {item['call_id']}.", param="input"
            )
    return None


IMAGE_FORMATS = {"image/png", "image/jpeg", "image/gif", "image/webp"}


def _check_images(item: dict, index: int) -> Reply | None:
    """`input_image` parts as the API checks them: only in a user message, a data URL with
    an image MIME type and valid base64 (or an http(s) URL, which this fake never fetches),
    and one of the four formats it reads."""
    for at, part in enumerate(item["content"]):
        if not isinstance(part, dict) or part.get("type") != "input_image":
            continue
        param = f"input[{index}].content[{at}].image_url"
        url = part.get("image_url")
        if item.get("role") != "user":
            return api_error(
                400,
                "Invalid value: 'input_image'. Supported values are: 'output_text' and 'refusal'.",
                param=f"input[{index}].content[{at}]",
                code="invalid_value",
            )
        if not isinstance(url, str):
            return api_error(400, f"Missing required parameter: '{param}'.", param=param)
        if url.startswith(("https://", "http://")):
            continue
        head, comma, data = url.partition(",")
        if not (head.startswith("data:") and head.endswith(";base64") and comma):
            return api_error(
                400,
                f"Invalid '{param}'. Expected a base64-encoded data URL with an image MIME "
                "type (e.g. 'data:image/png;base64,aW1nIGJ5dGVzIGhlcmU='), but got a value "
                "with an invalid format.",
                param=param,
                code="invalid_value",
            )
        try:
            raw = base64.b64decode(data, validate=True)
        except ValueError:
            return api_error(400, "Invalid base64 image_url.", param=param, code="invalid_value")
        mime = head[len("data:") : -len(";base64")]
        if mime not in IMAGE_FORMATS or not raw:
            return api_error(
                400,
                "You uploaded an unsupported image. Please make sure your image has of one "
                "the following formats: ['png', 'jpeg', 'gif', 'webp'].",
                param=param,
                code="invalid_image_format",
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


WEB_SEARCH_ACTIONS = ("search", "open_page", "find_in_page")
WEB_SEARCH_STATUSES = ("in_progress", "searching", "completed", "failed")


def _check_web_search(item: dict, index: int) -> Reply | None:
    """A replayed `web_search_call` the way the API checks it: an id must be one the backend
    minted (`ws_…`), the action type one it knows (a client that invents or rewrites one
    gets a 400 on every later request), the status one of its own."""
    item_id = item.get("id")
    if item_id is not None and not (isinstance(item_id, str) and item_id.startswith("ws_")):
        return api_error(
            400,
            f"Invalid 'input[{index}].id': {json.dumps(item_id)}. "
            "Expected an ID that begins with 'ws'.",
            param=f"input[{index}].id",
            code="invalid_value",
        )
    action = item.get("action")
    kind = action.get("type") if isinstance(action, dict) else None
    if kind not in WEB_SEARCH_ACTIONS:
        return api_error(
            400,
            f"Invalid value: {json.dumps(kind)}. Supported values are: 'search', 'open_page', "
            "and 'find_in_page'.",
            param=f"input[{index}].action.type",
            code="invalid_value",
        )
    status = item.get("status")
    if status is not None and status not in WEB_SEARCH_STATUSES:
        return api_error(
            400,
            f"Invalid value: {json.dumps(status)}. Supported values are: 'in_progress', "
            "'searching', 'completed', and 'failed'.",
            param=f"input[{index}].status",
            code="invalid_value",
        )
    return None


def check_context(items: list, settings: Any) -> Reply | None:
    limit = settings.context_limit_bytes
    if limit is not None and len(json.dumps(items, separators=(",", ":")).encode()) > int(limit):
        return context_reply()
    return None


# -- matching a step ----------------------------------------------------------------------------


def content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def last_user_text(items: list) -> str:
    for item in reversed(items):
        if isinstance(item, dict) and item.get("role") == "user":
            return content_text(item.get("content"))
    return ""


def last_tool_output(items: list) -> str:
    for item in reversed(items):
        if isinstance(item, dict) and item.get("type") == "function_call_output":
            out = item.get("output")
            return out if isinstance(out, str) else content_text(out)
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
