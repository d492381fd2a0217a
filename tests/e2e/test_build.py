"""The built executable and the installable package, used the way a person would."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import pixir

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("PIXIR_BIN", ROOT / "dist" / "pixir"))


@pytest.fixture
def clean_env(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8"}
    return env


def require_binary():
    if not BIN.exists():
        pytest.fail(f"{BIN} is missing: run ./build.sh first")


def test_built_executable_runs_outside_the_checkout_with_a_fresh_home(tmp_path, clean_env):
    require_binary()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run(
        [str(BIN), "--version"], cwd=elsewhere, env=clean_env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"pixir {pixir.__version__} (commit ")
    assert done.stderr == ""
    # The fresh HOME got shiv's extraction and nothing else; no ~/.pixir for --version.
    assert not (Path(clean_env["HOME"]) / ".pixir").exists()


def test_built_executable_is_the_zipapp_build_sh_promises():
    # `#!/usr/bin/env python3`, compressed, --compile-pyc, reproducible, entry point
    import zipfile

    require_binary()
    assert BIN.read_bytes().startswith(b"#!/usr/bin/env python3\n")
    with zipfile.ZipFile(BIN) as archive:
        environment = json.loads(archive.read("environment.json"))
        entries = archive.infolist()
    assert environment["entry_point"] == "pixir.cli:main"
    assert environment["compile_pyc"] is True and environment["reproducible"] is True
    assert {entry.compress_type for entry in entries} == {zipfile.ZIP_DEFLATED}
    assert len({entry.date_time for entry in entries}) == 1  # SOURCE_DATE_EPOCH, not mtimes
    assert any(entry.filename == "site-packages/pixir/cli.py" for entry in entries)


PROBE = """
import atexit, runpy, sys
def report():
    import pixir
    network = ("requests", "websocket", "jwt", "urllib3", "ssl", "socket", "http")
    loaded = [m for m in sys.modules if m.split(".")[0] in network]
    print("PROBE", pixir.__file__, loaded, file=sys.stderr)
atexit.register(report)
sys.argv = [{bin!r}, sys.argv[1]]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


@pytest.mark.parametrize("flag", ["--version", "--help"])
def test_built_executable_version_and_help_import_no_network_library(tmp_path, clean_env, flag):
    require_binary()
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(bin=str(BIN)), flag],
        cwd=tmp_path,
        env=clean_env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    probe = done.stderr.split("PROBE ", 1)[1]
    assert "/site-packages/pixir/__init__.py" in probe  # pixir came out of the zipapp
    assert str(ROOT / "pixir") not in probe
    assert probe.rstrip().endswith("[]")


def test_built_executable_doctor_json(tmp_path, clean_env):
    require_binary()
    clean_env["PIXIR_HOME"] = str(tmp_path / "pixir-home")
    done = subprocess.run(
        [str(BIN), "doctor", "--json"], cwd=tmp_path, env=clean_env, capture_output=True, text=True
    )
    assert done.returncode == 1  # no credential: blocked
    body = json.loads(done.stdout)
    assert body["status"] == "blocked"
    assert {c["name"] for c in body["checks"]} >= {"credential", "config", "bash", "model"}
