"""The write tool."""

from __future__ import annotations

import os

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

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
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
