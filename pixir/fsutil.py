"""Durable file writes shared by the Log, the token store, the tools and `-o FILE`."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

TEMP_SUFFIX = ".pixir-tmp"


def atomic_write(target: Path, data: bytes) -> None:
    """Replace `target` with `data` via a temporary file in the same directory and a rename,
    so a crash leaves either the old or the new content; an existing file keeps its mode."""
    try:
        mode = target.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TEMP_SUFFIX, dir=target.parent)
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
    fsync_dir(target.parent)


def remove_temps(target: Path, before: float) -> None:
    """Remove the temporary files `atomic_write(target, ...)` calls killed before their
    rename left beside `target`, if last modified before `before` (a write still running in
    another process is newer)."""
    prefix = f".{target.name}."
    try:
        with os.scandir(target.parent) as entries:
            for entry in entries:
                name = entry.name
                if not (name.startswith(prefix) and name.endswith(TEMP_SUFFIX)):
                    continue
                if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < before:
                    os.unlink(entry.path)
    except OSError:  # gone, unreadable: nothing to tidy
        pass


def fsync_dir(folder: Path) -> None:
    """Make a rename or a new file in `folder` durable; best effort (not every FS allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
