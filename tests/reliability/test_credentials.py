"""Credential safety: racing refreshes, a refresh killed half way, a credential
file others can read, and not one secret byte in anything pixir writes or prints.

Existing tests this builds on: tests/e2e/test_auth_refresh.py and test_auth_ping.py (eight
credential resolutions / pings racing), tests/unit/auth/test_store.py (SIGKILL during a
save). Here the racers are whole tool-using Turns of dist/pixir, and the kill lands in the
middle of the refresh exchange itself.
"""

from __future__ import annotations

import json
import os
import random
import signal
import stat
import subprocess
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.fake_backend import reasoning, step, text, tool_call, usage_limit
from tests.harness import free_port
from tests.reliability.conftest import SecretScanner, check_log, record, tool_calls

pytestmark = pytest.mark.e2e

CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann"


def tool_turn(prompt: str, tag: str) -> list[dict]:
    """A short Turn with a write and a bash call, every step matched to `prompt`."""
    return [
        step(
            reasoning(f"{tag}: writing"),
            tool_call("write", {"path": f"{tag}.txt", "content": f"{tag}\n"}),
            match={"last_user": prompt},
        ),
        step(
            tool_call("bash", {"command": f"cat {tag}.txt"}),
            match={"last_user": prompt, "last_tool_output": "Wrote"},
        ),
        step(text(f"{tag} done"), match={"last_user": prompt, "last_tool_output": "Exit code"}),
    ]


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- eight Turns racing to refresh one expiring sign-in ------------------------------------------


@pytest.mark.timeout(120)
def test_eight_turns_racing_on_an_expiring_token_refresh_once_and_all_finish(pixir, fake):
    fake.configure(refresh_delay_s=0.3)  # a wide window for the race
    old = pixir.login_subscription(ttl=30)  # < 60 s left: every process wants a refresh
    for n in range(8):
        fake.script(*tool_turn(f"task {n}", f"racer{n}"))
    procs = []
    for n in range(8):
        folder = pixir.root / f"ws{n}"
        folder.mkdir()
        procs.append(pixir.popen(f"task {n}", "--json", cwd=folder, stdin=subprocess.DEVNULL))
    outcomes = [proc.communicate(timeout=90) for proc in procs]
    for n, (proc, (out, err)) in enumerate(zip(procs, outcomes, strict=True)):
        assert proc.returncode == 0, err.decode()
        assert json.loads(out)["output"] == f"racer{n} done"
        logs = sorted((pixir.root / f"ws{n}" / ".pixir" / "sessions").glob("*.jsonl"))
        assert tool_calls(check_log(logs[-1])) == [("write", True), ("bash", True)]
    assert fake.refresh_count == 1 and fake.refresh_successes == 1
    new = pixir.auth_file()
    assert new["refresh_token"] != old["refresh_token"]
    assert mode_of(pixir.home / "auth.json") == 0o600
    used = {c.headers["authorization"] for c in fake.responses_requests()}
    assert used == {f"Bearer {new['access_token']}"}
    record("refresh_racers", 8)


# -- SIGKILL in the middle of a refresh ------------------------------------------------------------


@pytest.mark.timeout(200)
def test_sigkill_during_a_refresh_leaves_the_old_or_the_new_file_and_a_clear_next_step(pixir, fake):
    """Killed while refreshing, pixir leaves auth.json exactly as it was or exactly as the
    refresh made it (complete JSON, mode 0600), and at most a private temp file that the
    next run removes (it holds tokens). What the next run does then depends on the
    server, and must be the right thing each time:
    - the old file, and the server never rotated → the next run refreshes and works;
    - the new file → the next run works with it;
    - the old file, but the server had rotated (the answer died with the process): the
      refresh token in the file is spent, nothing can recover it, so the next run must
      say so — exit 4, "run `pixir login`" — and not retry, loop or overwrite the file.
    Seeded kill moments spread over the exchange, with the fake delaying its answer after
    rotating (the window where the new pair exists only in flight)."""
    rng = random.Random(4242)
    outcomes: dict[str, int] = {}
    for point in range(8):
        fake.configure(refresh_delay_s=0.4)
        before = pixir.login_subscription(ttl=30)
        spent_before = fake.refresh_successes
        proc = pixir.popen("ping", stdin=subprocess.DEVNULL)
        if point % 2 == 0:  # after the refresh request arrived, somewhere in the answer's wait
            asked = fake.refresh_count
            assert fake.wait_for(lambda n=asked: fake.refresh_count > n, 30)
            time.sleep(rng.uniform(0.0, 0.5))
        else:  # any moment from the start
            time.sleep(rng.uniform(0.0, 1.2))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)

        path = pixir.home / "auth.json"
        after = json.loads(path.read_text())  # complete JSON, or this raises
        assert mode_of(path) == 0o600
        # Killed between creating its temp file and the rename, a save leaves that file:
        # private, and gone after the next run (asserted below).
        adoptable = False
        for leftover in pixir.home.glob(".auth.json.*"):
            assert mode_of(leftover) == 0o600
            try:  # complete: killed after its fsync, before the rename — it is adopted
                adoptable = adoptable or "refresh_token" in json.loads(leftover.read_text())
            except ValueError:
                pass
        rotated = fake.refresh_successes > spent_before
        fake.configure(refresh_delay_s=0)
        spent = after == before and rotated and not adoptable
        if not spent:
            fake.script(step(text("pong")))
        calls = len(fake.responses_requests())
        nxt = pixir.run("ping")
        if spent:
            outcome = "old file, spent refresh token: exit 4"
            assert nxt.code == 4, nxt
            assert "sign-in expired" in nxt.stderr and "pixir login" in nxt.stderr, nxt
            assert "Traceback" not in nxt.stderr
            assert pixir.auth_file() == before  # left as it was for the user to see
            assert len(fake.responses_requests()) == calls  # nothing sent to the model
        elif adoptable:
            outcome = "complete temp file: next run adopts it"
            assert nxt.code == 0, nxt
            assert pixir.auth_file()["refresh_token"] != before["refresh_token"]
        elif after == before:
            outcome = "old file, token unspent: next run refreshes"
            assert nxt.code == 0, nxt
        else:
            assert after["refresh_token"] != before["refresh_token"]
            assert set(after) >= {"access_token", "refresh_token", "account_id", "expires_at"}
            outcome = "new file: next run uses it"
            assert nxt.code == 0, nxt
        assert not list(pixir.home.glob(".auth.json.*")), "a temp file outlived the next run"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        assert fake.steps_left == 0
        record("refresh_kills")
        record(f"refresh_kill: {outcome}")
    assert "old file, spent refresh token: exit 4" in outcomes, outcomes


# The temp files a save leaves (fsutil.atomic_write's names), and those saves of earlier
# versions left (`.auth.json.PID.tmp`): both hold tokens.
LEFTOVER_NAMES = [
    (".auth.json.k1ll3d.pixir-tmp", ".auth.json.cutsh0.pixir-tmp"),
    (".auth.json.4194301.tmp", ".auth.json.4194302.tmp"),
]


@pytest.mark.parametrize(("complete_name", "cut_name"), LEFTOVER_NAMES)
def test_a_complete_temp_file_a_killed_refresh_left_is_adopted_not_deleted(
    pixir, fake, complete_name, cut_name
):
    """The SIGKILL window above is a few milliseconds wide; here its leftover is made as a
    kill after the fsync leaves it: the server has rotated the pair (the refresh token in
    auth.json is spent) and the new pair is only in the temp file. The next run must adopt
    it — deleting it signed the user out (`refresh_token_reused`, exit 4) — and a temp file
    cut short is removed."""
    import requests

    before = pixir.login_subscription(ttl=30)  # about to expire: a run would refresh it
    rotated = requests.post(
        f"{fake.issuer_url}/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": before["refresh_token"],
            "client_id": "app_EMoamEEZ73f0CkXaXp7hrann",
        },
        timeout=10,
    ).json()
    newest = {
        **before,
        "access_token": rotated["access_token"],
        "refresh_token": rotated["refresh_token"],
        "expires_at": int((time.time() + 3600) * 1000),
    }
    leftover = pixir.home / complete_name
    leftover.write_text(json.dumps(newest))
    os.chmod(leftover, 0o600)
    cut = pixir.home / cut_name
    cut.write_text('{"kind": "subscription", "access_tok')
    os.chmod(cut, 0o600)
    refreshes = fake.refresh_count
    fake.script(step(text("pong")))
    result = pixir.run("ping")
    assert result.code == 0, result
    assert not leftover.exists() and not cut.exists()
    assert pixir.auth_file()["refresh_token"] == rotated["refresh_token"]
    assert mode_of(pixir.home / "auth.json") == 0o600
    assert fake.refresh_count == refreshes, "the spent refresh token was sent"
    record("signin_attacks")


@pytest.mark.parametrize("code", ["refresh_token_expired", "refresh_token_reused"])
def test_a_refused_refresh_is_final_one_request_exit_4_file_untouched(pixir, fake, code):
    before = pixir.login_subscription(ttl=30)
    fake.configure(refresh_faults=[{"code": code, "status": 401}])
    fake.script(step(text("never")))
    result = pixir.run("hello", "--transport", "http_sse")
    assert result.code == 4, result
    assert f"your ChatGPT sign-in expired ({code})" in result.stderr
    assert fake.refresh_count == 1, "the refused refresh token was sent again"
    assert fake.responses_requests() == []
    assert pixir.auth_file() == before
    check_log(pixir.sessions()[-1])


# -- a credential file others can read ---------------------------------------------------------


def test_a_group_or_world_readable_auth_file_is_warned_about(pixir, fake):
    pixir.login_subscription()
    path = pixir.home / "auth.json"
    fake.script(step(text("fine")), step(text("fine")))
    quiet = pixir.run("status")
    assert quiet.code == 0 and "warning" not in quiet.stderr, quiet
    for mode in (0o640, 0o604):
        os.chmod(path, mode)
        status = pixir.run("status")
        assert status.code == 0, status
        assert f"warning: {path}" in status.stderr and "chmod 600" in status.stderr, status
        turn = pixir.run("say fine", "--json")
        assert turn.code == 0 and pixir.json_out(turn)["output"] == "fine"
        assert turn.stderr.count("chmod 600") == 1, turn  # once, on stderr; stdout stays JSON
    doctor = pixir.run("doctor")
    assert "readable by others" in doctor.stdout + doctor.stderr


# -- not one secret anywhere ---------------------------------------------------------------------


BROWSER_PORT_ENV = "PIXIR_LOGIN_PORT"


def browser_login(pixir, *flags: str) -> tuple[bytes, bytes, int]:
    port = free_port()
    proc = pixir.popen("login", "--browser", *flags, env={BROWSER_PORT_ENV: str(port)}, bufsize=0)
    lines = []
    while True:
        raw = proc.stderr.readline()
        assert raw, "login ended before printing the URL: " + "".join(lines)
        lines.append(raw.decode())
        if "/oauth/authorize?" in lines[-1]:
            url = lines[-1].strip()
            break
    reply = requests.get(url, allow_redirects=False, timeout=10)
    assert reply.status_code == 302
    page = requests.get(reply.headers["Location"], timeout=10)
    assert page.status_code == 200
    assert parse_qs(urlsplit(reply.headers["Location"]).query)["code"]
    out, err = proc.communicate(timeout=30)
    return out, "".join(lines).encode() + err, proc.returncode


class Transcript:
    """Every byte pixir printed, in order, for the scan at the end."""

    def __init__(self):
        self.outputs: list[tuple[str, bytes]] = []

    def add(self, label: str, *streams: bytes) -> None:
        for n, data in enumerate(streams):
            self.outputs.append((f"{label} [{('stdout', 'stderr')[n]}]", data))

    def run(self, pixir, label: str, *args, code: int | None = 0, **kw):
        result = pixir.run(*args, **kw)
        self.add(label, result.stdout_bytes, result.stderr_bytes)
        if code is not None:
            assert result.code == code, f"{label}: {result}"
        return result


@pytest.mark.timeout(240)
def test_no_secret_reaches_any_output_log_report_or_request_body(pixir, fake):
    """A realistic sequence — device login, status, doctor, Turns with tools over both
    transports in every output mode with PIXIR_DEBUG, refreshes, a 401 recovery, a browser
    login, errors, a crash, an API key — then every byte of stdout and stderr, every file
    pixir left (Logs, crash reports, config; auth.json itself excepted) and every request
    body sent to the model is scanned for every secret the fake issued or saw, and for any
    20-character piece of one (a JWT's payload or signature alone)."""
    t = Transcript()
    debug = {"PIXIR_DEBUG": "1"}
    fake.configure(device_interval="0.05", pending_polls=2, token_ttl=30)

    # sign in with a device code (tokens that expire in 30 s: every run refreshes)
    t.run(pixir, "device login", "login", env=debug)
    t.run(pixir, "device login --json", "login", "--json")
    for args in (("status",), ("status", "--json"), ("doctor",), ("doctor", "--json")):
        t.run(pixir, " ".join(args), *args, code=None, env=debug)

    # Turns with tools. The model also tries to make pixir show the credentials: bash
    # `cat` of auth.json and `env` (their output lands in the Log and goes to the model).
    secret_probe = f"cat {pixir.home}/auth.json; env | sort"
    for n, (transport, mode) in enumerate(
        [("http_sse", ()), ("websocket", ("--json",)), ("http_sse", ("--jsonl",))]
    ):
        prompt = f"turn {n}"
        fake.script(
            step(
                reasoning("looking around"),
                tool_call("bash", {"command": secret_probe}),
                match={"last_user": prompt},
            ),
            step(
                tool_call("read", {"path": str(pixir.home / "auth.json")}),
                match={"last_user": prompt, "last_tool_output": "Exit code"},
            ),
            *tool_turn(prompt, f"t{n}")[:1],
            *tool_turn(prompt, f"t{n}")[1:],
        )
        t.run(pixir, f"turn {n}", prompt, "--transport", transport, *mode, env=debug)

    # a 401 in the middle of a Turn: re-read, refresh, retry
    access = pixir.auth_file()["access_token"]
    fake.auth.access[access].revoked = True
    fake.configure(token_ttl=3600)
    fake.script(step(text("pong")))
    t.run(pixir, "refresh to a long-lived token", "ping", "--json")
    fake.auth.access[pixir.auth_file()["access_token"]].revoked = True
    fake.script(step(text("after 401")))
    t.run(pixir, "401 recovery", "say it", "--transport", "http_sse", "--jsonl", env=debug)
    sid = pixir.session_id()

    # errors: the usage limit (exit 7), a refused refresh (exit 4)
    fake.script(step(text("never"), fault=usage_limit("plus", 900)))
    t.run(pixir, "usage limit", "resume", sid, "again", "--json", code=7, env=debug)
    fake.configure(token_ttl=30)
    out, err, code = browser_login(pixir)
    t.add("browser login", out, err)
    assert code == 0, err
    refused = {"code": "refresh_token_expired", "status": 401}
    fake.configure(refresh_faults=[refused, refused])
    t.run(pixir, "refused refresh", "ping", code=4, env=debug)
    t.run(pixir, "refused refresh --json", "ping", "--json", code=4)

    # an unexpected crash in the middle of a Turn: the crash report, and the Log after it
    out, err, code = browser_login(pixir, "--json")
    t.add("browser login --json", out, err)
    assert code == 0, err
    fake.configure(refresh_faults=[])
    fake.script(*tool_turn("crash", "crash"))
    crash_env = {**debug, "PIXIR_TEST_CRASH": "pixir.turn:Turn._record_usage"}
    crashed = t.run(pixir, "crash", "crash", code=1, env=crash_env)
    assert "crash report:" in crashed.stderr
    check_log(pixir.sessions()[-1])

    # the other commands that show a session or a request
    t.run(pixir, "preview", "preview", "what next", env=debug)
    t.run(pixir, "preview --session", "preview", "--session", sid, "--json")
    t.run(pixir, "log", "log", sid)
    t.run(pixir, "log --json", "log", sid, "--json")
    t.run(pixir, "sessions", "sessions", "--json")

    # an API key from stdin, and one from the environment (bash must not see it)
    t.run(pixir, "api key login", "login", "--with-api-key", stdin=fake.api_key + "\n")
    fake.script(*tool_turn("with a key", "key"))
    fake.script(step(tool_call("bash", {"command": "env"}), match={"last_user": "env probe"}))
    fake.script(step(text("ok"), match={"last_user": "env probe", "last_tool_output": "Exit"}))
    t.run(pixir, "api key turn", "with a key", "--auth", "api_key", "--jsonl", env=debug)
    (pixir.home / "auth.json").unlink()
    env_key = {**debug, "OPENAI_API_KEY": fake.api_key}
    t.run(pixir, "env key turn", "env probe", "--json", env=env_key)
    t.run(pixir, "status with env key", "status", "--json", env=env_key)
    t.run(pixir, "doctor with env key", "doctor", "--json", code=None, env=env_key)

    # the scan
    scanner = SecretScanner(fake.secrets())
    leaks = []
    for label, data in t.outputs:
        leaks += scanner.leaks(label, data)
    files = [p for p in pixir.root.rglob("*") if p.is_file() and _scanned(pixir, p)]
    assert any("crash" in p.name for p in files), "no crash report to scan"
    assert len(pixir.sessions()) >= 6
    logs = b"".join(path.read_bytes() for path in pixir.sessions())
    assert b"[redacted: pixir credential]" in logs  # the probes ran, and met a credential
    for path in files:
        leaks += scanner.leaks(str(path.relative_to(pixir.root)), path.read_bytes())
    for rec in fake.responses_requests():  # what the model was sent (headers aside)
        leaks += scanner.leaks(f"request body {rec.path}", rec.body)
    assert not leaks, "\n".join(leaks)
    assert len(scanner.secrets) >= 20
    record("secret_values_scanned", len(scanner.secrets))
    record("secret_scan_sources", scanner.sources)
    record("secret_scan_bytes", scanner.bytes_scanned)


def _scanned(pixir, path: Path) -> bool:
    """Everything pixir left under the test's root, except the credential file itself and
    this suite's own bookkeeping."""
    if path.name == "netguard.log":
        return False
    return not (path.parent == pixir.home and path.name in ("auth.json", "auth.json.lock"))
