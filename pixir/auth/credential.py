"""The Credential the Provider uses: auth headers for the next call, and one recovery
from a 401. Resolution order (docs/auth.md): stored subscription → stored API key →
OPENAI_API_KEY → not_authenticated.

A subscription's tokens rotate on every refresh and a spent refresh token is refused, so
every refresh runs under the auth lock and starts by re-reading auth.json: whichever
process gets the lock first refreshes, the others find its fresh pair and use it (docs/auth.md).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pixir import paths
from pixir.auth import claims, oauth, store
from pixir.config import Settings
from pixir.errors import PixirError

NO_CREDENTIAL = "no credential — run `pixir login` or set OPENAI_API_KEY"
# Refresh when less than this is left, so a token never expires in the middle of a call.
REFRESH_MARGIN_S = 60


@dataclass
class ApiKeyCredential:
    """A pay-per-token OpenAI API key (stored by `login --with-api-key`, or from the env)."""

    api_key: str = field(repr=False)
    source: str  # "stored" | "env"
    organization: str | None = None
    project: str | None = None
    kind: str = "api_key"

    def headers(self) -> dict[str, str]:
        """Auth headers for the next call."""
        headers = {"Authorization": f"Bearer {self.api_key}"}
        if self.organization:
            headers["OpenAI-Organization"] = self.organization
        if self.project:
            headers["OpenAI-Project"] = self.project
        return headers

    def recover_unauthorized(self) -> bool:
        """A key cannot be refreshed: a 401 is final."""
        return False


@dataclass
class SubscriptionCredential:
    """ChatGPT sign-in tokens from auth.json, refreshed when they are about to expire."""

    issuer: str
    record: dict = field(repr=False)  # the auth.json content: tokens inside
    clock: Callable[[], float] = field(default=time.time, repr=False)
    source: str = "stored"
    kind: str = "subscription"
    # The refresh token auth.json still holds, spent by a refresh whose save failed: until
    # the new pair is saved, `record` is newer than the file (and the only valid sign-in).
    spent: str | None = field(default=None, repr=False)

    @property
    def account_id(self) -> str:
        return self.record["account_id"]

    def headers(self) -> dict[str, str]:
        """Auth headers for the next call; refreshes first when < 60 s are left."""
        if self.spent is not None:
            self.save_unsaved()
        if expires_at(self.record) - self.clock() < REFRESH_MARGIN_S:
            self.record = self._refresh(after_401=False)
        return {
            "Authorization": f"Bearer {self.record['access_token']}",
            "chatgpt-account-id": self.record["account_id"],
        }

    def recover_unauthorized(self) -> bool:
        """After a 401: adopt tokens another process saved meanwhile, else refresh once.
        True = retry once with headers(); a failed refresh raises (not_authenticated, or a
        retryable network/provider_http_error)."""
        self.record = self._refresh(after_401=True)
        return True

    def _refresh(self, after_401: bool) -> dict:
        """Read-check-refresh-write under the auth lock; returns the record to use."""
        with store.locked():
            current = _stored_subscription()
            if self.spent is not None and current["refresh_token"] == self.spent:
                current = self.record  # the file is older than the pair this run holds
            if after_401:
                if current["access_token"] != self.record["access_token"]:
                    return current  # someone refreshed (or signed in again) since we read
            elif expires_at(current) - self.clock() >= REFRESH_MARGIN_S:
                return current  # another process refreshed while we waited for the lock
            tokens = oauth.refresh(self.issuer, current["refresh_token"])
            fresh = oauth.record_from_tokens(tokens, previous=current, now=self.clock())
            try:
                store.save(fresh)  # before use: the old refresh token is spent now
            except PixirError as err:  # a full or read-only home: this run keeps the pair
                if self.spent is None:
                    self.spent = current["refresh_token"]
                    import atexit

                    atexit.register(self.save_unsaved)  # a last try as the process ends
                    _say(
                        f"warning: the refreshed ChatGPT sign-in could not be saved "
                        f"({err.message}); it is used for this run, and saved as soon as "
                        f"there is room. Free space in (or fix the permissions of) "
                        f"{paths.home()} before pixir exits: the next run will otherwise "
                        "need `pixir login`"
                    )
            else:
                self.spent = None
            return fresh

    def save_unsaved(self) -> None:
        """Try again to save the pair a refresh could not (before each call, and at exit):
        unless the file changed meanwhile (a new login wins), it gets this run's pair."""
        if self.spent is None:
            return
        try:
            with store.locked():
                current = store.load()
                if current is not None and current.get("refresh_token") == self.spent:
                    store.save(self.record)
                    _say("note: the refreshed ChatGPT sign-in is saved now")
        except PixirError:
            return  # still no room: the next call (or the exit) tries again
        self.spent = None


def _say(line: str) -> None:
    import sys

    from pixir.sanitize import terminal

    print(terminal(line), file=sys.stderr)


def expires_at(record: dict) -> float:
    """When the access token expires (epoch seconds): `expires_at`, else the token's own
    `exp`, else now-ish (unknown means refresh first)."""
    millis = record.get("expires_at")
    if isinstance(millis, (int, float)) and not isinstance(millis, bool):
        return millis / 1000
    exp = claims.account(record.get("access_token")).expires
    return exp if exp is not None else 0.0


def _stored_subscription() -> dict:
    current = store.load()
    if current is None or current["kind"] != "subscription":
        raise PixirError(
            "not_authenticated",
            f"the ChatGPT sign-in in {paths.auth_file()} was removed while pixir ran",
            hint="run `pixir login`",
        )
    return current


def secret_values(credential) -> list[str]:
    """Every credential value a tool's output must not show: the one in use, whatever
    auth.json holds now (another process may have refreshed it), and OPENAI_API_KEY."""
    values = [os.environ.get("OPENAI_API_KEY", "")]
    if isinstance(credential, ApiKeyCredential):
        values.append(credential.api_key)
    elif isinstance(credential, SubscriptionCredential):
        values += [credential.record.get(k) for k in ("access_token", "refresh_token", "id_token")]
    try:
        stored = json.loads(paths.auth_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        stored = None
    if isinstance(stored, dict):
        values += [stored.get(k) for k in ("access_token", "refresh_token", "id_token", "api_key")]
    return [v.strip() for v in values if isinstance(v, str) and v.strip()]


def resolve(settings: Settings, forced: str | None = None):
    """The Credential to use, honouring `--auth subscription|api_key`."""
    stored = store.load()
    if stored and stored["kind"] == "subscription" and forced in (None, "subscription"):
        return SubscriptionCredential(issuer=settings.auth_issuer, record=stored)
    if stored and stored["kind"] == "api_key" and forced in (None, "api_key"):
        return _api_key(stored["api_key"], "stored", settings)
    env_key = os.environ.get("OPENAI_API_KEY", "").strip()
    if env_key and forced in (None, "api_key"):
        return _api_key(env_key, "env", settings)
    raise missing(forced, stored["kind"] if stored else None)


# What `--auth KIND` lacks, what else auth.json may hold instead, and the one step that helps.
_FORCED = {
    "subscription": (
        "no ChatGPT sign-in",
        ("api_key", "an API key"),
        "run `pixir login` to sign in with ChatGPT",
    ),
    "api_key": (
        "no API key",
        ("subscription", "a ChatGPT sign-in"),
        "set OPENAI_API_KEY, or store a key with `pixir login --with-api-key`",
    ),
}


def missing(forced: str | None, stored: str | None) -> PixirError:
    """not_authenticated, with the next step that is true for the case: `--auth
    subscription` needs a ChatGPT sign-in whatever API key there is; `--auth api_key` needs
    a key whatever sign-in there is."""
    if forced not in _FORCED:
        return PixirError("not_authenticated", NO_CREDENTIAL, {"forced": None})
    lacking, (other, what), hint = _FORCED[forced]
    held = f" ({paths.auth_file()} holds {what})" if stored == other else ""
    return PixirError(
        "not_authenticated", f"{lacking} for --auth {forced}{held}", {"forced": forced}, hint=hint
    )


def _api_key(key: str, source: str, settings: Settings) -> ApiKeyCredential:
    return ApiKeyCredential(
        api_key=key,
        source=source,
        organization=settings.openai_organization,
        project=settings.openai_project,
    )
