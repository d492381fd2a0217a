"""A forwarding HTTP proxy on 127.0.0.1, as a corporate network puts in front of pixir.

It speaks the two forms clients use: `CONNECT host:port` (a tunnel: what websocket-client
opens, and what `requests` opens for an https:// URL) and absolute-form requests
(`POST http://host:port/path`, what `requests` sends for an http:// URL), rewritten to
origin-form for the server. It records the request line of each, and forwards only to
loopback.
"""

from __future__ import annotations

import socket
import threading


class Proxy:
    def __init__(self) -> None:
        self.seen: list[str] = []  # request lines as clients sent them
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._sockets: list[socket.socket] = []

    def start(self) -> Proxy:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def close(self) -> None:
        for sock in [self._listener, *self._sockets]:
            try:
                # shutdown first: close() alone leaves a socket another thread is blocked in
                # (accept, recv) working until that call returns
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self._sockets.append(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        reader = client.makefile("rb")
        try:
            line, head = _read_head(reader)
            if line is None:
                return
            method, target, _ = line.split(" ", 2)
            if method == "CONNECT":
                self.seen.append(line)
                upstream = self._dial(target)
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                threading.Thread(target=_pipe, args=(upstream.recv, client), daemon=True).start()
                _pipe(reader.read1, upstream)
                return
            upstream = self._dial(target.split("/", 3)[2])
            threading.Thread(target=_pipe, args=(upstream.recv, client), daemon=True).start()
            while line is not None:  # every request of a kept-alive connection
                self.seen.append(line)
                method, target, version = line.split(" ", 2)
                path = "/" + target.split("/", 3)[3] if target.startswith("http") else target
                upstream.sendall(f"{method} {path} {version}\r\n".encode() + head)
                length = _content_length(head)
                if length:
                    upstream.sendall(reader.read(length))
                line, head = _read_head(reader)
            upstream.shutdown(socket.SHUT_WR)
        except (OSError, ValueError, IndexError):
            pass
        finally:
            client.close()

    def _dial(self, host_port: str) -> socket.socket:
        host, port = host_port.rsplit(":", 1)
        if host not in ("127.0.0.1", "localhost"):
            raise ValueError(f"the test proxy forwards only to loopback, not {host}")
        upstream = socket.create_connection((host, int(port)))
        self._sockets.append(upstream)
        return upstream


def _read_head(reader) -> tuple[str | None, bytes]:
    """The request line, and the header lines up to the blank line (raw, with it)."""
    first = reader.readline()
    if not first:
        return None, b""
    lines = []
    while True:
        raw = reader.readline()
        lines.append(raw)
        if raw in (b"\r\n", b"\n", b""):
            return first.decode("latin-1").rstrip("\r\n"), b"".join(lines)


def _content_length(head: bytes) -> int:
    for raw in head.split(b"\r\n"):
        name, _, value = raw.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def _pipe(read, sink: socket.socket) -> None:
    """Copy what `read(n)` returns to `sink` until EOF (a socket's recv or a reader's read1,
    which also hands over what the head parsing already buffered)."""
    try:
        while data := read(65536):
            sink.sendall(data)
        sink.shutdown(socket.SHUT_WR)
    except OSError:
        pass
