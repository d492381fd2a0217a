"""dist/pixir's launcher (build.sh): shiv's bootstrap on a first run, the extracted
site-packages directly afterwards, and shiv's bootstrap again whenever a SHIV_* option asks
for it. Each run is probed from the inside: which path ran, where pixir and requests came
from, and which network libraries were imported."""

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import pixir

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("PIXIR_BIN", ROOT / "dist" / "pixir"))
NETWORK = ("requests", "websocket", "jwt", "urllib3")

PROBE = """
import atexit, json, runpy, sys
def report():
    import pixir
    network = [m for m in sys.modules if m.split(".")[0] in {network!r}]
    import requests
    print("PROBE" + json.dumps({{
        "bootstrap": "_bootstrap" in sys.modules,
        "pixir": pixir.__file__,
        "requests": requests.__file__,
        "network": network,
    }}), file=sys.stderr)
atexit.register(report)
sys.argv = [sys.argv[1], *sys.argv[2:]]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


@pytest.fixture
def env(tmp_path):
    if not BIN.exists():
        pytest.fail(f"{BIN} is missing: run ./build.sh first")
    home = tmp_path / "home"
    home.mkdir()
    return {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8"}


def build_id() -> str:
    with zipfile.ZipFile(BIN) as archive:
        return json.loads(archive.read("environment.json"))["build_id"]


def probe(binary: Path, env: dict, *args: str) -> tuple[dict, str]:
    """Run `binary` under the probe; return what the probe saw and pixir's stdout."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(network=NETWORK), str(binary), *args],
        env=env,
        cwd=env["HOME"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    before, _, seen = done.stderr.partition("PROBE")
    assert before == "", before  # pixir itself wrote nothing to stderr
    return json.loads(seen), done.stdout


def test_first_run_unpacks_through_shiv_then_runs_straight_from_the_unpacked_copy(env):
    unpacked = Path(env["HOME"]) / ".shiv" / f"pixir_{build_id()}" / "site-packages"

    first, out = probe(BIN, env, "--version")
    assert out.startswith(f"pixir {pixir.__version__} (")
    assert first["bootstrap"] is True
    assert unpacked.is_dir()
    assert first["pixir"] == str(unpacked / "pixir" / "__init__.py")

    warm, out = probe(BIN, env, "--version")
    assert out.startswith(f"pixir {pixir.__version__} (")
    assert warm["bootstrap"] is False
    assert warm["pixir"] == first["pixir"]
    assert warm["network"] == []  # start-up stays lazy on the fast path too


def test_the_unpacked_dependencies_come_before_the_interpreters_own(env):
    """The probe's interpreter (the test venv) has its own requests installed; pixir must
    still get the copy it was built and tested with."""
    probe(BIN, env, "--version")
    warm, _ = probe(BIN, env, "--version")
    assert warm["bootstrap"] is False
    unpacked = Path(warm["pixir"]).parents[1]
    assert Path(warm["requests"]).is_relative_to(unpacked), warm


def test_a_symlink_finds_the_unpacked_copy_of_its_target(env, tmp_path):
    probe(BIN, env, "--version")
    link = tmp_path / "bin" / "px"
    link.parent.mkdir()
    link.symlink_to(BIN)
    seen, out = probe(link, env, "--version")
    assert out.startswith(f"pixir {pixir.__version__} (")
    assert seen["bootstrap"] is False


def test_a_renamed_copy_unpacks_under_its_own_name_then_runs_fast(env, tmp_path):
    copy = tmp_path / "pixir-nightly"
    shutil.copy2(BIN, copy)
    first, _ = probe(copy, env, "--version")
    assert first["bootstrap"] is True
    assert f"/.shiv/pixir-nightly_{build_id()}/" in first["pixir"]
    warm, _ = probe(copy, env, "--version")
    assert warm["bootstrap"] is False
    assert warm["pixir"] == first["pixir"]


def test_shiv_root_is_honoured_on_both_paths(env, tmp_path):
    env["SHIV_ROOT"] = str(tmp_path / "cache")
    first, _ = probe(BIN, env, "--version")
    warm, _ = probe(BIN, env, "--version")
    assert (first["bootstrap"], warm["bootstrap"]) == (True, False)
    assert warm["pixir"].startswith(str(tmp_path / "cache" / f"pixir_{build_id()}"))
    assert not (Path(env["HOME"]) / ".shiv").exists()


@pytest.mark.parametrize(
    "setting", [("SHIV_FORCE_EXTRACT", "1"), ("SHIV_COMPILE_PYC", "0"), ("SHIV_ENTRY_POINT", "")]
)
def test_any_other_shiv_setting_goes_through_shivs_own_bootstrap(env, setting):
    probe(BIN, env, "--version")
    name, value = setting
    if name == "SHIV_ENTRY_POINT":
        value = "pixir.cli:main"
    seen, out = probe(BIN, {**env, name: value}, "--version")
    assert seen["bootstrap"] is True
    assert out.startswith(f"pixir {pixir.__version__} (")


def test_an_unfinished_unpacking_is_not_taken_for_a_finished_one(env):
    """shiv unpacks into `<name>_<build>.tmp` and renames it into place when done; what a
    killed first run leaves there is never run, and the next run unpacks properly."""
    cache = Path(env["HOME"]) / ".shiv" / f"pixir_{build_id()}"
    torn = cache.with_name(cache.name + ".tmp") / "site-packages" / "pixir" / "__init__.py"
    torn.parent.mkdir(parents=True)
    torn.write_text("raise SystemExit('the torn copy ran')\n")
    seen, out = probe(BIN, env, "--version")
    assert out.startswith(f"pixir {pixir.__version__} (")
    assert seen["bootstrap"] is True
    assert seen["pixir"] == str(cache / "site-packages" / "pixir" / "__init__.py")
    warm, out = probe(BIN, env, "--version")
    assert warm["bootstrap"] is False and out.startswith(f"pixir {pixir.__version__} (")


def test_the_fast_path_runs_a_real_command_with_its_exit_code(env, tmp_path):
    """Not only --version: a command that fails the way the README says (exit 4 when no
    credential), from the fast path, with the same one-line error as the first run."""
    env["PIXIR_HOME"] = str(tmp_path / "pixir-home")
    runs = [
        subprocess.run(
            [str(BIN), "say hi"],
            env=env,
            cwd=env["HOME"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
        for _ in range(2)
    ]
    assert [r.returncode for r in runs] == [4, 4]
    assert runs[0].stderr == runs[1].stderr
    assert runs[0].stderr.startswith("error: not_authenticated: ")
