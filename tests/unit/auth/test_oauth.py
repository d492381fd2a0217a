"""The token endpoint: token answers → auth.json records, refresh failures → error kinds,
cleartext refused, and the wire log never shows a secret (docs/auth.md, docs/architecture.md)."""

import time

import pytest
import requests
import responses

from pixir.auth import oauth
from pixir.errors import PixirError
from tests.unit.helpers.tokens import ISSUER, TOKEN_URL, make_jwt, token_response


def test_record_from_a_login_answer():
    tokens = token_response(1, expires_in=600, account_id="acct-7")
    rec = oauth.record_from_tokens(tokens, now=1_700_000_000)
    assert rec["kind"] == "subscription" and rec["account_id"] == "acct-7"
    assert rec["access_token"] == tokens["access_token"]
    assert rec["refresh_token"] == tokens["refresh_token"]
    assert rec["id_token"] == tokens["id_token"]
    assert rec["expires_at"] == (1_700_000_000 + 600) * 1000
    assert rec["obtained_at"] == rec["last_refresh"] == "2023-11-14T22:13:20Z"


def test_a_refresh_keeps_what_the_answer_omits():
    first = oauth.record_from_tokens(token_response(1), now=1_700_000_000)
    answer = token_response(2)
    del answer["id_token"]
    rec = oauth.record_from_tokens(answer, previous=first, now=1_700_000_100)
    assert rec["id_token"] == first["id_token"]
    assert rec["obtained_at"] == first["obtained_at"]
    assert rec["last_refresh"] == "2023-11-14T22:15:00Z"
    assert rec["refresh_token"] == "rt-secret-2"


def test_expiry_falls_back_to_the_token_exp_claim():
    answer = token_response(1, exp=1_700_000_500)
    del answer["expires_in"]
    assert oauth.record_from_tokens(answer, now=1_700_000_000)["expires_at"] == 1_700_000_500_000


def test_account_id_falls_back_to_the_id_token():
    answer = token_response(1, account_id=None)
    answer["id_token"] = make_jwt({"https://api.openai.com/auth": {"chatgpt_account_id": "idacc"}})
    assert oauth.record_from_tokens(answer)["account_id"] == "idacc"


def test_no_account_id_anywhere_is_not_authenticated():
    answer = token_response(1, account_id=None)
    answer["id_token"] = make_jwt({"email": "x@y"})
    with pytest.raises(PixirError) as info:
        oauth.record_from_tokens(answer)
    assert info.value.kind == "not_authenticated" and info.value.exit_code == 4
    assert "chatgpt_account_id" in info.value.message


@responses.activate
@pytest.mark.parametrize("missing", ["access_token", "refresh_token"])
def test_a_token_answer_without_a_token_is_invalid_response(missing):
    answer = token_response(1)
    del answer[missing]
    responses.post(TOKEN_URL, json=answer)
    with pytest.raises(PixirError) as info:
        oauth.refresh(ISSUER, "rt-secret-1")
    assert info.value.kind == "invalid_response" and missing in info.value.message


@responses.activate
def test_refresh_sends_the_form_and_returns_the_new_pair():
    responses.post(TOKEN_URL, json=token_response(2))
    assert oauth.refresh(ISSUER, "rt-secret-1")["refresh_token"] == "rt-secret-2"
    sent = responses.calls[0].request
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert dict(p.split("=") for p in sent.body.split("&")) == {
        "grant_type": "refresh_token",
        "refresh_token": "rt-secret-1",
        "client_id": oauth.CLIENT_ID,
    }


@responses.activate
@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (401, {"error": {"code": "refresh_token_reused", "message": "used"}}, "reused"),
        (401, {"error": {"code": "refresh_token_expired"}}, "refresh_token_expired"),
        (401, {"error": {"code": "refresh_token_invalidated"}}, "invalidated"),
        (400, {"error": "invalid_grant", "error_description": "bad"}, "invalid_grant"),
        (401, {"detail": "Unauthorized"}, "expired"),
    ],
)
def test_permanent_refresh_failures_say_run_pixir_login(status, body, reason):
    responses.post(TOKEN_URL, status=status, json=body)
    with pytest.raises(PixirError) as info:
        oauth.refresh(ISSUER, "rt-secret-1")
    err = info.value
    assert err.kind == "not_authenticated" and err.exit_code == 4 and not err.retryable
    assert "your ChatGPT sign-in expired" in err.message and "pixir login" in err.message
    assert reason in err.message
    assert "rt-secret-1" not in err.message + repr(err) + str(err.details)


@responses.activate
@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_on_refresh_are_retryable(status):
    responses.post(TOKEN_URL, status=status, json={"error": {"message": "oops"}})
    with pytest.raises(PixirError) as info:
        oauth.refresh(ISSUER, "rt-secret-1")
    assert info.value.kind == "provider_http_error" and info.value.retryable


@responses.activate
def test_network_failure_on_refresh_is_retryable_network():
    responses.post(TOKEN_URL, body=requests.ConnectionError("refused"))
    with pytest.raises(PixirError) as info:
        oauth.refresh(ISSUER, "rt-secret-1")
    assert info.value.kind == "network" and info.value.retryable


@responses.activate
def test_tokens_are_never_sent_in_cleartext_to_a_remote_issuer():
    with pytest.raises(PixirError) as info:
        oauth.refresh("http://auth.example.test", "rt-secret-1")
    assert info.value.kind == "insecure_transport" and info.value.exit_code == 2
    assert not responses.calls


@responses.activate
def test_plain_http_to_loopback_is_allowed():
    responses.post("http://127.0.0.1:9/oauth/token", json=token_response(3))
    assert oauth.refresh("http://127.0.0.1:9", "rt-secret-1")["refresh_token"] == "rt-secret-3"


@responses.activate
def test_the_debug_wire_log_redacts_every_secret(monkeypatch, capsys):
    monkeypatch.setenv("PIXIR_DEBUG", "1")
    answer = token_response(4)
    responses.post(TOKEN_URL, json=answer)
    responses.post(ISSUER + "/oauth/revoke", json={})
    oauth.exchange_code(ISSUER, "code-secret", "verifier-secret", ISSUER + "/cb")
    oauth.refresh(ISSUER, "rt-secret-1")
    oauth.revoke(ISSUER, "rt-secret-9")
    err = capsys.readouterr().err
    assert err.count("[pixir debug] POST") == 3 and "-> 200" in err
    for secret in (
        "code-secret",
        "verifier-secret",
        "rt-secret-1",
        "rt-secret-9",
        answer["access_token"],
        answer["refresh_token"],
        answer["id_token"],
    ):
        assert secret not in err


@responses.activate
def test_exchange_refusal_is_login_failed():
    responses.post(TOKEN_URL, status=400, json={"error": {"code": "invalid_grant", "message": "m"}})
    with pytest.raises(PixirError) as info:
        oauth.exchange_code(ISSUER, "code-secret", "verifier-secret", ISSUER + "/cb")
    assert info.value.kind == "login_failed" and info.value.exit_code == 4
    assert "code-secret" not in info.value.message


def test_iso_utc():
    assert oauth.iso_utc(0) == "1970-01-01T00:00:00Z"
    assert oauth.iso_utc(time.time()).endswith("Z")
