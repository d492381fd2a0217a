"""A private mount namespace in which some paths are read-only, for confined commands
(docs/sandbox.md "How `.pixir/` stays out of reach"), through ctypes: no dependency, no
helper binary.

Landlock only allows, so it cannot keep `.pixir/` out of a workspace it grants whole. A
read-only bind mount can, in a mount namespace of the commands' own where it changes nothing
for pixir or anyone else; mount permissions and Landlock intersect. One namespace is made
per set of read-only paths and kept (its descriptors held) for every later command while
those paths are the same directories:

- As root: on a thread, `unshare(CLONE_NEWNS)`. A command's confined thread joins it
  (`setns`) before it starts `bash`, so the spawn keeps `vfork`.
- Otherwise: in a user namespace mapping the user's own uid and gid to themselves (files a
  command creates are the user's; `id` is unchanged), made by a short-lived child. Joining
  a user namespace needs a single-threaded caller, which pixir is not, so each command's
  child joins both between fork and exec: a `preexec_fn` that only makes system calls
  through functions looked up and arguments built beforehand (see run_in_child).

Where this is not allowed (user namespaces turned off or restricted, a container's seccomp
policy), `get` raises Unavailable, and says so for the rest of the process: commands then
keep to Landlock's entry-by-entry rule (pixir/sandbox/policy.py).
"""

from __future__ import annotations

import errno
import functools
import os
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pixir.sandbox.landlock import NotConfined, on_new_thread

CLONE_FS = 0x00000200
CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
MS_RDONLY = 1 << 0
MS_NOSUID = 1 << 1
MS_NODEV = 1 << 2
MS_NOEXEC = 1 << 3
MS_REMOUNT = 1 << 5
MS_NOATIME = 1 << 10
MS_NODIRATIME = 1 << 11
MS_BIND = 1 << 12
MS_REC = 1 << 14
MS_SLAVE = 1 << 19
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24
# statvfs flags a remount inside a user namespace must keep (the kernel locks them), as the
# mount flags that say them.
KEPT_FLAGS = (
    (os.ST_NOSUID, MS_NOSUID),
    (os.ST_NODEV, MS_NODEV),
    (os.ST_NOEXEC, MS_NOEXEC),
    (os.ST_NOATIME, MS_NOATIME),
    (os.ST_NODIRATIME, MS_NODIRATIME),
    (os.ST_RELATIME, MS_RELATIME),
)
SYSCTLS = "/proc/sys"
CHILD_FAILED = 121  # the exit status of a child whose set-up failed (it never ran the command)

# (what it does, for people; a C function; its arguments): the function returns -1 and sets
# errno when it fails.
Step = tuple[str, Callable[..., int], tuple]


class Unavailable(Exception):
    """Commands cannot get a private mount namespace here; the message says why, for people."""


@dataclass(frozen=True)
class Namespace:
    """A mount namespace where `paths` are read-only, held open by pixir."""

    paths: tuple[str, ...]
    marks: tuple  # each path's (st_dev, st_ino) when it was made: still the same directory?
    mnt: int  # a descriptor of the mount namespace
    user: int | None  # of the user namespace that owns it; None: made as root, none needed

    def close(self) -> None:
        for fd in (self.mnt, self.user):
            if fd is not None:
                os.close(fd)


def get(paths: tuple[str, ...]) -> Namespace:
    """The namespace where `paths` (absolute, resolved) are read-only: made on first use (a
    path not there yet is created first, mode 0700, so that no command can create it), made
    anew when one of them is no longer the directory it was. Raises Unavailable, then and for
    the rest of the process, when it cannot be made."""
    global _broken
    with _lock:
        if _broken:
            raise Unavailable(_broken)
        kept = _made.get(paths)
        if kept is not None and kept.marks == _marks(paths):
            return kept
        try:
            made = _make(paths)
        except Unavailable as why:
            _broken = str(why)
            raise
        if kept is not None:
            kept.close()
        _made[paths] = made
        return made


def probe(paths: tuple[str, ...]) -> None:
    """Find out, once per process, whether commands can get a namespace (Unavailable if not),
    creating nothing: the namespace of `paths` when they all exist (kept for the commands),
    else one over the nearest existing directory of each, made and dropped."""
    if all(os.path.isdir(path) for path in paths):
        get(paths)
        return
    global _broken
    stand_ins = tuple(dict.fromkeys(_nearest_existing(path) for path in paths))
    with _lock:
        if _broken:
            raise Unavailable(_broken)
        try:
            _make(stand_ins).close()
        except Unavailable as why:
            _broken = str(why)
            raise


def _nearest_existing(path: str) -> str:
    while not os.path.isdir(path):
        path = os.path.dirname(path)
    return path


def broken() -> str:
    """Why commands get no mount namespace in this process ("" while they do)."""
    return _broken


def give_up(why: str) -> Unavailable:
    """Note that namespaces failed (`why`), for the rest of the process; the error to raise."""
    global _broken
    with _lock:
        _broken = _broken or why
    return Unavailable(why)


def enter_here(ns: Namespace) -> None:
    """Move the calling thread into `ns` (a namespace made as root). Its root and working
    directory become the namespace's `/`: start what runs there with an explicit cwd."""
    try:
        run_here(
            [
                ("unshare(CLONE_FS)", _libc().unshare, (CLONE_FS,)),
                ("setns(mount namespace)", _libc().setns, (ns.mnt, CLONE_NEWNS)),
            ]
        )
    except OSError as exc:
        raise give_up(f"cannot enter the mount namespace ({exc.strerror})") from None


def popen_in(ns: Namespace, argv: list[str], kwargs: dict, then: Sequence[Step]):
    """subprocess.Popen(argv, **kwargs) whose child joins `ns` (and its user namespace), goes
    back to kwargs["cwd"], and makes the system calls `then` before exec. Raises Unavailable
    when it could not join (the command did not run), NotConfined when a step of `then`
    failed (nor did it)."""
    libc = _libc()
    steps: list[Step] = [
        ("setns(user namespace)", libc.setns, (ns.user, CLONE_NEWUSER)),
        ("setns(mount namespace)", libc.setns, (ns.mnt, CLONE_NEWNS)),
        ("chdir", libc.chdir, (os.fsencode(kwargs.get("cwd") or os.getcwd()),)),
    ]
    joining = len(steps)
    steps += then
    failed = _spawn(argv, kwargs, steps)
    if isinstance(failed, subprocess.Popen):
        return failed
    index, err = failed
    what = f"{steps[index][0]}: {os.strerror(err)}"
    if index < joining:
        raise give_up(f"cannot enter the mount namespace ({what})")
    raise NotConfined(err, what)


# -- system calls in a forked child ----------------------------------------------------------


def run_here(steps: Sequence[Step]) -> None:
    """Make `steps` on the calling thread, in order; OSError at the first that fails."""
    for what, call, args in steps:
        if call(*args) == -1:
            err = _get_errno()
            raise OSError(err, f"{what}: {os.strerror(err)}")


def run_in_child(steps: Sequence[Step], report: int, get_errno: Callable[[], int]) -> None:
    """The preexec_fn of a child forked from a multi-threaded pixir: it makes `steps`, in
    order; at the first that fails, it writes the step's index and errno to `report` and exits
    with CHILD_FAILED, so the command never runs.

    Another thread may have held any lock when the child was forked, and that lock stays held
    in the child: so nothing here imports, takes a lock, logs or touches objects other threads
    use. The functions (`get_errno` too) were looked up and the arguments built in the
    parent; the C calls are system calls that take no lock in libc. subprocess disables the
    garbage collector around the fork, so no finaliser runs here either."""
    for index, (_, call, args) in enumerate(steps):
        if call(*args) == -1:
            os.write(report, b"%d %d" % (index, get_errno()))
            os._exit(CHILD_FAILED)


def _spawn(argv, kwargs: dict, steps: Sequence[Step]):
    """Popen with `steps` made in the child: the Popen, or (index, errno) of the failed step
    (the child exited without running the command and has been reaped)."""
    # Non-blocking: once Popen returns, the child has exec'd (its end closed) or exited after
    # writing, so anything to read is there already.
    read_end, write_end = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        try:
            proc = subprocess.Popen(
                argv,
                preexec_fn=functools.partial(run_in_child, steps, write_end, _libc().get_errno),
                **kwargs,
            )
        finally:
            os.close(write_end)
        try:
            said = os.read(read_end, 64)
        except BlockingIOError:  # another spawn's child still holds the write end: not ours
            said = b""
    finally:
        os.close(read_end)
    if not said:
        return proc
    with proc:  # closes its pipes and reaps it
        pass
    index, err = (int(word) for word in said.split())
    return index, err


# -- making one --------------------------------------------------------------------------------


def _make(paths: tuple[str, ...]) -> Namespace:
    for path in paths:
        try:  # nothing to mount over a path not there yet: make it, as pixir would
            os.makedirs(path, mode=0o700, exist_ok=True)
        except OSError as exc:
            raise Unavailable(f"cannot create {path} ({exc.strerror})") from None
    marks = _marks(paths)
    mounts = _mount_steps(paths)
    if os.geteuid() == 0:
        try:
            return _make_on_thread(paths, marks, mounts)
        except OSError:
            pass  # no CAP_SYS_ADMIN (a container): a user namespace may still be allowed
    return _make_in_child(paths, marks, mounts)


def _mount_steps(paths: tuple[str, ...]) -> list[Step]:
    """Nothing propagates out of the namespace (host mounts still come in); every directory
    above a path bound onto itself, outermost first; then each path bound onto itself and
    made read-only, keeping the flags its mount has.

    The directories above are pinned because a mount point cannot be renamed or removed
    (EBUSY) but the folder holding one can: with /tmp/x/ws/.pixir read-only, `mv /tmp/x
    /tmp/y; mkdir -p /tmp/x/ws/.pixir` would give the next run a .pixir/ the command made."""
    mount = _libc().mount
    steps: list[Step] = [
        ("mount --make-rslave /", mount, (None, b"/", None, MS_REC | MS_SLAVE, None))
    ]
    for folder in _above(paths):
        name = os.fsencode(folder)
        steps.append((f"mount --rbind {folder}", mount, (name, name, None, MS_BIND | MS_REC, None)))
    for path in paths:
        name = os.fsencode(path)
        flags = MS_BIND | MS_REMOUNT | MS_RDONLY | _kept_flags(path)
        steps += [
            (f"mount --rbind {path}", mount, (name, name, None, MS_BIND | MS_REC, None)),
            (f"mount -o remount,bind,ro {path}", mount, (None, name, None, flags, None)),
        ]
    return steps


def _above(paths: tuple[str, ...]) -> list[str]:
    """The directories between `/` and each path (both left out), outermost first."""
    found: dict[str, None] = {}
    for path in paths:
        parents = [str(p) for p in reversed(Path(path).parents)][1:]
        for folder in parents:
            found.setdefault(folder, None)
    return sorted(found, key=lambda folder: folder.count("/"))


def _kept_flags(path: str) -> int:
    have = os.statvfs(path).f_flag
    flags = sum(ms for st, ms in KEPT_FLAGS if have & st)
    if not have & (os.ST_NOATIME | os.ST_RELATIME):
        flags |= MS_STRICTATIME  # else the remount would ask for relatime, a change it locks
    return flags


def _make_on_thread(paths, marks, mounts: list[Step]) -> Namespace:
    """As root: unshare on a thread of its own (a mount namespace needs no single-threaded
    caller), which then ends; the descriptor keeps the namespace."""

    def make() -> int:
        run_here([("unshare(CLONE_NEWNS)", _libc().unshare, (CLONE_NEWNS,)), *mounts])
        return os.open("/proc/thread-self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)

    return Namespace(paths, marks, on_new_thread(make, "pixir-namespace"), None)


def _make_in_child(paths, marks, mounts: list[Step]) -> Namespace:
    """A child unshares a user and a mount namespace, maps the user's ids, mounts, and waits
    (as `bash -c read`) while pixir opens its namespaces; then it goes."""
    uid, gid = os.geteuid(), os.getegid()
    libc = _libc()
    steps: list[Step] = [
        ("unshare(CLONE_NEWUSER|CLONE_NEWNS)", libc.unshare, (CLONE_NEWUSER | CLONE_NEWNS,)),
        ("write /proc/self/setgroups", libc.write_file, (b"/proc/self/setgroups", b"deny")),
        (
            "write /proc/self/uid_map",
            libc.write_file,
            (b"/proc/self/uid_map", b"%d %d 1" % (uid, uid)),
        ),
        (
            "write /proc/self/gid_map",
            libc.write_file,
            (b"/proc/self/gid_map", b"%d %d 1" % (gid, gid)),
        ),
        *mounts,
    ]
    options = {
        "stdin": subprocess.PIPE,
        "stdout": subprocess.DEVNULL,
        "stderr": subprocess.DEVNULL,
        "cwd": "/",
        "start_new_session": True,
    }
    try:
        holder = _spawn(["bash", "-c", "read -r _"], options, steps)
    except OSError as exc:
        raise Unavailable(f"cannot start bash to make it ({exc.strerror})") from None
    if not isinstance(holder, subprocess.Popen):
        index, err = holder
        raise Unavailable(_explain(steps[index][0], err))
    with holder:  # closes its stdin (it ends) and reaps it
        try:
            user = os.open(f"/proc/{holder.pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            raise Unavailable(f"cannot open its user namespace ({exc.strerror})") from None
        try:
            mnt = os.open(f"/proc/{holder.pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            os.close(user)
            raise Unavailable(f"cannot open its mount namespace ({exc.strerror})") from None
    return Namespace(paths, marks, mnt, user)


def _explain(what: str, err: int) -> str:
    """Why a user namespace could not be made, with what a person can change."""
    knobs = [
        ("kernel/unprivileged_userns_clone", "0", "kernel.unprivileged_userns_clone = 0"),
        ("user/max_user_namespaces", "0", "user.max_user_namespaces = 0"),
        (
            "kernel/apparmor_restrict_unprivileged_userns",
            "1",
            "AppArmor restricts them: kernel.apparmor_restrict_unprivileged_userns = 1",
        ),
    ]
    for name, value, said in knobs:
        try:
            with open(f"{SYSCTLS}/{name}", encoding="ascii") as fh:
                if fh.read().strip() == value:
                    return f"user namespaces are not allowed ({said}; {what}: {os.strerror(err)})"
        except OSError:
            continue
    container = os.path.exists("/.dockerenv") or os.path.exists("/run/.containerenv")
    if err == errno.EPERM and container:
        return (
            "user namespaces are not allowed (a container's seccomp profile forbids them; "
            f"{what}: {os.strerror(err)})"
        )
    return f"user namespaces are not allowed ({what}: {os.strerror(err)})"


def _marks(paths: tuple[str, ...]) -> tuple:
    marks = []
    for path in paths:
        try:
            found = os.stat(path)
            marks.append((found.st_dev, found.st_ino))
        except OSError:
            marks.append(None)
    return tuple(marks)


# -- ctypes ----------------------------------------------------------------------------------


class _Libc:
    """The C library's calls this module makes, typed, made on first use (importing ctypes
    costs ~2 ms, which `pixir --version` must not pay)."""

    def __init__(self) -> None:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        self.unshare = libc.unshare
        self.unshare.argtypes = [ctypes.c_int]
        self.setns = libc.setns
        self.setns.argtypes = [ctypes.c_int, ctypes.c_int]
        self.chdir = libc.chdir
        self.chdir.argtypes = [ctypes.c_char_p]
        self.mount = libc.mount
        self.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_void_p]
        self.open = libc.open
        self.open.argtypes = [ctypes.c_char_p, ctypes.c_int]
        self.write = libc.write
        self.write.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t]
        self.write.restype = ctypes.c_ssize_t
        self.close = libc.close
        self.close.argtypes = [ctypes.c_int]
        self.get_errno = ctypes.get_errno

    def write_file(self, path: bytes, data: bytes) -> int:
        """open, write, close (a Step's call): 0, or -1 with errno set."""
        fd = self.open(path, os.O_WRONLY | os.O_CLOEXEC)
        if fd == -1:
            return -1
        done = self.write(fd, data, len(data))
        self.close(fd)  # errno stays the write's: a close that succeeds does not set it
        return 0 if done == len(data) else -1


def _get_errno() -> int:
    return _libc().get_errno()


@functools.cache
def _libc() -> _Libc:
    return _Libc()


_lock = threading.Lock()
_made: dict[tuple[str, ...], Namespace] = {}
_broken = ""  # why namespaces failed in this process
