"""`pixir preview` and `pixir ping` in-process: no network library for preview, and the
structured errors before any call."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from pixir.cli import main

ROOT = Path(__file__).resolve().parents[3]


def test_preview_imports_no_network_library(tmp_path):
    code = (
        "import sys; from pixir.cli import main; rc = main(['preview', 'hi', '--json']); "
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('requests', 'urllib3', 'websocket', 'jwt')]; "
        "print('LOADED', bad, file=sys.stderr); sys.exit(rc)"
    )
    env = {"PATH": "/usr/bin:/bin", "PIXIR_HOME": str(tmp_path / "home"), "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**env, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    assert "LOADED []" in done.stderr
    assert json.loads(done.stdout)["body"]["store"] is False


def test_preview_human_output_has_url_headers_and_body(workspace, capsys, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secretsecretsecret1234")
    assert main(["preview", "hello there", "--no-stdin"]) == 0
    out = capsys.readouterr().out
    head, body = out.split("\n\n", 1)
    assert head.splitlines()[0] == "POST https://api.openai.com/v1/responses"
    assert "Authorization: Bearer [redacted]" in head
    assert "sk-secretsecretsecret1234" not in out
    assert json.loads(body)["input"][-1]["content"][0]["text"] == "hello there"


def test_preview_with_jsonl_prints_the_json_object(workspace, capsys):
    # the flags of a `--jsonl` run, previewed: one parseable line, as its errors are
    assert main(["preview", "hello", "--jsonl", "--no-stdin"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    body = json.loads(out)
    assert body["ok"] is True and body["method"] == "POST"
    assert body["body"]["input"][-1]["content"][0]["text"] == "hello"


def test_preview_bad_output_schema_is_invalid_arguments(workspace, capsys):
    (workspace / "schema.json").write_text("{not json")
    assert main(["preview", "x", "--output-schema", "schema.json", "--no-stdin"]) == 2
    assert "invalid_arguments" in capsys.readouterr().err
    assert main(["preview", "x", "--output-schema", "missing.json", "--no-stdin"]) == 2


def test_preview_of_a_missing_session_is_not_found(workspace, capsys):
    assert main(["preview", "--session", "abc"]) == 2
    assert "not_found" in capsys.readouterr().err
