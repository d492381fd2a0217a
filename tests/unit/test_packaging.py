"""The package metadata and the start-up import budget."""

import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

import pixir

ROOT = Path(__file__).resolve().parents[2]
NETWORK_MODULES = ("requests", "websocket", "jwt", "urllib3")


def test_version_is_declared_once_in_each_place_and_equal():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert meta["project"]["version"] == pixir.__version__


def test_runtime_dependencies_are_exactly_the_three_of_the_spec():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    names = sorted(d.split(">")[0].split("=")[0] for d in meta["project"]["dependencies"])
    assert names == ["pyjwt", "requests", "websocket-client"]


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["login", "--help"], ["models"]])
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
    assert done.stdout == f"pixir {pixir.__version__}\n"
