"""Paths the tools may touch (docs/tools.md): relative to the workspace; `write`/`edit` confined to
it once symlinks are resolved, and never inside `<workspace>/.pixir/` (the session Logs)."""

from __future__ import annotations

import os
from pathlib import Path

from pixir import paths
from pixir.tools.result import ToolFailure


def resolve_for_read(workspace: Path, path: str) -> Path:
    """Where `read` looks: relative paths start at the workspace; absolute paths are allowed
    (reading is harmless to the workspace), except pixir's own credential file, whose tokens
    would otherwise end up in the Log."""
    _check_path(path)
    target = workspace / os.path.expanduser(path)
    if os.path.realpath(target) in _credential_files():
        raise ToolFailure("protected_path", f"{path} holds pixir's credentials; it is not shown")
    return target


def _credential_files() -> set[str]:
    return {os.path.realpath(paths.auth_file()), os.path.realpath(paths.auth_lock_file())}


def resolve_for_write(workspace: Path, path: str) -> Path:
    """The real path a write/edit will replace, after refusing anything that resolves outside
    the workspace (`..`, absolute paths, symlinks pointing out) or into `.pixir/`."""
    _check_path(path)
    root = Path(os.path.realpath(workspace))
    # `~` means the home directory here as it does for read (and in the model's shell), not
    # a folder named "~" in the workspace (which `rm -rf ~` would later be fatal to remove).
    try:
        target = Path(os.path.realpath(workspace / os.path.expanduser(path)))
    except OSError:  # a link that stopped being one between lstat and readlink
        raise ToolFailure(
            "path_changed", f"{path}: the path changed while pixir looked at it; try again"
        ) from None
    if target != root and root not in target.parents:
        raise ToolFailure(
            "outside_workspace",
            f"{path} resolves to {target}, outside the workspace {root}; "
            "write and edit only change files inside the workspace",
        )
    if target == root:
        raise ToolFailure("is_directory", f"{path} is the workspace directory itself")
    private = root / ".pixir"
    if target == private or private in target.parents:
        raise ToolFailure(
            "protected_path", f"{path} is inside .pixir/, where pixir keeps its session Logs"
        )
    return target


def _check_path(path: object) -> None:
    if not isinstance(path, str) or not path.strip():
        raise ToolFailure("invalid_arguments", "path must be a non-empty string")
    if "\0" in path:  # the OS refuses it: say so instead of crashing the tool
        raise ToolFailure("invalid_arguments", "path contains a NUL byte")


def display_path(workspace: Path, path: Path) -> str:
    """A path as the model and the user should see it: relative when inside the workspace."""
    try:
        return str(path.relative_to(workspace))
    except ValueError:
        try:
            return str(Path(os.path.realpath(path)).relative_to(os.path.realpath(workspace)))
        except ValueError:
            return str(path)
