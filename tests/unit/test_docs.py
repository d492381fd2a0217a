"""README.md is the user's reference (issue 2: "keep it true as features land"): it names
every command, option and environment variable pixir accepts, and names none it does not."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pixir import cli

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")

# Read by pixir but not pixir settings: the help's width, and the login shell named in the
# developer context (as every program does with them).
CONVENTIONAL_VARIABLES = {"COLUMNS", "SHELL"}
# Read by `requests` (and websocket-client), not by pixir's own code.
LIBRARY_VARIABLES = {"HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"}


def mentioned(token: str) -> bool:
    """`token` appears in the README as a whole word (`--last`, not `--last-thing`)."""
    return re.search(rf"(?<![\w-]){re.escape(token)}(?![\w-])", README) is not None


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


@pytest.mark.parametrize("name", list(cli.COMMANDS))
def test_every_command_and_each_of_its_options_is_in_the_readme(name):
    if name != "run":
        assert f"pixir {name}" in README
    for action in cli.build_parser(name)._actions:
        for flag in action.option_strings:
            assert mentioned(flag), f"`pixir {name}` accepts {flag}, which README.md never names"


def test_the_commands_the_readme_lists_exist():
    listing = section("Commands").split("```")[1]
    words = {m.group(1) for m in re.finditer(r"^pixir ([a-z]+)\b", listing, re.M)}
    assert words
    assert words <= set(cli.COMMANDS), words - set(cli.COMMANDS)


def test_every_option_in_the_readme_table_is_accepted():
    table = section("Options")
    flags = re.findall(r"^\| `([^`]+)`", table, re.M)
    assert len(flags) >= 15
    accepted = {
        flag for action in cli.build_parser("run")._actions for flag in action.option_strings
    }
    for cell in flags:
        for flag in re.findall(r"(?<![\w-])(--?[a-zA-Z][\w-]*)", cell):
            assert flag in accepted, f"README.md lists {flag}, which `pixir` does not accept"


def variables_read_by_pixir() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "pixir").rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        names |= set(re.findall(r"\benv(?:iron)?\.get\(\s*\"([A-Z][A-Z0-9_]+)\"", source))
        names |= set(re.findall(r"\"([A-Z][A-Z0-9_]+)\": \"[a-z_]+\"", source))  # ENV_SETTINGS
        names |= set(re.findall(r"_base_url\(env, \"([A-Z][A-Z0-9_]+)\"", source))
        for group in re.findall(r"get\(var\) for var in \(([^)]*)\)", source):
            names |= set(re.findall(r"\"([A-Z][A-Z0-9_]+)\"", group))
    return names


def test_every_environment_variable_pixir_reads_is_documented():
    read = variables_read_by_pixir()
    assert {"PIXIR_HOME", "PIXIR_MODEL", "OPENAI_BASE_URL", "SSH_TTY"} <= read  # the scan works
    table = section("Environment variables")
    for name in sorted(read - CONVENTIONAL_VARIABLES):
        assert f"`{name}`" in table, f"{name} is not in README.md's environment table"


def test_every_documented_environment_variable_is_read():
    table = section("Environment variables")
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", table))
    assert len(documented) >= 12
    unread = documented - variables_read_by_pixir() - LIBRARY_VARIABLES
    assert not unread, f"README.md documents variables pixir never reads: {sorted(unread)}"
