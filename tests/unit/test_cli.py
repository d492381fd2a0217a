import json
import os

import pytest

from pixir import __version__, cli
from pixir.errors import EXIT_CODES, PixirError


def test_exit_codes_come_from_the_one_table(monkeypatch, capsys):
    # change the table and every path follows: nothing decides a code on its own
    from pixir.turn import TurnOutcome

    monkeypatch.setitem(EXIT_CODES, "interrupted", 99)
    monkeypatch.setitem(EXIT_CODES, "incomplete", 98)
    assert TurnOutcome("interrupted").exit_code == 99
    assert TurnOutcome("incomplete").exit_code == 98
    assert TurnOutcome("completed").exit_code == 0
    assert TurnOutcome("error", error=PixirError("max_steps", "m")).exit_code == 6

    import pixir.commands.models as models_command

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(models_command, "run", interrupted)
    assert cli.main(["models"]) == 99


@pytest.mark.parametrize(
    ("argv", "command", "rest"),
    [
        (["fix", "the", "bug"], "run", ["fix", "the", "bug"]),
        (["login", "--browser"], "login", ["--browser"]),
        (["--json", "status"], "status", ["--json"]),
        (["-m", "login", "hello"], "run", ["-m", "login", "hello"]),
        (["-C", "/tmp", "doctor"], "doctor", ["-C", "/tmp"]),
        (["--model=x", "models"], "models", ["--model=x"]),
        (["--", "login"], "run", ["--", "login"]),
        (["explain", "login"], "run", ["explain", "login"]),
        (["-"], "run", ["-"]),
    ],
)
def test_the_command_word_is_found_wherever_flags_put_it(argv, command, rest):
    assert cli.split_command(argv) == (command, rest)


def test_flags_anywhere_and_double_dash_ends_options():
    name, args = cli.parse(["fix", "-m", "gpt-5.4", "the", "--json", "bug", "--", "--read-only"])
    assert name == "run"
    assert args.prompt == ["fix", "the", "bug", "--read-only"]
    assert args.model == "gpt-5.4" and args.json and not args.read_only


def test_resume_words_and_last():
    _, args = cli.parse(["resume", "--last", "go", "on"])
    assert args.last and args.words == ["go", "on"] and args.command == "resume"
    _, args = cli.parse(["-c", "more"])
    assert getattr(args, "continue") and args.prompt == ["more"]


COMMON_LINE = ["-C", "/tmp", "-m", "x", "--allow-unknown-model", "--transport", "http_sse"]


COMMON_LINE += ["--reasoning-effort", "low", "--auth", "api_key", "--json", "-q"]


@pytest.mark.parametrize("name", list(cli.COMMANDS))
def test_every_command_accepts_the_common_options_and_only_turns_take_turn_options(name):
    # README "Options": the common ones may stand anywhere, whatever the command
    words = ["ID"] if name in ("log", "compact") else []
    _, args = cli.parse([*COMMON_LINE[:4], name, *words, *COMMON_LINE[4:]])
    assert (args.cd, args.model, args.transport, args.auth) == ("/tmp", "x", "http_sse", "api_key")
    assert args.allow_unknown_model and args.json and args.quiet
    assert args.reasoning_effort == "low"
    if cli.COMMANDS[name].turn_options:
        assert cli.parse([name, *words, "--read-only", "--jsonl"])[1].read_only
    elif name == "acp":  # the mode and step cap of its sessions, no output options
        assert cli.parse([name, "--read-only", "--max-steps", "9"])[1].read_only
        with pytest.raises(PixirError):
            cli.parse([name, "--jsonl"])
    else:
        with pytest.raises(PixirError) as info:
            cli.parse([name, *words, "--read-only"])
        assert info.value.kind == "invalid_arguments"


def test_unknown_option_is_invalid_arguments():
    with pytest.raises(PixirError) as info:
        cli.parse(["status", "--frobnicate"])
    assert info.value.kind == "invalid_arguments"
    assert "--frobnicate" in info.value.message


def test_login_modes_are_exclusive(capsys):
    assert cli.main(["login", "--device", "--browser"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: invalid_arguments: argument --browser: not allowed with")
    assert "hint: see `pixir login --help`" in err


def test_version_and_help(capsys):
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out == f"pixir {__version__}\n"
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in cli.COMMANDS:
        if name != "run":
            assert f"  {name} " in out
    assert "exit codes:" in out and "--output-schema" in out
    assert "--version" in out  # answered before parsing, but still listed
    assert "minimal|low|medium|high|xhigh" in out  # --reasoning-effort's values, not EFFORT


@pytest.mark.parametrize("name", [n for n in cli.COMMANDS if n != "run"])
def test_every_command_has_its_own_help(name, capsys):
    assert cli.main([name, "--help"]) == 0
    assert capsys.readouterr().out.startswith(f"usage: pixir {name}")


def test_errors_are_one_line_plus_hint_on_stderr(capsys):
    code = cli.main(["models", "-m", "nope"])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert lines[0].startswith("error: unknown_model: unknown model 'nope'; known: gpt-5.6-sol")
    assert lines[1].startswith("hint: ")
    assert len(lines) == 2


def test_errors_in_json_mode_are_one_object_on_stdout(capsys):
    code = cli.main(["models", "--json", "-m", "nope"])
    captured = capsys.readouterr()
    assert code == 2
    body = json.loads(captured.out)
    assert body["ok"] is False
    assert body["error"]["kind"] == "unknown_model"
    assert "gpt-5.5" in body["error"]["details"]["known"]
    assert body["exit_code"] == 2
    assert captured.err == ""


def test_unexpected_exception_prints_one_line_and_writes_a_crash_report(
    capsys, monkeypatch, pixir_home
):
    def boom(args):
        raise ZeroDivisionError("secret-free message")

    import pixir.commands.models as models_command

    monkeypatch.setattr(models_command, "run", boom)
    assert cli.main(["models"]) == 1
    err = capsys.readouterr().err
    first = err.splitlines()[0]
    assert first.startswith("error: internal: unexpected ZeroDivisionError — crash report: ")
    report = first.split("crash report: ", 1)[1]
    assert os.path.exists(report)
    assert report.startswith(str(pixir_home / "crash"))
    assert "Traceback" not in err
    with open(report, encoding="utf-8") as fh:
        text = fh.read()
    assert "ZeroDivisionError" in text and "Traceback" in text
    assert os.stat(report).st_mode & 0o077 == 0


def test_pixir_debug_adds_the_traceback_of_a_crash(capsys, monkeypatch, pixir_home):
    def boom(args):
        raise ZeroDivisionError("x")

    import pixir.commands.models as models_command

    monkeypatch.setattr(models_command, "run", boom)
    monkeypatch.setenv("PIXIR_DEBUG", "1")
    assert cli.main(["models"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):")
    assert "ZeroDivisionError" in err
    assert err.splitlines()[-2].startswith("error: internal: unexpected ZeroDivisionError")


def test_an_unexpected_exception_in_json_mode_is_still_one_object(capsys, monkeypatch, pixir_home):
    def boom(args):
        raise RuntimeError("bug")

    import pixir.commands.models as models_command

    monkeypatch.setattr(models_command, "run", boom)
    assert cli.main(["models", "--json"]) == 1
    captured = capsys.readouterr()
    assert captured.err == ""
    body = json.loads(captured.out)
    assert captured.out.count("\n") == 1
    assert body["ok"] is False and body["exit_code"] == 1
    assert body["error"]["kind"] == "internal"
    assert os.path.exists(body["error"]["details"]["crash_report"])


def test_keyboard_interrupt_exits_130(capsys, monkeypatch):
    def interrupted(args):
        raise KeyboardInterrupt

    import pixir.commands.models as models_command

    monkeypatch.setattr(models_command, "run", interrupted)
    assert cli.main(["models"]) == 130


def test_broken_pipe_exits_quietly(monkeypatch, capsys):
    def closed(args):
        raise BrokenPipeError

    import pixir.commands.models as models_command

    monkeypatch.setattr(models_command, "run", closed)
    monkeypatch.setattr(cli, "_quiet_broken_pipe", lambda: 141)
    assert cli.main(["models"]) == 141
    assert capsys.readouterr().err == ""
