"""`pixir config`: every setting with its value and where it comes from."""

import json

from pixir import cli


def config(capsys, *argv):
    code = cli.main(["config", "--json", *argv])
    captured = capsys.readouterr()
    assert code == 0, captured
    return json.loads(captured.out)


def test_each_setting_names_its_source(capsys, pixir_home, monkeypatch, workspace):
    pixir_home.mkdir()
    (pixir_home / "config.json").write_text(
        json.dumps({"max_steps": 12, "transport": "websocket", "bash_timeout_ms": 5000})
    )
    monkeypatch.setenv("PIXIR_TRANSPORT", "http_sse")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    body = config(capsys, "-m", "gpt-5.4", "--max-steps", "7", "--read-only")
    settings = body["settings"]
    path = str(pixir_home / "config.json")
    assert body["config_file"] == path and body["config_file_exists"] is True
    assert body["home"] == str(pixir_home) and body["home_from"] == "env"
    assert settings["model"] == {"value": "gpt-5.4", "source": "flag", "from": "--model"}
    assert settings["max_steps"] == {"value": 7, "source": "flag", "from": "--max-steps"}
    assert settings["permission_default"] == {
        "value": "read_only",
        "source": "flag",
        "from": "--read-only",
    }
    assert settings["transport"] == {
        "value": "http_sse",
        "source": "env",
        "from": "PIXIR_TRANSPORT",
    }
    assert settings["openai_base_url"] == {
        "value": "http://127.0.0.1:9/v1",
        "source": "env",
        "from": "OPENAI_BASE_URL",
    }
    assert settings["bash_timeout_ms"] == {"value": 5000, "source": "config", "from": path}
    assert settings["max_retries"] == {"value": 2, "source": "default", "from": None}
    assert settings["model"]["value"] == "gpt-5.4"
    assert settings["compaction"]["value"] == {
        "auto": True,
        "reserve_tokens": 16384,
        "keep_recent_tokens": 20000,
    }
    assert "sources" not in settings and "warnings" not in settings


def test_the_default_model_is_shown_as_a_default(capsys, workspace):
    body = config(capsys)
    assert body["settings"]["model"]["source"] == "default"
    assert body["settings"]["model"]["value"]  # the model a Turn would use, not null
    assert body["config_file_exists"] is False


def test_the_human_table(capsys, pixir_home, monkeypatch, workspace):
    pixir_home.mkdir()
    (pixir_home / "config.json").write_text('{"max_steps": 12, "colour": "blue"}')
    monkeypatch.setenv("PIXIR_MODEL", "gpt-5.4")
    assert cli.main(["config", "--ask"]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0] == f"config file  {pixir_home / 'config.json'}"
    assert lines[1] == f"home         {pixir_home} (PIXIR_HOME)"
    rows = {line.split()[0]: line.split()[1:] for line in lines[4:]}
    assert rows["max_steps"] == ["12", "config", str(pixir_home / "config.json")]
    assert rows["model"] == ["gpt-5.4", "env", "PIXIR_MODEL"]
    assert rows["permission_default"] == ["ask", "flag", "--ask"]
    assert rows["max_retries"] == ["2", "default"]
    assert "unknown key 'colour' ignored" in err


def test_a_broken_config_file_is_the_error_naming_it(capsys, pixir_home, workspace):
    pixir_home.mkdir()
    (pixir_home / "config.json").write_text('{"max_steps": }')
    assert cli.main(["config"]) == 2
    err = capsys.readouterr().err
    assert f"error: config_invalid: {pixir_home / 'config.json'}: invalid JSON at line 1" in err
