"""What a `bash` command may do in each permission mode, and the sandbox that enforces it
(docs/sandbox.md).

- read_only: read and execute everywhere; write nothing but a few devices (/dev/null, ...);
  no TCP, no device ioctls, no signals or abstract-socket connections out of the command.
- auto (and ask, whose commands the user approves one by one): also write in the workspace,
  the temp dirs, ~/.cache and config `sandbox.writable`; TCP unless `sandbox.network: false`.
- Never writable, whatever the mode: the workspace's `.pixir/` and PIXIR_HOME. Landlock only
  allows, so when one of them lies in a writable place, a read-only bind mount in the
  commands' own mount namespace keeps it (sandbox/namespace.py) while Landlock grants the
  place whole. Where namespaces are not allowed, Landlock grants that place child by child
  around it instead: at its top level existing entries are writable, but nothing can be
  created, removed or renamed there (docs/sandbox.md "How `.pixir/` stays out of reach").

Where the kernel has no Landlock, or the user turned the sandbox off, commands run
unconfined and read_only falls back to the allow-list of tools/permissions.py.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

from pixir import paths
from pixir.sandbox import landlock as ll
from pixir.sandbox import namespace

READ = ll.FS_EXECUTE | ll.FS_READ_FILE | ll.FS_READ_DIR
DEVICE = ll.FS_READ_FILE | ll.FS_WRITE_FILE | ll.FS_TRUNCATE | ll.FS_IOCTL_DEV
# Writable in every mode: writing to them changes nothing.
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/tty")
TEMP_DIRS = ("/tmp", "/dev/shm")


@dataclass(frozen=True)
class Policy:
    """What commands may do: write beneath `writable` except beneath `protected`; open TCP
    connections when `network`. Paths are absolute and resolved (Landlock sees real paths)."""

    mode: str  # "read_only" | "auto"
    writable: tuple[str, ...] = ()
    protected: tuple[str, ...] = ()
    network: bool = False
    temp: str = "/tmp"  # where commands make temporary files ($TMPDIR, else /tmp)
    # The protected paths inside a writable place that a bind mount in the commands' mount
    # namespace makes read-only, when `mounts` (false where namespaces are not allowed:
    # Landlock then carves every protected path out).
    readonly: tuple[str, ...] = ()
    mounts: bool = True
    # Symbolic links on the way to a protected path, where they lie (parents resolved): a
    # command must not replace one, as pixir follows it.
    links: tuple[str, ...] = ()

    @property
    def carved(self) -> tuple[str, ...]:
        """What Landlock keeps out of the writable places by granting around it, entry by
        entry: the links to protected paths, and without mounts the protected paths too."""
        return self.links if self.mounts else self.protected + self.links


@dataclass(frozen=True)
class Rules:
    """A Landlock ruleset in data: what it handles (denies unless allowed) and what it allows."""

    fs: int
    net: int
    scoped: int
    paths: tuple[tuple[str, int, bool], ...] = field(default=())  # (path, rights, follow)


def policy_for(mode: str, workspace: Path, settings, env: Mapping[str, str] | None = None):
    """The Policy of `mode` ("auto", "ask" or "read_only") in `workspace`, from the
    `sandbox` settings (config.SandboxSettings)."""
    env = os.environ if env is None else env
    # The workspace's .pixir/, the one of the repository root where its sessions live when
    # the workspace is a subdirectory (paths.sessions_root), and pixir's home.
    home = paths.home()
    guarded = [paths.state_dir(workspace), paths.state_dir(paths.sessions_root(workspace)), home]
    protected = _unique(guarded)
    temp = env.get("TMPDIR") or ""
    temp = _unique([temp if os.path.isabs(temp) else "/tmp"])[0]
    if mode == "read_only":
        return Policy("read_only", (), protected, network=False, temp=temp)
    cache = env.get("XDG_CACHE_HOME") or ""
    if not os.path.isabs(cache):
        cache = str(Path.home() / ".cache")
    writable = [workspace, temp, *TEMP_DIRS, cache, *settings.writable]
    writable = _unique([p for p in writable if os.path.isabs(p)])
    # Mounted: those in a writable place that exist, and two even when they do not yet
    # (namespace.get creates them): the home, where a command must not plant a config.json,
    # and the workspace's own .pixir/ — else in a subdirectory of a repository a command
    # could make `.pixir/sessions/…` and `.git` there, and the next run would take the
    # workspace for the repository root and resume the Log the command wrote.
    home, own = _unique([home])[0], _unique([paths.state_dir(workspace)])[0]
    readonly = tuple(
        p
        for p in protected
        if any(_beneath(p, root) for root in writable) and (p in (home, own) or os.path.exists(p))
    )
    links = tuple(dict.fromkeys(link for path in guarded for link in _links_to(path)))
    return Policy(
        "auto", writable, protected, settings.network, temp, readonly=readonly, links=links
    )


def _links_to(path) -> list[str]:
    """The symbolic links met on the way to `path`, each where it lies (its parent resolved)."""
    found = []
    current = "/"
    for part in Path(os.path.abspath(os.path.expanduser(str(path)))).parts[1:]:
        step = os.path.join(current, part)
        if os.path.islink(step):
            found.append(step)
            current = os.path.realpath(step)
        else:
            current = step
    return found


def rules(policy: Policy, abi: int) -> Rules:
    """The ruleset of `policy` for Landlock ABI `abi`: only the rights that ABI knows."""
    everything = ll.fs_rights(abi)
    if policy.mode == "read_only":
        # Device ioctls change devices (a terminal's input queue, a disk), so read_only
        # handles them; auto leaves them to the program (GPUs, terminals, KVM need them).
        fs, scoped = everything, ll.scopes(abi)
        grants = [("/", READ, True)]
    else:
        fs, scoped = everything & ~ll.FS_IOCTL_DEV, 0
        grants = [("/", READ, True)]
        for root in policy.writable:
            if not any(_beneath(root, p) for p in policy.protected):
                grants += _around(root, policy.carved, fs)
    grants += [(device, DEVICE & fs, True) for device in DEVICES]
    net = 0 if policy.network else ll.net_rights(abi)
    return Rules(fs, net, scoped, tuple(grants))


def _around(root: str, carved: tuple[str, ...], rights: int) -> list[tuple[str, int, bool]]:
    """Grants of `rights` on everything beneath `root` but the carved paths: `root` whole
    when none is inside it, else each entry of it, recursively around the carved ones."""
    if any(_beneath(root, p) for p in carved):
        return []
    inside = [p for p in carved if _beneath(p, root)]
    if not inside:
        return [(root, rights, True)]
    grants = []
    try:
        entries = list(os.scandir(root))
    except OSError:
        return []
    for entry in entries:
        # A link is granted where it points, if that is writable, never here: following it
        # would grant its target.
        if not entry.is_symlink():
            for path, allowed, _ in _around(entry.path, tuple(inside), rights):
                grants.append((path, allowed, False))
    return grants


def frozen_tops(policy: Policy) -> list[str]:
    """The writable directories granted entry by entry (they hold a carved path): their top
    level can be changed but not added to (see _around)."""
    tops = set()
    for root in policy.writable:
        for guarded in policy.carved:
            if guarded != root and _beneath(guarded, root):
                parent = os.path.dirname(guarded)
                while True:
                    tops.add(parent)
                    if parent == root:
                        break
                    parent = os.path.dirname(parent)
    return sorted(tops)


def _beneath(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _unique(items) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(os.path.realpath(os.path.expanduser(str(item))), None)
    return tuple(seen)


def build(ruleset_rules: Rules) -> int:
    """The Landlock ruleset fd of `ruleset_rules` (the caller closes it)."""
    fd = ll.create_ruleset(ruleset_rules.fs, ruleset_rules.net, ruleset_rules.scoped)
    try:
        for path, allowed, follow in ruleset_rules.paths:
            if allowed:
                ll.add_path_rule(fd, path, allowed, follow=follow)
    except BaseException:
        os.close(fd)
        raise
    return fd


# -- the sandbox in force ------------------------------------------------------------------


class SandboxError(Exception):
    """The command could not be confined, so it was not started."""


@dataclass(frozen=True)
class Sandbox:
    """The sandbox of one session's commands: its policy, the Landlock ABI in use (0: none)
    and why there is none, and why there is no mount namespace when a knob says so."""

    policy: Policy
    abi: int = 0
    why_not: str = ""
    mounts_off: str = ""  # PIXIR_SANDBOX_NAMESPACE=0: as if namespaces were not allowed

    @property
    def confined(self) -> bool:
        """Do commands run under Landlock?"""
        return self.abi > 0

    @property
    def filters_tcp(self) -> bool:
        return self.abi >= 4

    @property
    def why_flat(self) -> str:
        """Why the protected paths inside writable places are kept by Landlock alone, entry by
        entry, rather than by read-only mounts ("" when mounts keep them, or none is inside)."""
        if not self.confined or not self.policy.readonly:
            return ""
        return self.mounts_off or namespace.broken()

    @property
    def in_force(self) -> Policy:
        """The policy as enforced: without read-only mounts where namespaces are not allowed
        (found out before the first command, or by a command that could not join one)."""
        return replace(self.policy, mounts=False) if self.why_flat else self.policy

    def popen(self, argv: list[str], **kwargs) -> subprocess.Popen:
        """subprocess.Popen, confined when the sandbox is in force. Raises SandboxError when
        it cannot be confined (it never runs unconfined instead), OSError as Popen does."""
        if not self.confined:
            return subprocess.Popen(argv, **kwargs)
        try:
            return self._spawn(self.in_force, argv, kwargs)
        except namespace.Unavailable:  # noted for the rest of the process: in_force changed
            return self._spawn(self.in_force, argv, kwargs)

    def _spawn(self, policy: Policy, argv: list[str], kwargs: dict) -> subprocess.Popen:
        private = _private_temp(policy)
        if private:
            kwargs = {**kwargs, "env": {**(kwargs.get("env") or os.environ), "TMPDIR": private}}
        # The kept ruleset and namespace stay open until the command is confined.
        with _spawn_lock:
            ns = namespace.get(policy.readonly) if policy.mounts and policy.readonly else None
            try:
                fd = _ruleset(policy, self.abi)
            except OSError as exc:
                raise SandboxError(exc.strerror or str(exc)) from None
            try:
                if ns is not None and ns.user is not None:
                    return namespace.popen_in(ns, argv, kwargs, ll.restrict_steps(fd))
                enter = None if ns is None else partial(namespace.enter_here, ns)
                return ll.run_confined(fd, lambda: subprocess.Popen(argv, **kwargs), enter)
            except ll.NotConfined as exc:
                raise SandboxError(exc.strerror or str(exc)) from None

    def private_temp(self) -> str | None:
        """The TMPDIR for confined commands when the temp dir itself cannot be added to (it
        holds a carved path, see frozen_tops): a private directory in it, made once per
        process and removed at exit. None when $TMPDIR serves as it is."""
        return _private_temp(self.in_force) if self.confined else None

    def summary(self) -> str:
        """One line for people (doctor): what is in force."""
        if not self.confined:
            return f"none ({self.why_not})"
        extra = "" if self.filters_tcp else "; this ABI cannot filter TCP"
        if self.policy.mounts and self.policy.readonly and not self.why_flat:
            kept = self.policy.readonly
            verb = "is" if len(kept) == 1 else "are"
            extra += f" and a mount namespace where {' and '.join(kept)} {verb} read-only"
        elif self.why_flat:
            extra += f"; no mount namespace ({self.why_flat})"
        return f"Landlock ABI {self.abi}{extra}"

    def for_model(self) -> str:
        """What the model must know of the sandbox (the developer context)."""
        if self.confined:
            return f"Landlock (ABI {self.abi}) confines every bash command: {self.reach()}"
        if self.policy.mode == "read_only":
            allowed = "bash runs only an allow-list of read-only commands without shell operators"
        else:
            allowed = "commands run with the user's full rights"
        return f"none ({self.why_not}); {allowed}"

    def reach(self) -> str:
        """What a confined command may change, in one sentence."""
        policy = self.in_force
        tcp = "" if policy.network or not self.filters_tcp else ", and opens no TCP connection"
        if policy.mode == "read_only":
            return (
                "it may read and run anything, but cannot write, create, delete or rename "
                f"files (only /dev/null and the like){tcp}"
            )
        text = (
            f"it may write only beneath {', '.join(policy.writable)}, never in "
            f"{' or '.join(policy.protected)}{tcp}"
        )
        tops = frozen_tops(policy)
        if tops:
            text += (
                f"; at the top level of {', '.join(tops)} it can change the entries that exist, "
                "but not create, delete or rename one (create a new top-level file or directory "
                "with the write tool)"
            )
            if policy.temp in tops:
                text += f"; $TMPDIR is a private directory in {policy.temp}"
        return text

    def notice(self) -> str | None:
        """What people must be told once, before the first command: the sandbox is off or
        missing, or weaker than the settings ask. None when all is as asked."""
        mode = self.policy.mode
        if not self.confined:
            fallback = (
                "read_only allows only its allow-list of read-only commands"
                if mode == "read_only"
                else "commands run unconfined"
            )
            return f"no sandbox for commands: {self.why_not}; {fallback}"
        said = []
        if not self.filters_tcp and (mode == "read_only" or not self.policy.network):
            said.append(
                f"this kernel's Landlock (ABI {self.abi}) cannot filter TCP (ABI 4, Linux 6.7): "
                "commands can still open network connections"
            )
        if self.why_flat:
            tops = frozen_tops(self.in_force)
            said.append(
                f"no mount namespace for commands ({self.why_flat}): they cannot create, delete "
                f"or rename entries at the top of {', '.join(tops)} (docs/sandbox.md)"
            )
        return "; ".join(said) or None

    def notice_once(self) -> str | None:
        """`notice()`, the first time this process would say it; then None."""
        text = self.notice()
        if text is None or text in _said:
            return None
        _said.add(text)
        return text

    def denial_note(self, output: str) -> str | None:
        """A note for the model when a confined command's output shows a denial that the
        sandbox may have caused (EACCES, EPERM, or EXDEV for a rename under ABI 1)."""
        if not self.confined or not DENIED.search(output):
            return None
        if self.policy.mode == "read_only":
            advice = "this session is read-only: describe the change instead of making it."
        else:
            advice = (
                "work inside what it allows, or tell the user what must run outside it (they "
                "can add paths to sandbox.writable in pixir's config.json, or use --sandbox off)."
            )
        return (
            f"[pixir sandbox] This command ran under Landlock: {self.reach()}. A denial of "
            "anything else came from the sandbox, not from file permissions: do not try to get "
            f"around it; {advice}"
        )


# EACCES and EPERM from Landlock, EXDEV for a rename it refuses under ABI 1; EROFS and EBUSY
# from the read-only mounts (writing in one; removing or renaming the mount point).
DENIED = re.compile(
    r"Permission denied|Operation not permitted|Invalid cross-device link|"
    r"Read-only file system|Device or resource busy|"
    r"\bE(?:ACCES|PERM|XDEV|ROFS|BUSY)\b|\[Errno (?:1|13|16|18|30)\]"
)


def sandbox_for(settings, mode: str, workspace: Path, env: Mapping[str, str] | None = None):
    """The Sandbox of a session in `mode`: Settings.sandbox (and whether a flag or the config
    turned it off), with the Landlock ABI this machine offers."""
    chosen = settings.sandbox
    policy = policy_for(mode, workspace, chosen, env)
    if not chosen.enabled:
        source = settings.sources.get("sandbox")
        why = "--sandbox off" if source == "flag" else "sandbox.enabled is false in config.json"
        return Sandbox(policy, 0, why)
    if chosen.abi_cap == 0:
        return Sandbox(policy, 0, "PIXIR_LANDLOCK_ABI=0")
    try:
        abi = ll.version()
    except ll.Unavailable as why:
        return Sandbox(policy, 0, str(why))
    abi = abi if chosen.abi_cap is None else min(abi, chosen.abi_cap)
    if not chosen.namespaces:
        return Sandbox(policy, abi, mounts_off="PIXIR_SANDBOX_NAMESPACE=0")
    if policy.readonly:
        try:  # found out once per process
            namespace.probe(policy.readonly)
        except namespace.Unavailable:
            pass  # Sandbox.why_flat says why
    return Sandbox(policy, abi)


def _ruleset(policy: Policy, abi: int) -> int:
    """The ruleset fd of `policy`, kept for the next command while the directories granted
    entry by entry hold the same entries (names and inodes: an mtime, ticking by the jiffy,
    could miss a change made in the same few milliseconds)."""
    stamp = tuple(_stamp(top) for top in frozen_tops(policy))
    kept = _rulesets.get((policy, abi))
    if kept is not None and kept[0] == stamp:
        return kept[1]
    fd = build(rules(policy, abi))
    if kept is not None:
        os.close(kept[1])
    _rulesets[(policy, abi)] = (stamp, fd)
    return fd


def _stamp(path: str) -> frozenset[tuple[str, int]] | None:
    try:
        with os.scandir(path) as entries:
            return frozenset((entry.name, entry.inode()) for entry in entries)
    except OSError:
        return None


def _private_temp(policy: Policy) -> str | None:
    if policy.mode != "auto" or policy.temp not in frozen_tops(policy):
        return None
    made = _private_temps.get(policy.temp)
    if made is None or not os.path.isdir(made):
        import atexit
        import shutil
        import tempfile

        made = tempfile.mkdtemp(prefix="pixir-commands-", dir=policy.temp)
        atexit.register(shutil.rmtree, made, ignore_errors=True)
        _private_temps[policy.temp] = made
    return made


_rulesets: dict[tuple[Policy, int], tuple[tuple, int]] = {}
_spawn_lock = threading.Lock()
_said: set[str] = set()  # notices this process has given
_private_temps: dict[str, str] = {}  # temp dir -> this process's private one in it
