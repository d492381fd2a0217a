"""An elapsed-time indicator on a terminal's stderr while pixir waits for the model or a tool.

The main thread is blocked in a socket read or a child's output loop while waiting, so a
small daemon thread draws the frames (the one thread here that watches a blocking call).
It draws only between `show` and `hide`; `hide` takes the same lock as a frame, so once it
returns nothing more is drawn and the line is blank. Plain `\\r` and spaces, no escape
sequences: it stays readable with NO_COLOR and on dumb terminals.
"""

from __future__ import annotations

import threading
import time

FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
INTERVAL_S = 0.1
GRACE_S = 0.25  # nothing is drawn for waits shorter than this
MAX_LABEL = 48


class Spinner:
    def __init__(self, stream, *, dim: bool = False, clock=time.monotonic) -> None:
        self.stream = stream
        self.dim = dim
        self.clock = clock
        self.active = False  # read without the lock on the hot path: a plain bool
        self._lock = threading.Lock()
        self._label = ""
        self._since = 0.0
        self._width = 0  # characters drawn on the line
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False

    def show(self, label: str) -> None:
        """Start (or relabel) the indicator; its clock starts now."""
        if self._closed:
            return
        with self._lock:
            self._label = label[:MAX_LABEL]
            self._since = self.clock()
            self.active = True
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="pixir-spinner", daemon=True)
            self._thread.start()
        self._wake.set()

    def hide(self) -> None:
        """Erase the indicator; nothing is drawn again until the next `show`."""
        if not self.active:
            return
        with self._lock:
            self.active = False
            self._erase()

    def close(self) -> None:
        self.hide()
        self._closed = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=1)

    # -- the drawing thread ----------------------------------------------------------------------

    def _run(self) -> None:
        frame = 0
        while not self._closed:
            with self._lock:
                if self.active:
                    self._draw(FRAMES[frame % len(FRAMES)])
                    frame += 1
            self._wake.wait(INTERVAL_S if self.active else None)
            self._wake.clear()

    def _draw(self, mark: str) -> None:
        elapsed = self.clock() - self._since
        if elapsed < GRACE_S:  # a quick call or tool: no flicker
            return
        label = f"{self._label} · " if self._label else ""
        text = f"{mark} {label}{elapsed:.0f} s"
        pad = " " * max(0, self._width - len(text))
        shown = f"\x1b[2m{text}\x1b[0m" if self.dim else text
        try:
            self.stream.write(f"\r{shown}{pad}\r")
            self.stream.flush()
        except (OSError, ValueError):
            self.active = False
            return
        self._width = len(text)

    def _erase(self) -> None:
        if not self._width:
            return
        try:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
        except (OSError, ValueError):
            pass
        self._width = 0
