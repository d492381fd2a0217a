"""Run the fake by hand: `python -m tests.fake_backend --port 8765 --scenario FILE.json`.

Prints the environment a person needs to point pixir (or anything else) at it, then serves
until Ctrl-C. A scenario file is `{"steps": [...], "settings": {...}}` (docs/fake-backend.md).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading

from .backend import FakeBackend


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fake_backend", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--port", type=int, default=0, help="port on 127.0.0.1 (default: any free one)"
    )
    parser.add_argument("--scenario", help="JSON file with {steps, settings}")
    parser.add_argument(
        "--auth-json",
        metavar="PATH",
        help="also write a ready subscription auth.json (mode 0600) there, for pixir's PIXIR_HOME",
    )
    args = parser.parse_args(argv)
    scenario = None
    if args.scenario:
        with open(args.scenario, encoding="utf-8") as fh:
            scenario = json.load(fh)
    fb = FakeBackend(scenario, port=args.port).start()
    # Everything after start() is inside the try: a Ctrl-C may be handled as soon as the
    # environment is printed, before this thread reaches the wait.
    try:
        if args.auth_json:
            fd = os.open(args.auth_json, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(fb.auth_json(), fh)
            print(f"# wrote a subscription auth.json to {args.auth_json}")
        for name, value in fb.env().items():
            print(f"export {name}={value}")
        print(f"export OPENAI_API_KEY={fb.api_key}")
        print(
            f"# fake backend on {fb.url} with {fb.steps_left} scripted step(s); Ctrl-C to stop",
            flush=True,
        )
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        fb.stop()
        print(f"# served {len(fb.requests)} request(s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
