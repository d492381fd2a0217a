"""One module per command; each exposes `run(args) -> exit code`. Shared glue lives here."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from pixir import sanitize
from pixir.config import Settings, load_settings
from pixir.errors import PixirError


def settings_for(args: argparse.Namespace, warn: bool = True) -> Settings:
    """Settings with this command line's flags on top; config warnings go to stderr once."""
    permission = None
    if getattr(args, "read_only", False):
        permission = "read_only"
    elif getattr(args, "ask", False):
        permission = "ask"
    flags = {
        "model": getattr(args, "model", None),
        "transport": getattr(args, "transport", None),
        "reasoning_effort": getattr(args, "reasoning_effort", None),
        "max_steps": getattr(args, "max_steps", None),
        "permission_default": permission,
        "sandbox": getattr(args, "sandbox", None),
        "web_search": True if getattr(args, "web_search", False) else None,
    }
    settings = load_settings(flags)
    if warn:
        for line in settings.warnings:
            print(sanitize.terminal(f"warning: {line}"), file=sys.stderr)
    return settings


def workspace_for(args: argparse.Namespace) -> Path:
    """The workspace root: `-C DIR` or the current directory, resolved."""
    folder = getattr(args, "cd", None)
    if folder is None:
        return Path(os.getcwd()).resolve()
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise PixirError(
            "invalid_arguments",
            f"-C {folder}: no such directory",
            {"path": str(path)},
        )
    return path.resolve()


def sessions_root_for(args: argparse.Namespace, workspace: Path | None = None) -> Path:
    """Where this command line's sessions live: `-C DIR` itself, else the root of the
    repository holding the current directory (paths.sessions_root), so that `pixir -c`,
    `resume`, `sessions` and `log` in a subdirectory find the repository's sessions."""
    from pixir.paths import sessions_root

    workspace = workspace if workspace is not None else workspace_for(args)
    if getattr(args, "cd", None) is not None:
        return workspace
    return sessions_root(workspace)


def local_time(ts: str | None, *, seconds: bool = True) -> str:
    """A Log timestamp (`2026-11-21T14:30:00.123456Z`, UTC) in the local zone, with the
    zone: `2026-11-21 15:30:00 CET` (`-` when missing or unreadable)."""
    import calendar
    import time

    if not ts:
        return "-"
    try:
        moment = calendar.timegm(time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        return ts
    local = time.localtime(moment)
    shown = time.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M", local)
    zone = time.strftime("%Z", local) or time.strftime("%z", local)
    return f"{shown} {zone}".rstrip()


def print_json(obj: dict) -> None:
    """One JSON object on one line of stdout."""
    sys.stdout.write(sanitize.for_stream(json.dumps(obj, ensure_ascii=False), sys.stdout) + "\n")
    sys.stdout.flush()
