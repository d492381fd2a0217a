"""`pixir acp`: pixir as an editor's agent, speaking the Agent Client Protocol over stdio
(docs/acp.md). It serves until the editor closes stdin, then stops what runs and exits 0.

stdout belongs to the protocol alone: before anything else the real stdout is set aside
for the protocol writer and fd 1 (and `sys.stdout`) point at stderr, so a stray print — of
pixir, a library or a child process — can never put a byte between two messages. stdin is
read by the protocol reader only; fd 0 becomes /dev/null for everything else.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

from pixir.commands import settings_for

STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


def run(args) -> int:
    in_fd, out_fd = guard_stdio()
    from pixir.acp.rpc import Connection
    from pixir.acp.server import Server

    settings = settings_for(args)
    conn = Connection(in_fd, out_fd)
    server = Server(conn, settings)
    # The reader runs on its own thread (quick methods are answered there); this thread only
    # waits for the end — EOF, or a signal, whose handler must not interrupt a Log append.
    stopped: list[int] = []
    done = threading.Event()

    def on_signal(signum, frame) -> None:
        stopped.append(signum)
        done.set()

    previous = {signum: signal.signal(signum, on_signal) for signum in STOP_SIGNALS}
    reader = threading.Thread(
        target=_serve, args=(conn, server, done), name="acp-reader", daemon=True
    )
    reader.start()
    try:
        while not done.wait(0.5):
            pass
    finally:
        server.shutdown()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 128 + stopped[0] if stopped else 0


def _serve(conn, server, done) -> None:
    try:
        conn.serve(server.handle)
    finally:
        done.set()


def guard_stdio() -> tuple[int, int]:
    """(protocol input fd, protocol output fd); afterwards fd 0 is /dev/null and fd 1 (and
    `sys.stdout`) go to stderr."""
    sys.stdout.flush()
    in_fd = os.dup(0)  # os.dup's copies are not inherited by child processes
    out_fd = os.dup(1)
    os.dup2(2, 1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.stdout = sys.stderr
    return in_fd, out_fd
