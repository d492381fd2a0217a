"""pixir/sandbox/landlock.py against the real kernel: the constants are the kernel's (it refuses
a right it does not know), rules confine what a confined thread starts and nothing else, and
every way Landlock can be missing gets its reason."""

from __future__ import annotations

import errno
import os
import socket
import subprocess
import sys
import threading

import pytest

from pixir.sandbox import landlock as ll

try:
    KERNEL_ABI = ll.version()
except ll.Unavailable as why:  # pragma: no cover - this machine has Landlock
    KERNEL_ABI = 0
    WHY = str(why)
else:
    WHY = ""

needs_landlock = pytest.mark.skipif(not KERNEL_ABI, reason=f"no Landlock here: {WHY}")
READ = ll.FS_EXECUTE | ll.FS_READ_FILE | ll.FS_READ_DIR


def run_python(ruleset: int, code: str) -> subprocess.CompletedProcess:
    """A Python child started by a thread confined with `ruleset`."""
    return ll.run_confined(
        ruleset,
        lambda: subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=30
        ),
    )


# -- what each ABI knows ----------------------------------------------------------------------


def test_rights_per_abi_are_the_kernel_headers_bits():
    first = (1 << 13) - 1  # EXECUTE .. MAKE_SYM
    assert ll.fs_rights(1) == first
    assert ll.fs_rights(2) == first | 1 << 13  # REFER
    assert ll.fs_rights(3) == ll.fs_rights(4) == first | 1 << 13 | 1 << 14  # TRUNCATE
    assert ll.fs_rights(5) == ll.fs_rights(6) == ll.fs_rights(7) == (1 << 16) - 1  # IOCTL_DEV
    assert [ll.net_rights(abi) for abi in range(1, 8)] == [0, 0, 0, 3, 3, 3, 3]
    assert [ll.scopes(abi) for abi in range(1, 8)] == [0, 0, 0, 0, 0, 3, 3]


def test_structs_have_the_kernels_layout():
    k = ll._kernel()
    assert k.ct.sizeof(k.RulesetAttr) == 24
    assert k.ct.sizeof(k.PathBeneathAttr) == 12  # packed
    assert k.ct.sizeof(k.NetPortAttr) == 16


@needs_landlock
@pytest.mark.parametrize("abi", range(1, 8))
def test_the_kernel_accepts_exactly_the_rights_of_each_abi(abi):
    if abi > KERNEL_ABI:
        pytest.skip(f"the kernel has ABI {KERNEL_ABI}")
    fd = ll.create_ruleset(ll.fs_rights(abi), ll.net_rights(abi), ll.scopes(abi))
    os.close(fd)
    # One bit more than the ABI knows is refused: the kernel does check, so the acceptance
    # above says the bits are right.
    if abi == KERNEL_ABI:
        with pytest.raises(OSError) as info:
            ll.create_ruleset(ll.fs_rights(abi) | ll.fs_rights(abi) + 1)
        assert info.value.errno == errno.EINVAL


# -- rules and confinement --------------------------------------------------------------------


@needs_landlock
def test_a_confined_thread_confines_its_children_and_not_the_caller(tmp_path):
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    fd = ll.create_ruleset(ll.fs_rights(KERNEL_ABI))
    try:
        assert ll.add_path_rule(fd, "/", READ)
        assert ll.add_path_rule(fd, str(allowed), ll.fs_rights(KERNEL_ABI))
        code = (
            "import sys\n"
            f"open({str(allowed / 'in.txt')!r}, 'w').write('yes')\n"
            "try:\n"
            f"    open({str(tmp_path / 'out.txt')!r}, 'w')\n"
            "except PermissionError:\n"
            "    sys.exit(13)\n"
        )
        done = run_python(fd, code)
    finally:
        os.close(fd)
    assert done.returncode == 13, done.stderr
    assert (allowed / "in.txt").read_text() == "yes"
    assert not (tmp_path / "out.txt").exists()
    # The calling thread (and so the test process) is as free as before.
    (tmp_path / "out.txt").write_text("caller")
    assert threading.current_thread() is threading.main_thread()


@needs_landlock
def test_a_file_rule_keeps_only_file_rights_and_links_are_not_followed(tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    (tmp_path / "link").symlink_to(target)
    (tmp_path / "file.txt").write_text("")
    fd = ll.create_ruleset(ll.fs_rights(KERNEL_ABI))
    try:
        # the directory rights are dropped for a file instead of failing with EINVAL
        assert ll.add_path_rule(fd, str(tmp_path / "file.txt"), ll.fs_rights(KERNEL_ABI))
        assert not ll.add_path_rule(fd, str(tmp_path / "link"), READ, follow=False)
        assert not ll.add_path_rule(fd, str(tmp_path / "missing"), READ)
        assert ll.add_path_rule(fd, str(tmp_path / "link"), READ, follow=True)
    finally:
        os.close(fd)


@needs_landlock
def test_a_port_rule_allows_that_port_only():
    if KERNEL_ABI < 4:
        pytest.skip("TCP rules need ABI 4")
    with socket.socket() as open_port, socket.socket() as other_port:
        for sock in (open_port, other_port):
            sock.bind(("127.0.0.1", 0))
            sock.listen()
        fd = ll.create_ruleset(ll.fs_rights(KERNEL_ABI), ll.NET_CONNECT_TCP)
        try:
            ll.add_path_rule(fd, "/", READ)
            ll.add_port_rule(fd, open_port.getsockname()[1], ll.NET_CONNECT_TCP)
            code = (
                "import socket, sys\n"
                "for port in sys.argv[1:]:\n"
                "    try:\n"
                "        socket.create_connection(('127.0.0.1', int(port)), timeout=5).close()\n"
                "        print(port, 'ok')\n"
                "    except PermissionError:\n"
                "        print(port, 'denied')\n"
            )
            ports = [str(s.getsockname()[1]) for s in (open_port, other_port)]
            done = ll.run_confined(
                fd,
                lambda: subprocess.run(
                    [sys.executable, "-c", code, *ports], capture_output=True, text=True
                ),
            )
        finally:
            os.close(fd)
    assert done.stdout.split("\n")[:2] == [f"{ports[0]} ok", f"{ports[1]} denied"], done.stderr


@needs_landlock
def test_a_signal_scope_keeps_the_child_from_signalling_outside_its_domain():
    if KERNEL_ABI < 6:
        pytest.skip("scopes need ABI 6")
    fd = ll.create_ruleset(ll.fs_rights(KERNEL_ABI), 0, ll.SCOPE_SIGNAL)
    try:
        ll.add_path_rule(fd, "/", READ)
        done = run_python(
            fd,
            "import os\ntry:\n"
            f"    os.kill({os.getpid()}, 0)\n    print('reached')\n"
            "except PermissionError:\n    print('denied')\n",
        )
    finally:
        os.close(fd)
    assert done.stdout.strip() == "denied"


@needs_landlock
def test_a_ruleset_the_kernel_refuses_starts_nothing():
    started = []
    with open(os.devnull) as not_a_ruleset, pytest.raises(ll.NotConfined) as info:
        ll.run_confined(not_a_ruleset.fileno(), lambda: started.append(1))
    assert info.value.errno in (errno.EBADFD, errno.EINVAL, errno.EBADF)
    assert started == []


# -- where Landlock is missing ----------------------------------------------------------------


@pytest.fixture
def fresh_version(monkeypatch):
    """ll.version() asks again (its answer is kept per process)."""
    monkeypatch.setattr(ll, "_abi", None)
    yield
    ll._abi = None


@pytest.mark.parametrize(
    ("err", "said"),
    [
        (errno.ENOSYS, "has no Landlock (it needs Linux 5.13"),
        (errno.EOPNOTSUPP, "not enabled (see its lsm= boot option)"),
        (errno.EPERM, "refused here (EPERM), as a container's seccomp policy may do"),
    ],
)
def test_each_refusal_of_the_version_call_has_its_reason(monkeypatch, fresh_version, err, said):
    monkeypatch.setattr(ll, "_call", lambda *args: (-1, err))
    with pytest.raises(ll.Unavailable) as info:
        ll.version()
    assert said in str(info.value)
    with pytest.raises(ll.Unavailable):  # asked once, answered the same after
        ll.version()


def test_not_linux_has_no_landlock(monkeypatch, fresh_version):
    monkeypatch.setattr(ll.sys, "platform", "darwin")
    with pytest.raises(ll.Unavailable, match="macOS has no Landlock"):
        ll.version()


def test_an_architecture_without_known_numbers_is_unavailable(monkeypatch, fresh_version):
    monkeypatch.setattr(ll, "_machine", lambda: "ia64")
    with pytest.raises(ll.Unavailable, match="system calls of ia64"):
        ll.version()


@pytest.mark.parametrize(
    ("machine", "first"),
    [("x86_64", 444), ("aarch64", 444), ("riscv64", 444), ("alpha", 554), ("i686", 444)],
)
def test_syscall_numbers_per_architecture(monkeypatch, machine, first):
    monkeypatch.setattr(ll, "_machine", lambda: machine)
    assert ll._syscalls() == first
