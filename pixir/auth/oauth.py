"""The issuer's endpoints (docs/auth.md) and the calls every flow shares: one logged POST,
the token endpoint (code exchange, refresh), revoke, and token response → auth.json record.

`requests` is imported inside `post`, never at import time (start-up budget, docs/architecture.md).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass, field
from typing import Any

from pixir import __version__, debug, neterror
from pixir.auth import claims
from pixir.config import ensure_secure_url, proxies_for
from pixir.errors import PixirError

CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann"
SCOPE = "openid profile email offline_access"
ORIGINATOR = "pixir"
CONNECT_TIMEOUT_S = 10
READ_TIMEOUT_S = 30

# Refresh answers that mean "this sign-in is over": the user has to log in again (docs/auth.md).
PERMANENT_REFRESH_CODES = frozenset(
    {
        "refresh_token_reused",
        "refresh_token_expired",
        "refresh_token_invalidated",
        "invalid_grant",
    }
)
EXPIRED_SIGN_IN = "your ChatGPT sign-in expired — run `pixir login`"
# Form fields this module sends that the shared redaction list does not know as secrets.
EXTRA_SECRET_FIELDS = frozenset({"token"})


def authorize_url(issuer: str) -> str:
    return f"{issuer}/oauth/authorize"


def token_url(issuer: str) -> str:
    return f"{issuer}/oauth/token"


def revoke_url(issuer: str) -> str:
    return f"{issuer}/oauth/revoke"


def usercode_url(issuer: str) -> str:
    return f"{issuer}/api/accounts/deviceauth/usercode"


def device_poll_url(issuer: str) -> str:
    return f"{issuer}/api/accounts/deviceauth/token"


def device_page_url(issuer: str) -> str:
    return f"{issuer}/codex/device"


def device_redirect_uri(issuer: str) -> str:
    return f"{issuer}/deviceauth/callback"


@dataclass
class Reply:
    """An issuer answer: status and the JSON body (None when the body was not JSON)."""

    status: int
    body: Any = field(repr=False)

    @property
    def error_code(self) -> str | None:
        """The error code in either shape the issuer uses: OAuth's `{"error": "code"}` or
        OpenAI's `{"error": {"code": ...}}` (also `{"code": ...}` and `{"detail": ...}`)."""
        body = self.body if isinstance(self.body, dict) else {}
        err = body.get("error")
        if isinstance(err, dict):
            code = err.get("code") or err.get("type")
            return code if isinstance(code, str) else None
        if isinstance(err, str):
            return err
        code = body.get("code")
        return code if isinstance(code, str) else None

    @property
    def error_message(self) -> str:
        """A short human description of a failed answer (server text, no secrets in it)."""
        body = self.body if isinstance(self.body, dict) else {}
        err = body.get("error")
        text = None
        if isinstance(err, dict):
            text = err.get("message")
        elif isinstance(body.get("error_description"), str):
            text = body["error_description"]
        elif isinstance(body.get("detail"), str):
            text = body["detail"]
        text = text if isinstance(text, str) and text else f"HTTP {self.status}"
        return debug.redact_text(text)[:300]


def post(
    url: str,
    *,
    json_body: dict | None = None,
    form: dict | None = None,
    session: Any = None,
) -> Reply:
    """POST JSON or a form to the issuer and return its answer. Refuses cleartext to remote
    hosts (these bodies carry codes and tokens); network failures are `network` (retryable).
    Every call is in the PIXIR_DEBUG wire log, secrets redacted."""
    ensure_secure_url(url)
    import requests

    sent = json_body if json_body is not None else form
    debug.log(f"POST {url} {_redacted(sent, form is not None)}")
    headers = {"originator": ORIGINATOR, "User-Agent": f"pixir/{__version__}"}
    caller = session or requests
    try:
        response = caller.post(
            url,
            json=json_body,
            data=form,
            headers=headers,
            timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S),
            proxies=proxies_for(url),  # cleartext or loopback: never through a proxy
        )
    except requests.RequestException as exc:
        debug.log(f"POST {url} failed: {type(exc).__name__}")
        raise PixirError(
            "network",
            f"cannot reach the sign-in service at {url}: {neterror.reason(exc)}",
            {"url": url},
            retryable=True,
            hint="check the network (and HTTPS_PROXY) and try again",
        ) from None
    try:
        body = response.json()
    except ValueError:
        body = None
    debug.log(f"-> {response.status_code} {debug.redact_body(response.content)}")
    return Reply(response.status_code, body)


def _redacted(sent: dict | None, is_form: bool) -> str:
    if not sent:
        return ""
    masked = debug.redact_json(sent)
    masked = {k: debug.REDACTED if k in EXTRA_SECRET_FIELDS else v for k, v in masked.items()}
    if is_form:
        from urllib.parse import urlencode

        return urlencode(masked, safe="[]")
    return json.dumps(masked)


# -- token endpoint ----------------------------------------------------------------------------


def exchange_code(
    issuer: str, code: str, verifier: str, redirect_uri: str, session: Any = None
) -> dict:
    """Trade an authorization code for tokens (device and browser flows). A refusal is
    `login_failed` (exit 4)."""
    reply = post(
        token_url(issuer),
        form={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": CLIENT_ID,
            "code_verifier": verifier,
        },
        session=session,
    )
    if reply.status != 200:
        raise PixirError(
            "login_failed",
            f"the sign-in service refused the code: {reply.error_message}",
            {"status": reply.status, "code": reply.error_code},
            hint="run `pixir login` again",
        )
    return _token_body(reply)


def refresh(issuer: str, refresh_token: str) -> dict:
    """Trade a refresh token for a new pair (both rotate). Permanent refusals are
    `not_authenticated`; 5xx and network failures are retryable."""
    reply = post(
        token_url(issuer),
        form={
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": CLIENT_ID,
        },
    )
    if reply.status == 200:
        return _token_body(reply)
    code = reply.error_code
    details = {"status": reply.status, "code": code}
    if reply.status in (400, 401) or code in PERMANENT_REFRESH_CODES:
        reason = f" ({code})" if code else ""
        raise PixirError(
            "not_authenticated",
            EXPIRED_SIGN_IN.replace("expired", f"expired{reason}", 1),
            details,
            hint="run `pixir login` to sign in again",
        )
    raise PixirError(
        "provider_http_error",
        f"refreshing the ChatGPT sign-in failed: HTTP {reply.status}: {reply.error_message}",
        details,
        retryable=reply.status >= 500 or reply.status == 429,
    )


def revoke(issuer: str, token: str) -> None:
    """Ask the issuer to revoke a refresh token (`logout --revoke`)."""
    reply = post(
        revoke_url(issuer),
        form={"token": token, "token_type_hint": "refresh_token", "client_id": CLIENT_ID},
    )
    if reply.status != 200:
        raise PixirError(
            "provider_http_error",
            f"the sign-in service did not revoke the token: {reply.error_message}",
            {"status": reply.status, "code": reply.error_code},
        )


def _token_body(reply: Reply) -> dict:
    body = reply.body if isinstance(reply.body, dict) else {}
    missing = [
        name
        for name in ("access_token", "refresh_token")
        if not isinstance(body.get(name), str) or not body[name]
    ]
    if missing:
        raise PixirError(
            "invalid_response",
            f"the sign-in service's token answer lacks {' and '.join(missing)}",
            {"missing": missing},
        )
    return body


# -- token response → auth.json ----------------------------------------------------------------


def record_from_tokens(
    tokens: dict, previous: dict | None = None, now: float | None = None
) -> dict:
    """The auth.json record (docs/auth.md) for a token response. On a refresh, `previous` gives
    what the answer may omit (id_token, account id) and the original `obtained_at`."""
    now = time.time() if now is None else now
    previous = previous or {}
    id_token = tokens.get("id_token") or previous.get("id_token")
    facts = claims.account(tokens["access_token"], id_token)
    account_id = facts.account_id or previous.get("account_id")
    if not account_id:
        raise PixirError(
            "not_authenticated",
            "the sign-in worked but names no ChatGPT account (no chatgpt_account_id claim "
            "in the tokens); pixir needs an account with a ChatGPT plan",
            hint="sign in with a ChatGPT Plus/Pro account, or use an API key "
            "(`pixir login --with-api-key`)",
        )
    expires_in = tokens.get("expires_in")
    if isinstance(expires_in, str) and expires_in.strip().isdigit():
        expires_in = int(expires_in)
    if isinstance(expires_in, (int, float)) and not isinstance(expires_in, bool):
        expires_at = now + float(expires_in)
    elif facts.expires is not None:
        expires_at = facts.expires
    else:
        expires_at = now  # unknown: refresh before the first use rather than trust it
    stamp = iso_utc(now)
    record = {
        "kind": "subscription",
        "access_token": tokens["access_token"],
        "refresh_token": tokens["refresh_token"],
        "expires_at": int(expires_at * 1000),
        "account_id": account_id,
        "obtained_at": previous.get("obtained_at") or stamp,
        "last_refresh": stamp,
    }
    if id_token:
        record["id_token"] = id_token
    return record


def iso_utc(epoch_s: float) -> str:
    """ISO-8601 UTC with a Z, to the second."""
    when = dt.datetime.fromtimestamp(epoch_s, dt.timezone.utc).replace(microsecond=0)
    return when.isoformat().replace("+00:00", "Z")
