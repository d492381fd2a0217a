"""Memory stays bounded whatever the server or the user's input holds, and a stream of
keep-alives does not live forever (docs/reliability.md, "Memory" and "Stream liveness"):
an event that never ends, endless 1 MiB text or argument deltas, a WebSocket message
whose fragments never end, endless events that are no output, `yes | pixir login --with-api-key`,
`--output-schema /dev/zero`, a 64 MiB AGENTS.md. Each is a clear error (or a cut with a
note) with a small peak RSS, measured on the built dist/pixir against the fake — before,
they grew pixir to gigabytes (5.6 GB, 4.6 GB, 7.4 GB, 10 GB).
"""

from __future__ import annotations

import subprocess

import pytest

from tests.fake_backend import step, text
from tests.fake_backend.scenario import flood
from tests.reliability.conftest import check_log, peak_rss_kib, record

pytestmark = pytest.mark.e2e

PEAK_KIB = 300 * 1024  # pixir itself needs ~50 MiB; gigabytes were the bug


@pytest.mark.parametrize(
    ("transport", "what"),
    [
        (transport, what)
        for transport in ("http_sse", "websocket")
        for what in ("event", "deltas", "arguments")
    ]
    + [("websocket", "fragments"), ("websocket", "empty_fragments")],  # messages without end
)
def test_a_server_that_never_stops_sending_ends_as_stream_too_large(pixir, fake, transport, what):
    fake.script(step(text("never finished"), fault=flood(what, after_events=2)))
    pixir.login_api_key()
    code, peak = peak_rss_kib(pixir, "hi", "--transport", transport)
    assert code == 1
    assert peak < PEAK_KIB, f"peak RSS {peak} KiB"
    events = check_log(pixir.sessions()[-1])
    failed = events[-1]
    assert failed["type"] == "turn_failed"
    assert failed["data"]["error_kind"] == "stream_too_large", failed
    assert len(fake.responses_requests()) == 1  # not retried: it would only happen again
    record("memory_attacks")


@pytest.mark.parametrize("transport", ["http_sse", "websocket"])
def test_a_stream_of_keepalives_only_ends_as_stream_idle_timeout(pixir, fake, transport):
    fake.script(step(text("never"), fault=flood("keepalive", after_events=2, seconds=30)))
    pixir.login_api_key()
    pixir.write_config({"stream_idle_timeout_ms": 1500, "max_retries": 0})
    result = pixir.run("hi", "--transport", transport, timeout=60)
    assert result.code == 124, result
    said = "no output (only keep-alives, status or empty events) from the server for 1.5 s"
    assert f"error: stream_idle_timeout: {said}" in result.stderr
    record("liveness_attacks")


@pytest.mark.parametrize("transport", ["http_sse", "websocket"])
@pytest.mark.parametrize("what", ["status", "unknown", "empty", "parts"])
def test_a_stream_of_events_that_are_no_output_ends_as_stream_idle_timeout(
    pixir, fake, transport, what
):
    """Endless `response.in_progress`, events of a type nobody knows, empty text deltas or
    `content_part.done`: data keeps coming, so the socket's timeout never fires, but the
    response never moves."""
    fake.script(step(text("never"), fault=flood(what, after_events=2, seconds=30)))
    pixir.login_api_key()
    pixir.write_config({"stream_idle_timeout_ms": 1500, "max_retries": 0})
    result = pixir.run("hi", "--transport", transport, timeout=60)
    assert result.code == 124, result
    assert "error: stream_idle_timeout: " in result.stderr
    record("liveness_attacks")


def test_an_endless_api_key_on_stdin_is_refused_after_64_kib(pixir):
    yes = subprocess.Popen(["yes"], stdout=subprocess.PIPE)
    try:
        code, peak = peak_rss_kib(pixir, "login", "--with-api-key", stdin=yes.stdout)
    finally:
        yes.kill()
        yes.wait()
    assert code == 2
    assert peak < PEAK_KIB, f"peak RSS {peak} KiB"
    assert pixir.auth_file() is None
    result = pixir.run("login", "--with-api-key", stdin=b"y\n" * 40000)
    assert "stdin holds more than 64 KiB" in result.stderr, result
    record("memory_attacks")


def test_an_output_schema_that_never_ends_is_refused_after_1_mib(pixir, fake):
    pixir.login_api_key()
    code, peak = peak_rss_kib(pixir, "hi", "--output-schema", "/dev/zero")
    assert code == 2
    assert peak < PEAK_KIB, f"peak RSS {peak} KiB"
    result = pixir.run("hi", "--output-schema", "/dev/zero")
    assert "--output-schema /dev/zero: larger than 1 MiB" in result.stderr, result
    assert fake.responses_requests() == []
    record("memory_attacks")


def test_a_huge_agents_md_is_read_up_to_its_cap_with_a_note(pixir, fake):
    with open(pixir.path("AGENTS.md"), "wb") as fh:
        fh.write(b"Use tabs.\n")
        block = b"filler line of instructions\n" * 4096
        for _ in range(600):  # ~64 MiB
            fh.write(block)
    fake.script(step(text("ok")))
    pixir.login_api_key()
    code, peak = peak_rss_kib(pixir, "hi")
    assert code == 0
    assert peak < PEAK_KIB, f"peak RSS {peak} KiB"
    [request] = fake.responses_requests()
    body = request.body.decode()
    assert "Use tabs." in body and "AGENTS.md cut" in body
    assert len(request.body) < 200_000
    record("memory_attacks")
