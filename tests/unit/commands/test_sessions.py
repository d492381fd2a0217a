"""`pixir sessions`: the table and its --json."""

from __future__ import annotations

import json

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
