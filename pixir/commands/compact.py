"""`pixir compact <id> [--dry-run] [--json]`: replace a session's older History by a summary now
(docs/compaction.md). `--dry-run` shows where it would cut and writes nothing: no lock, no
network."""

from __future__ import annotations

import sys

from pixir import sanitize
from pixir import session as sessions
from pixir.commands import print_json, sessions_root_for, settings_for, workspace_for
from pixir.compaction.guard import event_data
from pixir.compaction.summary import Summary, fallback_summary, files_touched
from pixir.errors import PixirError
from pixir.provider.models import resolve_model
from pixir.runner import Runner, compaction_cut, explicit_model, request_for


def run(args) -> int:
    settings = settings_for(args)
    workspace = workspace_for(args)
    model = resolve_model(settings, allow_unknown=args.allow_unknown_model)
    if args.dry_run:
        return _dry_run(args, settings, workspace, model)
    credential, why = _credential(settings, args.auth)
    store = sessions_root_for(args, workspace)
    runner = Runner(settings, credential, workspace, model, store=store)
    # Like a resume: the session's own model unless -m/PIXIR_MODEL names one.
    runner.resume(args.session_id)
    session = runner.session
    try:
        found = runner.compaction_cut()
        if found is None:
            return _nothing(args, session.id)
        if credential is None and not args.json:
            print(f"warning: {why}; the summary is written without the model", file=sys.stderr)
        data = runner.compact(found, trigger="manual")
    finally:
        runner.close()
    if args.json:
        print_json(
            {
                "ok": True,
                "session_id": session.id,
                "dry_run": False,
                "compacted": True,
                "cut": found.to_dict(),
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
    print(sanitize.for_stream(data["summary"], sys.stdout))
    return 0


def _dry_run(args, settings, workspace, model: str) -> int:
    peek = sessions.peek(
        sessions_root_for(args, workspace),
        args.session_id,
        model=model if explicit_model(settings) else None,
        permission_mode=settings.permission_default,
    )
    request = request_for(
        settings,
        model=peek.model,
        session_id=peek.id,
        workspace=peek.workspace,
        permission_mode=peek.permission_mode,
        credential_kind="subscription",
    )
    found = compaction_cut(settings, request, peek.history)
    if found is None:
        return _nothing(args, peek.id)
    # The summary's size is only known once written: estimate it with the fallback's.
    files = files_touched(peek.history.items[: found.replaced], found.previous)
    text = fallback_summary(peek.history.items[: found.replaced], found, "estimate", files)
    summary = Summary(text, "deterministic", files)
    after = event_data(found, summary, "manual")["tokens_after"]
    if args.json:
        cut = {**found.to_dict(), "tokens_after_estimate": after}
        print_json(
            {"ok": True, "session_id": peek.id, "dry_run": True, "compacted": False, "cut": cut}
        )
        return 0
    print(f"would compact session {peek.id} (dry run: nothing written)")
    replaced = f"{found.replaced} History items, ~{found.tokens_replaced} tokens"
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
