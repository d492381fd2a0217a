"""read, write, edit, update_plan and workspace confinement (SPEC §7.2)."""

from __future__ import annotations

import json
import os

import pytest

from pixir.tools import read as read_tool
from pixir.tools.registry import ToolContext, run_tool
from pixir.tools.result import MAX_BYTES, MAX_LINES


@pytest.fixture
def ctx(ws):
    return ToolContext(ws)


def call(ctx, name, **args):
    return run_tool(name, args, ctx)


def error_kind(result):
    assert not result.ok, result.output
    body = json.loads(result.output)
    assert body["ok"] is False and body["error"] == result.error
    return result.error["kind"]


# -- read ---------------------------------------------------------------------------------


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


def test_the_output_cap_is_the_specs_2000_lines_and_50_kib():
    # the tests below use the constants; this pins them to SPEC §7.2's numbers
    assert (MAX_LINES, MAX_BYTES) == (2000, 50 * 1024)


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


# -- write --------------------------------------------------------------------------------


def test_write_creates_parents_and_reports_bytes(ctx, ws):
    result = call(ctx, "write", path="src/pkg/mod.py", content="héllo\n")
    assert result.ok and "7 bytes" in result.output and "new file" in result.output
    assert (ws / "src/pkg/mod.py").read_text() == "héllo\n"


def test_write_replaces_atomically_and_keeps_the_mode(ctx, ws, monkeypatch):
    target = ws / "run.sh"
    target.write_text("old")
    target.chmod(0o755)
    result = call(ctx, "write", path="run.sh", content="new content")
    assert result.ok and "replaced 3 bytes" in result.output
    assert target.read_text() == "new content" and target.stat().st_mode & 0o777 == 0o755
    assert not [p for p in os.listdir(ws) if "pixir-tmp" in p]


def test_write_failure_leaves_the_old_file_and_no_temp(ctx, ws, monkeypatch):
    target = ws / "keep.txt"
    target.write_text("old")

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    result = call(ctx, "write", path="keep.txt", content="new")
    assert error_kind(result) == "io_error"
    assert target.read_text() == "old"
    assert not [p for p in os.listdir(ws) if "pixir-tmp" in p]


@pytest.mark.parametrize("name", ["write", "edit"])
def test_write_and_edit_stay_inside_the_workspace(ctx, ws, tmp_path, name):
    outside = tmp_path / "outside.txt"
    outside.write_text("secret")
    (ws / "link").symlink_to(outside)
    (ws / "dirlink").symlink_to(tmp_path)
    args = {"content": "x"} if name == "write" else {"old_string": "secret", "new_string": "x"}
    for path in (
        "../outside.txt",
        str(outside),
        "link",
        "dirlink/outside.txt",
        "a/../../outside.txt",
    ):
        result = run_tool(name, {"path": path, **args}, ctx)
        assert error_kind(result) == "outside_workspace", path
    assert outside.read_text() == "secret"


@pytest.mark.parametrize("path", [".pixir/sessions/x.jsonl", ".pixir", "sub/../.pixir/config"])
def test_pixir_directory_is_protected(ctx, ws, path):
    (ws / ".pixir" / "sessions").mkdir(parents=True)
    result = call(ctx, "write", path=path, content="x")
    assert error_kind(result) in ("protected_path",)


@pytest.mark.parametrize("path", [".pixir/config.json", "./.pixir/config.json", "link/config.json"])
def test_edit_may_not_touch_the_pixir_directory_either(ctx, ws, path):
    (ws / ".pixir").mkdir()
    (ws / ".pixir" / "config.json").write_text('{"model": "a"}')
    (ws / "link").symlink_to(ws / ".pixir")  # resolved first: a symlink is no way in
    result = call(ctx, "edit", path=path, old_string='"a"', new_string='"b"')
    assert error_kind(result) == "protected_path"
    assert (ws / ".pixir" / "config.json").read_text() == '{"model": "a"}'


def test_symlink_inside_the_workspace_writes_its_target(ctx, ws):
    (ws / "real.txt").write_text("old")
    (ws / "alias.txt").symlink_to(ws / "real.txt")
    assert call(ctx, "write", path="alias.txt", content="new").ok
    assert (ws / "alias.txt").is_symlink() and (ws / "real.txt").read_text() == "new"


def test_write_into_a_directory_fails(ctx, ws):
    (ws / "d").mkdir()
    assert error_kind(call(ctx, "write", path="d", content="x")) == "is_directory"
    assert error_kind(call(ctx, "write", path=".", content="x")) == "is_directory"


# -- edit ---------------------------------------------------------------------------------


def test_edit_unique_exact_match_with_diff(ctx, ws):
    (ws / "a.py").write_text("def f():\n    return 1\n")
    result = call(ctx, "edit", path="a.py", old_string="return 1", new_string="return 2")
    assert result.ok and (ws / "a.py").read_text() == "def f():\n    return 2\n"
    assert "--- a/a.py" in result.output and "-    return 1" in result.output
    assert "+    return 2" in result.output and result.summary == "+1 −1"


def test_edit_not_unique_reports_the_count(ctx, ws):
    (ws / "a.py").write_text("x = 1\nx = 1\nx = 1\n")
    result = call(ctx, "edit", path="a.py", old_string="x = 1", new_string="x = 2")
    assert error_kind(result) == "not_unique" and "3 times" in result.error["message"]
    assert json.loads(result.output)["count"] == 3
    assert (ws / "a.py").read_text() == "x = 1\nx = 1\nx = 1\n"


def test_edit_replace_all(ctx, ws):
    (ws / "a.py").write_text("x = 1\nx = 1\n")
    result = call(
        ctx, "edit", path="a.py", old_string="x = 1", new_string="x = 2", replace_all=True
    )
    assert result.ok and "2 replacements" in result.output
    assert (ws / "a.py").read_text() == "x = 2\nx = 2\n"


def test_edit_no_match(ctx, ws):
    (ws / "a.py").write_text("x = 1\n")
    result = call(ctx, "edit", path="a.py", old_string="y = 1", new_string="y = 2")
    assert error_kind(result) == "no_match"


def test_edit_normalised_fallback_for_whitespace_and_quotes(ctx, ws):
    (ws / "a.py").write_text("if x:\n\tprint('hi')   \n")
    result = call(
        ctx,
        "edit",
        path="a.py",
        old_string="    print(\u2018hi\u2019)",
        new_string="\tprint('bye')",
    )
    assert result.ok and "normalising" in result.output
    assert (ws / "a.py").read_text() == "if x:\n\tprint('bye')   \n"


def test_edit_normalised_fallback_only_when_unique(ctx, ws):
    (ws / "a.py").write_text("a  =  1\na = 1\n")
    result = call(ctx, "edit", path="a.py", old_string="a =\t1", new_string="a = 2")
    assert error_kind(result) == "not_unique" and "2 times" in result.error["message"]


def test_edit_keeps_crlf_line_endings(ctx, ws):
    (ws / "w.txt").write_bytes(b"one\r\ntwo\r\nthree\r\n")
    result = call(ctx, "edit", path="w.txt", old_string="one\ntwo\n", new_string="1\n2\n")
    assert result.ok
    assert (ws / "w.txt").read_bytes() == b"1\r\n2\r\nthree\r\n"


def test_edit_keeps_the_bom(ctx, ws):
    (ws / "b.txt").write_bytes(b"\xef\xbb\xbfhello world\n")
    assert call(ctx, "edit", path="b.txt", old_string="world", new_string="there").ok
    assert (ws / "b.txt").read_bytes() == b"\xef\xbb\xbfhello there\n"


def test_edit_lf_file_with_crlf_old_string(ctx, ws):
    (ws / "a.txt").write_text("one\ntwo\n")
    assert call(ctx, "edit", path="a.txt", old_string="one\r\ntwo", new_string="x\r\ny").ok
    assert (ws / "a.txt").read_bytes() == b"x\ny\n"


def test_edit_keeps_mode_and_is_atomic(ctx, ws):
    target = ws / "s.sh"
    target.write_text("echo a\n")
    target.chmod(0o750)
    assert call(ctx, "edit", path="s.sh", old_string="a", new_string="b").ok
    assert target.stat().st_mode & 0o777 == 0o750
    assert not [p for p in os.listdir(ws) if "pixir-tmp" in p]


def test_edit_argument_errors(ctx, ws):
    (ws / "a.txt").write_text("abc\n")
    assert error_kind(call(ctx, "edit", path="a.txt", old_string="", new_string="x")) == (
        "invalid_arguments"
    )
    assert error_kind(call(ctx, "edit", path="a.txt", old_string="a", new_string="a")) == (
        "invalid_arguments"
    )
    assert error_kind(call(ctx, "edit", path="nope.txt", old_string="a", new_string="b")) == (
        "not_found"
    )
    (ws / "bin").write_bytes(b"\xff\xfe\x00\x01")
    assert error_kind(call(ctx, "edit", path="bin", old_string="a", new_string="b")) == "not_text"


def test_edit_refuses_binary_files_and_directories_leaving_them_untouched(ctx, ws):
    # valid UTF-8 with a NUL is still binary: edit must not rewrite it as text
    (ws / "blob").write_bytes(b"abc\x00def")
    result = call(ctx, "edit", path="blob", old_string="abc", new_string="xyz")
    assert error_kind(result) == "binary_file" and not result.ok
    assert (ws / "blob").read_bytes() == b"abc\x00def"
    (ws / "d").mkdir()
    assert error_kind(call(ctx, "edit", path="d", old_string="a", new_string="b")) == (
        "is_directory"
    )


def test_read_of_an_unreadable_file_is_permission_denied(ctx, ws, monkeypatch):
    # chmod 0 does not stop root (these tests may run as root), so the refusal is simulated
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    (ws / "secret.txt").write_text("x\n")
    monkeypatch.setattr(read_tool, "open", refuse, raising=False)
    result = call(ctx, "read", path="secret.txt")
    assert error_kind(result) == "permission_denied" and "secret.txt" in result.error["message"]


def test_edit_long_diff_is_cut(ctx, ws):
    (ws / "a.txt").write_text("x\n" * 500)
    result = call(ctx, "edit", path="a.txt", old_string="x", new_string="y", replace_all=True)
    assert result.ok and "diff cut" in result.output


# -- update_plan --------------------------------------------------------------------------


def test_update_plan(ctx):
    steps = [
        {"step": "read", "status": "completed"},
        {"step": "fix", "status": "in_progress"},
        {"step": "test", "status": "pending"},
    ]
    result = call(ctx, "update_plan", steps=steps)
    assert result.ok and "1 completed, 1 in progress, 1 pending" in result.output


def test_update_plan_errors(ctx):
    assert error_kind(call(ctx, "update_plan", steps=[])) == "invalid_arguments"
    bad = [{"step": "a", "status": "doing"}]
    assert error_kind(call(ctx, "update_plan", steps=bad)) == "invalid_arguments"
    two = [{"step": "a", "status": "in_progress"}, {"step": "b", "status": "in_progress"}]
    assert error_kind(call(ctx, "update_plan", steps=two)) == "invalid_arguments"


# -- the registry -------------------------------------------------------------------------


def test_unknown_tool_and_bad_arguments(ctx):
    assert error_kind(run_tool("delete_everything", {}, ctx)) == "unknown_tool"
    assert error_kind(run_tool("read", {}, ctx)) == "invalid_arguments"
    assert error_kind(run_tool("read", {"path": 3}, ctx)) == "invalid_arguments"
    assert error_kind(run_tool("read", {"path": "a", "offset": "2"}, ctx)) == "invalid_arguments"
    assert error_kind(run_tool("read", {"path": "a", "offset": True}, ctx)) == "invalid_arguments"
    assert error_kind(run_tool("read", {"path": "a", "extra": 1}, ctx)) == "invalid_arguments"
    assert error_kind(run_tool("read", ["a"], ctx)) == "invalid_arguments"


def test_a_crashing_tool_is_a_failed_result(ctx, monkeypatch):
    from pixir.tools import registry

    def boom(args, ctx):
        raise ZeroDivisionError("oops")

    monkeypatch.setitem(registry.RUNNERS, "read", boom)
    result = run_tool("read", {"path": "a"}, ctx)
    assert error_kind(result) == "tool_crashed" and "ZeroDivisionError" in result.error["message"]


def test_tool_schemas_match_the_registry():
    from pixir.tools.registry import RUNNERS
    from pixir.tools.schemas import TOOL_NAMES, TOOLS

    assert set(TOOL_NAMES) == set(RUNNERS)
    for tool in TOOLS:
        assert tool["parameters"]["additionalProperties"] is False
