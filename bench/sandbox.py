"""The cost of the sandbox (docs/sandbox.md): the bash tool running `true` confined (Landlock,
and the mount namespace that keeps `.pixir/` read-only) against the same call unconfined,
interleaved run for run, in-process. The difference is what the sandbox adds to every
command.

Each way `auto` can be enforced is measured:
- "mounts": the mount namespace as this process makes it (as root, joined by the confined
  thread: the spawn keeps vfork; otherwise the next one);
- "user": a user namespace, joined by the command's child between fork and exec (what an
  unprivileged user gets; no vfork);
- "flat": no namespace (PIXIR_SANDBOX_NAMESPACE=0): the workspace granted entry by entry.
Two places: a workspace outside the temp dirs (the usual case, ~20 entries), and one in
/tmp, whose PIXIR_HOME-free top must then be kept by a mount or granted entry by entry.

    .venv/bin/python bench/sandbox.py
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pixir.config import SandboxSettings, Settings  # noqa: E402
from pixir.sandbox import landlock, namespace  # noqa: E402
from pixir.sandbox.policy import build, rules, sandbox_for  # noqa: E402
from pixir.tools import bash  # noqa: E402

ENTRIES = 20  # top-level entries of the benchmark's workspace, .pixir/ aside
HOWS = ("mounts", "user", "flat")


def workspace(base: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="pixir-bench-sandbox-", dir=base)).resolve()
    (folder / ".pixir" / "sessions").mkdir(parents=True)
    for number in range(ENTRIES):
        if number % 2:
            (folder / f"dir{number}").mkdir()
        else:
            (folder / f"file{number}.py").write_text("x = 1\n")
    return folder


@contextlib.contextmanager
def enforced(how: str):
    """Settings for `how`, with namespaces made anew (and, for "user", never on a thread)."""
    made, broken, on_thread = namespace._made, namespace._broken, namespace._make_on_thread
    namespace._made, namespace._broken = {}, ""
    if how == "user":
        namespace._make_on_thread = _refused
    try:
        yield Settings(sandbox=SandboxSettings(namespaces=how != "flat"))
    finally:
        for each in namespace._made.values():
            each.close()
        namespace._made, namespace._broken = made, broken
        namespace._make_on_thread = on_thread


def _refused(*args):
    raise PermissionError(errno.EPERM, "the bench asks for a user namespace")


def measure(folder: Path, runs: int, how: str) -> dict:
    """Seconds per `true` through the bash tool, confined (`how`) and not, and per ruleset
    build; the seconds to make the namespace once."""
    with enforced(how) as settings:
        started = time.perf_counter()
        confined = sandbox_for(settings, "auto", folder)
        made = time.perf_counter() - started
        if not confined.confined:
            raise SystemExit(f"no Landlock here: {confined.why_not}")
        if how != "flat" and confined.why_flat:
            raise SystemExit(f"no mount namespace here: {confined.why_flat}")
        free = replace(confined, abi=0, why_not="bench")
        times: dict[str, list[float]] = {"confined": [], "free": [], "ruleset": []}
        cpu: dict[str, list[float]] = {"confined": [], "free": []}
        for round_ in range(runs + 5):
            for name, box in (("confined", confined), ("free", free)):
                started, used = time.perf_counter(), cpu_time()
                result = bash.run_command("true", folder, 10_000, sandbox=box)
                elapsed = time.perf_counter() - started
                assert result.exit_code == 0, result.output
                if round_ >= 5:  # warm-up rounds unrecorded
                    times[name].append(elapsed)
                    cpu[name].append(cpu_time() - used)
            started = time.perf_counter()
            os.close(build(rules(confined.in_force, confined.abi)))
            if round_ >= 5:
                times["ruleset"].append(time.perf_counter() - started)
        times["extra"] = [c - f for c, f in zip(times["confined"], times["free"], strict=True)]
        times["cpu_confined"], times["cpu_free"] = cpu["confined"], cpu["free"]
        times["rules"] = len(rules(confined.in_force, confined.abi).paths)
        times["make"] = made
    return times


def cpu_time() -> float:
    """CPU seconds of this process and its reaped children: what a command costs the machine,
    which a loaded machine inflates far less than the wall time."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def spawns(folder: Path, runs: int) -> dict[str, list[float]]:
    """Seconds to start and reap `bash -c true`: unconfined, from a confined thread (what
    pixir does without a namespace, or as root), and confined in the child by a preexec_fn
    (what joining a user namespace takes: Python in the forked child, and no vfork)."""
    box = sandbox_for(Settings(), "auto", folder)
    fd = build(rules(box.in_force, box.abi))

    def spawn(**options) -> None:
        proc = subprocess.Popen(
            ["bash", "-c", "true"], stdin=subprocess.DEVNULL, start_new_session=True, **options
        )
        proc.wait()

    jobs = {
        "plain": spawn,
        "thread": lambda: landlock.run_confined(fd, spawn),
        "preexec": lambda: spawn(preexec_fn=lambda: landlock.restrict_self(fd)),
    }
    times: dict[str, list[float]] = {name: [] for name in jobs}
    try:
        for round_ in range(runs + 5):
            for name, job in jobs.items():
                started = time.perf_counter()
                job()
                if round_ >= 5:
                    times[name].append(time.perf_counter() - started)
    finally:
        os.close(fd)
    return times


def exit_waits(folder: Path, runs: int) -> dict[str, list[float]]:
    """Seconds per unconfined `true` through the bash tool, its exit awaited on a pidfd (what
    pixir does) and by Popen.wait(timeout), which sleeps 0.5 ms and more between checks."""
    real = bash._exit_watch
    times: dict[str, list[float]] = {"pidfd": [], "polled": []}
    try:
        for round_ in range(runs + 5):
            for name in times:
                bash._exit_watch = real if name == "pidfd" else (lambda pid: None)
                started = time.perf_counter()
                bash.run_command("true", folder, 10_000)
                if round_ >= 5:
                    times[name].append(time.perf_counter() - started)
    finally:
        bash._exit_watch = real
    return times


def collect(runs: int) -> dict:
    """{(place, how): ..., "spawn": ..., "wait": ...}: the bash tool in a workspace outside
    the temp dirs and in one in /tmp, each way `auto` can be enforced; the spawn alone by each
    way of confining it; the exit wait."""
    out: dict = {}
    outside = "/var/tmp" if os.access("/var/tmp", os.W_OK) else str(Path.home())
    for place, base in (("home", outside), ("tmp", "/tmp")):
        folder = workspace(base)
        try:
            for how in HOWS if place == "home" else ("mounts", "flat"):
                out[place, how] = measure(folder, runs, how)
            if place == "home":
                out["spawn"] = spawns(folder, runs)
                out["wait"] = exit_waits(folder, runs)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    out["abi"] = landlock.version()
    out["root"] = os.geteuid() == 0
    return out


def main() -> None:
    got = collect(int(sys.argv[1]) if len(sys.argv) > 1 else 100)

    def ms(values: list[float]) -> float:
        return round(statistics.median(values) * 1000, 3)

    summary: dict = {}
    for key, times in got.items():
        if isinstance(key, tuple):
            summary[" ".join(key)] = {k: ms(v) for k, v in times.items() if isinstance(v, list)}
            summary[" ".join(key)] |= {"rules": times["rules"], "make": ms([times["make"]])}
    summary["spawn"] = {k: ms(v) for k, v in got["spawn"].items()}
    summary["wait"] = {k: ms(v) for k, v in got["wait"].items()}
    print(json.dumps({"abi": got["abi"], "root": got["root"], "ms": summary}, indent=2))


if __name__ == "__main__":
    main()
