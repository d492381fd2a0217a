"""A real ACP client for the `pixir acp` end-to-end tests: the Python SDK
`agent-client-protocol` (a test-only dependency), whose generated schema types parse
every answer and update pixir sends — so a message that does not fit the schema fails the
test. `strict(model, data)` goes further: the SDK salvages some malformed fields by
replacing them with defaults; strict parsing refuses that.

    def test_x(pixir):
        async def scenario(agent):
            await agent.conn.initialize(protocol_version=1)
            ...
        run_agent(pixir, scenario)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from acp import RequestError, spawn_agent_process
from acp.schema import (
    AllowedOutcome,
    DeniedOutcome,
    RequestPermissionResponse,
)

STDIO_LIMIT = 64 * 1024 * 1024


class RecordingClient:
    """The client side: records every session/update, answers permission requests with
    `choose(tool_call, options) -> option id | None` (None: cancelled)."""

    def __init__(self) -> None:
        self.updates: list[tuple[str, Any]] = []
        self.permission_requests: list[Any] = []
        self.choose: Callable[[Any, list], str | None] = lambda call, options: options[0].option_id
        self.changed = asyncio.Event()

    async def request_permission(self, session_id, tool_call, options, **kwargs):
        self.permission_requests.append(tool_call)
        self.changed.set()
        chosen = self.choose(tool_call, options)
        if chosen is None:
            return RequestPermissionResponse(outcome=DeniedOutcome(outcome="cancelled"))
        return RequestPermissionResponse(
            outcome=AllowedOutcome(outcome="selected", option_id=chosen)
        )

    async def session_update(self, session_id, update, **kwargs):
        self.updates.append((session_id, update))
        self.changed.set()

    def kinds(self, session_id: str | None = None) -> list[str]:
        return [u.session_update for s, u in self.updates if session_id in (None, s)]

    def of_kind(self, kind: str, session_id: str | None = None) -> list[Any]:
        return [u for s, u in self.updates if u.session_update == kind and session_id in (None, s)]

    def agent_text(self, session_id: str | None = None) -> str:
        return "".join(u.content.text for u in self.of_kind("agent_message_chunk", session_id))

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 30) -> None:
        """Until `predicate()` holds: checked on every update, and every 50 ms (for what
        changes elsewhere, a file in the workspace)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not predicate():
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise AssertionError(f"not reached in {timeout}s; updates: {self.kinds()[-8:]}")
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), min(left, 0.05))
            except asyncio.TimeoutError:
                pass

    # The client offers no file system or terminal: pixir must not ask for them.
    async def write_text_file(self, *a, **k):
        raise RequestError.method_not_found("fs/write_text_file")

    async def read_text_file(self, *a, **k):
        raise RequestError.method_not_found("fs/read_text_file")

    async def create_terminal(self, *a, **k):
        raise RequestError.method_not_found("terminal/create")

    async def ext_method(self, method, params):
        raise RequestError.method_not_found(method)

    async def ext_notification(self, method, params):
        return None


class Agent:
    """A running `pixir acp` with its SDK connection and the recording client."""

    def __init__(self, conn, process, client: RecordingClient) -> None:
        self.conn = conn
        self.process = process
        self.client = client


def run_agent(
    pixir,
    scenario: Callable[[Agent], Awaitable[Any]],
    *args: str,
    env: dict | None = None,
    timeout: float = 90,
) -> Any:
    """Start `dist/pixir acp` under the SDK, run `scenario(agent)`, close stdin, wait for the
    exit. Returns what the scenario returned; stderr is kept in `pixir.root/acp-stderr`."""

    async def main():
        client = RecordingClient()
        argv = pixir.command("acp", *args)
        stderr_path = pixir.root / "acp-stderr"
        with open(stderr_path, "ab") as stderr:
            async with spawn_agent_process(
                client,
                argv[0],
                *argv[1:],
                env=pixir._env(env),
                cwd=str(pixir.workspace),
                transport_kwargs={"stderr": stderr, "limit": STDIO_LIMIT},
            ) as (conn, process):
                agent = Agent(conn, process, client)
                try:
                    return await asyncio.wait_for(scenario(agent), timeout)
                finally:
                    with contextlib.suppress(Exception):
                        process.stdin.close()

    return asyncio.run(main())


def strict(model: type, data: dict) -> Any:
    """`model.model_validate(data)`, refusing what the SDK would quietly salvage: every key
    of `data` must survive the round trip with its value."""
    parsed = model.model_validate(data)
    back = parsed.model_dump(by_alias=True, exclude_unset=True, mode="json")
    _same(data, back, model.__name__)
    return parsed


def _same(sent: Any, parsed: Any, where: str) -> None:
    if isinstance(sent, dict):
        assert isinstance(parsed, dict), f"{where}: {sent!r} became {parsed!r}"
        for key, value in sent.items():
            assert key in parsed, f"{where}.{key} was dropped by the schema types: {value!r}"
            _same(value, parsed[key], f"{where}.{key}")
    elif isinstance(sent, list):
        assert isinstance(parsed, list) and len(parsed) == len(sent), f"{where}: {sent!r}"
        for i, (a, b) in enumerate(zip(sent, parsed, strict=True)):
            _same(a, b, f"{where}[{i}]")
    else:
        assert sent == parsed, f"{where}: sent {sent!r}, the schema types made it {parsed!r}"
