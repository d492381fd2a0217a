"""`pixir log <id> [--json]`: a session's transcript, readable (or every event as JSON)."""

from __future__ import annotations

import json

from pixir import session as sessions
from pixir.commands import print_json, workspace_for
from pixir.present.human import search_line
from pixir.provider import websearch
from pixir.sanitize import terminal

OUTPUT_LINES = 8


def run(args) -> int:
    session_id, events = sessions.events_of(workspace_for(args), args.session_id)
    if args.json:
        print_json({"ok": True, "session_id": session_id, "events": events})
        return 0
    for line in transcript(events):  # text of the model, tools and user: made visible
        print(terminal(line))
    return 0


def transcript(events: list[dict]) -> list[str]:
    """Readable lines: who said what, which tools ran and how they ended."""
    lines: list[str] = []
    for event in events:
        data, kind, ts = event["data"], event["type"], event.get("ts", "")[:19].replace("T", " ")
        if kind == "session_started":
            lines.append(
                f"# session {event.get('session_id')} · {ts} UTC · model {data.get('model')} · "
                f"{data.get('permission_mode')} · {data.get('workspace')}"
            )
        elif kind == "user_message":
            lines += ["", f"## user · {ts}", data.get("text", "")]
        elif kind == "assistant_message":
            label = " (partial)" if data.get("partial") else ""
            lines += ["", f"## assistant{label} · {ts}", data.get("text", "")]
        elif kind == "reasoning":
            summary = _reasoning_summary(data.get("item") or {})
            if summary:
                lines.append(f"  (reasoning) {summary}")
        elif kind == "web_search_call":
            item = data.get("item")
            shown = search_line(websearch.summary(item)) if isinstance(item, dict) else None
            if shown:
                lines.append(shown)
        elif kind == "tool_call":
            lines.append(f"› {data.get('name')} {_args(data.get('name'), data.get('args'))}")
        elif kind == "tool_result":
            lines += _result(data)
        elif kind == "permission_decision":
            lines.append(f"  permission {data.get('decision')} ({data.get('mode')})")
        elif kind == "turn_failed":
            lines.append(f"  ✗ turn failed: {data.get('error_kind')}: {data.get('error_message')}")
        elif kind == "turn_interrupted":
            lines.append(f"  ✗ turn interrupted ({data.get('reason')})")
        elif kind == "history_compaction":
            covered = data.get("range") or {}
            lines += [
                "",
                f"## compaction · {ts} · events {covered.get('from_seq')}–{covered.get('to_seq')}"
                f" replaced by a summary ({data.get('strategy', '?')}, {data.get('trigger', '?')})",
                str(data.get("summary", "")),
            ]
    return lines


def _args(name: str | None, args) -> str:
    if not isinstance(args, dict):
        return ""
    if name == "bash":
        return str(args.get("command", ""))
    if "path" in args:
        return str(args["path"])
    return json.dumps(args, ensure_ascii=False)[:200]


def _result(data: dict) -> list[str]:
    if not data.get("ok"):
        error = data.get("error") or {}
        return [f"  ✗ {error.get('kind')}: {error.get('message')}"]
    out = [f"  ✓ {data.get('summary') or 'ok'}"]
    text = str(data.get("output", "")).rstrip("\n").split("\n")
    shown = text[:OUTPUT_LINES]
    out += [f"    {line}" for line in shown]
    if len(text) > OUTPUT_LINES:
        out.append(f"    … {len(text) - OUTPUT_LINES} more lines")
    return out


def _reasoning_summary(item: dict) -> str:
    parts = item.get("summary") or []
    return " ".join(p.get("text", "") for p in parts if isinstance(p, dict)).strip()
