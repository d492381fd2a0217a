"""auth.json: validation, the private atomic write (even under SIGKILL), and the lock."""

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pixir.auth import store
from pixir.errors import PixirError

ROOT = Path(__file__).resolve().parents[3]


def test_save_is_private_and_load_validates(pixir_home):
    store.save({"kind": "api_key", "api_key": "sk-1"})
    path = pixir_home / "auth.json"
    assert path.stat().st_mode & 0o777 == 0o600
    assert pixir_home.stat().st_mode & 0o777 == 0o700
    assert json.loads(path.read_text())["api_key"] == "sk-1"
    assert not list(pixir_home.glob(".auth.json.*"))  # no temp file left behind
    assert store.load() == {"kind": "api_key", "api_key": "sk-1"}
    assert store.delete() is True and store.delete() is False
    assert store.load() is None


def test_save_is_0600_whatever_the_umask_and_an_old_file_mode(pixir_home):
    pixir_home.mkdir(mode=0o700)
    path = pixir_home / "auth.json"
    path.write_text("{}")
    os.chmod(path, 0o644)  # an old, too-open file is replaced, not rewritten in place
    old = os.umask(0o000)
    try:
        store.save({"kind": "api_key", "api_key": "sk-2"})
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_leftover_temp_file_of_a_killed_process_never_stops_a_save(pixir_home):
    """Temp names are unique per save (fsutil.atomic_write), so a leftover — even one named
    as an earlier save of this very pid would have named it — is never in the way; the
    lock that every save is made under removes it."""
    pixir_home.mkdir(mode=0o700)
    leftovers = [pixir_home / f".auth.json.{os.getpid()}.tmp"]
    store.save({"kind": "api_key", "api_key": "sk-0"})  # the file the next save replaces
    for leftover in leftovers:
        leftover.write_text("half a fi")
        os.chmod(leftover, 0o644)
    with store.locked():
        store.save({"kind": "api_key", "api_key": "sk-3"})
    assert not any(leftover.exists() for leftover in leftovers)
    assert store.load()["api_key"] == "sk-3"
    assert not list(pixir_home.glob(".auth.json.*"))


def test_a_save_never_leaves_its_temp_file_and_it_is_private_from_the_start(
    pixir_home, monkeypatch
):
    """The temp file is 0600 from its creation (checked at the moment it is written), and a
    save that fails removes it."""
    import tempfile

    seen = []
    real_mkstemp = tempfile.mkstemp

    def watched(*args, **kwargs):
        fd, name = real_mkstemp(*args, **kwargs)
        seen.append((name, os.stat(name).st_mode & 0o777))
        return fd, name

    monkeypatch.setattr(tempfile, "mkstemp", watched)
    old = os.umask(0o000)
    try:
        store.save({"kind": "api_key", "api_key": "sk-4"})
    finally:
        os.umask(old)
    assert [mode for _, mode in seen] == [0o600]
    assert Path(seen[0][0]).name.startswith(".auth.json.")

    def refuse(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(PixirError) as caught:
        store.save({"kind": "api_key", "api_key": "sk-5"})
    assert caught.value.kind == "auth_write_failed"
    assert not list(pixir_home.glob(".auth.json.*"))  # the failed save's temp file is gone
    assert store.load()["api_key"] == "sk-4"


def test_temp_files_of_killed_saves_are_removed_once_nobody_writes(pixir_home):
    """A save killed before its rename leaves `.auth.json.PID.tmp` holding tokens. The next
    process to read or lock the file removes it — but never while another holds the lock,
    since that one may be the live writer of the file."""
    store.save({"kind": "api_key", "api_key": "sk-5"})
    env = {**os.environ, "PIXIR_HOME": str(pixir_home), "PYTHONPATH": str(ROOT)}
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert holder.stdout.readline() == b"locked\n"
        leftovers = [pixir_home / f".auth.json.{pid}.tmp" for pid in (9_999_991, 9_999_992)]
        for leftover in leftovers:  # older than auth.json: not the newest tokens
            leftover.write_text('{"kind": "api_key", "api_key": "sk-spent"}')
            os.utime(leftover, (1, 1))
        assert store.load()["api_key"] == "sk-5"  # does not wait for the lock ...
        assert all(leftover.exists() for leftover in leftovers)  # ... nor touch its files
    finally:
        holder.stdin.close()
        holder.wait()
        holder.stdout.close()
    unrelated = pixir_home / ".auth.json.lock.bak"
    unrelated.write_text("not ours")
    assert store.load()["api_key"] == "sk-5"
    assert not any(leftover.exists() for leftover in leftovers)
    assert unrelated.exists()
    leftovers[0].write_text("x")
    with store.locked():  # login, logout and refresh sweep too
        assert not leftovers[0].exists()


def test_a_complete_temp_file_left_by_a_killed_save_is_adopted(pixir_home):
    """A refresh killed between writing its temp file and the rename: the server has rotated
    the pair, so auth.json holds a spent refresh token and the temp file the only good one.
    The next process adopts it (deleting it signed the user out); a cut-short one goes."""
    store.save({"kind": "api_key", "api_key": "sk-old"})
    newest = pixir_home / ".auth.json.9999993.tmp"
    newest.write_text('{"kind": "api_key", "api_key": "sk-newest"}')
    cut = pixir_home / ".auth.json.9999994.tmp"
    cut.write_text('{"kind": "api_key", "api_k')
    assert store.load()["api_key"] == "sk-newest"
    assert not newest.exists() and not cut.exists()
    assert stat.S_IMODE((pixir_home / "auth.json").stat().st_mode) == 0o600


@pytest.fixture
def linked(pixir_home, tmp_path):
    """auth.json as a link to a file kept elsewhere (dotfiles), holding key sk-1."""
    target = tmp_path / "dotfiles" / "pixir-auth.json"
    target.parent.mkdir()
    store.save({"kind": "api_key", "api_key": "sk-1"}, target)
    pixir_home.mkdir(mode=0o700, exist_ok=True)
    (pixir_home / "auth.json").symlink_to(target)
    return target


def test_a_symlinked_auth_file_is_written_through_to_its_target(pixir_home, linked):
    target = linked
    store.save({"kind": "api_key", "api_key": "sk-2"})
    assert (pixir_home / "auth.json").is_symlink()
    assert store.load()["api_key"] == "sk-2"
    assert json.loads(target.read_text())["api_key"] == "sk-2"


def test_deleting_a_symlinked_auth_file_removes_the_secret_not_just_the_link(pixir_home, linked):
    target = linked
    assert store.delete() is True
    assert not target.exists()  # the key is gone, wherever it was kept
    assert (pixir_home / "auth.json").is_symlink()  # the user's link stays for the next login
    assert store.load() is None and store.delete() is False
    store.save({"kind": "api_key", "api_key": "sk-2"})
    assert json.loads(target.read_text())["api_key"] == "sk-2"


@pytest.mark.parametrize("target", ["device", "foreign"])
def test_logout_through_a_link_to_no_pixir_credential_removes_only_the_link(
    pixir_home, tmp_path, target
):
    """A link to /dev/null (a copy: the real one is never at risk) or to another program's
    credential file: that file is not pixir's to delete."""
    if target == "device":
        if os.geteuid() != 0:
            pytest.skip("mknod of a character device needs root")
        kept = tmp_path / "null"
        os.mknod(kept, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    else:
        kept = tmp_path / "codex-auth.json"
        kept.write_text('{"OPENAI_API_KEY": null, "tokens": {"refresh_token": "rt"}}')
    pixir_home.mkdir(mode=0o700, exist_ok=True)
    (pixir_home / "auth.json").symlink_to(kept)
    assert store.delete() is True
    assert not (pixir_home / "auth.json").is_symlink() and os.path.lexists(kept)


def test_an_auth_file_that_is_no_regular_file_is_corrupt_not_read(pixir_home):
    pixir_home.mkdir(mode=0o700, exist_ok=True)
    (pixir_home / "auth.json").symlink_to("/dev/zero")  # read whole: memory without end
    with pytest.raises(PixirError) as info:
        store.load()
    assert info.value.kind == "corrupt_auth" and "not a regular file" in info.value.message


def test_unwritable_place_is_a_clear_error_not_a_traceback(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    path = blocker / "auth.json"  # works as root too: nobody writes under a regular file
    with pytest.raises(PixirError) as info:
        store.save({"kind": "api_key", "api_key": "sk-4"}, path)
    assert info.value.kind == "auth_write_failed" and str(path) in info.value.message
    assert "sk-4" not in info.value.message


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("{", "invalid JSON"),
        ("[]", "not a JSON object"),
        ('{"kind": "magic"}', "unknown credential kind"),
        ('{"kind": "api_key"}', "missing api_key"),
        ('{"kind": "subscription", "access_token": "a", "refresh_token": "r"}', "account_id"),
        (
            '{"kind": "subscription", "access_token": "a", "refresh_token": "r", '
            '"account_id": "x", "expires_at": "soon"}',
            "expires_at",
        ),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_corrupt_auth_names_the_path(pixir_home, content, why):
    pixir_home.mkdir()
    path = pixir_home / "auth.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(PixirError) as info:
        store.load()
    assert info.value.kind == "corrupt_auth" and info.value.exit_code == 4
    assert str(path) in info.value.message and why in info.value.message


# A writer that saves big alternating records as fast as it can, until killed.
WRITER = """
import sys
from pixir.auth import store
pad = "x" * 200_000
n = 0
print("ready", flush=True)
while True:
    n += 1
    store.save({"kind": "api_key", "api_key": f"sk-{n}", "pad": pad})
"""


def test_sigkill_during_save_leaves_the_old_or_the_new_file_whole(pixir_home):
    store.save({"kind": "api_key", "api_key": "sk-0", "pad": "x" * 200_000})
    env = {**os.environ, "PIXIR_HOME": str(pixir_home), "PYTHONPATH": str(ROOT)}
    path = pixir_home / "auth.json"
    for attempt in range(8):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER], env=env, stdout=subprocess.PIPE, cwd=ROOT
        )
        assert proc.stdout.readline() == b"ready\n"
        time.sleep(0.02 + 0.013 * attempt)  # land somewhere inside some save
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        data = store.load()  # never corrupt_auth: a complete old or new record
        assert data["kind"] == "api_key" and data["api_key"].startswith("sk-")
        assert len(data["pad"]) == 200_000
        assert path.stat().st_mode & 0o777 == 0o600
        for leftover in pixir_home.glob(".auth.json.*.tmp"):  # private even when abandoned
            assert leftover.stat().st_mode & 0o777 == 0o600


HOLDER = """
import sys, time
from pixir.auth import store
with store.locked():
    print("locked", flush=True)
    sys.stdin.readline()
"""


def test_lock_is_exclusive_across_processes_and_released_on_exit(pixir_home):
    import fcntl

    env = {**os.environ, "PIXIR_HOME": str(pixir_home), "PYTHONPATH": str(ROOT)}
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        assert holder.stdout.readline() == b"locked\n"
        lock = pixir_home / "auth.json.lock"
        assert lock.stat().st_mode & 0o777 == 0o600
        fd = os.open(lock, os.O_RDWR)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            holder.kill()  # the OS releases the lock of a dead process
            holder.wait()
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
    finally:
        holder.kill()
        holder.wait()
        holder.stdin.close()
        holder.stdout.close()
    with store.locked():
        pass  # and this process can take it
