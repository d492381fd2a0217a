"""Which pixir this is: the version, the git commit it was built from, and the Python
running it (`pixir --version`, `doctor`, crash reports). docs/cli.md, "Versions".

The commit is baked into the package when it is built (setup.py writes `pixir/_build.py`:
dist/pixir, `pip install .`, `pipx install .`). A source checkout run with
`python3 pixir.py` has no such file and reads the checkout's `.git` directly; anything else
says the commit is unknown. Cheap and import-light: `--version` must stay fast.
"""

from __future__ import annotations

import os
import sys

from pixir import __version__


def describe() -> dict:
    """`{version, commit, dirty, commit_from, python, python_executable}`. `commit` is the
    full hash or None; `dirty` True when the build had uncommitted changes (None: not
    known); `commit_from` says how it was found: "build", "checkout" or None."""
    commit, dirty, built = _baked()
    found = "build"
    if not built:
        commit = _checkout_commit(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        found = "checkout"
    return {
        "version": __version__,
        "commit": commit,
        "dirty": dirty,
        "commit_from": found if commit else None,
        "python": "{}.{}.{}".format(*sys.version_info[:3]),
        "python_executable": sys.executable,
    }


def line(info: dict) -> str:
    """The one line of `pixir --version`."""
    return (
        f"pixir {info['version']} ({commit_text(info)}; "
        f"Python {info['python']}, {info['python_executable']})"
    )


def commit_text(info: dict) -> str:
    """`commit 0123456789ab`, `... with local changes`, `source checkout at ...` or
    `commit unknown`."""
    commit = info["commit"]
    if commit is None:
        return "commit unknown"
    if info["commit_from"] == "checkout":
        return f"source checkout at {commit[:12]}"
    return f"commit {commit[:12]}" + (" with local changes" if info["dirty"] else "")


def _baked() -> tuple[str | None, bool | None, bool]:
    """(commit, dirty, whether this is a built package at all)."""
    try:
        from pixir import _build  # written by setup.py into the built package only
    except ImportError:
        return None, None, False
    return getattr(_build, "COMMIT", None), getattr(_build, "DIRTY", None), True


def _checkout_commit(root: str) -> str | None:
    """HEAD of the git checkout at `root`, read from its files (no `git` process: this runs
    on every `--version` of a checkout): `.git` a directory or a worktree's `gitdir:` file,
    HEAD a hash or a ref, the ref loose or packed."""
    git = os.path.join(root, ".git")
    try:
        if os.path.isfile(git):
            with open(git, encoding="utf-8") as fh:
                pointer = fh.read().strip()
            if not pointer.startswith("gitdir:"):
                return None
            git = os.path.join(root, pointer[len("gitdir:") :].strip())
        with open(os.path.join(git, "HEAD"), encoding="utf-8") as fh:
            head = fh.read().strip()
        if not head.startswith("ref:"):
            return _hash(head)
        ref = head[len("ref:") :].strip()
        common = git
        if os.path.isfile(os.path.join(git, "commondir")):
            with open(os.path.join(git, "commondir"), encoding="utf-8") as fh:
                common = os.path.join(git, fh.read().strip())
        for folder in dict.fromkeys((git, common)):
            try:
                with open(os.path.join(folder, ref), encoding="utf-8") as fh:
                    return _hash(fh.read().strip())
            except FileNotFoundError:
                pass
        with open(os.path.join(common, "packed-refs"), encoding="utf-8") as fh:
            for entry in fh:
                value, _, name = entry.strip().partition(" ")
                if name == ref:
                    return _hash(value)
    except (OSError, UnicodeDecodeError):
        return None
    return None


def _hash(text: str) -> str | None:
    text = text.strip()
    if len(text) in (40, 64) and all(c in "0123456789abcdef" for c in text):
        return text
    return None
