"""Retry decisions and backoff."""

from __future__ import annotations

import pytest

from pixir.errors import PixirError
from pixir.provider.retry import backoff, next_delay


def test_backoff_doubles_from_half_a_second_and_caps_at_8_s():
    middle = [backoff(n, rng=lambda: 0.5) for n in range(7)]
    assert middle == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_backoff_jitter_stays_within_a_quarter_and_under_the_cap():
    for n in range(8):
        low, high = backoff(n, rng=lambda: 0.0), backoff(n, rng=lambda: 0.999)
        base = min(8.0, 0.5 * 2**n)
        assert low == pytest.approx(base * 0.75)
        assert base <= high * 1.0001 or high == 8.0
        assert high <= 8.0


@pytest.mark.parametrize(
    "kind", ["network", "rate_limited", "server_error", "stream_incomplete", "stream_idle_timeout"]
)
def test_the_retried_kinds(kind):
    assert next_delay(PixirError(kind, "x"), 0, 2, {}, lambda: 0.5) == 0.5


@pytest.mark.parametrize(
    "kind",
    [
        "usage_limit_reached",
        "context_overflow",
        "quota_exceeded",
        "provider_http_error",
        "invalid_response",
        "not_authenticated",
        "model_not_supported",
    ],
)
def test_the_final_kinds(kind):
    assert next_delay(PixirError(kind, "x"), 0, 2, {}) is None


def test_server_delay_up_to_60_s_is_used_as_is():
    err = PixirError("rate_limited", "x", {"retry_after_s": 60})
    assert next_delay(err, 0, 2, {}) == 60
    err = PixirError("server_error", "x", {"retry_after_s": 0.02})
    assert next_delay(err, 1, 2, {}) == 0.02


def test_server_delay_over_60_s_gives_up_and_says_when():
    err = PixirError("rate_limited", "rate limited: slow", {"retry_after_s": 61})
    assert next_delay(err, 0, 2, {}) is None
    assert "wait 61 s" in err.message and "try again after" in str(err)
    assert err.retryable is False


def test_the_retry_budget_and_the_idle_timeout_limit():
    err = PixirError("server_error", "x")
    assert next_delay(err, 2, 2, {}) is None
    idle = PixirError("stream_idle_timeout", "x")
    assert next_delay(idle, 1, 5, {"stream_idle_timeout": 1}) is None
    assert next_delay(idle, 1, 5, {"server_error": 1}) is not None
