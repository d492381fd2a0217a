"""The harness itself, with a stand-in executable (the real one is exercised in tests/e2e)."""

from __future__ import annotations

import json
import os
import stat
import sys

import pexpect
import pytest

from tests.harness import PixirRunner

# A stand-in "pixir": prints its argv, cwd, selected environment and stdin as JSON.
ECHO = """\
import json, os, sys
print(json.dumps({"argv": sys.argv[1:], "cwd": os.getcwd(), "stdin": sys.stdin.read(),
                  "env": {k: v for k, v in os.environ.items()}}))
sys.exit(int(os.environ.get("ECHO_EXIT", "0")))
"""


@pytest.fixture
def echo_runner(fake, tmp_path, monkeypatch):
    script = tmp_path / "echo-pixir"
    script.write_text(f"#!{sys.executable}\n{ECHO}")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PIXIR_BIN", str(script))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-developer-shell")
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    return PixirRunner(fake, tmp_path / "run")


def test_run_uses_a_clean_environment_pointed_at_the_fake(echo_runner, fake):
    result = echo_runner.run("hello", "--json", stdin="piped text")
    assert result.code == 0, result
    seen = echo_runner.json_out(result)
    assert seen["argv"] == ["hello", "--json"]
    assert seen["cwd"] == str(echo_runner.workspace)
    assert seen["stdin"] == "piped text"
    env = seen["env"]
    assert env["PIXIR_AUTH_ISSUER"] == fake.issuer_url
    assert env["PIXIR_CHATGPT_BASE_URL"] == fake.chatgpt_base_url
    assert env["OPENAI_BASE_URL"] == fake.openai_base_url
    assert env["PIXIR_HOME"] == str(echo_runner.home)
    assert env["HOME"] == str(echo_runner.user_home) != os.environ.get("HOME")
    assert env["NO_COLOR"] == "1"
    assert "OPENAI_API_KEY" not in env  # never leaks in from the developer's shell
    assert "PYTHONDONTWRITEBYTECODE" not in env


def test_env_overrides_and_removals(echo_runner):
    result = echo_runner.run("x", env={"OPENAI_API_KEY": "sk-1", "NO_COLOR": None, "ECHO_EXIT": 3})
    assert result.code == 3
    env = echo_runner.json_out(result)["env"]
    assert env["OPENAI_API_KEY"] == "sk-1" and "NO_COLOR" not in env


def test_credentials_config_and_files(echo_runner, fake):
    path = echo_runner.login_api_key()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert json.loads(path.read_text()) == {"kind": "api_key", "api_key": fake.api_key}
    data = echo_runner.login_subscription(ttl=120)
    assert echo_runner.auth_file() == data and data["kind"] == "subscription"
    config = echo_runner.write_config({"model": "gpt-5.4"})
    assert json.loads(config.read_text()) == {"model": "gpt-5.4"}
    echo_runner.write_file("src/a.py", "print(1)\n")
    assert echo_runner.read_file("src/a.py") == "print(1)\n"


def test_log_helpers_ignore_a_torn_last_line(echo_runner):
    sessions = echo_runner.workspace / ".pixir" / "sessions"
    sessions.mkdir(parents=True)
    (sessions / "20261121T140000-aaaaaa.jsonl").write_text('{"seq":0}\n')
    (sessions / "20261121T150000-bbbbbb.jsonl").write_text('{"seq":0}\n{"seq":1}\n{"seq":2, "tor')
    assert [p.name[:15] for p in echo_runner.sessions()] == ["20261121T140000", "20261121T150000"]
    assert echo_runner.log_events() == [{"seq": 0}, {"seq": 1}]
    assert echo_runner.log_events("20261121T140000-aaaaaa") == [{"seq": 0}]


def test_json_out_fails_unless_exactly_one_object(echo_runner):
    from tests.harness import Result

    assert echo_runner.json_out(Result(0, '{"a": 1}\n', "")) == {"a": 1}
    for bad in ('{"a": 1}\n{"b": 2}\n', "[1]", "text"):
        with pytest.raises(pytest.fail.Exception):
            echo_runner.json_out(Result(0, bad, ""))
    assert echo_runner.jsonl_out(Result(0, '{"a": 1}\n\n{"b": 2}\n', "")) == [{"a": 1}, {"b": 2}]


def test_missing_executable_fails_with_the_build_hint(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("PIXIR_BIN", str(tmp_path / "nope" / "pixir"))
    runner = PixirRunner(fake, tmp_path)
    with pytest.raises(pytest.fail.Exception, match="does not name an executable"):
        runner.run("--version")
    monkeypatch.delenv("PIXIR_BIN")
    monkeypatch.setattr("tests.harness.DEFAULT_BIN", tmp_path / "dist" / "pixir")
    with pytest.raises(pytest.fail.Exception, match=r"run \./build\.sh first"):
        runner.run("--version")


def test_popen_and_spawn(echo_runner):
    proc = echo_runner.popen("bg")
    out, _ = proc.communicate(b"", timeout=20)
    assert json.loads(out)["argv"] == ["bg"]
    child = echo_runner.spawn("tty", timeout=10)
    child.sendeof()  # the stand-in reads stdin to the end before printing
    child.expect_exact('"argv": ["tty"]')
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
