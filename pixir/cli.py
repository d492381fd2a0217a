"""Argument parsing and dispatch only. Every failure leaves through `main`, which maps a
PixirError to its exit code in one place (errors.exit_code_for)."""

from __future__ import annotations

import importlib
import os
import sys

from pixir import __version__
from pixir.choices import CHOICES
from pixir.errors import PixirError

Option = tuple[tuple[str, ...], dict]

# Options that configure a model call; every command accepts them so flags work anywhere.
COMMON: list[Option] = [
    (("-C", "--cd"), {"metavar": "DIR", "help": "use DIR as the workspace (default: cwd)"}),
    (("--json",), {"action": "store_true", "help": "print one JSON object on stdout"}),
    (("-q", "--quiet"), {"action": "store_true", "help": "a Turn prints only its answer"}),
    (("-m", "--model"), {"metavar": "ID", "help": "model id (see `pixir models`)"}),
    (
        ("--allow-unknown-model",),
        {"action": "store_true", "help": "accept a model id outside the catalog"},
    ),
    (
        ("--auth",),
        {"choices": ("subscription", "api_key"), "help": "force a credential kind"},
    ),
    (
        ("--transport",),
        {"choices": CHOICES["transport"], "help": "wire transport (auto)"},
    ),
    (
        ("--reasoning-effort",),
        {
            "choices": CHOICES["reasoning_effort"],
            "metavar": "EFFORT",
            "help": "|".join(CHOICES["reasoning_effort"]) + " (default: the server's)",
        },
    ),
]

# Options of a Turn: `pixir PROMPT`, `resume`, and `preview` (which shows the same request).
TURN: list[Option] = [
    (("--read-only",), {"action": "store_true", "help": "refuse write/edit; bash can't write"}),
    (("--ask",), {"action": "store_true", "help": "ask before each write, edit or bash"}),
    (
        ("--sandbox",),
        {"choices": ("on", "off"), "help": "confine bash commands with Landlock (default: on)"},
    ),
    (("--max-steps",), {"type": int, "metavar": "N", "help": "stop after N model calls"}),
    (("--jsonl",), {"action": "store_true", "help": "stream every Event as a JSON line"}),
    (
        ("-o", "--output-last-message"),
        {"metavar": "FILE", "dest": "output_last_message", "help": "also write the answer"},
    ),
    (("--output-schema",), {"metavar": "FILE", "help": "JSON Schema the answer must match"}),
    (("--no-stdin",), {"action": "store_true", "help": "never read stdin"}),
    (("--web-search",), {"action": "store_true", "help": "let the model search the web"}),
]

PROMPT: Option = (("prompt",), {"nargs": "*", "metavar": "PROMPT", "help": "the task ('-': stdin)"})


class Command:
    # A plain class: a NamedTuple imports `typing` (~8 ms of start-up) and a dataclass
    # `dataclasses` (~10 ms), paid by every `pixir --version` (docs/performance.md).
    __slots__ = ("module", "options", "summary", "turn_options")

    def __init__(
        self,
        module: str,  # pixir.commands.<module> exposes run(args) -> int
        summary: str,
        options: list[Option] | None = None,
        turn_options: bool = False,
    ) -> None:
        self.module = module
        self.summary = summary
        self.options = options or []
        self.turn_options = turn_options


COMMANDS: dict[str, Command] = {
    "run": Command(
        "run",
        "run one Turn in a new session",
        [
            PROMPT,
            (("-c", "--continue"), {"action": "store_true", "help": "= resume --last"}),
        ],
        turn_options=True,
    ),
    "resume": Command(
        "run",
        "continue a session: resume (ID|--last) [PROMPT...]",
        [
            (("words",), {"nargs": "*", "metavar": "ID PROMPT"}),
            (("--last",), {"action": "store_true", "help": "the most recent session"}),
        ],
        turn_options=True,
    ),
    "login": Command(
        "login",
        "sign in (device code by default)",
        [
            (("--device",), {"action": "store_true", "help": "device-code flow (default)"}),
            (("--browser",), {"action": "store_true", "help": "browser + localhost callback"}),
            (("--with-api-key",), {"action": "store_true", "help": "read an API key on stdin"}),
        ],
    ),
    "logout": Command(
        "logout",
        "forget the stored credential",
        [(("--revoke",), {"action": "store_true", "help": "also revoke it at the issuer"})],
    ),
    "status": Command("status", "show the credential in use (never the token)"),
    "models": Command("models", "list the model catalog"),
    "doctor": Command("doctor", "check the installation, offline"),
    "sessions": Command("sessions", "list this workspace's sessions"),
    "log": Command(
        "log",
        "print a session's transcript: log (ID|--last)",
        [
            (("session_id",), {"metavar": "ID", "nargs": "?"}),
            (("--last",), {"action": "store_true", "help": "the most recent session"}),
        ],
    ),
    "preview": Command(
        "preview",
        "print the request the next call would send (no network)",
        [PROMPT, (("--session",), {"metavar": "ID", "help": "preview a resume of ID"})],
        turn_options=True,
    ),
    "ping": Command("ping", "one tiny streamed call: latency and transport"),
    "acp": Command(
        "acp",
        "serve editors over the Agent Client Protocol on stdio (docs/acp.md)",
        [o for o in TURN if o[0][0] in ("--read-only", "--ask", "--max-steps")],
    ),
    "compact": Command(
        "compact",
        "summarise a session's older history",
        [
            (("session_id",), {"metavar": "ID"}),
            (("--dry-run",), {"action": "store_true", "help": "show the plan, change nothing"}),
        ],
    ),
}

VALUE_OPTIONS = frozenset(
    flag
    for command in COMMANDS.values()
    for flags, kwargs in (*COMMON, *TURN, *command.options)
    if kwargs.get("action") not in ("store_true",) and flags[0].startswith("-")
    for flag in flags
)

EPILOG = """\
exit codes: 0 completed · 1 runtime/provider error · 2 invalid arguments, bad config,
unknown model or session · 3 refused by permissions · 4 not authenticated · 5 session busy
· 6 incomplete · 7 usage limit reached · 124 stream idle timeout · 130 interrupted"""


def build_parser(name: str):
    """The parser of one command (`run` is the default command). argparse is imported
    here so that `pixir --version` never pays for it."""
    import argparse

    class ArgumentParser(argparse.ArgumentParser):
        """Raises `invalid_arguments` instead of printing usage and exiting."""

        def error(self, message: str):
            raise PixirError("invalid_arguments", message, hint=f"see `{self.prog} --help`")

    def formatter(prog: str):
        return argparse.RawDescriptionHelpFormatter(prog, width=_help_width())

    command = COMMANDS[name]
    if name == "run":
        labels = {n: "PROMPT" if n == "run" else n for n in COMMANDS}
        width = max(len(label) for label in labels.values())
        listing = "\n".join(f"  {labels[n]:<{width}}  {c.summary}" for n, c in COMMANDS.items())
        parser = ArgumentParser(
            prog="pixir",
            usage="pixir [OPTIONS] [PROMPT...]\n       pixir COMMAND [OPTIONS]",
            description=f"pixir {__version__}: a minimal coding agent for the terminal.\n\n"
            f"commands (each has --help):\n{listing}",
            epilog=EPILOG,
            formatter_class=formatter,
        )
    else:
        parser = ArgumentParser(
            prog=f"pixir {name}",
            description=command.summary,
            epilog=EPILOG,
            formatter_class=formatter,
        )
    if name == "run":
        # main() answers --version before any parsing; listed here so --help shows it.
        parser.add_argument("--version", action="store_true", help="print the version and exit")
    if name == "login":
        group = parser.add_mutually_exclusive_group()
        for flags, kwargs in command.options:
            group.add_argument(*flags, **kwargs)
    else:
        for flags, kwargs in command.options:
            parser.add_argument(*flags, **kwargs)
    for flags, kwargs in COMMON + (TURN if command.turn_options else []):
        parser.add_argument(*flags, **kwargs)
    return parser


def _help_width() -> int:
    """What argparse's help formatter computes with `shutil.get_terminal_size()` (COLUMNS,
    else the terminal, else 80; minus 2), without importing shutil: it pulls in bz2 and lzma,
    ~9 ms of every `pixir --help` (docs/architecture.md)."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return (columns or 80) - 2


def split_command(argv: list[str]) -> tuple[str, list[str]]:
    """Find the command word (the first positional token) wherever flags put it."""
    i = 0
    while i < len(argv):
        token = argv[i]
        if token == "--":
            break
        if token.startswith("-") and token != "-":
            i += 2 if token in VALUE_OPTIONS else 1
            continue
        if token in COMMANDS and token != "run":
            return token, argv[:i] + argv[i + 1 :]
        break
    return "run", argv


def parse(argv: list[str]):
    """Parse a whole command line; flags may appear anywhere and `--` ends options."""
    name, rest = split_command(argv)
    if "--" in rest:
        cut = rest.index("--")
        rest, tail = rest[:cut], rest[cut + 1 :]
    else:
        tail = []
    parser = build_parser(name)
    args = parser.parse_intermixed_args(rest)
    if tail:
        positional = {"run": "prompt", "preview": "prompt", "resume": "words"}.get(name)
        if positional is None:
            raise PixirError("invalid_arguments", f"`pixir {name}` takes no arguments after --")
        setattr(args, positional, [*getattr(args, positional), *tail])
    args.command = name
    return name, args


def main(argv: list[str] | None = None) -> int:
    """Entry point: run one command, return its exit code."""
    argv = sys.argv[1:] if argv is None else argv
    json_mode = any(a in ("--json", "--jsonl") for a in argv[: _options_end(argv)])
    try:
        head = argv[: _options_end(argv)]
        if "--version" in head:
            print(f"pixir {__version__}")
            return 0
        try:
            name, args = parse(argv)
        except SystemExit as done:  # argparse finished: --help was printed
            return done.code if isinstance(done.code, int) else 0
        module = importlib.import_module(f"pixir.commands.{COMMANDS[name].module}")
        return module.run(args)
    except PixirError as err:
        report_error(err, json_mode)
        return err.exit_code
    except KeyboardInterrupt:  # Ctrl-C outside a Turn (e.g. while waiting for stdin)
        err = PixirError("interrupted", "interrupted (Ctrl-C)")
        if json_mode:
            report_error(err, json_mode)
        else:
            print("\ninterrupted", file=sys.stderr)
        return err.exit_code
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except ModuleNotFoundError as exc:
        missing = _missing_dependency(exc)
        if missing is None:
            return _crash(exc, json_mode)
        report_error(missing, json_mode)
        return missing.exit_code
    except Exception as exc:  # the one place an unexpected bug is caught
        return _crash(exc, json_mode)


# Import names of the runtime dependencies (pyproject.toml) and of what they import, with
# the distribution that brings each: `python3 pixir.py` from a checkout runs on whatever
# interpreter the user has, so a missing one is their setup to fix, not a bug to report.
_DEPENDENCIES = {
    "requests": "requests",
    "urllib3": "requests",
    "idna": "requests",
    "charset_normalizer": "requests",
    "certifi": "requests",
    "websocket": "websocket-client",
    "jwt": "pyjwt",
}


def _missing_dependency(exc: ModuleNotFoundError) -> PixirError | None:
    top = (exc.name or "").partition(".")[0]
    if top not in _DEPENDENCIES:
        return None
    return PixirError(
        "missing_dependency",
        f"the Python package {_DEPENDENCIES[top]} is not installed for {sys.executable}",
        {"module": exc.name},
        hint=f"{sys.executable} -m pip install requests websocket-client pyjwt"
        " (or use dist/pixir, which carries them)",
    )


def _options_end(argv: list[str]) -> int:
    return argv.index("--") if "--" in argv else len(argv)


def report_error(err: PixirError, json_mode: bool) -> None:
    """`error: <kind>: <message>` (+ a hint line) on stderr, or the JSON error object."""
    from pixir import sanitize  # messages quote servers, files and argv: made safe here

    if json_mode:
        import json

        body = {"ok": False, "error": err.to_dict(), "exit_code": err.exit_code}
        print(json.dumps(sanitize.deep(body), ensure_ascii=False))
        return
    print(sanitize.terminal(f"error: {err.kind}: {err.message}"), file=sys.stderr)
    if err.hint:
        print(sanitize.terminal(f"hint: {err.hint}"), file=sys.stderr)


def _quiet_broken_pipe() -> int:
    # The reader went away (`pixir ... | head`): no traceback, and no second
    # BrokenPipeError when Python flushes stdout at exit.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass
    return 141


def _crash(exc: BaseException, json_mode: bool) -> int:
    import tempfile
    import time
    import traceback
    from pathlib import Path

    from pixir import paths

    report = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    location = None
    for folder in (paths.crash_dir(), Path(tempfile.gettempdir())):
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            location = folder / f"pixir-crash-{stamp}-{os.getpid()}.txt"
            fd = os.open(location, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(f"pixir {__version__} python {sys.version.split()[0]}\n")
                fh.write(f"argv: {len(sys.argv) - 1} arguments\n\n{report}")
            break
        except OSError:
            location = None
    err = PixirError(
        "internal",
        f"unexpected {type(exc).__name__}"
        + (f" — crash report: {location}" if location else " (no crash report could be written)"),
        {"crash_report": str(location) if location else None},
        hint="this is a bug in pixir; please report it with the crash report",
    )
    if os.environ.get("PIXIR_DEBUG"):
        sys.stderr.write(report)
    report_error(err, json_mode)
    return err.exit_code
