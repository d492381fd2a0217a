"""A hostile or broken model (docs/reliability.md, "Model output"): two calls sharing one
call_id, a call reusing an earlier id, arguments that are not JSON or not an object,
arguments over 1 MiB and unknown tools — each is a failed tool_result the model can read, no
command runs twice, the Turn goes on, and the History stays valid for the next request (the
fake refuses an unpaired or doubled call).

Through the built dist/pixir against the fake, over both transports.
"""

from __future__ import annotations

import json

import pytest

from tests.fake_backend import step, text, tool_call
from tests.reliability.conftest import check_log, record

pytestmark = pytest.mark.e2e


def results_by_call(events: list[dict]) -> list[tuple[str, dict]]:
    """(tool name, tool_result data) per tool_call, duplicates included, in Log order."""
    out = []
    for at, event in enumerate(events):
        if event["type"] == "tool_call":
            result = next(
                e["data"]
                for e in events[at + 1 :]
                if e["type"] == "tool_result" and e["data"]["call_id"] == event["data"]["call_id"]
            )
            out.append((event["data"]["name"], result))
    return out


@pytest.mark.parametrize("transport", ["http_sse", "websocket"])
def test_a_repeated_call_id_never_runs_a_command_twice(pixir, fake, transport):
    # in a folder: the sandbox lets commands create files below the workspace's top level
    (pixir.workspace / "work").mkdir()
    fake.script(
        step(
            tool_call("bash", {"command": "echo first >> work/f.txt"}, call_id="call_same"),
            tool_call("bash", {"command": "echo second >> work/f.txt"}, call_id="call_same"),
        ),
        step(tool_call("bash", {"command": "echo third >> work/f.txt"}, call_id="call_same")),
        step(text("done")),
        step(text("resumed")),
    )
    pixir.login_api_key()

    result = pixir.run("append", "--transport", transport)
    assert result.code == 0, result
    assert pixir.read_file("work/f.txt") == "first\n"  # the others were refused, not run
    assert "duplicate_call_id" in result.stderr
    events = pixir.log_events()
    outcomes = [(r["ok"], (r.get("error") or {}).get("kind")) for _, r in results_by_call(events)]
    assert outcomes == [(True, None), (False, "duplicate_call_id"), (False, "duplicate_call_id")]
    check_log(pixir.sessions()[-1])
    # every request after the first was accepted by the fake's pairing validation
    assert [r.status for r in fake.responses_requests()] == [200, 200, 200]
    again = pixir.run("-c", "and?", "--transport", transport)
    assert again.code == 0, again
    assert pixir.read_file("work/f.txt") == "first\n"
    record("model_output_attacks", 2)


BROKEN = [
    ("write", '{"path": "a.txt", "content": "x"', "invalid_arguments", "not valid JSON"),
    ("write", '["a.txt", "x"]', "invalid_arguments", "not an array"),
    ("bash", '"rm -rf ."', "invalid_arguments", "not a string"),
    ("bash", "null", "invalid_arguments", "not null"),
    ("teleport", '{"to": "mars"}', "unknown_tool", "no tool named 'teleport'"),
    ("write_file", "{}", "unknown_tool", "no tool named 'write_file'"),
]


@pytest.mark.parametrize("transport", ["http_sse", "websocket"])
def test_broken_and_oversized_arguments_and_unknown_tools_are_failed_results(
    pixir, fake, transport
):
    big = json.dumps({"path": "big.txt", "content": "y" * (1 << 20)})
    fake.script(
        step(
            *(tool_call(name, raw) for name, raw, _, _ in BROKEN),
            tool_call("write", big),
            tool_call("write", {"path": "ok.txt", "content": "fine"}),
        ),
        step(text("noted"), match={"last_tool_output": "Wrote 4 bytes"}),
        step(text("resumed")),
    )
    pixir.login_api_key()

    result = pixir.run("try things", "--transport", transport)
    assert result.code == 0, result
    assert result.stdout == "noted\n"
    assert pixir.read_file("ok.txt") == "fine"  # the good call after the bad ones ran
    assert not pixir.path("a.txt").exists() and not pixir.path("big.txt").exists()
    events = pixir.log_events()
    got = results_by_call(events)
    assert len(got) == len(BROKEN) + 2
    for (name, raw, kind, said), (_, data) in zip(BROKEN, got[: len(BROKEN)], strict=True):
        assert data["ok"] is False and data["error"]["kind"] == kind, (name, raw, data)
        assert said in data["error"]["message"], data
    too_large = got[len(BROKEN)][1]
    assert too_large["error"]["kind"] == "arguments_too_large"
    assert f"{len(big):,} bytes" in too_large["error"]["message"]
    log_bytes = pixir.sessions()[-1].stat().st_size
    assert log_bytes < 200_000, "the 1 MiB arguments were not kept in the Log"
    # the model saw every failure in its next request, paired with its call
    second = fake.responses_requests()[1]
    outputs = [
        i
        for i in second.extra.get("effective_input") or second.json["input"]
        if i.get("type") == "function_call_output"
    ]
    assert len(outputs) == len(BROKEN) + 2
    assert len(second.body) < 200_000
    check_log(pixir.sessions()[-1])
    assert pixir.run("-c", "again", "--transport", transport).code == 0
    record("model_output_attacks", len(BROKEN) + 1)
