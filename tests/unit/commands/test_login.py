"""`pixir login --with-api-key` in-process, and the refusals before any flow starts (the
OAuth flows run end to end in tests/e2e/test_auth*.py)."""

import io
import json

import pytest

from pixir import cli
from pixir.auth import store


class FakeStdin(io.TextIOWrapper):
    """A piped stdin: text over a byte buffer, as sys.stdin is."""

    def __init__(self, text: str) -> None:
        super().__init__(io.BytesIO(text.encode()), encoding="utf-8")

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


def test_stdin_is_read_with_a_cap_and_a_flood_is_refused(monkeypatch, capsys, pixir_home):
    """`yes | pixir login --with-api-key` grew to gigabytes: at most 64 KiB is read."""
    read = []

    class Endless(io.RawIOBase):
        def readable(self):
            return True

        def readinto(self, buffer):
            buffer[: len(buffer)] = b"y\n" * (len(buffer) // 2) + b"y" * (len(buffer) % 2)
            read.append(len(buffer))
            return len(buffer)

    class Flood(io.TextIOWrapper):
        def isatty(self):
            return False

    monkeypatch.setattr("sys.stdin", Flood(io.BufferedReader(Endless()), encoding="utf-8"))
    code = cli.main(["login", "--with-api-key"])
    err = capsys.readouterr().err
    assert code == 2 and "error: invalid_arguments: stdin holds more than 64 KiB" in err
    assert sum(read) < 1 << 20
    assert store.load() is None
