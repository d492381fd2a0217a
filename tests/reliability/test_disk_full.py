"""A disk that fills up while pixir appends to the session Log (docs/reliability.md, "A
full disk"): a clear `io_error` naming the Log and what to do, no crash report, and the Log
still ends with a whole event — readable, and resumed once there is room again.

The full disk is made without root tricks: the pixir process runs with RLIMIT_FSIZE just
above the Log's current size (Python ignores SIGXFSZ, so a write past it fails the way a
full disk does: part of it written, then an error).
"""

from __future__ import annotations

import resource
import subprocess

import pytest

from tests.fake_backend import step, text
from tests.harness import Result
from tests.reliability.conftest import check_log, record

pytestmark = pytest.mark.e2e


def run_limited(pixir, limit: int, *args: str) -> Result:
    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = subprocess.run(
        pixir.command(*args),
        env=pixir._env(None),
        cwd=pixir.workspace,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        preexec_fn=cap,
        timeout=60,
    )
    return Result(
        proc.returncode,
        proc.stdout.decode("utf-8", "replace"),
        proc.stderr.decode("utf-8", "replace"),
    )


def test_a_full_disk_during_a_log_append_is_a_clear_error_and_the_log_stays_whole(pixir, fake):
    fake.script(
        step(text("started")),
        step(text("a long answer\n" * 20000)),  # ~280 KB: its Log line does not fit
        step(text("resumed")),
    )
    pixir.login_api_key()
    assert pixir.run("start").code == 0
    [log] = pixir.sessions()
    before = log.stat().st_size

    result = run_limited(pixir, before + 4096, "-c", "write a lot")

    assert result.code == 1, result
    assert f"error: io_error: cannot append to the session Log {log}" in result.stderr, result
    assert f"pixir resume {log.stem}" in result.stderr  # what to do next
    assert "internal" not in result.stderr and "Traceback" not in result.stderr, result
    assert not (pixir.home / "crash").exists(), "a crash report for a full disk"
    data = log.read_bytes()
    assert data.endswith(b"\n"), "a torn line was left"
    assert len(data) <= before + 4096
    check_log(log)

    again = pixir.run("-c", "carry on")
    assert again.code == 0 and again.stdout == "resumed\n", again
    check_log(log)
    record("disk_full_attacks")
