"""The usage summary of a response."""

from __future__ import annotations

import pytest

from pixir.provider.usage import usage_summary


def test_usage_summary_of_responses_fields():
    usage = {
        "input_tokens": 2000,
        "input_tokens_details": {"cached_tokens": 1500},
        "output_tokens": 300,
        "output_tokens_details": {"reasoning_tokens": 200},
        "total_tokens": 2300,
    }
    assert usage_summary(usage) == {
        "input_tokens": 2000,
        "cached_tokens": 1500,
        "output_tokens": 300,
        "reasoning_tokens": 200,
        "total_tokens": 2300,
        "cache_hit_rate": 0.75,
    }


def test_usage_summary_of_legacy_fields():
    usage = {
        "prompt_tokens": 10,
        "prompt_tokens_details": {"cached_tokens": 5},
        "completion_tokens": 4,
    }
    summary = usage_summary(usage)
    assert summary["input_tokens"] == 10 and summary["cached_tokens"] == 5
    assert summary["output_tokens"] == 4 and summary["total_tokens"] == 14
    assert summary["cache_hit_rate"] == 0.5


@pytest.mark.parametrize("usage", [None, {}, {"input_tokens": None, "output_tokens": "7"}, "junk"])
def test_missing_or_odd_usage_counts_as_zero(usage):
    summary = usage_summary(usage)
    assert summary == {
        "input_tokens": 0,
        "cached_tokens": 0,
        "output_tokens": 0,
        "reasoning_tokens": 0,
        "total_tokens": 0,
        "cache_hit_rate": None,
    }
