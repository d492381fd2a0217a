import json
import os
import sys

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
    elif name in ("acp", "config"):  # the mode and step cap (settings), no output options
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
    line = capsys.readouterr().out
    assert line.startswith(f"pixir {__version__} (") and line.count("\n") == 1
    assert f"Python {sys.version_info[0]}.{sys.version_info[1]}." in line
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in cli.COMMANDS:
        if name not in ("run", "help"):
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


def test_the_command_line_prints_errors_the_way_a_turn_does_usage_limit_hint_included(
    capsys,
):
    import time

    resets = time.time() + 3600
    hint = "wait for the reset, or run with --auth api_key"
    err = PixirError("usage_limit_reached", "limit", {"resets_at": resets}, hint=hint)
    cli.report_error(err, False)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "error: usage_limit_reached: limit"
    assert lines[1].startswith("hint: try again after ") and "--auth api_key" in lines[1]


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


# -- command words: a first word that looks like a command never becomes a task ------------


@pytest.fixture
def no_turn(monkeypatch, workspace):
    """Fail the test if a Turn would start: `pixir PROMPT` must not get that far."""
    import pixir.commands.run as run_command

    original = run_command.run

    def refuse(args):
        if args.command == "run":
            raise AssertionError(f"a Turn started with {args.prompt!r}")
        return original(args)  # resume: the session is looked up before any Turn

    monkeypatch.setattr(run_command, "run", refuse)
    return workspace


@pytest.mark.parametrize(
    ("argv", "meant"),
    [
        (["loginn"], "pixir login"),
        (["sesions"], "pixir sessions"),
        (["-C", ".", "dcotor"], "pixir doctor"),
        (["lgo", "20261121T1430"], "pixir log"),
        (["resmue", "20261121T143000-a1b2c3", "go", "on"], "pixir resume"),
        (["Login"], "pixir login"),
        (["completoin", "bash"], "pixir completion"),
        (["version"], "pixir --version"),
        (["update"], "pixir --version"),
        (["update", "the", "docs"], "pixir --version"),
        (["settings"], "pixir config"),
    ],
)
def test_a_word_like_a_command_is_refused_with_what_was_meant(argv, meant, no_turn, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    first, hint = err.splitlines()
    assert first.startswith("error: unknown_command: ")
    assert f"did you mean `{meant}`" in first
    # how to send the same words as a task: the options, then --, then the words
    options = ["-C", "."] if argv[0] == "-C" else [o for o in argv if o.startswith("--")]
    words = [w for w in argv if w not in options]
    assert hint == "hint: to send it to the model as a task: " + " ".join(
        ["pixir", *options, "--", *words]
    )
    assert not (no_turn / ".pixir").exists()


def test_a_word_like_a_command_in_json_mode_is_one_error_object(no_turn, capsys):
    assert cli.main(["sesions", "--json"]) == 2
    body = json.loads(capsys.readouterr().out)
    assert body["error"]["kind"] == "unknown_command" and body["exit_code"] == 2
    assert body["error"]["details"] == {"word": "sesions", "suggestions": ["pixir sessions"]}


@pytest.mark.parametrize(
    "argv",
    [
        ["fix", "the", "bug"],
        ["review"],  # `git diff | pixir review`: a word, not a typo of preview
        ["rename", "foo", "to", "bar"],  # two edits from resume, but a sentence
        ["compare", "the", "two", "files"],
        ["log in the user with a token"],  # a quoted task is never a command word
        ["help me write tests"],
        ["--", "loginn"],
        ["-m", "gpt-5.4", "--", "update"],
        ["-"],
        ["pong", "back", "and", "forth"],
    ],
)
def test_tasks_that_only_resemble_a_command_stay_tasks(argv):
    name, args = cli.parse(argv)
    assert name == "run"
    assert [w for w in argv if w not in ("--", "-m", "gpt-5.4")] == args.prompt


def test_help_is_the_same_as_dash_dash_help(capsys):
    assert cli.main(["--help"]) == 0
    top = capsys.readouterr().out
    assert cli.main(["help"]) == 0
    assert capsys.readouterr().out == top
    for name in ("login", "resume", "config", "completion"):
        assert cli.main([name, "--help"]) == 0
        direct = capsys.readouterr().out
        assert cli.main(["help", name]) == 0
        assert capsys.readouterr().out == direct
        assert cli.main(["--json", "help", name]) == 0
        assert capsys.readouterr().out == direct


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["help", "loginn"], "did you mean `pixir help login`"),
        (["help", "me", "fix", "this"], "'me' is not a pixir command"),
        (["help", "login", "now"], "takes one command name"),
    ],
)
def test_help_with_words_that_are_no_command_starts_nothing(argv, says, no_turn, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert says in err
    assert f"hint: to send it to the model as a task: pixir -- {' '.join(argv)}" in err


def test_help_names_the_config_file_and_the_environment(capsys, pixir_home):
    for argv in (["--help"], ["doctor", "--help"], ["help", "config"]):
        assert cli.main(argv) == 0
        out = capsys.readouterr().out
        assert f"configuration: {pixir_home / 'config.json'}" in out
        assert "PIXIR_HOME" in out and "OPENAI_API_KEY" in out


# -- secrets typed on the command line are never repeated ----------------------------------

KEY = "sk-proj-Zq8ExampleKey0123456789abcdef"


@pytest.mark.parametrize(
    "argv",
    [
        ["login", "--with-api-key", KEY],
        ["login", f"--with-api-key={KEY}"],
        ["login", "--with-api-key", "plainwordkey"],  # a key by position, whatever its shape
        ["status", KEY],
        ["status", "--token", "abc123secret"],
        ["--auth", KEY, "status"],
        ["-m", KEY, "models"],
        ["--transport", KEY, "ping"],
        ["resume", KEY, "go"],
        ["log", KEY],
        ["-C", KEY, "doctor"],
        ["--max-steps", KEY, "hello"],
        [KEY],
        [KEY, "is", "my", "key"],
        ["status", f"OPENAI_API_KEY={KEY}"],
        ["status", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"],
        ["status", "Zq8xT1mK4pW7rB2nV5cY9hJ3gF6dS0aLqwe"],  # random-looking, no known prefix
        ["sesions", KEY],
        ["help", KEY],
    ],
)
@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_a_key_given_as_an_argument_is_never_printed(argv, json_flag, no_turn, capsys):
    secret = next(a for a in argv if a in (KEY, "plainwordkey", "abc123secret") or len(a) > 30)
    secret = secret.split("=", 1)[-1]
    code = cli.main([*argv, *json_flag])
    out, err = capsys.readouterr()
    assert code == (1 if argv[-1] == "doctor" else 2), (out, err)  # doctor: workspace FAIL
    assert secret not in out and secret not in err
    assert out + err  # something was said
    if argv[0] == "login":
        assert not (no_turn.parent / "pixir-home" / "auth.json").exists()


def test_login_with_a_key_argument_says_where_the_key_goes(capsys, monkeypatch):
    assert cli.main(["login", "--with-api-key", KEY]) == 2
    err = capsys.readouterr().err
    assert "reads the key from stdin, never from the command line" in err
    assert "hint: pipe the key in (pixir login --with-api-key < key.txt)" in err
    assert "printenv" not in err  # OPENAI_API_KEY is not set: printenv would pipe nothing
    assert KEY not in err
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment")
    assert cli.main(["login", "--with-api-key", KEY]) == 2
    err = capsys.readouterr().err
    assert "hint: printenv OPENAI_API_KEY | pixir login --with-api-key" in err
    assert KEY not in err


def test_version_json_is_one_object(capsys):
    assert cli.main(["--version", "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["ok"] is True and body["version"] == __version__
    assert body["python"] == "{}.{}.{}".format(*sys.version_info[:3])
    assert body["python_executable"] == sys.executable
    assert set(body) >= {"commit", "dirty", "commit_from"}


@pytest.mark.parametrize(
    ("argv", "hint"),
    [
        (["--completion", "bash"], "did you mean `pixir completion`?"),
        (["--trasport", "http_sse", "hi"], "did you mean --transport?"),
        (["status", "--jsn"], "did you mean --json?"),
        (["--frobnicate", "hi"], "see `pixir --help`"),
    ],
)
def test_an_unknown_option_says_what_was_probably_meant(argv, hint, no_turn, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: invalid_arguments: unrecognized arguments: ")
    assert hint in err.splitlines()[1]


@pytest.mark.parametrize("home", ["/tmp/h", "/tmp/h/", "~/elsewhere", "rel/dir", None])
def test_help_names_the_config_file_paths_would_use(home, monkeypatch, tmp_path):
    from pixir import paths

    monkeypatch.setenv("HOME", str(tmp_path))
    if home is None:
        monkeypatch.delenv("PIXIR_HOME")
    else:
        monkeypatch.setenv("PIXIR_HOME", home)
    assert cli._config_file() == str(paths.config_file())
