"""Accounting and cutting (docs/compaction.md): where a History may be cut, the keep-recent
budget, the seq range, carrying an earlier summary forward, the estimates."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from pixir.compaction.cut import (
    Compactor,
    body_tokens,
    cut_points,
    find_cut,
    item_chars,
    previous_summary,
    tokens,
)
from pixir.compaction.summary import fallback_summary, files_touched
from pixir.history import SUMMARY_PREFIX, History
from tests.unit.helpers import MODEL
from tests.unit.helpers.exchanges import (
    assert_acceptable,
    assistant,
    build,
    call,
    events,
    exchange,
    history,
    reasoning,
    result,
    user,
)


def compacted(h: History, found, summary="S", seq=None):
    """Fold the compaction a cut describes into `h` (as the Log append would)."""
    data = {
        "range": {"from_seq": found.from_seq, "to_seq": found.to_seq},
        "summary": summary,
        "files_touched": files_touched(h.items[: found.replaced], found.previous),
        "strategy": "deterministic",
        "trigger": "manual",
    }
    seq = seq if seq is not None else max(h.seqs) + 100
    h.add({"seq": seq, "type": "history_compaction", "data": data})
    return data


def kinds(items):
    return [i.get("type") or i.get("role") for i in items]


# -- cut points ---------------------------------------------------------------------------------


def test_cuts_at_user_messages_and_between_complete_pairs_only():
    h = history(
        user("one"),  # 0
        reasoning(),  # 1
        call("c1"),  # 2
        result("c1"),  # 3
        call("c2"),  # 4
        call("c3"),  # 5 (parallel calls)
        result("c2"),  # 6
        result("c3"),  # 7
        assistant("done"),  # 8
        user("two"),  # 9
    )
    assert kinds(h.items) == [
        "user",
        "reasoning",
        "function_call",
        "function_call_output",
        "function_call",
        "function_call",
        "function_call_output",
        "function_call_output",
        "message",
        "user",
    ]
    # never after a reasoning item (1→2), inside a pair (2→3) or inside parallel pairs (4..7)
    assert cut_points(h) == [1, 4, 8, 9, 10]


def test_no_cut_at_the_end_while_a_call_waits_for_its_result():
    h = history(user("one"), call("c1"), result("c1"), call("c2"))
    assert cut_points(h) == [1, 3]


def test_an_orphan_closed_by_the_next_user_message_stays_with_its_call():
    # The synthetic output the fold adds takes its call's seq: the pair stays whole.
    h = history(user("one"), call("c1"), call("c2"), result("c2"), user("two"))
    assert kinds(h.items) == [
        "user",
        "function_call",
        "function_call",
        "function_call_output",
        "function_call_output",
        "user",
    ]
    assert cut_points(h) == [1, 5, 6]


# -- the cut ----------------------------------------------------------------------------------


def long_history(exchanges=10, size=400):
    pairs = [user("start")]
    for n in range(exchanges):
        pairs += [reasoning(f"rs_{n}"), call(f"c{n}", f"f{n}.py"), result(f"c{n}", "x" * size)]
    pairs.append(assistant("done"))
    return history(*pairs)


def test_keeps_the_most_recent_items_within_the_budget():
    h = long_history()
    exchange = tokens(len("blob") + len("read") + len('{"path":"f0.py"}') + 400)
    found = find_cut(h, keep_tokens=3 * exchange + 2)
    assert found is not None
    kept = h.items[found.replaced :]
    assert tokens(sum(item_chars(i) for i in kept)) <= 3 * exchange + 2
    assert kinds(kept)[:3] == ["reasoning", "function_call", "function_call_output"]
    assert sum(1 for i in kept if i.get("type") == "function_call") == 3
    # the range runs from the first item to the event before the first kept one
    assert found.from_seq == 1 and found.to_seq == h.seqs[found.replaced] - 1
    assert found.events == found.to_seq - found.from_seq + 1
    assert found.tokens_replaced + found.tokens_kept >= found.tokens_before - 1


def test_a_zero_budget_replaces_everything_up_to_the_last_cut_point():
    h = long_history(3)
    found = find_cut(h, keep_tokens=0, last_seq=99)
    assert found.replaced == len(h.items) and found.kept == 0
    assert found.to_seq == 99  # the range ends with the Log when nothing is kept


def test_nothing_to_cut_when_everything_fits_the_budget():
    h = long_history(3)
    found = find_cut(h, keep_tokens=10**6)
    assert found is None


def test_a_last_exchange_bigger_than_the_budget_is_still_cut_before():
    h = history(user("a"), call("c1"), result("c1", "y" * 10_000), call("c2"))
    found = find_cut(h, keep_tokens=10)  # c2 is still open: the cut cannot be at the end
    assert found.replaced == 3
    assert kinds(h.items[found.replaced :]) == ["function_call"]


def test_the_fold_of_a_cut_sends_the_summary_then_exactly_the_kept_items():
    h = long_history(8)
    found = find_cut(h, keep_tokens=300)
    kept = h.items[found.replaced :]
    compacted(h, found, "what happened")
    items = h.input_items()
    assert items[0]["content"][0]["text"] == SUMMARY_PREFIX + "what happened"
    assert items[1:] == kept


def test_a_second_compaction_carries_the_first_summary_forward():
    h = long_history(8)
    first = find_cut(h, keep_tokens=300)
    compacted(h, first, "FIRST SUMMARY", seq=50)
    # more work after the first compaction
    for n, pair in enumerate(
        [call("d1", "g.py"), result("d1", "z" * 900), call("d2"), result("d2", "z" * 900)], 51
    ):
        h.add({"seq": n, "type": pair[0], "data": pair[1]})
    assert previous_summary(h) is not None
    second = find_cut(h, keep_tokens=300)
    assert second.previous is not None and second.previous["summary"] == "FIRST SUMMARY"
    assert second.from_seq == first.from_seq  # the range covers the earlier summary
    assert second.to_seq > first.to_seq
    # the deterministic summary carries the earlier one's content, and its files
    files = files_touched(h.items[: second.replaced], second.previous)
    text = fallback_summary(h.items[: second.replaced], second, "test", files)
    assert "FIRST SUMMARY" in text
    assert files[: len(first_files(first, h))] == first_files(first, h)
    assert "g.py" in files
    compacted(h, second, "SECOND")
    texts = [i["content"][0]["text"] for i in h.input_items() if i.get("role") == "user"]
    assert texts[0] == SUMMARY_PREFIX + "SECOND"
    assert not any("FIRST SUMMARY" in t for t in texts)  # replaced, not stacked


def first_files(found, h):
    return h.last_compaction["files_touched"] if h.last_compaction else []


def test_nothing_to_cut_when_only_the_earlier_summary_would_go():
    h = long_history(8)
    compacted(h, find_cut(h, keep_tokens=300), "S", seq=50)
    assert find_cut(h, keep_tokens=10**6) is None
    again = find_cut(h, keep_tokens=300)
    assert again is None or again.replaced > 1


# -- accounting ---------------------------------------------------------------------------------


def test_item_chars_counts_what_the_model_reads():
    assert item_chars({"role": "user", "content": [{"type": "input_text", "text": "abcd"}]}) == 4
    assert item_chars({"type": "function_call", "name": "read", "arguments": "{}"}) == 6
    assert item_chars({"type": "function_call_output", "call_id": "c", "output": "x" * 9}) == 9
    reasoning_item = {"type": "reasoning", "encrypted_content": "e" * 10, "summary": []}
    assert item_chars(reasoning_item) == 10
    assert tokens(0) == 0 and tokens(1) == 1 and tokens(8) == 2 and tokens(9) == 3


def test_body_tokens_is_the_compact_json_over_four():
    body = {"input": ["é" * 10]}
    assert body_tokens(body) == tokens(len(json.dumps(body, ensure_ascii=False)) - 1)


def test_keep_budget_never_exceeds_half_of_window_minus_reserve():
    def make(window, reserve, keep):
        return Compactor(window, True, reserve, keep, lambda items: {})

    assert make(272_000, 16_384, 20_000).keep_budget() == 20_000
    assert make(8_000, 2_000, 20_000).keep_budget() == 3_000
    assert make(8_000, 9_000, 20_000).threshold == 0


@settings(max_examples=150, deadline=None)
@given(st.lists(exchange(), min_size=1, max_size=5), st.integers(0, 400), st.integers(0, 400))
def test_any_cut_leaves_a_paired_request_and_carries_forward(turns, keep1, keep2):
    h = History.fold(events(*build(turns)), MODEL)
    found = find_cut(h, keep_tokens=keep1)
    if found is None:
        return
    kept = h.items[found.replaced :]
    assert all(s > found.to_seq for s in h.seqs[found.replaced :])
    assert all(found.from_seq <= s <= found.to_seq for s in h.seqs[: found.replaced])
    compacted(h, found, "ONE", seq=10_000)
    items = h.input_items()
    assert items[1 : 1 + len(kept)] == kept
    assert_acceptable(items)
    second = find_cut(h, keep_tokens=keep2)
    if second is None:
        return
    assert second.previous is not None and second.from_seq == found.from_seq
    compacted(h, second, "TWO", seq=10_001)
    items = h.input_items()
    assert items[0]["content"][0]["text"] == SUMMARY_PREFIX + "TWO"
    assert sum(1 for i in items if i.get("role") == "user" and "ONE" in str(i)) == 0
    assert_acceptable(items)


def test_an_image_counts_as_an_image_not_as_its_base64():
    from pixir.compaction.cut import IMAGE_CHARS, body_tokens, item_chars

    huge = "A" * 4_000_000  # a 3 MB image
    part = {"type": "input_image", "image_url": f"data:image/png;base64,{huge}"}
    item = {"role": "user", "content": [{"type": "input_text", "text": "look"}, part]}
    assert item_chars(item) == 4 + IMAGE_CHARS
    small = body_tokens({"input": [{"role": "user", "content": [part]}]})
    assert small < IMAGE_CHARS // 4 + 50  # a few hundred tokens, not a million
