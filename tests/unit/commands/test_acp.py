"""pixir/commands/acp.py: stdout belongs to the protocol alone (docs/acp.md, "Process")."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

SCRIPT = """
import os, subprocess, sys
from pixir.commands.acp import guard_stdio
in_fd, out_fd = guard_stdio()
print("a stray print")
sys.stdout.write("a stray write\\n")
os.write(1, b"a write to fd 1\\n")
subprocess.run(["sh", "-c", "echo a child process; cat"])  # stdin: /dev/null, not the protocol
os.write(out_fd, b'{"jsonrpc":"2.0"}\\n')
os.write(2, os.read(in_fd, 100))
"""


def test_only_the_protocol_writer_reaches_stdout_and_only_the_reader_reads_stdin():
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        input=b"protocol input\n",
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == b'{"jsonrpc":"2.0"}\n'
    for line in (b"a stray print", b"a stray write", b"a write to fd 1", b"a child process"):
        assert line in done.stderr
    assert done.stderr.endswith(b"protocol input\n")  # the child's `cat` read none of it
