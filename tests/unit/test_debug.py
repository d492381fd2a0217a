import json

from pixir import debug


def test_headers_lose_their_secrets_only():
    out = debug.redact_headers({"Authorization": "Bearer abc", "originator": "pixir"})
    assert out == {"Authorization": "[redacted]", "originator": "pixir"}


def test_json_bodies_lose_token_fields_at_any_depth():
    body = {
        "access_token": "A",
        "nested": [{"refresh_token": "R", "id_token": "I", "keep": 1}],
        "code_verifier": "V",
        "model": "gpt-5.5",
    }
    out = json.loads(debug.redact_body(json.dumps(body)))
    assert out == {
        "access_token": "[redacted]",
        "nested": [{"refresh_token": "[redacted]", "id_token": "[redacted]", "keep": 1}],
        "code_verifier": "[redacted]",
        "model": "gpt-5.5",
    }


def test_form_bodies_lose_codes_and_verifiers():
    out = debug.redact_body(b"grant_type=authorization_code&code=C0DE&code_verifier=VV&x=1")
    assert "C0DE" not in out and "VV" not in out
    assert "grant_type=authorization_code" in out and "x=1" in out


def test_free_text_loses_bearer_tokens_keys_and_jwts():
    text = "sent Bearer tok123 with sk-abcdefghijkl and eyJhbGciOi.eyJzdWIiOiIx.c2ln"
    out = debug.redact_text(text)
    assert "tok123" not in out and "sk-abcdefghijkl" not in out and "eyJzdWIiOiIx" not in out


def test_log_prints_only_when_enabled(monkeypatch, capsys):
    debug.log("hidden")
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("PIXIR_DEBUG", "1")
    debug.log("POST /responses Bearer secret-token")
    err = capsys.readouterr().err
    assert err.startswith("[pixir debug] POST /responses") and "secret-token" not in err
