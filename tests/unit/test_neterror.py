"""neterror.reason: the same few words for the same failure, whichever library raised it.
The exceptions come from real loopback sockets where one can be made to fail that way."""

from __future__ import annotations

import socket
import ssl
import struct
import threading

import pytest
import requests
import websocket
from urllib3.exceptions import NameResolutionError

from pixir.neterror import reason
from tests.harness import closed_port


@pytest.fixture
def resetting_port():
    """A loopback port whose server reads the request, then answers with a TCP RST."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            conn.recv(4096)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1]
    server.close()


def raised(call) -> BaseException:
    with pytest.raises(Exception) as info:
        call()
    return info.value


def ws_connect(url: str, **options) -> None:
    websocket.WebSocket().connect(url, timeout=5, **options)


def test_connection_refused_reads_the_same_from_requests_and_websocket_client():
    port = closed_port()
    via_requests = raised(lambda: requests.get(f"http://127.0.0.1:{port}/v1", timeout=5))
    via_websocket = raised(lambda: ws_connect(f"ws://127.0.0.1:{port}/v1"))
    # requests' own text names the pool, the URL and "Max retries exceeded"
    assert "Max retries" in str(via_requests)
    assert reason(via_requests) == reason(via_websocket) == "connection refused"


def test_a_reset_connection(resetting_port):
    via_requests = raised(lambda: requests.get(f"http://127.0.0.1:{resetting_port}/", timeout=5))
    via_websocket = raised(lambda: ws_connect(f"ws://127.0.0.1:{resetting_port}/"))
    assert reason(via_requests) == reason(via_websocket) == "connection reset by the other end"


def test_an_unreachable_proxy_is_named_as_the_proxy():
    proxy = f"http://127.0.0.1:{closed_port()}"
    exc = raised(lambda: requests.get("http://127.0.0.1:1/v1", proxies={"http": proxy}, timeout=5))
    assert reason(exc) == "through the proxy: connection refused"


def test_a_failed_name_lookup_keeps_the_resolver_words():
    # Built, not provoked: a real lookup of a missing name would leave the loopback.
    cause = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    failed = NameResolutionError("api.example", None, cause)
    failed.__cause__ = cause  # as urllib3 raises it: `from` the socket error
    wrapped = requests.ConnectionError(failed)
    assert reason(wrapped) == "host name lookup failed: Name or service not known"
    assert reason(websocket.WebSocketAddressException(cause)) == reason(wrapped)


def test_tls_failures_say_tls():
    untrusted = ssl.SSLCertVerificationError(1, "certificate verify failed")
    untrusted.verify_message = "self-signed certificate"
    assert reason(requests.exceptions.SSLError(untrusted)) == (
        "TLS certificate not trusted (self-signed certificate)"
    )
    handshake = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")
    handshake.reason = "WRONG_VERSION_NUMBER"
    assert reason(handshake) == "TLS failed: WRONG_VERSION_NUMBER"


def test_timeouts_from_either_library():
    assert reason(websocket.WebSocketTimeoutException("timed out")) == "timed out"
    assert reason(requests.exceptions.ConnectTimeout(TimeoutError("x"))) == "timed out"


def test_anything_else_is_its_own_text_without_url_noise_or_secrets():
    exc = requests.ConnectionError(
        "HTTPSConnectionPool(host='h', port=443): Max retries exceeded with url: /v1 "
        "(Caused by SomethingNew('odd failure Bearer sk-abcdefghijklmnopqrstuvwxyz'))"
    )
    text = reason(exc)
    assert text.startswith("SomethingNew('odd failure")
    assert "sk-abcdefghijklmnopqrstuvwxyz" not in text
    assert reason(RuntimeError()) == "RuntimeError"
