"""Sign-in end to end: the built dist/pixir against the fake issuer — device code, browser
(the test plays the browser), pasted answers, API key, status and logout (docs/auth.md)."""

from __future__ import annotations

import json
import signal
import socket
import stat
import subprocess
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.harness import free_port

pytestmark = pytest.mark.e2e


def read_until(stream, needle: str) -> tuple[str, list[str]]:
    """Read stderr lines until one contains `needle`; returns (that line, all lines)."""
    lines = []
    while True:
        raw = stream.readline()
        if not raw:
            raise AssertionError("pixir ended before printing " + needle + ":\n" + "".join(lines))
        line = raw.decode("utf-8", "replace")
        lines.append(line)
        if needle in line:
            return line.strip(), lines


def interrupt(proc) -> bytes:
    """Ctrl-C a waiting login; it must end with 130, say so, and show no traceback."""
    try:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert b"interrupted" in err and b"Traceback" not in err
    return err


def assert_no_secret(fake, *texts: str) -> None:
    for secret in fake.secrets():
        for text in texts:
            assert secret not in text


def assert_private_auth_file(pixir) -> dict:
    path = pixir.home / "auth.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(pixir.home.stat().st_mode) == 0o700
    return json.loads(path.read_text())


# -- device code -------------------------------------------------------------------------------


def test_device_login_after_several_pending_polls(fake, pixir):
    fake.configure(device_interval="0.05", pending_polls=3, pending_statuses=[403, 404])
    result = pixir.run("login")
    assert result.code == 0, result
    assert result.stdout == ""  # instructions and result go to stderr
    lines = result.stderr.splitlines()
    assert f"{fake.url}/codex/device" in lines  # alone on its line
    assert "expires in 15 minutes" in result.stderr and "Never share this code" in result.stderr
    polls = fake.device_polls
    assert [p.status for p in polls] == [403, 404, 403, 200]
    saved = assert_private_auth_file(pixir)
    assert saved["kind"] == "subscription"
    assert saved["account_id"] == fake.settings.account_id
    assert saved["access_token"] and saved["refresh_token"] and saved["id_token"]
    assert saved["obtained_at"].endswith("Z") and saved["last_refresh"].endswith("Z")
    assert "dev@example.com" in result.stderr
    assert_no_secret(fake, result.stdout, result.stderr)


def test_device_login_code_is_on_its_own_line(fake, pixir):
    fake.configure(device_interval="0.05", pending_polls=0, usercode_field="usercode")
    result = pixir.run("login", "--device")
    assert result.code == 0, result
    (device,) = fake.auth.devices.values()
    assert device.user_code in result.stderr.splitlines()  # alone on its line, unindented


def test_device_login_json_prints_one_result_object(fake, pixir):
    fake.configure(device_interval="0.05", pending_polls=1)
    result = pixir.run("login", "--json")
    assert result.code == 0, result
    body = pixir.json_out(result)
    assert body["ok"] is True and body["kind"] == "subscription"
    assert body["account_id"] == fake.settings.account_id and body["plan"] == "plus"
    assert_no_secret(fake, result.stdout, result.stderr)


def test_slow_down_backs_off_five_seconds(fake, pixir):
    fake.configure(device_mode="slow_down", device_interval="0.05", pending_polls=0)
    result = pixir.run("login")
    assert result.code == 0, result
    polls = fake.device_polls
    assert [p.code for p in polls[:1]] == ["slow_down"] and polls[-1].status == 200
    assert polls[1].monotonic - polls[0].monotonic >= 5.0  # interval + 5 s, not the interval


def test_device_code_disabled_is_exit_4_with_how_to_enable_it(fake, pixir):
    fake.configure(device_mode="disabled")
    result = pixir.run("login")
    assert result.code == 4, result
    assert "error: device_code_unsupported:" in result.stderr
    assert "Security" in result.stderr and "pixir login --browser" in result.stderr
    assert pixir.auth_file() is None


def test_ctrl_c_while_waiting_exits_130_and_stores_nothing(fake, pixir):
    fake.configure(device_interval="0.05", pending_polls=10_000)
    proc = pixir.popen("login", bufsize=0, stdin=subprocess.PIPE)
    try:
        read_until(proc.stderr, "Waiting for the sign-in")
    except BaseException:
        proc.kill()
        raise
    interrupt(proc)
    assert pixir.auth_file() is None


def test_debug_wire_log_of_a_login_shows_no_secret(fake, pixir):
    fake.configure(device_interval="0.05", pending_polls=1)
    result = pixir.run("login", env={"PIXIR_DEBUG": "1"})
    assert result.code == 0, result
    assert "[pixir debug] POST" in result.stderr and "/oauth/token" in result.stderr
    assert_no_secret(fake, result.stdout, result.stderr)


# -- browser -----------------------------------------------------------------------------------


def start_browser_login(pixir, port: int, *flags: str):
    # Unbuffered pipes: what read_until leaves unread must still reach communicate().
    env = {"PIXIR_LOGIN_PORT": str(port)}
    proc = pixir.popen("login", "--browser", *flags, env=env, bufsize=0, stdin=subprocess.PIPE)
    url, lines = read_until(proc.stderr, "/oauth/authorize?")
    assert url.startswith(pixir.fake.url + "/oauth/authorize?")  # alone on its line
    return proc, url, lines


def authorize(url: str) -> str:
    """Play the browser at the issuer: the redirect it answers with."""
    reply = requests.get(url, allow_redirects=False, timeout=10)
    assert reply.status_code == 302, reply.text
    return reply.headers["Location"]


def finish(proc, stdin: bytes = b"") -> tuple[bytes, bytes]:
    try:
        return proc.communicate(stdin, timeout=30)
    finally:
        proc.kill()


def test_browser_login_when_the_test_plays_the_browser(fake, pixir):
    port = free_port()
    proc, url, _ = start_browser_login(pixir, port, "--json")
    query = parse_qs(urlsplit(url).query)
    assert query["redirect_uri"] == [f"http://localhost:{port}/auth/callback"]
    assert query["code_challenge_method"] == ["S256"] and query["originator"] == ["pixir"]
    base = f"http://127.0.0.1:{port}"
    assert requests.get(base + "/favicon.ico", timeout=5).status_code == 404  # stray: ignored
    bad = requests.get(base + "/auth/callback?code=x&state=forged", timeout=5)
    assert bad.status_code == 400  # state mismatch refused, still waiting
    page = requests.get(authorize(url), timeout=10)  # follow the redirect to the callback
    assert page.status_code == 200 and "Signed in" in page.text
    out, err = finish(proc)
    assert proc.returncode == 0, err
    body = json.loads(out)
    assert body["ok"] is True and body["account_id"] == fake.settings.account_id
    assert assert_private_auth_file(pixir)["account_id"] == fake.settings.account_id
    assert b"state mismatch" in err
    assert_no_secret(fake, out.decode(), err.decode())


def test_ctrl_c_during_a_browser_login_exits_130_and_stores_nothing(fake, pixir):
    """The browser flow waits in select() over its listener and stdin: Ctrl-C ends it like
    the device flow (docs/auth.md: "Ctrl-C at any point")."""
    proc, _, _ = start_browser_login(pixir, free_port())
    interrupt(proc)
    assert pixir.auth_file() is None
    assert [r for r in fake.requests if r.path.endswith("/oauth/token")] == []


def test_pasted_redirect_url_with_the_port_occupied(fake, pixir):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        proc, url, lines = start_browser_login(pixir, port)
        redirect = authorize(url)  # the browser would now fail to load this page
        _, err = finish(proc, redirect.encode() + b"\n")
    assert proc.returncode == 0, err
    assert "busy" in "".join(lines) + err.decode()
    assert assert_private_auth_file(pixir)["account_id"] == fake.settings.account_id


def pasted_code_hash_state(pixir, state: str | None = None) -> tuple[object, bytes, bytes, str]:
    """A browser login with its port taken, answered by pasting `code#state` (the issuer's
    `state` unless another is given); returns (proc, stdout, stderr, the code)."""
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        proc, url, _ = start_browser_login(pixir, blocker.getsockname()[1])
        query = parse_qs(urlsplit(authorize(url)).query)
        code = query["code"][0]
        out, err = finish(proc, f"{code}#{state or query['state'][0]}\n".encode())
    return proc, out, err, code


def test_pasted_code_hash_state_works_too(fake, pixir):
    proc, out, err, code = pasted_code_hash_state(pixir)
    assert proc.returncode == 0, err
    assert assert_private_auth_file(pixir)["account_id"] == fake.settings.account_id
    # the code alone is exchanged, once, with the verifier of this login's challenge
    [exchange] = [r for r in fake.requests if r.path.endswith("/oauth/token")]
    form = parse_qs(exchange.text)
    assert form["grant_type"] == ["authorization_code"] and form["code"] == [code]
    assert form["code_verifier"][0]
    assert_no_secret(fake, out.decode(), err.decode())


def test_pasted_code_hash_with_the_wrong_state_is_refused(fake, pixir):
    proc, _, err, _ = pasted_code_hash_state(pixir, state="forged")
    assert proc.returncode == 4, err
    assert b"state mismatch" in err and b"login_failed" in err
    assert pixir.auth_file() is None
    assert fake.count("/oauth/token") == 0  # the code was never exchanged


def test_pasted_answer_with_the_wrong_state_is_refused(fake, pixir):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        proc, url, _ = start_browser_login(pixir, blocker.getsockname()[1])
        redirect = authorize(url)
        forged = redirect.replace("state=", "state=forged")
        _, err = finish(proc, forged.encode() + b"\n")
    assert proc.returncode == 4, err
    assert b"state mismatch" in err and b"login_failed" in err
    assert pixir.auth_file() is None
    assert fake.count("/oauth/token") == 0  # the code was never exchanged


def test_browser_denied_is_exit_4(fake, pixir):
    fake.configure(authorize_error="access_denied")
    port = free_port()
    proc, url, _ = start_browser_login(pixir, port)
    page = requests.get(authorize(url), timeout=10)
    assert page.status_code == 400
    _, err = finish(proc)
    assert proc.returncode == 4 and b"access_denied" in err
    assert pixir.auth_file() is None


# -- API key, status, logout ---------------------------------------------------------------


def test_api_key_login_reads_stdin(fake, pixir):
    result = pixir.run("login", "--with-api-key", stdin=fake.api_key + "\n")
    assert result.code == 0, result
    assert assert_private_auth_file(pixir) == {"kind": "api_key", "api_key": fake.api_key}
    status = pixir.run("status", "--json")
    assert pixir.json_out(status)["kind"] == "api_key"
    assert_no_secret(fake, result.stdout, result.stderr, status.stdout, status.stderr)
    assert fake.requests == []  # storing a key needs no network


def test_status_json_shows_the_account_and_no_secret(fake, pixir):
    pixir.login_subscription(ttl=3600)
    result = pixir.run("status", "--json")
    assert result.code == 0, result
    body = pixir.json_out(result)
    assert body["kind"] == "subscription" and body["account_id"] == fake.settings.account_id
    assert body["plan"] == "plus" and body["email"] == "dev@example.com"
    assert body["expires_at"].endswith("Z") and 3500 < body["expires_in_s"] <= 3600
    assert body["home"] == str(pixir.home)
    human = pixir.run("status")
    assert "valid for 59 min" in human.stdout or "valid for 60 min" in human.stdout
    assert_no_secret(fake, result.stdout, result.stderr, human.stdout, human.stderr)
    assert fake.requests == []  # status is offline


def test_status_without_a_credential_is_exit_4(pixir):
    result = pixir.run("status")
    assert result.code == 4 and "pixir login" in result.stderr


def test_logout_removes_the_file_without_any_network_call(fake, pixir):
    pixir.login_subscription()
    result = pixir.run("logout")
    assert result.code == 0, result
    assert pixir.auth_file() is None and "Signed out" in result.stderr
    assert fake.requests == [] and fake.revoked == []


def test_logout_revoke_revokes_at_the_issuer(fake, pixir):
    data = pixir.login_subscription()
    result = pixir.run("logout", "--revoke")
    assert result.code == 0, result
    assert pixir.auth_file() is None
    assert fake.revoked == [data["refresh_token"]]
    assert_no_secret(fake, result.stdout, result.stderr)


def test_corrupt_auth_file_is_exit_4_naming_the_path(pixir):
    pixir.home.mkdir(mode=0o700, parents=True, exist_ok=True)
    (pixir.home / "auth.json").write_text('{"kind": "subscription"')
    result = pixir.run("status")
    assert result.code == 4 and "corrupt_auth" in result.stderr
    assert str(pixir.home / "auth.json") in result.stderr and "Traceback" not in result.stderr
