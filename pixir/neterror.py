"""Why a connection failed, in a few words a person can act on.

`requests` wraps urllib3's `MaxRetryError`, which wraps a `NewConnectionError`, which wraps
the socket error; its message repeats the pool, host and URL at each level and is cut off
mid-sentence by any length limit. websocket-client raises the socket error itself. Both
end in the same few causes, named here the same way for every transport and for sign-in.
"""

from __future__ import annotations

import socket

from pixir import debug

NETWORK_HINT = "check the network connection and the base URL; behind a proxy, set HTTPS_PROXY"


def reason(exc: BaseException) -> str:
    """A short lower-case reason ("connection refused", "host name lookup failed: ...")."""
    chain = list(_chain(exc))
    text = next((found for found in map(_cause, reversed(chain)) if found), None)
    if text is None:
        text = _cleaned(exc)
    if any(type(link).__name__ == "ProxyError" for link in chain):
        return f"through the proxy: {text}"
    return text


def _chain(exc: BaseException | None):
    """`exc` and what it wraps, outermost first (urllib3 keeps the cause in `.reason` or in
    its args, requests in its args)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        inner = getattr(exc, "reason", None)
        if not isinstance(inner, BaseException):
            inner = next((a for a in reversed(exc.args) if isinstance(a, BaseException)), None)
        exc = inner or exc.__cause__ or exc.__context__


def _cause(exc: BaseException) -> str | None:
    import ssl  # only now: this runs on failures, and `ssl` costs every start-up milliseconds

    if isinstance(exc, socket.gaierror):
        return f"host name lookup failed: {exc.strerror or exc}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset by the other end"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted ({exc.verify_message or exc.reason})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed: {exc.reason or exc}".rstrip()
    if isinstance(exc, TimeoutError) or type(exc).__name__ in _TIMEOUTS:
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[:1].lower() + exc.strerror[1:]
    return None


# Timeouts that are not `TimeoutError` subclasses (urllib3's and websocket-client's).
_TIMEOUTS = frozenset({"ConnectTimeoutError", "WebSocketTimeoutException"})


def _cleaned(exc: BaseException) -> str:
    """The exception's own text without urllib3's URL noise, for causes not named above."""
    text = str(exc) or type(exc).__name__
    for marker in ("Caused by ", "Failed to establish a new connection: "):
        if marker in text:
            text = text.split(marker, 1)[1]
    text = text.strip("()'\" ")
    return debug.redact_text(text[:200]) or type(exc).__name__
