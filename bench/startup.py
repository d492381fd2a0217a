"""Start-up figures (docs/performance.md): how long `dist/pixir` takes before it does anything, next
to the interpreter's own floor and to the peers a user would compare it with.

Fairness rules, because start-up figures are easy to flatter:
- dist/pixir and every Python reference run on the *same real interpreter*, called
  explicitly (`<python> dist/pixir ...`). `python3` on PATH may be a launcher (a pyenv shim
  is a shell script costing far more than Python itself); one extra row shows what the
  shebang costs through it.
- The references import the very files pixir runs with: the site-packages shiv extracted.
- The interpreter's own site (.pth files) runs in both. Rows marked "bare venv" repeat the
  figure in a venv of the same interpreter without packages: Python's standard site, none of
  the machine's .pth files (on the development machine one imports certifi at every start,
  which takes `python -c pass` from ~16 to ~65 ms and pre-loads modules pixir would import
  itself).
- All commands of a group run interleaved, run after run, so drift hits them alike.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from common import PEERS, PIXIR, ROOT, figure, interleaved, real_python, run_quiet, skipped

PROMPT = "say hi"
ANSWER = "Hello from the fake backend."
VERSION_TARGET = "≤ 3 × python -c pass"


def _base_env(home: Path, shiv_root: Path) -> dict:
    # A clean environment: nothing of the caller's (no PYTHONDONTWRITEBYTECODE, no
    # PYTHONPATH, no OPENAI_API_KEY), a private HOME, and a bench-owned shiv cache.
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "PIXIR_HOME": str(home / ".pixir"),
        "LANG": "C.UTF-8",
        "NO_COLOR": "1",
        "SHIV_ROOT": str(shiv_root),
    }


def _site_packages(shiv_root: Path) -> Path:
    found = sorted(shiv_root.glob("pixir_*/site-packages"))
    if not found:
        raise RuntimeError(f"no shiv extraction under {shiv_root}")
    return found[-1]


def peer_bin(name: str) -> Path | None:
    path = PEERS / "node_modules" / ".bin" / name
    return path if path.exists() else None


def _timed(argv, env, cwd=None):
    return lambda: run_quiet(argv, env=env, cwd=cwd)


def bare_python(py: str) -> str:
    """A bare venv of the same interpreter (bench/.venv, no packages): Python's standard site
    without the .pth files of this machine's site-packages. On the development machine one
    of those imports certifi at every start, tripling `python -c pass`; the bare venv shows
    what a machine without it sees."""
    venv = ROOT / "bench" / ".venv"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([py, "-m", "venv", "--without-pip", str(venv)], check=True)
    return str(python)


def version_and_help(runs: int) -> list[dict]:
    """Warm `--version` / `--help` next to `python -c pass` on the same interpreter (as
    installed, and in a bare venv), through the shebang, with PYTHONDONTWRITEBYTECODE, without
    shiv's bootstrap, and against the peers' `--version`."""
    py = real_python()
    bare = bare_python(py)
    with tempfile.TemporaryDirectory(prefix="pixir-bench-") as tmp:
        root = Path(tmp)
        env = _base_env(root, root / "shiv")
        run_quiet([py, str(PIXIR), "--version"], env=env)  # extract once: warm from here on
        module_env = {**env, "PYTHONPATH": str(_site_packages(root / "shiv"))}
        jobs = {
            "pass": _timed([py, "-c", "pass"], env),
            "version": _timed([py, str(PIXIR), "--version"], env),
            "help": _timed([py, str(PIXIR), "--help"], env),
            "bare_pass": _timed([bare, "-c", "pass"], env),
            "bare_version": _timed([bare, str(PIXIR), "--version"], env),
            "bare_help": _timed([bare, str(PIXIR), "--help"], env),
            "bare_module": _timed([bare, "-m", "pixir", "--version"], module_env),
            "shebang": _timed([str(PIXIR), "--version"], env),
            "shebang_pass": _timed(["python3", "-c", "pass"], env),
            "nobytecode": _timed(
                [py, str(PIXIR), "--version"], {**env, "PYTHONDONTWRITEBYTECODE": "1"}
            ),
        }
        codex = peer_bin("codex")
        if codex:
            jobs["codex"] = _timed([str(codex), "--version"], env)
        t = interleaved(jobs, runs)
        pi = peer_bin("pi")
        pi_times = None
        if pi:  # ~1-2.5 s a run: fewer runs, paired with pixir's own in the same loop
            pi_times = interleaved(
                {
                    "version": _timed([py, str(PIXIR), "--version"], env),
                    "pi": _timed([str(pi), "--version"], env),
                },
                max(3, min(runs, 5)),
            )

    ms = 1000.0
    shim = shutil.which("python3", path=env["PATH"]) or "python3"
    site_note = (
        "interpreter as installed: its site-packages .pth files run in both (here one imports "
        "certifi, inflating python -c pass ~4× and pre-loading modules pixir imports itself)"
    )
    bare_note = "a bare venv of the same interpreter: standard site, no machine-specific .pth"
    rows = [
        figure("startup.python", f"python -c pass ({py})", "ms", t["pass"], scale=ms),
        figure("startup.python_bare", "python -c pass (bare venv)", "ms", t["bare_pass"], scale=ms),
    ]
    for name in ("version", "help"):
        rows.append(
            figure(
                f"startup.{name}_warm",
                f"dist/pixir --{name}, warm",
                "ms",
                t[name],
                ref_name="python -c pass",
                ref_values=t["pass"],
                target=("ratio", "<=", 3.0),
                target_text=VERSION_TARGET,
                note=site_note,
                scale=ms,
            )
        )
    for name in ("version", "help"):
        rows.append(
            figure(
                f"startup.{name}_warm_bare",
                f"dist/pixir --{name}, warm, bare venv",
                "ms",
                t[f"bare_{name}"],
                ref_name="python -c pass (bare venv)",
                ref_values=t["bare_pass"],
                target=("ratio", "<=", 3.0),
                target_text=VERSION_TARGET,
                note=bare_note,
                scale=ms,
            )
        )
    rows += [
        figure(
            "startup.version_no_shiv",
            "python -m pixir --version from the extracted site-packages (no shiv bootstrap)",
            "ms",
            t["bare_module"],
            ref_name="python -c pass (bare venv)",
            ref_values=t["bare_pass"],
            note="pixir's own share of --version; the rest of the warm figure is the "
            "zipapp's launch (zipimport, runpy, build.sh's launcher finding the extraction)",
            scale=ms,
        ),
        figure(
            "startup.version_dontwritebytecode",
            "dist/pixir --version, warm, PYTHONDONTWRITEBYTECODE=1",
            "ms",
            t["nobytecode"],
            ref_name="dist/pixir --version",
            ref_values=t["version"],
            note="shiv --compile-pyc ships bytecode, so this setting must not cost a "
            "recompile each run (docs/performance.md)",
            scale=ms,
        ),
        figure(
            "startup.version_shebang",
            f"dist/pixir --version via its shebang (python3 = {shim})",
            "ms",
            t["shebang"],
            ref_name="python3 -c pass via the same launcher",
            ref_values=t["shebang_pass"],
            note="what a user of this machine sees: the launcher behind `python3` adds its "
            "own start-up to every run of pixir",
            scale=ms,
        ),
    ]
    if codex:
        rows.append(
            figure(
                "startup.version_vs_codex",
                "dist/pixir --version vs codex --version",
                "ms",
                t["version"],
                ref_name="codex --version (npm @openai/codex)",
                ref_values=t["codex"],
                target=("ratio", "<", 1.0),
                target_text="< 1 × codex --version",
                scale=ms,
            )
        )
    else:
        rows.append(
            skipped(
                "startup.version_vs_codex",
                "dist/pixir --version vs codex --version",
                "< 1 × codex --version",
                "codex not installed in bench/.peers (npm install failed or --no-install)",
            )
        )
    if pi_times:
        rows.append(
            figure(
                "startup.version_vs_pi",
                "dist/pixir --version vs pi --version",
                "ms",
                pi_times["version"],
                ref_name="pi --version (npm @earendil-works/pi-coding-agent)",
                ref_values=pi_times["pi"],
                scale=ms,
            )
        )
    else:
        rows.append(
            skipped(
                "startup.version_vs_pi",
                "dist/pixir --version vs pi --version",
                "—",
                "pi not installed in bench/.peers",
            )
        )
    return rows


def cold(runs: int) -> list[dict]:
    """The first run after a fresh shiv extraction (a new SHIV_ROOT each run): what the
    first start after installing or upgrading costs."""
    py = real_python()
    with tempfile.TemporaryDirectory(prefix="pixir-bench-") as tmp:
        root = Path(tmp)
        env = _base_env(root, root / "unused")

        def first(*args: str):
            def job() -> float:
                fresh = Path(tempfile.mkdtemp(prefix="shiv-", dir=root))
                try:
                    return run_quiet([py, str(PIXIR), *args], env={**env, "SHIV_ROOT": str(fresh)})
                finally:
                    shutil.rmtree(fresh, ignore_errors=True)

            return job

        t = interleaved(
            {
                "pass": _timed([py, "-c", "pass"], env),
                "version": first("--version"),
                "help": first("--help"),
            },
            max(3, runs // 2),
        )
    ms = 1000.0
    return [
        figure(
            f"startup.{name}_cold",
            f"dist/pixir --{name}, first run after a fresh shiv extraction",
            "ms",
            t[name],
            ref_name="python -c pass",
            ref_values=t["pass"],
            note="once per build and SHIV_ROOT: shiv's bootstrap unpacks site-packages "
            "(~4 MB) and byte-compiles all of it (--compile-pyc)",
            scale=ms,
        )
        for name in ("version", "help")
    ]


# -- a one-shot Turn against the fake ---------------------------------------------------------


def _codex_config(home: Path, fake) -> None:
    # A custom Responses provider at the fake's /v1 with an API key from the environment.
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(
        'model = "gpt-5.5"\n'
        'model_provider = "fake"\n\n'
        "[model_providers.fake]\n"
        'name = "fake"\n'
        f'base_url = "{fake.openai_base_url}"\n'
        'env_key = "FAKE_OPENAI_API_KEY"\n'
        'wire_api = "responses"\n',
        encoding="utf-8",
    )


def one_shot(runs: int) -> list[dict]:
    """launch → first request byte at the fake, and the whole one-shot answer, for pixir
    (and codex exec when installed), against an instant local fake on the same answer."""
    import sys

    sys.path.insert(0, str(ROOT))
    from tests.fake_backend import FakeBackend, step, text

    py = real_python()
    codex = peer_bin("codex")
    fake = FakeBackend().start()
    fake.configure(chunk_pause_s=0.0)  # instant: no pacing of small writes
    # codex wants a home it may write to (not under /tmp, where it refuses helper links)
    PEERS.mkdir(parents=True, exist_ok=True)
    try:
        with (
            tempfile.TemporaryDirectory(prefix="pixir-bench-") as tmp,
            tempfile.TemporaryDirectory(prefix="codex-home-", dir=PEERS) as codex_tmp,
        ):
            root = Path(tmp)
            workspace = root / "ws"
            workspace.mkdir()
            env = _base_env(root, root / "shiv")
            pixir_env = {**env, **fake.env(), "OPENAI_API_KEY": fake.api_key}
            run_quiet([py, str(PIXIR), "--version"], env=env)  # extract once
            sp = _site_packages(root / "shiv")
            import_env = {**env, "PYTHONPATH": str(sp)}
            codex_env = {
                **env,
                "CODEX_HOME": str(Path(codex_tmp) / "home"),
                "FAKE_OPENAI_API_KEY": fake.api_key,
            }
            if codex:
                _codex_config(Path(codex_env["CODEX_HOME"]), fake)
            first_byte: dict[str, list[float]] = {"pixir": [], "pixir_http": [], "codex": []}

            def turn(name: str, argv: list[str], env_: dict):
                def job() -> float:
                    fake.script(step(text(ANSWER)))
                    before = len(fake.requests)
                    launched = time.time()
                    seconds = run_quiet(argv, env=env_, cwd=workspace)
                    if fake.steps_left:
                        raise RuntimeError(f"{name} did not consume its scripted answer")
                    calls = [
                        r
                        for r in fake.requests[before:]
                        if r.path.endswith("/responses") and r.kind != "ws_frame"
                    ]
                    first_byte[name].append(calls[0].ts - launched)
                    return seconds

                return job

            jobs = {
                "imports": _timed([py, "-c", "import requests, websocket, jwt"], import_env),
                "pixir": turn("pixir", [py, str(PIXIR), "--no-stdin", PROMPT], pixir_env),
                "pixir_http": turn(
                    "pixir_http",
                    [py, str(PIXIR), "--no-stdin", "--transport", "http_sse", PROMPT],
                    pixir_env,
                ),
            }
            if codex:
                jobs["codex"] = turn(
                    "codex",
                    [str(codex), "exec", "--skip-git-repo-check", PROMPT],
                    codex_env,
                )
            t = interleaved(jobs, runs)
            # drop the warm-up round's first-byte figures, as interleaved() drops its times
            for name in first_byte:
                first_byte[name] = first_byte[name][-runs:] if first_byte[name] else []
    finally:
        fake.stop()

    ms = 1000.0
    rows = [
        figure(
            "oneshot.first_byte",
            "launch → first request byte at the fake, one-shot `dist/pixir PROMPT`",
            "ms",
            first_byte["pixir"],
            ref_name='python -c "import requests, websocket, jwt"',
            ref_values=t["imports"],
            target=("ratio", "<=", 1.5),
            target_text="≤ 1.5 × the imports",
            note="the default transport (auto: a WebSocket upgrade first); the fake stamps a "
            "request when it has read it whole (a few KiB on loopback, well under 1 ms after "
            "its first byte)",
            scale=ms,
        )
    ]
    if codex:
        rows.append(
            figure(
                "oneshot.vs_codex_exec",
                "one-shot answer end to end: dist/pixir PROMPT vs codex exec PROMPT",
                "ms",
                t["pixir"],
                ref_name="codex exec (npm @openai/codex, model_providers → the fake, "
                'wire_api = "responses")',
                ref_values=t["codex"],
                target=("ratio", "<=", 0.75),
                target_text="≤ 0.75 × codex exec",
                note="same instant fake, same scripted answer, both print it to stdout",
                scale=ms,
            )
        )
        rows.append(
            figure(
                "oneshot.codex_first_byte",
                "codex exec: launch → first request byte (for comparison)",
                "ms",
                first_byte["codex"],
                ref_name="dist/pixir: launch → first request byte",
                ref_values=first_byte["pixir"],
                scale=ms,
            )
        )
    else:
        rows.append(
            skipped(
                "oneshot.vs_codex_exec",
                "one-shot answer end to end vs codex exec",
                "≤ 0.75 × codex exec",
                "codex not installed in bench/.peers",
            )
        )
    rows.append(
        figure(
            "oneshot.first_byte_http",
            "launch → first request byte, one-shot `dist/pixir --transport http_sse PROMPT`",
            "ms",
            first_byte["pixir_http"],
            ref_name='python -c "import requests, websocket, jwt"',
            ref_values=t["imports"],
            target=("ratio", "<=", 1.5),
            target_text="≤ 1.5 × the imports",
            scale=ms,
        )
    )
    rows.append(
        figure(
            "oneshot.wall_http",
            "dist/pixir --transport http_sse PROMPT, end to end, vs the default transport",
            "ms",
            t["pixir_http"],
            ref_name="dist/pixir PROMPT (auto: WebSocket)",
            ref_values=t["pixir"],
            scale=ms,
        )
    )
    rows.append(
        figure(
            "oneshot.wall",
            "dist/pixir PROMPT, one-shot answer end to end (instant fake)",
            "ms",
            t["pixir"],
            ref_name='python -c "import requests, websocket, jwt"',
            ref_values=t["imports"],
            scale=ms,
        )
    )
    return rows


def ensure_peers(log) -> None:
    """npm-install the peers into bench/.peers (git-ignored) when npm is there and they are
    not yet installed. Failure is not an error: their rows say SKIP."""
    if peer_bin("codex") and peer_bin("pi"):
        return
    if not shutil.which("npm"):
        log("peers: npm not found — codex and pi rows will be skipped")
        return
    PEERS.mkdir(parents=True, exist_ok=True)
    package = PEERS / "package.json"
    if not package.exists():
        package.write_text('{"name": "pixir-bench-peers", "private": true}\n')
    log("peers: npm install @openai/codex @earendil-works/pi-coding-agent into bench/.peers ...")
    done = subprocess.run(
        [
            "npm",
            "install",
            "--no-audit",
            "--no-fund",
            "@openai/codex",
            "@earendil-works/pi-coding-agent",
        ],
        cwd=PEERS,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        log(f"peers: npm install failed ({done.returncode}): {done.stderr.strip()[-400:]}")
