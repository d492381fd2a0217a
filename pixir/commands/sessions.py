"""`pixir sessions [--json]`: this workspace's sessions, most recently active first."""

from __future__ import annotations

from pixir import session as sessions
from pixir.commands import local_time, print_json, sessions_root_for
from pixir.sanitize import terminal

EXCERPT = 60


def run(args) -> int:
    infos = sessions.list_sessions(sessions_root_for(args))
    if args.json:
        print_json({"ok": True, "sessions": [info.to_dict() for info in infos]})
        return 0
    if not infos:
        print('no sessions in this workspace yet — start one with `pixir "your task"`')
        return 0
    started = [_short(info.started) for info in infos]
    last = [_short(info.last_activity) for info in infos]
    width = max(len("LAST ACTIVITY"), *map(len, started), *map(len, last))
    head = f"{'ID':<22}  {'STARTED':<{width}}  {'LAST ACTIVITY':<{width}}  {'TURNS':>5}"
    print(f"{head}  FIRST PROMPT")
    for info, begun, latest in zip(infos, started, last, strict=True):
        prompt = terminal(" ".join(info.first_prompt.split()))
        if len(prompt) > EXCERPT:
            prompt = prompt[: EXCERPT - 1] + "…"
        print(f"{info.id:<22}  {begun:<{width}}  {latest:<{width}}  {info.turns:>5}  {prompt}")
    return 0


def _short(ts: str | None) -> str:
    """`2026-11-21T14:30:00.123456Z` → `2026-11-21 15:30 CET` (the local zone)."""
    return local_time(ts, seconds=False)
