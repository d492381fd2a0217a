"""`pixir login --with-api-key` in-process, and the refusals before any flow starts (the
OAuth flows run end to end in tests/e2e/test_auth*.py)."""

import io
import json

import pytest

from pixir import cli
from pixir.auth import store


class FakeStdin(io.StringIO):
    def isatty(self):
        return False


def login_with_key(monkeypatch, capsys, text, *flags):
    monkeypatch.setattr("sys.stdin", FakeStdin(text))
    code = cli.main(["login", "--with-api-key", *flags])
    return code, capsys.readouterr()


def test_api_key_from_stdin_is_stored_privately(monkeypatch, capsys, pixir_home):
    code, out = login_with_key(monkeypatch, capsys, "sk-from-stdin\n")
    assert code == 0 and out.out == ""
    assert store.load() == {"kind": "api_key", "api_key": "sk-from-stdin"}
    assert (pixir_home / "auth.json").stat().st_mode & 0o777 == 0o600
    assert "sk-from-stdin" not in out.err


def test_api_key_login_json_is_one_object(monkeypatch, capsys, pixir_home):
    code, out = login_with_key(monkeypatch, capsys, "sk-1", "--json")
    assert code == 0
    assert json.loads(out.out) == {
        "ok": True,
        "kind": "api_key",
        "path": str(pixir_home / "auth.json"),
    }


@pytest.mark.parametrize("text", ["", "  \n", "sk-1 sk-2"])
def test_no_or_odd_key_on_stdin_is_invalid_arguments(monkeypatch, capsys, text):
    code, out = login_with_key(monkeypatch, capsys, text)
    assert code == 2 and "invalid_arguments" in out.err
    assert store.load() is None


def test_the_key_is_never_an_argument(capsys):
    assert cli.main(["login", "--with-api-key", "sk-argv"]) == 2  # argparse refuses it


def test_login_refuses_a_cleartext_remote_issuer_before_starting(capsys, monkeypatch):
    monkeypatch.setenv("PIXIR_AUTH_ISSUER", "http://auth.example.test")
    assert cli.main(["login"]) == 2
    assert "insecure_transport" in capsys.readouterr().err
