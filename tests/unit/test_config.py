import json
import os

import pytest

from pixir import paths
from pixir.config import (
    Compaction,
    SandboxSettings,
    ensure_secure_url,
    is_loopback_host,
    load_settings,
)
from pixir.errors import PixirError


def write_config(home, data):
    home.mkdir(parents=True, exist_ok=True)
    text = data if isinstance(data, str) else json.dumps(data)
    (home / "config.json").write_text(text, encoding="utf-8")


def test_defaults_without_any_file_or_variable():
    s = load_settings(env={})
    assert s.model is None
    assert s.transport == "auto"
    assert s.permission_default == "auto"
    assert (s.bash_timeout_ms, s.bash_timeout_max_ms) == (120_000, 600_000)
    assert (s.max_retries, s.stream_idle_timeout_ms, s.max_steps) == (2, 300_000, 256)
    assert s.compaction == Compaction(auto=True, reserve_tokens=16384, keep_recent_tokens=20000)
    assert s.auth_issuer == "https://auth.openai.com"
    assert s.chatgpt_base_url == "https://chatgpt.com/backend-api/codex"
    assert s.openai_base_url == "https://api.openai.com/v1"
    assert s.sources == {}
    assert s.warnings == ()


def test_precedence_flag_over_env_over_file_over_default(pixir_home):
    write_config(pixir_home, {"model": "gpt-5.4", "transport": "http_sse", "max_steps": 9})
    from_file = load_settings(env={})
    assert (from_file.model, from_file.transport, from_file.max_steps) == ("gpt-5.4", "http_sse", 9)
    assert from_file.sources["model"] == "config"

    env = {"PIXIR_MODEL": "gpt-5.2", "PIXIR_TRANSPORT": "websocket"}
    from_env = load_settings(env=env)
    assert (from_env.model, from_env.transport, from_env.max_steps) == ("gpt-5.2", "websocket", 9)
    assert from_env.sources["model"] == "env"

    flags = {"model": "gpt-5.6", "transport": None, "max_steps": 3}
    from_flags = load_settings(flags, env=env)
    assert (from_flags.model, from_flags.transport, from_flags.max_steps) == (
        "gpt-5.6",
        "websocket",
        3,
    )
    assert from_flags.sources == {"model": "flag", "transport": "env", "max_steps": "flag"}


def test_every_documented_key_is_accepted(pixir_home):
    write_config(
        pixir_home,
        {
            "model": "gpt-5.4",
            "models": ["gpt-5.4", "my-model"],
            "reasoning_effort": "xhigh",
            "reasoning_summary": "none",
            "text_verbosity": "low",
            "transport": "websocket",
            "permission_default": "read_only",
            "bash_timeout_ms": 1000,
            "bash_timeout_max_ms": 2000,
            "max_retries": 0,
            "stream_idle_timeout_ms": 500,
            "max_steps": 4,
            "context_windows": {"my-model": 1000},
            "compaction": {"auto": False, "reserve_tokens": 10, "keep_recent_tokens": 20},
        },
    )
    s = load_settings(env={})
    assert s.models == ("gpt-5.4", "my-model")
    assert s.reasoning_effort == "xhigh" and s.reasoning_summary == "none"
    assert s.text_verbosity == "low" and s.permission_default == "read_only"
    assert s.context_windows == {"my-model": 1000}
    assert s.compaction == Compaction(auto=False, reserve_tokens=10, keep_recent_tokens=20)
    assert s.warnings == ()


def test_unknown_keys_warn_and_never_crash(pixir_home):
    write_config(pixir_home, {"modle": "x", "compaction": {"auto": True, "extra": 1}})
    s = load_settings(env={})
    assert len(s.warnings) == 2
    assert "'modle'" in s.warnings[0]
    assert "compaction.extra" in s.warnings[1]


def test_invalid_json_names_file_line_and_column(pixir_home):
    write_config(pixir_home, '{\n  "model": "gpt-5.4",\n  "transport" "auto"\n}\n')
    with pytest.raises(PixirError) as info:
        load_settings(env={})
    err = info.value
    assert err.kind == "config_invalid" and err.exit_code == 2
    assert str(paths.config_file()) in err.message
    assert "line 3" in err.message
    assert err.details["line"] == 3


def test_top_level_must_be_an_object(pixir_home):
    write_config(pixir_home, "[1, 2]")
    with pytest.raises(PixirError, match="JSON object"):
        load_settings(env={})


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("model", 5, "a non-empty string"),
        ("model", "  ", "a non-empty string"),
        ("models", "gpt-5.4", "array of model id strings"),
        ("models", [], "array of model id strings"),
        ("models", ["ok", 3], "array of model id strings"),
        ("reasoning_effort", "max", "one of minimal, low, medium, high, xhigh"),
        ("reasoning_summary", True, "one of auto, concise, detailed, none"),
        ("text_verbosity", "loud", "one of low, medium, high"),
        ("transport", "grpc", "one of auto, websocket, http_sse"),
        ("permission_default", "yolo", "one of auto, ask, read_only"),
        ("bash_timeout_ms", "120000", "an integer"),
        ("bash_timeout_ms", 0, "an integer >= 1"),
        ("bash_timeout_max_ms", 1.5, "an integer"),
        ("max_retries", -1, "an integer >= 0"),
        ("max_retries", True, "an integer"),
        ("stream_idle_timeout_ms", None, "an integer"),
        ("max_steps", 0, "an integer >= 1"),
        ("context_windows", {"m": "big"}, "positive integers"),
        ("context_windows", [1], "positive integers"),
        ("compaction", 1, "an object"),
        ("compaction", {"auto": "yes"}, "true or false"),
        ("compaction", {"reserve_tokens": -5}, "an integer >= 0"),
        ("sandbox", True, "an object with enabled, network, writable"),
        ("sandbox", {"enabled": "no"}, "true or false"),
        ("sandbox", {"network": 0}, "true or false"),
        ("sandbox", {"writable": "/srv"}, "an array of absolute paths"),
        ("sandbox", {"writable": ["relative/dir"]}, "an array of absolute paths"),
        ("sandbox", {"writable": [7]}, "an array of absolute paths"),
    ],
)
def test_wrong_types_name_the_key_and_the_expected_type(pixir_home, key, value, expected):
    write_config(pixir_home, {key: value})
    with pytest.raises(PixirError) as info:
        load_settings(env={})
    assert info.value.kind == "config_invalid"
    assert repr(key) in info.value.message
    assert expected in info.value.message


def test_sandbox_settings_from_config_flag_and_environment(pixir_home, monkeypatch):
    monkeypatch.setenv("HOME", "/home/someone")
    assert load_settings(env={}).sandbox == SandboxSettings(True, True, (), None)
    write_config(
        pixir_home,
        {"sandbox": {"enabled": False, "network": False, "writable": ["~/.npm", "/srv//x/"]}},
    )
    s = load_settings(env={})
    assert s.sandbox == SandboxSettings(False, False, ("/home/someone/.npm", "/srv/x"))
    assert s.sources["sandbox"] == "config"
    on = load_settings({"sandbox": "on"}, env={"PIXIR_LANDLOCK_ABI": "3"})
    assert on.sandbox == SandboxSettings(True, False, ("/home/someone/.npm", "/srv/x"), 3)
    assert on.sources["sandbox"] == "flag"
    with pytest.raises(PixirError, match="--sandbox: expected on or off"):
        load_settings({"sandbox": "maybe"}, env={})


def test_pixir_sandbox_namespace_0_turns_the_mount_namespace_off_and_nothing_else(pixir_home):
    flat = load_settings(env={"PIXIR_SANDBOX_NAMESPACE": "0", "PIXIR_LANDLOCK_ABI": "5"})
    assert flat.sandbox == SandboxSettings(abi_cap=5, namespaces=False)
    assert load_settings(env={"PIXIR_SANDBOX_NAMESPACE": "1"}).sandbox.namespaces
    with pytest.raises(PixirError) as info:
        load_settings(env={"PIXIR_SANDBOX_NAMESPACE": "off"})
    assert info.value.kind == "config_invalid"
    assert "PIXIR_SANDBOX_NAMESPACE='off': expected 0" in info.value.message


@pytest.mark.parametrize("value", ["three", "-1", "1.5"])
def test_a_bad_landlock_abi_cap_is_config_invalid(value):
    with pytest.raises(PixirError) as info:
        load_settings(env={"PIXIR_LANDLOCK_ABI": value})
    assert info.value.kind == "config_invalid" and "PIXIR_LANDLOCK_ABI" in info.value.message


def test_unknown_sandbox_keys_warn(pixir_home):
    write_config(pixir_home, {"sandbox": {"enabled": True, "netwrok": False}})
    s = load_settings(env={})
    assert s.sandbox.network and "sandbox.netwrok" in s.warnings[0]


def test_bad_environment_value_names_the_variable():
    with pytest.raises(PixirError) as info:
        load_settings(env={"PIXIR_TRANSPORT": "carrier-pigeon"})
    assert "PIXIR_TRANSPORT" in info.value.message
    assert info.value.exit_code == 2


def test_bad_flag_value_names_the_flag():
    with pytest.raises(PixirError, match="--max-steps"):
        load_settings({"max_steps": 0}, env={})


def test_unreadable_config_is_a_clear_error(pixir_home):
    pixir_home.mkdir()
    (pixir_home / "config.json").mkdir()  # a directory where a file should be
    with pytest.raises(PixirError) as info:
        load_settings(env={})
    assert info.value.kind == "config_invalid"
    assert "config.json" in info.value.message


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_config_that_is_no_regular_file_is_refused_before_it_is_read(pixir_home, kind):
    """A FIFO nobody writes would hang every command; a link to /dev/zero would fill memory."""
    pixir_home.mkdir()
    config = pixir_home / "config.json"
    if kind == "fifo":
        os.mkfifo(config)
    else:
        config.symlink_to("/dev/zero")
    with pytest.raises(PixirError) as info:
        load_settings(env={})
    assert info.value.kind == "config_invalid"
    assert info.value.message == f"{config}: not a regular file"


def test_a_config_over_1_mib_is_refused(pixir_home):
    pixir_home.mkdir()
    (pixir_home / "config.json").write_bytes(b" " * (1 << 20) + b"{}")
    with pytest.raises(PixirError) as info:
        load_settings(env={})
    assert info.value.kind == "config_invalid"
    assert "larger than 1 MiB" in info.value.message


def test_base_urls_come_from_the_environment_without_trailing_slash():
    env = {
        "PIXIR_AUTH_ISSUER": "http://127.0.0.1:9/",
        "PIXIR_CHATGPT_BASE_URL": "http://localhost:9/backend-api/codex/",
        "OPENAI_BASE_URL": "https://gateway.example/v1",
        "OPENAI_ORGANIZATION": "org-1",
        "OPENAI_PROJECT": "proj-1",
    }
    s = load_settings(env=env)
    assert s.auth_issuer == "http://127.0.0.1:9"
    assert s.chatgpt_base_url == "http://localhost:9/backend-api/codex"
    assert s.openai_base_url == "https://gateway.example/v1"
    assert (s.openai_organization, s.openai_project) == ("org-1", "proj-1")


@pytest.mark.parametrize("url", ["ftp://x/y", "not a url", "https://"])
def test_base_url_must_be_http_or_https(url):
    with pytest.raises(PixirError) as info:
        load_settings(env={"OPENAI_BASE_URL": url})
    assert info.value.kind == "config_invalid"
    assert "OPENAI_BASE_URL" in info.value.message


@pytest.mark.parametrize(
    "url",
    [
        "https://api.openai.com/v1",
        "wss://chatgpt.com/backend-api/codex/responses",
        "http://localhost:8080/v1",
        "http://127.0.0.1:1/v1",
        "http://127.8.9.10/v1",
        "http://[::1]:5000/v1",
        "ws://127.0.0.1:5000/v1/responses",
    ],
)
def test_secure_or_loopback_urls_may_carry_a_credential(url):
    ensure_secure_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://api.openai.com/v1",
        "http://10.0.0.5/v1",
        "http://localhost.evil.example/v1",
        "ws://192.168.1.2/v1/responses",
        "http://0.0.0.0/v1",
    ],
)
def test_cleartext_to_a_remote_host_is_insecure_transport(url):
    with pytest.raises(PixirError) as info:
        ensure_secure_url(url)
    assert info.value.kind == "insecure_transport"
    assert info.value.exit_code == 2


def test_loopback_detection():
    assert is_loopback_host("LOCALHOST")
    assert is_loopback_host("::1")
    assert not is_loopback_host(None)
    assert not is_loopback_host("example.com")


# -- web_search and prompt_cache_retention ------------------------------------------------------


def test_web_search_is_off_by_default_and_true_means_the_defaults(pixir_home):
    from pixir.config import WebSearch

    assert load_settings({}, env={}).web_search is None
    write_config(pixir_home, {"web_search": True, "prompt_cache_retention": "in_memory"})
    settings = load_settings({}, env={})
    assert settings.web_search == WebSearch(live=True, context_size=None)
    assert settings.prompt_cache_retention == "in_memory"
    write_config(pixir_home, {"web_search": False})
    assert load_settings({}, env={}).web_search is None
    # the flag turns it on, and keeps the configured object when there is one
    assert load_settings({"web_search": True}, env={}).web_search == WebSearch()
    write_config(pixir_home, {"web_search": {"live": False, "allowed_domains": ["A.org"]}})
    settings = load_settings({"web_search": True}, env={})
    assert settings.web_search == WebSearch(live=False, allowed_domains=("a.org",))
    assert settings.sources["web_search"] == "flag"


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ({"allowed_domains": "a.org"}, "web_search.allowed_domains'"),
        ({"allowed_domains": ["*.a.org"]}, "no scheme, path or wildcard"),
        ({"allowed_domains": ["a.org"] * 101}, "at most 100"),
        ({"location": {"country": "DE", "planet": "Earth"}}, "web_search.location'"),
        ({"location": {"city": ""}}, "web_search.location.city'"),
        ({"location": {"timezone": "../../etc/passwd"}}, "IANA time zone"),
    ],
)
def test_web_search_mistakes_name_the_key(pixir_home, value, said):
    write_config(pixir_home, {"web_search": value})
    with pytest.raises(PixirError) as err:
        load_settings({}, env={})
    assert err.value.kind == "config_invalid" and said in err.value.message
