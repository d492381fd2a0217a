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
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from pixir import context, images, interrupt, output_schema, prompt, sanitize
from pixir import session as sessions
from pixir.commands import sessions_root_for, settings_for, workspace_for
from pixir.errors import PixirError
from pixir.provider.models import resolve_model
from pixir.runner import Runner, settle

if TYPE_CHECKING:
    from typing import Protocol

    from pixir.turn import TurnOutcome

    class Presenter(Protocol):
        """What the command line needs of a presenter (present/human.py, machine.py):
        every Event as it happens, then the end of the Turn."""

        closed: bool  # stdout's reader went away

        def __call__(self, event: dict) -> None: ...

        def finish(
            self, outcome: TurnOutcome, *, session_id: str, model: str, resume_command: str
        ) -> None: ...


def run(args) -> int:
    settings = settings_for(args)
    model = resolve_model(settings, allow_unknown=args.allow_unknown_model)
    workspace = workspace_for(args)
    store = sessions_root_for(args, workspace)
    resuming, ref, words = target(args)
    if resuming:  # a session that is not there is said before asking for a prompt or a login
        ref = sessions.find(store, ref)
    schema = output_schema.load(getattr(args, "output_schema", None))
    answer_file = check_answer_file(getattr(args, "output_last_message", None))
    interactive = prompt.interactive_possible(words, args.no_stdin)
    pictures = images.load(args.images or [])  # checked before any session or sign-in
    if interactive and pictures:
        raise PixirError(
            "invalid_arguments",
            "-i/--image goes with a prompt given on the command line",
            hint='pixir -i screenshot.png "what is wrong on this page?"',
        )
    if interactive and machine_mode(args):
        raise PixirError(
            "invalid_arguments",
            "--json and --jsonl need a prompt (the interactive mode is for people)",
            hint='pass the task as an argument: pixir --json "review this diff"',
        )
    text = None
    if not interactive:
        example = prompt.EXAMPLE
        if resuming:  # the task goes after the session: a bare `pixir "…"` starts a new one
            example = resume_hint(ref or "--last", args) + ' "what next?"'
        text = prompt.read_prompt(words, no_stdin=args.no_stdin, example=example)
    from pixir.auth.credential import resolve

    credential = resolve(settings, forced=args.auth)
    runner = Runner(
        settings,
        credential,
        workspace,
        model,
        schema=schema,
        ask=ask_on_terminal,
        warn=warn,
        store=store,
    )
    post = partial(
        settle,
        schema=schema,
        schema_path=getattr(args, "output_schema", None),
        answer_file=answer_file,
    )
    if interactive:
        return interactive_mode(runner, args, post, resuming, ref)

    presenter = make_presenter(args)
    try:
        with interrupt.handling_sigint():
            if resuming:
                runner.resume(ref)
            else:
                runner.new()
                presenter(runner.started_event)
            note_agents(args, runner.agents_files())
            outcome = runner.turn(text, presenter, images=pictures)
    except interrupt.OutputClosed:  # stdout's reader left before the Turn began
        raise BrokenPipeError from None
    finally:
        runner.close()
    outcome = post(outcome)
    resume_command = resume_hint(runner.session_id, args)
    if outcome.error is not None and outcome.error.kind == "max_steps":
        # the Turn does not know the -C this command line was given
        outcome.error.hint = f"continue with `{resume_command}`, or raise --max-steps"
    presenter.finish(
        outcome,
        session_id=runner.session_id,
        model=runner.model,
        resume_command=resume_command,
        # a new session whose one Turn failed before any answer holds only its prompt:
        # "continue with" would be an untrue hint (run the command again instead)
        continuable=resuming or outcome.answered or outcome.status == "interrupted",
    )
    if outcome.reason == "broken_pipe" or presenter.closed:
        raise BrokenPipeError  # cli.main exits 141 quietly
    return outcome.exit_code


def machine_mode(args) -> bool:
    return bool(getattr(args, "json", False) or getattr(args, "jsonl", False))


def warn(line: str) -> None:
    print(f"warning: {line}", file=sys.stderr)


def note_agents(args, files) -> None:
    """Name the AGENTS.md files the session follows, once, on stderr (people only: not with
    -q, --json or --jsonl)."""
    if files and not (getattr(args, "quiet", False) or machine_mode(args)):
        print(sanitize.terminal(f"note: AGENTS.md in use: {', '.join(files)}"), file=sys.stderr)


def interactive_mode(runner: Runner, args, post, resuming: bool, ref) -> int:
    """The REPL: each line a Turn in one session (opened with the first line, or now when
    resuming, so a wrong id fails before the prompt appears)."""
    from pixir import paths
    from pixir.present import repl

    events = None
    if resuming:
        events = runner.resume(ref)
        note_agents(args, runner.agents_files())
    else:  # the session opens with the first line, in this workspace
        note_agents(args, context.agents_in_use(runner.workspace))
    host = ReplHost(runner, args, post, resumed=events)
    try:
        return repl.run(host, history_file=paths.history_file())
    finally:
        runner.close()


class ReplHost:
    """What the REPL asks of the agent: run a line as a Turn, switch model or session,
    report status."""

    def __init__(self, runner: Runner, args, post, resumed: list[dict] | None = None) -> None:
        self.runner = runner
        self.args = args
        self.post = post
        self.resumed = resumed  # the events a resume read, for the recap
        self.transport: str | None = None

    def turn(self, text: str):
        from pixir.present.human import HumanPresenter

        presenter = HumanPresenter(quiet=getattr(self.args, "quiet", False))
        try:
            with interrupt.handling_sigint():
                outcome = self.runner.turn(text, presenter)
            outcome = self.post(outcome)
            presenter.end_turn(outcome)
        finally:
            presenter.close()
        self.transport = presenter.transport or self.transport
        return outcome

    def new_session(self) -> None:
        self.runner.close()

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
        # the whole session, from its Log: Turns of earlier runs count too
        totals = runner.totals()
        tokens = (
            f"{totals['input_tokens']} in ({totals['cached_tokens']} cached), "
            f"{totals['output_tokens']} out, over {totals['turns']} Turn(s)"
        )
        workspace = runner.session.workspace if runner.session is not None else runner.workspace
        return [
            ("session", session or "none yet (starts with your next message)"),
            ("workspace", str(workspace)),
            ("model", runner.model),
            ("transport", transport),
            ("credential", runner.credential.kind),
            ("tokens", tokens),
        ]

    def recap(self) -> dict | None:
        """A resumed session's id, model, Turns, workspace (when not the current
        directory) and last exchange; None for a new session."""
        if self.resumed is None or self.runner.session is None:
            return None
        session = self.runner.session
        user, answer, ending = last_exchange(self.resumed)
        workspace = None if session.workspace == self.runner.workspace else session.workspace
        return {
            "id": session.id,
            "model": self.runner.model,
            "turns": self.runner.totals()["turns"],
            "workspace": str(workspace) if workspace else None,
            "user": user,
            "answer": answer,
            "ending": ending,
        }

    def footer(self) -> str | None:
        """The closing line: the session and the command that continues it."""
        if self.runner.session_id is None:
            return None
        sid = self.runner.session_id
        return f"session {sid} · continue with: {resume_hint(sid, self.args)}"


def last_exchange(events: list[dict]) -> tuple[str | None, str | None, str | None]:
    """(the last user message, the answer to it, how its Turn ended when there is none)."""
    user = answer = ending = None
    for event in events:
        kind, data = event["type"], event["data"]
        if kind == "user_message":
            user, answer, ending = str(data.get("text", "")), None, None
        elif kind == "assistant_message" and data.get("finish_reason") != "tool_calls":
            text = str(data.get("text") or "")
            answer = text + (" [cut short]" if data.get("partial") else "")
        elif kind == "turn_failed":
            ending = f"the Turn ended with {data.get('error_kind')}: {data.get('error_message')}"
        elif kind == "turn_interrupted":
            ending = "the Turn was interrupted"
    return user, answer, ending


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
    from pixir.fsutil import output_target

    try:  # through a symbolic link: its target is what gets written
        target_path, how = output_target(Path(path).expanduser())
    except ValueError as what:
        raise PixirError(
            "invalid_arguments",
            f"-o {path}: is {what}; the answer is written to a regular file (or into a "
            "character device or FIFO such as /dev/stdout)",
            {"path": path},
        ) from None
    if how == "into":  # /dev/null, /dev/stdout, a FIFO: written into, its folder untouched
        return target_path
    parent = target_path.parent
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


def make_presenter(args) -> Presenter:
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


def ask_on_terminal(question) -> bool | str | None:
    """ask mode on the terminal (present/ask.py): what the call will do, then y (once),
    a (always, this session), n (refuse, the Turn goes on) or q (refuse and stop the
    Turn). None when stdin or stderr is not a terminal: nobody can answer."""
    from pixir.present import ask
    from pixir.present.human import color_wanted
    from pixir.tools.permissions import ALWAYS, REFUSE

    if not (prompt.stdin_kind() == "tty" and sys.stderr.isatty()):
        return None
    err = sys.stderr
    err.write("\n".join(ask.lines(question, color=color_wanted(err))) + "\n")
    while True:
        err.write(ask.PROMPT)
        err.flush()
        typed = sys.stdin.readline()
        if not typed:  # the terminal closed: nobody left to say yes
            return False
        picked = ask.choice(typed)
        if picked is not None:
            return {"y": True, "a": ALWAYS, "n": REFUSE, "q": False}[picked]
        err.write(ask.AGAIN + "\n")
