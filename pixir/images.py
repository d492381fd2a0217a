"""Images attached to a prompt (`-i/--image FILE`): read, checked by their content and
their size, and turned into `data:<type>;base64,…` URLs — the shape a `user_message` keeps
them in the Log, whoever attached them (an editor's image blocks too), and that the fold
sends as `input_image` parts. docs/cli.md, "Images".
"""

from __future__ import annotations

import base64
from pathlib import Path

from pixir.errors import PixirError

# What the Responses API takes: PNG, JPEG, WebP and still GIF. Known by their first bytes,
# never by a file name.
TYPES = {"image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF", "image/webp": "WebP"}
MAX_IMAGE_BYTES = 20 * 1024 * 1024  # one image, before base64 (the API's own limit)
MAX_TOTAL_BYTES = 50 * 1024 * 1024  # all the images of one prompt (the API's per request)
HINT = "attach a PNG, JPEG, WebP or still GIF image of at most 20 MiB"


def sniff(data: bytes) -> str | None:
    """The MIME type the bytes are, among TYPES, or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def load(paths: list[str]) -> list[str]:
    """The images at `paths` as data URLs, in order; every failure is `invalid_arguments`
    (exit 2) naming the file, before anything is sent."""
    urls, total = [], 0
    for name in paths:
        path = Path(name).expanduser()
        where = f"--image {name}"
        try:
            if path.is_dir():
                raise IsADirectoryError(21, "is a directory")
            size = path.stat().st_size
            if size > MAX_IMAGE_BYTES:  # refused before a byte is read
                raise _too_big(where, size)
            with path.open("rb") as fh:  # a pipe or a device has no size: read with the cap
                data = fh.read(MAX_IMAGE_BYTES + 1)
            if len(data) > MAX_IMAGE_BYTES:
                raise _too_big(where, len(data), at_least=True)
        except OSError as exc:
            raise PixirError(
                "invalid_arguments", f"{where}: {exc.strerror or exc}", {"path": name}, hint=HINT
            ) from None
        urls.append(data_url(data, where))
        total += len(data)
        if total > MAX_TOTAL_BYTES:
            raise PixirError(
                "invalid_arguments",
                f"the images add up to {_mib(total)}; one prompt takes at most "
                f"{_mib(MAX_TOTAL_BYTES)} of them",
                {"bytes": total, "limit": MAX_TOTAL_BYTES},
                hint="attach fewer or smaller images",
            )
    return urls


def data_url(data: bytes, where: str) -> str:
    """One image as a data URL, its type taken from its content. `where` names it in
    errors (`--image shot.png`)."""
    if not data:
        raise PixirError("invalid_arguments", f"{where}: the file is empty", hint=HINT)
    if len(data) > MAX_IMAGE_BYTES:
        raise _too_big(where, len(data))
    mime = sniff(data)
    if mime is None:
        raise PixirError(
            "invalid_arguments",
            f"{where}: not a PNG, JPEG, GIF or WebP image (by its content)",
            hint=HINT,
        )
    if mime == "image/gif" and _animated(data):
        raise PixirError(
            "invalid_arguments",
            f"{where}: an animated GIF; the model takes still images only",
            hint="attach one frame as a PNG",
        )
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def describe(url: str) -> str:
    """`PNG, 120 KiB`: an image as `pixir log` shows it."""
    head, _, data = url.partition(",")
    kind = TYPES.get(head[len("data:") :].split(";")[0], "image")
    return f"{kind}, {_kib(len(data) * 3 // 4)}"


def elide(value):
    """`value` (a request body) with every image data URL cut to its head: what `pixir
    preview` prints instead of megabytes of base64."""
    if isinstance(value, dict):
        url = value.get("image_url")
        if value.get("type") == "input_image" and isinstance(url, str) and "," in url:
            head, data = url.split(",", 1)
            size = _kib(len(data) * 3 // 4)
            return {**value, "image_url": f"{head},{data[:16]}…[{size} elided]"}
        return {k: elide(v) for k, v in value.items()}
    if isinstance(value, list):
        return [elide(v) for v in value]
    return value


def _animated(data: bytes) -> bool:
    # the NETSCAPE2.0 (or ANIMEXTS1.0) application extension is what makes a GIF loop
    return b"NETSCAPE2.0" in data or b"ANIMEXTS1.0" in data


def _too_big(where: str, size: int, at_least: bool = False) -> PixirError:
    """`at_least`: read from a pipe or device, which was cut at the cap."""
    said = "it holds more" if at_least else f"{_mib(size)} is larger"
    return PixirError(
        "invalid_arguments",
        f"{where}: {said} than the {_mib(MAX_IMAGE_BYTES)} an image may be",
        {"bytes": size, "limit": MAX_IMAGE_BYTES},
        hint="scale it down or crop it (the model sees at most about 2048×2048 anyway)",
    )


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB"


def _kib(n: int) -> str:
    return f"{n / 1024:.0f} KiB" if n < (1 << 20) else _mib(n)
