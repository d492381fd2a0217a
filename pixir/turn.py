"""One Turn (docs/log.md): append the user's message, then per step build the request from the
History, stream it, append `provider_usage` and the output items in arrival order (running
each tool call as it comes), until a call returns no function calls.

Every Event goes to `emit(event)`; canonical ones are appended to the Log (and folded into
the History) first. Ctrl-C, a closed stdout and provider errors all end the Turn with a
consistent Log: partial text kept as a partial message, no call left without a result.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from pixir.compaction.cut import Compactor
from pixir.compaction.guard import Guard
from pixir.errors import PixirError, exit_code_for
from pixir.history import ORPHAN_ERROR, ORPHAN_OUTPUT
from pixir.interrupt import Cancel, Cancelled, OutputClosed, signal_label, stopped_by
from pixir.items import message_text
from pixir.provider import websearch
from pixir.session import Session
from pixir.tools import permissions
from pixir.tools.registry import ToolContext, clean_after_kill, preview, run_tool
from pixir.tools.result import ToolInterrupted, ToolResult, failed

if TYPE_CHECKING:
    from typing import Protocol

    from pixir.provider.assemble import OnDelta, Result

    class Provider(Protocol):
        """What a Turn needs of the Provider (provider/client.py): one model call."""

        def stream(
            self,
            body: dict,
            on_delta: OnDelta | None = None,
            stop: Callable[[], bool] | None = None,
        ) -> Result: ...

        def abort(self) -> None: ...


Emit = Callable[[dict], None]
USAGE_KEYS = ("input_tokens", "cached_tokens", "output_tokens", "reasoning_tokens", "total_tokens")

_compact = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


@dataclass
class TurnOutcome:
    """How a Turn ended. `status`: completed | incomplete | interrupted | error | timed_out."""

    status: str
    output: str | None = None
    steps: int = 0
    usage: dict = field(default_factory=dict)
    error: PixirError | None = None
    # why an interrupted Turn stopped: "sigint" | "broken_pipe" | "cancelled"
    reason: str | None = None
    # hosted web search over the Turn: what each search did, and the sources cited
    web_searches: list[dict] = field(default_factory=list)
    citations: list[dict] = field(default_factory=list)

    @property
    def answered(self) -> bool:
        """Whether a model call of this Turn got a response (it counted tokens)."""
        return any(v for v in self.usage.values() if isinstance(v, int))

    @property
    def exit_code(self) -> int:
        if self.error is not None:
            return self.error.exit_code
        if self.status == "completed":
            return 0
        # without an error object the status is the kind (one table: errors.py)
        return exit_code_for(self.status)


def empty_usage() -> dict:
    return dict.fromkeys(USAGE_KEYS, 0)


class Turn:
    """Runs Turns of one open Session against one Provider.

    `build_request(input_items) -> body` shapes the request (provider.request.build_body with
    this session's options); `provider.stream(body, on_delta) -> Result` makes the call.
    """

    def __init__(
        self,
        session: Session,
        provider: Provider,
        build_request: Callable[[list], dict],
        tools: ToolContext,
        emit: Emit,
        *,
        max_steps: int = 256,
        ask: permissions.Asker | None = None,
        compactor: Compactor | None = None,
        approvals: permissions.Approvals | None = None,
    ) -> None:
        self.session = session
        self.provider = provider
        self.build_request = build_request
        self.tools = tools
        self.emit = emit
        self.max_steps = max_steps
        self.ask = ask
        # ask mode's "always" answers, for the session (the Runner keeps one per session)
        self.approvals = approvals if approvals is not None else permissions.Approvals()
        self._partial: list[str] = []  # text streamed by the call in flight
        self._cancel: Cancel | None = None  # the running Turn's stop request
        self._usage = empty_usage()
        self._steps = 0
        self._refusal = None  # the permission Decision that refused the last call
        self._searches: list[dict] = []
        self._citations: list[dict] = []
        self._ephemeral_head = {"session_id": session.id}
        # Without a compactor the History is sent whole and a context_overflow ends the Turn.
        self.guard = None
        if compactor is not None:
            self.guard = Guard(
                session,
                provider,
                compactor,
                append=self.append,
                ephemeral=self.ephemeral,
                record_usage=lambda result: self._record_usage(result, session.model, "compaction"),
            )

    # -- events ------------------------------------------------------------------------------

    def append(self, type_: str, data: dict) -> dict:
        event = self.session.append(type_, data)
        self.emit(event)
        return event

    def ephemeral(self, type_: str, data: dict) -> None:
        self.emit({"type": type_, **self._ephemeral_head, "data": data})

    def on_delta(self, delta: tuple) -> None:
        """The Provider's callback: streamed text/reasoning, and retries (a retry re-sends the
        whole request, so text streamed by the failed attempt is forgotten)."""
        if self._cancel is not None:
            self._cancel.check()
        kind, payload = delta
        if kind == "text":
            self._partial.append(payload)
            self.ephemeral("text_delta", {"chunk": payload})
        elif kind == "reasoning":
            self.ephemeral("reasoning_delta", {"chunk": payload})
        elif kind == "web_search":  # a hosted search started, progressed or finished
            self.ephemeral("web_search", dict(payload) if isinstance(payload, dict) else {})
        elif kind == "retry":
            self._partial.clear()
            info = payload if isinstance(payload, dict) else {}
            self.ephemeral(
                "retry",
                {
                    "attempt": info.get("attempt"),
                    "delay_s": info.get("delay_s"),
                    "error_kind": info.get("error_kind"),
                    "message": info.get("message"),
                },
            )

    # -- the Turn ----------------------------------------------------------------------------

    def run(
        self, prompt: str, cancel: Cancel | None = None, images: list[str] | tuple = ()
    ) -> TurnOutcome:
        """One Turn: never raises for provider errors, Ctrl-C, `cancel` set from another
        thread or a closed stdout; the outcome says how it ended. `images` (`data:` URLs)
        go with the prompt. The Log is fsynced before returning."""
        self._usage, self._steps, self._partial = empty_usage(), 0, []
        self._cancel = cancel
        if cancel is not None or self.tools.cancel is not None:
            self.tools = replace(self.tools, cancel=cancel)
        self._searches, self._citations = [], []
        if cancel is not None:
            # A model call blocked on the network (no event to check the stop at) is cut.
            cancel.on_set(self._abort_call)
        message: dict = {"text": prompt}
        if images:
            message["images"] = list(images)
        try:
            try:
                self.close_orphans()
                self.append("user_message", message)
                return self._loop()
            except (KeyboardInterrupt, OutputClosed, Cancelled) as stop:
                return self._interrupted(stop)
            except PixirError as err:
                if self._cancelled():  # what the stop broke is not the Turn's failure
                    return self._interrupted(Cancelled())
                return self._failed(err)
        finally:
            self._cancel = None
            self.session.sync()

    def _abort_call(self) -> None:
        self.provider.abort()

    def _cancelled(self) -> bool:
        return self._cancel is not None and self._cancel.is_set()

    def _check_cancel(self) -> None:
        if self._cancel is not None:
            self._cancel.check()

    def _loop(self) -> TurnOutcome:
        model = self.session.model
        while self._steps < self.max_steps:
            self._check_cancel()
            self._steps += 1
            self._partial = []
            self.ephemeral("status", {"status": "requesting", "step": self._steps})
            result = self._stream()
            self._record_usage(result, model)
            answer = self._output_items(result, model)
            self.session.sync()
            if answer is not None:
                return answer
        text = (
            f"Stopped after {self.max_steps} model calls (max_steps) before the task was "
            f"finished. Resume with `pixir resume {self.session.id}` to continue."
        )
        self.append("assistant_message", {"text": text, "finish_reason": "max_steps"})
        err = PixirError(
            "max_steps",
            f"stopped after {self.max_steps} model calls (max_steps)",
            {"max_steps": self.max_steps},
            hint=f"continue with `pixir resume {self.session.id}`, or raise --max-steps",
        )
        return TurnOutcome("incomplete", None, self._steps, self.usage(), err)

    def _stream(self):
        """The step's model call. With a compactor: compact first when the window is nearly
        full, and after a context_overflow compact and retry (the guard raises when it
        cannot make the request fit)."""
        guard = self.guard
        if guard is not None:
            guard.before_call(self.build_request)
        overflows = 0
        stop = self._cancel.is_set if self._cancel is not None else None
        while True:
            self._check_cancel()  # a compaction before this call may have taken a while
            body = self.build_request(self.session.history.input_items())
            try:
                result = self.provider.stream(body, self.on_delta, stop=stop)
            except PixirError as err:
                if guard is None or err.kind != "context_overflow":
                    raise
                overflows += 1
                self._partial = []
                guard.recover(err, overflows, body)
                continue
            if guard is not None:
                guard.after_call(result)
            return result

    def _record_usage(self, result: Result, model: str, purpose: str | None = None) -> None:
        for key in USAGE_KEYS:
            value = result.usage_summary.get(key)
            if isinstance(value, int):
                self._usage[key] += value
        self.append("provider_usage", usage_data(result, model, self._steps, purpose))

    def _output_items(self, result: Result, model: str) -> TurnOutcome | None:
        """Append the step's items in arrival order, running tool calls as they come. Returns
        the outcome when this step ends the Turn (no function calls, or a refusal in ask
        mode), else None."""
        calls = list(result.function_calls)
        # The Assembler makes one call per function_call item, in the same order: pair them
        # by position, never by call_id (two calls may share one).
        pending = iter(calls)
        self._searches.extend(result.web_searches)
        websearch.add_citations(self._citations, result.citations)
        for item in result.output_items:
            kind = item.get("type")
            if kind == "reasoning":
                self.append("reasoning", {"item": item, "model": model})
            elif kind == "web_search_call":
                self.append("web_search_call", {"item": item})
            elif kind == "function_call":
                call = next(pending, None)
                if call is not None and self._call(call):
                    return self._refused(call)
            elif kind == "message" and calls:
                text = message_text(item)
                if text:  # commentary before tool calls: part of the History, not the answer
                    self.append("assistant_message", {"text": text, "finish_reason": "tool_calls"})
        for call in pending:  # a call the output list did not show (defensive)
            if self._call(call):
                return self._refused(call)
        if calls:
            return None
        text = result.text
        finish = result.finish_reason
        self.append("assistant_message", {"text": text, "finish_reason": finish})
        status = "completed" if finish == "stop" else "incomplete"
        error = None
        if status == "incomplete":
            details = {"finish_reason": finish}
            if result.incomplete_reason:  # the backend's why: max_output_tokens, content_filter
                details["incomplete_reason"] = result.incomplete_reason
            error = PixirError(
                "incomplete", f"the model stopped before finishing its answer ({finish})", details
            )
        if self._searches and not self._citations:
            # a backend that cites only as Markdown links in the answer
            websearch.add_citations(self._citations, websearch.markdown_links(text))
        return TurnOutcome(
            status,
            text,
            self._steps,
            self.usage(),
            error,
            web_searches=self._searches,
            citations=self._citations,
        )

    def _call(self, call: dict) -> bool:
        """Log, check and run one tool call; True when a refusal must end the Turn."""
        call_id, name = call["call_id"], call.get("name", "")
        args = call.get("arguments")
        data = {"call_id": call_id, "name": name, "args": args}
        raw = call.get("raw_arguments")
        if isinstance(raw, str) and raw != _compact(args):
            data["arguments"] = raw  # replay the model's exact bytes (prompt cache)
        if self.session.history.has_call(call_id):
            # The same call_id twice (in one response, or again later): running it would run
            # a command twice, and a second output for one id is refused by the API. It is
            # recorded (marked, so the fold skips it) and refused; the first stands.
            data["duplicate"] = True
            self.append("tool_call", data)
            message = (
                f"call_id {call_id} was already used by an earlier call; this {name} call was "
                "not run. Give every call its own call_id"
            )
            self._result(call_id, failed("duplicate_call_id", message), duplicate=True)
            return False
        self.append("tool_call", data)
        problem = call.get("problem")
        if problem is None and not isinstance(args, dict):
            problem = {"kind": "invalid_arguments", "message": "arguments must be a JSON object"}
        if problem is not None:  # not valid JSON, not an object, over 1 MiB: not run
            self._result(call_id, failed(problem["kind"], problem["message"]))
            return False
        mode = self.session.permission_mode
        self._check_cancel()
        decision = permissions.check(
            mode,
            name,
            args,
            self.ask,
            confined=self.tools.commands_confined,
            approvals=self.approvals,
            preview=lambda: preview(name, args, self.tools),
        )
        self._check_cancel()  # a stop while the question was open: the call never ran
        if decision.decision != "allowed" or not decision.allowed:
            self.append(
                "permission_decision",
                {
                    "call_id": call_id,
                    "decision": decision.decision,
                    "mode": mode,
                    "tool": name,
                    "reason": decision.reason,
                    **({"asked": decision.asked} if mode == "ask" else {}),
                },
            )
        if not decision.allowed:
            self._result(call_id, failed("permission_denied", decision.reason))
            self._refusal = decision
            return decision.ends_turn
        if name == "bash":
            self._sandbox_notice()
        self.ephemeral("status", {"status": "running_tool", "tool": name, "call_id": call_id})
        try:
            result = run_tool(name, args, self.tools)
        except ToolInterrupted as stop:  # bash was killed: keep what it printed
            self._result(call_id, stop.result)
            raise
        self._result(call_id, result)
        if name == "bash":
            self._sandbox_notice()  # a command may find the sandbox must fall back
        return False

    def _sandbox_notice(self) -> None:
        """Before the first command of the process, and after a command that found out: say
        when commands are not confined as the settings ask (docs/sandbox.md)."""
        sandbox = self.tools.sandbox
        text = sandbox.notice_once() if sandbox is not None else None
        if text:
            self.ephemeral("notice", {"text": text})

    def _result(self, call_id: str, result: ToolResult, duplicate: bool = False) -> None:
        data = {"call_id": call_id, "ok": result.ok, "output": result.output}
        if result.exit_code is not None:
            data["exit_code"] = result.exit_code
        if result.error is not None:
            data["error"] = result.error
        if result.summary:
            data["summary"] = result.summary
        if duplicate:
            data["duplicate"] = True
        if result.diff:
            data["diff"] = result.diff
        self.append("tool_result", data)

    # -- endings -----------------------------------------------------------------------------

    def close_orphans(self, kind: str | None = None, message: str = "") -> None:
        """Give every call that has no result a real failed one (after a crash, or with
        `kind` "interrupted" after Ctrl-C), so the Log itself is paired from here on."""
        history = self.session.history
        for call_id, name in history.open_calls():
            if kind is None:  # exactly what the fold would have sent in its place
                # no result: its process was killed, maybe inside a write's temp file
                clean_after_kill(name, history.call_arguments(call_id), self.tools, time.time())
                error = dict(ORPHAN_ERROR)
                result = ToolResult(False, ORPHAN_OUTPUT, f"orphan_tool_call: {error['message']}")
                result.error = error
            else:
                result = failed(kind, message)
            self._result(call_id, result)

    def _keep_partial_text(self) -> None:
        text = "".join(self._partial)
        self._partial = []
        if text:
            self.append(
                "assistant_message", {"text": text, "partial": True, "finish_reason": "partial"}
            )

    def _refused(self, call: dict) -> TurnOutcome:
        name = call.get("name")
        if self._refusal is not None and self._refusal.unanswered:
            # nobody could answer: "answer y" would be no advice at all
            message = f"{name} needs approval in ask mode and there is no terminal to ask on"
            hint = (
                "run it on a terminal to answer, or without --ask (--read-only for an "
                "unattended run that must not change anything)"
            )
        else:
            message = f"{name} was refused in ask mode"
            hint = "answer y to allow it, or run without --ask"
        err = PixirError(
            "permission_denied",
            f"{message}; the Turn stops here",
            {"call_id": call["call_id"], "tool": name},
            hint=hint,
        )
        self.append("turn_failed", turn_failed_data(err))
        return TurnOutcome("error", None, self._steps, self.usage(), err)

    def _interrupted(self, stop: BaseException) -> TurnOutcome:
        if self._cancelled():
            reason = "cancelled"
            message = "cancelled by the user before it finished"
        else:
            reason = "broken_pipe" if isinstance(stop, OutputClosed) else stopped_by()[0]
            if reason in ("sigint", "broken_pipe"):
                message = "interrupted by the user (Ctrl-C) before it finished"
            else:
                message = f"pixir was stopped ({signal_label()}) before it finished"
        self._keep_partial_text()
        self.close_orphans("interrupted", message)
        self.append("turn_interrupted", {"reason": reason, "step": self._steps})
        return TurnOutcome("interrupted", None, self._steps, self.usage(), reason=reason)

    def _failed(self, err: PixirError) -> TurnOutcome:
        self._keep_partial_text()
        self.close_orphans()
        self.append("turn_failed", turn_failed_data(err))
        status = "timed_out" if err.kind == "stream_idle_timeout" else "error"
        return TurnOutcome(status, None, self._steps, self.usage(), err)

    def usage(self) -> dict:
        usage = dict(self._usage)
        inputs = usage["input_tokens"]
        usage["cache_hit_rate"] = round(usage["cached_tokens"] / inputs, 4) if inputs else None
        return usage


def usage_data(result: Result, model: str, step: int, purpose: str | None = None) -> dict:
    """The `provider_usage` event of one model call: the step's own (`purpose` None) or
    another made for the session, such as a compaction summary (docs/log.md)."""
    data = {
        "model": model,
        "step": step,
        "usage_summary": dict(result.usage_summary),
        "usage": result.usage,
        "response_id": result.response_id,
        "finish_reason": result.finish_reason,
    }
    data.update(result.transport)
    if result.rate_limits:
        data["rate_limits"] = result.rate_limits
    if result.tool_usage:
        data["tool_usage"] = result.tool_usage  # e.g. web_search.num_requests
    if purpose is not None:
        data["purpose"] = purpose
    return data


def turn_failed_data(err: PixirError) -> dict:
    return {"error_kind": err.kind, "error_message": err.message, "details": err.details}
