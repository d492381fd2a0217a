"""A scripted stand-in for the Provider (`stream(body, on_delta) -> Result`), for unit tests of
the Turn loop. Each scripted step is a Result (the real one, provider/assemble.py), an
exception to raise, or a callable `(body, on_delta) -> Result`. A Result made by `answer` or
`calls` carries the text deltas to stream before it is returned."""

from __future__ import annotations

import copy
import itertools
import json

from pixir.provider.assemble import Result

_ids = itertools.count(1)


def reasoning_item(summary: str = "thinking", blob: str | None = None) -> dict:
    n = next(_ids)
    return {
        "id": f"rs_{n}",
        "type": "reasoning",
        "encrypted_content": blob or f"gAAAA-blob-{n}",
        "summary": [{"type": "summary_text", "text": summary}] if summary else [],
    }


def message_item(text: str) -> dict:
    return {
        "id": f"msg_{next(_ids)}",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


def call_item(name: str, args: dict, call_id: str | None = None) -> dict:
    return {
        "id": f"fc_{next(_ids)}",
        "type": "function_call",
        "call_id": call_id or f"call_{next(_ids)}",
        "name": name,
        "arguments": json.dumps(args),
        "status": "completed",
    }


def answer(text: str, *, reasoning: bool = False, deltas: bool = True, usage: int = 10) -> Result:
    """A final answer (no function calls)."""
    items = ([reasoning_item()] if reasoning else []) + [message_item(text)]
    result = Result(
        text=text,
        output_items=items,
        usage_summary=_usage(usage),
        response_id="resp_test",
        usage={},
        transport={"active_transport": "http_sse"},
    )
    result.deltas = [text[i : i + 3] for i in range(0, len(text), 3)] if deltas else []
    return result


def calls(*specs, reasoning: bool = False, text: str = "", usage: int = 10) -> Result:
    """A step that calls tools: specs are (name, args) or (name, args, call_id)."""
    items = [reasoning_item()] if reasoning else []
    if text:
        items.append(message_item(text))
    function_calls = []
    for spec in specs:
        item = call_item(*spec)
        items.append(item)
        function_calls.append(
            {
                "call_id": item["call_id"],
                "name": item["name"],
                "arguments": json.loads(item["arguments"]),
                "raw_arguments": item["arguments"],
            }
        )
    result = Result(
        text=text,
        output_items=items,
        function_calls=function_calls,
        finish_reason="tool_calls",
        usage_summary=_usage(usage),
        response_id="resp_test",
        usage={},
        transport={"active_transport": "http_sse"},
    )
    result.deltas = [text] if text else []
    return result


def _usage(n: int) -> dict:
    return {
        "input_tokens": 10 * n,
        "cached_tokens": 0,
        "output_tokens": n,
        "reasoning_tokens": 0,
        "total_tokens": 11 * n,
        "cache_hit_rate": 0.0,
    }


class ScriptedProvider:
    """Plays scripted steps in order and records every body it was given; `aborts` counts
    the calls to `abort` (a Turn stopped from another thread makes one)."""

    def __init__(self, *steps) -> None:
        self.steps = list(steps)
        self.bodies: list[dict] = []
        self.stops: list = []  # the `stop` callable of each call (None: not stoppable)
        self.closed = False
        self.aborts = 0

    def abort(self) -> None:
        self.aborts += 1

    def stream(self, body: dict, on_delta, stop=None) -> Result:
        self.bodies.append(copy.deepcopy(body))
        self.stops.append(stop)
        if not self.steps:
            raise AssertionError("the scripted provider ran out of steps")
        step = self.steps.pop(0)
        if isinstance(step, BaseException):
            raise step
        if callable(step):
            return step(body, on_delta)
        for chunk in getattr(step, "deltas", []):
            on_delta(("text", chunk))
        return step

    def close(self) -> None:
        self.closed = True


def build_request(items: list) -> dict:
    """A stand-in for provider.request.build_body: just enough for assertions."""
    return {"model": "test-model", "input": list(items)}
