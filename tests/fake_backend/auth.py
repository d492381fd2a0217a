"""The fake auth.openai.com: device code, browser authorize, token exchange/refresh, revoke,
and the JWTs it mints (docs/auth.md).

State lives in `AuthState`, guarded by one lock: several pixir processes may poll or refresh
at once, and the fake must answer them the way the real issuer would (one winner per refresh
token, the rest `refresh_token_reused`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt

from .wire import Reply, html_reply, json_reply

CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann"
SCOPES = ("openid", "profile", "email", "offline_access")
REAL_ISSUER = "https://auth.openai.com"
AUTH_CLAIM = "https://api.openai.com/auth"
PROFILE_CLAIM = "https://api.openai.com/profile"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def s256(verifier: str) -> str:
    return b64url(hashlib.sha256(verifier.encode("ascii")).digest())


@dataclass
class Account:
    account_id: str
    plan: str
    email: str
    user_id: str


@dataclass
class AccessInfo:
    account: Account
    exp: float
    revoked: bool = False


@dataclass
class RefreshInfo:
    account: Account
    state: str = "valid"  # valid | used | revoked


@dataclass
class CodeInfo:
    challenge: str
    method: str
    redirect_uri: str
    client_id: str
    account: Account
    used: bool = False


@dataclass
class DeviceInfo:
    user_code: str
    polls: int = 0
    slowed: bool = False
    answer: dict | None = None


@dataclass
class DevicePoll:
    """One poll of the device token endpoint, for tests of the client's pacing."""

    monotonic: float
    wall: float
    status: int
    code: str | None


@dataclass
class AuthState:
    settings: Any  # the backend's Settings (read at call time: tests change it at runtime)
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    lock: threading.Lock = field(default_factory=threading.Lock)
    access: dict[str, AccessInfo] = field(default_factory=dict)
    refresh: dict[str, RefreshInfo] = field(default_factory=dict)
    codes: dict[str, CodeInfo] = field(default_factory=dict)
    devices: dict[str, DeviceInfo] = field(default_factory=dict)
    device_polls: list[DevicePoll] = field(default_factory=list)
    revoked: list[str] = field(default_factory=list)
    issued_secrets: set[str] = field(default_factory=set)
    refresh_count: int = 0
    refresh_successes: int = 0

    # -- clock and accounts ---------------------------------------------------------------

    def now(self) -> float:
        return time.time() + float(self.settings.clock_skew_s)

    def default_account(self) -> Account:
        s = self.settings
        return Account(s.account_id, s.plan, s.email, s.user_id)

    # -- minting ---------------------------------------------------------------------------

    def mint_tokens(self, ttl: float, account: Account) -> dict:
        """A fresh token set, registered as valid. Caller holds no lock (we take it)."""
        now = self.now()
        access = self._jwt(_access_claims(account, now, ttl))
        id_token = self._jwt(_id_claims(account, now, ttl))
        refresh = "rt_" + secrets.token_urlsafe(36)
        with self.lock:
            self.access[access] = AccessInfo(account, now + ttl)
            self.refresh[refresh] = RefreshInfo(account)
            self.issued_secrets.update((access, id_token, refresh))
        return {
            "access_token": access,
            "refresh_token": refresh,
            "id_token": id_token,
            "expires_in": int(ttl),
            "token_type": "Bearer",
            "scope": " ".join(SCOPES),
        }

    def _jwt(self, claims: dict) -> str:
        """An HS256 JWT whose payload segment *needs* base64 padding re-added.

        Real ChatGPT tokens come in every length; a client that decodes with plain
        `base64.urlsafe_b64decode` and no re-padding breaks on two lengths out of three. We
        make every token land on a padded length so such a client fails every time, not 1/3.
        """
        header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
        for extra in range(3):
            claims["jti"] = str(uuid.uuid4()) + "x" * extra
            raw = json.dumps(claims, separators=(",", ":")).encode()
            if len(raw) % 3:
                break
        payload = b64url(raw)
        signing_input = f"{header}.{payload}".encode("ascii")
        sig = b64url(hmac.new(self.key, signing_input, hashlib.sha256).digest())
        return f"{header}.{payload}.{sig}"

    # -- verification for the Responses endpoint ---------------------------------------------

    def check_access(self, token: str) -> tuple[str | None, Account | None]:
        """(error code or None, account) for a bearer token on the subscription path."""
        try:
            jwt.decode(
                token,
                self.key,
                algorithms=["HS256"],
                options={"verify_exp": False, "verify_aud": False},
            )
        except jwt.PyJWTError:
            return "invalid_token", None
        with self.lock:
            info = self.access.get(token)
        if info is None:
            return "invalid_token", None
        if info.revoked:
            return "token_invalidated", info.account
        if info.exp <= self.now():
            return "token_expired", info.account
        return None, info.account


# -- claims -----------------------------------------------------------------------------------


def _access_claims(account: Account, now: float, ttl: float) -> dict:
    return {
        "aud": ["https://api.openai.com/v1"],
        "client_id": CLIENT_ID,
        "exp": int(now + ttl),
        "iat": int(now),
        "iss": REAL_ISSUER,
        "nbf": int(now),
        "scp": list(SCOPES),
        "session_id": "authsess_" + secrets.token_hex(12),
        "sub": "auth0|" + account.user_id,
        "email": account.email,
        AUTH_CLAIM: {
            "chatgpt_account_id": account.account_id,
            "chatgpt_account_user_id": f"{account.user_id}__{account.account_id}",
            "chatgpt_compute_residency": "no_constraint",
            "chatgpt_plan_type": account.plan,
            "chatgpt_user_id": account.user_id,
            "user_id": account.user_id,
        },
        PROFILE_CLAIM: {"email": account.email, "email_verified": True},
    }


def _id_claims(account: Account, now: float, ttl: float) -> dict:
    return {
        "aud": [CLIENT_ID],
        "auth_time": int(now),
        "email": account.email,
        "email_verified": True,
        "exp": int(now + ttl),
        "iat": int(now),
        "iss": REAL_ISSUER,
        "sub": "auth0|" + account.user_id,
        AUTH_CLAIM: {
            "chatgpt_account_id": account.account_id,
            "chatgpt_plan_type": account.plan,
            "chatgpt_user_id": account.user_id,
            "organizations": [
                {
                    "id": "org-" + account.account_id[-12:],
                    "is_default": True,
                    "role": "owner",
                    "title": "Personal",
                }
            ],
            "user_id": account.user_id,
        },
    }


# -- request helpers --------------------------------------------------------------------------


def _error(status: int, code: str, message: str) -> Reply:
    return json_reply(
        status,
        {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": None,
                "code": code,
            }
        },
    )


def parse_params(req) -> dict[str, str]:
    """Body fields of a form or JSON POST (the real token endpoint takes both)."""
    ctype = req.headers.get("content-type", "").lower()
    if "json" in ctype or req.body.lstrip().startswith(b"{"):
        data = req.json if isinstance(req.json, dict) else {}
        return {k: v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}
    parsed = urllib.parse.parse_qs(req.body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in parsed.items()}


def issuer_from(req) -> str:
    """The issuer URL as this client addressed us (Host header), for redirect_uri checks."""
    return "http://" + req.headers.get("host", "127.0.0.1")


# -- device code (docs/auth.md) ----------------------------------------------------------------


def device_usercode(state: AuthState, req) -> Reply:
    s = state.settings
    if s.device_mode == "disabled":
        return _error(404, "device_code_not_enabled", "Device code authorization is not enabled.")
    body = req.json if isinstance(req.json, dict) else {}
    if body.get("client_id") != CLIENT_ID:
        return _error(400, "invalid_client", f"Unknown client_id: {body.get('client_id')!r}")
    device_id = "deviceauth_" + secrets.token_hex(16)
    user_code = f"{secrets.token_hex(2).upper()}-{secrets.token_hex(3).upper()[:5]}"
    with state.lock:
        state.devices[device_id] = DeviceInfo(user_code)
    # `interval` is a string in the real service (quirk 1 in docs/provider.md).
    return json_reply(
        200,
        {
            "device_auth_id": device_id,
            s.usercode_field: user_code,
            "interval": str(s.device_interval),
        },
    )


def device_token(state: AuthState, req) -> Reply:
    s = state.settings
    body = req.json if isinstance(req.json, dict) else {}
    device_id, user_code = body.get("device_auth_id"), body.get("user_code")
    with state.lock:
        info = state.devices.get(device_id)
        if info is None or info.user_code != user_code:
            reply = _error(400, "invalid_device_auth", "Unknown device_auth_id or user_code.")
        elif s.device_mode == "slow_down" and not info.slowed:
            info.slowed = True
            reply = _error(
                int(s.slow_down_status), "slow_down", "Polling too frequently; slow down."
            )
        elif info.polls < int(s.pending_polls):
            statuses = list(s.pending_statuses) or [403]
            status = int(statuses[info.polls % len(statuses)])
            info.polls += 1
            reply = _error(
                status,
                "deviceauth_authorization_pending",
                "Device authorization is pending. Please try again.",
            )
        else:
            if info.answer is None:
                info.answer = _device_answer(state, req)
            reply = json_reply(200, info.answer)
        code = (
            (reply.json_body() or {}).get("error", {}).get("code") if reply.status != 200 else None
        )
        state.device_polls.append(DevicePoll(time.monotonic(), time.time(), reply.status, code))
    return reply


def _device_answer(state: AuthState, req) -> dict:
    """The server-made PKCE pair and code (quirk 2 in docs/provider.md). Caller holds the lock."""
    verifier = b64url(secrets.token_bytes(48))
    code = "ac_" + secrets.token_urlsafe(24)
    state.codes[code] = CodeInfo(
        challenge=s256(verifier),
        method="S256",
        redirect_uri=issuer_from(req) + "/deviceauth/callback",
        client_id=CLIENT_ID,
        account=state.default_account(),
    )
    state.issued_secrets.update((code, verifier))
    return {"authorization_code": code, "code_challenge": s256(verifier), "code_verifier": verifier}


# -- browser authorize (docs/auth.md) ----------------------------------------------------------


def authorize(state: AuthState, req) -> Reply:
    q = req.query
    problems = []
    expect = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "code_challenge_method": "S256",
        "id_token_add_organizations": "true",
        "codex_cli_simplified_flow": "true",
    }
    for name, value in expect.items():
        if q.get(name) != value:
            problems.append(f"{name} must be {value!r} (got {q.get(name)!r})")
    scopes = set((q.get("scope") or "").split())
    if not set(SCOPES) <= scopes:
        problems.append(f"scope must include {' '.join(SCOPES)!r}")
    for name in ("code_challenge", "state", "originator"):
        if not q.get(name):
            problems.append(f"{name} is required")
    challenge = q.get("code_challenge") or ""
    if challenge and not (43 <= len(challenge) <= 128):
        problems.append("code_challenge must be base64url of a SHA-256 digest")
    redirect = q.get("redirect_uri") or ""
    if not _redirect_ok(redirect, strict=bool(state.settings.strict_redirect_ports)):
        problems.append(f"redirect_uri is not registered for this client: {redirect!r}")
    if problems:
        items = "".join(f"<li>{p}</li>" for p in problems)
        return html_reply(
            400, f"<html><body><h1>invalid_request</h1><ul>{items}</ul></body></html>"
        )

    sep = "&" if "?" in redirect else "?"
    if state.settings.authorize_error:
        params = {
            "error": state.settings.authorize_error,
            "error_description": "The user denied the request.",
            "state": q["state"],
        }
        return Reply(302, b"", [("Location", redirect + sep + urllib.parse.urlencode(params))])
    code = "ac_" + secrets.token_urlsafe(24)
    with state.lock:
        state.codes[code] = CodeInfo(
            challenge, "S256", redirect, CLIENT_ID, state.default_account()
        )
        state.issued_secrets.add(code)
    params = {"code": code, "scope": " ".join(SCOPES), "state": q["state"]}
    return Reply(302, b"", [("Location", redirect + sep + urllib.parse.urlencode(params))])


def _redirect_ok(uri: str, strict: bool) -> bool:
    """The registered browser redirect URIs are http://localhost:1455 and :1457 /auth/callback.
    Tests bind other ports (PIXIR_LOGIN_PORT), so any loopback port passes unless strict."""
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme != "http" or parts.path != "/auth/callback":
        return False
    if parts.hostname not in ("localhost", "127.0.0.1"):
        return False
    return parts.port in (1455, 1457) if strict else parts.port is not None


# -- token endpoint (docs/auth.md) -------------------------------------------------------------


def token(state: AuthState, req) -> Reply:
    params = parse_params(req)
    grant = params.get("grant_type")
    if grant == "authorization_code":
        return _exchange_code(state, params)
    if grant == "refresh_token":
        return _refresh(state, params)
    return _error(400, "unsupported_grant_type", f"Unsupported grant_type: {grant!r}")


def _exchange_code(state: AuthState, params: dict[str, str]) -> Reply:
    code = params.get("code", "")
    verifier = params.get("code_verifier", "")
    if verifier:
        state.issued_secrets.add(verifier)  # a browser verifier is the client's secret too
    with state.lock:
        info = state.codes.get(code)
        if info is None:
            return _error(400, "invalid_grant", "Invalid authorization code.")
        if info.used:
            return _error(400, "invalid_grant", "Authorization code has already been used.")
        if params.get("client_id") != info.client_id:
            return _error(400, "invalid_client", "client_id does not match the authorization code.")
        if params.get("redirect_uri") != info.redirect_uri:
            return _error(
                400,
                "invalid_grant",
                f"redirect_uri {params.get('redirect_uri')!r} does not match "
                f"{info.redirect_uri!r}.",
            )
        if not verifier or s256(verifier) != info.challenge:
            return _error(400, "invalid_grant", "code_verifier does not match the code_challenge.")
        info.used = True
        account = info.account
    return json_reply(200, state.mint_tokens(float(state.settings.token_ttl), account))


def _refresh(state: AuthState, params: dict[str, str]) -> Reply:
    old = params.get("refresh_token", "")
    s = state.settings
    with state.lock:
        state.refresh_count += 1
        fault = s.refresh_faults.pop(0) if s.refresh_faults else None
        info = state.refresh.get(old)
        if fault is not None:
            reply = _refresh_fault(fault)
        elif params.get("client_id") != CLIENT_ID:
            reply = _error(401, "invalid_client", "Unknown client_id.")
        elif info is None:
            reply = _error(401, "invalid_grant", "Unknown refresh token.")
        elif info.state == "used":
            reply = _error(
                401,
                "refresh_token_reused",
                "Your refresh token has already been used to generate a new access token. "
                "Please try signing in again.",
            )
        elif info.state == "revoked":
            reply = _error(
                401, "refresh_token_invalidated", "Your refresh token has been invalidated."
            )
        else:
            # Both tokens rotate on every refresh (quirk 3 in docs/provider.md): mark the old
            # one used *now*, under the lock, so of two racing refreshes exactly one wins.
            info.state = "used"
            state.refresh_successes += 1
            reply = None
    if reply is None:
        reply = json_reply(200, state.mint_tokens(float(s.token_ttl), info.account))
    delay = float(s.refresh_delay_s)
    if delay > 0:
        time.sleep(delay)  # outside the lock: the race window concurrent-refresh tests need
    return reply


def _refresh_fault(fault: dict) -> Reply:
    if "code" in fault:
        return _error(
            int(fault.get("status", 401)), fault["code"], fault.get("message", fault["code"])
        )
    status = int(fault.get("status", 500))
    return json_reply(
        status, {"error": {"message": "Internal error", "type": "server_error", "code": None}}
    )


def revoke(state: AuthState, req) -> Reply:
    params = parse_params(req)
    tok = params.get("token", "")
    with state.lock:
        state.revoked.append(tok)
        if tok in state.refresh:
            state.refresh[tok].state = "revoked"
        if tok in state.access:
            state.access[tok].revoked = True
    return json_reply(200, {})
