"""`pixir log`: the transcript and its --json."""

from __future__ import annotations

import json

from pixir import cli
from tests.unit.helpers.sessions import seed


def test_log_transcript_and_json(ws, capsys):
    sid = seed(ws)
    assert cli.main(["log", sid]) == 0
    out = capsys.readouterr().out
    assert "## user" in out and "fix the failing test" in out
    assert "› bash pytest" in out and "✓ exit 1" in out and "Fixed it." in out
    assert cli.main(["log", sid[:-2], "--json"]) == 0  # a unique prefix is enough
    body = json.loads(capsys.readouterr().out)
    assert [e["type"] for e in body["events"]][:2] == ["session_started", "user_message"]


def test_log_of_a_missing_session_is_exit_2(ws, capsys):
    assert cli.main(["log", "20990101T000000-abcdef"]) == 2
    assert "error: not_found" in capsys.readouterr().err
    assert cli.main(["log", "nope", "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["error"]["kind"] == "not_found"
