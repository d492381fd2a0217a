"""`pixir acp` as an editor meets it, next to Codex's ACP adapter (npm
`@zed-industries/codex-acp`) on the same instant fake, measured in one run, interleaved:

- spawn → `initialize` answered;
- spawn → the first `agent_message_chunk` of a prompt (initialize, session/new in a fresh
  workspace, session/prompt).

Both agents get an API key for the fake's /v1: pixir through OPENAI_API_KEY and
OPENAI_BASE_URL, codex-acp through a `model_providers` entry in its config.toml (what
startup.py gives `codex exec`). A tiny blocking NDJSON client drives them, so the client's
own cost is the same for both.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import PEERS, PIXIR, ROOT, figure, interleaved, real_python

ANSWER = "Hello from the fake backend."
WAIT_S = 60


class Agent:
    """One spawned ACP agent; `spawned` is when Popen returned."""

    def __init__(self, argv: list[str], env: dict, cwd: Path) -> None:
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.lines: queue.Queue = queue.Queue()
        self.ids = iter(range(1, 1000))
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put((time.perf_counter(), json.loads(line)))
        self.lines.put((time.perf_counter(), None))

    def send(self, method: str, params: dict) -> int:
        request_id = next(self.ids)
        message = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        self.proc.stdin.flush()
        return request_id

    def until(self, predicate) -> tuple[float, dict]:
        """(seconds since spawn, the message) of the first message that fits."""
        deadline = time.monotonic() + WAIT_S
        while True:
            at, message = self.lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            if message is None:
                raise RuntimeError(f"{self.proc.args[0]} exited before answering")
            if predicate(message):
                return at - self.started, message

    def answer(self, request_id: int) -> tuple[float, dict]:
        seconds, message = self.until(lambda m: m.get("id") == request_id and "method" not in m)
        if "error" in message:
            raise RuntimeError(f"{self.proc.args[0]}: {message['error']}")
        return seconds, message["result"]

    def stop(self) -> None:
        try:
            self.proc.stdin.close()
            self.proc.wait(5)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()  # codex-acp lingers after EOF
            self.proc.wait()


def session_run(argv: list[str], env: dict, root: Path, fake, step, text) -> tuple[float, float]:
    """(spawn → initialize answered, spawn → first agent_message_chunk) of one run."""
    workspace = Path(tempfile.mkdtemp(dir=root))
    fake.script(step(text(ANSWER)))
    agent = Agent(argv, env, workspace)
    try:
        initialized, _ = agent.answer(
            agent.send("initialize", {"protocolVersion": 1, "clientCapabilities": {}})
        )
        _, session = agent.answer(
            agent.send("session/new", {"cwd": str(workspace), "mcpServers": []})
        )
        agent.send(
            "session/prompt",
            {"sessionId": session["sessionId"], "prompt": [{"type": "text", "text": "hi"}]},
        )
        first_chunk, _ = agent.until(
            lambda m: (
                m.get("method") == "session/update"
                and m["params"]["update"].get("sessionUpdate") == "agent_message_chunk"
            )
        )
    finally:
        agent.stop()
    if fake.steps_left:
        raise RuntimeError(f"{argv[-1]} did not make its model call")
    return initialized, first_chunk


def codex_acp() -> Path | None:
    path = PEERS / "node_modules" / ".bin" / "codex-acp"
    return path if path.exists() else None


def measure(runs: int) -> dict:
    """Times in seconds: {"pixir": {"initialize": [...], "first_chunk": [...]}, "codex": ...}."""
    sys.path.insert(0, str(ROOT))
    from startup import _base_env, _codex_config, bare_python

    from tests.fake_backend import FakeBackend, step, text

    py = real_python()
    bare = bare_python(py)
    codex = codex_acp()
    fake = FakeBackend().start()
    fake.configure(chunk_pause_s=0.0)
    PEERS.mkdir(parents=True, exist_ok=True)
    names = ("pixir", "pixir_site", "codex")
    got: dict = {name: {"initialize": [], "first_chunk": []} for name in names}
    try:
        with (
            tempfile.TemporaryDirectory(prefix="pixir-bench-acp-") as tmp,
            tempfile.TemporaryDirectory(prefix="codex-home-", dir=PEERS) as codex_tmp,
        ):
            root = Path(tmp)
            env = _base_env(root, root / "shiv")
            pixir_env = {**env, **fake.env(), "OPENAI_API_KEY": fake.api_key}
            subprocess.run(
                [py, str(PIXIR), "--version"], env=env, check=True, capture_output=True
            )  # unpack once
            codex_home = Path(codex_tmp) / "home"
            _codex_config(codex_home, fake)
            codex_env = {**env, "CODEX_HOME": str(codex_home), "FAKE_OPENAI_API_KEY": fake.api_key}

            def job(name: str, argv: list[str], env_: dict):
                def run() -> float:
                    initialized, first = session_run(argv, env_, root, fake, step, text)
                    got[name]["initialize"].append(initialized)
                    got[name]["first_chunk"].append(first)
                    return first

                return run

            jobs = {
                "pixir": job("pixir", [bare, str(PIXIR), "acp"], pixir_env),
                "pixir_site": job("pixir_site", [py, str(PIXIR), "acp"], pixir_env),
            }
            if codex:
                jobs["codex"] = job("codex", [str(codex)], codex_env)
            interleaved(jobs, runs)
    finally:
        fake.stop()
    for name in got:  # drop the warm-up round, as interleaved() does
        for key in got[name]:
            got[name][key] = got[name][key][-runs:]
    return got


def figures(runs: int) -> list[dict]:
    got = measure(runs)
    pixir, codex, site = got["pixir"], got["codex"], got["pixir_site"]
    have_codex = bool(codex["initialize"])
    ref = "codex-acp (npm @zed-industries/codex-acp, model_providers → the fake)"
    rows = []
    for key, label in (
        ("initialize", "spawn → initialize answered"),
        ("first_chunk", "spawn → first agent_message_chunk (initialize, session/new, prompt)"),
    ):
        rows.append(
            figure(
                f"acp.{key}",
                f"`pixir acp`: {label}",
                "ms",
                pixir[key],
                ref_name=ref if have_codex else None,
                ref_values=codex[key] if have_codex else None,
                target=("ratio", "<=", 1.0) if have_codex else None,
                target_text="≤ 1 × codex-acp" if have_codex else "—",
                note="instant fake, API key on /v1 for both; pixir's default transport (auto: "
                "WebSocket first); pixir on a bare venv of the same interpreter (see the "
                "start-up rows)"
                + ("" if have_codex else "; codex-acp not installed (npm), no reference"),
                scale=1000.0,
            )
        )
        rows.append(
            figure(
                f"acp.{key}_site",
                f"`pixir acp`: {label}, this machine's interpreter (its site .pth files)",
                "ms",
                site[key],
                ref_name="the same on a bare venv",
                ref_values=pixir[key],
                scale=1000.0,
            )
        )
    return rows


def ensure_codex_acp(log) -> None:
    """npm-install @zed-industries/codex-acp into bench/.peers (git-ignored) when missing."""
    import shutil

    if codex_acp() is not None:
        return
    if not shutil.which("npm"):
        log("peers: npm not found — the codex-acp reference will be missing")
        return
    PEERS.mkdir(parents=True, exist_ok=True)
    package = PEERS / "package.json"
    if not package.exists():
        package.write_text('{"name": "pixir-bench-peers", "private": true}\n')
    log("peers: npm install @zed-industries/codex-acp into bench/.peers ...")
    done = subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "@zed-industries/codex-acp"],
        cwd=PEERS,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        log(f"peers: npm install failed ({done.returncode}): {done.stderr.strip()[-400:]}")


if __name__ == "__main__":
    os.chdir(ROOT)
    ensure_codex_acp(lambda line: print(line, file=sys.stderr))
    for row in figures(int(sys.argv[1]) if len(sys.argv) > 1 else 5):
        print(json.dumps(row, ensure_ascii=False))
