"""bash (docs/tools.md): exit codes, merged output, timeout killing the whole group, bounded
memory with head and tail, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import pytest

from pixir.tools import bash
from pixir.tools.registry import ToolContext, run_tool
from pixir.tools.result import MAX_BYTES, MAX_LINES, ToolInterrupted


@pytest.fixture
def ctx(ws):
    return ToolContext(ws, bash_timeout_ms=20_000, bash_timeout_max_ms=30_000)


def sh(ctx, command, **more):
    return run_tool("bash", {"command": command, **more}, ctx)


def gone(pid: int) -> bool:
    """True when the process no longer runs (a zombie awaiting its reaper counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def wait_gone(pid: int, seconds: float = 5) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if gone(pid):
            return True
        time.sleep(0.02)
    return gone(pid)


def test_exit_code_duration_and_merged_output(ctx):
    result = sh(ctx, "echo out; echo err >&2; exit 3")
    assert result.ok and result.exit_code == 3
    assert result.output.startswith("Exit code: 3\nWall time: ")
    assert result.output.endswith("Output:\nout\nerr\n")
    assert result.summary.startswith("exit 3 · ")


def test_runs_in_the_workspace_with_stdin_closed(ctx, ws):
    result = sh(ctx, "pwd; cat; echo after")
    assert f"{ws}\n" in result.output and "after" in result.output and result.exit_code == 0


def test_stdin_is_closed_even_when_pixirs_own_stdin_is_an_open_pipe(ctx):
    # pixir's stdin may be a terminal or a pipe that never ends: a command reading it would
    # hang until its timeout, so it must get /dev/null whatever pixir itself was given
    read_end, write_end = os.pipe()
    saved = os.dup(0)
    os.dup2(read_end, 0)
    try:
        result = sh(ctx, "readlink /proc/$$/fd/0; cat; echo after", timeout_ms=5000)
    finally:
        os.dup2(saved, 0)
        for fd in (saved, read_end, write_end):
            os.close(fd)
    assert result.ok and result.exit_code == 0, result.output
    assert "/dev/null\nafter\n" in result.output


def test_credential_is_not_passed_to_commands(ctx, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value")
    result = sh(ctx, "echo key=${OPENAI_API_KEY:-unset}")
    assert "key=unset" in result.output and "sk-secret" not in result.output


def test_own_process_group(ctx):
    result = sh(ctx, "ps -o pgid= -p $$; ps -o pid= -p $$")
    pgid, pid = result.output.split("Output:\n")[1].split()
    assert pgid == pid and int(pgid) != os.getpgrp()


def test_timeout_kills_the_whole_group_including_background_children(ctx, ws):
    result = sh(ctx, "sleep 1000 & echo $! > bg.pid; echo started; sleep 1000", timeout_ms=500)
    assert not result.ok and result.error["kind"] == "timeout"
    body = json.loads(result.output)
    assert body["output"] == "started\n" and body["wall_time_s"] < 10
    assert wait_gone(int((ws / "bg.pid").read_text()))


def test_timeout_is_capped_by_the_maximum(ws):
    ctx = ToolContext(ws, bash_timeout_ms=20_000, bash_timeout_max_ms=300)
    result = sh(ctx, "sleep 30", timeout_ms=60_000)
    assert result.error["kind"] == "timeout" and "300 ms" in result.error["message"]


def test_without_timeout_ms_the_configured_default_applies(ws):
    ctx = ToolContext(ws, bash_timeout_ms=300, bash_timeout_max_ms=30_000)
    result = sh(ctx, "sleep 30")
    assert result.error["kind"] == "timeout" and "300 ms" in result.error["message"]
    assert json.loads(result.output)["wall_time_s"] < 10


def test_background_child_still_holding_the_pipe_is_killed_at_exit(ctx, ws):
    result = sh(ctx, "sleep 1000 & echo $! > bg.pid; echo main done")
    assert result.ok and result.exit_code == 0 and "main done" in result.output
    assert wait_gone(int((ws / "bg.pid").read_text()))


def test_background_child_with_redirected_output_survives(ctx, ws):
    result = sh(ctx, "sleep 30 > /dev/null 2>&1 & echo $! > bg.pid")
    pid = int((ws / "bg.pid").read_text())
    try:
        assert result.ok and not gone(pid)
    finally:
        os.kill(pid, signal.SIGKILL)


def test_huge_output_keeps_head_and_tail_within_the_cap(ctx):
    result = sh(ctx, "seq 1 300000; echo LAST-LINE")
    text = result.output
    assert result.ok and "output cut" in result.summary
    assert "Total output lines: 300001" in text
    body = text.split("Output:\n", 1)[1]
    assert body.startswith("1\n2\n3\n")
    assert body.rstrip().endswith("LAST-LINE")
    assert "omitted from the middle" in body
    assert len(body.encode()) <= MAX_BYTES and body.count("\n") <= MAX_LINES


def test_many_short_lines_are_cut_by_line_count(ctx):
    result = sh(ctx, "seq 1 5000")
    body = result.output.split("Output:\n", 1)[1]
    assert body.count("\n") <= MAX_LINES + 3 and body.rstrip().endswith("5000")


def test_output_buffer_memory_is_bounded():
    buffer = bash.OutputBuffer()
    chunk = b"y" * 1000 + b"\n"
    for _ in range(20_000):  # 20 MB
        buffer.write(chunk)
    assert len(buffer.head) + len(buffer.tail) <= bash.HEAD_BYTES + 2 * bash.TAIL_BYTES
    assert buffer.total == 20_000 * 1001 and buffer.lines == 20_000
    text, cut = buffer.render()
    assert cut and len(text.encode()) <= MAX_BYTES


def test_output_without_a_final_newline_and_invalid_utf8(ctx):
    result = sh(ctx, r"printf 'caf\xe9 no newline'")
    assert result.output.endswith("Output:\ncaf\ufffd no newline")


def test_signal_death_is_reported_like_a_shell(ctx):
    result = sh(ctx, "kill -9 $$")
    assert result.ok and result.exit_code == 137


@pytest.mark.parametrize("command", ["", "  ", "\n\t"])
def test_empty_command_is_refused(ctx, command):
    # `bash -c ""` would succeed with exit 0: the model must hear that it sent nothing
    result = sh(ctx, command)
    assert not result.ok and result.error["kind"] == "invalid_arguments"
    assert "command must be a non-empty string" in result.error["message"]
    assert json.loads(result.output)["error"] == result.error
    assert "exit_code" not in json.loads(result.output)


def test_ctrl_c_kills_the_group_and_keeps_the_partial_output(ws):
    ctx = ToolContext(ws)
    main = threading.main_thread()
    assert main is threading.current_thread()

    def interrupt_soon():
        deadline = time.monotonic() + 5
        while not (ws / "bg.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt_soon, daemon=True).start()
    started = time.monotonic()
    with pytest.raises(ToolInterrupted) as caught:
        run_tool("bash", {"command": "sleep 1000 & echo $! > bg.pid; echo begun; sleep 1000"}, ctx)
    result = caught.value.result
    assert result.error["kind"] == "interrupted"
    assert json.loads(result.output)["output"] == "begun\n"
    assert time.monotonic() - started < 10
    assert wait_gone(int((ws / "bg.pid").read_text()))


def test_a_command_that_closed_its_output_can_still_be_cancelled_or_time_out(ws):
    # bash runs on after its output ended: the wait for its exit still heeds a stop request
    # from another thread (an editor's cancel) and the timeout
    from pixir.interrupt import Cancel

    cancel = Cancel()
    ctx = ToolContext(ws, bash_timeout_ms=60_000, bash_timeout_max_ms=60_000, cancel=cancel)
    command = "echo $$ > bash.pid; exec >&- 2>&-; sleep 1000"

    def cancel_soon():
        deadline = time.monotonic() + 10
        while not (ws / "bash.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)
        cancel.set()

    threading.Thread(target=cancel_soon, daemon=True).start()
    with pytest.raises(ToolInterrupted) as caught:
        sh(ctx, command)
    assert caught.value.result.error["kind"] == "interrupted"
    assert "cancelled by the user" in caught.value.result.error["message"]
    assert wait_gone(int((ws / "bash.pid").read_text()))
    (ws / "bash.pid").unlink()
    result = sh(ToolContext(ws, bash_timeout_ms=300, bash_timeout_max_ms=300), command)
    assert result.error["kind"] == "timeout"
    assert wait_gone(int((ws / "bash.pid").read_text()))


def test_the_exit_watch_becomes_readable_when_the_process_exits():
    import select
    import subprocess

    proc = subprocess.Popen(["sleep", "0.2"])
    watch = bash._exit_watch(proc.pid)
    try:
        assert watch is not None  # Linux >= 5.3: no polling for the exit
        assert select.select([watch], [], [], 0)[0] == []  # still running
        assert bash._wait_exit(proc, watch, time.monotonic() + 10, None) == "eof"
        assert proc.returncode == 0
    finally:
        os.close(watch)
