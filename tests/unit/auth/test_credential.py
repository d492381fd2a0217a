"""Resolution order, the API-key Credential, and the subscription Credential's refresh:
proactive under 60 s, under the lock, skipped when another process already refreshed, and
one recovery after a 401 (docs/auth.md)."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import responses

from pixir.auth import credential, store
from pixir.config import Settings
from pixir.errors import PixirError
from tests.unit.helpers.tokens import ISSUER, TOKEN_URL, record, token_response

SETTINGS = Settings(auth_issuer=ISSUER)
REPO = Path(__file__).resolve().parents[3]


def test_no_credential_is_not_authenticated_exit_4():
    with pytest.raises(PixirError) as info:
        credential.resolve(Settings())
    assert info.value.kind == "not_authenticated" and info.value.exit_code == 4
    assert "pixir login" in info.value.message and "OPENAI_API_KEY" in info.value.message


def test_env_key_gives_bearer_and_organization_headers(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    cred = credential.resolve(Settings(openai_organization="org-1", openai_project="p-1"))
    assert cred.kind == "api_key" and cred.source == "env"
    assert cred.headers() == {
        "Authorization": "Bearer sk-env",
        "OpenAI-Organization": "org-1",
        "OpenAI-Project": "p-1",
    }
    assert cred.recover_unauthorized() is False
    assert "sk-env" not in repr(cred)


def test_stored_key_wins_over_environment(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    store.save({"kind": "api_key", "api_key": "sk-stored"})
    cred = credential.resolve(Settings())
    assert cred.source == "stored" and cred.headers()["Authorization"] == "Bearer sk-stored"


def test_forcing_a_kind_that_is_missing_says_which(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    with pytest.raises(PixirError) as info:
        credential.resolve(Settings(), forced="subscription")
    assert info.value.kind == "not_authenticated"
    assert info.value.message == "no ChatGPT sign-in for --auth subscription"
    # an API key is there, but --auth subscription asked for a sign-in: only that helps
    assert info.value.hint == "run `pixir login` to sign in with ChatGPT"
    store.save({"kind": "api_key", "api_key": "sk-stored"})
    with pytest.raises(PixirError) as info:
        credential.resolve(Settings(), forced="subscription")
    assert "holds an API key" in info.value.message
    assert "OPENAI_API_KEY" not in info.value.message + info.value.hint


def test_no_credential_at_all_names_both_ways():
    with pytest.raises(PixirError) as info:
        credential.resolve(Settings())
    assert info.value.message == "no credential — run `pixir login` or set OPENAI_API_KEY"


def test_stored_subscription_wins_and_sends_bearer_and_account(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    rec = record(1, account_id="acct-42")
    store.save(rec)
    cred = credential.resolve(SETTINGS)
    assert cred.kind == "subscription" and cred.account_id == "acct-42"
    assert cred.headers() == {
        "Authorization": f"Bearer {rec['access_token']}",
        "chatgpt-account-id": "acct-42",
    }
    assert rec["access_token"] not in repr(cred) and "rt-secret" not in repr(cred)


def test_forcing_api_key_skips_a_stored_subscription(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    store.save(record(1))
    assert credential.resolve(SETTINGS, forced="api_key").source == "env"
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(PixirError) as info:
        credential.resolve(SETTINGS, forced="api_key")
    assert info.value.message.startswith("no API key for --auth api_key (")
    assert "holds a ChatGPT sign-in" in info.value.message
    assert info.value.hint == (
        "set OPENAI_API_KEY, or store a key with `pixir login --with-api-key`"
    )


def test_corrupt_auth_file_is_reported_not_skipped(pixir_home, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    pixir_home.mkdir()
    (pixir_home / "auth.json").write_text("{oops")
    with pytest.raises(PixirError) as info:
        credential.resolve(SETTINGS)
    assert info.value.kind == "corrupt_auth"


@responses.activate
def test_a_fresh_token_is_used_without_any_network_call():
    store.save(record(1, expires_in_s=61))
    cred = credential.resolve(SETTINGS)
    cred.headers()
    assert not responses.calls


@responses.activate
def test_under_60_seconds_left_refreshes_first_and_persists_before_use(pixir_home):
    store.save(record(1, expires_in_s=59))
    cred = credential.resolve(SETTINGS)
    answer = token_response(2)

    def reply(request):
        assert "rt-secret-1" in request.body  # the stored refresh token is the one spent
        return 200, {}, json.dumps(answer)

    responses.add_callback(responses.POST, TOKEN_URL, callback=reply)
    headers = cred.headers()
    assert headers["Authorization"] == f"Bearer {answer['access_token']}"
    saved = json.loads((pixir_home / "auth.json").read_text())
    assert saved["access_token"] == answer["access_token"]
    assert saved["refresh_token"] == "rt-secret-2"
    assert saved["expires_at"] > (time.time() + 3500) * 1000
    assert (pixir_home / "auth.json").stat().st_mode & 0o777 == 0o600
    cred.headers()
    assert len(responses.calls) == 1  # the new token is fresh: no second refresh


@responses.activate
def test_a_refresh_whose_save_fails_keeps_the_new_pair_for_this_run_and_says_what_to_do(
    pixir_home, monkeypatch, capsys
):
    """A full PIXIR_HOME during a refresh: the server has rotated the pair, so losing the
    new one signed the user out. It is used for the rest of the run (no second refresh with
    the spent token), and the user is told to make room before the next run."""
    store.save(record(1, expires_in_s=59))
    cred = credential.resolve(SETTINGS)
    answer = token_response(2)
    responses.add(responses.POST, TOKEN_URL, json=answer)

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store.os, "replace", full)
    headers = cred.headers()
    assert headers["Authorization"] == f"Bearer {answer['access_token']}"
    cred.headers()
    assert len(responses.calls) == 1, "the spent refresh token was sent again"
    err = capsys.readouterr().err
    assert "could not be saved" in err and "No space left on device" in err
    assert str(pixir_home) in err and "pixir login" in err
    assert answer["access_token"] not in err
    assert json.loads((pixir_home / "auth.json").read_text())["refresh_token"] == "rt-secret-1"
    assert err.count("could not be saved") == 1  # said once, though every call tries again


@responses.activate
def test_an_unsaved_pair_is_saved_once_there_is_room_and_used_for_the_next_refresh(
    pixir_home, monkeypatch, capsys
):
    """Space freed during the run: the next call saves this run's pair, so the next run is
    still signed in; a second refresh in the same run uses the unsaved pair's refresh token,
    never the spent one auth.json still holds."""
    now = [time.time()]
    store.save(record(1, expires_in_s=59))
    cred = credential.resolve(SETTINGS)
    cred.clock = lambda: now[0]
    responses.add(responses.POST, TOKEN_URL, json=token_response(2))
    responses.add(responses.POST, TOKEN_URL, json=token_response(3))
    replace = store.os.replace

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store.os, "replace", full)
    cred.headers()
    now[0] += 3600  # expired again while the home is still full: refresh with rt-2
    cred.headers()
    sent = [call.request.body for call in responses.calls]
    assert "rt-secret-1" in sent[0] and "rt-secret-2" in sent[1], sent
    assert json.loads((pixir_home / "auth.json").read_text())["refresh_token"] == "rt-secret-1"
    monkeypatch.setattr(store.os, "replace", replace)  # room again
    cred.headers()
    assert json.loads((pixir_home / "auth.json").read_text())["refresh_token"] == "rt-secret-3"
    assert "is saved now" in capsys.readouterr().err
    assert len(responses.calls) == 2


@responses.activate
def test_an_unsaved_pair_never_overwrites_a_new_login(pixir_home, monkeypatch):
    store.save(record(1, expires_in_s=59))
    cred = credential.resolve(SETTINGS)
    responses.add(responses.POST, TOKEN_URL, json=token_response(2))
    replace = store.os.replace
    monkeypatch.setattr(
        store.os, "replace", lambda *a, **k: (_ for _ in ()).throw(OSError(28, "full"))
    )
    cred.headers()
    monkeypatch.setattr(store.os, "replace", replace)
    store.save(record(7, expires_in_s=3600))  # the user signed in again meanwhile
    cred.save_unsaved()
    assert json.loads((pixir_home / "auth.json").read_text())["refresh_token"] == "rt-secret-7"


@responses.activate
def test_an_expired_token_in_the_middle_of_a_session_is_refreshed_before_the_call():
    now = [time.time()]
    store.save(record(1, expires_in_s=300))
    cred = credential.resolve(SETTINGS)
    cred.clock = lambda: now[0]
    responses.post(TOKEN_URL, json=token_response(2))
    first = cred.headers()
    assert not responses.calls
    now[0] += 250  # 50 s left
    second = cred.headers()
    assert len(responses.calls) == 1 and second != first


@responses.activate
def test_another_process_refreshed_while_we_waited_so_no_network_call(pixir_home):
    store.save(record(1, expires_in_s=10))
    cred = credential.resolve(SETTINGS)
    store.save(record(2, expires_in_s=3600))  # the other process's result
    assert cred.headers()["Authorization"].endswith(store.load()["access_token"])
    assert not responses.calls


@responses.activate
def test_a_spent_refresh_token_is_exit_4_with_a_clear_message(pixir_home):
    store.save(record(1, expires_in_s=0))
    cred = credential.resolve(SETTINGS)
    responses.post(
        TOKEN_URL,
        status=401,
        json={"error": {"code": "refresh_token_reused", "message": "already used"}},
    )
    with pytest.raises(PixirError) as info:
        cred.headers()
    assert info.value.kind == "not_authenticated" and info.value.exit_code == 4
    assert "sign-in expired" in info.value.message and "pixir login" in info.value.message
    assert store.load()["refresh_token"] == "rt-secret-1"  # nothing half-replaced


@responses.activate
def test_a_server_error_during_refresh_is_retryable_and_keeps_the_file(pixir_home):
    store.save(record(1, expires_in_s=0))
    cred = credential.resolve(SETTINGS)
    responses.post(TOKEN_URL, status=503, json={"error": {"message": "busy"}})
    with pytest.raises(PixirError) as info:
        cred.headers()
    assert info.value.retryable and info.value.kind == "provider_http_error"
    assert store.load()["refresh_token"] == "rt-secret-1"


@responses.activate
def test_recover_after_401_adopts_tokens_another_process_saved():
    store.save(record(1))
    cred = credential.resolve(SETTINGS)
    cred.headers()
    store.save(record(2))
    assert cred.recover_unauthorized() is True
    assert cred.headers()["Authorization"].endswith(record(2)["access_token"])
    assert not responses.calls  # re-read the file first: no refresh needed


@responses.activate
def test_recover_after_401_refreshes_once_when_the_file_is_unchanged(pixir_home):
    store.save(record(1))  # still "valid" by the clock, but the server said 401
    cred = credential.resolve(SETTINGS)
    answer = token_response(2)
    responses.post(TOKEN_URL, json=answer)
    assert cred.recover_unauthorized() is True
    assert len(responses.calls) == 1
    assert cred.headers()["Authorization"] == f"Bearer {answer['access_token']}"
    assert store.load()["refresh_token"] == "rt-secret-2"
    assert len(responses.calls) == 1


@responses.activate
def test_recover_after_401_with_a_dead_sign_in_is_exit_4():
    store.save(record(1))
    cred = credential.resolve(SETTINGS)
    responses.post(TOKEN_URL, status=401, json={"error": {"code": "refresh_token_expired"}})
    with pytest.raises(PixirError) as info:
        cred.recover_unauthorized()
    assert info.value.exit_code == 4 and "pixir login" in info.value.message


def test_signing_out_while_running_is_not_authenticated():
    store.save(record(1, expires_in_s=0))
    cred = credential.resolve(SETTINGS)
    store.delete()
    with pytest.raises(PixirError) as info:
        cred.headers()
    assert info.value.kind == "not_authenticated"


def test_missing_expires_at_uses_the_token_exp_claim():
    rec = record(1)
    del rec["expires_at"]
    assert abs(credential.expires_at(rec) - (time.time() + 3600)) < 5


def test_an_unsaved_pair_gets_a_last_try_as_the_process_exits(pixir_home):
    """Room made after the run's last call: the exit still saves the pair (a process of its
    own, so its exit is real)."""
    script = f"""
import sys
sys.path.insert(0, {str(REPO)!r})
from pixir.auth import credential, oauth, store
from pixir.config import Settings
from tests.unit.helpers.tokens import ISSUER, record, token_response

store.save(record(1, expires_in_s=59))
cred = credential.resolve(Settings(auth_issuer=ISSUER))
oauth.refresh = lambda issuer, token: token_response(2)
replace = store.os.replace

def full(*args, **kwargs):
    raise OSError(28, "No space left on device")

store.os.replace = full
cred.headers()
store.os.replace = replace  # room again, and no call after this one: only the exit saves
"""
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "PIXIR_HOME": str(pixir_home)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "could not be saved" in done.stderr and "is saved now" in done.stderr
    assert json.loads((pixir_home / "auth.json").read_text())["refresh_token"] == "rt-secret-2"
