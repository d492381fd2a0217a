"""`pixir PROMPT` in-process with a scripted Provider: output modes, --output-schema, -o,
Ctrl-C as an error object, and the helpers run.py owns."""

from __future__ import annotations

import fcntl
import io
import json
import os
import sys

import pytest

from pixir import cli, prompt
from pixir.commands import run as run_command
from pixir.errors import PixirError
from tests.unit.agent.scripted import ScriptedProvider, answer, calls


@pytest.fixture
def scripted(monkeypatch, workspace):
    import pixir.provider.client as client

    made: list = []
    steps: list = []

    class Provider(ScriptedProvider):
        def __init__(self, settings, credential, session_id):
            super().__init__(*steps)
            steps.clear()
            made.append(self)

    monkeypatch.setattr(client, "Provider", Provider)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-key")
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))

    def script(*more):
        steps.extend(more)
        return made

    return script


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


@pytest.mark.skipif(not os.path.exists("/proc/locks"), reason="needs Linux /proc/locks")
def test_lock_holder_finds_the_process_holding_a_flock(tmp_path):
    path = tmp_path / "session.jsonl"
    path.write_text("")
    assert run_command.lock_holder(str(path)) is None
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert run_command.lock_holder(str(path)) == os.getpid()
        err = PixirError("session_busy", "busy", {"path": str(path)}, hint="wait")
        run_command.explain_busy(err)
        assert err.hint.startswith(f"pid {os.getpid()} (") and err.details["pid"] == os.getpid()
    finally:
        os.close(fd)
