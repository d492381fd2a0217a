"""The spinner: plain frames, erased, drawn by a thread."""

from __future__ import annotations

import io
import time

from pixir.present.spinner import Spinner
from tests.unit.helpers.present import ESC, Tty


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_spinner_frames_are_plain_text_and_erased(monkeypatch):
    stream, clock = io.StringIO(), Clock()
    spinner = Spinner(stream, clock=clock)
    monkeypatch.setattr(spinner, "_thread", object())  # draw by hand, no thread
    spinner.show("thinking")
    spinner._draw("⠋")
    assert stream.getvalue() == ""  # within the grace period
    clock.now += 3.2
    spinner._draw("⠋")
    assert stream.getvalue() == "\r⠋ thinking · 3 s\r"
    spinner.hide()
    assert stream.getvalue().endswith("\r" + " " * len("⠋ thinking · 3 s") + "\r")
    assert ESC not in stream.getvalue()
    assert not spinner.active


def test_spinner_thread_draws_and_stops():
    stream = Tty()
    spinner = Spinner(stream, clock=lambda: time.monotonic() + 10)  # past the grace period
    spinner.show("work")
    deadline = time.monotonic() + 5
    while "work" not in stream.getvalue() and time.monotonic() < deadline:
        time.sleep(0.01)
    spinner.close()
    assert "work" in stream.getvalue()
    assert stream.getvalue().endswith("\r")
    size = len(stream.getvalue())
    time.sleep(0.25)
    assert len(stream.getvalue()) == size  # nothing drawn after close
