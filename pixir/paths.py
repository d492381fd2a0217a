"""Where pixir keeps things: the global home (~/.pixir) and each workspace's .pixir/."""

from __future__ import annotations

import os
from pathlib import Path

from pixir.errors import PixirError


def home() -> Path:
    """The global home: `$PIXIR_HOME`, else `~/.pixir`. Not created here."""
    override = os.environ.get("PIXIR_HOME")
    if override:
        return Path(override).expanduser()
    return Path.home() / ".pixir"


def ensure_home() -> Path:
    """Create the home with mode 0700 when missing (tokens live there) and return it."""
    path = home()
    if not path.is_dir():
        try:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise PixirError(
                "config_invalid",
                f"cannot create pixir home {path}: {exc.strerror}",
                {"path": str(path)},
                hint="set PIXIR_HOME to a writable directory",
            ) from None
    return path


def auth_file() -> Path:
    return home() / "auth.json"


def auth_lock_file() -> Path:
    return home() / "auth.json.lock"


def config_file() -> Path:
    return home() / "config.json"


def history_file() -> Path:
    """Readline history of the interactive mode."""
    return home() / "history"


def crash_dir() -> Path:
    return home() / "crash"


def state_dir(workspace: Path) -> Path:
    """The workspace's private directory, `<workspace>/.pixir`."""
    return workspace / ".pixir"


def sessions_dir(workspace: Path) -> Path:
    return state_dir(workspace) / "sessions"


def sessions_root(start: Path) -> Path:
    """Where the sessions of work started in `start` live: the root of the git repository
    holding `start` (a `.git` directory, or the `.git` file of a worktree or submodule), so
    that `pixir -c` in any subdirectory finds them; else `start` itself. The home directory
    is never taken for a repository root (a dotfiles repository would collect every
    session, next to pixir's own ~/.pixir)."""
    home_dir = _home_dir()
    for folder in (start, *start.parents):
        if folder == home_dir:
            break
        if (folder / ".git").exists():
            return folder
    return start


def _home_dir() -> Path | None:
    try:
        return Path.home().resolve()
    except (RuntimeError, OSError):
        return None


def ensure_sessions_dir(workspace: Path) -> Path:
    """Create `<workspace>/.pixir/sessions`; a new `.pixir/` gets a `.gitignore` of `*`
    so the repository's `git status` stays clean."""
    state = state_dir(workspace)
    sessions = sessions_dir(workspace)
    try:
        if not state.is_dir():
            state.mkdir(parents=True, exist_ok=True)
        ignore = state / ".gitignore"
        if not ignore.exists():
            ignore.write_text("*\n", encoding="utf-8")
        sessions.mkdir(exist_ok=True)
        if not sessions.is_dir():
            raise NotADirectoryError(20, "Not a directory")
    except OSError as exc:  # `.pixir` is a file, a read-only or full disk, ...
        raise PixirError(
            "io_error",
            f"cannot create the session folder {sessions}: {exc.strerror or exc}",
            {"path": str(sessions)},
            hint=f"pixir keeps its session Logs in {state}; make it a writable directory",
        ) from None
    return sessions
