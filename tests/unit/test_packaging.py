"""The package metadata and the start-up import budget."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

import pixir
from tests.harness import closed_port

ROOT = Path(__file__).resolve().parents[2]
NETWORK_MODULES = ("requests", "websocket", "jwt", "urllib3", "ssl", "socket", "http")


def test_version_is_declared_once_in_each_place_and_equal():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert meta["project"]["version"] == pixir.__version__


def test_runtime_dependencies_are_exactly_the_three_documented():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    names = sorted(d.split(">")[0].split("=")[0] for d in meta["project"]["dependencies"])
    assert names == ["pyjwt", "requests", "websocket-client"]


@pytest.mark.parametrize(
    "argv", [["--version"], ["--help"], ["login", "--help"], ["models"], ["acp", "--help"]]
)
def test_light_commands_import_no_network_library(argv):
    code = (
        "import sys; from pixir.cli import main; rc = main(sys.argv[1:]); "
        f"bad = [m for m in sys.modules if m.split('.')[0] in {NETWORK_MODULES!r}]; "
        "print('LOADED', bad, file=sys.stderr); sys.exit(rc)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *argv], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "LOADED []" in done.stderr


def test_launcher_runs_from_a_checkout():
    done = subprocess.run(
        [sys.executable, str(ROOT / "pixir.py"), "--version"], capture_output=True, text=True
    )
    assert done.returncode == 0
    assert done.stdout.startswith(f"pixir {pixir.__version__} (")


@pytest.mark.parametrize(
    ("blocked", "package"),
    [("websocket", "websocket-client"), ("requests", "requests")],
)
def test_a_checkout_run_on_an_interpreter_without_a_dependency_says_what_to_install(
    tmp_path, blocked, package
):
    # None in sys.modules makes `import <blocked>` fail as it does where it is not installed
    boot = (
        "import runpy, sys; sys.modules[sys.argv[1]] = None; sys.argv = sys.argv[2:]; "
        "runpy.run_path(sys.argv[0], run_name='__main__')"
    )
    home = tmp_path / "home"
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "PIXIR_HOME": str(home / ".pixir"),
        "OPENAI_API_KEY": "sk-test-not-a-real-key",
        "OPENAI_BASE_URL": f"http://127.0.0.1:{closed_port()}/v1",
        "NO_COLOR": "1",
    }
    argv = ["--transport", "websocket" if blocked == "websocket" else "http_sse", "hi"]
    done = subprocess.run(
        [sys.executable, "-c", boot, blocked, str(ROOT / "pixir.py"), *argv],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    error, hint = done.stderr.splitlines()[-2:]
    assert done.returncode == 1, done.stderr
    assert error == (
        f"error: missing_dependency: the Python package {package} is not installed for "
        f"{sys.executable}"
    ), done.stderr
    assert hint.startswith(f"hint: {sys.executable} -m pip install requests websocket-client")
    assert not (home / ".pixir" / "crash").exists()


AUTH_MODULES = [
    "pixir.auth.credential",
    "pixir.auth.store",
    "pixir.auth.oauth",
    "pixir.auth.claims",
    "pixir.auth.device",
    "pixir.auth.browser",
    "pixir.auth.summary",
    "pixir.commands.login",
    "pixir.commands.logout",
    "pixir.commands.status",
    "pixir.commands.doctor",
]


def test_auth_modules_import_neither_requests_nor_jwt():
    # loading the auth code and the auth commands imports no network or JWT library; only
    # the functions that talk or decode do
    code = (
        "import importlib, sys\n"
        f"for name in {AUTH_MODULES!r}: importlib.import_module(name)\n"
        "roots = ('requests', 'jwt', 'urllib3')\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in roots)\n"
        "print(bad)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
