"""dist/pixir's unpacked copies in shiv's cache (`~/.shiv` or `$SHIV_ROOT`): every run holds
its own, and the first run of a new build removes those of other pixir builds nobody is
running (docs/cli.md, "Old builds in shiv's cache"). Used by build.sh's launcher only.

Each build unpacks itself once into `<root>/<name>_<build id>/` (~6 MB), and nothing else
ever removes one. A running pixir imports lazily (requests only at its first call), so an
extraction must not vanish under a running process:

- every run holds a shared flock on `<extraction>/.pixir-in-use` for its whole life
  (`hold`); the descriptor is close-on-exec, so the commands pixir runs do not keep it;
- the pruner takes that lock exclusively without waiting — held means in use, skip it —
  then renames the directory away (atomic: a pixir starting now no longer finds it and
  unpacks its build again) and deletes it;
- a run that finds its extraction renamed or gone between finding it and locking it
  starts over (`hold` returns False, the launcher re-executes itself) and unpacks again.

Only directories that hold a `pixir` package are touched, never another application's, nor
the same build unpacked under another file name, nor one shiv is still unpacking (its
`.<dir>_lock` is held). An extraction made by a pixir from before this protocol (no
`.pixir-in-use` yet) cannot say whether it is running: it is left alone for a day.
"""

from __future__ import annotations

import fcntl
import os

IN_USE = ".pixir-in-use"
LEGACY_GRACE_S = 24 * 3600
EXTRACTION = r"(.+)_([0-9a-f]{64})"  # <name>_<build id>, as shiv names them
_held: list[int] = []  # open for the life of the process: the lock lives as long as they do


def hold(extraction: str) -> bool:
    """Hold a shared lock on `extraction` (`<root>/<name>_<build id>`) until the process
    exits. False when the directory was removed or replaced meanwhile: start over."""
    path = os.path.join(extraction, IN_USE)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except FileNotFoundError:
        return False  # the directory is gone
    except OSError:
        return True  # a read-only cache: nothing can prune it either
    fcntl.flock(fd, fcntl.LOCK_SH)  # waits only while a pruner is deleting it
    try:
        same = os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        same = False
    if not same:
        os.close(fd)
        return False
    _held.append(fd)
    return True


def prune(extraction: str, now: float | None = None) -> list[str]:
    """Remove the other pixir builds' extractions under `extraction`'s root that nobody is
    running. Returns the names removed; never raises (a run must not fail over a cache).
    `re` and `time` are imported here: every run imports this module for `hold`."""
    import re
    import time

    now = time.time() if now is None else now
    pattern = re.compile(EXTRACTION)
    root, own = os.path.split(os.path.normpath(extraction))
    match = pattern.fullmatch(own)
    own_build = match.group(2) if match else None
    removed = []
    try:
        names = os.listdir(root)
    except OSError:
        return removed
    for name in sorted(names):
        _finish_removal(root, name)
        found = pattern.fullmatch(name)
        if name == own or found is None or found.group(2) == own_build:
            continue
        folder = os.path.join(root, name)
        if not os.path.isfile(os.path.join(folder, "site-packages", "pixir", "cli.py")):
            continue  # not pixir's
        try:
            if _remove_if_idle(root, name, now):
                removed.append(name)
        except OSError:
            continue
    return removed


def _remove_if_idle(root: str, name: str, now: float) -> bool:
    import shutil

    folder = os.path.join(root, name)
    marker = os.path.join(folder, IN_USE)
    legacy = not os.path.exists(marker)
    if legacy and now - os.stat(os.path.join(folder, "site-packages")).st_mtime < LEGACY_GRACE_S:
        return False
    shiv_lock = _try_lock(os.path.join(root, f".{name}_lock"), create=False)
    if shiv_lock == HELD:
        return False  # shiv is unpacking it again right now
    fd = _try_lock(marker, create=True)
    if fd is None or fd == HELD:
        _release(shiv_lock)
        return False  # a pixir of that build is running (or the folder just went)
    try:
        doomed = os.path.join(root, f".{name}.pruned-{os.getpid()}")
        os.rename(folder, doomed)  # from here on nobody finds it
        shutil.rmtree(doomed, ignore_errors=True)
        return True  # shiv's own lock file stays: a shiv may be waiting on it
    finally:
        os.close(fd)
        _release(shiv_lock)


HELD = -1


def _finish_removal(root: str, name: str) -> None:
    """What a pruner killed in the middle of deleting left behind (renamed, so unused)."""
    import re

    found = re.fullmatch(r"\.(.+)\.pruned-(\d+)", name)
    if found is None:
        return
    try:
        os.kill(int(found.group(2)), 0)
        return  # that pruner is still at work
    except ProcessLookupError:
        pass
    except OSError:
        return
    import shutil

    shutil.rmtree(os.path.join(root, name), ignore_errors=True)


def _try_lock(path: str, create: bool) -> int | None:
    """An exclusive lock taken without waiting: its descriptor, None when there is no such
    file, HELD when someone holds it."""
    try:
        fd = os.open(path, os.O_RDWR | (os.O_CREAT if create else 0) | os.O_CLOEXEC, 0o644)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return HELD
    return fd


def _release(fd: int | None) -> None:
    if fd is not None and fd >= 0:
        os.close(fd)
