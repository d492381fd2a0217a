"""The model catalog, the default, context windows."""

import pytest

from pixir.config import Settings
from pixir.errors import PixirError
from pixir.provider.models import (
    BUILTIN_CATALOG,
    catalog,
    context_window,
    default_model,
    resolve_model,
)


def test_builtin_catalog_with_the_default_flagged():
    entries = catalog(Settings())
    assert [e["id"] for e in entries] == list(BUILTIN_CATALOG)
    assert [e["id"] for e in entries if e["default"]] == ["gpt-5.5"]
    assert {"id", "name", "default"} <= set(entries[0])


def test_config_models_replace_the_catalog_and_the_default_is_always_listed():
    s = Settings(models=("a-1", "b-2"), model="c-3")
    ids = [e["id"] for e in catalog(s)]
    assert ids == ["c-3", "a-1", "b-2"]
    assert [e["id"] for e in catalog(s) if e["default"]] == ["c-3"]


def test_unknown_model_is_refused_listing_the_known_ids():
    with pytest.raises(PixirError) as info:
        resolve_model(Settings(model="gpt-9"))
    err = info.value
    assert err.kind == "unknown_model" and err.exit_code == 2
    assert "gpt-5.5" in err.message and "gpt-9" not in err.details["known"]
    assert resolve_model(Settings(model="gpt-9"), allow_unknown=True) == "gpt-9"


def test_models_in_config_are_known():
    assert resolve_model(Settings(models=("mine",), model="mine")) == "mine"
    with pytest.raises(PixirError):
        resolve_model(Settings(models=("mine",), model="gpt-5.5"))


def test_default_and_context_windows():
    assert default_model(Settings()) == "gpt-5.5"
    assert context_window("gpt-5.5", Settings()) == 272_000
    assert context_window("gpt-5.3-codex-spark", Settings()) == 128_000
    assert context_window("gpt-5.5", Settings(context_windows={"gpt-5.5": 5})) == 5
