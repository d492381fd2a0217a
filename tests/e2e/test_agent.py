"""The agent end to end: the built `dist/pixir` against the fake backend edits a
real project, keeps a Log that survives crashes, resumes, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from tests.fake_backend import reasoning, stall, step, text, tool_call, usage_limit
from tests.harness import assert_paired, wait_for_file

pytestmark = pytest.mark.e2e

CALC = "def add(a, b):\n    return a - b\n"
TEST_CALC = """\
import unittest

from calc import add


class AddTest(unittest.TestCase):
    def test_add(self):
        self.assertEqual(add(2, 3), 5)


if __name__ == "__main__":
    unittest.main()
"""
RUN_TESTS = "python3 -m unittest -q test_calc"


# -- helpers ----------------------------------------------------------------------------------


@pytest.fixture
def repo(pixir):
    """A git repository holding a small Python project with a failing test."""
    pixir.write_file("calc.py", CALC)
    pixir.write_file("test_calc.py", TEST_CALC)
    pixir.write_file(".gitignore", "__pycache__/\n")
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    for command in (["init", "-q"], ["add", "."], ["commit", "-qm", "start"]):
        subprocess.run([*git, *command], cwd=pixir.workspace, check=True, capture_output=True)
    pixir.login_api_key()
    return pixir


def fix_script():
    """read the file, edit the bug, run the test, answer."""
    return [
        step(reasoning("Reading the code"), tool_call("read", {"path": "calc.py"})),
        step(
            tool_call("edit", {"path": "calc.py", "old_string": "a - b", "new_string": "a + b"}),
            match={"last_tool_output": "return a - b"},
        ),
        step(
            tool_call("bash", {"command": RUN_TESTS}),
            match={"last_tool_output": "+    return a + b"},
        ),
        step(
            reasoning("Tests pass"),
            text("Fixed add(): it subtracted."),
            match={"last_tool_output": "OK"},
        ),
    ]


# Tests that read whole `input` arrays off the wire pin HTTP/SSE, where every request carries
# the full History; over WebSocket a later step sends only its new items (test_websocket_*.py).
HTTP = ("--transport", "http_sse")


def kinds(items):
    return [i.get("type") or i.get("role") for i in items]


def started_at(pid: int) -> str | None:
    """The process's start time (clock ticks since boot), which tells it apart from a later
    process given the same pid: pids wrap within seconds on a busy machine."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[19]
    except FileNotFoundError:
        return None


def alive(pid: int, start: str | None = None) -> bool:
    """Running (a zombie waiting for its reaper is not running); with `start`, only the
    process that started then counts."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return False
    if start is not None and fields[19] != start:
        return False
    return fields[0] not in ("Z", "X")


def wait_dead(pid: int, start: str | None = None, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive(pid, start):
        time.sleep(0.02)
    return not alive(pid, start)


def kill_group_quietly(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass


def session_id_of(pixir) -> str:
    return pixir.sessions()[-1].stem


# -- a Turn that fixes a bug ---------------------------------------------------------------------


def test_a_scripted_run_fixes_the_failing_test(repo, fake):
    fake.script(*fix_script())
    result = repo.run("fix the failing test", *HTTP)
    assert result.code == 0, result
    assert result.stdout == "Fixed add(): it subtracted.\n"
    assert repo.read_file("calc.py") == "def add(a, b):\n    return a + b\n"
    done = subprocess.run(RUN_TESTS.split(), cwd=repo.workspace, capture_output=True)
    assert done.returncode == 0
    # stderr: tool activity and the resume hint; git status stays clean apart from the fix
    assert "› read calc.py" in result.stderr and "› bash " + RUN_TESTS in result.stderr
    sid = session_id_of(repo)
    assert f"pixir resume {sid}" in result.stderr
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=repo.workspace, capture_output=True
    )
    assert status.stdout.decode().split() == ["M", "calc.py"]

    events = repo.log_events()
    types = [e["type"] for e in events]
    assert types == [
        "session_started",
        "user_message",
        "provider_usage",
        "reasoning",
        "tool_call",
        "tool_result",
        "provider_usage",
        "tool_call",
        "tool_result",
        "provider_usage",
        "tool_call",
        "tool_result",
        "provider_usage",
        "reasoning",
        "assistant_message",
    ]
    assert [e["seq"] for e in events] == list(range(len(events)))
    assert events[0]["data"]["model"] == "gpt-5.5"
    assert events[0]["data"]["permission_mode"] == "auto"
    bash_result = events[11]["data"]
    assert bash_result["ok"] and bash_result["exit_code"] == 0 and "OK" in bash_result["output"]

    requests = fake.responses_requests()
    assert len(requests) == 4
    for n, rec in enumerate(requests):
        items = rec.json["input"]
        assert_paired(items)
        assert items[0]["role"] == "developer" and kinds(items[1:2]) == ["user"]
        assert sum(1 for i in items if i.get("type") == "function_call") == n
        if n:  # every request carries the whole previous input, then the new items
            assert items[: len(requests[n - 1].json["input"])] == requests[n - 1].json["input"]
    assert kinds(requests[1].json["input"]) == [
        "developer",
        "user",
        "reasoning",
        "function_call",
        "function_call_output",
    ]
    assert requests[0].json["prompt_cache_key"] == sid
    assert requests[0].headers.get("session_id") == sid


def test_resume_sends_the_whole_history_and_reasoning_only_for_the_same_model(repo, fake):
    fake.script(*fix_script())
    assert repo.run("fix the failing test", *HTTP).code == 0
    sid = session_id_of(repo)
    first_requests = fake.responses_requests()
    last_input = first_requests[-1].json["input"]

    preview = repo.json_out(repo.run("preview", "--session", sid[:-2], "--json", "what changed?"))
    fake.script(step(text("It adds now."), match={"last_user": "what changed"}))
    result = repo.run("resume", sid, "what changed?", *HTTP)
    assert result.code == 0, result
    assert result.stdout == "It adds now.\n"
    assert preview["body"] == fake.responses_requests()[-1].json
    assert preview["headers"]["session_id"] == sid
    resumed = fake.responses_requests()[-1].json["input"]
    # everything sent before, then the final reasoning + answer, then the new prompt
    assert resumed[1 : len(last_input)] == last_input[1:]
    assert kinds(resumed[len(last_input) :]) == ["reasoning", "message", "user"]
    assert sum(1 for i in resumed if i.get("type") == "reasoning") == 2
    assert_paired(resumed)

    # Another model: its encrypted reasoning would be refused, so none is sent.
    fake.script(step(text("Still adds."), match={"model": "gpt-5.4"}))
    result = repo.run("resume", sid, "-m", "gpt-5.4", "and now?", *HTTP)
    assert result.code == 0, result
    switched = fake.responses_requests()[-1].json
    assert switched["model"] == "gpt-5.4"
    assert all(i.get("type") != "reasoning" for i in switched["input"])
    assert_paired(switched["input"])
    assert sum(1 for i in switched["input"] if i.get("type") == "function_call") == 3

    # ... and back on the first model without -m: the session's recorded model, reasoning again
    fake.script(step(text("Yes.")))
    assert repo.run("-c", "sure?", *HTTP).code == 0
    back = fake.responses_requests()[-1].json
    assert back["model"] == "gpt-5.5"
    assert sum(1 for i in back["input"] if i.get("type") == "reasoning") == 2


def test_resume_last_and_continue_pick_the_most_recent_session(repo, fake):
    fake.script(step(text("one")), step(text("two")))
    assert repo.run("first").code == 0
    time.sleep(1.1)  # session ids have one-second resolution
    assert repo.run("second").code == 0
    second = session_id_of(repo)
    fake.script(step(text("three"), match={"last_user": "third"}))
    assert repo.run("resume", "--last", "third").code == 0
    events = repo.log_events(second)
    assert [e["data"]["text"] for e in events if e["type"] == "user_message"] == [
        "second",
        "third",
    ]


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["resume", "--last"], "error: not_found: no sessions in this workspace yet"),
        (["-c"], "error: not_found: no sessions in this workspace yet"),
        (["resume", "20260101T000000-abcdef"], "error: not_found: no session '20260101T"),
    ],
)
def test_resuming_where_there_is_nothing_is_not_found_before_prompt_or_login(repo, argv, said):
    # no prompt, an empty stdin and no credential: the missing session is what is said
    (repo.home / "auth.json").unlink(missing_ok=True)
    result = repo.run(*argv, stdin="")
    assert result.code == 2, result
    assert result.stderr.startswith(said), result
    assert not (repo.workspace / ".pixir").exists()


def test_json_output_is_one_object(repo, fake):
    fake.script(*fix_script())
    result = repo.run("fix it", "--json")
    assert result.code == 0, result
    body = repo.json_out(result)
    sid = session_id_of(repo)
    assert body["ok"] is True and body["status"] == "completed"
    assert body["kind"] == "one_shot_turn" and body["session_id"] == sid
    assert body["output"] == "Fixed add(): it subtracted." and body["model"] == "gpt-5.5"
    assert body["resume_command"] == f"pixir resume {sid}" and body["exit_code"] == 0
    assert body["usage"]["input_tokens"] > 0 and body["steps"] == 4
    assert "›" not in result.stdout


def test_prompt_from_stdin(repo, fake):
    fake.script(step(text("explained"), match={"last_user": "explain this"}))
    result = repo.run(stdin="explain this\n")
    assert result.code == 0, result
    assert result.stdout == "explained\n"


# -- crashes, Ctrl-C, concurrency -------------------------------------------------------------


def test_a_run_killed_in_the_middle_of_bash_resumes_without_an_unpaired_call(repo, fake):
    fake.script(step(tool_call("bash", {"command": "echo $$ > bash.pid; sleep 60"})))
    repo.write_file("bash.pid", "")  # commands may not create top-level entries (docs/sandbox.md)
    proc = repo.popen("run the slow thing", stdin=subprocess.DEVNULL)
    try:
        pgid = int(wait_for_file(repo.path("bash.pid")))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        proc.kill()
        proc.wait()
    kill_group_quietly(pgid)  # pixir died: nobody killed its bash group
    events = repo.log_events()
    assert events[-1]["type"] == "tool_call"  # the crash left an unpaired call behind

    sid = session_id_of(repo)
    preview = repo.run("preview", "--session", sid, "--json", "try again")
    assert preview.code == 0, preview
    fake.script(step(text("Picking up again.")))
    result = repo.run("resume", sid, "try again", *HTTP)
    assert result.code == 0, result  # the fake refuses unpaired calls: this one was closed
    # the preview showed exactly the request that resume sent
    assert repo.json_out(preview)["body"] == fake.responses_requests()[-1].json
    events = repo.log_events()
    closing = next(e for e in events if e["type"] == "tool_result")
    assert closing["data"]["ok"] is False
    assert closing["data"]["error"]["kind"] == "orphan_tool_call"
    after = [e["type"] for e in events[events.index(closing) :]]
    assert after[:2] == ["tool_result", "user_message"]
    assert_paired(fake.responses_requests()[-1].json["input"])


def test_sigint_during_a_long_bash_call_kills_its_group_and_exits_130(repo, fake):
    command = "echo $$ > bash.pid; sleep 1000 & echo $! > bg.pid; echo started; sleep 1000"
    fake.script(step(tool_call("bash", {"command": command})))
    for name in ("bash.pid", "bg.pid"):
        repo.write_file(name, "")  # commands may not create top-level entries (docs/sandbox.md)
    proc = repo.popen("run the server", stdin=subprocess.DEVNULL)
    try:
        bash_pid = int(wait_for_file(repo.path("bash.pid")))
        bg_pid = int(wait_for_file(repo.path("bg.pid")))
        bash_start, bg_start = started_at(bash_pid), started_at(bg_pid)
        signalled = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
        took = time.monotonic() - signalled
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 130, err
    assert took <= 2, f"exited {took:.2f} s after SIGINT"  # within 2 s
    assert bash_start is not None and bg_start is not None
    assert wait_dead(bash_pid, bash_start) and wait_dead(bg_pid, bg_start)
    sid = session_id_of(repo)
    assert f"pixir resume {sid}" in err.decode()
    assert "Traceback" not in err.decode()
    events = repo.log_events()
    assert [e["type"] for e in events[-3:]] == ["tool_call", "tool_result", "turn_interrupted"]
    interrupted = events[-2]["data"]
    assert interrupted["error"]["kind"] == "interrupted"
    assert json.loads(interrupted["output"])["output"] == "started\n"
    assert events[-1]["data"]["reason"] == "sigint"
    # the interrupted session resumes cleanly
    fake.script(step(text("ok")))
    assert repo.run("resume", sid, "go on").code == 0


def test_sigint_while_streaming_keeps_the_partial_answer(repo, fake):
    import pexpect

    fake.script(step(text("Half of an answer that never ends"), fault=stall(30, after_events=6)))
    child = repo.spawn("talk")  # a terminal: the answer streams (a pipe gets it at the end)
    try:
        child.expect_exact("Half")  # the first deltas are on the terminal
        child.sendintr()
        child.expect(pexpect.EOF, timeout=15)
        child.close()
    finally:
        child.close(force=True)
    assert child.exitstatus == 130, child.before
    events = repo.log_events()
    assert [e["type"] for e in events[-2:]] == ["assistant_message", "turn_interrupted"]
    partial = events[-2]["data"]
    assert partial["partial"] is True and partial["text"].startswith("Half")
    # a partial answer is not replayed: the next request holds only the user messages
    fake.script(step(text("again")))
    assert repo.run("-c", "go on").code == 0
    assert kinds(fake.responses_requests()[-1].json["input"]) == ["developer", "user", "user"]


def test_two_resumes_of_one_session_at_once_the_second_exits_5(repo, fake):
    fake.script(step(text("first")))
    assert repo.run("start").code == 0
    sid = session_id_of(repo)
    fake.script(step(tool_call("bash", {"command": "echo $$ > bash.pid; sleep 60"})))
    repo.write_file("bash.pid", "")  # commands may not create top-level entries (docs/sandbox.md)
    holder = repo.popen("resume", sid, "hold it", stdin=subprocess.DEVNULL)
    try:
        pgid = int(wait_for_file(repo.path("bash.pid")))
        second = repo.run("resume", sid, "me too")
        assert second.code == 5, second
        assert "session_busy" in second.stderr
        as_json = repo.run("resume", sid, "me too", "--json")
        assert as_json.code == 5 and repo.json_out(as_json)["error"]["kind"] == "session_busy"
    finally:
        holder.send_signal(signal.SIGINT)
        try:
            holder.communicate(timeout=10)
        finally:
            holder.kill()
            holder.wait()
    assert holder.returncode == 130
    assert not alive(pgid)


def test_broken_stdout_pipe_exits_quietly_with_a_consistent_log(repo, fake):
    long_answer = "".join(f"line {n} of a long answer\n" for n in range(20000))
    fake.script(
        step(
            text(
                long_answer,
                deltas=[long_answer[i : i + 4096] for i in range(0, len(long_answer), 4096)],
            )
        )
    )
    done = repo.shell('PIXIR "write a lot" | head -1; echo "status=${PIPESTATUS[0]}" >&2')
    assert done.stdout == b"line 0 of a long answer\n"
    assert b"Traceback" not in done.stderr and b"error" not in done.stderr
    assert b"status=141" in done.stderr
    # a pipe gets the answer when the Turn ends: the Turn itself completed (a reader that
    # leaves mid-Turn, with --jsonl, is tests/e2e/test_cli.py's)
    events = repo.log_events()  # every line parses
    assert events[-1]["type"] == "assistant_message" and events[-1]["data"]["text"] == long_answer


# -- permissions -----------------------------------------------------------------------------


def test_read_only_refuses_writes_and_resume_keeps_it_read_only(repo, fake):
    fake.script(
        step(tool_call("write", {"path": "new.txt", "content": "x"})),
        step(tool_call("bash", {"command": "git status --short"})),
        step(text("I could not write."), match={"last_tool_output": "Exit code: 0"}),
    )
    result = repo.run("--read-only", "make a file")
    assert result.code == 0, result
    assert not repo.path("new.txt").exists()
    events = repo.log_events()
    assert events[0]["data"]["permission_mode"] == "read_only"
    decision = next(e for e in events if e["type"] == "permission_decision")
    assert decision["data"]["decision"] == "denied" and decision["data"]["mode"] == "read_only"
    denied = next(e for e in events if e["type"] == "tool_result")
    assert denied["data"]["error"]["kind"] == "permission_denied"

    sid = session_id_of(repo)
    fake.script(
        step(tool_call("edit", {"path": "calc.py", "old_string": "-", "new_string": "+"})),
        step(text("no")),
    )
    result = repo.run("resume", sid, "now edit it")  # no flag: still read-only
    assert result.code == 0, result
    assert repo.read_file("calc.py") == CALC


def test_ask_mode_without_a_terminal_is_refused_with_exit_3(repo, fake):
    fake.script(step(tool_call("bash", {"command": "touch made.txt"})))
    result = repo.run("--ask", "make a file")
    assert result.code == 3, result
    assert (
        "error: permission_denied: bash needs approval in ask mode and there is no terminal "
        "to ask on; the Turn stops here" in result.stderr
    )
    # nobody can "answer y" here: the hint says what can be done instead
    assert "answer y" not in result.stderr
    assert "hint: run it on a terminal to answer, or without --ask" in result.stderr
    assert not repo.path("made.txt").exists()
    types = [e["type"] for e in repo.log_events()]
    assert types[-4:] == ["tool_call", "permission_decision", "tool_result", "turn_failed"]


def test_ask_mode_on_a_terminal(repo, fake):
    import pexpect

    fake.script(
        step(tool_call("bash", {"command": "touch made/yes.txt"})),
        step(tool_call("bash", {"command": "touch made/no.txt"})),
    )
    repo.write_file("made/.keep", "")  # commands may not create top-level entries (docs/sandbox.md)
    child = repo.spawn("--ask", "make files")
    try:
        child.expect_exact("$ touch made/yes.txt")
        child.expect_exact("[y/a/n/q] ")
        child.sendline("y")
        child.expect_exact("$ touch made/no.txt")
        child.expect_exact("[y/a/n/q] ")
        child.sendline("q")  # refuse, and stop the Turn (tests/e2e/test_terminal.py: y/a/n/q)
        child.expect(r"error: permission_denied")
        child.expect(pexpect.EOF, timeout=10)
        child.close()
        assert child.exitstatus == 3
    finally:
        child.close(force=True)
    assert repo.path("made/yes.txt").exists() and not repo.path("made/no.txt").exists()
    decisions = [
        e["data"]["decision"] for e in repo.log_events() if e["type"] == "permission_decision"
    ]
    assert decisions == ["approved", "denied"]


# -- limits and failures -----------------------------------------------------------------------


def test_max_steps_is_incomplete_with_exit_6(repo, fake):
    fake.script(
        step(tool_call("bash", {"command": "true"})), step(tool_call("bash", {"command": "true"}))
    )
    result = repo.run("--max-steps", "2", "--json", "loop forever")
    assert result.code == 6, result
    body = repo.json_out(result)
    assert body["status"] == "incomplete" and body["error"]["kind"] == "max_steps"
    last = repo.log_events()[-1]
    assert last["type"] == "assistant_message" and last["data"]["finish_reason"] == "max_steps"


def test_a_provider_error_is_a_turn_failed_event_and_its_exit_code(repo, fake):
    fake.script(step(fault=usage_limit()))
    result = repo.run("anything")
    assert result.code == 7, result
    assert "error: usage_limit_reached" in result.stderr
    last = repo.log_events()[-1]
    assert last["type"] == "turn_failed" and last["data"]["error_kind"] == "usage_limit_reached"


def test_no_credential_creates_no_session(pixir, fake):
    result = pixir.run("hello")
    assert result.code == 4, result
    assert not (pixir.workspace / ".pixir").exists()


# -- sessions and log ----------------------------------------------------------------------------


def test_sessions_and_log_commands(repo, fake):
    fake.script(*fix_script())
    assert repo.run("fix the failing test", *HTTP).code == 0
    sid = session_id_of(repo)
    listing = repo.run("sessions", "--json")
    assert listing.code == 0
    [info] = repo.json_out(listing)["sessions"]
    assert info["id"] == sid and info["turns"] == 1
    assert info["first_prompt"] == "fix the failing test"
    table = repo.run("sessions")
    assert sid in table.stdout and "fix the failing test" in table.stdout
    transcript = repo.run("log", sid)
    assert transcript.code == 0
    assert "fix the failing test" in transcript.stdout and "› edit calc.py" in transcript.stdout
    assert "Fixed add(): it subtracted." in transcript.stdout
    missing = repo.run("log", "20990101T000000-abcdef")
    assert missing.code == 2 and "not_found" in missing.stderr
    assert repo.run("resume", "20990101T000000-abcdef", "x").code == 2


def test_a_tool_turn_over_the_chatgpt_backend(pixir, fake):
    pixir.login_subscription()
    pixir.write_file("a.txt", "one\n")
    fake.script(
        step(
            reasoning("Reading"),
            tool_call("read", {"path": "a.txt"}),
            match={"path": "subscription"},
        ),
        step(text("It says one."), match={"last_tool_output": "one"}),
    )
    result = pixir.run("what does a.txt say?", *HTTP)
    assert result.code == 0, result
    assert result.stdout == "It says one.\n"
    requests = fake.responses_requests()
    assert [r.path for r in requests] == ["/backend-api/codex/responses"] * 2
    assert kinds(requests[1].json["input"]) == [
        "developer",
        "user",
        "reasoning",
        "function_call",
        "function_call_output",
    ]


def test_the_max_steps_hint_names_the_same_resume_command_as_the_footer(repo, fake):
    """With -C the footer's command carries the folder; the hint must not send the user to
    a `pixir resume` that would look in the wrong workspace."""
    fake.script(*(step(tool_call("bash", {"command": "true"})) for _ in range(2)))
    result = repo.run("-C", str(repo.workspace), "--max-steps", "2", "go", cwd=repo.root)
    assert result.code == 6, result
    footer = result.stderr.splitlines()[-1].split("continue with: ", 1)[1]
    assert footer.startswith("pixir -C ")
    assert f"hint: continue with `{footer}`, or raise --max-steps" in result.stderr, result


def test_config_bash_timeouts_reach_the_bash_tool(repo, fake):
    # config.json's bash_timeout_ms is the default for a call without timeout_ms, and
    # bash_timeout_max_ms caps one that asks for more (docs/tools.md): both must reach the tool.
    repo.write_config({"bash_timeout_ms": 300, "bash_timeout_max_ms": 600})
    fake.script(
        step(tool_call("bash", {"command": "sleep 30"})),
        step(tool_call("bash", {"command": "sleep 30", "timeout_ms": 60_000})),
        step(text("Both timed out.")),
    )
    started = time.monotonic()
    result = repo.run("sleep twice", *HTTP)
    assert result.code == 0, result
    assert time.monotonic() - started < 20
    results = [e["data"] for e in repo.log_events() if e["type"] == "tool_result"]
    assert [r["error"]["kind"] for r in results] == ["timeout", "timeout"]
    assert "300 ms" in results[0]["error"]["message"]
    assert "600 ms" in results[1]["error"]["message"]
    sent = fake.responses_requests()[-1].json["input"]
    outputs = [i["output"] for i in sent if i.get("type") == "function_call_output"]
    assert "300 ms" in outputs[0] and "600 ms" in outputs[1]
