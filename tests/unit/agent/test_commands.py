"""`pixir sessions`, `pixir log`, and the argument handling of `pixir PROMPT` / `resume`."""

from __future__ import annotations

import io
import json
import sys

from pixir import cli
from pixir import session as sessions
from pixir.commands import run as run_command


def seed(ws, prompt="fix the failing test"):
    session = sessions.create(ws, model="gpt-5.5", transport="auto", permission_mode="auto")
    session.append("user_message", {"text": prompt})
    session.append("tool_call", {"call_id": "c1", "name": "bash", "args": {"command": "pytest"}})
    session.append(
        "tool_result",
        {
            "call_id": "c1",
            "ok": True,
            "output": "Exit code: 1\n",
            "exit_code": 1,
            "summary": "exit 1",
        },
    )
    session.append("assistant_message", {"text": "Fixed it.", "finish_reason": "stop"})
    session.close()
    return session.id


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


def test_resume_missing_session_is_exit_2_before_any_credential_is_needed(ws, capsys, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert cli.main(["resume", "20990101T000000-abcdef", "go"]) == 2
    assert "not_found" in capsys.readouterr().err


def test_resume_needs_an_id_or_last(ws, capsys):
    assert cli.main(["resume"]) == 2
    assert "resume needs a session id or --last" in capsys.readouterr().err


def test_no_credential_fails_before_a_session_exists(ws, capsys):
    assert cli.main(["do something"]) == 4
    assert not (ws / ".pixir").exists()


class FakeStdin(io.StringIO):
    def __init__(self, text, tty=False):
        super().__init__(text)
        self.buffer = io.BytesIO(text.encode())
        self._tty = tty

    def isatty(self):
        return self._tty


def test_targets(monkeypatch):
    _, resume = cli.parse(["resume", "S1", "go", "on"])
    assert run_command.target(resume) == (True, "S1", ["go", "on"])
    _, last = cli.parse(["resume", "--last", "more"])
    assert run_command.target(last) == (True, None, ["more"])
    _, cont = cli.parse(["-c", "again"])
    assert run_command.target(cont) == (True, None, ["again"])
    _, new = cli.parse(["hello", "world"])
    assert run_command.target(new) == (False, None, ["hello", "world"])


def test_ask_without_a_terminal_returns_none(monkeypatch):
    monkeypatch.setattr(sys, "stdin", FakeStdin("y\n"))
    assert run_command.ask_on_terminal("run `ls`?") is None
