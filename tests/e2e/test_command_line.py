"""The command line around a Turn, through the built dist/pixir against the fake backend:
a word that looks like a command never reaches the model, `pixir help`, a key typed as an
argument is never shown, `pixir config`, and `--version` with the commit of the build."""

from __future__ import annotations

import json
import shlex
import subprocess

import pytest

from tests.fake_backend import step, text
from tests.harness import REPO_ROOT

pytestmark = pytest.mark.e2e

KEY = "sk-proj-E2eSecretKey0123456789abcdefXYZ"


def nothing_happened(pixir, fake) -> None:
    """No session Log, no workspace state, and not one request at the fake."""
    assert not (pixir.workspace / ".pixir").exists()
    assert fake.requests == []


@pytest.mark.parametrize(
    ("argv", "meant"),
    [
        (["loginn"], "pixir login"),
        (["sesions"], "pixir sessions"),
        (["update"], "pixir --version"),
        (["version"], "pixir --version"),
        (["config", "--frobnicate"], None),
        (["help", "loginn"], "pixir help login"),
    ],
)
def test_a_typo_creates_no_session_and_sends_no_request(pixir, fake, argv, meant):
    pixir.login_api_key()
    fake.script(step(text("this must never be asked for")))
    result = pixir.run(*argv)
    assert result.code == 2, result
    assert result.stdout == ""
    if meant:
        assert f"did you mean `{meant}`" in result.stderr
        assert (
            f"hint: to send it to the model as a task: pixir -- {' '.join(argv)}" in result.stderr
        )
    nothing_happened(pixir, fake)


def test_help_creates_no_session_and_sends_no_request(pixir, fake):
    pixir.login_api_key()
    fake.script(step(text("this must never be asked for")))
    top = pixir.run("--help")
    for argv in (["help"], ["help", "login"], ["help", "resume"]):
        result = pixir.run(*argv)
        assert result.code == 0, result
        direct = pixir.run(*argv[1:], "--help") if len(argv) > 1 else top
        assert result.stdout == direct.stdout and result.stdout.startswith("usage: pixir")
    nothing_happened(pixir, fake)


def test_the_double_dash_sends_the_word_as_a_task(pixir, fake):
    pixir.login_api_key()
    fake.script(step(text("Sent.")))
    result = pixir.run("--", "loginn")
    assert result.code == 0, result
    assert result.stdout == "Sent.\n"
    request = fake.responses_requests()[0].json
    assert request["input"][-1]["content"][0]["text"] == "loginn"


@pytest.mark.parametrize(
    ("argv", "words"),
    [(["lgo", "--last"], "lgo --last"), (["-q", "lgo", "--last"], "lgo --last")],
)
def test_the_hints_command_line_sends_the_words_as_a_task(pixir, fake, argv, words):
    pixir.login_api_key()
    refused = pixir.run(*argv)
    assert refused.code == 2, refused
    hint = refused.stderr.split("to send it to the model as a task: ", 1)[1].splitlines()[0]
    fake.script(step(text("Sent.")))
    sent = pixir.run(*shlex.split(hint)[1:])  # exactly what the hint says to type
    assert sent.code == 0, sent
    assert sent.stdout == "Sent.\n"
    request = fake.responses_requests()[0].json
    assert request["input"][-1]["content"][0]["text"] == words


@pytest.mark.parametrize(
    "argv",
    [
        ["login", "--with-api-key", KEY],
        ["login", f"--with-api-key={KEY}"],
        ["status", KEY],
        ["--auth", KEY, "status"],
        ["-m", KEY, "models"],
        ["resume", KEY, "go", "on"],
        ["log", KEY],
        ["-C", KEY, "doctor"],
        [KEY],
        ["fix", "it", "with", KEY],
        ["status", "--api-key", KEY],
    ],
)
@pytest.mark.parametrize("mode", [[], ["--json"]])
def test_a_key_given_as_an_argument_never_appears_in_any_output(pixir, fake, argv, mode):
    result = pixir.run(*argv, *mode, stdin=KEY + "\n")
    assert result.code != 0, result
    assert result.stdout + result.stderr  # it said why
    for part in (KEY, KEY[:20], KEY[-20:]):
        assert part.encode() not in result.stdout_bytes + result.stderr_bytes
    assert not (pixir.home / "auth.json").exists()
    nothing_happened(pixir, fake)


def test_login_never_repeats_a_plain_word_it_was_given(pixir, fake):
    # not key-shaped, so no pattern finds it: a password typed after `login` by mistake
    result = pixir.run("login", "hunter2-correct-horse", "--devce")
    assert result.code == 2, result
    assert "hunter2" not in result.stdout + result.stderr
    assert "unrecognized arguments: --devce 1 word (not repeated)" in result.stderr
    assert "did you mean --device?" in result.stderr  # an option's typo is still named
    assert not (pixir.home / "auth.json").exists()
    nothing_happened(pixir, fake)


def test_config_shows_each_source(pixir, fake):
    path = pixir.write_config({"bash_timeout_ms": 5000, "max_steps": 9})
    result = pixir.run("config", "--json", "-m", "gpt-5.4", env={"PIXIR_TRANSPORT": "http_sse"})
    assert result.code == 0, result
    body = pixir.json_out(result)
    settings = body["settings"]
    assert body["config_file"] == str(path) and body["config_file_exists"] is True
    assert settings["model"] == {"value": "gpt-5.4", "source": "flag", "from": "--model"}
    assert settings["transport"] == {
        "value": "http_sse",
        "source": "env",
        "from": "PIXIR_TRANSPORT",
    }
    assert settings["max_steps"] == {"value": 9, "source": "config", "from": str(path)}
    assert settings["max_retries"] == {"value": 2, "source": "default", "from": None}
    # the base URL the fake set in the environment
    assert settings["openai_base_url"]["source"] == "env"
    human = pixir.run("config", "--max-steps", "3")
    assert human.code == 0, human
    assert human.stdout.startswith(f"config file  {path}\n")
    rows = {line.split()[0]: line.split()[1:] for line in human.stdout.splitlines()[4:]}
    assert rows["max_steps"] == ["3", "flag", "--max-steps"]
    assert rows["bash_timeout_ms"] == ["5000", "config", str(path)]
    assert rows["reasoning_effort"][-1] == "default"
    nothing_happened(pixir, fake)


def test_help_and_doctor_name_the_config_file(pixir, fake):
    config = pixir.home / "config.json"
    assert f"configuration: {config}" in pixir.run("--help").stdout
    doctor = pixir.run("doctor", "--json")
    checks = {c["name"]: c for c in pixir.json_out(doctor)["checks"]}
    assert checks["config"]["detail"] == f"{config} (not present: built-in defaults)"


def git_head() -> str | None:
    done = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    return done.stdout.strip() if done.returncode == 0 else None


def test_version_names_the_commit_dist_pixir_was_built_from(pixir):
    head = git_head()
    if head is None:
        pytest.skip("the repository is not a git checkout: no commit to compare with")
    result = pixir.run("--version", "--json")
    assert result.code == 0, result
    info = json.loads(result.stdout)
    assert info["commit"] == head and info["commit_from"] == "build"
    assert isinstance(info["dirty"], bool)
    assert info["python"].count(".") == 2 and info["python_executable"]
    line = pixir.run("--version").stdout
    assert line.startswith(f"pixir {info['version']} (commit {head[:12]}")
    assert f"Python {info['python']}" in line
