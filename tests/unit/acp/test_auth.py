"""pixir/acp/auth.py in-process: the sign-in methods `initialize` offers, `authenticate`,
`logout`, the auth state of `_meta.pixir`, and the -32000 answer (docs/acp.md,
"Authentication") — against a real auth.json in the test's own PIXIR_HOME."""

from __future__ import annotations

import json
import os
import sys

import pytest

from pixir import paths
from pixir.acp import auth
from pixir.acp.rpc import AUTH_REQUIRED, INVALID_PARAMS, RpcError
from pixir.auth import store
from pixir.auth.credential import resolve
from pixir.config import Settings
from tests.unit.helpers.tokens import access_token, record

KEY = "sk-unit-secret-key-0123456789"


def store_subscription(plan: str = "pro") -> dict:
    """What `pixir login` leaves: a ChatGPT sign-in in auth.json."""
    data = {**record(7), "access_token": access_token(account_id="acct-1", plan=plan, pad="x")}
    store.save(data)
    return data


def error_text(err: RpcError) -> str:
    return err.message + json.dumps(err.to_dict())


# -- what initialize offers --------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"clientCapabilities": {"auth": {"terminal": True}}},
        {"clientCapabilities": {"_meta": {"terminal-auth": True}}},
        {"clientCapabilities": {}, "_meta": {"terminal-auth": {"v": 1}}},
    ],
)
def test_a_client_declares_terminal_sign_in_in_the_schema_or_the_older_meta(params):
    assert auth.terminal_declared(params) is True


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"clientCapabilities": None},
        {"clientCapabilities": {"auth": {"terminal": "yes"}}},  # only a real true counts
        {"clientCapabilities": {"auth": True}},
        {"clientCapabilities": {"_meta": {"terminal-auth": False}}},
        {"clientCapabilities": {"terminal": True}},
    ],
)
def test_anything_else_is_no_terminal(params):
    assert auth.terminal_declared(params) is False


def test_the_api_key_method_is_always_offered_and_the_terminal_one_only_when_declared():
    assert [m["id"] for m in auth.methods(False)] == [auth.API_KEY_METHOD]
    offered = auth.methods(True)
    assert [m["id"] for m in offered] == [auth.TERMINAL_METHOD, auth.API_KEY_METHOD]
    terminal = offered[0]
    assert terminal["type"] == "terminal" and terminal["args"] == ["login"]
    legacy = terminal["_meta"]["terminal-auth"]
    assert legacy["args"] == ["login"] and legacy["command"] == auth.executable()
    assert "type" not in offered[1]  # the API key method is the schema's default kind


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["pixir", "acp"], "pixir"),  # found on PATH: run it the same way
        ([], "pixir"),
        ([""], "pixir"),
    ],
)
def test_the_login_command_is_how_this_pixir_was_started(monkeypatch, argv, expected):
    monkeypatch.setattr(sys, "argv", argv)
    assert auth.executable() == expected


def test_a_relative_start_path_becomes_absolute_for_the_editor(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bin").mkdir()
    monkeypatch.setattr(sys, "argv", ["bin/pixir", "acp"])
    assert auth.executable() == os.path.realpath(tmp_path / "bin" / "pixir")


# -- the auth state in _meta.pixir --------------------------------------------------------------


def test_state_without_a_credential_says_only_not_authenticated():
    assert auth.state(Settings(), None) == {"authenticated": False}


def test_state_with_the_environments_key_names_the_kind_and_never_the_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    state = auth.state(Settings(), None)
    assert state == {"authenticated": True, "kind": "api_key"}


def test_state_of_a_subscription_has_account_plan_and_expiry_and_no_token():
    data = store_subscription(plan="pro")
    state = auth.state(Settings(), None)
    assert state["authenticated"] is True and state["kind"] == "subscription"
    assert state["account_id"] == data["account_id"] and state["plan"] == "pro"
    assert state["expires_at"].endswith("Z")
    shown = json.dumps(state)
    for secret in (data["access_token"], data["refresh_token"]):
        assert secret not in shown


def test_state_of_a_broken_auth_file_carries_the_error_kind():
    paths.home().mkdir(parents=True, exist_ok=True)
    paths.auth_file().write_text("{not json")
    paths.auth_file().chmod(0o600)
    state = auth.state(Settings(), None)
    assert state["authenticated"] is False
    assert state["error"]["kind"] == "corrupt_auth"
    assert str(paths.auth_file()) in state["error"]["message"]


def test_state_honours_the_forced_kind():
    store_subscription()
    assert auth.state(Settings(), "api_key") == {"authenticated": False}


# -- authenticate -------------------------------------------------------------------------------


def test_the_api_key_method_without_the_key_is_authentication_required():
    with pytest.raises(RpcError) as caught:
        auth.authenticate(auth.API_KEY_METHOD, Settings())
    assert caught.value.code == AUTH_REQUIRED == -32000
    assert "OPENAI_API_KEY" in caught.value.message
    assert "OPENAI_API_KEY" in caught.value.data["hint"]


def test_the_api_key_method_wants_the_environments_key_not_a_stored_one(monkeypatch):
    store.save({"kind": "api_key", "api_key": KEY})
    monkeypatch.setenv("OPENAI_API_KEY", "   ")  # blank is not a key
    with pytest.raises(RpcError) as caught:
        auth.authenticate(auth.API_KEY_METHOD, Settings())
    assert caught.value.code == AUTH_REQUIRED
    assert KEY not in error_text(caught.value)


def test_the_api_key_method_with_the_key_forces_api_key_credentials(monkeypatch):
    store_subscription()
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    forced = auth.authenticate(auth.API_KEY_METHOD, Settings())
    assert forced == "api_key"
    # what the server does with it: sessions use the key, not the stored sign-in
    assert resolve(Settings(), forced).kind == "api_key"
    assert resolve(Settings(), None).kind == "subscription"


def test_the_terminal_method_fails_until_pixir_login_left_a_credential():
    with pytest.raises(RpcError) as caught:
        auth.authenticate(auth.TERMINAL_METHOD, Settings())
    assert caught.value.code == AUTH_REQUIRED
    assert caught.value.message == "Authentication required"
    assert caught.value.data["kind"] == "not_authenticated"
    assert "pixir login" in caught.value.data["hint"]
    store_subscription()  # what `pixir login` in the editor's terminal leaves
    assert auth.authenticate(auth.TERMINAL_METHOD, Settings()) is None  # forces nothing


@pytest.mark.parametrize("method_id", ["magic", None, 3, "PIXIR-LOGIN"])
def test_an_unknown_method_is_invalid_params_naming_the_known_ones(method_id):
    with pytest.raises(RpcError) as caught:
        auth.authenticate(method_id, Settings())
    assert caught.value.code == INVALID_PARAMS
    assert caught.value.data == {
        "methodId": method_id,
        "known": [auth.TERMINAL_METHOD, auth.API_KEY_METHOD],
    }


# -- require_credential -------------------------------------------------------------------------


def test_require_credential_gives_the_credential_a_session_would_use(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    credential = auth.require_credential(Settings(), None)
    assert credential.kind == "api_key" and credential.source == "env"


def test_a_forced_kind_that_is_missing_says_what_would_help(monkeypatch):
    store_subscription()
    with pytest.raises(RpcError) as caught:
        auth.require_credential(Settings(), "api_key")
    data = caught.value.data
    assert caught.value.code == AUTH_REQUIRED
    assert "OPENAI_API_KEY" in data["hint"]  # the forced kind's own next step
    assert "no API key" in data["reason"]


def test_a_corrupt_auth_file_is_authentication_required_without_its_content():
    paths.home().mkdir(parents=True, exist_ok=True)
    paths.auth_file().write_text(json.dumps({"kind": "subscription", "access_token": KEY}))
    paths.auth_file().chmod(0o600)
    with pytest.raises(RpcError) as caught:
        auth.require_credential(Settings(), None)
    assert caught.value.code == AUTH_REQUIRED
    assert caught.value.data["kind"] == "corrupt_auth"
    assert str(paths.auth_file()) in caught.value.data["reason"]
    assert KEY not in error_text(caught.value)


# -- logout -------------------------------------------------------------------------------------


def test_logout_removes_auth_json_and_the_environments_key_stays_usable(monkeypatch):
    store_subscription()
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    assert auth.logout() is True
    assert not paths.auth_file().exists()
    assert auth.require_credential(Settings(), None).kind == "api_key"


def test_logout_with_nothing_stored_is_false_and_creates_nothing():
    assert auth.logout() is False
    assert not paths.auth_file().exists()
    assert not paths.home().exists()
