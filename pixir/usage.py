"""What the command line says when the words it was given are not what the user meant: a
first word that looks like a command but is none never reaches the model, and a key or
token typed as an argument is never repeated back (docs/cli.md, "Command words" and
"Secrets on the command line").

Imported by cli.py only when a first word needs a look or an error is printed, so a plain
`pixir "task"` pays nothing for it.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping, Sequence

from pixir.errors import PixirError

# Words people type for a command pixir does not have: what does the job instead, why, and
# whether they are refused whatever follows (`pixir update the docs`: the most common
# examples) or only alone (`pixir list` yes, `pixir list the TODOs` is a task).
_SELF_UPDATE = "pixir does not update itself; rebuild or reinstall it (README)"
LOOKALIKES: dict[str, tuple[str, str | None, bool]] = {
    "version": ("pixir --version", None, True),
    "update": ("pixir --version", _SELF_UPDATE, True),
    "upgrade": ("pixir --version", _SELF_UPDATE, True),
    "exec": ('pixir "TASK"', "a task needs no command word", False),
    "chat": ("pixir", "with no task, on a terminal, pixir is interactive", False),
    "signin": ("pixir login", None, False),
    "auth": ("pixir status", None, False),
    "whoami": ("pixir status", None, False),
    "signout": ("pixir logout", None, False),
    "list": ("pixir sessions", None, False),
    "history": ("pixir sessions", None, False),
    "settings": ("pixir config", None, False),
}
# English words within two edits of a command that are tasks far more often than typos
# (`git diff | pixir review`): never taken for a command.
PROMPT_WORDS = frozenset(
    {
        "actor",
        "assume",
        "compare",
        "confine",
        "confirm",
        "contact",
        "docker",
        "factor",
        "impact",
        "lessons",
        "logic",
        "modal",
        "module",
        "modules",
        "rename",
        "rescue",
        "resize",
        "result",
        "results",
        "reuse",
        "review",
        "reviews",
        "versions",
    }
)
_BARE_WORD = re.compile(r"[A-Za-z][A-Za-z_-]*")
_SESSION_REF = re.compile(r"\d{1,8}(T\d{0,6}(-[0-9a-f]{0,6})?)?")


def distance(a: str, b: str) -> int:
    """Edits (insert, delete, substitute, swap two neighbours) that turn `a` into `b`."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        row = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                row[j] = min(row[j], previous2[j - 2] + 1)
        previous2, previous = previous, row
    return previous[-1]


def near(word: str, names: Iterable[str]) -> list[str]:
    """Names within one edit of `word`, or two for names of six letters or more when the
    first letter is right (two edits from a short name reach real words: `how`/`log`,
    `begin`/`login`, and typos rarely miss the first letter), nearest first."""
    word = word.lower()
    scored = []
    for name in names:
        edits = distance(word, name)
        if edits <= 1 or (edits == 2 and len(name) >= 6 and word[:1] == name[:1]):
            scored.append((edits, name))
    return [name for _, name in sorted(scored)]


def _spaced(word: str) -> bool:
    return any(c.isspace() for c in word)


def looks_like_session(word: str) -> bool:
    """A session id or the start of one (`20261121T1430`)."""
    return _SESSION_REF.fullmatch(word) is not None


def check_first_word(
    argv: Sequence[str],
    index: int,
    commands: Mapping[str, Sequence[str]],
    value_options: frozenset[str],
    run_options: frozenset[str],
) -> None:
    """Raise `unknown_command` when `argv[index]`, the first word of a prompt, looks like a
    command instead of a task. `commands` maps each command to what its positional words
    are (cli.Command.takes); `value_options` are the options that take a value,
    `run_options` those a task (`pixir PROMPT`) takes."""
    word = argv[index]
    _, rest = split_options(argv[index + 1 :], value_options)
    if any(_looks_secret_strongly(w) for w in (word, *rest) if not _spaced(w)):
        raise PixirError(
            "invalid_arguments",
            "the task holds a word that looks like an API key or token; pixir takes no "
            "credential on its command line, and sent nothing anywhere",
            hint="printenv OPENAI_API_KEY | pixir login --with-api-key  (or, if the word "
            "belongs to the task, quote the task or put -- before it)",
        )
    if _BARE_WORD.fullmatch(word) is None:
        return
    lower = word.lower()
    task = as_prompt(argv, value_options, run_options)
    if lower in LOOKALIKES:
        suggestion, note, always = LOOKALIKES[lower]
        if always or not rest:
            raise unknown_command(word, [suggestion], task, note=note)
        return
    if lower in PROMPT_WORDS:
        return
    found = [name for name in near(lower, commands) if fits(name, rest, commands)]
    if found:
        raise unknown_command(word, [f"pixir {name}" for name in found[:3]], task)


def fits(name: str, rest: Sequence[str], commands: Mapping[str, Sequence[str]]) -> bool:
    """Whether the words after a misspelt `name` are what `pixir name` takes: nothing, a
    session id, one of a few choices. A sentence never is, so `pixir rename foo to bar`
    stays a task."""
    takes = commands[name]
    if not rest:
        return True
    if not takes:
        return False
    kind = takes[0]
    if kind == "session":
        return len(rest) == 1 and looks_like_session(rest[0])
    if kind == "session+prompt":
        return looks_like_session(rest[0])
    if kind == "command":
        return len(rest) == 1 and rest[0] in commands
    if kind == "prompt":
        return False
    return len(rest) == 1 and rest[0] in takes  # a list of choices


def unknown_command(
    word: str, suggestions: Sequence[str], task: str, note: str | None = None
) -> PixirError:
    """`word` is not a command: what was probably meant (`suggestions`, may be empty), and
    `task`, the command line that sends the words to the model instead."""
    message = f"{word!r} is not a pixir command" + (f": {note}" if note else "")
    if suggestions:
        message += "; " if note else " — "
        message += "did you mean " + " or ".join(f"`{s}`" for s in suggestions) + "?"
    else:
        message += " (`pixir --help` lists them)"
    return PixirError(
        "unknown_command",
        message,
        {"word": word, "suggestions": list(suggestions)},
        hint=f"to send it to the model as a task: {task}",
    )


def as_prompt(
    argv: Sequence[str], value_options: frozenset[str], run_options: frozenset[str]
) -> str:
    """The command line that sends `argv`'s words as a prompt: the options a task takes,
    then `--`, then the words (an option only another command takes is one of them)."""
    options, words = split_options(argv, value_options, keep=run_options)
    return shlex.join(["pixir", *options, "--", *words])


def split_options(
    argv: Sequence[str], value_options: frozenset[str], keep: frozenset[str] | None = None
) -> tuple[list[str], list[str]]:
    """(options with their values, the other words) of a command line; everything after a
    `--` is a word, and so is an option not in `keep` (when given)."""
    options: list[str] = []
    words: list[str] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        if token == "--":
            words += argv[i + 1 :]
            break
        if token.startswith("-") and token != "-":
            take = 2 if token in value_options else 1
            known = keep is None or token.split("=", 1)[0] in keep
            (options if known else words).extend(argv[i : i + take])
            i += take
            continue
        words.append(token)
        i += 1
    return options, words


# -- secrets typed as arguments ------------------------------------------------------------

# Options whose value is a secret by name, whatever it looks like (`--with-api-key KEY`
# does not exist, but someone will type it).
_SECRET_OPTION = re.compile(
    r"--?(with-api-key|api[-_]?key|openai[-_]api[-_]key|key|token|access[-_]token|"
    r"refresh[-_]token|secret|password|passwd|bearer|auth[-_]token)",
    re.IGNORECASE,
)
# NAME=value with a secret-sounding NAME (`OPENAI_API_KEY=sk-...` pasted as an argument).
_SECRET_ASSIGNMENT = re.compile(
    r"[A-Za-z_]*(KEY|TOKEN|SECRET|PASSWORD|PASSWD)[A-Za-z_]*=(.+)", re.I
)
# The shapes of common keys and tokens: OpenAI (sk-, sk-proj-, sess-), GitHub, Slack, AWS,
# Google, GitLab, and JWTs (ChatGPT's access and id tokens).
_KEY_SHAPES = re.compile(
    r"(sk|rk|sess)-[A-Za-z0-9_\-]+|gh[pousr]_[A-Za-z0-9]{16,}|github_pat_\w{16,}|"
    r"xox[abposr]-[\w-]{8,}|AKIA[0-9A-Z]{16}|AIza[\w-]{20,}|glpat-[\w-]{16,}|"
    r"eyJ[\w-]+\.[\w-]+\.[\w-]*"
)
# A long run of letters and digits in both cases: how random keys look when nothing else
# gives them away.
_RANDOM = re.compile(r"[A-Za-z0-9_\-+/=.]{32,}")


def _looks_secret_strongly(token: str) -> bool:
    return _KEY_SHAPES.search(token) is not None


def _looks_random(token: str) -> bool:
    if _RANDOM.fullmatch(token) is None or "/" in token.strip("/="):
        return False
    return (
        any(c.islower() for c in token)
        and any(c.isupper() for c in token)
        and any(c.isdigit() for c in token)
    )


def secret_words(argv: Sequence[str]) -> list[str]:
    """The words of `argv` that are, or look like, a key or token: the value of an option
    named like one (`--with-api-key sk-…`, `--token=…`), `NAME_KEY=value`, and anything
    shaped like a known key, a JWT or a long random string."""
    found: list[str] = []
    after_secret_option = False
    for token in argv:
        if after_secret_option and not token.startswith("-"):
            found.append(token)
        after_secret_option = False
        name, eq, value = token.partition("=")
        if _SECRET_OPTION.fullmatch(name):
            if eq:
                found.append(value)
            else:
                after_secret_option = True
            continue
        assignment = _SECRET_ASSIGNMENT.fullmatch(token)
        if assignment:
            found.append(assignment.group(2))
        for match in _KEY_SHAPES.finditer(token):
            found.append(match.group(0))
        for piece in re.split(r"[\s=:,]+", token):
            if _looks_random(piece):
                found.append(piece)
    return sorted({s for s in found if s}, key=len, reverse=True)


REDACTED = "[redacted]"


class Redactor:
    """Cuts given secrets, and their shell-quoted and repr() forms, out of text."""

    def __init__(self, secrets: Sequence[str]) -> None:
        forms = {f for s in secrets if s for f in (s, shlex.quote(s), repr(s))}
        self.forms = sorted(forms, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for form in self.forms:
            if form in text:
                text = text.replace(form, REDACTED)
        return text


class RedactedStream:
    """A text stream (stdout, stderr) that writes through a Redactor: whatever path prints
    a word of the command line — an error, a hint, doctor's table — the secret stays out."""

    def __init__(self, stream, redactor: Redactor) -> None:
        self._stream = stream
        self._redact = redactor

    def write(self, text: str) -> int:
        self._stream.write(self._redact(text))
        return len(text)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)
