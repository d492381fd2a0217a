"""The test session's own guard: nothing but loopback is reachable from in-process tests."""

import socket

import pytest


def test_remote_hosts_are_refused_before_any_lookup():
    with pytest.raises(OSError, match=r"tests may only use 127\.0\.0\.1"):
        socket.getaddrinfo("api.openai.com", 443)


def test_remote_addresses_are_refused_on_connect():
    with socket.socket() as sock, pytest.raises(OSError, match=r"not '10\.1\.2\.3'"):
        sock.connect(("10.1.2.3", 443))


def test_loopback_still_works():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=2):
            pass
