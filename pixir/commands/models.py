"""`pixir models`: the model catalog, default flagged."""

from __future__ import annotations

from pixir.commands import print_json, settings_for
from pixir.provider.models import catalog, context_window, resolve_model


def run(args) -> int:
    settings = settings_for(args)
    resolve_model(settings, allow_unknown=args.allow_unknown_model)
    entries = [
        {**entry, "context_window": context_window(entry["id"], settings)}
        for entry in catalog(settings)
    ]
    if args.json:
        default = next(e["id"] for e in entries if e["default"])
        print_json({"ok": True, "default": default, "models": entries})
        return 0
    width = max(len(e["id"]) for e in entries)
    for entry in entries:
        mark = "*" if entry["default"] else " "
        suffix = "  (default)" if entry["default"] else ""
        window = f"{entry['context_window'] // 1000}k"
        print(f"{mark} {entry['id']:<{width}}  {window:>5}  {entry['name']}{suffix}")
    return 0
