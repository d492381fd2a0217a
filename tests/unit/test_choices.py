"""The values a setting may take: the ones README.md's config table documents, accepted by
config.json and by the flags that take them, anything else refused; the module imports
nothing, so `pixir --help` does not pay for the config module."""

import json
import re
import subprocess
import sys
from dataclasses import fields

import pytest

from pixir import cli
from pixir.choices import CHOICES
from pixir.config import Settings, load_settings
from pixir.errors import PixirError
from tests.harness import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")


def documented(key: str) -> tuple[str, ...]:
    """The values README.md's config table gives for `key` (`a\\|b\\|c`)."""
    row = re.search(rf"^\| `{key}` \| `([^`]+)`", README, re.M)
    assert row, f"README.md's config table has no row for {key}"
    return tuple(row.group(1).split("\\|"))


def write_config(home, data: dict) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.json").write_text(json.dumps(data), encoding="utf-8")


@pytest.mark.parametrize("key", sorted(CHOICES))
def test_the_choices_are_the_documented_values_of_a_setting(key):
    assert CHOICES[key] == documented(key)
    assert len(set(CHOICES[key])) == len(CHOICES[key])
    assert key in {f.name for f in fields(Settings)}
    default = getattr(Settings(), key)
    assert default is None or default in CHOICES[key]  # the built-in default is one of them


@pytest.mark.parametrize("key", sorted(CHOICES))
def test_config_json_accepts_each_choice_and_refuses_anything_else(pixir_home, key):
    for value in CHOICES[key]:
        write_config(pixir_home, {key: value})
        assert getattr(load_settings(env={}), key) == value
    for wrong in ("bogus", CHOICES[key][0].upper(), 1, None):
        write_config(pixir_home, {key: wrong})
        with pytest.raises(PixirError) as info:
            load_settings(env={})
        assert info.value.kind == "config_invalid"
        assert key in info.value.message
        assert ", ".join(CHOICES[key]) in info.value.message  # names what is allowed


@pytest.mark.parametrize(
    ("flag", "key"),
    [("--transport", "transport"), ("--reasoning-effort", "reasoning_effort")],
)
def test_a_flag_takes_exactly_the_choices_of_its_setting(flag, key):
    for value in CHOICES[key]:
        _, args = cli.parse([flag, value, "hello"])
        assert getattr(args, key) == value
    with pytest.raises((PixirError, SystemExit)):
        cli.parse([flag, "bogus", "hello"])


def test_the_module_imports_nothing():
    probe = (
        "import sys; before = set(sys.modules); import pixir.choices; "
        "print(sorted(set(sys.modules) - before))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO_ROOT
    ).stdout
    assert out.strip() == "['pixir', 'pixir.choices']"
