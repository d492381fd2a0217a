"""The Responses request body (docs/provider.md): the fixed fields, the per-credential rules
and the model-call knobs. What the agent says — instructions, the developer-context item, the
tool schemas — comes in as values (pixir/context.py builds them): the provider knows nothing
of the agent. `pixir preview` and every real call use `build_body`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

from pixir import sanitize
from pixir.config import Settings, WebSearch
from pixir.provider import websearch

INCLUDE = ("reasoning.encrypted_content",)
CACHE_KEY_MAX = 64
OUTPUT_FORMAT_NAME = "pixir_output"


@dataclass(frozen=True)
class RequestOptions:
    """Everything that shapes a request besides what the agent says and the History."""

    model: str
    session_id: str
    prompt_cache_key: str | None = None  # the root session's id; defaults to session_id
    credential_kind: str = "subscription"  # subscription | api_key
    reasoning_effort: str | None = None
    reasoning_summary: str | None = None  # auto | concise | detailed | none
    text_verbosity: str | None = None
    output_schema: dict | None = None
    web_search: WebSearch | None = None  # the hosted web search tool; None: off
    prompt_cache_retention: str | None = None  # in_memory | 24h; sent with an API key only


def build_body(
    options: RequestOptions,
    input_items: list[dict],
    *,
    instructions: str,
    tools: Sequence[dict] = (),
    head: dict | None = None,
) -> dict:
    """The complete request body, `input` = `head` (the developer-context item, when there
    is one) + `input_items`. Never `max_output_tokens` or `previous_response_id`, and
    `prompt_cache_retention` only with an API key: the subscription backend rejects the
    first and the last, and over HTTP with `store: false` there is nothing server-side to
    continue from. With web search on, its tool follows `tools`."""
    body: dict = {
        "model": options.model,
        "instructions": instructions,
        "input": [head, *input_items] if head is not None else list(input_items),
        "tools": list(tools),
        "tool_choice": "auto",
        "parallel_tool_calls": True,
    }
    reasoning = reasoning_config(options)
    if reasoning:
        body["reasoning"] = reasoning
    body["store"] = False
    body["stream"] = True
    body["include"] = list(INCLUDE)
    if options.web_search is not None:
        body["tools"].append(websearch.tool(options.web_search, options.credential_kind))
        if options.credential_kind == "api_key":  # the ChatGPT backend is not known to take it
            body["include"].append(websearch.INCLUDE_SOURCES)
    body["prompt_cache_key"] = cache_key(options.prompt_cache_key or options.session_id)
    if options.prompt_cache_retention and options.credential_kind == "api_key":
        body["prompt_cache_retention"] = options.prompt_cache_retention
    text: dict = {}
    if options.text_verbosity:
        text["verbosity"] = options.text_verbosity
    if options.output_schema is not None:
        text["format"] = {
            "type": "json_schema",
            "name": OUTPUT_FORMAT_NAME,
            "strict": True,
            "schema": options.output_schema,
        }
    if text:
        body["text"] = text
    return body


def reasoning_config(options: RequestOptions) -> dict:
    """`{"effort", "summary"}` as configured. The summary defaults to `auto` with a
    subscription and to none with an API key (unverified organisations get a 400 for
    summaries); `none` means no summary either way."""
    out: dict = {}
    if options.reasoning_effort:
        out["effort"] = options.reasoning_effort
    summary = options.reasoning_summary
    if summary is None and options.credential_kind == "subscription":
        summary = "auto"
    if summary and summary != "none":
        out["summary"] = summary
    return out


def cache_key(key: str) -> str:
    """A prompt_cache_key the API accepts: ≤ 64 printable ASCII characters. Session ids
    already are; anything else is replaced by a stable digest of itself."""
    if 0 < len(key) <= CACHE_KEY_MAX and all(" " < c <= "~" for c in key):
        return key
    return "pixir-" + hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()[:58]


def options_from_settings(
    settings: Settings,
    *,
    model: str,
    session_id: str,
    credential_kind: str,
    prompt_cache_key: str | None = None,
    output_schema: dict | None = None,
) -> RequestOptions:
    """RequestOptions for a Turn from resolved Settings: one place, so that `pixir preview`
    shows exactly what a real call sends."""
    return RequestOptions(
        model=model,
        session_id=session_id,
        prompt_cache_key=prompt_cache_key,
        credential_kind=credential_kind,
        reasoning_effort=settings.reasoning_effort,
        reasoning_summary=settings.reasoning_summary,
        text_verbosity=settings.text_verbosity,
        output_schema=output_schema,
        web_search=settings.web_search,
        prompt_cache_retention=settings.prompt_cache_retention,
    )


def body_bytes(body: dict) -> bytes:
    """The wire form of a body: compact UTF-8 JSON (what the byte counts refer to). A lone
    surrogate that reached the body anyway is sent as U+FFFD, never a crash."""
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return sanitize.text(text).encode("utf-8")
