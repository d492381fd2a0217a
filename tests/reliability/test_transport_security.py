"""A credential never goes over cleartext to a host that is not loopback (docs/architecture.md):
each of the three base URLs, and the WebSocket URL made from them, pointing at a remote
host over http:// → `insecure_transport` (exit 2) before anything is sent.

"Nothing sent" is checked from outside pixir: every pixir process here runs under the
suite's netguard (see conftest.py), which records any lookup of or connection to a host
that is not loopback. The control test shows that an https:// URL to the same kind of host
is tried — so an empty record means pixir did not even try.
"""

from __future__ import annotations

import pytest

from tests.fake_backend import step, text
from tests.reliability.conftest import record

pytestmark = pytest.mark.e2e

REMOTE = [
    "http://example.com",
    "http://10.1.2.3:8080",
    "http://localhost.example.com",
    "http://127.0.0.1.example.com",
    "http://127.0.0.1@example.com",
    "http://[::ffff:127.0.0.1]",
    "http://0.0.0.0:9",
]


def assert_refused(pixir, fake, result) -> None:
    assert result.code == 2, result
    assert "insecure_transport" in result.stdout + result.stderr, result
    assert "refusing to send a credential over cleartext" in result.stdout + result.stderr
    assert pixir.netguard_hits() == [], "pixir tried to reach the remote host"
    assert [r for r in fake.requests if r.path != "/"] == [], "something reached the fake"


@pytest.mark.parametrize("base", REMOTE)
@pytest.mark.parametrize("transport", ["http_sse", "websocket", "auto"])
def test_openai_base_url_over_cleartext_to_a_remote_host(pixir, fake, base, transport):
    pixir.login_api_key()
    env = {"OPENAI_BASE_URL": base + "/v1"}
    result = pixir.run("hello", "--transport", transport, "--json", env=env)
    assert_refused(pixir, fake, result)
    record("insecure_transport_refusals")


@pytest.mark.parametrize("transport", ["http_sse", "websocket"])
def test_chatgpt_base_url_over_cleartext_to_a_remote_host(pixir, fake, transport):
    pixir.login_subscription()
    env = {"PIXIR_CHATGPT_BASE_URL": "http://chatgpt.example.com/backend-api/codex"}
    for args in (("hello", "--transport", transport), ("ping", "--transport", transport)):
        assert_refused(pixir, fake, pixir.run(*args, env=env))
        record("insecure_transport_refusals")


def test_auth_issuer_over_cleartext_to_a_remote_host(pixir, fake):
    env = {"PIXIR_AUTH_ISSUER": "http://auth.example.com"}
    for args in (("login",), ("login", "--device"), ("login", "--browser")):
        assert_refused(pixir, fake, pixir.run(*args, env=env, stdin=b""))
        record("insecure_transport_refusals")
    # a refresh: the token is about to expire and the issuer is remote and cleartext
    before = pixir.login_subscription(ttl=30)
    for args in (("hello",), ("ping",), ("logout", "--revoke")):
        assert_refused(pixir, fake, pixir.run(*args, env=env))
        record("insecure_transport_refusals")
        if args[0] != "logout":
            assert pixir.auth_file() == before
    assert fake.refresh_count == 0


def test_the_control_an_https_remote_url_is_tried_and_caught_by_the_guard(pixir, fake):
    """Without this, an empty netguard record could mean the guard saw nothing at all."""
    pixir.login_api_key()
    pixir.write_config({"max_retries": 0})
    pixir.expect_netguard = True
    result = pixir.run("hello", env={"OPENAI_BASE_URL": "https://remote.invalid/v1"})
    assert result.code == 1 and "network" in result.stderr, result
    assert any("remote.invalid" in hit for hit in pixir.netguard_hits())


def test_loopback_over_cleartext_is_allowed(pixir, fake):
    pixir.login_api_key()
    fake.script(step(text("hi")), step(text("hi")))
    for host in ("127.0.0.1", "localhost"):
        base = f"http://{host}:{fake.port}/v1"
        result = pixir.run("hello", "--transport", "http_sse", env={"OPENAI_BASE_URL": base})
        assert result.code == 0 and result.stdout == "hi\n", result
    assert pixir.netguard_hits() == []
