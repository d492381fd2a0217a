"""The interactive mode, driven through a pseudo-terminal: the built `dist/pixir`
with no prompt on a terminal is a line REPL, each line a Turn in one session."""

from __future__ import annotations

import stat

import pytest

from tests.fake_backend import step, text, tool_call
from tests.harness import user_texts, wait_for_file

pytestmark = pytest.mark.e2e

PROMPT = "› "
MORE = "… "


@pytest.fixture
def px(pixir):
    pixir.login_api_key()
    return pixir


def start(px, *args, env=None):
    child = px.spawn(*args, env=env)
    child.expect_exact("/help for commands")
    child.expect_exact(PROMPT)
    return child


def test_two_turns_a_model_switch_ctrl_c_and_exit(px, fake):
    import pexpect

    fake.script(
        step(text("First answer."), match={"last_user": "first question"}),
        step(text("Second answer."), match={"last_user": "second question", "model": "gpt-5.4"}),
        step(tool_call("bash", {"command": "echo $$ > bash.pid; sleep 60"})),
    )
    px.write_file("bash.pid", "")  # commands may not create top-level entries (docs/sandbox.md)
    child = start(px)
    try:
        child.sendline("first question")
        child.expect_exact("First answer.")
        child.expect_exact(PROMPT)
        child.sendline("/model gpt-5.4")
        child.expect_exact("model: gpt-5.4")
        child.expect_exact(PROMPT)
        child.sendline("second question")
        child.expect_exact("Second answer.")
        child.expect_exact(PROMPT)

        child.sendline("run the slow thing")
        child.expect_exact("› bash echo")
        wait_for_file(px.path("bash.pid"))
        child.sendintr()
        child.expect_exact("interrupted")
        child.expect_exact(PROMPT)

        child.sendline("/status")
        child.expect(r"session\s+(\d{8}T\d{6}-[0-9a-f]{6})")
        sid = child.match.group(1)
        child.expect(r"model\s+gpt-5\.4")
        child.expect_exact(PROMPT)
        child.sendline("/exit")
        child.expect_exact(f"continue with: pixir resume {sid}")
        child.expect(pexpect.EOF, timeout=10)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0

    [log] = px.sessions()
    assert log.stem == sid
    events = px.log_events()
    prompts = [e["data"]["text"] for e in events if e["type"] == "user_message"]
    assert prompts == ["first question", "second question", "run the slow thing"]
    assert [e["type"] for e in events[-3:]] == ["tool_call", "tool_result", "turn_interrupted"]
    calls = fake.responses_requests()
    assert [c.json["model"] for c in calls] == ["gpt-5.5", "gpt-5.4", "gpt-5.4"]
    # one session: the second Turn carries the first one
    assert user_texts(calls[1]) == ["first question", "second question"]
    history = px.home / "history"
    assert history.read_text().splitlines()[-6:] == [
        "first question",
        "/model gpt-5.4",
        "second question",
        "run the slow thing",
        "/status",
        "/exit",
    ]
    assert stat.S_IMODE(history.stat().st_mode) == 0o600
    # /model is kept in the Log, so a resume goes on with the model chosen
    assert [e["data"] for e in events if e["type"] == "settings_changed"] == [{"model": "gpt-5.4"}]
    fake.script(step(text("Third answer.")))
    resumed = px.run("-c", "third question")
    assert resumed.code == 0, resumed
    assert fake.responses_requests()[-1].json["model"] == "gpt-5.4"


def test_ctrl_c_at_the_prompt_clears_the_line_and_ctrl_d_leaves(px, fake):
    import pexpect

    fake.script(step(text("Answer to the kept line."), match={"last_user": "kept"}))
    child = start(px)
    try:
        child.send("thrown away")
        # Wait for readline's echo: a SIGINT that lands while readline is still handling
        # the typed keys, outside its select(), is only noticed at the next key or signal
        # (CPython's readline loop). On a loaded machine it can land there even after the
        # echo; then Ctrl-C is pressed again, as a person would.
        child.expect_exact("thrown away")
        child.sendintr()
        if child.expect_exact([PROMPT, pexpect.TIMEOUT], timeout=3) == 1:
            child.sendintr()
            child.expect_exact(PROMPT)
        child.sendline("kept")
        child.expect_exact("Answer to the kept line.")
        child.expect_exact(PROMPT)
        child.sendeof()
        child.expect(pexpect.EOF, timeout=10)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    prompts = [e["data"]["text"] for e in px.log_events() if e["type"] == "user_message"]
    assert prompts == ["kept"]


def test_commands_new_bad_model_and_unknown(px, fake):
    import pexpect

    fake.script(step(text("one")), step(text("two")))
    child = start(px)
    try:
        child.sendline("/model gpt-0-nope")
        child.expect_exact("error: unknown_model: unknown model 'gpt-0-nope'")
        child.expect_exact(PROMPT)
        child.sendline("/frobnicate")
        child.expect_exact("unknown command /frobnicate")
        child.expect_exact(PROMPT)
        child.sendline("/help")
        child.expect_exact("/new")
        child.expect_exact(PROMPT)
        child.sendline("hello")
        child.expect_exact("one")
        child.expect_exact(PROMPT)
        child.sendline("/new")
        child.expect_exact("new session")
        child.expect_exact(PROMPT)
        child.sendline("//slash at the start")
        child.expect_exact("two")
        child.expect_exact(PROMPT)
        child.sendline("/exit")
        child.expect(pexpect.EOF, timeout=10)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    # two sessions (ids made in the same second need not sort in creation order)
    prompts = [
        [e["data"]["text"] for e in px.log_events(log.stem) if e["type"] == "user_message"]
        for log in px.sessions()
    ]
    assert sorted(prompts) == [["/slash at the start"], ["hello"]]


def test_leaving_at_once_creates_no_session(px, fake):
    import pexpect

    child = start(px)
    try:
        child.sendline("/exit")
        child.expect(pexpect.EOF, timeout=10)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    assert not (px.workspace / ".pixir").exists()


def test_resume_without_a_prompt_on_a_terminal_continues_the_session(px, fake):
    import pexpect

    fake.script(step(text("started")), step(text("continued"), match={"last_user": "more"}))
    assert px.run("begin").code == 0
    sid = px.sessions()[-1].stem
    child = start(px, "resume", sid)
    try:
        child.sendline("more")
        child.expect_exact("continued")
        child.expect_exact(PROMPT)
        child.sendeof()
        child.expect(pexpect.EOF, timeout=10)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    assert user_texts(fake.responses_requests()[-1]) == ["begin", "more"]
    assert len(px.sessions()) == 1


PASTE_START, PASTE_END = "\x1b[200~", "\x1b[201~"


def test_a_pasted_block_of_three_lines_is_one_message(px, fake):
    import pexpect

    pasted = "Traceback (most recent call last):\n  File x\nValueError: bad"
    fake.script(
        step(text("One message."), match={"last_user": pasted}),
        step(text("Continued."), match={"last_user": "first part \nsecond part"}),
        step(text("Both lines."), match={"last_user": "line one\nline two"}),
    )
    child = start(px, env={"TERM": "xterm"})
    try:
        child.send(f"{PASTE_START}{pasted}{PASTE_END}\r")
        child.expect_exact("One message.")
        child.expect_exact(PROMPT)
        child.sendline("first part \\")  # a backslash at the end: the message goes on
        child.expect_exact(MORE)
        child.sendline("second part")
        child.expect_exact("Continued.")
        # each Turn ends with its model, tokens and time
        child.expect(r"gpt-5\.5 · \S+ in \(\S+ cached\) / \S+ out · \d+\.\d s")
        child.expect_exact(PROMPT)
        child.send("line one\x1b\rline two\r")  # Alt-Enter: a new line, not the end
        child.expect_exact("Both lines.")
        child.expect_exact(PROMPT)
        child.sendeof()
        child.expect(pexpect.EOF, timeout=10)
    finally:
        child.close(force=True)
    requests = fake.responses_requests()
    assert len(requests) == 3  # one model call per message, not per line
    assert user_texts(requests[0]) == [pasted]
    assert user_texts(requests[1])[-1] == "first part \nsecond part"


def test_a_resumed_session_shows_its_recap_counts_every_turn_and_keeps_its_workspace(px, fake):
    import pexpect

    fake.script(
        step(text("First answer.")),
        step(text("The second answer,\nover two lines.")),
        step(text("More."), match={"last_user": "more"}),
    )
    sub = px.workspace / "pkg"
    sub.mkdir()
    (px.workspace / ".git").mkdir()  # a repository: its sessions live at the root
    assert px.run("first question", cwd=sub).code == 0
    assert px.run("-c", "second question", cwd=sub).code == 0
    [log] = px.sessions()
    child = px.spawn("-c")  # from the root, not where the session was started
    try:
        child.expect_exact(f"resumed session {log.stem} · model gpt-5.5 · 2 Turns")
        child.expect_exact(f"working in {sub}")
        child.expect_exact("› second question")
        child.expect_exact("The second answer,")
        child.expect_exact("over two lines.")
        child.expect_exact(PROMPT)
        child.sendline("/status")
        child.expect(r"tokens\s+(\d+) in \((\d+) cached\), (\d+) out, over 2 Turn\(s\)")
        assert int(child.match.group(1)) > 0
        child.expect_exact(PROMPT)
        child.sendline("more")
        child.expect_exact("More.")
        child.expect_exact(PROMPT)
        child.sendline("/status")
        child.expect_exact("over 3 Turn(s)")
        child.expect_exact(PROMPT)
        child.sendeof()
        child.expect(pexpect.EOF, timeout=10)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    assert len(px.sessions()) == 1
