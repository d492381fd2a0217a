"""The files the model touches (docs/reliability.md, "Files the model touches"), through
the built dist/pixir against the fake: `write`/`edit` keep owner, group and mode, refuse
files the user may not write (0444, immutable, append-only), refuse an edit of a file
changed since the model read it and never lose what another program appends meanwhile, and
never follow a symlink out of the workspace, also one swapped in mid-operation; `read`
refuses FIFOs, devices, sockets and `/dev/stdin` without hanging, and reads at most what it
returns (a 2 GB sparse file, a 256 MiB line).
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import threading
import time

import pytest

from tests.fake_backend import step, text, tool_call
from tests.reliability.conftest import check_log, peak_rss_kib, record

pytestmark = pytest.mark.e2e

ROOT = os.geteuid() == 0


def results(pixir) -> list[dict]:
    return [e["data"] for e in pixir.log_events() if e["type"] == "tool_result"]


def kinds(pixir) -> list[str | None]:
    return [None if r["ok"] else r["error"]["kind"] for r in results(pixir)]


def chattr(flag: str, path) -> bool:
    try:
        done = subprocess.run(["chattr", flag, str(path)], capture_output=True, check=False)
    except FileNotFoundError:
        return False
    return done.returncode == 0


def test_write_and_edit_keep_owner_group_and_mode(pixir, fake):
    uid, gid = (65534, 65534) if ROOT else (os.getuid(), os.getgid())
    for name in ("w.txt", "e.txt"):
        path = pixir.write_file(name, "version = 1\n")
        os.chown(path, uid, gid)
        os.chmod(path, 0o640)
    fake.script(
        step(
            tool_call("write", {"path": "w.txt", "content": "version = 2\n"}),
            tool_call("edit", {"path": "e.txt", "old_string": "1", "new_string": "2"}),
        ),
        step(text("done")),
    )
    pixir.login_api_key()
    result = pixir.run("update the two files")
    assert result.code == 0, result
    assert kinds(pixir) == [None, None]
    for name in ("w.txt", "e.txt"):
        info = pixir.path(name).stat()
        assert (info.st_uid, info.st_gid) == (uid, gid), name
        assert stat.S_IMODE(info.st_mode) == 0o640, name
        assert pixir.read_file(name) == "version = 2\n"
    record("file_attacks", 2)


def test_files_the_user_may_not_write_are_refused(pixir, fake):
    locked = pixir.write_file("locked.txt", "version = 1\n")
    os.chmod(locked, 0o444)
    pinned = pixir.write_file("pinned.txt", "version = 1\n")
    flags = [flag for flag, name in (("+i", "pinned.txt"),) if chattr(flag, pixir.path(name))]
    fake.script(
        step(
            tool_call("write", {"path": "locked.txt", "content": "x"}),
            tool_call("edit", {"path": "locked.txt", "old_string": "1", "new_string": "2"}),
            tool_call("write", {"path": "pinned.txt", "content": "x"}),
            tool_call("edit", {"path": "pinned.txt", "old_string": "1", "new_string": "2"}),
        ),
        step(text("left them alone")),
    )
    pixir.login_api_key()
    try:
        result = pixir.run("change them")
    finally:
        for flag in flags:
            chattr(flag.replace("+", "-"), pinned)
    assert result.code == 0, result
    expected = ["read_only_file"] * 2 + (["read_only_file"] * 2 if flags else [None, None])
    assert kinds(pixir) == expected
    assert "mode 0444" in results(pixir)[0]["error"]["message"]
    assert pixir.read_file("locked.txt") == "version = 1\n"
    assert stat.S_IMODE(locked.stat().st_mode) == 0o444
    if flags:
        assert "immutable" in results(pixir)[2]["error"]["message"]
        assert pixir.read_file("pinned.txt") == "version = 1\n"
    record("file_attacks", 4 if flags else 2)


def test_an_edit_of_a_file_changed_since_it_was_read_is_refused(pixir, fake):
    pixir.write_file("notes.txt", "alpha\nbeta\n")
    fake.script(
        step(tool_call("read", {"path": "notes.txt"})),
        step(tool_call("bash", {"command": "echo gamma >> notes.txt"})),  # changed meanwhile
        step(tool_call("edit", {"path": "notes.txt", "old_string": "alpha", "new_string": "A"})),
        step(text("it changed; I will read it again")),
    )
    pixir.login_api_key()
    result = pixir.run("edit notes")
    assert result.code == 0, result
    assert kinds(pixir) == [None, None, "changed_since_read"]
    assert "read it again" in results(pixir)[2]["error"]["message"].lower()
    assert pixir.read_file("notes.txt") == "alpha\nbeta\ngamma\n"
    record("file_attacks")


def test_appends_by_another_program_during_edits_are_never_lost(pixir, fake):
    journal = pixir.write_file("journal.txt", "title: draft\n")
    edits = [
        tool_call("edit", {"path": "journal.txt", "old_string": old, "new_string": new})
        for _ in range(15)
        for old, new in (("title: ", "t: "), ("t: ", "title: "))
    ]
    fake.script(step(*edits), step(text("edited")))
    pixir.login_api_key()
    stop = threading.Event()
    written: list[int] = []

    def append() -> None:  # what `echo "entry N" >> journal.txt` in a loop does
        n = 0
        while not stop.is_set():
            with open(journal, "a") as fh:
                fh.write(f"entry {n}\n")
            written.append(n)
            n += 1
            time.sleep(0.001)

    appender = threading.Thread(target=append)
    appender.start()
    try:
        result = pixir.run("edit the journal")
    finally:
        stop.set()
        appender.join()
    assert result.code == 0, result
    assert set(kinds(pixir)) <= {None, "changed_since_read", "no_match"}, kinds(pixir)
    entries = [line for line in journal.read_text().splitlines() if line.startswith("entry ")]
    assert sorted(entries) == sorted(f"entry {n}" for n in written), "an appended line was lost"
    assert written, "the appender never ran"
    record("file_attacks")


def test_a_symlink_swapped_in_mid_operation_never_leads_out(pixir, fake, tmp_path):
    """A process swaps `sub` between a real directory and a link to a folder outside the
    workspace, as fast as it can, while the model writes 200 files into `sub`: every write
    lands inside or is refused — nothing ever appears outside."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (pixir.workspace / "sub").mkdir()
    steps = [
        step(
            *(tool_call("write", {"path": f"sub/f{n}_{k}.txt", "content": "x"}) for k in range(40))
        )
        for n in range(5)
    ]
    fake.script(*steps, step(text("written")))
    pixir.login_api_key()
    swapper = subprocess.Popen([sys.executable, "-c", SWAPPER, str(pixir.workspace), str(outside)])
    try:
        result = pixir.run("write them", timeout=120)
    finally:
        swapper.kill()
        swapper.wait()
    assert result.code == 0, result
    assert list(outside.iterdir()) == [], "a write followed the swapped link out"
    got = set(kinds(pixir))
    assert got <= {None, "outside_workspace", "path_changed", "io_error"}, got
    check_log(pixir.sessions()[-1])
    record("file_attacks")


SWAPPER = """
import os, sys, time
ws, outside = sys.argv[1], sys.argv[2]
while True:
    try:
        os.rename(ws + "/sub", ws + "/sub.real")
        os.symlink(outside, ws + "/sub")
        time.sleep(0.004)
        os.unlink(ws + "/sub")
        os.rename(ws + "/sub.real", ws + "/sub")
        time.sleep(0.0002)
    except OSError:
        pass
"""


def test_read_refuses_what_is_not_a_regular_file_without_hanging(pixir, fake):
    os.mkfifo(pixir.path("pipe"))
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(pixir.path("sock")))
    fake.script(
        step(
            tool_call("read", {"path": "pipe"}),
            tool_call("read", {"path": "/dev/stdin"}),
            tool_call("read", {"path": "/dev/zero"}),
            tool_call("read", {"path": "sock"}),
        ),
        step(text("none of those are files")),
    )
    pixir.login_api_key()
    # stdin: a pipe that stays open and silent, as in `tail -f x | pixir --no-stdin ...`
    silent, held = os.pipe()
    try:
        proc = pixir.popen("look", "--no-stdin", stdin=silent)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
            pytest.fail("pixir hung reading a FIFO or /dev/stdin")
    finally:
        listener.close()
        os.close(silent)
        os.close(held)
    assert proc.returncode == 0, err.decode()
    assert kinds(pixir) == ["not_regular_file"] * 4
    messages = [r["error"]["message"] for r in results(pixir)]
    assert "FIFO" in messages[0] and "FIFO" in messages[1]
    assert "device" in messages[2] and "socket" in messages[3]
    record("file_attacks", 4)


def test_read_memory_is_bounded_by_what_it_returns(pixir, fake):
    with open(pixir.path("sparse.log"), "wb") as fh:  # 8 KiB of text, then 2 GB of holes
        fh.write(b"line of text\n" * 640)
        fh.truncate(2 << 30)
    with open(pixir.path("oneline.txt"), "wb") as fh:  # one 256 MiB line
        block = b"a" * (1 << 20)
        for _ in range(256):
            fh.write(block)
        fh.write(b"\n")
    fake.script(
        step(tool_call("read", {"path": "sparse.log"})),
        step(tool_call("read", {"path": "oneline.txt"})),
        step(text("read both")),
    )
    pixir.login_api_key()
    code, peak_kib = peak_rss_kib(pixir, "read them")
    assert code == 0
    assert peak_kib < 200 * 1024, f"peak RSS {peak_kib} KiB reading a 2 GB and a 256 MiB file"
    [sparse, oneline] = results(pixir)
    assert sparse["ok"] and "binary data (NUL bytes)" in sparse["output"]
    assert oneline["ok"] and "was cut at 50 KiB" in oneline["output"]
    assert len(json.dumps(oneline["output"])) < 60_000
    record("file_attacks", 2)


def test_read_still_shows_a_fifo_free_workspace_normally(pixir, fake):
    """The control: a regular file reads as before (the refusals above are not blanket)."""
    pixir.write_file("ok.txt", "hello\n")
    fake.script(step(tool_call("read", {"path": "ok.txt"})), step(text("fine")))
    pixir.login_api_key()
    assert pixir.run("read", "--no-stdin").code == 0
    assert results(pixir)[0]["output"] == "hello\n"
