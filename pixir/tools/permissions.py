"""Permission modes (docs/tools.md): `auto` allows every tool; `read_only` refuses write/edit and
allows any bash command when a kernel sandbox confines commands (docs/sandbox.md), else only
a small allow-list of read-only commands without shell operators; `ask` asks before each
write, edit or bash — showing what it will do — and takes once, always (Approvals), no
(the Turn goes on) or no-and-stop; refused without anyone to ask."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass

# Narrower modes first: resuming may narrow the recorded mode, never widen it.
_WIDTH = {"read_only": 0, "ask": 1, "auto": 2}
ALWAYS_ALLOWED = frozenset({"read", "update_plan"})

READ_ONLY_COMMANDS = frozenset(
    {
        "basename",
        "cat",
        "cmp",
        "diff",
        "dirname",
        "du",
        "echo",
        "file",
        "find",
        "git",
        "grep",
        "head",
        "ls",
        "nl",
        "pwd",
        "realpath",
        "rg",
        "stat",
        "tail",
        "tree",
        "wc",
        "which",
    }
)
GIT_READ_ONLY = frozenset(
    {"status", "log", "diff", "show", "ls-files", "blame", "rev-parse", "grep", "describe"}
)
# Options that make an allowed command write files or run other programs.
FORBIDDEN_OPTIONS = {
    "find": (
        "-exec",
        "-execdir",
        "-ok",
        "-okdir",
        "-delete",
        "-fprint",
        "-fprint0",
        "-fprintf",
        "-fls",
    ),
    "rg": ("--pre",),
    # `tree -R` with `-H` writes an HTML page into every directory it lists.
    "tree": ("-o", "-R"),
    "file": ("-C", "--compile"),
    # `git grep --open-files-in-pager=CMD` (or `-OCMD`) runs CMD on the matching files.
    "git": ("--output", "--ext-diff", "--open-files-in-pager"),
}
# Their short forms, which these programs also take bundled with other short options
# (`tree -aRo FILE`, `file -bC`, `git grep -nOCMD`): refused wherever they appear in a bundle.
FORBIDDEN_SHORT = {"tree": "oR", "file": "C", "git": "O"}
# Outside quotes these are shell syntax (operators, redirections, expansions, grouping).
SHELL_META = frozenset(";&|<>$`\\(){}!\n\r")
# Inside double quotes these still expand.
DOUBLE_QUOTE_META = frozenset("$`\\!")


@dataclass(frozen=True)
class Decision:
    """The verdict on one tool call. `ends_turn`: a refusal in ask mode stops the Turn.
    `asked`: the user was shown the call and answered (not covered by an earlier "always")."""

    allowed: bool
    decision: str  # "allowed" | "approved" | "denied"
    reason: str = ""
    ends_turn: bool = False
    unanswered: bool = False  # ask mode with nobody to ask (no terminal)
    asked: bool = False


@dataclass(frozen=True)
class Question:
    """What ask mode asks about one call: the tool and its arguments, the question in words
    (`str(question)`), and what the call will do (`preview`, from tools.registry.preview:
    the full command, the content of a write, the diff of an edit)."""

    name: str
    args: dict
    text: str
    preview: dict | None = None
    scope: str = ""  # what "always" would allow (Approvals.scope)

    def __str__(self) -> str:
        return self.text


# Asks the user about one call. Answers: True (allow it), ALWAYS (allow it and the calls
# Approvals.allow describes, for the rest of the session), REFUSE (refuse it, tell the
# model, the Turn goes on), False (refuse it and stop the Turn), or None when nobody can be
# asked (refused; the Turn stops).
Asker = Callable[[Question], "bool | str | None"]
REFUSE = "refuse"
ALWAYS = "always"


def narrowest(recorded: str | None, requested: str) -> str:
    """The mode to use when resuming: the requested one unless it is wider than the one the
    session was started with."""
    if recorded not in _WIDTH:
        return requested
    return recorded if _WIDTH[recorded] < _WIDTH[requested] else requested


def check(
    mode: str,
    name: str,
    args: dict,
    ask: Asker | None = None,
    *,
    confined: bool = False,
    approvals: Approvals | None = None,
    preview: Callable[[], dict] | None = None,
) -> Decision:
    """May this call run in `mode`? `ask` is only consulted in ask mode, with the call's
    `preview()` in its Question, unless `approvals` already covers the call (an ALWAYS
    answer adds to them). `confined`: bash commands run under a read-only kernel sandbox in
    read_only mode, so any may run."""
    if mode == "auto" or name in ALWAYS_ALLOWED:
        return Decision(True, "allowed")
    if mode == "read_only":
        if name == "bash":
            if confined:
                return Decision(True, "allowed")
            problem = read_only_command_problem(args.get("command"))
            if problem is None:
                return Decision(True, "allowed")
            return Decision(False, "denied", f"read-only mode: {problem}")
        return Decision(False, "denied", f"read-only mode: {name} is not allowed")
    if mode == "ask":
        if approvals is not None and approvals.covers(name, args):
            scope = Approvals.scope(name, args)
            return Decision(True, "approved", f"the user allowed {scope} for this session")
        answer = None
        if ask is not None:
            shown = preview() if preview is not None else None
            scope = Approvals.scope(name, args)
            answer = ask(Question(name, args, question(name, args), shown, scope))
        if answer is None:
            return Decision(
                False,
                "denied",
                f"ask mode needs a terminal to confirm {name}, and there is none",
                ends_turn=True,
                unanswered=True,
            )
        if answer == ALWAYS:
            if approvals is not None:
                approvals.allow(name, args)
            scope = Approvals.scope(name, args)
            reason = f"the user allowed {scope} for this session"
            return Decision(True, "approved", reason, asked=True)
        if answer == REFUSE:
            reason = f"the user declined this {name} call; take another way or ask the user"
            return Decision(False, "denied", reason, asked=True)
        if answer is True:
            return Decision(True, "approved", "the user allowed it once", asked=True)
        reason = f"the user declined {name} and stopped the Turn"
        return Decision(False, "denied", reason, ends_turn=True, asked=True)
    return Decision(False, "denied", f"unknown permission mode {mode!r}", ends_turn=True)


class Approvals:
    """What the user allowed for the rest of a session ("allow always"): a tool by name, and
    for bash a command's first word — which then covers only simple commands starting with
    it (`pytest -q`, not `pytest; rm -rf ~`): a command with shell operators is always
    asked about."""

    def __init__(self) -> None:
        self._allowed: set[tuple[str, str]] = set()

    def allow(self, name: str, args: dict) -> None:
        key = self._key(name, args, remembering=True)
        if key is not None:
            self._allowed.add(key)

    def covers(self, name: str, args: dict) -> bool:
        key = self._key(name, args, remembering=False)
        return key is not None and key in self._allowed

    @staticmethod
    def scope(name: str, args: dict) -> str:
        """What `allow(name, args)` allows, in words: `every edit`, ``pytest` commands`."""
        key = Approvals._key(name, args, remembering=True)
        if key is None:
            return f"this {name} call"
        if name == "bash":
            return f"`{key[1]}` commands"
        return f"every {name}"

    @staticmethod
    def _key(name: str, args: dict, *, remembering: bool):
        if name != "bash":
            return (name, "")
        command = args.get("command")
        if not isinstance(command, str):
            return None
        if not remembering and _unquoted_meta(command) is not None:
            return None
        words = command.split()
        return ("bash", words[0]) if words else None


def question(name: str, args: dict) -> str:
    """The question of ask mode, in words (what the call does is in its preview)."""
    if name == "bash":
        return "run this command?"
    if name == "write":
        return f"write {args.get('path')}?"
    if name == "edit":
        return f"edit {args.get('path')}?"
    return f"run {name}?"


def read_only_command_problem(command: object) -> str | None:
    """None when `command` is a plain read-only command, else why it is not."""
    if not isinstance(command, str) or not command.strip():
        return "empty command"
    meta = _unquoted_meta(command)
    if meta is not None:
        return (
            f"only simple commands without shell operators are allowed (found {meta!r}); "
            "no pipes, redirections, ; && || $() or backticks"
        )
    try:
        words = shlex.split(command)
    except ValueError as exc:
        return f"cannot parse the command ({exc})"
    program = words[0]
    if program not in READ_ONLY_COMMANDS:
        allowed = ", ".join(sorted(READ_ONLY_COMMANDS))
        return f"{program!r} is not on the read-only allow-list ({allowed})"
    for word in words[1:]:
        option = _forbidden_option(program, word)
        if option is not None:
            return f"{program} {option} can write files or run programs"
    if program == "git":
        sub = words[1] if len(words) > 1 else ""
        if sub not in GIT_READ_ONLY:
            return f"only read-only git subcommands ({', '.join(sorted(GIT_READ_ONLY))})"
    return None


def _forbidden_option(program: str, word: str) -> str | None:
    """The forbidden option `word` spells for `program`, or None."""
    name = word.split("=", 1)[0]
    for option in FORBIDDEN_OPTIONS.get(program, ()):
        if name == option:
            return option
        # getopt_long and git's parser take any unambiguous prefix of a long option
        # (`file --co`, `git grep --open=CMD`); any prefix is refused, ambiguous or not.
        if option.startswith("--") and len(name) > 2 and option.startswith(name):
            return option
    if word.startswith("-") and not word.startswith("--"):
        for letter in FORBIDDEN_SHORT.get(program, ""):
            if letter in word:
                return f"-{letter}"
    return None


def _unquoted_meta(command: str) -> str | None:
    quote = None
    for char in command:
        if quote == "'":
            if char == "'":
                quote = None
            elif char in "\n\r":
                return char
        elif quote == '"':
            if char == '"':
                quote = None
            elif char in DOUBLE_QUOTE_META or char in "\n\r":
                return char
        elif char in "'\"":
            quote = char
        elif char in SHELL_META:
            return char
    return None
