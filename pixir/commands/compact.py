"""`pixir compact <id> [--dry-run] [--json]`: replace a session's older History by a summary
now (SPEC §9). `--dry-run` shows the plan and writes nothing: no lock, no network."""

from __future__ import annotations

import sys

from pixir import compaction
from pixir import session as sessions
from pixir.commands import print_json, settings_for, workspace_for
from pixir.errors import PixirError
from pixir.provider.models import resolve_model


def run(args) -> int:
    settings = settings_for(args)
    workspace = workspace_for(args)
    model = resolve_model(settings, allow_unknown=args.allow_unknown_model)
    # Like a resume: the session's own model unless -m/PIXIR_MODEL names one.
    explicit = model if settings.sources.get("model") in ("flag", "env") else None
    if args.dry_run:
        return _dry_run(args, settings, workspace, explicit)
    credential, why = _credential(settings, args.auth)
    session, _ = sessions.resume(
        workspace, args.session_id, model=explicit, permission_mode=settings.permission_default
    )
    provider = None
    try:
        kind = credential.kind if credential else "subscription"
        request = _options(settings, session, workspace, kind)
        compactor = compaction.compactor_for(settings, request[0])
        found = _plan(session.history, compactor, request, session.log.next_seq - 1)
        if found is None:
            return _nothing(args, session.id)
        if credential is not None:
            from pixir.provider.client import Provider

            provider = Provider(settings, credential, session_id=session.id)
        elif not args.json:
            print(f"warning: {why}; the summary is written without the model", file=sys.stderr)
        data = compaction.compact(
            session,
            found,
            compactor,
            provider,
            trigger="manual",
            append=session.append,
            record_usage=lambda result: session.append(
                "provider_usage", _usage_data(result, session.model)
            ),
        )
    finally:
        if provider is not None:
            provider.close()
        session.close()
    if args.json:
        print_json(
            {
                "ok": True,
                "session_id": session.id,
                "dry_run": False,
                "compacted": True,
                "plan": found.to_dict(),
                "compaction": data,
            }
        )
        return 0
    print(
        f"compacted session {session.id}: {_range(found)} → summary ({data['strategy']}), "
        f"~{data['tokens_before']} → ~{data['tokens_after']} tokens"
    )
    if data.get("fallback"):
        print(f"  (model summary failed: {data['fallback']['kind']})")
    print()
    print(data["summary"])
    return 0


def _dry_run(args, settings, workspace, explicit: str | None) -> int:
    peek = sessions.peek(
        workspace, args.session_id, model=explicit, permission_mode=settings.permission_default
    )
    request = _options(settings, peek, workspace, "subscription")
    found = _plan(peek.history, compaction.compactor_for(settings, request[0]), request, None)
    if found is None:
        return _nothing(args, peek.id)
    # The summary's size is only known once written: estimate it with the fallback's.
    files = compaction.files_touched(peek.history.items[: found.cut], found.previous)
    text = compaction.fallback_summary(peek.history.items[: found.cut], found, "estimate", files)
    summary = compaction.Summary(text, "deterministic", files)
    after = compaction.event_data(found, summary, "manual")["tokens_after"]
    if args.json:
        plan = {**found.to_dict(), "tokens_after_estimate": after}
        print_json(
            {"ok": True, "session_id": peek.id, "dry_run": True, "compacted": False, "plan": plan}
        )
        return 0
    print(f"would compact session {peek.id} (dry run: nothing written)")
    replaced = f"{found.cut} History items, ~{found.tokens_replaced} tokens"
    print(f"  replace   {_range(found)}, {replaced}")
    print(f"  keep      the last {found.kept} items verbatim, ~{found.tokens_kept} tokens")
    print(f"  request   ~{found.tokens_before} → ~{after} tokens (estimated)")
    if found.previous is not None:
        print("  carries   the earlier summary forward")
    return 0


def _credential(settings, forced: str | None):
    """(credential, None), or (None, why) when there is none: the summary then falls back
    to the deterministic one instead of failing the command."""
    from pixir.auth.credential import resolve

    try:
        return resolve(settings, forced=forced), None
    except PixirError as err:
        if err.kind not in ("not_authenticated", "corrupt_auth"):
            raise
        return None, f"{err.kind}: {err.message}"


def _options(settings, session, workspace, credential_kind: str):
    """(RequestOptions, Context) of the session's next request."""
    from pixir import context
    from pixir.provider.request import options_from_settings

    options = options_from_settings(
        settings,
        model=session.model,
        session_id=session.id,
        credential_kind=credential_kind,
        prompt_cache_key=session.id,
    )
    return options, context.build(workspace, session.permission_mode)


def _plan(history, compactor, request, last_seq: int | None):
    """The plan for the session's keep budget, with the request estimated whole."""
    options, framing = request
    before = compaction.body_tokens(framing.body(options, history.input_items()))
    keep = compactor.keep_budget()
    return compaction.plan(history, keep, tokens_before=before, last_seq=last_seq)


def _nothing(args, session_id: str) -> int:
    reason = "nothing to compact: the History already fits in the kept recent part"
    if args.json:
        print_json(
            {
                "ok": True,
                "session_id": session_id,
                "dry_run": bool(args.dry_run),
                "compacted": False,
                "reason": reason,
            }
        )
    else:
        print(f"session {session_id}: {reason}")
    return 0


def _range(found) -> str:
    return f"events {found.from_seq}–{found.to_seq} ({found.events} events)"


def _usage_data(result, model: str) -> dict:
    """The summary call's `provider_usage` (what a Turn records for its own calls)."""
    data = {
        "model": model,
        "step": 0,
        "usage_summary": dict(getattr(result, "usage_summary", None) or {}),
        "usage": getattr(result, "usage", None),
        "response_id": getattr(result, "response_id", None),
        "finish_reason": getattr(result, "finish_reason", None),
        "purpose": "compaction",
    }
    transport = getattr(result, "transport", None)
    if isinstance(transport, dict):
        data.update(transport)
    return data
