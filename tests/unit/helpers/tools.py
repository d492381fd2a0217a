"""Calling a tool the way the Turn does, and reading its error."""

from __future__ import annotations

import json

from pixir.tools.registry import run_tool


def call(ctx, name, **args):
    return run_tool(name, args, ctx)


def error_kind(result):
    assert not result.ok, result.output
    body = json.loads(result.output)
    assert body["ok"] is False and body["error"] == result.error
    return result.error["kind"]
