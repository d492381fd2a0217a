"""buildinfo.py: the commit a build baked in, or the checkout's HEAD read from its files."""

import subprocess
import sys
import types

import pytest

from pixir import __version__, buildinfo

HASH = "0123456789abcdef0123456789abcdef01234567"
OTHER = "fedcba9876543210fedcba9876543210fedcba98"


def test_a_baked_commit_wins(monkeypatch):
    monkeypatch.setitem(sys.modules, "pixir._build", types.SimpleNamespace(COMMIT=HASH, DIRTY=True))
    info = buildinfo.describe()
    assert info == {
        "version": __version__,
        "commit": HASH,
        "dirty": True,
        "commit_from": "build",
        "python": "{}.{}.{}".format(*sys.version_info[:3]),
        "python_executable": sys.executable,
    }
    assert buildinfo.line(info).startswith(
        f"pixir {__version__} (commit {HASH[:12]} with local changes; Python "
    )


def test_a_build_outside_a_checkout_says_unknown(monkeypatch):
    monkeypatch.setitem(sys.modules, "pixir._build", types.SimpleNamespace(COMMIT=None))
    info = buildinfo.describe()
    assert info["commit"] is None and info["commit_from"] is None
    assert "(commit unknown; Python" in buildinfo.line(info)


def git_dir(root, head="ref: refs/heads/main\n"):
    git = root / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    (git / "HEAD").write_text(head)
    return git


def test_a_loose_ref(tmp_path):
    git = git_dir(tmp_path)
    (git / "refs" / "heads" / "main").write_text(HASH + "\n")
    assert buildinfo._checkout_commit(str(tmp_path)) == HASH


def test_a_packed_ref(tmp_path):
    git = git_dir(tmp_path)
    (git / "packed-refs").write_text(
        f"# pack-refs with: peeled\n{OTHER} refs/heads/x\n{HASH} refs/heads/main\n"
    )
    assert buildinfo._checkout_commit(str(tmp_path)) == HASH


def test_a_detached_head(tmp_path):
    git_dir(tmp_path, head=HASH + "\n")
    assert buildinfo._checkout_commit(str(tmp_path)) == HASH


def test_a_worktree(tmp_path):
    main = tmp_path / "main"
    common = git_dir(main)
    (common / "refs" / "heads" / "topic").write_text(OTHER + "\n")
    private = common / "worktrees" / "topic"
    private.mkdir(parents=True)
    (private / "HEAD").write_text("ref: refs/heads/topic\n")
    (private / "commondir").write_text("../..\n")
    tree = tmp_path / "topic"
    tree.mkdir()
    (tree / ".git").write_text(f"gitdir: {private}\n")
    assert buildinfo._checkout_commit(str(tree)) == OTHER


@pytest.mark.parametrize("head", ["ref: refs/heads/gone\n", "not a hash\n", ""])
def test_anything_else_is_unknown(tmp_path, head):
    git_dir(tmp_path, head=head)
    assert buildinfo._checkout_commit(str(tmp_path)) is None
    assert buildinfo._checkout_commit(str(tmp_path / "nowhere")) is None


def test_this_checkout_reads_as_git_does():
    root = buildinfo.os.path.dirname(buildinfo.os.path.dirname(buildinfo.__file__))
    done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip("not a git checkout")
    assert buildinfo._checkout_commit(root) == done.stdout.strip()
