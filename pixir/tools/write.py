"""`write {path, content}` (docs/tools.md): create or replace a file inside the workspace,
creating parent directories, atomically (temporary file + rename); reports the bytes."""

from __future__ import annotations

from pixir.fsutil import atomic_write
from pixir.tools.result import ToolFailure, ToolResult
from pixir.tools.workspace import display_path, resolve_for_write


def run(args: dict, ctx) -> ToolResult:
    content = args.get("content")
    if not isinstance(content, str):
        raise ToolFailure("invalid_arguments", "content must be a string")
    target = resolve_for_write(ctx.workspace, args.get("path"))
    shown = display_path(ctx.workspace, target)
    if target.is_dir():
        raise ToolFailure("is_directory", f"{shown} is a directory")
    data = content.encode("utf-8", "replace")
    try:
        previous = target.stat().st_size
    except FileNotFoundError:
        previous = None
    except OSError as exc:
        raise ToolFailure("io_error", f"cannot write {shown}: {exc.strerror}") from None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(target, data)
    except NotADirectoryError:
        raise ToolFailure("io_error", f"cannot write {shown}: a parent is a file") from None
    except OSError as exc:
        raise ToolFailure("io_error", f"cannot write {shown}: {exc.strerror}") from None
    note = "new file" if previous is None else f"replaced {previous} bytes"
    return ToolResult(
        True, f"Wrote {len(data)} bytes to {shown} ({note}).", summary=f"{len(data)} bytes"
    )
