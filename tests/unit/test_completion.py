"""completion.py: the scripts are generated from cli.py's command table — every command
and every option pixir accepts is in each of them — and each is valid for its shell."""

import shutil
import subprocess

import pytest

from pixir import cli, completion

SHELL_CHECK = {
    "bash": ["bash", "-n"],
    "zsh": ["zsh", "-n"],
    "fish": ["fish", "--no-execute"],
}


def script(shell: str) -> str:
    return completion.SCRIPTS[shell](completion.Table())


@pytest.mark.parametrize("shell", list(completion.SCRIPTS))
def test_every_command_and_option_of_the_table_is_in_the_script(shell):
    text = script(shell)
    for name in cli.COMMANDS:
        if name != "run":
            assert name in text, f"{shell}: command {name} missing"
        for action in cli.build_parser(name)._actions:
            for flag in action.option_strings:
                if shell == "fish":
                    spelled = f"-l {flag[2:]}" if flag.startswith("--") else f"-s {flag[1:]}"
                else:
                    spelled = flag
                assert spelled in text, f"{shell}: {name} {flag} missing"


@pytest.mark.parametrize("shell", list(completion.SCRIPTS))
def test_a_new_command_and_option_appear_without_touching_the_generator(shell, monkeypatch):
    commands = dict(cli.COMMANDS)
    commands["frobnicate"] = cli.Command(
        "frobnicate", "a command added later", [(("--wibble",), {"metavar": "DIR"})]
    )
    monkeypatch.setattr(cli, "COMMANDS", commands)
    text = script(shell)
    assert "frobnicate" in text
    assert ("-l wibble" if shell == "fish" else "--wibble") in text


@pytest.mark.parametrize("shell", list(completion.SCRIPTS))
def test_the_script_is_valid_for_its_shell(shell, tmp_path):
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed (./build.sh test installs it when run as root)")
    path = tmp_path / f"pixir.{shell}"
    path.write_text(script(shell))
    done = subprocess.run([*SHELL_CHECK[shell], str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_listing_sessions_and_models(capsys, new_session):
    first, second = new_session(), new_session()
    assert cli.main(["completion", "--list", "sessions"]) == 0
    assert sorted(capsys.readouterr().out.split()) == sorted([first.id, second.id])
    assert cli.main(["completion", "--list", "models"]) == 0
    assert "gpt-5.5" in capsys.readouterr().out.split()


def test_listing_never_fails_loudly(capsys, tmp_path):
    assert cli.main(["-C", str(tmp_path / "gone"), "completion", "--list", "sessions"]) == 0
    assert capsys.readouterr() == ("", "")


def test_no_shell_is_a_usage_error(capsys):
    assert cli.main(["completion"]) == 2
    assert "pixir completion bash|zsh|fish" in capsys.readouterr().err
