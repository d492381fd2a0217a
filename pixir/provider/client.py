"""The Provider: one streamed Responses call over a transport, with 401 recovery and
retries (docs/provider.md). It knows nothing of the Log or the terminal: a body and an `on_delta`
callback in, a `Result` out, or a `PixirError`.

    provider = Provider(settings, credential, session_id=sid)
    try:
        result = provider.stream(body, on_delta=callback)
    finally:
        provider.close()

`on_delta` receives `("text", str)`, `("reasoning", str)` and, before each retry,
`("retry", {"attempt", "delay_s", "error_kind", "message", "text_streamed"})` — only the
successful attempt's output ends up in the Result.
"""

from __future__ import annotations

import platform
import random
import time
from collections import Counter
from collections.abc import Callable

from pixir import __version__, paths
from pixir.config import Settings, ensure_secure_url
from pixir.errors import PixirError
from pixir.provider import policy, retry
from pixir.provider.assemble import Assembler, OnDelta, Result
from pixir.provider.classify import classify_http


def stored_key_refused() -> str:
    """The hint for a refused key that `pixir login --with-api-key` stored."""
    return (
        f"the key stored in {paths.auth_file()} was refused: store another with `pixir login "
        "--with-api-key`, or `pixir logout` to use OPENAI_API_KEY instead"
    )


def endpoint(settings: Settings, credential_kind: str) -> str:
    """The Responses URL for a credential kind (docs/provider.md)."""
    base = (
        settings.chatgpt_base_url
        if credential_kind == "subscription"
        else (settings.openai_base_url)
    )
    return base.rstrip("/") + "/responses"


def user_agent() -> str:
    """`pixir/<version> (<os> <release>; <arch>) python/<version>`."""
    system = platform.system() or "unknown"
    return (
        f"pixir/{__version__} ({system} {platform.release()}; {platform.machine()}) "
        f"python/{platform.python_version()}"
    )


def base_headers(session_id: str) -> dict[str, str]:
    """Every header of a call except the credential's."""
    return {
        "content-type": "application/json",
        "accept": "text/event-stream",
        "OpenAI-Beta": "responses=experimental",
        "originator": "pixir",
        "User-Agent": user_agent(),
        "session_id": session_id,
    }


class Provider:
    """Streams model calls for one session. `sleep` is injectable so tests never wait;
    `transport` replaces the transport policy (docs/provider.md): anything with `run` (see
    policy.py), or a lone transport with `open(url, headers, body bytes) -> Exchange` (test
    doubles)."""

    def __init__(
        self,
        settings: Settings,
        credential,
        session_id: str,
        sleep: Callable[[float], None] = time.sleep,
        *,
        transport=None,
        rng: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.settings = settings
        self.credential = credential
        self.session_id = session_id
        self.sleep = sleep
        self.rng = rng
        self.clock = clock
        if transport is None:  # the transport policy over both (docs/provider.md)
            transport = policy.Policy(
                settings.transport,
                settings.stream_idle_timeout_ms / 1000,
                getattr(credential, "kind", None),
                clock,
            )
        elif not hasattr(transport, "run"):
            transport = policy.Single(transport)
        self.transport = transport

    @property
    def url(self) -> str:
        return endpoint(self.settings, self.credential.kind)

    def request_headers(self) -> dict[str, str]:
        """The headers of the next attempt; the credential refreshes itself if it must."""
        return {**base_headers(self.session_id), **self.credential.headers()}

    def prepare(self) -> None:
        """Load the transport's libraries now, so that call timings exclude start-up."""
        self.transport.prepare()

    def stream(
        self,
        body: dict,
        on_delta: OnDelta | None = None,
        stop: Callable[[], bool] | None = None,
    ) -> Result:
        """One model call, retried as docs/provider.md says. Raises PixirError when it cannot
        succeed. `stop()` true (the caller `abort`ed it) makes a failure final: no retry, no
        reconnect, no fallback."""
        url = self.url
        ensure_secure_url(url)  # before any credential goes on the wire
        request = policy.Request(body, stop)
        record = policy.CallRecord()
        self.prepare()
        started = self.clock()
        retries = 0
        kinds: Counter[str] = Counter()
        recovered = False
        while True:
            state: dict = {}
            answered = False  # a 401 counts only when the Responses endpoint said it
            try:
                headers = self.request_headers()
                answered = True
                result = self.transport.run(
                    url,
                    headers,
                    request,
                    lambda exchange, state=state: self._consume(exchange, on_delta, state),
                    record,
                )
            except PixirError as err:
                if request.stopped():
                    raise
                # A refresh refused inside headers() is final (docs/auth.md): trying the same
                # refresh token again cannot help, and would spend another request on it.
                if (
                    answered
                    and err.kind == "not_authenticated"
                    and err.details.get("status") == 401
                ):
                    if not recovered and self.credential.recover_unauthorized():
                        recovered = True
                        continue
                    if (
                        self.credential.kind == "api_key"
                        and getattr(self.credential, "source", None) == "stored"
                    ):
                        # the stored key was sent (it wins over OPENAI_API_KEY): say so
                        err.hint = stored_key_refused()
                    raise
                delay = retry.next_delay(err, retries, self.settings.max_retries, kinds, self.rng)
                if delay is None:
                    if retries:
                        err.details["attempts"] = retries + 1
                        retry.annotate(err, f"gave up after {retries + 1} attempts")
                    raise
                retries += 1
                kinds[err.kind] += 1
                if on_delta is not None:
                    on_delta(
                        (
                            "retry",
                            {
                                "attempt": retries,
                                "delay_s": round(delay, 3),
                                "error_kind": err.kind,
                                "message": err.message,
                                "text_streamed": state.get("text_streamed", False),
                            },
                        )
                    )
                self.sleep(delay)
                continue
            result.transport = self._transport_meta(state, record, retries, started)
            return result

    def _consume(self, exchange, on_delta, state: dict) -> Result:
        """An Exchange → the call's Result: its status classified, its events assembled."""
        state["meta"] = exchange.meta
        completed = False
        try:
            if not 200 <= exchange.status < 300:
                raise classify_http(
                    exchange.status, exchange.error_body, exchange.headers, self.credential.kind
                )
            assembler = Assembler(on_delta, self.credential.kind)
            assembler.feed_headers(exchange.headers)
            try:
                result = assembler.run(exchange.events)
            finally:
                state["text_streamed"] = assembler.streamed_text
            state["request_id"] = exchange.headers.get("x-request-id")
            completed = True
            return result
        finally:
            exchange.close(completed)

    def _transport_meta(
        self, state: dict, record: policy.CallRecord, retries: int, started: float
    ) -> dict:
        meta = state.get("meta") or {}
        first = meta.get("first_byte_s")
        return {
            "transport_preference": self.settings.transport,
            "active_transport": record.active_transport,
            "continuation_attempted": record.continuation_attempted,
            "used_previous_response_id": record.used_previous_response_id,
            "continuation_reset_reason": record.continuation_reset_reason,
            "fallback_reason": record.fallback_reason,
            "bytes_sent": record.bytes_sent,
            "attempts": retries + 1,
            "first_byte_ms": round(first * 1000, 1) if first is not None else None,
            "total_ms": round((self.clock() - started) * 1000, 1),
            "request_id": state.get("request_id"),
        }

    def abort(self) -> None:
        """From another thread: make the call in flight fail at once — its socket is shut,
        whether it is connecting, waiting for the answer or streaming it. The caller's
        `stop` tells `stream` not to retry. The Provider stays usable."""
        abort = getattr(self.transport, "abort", None)
        if abort is not None:
            abort()

    def close(self) -> None:
        """Release connections (always call it: a WebSocket must not outlive the run)."""
        self.transport.close()
