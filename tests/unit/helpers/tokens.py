"""Helpers for auth unit tests: JWTs shaped like ChatGPT's, and auth.json records."""

from __future__ import annotations

import base64
import json
import time

AUTH_CLAIM = "https://api.openai.com/auth"
PROFILE_CLAIM = "https://api.openai.com/profile"
ISSUER = "https://auth.example.test"
TOKEN_URL = ISSUER + "/oauth/token"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(claims: dict) -> str:
    """An unsigned-looking JWT (header.payload.sig), base64url without padding."""
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64(json.dumps(claims, separators=(",", ":")).encode())
    return f"{header}.{payload}.{b64(b'not-a-real-signature')}"


def access_token(
    account_id: str | None = "acct-1",
    plan: str | None = "plus",
    email: str | None = "dev@example.com",
    exp: float | None = None,
    pad: str = "",
) -> str:
    auth = {}
    if account_id:
        auth["chatgpt_account_id"] = account_id
    if plan:
        auth["chatgpt_plan_type"] = plan
    claims = {"exp": int(exp if exp is not None else time.time() + 3600), "pad": pad}
    claims[AUTH_CLAIM] = auth
    if email:
        claims[PROFILE_CLAIM] = {"email": email}
    return make_jwt(claims)


def token_response(n: int = 1, expires_in: int = 3600, **claims) -> dict:
    return {
        "access_token": access_token(pad=f"n{n}", **claims),
        "refresh_token": f"rt-secret-{n}",
        "id_token": make_jwt({"email": "id@example.com", "n": n}),
        "expires_in": expires_in,
    }


def record(n: int = 1, expires_in_s: float = 3600, account_id: str = "acct-1") -> dict:
    """A subscription auth.json record whose access token is `at-<n>`-like and unique."""
    return {
        "kind": "subscription",
        "access_token": access_token(account_id=account_id, pad=f"rec{n}"),
        "refresh_token": f"rt-secret-{n}",
        "account_id": account_id,
        "expires_at": int((time.time() + expires_in_s) * 1000),
        "obtained_at": "2026-01-01T00:00:00Z",
        "last_refresh": "2026-01-01T00:00:00Z",
    }
