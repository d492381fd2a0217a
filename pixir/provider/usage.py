"""Token usage, normalised across the Responses and legacy Chat field names (docs/provider.md)."""

from __future__ import annotations


def usage_summary(usage: dict | None) -> dict:
    """`{input_tokens, cached_tokens, output_tokens, reasoning_tokens, total_tokens,
    cache_hit_rate}`; a missing field is 0, and the hit rate is None when input is 0."""
    usage = usage if isinstance(usage, dict) else {}
    input_tokens = _int(usage.get("input_tokens", usage.get("prompt_tokens")))
    output_tokens = _int(usage.get("output_tokens", usage.get("completion_tokens")))
    input_details = usage.get("input_tokens_details") or usage.get("prompt_tokens_details")
    output_details = usage.get("output_tokens_details") or usage.get("completion_tokens_details")
    cached = _int(_get(input_details, "cached_tokens"))
    reasoning = _int(_get(output_details, "reasoning_tokens"))
    total = _int(usage.get("total_tokens")) or input_tokens + output_tokens
    return {
        "input_tokens": input_tokens,
        "cached_tokens": cached,
        "output_tokens": output_tokens,
        "reasoning_tokens": reasoning,
        "total_tokens": total,
        "cache_hit_rate": round(cached / input_tokens, 4) if input_tokens else None,
    }


def _get(obj: object, key: str) -> object:
    return obj.get(key) if isinstance(obj, dict) else None


def _int(value: object) -> int:
    """Token counts are integers; anything else (None, a string, a bool) counts as 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0
    return max(0, int(value))
