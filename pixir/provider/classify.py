"""Provider failures → `PixirError` (docs/provider.md). One set of rules for an HTTP error
response, an in-stream `error` / `response.failed` event and a WebSocket error frame
(`{"type":"error","status":..,"error":{..},"headers":{..}}`), so every transport reports
the same kinds with the same messages."""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime

from pixir.debug import redact_text
from pixir.errors import WAIT_FOR_RESET, PixirError

MAX_ERROR_BODY = 16 * 1024  # never read more of an error body than this
MAX_MESSAGE = 300  # characters of a server message quoted in ours

USAGE_LIMIT_CODES = ("usage_limit_reached", "usage_not_included")
OVERLOADED_CODES = ("server_is_overloaded", "slow_down", "server_error", "internal_error")
_CONTEXT_RE = re.compile(
    r"context[ _]window|context[ _]length|maximum context|too many tokens|prompt is too long", re.I
)
# "The model `x` does not exist", "model ... not supported", LiteLLM-style gateways' "Invalid
# model name passed in model=x", and a `model_not_found` code quoted only in the message.
_MODEL_RE = re.compile(
    r"\bmodel\b.*\b(not supported|does not exist|not found)|invalid model name|model_not_found",
    re.I | re.S,
)
_TRY_AGAIN_RE = re.compile(r"try again in\s*((?:\d+(?:\.\d+)?\s*(?:ms|h|m|s)\s*)+)", re.I)
_DURATION_PART_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|h|m|s)", re.I)
_TITLE_RE = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)
_TAG_RE = re.compile(r"<[^>]+>")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def classify_http(
    status: int,
    body: bytes | str | None,
    headers: Mapping[str, str] | None = None,
    credential_kind: str | None = None,
) -> PixirError:
    """An HTTP error response (status ≥ 300) → the PixirError it means."""
    error, text = parse_error_body(body)
    return classify(status, error, headers, credential_kind, fallback=text)


def classify_event(event: dict, credential_kind: str | None = None) -> PixirError:
    """An in-stream `error` or `response.failed` event, or a WebSocket error frame."""
    status = event.get("status") or event.get("status_code")
    status = status if isinstance(status, int) and not isinstance(status, bool) else None
    headers = event.get("headers") if isinstance(event.get("headers"), dict) else None
    if event.get("type") == "response.failed":
        response = event.get("response") if isinstance(event.get("response"), dict) else {}
        error = response.get("error") if isinstance(response.get("error"), dict) else {}
        if not error.get("message"):
            error = {**error, "message": "the response failed without a reason"}
    elif isinstance(event.get("error"), dict):
        error = event["error"]
    else:  # a bare in-stream error: code/message/type at the top level
        error = {k: v for k, v in event.items() if k not in ("type", "sequence_number")}
        if event.get("type") not in (None, "error"):
            error.setdefault("type", event.get("type"))
    return classify(status, error, headers, credential_kind, fallback="")


def classify(
    status: int | None,
    error: dict,
    headers: Mapping[str, str] | None,
    credential_kind: str | None = None,
    fallback: str = "",
) -> PixirError:
    """The classification rules of docs/provider.md, in order. `status` is None for an in-stream
    error."""
    headers = {str(k).lower(): str(v) for k, v in (headers or {}).items()}
    code = _str(error.get("code"))
    kind = _str(error.get("type"))
    message = _clean(_str(error.get("message")) or fallback) or _status_text(status)
    codes = {code, kind}
    details: dict = {"status": status}
    if code:
        details["code"] = code
    if kind:
        details["type"] = kind

    # 1. the ChatGPT plan's usage limit: never retried, exit 7
    if codes & set(USAGE_LIMIT_CODES):
        return _usage_limit(error, headers, details, "usage_not_included" in codes, credential_kind)
    # 2. 401: the caller tries the refresh path once before giving up
    if status == 401:
        return _unauthorized(message, details, credential_kind)
    # 6 before 3: the API answers an exhausted quota with a 429 that retrying cannot fix
    if "insufficient_quota" in codes:
        return PixirError(
            "quota_exceeded",
            f"the API key's quota is exhausted: {message}",
            details,
            hint="check the plan and billing of the OpenAI account",
        )
    # 3. rate limits: retried after the server's delay when it gives one
    if status == 429 or "rate_limit_exceeded" in codes:
        delay = retry_after(headers, message)
        if delay is not None:
            details["retry_after_s"] = delay
        return PixirError("rate_limited", f"rate limited: {message}", details)
    # 4. the input no longer fits: compaction's cue, never retried as is
    if status in (None, 400, 413) and (
        "context_length_exceeded" in codes or _CONTEXT_RE.search(message)
    ):
        return PixirError(
            "context_overflow",
            f"the conversation no longer fits the model's context window: {message}",
            details,
            hint="compact the session (`pixir compact <id>`) or start a new one",
        )
    # 5. a model the backend does not serve
    if status in (None, 400, 404) and ("model_not_found" in codes or _MODEL_RE.search(message)):
        return PixirError(
            "model_not_supported",
            message,
            details,
            hint="pick another model with -m/--model (see `pixir models`)",
        )
    # 7. the server's trouble: retried
    if (status is not None and status >= 500) or codes & set(OVERLOADED_CODES):
        delay = retry_after(headers, message)
        if delay is not None:
            details["retry_after_s"] = delay
        where = f" (HTTP {status})" if status else ""
        return PixirError("server_error", f"server error{where}: {message}", details)
    # 8. anything else the server refused, with its own words
    if status is not None:
        return PixirError(
            "provider_http_error", f"HTTP {status}: {message}", details, retryable=False
        )
    # An in-stream error with no status and no known code: a request the server rejected is
    # final; anything else is treated like a server error and retried (as Codex does).
    if kind == "invalid_request_error" or code.startswith("invalid_"):
        return PixirError("provider_http_error", message, details, retryable=False)
    return PixirError("server_error", f"the response failed: {message}", details)


def _usage_limit(
    error: dict, headers: dict, details: dict, not_included: bool, credential_kind: str | None
) -> PixirError:
    plan = _str(error.get("plan_type")) or None
    seconds = _reset_seconds(error, headers)
    details.update(plan_type=plan, resets_in_seconds=seconds)
    if seconds is not None:
        details["resets_at"] = int(time.time() + seconds)
    later = f" Try again in ~{max(1, math.ceil(seconds / 60))} min." if seconds is not None else ""
    if credential_kind == "api_key":
        # an API key has no ChatGPT plan: its limits are the OpenAI account's
        return PixirError(
            "usage_limit_reached",
            "The API key's usage limit was reached." + later,
            details,
            retryable=False,
            hint=f"{WAIT_FOR_RESET}, or raise the limits of the OpenAI account the key "
            "belongs to (platform.openai.com, Limits and Billing)",
        )
    plan_text = f"{plan.capitalize()} plan" if plan else "plan"
    if os.environ.get("OPENAI_API_KEY"):
        other = "or use the API key OPENAI_API_KEY holds: pass `--auth api_key`"
    else:
        other = "or use an API key: set OPENAI_API_KEY and pass `--auth api_key`"
    if not_included:
        return PixirError(
            "usage_limit_reached",
            f"Your ChatGPT {plan_text} does not include Codex usage.",
            details,
            retryable=False,
            hint=f"upgrade the ChatGPT plan, {other}",
        )
    message = "You have hit your ChatGPT usage limit" + (f" ({plan_text})." if plan else ".")
    return PixirError(
        "usage_limit_reached",
        message + later,
        details,
        retryable=False,
        hint=f"{WAIT_FOR_RESET}, {other}",
    )


def _reset_seconds(error: dict, headers: dict) -> float | None:
    resets_at = _number(error.get("resets_at"))
    if resets_at is not None:
        return max(0.0, resets_at - time.time())
    for value in (
        error.get("resets_in_seconds"),
        headers.get("x-codex-primary-reset-after-seconds"),
    ):
        seconds = _number(value)
        if seconds is not None:
            return max(0.0, seconds)
    return None


def _unauthorized(message: str, details: dict, credential_kind: str | None) -> PixirError:
    if credential_kind == "subscription":
        return PixirError(
            "not_authenticated",
            "your ChatGPT sign-in expired — run `pixir login`",
            details,
            hint="run `pixir login`",
        )
    if credential_kind == "api_key":
        return PixirError(
            "not_authenticated",
            f"the API key was refused: {message}",
            details,
            hint="check OPENAI_API_KEY, or store another with `pixir login --with-api-key`",
        )
    return PixirError("not_authenticated", f"the credential was refused: {message}", details)


def retry_after(headers: Mapping[str, str], message: str = "") -> float | None:
    """The delay the server asked for: `retry-after-ms`, `Retry-After` (seconds or an
    HTTP date), else "try again in 1.5s / 20ms / 1m30s" in the message."""
    value = _number(headers.get("retry-after-ms"))
    if value is not None:
        return max(0.0, value / 1000)
    raw = headers.get("retry-after")
    if raw:
        value = _number(raw.strip())
        if value is not None:
            return max(0.0, value)
        try:
            when = parsedate_to_datetime(raw.strip())
        except (TypeError, ValueError, IndexError):
            when = None
        if when is not None and when.tzinfo is not None:
            return max(0.0, when.timestamp() - time.time())
    match = _TRY_AGAIN_RE.search(message or "")
    if match:
        total = sum(
            float(amount) * _UNITS[unit.lower()]
            for amount, unit in _DURATION_PART_RE.findall(match.group(1))
        )
        return total
    return None


def parse_error_body(body: bytes | str | None) -> tuple[dict, str]:
    """(the error object, a one-line text) from an error body: `{"error": {...}}`,
    `{"error": "..."}`, `{"detail": "..."}` (the ChatGPT backend), JSON of another shape,
    HTML (its title) or plain text. Never raises."""
    if isinstance(body, (bytes, bytearray)):
        text = bytes(body[:MAX_ERROR_BODY]).decode("utf-8", "replace")
    else:
        text = (body or "")[:MAX_ERROR_BODY]
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        inner = data.get("error", data.get("detail"))
        if isinstance(inner, dict):
            return inner, ""
        if isinstance(inner, str):
            return {"message": inner}, ""
        if isinstance(data.get("message"), str):
            return data, ""
        return {}, _clean(text)
    if data is not None:
        return {}, _clean(text)
    return {}, _html_text(text) if "<" in text else _clean(text)


def _html_text(text: str) -> str:
    title = _TITLE_RE.search(text)
    plain = title.group(1) if title else _TAG_RE.sub(" ", text)
    return _clean(plain)


def _clean(text: str) -> str:
    """One line, bounded, secrets masked: server messages are quoted in ours."""
    text = " ".join(text.split())
    if len(text) > MAX_MESSAGE:
        text = text[: MAX_MESSAGE - 1] + "…"
    return redact_text(text)


def _status_text(status: int | None) -> str:
    return f"HTTP {status} with no message" if status else "no message"


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None
