"""The rules of docs/architecture.md. The layering, checked on the source of every module of
pixir/: every import (at the top, inside a function, under `if TYPE_CHECKING:`) points to
the module's own layer or one below, with the stricter rules the document states on top.
And the unit tests' layout, which mirrors the package.

The checker is a pair of plain functions over (module name, source) so that the tests at
the end can feed it hostile sources and see each rule fire."""

from __future__ import annotations

import ast
from pathlib import Path

import pixir

PACKAGE = Path(pixir.__file__).parent
ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "tests" / "unit"

# docs/architecture.md "Layers", bottom first. A name covers the module and, for a package,
# everything inside it ("pixir" alone is only the package's __init__).
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "shared",
        (
            "pixir",
            "pixir.choices",
            "pixir.config",
            "pixir.items",
            "pixir.paths",
            "pixir.errors",
            "pixir.fsutil",
            "pixir.neterror",
            "pixir.debug",
            "pixir.interrupt",
            "pixir.sanitize",
            "pixir.sandbox",
            "pixir.buildinfo",
            "pixir.shivcache",
            "pixir.images",
        ),
    ),
    ("parts", ("pixir.provider", "pixir.tools", "pixir.auth", "pixir.log", "pixir.history")),
    (
        "agent",
        ("pixir.session", "pixir.turn", "pixir.compaction", "pixir.context", "pixir.output_schema"),
    ),
    ("runner", ("pixir.runner",)),
    ("front", ("pixir.present", "pixir.prompt")),
    ("commands", ("pixir.commands", "pixir.acp")),
    ("cli", ("pixir.cli", "pixir.__main__", "pixir.usage", "pixir.completion")),
]
RANK = {name: rank for rank, (name, _) in enumerate(LAYERS)}
# Layers whose units know nothing of each other: each imports only its own unit and the
# shared pieces (the provider no tool, the tools no provider, present/ no Provider or Log).
INDEPENDENT = ("parts", "front")
# Imported inside the functions that use them, never when a module loads (start-up).
NETWORK = ("requests", "websocket", "jwt", "urllib3")
# The agent and the runner run on worker threads of the ACP server as well as in the command
# line: they never touch the terminal, stdin or signal handlers (emit, ask, warn do).
HEADLESS = ("agent", "runner")
TERMINAL_MODULES = ("signal", "termios", "tty", "readline", "getpass")
TERMINAL_NAMES = {
    "sys.stdin",
    "sys.stdout",
    "sys.stderr",
    "print",
    "input",
    "handling_sigint",
    "interrupt.install",
}
# Packages whose __init__.py imports nothing.
EMPTY_INITS = (
    "pixir.provider",
    "pixir.auth",
    "pixir.tools",
    "pixir.present",
    "pixir.sandbox",
    "pixir.compaction",
)


def unit_of(module: str) -> tuple[str, str] | None:
    """(layer, unit): the unit is the entry of LAYERS the module falls under."""
    for layer, units in LAYERS:
        for unit in units:
            if module == unit or (unit != "pixir" and module.startswith(unit + ".")):
                return layer, unit
    return None


def module_names(root: Path = PACKAGE) -> dict[str, Path]:
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def imports(module: str, source: str, known: set[str]) -> list[tuple[str, int, bool]]:
    """(imported module, line, at load time?) for every import in `source`. `from a import
    b` names `a.b` when that is a module of pixir, else `a`. "At load time" means outside
    any function and outside `if TYPE_CHECKING:`."""
    tree = ast.parse(source)
    package = (
        module if module in known and _is_package(module, known) else module.rpartition(".")[0]
    )
    found: list[tuple[str, int, bool]] = []

    def visit(node: ast.AST, at_load: bool) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            at_load = False
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, False)
            for child in node.orelse:
                visit(child, at_load)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append((alias.name, node.lineno, at_load))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.append((full if full in known else base, node.lineno, at_load))
        for child in ast.iter_child_nodes(node):
            visit(child, at_load)

    visit(tree, True)
    return found


def _is_package(module: str, known: set[str]) -> bool:
    return any(other.startswith(module + ".") for other in known)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def violations(sources: dict[str, str]) -> list[str]:
    """Every broken rule of docs/architecture.md in `sources` (module name → source)."""
    known = set(sources)
    problems = []
    for module, source in sorted(sources.items()):
        home = unit_of(module)
        if home is None:
            problems.append(
                f"{module}: in no layer — place it in docs/architecture.md and in LAYERS here"
            )
            continue
        layer, unit = home
        found = imports(module, source, known)
        if module in EMPTY_INITS and found:
            problems.append(f"{module}: __init__.py must import nothing")
        if layer in HEADLESS:
            problems += [f"{module}:{line}: {layer} uses {name}" for name, line in terminal(source)]
        for name, line, at_load in found:
            top = name.split(".")[0]
            if layer in HEADLESS and top in TERMINAL_MODULES:
                problems.append(f"{module}:{line}: {layer} imports {name}")
            if top in NETWORK:
                if at_load:
                    problems.append(f"{module}:{line}: imports {name} at load time")
                continue
            if top != "pixir":
                continue
            target = unit_of(name)
            if target is None:
                problems.append(f"{module}:{line}: imports {name}, which is in no layer")
                continue
            other_layer, other_unit = target
            if RANK[other_layer] > RANK[layer]:
                problems.append(f"{module}:{line}: {layer} imports {name} ({other_layer}, above)")
            elif layer in INDEPENDENT and other_layer == layer and other_unit != unit:
                problems.append(
                    f"{module}:{line}: {unit} imports {name} (same layer: {other_unit})"
                )
            elif layer in INDEPENDENT and other_layer not in ("shared", layer):
                problems.append(f"{module}:{line}: {unit} imports {name} ({other_layer})")
    return problems


def terminal(source: str) -> list[tuple[str, int]]:
    """(name, line) of every use of the terminal, stdin or the SIGINT handling in `source`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name) and node.id in TERMINAL_NAMES:
            found.append((node.id, node.lineno))
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            dotted = f"{node.value.id}.{node.attr}"
            if dotted in TERMINAL_NAMES or node.attr in TERMINAL_NAMES:
                found.append((dotted, node.lineno))
        elif isinstance(node, ast.ImportFrom):
            found += [(a.name, node.lineno) for a in node.names if a.name in TERMINAL_NAMES]
    return found


def pixir_sources() -> dict[str, str]:
    return {name: path.read_text(encoding="utf-8") for name, path in module_names().items()}


# -- the rules hold for pixir/ -----------------------------------------------------------------


def test_every_module_of_pixir_keeps_the_layering_rules():
    sources = pixir_sources()
    assert len(sources) > 60 and "pixir.provider.client" in sources  # we read the real tree
    assert violations(sources) == []


def test_every_layer_names_modules_that_exist():
    sources = pixir_sources()
    for _, units in LAYERS:
        for unit in units:
            assert unit in sources or any(m.startswith(unit + ".") for m in sources), unit


# -- and the checker catches each kind of break -------------------------------------------------

BASE = {"pixir": "", "pixir.errors": "", "pixir.log": "", "pixir.turn": ""}


def check(**extra: str) -> list[str]:
    return violations({**BASE, **{k.replace("__", "."): v for k, v in extra.items()}})


def test_a_lazy_upward_import_inside_a_function_is_caught():
    source = "def f():\n    from pixir.turn import Turn\n"
    assert check(pixir__provider__x=source) == [
        "pixir.provider.x:2: parts imports pixir.turn (agent, above)"
    ]


def test_from_pixir_import_module_and_relative_imports_are_resolved():
    assert check(pixir__provider__x="from pixir import log\n") == [
        "pixir.provider.x:1: pixir.provider imports pixir.log (same layer: pixir.log)"
    ]
    sources = {**BASE, "pixir.present": "", "pixir.present.a": "from .. import turn\n"}
    assert violations(sources) == ["pixir.present.a:1: pixir.present imports pixir.turn (agent)"]


def test_the_agent_never_imports_the_front_ends():
    found = check(
        pixir__session="import pixir.commands.run\n", pixir__commands="", pixir__commands__run=""
    )
    assert found == ["pixir.session:1: agent imports pixir.commands.run (commands, above)"]


def test_parts_do_not_import_each_other_but_may_import_their_own_package():
    assert check(pixir__tools__a="import pixir.provider.client\n", pixir__provider__client="") == [
        "pixir.tools.a:1: pixir.tools imports pixir.provider.client (same layer: pixir.provider)"
    ]
    assert check(pixir__tools__a="from pixir.tools.b import x\n", pixir__tools__b="") == []


def test_presenters_import_only_shared_pieces():
    assert check(pixir__present__h="from pixir.log import read_events\n") == [
        "pixir.present.h:1: pixir.present imports pixir.log (parts)"
    ]
    assert check(pixir__present__h="from pixir.errors import PixirError\n") == []


def test_type_checking_imports_count_for_direction():
    source = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pixir.turn import T\n"
    assert check(pixir__provider__x=source) == [
        "pixir.provider.x:3: parts imports pixir.turn (agent, above)"
    ]


def test_the_agent_and_the_runner_never_touch_the_terminal_or_signals():
    assert check(pixir__runner="def f():\n    import sys\n    sys.stdin.readline()\n") == [
        "pixir.runner:3: runner uses sys.stdin"
    ]
    assert check(pixir__turn="def f():\n    print('hi')\n") == ["pixir.turn:2: agent uses print"]
    assert check(pixir__runner="def f():\n    import signal\n") == [
        "pixir.runner:2: runner imports signal"
    ]
    assert check(
        pixir__runner="from pixir.interrupt import handling_sigint\n", pixir__interrupt=""
    ) == ["pixir.runner:1: runner uses handling_sigint"]
    assert check(pixir__runner="from pixir.interrupt import Cancel\n", pixir__interrupt="") == []


def test_network_libraries_only_inside_functions():
    assert check(pixir__provider__x="import requests\n") == [
        "pixir.provider.x:1: imports requests at load time"
    ]
    assert check(pixir__provider__x="try:\n    import websocket\nexcept ImportError:\n    pass\n")
    assert check(pixir__provider__x="def f():\n    import requests\n") == []
    guarded = "import typing\nif typing.TYPE_CHECKING:\n    import requests\n"
    assert check(pixir__provider__x=guarded) == []


def test_empty_package_inits_and_unplaced_modules():
    assert check(pixir__provider="from pixir.errors import PixirError\n") == [
        "pixir.provider: __init__.py must import nothing"
    ]
    assert check(pixir__newthing="") == [
        "pixir.newthing: in no layer — place it in docs/architecture.md and in LAYERS here"
    ]


# Unit test modules that test no single pixir module, and why.
NOT_MIRRORED = {
    "test_architecture.py": "the rules of docs/architecture.md",
    "test_packaging.py": "pyproject.toml and the start-up import budget",
    "test_docs.py": "README.md and docs/ against the code",
    "test_loopback_guard.py": "the test session's own network guard (tests/conftest.py)",
}


def test_unit_tests_mirror_the_package():
    """`tests/unit/<package>/test_<module>.py` tests `pixir/<package>/<module>.py`; what
    several test modules share lives in conftest.py files or tests/unit/helpers/."""
    misplaced = []
    for path in sorted(UNIT.rglob("*.py")):
        rel = path.relative_to(UNIT)
        if rel.parts[0] == "helpers" or rel.name in ("__init__.py", "conftest.py"):
            continue
        if rel.name.startswith("test_") and str(rel) in NOT_MIRRORED:
            continue
        module = ROOT / "pixir" / rel.parent / rel.name.removeprefix("test_")
        if not rel.name.startswith("test_") or not module.is_file():
            misplaced.append(str(rel))
    assert misplaced == [], (
        "unit test modules must be named for the pixir module they test "
        "(tests/unit/tools/test_bash.py for pixir/tools/bash.py); shared helpers go to "
        "tests/unit/helpers/"
    )
    assert len(list(UNIT.rglob("test_*.py"))) > 40  # the walk found the tests


# pixir modules without their own unit test module, and why (path under pixir/ → reason).
# Keep it short: a module tested only end to end belongs here only with a reason.
UNTESTED: dict[str, str] = {}


def test_every_module_has_its_unit_test_module():
    """The other direction: `pixir/<package>/<module>.py` has its
    `tests/unit/<package>/test_<module>.py` (package `__init__.py` and `__main__.py` aside)."""
    modules = [
        path.relative_to(ROOT / "pixir")
        for path in sorted((ROOT / "pixir").rglob("*.py"))
        if path.name not in ("__init__.py", "__main__.py")
    ]
    assert len(modules) > 40  # the walk found the package
    untested = [
        str(module)
        for module in modules
        if str(module) not in UNTESTED
        and not (UNIT / module.parent / f"test_{module.name}").is_file()
    ]
    assert untested == [], (
        "every pixir module needs its unit tests in tests/unit/<package>/test_<module>.py "
        "(or a line in UNTESTED saying why not)"
    )
    stale = [
        m
        for m in UNTESTED
        if not (ROOT / "pixir" / m).is_file()
        or (UNIT / Path(m).parent / f"test_{Path(m).name}").is_file()
    ]
    assert stale == [], "UNTESTED names a module that is gone or has its tests now"


def test_unit_test_folders_are_pixir_packages():
    folders = {p.parent.relative_to(UNIT) for p in UNIT.rglob("*.py") if p.parent != UNIT} - {
        Path("helpers")
    }
    not_packages = [f for f in folders if not (ROOT / "pixir" / f / "__init__.py").is_file()]
    assert not_packages == []
