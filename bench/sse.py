"""SSE framing + JSON decode + event assembly, against the floor and openai-python
(docs/performance.md).

    .venv/bin/python bench/sse.py [--events N] [--runs R] [--seed S]

Two workloads, each measured R times (median reported), all ratios taken in one run:
1. a realistic Responses stream of N events (text, reasoning and function-call-argument deltas
   with the real fields and `obfuscation` padding, items added/done, a final
   `response.completed`) cut into random 1–4096-byte chunks;
2. a stream of 1 MB events (big tool arguments) cut into small chunks.

Figures: `pixir` = iter_events + assemble (with an on_delta callback); `floor` = json.loads of
each data payload alone, already split out; `openai` = openai-python's own SSEDecoder over the
same chunks plus json.loads of each event's data (what its Stream does before pydantic).
openai-python is a comparison only: `pip install openai` into the venv, never a dependency.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import string
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pixir.provider.assemble import assemble
from pixir.provider.sse import iter_events

TARGETS = {"floor_ratio": 1.5, "openai_speedup": 1.6, "big_floor_ratio": 2.0}
WORDS = [
    "the",
    "file",
    "function",
    "test",
    "value",
    "error",
    "return",
    "import",
    "class",
    "self",
    "data",
    "list",
    "path",
    "config",
    "request",
    "stream",
    "event",
    "parser",
    "buffer",
    "chunk",
    "line",
    "token",
    "model",
    "result",
    "call",
]


def _obfuscation(rng: random.Random, delta: str) -> str:
    return "".join(rng.choice(string.ascii_letters) for _ in range(max(2, 16 - len(delta))))


def _words(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high)))


def realistic_events(count: int, seed: int) -> list[dict]:
    """A Responses stream shaped like the real one: mostly small deltas with their ids,
    indexes, sequence numbers and obfuscation padding, grouped into items."""
    rng = random.Random(seed)
    rid = "resp_" + "".join(rng.choice("0123456789abcdef") for _ in range(48))
    response = {"id": rid, "object": "response", "status": "in_progress", "model": "gpt-5.5"}
    events: list[dict] = [
        {"type": "response.created", "response": response},
        {"type": "response.in_progress", "response": response},
    ]
    index = 0
    while len(events) < count - 1:
        kind = rng.choices(["reasoning", "message", "function_call"], [2, 5, 3])[0]
        item_id = f"{kind[:2]}_" + "".join(rng.choice("0123456789abcdef") for _ in range(48))
        n = min(rng.randint(20, 400), max(1, count - 4 - len(events)))
        if kind == "message":
            item = {
                "id": item_id,
                "type": "message",
                "status": "in_progress",
                "content": [],
                "role": "assistant",
            }
            events.append(
                {"type": "response.output_item.added", "output_index": index, "item": item}
            )
            parts = []
            for _ in range(n):
                delta = " " + _words(rng, 1, 3)
                parts.append(delta)
                events.append(
                    {
                        "type": "response.output_text.delta",
                        "item_id": item_id,
                        "output_index": index,
                        "content_index": 0,
                        "delta": delta,
                        "logprobs": [],
                        "obfuscation": _obfuscation(rng, delta),
                    }
                )
            text = "".join(parts)
            done = {
                "id": item_id,
                "type": "message",
                "status": "completed",
                "role": "assistant",
                "content": [
                    {"type": "output_text", "annotations": [], "logprobs": [], "text": text}
                ],
            }
        elif kind == "reasoning":
            events.append(
                {
                    "type": "response.output_item.added",
                    "output_index": index,
                    "item": {"id": item_id, "type": "reasoning", "summary": []},
                }
            )
            parts = []
            for _ in range(n):
                delta = " " + _words(rng, 1, 3)
                parts.append(delta)
                events.append(
                    {
                        "type": "response.reasoning_summary_text.delta",
                        "item_id": item_id,
                        "output_index": index,
                        "summary_index": 0,
                        "delta": delta,
                        "obfuscation": _obfuscation(rng, delta),
                    }
                )
            done = {
                "id": item_id,
                "type": "reasoning",
                "encrypted_content": "gAAAAA" + "x" * 800,
                "summary": [{"type": "summary_text", "text": "".join(parts)}],
            }
        else:
            call_id = "call_" + "".join(rng.choice(string.ascii_letters) for _ in range(24))
            events.append(
                {
                    "type": "response.output_item.added",
                    "output_index": index,
                    "item": {
                        "id": item_id,
                        "type": "function_call",
                        "status": "in_progress",
                        "arguments": "",
                        "call_id": call_id,
                        "name": "bash",
                    },
                }
            )
            arguments = json.dumps({"command": _words(rng, n, n)})
            size = max(1, len(arguments) // n)
            for start in range(0, len(arguments), size):
                delta = arguments[start : start + size]
                events.append(
                    {
                        "type": "response.function_call_arguments.delta",
                        "item_id": item_id,
                        "output_index": index,
                        "delta": delta,
                        "obfuscation": _obfuscation(rng, delta),
                    }
                )
            done = {
                "id": item_id,
                "type": "function_call",
                "status": "completed",
                "arguments": arguments,
                "call_id": call_id,
                "name": "bash",
            }
        events.append({"type": "response.output_item.done", "output_index": index, "item": done})
        index += 1
    usage = {
        "input_tokens": 12000,
        "input_tokens_details": {"cached_tokens": 8000},
        "output_tokens": 900,
        "output_tokens_details": {"reasoning_tokens": 300},
        "total_tokens": 12900,
    }
    events.append(
        {
            "type": "response.completed",
            "response": {**response, "status": "completed", "usage": usage},
        }
    )
    for number, event in enumerate(events):
        event["sequence_number"] = number
    return events


def big_events(count: int, size: int, seed: int, realistic: bool = True) -> list[dict]:
    """Function calls whose arguments are ~`size` bytes each (a tool writing a big file).

    Realistic shape (what the service sends for a big call): the arguments stream as small
    deltas, then arrive whole in `function_call_arguments.done` and in `output_item.done`, and
    `response.completed` repeats every output item. `realistic=False` sends only the
    `output_item.done` events: the worst case for assembly, which must parse each big
    `arguments` string a second time (validation, docs/provider.md) while the floor parses it
    once."""
    rng = random.Random(seed)
    events: list[dict] = [{"type": "response.created", "response": {"id": "resp_big"}}]
    output = []
    for index in range(count):
        content = "".join(rng.choice(string.ascii_letters + " \n") for _ in range(size))
        arguments = json.dumps({"path": f"big{index}.txt", "content": content})
        item_id = f"fc_{index}"
        item = {
            "id": item_id,
            "type": "function_call",
            "status": "completed",
            "arguments": arguments,
            "call_id": f"call_{index}",
            "name": "write",
        }
        if realistic:
            for start in range(0, len(arguments), 4096):
                events.append(
                    {
                        "type": "response.function_call_arguments.delta",
                        "item_id": item_id,
                        "output_index": index,
                        "delta": arguments[start : start + 4096],
                    }
                )
            events.append(
                {
                    "type": "response.function_call_arguments.done",
                    "item_id": item_id,
                    "output_index": index,
                    "arguments": arguments,
                }
            )
        events.append({"type": "response.output_item.done", "output_index": index, "item": item})
        output.append(item)
    events.append(
        {
            "type": "response.completed",
            "response": {"id": "resp_big", "output": output if realistic else [], "usage": {}},
        }
    )
    return events


def encode(events: list[dict]) -> tuple[bytes, list[str]]:
    """The SSE bytes (`event:` + `data:` lines, like the real service) and the payloads."""
    payloads = [json.dumps(e, separators=(",", ":")) for e in events]
    data = "".join(
        f"event: {e['type']}\ndata: {p}\n\n" for e, p in zip(events, payloads, strict=True)
    )
    return data.encode("utf-8"), payloads


def chop(data: bytes, low: int, high: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    out, pos = [], 0
    while pos < len(data):
        step = rng.randint(low, high)
        out.append(data[pos : pos + step])
        pos += step
    return out


def run_floor(payloads: list[str]) -> None:
    loads = json.loads
    for payload in payloads:
        loads(payload)


def run_pixir(chunks: list[bytes]):
    def on_delta(delta) -> None:
        pass

    return assemble(iter_events(chunks), on_delta=on_delta)


def openai_runner():
    try:
        from openai._streaming import SSEDecoder
    except ImportError:
        return None

    def run(chunks: list[bytes]) -> None:
        loads = json.loads
        for sse in SSEDecoder().iter_bytes(iter(chunks)):
            if sse.data.startswith("[DONE]"):
                break
            loads(sse.data)

    return run


def measure(jobs: dict, runs: int) -> dict[str, list[float]]:
    """Seconds of each job, run after run. The jobs run interleaved, so a machine whose
    speed drifts (other work, CPU boost) shifts them all alike and the ratios hold."""
    times: dict[str, list[float]] = {name: [] for name in jobs}
    for _ in range(runs):
        for name, (fn, arg) in jobs.items():
            gc.collect()
            start = time.perf_counter()
            fn(arg)
            times[name].append(time.perf_counter() - start)
    return times


def collect(
    events: int = 200_000,
    runs: int = 5,
    seed: int = 1,
    big_count: int = 10,
    big_size: int = 1_000_000,
) -> dict:
    """Every workload's seconds per run (`times`) and the shape of the inputs (`inputs`);
    `openai` is missing from `times` when openai-python is not installed."""
    stream = realistic_events(events, seed)
    data, payloads = encode(stream)
    chunks = chop(data, 1, 4096, seed)
    result = run_pixir(chunks)  # a correctness check before timing
    assert result.status == "completed" and result.function_calls, "bench stream did not assemble"
    inputs = {"stream": {"events": len(payloads), "bytes": len(data), "chunks": len(chunks)}}

    big = {}
    for shape in ("realistic", "worst"):
        raw, big_payloads = encode(
            big_events(big_count, big_size, seed, realistic=shape == "realistic")
        )
        big_chunks = chop(raw, 1, 4096, seed + 1)
        assert len(run_pixir(big_chunks).function_calls) == big_count
        big[shape] = (big_payloads, big_chunks)
        inputs[f"big_{shape}"] = {
            "events": len(big_payloads),
            "bytes": len(raw),
            "chunks": len(big_chunks),
        }

    openai = openai_runner()
    jobs = {"floor": (run_floor, payloads), "pixir": (run_pixir, chunks)}
    if openai:
        jobs["openai"] = (openai, chunks)
    for shape, (big_payloads, big_chunks) in big.items():
        jobs[f"big_{shape}_floor"] = (run_floor, big_payloads)
        jobs[f"big_{shape}_pixir"] = (run_pixir, big_chunks)
    return {"times": measure(jobs, runs), "inputs": inputs}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--big-count", type=int, default=10)
    parser.add_argument("--big-size", type=int, default=1_000_000)
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args()

    collected = collect(args.events, args.runs, args.seed, args.big_count, args.big_size)
    medians = {name: statistics.median(v) for name, v in collected["times"].items()}
    inputs = collected["inputs"]
    floor, pixir, theirs = medians["floor"], medians["pixir"], medians.get("openai")

    n = inputs["stream"]["events"]
    report = {
        **inputs["stream"],
        "floor_us_per_event": round(floor / n * 1e6, 3),
        "pixir_us_per_event": round(pixir / n * 1e6, 3),
        "openai_us_per_event": round(theirs / n * 1e6, 3) if theirs else None,
        "floor_ratio": round(pixir / floor, 3),
        "openai_speedup": round(theirs / pixir, 3) if theirs else None,
    }
    for shape in ("realistic", "worst"):
        big_floor, big_pixir = medians[f"big_{shape}_floor"], medians[f"big_{shape}_pixir"]
        report[f"big_{shape}"] = {
            **inputs[f"big_{shape}"],
            "floor_ms": round(big_floor * 1000, 1),
            "pixir_ms": round(big_pixir * 1000, 1),
            "floor_ratio": round(big_pixir / big_floor, 3),
        }
    report["runs"] = args.runs
    report["python"] = sys.version.split()[0]
    checks = {
        "floor_ratio": report["floor_ratio"] <= TARGETS["floor_ratio"],
        "openai_speedup": theirs is not None
        and report["openai_speedup"] >= TARGETS["openai_speedup"],
        "big_floor_ratio": report["big_realistic"]["floor_ratio"] <= TARGETS["big_floor_ratio"],
    }
    report["targets_met"] = checks
    if args.json:
        print(json.dumps(report))
        return 0
    print(
        f"realistic stream: {n} events, {report['bytes'] / 1e6:.1f} MB, "
        f"{report['chunks']} chunks of 1-4096 bytes"
    )
    print(
        f"  floor (json.loads only)    {floor * 1000:8.1f} ms  {report['floor_us_per_event']} µs/ev"
    )
    print(
        f"  pixir (sse+json+assemble)  {pixir * 1000:8.1f} ms  {report['pixir_us_per_event']} µs/ev"
        f"  = {report['floor_ratio']}× floor (target ≤ {TARGETS['floor_ratio']})"
    )
    if theirs:
        print(
            f"  openai-python SSEDecoder   {theirs * 1000:8.1f} ms  "
            f"{report['openai_us_per_event']} µs/ev  → pixir {report['openai_speedup']}× faster "
            f"(target ≥ {TARGETS['openai_speedup']})"
        )
    else:
        print("  openai-python: not installed (.venv/bin/pip install openai) — comparison skipped")
    for shape, label in (
        ("realistic", "1 MB tool arguments, as the service sends them"),
        ("worst", "1 MB output_item.done events only (arguments parsed twice)"),
    ):
        b = report[f"big_{shape}"]
        print(
            f"{label}: {b['events']} events, {b['bytes'] / 1e6:.1f} MB, {b['chunks']} chunks"
            f"\n  floor {b['floor_ms']} ms, pixir {b['pixir_ms']} ms = {b['floor_ratio']}× floor"
            + (f" (target ≤ {TARGETS['big_floor_ratio']})" if shape == "realistic" else "")
        )
    print(
        f"medians of {args.runs} interleaved runs, Python {report['python']}; targets met: {checks}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
