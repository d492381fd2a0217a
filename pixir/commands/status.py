"""`pixir status [--json]`: which credential pixir would use, for which account, until when.
Offline, and never a token or key (docs/auth.md)."""

from __future__ import annotations

from pixir.auth.summary import describe, relative
from pixir.commands import print_json, settings_for
from pixir.sanitize import terminal

SOURCES = {
    ("subscription", "stored"): "ChatGPT subscription (Sign in with ChatGPT)",
    ("api_key", "stored"): "API key stored by `pixir login --with-api-key`",
    ("api_key", "env"): "API key from OPENAI_API_KEY",
}


def run(args) -> int:
    settings = settings_for(args)
    facts = describe(settings, getattr(args, "auth", None))
    if args.json:
        print_json({"ok": True, **facts})
        return 0
    rows = [("credential", SOURCES[(facts["kind"], facts["source"])])]
    if facts["kind"] == "subscription":
        rows += [
            ("account", facts["account_id"]),
            ("plan", facts["plan"] or "unknown"),
            ("email", facts["email"] or "unknown"),
            ("expires", _expiry(facts)),
        ]
    else:
        for name in ("organization", "project"):
            if facts.get(name):
                rows.append((name, facts[name]))
    if facts.get("path"):
        rows.append(("file", facts["path"]))
    rows.append(("home", facts["home"]))
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(terminal(f"{name:<{width}}  {value}"))  # email and plan come from the token
    return 0


def _expiry(facts: dict) -> str:
    if facts["expires_in_s"] is None:
        return "unknown (refreshed before the next call)"
    when = facts["expires_at"].replace("T", " ").replace("Z", " UTC")
    left = facts["expires_in_s"]
    if left <= 0:
        return f"access token expired {relative(left)} ago ({when}); refreshed on the next call"
    return f"access token valid for {relative(left)} ({when}); refreshed automatically"
