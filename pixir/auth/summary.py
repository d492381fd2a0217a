"""The credential pixir would use, described without secrets: for `status` and `doctor`."""

from __future__ import annotations

import time

from pixir import paths
from pixir.auth import claims, credential, oauth
from pixir.config import Settings


def describe(settings: Settings, forced: str | None = None, now: float | None = None) -> dict:
    """Kind, source and — for a subscription — account, plan, email and expiry. Never a
    token or key. Raises like `credential.resolve` (not_authenticated, corrupt_auth)."""
    now = time.time() if now is None else now
    cred = credential.resolve(settings, forced)
    facts: dict = {"kind": cred.kind, "source": cred.source, "home": str(paths.home())}
    if cred.source == "stored":
        facts["path"] = str(paths.auth_file())
    if cred.kind == "api_key":
        if cred.source == "env":
            facts["variable"] = "OPENAI_API_KEY"
        facts["organization"] = cred.organization
        facts["project"] = cred.project
        return facts
    record = cred.record
    account = claims.account(record.get("access_token"), record.get("id_token"))
    expires = credential.expires_at(record)
    facts.update(
        account_id=record["account_id"],
        plan=account.plan,
        email=account.email,
        expires_at=oauth.iso_utc(expires) if expires else None,
        expires_in_s=int(expires - now) if expires else None,
        expired=expires - now <= 0,
        last_refresh=record.get("last_refresh"),
    )
    return facts


def relative(seconds: float) -> str:
    """A short human duration: "45 s", "12 min", "3 h", "2 days"."""
    seconds = int(abs(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"
