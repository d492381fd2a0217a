"""The request body (docs/provider.md): the fixed fields and each per-credential rule. The
agent's part of a body (instructions, developer context, tools) is tested in
tests/unit/test_context.py, the golden bodies there too."""

from __future__ import annotations

import itertools

import pytest

from pixir import context
from pixir.config import Settings, WebSearch
from pixir.items import user_message
from pixir.provider.request import (
    RequestOptions,
    build_body,
    cache_key,
    options_from_settings,
)

SESSION = "20261121T143000-a1b2c3"
FORBIDDEN = ("max_output_tokens", "prompt_cache_retention", "previous_response_id")
PROMPT = [user_message("Fix the failing test in tests/test_app.py")]


def body(workspace, items, *, permission_mode="auto", tools=None, today="2026-11-21", **kw):
    """A Turn's body: the agent's Context for `workspace` and RequestOptions from `kw`."""
    options = RequestOptions(**{"model": "gpt-5.5", "session_id": SESSION, **kw})
    framing = context.build(workspace, permission_mode, tools=tools, today=today)
    return framing.body(options, items)


# -- always ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "mode", "effort", "summary", "verbosity", "schema"),
    list(
        itertools.product(
            ["subscription", "api_key"],
            ["auto", "ask", "read_only"],
            [None, "minimal", "xhigh"],
            [None, "auto", "none"],
            [None, "high"],
            [None, {"type": "object"}],
        )
    ),
)
def test_every_body_has_the_fixed_fields_and_never_the_forbidden_ones(
    tmp_path, kind, mode, effort, summary, verbosity, schema
):
    sent = body(
        tmp_path,
        PROMPT,
        permission_mode=mode,
        credential_kind=kind,
        reasoning_effort=effort,
        reasoning_summary=summary,
        text_verbosity=verbosity,
        output_schema=schema,
    )
    assert sent["store"] is False and sent["stream"] is True
    assert sent["include"] == ["reasoning.encrypted_content"]
    assert sent["tool_choice"] == "auto" and sent["parallel_tool_calls"] is True
    assert sent["prompt_cache_key"] == SESSION
    assert sent["model"] == "gpt-5.5"
    assert not set(FORBIDDEN) & set(sent)
    assert sent["input"][0]["role"] == "developer"
    assert sent["input"][1:] == PROMPT


def test_the_agents_values_are_sent_as_given_and_the_head_item_first():
    options = RequestOptions(model="gpt-5.5", session_id=SESSION)
    tool = {"type": "function", "name": "t", "description": "d", "parameters": {}}
    head = {"role": "developer", "content": [{"type": "input_text", "text": "where"}]}
    sent = build_body(options, PROMPT, instructions="be brief", tools=(tool,), head=head)
    assert sent["instructions"] == "be brief"
    assert sent["tools"] == [tool] and isinstance(sent["tools"], list)
    assert sent["input"] == [head, *PROMPT]
    bare = build_body(options, PROMPT, instructions="be brief")
    assert bare["input"] == PROMPT and bare["input"] is not PROMPT
    assert bare["tools"] == []


# -- reasoning, text, cache key -----------------------------------------------------------


def test_reasoning_summary_defaults_per_credential_kind(tmp_path):
    sub = body(tmp_path, [], credential_kind="subscription")
    key = body(tmp_path, [], credential_kind="api_key")
    assert sub["reasoning"] == {"summary": "auto"}
    assert "reasoning" not in key  # unverified organisations get a 400 for summaries


def test_reasoning_effort_and_explicit_summaries(tmp_path):
    sent = body(tmp_path, [], reasoning_effort="high", reasoning_summary="none")
    assert sent["reasoning"] == {"effort": "high"}
    sent = body(tmp_path, [], credential_kind="api_key", reasoning_summary="detailed")
    assert sent["reasoning"] == {"summary": "detailed"}


def test_output_schema_is_the_text_format(tmp_path):
    schema = {"type": "object", "properties": {}, "additionalProperties": False}
    sent = body(tmp_path, [], output_schema=schema, text_verbosity="medium")
    assert sent["text"] == {
        "verbosity": "medium",
        "format": {"type": "json_schema", "name": "pixir_output", "strict": True, "schema": schema},
    }
    assert "text" not in body(tmp_path, [])


def test_prompt_cache_key_is_the_root_session_and_always_valid(tmp_path):
    sent = body(tmp_path, [], prompt_cache_key="20260101T000000-000000")
    assert sent["prompt_cache_key"] == "20260101T000000-000000"
    for bad in ("x" * 65, "has space", "ünïcode", ""):
        key = cache_key(bad)
        assert len(key) <= 64 and all(" " < c <= "~" for c in key)
        assert key == cache_key(bad)  # stable


def test_options_from_settings_carries_the_settings():
    settings = Settings(
        permission_default="read_only",
        reasoning_effort="low",
        reasoning_summary="concise",
        text_verbosity="high",
    )
    opts = options_from_settings(
        settings, model="gpt-5.4", session_id=SESSION, credential_kind="api_key"
    )
    assert (opts.reasoning_effort, opts.reasoning_summary) == ("low", "concise")
    assert opts.text_verbosity == "high" and opts.credential_kind == "api_key"


# -- web search and prompt_cache_retention ------------------------------------------------------


def test_web_search_with_an_api_key_adds_the_tool_and_asks_for_sources(tmp_path):
    sent = body(tmp_path, PROMPT, credential_kind="api_key", web_search=WebSearch())
    plain = body(tmp_path, PROMPT, credential_kind="api_key")
    assert sent["tools"] == [*plain["tools"], {"type": "web_search", "search_context_size": "low"}]
    assert sent["include"] == ["reasoning.encrypted_content", "web_search_call.action.sources"]
    # the instructions do not change with the switch: only the tools do
    assert sent["instructions"] == plain["instructions"]


def test_web_search_on_the_chatgpt_backend_is_what_codex_sends_and_no_include(tmp_path):
    sent = body(tmp_path, PROMPT, web_search=WebSearch())
    assert sent["tools"][-1] == {"type": "web_search", "external_web_access": True}
    assert sent["include"] == ["reasoning.encrypted_content"]


def test_no_web_search_tool_unless_asked(tmp_path):
    assert all(t.get("type") == "function" for t in body(tmp_path, PROMPT)["tools"])


@pytest.mark.parametrize("retention", ["in_memory", "24h"])
def test_prompt_cache_retention_only_with_an_api_key(tmp_path, retention):
    api = body(tmp_path, PROMPT, credential_kind="api_key", prompt_cache_retention=retention)
    assert api["prompt_cache_retention"] == retention
    sub = body(tmp_path, PROMPT, prompt_cache_retention=retention)
    assert "prompt_cache_retention" not in sub


def test_options_from_settings_carry_web_search_and_retention():
    settings = Settings(web_search=WebSearch(live=False), prompt_cache_retention="24h")
    opts = options_from_settings(
        settings, model="gpt-5.5", session_id=SESSION, credential_kind="api_key"
    )
    assert opts.web_search == WebSearch(live=False)
    assert opts.prompt_cache_retention == "24h"
