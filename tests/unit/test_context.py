"""What the agent tells the model (pixir/context.py): the instructions, the developer-context
item, the AGENTS.md walk and the tool schemas — and golden request bodies for the main
cases, built the way a Turn builds them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pixir import context
from pixir.context import AGENTS_CAP, agents_md, instructions
from pixir.items import user_message
from pixir.provider.request import RequestOptions
from pixir.sandbox.policy import Policy, Sandbox
from pixir.tools.schemas import TOOLS

GOLDEN = Path(__file__).parent / "golden"
SESSION = "20261121T143000-a1b2c3"
PROMPT = [user_message("Fix the failing test in tests/test_app.py")]


@pytest.fixture
def fixed_env(monkeypatch, tmp_path):
    """A workspace in a repository with an AGENTS.md, and a fixed OS/shell description."""
    monkeypatch.setattr(context, "os_description", lambda: "Linux 6.1.0 (x86_64)")
    monkeypatch.setattr(
        context, "shell_description", lambda: "the bash tool runs `bash -c` (login shell: bash)"
    )
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "AGENTS.md").write_text("Run `make test` before finishing.\n")
    return repo


def body(
    workspace,
    items,
    *,
    permission_mode="auto",
    tools=None,
    today="2026-11-21",
    sandbox=None,
    **kw,
):
    """A Turn's body: the Context for `workspace` and RequestOptions from `kw`."""
    options = RequestOptions(**{"model": "gpt-5.5", "session_id": SESSION, **kw})
    framing = context.build(workspace, permission_mode, tools=tools, today=today, sandbox=sandbox)
    return framing.body(options, items)


def check_golden(name: str, sent: dict, workspace: Path) -> None:
    text = json.dumps(sent, indent=2, ensure_ascii=False).replace(str(workspace), "<WORKSPACE>")
    path = GOLDEN / f"{name}.json"
    if os.environ.get("PIXIR_UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")
    assert text + "\n" == path.read_text(encoding="utf-8"), f"golden {name} changed"


# -- golden bodies ----------------------------------------------------------------------------


def test_golden_subscription(fixed_env):
    check_golden("subscription", body(fixed_env, PROMPT, credential_kind="subscription"), fixed_env)


def test_golden_api_key(fixed_env):
    sent = body(fixed_env, PROMPT, credential_kind="api_key", reasoning_effort="high")
    check_golden("api_key", sent, fixed_env)


def test_golden_output_schema(fixed_env):
    schema = {
        "type": "object",
        "properties": {"verdict": {"type": "string"}},
        "required": ["verdict"],
        "additionalProperties": False,
    }
    sent = body(
        fixed_env,
        PROMPT,
        output_schema=schema,
        text_verbosity="low",
        reasoning_summary="concise",
    )
    check_golden("output_schema", sent, fixed_env)


def test_golden_read_only(fixed_env):
    confined = Sandbox(Policy("read_only"), abi=7).for_model()
    sent = body(fixed_env, PROMPT, permission_mode="read_only", sandbox=confined)
    check_golden("read_only", sent, fixed_env)


# -- the developer context --------------------------------------------------------------------


def test_the_developer_context_item_comes_first_and_says_where_and_how(fixed_env):
    sub = fixed_env / "pkg"
    sub.mkdir()
    sent = body(sub, PROMPT, permission_mode="ask")
    item = sent["input"][0]
    assert item["role"] == "developer"
    assert item["content"][0]["type"] == "input_text"
    text = item["content"][0]["text"]
    for expected in (f"Workspace: {sub}", "OS: Linux 6.1.0", "bash", "Date: 2026-11-21", "ask"):
        assert expected in text
    assert "Run `make test` before finishing." in text


def test_the_sandbox_in_force_is_a_line_of_the_developer_context(tmp_path):
    def developer_text(sandbox):
        return body(tmp_path, [], sandbox=sandbox)["input"][0]["content"][0]["text"]

    none = Sandbox(Policy("auto"), abi=0, why_not="--sandbox off").for_model()
    assert f"\nSandbox: {none}\n</environment_context>" in developer_text(none)
    assert none.startswith("none (--sandbox off); commands run with the user's full rights")
    assert "Sandbox:" not in developer_text(None)


def test_today_defaults_to_the_current_date(tmp_path):
    import datetime

    sent = body(tmp_path, [], today=None)
    assert f"Date: {datetime.date.today().isoformat()}" in sent["input"][0]["content"][0]["text"]


def test_no_workspace_means_no_developer_context_and_no_tools_for_ping():
    sent = body(None, PROMPT, tools=())
    assert sent["input"] == PROMPT
    assert sent["tools"] == []
    assert "no tools" in sent["instructions"]


# -- instructions -------------------------------------------------------------------------


def test_instructions_are_byte_stable_for_a_mode_and_tool_set(tmp_path):
    one = body(tmp_path / "a", PROMPT, today="2026-01-01", session_id="s1")
    two = body(tmp_path / "b", [user_message("other")], today="2027-12-31", session_id="s2")
    assert one["instructions"] == two["instructions"]
    assert str(tmp_path) not in one["instructions"]
    assert "2026" not in one["instructions"]


def test_instructions_differ_by_mode_and_by_tool_set():
    tools = list(TOOLS)
    texts = {mode: instructions(mode, tools) for mode in ("auto", "ask", "read_only")}
    assert len(set(texts.values())) == 3
    assert instructions("auto", tools[:2]) != texts["auto"]
    assert "read-only" in texts["read_only"]


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

    for tool in body(None, [])["tools"]:
        assert set(tool) >= {"type", "name", "description", "parameters"}
        assert tool["type"] == "function"
        found = list(objects(tool["parameters"]))
        assert found and all(o.get("additionalProperties") is False for o in found)


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


def test_the_users_own_agents_md_applies_everywhere_before_the_repositorys(tmp_path, pixir_home):
    pixir_home.mkdir()
    (pixir_home / "AGENTS.md").write_text("MINE: answer in English")
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "AGENTS.md").write_text("ROOT")
    (repo / "pkg").mkdir()
    (repo / "pkg" / "AGENTS.md").write_text("NEAREST")
    text = agents_md(repo / "pkg")
    assert text.index("MINE") < text.index("ROOT") < text.index("NEAREST")
    assert f'<agents_md path="{pixir_home / "AGENTS.md"}">' in text
    assert context.agents_in_use(repo / "pkg") == (
        str(pixir_home / "AGENTS.md"),
        "AGENTS.md",
        "pkg/AGENTS.md",
    )
    # a workspace with nothing of its own still gets the user's
    (tmp_path / "plain").mkdir()
    assert context.agents_in_use(tmp_path / "plain") == (str(pixir_home / "AGENTS.md"),)
    framing = context.build(tmp_path / "plain", "auto")
    assert "MINE: answer in English" in framing.head["content"][0]["text"]
    assert framing.agents == (str(pixir_home / "AGENTS.md"),)


def test_the_users_own_agents_md_is_cut_first(tmp_path, pixir_home):
    pixir_home.mkdir()
    (pixir_home / "AGENTS.md").write_text("U" * 20_000)
    (tmp_path / "AGENTS.md").write_text("W" * 20_000)
    text = agents_md(tmp_path)
    assert text.count("W") == 20_000 and text.count("U") == AGENTS_CAP - 20_000
    assert context.agents_in_use(tmp_path) == (f"{pixir_home / 'AGENTS.md'} (cut)", "AGENTS.md")


def test_a_pixir_home_inside_the_repository_is_not_read_twice(tmp_path, monkeypatch):
    (tmp_path / ".git").mkdir()
    (tmp_path / "AGENTS.md").write_text("ONCE")
    monkeypatch.setenv("PIXIR_HOME", str(tmp_path))
    assert agents_md(tmp_path).count("ONCE") == 1
