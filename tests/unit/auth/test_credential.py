import json

import pytest

from pixir.auth import credential, store
from pixir.config import Settings
from pixir.errors import PixirError


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
    assert "of kind subscription" in info.value.message


def test_store_save_is_private_and_load_validates(pixir_home):
    store.save({"kind": "api_key", "api_key": "sk-1"})
    path = pixir_home / "auth.json"
    assert path.stat().st_mode & 0o777 == 0o600
    assert json.loads(path.read_text())["api_key"] == "sk-1"
    assert not list(pixir_home.glob(".auth.json.*"))  # no temp file left behind
    assert store.load() == {"kind": "api_key", "api_key": "sk-1"}
    assert store.delete() is True and store.delete() is False
    assert store.load() is None


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("{", "invalid JSON"),
        ("[]", "not a JSON object"),
        ('{"kind": "magic"}', "unknown credential kind"),
        ('{"kind": "api_key"}', "missing api_key"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_corrupt_auth_names_the_path(pixir_home, content, why):
    pixir_home.mkdir()
    path = pixir_home / "auth.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(PixirError) as info:
        store.load()
    assert info.value.kind == "corrupt_auth" and info.value.exit_code == 4
    assert str(path) in info.value.message and why in info.value.message
