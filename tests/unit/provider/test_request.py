"""The request body (SPEC §4.2): golden bodies for the main cases, and each rule."""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import pytest

from pixir.config import Settings
from pixir.provider import request
from pixir.provider.request import (
    AGENTS_CAP,
    RequestOptions,
    agents_md,
    build_body,
    cache_key,
    instructions,
    options_from_settings,
    user_message,
)
from pixir.tools.schemas import TOOLS

GOLDEN = Path(__file__).parent / "golden"
SESSION = "20261121T143000-a1b2c3"
FORBIDDEN = ("max_output_tokens", "prompt_cache_retention", "previous_response_id")


@pytest.fixture
def fixed_env(monkeypatch, tmp_path):
    """A workspace in a repository with an AGENTS.md, and a fixed OS/shell description."""
    monkeypatch.setattr(request, "os_description", lambda: "Linux 6.1.0 (x86_64)")
    monkeypatch.setattr(
        request, "shell_description", lambda: "the bash tool runs `bash -c` (login shell: bash)"
    )
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "AGENTS.md").write_text("Run `make test` before finishing.\n")
    return repo


def options(workspace, **kw) -> RequestOptions:
    base = dict(model="gpt-5.5", session_id=SESSION, workspace=workspace, today="2026-11-21")
    base.update(kw)
    return RequestOptions(**base)


def check_golden(name: str, body: dict, workspace: Path) -> None:
    text = json.dumps(body, indent=2, ensure_ascii=False).replace(str(workspace), "<WORKSPACE>")
    path = GOLDEN / f"{name}.json"
    if os.environ.get("PIXIR_UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")
    assert text + "\n" == path.read_text(encoding="utf-8"), f"golden {name} changed"


PROMPT = [user_message("Fix the failing test in tests/test_app.py")]


def test_golden_subscription(fixed_env):
    body = build_body(options(fixed_env, credential_kind="subscription"), PROMPT)
    check_golden("subscription", body, fixed_env)


def test_golden_api_key(fixed_env):
    body = build_body(
        options(fixed_env, credential_kind="api_key", reasoning_effort="high"), PROMPT
    )
    check_golden("api_key", body, fixed_env)


def test_golden_output_schema(fixed_env):
    schema = {
        "type": "object",
        "properties": {"verdict": {"type": "string"}},
        "required": ["verdict"],
        "additionalProperties": False,
    }
    body = build_body(
        options(fixed_env, output_schema=schema, text_verbosity="low", reasoning_summary="concise"),
        PROMPT,
    )
    check_golden("output_schema", body, fixed_env)


def test_golden_read_only(fixed_env):
    body = build_body(options(fixed_env, permission_mode="read_only"), PROMPT)
    check_golden("read_only", body, fixed_env)


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
    opts = options(
        tmp_path,
        credential_kind=kind,
        permission_mode=mode,
        reasoning_effort=effort,
        reasoning_summary=summary,
        text_verbosity=verbosity,
        output_schema=schema,
    )
    body = build_body(opts, PROMPT)
    assert body["store"] is False and body["stream"] is True
    assert body["include"] == ["reasoning.encrypted_content"]
    assert body["tool_choice"] == "auto" and body["parallel_tool_calls"] is True
    assert body["prompt_cache_key"] == SESSION
    assert body["model"] == "gpt-5.5"
    assert not set(FORBIDDEN) & set(body)
    assert body["input"][0]["role"] == "developer"
    assert body["input"][1:] == PROMPT


def test_the_developer_context_item_comes_first_and_says_where_and_how(fixed_env):
    sub = fixed_env / "pkg"
    sub.mkdir()
    body = build_body(options(sub, permission_mode="ask"), PROMPT)
    item = body["input"][0]
    assert item["role"] == "developer"
    assert item["content"][0]["type"] == "input_text"
    text = item["content"][0]["text"]
    for expected in (f"Workspace: {sub}", "OS: Linux 6.1.0", "bash", "Date: 2026-11-21", "ask"):
        assert expected in text
    assert "Run `make test` before finishing." in text


def test_today_defaults_to_the_current_date(tmp_path):
    import datetime

    body = build_body(options(tmp_path, today=None), [])
    assert f"Date: {datetime.date.today().isoformat()}" in body["input"][0]["content"][0]["text"]


def test_no_workspace_means_no_developer_context_and_no_tools_for_ping():
    body = build_body(
        RequestOptions(model="gpt-5.5", session_id=SESSION, workspace=None, tools=()), PROMPT
    )
    assert body["input"] == PROMPT
    assert body["tools"] == []
    assert "no tools" in body["instructions"]


# -- instructions -------------------------------------------------------------------------


def test_instructions_are_byte_stable_for_a_mode_and_tool_set(tmp_path):
    one = build_body(options(tmp_path / "a", today="2026-01-01", session_id="s1"), PROMPT)
    two = build_body(
        options(tmp_path / "b", today="2027-12-31", session_id="s2"), [user_message("other")]
    )
    assert one["instructions"] == two["instructions"]
    assert str(tmp_path) not in one["instructions"]
    assert "2026" not in one["instructions"]


def test_instructions_differ_by_mode_and_by_tool_set():
    tools = list(TOOLS)
    texts = {mode: instructions(mode, tools) for mode in ("auto", "ask", "read_only")}
    assert len(set(texts.values())) == 3
    assert instructions("auto", tools[:2]) != texts["auto"]
    assert "read-only" in texts["read_only"]


# -- reasoning, text, cache key -----------------------------------------------------------


def test_reasoning_summary_defaults_per_credential_kind(tmp_path):
    sub = build_body(options(tmp_path, credential_kind="subscription"), [])
    key = build_body(options(tmp_path, credential_kind="api_key"), [])
    assert sub["reasoning"] == {"summary": "auto"}
    assert "reasoning" not in key  # unverified organisations get a 400 for summaries


def test_reasoning_effort_and_explicit_summaries(tmp_path):
    body = build_body(options(tmp_path, reasoning_effort="high", reasoning_summary="none"), [])
    assert body["reasoning"] == {"effort": "high"}
    body = build_body(
        options(tmp_path, credential_kind="api_key", reasoning_summary="detailed"), []
    )
    assert body["reasoning"] == {"summary": "detailed"}


def test_output_schema_is_the_text_format(tmp_path):
    schema = {"type": "object", "properties": {}, "additionalProperties": False}
    body = build_body(options(tmp_path, output_schema=schema, text_verbosity="medium"), [])
    assert body["text"] == {
        "verbosity": "medium",
        "format": {"type": "json_schema", "name": "pixir_output", "strict": True, "schema": schema},
    }
    assert "text" not in build_body(options(tmp_path), [])


def test_prompt_cache_key_is_the_root_session_and_always_valid(tmp_path):
    body = build_body(options(tmp_path, prompt_cache_key="20260101T000000-000000"), [])
    assert body["prompt_cache_key"] == "20260101T000000-000000"
    for bad in ("x" * 65, "has space", "ünïcode", ""):
        key = cache_key(bad)
        assert len(key) <= 64 and all(" " < c <= "~" for c in key)
        assert key == cache_key(bad)  # stable


def test_function_tools_have_strict_enough_schemas():
    def objects(schema):
        if isinstance(schema, dict):
            if schema.get("type") == "object":
                yield schema
            for value in schema.values():
                yield from objects(value)
        elif isinstance(schema, list):
            for value in schema:
                yield from objects(value)

    for tool in build_body(options(None), [])["tools"]:
        assert set(tool) >= {"type", "name", "description", "parameters"}
        assert tool["type"] == "function"
        found = list(objects(tool["parameters"]))
        assert found and all(o.get("additionalProperties") is False for o in found)


def test_options_from_settings_carries_the_settings():
    settings = Settings(
        permission_default="read_only",
        reasoning_effort="low",
        reasoning_summary="concise",
        text_verbosity="high",
    )
    opts = options_from_settings(
        settings, model="gpt-5.4", session_id=SESSION, credential_kind="api_key", workspace="/w"
    )
    assert (opts.permission_mode, opts.reasoning_effort, opts.reasoning_summary) == (
        "read_only",
        "low",
        "concise",
    )
    assert opts.text_verbosity == "high" and opts.credential_kind == "api_key"


# -- AGENTS.md ------------------------------------------------------------------------------


def test_agents_md_from_the_repository_root_down_nearest_last(tmp_path):
    (tmp_path / "AGENTS.md").write_text("ABOVE THE REPO")
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "AGENTS.md").write_text("ROOT")
    (repo / "a").mkdir()
    (repo / "a" / "AGENTS.md").write_text("MIDDLE")
    (repo / "a" / "b").mkdir()
    (repo / "a" / "b" / "AGENTS.md").write_text("NEAREST")
    text = agents_md(repo / "a" / "b")
    assert "ABOVE THE REPO" not in text
    assert text.index("ROOT") < text.index("MIDDLE") < text.index("NEAREST")
    assert 'path="a/b/AGENTS.md"' in text


def test_outside_a_repository_only_the_workspace_agents_md(tmp_path):
    (tmp_path / "AGENTS.md").write_text("PARENT")
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "AGENTS.md").write_text("HERE")
    text = agents_md(tmp_path / "w")
    assert "HERE" in text and "PARENT" not in text
    assert agents_md(tmp_path / "nothing-here") == ""


def test_agents_md_is_capped_at_32_kib_cutting_the_farthest_with_a_note(tmp_path):
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "AGENTS.md").write_text("R" * 30_000)
    (repo / "w").mkdir()
    (repo / "w" / "AGENTS.md").write_text("N" * 10_000)
    text = agents_md(repo / "w")
    assert text.count("N") >= 10_000  # the nearest file is whole
    assert text.count("R") == AGENTS_CAP - 10_000
    assert "cut" in text and "32 KiB" in text
    assert len(text.encode()) < AGENTS_CAP + 1000


def test_unreadable_or_odd_agents_md_never_breaks_the_body(tmp_path):
    (tmp_path / "AGENTS.md").mkdir()  # a directory, not a file
    assert agents_md(tmp_path) == ""
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "AGENTS.md").write_bytes(b"\xff\xfe bad utf-8 \xe2\x82")
    assert "bad utf-8" in agents_md(tmp_path / "w")
