"""The cost of writing the Log (docs/log.md, docs/performance.md): every event is one `os.write`
of one whole line on an O_APPEND descriptor (the "flush per event"), and the file is fsynced
once per step, not per event (an fsync costs ~0.2-2 ms: per event it would dominate a step).

A step here is what a tool step appends: provider_usage, reasoning (~1 KiB), tool_call,
tool_result (~3.5 KiB), each through `Session.append` (encode, write, fold into the
in-memory History), then one `sync()`. References, measured in the same run: `os.write`
of the same pre-encoded lines (the floor of a write per event) and `os.fsync`; and the JSON
encoding of those lines alone (what most of an append costs).

    .venv/bin/python bench/append.py
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pixir import session as sessions  # noqa: E402
from pixir.log import encode_line  # noqa: E402

STEPS = 200  # per run: enough appends that the clock's resolution does not matter
OUTPUT = "Exit code: 0\nWall time: 0.1 seconds\nOutput:\n" + ("x" * 69 + "\n") * 51  # 3.5 KiB


def step_events(number: int) -> list[tuple[str, dict]]:
    call_id = f"call_{number}"
    return [
        (
            "provider_usage",
            {
                "model": "gpt-5.5",
                "step": number,
                "usage_summary": {"input_tokens": 12000, "cached_tokens": 11776},
                "usage": {"input_tokens": 12000, "output_tokens": 80, "total_tokens": 12080},
                "response_id": "resp_" + "0" * 48,
                "active_transport": "http_sse",
                "bytes_sent": 48000,
            },
        ),
        (
            "reasoning",
            {
                "item": {
                    "id": f"rs_{number}",
                    "type": "reasoning",
                    "encrypted_content": "gAAAAA" + "x" * 1000,
                    "summary": [],
                },
                "model": "gpt-5.5",
            },
        ),
        ("tool_call", {"call_id": call_id, "name": "read", "args": {"path": "out.txt"}}),
        ("tool_result", {"call_id": call_id, "ok": True, "output": OUTPUT}),
    ]


def one_run(folder: Path) -> dict:
    """Seconds per event and per step for pixir's appends, and for the bare references."""
    session = sessions.create(folder, model="gpt-5.5", transport="auto", permission_mode="auto")
    steps = [step_events(n) for n in range(STEPS)]
    appended = synced = 0.0
    try:
        for events in steps:
            started = time.perf_counter()
            for type_, data in events:
                session.append(type_, data)
            middle = time.perf_counter()
            session.sync()
            appended += middle - started
            synced += time.perf_counter() - middle
    finally:
        session.close()

    # The floor: the same lines (already encoded) written to an O_APPEND file, then fsync.
    lines = [
        encode_line({"id": "0" * 16, "seq": 0, "type": t, "data": d})
        for events in steps
        for t, d in events
    ]
    path = folder / "floor.jsonl"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    floor_write = floor_sync = 0.0
    try:
        per_step = len(steps[0])
        for start in range(0, len(lines), per_step):
            started = time.perf_counter()
            for line in lines[start : start + per_step]:
                os.write(fd, line)
            middle = time.perf_counter()
            os.fsync(fd)
            floor_write += middle - started
            floor_sync += time.perf_counter() - middle
    finally:
        os.close(fd)
        path.unlink()
    started = time.perf_counter()
    for events in steps:
        for type_, data in events:
            encode_line({"id": "0" * 16, "seq": 0, "type": type_, "data": data})
    encoding = time.perf_counter() - started
    events = len(lines)
    return {
        "encode_s": encoding / events,
        "event_s": appended / events,
        "step_s": (appended + synced) / STEPS,
        "fsync_s": synced / STEPS,
        "floor_event_s": floor_write / events,
        "floor_step_s": (floor_write + floor_sync) / STEPS,
        "floor_fsync_s": floor_sync / STEPS,
    }


def collect(runs: int = 5) -> dict[str, list[float]]:
    """Each figure's value per run (seconds)."""
    out: dict[str, list[float]] = {}
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="pixir-bench-log-") as tmp:
            for key, value in one_run(Path(tmp)).items():
                out.setdefault(key, []).append(value)
    return out


def main() -> None:
    runs = collect()
    print(
        json.dumps({key: round(statistics.median(v) * 1e6, 1) for key, v in runs.items()}, indent=2)
        + "\n(µs, medians)"
    )


if __name__ == "__main__":
    main()
