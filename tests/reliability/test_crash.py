"""SIGKILL at seeded random points of a scripted multi-step Turn.

The Turn writes a.txt (128 KiB), edits b.txt (128 KiB), runs a bash command that takes a
while, rewrites a.txt, and answers. Each crash point kills dist/pixir with SIGKILL — at a
random time, or a random moment after the Log's k-th line appeared — then checks:
- the Log still reads and folds (a torn last line is ignored), nothing is answered twice;
- every file the Turn touches is exactly its old or its new content (write and edit are
  temp file + rename): never a mix, never cut short;
- `pixir resume <id>` (or a new run, when the kill came before the session existed)
  finishes the task: the files end exactly as the task wants, the Log is paired again.

Landing inside a Log write: a Log event is one os.write of one whole line, microseconds for
a normal event. An answer just under the 4 MiB cap, of quotes that JSON doubles, makes one
write of 8 MiB, during which the file's size grows page by page; the test watches the size
and kills the moment it has grown by more than 1 MiB past the last line. Landing inside a
tool's write: an edit of a 16 MiB file writes it whole to a temp file before the rename.
No test hook in pixir is needed.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.fake_backend import reasoning, step, text, tool_call
from tests.reliability.conftest import check_log, new_runner, record

pytestmark = pytest.mark.e2e

SEED = 20261121
POINTS = 24  # random crash points (half by time, half after a random Log line)
TORN_ATTEMPTS = 3

APPLY = "apply the change set"
FINISH = "finish the change set"
A1 = "first draft of a\n" * (128 * 1024 // 17)
A2 = "final text of a!\n" * (128 * 1024 // 17)
B_OLD = "version = 1\n" + "filler line of b\n" * (128 * 1024 // 17)
B_NEW = B_OLD.replace("version = 1", "version = 2")
EDIT = {"path": "b.txt", "old_string": "version = 1", "new_string": "version = 2"}


def first_run_steps() -> list[dict]:
    return [
        step(
            reasoning("Plan: a, b, check, a again"),
            tool_call("write", {"path": "a.txt", "content": A1}),
            match={"last_user": APPLY},
        ),
        step(tool_call("edit", EDIT), match={"last_user": APPLY, "last_tool_output": "Wrote"}),
        step(
            tool_call("bash", {"command": "sleep 0.3; echo slept"}),
            match={"last_user": APPLY, "last_tool_output": "Edited"},
        ),
        step(
            tool_call("write", {"path": "a.txt", "content": A2}),
            match={"last_user": APPLY, "last_tool_output": "slept"},
        ),
        step(text("Applied."), match={"last_user": APPLY, "last_tool_output": "replaced"}),
    ]


def finishing_steps() -> list[dict]:
    """What the model does on resume: make sure of a.txt and b.txt, then answer. The edit
    fails with no_match when the first run had already made it; the model moves on."""
    return [
        step(
            reasoning("Checking what is left"),
            tool_call("write", {"path": "a.txt", "content": A2}),
            match={"last_user": FINISH},
        ),
        step(tool_call("edit", EDIT), match={"last_user": FINISH, "last_tool_output": "Wrote"}),
        step(text("Finished."), match={"last_user": FINISH, "last_tool_output": "b.txt"}),
    ]


def prepare(tmp_path: Path, name: str):
    fake, runner = new_runner(tmp_path, name)
    runner.login_api_key()
    runner.write_file("b.txt", B_OLD)
    fake.script(*first_run_steps(), *finishing_steps())
    return fake, runner


def log_path(runner) -> Path | None:
    logs = runner.sessions() if (runner.workspace / ".pixir" / "sessions").exists() else []
    return logs[-1] if logs else None


def phase(log: Path | None) -> str:
    """Where a kill landed, read from what it left."""
    if log is None:
        return "before the session existed"
    data = log.read_bytes()
    if data and not data.endswith(b"\n"):
        return "inside a Log write"
    events = check_log(log, finished=False)
    last = events[-1]["type"]
    if last == "tool_call":
        return f"inside a tool call ({events[-1]['data']['name']})"
    if last in ("session_started", "user_message", "tool_result"):
        return "during a model call"
    if last == "assistant_message":
        return "after the answer"
    return "between Log events"


def assert_files_whole(runner) -> None:
    """Old or new content exactly: never half-written."""
    a = runner.path("a.txt")
    assert (not a.exists()) or a.read_text() in (A1, A2), "a.txt is neither old nor new"
    assert runner.read_file("b.txt") in (B_OLD, B_NEW), "b.txt is neither old nor new"


def recover(fake, runner, log: Path | None) -> None:
    """Resume (or start again, when no session existed) and finish the task."""
    if log is not None:
        shown = runner.run("log", log.stem)
        assert shown.code == 0, shown
        result = runner.run("resume", log.stem, FINISH, timeout=60)
    else:
        result = runner.run(FINISH, timeout=60)
    assert result.code == 0, result
    assert result.stdout.endswith("Finished.\n"), result
    assert runner.read_file("a.txt") == A2
    assert runner.read_file("b.txt") == B_NEW
    # a write killed before its rename left a temp file; closing its call removed it
    assert leftovers(runner) == [], "a killed write's temp file outlived the resume"
    events = check_log(log_path(runner), finished=True)
    assert events[-1]["type"] == "assistant_message"
    if log is not None:
        assert sum(e["type"] == "session_started" for e in events) == 1


def wait_for_lines(runner, proc, lines: int, deadline: float) -> None:
    while proc.poll() is None and time.monotonic() < deadline:
        log = log_path(runner)
        if log is not None and log.read_bytes().count(b"\n") >= lines:
            return
        time.sleep(0.002)


def kill(proc) -> bool:
    """SIGKILL; False when the process had already exited by itself."""
    if proc.poll() is not None:
        return False
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    return proc.returncode == -signal.SIGKILL


def start(runner, index: int):
    transport = ("http_sse", "auto")[index % 2]
    return runner.popen(APPLY, "--transport", transport, stdin=subprocess.DEVNULL)


def calibrate(tmp_path: Path) -> tuple[float, int]:
    """One uninterrupted run: how long the Turn takes and how many Log lines it writes."""
    fake, runner = prepare(tmp_path, "calibration")
    try:
        began = time.monotonic()
        result = runner.run(APPLY)
        took = time.monotonic() - began
        assert result.code == 0 and result.stdout == "Applied.\n", result
        assert runner.read_file("a.txt") == A2 and runner.read_file("b.txt") == B_NEW
        lines = log_path(runner).read_bytes().count(b"\n")
        return took, lines
    finally:
        fake.stop()


@pytest.mark.timeout(600)
def test_sigkill_at_seeded_random_points_never_loses_or_tears_anything(tmp_path):
    duration, lines = calibrate(tmp_path)
    rng = random.Random(SEED)
    phases: dict[str, int] = {}
    crashed = 0
    # A run may finish before its kill lands (more often on a loaded machine): it is checked
    # like the others, and another point is drawn, until POINTS kills have landed.
    for index in range(3 * POINTS):
        if crashed == POINTS:
            break
        fake, runner = prepare(tmp_path, f"point{index:02d}")
        try:
            proc = start(runner, index)
            if index % 2 == 0:
                time.sleep(rng.uniform(0.0, duration))
            else:
                wait_for_lines(runner, proc, rng.randint(1, lines - 1), time.monotonic() + 30)
                time.sleep(rng.uniform(0.0, 0.015))
            if kill(proc):
                crashed += 1
                log = log_path(runner)
                where = phase(log)
                phases[where] = phases.get(where, 0) + 1
            else:  # finished first: still a valid run to check and resume
                log = log_path(runner)
            assert_files_whole(runner)
            recover(fake, runner, log)
        finally:
            fake.stop()
    record("crash_points", crashed)
    for where, count in phases.items():
        record(f"crash_phase: {where}", count)
    assert crashed == POINTS, phases
    # The seeded points must reach the inside of a tool call and a model call.
    assert any(p.startswith("inside a tool call") for p in phases), phases
    assert "during a model call" in phases, phases


# One Log line that takes a while to write: an answer just under the 4 MiB answer cap, of
# quotes that the Log's JSON doubles (an 8 MiB line).
BIG_ANSWER = ('"' * 1023 + "\n") * (4 * 1024 - 1)
# A file an edit rewrites whole through one temp file: 16 MiB.
BIG_FILE = "version = 1\n" + ("x" * 1023 + "\n") * (16 * 1024)
BIG_EDITED = BIG_FILE.replace("version = 1", "version = 2", 1)


def start_big(tmp_path: Path, name: str, attempt: int, first: dict):
    """(fake, runner, process) of a run whose first call answers with `first`."""
    fake, runner = new_runner(tmp_path, name)
    runner.login_api_key()
    runner.write_file("b.txt", B_OLD)
    runner.write_file("big.txt", BIG_FILE)
    fake.script(first, *finishing_steps())
    return fake, runner, start(runner, attempt)


def start_big_answer(tmp_path: Path, name: str, attempt: int):
    """A run whose first call answers with BIG_ANSWER: one 8 MiB Log line."""
    answer = step(text(BIG_ANSWER, deltas=[]), match={"last_user": APPLY})
    return start_big(tmp_path, name, attempt, answer)


def start_big_edit(tmp_path: Path, name: str, attempt: int):
    """A run whose first call edits the 16 MiB big.txt: a 16 MiB temp file, then a rename."""
    edit = {"path": "big.txt", "old_string": "version = 1", "new_string": "version = 2"}
    call = step(tool_call("edit", edit), match={"last_user": APPLY})
    return start_big(tmp_path, name, attempt, call)


def big_file_whole(runner) -> bool:
    return runner.read_file("big.txt") in (BIG_FILE, BIG_EDITED)


@pytest.mark.timeout(300)
def test_sigkill_inside_a_log_write_leaves_a_torn_line_that_resume_repairs(tmp_path):
    torn = 0
    for attempt in range(TORN_ATTEMPTS):
        fake, runner, proc = start_big_answer(tmp_path, f"torn{attempt}", attempt)
        try:
            killed = kill_inside_a_big_write(runner, proc)
            log = log_path(runner)
            data = log.read_bytes()
            if killed and not data.endswith(b"\n"):
                torn += 1
                torn_bytes = len(data) - data.rfind(b"\n") - 1
                assert torn_bytes < 2 * len(BIG_ANSWER), "the whole line was written"
            check_log(log, finished=False)  # the torn line is ignored, the rest folds
            recover(fake, runner, log)
            events = check_log(log)
            if not data.endswith(b"\n"):
                repaired = [e for e in events if e["type"] == "log_repaired"]
                assert [e["data"]["line"] for e in repaired] == [data.count(b"\n") + 1]
        finally:
            fake.stop()
    record("crash_points", torn)
    record("crash_phase: inside a Log write", torn)
    assert torn >= 1, "no kill landed inside the 8 MiB Log line"


def kill_inside_a_big_write(runner, proc) -> bool:
    """Kill as soon as the Log has grown by more than 1 MiB past its last complete size."""
    deadline = time.monotonic() + 60
    base = None
    while proc.poll() is None and time.monotonic() < deadline:
        log = log_path(runner)
        if log is None:
            continue
        size = os.stat(log).st_size
        if base is not None and size > base + (1 << 20):
            return kill(proc)
        if base is None or size > base:
            base = size
    return kill(proc)


def leftovers(runner) -> list[Path]:
    return sorted(runner.workspace.rglob("*.pixir-tmp"))


@pytest.mark.timeout(300)
def test_sigkill_inside_a_tool_write_leaves_a_temp_file_that_resume_removes(tmp_path):
    landed = 0
    for attempt in range(TORN_ATTEMPTS):
        fake, runner, proc = start_big_edit(tmp_path, f"temp{attempt}", attempt)
        try:
            deadline = time.monotonic() + 60
            while proc.poll() is None and time.monotonic() < deadline and not leftovers(runner):
                time.sleep(0.0005)
            if kill(proc) and leftovers(runner):
                landed += 1
                assert runner.read_file("big.txt") == BIG_FILE, "renamed, yet its temp stayed"
            assert big_file_whole(runner)
            recover(fake, runner, log_path(runner))
            assert big_file_whole(runner)
        finally:
            fake.stop()
    record("crash_points", landed)
    record("crash_phase: inside a tool's write", landed)
    assert landed >= 1, "no kill landed between a write's temp file and its rename"


@pytest.mark.timeout(120)
def test_a_first_run_killed_while_it_unpacks_leaves_no_process_and_no_lock(tmp_path):
    """dist/pixir unpacks itself on its first run under ~/.shiv, holding a lock, and
    compiles what it unpacked. Killed right then (SIGKILL, `timeout`, the OOM killer), it
    must leave no process behind holding that lock: the next run must start."""
    for attempt in range(3):
        fake, runner = new_runner(tmp_path, f"unpack{attempt}")
        try:
            token = f"unpack-probe-{attempt}-{os.getpid()}"
            env = {"SHIV_ROOT": None}  # unpack into this runner's own fresh HOME
            proc = runner.popen(token, env=env, stdin=subprocess.DEVNULL)
            unpacking = runner.user_home / ".shiv"
            deadline = time.monotonic() + 30
            while proc.poll() is None and time.monotonic() < deadline:
                if any(unpacking.glob("*.tmp/site-packages/**/__pycache__/*.pyc")):
                    break
                time.sleep(0.001)
            assert kill(proc), "the first run ended before it was killed"
            time.sleep(0.2)
            assert not processes_with(token), "a process outlived the killed first run"
            result = runner.run("--version", env=env, timeout=30)
            assert result.code == 0 and result.stdout.startswith("pixir "), result
            record("crash_points")
            record("crash_phase: unpacking on the first run")
        finally:
            for pid in processes_with(token):
                os.kill(pid, signal.SIGKILL)
            fake.stop()


def processes_with(token: str) -> list[int]:
    """Pids of live processes whose command line contains `token`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if token.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.mark.timeout(120)
@pytest.mark.parametrize("nth", [1, 2, 3])
def test_killed_at_the_first_log_writes_of_a_new_session_leaves_no_or_a_whole_session(
    tmp_path, nth
):
    """SIGKILL exactly at the n-th Log append of a new run (netguard's PIXIR_TEST_KILL): the
    first one is session_started itself. Whatever is left, `pixir -c` and `pixir sessions`
    work — an empty Log would be picked as the latest session and refuse to resume."""
    fake, runner = prepare(tmp_path, f"first{nth}")
    try:
        kill_env = {"PIXIR_TEST_KILL": f"pixir.log:Log.append@{nth}"}
        result = runner.run(APPLY, env=kill_env)
        assert result.code == -signal.SIGKILL, result
        log = log_path(runner)
        if log is not None:
            events = check_log(log, finished=False)
            assert len(events) == nth - 1 and events[0]["type"] == "session_started"
        else:
            assert nth == 1
        assert runner.run("sessions").code == 0
        assert_files_whole(runner)
        if log is not None:
            result = runner.run("-c", FINISH, timeout=60)
        else:
            result = runner.run(FINISH, timeout=60)
        assert result.code == 0 and result.stdout.endswith("Finished.\n"), result
        record("crash_points")
        record("crash_phase: at the n-th Log append (exact)")
    finally:
        fake.stop()
