"""`pixir logout [--revoke]`: forget the stored credential on this machine (docs/auth.md).

Only the local auth.json goes: a server-side revoke would also sign out every other
machine that shares the account, so it is opt-in (`--revoke`).
"""

from __future__ import annotations

import os
import sys

from pixir import paths
from pixir.auth import oauth, store
from pixir.commands import print_json, settings_for
from pixir.errors import PixirError


def run(args) -> int:
    settings = settings_for(args)
    path = paths.auth_file()
    revoked = None
    if not path.exists():  # nothing to do: in particular, do not create the home
        if path.parent.is_dir():
            with store.locked():  # but a first login killed mid-save may have left tokens
                store.delete()  # (adopted as auth.json by the lock's sweep): gone too
        _report(path, False, None, None, args.revoke)
        if args.json:
            print_json(
                {"ok": True, "removed": False, "kind": None, "revoked": None, "path": str(path)}
            )
        return 0
    with store.locked():  # no refresh may write the file back while we remove it
        try:
            stored = store.load()
        except PixirError:
            stored = None  # a corrupt file is removed all the same, nothing to revoke
        if args.revoke and stored and stored["kind"] == "subscription":
            try:
                oauth.revoke(settings.auth_issuer, stored["refresh_token"])
                revoked = True
            except PixirError as err:
                store.delete()
                raise PixirError(
                    err.kind,
                    f"signed out on this machine, but the revoke failed: {err.message}",
                    err.details,
                    hint="the sign-in ends by itself when its tokens expire; "
                    "try `pixir logout --revoke` again later to end it now",
                ) from None
        existed = store.delete()
    kind = stored["kind"] if stored else None
    _report(path, existed, kind, revoked, args.revoke)
    if args.json:
        print_json(
            {"ok": True, "removed": existed, "kind": kind, "revoked": revoked, "path": str(path)}
        )
    return 0


def _report(path, existed: bool, kind: str | None, revoked: bool | None, asked: bool) -> None:
    lines = []
    if existed:
        lines.append(f"Signed out: removed {path}.")
    else:
        lines.append(f"Not signed in: there is no {path}.")
    if revoked:
        lines.append("The sign-in was also revoked at the issuer.")
    elif asked and kind == "api_key":
        lines.append("API keys are revoked at https://platform.openai.com/api-keys.")
    if os.environ.get("OPENAI_API_KEY"):
        lines.append("OPENAI_API_KEY is still set, so pixir will keep using it.")
    sys.stderr.write("\n".join(lines) + "\n")
