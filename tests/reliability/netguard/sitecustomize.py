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
