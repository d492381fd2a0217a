"""Resume of a long, compacted session (docs/performance.md),
measured, never asserted.

A generated Log of N events (bench/agent.py's shapes) gets one `history_compaction` the way
pixir writes it (planned with the default 20k-token keep budget), then `sessions.resume` is
timed: find, lock, read, parse, fold — with the lines inside the compacted range skipped
undecoded (what pixir does), and decoding everything (what it did before) for comparison.

Run from the repository root:  .venv/bin/python bench/compaction.py
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.agent import SHAPES, generate_log  # noqa: E402
from pixir import paths  # noqa: E402
from pixir import session as sessions  # noqa: E402
from pixir.compaction.cut import find_cut  # noqa: E402
from pixir.compaction.guard import event_data  # noqa: E402
from pixir.compaction.summary import Summary, fallback_summary, files_touched  # noqa: E402
from pixir.log import Log, new_session_id  # noqa: E402

RUNS = 5
KEEP_TOKENS = 20_000


def compacted_log(workspace: Path, events: int, shape: str) -> tuple[Path, dict]:
    """A Log of `events` events whose History was then compacted as pixir would."""
    folder = paths.ensure_sessions_dir(workspace)
    path = folder / f"{new_session_id()}.jsonl"
    generate_log(path, events, shape)
    session, _ = sessions.resume(workspace, path.stem, model=None, permission_mode="auto")
    found = find_cut(session.history, KEEP_TOKENS, last_seq=session.log.next_seq - 1)
    items = session.history.items[: found.replaced]
    files = files_touched(items, None)
    summary = fallback_summary(items, found, "bench", files)
    data = event_data(found, Summary(summary, "deterministic", files), "auto")
    session.append("history_compaction", data)
    session.close()
    return path, data


def resume_times(workspace: Path, path: Path, skip: bool, runs: int = RUNS) -> tuple[list, int]:
    """Seconds of each of `runs` resumes, and the number of input items they give."""
    times, items = [], 0
    original = Log.open.__func__

    def open_(cls, *args, **kw):
        kw["skip_compacted"] = skip
        return original(cls, *args, **kw)

    with mock.patch.object(Log, "open", classmethod(open_)):
        for _ in range(runs):
            started = time.perf_counter()
            session, _ = sessions.resume(workspace, path.stem, model=None, permission_mode="auto")
            items = len(session.history.input_items())
            times.append(time.perf_counter() - started)
            session.close()
    return times, items


def resume_time(workspace: Path, path: Path, skip: bool) -> tuple[float, int]:
    times, items = resume_times(workspace, path, skip)
    return statistics.median(times), items


def main() -> None:
    report = []
    for shape in SHAPES:
        for events in (10_000, 100_000):
            with tempfile.TemporaryDirectory() as tmp:
                workspace = Path(tmp)
                path, data = compacted_log(workspace, events, shape)
                skipped, items = resume_time(workspace, path, skip=True)
                whole, same = resume_time(workspace, path, skip=False)
                assert items == same
                report.append(
                    {
                        "shape": shape,
                        "events": events,
                        "mib": round(path.stat().st_size / 2**20, 1),
                        "replaced_events": data["events"],
                        "input_items_after": items,
                        "resume_skipping_s": round(skipped, 3),
                        "resume_decoding_all_s": round(whole, 3),
                    }
                )
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
