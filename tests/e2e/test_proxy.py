"""`dist/pixir` behind a forwarding proxy named by the environment, as on a corporate
network (docs/reliability.md, "Proxies"): an `https://` target goes through it as a CONNECT
tunnel (over each transport), while a cleartext or loopback target — the fake — is always
reached directly, whatever HTTP_PROXY, HTTPS_PROXY or ALL_PROXY say.
"""

from __future__ import annotations

import pytest

from tests.fake_backend import step, text, tool_call
from tests.harness import closed_port
from tests.proxy import Proxy

pytestmark = pytest.mark.e2e


@pytest.fixture
def proxy():
    proxy = Proxy().start()
    yield proxy
    proxy.close()


def proxied(proxy: Proxy) -> dict[str, str]:
    return {
        "HTTP_PROXY": proxy.url,
        "HTTPS_PROXY": proxy.url,
        "ALL_PROXY": proxy.url,
        "NO_PROXY": "nothing.invalid",  # websocket-client exempts 127.0.0.1 when it is empty
    }


@pytest.mark.parametrize("transport", ["auto", "websocket", "http_sse"])
def test_a_loopback_http_base_url_is_reached_directly_never_through_the_proxy(
    pixir, fake, proxy, transport
):
    """A proxy would see the credential of a cleartext request (and cannot reach our
    loopback anyway): whatever the environment names, pixir connects directly."""
    (pixir.workspace / "notes.txt").write_text("hello\n")
    fake.script(step(tool_call("read", {"path": "notes.txt"})), step(text("It says hello.")))
    pixir.login_api_key()

    result = pixir.run(
        "what does notes.txt say?", "--transport", transport, "--json", env=proxied(proxy)
    )

    assert result.code == 0, result
    assert pixir.json_out(result)["output"] == "It says hello."
    assert len(fake.responses_requests()) == 2
    assert proxy.seen == []


@pytest.mark.parametrize("transport", ["websocket", "http_sse"])
def test_an_https_target_goes_through_the_proxy_as_a_connect_tunnel(pixir, proxy, transport):
    """The test proxy opens tunnels only to loopback, so the call fails after the CONNECT:
    what matters is that a tunnel was asked for (TLS inside it), never a forwarded request."""
    pixir.login_api_key()
    env = {**proxied(proxy), "OPENAI_BASE_URL": "https://api.example.test/v1"}
    pixir.write_config({"max_retries": 0})
    result = pixir.run("hi", "--transport", transport, env=env)
    assert result.code == 1, result
    assert proxy.seen, "the proxy was not used"
    assert all(line.startswith("CONNECT api.example.test:443 HTTP/1.") for line in proxy.seen)
    assert "error: network:" in result.stderr and "proxy" in result.stderr, result


def test_a_proxy_that_is_down_is_named_in_the_error(pixir, fake):
    pixir.login_api_key()
    pixir.write_config({"max_retries": 0})
    down = {
        "HTTPS_PROXY": f"http://127.0.0.1:{closed_port()}",
        "NO_PROXY": "nothing.invalid",
        "OPENAI_BASE_URL": "https://api.example.test/v1",
    }
    result = pixir.run("hi", "--transport", "http_sse", env=down)
    assert result.code == 1, result
    assert (
        "error: network: cannot reach api.example.test: through the proxy: connection refused"
    ) in result.stderr
    assert fake.responses_requests() == []
