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


# -- older builds in the same SHIV_ROOT ------------------------------------------------------


def other_build(target: Path, build: str) -> Path:
    """dist/pixir as another build: the same code under another build id, so shiv unpacks
    it into its own `pixir_<build>` (what a rebuild after a commit gives)."""
    old = build_id()
    with zipfile.ZipFile(BIN) as zin, open(target, "wb") as out:
        out.write(BIN.read_bytes().split(b"PK\x03\x04", 1)[0])  # the shebang
        with zipfile.ZipFile(out, "w") as zout:
            for info in zin.infolist():
                body = zin.read(info)
                if info.filename in ("environment.json", "__main__.py"):
                    body = body.replace(old.encode(), build.encode())
                zout.writestr(info, body)
    target.chmod(0o755)
    return target


def unpacked(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir() if not p.name.startswith("."))


def test_a_new_build_removes_older_pixir_builds_and_nothing_else(env, tmp_path):
    cache = tmp_path / "cache"
    env["SHIV_ROOT"] = str(cache)
    older = other_build(tmp_path / "pixir", "b" * 64)
    probe(older, env, "--version")
    # another application's extraction, and a folder of the user's
    (cache / f"otherapp_{'d' * 64}" / "site-packages" / "otherapp").mkdir(parents=True)
    (cache / "notes").mkdir()
    assert unpacked(cache) == ["notes", f"otherapp_{'d' * 64}", f"pixir_{'b' * 64}"]
    first, _ = probe(BIN, env, "--version")  # the new build's first run
    assert first["bootstrap"] is True
    assert unpacked(cache) == ["notes", f"otherapp_{'d' * 64}", f"pixir_{build_id()}"]
    # and the older build, run again, unpacks itself again (and so removes the newer one)
    seen, out = probe(older, env, "--version")
    assert seen["bootstrap"] is True and out.startswith("pixir ")


WAIT_FOR_GO = "while [ ! -e go ]; do sleep 0.05; done; echo went"


def test_a_running_older_pixir_keeps_its_extraction_and_finishes(tmp_path, fake):
    """A pixir of an older build is in the middle of a Turn (its bash tool waits for a file
    the test creates) when the new build's first run prunes: the older one's extraction is
    kept, it finishes its Turn, and the next first run removes it once it is idle."""
    from tests.fake_backend import step, text, tool_call
    from tests.harness import PixirRunner

    cache = tmp_path / "cache"
    older = other_build(tmp_path / "pixir", "b" * 64)
    old_runner = PixirRunner(fake, tmp_path / "old", executable=[str(older)])
    new_runner = PixirRunner(fake, tmp_path / "new")
    for runner in (old_runner, new_runner):
        runner.env["SHIV_ROOT"] = str(cache)
    old_runner.login_api_key()
    fake.script(step(tool_call("bash", {"command": WAIT_FOR_GO})), step(text("Done waiting.")))
    running = old_runner.popen("wait for go")
    try:
        assert fake.wait_for_responses(1, timeout=60)
        assert new_runner.run("--version").code == 0  # the new build's first run
        assert unpacked(cache) == sorted([f"pixir_{'b' * 64}", f"pixir_{build_id()}"])
        (old_runner.workspace / "go").touch()
        out, err = running.communicate(timeout=60)
    finally:
        if running.poll() is None:
            running.kill()
    assert running.returncode == 0, err
    assert out == b"Done waiting.\n"
    # idle now: the next first run of a new build removes it
    shutil.rmtree(cache / f"pixir_{build_id()}")
    assert new_runner.run("--version").code == 0
    assert unpacked(cache) == [f"pixir_{build_id()}"]
