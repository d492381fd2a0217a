"""Compaction (SPEC §9): when a session outgrows the model's context window, the older part of
its History is replaced by a summary. The Log is never rewritten: a `history_compaction`
event names the seq range it replaces and carries the summary, and the fold (history.py)
sends one summary message in place of that range.

Four parts: accounting (how full the window is), cutting (where the History may be cut),
summarising (one model call with a strict JSON schema, or a deterministic fallback) and the
`Guard` a Turn consults before each call and on `context_overflow`. See docs/compaction.md.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace

from pixir.errors import PixirError
from pixir.history import SUMMARY_PREFIX, History, summary_item

CHARS_PER_TOKEN = 4  # SPEC §9: estimate tokens as characters / 4
OVERFLOW_RETRIES = 2  # a step that overflows is compacted and retried at most this often

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


# -- accounting ------------------------------------------------------------------------------


def tokens(chars: int) -> int:
    """Characters → estimated tokens (rounded up)."""
    return -(-chars // CHARS_PER_TOKEN)


def item_chars(item: dict) -> int:
    """Characters an input item puts in the context: its texts, arguments and outputs."""
    kind = item.get("type")
    if kind == "function_call":
        return len(item.get("name") or "") + len(item.get("arguments") or "")
    if kind == "function_call_output":
        output = item.get("output")
        return len(output) if isinstance(output, str) else len(json.dumps(output))
    if kind == "reasoning":
        parts = item.get("summary") or ()
        summary = sum(len(p.get("text") or "") for p in parts if isinstance(p, dict))
        return len(item.get("encrypted_content") or "") + summary
    content = item.get("content")
    if isinstance(content, str):
        return len(content)
    if isinstance(content, list):
        return sum(len(p.get("text") or "") for p in content if isinstance(p, dict))
    return len(json.dumps(item))


def body_tokens(body: dict) -> int:
    """Estimated tokens of a whole request (its compact JSON / 4): used when no call has
    measured the context yet in this process, or since the last compaction."""
    return tokens(len(json.dumps(body, separators=(",", ":"), ensure_ascii=False)))


# -- cutting ---------------------------------------------------------------------------------


@dataclass
class Cut:
    """Where a compaction cuts the History: it replaces the first `replaced` items, which
    came from the Log events `from_seq`..`to_seq`, and keeps the `kept` items after them."""

    from_seq: int
    to_seq: int
    replaced: int  # History items replaced
    kept: int  # History items kept verbatim after the summary
    tokens_before: int  # the whole request, estimated
    tokens_replaced: int
    tokens_kept: int
    previous: dict | None  # the history_compaction this one carries forward

    @property
    def events(self) -> int:
        """Log events in the range (every type, not only those the fold sends)."""
        return self.to_seq - self.from_seq + 1

    def to_dict(self) -> dict:
        return {
            "range": {"from_seq": self.from_seq, "to_seq": self.to_seq},
            "events": self.events,
            "items_replaced": self.replaced,
            "items_kept": self.kept,
            "tokens_before": self.tokens_before,
            "tokens_replaced": self.tokens_replaced,
            "tokens_kept": self.tokens_kept,
            "carries_summary": self.previous is not None,
        }


def cut_points(history: History) -> list[int]:
    """Indexes `i` where the History may be cut (items[:i] replaced, items[i:] kept): every
    call before `i` has its output before `i`, the item before `i` is not a reasoning item
    (it stays with the item it precedes), and every seq before `i` is below every seq from
    `i` on (so that a seq range names exactly the replaced items)."""
    items, seqs = history.items, history.seqs
    n = len(items)
    floor = [0] * (n + 1)  # floor[i] = min(seqs[i:])
    floor[n] = 1 << 62
    for i in range(n - 1, -1, -1):
        floor[i] = min(seqs[i], floor[i + 1])
    points: list[int] = []
    open_calls: set[str] = set()
    ceiling = -1
    for i, item in enumerate(items):
        kind = item.get("type")
        if kind == "function_call":
            open_calls.add(item.get("call_id"))
        elif kind == "function_call_output":
            open_calls.discard(item.get("call_id"))
        ceiling = max(ceiling, seqs[i])
        if open_calls or kind == "reasoning" or ceiling >= floor[i + 1]:
            continue
        if i + 1 == n and history.open_calls():
            continue  # calls still waiting for results (the fold closes them at the end)
        points.append(i + 1)
    return points


def previous_summary(history: History) -> dict | None:
    """The history_compaction whose summary opens the History, if any."""
    data = history.last_compaction
    if not data or not history.items:
        return None
    covered = data.get("range") or {}
    if history.seqs[0] != covered.get("from_seq"):
        return None
    first = history.items[0]
    texts = first.get("content") if first.get("role") == "user" else None
    if not texts or not str(texts[0].get("text", "")).startswith(SUMMARY_PREFIX):
        return None
    return data


def find_cut(
    history: History,
    keep_tokens: int,
    *,
    tokens_before: int | None = None,
    last_seq: int | None = None,
) -> Cut | None:
    """Where to cut: at the earliest cut point that keeps at most `keep_tokens` of the most
    recent items verbatim (or, when no cut point is that late, at the latest one). None when
    that would replace nothing but an earlier summary. `last_seq` (the Log's last seq) ends
    the range when everything is replaced."""
    items, seqs = history.items, history.seqs
    points = cut_points(history)
    if not points:
        return None
    sizes = [item_chars(item) for item in items]
    suffix = [0] * (len(items) + 1)
    for i in range(len(items) - 1, -1, -1):
        suffix[i] = suffix[i + 1] + sizes[i]
    if tokens(suffix[0]) <= keep_tokens:
        return None  # the whole History is recent enough to keep
    at = next((i for i in points if tokens(suffix[i]) <= keep_tokens), points[-1])
    previous = previous_summary(history)
    if at == 1 and previous is not None:
        return None  # only the earlier summary: nothing new to fold in
    if at == len(items):
        to_seq = max(max(seqs), last_seq if last_seq is not None else -1)
    else:
        to_seq = seqs[at] - 1
    if tokens_before is None:
        tokens_before = tokens(suffix[0])
    return Cut(
        from_seq=min(seqs[:at]),
        to_seq=to_seq,
        replaced=at,
        kept=len(items) - at,
        tokens_before=tokens_before,
        tokens_replaced=tokens(suffix[0] - suffix[at]),
        tokens_kept=tokens(suffix[at]),
        previous=previous,
    )


# -- summarising -----------------------------------------------------------------------------


def clip(text: str, limit: int) -> str:
    """At most ~`limit` characters: head and tail, with a note of what was cut between."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[… {len(text) - 2 * half} characters cut …]\n{text[-half:]}"


def _text(item: dict) -> str:
    content = item.get("content")
    if isinstance(content, str):
        return content
    return "".join(str(p.get("text") or "") for p in content or () if isinstance(p, dict))


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
            entries.append("[user]\n" + clip(_text(item), CLIP["user"]))
        elif role == "assistant":
            entries.append("[assistant]\n" + clip(_text(item), CLIP["assistant"]))
        elif kind == "reasoning":
            parts = item.get("summary") or ()
            text = " ".join(str(p.get("text") or "") for p in parts if isinstance(p, dict))
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
    return [{"role": "user", "content": [{"type": "input_text", "text": text}]}]


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
        try:
            path = json.loads(item.get("arguments") or "{}").get("path")
        except (ValueError, AttributeError):
            continue
        if isinstance(path, str) and path:
            seen.setdefault(path, None)
    return list(seen)


def fallback_summary(items: list[dict], cut: Cut, reason: str, files: list[str]) -> str:
    """A summary written from the record without the model: counts, the files touched, the
    user's last requests, the last answer, recent commands, and the earlier summary."""
    previous = cut.previous
    own = items[1:] if previous is not None else items
    users = [_text(i) for i in own if i.get("role") == "user"]
    answers = [_text(i) for i in own if i.get("role") == "assistant"]
    calls = [i for i in own if i.get("type") == "function_call"]
    outputs = [i for i in own if i.get("type") == "function_call_output"]
    failed = sum(1 for o in outputs if str(o.get("output", "")).startswith(FAILED_OUTPUT))
    by_tool = Counter(str(c.get("name")) for c in calls)
    tools = ", ".join(f"{name} ×{count}" for name, count in by_tool.most_common())
    parts = [
        f"(Written by pixir from the session record, without the model: {reason}.)",
        f"Replaced: {cut.events} Log events — {len(users)} user messages, "
        f"{len(answers)} assistant messages, {len(calls)} tool calls"
        + (f" ({tools})" if tools else "")
        + (f", {failed} of them failed" if failed else "")
        + ".",
    ]
    if users:
        # The latest request is likely the task in progress: it gets the most room.
        recent = [clip(u.strip(), 1000) for u in users[-3:-1]] + [clip(users[-1].strip(), 4000)]
        parts.append(
            "The user's most recent requests (oldest first):\n"
            + "\n".join(f"- {u}" for u in recent)
        )
    commands = []
    for call in calls:
        if call.get("name") == "bash":
            try:
                command = json.loads(call.get("arguments") or "{}").get("command")
            except (ValueError, AttributeError):
                command = None
            if isinstance(command, str):
                commands.append(" ".join(command.split()))
    if commands:
        parts.append("Recent commands:\n" + "\n".join(f"- {clip(c, 200)}" for c in commands[-8:]))
    if files:
        parts.append("Files touched: " + ", ".join(files))
    if answers:
        parts.append("Last assistant message:\n" + clip(answers[-1].strip(), 1500))
    if previous is not None:
        parts.append("Earlier summary:\n" + clip(str(previous.get("summary", "")), 12000))
    return "\n\n".join(parts)


# -- compacting --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Compactor:
    """A session's compaction settings and how to shape its summary call."""

    window: int
    auto: bool
    reserve_tokens: int
    keep_recent_tokens: int
    summary_request: Callable[[list[dict]], dict]  # input items → request body

    @property
    def threshold(self) -> int:
        """Compact before a call whose estimate exceeds this (window − reserve)."""
        return max(0, self.window - self.reserve_tokens)

    def keep_budget(self) -> int:
        """Tokens of recent History kept verbatim: `keep_recent_tokens`, but never more than
        half of window − reserve, or a small window would be compacted again every step."""
        return min(self.keep_recent_tokens, self.threshold // 2)

    def summary_budget(self) -> int:
        """Characters of transcript the summary call may carry: three quarters of what the
        window holds below the reserve, so that the summary call itself fits."""
        return max(8000, self.threshold * CHARS_PER_TOKEN * 3 // 4)


def compactor_for(settings, options) -> Compactor:
    """The Compactor of a session run with these Settings and RequestOptions."""
    from pixir import context
    from pixir.provider.models import context_window

    # No tools, no developer context: only the instruction and the transcript, and the
    # answer constrained to the summary schema.
    summary_options = replace(options, output_schema=SUMMARY_SCHEMA)
    bare = context.build(None, "auto", tools=())
    config = settings.compaction
    return Compactor(
        window=context_window(options.model, settings),
        auto=config.auto,
        reserve_tokens=config.reserve_tokens,
        keep_recent_tokens=config.keep_recent_tokens,
        summary_request=lambda items: bare.body(summary_options, items),
    )


@dataclass
class Summary:
    text: str
    strategy: str  # "model" | "deterministic"
    files: list[str]
    result: object = None  # the summary call's Result, when the model wrote it
    fallback: dict | None = None  # {kind, message}: why the model did not


def summarise(history: History, cut: Cut, compactor: Compactor, provider) -> Summary:
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
            fields = parse_summary(getattr(result, "text", "") or "")
            if getattr(result, "finish_reason", "stop") == "length":
                reason = {"kind": "incomplete", "message": "the summary was cut short"}
            elif fields is None:
                reason = {"kind": "invalid_summary", "message": "the summary was not valid JSON"}
            else:
                files = list(dict.fromkeys([*files, *fields["files_touched"]]))
                return Summary(render_summary(fields, files), "model", files, result)
    text = fallback_summary(items, cut, f"{reason['kind']}: {reason['message']}", files)
    return Summary(text, "deterministic", files, fallback=reason)


def event_data(cut: Cut, summary: Summary, trigger: str) -> dict:
    """The `history_compaction` event's data."""
    after = cut.tokens_before - cut.tokens_replaced + tokens(item_chars(_summary(summary)))
    data = {
        "range": {"from_seq": cut.from_seq, "to_seq": cut.to_seq},
        "summary": summary.text,
        "files_touched": summary.files,
        "strategy": summary.strategy,
        "trigger": trigger,
        "events": cut.events,
        "items_replaced": cut.replaced,
        "tokens_before": cut.tokens_before,
        "tokens_after": max(0, after),
    }
    if summary.fallback is not None:
        data["fallback"] = summary.fallback
    return data


def _summary(summary: Summary) -> dict:
    return summary_item(summary.text)


def notice(data: dict) -> dict:
    """The ephemeral `compaction` event's data (what presenters show)."""
    out = {
        key: data[key]
        for key in ("trigger", "strategy", "range", "events", "tokens_before", "tokens_after")
    }
    out["tokens_freed"] = max(0, data["tokens_before"] - data["tokens_after"])
    if "fallback" in data:
        out["fallback"] = data["fallback"]
    return out


def compact(
    session,
    cut: Cut,
    compactor: Compactor,
    provider,
    *,
    trigger: str,
    append: Callable[[str, dict], dict],
    record_usage: Callable[[object], None] | None = None,
) -> dict:
    """Summarise the cut's range and append the `history_compaction` event (after the
    summary call's `provider_usage`, through `record_usage`); returns the event's data."""
    summary = summarise(session.history, cut, compactor, provider)
    if summary.result is not None and record_usage is not None:
        record_usage(summary.result)
    data = event_data(cut, summary, trigger)
    append("history_compaction", data)
    session.sync()
    return data


# -- the Turn's guard --------------------------------------------------------------------------


class Guard:
    """Keeps a Turn's requests inside the context window: compacts before a call whose
    estimate passes window − reserve, and after a `context_overflow` (then the step is
    retried, at most OVERFLOW_RETRIES times).

    Accounting: the last call's `input_tokens` plus chars/4 of the items appended since; with
    no such measurement (a resumed session's first call, or right after a compaction) the
    whole request's chars/4."""

    def __init__(
        self,
        session,
        provider,
        compactor: Compactor,
        *,
        append: Callable[[str, dict], dict],
        ephemeral: Callable[[str, dict], None],
        record_usage: Callable[[object], None],
    ) -> None:
        self.session = session
        self.provider = provider
        self.compactor = compactor
        self.append = append
        self.ephemeral = ephemeral
        self.record_usage = record_usage
        self._measured: tuple[int, int] | None = None  # (input_tokens, len(items) then)

    def estimate(self, build_request: Callable[[list], dict]) -> int:
        """Tokens the next request would carry."""
        history = self.session.history
        if self._measured is not None:
            measured, mark = self._measured
            since = sum(item_chars(item) for item in history.items[mark:])
            return measured + tokens(since)
        return body_tokens(build_request(history.input_items()))

    def after_call(self, result) -> None:
        """Remember what this call measured (before its output items are appended)."""
        measured = (getattr(result, "usage_summary", None) or {}).get("input_tokens")
        if isinstance(measured, int) and measured > 0:
            self._measured = (measured, len(self.session.history.items))
        else:
            self._measured = None

    def before_call(self, build_request: Callable[[list], dict]) -> None:
        """Compact first when the next request would pass window − reserve."""
        if not self.compactor.auto:
            return
        estimate = self.estimate(build_request)
        if estimate <= self.compactor.threshold:
            return
        found = find_cut(
            self.session.history,
            self.compactor.keep_budget(),
            tokens_before=estimate,
            last_seq=self.session.log.next_seq - 1,
        )
        if found is not None:
            self._compact(found, "auto")

    def recover(self, err: PixirError, overflows: int, body: dict) -> None:
        """After the `overflows`-th context_overflow of a step: compact harder each time so
        that the retry fits, or raise the final error."""
        session_id = self.session.id
        if not self.compactor.auto or overflows > OVERFLOW_RETRIES:
            raise overflow_error(err, session_id, overflows - 1)
        failed = body_tokens(body)
        # The request that failed was too big whatever the configured window says: keep at
        # most half of it the first time, an eighth the second.
        keep = min(self.compactor.keep_budget(), failed // 2)
        keep >>= 2 * (overflows - 1)
        found = find_cut(
            self.session.history,
            keep,
            tokens_before=failed,
            last_seq=self.session.log.next_seq - 1,
        )
        if found is None:
            raise overflow_error(err, session_id, overflows - 1)
        self._compact(found, "overflow")

    def _compact(self, found: Cut, trigger: str) -> None:
        self.ephemeral("status", {"status": "compacting", "trigger": trigger})
        data = compact(
            self.session,
            found,
            self.compactor,
            self.provider,
            trigger=trigger,
            append=self.append,
            record_usage=self.record_usage,
        )
        self._measured = None  # the History changed shape: measure the next request whole
        self.ephemeral("compaction", notice(data))


def overflow_error(err: PixirError, session_id: str, compactions: int) -> PixirError:
    """The error a Turn ends with when compaction could not make the request fit."""
    details = dict(err.details)
    details["compactions"] = compactions
    plural = "s" if compactions != 1 else ""
    done = f" after {compactions} compaction{plural}" if compactions else ""
    return PixirError(
        "context_overflow",
        f"the conversation does not fit the model's context window{done}: {err.message}",
        details,
        hint=f"run `pixir compact {session_id}`, or use a model with a larger context window "
        "(config `context_windows`)",
    )
