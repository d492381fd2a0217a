"""usage.py: the edit distance behind "did you mean", which words count as commands, and
secrets found in (and cut out of) a command line."""

import io

import pytest

from pixir import usage
from pixir.errors import PixirError

COMMANDS = {
    "login": (),
    "logout": (),
    "log": ("session",),
    "resume": ("session+prompt",),
    "preview": ("prompt",),
    "sessions": (),
    "completion": ("bash", "zsh", "fish"),
    "help": ("command",),
    "ping": (),
}


@pytest.mark.parametrize(
    ("a", "b", "edits"),
    [
        ("login", "login", 0),
        ("loginn", "login", 1),
        ("lgoin", "login", 1),  # two neighbours swapped: one edit
        ("sesions", "sessions", 1),
        ("sesion", "sessions", 2),
        ("", "log", 3),
        ("abc", "", 3),
        ("ca", "abc", 3),  # no swap through an insertion (optimal string alignment)
    ],
)
def test_distance(a, b, edits):
    assert usage.distance(a, b) == edits
    assert usage.distance(b, a) == edits


def test_near_allows_two_edits_only_for_long_names_with_the_right_first_letter():
    assert usage.near("sesion", COMMANDS) == ["sessions"]
    assert usage.near("lgo", COMMANDS) == ["log"]
    assert usage.near("dog", COMMANDS) == ["log"]
    assert usage.near("how", COMMANDS) == []  # two edits from log: too short to guess
    assert usage.near("begin", COMMANDS) == []  # two from login, a real word
    assert usage.near("rseume", COMMANDS) == ["resume"]
    assert usage.near("tesume", COMMANDS) == ["resume"]  # one edit: any letter
    assert usage.near("tesme", COMMANDS) == []  # two, and the first one is wrong
    assert usage.near("LOGINN", COMMANDS) == ["login"]
    assert usage.near("logn", COMMANDS)[0] == "log"  # nearest first


def check(*argv):
    index = 2 if argv[0] in ("-m", "-C") else 0
    run_options = frozenset({"-m", "-C", "--json"})
    usage.check_first_word(list(argv), index, COMMANDS, frozenset({"-m", "-C"}), run_options)


@pytest.mark.parametrize(
    "argv",
    [
        ("loginn",),
        ("sesions", "--json"),
        ("lgo", "20261121T143000-a1b2c3"),
        ("resme", "2026", "and", "go", "on"),
        ("completoin", "zsh"),
        ("halp", "login"),
        ("-m", "x", "pign"),
        ("version",),
        ("update", "everything", "please"),
        ("list",),
        ("settings", "--json"),
    ],
)
def test_command_like_first_words(argv):
    with pytest.raises(PixirError) as info:
        check(*argv)
    assert info.value.kind == "unknown_command"


@pytest.mark.parametrize(
    "argv",
    [
        ("fix", "the", "bug"),
        ("review",),
        ("logs", "are", "too", "noisy"),  # one edit from log, but a sentence follows
        ("lgo", "is", "a", "word"),
        ("completoin", "python"),  # not one of completion's choices
        ("loginn please",),  # quoted with a space: a task
        ("./loginn",),
        ("ping-pong",),
        ("preveiw", "this"),  # preview's words are a prompt: a sentence, not a typo
        ("begin",),
        ("continue",),
        ("list", "the", "TODOs"),  # `list` alone means sessions; with words it is a task
        ("exec", "fix", "it"),
    ],
)
def test_tasks(argv):
    check(*argv)


def test_the_way_to_send_it_anyway_keeps_the_options_before_the_double_dash():
    with pytest.raises(PixirError) as info:
        check("-m", "gpt-5.4", "loginn", "--json")
    assert info.value.hint.endswith("pixir -m gpt-5.4 --json -- loginn")
    with pytest.raises(PixirError) as info:  # `--last` is log's: a word of the task
        check("-m", "gpt-5.4", "lgo", "--last", "--json")
    assert info.value.hint.endswith("pixir -m gpt-5.4 --json -- lgo --last")
    with pytest.raises(PixirError) as info:
        check("update", "it's", "notes")
    assert info.value.hint.endswith("""pixir -- update 'it'"'"'s' notes""")


@pytest.mark.parametrize(
    ("argv", "secrets"),
    [
        (["login", "--with-api-key", "hunter2"], ["hunter2"]),
        (["login", "--with-api-key=hunter2"], ["hunter2"]),
        (["--token", "t0k", "--api_key=k3y"], ["k3y", "t0k"]),
        (["x", "OPENAI_API_KEY=sk-abc"], ["sk-abc"]),
        (["say", "sk-proj-abc_DEF-123"], ["sk-proj-abc_DEF-123"]),
        (["eyJhbGciOi.eyJzdWIiOi.c2ln"], ["eyJhbGciOi.eyJzdWIiOi.c2ln"]),
        (["ghp_abcdefghijklmnop1234"], ["ghp_abcdefghijklmnop1234"]),
        (["AKIAABCDEFGHIJKLMNOP"], ["AKIAABCDEFGHIJKLMNOP"]),
        (
            ["note: Zq8xT1mK4pW7rB2nV5cY9hJ3gF6dS0aLqwe is it"],
            ["Zq8xT1mK4pW7rB2nV5cY9hJ3gF6dS0aLqwe"],
        ),
    ],
)
def test_secret_words(argv, secrets):
    assert sorted(usage.secret_words(argv)) == sorted(secrets)


@pytest.mark.parametrize(
    "argv",
    [
        ["resume", "20261121T143000-a1b2c3", "fix", "it"],  # a session id is no key
        ["-m", "gpt-5.3-codex-spark", "--transport", "http_sse"],
        ["-C", "/home/someone/projects/AVeryLongDirectoryName2026/src"],  # a path
        ["explain 3f2504e0-4f89-11d3-9a0c-0305e82c3301"],  # a lowercase uuid
        ["--help"],
    ],
)
def test_ordinary_words_are_no_secrets(argv):
    assert usage.secret_words(argv) == []


def test_redacted_stream_cuts_every_form_of_a_secret():
    out = io.StringIO()
    stream = usage.RedactedStream(out, usage.Redactor(["s3cr'et"]))
    stream.write("plain s3cr'et, quoted 's3cr'\"'\"'et', repr \"s3cr'et\"\n")
    assert "s3cr" not in out.getvalue()
    assert out.getvalue().count("[redacted]") == 3
    assert stream.getvalue() == out.getvalue()  # everything else passes through
