"""A raw NDJSON driver for `pixir acp` (docs/acp.md): writes any bytes to its stdin — bad
JSON, batches, huge lines — and keeps every byte of its stdout, so a test can check both
the answers and that nothing but protocol lines ever appeared.

    agent = AcpDriver.start(pixir)                 # pixir: a tests.harness.PixirRunner
    answer = agent.request("initialize", {"protocolVersion": 1})
    agent.send_raw(b"not json\\n")
    error = agent.next_response(None)              # the answer with id null
    agent.close()                                  # EOF, then the exit code

pixir's own requests (session/request_permission) are answered by `on_request(message)`,
which returns a result dict (or None to leave the request unanswered).
"""

from __future__ import annotations

import itertools
import json
import subprocess
import threading
import time
from collections.abc import Callable

DEFAULT_WAIT_S = 30.0


class AcpDriver:
    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.raw = bytearray()  # every byte pixir wrote on stdout
        self.messages: list[dict] = []  # every parsed stdout line, in order
        self.bad_lines: list[bytes] = []  # stdout lines that are not a JSON-RPC object
        self.stderr = bytearray()
        self.on_request: Callable[[dict], dict | None] | None = None
        self._ids = itertools.count(1)
        self._cond = threading.Condition()
        self._eof = False
        self._write_lock = threading.Lock()
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    @classmethod
    def start(cls, pixir, *args: str, env: dict | None = None, cwd=None) -> AcpDriver:
        proc = pixir.popen("acp", *args, env=env, cwd=cwd, stdin=subprocess.PIPE)
        return cls(proc)

    # -- reading -----------------------------------------------------------------------------

    def _read_stdout(self) -> None:
        pending = b""
        stream = self.proc.stdout
        while True:
            chunk = stream.read1(1 << 16)
            if not chunk:
                break
            with self._cond:
                self.raw += chunk
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                self._take(line)
        if pending:
            self._take(pending, torn=True)
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def _take(self, line: bytes, torn: bool = False) -> None:
        try:
            message = json.loads(line)
        except ValueError:
            message = None
        if torn or not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
            with self._cond:
                self.bad_lines.append(line)
                self._cond.notify_all()
            return
        with self._cond:
            self.messages.append(message)
            self._cond.notify_all()
        if "method" in message and "id" in message and self.on_request is not None:
            result = self.on_request(message)
            if result is not None:
                self.send({"jsonrpc": "2.0", "id": message["id"], "result": result})

    def _read_stderr(self) -> None:
        while True:
            chunk = self.proc.stderr.read1(1 << 16)
            if not chunk:
                return
            with self._cond:
                self.stderr += chunk

    def wait_for(
        self, predicate: Callable[[dict], bool], timeout: float = DEFAULT_WAIT_S, start: int = 0
    ) -> dict:
        """The first message from index `start` on that satisfies `predicate`."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for message in self.messages[start:]:
                    if predicate(message):
                        return message
                left = deadline - time.monotonic()
                if left <= 0 or self._eof:
                    raise AssertionError(
                        f"no matching message in {timeout}s (eof={self._eof}); got "
                        f"{self.messages[start:][-5:]}\nstderr: {self.stderr_text()[-2000:]}"
                    )
                self._cond.wait(min(left, 0.5))

    def next_response(self, id_: object, timeout: float = DEFAULT_WAIT_S) -> dict:
        """The answer (result or error) carrying `id_`."""
        return self.wait_for(
            lambda m: (
                "method" not in m and "id" in m and m["id"] == id_ and type(m["id"]) is type(id_)
            ),
            timeout,
        )

    def updates(self, session_id: str | None = None) -> list[dict]:
        """The `update` of every session/update notification so far."""
        with self._cond:
            return [
                m["params"]["update"]
                for m in self.messages
                if m.get("method") == "session/update"
                and (session_id is None or m["params"].get("sessionId") == session_id)
            ]

    def stderr_text(self) -> str:
        return bytes(self.stderr).decode("utf-8", "replace")

    # -- writing -----------------------------------------------------------------------------

    def send_raw(self, data: bytes) -> None:
        with self._write_lock:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()

    def send(self, message: object) -> None:
        self.send_raw(json.dumps(message).encode() + b"\n")

    def request(
        self, method: str, params: dict | None = None, *, timeout: float = DEFAULT_WAIT_S
    ) -> dict:
        """Send a request and wait for its answer (the whole response message)."""
        id_ = next(self._ids)
        self.send({"jsonrpc": "2.0", "id": id_, "method": method, "params": params or {}})
        return self.next_response(id_, timeout)

    def call(self, method: str, params: dict | None = None, **kw) -> dict:
        """`request`, asserting success; the result."""
        answer = self.request(method, params, **kw)
        assert "result" in answer, f"{method} failed: {answer}\n{self.stderr_text()[-2000:]}"
        return answer["result"]

    def notify(self, method: str, params: dict | None = None) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params or {}})

    def initialize(self, **params) -> dict:
        return self.call("initialize", {"protocolVersion": 1, **params})

    # -- ending ------------------------------------------------------------------------------

    def close(self, timeout: float = DEFAULT_WAIT_S) -> int:
        """EOF on stdin; the exit code once pixir has gone."""
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"pixir acp did not exit {timeout}s after EOF") from None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def assert_stdout_pure(self) -> None:
        """Every byte pixir wrote on stdout is part of a JSON-RPC 2.0 line."""
        assert not self.bad_lines, f"stdout carried non-protocol lines: {self.bad_lines[:3]}"
        with self._cond:
            data = bytes(self.raw)
        assert data == b"" or data.endswith(b"\n"), "stdout ends inside a line"
        for line in data.split(b"\n")[:-1]:
            message = json.loads(line)
            assert isinstance(message, dict) and message.get("jsonrpc") == "2.0", line[:200]

    def __enter__(self) -> AcpDriver:
        return self

    def __exit__(self, *exc) -> None:
        self.kill()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                stream.close()
            except OSError:
                pass
