"""pixir/sandbox/policy.py: what each mode may write and connect to, the rules that say it
for each Landlock ABI, and a Sandbox that really confines commands (the bash tool's): with
`.pixir/` and PIXIR_HOME read-only in a mount namespace where that is allowed, and granted
around, entry by entry, where it is not (the "flat" sandbox below)."""

from __future__ import annotations

import os
import re
import socket
from dataclasses import replace
from pathlib import Path

import pytest

from pixir.config import SandboxSettings, Settings
from pixir.sandbox import landlock as ll
from pixir.sandbox import namespace
from pixir.sandbox import policy as pol
from pixir.tools.bash import run_command

try:
    KERNEL_ABI = ll.version()
except ll.Unavailable:  # pragma: no cover - this machine has Landlock
    KERNEL_ABI = 0
needs_landlock = pytest.mark.skipif(not KERNEL_ABI, reason="no Landlock on this machine")


@pytest.fixture
def place(tmp_path, monkeypatch):
    """A workspace with a .pixir/, a PIXIR_HOME, a HOME and a TMPDIR, all apart (as for a
    real user, whose PIXIR_HOME is ~/.pixir and whose workspace is not in the temp dir)."""
    root = tmp_path.resolve()
    workspace = root / "ws"
    for folder in ("ws/.pixir/sessions", "ws/src", "home/.cache", "tmp", "outside", "pixir-home"):
        (root / folder).mkdir(parents=True)
    (workspace / "README").write_text("old\n")
    (workspace / ".pixir" / "sessions" / "s.jsonl").write_text("{}\n")
    (root / "pixir-home" / "config.json").write_text("{}")
    env = {"TMPDIR": str(root / "tmp"), "HOME": str(root / "home")}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PIXIR_HOME", str(root / "pixir-home"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    # This whole place is in /tmp, which auto makes writable: leave the system temp dirs
    # out, so that `outside` is outside (test_auto_writes_... checks they are there).
    monkeypatch.setattr(pol, "TEMP_DIRS", ())
    return root


def settings(**sandbox) -> Settings:
    return Settings(sandbox=SandboxSettings(**sandbox))


def flat(policy: pol.Policy) -> pol.Policy:
    """`policy` where namespaces are not allowed: Landlock alone keeps the protected paths."""
    return replace(policy, mounts=False)


def flat_box(mode: str, ws: Path, **sandbox) -> pol.Sandbox:
    """The Sandbox of `mode` as PIXIR_SANDBOX_NAMESPACE=0 makes it."""
    return pol.sandbox_for(settings(namespaces=False, **sandbox), mode, ws)


def grants(rules: pol.Rules) -> dict[str, int]:
    return {path: rights for path, rights, _ in rules.paths}


# -- the policy of each mode ------------------------------------------------------------------


def test_read_only_writes_nothing_and_connects_nowhere(place):
    policy = pol.policy_for("read_only", place / "ws", SandboxSettings())
    assert policy.writable == ()
    assert policy.protected == (str(place / "ws" / ".pixir"), str(place / "pixir-home"))
    assert not policy.network


def test_auto_writes_in_the_workspace_temp_dirs_cache_and_configured_places(place, monkeypatch):
    monkeypatch.setattr(pol, "TEMP_DIRS", ("/tmp", "/dev/shm"))
    extra = place / "outside"
    policy = pol.policy_for("auto", place / "ws", SandboxSettings(writable=(str(extra),)))
    assert policy.writable == tuple(
        str(p)
        for p in (
            place / "ws",
            place / "tmp",
            Path("/tmp").resolve(),
            Path("/dev/shm").resolve(),
            place / "home" / ".cache",
            extra,
        )
    )
    assert policy.network
    # the protected paths in a writable place (here all: this place is in /tmp) get a
    # read-only mount
    assert policy.protected == (str(place / "ws" / ".pixir"), str(place / "pixir-home"))
    assert policy.readonly == policy.protected and policy.links == ()
    monkeypatch.setattr(pol, "TEMP_DIRS", ())
    apart = pol.policy_for("auto", place / "ws", SandboxSettings())
    assert apart.readonly == (str(place / "ws" / ".pixir"),)
    assert pol.policy_for("ask", place / "ws", SandboxSettings()).mode == "auto"
    off = pol.policy_for("auto", place / "ws", SandboxSettings(network=False))
    assert not off.network


def test_xdg_cache_home_is_the_cache_when_absolute(place, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(place / "outside"))
    policy = pol.policy_for("auto", place / "ws", SandboxSettings())
    assert str(place / "outside") in policy.writable
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    policy = pol.policy_for("auto", place / "ws", SandboxSettings())
    assert str(place / "home" / ".cache") in policy.writable


def test_paths_are_resolved_since_landlock_sees_real_paths(place):
    (place / "link-to-outside").symlink_to(place / "outside")
    chosen = SandboxSettings(writable=(str(place / "link-to-outside"),))
    assert str(place / "outside") in pol.policy_for("auto", place / "ws", chosen).writable


# -- the rules --------------------------------------------------------------------------------


@pytest.mark.parametrize("abi", range(1, 8))
def test_read_only_rules_handle_every_right_the_abi_knows_and_grant_only_reading(place, abi):
    rules = pol.rules(pol.policy_for("read_only", place / "ws", SandboxSettings()), abi)
    assert rules.fs == ll.fs_rights(abi)
    assert rules.net == ll.net_rights(abi)
    assert rules.scoped == ll.scopes(abi)
    granted = grants(rules)
    assert granted.pop("/") == pol.READ
    assert set(granted) == set(pol.DEVICES)
    assert all(rights & ~rules.fs == 0 for rights in granted.values())  # the kernel's rule


@pytest.mark.parametrize("abi", range(1, 8))
def test_auto_rules_leave_device_ioctls_and_with_network_tcp_alone(place, abi):
    policy = pol.policy_for("auto", place / "ws", SandboxSettings())
    rules = pol.rules(policy, abi)
    assert rules.fs == ll.fs_rights(abi) & ~ll.FS_IOCTL_DEV
    assert (rules.net, rules.scoped) == (0, 0)
    assert pol.rules(replace(policy, network=False), abi).net == ll.net_rights(abi)
    assert all(rights & ~rules.fs == 0 for rights in grants(rules).values())


def test_with_mounts_the_workspace_is_granted_whole(place):
    ws = place / "ws"
    policy = pol.policy_for("auto", ws, SandboxSettings())
    assert pol.frozen_tops(policy) == []
    granted = grants(pol.rules(policy, 7))
    everything = ll.fs_rights(7) & ~ll.FS_IOCTL_DEV
    assert granted[str(ws)] == granted[str(place / "tmp")] == everything
    assert str(ws / ".pixir") not in pol.Sandbox(policy, 7).reach().split("never in")[0]


def test_without_mounts_the_workspace_is_granted_around_its_pixir_dir(place):
    ws = place / "ws"
    (ws / "link").symlink_to(place / "outside")
    granted = grants(pol.rules(flat(pol.policy_for("auto", ws, SandboxSettings())), 7))
    everything = ll.fs_rights(7) & ~ll.FS_IOCTL_DEV
    assert granted[str(ws / "src")] == granted[str(ws / "README")] == everything
    assert str(ws) not in granted  # nothing can be added at its top level
    assert str(ws / ".pixir") not in granted
    assert not any(path.startswith(str(ws / ".pixir")) for path in granted)
    assert str(ws / "link") not in granted  # never follow a link to grant its target
    assert str(place / "outside") not in granted
    assert granted[str(place / "tmp")] == everything


def test_pixir_home_inside_a_writable_tree_is_carved_out_at_any_depth(place, monkeypatch):
    home = place / "tmp" / "a" / "b" / "pixir-home"
    home.mkdir(parents=True)
    (place / "tmp" / "a" / "sibling").mkdir()
    monkeypatch.setenv("PIXIR_HOME", str(home))
    mounted = pol.policy_for("auto", place / "ws", SandboxSettings())
    assert mounted.readonly == (str(place / "ws" / ".pixir"), str(home))
    assert pol.frozen_tops(mounted) == []
    policy = flat(mounted)
    granted = grants(pol.rules(policy, 7))
    assert str(place / "tmp" / "a" / "sibling") in granted
    assert not any(p == str(home) or p.startswith(str(home) + "/") for p in granted)
    assert not any(p in granted for p in (str(place / "tmp"), str(place / "tmp" / "a")))
    assert pol.frozen_tops(policy) == sorted(
        [str(place / "ws"), str(place / "tmp"), str(place / "tmp/a"), str(place / "tmp/a/b")]
    )


def test_a_missing_protected_path_is_carved_too_so_no_command_can_create_it(place, monkeypatch):
    monkeypatch.setenv("PIXIR_HOME", str(place / "tmp" / "not-yet"))
    policy = pol.policy_for("auto", place / "ws", SandboxSettings())
    assert str(place / "tmp" / "not-yet") in policy.readonly  # namespace.get makes it
    granted = grants(pol.rules(flat(policy), 7))
    assert str(place / "tmp") not in granted


@needs_landlock
def test_in_a_subdirectory_both_pixir_dirs_are_kept_and_no_log_can_be_planted(place):
    # pixir run in ws/src of a repository keeps its sessions in ws/.pixir; src/.pixir is
    # made read-only too, or a command could make src/.pixir/sessions/… and src/.git, and the
    # next run in src would take it for the repository root and resume that Log
    ws, sub = place / "ws", place / "ws" / "src"
    (ws / ".git").mkdir()
    chosen = SandboxSettings(writable=(str(ws),))  # so that the root's .pixir/ is in reach
    policy = pol.policy_for("auto", sub, chosen)
    assert policy.protected == (str(sub / ".pixir"), str(ws / ".pixir"), str(place / "pixir-home"))
    assert policy.readonly == (str(sub / ".pixir"), str(ws / ".pixir"))
    assert pol.frozen_tops(policy) == []
    assert str(sub) in pol.frozen_tops(flat(policy))  # without mounts, carved as before
    box = pol.sandbox_for(settings(writable=(str(ws),)), "auto", sub)
    assert run(box, "mkdir build && echo x > top.txt", sub).exit_code == 0
    done = run(box, "echo x >> ../.pixir/sessions/s.jsonl", sub)
    assert done.exit_code == 1 and "Read-only file system" in done.output
    assert (ws / ".pixir" / "sessions" / "s.jsonl").read_text() == "{}\n"
    planted = run(box, "touch .git; mkdir -p .pixir/sessions && echo {} > .pixir/sessions/x", sub)
    assert planted.exit_code != 0 and "Read-only file system" in planted.output
    assert os.listdir(sub / ".pixir") == []  # made by pixir, empty, nothing planted


@pytest.mark.parametrize("where", ["inside", "outside"])
def test_a_link_to_a_protected_path_cannot_be_replaced_even_with_mounts(place, where):
    # a repository may ship `.pixir` as a link: pixir follows it, so a command must not
    # remove it (and make its own .pixir/) though the workspace is writable
    ws = place / "ws"
    target = ws / "logs" if where == "inside" else place / "outside" / "logs"
    (ws / ".pixir").rename(target)
    (ws / ".pixir").symlink_to(target)
    policy = pol.policy_for("auto", ws, SandboxSettings())
    assert policy.links == (str(ws / ".pixir"),)
    assert str(target) in policy.protected
    assert (str(target) in policy.readonly) == (where == "inside")
    for each in (policy, flat(policy)):
        granted = grants(pol.rules(each, 7))
        assert str(ws) not in granted and str(ws / ".pixir") not in granted
        assert str(ws / "src") in granted and pol.frozen_tops(each) == [str(ws)]


def test_a_writable_place_that_is_protected_is_not_granted(place):
    chosen = SandboxSettings(writable=(str(place / "pixir-home"),))
    granted = grants(pol.rules(pol.policy_for("auto", place / "ws", chosen), 7))
    assert str(place / "pixir-home") not in granted


# -- the sandbox in force ---------------------------------------------------------------------


def test_sandbox_off_by_flag_or_config_says_which(place):
    flag = replace(settings(enabled=False), sources={"sandbox": "flag"})
    box = pol.sandbox_for(flag, "auto", place / "ws")
    assert not box.confined and box.why_not == "--sandbox off"
    config = replace(settings(enabled=False), sources={"sandbox": "config"})
    box = pol.sandbox_for(config, "read_only", place / "ws")
    assert box.why_not == "sandbox.enabled is false in config.json"
    assert "allow-list" in box.notice() and "allow-list" in box.for_model()


def test_missing_landlock_is_a_sandbox_with_its_reason(place, monkeypatch):
    def missing():
        raise ll.Unavailable("the kernel (4.19) has no Landlock")

    monkeypatch.setattr(ll, "version", missing)
    box = pol.sandbox_for(settings(), "auto", place / "ws")
    assert not box.confined
    assert box.notice() == (
        "no sandbox for commands: the kernel (4.19) has no Landlock; commands run unconfined"
    )
    assert box.for_model().startswith("none (the kernel (4.19) has no Landlock)")
    assert box.denial_note("Permission denied") is None


@needs_landlock
def test_the_abi_cap_lowers_the_abi_and_zero_means_none(place):
    assert pol.sandbox_for(settings(abi_cap=0), "auto", place / "ws").abi == 0
    assert pol.sandbox_for(settings(abi_cap=3), "auto", place / "ws").abi == min(3, KERNEL_ABI)
    assert pol.sandbox_for(settings(abi_cap=99), "auto", place / "ws").abi == KERNEL_ABI


def test_a_weak_abi_is_said_when_tcp_should_be_filtered(place):
    read_only = pol.Sandbox(pol.policy_for("read_only", place / "ws", SandboxSettings()), 3)
    assert "cannot filter TCP" in read_only.notice()
    auto = pol.Sandbox(pol.policy_for("auto", place / "ws", SandboxSettings()), 3)
    assert auto.notice() is None
    offline = pol.Sandbox(pol.policy_for("auto", place / "ws", SandboxSettings(network=False)), 3)
    assert "cannot filter TCP" in offline.notice()
    assert pol.Sandbox(offline.policy, 4).notice() is None


@needs_landlock
def test_without_namespaces_the_sandbox_says_why_and_what_it_costs(place, monkeypatch):
    ws = place / "ws"
    mounted = pol.sandbox_for(settings(), "auto", ws)
    assert mounted.why_flat == "" and mounted.notice() is None
    assert mounted.summary().endswith(f"a mount namespace where {ws / '.pixir'} is read-only")
    assert "at the top level" not in mounted.reach()
    knob = flat_box("auto", ws)
    assert knob.why_flat == "PIXIR_SANDBOX_NAMESPACE=0" and not knob.in_force.mounts
    said = (
        "no mount namespace for commands (PIXIR_SANDBOX_NAMESPACE=0): they cannot create, "
        f"delete or rename entries at the top of {ws} (docs/sandbox.md)"
    )
    assert knob.notice() == said
    assert knob.summary().endswith("; no mount namespace (PIXIR_SANDBOX_NAMESPACE=0)")
    assert f"at the top level of {ws} it can change the entries that exist" in knob.for_model()
    # read_only needs no namespace, so there is nothing to say
    assert flat_box("read_only", ws).notice() is None
    # a system that refuses them: found out once, said the same way
    monkeypatch.setattr(namespace, "_made", {})
    monkeypatch.setattr(namespace, "_make", _no_namespaces)
    refused = pol.sandbox_for(settings(), "auto", ws)
    assert refused.why_flat == "user namespaces are not allowed (test)"
    assert refused.notice().startswith("no mount namespace for commands (user namespaces are")


def _no_namespaces(paths):
    raise namespace.Unavailable("user namespaces are not allowed (test)")


def test_a_notice_is_given_once_per_process(place, monkeypatch):
    monkeypatch.setattr(pol, "_said", set())
    box = pol.Sandbox(pol.policy_for("auto", place / "ws", SandboxSettings()), 0, "gone")
    assert box.notice_once() == box.notice()
    assert box.notice_once() is None


@pytest.mark.parametrize(
    "output",
    [
        "bash: line 1: x: Permission denied",
        "mkdir: cannot create directory 'x': Operation not permitted",
        "PermissionError: [Errno 13] x",
        "mv: cannot move 'a' to 'b/a': Invalid cross-device link",
        "bash: line 1: .pixir/x: Read-only file system",
        "mv: cannot move '.pixir' to 'x': Device or resource busy",
    ],
)
def test_a_denial_in_the_output_gets_a_note_naming_what_is_allowed(place, output):
    auto = pol.Sandbox(pol.policy_for("auto", place / "ws", SandboxSettings()), 7)
    note = auto.denial_note(output)
    assert note.startswith("[pixir sandbox] This command ran under Landlock:")
    assert str(place / "ws") in note and "sandbox.writable" in note
    assert f"never in {place / 'ws' / '.pixir'} or {place / 'pixir-home'}" in note
    assert "top-level" not in note
    flat_note = pol.Sandbox(auto.policy, 7, mounts_off="test").denial_note(output)
    assert "create a new top-level file or directory with the write tool" in flat_note
    read_only = pol.Sandbox(pol.policy_for("read_only", place / "ws", SandboxSettings()), 7)
    assert "read-only" in read_only.denial_note(output)
    assert auto.denial_note("all good\n") is None


# -- a Sandbox confining real commands --------------------------------------------------------


def run(box: pol.Sandbox, command: str, cwd: Path):
    result = run_command(command, cwd, 20_000, sandbox=box)
    assert result.ok, result.output
    return result


@needs_landlock
def test_auto_confines_writes_to_its_places_and_keeps_pixir_read_only(place):
    ws = place / "ws"
    box = pol.sandbox_for(settings(), "auto", ws)
    assert not box.why_flat, box.why_flat
    ok = run(
        box,
        "echo new > src/made && echo more >> README && mktemp && mkdir build && "
        "echo x > build/y && echo x > top.txt && mv top.txt top2.txt && rm -r build && echo ok",
        ws,
    )
    assert ok.output.rstrip().endswith("ok") and "[pixir sandbox]" not in ok.output
    assert (ws / "src" / "made").read_text() == "new\n"
    assert (ws / "README").read_text() == "old\nmore\n"
    assert sorted(os.listdir(ws)) == [".pixir", "README", "src", "top2.txt"]
    for command in (
        "echo x > .pixir/sessions/s.jsonl",
        "rm -rf .pixir",
        "mv .pixir gone",
        f'echo \'{{"sandbox": {{"enabled": false}}}}\' > {place / "pixir-home" / "config.json"}',
        f"touch {place / 'outside' / 'new'}",
    ):
        result = run(box, command, ws)
        assert result.exit_code != 0, command
        assert "[pixir sandbox]" in result.output, command
    assert sorted(os.listdir(ws)) == [".pixir", "README", "src", "top2.txt"]
    assert sorted(os.listdir(ws / ".pixir" / "sessions")) == ["s.jsonl"]
    assert (ws / ".pixir" / "sessions" / "s.jsonl").read_text() == "{}\n"
    assert (place / "pixir-home" / "config.json").read_text() == "{}"
    assert os.listdir(place / "outside") == []


@needs_landlock
def test_the_folders_above_a_read_only_path_cannot_be_moved_away(place):
    # with the folder that holds the workspace and PIXIR_HOME writable (a workspace and a
    # PIXIR_HOME in /tmp), moving that folder aside and making new ones would hand the next
    # run a .pixir/ and a config.json the command wrote
    ws = place / "ws"
    box = pol.sandbox_for(settings(writable=(str(place),)), "auto", ws)
    assert not box.why_flat, box.why_flat
    for command in (
        f"mv {place / 'ws'} {place / 'moved'}",
        f"mv {place / 'pixir-home'} {place / 'moved'}",
    ):
        result = run(box, command, ws)
        assert result.exit_code != 0 and "busy" in result.output, (command, result.output)
    assert sorted(os.listdir(place)) == sorted(["ws", "home", "tmp", "outside", "pixir-home"])
    assert run(box, f"mkdir {place / 'new'} && mv {place / 'new'} {place / 'newer'}", ws).ok


MOUNT_SETATTR = (
    "python3 -c 'import ctypes; a = (ctypes.c_uint64 * 4)(0, 1, 0, 0); "
    'print(ctypes.CDLL(None, use_errno=True).syscall(442, -100, b".pixir", 0, a, 32), '
    "ctypes.get_errno())'"
)


@needs_landlock
@pytest.mark.skipif(os.geteuid() != 0, reason="capabilities are root's to lose")
def test_a_root_command_has_no_capability_that_undoes_the_read_only_mount(place):
    ws = place / "ws"
    box = pol.sandbox_for(settings(), "auto", ws)
    shown = run(box, "grep CapBnd /proc/self/status", ws).output
    bounding = re.search(r"CapBnd:\s*([0-9a-f]+)", shown).group(1)
    for name, number in ll.DROPPED_CAPABILITIES.items():
        assert not int(bounding, 16) >> number & 1, name
    # mount_setattr(".pixir", MOUNT_ATTR_RDONLY cleared): no CAP_SYS_ADMIN, so EPERM (1)
    tried = run(box, f"{MOUNT_SETATTR}; echo forged >> .pixir/sessions/s.jsonl", ws)
    assert "-1 1" in tried.output and "Read-only file system" in tried.output, tried.output
    assert (ws / ".pixir" / "sessions" / "s.jsonl").read_text() == "{}\n"
    # pixir itself keeps its capabilities (only the confined thread lost them)
    with open("/proc/self/status") as status:
        mine = next(line for line in status if line.startswith("CapBnd:")).split()[1]
    assert int(mine, 16) >> ll.DROPPED_CAPABILITIES["CAP_SYS_ADMIN"] & 1


@needs_landlock
def test_flat_auto_confines_writes_to_its_places_entry_by_entry(place):
    ws = place / "ws"
    box = flat_box("auto", ws)
    ok = run(box, "echo new > src/made && echo more >> README && mktemp && echo ok", ws)
    assert ok.output.rstrip().endswith("ok") and "[pixir sandbox]" not in ok.output
    assert (ws / "src" / "made").read_text() == "new\n"
    assert (ws / "README").read_text() == "old\nmore\n"
    for command in (
        "echo x > top-level-new",
        "echo x > .pixir/sessions/s.jsonl",
        "rm .pixir/sessions/s.jsonl",
        f'echo \'{{"sandbox": {{"enabled": false}}}}\' > {place / "pixir-home" / "config.json"}',
        f"touch {place / 'outside' / 'new'}",
        "rm README",
        "mv README README.md",
    ):
        result = run(box, command, ws)
        assert result.exit_code != 0, command
        assert "[pixir sandbox]" in result.output, command
    assert sorted(os.listdir(ws)) == [".pixir", "README", "src"]
    assert (ws / ".pixir" / "sessions" / "s.jsonl").read_text() == "{}\n"
    assert (place / "pixir-home" / "config.json").read_text() == "{}"
    assert os.listdir(place / "outside") == []


@needs_landlock
def test_a_top_level_entry_made_between_commands_is_writable_by_the_next(place):
    ws = place / "ws"
    box = flat_box("auto", ws)
    assert run(box, "echo x >> later.txt", ws).exit_code == 1
    (ws / "later.txt").write_text("")  # the write tool, the user, ...
    assert run(box, "echo x >> later.txt", ws).exit_code == 0
    assert (ws / "later.txt").read_text() == "x\n"


@needs_landlock
def test_the_ruleset_is_kept_until_the_top_level_changes(place, monkeypatch):
    ws = place / "ws"
    box = flat_box("auto", ws)
    built = []
    real_build = pol.build
    monkeypatch.setattr(pol, "build", lambda rules: built.append(rules) or real_build(rules))
    monkeypatch.setattr(pol, "_rulesets", {})
    for _ in range(3):
        run(box, "true", ws)
    assert len(built) == 1
    (ws / "new-entry").mkdir()
    run(box, "echo x > new-entry/file", ws)
    assert len(built) == 2 and (ws / "new-entry" / "file").read_text() == "x\n"
    # a top-level file replaced at once (as the write tool does: a temp file renamed over
    # it), within the same clock tick as the last build: the new inode is granted
    (ws / "README.tmp").write_text("new\n")
    os.replace(ws / "README.tmp", ws / "README")
    assert run(box, "echo more >> README", ws).exit_code == 0
    assert (ws / "README").read_text() == "new\nmore\n" and len(built) == 3


@needs_landlock
def test_read_only_runs_anything_and_changes_nothing(place):
    ws = place / "ws"
    box = pol.sandbox_for(settings(), "read_only", ws)
    assert run(box, "python3 -c 'print(6*7)' && cat README", ws).output.endswith("42\nold\n")
    for command in ("echo x >> README", "echo x > src/new", "mkdir src/d", "mktemp"):
        assert run(box, command, ws).exit_code != 0, command
    assert run(box, "echo x > /dev/null && echo fine", ws).exit_code == 0
    assert (ws / "README").read_text() == "old\n" and os.listdir(ws / "src") == []
    assert os.listdir(place / "tmp") == []


@needs_landlock
def test_network_false_or_read_only_refuses_tcp(place):
    if KERNEL_ABI < 4:
        pytest.skip("TCP filtering needs ABI 4")
    ws = place / "ws"
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        connect = f"python3 -c \"import socket; socket.create_connection(('127.0.0.1', {port}))\""
        online = pol.sandbox_for(settings(), "auto", ws)
        assert run(online, connect, ws).exit_code == 0
        for box in (
            pol.sandbox_for(settings(network=False), "auto", ws),
            pol.sandbox_for(settings(), "read_only", ws),
        ):
            result = run(box, connect, ws)
            assert result.exit_code == 1 and "PermissionError" in result.output


@needs_landlock
def test_commands_keep_their_tmpdir_when_a_mount_keeps_the_workspace_in_it(place):
    ws = place / "tmp" / "project"
    (ws / ".pixir").mkdir(parents=True)
    box = pol.sandbox_for(settings(), "auto", ws)
    assert box.private_temp() is None
    made = run(box, "mktemp && echo $TMPDIR && echo x > ../beside", ws).output.split("\n")
    assert made[-2] == str(place / "tmp") and made[-3].startswith(str(place / "tmp") + "/")
    assert (place / "tmp" / "beside").read_text() == "x\n"


@needs_landlock
def test_commands_get_a_private_tmpdir_when_the_temp_dir_holds_the_workspace(place):
    ws = place / "tmp" / "project"
    (ws / ".pixir").mkdir(parents=True)
    box = flat_box("auto", ws)
    assert str(place / "tmp") in pol.frozen_tops(box.in_force)
    made = run(box, "mktemp && echo $TMPDIR", ws).output.split("\n")
    private = made[-2]
    assert private.startswith(str(place / "tmp" / "pixir-commands-"))
    assert made[-3].startswith(private + "/")
    assert box.private_temp() == private  # one per process
    assert flat_box("auto", place / "ws").private_temp() is None


@needs_landlock
def test_a_command_that_cannot_join_the_namespace_runs_flat_and_later_ones_too(place, monkeypatch):
    ws = place / "ws"
    box = pol.sandbox_for(settings(), "auto", ws)
    assert box.notice() is None
    real = namespace._libc().setns

    def refused(*args):
        import ctypes

        ctypes.set_errno(1)
        return -1

    monkeypatch.setattr(namespace._libc(), "setns", refused)
    # the command runs, under the entry-by-entry rule: never unprotected, never lost
    first = run(box, "echo x > src/first && echo x > top.txt", ws)
    assert first.exit_code == 1 and (ws / "src" / "first").exists()
    assert not (ws / "top.txt").exists()
    assert "create a new top-level file or directory with the write tool" in first.output
    assert box.why_flat.startswith("cannot enter the mount namespace (setns")
    assert box.notice().startswith("no mount namespace for commands (cannot enter")
    monkeypatch.setattr(namespace._libc(), "setns", real)  # for the rest of the process
    assert run(box, "echo x > top.txt", ws).exit_code == 1
    assert not (ws / "top.txt").exists()
    assert run(box, "echo x > .pixir/sessions/s.jsonl", ws).exit_code == 1


@needs_landlock
def test_a_ruleset_that_cannot_be_built_runs_nothing(place, monkeypatch):
    ws = place / "ws"
    box = pol.sandbox_for(settings(), "auto", ws)

    def refuse(*args, **kwargs):
        raise OSError(22, "Invalid argument")

    monkeypatch.setattr(ll, "create_ruleset", refuse)
    from pixir.tools.result import ToolFailure

    with pytest.raises(ToolFailure) as info:
        run_command("echo ran > src/ran", ws, 5000, sandbox=box)
    assert info.value.kind == "sandbox_failed" and "--sandbox off" in info.value.message
    assert not (ws / "src" / "ran").exists()
