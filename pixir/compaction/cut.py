"""Accounting and cutting: how full the context window is (characters / 4), the budgets
that follow from the window, and where a History may be cut so that the request left after
the summary is still one the API accepts (docs/compaction.md)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from pixir.history import SUMMARY_PREFIX, History
from pixir.items import message_text, reasoning_summary

CHARS_PER_TOKEN = 4  # docs/compaction.md: tokens are estimated as characters / 4
# An image costs the model about as much as a high-detail 1024×1024 one (85 + 4 × 170 tokens
# of 512-pixel tiles, ~765), whatever the length of its base64: counted so.
IMAGE_CHARS = 800 * CHARS_PER_TOKEN


# -- accounting ------------------------------------------------------------------------------


def tokens(chars: int) -> int:
    """Characters → estimated tokens (rounded up)."""
    return -(-chars // CHARS_PER_TOKEN)


def item_chars(item: dict) -> int:
    """Characters an input item puts in the context: its texts, arguments and outputs."""
    kind = item.get("type")
    if kind == "function_call":
        return len(item.get("name") or "") + len(item.get("arguments") or "")
    if kind == "function_call_output":
        output = item.get("output")
        return len(output) if isinstance(output, str) else len(json.dumps(output))
    if kind == "reasoning":
        summary = sum(len(text) for text in reasoning_summary(item))
        return len(item.get("encrypted_content") or "") + summary
    if isinstance(item.get("content"), (str, list)):
        return len(message_text(item)) + IMAGE_CHARS * len(_images(item))
    return len(json.dumps(item))


def _images(item: dict) -> list:
    content = item.get("content")
    parts = content if isinstance(content, list) else ()
    return [p for p in parts if isinstance(p, dict) and p.get("type") == "input_image"]


def body_tokens(body: dict) -> int:
    """Estimated tokens of a whole request (its compact JSON / 4, an image as IMAGE_CHARS
    instead of its base64): used when no call has measured the context yet in this
    process, or since the last compaction."""
    chars = len(json.dumps(body, separators=(",", ":"), ensure_ascii=False))
    for item in body.get("input") or ():
        content = item.get("content") if isinstance(item, dict) else None
        for part in content if isinstance(content, list) else ():
            if isinstance(part, dict) and part.get("type") == "input_image":
                chars += IMAGE_CHARS - len(str(part.get("image_url") or ""))
    return tokens(chars)


@dataclass(frozen=True)
class Compactor:
    """A session's compaction settings and how to shape its summary call."""

    window: int
    auto: bool
    reserve_tokens: int
    keep_recent_tokens: int
    summary_request: Callable[[list[dict]], dict]  # input items → request body

    @property
    def threshold(self) -> int:
        """Compact before a call whose estimate exceeds this (window − reserve)."""
        return max(0, self.window - self.reserve_tokens)

    def keep_budget(self) -> int:
        """Tokens of recent History kept verbatim: `keep_recent_tokens`, but never more than
        half of window − reserve, or a small window would be compacted again every step."""
        return min(self.keep_recent_tokens, self.threshold // 2)

    def summary_budget(self) -> int:
        """Characters of transcript the summary call may carry: three quarters of what the
        window holds below the reserve, so that the summary call itself fits."""
        return max(8000, self.threshold * CHARS_PER_TOKEN * 3 // 4)


# -- cutting ---------------------------------------------------------------------------------


@dataclass
class Cut:
    """Where a compaction cuts the History: it replaces the first `replaced` items, which
    came from the Log events `from_seq`..`to_seq`, and keeps the `kept` items after them."""

    from_seq: int
    to_seq: int
    replaced: int  # History items replaced
    kept: int  # History items kept verbatim after the summary
    tokens_before: int  # the whole request, estimated
    tokens_replaced: int
    tokens_kept: int
    previous: dict | None  # the history_compaction this one carries forward

    @property
    def events(self) -> int:
        """Log events in the range (every type, not only those the fold sends)."""
        return self.to_seq - self.from_seq + 1

    def to_dict(self) -> dict:
        return {
            "range": {"from_seq": self.from_seq, "to_seq": self.to_seq},
            "events": self.events,
            "items_replaced": self.replaced,
            "items_kept": self.kept,
            "tokens_before": self.tokens_before,
            "tokens_replaced": self.tokens_replaced,
            "tokens_kept": self.tokens_kept,
            "carries_summary": self.previous is not None,
        }


def cut_points(history: History) -> list[int]:
    """Indexes `i` where the History may be cut (items[:i] replaced, items[i:] kept): every
    call before `i` has its output before `i`, the item before `i` is not a reasoning item
    (it stays with the item it precedes), and every seq before `i` is below every seq from
    `i` on (so that a seq range names exactly the replaced items)."""
    items, seqs = history.items, history.seqs
    n = len(items)
    floor = [0] * (n + 1)  # floor[i] = min(seqs[i:])
    floor[n] = 1 << 62
    for i in range(n - 1, -1, -1):
        floor[i] = min(seqs[i], floor[i + 1])
    points: list[int] = []
    open_calls: set[str] = set()
    ceiling = -1
    for i, item in enumerate(items):
        kind = item.get("type")
        if kind == "function_call":
            open_calls.add(item.get("call_id"))
        elif kind == "function_call_output":
            open_calls.discard(item.get("call_id"))
        ceiling = max(ceiling, seqs[i])
        if open_calls or kind == "reasoning" or ceiling >= floor[i + 1]:
            continue
        if i + 1 == n and history.open_calls():
            continue  # calls still waiting for results (the fold closes them at the end)
        points.append(i + 1)
    return points


def previous_summary(history: History) -> dict | None:
    """The history_compaction whose summary opens the History, if any."""
    data = history.last_compaction
    if not data or not history.items:
        return None
    covered = data.get("range") or {}
    if history.seqs[0] != covered.get("from_seq"):
        return None
    first = history.items[0]
    if first.get("role") != "user" or not message_text(first).startswith(SUMMARY_PREFIX):
        return None
    return data


def find_cut(
    history: History,
    keep_tokens: int,
    *,
    tokens_before: int | None = None,
    last_seq: int | None = None,
) -> Cut | None:
    """Where to cut: at the earliest cut point that keeps at most `keep_tokens` of the most
    recent items verbatim (or, when no cut point is that late, at the latest one). None when
    that would replace nothing but an earlier summary. `last_seq` (the Log's last seq) ends
    the range when everything is replaced."""
    items, seqs = history.items, history.seqs
    points = cut_points(history)
    if not points:
        return None
    sizes = [item_chars(item) for item in items]
    suffix = [0] * (len(items) + 1)
    for i in range(len(items) - 1, -1, -1):
        suffix[i] = suffix[i + 1] + sizes[i]
    if tokens(suffix[0]) <= keep_tokens:
        return None  # the whole History is recent enough to keep
    at = next((i for i in points if tokens(suffix[i]) <= keep_tokens), points[-1])
    previous = previous_summary(history)
    if at == 1 and previous is not None:
        return None  # only the earlier summary: nothing new to fold in
    if at == len(items):
        to_seq = max(max(seqs), last_seq if last_seq is not None else -1)
    else:
        to_seq = seqs[at] - 1
    if tokens_before is None:
        tokens_before = tokens(suffix[0])
    return Cut(
        from_seq=min(seqs[:at]),
        to_seq=to_seq,
        replaced=at,
        kept=len(items) - at,
        tokens_before=tokens_before,
        tokens_replaced=tokens(suffix[0] - suffix[at]),
        tokens_kept=tokens(suffix[at]),
        previous=previous,
    )
