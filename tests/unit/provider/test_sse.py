"""SSE framing: every WHATWG rule (docs/provider.md, "Wire"), and chunking-independence as a
property.

The rules are checked on the framing and the field parser that iter_events runs
(`_frames`, `_parse_lines`), before its JSON decoding, so that any data can be asserted;
iter_events itself (its fast path for the usual blocks, the decoding, `[DONE]`) is checked
against the same reference parser below."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pixir.provider.sse import _frames, _parse_lines, iter_events
from pixir.sanitize import deep


def sse(*chunks: bytes) -> list[tuple[str, str]]:
    """(type, data) of every event the framing dispatches, up to a `[DONE]` payload."""
    out = []
    for blocks in _frames(chunks):
        for block in blocks:
            event = _parse_lines(block)
            if event is not None:
                if event[1] == "[DONE]":
                    return out
                out.append(event)
    return out


# -- line endings ---------------------------------------------------------------------------


@pytest.mark.parametrize("nl", [b"\n", b"\r\n", b"\r"])
def test_each_line_ending_frames_events(nl):
    stream = b"event: a" + nl + b"data: 1" + nl + nl + b"data: 2" + nl + nl
    assert sse(stream) == [("a", "1"), ("message", "2")]


def test_cr_at_the_end_of_a_chunk_and_lf_at_the_start_of_the_next_are_one_line_end():
    # Were they two line ends, the blank line would dispatch "1" before "data: 2" arrives.
    assert sse(b"data: 1\r", b"\ndata: 2\r\n\r\n") == [("message", "1\n2")]


def test_a_lone_cr_chunk_between_empty_chunks_still_pairs_with_the_next_lf():
    assert sse(b"data: 1\r", b"", b"\n\r", b"\n") == [("message", "1")]


def test_mixed_line_endings_in_one_stream():
    assert sse(b"data: a\r\ndata: b\rdata: c\n\r\n") == [("message", "a\nb\nc")]


# -- bytes and text ---------------------------------------------------------------------------


def test_a_utf8_character_split_across_chunks_is_decoded_whole():
    data = "data: héllo → 🙂\n\n".encode()
    cut = data.index("🙂".encode()) + 2
    assert sse(data[:cut], data[cut:]) == [("message", "héllo → 🙂")]


def test_a_leading_bom_is_dropped_even_when_split():
    assert sse(b"\xef", b"\xbb", b"\xbfdata: x\n\n") == [("message", "x")]


def test_only_the_first_bom_is_dropped():
    # A BOM later in the stream is content: here it makes an unknown field name.
    assert sse(b"\xef\xbb\xbfdata: x\n\n\xef\xbb\xbfdata: y\n\n") == [("message", "x")]


def test_invalid_utf8_is_replaced_not_raised():
    assert sse(b"data: \xff\xfe\n\n") == [("message", "\ufffd\ufffd")]


# -- fields ---------------------------------------------------------------------------------


def test_comments_are_ignored_and_a_comment_only_block_dispatches_nothing():
    assert sse(b": keep-alive\n\n:\n\ndata: x\n: inside\n\n") == [("message", "x")]


def test_exactly_one_space_after_the_colon_is_dropped():
    assert sse(b"data:  two\n\ndata:none\n\n") == [("message", " two"), ("message", "none")]


def test_a_line_without_colon_is_a_field_with_an_empty_value():
    assert sse(b"data\ndata\n\n") == [("message", "\n")]
    assert sse(b"event\ndata: x\n\n") == [("message", "x")]


def test_multiple_data_lines_join_with_newlines():
    assert sse(b'data: {"a":\ndata: 1}\n\n') == [("message", '{"a":\n1}')]


def test_id_retry_and_unknown_fields_change_nothing():
    assert sse(b"id: 7\nretry: 100\nfoo: bar\ndata: x\n\n") == [("message", "x")]


def test_event_type_is_reset_after_each_dispatch():
    assert sse(b"event: a\ndata: 1\n\ndata: 2\n\n") == [("a", "1"), ("message", "2")]


def test_an_event_without_data_lines_is_not_dispatched():
    assert sse(b"event: ping\n\nid: 3\n\ndata: x\n\n") == [("message", "x")]


def test_a_data_line_with_an_empty_value_dispatches_empty_data():
    assert sse(b"data:\n\n") == [("message", "")]


def test_blank_lines_between_events_dispatch_nothing():
    assert sse(b"\n\n\ndata: x\n\n\n\n") == [("message", "x")]


def test_done_ends_the_stream():
    stream = b'data: {"type":"a"}\n\ndata: [DONE]\n\ndata: {"type":"b"}\n\n'
    assert list(iter_events([stream])) == [{"type": "a"}]


def test_an_unfinished_event_at_the_end_is_discarded():
    assert sse(b"data: a\n\ndata: b\n") == [("message", "a")]
    assert sse(b"data: a\n\ndata: b") == [("message", "a")]


def test_truncated_utf8_at_the_end_of_the_stream_is_dropped_with_its_event():
    assert sse(b"data: ok\n\ndata: caf\xc3") == [("message", "ok")]


def test_it_is_a_lazy_generator_yielding_before_the_stream_ends():
    def chunks():
        yield b'data: {"type":"first"}\n\n'
        raise AssertionError("read past the first event")

    assert next(iter_events(chunks())) == {"type": "first"}


def test_a_big_event_in_one_byte_chunks():
    payload = "x" * 100_000
    data = f"data: {payload}\n\n".encode()
    assert sse(*(data[i : i + 1] for i in range(len(data)))) == [("message", payload)]


# -- JSON events ----------------------------------------------------------------------------


def test_iter_events_parses_json_and_the_payload_type_wins():
    stream = (
        b'event: response.created\ndata: {"type":"response.in_progress"}\n\n'
        b'event: response.output_text.delta\ndata: {"delta":"x"}\n\n'
    )
    assert list(iter_events([stream])) == [
        {"type": "response.in_progress"},
        {"type": "response.output_text.delta", "delta": "x"},
    ]


def test_an_event_name_that_becomes_the_type_is_valid_text_too():
    stream = b'event: a\x00b\ndata: {"v":1}\n\ndata: {"v":2}\nevent: \x00\n\n'
    assert list(iter_events([stream])) == [{"v": 1, "type": "a\ufffdb"}, {"v": 2, "type": "\ufffd"}]
    # an empty name is the default type on the fast path too, as the field rules say
    assert list(iter_events([b'event: \ndata: {"v":3}\n\n'])) == [{"v": 3, "type": "message"}]


def test_iter_events_skips_payloads_that_are_not_json_objects():
    deep = b"[" * 100_000
    stream = b"data: not json\n\ndata: 42\n\ndata: " + deep + b'\n\ndata: {"type":"a"}\n\n'
    assert list(iter_events([stream])) == [{"type": "a"}]


# -- chunking independence (property) -------------------------------------------------------

field_text = st.text(
    alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)),
    max_size=20,
)
line = st.one_of(
    st.builds(lambda v: "data: " + v, field_text),
    st.builds(lambda v: "data:" + v, field_text),
    st.builds(lambda v: "event: " + v, field_text),
    st.builds(lambda v: ": " + v, field_text),
    st.builds(lambda v: "id: " + v, field_text.filter(lambda s: "\0" not in s)),
    st.just("data"),
    st.just("retry: 10"),
)
event_block = st.lists(line, min_size=0, max_size=4)
stream_spec = st.lists(event_block, min_size=0, max_size=8)


def render(blocks: list[list[str]], nl: str, bom: bool) -> bytes:
    text = "".join("".join(line + nl for line in block) + nl for block in blocks)
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")


def reference(blocks: list[list[str]]) -> list[tuple[str, str]]:
    """The events a WHATWG parser dispatches, computed from the structure, not the bytes."""
    out = []
    for block in blocks:
        kind, data = "", []
        for line in block:
            name, colon, value = line.partition(":")
            if line.startswith(":"):
                continue
            if colon and value.startswith(" "):
                value = value[1:]
            if name == "data":
                data.append(value)
            elif name == "event":
                kind = value
        if data:
            joined = "\n".join(data)
            if joined == "[DONE]":
                break
            out.append((kind or "message", joined))
    return out


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, last = [], 0
    for point in [*points, len(data)]:
        pieces.append(data[last:point])
        last = point
    return pieces


@settings(max_examples=300, deadline=None)
@given(
    stream_spec,
    st.sampled_from(["\n", "\r\n", "\r"]),
    st.booleans(),
    st.lists(st.integers(min_value=0, max_value=10_000), max_size=30),
)
def test_any_chunking_of_any_valid_stream_yields_the_same_events(blocks, nl, bom, cuts):
    data = render(blocks, nl, bom)
    whole = sse(data)
    assert whole == reference(blocks)
    assert sse(*split(data, cuts)) == whole
    assert sse(*(data[i : i + 1] for i in range(len(data)))) == whole


@settings(max_examples=100, deadline=None)
@given(st.lists(st.dictionaries(st.text(max_size=5), st.text(max_size=30)), max_size=6))
def test_json_payloads_round_trip_through_any_line_ending(objects):
    for nl in (b"\n", b"\r\n", b"\r"):
        data = b"".join(
            b"data: " + json.dumps({"type": "t", **o}).encode() + nl + nl for o in objects
        )
        got = list(iter_events([data[i : i + 7] for i in range(0, len(data), 7)]))
        # the same text, except that lone surrogates and NUL arrive as U+FFFD
        assert got == [deep({"type": "t", **o}) for o in objects]


json_line = st.one_of(
    st.builds(lambda v: "data: " + json.dumps({"type": "t", "v": v}), field_text),
    st.builds(lambda v: "data:" + json.dumps({"v": v}), field_text),
    st.builds(lambda v: "event: " + v, field_text),
    st.builds(lambda v: ": " + v, field_text),
    st.just("data: not json"),
    st.just("id: 1"),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(json_line, max_size=3), max_size=8),
    st.sampled_from(["\n", "\r\n", "\r"]),
    st.booleans(),
    st.lists(st.integers(min_value=0, max_value=10_000), max_size=30),
)
def test_iter_events_fast_paths_agree_with_the_general_parser_under_any_chunking(
    blocks, nl, bom, cuts
):
    data = render(blocks, nl, bom)
    expected = []
    for kind, payload in reference(blocks):
        try:
            value = json.loads(payload)
        except ValueError:
            continue
        if isinstance(value, dict):
            value.setdefault("type", kind)
            expected.append(deep(value))
    assert list(iter_events([data])) == expected
    assert list(iter_events(split(data, cuts))) == expected
    assert list(iter_events([data[i : i + 1] for i in range(len(data))])) == expected
