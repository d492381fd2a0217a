"""Sessions (docs/log.md): create, resume, find, list, peek; and a compacted Log folds to the
summary plus the kept tail, from memory, from disk, and on resume, which does not even decode
the lines a compaction replaced."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pixir import __version__
from pixir import session as sessions
from pixir.compaction.cut import find_cut
from pixir.compaction.summary import files_touched
from pixir.errors import PixirError
from pixir.history import SUMMARY_PREFIX, History
from pixir.log import compacted_span, is_session_id, parse, read_events
from tests.unit.helpers.exchanges import assert_acceptable, build, exchange


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


def test_only_the_canonical_event_types_are_appended(ws):
    from pixir.log import CANONICAL, EPHEMERAL

    session = sessions.create(ws, model="gpt-5.5", transport="auto", permission_mode="auto")
    try:
        for kind in ("text_delta", "status", "user_mesage", "compaction"):
            assert kind not in CANONICAL
            with pytest.raises(ValueError, match=kind):
                session.append(kind, {"chunk": "x"})
        assert not CANONICAL & EPHEMERAL
        session.append("user_message", {"text": "hi"})
    finally:
        session.close()
    assert [e["type"] for e in read_events(session.path)] == ["session_started", "user_message"]
    assert [i["role"] for i in session.history.items] == ["user"]


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


def test_the_last_session_among_logs_written_in_one_clock_tick_is_the_one_with_the_later_event(
    ws,
):
    # the kernel stamps files written within one tick with the same mtime: the id's random
    # part must not decide which session `pixir -c` continues
    folder = ws / ".pixir" / "sessions"
    folder.mkdir(parents=True)
    line = '{"id":"%s","session_id":"%s","seq":0,"ts":"%s","type":"session_started","data":{}}\n'
    older, newer = "20261121T143000-ffffff", "20261121T143000-000000"
    for sid, ts in ((older, "2026-11-21T14:30:00.100000Z"), (newer, "2026-11-21T14:30:00.200000Z")):
        (folder / f"{sid}.jsonl").write_text(line % ("0" * 16, sid, ts))
        os.utime(folder / f"{sid}.jsonl", ns=(1_800_000_000_000_000_000,) * 2)
    assert sessions.find(ws, None) == newer


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


def test_list_shows_the_model_last_chosen_for_the_session(ws):
    sid = make(ws, "x")
    session, _ = sessions.resume(ws, sid, model=None, permission_mode="auto")
    session.append("settings_changed", {"model": "gpt-5.4"})
    session.append("settings_changed", {"permission_mode": "ask"})  # chose no model
    session.append("user_message", {"text": "y"})
    session.close()
    assert sessions.list_sessions(ws)[0].model == "gpt-5.4"


def test_a_session_folder_this_user_may_not_read_is_a_clear_io_error(ws, monkeypatch):
    make(ws, "x")

    def refused(folder):
        raise PermissionError(13, "Permission denied", str(folder))

    monkeypatch.setattr(sessions.os, "scandir", refused)  # as root, chmod cannot refuse
    with pytest.raises(PixirError) as info:
        sessions.list_sessions(ws)
    assert info.value.kind == "io_error" and "Permission denied" in info.value.message
    with pytest.raises(PixirError) as info:
        sessions.find(ws, None)
    assert info.value.kind == "io_error"


def test_a_log_this_user_may_not_read_is_left_out_of_the_list(ws, monkeypatch):
    mine, theirs = make(ws, "mine"), make(ws, "theirs")
    read_bytes = Path.read_bytes

    def guarded(path):
        if path.stem == theirs:
            raise PermissionError(13, "Permission denied", str(path))
        return read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", guarded)
    assert [i.id for i in sessions.list_sessions(ws)] == [mine]


def test_list_ignores_foreign_files(ws):
    make(ws, "x")
    (ws / ".pixir" / "sessions" / "notes.jsonl").write_text("junk")
    (ws / ".pixir" / "sessions" / "README").write_text("junk")
    assert len(sessions.list_sessions(ws)) == 1


def test_user_message_text_containing_the_marker_is_not_counted(ws):
    sid = make(ws, 'he said "type":"user_message" once')
    assert sessions.list_sessions(ws)[0].turns == 1
    assert sid


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


MODEL = "gpt-5.5"


# -- a compacted Log -------------------------------------------------------------------------


def new(ws):
    return sessions.create(ws, model=MODEL, transport="http_sse", permission_mode="auto")


def work(session, steps, size=500, prefix="c"):
    session.append("user_message", {"text": f"task {prefix}"})
    for n in range(steps):
        call_id = f"{prefix}{n}"
        session.append("provider_usage", {"model": MODEL, "step": n + 1, "usage_summary": {}})
        session.append(
            "tool_call", {"call_id": call_id, "name": "read", "args": {"path": f"{prefix}{n}.py"}}
        )
        session.append("tool_result", {"call_id": call_id, "ok": True, "output": "x" * size})
    session.append("assistant_message", {"text": f"done {prefix}", "finish_reason": "stop"})


def compact_now(session, keep=300, summary="SUMMARY"):
    found = find_cut(session.history, keep, last_seq=session.log.next_seq - 1)
    assert found is not None
    data = {
        "range": {"from_seq": found.from_seq, "to_seq": found.to_seq},
        "summary": summary,
        "files_touched": files_touched(session.history.items[: found.replaced], found.previous),
        "strategy": "deterministic",
        "trigger": "manual",
    }
    session.append("history_compaction", data)
    return found


def resumed(ws, sid):
    session, events = sessions.resume(ws, sid, model=None, permission_mode="auto")
    session.close()
    return session, events


def test_resume_after_compaction_sends_the_summary_and_the_tail(ws):
    session = new(ws)
    work(session, 12)
    found = compact_now(session)
    work(session, 2, prefix="d")
    memory = session.history.input_items()
    session.close()
    again, events = resumed(ws, session.id)
    items = again.history.input_items()
    assert items == memory == History.fold(read_events(session.path), MODEL).input_items()
    assert items[0]["content"][0]["text"] == SUMMARY_PREFIX + "SUMMARY"
    assert_acceptable(items)
    # the replaced lines were never decoded
    seqs = [e["seq"] for e in events]
    assert not [s for s in seqs if found.from_seq <= s <= found.to_seq]
    assert seqs[0] == 0 and events[0]["type"] == "session_started"
    assert any(e["type"] == "history_compaction" for e in events)


def test_compacted_span_names_exactly_the_lines_of_the_range(ws):
    session = new(ws)
    work(session, 6)
    found = compact_now(session)
    session.close()
    data = session.path.read_bytes()
    start, stop = compacted_span(data)
    inside = parse(data[start:stop])
    assert [e["seq"] for e in inside] == list(range(found.from_seq, found.to_seq + 1))
    outside = parse(data[:start] + data[stop:])
    assert all(not found.from_seq <= e["seq"] <= found.to_seq for e in outside)


def test_the_last_compaction_decides_and_carries_the_earlier_one(ws):
    session = new(ws)
    work(session, 8)
    first = compact_now(session, summary="ONE")
    work(session, 8, prefix="d")
    second = compact_now(session, summary="TWO")
    assert second.from_seq == first.from_seq and second.to_seq > first.to_seq
    memory = session.history.input_items()
    session.close()
    again, events = resumed(ws, session.id)
    assert again.history.input_items() == memory
    assert memory[0]["content"][0]["text"] == SUMMARY_PREFIX + "TWO"
    assert not [e for e in events if second.from_seq <= e["seq"] <= second.to_seq]


def test_a_marker_inside_event_data_is_not_taken_for_a_compaction(ws):
    session = new(ws)
    session.append("user_message", {"text": "x"})
    fake = '"type":"history_compaction","data":{"range":{"from_seq":1,"to_seq":1}}'
    session.append("tool_call", {"call_id": "c1", "name": "bash", "args": {"command": fake}})
    session.append(
        "tool_call",
        {
            "call_id": "c2",
            "name": "bash",
            "args": {"k": 1, "type": "history_compaction", "data": {"range": {}}},
        },
    )
    session.close()
    assert compacted_span(session.path.read_bytes()) is None
    _again, events = resumed(ws, session.id)
    assert len(events) == 4


def test_a_torn_line_repaired_next_to_the_range_falls_back_to_the_whole_parse(ws):
    session = new(ws)
    work(session, 6)
    path = session.path
    session.close()
    with open(path, "ab") as fh:
        fh.write(b'{"id":"0123456789abcdef","session_id":"torn')  # a crash mid-write
    _again, _ = resumed(ws, session.id)  # terminates the line, appends log_repaired
    reopened, _ = sessions.resume(ws, session.id, model=None, permission_mode="auto")
    work(reopened, 2, prefix="d")
    compact_now(reopened, keep=100)
    memory = reopened.history.input_items()
    reopened.close()
    final, _events = resumed(ws, session.id)
    assert final.history.input_items() == memory
    assert [e for e in read_events(path) if e["type"] == "log_repaired"]


def test_a_torn_line_after_the_compaction_is_handled_by_the_whole_parse(ws, monkeypatch):
    session = new(ws)
    work(session, 6)
    compact_now(session)
    work(session, 1, prefix="d")
    memory = session.history.input_items()
    session.close()
    with open(session.path, "ab") as fh:
        fh.write(b'{"id":"0123456789abcdef","sess')
    resumed(ws, session.id)  # repairs: the fragment's line number is one of the whole file
    import pixir.log as log_module

    calls = []
    real = log_module.parse
    monkeypatch.setattr(
        log_module, "parse", lambda *a, **k: calls.append(len(a[0])) or real(*a, **k)
    )
    again, _events = resumed(ws, session.id)
    assert again.history.input_items() == memory
    size = session.path.stat().st_size
    assert calls[-1] == size  # the two parts did not parse alone: the whole Log did


def test_resume_ignores_a_range_that_does_not_make_sense(ws):
    session = new(ws)
    work(session, 3)
    session.append(
        "history_compaction", {"range": {"from_seq": 0, "to_seq": 2}, "summary": "S"}
    )  # would cover session_started: not used to skip anything
    memory = session.history.input_items()
    session.close()
    assert compacted_span(session.path.read_bytes()) is None
    again, events = resumed(ws, session.id)
    assert again.history.input_items() == memory
    assert events[0]["type"] == "session_started"


@pytest.fixture
def fresh_ws(tmp_path_factory):
    def make():
        folder = tmp_path_factory.mktemp("ws")
        return folder

    return make


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(exchange(), min_size=1, max_size=4), st.integers(0, 300), st.booleans())
def test_resume_with_skipping_equals_the_whole_fold(fresh_ws, turns, keep, twice):
    ws = fresh_ws()
    session = new(ws)
    for kind, data in build(turns):
        session.append(kind, data)
    found = find_cut(session.history, keep, last_seq=session.log.next_seq - 1)
    if found is not None:
        compact_now(session, keep)
        if twice:
            for kind, data in build(turns[:1]):
                if kind in ("tool_call", "tool_result"):
                    data = {**data, "call_id": "again-" + data["call_id"]}
                session.append(kind, data)
            if find_cut(session.history, keep) is not None:
                compact_now(session, keep, summary="AGAIN")
    memory = session.history.input_items()
    session.close()
    whole = History.fold(read_events(session.path), MODEL).input_items()
    again, _ = resumed(ws, session.id)
    assert again.history.input_items() == memory == whole
    assert_acceptable(memory)
    os.remove(session.path)


def test_log_lines_stay_one_json_object_each(ws):
    session = new(ws)
    work(session, 3)
    compact_now(session, keep=0)
    session.close()
    for line in session.path.read_bytes().splitlines():
        assert isinstance(json.loads(line), dict)


# -- a session's workspace and its totals ----------------------------------------------------


def test_a_resumed_session_works_in_the_workspace_it_recorded(tmp_path):
    root = tmp_path / "repo"
    sub = root / "pkg" / "sub"
    sub.mkdir(parents=True)
    session = sessions.create(
        sub, model=MODEL, transport="auto", permission_mode="auto", store=root
    )
    session.close()
    assert session.path.parent == root / ".pixir" / "sessions"
    assert not (sub / ".pixir").exists()
    again, _ = resumed(root, session.id)
    assert again.workspace == sub
    assert sessions.peek(root, session.id).workspace == sub
    # moved away, or a path outside the store (another copy of the repository): the store
    sub.rmdir()
    assert resumed(root, session.id)[0].workspace == root
    started = {"workspace": str(tmp_path / "elsewhere")}
    (tmp_path / "elsewhere").mkdir()
    assert sessions.workspace_of(started, root) == root


def test_totals_count_every_turn_and_call_of_the_log(ws):
    session = new(ws)
    for turn in range(2):
        session.append("user_message", {"text": f"q{turn}"})
        for step in range(2):
            usage = {"input_tokens": 100, "cached_tokens": 40, "output_tokens": 7}
            session.append("provider_usage", {"model": MODEL, "step": step, "usage_summary": usage})
    session.close()
    assert sessions.totals(session.path) == {
        "turns": 2,
        "input_tokens": 400,
        "cached_tokens": 160,
        "output_tokens": 28,
        "reasoning_tokens": 0,
    }
    assert sessions.totals(None)["turns"] == 0


# -- the choices made for a session (settings_changed) ------------------------------------------


def test_a_resume_runs_with_the_last_choices_recorded_in_the_log(ws):
    session = sessions.create(ws, model=MODEL, transport="auto", permission_mode="auto")
    session.append("settings_changed", {"model": "gpt-5.4"})
    session.append("settings_changed", {"permission_mode": "ask", "reasoning_effort": "high"})
    session.append("settings_changed", {"reasoning_effort": None})
    session.close()
    again, events = resumed(ws, session.id)
    assert (again.model, again.permission_mode) == ("gpt-5.4", "ask")
    assert sessions.choices(events) == {
        "model": "gpt-5.4",
        "permission_mode": "ask",
        "reasoning_effort": None,
    }
    # never wider than chosen; a model given explicitly wins
    narrow, _ = sessions.resume(ws, session.id, model="gpt-5.2", permission_mode="read_only")
    narrow.close()
    assert (narrow.model, narrow.permission_mode) == ("gpt-5.2", "read_only")
    assert sessions.peek(ws, session.id).model == "gpt-5.4"


def test_choices_inside_a_compacted_range_survive_the_skipping_resume(ws):
    session = new(ws)
    work(session, 3)
    session.append("settings_changed", {"model": "gpt-5.4"})
    work(session, 9, prefix="d")
    found = compact_now(session)
    changed_seq = next(
        e["seq"] for e in read_events(session.path) if e["type"] == "settings_changed"
    )
    assert found.from_seq <= changed_seq <= found.to_seq  # it is inside the replaced range
    session.close()
    again, events = resumed(ws, session.id)
    assert again.model == "gpt-5.4"
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    assert not [
        e
        for e in events
        if found.from_seq <= e["seq"] <= found.to_seq and e["type"] != "settings_changed"
    ]
