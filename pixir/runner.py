"""The agent's front door, shared by every front end: the one-shot command line and the REPL
(commands/run.py), `pixir compact`, `pixir preview` (`request_for`) and the ACP server. A
`Runner` holds one open session with its Provider, tools and Turn; a process may hold many
(an editor's sessions, each in its own workspace) and run their Turns on worker threads.

Nothing here reads stdin, writes to the terminal or touches a signal handler: a Turn's Events
go to the `emit` callable it is given, permission questions to `ask`, warnings to `warn`.
Ctrl-C belongs to the command line (interrupt.handling_sigint around `turn`); another thread
stops a running Turn with `cancel()`. The API is described in docs/architecture.md.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from pixir import context, output_schema
from pixir import session as sessions
from pixir.config import WebSearch
from pixir.errors import PixirError
from pixir.interrupt import Cancel
from pixir.log import read_events
from pixir.tools.permissions import Approvals, Asker


@dataclass(frozen=True)
class Overrides:
    """Choices for one Turn that differ from the session's (an editor's prompt `_meta`).
    None keeps the session's own."""

    model: str | None = None
    reasoning_effort: str | None = None
    # the hosted web search: True on (with the configured object, or the defaults), False
    # off — ACP's `_meta.web_search`
    web_search: bool | None = None


def explicit_model(settings) -> bool:
    """Whether -m or PIXIR_MODEL chose the model: a resume then runs with it instead of the
    model the session was started with."""
    return explicit(settings, "model")


def explicit(settings, key: str) -> bool:
    """Whether a flag or the environment set `key` (it then wins over a session's choice)."""
    return settings.sources.get(key) in ("flag", "env")


def request_for(
    settings,
    *,
    model: str,
    session_id: str,
    workspace: Path,
    permission_mode: str,
    credential_kind: str,
    output_schema: dict | None = None,
) -> tuple:
    """(RequestOptions, context.Context): what a session's requests carry besides its
    History. The one place Settings become them, so that `pixir preview` shows exactly what
    a Turn sends. `permission_mode` is the session's, which a resume may have narrowed.
    The developer context names the sandbox its commands run in (docs/sandbox.md)."""
    from pixir.provider.request import options_from_settings
    from pixir.sandbox.policy import sandbox_for

    options = options_from_settings(
        settings,
        model=model,
        session_id=session_id,
        credential_kind=credential_kind,
        prompt_cache_key=session_id,
        output_schema=output_schema,
    )
    sandbox = sandbox_for(settings, permission_mode, workspace).for_model()
    return options, context.build(workspace, permission_mode, sandbox=sandbox)


class Runner:
    """One open session at a time, with its Provider, tools and Turn.

    `credential` None is allowed for what needs no model call (a compaction then writes its
    summary without the model). `schema` is --output-schema, sent as the structured output
    format. `ask` (a tools.permissions.Asker) answers ask mode's questions: True, ALWAYS,
    REFUSE, False, or None when nobody can answer (the call is refused); `warn(line)`
    receives what a person should be told.
    `store` is the directory whose `.pixir/sessions` holds the sessions (default: the
    workspace; the command line passes the repository root, commands.sessions_root_for)."""

    def __init__(
        self,
        settings,
        credential,
        workspace: Path,
        model: str,
        *,
        schema: dict | None = None,
        ask: Asker | None = None,
        warn: Callable[[str], None] | None = None,
        store: Path | None = None,
    ) -> None:
        self.settings = settings
        self.credential = credential
        self.workspace = workspace  # of new sessions; a resumed one works in its own
        self.store = store or workspace  # whose .pixir/sessions keeps the sessions
        self.model = model  # the session's model, or the one chosen for it
        self.model_explicit = explicit_model(settings)
        self.schema = schema
        self.ask = ask
        self.warn = warn or (lambda line: None)
        self.session: sessions.Session | None = None
        self.session_id: str | None = None  # of the session opened last (kept after close)
        self.started_event: dict | None = None  # a new session's session_started event
        self._provider = None
        self._turn = None
        self._options = None  # the session's RequestOptions
        self._framing = None  # the session's context.Context
        self._now = None  # the RequestOptions of the running Turn (its overrides applied)
        self._cancel: Cancel | None = None  # the running Turn's stop request
        # The session's reasoning effort (None: the server's default): the settings', or
        # the one chosen for the session (`choose`, kept in its Log) unless a flag says.
        self.reasoning_effort: str | None = settings.reasoning_effort
        self._stale = False  # a choice changed what the next Turn's requests carry
        # ask mode's "always" answers (tools.permissions.Approvals): for the open session
        self.approvals = Approvals()

    # -- sessions ------------------------------------------------------------------------------

    def new(self) -> None:
        """Start a new session (its `session_started` event is `started_event`)."""
        self.close()
        settings = self.settings
        self.session = sessions.create(
            self.workspace,
            model=self.model,
            transport=settings.transport,
            permission_mode=settings.permission_default,
            store=self.store,
        )
        self.session_id = self.session.id
        # Written before any presenter could see it; --jsonl shows it first, like every
        # other event of the Log.
        self.started_event = read_events(self.session.path)[0]

    def resume(self, ref: str | None) -> list[dict]:
        """Open an existing session (`ref` None: the latest) for writing, in the workspace
        it recorded, with the model chosen for it if any, never with a wider permission
        mode than it was started with. Returns the events read (as session.resume does).
        `session_busy` names the holder."""
        self.close()
        mode = self.settings.permission_default
        session, events = sessions.resume(
            self.store,
            ref,
            model=self.model if self.model_explicit else None,
            permission_mode=mode,
        )
        if session.permission_mode != mode and self.settings.sources.get("permission_default"):
            self.warn(
                f"session {session.id} was started in {session.permission_mode} mode; "
                f"resuming cannot widen it to {mode}"
            )
        recorded = session.started.get("workspace")
        if recorded and recorded != str(session.workspace):
            self.warn(
                f"session {session.id} worked in {recorded}, which is not there any more "
                f"or not inside {self.store}; it works in {session.workspace} now"
            )
        self.session, self.session_id, self.model = session, session.id, session.model
        self.started_event = None
        chosen = sessions.choices(events)
        if "reasoning_effort" in chosen and not explicit(self.settings, "reasoning_effort"):
            self.reasoning_effort = chosen["reasoning_effort"]
        return events

    def choose(self, **changes) -> None:
        """The user chose a `model`, `permission_mode` or `reasoning_effort` (None: the
        default) for the open session: recorded in its Log (`settings_changed`, so a resume
        keeps it) and used from the next Turn on — the permission mode by the running Turn's
        next tool call already. Safe while a Turn runs on another thread."""
        unknown = set(changes) - set(sessions.SETTINGS)
        if unknown:
            raise ValueError(f"not a session setting: {', '.join(sorted(unknown))}")
        session = self.session
        session.append("settings_changed", changes)
        if "model" in changes:
            self.model, self.model_explicit = changes["model"], True
        if "permission_mode" in changes:
            session.permission_mode = changes["permission_mode"]
            self._stale = True  # the developer context states the mode
        if "reasoning_effort" in changes:
            self.reasoning_effort = changes["reasoning_effort"]
            self._stale = True

    def use_credential(self, credential) -> None:
        """Use `credential` from the next Turn on (a sign-in or sign-out happened since this
        runner was made). Not while a Turn runs."""
        if credential == self.credential:
            return
        self.credential = credential
        if self._provider is not None:
            self._provider.close()
        self._provider = None
        self._turn = self._options = None  # built for the old credential's endpoint

    def switch_model(self, model: str) -> None:
        """Use `model` from the next Turn on (the open session's History is folded again
        for it, since encrypted reasoning is bound to its model). An open session records
        the choice in its Log (`choose`), so a resume keeps it; a session opened later
        starts with it."""
        if self.session is not None and model != self.session.model:
            self.choose(model=model)
        self.model, self.model_explicit = model, True
        self._use_model(model)

    def totals(self) -> dict:
        """The open session's Turns and tokens over its whole Log (earlier runs included):
        `turns`, `input_tokens`, `cached_tokens`, `output_tokens`; zeros when none is open."""
        if self.session is None:
            return sessions.totals(None)
        return sessions.totals(self.session.path)

    def close(self) -> None:
        """Release the Provider's connections and the session's lock. Idempotent."""
        if self._provider is not None:
            self._provider.close()
        if self.session is not None:
            self.session.close()
        self.session, self._turn, self._provider = None, None, None
        self._options = self._framing = self._now = None
        self.approvals = Approvals()  # "always" was said for that session only

    # -- Turns ---------------------------------------------------------------------------------

    def turn(
        self,
        text: str,
        emit: Callable[[dict], None],
        *,
        overrides: Overrides | None = None,
        cancel: Cancel | None = None,
        images: list[str] | tuple = (),
    ):
        """Run one Turn in the open session (a new one is started when none is open); its
        Events go to `emit`. `cancel` lets the caller make the stop request before the Turn
        starts; `cancel()` on this Runner sets the running one. `images` (`data:` URLs) go
        with the prompt. Returns the TurnOutcome."""
        if self.credential is None:
            raise PixirError(
                "not_authenticated",
                "a Turn needs a credential",
                hint="run `pixir login`, or set OPENAI_API_KEY",
            )
        if self.session is None:
            self.new()
        overrides = overrides or Overrides()
        if self._stale:
            self._stale = False
            self._turn = self._options = None
        self._use_model(overrides.model or self.model)
        turn = self._turn if self._turn is not None else self._make_turn()
        self._turn = turn
        self._now = self._options
        if overrides.reasoning_effort:
            self._now = replace(self._now, reasoning_effort=overrides.reasoning_effort)
        if overrides.web_search is not None:
            chosen = (self.settings.web_search or WebSearch()) if overrides.web_search else None
            self._now = replace(self._now, web_search=chosen)
        turn.emit, turn.ask = emit, self.ask
        stop = cancel if cancel is not None else Cancel()
        self._cancel = stop
        try:
            return turn.run(text, cancel=stop, images=images)
        finally:
            self._cancel = None

    def cancel(self) -> None:
        """Stop the running Turn, from any thread, as Ctrl-C would (the Log stays
        consistent; the outcome is `interrupted`, reason `cancelled`). No-op when idle."""
        stop = self._cancel
        if stop is not None:
            stop.set()

    def agents_files(self) -> tuple[str, ...]:
        """The AGENTS.md files the open session's requests carry (context.agents_in_use):
        for a front end to tell a person which instructions apply."""
        self._ensure_request()
        return self._framing.agents

    # -- compaction ----------------------------------------------------------------------------

    def compaction_cut(self):
        """Where a compaction of the open session would cut now (None: nothing to replace)."""
        self._ensure_request()
        session = self.session
        return compaction_cut(
            self.settings,
            (self._options, self._framing),
            session.history,
            last_seq=session.log.next_seq - 1,
        )

    def compact(self, found, *, trigger: str = "manual") -> dict:
        """Summarise `found` (a compaction cut) and append the `history_compaction` event;
        the summary is written by the model when there is a credential. Returns its data."""
        from pixir.compaction.guard import compact
        from pixir.turn import usage_data

        session = self.session
        return compact(
            session,
            found,
            self._compactor(),
            self._ensure_provider(),
            trigger=trigger,
            append=session.append,
            record_usage=lambda result: session.append(
                "provider_usage", usage_data(result, session.model, 0, "compaction")
            ),
        )

    # -- building ------------------------------------------------------------------------------

    def _use_model(self, model: str) -> None:
        session = self.session
        if session is not None and session.model != model:
            session.refold(model)
            self._turn = None  # its requests, window and compactor were for the old model
            self._options = None

    def _ensure_request(self) -> None:
        if self._options is None:
            session = self.session
            self._options, self._framing = request_for(
                self.settings,
                model=session.model,
                session_id=session.id,
                workspace=session.workspace,
                permission_mode=session.permission_mode,
                credential_kind=self.credential.kind if self.credential else "subscription",
                output_schema=self.schema,
            )
            if self._options.reasoning_effort != self.reasoning_effort:
                self._options = replace(self._options, reasoning_effort=self.reasoning_effort)

    def _ensure_provider(self):
        if self._provider is None and self.credential is not None:
            from pixir.provider.client import Provider

            self._provider = Provider(self.settings, self.credential, session_id=self.session.id)
        return self._provider

    def _compactor(self):
        from pixir.compaction.guard import compactor_for

        self._ensure_request()
        return compactor_for(self.settings, self._options)

    def _make_turn(self):
        from pixir.auth.credential import secret_values
        from pixir.sandbox.policy import sandbox_for
        from pixir.tools.registry import ToolContext
        from pixir.turn import Turn

        session = self.session
        self._ensure_request()
        credential = self.credential
        tools = ToolContext(
            workspace=session.workspace,
            bash_timeout_ms=self.settings.bash_timeout_ms,
            bash_timeout_max_ms=self.settings.bash_timeout_max_ms,
            secrets=lambda: secret_values(credential),
            sandbox=sandbox_for(self.settings, session.permission_mode, session.workspace),
        )
        return Turn(
            session,
            self._ensure_provider(),
            lambda items: self._framing.body(self._now or self._options, items),
            tools,
            lambda event: None,
            max_steps=self.settings.max_steps,
            ask=self.ask,
            compactor=self._compactor(),
            approvals=self.approvals,
        )


def compaction_cut(settings, request: tuple, history, last_seq: int | None = None):
    """Where a compaction would cut a History at the session's keep budget, with the request
    (`request_for`'s pair) estimated whole; None when there is nothing to compact."""
    from pixir.compaction.cut import body_tokens, find_cut
    from pixir.compaction.guard import compactor_for

    options, framing = request
    before = body_tokens(framing.body(options, history.input_items()))
    keep = compactor_for(settings, options).keep_budget()
    return find_cut(history, keep, tokens_before=before, last_seq=last_seq)


def settle(
    outcome,
    *,
    schema: dict | None = None,
    schema_path: str | None = None,
    answer_file: Path | None = None,
):
    """What happens to a Turn's outcome before it is shown: a stop (Ctrl-C, a closed stdout,
    a cancel) becomes the `interrupted` error, `--output-schema` is checked, `-o FILE` is
    written atomically. Returns the outcome, changed in place."""
    if outcome.status == "interrupted" and outcome.error is None:
        signalled = {"sigterm": ("terminated", "SIGTERM"), "sighup": ("hangup", "SIGHUP")}
        if outcome.reason in signalled:  # exit 143 / 129, as a shell reports them
            kind, name = signalled[outcome.reason]
            outcome.error = PixirError(kind, f"stopped by {name} before the Turn finished", {})
        else:
            reason = {"broken_pipe": "stdout was closed", "cancelled": "cancelled"}.get(
                outcome.reason, "Ctrl-C"
            )
            outcome.error = PixirError(
                "interrupted", f"interrupted ({reason}) before the Turn finished", {}
            )
    if schema is not None and outcome.status == "completed":
        problem = output_schema.mismatch(outcome.output, schema)
        if problem:
            outcome.status = "incomplete"
            outcome.error = output_schema.mismatch_error(problem, schema_path)
    if answer_file is not None and outcome.output is not None:
        try:
            from pixir.fsutil import write_output

            # through a link to its target; into /dev/null or a FIFO, never replacing them
            write_output(answer_file, outcome.output.encode("utf-8"))
        except (OSError, ValueError) as exc:
            why = str(exc) if isinstance(exc, ValueError) else exc.strerror or str(exc)
            if isinstance(exc, OSError) and exc.errno == errno.ENXIO:
                why = "a FIFO that nobody reads"
            outcome.status = "error"
            outcome.error = PixirError(
                "io_error",
                f"cannot write the answer to {answer_file}: {why}",
                {"path": str(answer_file)},
                hint="the answer is in the session: `pixir log` shows it",
            )
    return outcome
