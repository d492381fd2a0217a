"""The prompt and stdin rules (pixir/prompt.py) on real descriptors: pipes, files, /dev/null
and a pseudo-terminal."""

from __future__ import annotations

import os
import pty

import pytest

from pixir import prompt
from pixir.errors import PixirError


@pytest.fixture
def fds():
    """Descriptors opened by a test, closed after it."""
    opened: list[int] = []
    yield opened
    for fd in opened:
        try:
            os.close(fd)
        except OSError:
            pass


def pipe(fds, data: bytes | None = b"", close: bool = True) -> tuple[int, int]:
    """A pipe holding `data`; its write end closed unless `close` is False."""
    r, w = os.pipe()
    fds.extend([r, w])
    if data:
        os.write(w, data)
    if close:
        os.close(w)
    return r, w


def file_fd(fds, tmp_path, data: bytes) -> int:
    path = tmp_path / "stdin.txt"
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    fds.append(fd)
    return fd


def null_fd(fds) -> int:
    fd = os.open(os.devnull, os.O_RDONLY)
    fds.append(fd)
    return fd


def read(words, fd, notes=None, **kw):
    return prompt.read_prompt(
        words, fd=fd, notice=(notes.append if notes is not None else _no_notice), **kw
    )


def _no_notice(message):
    raise AssertionError(f"unexpected notice: {message}")


def test_kinds(fds, tmp_path):
    r, _ = pipe(fds)
    master, slave = pty.openpty()
    fds.extend([master, slave])
    assert prompt.stdin_kind(r) == "pipe"
    assert prompt.stdin_kind(file_fd(fds, tmp_path, b"x")) == "file"
    assert prompt.stdin_kind(null_fd(fds)) == "device"
    assert prompt.stdin_kind(slave) == "tty"
    closed = os.dup(r)
    os.close(closed)
    assert prompt.stdin_kind(closed) == "none"


def test_words_are_the_prompt_when_stdin_has_nothing_to_add(fds):
    assert read(["fix", "the", "bug"], null_fd(fds)) == "fix the bug"
    r, _ = pipe(fds, b"")
    assert read(["fix", "it"], r) == "fix it"
    r, _ = pipe(fds, b"\n  \n")
    assert read(["fix", "it"], r) == "fix it"


def test_no_words_stdin_is_the_prompt(fds):
    r, _ = pipe(fds, b"\n\nexplain this\n  \n")
    assert read([], r) == "explain this"


def test_dash_is_stdin(fds):
    r, _ = pipe(fds, b"from the pipe\n")
    assert read(["-"], r) == "from the pipe"


def test_words_and_piped_stdin_make_a_stdin_block(fds):
    r, _ = pipe(fds, b"diff --git a/x b/x\n+new\n")
    assert read(["review", "this"], r) == (
        "review this\n\n<stdin>\ndiff --git a/x b/x\n+new\n</stdin>"
    )


def test_words_and_a_redirected_file_make_a_stdin_block(fds, tmp_path):
    fd = file_fd(fds, tmp_path, b"line one\n")
    assert read(["summarise"], fd) == "summarise\n\n<stdin>\nline one\n</stdin>"


def test_no_stdin_never_reads_a_pipe_that_never_closes(fds):
    r, _w = pipe(fds, b"left unread", close=False)
    assert read(["just", "this"], r, no_stdin=True) == "just this"
    os.set_blocking(r, False)
    assert os.read(r, 100) == b"left unread"  # nothing was consumed


def test_a_terminal_is_never_read_for_a_block(fds):
    master, slave = pty.openpty()
    fds.extend([master, slave])
    os.write(master, b"typed ahead\n")
    assert read(["task"], slave) == "task"


def test_no_prompt_at_all_is_invalid_arguments(fds):
    master, slave = pty.openpty()
    fds.extend([master, slave])
    with pytest.raises(PixirError) as caught:
        read([], slave)
    assert caught.value.kind == "invalid_arguments" and caught.value.exit_code == 2
    assert "no prompt given" in caught.value.message and caught.value.hint
    r, _ = pipe(fds, b"ignored")
    with pytest.raises(PixirError, match="no prompt given"):
        read([], r, no_stdin=True)


def test_an_empty_stdin_prompt_is_invalid_arguments(fds):
    for fd in (pipe(fds, b" \n\t\n")[0], null_fd(fds)):
        with pytest.raises(PixirError) as caught:
            read([], fd)
        assert caught.value.kind == "invalid_arguments" and "empty" in caught.value.message
        assert "pixir" in caught.value.hint


def test_preview_may_have_an_empty_prompt(fds):
    assert read([], null_fd(fds), allow_empty=True) == ""
    master, slave = pty.openpty()
    fds.extend([master, slave])
    assert read([], slave, allow_empty=True) == ""


def test_dash_and_no_stdin_contradict(fds):
    with pytest.raises(PixirError, match="--no-stdin"):
        read(["-"], null_fd(fds), no_stdin=True)


def test_dash_among_words_asks_for_the_block_even_from_a_terminal(fds):
    master, slave = pty.openpty()
    fds.extend([master, slave])
    os.write(master, b"pasted\n\x04")  # a line, then Ctrl-D (end of input)
    notes: list[str] = []
    assert read(["look", "-"], slave, notes) == "look\n\n<stdin>\npasted\n</stdin>"
    assert notes == ["reading the prompt from the terminal; end it with Ctrl-D"]


def test_a_silent_pipe_gets_a_notice_and_is_then_read(fds, monkeypatch):
    monkeypatch.setattr(prompt, "NOTICE_AFTER_S", 0.05)
    r, w = pipe(fds, None, close=False)
    notes: list[str] = []

    def notice(message):  # data only arrives once the notice was given
        notes.append(message)
        os.write(w, b"late data\n")
        os.close(w)

    assert prompt.read_prompt(["check"], fd=r, notice=notice) == (
        "check\n\n<stdin>\nlate data\n</stdin>"
    )
    assert len(notes) == 1 and "waiting for stdin" in notes[0] and "--no-stdin" in notes[0]


def test_huge_stdin_is_cut_with_a_note(fds, tmp_path, monkeypatch):
    monkeypatch.setattr(prompt, "MAX_STDIN_BYTES", 1024)
    notes: list[str] = []
    fd = file_fd(fds, tmp_path, b"a" * 5000)
    text = read(["look"], fd, notes)
    assert text.startswith("look\n\n<stdin>\n" + "a" * 1024 + "\n[stdin cut here")
    assert text.endswith("</stdin>")
    assert notes == ["stdin (4.9 KiB) is longer than 1 KiB: only its start is sent"]
    r, _w = pipe(fds, b"b" * 3000)  # a pipe: its size is unknown
    notes.clear()
    assert "b" * 1024 + "\n[stdin cut here" in read(["look"], r, notes)
    assert notes == ["stdin is longer than 1 KiB: only its start is sent"]


def test_binary_and_invalid_utf8_are_decoded_with_replacement(fds):
    notes: list[str] = []
    r, _ = pipe(fds, b"\xef\xbb\xbfok \xff\x00 end")
    assert read([], r, notes) == "ok \ufffd\ufffd end"  # NUL too: no NUL reaches the Log
    assert notes == ["stdin looks binary (it holds NUL bytes); it is sent as text, NULs as U+FFFD"]


def test_closed_stdin_adds_nothing(fds):
    r, _ = pipe(fds)
    closed = os.dup(r)
    os.close(closed)
    assert read(["task"], closed) == "task"
    with pytest.raises(PixirError, match="no prompt given"):
        read([], closed)
