"""The Log (docs/log.md): envelope, one line per write, torn lines, corrupt lines, locking."""

from __future__ import annotations

import fcntl
import json
import os
import random
import re
import subprocess
import sys
import textwrap

import pytest

from pixir import log as logmod
from pixir.errors import PixirError
from pixir.log import Log, is_session_id, new_session_id, parse, read_events


@pytest.fixture
def path(tmp_path):
    return tmp_path / "20261121T143000-a1b2c3.jsonl"


def new_log(path):
    return Log.create(path, path.stem)


def test_session_ids_are_utc_time_plus_three_random_bytes():
    sid = new_session_id(now=1795271400.0)  # 2026-11-21 14:30:00 UTC
    assert re.fullmatch(r"20261121T143000-[0-9a-f]{6}", sid)
    assert is_session_id(sid)
    for bad in (
        "",
        "../../etc/passwd",
        "20261121T143000-A1B2C3",
        "20261121T143000_a1b2c3",
        "x" * 22,
    ):
        assert not is_session_id(bad)


def test_envelope_fields_and_line_format(path):
    log = new_log(path)
    first = log.append("session_started", {"model": "gpt-5.5"})
    second = log.append("user_message", {"text": "héllo\nworld"})
    log.close()
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    assert lines[-1] == b"" and len(lines) == 3  # every line newline-terminated
    for line, event, seq in ((lines[0], first, 0), (lines[1], second, 1)):
        loaded = json.loads(line)
        assert list(loaded) == ["id", "session_id", "seq", "ts", "type", "data"]
        assert loaded == event
        assert re.fullmatch(r"[0-9a-f]{16}", loaded["id"])
        assert loaded["session_id"] == path.stem
        assert loaded["seq"] == seq
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", loaded["ts"])
        assert b": " not in line and b", " not in line  # no pretty printing
    assert "héllo".encode() in lines[1]  # UTF-8, not \u escapes


def test_each_event_is_one_write_call_and_fsync_only_on_sync(path, monkeypatch):
    log = new_log(path)
    writes, syncs = [], []
    real_write, real_fsync = os.write, os.fsync
    monkeypatch.setattr(
        logmod.os, "write", lambda fd, b: writes.append(bytes(b)) or real_write(fd, b)
    )
    monkeypatch.setattr(logmod.os, "fsync", lambda fd: syncs.append(fd) or real_fsync(fd))
    for n in range(5):
        log.append("tool_result", {"n": n, "output": "x" * 10000})
    assert len(writes) == 5 and all(w.endswith(b"\n") and w.count(b"\n") == 1 for w in writes)
    assert syncs == []
    log.sync()
    assert len(syncs) == 1
    log.close()


def test_every_writer_appends_with_o_append_and_holds_a_flock(path, tmp_path):
    # O_APPEND makes each one-line write land whole at the end of the file, and flock (not
    # lockf, which another process's flock would not see) is what a second pixir tests.
    def check(writer):
        assert fcntl.fcntl(writer._fd, fcntl.F_GETFL) & os.O_APPEND
        probe = os.open(writer.path, os.O_RDONLY)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(probe)
        writer.close()

    check(new_log(path))
    check(Log.open(path, path.stem)[0])
    other = tmp_path / "20261121T143001-a1b2c4.jsonl"
    check(Log.create_with(other, other.stem, "user_message", {"text": "a"})[0])


def test_a_lone_surrogate_is_written_as_a_replacement_character(path):
    log = new_log(path)
    log.append("tool_result", {"output": "bad \udcff byte", "ok": True})
    log.close()
    line = path.read_bytes()
    line.decode("utf-8")  # strict: the file is valid UTF-8
    assert b"\\udcff" not in line
    assert read_events(path)[0]["data"]["output"] == "bad \ufffd byte"


def test_a_log_already_holding_escaped_surrogates_reads_as_valid_text(path):
    # What an older pixir wrote: the surrogate as a JSON escape, which decodes to a string
    # that no request (UTF-8 JSON) could carry. Reading gives U+FFFD instead, everywhere.
    head = '{"id":"%016x","session_id":"s","seq":%d,"ts":"t","type":"%s","data":%s}\n'
    path.write_bytes(
        (
            head % (1, 0, "user_message", '{"text":"caf\\udce9 \\ud800"}')
            + head % (2, 1, "tool_result", '{"output":{"\\udfff":["x\\u0000"]}}')
        ).encode()
    )
    events = read_events(path)
    assert events[0]["data"]["text"] == "caf\ufffd \ufffd"
    assert events[1]["data"]["output"] == {"\ufffd": ["x\ufffd"]}
    json.dumps(events, ensure_ascii=False).encode("utf-8")  # would raise before


def test_a_line_of_bytes_that_are_not_utf8_is_read_with_replacement(path):
    path.write_bytes(b'{"type":"user_message","seq":0,"data":{"text":"caf\xe9"}}\n')
    assert read_events(path)[0]["data"]["text"] == "caf\ufffd"


def test_reader_ignores_a_torn_last_line(path):
    log = new_log(path)
    log.append("user_message", {"text": "one"})
    log.close()
    with open(path, "ab") as fh:
        fh.write(b'{"id":"abc","session_id":"x","seq":1,"ts":"t","type":"user_mes')
    events = read_events(path)
    assert [e["data"]["text"] for e in events] == ["one"]


def test_next_writer_terminates_a_torn_line_and_records_it(path):
    log = new_log(path)
    log.append("user_message", {"text": "one"})
    log.close()
    torn = b'{"id":"abc","session_id":"x","seq":1,"ts":"t","type":"tool_res'
    with open(path, "ab") as fh:
        fh.write(torn)
    log, events = Log.open(path, path.stem)
    assert [e["type"] for e in events] == ["user_message", "log_repaired"]
    assert events[-1]["data"] == {"line": 2, "bytes": len(torn)}
    appended = log.append("user_message", {"text": "two"})
    assert appended["seq"] == events[-1]["seq"] + 1
    log.close()
    raw = path.read_bytes()
    assert raw.endswith(b"\n")
    assert [e["type"] for e in read_events(path)] == [
        "user_message",
        "log_repaired",
        "user_message",
    ]
    # and a later writer sees exactly the same events, with nothing more to repair
    log, again = Log.open(path, path.stem)
    log.close()
    assert again == read_events(path)


def test_a_torn_line_missing_only_its_newline_is_kept(path):
    log = new_log(path)
    log.append("user_message", {"text": "one"})
    second = log.append("user_message", {"text": "two"})
    log.close()
    path.write_bytes(path.read_bytes()[:-1])  # drop the final newline only
    assert len(read_events(path)) == 1  # readers: not complete yet
    log, events = Log.open(path, path.stem)
    assert events[-1] == second and log.next_seq == 2
    log.close()


def test_a_corrupt_line_elsewhere_names_the_file_and_line(path):
    log = new_log(path)
    for n in range(3):
        log.append("user_message", {"text": str(n)})
    log.close()
    lines = path.read_bytes().split(b"\n")
    lines[1] = b"{not json"
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(PixirError) as caught:
        read_events(path)
    assert caught.value.kind == "corrupt_log"
    assert str(path) in caught.value.message and "line 2" in caught.value.message
    assert caught.value.details == {"path": str(path), "line": 2}
    with pytest.raises(PixirError, match="line 2"):
        Log.open(path, path.stem)


@pytest.mark.parametrize("line", [b"[1,2]", b'{"type":"x"}', b'{"data":{}}', b'"text"'])
def test_valid_json_that_is_not_an_event_is_corrupt(path, line):
    data = b'{"id":"a","seq":0,"type":"user_message","data":{"text":"a"}}\n' + line + b"\n"
    with pytest.raises(PixirError, match="line 2"):
        parse(data, path)


def test_blank_lines_are_skipped(path):
    data = b'{"type":"user_message","data":{"text":"a"}}\n\n{"type":"user_message","data":{}}\n'
    assert len(parse(data, path)) == 2


def test_empty_and_headless_logs(path):
    assert parse(b"", path) == []
    assert parse(b'{"type":', path) == []


def test_second_writer_in_the_same_process_is_busy(path):
    log = new_log(path)
    with pytest.raises(PixirError) as caught:
        Log.open(path, path.stem)
    assert caught.value.kind == "session_busy" and caught.value.exit_code == 5
    log.close()
    other, _ = Log.open(path, path.stem)  # free again once closed
    other.close()


def test_lock_is_held_against_another_process_and_dropped_when_it_dies(path):
    new_log(path).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time
                sys.path.insert(0, {os.getcwd()!r})
                from pathlib import Path
                from pixir.log import Log
                log, _ = Log.open(Path({str(path)!r}), {path.stem!r})
                print("locked", flush=True)
                time.sleep(60)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        cwd=os.path.dirname(os.path.dirname(logmod.__file__)),
    )
    try:
        assert holder.stdout.readline() == b"locked\n"
        with pytest.raises(PixirError) as caught:
            Log.open(path, path.stem)
        assert caught.value.kind == "session_busy"
    finally:
        holder.kill()
        holder.wait()
    log, _ = Log.open(path, path.stem)  # the OS dropped the lock: no stale lease
    log.close()


def test_open_missing_is_not_found(tmp_path):
    with pytest.raises(PixirError) as caught:
        Log.open(tmp_path / "20261121T143000-000000.jsonl", "20261121T143000-000000")
    assert caught.value.kind == "not_found" and caught.value.exit_code == 2


def test_create_refuses_an_existing_file(path):
    new_log(path).close()
    with pytest.raises(FileExistsError):
        new_log(path)


def test_new_logs_are_private(path):
    new_log(path).close()
    assert path.stat().st_mode & 0o077 == 0


def test_parse_fast_and_slow_paths_agree(path):
    log = new_log(path)
    for n in range(50):
        log.append("tool_result", {"n": n, "output": "line\n" * n})
    log.close()
    data = path.read_bytes()
    assert parse(data, path) == logmod._parse_lines(data[:-1].split(b"\n"), path)


def test_skipped_types_are_left_out_and_the_sequence_still_continues(path):
    log = new_log(path)
    log.append("user_message", {"text": "a"})
    log.append("tool_call", {"call_id": "c", "name": "x", "args": {"type": "provider_usage"}})
    log.append("provider_usage", {"step": 1})
    log.close()
    skip = frozenset({"provider_usage"})
    assert [e["type"] for e in parse(path.read_bytes(), path, skip)] == [
        "user_message",
        "tool_call",  # the same words inside data do not count: only the envelope's type
    ]
    log, events = Log.open(path, path.stem, skip=skip)
    assert len(events) == 2 and log.next_seq == 3  # the skipped last line still counts
    log.close()


def test_big_logs_parse_in_pieces_with_lines_longer_than_a_piece(path):
    log = new_log(path)
    for n in range(200):
        log.append("tool_result", {"n": n, "output": "z" * (n * 997 % (3 * logmod.PARSE_CHUNK))})
    log.close()
    events = read_events(path)
    assert [e["data"]["n"] for e in events] == list(range(200))
    skip = frozenset({"user_message"})
    assert len(parse(path.read_bytes(), path, skip)) == 200


def test_skipping_equals_decoding_everything_and_dropping(path):
    # Skipped lines first, last, in runs, and the skipped type's envelope text inside data
    # (a key, and a string, whose JSON escapes its quotes) of lines that must be kept.
    rng = random.Random(7)
    log = new_log(path)
    log.append("provider_usage", {"step": 0})
    for n in range(300):
        kind = rng.choice(["provider_usage", "provider_usage", "tool_result", "user_message"])
        data = {"n": n, "type": "provider_usage", "text": '"type":"provider_usage"\n' * (n % 3)}
        log.append(kind, data)
    log.append("provider_usage", {"step": 1})
    log.close()
    with path.open("ab") as fh:
        fh.write(b'{"id":"0000000000000000","session_id":"x","seq":9,"ts":"t","type":"us')  # torn
    data = path.read_bytes()
    skip = frozenset({"provider_usage"})
    everything = parse(data, path)
    assert parse(data, path, skip) == [e for e in everything if e["type"] not in skip]
    assert parse(data, path, frozenset({"provider_usage", "user_message"})) == [
        e for e in everything if e["type"] == "tool_result"
    ]


@pytest.mark.skipif(not os.path.exists("/proc/locks"), reason="needs Linux /proc/locks")
def test_lock_holder_finds_the_process_holding_a_flock(tmp_path):
    path = tmp_path / "session.jsonl"
    path.write_text("")
    assert logmod.lock_holder(str(path)) is None
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert logmod.lock_holder(str(path)) == os.getpid()
        err = PixirError("session_busy", "busy", {"path": str(path)}, hint="wait")
        logmod.explain_busy(err)
        assert err.hint.startswith(f"pid {os.getpid()} (") and err.details["pid"] == os.getpid()
    finally:
        os.close(fd)
