"""Workspace confinement of the file tools: outside paths and .pixir/ are refused."""

from __future__ import annotations

import pytest

from pixir.tools.registry import run_tool
from tests.unit.helpers.tools import call, error_kind


@pytest.mark.parametrize("name", ["write", "edit"])
def test_write_and_edit_stay_inside_the_workspace(ctx, ws, tmp_path, name):
    outside = tmp_path / "outside.txt"
    outside.write_text("secret")
    (ws / "link").symlink_to(outside)
    (ws / "dirlink").symlink_to(tmp_path)
    args = {"content": "x"} if name == "write" else {"old_string": "secret", "new_string": "x"}
    for path in (
        "../outside.txt",
        str(outside),
        "link",
        "dirlink/outside.txt",
        "a/../../outside.txt",
    ):
        result = run_tool(name, {"path": path, **args}, ctx)
        assert error_kind(result) == "outside_workspace", path
    assert outside.read_text() == "secret"


@pytest.mark.parametrize("path", [".pixir/sessions/x.jsonl", ".pixir", "sub/../.pixir/config"])
def test_pixir_directory_is_protected(ctx, ws, path):
    (ws / ".pixir" / "sessions").mkdir(parents=True)
    result = call(ctx, "write", path=path, content="x")
    assert error_kind(result) in ("protected_path",)


@pytest.mark.parametrize("path", [".pixir/config.json", "./.pixir/config.json", "link/config.json"])
def test_edit_may_not_touch_the_pixir_directory_either(ctx, ws, path):
    (ws / ".pixir").mkdir()
    (ws / ".pixir" / "config.json").write_text('{"model": "a"}')
    (ws / "link").symlink_to(ws / ".pixir")  # resolved first: a symlink is no way in
    result = call(ctx, "edit", path=path, old_string='"a"', new_string='"b"')
    assert error_kind(result) == "protected_path"
    assert (ws / ".pixir" / "config.json").read_text() == '{"model": "a"}'
