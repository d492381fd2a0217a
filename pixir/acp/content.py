"""A `session/prompt`'s ContentBlocks → the user's message of a Turn (docs/acp.md, "Prompt").

- `text` blocks are the user's words, joined in order;
- `resource_link` (a file the user pointed at) becomes a line `@path` naming it: the model
  reads it with its own tools if it needs to;
- `resource` (an embedded file, what an editor sends for an @-mention) becomes a
  `<file path="...">…</file>` block after the words;
- `image` becomes an image of the message (a `data:` URL, the same shape as
  `pixir -i FILE`); a blob resource with an image type too.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from pixir import images as pictures
from pixir.acp.rpc import INVALID_PARAMS, RpcError
from pixir.errors import PixirError

# The one shape and the same checks as `pixir -i FILE` (pixir/images.py): the type the
# bytes are (the declared mimeType only picks the blocks to try), no animated GIF, 20 MiB
# an image and 50 MiB a prompt.
IMAGE_TYPES = tuple(pictures.TYPES)
MAX_IMAGE_BYTES = pictures.MAX_IMAGE_BYTES


@dataclass
class Prompt:
    text: str
    images: list[str] = field(default_factory=list)  # data: URLs


def from_blocks(blocks: object, workspace: Path) -> Prompt:
    """The prompt a list of ContentBlocks asks for; -32602 for what cannot be sent."""
    if not isinstance(blocks, list) or not blocks:
        raise _invalid("prompt must be a non-empty array of content blocks")
    words: list[str] = []
    files: list[str] = []
    images: list[str] = []
    for index, block in enumerate(blocks):
        if not isinstance(block, dict):
            raise _invalid(f"prompt[{index}] is not a content block")
        kind = block.get("type")
        if kind == "text":
            words.append(_string(block, "text", index))
        elif kind == "resource_link":
            uri = _string(block, "uri", index)
            line = f"@{display_path(uri, workspace)}\n"  # on a line of its own
            if words and not words[-1].endswith("\n"):
                line = "\n" + line
            words.append(line)
        elif kind == "resource":
            resource = block.get("resource")
            if not isinstance(resource, dict):
                raise _invalid(f"prompt[{index}].resource must be an object")
            uri = _string(resource, "uri", index)
            if isinstance(resource.get("text"), str):
                files.append(file_block(display_path(uri, workspace), resource["text"]))
            elif isinstance(resource.get("blob"), str):
                mime = resource.get("mimeType")
                if mime in IMAGE_TYPES:
                    images.append(data_url(mime, resource["blob"], index))
                else:
                    note = f"(binary content of type {mime or 'unknown'} not included)"
                    files.append(file_block(display_path(uri, workspace), note))
            else:
                raise _invalid(f"prompt[{index}].resource needs text or blob")
        elif kind == "image":
            images.append(data_url(block.get("mimeType"), _string(block, "data", index), index))
        elif kind == "audio":
            raise _invalid("audio prompts are not supported (promptCapabilities.audio is false)")
        else:
            raise _invalid(f"prompt[{index}] has an unknown type {kind!r}")
    if sum(len(url) for url in images) * 3 // 4 > pictures.MAX_TOTAL_BYTES:
        raise _invalid(f"the images add up to more than {pictures.MAX_TOTAL_BYTES >> 20} MiB")
    text = "".join(words).strip("\n")
    if files:
        text = "\n\n".join([text, *files]) if text else "\n\n".join(files)
    if not text.strip() and not images:
        raise _invalid("the prompt is empty")
    return Prompt(text, images)


def file_block(path: str, text: str) -> str:
    """An embedded file as the model sees it."""
    body = text if text.endswith("\n") or not text else text + "\n"
    quoted = path.replace("&", "&amp;").replace('"', "&quot;")
    return f'<file path="{quoted}">\n{body}</file>'


def display_path(uri: str, workspace: Path) -> str:
    """A `file://` URI or a path: relative to the workspace when inside it."""
    parts = urlsplit(uri)
    if parts.scheme == "file":
        path = Path(unquote(parts.path))
    elif parts.scheme:
        return uri  # some other resource: named as it is
    else:
        path = Path(uri)
    if path.is_absolute():
        try:
            return str(path.relative_to(workspace))
        except ValueError:
            return str(path)
    return str(path)


def data_url(mime: object, data: str, index: int) -> str:
    """A checked `data:<mime>;base64,<data>` URL for an image block."""
    if mime not in IMAGE_TYPES:
        raise _invalid(
            f"prompt[{index}]: image type {mime!r} is not supported (use {', '.join(IMAGE_TYPES)})"
        )
    compact = "".join(data.split())
    if len(compact) * 3 // 4 > MAX_IMAGE_BYTES:
        raise _invalid(f"prompt[{index}]: the image is larger than 20 MiB")
    try:
        data = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise _invalid(f"prompt[{index}]: the image data is not base64") from None
    try:
        return pictures.data_url(data, f"prompt[{index}]")
    except PixirError as err:  # not an image by its content, an animated GIF, empty
        raise _invalid(err.message) from None


def _string(holder: dict, key: str, index: int) -> str:
    value = holder.get(key)
    if not isinstance(value, str):
        raise _invalid(f"prompt[{index}].{key} must be a string")
    return value


def _invalid(message: str) -> RpcError:
    return RpcError(INVALID_PARAMS, f"Invalid params: {message}")
