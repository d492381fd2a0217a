"""`pixir log`: the transcript and its --json."""

from __future__ import annotations

import calendar
import json
import re
import time

import pytest

from pixir import cli
from pixir import session as sessions
from tests.unit.helpers.sessions import seed


@pytest.fixture
def zone(monkeypatch):
    """The local zone set to UTC+05:30, named PXT (a POSIX TZ string: no tz database)."""
    monkeypatch.setenv("TZ", "PXT-05:30")
    time.tzset()
    yield "PXT"
    monkeypatch.undo()
    time.tzset()


def test_log_transcript_and_json(ws, capsys):
    sid = seed(ws)
    assert cli.main(["log", sid]) == 0
    out = capsys.readouterr().out
    assert "## user" in out and "fix the failing test" in out
    assert "› bash pytest" in out and "Fixed it." in out
    assert cli.main(["log", sid[:-2], "--json"]) == 0  # a unique prefix is enough
    body = json.loads(capsys.readouterr().out)
    assert [e["type"] for e in body["events"]][:2] == ["session_started", "user_message"]


def test_the_transcript_shows_the_settings_chosen_on_the_way(ws, capsys):
    sid = seed(ws)
    session, _ = sessions.resume(ws, sid, model=None, permission_mode="auto")
    session.append("settings_changed", {"model": "gpt-5.4", "reasoning_effort": None})
    session.close()
    assert cli.main(["log", sid]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert re.fullmatch(r"  \(settings · .+\) model gpt-5\.4, reasoning effort default", last)


def command(session, call_id: str, cmd: str, code: int, output: str) -> None:
    session.append("tool_call", {"call_id": call_id, "name": "bash", "args": {"command": cmd}})
    text = f"Exit code: {code}\nWall time: 0.1 seconds\nOutput:\n{output}"
    data = {"call_id": call_id, "ok": True, "output": text, "exit_code": code}
    session.append("tool_result", {**data, "summary": f"exit {code} · 0.1 s"})


def test_a_command_that_exited_non_zero_is_marked_failed_with_its_last_lines(ws, capsys):
    session = sessions.create(ws, model="gpt-5.5", transport="auto", permission_mode="auto")
    session.append("user_message", {"text": "test it"})
    command(session, "c1", "true", 0, "fine\n")
    failing = "".join(f"line {n}\n" for n in range(1, 21)) + "AssertionError: 1 != 2\n"
    command(session, "c2", "pytest", 1, failing)
    session.close()
    assert cli.main(["log", session.id]) == 0
    lines = capsys.readouterr().out.splitlines()
    passed = lines.index("› bash true")
    assert lines[passed + 1] == "  ✓ exit 0 · 0.1 s" and lines[passed + 2] == "    fine"
    failed = lines.index("› bash pytest")
    assert lines[failed + 1] == "  ✗ exit 1 · 0.1 s"
    # the end of the output, where the error is; the header the model got is not shown
    assert lines[failed + 2] == "    … 13 lines before"
    assert lines[failed + 3 : failed + 11] == [
        *(f"    line {n}" for n in range(14, 21)),
        "    AssertionError: 1 != 2",
    ]
    assert "Exit code: 1" not in "\n".join(lines)


def test_log_last_is_the_most_recent_session(ws, capsys):
    seed(ws, prompt="the older one")
    newer = seed(ws, prompt="the newer one")
    assert cli.main(["log", "--last"]) == 0
    out = capsys.readouterr().out
    assert f"# session {newer}" in out and "the newer one" in out and "the older" not in out
    assert cli.main(["log"]) == 2
    assert "log needs a session id or --last" in capsys.readouterr().err
    assert cli.main(["log", newer, "--last"]) == 2


def test_times_are_local_with_the_zone(ws, capsys, zone):
    sid = seed(ws)
    [event] = [e for e in sessions.events_of(ws, sid)[1] if e["type"] == "user_message"]
    utc = time.strptime(event["ts"][:19], "%Y-%m-%dT%H:%M:%S")
    local = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(calendar.timegm(utc) + 5.5 * 3600))
    assert cli.main(["log", sid]) == 0
    out = capsys.readouterr().out
    assert f"## user · {local} {zone}" in out
    assert "UTC" not in out


def test_log_of_a_missing_session_is_exit_2(ws, capsys):
    assert cli.main(["log", "20990101T000000-abcdef"]) == 2
    assert "error: not_found" in capsys.readouterr().err
    assert cli.main(["log", "nope", "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["error"]["kind"] == "not_found"


def test_pixir_log_shows_the_compaction_and_its_summary():
    from pixir.commands.log import transcript

    event = {
        "seq": 30,
        "ts": "2026-11-21T14:30:00.000000Z",
        "type": "history_compaction",
        "data": {
            "range": {"from_seq": 1, "to_seq": 20},
            "summary": "Goal: x",
            "strategy": "model",
            "trigger": "auto",
        },
    }
    lines = transcript([event])
    # the time is local, with its zone
    assert re.match(r"## compaction · 2026-11-2\d \d\d:\d0:00 \S+ · events 1–20 replaced", lines[1])
    assert "(model, auto)" in lines[1] and lines[2] == "Goal: x"
