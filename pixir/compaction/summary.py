"""The summary that replaces the older part of a History: one model call with no tools, a
fixed instruction and a strict JSON schema, rendered as text; or, when that call fails for
any reason, a summary pixir writes from the record itself (docs/compaction.md)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pixir.compaction.cut import Compactor, Cut
from pixir.errors import PixirError
from pixir.history import History
from pixir.items import message_text, reasoning_summary, user_message

if TYPE_CHECKING:
    from pixir.provider.assemble import Result
    from pixir.turn import Provider

# The fixed summarising instruction. It opens the one user message of the summary call, so a
# test (or a log reader) can recognise that call by it.
SUMMARY_INSTRUCTION = (
    "Summarise the transcript below for a handoff. It is the older part of a coding session "
    "that is still in progress; it is about to be replaced by your summary, so the agent that "
    "continues the work will see only your summary and the most recent messages. Keep what "
    "that agent needs: the user's goal and requirements (in their words where it matters), "
    "what has been done and found so far, decisions taken and why, the files created, changed "
    "or examined, errors still open, and the next steps. If the transcript starts with an "
    "earlier summary, fold all of its content into yours: nothing it records may be lost. Be "
    "specific and brief: names, paths, commands, values. Answer with JSON matching the schema."
)

_LIST = {"type": "array", "items": {"type": "string"}}
SUMMARY_SCHEMA = {
    "type": "object",
    "properties": {
        "goal": {"type": "string", "description": "what the user wants, with their constraints"},
        "progress": {**_LIST, "description": "what has been done and found, in order"},
        "decisions": {**_LIST, "description": "choices made and why"},
        "files_touched": {**_LIST, "description": "paths created, changed or examined"},
        "next_steps": {**_LIST, "description": "what remains to do, most urgent first"},
    },
    "required": ["goal", "progress", "decisions", "files_touched", "next_steps"],
    "additionalProperties": False,
}

# How much of each entry the summariser sees: enough for the gist, never a whole file.
CLIP = {"user": 4000, "assistant": 3000, "reasoning": 1000, "arguments": 1000, "output": 2000}
FILE_TOOLS = ("read", "write", "edit")
FAILED_OUTPUT = ('{"ok": false', '{"ok":false')  # how a failed tool result's output starts


def clip(text: str, limit: int) -> str:
    """At most ~`limit` characters: head and tail, with a note of what was cut between."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[… {len(text) - 2 * half} characters cut …]\n{text[-half:]}"


def _argument(call: dict, key: str):
    """One argument of a function call item; None when its arguments are not a JSON object."""
    try:
        return json.loads(call.get("arguments") or "{}").get(key)
    except (ValueError, AttributeError):
        return None


def transcript_entries(items: list[dict], previous: dict | None) -> list[str]:
    """The replaced items as short labelled entries for the summariser: tool outputs and big
    arguments clipped, encrypted reasoning reduced to its readable summary."""
    entries: list[str] = []
    names: dict[str, str] = {}
    for index, item in enumerate(items):
        kind, role = item.get("type"), item.get("role")
        if index == 0 and previous is not None:
            entries.append("[earlier summary]\n" + str(previous.get("summary", "")))
        elif role == "user":
            entries.append("[user]\n" + clip(message_text(item), CLIP["user"]))
        elif role == "assistant":
            entries.append("[assistant]\n" + clip(message_text(item), CLIP["assistant"]))
        elif kind == "reasoning":
            text = " ".join(reasoning_summary(item))
            if text.strip():
                entries.append("[assistant's reasoning]\n" + clip(text, CLIP["reasoning"]))
        elif kind == "function_call":
            names[item.get("call_id")] = item.get("name", "")
            arguments = clip(str(item.get("arguments", "")), CLIP["arguments"])
            entries.append(f"[tool call: {item.get('name')}] {arguments}")
        elif kind == "function_call_output":
            output = item.get("output")
            output = output if isinstance(output, str) else json.dumps(output)
            name = names.get(item.get("call_id"), "tool")
            entries.append(f"[{name} result]\n" + clip(output, CLIP["output"]))
    return entries


def summary_input(entries: list[str], budget_chars: int) -> list[dict]:
    """The summary call's `input`: one user message, the instruction then the transcript.
    Over budget, the oldest entries go first (an earlier summary is always kept)."""
    head = [entries[0]] if entries and entries[0].startswith("[earlier summary]") else []
    rest = entries[len(head) :]
    room = budget_chars - len(SUMMARY_INSTRUCTION) - sum(len(e) + 2 for e in head)
    kept: list[str] = []
    for entry in reversed(rest):
        if len(entry) + 2 > room:
            break
        kept.append(entry)
        room -= len(entry) + 2
    kept.reverse()
    dropped = len(rest) - len(kept)
    note = [f"[… {dropped} earlier entries omitted to fit the context window …]"] if dropped else []
    body = "\n\n".join([*head, *note, *kept])
    text = f"{SUMMARY_INSTRUCTION}\n\n<transcript>\n{body}\n</transcript>"
    return [user_message(text)]


def parse_summary(text: str) -> dict | None:
    """The model's JSON summary, or None when it is not the object the schema asks for."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return None
    if not isinstance(value, dict) or not isinstance(value.get("goal"), str):
        return None
    out: dict = {"goal": value["goal"].strip()}
    for key in ("progress", "decisions", "files_touched", "next_steps"):
        entries = value.get(key, [])
        if isinstance(entries, str):
            entries = [entries]
        if not isinstance(entries, list):
            return None
        out[key] = [str(e).strip() for e in entries if str(e).strip()]
    if not out["goal"] and not out["progress"]:
        return None
    return out


def render_summary(fields: dict, files: list[str]) -> str:
    """The model's summary as the text the fold sends."""
    parts = [f"Goal: {fields['goal'] or '(not stated)'}"]
    for title, key in (("Progress", "progress"), ("Decisions", "decisions")):
        if fields[key]:
            parts.append(f"{title}:\n" + "\n".join(f"- {e}" for e in fields[key]))
    if files:
        parts.append("Files touched: " + ", ".join(files))
    if fields["next_steps"]:
        parts.append("Next steps:\n" + "\n".join(f"- {e}" for e in fields["next_steps"]))
    return "\n\n".join(parts)


def files_touched(items: list[dict], previous: dict | None = None) -> list[str]:
    """Paths given to read/write/edit in the replaced items, after those the earlier
    summary recorded, in first-seen order."""
    seen: dict[str, None] = dict.fromkeys((previous or {}).get("files_touched") or ())
    for item in items:
        if item.get("type") != "function_call" or item.get("name") not in FILE_TOOLS:
            continue
        path = _argument(item, "path")
        if isinstance(path, str) and path:
            seen.setdefault(path, None)
    return list(seen)


def fallback_summary(items: list[dict], cut: Cut, reason: str, files: list[str]) -> str:
    """A summary written from the record without the model: counts, the user's last
    requests, recent commands, the files touched, the last answer, and the earlier summary."""
    previous = cut.previous
    own = items[1:] if previous is not None else items  # the earlier summary comes last
    users = [message_text(i).strip() for i in own if i.get("role") == "user"]
    answers = [message_text(i).strip() for i in own if i.get("role") == "assistant"]
    calls = [i for i in own if i.get("type") == "function_call"]
    parts = [
        f"(Written by pixir from the session record, without the model: {reason}.)",
        _counts(own, cut.events, len(users), len(answers), calls),
        _listed("The user's most recent requests (oldest first):", _recent_requests(users)),
        _listed("Recent commands:", [clip(c, 200) for c in _commands(calls)[-8:]]),
        "Files touched: " + ", ".join(files) if files else "",
        "Last assistant message:\n" + clip(answers[-1], 1500) if answers else "",
    ]
    if previous is not None:
        parts.append("Earlier summary:\n" + clip(str(previous.get("summary", "")), 12000))
    return "\n\n".join(part for part in parts if part)


def _counts(items: list[dict], events: int, users: int, answers: int, calls: list[dict]) -> str:
    """What the range held, in one line: messages, tool calls by tool, failures."""
    outputs = (i for i in items if i.get("type") == "function_call_output")
    failed = sum(1 for o in outputs if str(o.get("output", "")).startswith(FAILED_OUTPUT))
    by_tool = Counter(str(c.get("name")) for c in calls)
    tools = ", ".join(f"{name} ×{count}" for name, count in by_tool.most_common())
    return (
        f"Replaced: {events} Log events — {users} user messages, {answers} assistant "
        f"messages, {len(calls)} tool calls"
        + (f" ({tools})" if tools else "")
        + (f", {failed} of them failed" if failed else "")
        + "."
    )


def _recent_requests(users: list[str]) -> list[str]:
    """The user's last three requests; the latest is likely the task in progress, so it
    gets the most room."""
    if not users:
        return []
    return [clip(u, 1000) for u in users[-3:-1]] + [clip(users[-1], 4000)]


def _commands(calls: list[dict]) -> list[str]:
    """The commands of the bash calls, in order, each on one line."""
    commands = (_argument(c, "command") for c in calls if c.get("name") == "bash")
    return [" ".join(c.split()) for c in commands if isinstance(c, str)]


def _listed(title: str, entries: list[str]) -> str:
    return title + "\n" + "\n".join(f"- {e}" for e in entries) if entries else ""


# -- the summary call --------------------------------------------------------------------------


@dataclass
class Summary:
    text: str
    strategy: str  # "model" | "deterministic"
    files: list[str]
    result: Result | None = None  # the summary call's Result, when the model wrote it
    fallback: dict | None = None  # {kind, message}: why the model did not


def summarise(
    history: History, cut: Cut, compactor: Compactor, provider: Provider | None
) -> Summary:
    """Ask the model for the summary; on any failure (no provider, an error, a truncated or
    malformed answer) write the deterministic one instead. Ctrl-C is not a failure."""
    items = history.items[: cut.replaced]
    files = files_touched(items, cut.previous)
    reason: dict
    if provider is None:
        reason = {"kind": "no_provider", "message": "no model call was possible"}
    else:
        entries = transcript_entries(items, cut.previous)
        body = compactor.summary_request(summary_input(entries, compactor.summary_budget()))
        try:
            result = provider.stream(body, None)
        except PixirError as err:
            reason = {"kind": err.kind, "message": err.message}
        else:
            fields = parse_summary(result.text)
            if result.finish_reason == "length":
                reason = {"kind": "incomplete", "message": "the summary was cut short"}
            elif fields is None:
                reason = {"kind": "invalid_summary", "message": "the summary was not valid JSON"}
            else:
                files = list(dict.fromkeys([*files, *fields["files_touched"]]))
                return Summary(render_summary(fields, files), "model", files, result)
    text = fallback_summary(items, cut, f"{reason['kind']}: {reason['message']}", files)
    return Summary(text, "deterministic", files, fallback=reason)
