"""What a person sees, end to end: the built `dist/pixir` against the fake —
stdout off a terminal holds exactly the final answer, a failed command's last lines and a
write's or edit's diff reach stderr, each Turn ends with model, tokens and time, the answer
is light Markdown on a coloured terminal, the spinner comes back when an answer stalls, and
`--ask` shows what will happen before it takes y, a, n or q.

The terminal cases run on a pseudo-terminal (pexpect)."""

from __future__ import annotations

import json
import re

import pytest

from tests.fake_backend import cut, stall, step, text, tool_call
from tests.harness import user_texts

pytestmark = pytest.mark.e2e

CALC = "def add(a, b):\n    return a - b\n"
USAGE = re.compile(r"^gpt-5\.5 · [\d.]+k? in \([\d.]+k? cached\) / [\d.]+k? out · \d+\.\d s$")


@pytest.fixture
def px(pixir):
    pixir.login_api_key()
    return pixir


# -- stdout off a terminal: the final answer, once ------------------------------------------------


def retried_and_noted():
    """A stream cut after some text (retried), then a note before a tool call, then the
    answer."""
    return [
        step(
            text("First try that breaks", deltas=["First ", "try ", "that ", "breaks"]),
            fault=cut(6),
        ),
        step(text("I will read the file first."), tool_call("read", {"path": "a.txt"})),
        step(text("The file says alpha.")),
    ]


def test_a_redirected_stdout_holds_exactly_the_final_answer(px, fake):
    px.write_file("a.txt", "alpha\n")
    fake.script(*retried_and_noted())
    done = px.shell("PIXIR 'what is in a.txt?' > answer.txt")
    assert done.returncode == 0, done.stderr
    assert px.read_file("answer.txt") == "The file says alpha.\n"
    err = done.stderr.decode()
    assert re.search(r"^\[retrying: \w+", err, re.M)  # the retry was real
    assert "First" not in err and "I will read" not in err  # nor moved to stderr
    notes = [e["data"] for e in px.log_events() if e["type"] == "assistant_message"]
    assert [n["finish_reason"] for n in notes] == ["tool_calls", "stop"]  # the note was there
    # a terminal still sees the whole conversation stream
    fake.script(*retried_and_noted())
    output, code = px.on_terminal("what is in a.txt?")
    assert code == 0, output
    assert "I will read the file first." in output and "The file says alpha." in output


# -- stderr: command tails, diffs, the closing line ------------------------------------------------


def test_a_failed_commands_tail_and_the_diffs_reach_stderr(px, fake):
    px.write_file("calc.py", CALC)
    failing = "for n in $(seq 1 9); do echo line $n; done; echo 'AssertionError: 5 != -1'; exit 1"
    fake.script(
        step(tool_call("bash", {"command": failing})),
        step(tool_call("edit", {"path": "calc.py", "old_string": "a - b", "new_string": "a + b"})),
        step(tool_call("write", {"path": "notes.txt", "content": "fixed add\nran the tests\n"})),
        step(tool_call("bash", {"command": "echo one; echo two"})),
        step(text("Fixed.")),
    )
    result = px.run("fix it")
    assert result.code == 0, result
    assert result.stdout == "Fixed.\n"
    lines = result.stderr.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("  ✗ exit 1 · "))
    assert lines[at + 1 : at + 8] == [
        "    … 4 lines before",
        *(f"    line {n}" for n in range(5, 10)),
        "    AssertionError: 5 != -1",
    ]
    edit = lines.index("› edit calc.py")
    assert lines[edit + 1] == "  ✓ +1 −1"
    assert lines[edit + 2].startswith("    @@ -1,2 +1,2 @@")
    assert lines[edit + 3 : edit + 6] == [
        "     def add(a, b):",
        "    -    return a - b",
        "    +    return a + b",
    ]
    write = lines.index("› write notes.txt")
    assert lines[write + 1] == "  ✓ 24 bytes · +2 −0"
    assert lines[write + 3 : write + 5] == ["    +fixed add", "    +ran the tests"]
    assert "  ✓ exit 0 · " in result.stderr and " · 2 lines" in result.stderr
    assert USAGE.match(lines[-2]), result  # then the session line
    assert lines[-1].startswith("session ")
    written = [e for e in px.log_events() if e["type"] == "tool_result"][2]["data"]
    assert written["diff"].endswith("+fixed add\n+ran the tests")  # kept in the Log too
    assert px.read_file("calc.py") == CALC.replace("a - b", "a + b")
    # -q, --json and --jsonl stay as they were: none of this reaches them
    fake.script(step(text("Fine.")))
    quiet = px.run("-q", "hi")
    assert quiet.code == 0 and quiet.stdout == "Fine.\n" and quiet.stderr == ""
    fake.script(step(text("Fine.")))
    body = px.json_out(px.run("--json", "hi"))
    assert body["output"] == "Fine." and body["ok"] is True
    fake.script(step(text("Fine.")))
    lines = px.run("--jsonl", "hi").stdout.splitlines()
    assert json.loads(lines[-1])["output"] == "Fine."


# -- a terminal: Markdown and the spinner ----------------------------------------------------------


def test_the_answer_is_light_markdown_on_a_coloured_terminal_only(px, fake):
    answer = "## Fix\nThe bug is in **calc.py**: use `a + b`.\n- one\n- two"
    fake.script(step(text(answer)))
    output, code = px.on_terminal("explain", env={"NO_COLOR": None, "TERM": "xterm"})
    assert code == 0, output
    assert "\x1b[1mcalc.py\x1b[0m" in output and "**" not in output
    assert "\x1b[36ma + b\x1b[0m" in output and "• one" in output and "## " not in output
    fake.script(step(text(answer)))
    output, code = px.on_terminal("explain")  # NO_COLOR=1: as written
    assert code == 0 and "The bug is in **calc.py**: use `a + b`." in output, output
    fake.script(step(text(answer)))
    piped = px.run("explain", env={"NO_COLOR": None, "TERM": "xterm"})
    assert piped.stdout == answer + "\n"  # redirected: the bytes as they are


def test_the_spinner_comes_back_when_the_answer_stalls(px, fake):
    fake.script(
        step(
            text("Part one. Part two.", deltas=["Part one. ", "Part two."]),
            fault=stall(2.5, after_events=5),
        )
    )
    output, code = px.on_terminal("go on")
    assert code == 0, output
    # drawn after the text that came, then erased in place with backspaces
    assert re.search(r"Part one\.  [⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] waiting · \d s\x08+", output), repr(output)
    assert "Part two." in output


# -- --ask: what will happen, then y / a / n / q --------------------------------------------------


def asking(px, *args):
    child = px.spawn("--ask", *args)
    return child


def answer_at_question(child, typed: str) -> str:
    child.expect_exact("[y/a/n/q] ")
    shown = child.before
    child.sendline(typed)
    return shown


def finish(child) -> int:
    import pexpect

    child.expect(pexpect.EOF, timeout=60)
    child.close()
    return child.exitstatus


def decisions(px) -> list[dict]:
    return [e["data"] for e in px.log_events() if e["type"] == "permission_decision"]


def test_ask_shows_the_edit_and_the_write_content_before_asking_and_y_allows_once(px, fake):
    px.write_file("calc.py", CALC)
    fake.script(
        step(tool_call("edit", {"path": "calc.py", "old_string": "a - b", "new_string": "a + b"})),
        step(tool_call("write", {"path": "new.txt", "content": "hello\nworld\n"})),
        step(tool_call("edit", {"path": "calc.py", "old_string": "a + b", "new_string": "b + a"})),
        step(text("Done.")),
    )
    child = asking(px, "fix it")
    try:
        shown = answer_at_question(child, "y")
        assert "-    return a - b" in shown and "+    return a + b" in shown
        assert "edit calc.py?" in shown
        assert px.read_file("calc.py") == CALC  # nothing happened before the answer
        shown = answer_at_question(child, "y")
        assert "new file, 12 bytes:" in shown and "    hello" in shown and "    world" in shown
        shown = answer_at_question(child, "y")  # y was for one call: asked again
        assert "+    return b + a" in shown
        assert finish(child) == 0
    finally:
        child.close(force=True)
    assert px.read_file("calc.py") == CALC.replace("a - b", "b + a")
    assert px.read_file("new.txt") == "hello\nworld\n"
    assert [d["decision"] for d in decisions(px)] == ["approved"] * 3


def test_ask_always_covers_the_rest_of_the_session_for_that_command(px, fake):
    px.write_file("out/.keep", "")  # commands write below the top of the workspace
    fake.script(
        step(tool_call("bash", {"command": "echo one > out/one.txt"})),
        step(tool_call("bash", {"command": "echo two > out/two.txt"})),
        step(tool_call("bash", {"command": "echo three"})),
        step(tool_call("bash", {"command": "touch out/other.txt"})),
        step(text("Done.")),
    )
    child = asking(px, "make files")
    try:
        shown = answer_at_question(child, "a")
        assert "$ echo one > out/one.txt" in shown and "a always (`echo` commands" in shown
        # `echo two > out/two.txt` has a redirection: always never covers it
        shown = answer_at_question(child, "y")
        assert "$ echo two > out/two.txt" in shown
        shown = answer_at_question(child, "n")  # `echo three` was covered; touch is asked
        assert "$ touch out/other.txt" in shown and "$ echo three" not in shown
        assert "› bash echo three" in shown  # it ran without a question
        assert finish(child) == 0
    finally:
        child.close(force=True)
    assert px.read_file("out/one.txt") == "one\n" and px.read_file("out/two.txt") == "two\n"
    assert not px.path("out/other.txt").exists()
    made = decisions(px)
    assert [d["decision"] for d in made] == ["approved", "approved", "approved", "denied"]
    assert "`echo` commands for this session" in made[0]["reason"]
    assert "`echo` commands for this session" in made[2]["reason"]
    assert [d["asked"] for d in made] == [True, True, False, True]


def test_ask_no_tells_the_model_and_the_turn_goes_on(px, fake):
    px.write_file("calc.py", CALC)
    fake.script(
        step(tool_call("bash", {"command": "rm -f calc.py"})),
        step(text("I left calc.py alone."), match={"last_tool_output": "declined"}),
    )
    child = asking(px, "clean up")
    try:
        shown = answer_at_question(child, "n")
        assert "$ rm -f calc.py" in shown
        assert finish(child) == 0
    finally:
        child.close(force=True)
    assert px.read_file("calc.py") == CALC
    told = fake.responses_requests()[-1].json["input"][-1]
    assert told["type"] == "function_call_output" and "permission_denied" in told["output"]
    assert "declined" in told["output"]
    events = px.log_events()
    assert [d["decision"] for d in decisions(px)] == ["denied"]
    assert events[-1]["type"] == "assistant_message"  # the Turn went on to its answer
    assert user_texts(fake.responses_requests()[-1]) == ["clean up"]


def test_ask_quit_refuses_and_stops_the_turn_with_exit_3(px, fake):
    px.write_file("calc.py", CALC)
    fake.script(step(tool_call("write", {"path": "calc.py", "content": "gone\n"})))
    child = asking(px, "rewrite it")
    try:
        shown = answer_at_question(child, "q")
        assert "replaces 32 bytes with 5:" in shown and "-def add(a, b):" in shown
        child.expect_exact("error: permission_denied")
        assert finish(child) == 3
    finally:
        child.close(force=True)
    assert px.read_file("calc.py") == CALC
    types = [e["type"] for e in px.log_events()]
    assert types[-4:] == ["tool_call", "permission_decision", "tool_result", "turn_failed"]
    assert len(fake.responses_requests()) == 1  # the model was not called again
