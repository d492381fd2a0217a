"""Compacting a session: summarise a cut's range and append the `history_compaction` event;
and the `Guard` that keeps a Turn's requests inside the context window, compacting before a
call near the window and after a `context_overflow` (docs/compaction.md)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from pixir.compaction.cut import Compactor, Cut, body_tokens, find_cut, item_chars, tokens
from pixir.compaction.summary import SUMMARY_SCHEMA, Summary, summarise
from pixir.config import in_file
from pixir.errors import PixirError
from pixir.history import summary_item

if TYPE_CHECKING:
    from pixir.provider.assemble import Result
    from pixir.turn import Provider

OVERFLOW_RETRIES = 2  # a step that overflows is compacted and retried at most this often


def compactor_for(settings, options) -> Compactor:
    """The Compactor of a session run with these Settings and RequestOptions."""
    from pixir import context
    from pixir.provider.models import context_window

    # No tools, no developer context: only the instruction and the transcript, and the
    # answer constrained to the summary schema.
    summary_options = replace(options, output_schema=SUMMARY_SCHEMA, web_search=None)
    bare = context.build(None, "auto", tools=())
    config = settings.compaction
    return Compactor(
        window=context_window(options.model, settings),
        auto=config.auto,
        reserve_tokens=config.reserve_tokens,
        keep_recent_tokens=config.keep_recent_tokens,
        summary_request=lambda items: bare.body(summary_options, items),
    )


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
    provider: Provider | None,
    *,
    trigger: str,
    append: Callable[[str, dict], dict],
    record_usage: Callable[[Result], None] | None = None,
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
        provider: Provider,
        compactor: Compactor,
        *,
        append: Callable[[str, dict], dict],
        ephemeral: Callable[[str, dict], None],
        record_usage: Callable[[Result], None],
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

    def after_call(self, result: Result) -> None:
        """Remember what this call measured (before its output items are appended)."""
        measured = result.usage_summary.get("input_tokens")
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
        f"(or set its real window: {in_file('context_windows')})",
    )
