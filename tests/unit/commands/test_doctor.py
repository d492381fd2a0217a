"""`pixir doctor`: every check, and no secret in any."""

import json
import os
import time

import pytest

from pixir import __version__, cli
from pixir.auth import store
from tests.unit.helpers.tokens import record


def doctor(capsys, *extra):
    code = cli.main(["doctor", "--json", *extra])
    body = json.loads(capsys.readouterr().out)
    return code, body, {c["name"]: c for c in body["checks"]}


def write_auth(home, data, mode=0o600):
    home.mkdir(parents=True, exist_ok=True)
    path = home / "auth.json"
    path.write_text(json.dumps(data))
    os.chmod(path, mode)


def subscription(expires_in_s):
    return {
        "kind": "subscription",
        "access_token": "eyJSECRET-ACCESS",
        "refresh_token": "SECRET-REFRESH",
        "account_id": "acct-1",
        "expires_at": int((time.time() + expires_in_s) * 1000),
    }


def test_no_credential_blocks(capsys, workspace):
    code, body, checks = doctor(capsys)
    assert code == 1 and body["status"] == "blocked" and body["ok"] is False
    assert set(body) == {"ok", "status", "version", "checks"} and body["version"] == __version__
    assert all(set(check) == {"name", "status", "detail"} for check in body["checks"])
    assert checks["credential"]["status"] == "fail"
    assert "pixir login" in checks["credential"]["detail"]
    for name in ("pixir", "python", "home", "workspace", "config", "model", "transport", "bash"):
        assert checks[name]["status"] == "ok", checks[name]


def test_api_key_from_environment_is_ready_and_never_printed(capsys, workspace, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret-value")
    code, body, checks = doctor(capsys)
    assert code == 0 and body["status"] == "ready"
    assert checks["credential"]["detail"] == "API key from OPENAI_API_KEY"
    assert cli.main(["doctor"]) == 0
    assert "sk-very-secret-value" not in capsys.readouterr().out


def test_subscription_expiry_shown_and_no_token(capsys, workspace, pixir_home):
    write_auth(pixir_home, subscription(3 * 3600 + 60))
    code, body, checks = doctor(capsys)
    assert code == 0 and body["status"] == "ready"
    assert "ChatGPT subscription; access token valid for 3 h" in checks["credential"]["detail"]
    assert cli.main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "SECRET" not in json.dumps(body) and "SECRET" not in out


def test_expired_token_is_a_warning_since_refresh_fixes_it(capsys, workspace, pixir_home):
    write_auth(pixir_home, subscription(-600))
    code, body, checks = doctor(capsys)
    assert code == 0 and body["status"] == "ready_with_warnings"
    assert "expired 10 min ago" in checks["credential"]["detail"]


def test_world_readable_auth_file_warns(capsys, workspace, pixir_home):
    write_auth(pixir_home, {"kind": "api_key", "api_key": "sk-x"}, mode=0o644)
    code, body, checks = doctor(capsys)
    assert code == 0 and body["status"] == "ready_with_warnings"
    assert "chmod 600" in checks["credential"]["detail"]


@pytest.mark.parametrize(
    "content", ["{not json", '{"kind": "weird"}', '{"kind": "subscription"}', "[]"]
)
def test_corrupt_auth_blocks_with_the_path(capsys, workspace, pixir_home, content):
    pixir_home.mkdir()
    (pixir_home / "auth.json").write_text(content)
    code, body, checks = doctor(capsys)
    assert code == 1 and body["status"] == "blocked"
    assert str(pixir_home / "auth.json") in checks["credential"]["detail"]


def test_invalid_config_blocks(capsys, workspace, pixir_home, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    pixir_home.mkdir()
    (pixir_home / "config.json").write_text('{"max_steps": "many"}')
    code, body, checks = doctor(capsys)
    assert code == 1 and body["status"] == "blocked"
    assert "'max_steps'" in checks["config"]["detail"]


def test_unknown_config_key_and_unknown_model(capsys, workspace, pixir_home, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    pixir_home.mkdir()
    (pixir_home / "config.json").write_text('{"colour": "blue"}')
    code, body, checks = doctor(capsys)
    assert body["status"] == "ready_with_warnings" and checks["config"]["status"] == "warn"
    code, body, checks = doctor(capsys, "-m", "gpt-0")
    assert code == 1 and checks["model"]["status"] == "fail"


def test_missing_workspace_and_bash(capsys, workspace, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    monkeypatch.setenv("PATH", "/nonexistent")
    code, _, checks = doctor(capsys, "-C", "/definitely/not/here")
    assert code == 1
    assert checks["workspace"]["status"] == "fail"
    assert checks["bash"]["status"] == "warn"


def test_human_output_lists_checks_and_status(capsys, workspace, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    assert cli.main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith("status: ready")
    assert "ok    credential  API key from OPENAI_API_KEY" in out


def test_doctor_shows_plan_and_email_of_a_subscription(capsys, workspace):
    store.save(record(1, expires_in_s=7300))
    cli.main(["doctor", "--json"])
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    detail = checks["credential"]["detail"]
    assert detail.startswith("ChatGPT subscription (plan plus, dev@example.com); access token")
    assert "rt-secret" not in detail
