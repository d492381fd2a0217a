"""Where pixir keeps things: the global home (~/.pixir) and each workspace's .pixir/."""

from __future__ import annotations

import os
import stat
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
    """`<workspace>/.pixir/sessions`, once neither `.pixir` nor `sessions` is a symbolic
    link: a repository that ships one must not make pixir read (or write) its Logs outside
    the workspace. Either may not exist yet."""
    state = state_dir(workspace)
    sessions = state / "sessions"
    for path in (state, sessions):
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            break
        except OSError:
            continue  # not a directory on the way, unreadable: the caller's open will say
        if stat.S_ISLNK(mode):
            raise _linked(path, workspace)
    return sessions


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
    so the repository's `git status` stays clean. Every step is taken from the workspace's
    directory fd without following a symbolic link: `.pixir`, `.pixir/.gitignore` or
    `.pixir/sessions` shipped as a link (dangling or not) is `unsafe_path` (exit 2) and
    nothing is written."""
    state = state_dir(workspace)
    sessions = state / "sessions"
    opened: list[int] = []
    try:
        root = os.open(workspace, _DIR_FLAGS)
        opened.append(root)
        state_fd = _child_dir(root, ".pixir", state, workspace, opened)
        ignore = state / ".gitignore"
        try:
            fd = os.open(".gitignore", _NEW_FILE_FLAGS, 0o666, dir_fd=state_fd)
        except FileExistsError:
            if stat.S_ISLNK(os.lstat(".gitignore", dir_fd=state_fd).st_mode):
                raise _linked(ignore, workspace) from None
        else:
            try:
                os.write(fd, b"*\n")
            finally:
                os.close(fd)
        _child_dir(state_fd, "sessions", sessions, workspace, opened)
    except OSError as exc:  # `.pixir` is a file, a read-only or full disk, ...
        raise PixirError(
            "io_error",
            f"cannot create the session folder {sessions}: {exc.strerror or exc}",
            {"path": str(sessions)},
            hint=f"pixir keeps its session Logs in {state}; make it a writable directory",
        ) from None
    finally:
        for fd in opened:
            os.close(fd)
    return sessions


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def _child_dir(parent: int, name: str, path: Path, workspace: Path, opened: list[int]) -> int:
    """The directory `name` in `parent` (made when missing), opened without following a
    link; a link there is `unsafe_path`."""
    try:
        os.mkdir(name, 0o777, dir_fd=parent)
    except FileExistsError:
        pass
    try:
        fd = os.open(name, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=parent)
    except OSError:
        if stat.S_ISLNK(os.lstat(name, dir_fd=parent).st_mode):
            raise _linked(path, workspace) from None
        raise
    opened.append(fd)
    return fd


def _linked(path: Path, workspace: Path) -> PixirError:
    try:
        points = os.readlink(path)
    except OSError:
        points = "?"
    return PixirError(
        "unsafe_path",
        f"{path} is a symbolic link (to {points}); pixir keeps its session Logs in "
        f"{state_dir(workspace)} and does not follow links out of the workspace",
        {"path": str(path), "target": points},
        hint=f"remove the link (rm {path}) — a repository should not ship it — and run again",
    )
