"""`pixir status`: the credential's facts, never its secret."""

import json

from pixir import cli
from pixir.auth import store
from tests.unit.helpers.tokens import record


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
