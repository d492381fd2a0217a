"""`pixir log (<id>|--last) [--json]`: a session's transcript, readable, with times in the
local zone (or every event as JSON, times as written: UTC)."""

from __future__ import annotations

import json

from pixir import images
from pixir import session as sessions
from pixir.commands import local_time, print_json, sessions_root_for
from pixir.errors import PixirError
from pixir.items import reasoning_summary
from pixir.present import results
from pixir.present.human import search_line
from pixir.provider import websearch
from pixir.sanitize import terminal

OUTPUT_LINES = 8


def run(args) -> int:
    if bool(args.session_id) == bool(getattr(args, "last", False)):
        raise PixirError(
            "invalid_arguments",
            "log needs a session id or --last (not both)",
            hint="`pixir sessions` lists this workspace's sessions",
        )
    session_id, events = sessions.events_of(sessions_root_for(args), args.session_id)
    if args.json:
        print_json({"ok": True, "session_id": session_id, "events": events})
        return 0
    for line in transcript(events):  # text of the model, tools and user: made visible
        print(terminal(line))
    return 0


def transcript(events: list[dict]) -> list[str]:
    """Readable lines: who said what, which tools ran and how they ended."""
    lines: list[str] = []
    names: dict[str, str] = {}  # call_id → tool name
    for event in events:
        data, kind, ts = event["data"], event["type"], local_time(event.get("ts"))
        if kind == "session_started":
            lines.append(
                f"# session {event.get('session_id')} · {ts} · model {data.get('model')} · "
                f"{data.get('permission_mode')} · {data.get('workspace')}"
            )
        elif kind == "user_message":
            lines += ["", f"## user · {ts}", data.get("text", "")]
            pictures = data.get("images")
            lines += [
                f"[image: {images.describe(url)}]"
                for url in (pictures if isinstance(pictures, list) else ())
                if isinstance(url, str)
            ]
        elif kind == "assistant_message":
            label = " (partial)" if data.get("partial") else ""
            lines += ["", f"## assistant{label} · {ts}", data.get("text", "")]
        elif kind == "reasoning":
            summary = " ".join(reasoning_summary(data.get("item") or {})).strip()
            if summary:
                lines.append(f"  (reasoning) {summary}")
        elif kind == "web_search_call":
            item = data.get("item")
            shown = search_line(websearch.summary(item)) if isinstance(item, dict) else None
            if shown:
                lines.append(shown)
        elif kind == "tool_call":
            if isinstance(data.get("call_id"), str):
                names[data["call_id"]] = data.get("name")
            lines.append(f"› {data.get('name')} {_args(data.get('name'), data.get('args'))}")
        elif kind == "tool_result":
            call_id = data.get("call_id")
            lines += _result(data, names.get(call_id) if isinstance(call_id, str) else None)
        elif kind == "settings_changed":
            chosen = [
                f"{key.replace('_', ' ')} {data[key] if data[key] is not None else 'default'}"
                for key in ("model", "permission_mode", "reasoning_effort")
                if key in data
            ]
            if chosen:
                lines.append(f"  (settings · {ts}) " + ", ".join(chosen))
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


def _result(data: dict, name: str | None) -> list[str]:
    """The result's line (✓; ✗ for a failure and for a command that exited non-zero), then
    the start of its output — for a command that failed, the end, where the error is."""
    error = data.get("error") or {}
    if not data.get("ok"):
        out = [f"  ✗ {error.get('kind')}: {error.get('message')}"]
    else:
        mark = "✗" if results.failed(data) else "✓"
        out = [f"  {mark} {data.get('summary') or 'ok'}"]
    if name == "bash":
        text = results.output_lines(results.command_output(data))
    elif data.get("ok"):
        text = results.output_lines(str(data.get("output", "")))
    else:
        return out
    if results.failed(data):
        hidden, shown = results.tail(text, OUTPUT_LINES)
        if hidden:
            out.append(f"    … {results.count_note(hidden)} before")
        return out + [f"    {line}" for line in shown]
    shown, hidden = results.cap(text, OUTPUT_LINES)
    out += [f"    {line}" for line in shown]
    if hidden:
        out.append(f"    … {hidden} more lines")
    return out
