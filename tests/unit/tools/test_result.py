"""The output cap every tool result shares."""

from __future__ import annotations

from pixir.tools.result import MAX_BYTES, MAX_LINES


def test_the_output_cap_is_2000_lines_and_50_kib():
    # the tests below use the constants; this pins them to the numbers of docs/tools.md
    assert (MAX_LINES, MAX_BYTES) == (2000, 50 * 1024)
