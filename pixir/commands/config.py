"""`pixir config [--json]`: every setting, its value and where that value comes from — a
flag on this command line, an environment variable, the config file (with its full path) or
the built-in default — so nobody has to guess which of them won (docs/cli.md, "Settings")."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, fields, is_dataclass

from pixir import paths
from pixir.commands import print_json, settings_for
from pixir.config import ENV_ONLY, ENV_SETTINGS, Settings
from pixir.provider.models import default_model
from pixir.sanitize import terminal

# What an unset setting means, in words (None in --json).
UNSET = {
    "models": "built-in catalog",
    "reasoning_effort": "server default",
    "reasoning_summary": "auto; none with an API key",
    "text_verbosity": "server default",
}
HIDDEN = ("sources", "warnings")


def run(args) -> int:
    settings = settings_for(args)
    config_file = paths.config_file()
    rows = describe(settings, args)
    home_from = "PIXIR_HOME" if os.environ.get("PIXIR_HOME") else "default"
    if args.json:
        print_json(
            {
                "ok": True,
                "config_file": str(config_file),
                "config_file_exists": config_file.is_file(),
                "home": str(paths.home()),
                "home_from": "env" if os.environ.get("PIXIR_HOME") else "default",
                "settings": {
                    name: {"value": value, "source": source, "from": origin}
                    for name, value, source, origin in rows
                },
                "warnings": list(settings.warnings),
            }
        )
        return 0
    state = "" if config_file.is_file() else " (not present: create it to change a default)"
    lines = [f"config file  {config_file}{state}", f"home         {paths.home()} ({home_from})", ""]
    shown = [
        (name, _text(name, value), _source(source, origin)) for name, value, source, origin in rows
    ]
    width = max(len(name) for name, _, _ in shown)
    value_width = min(40, max(len(value) for _, value, _ in shown))
    lines.append(f"{'SETTING':<{width}}  {'VALUE':<{value_width}}  SOURCE")
    lines += [f"{name:<{width}}  {value:<{value_width}}  {source}" for name, value, source in shown]
    print(terminal("\n".join(lines)))  # values come from files and the environment
    return 0


def describe(settings: Settings, args) -> list[tuple[str, object, str, str | None]]:
    """(name, value, source, origin) for every setting: source is flag, env, config or
    default; origin names the flag, the variable or the file (None for a default)."""
    rows = []
    for item in fields(settings):
        name = item.name
        if name in HIDDEN:
            continue
        value = getattr(settings, name)
        if is_dataclass(value):
            value = asdict(value)
        elif isinstance(value, tuple):
            value = list(value)
        elif not isinstance(value, (str, int, float, bool, list, type(None))):
            value = dict(value)
        source = settings.sources.get(name, "default")
        if name == "model" and value is None:
            value = default_model(settings)
        rows.append((name, value, source, _origin(name, source, args)))
    return rows


def _origin(name: str, source: str, args) -> str | None:
    if source == "flag":
        if name == "permission_default":
            return "--read-only" if getattr(args, "read_only", False) else "--ask"
        return "--" + name.replace("_", "-")
    if source == "env":
        variables = {setting: var for var, setting in ENV_SETTINGS.items()} | ENV_ONLY
        return variables.get(name)
    if source == "config":
        return str(paths.config_file())
    return None


def _source(source: str, origin: str | None) -> str:
    return f"{source} {origin}" if origin else source


def _text(name: str, value: object) -> str:
    if value is None:
        return f"({UNSET.get(name, 'none')})"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)
