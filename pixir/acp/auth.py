"""Sign-in over ACP (docs/acp.md, "Authentication"): the methods offered in `initialize`,
`authenticate`, `logout`, the auth state in `_meta.pixir`, and the -32000 answer a client
turns into its sign-in screen.

The terminal method makes the editor run `pixir login` (device code) in a terminal of its
own, so signing in works over SSH and in containers; pixir never opens a browser here.
"""

from __future__ import annotations

import os
import sys

from pixir.acp.rpc import AUTH_REQUIRED, INVALID_PARAMS, RpcError
from pixir.config import Settings
from pixir.errors import PixirError

TERMINAL_METHOD = "pixir-login"
API_KEY_METHOD = "openai-api-key"
LOGIN_HINT = "sign in with `pixir login` (device code) in a terminal, or set OPENAI_API_KEY"


def terminal_declared(params: dict) -> bool:
    """Did the client say it can run a terminal sign-in (`clientCapabilities.auth.terminal`,
    or the older `_meta["terminal-auth"]`, on the capabilities or the request)?"""
    caps = params.get("clientCapabilities")
    caps = caps if isinstance(caps, dict) else {}
    auth = caps.get("auth")
    if isinstance(auth, dict) and auth.get("terminal") is True:
        return True
    for holder in (caps, params):
        meta = holder.get("_meta")
        if isinstance(meta, dict) and meta.get("terminal-auth"):
            return True
    return False


def methods(terminal: bool) -> list[dict]:
    """The `authMethods` of `initialize`."""
    offered = []
    if terminal:
        offered.append(
            {
                "id": TERMINAL_METHOD,
                "name": "Sign in with ChatGPT",
                "description": "Runs `pixir login` (device code: open a URL, enter a code)",
                "type": "terminal",
                "args": ["login"],
                # what clients written before terminal auth was part of the schema read
                "_meta": {
                    "terminal-auth": {
                        "command": executable(),
                        "args": ["login"],
                        "label": "pixir login",
                    }
                },
            }
        )
    offered.append(
        {
            "id": API_KEY_METHOD,
            "name": "Use OPENAI_API_KEY",
            "description": "Pay per token with the OPENAI_API_KEY of the editor's environment",
        }
    )
    return offered


def executable() -> str:
    """How this pixir was started, for a client that runs the login command itself."""
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else "pixir"
    return os.path.realpath(argv0) if os.sep in argv0 else argv0


def state(settings: Settings, forced: str | None) -> dict:
    """`_meta.pixir.auth`: whether a credential is there and what it is — never a secret."""
    from pixir.auth.summary import describe

    try:
        facts = describe(settings, forced)
    except PixirError as err:
        out = {"authenticated": False}
        if err.kind != "not_authenticated":
            out["error"] = {"kind": err.kind, "message": err.message}
        return out
    out = {"authenticated": True, "kind": facts["kind"]}
    for key in ("account_id", "plan", "expires_at"):
        if facts.get(key):
            out[key] = facts[key]
    return out


def authenticate(method_id: object, settings: Settings) -> str | None:
    """`authenticate {methodId}` → the credential kind to force from now on (None: any).
    Raises RpcError when the method cannot give a credential right now."""
    if method_id == API_KEY_METHOD:
        if not os.environ.get("OPENAI_API_KEY", "").strip():
            raise RpcError(
                AUTH_REQUIRED,
                "Authentication required: OPENAI_API_KEY is not set in pixir's environment",
                {
                    "hint": "set OPENAI_API_KEY in the agent's environment in the editor's "
                    "settings, or sign in with `pixir login`"
                },
            )
        return "api_key"
    if method_id == TERMINAL_METHOD:
        # The client runs `pixir login` itself; asked anyway, say whether it worked.
        require_credential(settings, None)
        return None
    raise RpcError(
        INVALID_PARAMS,
        f"unknown authentication method {method_id!r}",
        {"methodId": method_id, "known": [TERMINAL_METHOD, API_KEY_METHOD]},
    )


def require_credential(settings: Settings, forced: str | None):
    """The credential a session would use, or -32000 "Authentication required"."""
    from pixir.auth.credential import resolve

    try:
        return resolve(settings, forced=forced)
    except PixirError as err:
        if err.kind not in ("not_authenticated", "corrupt_auth"):
            raise
        raise RpcError(
            AUTH_REQUIRED,
            "Authentication required",
            {"hint": err.hint or LOGIN_HINT, "reason": err.message, "kind": err.kind},
        ) from None


def logout() -> bool:
    """`logout`: forget the stored credential, like `pixir logout`; False when there was
    none. OPENAI_API_KEY, if set, stays usable."""
    from pixir import paths
    from pixir.auth import store

    if not paths.auth_file().exists():
        return False
    with store.locked():  # no refresh may write the file back while it goes
        return store.delete()
