"""Shared pieces of the benchmarks: timing, statistics and the figure records that
bench/run.py prints and writes to bench/results.json.

A figure is a plain dict (see `figure`): its value as the median of several runs with their min
and max, the reference it is compared with (measured in the same run, interleaved, so a machine
whose speed drifts moves both alike), the ratio, the target (docs/performance.md) and PASS/MISS.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PIXIR = Path(os.environ.get("PIXIR_BIN", str(ROOT / "dist" / "pixir")))
PEERS = BENCH / ".peers"


def stats(values: list[float]) -> dict:
    """median, min, max and the number of runs."""
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "runs": len(values),
    }


def figure(
    fid: str,
    name: str,
    unit: str,
    values: list[float] | None,
    *,
    ref_name: str | None = None,
    ref_values: list[float] | None = None,
    paired: bool = True,
    target: tuple[str, str, float] | None = None,
    target_text: str = "—",
    note: str = "",
    status: str | None = None,
    scale: float = 1.0,
    extra: dict | None = None,
) -> dict:
    """One row of the table.

    `values` and `ref_values` are raw measurements (in seconds, bytes, ...); `scale` turns
    them into `unit` for display. `target` is (metric, op, bound): metric "ratio" (value /
    reference) or "value" (in `unit`), op "<=", "<" or ">=". With `paired`, the runs of the value
    and of the reference were interleaved one for one, so the per-run ratios give the
    ratio's spread. `status` overrides the computed one (PENDING, SKIP, INFO)."""
    row: dict = {"id": fid, "name": name, "unit": unit, "target": target_text, "note": note}
    if values:
        row.update({k: (v * scale if k != "runs" else v) for k, v in stats(values).items()})
    if ref_values:
        ref = stats(ref_values)
        row["reference"] = {
            "name": ref_name,
            **{k: (v * scale if k != "runs" else v) for k, v in ref.items()},
        }
        if values:
            row["ratio"] = statistics.median(values) / ref["median"]
            if paired and len(values) == len(ref_values):
                per_run = [v / r for v, r in zip(values, ref_values, strict=True) if r]
                row["ratio_min"], row["ratio_max"] = min(per_run), max(per_run)
    if extra:
        row.update(extra)
    if status is None:
        status = "INFO"
        if target is not None and values:
            metric, op, bound = target
            got = row.get("ratio") if metric == "ratio" else row["median"]
            if got is not None:
                ok = {"<=": got <= bound, "<": got < bound, ">=": got >= bound}[op]
                status = "PASS" if ok else "MISS"
    row["status"] = status
    return row


def pending(fid: str, name: str, target_text: str, note: str) -> dict:
    return figure(fid, name, "", None, target_text=target_text, note=note, status="PENDING")


def skipped(fid: str, name: str, target_text: str, note: str) -> dict:
    return figure(fid, name, "", None, target_text=target_text, note=note, status="SKIP")


# -- running commands ---------------------------------------------------------------------------


def run_quiet(argv: list[str], env: dict | None = None, cwd: Path | str | None = None) -> float:
    """Wall seconds of one run of `argv` (stdin, stdout and stderr to /dev/null). A failing
    command is an error: a benchmark of something that did not work measures nothing."""
    started = time.perf_counter()
    done = subprocess.run(
        argv,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{argv} exited {done.returncode}: {done.stderr[-2000:]!r}")
    return elapsed


def interleaved(jobs: dict, runs: int, warmup: int = 1) -> dict[str, list[float]]:
    """Seconds of each job (a zero-argument callable returning seconds), run after run in
    turn, after `warmup` unrecorded rounds (page cache, shiv extraction)."""
    times: dict[str, list[float]] = {name: [] for name in jobs}
    for round_ in range(warmup + runs):
        for name, job in jobs.items():
            seconds = job()
            if round_ >= warmup:
                times[name].append(seconds)
    return times


def real_python() -> str:
    """The interpreter a user's `python3` runs, resolved through launchers such as pyenv
    shims (a shell script that adds its own start-up time): dist/pixir's shebang is
    `/usr/bin/env python3`, so this is what runs it. $BENCH_PYTHON overrides."""
    if os.environ.get("BENCH_PYTHON"):
        return os.environ["BENCH_PYTHON"]
    done = subprocess.run(
        ["python3", "-c", "import sys; print(sys.executable)"],
        capture_output=True,
        text=True,
        check=True,
    )
    return os.path.realpath(done.stdout.strip())


def machine() -> dict:
    """What the figures were measured on (the load average says how noisy it was)."""
    import platform

    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }


def git_commit() -> str | None:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    return done.stdout.strip() or None
