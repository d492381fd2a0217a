"""The interactive mode: a line REPL on a terminal. Each message is a Turn in one session;
lines starting with `/` are commands. The agent side (sessions, Turns, models) is a `host`
that commands/run.py provides, so this module only reads lines and prints.

A message may hold several lines: a paste is one message (the terminal's bracketed paste,
turned on in readline), Alt-Enter starts a new line, and a line ending in `\\` continues on
the next. A resumed session opens with its id, model and last exchange.

Ctrl-C during a Turn stops it (the Log stays consistent, as in a one-shot run) and comes
back to the prompt; at the prompt it clears the line. Ctrl-D or `/exit` leaves (exit 0).
readline, with history in ~/.pixir/history, is imported here only.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pixir.errors import PixirError
from pixir.sanitize import terminal

PROMPT = "› "
MORE = "… "  # the prompt of a continued line
HISTORY_LENGTH = 1000
RECAP_LINES = 12  # of the last answer shown when a session is resumed

HELP = """\
/help          this list
/status        the session, model, transport and tokens used
/model [ID]    show the model, or use ID from the next message on
/new           start a new session with the next message
/exit          leave (Ctrl-D works too)
Several lines make one message: paste them, press Alt-Enter for a new line, or end a line
with \\ to continue it on the next. Ctrl-C stops a running Turn, or clears the line at the
prompt. A line that starts with // is sent as a message with its first / removed."""


def run(host, *, history_file: Path | None = None, read_line=None, err=None) -> int:
    """Read lines until /exit or end of input (exit code 0), or until SIGTERM or SIGHUP
    stopped a Turn (143, 129)."""
    err = err or sys.stderr
    read_line = read_line or line_reader(history_file)
    recap = host.recap()
    if recap is None:
        say(err, f"pixir · model {host.model} · /help for commands, Ctrl-D to leave")
    else:
        for line in recap_lines(recap):
            say(err, line)
    code = 0
    while True:
        try:
            line = read_message(read_line)
        except EOFError:
            say(err, "")
            break
        except KeyboardInterrupt:  # at the prompt: drop the line, ask again
            say(err, "")
            continue
        text = line.strip() if "\n" not in line else line.strip("\n")
        if not text.strip():
            continue
        try:
            if text.startswith("/") and not text.startswith("//") and "\n" not in text:
                if command(host, text, err) == "exit":
                    break
            else:
                outcome = host.turn(text[1:] if text.startswith("//") else text)
                stop = getattr(outcome, "error", None)
                if stop is not None and stop.kind in ("terminated", "hangup"):
                    code = stop.exit_code  # SIGTERM / SIGHUP during the Turn: leave (143/129)
                    break
        except KeyboardInterrupt:  # outside the Turn's own handling (e.g. opening it)
            say(err, "\ninterrupted")
        except PixirError as failure:
            from pixir.present.human import report

            report(failure, err)
    footer = host.footer()
    if footer:
        say(err, footer)
    return code


def command(host, text: str, err) -> str | None:
    """Run one /command; returns "exit" to leave."""
    name, _, rest = text.partition(" ")
    rest = rest.strip()
    if name in ("/exit", "/quit"):
        return "exit"
    if name == "/help":
        say(err, HELP)
    elif name == "/new":
        host.new_session()
        say(err, "new session: it starts with your next message")
    elif name == "/model":
        if not rest:
            say(err, f"model: {host.model}")
        else:
            say(err, f"model: {host.set_model(rest)}")
    elif name == "/status":
        rows = host.status()
        width = max(len(label) for label, _ in rows)
        for label, value in rows:
            say(err, f"{label:<{width}}  {value}")
    else:
        say(err, f"unknown command {name}; /help lists them")
    return None


def read_message(read_line) -> str:
    """One message: a line, and the lines after it while each ends with a backslash (which
    is dropped). A line may itself hold newlines (a paste, Alt-Enter)."""
    lines = [read_line(PROMPT)]
    while lines[-1].endswith("\\") and not lines[-1].endswith("\\\\"):
        lines[-1] = lines[-1][:-1]
        lines.append(read_line(MORE))
    return "\n".join(lines)


def recap_lines(recap: dict) -> list[str]:
    """A resumed session's opening: its id, model, Turns and workspace, then the last
    exchange (the user's message, the start of the answer)."""
    turns = recap.get("turns", 0)
    head = (
        f"pixir · resumed session {recap['id']} · model {recap['model']} · "
        f"{turns} Turn{'' if turns == 1 else 's'} · /help for commands, Ctrl-D to leave"
    )
    out = [head]
    if recap.get("workspace"):
        out.append(f"  working in {recap['workspace']}")
    asked = recap.get("user")
    if asked:
        lines = asked.strip().split("\n")
        out.append(
            f"{PROMPT}{lines[0]}" + (f" … (+{len(lines) - 1} lines)" if len(lines) > 1 else "")
        )
    answer = recap.get("answer")
    if answer:
        lines = answer.strip().split("\n")
        out += lines[:RECAP_LINES]
        if len(lines) > RECAP_LINES:
            out.append(f"… {len(lines) - RECAP_LINES} more lines (pixir log --last shows all)")
    elif recap.get("ending"):
        out.append(f"({recap['ending']})")
    return out


def say(err, text: str) -> None:
    try:
        err.write(terminal(text) + "\n")
        err.flush()
    except OSError:  # the terminal hung up: nothing left to tell
        pass


def line_reader(history_file: Path | None):
    """`input()` with readline editing and a persistent history when readline exists."""
    try:
        import readline
    except ImportError:  # a Python built without it: plain lines
        return input
    if history_file is not None:
        try:
            readline.read_history_file(history_file)
        except (OSError, ValueError):
            pass
    readline.set_history_length(HISTORY_LENGTH)
    _multiline_keys(readline)

    def read(prompt_text: str) -> str:
        line = input(prompt_text)
        if history_file is not None and line.strip():
            _append_history(readline, history_file)
        return line

    return read


def _multiline_keys(readline) -> None:
    """A paste arrives as one piece with its newlines (bracketed paste, which Python's
    readline module turns off), and Alt-Enter inserts a newline instead of sending."""
    if "libedit" in (getattr(readline, "__doc__", "") or ""):
        return  # macOS's libedit has neither
    bindings = [r'"\e\r": "\C-v\C-j"', r'"\e\n": "\C-v\C-j"']
    if os.environ.get("TERM", "dumb") != "dumb":  # a dumb terminal would show the codes
        bindings.append("set enable-bracketed-paste on")
    for binding in bindings:
        try:
            readline.parse_and_bind(binding)
        except Exception:  # an old readline that does not know the variable
            pass


def _append_history(readline, path: Path) -> None:
    """Append the last line at once (a crash loses nothing); the file is private (0600),
    since prompts may hold anything."""
    try:
        if not path.exists():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        readline.append_history_file(1, path)  # also cuts the file to the history length
    except (OSError, AttributeError):  # libedit without append_history_file, a full disk
        pass
