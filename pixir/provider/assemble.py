"""Responses events → one `Result` (docs/provider.md). Transport-neutral: SSE events and
WebSocket frames are the same dicts and go through the same `Assembler`."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from pixir.errors import PixirError
from pixir.items import message_text, reasoning_summary
from pixir.provider import websearch
from pixir.provider.classify import classify_event
from pixir.provider.usage import usage_summary
from pixir.sanitize import deep, needs_deep, surrogates

OnDelta = Callable[[tuple[str, object]], None]

TERMINAL_TYPES = ("response.completed", "response.incomplete", "response.failed", "error")
MAX_ARGUMENTS_BYTES = 1 << 20  # one call's arguments (docs/provider.md)
# Memory stays bounded whatever the server sends: past these, the stream is ended with
# `stream_too_large` (docs/reliability.md, "Memory"). Text is counted in characters.
MAX_TEXT_CHARS = 4 << 20  # the answer's text, and the reasoning's
# Arguments streamed for the response's calls, all together: past one call's 1 MiB a call
# is refused (its arguments are not kept); this ends a stream that would never stop.
MAX_STREAMED_ARGUMENTS_CHARS = 16 << 20
MAX_ITEMS = 4096  # output items of one response


@dataclass
class Result:
    """One finished model call. `output_items` holds every output item verbatim in arrival
    order (reasoning, function_call, message, hosted tools), ready to replay."""

    text: str = ""
    reasoning: str = ""
    output_items: list[dict] = field(default_factory=list)
    # {call_id, name, arguments: dict | None, raw_arguments: str, problem?: {kind, message}}
    function_calls: list[dict] = field(default_factory=list)
    finish_reason: str = "stop"  # "tool_calls" | "stop" | "length"
    status: str = "completed"  # "completed" | "incomplete"
    incomplete_reason: str | None = None
    truncated: bool = False
    response_id: str | None = None
    model: str | None = None
    usage: dict | None = None
    usage_summary: dict = field(default_factory=dict)
    transport: dict = field(default_factory=dict)  # transport metadata (docs/provider.md)
    rate_limits: dict | None = None
    # hosted web search: what each web_search_call did, and the url_citation annotations
    web_searches: list[dict] = field(default_factory=list)
    citations: list[dict] = field(default_factory=list)  # {url, title}, each url once
    tool_usage: dict | None = None  # the response's `tool_usage` (web_search.num_requests)


class Assembler:
    """`run(events)` applies a stream's events in arrival order up to the terminal one and
    returns the `Result`. In-stream errors raise the classified `PixirError`."""

    def __init__(self, on_delta: OnDelta | None = None, credential_kind: str | None = None):
        self.on_delta = on_delta
        self.credential_kind = credential_kind
        self.response_id: str | None = None
        self.model: str | None = None
        self.items: list[dict] = []
        self.calls: list[dict] = []
        self.text_deltas: list[str] = []
        self.reasoning_deltas: list[str] = []
        self.message_texts: list[str] = []
        self.done_message = False
        # text deltas since the last finished message: what a message done without content
        # stands for (some servers finish a message with no `content` after streaming it)
        self._unclaimed: list[str] = []
        self.text_size = self.reasoning_size = self.message_size = self.arguments_size = 0
        self.rate_limits: dict | None = None
        self.terminal: dict | None = None
        self.web_searches: list[dict] = []
        self.citations: list[dict] = []
        # event type → handler; a handler returns True for the terminal event
        self.handlers: dict[str, Callable[[dict], bool | None]] = {
            "response.output_text.delta": self._text_delta,
            "response.reasoning_summary_text.delta": self._reasoning_delta,
            "response.reasoning_text.delta": self._reasoning_delta,
            "response.reasoning_summary_part.added": self._reasoning_part,
            "response.function_call_arguments.delta": self._arguments_delta,
            "response.output_item.added": self._item_added,
            "response.output_item.done": self._item_done,
            "response.created": self._created,
            "response.in_progress": self._created,
            "response.completed": self._finished,
            "response.incomplete": self._finished,
            "response.failed": self._failed,
            "error": self._failed,
            "codex.rate_limits": self._rate_limits_event,
            "response.output_text.annotation.added": self._annotation,
            "response.web_search_call.in_progress": self._search_status,
            "response.web_search_call.searching": self._search_status,
            "response.web_search_call.completed": self._search_status,
        }

    @property
    def streamed_text(self) -> bool:
        """Whether any answer text reached `on_delta` (a retry must then be marked)."""
        return bool(self.text_deltas)

    def run(self, events: Iterable[dict]) -> Result:
        """Apply a whole stream, stopping at the first terminal event (the rest is never
        read); a stream that ends before one is `stream_incomplete`. Unknown types are
        ignored. This loop runs once per event of every model call."""
        handler_for = self.handlers.get
        for event in events:
            kind = event.get("type")
            handler = handler_for(kind) if type(kind) is str else None  # `"type": []` happens
            if handler is not None and handler(event):
                return self.result()
        raise stream_incomplete()

    def feed_headers(self, headers: Mapping[str, str]) -> None:
        """Rate-limit windows from `x-codex-primary-*` / `x-codex-secondary-*` headers."""
        limits = rate_limits_from_headers(headers)
        if limits:
            self.rate_limits = {**limits, **(self.rate_limits or {})}

    # -- deltas ------------------------------------------------------------------------------

    def _text_delta(self, event: dict) -> None:
        delta = event.get("delta")
        if isinstance(delta, str) and delta:
            self.text_size += len(delta)
            if self.text_size > MAX_TEXT_CHARS:
                raise too_large("answer text", self.text_size)
            self.text_deltas.append(delta)
            self._unclaimed.append(delta)
            if self.on_delta is not None:
                self.on_delta(("text", delta))

    def _reasoning_delta(self, event: dict) -> None:
        delta = event.get("delta")
        if isinstance(delta, str) and delta:
            self.reasoning_size += len(delta)
            if self.reasoning_size > MAX_TEXT_CHARS:
                raise too_large("reasoning text", self.reasoning_size)
            self.reasoning_deltas.append(delta)
            if self.on_delta is not None:
                self.on_delta(("reasoning", delta))

    def _arguments_delta(self, event: dict) -> None:
        # counted only: the arguments are taken from the finished item
        delta = event.get("delta")
        if isinstance(delta, str):
            self.arguments_size += len(delta)
            if self.arguments_size > MAX_STREAMED_ARGUMENTS_CHARS:
                raise too_large("function call arguments", self.arguments_size)

    def _separate(self, deltas: list[str], kind: str) -> None:
        # A new summary part or message starts a new paragraph, in the stream and the result.
        if deltas and not deltas[-1].endswith("\n\n"):
            deltas.append("\n\n")
            if self.on_delta is not None:
                self.on_delta((kind, "\n\n"))

    def _reasoning_part(self, event: dict) -> None:
        self._separate(self.reasoning_deltas, "reasoning")

    def _item_added(self, event: dict) -> None:
        item = event.get("item")
        if not isinstance(item, dict):
            return
        if item.get("type") == "message":
            self._separate(self.text_deltas, "text")
        elif item.get("type") == "web_search_call" and self.on_delta is not None:
            self.on_delta(("web_search", websearch.summary(item)))

    def _search_status(self, event: dict) -> None:
        # these events carry only the item's id: the status is in their type
        if self.on_delta is not None and isinstance(event.get("item_id"), str):
            status = event["type"].rsplit(".", 1)[-1]
            self.on_delta(("web_search", {"id": event["item_id"], "status": status}))

    def _annotation(self, event: dict) -> None:
        found = websearch.citation(event.get("annotation"))
        if found is not None:
            websearch.add_citations(self.citations, [found])

    # -- items -------------------------------------------------------------------------------

    def _item_done(self, event: dict) -> None:
        item = event.get("item")
        if not isinstance(item, dict):
            return
        kind = item.get("type")
        if kind == "function_call":
            self.calls.append(_function_call(item))
        elif kind == "message":
            self.done_message = True
            text = message_text(item)
            streamed, self._unclaimed = "".join(self._unclaimed), []
            if not text and streamed:
                # A finished message without content keeps what was streamed for it, in
                # the result and in the item replayed from the History.
                text = streamed
                item = {**item, "content": [{"type": "output_text", "text": text}]}
            if text:
                self.message_size += len(text)
                if self.message_size > MAX_TEXT_CHARS:
                    raise too_large("answer text", self.message_size)
                self.message_texts.append(text)
            websearch.add_citations(self.citations, _annotations(item))
        elif kind == "web_search_call":
            search = websearch.summary(item)
            self.web_searches.append(search)
            if self.on_delta is not None:
                self.on_delta(("web_search", search))
        if len(self.items) >= MAX_ITEMS:
            raise too_large("output items", len(self.items) + 1)
        self.items.append(item)

    # -- lifecycle ---------------------------------------------------------------------------

    def _created(self, event: dict) -> None:
        response = event.get("response")
        if isinstance(response, dict):
            self.response_id = response.get("id") or self.response_id
            self.model = response.get("model") or self.model

    def _finished(self, event: dict) -> bool:
        self._created(event)
        response = event.get("response")
        status = response.get("status") if isinstance(response, dict) else None
        if event.get("type") == "response.completed" and status == "failed":
            # a "completed" event that says the response failed is a failure
            raise classify_event({**event, "type": "response.failed"}, self.credential_kind)
        self.terminal = event
        return True

    def _failed(self, event: dict) -> bool:
        self._created(event)
        raise classify_event(event, self.credential_kind)

    def _rate_limits_event(self, event: dict) -> None:
        limits = event.get("rate_limits")
        limits = limits if isinstance(limits, dict) else {}
        found = {k: v for k, v in limits.items() if k in ("primary", "secondary")}
        if found:
            self.rate_limits = {**(self.rate_limits or {}), **found}
        if isinstance(event.get("plan_type"), str):
            self.rate_limits = {**(self.rate_limits or {}), "plan_type": event["plan_type"]}

    # -- the answer --------------------------------------------------------------------------

    def result(self) -> Result:
        """The assembled call; `stream_incomplete` before the terminal event."""
        if self.terminal is None:
            raise stream_incomplete()
        response = self.terminal.get("response")
        response = response if isinstance(response, dict) else {}
        usage = response.get("usage") if isinstance(response.get("usage"), dict) else None
        # `response.completed` with status `incomplete` is a truncated answer too
        incomplete = (
            self.terminal.get("type") == "response.incomplete"
            or response.get("status") == "incomplete"
        )
        reason = None
        if incomplete:
            details = response.get("incomplete_details")
            reason = details.get("reason") if isinstance(details, dict) else None
        # The done items are authoritative; deltas only stand in when no message finished.
        text = "\n\n".join(self.message_texts) if self.done_message else "".join(self.text_deltas)
        reasoning = "".join(self.reasoning_deltas).strip("\n") or _summary_text(self.items)
        if self.calls:
            finish = "tool_calls"
        elif incomplete:
            finish = "length"
        else:
            finish = "stop"
        return Result(
            text=text,
            reasoning=reasoning,
            output_items=self.items,
            function_calls=self.calls,
            finish_reason=finish,
            status="incomplete" if incomplete else "completed",
            incomplete_reason=reason,
            truncated=incomplete,
            response_id=self.response_id,
            model=self.model,
            usage=usage,
            usage_summary=usage_summary(usage),
            rate_limits=self.rate_limits,
            web_searches=self.web_searches,
            citations=self.citations,
            tool_usage=response.get("tool_usage")
            if isinstance(response.get("tool_usage"), dict)
            else None,
        )


def assemble(
    events: Iterable[dict],
    on_delta: OnDelta | None = None,
    headers: Mapping[str, str] | None = None,
    credential_kind: str | None = None,
) -> Result:
    """Run a whole event stream through an Assembler, stopping at the first terminal
    event; a stream that ends before one is `stream_incomplete`."""
    assembler = Assembler(on_delta, credential_kind)
    if headers:
        assembler.feed_headers(headers)
    return assembler.run(events)


def too_large(what: str, size: int) -> PixirError:
    limit = (
        MAX_ITEMS
        if what == "output items"
        else f"{MAX_STREAMED_ARGUMENTS_CHARS >> 20} Mi characters"
        if what == "function call arguments"
        else f"{MAX_TEXT_CHARS >> 20} Mi characters"
    )
    return PixirError(
        "stream_too_large",
        f"the response's {what} passed the limit ({size:,}, at most {limit}); the stream was ended",
        {"what": what, "size": size},
        retryable=False,
        hint="ask for a shorter answer, or for the output in smaller parts",
    )


def stream_incomplete(cause: str | None = None) -> PixirError:
    message = "the stream ended before the response was complete"
    return PixirError(
        "stream_incomplete",
        f"{message} ({cause})" if cause else message,
        {"cause": cause} if cause else {},
    )


def _annotations(item: dict) -> list[dict]:
    """The url_citation annotations of a finished message's parts."""
    found = []
    for part in item.get("content") if isinstance(item.get("content"), list) else ():
        annotations = part.get("annotations") if isinstance(part, dict) else None
        for annotation in annotations if isinstance(annotations, list) else ():
            cited = websearch.citation(annotation)
            if cited is not None:
                found.append(cited)
    return found


def _summary_text(items: list[dict]) -> str:
    parts = []
    for item in items:
        if item.get("type") == "reasoning":
            parts.extend(reasoning_summary(item))
    return "\n\n".join(parts)


def _function_call(item: dict) -> dict:
    """A call as the Turn needs it: `{call_id, name, arguments, raw_arguments}`. Arguments
    that are not a JSON object (an empty string counts as `{}`, which tools without
    parameters produce) or longer than 1 MiB are the model's mistake, not the stream's: the
    call comes with `arguments` None and a `problem` `{kind, message}`, which the Turn
    reports to the model as a failed tool result. Oversized arguments are not kept (nor in
    the output item): the Log and the next request carry `{}` in their place. A call
    without a name or call_id cannot be answered at all: `invalid_response`."""
    name, call_id, raw = item.get("name"), item.get("call_id"), item.get("arguments")
    if not isinstance(name, str) or not name or not isinstance(call_id, str) or not call_id:
        raise PixirError(
            "invalid_response",
            "the model returned a function call without a name or call_id",
            {"item_id": item.get("id")},
        )
    if isinstance(raw, dict):
        raw = json.dumps(raw, ensure_ascii=False)
    if not isinstance(raw, str):
        raw = ""
    call = {"call_id": call_id, "name": name, "arguments": None, "raw_arguments": raw}
    size = len(raw) if len(raw) * 4 <= MAX_ARGUMENTS_BYTES else len(raw.encode("utf-8", "replace"))
    if size > MAX_ARGUMENTS_BYTES:
        item["arguments"] = call["raw_arguments"] = "{}"  # 1 MiB+ is not worth keeping
        call["problem"] = {
            "kind": "arguments_too_large",
            "message": f"the arguments of this {name} call are {size:,} bytes, over the "
            f"{MAX_ARGUMENTS_BYTES >> 20} MiB limit; it was not run. Send the content in "
            "smaller pieces (write a part, then append the rest with edit or bash)",
        }
        return call
    try:
        arguments = json.loads(raw) if raw.strip() else {}
        if needs_deep(raw):  # an escaped lone surrogate in them: U+FFFD, as everywhere (a
            arguments = deep(arguments, surrogates)  # NUL is left for the tool to refuse)
    except RecursionError:
        call["problem"] = {
            "kind": "invalid_arguments",
            "message": "the arguments are nested too deeply; the call was not run",
        }
        return call
    except ValueError as exc:
        where = f" at line {exc.lineno} column {exc.colno}" if hasattr(exc, "lineno") else ""
        call["problem"] = {
            "kind": "invalid_arguments",
            "message": f"the arguments are not valid JSON ({getattr(exc, 'msg', exc)}{where}); "
            "the call was not run",
        }
        return call
    if not isinstance(arguments, dict):
        shape = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
        call["problem"] = {
            "kind": "invalid_arguments",
            "message": "the arguments must be a JSON object, not "
            f"{shape.get(type(arguments), 'a number')}; the call was not run",
        }
        return call
    call["arguments"] = arguments
    return call


def rate_limits_from_headers(headers: Mapping[str, str]) -> dict | None:
    """`x-codex-primary-used-percent: 25.0` → `{"primary": {"used_percent": 25.0}}`."""
    limits: dict[str, dict] = {}
    for name, value in headers.items():
        lower = name.lower()
        if not lower.startswith("x-codex-"):
            continue
        window, _, key = lower[8:].partition("-")
        if window in ("primary", "secondary") and key:
            limits.setdefault(window, {})[key.replace("-", "_")] = _number(value)
    return limits or None


def _number(value: str) -> float | int | str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return value
    return int(number) if number.is_integer() and "." not in str(value) else number
