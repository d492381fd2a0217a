"""`write {path, content}` (docs/tools.md): create or replace a file inside the workspace,
creating parent directories, atomically (temporary file + rename); reports the bytes. The
file is reached without following symlinks and keeps its owner, group and mode; files the
user may not write, and anything but a regular file, are refused (pixir/tools/files.py)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from pixir.tools import files
from pixir.tools.result import ToolFailure, ToolResult
from pixir.tools.workspace import display_path, resolve_for_write


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
        try:
            written = files.replace(place, data, previous)
        except OSError as exc:
            raise ToolFailure("io_error", f"cannot write {shown}: {exc.strerror}") from None
        try:
            files.remember(ctx, target, os.fstat(written))
        finally:
            os.close(written)
    note = "new file" if previous is None else f"replaced {previous.st_size} bytes"
    return ToolResult(
        True, f"Wrote {len(data)} bytes to {shown} ({note}).", summary=f"{len(data)} bytes"
    )
