"""The HTTP/SSE transport: POST the body, hand back the response's events as dicts.

A transport only moves bytes: `open(url, headers, body)` returns an `Exchange` (status,
headers, an iterator of event dicts, or the capped error body), and failures of the wire
become `network`, `stream_idle_timeout` or `stream_incomplete`. What an error *means* is
decided by `classify`, and the events are assembled by `assemble` — the same code the
WebSocket transport feeds.
"""

from __future__ import annotations

import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from pixir import debug, neterror
from pixir.config import in_file, proxies_for
from pixir.errors import PixirError
from pixir.provider.assemble import stream_incomplete
from pixir.provider.classify import MAX_ERROR_BODY
from pixir.provider.sse import iter_events

NAME = "http_sse"
CONNECT_TIMEOUT_S = 30.0
# After the terminal event, wait this long for the rest of the body so the connection can be
# reused; a body the server keeps open is closed instead (quirk 7 in docs/provider.md).
DRAIN_WAIT_S = 0.05
DRAIN_DEADLINE_S = 0.25
DRAIN_MAX_BYTES = 64 * 1024
READ1_SIZE = 64 * 1024


# What moves a response forward: a delta that adds text (answer, reasoning, arguments), a
# new or finished item (at most 4096 a response: assemble.MAX_ITEMS), the end. The other
# events — `response.created`, `in_progress`, content parts, `.done` events, annotations,
# a search's status, rate limits, types pixir does not know — count only within a budget: a
# response's first few, and a few more for each item. A server that sends nothing else is as
# stuck as a silent one, however busy its socket.
DELTA_EVENTS = frozenset(
    {
        "response.output_text.delta",
        "response.refusal.delta",
        "response.reasoning_summary_text.delta",
        "response.reasoning_text.delta",
        "response.function_call_arguments.delta",
    }
)
ITEM_EVENTS = frozenset({"response.output_item.added", "response.output_item.done"})
ENDING_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed", "error"})
PREAMBLE_BUDGET = 8  # created, in_progress, rate limits: a slow link's first events
ITEM_BUDGET = 16  # content parts, `.done` events, a search's status, for each item


class Liveness:
    """Besides silence (the socket's read timeout), a stream that sends nothing that moves
    the response forward — keep-alives (SSE comments, `keepalive` events, WebSocket pings),
    empty deltas, status events past their budget, events of unknown types — for the idle
    timeout ends as `stream_idle_timeout` too: the decoder calls `event(value)` for each
    event and `check()` for each keep-alive (the bytes of an event still arriving are
    neither)."""

    __slots__ = ("budget", "clock", "last", "timeout_s")

    def __init__(self, timeout_s: float, clock: Callable[[], float] = time.monotonic):
        self.timeout_s = timeout_s
        self.clock = clock
        self.last = clock()
        self.budget = PREAMBLE_BUDGET

    def progress(self) -> None:
        self.last = self.clock()

    def event(self, value: dict) -> None:
        """An event arrived: progress if it moves the response forward, else a check."""
        kind = value.get("type")
        if type(kind) is not str:
            kind = ""
        if kind in DELTA_EVENTS:
            moved = bool(value.get("delta"))
        elif kind in ITEM_EVENTS:
            self.budget += ITEM_BUDGET
            moved = True
        elif kind in ENDING_EVENTS:
            moved = True
        else:
            moved = self.budget > 0 and kind != "keepalive"
            if moved:
                self.budget -= 1
        if moved:
            self.last = self.clock()
        elif self.clock() - self.last > self.timeout_s:
            raise idle_timeout(self.timeout_s, keepalives=True)

    def check(self) -> None:
        if self.clock() - self.last > self.timeout_s:
            raise idle_timeout(self.timeout_s, keepalives=True)


def idle_timeout(seconds: float, keepalives: bool = False) -> PixirError:
    what = "no output (only keep-alives, status or empty events)" if keepalives else "no data"
    return PixirError(
        "stream_idle_timeout",
        f"{what} from the server for {seconds:g} s",
        {"idle_timeout_ms": int(seconds * 1000)},
        hint=f"raise {in_file('stream_idle_timeout_ms')} if the model needs longer",
    )


@dataclass
class Exchange:
    """One request's response. With `status` 200 `events` yields its events; otherwise
    `error_body` holds at most 16 KiB of the body. Always `close()` it."""

    status: int
    headers: Mapping[str, str]
    events: Iterator[dict] = field(default_factory=lambda: iter(()))
    error_body: bytes = b""
    meta: dict = field(default_factory=dict)  # started, first_byte_s, bytes_received
    close: Callable[[bool], None] = lambda completed=False: None


class HttpTransport:
    """One `requests.Session` (connection reuse) per Provider."""

    name = NAME

    def __init__(self, idle_timeout_s: float, clock: Callable[[], float] = time.monotonic):
        self.idle_timeout_s = idle_timeout_s
        self.clock = clock
        self._session = None
        # Every connection the session opened, so that `abort` (another thread) finds the
        # socket a call is blocked on, whatever phase it is in.
        self._connections: weakref.WeakSet = weakref.WeakSet()
        self._connections_lock = threading.Lock()
        self._stop: Callable[[], bool] | None = None  # the call in flight's (Provider.stream)

    def _requests_session(self):
        if self._session is None:
            import requests  # here, not at the top: `pixir --version` must not pay for it

            session = requests.Session()
            adapter = _tracking_adapter(self._track, self._connected)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            self._session = session
        return self._session

    def _track(self, connection) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def _connected(self, connection) -> None:
        # A stop made while the socket was connecting found no socket to shut: shut it now
        # (the stop is set before `abort` looks for sockets, so one of the two sees it).
        if self._stop is not None and self._stop():
            shut(getattr(connection, "sock", None))

    def abort(self) -> None:
        """Called from another thread: shut the socket of every connection, so that a call
        blocked on one — connecting, waiting for headers, streaming — fails at once. An idle
        pooled connection is simply opened anew by the next call."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            shut(getattr(connection, "sock", None))

    def prepare(self) -> None:
        """Load `requests` and make the session now, so call timings exclude start-up."""
        self._requests_session()

    def open(
        self,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        stop: Callable[[], bool] | None = None,
    ) -> Exchange:
        import requests

        session = self._requests_session()
        self._stop = stop
        if stop is not None and stop():
            raise stopped()
        if debug.enabled():
            debug.log(f"POST {url} headers={debug.redact_headers(headers)}")
            debug.log(f"request body ({len(body)} bytes): {debug.redact_body(body)}")
        started = self.clock()
        timeout = (min(CONNECT_TIMEOUT_S, self.idle_timeout_s), self.idle_timeout_s)
        try:
            resp = session.post(
                url,
                data=body,
                headers=dict(headers),
                stream=True,
                timeout=timeout,
                allow_redirects=False,
                proxies=proxies_for(url),  # cleartext or loopback: never through a proxy
            )
        except requests.exceptions.RequestException as exc:
            raise self._request_error(exc, url) from None
        meta = {"started": started, "first_byte_s": None, "bytes_received": 0}
        meta["headers_s"] = self.clock() - started
        status = resp.status_code
        if debug.enabled():
            debug.log(f"HTTP {status} headers={debug.redact_headers(resp.headers)}")
        if not 200 <= status < 300:
            body_bytes = _read_capped(resp, MAX_ERROR_BODY)
            resp.close()
            if debug.enabled():
                debug.log(f"error body: {debug.redact_body(body_bytes)}")
            return Exchange(status, resp.headers, error_body=body_bytes, meta=meta)
        content_type = resp.headers.get("content-type", "")
        if content_type and "event-stream" not in content_type.lower():
            raise _not_an_event_stream(resp, content_type)
        live = Liveness(self.idle_timeout_s, self.clock)
        chunks = self._chunks(resp, meta)
        events = iter_events(chunks, live)
        if debug.enabled():
            events = _logged(events)

        def close(completed: bool = False) -> None:
            if completed:
                _drain(resp, chunks)
            chunks.close()
            resp.close()

        return Exchange(status, resp.headers, events=events, meta=meta, close=close)

    def _chunks(self, resp, meta: dict) -> Iterator[bytes]:
        """The body as it arrives. `iter_content(chunk_size=READ1_SIZE)` yields each HTTP
        chunk as soon as it is there, in pieces of at most 64 KiB (a server's 1 GB chunk is
        never one allocation; the default chunk size reads one byte at a time,
        docs/performance.md); a body without chunked framing is read with `read1`, which
        returns whatever has arrived."""
        started = self.clock()
        try:
            raw = resp.raw
            if getattr(raw, "chunked", False) or not hasattr(raw, "read1"):
                pieces = resp.iter_content(chunk_size=READ1_SIZE)
            else:
                pieces = _read1_pieces(raw)
            for piece in pieces:
                if meta["first_byte_s"] is None:
                    meta["first_byte_s"] = meta["headers_s"] + self.clock() - started
                meta["bytes_received"] += len(piece)
                yield piece
        except Exception as exc:  # every wire failure becomes a structured error
            if isinstance(exc, PixirError):
                raise
            if _is_timeout(exc):
                raise self._idle_error() from None
            raise stream_incomplete(f"connection broken: {neterror.reason(exc)}") from None

    def _idle_error(self) -> PixirError:
        return idle_timeout(self.idle_timeout_s)

    def _request_error(self, exc: Exception, url: str) -> PixirError:
        import requests

        if isinstance(exc, requests.exceptions.ReadTimeout):  # connected, then silence
            return self._idle_error()
        host = url.split("/")[2] if "://" in url else url
        if isinstance(exc, requests.exceptions.SSLError) and "CERTIFICATE" in str(exc).upper():
            return PixirError(
                "network",
                f"TLS certificate check failed for {host}",
                {"host": host},
                retryable=False,
                hint="behind a proxy? set REQUESTS_CA_BUNDLE or SSL_CERT_FILE to its CA",
            )
        return PixirError(
            "network",
            f"cannot reach {host}: {neterror.reason(exc)}",
            {"host": host},
            retryable=True,
            hint=neterror.NETWORK_HINT,
        )

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None


def shut(sock) -> None:
    """Shut a socket down from another thread: its blocked reader wakes up with EOF. The
    plain socket's shutdown, also for a TLS socket (whose own `shutdown` would drop its TLS
    state under the reading thread)."""
    if sock is None:
        return
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except (OSError, TypeError):
        pass


def stopped() -> PixirError:
    """The error of a call its caller stopped (Provider.stream's `stop`): never retried."""
    return PixirError("interrupted", "the model call was stopped", retryable=False)


def _tracking_adapter(track: Callable[[object], None], connected: Callable[[object], None]):
    """A `requests` adapter whose pools tell `track` about every connection they open, and
    `connected` once its socket is up (the default pools otherwise, proxies included)."""
    from requests.adapters import HTTPAdapter

    def tracked(pool_class):
        base = pool_class.ConnectionCls

        class Connection(base):
            def connect(self):
                track(self)
                done = super().connect()
                connected(self)
                return done

        return type(pool_class.__name__, (pool_class,), {"ConnectionCls": Connection})

    def watch(manager):
        if not getattr(manager, "_pixir_tracked", False):
            manager.pool_classes_by_scheme = {
                scheme: tracked(cls) for scheme, cls in manager.pool_classes_by_scheme.items()
            }
            manager._pixir_tracked = True
        return manager

    class TrackingAdapter(HTTPAdapter):
        def init_poolmanager(self, *args, **kwargs):
            super().init_poolmanager(*args, **kwargs)
            watch(self.poolmanager)

        def proxy_manager_for(self, proxy, **proxy_kwargs):
            return watch(super().proxy_manager_for(proxy, **proxy_kwargs))

    return TrackingAdapter()


def _read1_pieces(raw) -> Iterator[bytes]:
    while True:
        piece = raw.read1(READ1_SIZE, decode_content=True)
        if not piece:
            return
        yield piece


def _read_capped(resp, limit: int) -> bytes:
    """At most `limit` bytes of an error body; the rest is never read."""
    out = bytearray()
    try:
        for piece in resp.iter_content(chunk_size=8192):
            out += piece
            if len(out) >= limit:
                break
    except Exception:  # a torn error body still tells us the status
        pass
    return bytes(out[:limit])


def _not_an_event_stream(resp, content_type: str) -> PixirError:
    """A 200 that is not an event stream: a captive portal, a proxy or a bot check."""
    from pixir.provider.classify import parse_error_body

    body = _read_capped(resp, MAX_ERROR_BODY)
    resp.close()
    _, text = parse_error_body(body)
    kind = content_type.split(";")[0].strip()
    return PixirError(
        "invalid_response",
        f"expected an event stream, got {kind}" + (f": {text}" if text else ""),
        {"status": resp.status_code, "content_type": kind},
        hint="a proxy or gateway may be answering instead of the API; check the base URL",
    )


def _drain(resp, chunks: Iterator[bytes]) -> None:
    """Read what is left of a finished body for a moment, so a body that ends right after
    the terminal event leaves its connection reusable. A body kept open is abandoned."""
    try:
        sock = resp.raw.connection.sock
        sock.settimeout(DRAIN_WAIT_S)
    except Exception:
        return
    deadline = time.monotonic() + DRAIN_DEADLINE_S
    left = DRAIN_MAX_BYTES
    try:
        for piece in chunks:
            left -= len(piece)
            if left < 0 or time.monotonic() > deadline:
                return
    except Exception:
        return


def _logged(events: Iterator[dict]) -> Iterator[dict]:
    for event in events:
        debug.log(f"event {event.get('type')}")
        yield event


def _is_timeout(exc: BaseException) -> bool:
    """A read timeout, however `requests`/urllib3 wrapped it."""
    seen = 0
    stack: list[object] = [exc]
    while stack and seen < 20:
        item = stack.pop()
        seen += 1
        if isinstance(item, TimeoutError):
            return True
        name = type(item).__name__
        if name in ("ReadTimeoutError", "ReadTimeout", "Timeout"):
            return True
        if isinstance(item, BaseException):
            stack.extend(a for a in item.args if isinstance(a, BaseException))
            if item.__cause__ is not None:
                stack.append(item.__cause__)
            if item.__context__ is not None:
                stack.append(item.__context__)
    return False
