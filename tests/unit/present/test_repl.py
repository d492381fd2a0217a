"""The REPL loop against a stand-in host and scripted lines (the terminal itself is covered
end to end in tests/e2e/test_cli_repl.py)."""

from __future__ import annotations

import io

from pixir.errors import PixirError
from pixir.present import repl


class Host:
    def __init__(self):
        self.model = "gpt-5.5"
        self.turns: list[str] = []
        self.news = 0
        self.fail_next: BaseException | None = None
        self.resumed: dict | None = None

    def turn(self, text):
        if self.fail_next is not None:
            failure, self.fail_next = self.fail_next, None
            raise failure
        self.turns.append(text)

    def new_session(self):
        self.news += 1

    def set_model(self, model_id):
        if model_id == "bad":
            raise PixirError("unknown_model", "unknown model 'bad'", hint="see `pixir models`")
        self.model = model_id
        return model_id

    def status(self):
        return [("session", "S1"), ("model", self.model)]

    def recap(self):
        return self.resumed

    def footer(self):
        return "session S1 · continue with: pixir resume S1" if self.turns else None


def lines(*items):
    """A read_line that plays `items` (strings, or exceptions to raise), then EOF."""
    queue = list(items)

    def read(prompt):
        assert prompt in (repl.PROMPT, repl.MORE)
        if not queue:
            raise EOFError
        item = queue.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item

    return read


def run(host, *items):
    err = io.StringIO()
    code = repl.run(host, read_line=lines(*items), err=err)
    return code, err.getvalue()


def test_each_line_is_a_turn_and_eof_leaves_with_the_footer():
    host = Host()
    code, err = run(host, "first", "   ", "  second  ")
    assert code == 0
    assert host.turns == ["first", "second"]
    assert err.splitlines()[0] == "pixir · model gpt-5.5 · /help for commands, Ctrl-D to leave"
    assert err.endswith("session S1 · continue with: pixir resume S1\n")


def test_exit_stops_reading():
    host = Host()
    code, _ = run(host, "one", "/exit", "never")
    assert code == 0 and host.turns == ["one"]
    host = Host()
    run(host, "/quit", "never")
    assert host.turns == []


def test_ctrl_c_at_the_prompt_drops_the_line_and_goes_on():
    host = Host()
    code, _ = run(host, KeyboardInterrupt(), "after")
    assert code == 0 and host.turns == ["after"]


def test_errors_and_interrupts_of_a_turn_return_to_the_prompt():
    host = Host()
    host.fail_next = PixirError("session_busy", "busy", hint="wait")
    _, err = run(host, "x", "y")
    assert "error: session_busy: busy\nhint: wait\n" in err and host.turns == ["y"]
    host = Host()
    host.fail_next = KeyboardInterrupt()
    _, err = run(host, "x", "y")
    assert "interrupted" in err and host.turns == ["y"]
    host = Host()  # the REPL prints errors the one way: a usage limit says when it resets
    limit = {"resets_at": 4102444800}
    host.fail_next = PixirError("usage_limit_reached", "limit", limit, hint="wait for the reset")
    _, err = run(host, "x")
    assert "hint: try again after " in err and "hint: wait for" not in err


def test_commands():
    host = Host()
    _, err = run(
        host, "/model", "/model gpt-5.4", "/model bad", "/status", "/new", "/nope", "/help"
    )
    assert "model: gpt-5.5\n" in err and "model: gpt-5.4\n" in err
    assert "error: unknown_model: unknown model 'bad'\nhint: see `pixir models`\n" in err
    assert "session  S1\nmodel    gpt-5.4\n" in err
    assert host.news == 1 and "new session" in err
    assert "unknown command /nope; /help lists them" in err
    assert "/status" in err.split("/nope")[1]  # the help text
    assert host.turns == []


def test_a_double_slash_sends_a_slash_line():
    host = Host()
    run(host, "//etc/hosts is odd")
    assert host.turns == ["/etc/hosts is odd"]


def test_history_file_is_private_and_appended(tmp_path, monkeypatch):
    import builtins

    readline = __import__("pytest").importorskip("readline")
    history = tmp_path / "home" / "history"
    answers = iter(["first line", "second line"])

    def typed(prompt):  # what input() does on a terminal: the line joins readline's history
        line = next(answers)
        readline.add_history(line)
        return line

    monkeypatch.setattr(builtins, "input", typed)
    readline.clear_history()
    read = repl.line_reader(history)
    assert read("› ") == "first line" and read("› ") == "second line"
    assert history.stat().st_mode & 0o777 == 0o600
    assert history.read_text().splitlines()[-2:] == ["first line", "second line"]


def test_a_pasted_block_is_one_message_and_never_a_command():
    host = Host()
    run(host, "Traceback (most recent call last):\n  File x\nValueError: bad", "/etc/x\nline two")
    assert host.turns == [
        "Traceback (most recent call last):\n  File x\nValueError: bad",
        "/etc/x\nline two",  # several lines: a message, even when it starts with /
    ]


def test_a_line_ending_in_a_backslash_continues_the_message():
    host = Host()
    prompts: list[str] = []
    queue = ["first part \\", "  indented \\", "last", "next"]

    def read(prompt):
        prompts.append(prompt)
        if not queue:
            raise EOFError
        return queue.pop(0)

    repl.run(host, read_line=read, err=io.StringIO())
    assert host.turns == ["first part \n  indented \nlast", "next"]
    assert prompts[:4] == [repl.PROMPT, repl.MORE, repl.MORE, repl.PROMPT]


def test_a_resumed_session_opens_with_its_recap():
    host = Host()
    host.resumed = {
        "id": "20261121T143000-a1b2c3",
        "model": "gpt-5.4",
        "turns": 2,
        "workspace": "/repo/sub",
        "user": "why does it fail?\nsecond line",
        "answer": "\n".join(f"answer line {n}" for n in range(15)),
        "ending": None,
    }
    _, err = run(host)
    lines = err.splitlines()
    assert lines[0] == (
        "pixir · resumed session 20261121T143000-a1b2c3 · model gpt-5.4 · 2 Turns · "
        "/help for commands, Ctrl-D to leave"
    )
    assert lines[1] == "  working in /repo/sub"
    assert lines[2] == "› why does it fail? … (+1 lines)"
    assert lines[3:15] == [f"answer line {n}" for n in range(12)]
    assert lines[15] == "… 3 more lines (pixir log --last shows all)"


def test_a_recap_without_an_answer_says_how_the_turn_ended():
    host = Host()
    host.resumed = {"id": "S", "model": "m", "turns": 1, "user": "go", "answer": None}
    host.resumed["ending"] = "the Turn was interrupted"
    _, err = run(host)
    assert err.splitlines()[1:3] == ["› go", "(the Turn was interrupted)"]


def test_multiline_keys_turn_bracketed_paste_on(monkeypatch):
    monkeypatch.setenv("TERM", "xterm-256color")
    bound: list[str] = []

    class Readline:
        __doc__ = "GNU readline"

        @staticmethod
        def parse_and_bind(line):
            bound.append(line)

    repl._multiline_keys(Readline)
    assert "set enable-bracketed-paste on" in bound
    assert any(line.startswith('"\\e\\r"') for line in bound)  # Alt-Enter
    bound.clear()
    monkeypatch.setenv("TERM", "dumb")  # no paste mode codes on a dumb terminal
    repl._multiline_keys(Readline)
    assert bound and "set enable-bracketed-paste on" not in bound
    bound.clear()
    Readline.__doc__ = "... libedit ..."
    repl._multiline_keys(Readline)
    assert bound == []
