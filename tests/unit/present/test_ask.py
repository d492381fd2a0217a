"""The --ask question on a terminal (pixir/present/ask.py): what the call will do, made
inert, then the choices."""

from __future__ import annotations

from pixir.present import ask
from pixir.tools.permissions import Question

DIFF = (
    "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n"
    "-    return a - b\n+    return a + b"
)


def test_an_edit_shows_its_diff_then_the_choices():
    question = Question(
        "edit",
        {"path": "calc.py"},
        "edit calc.py?",
        {"path": "calc.py", "diff": DIFF},
        "every edit",
    )
    assert ask.lines(question) == [
        "    @@ -1,2 +1,2 @@",
        "     def add(a, b):",
        "    -    return a - b",
        "    +    return a + b",
        "  edit calc.py? y yes · a always (every edit, this session) · n no · q no, and stop",
    ]


def test_a_new_file_shows_its_content_capped():
    content = "".join(f"line {n}\n" for n in range(50))
    preview = {"path": "new.txt", "content": content, "bytes": len(content), "replaces": None}
    lines = ask.lines(
        Question("write", {"path": "new.txt"}, "write new.txt?", preview, "every write")
    )
    assert lines[0] == f"    new file, {len(content)} bytes:"
    assert lines[1:41] == [f"    line {n}" for n in range(40)]
    assert lines[41] == "    … 10 more lines"


def test_a_replaced_file_shows_the_change():
    preview = {
        "path": "a",
        "content": "y\n",
        "bytes": 2,
        "replaces": 2,
        "diff": "@@ -1 +1 @@\n-x\n+y",
    }
    lines = ask.lines(Question("write", {"path": "a"}, "write a?", preview, "every write"))
    assert lines[:4] == ["    replaces 2 bytes with 2:", "    @@ -1 +1 @@", "    -x", "    +y"]


def test_a_command_is_shown_whole_and_inert():
    command = "make build &&\n  rm -rf /tmp/x; echo\r\x1b[2Kls"
    question = Question(
        "bash", {"command": command}, "run this command?", {"command": command}, "`make` commands"
    )
    lines = ask.lines(question)
    assert lines[0] == "    $ make build &&"
    assert lines[1] == "        rm -rf /tmp/x; echo␍␛[2Kls"
    assert "a always (`make` commands, this session)" in lines[-1]
    assert not any("\x1b" in line or "\r" in line for line in lines)


def test_a_call_that_will_fail_says_so():
    question = Question(
        "edit", {"path": "a"}, "edit a?", {"path": "a", "problem": "no_match: x"}, "every edit"
    )
    assert "    (this call will fail: no_match: x)" in ask.lines(question)


def test_what_may_be_typed():
    assert [ask.choice(t) for t in ("y", "YES\n", "a", " always ", "n", "\n", "q", "quit")] == [
        "y",
        "y",
        "a",
        "a",
        "n",
        "n",
        "q",
        "q",
    ]
    assert ask.choice("maybe") is None
