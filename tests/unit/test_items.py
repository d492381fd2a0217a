"""The shapes of Responses items (pixir/items.py): built the way the API takes them, and read
the same way by the assembler, the Turn, the continuation and compaction."""

from __future__ import annotations

from pixir.items import (
    assistant_message,
    developer_message,
    function_call,
    function_call_output,
    message_text,
    reasoning_summary,
    user_message,
)


def test_input_items_have_the_shapes_the_api_takes():
    assert user_message("hi") == {"role": "user", "content": [{"type": "input_text", "text": "hi"}]}
    assert developer_message("ctx") == {
        "role": "developer",
        "content": [{"type": "input_text", "text": "ctx"}],
    }
    assert assistant_message("done") == {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "done"}],
    }
    assert function_call("c1", "read", '{"path":"a"}') == {
        "type": "function_call",
        "call_id": "c1",
        "name": "read",
        "arguments": '{"path":"a"}',
    }
    assert function_call_output("c1", "text") == {
        "type": "function_call_output",
        "call_id": "c1",
        "output": "text",
    }


def test_message_text_joins_text_and_refusal_parts_in_order():
    item = {
        "type": "message",
        "content": [
            {"type": "output_text", "text": "I can explain, "},
            {"type": "refusal", "refusal": "but not do that."},
        ],
    }
    assert message_text(item) == "I can explain, but not do that."
    # a refusal part's own `text`, if a server sent one, is not its refusal
    assert message_text({"content": [{"type": "refusal", "refusal": "no", "text": "x"}]}) == "no"


def test_message_text_reads_input_items_and_ignores_what_is_not_text():
    assert message_text(user_message("hello")) == "hello"
    assert message_text({"content": "plain"}) == "plain"
    odd = {
        "content": [
            {"type": "output_text", "text": 42},
            {"type": "input_image", "image_url": "data:image/png;base64,AAAA"},
            "not a part",
            {"type": "output_text", "text": "kept"},
        ]
    }
    assert message_text(odd) == "kept"
    assert message_text({"content": None}) == "" and message_text({}) == ""


def test_reasoning_summary_keeps_the_readable_texts_only():
    item = {
        "type": "reasoning",
        "encrypted_content": "gAAAA",
        "summary": [
            {"type": "summary_text", "text": "first"},
            {"type": "summary_text", "text": ""},
            {"type": "summary_text", "text": None},
            "junk",
            {"type": "summary_text", "text": "second"},
        ],
    }
    assert reasoning_summary(item) == ["first", "second"]
    assert reasoning_summary({"type": "reasoning", "summary": "oops"}) == []
