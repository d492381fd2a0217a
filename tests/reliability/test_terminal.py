"""A hostile model, tool or server cannot drive the user's terminal (docs/reliability.md,
"Terminals"): escape sequences (OSC 52 clipboard writes, title changes, screen clears),
carriage returns, BEL, backspace and C1 controls reach stderr, `pixir log`, the `--ask`
question and a terminal stdout made visible — while a redirected stdout still gets the
answer's bytes exactly.

Through the built dist/pixir against the fake; the terminal cases on a pseudo-terminal.
"""

from __future__ import annotations

import re
import shlex

import pytest

from tests.fake_backend import http_error, reasoning, step, text, tool_call
from tests.reliability.conftest import record

pytestmark = pytest.mark.e2e

HOSTILE = (
    "A\x1b]52;c;cHduZWQ=\x07"  # OSC 52: put "pwned" on the clipboard
    "B\x1b]0;pwned-title\x07"  # the window title
    "C\x1b[2J\x1b[H"  # clear the screen, cursor home
    "D\rE\x08F\x7f"  # carriage return, backspace, DEL
    "G\x9b31mH"  # a C1 CSI (8-bit)
    "\u202eI"  # right-to-left override
)
LIVE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def live_controls(text: str) -> list[str]:
    """Control characters a terminal would act on (LF and TAB are fine)."""
    return LIVE.findall(text)


def test_everything_on_stderr_is_inert_and_a_redirected_stdout_is_exact(pixir, fake):
    fake.script(
        step(
            reasoning(summary=f"thinking {HOSTILE}"),
            tool_call(
                "update_plan", {"steps": [{"step": f"plan {HOSTILE}", "status": "in_progress"}]}
            ),
            tool_call("bash", {"command": f"printf %s {shlex.quote(HOSTILE)}; exit 1"}),
            tool_call("read", {"path": f"missing{HOSTILE}.txt"}),
            tool_call("edit", {"path": "notes.txt", "old_string": "one", "new_string": HOSTILE}),
            tool_call("write", {"path": "new.txt", "content": f"{HOSTILE}\n"}),
            tool_call(f"tool{HOSTILE}", {}),
        ),
        step(text(f"answer {HOSTILE}")),
    )
    pixir.login_api_key()
    pixir.write_file("notes.txt", "one\n")

    result = pixir.run("go")
    assert result.code == 0, result
    lines = result.stderr.splitlines()
    # the failed command's tail, the edit's and the write's diff: shown, each one line
    failed = next(n for n, line in enumerate(lines) if line.startswith("  ✗ exit 1"))
    assert any(line.startswith("    A␛]52;c;cHduZWQ=␇B") for line in lines[failed + 1 :][:3])
    assert sum(1 for line in lines if line.startswith("    +A␛]52;c;cHduZWQ=␇")) == 2, lines
    assert "  ✓ +1 −1" in lines  # one line changed: a lone CR does not split it in two
    # a pipe or a file gets the answer as the model wrote it: it may be data
    assert result.stdout_bytes == f"answer {HOSTILE}\n".encode()
    assert "› bash printf" in result.stderr and "› read missing" in result.stderr
    assert "thinking A" in result.stderr and "plan A" in result.stderr
    assert live_controls(result.stderr) == [], repr(result.stderr)
    assert "␛]52;c;cHduZWQ=␇" in result.stderr  # shown, not obeyed

    shown = pixir.run("log", pixir.session_id())
    assert shown.code == 0, shown
    assert "answer A␛]52" in shown.stdout and "missing" in shown.stdout
    assert live_controls(shown.stdout) == [], repr(shown.stdout)
    record("terminal_attacks", 2)


def test_a_server_error_message_is_inert(pixir, fake):
    body = {
        "error": {
            "message": f"bad request {HOSTILE}",
            "type": "invalid_request_error",
            "code": f"code{HOSTILE}",
            "param": None,
        }
    }
    fake.script(step(fault=http_error(400, body)))
    pixir.login_api_key()
    result = pixir.run("go")
    assert result.code == 1, result
    assert "bad request A␛]52" in result.stderr
    assert live_controls(result.stderr) == [], repr(result.stderr)
    record("terminal_attacks")


def test_a_terminal_stdout_shows_control_characters_visibly(pixir, fake):
    import pexpect

    fake.script(step(text(f"answer {HOSTILE} end")))
    pixir.login_api_key()
    child = pixir.spawn("go", env={"TERM": "dumb"})  # dumb: no spinner drawing with \r
    try:
        child.expect(pexpect.EOF, timeout=30)
    finally:
        child.close(force=True)
    screen = child.before.replace("\r\n", "\n")  # the pty's own newline translation
    assert "answer A␛]52;c;cHduZWQ=␇B␛]0;pwned-title␇C␛[2J␛[HD␍E␈F␡G<U+009B>31mH" in screen
    assert live_controls(screen) == [], repr(screen)
    assert child.exitstatus == 0
    record("terminal_attacks")


def test_the_ask_question_cannot_be_spoofed(pixir, fake):
    """The spoof: `rm -f precious.txt; echo\\r\\x1b[2K…run `ls -la`?` used to
    show the user a harmless command, and `y` deleted the file."""
    import pexpect

    pixir.write_file("precious.txt", "keep me\n")
    spoof = "rm -f precious.txt; echo\r\x1b[2Kpixir: run `ls -la`? [y/N] "
    fake.script(step(tool_call("bash", {"command": spoof})), step(text("ok")))
    pixir.login_api_key()
    child = pixir.spawn("--ask", "list files", env={"TERM": "dumb"})
    try:
        child.expect_exact("· q no, and stop")  # the end of the real question
        question = child.before + child.after
        child.expect_exact("[y/a/n/q] ")
        child.sendline("n")
        child.expect(pexpect.EOF, timeout=30)
    finally:
        child.close(force=True)
    assert "$ rm -f precious.txt; echo␍␛[2Kpixir: run `ls -la`? [y/N] " in question
    assert live_controls(question.replace("\r\n", "\n")) == [], repr(question)
    assert pixir.read_file("precious.txt") == "keep me\n"
    record("terminal_attacks")
