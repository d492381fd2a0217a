"""Run the built `dist/pixir` as a user would, against the fake backend (docs/fake-backend.md).

    def test_something(fake, pixir):
        fake.script(step(text("Hello")))
        pixir.login_api_key()
        result = pixir.run("say hello", "--json")
        assert result.code == 0
        assert pixir.json_out(result)["output"] == "Hello"

Every run gets a clean environment: a fresh HOME, a temporary PIXIR_HOME, the three base URLs
pointing at the fake, NO_COLOR=1, the session's shared SHIV_ROOT (see tests/conftest.py), and
nothing else of the caller's (no OPENAI_API_KEY, no PYTHONDONTWRITEBYTECODE) unless the test
passes it in `env=`.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BIN = REPO_ROOT / "dist" / "pixir"
SHIV_ROOT: Path | None = None  # where dist/pixir unpacks itself, shared by the session


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


free_port = closed_port  # the same port, named for a test that then listens on it


def wait_for_file(path: Path, timeout: float = 15) -> str:
    """The stripped text of `path` once it exists and is not blank (a child process writes
    it, say a pid); fails the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        time.sleep(0.02)
    raise AssertionError(f"{path} never appeared")


def assert_paired(items: list[dict]) -> None:
    """Request input items as pixir must send them: every function_call answered
    by exactly one function_call_output that comes after it, no call_id used twice, and no
    reasoning item last."""
    open_calls: set[str] = set()
    answered: set[str] = set()
    for item in items:
        if item.get("type") == "function_call":
            assert item["call_id"] not in open_calls | answered, f"call twice: {item}"
            open_calls.add(item["call_id"])
        elif item.get("type") == "function_call_output":
            assert item["call_id"] in open_calls, f"output without call: {item}"
            open_calls.discard(item["call_id"])
            answered.add(item["call_id"])
    assert not open_calls, f"calls without output: {open_calls}"
    if items:
        assert items[-1].get("type") != "reasoning", "reasoning as the last item"


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str
    stdout_bytes: bytes = b""
    stderr_bytes: bytes = b""

    def __str__(self) -> str:  # what a failing assert shows
        return f"exit {self.code}\n--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"


def pixir_command() -> list[str]:
    """The executable to run: $PIXIR_BIN (a path, or a command line such as
    "python3 /path/pixir.py") or <repo>/dist/pixir. Fails the test — never skips it — when
    there is none, because an e2e suite that silently skips proves nothing."""
    value = os.environ.get("PIXIR_BIN")
    if value:
        argv = [value] if os.path.exists(value) else shlex.split(value)
        if argv and (os.path.exists(argv[0]) or shutil.which(argv[0])):
            return argv
        pytest.fail(f"PIXIR_BIN={value!r} does not name an executable", pytrace=False)
    if DEFAULT_BIN.is_file() and os.access(DEFAULT_BIN, os.X_OK):
        return [str(DEFAULT_BIN)]
    pytest.fail(
        f"{DEFAULT_BIN} does not exist: run ./build.sh first (or set PIXIR_BIN)", pytrace=False
    )


class PixirRunner:
    """Runs pixir in `workspace` (its cwd) with `home` as PIXIR_HOME, against `fake`."""

    def __init__(self, fake: Any, tmp_path: Path, executable: list[str] | None = None):
        self.fake = fake
        self.executable = executable  # None: dist/pixir or $PIXIR_BIN
        self.root = Path(tmp_path)
        self.workspace = self.root / "workspace"
        self.home = self.root / "pixir-home"
        self.user_home = self.root / "home"
        for path in (self.workspace, self.user_home):
            path.mkdir(parents=True, exist_ok=True)
        self.env: dict[str, str] = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.user_home),
            "PIXIR_HOME": str(self.home),
            "NO_COLOR": "1",
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "TMPDIR": str(self.root),
            **fake.env(),
        }
        if SHIV_ROOT is not None:
            self.env["SHIV_ROOT"] = str(SHIV_ROOT)

    # -- running ----------------------------------------------------------------------------

    def command(self, *args: str | bytes) -> list[str | bytes]:
        """The argv of a run; a bytes argument goes through as is (argv that is not UTF-8)."""
        words = [a if isinstance(a, bytes) else str(a) for a in args]
        return [*(self.executable or pixir_command()), *words]

    def _env(self, env: dict[str, str | None] | None) -> dict[str, str]:
        merged = dict(self.env)
        for key, value in (env or {}).items():
            if value is None:
                merged.pop(key, None)  # env={"X": None} removes X
            else:
                merged[key] = str(value)
        return merged

    def run(
        self,
        *args: str,
        stdin: bytes | str | None = None,
        env: dict[str, str | None] | None = None,
        timeout: float = 60,
        cwd: Path | str | None = None,
    ) -> Result:
        """Run to completion. stdin=None gives an empty stdin (not the test's own)."""
        data = stdin.encode() if isinstance(stdin, str) else (stdin or b"")
        try:
            proc = subprocess.run(
                self.command(*args),
                input=data,
                capture_output=True,
                check=False,
                env=self._env(env),
                cwd=str(cwd or self.workspace),
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as err:
            out = (err.stdout or b"").decode("utf-8", "replace")
            errs = (err.stderr or b"").decode("utf-8", "replace")
            pytest.fail(f"pixir {args} did not finish in {timeout}s\n{out}\n{errs}", pytrace=False)
        return Result(
            proc.returncode,
            proc.stdout.decode("utf-8", "replace"),
            proc.stderr.decode("utf-8", "replace"),
            proc.stdout,
            proc.stderr,
        )

    def popen(
        self,
        *args: str,
        env: dict[str, str | None] | None = None,
        cwd: Path | str | None = None,
        **kw: Any,
    ) -> subprocess.Popen:
        """Start without waiting (signal tests). stdin is empty (/dev/null) like `run`'s — a
        prompt plus an open pipe would make pixir wait for stdin (docs/cli.md) — unless the test
        passes `stdin=subprocess.PIPE`; stdout and stderr are pipes. The caller owns the
        process (kill/wait it)."""
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        return subprocess.Popen(
            self.command(*args), env=self._env(env), cwd=str(cwd or self.workspace), **kw
        )

    def shell(self, script: str, timeout: float = 60) -> subprocess.CompletedProcess:
        """Run a bash pipeline in the workspace with `PIXIR` meaning the executable (bytes
        out, as a pipe or a file receives them)."""
        command = " ".join(map(shlex.quote, self.command()))
        return subprocess.run(
            ["bash", "-c", script.replace("PIXIR", command)],
            cwd=self.workspace,
            env=self._env(None),
            capture_output=True,
            timeout=timeout,
        )

    def on_terminal(
        self, *args: str, env: dict[str, str | None] | None = None, timeout: float = 60
    ) -> tuple[str, int]:
        """Run to the end on a pseudo-terminal: (everything the terminal showed, exit code)."""
        import pexpect

        child = self.spawn(*args, env=env)
        try:
            child.expect(pexpect.EOF, timeout=timeout)
            output = child.before
        finally:
            child.close(force=True)
        return output, child.exitstatus

    def spawn(
        self,
        *args: str,
        env: dict[str, str | None] | None = None,
        timeout: float = 30,
        dimensions: tuple[int, int] = (24, 100),
    ):
        """Run on a pseudo-terminal (pexpect), for TTY behaviour: `--ask` prompts, the REPL,
        colour rules. The caller expects/sends and must close it."""
        import pexpect  # test-only dependency, imported where needed

        argv = self.command(*args)
        return pexpect.spawn(
            argv[0],
            argv[1:],
            env=self._env(env),
            cwd=str(self.workspace),
            timeout=timeout,
            dimensions=dimensions,
            encoding="utf-8",
            codec_errors="replace",
        )

    # -- credentials and config ---------------------------------------------------------------

    def _write_private(self, name: str, data: dict) -> Path:
        self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.home / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
        os.chmod(path, 0o600)
        return path

    def login_api_key(self) -> Path:
        """Store the fake's API key as `pixir login --with-api-key` would."""
        return self._write_private("auth.json", {"kind": "api_key", "api_key": self.fake.api_key})

    def login_subscription(self, ttl: float = 3600, **account: Any) -> dict:
        """Seed a subscription auth.json with tokens the fake accepts; returns its content."""
        data = self.fake.auth_json(ttl=ttl, **account)
        self._write_private("auth.json", data)
        return data

    def auth_file(self) -> dict | None:
        path = self.home / "auth.json"
        return json.loads(path.read_text()) if path.exists() else None

    def write_config(self, config: dict) -> Path:
        self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.home / "config.json"
        path.write_text(json.dumps(config), encoding="utf-8")
        return path

    # -- workspace and Log ---------------------------------------------------------------------

    def path(self, relative: str) -> Path:
        return self.workspace / relative

    def write_file(self, relative: str, content: str | bytes) -> Path:
        path = self.path(relative)
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    def read_file(self, relative: str) -> str:
        return self.path(relative).read_text(encoding="utf-8")

    def sessions(self) -> list[Path]:
        """Session Logs of the workspace, oldest first: by the time of their first event
        (ids made in one second sort by their random part)."""
        return sorted(
            (self.workspace / ".pixir" / "sessions").glob("*.jsonl"),
            key=lambda path: (_started(path), path.name),
        )

    def log_events(self, session_id: str | None = None) -> list[dict]:
        """Parsed events of a session Log: the given one, else the only/latest. A torn final
        line (no newline) is ignored, as pixir's own reader does (docs/log.md)."""
        if session_id is not None:
            path = self.workspace / ".pixir" / "sessions" / f"{session_id}.jsonl"
        else:
            logs = self.sessions()
            assert logs, f"no session Log under {self.workspace / '.pixir' / 'sessions'}"
            path = logs[-1]
        text = path.read_text(encoding="utf-8")
        lines = text.split("\n")
        complete = lines[:-1]  # the last piece is "" or a torn line
        return [json.loads(line) for line in complete if line.strip()]

    def json_out(self, result: Result) -> dict:
        """stdout as exactly one JSON object; fails the test otherwise."""
        text = result.stdout.strip()
        try:
            value = json.loads(text)
        except ValueError:
            pytest.fail(f"stdout is not exactly one JSON object:\n{result}", pytrace=False)
        if not isinstance(value, dict):
            pytest.fail(f"stdout JSON is not an object:\n{result}", pytrace=False)
        return value

    def jsonl_out(self, result: Result) -> list[dict]:
        """stdout as JSON lines (for --jsonl); fails the test on a line that is not JSON."""
        out = []
        for number, line in enumerate(result.stdout.splitlines(), 1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except ValueError:
                pytest.fail(f"stdout line {number} is not JSON: {line!r}\n{result}", pytrace=False)
        return out


def user_texts(rec) -> list[str]:
    """The user messages a recorded Responses request carried (a WebSocket continuation
    carries only its new items: use what the fake reassembled)."""
    items = rec.extra.get("effective_input") or rec.json["input"]
    return [
        part["text"]
        for item in items
        if item.get("role") == "user"
        for part in item["content"]
        if part.get("type") == "input_text"
    ]


def _started(path: Path) -> str:
    """The `ts` of a Log's first event ("" when it has none yet)."""
    with open(path, encoding="utf-8", errors="replace") as file:
        first = file.readline()
    try:
        return json.loads(first).get("ts") or ""
    except ValueError:
        return ""
