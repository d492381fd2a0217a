"""Durable writes: atomic_write replaces a file whole or not at all, with the right mode
(and owner), never leaves its temporary file behind unless killed; temp_files and
remove_temps find and tidy what a killed write left; write_output and output_target pick
how a user-named output file is written."""

import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pixir import fsutil
from pixir.fsutil import (
    TEMP_SUFFIX,
    atomic_write,
    output_target,
    remove_temps,
    temp_files,
    write_output,
)


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode_of(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(TEMP_SUFFIX))


def test_a_new_file_gets_the_data_and_0666_less_the_umask(tmp_path, umask_022):
    target = tmp_path / "new.txt"
    atomic_write(target, b"hello\n")
    assert target.read_bytes() == b"hello\n"
    assert mode_of(target) == 0o644
    assert leftovers(tmp_path) == []


def test_an_existing_file_keeps_its_mode_unless_one_is_given(tmp_path, umask_022):
    target = tmp_path / "kept.txt"
    target.write_bytes(b"old")
    os.chmod(target, 0o640)
    atomic_write(target, b"new")
    assert (target.read_bytes(), mode_of(target)) == (b"new", 0o640)
    atomic_write(target, b"newer", mode=0o600)
    assert (target.read_bytes(), mode_of(target)) == (b"newer", 0o600)
    os.chmod(target, 0o755)  # an executable script stays executable
    atomic_write(target, b"#!/bin/sh\n")
    assert mode_of(target) == 0o755


def test_the_file_is_replaced_by_a_rename_not_rewritten_in_place(tmp_path):
    """A reader that opened the old file keeps reading the old content whole; the path
    names a new inode with the new content."""
    target = tmp_path / "data.json"
    target.write_bytes(b"old content")
    old_inode = target.stat().st_ino
    with open(target, "rb") as reader:
        atomic_write(target, b"new content, longer")
        assert reader.read() == b"old content"
    assert target.read_bytes() == b"new content, longer"
    assert target.stat().st_ino != old_inode


def test_the_temporary_file_is_private_while_the_data_is_written(tmp_path, monkeypatch):
    """A secret is never readable by others, not even before the final chmod."""
    seen = []
    real_fsync = os.fsync

    def spy(fd):
        seen.append(stat.S_IMODE(os.fstat(fd).st_mode))
        real_fsync(fd)

    monkeypatch.setattr(fsutil.os, "fsync", spy)
    atomic_write(tmp_path / "auth.json", b"secret", mode=0o644)
    assert seen[0] == 0o600  # the file's own fsync, before the chmod to 0644
    assert mode_of(tmp_path / "auth.json") == 0o644


@pytest.mark.parametrize("fail_in", ["replace", "chmod", "write"])
def test_a_failed_write_leaves_the_old_content_and_no_temporary_file(
    tmp_path, monkeypatch, fail_in
):
    target = tmp_path / "config.json"
    target.write_bytes(b"old")
    data: object = b"new"
    if fail_in == "write":
        data = "not bytes"  # fh.write raises TypeError half-way
    else:

        def refuse(*args, **kwargs):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(fsutil.os, fail_in, refuse)
    with pytest.raises((OSError, TypeError)):
        atomic_write(target, data)
    monkeypatch.undo()
    assert target.read_bytes() == b"old"
    assert leftovers(tmp_path) == [] and temp_files(target) == []


def test_an_interrupt_mid_write_is_cleaned_up_too(tmp_path, monkeypatch):
    target = tmp_path / "log.jsonl"

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(fsutil.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, b"x")
    assert not target.exists() and leftovers(tmp_path) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="only root may give a file another owner")
def test_the_owner_of_a_replaced_file_is_kept_where_allowed(tmp_path):
    target = tmp_path / "shared.txt"
    target.write_bytes(b"old")
    os.chown(target, 12345, 23456)
    atomic_write(target, b"new")
    info = target.stat()
    assert (info.st_uid, info.st_gid) == (12345, 23456)


def test_a_write_killed_before_its_rename_leaves_a_temp_file_that_temp_files_finds(tmp_path):
    target = tmp_path / "auth.json"
    target.write_bytes(b"old")
    killed = (
        "import os, sys; from pathlib import Path; from pixir import fsutil\n"
        "fsutil.os.replace = lambda *a: os._exit(9)  # dies where a SIGKILL could\n"
        "fsutil.atomic_write(Path(sys.argv[1]), b'new secret')\n"
    )
    proc = subprocess.run([sys.executable, "-c", killed, str(target)], check=False)
    assert proc.returncode == 9
    assert target.read_bytes() == b"old"
    [left] = temp_files(target)
    assert left.parent == tmp_path and left.name.startswith(".auth.json.")
    assert left.read_bytes() == b"new secret"
    assert temp_files(target, before=left.stat().st_mtime) == []  # a newer one may be live
    assert temp_files(target, before=left.stat().st_mtime + 1) == [left]
    remove_temps(target)
    assert temp_files(target) == [] and target.read_bytes() == b"old"


def test_temp_files_finds_only_the_leftovers_of_that_target(tmp_path):
    target = tmp_path / "a.txt"
    mine = [tmp_path / f".a.txt.{tag}{TEMP_SUFFIX}" for tag in ("x1", "y2")]
    others = [
        tmp_path / f".b.txt.x1{TEMP_SUFFIX}",  # another file's
        tmp_path / ".a.txt.x1.tmp",  # not ours
        tmp_path / f"a.txt.x1{TEMP_SUFFIX}",  # no leading dot
    ]
    for path in [*mine, *others]:
        path.write_bytes(b"")
    (tmp_path / f".a.txt.dir{TEMP_SUFFIX}").mkdir()  # not a file
    (tmp_path / f".a.txt.link{TEMP_SUFFIX}").symlink_to(others[0])  # not a file either
    assert sorted(temp_files(target)) == sorted(mine)
    remove_temps(target)
    assert temp_files(target) == [] and all(p.exists() for p in others)
    assert (tmp_path / f".a.txt.dir{TEMP_SUFFIX}").is_dir()


def test_temp_files_of_a_missing_folder_is_nothing(tmp_path):
    assert temp_files(tmp_path / "gone" / "a.txt") == []
    remove_temps(tmp_path / "gone" / "a.txt")  # nothing to do, no error
    fsutil.fsync_dir(tmp_path / "gone")  # best effort: no error


def test_output_target_replaces_files_and_writes_into_devices_and_fifos(tmp_path):
    real = tmp_path / "out.txt"
    real.write_text("x")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert output_target(real) == (real, "replace")
    assert output_target(tmp_path / "new.txt") == (tmp_path / "new.txt", "replace")
    assert output_target(link) == (real, "replace")  # the link's target, never the link
    assert output_target(fifo) == (fifo, "into")
    assert output_target("/dev/null")[1] == "into"
    with pytest.raises(ValueError, match="a directory"):
        output_target(tmp_path)


def test_write_output_through_a_link_keeps_the_link(tmp_path):
    real = tmp_path / "out.txt"
    real.write_text("old")
    os.chmod(real, 0o600)
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    write_output(link, b"new")
    assert link.is_symlink() and real.read_bytes() == b"new" and mode_of(real) == 0o600
    write_output("/dev/null", b"discarded")  # written into, not replaced


def test_write_output_into_a_fifo_reaches_its_reader_and_one_without_is_an_error(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(OSError):  # nobody reads: an error, not a hang
        write_output(fifo, b"lost")
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    data = b"z" * 200_000  # more than a pipe holds: written in pieces
    deadline = time.monotonic() + 60
    while True:  # until the reader thread has opened its end
        try:
            write_output(fifo, data)
            break
        except OSError:
            assert time.monotonic() < deadline, "the reader never opened the FIFO"
            time.sleep(0.01)
    reader.join(timeout=60)
    assert got == [data]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # still the FIFO, never replaced


def test_output_target_writes_into_what_an_open_descriptor_names(tmp_path):
    read_end, write_end = os.pipe()
    try:
        for path in (f"/proc/self/fd/{write_end}", f"/dev/fd/{write_end}"):
            assert fsutil.output_target(Path(path)) == (Path(path), "into")
        link = tmp_path / "out"
        link.symlink_to(f"/proc/self/fd/{write_end}")  # a link to one is one too
        assert fsutil.output_target(link) == (link, "into")
        fsutil.write_output(link, b"through the pipe")
        assert os.read(read_end, 100) == b"through the pipe"
        fd = os.open(tmp_path, os.O_RDONLY)
        try:
            with pytest.raises(ValueError, match="a directory"):
                fsutil.output_target(Path(f"/proc/self/fd/{fd}"))
        finally:
            os.close(fd)
    finally:
        os.close(read_end)
        os.close(write_end)


STDOUT_SCRIPT = """
import os, sys
from pathlib import Path
sys.path.insert(0, {repo!r})
from pixir import fsutil
print("printed", flush=True)
for name in sys.argv[1:]:
    name = name.replace("TID", str(os.getpid()))  # the main thread's id is the pid
    assert fsutil.output_target(Path(name))[1] == "into", name
    fsutil.write_output(Path(name), b"written ")
print("and printed again", flush=True)
"""


def test_pixirs_own_stdout_is_written_at_its_offset_however_it_is_named(tmp_path):
    """`> out.txt` or `>> out.txt` with `-o /dev/stdout` (or a link that reaches fd 1 by
    another road): never replaced, written where the prints go, in order."""
    (tmp_path / "fds").symlink_to("/proc/self/fd")
    names = ["/dev/stdout", str(tmp_path / "fds" / "1"), "/proc/self/task/TID/fd/1"]
    script = STDOUT_SCRIPT.format(repo=str(Path(__file__).resolve().parents[2]))
    out = tmp_path / "out.txt"
    out.write_bytes(b"PRECIOUS\n")
    with open(out, "ab") as fh:  # `>> out.txt`
        done = subprocess.run([sys.executable, "-c", script, *names], stdout=fh, timeout=60)
    assert done.returncode == 0
    assert out.read_bytes() == b"PRECIOUS\nprinted\nwritten written written and printed again\n"
