"""`pixir PROMPT` / `resume` in-process, with the real request builder and a scripted
Provider in place of the network one."""

from __future__ import annotations

import io
import json
import sys

import pytest

from pixir import cli, prompt
from pixir.commands import run as run_command
from pixir.errors import PixirError
from pixir.log import read_events
from tests.unit.helpers.scripted import ScriptedProvider, answer, calls


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
    from pixir.sandbox.policy import sandbox_for

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
    sandbox = sandbox_for(Settings(), "auto", ws).for_model()  # the developer context names it
    expected = context.build(ws, "auto", sandbox=sandbox).body(
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


def test_a_new_session_that_failed_before_any_answer_has_nothing_to_continue(scripted, ws, capsys):
    from pixir.errors import PixirError

    scripted(PixirError("network", "connection refused"))
    assert cli.main(["hi"]) == 1
    err = capsys.readouterr().err
    assert "continue with" not in err and "pixir resume" not in err
    assert err.splitlines()[-1].endswith("· no answer, nothing to continue")
    # --json still names the session and its resume command: the session exists
    scripted(PixirError("network", "connection refused"))
    assert cli.main(["--json", "hi"]) == 1
    assert json.loads(capsys.readouterr().out)["resume_command"].startswith("pixir resume ")


def test_a_resume_without_a_task_shows_a_resume_with_one(new_session, capsys):
    session = new_session()
    session.close()
    assert cli.main(["resume", session.id]) == 2
    err = capsys.readouterr().err
    assert f'hint: pass the task as an argument: pixir resume {session.id} "what next?"' in err
    assert cli.main(["resume", "--last", "--no-stdin"]) == 2
    assert f'pixir resume {session.id} "what next?"' in capsys.readouterr().err


def test_max_steps_flag(scripted, ws, capsys):
    scripted(calls(("update_plan", {"steps": [{"step": "a", "status": "pending"}]})))
    assert cli.main(["--max-steps", "1", "--json", "plan"]) == 6
    assert json.loads(capsys.readouterr().out)["status"] == "incomplete"


SCHEMA = {"type": "object", "properties": {"v": {"type": "string"}}, "required": ["v"]}


def test_output_schema_is_sent_and_checked(scripted, workspace, capsys):
    (workspace / "s.json").write_text(json.dumps(SCHEMA))
    made = scripted(answer('{"v": "yes"}'))
    assert cli.main(["--json", "--output-schema", "s.json", "judge"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "completed"
    fmt = made[0].bodies[0]["text"]["format"]
    assert fmt["type"] == "json_schema" and fmt["schema"] == SCHEMA and fmt["strict"] is True
    scripted(answer("not json"))
    assert cli.main(["--json", "--output-schema", "s.json", "judge"]) == 6
    body = json.loads(capsys.readouterr().out)
    assert body["status"] == "incomplete" and body["error"]["kind"] == "schema_mismatch"
    assert body["output"] == "not json" and body["exit_code"] == 6


def test_a_failed_answer_file_write_is_an_error_after_the_turn(
    scripted, workspace, capsys, monkeypatch
):
    import pixir.fsutil

    def refuse(path, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pixir.fsutil, "atomic_write", refuse)
    scripted(answer("text"))
    assert cli.main(["--json", "-o", "out.txt", "hi"]) == 1
    body = json.loads(capsys.readouterr().out)
    assert body["status"] == "error" and body["error"]["kind"] == "io_error"
    assert "No space left on device" in body["error"]["message"] and body["output"] == "text"


def test_ctrl_c_in_a_turn_is_the_interrupted_error(scripted, workspace, capsys):
    scripted(KeyboardInterrupt())
    assert cli.main(["--json", "hi"]) == 130
    body = json.loads(capsys.readouterr().out)
    assert body["status"] == "interrupted" and body["error"]["kind"] == "interrupted"
    assert body["exit_code"] == 130 and body["ok"] is False


def test_jsonl_starts_with_session_started_and_ends_with_the_result(scripted, workspace, capsys):
    scripted(calls(("read", {"path": "missing.txt"})), answer("done"))
    assert cli.main(["--jsonl", "hi"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["type"] == "session_started" and lines[0]["seq"] == 0
    assert lines[1]["type"] == "user_message"
    assert lines[-1]["kind"] == "one_shot_turn" and lines[-1]["output"] == "done"


def test_interactive_mode_refuses_machine_output(scripted, workspace, capsys, monkeypatch):
    monkeypatch.setattr(prompt, "interactive_possible", lambda words, no_stdin: True)
    assert cli.main(["--jsonl"]) == 2
    body = json.loads(capsys.readouterr().out)
    assert body["error"]["kind"] == "invalid_arguments"


def test_answer_file_checks(tmp_path):
    assert run_command.check_answer_file(None) is None
    assert run_command.check_answer_file(str(tmp_path / "a.txt")) == tmp_path / "a.txt"
    with pytest.raises(PixirError, match="no such directory"):
        run_command.check_answer_file(str(tmp_path / "nope" / "a.txt"))
    with pytest.raises(PixirError, match="is a directory"):
        run_command.check_answer_file(str(tmp_path))


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
