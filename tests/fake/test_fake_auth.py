"""The fake issuer (docs/auth.md): device code, browser authorize + PKCE, token exchange, refresh
rotation, revoke, and the JWTs it mints."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
import urllib.parse

import jwt
import pytest
import requests

from tests.fake.fakeclient import body, post, stream_events, sub_headers, types
from tests.fake_backend import step, text

CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann"


def usercode(fake, client_id: str = CLIENT_ID):
    return requests.post(
        fake.url + "/api/accounts/deviceauth/usercode", json={"client_id": client_id}, timeout=5
    )


def poll(fake, device: dict):
    data = {"device_auth_id": device["device_auth_id"], "user_code": device["user_code"]}
    return requests.post(fake.url + "/api/accounts/deviceauth/token", json=data, timeout=5)


def token(fake, **form):
    return requests.post(fake.url + "/oauth/token", data=form, timeout=5)


def pkce() -> tuple[str, str]:
    verifier = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def claims(token_str: str) -> dict:
    return jwt.decode(token_str, options={"verify_signature": False})


# -- device code (quirks 1, 2 in docs/provider.md; docs/auth.md) -------------------------------


def test_device_flow_pending_then_success_then_exchange(fake):
    fake.configure(pending_polls=3)
    resp = usercode(fake)
    assert resp.status_code == 200
    device = resp.json()
    assert set(device) == {"device_auth_id", "user_code", "interval"}
    assert device["interval"] == "1" and isinstance(device["interval"], str)

    statuses = [poll(fake, device) for _ in range(3)]
    assert [r.status_code for r in statuses] == [403, 404, 403]  # pending, as the real service
    assert all(r.json()["error"]["code"] == "deviceauth_authorization_pending" for r in statuses)

    done = poll(fake, device)
    assert done.status_code == 200
    answer = done.json()
    assert set(answer) == {"authorization_code", "code_challenge", "code_verifier"}
    # the server made the PKCE pair: the challenge is S256 of the verifier it returned
    digest = hashlib.sha256(answer["code_verifier"].encode()).digest()
    assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == answer["code_challenge"]

    tokens = token(
        fake,
        grant_type="authorization_code",
        code=answer["authorization_code"],
        redirect_uri=fake.issuer_url + "/deviceauth/callback",
        client_id=CLIENT_ID,
        code_verifier=answer["code_verifier"],
    )
    assert tokens.status_code == 200, tokens.text
    data = tokens.json()
    assert {"access_token", "refresh_token", "id_token", "expires_in"} <= set(data)
    assert [p.status for p in fake.device_polls] == [403, 404, 403, 200]
    # the fresh access token works on the Responses path
    fake.script(step(text("signed in")))
    resp = post(fake, body(), headers=sub_headers(fake, data))
    assert types(stream_events(resp))[-1] == "response.completed"


def test_device_exchange_checks_redirect_uri_and_verifier(fake):
    fake.configure(pending_polls=0)
    device = usercode(fake).json()
    answer = poll(fake, device).json()
    common = {"grant_type": "authorization_code", "client_id": CLIENT_ID}
    wrong_redirect = token(
        fake,
        **common,
        code=answer["authorization_code"],
        redirect_uri="http://localhost:1455/auth/callback",
        code_verifier=answer["code_verifier"],
    )
    assert wrong_redirect.status_code == 400
    assert wrong_redirect.json()["error"]["code"] == "invalid_grant"
    wrong_verifier = token(
        fake,
        **common,
        code=answer["authorization_code"],
        redirect_uri=fake.issuer_url + "/deviceauth/callback",
        code_verifier="not-the-verifier",
    )
    assert wrong_verifier.status_code == 400


def test_device_interval_and_field_name_are_configurable(fake):
    fake.configure(device_interval=0, usercode_field="usercode")
    device = usercode(fake).json()
    assert device["interval"] == "0" and "usercode" in device and "user_code" not in device


def test_device_slow_down_then_pending_then_success(fake):
    fake.configure(device_mode="slow_down", pending_polls=1)
    device = usercode(fake).json()
    first = poll(fake, device)
    assert first.status_code == 400
    assert first.json()["error"]["code"] == "slow_down"
    assert poll(fake, device).status_code == 403
    assert poll(fake, device).status_code == 200
    polls = fake.device_polls
    assert [p.code for p in polls] == ["slow_down", "deviceauth_authorization_pending", None]
    # timestamps let a test check the client's pacing without the fake imposing any
    assert polls[0].monotonic <= polls[1].monotonic <= polls[2].monotonic


def test_device_disabled_is_404(fake):
    fake.configure(device_mode="disabled")
    assert usercode(fake).status_code == 404


def test_device_wrong_client_id(fake):
    resp = usercode(fake, client_id="someone-else")
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "invalid_client"


def test_device_poll_with_unknown_id_fails_loudly(fake):
    resp = poll(fake, {"device_auth_id": "deviceauth_nope", "user_code": "X"})
    assert resp.status_code == 400


# -- browser authorize (docs/auth.md) ----------------------------------------------------------


def authorize_params(challenge: str, **over) -> dict:
    params = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": "http://localhost:1455/auth/callback",
        "scope": "openid profile email offline_access",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": "st-" + secrets.token_hex(8),
        "id_token_add_organizations": "true",
        "codex_cli_simplified_flow": "true",
        "originator": "pixir",
    }
    params.update(over)
    return {k: v for k, v in params.items() if v is not None}


def authorize(fake, params: dict):
    return requests.get(
        fake.url + "/oauth/authorize", params=params, allow_redirects=False, timeout=5
    )


def test_authorize_redirects_with_code_and_same_state_then_exchange(fake):
    verifier, challenge = pkce()
    params = authorize_params(challenge)
    resp = authorize(fake, params)
    assert resp.status_code == 302
    location = urllib.parse.urlsplit(resp.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == params["redirect_uri"]
    query = dict(urllib.parse.parse_qsl(location.query))
    assert query["state"] == params["state"]
    code = query["code"]

    bad = token(
        fake,
        grant_type="authorization_code",
        code=code,
        redirect_uri=params["redirect_uri"],
        client_id=CLIENT_ID,
        code_verifier=pkce()[0],  # someone else's verifier
    )
    assert bad.status_code == 400 and "code_verifier" in bad.json()["error"]["message"]
    good = token(
        fake,
        grant_type="authorization_code",
        code=code,
        redirect_uri=params["redirect_uri"],
        client_id=CLIENT_ID,
        code_verifier=verifier,
    )
    assert good.status_code == 200
    again = token(
        fake,
        grant_type="authorization_code",
        code=code,
        redirect_uri=params["redirect_uri"],
        client_id=CLIENT_ID,
        code_verifier=verifier,
    )
    assert again.status_code == 400  # a code is single-use
    assert code in fake.secrets() and verifier in fake.secrets()


@pytest.mark.parametrize(
    "override",
    [
        {"state": None},
        {"code_challenge": None},
        {"code_challenge_method": "plain"},
        {"codex_cli_simplified_flow": None},
        {"id_token_add_organizations": None},
        {"originator": None},
        {"scope": "openid"},
        {"response_type": "token"},
        {"client_id": "other"},
        {"redirect_uri": "http://evil.example/auth/callback"},
    ],
)
def test_authorize_refuses_incomplete_requests(fake, override):
    resp = authorize(fake, authorize_params(pkce()[1], **override))
    assert resp.status_code == 400
    assert "invalid_request" in resp.text


def test_authorize_accepts_a_test_port_unless_strict(fake):
    params = authorize_params(pkce()[1], redirect_uri="http://localhost:52345/auth/callback")
    assert authorize(fake, params).status_code == 302
    fake.configure(strict_redirect_ports=True)
    assert authorize(fake, params).status_code == 400


def test_authorize_error_redirect(fake):
    fake.configure(authorize_error="access_denied")
    params = authorize_params(pkce()[1])
    resp = authorize(fake, params)
    assert resp.status_code == 302
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(resp.headers["Location"]).query))
    assert query["error"] == "access_denied"
    assert query["state"] == params["state"]
    assert "code" not in query


# -- refresh (quirk 3 in docs/provider.md; docs/auth.md) ---------------------------------------


def refresh(fake, refresh_token: str, as_json: bool = False):
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": CLIENT_ID}
    if as_json:
        return requests.post(fake.url + "/oauth/token", json=data, timeout=10)
    return token(fake, **data)


def test_refresh_rotates_both_tokens_and_reuse_fails(fake):
    first = fake.mint_tokens()
    resp = refresh(fake, first["refresh_token"])
    assert resp.status_code == 200
    second = resp.json()
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    reused = refresh(fake, first["refresh_token"])
    assert reused.status_code == 401
    assert reused.json()["error"]["code"] == "refresh_token_reused"
    assert refresh(fake, second["refresh_token"], as_json=True).status_code == 200  # JSON too
    assert fake.refresh_count == 3 and fake.refresh_successes == 2


def test_refresh_with_unknown_or_revoked_token(fake):
    assert refresh(fake, "rt_made_up").status_code == 401
    tokens = fake.mint_tokens()
    resp = requests.post(fake.url + "/oauth/revoke", data={"token": tokens["refresh_token"]})
    assert resp.status_code == 200
    assert fake.revoked == [tokens["refresh_token"]]
    revoked = refresh(fake, tokens["refresh_token"])
    assert revoked.status_code == 401
    assert revoked.json()["error"]["code"] == "refresh_token_invalidated"


def test_refresh_faults_are_consumed_in_order(fake):
    fake.configure(refresh_faults=[{"status": 503}, {"code": "refresh_token_expired"}])
    tokens = fake.mint_tokens()
    assert refresh(fake, tokens["refresh_token"]).status_code == 503
    expired = refresh(fake, tokens["refresh_token"])
    assert expired.status_code == 401
    assert expired.json()["error"]["code"] == "refresh_token_expired"
    assert refresh(fake, tokens["refresh_token"]).status_code == 200


def test_concurrent_refreshes_of_one_token_have_exactly_one_winner(fake):
    fake.configure(refresh_delay_s=0.2)
    tokens = fake.mint_tokens()
    results: list[int] = []
    lock = threading.Lock()

    def worker():
        status = refresh(fake, tokens["refresh_token"]).status_code
        with lock:
            results.append(status)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(results) == [200] + [401] * 7
    assert fake.refresh_count == 8


def test_refreshed_token_works_and_old_access_token_keeps_its_expiry(fake):
    fake.script(step(text("a")), step(text("b")))
    first = fake.mint_tokens(ttl=600)
    second = refresh(fake, first["refresh_token"]).json()
    assert post(fake, body(), headers=sub_headers(fake, second)).status_code == 200
    assert post(fake, body(), headers=sub_headers(fake, first)).status_code == 200


# -- tokens -----------------------------------------------------------------------------------


def test_access_token_claims(fake):
    tokens = fake.mint_tokens(ttl=1234, account_id="acct-42", plan="pro", email="me@example.org")
    access = claims(tokens["access_token"])
    now = time.time()
    assert abs(access["exp"] - (now + 1234)) < 5 and access["iat"] <= now + 1
    auth = access["https://api.openai.com/auth"]
    assert auth["chatgpt_account_id"] == "acct-42" and auth["chatgpt_plan_type"] == "pro"
    assert auth["chatgpt_user_id"]
    assert access["https://api.openai.com/profile"]["email"] == "me@example.org"
    assert access["email"] == "me@example.org"
    ident = claims(tokens["id_token"])
    assert ident["https://api.openai.com/auth"]["chatgpt_account_id"] == "acct-42"
    assert ident["email"] == "me@example.org"
    assert tokens["expires_in"] == 1234


def test_jwt_payloads_need_padding_re_added(fake):
    """A client that decodes JWT payloads without re-adding '=' padding must break."""
    for _ in range(5):
        tokens = fake.mint_tokens()
        for tok in (tokens["access_token"], tokens["id_token"]):
            payload = tok.split(".")[1]
            assert len(payload) % 4 != 0
            with pytest.raises(ValueError):
                base64.urlsafe_b64decode(payload)
            padded = payload + "=" * (-len(payload) % 4)
            assert "exp" in json.loads(base64.urlsafe_b64decode(padded))


def test_auth_json_matches_the_documented_shape(fake):
    data = fake.auth_json(ttl=100)
    assert data["kind"] == "subscription"
    assert {
        "access_token",
        "refresh_token",
        "id_token",
        "expires_at",
        "account_id",
        "obtained_at",
        "last_refresh",
    } <= set(data)
    assert abs(data["expires_at"] - (time.time() + 100) * 1000) < 5000  # epoch milliseconds
    assert data["account_id"] == fake.settings.account_id
    assert data["obtained_at"].endswith("Z")
    assert refresh(fake, data["refresh_token"]).status_code == 200


def test_secrets_cover_everything_issued(fake):
    tokens = fake.mint_tokens()
    issued = fake.secrets()
    assert {tokens["access_token"], tokens["refresh_token"], tokens["id_token"]} <= issued
    assert fake.api_key in issued


def test_device_and_callback_pages_exist(fake):
    for path in ("/codex/device", "/deviceauth/callback"):
        assert requests.get(fake.url + path, timeout=5).status_code == 200
    assert requests.get(fake.url + "/nowhere", timeout=5).status_code == 404
