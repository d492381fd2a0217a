"""Server-Sent Events framing (WHATWG event-stream rules, SPEC §4.3): byte chunks in,
`(event_type, data)` pairs out, at close to `json.loads` speed.

How it stays fast and linear: every chunk is appended to one `bytearray`; line endings are
normalised to LF in C (`bytes.replace`) as chunks arrive, which is exact because a CR can
only ever be a line ending in this format; an event ends at the first `b"\\n\\n"`, found
with `bytearray.find` from a scan offset, so no byte is scanned twice however an event is
chunked; the common `event: X` / `data: {json}` block takes a fast path with no per-line
loop; UTF-8 is decoded once per event (a character split across chunks is whole by then).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

BOM = b"\xef\xbb\xbf"
DONE = "[DONE]"
# Consumed bytes at the front of the buffer are dropped once there are this many (CPython
# deletes a bytearray's head in O(1) amortised, so this only bounds memory).
_COMPACT_AT = 1 << 16


def iter_sse(chunks: Iterable[bytes]) -> Iterator[tuple[str, str]]:
    """Yield `(event_type, data)` for each dispatched event; `event_type` defaults to
    "message". Stops at a `[DONE]` data payload or when `chunks` ends (an unfinished
    event at the end is discarded, as the standard says). Fields `id` and `retry` are
    parsed and ignored: a Responses stream cannot be resumed."""
    buf = bytearray()
    pos = 0  # start of the unfinished event
    scan = 0  # where to look for the next blank line
    after_cr = False  # the previous chunk ended in CR: a leading LF here is part of it
    bom_checked = False
    for chunk in chunks:
        if not chunk:
            continue
        if after_cr and chunk[:1] == b"\n":
            chunk = chunk[1:]
        if b"\r" in chunk:
            after_cr = chunk[-1:] == b"\r"
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        else:
            after_cr = False
        buf += chunk
        if not bom_checked:
            if len(buf) < 3 and BOM.startswith(buf):
                continue  # could still be a BOM split across chunks
            if buf.startswith(BOM):
                del buf[:3]
            bom_checked = True
        find = buf.find
        while True:
            end = find(b"\n\n", scan)
            if end < 0:
                # The blank line may straddle the next chunk: re-check the last byte only.
                scan = max(pos, len(buf) - 1)
                break
            block = buf[pos:end]
            pos = scan = end + 2
            event = _parse_block(block)
            if event is not None:
                if event[1] == DONE:
                    return
                yield event
        if pos >= _COMPACT_AT:
            del buf[:pos]
            scan -= pos
            pos = 0


def _parse_block(block: bytearray) -> tuple[str, str] | None:
    """One event's lines (LF-separated, no blank line inside) → `(type, data)`, or None
    when it has no data line (comments only, keep-alives, a lone `event:`)."""
    # Fast paths: `data: {...}` alone, or `event: X` then `data: {...}`.
    if block.startswith(b"data: ") and b"\n" not in block:
        return "message", block[6:].decode("utf-8", "replace")
    if block.startswith(b"event: "):
        nl = block.find(b"\n")
        if nl > 0 and block.startswith(b"data: ", nl + 1) and block.find(b"\n", nl + 1) < 0:
            kind = block[7:nl].decode("utf-8", "replace") or "message"
            return kind, block[nl + 7 :].decode("utf-8", "replace")
    return _parse_lines(block)


def _parse_lines(block: bytearray) -> tuple[str, str] | None:
    """The general WHATWG field rules, line by line."""
    kind = ""
    data: list[str] = []
    for raw in block.split(b"\n"):
        if not raw or raw[0] == 0x3A:  # blank (only leading ones exist here) or `:` comment
            continue
        line = raw.decode("utf-8", "replace")
        name, colon, value = line.partition(":")
        if colon and value[:1] == " ":
            value = value[1:]
        if name == "data":
            data.append(value)
        elif name == "event":
            kind = value
        # `id`, `retry` and unknown fields change nothing we use.
    if not data:
        return None
    return kind or "message", "\n".join(data)


def iter_events(chunks: Iterable[bytes]) -> Iterator[dict]:
    """The Responses events of an SSE byte stream: each data payload parsed as a JSON
    object. The payload's own `type` is authoritative; the `event:` name fills in when it
    has none. A payload that is not a JSON object is skipped (a proxy's noise must not end
    a good stream; a stream that never completes still fails as `stream_incomplete`)."""
    loads = json.loads
    for kind, data in iter_sse(chunks):
        try:
            event = loads(data)
        except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
            continue
        if type(event) is dict:
            if "type" not in event:
                event["type"] = kind
            yield event
