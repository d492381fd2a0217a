"""Refresh against the fake issuer, whose refresh tokens rotate and refuse reuse (docs/auth.md;
quirk 3 in docs/provider.md): eight processes with an expiring token make exactly one refresh
and all succeed.

`dist/pixir ping` (the Provider's command) is built on another branch; until it lands these
tests drive the Credential from real subprocesses with pixir's package, exactly as a
command would: resolve, headers(), errors reported by cli.report_error.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
import requests

from tests.harness import REPO_ROOT

pytestmark = pytest.mark.e2e

CLIENT = """
import os, sys, time
from pixir.cli import report_error
from pixir.config import load_settings
from pixir.errors import PixirError

start = float(os.environ.get("START_AT", "0"))
from pixir.auth import credential  # import first, then wait: all eight start at one instant
while time.time() < start:
    time.sleep(0.001)
try:
    cred = credential.resolve(load_settings())
    print(cred.headers()["Authorization"][len("Bearer "):])
except PixirError as err:
    report_error(err, False)
    sys.exit(err.exit_code)
"""


def start_client(pixir, start_at: float = 0.0) -> subprocess.Popen:
    env = {**pixir.env, "PYTHONPATH": str(REPO_ROOT), "START_AT": str(start_at)}
    return subprocess.Popen(
        [sys.executable, "-c", CLIENT],
        env=env,
        cwd=str(pixir.workspace),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_client(pixir) -> tuple[int, str, str]:
    proc = start_client(pixir)
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out.strip(), err


def test_a_fresh_token_is_used_as_is(fake, pixir):
    data = pixir.login_subscription(ttl=3600)
    code, token, err = run_client(pixir)
    assert code == 0, err
    assert token == data["access_token"] and fake.refresh_count == 0


def test_an_expiring_token_is_refreshed_and_saved_before_use(fake, pixir):
    data = pixir.login_subscription(ttl=30)  # < 60 s left
    code, token, err = run_client(pixir)
    assert code == 0, err
    saved = pixir.auth_file()
    assert fake.refresh_count == 1 and token == saved["access_token"] != data["access_token"]
    assert saved["refresh_token"] != data["refresh_token"]
    assert (
        saved["obtained_at"] == data["obtained_at"]
        and saved["last_refresh"] >= data["last_refresh"]
    )
    assert saved["expires_at"] > (time.time() + 3000) * 1000
    assert (pixir.home / "auth.json").stat().st_mode & 0o777 == 0o600


def test_eight_processes_with_an_expiring_token_make_exactly_one_refresh(fake, pixir):
    data = pixir.login_subscription(ttl=30)
    fake.configure(refresh_delay_s=0.5)  # widen the race window: a refresh takes 0.5 s
    start_at = time.time() + 1.5  # time for eight interpreters to import pixir
    procs = [start_client(pixir, start_at) for _ in range(8)]
    results = [(p.communicate(timeout=60), p.returncode) for p in procs]
    for (_, err), code in results:
        assert code == 0, err
    tokens = {out.strip() for (out, _), _ in results}
    assert fake.refresh_count == 1 and fake.refresh_successes == 1
    assert len(tokens) == 1  # all eight use the one new token
    saved = pixir.auth_file()
    assert tokens == {saved["access_token"]} and saved["access_token"] != data["access_token"]


def test_a_reused_refresh_token_is_exit_4_with_a_clear_message(fake, pixir):
    data = pixir.login_subscription(ttl=30)
    # Another program that shares the account spends the refresh token first.
    spent = requests.post(
        fake.url + "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": data["refresh_token"],
            "client_id": "app_EMoamEEZ73f0CkXaXp7hrann",
        },
        timeout=10,
    )
    assert spent.status_code == 200
    code, out, err = run_client(pixir)
    assert code == 4, err
    assert "error: not_authenticated: your ChatGPT sign-in expired (refresh_token_reused)" in err
    assert "run `pixir login`" in err
    assert out == "" and "Traceback" not in err
    assert pixir.auth_file() == data  # left for `pixir login` to replace
    for secret in fake.secrets():
        assert secret not in err


def test_a_server_error_during_refresh_is_retryable_and_keeps_the_sign_in(fake, pixir):
    data = pixir.login_subscription(ttl=30)
    fake.configure(refresh_faults=[{"status": 500}])
    code, _, err = run_client(pixir)
    assert code == 1 and "provider_http_error" in err
    assert pixir.auth_file() == data
    code, token, err = run_client(pixir)  # the next attempt refreshes normally
    assert code == 0, err
    assert token == pixir.auth_file()["access_token"]
    assert fake.refresh_count == 2


def test_status_reads_plan_from_refreshed_tokens(fake, pixir):
    pixir.login_subscription(ttl=30, plan="pro")
    assert run_client(pixir)[0] == 0
    body = json.loads(pixir.run("status", "--json").stdout)
    assert body["plan"] == "pro"  # read from the new access token
    assert body["expires_in_s"] > 3000
