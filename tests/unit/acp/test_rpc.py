"""pixir/acp/rpc.py over real pipes: framing, the one writer, correlation of pixir's own
requests, and the bounded reader."""

from __future__ import annotations

import json
import os
import threading

import pytest

from pixir.acp import rpc


class Pipes:
    """A Connection whose input the test writes and whose output the test reads."""

    def __init__(self, max_line: int = rpc.MAX_LINE) -> None:
        self.to_agent_r, self.to_agent_w = os.pipe()
        self.from_agent_r, self.from_agent_w = os.pipe()
        self.conn = rpc.Connection(self.to_agent_r, self.from_agent_w, max_line=max_line)
        self.seen: list[rpc.Incoming] = []
        self.buffer = b""

    def serve_in_thread(self, handle=None) -> threading.Thread:
        thread = threading.Thread(
            target=self.conn.serve, args=(handle or self.seen.append,), daemon=True
        )
        thread.start()
        return thread

    def write(self, data: bytes) -> None:
        os.write(self.to_agent_w, data)

    def eof(self) -> None:
        os.close(self.to_agent_w)

    def read_message(self) -> dict:
        while b"\n" not in self.buffer:
            chunk = os.read(self.from_agent_r, 1 << 16)
            assert chunk, "agent output closed"
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)

    def close(self) -> None:
        for fd in (self.to_agent_r, self.from_agent_r, self.from_agent_w):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            os.close(self.to_agent_w)
        except OSError:
            pass


@pytest.fixture
def pipes():
    p = Pipes()
    yield p
    p.close()


def test_pixirs_requests_have_string_ids_and_get_their_answer_while_the_reader_serves(pipes):
    reader = pipes.serve_in_thread()
    results: list = []
    caller = threading.Thread(
        target=lambda: results.append(pipes.conn.request("session/request_permission", {"a": 1}))
    )
    caller.start()
    sent = pipes.read_message()
    assert isinstance(sent["id"], str) and sent["id"].startswith("pixir-")
    # a client request with the same-looking numeric id does not get confused with it
    pipes.write(b'{"jsonrpc":"2.0","id":1,"method":"x","params":{}}\n')
    pipes.write(
        json.dumps({"jsonrpc": "2.0", "id": sent["id"], "result": {"ok": 1}}).encode() + b"\n"
    )
    caller.join(5)
    assert results == [{"ok": 1}]
    pipes.eof()
    reader.join(5)
    assert [(i.method, i.id) for i in pipes.seen] == [("x", 1)]


def test_an_error_answer_raises_rpc_error(pipes):
    pipes.serve_in_thread()
    errors: list = []

    def ask():
        try:
            pipes.conn.request("m", {})
        except rpc.RpcError as err:
            errors.append((err.code, err.message, err.data))

    caller = threading.Thread(target=ask)
    caller.start()
    sent = pipes.read_message()
    pipes.write(
        json.dumps(
            {
                "jsonrpc": "2.0",
                "id": sent["id"],
                "error": {"code": -32603, "message": "no", "data": 7},
            }
        ).encode()
        + b"\n"
    )
    caller.join(5)
    assert errors == [(-32603, "no", 7)]


def test_a_waiting_request_is_abandoned_or_ends_with_closed_at_eof(pipes):
    pipes.serve_in_thread()
    abandon = threading.Event()
    outcome: list = []
    caller = threading.Thread(
        target=lambda: outcome.append(pipes.conn.request("m", {}, abandon=abandon))
    )
    caller.start()
    pipes.read_message()
    abandon.set()
    caller.join(5)
    assert outcome == [None]

    closed: list = []

    def ask():
        try:
            pipes.conn.request("m", {})
        except rpc.Closed:
            closed.append(True)

    caller = threading.Thread(target=ask)
    caller.start()
    pipes.read_message()
    pipes.eof()
    caller.join(5)
    assert closed == [True]


def test_concurrent_senders_never_interleave_inside_a_line(pipes):
    big = "x" * 200_000  # larger than a pipe's buffer: os.write returns partial counts

    def sender(n):
        for i in range(5):
            pipes.conn.notify("session/update", {"n": n, "i": i, "text": big})

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    got = [pipes.read_message() for _ in range(20)]
    for t in threads:
        t.join(5)
    assert sorted((m["params"]["n"], m["params"]["i"]) for m in got) == [
        (n, i) for n in range(4) for i in range(5)
    ]
    assert all(m["params"]["text"] == big for m in got)


def test_a_lone_surrogate_goes_out_as_valid_utf8(pipes):
    pipes.conn.notify("session/update", {"text": "a\ud800b"})
    raw = b""
    while not raw.endswith(b"\n"):
        raw += os.read(pipes.from_agent_r, 4096)
    raw.decode("utf-8")  # strict: would raise on a surrogate
    assert json.loads(raw)["params"]["text"] == "a\ufffdb"


def test_writing_after_the_client_left_returns_false():
    p = Pipes()
    os.close(p.from_agent_r)
    try:
        assert p.conn.notify("x", {}) is False
        assert p.conn.closed.is_set()
    finally:
        for fd in (p.to_agent_r, p.to_agent_w, p.from_agent_w):
            os.close(fd)


@pytest.mark.parametrize(
    ("line", "code", "answered_id"),
    [
        (b"{", rpc.PARSE_ERROR, None),
        (b"[]", rpc.INVALID_REQUEST, None),
        (b"true", rpc.INVALID_REQUEST, None),
        (b'{"jsonrpc":"2.0","id":true,"method":"m"}', rpc.INVALID_REQUEST, None),
        (b'{"jsonrpc":"2.0","id":1.5e400,"method":"m"}', rpc.INVALID_REQUEST, None),
        (b'{"jsonrpc":"2.0","id":4}', rpc.INVALID_REQUEST, 4),
        (b'{"jsonrpc":"2.0","id":4,"method":7}', rpc.INVALID_REQUEST, 4),
        (b'{"jsonrpc":"2.0","id":4,"method":"m","params":3}', rpc.INVALID_PARAMS, 4),
    ],
)
def test_parse_classifies_what_is_not_a_message(line, code, answered_id):
    incoming = rpc.Connection(0, 1).parse(line)
    assert incoming.error is not None and incoming.error.code == code
    assert incoming.id == answered_id


def test_parse_requests_and_notifications():
    conn = rpc.Connection(0, 1)
    request = conn.parse(b'{"jsonrpc":"2.0","id":"a","method":"m","params":{"k":1}}')
    assert (request.is_request, request.id, request.method, request.params) == (
        True,
        "a",
        "m",
        {"k": 1},
    )
    note = conn.parse(b'{"jsonrpc":"2.0","id":"","method":"session/cancel","params":null}')
    assert (note.is_request, note.id, note.params) == (False, None, {})
    assert conn.parse(b'{"jsonrpc":"2.0","method":"m","params":[1]}') is None  # notification
    assert conn.parse(b"   ") is None
    assert conn.parse(b'{"jsonrpc":"2.0","id":"pixir-9","result":{}}') is None  # stray answer


def test_a_line_over_the_cap_is_skipped_and_answered_by_its_id():
    p = Pipes(max_line=100_000)
    try:
        reader = p.serve_in_thread()
        p.write(b'{"jsonrpc":"2.0","id":"big","method":"m","params":{"x":"')
        for _ in range(10):
            p.write(b"y" * 50_000)
        p.write(b'"}}\n{"jsonrpc":"2.0","id":2,"method":"after","params":{}}\n')
        error = p.read_message()
        assert error["id"] == "big" and error["error"]["code"] == rpc.INVALID_REQUEST
        p.eof()
        reader.join(5)
        assert [i.method for i in p.seen] == ["after"]
    finally:
        p.close()


def test_a_too_long_line_without_a_leading_id_is_answered_with_id_null():
    head = b'{"method":"m","id":3,"params":"' + b"z" * 10
    assert rpc._too_long(head, 1 << 20).id is None
    assert rpc._too_long(b'{"id":"",', 1 << 20).id is None
    assert rpc._too_long(b'{ "jsonrpc" : "2.0" , "id" : -12,', 1 << 20).id == -12
