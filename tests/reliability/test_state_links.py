"""A repository that ships the workspace's own `.pixir` (or a part of it) as a symbolic
link (docs/reliability.md, "The workspace's .pixir"): every command that would create,
write or read the session Logs there stops with `unsafe_path` (exit 2) before any model
call — `--read-only` included — and nothing is written outside the workspace.

Through the built dist/pixir against the fake.
"""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from tests.fake_backend import step, text
from tests.reliability.conftest import record

pytestmark = pytest.mark.e2e


def snapshot(folder) -> dict[str, str]:
    """Every file under `folder` with a hash of its content (links not followed)."""
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_symlink() or not path.is_file():
            out[str(path.relative_to(folder))] = "dir" if path.is_dir() else "link"
        else:
            out[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def planted_log(sid: str) -> str:
    started = {"model": "gpt-5.4", "permission_mode": "auto"}
    event = {"id": "0" * 16, "session_id": sid, "seq": 0, "ts": "2026-01-01T00:00:00.0Z"}
    return json.dumps({**event, "type": "session_started", "data": started}) + "\n"


@pytest.fixture
def outside(tmp_path):
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "existing.txt").write_text("keep me\n")
    return folder


def ship(pixir, outside, shape: str) -> None:
    """Lay out the hostile repository."""
    state = pixir.workspace / ".pixir"
    if shape == ".pixir -> a folder outside":
        state.symlink_to(outside)
    elif shape == ".pixir -> nowhere (dangling)":
        state.symlink_to(outside / "made-by-pixir")
    elif shape == ".pixir/.gitignore -> nowhere (dangling)":
        state.mkdir()
        (state / ".gitignore").symlink_to(outside / "gitignore-made-by-pixir")
    elif shape == ".pixir/.gitignore -> a file outside":
        state.mkdir()
        (state / ".gitignore").symlink_to(outside / "existing.txt")
    elif shape == ".pixir/sessions -> a folder outside":
        state.mkdir()
        (state / ".gitignore").write_text("*\n")
        (state / "sessions").symlink_to(outside)
    else:
        raise AssertionError(shape)


SHAPES = [
    ".pixir -> a folder outside",
    ".pixir -> nowhere (dangling)",
    ".pixir/.gitignore -> nowhere (dangling)",
    ".pixir/.gitignore -> a file outside",
    ".pixir/sessions -> a folder outside",
]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("mode", ["--read-only", "--ask", None])
def test_a_shipped_link_in_pixir_is_refused_before_any_model_call(
    pixir, fake, outside, shape, mode
):
    ship(pixir, outside, shape)
    before = snapshot(outside)
    fake.script(step(text("hello")))
    pixir.login_api_key()
    args = ["hello"] + ([mode] if mode else [])
    result = pixir.run(*args)
    assert result.code == 2, result
    assert "error: unsafe_path:" in result.stderr and "symbolic link" in result.stderr, result
    assert "Traceback" not in result.stderr and "internal" not in result.stderr
    assert snapshot(outside) == before, "something was written outside the workspace"
    assert fake.responses_requests() == []
    body = pixir.json_out(pixir.run(*args, "--json"))
    assert body["error"]["kind"] == "unsafe_path" and body["exit_code"] == 2
    record("state_link_attacks")


@pytest.mark.parametrize(
    "shape", [".pixir -> a folder outside", ".pixir/sessions -> a folder outside"]
)
def test_reading_sessions_through_a_shipped_link_is_refused(pixir, fake, outside, shape):
    # what a repository could ship there: a crafted session for `pixir -c` to continue
    sid = "20260101T000000-abcdef"
    (outside / f"{sid}.jsonl").write_text(planted_log(sid))
    ship(pixir, outside, shape)
    before = snapshot(outside)
    pixir.login_api_key()
    for args in (("-c", "go on"), ("resume", sid, "go on"), ("log", sid), ("sessions",)):
        result = pixir.run(*args)
        assert result.code == 2 and "unsafe_path" in result.stderr, (args, result)
    assert snapshot(outside) == before
    assert fake.responses_requests() == []
    record("state_link_attacks")


def test_a_session_log_shipped_as_a_link_is_neither_listed_nor_resumed(pixir, fake, outside):
    sid = "20260101T000000-abcdef"
    target = outside / "planted.jsonl"
    target.write_text(planted_log(sid))
    sessions = pixir.workspace / ".pixir" / "sessions"
    sessions.mkdir(parents=True)
    (sessions / f"{sid}.jsonl").symlink_to(target)
    before = snapshot(outside)
    pixir.login_api_key()
    listed = pixir.run("sessions", "--json")
    assert listed.code == 0 and pixir.json_out(listed)["sessions"] == []
    latest = pixir.run("-c", "go on")
    assert latest.code == 2 and "no sessions in this workspace" in latest.stderr, latest
    for args in (("resume", sid, "go on"), ("log", sid)):
        result = pixir.run(*args)
        assert result.code == 2 and "unsafe_path" in result.stderr, (args, result)
    assert snapshot(outside) == before
    record("state_link_attacks")


def test_a_real_pixir_folder_still_works(pixir, fake):
    """The control: pixir makes .pixir, .pixir/.gitignore and sessions itself, as before."""
    fake.script(step(text("hello")))
    pixir.login_api_key()
    result = pixir.run("--read-only", "hello")
    assert result.code == 0, result
    state = pixir.workspace / ".pixir"
    assert (state / ".gitignore").read_text() == "*\n"
    assert len(pixir.sessions()) == 1
    assert not any(os.path.islink(p) for p in state.rglob("*"))
