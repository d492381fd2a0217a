"""Opening and replacing the workspace files `write` and `edit` change, without a way out.

The target is first resolved (`workspace.resolve_for_write`: symlinks followed, the result
inside the workspace). It is then reached from the workspace's directory fd one component
at a time with `O_NOFOLLOW`, so a directory or file swapped for a symlink between the check
and the write makes the operation fail: it can never write outside. A file is replaced by a
temp file in the same directory and a rename (old or new content, never a mix) that keeps
the owner, group and mode of the file it replaces. Files the user may not write are
refused: no write permission (as root too: a 0444 file is read-only on purpose), immutable
or append-only. Anything but a regular file (a FIFO, a device, a socket) is refused.

docs/reliability.md ("Files the model touches") lists the rules and the tests.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from pixir.fsutil import TEMP_SUFFIX
from pixir.tools.result import ToolFailure

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# Linux's FS_IOC_GETFLAGS and the flags that forbid replacing a file (chattr +i, +a).
_FS_IOC_GETFLAGS = 0x80086601
_IMMUTABLE, _APPEND_ONLY = 0x10, 0x20


@dataclass
class Place:
    """An open directory in the workspace and a name in it: where a file is read and
    replaced. Close it (or use it as a context manager)."""

    dir_fd: int
    name: str
    shown: str

    def __enter__(self) -> Place:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.dir_fd >= 0:
            os.close(self.dir_fd)
            self.dir_fd = -1

    def lstat(self) -> os.stat_result | None:
        """The entry as it is now (a symlink is not followed), or None when there is none."""
        try:
            return os.stat(self.name, dir_fd=self.dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def open_regular(self, flags: int = os.O_RDONLY) -> tuple[int, os.stat_result]:
        """(fd, stat) of the existing regular file; never follows a symlink, never blocks
        on a FIFO."""
        try:
            fd = os.open(
                self.name,
                flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC,
                dir_fd=self.dir_fd,
            )
        except FileNotFoundError:
            raise ToolFailure("not_found", f"{self.shown} does not exist") from None
        except IsADirectoryError:
            raise ToolFailure("is_directory", f"{self.shown} is a directory") from None
        except OSError as exc:
            raise _os_failure(exc, self.shown) from None
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            raise not_regular(self.shown, info.st_mode)
        return fd, info


def open_place(root: Path, target: Path, shown: str, *, create: bool) -> Place:
    """The directory holding `target` (a resolved path inside the real workspace `root`),
    reached from `root` without following any symlink; missing directories are created
    when `create`."""
    parts = target.relative_to(root).parts
    fd = os.open(root, _DIR_FLAGS)
    try:
        for part in parts[:-1]:
            try:
                step = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except NotADirectoryError:  # O_NOFOLLOW|O_DIRECTORY on a symlink says ENOTDIR
                if stat.S_ISLNK(os.stat(part, dir_fd=fd, follow_symlinks=False).st_mode):
                    raise swapped(shown) from None
                raise
            except FileNotFoundError:
                if not create:
                    raise ToolFailure("not_found", f"{shown} does not exist") from None
                try:
                    os.mkdir(part, 0o777, dir_fd=fd)
                except FileExistsError:
                    pass  # made meanwhile: the open below decides what it is
                step = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = step
    except NotADirectoryError:
        os.close(fd)
        raise ToolFailure("io_error", f"cannot write {shown}: a parent is a file") from None
    except OSError as exc:
        os.close(fd)
        if exc.errno == errno.ELOOP:
            raise swapped(shown) from None
        raise _os_failure(exc, shown) from None
    except BaseException:
        os.close(fd)
        raise
    return Place(fd, parts[-1], shown)


def check_replaceable(place: Place, info: os.stat_result, fd: int | None = None) -> None:
    """Refuse to replace a file the user may not write: no write permission (for root too,
    whom the kernel would let), immutable or append-only."""
    mode = stat.S_IMODE(info.st_mode)
    if os.geteuid() == 0:
        writable = bool(mode & 0o222)
    else:
        writable = os.access(place.name, os.W_OK, dir_fd=place.dir_fd, follow_symlinks=False)
    if not writable:
        raise ToolFailure(
            "read_only_file",
            f"{place.shown} is read-only (mode {mode:04o}); pixir does not replace files you "
            "may not write. If it must change, the user can make it writable first",
        )
    flags = _inode_flags(place, fd)
    if flags & _IMMUTABLE:
        raise ToolFailure(
            "read_only_file", f"{place.shown} is immutable (chattr +i); pixir does not change it"
        )
    if flags & _APPEND_ONLY:
        raise ToolFailure(
            "read_only_file",
            f"{place.shown} is append-only (chattr +a); pixir does not replace it",
        )


def replace(
    place: Place,
    data: bytes,
    previous: os.stat_result | None,
    *,
    before_rename=None,
) -> int:
    """Write `data` to a temp file beside the target and rename it over the target, keeping
    `previous`'s owner, group and mode (a new file gets the umask's mode). `before_rename`
    runs right before the rename (edit checks the file did not change meanwhile); anything it
    raises removes the temp file. Returns the temp file's fd, still open (the caller closes
    it): edit appends to it what another process appended to the old file meanwhile."""
    temp = f".{place.name}.{os.urandom(4).hex()}{TEMP_SUFFIX}"
    # Private until it has the right owner and mode; a new file: the umask decides.
    created = 0o600 if previous is not None else 0o666
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(temp, flags, created, dir_fd=place.dir_fd)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
        if previous is not None:
            _keep_owner_and_mode(fd, previous, place.shown)
        if before_rename is not None:
            before_rename()
        os.rename(temp, place.name, src_dir_fd=place.dir_fd, dst_dir_fd=place.dir_fd)
    except BaseException:
        os.close(fd)
        try:
            os.unlink(temp, dir_fd=place.dir_fd)
        except OSError:
            pass
        raise
    try:
        os.fsync(place.dir_fd)
    except OSError:
        pass
    return fd


def remember(ctx, target: Path | str, info: os.stat_result) -> None:
    """What the model last saw of `target` (it read or wrote it): an edit refuses the file
    when it has changed on disk since."""
    seen = getattr(ctx, "seen", None)
    if seen is not None:
        seen[os.path.realpath(target)] = _fingerprint(info)


def changed_since_seen(ctx, target: Path | str, info: os.stat_result) -> bool:
    """True when the model read or wrote `target` in this run and it has changed since."""
    seen = getattr(ctx, "seen", None) or {}
    before = seen.get(os.path.realpath(target))
    return before is not None and before != _fingerprint(info)


def _fingerprint(info: os.stat_result) -> tuple:
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)


def _keep_owner_and_mode(fd: int, previous: os.stat_result, shown: str) -> None:
    now = os.fstat(fd)
    if (now.st_uid, now.st_gid) != (previous.st_uid, previous.st_gid):
        try:
            os.fchown(fd, previous.st_uid, previous.st_gid)
        except PermissionError:
            raise ToolFailure(
                "permission_denied",
                f"{shown} belongs to another user or group (uid {previous.st_uid}, gid "
                f"{previous.st_gid}); replacing it would change its owner, which pixir does not "
                "do",
            ) from None
    os.fchmod(fd, stat.S_IMODE(previous.st_mode))  # after chown, which clears setuid bits


def _inode_flags(place: Place, fd: int | None) -> int:
    import fcntl

    own = fd is None
    try:
        if own:
            fd = os.open(
                place.name,
                os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                dir_fd=place.dir_fd,
            )
        buf = bytearray(8)
        fcntl.ioctl(fd, _FS_IOC_GETFLAGS, buf)
        return int.from_bytes(buf[:4], "little")
    except OSError:  # not Linux, a filesystem without flags, unreadable: no flags known
        return 0
    finally:
        if own and fd is not None:
            os.close(fd)


def not_regular(shown: str, mode: int) -> ToolFailure:
    what = (
        "a FIFO (named pipe)"
        if stat.S_ISFIFO(mode)
        else "a socket"
        if stat.S_ISSOCK(mode)
        else "a device"
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "a directory"
        if stat.S_ISDIR(mode)
        else "not a regular file"
    )
    kind = "is_directory" if stat.S_ISDIR(mode) else "not_regular_file"
    return ToolFailure(kind, f"{shown} is {what}; the file tools only work on regular files")


def swapped(shown: str) -> ToolFailure:
    return ToolFailure(
        "path_changed",
        f"{shown}: a part of the path became a symbolic link while pixir worked on it; nothing "
        "was written. Check the workspace, then try again",
    )


def _os_failure(exc: OSError, shown: str) -> ToolFailure:
    if exc.errno == errno.ELOOP:
        return swapped(shown)
    if isinstance(exc, PermissionError):
        return ToolFailure("permission_denied", f"{shown}: permission denied")
    return ToolFailure("io_error", f"{shown}: {exc.strerror or exc}")
