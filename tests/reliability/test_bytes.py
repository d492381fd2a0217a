"""Any bytes, from anywhere, become valid text before the Log, a request or a terminal
(docs/reliability.md, "Bytes"): argv that is not UTF-8, stdin and files with invalid bytes and
NUL, tool output, a server that sends an escaped lone surrogate (`"\\ud800"`) or invalid
UTF-8 — and a session already written with such data stays readable and resumable.

Each test runs the built dist/pixir against the fake and checks the Log file is strict UTF-8,
the request the fake received carries U+FFFD, and the next `pixir -c` and `pixir log` work.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.fake_backend import reasoning, step, text, tool_call
from tests.harness import user_texts
from tests.reliability.conftest import check_log, record

pytestmark = pytest.mark.e2e

FFFD = "\ufffd"
ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u(?:[dD][89a-fA-F]|0000)")


def strict_log(pixir) -> list[dict]:
    """The session Log: strict UTF-8 without a lone surrogate escape, folded by pixir's own
    code; returns the events as plain `json.loads` reads them (pixir's reader would clean
    what it reads, hiding what was written)."""
    [path] = pixir.sessions()
    raw = path.read_bytes()
    raw.decode("utf-8")  # strict
    # a \u escape of a surrogate or NUL (not an escaped backslash followed by "ud800": the
    # text of a call's raw arguments, kept as the model sent it)
    found = ESCAPE.search(raw)
    assert found is None, f"a lone surrogate or NUL escape in the Log: {found.group()}"
    check_log(path)
    return pixir.log_events()


def requests_are_valid_utf8(fake) -> None:
    for rec in fake.responses_requests():
        rec.body.decode("utf-8")  # strict


def no_crash(result) -> None:
    assert "internal" not in result.stderr and "Traceback" not in result.stderr, result


def test_argv_that_is_not_utf8_becomes_replacement_characters(pixir, fake):
    fake.script(step(text("fixed")), step(text("again")))
    pixir.login_api_key()

    first = pixir.run(b"fix caf\xe9 bug \xff\xfe")
    assert first.code == 0, first
    assert first.stdout == "fixed\n"
    assert user_texts(fake.responses_requests()[0])[-1] == f"fix caf{FFFD} bug {FFFD}{FFFD}"
    events = strict_log(pixir)
    assert events[1]["data"]["text"] == f"fix caf{FFFD} bug {FFFD}{FFFD}"

    again = pixir.run("-c", "and now?")  # the session stays usable
    assert again.code == 0, again
    assert f"fix caf{FFFD} bug" in str(fake.responses_requests()[1].json["input"])
    shown = pixir.run("log", pixir.session_id())
    assert shown.code == 0 and f"fix caf{FFFD} bug" in shown.stdout, shown
    requests_are_valid_utf8(fake)
    record("bytes_attacks")


@pytest.mark.parametrize("transport", ["http_sse", "websocket"])
def test_a_lone_surrogate_from_the_server_becomes_a_replacement_character(pixir, fake, transport):
    bad = "caf\ud800 \udfff!"
    fake.script(
        step(
            reasoning(summary=f"think {bad}"),
            tool_call("write", {"path": "out.txt", "content": f"x {bad}"}),
        ),
        step(text(f"done {bad}", deltas=["done ", bad])),
        step(text("fine")),
    )
    pixir.login_api_key()

    result = pixir.run("go", "--transport", transport)
    assert result.code == 0, result
    no_crash(result)
    assert result.stdout_bytes == f"done caf{FFFD} {FFFD}!\n".encode()
    assert pixir.path("out.txt").read_bytes() == f"x caf{FFFD} {FFFD}!".encode()
    events = strict_log(pixir)
    [answer] = [e for e in events if e["type"] == "assistant_message"]
    assert answer["data"]["text"] == f"done caf{FFFD} {FFFD}!"

    again = pixir.run("-c", "more", "--transport", transport)
    assert again.code == 0, again
    requests_are_valid_utf8(fake)
    assert f"caf{FFFD}" in fake.responses_requests()[-1].body.decode()
    assert pixir.run("log", pixir.session_id()).code == 0
    record("bytes_attacks")


@pytest.mark.parametrize("transport", ["http_sse", "websocket"])
def test_a_lone_surrogate_escaped_inside_a_calls_arguments_reaches_no_tool(pixir, fake, transport):
    """The arguments are JSON inside a JSON string: `\\ud800` survives the event's decoding
    and becomes a lone surrogate only when the arguments are parsed."""
    fake.script(
        step(
            tool_call("bash", '{"command": "echo hi \\ud800"}'),
            tool_call("write", '{"path": "x\\udc80y.txt", "content": "a \\udc80 b"}'),
        ),
        step(text("done")),
    )
    pixir.login_api_key()
    result = pixir.run("go", "--transport", transport)
    assert result.code == 0, result
    no_crash(result)
    ran, wrote = [e["data"] for e in strict_log(pixir) if e["type"] == "tool_result"]
    assert ran["ok"] and f"hi {FFFD}" in ran["output"], ran
    assert wrote["ok"], wrote
    assert pixir.path(f"x{FFFD}y.txt").read_bytes() == f"a {FFFD} b".encode()
    requests_are_valid_utf8(fake)
    record("bytes_attacks")


@pytest.mark.parametrize("transport", ["http_sse", "websocket"])
def test_nul_from_the_server_becomes_a_replacement_character(pixir, fake, transport):
    fake.script(step(text("\x00zero")), step(text("ok")))
    pixir.login_api_key()
    result = pixir.run("go", "--transport", transport)
    assert result.code == 0, result
    assert result.stdout == f"{FFFD}zero\n"
    strict_log(pixir)
    assert pixir.run("-c", "again", "--transport", transport).code == 0
    requests_are_valid_utf8(fake)
    record("bytes_attacks")


def test_stdin_files_and_tool_output_with_invalid_bytes_and_nul(pixir, fake):
    pixir.write_file("latin1.txt", b"caf\xe9 cr\xe8me\n")
    fake.script(
        step(
            tool_call("read", {"path": "latin1.txt"}),
            tool_call("bash", {"command": r"printf 'out \xff\xfe and \000 nul\n'"}),
        ),
        step(text("seen"), match={"last_tool_output": "nul"}),
        step(text("again")),
    )
    pixir.login_api_key()

    result = pixir.run("look", stdin=b"piped \xc3\x28 bytes \x00 here\n")
    assert result.code == 0, result
    assert "NUL" in result.stderr  # said once, on stderr
    events = strict_log(pixir)
    prompt = events[1]["data"]["text"]
    assert f"piped {FFFD}( bytes {FFFD} here" in prompt
    outputs = [e["data"]["output"] for e in events if e["type"] == "tool_result"]
    assert f"caf{FFFD} cr{FFFD}me" in outputs[0]
    assert f"out {FFFD}{FFFD} and {FFFD} nul" in outputs[1]
    requests_are_valid_utf8(fake)
    assert pixir.run("-c", "go on").code == 0
    record("bytes_attacks")


def test_a_session_already_holding_lone_surrogates_stays_usable(pixir, fake):
    """What an older pixir wrote for undecodable argv or a server's `\\ud800`: the escape in
    the Log, which decodes to a string no request can carry. Resuming, `log`, `preview` and
    `sessions` all work, and the request carries U+FFFD."""
    fake.script(step(text("first")), step(text("second")))
    pixir.login_api_key()
    assert pixir.run("start").code == 0
    [path] = pixir.sessions()
    sid = path.stem
    lines = path.read_bytes().split(b"\n")
    seq = json.loads(lines[-2])["seq"] + 1
    for n, (kind, data) in enumerate(
        [
            ("user_message", '{"text":"caf\\udce9 \\ud800 bug"}'),
            ("assistant_message", '{"text":"ok \\udfff","finish_reason":"stop"}'),
        ]
    ):
        envelope = (
            f'{{"id":"{n:016x}","session_id":"{sid}","seq":{seq + n},'
            f'"ts":"2026-01-01T00:00:00.000000Z","type":"{kind}","data":{data}}}\n'
        )
        with open(path, "ab") as fh:
            fh.write(envelope.encode())

    result = pixir.run("-c", "continue")
    assert result.code == 0, result
    no_crash(result)
    body = fake.responses_requests()[-1].body.decode("utf-8")
    assert f"caf{FFFD} {FFFD} bug" in body and f"ok {FFFD}" in body
    for args in (("log", sid), ("sessions",), ("preview", "--session", sid, "x")):
        shown = pixir.run(*args)
        assert shown.code == 0, shown
        no_crash(shown)
    record("bytes_attacks")
