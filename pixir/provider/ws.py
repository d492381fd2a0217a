"""The WebSocket transport (docs/provider.md): one connection per Provider, opened lazily and reused
across the steps of a Turn; each call is one `response.create` text frame, answered by one
JSON event per frame. The frames go through the same `Assembler` as SSE events (via the
Provider's `consume`), error frames included.

The connection remembers what the server's cache holds (`continuation.Memory`), so a call
whose input extends the previous call's input and output sends only the new items with
`previous_response_id`. The server drops that cache when a call fails, so any failure
forgets it here too.

`websocket-client` is imported on first use: `pixir --version` must not pay for it.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from urllib.parse import urlsplit, urlunsplit

from pixir import debug, neterror
from pixir.config import direct
from pixir.errors import PixirError
from pixir.provider import continuation
from pixir.provider.assemble import TERMINAL_TYPES as _TERMINAL
from pixir.provider.classify import MAX_ERROR_BODY, classify_http
from pixir.provider.continuation import Choice, Memory
from pixir.provider.http import (
    CONNECT_TIMEOUT_S,
    Exchange,
    Liveness,
    idle_timeout,
    shut,
    stopped,
)
from pixir.provider.request import body_bytes
from pixir.provider.sse import MAX_EVENT_BYTES, too_large
from pixir.sanitize import deep, needs_deep

NAME = "websocket"
BETA = "responses_websockets=2026-02-06"
# Headers of an HTTP/SSE call that mean nothing on an upgrade request.
HTTP_ONLY_HEADERS = frozenset({"content-type", "accept", "openai-beta", "content-length"})
# Closing is a courtesy: send the close frame, never wait for the server's (quirk 16 in
# docs/provider.md).
CLOSE_SEND_TIMEOUT_S = 0.2
# Frames that come before a response's output: a socket that dies after only these lost
# nothing the user saw, so `auto` can replay the call over HTTP/SSE.
PREAMBLE_TYPES = frozenset(
    {"response.created", "response.in_progress", "codex.rate_limits", "keepalive"}
)
# Statuses of a refused upgrade that are the provider speaking, not a missing WebSocket
# endpoint: falling back to HTTP would only hide them (or hit them again).
PROVIDER_KINDS = frozenset(
    {"not_authenticated", "usage_limit_reached", "rate_limited", "quota_exceeded"}
)
ENDING_TYPES = frozenset(_TERMINAL)  # a response ends with one of these (error frames too)
OPCODE_CONT, OPCODE_TEXT, OPCODE_BINARY = 0x0, 0x1, 0x2
OPCODE_CLOSE, OPCODE_PING, OPCODE_PONG = 0x8, 0x9, 0xA
# websocket-client reads http_proxy/https_proxy itself and has no "no proxy" switch of its
# own: a proxy host with a no-proxy list of "*" is how to say "connect directly" (the host
# is never contacted). Used for ws:// and loopback targets (config.direct).
NO_PROXY = {"http_proxy_host": "direct.invalid", "http_proxy_port": 9, "http_no_proxy": ["*"]}


class Unavailable(Exception):
    """WebSocket could not carry this call and nothing of its output arrived: `auto` replays
    it over HTTP/SSE (`reason` becomes the fallback_reason); `websocket` raises `error`."""

    def __init__(self, reason: str, error: PixirError):
        super().__init__(reason)
        self.reason = reason
        self.error = error


class Connection:
    """One open WebSocket and what the server's cache on it holds."""

    def __init__(self, ws, headers: Mapping[str, str], opened: float, number: int):
        self.ws = ws
        self.headers = headers  # the handshake response's
        self.opened = opened
        self.number = number  # 1 for the process's first connection
        self.calls = 0  # responses completed on it
        self.memory: Memory | None = None
        self.lost: str | None = None  # why `memory` is None: the next full body's reason

    def forget(self, reason: str) -> None:
        self.memory = None
        self.lost = reason

    def close(self) -> None:
        """Send a close frame without waiting for the answer, then drop the socket."""
        ws, self.ws = self.ws, None
        if ws is None:
            return
        sock = ws.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.settimeout(CLOSE_SEND_TIMEOUT_S)
        with contextlib.suppress(Exception):
            ws.close(timeout=0)
        with contextlib.suppress(Exception):
            ws.shutdown()


class _Progress:
    """How far the current response got: frames read, whether any was output, and whether
    its last frame (a terminal event or an error frame) arrived."""

    __slots__ = ("ended", "frames", "output")

    def __init__(self) -> None:
        self.frames = 0
        self.output = False
        self.ended = False


class WsTransport:
    """The WebSocket side of a Provider. `run` performs one call (continuation, the one full
    resend after `previous_response_not_found`, the reconnect after the connection limit)."""

    name = NAME

    def __init__(
        self,
        idle_timeout_s: float,
        credential_kind: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.idle_timeout_s = idle_timeout_s
        self.credential_kind = credential_kind
        self.clock = clock
        self.conn: Connection | None = None
        self._opening = None  # the socket of a handshake in progress (for `abort`)
        self.connections = 0  # opened so far
        self._lost: str | None = None  # why the next connection starts without a cache

    def prepare(self) -> None:
        """Load websocket-client now, so call timings exclude start-up."""
        import websocket  # noqa: F401

    # -- one call ------------------------------------------------------------------------------

    def run(self, url: str, headers: Mapping[str, str], request, consume, record):
        """One model call over the connection (opened if needed). Raises `Unavailable` when
        the socket could not be used before any output of the call, else `PixirError`."""
        record.active_transport = NAME
        body = request.body
        forced: str | None = None  # a reason to send the full body, whatever the cache
        full_resend = reconnect = stale_retry = True  # each at most once per call
        while True:
            conn = self._connection(url, headers)
            if request.stopped():  # stopped while connecting: `abort` may have found no socket
                raise stopped()
            if forced is not None:
                choice = Choice(body, reset_reason=forced)
            else:
                choice = continuation.choose(conn.memory, body, conn.lost)
            record.continuation_attempted = record.continuation_attempted or choice.continued
            record.used_previous_response_id = choice.continued
            record.continuation_reset_reason = choice.reset_reason
            reused = conn.calls > 0
            # whatever happens now, the server's cache changes: a new response, or none
            conn.forget(continuation.PREVIOUS_FAILED)
            progress = _Progress()
            try:
                payload = frame_bytes(choice.body)
                record.bytes_sent += len(payload)
                exchange = self._send(conn, payload, progress)
                result = consume(exchange)
            except PixirError as err:
                code = err.details.get("code")
                if request.stopped():  # the caller shut the socket: nothing to recover
                    self._drop(continuation.RECONNECTED)
                    raise
                # the 60-minute cap (quirk 13 in docs/provider.md)
                if code == continuation.CONNECTION_LIMIT:
                    self._drop(code)
                    if reconnect:
                        reconnect = False
                        forced = code
                        continue
                elif choice.continued and full_resend and err.kind == "provider_http_error":
                    # The cache is gone (previous_response_not_found), or the server refused
                    # the continuation itself: continuation is only an optimisation, so the
                    # full body decides, on the same connection (a failure evicts the cache).
                    full_resend = False
                    if code == continuation.PREVIOUS_NOT_FOUND:
                        forced = code
                    else:
                        forced = continuation.REJECTED
                    continue
                elif err.kind == "websocket_closed":
                    self._drop(continuation.RECONNECTED)
                    if reused and progress.frames == 0 and stale_retry:
                        # An idle connection the server (or a proxy) closed while tools ran:
                        # not a sign that WebSocket fails here. Reconnect once.
                        stale_retry = False
                        forced = continuation.RECONNECTED
                        continue
                    if not progress.output:
                        raise Unavailable(f"websocket_closed: {err.message}", err) from None
                elif err.details.get("status") == 401:
                    self._drop(continuation.RECONNECTED)  # the next attempt shakes hands anew
                raise
            except BaseException:  # Ctrl-C mid-response: the socket's state is unknown
                self._drop(continuation.RECONNECTED)
                raise
            conn.calls += 1
            if result.response_id and isinstance(body.get("input"), list):
                conn.memory = Memory(
                    result.response_id, body.get("model"), list(body["input"]), result.output_items
                )
                conn.lost = None
            return result

    def _send(self, conn: Connection, payload: bytes, progress: _Progress) -> Exchange:
        """Put one `response.create` frame on the wire; the Exchange yields the answer."""
        if debug.enabled():
            debug.log(f"ws send ({len(payload)} bytes): {debug.redact_body(payload)}")
        started = self.clock()
        meta = {"started": started, "first_byte_s": None, "bytes_received": 0, "headers_s": 0.0}
        try:
            conn.ws.send(payload, OPCODE_TEXT)
        except Exception as exc:  # a socket the server closed while we were idle
            raise closed(f"sending failed: {neterror.reason(exc)}") from None
        # the handshake's headers (request id, rate-limit windows) belong to its first call
        headers = conn.headers if conn.calls == 0 else {}

        def close(completed: bool = False) -> None:
            if not completed and not progress.ended:  # half read: the socket is unusable
                self._drop(continuation.RECONNECTED)

        events = self._events(conn, progress, meta)
        return Exchange(200, headers, events=events, meta=meta, close=close)

    def _events(self, conn: Connection, progress: _Progress, meta: dict) -> Iterator[dict]:
        """The response's frames as event dicts, decoded once. Pings are answered by
        websocket-client; a close, EOF or binary frame is `websocket_closed`; silence for
        the idle timeout (any frame resets it), or nothing but pings and `keepalive` events
        for as long, is `stream_idle_timeout`."""
        import websocket

        recv = conn.ws.recv_data_frame
        loads = json.loads
        clock = self.clock
        started = meta["started"]
        logging = debug.enabled()
        live = Liveness(self.idle_timeout_s, clock)
        try:
            while True:
                opcode, frame = recv(True)  # control frames too: pings are not progress
                if opcode in (OPCODE_PING, OPCODE_PONG):
                    live.check()
                    continue
                data = frame.data
                progress.frames += 1
                if meta["first_byte_s"] is None:
                    meta["first_byte_s"] = clock() - started
                meta["bytes_received"] += len(data)
                if opcode == OPCODE_TEXT:
                    # Decoded here, not by the library (its check is pure Python): invalid
                    # UTF-8, escaped lone surrogates and NUL become U+FFFD, as over SSE.
                    text = data.decode("utf-8", "replace")
                    try:
                        event = loads(text)
                    except ValueError:
                        event = None
                    if needs_deep(text) and isinstance(event, dict):
                        event = deep(event)
                    if not isinstance(event, dict):
                        raise _not_json(data)
                    kind = event.get("type")
                    live.event(event)
                    if not progress.output and (
                        type(kind) is not str or kind not in PREAMBLE_TYPES
                    ):
                        progress.output = True
                    if kind in ENDING_TYPES:
                        progress.ended = True
                    if logging:
                        debug.log(f"ws event {kind}")
                    yield event
                elif opcode == OPCODE_BINARY:
                    raise closed("the server sent a binary frame")
                elif opcode == OPCODE_CLOSE:
                    raise closed(f"the server closed the connection{_close_code(data)}")
        except websocket.WebSocketTimeoutException:
            raise idle_timeout(self.idle_timeout_s) from None
        except (websocket.WebSocketException, OSError) as exc:
            raise closed(neterror.reason(exc)) from None

    # -- the connection ------------------------------------------------------------------------

    def _connection(self, url: str, headers: Mapping[str, str]) -> Connection:
        if self.conn is None or self.conn.ws is None:
            self.conn = self._connect(url, headers)
            self.conn.lost = self._lost
        return self.conn

    def _connect(self, url: str, headers: Mapping[str, str]) -> Connection:
        """Open and upgrade a connection. A refused upgrade is `Unavailable` (or the
        provider's error when its answer is one); an unreachable host too."""
        import websocket

        target = ws_url(url)
        header = upgrade_headers(headers)
        if debug.enabled():
            shown = debug.redact_headers(dict(h.split(": ", 1) for h in header))
            debug.log(f"ws connect {target} headers={shown}")
        ws = websocket.WebSocket(
            sockopt=((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),),
            sslopt=_ssl_options(target),
            skip_utf8_validation=True,  # _events decodes (the library's check is pure Python)
            enable_multithread=False,  # one thread uses it; no lock per frame
        )
        self._opening = ws
        try:
            ws.connect(
                target,
                header=header,
                timeout=min(CONNECT_TIMEOUT_S, self.idle_timeout_s),
                suppress_origin=True,
                redirect_limit=0,  # never follow a redirect with our credentials
                **(NO_PROXY if direct(target) else {}),
            )
        except websocket.WebSocketBadStatusException as exc:
            ws.shutdown()
            raise self._refused(
                exc.status_code, exc.resp_headers or {}, exc.resp_body or b"", target
            ) from None
        except BaseException as exc:
            ws.shutdown()
            if isinstance(exc, Exception):
                raise self._unreachable(exc, target) from None
            raise
        finally:
            self._opening = None
        status = ws.getstatus()
        response_headers = dict(ws.getheaders() or {})
        if status != 101:  # a redirect: websocket-client returns it instead of raising
            ws.shutdown()
            raise self._refused(status or 0, response_headers, b"", target)
        ws.settimeout(self.idle_timeout_s)
        _cap_frames(ws)
        ws.cont_frame = _Message()
        self.connections += 1
        if debug.enabled():
            shown = debug.redact_headers(response_headers)
            debug.log(f"ws open #{self.connections} headers={shown}")
        return Connection(ws, response_headers, self.clock(), self.connections)

    def _refused(self, status: int, headers: Mapping, body: bytes, target: str) -> Exception:
        body = body[:MAX_ERROR_BODY]
        if debug.enabled():
            debug.log(f"ws upgrade refused: HTTP {status} {debug.redact_body(body)}")
        err = classify_http(status, body, headers, self.credential_kind)
        if err.kind in PROVIDER_KINDS:
            return err
        host = urlsplit(target).netloc
        said = err.message.removeprefix(f"HTTP {status}: ")  # the server's words, once
        failed = PixirError(
            "websocket_connect_failed",
            f"{host} refused the WebSocket upgrade (HTTP {status}): {said}",
            {"status": status, "host": host},
            retryable=status >= 500,
            hint="use --transport auto (falls back to HTTP/SSE) or --transport http_sse",
        )
        return Unavailable(f"websocket_upgrade_refused: HTTP {status}", failed)

    def _unreachable(self, exc: Exception, target: str) -> Unavailable:
        host = urlsplit(target).netloc
        why = neterror.reason(exc)
        err = PixirError(
            "network",
            f"cannot open a WebSocket to {host}: {why}",
            {"host": host},
            hint=neterror.NETWORK_HINT,
        )
        return Unavailable(f"websocket_connect_failed: {why}", err)

    def _drop(self, reason: str) -> None:
        """Close the connection; the next call opens a new one with an empty cache."""
        self._lost = reason
        conn, self.conn = self.conn, None
        if conn is not None:
            conn.close()

    def abort(self) -> None:
        """From another thread: shut the socket a call is using (or opening), so that the
        call fails at once; the next call opens a new connection."""
        for ws in (self._opening, self.conn.ws if self.conn is not None else None):
            if ws is not None:
                shut(ws.sock)

    def close(self) -> None:
        """Close the socket now (a one-shot run must exit at once, quirk 16 in docs/provider.md)."""
        conn, self.conn = self.conn, None
        if conn is not None:
            conn.close()


def _cap_frames(ws) -> None:
    """Refuse a frame longer than MAX_EVENT_BYTES as soon as its length is read, before
    websocket-client allocates it (it has no limit of its own): `stream_too_large`."""
    frames = getattr(ws, "frame_buffer", None)
    read_length = getattr(frames, "recv_length", None)
    if read_length is None:
        return

    def capped() -> None:
        read_length()
        if (frames.length or 0) > MAX_EVENT_BYTES:
            raise too_large(frames.length)

    frames.recv_length = capped


FRAGMENT_MIN_BYTES = 1024


class _Message:
    """websocket-client's assembly of a message sent in fragments (its `cont_frame`), with
    the cap its own lacks: a message past MAX_EVENT_BYTES is `stream_too_large`, however many
    frames it comes in. The parts are joined once, at the end (the library's copies the
    whole message again for every fragment)."""

    def __init__(self) -> None:
        self.opcode: int | None = None
        self.parts: list[bytes] = []
        self.size = 0

    def validate(self, frame) -> None:
        import websocket

        if self.opcode is None and frame.opcode == OPCODE_CONT:
            raise websocket.WebSocketProtocolException("a continuation frame without a message")
        if self.opcode is not None and frame.opcode != OPCODE_CONT:
            raise websocket.WebSocketProtocolException("a new message inside a fragmented one")

    def add(self, frame) -> None:
        if self.opcode is None:
            self.opcode = frame.opcode
        # a fragment counts as at least 1 KiB: endless empty ones end too, and soon
        self.size += max(len(frame.data), FRAGMENT_MIN_BYTES)
        if self.size > MAX_EVENT_BYTES:
            raise too_large(self.size)
        self.parts.append(frame.data)

    def is_fire(self, frame) -> bool:
        return bool(frame.fin)

    def extract(self, frame) -> tuple:
        opcode, parts = self.opcode, self.parts
        self.opcode, self.parts, self.size = None, [], 0
        frame.data = parts[0] if len(parts) == 1 else b"".join(parts)
        return opcode, frame


def frame_bytes(body: dict) -> bytes:
    """A `response.create` frame: the body without `stream` (the socket always streams)."""
    frame = {"type": "response.create"}
    for key, value in body.items():
        if key != "stream":
            frame[key] = value
    return body_bytes(frame)


def ws_url(url: str) -> str:
    """The Responses URL with `https` → `wss`, `http` → `ws` (loopback only, checked by
    `ensure_secure_url` before any credential is sent)."""
    parts = urlsplit(url)
    scheme = {"https": "wss", "http": "ws"}.get(parts.scheme.lower(), parts.scheme)
    return urlunsplit((scheme, *parts[1:]))


def upgrade_headers(headers: Mapping[str, str]) -> list[str]:
    """The call's headers (credential, originator, User-Agent, session_id) for the upgrade
    request, with the WebSocket beta instead of the SSE one."""
    out = [f"{k}: {v}" for k, v in headers.items() if k.lower() not in HTTP_ONLY_HEADERS]
    out.append(f"OpenAI-Beta: {BETA}")
    return out


def closed(cause: str) -> PixirError:
    return PixirError(
        "websocket_closed",
        f"the WebSocket ended before the response was complete ({cause})",
        {"cause": cause},
        retryable=True,
    )


def _not_json(data: bytes) -> PixirError:
    from pixir.provider.classify import parse_error_body

    _, text = parse_error_body(bytes(data[:MAX_ERROR_BODY]))
    return PixirError(
        "invalid_response",
        "the server sent a WebSocket frame that is not a JSON event"
        + (f": {text}" if text else ""),
        {"excerpt": text[:200]},
        hint="a proxy or gateway may be answering instead of the API; check the base URL",
    )


def _close_code(data: bytes) -> str:
    if len(data) >= 2:
        code = int.from_bytes(data[:2], "big")
        reason = bytes(data[2:]).decode("utf-8", "replace").strip()
        return f" (code {code}{': ' + reason[:100] if reason else ''})"
    return ""


def _ssl_options(target: str) -> dict:
    """CA bundle like `requests`: REQUESTS_CA_BUNDLE, SSL_CERT_FILE, else certifi's."""
    if not target.startswith("wss:"):
        return {}
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("SSL_CERT_FILE")
    if not bundle:
        try:
            import certifi

            bundle = certifi.where()
        except ImportError:
            return {}
    return {"ca_certs": bundle}
