"""Events and terminals for the presenter tests."""

from __future__ import annotations

import io

ESC = "\x1b["


def ev(type_, **data):
    return {"type": type_, "data": data}


class Tty(io.StringIO):
    def isatty(self):
        return True


NOTICE = {
    "type": "compaction",
    "session_id": "s",
    "data": {
        "trigger": "auto",
        "strategy": "model",
        "range": {"from_seq": 1, "to_seq": 412},
        "events": 412,
        "tokens_before": 40_000,
        "tokens_after": 2_000,
        "tokens_freed": 38_000,
    },
}
