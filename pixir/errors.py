"""One error family for everything pixir reports, and the one place kinds map to exit codes."""

from __future__ import annotations

# The exit codes of docs/cli.md. A kind not listed here is a runtime/provider error (exit 1).
EXIT_CODES: dict[str, int] = {
    # 2: invalid arguments, bad configuration, unknown model or session
    "invalid_arguments": 2,
    "unknown_command": 2,  # a first word that looks like a command but is none
    "config_invalid": 2,
    "unknown_model": 2,
    "not_found": 2,
    "insecure_transport": 2,
    "unsafe_path": 2,  # a path pixir must not follow (a symlinked .pixir, ...)
    "model_not_supported": 2,  # the backend refused the model id: a configuration problem
    # 3: refused by permissions
    "permission_denied": 3,
    # 4: no usable credential, or a login that did not produce one
    "not_authenticated": 4,
    "corrupt_auth": 4,
    "device_code_unsupported": 4,
    "login_timeout": 4,
    "login_failed": 4,
    # 5: another process holds the session
    "session_busy": 5,
    # 6: no final answer (step cap, schema mismatch, truncated)
    "incomplete": 6,
    "max_steps": 6,
    "schema_mismatch": 6,
    # 7: the ChatGPT plan's usage limit
    "usage_limit_reached": 7,
    # 124: no byte from the provider for stream_idle_timeout_ms
    "stream_idle_timeout": 124,
    # 128 + the signal that stopped a Turn: Ctrl-C, SIGTERM, SIGHUP
    "interrupted": 130,
    "terminated": 143,
    "hangup": 129,
}

# Not in the table, so exit 1: `stream_too_large` (a server's event, answer or output past
# the memory caps), `io_error`, `network`, ... (docs/reliability.md).

# Kinds worth another attempt (docs/provider.md). Callers may override per instance.
RETRYABLE_KINDS = frozenset(
    {
        "network",
        "rate_limited",
        "server_error",
        "stream_incomplete",
        "stream_idle_timeout",
        "websocket_closed",
    }
)

# The opening of a usage limit's hint: the presenters make it concrete ("try again after
# 14:32") when the error's details say when the limit resets.
WAIT_FOR_RESET = "wait for the reset"


class PixirError(Exception):
    """A failure pixir expects and can explain: `kind` (snake_case), a one-line message,
    structured `details`, whether a retry may help, and an optional hint (the next action)."""

    def __init__(
        self,
        kind: str,
        message: str,
        details: dict | None = None,
        *,
        retryable: bool | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.details = details or {}
        self.retryable = kind in RETRYABLE_KINDS if retryable is None else retryable
        self.hint = hint

    @property
    def exit_code(self) -> int:
        return exit_code_for(self.kind)

    def to_dict(self) -> dict:
        """The `error` object of `--json` output (a `turn_failed` Log event has
        `error_kind` and `error_message` instead)."""
        return {"kind": self.kind, "message": self.message, "details": self.details}

    def __repr__(self) -> str:
        return f"PixirError({self.kind!r}, {self.message!r})"


def exit_code_for(kind: str) -> int:
    """The process exit code for an error kind (docs/cli.md)."""
    return EXIT_CODES.get(kind, 1)
