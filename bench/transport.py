"""Transport figures (docs/performance.md), measured with `dist/pixir` against the in-process fake,
never asserted:

  1. bytes uploaded over a Turn of N model calls, WebSocket continuation vs HTTP/SSE full
     replay. Step shape: a ~1 KiB reasoning item and a read or bash call whose output is
     ~3.5 KiB; instructions and tool schemas (~5.2 KiB) are resent on every call, as the API
     requires. Everything the fake received on the Responses path counts: the upgrade request
     and frames, or each POST's request line, headers and body. Targets: ≤ 10 % at 50 steps,
     ≤ 20 % at 20.
  2. per-step overhead of each transport against the instant fake (no write pacing): from
     the arrival of a Turn's first request to its last, minus the fake's own time on the
     responses in between, per step — pixir's whole loop (parse, Log and its fsync, tool,
     next request) without process start-up. Cross-checked by whole runs: (wall(N) −
     wall(1) − server time) / (N − 1). Targets: ≤ 2 ms (WebSocket), ≤ 3 ms (HTTP/SSE).
  3. the transport alone: a child process drives the Provider through the same loop (output
     replayed as the History does, no Log, no tools) after one warm-up call; per step
     (wall − server time) / steps. This is what the transport itself costs a step.

Runs are interleaved so that load drifts hit both transports alike; medians are reported.
Run from the repository root after ./build.sh:  .venv/bin/python bench/transport.py
"""

from __future__ import annotations

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

from tests.fake_backend import FakeBackend, reasoning, step, text, tool_call  # noqa: E402

PIXIR = os.environ.get("PIXIR_BIN", str(ROOT / "dist" / "pixir"))
RUNS = int(os.environ.get("RUNS", "5"))
TRANSPORTS = ("websocket", "http_sse")
FILE_TEXT = ("x" * 69 + "\n") * 51  # 3.5 KiB


def script(steps: int, shape: str) -> list[dict]:
    """ "mixed": read and bash alternate (the e2e acceptance shape); "read": only read, so
    the per-step figure is not dominated by forking bash (~5 ms a call here)."""
    out = []
    for n in range(1, steps):
        call = (
            tool_call("read", {"path": "out.txt"})
            if n % 2 or shape == "read"
            else tool_call("bash", {"command": "cat out.txt"})
        )
        out.append(step(reasoning(f"step {n}: " + "r" * 900), call))
    out.append(step(text("done")))
    return out


def turn(
    fake: FakeBackend, workspace: Path, env: dict, steps: int, transport: str, shape: str
) -> dict:
    """One Turn of `steps` model calls in a fresh process."""
    fake.script(*script(steps, shape))
    since = len(fake.requests)
    started = time.perf_counter()
    done = subprocess.run(
        [PIXIR, "--json", "--transport", transport, "go"],
        cwd=workspace,
        env=env,
        capture_output=True,
        check=False,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"pixir failed ({done.returncode}): {done.stdout!r} {done.stderr!r}")
    records = [r for r in fake.requests[since:] if r.path.endswith("/responses")]
    calls = [r for r in records if r.kind in ("ws_frame", "http") and r.method != "GET"]
    assert len(calls) == steps, (len(calls), steps)
    server = sum(r.extra.get("server_s", 0.0) for r in calls)
    loop = None
    if steps > 1:
        between = calls[-1].ts - calls[0].ts - sum(r.extra["server_s"] for r in calls[:-1])
        loop = between / (steps - 1)
    return {
        "wall": wall,
        "server": server,
        "uploaded": sum(r.bytes_received for r in records),
        "loop": loop,
        "connections": len({r.connection_id for r in records}),
    }


def measure(steps_list=(20, 50), shapes=("read", "mixed"), runs: int = RUNS) -> dict:
    fake = FakeBackend().start()
    fake.configure(chunk_pause_s=0.0)
    report: dict = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            workspace = root / "ws"
            workspace.mkdir()
            (workspace / "out.txt").write_text(FILE_TEXT)
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "HOME": str(root),
                "PIXIR_HOME": str(root / ".pixir"),
                "OPENAI_API_KEY": fake.api_key,
                "NO_COLOR": "1",
                "LANG": "C.UTF-8",
                **fake.env(),
            }
            for shape in shapes:
                for steps in steps_list:
                    report[f"{shape}_{steps}_steps"] = compare(
                        fake, workspace, env, steps, shape, runs
                    )
    finally:
        fake.stop()
    return report


def compare(fake, workspace: Path, env: dict, steps: int, shape: str, n: int = RUNS) -> dict:
    runs: dict = {t: {"one": [], "many": []} for t in TRANSPORTS}
    for _ in range(n):
        for transport in TRANSPORTS:
            runs[transport]["one"].append(turn(fake, workspace, env, 1, transport, shape))
            runs[transport]["many"].append(turn(fake, workspace, env, steps, transport, shape))
    figures = {}
    for transport, got in runs.items():
        many, one = got["many"], got["one"]
        whole = (
            statistics.median(r["wall"] - r["server"] for r in many)
            - statistics.median(r["wall"] - r["server"] for r in one)
        ) / (steps - 1)
        figures[transport] = {
            "uploaded_kib": round(many[0]["uploaded"] / 1024, 1),
            "connections": many[0]["connections"],
            "overhead_ms_per_step": round(statistics.median(r["loop"] for r in many) * 1000, 2),
            "overhead_ms_per_step_whole_runs": round(whole * 1000, 2),
            "turn_wall_s": round(statistics.median(r["wall"] for r in many), 3),
            "runs_ms_per_step": [r["loop"] * 1000 for r in many],
        }
    ws, http = figures["websocket"], figures["http_sse"]
    ratio = round(ws["uploaded_kib"] / http["uploaded_kib"], 4)
    return {**figures, "upload_ratio_ws_vs_http": ratio}


CHILD = """
import json, sys, time
sys.path.insert(0, {root!r})
from tests.unit.helpers.ws import Key, Loop
from pixir.config import Settings
from pixir.provider.client import Provider
settings = Settings(transport={transport!r}, openai_base_url={base!r})
provider = Provider(settings, Key({key!r}), "bench")
provider.prepare()
loop = Loop(provider, tool_output={output!r})
loop.call()  # warm-up: connection, imports
started = time.perf_counter()
for _ in range({steps} - 1):
    loop.call()
print(json.dumps(time.perf_counter() - started))
provider.close()
"""


def provider_only(steps: int = 50, runs: int = RUNS) -> dict:
    fake = FakeBackend().start()
    fake.configure(chunk_pause_s=0.0)
    per_step: dict = {t: [] for t in TRANSPORTS}
    try:
        for _ in range(runs):
            for transport in TRANSPORTS:
                fake.script(*script(steps, "read"))
                since = len(fake.requests)
                code = CHILD.format(
                    root=str(ROOT),
                    transport=transport,
                    base=fake.openai_base_url,
                    key=fake.api_key,
                    output=FILE_TEXT,
                    steps=steps,
                )
                done = subprocess.run(
                    [sys.executable, "-c", code], capture_output=True, text=True, check=True
                )
                wall = json.loads(done.stdout)
                calls = [r for r in fake.requests[since:] if r.kind in ("ws_frame", "http")]
                server = sum(r.extra.get("server_s", 0.0) for r in calls[1:])
                per_step[transport].append((wall - server) / (steps - 1))
    finally:
        fake.stop()
    return {
        t: {
            "overhead_ms_per_step": round(statistics.median(v) * 1000, 2),
            "runs_ms_per_step": [x * 1000 for x in v],
        }
        for t, v in per_step.items()
    }


def main() -> None:
    report = {"runs": RUNS, "transport_only_50_steps": provider_only(), **measure()}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
