"""images.py: an image is known by its content, capped in size, and kept as a record the
fold turns into an `input_image` data URL."""

from __future__ import annotations

import base64
import os
import threading

import pytest

from pixir import images
from pixir.errors import PixirError

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + b"\x00" * 32 + b"\xff\xd9"
GIF = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"
WEBP = b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00/\x00\x00\x00\x10\x07\x10\x11"


@pytest.mark.parametrize(
    ("data", "mime"),
    [(PNG, "image/png"), (JPEG, "image/jpeg"), (GIF, "image/gif"), (WEBP, "image/webp")],
)
def test_each_type_by_its_content_whatever_the_name(tmp_path, data, mime):
    path = tmp_path / "picture.txt"  # the name says nothing
    path.write_bytes(data)
    assert images.load([str(path)]) == [f"data:{mime};base64,{base64.b64encode(data).decode()}"]


def fails(tmp_path, *names, says):
    with pytest.raises(PixirError) as info:
        images.load([str(tmp_path / n) for n in names])
    assert info.value.kind == "invalid_arguments" and info.value.exit_code == 2
    assert says in info.value.message, info.value.message
    return info.value


def test_what_is_not_an_image_is_refused_by_content(tmp_path):
    (tmp_path / "shot.png").write_bytes(b"<svg xmlns='http://www.w3.org/2000/svg'/>")
    err = fails(tmp_path, "shot.png", says="not a PNG, JPEG, GIF or WebP image")
    assert err.message.startswith(f"--image {tmp_path / 'shot.png'}: ")
    (tmp_path / "bitmap.bmp").write_bytes(b"BM" + b"\x00" * 60)
    fails(tmp_path, "bitmap.bmp", says="not a PNG, JPEG, GIF or WebP image")


def test_missing_empty_and_folders(tmp_path):
    fails(tmp_path, "nowhere.png", says="No such file or directory")
    (tmp_path / "empty.png").write_bytes(b"")
    fails(tmp_path, "empty.png", says="the file is empty")
    (tmp_path / "dir.png").mkdir()
    fails(tmp_path, "dir.png", says="is a directory")


def test_an_image_over_the_cap_is_refused_without_being_read(tmp_path):
    path = tmp_path / "huge.png"
    with open(path, "wb") as fh:  # sparse: 21 MiB on paper, nothing on disk
        fh.write(PNG)
        fh.truncate(images.MAX_IMAGE_BYTES + 1)
    err = fails(tmp_path, "huge.png", says="is larger than the 20.0 MiB an image may be")
    assert err.details == {"bytes": images.MAX_IMAGE_BYTES + 1, "limit": images.MAX_IMAGE_BYTES}


def fifo_of(tmp_path, data: bytes) -> str:
    """A FIFO a thread fills with `data` (a pipe has no size to check before reading)."""
    path = tmp_path / "pipe.png"
    os.mkfifo(path)

    def feed():
        with open(path, "wb") as fh:
            try:
                fh.write(data)
            except BrokenPipeError:  # the reader stopped at its cap
                pass

    threading.Thread(target=feed, daemon=True).start()
    return "pipe.png"


def test_a_pipe_is_read_up_to_the_cap_and_no_further(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "MAX_IMAGE_BYTES", 4096)
    name = fifo_of(tmp_path, PNG + b"\x00" * 8192)  # /dev/zero or `yes` would never end
    fails(tmp_path, name, says="it holds more than the 0.0 MiB an image may be")
    os.unlink(tmp_path / name)
    name = fifo_of(tmp_path, PNG)  # a small image through a pipe is fine
    assert images.load([str(tmp_path / name)]) == [
        f"data:image/png;base64,{base64.b64encode(PNG).decode()}"
    ]


def test_all_the_images_of_a_prompt_are_capped_together(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "MAX_TOTAL_BYTES", len(PNG) * 2)
    for name in "abc":
        (tmp_path / f"{name}.png").write_bytes(PNG)
    assert len(images.load([str(tmp_path / "a.png"), str(tmp_path / "b.png")])) == 2
    fails(tmp_path, "a.png", "b.png", "c.png", says="the images add up to")


def test_an_animated_gif_is_refused(tmp_path):
    (tmp_path / "loop.gif").write_bytes(GIF[:-1] + b"!\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00;")
    fails(tmp_path, "loop.gif", says="an animated GIF")


def test_preview_elides_the_base64_and_describe_names_the_image():
    url = "data:image/png;base64," + "A" * 4096
    part = {"type": "input_image", "image_url": url}
    body = {"input": [{"role": "user", "content": [{"type": "input_text", "text": "hi"}, part]}]}
    shown = images.elide(body)
    assert shown["input"][0]["content"][1]["image_url"] == (
        "data:image/png;base64,AAAAAAAAAAAAAAAA…[3 KiB elided]"
    )
    assert body["input"][0]["content"][1]["image_url"] == url  # not changed
    assert images.describe(url) == "PNG, 3 KiB"
