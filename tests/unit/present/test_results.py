"""What a person is shown of tool results (pixir/present/results.py)."""

from __future__ import annotations

import json

from pixir.present import results


def bash_result(code: int, output: str) -> dict:
    text = f"Exit code: {code}\nWall time: 0.1 seconds\nOutput:\n{output}"
    return {"ok": True, "output": text, "exit_code": code}


def test_a_command_failed_when_it_exited_non_zero_or_was_not_ok():
    assert not results.failed(bash_result(0, ""))
    assert results.failed(bash_result(2, ""))
    assert results.failed({"ok": False, "error": {"kind": "timeout"}})
    assert not results.failed({"ok": True, "output": "read text"})


def test_command_output_is_the_commands_own_output():
    assert results.command_output(bash_result(1, "Output:\nboom\n")) == "Output:\nboom\n"
    kept = json.dumps({"ok": False, "error": {"kind": "timeout"}, "output": "partial\n"})
    assert results.command_output({"ok": False, "output": kept}) == "partial\n"
    assert results.command_output({"ok": False, "output": "not json"}) == ""


def test_tail_and_cap_count_what_they_leave_out():
    lines = [str(n) for n in range(10)]
    assert results.tail(lines, 6) == (4, lines[4:])
    assert results.tail(lines[:3], 6) == (0, lines[:3])
    assert results.cap(lines, 4) == (lines[:4], 6)
    assert results.output_lines("a\nb\n\n  \n") == ["a", "b"]
    assert results.output_lines("\n\n") == []


def test_diff_of_an_edit_and_a_write():
    edit = {
        "ok": True,
        "output": "Edited a.py: 1 replacement.\n--- a/a.py\n+++ b/a.py\n@@ -1 +1 @@\n-x\n+y",
    }
    assert results.diff_body(results.diff_of(edit)) == (["@@ -1 +1 @@", "-x", "+y"], 0)
    write = {"ok": True, "output": "Wrote 2 bytes", "diff": "--- a/n\n+++ b/n\n@@ -0,0 +1 @@\n+z"}
    assert results.diff_body(results.diff_of(write)) == (["@@ -0,0 +1 @@", "+z"], 0)
    cut = "@@ -1,200 +1,200 @@\n-a\n+b\n[... diff cut: 80 more lines ...]"
    assert results.diff_body(cut) == (["@@ -1,200 +1,200 @@", "-a", "+b"], 80)
    assert results.diff_of({"ok": True, "output": "Wrote 2 bytes"}) == ""


def test_line_count_reads_the_total_a_cut_output_reports():
    header = "Exit code: 0\nWall time: 1.0 seconds\nTotal output lines: 12000\nOutput:\n1\n"
    assert results.line_count({"output": header}) == 12000
    assert results.line_count(bash_result(0, "a\nTotal output lines: 7\n")) == 0  # output
    assert results.line_count({"output": None}) == 0
