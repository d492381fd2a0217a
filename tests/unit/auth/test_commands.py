"""`pixir login --with-api-key`, `status` and `logout` in-process (the OAuth flows run
end to end in tests/e2e/test_auth*.py)."""

import io
import json

import pytest
import responses

from pixir import cli
from pixir.auth import store
from tests.unit.auth.tokens import ISSUER, record


class FakeStdin(io.StringIO):
    def isatty(self):
        return False


def login_with_key(monkeypatch, capsys, text, *flags):
    monkeypatch.setattr("sys.stdin", FakeStdin(text))
    code = cli.main(["login", "--with-api-key", *flags])
    return code, capsys.readouterr()


def test_api_key_from_stdin_is_stored_privately(monkeypatch, capsys, pixir_home):
    code, out = login_with_key(monkeypatch, capsys, "sk-from-stdin\n")
    assert code == 0 and out.out == ""
    assert store.load() == {"kind": "api_key", "api_key": "sk-from-stdin"}
    assert (pixir_home / "auth.json").stat().st_mode & 0o777 == 0o600
    assert "sk-from-stdin" not in out.err


def test_api_key_login_json_is_one_object(monkeypatch, capsys, pixir_home):
    code, out = login_with_key(monkeypatch, capsys, "sk-1", "--json")
    assert code == 0
    assert json.loads(out.out) == {
        "ok": True,
        "kind": "api_key",
        "path": str(pixir_home / "auth.json"),
    }


@pytest.mark.parametrize("text", ["", "  \n", "sk-1 sk-2"])
def test_no_or_odd_key_on_stdin_is_invalid_arguments(monkeypatch, capsys, text):
    code, out = login_with_key(monkeypatch, capsys, text)
    assert code == 2 and "invalid_arguments" in out.err
    assert store.load() is None


def test_the_key_is_never_an_argument(capsys):
    assert cli.main(["login", "--with-api-key", "sk-argv"]) == 2  # argparse refuses it


def test_status_of_a_subscription_shows_facts_and_no_secret(capsys, pixir_home):
    rec = record(1, expires_in_s=3600, account_id="acct-s")
    store.save(rec)
    assert cli.main(["status", "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["ok"] is True and body["kind"] == "subscription"
    assert body["account_id"] == "acct-s" and body["plan"] == "plus"
    assert body["email"] == "dev@example.com"
    assert 3500 < body["expires_in_s"] <= 3600 and body["expires_at"].endswith("Z")
    assert body["expired"] is False and body["home"] == str(pixir_home)
    assert cli.main(["status"]) == 0
    human = capsys.readouterr().out
    assert "acct-s" in human and "valid for 59 min" in human and str(pixir_home) in human
    for secret in (rec["access_token"], rec["refresh_token"]):
        assert secret not in json.dumps(body) and secret not in human


def test_status_of_an_expired_token(capsys):
    store.save(record(1, expires_in_s=-600))
    assert cli.main(["status"]) == 0
    assert "expired 10 min ago" in capsys.readouterr().out


def test_status_of_an_api_key_never_shows_it(capsys, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-secret")
    assert cli.main(["status", "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["kind"] == "api_key" and body["source"] == "env"
    assert cli.main(["status"]) == 0
    out = capsys.readouterr().out
    assert "OPENAI_API_KEY" in out and "sk-env-secret" not in out + json.dumps(body)


def test_status_without_credential_is_exit_4(capsys):
    assert cli.main(["status"]) == 4
    assert "not_authenticated" in capsys.readouterr().err
    assert cli.main(["status", "--json"]) == 4
    assert json.loads(capsys.readouterr().out)["error"]["kind"] == "not_authenticated"


@responses.activate
def test_logout_removes_the_file_and_calls_nobody(capsys, pixir_home):
    store.save(record(1))
    assert cli.main(["logout"]) == 0
    assert not (pixir_home / "auth.json").exists()
    assert "Signed out" in capsys.readouterr().err
    assert not responses.calls
    assert cli.main(["logout", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["removed"] is False


def test_logout_without_a_home_creates_nothing(capsys, pixir_home):
    assert cli.main(["logout"]) == 0
    assert not pixir_home.exists()


def test_logout_removes_tokens_a_first_login_killed_mid_save_left(capsys, pixir_home):
    pixir_home.mkdir(mode=0o700)
    leftover = pixir_home / ".auth.json.4194301.tmp"
    leftover.write_text(json.dumps(record(1)))
    assert cli.main(["logout"]) == 0
    assert not leftover.exists()
    assert not (pixir_home / "auth.json").exists()


@responses.activate
def test_logout_revoke_revokes_the_refresh_token(capsys, monkeypatch):
    monkeypatch.setenv("PIXIR_AUTH_ISSUER", ISSUER)
    store.save(record(1))
    responses.post(ISSUER + "/oauth/revoke", json={})
    assert cli.main(["logout", "--revoke", "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body == {
        "ok": True,
        "removed": True,
        "kind": "subscription",
        "revoked": True,
        "path": body["path"],
    }
    assert "token=rt-secret-1" in responses.calls[0].request.body
    assert store.load() is None


@responses.activate
def test_a_failed_revoke_still_signs_out_locally(capsys, monkeypatch):
    monkeypatch.setenv("PIXIR_AUTH_ISSUER", ISSUER)
    store.save(record(1))
    responses.post(ISSUER + "/oauth/revoke", status=503, json={"error": {"message": "down"}})
    assert cli.main(["logout", "--revoke"]) == 1
    err = capsys.readouterr().err
    assert "signed out on this machine, but the revoke failed" in err
    assert store.load() is None


def test_logout_removes_a_corrupt_file(capsys, pixir_home):
    pixir_home.mkdir()
    (pixir_home / "auth.json").write_text("{broken")
    assert cli.main(["logout"]) == 0
    assert not (pixir_home / "auth.json").exists()


def test_logout_mentions_a_remaining_environment_key(capsys, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    store.save({"kind": "api_key", "api_key": "sk-stored"})
    assert cli.main(["logout"]) == 0
    assert "OPENAI_API_KEY is still set" in capsys.readouterr().err


def test_doctor_shows_plan_and_email_of_a_subscription(capsys, workspace):
    store.save(record(1, expires_in_s=7300))
    cli.main(["doctor", "--json"])
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    detail = checks["credential"]["detail"]
    assert detail.startswith("ChatGPT subscription (plan plus, dev@example.com); access token")
    assert "rt-secret" not in detail


def test_login_refuses_a_cleartext_remote_issuer_before_starting(capsys, monkeypatch):
    monkeypatch.setenv("PIXIR_AUTH_ISSUER", "http://auth.example.test")
    assert cli.main(["login"]) == 2
    assert "insecure_transport" in capsys.readouterr().err
