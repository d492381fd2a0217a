"""A client's end of an ACP connection in-process: a real `rpc.Connection` over two pipes,
whose output a thread reads as it comes (so the agent never blocks on a full pipe)."""

from __future__ import annotations

import json
import os
import queue
import threading

from pixir.acp.rpc import Connection


class Wire:
    """`conn` is the agent's side; the test writes its input and reads its output here."""

    def __init__(self) -> None:
        agent_in, self._to_agent = os.pipe()
        self._from_agent, agent_out = os.pipe()
        self.conn = Connection(agent_in, agent_out)
        self._agent_fds = [agent_in, agent_out]
        self.raw = bytearray()  # every byte the agent wrote
        self.messages: list[dict] = []  # every message read, in order
        self._queue: queue.Queue = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._ids = iter(range(1, 1_000_000))

    def _read(self) -> None:
        buffer = b""
        while True:
            chunk = os.read(self._from_agent, 1 << 16)
            if not chunk:
                self._queue.put(None)
                return
            self.raw += chunk
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                message = json.loads(line)
                self.messages.append(message)
                self._queue.put(message)

    # -- writing -------------------------------------------------------------------------------

    def send_raw(self, data: bytes) -> None:
        os.write(self._to_agent, data)

    def send(self, message: dict) -> None:
        self.send_raw(json.dumps(message).encode() + b"\n")

    def notify(self, method: str, params: dict | None = None) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params or {}})

    def start_request(self, method: str, params: dict | None = None, id_=None) -> object:
        id_ = next(self._ids) if id_ is None else id_
        self.send({"jsonrpc": "2.0", "id": id_, "method": method, "params": params or {}})
        return id_

    def request(self, method: str, params: dict | None = None) -> dict:
        """Send a request and wait for its answer (the whole message: result or error)."""
        return self.answer(self.start_request(method, params))

    def call(self, method: str, params: dict | None = None) -> dict:
        """A request that must succeed: its result."""
        answer = self.request(method, params)
        assert "result" in answer, answer
        return answer["result"]

    def eof(self) -> None:
        if self._to_agent is not None:
            os.close(self._to_agent)
            self._to_agent = None

    # -- reading -------------------------------------------------------------------------------

    def next(self, timeout: float = 30) -> dict | None:
        """The next message the agent wrote; None once its output is closed."""
        return self._queue.get(timeout=timeout)

    def answer(self, id_: object, timeout: float = 60) -> dict:
        """Read on until the answer to request `id_` (what comes before it stays in
        `messages`)."""
        while True:
            message = self.next(timeout)
            assert message is not None, f"the output ended before the answer to {id_!r}"
            if message.get("id") == id_ and "method" not in message:
                return message

    def drain(self) -> None:
        """Wait until the reader has read all the agent wrote so far (into `messages`)."""
        self.conn.notify("_wire/mark", {})
        while (message := self.next()) is not None and message.get("method") != "_wire/mark":
            pass
        self.messages.remove({"jsonrpc": "2.0", "method": "_wire/mark", "params": {}})

    def updates(self, session_id: str) -> list[dict]:
        """The session/update payloads for `session_id` the agent wrote so far."""
        self.drain()
        return [
            m["params"]["update"]
            for m in self.messages
            if m.get("method") == "session/update" and m["params"]["sessionId"] == session_id
        ]

    def close(self) -> None:
        self.eof()
        for fd in self._agent_fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self._reader.join(10)
        os.close(self._from_agent)
