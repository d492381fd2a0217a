"""pixir/acp/content.py: a prompt's ContentBlocks → the user's message (docs/acp.md)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from pixir.acp import content
from pixir.acp.rpc import INVALID_PARAMS, RpcError

WS = "/home/u/project"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 16).decode()
# a looping GIF: its NETSCAPE2.0 application extension
ANIMATED_GIF = base64.b64encode(
    b"GIF89a\x01\x00\x01\x00\x00\x00\x00\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00;"
).decode()


def blocks(*items):
    return content.from_blocks(list(items), Path(WS))


def refused(*items) -> str:
    with pytest.raises(RpcError) as info:
        blocks(*items)
    assert info.value.code == INVALID_PARAMS
    return info.value.message


def test_text_blocks_join_in_order_and_links_stand_on_their_own_line():
    prompt = blocks(
        {"type": "text", "text": "compare "},
        {"type": "resource_link", "name": "a.py", "uri": f"file://{WS}/src/a.py"},
        {"type": "text", "text": "with"},
        {"type": "resource_link", "name": "b", "uri": "/elsewhere/b.py"},
    )
    assert prompt.text == "compare \n@src/a.py\nwith\n@/elsewhere/b.py"
    assert prompt.images == []


def test_the_users_own_blank_lines_are_kept():
    assert blocks({"type": "text", "text": "one\n\n\n\ntwo"}).text == "one\n\n\n\ntwo"


def test_embedded_files_follow_the_words_as_file_blocks():
    prompt = blocks(
        {"type": "resource", "resource": {"uri": f"file://{WS}/x%20y.py", "text": "x = 1"}},
        {"type": "text", "text": "explain"},
    )
    assert prompt.text == 'explain\n\n<file path="x y.py">\nx = 1\n</file>'
    only_file = blocks({"type": "resource", "resource": {"uri": "zed://buffer/3", "text": ""}})
    assert only_file.text == '<file path="zed://buffer/3">\n</file>'


def test_a_quote_in_a_path_cannot_end_the_attribute():
    prompt = blocks({"type": "resource", "resource": {"uri": '/p/a".py', "text": "x"}})
    assert prompt.text.startswith('<file path="/p/a&quot;.py">')


def test_images_become_data_urls_and_binary_files_a_note():
    prompt = blocks(
        {"type": "text", "text": "what is it"},
        {"type": "image", "mimeType": "image/png", "data": PNG},
        {
            "type": "resource",
            "resource": {"uri": "file:///s.png", "blob": PNG, "mimeType": "image/png"},
        },
        {
            "type": "resource",
            "resource": {
                "uri": "file:///a.bin",
                "blob": "AAAA",
                "mimeType": "application/octet-stream",
            },
        },
    )
    assert prompt.images == [f"data:image/png;base64,{PNG}"] * 2
    assert "(binary content of type application/octet-stream not included)" in prompt.text
    labelled = blocks({"type": "image", "mimeType": "image/webp", "data": PNG})
    assert labelled.images == [f"data:image/png;base64,{PNG}"]  # what the bytes are


@pytest.mark.parametrize(
    ("block", "why"),
    [
        ({"type": "audio", "mimeType": "audio/wav", "data": "AAAA"}, "audio"),
        ({"type": "image", "mimeType": "image/svg+xml", "data": PNG}, "image/svg+xml"),
        ({"type": "image", "mimeType": "image/png", "data": "%%%"}, "not base64"),
        ({"type": "image", "mimeType": "image/png"}, "data must be a string"),
        # checked by what the bytes are, as `pixir -i` does: the declared type is no proof
        (
            {
                "type": "image",
                "mimeType": "image/png",
                "data": base64.b64encode(b"<svg/>").decode(),
            },
            "not a PNG, JPEG, GIF or WebP image",
        ),
        ({"type": "image", "mimeType": "image/gif", "data": ANIMATED_GIF}, "animated"),
        ({"type": "video"}, "unknown type"),
        ({"type": "text", "text": 3}, "text must be a string"),
        ({"type": "resource", "resource": {"uri": "file:///a"}}, "text or blob"),
        ("text", "not a content block"),
        ({"type": "text", "text": "  \n"}, "empty"),
    ],
)
def test_what_cannot_be_sent_is_invalid_params(block, why):
    assert why in refused(block)


def test_a_prompt_must_be_a_non_empty_list():
    with pytest.raises(RpcError):
        content.from_blocks([], Path(WS))
    with pytest.raises(RpcError):
        content.from_blocks({"type": "text"}, Path(WS))


def test_an_image_over_20_mib_is_refused_before_it_is_decoded(monkeypatch):
    monkeypatch.setattr(content, "MAX_IMAGE_BYTES", 30)
    assert "larger than" in refused(
        {"type": "image", "mimeType": "image/png", "data": base64.b64encode(b"x" * 60).decode()}
    )
