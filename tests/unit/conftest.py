"""Unit tests run in-process with a private PIXIR_HOME and no credential from the outside."""

import pytest

ISOLATED_VARS = (
    "OPENAI_API_KEY",
    "PIXIR_MODEL",
    "PIXIR_TRANSPORT",
    "PIXIR_AUTH_ISSUER",
    "PIXIR_CHATGPT_BASE_URL",
    "OPENAI_BASE_URL",
    "OPENAI_ORGANIZATION",
    "OPENAI_PROJECT",
    "PIXIR_DEBUG",
)


@pytest.fixture(autouse=True)
def pixir_home(tmp_path, monkeypatch):
    """A fresh, not-yet-created PIXIR_HOME for every test."""
    for var in ISOLATED_VARS:
        monkeypatch.delenv(var, raising=False)
    home = tmp_path / "pixir-home"
    monkeypatch.setenv("PIXIR_HOME", str(home))
    return home


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    folder = tmp_path / "workspace"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder
