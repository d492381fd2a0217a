"""Paths the tools may touch (SPEC §7.2): relative to the workspace; `write`/`edit` confined to
it once symlinks are resolved, and never inside `<workspace>/.pixir/` (the session Logs)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from pixir import paths
from pixir.tools.result import ToolFailure


def resolve_for_read(workspace: Path, path: str) -> Path:
    """Where `read` looks: relative paths start at the workspace; absolute paths are allowed
    (reading is harmless to the workspace), except pixir's own credential file, whose tokens
    would otherwise end up in the Log."""
    if not isinstance(path, str) or not path.strip():
        raise ToolFailure("invalid_arguments", "path must be a non-empty string")
    target = workspace / os.path.expanduser(path)
    if os.path.realpath(target) in _credential_files():
        raise ToolFailure("protected_path", f"{path} holds pixir's credentials; it is not shown")
    return target


def _credential_files() -> set[str]:
    return {os.path.realpath(paths.auth_file()), os.path.realpath(paths.auth_lock_file())}


def resolve_for_write(workspace: Path, path: str) -> Path:
    """The real path a write/edit will replace, after refusing anything that resolves outside
    the workspace (`..`, absolute paths, symlinks pointing out) or into `.pixir/`."""
    if not isinstance(path, str) or not path.strip():
        raise ToolFailure("invalid_arguments", "path must be a non-empty string")
    root = Path(os.path.realpath(workspace))
    target = Path(os.path.realpath(workspace / path))
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


def display_path(workspace: Path, path: Path) -> str:
    """A path as the model and the user should see it: relative when inside the workspace."""
    try:
        return str(path.relative_to(workspace))
    except ValueError:
        try:
            return str(Path(os.path.realpath(path)).relative_to(os.path.realpath(workspace)))
        except ValueError:
            return str(path)


def atomic_write(target: Path, data: bytes) -> None:
    """Replace `target` with `data` via a temporary file in the same directory and a rename,
    so a crash leaves either the old or the new content; an existing file keeps its mode."""
    try:
        mode = target.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".pixir-tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(temp, mode)
        os.replace(temp, target)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
