"""What a stopped command left outside its process group (`setsid cmd &`, a daemon): pixir
is the subreaper of its commands (Linux), so such a process becomes pixir's child when its
parent dies, and `kill` finds it there when the command is stopped — Ctrl-C, SIGTERM or
SIGHUP, a timeout, a cancel (docs/tools.md, "bash"). A command that ends by itself keeps
what it started on purpose."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Collection

PR_SET_CHILD_SUBREAPER = 36
ROUNDS = 16  # a stray's own strays come back to pixir when it dies: a few generations

_adopting: bool | None = None


def adopt() -> bool:
    """Make pixir the subreaper of everything its commands start (once); False where the
    system has no such thing (not Linux)."""
    global _adopting
    if _adopting is None:
        _adopting = False
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            _adopting = libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
        except (OSError, AttributeError):
            pass
    return _adopting


def started(pid: int) -> int | None:
    """When process `pid` started (clock ticks since boot), or None when it is gone."""
    stat = _stat(pid)
    return stat[2] if stat is not None else None


def kill(since: int, keep: Collection[int] = ()) -> int:
    """SIGKILL (with its process group) every child of pixir that started at `since` or
    later and is not in `keep` (the commands still running), then those that come back
    when they die; reap them all. Returns how many were killed."""
    if not _adopting:
        return 0
    me, group, killed = os.getpid(), os.getpgrp(), 0
    for _ in range(ROUNDS):
        found = [
            (pid, state)
            for pid, (state, _, start) in _children(me)
            if start >= since and pid not in keep
        ]
        if not found:
            break
        for pid, state in found:
            if state == b"Z":  # dead already: only to be reaped
                continue
            try:
                pgid = os.getpgid(pid)
                if pgid not in (group, *keep):
                    os.killpg(pgid, signal.SIGKILL)
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except OSError:  # gone already
                pass
        _reap([pid for pid, _ in found])
    return killed


def _reap(pids: list[int], within_s: float = 1.0) -> None:
    """Wait for `pids` to die (SIGKILLed), but not forever: one stuck in the kernel (a
    dead NFS server) must not hold pixir's exit."""
    deadline = time.monotonic() + within_s
    waiting = set(pids)
    while waiting:
        for pid in list(waiting):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                waiting.discard(pid)
        if waiting:
            if time.monotonic() > deadline:
                return
            time.sleep(0.002)


def _children(me: int):
    """(pid, (state, ppid, start)) of each process whose parent is `me`."""
    try:
        names = os.listdir("/proc")
    except OSError:
        return
    for name in names:
        if name.isdigit():
            stat = _stat(int(name))
            if stat is not None and stat[1] == me:
                yield int(name), stat


def _stat(pid: int) -> tuple[bytes, int, int] | None:
    """(state, ppid, start time) from /proc/PID/stat; the name may hold spaces and `)`."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
    except OSError:
        return None
    fields = data[data.rfind(b")") + 2 :].split()
    try:
        return fields[0], int(fields[1]), int(fields[19])  # fields 3, 4 and 22 of stat
    except (IndexError, ValueError):
        return None
