"""Stopping a running Turn. Ctrl-C (docs/log.md): the first SIGINT raises
KeyboardInterrupt where the program is, except inside a shielded section (a Log append and
its History update), where it is deferred to the section's end; a second SIGINT exits at once
with 130. SIGTERM (`timeout`, a CI job cancelled, `kill`) and SIGHUP (a dropped SSH session,
a closed terminal) are handled the same way — the running command's process group killed,
the Log closed consistently — and the process then exits 143 or 129 (128 + the signal, as
a shell reports it). Only the command line installs these handlers, around a Turn on the
main thread.

Any other thread (an editor's cancel in the ACP server) stops a Turn with a `Cancel`: the
Turn checks it where it can stop cleanly and ends as it does after a Ctrl-C."""

from __future__ import annotations

import os
import signal

from pixir.errors import exit_code_for


class OutputClosed(BaseException):
    """stdout's reader went away (`pixir ... | head`). A BaseException, like KeyboardInterrupt,
    so that no `except Exception` between a presenter and the Turn loop swallows it."""


class Cancelled(BaseException):
    """Raised inside a Turn whose `Cancel` was set. A BaseException, like KeyboardInterrupt,
    so that no `except Exception` between the check and the Turn loop swallows it."""


class Cancel:
    """A stop request for one running Turn, which another thread may make. The Turn checks
    it before each step and each tool call, on every streamed delta and after a permission
    question; a running command polls it and has its process group killed. Callbacks given
    to `on_set` run in the cancelling thread (e.g. to answer a pending permission question),
    at once if it is already set."""

    def __init__(self) -> None:
        import threading  # here: `pixir --version` never needs it

        self._event = threading.Event()
        self._lock = threading.Lock()
        self._hooks: list = []

    def set(self) -> None:
        """Request the stop (idempotent, thread-safe)."""
        with self._lock:
            if self._event.is_set():
                return
            self._event.set()
            hooks, self._hooks = self._hooks, []
        for hook in hooks:
            hook()

    def is_set(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        """Raise Cancelled when the stop was requested."""
        if self._event.is_set():
            raise Cancelled

    def on_set(self, hook) -> None:
        with self._lock:
            if not self._event.is_set():
                self._hooks.append(hook)
                return
        hook()


# The signals a Turn handles, with the reason its Log records and the kind of the error.
SIGNALS = {
    signal.SIGINT: ("sigint", "interrupted"),
    signal.SIGTERM: ("sigterm", "terminated"),
    signal.SIGHUP: ("sighup", "hangup"),
}


class _State:
    installed = False
    interrupted = False  # a first stop signal arrived
    signum: int | None = None  # ...which one
    pending = False  # ...while shielded: raise when the shield drops
    depth = 0
    child_pgid: int | None = None  # a running bash group to kill on a hard exit


state = _State()


def _handler(signum, frame) -> None:
    if state.interrupted:
        # A second one: the user (or `timeout`) wants out now, whatever is half done.
        _kill_child()
        os._exit(exit_code_for(SIGNALS.get(signum, SIGNALS[signal.SIGINT])[1]))
    state.interrupted = True
    state.signum = signum
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
    """Take over SIGINT, SIGTERM and SIGHUP (until the block of `handling_sigint` ends)."""
    state.installed = True
    state.interrupted = False
    state.signum = None
    state.pending = False
    for signum in SIGNALS:
        signal.signal(signum, _handler)


def stopped_by() -> tuple[str, str]:
    """(reason for the Log, error kind) of the signal that stopped the Turn: `("sigint",
    "interrupted")`, `("sigterm", "terminated")` or `("sighup", "hangup")`."""
    return SIGNALS.get(state.signum, SIGNALS[signal.SIGINT])


def signal_label() -> str:
    """How the stop is named to people and to the model: Ctrl-C, SIGTERM or SIGHUP."""
    return {"sigterm": "SIGTERM", "sighup": "SIGHUP"}.get(stopped_by()[0], "Ctrl-C")


class handling_sigint:  # lower case: used like a function, `with handling_sigint():`
    """Our SIGINT, SIGTERM and SIGHUP handling for the duration of a block (a Turn), then
    the previous handlers."""

    def __enter__(self) -> None:
        self.previous = {signum: signal.getsignal(signum) for signum in SIGNALS}
        install()

    def __exit__(self, *exc: object) -> None:
        for signum, previous in self.previous.items():
            signal.signal(signum, previous)
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
