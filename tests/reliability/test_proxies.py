"""A credential never travels in cleartext to a proxy (docs/reliability.md, "Proxies").
With HTTP_PROXY, HTTPS_PROXY and ALL_PROXY all naming a proxy — as a CI runner or a shared
shell may — every call pixir makes to a loopback `http://` base URL or issuer goes there
directly: model calls over HTTP/SSE and WebSocket with an API key and with a subscription,
the token refresh, a device login and a revoke. The proxy records every request line it
gets; it must get none (before, it received the API key, the access token and the
refresh-token grant in the clear). An `https://` target does use it, as a CONNECT tunnel
(tests/e2e/test_proxy.py).
"""

from __future__ import annotations

import pytest

from tests.fake_backend import step, text
from tests.proxy import Proxy
from tests.reliability.conftest import record

pytestmark = pytest.mark.e2e


@pytest.fixture
def proxy():
    proxy = Proxy().start()
    yield proxy
    proxy.close()


def everywhere(proxy: Proxy) -> dict[str, str]:
    names = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")
    return {**dict.fromkeys(names, proxy.url), "NO_PROXY": "nothing.invalid"}


@pytest.mark.parametrize("transport", ["http_sse", "websocket"])
@pytest.mark.parametrize("credential", ["api_key", "subscription"])
def test_model_calls_and_the_refresh_never_go_through_a_proxy(
    pixir, fake, proxy, transport, credential
):
    fake.script(step(text("direct")))
    if credential == "api_key":
        pixir.login_api_key()
    else:
        pixir.login_subscription(ttl=30)  # inside the refresh margin: refreshed first
    result = pixir.run("hi", "--transport", transport, env=everywhere(proxy))
    assert result.code == 0 and result.stdout == "direct\n", result
    assert proxy.seen == [], f"sent to the proxy: {proxy.seen}"
    if credential == "subscription":
        assert fake.refresh_count == 1
    record("proxy_attacks")


def test_device_login_and_revoke_never_go_through_a_proxy(pixir, fake, proxy):
    login = pixir.run("login", "--device", env=everywhere(proxy), timeout=60)
    assert login.code == 0, login
    assert pixir.auth_file()["kind"] == "subscription"
    logout = pixir.run("logout", "--revoke", env=everywhere(proxy))
    assert logout.code == 0, logout
    assert fake.revoked
    assert proxy.seen == [], f"sent to the proxy: {proxy.seen}"
    record("proxy_attacks", 2)
