"""README.md is the user's reference: it names every command, option and environment
variable pixir accepts, and names none it does not. docs/ is the maintainer's: no file of the
repository points at a document outside it, and docs/cli.md's exit codes are errors.py's."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from pixir import cli

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")

# Read by pixir but not pixir settings: the help's width, and the login shell named in the
# developer context (as every program does with them).
CONVENTIONAL_VARIABLES = {"COLUMNS", "SHELL"}
# Read by `requests` (and websocket-client), not by pixir's own code.
LIBRARY_VARIABLES = {
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "REQUESTS_CA_BUNDLE",
    "SSL_CERT_FILE",
}


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
    # setup.py: read when pixir is built (the commit `--version` names)
    for path in [*(ROOT / "pixir").rglob("*.py"), ROOT / "setup.py"]:
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


# -- docs/ own the contract --------------------------------------------------------------------

# A reference to a document that is not in this repository — the specification pixir was
# first built from ("SPEC §4.2", "SPEC.md", a bare "§12"), or an issue tracker's numbers —
# points a maintainer at nothing. What they need belongs in docs/, and code comments point
# there. (This file is the one place that may spell them out.)
OUTSIDE_REFERENCE = re.compile(
    r"\bSPEC\b"  # "SPEC §4.2", "SPEC.md"
    r"|§\s*\d"  # a numbered section: "§12.16"
    r"|(?i:\bthe spec\b"  # "as the spec says"
    r"|\bissues? #?\d+)"  # "(issue 11)"
)
SKIPPED_DIRS = {".git", ".venv", "dist", "build", "node_modules", ".peers", ".hypothesis"}


def repository_files() -> list[Path]:
    """Every file of the repository: tracked, and new ones not yet added (ignored ones
    are not the project's)."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
        return [ROOT / name for name in listed.decode().split("\0") if name]
    except (OSError, subprocess.CalledProcessError):  # not a git checkout (an sdist)
        files = []
        for folder, dirs, names in os.walk(ROOT):
            dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS]
            files += [Path(folder) / name for name in names]
        return files


def test_nothing_points_at_a_document_outside_the_repository():
    found = []
    here = Path(__file__).resolve()
    for path in repository_files():
        if path.resolve() == here or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # binary
        for number, line in enumerate(text.splitlines(), 1):
            if OUTSIDE_REFERENCE.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}")
    assert len(repository_files()) > 100  # the listing works
    assert found == [], (
        "these lines point at a document that is not in the repository; write what a "
        "maintainer needs into docs/ and point there (docs/architecture.md lists the files):\n"
        + "\n".join(found)
    )


def test_the_outside_reference_check_catches_what_it_is_for():
    caught = [
        "# SPEC §4.2: the body",
        "see SPEC.md",
        "(§12.16)",
        "as the spec says",
        "(issue 11)",
        "Issue 8's acceptance",
    ]
    fine = ["docs/provider.md, quirk 16", "a json_schema spec object", "specs: list", "issued"]
    assert all(OUTSIDE_REFERENCE.search(line) for line in caught)
    assert not any(OUTSIDE_REFERENCE.search(line) for line in fine)


def test_every_error_kind_stands_on_the_row_of_its_exit_code_in_docs_cli():
    from pixir.errors import EXIT_CODES

    table = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    rows = {int(code): kinds for code, kinds in re.findall(r"^\| (\d+) \| (.*?) \|", table, re.M)}
    assert {0, 1, 2, 130} <= set(rows)  # the table was found
    for kind, code in EXIT_CODES.items():
        assert f"`{kind}`" in rows.get(code, ""), (
            f"{kind} exits {code}: add it to that row of docs/cli.md's exit-code table"
        )
