"""Fixtures for the agent's unit tests: a workspace, a new session in it, and a Turn runner
against a scripted provider."""

from __future__ import annotations

import pytest

from pixir import session as sessions
from pixir.tools.registry import ToolContext
from pixir.turn import Turn

from .scripted import ScriptedProvider, build_request

MODEL = "gpt-5.5"


@pytest.fixture
def ws(workspace):
    return workspace


@pytest.fixture
def new_session(ws):
    opened = []

    def make(mode: str = "auto", model: str = MODEL):
        session = sessions.create(ws, model=model, transport="http_sse", permission_mode=mode)
        opened.append(session)
        return session

    yield make
    for session in opened:
        session.close()


class Runner:
    """Runs one Turn of a session against scripted steps and keeps what happened."""

    def __init__(self, session, ws) -> None:
        self.session = session
        self.ws = ws
        self.events: list[dict] = []
        self.provider = None

    def __call__(self, prompt: str, *steps, max_steps: int = 256, ask=None, timeout_ms=120_000):
        self.provider = ScriptedProvider(*steps)
        turn = Turn(
            self.session,
            self.provider,
            build_request,
            ToolContext(self.ws, bash_timeout_ms=timeout_ms),
            self.events.append,
            max_steps=max_steps,
            ask=ask,
        )
        return turn.run(prompt)

    def types(self, canonical_only: bool = True) -> list[str]:
        return [e["type"] for e in self.events if not canonical_only or "seq" in e]


@pytest.fixture
def runner(new_session, ws):
    def make(mode: str = "auto", model: str = MODEL) -> Runner:
        return Runner(new_session(mode, model), ws)

    return make
