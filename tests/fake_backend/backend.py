"""FakeBackend: one port that plays auth.openai.com, chatgpt.com/backend-api/codex and
api.openai.com/v1, with a scripted queue of model answers and a record of every request."""

from __future__ import annotations

import datetime as dt
import secrets
import threading
import time
from dataclasses import dataclass, field, fields
from typing import Any

from . import auth as auth_mod
from .auth import Account, AuthState
from .common import API_KEY, DEFAULT_MODELS, SUBSCRIPTION, Call, Plan, Sealer
from .errors import (
    api_error,
    fault_reply,
    no_step_reply,
    previous_not_found,
    unauthorized_reply,
)
from .events import build_plan
from .record import Recorded, Recorder
from .responses import check_context, input_items, step_matches, validate_input, validate_params
from .scenario import load_scenario, normalize_step
from .server import Connection, HttpRequest, ThreadedServer
from .sse import stream_sse
from .websocket import serve_websocket
from .wire import Reply, html_reply, json_reply, reply_head

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
    ws_cache_misses: int = 0  # the next N previous_response_ids miss (the cache was lost)
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
        self._errors: list[str] = []
        self._host, self._port = host, port
        self.recorder = Recorder()
        self.auth = AuthState(self.settings)
        self.sealer = Sealer()
        self.api_key = "sk-test-" + secrets.token_urlsafe(24)
        self.ws_connections = 0
        self.ws_pongs = 0
        self.ws_closes: list[tuple[int, str]] = []  # (connection_id, "close_frame" | "eof")

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> FakeBackend:
        if self._server is None:
            self._server = ThreadedServer(self._handle, self._host, self._port)
            self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._errors += self._server.errors
            self._server = None

    @property
    def errors(self) -> list[str]:
        """Tracebacks of exceptions inside the fake (a bug in the fake, never the client's
        fault); the `fake` fixture fails the test when there are any."""
        return self._errors + (self._server.errors if self._server else [])

    def __enter__(self):  # -> Self (typing.Self needs 3.11)
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

    def pick_step(self, call: Call, consume: bool = True) -> dict | None:
        with self._lock:
            for index, step in enumerate(self._steps):
                if step_matches(step, call):
                    if consume:
                        del self._steps[index]
                    return step
        return None

    def answer(
        self, call: Call, conn: Connection, consume: bool = True
    ) -> tuple[Reply | None, dict | None]:
        """Validate the resolved input, then find the scripted answer: (error reply or None,
        the step). A step whose fault replaces the answer is consumed even when peeking: that
        fault *was* its answer. Waits the step's delay_s before answering."""
        reply = validate_input(call.effective_input, call.model, self.sealer, self.settings)
        reply = reply or check_context(call.effective_input, self.settings)
        if reply is not None:
            return reply, None
        step = self.pick_step(call, consume=consume)
        if step is None:
            return no_step_reply(), None
        if step["delay_s"]:
            conn.wait(float(step["delay_s"]))
        for fault in step["fault"]:
            reply = reply or fault_reply(fault, call)
        if reply is not None and not consume:
            self.consume_step(step)
        return reply, step

    def count_ws_connection(self) -> None:
        with self._lock:
            self.ws_connections += 1

    def take_cache_miss(self) -> bool:
        """True (once per unit of `ws_cache_misses`) when a cache hit must miss instead."""
        with self._lock:
            if self.settings.ws_cache_misses > 0:
                self.settings.ws_cache_misses -= 1
                return True
            return False

    def note_ws_close(self, connection_id: int, how: str) -> None:
        with self._lock:
            self.ws_closes.append((connection_id, how))

    def count_ws_pong(self) -> None:
        with self._lock:
            self.ws_pongs += 1

    def consume_step(self, step: dict) -> None:
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
        return [rec for rec in self.recorder.all() if _is_model_call(rec)]

    def wait_for(self, predicate: Any, timeout: float = 10.0) -> bool:
        """Poll `predicate()` until true or `timeout` (e.g. before sending pixir a SIGINT)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.01)
        return bool(predicate())

    def wait_for_responses(self, n: int = 1, timeout: float = 10.0) -> bool:
        """True once at least `n` model calls have arrived."""
        return self.wait_for(lambda: len(self.responses_requests()) >= n, timeout)

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
        """A ready subscription auth.json (docs/auth.md) with freshly minted tokens."""
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
                serve_websocket(self, conn, req, rec, surface)
                return
            if surface and req.method == "POST":
                started = time.perf_counter()
                try:
                    keep = self._responses_http(conn, req, rec, surface)
                finally:
                    # time spent serving it, so benchmarks can subtract the fake's own share
                    rec.extra["server_s"] = time.perf_counter() - started
            else:
                keep = self.send_reply(conn, req, rec, self._route(req))
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

    def send_reply(self, conn: Connection, req: HttpRequest, rec: Recorded, reply: Reply) -> bool:
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

    def authorize(self, req: HttpRequest, surface: str) -> Reply | None:
        """401/403 unless the request carries this surface's credential (docs/provider.md)."""
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

    def new_call(self, surface: str, transport: str, body: dict, effective: list) -> Call:
        key = body.get("prompt_cache_key") if isinstance(body, dict) else None
        with self._lock:
            hint = self._cache_hints.get(key, 0) if key else 0
        return Call(surface, transport, body, effective, self.settings, self.sealer, hint)

    def note_usage(self, call: Call, plan: Plan) -> None:
        key = call.body.get("prompt_cache_key")
        if key and plan.usage:
            with self._lock:
                self._cache_hints[key] = int(plan.usage.get("input_tokens") or 0)

    # -- Responses over HTTP/SSE ---------------------------------------------------------------

    def _responses_http(
        self, conn: Connection, req: HttpRequest, rec: Recorded, surface: str
    ) -> bool:
        body = req.json
        reply = self.authorize(req, surface)
        if reply is None:
            reply = validate_params(body, surface, "http", self.settings)
        if reply is None and body.get("previous_response_id"):
            # store:false keeps nothing server-side, so over HTTP no id can ever be found.
            reply = previous_not_found(str(body["previous_response_id"]))
        if reply is not None:
            return self.send_reply(conn, req, rec, reply)
        call = self.new_call(surface, "http", body, input_items(body))
        reply, step = self.answer(call, conn)
        if reply is not None:
            return self.send_reply(conn, req, rec, reply)
        plan = build_plan(step, call)
        rec.status = 200
        rec.extra["response_id"] = plan.response_id
        self.note_usage(call, plan)
        return stream_sse(conn, step, plan, call, self.settings) and not req.wants_close()


def _is_model_call(rec: Recorded) -> bool:
    if rec.kind == "http":
        return rec.method == "POST" and rec.path in RESPONSES_PATHS
    return (
        rec.kind == "ws_frame"
        and isinstance(rec.json, dict)
        and (rec.json.get("type") == "response.create")
    )
