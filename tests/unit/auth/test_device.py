"""Device-code sign-in with a fake clock: pacing, pending answers, slow_down, the 15-minute
limit, the disabled case, and the exchange with the server-made verifier (docs/auth.md)."""

import io
import json

import pytest
import requests
import responses

from pixir.auth import device, oauth
from pixir.errors import PixirError
from tests.unit.helpers.tokens import ISSUER, TOKEN_URL, token_response

USERCODE = ISSUER + "/api/accounts/deviceauth/usercode"
POLL = ISSUER + "/api/accounts/deviceauth/token"
PENDING = {"error": {"code": "deviceauth_authorization_pending", "message": "pending"}}
APPROVED = {"authorization_code": "ac-secret", "code_verifier": "cv-secret", "code_challenge": "c"}


class Clock:
    """monotonic() and sleep() that only move when slept."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def run_login(clock=None):
    clock = clock or Clock()
    out = io.StringIO()
    tokens = device.login(ISSUER, out=out, sleep=clock.sleep, clock=clock)
    return tokens, out.getvalue(), clock


def usercode(interval="5", field="user_code"):
    responses.post(
        USERCODE, json={"device_auth_id": "da-1", field: "ABCD-EFGH", "interval": interval}
    )


@responses.activate
def test_the_whole_flow_after_pending_polls():
    usercode(interval="3")  # a string, as the real service sends it
    responses.post(POLL, status=403, json=PENDING)
    responses.post(POLL, status=404, json=PENDING)
    responses.post(POLL, status=400, json=PENDING)  # pending by its code, whatever the status
    responses.post(POLL, json=APPROVED)
    responses.post(TOKEN_URL, json=token_response(1))
    tokens, _, clock = run_login()
    assert tokens["refresh_token"] == "rt-secret-1"
    assert clock.sleeps == [3, 3, 3, 3]
    assert json.loads(responses.calls[0].request.body) == {"client_id": oauth.CLIENT_ID}
    assert json.loads(responses.calls[1].request.body) == {
        "device_auth_id": "da-1",
        "user_code": "ABCD-EFGH",
    }
    exchange = dict(p.split("=", 1) for p in responses.calls[-1].request.body.split("&"))
    assert exchange["grant_type"] == "authorization_code"
    assert exchange["code"] == "ac-secret"
    # the server's verifier (quirk 2 in docs/provider.md)
    assert exchange["code_verifier"] == "cv-secret"
    assert exchange["client_id"] == oauth.CLIENT_ID
    assert requests.utils.unquote(exchange["redirect_uri"]) == ISSUER + "/deviceauth/callback"


@responses.activate
def test_instructions_read_well_over_ssh():
    usercode()
    responses.post(POLL, json=APPROVED)
    responses.post(TOKEN_URL, json=token_response(1))
    _, text, _ = run_login()
    lines = text.splitlines()
    assert ISSUER + "/codex/device" in lines  # the URL alone on its line
    assert "ABCD-EFGH" in lines  # the code alone on its line
    assert "expires in 15 minutes" in text
    assert "Never share this code" in text and "phishing" in text
    assert "\x1b[" not in text  # no colour codes to garble a copy-paste


@responses.activate
def test_older_servers_usercode_field_and_int_interval():
    usercode(interval=2, field="usercode")
    responses.post(POLL, json=APPROVED)
    responses.post(TOKEN_URL, json=token_response(1))
    _, text, clock = run_login()
    assert "ABCD-EFGH" in text.splitlines() and clock.sleeps == [2]


@responses.activate
def test_slow_down_adds_five_seconds():
    usercode(interval="1")
    responses.post(POLL, status=403, json=PENDING)
    responses.post(POLL, status=400, json={"error": {"code": "slow_down", "message": "slow"}})
    responses.post(POLL, status=403, json=PENDING)
    responses.post(POLL, json=APPROVED)
    responses.post(TOKEN_URL, json=token_response(1))
    _, _, clock = run_login()
    assert clock.sleeps == [1, 1, 6, 6]


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("5", 5),
        (" 7 ", 7),
        (3, 3),
        ("0.5", 0.5),
        (None, 5),
        ("", 5),
        ("soon", 5),
        ("0", 5),
        (-1, 5),
        (True, 5),
        ("nan", 5),
        (10**9, 5),
    ],
)
def test_interval_parsing(value, seconds):
    assert device.parse_interval(value) == seconds


@responses.activate
def test_gives_up_after_15_minutes():
    usercode(interval="5")
    responses.post(POLL, status=403, json=PENDING)
    with pytest.raises(PixirError) as info:
        run_login()
    assert info.value.kind == "login_timeout" and info.value.exit_code == 4
    assert "15 minutes" in info.value.message
    polls = [c for c in responses.calls if c.request.url == POLL]
    assert len(polls) == 180  # 900 s / 5 s, and not one more


@responses.activate
def test_device_code_disabled_says_how_to_enable_it():
    responses.post(USERCODE, status=404, json={"error": {"code": "not_found"}})
    with pytest.raises(PixirError) as info:
        run_login()
    err = info.value
    assert err.kind == "device_code_unsupported" and err.exit_code == 4
    assert "Security" in err.message and "admin" in err.message
    assert "pixir login --browser" in err.hint


@responses.activate
def test_network_blips_and_5xx_while_polling_do_not_end_the_login():
    usercode(interval="1")
    responses.post(POLL, body=requests.ConnectionError("reset"))
    responses.post(POLL, status=502, json={"detail": "bad gateway"})
    responses.post(POLL, json=APPROVED)
    responses.post(TOKEN_URL, json=token_response(1))
    tokens, _, clock = run_login()
    assert tokens and clock.sleeps == [1, 1, 1]


@responses.activate
@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (400, {"error": {"code": "access_denied", "message": "denied"}}, "login_failed"),
        (400, {"error": {"code": "deviceauth_expired", "message": "expired"}}, "login_timeout"),
        (200, {"authorization_code": "ac"}, "invalid_response"),
    ],
)
def test_poll_failures(status, body, kind):
    usercode(interval="1")
    responses.post(POLL, status=status, json=body)
    with pytest.raises(PixirError) as info:
        run_login()
    assert info.value.kind == kind and info.value.exit_code in (1, 4)


@responses.activate
def test_a_refused_exchange_is_login_failed():
    usercode(interval="1")
    responses.post(POLL, json=APPROVED)
    responses.post(TOKEN_URL, status=400, json={"error": {"code": "invalid_grant"}})
    with pytest.raises(PixirError) as info:
        run_login()
    assert info.value.kind == "login_failed"


def test_ctrl_c_while_waiting_propagates_at_once():
    clock = Clock()

    def interrupted(seconds):
        raise KeyboardInterrupt

    with responses.RequestsMock() as mock:
        mock.post(USERCODE, json={"device_auth_id": "d", "user_code": "C", "interval": "5"})
        with pytest.raises(KeyboardInterrupt):
            device.login(ISSUER, out=io.StringIO(), sleep=interrupted, clock=clock)
