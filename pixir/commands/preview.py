"""`pixir preview [PROMPT] [--json]`: the exact request the next call would send — URL,
header names (secret values redacted) and body — built by the same code as a real call.
No credential is needed and nothing touches the network."""

from __future__ import annotations

import json
import os
import sys

from pixir import debug, images, output_schema, sanitize
from pixir.commands import print_json, sessions_root_for, settings_for, workspace_for
from pixir.config import Settings
from pixir.errors import PixirError
from pixir.items import user_message
from pixir.log import new_session_id
from pixir.prompt import read_prompt
from pixir.provider.client import base_headers, endpoint
from pixir.provider.models import resolve_model
from pixir.runner import explicit_model, request_for


def run(args) -> int:
    settings = settings_for(args)
    workspace = workspace_for(args)
    model = resolve_model(settings, allow_unknown=args.allow_unknown_model)
    kind, credential, missing = credential_for_preview(settings, args.auth)
    history: list[dict] = []
    mode = settings.permission_default
    if getattr(args, "session", None):
        # The next call of `pixir resume ID`: the session's History folded from its Log (no
        # lock taken, nothing written), its recorded model unless -m/PIXIR_MODEL, and never
        # a wider permission mode than it was started with.
        from pixir import session as sessions

        peeked = sessions.peek(
            sessions_root_for(args, workspace),
            args.session,
            model=model if explicit_model(settings) else None,
            permission_mode=mode,
        )
        session_id, model, mode = peeked.id, peeked.model, peeked.permission_mode
        workspace = peeked.workspace
        history = peeked.history.input_items()
    else:
        session_id = new_session_id()
    options, framing = request_for(
        settings,
        model=model,
        session_id=session_id,
        workspace=workspace,
        permission_mode=mode,
        credential_kind=kind,
        output_schema=output_schema.load(args.output_schema),
    )
    prompt = prompt_text(args)
    pictures = images.load(getattr(args, "images", None) or [])
    asked = [user_message(prompt, pictures)] if prompt or pictures else []
    # images shown by their head only: megabytes of base64 tell a person nothing
    body = images.elide(framing.body(options, [*history, *asked]))
    url = endpoint(settings, kind)
    headers = preview_headers(settings, kind, session_id, credential)
    # --jsonl too: a preview has no Events, so its stream is the result object alone, and
    # `pixir preview` with a run's exact flags stays parseable (its errors are JSON anyway).
    if args.json or args.jsonl:
        print_json(
            {
                "ok": True,
                "method": "POST",
                "url": url,
                "credential_kind": kind,
                "credential_found": credential is not None,
                "transport": "http_sse",
                "headers": headers,
                "body": body,
            }
        )
        return 0
    out = [f"POST {url}"]
    out += [f"{name}: {value}" for name, value in headers.items()]
    out += ["", json.dumps(body, indent=2, ensure_ascii=False)]
    sys.stdout.write(sanitize.for_stream("\n".join(out), sys.stdout) + "\n")
    if missing is not None:  # what resolving said, so the advice fits --auth
        advice = f" ({missing.hint})" if missing.hint else ""
        print(f"note: showing a {kind} request; {missing.message}{advice}", file=sys.stderr)
    return 0


def credential_for_preview(settings: Settings, forced: str | None):
    """(kind, credential or None, why there is none). Reading the stored credential is
    local; when there is none the preview shows the request a `pixir login` would lead to."""
    from pixir.auth.credential import resolve

    try:
        credential = resolve(settings, forced=forced)
    except PixirError as err:
        fallback = forced or ("api_key" if os.environ.get("OPENAI_API_KEY") else "subscription")
        return fallback, None, err
    return credential.kind, credential, None


def preview_headers(settings: Settings, kind: str, session_id: str, credential) -> dict:
    """The headers a call sends, secrets redacted. The credential's headers are named from
    its kind, never computed: computing them could refresh a token over the network."""
    headers = base_headers(session_id)
    headers["Authorization"] = f"Bearer {debug.REDACTED}"
    if kind == "subscription":
        account = getattr(credential, "account_id", None)
        headers["chatgpt-account-id"] = account or "[account id]"
    else:
        if settings.openai_organization:
            headers["OpenAI-Organization"] = settings.openai_organization
        if settings.openai_project:
            headers["OpenAI-Project"] = settings.openai_project
    return headers


def prompt_text(args) -> str:
    """The prompt under the rules of `pixir PROMPT` (pixir/prompt.py); empty is allowed:
    the preview then shows the request without a new user message."""
    words = list(getattr(args, "prompt", None) or [])
    return read_prompt(words, no_stdin=getattr(args, "no_stdin", False), allow_empty=True)
