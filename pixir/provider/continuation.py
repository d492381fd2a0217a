"""Connection-local continuation (docs/provider.md): send only what is new, with
`previous_response_id`, when the server's cache on this WebSocket already holds the rest.

The server keeps the latest response of a connection: the input it was given and the output
it produced. pixir rebuilds every request from its Log, so a continuation is allowed only when
the new `input` is that input followed by that output, as pixir's History replays it, plus
new items. The History does not replay output items byte for byte (a function call loses its
`id` and `status`, a message keeps only its text), and it puts each tool result right after its
call, where the server has all of a response's calls first. So the output part is compared
item by item in a normalised form, and a tool result that pixir placed between two calls of
the same response counts as a new item.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from pixir.items import message_text

# continuation_reset_reason values (a full body was sent although a response was cached)
MODEL_CHANGED = "model_changed"
INPUT_DIVERGED = "input_diverged"  # the input is not the cached one + its output + new items
PREVIOUS_FAILED = "previous_call_failed"  # the server drops its cache when a call fails
PREVIOUS_NOT_FOUND = "previous_response_not_found"
REJECTED = "continuation_rejected"  # the server refused a continued call; the full body decides
CONNECTION_LIMIT = "websocket_connection_limit_reached"
RECONNECTED = "reconnected"  # the connection that held the cache is gone


@dataclass
class Memory:
    """What the server's cache on one connection holds: the latest response's id, the model,
    the full `input` pixir meant by that call, and the response's output items as sent.
    Items are kept by reference: the History never changes an item once it exists."""

    response_id: str
    model: str
    input: list
    output: list


@dataclass
class Choice:
    """The continuation choice of one call: the body to put in its `response.create` frame,
    whether that continues the cached response, and if not although one was cached, why."""

    body: dict
    continued: bool = False
    reset_reason: str | None = None


def choose(memory: Memory | None, body: dict, reason: str | None = None) -> Choice:
    """A continuation of `memory` when `body` allows one, else the full body. `reason` says
    why there is no memory (a reconnect, a failed call); None for a connection's first call."""
    if memory is None:
        return Choice(body, reset_reason=reason)
    if body.get("model") != memory.model:
        return Choice(body, reset_reason=MODEL_CHANGED)
    new = new_items(memory, body.get("input"))
    if new is None:
        return Choice(body, reset_reason=INPUT_DIVERGED)
    frame = {k: v for k, v in body.items() if k != "input"}
    frame["input"] = new
    frame["previous_response_id"] = memory.response_id
    return Choice(frame, continued=True)


def new_items(memory: Memory, items) -> list | None:
    """The items of `items` that the server does not hold yet, or None when `items` is not
    the cached input, then the cached output (normalised), with new items after it."""
    if not isinstance(items, list):
        return None
    held = len(memory.input)
    # list equality checks identity first: the History hands back the same item objects,
    # so this is a pointer walk, not a deep comparison
    if len(items) < held or items[:held] != memory.input:
        return None
    outputs = memory.output
    matched = 0
    calls: set = set()  # call_ids of the cached response's function calls seen so far
    new: list = []
    for item in items[held:]:
        if matched < len(outputs):
            if same_item(item, outputs[matched]):
                if outputs[matched].get("type") == "function_call":
                    calls.add(outputs[matched].get("call_id"))
                matched += 1
                continue
            # Before the last output item only the result of a call already seen may come:
            # pixir answers each call right after it; the server appends results after all.
            early = isinstance(item, dict) and item.get("type") == "function_call_output"
            if not early or item.get("call_id") not in calls:
                return None
        new.append(item)
    return new if matched == len(outputs) else None


def same_item(mine: dict, theirs: dict) -> bool:
    """Whether an input item (as pixir's History replays it) stands for an output item (as
    the server sent it): equal in what the model sees, whatever ids or statuses differ."""
    if mine is theirs:
        return True
    if not isinstance(mine, dict) or not isinstance(theirs, dict):
        return False
    kind = theirs.get("type")
    if _kind(mine) != kind:
        return False
    if kind == "function_call":
        return (
            mine.get("call_id") == theirs.get("call_id")
            and mine.get("name") == theirs.get("name")
            and _same_arguments(mine.get("arguments"), theirs.get("arguments"))
        )
    if kind == "message":
        return mine.get("role", "assistant") == theirs.get("role", "assistant") and (
            message_text(mine) == message_text(theirs)
        )
    if kind == "reasoning":  # replayed verbatim; the blob is what the server decrypts
        return mine.get("id") == theirs.get("id") and mine.get("encrypted_content") == theirs.get(
            "encrypted_content"
        )
    return _strip(mine) == _strip(theirs)


def _kind(item: dict) -> str | None:
    return item.get("type") or ("message" if "role" in item else None)


def _same_arguments(mine, theirs) -> bool:
    if mine == theirs:
        return True
    try:  # the same JSON object written with other spacing or key order
        return json.loads(mine) == json.loads(theirs)
    except (TypeError, ValueError):
        return False


def _strip(item: dict) -> dict:
    return {k: v for k, v in item.items() if k not in ("id", "status")}
