"""auth.json: read, validate, write atomically with mode 0600, delete, and the lock that
serialises read-check-refresh-write across processes (docs/auth.md)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

from pixir import fsutil, paths
from pixir.errors import PixirError
from pixir.fsutil import fsync_dir

# Fields a usable file of each kind must carry.
MAX_AUTH_BYTES = 1 << 20
REQUIRED_FIELDS = {
    "subscription": ("access_token", "refresh_token", "account_id"),
    "api_key": ("api_key",),
}


def load(path: Path | None = None) -> dict | None:
    """The stored credential, or None when there is no file. Anything unusable is
    `corrupt_auth` naming the path — never a traceback."""
    path = path or paths.auth_file()
    if path == paths.auth_file() and _leftovers(_target(path)):
        # first: a complete one left by a killed save holds the newest tokens (adopted)
        with locked(wait=False):  # sweeps them if no writer is alive; never waits
            pass
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO would hang, /dev/zero never end
            _corrupt(path, "not a regular file")
        with open(path, "rb") as fh:  # a cap, should it grow while read
            data = fh.read(MAX_AUTH_BYTES + 1)
        if len(data) > MAX_AUTH_BYTES:
            _corrupt(path, f"larger than {MAX_AUTH_BYTES >> 20} MiB")
        text = data.decode("utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        _corrupt(path, getattr(exc, "strerror", None) or "not UTF-8 text")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        _corrupt(path, f"invalid JSON at line {exc.lineno}")
    if not isinstance(data, dict):
        _corrupt(path, "not a JSON object")
    kind = data.get("kind")
    if kind not in REQUIRED_FIELDS:
        _corrupt(path, f"unknown credential kind {kind!r}")
    missing = [f for f in REQUIRED_FIELDS[kind] if not isinstance(data.get(f), str) or not data[f]]
    if missing:
        _corrupt(path, f"missing {', '.join(missing)}")
    expires_at = data.get("expires_at")
    if expires_at is not None and (
        isinstance(expires_at, bool) or not isinstance(expires_at, (int, float))
    ):
        _corrupt(path, "expires_at is not a number of epoch milliseconds")
    _warn_if_loose(path)
    return data


_warned: set[str] = set()


def _warn_if_loose(path: Path) -> None:
    """Say once per process, on stderr, when others may read the credential file (a copy
    or an editor can leave it 0644). It is still used: refusing would lock the user out
    for a mode bit; the next save (a refresh, a login) writes it back as 0600."""
    if str(path) in _warned or not loose_permissions(path):
        return
    _warned.add(str(path))
    mode = stat.S_IMODE(path.stat().st_mode)
    print(
        f"warning: {path} can be read or changed by other users (mode {mode:04o}) and holds your "
        f"credentials; run: chmod 600 {path}",
        file=sys.stderr,
    )


def save(data: dict, path: Path | None = None) -> None:
    """Replace auth.json atomically with fsutil.atomic_write: a temp file in the same
    directory that is 0600 from its creation, fsync, rename, and the file exactly 0600
    whatever it was. There is never a moment where the file is half-written or readable by
    others. Callers hold `locked()`."""
    path = path or paths.auth_file()
    if path == paths.auth_file():
        paths.ensure_home()
    path = _target(path)  # a symlinked auth.json (dotfiles) is written through, not replaced
    payload = (json.dumps(data, indent=2, sort_keys=True) + "\n").encode("utf-8")
    try:
        fsutil.atomic_write(path, payload, mode=0o600)
    except OSError as exc:
        raise PixirError(
            "auth_write_failed",
            f"cannot write {path}: {exc.strerror or exc}",
            {"path": str(path)},
            hint="check the permissions and free space of the pixir home (PIXIR_HOME)",
        ) from None


@contextlib.contextmanager
def locked(lock_path: Path | None = None, *, wait: bool = True) -> Iterator[bool]:
    """Hold the exclusive auth lock (`auth.json.lock` in the home) for the block. Every
    process that reads tokens to replace them takes it, so one refresh token is spent once.
    The OS drops the lock if the process dies; the lock file itself is never deleted (a
    deleted-and-recreated lock file would let two processes hold "the" lock at once).
    With `wait=False` the block runs at once and gets False when another process holds it.
    Whoever gets the home's lock first removes temp files of saves killed before their
    rename: every writer holds the lock, so no live process owns them, and they hold tokens."""
    if lock_path is None:
        paths.ensure_home()
        lock_path = paths.auth_lock_file()
        sweep = paths.auth_file()
    else:
        sweep = None
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise PixirError(
            "auth_write_failed",
            f"cannot open the lock file {lock_path}: {exc.strerror or exc}",
            {"path": str(lock_path)},
            hint="check the permissions of the pixir home (PIXIR_HOME)",
        ) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        if sweep is not None:
            _sweep(_target(sweep))
        yield True
    finally:
        os.close(fd)  # closing releases the flock


def _target(path: Path) -> Path:
    """The file a symbolic link at `path` points to (itself when it is none)."""
    return Path(os.path.realpath(path))


def _sweep(path: Path) -> None:
    """Deal with the temp files saves killed before their rename left beside `path`. A
    complete one newer than `path` holds the newest tokens — the server has already rotated
    the pair, so deleting it would sign the user out — and takes the file's place; the
    others (cut short, or older) are removed. The caller holds the lock, so no live save
    owns any of them."""
    try:
        current = os.stat(path).st_mtime_ns
    except OSError:
        current = None
    adopted = False
    for leftover in sorted(_leftovers(path), key=_mtime, reverse=True):  # newest first
        newer = current is None or _mtime(leftover) >= current
        if not adopted and newer and _complete(leftover):
            with contextlib.suppress(OSError):
                os.chmod(leftover, 0o600)  # as save makes it; tokens are private
                os.replace(leftover, path)
                fsync_dir(path.parent)
                adopted = True
                continue
        with contextlib.suppress(OSError):
            leftover.unlink()


def _mtime(path: Path) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0


def _holds_credential(path: Path) -> bool:
    """A regular file of a sane size holding a complete pixir credential."""
    try:
        info = os.stat(path)
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and info.st_size <= MAX_AUTH_BYTES and _complete(path)


def _complete(path: Path) -> bool:
    """A token file `save` finished writing (it fsyncs before the rename that never came)."""
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return False
    kind = data.get("kind") if isinstance(data, dict) else None
    fields = REQUIRED_FIELDS.get(kind, ("?",))
    return all(isinstance(data.get(f), str) and data[f] for f in fields)


def _leftovers(path: Path) -> list[Path]:
    """Temp files of saves of `path` killed before their rename: fsutil.atomic_write's, and
    `.auth.json.PID.tmp`, which saves made before it wrote them (they hold tokens too)."""
    found = fsutil.temp_files(path)
    prefix = f".{path.name}."
    try:
        with os.scandir(path.parent) as entries:
            found += [
                Path(e.path)
                for e in entries
                if e.name.startswith(prefix) and e.name.endswith(".tmp")
            ]
    except OSError:
        pass
    return found


def delete(path: Path | None = None) -> bool:
    """Remove the stored credential: auth.json, or — when it is a symbolic link — the file
    it points to if that holds a pixir credential (the link stays, so the next login writes
    through it again; anything else there, a device or another program's file, is left
    and only the link goes); False when there was none."""
    path = path or paths.auth_file()
    target = _target(path)
    if target != path:
        if not os.path.lexists(target):
            return False  # a link to nothing: nothing stored, and the link is the user's
        if not _holds_credential(target):
            target = path
    try:
        target.unlink()
    except FileNotFoundError:
        return False
    return True


def loose_permissions(path: Path | None = None) -> bool:
    """True when group or others may read the file (it holds secrets)."""
    path = path or paths.auth_file()
    try:
        return bool(path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))
    except OSError:
        return False


def _corrupt(path: Path, why: str):
    raise PixirError(
        "corrupt_auth",
        f"{path}: {why}",
        {"path": str(path)},
        hint="run `pixir login` again (or `pixir logout` to remove the file)",
    )
