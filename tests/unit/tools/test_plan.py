"""The update_plan tool."""

from __future__ import annotations

from tests.unit.helpers.tools import call, error_kind


def test_update_plan(ctx):
    steps = [
        {"step": "read", "status": "completed"},
        {"step": "fix", "status": "in_progress"},
        {"step": "test", "status": "pending"},
    ]
    result = call(ctx, "update_plan", steps=steps)
    assert result.ok and "1 completed, 1 in progress, 1 pending" in result.output


def test_update_plan_errors(ctx):
    assert error_kind(call(ctx, "update_plan", steps=[])) == "invalid_arguments"
    bad = [{"step": "a", "status": "doing"}]
    assert error_kind(call(ctx, "update_plan", steps=bad)) == "invalid_arguments"
    two = [{"step": "a", "status": "in_progress"}, {"step": "b", "status": "in_progress"}]
    assert error_kind(call(ctx, "update_plan", steps=two)) == "invalid_arguments"
