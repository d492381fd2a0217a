"""`pip install .` and `pipx install .` of a copy of the working tree into fresh
environments, then a real Turn with the installed `pixir` command against the fake.

Offline: pip resolves the dependencies, and the build backend its isolated build needs,
from the wheelhouse build.sh collects (.venv/wheelhouse), never from an index.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pixir import __version__ as pixir_version
from tests.fake_backend import step, text, tool_call
from tests.harness import REPO_ROOT, PixirRunner

pytestmark = pytest.mark.e2e

WHEELHOUSE = REPO_ROOT / ".venv" / "wheelhouse"


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """The working tree as a user's checkout would have it (no venv, build or caches)."""
    if not any(WHEELHOUSE.glob("requests-*.whl")):
        pytest.fail(f"{WHEELHOUSE} has no wheels: run ./build.sh first", pytrace=False)
    target = tmp_path_factory.mktemp("checkout") / "pixir"
    ignored = shutil.ignore_patterns(
        ".git", ".venv", "dist", "build", "bench", "*.egg-info", "__pycache__", ".*cache"
    )
    shutil.copytree(REPO_ROOT, target, ignore=ignored)
    return target


def offline(tmp_path: Path) -> dict[str, str]:
    """An environment whose pip (and pipx's) installs from the wheelhouse only."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(WHEELHOUSE),
        "PIP_CONFIG_FILE": os.devnull,  # no index the machine's pip.conf names
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }


def run(argv: list, env: dict, timeout: float = 180) -> None:
    done = subprocess.run(
        [str(a) for a in argv], env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{argv}\n{done.stdout}\n{done.stderr}"


def works(executable: Path, fake, tmp_path: Path, commit: str = "commit unknown") -> None:
    """The installed command names the commit it was built from (`commit`: how), signs in
    with a key from stdin and edits a file in a Turn."""
    assert executable.exists(), executable
    pixir = PixirRunner(fake, tmp_path / "use", executable=[str(executable)])
    version = pixir.run("--version")
    assert version.code == 0, version
    assert version.stdout.startswith(f"pixir {pixir_version} ({commit}; Python "), version
    login = pixir.run("login", "--with-api-key", stdin=fake.api_key + "\n")
    assert login.code == 0, login
    (pixir.workspace / "notes.txt").write_text("hello\n")
    edit = {"path": "notes.txt", "old_string": "hello", "new_string": "bye"}
    fake.script(step(tool_call("edit", edit)), step(text("notes.txt now says bye.")))
    result = pixir.run("say bye in notes.txt")
    assert result.code == 0, result
    assert result.stdout == "notes.txt now says bye.\n"
    assert (pixir.workspace / "notes.txt").read_text() == "bye\n"


def test_pip_install_gives_a_working_pixir(source, fake, tmp_path):
    env = offline(tmp_path)
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", venv], env)
    # a copy without .git: the packager names the commit, and the build bakes it in
    env["PIXIR_BUILD_COMMIT"] = "c0ffee" * 6 + "c0ff"
    run([venv / "bin" / "python", "-m", "pip", "install", "--quiet", source], env)
    works(venv / "bin" / "pixir", fake, tmp_path, commit="commit c0ffeec0ffee")


def test_pipx_install_gives_a_working_pixir(source, fake, tmp_path):
    env = offline(tmp_path)
    env.update(
        PIPX_HOME=str(tmp_path / "pipx"),
        PIPX_BIN_DIR=str(tmp_path / "bin"),
        PIPX_MAN_DIR=str(tmp_path / "man"),
    )
    run([sys.executable, "-m", "pipx", "install", source], env)
    works(tmp_path / "bin" / "pixir", fake, tmp_path)
