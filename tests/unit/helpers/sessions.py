"""A session on disk with one finished Turn in it."""

from __future__ import annotations

from pixir import session as sessions


def seed(ws, prompt="fix the failing test"):
    session = sessions.create(ws, model="gpt-5.5", transport="auto", permission_mode="auto")
    session.append("user_message", {"text": prompt})
    session.append("tool_call", {"call_id": "c1", "name": "bash", "args": {"command": "pytest"}})
    session.append(
        "tool_result",
        {
            "call_id": "c1",
            "ok": True,
            "output": "Exit code: 1\n",
            "exit_code": 1,
            "summary": "exit 1",
        },
    )
    session.append("assistant_message", {"text": "Fixed it.", "finish_reason": "stop"})
    session.close()
    return session.id
