"""`pixir PROMPT` / `resume` in-process, with the real request builder and a scripted
Provider in place of the network one."""

from __future__ import annotations

import io
import json
import sys

import pytest

from pixir import cli
from pixir.log import read_events

from .scripted import ScriptedProvider, answer, calls


@pytest.fixture
def scripted(monkeypatch, ws):
    """Install a scripted Provider for the next runs; returns the list of providers made."""
    import pixir.provider.client as client

    made = []
    steps = []

    class Provider(ScriptedProvider):
        def __init__(self, settings, credential, session_id):
            super().__init__(*steps)
            steps.clear()
            self.session_id = session_id
            made.append(self)

    monkeypatch.setattr(client, "Provider", Provider)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-key")
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))

    def script(*more):
        steps.extend(more)
        return made

    return script


def last_session(ws):
    return sorted((ws / ".pixir" / "sessions").glob("*.jsonl"))[-1]


def test_one_shot_json(scripted, ws, capsys):
    made = scripted(answer("Hello!"))
    assert cli.main(["--json", "say hi"]) == 0
    body = json.loads(capsys.readouterr().out)
    sid = last_session(ws).stem
    assert body["ok"] and body["output"] == "Hello!" and body["session_id"] == sid
    assert body["resume_command"] == f"pixir resume {sid}" and body["exit_code"] == 0
    assert made[0].closed and made[0].session_id == sid


def test_request_body_is_what_build_body_makes(scripted, ws, capsys):
    from pixir import context
    from pixir.config import Settings
    from pixir.provider.request import options_from_settings

    made = scripted(answer("ok"))
    assert cli.main(["hi there"]) == 0
    sent = made[0].bodies[0]
    sid = last_session(ws).stem
    options = options_from_settings(
        Settings(),
        model="gpt-5.5",
        session_id=sid,
        credential_kind="api_key",
        prompt_cache_key=sid,
    )
    expected = context.build(ws, "auto").body(
        options, [{"role": "user", "content": [{"type": "input_text", "text": "hi there"}]}]
    )
    assert sent == expected


def test_human_output_and_answer_file(scripted, ws, capsys, tmp_path):
    (ws / "a.txt").write_text("one\n")
    scripted(calls(("read", {"path": "a.txt"})), answer("It says one."))
    out_file = tmp_path / "answer.txt"
    assert cli.main(["-o", str(out_file), "what is in a.txt"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "It says one.\n"
    assert "› read a.txt" in captured.err and "continue with: pixir resume" in captured.err
    assert out_file.read_text() == "It says one."


def test_resume_cannot_widen_and_says_so(scripted, ws, capsys):
    scripted(answer("first"))
    assert cli.main(["--read-only", "look"]) == 0
    sid = last_session(ws).stem
    scripted(calls(("write", {"path": "x.txt", "content": "x"})), answer("refused"))
    assert cli.main(["resume", sid, "--ask", "now write"]) == 0
    assert "cannot widen" in capsys.readouterr().err
    assert not (ws / "x.txt").exists()
    kinds = [
        e["data"]["mode"]
        for e in read_events(last_session(ws))
        if e["type"] == "permission_decision"
    ]
    assert kinds == ["read_only"]


def test_provider_error_prints_one_error_line(scripted, ws, capsys):
    from pixir.errors import PixirError

    scripted(PixirError("usage_limit_reached", "You have hit your usage limit.", hint="wait"))
    assert cli.main(["hi"]) == 7
    err = capsys.readouterr().err
    assert "error: usage_limit_reached: You have hit your usage limit." in err
    assert "hint: wait" in err


def test_max_steps_flag(scripted, ws, capsys):
    scripted(calls(("update_plan", {"steps": [{"step": "a", "status": "pending"}]})))
    assert cli.main(["--max-steps", "1", "--json", "plan"]) == 6
    assert json.loads(capsys.readouterr().out)["status"] == "incomplete"
