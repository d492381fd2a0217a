"""Loaded by every pixir process the reliability suite starts (PYTHONPATH points here): any
attempt to look up or connect to a host other than loopback is refused and written to
$PIXIR_NETGUARD_LOG, so a test can prove that nothing left the machine — and, for
`insecure_transport`, that nothing was even tried. Unix sockets are not touched."""

from __future__ import annotations

import ipaddress
import os
import socket

_LOG = os.environ.get("PIXIR_NETGUARD_LOG")


def _loopback(host) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if host in (None, "", "localhost"):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


def _refuse(what: str, host) -> None:
    if _LOG:
        with open(_LOG, "a", encoding="utf-8") as fh:
            fh.write(f"{os.getpid()} {what} {host!r}\n")
    raise OSError(f"netguard: {what} of {host!r} refused (tests stay on loopback)")


if _LOG:
    _getaddrinfo = socket.getaddrinfo
    _connect = socket.socket.connect
    _connect_ex = socket.socket.connect_ex

    def getaddrinfo(host, *args, **kwargs):
        if not _loopback(host):
            _refuse("lookup", host)
        return _getaddrinfo(host, *args, **kwargs)

    def connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
            _refuse("connect", address[0])
        return _connect(sock, address)

    def connect_ex(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
            _refuse("connect", address[0])
        return _connect_ex(sock, address)

    socket.getaddrinfo = getaddrinfo
    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex


# PIXIR_TEST_CRASH=module:Class.attr makes that function raise an unexpected exception (a
# stand-in for a bug) so a test can look at the crash report and the Log it leaves. Done from
# here, by the test's own process setup, so pixir itself carries no test hook.
# PIXIR_TEST_KILL=module:Class.attr@N instead makes the N-th call of that function SIGKILL
# its own process: a crash at an exact point (the random ones are in test_crash.py).
_CRASH = os.environ.get("PIXIR_TEST_CRASH") or os.environ.get("PIXIR_TEST_KILL")
if _CRASH:
    import importlib.abc
    import importlib.util
    import signal
    import sys

    _module, _, _attr = _CRASH.partition(":")
    _attr, _, _nth = _attr.partition("@")
    _calls = [0]

    def _replacement(real):
        if not os.environ.get("PIXIR_TEST_KILL"):

            def boom(*args, **kwargs):
                raise RuntimeError("a bug injected by the reliability suite (PIXIR_TEST_CRASH)")

            return boom

        def kill_at_nth(*args, **kwargs):
            _calls[0] += 1
            if _calls[0] == int(_nth or 1):
                os.kill(os.getpid(), signal.SIGKILL)
            return real(*args, **kwargs)

        return kill_at_nth

    class _Injector(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name != _module:
                return None
            sys.meta_path.remove(self)
            spec = importlib.util.find_spec(name)
            real = spec.loader.exec_module

            def exec_module(module):
                real(module)
                owner = module
                *parents, last = _attr.split(".")
                for part in parents:
                    owner = getattr(owner, part)
                setattr(owner, last, _replacement(getattr(owner, last)))

            spec.loader.exec_module = exec_module
            return spec

    sys.meta_path.insert(0, _Injector())
