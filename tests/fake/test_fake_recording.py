"""The request record: what arrived, on which connection, how many bytes, what was answered."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.fake.fakeclient import (
    body,
    post,
    raw_request,
    read_head,
    read_until_eof,
    stream_events,
    sub_headers,
    wait_for,
    ws_connect,
    ws_create,
    ws_events,
)
from tests.fake_backend import FakeBackend, step, text

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_headers_body_and_json_are_recorded(fake):
    fake.script(step(text("x")))
    headers = sub_headers(fake)
    headers["Session_ID"] = "sess-1"
    headers["OpenAI-Beta"] = "responses=experimental"
    data = body()
    stream_events(post(fake, data, headers=headers))
    (rec,) = fake.requests
    assert rec.method == "POST" and rec.path == "/backend-api/codex/responses"
    assert rec.headers["session_id"] == "sess-1"  # case-insensitive lookup
    assert rec.headers["openai-beta"] == "responses=experimental"
    assert rec.headers["AUTHORIZATION"] == headers["Authorization"]
    assert rec.json == data and json.loads(rec.body) == data
    assert rec.transport == "http" and rec.kind == "http" and rec.status == 200
    assert rec.extra["response_id"].startswith("resp_")
    # server_s is stamped when the fake is done, which can trail the client's last read
    assert fake.wait_for(lambda: "server_s" in rec.extra)
    assert 0 < rec.extra["server_s"] < 5


def test_bytes_received_counts_every_byte_of_the_request(fake):
    payload = b'{"client_id": "app_EMoamEEZ73f0CkXaXp7hrann"}'
    sock = raw_request(
        fake,
        "POST",
        "/api/accounts/deviceauth/usercode",
        {"Content-Type": "application/json", "X-Pad": "p" * 100},
        payload,
    )
    head, _ = read_head(sock)
    sock.close()
    assert head.startswith(b"HTTP/1.1 200")
    (rec,) = fake.requests
    expected_head = (
        f"POST /api/accounts/deviceauth/usercode HTTP/1.1\r\nHost: 127.0.0.1:{fake.port}\r\n"
        f"Content-Type: application/json\r\nX-Pad: {'p' * 100}\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    ).encode()
    assert rec.bytes_received == len(expected_head) + len(payload)
    assert rec.body == payload


def test_chunked_request_bodies_are_read(fake):
    sock = socket.create_connection(("127.0.0.1", fake.port), timeout=5)
    sock.sendall(
        f"POST /oauth/revoke HTTP/1.1\r\nHost: 127.0.0.1:{fake.port}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        "Transfer-Encoding: chunked\r\n\r\n".encode()
        + b"6\r\ntoken=\r\n5\r\nrt_xy\r\n0\r\n\r\n"
    )
    head, _ = read_head(sock)
    sock.close()
    assert head.startswith(b"HTTP/1.1 200")
    assert fake.requests[-1].body == b"token=rt_xy"
    assert fake.revoked[-1] == "rt_xy"


def test_keep_alive_requests_share_a_connection_id(fake):
    fake.script(step(text("1")), step(text("2")), step(text("3")))
    session = requests.Session()
    stream_events(post(fake, body(), session=session))
    stream_events(post(fake, body(), session=session))
    stream_events(post(fake, body()))  # no session: a new connection
    ids = [r.connection_id for r in fake.responses_requests()]
    assert ids[0] == ids[1] != ids[2]


def test_websocket_frames_share_the_handshake_connection_id(fake):
    fake.script(step(text("a")), step(text("b")))
    ws = ws_connect(fake)
    ws_create(ws)
    ws_events(ws)
    ws_create(ws)
    ws_events(ws)
    ws.close()
    handshake, *frames = fake.requests
    assert handshake.transport == "websocket" and handshake.method == "GET"
    assert {f.connection_id for f in frames} == {handshake.connection_id}
    assert [f.kind for f in frames] == ["ws_frame", "ws_frame"]
    assert all(f.bytes_received == len(f.body) > 100 for f in frames)
    assert fake.count("/responses") == 1  # the upgrade request, not the frames
    assert len(fake.responses_requests()) == 2


def test_query_and_count(fake):
    requests.get(fake.url + "/oauth/authorize?state=abc&client_id=x", timeout=5)
    requests.post(fake.url + "/oauth/token", data={"grant_type": "nope"}, timeout=5)
    requests.post(fake.url + "/oauth/token", data={"grant_type": "nope"}, timeout=5)
    assert fake.requests[0].query == {"state": "abc", "client_id": "x"}
    assert fake.requests[0].status == 400
    assert fake.count("/oauth/token") == 2 and fake.count("/oauth/authorize") == 1


def test_recording_is_thread_safe(fake):
    def hammer():
        for _ in range(10):
            requests.post(fake.url + "/oauth/revoke", data={"token": "t"}, timeout=5)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert fake.count("/oauth/revoke") == 80
    assert len(fake.revoked) == 80
    stamps = [r.ts for r in fake.requests]
    assert stamps == sorted(stamps)


def test_scenario_dict_and_settings(tmp_path):
    scenario = {"steps": [{"items": [{"type": "message", "text": "from file"}]}], "settings": {}}
    scenario["settings"]["models"] = ["gpt-5.5"]
    with FakeBackend(scenario) as fb:
        assert fb.steps_left == 1 and fb.settings.models == ["gpt-5.5"]
        events = stream_events(post(fb, body()))
        assert events[-1]["response"]["output"][0]["content"][0]["text"] == "from file"


def test_runs_by_hand_and_prints_the_environment(tmp_path):
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps({"steps": ["hello by hand"], "settings": {"plan": "pro"}}))
    auth_path = tmp_path / "auth.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fake_backend",
            "--port",
            "0",
            "--scenario",
            str(scenario),
            "--auth-json",
            str(auth_path),
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    try:
        exports = {}
        while len(exports) < 4:
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            if line.startswith("export "):
                name, _, value = line[len("export ") :].strip().partition("=")
                exports[name] = value
        assert set(exports) == {
            "PIXIR_AUTH_ISSUER",
            "PIXIR_CHATGPT_BASE_URL",
            "OPENAI_BASE_URL",
            "OPENAI_API_KEY",
        }
        assert exports["PIXIR_CHATGPT_BASE_URL"].endswith("/backend-api/codex")
        assert exports["OPENAI_BASE_URL"].endswith("/v1")
        assert oct(auth_path.stat().st_mode & 0o777) == "0o600"
        auth = json.loads(auth_path.read_text())
        resp = requests.post(
            exports["PIXIR_CHATGPT_BASE_URL"] + "/responses",
            json=body(),
            headers={
                "Authorization": f"Bearer {auth['access_token']}",
                "chatgpt-account-id": auth["account_id"],
            },
            stream=True,
            timeout=10,
        )
        assert stream_events(resp)[-1]["response"]["output"][0]["content"][0]["text"] == (
            "hello by hand"
        )
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0


def test_stop_is_prompt_even_with_open_streams(tmp_path):
    fb = FakeBackend().start()
    fb.script(step(text("x"), keep_open=30))
    resp = post(fb, body())
    next(resp.iter_content(chunk_size=None))
    start = time.monotonic()
    fb.stop()
    assert time.monotonic() - start < 20  # behaviour, not speed: it did not wait out keep_open
    resp.close()


def test_a_crash_inside_the_fake_is_kept_for_the_test(tmp_path):
    fb = FakeBackend().start()
    try:
        fb._route = None  # sabotage: routing now raises inside the connection thread
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(fb.url + "/nowhere", timeout=5)
        assert wait_for(lambda: fb.errors)
        assert "TypeError" in fb.errors[0]
    finally:
        fb.stop()
    assert fb.errors  # still there after stop, for the fixture's check


def test_garbage_requests_do_not_crash_the_fake(fake):
    for garbage in (b"\x00\x01\x02\r\n\r\n", b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n"):
        sock = socket.create_connection(("127.0.0.1", fake.port), timeout=5)
        sock.sendall(garbage)
        assert read_until_eof(sock) == b""  # closed without an answer
        sock.close()
    assert fake.errors == []


def test_wait_for_responses(fake):
    fake.script(step(text("x")))
    assert not fake.wait_for_responses(1, timeout=0.05)
    late = threading.Timer(0.1, lambda: stream_events(post(fake, body())))
    late.start()
    assert fake.wait_for_responses(1, timeout=5)
    # the request is recorded before its answer is read: let the client finish before the
    # fixture stops the fake, or its thread fails in whatever test runs next
    late.join(timeout=5)
    assert not late.is_alive()
