"""Ctrl-C for a running Turn (SPEC §7.4): the first SIGINT raises KeyboardInterrupt where the
program is, except inside a shielded section (a Log append and its History update), where it
is deferred to the section's end; a second SIGINT exits at once with 130."""

from __future__ import annotations

import os
import signal

from pixir.errors import exit_code_for


class OutputClosed(BaseException):
    """stdout's reader went away (`pixir ... | head`). A BaseException, like KeyboardInterrupt,
    so that no `except Exception` between a presenter and the Turn loop swallows it."""


class _State:
    installed = False
    interrupted = False  # a first SIGINT arrived
    pending = False  # ...while shielded: raise when the shield drops
    depth = 0
    child_pgid: int | None = None  # a running bash group to kill on a hard exit


state = _State()


def _handler(signum, frame) -> None:
    if state.interrupted:
        # Second Ctrl-C: the user wants out now, whatever is half done.
        _kill_child()
        os._exit(exit_code_for("interrupted"))
    state.interrupted = True
    if state.depth:
        state.pending = True
        return
    raise KeyboardInterrupt


def _kill_child() -> None:
    if state.child_pgid is not None:
        try:
            os.killpg(state.child_pgid, signal.SIGKILL)
        except OSError:
            pass


def install() -> None:
    """Take over SIGINT (until `restore`)."""
    state.installed = True
    state.interrupted = False
    state.pending = False
    signal.signal(signal.SIGINT, _handler)


class handling_sigint:  # lower case: used like a function, `with handling_sigint():`
    """Our SIGINT handling for the duration of a block (a Turn), then the previous one."""

    def __enter__(self) -> None:
        self.previous = signal.getsignal(signal.SIGINT)
        install()

    def __exit__(self, *exc: object) -> None:
        signal.signal(signal.SIGINT, self.previous)
        state.installed = False
        state.interrupted = False
        state.pending = False


class _Shield:
    """`with shielded:` defers a first Ctrl-C until the block is done, so a Log line and the
    in-memory History never disagree."""

    __slots__ = ()

    def __enter__(self) -> None:
        state.depth += 1

    def __exit__(self, *exc: object) -> None:
        state.depth -= 1
        if state.pending and not state.depth:
            state.pending = False
            raise KeyboardInterrupt


shielded = _Shield()
