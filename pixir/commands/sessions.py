"""`pixir sessions [--json]`: this workspace's sessions, most recently active first."""

from __future__ import annotations

from pixir import session as sessions
from pixir.commands import print_json, workspace_for
from pixir.sanitize import terminal

EXCERPT = 60


def run(args) -> int:
    infos = sessions.list_sessions(workspace_for(args))
    if args.json:
        print_json({"ok": True, "sessions": [info.to_dict() for info in infos]})
        return 0
    if not infos:
        print('no sessions in this workspace yet — start one with `pixir "your task"`')
        return 0
    print(f"{'ID':<22}  {'STARTED':<16}  {'LAST ACTIVITY':<16}  {'TURNS':>5}  FIRST PROMPT")
    for info in infos:
        prompt = terminal(" ".join(info.first_prompt.split()))
        if len(prompt) > EXCERPT:
            prompt = prompt[: EXCERPT - 1] + "…"
        print(
            f"{info.id:<22}  {_short(info.started):<16}  {_short(info.last_activity):<16}  "
            f"{info.turns:>5}  {prompt}"
        )
    return 0


def _short(ts: str | None) -> str:
    """`2026-11-21T14:30:00.123456Z` → `2026-11-21 14:30` (UTC)."""
    return ts[:16].replace("T", " ") if ts else "-"
