"""Which transport carries a call (docs/provider.md): `auto` (WebSocket first, HTTP/SSE when the
socket cannot be used), `websocket` (only), `http_sse` (only).

Under `auto` a failed upgrade, or a socket that dies before any output of the call, replays
the same call over HTTP/SSE at once (not a retry: nothing reached the user), and the process
stays on HTTP/SSE from then on. Errors the provider sent (usage limit, context overflow, any
4xx in an error frame) are raised as they are: another transport would not change them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pixir.choices import CHOICES
from pixir.errors import PixirError
from pixir.provider.request import body_bytes

PREFERENCES = CHOICES["transport"]


class Request:
    """One call's body; its JSON bytes are made once, and only if a transport needs them
    (a WebSocket continuation never serialises the full body). `stop()` is true once the
    caller stopped the call (Provider.stream's `stop`): a failure then is the stop's doing,
    never a reason to reconnect, resend or fall back to the other transport."""

    __slots__ = ("_payload", "body", "stop")

    def __init__(self, body: dict, stop: Callable[[], bool] | None = None):
        self.body = body
        self.stop = stop
        self._payload: bytes | None = None

    def stopped(self) -> bool:
        return self.stop is not None and self.stop()

    @property
    def payload(self) -> bytes:
        if self._payload is None:
            self._payload = body_bytes(self.body)
        return self._payload


@dataclass
class CallRecord:
    """What the transports did for one call, all attempts included (the metadata of
    docs/provider.md)."""

    active_transport: str | None = None
    continuation_attempted: bool = False
    used_previous_response_id: bool = False
    continuation_reset_reason: str | None = None
    fallback_reason: str | None = None
    bytes_sent: int = 0  # frame or body bytes put on the wire, over every attempt


class Policy:
    """Runs calls on the transport the preference allows; owns both transports."""

    def __init__(
        self,
        preference: str,
        idle_timeout_s: float,
        credential_kind: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        from pixir.provider.http import HttpTransport

        self.preference = preference if preference in PREFERENCES else "auto"
        self.http = HttpTransport(idle_timeout_s, clock)
        self.ws = None
        if self.preference != "http_sse":
            from pixir.provider.ws import WsTransport

            self.ws = WsTransport(idle_timeout_s, credential_kind, clock)
        self.fallback_reason: str | None = None  # set once WebSocket failed under auto

    @property
    def name(self) -> str:
        """The transport the next call will try first."""
        return "websocket" if self._websocket_first() else "http_sse"

    def _websocket_first(self) -> bool:
        return self.ws is not None and self.fallback_reason is None

    def prepare(self) -> None:
        """Load the next call's network library now (`requests` waits for a fallback)."""
        (self.ws if self._websocket_first() else self.http).prepare()

    def run(self, url: str, headers: Mapping[str, str], request: Request, consume, record):
        """One attempt of a call: `consume(exchange) -> Result` assembles what arrives."""
        if not self._websocket_first():
            record.fallback_reason = self.fallback_reason
            return self._http(url, headers, request, consume, record)
        from pixir.provider.ws import Unavailable

        try:
            return self.ws.run(url, headers, request, consume, record)
        except Unavailable as gone:
            if self.preference == "websocket" or request.stopped():
                raise gone.error from None
            self._fall_back(gone.reason)
            record.fallback_reason = gone.reason
            return self._http(url, headers, request, consume, record)
        except PixirError as err:
            closed = err.kind == "websocket_closed"
            if closed and self.preference == "auto" and not request.stopped():
                # Output had arrived, so this is a retry (docs/provider.md); it goes over HTTP/SSE.
                self._fall_back(f"websocket_closed: {err.details.get('cause', err.message)}")
            raise

    def _http(self, url, headers, request: Request, consume, record):
        record.active_transport = self.http.name
        payload = request.payload
        record.bytes_sent += len(payload)
        return consume(self.http.open(url, headers, payload, stop=request.stop))

    def _fall_back(self, reason: str) -> None:
        self.fallback_reason = reason
        self.ws.close()

    def abort(self) -> None:
        """From another thread: make the call in flight fail at once (its socket is shut)."""
        if self.ws is not None:
            self.ws.abort()
        self.http.abort()

    def close(self) -> None:
        if self.ws is not None:
            self.ws.close()
        self.http.close()


class Single:
    """A lone transport (`open(url, headers, body bytes) -> Exchange`) behind the Policy
    interface: what tests and alternative transports plug into the Provider."""

    def __init__(self, transport):
        self.transport = transport
        self.name = getattr(transport, "name", "http_sse")

    def prepare(self) -> None:
        if hasattr(self.transport, "prepare"):
            self.transport.prepare()

    def run(self, url: str, headers: Mapping[str, str], request: Request, consume, record):
        record.active_transport = self.name
        payload = request.payload
        record.bytes_sent += len(payload)
        return consume(self.transport.open(url, headers, payload))

    def abort(self) -> None:
        if hasattr(self.transport, "abort"):
            self.transport.abort()

    def close(self) -> None:
        self.transport.close()
