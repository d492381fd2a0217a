"""FakeBackend: one port that plays auth.openai.com, chatgpt.com/backend-api/codex and
api.openai.com/v1, with a scripted queue of model answers and a record of every request."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import threading
import time
from dataclasses import dataclass, field, fields
from typing import Any

from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Message,
    Ping,
    Request,
    TextMessage,
)

from . import auth as auth_mod
from .auth import Account, AuthState
from .record import Headers, Recorded, Recorder
from .responses import (
    API_KEY,
    DEFAULT_MODELS,
    SUBSCRIPTION,
    Call,
    Comment,
    Plan,
    Sealer,
    api_error,
    build_plan,
    check_context,
    fault_reply,
    input_items,
    previous_not_found,
    step_matches,
    stream_headers,
    unauthorized_reply,
    validate_input,
    validate_params,
    ws_error_frame,
)
from .scenario import load_scenario, normalize_step
from .server import ClientGone, Connection, HttpRequest, ThreadedServer
from .wire import (
    LAST_CHUNK,
    NEWLINES,
    Chunker,
    Reply,
    chunk_frame,
    html_reply,
    json_reply,
    reply_head,
    sse_comment,
    sse_event,
    stream_head,
)

RESPONSES_PATHS = {"/backend-api/codex/responses": SUBSCRIPTION, "/v1/responses": API_KEY}
WS_MODES = {
    "ok",
    "refuse_404",
    "refuse_426",
    "close_mid_stream",
    "connection_limit",
    "binary_frame",
}
DEVICE_MODES = {"ok", "slow_down", "disabled"}


@dataclass
class Settings:
    """Runtime knobs; change with `FakeBackend.configure(**kw)` or a scenario's "settings"."""

    # Responses
    models: list[str] = field(default_factory=lambda: list(DEFAULT_MODELS))
    context_limit_bytes: int | None = None
    error_style: str = "real"  # "real": {"detail": ...} gateway errors on the subscription path
    validate_reasoning_followers: bool = True
    rate_limit_headers: bool = True
    primary_used_percent: float = 25.0
    keep_open_s: float = 60.0
    chunk_pause_s: float = 0.001
    small_write_bytes: int = 64
    # WebSocket
    ws_mode: str = "ok"
    ws_after_events: int = 2
    ws_limit_after: int = 1
    ws_max_age_s: float | None = None
    # accounts and tokens
    account_id: str = "5f0c7a9e-1b2d-4c3e-8f4a-6b7c8d9e0f12"
    plan: str = "plus"
    email: str = "dev@example.com"
    user_id: str = "user-Fake0123456789abcdef"
    token_ttl: float = 3600
    clock_skew_s: float = 0
    refresh_delay_s: float = 0
    refresh_faults: list[dict] = field(default_factory=list)
    # device code and browser login
    device_mode: str = "ok"
    device_interval: str = "1"
    pending_polls: int = 1
    pending_statuses: list[int] = field(default_factory=lambda: [403, 404])
    slow_down_status: int = 400
    usercode_field: str = "user_code"
    authorize_error: str | None = None
    strict_redirect_ports: bool = False


@dataclass
class WsState:
    """Per-connection memory: the connection-local cache behind previous_response_id."""

    opened: float = field(default_factory=time.monotonic)
    served: int = 0
    last_id: str | None = None
    last_model: str | None = None
    last_input: list = field(default_factory=list)
    last_output: list = field(default_factory=list)


class FakeBackend:
    """Start with `FakeBackend(scenario).start()` or as a context manager; point pixir at
    `issuer_url`, `chatgpt_base_url` and `openai_base_url`. See docs/fake-backend.md."""

    def __init__(self, scenario: Any = None, port: int = 0, host: str = "127.0.0.1"):
        self.settings = Settings()
        steps, settings = load_scenario(scenario)
        self.configure(**settings)
        self._steps: list[dict] = steps
        self._lock = threading.Lock()
        self._cache_hints: dict[str, int] = {}
        self._server: ThreadedServer | None = None
        self._host, self._port = host, port
        self.recorder = Recorder()
        self.auth = AuthState(self.settings)
        self.sealer = Sealer()
        self.api_key = "sk-test-" + secrets.token_urlsafe(24)
        self.ws_connections = 0

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> FakeBackend:
        if self._server is None:
            self._server = ThreadedServer(self._handle, self._host, self._port)
            self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> FakeBackend:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeBackend is not started")
        return self._server.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def issuer_url(self) -> str:
        return self.url

    @property
    def chatgpt_base_url(self) -> str:
        return self.url + "/backend-api/codex"

    @property
    def openai_base_url(self) -> str:
        return self.url + "/v1"

    def env(self) -> dict[str, str]:
        """The three variables that point pixir here."""
        return {
            "PIXIR_AUTH_ISSUER": self.issuer_url,
            "PIXIR_CHATGPT_BASE_URL": self.chatgpt_base_url,
            "OPENAI_BASE_URL": self.openai_base_url,
        }

    # -- scripting ------------------------------------------------------------------------

    def script(self, *steps: Any) -> None:
        normalized = [normalize_step(s) for s in steps]
        with self._lock:
            self._steps.extend(normalized)

    @property
    def steps_left(self) -> int:
        with self._lock:
            return len(self._steps)

    def configure(self, **kw: Any) -> None:
        names = {f.name for f in fields(Settings)}
        unknown = set(kw) - names
        if unknown:
            raise ValueError(f"unknown setting(s): {sorted(unknown)}")
        if "ws_mode" in kw and kw["ws_mode"] not in WS_MODES:
            raise ValueError(f"ws_mode must be one of {sorted(WS_MODES)}")
        if "device_mode" in kw and kw["device_mode"] not in DEVICE_MODES:
            raise ValueError(f"device_mode must be one of {sorted(DEVICE_MODES)}")
        if "device_interval" in kw:
            kw["device_interval"] = str(kw["device_interval"])
        for key, value in kw.items():
            setattr(self.settings, key, value)

    def _pick_step(self, call: Call, consume: bool = True) -> dict | None:
        with self._lock:
            for index, step in enumerate(self._steps):
                if step_matches(step, call):
                    if consume:
                        del self._steps[index]
                    return step
        return None

    def _consume(self, step: dict) -> None:
        with self._lock:
            for index, candidate in enumerate(self._steps):
                if candidate is step:
                    del self._steps[index]
                    return

    # -- what tests read ------------------------------------------------------------------

    @property
    def requests(self) -> list[Recorded]:
        return self.recorder.all()

    def responses_requests(self) -> list[Recorded]:
        """Model calls only: HTTP POSTs to a Responses path and WS `response.create` frames."""
        out = []
        for rec in self.recorder.all():
            if rec.kind == "http" and rec.method == "POST" and rec.path in RESPONSES_PATHS:
                out.append(rec)
            elif (
                rec.kind == "ws_frame"
                and isinstance(rec.json, dict)
                and rec.json.get("type") == "response.create"
            ):
                out.append(rec)
        return out

    def count(self, path_suffix: str) -> int:
        """HTTP requests (including WebSocket upgrade requests, not frames) whose path ends so."""
        return sum(
            1 for r in self.recorder.all() if r.kind != "ws_frame" and r.path.endswith(path_suffix)
        )

    @property
    def refresh_count(self) -> int:
        return self.auth.refresh_count

    @property
    def refresh_successes(self) -> int:
        return self.auth.refresh_successes

    @property
    def device_polls(self) -> list:
        with self.auth.lock:
            return list(self.auth.device_polls)

    @property
    def revoked(self) -> list[str]:
        with self.auth.lock:
            return list(self.auth.revoked)

    def secrets(self) -> set[str]:
        """Every secret the fake issued or was shown: tokens, codes, verifiers, the API key."""
        with self.auth.lock:
            return set(self.auth.issued_secrets) | {self.api_key}

    def mint_tokens(
        self,
        ttl: float = 3600,
        account_id: str | None = None,
        plan: str | None = None,
        email: str | None = None,
    ) -> dict:
        s = self.settings
        account = Account(account_id or s.account_id, plan or s.plan, email or s.email, s.user_id)
        return self.auth.mint_tokens(float(ttl), account)

    def auth_json(self, ttl: float = 3600, **account: Any) -> dict:
        """A ready subscription auth.json (SPEC §3.4) with freshly minted tokens."""
        tokens = self.mint_tokens(ttl, **account)
        now = self.auth.now()
        stamp = dt.datetime.fromtimestamp(now, dt.timezone.utc).isoformat().replace("+00:00", "Z")
        return {
            "kind": "subscription",
            "access_token": tokens["access_token"],
            "refresh_token": tokens["refresh_token"],
            "id_token": tokens["id_token"],
            "expires_at": int((now + float(ttl)) * 1000),
            "account_id": account.get("account_id") or self.settings.account_id,
            "obtained_at": stamp,
            "last_refresh": stamp,
        }

    def mint_encrypted_content(self, model: str) -> str:
        """A reasoning blob the fake accepts for `model` (and only for it)."""
        return self.sealer.mint(model)

    # -- connection handling --------------------------------------------------------------

    def _handle(self, conn: Connection) -> None:
        while True:
            req = conn.read_request()
            if req is None:
                return
            rec = self._record_http(req, conn)
            surface = RESPONSES_PATHS.get(req.path)
            if surface and req.is_websocket_upgrade():
                self._websocket(conn, req, rec, surface)
                return
            if surface and req.method == "POST":
                keep = self._responses_http(conn, req, rec, surface)
            else:
                keep = self._send_reply(conn, req, rec, self._route(req))
            if not keep or conn.closed:
                return

    def _record_http(self, req: HttpRequest, conn: Connection) -> Recorded:
        upgrade = req.is_websocket_upgrade()
        return self.recorder.add(
            Recorded(
                method=req.method,
                path=req.path,
                query=req.query,
                headers=req.headers,
                body=req.body,
                json=req.json,
                bytes_received=req.bytes_received,
                transport="websocket" if upgrade else "http",
                connection_id=conn.id,
                kind="ws_handshake" if upgrade else "http",
            )
        )

    def _send_reply(self, conn: Connection, req: HttpRequest, rec: Recorded, reply: Reply) -> bool:
        keep = not req.wants_close()
        rec.status = reply.status
        conn.send(reply_head(reply, keep) + reply.body_bytes())
        return keep

    def _route(self, req: HttpRequest) -> Reply:
        routes = {
            ("POST", "/api/accounts/deviceauth/usercode"): auth_mod.device_usercode,
            ("POST", "/api/accounts/deviceauth/token"): auth_mod.device_token,
            ("GET", "/oauth/authorize"): auth_mod.authorize,
            ("POST", "/oauth/token"): auth_mod.token,
            ("POST", "/oauth/revoke"): auth_mod.revoke,
        }
        handler = routes.get((req.method, req.path))
        if handler is not None:
            return handler(self.auth, req)
        if req.method == "GET" and req.path in ("/codex/device", "/deviceauth/callback"):
            return html_reply(
                200, "<html><body><h1>pixir fake backend</h1><p>Enter your code.</p></body></html>"
            )
        if req.path in RESPONSES_PATHS:
            return json_reply(405, {"detail": "Method Not Allowed"}, [("Allow", "POST")])
        return json_reply(404, {"detail": "Not Found"})

    def _authorize(self, req: HttpRequest, surface: str) -> Reply | None:
        """401/403 unless the request carries this surface's credential (SPEC §4.1)."""
        header = req.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        if surface == API_KEY:
            if not token:
                return unauthorized_reply("missing_api_key")
            return None if token == self.api_key else unauthorized_reply("invalid_api_key")
        if not token:
            return unauthorized_reply("invalid_token")
        code, account = self.auth.check_access(token)
        if code is not None:
            return unauthorized_reply(code)
        if req.headers.get("chatgpt-account-id") != account.account_id:
            return api_error(
                403,
                "The chatgpt-account-id header is missing or does not match the access token.",
                code="account_mismatch",
            )
        return None

    def _new_call(self, surface: str, transport: str, body: dict, effective: list) -> Call:
        key = body.get("prompt_cache_key") if isinstance(body, dict) else None
        with self._lock:
            hint = self._cache_hints.get(key, 0) if key else 0
        return Call(surface, transport, body, effective, self.settings, self.sealer, hint)

    def _note_usage(self, call: Call, plan: Plan) -> None:
        key = call.body.get("prompt_cache_key")
        if key and plan.usage:
            with self._lock:
                self._cache_hints[key] = int(plan.usage.get("input_tokens") or 0)

    # -- Responses over HTTP/SSE ---------------------------------------------------------------

    def _responses_http(
        self, conn: Connection, req: HttpRequest, rec: Recorded, surface: str
    ) -> bool:
        body = req.json
        reply = self._authorize(req, surface)
        if reply is None:
            reply = validate_params(body, surface, "http", self.settings)
        if reply is None and body.get("previous_response_id"):
            # store:false keeps nothing server-side, so over HTTP no id can ever be found.
            reply = previous_not_found(str(body["previous_response_id"]))
        if reply is not None:
            return self._send_reply(conn, req, rec, reply)
        call = self._new_call(surface, "http", body, input_items(body))
        reply = validate_input(call.effective_input, call.model, self.sealer, self.settings)
        reply = reply or check_context(call.effective_input, self.settings)
        step = None
        if reply is None:
            step = self._pick_step(call)
            reply = None if step is not None else no_step_reply()
        if reply is None and step["delay_s"]:
            conn.wait(float(step["delay_s"]))
        for fault in step["fault"] if reply is None else []:
            reply = reply or fault_reply(fault, call)
        if reply is not None:
            return self._send_reply(conn, req, rec, reply)
        plan = build_plan(step, call)
        rec.status = 200
        rec.extra["response_id"] = plan.response_id
        self._note_usage(call, plan)
        return self._stream_sse(conn, step, plan, call) and not req.wants_close()

    def _stream_sse(self, conn: Connection, step: dict, plan: Plan, call: Call) -> bool:
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
        pause = float((step["chunking"] or {}).get("pause_s", self.settings.chunk_pause_s))

        def write(piece: bytes) -> None:
            small = len(piece) <= self.settings.small_write_bytes
            conn.send(
                chunk_frame(piece) if chunked else piece, pause if small and step["chunking"] else 0
            )

        def barrier(sent: int) -> str | None:
            """Faults due after `sent` events; returns "cut"/"clean"/"reset" to stop."""
            for fault in faults:
                if fault.get("after_events") != sent:
                    continue
                if fault["type"] in ("stall", "cut", "reset"):
                    for piece in chunker.flush():
                        write(piece)
                if fault["type"] == "stall":
                    conn.wait(float(fault["seconds"]))
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
            seconds = (
                self.settings.keep_open_s if step["keep_open"] is True else float(step["keep_open"])
            )
            conn.wait_for_peer_close(seconds)
            conn.close()
            return False
        if chunked:
            conn.send(LAST_CHUNK)
            return True
        conn.close()
        return False

    # -- Responses over WebSocket ---------------------------------------------------------------

    def _websocket(self, conn: Connection, req: HttpRequest, rec: Recorded, surface: str) -> None:
        mode = self.settings.ws_mode
        if mode in ("refuse_404", "refuse_426"):
            status = 404 if mode == "refuse_404" else 426
            body = {"detail": "Not Found"} if status == 404 else {"detail": "Upgrade Required"}
            self._send_reply(conn, req, rec, json_reply(status, body))
            return
        reply = self._authorize(req, surface)
        if reply is not None:
            self._send_reply(conn, req, rec, reply)
            return
        ws = WSConnection(ConnectionType.SERVER)
        ws.receive_data(req.head_bytes)
        if not any(isinstance(ev, Request) for ev in ws.events()):
            self._send_reply(conn, req, rec, json_reply(400, {"detail": "Bad WebSocket handshake"}))
            return
        accept = AcceptConnection(
            extra_headers=[(b"x-request-id", ("req_" + secrets.token_hex(8)).encode())]
        )
        conn.send(ws.send(accept))
        rec.status = 101
        with self._lock:
            self.ws_connections += 1
        if conn.buffer:
            ws.receive_data(bytes(conn.buffer))
            conn.buffer.clear()
        state = WsState()
        session = _WsSession(self, conn, ws, req, surface, state)
        session.run()

    def _ws_create(self, session: _WsSession, body: dict, rec: Recorded) -> bool:
        """Handle one response.create; False when the connection must end."""
        state, s = session.state, self.settings
        aged = s.ws_max_age_s is not None and time.monotonic() - state.opened >= float(
            s.ws_max_age_s
        )
        if aged or (s.ws_mode == "connection_limit" and state.served >= int(s.ws_limit_after)):
            limit = fault_reply({"type": "ws_connection_limit"}, None)
            rec.status = limit.status
            session.send_json(ws_error_frame(limit))
            session.close(1000)
            return False
        body = {k: v for k, v in body.items() if k != "type"}
        reply = validate_params(body, session.surface, "websocket", s)
        effective = input_items(body)
        prev = body.get("previous_response_id")
        if reply is None and prev:
            if state.last_id != prev:
                reply = previous_not_found(str(prev))
            else:
                effective = state.last_input + state.last_output + effective
        rec.extra["effective_input"] = effective
        call = self._new_call(session.surface, "websocket", body, effective)
        if reply is None:
            reply = validate_input(effective, call.model, self.sealer, s) or check_context(
                effective, s
            )
        peek = s.ws_mode in ("close_mid_stream", "binary_frame")
        step = None
        if reply is None:
            step = self._pick_step(call, consume=not peek)
            reply = None if step is not None else no_step_reply()
        if reply is None and step["delay_s"]:
            session.conn.wait(float(step["delay_s"]))
        for fault in step["fault"] if reply is None else []:
            reply = reply or fault_reply(fault, call)
        if reply is not None:
            if prev:
                state.last_id = None  # a failed continuation evicts the cached response
            if peek and step is not None:
                self._consume(step)
            rec.status = reply.status
            session.send_json(ws_error_frame(reply))
            if any(f["type"] == "ws_connection_limit" for f in (step or {}).get("fault", [])):
                session.close(1000)
                return False
            return True
        plan = build_plan(step, call)
        rec.status = 200
        rec.extra["response_id"] = plan.response_id
        self._note_usage(call, plan)
        state.served += 1
        finished = session.stream(plan, peek_mode=s.ws_mode if peek else None)
        if finished is None:
            return False
        if peek:
            self._consume(step)
        if finished in ("response.completed", "response.incomplete"):
            state.last_id, state.last_model = plan.response_id, call.model
            state.last_input, state.last_output = effective, plan.output
        return True


def no_step_reply() -> Reply:
    return api_error(
        500, "fake backend: no scripted response left", type_="server_error", code="fake_no_step"
    )


class _WsSession:
    """One accepted WebSocket: reads frames, answers pings, streams plans as text frames."""

    def __init__(
        self,
        fb: FakeBackend,
        conn: Connection,
        ws: WSConnection,
        req: HttpRequest,
        surface: str,
        state: WsState,
    ):
        self.fb, self.conn, self.ws, self.req = fb, conn, ws, req
        self.surface, self.state = surface, state
        self.text_parts: list[str] = []
        self.binary_parts: list[bytes] = []

    def send_json(self, obj: dict) -> None:
        self.conn.send(
            self.ws.send(Message(data=json.dumps(obj, separators=(",", ":"), ensure_ascii=False)))
        )

    def close(self, code: int) -> None:
        try:
            self.conn.send(self.ws.send(CloseConnection(code=code)))
        except ClientGone:
            pass
        except Exception:  # wsproto refuses a close in the wrong state; the socket goes anyway
            pass
        self.conn.close()

    def run(self) -> None:
        while not self.conn.closed:
            for event in self.ws.events():
                if not self._on_event(event):
                    return
            data = self.conn.recv_some()
            if not data:
                return
            self.ws.receive_data(data)

    def _on_event(self, event: Any) -> bool:
        if isinstance(event, Ping):
            self.conn.send(self.ws.send(event.response()))
        elif isinstance(event, CloseConnection):
            try:
                self.conn.send(self.ws.send(event.response()))
            except Exception:
                pass
            self.conn.close()
            return False
        elif isinstance(event, TextMessage):
            self.text_parts.append(event.data)
            if event.message_finished:
                text = "".join(self.text_parts)
                self.text_parts = []
                return self._on_text(text)
        elif isinstance(event, BytesMessage):
            self.binary_parts.append(bytes(event.data))
            if event.message_finished:
                self.binary_parts = []
                self.send_json(
                    {
                        "type": "error",
                        "status": 400,
                        "error": {
                            "type": "invalid_request_error",
                            "message": "Binary frames are not supported.",
                        },
                    }
                )
        return True

    def _on_text(self, text: str) -> bool:
        payload = text.encode("utf-8")
        rec = self.fb.recorder.add(
            Recorded(
                method="WS",
                path=self.req.path,
                query=self.req.query,
                headers=self.req.headers,
                body=payload,
                json=_loads(text),
                bytes_received=len(payload),
                transport="websocket",
                connection_id=self.conn.id,
                kind="ws_frame",
            )
        )
        body = rec.json
        if not isinstance(body, dict) or body.get("type") != "response.create":
            kind = body.get("type") if isinstance(body, dict) else None
            rec.status = 400
            self.send_json(
                {
                    "type": "error",
                    "status": 400,
                    "error": {
                        "type": "invalid_request_error",
                        "code": "unknown_event_type",
                        "message": f"Unsupported event type: {kind!r}.",
                    },
                }
            )
            return True
        return self.fb._ws_create(self, body, rec)

    def stream(self, plan: Plan, peek_mode: str | None) -> str | None:
        """Send the plan's events as frames. Returns the terminal type sent (or "" when the
        response was abandoned but the socket stays up), None when the socket was closed."""
        s = self.fb.settings
        sent = 0
        for event in plan.events:
            if isinstance(event, Comment):
                continue
            for fault in plan.faults:
                if fault.get("after_events") != sent:
                    continue
                if fault["type"] == "stall":
                    self.conn.wait(float(fault["seconds"]))
                elif fault["type"] == "cut":
                    if fault.get("clean"):
                        self.close(1011)
                    else:
                        self.conn.close()
                    return None
                elif fault["type"] == "reset":
                    self.conn.reset()
                    return None
                elif fault["type"] == "binary_frame":
                    self.conn.send(self.ws.send(Message(data=b"\x00\x01binary")))
                    return ""
            if peek_mode is not None and sent == int(s.ws_after_events):
                if peek_mode == "close_mid_stream":
                    self.conn.close()  # no close frame: the socket just ends
                    return None
                self.conn.send(self.ws.send(Message(data=b"\x00\x01binary")))
                return ""
            if fault_reset_before_any(plan) and sent == 0:
                self.conn.reset()
                return None
            self.send_json(event)
            sent += 1
        return plan.terminal


def fault_reset_before_any(plan: Plan) -> bool:
    return any(f["type"] == "reset" and f.get("after_events") is None for f in plan.faults)


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


__all__ = ["FakeBackend", "Settings", "Recorded", "Headers"]
