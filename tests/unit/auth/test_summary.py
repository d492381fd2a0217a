"""`describe` says which credential pixir would use — kind, source, account, plan, email,
expiry — and never carries a token or key, not even a piece of one; `relative` gives a short
human duration (docs/auth.md)."""

import json

import pytest

from pixir import paths
from pixir.auth import store
from pixir.auth.summary import describe, relative
from pixir.config import Settings
from pixir.errors import PixirError
from tests.unit.helpers.tokens import ISSUER, access_token, make_jwt, record

SETTINGS = Settings(auth_issuer=ISSUER)
NOW = 1_800_000_000.0


def secrets_in(facts: dict, values: list[str]) -> list[str]:
    """The values — or a JWT's payload or signature alone — that show anywhere in `facts`."""
    text = json.dumps(facts)
    pieces = set(values)
    for value in values:
        pieces.update(part for part in value.split(".")[1:] if len(part) >= 8)
    return sorted(piece for piece in pieces if piece in text)


def test_an_environment_key_names_the_variable_and_never_the_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-very-secret-value")
    facts = describe(Settings(openai_organization="org-1", openai_project="proj-1"), now=NOW)
    assert facts == {
        "kind": "api_key",
        "source": "env",
        "home": str(paths.home()),
        "variable": "OPENAI_API_KEY",
        "organization": "org-1",
        "project": "proj-1",
    }
    assert secrets_in(facts, ["sk-env-very-secret-value"]) == []


def test_a_stored_key_names_the_file_and_never_the_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-other-secret")
    store.save({"kind": "api_key", "api_key": "sk-stored-very-secret"})
    facts = describe(SETTINGS, now=NOW)
    assert (facts["kind"], facts["source"]) == ("api_key", "stored")
    assert facts["path"] == str(paths.auth_file()) and "variable" not in facts
    assert secrets_in(facts, ["sk-stored-very-secret", "sk-env-other-secret"]) == []


def test_a_subscription_gives_account_plan_email_and_expiry_without_a_token():
    saved = record(n=7, account_id="acct-42")
    saved["access_token"] = access_token(
        account_id="acct-42", plan="pro", email="me@example.com", pad="secret-pad-7"
    )
    saved["id_token"] = make_jwt({"email": "id@example.com", "nonce": "secret-nonce-7"})
    saved["expires_at"] = int((NOW + 5400) * 1000)
    store.save(saved)
    facts = describe(SETTINGS, now=NOW)
    assert facts == {
        "kind": "subscription",
        "source": "stored",
        "home": str(paths.home()),
        "path": str(paths.auth_file()),
        "account_id": "acct-42",
        "plan": "pro",
        "email": "me@example.com",
        "expires_at": "2027-01-15T09:30:00Z",
        "expires_in_s": 5400,
        "expired": False,
        "last_refresh": "2026-01-01T00:00:00Z",
    }
    tokens = [saved["access_token"], saved["refresh_token"], saved["id_token"]]
    assert secrets_in(facts, tokens) == []


def test_an_expired_subscription_says_so_and_still_shows_no_token():
    saved = record(n=8)
    saved["expires_at"] = int((NOW - 60) * 1000)
    store.save(saved)
    facts = describe(SETTINGS, now=NOW)
    assert facts["expired"] is True and facts["expires_in_s"] == -60
    tokens = [saved["access_token"], saved["refresh_token"]]
    assert secrets_in(facts, tokens) == []


def test_forcing_a_kind_that_is_missing_raises_like_resolve():
    store.save({"kind": "api_key", "api_key": "sk-stored-very-secret"})
    with pytest.raises(PixirError) as info:
        describe(SETTINGS, forced="subscription", now=NOW)
    assert info.value.kind == "not_authenticated"
    assert "sk-stored-very-secret" not in str(info.value.message) + str(info.value.details)


def test_no_credential_is_not_authenticated():
    with pytest.raises(PixirError) as info:
        describe(SETTINGS, now=NOW)
    assert info.value.kind == "not_authenticated"


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (0, "0 s"),
        (45.9, "45 s"),
        (119, "119 s"),
        (120, "2 min"),
        (7199, "119 min"),
        (7200, "2 h"),
        (172_799, "47 h"),
        (172_800, "2 days"),
        (-90_000 * 3, "3 days"),  # a time past reads the same
    ],
)
def test_relative_is_a_short_human_duration(seconds, said):
    assert relative(seconds) == said
