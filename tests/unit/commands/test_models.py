"""`pixir models`: the catalog, human and --json."""

import json

from pixir import cli
from pixir.provider.models import (
    BUILTIN_CATALOG,
)


def test_models_command_human(capsys):
    assert cli.main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(BUILTIN_CATALOG)
    default = [line for line in lines if line.startswith("*")]
    assert len(default) == 1 and "gpt-5.5" in default[0] and "(default)" in default[0]
    assert any("gpt-5.3-codex-spark" in line and "128k" in line for line in lines)


def test_models_command_json_follows_flag_env_and_config(capsys, monkeypatch, pixir_home):
    pixir_home.mkdir()
    (pixir_home / "config.json").write_text(json.dumps({"models": ["x-1", "x-2"], "model": "x-2"}))
    assert cli.main(["models", "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["ok"] and body["default"] == "x-2"
    assert [m["id"] for m in body["models"]] == ["x-1", "x-2"]
    assert set(body) == {"ok", "default", "models"}
    assert body["models"][1] == {
        "id": "x-2",
        "name": "x-2",
        "default": True,
        "context_window": 272000,
    }
    monkeypatch.setenv("PIXIR_MODEL", "x-1")
    assert cli.main(["models", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["default"] == "x-1"
    assert cli.main(["models", "--json", "-m", "x-2"]) == 0
    assert json.loads(capsys.readouterr().out)["default"] == "x-2"
