"""The agent's performance figures (docs/performance.md), measured, never asserted:

  1. overhead per tool-loop step over HTTP/SSE against an instant local fake (no chunk
     pauses): from the arrival of the first request of a 50-step Turn at the fake to the
     arrival of the last, minus the fake's own time on the responses in between, divided by
     the 49 steps — pixir's whole loop (response parsing, Log, tool, next request) without
     process start-up. Cross-checked by whole runs: (wall(50) − wall(1) − server time) / 49.
     Target ≤ 3 ms.
  2. fold of a generated Log (read + parse + History) at 10k and 100k events. Target ≤ 0.5 s
     for 100k, linear.
  3. peak RSS of a one-shot Turn (dist/pixir, a few tool steps). Target ≤ 50 MB.

Run from the repository root after ./build.sh:  .venv/bin/python bench/agent.py
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pixir import paths  # noqa: E402
from pixir import session as sessions  # noqa: E402
from pixir.log import PARSE_CHUNK, Log, _type_marker, new_session_id, parse  # noqa: E402
from tests.fake_backend import FakeBackend, reasoning, step, text, tool_call  # noqa: E402

PIXIR = os.environ.get("PIXIR_BIN", str(ROOT / "dist" / "pixir"))
RUNS = 5


# -- 1. per-step overhead ---------------------------------------------------------------------


def _env(fake: FakeBackend, home: Path) -> dict:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "PIXIR_HOME": str(home / ".pixir"),
        "OPENAI_API_KEY": fake.api_key,
        "NO_COLOR": "1",
        "LANG": "C.UTF-8",
        **fake.env(),
    }


def _turn(fake: FakeBackend, workspace: Path, env: dict, steps: int, shape: str) -> tuple:
    """(wall s, server s, bytes uploaded, in-loop overhead s per step) of one Turn of `steps`
    model calls."""
    script = []
    for _ in range(steps - 1):
        if shape == "realistic":  # ~3.5 KiB of tool output and a ~1 KiB reasoning item
            script.append(step(reasoning("r" * 1000), tool_call("read", {"path": "out.txt"})))
        else:
            script.append(step(tool_call("read", {"path": "small.txt"})))
    script.append(step(text("done")))
    fake.script(*script)
    before = len(fake.responses_requests())
    started = time.perf_counter()
    done = subprocess.run(
        [PIXIR, "--json", "--transport", "http_sse", "go"],
        cwd=workspace,
        env=env,
        capture_output=True,
        check=False,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"pixir failed ({done.returncode}): {done.stdout!r} {done.stderr!r}")
    calls = fake.responses_requests()[before:]
    assert len(calls) == steps, (len(calls), steps)
    server = sum(r.extra.get("server_s", 0.0) for r in calls)
    loop = None
    if steps > 1:
        between = calls[-1].ts - calls[0].ts - sum(r.extra["server_s"] for r in calls[:-1])
        loop = between / (steps - 1)
    return wall, server, sum(r.bytes_received for r in calls), loop


def step_overhead(steps: int = 50, runs: int = RUNS, shapes=("minimal", "realistic")) -> dict:
    fake = FakeBackend().start()
    fake.configure(chunk_pause_s=0.0)
    results = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            workspace = root / "ws"
            workspace.mkdir()
            (workspace / "small.txt").write_text("hello\n")
            (workspace / "out.txt").write_text(("x" * 69 + "\n") * 51)  # 3.5 KiB
            env = _env(fake, root)
            for shape in shapes:
                one, many = [], []
                for _ in range(runs):  # interleaved, so drifts hit both alike
                    one.append(_turn(fake, workspace, env, 1, shape))
                    many.append(_turn(fake, workspace, env, steps, shape))
                loop = statistics.median(r[3] for r in many)
                whole = (
                    statistics.median(r[0] - r[1] for r in many)
                    - statistics.median(r[0] - r[1] for r in one)
                ) / (steps - 1)
                results[shape] = {
                    "steps": steps,
                    "overhead_ms_per_step": round(loop * 1000, 2),
                    "overhead_ms_per_step_whole_runs": round(whole * 1000, 2),
                    "one_step_wall_s": round(statistics.median(r[0] for r in one), 3),
                    "n_step_wall_s": round(statistics.median(r[0] for r in many), 3),
                    "server_s": round(statistics.median(r[1] for r in many), 3),
                    "uploaded_kib": round(many[0][2] / 1024, 1),
                    "runs_ms_per_step": [r[3] * 1000 for r in many],
                }
    finally:
        fake.stop()
    return results


# -- 2. fold -----------------------------------------------------------------------------------

# A provider_usage event as the HTTP transport records it (raw usage, summary, transport).
USAGE = {
    "model": "gpt-5.5",
    "usage_summary": {
        "input_tokens": 12000,
        "cached_tokens": 11776,
        "output_tokens": 80,
        "reasoning_tokens": 16,
        "total_tokens": 12080,
        "cache_hit_rate": 0.9813,
    },
    "usage": {
        "input_tokens": 12000,
        "input_tokens_details": {"cached_tokens": 11776},
        "output_tokens": 80,
        "output_tokens_details": {"reasoning_tokens": 16},
        "total_tokens": 12080,
    },
    "response_id": "resp_" + "0" * 48,
    "finish_reason": "tool_calls",
    "transport_preference": "auto",
    "active_transport": "http_sse",
    "bytes_sent": 48000,
    "attempts": 1,
    "first_byte_ms": 310.5,
    "total_ms": 1234.5,
}


# Event shapes: "light" ≈ what the e2e sessions hold (short reads and command outputs, a
# ~0.4 KiB reasoning item); "heavy" ≈ 1.5 KiB tool outputs and a 1 KiB reasoning item.
SHAPES = {"light": (12, 300), "heavy": (100, 700)}  # (output lines, reasoning blob chars)


def generate_log(path: Path, events: int, shape: str = "heavy") -> int:
    """A Log of `events` events: turns of a user message, tool steps (usage, reasoning,
    call, result) and an answer. Returns its size in bytes."""
    sid = path.stem
    log = Log.create(path, sid)
    log.append("session_started", {"model": "gpt-5.5", "workspace": "/w"})
    n = 1
    call = 0
    lines, blob_chars = SHAPES[shape]
    blob = "gAAAAA" + "x" * blob_chars
    output = "Exit code: 0\nWall time: 0.1 seconds\nOutput:\n" + ("line of output\n" * lines)
    while n < events:
        log.append("user_message", {"text": "please fix the failing test in src/app.py"})
        n += 1
        for step_no in range(1, 6):
            if n + 4 > events:
                break
            call += 1
            summary = [{"type": "summary_text", "text": "thinking " * (blob_chars // 25)}]
            log.append("provider_usage", dict(USAGE, step=step_no))
            log.append(
                "reasoning",
                {
                    "item": {
                        "id": f"rs_{call}",
                        "type": "reasoning",
                        "encrypted_content": blob,
                        "summary": summary,
                    },
                    "model": "gpt-5.5",
                },
            )
            log.append(
                "tool_call",
                {"call_id": f"call_{call}", "name": "bash", "args": {"command": "pytest -q"}},
            )
            log.append(
                "tool_result",
                {"call_id": f"call_{call}", "ok": True, "output": output, "exit_code": 0},
            )
            n += 4
        if n < events:
            log.append("assistant_message", {"text": "Fixed it.", "finish_reason": "stop"})
            n += 1
    log.close()
    return path.stat().st_size


def decoding_floor(data: bytes, skip: frozenset[str]):
    """A function doing only the JSON decoding a resume cannot avoid: `json.loads` of the
    lines the fold needs (the skipped types left out beforehand, untimed), in the same
    ~64 KiB array pieces, with the cyclic GC paused as `parse` does. The floor of a fold."""
    marker = _type_marker(skip)
    pieces, lines, size = [], [], 0
    for line in data.split(b"\n")[:-1]:
        if not marker.match(line):
            lines.append(line)
            size += len(line) + 1
            if size >= PARSE_CHUNK:
                pieces.append(b"[" + b",".join(lines) + b"]")
                lines, size = [], 0
    if lines:
        pieces.append(b"[" + b",".join(lines) + b"]")

    def decode() -> None:
        gc.disable()
        try:
            for piece in pieces:
                json.loads(piece)
        finally:
            gc.enable()

    return decode


def fold_time(events: int, shape: str, runs: int = RUNS) -> dict:
    """What `pixir resume` does before its first request: find, lock, read, parse, fold;
    interleaved with the decoding floor (`decoding_floor`) and a parse of every event."""
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Path(tmp)
        folder = paths.ensure_sessions_dir(workspace)
        path = folder / f"{new_session_id()}.jsonl"
        size = generate_log(path, events, shape)
        data = path.read_bytes()
        floor = decoding_floor(data, sessions.NOT_FOLDED)
        times, floors, parse_only = [], [], []
        for _ in range(runs):
            started = time.perf_counter()
            session, _ = sessions.resume(workspace, path.stem, model=None, permission_mode="auto")
            items = session.history.input_items()
            times.append(time.perf_counter() - started)
            session.close()
            started = time.perf_counter()
            floor()
            floors.append(time.perf_counter() - started)
            started = time.perf_counter()
            parse(data, path)
            parse_only.append(time.perf_counter() - started)
        return {
            "shape": shape,
            "events": events,
            "mib": round(size / 2**20, 1),
            "fold_s": round(statistics.median(times), 3),
            "parse_only_s": round(statistics.median(parse_only), 3),
            "decoding_floor_s": round(statistics.median(floors), 3),
            "input_items": len(items),
            "runs_s": times,
            "floor_runs_s": floors,
        }


# -- 3. peak RSS -------------------------------------------------------------------------------


RSS_HELPER = """
import json, os, subprocess, sys
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
_, status, usage = os.wait4(child.pid, 0)
print(json.dumps([os.waitstatus_to_exitcode(status), usage.ru_maxrss]))
"""


def peak_rss(transport: str = "http_sse") -> dict:
    fake = FakeBackend().start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            workspace = root / "ws"
            workspace.mkdir()
            (workspace / "a.py").write_text("x = 1\n" * 200)
            fake.script(
                step(reasoning("look"), tool_call("read", {"path": "a.py"})),
                step(tool_call("bash", {"command": "seq 1 100000"})),
                step(
                    tool_call(
                        "edit", {"path": "a.py", "old_string": "x = 1\n" * 200, "new_string": "y\n"}
                    )
                ),
                step(text("done " * 200)),
            )
            # Measured by a small helper parent: a child's ru_maxrss starts from its
            # parent's high-water mark, and this process holds the fake and the fold bench.
            done = subprocess.run(
                [sys.executable, "-c", RSS_HELPER, PIXIR, "--transport", transport, "go"],
                cwd=workspace,
                env=_env(fake, root),
                capture_output=True,
                text=True,
                check=False,
            )
            code, maxrss_kib = json.loads(done.stdout)
            if code != 0:
                raise SystemExit(f"pixir failed: {code}")
            return {"peak_rss_mb": round(maxrss_kib / 1024, 1)}
    finally:
        fake.stop()


def main() -> None:
    report = {
        "one_shot": peak_rss(),  # first: nothing of this process's own memory leaks into it
        "step_overhead": step_overhead(),
        "fold": [fold_time(n, shape) for shape in SHAPES for n in (10_000, 100_000)],
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
