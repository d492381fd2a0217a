"""Sessions (SPEC §6.5): create, resume, find, list; the Ctrl-C shield."""

from __future__ import annotations

import os
import signal
import time

import pytest

from pixir import __version__, interrupt
from pixir import session as sessions
from pixir.errors import PixirError
from pixir.log import is_session_id, read_events


def test_create_records_model_transport_and_mode(ws):
    session = sessions.create(ws, model="gpt-5.5", transport="http_sse", permission_mode="ask")
    session.close()
    assert is_session_id(session.id)
    assert session.path == ws / ".pixir" / "sessions" / f"{session.id}.jsonl"
    assert (ws / ".pixir" / ".gitignore").read_text() == "*\n"
    first = read_events(session.path)[0]
    assert first["type"] == "session_started" and first["seq"] == 0
    assert first["data"] == {
        "workspace": str(ws),
        "model": "gpt-5.5",
        "transport": "http_sse",
        "permission_mode": "ask",
        "pixir_version": __version__,
    }


def make(ws, prompt=None, mode="auto", model="gpt-5.5"):
    session = sessions.create(ws, model=model, transport="auto", permission_mode=mode)
    if prompt:
        session.append("user_message", {"text": prompt})
    session.close()
    return session.id


def test_resume_by_id_prefix_and_last(ws):
    first = make(ws, "one")
    time.sleep(0.01)
    second = make(ws, "two")
    os.utime(ws / ".pixir" / "sessions" / f"{first}.jsonl", (time.time() + 5, time.time() + 5))
    assert sessions.find(ws, first) == first
    assert sessions.find(ws, None) == first  # the most recently active, not the newest id
    if first[:-6] != second[:-6]:
        assert sessions.find(ws, second[:-3]) == second
    with pytest.raises(PixirError) as caught:
        sessions.find(ws, "2")
    assert caught.value.kind == "invalid_arguments"


@pytest.mark.parametrize("ref", ["20990101T000000-abcdef", "nope", "../../etc/passwd", ""])
def test_missing_session_is_not_found_exit_2(ws, ref):
    make(ws, "x")
    with pytest.raises(PixirError) as caught:
        sessions.resume(ws, ref, model=None, permission_mode="auto")
    assert caught.value.kind == "not_found" and caught.value.exit_code == 2


def test_last_with_no_sessions_is_not_found(ws):
    with pytest.raises(PixirError) as caught:
        sessions.find(ws, None)
    assert caught.value.kind == "not_found"


def test_resume_keeps_the_recorded_model_unless_another_is_given(ws):
    sid = make(ws, "x", model="gpt-5.4")
    session, events = sessions.resume(ws, sid, model=None, permission_mode="auto")
    assert session.model == "gpt-5.4" and session.history.model == "gpt-5.4"
    assert [e["type"] for e in events] == ["session_started", "user_message"]
    session.close()
    session, _ = sessions.resume(ws, sid, model="gpt-5.5", permission_mode="auto")
    assert session.model == "gpt-5.5"
    session.close()


def test_resume_cannot_widen_the_permission_mode(ws):
    sid = make(ws, "x", mode="read_only")
    session, _ = sessions.resume(ws, sid, model=None, permission_mode="auto")
    assert session.permission_mode == "read_only"
    session.close()
    sid = make(ws, "y", mode="auto")
    session, _ = sessions.resume(ws, sid, model=None, permission_mode="ask")
    assert session.permission_mode == "ask"
    session.close()


def test_second_resume_is_busy(ws):
    sid = make(ws, "x")
    holder, _ = sessions.resume(ws, sid, model=None, permission_mode="auto")
    with pytest.raises(PixirError) as caught:
        sessions.resume(ws, sid, model=None, permission_mode="auto")
    assert caught.value.kind == "session_busy" and caught.value.exit_code == 5
    holder.close()


def test_resumed_appends_continue_the_sequence(ws):
    sid = make(ws, "x")
    session, _ = sessions.resume(ws, sid, model=None, permission_mode="auto")
    event = session.append("user_message", {"text": "y"})
    session.close()
    assert event["seq"] == 2
    assert [e["seq"] for e in read_events(session.path)] == [0, 1, 2]


def test_list_sessions(ws):
    assert sessions.list_sessions(ws) == []
    first = make(ws, "  fix the\n failing   test  ")
    session, _ = sessions.resume(ws, first, model=None, permission_mode="auto")
    session.append("assistant_message", {"text": "done"})
    session.append("user_message", {"text": "and another"})
    session.close()
    time.sleep(0.01)
    second = make(ws)
    infos = sessions.list_sessions(ws)
    assert [i.id for i in infos] == [second, first]
    info = infos[1]
    assert info.turns == 2 and info.first_prompt == "fix the failing test"
    assert info.model == "gpt-5.5"
    assert info.started < info.last_activity
    assert infos[0].turns == 0 and infos[0].first_prompt == ""
    assert set(info.to_dict()) == {
        "id",
        "started",
        "last_activity",
        "turns",
        "first_prompt",
        "model",
        "path",
    }


def test_list_ignores_foreign_files(ws):
    make(ws, "x")
    (ws / ".pixir" / "sessions" / "notes.jsonl").write_text("junk")
    (ws / ".pixir" / "sessions" / "README").write_text("junk")
    assert len(sessions.list_sessions(ws)) == 1


def test_user_message_text_containing_the_marker_is_not_counted(ws):
    sid = make(ws, 'he said "type":"user_message" once')
    assert sessions.list_sessions(ws)[0].turns == 1
    assert sid


# -- the Ctrl-C shield ------------------------------------------------------------------------


@pytest.fixture
def sigint_handler():
    previous = signal.getsignal(signal.SIGINT)
    interrupt.install()
    yield
    signal.signal(signal.SIGINT, previous)
    interrupt.state.interrupted = False
    interrupt.state.pending = False


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


def test_peek_folds_without_locking_or_writing(ws):
    sid = make(ws, "hello", model="gpt-5.4")
    holder, _ = sessions.resume(ws, sid, model=None, permission_mode="auto")
    holder.append("tool_call", {"call_id": "c1", "name": "bash", "args": {"command": "x"}})
    size = holder.path.stat().st_size
    peeked = sessions.peek(ws, sid)  # works while another process writes
    assert (peeked.id, peeked.model, peeked.permission_mode) == (sid, "gpt-5.4", "auto")
    assert sessions.peek(ws, sid, model="gpt-5.5").model == "gpt-5.5"
    assert [i.get("type") or i["role"] for i in peeked.history.input_items()] == [
        "user",
        "function_call",
        "function_call_output",
    ]
    assert holder.path.stat().st_size == size
    holder.close()
