"""Responses over WebSocket (docs/provider.md): the upgrade on the Responses paths,
`response.create` frames, JSON event frames, wrapped error frames, and the connection-local
cache that makes `previous_response_id` work on this connection only (quirk 12 in
docs/provider.md).

wsproto does the framing over the same socket the HTTP request came in on.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import select
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Message,
    Ping,
    Pong,
    Request,
    TextMessage,
)
from wsproto.utilities import LocalProtocolError

from .common import Call, Plan
from .errors import fault_reply, previous_not_found, ws_error_frame
from .events import build_plan, response_object
from .record import Recorded
from .responses import input_items, validate_input, validate_params
from .scenario import FLOOD_EVENTS, QUIET_FLOODS
from .server import ClientGone, Connection, HttpRequest
from .wire import json_reply, json_text

if TYPE_CHECKING:
    from .backend import FakeBackend

# ws_modes where the next response is cut short by the mode itself: the step is only peeked,
# so the client's fallback (HTTP, or a new connection) gets the same scripted answer.
PEEK_MODES = ("close_mid_stream", "binary_frame")
BINARY_JUNK = b"\x00\x01binary"
NO_USAGE = {
    "input_tokens": 0,
    "input_tokens_details": {"cached_tokens": 0},
    "output_tokens": 0,
    "output_tokens_details": {"reasoning_tokens": 0},
    "total_tokens": 0,
}


@dataclass
class WsState:
    """Per-connection memory: the connection-local cache behind previous_response_id."""

    opened: float = field(default_factory=time.monotonic)
    served: int = 0
    last_id: str | None = None
    last_input: list = field(default_factory=list)
    last_output: list = field(default_factory=list)


def serve_websocket(
    fb: FakeBackend, conn: Connection, req: HttpRequest, rec: Recorded, surface: str
) -> None:
    """Answer an upgrade request: refuse it (ws_mode, credentials) or run the session."""
    mode = fb.settings.ws_mode
    if mode in ("refuse_404", "refuse_426"):
        status = 404 if mode == "refuse_404" else 426
        body = {"detail": "Not Found"} if status == 404 else {"detail": "Upgrade Required"}
        fb.send_reply(conn, req, rec, json_reply(status, body))
        return
    refusal = fb.authorize(req, surface)  # checked once, at the handshake
    if refusal is not None:
        fb.send_reply(conn, req, rec, refusal)
        return
    ws = WSConnection(ConnectionType.SERVER)
    ws.receive_data(req.head_bytes)
    if not any(isinstance(ev, Request) for ev in ws.events()):
        fb.send_reply(conn, req, rec, json_reply(400, {"detail": "Bad WebSocket handshake"}))
        return
    request_id = ("req_" + secrets.token_hex(8)).encode()
    conn.send(ws.send(AcceptConnection(extra_headers=[(b"x-request-id", request_id)])))
    rec.status = 101
    fb.count_ws_connection()
    if conn.buffer:  # a client may pipeline its first frame right behind the handshake
        ws.receive_data(bytes(conn.buffer))
        conn.buffer.clear()
    WsSession(fb, conn, ws, req, surface).run()


class WsSession:
    """One accepted WebSocket: reads frames, answers pings, streams plans as text frames."""

    def __init__(
        self, fb: FakeBackend, conn: Connection, ws: WSConnection, req: HttpRequest, surface: str
    ):
        self.fb, self.conn, self.ws, self.req, self.surface = fb, conn, ws, req, surface
        self.state = WsState()
        self.text_parts: list[str] = []
        self.binary_parts: list[bytes] = []

    # -- frames in -------------------------------------------------------------------------

    def run(self) -> None:
        while not self.conn.closed:
            for event in self.ws.events():
                if not self._on_event(event):
                    return
            data = self.conn.recv_some()
            if not data:
                if not self.conn.closed:  # the client dropped TCP without a close frame
                    self.fb.note_ws_close(self.conn.id, "eof")
                return
            self.ws.receive_data(data)

    def _on_event(self, event: Any) -> bool:
        if isinstance(event, Ping):
            self.conn.send(self.ws.send(event.response()))
        elif isinstance(event, Pong):
            self.fb.count_ws_pong()
        elif isinstance(event, CloseConnection):
            self.fb.note_ws_close(self.conn.id, "close_frame")
            # the peer may already be gone, or wsproto refuse a reply: we close anyway
            with contextlib.suppress(ClientGone, LocalProtocolError):
                self.conn.send(self.ws.send(event.response()))
            self.conn.close()
            return False
        elif isinstance(event, TextMessage):
            self.text_parts.append(event.data)
            if event.message_finished:
                text, self.text_parts = "".join(self.text_parts), []
                return self._on_text(text)
        elif isinstance(event, BytesMessage):
            self.binary_parts.append(bytes(event.data))
            if event.message_finished:
                payload, self.binary_parts = b"".join(self.binary_parts), []
                self._record(payload, None).status = 400
                self.send_error(
                    400, "invalid_request_error", None, "Binary frames are not supported."
                )
        return True

    def _record(self, payload: bytes, parsed: Any) -> Recorded:
        return self.fb.recorder.add(
            Recorded(
                method="WS",
                path=self.req.path,
                query=self.req.query,
                headers=self.req.headers,
                body=payload,
                json=parsed,
                bytes_received=len(payload),
                transport="websocket",
                connection_id=self.conn.id,
                kind="ws_frame",
            )
        )

    def _on_text(self, text: str) -> bool:
        payload = text.encode("utf-8")
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        rec = self._record(payload, parsed)
        if not isinstance(parsed, dict) or parsed.get("type") != "response.create":
            kind = parsed.get("type") if isinstance(parsed, dict) else None
            rec.status = 400
            self.send_error(
                400,
                "invalid_request_error",
                "unknown_event_type",
                f"Unsupported event type: {kind!r}.",
            )
            return True
        started = time.perf_counter()
        try:
            return self.create(parsed, rec)
        finally:
            rec.extra["server_s"] = time.perf_counter() - started

    # -- one response.create ------------------------------------------------------------------

    def create(self, frame: dict, rec: Recorded) -> bool:
        """Handle one response.create; False when the connection must end."""
        fb, state, s = self.fb, self.state, self.fb.settings
        aged = s.ws_max_age_s is not None and time.monotonic() - state.opened >= s.ws_max_age_s
        if aged or (s.ws_mode == "connection_limit" and state.served >= int(s.ws_limit_after)):
            self._connection_limit(rec)
            return False
        body = {k: v for k, v in frame.items() if k != "type"}
        reply = validate_params(body, self.surface, "websocket", s)
        effective = input_items(body)
        prev = body.get("previous_response_id")
        if reply is None and prev:
            if state.last_id != prev or fb.take_cache_miss():
                reply = previous_not_found(str(prev))
            else:  # the server-side cache: previous input + previous output + new items
                effective = state.last_input + state.last_output + effective
        rec.extra["effective_input"] = effective
        call = fb.new_call(self.surface, "websocket", body, effective)
        if reply is None and body.get("generate") is False:
            return self.prewarm(call, rec)
        peek = s.ws_mode in PEEK_MODES
        step = None
        if reply is None:
            reply, step = fb.answer(call, self.conn, consume=not peek)
        if reply is not None:
            if prev:
                state.last_id = None  # a failed continuation evicts the cached response
            rec.status = reply.status
            if reply.status == 200:  # html_200: the gateway's page, as a non-JSON text frame
                self.conn.send(self.ws.send(Message(data=reply.body_bytes().decode())))
                return True
            self.send_json(ws_error_frame(reply))
            if step and any(f["type"] == "ws_connection_limit" for f in step["fault"]):
                self.close(1000)
                return False
            return True
        plan = build_plan(step, call)
        rec.status = 200
        rec.extra["response_id"] = plan.response_id
        fb.note_usage(call, plan)
        state.served += 1
        finished = self.stream(plan, peek_mode=s.ws_mode if peek else None)
        if finished is None:
            return False
        if peek and finished:  # only a response that ran to its end used up its step
            fb.consume_step(step)
        if finished in ("response.completed", "response.incomplete"):
            state.last_id = plan.response_id
            state.last_input, state.last_output = effective, plan.output
        return True

    def prewarm(self, call: Call, rec: Recorded) -> bool:
        """`"generate": false` (Codex's prewarm): the request is checked and cached like any
        other, answered with an empty completed response, and no scripted step is spent."""
        reply = validate_input(call.effective_input, call.model, self.fb.sealer, self.fb.settings)
        rec.extra["prewarm"] = True
        if reply is not None:
            rec.status = reply.status
            self.send_json(ws_error_frame(reply))
            return True
        response_id = "resp_" + secrets.token_hex(24)
        events = [
            ("response.created", response_object(call, response_id, "in_progress", [], None)),
            ("response.completed", response_object(call, response_id, "completed", [], NO_USAGE)),
        ]
        rec.status = 200
        rec.extra["response_id"] = response_id
        for seq, (kind, response) in enumerate(events):
            self.send_json({"type": kind, "response": response, "sequence_number": seq})
        state = self.state
        state.last_id, state.last_input, state.last_output = response_id, call.effective_input, []
        return True

    def _connection_limit(self, rec: Recorded) -> None:
        limit = fault_reply({"type": "ws_connection_limit"}, None)
        rec.status = limit.status
        self.send_json(ws_error_frame(limit))
        self.close(1000)

    # -- frames out ---------------------------------------------------------------------------

    def send_json(self, obj: dict) -> None:
        text = json_text(obj)
        self.conn.send(self.ws.send(Message(data=text)))

    def send_error(self, status: int, type_: str, code: str | None, message: str) -> None:
        error = {"type": type_, "message": message}
        if code:
            error["code"] = code
        self.send_json({"type": "error", "status": status, "error": error})

    def close(self, code: int) -> None:
        with contextlib.suppress(ClientGone, LocalProtocolError):
            self.conn.send(self.ws.send(CloseConnection(code=code)))
        self.conn.close()

    def stream(self, plan: Plan, peek_mode: str | None) -> str | None:
        """Send the plan's events as frames. Returns the terminal type sent, "" when the
        response was abandoned but the socket stays up, None when the socket was closed."""
        after = int(self.fb.settings.ws_after_events)
        if any(f["type"] == "reset" and f.get("after_events") is None for f in plan.faults):
            self.conn.reset()
            return None
        sent = 0
        for event in plan.events:
            if not isinstance(event, dict):
                # An SSE keep-alive comment's WebSocket form is a ping (the client must pong).
                self.conn.send(self.ws.send(Ping(payload=b"keep-alive")))
                continue
            outcome = self._fault_due(plan, sent)
            if outcome != "go":
                return outcome
            if peek_mode is not None and sent == after:
                if peek_mode == "close_mid_stream":
                    self.conn.close()  # no close frame: the socket just ends
                    return None
                self.conn.send(self.ws.send(Message(data=BINARY_JUNK)))
                return ""
            self.send_json(event)
            sent += 1
        return plan.terminal

    def _stall(self, seconds: float) -> bool:
        """Send nothing for `seconds` but keep reading, as a real server does: a client that
        leaves meanwhile (close frame or EOF) ends the stall. False when it left."""
        deadline = time.monotonic() + seconds
        while not self.conn.stopping.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return True
            if not self.conn.buffer:
                readable, _, _ = select.select([self.conn.sock], [], [], min(left, 0.1))
                if not readable:
                    continue
            data = self.conn.recv_some()
            if not data:
                self.fb.note_ws_close(self.conn.id, "eof")
                self.conn.close()
                return False
            self.ws.receive_data(data)
            for event in self.ws.events():
                if not self._on_event(event):
                    return False
        return True

    def _fault_due(self, plan: Plan, sent: int) -> str | None:
        """Apply the stream faults due after `sent` frames: "go" to carry on, else what
        `stream` returns."""
        for fault in plan.faults:
            if fault.get("after_events") != sent:
                continue
            if fault["type"] == "stall":
                if not self._stall(float(fault["seconds"])):
                    return None
            elif fault["type"] == "cut":
                if fault.get("clean"):
                    self.close(1011)  # a proper close frame, still before the terminal event
                else:
                    self.conn.close()
                return None
            elif fault["type"] == "reset":
                self.conn.reset()
                return None
            elif fault["type"] == "binary_frame":
                self.conn.send(self.ws.send(Message(data=BINARY_JUNK)))
                return ""
            elif fault["type"] == "flood":
                self._flood(fault)
                self.conn.close()
                return None
        return "go"

    def _flood(self, fault: dict) -> None:
        """The WebSocket side of the `flood` fault (tests/fake_backend/sse.py)."""
        deadline = time.monotonic() + float(fault.get("seconds", 60))
        what = fault["what"]
        try:
            if what == "event":  # one frame far over any sane size
                big = {"type": "response.output_text.delta", "delta": "x" * (20 << 20)}
                self.send_json(big)
                return
            if what in ("fragments", "empty_fragments"):  # one message that never ends
                self.conn.send(
                    self.ws.send(
                        TextMessage(
                            '{"type":"response.output_text.delta","delta":"', message_finished=False
                        )
                    )
                )
                piece = "x" * (1 << 20) if what == "fragments" else ""  # 1 MiB, or nothing
                while time.monotonic() < deadline and not self.conn.stopping.is_set():
                    self.conn.send(self.ws.send(TextMessage(piece, message_finished=False)))
                return
            while time.monotonic() < deadline and not self.conn.stopping.is_set():
                if what in FLOOD_EVENTS:
                    self.send_json(FLOOD_EVENTS[what])
                    if what in QUIET_FLOODS:
                        self.conn.wait(0.01)
                else:
                    self.conn.send(self.ws.send(Ping(b"keep-alive")))
                    self.send_json({"type": "keepalive"})
                    self.conn.wait(0.05)
        except ClientGone:
            pass
