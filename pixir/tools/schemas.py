"""The function tools offered to the model (docs/tools.md), as Responses API tool objects.

Data only, so the request builder can use them without importing any tool. The same list
is sent in every mode: permission refusals happen when a call runs, which keeps the
instructions and tool set byte-stable for the prompt cache.
"""

from __future__ import annotations


def _tool(name: str, description: str, properties: dict, required: list[str]) -> dict:
    return {
        "type": "function",
        "name": name,
        "description": description,
        "strict": False,
        "parameters": {
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": False,
        },
    }


READ = _tool(
    "read",
    "Read a text file in the workspace. Lines are numbered from 1. Output is capped at "
    "2000 lines or 50 KiB; use offset and limit to read the rest.",
    {
        "path": {"type": "string", "description": "File path, relative to the workspace."},
        "offset": {"type": "integer", "minimum": 1, "description": "First line (1-based)."},
        "limit": {"type": "integer", "minimum": 1, "description": "Number of lines."},
    },
    ["path"],
)

WRITE = _tool(
    "write",
    "Create or overwrite a file in the workspace with the given content. Parent "
    "directories are created. Prefer edit for changes to an existing file.",
    {
        "path": {"type": "string", "description": "File path, relative to the workspace."},
        "content": {"type": "string", "description": "The complete new file content."},
    },
    ["path", "content"],
)

EDIT = _tool(
    "edit",
    "Replace text in a file. old_string must match exactly once (include surrounding "
    "lines to make it unique) unless replace_all is true. Returns a unified diff.",
    {
        "path": {"type": "string", "description": "File path, relative to the workspace."},
        "old_string": {"type": "string", "description": "Exact text to replace."},
        "new_string": {"type": "string", "description": "Replacement text."},
        "replace_all": {
            "type": "boolean",
            "description": "Replace every occurrence instead of exactly one.",
        },
    },
    ["path", "old_string", "new_string"],
)

BASH = _tool(
    "bash",
    "Run a command with `bash -c` in the workspace (stdin closed, stdout and stderr "
    "merged). Returns the exit code, duration and output (the tail is kept when long).",
    {
        "command": {"type": "string", "description": "The shell command."},
        "timeout_ms": {
            "type": "integer",
            "minimum": 1,
            "description": "Wall-clock limit in milliseconds (default 120000).",
        },
    },
    ["command"],
)

UPDATE_PLAN = _tool(
    "update_plan",
    "Record the plan for a multi-step task and the status of each step.",
    {
        "steps": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "step": {"type": "string"},
                    "status": {"type": "string", "enum": ["pending", "in_progress", "completed"]},
                },
                "required": ["step", "status"],
                "additionalProperties": False,
            },
        }
    },
    ["steps"],
)

TOOLS: tuple[dict, ...] = (READ, WRITE, EDIT, BASH, UPDATE_PLAN)
