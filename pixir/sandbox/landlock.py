"""Linux Landlock through ctypes: the kernel's ABI version, rulesets with path and port rules,
and confining a thread with one (docs/sandbox.md). No dependency, no helper binary.

Landlock restricts the calling *thread* and what it forks from then on. `run_confined`
uses that: it confines a fresh thread, which then starts the command, so nothing runs
between fork and exec but what `subprocess` itself does, and the rest of pixir (other
threads, a Turn on an ACP worker thread) stays unconfined. Where the command's child must
join a user namespace first (sandbox/namespace.py), which only a single-threaded process
can, the child confines itself instead, with the calls of `restrict_steps`.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

# Filesystem access rights (handled_access_fs, allowed_access), and the ABI that added them.
FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_REMOVE_DIR = 1 << 4
FS_REMOVE_FILE = 1 << 5
FS_MAKE_CHAR = 1 << 6
FS_MAKE_DIR = 1 << 7
FS_MAKE_REG = 1 << 8
FS_MAKE_SOCK = 1 << 9
FS_MAKE_FIFO = 1 << 10
FS_MAKE_BLOCK = 1 << 11
FS_MAKE_SYM = 1 << 12
FS_REFER = 1 << 13  # ABI 2: link or rename into another directory
FS_TRUNCATE = 1 << 14  # ABI 3
FS_IOCTL_DEV = 1 << 15  # ABI 5: ioctl on a character or block device
# Network access rights (ABI 4) and scopes (ABI 6).
NET_BIND_TCP = 1 << 0
NET_CONNECT_TCP = 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0
SCOPE_SIGNAL = 1 << 1

FS_BY_ABI = {1: (1 << 13) - 1, 2: FS_REFER, 3: FS_TRUNCATE, 5: FS_IOCTL_DEV}
# The rights a rule on a file (not a directory) may carry; the kernel refuses others.
FS_FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV

CREATE_RULESET_VERSION = 1 << 0
RULE_PATH_BENEATH = 1
RULE_NET_PORT = 2
PR_SET_NO_NEW_PRIVS = 38
PR_CAPBSET_DROP = 24
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
CAP_SETPCAP = 8
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
# What a confined command never keeps, even run by root (taken out of the thread's bounding,
# inheritable and ambient sets, so no program it runs gets them back). Landlock has no say
# over mounts or devices: with CAP_SYS_ADMIN, mount_setattr() or open_tree() would make a
# read-only .pixir/ writable again; with CAP_MKNOD a disk's device node made in the workspace
# is a file Landlock lets it write; the rest change the machine, not files.
DROPPED_CAPABILITIES = {
    "CAP_DAC_READ_SEARCH": 2,  # open_by_handle_at(): files by handle, not by path
    "CAP_NET_ADMIN": 12,
    "CAP_SYS_MODULE": 16,
    "CAP_SYS_RAWIO": 17,
    "CAP_SYS_PTRACE": 19,
    "CAP_SYS_ADMIN": 21,
    "CAP_SYS_BOOT": 22,
    "CAP_SYS_TIME": 25,
    "CAP_MKNOD": 27,
    "CAP_BPF": 39,
}
_FIRST_SYSCALL = {"alpha": 554, "mips": 4444, "mips64": 5444}


class Unavailable(Exception):
    """This system offers no Landlock; the message says why, for people."""


class NotConfined(OSError):
    """run_confined could not confine its thread, so `start` was not called."""


def fs_rights(abi: int) -> int:
    """Every filesystem right the ABI knows."""
    return sum(bit for since, bit in FS_BY_ABI.items() if abi >= since)


def net_rights(abi: int) -> int:
    """The TCP rights the ABI knows (none before ABI 4)."""
    return NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0


def scopes(abi: int) -> int:
    """The IPC scopes the ABI knows (none before ABI 6)."""
    return SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0


_abi: int | Unavailable | None = None


def version() -> int:
    """The kernel's Landlock ABI version (1, 2, ...); raises Unavailable with the reason.
    Asked once per process."""
    global _abi
    if _abi is None:
        try:
            _abi = _ask_version()
        except Unavailable as why:
            _abi = why
    if isinstance(_abi, Unavailable):
        raise _abi
    return _abi


def _ask_version() -> int:
    if not sys.platform.startswith("linux"):
        system = "macOS" if sys.platform == "darwin" else sys.platform
        raise Unavailable(f"{system} has no Landlock (it is a Linux feature)")
    try:
        _kernel()
    except (OSError, AttributeError) as exc:
        raise Unavailable(f"cannot call the kernel through ctypes ({exc})") from None
    if _syscalls() is None:
        raise Unavailable(f"pixir does not know the Landlock system calls of {_machine()}")
    k = _kernel()
    result, err = _call(0, None, k.ct.c_size_t(0), k.ct.c_uint(CREATE_RULESET_VERSION))
    if result >= 1:
        return result
    if err == errno.ENOSYS:
        release = os.uname().release
        raise Unavailable(f"the kernel ({release}) has no Landlock (it needs Linux 5.13 or later)")
    if err == errno.EOPNOTSUPP:
        raise Unavailable("Landlock is in the kernel but not enabled (see its lsm= boot option)")
    raise Unavailable(
        f"the Landlock system calls are refused here ({errno.errorcode.get(err, err)}), "
        "as a container's seccomp policy may do"
    )


def create_ruleset(fs: int, net: int = 0, scoped: int = 0) -> int:
    """A new ruleset (a close-on-exec fd) that denies what it handles unless a rule allows it."""
    k = _kernel()
    attr = k.RulesetAttr(fs, net, scoped)
    # The kernel reads as much of the struct as it is told: an older one refuses a size it
    # does not know, so send only the fields in use.
    size = 24 if scoped else 16 if net else 8
    fd, err = _call(0, k.ct.byref(attr), k.ct.c_size_t(size), k.ct.c_uint(0))
    if fd < 0:
        raise OSError(err, f"landlock_create_ruleset: {os.strerror(err)}")
    return fd


def add_path_rule(ruleset: int, path: str, allowed: int, *, follow: bool = True) -> bool:
    """Allow `allowed` beneath `path` (a directory) or on it (a file: its file rights only).
    False when nothing was added: `path` is missing, or a symbolic link and `follow` is false
    (a link is granted where it points, never where it sits)."""
    flags = os.O_PATH | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except (FileNotFoundError, NotADirectoryError):
        return False
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISLNK(mode):
            return False
        if not stat.S_ISDIR(mode):
            allowed &= FS_FILE_RIGHTS
        if allowed:
            _add_rule(ruleset, RULE_PATH_BENEATH, _kernel().PathBeneathAttr(allowed, fd))
        return bool(allowed)
    finally:
        os.close(fd)


def add_port_rule(ruleset: int, port: int, allowed: int) -> None:
    """Allow the TCP rights `allowed` (NET_BIND_TCP, NET_CONNECT_TCP) for `port`."""
    _add_rule(ruleset, RULE_NET_PORT, _kernel().NetPortAttr(allowed, port))


def restrict_self(ruleset: int) -> None:
    """Confine the calling thread and what it starts from now on; there is no way back.
    no_new_privs first: the kernel requires it of an unprivileged caller, and it keeps a
    set-uid program from running with more than the confined thread has."""
    for what, call, args in restrict_steps(ruleset):
        _kernel().ct.set_errno(0)
        if call(*args) != 0:
            err = _kernel().ct.get_errno()
            raise OSError(err, f"{what}: {os.strerror(err)}")


def restrict_steps(ruleset: int) -> list[tuple[str, Callable[..., int], tuple]]:
    """restrict_self as steps (what, C function, arguments), all made here, for a forked child
    to call between fork and exec (sandbox/namespace.py run_in_child); each returns -1 and
    sets errno when it fails."""
    k = _kernel()
    zero = k.ct.c_ulong(0)
    first = _syscalls()
    return [
        *_capability_steps(),
        (
            "prctl(PR_SET_NO_NEW_PRIVS)",
            k.libc.prctl,
            (k.ct.c_int(PR_SET_NO_NEW_PRIVS), k.ct.c_ulong(1), zero, zero, zero),
        ),
        (
            "landlock_restrict_self",
            k.libc.syscall,
            (k.ct.c_long(-1 if first is None else first + 2), k.ct.c_long(ruleset), k.ct.c_uint(0)),
        ),
    ]


def _capability_steps() -> list[tuple[str, Callable[..., int], tuple]]:
    """The steps that take DROPPED_CAPABILITIES away, for a caller that holds them (root;
    CAP_SETPCAP is what the kernel asks for). Nothing for anyone else: they have none to
    lose, and exec gives a non-root user none."""
    have = _effective_capabilities()
    if not have >> CAP_SETPCAP & 1:
        return []
    k = _kernel()
    last = _last_capability()
    zero = k.ct.c_ulong(0)
    steps = [
        (
            "prctl(PR_CAP_AMBIENT_CLEAR_ALL)",
            k.libc.prctl,
            (k.ct.c_int(PR_CAP_AMBIENT), k.ct.c_ulong(PR_CAP_AMBIENT_CLEAR_ALL), zero, zero, zero),
        )
    ]
    dropped = 0
    for name, number in DROPPED_CAPABILITIES.items():
        if number <= last:
            dropped |= 1 << number
            steps.append(
                (
                    f"prctl(PR_CAPBSET_DROP, {name})",
                    k.libc.prctl,
                    (k.ct.c_int(PR_CAPBSET_DROP), k.ct.c_ulong(number), zero, zero, zero),
                )
            )
    header = (k.ct.c_uint32 * 2)(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (k.ct.c_uint32 * 6)()  # two {effective, permitted, inheritable}
    if k.libc.capget(header, data) == 0 and (data[2] | data[5] << 32) & dropped:
        data[2] &= ~dropped & 0xFFFFFFFF
        data[5] &= ~(dropped >> 32) & 0xFFFFFFFF
        steps.append(("capset(inheritable)", k.libc.capset, (header, data)))
    return steps


def _effective_capabilities() -> int:
    try:
        with open("/proc/thread-self/status", "rb") as status:
            for line in status:
                if line.startswith(b"CapEff:"):
                    return int(line.split()[1], 16)
    except (OSError, ValueError):
        pass
    return 0


def _last_capability() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap", "rb") as last:
            return int(last.read())
    except (OSError, ValueError):
        return 40  # CAP_CHECKPOINT_RESTORE, the last one of Linux 5.9 and later


def run_confined(
    ruleset: int, start: Callable[[], T], enter: Callable[[], None] | None = None
) -> T:
    """`start()` on a new thread confined by `ruleset`, its result or exception passed back:
    what it forks is confined, the calling thread is not. `enter()`, when given, runs on that
    thread first (to join a mount namespace: sandbox/namespace.py); what it raises comes back
    as it is. The thread ends with the call (a confined thread is never reused). Shield the
    call from Ctrl-C if `start` launches something that must be cleaned up."""

    def confined() -> T:
        if enter is not None:
            enter()
        try:
            restrict_self(ruleset)
        except OSError as exc:
            raise NotConfined(exc.errno, exc.strerror) from None
        return start()

    return on_new_thread(confined, "pixir-landlock")


def on_new_thread(call: Callable[[], T], name: str) -> T:
    """`call()` on a new thread of its own, which ends with it; its result or exception
    passed back to the caller's thread."""
    outcome: dict = {}

    def body() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=body, name=name, daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


# -- ctypes --------------------------------------------------------------------------------


class _Kernel:
    """ctypes, libc and the kernel's structs, made on first use: importing ctypes costs
    ~2 ms, which `pixir --version` must not pay."""

    def __init__(self) -> None:
        import ctypes

        class RulesetAttr(ctypes.Structure):
            _fields_ = [
                ("handled_access_fs", ctypes.c_uint64),
                ("handled_access_net", ctypes.c_uint64),  # ABI 4
                ("scoped", ctypes.c_uint64),  # ABI 6
            ]

        class PathBeneathAttr(ctypes.Structure):
            _pack_ = 1  # packed in the kernel's header: 12 bytes, no padding
            _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]

        class NetPortAttr(ctypes.Structure):
            _fields_ = [("allowed_access", ctypes.c_uint64), ("port", ctypes.c_uint64)]

        self.ct = ctypes
        self.RulesetAttr = RulesetAttr
        self.PathBeneathAttr = PathBeneathAttr
        self.NetPortAttr = NetPortAttr
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.libc.syscall.restype = ctypes.c_long
        self.libc.prctl.restype = ctypes.c_int


_made: _Kernel | None = None


def _kernel() -> _Kernel:
    global _made
    if _made is None:
        _made = _Kernel()
    return _made


def _machine() -> str:
    return os.uname().machine


def _syscalls() -> int | None:
    """The number of landlock_create_ruleset here (add_rule and restrict_self follow it).
    The Landlock calls came after the syscall tables were unified: most architectures
    share 444."""
    machine = _machine()
    if machine.startswith("mips"):
        ct = _kernel().ct
        wide = ct.sizeof(ct.c_void_p) == 8
        return _FIRST_SYSCALL["mips64" if wide else "mips"]
    if machine.startswith("ia64"):
        return None
    return _FIRST_SYSCALL.get(machine, 444)


def _call(offset: int, *args) -> tuple[int, int]:
    """The landlock_* system call `first + offset`: (result, errno)."""
    first = _syscalls()
    if first is None:
        return -1, errno.ENOSYS
    k = _kernel()
    k.ct.set_errno(0)
    result = k.libc.syscall(k.ct.c_long(first + offset), *args)
    return result, k.ct.get_errno()


def _add_rule(ruleset: int, rule_type: int, attr) -> None:
    ct = _kernel().ct
    result, err = _call(1, ct.c_long(ruleset), ct.c_uint(rule_type), ct.byref(attr), ct.c_uint(0))
    if result != 0:
        raise OSError(err, f"landlock_add_rule: {os.strerror(err)}")
