"""Light Markdown for an answer streamed to a terminal: headings and **bold** in bold,
`inline code` and fenced code blocks set apart, list bullets as `•`. Everything else —
tables, links, emphasis with one `*` — stays as written.

It renders while the text streams: a chunk is shown at once, except the few characters
that cannot be decided yet — the start of a line until it is known to be (or not to be) a
heading, a list item or a fence, and a trailing `*` or run of backticks. `flush()` shows
what is held at the end of the message.

The text fed in must already be inert (sanitize.terminal): the only control sequences in
the output are the SGR codes added here, and every line ends with the style reset, so a
cut stream never leaves the terminal bold.
"""

from __future__ import annotations

import re

BOLD = "1"
CODE = "36"  # cyan: inline code
FENCE = "2"  # dim: the ``` lines of a code block
RESET = "\x1b[0m"

_HEADING = re.compile(r"( {0,3})(#{1,6})[ \t]")
_BULLET = re.compile(r"( *)([-*+])[ \t]")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_MARKS = re.compile(r"[*`]")
MAX_HEAD = 12  # a line start longer than this is plain text (a heading's `###### ` is 7)


class MarkdownStream:
    """Feed chunks of one message with `feed`, then call `flush`; each returns the text to
    write. One instance per message."""

    def __init__(self) -> None:
        self._head = ""  # the undecided start of the current line
        self._at_start = True
        self._fence: str | None = None  # the open code block's fence (``` or ~~~), if any
        self._fence_line = False  # the current line is a fence: shown dim, whole
        self._pending_fence = ""  # the marker of the fence line being shown
        self._code_line = False  # the current line is inside a code block: shown as is
        self._bold = False
        self._heading = False
        self._code_ticks = 0  # backticks that opened the inline code span, 0: none
        self._held = ""  # a trailing `*` or backtick run, decided by the next character
        self._styled = False  # an SGR code is in effect on the current line

    # -- the interface ---------------------------------------------------------------------

    def feed(self, text: str) -> str:
        out: list[str] = []
        for line in text.splitlines(keepends=True):
            body = line[:-1] if line.endswith("\n") else line
            self._line(body, out)
            if line.endswith("\n"):
                self._end_line(out)
        return "".join(out)

    def flush(self) -> str:
        out: list[str] = []
        if self._at_start and self._head:
            rest = self._decide(self._head, out, final=True)
            if rest:
                self._write_rest(rest, out)
        self._release(out)
        if self._styled:
            out.append(RESET)
            self._styled = False
        return "".join(out)

    # -- lines -----------------------------------------------------------------------------

    def _line(self, body: str, out: list[str]) -> None:
        if not body:
            return
        if self._at_start:
            self._head += body
            rest = self._decide(self._head, out, final=False)
            if rest is None:
                return
            body = rest
        if self._fence_line or self._code_line:
            out.append(body)
        else:
            self._inline(body, out)

    def _end_line(self, out: list[str]) -> None:
        if self._at_start and self._head:
            rest = self._decide(self._head, out, final=True)
            if rest:
                self._write_rest(rest, out)
        self._release(out)
        if self._fence_line:  # a fence opens or closes a code block at its line's end
            self._fence = None if self._fence is not None else self._pending_fence
        if self._styled:
            out.append(RESET)
            self._styled = False
        out.append("\n")
        self._head, self._at_start = "", True
        self._fence_line = self._code_line = False
        self._bold = self._heading = False
        self._code_ticks = 0

    def _write_rest(self, rest: str, out: list[str]) -> None:
        if self._fence_line or self._code_line:
            out.append(rest)
        else:
            self._inline(rest, out)

    def _decide(self, head: str, out: list[str], *, final: bool) -> str | None:
        """Decide what the line starting with `head` is; returns the rest of it to show
        (after any marker that was rendered), or None while it cannot be told yet."""
        if self._fence is not None:  # inside a code block: its closing fence, or code
            fence = _FENCE.match(head)
            if (
                fence
                and fence.group(1)[0] == self._fence[0]
                and len(fence.group(1)) >= len(self._fence)
            ):
                return self._start_fence_line(head, out, fence.group(1), final)
            if not final and _could_be_fence(head, self._fence[0]):
                return None
            self._at_start = False
            self._code_line = True
            return head
        fence = _FENCE.match(head)
        if fence:
            return self._start_fence_line(head, out, fence.group(1), final)
        if not final and len(head) < MAX_HEAD and _undecided(head):
            return None
        self._at_start = False
        heading = _HEADING.match(head)
        if heading:
            self._heading = True
            self._set_style(out)
            return head[heading.end() :]
        bullet = _BULLET.match(head)
        if bullet:
            out.append(f"{bullet.group(1)}• ")
            return head[bullet.end() :]
        return head

    def _start_fence_line(self, head: str, out: list[str], marker: str, final: bool):
        if not final:
            return None  # the whole fence line (its info string) is shown at its end
        self._at_start = False
        self._fence_line = True
        self._pending_fence = marker
        out.append(f"\x1b[{FENCE}m")
        self._styled = True
        return head

    # -- inline spans ----------------------------------------------------------------------

    def _inline(self, text: str, out: list[str]) -> None:
        at, end = 0, len(text)
        while at < end:
            if self._held:
                char = text[at]
                held = self._held
                if char == held[0] and (char == "`" or len(held) < 2):
                    self._held += char
                    at += 1
                    continue
                self._resolve(out)
            found = _MARKS.search(text, at)
            if found is None:
                out.append(text[at:])
                return
            out.append(text[at : found.start()])
            self._held = found.group()
            at = found.end()

    def _resolve(self, out: list[str]) -> None:
        """Decide a held run of `*` or backticks (the next character is not one)."""
        held, self._held = self._held, ""
        if held[0] == "`":
            if self._code_ticks == 0:
                self._code_ticks = len(held)
                self._set_style(out)
            elif len(held) == self._code_ticks:
                self._code_ticks = 0
                self._set_style(out)
            else:
                out.append(held)
            return
        if held == "**" and self._code_ticks == 0:
            self._bold = not self._bold
            self._set_style(out)
        else:
            out.append(held)

    def _release(self, out: list[str]) -> None:
        """A held run at the end of a line or message: a closing marker takes effect, any
        other is shown as written."""
        if not self._held:
            return
        held = self._held
        closes = (held[0] == "`" and len(held) == self._code_ticks) or (held == "**" and self._bold)
        if closes:
            self._resolve(out)
        else:
            self._held = ""
            out.append(held)

    def _set_style(self, out: list[str]) -> None:
        codes = []
        if self._bold or self._heading:
            codes.append(BOLD)
        if self._code_ticks:
            codes.append(CODE)
        if self._styled:
            out.append(RESET)
        if codes:
            out.append(f"\x1b[{';'.join(codes)}m")
        self._styled = bool(codes)


def _undecided(head: str) -> bool:
    """Whether `head` could still turn out to be a heading, bullet or fence."""
    stripped = head.lstrip(" ")
    if not stripped:
        return True
    if set(stripped) <= {"#"} and len(stripped) <= 6:
        return True
    if stripped in ("-", "*", "+"):
        return True
    return _could_be_fence(head, "`") or _could_be_fence(head, "~")


def _could_be_fence(head: str, mark: str) -> bool:
    stripped = head.lstrip(" ")
    return len(head) - len(stripped) <= 3 and len(stripped) < 3 and set(stripped) <= {mark}
