"""A Turn's prompt from its words and stdin (docs/cli.md), shared by `pixir PROMPT`, `resume`
and `preview`:

- no words: a stdin that is not a terminal is the prompt;
- the single word `-`: stdin is the prompt (read even from a terminal, until Ctrl-D);
- words and a piped stdin (a pipe or a regular file): stdin is appended as a `<stdin>`
  block; a `-` among the words asks for that block whatever stdin is;
- `--no-stdin` never reads it; a terminal, `/dev/null` or a closed stdin add nothing.

Reading never fails silently: a pipe silent for 2 s gets a notice on stderr (then pixir
keeps waiting), a huge stdin is cut at 1 MiB with a note, bytes are decoded as UTF-8 with
replacement characters (argv too: bytes that are not UTF-8, and NUL, become U+FFFD).
"""

from __future__ import annotations

import os
import select
import stat
import sys
from collections.abc import Callable

from pixir import sanitize
from pixir.sanitize import is_terminal

NOTICE_AFTER_S = 2.0
MAX_STDIN_BYTES = 1 << 20  # ~260k tokens: about a whole context window
CHUNK = 1 << 16

EXAMPLE = 'pixir "fix the failing test"'


def stdin_kind(fd: int | None = None) -> str:
    """What stdin is: `tty`, `pipe` (a FIFO), `file` (a regular file), `socket`, `device`
    (such as /dev/null) or `none` (closed)."""
    if fd is None:
        fd = _stdin_fd()
        if fd is None:
            return "none"
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return "none"
    if stat.S_ISFIFO(mode):
        return "pipe"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISSOCK(mode):
        return "socket"
    if os.isatty(fd):
        return "tty"
    return "device"


def interactive_possible(words: list[str], no_stdin: bool) -> bool:
    """No prompt, stdin and stdout both terminals: the REPL's case (docs/cli.md)."""
    if words or no_stdin:
        return False
    return stdin_kind() == "tty" and is_terminal(sys.stdout)


def read_prompt(
    words: list[str],
    *,
    no_stdin: bool = False,
    allow_empty: bool = False,
    fd: int | None = None,
    notice: Callable[[str], None] | None = None,
    example: str = EXAMPLE,
) -> str:
    """The prompt for `words` under the rules above. An empty result is `invalid_arguments`
    (exit 2) unless `allow_empty` (preview); its hint shows `example` (the command line
    that would have worked: a resume names its session)."""
    from pixir.errors import PixirError

    notice = notice or _to_stderr
    dash = "-" in words
    rest = [w for w in words if w != "-"]
    if dash and no_stdin:
        raise PixirError(
            "invalid_arguments",
            "the prompt `-` means stdin, which --no-stdin forbids",
            hint="drop one of them",
        )
    if fd is None:
        fd = _stdin_fd()
    kind = stdin_kind(fd) if fd is not None else "none"

    if not rest:
        if dash or (not no_stdin and kind not in ("tty", "none")):
            text = _tidy(read_stdin(fd, kind, notice)) if kind != "none" else ""
            if text.strip() or allow_empty:
                return text
            raise PixirError(
                "invalid_arguments",
                "the prompt is empty: no words, and nothing on stdin",
                hint=f"pass the task as an argument or on stdin: {example}",
            )
        if allow_empty:
            return ""
        why = ""
        if kind == "tty" and not no_stdin and not is_terminal(sys.stdout):
            why = " (the interactive mode needs stdout on a terminal too)"
        raise PixirError(
            "invalid_arguments",
            "no prompt given" + why,
            hint=f"pass the task as an argument: {example}"
            + ("" if no_stdin else " (or pipe it on stdin)"),
        )

    # argv bytes that are not UTF-8 arrive as lone surrogates: U+FFFD before the Log sees them
    text = sanitize.text(" ".join(rest))
    if kind != "none" and (dash or (not no_stdin and kind in ("pipe", "file"))):
        block = read_stdin(fd, kind, notice)
        if block.strip():
            text = stdin_block(text, block)
    if not text.strip() and not allow_empty:
        raise PixirError(
            "invalid_arguments",
            "the prompt is empty",
            hint=f"pass the task as an argument or on stdin: {example}",
        )
    return text


def stdin_block(prompt: str, data: str) -> str:
    """The prompt followed by stdin in a `<stdin>` block the model can tell apart."""
    return f"{prompt}\n\n<stdin>\n{data.strip(chr(10))}\n</stdin>"


def read_stdin(
    fd: int,
    kind: str,
    notice: Callable[[str], None],
    limit: int | None = None,
    notice_after: float | None = None,
) -> str:
    """All of stdin (at most `limit` bytes, with a note when cut), decoded as UTF-8. A pipe
    or socket silent for `notice_after` seconds gets one notice; reading then goes on."""
    limit = MAX_STDIN_BYTES if limit is None else limit
    notice_after = NOTICE_AFTER_S if notice_after is None else notice_after
    if kind == "tty":
        notice("reading the prompt from the terminal; end it with Ctrl-D")
    watch = kind not in ("file", "tty")
    noticed = False
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        if watch and not noticed:
            ready, _, _ = select.select([fd], [], [], notice_after)
            if not ready:
                notice(
                    f"waiting for stdin… (nothing received for {notice_after:g} s; "
                    "pass --no-stdin to skip it)"
                )
                noticed = True
                continue
        try:
            chunk = os.read(fd, min(CHUNK, limit + 1 - size))
        except BlockingIOError:  # a non-blocking descriptor with nothing yet
            select.select([fd], [], [])
            continue
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    data = b"".join(chunks)
    cut = len(data) > limit
    if cut:
        data = data[:limit]
        total = _file_size(fd) if kind == "file" else None
        of = f" ({_size_text(total)})" if total else ""
        notice(f"stdin{of} is longer than {_size_text(limit)}: only its start is sent")
    if b"\x00" in data:
        notice("stdin looks binary (it holds NUL bytes); it is sent as text, NULs as U+FFFD")
    text = sanitize.decode(data)
    if text.startswith("\ufeff"):
        text = text[1:]
    if cut:
        text += f"\n[stdin cut here: only its first {_size_text(limit)} was kept]"
    return text


def _tidy(text: str) -> str:
    """A prompt read from stdin without its surrounding blank lines and trailing spaces."""
    return text.rstrip().lstrip("\n")


def _stdin_fd() -> int | None:
    try:
        return sys.stdin.fileno() if sys.stdin is not None else None
    except (OSError, ValueError, AttributeError):
        return None


def _file_size(fd: int) -> int | None:
    try:
        return os.fstat(fd).st_size
    except OSError:
        return None


def _size_text(n: int) -> str:
    if n >= 1 << 20:
        return f"{n / (1 << 20):.1f} MiB".replace(".0 ", " ")
    if n >= 1 << 10:
        return f"{n / (1 << 10):.1f} KiB".replace(".0 ", " ")
    return f"{n} bytes"


def _to_stderr(message: str) -> None:
    sys.stderr.write(f"note: {message}\n")
    sys.stderr.flush()
