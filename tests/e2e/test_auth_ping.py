"""Refresh through `dist/pixir ping` (the Provider's command): eight pings with an expiring
token make exactly one refresh; a 401 from the Responses endpoint makes one refresh and one
retry; a sign-in whose refresh token was spent elsewhere is exit 4 (docs/auth.md).

tests/e2e/test_auth_refresh.py proves the same with the Credential driven from subprocesses.
"""

from __future__ import annotations

import pytest
import requests

from tests.fake_backend import step, text, tool_call

pytestmark = pytest.mark.e2e


def test_eight_pings_with_an_expiring_token_make_exactly_one_refresh(fake, pixir):
    data = pixir.login_subscription(ttl=30)
    fake.configure(refresh_delay_s=0.5)
    fake.script(*(step(text("pong")) for _ in range(8)))
    procs = [pixir.popen("ping", "--json") for _ in range(8)]
    results = [(p.communicate(timeout=60), p.returncode) for p in procs]
    for (_, err), code in results:
        assert code == 0, err
    assert fake.refresh_count == 1 and fake.refresh_successes == 1
    calls = fake.responses_requests()
    assert len(calls) == 8 and all(c.status == 200 for c in calls)
    saved = pixir.auth_file()
    assert saved["access_token"] != data["access_token"]
    assert {c.headers["authorization"] for c in calls} == {f"Bearer {saved['access_token']}"}


def test_a_token_that_expired_mid_session_is_refreshed_before_the_call(fake, pixir):
    pixir.login_subscription(ttl=5)
    fake.script(step(text("pong")))
    result = pixir.run("ping")
    assert result.code == 0, result
    assert fake.refresh_count == 1
    [call] = fake.responses_requests()
    assert call.headers["authorization"] == f"Bearer {pixir.auth_file()['access_token']}"


def test_resolution_order_on_the_wire(fake, pixir):
    """OPENAI_API_KEY works without any login (docs/auth.md); a stored ChatGPT sign-in wins over
    it; `--auth api_key` forces the key. Proven by the Authorization the fake received."""
    env = {"OPENAI_API_KEY": fake.api_key}
    fake.script(step(text("pong")), step(text("pong")), step(text("pong")))
    alone = pixir.run("ping", "--transport", "http_sse", env=env)
    assert alone.code == 0, alone
    data = pixir.login_subscription()
    stored = pixir.run("ping", "--transport", "http_sse", env=env)
    assert stored.code == 0, stored
    forced = pixir.run("ping", "--transport", "http_sse", "--auth", "api_key", env=env)
    assert forced.code == 0, forced
    calls = fake.responses_requests()
    assert [c.headers["authorization"] for c in calls] == [
        f"Bearer {fake.api_key}",
        f"Bearer {data['access_token']}",
        f"Bearer {fake.api_key}",
    ]
    assert [c.path for c in calls] == [
        "/v1/responses",
        "/backend-api/codex/responses",
        "/v1/responses",
    ]


def test_a_token_that_expires_between_two_steps_of_a_turn_is_refreshed_before_the_second(
    fake, pixir
):
    """Mid-session for real: 65 s left when the Turn starts, so its first call goes out with
    the old token; the tool then takes 6 s, so less than 60 s are left at the second call,
    which is refreshed first (docs/auth.md: proactive refresh)."""
    data = pixir.login_subscription(ttl=65)
    fake.script(
        step(tool_call("bash", {"command": "sleep 6"}, call_id="call_1")),
        step(text("Slept.")),
    )
    result = pixir.run("sleep a bit", "--transport", "http_sse", timeout=60)
    assert result.code == 0, result
    assert result.stdout == "Slept.\n"
    assert fake.refresh_count == 1
    first, second = fake.responses_requests()
    assert first.headers["authorization"] == f"Bearer {data['access_token']}"
    saved = pixir.auth_file()
    assert saved["access_token"] != data["access_token"]
    assert second.headers["authorization"] == f"Bearer {saved['access_token']}"


@pytest.mark.parametrize("transport", ["http_sse", "auto"])
def test_a_401_from_responses_makes_one_refresh_and_one_retry(fake, pixir, transport):
    data = pixir.login_subscription(ttl=3600)
    fake.auth.access[data["access_token"]].revoked = True  # the server stops taking it
    fake.script(step(text("pong")), step(text("pong")))
    result = pixir.run("ping", "--transport", transport)
    assert result.code == 0, result
    assert fake.refresh_count == 1
    if transport == "http_sse":
        calls = fake.responses_requests()
        assert [c.status for c in calls] == [401, 200]
    else:  # over WebSocket the credential is checked at the upgrade
        calls = [r for r in fake.requests if r.kind == "ws_handshake"]
        assert [c.status for c in calls] == [401, 101]
        assert [c.status for c in fake.responses_requests()] == [200]
    assert calls[0].headers["authorization"] == f"Bearer {data['access_token']}"
    assert calls[1].headers["authorization"] == f"Bearer {pixir.auth_file()['access_token']}"


def test_a_spent_refresh_token_is_exit_4(fake, pixir):
    data = pixir.login_subscription(ttl=30)
    requests.post(
        fake.url + "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": data["refresh_token"],
            "client_id": "app_EMoamEEZ73f0CkXaXp7hrann",
        },
        timeout=10,
    ).raise_for_status()
    result = pixir.run("ping")
    assert result.code == 4, result
    assert "your ChatGPT sign-in expired (refresh_token_reused)" in result.stderr
    assert fake.responses_requests() == []
