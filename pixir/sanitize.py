"""Text from outside made safe: valid Unicode for the Log and requests, and inert for a
terminal (docs/reliability.md, "Bytes" and "Terminals").

- `text()` / `deep()`: lone surrogates (from a JSON `"\\ud800"`, or argv bytes Python could
  not decode) and NUL become U+FFFD, so any string encodes as UTF-8 and no session becomes
  unreadable.
- `decode()`: bytes → valid text, invalid UTF-8 as U+FFFD.
- `terminal()`: control characters made visible before text reaches a terminal: C0
  controls (ESC, CR, BEL, backspace, ...) and DEL as their Control Pictures (`␛`, `␍`, ...),
  C1 controls and bidirectional overrides as `<U+XXXX>`. Newlines and tabs stay; CRLF reads
  as a newline. Nothing a model, tool or server sends can move the cursor, clear the
  screen, set the title or write the clipboard (OSC 52).

Every presenter, command and diagnostic that prints such text goes through here; the code
is kept dependency-free so the lowest layers can use it.
"""

from __future__ import annotations

import re

REPLACEMENT = "\ufffd"

_INVALID = re.compile("[\x00\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# C0 except TAB and LF, DEL, C1, and the bidi embeddings/overrides/isolates that can make a
# command read differently from what runs ("Trojan source").
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def text(value: str) -> str:
    """`value` with every lone surrogate and NUL replaced by U+FFFD (a no-op, and cheap,
    for ordinary text)."""
    if _INVALID.search(value) is None:
        return value
    return _INVALID.sub(REPLACEMENT, value)


def decode(data: bytes) -> str:
    """Bytes as valid text: UTF-8, anything invalid (and NUL) as U+FFFD."""
    return text(data.decode("utf-8", "replace"))


def deep(value, fix=None):
    """`value` (JSON-shaped: dicts, lists, strings, numbers) with `fix` (default `text`)
    applied to every string, keys included."""
    fix = fix or text
    if isinstance(value, str):
        return fix(value)
    if isinstance(value, dict):
        return {fix(k) if isinstance(k, str) else k: deep(v, fix) for k, v in value.items()}
    if isinstance(value, list):
        return [deep(v, fix) for v in value]
    return value


def surrogates(value: str) -> str:
    """`value` with every lone surrogate replaced by U+FFFD, NUL kept (a tool refuses it
    with a clearer error than a path that does not exist)."""
    if _SURROGATE.search(value) is None:
        return value
    return _SURROGATE.sub(REPLACEMENT, value)


def needs_deep(raw: str | bytes) -> bool:
    """Whether JSON text may decode to strings `text` would change: it holds a `\\u` escape
    of a surrogate or of NUL (raw ones cannot occur in text decoded with replacement, and
    JSON forbids a raw NUL inside a string). A C-speed substring test first, so the hot
    path (every streamed event) pays next to nothing for the rare bad payload."""
    if isinstance(raw, bytes):
        return b"\\u" in raw and _ESCAPE_B.search(raw) is not None
    return "\\u" in raw and _ESCAPE.search(raw) is not None


_ESCAPE = re.compile(r"\\u(?:[dD][89abcdefABCDEF]|0000)")
_ESCAPE_B = re.compile(rb"\\u(?:[dD][89abcdefABCDEF]|0000)")


def terminal(value: str) -> str:
    """`value` safe to print on a terminal: control characters made visible (see the module
    docstring), lone surrogates as U+FFFD."""
    value = text(value)
    if _CONTROL.search(value) is None:
        return value
    if "\r\n" in value:
        value = value.replace("\r\n", "\n")
    return _CONTROL.sub(_show, value)


def _show(match: re.Match) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # ␀ ␁ … ␛ … ␟
    if code == 0x7F:
        return "\u2421"  # ␡
    return f"<U+{code:04X}>"


def for_stream(value: str, stream) -> str:
    """`value` for `stream`: made visible when it is a terminal, else only valid text
    (what a program or a file reading it gets is the text as it is)."""
    return terminal(value) if is_terminal(stream) else text(value)


def is_terminal(stream) -> bool:
    """True when `stream` is a terminal (False for a closed stream or one without a fd)."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
