"""The write tool."""

from __future__ import annotations

import os

from pixir.tools import write
from tests.unit.helpers.tools import call, error_kind


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

    def broken_rename(src, dst, **dir_fds):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "rename", broken_rename)
    result = call(ctx, "write", path="keep.txt", content="new")
    assert error_kind(result) == "io_error"
    assert target.read_text() == "old"
    assert not [p for p in os.listdir(ws) if "pixir-tmp" in p]


def test_symlink_inside_the_workspace_writes_its_target(ctx, ws):
    (ws / "real.txt").write_text("old")
    (ws / "alias.txt").symlink_to(ws / "real.txt")
    assert call(ctx, "write", path="alias.txt", content="new").ok
    assert (ws / "alias.txt").is_symlink() and (ws / "real.txt").read_text() == "new"


def test_write_into_a_directory_fails(ctx, ws):
    (ws / "d").mkdir()
    assert error_kind(call(ctx, "write", path="d", content="x")) == "is_directory"
    assert error_kind(call(ctx, "write", path=".", content="x")) == "is_directory"


def test_a_directory_swapped_for_a_link_out_after_the_check_never_gets_the_write(
    ctx, ws, tmp_path, monkeypatch
):
    """The race a hostile repository (or a command the model left running) can win: `sub`
    is a real directory when the path is checked and a link to a folder outside when the
    file is written. The write is refused; nothing lands outside."""
    from pixir.tools import write as write_tool

    outside = tmp_path / "outside"
    outside.mkdir()
    (ws / "sub").mkdir()
    checked = write_tool.resolve_for_write

    def check_then_swap(workspace, path):
        target = checked(workspace, path)
        os.rename(ws / "sub", ws / "sub.real")
        (ws / "sub").symlink_to(outside)
        return target

    monkeypatch.setattr(write_tool, "resolve_for_write", check_then_swap)
    result = call(ctx, "write", path="sub/f.txt", content="escaped?")
    assert error_kind(result) == "path_changed"
    assert list(outside.iterdir()) == []


def test_write_reports_its_change_as_a_diff_for_people(ctx, ws):
    created = call(ctx, "write", path="new.txt", content="one\ntwo\n")
    assert created.diff.splitlines()[2:] == ["@@ -0,0 +1,2 @@", "+one", "+two"]
    assert created.summary == "8 bytes · +2 −0"
    assert "@@" not in created.output  # the model wrote the content: no diff for it
    replaced = call(ctx, "write", path="new.txt", content="one\nthree\n")
    assert replaced.diff.splitlines()[-2:] == ["-two", "+three"]
    assert replaced.summary == "10 bytes · +1 −1"


def test_write_over_a_binary_or_huge_file_has_no_diff(ctx, ws, monkeypatch):
    (ws / "blob").write_bytes(b"\x00\xff\x00")
    result = call(ctx, "write", path="blob", content="text")
    assert result.ok and result.diff == "" and result.summary == "4 bytes"
    monkeypatch.setattr(write, "DIFF_MAX_BYTES", 3)
    (ws / "big.txt").write_text("four")
    assert call(ctx, "write", path="big.txt", content="x").diff == ""
