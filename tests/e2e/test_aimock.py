"""`dist/pixir` against a Responses server somebody else wrote: npm `@copilotkit/aimock`,
serving tests/aimock/fixtures.json over HTTP/SSE and WebSocket. Text with reasoning, a tool
loop, parallel calls, errors, a truncated answer and a broken stream, on both transports.

aimock is installed by this module into tests/aimock/node_modules (git-ignored) at the
version pinned in tests/aimock/package.json; the tests skip, saying why, only when node or
npm is missing. How aimock differs from the real service, and what pixir does about it, is
in docs/provider.md ("Other servers")."""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import threading
import urllib.request
from pathlib import Path

import pytest

from tests.harness import REPO_ROOT, PixirRunner

pytestmark = pytest.mark.e2e

AIMOCK_DIR = REPO_ROOT / "tests" / "aimock"
PACKAGE = "@copilotkit/aimock"
CLI = AIMOCK_DIR / "node_modules" / "@copilotkit" / "aimock" / "dist" / "cli.js"
TRANSPORTS = ["http_sse", "websocket"]
API_KEY = "sk-aimock-" + "k" * 24


def pinned_version() -> str:
    return json.loads((AIMOCK_DIR / "package.json").read_text())["dependencies"][PACKAGE]


def installed_version() -> str | None:
    try:
        return json.loads((CLI.parent.parent / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None


@pytest.fixture(scope="session")
def aimock_cli() -> Path:
    """The pinned aimock, installed with `npm ci` on first use (one installer at a time)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("aimock needs node and npm, which this machine does not have")
    with open(AIMOCK_DIR / ".install-lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if installed_version() != pinned_version():
            done = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
                cwd=AIMOCK_DIR,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if done.returncode != 0 or installed_version() != pinned_version():
                pytest.fail(
                    f"npm ci of {PACKAGE} in {AIMOCK_DIR} failed ({done.returncode}):\n"
                    + done.stderr[-2000:],
                    pytrace=False,
                )
    return CLI


class Aimock:
    """One aimock process on an ephemeral loopback port, with what PixirRunner needs of a
    backend (`env()`, `api_key`) and its request journal."""

    def __init__(self, cli: Path):
        self.api_key = API_KEY
        self.proc = subprocess.Popen(
            ["node", str(cli), "-p", "0", "-h", "127.0.0.1", "-f", "fixtures.json"],
            cwd=AIMOCK_DIR,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "AIMOCK_API_KEYS": API_KEY},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        found = threading.Event()
        self.url = ""

        def read() -> None:  # keeps draining, so a chatty aimock never blocks on its pipe
            for line in self.proc.stdout:
                self.lines.append(line)
                match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
                if match and not found.is_set():
                    self.url = match.group(1)
                    found.set()
            found.set()

        threading.Thread(target=read, daemon=True).start()
        if not found.wait(60) or not self.url:
            self.stop()
            pytest.fail("aimock did not start:\n" + "".join(self.lines), pytrace=False)

    def env(self) -> dict[str, str]:
        return {
            "OPENAI_BASE_URL": self.url + "/v1",
            "PIXIR_CHATGPT_BASE_URL": self.url + "/backend-api/codex",
            "PIXIR_AUTH_ISSUER": self.url,
        }

    def journal(self) -> list[dict]:
        """Every Responses call aimock answered (HTTP requests and WebSocket messages)."""
        request = urllib.request.Request(
            self.url + "/__aimock/journal", headers={"Authorization": f"Bearer {API_KEY}"}
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            entries = json.load(resp)
        return [e for e in entries if e.get("path") == "/v1/responses"]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def aimock(aimock_cli):
    server = Aimock(aimock_cli)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pixir(aimock, tmp_path) -> PixirRunner:
    """dist/pixir against aimock, signed in with an API key aimock checks."""
    runner = PixirRunner(aimock, tmp_path)
    runner.login_api_key()
    return runner


def run(pixir: PixirRunner, transport: str, prompt: str, *args: str):
    return pixir.run("--transport", transport, "--json", *args, prompt, timeout=90)


def events_of(runner: PixirRunner, kind: str) -> list[dict]:
    return [e["data"] for e in runner.log_events() if e["type"] == kind]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_text_with_reasoning(pixir, aimock, transport):
    result = run(pixir, transport, "aimock-text please")
    assert result.code == 0, result
    assert pixir.json_out(result)["output"] == "Plain answer from aimock."
    (reasoning,) = events_of(pixir, "reasoning")
    assert reasoning["item"]["summary"] == [{"type": "summary_text", "text": "Thinking it over."}]
    assert reasoning["item"]["encrypted_content"]  # asked for with include, kept verbatim
    (usage,) = events_of(pixir, "provider_usage")
    assert usage["active_transport"] == transport
    assert usage["response_id"]
    assert len(aimock.journal()) == 1


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_tool_loop(pixir, aimock, transport):
    pixir.write_file("notes.txt", "hello from the file\n")
    result = run(pixir, transport, "aimock-tool: what do the notes say?")
    assert result.code == 0, result
    assert pixir.json_out(result)["output"] == "The notes say: hello from the file."
    (call,) = events_of(pixir, "tool_call")
    assert call["call_id"] == "call_aim_read" and call["args"] == {"path": "notes.txt"}
    (tool_result,) = events_of(pixir, "tool_result")
    assert tool_result["ok"] and "hello from the file" in tool_result["output"]
    journal = aimock.journal()
    assert len(journal) == 2
    # the second call carried the tool's output back
    last = journal[1]["body"]["messages"][-1]
    assert last["role"] == "tool" and last["tool_call_id"] == "call_aim_read"
    assert "hello from the file" in last["content"]
    usages = events_of(pixir, "provider_usage")
    assert [u["active_transport"] for u in usages] == [transport, transport]
    # over WebSocket the second call continued the first: only the tool output was sent
    # (aimock ignores previous_response_id; the real service answers from its cache)
    continued = transport == "websocket"
    assert [u["used_previous_response_id"] for u in usages] == [False, continued]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_parallel_calls_and_commentary(pixir, aimock, transport):
    pixir.write_file("a.txt", "alpha text\n")
    pixir.write_file("b.txt", "beta text\n")
    result = run(pixir, transport, "aimock-parallel: read a.txt and b.txt")
    assert result.code == 0, result
    assert pixir.json_out(result)["output"] == "Read both: alpha and beta."
    calls = events_of(pixir, "tool_call")
    assert [c["call_id"] for c in calls] == ["call_aim_a", "call_aim_b"]
    results = events_of(pixir, "tool_result")
    assert [r["call_id"] for r in results] == ["call_aim_a", "call_aim_b"]
    assert all(r["ok"] for r in results)
    answers = events_of(pixir, "assistant_message")
    assert answers[0] == {"text": "Reading both files.", "finish_reason": "tool_calls"}
    messages = aimock.journal()[1]["body"]["messages"]
    tool_ids = [m.get("tool_call_id") for m in messages if m["role"] == "tool"]
    assert tool_ids == ["call_aim_a", "call_aim_b"]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_truncated_answer_is_exit_6(pixir, aimock, transport):
    # aimock ends it with response.completed whose status is "incomplete"
    result = run(pixir, transport, "aimock-truncated")
    assert result.code == 6, result
    body = pixir.json_out(result)
    assert body["status"] == "incomplete" and body["error"]["kind"] == "incomplete"
    assert body["output"] == "The answer was cut sh"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_stream_broken_off_is_retried(pixir, aimock, transport):
    result = run(pixir, transport, "aimock-cut")
    assert result.code == 0, result
    assert pixir.json_out(result)["output"] == "Whole on the second try."
    assert len(aimock.journal()) == 2
    (answer,) = events_of(pixir, "assistant_message")
    assert answer["text"] == "Whole on the second try."  # nothing of the broken attempt


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_rate_limit_is_retried(pixir, aimock, transport):
    result = run(pixir, transport, "aimock-ratelimit")
    assert result.code == 0, result
    assert pixir.json_out(result)["output"] == "Answered after the rate limit."
    assert len(aimock.journal()) == 2


@pytest.mark.parametrize(
    ("prompt", "code", "kind"),
    [("aimock-quota", 1, "quota_exceeded"), ("aimock-badmodel", 2, "model_not_supported")],
)
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_errors_that_are_final_are_not_retried(pixir, aimock, transport, prompt, code, kind):
    result = run(pixir, transport, prompt)
    assert result.code == code, result
    assert pixir.json_out(result)["error"]["kind"] == kind
    assert len(aimock.journal()) == 1


def test_a_wrong_api_key_is_refused_on_both_transports(pixir, aimock):
    wrong = "sk-wrong-" + "w" * 24
    (pixir.home / "auth.json").write_text(json.dumps({"kind": "api_key", "api_key": wrong}))
    for transport in TRANSPORTS:
        result = run(pixir, transport, "aimock-text")
        assert result.code == 4, result
        assert pixir.json_out(result)["error"]["kind"] == "not_authenticated"
        assert wrong not in result.stdout + result.stderr
    assert aimock.journal() == []  # refused before any fixture was matched


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_web_search_and_a_resume_after_it(pixir, aimock, transport):
    result = run(pixir, transport, "aimock-websearch", "--web-search")
    assert result.code == 0, result
    body = pixir.json_out(result)
    assert body["output"] == "It is sunny in Paris today."
    (search,) = body["web_searches"]
    assert search["query"] == "weather Paris today" and search["status"] == "completed"
    assert search["id"].startswith("ws-")  # aimock's ids are not the real service's ws_…
    assert body["citations"] == []
    (logged,) = events_of(pixir, "web_search_call")
    assert logged["item"]["id"] == search["id"]
    # the History with the search goes back to the server on resume (the foreign id left out)
    again = run(pixir, transport, "aimock-text", "resume", body["session_id"])
    assert again.code == 0, again
    assert pixir.json_out(again)["output"] == "Plain answer from aimock."
