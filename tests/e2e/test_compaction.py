"""Compaction end to end: the built `dist/pixir` against a fake that refuses
requests whose input exceeds N bytes with the real `context_length_exceeded` error."""

from __future__ import annotations

import fcntl
import json

import pytest

from pixir.compaction.summary import SUMMARY_INSTRUCTION
from pixir.history import SUMMARY_PREFIX
from tests.fake_backend import in_stream_error, step, text, tool_call
from tests.harness import assert_paired

pytestmark = pytest.mark.e2e

MARK = SUMMARY_INSTRUCTION[:60]  # how the fake recognises the summary call
LIMIT = 24_000  # bytes of `input` JSON the fake accepts
CONFIG = {
    "context_windows": {"gpt-5.5": 9000},
    "compaction": {"reserve_tokens": 2000, "keep_recent_tokens": 2000},
}
MODEL_SUMMARY = json.dumps(
    {
        "goal": "Read all the data files",
        "progress": ["Read the first data files"],
        "decisions": ["Read them one at a time"],
        "files_touched": [],
        "next_steps": ["Read the remaining files"],
    }
)


def summary_steps(count=10, **kw):
    return [step(text(MODEL_SUMMARY, deltas=[]), match={"input_contains": MARK}, **kw)] * count


def data_files(pixir, count):
    """`count` files of ~3 KiB: together far more than the fake accepts in one request."""
    for n in range(count):
        line = f"{n:02d} " + "abcdefghij" * 9 + "\n"
        pixir.write_file(f"data_{n}.txt", line * 30)


def reads(count):
    return [step(tool_call("read", {"path": f"data_{n}.txt"})) for n in range(count)]


def effective(rec) -> list:
    """The input the server worked with (a WebSocket continuation sends only new items)."""
    return rec.extra.get("effective_input") or rec.json["input"]


def is_summary_call(rec) -> bool:
    return MARK in json.dumps(effective(rec), ensure_ascii=False)


def input_bytes(rec) -> int:
    return len(json.dumps(effective(rec), separators=(",", ":")).encode())


def calls_in(items) -> tuple[list, list]:
    calls = [i["call_id"] for i in items if i.get("type") == "function_call"]
    outputs = [i["call_id"] for i in items if i.get("type") == "function_call_output"]
    return calls, outputs


def first_requests_after_summaries(fake) -> list:
    """The main request that followed each summary call."""
    out, waiting = [], False
    for rec in fake.responses_requests():
        if is_summary_call(rec):
            waiting = True
        elif waiting:
            out.append(rec)
            waiting = False
    return out


def long_session(pixir, fake, steps=20, prompt="read all the data files", *args):
    pixir.write_config(CONFIG)
    fake.configure(context_limit_bytes=LIMIT)
    data_files(pixir, steps)
    fake.script(*summary_steps())
    fake.script(*reads(steps), step(text("all read")))
    return pixir.run(prompt, *args)


def compactions(events):
    return [e for e in events if e["type"] == "history_compaction"]


@pytest.fixture
def pixir_in(pixir):
    pixir.login_api_key()
    return pixir


# -- automatic compaction ---------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["http_sse", "websocket"])
def test_a_long_session_crosses_the_limit_and_completes_after_automatic_compaction(
    pixir_in, fake, transport
):
    result = long_session(pixir_in, fake, 20, "read all the data files", "--transport", transport)
    assert result.code == 0, result
    assert result.stdout == "all read\n"
    assert "[compacted: " in result.stderr and "tokens freed]" in result.stderr
    recs = fake.responses_requests()
    assert all(rec.status == 200 for rec in recs), [rec.status for rec in recs]
    assert {rec.transport for rec in recs} == {"http" if transport == "http_sse" else transport}
    continued = [rec for rec in recs if "previous_response_id" in rec.json]
    assert bool(continued) == (transport == "websocket")  # between compactions it continues
    main = [rec for rec in recs if not is_summary_call(rec)]
    assert len(main) == 21 and all(input_bytes(rec) <= LIMIT for rec in main)

    events = pixir_in.log_events()
    outputs = sum(len(e["data"]["output"]) for e in events if e["type"] == "tool_result")
    assert outputs > 2 * LIMIT  # the whole History would never have fit
    done = compactions(events)
    assert len(done) >= 2
    assert {c["data"]["trigger"] for c in done} == {"auto"}
    assert {c["data"]["strategy"] for c in done} == {"model"}
    assert done[0]["data"]["summary"].startswith("Goal: Read all the data files")
    assert "data_0.txt" in done[-1]["data"]["files_touched"]
    # a later compaction covers the earlier summary (same start, further end)
    assert done[1]["data"]["range"]["from_seq"] == done[0]["data"]["range"]["from_seq"]
    assert done[1]["data"]["range"]["to_seq"] > done[0]["data"]["range"]["to_seq"]
    # the second summary call was given the first summary to carry forward
    summary_calls = [rec for rec in recs if is_summary_call(rec)]
    assert "[earlier summary]\nGoal: Read all the data files" in json.dumps(
        effective(summary_calls[1]), ensure_ascii=False
    ).replace("\\n", "\n")

    # each request after a compaction: smaller than the limit, the summary first, then every
    # tool pair of the kept tail and nothing from the replaced range
    afters = first_requests_after_summaries(fake)
    assert len(afters) == len(done)
    by_seq = {e["seq"]: e for e in events}
    for compaction, rec in zip(done, afters, strict=True):
        # after a compaction the input continues nothing the server holds: sent whole
        assert "previous_response_id" not in rec.json
        items = rec.json["input"]
        assert input_bytes(rec) < LIMIT
        assert items[0]["role"] == "developer"
        assert items[1]["content"][0]["text"].startswith(SUMMARY_PREFIX + "Goal: ")
        assert_paired(items)
        low, high = compaction["data"]["range"]["from_seq"], compaction["data"]["range"]["to_seq"]
        kept = [
            e["data"]["call_id"]
            for seq, e in by_seq.items()
            if high < seq < compaction["seq"] and e["type"] == "tool_call"
        ]
        replaced = [
            e["data"]["call_id"]
            for seq, e in by_seq.items()
            if low <= seq <= high and e["type"] == "tool_call"
        ]
        calls, outputs = calls_in(items)
        assert kept and calls == kept and sorted(outputs) == sorted(kept)
        assert not set(replaced) & set(calls)


def test_a_failing_summary_call_falls_back_to_the_deterministic_summary(pixir_in, fake):
    pixir_in.write_config(CONFIG)
    fake.configure(context_limit_bytes=LIMIT)
    data_files(pixir_in, 20)
    bad = {"type": "http", "status": 400, "body": {"error": {"message": "bad", "type": "x"}}}
    fake.script(*[step(fault=bad, match={"input_contains": MARK})] * 10)
    fake.script(*reads(20), step(text("all read")))
    result = pixir_in.run("read all the data files")
    assert result.code == 0, result
    assert "summary written without the model (provider_http_error)" in result.stderr
    done = compactions(pixir_in.log_events())
    assert len(done) >= 2 and {c["data"]["strategy"] for c in done} == {"deterministic"}
    summary = done[0]["data"]["summary"]
    assert "without the model: provider_http_error" in summary
    assert "- read all the data files" in summary  # the user's request survives
    assert "Files touched: data_0.txt" in summary
    assert "Earlier summary:" in done[-1]["data"]["summary"]  # carried forward
    # the failed call is not in the Log as usage; the fallback summary reached the model
    usage = [e for e in pixir_in.log_events() if e["type"] == "provider_usage"]
    assert all("purpose" not in e["data"] for e in usage)
    after = first_requests_after_summaries(fake)[0]
    assert "without the model" in json.dumps(effective(after))


def test_jsonl_streams_the_notice_and_the_canonical_event(pixir_in, fake):
    result = long_session(pixir_in, fake, 12, "read all the data files", "--jsonl")
    assert result.code == 0, result
    lines = pixir_in.jsonl_out(result)
    notices = [e for e in lines if e.get("type") == "compaction"]
    canonical = [e for e in lines if e.get("type") == "history_compaction"]
    assert notices and len(notices) == len(canonical)
    assert "seq" not in notices[0] and canonical[0]["seq"] > 0
    assert notices[0]["data"]["events"] == canonical[0]["data"]["events"]
    assert notices[0]["data"]["tokens_freed"] > 0
    assert lines[-1]["status"] == "completed"


# -- context_overflow ---------------------------------------------------------------------------


def plain_session(pixir, fake, steps=12):
    """A session built with no limit and the default window (no compaction on the way)."""
    data_files(pixir, steps)
    fake.script(*reads(steps), step(text("all read")))
    result = pixir.run("read all the data files")
    assert result.code == 0, result
    assert not compactions(pixir.log_events())
    return pixir.sessions()[-1].stem


def test_context_overflow_compacts_and_retries_without_a_usage_hint(pixir_in, fake):
    sid = plain_session(pixir_in, fake)
    # the configured window (272k) says everything fits; the server disagrees
    fake.configure(context_limit_bytes=30_000)
    fake.script(*summary_steps(3), step(text("continued"), match={"last_user": "go on"}))
    before = len(fake.responses_requests())
    result = pixir_in.run("resume", sid, "go on")
    assert result.code == 0, result
    assert result.stdout == "continued\n"
    assert "retrying]" in result.stderr
    recs = fake.responses_requests()[before:]
    assert [rec.status for rec in recs] == [400, 200, 200]
    assert is_summary_call(recs[1]) and input_bytes(recs[2]) <= 30_000
    assert_paired(effective(recs[2]))
    [done] = compactions(pixir_in.log_events())
    assert done["data"]["trigger"] == "overflow" and done["data"]["strategy"] == "model"


def test_an_in_stream_context_overflow_is_recovered_too(pixir_in, fake):
    sid = plain_session(pixir_in, fake, 6)
    overflow = in_stream_error(
        kind="failed",
        code="context_length_exceeded",
        message="Your input exceeds the context window of this model. Please adjust your input "
        "and try again.",
        after_events=2,
    )
    fake.script(
        *summary_steps(1),
        step(fault=overflow, match={"last_user": "go on"}),
        step(text("continued"), match={"last_user": "go on"}),
    )
    result = pixir_in.run("resume", sid, "go on")
    assert result.code == 0, result
    [done] = compactions(pixir_in.log_events())
    assert done["data"]["trigger"] == "overflow"


def test_an_overflow_that_compaction_cannot_fix_is_a_clear_error(pixir_in, fake):
    sid = plain_session(pixir_in, fake, 6)
    fake.configure(context_limit_bytes=600)  # not even the developer context fits
    fake.script(*summary_steps(3))
    result = pixir_in.run("resume", sid, "go on")
    assert result.code == 1, result
    assert "error: context_overflow: " in result.stderr
    assert f"hint: run `pixir compact {sid}`" in result.stderr
    assert "context_windows" in result.stderr
    events = pixir_in.log_events()
    assert 1 <= len(compactions(events)) <= 2
    assert events[-1]["type"] == "turn_failed"
    assert events[-1]["data"]["error_kind"] == "context_overflow"
    main = [rec for rec in fake.responses_requests() if not is_summary_call(rec)]
    assert [rec.status for rec in main[-3:]].count(400) == len(compactions(events)) + 1


# -- pixir compact ------------------------------------------------------------------------------


def test_compact_dry_run_changes_nothing(pixir_in, fake):
    pixir_in.write_config({"compaction": {"keep_recent_tokens": 1000}})
    sid = plain_session(pixir_in, fake)
    path = pixir_in.sessions()[-1]
    before, requests = path.read_bytes(), len(fake.requests)
    result = pixir_in.run("compact", sid, "--dry-run", "--json")
    assert result.code == 0, result
    body = pixir_in.json_out(result)
    assert body["ok"] is True and body["dry_run"] is True and body["compacted"] is False
    cut = body["cut"]
    assert cut["range"]["from_seq"] == 1 and cut["range"]["to_seq"] > 1
    assert cut["events"] == cut["range"]["to_seq"] - cut["range"]["from_seq"] + 1
    assert cut["tokens_before"] > cut["tokens_after_estimate"] > 0
    assert cut["tokens_kept"] <= 1000
    human = pixir_in.run("compact", sid, "--dry-run")
    assert human.code == 0, human
    assert "would compact session" in human.stdout and "nothing written" in human.stdout
    assert path.read_bytes() == before  # the Log is byte for byte the same
    assert len(fake.requests) == requests  # and nothing went to the network


def test_compact_then_resume_sends_the_summary_and_the_kept_tail(pixir_in, fake):
    pixir_in.write_config({"compaction": {"keep_recent_tokens": 1500}})
    sid = plain_session(pixir_in, fake)
    before = pixir_in.sessions()[-1].read_bytes()
    fake.script(*summary_steps(1))
    result = pixir_in.run("compact", sid, "--json")
    assert result.code == 0, result
    # the Log is never rewritten: compaction only appends (docs/compaction.md)
    assert pixir_in.sessions()[-1].read_bytes().startswith(before)
    body = pixir_in.json_out(result)
    assert body["compacted"] is True and body["compaction"]["strategy"] == "model"
    assert body["compaction"]["trigger"] == "manual"
    events = pixir_in.log_events()
    assert [e["type"] for e in events[-2:]] == ["provider_usage", "history_compaction"]
    assert events[-2]["data"]["purpose"] == "compaction"
    summary_call = fake.responses_requests()[-1]
    assert is_summary_call(summary_call) and summary_call.json["tools"] == []
    assert summary_call.json["text"]["format"]["strict"] is True

    high = events[-1]["data"]["range"]["to_seq"]
    kept = [e["data"]["call_id"] for e in events if e["type"] == "tool_call" and e["seq"] > high]
    fake.script(step(text("resumed fine"), match={"input_contains": SUMMARY_PREFIX[:40]}))
    again = pixir_in.run("resume", sid, "what next?")
    assert again.code == 0, again
    assert again.stdout == "resumed fine\n"
    items = effective(fake.responses_requests()[-1])
    assert items[1]["content"][0]["text"].startswith(SUMMARY_PREFIX + "Goal: Read all")
    assert calls_in(items)[0] == kept
    assert_paired(items)
    assert items[-1]["content"][0]["text"] == "what next?"
    assert "read all the data files" not in json.dumps(items[2:])  # the old prompt was replaced


def test_compact_json_without_a_model_credential_writes_the_fallback(pixir, fake):
    sid = plain_session_logged_out(pixir, fake)
    result = pixir.run("compact", sid)
    assert result.code == 0, result
    assert "warning: not_authenticated" in result.stderr
    assert "summary (deterministic)" in result.stdout
    assert compactions(pixir.log_events())[0]["data"]["fallback"]["kind"] == "no_provider"


def plain_session_logged_out(pixir, fake):
    pixir.login_api_key()
    pixir.write_config({"compaction": {"keep_recent_tokens": 500}})
    sid = plain_session(pixir, fake, 6)
    (pixir.home / "auth.json").unlink()
    return sid


def test_compact_needs_the_session_lock(pixir_in, fake):
    pixir_in.write_config({"compaction": {"keep_recent_tokens": 500}})
    sid = plain_session(pixir_in, fake, 6)
    path = pixir_in.sessions()[-1]
    with open(path, "rb") as held:  # another pixir holds the session
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        busy = pixir_in.run("compact", sid, "--json")
        peek = pixir_in.run("compact", sid, "--dry-run")
    assert busy.code == 5, busy
    assert pixir_in.json_out(busy)["error"]["kind"] == "session_busy"
    assert peek.code == 0, peek  # a dry run only reads


def test_compact_with_nothing_to_do_says_so(pixir_in, fake):
    fake.script(step(text("hi")))
    assert pixir_in.run("hello").code == 0
    sid = pixir_in.sessions()[-1].stem
    result = pixir_in.run("compact", sid)
    assert result.code == 0, result
    assert "nothing to compact" in result.stdout
    assert not compactions(pixir_in.log_events())


def test_compact_of_an_unknown_session_is_not_found(pixir_in):
    result = pixir_in.run("compact", "20260101T000000-abcdef")
    assert result.code == 2, result
    assert "not_found" in result.stderr
