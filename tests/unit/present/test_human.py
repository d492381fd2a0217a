"""The terminal presenter's finer rules: colour, spinner, refusals, failed commands, errors."""

from __future__ import annotations

import io
import json
import re
import time

import pytest

from pixir.errors import PixirError
from pixir.interrupt import OutputClosed
from pixir.present.human import HumanPresenter, color_wanted, error_lines, hint_for
from pixir.present.spinner import STALL_S, Spinner
from pixir.turn import TurnOutcome
from tests.unit.helpers.present import ESC, NOTICE, Tty, ev


class StubSpinner:
    def __init__(self):
        self.active = False
        self.shown: list[str] = []
        self.calls: list[tuple] = []

    def show(self, label, grace=None, column=None):
        self.active = True
        self.shown.append(label)
        self.calls.append((label, grace, column))

    def hide(self):
        self.active = False

    def close(self):
        self.active = False


def presenter(out=None, err=None, **kw):
    out, err = out or io.StringIO(), err or io.StringIO()
    kw.setdefault("color", False)
    kw.setdefault("spinner", False)
    return HumanPresenter(out, err, **kw), out, err


@pytest.mark.parametrize(
    ("env", "tty", "expected"),
    [
        ({}, True, True),
        ({"NO_COLOR": "1"}, True, False),
        ({"NO_COLOR": ""}, True, True),  # no-color.org: only a non-empty value counts
        ({"TERM": "dumb"}, True, False),
        ({}, False, False),
    ],
)
def test_colour_only_on_a_terminal_without_no_color(monkeypatch, env, tty, expected):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert color_wanted(Tty() if tty else io.StringIO()) is expected


def test_colours_when_on_and_none_when_off():
    for color in (True, False):
        present, out, err = presenter(out=Tty(), color=color, markdown=False)
        present(ev("reasoning_delta", chunk="hmm"))
        present(ev("tool_call", call_id="c", name="bash", args={"command": "ls"}))
        present(ev("tool_result", call_id="c", ok=True, exit_code=0, summary="exit 0 · 0.1 s"))
        present(ev("text_delta", chunk="answer"))
        present(ev("assistant_message", text="answer", finish_reason="stop"))
        assert out.getvalue() == "answer\n"  # stderr's colour never reaches the answer
        assert (ESC in err.getvalue()) is color
        if color:
            assert "\x1b[2mhmm\x1b[0m" in err.getvalue()
            assert "\x1b[32m  ✓ exit 0 · 0.1 s · no output\x1b[0m" in err.getvalue()


def test_a_failed_command_is_a_cross_and_a_refusal_is_shown_once():
    present, out, err = presenter()
    present(ev("tool_call", call_id="a", name="bash", args={"command": "false"}))
    present(ev("tool_result", call_id="a", ok=True, exit_code=1, summary="exit 1 · 0.0 s"))
    present(ev("tool_call", call_id="b", name="write", args={"path": "x.txt", "content": ""}))
    present(
        ev("permission_decision", call_id="b", decision="denied", mode="read_only", reason="no")
    )
    present(
        ev(
            "tool_result",
            call_id="b",
            ok=False,
            error={"kind": "permission_denied", "message": "no"},
        )
    )
    assert out.getvalue() == ""
    assert err.getvalue() == (
        "› bash false\n  ✗ exit 1 · 0.0 s\n› write x.txt\n  ✗ refused (read_only): no\n"
    )


def test_refusals_show_even_when_quiet():
    present, _, err = presenter(quiet=True)
    present(ev("permission_decision", call_id="b", decision="denied", mode="ask", reason="no"))
    present(ev("permission_decision", call_id="c", decision="approved", mode="ask", reason=""))
    assert err.getvalue() == "  ✗ refused (ask): no\n"


def test_a_plan_update_has_no_tick_line():
    present, _, err = presenter()
    steps = [{"step": "look", "status": "in_progress"}]
    present(ev("tool_call", call_id="p", name="update_plan", args={"steps": steps}))
    present(ev("tool_result", call_id="p", ok=True, summary="1 step"))
    assert err.getvalue() == "› plan\n  [>] look\n"


def test_max_steps_is_said_once_by_the_error_line():
    present, out, err = presenter()
    present(ev("assistant_message", text="Stopped after 2 model calls", finish_reason="max_steps"))
    outcome = TurnOutcome(
        "incomplete",
        error=PixirError("max_steps", "stopped after 2 model calls", hint="raise --max-steps"),
    )
    present.finish(outcome, session_id="S", model="m", resume_command="pixir resume S")
    assert out.getvalue() == ""
    assert err.getvalue() == (
        "error: max_steps: stopped after 2 model calls\nhint: raise --max-steps\n"
        "session S · continue with: pixir resume S\n"
    )


def test_an_interrupt_is_not_an_error_line():
    present, _, err = presenter()
    present(ev("text_delta", chunk="half"))
    present(ev("turn_interrupted", reason="sigint"))
    outcome = TurnOutcome("interrupted", error=PixirError("interrupted", "interrupted"))
    present.finish(outcome, session_id="S", model="m", resume_command="r")
    assert err.getvalue() == "interrupted\nsession S · continue with: r\n"


def test_quiet_failure_shows_the_error_and_the_session():
    present, out, err = presenter(quiet=True)
    outcome = TurnOutcome("error", error=PixirError("network", "down"))
    present.finish(outcome, session_id="S", model="m", resume_command="r")
    assert out.getvalue() == ""
    assert err.getvalue() == "error: network: down\nsession S · continue with: r\n"


def test_a_usage_limit_hint_says_when_in_local_time_and_keeps_the_rest():
    resets = time.time() + 3600
    expected = time.strftime("%H:%M", time.localtime(resets))
    for rest in (", or use an API key: set OPENAI_API_KEY", ", or raise the account's limits"):
        err = PixirError(
            "usage_limit_reached", "limit", {"resets_at": resets}, hint="wait for the reset" + rest
        )
        assert hint_for(err) == f"try again after {expected} (local time){rest}"
    # nothing said about an API key that the hint did not say
    err = PixirError("usage_limit_reached", "l", {"resets_at": resets}, hint="wait for the reset")
    assert hint_for(err) == f"try again after {expected} (local time)"
    assert hint_for(PixirError("usage_limit_reached", "limit", hint="wait")) == "wait"
    lines = error_lines(PixirError("not_authenticated", "none", hint="run `pixir login`"))
    assert lines == ["error: not_authenticated: none", "hint: run `pixir login`"]


def test_a_retry_after_streamed_text_ends_its_line_first():
    present, out, err = presenter(out=Tty())
    present(ev("text_delta", chunk="partial"))
    present(ev("retry", attempt=1, delay_s=0.5, error_kind="stream_incomplete"))
    present(ev("text_delta", chunk="whole"))
    present(ev("assistant_message", text="whole", finish_reason="stop"))
    assert out.getvalue() == "partial\nwhole\n"
    assert err.getvalue() == "[retrying: stream_incomplete (retry 1, in 0.5 s)]\n"


def test_reasoning_then_answer_on_one_terminal_do_not_share_a_line():
    terminal = Tty()
    present = HumanPresenter(terminal, terminal, color=False, spinner=False)
    present(ev("reasoning_delta", chunk="thinking"))
    present(ev("text_delta", chunk="answer"))
    present(ev("tool_call", call_id="c", name="read", args={"path": "a"}))
    assert terminal.getvalue() == "thinking\nanswer\n› read a\n"


def test_the_spinner_shows_while_waiting_and_hides_for_output():
    present, _, _ = presenter(out=Tty(), err=Tty())
    present.spinner = stub = StubSpinner()
    present(ev("status", status="requesting", step=1))
    assert stub.active and stub.shown == ["thinking"]
    present(ev("text_delta", chunk="open line"))
    assert stub.calls[-1] == ("waiting", STALL_S, len("open line"))  # only if it stalls
    present(ev("status", status="requesting", step=2))
    assert stub.shown[-1] == "waiting"  # the answer's line is open: no "thinking" there
    present(ev("assistant_message", text="open line", finish_reason="tool_calls"))
    present(ev("tool_call", call_id="c", name="bash", args={"command": "make"}))
    present(ev("status", status="running_tool", tool="bash", call_id="c"))
    assert stub.active and stub.shown[-1] == "bash"
    present(ev("tool_result", call_id="c", ok=True, exit_code=0, summary="exit 0 · 3.0 s"))
    assert not stub.active


def test_no_spinner_off_a_terminal_or_when_quiet():
    assert HumanPresenter(io.StringIO(), io.StringIO()).spinner is None
    assert HumanPresenter(Tty(), Tty(), quiet=True).spinner is None
    on_terminal = HumanPresenter(Tty(), Tty())
    assert isinstance(on_terminal.spinner, Spinner)
    on_terminal.close()


def test_a_new_on_method_is_a_handler():
    class WithCompaction(HumanPresenter):
        def on_history_compaction(self, data):
            self.note(f"compacted {data['n']}")

    err = io.StringIO()
    present = WithCompaction(io.StringIO(), err, color=False, spinner=False)
    present(ev("history_compaction", n=3))
    present(ev("some_future_event", x=1))  # unknown types are ignored
    assert err.getvalue() == "compacted 3\n"


def test_the_spinner_follows_a_compaction():
    present, _, err = presenter(out=Tty(), err=Tty())
    present.spinner = stub = StubSpinner()
    present(ev("status", status="requesting", step=1))
    present(ev("status", status="compacting", trigger="auto"))
    assert stub.active and stub.shown[-1] == "compacting"
    present(ev("compaction", events=12, tokens_freed=3000, strategy="model", trigger="auto"))
    assert "[compacted: 12 events" in err.getvalue()
    assert stub.active and stub.shown[-1] == "thinking"


def human(**kw):
    out, err = Tty(), io.StringIO()  # the answer streams to a terminal
    return HumanPresenter(out, err, color=False, **kw), out, err


def test_answer_streams_to_stdout_and_activity_to_stderr():
    present, out, err = human()
    present(ev("tool_call", call_id="c", name="bash", args={"command": "pytest -q"}))
    present(ev("tool_result", call_id="c", ok=True, output="...", summary="exit 0 · 1.2 s"))
    present(ev("tool_call", call_id="d", name="edit", args={"path": "a.py"}))
    present(ev("tool_result", call_id="d", ok=False, error={"kind": "no_match", "message": "m"}))
    present(ev("text_delta", chunk="All "))
    present(ev("text_delta", chunk="good."))
    present(ev("assistant_message", text="All good.", finish_reason="stop"))
    assert out.getvalue() == "All good.\n"
    assert err.getvalue() == (
        "› bash pytest -q\n  ✓ exit 0 · 1.2 s · 1 line\n› edit a.py\n  ✗ no_match: m\n"
    )


def test_answer_that_was_not_streamed_is_printed_whole():
    present, out, _ = human()
    present(ev("assistant_message", text="whole", finish_reason="stop"))
    assert out.getvalue() == "whole\n"


def test_plan_and_retry_and_reasoning_go_to_stderr():
    present, out, err = human()
    present(
        ev(
            "tool_call",
            name="update_plan",
            args={
                "steps": [{"step": "a", "status": "completed"}, {"step": "b", "status": "pending"}]
            },
        )
    )
    present(ev("reasoning_delta", chunk="thinking"))
    present(ev("retry", attempt=1, delay_s=0.5, error_kind="network"))
    assert out.getvalue() == ""
    assert err.getvalue() == (
        "› plan\n  [x] a\n  [ ] b\nthinking\n[retrying: network (retry 1, in 0.5 s)]\n"
    )


def test_quiet_shows_only_the_answer():
    present, out, err = human(quiet=True)
    present(ev("tool_call", name="bash", args={"command": "ls"}))
    present(ev("text_delta", chunk="x"))
    present(ev("assistant_message", text="x", finish_reason="stop"))
    present.finish(TurnOutcome("completed", "x"), session_id="s", model="m", resume_command="r")
    assert out.getvalue() == "x\n" and err.getvalue() == ""


def test_finish_prints_the_session_and_resume_command():
    present, _, err = human()
    present.finish(
        TurnOutcome("completed", "x"), session_id="S1", model="m", resume_command="pixir resume S1"
    )
    assert err.getvalue() == "session S1 · continue with: pixir resume S1\n"


class Broken(Tty):
    def write(self, text):
        raise BrokenPipeError


def test_broken_stdout_raises_output_closed_once():
    present = HumanPresenter(Broken(), io.StringIO(), color=False)
    with pytest.raises(OutputClosed):
        present(ev("text_delta", chunk="x"))
    present(ev("text_delta", chunk="y"))  # later writes are dropped quietly
    present.finish(TurnOutcome("interrupted"), session_id="s", model="m", resume_command="r")
    assert present.closed


def test_human_presenter_prints_one_line_on_stderr():
    out, err = io.StringIO(), io.StringIO()
    HumanPresenter(out, err, color=False)(NOTICE)
    assert out.getvalue() == ""
    assert err.getvalue() == "[compacted: 412 events → summary, ~38k tokens freed]\n"


def test_human_presenter_says_when_the_summary_is_the_fallback_and_a_retry_follows():
    err = io.StringIO()
    data = {**NOTICE["data"], "strategy": "deterministic", "trigger": "overflow"}
    data["fallback"] = {"kind": "server_error", "message": "down"}
    HumanPresenter(io.StringIO(), err, color=False)({**NOTICE, "data": data})
    line = err.getvalue()
    assert "without the model (server_error)" in line and line.endswith("; retrying]\n")


def test_quiet_human_presenter_prints_nothing():
    err = io.StringIO()
    HumanPresenter(io.StringIO(), err, quiet=True, color=False)(NOTICE)
    assert err.getvalue() == ""


@pytest.mark.parametrize("freed, shown", [(999, "~999 tokens"), (1499, "~1k tokens")])
def test_small_savings_are_shown_in_tokens(freed, shown):
    err = io.StringIO()
    data = {**NOTICE["data"], "tokens_freed": freed}
    HumanPresenter(io.StringIO(), err, color=False)({**NOTICE, "data": data})
    assert shown in err.getvalue()


# -- web search --------------------------------------------------------------------------------


def test_a_web_search_is_one_line_when_its_query_is_known_and_a_failure_says_so():
    p, out, err = presenter()
    p(ev("web_search", id="ws_1", status="in_progress", action="", sources=[]))
    assert err.getvalue() == ""  # nothing to say yet
    p(ev("web_search", id="ws_1", status="searching"))
    p(ev("web_search", id="ws_1", status="completed", action="search", query="pixir pypi"))
    p(ev("web_search", id="ws_1", status="completed", action="search", query="pixir pypi"))
    p(ev("web_search", id="ws_2", status="completed", action="open_page", url="https://a.org"))
    p(
        ev(
            "web_search",
            id="ws_3",
            status="failed",
            action="find_in_page",
            url="https://a",
            pattern="x",
        )
    )
    assert err.getvalue().splitlines() == [
        '› web search "pixir pypi"',
        "› open https://a.org",
        '› find "x" in https://a',
        "  ✗ web search failed",
    ]
    assert out.getvalue() == ""


def test_sources_are_numbered_after_the_answer_with_no_live_control_bytes():
    p, out, err = presenter()
    p(ev("text_delta", chunk="The answer."))
    hostile = "Evil\x1b]0;pwned\x07\x1b[2J title"
    outcome = TurnOutcome(
        "completed",
        "The answer.",
        citations=[
            {"url": "https://a.org/x", "title": hostile},
            {"url": "https://b.org\x1b[31m", "title": ""},
        ],
    )
    p.finish(outcome, session_id="s1", model="m", resume_command="pixir resume s1")
    lines = err.getvalue().splitlines()
    assert lines[0:3] == [
        "Sources:",
        "  1. Evil␛]0;pwned␇␛[2J title — https://a.org/x",
        "  2. https://b.org␛[31m",
    ]
    assert "\x1b" not in err.getvalue() and "\x07" not in err.getvalue()
    assert out.getvalue() == "The answer.\n"


def test_without_citations_the_searches_sources_are_listed_and_capped():
    searches = [
        {"query": "q", "sources": [{"url": f"https://s{n}.org"} for n in range(12)]},
        {"query": "r", "sources": [{"url": "https://s0.org"}]},
    ]
    p, _, err = presenter()
    p.finish(
        TurnOutcome("completed", "x", web_searches=searches),
        session_id="s",
        model="m",
        resume_command="r",
    )
    lines = err.getvalue().splitlines()
    assert lines[1] == "  1. https://s0.org" and lines[10] == "  10. https://s9.org"
    assert lines[11] == "  … and 2 more (--json lists them all)"
    quiet, _, err = presenter(quiet=True)
    quiet.finish(
        TurnOutcome("completed", "x", web_searches=searches),
        session_id="s",
        model="m",
        resume_command="r",
    )
    assert "Sources" not in err.getvalue()
    plain, _, err = presenter()
    plain.finish(TurnOutcome("completed", "x"), session_id="s", model="m", resume_command="r")
    assert "Sources" not in err.getvalue()


def bash_result(call_id: str, code: int, output: str, **extra):
    text = f"Exit code: {code}\nWall time: 0.2 seconds\nOutput:\n{output}"
    data = {"call_id": call_id, "ok": True, "output": text, "exit_code": code}
    return ev("tool_result", summary=f"exit {code} · 0.2 s", **data, **extra)


def outcome(status="completed", output=None, usage=None, error=None):
    return TurnOutcome(status, output, 1, usage or {}, error)


def test_off_a_terminal_stdout_gets_the_final_answer_once_at_the_end():
    shown, out, err = presenter()
    shown(ev("user_message", text="hi"))
    shown(ev("text_delta", chunk="First try that "))
    shown(ev("retry", attempt=1, delay_s=0.5, error_kind="stream_cut"))
    shown(ev("text_delta", chunk="I will look first."))
    shown(ev("assistant_message", text="I will look first.", finish_reason="tool_calls"))
    shown(ev("tool_call", call_id="c1", name="read", args={"path": "a"}))
    shown(ev("tool_result", call_id="c1", ok=True, output="x", summary="1 line"))
    shown(ev("text_delta", chunk="The answer."))
    shown(ev("assistant_message", text="The answer.", finish_reason="stop"))
    assert out.getvalue() == ""  # nothing before the Turn ends
    shown.end_turn(outcome(output="The answer."))
    assert out.getvalue() == "The answer.\n"
    assert "First try" not in err.getvalue() + out.getvalue()


def test_off_a_terminal_a_turn_without_an_answer_writes_nothing():
    shown, out, _ = presenter()
    shown(ev("text_delta", chunk="partial"))
    shown.end_turn(outcome("interrupted"))
    assert out.getvalue() == ""


def test_a_redirected_answer_keeps_its_bytes_and_a_terminal_gets_them_inert():
    raw = "a\x1b[31mred\r\n"
    shown, out, _ = presenter()
    shown.end_turn(outcome(output=raw))
    assert out.getvalue() == raw
    tty = Tty()
    shown, _, _ = presenter(out=tty)
    shown(ev("text_delta", chunk=raw))
    assert "\x1b" not in tty.getvalue() and "red" in tty.getvalue()


def test_a_failed_command_shows_its_last_six_lines_dimmed():
    shown, _, err = presenter(color=True)
    shown(ev("tool_call", call_id="c1", name="bash", args={"command": "pytest"}))
    output = "".join(f"line {n}\n" for n in range(1, 11)) + "E   assert 1 == 2\n\n"
    shown(bash_result("c1", 1, output))
    lines = err.getvalue().splitlines()
    at = next(i for i, line in enumerate(lines) if "exit 1" in line)
    assert lines[at] == "\x1b[31m  ✗ exit 1 · 0.2 s\x1b[0m"
    assert lines[at + 1] == "\x1b[2m    … 5 lines before\x1b[0m"
    tail = [f"    line {n}" for n in range(6, 11)] + ["    E   assert 1 == 2"]
    assert lines[at + 2 : at + 8] == [f"\x1b[2m{line}\x1b[0m" for line in tail]
    assert len(lines) == at + 8


def test_a_command_that_passed_shows_a_count_of_its_lines():
    shown, _, err = presenter()
    shown(ev("tool_call", call_id="c1", name="bash", args={"command": "ls"}))
    shown(bash_result("c1", 0, "a\nb\nc\n"))
    assert err.getvalue().splitlines()[-1] == "  ✓ exit 0 · 0.2 s · 3 lines"
    shown(ev("tool_call", call_id="c2", name="bash", args={"command": "true"}))
    shown(bash_result("c2", 0, ""))
    assert err.getvalue().splitlines()[-1] == "  ✓ exit 0 · 0.2 s · no output"
    shown(ev("tool_call", call_id="c3", name="bash", args={"command": "seq 1 9999"}))
    cut = bash_result("c3", 0, "1\n[... 9990 lines cut ...]\n9999\n")
    cut["data"]["output"] = cut["data"]["output"].replace(
        "Output:", "Total output lines: 9999\nOutput:"
    )
    shown(cut)
    assert err.getvalue().splitlines()[-1] == "  ✓ exit 0 · 0.2 s · 9999 lines"


def test_a_timed_out_command_shows_the_end_of_what_it_printed():
    shown, _, err = presenter()
    shown(ev("tool_call", call_id="c1", name="bash", args={"command": "serve"}))
    body = {"ok": False, "error": {"kind": "timeout", "message": "timed out"}, "output": "ready\n"}
    shown(
        ev(
            "tool_result",
            call_id="c1",
            ok=False,
            output=json.dumps(body),
            error={"kind": "timeout", "message": "command timed out after 100 ms"},
        )
    )
    assert err.getvalue().splitlines()[-2:] == [
        "  ✗ timeout: command timed out after 100 ms",
        "    ready",
    ]


EDIT_OUTPUT = "Edited calc.py: 1 replacement.\n--- a/calc.py\n+++ b/calc.py\n" + (
    "@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b"
)


def test_an_edit_shows_its_diff_in_colour():
    shown, _, err = presenter(color=True)
    shown(ev("tool_call", call_id="e1", name="edit", args={"path": "calc.py"}))
    shown(ev("tool_result", call_id="e1", ok=True, output=EDIT_OUTPUT, summary="+1 −1"))
    assert err.getvalue().splitlines()[-5:] == [
        "\x1b[32m  ✓ +1 −1\x1b[0m",
        "\x1b[36m    @@ -1,2 +1,2 @@\x1b[0m",
        "\x1b[2m     def add(a, b):\x1b[0m",
        "\x1b[31m    -    return a - b\x1b[0m",
        "\x1b[32m    +    return a + b\x1b[0m",
    ]


def test_a_long_diff_is_cut_at_forty_lines_with_a_count():
    diff = "--- a/n\n+++ b/n\n@@ -0,0 +1,100 @@\n" + "\n".join(f"+{n}" for n in range(100))
    diff += "\n[... diff cut: 30 more lines ...]"
    shown, _, err = presenter()
    shown(ev("tool_call", call_id="w1", name="write", args={"path": "n"}))
    shown(ev("tool_result", call_id="w1", ok=True, output="Wrote", summary="x", diff=diff))
    lines = err.getvalue().splitlines()
    assert lines[2:42] == ["    @@ -0,0 +1,100 @@", *(f"    +{n}" for n in range(39))]
    assert lines[42] == "    … 91 more lines"  # 61 not shown + the 30 the tool cut
    assert len(lines) == 43


def test_the_turn_ends_with_model_tokens_and_time():
    shown, _, err = presenter()
    shown(ev("user_message", text="hi"))
    shown(ev("provider_usage", model="gpt-5.5", usage_summary={}))
    usage = {"input_tokens": 12_345, "cached_tokens": 9_800, "output_tokens": 456}
    shown.end_turn(outcome(output="ok", usage=usage))
    line = err.getvalue().splitlines()[-1]
    assert re.fullmatch(r"gpt-5\.5 · 12\.3k in \(9\.8k cached\) / 456 out · \d+\.\d s", line)
    quiet, _, err = presenter(quiet=True)
    quiet(ev("user_message", text="hi"))
    quiet(ev("provider_usage", model="gpt-5.5", usage_summary={}))
    quiet.end_turn(outcome(output="ok", usage=usage))
    assert err.getvalue() == ""


def test_markdown_on_a_coloured_terminal_raw_elsewhere():
    tty = Tty()
    shown, _, _ = presenter(out=tty, markdown=True)
    shown(ev("text_delta", chunk="Use **calc"))
    shown(ev("text_delta", chunk=".py** now"))
    shown(ev("assistant_message", text="", finish_reason="stop"))
    assert tty.getvalue() == "Use \x1b[1mcalc.py\x1b[0m now\n"
    plain = Tty()
    shown, _, _ = presenter(out=plain, markdown=False)
    shown(ev("text_delta", chunk="Use **calc.py** now"))
    shown(ev("assistant_message", text="", finish_reason="stop"))
    assert plain.getvalue() == "Use **calc.py** now\n"


def test_the_spinner_comes_back_after_the_text_when_the_answer_stalls():
    tty, spin = Tty(), StubSpinner()
    shown, _, _ = presenter(out=tty)
    shown.spinner = spin
    shown(ev("text_delta", chunk="Part one, 日本"))
    assert spin.calls[-1] == ("waiting", STALL_S, len("Part one, ") + 4)
    shown(ev("text_delta", chunk=" and\nnext"))
    assert spin.calls[-1] == ("waiting", STALL_S, 4)
    shown(ev("text_delta", chunk="\n"))
    assert spin.calls[-1] == ("waiting", STALL_S, None)  # at a line start: the usual place


def test_blank_lines_do_not_take_the_place_of_a_failed_commands_last_lines():
    shown, _, err = presenter()
    shown(ev("tool_call", call_id="c1", name="bash", args={"command": "python3 -m unittest"}))
    output = "F\nTraceback\n  File x\nAssertionError: -1 != 5\n\n-----\nRan 1 test\n\nFAILED\n"
    shown(bash_result("c1", 1, output))
    assert err.getvalue().splitlines()[-8:] == [
        "  ✗ exit 1 · 0.2 s",
        "    … 1 line before",
        "    Traceback",
        "      File x",
        "    AssertionError: -1 != 5",
        "    -----",
        "    Ran 1 test",
        "    FAILED",
    ]


def test_an_edit_the_user_just_approved_is_not_shown_twice():
    shown, _, err = presenter()
    shown(ev("tool_call", call_id="e1", name="edit", args={"path": "calc.py"}))
    shown(ev("permission_decision", call_id="e1", decision="approved", mode="ask", asked=True))
    shown(ev("tool_result", call_id="e1", ok=True, output=EDIT_OUTPUT, summary="+1 −1"))
    assert err.getvalue().splitlines()[-1] == "  ✓ +1 −1"  # the question showed the diff
    shown(ev("tool_call", call_id="e2", name="edit", args={"path": "calc.py"}))
    shown(ev("permission_decision", call_id="e2", decision="approved", mode="ask", asked=False))
    shown(ev("tool_result", call_id="e2", ok=True, output=EDIT_OUTPUT, summary="+1 −1"))
    assert err.getvalue().splitlines()[-1] == "    +    return a + b"  # "always": not seen
