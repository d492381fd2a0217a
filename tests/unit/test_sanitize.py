"""pixir/sanitize.py: valid text for the Log and requests, inert text for terminals."""

from __future__ import annotations

import io
import json

import pytest

from pixir import sanitize

FFFD = "\ufffd"


def test_text_replaces_lone_surrogates_and_nul_and_keeps_everything_else():
    assert sanitize.text("caf\udce9 \ud800\udfff \x00!") == f"caf{FFFD} {FFFD}{FFFD} {FFFD}!"
    ordinary = "plain ascii, é, 漢字, 😀, \x1b[31m, \t\n"
    assert sanitize.text(ordinary) is ordinary  # nothing to do: the same object, no copy
    sanitize.text("x\ud83d").encode("utf-8")  # strict: never raises afterwards


def test_decode_is_utf8_with_replacement():
    assert sanitize.decode(b"caf\xe9 \xc3\xa9 \x00 \xf0\x9f\x98\x80") == f"caf{FFFD} é {FFFD} 😀"


def test_deep_cleans_keys_values_and_nesting():
    value = json.loads('{"\\ud800": ["a\\udfff", {"b": "\\u0000"}], "n": 1, "ok": true}')
    assert sanitize.deep(value) == {FFFD: [f"a{FFFD}", {"b": FFFD}], "n": 1, "ok": True}
    json.dumps(sanitize.deep(value), ensure_ascii=False).encode("utf-8")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"a":"\\ud800"}', True),
        ('{"a":"\\uDFFF"}', True),
        ('{"a":"\\u0000"}', True),
        ('{"a":"\\u00e9 \\u001b"}', False),
        ('{"a":"plain"}', False),
    ],
)
def test_needs_deep_finds_escaped_surrogates_and_nul(raw, expected):
    assert sanitize.needs_deep(raw) is expected
    assert sanitize.needs_deep(raw.encode()) is expected


def test_terminal_makes_every_control_sequence_visible():
    hostile = (
        "rm -f precious.txt; echo\r\x1b[2K"  # carriage return + erase line: the --ask spoof
        "\x1b]52;c;ZXZpbA==\x07"  # OSC 52: write the clipboard
        "\x1b]0;title\x1b\\"  # set the window title
        "\x1b[2J\x1b[H"  # clear the screen
        "\x08\x08\x7f"  # backspace, DEL
        "\x9b31m"  # C1 CSI
        "\u202egnp.exe"  # right-to-left override
    )
    shown = sanitize.terminal(hostile)
    for char in shown:
        code = ord(char)
        assert not (code < 0x20 or 0x7F <= code <= 0x9F), repr(shown)
        assert char not in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
    assert shown.startswith("rm -f precious.txt; echo␍␛[2K␛]52;c;ZXZpbA==␇")
    assert "<U+009B>31m" in shown and "<U+202E>gnp.exe" in shown and "␈␈␡" in shown


def test_terminal_keeps_newlines_tabs_and_text_and_reads_crlf_as_a_newline():
    assert sanitize.terminal("a\tb\nc\r\nd é 漢 😀") == "a\tb\nc\nd é 漢 😀"
    assert sanitize.terminal("lone \ud800") == f"lone {FFFD}"


def test_for_stream_makes_visible_only_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert sanitize.for_stream("a\x1b[2Jb\ud800", io.StringIO()) == f"a\x1b[2Jb{FFFD}"
    assert sanitize.for_stream("a\x1b[2Jb", Tty()) == "a␛[2Jb"


def test_surrogates_replaces_lone_surrogates_and_keeps_nul_and_pairs():
    from pixir.sanitize import deep, surrogates

    assert surrogates("a\ud800b\x00c") == "a\ufffdb\x00c"
    assert surrogates("\U0001f600") == "\U0001f600"
    assert deep({"k\udc80": ["x\ud800\x00"]}, surrogates) == {"k\ufffd": ["x\ufffd\x00"]}
