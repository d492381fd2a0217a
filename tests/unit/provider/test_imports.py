"""The Provider knows nothing of the Log, the Turn or the terminal (SPEC §4, issue 4): no
module of pixir/provider imports them, at the top or inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

import pixir.provider

PROVIDER = Path(pixir.provider.__file__).parent
# the Log, sessions, the Turn and History, the presenters and the command line
FORBIDDEN = (
    "pixir.log",
    "pixir.session",
    "pixir.turn",
    "pixir.history",
    "pixir.compaction",
    "pixir.present",
    "pixir.prompt",
    "pixir.interrupt",
    "pixir.cli",
    "pixir.commands",
)


def imported_names(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_no_provider_module_imports_the_log_the_turn_or_the_terminal():
    modules = sorted(PROVIDER.glob("*.py"))
    assert len(modules) > 10  # the package is where we think it is
    bad = {
        path.name: sorted(
            name
            for name in imported_names(ast.parse(path.read_text(encoding="utf-8")))
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
        )
        for path in modules
    }
    assert {k: v for k, v in bad.items() if v} == {}
