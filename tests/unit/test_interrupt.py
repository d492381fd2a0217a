"""The Ctrl-C shield and the second Ctrl-C's hard exit."""

from __future__ import annotations

import os
import signal
import time

import pytest

from pixir import interrupt


@pytest.fixture
def sigint_handler():
    with interrupt.handling_sigint():
        yield


def test_a_first_sigint_inside_the_shield_is_deferred_to_its_end(sigint_handler):
    reached_end_of_block = False
    with pytest.raises(KeyboardInterrupt), interrupt.shielded:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.01)
        reached_end_of_block = True
    assert reached_end_of_block


def test_a_first_sigint_outside_the_shield_raises_at_once(sigint_handler):
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1)


def test_a_second_sigint_exits_at_once_with_130():
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(
        """
        import os, signal, sys, time
        from pixir import interrupt
        interrupt.install()
        with interrupt.shielded:  # the first one is deferred...
            os.kill(os.getpid(), signal.SIGINT)
            print("deferred", flush=True)
            os.kill(os.getpid(), signal.SIGINT)  # ...the second one is not
            time.sleep(30)
        print("not reached", flush=True)
        """
    )
    root = os.path.dirname(os.path.dirname(interrupt.__file__))
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=20
    )
    assert done.returncode == 130
    assert done.stdout == "deferred\n"


def test_a_second_sigint_during_bash_kills_its_group_before_exiting(tmp_path):
    # the hard exit skips every cleanup, so it must kill the running bash group itself or
    # the command would outlive pixir (docs/log.md)
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(
        """
        import os, signal, subprocess, time
        from pixir import interrupt
        interrupt.install()
        child = subprocess.Popen(
            ["sleep", "60"], start_new_session=True, stdout=subprocess.DEVNULL
        )
        print(child.pid, flush=True)
        interrupt.state.child_pgid = child.pid
        interrupt.state.interrupted = True  # as if a first Ctrl-C were being handled
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(30)
        """
    )
    root = os.path.dirname(os.path.dirname(interrupt.__file__))
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=20
    )
    assert done.returncode == 130, done.stderr
    pid = int(done.stdout)

    def dead() -> bool:  # an unreaped zombie (re-parented to init) is dead too
        try:
            with open(f"/proc/{pid}/stat") as fh:
                return fh.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
        except FileNotFoundError:
            return True

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not dead():
        time.sleep(0.02)
    assert dead(), "the bash group outlived the hard exit"


def test_sigint_handling_is_restored_after_the_block():
    before = signal.getsignal(signal.SIGINT)
    with interrupt.handling_sigint():
        assert signal.getsignal(signal.SIGINT) is interrupt._handler
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
    assert signal.getsignal(signal.SIGINT) is before
    assert not interrupt.state.interrupted


@pytest.mark.parametrize(
    ("signum", "reason", "kind", "label"),
    [
        (signal.SIGTERM, "sigterm", "terminated", "SIGTERM"),
        (signal.SIGHUP, "sighup", "hangup", "SIGHUP"),
        (signal.SIGINT, "sigint", "interrupted", "Ctrl-C"),
    ],
)
def test_sigterm_and_sighup_stop_a_turn_like_ctrl_c_and_say_which(
    sigint_handler, signum, reason, kind, label
):
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signum)
        time.sleep(1)
    assert interrupt.stopped_by() == (reason, kind)
    assert interrupt.signal_label() == label


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_second_sigterm_or_sighup_exits_at_once_with_128_plus_the_signal(signum, code):
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(
        f"""
        import os, signal, time
        from pixir import interrupt
        interrupt.install()
        with interrupt.shielded:
            os.kill(os.getpid(), {int(signum)})
            print("deferred", flush=True)
            os.kill(os.getpid(), {int(signum)})
            time.sleep(30)
        """
    )
    root = os.path.dirname(os.path.dirname(interrupt.__file__))
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=20
    )
    assert done.returncode == code, done.stderr
    assert done.stdout == "deferred\n"


def test_every_handled_signal_is_restored_after_the_block():
    before = {signum: signal.getsignal(signum) for signum in interrupt.SIGNALS}
    with interrupt.handling_sigint():
        assert all(signal.getsignal(s) is interrupt._handler for s in interrupt.SIGNALS)
    assert {signum: signal.getsignal(signum) for signum in interrupt.SIGNALS} == before
