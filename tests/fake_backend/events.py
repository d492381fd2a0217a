"""The event sequence a scripted step produces, mirroring the real service's stream (types,
fields, order, sequence numbers, usage) — docs/provider.md, "Assembly"."""

from __future__ import annotations

import json
import secrets
import string
import time
from typing import Any

from .common import SUBSCRIPTION, Call, Comment, Plan
from .errors import codex_limit_headers
from .responses import content_text


def stream_headers(call: Call, step: dict) -> list[tuple[str, str]]:
    headers = [("x-request-id", "req_" + secrets.token_hex(16)), ("openai-processing-ms", "42")]
    if call.surface == SUBSCRIPTION and call.settings.rate_limit_headers:
        headers += codex_limit_headers(call.settings.primary_used_percent, 9000)
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
            output_tokens += len(content_text(item.get("content"))) // 4 + 1
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


FLAGGED_ERROR = {
    "code": "invalid_prompt",
    "message": "Invalid prompt: your prompt was flagged as potentially violating our usage policy.",
}


def build_plan(step: dict, call: Call) -> Plan:
    """Every event a step emits, numbered, plus the final output items."""
    response_id = _rand_id("resp_")
    wants_blob = "reasoning.encrypted_content" in (call.body.get("include") or [])
    searches = sum(1 for spec in step["items"] if spec["type"] == "web_search")
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
    if step.get("completed_status"):
        # Third-party servers end a truncated or failed response with `response.completed`
        # whose status says so, instead of `response.incomplete` / `response.failed`.
        terminal = "response.completed"
        more: dict[str, Any] = {}
        if step["completed_status"] == "incomplete":
            more["incomplete_details"] = {"reason": "max_output_tokens"}
        else:
            more["error"] = dict(FLAGGED_ERROR)
        response = response_object(
            call, response_id, step["completed_status"], output, usage, **more
        )
    elif step.get("incomplete"):
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
        more = {"tool_usage": {"web_search": {"num_requests": searches}}} if searches else {}
        response = response_object(call, response_id, "completed", output, usage, **more)
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
    if kind == "web_search":
        return _web_search_events(spec, index, call)
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
    annotations = [
        {
            "type": "url_citation",
            "start_index": c.get("start_index", 0),
            "end_index": c.get("end_index", len(full)),
            "url": c["url"],
            "title": c.get("title", ""),
        }
        for c in spec.get("citations") or ()
    ]
    part = {"type": "output_text", "annotations": annotations, "logprobs": [], "text": full}
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
        events.append(
            {
                "type": "response.content_part.added",
                **loc,
                "part": dict(part, text="", annotations=[]),
            }
        )
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
        for n, annotation in enumerate(annotations):
            events.append(
                {
                    "type": "response.output_text.annotation.added",
                    **loc,
                    "annotation_index": n,
                    "annotation": annotation,
                }
            )
        events.append({"type": "response.output_text.done", **loc, "text": full, "logprobs": []})
        events.append({"type": "response.content_part.done", **loc, "part": part})
    # deltas == []: the text exists only in output_item.done (quirk 8)
    done_item = item
    if spec.get("done_content") is False:
        done_item = {k: v for k, v in item.items() if k != "content"}
    events.append({"type": "response.output_item.done", "output_index": index, "item": done_item})
    return events, item


def _web_search_events(spec: dict, index: int, call: Call) -> tuple[list[dict], dict]:
    """added (in progress, no action yet), the id-only progress events, then the done item;
    a search's sources only when the request asked for them with `include`."""
    item_id = spec.get("id") or _rand_id("ws_")
    action = dict(spec["action"])
    if "web_search_call.action.sources" not in (call.body.get("include") or []):
        action.pop("sources", None)
    item = {"id": item_id, "type": "web_search_call", "status": spec["status"], "action": action}
    loc = {"output_index": index, "item_id": item_id}
    events = [
        {
            "type": "response.output_item.added",
            "output_index": index,
            "item": {"id": item_id, "type": "web_search_call", "status": "in_progress"},
        },
        {"type": "response.web_search_call.in_progress", **loc},
        {"type": "response.web_search_call.searching", **loc},
    ]
    if spec["status"] == "completed":
        events.append({"type": "response.web_search_call.completed", **loc})
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
