"""`bash {command, timeout_ms?}` (docs/tools.md): `bash -c` in the workspace with stdin closed,
stdout and stderr merged, in its own process group that a timeout or Ctrl-C kills whole.

Output is read on the calling thread with `select`, into a bounded buffer (a head and a
tail, the middle only counted), so a command printing gigabytes costs constant memory.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time
from pathlib import Path

from pixir import interrupt
from pixir.sandbox.policy import SandboxError
from pixir.tools.result import (
    MAX_BYTES,
    MAX_LINES,
    ToolFailure,
    ToolInterrupted,
    ToolResult,
    failed,
    human_size,
)

HEAD_BYTES = 8 * 1024  # kept from the start (what the command was doing)
HEAD_LINES = 100
TAIL_BYTES = MAX_BYTES - HEAD_BYTES  # kept from the end (errors come last)
EXIT_GRACE_S = 0.2  # after bash exits, how long background children may hold the pipe
DRAIN_S = 0.5  # after a kill, how long to wait for the pipe to close
POLL_S = 0.05
# Never hand the model's commands our own credential: whatever they print lands in the Log.
SECRET_VARS = ("OPENAI_API_KEY",)


def command_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SECRET_VARS}
    env.setdefault("PAGER", "cat")
    env.setdefault("GIT_PAGER", "cat")
    return env


class OutputBuffer:
    """The first HEAD_BYTES and the last TAIL_BYTES of a stream, plus counts of everything."""

    def __init__(self, head_limit: int = HEAD_BYTES, tail_limit: int = TAIL_BYTES) -> None:
        self.head = bytearray()
        self.tail = bytearray()
        self.head_limit = head_limit
        self.tail_limit = tail_limit
        self.total = 0
        self.newlines = 0

    def write(self, chunk: bytes) -> None:
        self.total += len(chunk)
        self.newlines += chunk.count(b"\n")
        room = self.head_limit - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self.tail += chunk
            if len(self.tail) > 2 * self.tail_limit:  # trim rarely: amortised O(1) per byte
                del self.tail[: -self.tail_limit]

    @property
    def lines(self) -> int:
        ends_open = self.total and not (self.tail or self.head).endswith(b"\n")
        return self.newlines + (1 if ends_open else 0)

    def render(self) -> tuple[str, bool]:
        """(text within the cap, whether anything was cut). Cuts keep whole lines: a head of
        at most HEAD_LINES lines, a note, then as much of the end as fits (errors come last)."""
        dropped = self.total - len(self.head) - len(self.tail)
        whole = bytes(self.head + self.tail) if not dropped else b""
        if not dropped and len(whole) <= MAX_BYTES and self.newlines <= MAX_LINES:
            return whole.decode("utf-8", "replace"), False
        head = bytes(self.head)
        head = head[: head.rfind(b"\n") + 1]  # whole lines only
        if head.count(b"\n") > HEAD_LINES:
            head = b"\n".join(head.split(b"\n")[:HEAD_LINES]) + b"\n"
        rest = whole[len(head) :] if not dropped else bytes(self.tail)
        budget_bytes = MAX_BYTES - len(head) - 256  # room for the note
        budget_lines = MAX_LINES - head.count(b"\n") - 2
        tail = rest[-budget_bytes:]
        if len(tail) < len(rest) or dropped:
            start = tail.find(b"\n")
            tail = tail[start + 1 :] if 0 <= start < len(tail) - 1 else tail
        pieces = tail.split(b"\n")
        if len(pieces) > budget_lines:
            tail = b"\n".join(pieces[-budget_lines:])
        omitted_bytes = self.total - len(head) - len(tail)
        omitted_lines = max(self.newlines - head.count(b"\n") - tail.count(b"\n"), 1)
        note = (
            f"\n[... {omitted_lines} lines ({human_size(omitted_bytes)}) omitted from the middle "
            f"of {self.lines} lines ({human_size(self.total)}); to see everything, redirect the "
            "output to a file and read it in parts ...]\n\n"
        )
        text = head.decode("utf-8", "replace") + note + tail.decode("utf-8", "replace")
        return text, True


def run(args: dict, ctx) -> ToolResult:
    command = args.get("command")
    if not isinstance(command, str) or not command.strip():
        raise ToolFailure("invalid_arguments", "command must be a non-empty string")
    if "\0" in command:  # no argv can carry one: exec would refuse it
        raise ToolFailure("invalid_arguments", "command contains a NUL byte")
    timeout_ms = args.get("timeout_ms")
    if timeout_ms is None:
        timeout_ms = ctx.bash_timeout_ms
    timeout_ms = max(1, min(int(timeout_ms), ctx.bash_timeout_max_ms))
    return run_command(command, ctx.workspace, timeout_ms, cancel=ctx.cancel, sandbox=ctx.sandbox)


def run_command(command: str, cwd: Path, timeout_ms: int, cancel=None, sandbox=None) -> ToolResult:
    """Run one command to completion, timeout, Ctrl-C or `cancel` (an interrupt.Cancel set
    from another thread); never leaves its group behind when the group still holds the
    output pipe. `sandbox` (sandbox.policy.Sandbox) confines it."""
    started = time.monotonic()
    buffer = OutputBuffer()
    deadline = started + timeout_ms / 1000
    outcome = "exited"
    proc = None
    exits = None
    try:
        # A Ctrl-C while the command starts is raised once its group is known, to be killed.
        with interrupt.shielded:
            proc = _start(command, cwd, sandbox)
            interrupt.state.child_pgid = proc.pid
            exits = _exit_watch(proc.pid)
        fd = proc.stdout.fileno()
        outcome = _pump(proc, fd, buffer, deadline, cancel)
        if outcome == "eof":  # the pipe closed, but bash itself may still run (`exec >&-; sleep 9`)
            outcome = _wait_exit(proc, exits, deadline, cancel)
        if outcome == "cancelled":
            raise KeyboardInterrupt  # ended exactly as by a Ctrl-C
        if outcome != "eof":
            _kill_group(proc.pid)  # timed out, or background children still hold the pipe
        proc.wait()
        _drain(fd, buffer)
    except KeyboardInterrupt:
        if proc is None:
            raise
        _kill_group(proc.pid)
        proc.wait()
        _drain(proc.stdout.fileno(), buffer)
        text, _ = buffer.render()
        elapsed = time.monotonic() - started
        stopped = cancel is not None and cancel.is_set()
        label = interrupt.signal_label()
        why = (
            "cancelled by the user"
            if stopped
            else "interrupted by the user (Ctrl-C)"
            if label == "Ctrl-C"
            else f"pixir was stopped ({label})"
        )
        result = failed(
            "interrupted",
            f"{why}; the command's process group was killed",
            output=text,
            wall_time_s=round(elapsed, 3),
        )
        raise ToolInterrupted(result) from None
    finally:
        interrupt.state.child_pgid = None
        if proc is not None:
            proc.stdout.close()
        if exits is not None:
            os.close(exits)
    elapsed = time.monotonic() - started
    text, cut = buffer.render()
    if outcome == "timeout":
        return failed(
            "timeout",
            f"command timed out after {timeout_ms} ms; its process group was killed",
            output=text,
            wall_time_s=round(elapsed, 3),
        )
    code = proc.returncode
    if code < 0:  # killed by a signal: report it the way a shell does
        code = 128 - code
    header = f"Exit code: {code}\nWall time: {elapsed:.1f} seconds\n"
    if cut:
        header += f"Total output lines: {buffer.lines}\n"
    summary = f"exit {code} · {elapsed:.1f} s" + (" · output cut" if cut else "")
    output = f"{header}Output:\n{text}"
    note = sandbox.denial_note(text) if sandbox is not None else None
    if note:
        output += ("" if output.endswith("\n") else "\n") + f"\n{note}\n"
    return ToolResult(ok=True, output=output, summary=summary, exit_code=code)


def _start(command: str, cwd: Path, sandbox) -> subprocess.Popen:
    argv = ["bash", "-c", command]
    options = {
        "cwd": str(cwd),
        "stdin": subprocess.DEVNULL,
        "stdout": subprocess.PIPE,
        "stderr": subprocess.STDOUT,
        "start_new_session": True,  # own process group, and no terminal's Ctrl-C
        "env": command_env(),
    }
    try:
        if sandbox is None:
            return subprocess.Popen(argv, **options)
        return sandbox.popen(argv, **options)
    except SandboxError as exc:
        raise ToolFailure(
            "sandbox_failed",
            f"the sandbox could not confine the command ({exc}), so it did not run; "
            "the user can run pixir with --sandbox off to run commands unconfined",
        ) from None
    except FileNotFoundError:
        raise ToolFailure("bash_not_found", "bash is not installed or not on PATH") from None
    except OSError as exc:
        raise ToolFailure("io_error", f"cannot start bash: {exc.strerror}") from None


def _pump(proc: subprocess.Popen, fd: int, buffer: OutputBuffer, deadline: float, cancel) -> str:
    """Read until EOF ("eof"), the deadline ("timeout"), a stop request ("cancelled"), or
    bash exited while something else keeps the pipe open ("lingering")."""
    exited_at = None
    while True:
        if cancel is not None and cancel.is_set():
            return "cancelled"
        now = time.monotonic()
        if now >= deadline:
            return "timeout"
        if exited_at is None and proc.poll() is not None:
            exited_at = now
        if exited_at is not None and now - exited_at > EXIT_GRACE_S:
            return "lingering"
        ready, _, _ = select.select([fd], [], [], min(deadline - now, POLL_S))
        if ready:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return "eof"
            buffer.write(chunk)


def _exit_watch(pid: int) -> int | None:
    """A descriptor that becomes readable when `pid` exits (a pidfd, Linux 5.3), or None where
    there is none."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _wait_exit(proc: subprocess.Popen, exits: int | None, deadline: float, cancel) -> str:
    """After the output ended: wait for bash itself to exit ("eof"), the deadline ("timeout")
    or a stop request ("cancelled"). A pidfd wakes this the moment bash exits, where
    Popen.wait(timeout) would sleep in growing steps (0.5 ms and up) between checks."""
    while proc.returncode is None:
        if cancel is not None and cancel.is_set():
            return "cancelled"
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return "timeout"
        wait = remaining if cancel is None else min(remaining, POLL_S)
        if exits is None:
            try:
                proc.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
        elif select.select([exits], [], [], wait)[0]:
            proc.wait()  # exited: reaped at once
    return "eof"


def _drain(fd: int, buffer: OutputBuffer) -> None:
    """Whatever is still in the pipe once the group is gone (bounded: an escaped daemon may
    hold it open forever)."""
    deadline = time.monotonic() + DRAIN_S
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            return
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return
        buffer.write(chunk)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
