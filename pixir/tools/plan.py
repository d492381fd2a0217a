"""`update_plan {steps: [{step, status}]}` (docs/tools.md): the model's plan for a multi-step task.
Nothing happens on disk; presenters show the plan from the `tool_call` Event (on stderr)."""

from __future__ import annotations

from pixir.tools.result import ToolFailure, ToolResult

STATUSES = ("pending", "in_progress", "completed")


def run(args: dict, ctx) -> ToolResult:
    steps = args.get("steps")
    if not isinstance(steps, list) or not steps:
        raise ToolFailure("invalid_arguments", "steps must be a non-empty array")
    counts = dict.fromkeys(STATUSES, 0)
    for number, step in enumerate(steps, 1):
        if (
            not isinstance(step, dict)
            or not isinstance(step.get("step"), str)
            or step.get("status") not in STATUSES
        ):
            raise ToolFailure(
                "invalid_arguments",
                f"steps[{number - 1}] must be {{step: string, status: pending|in_progress|"
                "completed}",
            )
        counts[step["status"]] += 1
    if counts["in_progress"] > 1:
        raise ToolFailure("invalid_arguments", "at most one step may be in_progress")
    summary = (
        f"{len(steps)} steps: {counts['completed']} completed, "
        f"{counts['in_progress']} in progress, {counts['pending']} pending"
    )
    return ToolResult(True, f"Plan updated ({summary}).", summary=summary)
