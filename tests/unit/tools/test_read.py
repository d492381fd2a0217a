"""The read tool."""

from __future__ import annotations

import os

import pytest

from pixir.tools import read as read_tool
from pixir.tools.result import MAX_BYTES, MAX_LINES
from tests.unit.helpers.tools import call, error_kind


def test_read_whole_small_file(ctx, ws):
    (ws / "a.py").write_text("one\ntwo\n")
    result = call(ctx, "read", path="a.py")
    assert result.ok and result.output == "one\ntwo\n"
    assert result.summary == "2 lines"


def test_read_offset_and_limit_are_one_based(ctx, ws):
    (ws / "a.txt").write_text("".join(f"line {n}\n" for n in range(1, 11)))
    result = call(ctx, "read", path="a.txt", offset=3, limit=2)
    assert result.output.startswith("line 3\nline 4\n")
    assert "[lines 3-4 of 10; continue with offset=5]" in result.output
    tail = call(ctx, "read", path="a.txt", offset=9)
    assert tail.output.startswith("line 9\nline 10\n") and "end of file" in tail.output


def test_read_caps_at_2000_lines_and_says_how_to_continue(ctx, ws):
    (ws / "big.txt").write_text("".join(f"{n}\n" for n in range(1, 5001)))
    result = call(ctx, "read", path="big.txt")
    lines = result.output.split("\n")
    assert lines[0] == "1" and lines[MAX_LINES - 1] == str(MAX_LINES)
    assert f"continue with offset={MAX_LINES + 1}" in result.output
    assert "of 5000" in result.output


def test_read_caps_at_50_kib(ctx, ws):
    (ws / "wide.txt").write_text(("x" * 99 + "\n") * 1000)  # 100 KB, 1000 lines
    result = call(ctx, "read", path="wide.txt")
    body = result.output.rsplit("\n[", 1)[0]
    assert len(body.encode()) <= MAX_BYTES
    assert "continue with offset=513" in result.output  # 512 lines of 100 bytes fit


def test_read_one_enormous_line(ctx, ws):
    (ws / "min.js").write_text("a" * (MAX_BYTES * 3) + "\nsecond\n")
    result = call(ctx, "read", path="min.js")
    assert result.ok and "line 1 is" in result.output and "continue with offset=2" in result.output
    assert len(result.output.encode()) < MAX_BYTES + 1000


def test_read_crlf_file_shows_lines_without_cr(ctx, ws):
    (ws / "w.txt").write_bytes(b"a\r\nb\r\n")
    assert call(ctx, "read", path="w.txt").output == "a\nb\n"


def test_read_refuses_binary_files(ctx, ws):
    (ws / "img.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0rest")
    result = call(ctx, "read", path="img.png")
    assert error_kind(result) == "binary_file" and "binary" in result.error["message"]


def test_read_errors(ctx, ws):
    (ws / "d").mkdir()
    (ws / "a.txt").write_text("one\n")
    assert error_kind(call(ctx, "read", path="missing.txt")) == "not_found"
    assert error_kind(call(ctx, "read", path="d")) == "is_directory"
    assert error_kind(call(ctx, "read", path="a.txt", offset=5)) == "invalid_arguments"
    assert error_kind(call(ctx, "read", path="a.txt", offset=0)) == "invalid_arguments"
    assert error_kind(call(ctx, "read", path="")) == "invalid_arguments"


def test_read_refuses_pixirs_credential_file(ctx, ws, pixir_home):
    pixir_home.mkdir()
    (pixir_home / "auth.json").write_text('{"kind":"api_key","api_key":"sk-secret"}')
    (ws / "alias.json").symlink_to(pixir_home / "auth.json")
    for path in (str(pixir_home / "auth.json"), "alias.json"):
        result = call(ctx, "read", path=path)
        assert error_kind(result) == "protected_path" and "sk-secret" not in result.output


def test_read_empty_file(ctx, ws):
    (ws / "e.txt").write_text("")
    result = call(ctx, "read", path="e.txt")
    assert result.ok and result.output == "[empty file]"


def test_read_invalid_utf8_is_replaced_not_refused(ctx, ws):
    (ws / "latin.txt").write_bytes(b"caf\xe9\n")
    assert call(ctx, "read", path="latin.txt").output == "caf\ufffd\n"


def test_read_of_an_unreadable_file_is_permission_denied(ctx, ws, monkeypatch):
    # chmod 0 does not stop root (these tests may run as root), so the refusal is simulated
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    (ws / "secret.txt").write_text("x\n")
    monkeypatch.setattr(read_tool.os, "open", refuse)
    result = call(ctx, "read", path="secret.txt")
    assert error_kind(result) == "permission_denied" and "secret.txt" in result.error["message"]


# -- only regular files, and bounded memory whatever the file -------------------------------------


def test_a_fifo_is_refused_without_waiting_for_a_writer(ctx, ws):
    os.mkfifo(ws / "pipe")
    result = call(ctx, "read", path="pipe")  # blocked forever before
    assert error_kind(result) == "not_regular_file" and "FIFO" in result.error["message"]


@pytest.mark.parametrize(("path", "what"), [("/dev/zero", "a device"), ("/dev/null", "a device")])
def test_devices_are_refused_without_being_read(ctx, path, what):
    result = call(ctx, "read", path=path)
    assert error_kind(result) == "not_regular_file" and what in result.error["message"]


def test_a_socket_is_refused(ctx, ws):
    import socket

    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(ws / "sock"))
        result = call(ctx, "read", path="sock")
    assert error_kind(result) == "not_regular_file" and "socket" in result.error["message"]


def peak_python_bytes(fn):
    import tracemalloc

    tracemalloc.start()
    try:
        result = fn()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_text_before_a_huge_sparse_tail_costs_little_memory(ctx, ws):
    """8 KiB of text, then 2 GB of holes (NUL bytes when read): the text is shown, the tail
    is said to be binary, and neither the tail nor a count of its lines is read."""
    path = ws / "sparse.log"
    with open(path, "wb") as fh:
        fh.write(b"line of text\n" * 640)  # 8 KiB and a bit: the sniff sees text
        fh.truncate(2 << 30)
    result, peak = peak_python_bytes(lambda: call(ctx, "read", path="sparse.log"))
    assert result.ok, result.output
    assert result.output.startswith("line of text\n") and "binary data (NUL bytes)" in result.output
    assert "2.0 GiB" in result.output or "2048.0 MiB" in result.output
    assert peak < 4 << 20, f"{peak} bytes of Python memory for a 2 GB file"


def test_one_enormous_line_costs_the_cap_not_the_line(ctx, ws):
    path = ws / "oneline.txt"
    with open(path, "wb") as fh:
        for _ in range(64):
            fh.write(b"a" * (1 << 20))
        fh.write(b"\nsecond line\n")
    result, peak = peak_python_bytes(lambda: call(ctx, "read", path="oneline.txt"))
    assert result.ok and "[line 1 is more than 16.0 MiB long and was cut at 50 KiB" in result.output
    assert "lines 1-1 of at least 1 (64.0 MiB)" in result.output
    assert peak < 4 << 20, f"{peak} bytes of Python memory for a 64 MiB line"
