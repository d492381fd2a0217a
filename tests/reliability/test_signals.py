"""SIGTERM and SIGHUP stop pixir the way Ctrl-C does (docs/reliability.md, "Signals"):
`timeout pixir …` in CI and a dropped SSH session kill the running command's process group
(it never finishes on its own later), the Log is closed consistently (the call answered, a
`turn_interrupted` naming the signal), the exit code is 143 / 129, and the session resumes.

Through the built dist/pixir against the fake: signals sent with kill(2), and a real hang-up
(the pseudo-terminal pixir runs on is closed under it).
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import signal
import subprocess
import termios
import time

import pytest

from tests.fake_backend import stall, step, text, tool_call
from tests.harness import wait_for_file
from tests.reliability.conftest import check_log, record

pytestmark = pytest.mark.e2e

# A command that deletes a file a few seconds after it starts, unless it is killed.
# In a folder: the sandbox lets commands create and delete files only below the workspace's
# top level.
COMMAND = (
    "cd work; echo $$ > bash.pid; sleep 1000 & echo $! > bg.pid; "
    "sleep 2; rm -f precious.txt; echo deleted"
)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def wait_dead(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive(pid):
        time.sleep(0.02)
    return not alive(pid)


def check_stopped(pixir, reason: str, label: str) -> None:
    """The command's group is dead and stays dead; the Log is closed consistently."""
    for name in ("bash.pid", "bg.pid"):
        pid = int(pixir.read_file(f"work/{name}"))
        assert wait_dead(pid), f"{name} ({pid}) outlived pixir"
    time.sleep(2.5)  # the command would have deleted the file by now
    assert pixir.read_file("work/precious.txt") == "keep me\n"
    events = check_log(pixir.sessions()[-1])
    [result] = [e["data"] for e in events if e["type"] == "tool_result"]
    assert result["error"]["kind"] == "interrupted" and label in result["error"]["message"]
    assert events[-1]["type"] == "turn_interrupted"
    assert events[-1]["data"]["reason"] == reason


def resume_works(pixir, fake) -> None:
    fake.script(step(text("resumed"), match={"last_user": "carry on"}))
    again = pixir.run("-c", "carry on")
    assert again.code == 0 and again.stdout == "resumed\n", again


@pytest.mark.parametrize(
    ("signum", "code", "reason", "kind", "label"),
    [
        (signal.SIGTERM, 143, "sigterm", "terminated", "SIGTERM"),
        (signal.SIGHUP, 129, "sighup", "hangup", "SIGHUP"),
    ],
)
def test_a_signal_during_a_command_kills_its_group_and_closes_the_log(
    pixir, fake, signum, code, reason, kind, label
):
    pixir.write_file("work/precious.txt", "keep me\n")
    fake.script(step(tool_call("bash", {"command": COMMAND})))
    pixir.login_api_key()
    proc = pixir.popen("run the cleanup", stdin=subprocess.DEVNULL)
    try:
        wait_for_file(pixir.path("work/bash.pid"), timeout=30)
        wait_for_file(pixir.path("work/bg.pid"), timeout=30)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == code, err.decode()
    stderr = err.decode()
    assert f"error: {kind}: stopped by {label} before the Turn finished" in stderr
    assert "continue with: pixir resume" in stderr
    check_stopped(pixir, reason, label)
    resume_works(pixir, fake)
    record("signal_attacks")


def test_sigterm_during_the_model_call_keeps_the_partial_answer(pixir, fake):
    # created, in_progress, item added, part added, "half ": then silence
    fake.script(step(text("half an answer", deltas=["half ", "an answer"]), fault=stall(30, 5)))
    pixir.login_api_key()
    proc = pixir.popen("answer slowly", "--json", stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not fake.responses_requests() and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.5)  # the first deltas are out; the stall holds the rest
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 143
    body = json.loads(out)
    assert body["error"]["kind"] == "terminated" and body["exit_code"] == 143
    events = check_log(pixir.sessions()[-1])
    partial = [e["data"] for e in events if e["type"] == "assistant_message"]
    assert partial == [{"text": "half ", "partial": True, "finish_reason": "partial"}]
    assert events[-1]["type"] == "turn_interrupted" and events[-1]["data"]["reason"] == "sigterm"
    record("signal_attacks")


def test_a_terminal_that_hangs_up_stops_the_command(pixir, fake):
    """What a dropped SSH session does: the terminal pixir runs on goes away, the kernel
    sends SIGHUP, and every later write to it fails (EIO). The command dies with pixir, the
    Log is closed, and pixir exits 129 without a traceback or a crash report."""
    pixir.write_file("work/precious.txt", "keep me\n")
    fake.script(step(tool_call("bash", {"command": COMMAND})))
    pixir.login_api_key()
    master, slave = pty.openpty()

    def own_terminal() -> None:  # a session of its own, with this terminal as controlling
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(
        pixir.command("run the cleanup"),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=pixir.workspace,
        env=pixir._env({"TERM": "dumb"}),
        preexec_fn=own_terminal,
    )
    os.close(slave)
    try:
        wait_for_file(pixir.path("work/bash.pid"), timeout=30)
        wait_for_file(pixir.path("work/bg.pid"), timeout=30)
        os.close(master)  # hang up
        master = None
        code = proc.wait(timeout=30)
    finally:
        if master is not None:
            os.close(master)
        proc.kill()
        proc.wait()
    assert code == 129
    assert not (pixir.home / "crash").exists(), "the hang-up was reported as a crash"
    check_stopped(pixir, "sighup", "SIGHUP")
    resume_works(pixir, fake)
    record("signal_attacks")
