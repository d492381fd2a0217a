"""The cost of the Landlock sandbox (docs/sandbox.md): the bash tool running `true` confined
(the ruleset built for the command, a confined thread that spawns it) against the same call
unconfined, interleaved run for run, in-process. The difference is what the sandbox adds
to every command.

Two places: a workspace outside the temp dirs (the usual case: one directory of entries to
list, ~20 here), and a workspace inside /tmp, whose top level and the temp dir's must then
be granted entry by entry.

    .venv/bin/python bench/sandbox.py
"""

from __future__ import annotations

import json
import os
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

from pixir.config import Settings  # noqa: E402
from pixir.sandbox import landlock  # noqa: E402
from pixir.sandbox.policy import build, rules, sandbox_for  # noqa: E402
from pixir.tools.bash import run_command  # noqa: E402

ENTRIES = 20  # top-level entries of the benchmark's workspace, .pixir/ aside


def workspace(base: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="pixir-bench-sandbox-", dir=base)).resolve()
    (folder / ".pixir" / "sessions").mkdir(parents=True)
    for number in range(ENTRIES):
        if number % 2:
            (folder / f"dir{number}").mkdir()
        else:
            (folder / f"file{number}.py").write_text("x = 1\n")
    return folder


def measure(folder: Path, runs: int) -> dict:
    """Seconds per `true` through the bash tool, confined and not, and per ruleset build."""
    settings = Settings()
    confined = sandbox_for(settings, "auto", folder)
    if not confined.confined:
        raise SystemExit(f"no Landlock here: {confined.why_not}")
    free = replace(confined, abi=0, why_not="bench")
    times: dict[str, list[float]] = {"confined": [], "free": [], "ruleset": []}
    for round_ in range(runs + 5):
        for name, box in (("confined", confined), ("free", free)):
            started = time.perf_counter()
            result = run_command("true", folder, 10_000, sandbox=box)
            elapsed = time.perf_counter() - started
            assert result.exit_code == 0, result.output
            if round_ >= 5:  # warm-up rounds unrecorded
                times[name].append(elapsed)
        started = time.perf_counter()
        os.close(build(rules(confined.policy, confined.abi)))
        if round_ >= 5:
            times["ruleset"].append(time.perf_counter() - started)
    times["extra"] = [c - f for c, f in zip(times["confined"], times["free"], strict=True)]
    times["rules"] = len(rules(confined.policy, confined.abi).paths)
    return times


def spawns(folder: Path, runs: int) -> dict[str, list[float]]:
    """Seconds to start and reap `bash -c true`: unconfined, from a confined thread (what
    pixir does), and confined in the child by a preexec_fn (the design it did not take:
    Python in the forked child of a threaded process, and no vfork)."""
    box = sandbox_for(Settings(), "auto", folder)
    fd = build(rules(box.policy, box.abi))

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


def collect(runs: int) -> dict:
    """{"home": ..., "tmp": ..., "spawn": ...}: the bash tool in a workspace outside the
    temp dirs and in one in /tmp, and the spawn alone by each way of confining it."""
    out = {}
    outside = "/var/tmp" if os.access("/var/tmp", os.W_OK) else str(Path.home())
    for place, base in (("home", outside), ("tmp", "/tmp")):
        folder = workspace(base)
        try:
            out[place] = measure(folder, runs)
            if place == "home":
                out["spawn"] = spawns(folder, runs)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    out["abi"] = landlock.version()
    return out


def main() -> None:
    got = collect(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
    summary = {
        place: {
            key: round(statistics.median(values) * 1000, 3)
            for key, values in got[place].items()
            if isinstance(values, list)
        }
        | {"rules": got[place]["rules"]}
        for place in ("home", "tmp")
    }
    summary["spawn"] = {k: round(statistics.median(v) * 1000, 3) for k, v in got["spawn"].items()}
    print(json.dumps({"abi": got["abi"], "ms": summary}, indent=2))


if __name__ == "__main__":
    main()
