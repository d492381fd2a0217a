"""`-o FILE` writes where the user means (docs/reliability.md, "Files named by the user"):
through a symbolic link to its target; into a character device or a FIFO (a copy of
/dev/null, a pipe someone reads), never replacing it — `pixir -o /dev/null` as root used to
replace /dev/null with a regular file; a regular file is replaced atomically keeping its
mode and owner; a socket or a directory is refused before any model call (exit 2), and a
FIFO nobody reads is an error, not a hang.

The device here is a private copy of /dev/null made with mknod (root only): the real one
is never put at risk.
"""

from __future__ import annotations

import os
import socket
import stat
import threading

import pytest

from tests.fake_backend import step, text
from tests.reliability.conftest import record

pytestmark = pytest.mark.e2e

ROOT = os.geteuid() == 0


@pytest.fixture
def answering(pixir, fake):
    fake.script(*(step(text("the answer")) for _ in range(3)))
    pixir.login_api_key()
    return pixir


def test_a_character_device_is_written_into_never_replaced(answering, tmp_path):
    if not ROOT:
        pytest.skip("mknod of a character device needs root")
    null = tmp_path / "null"
    os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a private /dev/null
    result = answering.run("q", "-o", str(null))
    assert result.code == 0, result
    assert stat.S_ISCHR(os.lstat(null).st_mode), "the device was replaced by a file"
    assert not list(tmp_path.glob(".null.*")), "a temp file was left beside it"
    record("output_file_attacks")


def test_a_fifo_is_written_into_and_one_nobody_reads_is_an_error(answering, tmp_path):
    fifo = tmp_path / "answer.fifo"
    os.mkfifo(fifo)
    got = []

    def read() -> None:
        with open(fifo, "rb") as fh:
            got.append(fh.read())

    reader = threading.Thread(target=read)
    reader.start()
    result = answering.run("q", "-o", str(fifo))
    reader.join(timeout=30)
    assert result.code == 0, result
    assert got == [b"the answer"]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)

    lonely = answering.run("q", "-o", str(fifo), timeout=30)  # nobody reads it now
    assert lonely.code == 1, lonely
    assert "a FIFO that nobody reads" in lonely.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    record("output_file_attacks", 2)


def test_a_symlink_is_written_through_to_its_target(answering, tmp_path):
    real = tmp_path / "real.txt"
    real.write_text("old\n")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    dangling = tmp_path / "dangling.txt"
    dangling.symlink_to(tmp_path / "made.txt")
    assert answering.run("q", "-o", str(link)).code == 0
    assert link.is_symlink() and real.read_text() == "the answer"
    assert answering.run("q", "-o", str(dangling)).code == 0
    assert dangling.is_symlink() and (tmp_path / "made.txt").read_text() == "the answer"
    record("output_file_attacks", 2)


def test_a_regular_file_is_replaced_keeping_its_mode_and_owner(answering, tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old\n")
    os.chmod(target, 0o640)
    uid, gid = (65534, 65534) if ROOT else (os.getuid(), os.getgid())
    os.chown(target, uid, gid)
    assert answering.run("q", "-o", str(target)).code == 0
    info = target.stat()
    assert target.read_text() == "the answer"
    assert stat.S_IMODE(info.st_mode) == 0o640 and (info.st_uid, info.st_gid) == (uid, gid)
    record("output_file_attacks")


def test_a_socket_or_a_directory_is_refused_before_the_turn(answering, fake, tmp_path):
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "sock"))
    try:
        for target, what in ((tmp_path / "sock", "a socket"), (tmp_path, "a directory")):
            result = answering.run("q", "-o", str(target))
            assert result.code == 2, result
            assert f"is {what}" in result.stderr, result
    finally:
        sock.close()
    assert stat.S_ISSOCK(os.lstat(tmp_path / "sock").st_mode)
    assert fake.responses_requests() == []
    record("output_file_attacks", 2)


def test_dev_stdout_is_written_into_whatever_the_shell_opened(answering, tmp_path):
    """`/dev/stdout` is a link to an open descriptor: a pipe has no path to replace, and a
    file the shell opened must keep what pixir printed there too."""
    piped = answering.shell("PIXIR -q -o /dev/stdout q | cat")
    assert piped.returncode == 0, piped
    assert piped.stdout.count(b"the answer") == 2, piped  # printed, then written into it
    out = tmp_path / "out.txt"
    to_file = answering.shell(f"PIXIR -q -o /dev/stdout q > {out}")
    assert to_file.returncode == 0, to_file
    assert out.read_bytes().count(b"the answer") == 2  # appended to, never replaced
    # the same file reached by another road: a link to /proc/self/fd, and `>>`
    (tmp_path / "fds").symlink_to("/proc/self/fd")
    out.write_bytes(b"PRECIOUS\n")
    linked = answering.shell(f"PIXIR -q -o {tmp_path}/fds/1 q >> {out}")
    assert linked.returncode == 0, linked
    kept = out.read_bytes()
    assert kept.startswith(b"PRECIOUS\n") and kept.count(b"the answer") == 2, kept
    record("output_file_attacks", 3)
