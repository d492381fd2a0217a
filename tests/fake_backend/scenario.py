"""Builders for scripted Responses steps, and the checks that keep scenario files honest.

A scenario is plain JSON-able data so the same thing can be written in a test, in a file for
`python -m tests.fake_backend --scenario FILE`, or generated. A *step* answers one Responses
request; its *items* are the output items the "model" produces, in order. The builders below
only save typing; `normalize_step` is what the fake runs on everything it is given.

    fb.script(
        step(reasoning("Looking at the file"), tool_call("read", {"path": "a.py"})),
        step(text("Done."), match={"last_tool_output": "def main"}),
    )
"""

from __future__ import annotations

import copy
import json
from typing import Any

# -- output items ------------------------------------------------------------------------


def text(
    content: str,
    deltas: list[str] | None = None,
    done_content: bool = True,
    citations: list[dict] | None = None,
) -> dict:
    """An assistant message. `deltas=None` splits `content` into a few deltas; `[]` sends no
    delta at all, so the text appears only in `response.output_item.done` (quirk 8); a
    list is sent as is (it need not add up to `content`: the done item is authoritative).
    `done_content=False` finishes the message with no `content` at all, as some third-party
    servers do after streaming it. `citations`: `url_citation` annotations, each
    `{"url", "title"[, "start_index", "end_index"]}` (the span defaults to the whole text),
    streamed as `response.output_text.annotation.added` and kept on the finished part."""
    item = {"type": "message", "text": content, "deltas": deltas}
    if not done_content:
        item["done_content"] = False
    if citations:
        item["citations"] = citations
    return item


def tool_call(
    name: str,
    arguments: dict | str,
    call_id: str | None = None,
    deltas: list[str] | None = None,
) -> dict:
    """A `function_call` output item. `arguments` may be a dict (sent as compact JSON) or a raw
    string (to script invalid arguments). `call_id=None` mints a fresh `call_...` id."""
    return {
        "type": "function_call",
        "name": name,
        "arguments": arguments,
        "call_id": call_id,
        "deltas": deltas,
    }


def reasoning(
    summary: str | list[str] | None = "",
    encrypted_content: str | None = None,
    deltas: list[str] | None = None,
) -> dict:
    """A reasoning item. `summary` is one summary part (str) or several (list); "" or None
    means no summary part. `encrypted_content=None` mints one bound to the request's model
    (only when the request `include`s "reasoning.encrypted_content", like the real API); any
    string is sent verbatim (e.g. to script a foreign blob)."""
    return {
        "type": "reasoning",
        "summary": summary,
        "encrypted_content": encrypted_content,
        "deltas": deltas,
    }


def web_search(
    query: str | None = "",
    sources: list[str] | None = None,
    *,
    action: dict | None = None,
    status: str = "completed",
    item_id: str | None = None,
) -> dict:
    """A hosted `web_search_call` item: a search for `query` whose `sources` (urls) are sent
    only when the request `include`s "web_search_call.action.sources", like the real API.
    `action` replaces the search action (`{"type": "open_page", "url": ...}`, or an unknown
    type to script what a backend may invent); `item_id=None` mints a `ws_…` id."""
    if action is None:
        action = {"type": "search", "query": query}
        if sources:
            action["sources"] = [{"type": "url", "url": url} for url in sources]
    return {"type": "web_search", "action": action, "status": status, "id": item_id}


def raw_item(item: dict) -> dict:
    """Any other output item (e.g. a hosted `web_search_call`), sent verbatim."""
    return {"type": "raw", "item": item}


# -- steps ---------------------------------------------------------------------------------


def step(
    *items: dict,
    usage: dict | None = None,
    match: dict | None = None,
    fault: dict | list[dict] | None = None,
    chunking: dict | None = None,
    crlf: bool | str = False,
    content_type: bool = True,
    keepalive: bool = False,
    keep_open: bool | float = False,
    incomplete: str | None = None,
    delay_s: float = 0,
    **more: Any,
) -> dict:
    """One scripted response. See docs/fake-backend.md for every field; `more` passes the
    rarer stream-shaping fields (`framing`, `event_lines`, `multiline_data`, `bom`,
    `headers`, `rate_limits_event`, `completed_status`)."""
    data: dict[str, Any] = {"items": list(items)}
    optional = {
        "usage": usage,
        "match": match,
        "fault": fault,
        "chunking": chunking,
        "crlf": crlf,
        "content_type": content_type,
        "keepalive": keepalive,
        "keep_open": keep_open,
        "incomplete": incomplete,
        "delay_s": delay_s,
    }
    for key, value in optional.items():
        if value != STEP_DEFAULTS[key]:
            data[key] = value
    data.update(more)
    return normalize_step(data)


# -- faults --------------------------------------------------------------------------------


def usage_limit(plan_type: str = "plus", resets_in_seconds: int = 600) -> dict:
    return {"type": "usage_limit", "plan_type": plan_type, "resets_in_seconds": resets_in_seconds}


def rate_limit(retry_after: str | None = "1", try_again_in: str = "1.5s") -> dict:
    return {"type": "rate_limit", "retry_after": retry_after, "try_again_in": try_again_in}


def http_error(status: int = 500, body: Any = None, headers: dict | None = None) -> dict:
    fault: dict[str, Any] = {"type": "http", "status": status}
    if body is not None:
        fault["body"] = body
    if headers:
        fault["headers"] = headers
    return fault


def cut(after_events: int = 3, clean: bool = False) -> dict:
    return {"type": "cut", "after_events": after_events, "clean": clean}


def reset(after_events: int | None = None) -> dict:
    return {"type": "reset", "after_events": after_events}


def stall(seconds: float, after_events: int = 2) -> dict:
    return {"type": "stall", "seconds": seconds, "after_events": after_events}


def flood(what: str, after_events: int = 2, seconds: float = 60) -> dict:
    """Never finish: after `after_events` events, send for up to `seconds` (or until the
    client goes) one `event` that never ends, endless 1 MiB text `deltas`, or nothing but
    `keepalive`s (SSE comments; WebSocket pings and `keepalive` events)."""
    return {"type": "flood", "what": what, "after_events": after_events, "seconds": seconds}


def in_stream_error(
    kind: str = "error",
    code: str = "server_error",
    message: str = "An error occurred while processing your request.",
    after_events: int = 2,
) -> dict:
    return {
        "type": "in_stream_error",
        "kind": kind,
        "code": code,
        "message": message,
        "after_events": after_events,
    }


# -- validation ----------------------------------------------------------------------------

STEP_DEFAULTS: dict[str, Any] = {
    "usage": None,
    "match": None,
    "fault": None,
    "chunking": None,
    "crlf": False,
    "content_type": True,
    "keepalive": False,
    "keep_open": False,
    "incomplete": None,
    "delay_s": 0,
    "framing": "chunked",
    "event_lines": True,
    "multiline_data": False,
    "bom": False,
    "headers": None,
    "rate_limits_event": False,
    "completed_status": None,
}

ITEM_TYPES = {"message", "function_call", "reasoning", "raw", "web_search"}
MATCH_KEYS = {"last_user", "last_tool_output", "model", "transport", "path", "input_contains"}
FAULT_TYPES = {
    "usage_limit",
    "rate_limit",
    "http",
    "cut",
    "reset",
    "stall",
    "context_length_exceeded",
    "in_stream_error",
    "html_200",
    "unknown_model",
    "quota",
    "unauthorized",
    "ws_connection_limit",
    "binary_frame",
    "flood",
}
FLOODS = (
    "event",
    "deltas",
    "keepalive",
    "status",
    "unknown",
    "empty",
    "parts",
    "arguments",
    "fragments",
    "empty_fragments",
)
# The endless events of the floods that repeat one event: `deltas` of 1 MiB of answer text,
# `arguments` of 1 MiB of one call's arguments (flat memory, but no end), `status` and
# `unknown`, `empty`, `parts` (small events that move nothing: `response.in_progress`, a type
# nobody knows, an empty text delta, `content_part.done`).
FLOOD_EVENTS = {
    "deltas": {"type": "response.output_text.delta", "delta": "y" * (1 << 20)},
    "arguments": {
        "type": "response.function_call_arguments.delta",
        "item_id": "fc_flood",
        "output_index": 0,
        "delta": "a" * (1 << 20),
    },
    "status": {"type": "response.in_progress", "response": {"status": "in_progress"}},
    "unknown": {"type": "response.foo", "x": "y" * 1000},
    "empty": {"type": "response.output_text.delta", "delta": ""},
    "parts": {"type": "response.content_part.done", "part": {"type": "output_text", "text": ""}},
}
QUIET_FLOODS = ("status", "unknown", "empty", "parts")  # small events, sent 100 a second


def normalize_step(obj: Any) -> dict:
    """A full step dict (defaults filled in) from a step, a bare item or a bare string.

    Raises ValueError on anything unknown, so a typo in a scenario fails the test that wrote
    it instead of silently scripting something else.
    """
    if isinstance(obj, str):
        obj = {"items": [text(obj)]}
    elif isinstance(obj, dict) and obj.get("type") in ITEM_TYPES and "items" not in obj:
        obj = {"items": [obj]}
    if not isinstance(obj, dict):
        raise TypeError(f"a step must be a dict or a string, not {type(obj).__name__}")
    unknown = set(obj) - set(STEP_DEFAULTS) - {"items"}
    if unknown:
        raise ValueError(f"unknown step field(s): {sorted(unknown)}")
    data = copy.deepcopy(STEP_DEFAULTS)
    data.update(copy.deepcopy(obj))
    data["items"] = [_normalize_item(item) for item in data.get("items") or []]
    faults = data["fault"]
    if isinstance(faults, dict):
        faults = [faults]
    data["fault"] = [_check_fault(f) for f in faults or []]
    match = data["match"]
    if match is not None and (not isinstance(match, dict) or set(match) - MATCH_KEYS):
        raise ValueError(f"match keys must be among {sorted(MATCH_KEYS)}: {match!r}")
    if data["crlf"] not in (False, True, "crlf", "cr", "lf"):
        raise ValueError(f"crlf must be a bool, 'crlf', 'cr' or 'lf': {data['crlf']!r}")
    if data["completed_status"] not in (None, "incomplete", "failed"):
        raise ValueError(f"completed_status must be 'incomplete' or 'failed': {data!r}")
    if data["framing"] not in ("chunked", "close"):
        raise ValueError(f"framing must be 'chunked' or 'close': {data['framing']!r}")
    chunking = data["chunking"]
    if chunking is not None and not (
        isinstance(chunking, dict) and ("size" in chunking or "random" in chunking)
    ):
        raise ValueError(f"chunking needs 'size' or 'random': {chunking!r}")
    if not data["items"] and not data["fault"]:
        data["items"] = [text("")]
    json.dumps(data)  # scenarios must stay JSON-able (files, logs)
    return data


def _normalize_item(item: Any) -> dict:
    if isinstance(item, str):
        item = text(item)
    if not isinstance(item, dict) or item.get("type") not in ITEM_TYPES:
        raise ValueError(
            f"an item must be built by text/tool_call/reasoning/web_search/raw_item: {item!r}"
        )
    item = dict(item)
    kind = item["type"]
    if kind == "message":
        item.setdefault("deltas", None)
        if not isinstance(item.get("text"), str):
            raise ValueError(f"message item needs a text string: {item!r}")
    elif kind == "function_call":
        item.setdefault("call_id", None)
        item.setdefault("deltas", None)
        if not item.get("name"):
            raise ValueError(f"function_call item needs a name: {item!r}")
        item.setdefault("arguments", {})
    elif kind == "reasoning":
        item.setdefault("summary", "")
        item.setdefault("encrypted_content", None)
        item.setdefault("deltas", None)
    elif kind == "web_search" and not isinstance(item.get("action"), dict):
        raise ValueError(f"web_search item needs an 'action' dict: {item!r}")
    elif kind == "raw" and not isinstance(item.get("item"), dict):
        raise ValueError(f"raw item needs an 'item' dict: {item!r}")
    return item


def _check_fault(fault: Any) -> dict:
    if not isinstance(fault, dict) or fault.get("type") not in FAULT_TYPES:
        raise ValueError(f"fault type must be one of {sorted(FAULT_TYPES)}: {fault!r}")
    if fault["type"] == "flood" and fault.get("what") not in FLOODS:
        raise ValueError(f"a flood's what must be one of {FLOODS}: {fault!r}")
    return dict(fault)


def load_scenario(data: Any) -> tuple[list[dict], dict]:
    """(steps, settings) from a scenario: a list of steps, or {"steps": [...], "settings": {}}."""
    if data is None:
        return [], {}
    if isinstance(data, list):
        return [normalize_step(s) for s in data], {}
    if not isinstance(data, dict) or set(data) - {"steps", "settings"}:
        raise ValueError('a scenario is a list of steps or {"steps": [...], "settings": {...}}')
    return [normalize_step(s) for s in data.get("steps") or []], dict(data.get("settings") or {})
