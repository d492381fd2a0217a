"""pixir/sandbox/namespace.py against the real kernel: a mount namespace where some paths are
read-only, made as root on a thread or in a user namespace by a child, joined by a thread or
by a forked child between fork and exec, made anew when a path changes, and every failure
reported without the command running."""

from __future__ import annotations

import ctypes
import errno
import os
import subprocess
import threading
from pathlib import Path

import pytest

from pixir.sandbox import landlock as ll
from pixir.sandbox import namespace as ns


def _usable() -> str:
    """Why this machine cannot make a namespace ("" when it can)."""
    if not os.path.exists("/proc/self/ns/mnt"):
        return "no namespaces (not Linux)"
    probe = subprocess.run(
        ["bash", "-c", "unshare -Urm true"], capture_output=True, text=True, check=False
    )
    return "" if probe.returncode == 0 else f"user namespaces not allowed: {probe.stderr.strip()}"


WHY = _usable() if os.path.exists("/usr/bin/unshare") else "no unshare(1) to probe with"
pytestmark = pytest.mark.skipif(bool(WHY), reason=WHY)


@pytest.fixture
def place(tmp_path):
    root = tmp_path.resolve()
    (root / "ws" / ".pixir" / "sessions").mkdir(parents=True)
    (root / "ws" / ".pixir" / "sessions" / "s.jsonl").write_text("{}\n")
    return root


def run_in(namespace: ns.Namespace, command: str, cwd: Path) -> subprocess.CompletedProcess:
    """`command` started the way a confined command is, in `namespace` (no Landlock); its
    stdout and stderr together."""
    options = {
        "cwd": str(cwd),
        "stdout": subprocess.PIPE,
        "stderr": subprocess.STDOUT,
        "text": True,
        "check": False,
    }
    if namespace.user is None:
        done = {}

        def body():
            ns.enter_here(namespace)
            done["value"] = subprocess.run(["bash", "-c", command], **options)

        thread = threading.Thread(target=body)
        thread.start()
        thread.join()
        return done["value"]
    proc = ns.popen_in(
        namespace,
        ["bash", "-c", command],
        {"cwd": str(cwd), "stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True},
        [],
    )
    try:
        out, _ = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail(f"{command!r} did not start (its child is stuck before exec)")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, "")


@pytest.fixture(params=["as it comes", "user namespace"])
def made(request, place, monkeypatch):
    """A namespace where ws/.pixir is read-only: the way this process makes one (as root: on a
    thread), and through a user namespace made by a child (what an unprivileged user gets)."""
    if request.param == "user namespace":
        monkeypatch.setattr(ns, "_make_on_thread", _refused)
    return ns.get((str(place / "ws" / ".pixir"),))


def _refused(*args):
    raise PermissionError(errno.EPERM, "unshare(CLONE_NEWNS): Operation not permitted")


def test_the_paths_are_read_only_inside_and_nothing_else_changes(made, place):
    ws = place / "ws"
    done = run_in(
        made,
        "mkdir build && echo x > build/y && echo x > top.txt && "
        "{ echo forged > .pixir/sessions/s.jsonl; rm -rf .pixir; mv .pixir moved; "
        "echo x > .pixir/new; } 2>&1; id -u; id -g; pwd",
        ws,
    )
    lines = done.stdout.splitlines()
    assert lines[-3:] == [str(os.geteuid()), str(os.getegid()), str(ws)], done.stdout
    assert sum("Read-only file system" in line for line in lines) == 3, done.stdout
    assert "Device or resource busy" in done.stdout  # the mount point cannot move
    assert (ws / "build" / "y").read_text() == (ws / "top.txt").read_text() == "x\n"
    assert (ws / "top.txt").stat().st_uid == os.geteuid()  # the user's own, not nobody's
    assert (ws / ".pixir" / "sessions" / "s.jsonl").read_text() == "{}\n"
    assert sorted(os.listdir(ws / ".pixir")) == ["sessions"]
    # pixir itself (and everyone else) still writes there; no mount leaked out
    (ws / ".pixir" / "sessions" / "s.jsonl").write_text("{}\n{}\n")
    assert str(ws / ".pixir") not in Path("/proc/self/mountinfo").read_text()


def test_one_namespace_serves_until_a_path_is_another_directory(made, place):
    pixir_dir = place / "ws" / ".pixir"
    assert ns.get((str(pixir_dir),)) is made
    os.rename(pixir_dir, place / "old")
    pixir_dir.mkdir()  # the user replaced it between two commands
    again = ns.get((str(pixir_dir),))
    assert again is not made and again.marks != made.marks
    done = run_in(again, "echo x > .pixir/new 2>&1; echo x > ../old/fine", place / "ws")
    assert "Read-only file system" in done.stdout
    assert not (pixir_dir / "new").exists() and (place / "old" / "fine").exists()


def test_a_missing_path_is_made_to_be_mounted(place):
    home = place / "tmp" / "not-yet" / "pixir-home"
    made = ns.get((str(home),))
    assert home.is_dir() and home.stat().st_mode & 0o777 == 0o700
    done = run_in(made, f"echo x > {home}/config.json", place)
    assert done.returncode != 0 and os.listdir(home) == []


def test_the_probe_finds_out_but_creates_nothing(place, monkeypatch):
    missing = place / "ws" / "not-yet" / ".pixir"
    ns.probe((str(missing),))  # as `pixir doctor` in a fresh directory does
    assert not (place / "ws" / "not-yet").exists() and ns._made == {}
    ns.probe((str(place / "ws" / ".pixir"),))  # all there: made, and kept for the commands
    assert list(ns._made) == [(str(place / "ws" / ".pixir"),)]
    monkeypatch.setattr(ns, "_made", {})
    monkeypatch.setattr(ns, "_make_on_thread", _refused)
    monkeypatch.setattr(ns._libc(), "unshare", _fail_with(errno.EPERM))
    with pytest.raises(ns.Unavailable):
        ns.probe((str(missing),))
    assert ns.broken().startswith("user namespaces are not allowed")
    assert not (place / "ws" / "not-yet").exists()


def test_the_remount_keeps_the_flags_the_kernel_locks(monkeypatch):
    class Found:
        def __init__(self, flags):
            self.f_flag = flags

    flags = {
        "/relatime": os.ST_NOSUID | os.ST_NODEV | os.ST_RELATIME,
        "/noatime": os.ST_NOEXEC | os.ST_NOATIME,
        "/strict": 0,
    }
    monkeypatch.setattr(ns.os, "statvfs", lambda path: Found(flags[path]))
    assert ns._kept_flags("/relatime") == ns.MS_NOSUID | ns.MS_NODEV | ns.MS_RELATIME
    assert ns._kept_flags("/noatime") == ns.MS_NOEXEC | ns.MS_NOATIME
    assert ns._kept_flags("/strict") == ns.MS_STRICTATIME


# -- failures --------------------------------------------------------------------------------


def _fail_with(code: int):
    def call(*args):
        ctypes.set_errno(code)
        return -1

    return call


def test_a_child_that_cannot_join_runs_nothing_and_namespaces_are_given_up(place, monkeypatch):
    monkeypatch.setattr(ns, "_make_on_thread", _refused)
    made = ns.get((str(place / "ws" / ".pixir"),))
    monkeypatch.setattr(ns._libc(), "setns", _fail_with(errno.EPERM))
    with pytest.raises(ns.Unavailable) as info:
        ns.popen_in(made, ["bash", "-c", "touch ran"], {"cwd": str(place)}, [])
    assert str(info.value) == (
        "cannot enter the mount namespace (setns(user namespace): Operation not permitted)"
    )
    assert not (place / "ran").exists()
    assert ns.broken() == str(info.value)
    with pytest.raises(ns.Unavailable):  # for the rest of the process
        ns.get((str(place / "ws" / ".pixir"),))


def test_a_thread_that_cannot_join_gives_namespaces_up(place, monkeypatch):
    if os.geteuid() != 0:
        pytest.skip("a namespace is joined by a thread only as root")
    made = ns.get((str(place / "ws" / ".pixir"),))
    assert made.user is None
    monkeypatch.setattr(ns._libc(), "setns", _fail_with(errno.EINVAL))
    raised = []
    thread = threading.Thread(target=lambda: _catch(raised, ns.enter_here, made))
    thread.start()
    thread.join()
    assert [str(e) for e in raised] == [
        "cannot enter the mount namespace (setns(mount namespace): Invalid argument)"
    ]
    assert ns.broken() == str(raised[0])


def _catch(into: list, call, *args) -> None:
    try:
        call(*args)
    except Exception as exc:
        into.append(exc)


def test_a_failing_step_after_joining_is_not_confined_and_gives_nothing_up(place, monkeypatch):
    monkeypatch.setattr(ns, "_make_on_thread", _refused)
    made = ns.get((str(place / "ws" / ".pixir"),))
    then = [("landlock_restrict_self", _fail_with(errno.EBADF), ())]
    with pytest.raises(ll.NotConfined) as info:
        ns.popen_in(made, ["bash", "-c", "touch ran"], {"cwd": str(place)}, then)
    assert info.value.errno == errno.EBADF and "landlock_restrict_self" in info.value.strerror
    assert not (place / "ran").exists() and ns.broken() == ""


def test_a_namespace_that_cannot_be_made_says_why_and_is_not_tried_again(place, monkeypatch):
    monkeypatch.setattr(ns, "_make_on_thread", _refused)
    monkeypatch.setattr(ns._libc(), "unshare", _fail_with(errno.EPERM))
    with pytest.raises(ns.Unavailable) as info:
        ns.get((str(place / "ws" / ".pixir"),))
    said = str(info.value)
    assert said.startswith("user namespaces are not allowed (")
    assert "unshare(CLONE_NEWUSER|CLONE_NEWNS): Operation not permitted" in said
    monkeypatch.setattr(ns, "_make", lambda paths: pytest.fail("asked again"))
    with pytest.raises(ns.Unavailable, match="user namespaces are not allowed"):
        ns.get((str(place / "ws" / ".pixir"),))


@pytest.mark.parametrize(
    ("knob", "value", "said"),
    [
        ("kernel/unprivileged_userns_clone", "0", "kernel.unprivileged_userns_clone = 0"),
        ("user/max_user_namespaces", "0", "user.max_user_namespaces = 0"),
        (
            "kernel/apparmor_restrict_unprivileged_userns",
            "1",
            "AppArmor restricts them: kernel.apparmor_restrict_unprivileged_userns = 1",
        ),
    ],
)
def test_the_reason_names_the_setting_that_forbids_user_namespaces(
    tmp_path, monkeypatch, knob, value, said
):
    (tmp_path / knob).parent.mkdir(parents=True)
    (tmp_path / knob).write_text(f"{value}\n")
    monkeypatch.setattr(ns, "SYSCTLS", str(tmp_path))
    text = ns._explain("write /proc/self/uid_map", errno.EPERM)
    assert text == (
        f"user namespaces are not allowed ({said}; write /proc/self/uid_map: "
        "Operation not permitted)"
    )


def test_the_child_takes_no_lock_another_thread_holds(made, place):
    # Between fork and exec the child runs with every lock as it was at the fork: one held by
    # another thread then is held forever. Hold pixir's own near the child's code (another
    # session making its namespace) while commands start: they must start all the same.
    held = threading.Event()
    release = threading.Event()

    def hold():
        with ns._lock:
            held.set()
            release.wait(60)

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    try:
        assert held.wait(10)
        for _ in range(3):
            done = run_in(made, "echo started", place / "ws")
            assert done.stdout.strip() == "started"
    finally:
        release.set()
        holder.join()
