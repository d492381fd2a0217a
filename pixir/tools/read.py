"""`read {path, offset?, limit?}` (docs/tools.md): a text file's lines from a 1-based offset, cut
at 2000 lines or 50 KiB with "continue with offset=N"; binary files refused.

Only regular files: a FIFO, a device, a socket or a terminal (`/dev/stdin`, `/dev/zero`) is
refused without being read, so nothing can hang the Turn or fill memory. Memory stays
bounded whatever the file: lines are read with a length cap (a 1 GB line costs 50 KiB), and
after the cap the rest of the file is counted for the note only within COUNT_BUDGET bytes
(a 2 GB file is not read to its end to say how many lines it has).
"""

from __future__ import annotations

import os
import stat

from pixir.tools import files
from pixir.tools.result import MAX_BYTES, MAX_LINES, ToolFailure, ToolResult, human_size
from pixir.tools.workspace import display_path, resolve_for_read

SNIFF_BYTES = 8192
COUNT_BUDGET = 16 << 20  # bytes read past the returned lines to count the rest
READ_SIZE = 1 << 16


def run(args: dict, ctx) -> ToolResult:
    path = resolve_for_read(ctx.workspace, args.get("path"))
    shown = display_path(ctx.workspace, path)
    offset = _positive(args.get("offset"), "offset", 1)
    limit = _positive(args.get("limit"), "limit", None)
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC  # a FIFO must not block
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise ToolFailure("not_found", f"{shown} does not exist") from None
    except IsADirectoryError:
        raise ToolFailure(
            "is_directory", f"{shown} is a directory; list it with bash (ls {shown})"
        ) from None
    except PermissionError:
        raise ToolFailure("permission_denied", f"{shown} is not readable") from None
    except OSError as exc:  # a socket cannot be opened at all (ENXIO): say what it is
        try:
            mode = os.stat(path).st_mode
        except OSError:
            mode = stat.S_IFREG
        if not stat.S_ISREG(mode):
            raise files.not_regular(shown, mode) from None
        raise ToolFailure("io_error", f"cannot read {shown}: {exc.strerror or exc}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        failure = files.not_regular(shown, info.st_mode)
        if failure.kind == "is_directory":
            failure.message = f"{shown} is a directory; list it with bash (ls {shown})"
        raise failure
    with os.fdopen(fd, "rb", buffering=READ_SIZE) as fh:
        head = fh.read(SNIFF_BYTES)
        if b"\0" in head:
            raise ToolFailure(
                "binary_file",
                f"{shown} looks like a binary file ({human_size(info.st_size)}); read only shows "
                f"text — inspect it with bash (e.g. `file {shown}` or `xxd {shown} | head`)",
            )
        fh.seek(0)
        result = _lines(fh, shown, offset, limit, info.st_size)
    files.remember(ctx, path, info)
    return result


def _lines(fh, shown: str, offset: int, limit: int | None, file_size: int) -> ToolResult:
    out: list[str] = []
    size = 0
    seen = 0  # lines consumed from the file
    stop = None  # why we stopped before the end: "limit", "cap" or "binary"
    long_line = None  # (line number, bytes, whole?) of a single line longer than the cap
    cut = False  # the last line read was longer than the cap (its rest not read yet)
    while True:
        raw = fh.readline(MAX_BYTES + 1)  # never more than the cap + 1 in memory
        if not raw:
            break
        seen += 1
        cut = not raw.endswith(b"\n") and len(raw) > MAX_BYTES
        if seen < offset:
            if cut:
                _skip_line(fh)
            continue
        if len(out) == limit or len(out) >= MAX_LINES:
            stop = "limit" if len(out) == limit else "cap"
            if cut:  # the count of the rest starts after this line
                cut = not _skip_line(fh)[1]
            break
        if b"\0" in raw:  # text first, then binary (a sparse or appended tail)
            stop = "binary"
            break
        encoded = len(raw)  # close enough for the cap; exact for valid UTF-8
        if cut or size + encoded > MAX_BYTES:
            stop = "cap"
            if out:
                if cut:
                    cut = not _skip_line(fh)[1]
                break
            rest, whole = _skip_line(fh) if cut else (0, True)
            long_line = (seen, len(raw) + rest, whole)  # longer than the cap: show its start
            out.append(raw[:MAX_BYTES].decode("utf-8", "ignore") + "\n")
            break
        line = raw.decode("utf-8", "replace")
        if line.endswith("\r\n"):
            line = line[:-2] + "\n"
        out.append(line)
        size += encoded
    # When we stopped early, the line we stopped at is already counted in `seen`.
    inside = cut or (long_line is not None and not long_line[2])  # still in a long line
    total, exact = (seen, True) if stop is None else _count_rest(fh, seen, inside)
    if offset > max(total, 1) and exact:
        raise ToolFailure(
            "invalid_arguments", f"offset {offset} is past the end of {shown} ({total} lines)"
        )
    if not out:
        if stop == "binary":
            raise ToolFailure(
                "binary_file", f"line {seen} of {shown} holds binary data (NUL bytes)"
            )
        return ToolResult(True, "[empty file]", summary="empty file")
    text = "".join(out)
    first, last = offset, offset + len(out) - 1
    of = f"{total}" if exact else f"at least {total} ({human_size(file_size)})"
    if stop is None and first == 1:
        return ToolResult(True, text, summary=f"{total} line{'s' if total != 1 else ''}")
    if not text.endswith("\n"):
        text += "\n"
    if long_line is not None:
        length = human_size(long_line[1])
        length = f"{length} long" if long_line[2] else f"more than {length} long"
        text += (
            f"[line {first} is {length} and was cut at 50 KiB; see the rest with bash, e.g. "
            f"`sed -n {first}p {shown} | cut -c 50000-`]\n"
        )
    if stop == "binary":
        note = (
            f"[lines {first}-{last} of {of}; line {last + 1} holds binary data (NUL bytes), "
            f"which read does not show — inspect it with bash (e.g. `xxd {shown} | less`)]"
        )
    elif exact and last >= total:
        note = f"[lines {first}-{last} of {total}; end of file]"
    elif stop == "limit":
        note = f"[lines {first}-{last} of {of}; continue with offset={last + 1}]"
    else:
        note = (
            f"[lines {first}-{last} of {of} shown (output is capped at {MAX_LINES} lines "
            f"or 50 KiB); continue with offset={last + 1}]"
        )
    return ToolResult(True, text + note, summary=f"lines {first}-{last} of {of}")


def _skip_line(fh) -> tuple[int, bool]:
    """Read past the rest of an over-long line, within COUNT_BUDGET: (bytes skipped,
    whether its end was reached)."""
    skipped = 0
    while skipped < COUNT_BUDGET:
        chunk = fh.readline(READ_SIZE)
        if not chunk:
            return skipped, True
        skipped += len(chunk)
        if chunk.endswith(b"\n"):
            return skipped, True
    return skipped, False


def _count_rest(fh, seen: int, inside: bool) -> tuple[int, bool]:
    """(lines in the file, exact?): the rest counted in chunks, its content not kept, and
    only within COUNT_BUDGET bytes — past that the count is a lower bound. `inside`: the
    position is still within the last line counted (too long to skip)."""
    count = seen
    last = b"\n"
    budget = COUNT_BUDGET
    if inside:
        return count, False
    while budget > 0:
        chunk = fh.read(min(1 << 20, budget))
        if not chunk:
            return count + (0 if last == b"\n" else 1), True
        budget -= len(chunk)
        count += chunk.count(b"\n")
        last = chunk[-1:]
    return count, False


def _positive(value, name: str, default):
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ToolFailure("invalid_arguments", f"{name} must be an integer >= 1")
    return value
