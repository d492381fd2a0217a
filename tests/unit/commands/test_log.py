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
    assert "## compaction · 2026-11-21 14:30:00 · events 1–20 replaced by a summary" in lines[1]
    assert "(model, auto)" in lines[1] and lines[2] == "Goal: x"
