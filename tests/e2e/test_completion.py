"""`pixir completion bash|zsh|fish` from the built dist/pixir: each script is valid for its
shell and, loaded into it, completes the session ids of a real session (one Turn against
the fake backend) by asking dist/pixir itself."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.fake_backend import step, text

pytestmark = pytest.mark.e2e


def need(shell: str) -> None:
    if shutil.which(shell) is None:
        pytest.skip(
            f"{shell} is not installed here; ./build.sh test installs zsh and fish with "
            "apt-get when it runs as root"
        )


@pytest.fixture
def sessions(pixir, fake):
    """Two real sessions in the workspace: (older id, newer id)."""
    pixir.login_api_key()
    fake.script(step(text("one")), step(text("two")))
    ids = []
    for prompt in ("first", "second"):  # ids of one second sort by chance: ask each run
        result = pixir.run(prompt, "--json")
        assert result.code == 0, result
        ids.append(pixir.json_out(result)["session_id"])
    return ids


def script(pixir, shell: str, tmp_path) -> str:
    result = pixir.run("completion", shell)
    assert result.code == 0, result
    path = tmp_path / f"pixir.{shell}"
    path.write_text(result.stdout)
    return str(path)


@pytest.mark.parametrize(
    ("shell", "check"), [("bash", ["-n"]), ("zsh", ["-n"]), ("fish", ["--no-execute"])]
)
def test_each_script_is_valid_for_its_shell(pixir, tmp_path, shell, check):
    need(shell)
    path = script(pixir, shell, tmp_path)
    done = subprocess.run([shell, *check, path], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


BASH_DRIVER = """
source "$1"; shift
COMP_WORDS=("$@")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
COMPREPLY=()
_pixir
printf '%s\\n' "${COMPREPLY[@]}"
"""


def bash_complete(pixir, path: str, *words: str) -> list[str]:
    """What bash's completion function offers for `pixir WORDS...` (the last word is the
    one being completed), run as `complete -F` would run it."""
    argv = ["bash", "-c", BASH_DRIVER, "driver", path, *pixir.command(), *words]
    done = subprocess.run(
        argv, capture_output=True, text=True, env=pixir.env, cwd=pixir.workspace, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_bash_completes_session_ids_commands_and_values(pixir, sessions, tmp_path):
    need("bash")
    older, newer = sessions
    path = script(pixir, "bash", tmp_path)
    assert bash_complete(pixir, path, "resume", "") == [newer, older]  # most recent first
    assert bash_complete(pixir, path, "log", older[:-2]) == [older]
    assert bash_complete(pixir, path, "-m", "gpt-5.4", "compact", "") == [newer, older]
    assert bash_complete(pixir, path, "preview", "--session", "") == [newer, older]
    assert bash_complete(pixir, path, "res") == ["resume"]
    assert bash_complete(pixir, path, "--transport", "") == ["auto", "websocket", "http_sse"]
    assert bash_complete(pixir, path, "completion", "") == ["bash", "zsh", "fish"]
    assert "--with-api-key" in bash_complete(pixir, path, "login", "--")
    assert bash_complete(pixir, path, "resume", older, "") == []  # then the prompt
    # -C on the line: the sessions of that workspace (none there)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert bash_complete(pixir, path, "-C", str(elsewhere), "resume", "") == []


ZSH_DRIVER = """
compdef() { : }
compadd() { [[ $1 == -- ]] && shift; print -rl -- "$@" }
_files() { : }
_path_files() { : }
_describe() { : }
source "$1"; shift
words=("$@")
CURRENT=$#words
_pixir
"""


def test_zsh_completes_session_ids(pixir, sessions, tmp_path):
    need("zsh")
    older, newer = sessions
    path = script(pixir, "zsh", tmp_path)
    # compadd and friends stand in for the completion system: they print what was offered
    argv = ["zsh", "-f", "-c", ZSH_DRIVER, "driver", path, *pixir.command(), "resume", ""]
    done = subprocess.run(
        argv, capture_output=True, text=True, env=pixir.env, cwd=pixir.workspace, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [newer, older]


def test_fish_completes_session_ids(pixir, sessions, tmp_path):
    need("fish")
    older, newer = sessions
    path = script(pixir, "fish", tmp_path)
    line = " ".join([*pixir.command(), "log", ""])
    env = {**pixir.env, "XDG_CONFIG_HOME": str(tmp_path / "fish-config")}
    done = subprocess.run(
        [
            "fish",
            "--no-config",
            "-c",
            f"source {path}; complete -c {pixir.command()[0]} --wraps pixir; complete -C '{line}'",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=pixir.workspace,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    offered = [row.split("\t")[0] for row in done.stdout.splitlines()]
    assert sorted(offered) == sorted([older, newer])
