"""An elapsed-time indicator on a terminal's stderr while pixir waits for the model or a tool.

The main thread is blocked in a socket read or a child's output loop while waiting, so a
small daemon thread draws the frames (the one thread here that watches a blocking call).
It draws only between `show` and `hide`; `hide` takes the same lock as a frame, so once it
returns nothing more is drawn and the line is blank. Plain `\\r`, spaces and backspaces, no
escape sequences: it stays readable with NO_COLOR and on dumb terminals.

Two places to draw: at the start of an empty line (`\\r` … `\\r`), or — while an answer
that shares the terminal stalls mid-line — just after its last character, then back
(`column=` the cursor's column; backspaces stay on one line, so it is drawn only where the
whole frame fits before the right margin).
"""

from __future__ import annotations

import os
import threading
import time

FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
INTERVAL_S = 0.1
GRACE_S = 0.25  # nothing is drawn for waits shorter than this
STALL_S = 1.0  # an answer silent for longer than this gets the spinner again
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
        self._grace = GRACE_S
        self._column: int | None = None  # drawing after an answer's text at this column
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False

    def show(self, label: str, *, grace: float = GRACE_S, column: int | None = None) -> None:
        """Start (or relabel) the indicator; its clock starts now and nothing is drawn for
        `grace` seconds. `column`: the cursor is that far into a line of other text — draw
        after it (and only if it fits), not over it."""
        if self._closed:
            return
        with self._lock:
            if self._width:
                self._erase()
            self._label = label[:MAX_LABEL]
            self._since = self.clock()
            self._grace = grace
            self._column = column
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
        if elapsed < self._grace:  # a quick call or tool: no flicker
            return
        label = f"{self._label} · " if self._label else ""
        text = f"{mark} {label}{elapsed:.0f} s"
        pad = " " * max(0, self._width - len(text))
        shown = f"\x1b[2m{text}\x1b[0m" if self.dim else text
        if self._column is None:
            frame = f"\r{shown}{pad}\r"
        else:  # after the answer's text: out and back on the same line
            text = " " + text
            if self._column + len(text) + 1 >= self._columns():
                return
            pad = " " * max(0, self._width - len(text))
            frame = f" {shown}{pad}" + "\b" * (len(text) + len(pad))
        try:
            self.stream.write(frame)
            self.stream.flush()
        except (OSError, ValueError):
            self.active = False
            return
        self._width = max(len(text), self._width)

    def _columns(self) -> int:
        try:
            return os.get_terminal_size(self.stream.fileno()).columns
        except (AttributeError, ValueError, OSError):
            return 0  # unknown: never draw after text

    def _erase(self) -> None:
        if not self._width:
            return
        blank = " " * self._width
        try:
            if self._column is None:
                self.stream.write(f"\r{blank}\r")
            else:
                self.stream.write(blank + "\b" * self._width)
            self.stream.flush()
        except (OSError, ValueError):
            pass
        self._width = 0
