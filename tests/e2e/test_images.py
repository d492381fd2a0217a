"""-i/--image through the built dist/pixir against the fake backend: the image reaches the
request as an input_image data URL next to the prompt, stays in the Log so a resume sends it
again, shows in `pixir log` and (elided) in `pixir preview`, and a file that is no image,
or too big, stops everything before a session or a request."""

from __future__ import annotations

import base64

import pytest

from tests.fake_backend import step, text
from tests.unit.test_images import GIF, JPEG, PNG

pytestmark = pytest.mark.e2e


def image_urls(recorded) -> list[str]:
    items = recorded.extra.get("effective_input") or recorded.json["input"]
    return [
        part["image_url"]
        for item in items
        if item.get("role") == "user"
        for part in item.get("content") or ()
        if part.get("type") == "input_image"
    ]


def url(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


@pytest.mark.parametrize("transport", ["http_sse", "websocket"])
def test_an_image_reaches_the_request_and_a_resume_sends_it_again(pixir, fake, transport):
    pixir.login_api_key()
    pixir.write_file("shot.png", PNG)
    pixir.write_file("photo.jpg", JPEG)
    fake.script(step(text("A red dot.")), step(text("Still a red dot.")))
    first = pixir.run(
        "--transport", transport, "-i", "shot.png", "what is this?", "--image", "photo.jpg"
    )
    assert first.code == 0, first
    assert first.stdout == "A red dot.\n"
    [request] = fake.responses_requests()
    user = request.json["input"][-1]
    assert user["content"][0] == {"type": "input_text", "text": "what is this?"}
    assert image_urls(request) == [url(PNG, "image/png"), url(JPEG, "image/jpeg")]
    [event] = [e for e in pixir.log_events() if e["type"] == "user_message"]
    assert event["data"]["images"] == [url(PNG, "image/png"), url(JPEG, "image/jpeg")]
    sid = pixir.sessions()[-1].stem
    # a resume (a new process) folds the Log: the images go out again, with the History
    again = pixir.run("--transport", transport, "resume", sid, "and now?")
    assert again.code == 0, again
    assert image_urls(fake.responses_requests()[-1]) == [
        url(PNG, "image/png"),
        url(JPEG, "image/jpeg"),
    ]
    log = pixir.run("log", sid)
    assert "[image: PNG, 0 KiB]\n[image: JPEG, 0 KiB]" in log.stdout


def test_preview_shows_the_image_elided(pixir, fake):
    big = PNG + b"\x00" * (30 * 1024)
    pixir.write_file("big.png", big)
    result = pixir.run("preview", "-i", "big.png", "describe it", "--json")
    assert result.code == 0, result
    body = pixir.json_out(result)["body"]
    [shown] = [p for p in body["input"][-1]["content"] if p["type"] == "input_image"]
    assert shown["image_url"].startswith("data:image/png;base64,iVBORw0KGgo")
    assert shown["image_url"].endswith("…[30 KiB elided]")
    assert len(result.stdout) < 10_000  # not the 40 KB of base64
    human = pixir.run("preview", "-i", "big.png", "describe it")
    assert "…[30 KiB elided]" in human.stdout
    assert fake.requests == []


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("notes.png", b"just text, named like an image", "not a PNG, JPEG, GIF or WebP image"),
        ("loop.gif", GIF[:-1] + b"!\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00;", "animated GIF"),
        ("missing.png", None, "No such file or directory"),
    ],
)
def test_a_bad_image_stops_everything_before_a_session(pixir, fake, name, content, says):
    pixir.login_api_key()
    if content is not None:
        pixir.write_file(name, content)
    fake.script(step(text("never")))
    result = pixir.run("-i", name, "look at this")
    assert result.code == 2, result
    assert f"error: invalid_arguments: --image {name}: " in result.stderr and says in result.stderr
    assert fake.requests == [] and not (pixir.workspace / ".pixir").exists()


def test_an_image_over_the_cap_is_refused(pixir, fake):
    pixir.login_api_key()
    path = pixir.write_file("huge.png", PNG)
    with open(path, "r+b") as fh:  # sparse: 21 MiB on paper
        fh.truncate(21 * 1024 * 1024)
    result = pixir.run("-i", "huge.png", "look", "--json")
    assert result.code == 2, result
    error = pixir.json_out(result)["error"]
    assert error["kind"] == "invalid_arguments"
    assert "is larger than the 20.0 MiB an image may be" in error["message"]
    assert fake.requests == []
