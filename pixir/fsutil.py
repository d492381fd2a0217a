"""Durable file writes shared by the Log, the token store, the tools and `-o FILE`."""

from __future__ import annotations

import os
import re
import stat
import tempfile
from pathlib import Path

TEMP_SUFFIX = ".pixir-tmp"


def atomic_write(target: Path, data: bytes, mode: int | None = None) -> None:
    """Replace `target` with `data` via a temporary file in the same directory, fsync and a
    rename, so a crash leaves either the old or the new content. The file gets `mode`, or
    keeps its own (a new one: 0666 less the umask), and keeps its owner where allowed. The
    temporary file is created 0600 (or narrower, by the umask), so a secret is never
    readable by others, not even for a moment; a crash before the rename can leave it
    behind (`temp_files`)."""
    try:
        before = target.stat()
        kept = before.st_mode & 0o7777
    except FileNotFoundError:
        before = None
        umask = os.umask(0)
        os.umask(umask)
        kept = 0o666 & ~umask
    mode = kept if mode is None else mode
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=TEMP_SUFFIX, dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
            if before is not None and (before.st_uid, before.st_gid) != (
                os.geteuid(),
                os.getegid(),
            ):
                try:  # keep the owner where we may (root, or a group of ours)
                    os.fchown(fh.fileno(), before.st_uid, before.st_gid)
                except PermissionError:
                    pass
        os.chmod(temp, mode)
        os.replace(temp, target)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
    fsync_dir(target.parent)


def temp_files(target: Path, before: float | None = None) -> list[Path]:
    """The temporary files that `atomic_write(target, ...)` calls killed before their rename
    left beside `target` (with `before`: only those last modified before it, since a write
    still running in another process is newer)."""
    prefix = f".{target.name}."
    found = []
    try:
        with os.scandir(target.parent) as entries:
            for entry in entries:
                name = entry.name
                if not (name.startswith(prefix) and name.endswith(TEMP_SUFFIX)):
                    continue
                if not entry.is_file(follow_symlinks=False):
                    continue
                if before is None or entry.stat().st_mtime < before:
                    found.append(Path(entry.path))
    except OSError:  # gone, unreadable: nothing to tidy
        pass
    return found


def remove_temps(target: Path, before: float | None = None) -> None:
    """Remove `temp_files(target, before)`."""
    for path in temp_files(target, before):
        try:
            os.unlink(path)
        except OSError:
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


def output_target(path: Path) -> tuple[Path, str]:
    """Where a file the user named for output (`-o FILE`) is written, and how: ("replace",
    the regular file or the new one — a symbolic link's target, never the link), or
    ("into", a character device or FIFO such as /dev/null or /dev/stdout, written into,
    never replaced). Raises ValueError naming what it is for anything else (a directory, a
    block device, a socket). What pixir's own stdout or stderr is, however it is named
    (/dev/stdout, a link to /proc/self/fd/1, the file the shell redirected to), and a path
    through another open descriptor (/dev/fd/N, /proc/PID/fd/N) are written into: replacing
    what the shell opened would lose it, and a pipe or socket has no path."""
    if _standard_stream(path) is not None:
        return path, "into"
    if _descriptor(path) is not None:
        try:
            mode = os.stat(path).st_mode
        except FileNotFoundError:
            raise ValueError("a descriptor that is not open") from None
        if stat.S_ISREG(mode) or stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
            return path, "into"
        raise ValueError(_what(mode))
    target = Path(os.path.realpath(path))  # through links: the file the user meant
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        return target, "replace"
    if stat.S_ISREG(mode):
        return target, "replace"
    if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        return target, "into"
    raise ValueError(_what(mode))


def _what(mode: int) -> str:
    """What a file that is not written to is, in words."""
    return (
        "a directory"
        if stat.S_ISDIR(mode)
        else "a block device"
        if stat.S_ISBLK(mode)
        else "a socket"
        if stat.S_ISSOCK(mode)
        else "not a regular file"
    )


_DESCRIPTOR = re.compile(r"/(proc/(self|thread-self|\d+)|dev)/fd/\d+")


def _descriptor(path: Path) -> re.Match | None:
    """The open descriptor's path `path` is, or passes through on its way (links), if any."""
    current = os.path.abspath(path)
    for _ in range(40):  # the kernel's own limit on links followed
        found = _DESCRIPTOR.fullmatch(current)
        if found:
            return found
        try:
            link = os.readlink(current)
        except OSError:  # not a link (or not there): the end of the chain
            return None
        current = os.path.normpath(os.path.join(os.path.dirname(current), link))
    return None


def _standard_stream(path: Path) -> int | None:
    """1 or 2 when `path` names the very file (pipe, socket, terminal) pixir's stdout or
    stderr is, however it is spelt."""
    try:
        named = os.stat(path)
    except (OSError, ValueError):
        return None
    for fd in (1, 2):
        try:
            stream = os.fstat(fd)
        except OSError:
            continue
        if (stream.st_dev, stream.st_ino) == (named.st_dev, named.st_ino):
            return fd
    return None


def write_output(path: Path, data: bytes) -> None:
    """Write `data` to an output file the user named (see `output_target`): a regular file
    is replaced atomically keeping its mode (and its owner, where allowed); a character
    device or a FIFO is written into; a FIFO nobody reads is an error, not a hang.
    Raises OSError, or ValueError for a target it will not write."""
    target, how = output_target(path)
    if how == "replace":
        atomic_write(target, data)
        return
    own = _standard_stream(path)
    if own is not None:  # written where pixir's own output goes, at its offset
        _write_all(own, data)
        return
    flags = os.O_WRONLY | os.O_APPEND | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    fd = os.open(target, flags)
    try:
        os.set_blocking(fd, True)
        _write_all(fd, data)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
