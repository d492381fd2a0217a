"""The read tool."""

from __future__ import annotations

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
    monkeypatch.setattr(read_tool, "open", refuse, raising=False)
    result = call(ctx, "read", path="secret.txt")
    assert error_kind(result) == "permission_denied" and "secret.txt" in result.error["message"]
