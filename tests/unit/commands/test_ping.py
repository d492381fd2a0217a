"""`pixir ping` in-process: the structured errors before any call."""

from __future__ import annotations

from pixir.cli import main


def test_ping_without_credential_and_with_unknown_model(workspace, capsys):
    assert main(["ping"]) == 4
    assert "not_authenticated" in capsys.readouterr().err
    assert main(["ping", "-m", "gpt-0"]) == 2
    assert "unknown_model" in capsys.readouterr().err
