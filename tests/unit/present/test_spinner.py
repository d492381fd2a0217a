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


class Cols(io.StringIO):
    """A stream with a terminal width (the spinner asks for it only after text)."""

    def __init__(self, columns):
        super().__init__()
        self.columns = columns


def test_after_text_the_spinner_draws_out_and_back_and_erases_in_place(monkeypatch):
    stream, clock = Cols(80), Clock()
    spinner = Spinner(stream, clock=clock)
    monkeypatch.setattr(spinner, "_thread", object())
    monkeypatch.setattr(spinner, "_columns", lambda: stream.columns)
    spinner.show("waiting", grace=1.0, column=30)
    clock.now += 0.5
    spinner._draw("⠋")
    assert stream.getvalue() == ""  # silent for less than the grace: nothing
    clock.now += 1.6
    spinner._draw("⠙")
    frame = " ⠙ waiting · 2 s"
    assert stream.getvalue() == frame + "\b" * len(frame)
    assert "\r" not in stream.getvalue() and ESC not in stream.getvalue()
    spinner.hide()
    assert stream.getvalue().endswith(" " * len(frame) + "\b" * len(frame))


def test_after_text_too_near_the_margin_nothing_is_drawn(monkeypatch):
    stream, clock = Cols(40), Clock()
    spinner = Spinner(stream, clock=clock)
    monkeypatch.setattr(spinner, "_thread", object())
    monkeypatch.setattr(spinner, "_columns", lambda: stream.columns)
    spinner.show("waiting", grace=1.0, column=25)  # 25 + 16 + 1 > 40
    clock.now += 2
    spinner._draw("⠋")
    assert stream.getvalue() == ""
    monkeypatch.setattr(spinner, "_columns", lambda: 0)  # a width nobody knows
    spinner.show("waiting", grace=1.0, column=0)
    clock.now += 2
    spinner._draw("⠋")
    assert stream.getvalue() == ""
