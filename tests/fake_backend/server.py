"""A small threaded TCP server with hand-parsed HTTP/1.1 requests.

Hand parsing (instead of http.server) is deliberate: the fake must control every byte it
writes — 1-byte writes, half-finished chunked bodies, RSTs, bodies that never end — and must
see every byte it reads (`bytes_received`). One thread per connection keeps that simple.
"""

from __future__ import annotations

import logging
import socket
import struct
import threading
import time
import traceback
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

from .record import Headers, parse_json

MAX_HEAD = 64 * 1024
LOG = logging.getLogger("tests.fake_backend")


class ClientGone(Exception):
    """The peer closed or reset the connection while we were writing or reading."""


@dataclass
class HttpRequest:
    method: str
    target: str
    path: str
    query: dict[str, str]
    version: str
    headers: Headers
    body: bytes
    head_bytes: bytes  # the raw request line + headers, as received (wsproto re-reads them)
    bytes_received: int

    @property
    def json(self):
        return parse_json(self.body)

    def wants_close(self) -> bool:
        conn = self.headers.get("connection", "").lower()
        return "close" in conn or (self.version == "HTTP/1.0" and "keep-alive" not in conn)

    def is_websocket_upgrade(self) -> bool:
        return (
            self.method == "GET"
            and "websocket" in self.headers.get("upgrade", "").lower()
            and "upgrade" in self.headers.get("connection", "").lower()
        )


class Connection:
    """One accepted socket: buffered reads, paced writes, and the three ways to end it."""

    def __init__(self, sock: socket.socket, conn_id: int, stopping: threading.Event):
        self.sock = sock
        self.id = conn_id
        self.stopping = stopping
        self.buffer = bytearray()
        self.closed = False
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # -- reading -----------------------------------------------------------------------------

    def recv_some(self) -> bytes:
        """Whatever is buffered, else one recv; b"" at EOF."""
        if self.buffer:
            data = bytes(self.buffer)
            self.buffer.clear()
            return data
        try:
            return self.sock.recv(65536)
        except OSError:
            return b""

    def _fill(self) -> bool:
        try:
            data = self.sock.recv(65536)
        except OSError:
            return False
        if not data:
            return False
        self.buffer += data
        return True

    def read_request(self) -> HttpRequest | None:
        """The next request on this connection, or None at EOF / on garbage."""
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(self.buffer) > MAX_HEAD or not self._fill():
                return None
        head = bytes(self.buffer[: end + 4])
        del self.buffer[: end + 4]
        try:
            lines = head[:-4].decode("latin-1").split("\r\n")
            method, target, version = lines[0].split(" ", 2)
            pairs = []
            for line in lines[1:]:
                name, _, value = line.partition(":")
                pairs.append((name.strip(), value.strip()))
        except ValueError:
            return None
        headers = Headers(pairs)
        received = len(head)
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body, raw_len = self._read_chunked()
            if body is None:
                return None
            received += raw_len
        else:
            try:
                length = int(headers.get("content-length", "0") or 0)
            except ValueError:
                return None
            while len(self.buffer) < length:
                if not self._fill():
                    return None
            body = bytes(self.buffer[:length])
            del self.buffer[:length]
            received += length
        parts = urllib.parse.urlsplit(target)
        query = {
            k: v[0] for k, v in urllib.parse.parse_qs(parts.query, keep_blank_values=True).items()
        }
        return HttpRequest(
            method, target, parts.path, query, version, headers, body, head, received
        )

    def _read_chunked(self) -> tuple[bytes | None, int]:
        body, raw = bytearray(), 0
        while True:
            while b"\r\n" not in self.buffer:
                if not self._fill():
                    return None, raw
            line_end = self.buffer.find(b"\r\n")
            size = int(self.buffer[:line_end].split(b";")[0] or b"0", 16)
            need = line_end + 2 + size + 2
            while len(self.buffer) < need:
                if not self._fill():
                    return None, raw
            body += self.buffer[line_end + 2 : line_end + 2 + size]
            del self.buffer[:need]
            raw += need
            if size == 0:
                return bytes(body), raw  # (trailers are not supported: nobody sends them)

    # -- writing -----------------------------------------------------------------------------

    def send(self, data: bytes, pause: float = 0.0) -> None:
        """Write all of `data` as one segment (TCP_NODELAY), then pause so the next write is a
        separate segment the client reads on its own."""
        if self.closed:
            raise ClientGone()
        try:
            self.sock.sendall(data)
        except OSError as err:
            raise ClientGone() from err
        if pause > 0:
            time.sleep(pause)

    def wait(self, seconds: float) -> None:
        """Sleep, but wake up when the server stops (a stall must not hold up teardown)."""
        self.stopping.wait(seconds)

    def wait_for_peer_close(self, seconds: float) -> None:
        """Keep the socket open, sending nothing, until the client closes it (or time/stop).
        Whatever the client sends meanwhile is read and dropped."""
        deadline = time.monotonic() + seconds
        self.sock.settimeout(0.1)
        try:
            while not self.stopping.is_set() and time.monotonic() < deadline:
                try:
                    if not self.sock.recv(65536):
                        return
                except TimeoutError:
                    continue
                except OSError:
                    return
        finally:
            if not self.closed:
                self.sock.settimeout(None)

    def close(self) -> None:
        """Orderly close (FIN)."""
        if self.closed:
            return
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def reset(self) -> None:
        """Abort with a TCP RST: SO_LINGER on with a zero timeout, then close."""
        if self.closed:
            return
        self.closed = True
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.sock.close()


class ThreadedServer:
    """Accepts on 127.0.0.1 and runs `handler(connection)` in one thread per connection."""

    def __init__(
        self, handler: Callable[[Connection], None], host: str = "127.0.0.1", port: int = 0
    ):
        self.handler = handler
        self.stopping = threading.Event()
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((host, port))
        self.listener.listen(128)
        self.listener.settimeout(0.5)  # only a fallback: stop() wakes accept()
        self.host, self.port = self.listener.getsockname()[:2]
        self._lock = threading.Lock()
        self._next_id = 0
        self._open: dict[int, Connection] = {}
        self._threads: list[threading.Thread] = []
        self.errors: list[str] = []
        self._acceptor = threading.Thread(target=self._accept_loop, name="fake-accept", daemon=True)

    def start(self) -> None:
        self._acceptor.start()

    def _accept_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                sock, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            sock.settimeout(None)
            with self._lock:
                self._next_id += 1
                conn = Connection(sock, self._next_id, self.stopping)
                self._open[conn.id] = conn
                thread = threading.Thread(
                    target=self._serve, args=(conn,), name=f"fake-conn-{conn.id}", daemon=True
                )
                self._threads = [t for t in self._threads if t.is_alive()] + [thread]
            thread.start()

    def _serve(self, conn: Connection) -> None:
        try:
            self.handler(conn)
        except ClientGone:
            pass
        except Exception:
            # A bug in the fake must not look like a network fault to the client under test:
            # keep the traceback where the test can see it (FakeBackend.errors), and log it.
            self.errors.append(traceback.format_exc())
            LOG.exception("fake backend: connection %d crashed", conn.id)
        finally:
            conn.close()
            with self._lock:
                self._open.pop(conn.id, None)

    def stop(self, timeout: float = 2.0) -> None:
        self.stopping.set()
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes accept() at once on Linux
        except OSError:
            pass
        self.listener.close()
        self._acceptor.join(timeout)
        with self._lock:
            conns = list(self._open.values())
            threads = list(self._threads)
        for conn in conns:
            try:
                conn.sock.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked in recv
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
