"""Bad input from the wire and from disk, fuzzed with hypothesis: the SSE framing,
event decoding, event assembly, error classification and the Log fold either succeed or
raise a structured PixirError — never another exception, which would end a run with a
crash report instead of a clear error.

Deterministic (`derandomize=True`): the same examples on every run, on every machine.
"""

from __future__ import annotations

import collections
import json
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pixir.errors import PixirError
from pixir.history import History
from pixir.log import CANONICAL, encode_line, parse
from pixir.provider.assemble import assemble
from pixir.provider.classify import classify_event, classify_http, parse_error_body
from pixir.provider.sse import iter_events
from tests.reliability.conftest import record

FUZZ = settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# -- building blocks ---------------------------------------------------------------------------

json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False),
    st.text(max_size=20),
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
EVENT_TYPES = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.output_item.done",
    "response.output_text.delta",
    "response.reasoning_summary_text.delta",
    "response.reasoning_text.delta",
    "response.reasoning_summary_part.added",
    "response.completed",
    "response.incomplete",
    "response.failed",
    "error",
    "codex.rate_limits",
    "keepalive",
]
FIELDS = [
    "type",
    "response",
    "item",
    "delta",
    "error",
    "rate_limits",
    "plan_type",
    "status",
    "headers",
    "code",
    "message",
]


@st.composite
def events(draw):
    """An event dict: a known type (or a random/wrong-typed one) and random known fields."""
    kind = draw(st.one_of(st.sampled_from(EVENT_TYPES), json_value))
    event = {"type": kind}
    for name in draw(st.lists(st.sampled_from(FIELDS[1:]), max_size=4, unique=True)):
        event[name] = draw(json_value)
    if draw(st.booleans()):  # shapes close to the real ones, with random insides
        event["item"] = {
            "type": draw(st.sampled_from(["message", "function_call", "reasoning", "x", 3])),
            "call_id": draw(st.one_of(st.text(max_size=6), json_value)),
            "name": draw(st.one_of(st.sampled_from(["read", "bash"]), json_value)),
            "arguments": draw(
                st.one_of(st.just('{"path": "a"}'), st.text(max_size=12), json_value)
            ),
            "content": draw(json_value),
            "summary": draw(json_value),
        }
    if draw(st.booleans()):
        event["response"] = {
            "id": draw(json_value),
            "usage": draw(
                st.one_of(json_value, st.fixed_dictionaries({"input_tokens": json_value}))
            ),
            "incomplete_details": draw(json_value),
            "error": draw(json_value),
        }
    return event


def sse_bytes(event: dict, named: bool, crlf: bool) -> bytes:
    nl = b"\r\n" if crlf else b"\n"
    head = f"event: {event['type']}".encode() + nl if named else b""
    return head + b"data: " + json.dumps(event).encode() + nl + nl


def valid_stream(seed: int) -> list[dict]:
    """A realistic Responses event stream: reasoning, a message and a call, completed."""
    rng = random.Random(seed)
    out = [
        {"type": "response.created", "response": {"id": "resp_1", "model": "gpt-5.5"}},
        {"type": "response.in_progress", "response": {"id": "resp_1"}},
    ]
    for _ in range(rng.randint(0, 3)):
        out.append({"type": "response.output_text.delta", "delta": "héllo 🙂 " * rng.randint(1, 5)})
    out.append(
        {
            "type": "response.output_item.done",
            "item": {"type": "message", "content": [{"type": "output_text", "text": "hi"}]},
        }
    )
    if rng.random() < 0.5:
        out.append(
            {
                "type": "response.output_item.done",
                "item": {
                    "type": "function_call",
                    "call_id": "call_1",
                    "name": "read",
                    "arguments": json.dumps({"path": "a.py"}),
                },
            }
        )
    out.append({"type": "response.completed", "response": {"id": "resp_1", "usage": {}}})
    return out


def corrupt(data: bytes, rng: random.Random) -> bytes:
    """A handful of byte-level accidents: flips, drops, inserts, duplicated or cut runs."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        if not buf:
            break
        at = rng.randrange(len(buf))
        action = rng.randrange(6)
        if action == 0:
            buf[at] = rng.randrange(256)
        elif action == 1:
            del buf[at : at + rng.randint(1, 40)]
        elif action == 2:
            buf[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif action == 3:
            buf[at:at] = buf[at : at + rng.randint(1, 60)]
        elif action == 4:
            buf[at:at] = rng.choice(
                [b"\r", b"\n", b"\r\n", b"\n\n", b":", b"data:", b"\xef\xbb\xbf"]
            )
        else:
            del buf[at:]
    return bytes(buf)


def chunked(data: bytes, rng: random.Random) -> list[bytes]:
    out, at = [], 0
    while at < len(data):
        size = rng.choice([1, 2, 3, 7, 64, 4096])
        out.append(data[at : at + size])
        at += size
    return out


OUTCOMES: collections.Counter = collections.Counter()  # (test, outcome) → examples


def structured_or_result(run) -> str:
    """Run `run()`: fine, or a PixirError with a kind and a message. Anything else fails."""
    try:
        run()
    except PixirError as err:
        assert err.kind and isinstance(err.kind, str) and err.message
        return err.kind
    return "ok"


# -- the framing and decoding ---------------------------------------------------------------------


@FUZZ
@given(st.lists(st.binary(max_size=300), max_size=12))
def test_iter_events_takes_any_bytes_and_yields_only_objects(chunks):
    record("fuzz_examples")
    for event in iter_events(chunks):
        assert isinstance(event, dict)


@FUZZ
@given(st.integers(0, 2**32), st.booleans(), st.booleans())
def test_a_valid_stream_with_random_corruption_assembles_or_fails_cleanly(seed, named, crlf):
    record("fuzz_examples")
    rng = random.Random(seed)
    stream = valid_stream(seed)
    data = b"".join(sse_bytes(e, named, crlf) for e in stream)
    if rng.random() < 0.2:
        data = b"\xef\xbb\xbf" + data
    bad = corrupt(data, rng)
    deltas = []
    kind = structured_or_result(lambda: assemble(iter_events(chunked(bad, rng)), deltas.append))
    OUTCOMES["corrupted stream", kind] += 1


@FUZZ
@given(st.integers(0, 2**32))
def test_an_uncorrupted_stream_in_any_chunking_always_assembles(seed):
    """The control: without corruption the same generator always succeeds, so the test
    above does exercise real streams."""
    record("fuzz_examples")
    rng = random.Random(seed)
    data = b"".join(
        sse_bytes(e, rng.random() < 0.5, rng.random() < 0.5) for e in valid_stream(seed)
    )
    result = assemble(iter_events(chunked(data, rng)))
    assert result.text == "hi" and result.response_id == "resp_1"


# -- event assembly (SSE events and WebSocket frames alike) -------------------------------------


@settings(FUZZ, max_examples=250)
@given(st.lists(events(), max_size=10))
def test_any_sequence_of_events_assembles_or_fails_cleanly(sequence):
    record("fuzz_examples")
    kind = structured_or_result(lambda: assemble(iter(sequence), lambda d: None))
    headers = {"x-codex-primary-used-percent": "bogus", "x-codex-": ""}
    with_headers = structured_or_result(
        lambda: assemble(iter(sequence), lambda d: None, headers, "subscription")
    )
    assert kind == with_headers, "odd rate-limit headers must not change the outcome"
    OUTCOMES["event sequence", kind] += 1


@FUZZ
@given(json_value, st.sampled_from(["subscription", "api_key", None]))
def test_any_error_frame_or_event_is_classified(value, kind):
    record("fuzz_examples")
    event = value if isinstance(value, dict) else {"type": "error", "error": value}
    err = classify_event(event, kind)
    assert isinstance(err, PixirError) and err.kind and err.message


@FUZZ
@given(
    st.integers(100, 599),
    st.one_of(st.binary(max_size=400), json_value.map(lambda v: json.dumps(v).encode())),
    st.dictionaries(
        st.sampled_from(["retry-after", "Retry-After", "x-request-id", "x"]), st.text(max_size=30)
    ),
)
def test_any_http_error_response_is_classified(status, body, headers):
    record("fuzz_examples")
    parse_error_body(body)
    err = classify_http(status, body, headers, "api_key")
    assert isinstance(err, PixirError) and err.kind and err.message


# -- the Log: lines a person or a tool may have mangled ------------------------------------------


LOG_TYPES = sorted(CANONICAL)  # every type the Log keeps, as the fold meets them


@st.composite
def log_events(draw):
    kind = draw(st.sampled_from(LOG_TYPES))
    data = draw(
        st.dictionaries(
            st.sampled_from(
                [
                    "text",
                    "call_id",
                    "name",
                    "args",
                    "arguments",
                    "output",
                    "ok",
                    "item",
                    "model",
                    "range",
                    "summary",
                    "partial",
                    "line",
                ]
            ),
            json_value,
            max_size=5,
        )
    )
    if draw(st.booleans()):
        data["call_id"] = draw(st.sampled_from(["c1", "c2"]))
    if kind == "history_compaction" and draw(st.booleans()):
        data["range"] = {"from_seq": draw(st.integers(-2, 8)), "to_seq": draw(st.integers(-2, 8))}
    return {"id": "0" * 16, "session_id": "s", "seq": 0, "ts": "t", "type": kind, "data": data}


@FUZZ
@given(st.lists(log_events(), max_size=10), st.integers(0, 2**32))
def test_a_log_with_wrong_shaped_events_folds_or_is_a_clear_corrupt_log(sequence, seed):
    """Events that pass the envelope check but carry data of the wrong shapes (an edited
    Log, another tool's output): reading and folding them gives a History or corrupt_log
    naming the file — never a crash."""
    record("fuzz_examples")
    rng = random.Random(seed)
    started = {"type": "session_started", "data": {"model": "gpt-5.5"}, "seq": 0}
    lines = [encode_line(started)]
    for seq, event in enumerate(sequence, 1):
        lines.append(encode_line({**event, "seq": seq}))
    data = b"".join(lines)
    if rng.random() < 0.3:  # and now and then a byte-level accident too
        data = corrupt(data, rng)

    def read_and_fold():
        folded = History.fold(parse(data, "/x/s.jsonl"), "gpt-5.5")
        items = folded.input_items()
        json.dumps(items)  # what the next request would carry, in the shapes the API takes:
        for item in items:
            if item.get("type") == "function_call":
                assert all(isinstance(item[k], str) for k in ("call_id", "name", "arguments"))
            elif item.get("type") == "function_call_output":
                assert isinstance(item["call_id"], str) and isinstance(item["output"], str)
            elif item.get("role") in ("user", "assistant"):
                assert all(isinstance(part["text"], str) for part in item["content"])

    kind = structured_or_result(read_and_fold)
    assert kind in ("ok", "corrupt_log"), kind
    OUTCOMES["log", kind] += 1


def test_the_fuzzers_reached_both_successes_and_structured_failures():
    """The fuzzers above are only worth something if their inputs sometimes work and
    sometimes fail: each must have seen both (runs after them, in file order)."""
    for name in ("corrupted stream", "event sequence", "log"):
        seen = {kind for (test, kind) in OUTCOMES if test == name}
        assert "ok" in seen and seen - {"ok"}, (name, dict(OUTCOMES))
