"""`dist/pixir` behind a forwarding proxy named by the environment, as on a corporate
network: every byte of a Turn goes through it, over each transport.

The fake is plain http:// on loopback, so the variable at work is HTTP_PROXY; against the
real https:// endpoints both libraries read HTTPS_PROXY by the same code, keyed by scheme.
NO_PROXY is set to something else because websocket-client, unlike requests, bypasses the
proxy for 127.0.0.1 when NO_PROXY is empty.
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
    return {"HTTP_PROXY": proxy.url, "NO_PROXY": "nothing.invalid"}


@pytest.mark.parametrize("transport", ["auto", "websocket", "http_sse"])
def test_a_whole_turn_goes_through_the_proxy(pixir, fake, proxy, transport):
    (pixir.workspace / "notes.txt").write_text("hello\n")
    fake.script(step(tool_call("read", {"path": "notes.txt"})), step(text("It says hello.")))
    pixir.login_api_key()

    result = pixir.run(
        "what does notes.txt say?", "--transport", transport, "--json", env=proxied(proxy)
    )

    assert result.code == 0, result
    assert pixir.json_out(result)["output"] == "It says hello."
    calls = fake.responses_requests()
    assert len(calls) == 2
    # the tool's output reached the model through the proxy too
    assert "hello" in str(calls[1].json["input"])
    target = f"127.0.0.1:{fake.port}"
    if transport == "http_sse":
        assert proxy.seen == [f"POST http://{target}/v1/responses HTTP/1.1"] * 2
    else:  # one tunnel, both calls on it
        assert proxy.seen == [f"CONNECT {target} HTTP/1.1"]
        assert {call.transport for call in calls} == {"websocket"}


def test_a_proxy_that_is_down_is_named_in_the_error(pixir, fake):
    pixir.login_api_key()
    down = {"HTTP_PROXY": f"http://127.0.0.1:{closed_port()}", "NO_PROXY": "nothing.invalid"}
    result = pixir.run("hi", "--transport", "http_sse", env=down)
    assert result.code == 1, result
    assert (
        f"error: network: cannot reach 127.0.0.1:{fake.port}: through the proxy: connection refused"
    ) in result.stderr
    assert fake.responses_requests() == []
