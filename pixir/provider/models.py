"""The model catalog, the default model and context windows (docs/provider.md)."""

from __future__ import annotations

from pixir.config import Settings
from pixir.errors import PixirError

DEFAULT_MODEL = "gpt-5.5"
BUILTIN_CATALOG = (
    "gpt-5.6-sol",
    "gpt-5.6",
    "gpt-5.5",
    "gpt-5.4",
    "gpt-5.4-mini",
    "gpt-5.3-codex",
    "gpt-5.3-codex-spark",
    "gpt-5.2",
)
DEFAULT_CONTEXT_WINDOW = 272_000
CONTEXT_WINDOWS = {"gpt-5.3-codex-spark": 128_000}


def default_model(settings: Settings) -> str:
    """The model used when nothing more specific is asked for."""
    return settings.model or DEFAULT_MODEL


def catalog(settings: Settings) -> list[dict]:
    """Known models as `{"id", "name", "default"}`; config `models` replaces the built-in
    list, and the active default is always listed."""
    ids = list(settings.models or BUILTIN_CATALOG)
    active = default_model(settings)
    if active not in ids:
        ids.insert(0, active)
    return [{"id": i, "name": _display_name(i), "default": i == active} for i in ids]


def resolve_model(settings: Settings, allow_unknown: bool = False) -> str:
    """The model id to use, refused before any network call when it is not in the catalog."""
    model = default_model(settings)
    known = settings.models or BUILTIN_CATALOG
    if model not in known and not allow_unknown:
        raise PixirError(
            "unknown_model",
            f"unknown model {model!r}; known: {', '.join(known)}",
            {"model": model, "known": list(known)},
            hint="pick one with -m/--model, or pass --allow-unknown-model",
        )
    return model


def context_window(model: str, settings: Settings) -> int:
    """Tokens the model accepts; config `context_windows` overrides the built-in figures."""
    if model in settings.context_windows:
        return settings.context_windows[model]
    return CONTEXT_WINDOWS.get(model, DEFAULT_CONTEXT_WINDOW)


def _display_name(model_id: str) -> str:
    head, *rest = model_id.split("-")
    head = "GPT" if head == "gpt" else head
    return "-".join([head, *(part.capitalize() if part.isalpha() else part for part in rest)])
