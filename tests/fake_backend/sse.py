"""A plan written as an HTTP/SSE stream, shaped the way the step asks: chunking down to one
byte, CR/CRLF line endings, no Content-Type, keep-alive comments, a BOM, and the stream
faults (stall, cut, reset, a body kept open after the terminal event)."""

from __future__ import annotations

import time
from typing import Any

from .common import Call, Comment, Plan
from .events import stream_headers
from .scenario import FLOOD_EVENTS, QUIET_FLOODS
from .server import ClientGone, Connection
from .wire import (
    LAST_CHUNK,
    NEWLINES,
    Chunker,
    chunk_frame,
    sse_comment,
    sse_event,
    stream_head,
)


def stream_sse(conn: Connection, step: dict, plan: Plan, call: Call, settings: Any) -> bool:
    """Write the plan as an event stream, applying the step's shaping and stream faults.
    Returns whether the connection can carry another request."""
    newline = NEWLINES[step["crlf"]]
    chunked = step["framing"] == "chunked"
    faults = plan.faults
    if any(f["type"] == "reset" and f.get("after_events") is None for f in faults):
        conn.reset()
        return False
    conn.send(stream_head(stream_headers(call, step), step["content_type"], step["framing"]))
    chunker = Chunker(step["chunking"])
    pause = float((step["chunking"] or {}).get("pause_s", settings.chunk_pause_s))

    def write(piece: bytes) -> None:
        small = len(piece) <= settings.small_write_bytes
        conn.send(
            chunk_frame(piece) if chunked else piece, pause if small and step["chunking"] else 0
        )

    def barrier(sent: int) -> str | None:
        """Faults due after `sent` events; returns "cut"/"clean"/"reset" to stop."""
        for fault in faults:
            if fault.get("after_events") != sent:
                continue
            if fault["type"] in ("stall", "cut", "reset", "flood"):
                for piece in chunker.flush():
                    write(piece)
            if fault["type"] == "stall":
                conn.wait(float(fault["seconds"]))
            elif fault["type"] == "flood":
                _flood(conn, fault, write, newline)
                return "cut"
            elif fault["type"] == "cut":
                return "clean" if fault.get("clean") else "cut"
            elif fault["type"] == "reset":
                return "reset"
        return None

    if step["bom"]:
        for piece in chunker.feed(b"\xef\xbb\xbf"):
            write(piece)
    sent = 0
    stop = None
    for event in plan.events:
        if isinstance(event, Comment):
            data = sse_comment(event.text, newline)
        else:
            stop = barrier(sent)
            if stop:
                break
            data = sse_event(
                event,
                newline=newline,
                event_line=step["event_lines"],
                multiline=step["multiline_data"],
            )
            sent += 1
        for piece in chunker.feed(data):
            write(piece)
    stop = stop or barrier(sent)
    for piece in chunker.flush():
        write(piece)
    if stop == "reset":
        conn.reset()
        return False
    if stop == "cut":
        conn.close()  # mid-body: the chunked body never gets its last chunk
        return False
    if step["keep_open"] and stop is None:
        seconds = settings.keep_open_s if step["keep_open"] is True else float(step["keep_open"])
        conn.wait_for_peer_close(seconds)
        conn.close()
        return False
    if chunked:
        conn.send(LAST_CHUNK)
        return True
    conn.close()
    return False


def _flood(conn: Connection, fault: dict, write, newline: str) -> None:
    """Write the flood until the client goes away, the time is up or the server stops."""
    deadline = time.monotonic() + float(fault.get("seconds", 60))
    what = fault["what"]
    try:
        if what == "event":  # one data line that never ends
            write(b'data: {"type":"response.output_text.delta","delta":"')
        while time.monotonic() < deadline and not conn.stopping.is_set():
            if what == "event":
                write(b"x" * 65536)
            elif what in FLOOD_EVENTS:
                write(sse_event(FLOOD_EVENTS[what], newline=newline))
                if what in QUIET_FLOODS:
                    conn.wait(0.01)
            else:
                write(sse_comment("keep-alive", newline))
                conn.wait(0.05)
    except ClientGone:
        pass
