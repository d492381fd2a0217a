"""`pixir ping [--model M] [--json]`: one tiny streamed call without tools — the model,
the transport, the time to the first byte and in total, or the structured error."""

from __future__ import annotations

import sys
import time

from pixir import context
from pixir.commands import print_json, settings_for
from pixir.items import user_message
from pixir.log import new_session_id
from pixir.provider.models import resolve_model
from pixir.provider.request import RequestOptions
from pixir.sanitize import terminal

PROMPT = "Reply with the single word: pong"


def run(args) -> int:
    from pixir.auth.credential import resolve
    from pixir.provider.client import Provider

    settings = settings_for(args)
    model = resolve_model(settings, allow_unknown=args.allow_unknown_model)
    credential = resolve(settings, forced=args.auth)
    session_id = new_session_id()
    options = RequestOptions(
        model=model,
        session_id=session_id,
        credential_kind=credential.kind,
        reasoning_effort=settings.reasoning_effort or "low",
        reasoning_summary="none",
        text_verbosity=settings.text_verbosity,
    )
    # no developer context and no tools: the smallest call that exercises the path
    body = context.build(None, "auto", tools=()).body(options, [user_message(PROMPT)])
    provider = Provider(settings, credential, session_id)

    def on_delta(delta) -> None:
        kind, payload = delta
        if kind == "retry" and not args.json:
            print(
                f"retrying in {payload['delay_s']:g} s: {payload['error_kind']}: "
                f"{payload['message']}",
                file=sys.stderr,
            )

    provider.prepare()  # the time of `import requests` is start-up, not the call's
    started = time.monotonic()
    try:
        result = provider.stream(body, on_delta=on_delta)
    finally:
        provider.close()
    total_ms = round((time.monotonic() - started) * 1000, 1)
    meta = result.transport
    report = {
        "ok": True,
        "model": result.model or model,
        "transport": meta.get("active_transport"),
        "credential_kind": credential.kind,
        "first_byte_ms": meta.get("first_byte_ms"),
        "total_ms": total_ms,
        "attempts": meta.get("attempts"),
        "response_id": result.response_id,
        "reply": result.text,
        "usage": result.usage_summary,
    }
    if args.json:
        print_json(report)
        return 0
    rows = [
        ("model", report["model"]),
        ("transport", report["transport"]),
        ("credential", credential.kind),
        ("first byte", _ms(report["first_byte_ms"])),
        ("total", _ms(total_ms)),
        ("reply", " ".join(result.text.split())[:80] or "(empty)"),
    ]
    if report["attempts"] and report["attempts"] > 1:
        rows.append(("attempts", report["attempts"]))
    for name, value in rows:
        print(terminal(f"{name:<11} {value}"))
    return 0


def _ms(value: float | None) -> str:
    return "?" if value is None else f"{value:.0f} ms"
