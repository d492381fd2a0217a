"""pixir/tools/files.py: write and edit reach files without following symlinks, keep
owner, group and mode, refuse what the user may not write; edit refuses a file changed since
the model read it and loses no append made while it runs."""

from __future__ import annotations

import os
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest

from pixir.tools import edit as edit_tool
from pixir.tools import files
from pixir.tools.workspace import resolve_for_write
from tests.unit.helpers.tools import call, error_kind

ROOT = os.geteuid() == 0


def chattr(flag: str, path: Path) -> bool:
    """chattr on `path`; False where the filesystem or the user cannot."""
    try:
        done = subprocess.run(["chattr", flag, str(path)], capture_output=True, check=False)
    except FileNotFoundError:
        return False
    return done.returncode == 0


@pytest.fixture
def outside(tmp_path):
    folder = tmp_path / "outside"
    folder.mkdir()
    return folder


# -- a symlink swapped in mid-operation ---------------------------------------------------------


def test_a_parent_swapped_for_a_symlink_after_the_check_is_refused(ws, outside):
    (ws / "sub").mkdir()
    target = resolve_for_write(ws, "sub/f.txt")  # checked: inside the workspace
    os.rename(ws / "sub", ws / "sub.real")  # ... then swapped before the write
    (ws / "sub").symlink_to(outside)
    with pytest.raises(files.ToolFailure) as failure:
        files.open_place(Path(os.path.realpath(ws)), target, "sub/f.txt", create=True)
    assert failure.value.kind == "path_changed"
    assert list(outside.iterdir()) == []


def test_a_file_swapped_for_a_symlink_is_replaced_as_a_link_never_written_through(ws, outside):
    (ws / "f.txt").write_text("old")
    (outside / "secret.txt").write_text("keep")
    place = files.open_place(Path(os.path.realpath(ws)), ws / "f.txt", "f.txt", create=True)
    with place:
        previous = place.lstat()
        os.unlink(ws / "f.txt")
        (ws / "f.txt").symlink_to(outside / "secret.txt")
        with pytest.raises(files.ToolFailure) as failure:  # edit opens it: refused
            place.open_regular()
        assert failure.value.kind == "path_changed"
        os.close(files.replace(place, b"new", previous))  # write: the link itself is replaced
    assert (outside / "secret.txt").read_text() == "keep"
    assert not (ws / "f.txt").is_symlink() and (ws / "f.txt").read_text() == "new"


def test_writes_racing_a_symlink_swapper_never_land_outside(ctx, ws, outside):
    (ws / "sub").mkdir()
    stop = threading.Event()

    def swap() -> None:
        while not stop.is_set():
            try:
                os.rename(ws / "sub", ws / "sub.real")
                (ws / "sub").symlink_to(outside)
                os.unlink(ws / "sub")
                os.rename(ws / "sub.real", ws / "sub")
            except OSError:
                pass

    swapper = threading.Thread(target=swap)
    swapper.start()
    try:
        kinds = set()
        for n in range(300):
            result = call(ctx, "write", path=f"sub/f{n}.txt", content="x")
            kinds.add("ok" if result.ok else error_kind(result))
    finally:
        stop.set()
        swapper.join()
    assert list(outside.iterdir()) == []
    assert kinds <= {"ok", "path_changed", "outside_workspace", "io_error"}, kinds


# -- owner, group, mode, and files the user may not write ------------------------------------------


@pytest.mark.parametrize("tool", ["write", "edit"])
def test_owner_group_and_mode_are_kept(ctx, ws, tool):
    target = ws / "owned.txt"
    target.write_text("value = 1\n")
    uid, gid = (65534, 65534) if ROOT else (os.getuid(), os.getgid())
    os.chown(target, uid, gid)
    os.chmod(target, 0o640)
    if tool == "write":
        result = call(ctx, "write", path="owned.txt", content="value = 2\n")
    else:
        result = call(ctx, "edit", path="owned.txt", old_string="1", new_string="2")
    assert result.ok, result.output
    info = target.stat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (uid, gid, 0o640)
    assert target.read_text() == "value = 2\n"


@pytest.mark.parametrize("tool", ["write", "edit"])
def test_a_read_only_file_is_refused_even_for_root(ctx, ws, tool):
    target = ws / "locked.txt"
    target.write_text("value = 1\n")
    os.chmod(target, 0o444)
    if tool == "write":
        result = call(ctx, "write", path="locked.txt", content="value = 2\n")
    else:
        result = call(ctx, "edit", path="locked.txt", old_string="1", new_string="2")
    assert error_kind(result) == "read_only_file" and "mode 0444" in result.error["message"]
    assert target.read_text() == "value = 1\n" and stat.S_IMODE(target.stat().st_mode) == 0o444


@pytest.mark.parametrize(("flag", "said"), [("+i", "immutable"), ("+a", "append-only")])
def test_immutable_and_append_only_files_are_refused(ctx, ws, flag, said):
    target = ws / "pinned.txt"
    target.write_text("value = 1\n")
    if not chattr(flag, target):
        pytest.skip(f"chattr {flag} is not available here (needs root and ext4/xfs/btrfs)")
    try:
        result = call(ctx, "write", path="pinned.txt", content="value = 2\n")
        assert error_kind(result) == "read_only_file" and said in result.error["message"]
        result = call(ctx, "edit", path="pinned.txt", old_string="1", new_string="2")
        assert error_kind(result) == "read_only_file"
    finally:
        chattr(flag.replace("+", "-"), target)
    assert target.read_text() == "value = 1\n"


@pytest.mark.parametrize("tool", ["write", "edit"])
def test_a_fifo_in_the_workspace_is_never_replaced(ctx, ws, tool):
    os.mkfifo(ws / "pipe")
    if tool == "write":
        result = call(ctx, "write", path="pipe", content="x")
    else:
        result = call(ctx, "edit", path="pipe", old_string="a", new_string="b")
    assert error_kind(result) == "not_regular_file" and "FIFO" in result.error["message"]
    assert stat.S_ISFIFO(os.lstat(ws / "pipe").st_mode)


# -- changed since read ----------------------------------------------------------------------------


def test_an_edit_of_a_file_changed_since_it_was_read_is_refused(ctx, ws):
    target = ws / "notes.txt"
    target.write_text("alpha\nbeta\n")
    assert call(ctx, "read", path="notes.txt").ok
    with open(target, "a") as fh:  # someone else adds a line
        fh.write("gamma\n")
    result = call(ctx, "edit", path="notes.txt", old_string="alpha", new_string="ALPHA")
    assert error_kind(result) == "changed_since_read"
    assert target.read_text() == "alpha\nbeta\ngamma\n"
    assert call(ctx, "read", path="notes.txt").ok  # reading again clears it
    assert call(ctx, "edit", path="notes.txt", old_string="alpha", new_string="ALPHA").ok
    # the model's own write and edit count as seeing the file
    assert call(ctx, "edit", path="notes.txt", old_string="beta", new_string="BETA").ok
    assert target.read_text() == "ALPHA\nBETA\ngamma\n"


def test_a_change_while_the_edit_runs_is_refused_and_kept(ctx, ws, monkeypatch):
    target = ws / "log.txt"
    target.write_text("start\n")
    real_replace = files.replace

    def append_meanwhile(place, data, previous, **kw):
        with open(target, "a") as fh:
            fh.write("appended meanwhile\n")
        return real_replace(place, data, previous, **kw)

    monkeypatch.setattr(files, "replace", append_meanwhile)
    result = call(ctx, "edit", path="log.txt", old_string="start", new_string="begin")
    assert error_kind(result) == "changed_since_read"
    assert target.read_text() == "start\nappended meanwhile\n"
    assert not [p for p in os.listdir(ws) if "pixir-tmp" in p]


def test_an_append_landing_on_the_old_file_around_the_rename_is_carried_over(ctx, ws, monkeypatch):
    target = ws / "log.txt"
    target.write_text("start\n")
    late = open(target, "a")  # noqa: SIM115 - an appender that opened the file before the rename
    real_rename = os.rename

    def rename_then_append(src, dst, **kw):
        real_rename(src, dst, **kw)
        late.write("late line\n")
        late.flush()

    monkeypatch.setattr(os, "rename", rename_then_append)
    try:
        result = call(ctx, "edit", path="log.txt", old_string="start", new_string="begin")
    finally:
        late.close()
    assert result.ok, result.output
    assert target.read_text() == "begin\nlate line\n"
    assert "10 bytes another program appended" in result.output


def test_a_steady_appender_never_loses_a_line(ctx, ws):
    """Another program appends a numbered line every moment (open, append, close: what
    `echo >> file` does) while edits run: every line ends up in the file."""
    target = ws / "journal.txt"
    target.write_text("title: draft\n")
    stop = threading.Event()
    written = []

    def append() -> None:
        n = 0
        while not stop.is_set():
            with open(target, "a") as fh:
                fh.write(f"entry {n}\n")
            written.append(n)
            n += 1
            time.sleep(0.0005)

    appender = threading.Thread(target=append)
    appender.start()
    try:
        outcomes = []
        for _ in range(40):
            result = call(ctx, "edit", path="journal.txt", old_string="title: ", new_string="t: ")
            if not result.ok:
                outcomes.append(error_kind(result))
                continue
            outcomes.append("ok")
            call(ctx, "edit", path="journal.txt", old_string="t: ", new_string="title: ")
    finally:
        stop.set()
        appender.join()
    text = target.read_text()
    lines = text.splitlines()
    entries = [line for line in lines if line.startswith("entry ")]
    # each line once; one carried over from the old file may follow one written to the new
    assert sorted(entries) == sorted(f"entry {n}" for n in written), "an appended line was lost"
    assert set(outcomes) <= {"ok", "changed_since_read"}, outcomes


def test_a_file_over_the_edit_limit_is_refused(ctx, ws, monkeypatch):
    monkeypatch.setattr(edit_tool, "MAX_EDIT_BYTES", 1000)
    (ws / "big.txt").write_text("x = 1\n" * 200)
    result = call(ctx, "edit", path="big.txt", old_string="x = 1\nx", new_string="y")
    assert error_kind(result) == "file_too_large"
