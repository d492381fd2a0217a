"""`pixir compact` in-process (pixir/commands/compact.py) on sessions written in a temporary
workspace: the `--json` answers, the dry run that writes nothing, the summary written
without a credential, nothing to compact, a missing session (docs/compaction.md). The model
summary against a backend is pinned end to end (tests/e2e/test_compaction.py)."""

from __future__ import annotations

import json

import pytest

from pixir import paths
from pixir import session as sessions
from pixir.cli import main
from pixir.log import read_events

KEEP = 300  # keep_recent_tokens: a few Turns of the sessions below are more than that


@pytest.fixture(autouse=True)
def small_keep_budget(pixir_home):
    pixir_home.mkdir(parents=True, exist_ok=True)
    (pixir_home / "config.json").write_text(
        json.dumps({"compaction": {"keep_recent_tokens": KEEP}})
    )


def seed(ws, turns: int, sid: str | None = None) -> str:
    """A session with `turns` Turns of ~100 tokens each (a new one, or more of `sid`)."""
    if sid is None:
        session = sessions.create(ws, model="gpt-5.5", transport="auto", permission_mode="auto")
    else:
        session, _ = sessions.resume(ws, sid, model=None, permission_mode="auto")
    for n in range(turns):
        session.append("user_message", {"text": f"question {n}: " + "why " * 50})
        session.append(
            "assistant_message",
            {"text": f"answer {n}: " + "because " * 25, "finish_reason": "stop"},
        )
    session.close()
    return session.id


def log_of(ws, sid: str):
    return paths.sessions_dir(ws) / f"{sid}.jsonl"


def run_json(capsys, *args) -> tuple[int, dict, str]:
    code = main(["compact", *args, "--json"])
    out, err = capsys.readouterr()
    assert out.count("\n") == 1, out  # one JSON line
    return code, json.loads(out), err


CUT_KEYS = {
    "range",
    "events",
    "items_replaced",
    "items_kept",
    "tokens_before",
    "tokens_replaced",
    "tokens_kept",
    "carries_summary",
}


def test_a_dry_run_shows_the_cut_and_writes_nothing_even_without_a_credential(ws, capsys):
    sid = seed(ws, 6)
    before = log_of(ws, sid).read_bytes()
    code, body, _ = run_json(capsys, sid, "--dry-run")
    assert code == 0
    assert set(body) == {"ok", "session_id", "dry_run", "compacted", "cut"}
    assert body["ok"] is True and body["session_id"] == sid
    assert body["dry_run"] is True and body["compacted"] is False
    cut = body["cut"]
    assert set(cut) == CUT_KEYS | {"tokens_after_estimate"}
    assert cut["range"]["from_seq"] == 1  # from the first message on
    assert cut["items_replaced"] + cut["items_kept"] == 12
    assert 0 < cut["tokens_kept"] <= KEEP
    assert cut["tokens_before"] > cut["tokens_after_estimate"] > 0
    assert cut["carries_summary"] is False
    assert log_of(ws, sid).read_bytes() == before
    assert not paths.auth_file().exists()


def test_a_dry_run_in_words(ws, capsys):
    sid = seed(ws, 6)
    assert main(["compact", sid, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"would compact session {sid} (dry run: nothing written)\n")
    for label in ("replace", "keep", "request"):
        assert f"\n  {label} " in out
    assert "carries" not in out  # no earlier summary


def test_without_a_credential_the_summary_is_written_without_the_model(ws, capsys):
    sid = seed(ws, 6)
    before = log_of(ws, sid).read_bytes()
    _, dry, _ = run_json(capsys, sid, "--dry-run")
    code, body, err = run_json(capsys, sid)
    assert code == 0
    assert set(body) == {"ok", "session_id", "dry_run", "compacted", "cut", "compaction"}
    assert body["dry_run"] is False and body["compacted"] is True
    estimate = dry["cut"].pop("tokens_after_estimate")
    assert body["cut"] == dry["cut"]  # the dry run showed the very cut
    data = body["compaction"]
    assert data["strategy"] == "deterministic" and data["trigger"] == "manual"
    assert data["fallback"]["kind"] == "no_provider"
    assert data["tokens_after"] < data["tokens_before"]
    assert abs(data["tokens_after"] - estimate) <= estimate // 2  # the estimate was close
    assert "warning" not in err  # --json keeps stderr for errors
    # the Log is only appended to, and its last event is the compaction just shown
    after = log_of(ws, sid).read_bytes()
    assert after.startswith(before) and len(after) > len(before)
    last = read_events(log_of(ws, sid))[-1]
    assert last["type"] == "history_compaction"
    assert last["data"] == data
    assert last["data"]["range"] == body["cut"]["range"]


def test_in_words_it_warns_that_no_model_wrote_the_summary_and_prints_it(ws, capsys):
    sid = seed(ws, 6)
    assert main(["compact", sid]) == 0
    out, err = capsys.readouterr()
    assert "warning: not_authenticated" in err
    assert out.startswith(f"compacted session {sid}: events 1–")
    assert "→ summary (deterministic)" in out
    summary = read_events(log_of(ws, sid))[-1]["data"]["summary"]
    assert out.rstrip("\n").endswith(summary.rstrip("\n"))


def test_a_second_compaction_carries_the_first_summary_forward(ws, capsys):
    sid = seed(ws, 6)
    assert main(["compact", sid, "--json"]) == 0
    seed(ws, 4, sid)
    capsys.readouterr()
    _, body, _ = run_json(capsys, sid, "--dry-run")
    assert body["cut"]["carries_summary"] is True
    first = next(e for e in read_events(log_of(ws, sid)) if e["type"] == "history_compaction")
    assert body["cut"]["range"]["to_seq"] > first["data"]["range"]["to_seq"]
    assert main(["compact", sid, "--dry-run"]) == 0
    assert "  carries   the earlier summary forward" in capsys.readouterr().out


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_short_session_has_nothing_to_compact(ws, capsys, dry_run):
    sid = seed(ws, 1)
    before = log_of(ws, sid).read_bytes()
    args = [sid, "--dry-run"] if dry_run else [sid]
    code, body, _ = run_json(capsys, *args)
    assert code == 0
    assert body == {
        "ok": True,
        "session_id": sid,
        "dry_run": dry_run,
        "compacted": False,
        "reason": "nothing to compact: the History already fits in the kept recent part",
    }
    assert log_of(ws, sid).read_bytes() == before
    assert main(["compact", *args]) == 0
    assert capsys.readouterr().out == f"session {sid}: {body['reason']}\n"


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_missing_session_is_not_found(ws, capsys, dry_run):
    seed(ws, 6)  # another session is there
    args = ["20260101T000000-abcdef"] + (["--dry-run"] if dry_run else [])
    assert main(["compact", *args, "--json"]) == 2
    out, _ = capsys.readouterr()
    error = json.loads(out)["error"]
    assert error["kind"] == "not_found"
    assert main(["compact", *args]) == 2
    assert "not_found" in capsys.readouterr().err
