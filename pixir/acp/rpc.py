"""JSON-RPC 2.0 over a pair of file descriptors, the way ACP frames it: one compact JSON
message per line (docs/acp.md, "Process").

- One writer: every message leaves through `send`, under one lock, as one whole line, so
  the notifications of several running prompts never interleave inside a line.
- The reader (`serve`, on the calling thread) keeps reading while handlers run elsewhere,
  so a cancel or the answer to one of pixir's own requests arrives during a Turn.
- pixir's own requests (`request`) carry string ids `pixir-N`: they cannot collide with a
  client's ids, whatever the client uses.
- Memory stays bounded: a line longer than `max_line` is skipped as it streams by (only its
  head is kept, to find the id it would be answered with).

Malformed traffic gets the JSON-RPC answer and the connection keeps serving: bad JSON →
-32700 with id null; a batch (array) or anything else that is not a message → -32600; an
id that is an empty string makes a notification (a real client sends `session/cancel` so).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
AUTH_REQUIRED = -32000
RESOURCE_NOT_FOUND = -32002

# A prompt may embed files and images (a 20 MB image is ~27 MB of base64): room for that,
# and a bound on what one line can cost.
MAX_LINE = 64 * 1024 * 1024
READ_SIZE = 1 << 16
HEAD = 4096  # what is kept of a skipped line, to answer it by its id

_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_SURROGATE = re.compile("[\ud800-\udfff]")
# The id of a message as JSON-RPC libraries write it: right after `"jsonrpc":"2.0",` or first.
_LEADING_ID = re.compile(
    rb'^\s*\{\s*(?:"jsonrpc"\s*:\s*"2\.0"\s*,\s*)?"id"\s*:\s*(-?\d{1,18}|"(?:[^"\\]|\\.){0,256}")'
)


class RpcError(Exception):
    """An error answer: `code` (the constants above), a one-line message, optional data."""

    def __init__(self, code: int, message: str, data: object = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_dict(self) -> dict:
        error: dict = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


class Closed(Exception):
    """The other side went away (EOF on input, or output refused) before an answer came."""


@dataclass
class Incoming:
    """One message read: a request (`id` set), a notification (`id` None) or — for a line
    that is not a usable message — the error to answer (`error`, with `id` if known)."""

    method: str | None = None
    params: dict = field(default_factory=dict)
    id: object = None
    is_request: bool = False
    error: RpcError | None = None


class _Pending:
    __slots__ = ("answer", "done")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.answer: dict | None = None


class Connection:
    """The JSON-RPC peer on `in_fd` (read) and `out_fd` (write)."""

    def __init__(self, in_fd: int, out_fd: int, *, max_line: int = MAX_LINE) -> None:
        self.in_fd = in_fd
        self.out_fd = out_fd
        self.max_line = max_line
        self._write_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._pending: dict[str, _Pending] = {}
        self._pending_lock = threading.Lock()
        self.closed = threading.Event()  # input ended or output refused
        self._output_gone = False

    # -- writing -----------------------------------------------------------------------------

    def send(self, message: dict) -> bool:
        """Write one message as one line; False once the other side is gone."""
        try:
            text = _encode(message)
        except (TypeError, ValueError):  # a bug: never a torn line on the wire
            text = _encode(
                {
                    "jsonrpc": "2.0",
                    "id": message.get("id"),
                    "error": {"code": INTERNAL_ERROR, "message": "unencodable message"},
                }
            )
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate from a tool or a file
            data = _SURROGATE.sub("\ufffd", text).encode("utf-8")
        data += b"\n"
        with self._write_lock:
            if self._output_gone:
                return False
            view = memoryview(data)
            try:
                while view:
                    written = os.write(self.out_fd, view)
                    view = view[written:]
            except OSError:  # EPIPE: the client closed its end
                self._output_gone = True
                self._close()
                return False
        return True

    def notify(self, method: str, params: dict) -> bool:
        return self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def respond(self, id_: object, result: dict) -> bool:
        return self.send({"jsonrpc": "2.0", "id": id_, "result": result})

    def fail(self, id_: object, error: RpcError) -> bool:
        return self.send({"jsonrpc": "2.0", "id": id_, "error": error.to_dict()})

    def request(
        self, method: str, params: dict, *, abandon: threading.Event | None = None
    ) -> dict | None:
        """Send a request to the other side and wait for its result. Returns None when
        `abandon` is set first (the answer, if it comes, is then ignored); raises RpcError
        for an error answer and Closed when the connection ends."""
        request_id = f"pixir-{next(self._ids)}"
        pending = _Pending()
        with self._pending_lock:
            self._pending[request_id] = pending
        try:
            if not self.send(
                {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
            ):
                raise Closed
            while not pending.done.wait(0.05):
                if abandon is not None and abandon.is_set():
                    return None
                if self.closed.is_set():
                    raise Closed
        finally:
            with self._pending_lock:
                self._pending.pop(request_id, None)
        answer = pending.answer
        if answer is None:  # woken by the end of the input, not by an answer
            raise Closed
        if "error" in answer:
            error = answer["error"] if isinstance(answer["error"], dict) else {}
            code = error.get("code")
            raise RpcError(
                code if isinstance(code, int) else INTERNAL_ERROR,
                str(error.get("message") or "error"),
                error.get("data"),
            )
        result = answer.get("result")
        return result if isinstance(result, dict) else {}

    # -- reading -----------------------------------------------------------------------------

    def serve(self, handle: Callable[[Incoming], None]) -> None:
        """Read until EOF: answers to pixir's requests are routed to their waiters, errors
        are answered here, and every request or notification goes to `handle` (which must
        answer a request, now or later, from any thread)."""
        try:
            for line in self._lines():
                incoming = self.parse(line) if isinstance(line, bytes) else line
                if incoming is None:
                    continue
                if incoming.error is not None:
                    self.fail(incoming.id, incoming.error)
                else:
                    handle(incoming)
        finally:
            self._close()

    def _close(self) -> None:
        self.closed.set()
        with self._pending_lock:
            waiting = list(self._pending.values())
        for pending in waiting:
            pending.done.set()  # their `request` sees no answer and raises Closed

    def _lines(self):
        """Complete lines as bytes (CR/LF and blank lines left to `parse`), or an Incoming
        error for a line over the cap. The final line may lack its newline."""
        buffer = bytearray()
        skipping: bytes | None = None  # the head of a line too long to keep
        while True:
            try:
                chunk = os.read(self.in_fd, READ_SIZE)
            except InterruptedError:  # pragma: no cover - PEP 475 retries these
                continue
            except OSError:
                chunk = b""
            if not chunk:
                if skipping is not None:
                    yield _too_long(skipping, self.max_line)
                elif buffer.strip():
                    yield bytes(buffer)
                return
            start = 0
            while True:
                end = chunk.find(b"\n", start)
                if end < 0:
                    break
                if skipping is not None:
                    yield _too_long(skipping, self.max_line)
                    skipping = None
                else:
                    buffer += chunk[start:end]
                    yield bytes(buffer)
                    buffer.clear()
                start = end + 1
            if skipping is None:
                buffer += chunk[start:]
                if len(buffer) > self.max_line:
                    skipping = bytes(buffer[:HEAD])
                    buffer = bytearray()

    def parse(self, line: bytes) -> Incoming | None:
        """One line → what to do with it (None: nothing, e.g. a blank line or an answer)."""
        if not line.strip():
            return None
        try:
            message = json.loads(line)
        except ValueError:  # bad JSON, or bytes that are not UTF-8
            return Incoming(error=RpcError(PARSE_ERROR, "Parse error: not valid JSON"))
        if isinstance(message, list):
            return Incoming(
                error=RpcError(INVALID_REQUEST, "Invalid Request: batches are not supported")
            )
        if not isinstance(message, dict):
            return Incoming(error=RpcError(INVALID_REQUEST, "Invalid Request: not an object"))
        has_id = "id" in message
        id_ = message.get("id")
        if has_id and not _valid_id(id_):
            return Incoming(error=RpcError(INVALID_REQUEST, "Invalid Request: bad id"))
        if "method" not in message:
            if has_id and ("result" in message or "error" in message):
                self._answered(id_, message)
                return None
            return Incoming(
                id=id_ if has_id else None,
                error=RpcError(INVALID_REQUEST, "Invalid Request: no method"),
            )
        method = message["method"]
        is_request = has_id and id_ != ""  # an empty-string id is a notification
        if not isinstance(method, str) or not method:
            error = RpcError(INVALID_REQUEST, "Invalid Request: method must be a string")
            return Incoming(id=id_, error=error) if is_request else None
        params = message.get("params")
        if params is None:
            params = {}
        if not isinstance(params, dict):
            if not is_request:
                return None
            error = RpcError(INVALID_PARAMS, "Invalid params: params must be an object")
            return Incoming(id=id_, error=error)
        return Incoming(
            method=method, params=params, id=id_ if is_request else None, is_request=is_request
        )

    def _answered(self, id_: object, message: dict) -> None:
        with self._pending_lock:
            pending = self._pending.get(id_) if isinstance(id_, str) else None
        if pending is not None:
            pending.answer = message
            pending.done.set()


def _valid_id(id_: object) -> bool:
    if isinstance(id_, bool):
        return False
    return id_ is None or isinstance(id_, (str, int))


def _too_long(head: bytes, limit: int) -> Incoming:
    """The answer to a line over the cap: by its id when its head shows one (so the client's
    request fails instead of waiting forever), else with id null."""
    id_ = None
    match = _LEADING_ID.match(head)
    if match:
        try:
            id_ = json.loads(match.group(1))
        except ValueError:
            id_ = None
    if id_ == "":
        id_ = None
    mib = limit // (1024 * 1024)
    error = RpcError(INVALID_REQUEST, f"Invalid Request: message larger than {mib} MiB")
    return Incoming(id=id_, error=error)
