"""Server-Sent Events framing (WHATWG event-stream rules, docs/provider.md): byte chunks in,
events out, at close to `json.loads` speed.

How it stays fast and linear:
- line endings are normalised to LF in C (`bytes.replace`) as chunks arrive, which is exact
  because a CR can only ever be a line ending in this format (a CR that ends one chunk and
  an LF that starts the next are paired across the boundary);
- an event ends at a blank line, i.e. at `b"\\n\\n"`. Each chunk is searched once from where
  the last search stopped (`rfind` with a scan offset), so no byte is scanned twice however
  an event is chunked, and all the events a chunk completes are cut out with one C-level
  `split` — the per-event Python work is a few `startswith`/`find` calls;
- the usual `event: X` + `data: {json}` block takes a fast path; everything else goes
  through the general field rules (`_parse_lines`);
- UTF-8 is decoded once per event, so a character split across chunks is whole by then.
Only the unfinished event is held between chunks.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from pixir.errors import PixirError
from pixir.sanitize import deep, needs_deep, text

BOM = b"\xef\xbb\xbf"
DONE = "[DONE]"
MAX_EVENT_BYTES = 16 << 20  # one line or event: more ends the stream (stream_too_large)
_DECODER = json.JSONDecoder()
_BIG = 1 << 16  # payloads this long are decoded through a memoryview, without a slice copy


def iter_events(chunks: Iterable[bytes], live=None) -> Iterator[dict]:
    """The Responses events of an SSE byte stream: each data payload parsed as a JSON
    object. The payload's own `type` is authoritative; the `event:` name fills in when it
    has none (the default type is "message"). A payload that is not a JSON object is
    skipped (a proxy's noise must not end a good stream; a stream that never completes
    still fails as `stream_incomplete`). Stops at a `[DONE]` payload or when `chunks` ends
    (an unfinished event at the end is discarded, as the standard says); `id` and `retry`
    are parsed and ignored: a Responses stream cannot be resumed.
    Strings are valid text: invalid UTF-8, escaped lone surrogates and NUL are U+FFFD.

    Framing (`_frames`), the usual `event:` + `data:` block and the general field rules
    (`_parse_lines`) fused with decoding: this is the hot loop of every model call, so it
    avoids a generator layer and `json.loads`' Python wrapper. `live` (a `Liveness`) is
    told of every event (`event`: progress when it is output) and of every keep-alive
    (`check`): bytes of an event still arriving are neither, so a slow stream is not taken
    for a dead one."""
    scan = _DECODER.scan_once
    for blocks in _frames(chunks):
        for block in blocks:
            name = None
            if block.startswith(b"event: "):
                nl = block.find(10)
                if nl > 0 and block.startswith(b"data: ", nl + 1) and block.find(10, nl + 1) < 0:
                    if len(block) < _BIG:
                        data = block[nl + 7 :].decode("utf-8", "replace")
                    else:  # decode in place: one pass less over a big payload
                        with memoryview(block) as view:
                            data = str(view[nl + 7 :], "utf-8", "replace")
                    name = block, nl
                else:
                    event = _parse_lines(block)
                    if event is None:
                        if live is not None:
                            live.check()
                        continue
                    name, data = event
            elif block.startswith(b"data: ") and 10 not in block:
                data = block[6:].decode("utf-8", "replace")
            else:
                event = _parse_lines(block)
                if event is None:  # comments only: a keep-alive
                    if live is not None:
                        live.check()
                    continue
                name, data = event
            if data == DONE:
                return
            try:
                value, end = scan(data, 0)
                if end != len(data):
                    value = json.loads(data)  # trailing whitespace is fine; garbage raises
            except StopIteration:  # not a JSON value at index 0 (e.g. leading whitespace)
                try:
                    value = json.loads(data)
                except (ValueError, RecursionError):
                    continue
            except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
                continue
            if type(value) is dict:
                if needs_deep(data):  # `"\ud800"`, `"\u0000"`: U+FFFD, never a crash later
                    value = deep(value)
                if "type" not in value:  # from the `event:` line, which may hold a NUL too
                    if type(name) is tuple:
                        name = name[0][7 : name[1]].decode("utf-8", "replace")
                    value["type"] = text(name) if name else "message"
                if live is not None:
                    live.event(value)
                yield value


def _frames(chunks: Iterable[bytes]) -> Iterator[list]:
    """For each chunk, the list of complete event blocks it finishes (LF line endings, BOM
    dropped, each block the lines of one event without its final blank line).

    The unfinished event is kept as a list of pieces and joined once, when it completes.
    A piece with no LF cannot end it (a memchr-speed test), so a 1 MB event costs a couple
    of C-level passes and one copy, never a re-scan per chunk."""
    parts: list[bytes] = []  # the unfinished event
    held = 0  # bytes in `parts`
    after_cr = False  # the previous chunk ended in CR: a leading LF here is part of it
    bom_checked = False
    for chunk in chunks:
        # `10 in chunk` (an int) is a bare memchr; `b"\n" in chunk` costs ~4x more per call.
        if parts and 10 not in chunk and 13 not in chunk and bom_checked:
            if chunk:  # the middle of a long line: nothing to look at
                parts.append(chunk)
                held += len(chunk)
                if held > MAX_EVENT_BYTES:
                    raise too_large(held)
                after_cr = False
            continue
        if not chunk:
            continue
        if after_cr and chunk[:1] == b"\n":
            chunk = chunk[1:]
            if not chunk:
                after_cr = False
                continue
        if 13 in chunk:  # CR
            after_cr = chunk[-1:] == b"\r"
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        else:
            after_cr = False
        if not bom_checked:
            head = b"".join(parts) + chunk
            if len(head) < 3 and BOM.startswith(head):
                parts = [head]
                continue  # could still be a BOM split across chunks
            bom_checked = True
            chunk = head[3:] if head.startswith(BOM) else head
            parts = []
            if not chunk:
                continue
        blocks = []
        if parts:
            if parts[-1][-1] == 10 and chunk[0] == 10:  # "\n" | "\n": a blank line across
                parts[-1] = parts[-1][:-1]
                chunk = chunk[1:]
            else:
                pos = _blank_line(chunk) if 10 in chunk else -1
                if pos < 0:  # the held part holds no blank line, so the event goes on
                    parts.append(chunk)
                    held += len(chunk)
                    if held > MAX_EVENT_BYTES:
                        raise too_large(held)
                    continue
                parts.append(chunk[:pos])
                chunk = chunk[pos + 2 :]
            blocks.append(b"".join(parts))  # the one copy of a long event
            parts, held = [], 0
            first = _blank_line(chunk) if chunk else -1
        else:
            first = _blank_line(chunk)
        if first < 0:
            if chunk:
                parts, held = [chunk], len(chunk)
            if blocks:
                yield blocks
            continue
        end = chunk.rfind(b"\n\n")
        blocks.append(chunk[:first])
        if end != first:
            blocks += chunk[first + 2 : end].split(b"\n\n")
        rest = chunk[end + 2 :]
        if rest:
            parts, held = [rest], len(rest)
        yield blocks


def too_large(size: int) -> PixirError:
    return PixirError(
        "stream_too_large",
        f"the server sent one event of more than {MAX_EVENT_BYTES >> 20} MiB "
        f"({size:,} bytes so far); the stream was ended",
        {"limit_bytes": MAX_EVENT_BYTES},
        retryable=False,
        hint="a proxy or gateway may be corrupting the stream; check the base URL",
    )


def _blank_line(data: bytes) -> int:
    """Where the first `b"\\n\\n"` starts, or -1. It looks for single LFs, which `find`
    locates at memchr speed, instead of the pair, which CPython searches for about 30 times
    slower; an event stream has only a few LFs per event."""
    find = data.find
    size = len(data)
    i = find(10)
    while i >= 0:
        i += 1
        if i < size and data[i] == 10:
            return i - 1
        i = find(10, i + 1)
    return -1


def _parse_lines(block) -> tuple[str, str] | None:
    """One event's lines → `(type, data)` by the general WHATWG field rules, or None when it
    has no data line (comments only, keep-alives, a lone `event:`)."""
    kind = ""
    data: list[str] = []
    for raw in block.split(b"\n"):
        if not raw or raw[0] == 0x3A:  # a blank line (dispatches nothing here) or a comment
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
