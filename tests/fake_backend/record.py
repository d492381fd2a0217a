"""The fake's memory of every request it received, for tests to assert on."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any


class Headers(Mapping[str, str]):
    """Case-insensitive, read-only header map that keeps the first spelling seen.

    HTTP header names are case-insensitive, and clients differ in how they spell them
    (`requests` sends `Authorization`, websocket-client sends `authorization`), so tests must
    not depend on case. Repeated headers are joined with ", " as RFC 9110 allows.
    """

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()):
        self._items: dict[str, tuple[str, str]] = {}
        for name, value in pairs:
            key = name.lower()
            if key in self._items:
                first, old = self._items[key]
                self._items[key] = (first, f"{old}, {value}")
            else:
                self._items[key] = (name, value)

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()][1]

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __repr__(self) -> str:
        return f"Headers({dict(self.items())!r})"


@dataclass
class Recorded:
    """One request as the fake saw it.

    `transport` is "http" for plain HTTP requests (including the WebSocket upgrade request
    itself, whose `kind` is "ws_handshake") and "websocket" for each message a client sent on
    an open WebSocket (`kind` "ws_frame"). `connection_id` is the same for every request and
    frame that arrived on one TCP connection. `status` is what the fake answered: the HTTP
    status, or for a WebSocket frame 200 when the response ran and the error frame's status
    otherwise. `extra` holds derived facts (response id, effective input of a continuation...).
    """

    method: str
    path: str
    query: dict[str, str]
    headers: Headers
    body: bytes
    json: Any
    bytes_received: int
    transport: str
    connection_id: int
    kind: str = "http"
    status: int | None = None
    ts: float = field(default_factory=time.time)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def parse_json(body: bytes) -> Any:
    """The body parsed as JSON, or None when it is not JSON (never raises)."""
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


class Recorder:
    """A thread-safe, append-only list of Recorded."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[Recorded] = []

    def add(self, rec: Recorded) -> Recorded:
        with self._lock:
            rec.ts = time.time()  # stamped under the lock so `ts` follows arrival order
            self._items.append(rec)
        return rec

    def all(self) -> list[Recorded]:
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
