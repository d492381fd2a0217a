"""Unit tests run in-process with a private PIXIR_HOME and no credential from the outside."""

from __future__ import annotations

import pytest

from pixir import session as sessions
from pixir.tools.registry import ToolContext
from pixir.turn import Turn
from tests.unit.helpers import MODEL
from tests.unit.helpers.scripted import ScriptedProvider, build_request

ISOLATED_VARS = (
    "OPENAI_API_KEY",
    "PIXIR_MODEL",
    "PIXIR_TRANSPORT",
    "PIXIR_AUTH_ISSUER",
    "PIXIR_CHATGPT_BASE_URL",
    "OPENAI_BASE_URL",
    "OPENAI_ORGANIZATION",
    "OPENAI_PROJECT",
    "PIXIR_DEBUG",
)


@pytest.fixture(autouse=True)
def pixir_home(tmp_path, monkeypatch):
    """A fresh, not-yet-created PIXIR_HOME for every test."""
    for var in ISOLATED_VARS:
        monkeypatch.delenv(var, raising=False)
    home = tmp_path / "pixir-home"
    monkeypatch.setenv("PIXIR_HOME", str(home))
    return home


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    folder = tmp_path / "workspace"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


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
