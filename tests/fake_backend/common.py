"""Vocabulary shared by the Responses modules: the two surfaces, the model catalog, a
resolved call, the plan of a stream, and the model-bound reasoning blobs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

SUBSCRIPTION = "subscription"
API_KEY = "api_key"

# The built-in catalog (docs/provider.md): the default allow-list.
DEFAULT_MODELS = (
    "gpt-5.6-sol",
    "gpt-5.6",
    "gpt-5.5",
    "gpt-5.4",
    "gpt-5.4-mini",
    "gpt-5.3-codex",
    "gpt-5.3-codex-spark",
    "gpt-5.2",
)

# Parameters the ChatGPT Codex backend refuses outright (docs/provider.md,
# "Request", quirk 4).
SUBSCRIPTION_UNSUPPORTED = ("max_output_tokens", "prompt_cache_retention")

CONTEXT_MESSAGE = (
    "Your input exceeds the context window of this model. Please adjust your input and try again."
)
WS_LIMIT_MESSAGE = (
    "Responses websocket connection limit reached (60 minutes). "
    "Create a new websocket connection to continue."
)


class Sealer:
    """Mints and checks `encrypted_content`. The blob carries the model that made it and an
    HMAC with this fake's key, so a blob from another model (or a made-up one) is refused
    exactly like the real service refuses it."""

    PREFIX = "gAAAAA"

    def __init__(self) -> None:
        self.key = secrets.token_bytes(32)

    def mint(self, model: str) -> str:
        payload = json.dumps({"model": model, "nonce": secrets.token_hex(16)}).encode()
        body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
        mac = hmac.new(self.key, body.encode(), hashlib.sha256).hexdigest()[:32]
        return f"{self.PREFIX}{body}.{mac}"

    def model_of(self, blob: Any) -> str | None:
        if not isinstance(blob, str) or not blob.startswith(self.PREFIX) or "." not in blob:
            return None
        body, mac = blob[len(self.PREFIX) :].rsplit(".", 1)
        good = hmac.new(self.key, body.encode(), hashlib.sha256).hexdigest()[:32]
        if not hmac.compare_digest(mac, good):
            return None
        try:
            return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))["model"]
        except (ValueError, KeyError, TypeError):
            return None


@dataclass
class Comment:
    """An SSE comment line (`: keep-alive`); not an event, invisible on WebSocket."""

    text: str


@dataclass
class Call:
    """Everything known about one Responses call once its input is resolved."""

    surface: str  # SUBSCRIPTION | API_KEY
    transport: str  # "http" | "websocket"
    body: dict
    effective_input: list
    settings: Any
    sealer: Sealer
    cached_hint: int = 0  # input tokens of the previous call with this prompt_cache_key

    @property
    def model(self) -> str:
        return str(self.body.get("model"))


@dataclass
class Plan:
    """What a step will emit: the events in order (with Comments), the final output items and
    the stream-level faults to apply while emitting."""

    response_id: str
    events: list[Any]
    output: list[dict]
    faults: list[dict] = field(default_factory=list)
    terminal: str = "response.completed"
    usage: dict | None = None
