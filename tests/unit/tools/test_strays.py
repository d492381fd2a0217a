"""tools/strays.py: a stopped command's processes outside its group (`setsid cmd &`) come
back to pixir, the subreaper, and are killed with their groups; what started before the
command, and the commands still running, are kept. Each test runs in a process of its own:
a subreaper is one for the rest of its life."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pixir.tools import strays

REPO = Path(__file__).resolve().parents[3]

SCRIPT = """
import os, signal, subprocess, sys, time
sys.path.insert(0, {repo!r})
from pixir.tools import strays

def pid_in(name):
    path = os.path.join({tmp!r}, name)
    while not (os.path.exists(path) and open(path).read().strip()):
        time.sleep(0.01)
    return int(open(path).read())

def alive(pid):
    try:
        with open(f"/proc/{{pid}}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False

assert strays.adopt()
older = subprocess.Popen(["setsid", "sleep", "60"])  # started before the command: kept
running = subprocess.Popen(["sleep", "60"], start_new_session=True)  # another command's
time.sleep(0.05)
command = subprocess.Popen(
    ["bash", "-c", "setsid sh outer.sh & sleep 60"], cwd={tmp!r}, start_new_session=True
)
since = strays.started(command.pid)
first, second = pid_in("first"), pid_in("second")
os.killpg(command.pid, signal.SIGKILL)  # what pixir does to the group
command.wait()
killed = strays.kill(since, keep={{running.pid}})
print(killed, alive(first), alive(second), alive(older.pid), alive(running.pid))
for proc in (older, running):
    proc.kill()
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a subreaper is Linux's")
def test_a_stopped_commands_escaped_processes_are_killed_and_nothing_else(tmp_path):
    # the command starts a session of its own, which starts another in turn
    (tmp_path / "outer.sh").write_text("echo $$ > first; setsid sh inner.sh & sleep 60\n")
    (tmp_path / "inner.sh").write_text("echo $$ > second; sleep 60\n")
    script = SCRIPT.format(repo=str(REPO), tmp=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    # the escapee and the one it started in turn are dead; the older one and the running
    # command are not
    assert done.stdout.split() == ["2", "False", "False", "True", "True"], done.stdout


def test_started_is_a_processs_start_and_none_once_it_is_gone():
    mine = strays.started(os.getpid())
    assert isinstance(mine, int) and mine > 0
    child = subprocess.Popen(["true"])
    child.wait()
    assert strays.started(child.pid) is None


def test_without_adopting_nothing_is_killed(monkeypatch):
    monkeypatch.setattr(strays, "_adopting", False)
    assert strays.kill(0) == 0
