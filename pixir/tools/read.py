"""`read {path, offset?, limit?}` (docs/tools.md): a text file's lines from a 1-based offset, cut
at 2000 lines or 50 KiB with "continue with offset=N"; binary files refused."""

from __future__ import annotations

from pixir.tools.result import MAX_BYTES, MAX_LINES, ToolFailure, ToolResult, human_size
from pixir.tools.workspace import display_path, resolve_for_read

SNIFF_BYTES = 8192


def run(args: dict, ctx) -> ToolResult:
    path = resolve_for_read(ctx.workspace, args.get("path"))
    shown = display_path(ctx.workspace, path)
    offset = _positive(args.get("offset"), "offset", 1)
    limit = _positive(args.get("limit"), "limit", None)
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed below, after the counting pass
    except FileNotFoundError:
        raise ToolFailure("not_found", f"{shown} does not exist") from None
    except IsADirectoryError:
        raise ToolFailure(
            "is_directory", f"{shown} is a directory; list it with bash (ls {shown})"
        ) from None
    except PermissionError:
        raise ToolFailure("permission_denied", f"{shown} is not readable") from None
    with fh:
        head = fh.read(SNIFF_BYTES)
        if b"\0" in head:
            size = _size(fh)
            raise ToolFailure(
                "binary_file",
                f"{shown} looks like a binary file ({human_size(size)}); read only shows text "
                f"— inspect it with bash (e.g. `file {shown}` or `xxd {shown} | head`)",
            )
        fh.seek(0)
        return _lines(fh, shown, offset, limit)


def _lines(fh, shown: str, offset: int, limit: int | None) -> ToolResult:
    out: list[str] = []
    size = 0
    seen = 0  # lines consumed from the file
    stop = None  # why we stopped before the end: "limit" or "cap"
    long_line = None  # (line number, bytes) of a single line longer than the cap
    for raw in fh:
        seen += 1
        if seen < offset:
            continue
        if len(out) == limit:
            stop = "limit"
            break
        if len(out) >= MAX_LINES:
            stop = "cap"
            break
        line = raw.decode("utf-8", "replace")
        if line.endswith("\r\n"):
            line = line[:-2] + "\n"
        encoded = len(raw)  # close enough for the cap; exact for valid UTF-8
        if size + encoded > MAX_BYTES:
            stop = "cap"
            if out:
                break
            long_line = (seen, len(raw))  # longer than the whole cap: show its start
            out.append(raw[:MAX_BYTES].decode("utf-8", "ignore") + "\n")
            break
        out.append(line)
        size += encoded
    # When we stopped early, the line we stopped at is already counted in `seen`.
    total = seen if stop is None else seen + _count_rest(fh)
    if offset > max(total, 1):
        raise ToolFailure(
            "invalid_arguments", f"offset {offset} is past the end of {shown} ({total} lines)"
        )
    if not out:
        return ToolResult(True, "[empty file]", summary="empty file")
    text = "".join(out)
    first, last = offset, offset + len(out) - 1
    if stop is None and first == 1:
        return ToolResult(True, text, summary=f"{total} line{'s' if total != 1 else ''}")
    if not text.endswith("\n"):
        text += "\n"
    if long_line is not None:
        text += (
            f"[line {first} is {human_size(long_line[1])} long and was cut at 50 KiB; see the "
            f"rest with bash, e.g. `sed -n {first}p {shown} | cut -c 50000-`]\n"
        )
    if last >= total:
        note = f"[lines {first}-{last} of {total}; end of file]"
    elif stop == "limit":
        note = f"[lines {first}-{last} of {total}; continue with offset={last + 1}]"
    else:
        note = (
            f"[lines {first}-{last} of {total} shown (output is capped at {MAX_LINES} lines "
            f"or 50 KiB); continue with offset={last + 1}]"
        )
    return ToolResult(True, text + note, summary=f"lines {first}-{last} of {total}")


def _count_rest(fh) -> int:
    """Lines left in the file (counted in big chunks; the content is not kept)."""
    count = 0
    last = b"\n"
    while chunk := fh.read(1 << 20):
        count += chunk.count(b"\n")
        last = chunk[-1:]
    return count + (0 if last == b"\n" else 1)


def _size(fh) -> int:
    fh.seek(0, 2)
    return fh.tell()


def _positive(value, name: str, default):
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ToolFailure("invalid_arguments", f"{name} must be an integer >= 1")
    return value
