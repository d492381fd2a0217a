"""Shared pieces of the reliability suite (docs/reliability.md): a guarded runner, Log checks, a
gate that can refuse connections, secret scanning and the figures docs/reliability.md reports.

Every pixir process started here runs with `netguard/sitecustomize.py` on its PYTHONPATH: a
lookup of or a connection to anything but loopback is refused and written down, and every
test fails if one was tried (unless it expects it, as the guard's own control test does).
"""

from __future__ import annotations

import collections
import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.harness import PixirRunner, assert_paired

HERE = Path(__file__).resolve().parent
NETGUARD = HERE / "netguard"

# -- figures ------------------------------------------------------------------------------------

FIGURES: collections.Counter = collections.Counter()


def record(name: str, amount: int = 1) -> None:
    """Count something the suite proved (faults, crash points, fuzz examples, secrets...).
    `tests/reliability/report.py` collects these into docs/reliability.md."""
    FIGURES[name] += amount


def pytest_sessionfinish(session, exitstatus) -> None:
    target = os.environ.get("PIXIR_RELIABILITY_FIGURES")
    if target and FIGURES:
        Path(target).write_text(json.dumps(dict(FIGURES), indent=2, sort_keys=True) + "\n")


# -- the runner -----------------------------------------------------------------------------------


class GuardedRunner(PixirRunner):
    """A PixirRunner whose processes may only use loopback (see netguard/)."""

    def __init__(self, fake, tmp_path: Path):
        super().__init__(fake, tmp_path)
        self.netguard_log = self.root / "netguard.log"
        self.env["PYTHONPATH"] = str(NETGUARD)
        self.env["PIXIR_NETGUARD_LOG"] = str(self.netguard_log)
        self.expect_netguard = False

    def netguard_hits(self) -> list[str]:
        if not self.netguard_log.exists():
            return []
        return self.netguard_log.read_text().splitlines()

    def session_id(self) -> str:
        return self.sessions()[-1].stem


@pytest.fixture
def pixir(fake, tmp_path):
    runner = GuardedRunner(fake, tmp_path)
    yield runner
    hits = runner.netguard_hits()
    if hits and not runner.expect_netguard:
        pytest.fail("pixir tried to leave loopback:\n" + "\n".join(hits), pytrace=False)


def new_runner(tmp_path: Path, name: str):
    """A FakeBackend and a GuardedRunner of their own (for tests that need many fresh
    sessions). The caller stops the fake."""
    from tests.fake_backend import FakeBackend

    fake = FakeBackend().start()
    folder = tmp_path / name
    folder.mkdir()
    return fake, GuardedRunner(fake, folder)


# -- memory ---------------------------------------------------------------------------------------


def peak_rss_kib(pixir, *args: str, stdin=subprocess.DEVNULL, env=None) -> tuple[int, int]:
    """(exit code, peak resident memory in KiB) of one dist/pixir run: measured by a
    wrapper whose only child it is. `stdin`: a file descriptor for pixir's stdin."""
    wrapper = (
        "import resource, subprocess, sys\n"
        "code = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL,\n"
        "                       stderr=subprocess.DEVNULL)\n"
        "print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", wrapper, *pixir.command(*args)],
        stdin=stdin,
        env=pixir._env(env),
        cwd=pixir.workspace,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    code, peak = done.stdout.split()
    return int(code), int(peak)


# -- the Log -------------------------------------------------------------------------------------


def check_log(path: Path, *, finished: bool = True) -> list[dict]:
    """Read a session Log with pixir's own reader and fold it with pixir's own History, and
    check what every request rebuilt from it relies on. Returns the events.

    - the Log parses (a torn last line is allowed: that is a crash mid-write) and folds;
    - no tool_call appears twice (a retried model call must not run a tool twice);
    - every tool_result answers an earlier tool_call, at most once;
    - `finished`: every tool_call has its tool_result in the Log itself (after a clean exit
      or an error, never after a SIGKILL, when the next Turn closes it);
    - the folded input is paired: each function_call_output follows its function_call, and
      each function_call has exactly one output, so the next request cannot be refused.
    """
    from pixir.history import History
    from pixir.log import parse

    events = parse(path.read_bytes(), path)
    # Calls as pixir writes them (an edited Log may hold others, which the fold ignores).
    events = [e for e in events if _well_formed(e)]
    # A refused second use of a call_id: a marked tool_call answered at once by a marked
    # failed tool_result (`duplicate_call_id`), both skipped by the fold.
    marked = [e for e in events if e["data"].get("duplicate")]
    for call, result in zip(marked[::2], marked[1::2], strict=True):
        assert call["type"] == "tool_call" and result["type"] == "tool_result", marked
        assert result["seq"] == call["seq"] + 1 and not result["data"]["ok"]
        assert result["data"]["error"]["kind"] == "duplicate_call_id"
    events = [e for e in events if not e["data"].get("duplicate")]
    started = [e for e in events if e["type"] == "session_started"]
    assert len(started) == 1 and events[0]["type"] == "session_started", path
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(set(seqs)), f"{path}: seq not strictly increasing"
    calls = [e["data"]["call_id"] for e in events if e["type"] == "tool_call"]
    assert len(calls) == len(set(calls)), f"{path}: duplicate tool_call {calls}"
    answered: list[str] = []
    seen: set[str] = set()
    for event in events:
        if event["type"] == "tool_call":
            seen.add(event["data"]["call_id"])
        elif event["type"] == "tool_result":
            call_id = event["data"]["call_id"]
            assert call_id in seen, f"{path}: tool_result for unknown call {call_id}"
            answered.append(call_id)
    assert len(answered) == len(set(answered)), f"{path}: a call answered twice"
    if finished:
        missing = set(calls) - set(answered)
        assert not missing, f"{path}: tool_call without tool_result: {missing}"
    history = History.fold(events, started[0]["data"]["model"])
    assert_paired(history.input_items())
    return events


def _well_formed(event: dict) -> bool:
    if event["type"] not in ("tool_call", "tool_result"):
        return True
    data = event["data"]
    return isinstance(data.get("call_id"), str) and (
        event["type"] == "tool_result" or isinstance(data.get("name"), str)
    )


def tool_calls(events: list[dict]) -> list[tuple[str, bool | None]]:
    """(tool name, ok of its result or None) per tool_call, in Log order."""
    results = {e["data"]["call_id"]: e["data"]["ok"] for e in events if e["type"] == "tool_result"}
    return [
        (e["data"]["name"], results.get(e["data"]["call_id"]))
        for e in events
        if e["type"] == "tool_call"
    ]


# -- a gate in front of the fake -------------------------------------------------------------


class Gate:
    """A TCP forwarder on 127.0.0.1 in front of the fake. `close()` stops listening (a
    connect is then refused: RST) and cuts the connections it carries; `open()` listens on
    the same port again."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self.port = 0
        self.accepted = 0
        self.open()

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def open(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def close(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            conns, self._conns = self._conns, []
        if listener is not None:
            try:
                listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            listener.close()
        for conn in conns:  # shutdown first: it wakes a thread blocked in recv()
            for how in (lambda c: c.shutdown(socket.SHUT_RDWR), lambda c: c.close()):
                try:
                    how(conn)
                except OSError:
                    pass

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self.accepted += 1
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(a, b), daemon=True).start()


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (src, dst):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


# -- secrets ------------------------------------------------------------------------------------

WINDOW = 20  # any run of this many characters of a secret counts as a leak
TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~+/=")


class SecretScanner:
    """Finds any secret — or any WINDOW-character piece of one (a JWT's signature or payload
    alone, a key cut short) — in text. JWT headers are shared by every token and are not
    secret, so their pieces are not searched for."""

    def __init__(self, secrets: set[str]):
        self.secrets = sorted(s for s in secrets if s)
        self.pieces: dict[str, str] = {}
        for secret in self.secrets:
            parts = secret.split(".")
            segments = parts[1:] if len(parts) == 3 and parts[0].startswith("eyJ") else [secret]
            for segment in segments:
                for start in range(0, max(len(segment) - WINDOW, 0) + 1):
                    self.pieces.setdefault(segment[start : start + WINDOW], secret)
        self.bytes_scanned = 0
        self.sources = 0

    def leaks(self, name: str, data: bytes | str) -> list[str]:
        """Descriptions of every secret piece found in `data` (from `name`)."""
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        self.bytes_scanned += len(text)
        self.sources += 1
        found = []
        for secret in self.secrets:  # whole values, any alphabet around them
            if secret in text:
                found.append(f"{name}: whole secret {secret[:12]}...")
        run_start = None
        for index, char in enumerate(text + " "):
            if char in TOKEN_CHARS:
                if run_start is None:
                    run_start = index
                continue
            if run_start is not None and index - run_start >= WINDOW:
                run = text[run_start:index]
                for start in range(len(run) - WINDOW + 1):
                    secret = self.pieces.get(run[start : start + WINDOW])
                    if secret is not None:
                        found.append(f"{name}: piece of {secret[:12]}... in {run[:60]!r}")
                        break
            run_start = None
        return found
