"""Browser sign-in pieces: the authorize URL, the listener and its fallbacks, the callback
server (stray requests, state, error=), pasted answers, when to open a browser (docs/auth.md)."""

import io
import os
import socket
import threading
import time
import urllib.request
from urllib.error import HTTPError
from urllib.parse import parse_qs, urlsplit

import pytest

from pixir.auth import browser, oauth
from pixir.auth.pkce import challenge_for, make_pkce
from pixir.errors import PixirError
from tests.harness import free_port


def test_authorize_url_carries_every_parameter():
    pair = make_pkce()
    url = browser.authorize_url(
        "https://auth.openai.com", "http://localhost:1455/auth/callback", pair, "st"
    )
    parts = urlsplit(url)
    assert (
        f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://auth.openai.com/oauth/authorize"
    )
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query == {
        "response_type": "code",
        "client_id": oauth.CLIENT_ID,
        "redirect_uri": "http://localhost:1455/auth/callback",
        "scope": "openid profile email offline_access",
        "code_challenge": pair.challenge,
        "code_challenge_method": "S256",
        "id_token_add_organizations": "true",
        "codex_cli_simplified_flow": "true",
        "state": "st",
        "originator": "pixir",
    }
    assert pair.verifier not in url


def test_listener_uses_the_override_port_and_reports_busy():
    port = free_port()
    sock, bound = browser.bind_listener({"PIXIR_LOGIN_PORT": str(port)})
    try:
        assert bound == port and sock.getsockname() == ("127.0.0.1", port)
        again, same = browser.bind_listener({"PIXIR_LOGIN_PORT": str(port)})
        assert again is None and same == port  # busy: paste mode, same redirect port
    finally:
        sock.close()


def test_listener_falls_back_from_1455_to_1457(monkeypatch):
    first, second = free_port(), free_port()
    monkeypatch.setattr(browser, "PORTS", (first, second))
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", first))
    blocker.listen()
    try:
        sock, bound = browser.bind_listener({})
        assert bound == second
        sock.close()
    finally:
        blocker.close()


@pytest.mark.parametrize("value", ["http", "0", "70000", "-1"])
def test_a_bad_login_port_is_invalid_arguments(value):
    with pytest.raises(PixirError) as info:
        browser.bind_listener({"PIXIR_LOGIN_PORT": value})
    assert info.value.kind == "invalid_arguments"


@pytest.mark.parametrize(
    ("env", "platform", "expected"),
    [
        ({}, "linux", False),
        ({"DISPLAY": ":0"}, "linux", True),
        ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", True),
        ({"DISPLAY": ":0", "SSH_CONNECTION": "1 2 3 4"}, "linux", False),
        ({}, "darwin", True),
        ({"SSH_CONNECTION": "1 2 3 4"}, "darwin", False),
        ({"SSH_TTY": "/dev/pts/1"}, "darwin", False),
        ({}, "win32", True),
    ],
)
def test_a_browser_is_opened_only_where_one_can_exist(env, platform, expected):
    assert browser.can_open_browser(env, platform) is expected


@pytest.mark.parametrize(
    ("text", "params"),
    [
        ("http://localhost:1455/auth/callback?code=c1&state=s1", {"code": "c1", "state": "s1"}),
        ("  http://localhost:1455/auth/callback?code=c1&scope=x&state=s1 ", None),
        ("/auth/callback?code=c1&state=s1", {"code": "c1", "state": "s1"}),
        ("code=c1&state=s1", {"code": "c1", "state": "s1"}),
        ("?code=c1&state=s1", {"code": "c1", "state": "s1"}),
        ("c1#s1", {"code": "c1", "state": "s1"}),
        ("c1", {"code": "c1"}),
        ("two words", {}),
    ],
)
def test_pasted_shapes(text, params):
    parsed = browser.parse_pasted(text)
    if params is None:
        assert parsed["code"] == "c1" and parsed["state"] == "s1"
    else:
        assert parsed == params


def test_pasted_state_is_checked_when_present():
    assert browser.check_pasted("c1#s1", "s1") == ("c1", "")
    assert browser.check_pasted("c1", "s1") == ("c1", "")  # a bare code has no state
    code, why = browser.check_pasted("c1#other", "s1")
    assert code is None and "state mismatch" in why
    code, why = browser.check_pasted("http://localhost:1455/auth/callback?state=s1", "s1")
    assert code is None and "no code" in why
    with pytest.raises(PixirError) as info:
        browser.check_pasted("http://localhost:1455/auth/callback?error=access_denied", "s1")
    assert info.value.kind == "login_failed" and "access_denied" in info.value.message


class Waiter:
    """Runs wait_for_code in a thread against a real listener (and an optional stdin pipe)."""

    def __init__(self, state="good", stdin=True, listen=True, deadline_s=30):
        self.port = free_port()
        self.listener = None
        if listen:
            self.listener, _ = browser.bind_listener({"PIXIR_LOGIN_PORT": str(self.port)})
        self.read_fd, self.write_fd = os.pipe() if stdin else (None, None)
        self.out = io.StringIO()
        self.result = self.error = None
        deadline = time.monotonic() + deadline_s

        def target():
            try:
                self.result = browser.wait_for_code(
                    self.listener, self.read_fd, state, self.out, deadline
                )
            except Exception as exc:
                self.error = exc

        self.thread = threading.Thread(target=target, daemon=True)
        self.thread.start()

    def get(self, path):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
                return r.status, r.read().decode()
        except HTTPError as err:
            return err.code, err.read().decode()

    def paste(self, text: bytes, close=False):
        os.write(self.write_fd, text)
        if close:
            os.close(self.write_fd)
            self.write_fd = None

    def finish(self):
        self.thread.join(10)
        assert not self.thread.is_alive()
        for fd in (self.read_fd, self.write_fd):
            if fd is not None:
                os.close(fd)
        if self.listener:
            self.listener.close()


def test_callback_ignores_strays_refuses_wrong_state_then_takes_the_right_one():
    waiter = Waiter()
    idle = socket.create_connection(("127.0.0.1", waiter.port))  # a preconnect that says nothing
    assert waiter.get("/favicon.ico")[0] == 404
    assert waiter.get("/")[0] == 404
    status, page = waiter.get("/auth/callback?code=evil&state=bad")
    assert status == 400 and "another sign-in attempt" in page
    assert waiter.thread.is_alive()
    holder = {}
    fetch = threading.Thread(
        target=lambda: holder.update(r=waiter.get("/auth/callback?code=c1&state=good"))
    )
    fetch.start()
    waiter.thread.join(10)
    assert waiter.error is None and waiter.result.code == "c1"
    browser._respond(waiter.result.conn, 200, "Signed in to pixir", "close this tab")
    fetch.join(10)
    assert holder["r"][0] == 200 and "Signed in" in holder["r"][1]
    assert "state mismatch" in waiter.out.getvalue()
    idle.close()
    waiter.finish()


def test_callback_error_parameter_ends_the_login():
    waiter = Waiter()
    status, page = waiter.get(
        "/auth/callback?error=access_denied&error_description=nope&state=good"
    )
    waiter.finish()
    assert status == 400 and "access_denied" in page
    assert isinstance(waiter.error, PixirError) and waiter.error.kind == "login_failed"
    assert "nope" in waiter.error.message


def test_a_pasted_url_wins_over_a_silent_listener():
    waiter = Waiter()
    waiter.paste(b"\n")  # blank lines are ignored
    waiter.paste(b"http://localhost:1455/auth/callback?code=p1&state=bad\n")
    time.sleep(0.1)
    assert waiter.thread.is_alive()  # refused, still waiting
    waiter.paste(b"http://localhost:1455/auth/callback?code=p1&sta")
    waiter.paste(b"te=good\n")  # one line in two chunks
    waiter.finish()
    assert waiter.error is None and waiter.result.code == "p1" and waiter.result.conn is None
    assert "state mismatch" in waiter.out.getvalue()


def test_a_last_line_without_newline_counts_at_eof():
    waiter = Waiter(listen=False)
    waiter.paste(b"p2#good", close=True)
    waiter.finish()
    assert waiter.result.code == "p2"


def test_port_busy_and_stdin_closed_is_login_failed_with_the_reason():
    waiter = Waiter(listen=False)
    waiter.paste(b"p3#bad\n", close=True)
    waiter.finish()
    assert waiter.error.kind == "login_failed" and "state mismatch" in waiter.error.message


def test_the_15_minute_limit():
    waiter = Waiter(deadline_s=0.2)
    waiter.finish()
    assert waiter.error.kind == "login_timeout"


def test_full_login_with_the_browser_played_by_a_thread(monkeypatch):
    """browser.login end to end in-process, with the issuer's two calls stubbed."""
    port = free_port()
    seen = {}

    def exchange(issuer, code, verifier, redirect_uri, session=None):
        seen.update(code=code, verifier=verifier, redirect_uri=redirect_uri)
        return {"access_token": "a", "refresh_token": "r"}

    monkeypatch.setattr(oauth, "exchange_code", exchange)
    out = io.StringIO()
    read_fd, write_fd = os.pipe()
    env = {"PIXIR_LOGIN_PORT": str(port)}
    result = {}
    runner = threading.Thread(
        target=lambda: result.update(
            t=browser.login("https://auth.example.test", out, read_fd, env)
        )
    )
    runner.start()
    for _ in range(200):
        url = next((x for x in out.getvalue().splitlines() if "/oauth/authorize?" in x), None)
        if url:
            break
        time.sleep(0.01)
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    redirect = f"{query['redirect_uri']}?code=ok1&state={query['state']}"
    with urllib.request.urlopen(redirect.replace("localhost", "127.0.0.1"), timeout=5) as page:
        assert page.status == 200 and "Signed in" in page.read().decode()
    runner.join(10)
    os.close(read_fd)
    os.close(write_fd)
    assert result["t"] == {"access_token": "a", "refresh_token": "r"}
    assert (
        seen["code"] == "ok1" and seen["redirect_uri"] == f"http://localhost:{port}/auth/callback"
    )
    assert challenge_for(seen["verifier"]) == query["code_challenge"]
