"""`pixir login [--device|--browser|--with-api-key]`: sign in and store the credential.

Everything for the user goes to stderr; stdout stays empty, except for the one result
object of `--json` at the end.
"""

from __future__ import annotations

import os
import sys

from pixir import paths
from pixir.auth import claims, oauth, store
from pixir.commands import print_json, settings_for
from pixir.config import ensure_secure_url
from pixir.errors import PixirError


def run(args) -> int:
    settings = settings_for(args)
    try:
        if args.with_api_key:
            result = _store_api_key(read_api_key())
        else:
            # Refuse a cleartext remote issuer before the user spends a sign-in on it.
            ensure_secure_url(settings.auth_issuer)
            if args.browser:
                from pixir.auth import browser

                tokens = browser.login(settings.auth_issuer)
            else:
                from pixir.auth import device

                tokens = device.login(settings.auth_issuer)
            result = _store_subscription(tokens)
    except KeyboardInterrupt:
        raise PixirError("interrupted", "sign-in cancelled; nothing was stored") from None
    if args.json:
        print_json({"ok": True, **result})
    return 0


MAX_KEY_INPUT = 64 << 10  # bytes of stdin `login --with-api-key` reads at most


def read_api_key() -> str:
    """The key from stdin — never argv, where `ps` would show it. On a terminal, asked for
    without echo."""
    if sys.stdin is None:
        raise _no_key()
    if sys.stdin.isatty():
        import getpass

        text = getpass.getpass("OpenAI API key (input hidden): ")
    else:  # read with a cap: `yes | pixir login --with-api-key` must not fill memory
        data = sys.stdin.buffer.read(MAX_KEY_INPUT + 1)
        if len(data) > MAX_KEY_INPUT:
            raise PixirError(
                "invalid_arguments",
                f"stdin holds more than {MAX_KEY_INPUT >> 10} KiB; an API key is a few "
                "hundred bytes",
                hint="printenv OPENAI_API_KEY | pixir login --with-api-key",
            )
        text = data.decode("utf-8", "replace")
    key = text.strip()
    if not key:
        raise _no_key()
    if any(c.isspace() for c in key):
        raise PixirError(
            "invalid_arguments",
            "stdin holds more than one word; pipe just the API key",
            hint=how_to_pipe(),
        )
    return key


def _no_key() -> PixirError:
    return PixirError("invalid_arguments", "no API key on stdin", hint=how_to_pipe())


def how_to_pipe() -> str:
    """How to give `--with-api-key` its key (`printenv OPENAI_API_KEY | ...` pipes nothing
    when that variable is not set)."""
    if os.environ.get("OPENAI_API_KEY", "").strip():
        return "printenv OPENAI_API_KEY | pixir login --with-api-key"
    return (
        "pipe the key in (pixir login --with-api-key < key.txt), or run it on a terminal "
        "to paste it unseen"
    )


def _store_api_key(key: str) -> dict:
    with store.locked():
        replaced = _stored_kind()
        store.save({"kind": "api_key", "api_key": key})
    path = paths.auth_file()
    note = " (replacing the ChatGPT sign-in)" if replaced == "subscription" else ""
    _say(f"Stored the API key in {path}{note}.")
    return {"kind": "api_key", "path": str(path)}


def _store_subscription(tokens: dict) -> dict:
    record = oauth.record_from_tokens(tokens)
    with store.locked():  # a refresh in another process must not write old tokens over these
        store.save(record)
    path = paths.auth_file()
    facts = claims.account(record["access_token"], record.get("id_token"))
    who = f" as {facts.email}" if facts.email else ""
    plan = f"plan {facts.plan}, " if facts.plan else ""
    _say(
        f"Signed in with ChatGPT{who} ({plan}account {record['account_id']}).\n"
        f"Saved to {path}; pixir refreshes the sign-in by itself."
    )
    return {
        "kind": "subscription",
        "account_id": record["account_id"],
        "plan": facts.plan,
        "email": facts.email,
        "expires_at": oauth.iso_utc(record["expires_at"] / 1000),
        "path": str(path),
    }


def _stored_kind() -> str | None:
    try:
        stored = store.load()
    except PixirError:  # a corrupt file is about to be replaced anyway
        return None
    return stored["kind"] if stored else None


def _say(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()
