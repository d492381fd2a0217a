"""Logs of user Turns as (type, data) pairs, folded into a History, and the check the
API applies to the input items a History sends."""

from __future__ import annotations

from hypothesis import strategies as st

from pixir.history import History
from tests.unit.helpers import MODEL


def events(*pairs, start=1):
    return [{"seq": n, "type": t, "data": d} for n, (t, d) in enumerate(pairs, start)]


def history(*pairs):
    return History.fold(events(*pairs), MODEL)


def user(text="hi"):
    return ("user_message", {"text": text})


def assistant(text="ok"):
    return ("assistant_message", {"text": text, "finish_reason": "stop"})


def call(call_id, path="a.py", name="read"):
    return ("tool_call", {"call_id": call_id, "name": name, "args": {"path": path}})


def result(call_id, output="out"):
    return ("tool_result", {"call_id": call_id, "ok": True, "output": output})


def reasoning(rid="rs_1"):
    item = {"id": rid, "type": "reasoning", "encrypted_content": "blob", "summary": []}
    return ("reasoning", {"item": item, "model": MODEL})


def exchange():
    """One user Turn: text, then steps of (reasoning?, calls, results in any order,
    sometimes one missing), and maybe an answer."""
    step = st.tuples(
        st.booleans(),
        st.integers(1, 3),
        st.booleans(),
        st.permutations(list(range(3))),
        st.integers(1, 300),
    )
    return st.tuples(st.lists(step, max_size=4), st.booleans())


def build(turns) -> list[tuple[str, dict]]:
    pairs: list[tuple[str, dict]] = []
    n = 0
    for number, (steps, answered) in enumerate(turns):
        pairs.append(user(f"request {number}"))
        for think, count, drop_one, order, size in steps:
            ids = [f"c{n + i}" for i in range(count)]
            n += count
            if think:
                pairs.append(reasoning(f"rs_{n}"))
            pairs += [call(i, f"p{i}.py") for i in ids]
            answered_ids = [ids[k] for k in order if k < count]
            if drop_one:
                answered_ids = answered_ids[:-1]  # a call left open (crash, Ctrl-C)
            pairs += [result(i, "o" * size) for i in answered_ids]
        if answered:
            pairs.append(assistant("answer"))
    return pairs


def assert_acceptable(items):
    """What the fake (and the API) check: pairing both ways, reasoning followed by its item."""
    calls, answered = set(), set()
    for index, item in enumerate(items):
        kind = item.get("type")
        if kind == "function_call":
            assert item["call_id"] not in calls
            calls.add(item["call_id"])
        elif kind == "function_call_output":
            assert item["call_id"] in calls and item["call_id"] not in answered
            answered.add(item["call_id"])
        elif kind == "reasoning":
            following = items[index + 1] if index + 1 < len(items) else {}
            assert following.get("type") == "function_call" or following.get("role") == (
                "assistant"
            )
    assert calls == answered
