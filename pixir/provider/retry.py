"""When to try a model call again, and after how long (docs/provider.md)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping

from pixir.errors import PixirError

BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 8.0
MAX_SERVER_DELAY_S = 60.0  # a longer wait asked by the server fails now, saying when
# Kinds retried fewer times than max_retries: a stream that went silent once is retried
# once (docs/provider.md); a second silence of minutes would only double the user's wait.
KIND_LIMITS = {"stream_idle_timeout": 1}


def backoff(retry: int, rng: Callable[[], float] = random.random) -> float:
    """`min(8 s, 0.5 s × 2^retry)` with ±25 % jitter, so parallel clients spread out."""
    base = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**retry)
    return min(BACKOFF_CAP_S, base * (0.75 + 0.5 * rng()))


def next_delay(
    err: PixirError,
    retries_done: int,
    max_retries: int,
    kind_counts: Mapping[str, int],
    rng: Callable[[], float] = random.random,
) -> float | None:
    """Seconds to wait before the next attempt, or None to give up with `err`. A server
    delay above 60 s gives up at once, with the time to retry in the message."""
    if not err.retryable or retries_done >= max_retries:
        return None
    limit = KIND_LIMITS.get(err.kind)
    if limit is not None and kind_counts.get(err.kind, 0) >= limit:
        return None
    asked = err.details.get("retry_after_s")
    if isinstance(asked, (int, float)) and not isinstance(asked, bool):
        if asked > MAX_SERVER_DELAY_S:
            when = time.strftime("%H:%M:%S", time.localtime(time.time() + asked))
            annotate(err, f"the server asks to wait {asked:.0f} s; try again after {when}")
            err.retryable = False
            return None
        return max(0.0, float(asked))
    return backoff(retries_done, rng)


def annotate(err: PixirError, note: str) -> None:
    """Add a clause to an error's message (and its str())."""
    err.message = f"{err.message} ({note})"
    err.args = (err.message,)
