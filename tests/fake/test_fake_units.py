"""Properties of the fake's building blocks that the wire tests rely on."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fake_backend.common import Sealer
from tests.fake_backend.scenario import load_scenario, normalize_step, step, text
from tests.fake_backend.wire import Chunker, data_lines, sse_event


@given(
    data=st.lists(st.binary(min_size=0, max_size=300), max_size=20),
    lo=st.integers(1, 50),
    span=st.integers(0, 100),
    seed=st.integers(0, 2**16),
)
def test_random_chunker_is_lossless_and_within_bounds(data, lo, span, seed):
    chunker = Chunker({"random": [lo, lo + span], "seed": seed})
    pieces = []
    for blob in data:
        pieces += chunker.feed(blob)
    pieces += chunker.flush()
    assert b"".join(pieces) == b"".join(data)
    assert all(lo <= len(p) <= lo + span for p in pieces[:-1])
    assert all(pieces)  # never an empty write: an empty HTTP chunk would end the body


@given(st.dictionaries(st.text(max_size=8), st.text(max_size=20) | st.integers(), max_size=6))
def test_multiline_data_still_parses(payload):
    event = {"type": "x", **payload}
    compact = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
    lines = data_lines(compact)
    joined = "\n".join(line[len("data: ") :] for line in lines)  # what an SSE parser rebuilds
    assert json.loads(joined) == json.loads(compact)


def test_sse_event_framing():
    raw = sse_event({"type": "response.created", "n": 1}, newline="\r\n")
    assert raw == b'event: response.created\r\ndata: {"type":"response.created","n":1}\r\n\r\n'


def test_sealer_binds_blobs_to_a_model_and_a_fake():
    sealer, other = Sealer(), Sealer()
    blob = sealer.mint("gpt-5.5")
    assert sealer.model_of(blob) == "gpt-5.5"
    assert other.model_of(blob) is None  # minted by another fake (another "organization")
    assert sealer.model_of(blob[:-1] + ("0" if blob[-1] != "0" else "1")) is None
    assert sealer.model_of(None) is None and sealer.model_of("gAAAAA") is None


@pytest.mark.parametrize(
    "bad",
    [
        {"items": [], "colour": "red"},
        {"items": [{"type": "image"}]},
        {"fault": {"type": "meteor"}},
        {"match": {"first_user": "x"}},
        {"crlf": "lfcr"},
        {"chunking": {"sizes": 3}},
        42,
    ],
)
def test_scenario_typos_fail_loudly(bad):
    with pytest.raises((ValueError, TypeError)):
        normalize_step(bad)


def test_scenario_shorthands():
    assert normalize_step("hi")["items"][0] == {"type": "message", "text": "hi", "deltas": None}
    assert normalize_step(text("x"))["items"][0]["text"] == "x"
    steps, settings = load_scenario({"steps": ["a", step(text("b"))], "settings": {"plan": "pro"}})
    assert [s["items"][0]["text"] for s in steps] == ["a", "b"]
    assert settings == {"plan": "pro"}
    assert step(text("x"), crlf=True)["crlf"] is True
    json.dumps(steps)  # JSON-able, so it can live in a scenario file
