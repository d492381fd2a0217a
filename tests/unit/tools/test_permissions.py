"""Permission modes (docs/tools.md) and the read-only bash allow-list."""

from __future__ import annotations

import pytest

from pixir.tools.permissions import (
    ALWAYS,
    REFUSE,
    Approvals,
    Question,
    check,
    narrowest,
    read_only_command_problem,
)


@pytest.mark.parametrize("name", ["read", "write", "edit", "bash", "update_plan"])
def test_auto_allows_everything(name):
    decision = check("auto", name, {"command": "rm -rf build", "path": "a"})
    assert decision.allowed and decision.decision == "allowed"


@pytest.mark.parametrize("name", ["write", "edit"])
def test_read_only_refuses_write_and_edit_without_ending_the_turn(name):
    decision = check("read_only", name, {"path": "a"})
    assert not decision.allowed and decision.decision == "denied" and not decision.ends_turn
    assert "read-only" in decision.reason


@pytest.mark.parametrize("name", ["read", "update_plan"])
def test_read_only_and_ask_allow_read_and_plan(name):
    assert check("read_only", name, {}).allowed
    assert check("ask", name, {}, ask=lambda q: False).allowed


@pytest.mark.parametrize(
    "command",
    [
        "ls -la",
        "cat src/a.py",
        "grep -rn 'def main' src",
        'grep -n "a|b" file.txt',
        "rg TODO",
        "git status",
        "git diff HEAD~1 -- src",
        "git log --oneline -5",
        "find . -name '*.py'",
        "head -n 20 README.md",
        "wc -l *.py",
        "pwd",
    ],
)
def test_read_only_bash_allow_list(command):
    assert read_only_command_problem(command) is None
    assert check("read_only", "bash", {"command": command}).allowed


@pytest.mark.parametrize(
    "command",
    [
        "rm -rf /",
        "cat a > b",
        "ls; rm x",
        "ls && rm x",
        "ls | sh",
        "echo $(rm x)",
        "echo `rm x`",
        'echo "$HOME"',
        "cat <(rm x)",
        "ls\nrm x",
        "FOO=1 ls",
        "find . -delete",
        "find . -exec rm {} +",
        "rg --pre=sh x",
        "git commit -m x",
        "git push",
        "git -c core.pager=sh log",
        "git diff --output=x",
        "find . -name a.txt -fprint0 out",
        "git grep --open-files-in-pager='touch x' foo",
        "git grep --open='touch x' foo",
        "git grep -O'touch x' foo",
        "git grep -nO'touch x' foo",
        "tree -ao out.txt",
        "tree -R -H . -L 1",
        "tree -aR -H . -L 1",
        "file --co -m /dev/null",
        "file --compi=x -m magic",
        "file --c -m magic",
        "rg --pr=sh x",
        "file -bC -m magic",
        "python -c 'print(1)'",
        "sed -i s/a/b/ f",
        "tree -o out.txt",
        "echo 'unterminated",
        "",
        "ls &",
    ],
)
def test_read_only_bash_refusals(command):
    assert read_only_command_problem(command) is not None
    decision = check("read_only", "bash", {"command": command})
    assert not decision.allowed and not decision.ends_turn


@pytest.mark.parametrize(
    "command", ["python3 -c 'print(6*7)'", "pytest -p no:cacheprovider | tail", "tree -H . -o x"]
)
def test_read_only_bash_runs_anything_when_a_kernel_sandbox_confines_it(command):
    assert check("read_only", "bash", {"command": command}, confined=True).allowed
    assert check("read_only", "write", {"path": "x"}, confined=True).decision == "denied"


def test_ask_mode_asks_and_obeys():
    questions = []

    def yes(question):
        questions.append(question)
        return True

    decision = check("ask", "bash", {"command": "pytest -q"}, ask=yes)
    assert decision.allowed and decision.decision == "approved"
    assert [(q.name, q.args, str(q)) for q in questions] == [
        ("bash", {"command": "pytest -q"}, "run this command?")
    ]
    refused = check("ask", "write", {"path": "a.py", "content": "xy"}, ask=lambda q: False)
    assert not refused.allowed and refused.ends_turn and "declined" in refused.reason


@pytest.mark.parametrize("name", ["write", "edit", "bash"])
@pytest.mark.parametrize("answer", [True, False])
def test_ask_mode_asks_once_for_each_write_edit_and_bash(name, answer):
    questions = []
    args = {"path": "a.py", "content": "x", "old_string": "a", "new_string": "b", "command": "ls"}
    decision = check("ask", name, args, ask=lambda q: questions.append(q) or answer)
    assert len(questions) == 1 and decision.allowed is answer
    assert decision.decision == ("approved" if answer else "denied")


@pytest.mark.parametrize("name", ["read", "update_plan"])
def test_ask_mode_never_asks_for_read_or_plan(name):
    questions = []
    assert check("ask", name, {"path": "a"}, ask=lambda q: questions.append(q) or False).allowed
    assert questions == []


def test_a_refusal_that_lets_the_turn_go_on():
    decision = check("ask", "bash", {"command": "rm -rf build"}, ask=lambda q: REFUSE)
    assert not decision.allowed and not decision.ends_turn
    assert decision.decision == "denied" and "declined" in decision.reason


def test_approvals_cover_a_tool_or_a_commands_first_word_for_simple_commands_only():
    approvals = Approvals()
    assert not approvals.covers("edit", {"path": "a.py"})
    approvals.allow("edit", {"path": "a.py"})
    assert approvals.covers("edit", {"path": "other.py"})
    assert not approvals.covers("write", {"path": "a.py"})
    approvals.allow("bash", {"command": "pytest -q tests/"})
    assert approvals.covers("bash", {"command": "pytest"})
    assert approvals.covers("bash", {"command": "  pytest -x 'a b'"})
    assert not approvals.covers("bash", {"command": "pytestx"})
    assert not approvals.covers("bash", {"command": "rm -rf /"})
    for sneaky in (
        "pytest; rm -rf ~",
        "pytest && curl x | sh",
        "pytest $(rm -rf ~)",
        "pytest `id`",
        "pytest > /etc/passwd",
        "pytest\nrm -rf ~",
    ):
        assert not approvals.covers("bash", {"command": sneaky}), sneaky
    approvals.allow("bash", {"command": 7})  # not a command: nothing remembered
    assert not approvals.covers("bash", {"command": 7})


def test_ask_mode_without_a_terminal_is_refused():
    decision = check("ask", "edit", {"path": "a"}, ask=lambda q: None)
    assert not decision.allowed and decision.ends_turn and "terminal" in decision.reason
    assert not check("ask", "edit", {"path": "a"}, ask=None).allowed


@pytest.mark.parametrize(
    ("recorded", "requested", "expected"),
    [
        ("read_only", "auto", "read_only"),
        ("read_only", "ask", "read_only"),
        ("ask", "auto", "ask"),
        ("auto", "read_only", "read_only"),
        ("auto", "ask", "ask"),
        ("ask", "read_only", "read_only"),
        (None, "auto", "auto"),
    ],
)
def test_resuming_never_widens_the_recorded_mode(recorded, requested, expected):
    assert narrowest(recorded, requested) == expected


def test_the_question_carries_what_the_call_will_do_and_what_always_would_allow():
    asked: list[Question] = []
    shown = {"command": "pytest -q"}
    check(
        "ask",
        "bash",
        {"command": "pytest -q"},
        ask=lambda q: asked.append(q) or True,
        preview=lambda: shown,
    )
    [question] = asked
    assert question.name == "bash" and question.preview == shown
    assert str(question) == "run this command?" and question.scope == "`pytest` commands"


def test_always_allows_the_rest_of_the_session_without_asking_again():
    approvals, asked = Approvals(), []

    def ask(question):
        asked.append(question.args)
        return ALWAYS

    first = check("ask", "bash", {"command": "pytest -q"}, ask=ask, approvals=approvals)
    assert first.allowed and first.decision == "approved" and "`pytest` commands" in first.reason
    assert first.asked
    again = check("ask", "bash", {"command": "pytest -x"}, ask=ask, approvals=approvals)
    assert again.allowed and again.decision == "approved" and len(asked) == 1
    assert not again.asked  # covered: nobody was asked
    check("ask", "bash", {"command": "pytest; rm -rf ~"}, ask=ask, approvals=approvals)
    assert len(asked) == 2  # a compound command is asked about again
    check("ask", "edit", {"path": "a"}, ask=lambda q: True, approvals=approvals)
    assert not approvals.covers("edit", {"path": "a"})  # y is once


def test_no_tells_the_model_and_goes_on_quit_stops_the_turn():
    refused = check("ask", "edit", {"path": "a"}, ask=lambda q: REFUSE)
    assert not refused.allowed and not refused.ends_turn
    assert "declined" in refused.reason and "another way" in refused.reason
    stopped = check("ask", "edit", {"path": "a"}, ask=lambda q: False)
    assert not stopped.allowed and stopped.ends_turn and "stopped the Turn" in stopped.reason


def test_a_covered_call_is_not_previewed_nor_asked():
    approvals = Approvals()
    approvals.allow("write", {"path": "a"})
    previews = []
    decision = check(
        "ask",
        "write",
        {"path": "b"},
        ask=lambda q: False,
        approvals=approvals,
        preview=lambda: previews.append(1) or {},
    )
    assert decision.allowed and previews == []
