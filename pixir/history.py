"""Fold Log events into Responses `input` items (docs/log.md), one event at a time.

The same `History.add` serves a fresh fold of a Log read from disk and the in-process History
that grows with every append, so the two cannot drift apart. Each event costs O(1); a
compaction costs O(items) once.
"""

from __future__ import annotations

import gc
import json

from pixir.items import assistant_message, function_call, function_call_output, user_message

# What the model is told about a call that never got its result. The fold sends it for an
# open call; before the next Turn the session appends it as a real result, so a preview
# from the fold and the request of that Turn carry the same bytes.
ORPHAN_ERROR = {
    "kind": "orphan_tool_call",
    "message": "this tool call never finished (pixir stopped before its result); "
    "its effect is unknown",
}
ORPHAN_OUTPUT = json.dumps({"ok": False, "error": ORPHAN_ERROR}, separators=(",", ":"))

SUMMARY_PREFIX = (
    "Summary of the earlier part of this conversation (older messages were compacted):\n\n"
)


def summary_item(summary: str) -> dict:
    """The user message that stands for a compacted range (docs/compaction.md)."""
    return user_message(SUMMARY_PREFIX + summary)


def _compact_encoder():
    """`JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode` without its per-call
    cost: `encode` builds a new C encoder on every call, which is half of what folding a
    tool call costs on a resume. The C encoder is built once here, and checked against
    `encode` so that any Python whose private `c_make_encoder` differs falls back to it."""
    encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
    make = getattr(json.encoder, "c_make_encoder", None)
    try:
        fast = make(
            None,  # markers: no cycle check (the values come from JSON)
            encoder.default,
            json.encoder.encode_basestring,  # ensure_ascii=False
            None,  # indent
            ":",  # key separator
            ",",  # item separator
            False,  # sort_keys
            False,  # skipkeys
            True,  # allow_nan
        )
        sample = {"a": [1, 2.5, None, True], "é": '"x\n'}
        if "".join(fast(sample, 0)) == encoder.encode(sample):
            return lambda value: "".join(fast(value, 0))
    except Exception:
        pass
    return encoder.encode


_compact = _compact_encoder()


def call_item(data: dict) -> dict:
    """A `tool_call` event's item: the model's exact argument text when it was recorded,
    else the compact JSON of `args`."""
    arguments = data.get("arguments")
    if not isinstance(arguments, str):
        args = data.get("args")
        arguments = _compact(args if isinstance(args, dict) else {})
    return function_call(data["call_id"], data["name"], arguments)


# The action types the API documents for a web search; an item with any other is left out of
# the replay, never rewritten into one of these (a client that rewrote one broke every later
# request of its session).
WEB_SEARCH_ACTIONS = ("search", "open_page", "find_in_page")


def web_search_item(item: dict) -> dict | None:
    """A logged `web_search_call` as it may go back with store:false, or None: the backend's
    own `ws_…` id only (no invented one), `status` and `action` as received."""
    action = item.get("action")
    if not isinstance(action, dict) or action.get("type") not in WEB_SEARCH_ACTIONS:
        return None
    out: dict = {"type": "web_search_call"}
    item_id = item.get("id")
    if isinstance(item_id, str) and item_id.startswith("ws_"):
        out["id"] = item_id
    if isinstance(item.get("status"), str):
        out["status"] = item["status"]
    out["action"] = action
    return out


class History:
    """The `input` a request for `model` carries, kept in step with a session's Log."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.items: list[dict] = []
        # seq of the Log event each item came from; a summary item takes the first seq of the
        # range it replaces, so that a later compaction covering that range replaces it too
        self.seqs: list[int] = []
        self.last_compaction: dict | None = None  # data of the last history_compaction folded
        self._open: dict[str, str] = {}  # call_id → name, calls without an output yet
        self._answered: set[str] = set()
        self._pending: list[tuple[int, dict]] = []  # reasoning waiting for its following item

    @classmethod
    def fold(cls, events, model: str) -> History:
        """A History from a whole Log (a list or any iterable of events)."""
        history = cls(model)
        add = history.add
        enabled = gc.isenabled()
        gc.disable()  # only acyclic dicts are made here; GC passes would cost ~30 %
        try:
            for event in events:
                add(event)
        finally:
            if enabled:
                gc.enable()
        return history

    def add(self, event: dict) -> None:
        """Extend the History with one Log event (ephemeral and unknown events are ignored)."""
        handler = _HANDLERS.get(event["type"])
        if handler is not None:
            handler(self, event.get("seq", -1), event["data"])

    def input_items(self) -> list[dict]:
        """The items to send now: every open call closed with a synthetic output, and never
        a trailing reasoning item (pending reasoning is not included)."""
        out = list(self.items)
        for call_id in self._open:
            out.append(function_call_output(call_id, ORPHAN_OUTPUT))
        return out

    def has_call(self, call_id: str) -> bool:
        """Whether a call with this id is already in the History (answered or not)."""
        return call_id in self._open or call_id in self._answered

    def open_calls(self) -> list[tuple[str, str]]:
        """(call_id, name) of calls with no result yet, oldest first."""
        return list(self._open.items())

    # -- one handler per event type ---------------------------------------------------------

    def _push(self, seq: int, item: dict) -> None:
        self.items.append(item)
        self.seqs.append(seq)

    def _flush_reasoning(self) -> None:
        for seq, item in self._pending:
            self._push(seq, item)
        self._pending.clear()

    def _close_open_calls(self) -> None:
        for call_id in self._open:
            self._answered.add(call_id)
            self._push(self._call_seq(call_id), function_call_output(call_id, ORPHAN_OUTPUT))
        self._open.clear()

    def _call_seq(self, call_id: str) -> int:
        # Only reached for the rare orphan; a synthetic output shares its call's seq so a
        # compaction that removes the call removes the output too.
        index = self._call_index(call_id)
        return -1 if index is None else self.seqs[index]

    def call_arguments(self, call_id: str) -> str | None:
        """The JSON arguments of the call `call_id` (for an orphan: what it was doing)."""
        index = self._call_index(call_id)
        return None if index is None else self.items[index].get("arguments")

    def _call_index(self, call_id: str) -> int | None:
        for index in range(len(self.items) - 1, -1, -1):
            item = self.items[index]
            if item.get("type") == "function_call" and item.get("call_id") == call_id:
                return index
        return None

    def _user_message(self, seq: int, data: dict) -> None:
        self._close_open_calls()
        self._pending.clear()  # reasoning followed by a user message is refused by the API
        text = data.get("text", "")
        images = data.get("images") if isinstance(data.get("images"), list) else ()
        self._push(seq, user_message(text if isinstance(text, str) else _compact(text), images))

    def _assistant_message(self, seq: int, data: dict) -> None:
        text = data.get("text") or ""
        if data.get("partial") or not text or not isinstance(text, str):
            self._pending.clear()
            return
        self._flush_reasoning()
        self._push(seq, assistant_message(text))

    def _reasoning(self, seq: int, data: dict) -> None:
        item = data.get("item")
        # Encrypted reasoning is bound to the model that produced it (quirk 10 in docs/provider.md).
        if data.get("model") == self.model and isinstance(item, dict):
            self._pending.append((seq, item))

    def _web_search_call(self, seq: int, data: dict) -> None:
        item = data.get("item")
        replay = web_search_item(item) if isinstance(item, dict) else None
        if replay is None:
            return  # reasoning before it stays pending: it goes with the next item or not at all
        self._flush_reasoning()
        self._push(seq, replay)

    def _tool_call(self, seq: int, data: dict) -> None:
        call_id = data.get("call_id")
        if not _text(call_id) or not _text(data.get("name")):
            return  # not a call pixir wrote (an edited Log): nothing that could be sent
        if call_id in self._open or call_id in self._answered or data.get("duplicate"):
            return  # a second call with one id: refused, never sent (docs/log.md)
        self._flush_reasoning()
        self._push(seq, call_item(data))
        self._open[call_id] = data.get("name", "")

    def _tool_result(self, seq: int, data: dict) -> None:
        call_id = data.get("call_id")
        if not _text(call_id) or call_id not in self._open or data.get("duplicate"):
            return  # no call, or already answered: an unpaired output fails the request
        self._pending.clear()
        del self._open[call_id]
        self._answered.add(call_id)
        output = data.get("output", "")
        output = output if isinstance(output, str) else _compact(output)
        self._push(seq, function_call_output(call_id, output))

    def _history_compaction(self, seq: int, data: dict) -> None:
        covered = data.get("range")
        covered = covered if isinstance(covered, dict) else {}
        low, high = covered.get("from_seq"), covered.get("to_seq")
        if not isinstance(low, int) or not isinstance(high, int):
            return
        pairs = zip(self.seqs, self.items, strict=True)
        kept = [(s, item) for s, item in pairs if not low <= s <= high]
        at = next((i for i, (s, _) in enumerate(kept) if s > high), len(kept))
        # Anchored at `low`, not at this event's seq: the next compaction starts its range at
        # the summary and so carries it forward instead of leaving it behind.
        kept.insert(at, (low, summary_item(str(data.get("summary", "")))))
        self._pending = [(s, item) for s, item in self._pending if not low <= s <= high]
        self.last_compaction = data
        self._rebuild(kept)

    def _rebuild(self, kept: list[tuple[int, dict]]) -> None:
        """Re-derive pairing after items were removed: outputs whose call is gone are dropped."""
        self.items, self.seqs = [], []
        self._open, self._answered = {}, set()
        for seq, item in kept:
            kind = item.get("type")
            if kind == "function_call":
                self._open[item["call_id"]] = item.get("name", "")
            elif kind == "function_call_output":
                if item["call_id"] not in self._open:
                    continue
                del self._open[item["call_id"]]
                self._answered.add(item["call_id"])
            self._push(seq, item)


_HANDLERS = {
    "user_message": History._user_message,
    "assistant_message": History._assistant_message,
    "reasoning": History._reasoning,
    "tool_call": History._tool_call,
    "tool_result": History._tool_result,
    "web_search_call": History._web_search_call,
    "history_compaction": History._history_compaction,
}


def _text(value: object) -> bool:
    """A non-empty string: what a call id or a tool name in a Log pixir wrote always is."""
    return isinstance(value, str) and bool(value)
