"""The edit tool."""

from __future__ import annotations

import json
import os

from tests.unit.helpers.tools import call, error_kind


def test_edit_unique_exact_match_with_diff(ctx, ws):
    (ws / "a.py").write_text("def f():\n    return 1\n")
    result = call(ctx, "edit", path="a.py", old_string="return 1", new_string="return 2")
    assert result.ok and (ws / "a.py").read_text() == "def f():\n    return 2\n"
    assert "--- a/a.py" in result.output and "-    return 1" in result.output
    assert "+    return 2" in result.output and result.summary == "+1 −1"


def test_the_diff_breaks_lines_only_at_newlines(ctx, ws):
    # a lone CR, form feed or U+2028 inside a line is part of it, not a line break: the
    # diff shows the one line that will be written (the terminal shows the characters)
    (ws / "a.txt").write_text("keep\none\n")
    new = "B\rC\fD\u2028E\x85F"
    result = call(ctx, "edit", path="a.txt", old_string="one", new_string=new)
    assert result.ok and result.summary == "+1 −1", result.output
    assert f"+{new}\n" in result.output + "\n" and "-one" in result.output


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


def test_edit_long_diff_is_cut(ctx, ws):
    (ws / "a.txt").write_text("x\n" * 500)
    result = call(ctx, "edit", path="a.txt", old_string="x", new_string="y", replace_all=True)
    assert result.ok and "diff cut" in result.output
