"""`edit {path, old_string, new_string, replace_all?}` (docs/tools.md): replace an exact, unique
match (or every match with `replace_all`); if there is no exact match, a match that ignores
whitespace runs and curly quotes is used when it is unique. The file keeps its line endings
and BOM, is replaced atomically (owner, group and mode kept; reached without following
symlinks: pixir/tools/files.py), and the result carries a short unified diff.

An edit of a file that changed on disk since the model read or wrote it in this run is
refused ("changed since read"), and so is one whose file changes while the edit runs; what
another program appends right around the rename is carried into the new file."""

from __future__ import annotations

import difflib
import os
import re
import time
from pathlib import Path

from pixir.tools import files
from pixir.tools.result import ToolFailure, ToolResult, human_size
from pixir.tools.workspace import display_path, resolve_for_write

BOM = b"\xef\xbb\xbf"
DIFF_MAX_LINES = 120
MAX_EDIT_BYTES = 64 << 20  # the whole file is read, changed and written in memory
# After the rename, appends another program made to the old file are carried over until it
# has been quiet this long (docs/reliability.md, "Files the model touches").
CARRY_QUIET_S = 0.01
CARRY_POLL_S = 0.002
CARRY_MAX_S = 0.5
# Horizontal whitespace: space, tab, no-break and the typographic spaces.
HSPACE = frozenset(" \t\u00a0\u202f\u3000" + "".join(map(chr, range(0x2000, 0x200B))))
QUOTES = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u2032": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u201f": '"',
    "\u2033": '"',
}


def run(args: dict, ctx) -> ToolResult:
    old, new, replace_all = _arguments(args)
    target = resolve_for_write(ctx.workspace, args.get("path"))
    shown = display_path(ctx.workspace, target)
    root = Path(os.path.realpath(ctx.workspace))
    place = None
    try:
        place = files.open_place(root, target, shown, create=False)
        fd, before = place.open_regular()
    except ToolFailure as failure:
        if place is not None:
            place.close()
        if failure.kind == "not_found":
            failure.message += "; use write to create a new file"
        raise
    with place:
        try:
            if files.changed_since_seen(ctx, target, before):
                raise ToolFailure(
                    "changed_since_read",
                    f"{shown} changed on disk since you last read it (another program wrote "
                    "to it); nothing was changed. Read it again, then edit",
                )
            files.check_replaceable(place, before, fd)
            if before.st_size > MAX_EDIT_BYTES:
                raise ToolFailure(
                    "file_too_large",
                    f"{shown} is {human_size(before.st_size)}; edit works on files up to "
                    f"{MAX_EDIT_BYTES >> 20} MiB (change it with bash, e.g. sed -i)",
                )
            raw = _read(fd, before.st_size, shown)
            return _edit(ctx, place, target, fd, before, raw, old, new, replace_all)
        finally:
            os.close(fd)


def preview(args: dict, ctx) -> str:
    """The unified diff the edit would make, worked out without writing anything (ask mode
    shows it before asking); raises ToolFailure when the edit would fail."""
    old, new, replace_all = _arguments(args)
    target = resolve_for_write(ctx.workspace, args.get("path"))
    shown = display_path(ctx.workspace, target)
    place = files.open_place(Path(os.path.realpath(ctx.workspace)), target, shown, create=False)
    with place:
        fd, before = place.open_regular()
        try:
            if before.st_size > MAX_EDIT_BYTES:
                raise ToolFailure("file_too_large", f"{shown} is {human_size(before.st_size)}")
            raw = _read(fd, before.st_size, shown)
        finally:
            os.close(fd)
    text = _decode(raw, shown)[1]
    updated = _change(text, old, new, replace_all, shown)[0]
    return unified_diff(text, updated, shown)[0]


def _arguments(args: dict) -> tuple[str, str, bool]:
    old, new = args.get("old_string"), args.get("new_string")
    replace_all = args.get("replace_all", False)
    if not isinstance(old, str) or not isinstance(new, str):
        raise ToolFailure("invalid_arguments", "old_string and new_string must be strings")
    if not isinstance(replace_all, bool):
        raise ToolFailure("invalid_arguments", "replace_all must be true or false")
    if not old:
        raise ToolFailure(
            "invalid_arguments", "old_string is empty; use write to create or replace a file"
        )
    if old == new:
        raise ToolFailure("invalid_arguments", "old_string and new_string are identical")
    return old, new, replace_all


def _decode(raw: bytes, shown: str) -> tuple[bool, str]:
    """(whether the file starts with a BOM, its text)."""
    bom = raw.startswith(BOM)
    try:
        text = raw[len(BOM) if bom else 0 :].decode("utf-8")
    except UnicodeDecodeError:
        raise ToolFailure(
            "not_text", f"{shown} is not UTF-8 text; edit refuses to re-encode it"
        ) from None
    if "\0" in text[:8192]:
        raise ToolFailure("binary_file", f"{shown} looks like a binary file")
    return bom, text


def _change(text: str, old: str, new: str, replace_all: bool, shown: str):
    """(the text after the edit, how many replacements, whether the match was fuzzy)."""
    crlf = uses_crlf(text)
    old_f, new_f = with_line_endings(old, crlf), with_line_endings(new, crlf)
    count = text.count(old_f)
    if count == 0:
        start, end = fuzzy_span(text, old_f, shown)
        return text[:start] + new_f + text[end:], 1, True
    if count > 1 and not replace_all:
        raise ToolFailure(
            "not_unique",
            f"old_string occurs {count} times in {shown}; include more surrounding lines to "
            "make it unique, or set replace_all to change every occurrence",
            count=count,
        )
    updated = text.replace(old_f, new_f) if replace_all else text.replace(old_f, new_f, 1)
    return updated, count, False


def _edit(ctx, place, target, fd, before, raw, old, new, replace_all) -> ToolResult:
    shown = place.shown
    bom, text = _decode(raw, shown)
    updated, count, fuzzy = _change(text, old, new, replace_all, shown)

    payload = (BOM if bom else b"") + updated.encode("utf-8")

    def unchanged() -> None:  # right before the rename: nothing another program wrote is lost
        now = os.fstat(fd)
        if (now.st_size, now.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
            raise ToolFailure(
                "changed_since_read",
                f"{shown} changed on disk while pixir edited it (another program wrote to "
                "it); nothing was changed. Read it again, then edit",
            )

    try:
        new_fd = files.replace(place, payload, before, before_rename=unchanged)
    except OSError as exc:
        raise ToolFailure("io_error", f"cannot write {shown}: {exc.strerror}") from None
    try:
        carried = _carry_appends(fd, new_fd, before.st_size)
        files.remember(ctx, target, os.fstat(new_fd))
    finally:
        os.close(new_fd)
    diff, added, removed = unified_diff(text, updated, shown)
    how = " (matched after normalising whitespace and quotes)" if fuzzy else ""
    plural = "s" if count != 1 else ""
    output = f"Edited {shown}: {count} replacement{plural}{how}.\n{diff}"
    if carried:
        output += (
            f"\n[{carried} bytes another program appended to {shown} while it was being "
            "edited were kept at its end]"
        )
    return ToolResult(True, output, summary=f"+{added} −{removed}")


def _read(fd: int, size: int, shown: str) -> bytes:
    chunks, total = [], 0
    try:
        while total <= size:  # a file that grew meanwhile is caught before the rename
            chunk = os.read(fd, max(size - total, 0) + 1)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as exc:
        raise ToolFailure("io_error", f"cannot read {shown}: {exc.strerror}") from None
    return b"".join(chunks)


def _carry_appends(old_fd: int, new_fd: int, old_size: int) -> int:
    """Bytes another program appended to the old file around the rename (its `>>` opened
    the old file just before): appended to the new one (whose end others may be appending
    to by now, hence O_APPEND), until the old file has been quiet for a moment. Returns
    how many."""
    import fcntl

    carried = 0
    quiet_since = time.monotonic()
    deadline = quiet_since + CARRY_MAX_S
    while time.monotonic() < deadline:
        size = os.fstat(old_fd).st_size
        if size > old_size:
            extra = os.pread(old_fd, size - old_size, old_size)
            if not carried:
                fcntl.fcntl(new_fd, fcntl.F_SETFL, fcntl.fcntl(new_fd, fcntl.F_GETFL) | os.O_APPEND)
            view = memoryview(extra)
            while view:
                view = view[os.write(new_fd, view) :]
            old_size += len(extra)
            carried += len(extra)
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= CARRY_QUIET_S:
            break
        time.sleep(CARRY_POLL_S)
    if carried:
        os.fsync(new_fd)
    return carried


def uses_crlf(text: str) -> bool:
    """True when CRLF is the file's dominant line ending."""
    crlf = text.count("\r\n")
    return crlf > 0 and crlf >= text.count("\n") - crlf


def with_line_endings(text: str, crlf: bool) -> str:
    """`text` with the file's line ending (the model usually sends `\\n`)."""
    text = text.replace("\r\n", "\n")
    return text.replace("\n", "\r\n") if crlf else text


def normalise(text: str) -> tuple[str, list[int], list[int]]:
    """`text` with horizontal whitespace runs as one space (dropped at line ends), CRs
    dropped and curly quotes straightened; plus, per output character, the [start, end)
    span of the original characters it stands for."""
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in HSPACE:
            j = i + 1
            while j < n and text[j] in HSPACE:
                j += 1
            if j < n and text[j] not in "\r\n":
                out.append(" ")
                starts.append(i)
                ends.append(j)
            i = j
            continue
        if c != "\r":
            out.append(QUOTES.get(c, c))
            starts.append(i)
            ends.append(i + 1)
        i += 1
    return "".join(out), starts, ends


def fuzzy_span(text: str, old: str, shown: str) -> tuple[int, int]:
    """The original [start, end) of the one normalised match of `old`, or a failure."""
    norm_old = normalise(old)[0]
    if norm_old.strip():
        norm_text, starts, ends = normalise(text)
        count = norm_text.count(norm_old)
        if count == 1:
            at = norm_text.find(norm_old)
            return starts[at], ends[at + len(norm_old) - 1]
        if count > 1:
            raise ToolFailure(
                "not_unique",
                f"old_string does not occur exactly in {shown}, and ignoring whitespace and "
                f"quotes it occurs {count} times; copy the exact text, with more surrounding "
                "lines",
                count=count,
            )
    raise ToolFailure(
        "no_match",
        f"old_string was not found in {shown} (neither exactly nor ignoring whitespace and "
        "quote differences); read the file again and copy the text exactly",
    )


def unified_diff(before: str, after: str, shown: str) -> tuple[str, int, int]:
    """A short unified diff (cut after DIFF_MAX_LINES lines) and the added/removed counts.

    Only the span between the first and the last changed line (plus context) is diffed:
    in a big file whose lines repeat, difflib's popularity heuristic (autojunk) would
    otherwise match nothing and report a one-line edit as the whole file replaced — and
    the common head and tail cost nothing to skip."""
    a, b = _lines(before), _lines(after)
    head, limit = 0, min(len(a), len(b))
    while head < limit and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < limit - head and a[len(a) - 1 - tail] == b[len(b) - 1 - tail]:
        tail += 1
    low = max(0, head - 3)
    keep = max(0, tail - 3)
    lines = list(
        difflib.unified_diff(
            a[low : len(a) - keep],
            b[low : len(b) - keep],
            f"a/{shown}",
            f"b/{shown}",
            n=3,
            lineterm="",
        )
    )
    if low:  # hunk positions are relative to the window: make them the file's
        lines = [
            _HUNK.sub(lambda m: _shift(m, low), line, count=1) if line.startswith("@@") else line
            for line in lines
        ]
    added = sum(1 for line in lines[2:] if line.startswith("+"))
    removed = sum(1 for line in lines[2:] if line.startswith("-"))
    if len(lines) > DIFF_MAX_LINES:
        cut = len(lines) - DIFF_MAX_LINES
        lines = [*lines[:DIFF_MAX_LINES], f"[... diff cut: {cut} more lines ...]"]
    return "\n".join(lines), added, removed


_HUNK = re.compile(r"^@@ -(\d+)(,\d+)? \+(\d+)(,\d+)? @@")


def _shift(match: re.Match, by: int) -> str:
    old, old_len, new, new_len = match.groups()
    return f"@@ -{int(old) + by}{old_len or ''} +{int(new) + by}{new_len or ''} @@"


def _lines(text: str) -> list[str]:
    r"""Lines as a file has them: ended by \n (or \r\n) only. `str.splitlines` also breaks
    at a lone \r, \v, \f, \x1c-\x1e, \x85 and U+2028/2029, which would show one line
    that holds them as several and hide the characters themselves from the diff."""
    lines = text.replace("\r\n", "\n").split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines
