"""Settings: built-in defaults < config.json < environment < command-line flags
(docs/architecture.md)."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

from pixir import paths
from pixir.choices import CHOICES
from pixir.errors import PixirError

DEFAULT_AUTH_ISSUER = "https://auth.openai.com"
DEFAULT_CHATGPT_BASE_URL = "https://chatgpt.com/backend-api/codex"
DEFAULT_OPENAI_BASE_URL = "https://api.openai.com/v1"

# Integer keys and the smallest value that makes sense for each.
INT_MINIMUMS: dict[str, int] = {
    "bash_timeout_ms": 1,
    "bash_timeout_max_ms": 1,
    "max_retries": 0,
    "stream_idle_timeout_ms": 1,
    "max_steps": 1,
}

COMPACTION_INTS = ("reserve_tokens", "keep_recent_tokens")

# Environment variables that carry a setting, and the setting they carry.
ENV_SETTINGS = {"PIXIR_MODEL": "model", "PIXIR_TRANSPORT": "transport"}
ABI_CAP_VAR = "PIXIR_LANDLOCK_ABI"  # SandboxSettings.abi_cap (docs/sandbox.md)
NAMESPACE_VAR = "PIXIR_SANDBOX_NAMESPACE"  # SandboxSettings.namespaces (docs/sandbox.md)
# Settings that come from the environment only (never config.json), and their variable.
ENV_ONLY = {
    "auth_issuer": "PIXIR_AUTH_ISSUER",
    "chatgpt_base_url": "PIXIR_CHATGPT_BASE_URL",
    "openai_base_url": "OPENAI_BASE_URL",
    "openai_organization": "OPENAI_ORGANIZATION",
    "openai_project": "OPENAI_PROJECT",
}


@dataclass(frozen=True)
class Compaction:
    auto: bool = True
    reserve_tokens: int = 16384
    keep_recent_tokens: int = 20000


WEB_SEARCH_KEYS = ("live", "context_size", "allowed_domains", "location")
CONTEXT_SIZES = ("low", "medium", "high")
LOCATION_KEYS = ("country", "region", "city", "timezone")
MAX_ALLOWED_DOMAINS = 100  # the API's own limit


@dataclass(frozen=True)
class WebSearch:
    """The hosted web search tool, as configured (docs/provider.md "Web search").
    `context_size` None: not chosen (an API key gets `low`; the ChatGPT backend nothing)."""

    live: bool = True
    context_size: str | None = None
    allowed_domains: tuple[str, ...] = ()
    location: Mapping[str, str] | None = None


@dataclass(frozen=True)
class SandboxSettings:
    """Config `sandbox` and `--sandbox on|off`: the kernel sandbox of bash commands
    (docs/sandbox.md). `writable`: extra absolute paths commands may write in auto mode."""

    enabled: bool = True
    network: bool = True
    writable: tuple[str, ...] = ()
    # PIXIR_LANDLOCK_ABI=N: use at most ABI N of the kernel's Landlock (0: as if there were
    # none), to test the fallback and each ABI's rules on one machine.
    abi_cap: int | None = None
    # PIXIR_SANDBOX_NAMESPACE=0: no mount namespace for commands, as where user namespaces
    # are not allowed (Landlock alone keeps .pixir/ out, entry by entry).
    namespaces: bool = True


@dataclass(frozen=True)
class Settings:
    """Every setting pixir reads, resolved. `model` is None when nobody chose one
    (provider.models.resolve_model then applies the built-in default)."""

    model: str | None = None
    models: tuple[str, ...] | None = None
    reasoning_effort: str | None = None
    reasoning_summary: str | None = None
    text_verbosity: str | None = None
    transport: str = "auto"
    permission_default: str = "auto"
    bash_timeout_ms: int = 120_000
    bash_timeout_max_ms: int = 600_000
    max_retries: int = 2
    stream_idle_timeout_ms: int = 300_000
    max_steps: int = 256
    context_windows: Mapping[str, int] = field(default_factory=dict)
    compaction: Compaction = field(default_factory=Compaction)
    sandbox: SandboxSettings = field(default_factory=SandboxSettings)
    web_search: WebSearch | None = None  # None: off (the default)
    prompt_cache_retention: str | None = None  # in_memory | 24h, sent with an API key only
    auth_issuer: str = DEFAULT_AUTH_ISSUER
    chatgpt_base_url: str = DEFAULT_CHATGPT_BASE_URL
    openai_base_url: str = DEFAULT_OPENAI_BASE_URL
    openai_organization: str | None = None
    openai_project: str | None = None
    # Where each non-default setting came from ("flag", "env", "config"), for `pixir config`.
    sources: Mapping[str, str] = field(default_factory=dict)
    # Human-readable warnings (unknown keys) to show once on stderr.
    warnings: tuple[str, ...] = ()


FILE_KEYS = frozenset(
    f.name
    for f in fields(Settings)
    if f.name
    not in {
        "auth_issuer",
        "chatgpt_base_url",
        "openai_base_url",
        "openai_organization",
        "openai_project",
        "sources",
        "warnings",
    }
)


def load_settings(
    flags: Mapping[str, object] | None = None,
    env: Mapping[str, str] | None = None,
    config_path: Path | None = None,
) -> Settings:
    """Resolve every setting. `flags` holds command-line values (None = not given).
    Raises `config_invalid` (exit 2) naming the file, key or variable at fault."""
    env = os.environ if env is None else env
    path = config_path or paths.config_file()
    values: dict[str, object] = {}
    sources: dict[str, str] = {}

    raw, warnings = read_config_file(path)
    for key, value in raw.items():
        values[key] = value
        sources[key] = "config"

    for var, key in ENV_SETTINGS.items():
        if env.get(var):
            values[key] = _check_value(key, env[var], where=var)
            sources[key] = "env"

    for key, value in (flags or {}).items():
        if value is None:
            continue
        if key == "sandbox":  # --sandbox on|off: only `enabled` of the config's object
            values[key] = {**values.get(key, {}), "enabled": _on_off(value, "--sandbox")}
        elif key == "web_search" and value is True and isinstance(values.get(key), WebSearch):
            pass  # --web-search turns search on; config.json still says how
        else:
            values[key] = _check_value(key, value, where=f"--{key.replace('_', '-')}")
        sources[key] = "flag"

    for key, var in ENV_ONLY.items():
        if env.get(var):
            sources[key] = "env"

    if "models" in values:
        values["models"] = tuple(values["models"])
    if "compaction" in values:
        values["compaction"] = Compaction(**values["compaction"])
    cap = env.get("PIXIR_LANDLOCK_ABI")
    if cap:
        if not cap.isdigit():
            raise PixirError(
                "config_invalid",
                f"{ABI_CAP_VAR}={cap!r}: expected an integer >= 0 (0: no Landlock)",
                {"variable": ABI_CAP_VAR},
                hint=f"unset {ABI_CAP_VAR} to use the kernel's Landlock as it is",
            )
        values["sandbox"] = {**values.get("sandbox", {}), "abi_cap": int(cap)}
    mounts = env.get("PIXIR_SANDBOX_NAMESPACE")
    if mounts:
        if mounts not in ("0", "1"):
            raise PixirError(
                "config_invalid",
                f"{NAMESPACE_VAR}={mounts!r}: expected 0 (no mount namespace) or 1",
                {"variable": NAMESPACE_VAR},
                hint=f"unset {NAMESPACE_VAR} to use a mount namespace where the system allows it",
            )
        values["sandbox"] = {**values.get("sandbox", {}), "namespaces": mounts == "1"}
    if "sandbox" in values:
        values["sandbox"] = SandboxSettings(**values["sandbox"])

    return Settings(
        **values,
        auth_issuer=_base_url(env, "PIXIR_AUTH_ISSUER", DEFAULT_AUTH_ISSUER),
        chatgpt_base_url=_base_url(env, "PIXIR_CHATGPT_BASE_URL", DEFAULT_CHATGPT_BASE_URL),
        openai_base_url=_base_url(env, "OPENAI_BASE_URL", DEFAULT_OPENAI_BASE_URL),
        openai_organization=env.get("OPENAI_ORGANIZATION") or None,
        openai_project=env.get("OPENAI_PROJECT") or None,
        sources=sources,
        warnings=tuple(warnings),
    )


def in_file(key: str) -> str:
    """`key in <the config file's full path>`, for hints that send a person there."""
    return f"{key} in {paths.config_file()}"


MAX_CONFIG_BYTES = 1 << 20


def read_config_file(path: Path) -> tuple[dict[str, object], list[str]]:
    """Parse and validate config.json: (known keys → checked values, warnings).
    A missing file is an empty config."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO would hang, /dev/zero never end
            raise PixirError(
                "config_invalid",
                f"{path}: not a regular file",
                {"path": str(path)},
                hint="make it a regular file, or remove it to use the defaults",
            )
        with open(path, "rb") as fh:  # a cap, should it grow while read
            data = fh.read(MAX_CONFIG_BYTES + 1)
        if len(data) > MAX_CONFIG_BYTES:
            raise PixirError(
                "config_invalid",
                f"{path}: larger than {MAX_CONFIG_BYTES >> 20} MiB; a config file is small",
                {"path": str(path)},
                hint="fix the file or remove it to use the defaults",
            )
        text = data.decode("utf-8")
    except FileNotFoundError:
        return {}, []
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise PixirError(
            "config_invalid", f"cannot read {path}: {reason}", {"path": str(path)}
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PixirError(
            "config_invalid",
            f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
            {"path": str(path), "line": exc.lineno, "column": exc.colno},
            hint="fix the file or remove it to use the defaults",
        ) from None
    if not isinstance(data, dict):
        raise PixirError(
            "config_invalid",
            f"{path}: expected a JSON object at the top level",
            {"path": str(path)},
        )

    values: dict[str, object] = {}
    warnings: list[str] = []
    for key, value in data.items():
        if key not in FILE_KEYS:
            warnings.append(f"{path}: unknown key {key!r} ignored")
            continue
        where = f"{path}: key {key!r}"
        if key in ("compaction", "sandbox"):
            check = _check_compaction if key == "compaction" else _check_sandbox
            value, extra = check(value, where)
            warnings.extend(f"{path}: unknown key '{key}.{k}' ignored" for k in extra)
        else:
            value = _check_value(key, value, where)
        values[key] = value
    return values, warnings


def _check_value(key: str, value: object, where: str) -> object:
    """Validate one setting; the error names where the value came from and what was expected."""
    if key in CHOICES:
        if value not in CHOICES[key]:
            _bad(where, f"one of {', '.join(CHOICES[key])}", value)
        return value
    if key in INT_MINIMUMS:
        value = _int_from(value, where)
        if value < INT_MINIMUMS[key]:
            _bad(where, f"an integer >= {INT_MINIMUMS[key]}", value)
        return value
    if key == "model":
        if not isinstance(value, str) or not value.strip():
            _bad(where, "a non-empty string", value)
        return value.strip()
    if key == "models":
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(v, str) and v.strip() for v in value)
        ):
            _bad(where, "a non-empty array of model id strings", value)
        return [v.strip() for v in value]
    if key == "context_windows":
        if not isinstance(value, dict) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value.values()
        ):
            _bad(where, "an object mapping model ids to positive integers", value)
        return dict(value)
    if key == "web_search":
        return check_web_search(value, where)
    raise PixirError("config_invalid", f"{where}: not a setting")


def check_web_search(value: object, where: str) -> WebSearch | None:
    """`true`, `false` or `{live, context_size, allowed_domains, location}` → WebSearch (None
    when off). Every mistake is named with the key at fault and what is expected."""
    if value is True:
        return WebSearch()
    if value is False or value is None:
        return None
    if not isinstance(value, dict):
        _bad(where, "true, false or an object with " + ", ".join(WEB_SEARCH_KEYS), value)
    unknown = sorted(set(value) - set(WEB_SEARCH_KEYS))
    if unknown:
        raise PixirError(
            "config_invalid",
            f"{where}: unknown key {unknown[0]!r} (web_search takes {', '.join(WEB_SEARCH_KEYS)})",
            {"where": where, "key": unknown[0]},
        )
    live = value.get("live", True)
    if not isinstance(live, bool):
        _bad(_sub(where, "live"), "true or false", live)
    size = value.get("context_size")
    if size is not None and size not in CONTEXT_SIZES:
        _bad(_sub(where, "context_size"), f"one of {', '.join(CONTEXT_SIZES)}", size)
    return WebSearch(
        live=live,
        context_size=size,
        allowed_domains=_check_domains(
            value.get("allowed_domains"), _sub(where, "allowed_domains")
        ),
        location=_check_location(value.get("location"), _sub(where, "location")),
    )


def _check_domains(value: object, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_ALLOWED_DOMAINS:
        _bad(where, f"an array of at most {MAX_ALLOWED_DOMAINS} domain names", value)
    domains = []
    for item in value:
        domain = item.strip().lower() if isinstance(item, str) else ""
        if not domain or any(c in domain for c in "/:?#@ \t*") or "." not in domain:
            _bad(where, "domain names like docs.python.org (no scheme, path or wildcard)", item)
        if domain not in domains:
            domains.append(domain)
    return tuple(domains)


def _check_location(value: object, where: str) -> Mapping[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not value or set(value) - set(LOCATION_KEYS):
        _bad(where, f"an object with some of {', '.join(LOCATION_KEYS)}", value)
    location: dict[str, str] = {}
    for key in LOCATION_KEYS:
        if key not in value:
            continue
        text = value[key]
        if not isinstance(text, str) or not text.strip() or len(text) > 100:
            _bad(_sub(where, key), "a non-empty string", text)
        location[key] = text.strip()
    country = location.get("country")
    if country is not None:
        if len(country) != 2 or not country.isascii() or not country.isalpha():
            _bad(_sub(where, "country"), "a two-letter ISO country code such as DE", country)
        location["country"] = country.upper()
    if "timezone" in location and not _is_timezone(location["timezone"]):
        _bad(
            _sub(where, "timezone"), "an IANA time zone such as Europe/Berlin", location["timezone"]
        )
    return location


def _sub(where: str, key: str) -> str:
    """`config.json: key 'web_search'` → `config.json: key 'web_search.live'`."""
    return f"{where[:-1]}.{key}'" if where.endswith("'") else f"{where}.{key}"


def _is_timezone(name: str) -> bool:
    import zoneinfo  # only when a location is configured: it reads the tz database

    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        # a machine without a tz database knows no zone at all: accept the IANA form there
        known = zoneinfo.available_timezones()
        return not known and re.fullmatch(r"[A-Za-z]+(?:/[A-Za-z0-9_+-]+)+|UTC", name) is not None
    return True


def _check_compaction(value: object, where: str) -> tuple[dict, list[str]]:
    if not isinstance(value, dict):
        _bad(where, "an object with auto, reserve_tokens, keep_recent_tokens", value)
    checked: dict[str, object] = {}
    extra = [k for k in value if k not in ("auto", *COMPACTION_INTS)]
    if "auto" in value:
        if not isinstance(value["auto"], bool):
            _bad(f"{where}.auto", "true or false", value["auto"])
        checked["auto"] = value["auto"]
    for key in COMPACTION_INTS:
        if key in value:
            number = value[key]
            if not isinstance(number, int) or isinstance(number, bool) or number < 0:
                _bad(f"{where}.{key}", "an integer >= 0", number)
            checked[key] = number
    return checked, extra


def _check_sandbox(value: object, where: str) -> tuple[dict, list[str]]:
    if not isinstance(value, dict):
        _bad(where, "an object with enabled, network, writable", value)
    checked: dict[str, object] = {}
    extra = [k for k in value if k not in ("enabled", "network", "writable")]
    for key in ("enabled", "network"):
        if key in value:
            if not isinstance(value[key], bool):
                _bad(f"{where}.{key}", "true or false", value[key])
            checked[key] = value[key]
    if "writable" in value:
        places = value["writable"]
        expected = "an array of absolute paths (~/ allowed)"
        if not isinstance(places, list):
            _bad(f"{where}.writable", expected, places)
        found = []
        for place in places:
            full = os.path.expanduser(place) if isinstance(place, str) else ""
            if not os.path.isabs(full) or "\0" in full:
                _bad(f"{where}.writable", expected, place)
            found.append(os.path.normpath(full))
        checked["writable"] = tuple(found)
    return checked, extra


def _on_off(value: object, where: str) -> bool:
    if value not in ("on", "off"):
        _bad(where, "on or off", value)
    return value == "on"


def _int_from(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):  # bool is an int subclass
        _bad(where, "an integer", value)
    return value


def _bad(where: str, expected: str, value: object) -> NoReturn:
    shown = json.dumps(value) if not isinstance(value, str) else repr(value)
    raise PixirError(
        "config_invalid",
        f"{where}: expected {expected}, got {shown[:80]}",
        {"where": where, "expected": expected},
    )


def _base_url(env: Mapping[str, str], var: str, default: str) -> str:
    url = (env.get(var) or default).strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PixirError(
            "config_invalid",
            f"{var}={url!r} is not an http(s) URL",
            {"variable": var},
            hint=f"unset {var} or give a URL like {default}",
        )
    return url


def is_loopback_host(host: str | None) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# `proxies=` for requests that turns off every proxy the environment names (None values are
# dropped after the environment's are merged in, so nothing is left to use).
NO_PROXY = {"http": None, "https": None, "all": None}


def direct(url: str) -> bool:
    """Must `url` be reached without any proxy? A cleartext (`http://`, `ws://`) or loopback
    target: a proxy would see a credential in the clear (an `http://` proxy forwards the
    request as it is), and cannot reach our loopback anyway. Only `https://`/`wss://` to
    another host may go through a proxy, as a CONNECT tunnel (docs/reliability.md,
    "Proxies")."""
    parts = urlsplit(url)
    return parts.scheme not in ("https", "wss") or is_loopback_host(parts.hostname)


def proxies_for(url: str) -> dict | None:
    """requests' `proxies=` for a call to `url`: None (the environment's, CONNECT for an
    https:// target) or NO_PROXY."""
    return dict(NO_PROXY) if direct(url) else None


def ensure_secure_url(url: str) -> None:
    """Refuse to send a credential over cleartext to anything but loopback
    (docs/architecture.md)."""
    parts = urlsplit(url)
    if parts.scheme in ("https", "wss"):
        return
    if parts.scheme in ("http", "ws") and is_loopback_host(parts.hostname):
        return
    raise PixirError(
        "insecure_transport",
        f"refusing to send a credential over cleartext to {parts.hostname or url!r}",
        {"url": f"{parts.scheme}://{parts.hostname}"},
        hint="use an https:// base URL (plain http:// is allowed only for localhost)",
    )
