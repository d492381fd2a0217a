"""`write {path, content}` (docs/tools.md): create or replace a file inside the workspace,
creating parent directories, atomically (temporary file + rename); reports the bytes, and
the change as a unified diff for people (not for the model, which wrote the content). The
file is reached without following symlinks and keeps its owner, group and mode; files the
user may not write, and anything but a regular file, are refused (pixir/tools/files.py)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from pixir.tools import files
from pixir.tools.edit import unified_diff
from pixir.tools.result import ToolFailure, ToolResult
from pixir.tools.workspace import display_path, resolve_for_write

DIFF_MAX_BYTES = 1 << 20  # a bigger file's replacement is reported without a diff


def run(args: dict, ctx) -> ToolResult:
    content = args.get("content")
    if not isinstance(content, str):
        raise ToolFailure("invalid_arguments", "content must be a string")
    target = resolve_for_write(ctx.workspace, args.get("path"))
    shown = display_path(ctx.workspace, target)
    data = content.encode("utf-8", "replace")
    root = Path(os.path.realpath(ctx.workspace))
    with files.open_place(root, target, shown, create=True) as place:
        previous = place.lstat()
        if previous is not None:
            if not stat.S_ISREG(previous.st_mode):
                raise files.not_regular(shown, previous.st_mode)
            files.check_replaceable(place, previous)
        before = text_before(place, previous)
        try:
            written = files.replace(place, data, previous)
        except OSError as exc:
            raise ToolFailure("io_error", f"cannot write {shown}: {exc.strerror}") from None
        try:
            files.remember(ctx, target, os.fstat(written))
        finally:
            os.close(written)
    note = "new file" if previous is None else f"replaced {previous.st_size} bytes"
    output = f"Wrote {len(data)} bytes to {shown} ({note})."
    if before is None:
        return ToolResult(True, output, summary=f"{len(data)} bytes")
    diff, added, removed = unified_diff(before, content, shown)
    return ToolResult(True, output, summary=f"{len(data)} bytes · +{added} −{removed}", diff=diff)


def preview(args: dict, ctx) -> dict:
    """What the write would do, without doing it (ask mode shows it): `path`, `content`,
    `bytes`, `replaces` (the size of the file it replaces, None for a new file) and, for
    a replaced text file, `diff`. Raises ToolFailure when the write would fail."""
    content = args.get("content")
    if not isinstance(content, str):
        raise ToolFailure("invalid_arguments", "content must be a string")
    target = resolve_for_write(ctx.workspace, args.get("path"))
    shown = display_path(ctx.workspace, target)
    out = {"path": shown, "content": content, "bytes": len(content.encode("utf-8", "replace"))}
    root = Path(os.path.realpath(ctx.workspace))
    try:
        place = files.open_place(root, target, shown, create=False)
    except ToolFailure as failure:
        if failure.kind != "not_found":  # a missing directory is made by the write
            raise
        out["replaces"] = None
        return out
    with place:
        previous = place.lstat()
        out["replaces"] = previous.st_size if previous is not None else None
        before = text_before(place, previous) if previous is not None else None
    if before is not None:
        out["diff"] = unified_diff(before, content, shown)[0]
    return out


def text_before(place, previous) -> str | None:
    """What the file held, to diff against: "" for a new file; None when there is nothing
    worth diffing (too big, not UTF-8 text, not a regular file, unreadable)."""
    if previous is None:
        return ""
    if not stat.S_ISREG(previous.st_mode) or previous.st_size > DIFF_MAX_BYTES:
        return None
    try:
        fd, now = place.open_regular()
    except (ToolFailure, OSError):
        return None
    try:
        text = os.read(fd, min(now.st_size, DIFF_MAX_BYTES) + 1).decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    finally:
        os.close(fd)
    return None if "\0" in text else text
