"""Finding and reading sessions end to end: the built `dist/pixir` run in a
subdirectory of a repository finds the sessions at its root, a resumed session works where
it was started, `pixir log` marks failed commands and reads `--last`, and times are shown
in the local zone."""

from __future__ import annotations

import calendar
import subprocess
import time

import pytest

from tests.fake_backend import step, text, tool_call
from tests.harness import user_texts

pytestmark = pytest.mark.e2e

# UTC+05:30, named PXT: a POSIX TZ string needs no time zone database on the machine.
ZONE = {"TZ": "PXT-05:30"}


@pytest.fixture
def repo(pixir):
    """A git repository (the workspace) with a subdirectory `pkg/sub`."""
    subprocess.run(["git", "init", "-q"], cwd=pixir.workspace, check=True)
    (pixir.workspace / "pkg" / "sub").mkdir(parents=True)
    pixir.login_api_key()
    return pixir


def test_a_subdirectory_finds_the_sessions_of_the_repository_root(repo, fake):
    root, sub, other = repo.workspace, repo.workspace / "pkg" / "sub", repo.workspace / "pkg"
    fake.script(step(tool_call("bash", {"command": "pwd"})), step(text("started")))
    first = repo.run("begin here", cwd=sub)
    assert first.code == 0, first
    [log] = repo.sessions()  # at the root, not in pkg/sub
    sid = log.stem
    # pkg/sub holds only the empty .pixir/ the sandbox keeps read-only (docs/sandbox.md)
    assert [p.name for p in (sub / ".pixir").iterdir()] == []
    assert repo.log_events()[0]["data"]["workspace"] == str(sub)

    listed = repo.run("sessions", cwd=other)
    assert listed.code == 0 and sid in listed.stdout, listed
    shown = repo.run("log", sid, cwd=other)
    assert shown.code == 0 and "begin here" in shown.stdout, shown

    # -c from another subdirectory continues it, in the directory it was started in
    fake.script(step(tool_call("bash", {"command": "pwd"})), step(text("continued")))
    again = repo.run("-c", "go on", cwd=other)
    assert again.code == 0, again
    assert again.stdout == "continued\n"
    assert user_texts(fake.responses_requests()[-1]) == ["begin here", "go on"]
    outputs = [e["data"]["output"] for e in repo.log_events() if e["type"] == "tool_result"]
    assert outputs[-1].rstrip().endswith(str(sub))
    assert len(repo.sessions()) == 1

    fake.script(step(text("by id")))
    resumed = repo.run("resume", sid, "and more", cwd=sub)
    assert resumed.code == 0 and resumed.stdout == "by id\n", resumed

    # -C names the directory exactly: its own sessions, none here
    alone = repo.run("-C", str(sub), "sessions", cwd=root)
    assert alone.code == 0 and "no sessions" in alone.stdout, alone


def test_pixir_log_marks_a_command_that_failed_and_reads_last(repo, fake):
    fake.script(
        step(tool_call("bash", {"command": "printf 'one\\ntwo\\nboom: it broke\\n'; exit 1"})),
        step(tool_call("bash", {"command": "echo fine"})),
        step(text("done")),
    )
    assert repo.run("try it").code == 0
    result = repo.run("log", "--last")
    assert result.code == 0, result
    lines = result.stdout.splitlines()
    failed = lines.index("› bash printf 'one\\ntwo\\nboom: it broke\\n'; exit 1")
    assert lines[failed + 1].startswith("  ✗ exit 1 · "), result
    assert lines[failed + 2 : failed + 5] == ["    one", "    two", "    boom: it broke"]
    passed = lines.index("› bash echo fine")
    assert lines[passed + 1].startswith("  ✓ exit 0 · ") and lines[passed + 2] == "    fine"


def test_sessions_and_log_show_local_times_with_the_zone(repo, fake):
    fake.script(step(text("hello")))
    assert repo.run("hi").code == 0
    started = repo.log_events()[0]["ts"]
    utc = calendar.timegm(time.strptime(started[:19], "%Y-%m-%dT%H:%M:%S"))
    local = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(utc + 5.5 * 3600))
    listed = repo.run("sessions", env=ZONE)
    assert f"  {local[:16]} PXT  " in listed.stdout, listed
    shown = repo.run("log", "--last", env=ZONE)
    assert f" · {local} PXT · model " in shown.stdout.splitlines()[0], shown
    assert "UTC" not in shown.stdout
