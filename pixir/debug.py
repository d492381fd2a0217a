"""`PIXIR_DEBUG` wire log on stderr, with every secret redacted before it is printed."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Mapping
from urllib.parse import parse_qsl, urlencode

from pixir.sanitize import terminal

SECRET_HEADERS = frozenset({"authorization", "cookie", "set-cookie", "openai-api-key"})
SECRET_FIELDS = frozenset(
    {
        "access_token",
        "refresh_token",
        "id_token",
        "api_key",
        "code",
        "code_verifier",
        "authorization_code",
        "encrypted_content",
    }
)
REDACTED = "[redacted]"
# Bearer tokens, API keys and JWTs that might hide inside free text.
_SECRET_PATTERN = re.compile(
    r"(Bearer\s+)\S+|\bsk-[A-Za-z0-9_\-]{8,}|\beyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*"
)


def enabled() -> bool:
    return bool(os.environ.get("PIXIR_DEBUG"))


def log(message: str) -> None:
    """One wire-log line on stderr when PIXIR_DEBUG is set; the caller redacts first."""
    if enabled():
        sys.stderr.write(terminal(f"[pixir debug] {redact_text(message)}") + "\n")
        sys.stderr.flush()


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: REDACTED if k.lower() in SECRET_HEADERS else v for k, v in headers.items()}


def redact_json(value):
    """A copy of a JSON-like value with secret fields replaced."""
    if isinstance(value, dict):
        return {
            k: REDACTED if k in SECRET_FIELDS and v else redact_json(v) for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact_json(v) for v in value]
    return value


def redact_form(body: str) -> str:
    pairs = parse_qsl(body, keep_blank_values=True)
    return urlencode([(k, REDACTED if k in SECRET_FIELDS else v) for k, v in pairs])


def redact_body(body: bytes | str | None) -> str:
    """Redact a request/response body that is JSON, a form, or text."""
    if body is None:
        return ""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    try:
        return json.dumps(redact_json(json.loads(text)), ensure_ascii=False)
    except ValueError:
        pass
    if "=" in text and not any(c.isspace() for c in text.strip()):  # urlencoded form
        return redact_text(redact_form(text))
    return redact_text(text)


def redact_text(text: str) -> str:
    """Last line of defence for free text: bearer tokens, sk- keys and JWTs."""
    return _SECRET_PATTERN.sub(lambda m: (m.group(1) or "") + REDACTED, text)
