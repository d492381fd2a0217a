"""`pixir logout` in-process (the OAuth flows run end to end in tests/e2e/test_auth*.py)."""

import json

import responses

from pixir import cli
from pixir.auth import store
from tests.unit.helpers.tokens import ISSUER, record


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
