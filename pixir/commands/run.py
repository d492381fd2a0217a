"""`pixir PROMPT` (one Turn in a new session), `pixir resume <id>|--last [PROMPT]` and
`pixir -c PROMPT` (one Turn in an existing session)."""

from __future__ import annotations

import shlex
import sys

from pixir import interrupt
from pixir import session as sessions
from pixir.commands import settings_for, workspace_for
from pixir.errors import PixirError
from pixir.provider.models import resolve_model


def run(args) -> int:
    settings = settings_for(args)
    model = resolve_model(settings, allow_unknown=args.allow_unknown_model)
    workspace = workspace_for(args)
    resuming, ref, words = target(args)
    if getattr(args, "output_schema", None):
        raise PixirError("not_implemented", "--output-schema is not built yet in this version")
    prompt = read_prompt(words, args)
    # Everything that can fail before a model call is checked before a session exists.
    from pixir.auth.credential import resolve

    credential = resolve(settings, forced=args.auth)
    presenter = make_presenter(args)

    with interrupt.handling_sigint():
        session = open_session(settings, workspace, model, resuming, ref)
        try:
            outcome = run_turn(session, settings, credential, presenter, prompt)
        finally:
            session.close()
    resume_command = resume_hint(session.id, args)
    presenter.finish(
        outcome, session_id=session.id, model=session.model, resume_command=resume_command
    )
    if outcome.reason == "broken_pipe" or getattr(presenter, "closed", False):
        raise BrokenPipeError  # cli.main exits 141 quietly
    json_mode = getattr(args, "json", False) or getattr(args, "jsonl", False)
    if outcome.error is not None and not json_mode:
        from pixir.cli import report_error

        report_error(outcome.error, json_mode=False)
    if outcome.output is not None and getattr(args, "output_last_message", None):
        _write_answer(args.output_last_message, outcome.output)
    return outcome.exit_code


def open_session(settings, workspace, model: str, resuming: bool, ref: str | None):
    """A new session, or the one to resume (never with a wider permission mode)."""
    mode = settings.permission_default
    if not resuming:
        return sessions.create(
            workspace, model=model, transport=settings.transport, permission_mode=mode
        )
    explicit_model = settings.sources.get("model") in ("flag", "env")
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


def run_turn(session, settings, credential, presenter, prompt: str):
    """Build the Provider and the tools for this session and run one Turn."""
    from dataclasses import replace

    from pixir.compaction import compactor_for
    from pixir.provider.client import Provider
    from pixir.provider.request import build_body, developer_context_item, options_from_settings
    from pixir.tools.registry import ToolContext
    from pixir.turn import Turn

    options = options_from_settings(
        settings,
        model=session.model,
        session_id=session.id,
        credential_kind=credential.kind,
        workspace=session.workspace,
        prompt_cache_key=session.id,
    )
    # The session's mode, which a resume may have narrowed from the settings' one.
    options = replace(options, permission_mode=session.permission_mode)
    # The developer-context item (a walk up the tree for AGENTS.md files, ~0.3 ms) is the
    # same for every step of the process: build it once and put it first, as build_body
    # does when it is given the workspace.
    head = developer_context_item(options)
    bare = replace(options, workspace=None)
    provider = Provider(settings, credential, session_id=session.id)
    tools = ToolContext(
        workspace=session.workspace,
        bash_timeout_ms=settings.bash_timeout_ms,
        bash_timeout_max_ms=settings.bash_timeout_max_ms,
    )
    try:
        turn = Turn(
            session,
            provider,
            lambda items: build_body(bare, [head, *items]),
            tools,
            presenter,
            max_steps=settings.max_steps,
            ask=ask_on_terminal,
            compactor=compactor_for(settings, options),
        )
        return turn.run(prompt)
    finally:
        provider.close()


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


def read_prompt(words: list[str], args) -> str:
    """The prompt: the words, or stdin when there are none (or the prompt is `-`) and stdin
    is not a terminal."""
    use_stdin = words == ["-"] or (not words and not _stdin_is_tty())
    if use_stdin and not args.no_stdin:
        data = sys.stdin.buffer.read()
        prompt = data.decode("utf-8", "replace")
    else:
        prompt = " ".join(w for w in words if w != "-")
    if not prompt.strip():
        if not words and _stdin_is_tty():
            raise PixirError(
                "invalid_arguments",
                "no prompt given (the interactive mode is not built yet in this version)",
                hint='pass the task as an argument: pixir "fix the failing test"',
            )
        raise PixirError(
            "invalid_arguments",
            "the prompt is empty",
            hint='pass the task as an argument or on stdin: pixir "fix the failing test"',
        )
    return prompt


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


def ask_on_terminal(question: str) -> bool | None:
    """ask mode's y/N on the terminal; None when stdin/stderr is not a terminal."""
    if not (_stdin_is_tty() and sys.stderr.isatty()):
        return None
    sys.stderr.write(f"pixir: {question} [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline()
    return answer.strip().lower() in ("y", "yes")


def _stdin_is_tty() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except ValueError:
        return False


def _write_answer(path: str, text: str) -> None:
    try:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        raise PixirError(
            "invalid_arguments", f"cannot write {path}: {exc.strerror}", {"path": path}
        ) from None
