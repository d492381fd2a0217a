"""Shared fixtures: `fake` (a started FakeBackend) and `pixir` (the built executable, run
against it in a temporary workspace and PIXIR_HOME). See tests/harness.py."""

from __future__ import annotations

import ipaddress
import socket
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
# `tests.fake_backend` and `tests.harness` are imported by their package names whatever the
# rootdir/import mode pytest runs with (and `python -m tests.fake_backend` uses the same names).
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


DEFAULT_TIMEOUT_S = 60


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "e2e: runs the built dist/pixir as a subprocess against the fake backend"
    )
    _loopback_only()


def _loopback_only() -> None:
    """Tests may reach 127.0.0.1 and nothing else: an in-process call that would leave the
    machine (say, an `auto` transport dialling api.openai.com) fails at once and says why,
    instead of hanging on a DNS lookup or a closed network."""
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect

    def allowed(host) -> bool:
        host = host.decode() if isinstance(host, bytes) else host
        return host in (None, "", "localhost") or _is_loopback(host)

    def getaddrinfo(host, *args, **kwargs):
        if not allowed(host):
            raise OSError(f"tests may only use 127.0.0.1, not {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not allowed(address[0]):
            raise OSError(f"tests may only use 127.0.0.1, not {address[0]!r}")
        return real_connect(sock, address)

    socket.getaddrinfo = getaddrinfo
    socket.socket.connect = connect


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test gets a timeout (pytest-timeout), unless one is configured in the ini file,
    on the command line or on the test: a hung stream must fail a test, never the CI run."""
    try:
        configured = config.getoption("timeout", None) or config.getini("timeout")
    except ValueError:  # pytest-timeout not installed: nothing to configure
        return
    if configured:
        return
    for item in items:
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(DEFAULT_TIMEOUT_S))


@pytest.fixture
def fake():
    """A started FakeBackend on an ephemeral 127.0.0.1 port, stopped after the test."""
    from tests.fake_backend import FakeBackend  # after the sys.path fix above

    backend = FakeBackend().start()
    try:
        yield backend
    finally:
        backend.stop()
    if backend.errors:
        pytest.fail("the fake backend crashed:\n" + "\n".join(backend.errors), pytrace=False)


@pytest.fixture(scope="session", autouse=True)
def shared_unpacking(tmp_path_factory):
    """dist/pixir unpacks itself on its first run under a HOME (about a second); every
    runner shares one SHIV_ROOT so that happens once per session, and the runs test the
    launcher's fast path that users meet on every run after their first. First runs are
    tested on their own (tests/e2e/test_launcher.py, a runner's env={"SHIV_ROOT": None})."""
    from tests import harness

    harness.SHIV_ROOT = tmp_path_factory.mktemp("shiv")
    yield
    harness.SHIV_ROOT = None


@pytest.fixture
def pixir(fake, tmp_path):
    """A PixirRunner: runs dist/pixir (or $PIXIR_BIN) against `fake` in tmp dirs."""
    from tests.harness import PixirRunner

    return PixirRunner(fake, tmp_path)
