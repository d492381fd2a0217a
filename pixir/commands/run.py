"""`pixir PROMPT` (one Turn in a new session), `pixir resume <id>|--last [PROMPT]` and
`pixir -c PROMPT` (one Turn in an existing session) — or, with no prompt, no piped stdin and
a terminal, the interactive mode (pixir/present/repl.py) on the same machinery.

Everything that can fail before a model call (arguments, model, workspace, schema, answer
file, prompt, credential, session lock) is checked before the Turn, so such a failure is the
plain `{ok: false, error, exit_code}` of cli.main and leaves no Log behind.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from pixir import interrupt, output_schema, prompt
from pixir import session as sessions
from pixir.commands import settings_for, workspace_for
from pixir.errors import PixirError
from pixir.log import read_events
from pixir.provider.models import resolve_model


def run(args) -> int:
    settings = settings_for(args)
    model = resolve_model(settings, allow_unknown=args.allow_unknown_model)
    workspace = workspace_for(args)
    resuming, ref, words = target(args)
    if resuming:  # a session that is not there is said before asking for a prompt or a login
        ref = sessions.find(workspace, ref)
    schema = output_schema.load(getattr(args, "output_schema", None))
    answer_file = check_answer_file(getattr(args, "output_last_message", None))
    interactive = prompt.interactive_possible(words, args.no_stdin)
    if interactive and machine_mode(args):
        raise PixirError(
            "invalid_arguments",
            "--json and --jsonl need a prompt (the interactive mode is for people)",
            hint='pass the task as an argument: pixir --json "review this diff"',
        )
    text = None if interactive else prompt.read_prompt(words, no_stdin=args.no_stdin)
    from pixir.auth.credential import resolve

    credential = resolve(settings, forced=args.auth)
    runner = TurnRunner(settings, credential, workspace, model, schema=schema)
    post = After(schema, getattr(args, "output_schema", None), answer_file)
    if interactive:
        return interactive_mode(runner, args, post, resuming, ref)

    presenter = make_presenter(args)
    try:
        with interrupt.handling_sigint():
            runner.open(resuming, ref)
            if runner.started_event is not None:
                presenter(runner.started_event)
            outcome = runner.turn(text, presenter)
    except interrupt.OutputClosed:  # stdout's reader left before the Turn began
        raise BrokenPipeError from None
    finally:
        runner.close()
    outcome = post.settle(outcome)
    resume_command = resume_hint(runner.session_id, args)
    if outcome.error is not None and outcome.error.kind == "max_steps":
        # the Turn does not know the -C this command line was given
        outcome.error.hint = f"continue with `{resume_command}`, or raise --max-steps"
    presenter.finish(
        outcome,
        session_id=runner.session_id,
        model=runner.model,
        resume_command=resume_command,
    )
    if outcome.reason == "broken_pipe" or getattr(presenter, "closed", False):
        raise BrokenPipeError  # cli.main exits 141 quietly
    return outcome.exit_code


def machine_mode(args) -> bool:
    return bool(getattr(args, "json", False) or getattr(args, "jsonl", False))


class TurnRunner:
    """One open session at a time for this process, with its Provider, tools and Turn."""

    def __init__(
        self, settings, credential, workspace: Path, model: str, *, schema: dict | None = None
    ) -> None:
        self.settings = settings
        self.schema = schema  # --output-schema: sent as the structured output format
        self.credential = credential
        self.workspace = workspace
        self.model = model
        self.model_explicit = settings.sources.get("model") in ("flag", "env")
        self.session = None
        self.session_id: str | None = None
        self._turn = None
        self._provider = None
        self.started_event: dict | None = None

    def open(self, resuming: bool, ref: str | None) -> None:
        """Create a session, or open the one to resume (never with a wider permission mode)."""
        self.close()
        try:
            session = open_session(
                self.settings, self.workspace, self.model, resuming, ref, self.model_explicit
            )
        except PixirError as err:
            if err.kind == "session_busy":
                explain_busy(err)
            raise
        self.session, self.session_id, self.model = session, session.id, session.model
        # A new session's `session_started` was written before any presenter could see it;
        # --jsonl shows it first, like every other event of the Log.
        self.started_event = None if resuming else read_events(session.path)[0]

    def turn(self, text: str, presenter):
        """Run one Turn in the open session; its Events go to `presenter`."""
        if self._turn is None:
            self._turn = self._make_turn(presenter)
        self._turn.emit = presenter
        return self._turn.run(text)

    def switch_model(self, model: str) -> None:
        """Use `model` from the next Turn on (the open session is re-folded for it, since
        encrypted reasoning is bound to its model)."""
        self.model, self.model_explicit = model, True
        if self.session is not None and self.session.model != model:
            session_id = self.session_id
            self.open(True, session_id)

    def close(self) -> None:
        if self._provider is not None:
            self._provider.close()
        if self.session is not None:
            self.session.close()
        self.session, self._turn, self._provider = None, None, None

    def _make_turn(self, presenter):
        from pixir import context
        from pixir.auth.credential import secret_values
        from pixir.compaction import compactor_for
        from pixir.provider.client import Provider
        from pixir.provider.request import options_from_settings
        from pixir.tools.registry import ToolContext
        from pixir.turn import Turn

        session = self.session
        options = options_from_settings(
            self.settings,
            model=session.model,
            session_id=session.id,
            credential_kind=self.credential.kind,
            prompt_cache_key=session.id,
            output_schema=self.schema,
        )
        # The session's mode, which a resume may have narrowed from the settings' one; the
        # developer-context item is built once for every step of the process.
        framing = context.build(session.workspace, session.permission_mode)
        self._provider = Provider(self.settings, self.credential, session_id=session.id)
        tools = ToolContext(
            workspace=session.workspace,
            bash_timeout_ms=self.settings.bash_timeout_ms,
            bash_timeout_max_ms=self.settings.bash_timeout_max_ms,
            secrets=lambda: secret_values(self.credential),
        )
        return Turn(
            session,
            self._provider,
            lambda items: framing.body(options, items),
            tools,
            presenter,
            max_steps=self.settings.max_steps,
            ask=ask_on_terminal,
            compactor=compactor_for(self.settings, options),
        )


class After:
    """What happens to a Turn's outcome before it is shown: Ctrl-C becomes the
    `interrupted` error, `--output-schema` is checked, `-o FILE` is written."""

    def __init__(self, schema: dict | None, schema_path: str | None, answer_file: Path | None):
        self.schema = schema
        self.schema_path = schema_path
        self.answer_file = answer_file

    def settle(self, outcome):
        if outcome.status == "interrupted" and outcome.error is None:
            reason = "stdout was closed" if outcome.reason == "broken_pipe" else "Ctrl-C"
            outcome.error = PixirError(
                "interrupted", f"interrupted ({reason}) before the Turn finished", {}
            )
        if self.schema is not None and outcome.status == "completed":
            problem = output_schema.mismatch(outcome.output, self.schema)
            if problem:
                outcome.status = "incomplete"
                outcome.error = output_schema.mismatch_error(problem, self.schema_path)
        if self.answer_file is not None and outcome.output is not None:
            try:
                from pixir.fsutil import atomic_write

                atomic_write(self.answer_file, outcome.output.encode("utf-8"))
            except OSError as exc:
                outcome.status = "error"
                outcome.error = PixirError(
                    "io_error",
                    f"cannot write the answer to {self.answer_file}: {exc.strerror or exc}",
                    {"path": str(self.answer_file)},
                )
        return outcome


def open_session(
    settings, workspace, model: str, resuming: bool, ref: str | None, explicit_model: bool
):
    """A new session, or the one to resume (never with a wider permission mode)."""
    mode = settings.permission_default
    if not resuming:
        return sessions.create(
            workspace, model=model, transport=settings.transport, permission_mode=mode
        )
    session, _ = sessions.resume(
        workspace, ref, model=model if explicit_model else None, permission_mode=mode
    )
    if session.permission_mode != mode and settings.sources.get("permission_default"):
        print(
            f"warning: session {session.id} was started in {session.permission_mode} "
            f"mode; resuming cannot widen it to {mode}",
            file=sys.stderr,
        )
    return session


def interactive_mode(runner: TurnRunner, args, post: After, resuming: bool, ref) -> int:
    """The REPL: each line a Turn in one session (opened with the first line, or now when
    resuming, so a wrong id fails before the prompt appears)."""
    from pixir import paths
    from pixir.present import repl

    if resuming:
        runner.open(True, ref)
    host = ReplHost(runner, args, post)
    try:
        return repl.run(host, history_file=paths.history_file())
    finally:
        runner.close()


class ReplHost:
    """What the REPL asks of the agent: run a line as a Turn, switch model or session,
    report status."""

    def __init__(self, runner: TurnRunner, args, post: After) -> None:
        self.runner = runner
        self.args = args
        self.post = post
        self.usage: dict[str, int] = {}
        self.turns = 0
        self.transport: str | None = None

    def turn(self, text: str):
        from pixir.present.human import HumanPresenter

        presenter = HumanPresenter(quiet=getattr(self.args, "quiet", False))
        try:
            with interrupt.handling_sigint():
                if self.runner.session is None:
                    self.runner.open(False, None)
                outcome = self.runner.turn(text, presenter)
            outcome = self.post.settle(outcome)
            presenter.end_turn(outcome)
        finally:
            presenter.close()
        self.turns += 1
        self.transport = presenter.transport or self.transport
        for key, value in (outcome.usage or {}).items():
            if isinstance(value, int):
                self.usage[key] = self.usage.get(key, 0) + value
        return outcome

    def new_session(self) -> None:
        self.runner.close()
        self.usage, self.turns = {}, 0

    def set_model(self, model_id: str) -> str:
        from dataclasses import replace

        settings = replace(self.runner.settings, model=model_id)
        model = resolve_model(settings, allow_unknown=self.args.allow_unknown_model)
        self.runner.switch_model(model)
        return model

    @property
    def model(self) -> str:
        return self.runner.model

    def status(self) -> list[tuple[str, str]]:
        runner = self.runner
        session = runner.session_id if runner.session is not None else None
        transport = runner.settings.transport
        if self.transport:
            transport += f" (last call: {self.transport})"
        usage = self.usage
        tokens = (
            f"{usage.get('input_tokens', 0)} in ({usage.get('cached_tokens', 0)} cached), "
            f"{usage.get('output_tokens', 0)} out, over {self.turns} Turn(s)"
        )
        return [
            ("session", session or "none yet (starts with your next message)"),
            ("workspace", str(runner.workspace)),
            ("model", runner.model),
            ("transport", transport),
            ("credential", runner.credential.kind),
            ("tokens", tokens),
        ]

    def footer(self) -> str | None:
        """The closing line: the session and the command that continues it."""
        if self.runner.session_id is None:
            return None
        sid = self.runner.session_id
        return f"session {sid} · continue with: {resume_hint(sid, self.args)}"


def target(args) -> tuple[bool, str | None, list[str]]:
    """(resuming?, session reference or None for the latest, prompt words)."""
    if args.command == "resume":
        words = list(args.words)
        if args.last:
            return True, None, words
        if not words:
            raise PixirError(
                "invalid_arguments",
                "resume needs a session id or --last",
                hint="`pixir sessions` lists this workspace's sessions",
            )
        return True, words[0], words[1:]
    if getattr(args, "continue", False):
        return True, None, list(args.prompt)
    return False, None, list(args.prompt)


def check_answer_file(path: str | None) -> Path | None:
    """`-o FILE`, checked before the Turn: its directory must exist and be writable."""
    if not path:
        return None
    target_path = Path(path).expanduser()
    parent = target_path.parent
    if target_path.is_dir():
        raise PixirError("invalid_arguments", f"-o {path}: is a directory", {"path": path})
    if not parent.is_dir():
        raise PixirError(
            "invalid_arguments",
            f"-o {path}: no such directory {str(parent)!r}",
            {"path": path},
            hint="create the directory first, or pick another path",
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PixirError(
            "invalid_arguments",
            f"-o {path}: the directory {str(parent)!r} is not writable",
            {"path": path},
        )
    return target_path


def make_presenter(args):
    if getattr(args, "jsonl", False):
        from pixir.present.machine import JsonlPresenter

        return JsonlPresenter()
    if getattr(args, "json", False):
        from pixir.present.machine import JsonPresenter

        return JsonPresenter()
    from pixir.present.human import HumanPresenter

    return HumanPresenter(quiet=getattr(args, "quiet", False))


def resume_hint(session_id: str, args) -> str:
    command = f"pixir resume {session_id}"
    if getattr(args, "cd", None):
        command = f"pixir -C {shlex.quote(args.cd)} resume {session_id}"
    return command


def explain_busy(err: PixirError) -> None:
    """Name the process that holds a busy session's lock, when the system tells (Linux)."""
    path = err.details.get("path")
    pid = lock_holder(path) if path else None
    if pid is None:
        return
    err.details["pid"] = pid
    command = _command_line(pid)
    who = f"pid {pid}" + (f" ({command})" if command else "")
    err.hint = f"{who} is running it; wait for it to finish, or start a new session"


def lock_holder(path: str) -> int | None:
    """The pid holding a `flock` on `path`, from /proc/locks (None elsewhere or unknown)."""
    try:
        inode = os.stat(path).st_ino
        with open("/proc/locks", encoding="ascii", errors="replace") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 4242 08:01:1234567 0 EOF"; waiters have "->" first.
        if len(fields) < 6 or fields[1] != "FLOCK":
            continue
        try:
            if int(fields[5].rsplit(":", 1)[1]) == inode:
                return int(fields[4])
        except (IndexError, ValueError):
            continue
    return None


def _command_line(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            words = fh.read().split(b"\0")
    except OSError:
        return ""
    text = " ".join(w.decode("utf-8", "replace") for w in words if w)
    return text if len(text) <= 80 else text[:79] + "…"


def ask_on_terminal(question: str) -> bool | None:
    """ask mode's y/N on the terminal; None when stdin/stderr is not a terminal."""
    if not (prompt.stdin_kind() == "tty" and sys.stderr.isatty()):
        return None
    sys.stderr.write(f"pixir: {question} [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline()
    return answer.strip().lower() in ("y", "yes")
