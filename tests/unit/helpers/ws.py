"""Shared by the WebSocket and policy unit tests: a Provider pointed at the in-process fake
backend, and a small tool loop that replays output the way pixir's History does."""

from __future__ import annotations

import json

from pixir import context
from pixir.config import Settings
from pixir.provider.client import Provider
from pixir.provider.request import RequestOptions


class Key:
    """An API-key Credential double for the fake's /v1 path."""

    kind = "api_key"

    def __init__(self, key: str):
        self.key = key
        self.recoveries = 0

    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.key}"}

    def recover_unauthorized(self) -> bool:
        self.recoveries += 1
        return False


def make_provider(fake, transport: str = "websocket", key: str | None = None, **settings):
    """(Provider, sleeps): calls go to `fake`, retries never wait."""
    sleeps: list[float] = []
    config = Settings(transport=transport, openai_base_url=fake.openai_base_url, **settings)
    provider = Provider(
        config, Key(key or fake.api_key), "sess-1", sleep=sleeps.append, rng=lambda: 0.5
    )
    return provider, sleeps


def user(text: str) -> dict:
    return {"role": "user", "content": [{"type": "input_text", "text": text}]}


def body(items: list, model: str = "gpt-5.5") -> dict:
    options = RequestOptions(model=model, session_id="sess-1", credential_kind="api_key")
    return context.build(None, "auto").body(options, items)


def replay(item: dict) -> dict:
    """An output item as pixir's History replays it (docs/log.md)."""
    kind = item.get("type")
    if kind == "function_call":
        keys = ("type", "call_id", "name", "arguments")
        return {k: item[k] for k in keys}
    if kind == "message":
        text = "".join(p.get("text", "") for p in item["content"])
        return {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": text}],
        }
    return item


class Loop:
    """A conversation driven like a Turn: each call's output is replayed and every function
    call answered with `tool_output`, then the next call is made."""

    def __init__(self, provider, prompt: str = "go", tool_output: str = "file text"):
        self.provider = provider
        self.items: list[dict] = [user(prompt)]
        self.tool_output = tool_output
        self.results = []

    def call(self, on_delta=None, model: str = "gpt-5.5"):
        result = self.provider.stream(body(self.items, model), on_delta)
        self.results.append(result)
        for item in result.output_items:
            self.items.append(replay(item))
            if item.get("type") == "function_call":
                self.items.append(
                    {
                        "type": "function_call_output",
                        "call_id": item["call_id"],
                        "output": self.tool_output,
                    }
                )
        return result

    def say(self, text: str) -> None:
        self.items.append(user(text))


def frames(fake) -> list:
    """The response.create frames the fake received, in order."""
    return [r for r in fake.requests if r.kind == "ws_frame"]


def handshakes(fake) -> list:
    return [r for r in fake.requests if r.kind == "ws_handshake"]


def http_calls(fake) -> list:
    return [r for r in fake.requests if r.kind == "http" and r.method == "POST"]


def wire_json(record) -> dict:
    return json.loads(record.body)
