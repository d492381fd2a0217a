"""Plain clients for testing the fake itself: requests, websocket-client and raw sockets.

Deliberately independent of pixir: these tests prove the fake behaves like the real service,
so they must not share code with the client under test.
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import requests
import websocket

SUB_PATH = "/backend-api/codex/responses"
API_PATH = "/v1/responses"


def user(text: str) -> dict:
    return {"role": "user", "content": [{"type": "input_text", "text": text}]}


DROP = object()  # body(store=DROP) removes the field


def body(**over: Any) -> dict:
    """A minimal request body both Responses paths accept."""
    data = {
        "model": "gpt-5.5",
        "instructions": "You are a test.",
        "input": [user("hello")],
        "tools": [],
        "tool_choice": "auto",
        "parallel_tool_calls": True,
        "store": False,
        "stream": True,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "test-session",
    }
    data.update(over)
    return {k: v for k, v in data.items() if v is not DROP}


def sub_headers(fb, tokens: dict | None = None) -> dict:
    tokens = tokens or fb.mint_tokens()
    return {
        "Authorization": f"Bearer {tokens['access_token']}",
        "chatgpt-account-id": fb.settings.account_id,
    }


def api_headers(fb) -> dict:
    return {"Authorization": f"Bearer {fb.api_key}"}


def post(fb, data: Any = None, surface: str = "sub", headers: dict | None = None, session=None):
    """POST a Responses request; returns the (streamed) requests.Response."""
    path = SUB_PATH if surface == "sub" else API_PATH
    if headers is None:
        headers = sub_headers(fb) if surface == "sub" else api_headers(fb)
    http = session or requests
    return http.post(
        fb.url + path,
        json=body() if data is None else data,
        headers=headers,
        stream=True,
        timeout=10,
    )


def parse_sse(raw: bytes) -> list[dict]:
    """Events of a complete event stream (any line ending), as {"event", "data"} dicts."""
    text = raw.decode("utf-8")
    text = text.removeprefix("\ufeff")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    events, name, data = [], None, []
    for line in text.split("\n"):
        if line == "":
            if data:
                events.append({"event": name, "data": "\n".join(data)})
            name, data = None, []
        elif line.startswith(":"):
            continue
        else:
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
    return events


def stream_events(resp) -> list[dict]:
    """JSON payloads of a whole SSE response."""
    raw = b"".join(resp.iter_content(chunk_size=None))
    return [json.loads(e["data"]) for e in parse_sse(raw)]


def types(events: list[dict]) -> list[str]:
    return [e["type"] for e in events]


# -- raw sockets --------------------------------------------------------------------------


def raw_request(fb, method: str, path: str, headers: dict, payload: bytes = b"") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", fb.port), timeout=10)
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{fb.port}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines.append(f"Content-Length: {len(payload)}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + payload)
    return sock


def raw_post(fb, data: dict, surface: str = "sub") -> socket.socket:
    headers = sub_headers(fb) if surface == "sub" else api_headers(fb)
    headers["Content-Type"] = "application/json"
    path = SUB_PATH if surface == "sub" else API_PATH
    return raw_request(fb, "POST", path, headers, json.dumps(data).encode())


def read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    """(head, whatever body bytes came with it)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        if not data:
            break
        buf += data
    head, _, rest = buf.partition(b"\r\n\r\n")
    return head, rest


def read_until_eof(sock: socket.socket, timeout: float = 10) -> bytes:
    sock.settimeout(timeout)
    out = b""
    while True:
        data = sock.recv(65536)
        if not data:
            return out
        out += data


def dechunk(data: bytes) -> tuple[bytes, bool]:
    """(payload, ended) of a chunked body; `ended` when the 0-chunk arrived."""
    out, pos = b"", 0
    while True:
        end = data.find(b"\r\n", pos)
        if end < 0:
            return out, False
        size = int(data[pos:end], 16)
        if size == 0:
            return out, True
        out += data[end + 2 : end + 2 + size]
        pos = end + 2 + size + 2
        if pos > len(data):
            return out, False


# -- websockets ------------------------------------------------------------------------------


def ws_url(fb, surface: str = "sub") -> str:
    return fb.url.replace("http://", "ws://") + (SUB_PATH if surface == "sub" else API_PATH)


def ws_connect(fb, surface: str = "sub", headers: dict | None = None) -> websocket.WebSocket:
    if headers is None:
        headers = sub_headers(fb) if surface == "sub" else api_headers(fb)
    return websocket.create_connection(
        ws_url(fb, surface),
        header=[f"{k}: {v}" for k, v in headers.items()],
        timeout=10,
        skip_utf8_validation=True,
    )


def ws_create(ws, **over: Any) -> None:
    data = body(**over)
    data.pop("stream", None)
    ws.send(json.dumps({"type": "response.create", **data}))


TERMINALS = {"response.completed", "response.incomplete", "response.failed", "error"}


def ws_events(ws) -> list[dict]:
    """Frames until (and including) a terminal event."""
    out = []
    while True:
        event = json.loads(ws.recv())
        out.append(event)
        if event["type"] in TERMINALS:
            return out


def wait_for(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()
