"""Build hook: bake the git commit pixir is built from into the built package, as
`pixir/_build.py` (read by pixir/buildinfo.py for `pixir --version`; docs/cli.md,
"Versions"). The package metadata is in pyproject.toml.

`./build.sh` (through shiv), `pip install .` and `pipx install .` all build through here.
The commit is `PIXIR_BUILD_COMMIT` when set (a packager building from a copy without
`.git`), else the HEAD of the git checkout being built, with `DIRTY` when tracked files
have uncommitted changes; outside a checkout it is None. The source tree is never written.
"""

import os
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


def git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=HERE, capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def build_commit() -> tuple[str | None, bool | None]:
    explicit = os.environ.get("PIXIR_BUILD_COMMIT", "").strip()
    if explicit:
        return explicit, None
    top = git("rev-parse", "--show-toplevel")
    # a copy of the tree inside some other repository must not take that one's commit
    if top is None or os.path.realpath(top) != os.path.realpath(HERE):
        return None, None
    commit = git("rev-parse", "HEAD")
    changes = git("status", "--porcelain", "--untracked-files=no")
    return commit, (bool(changes) if changes is not None else None)


class BuildPy(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install runs the checkout itself: buildinfo reads .git
        commit, dirty = build_commit()
        target = os.path.join(self.build_lib, "pixir", "_build.py")
        with open(target, "w", encoding="utf-8") as fh:
            fh.write(
                "# Written by setup.py when this package was built (docs/cli.md).\n"
                f"COMMIT = {commit!r}\nDIRTY = {dirty!r}\n"
            )


setup(cmdclass={"build_py": BuildPy})
