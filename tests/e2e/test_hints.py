"""Hints that are true for the case at hand, through the built dist/pixir against the fake
backend: the next step a hint names must be one that helps this user now (an API key's
usage limit is in tests/e2e/test_provider.py, `--ask` without a terminal in test_agent.py)."""

from __future__ import annotations

import pytest

from tests.fake_backend import http_error, stall, step, text
from tests.harness import closed_port

pytestmark = pytest.mark.e2e

BAD_REQUEST = {"error": {"message": "bad request", "type": "invalid_request_error", "code": None}}


def test_auth_subscription_without_a_sign_in_never_points_at_the_api_key(pixir, fake):
    # an API key is right there in the environment, but --auth subscription asked for a
    # ChatGPT sign-in: only `pixir login` helps
    result = pixir.run("--auth", "subscription", "hi", env={"OPENAI_API_KEY": fake.api_key})
    assert result.code == 4, result
    assert "no ChatGPT sign-in for --auth subscription" in result.stderr
    assert "hint: run `pixir login` to sign in with ChatGPT" in result.stderr
    assert "OPENAI_API_KEY" not in result.stderr
    assert fake.requests == [] and not (pixir.workspace / ".pixir").exists()
    # the same in preview's note
    preview = pixir.run("preview", "--auth", "subscription", env={"OPENAI_API_KEY": "x"})
    assert preview.code == 0, preview
    assert "OPENAI_API_KEY" not in preview.stderr and "pixir login" in preview.stderr


def test_a_refused_stored_key_is_named_as_the_stored_one(pixir, fake):
    pixir._write_private("auth.json", {"kind": "api_key", "api_key": "sk-not-the-fakes-key"})
    result = pixir.run("hi", env={"OPENAI_API_KEY": fake.api_key})
    assert result.code == 4, result
    hint = next(line for line in result.stderr.splitlines() if line.startswith("hint: "))
    assert f"the key stored in {pixir.home / 'auth.json'} was refused" in hint
    assert "check OPENAI_API_KEY" not in result.stderr  # it was not the key sent


def test_a_new_session_that_failed_before_any_answer_offers_nothing_to_continue(pixir, fake):
    pixir.login_api_key()
    result = pixir.run("hi", env={"OPENAI_BASE_URL": f"http://127.0.0.1:{closed_port()}/v1"})
    assert result.code == 1, result
    assert "continue with" not in result.stderr and "pixir resume" not in result.stderr
    sid = pixir.sessions()[-1].stem
    assert result.stderr.splitlines()[-1] == f"session {sid} · no answer, nothing to continue"
    # a server that answers with an error: no answer either
    fake.script(step(fault=http_error(400, BAD_REQUEST)))
    refused = pixir.run("hi again")
    assert refused.code == 1, refused
    assert "continue with" not in refused.stderr
    # once the session has an answer, a later failure can be continued
    fake.script(step(text("hello")))
    assert pixir.run("resume", sid, "once more").code == 0
    fake.script(step(fault=http_error(400, BAD_REQUEST)))
    later = pixir.run("resume", sid, "and again")
    assert f"continue with: pixir resume {sid}" in later.stderr


def test_the_stall_hint_names_the_config_file_with_its_path(pixir, fake):
    pixir.login_api_key()
    config = pixir.write_config({"stream_idle_timeout_ms": 300, "max_retries": 0})
    fake.script(step(text("slow"), fault=stall(5, after_events=2)))
    result = pixir.run("--transport", "http_sse", "hi")
    assert result.code == 124, result
    assert f"hint: raise stream_idle_timeout_ms in {config} if the model needs longer" in (
        result.stderr
    )


def test_login_with_nothing_on_stdin_does_not_suggest_an_empty_variable(pixir, fake):
    result = pixir.run("login", "--with-api-key", stdin="")
    assert result.code == 2, result
    assert "printenv" not in result.stderr
    assert "pixir login --with-api-key < key.txt" in result.stderr
    result = pixir.run("login", "--with-api-key", stdin="", env={"OPENAI_API_KEY": "sk-x"})
    assert "hint: printenv OPENAI_API_KEY | pixir login --with-api-key" in result.stderr
