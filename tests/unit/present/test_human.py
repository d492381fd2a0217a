"""The terminal presenter's finer rules: colour, spinner, refusals, failed commands, errors."""

from __future__ import annotations

import io
import time

import pytest

from pixir.errors import PixirError
from pixir.interrupt import OutputClosed
from pixir.present.human import HumanPresenter, color_wanted, error_lines, hint_for
from pixir.present.spinner import Spinner
from pixir.turn import TurnOutcome
from tests.unit.helpers.present import ESC, NOTICE, Tty, ev


class StubSpinner:
    def __init__(self):
        self.active = False
        self.shown: list[str] = []

    def show(self, label):
        self.active = True
        self.shown.append(label)

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
        present, out, err = presenter(color=color)
        present(ev("reasoning_delta", chunk="hmm"))
        present(ev("tool_call", call_id="c", name="bash", args={"command": "ls"}))
        present(ev("tool_result", call_id="c", ok=True, exit_code=0, summary="exit 0 · 0.1 s"))
        present(ev("text_delta", chunk="answer"))
        present(ev("assistant_message", text="answer", finish_reason="stop"))
        assert out.getvalue() == "answer\n"  # the answer itself is never coloured
        assert (ESC in err.getvalue()) is color
        if color:
            assert "\x1b[2mhmm\x1b[0m" in err.getvalue()
            assert "\x1b[32m  ✓ exit 0 · 0.1 s\x1b[0m" in err.getvalue()


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
    present, out, err = presenter()
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
    assert not stub.active
    present(ev("status", status="requesting", step=2))
    assert not stub.active  # the answer's line is open on the terminal: no spinner there
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
    out, err = io.StringIO(), io.StringIO()
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
        "› bash pytest -q\n  ✓ exit 0 · 1.2 s\n› edit a.py\n  ✗ no_match: m\n"
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


class Broken(io.StringIO):
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
