"""Bytes on the wire: HTTP replies, SSE framing and the stream shaping (chunking, line endings,
missing Content-Type, keep-alive comments) that reproduces how the real service delivers them.

Nothing here knows what an event means; `responses.py` decides *what* to send, this module
decides *how* it arrives.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any

REASONS = {
    200: "OK",
    101: "Switching Protocols",
    302: "Found",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    426: "Upgrade Required",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


@dataclass
class Reply:
    """A complete (non-streamed) HTTP answer. `body` may be bytes, str, or a JSON value."""

    status: int
    body: Any = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str | None = None
    pretty: bool = False  # the public API pretty-prints its error JSON; mirror that on /v1

    def body_bytes(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        if self.pretty:
            return (json.dumps(self.body, indent=2) + "\n").encode("utf-8")
        return json.dumps(self.body, separators=(",", ":")).encode("utf-8")

    def json_body(self) -> Any:
        """The body as JSON data when it is JSON (dict/list), else None."""
        return self.body if isinstance(self.body, (dict, list)) else None

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


def json_reply(status: int, body: Any, headers: list[tuple[str, str]] | None = None, **kw) -> Reply:
    return Reply(status, body, list(headers or []), "application/json", **kw)


def html_reply(status: int, html: str, headers: list[tuple[str, str]] | None = None) -> Reply:
    return Reply(status, html, list(headers or []), "text/html; charset=utf-8")


def reply_head(reply: Reply, keep_alive: bool) -> bytes:
    """Status line and headers of a Content-Length framed reply."""
    body = reply.body_bytes()
    lines = [f"HTTP/1.1 {reply.status} {REASONS.get(reply.status, 'Status')}"]
    if reply.content_type:
        lines.append(f"Content-Type: {reply.content_type}")
    lines.append(f"Content-Length: {len(body)}")
    lines.extend(f"{k}: {v}" for k, v in reply.headers)
    lines.append("Connection: keep-alive" if keep_alive else "Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def stream_head(headers: list[tuple[str, str]], content_type: bool, framing: str) -> bytes:
    """Head of a 200 event stream. `framing` "chunked" (what the real service uses over
    HTTP/1.1) or "close" (no length at all: the body ends when the socket closes)."""
    lines = ["HTTP/1.1 200 OK"]
    if content_type:
        lines.append("Content-Type: text/event-stream; charset=utf-8")
    lines.append("Cache-Control: no-cache")
    if framing == "chunked":
        lines.append("Transfer-Encoding: chunked")
        lines.append("Connection: keep-alive")
    else:
        lines.append("Connection: close")
    lines.extend(f"{k}: {v}" for k, v in headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def chunk_frame(data: bytes) -> bytes:
    """One HTTP/1.1 chunk carrying `data` (never empty: an empty chunk ends the body)."""
    return b"%x\r\n" % len(data) + data + b"\r\n"


LAST_CHUNK = b"0\r\n\r\n"


# -- SSE -------------------------------------------------------------------------------------

NEWLINES = {False: "\n", "lf": "\n", True: "\r\n", "crlf": "\r\n", "cr": "\r"}


def json_text(event: dict) -> str:
    """Compact JSON with non-ASCII characters as they are, like the real service; a string
    holding a lone surrogate (`"\\ud800"`, which a test scripts to attack the client) goes out
    as the JSON escape, the only way the wire can carry it."""
    payload = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
    try:
        payload.encode("utf-8")
    except UnicodeEncodeError:
        payload = json.dumps(event, separators=(",", ":"))
    return payload


def sse_event(
    event: dict, *, newline: str = "\n", event_line: bool = True, multiline: bool = False
) -> bytes:
    """One SSE event: `event: <type>` + `data: <json>` + a blank line.

    `multiline=True` splits the JSON over several `data:` lines at its commas; a conforming
    parser joins them with "\\n", which is JSON whitespace, so the payload still parses.
    """
    payload = json_text(event)
    lines = []
    if event_line:
        lines.append(f"event: {event['type']}")
    if multiline:
        lines.extend(data_lines(payload))
    else:
        lines.append(f"data: {payload}")
    return (newline.join(lines) + newline + newline).encode("utf-8")


def data_lines(payload: str) -> list[str]:
    """Split a compact JSON text into `data:` lines after each comma outside strings.

    A parser joins the lines with "\n" — JSON whitespace between tokens — so the payload
    still parses; a split inside a string would corrupt the value, hence the string tracking.
    """
    out, start, in_string, escaped = [], 0, False, False
    for i, ch in enumerate(payload):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == ",":
            out.append(payload[start : i + 1])
            start = i + 1
    out.append(payload[start:])
    return [f"data: {part}" for part in out]


def sse_comment(text: str, newline: str = "\n") -> bytes:
    return f": {text}{newline}{newline}".encode()


# -- chunk planning --------------------------------------------------------------------------


class Chunker:
    """Cuts a byte stream into the write sizes a step asks for.

    Pieces may span event boundaries (that is what a real network does), except at
    *barriers* (a stall, a cut, the end), where the pending bytes are flushed first so the
    fault lands exactly after the events it names.
    """

    def __init__(self, chunking: dict | None):
        self.pending = bytearray()
        self.fixed: int | None = None
        self.rng: random.Random | None = None
        self.bounds = (1, 4096)
        if chunking:
            if "size" in chunking:
                self.fixed = max(1, int(chunking["size"]))
            else:
                lo, hi = chunking["random"]
                self.bounds = (max(1, int(lo)), max(1, int(hi)))
                self.rng = random.Random(chunking.get("seed", 0))
        self.next_size = self._draw()

    def _draw(self) -> int | None:
        if self.fixed is not None:
            return self.fixed
        if self.rng is not None:
            return self.rng.randint(*self.bounds)
        return None  # unshaped: one write per event

    def feed(self, data: bytes) -> list[bytes]:
        if self.next_size is None:
            return [bytes(data)] if data else []
        self.pending += data
        out = []
        while len(self.pending) >= self.next_size:
            out.append(bytes(self.pending[: self.next_size]))
            del self.pending[: self.next_size]
            self.next_size = self._draw()
        return out

    def flush(self) -> list[bytes]:
        if not self.pending:
            return []
        out = [bytes(self.pending)]
        self.pending.clear()
        return out
