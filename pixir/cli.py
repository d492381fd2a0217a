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
    (
        ("-i", "--image"),
        {
            "action": "append",
            "dest": "images",
            "metavar": "FILE",
            "help": "attach an image to the prompt: png, jpeg, gif or webp (repeatable)",
        },
    ),
]
# The Turn options that are settings: `pixir config` takes them to show what they change.
SETTINGS_FLAGS = ("--read-only", "--ask", "--max-steps", "--sandbox", "--web-search")
SETTING_OPTIONS = [o for o in TURN if o[0][0] in SETTINGS_FLAGS]

PROMPT: Option = (("prompt",), {"nargs": "*", "metavar": "PROMPT", "help": "the task ('-': stdin)"})


SHELLS = ("bash", "zsh", "fish")


class Command:
    # A plain class: a NamedTuple imports `typing` (~8 ms of start-up) and a dataclass
    # `dataclasses` (~10 ms), paid by every `pixir --version` (docs/performance.md).
    __slots__ = ("module", "options", "summary", "takes", "turn_options")

    def __init__(
        self,
        module: str,  # pixir.commands.<module> (or a dotted module) exposes run(args) -> int
        summary: str,
        options: list[Option] | None = None,
        turn_options: bool = False,
        takes: tuple[str, ...] = (),
    ) -> None:
        self.module = module
        self.summary = summary
        self.options = options or []
        self.turn_options = turn_options
        # What its positional words are, for a misspelt command word (usage.fits) and the
        # completion scripts: "session", "session+prompt", "prompt", "command", or choices.
        self.takes = takes


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
        takes=("session+prompt",),
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
        takes=("session",),
    ),
    "preview": Command(
        "preview",
        "print the request the next call would send (no network)",
        [PROMPT, (("--session",), {"metavar": "ID", "help": "preview a resume of ID"})],
        turn_options=True,
        takes=("prompt",),
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
            (("--dry-run",), {"action": "store_true", "help": "show the cut, change nothing"}),
        ],
        takes=("session",),
    ),
    "config": Command(
        "config",
        "every setting, its value and where it comes from (flag, env, config file, default)",
        SETTING_OPTIONS,
    ),
    "completion": Command(
        "pixir.completion",
        "print a shell completion script: completion bash|zsh|fish",
        [
            (("shell",), {"nargs": "?", "choices": SHELLS, "metavar": "SHELL"}),
            (
                ("--list",),
                {
                    "choices": ("sessions", "models"),
                    "help": "print this workspace's session ids or the model ids, one a line "
                    "(what the scripts complete with)",
                },
            ),
        ],
        takes=SHELLS,
    ),
    "help": Command(
        "",  # answered by main(): it needs the parsers
        "show this help, or a command's: help [COMMAND]",
        [(("words",), {"nargs": "*", "metavar": "COMMAND"})],
        takes=("command",),
    ),
}

VALUE_OPTIONS = frozenset(
    flag
    for command in COMMANDS.values()
    for flags, kwargs in (*COMMON, *TURN, *command.options)
    if kwargs.get("action") not in ("store_true",) and flags[0].startswith("-")
    for flag in flags
)

# The options of a task (`pixir PROMPT`): what a "send it as a task" hint may keep.
RUN_OPTIONS = frozenset(
    flag
    for flags, _ in (*COMMON, *TURN, *COMMANDS["run"].options)
    if flags[0].startswith("-")
    for flag in flags
)

EPILOG = """\
exit codes: 0 completed · 1 runtime/provider error · 2 invalid arguments, bad config,
unknown model or session · 3 refused by permissions · 4 not authenticated · 5 session busy
· 6 incomplete · 7 usage limit reached · 124 stream idle timeout · 130 interrupted (Ctrl-C)
· 143 / 129 stopped by SIGTERM / SIGHUP"""

ENVIRONMENT = (
    "OPENAI_API_KEY, PIXIR_HOME, PIXIR_MODEL, PIXIR_TRANSPORT, OPENAI_BASE_URL, "
    "PIXIR_CHATGPT_BASE_URL, PIXIR_AUTH_ISSUER, NO_COLOR, PIXIR_DEBUG (README)"
)


def epilog() -> str:
    """Where the settings come from, then the exit codes: the end of every --help."""
    return (
        f"configuration: {_config_file()} (`pixir config` shows every setting, its\n"
        f"value and where it comes from); environment: {ENVIRONMENT}\n\n{EPILOG}"
    )


def _config_file() -> str:
    """paths.config_file() as text, without importing pathlib (and with it urllib.parse,
    fnmatch...: ~5 ms of every `pixir --help`)."""
    home = os.environ.get("PIXIR_HOME") or os.path.join("~", ".pixir")
    return os.path.join(os.path.normpath(os.path.expanduser(home)), "config.json")


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
        shown = [n for n in COMMANDS if n != "help"]
        labels = {n: "PROMPT" if n == "run" else n for n in shown}
        width = max(len(label) for label in labels.values())
        listing = "\n".join(f"  {labels[n]:<{width}}  {COMMANDS[n].summary}" for n in shown)
        parser = ArgumentParser(
            prog="pixir",
            usage="pixir [OPTIONS] [PROMPT...]\n       pixir COMMAND [OPTIONS]",
            description=f"pixir {__version__}: a minimal coding agent for the terminal.\n\n"
            f"commands (each has --help, or: pixir help COMMAND):\n{listing}\n\n"
            "A first word that looks like a command is never sent to the model; to send it\n"
            "as a task, quote the whole task or put -- before it: pixir -- login",
            epilog=epilog(),
            formatter_class=formatter,
        )
    else:
        parser = ArgumentParser(
            prog=f"pixir {name}",
            description=command.summary,
            epilog=epilog(),
            formatter_class=formatter,
        )
    if name == "run":
        # main() answers --version before any parsing; listed here so --help shows it.
        parser.add_argument(
            "--version",
            action="store_true",
            help="print the version, build commit and Python (with --json: as JSON)",
        )
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
    i = _first_word(argv)
    if i is not None and argv[i] in COMMANDS and argv[i] != "run":
        return argv[i], argv[:i] + argv[i + 1 :]
    return "run", argv


def _first_word(argv: list[str]) -> int | None:
    """The index of the first positional token before any `--`, or None."""
    i = 0
    while i < len(argv):
        token = argv[i]
        if token == "--":
            return None
        if token.startswith("-") and token != "-":
            i += 2 if token in VALUE_OPTIONS else 1
            continue
        return i
    return None


def parse(argv: list[str]):
    """Parse a whole command line; flags may appear anywhere and `--` ends options. A first
    word that looks like a command but is none is `unknown_command`, before anything runs."""
    name, rest = split_command(argv)
    if name == "run":
        _check_first_word(argv)
    if "--" in rest:
        cut = rest.index("--")
        rest, tail = rest[:cut], rest[cut + 1 :]
    else:
        tail = []
    parser = build_parser(name)
    args, extra = parser.parse_known_intermixed_args(rest)
    if extra:
        raise _unrecognized(name, extra, args, parser)
    if tail:
        positional = {"run": "prompt", "preview": "prompt", "resume": "words"}.get(name)
        if positional is None:
            raise PixirError("invalid_arguments", f"`pixir {name}` takes no arguments after --")
        setattr(args, positional, [*getattr(args, positional), *tail])
    args.command = name
    return name, args


def _check_first_word(argv: list[str]) -> None:
    i = _first_word(argv)
    if i is None or (any(c.isspace() for c in argv[i]) and len(argv) == 1):
        return  # a quoted task alone: `pixir "fix the bug"` pays nothing here
    from pixir import usage

    takes = {n: c.takes for n, c in COMMANDS.items() if n != "run"}
    usage.check_first_word(argv, i, takes, VALUE_OPTIONS, RUN_OPTIONS)


def _unrecognized(name: str, extra: list[str], args, parser) -> PixirError:
    if name == "login" and getattr(args, "with_api_key", False):
        from pixir.commands.login import how_to_pipe

        return PixirError(
            "invalid_arguments",
            "`pixir login --with-api-key` reads the key from stdin, never from the command "
            "line (where `ps` and the shell history keep it); nothing was stored",
            hint=f"{how_to_pipe()} (the shell history may hold the key you typed now)",
        )
    words = " ".join(extra)
    if name == "login":  # a bare word given to login may well be a key or a password
        plain = [w for w in extra if not w.startswith("-")]
        shown = [w for w in extra if w.startswith("-")]
        if plain:
            shown.append(f"{len(plain)} word{'s' if len(plain) != 1 else ''} (not repeated)")
        words = " ".join(shown)
    hint = f"see `pixir {name} --help`" if name != "run" else "see `pixir --help`"
    option = next((w.partition("=")[0] for w in extra if w.startswith("--")), None)
    if option is not None:
        from pixir import usage

        flags = [f for action in parser._actions for f in action.option_strings]
        if option[2:] in COMMANDS and option[2:] != "run":  # `pixir --completion bash`
            hint = f"did you mean `pixir {option[2:]}`? ({hint})"
        elif found := usage.near(option, flags):
            hint = f"did you mean {found[0]}? ({hint})"
    return PixirError("invalid_arguments", f"unrecognized arguments: {words}", hint=hint)


def show_help(args, argv: list[str]) -> int:
    """`pixir help [COMMAND]`: the same text as `pixir [COMMAND] --help`."""
    words = list(args.words)
    if not words or (len(words) == 1 and words[0] in ("run", "help")):
        build_parser("run").print_help()
        return 0
    topic = words[0]
    if len(words) == 1 and topic in COMMANDS:
        build_parser(topic).print_help()
        return 0
    from pixir import usage

    task = usage.as_prompt(argv, VALUE_OPTIONS, RUN_OPTIONS)
    if topic in COMMANDS:  # `pixir help login now`
        raise PixirError(
            "invalid_arguments",
            f"`pixir help` takes one command name; did you mean `pixir help {topic}`?",
            hint=f"to send it to the model as a task: {task}",
        )
    found = [f"pixir help {n}" for n in usage.near(topic, COMMANDS) if n != "run"]
    raise usage.unknown_command(topic, found[:3], task)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run one command, return its exit code."""
    argv = sys.argv[1:] if argv is None else argv
    head = argv[: _options_end(argv)]
    if "--version" in head:
        return print_version(any(a in ("--json", "--jsonl") for a in head))
    streams = sys.stdout, sys.stderr
    if _may_hold_a_secret(argv):
        from pixir import usage

        secrets = usage.secret_words(argv)
        if secrets:  # what quotes the command line (errors, doctor) must not show them
            redactor = usage.Redactor(secrets)
            sys.stdout = usage.RedactedStream(sys.stdout, redactor)
            sys.stderr = usage.RedactedStream(sys.stderr, redactor)
    try:
        return _main(argv, head)
    finally:
        sys.stdout, sys.stderr = streams


def _may_hold_a_secret(argv: list[str]) -> bool:
    """usage.secret_words' cheap first look, so `pixir --help` does not import it: a key has
    digits, `-`, `_` or `=` in it, or follows an option named like one."""
    for word in argv:
        if word.startswith("-"):
            if "=" in word or any(n in word.lower() for n in ("key", "token", "secret", "pass")):
                return True
        elif any(c.isdigit() or c in "-_=" for c in word):
            return True
    return False


def _main(argv: list[str], head: list[str]) -> int:
    json_mode = any(a in ("--json", "--jsonl") for a in head)
    try:
        try:
            name, args = parse(argv)
            if name == "help":
                return show_help(args, argv)
        except SystemExit as done:  # argparse finished: --help was printed
            return done.code if isinstance(done.code, int) else 0
        module = COMMANDS[name].module
        module = importlib.import_module(module if "." in module else f"pixir.commands.{module}")
        code = module.run(args)
        _flush_or_drop()
        return code
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


def print_version(json_mode: bool) -> int:
    """`pixir --version`: the version, the commit it was built from, and the Python running
    it; one JSON object with --json."""
    from pixir import buildinfo

    info = buildinfo.describe()
    if json_mode:
        import json

        print(json.dumps({"ok": True, **info}))
    else:
        print(buildinfo.line(info))
    return 0


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
    """The JSON error object on stdout, or for people `error: <kind>: <message>` and its
    hint on stderr, printed the one way every error is (present/human.py `report`, which
    makes messages that quote servers, files and argv safe for a terminal)."""
    if json_mode:
        import json

        from pixir import sanitize

        body = {"ok": False, "error": err.to_dict(), "exit_code": err.exit_code}
        print(json.dumps(sanitize.deep(body), ensure_ascii=False))
        return
    from pixir.present.human import report

    report(err, sys.stderr)


def _flush_or_drop() -> None:
    """Flush stdout and stderr now; one that cannot be written any more (a terminal that hung
    up: SIGHUP, EIO) is pointed at /dev/null, so Python's own flush at exit cannot turn the
    exit code into 120 or print a traceback."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, stream.fileno())
                os.close(devnull)
            except (OSError, ValueError, AttributeError):
                pass


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
