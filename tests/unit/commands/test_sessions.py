"""`pixir sessions`: the table and its --json."""

from __future__ import annotations

import calendar
import json
import time

from pixir import cli
from tests.unit.helpers.sessions import seed


def test_sessions_table_and_json(ws, capsys):
    sid = seed(ws)
    assert cli.main(["sessions"]) == 0
    out = capsys.readouterr().out
    assert sid in out and "fix the failing test" in out and "TURNS" in out
    assert cli.main(["sessions", "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["ok"] is True and body["sessions"][0]["id"] == sid
    assert body["sessions"][0]["turns"] == 1


def test_sessions_in_an_empty_workspace(ws, capsys):
    assert cli.main(["sessions"]) == 0
    assert "no sessions" in capsys.readouterr().out
    assert not (ws / ".pixir").exists()  # listing creates nothing


def test_sessions_show_local_times_with_the_zone(ws, capsys, monkeypatch):
    monkeypatch.setenv("TZ", "PXT-05:30")
    time.tzset()
    try:
        sid = seed(ws)
        assert cli.main(["sessions"]) == 0
    finally:
        monkeypatch.undo()
        time.tzset()
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith(sid))
    utc = time.strptime(sid[:15], "%Y%m%dT%H%M%S")  # the id is the UTC start time
    local = time.strftime("%Y-%m-%d %H:%M", time.gmtime(calendar.timegm(utc) + 5.5 * 3600))
    assert f"  {local} PXT  " in row


def test_sessions_of_a_repository_are_found_from_a_subdirectory(ws, capsys, monkeypatch):
    (ws / ".git").mkdir()
    sub = ws / "src" / "deep"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    sid = seed(ws)
    assert cli.main(["sessions"]) == 0
    assert sid in capsys.readouterr().out
    assert cli.main(["sessions", "-C", str(sub)]) == 0  # -C: that directory exactly
    assert "no sessions" in capsys.readouterr().out
