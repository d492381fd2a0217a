"""shivcache.py: an extraction in use is never removed; an idle older pixir build's is;
nothing that is not pixir's is touched. The locks are real flocks, held by real processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from pixir import shivcache

OURS = "pixir_" + "a" * 64
OLDER = "pixir_" + "b" * 64
OTHER = "pixir_" + "c" * 64


def extraction(root, name, *, package="pixir", marker=True, age_s=0.0):
    folder = root / name
    (folder / "site-packages" / package).mkdir(parents=True)
    (folder / "site-packages" / package / "cli.py").write_text("")
    if marker:
        (folder / shivcache.IN_USE).touch()
    if age_s:
        old = time.time() - age_s
        os.utime(folder / "site-packages", (old, old))
    return folder


HOLDER = """
import sys, time
sys.path.insert(0, sys.argv[2])
from pixir import shivcache
assert shivcache.hold(sys.argv[1])
print("held", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def running():
    """Start a process that holds an extraction as a running pixir does, until the test
    ends."""
    started = []

    def start(folder):
        root = os.path.dirname(os.path.dirname(shivcache.__file__))
        proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(folder), root],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout.readline() == "held\n"
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stdin.close()
        proc.wait(timeout=30)


def test_an_idle_older_build_is_removed_and_ours_is_kept(tmp_path):
    ours = extraction(tmp_path, OURS)
    extraction(tmp_path, OLDER)
    assert shivcache.prune(str(ours)) == [OLDER]
    assert sorted(p.name for p in tmp_path.iterdir()) == [OURS]


def test_a_build_in_use_is_kept_until_it_exits(tmp_path, running):
    ours = extraction(tmp_path, OURS)
    older = extraction(tmp_path, OLDER)
    holder = running(older)
    assert shivcache.prune(str(ours)) == []
    assert (older / "site-packages" / "pixir" / "cli.py").exists()
    holder.stdin.close()
    holder.wait(timeout=30)
    assert shivcache.prune(str(ours)) == [OLDER]
    assert not older.exists()


def test_what_is_not_pixirs_is_never_touched(tmp_path):
    ours = extraction(tmp_path, OURS)
    other_app = extraction(tmp_path, "otherapp_" + "d" * 64, package="otherapp")
    same_build = extraction(tmp_path, "pixir-nightly_" + "a" * 64)  # ours, another name
    unpacking = tmp_path / (OLDER + ".tmp")  # shiv is still writing it
    (unpacking / "site-packages" / "pixir").mkdir(parents=True)
    (unpacking / "site-packages" / "pixir" / "cli.py").write_text("")
    notes = tmp_path / "notes"
    notes.mkdir()
    assert shivcache.prune(str(ours)) == []
    for kept in (other_app, same_build, unpacking, notes, ours):
        assert kept.exists(), kept


def test_a_build_shiv_is_unpacking_again_is_kept(tmp_path, running):
    import fcntl

    ours = extraction(tmp_path, OURS)
    older = extraction(tmp_path, OLDER)
    lock = tmp_path / f".{OLDER}_lock"
    with open(lock, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        assert shivcache.prune(str(ours)) == []
        assert older.exists()
    assert shivcache.prune(str(ours)) == [OLDER]
    assert lock.exists()  # shiv's lock file stays: another shiv may be waiting on it


def test_an_extraction_from_before_the_in_use_marker_gets_a_day(tmp_path):
    ours = extraction(tmp_path, OURS)
    recent = extraction(tmp_path, OLDER, marker=False, age_s=3600)
    stale = extraction(tmp_path, OTHER, marker=False, age_s=2 * 24 * 3600)
    assert shivcache.prune(str(ours)) == [OTHER]
    assert recent.exists() and not stale.exists()


def test_hold_notices_an_extraction_removed_while_it_started(tmp_path):
    folder = extraction(tmp_path, OLDER)
    moved = tmp_path / "elsewhere"
    folder.rename(moved)
    assert shivcache.hold(str(folder)) is False  # gone: the launcher starts over
    assert shivcache.hold(str(moved)) is True


def test_a_removal_cut_short_is_finished_by_the_next_prune(tmp_path):
    ours = extraction(tmp_path, OURS)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    leftover = tmp_path / f".{OLDER}.pruned-{dead}"
    (leftover / "site-packages").mkdir(parents=True)
    alive = tmp_path / f".{OTHER}.pruned-{os.getpid()}"  # a pruner still at work
    alive.mkdir()
    shivcache.prune(str(ours))
    assert not leftover.exists() and alive.exists()
