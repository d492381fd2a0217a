"""Bad input from the user's disk and from the model, through dist/pixir:
malformed auth.json, config.json and Log lines are clear errors naming the file (and the
line); tool calls with wrong argument types, paths out of the workspace, `.pixir/`
targets, huge outputs and binary files are failed tool_results with a clear kind, and
nothing outside the workspace is written — checked on the filesystem."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from tests.fake_backend import step, text, tool_call
from tests.reliability.conftest import check_log, record

pytestmark = pytest.mark.e2e


def no_crash(result, pixir) -> None:
    """A clear error is one line, never a traceback or a crash report."""
    assert "Traceback" not in result.stderr and "internal" not in result.stderr, result
    assert not (pixir.home / "crash").exists(), "a crash report was written"


# -- auth.json -------------------------------------------------------------------------------------

BAD_AUTH = {
    "not JSON": b'{"kind": "subscription", "access_token": ',
    "empty": b"",
    "binary": b"\x00\xff\xfe garbage \x80",
    "an array": b"[1, 2, 3]",
    "an unknown kind": b'{"kind": "cookie", "value": "x"}',
    "missing tokens": b'{"kind": "subscription", "access_token": "a"}',
    "a token of the wrong type": b'{"kind": "api_key", "api_key": 12345}',
    "expires_at a string": (
        b'{"kind": "subscription", "access_token": "a", "refresh_token": "r", '
        b'"account_id": "x", "expires_at": "tomorrow"}'
    ),
}


@pytest.mark.parametrize("name", list(BAD_AUTH))
def test_a_malformed_auth_file_is_corrupt_auth_naming_the_path(pixir, fake, name):
    path = pixir.home / "auth.json"
    pixir.home.mkdir(mode=0o700, exist_ok=True)
    path.write_bytes(BAD_AUTH[name])
    os.chmod(path, 0o600)
    for args in (("fix it",), ("ping",), ("status",)):
        result = pixir.run(*args, env={"OPENAI_API_KEY": fake.api_key})
        assert result.code == 4, result
        assert f"error: corrupt_auth: {path}" in result.stderr, result
        no_crash(result, pixir)
    body = pixir.json_out(pixir.run("fix it", "--json"))
    assert body["error"]["kind"] == "corrupt_auth" and body["error"]["details"]["path"] == str(path)
    assert fake.responses_requests() == [] and pixir.sessions() == []
    assert path.read_bytes() == BAD_AUTH[name]  # left for the user to look at
    record("bad_inputs")


def test_an_auth_file_that_is_a_directory_is_corrupt_auth(pixir):
    (pixir.home / "auth.json").mkdir(parents=True)
    result = pixir.run("status")
    assert result.code == 4 and "corrupt_auth" in result.stderr, result
    no_crash(result, pixir)
    record("bad_inputs")


# -- config.json -----------------------------------------------------------------------------------

BAD_CONFIG = {
    "not JSON, line 3": (b'{\n  "model": "gpt-5.5",\n  "transport": websocket\n}', "line 3"),
    "trailing comma, line 2": (b'{"max_retries": 1,\n}', "line 2"),
    "binary": (b"\xff\xfe\x00\x01", "cannot read"),
    "an array": (b"[]", "expected a JSON object"),
    "a wrong type": (b'{"max_retries": "two"}', "'max_retries'"),
    "a bad choice": (b'{"transport": "carrier-pigeon"}', "'transport'"),
    "a negative timeout": (b'{"stream_idle_timeout_ms": -5}', "'stream_idle_timeout_ms'"),
    "compaction not an object": (b'{"compaction": 3}', "'compaction'"),
}


@pytest.mark.parametrize("name", list(BAD_CONFIG))
def test_a_malformed_config_file_is_config_invalid_with_path_and_line(pixir, fake, name):
    pixir.login_api_key()
    data, where = BAD_CONFIG[name]
    path = pixir.home / "config.json"
    path.write_bytes(data)
    for args in (("fix it",), ("doctor",), ("status",)):
        result = pixir.run(*args)
        assert result.code == 2 or (args == ("doctor",) and result.code != 0), result
        out = result.stderr + result.stdout
        assert str(path) in out and where in out, result
        no_crash(result, pixir)
    assert fake.responses_requests() == [] and pixir.sessions() == []
    record("bad_inputs")


def test_unknown_config_keys_are_a_warning_and_the_run_goes_on(pixir, fake):
    pixir.login_api_key()
    pixir.write_config({"modle": "gpt-5.5", "compaction": {"atuo": True}})
    fake.script(step(text("fine")))
    result = pixir.run("go", "--json")
    assert result.code == 0 and pixir.json_out(result)["output"] == "fine"
    assert "unknown key 'modle'" in result.stderr and "compaction.atuo" in result.stderr
    record("bad_inputs")


# -- the workspace's own folder --------------------------------------------------------------------


def test_a_pixir_file_where_the_session_folder_goes_is_a_clear_error(pixir, fake):
    pixir.login_api_key()
    pixir.write_file(".pixir", "not a folder")
    result = pixir.run("go")
    assert result.code == 1, result
    assert "error: io_error: cannot create the session folder" in result.stderr
    assert str(pixir.workspace / ".pixir") in result.stderr
    no_crash(result, pixir)
    assert fake.responses_requests() == []
    record("bad_inputs")


# -- Log lines -------------------------------------------------------------------------------------


def a_session(pixir, fake) -> Path:
    pixir.login_api_key()
    fake.script(
        step(tool_call("write", {"path": "a.txt", "content": "a\n"})),
        step(text("done"), match={"last_tool_output": "Wrote"}),
    )
    assert pixir.run("go").code == 0
    return pixir.sessions()[-1]


BAD_LINES = {
    "not JSON": b'{"id": "x", "type": "user_message", "data": {"te',
    "JSON but not an event": b"[1, 2]",
    "an event without data": b'{"id":"x","session_id":"s","seq":9,"ts":"t","type":"user_message"}',
    "binary": b"\x00\x01\x02\xff",
}


@pytest.mark.parametrize("name", list(BAD_LINES))
def test_a_corrupt_log_line_is_corrupt_log_naming_file_and_line(pixir, fake, name):
    log = a_session(pixir, fake)
    lines = log.read_bytes().split(b"\n")
    lines.insert(3, BAD_LINES[name])  # line 4 of the file
    log.write_bytes(b"\n".join(lines))
    before = log.read_bytes()
    for args in (
        ("resume", log.stem, "again"),
        ("log", log.stem),
        ("preview", "--session", log.stem),
    ):
        result = pixir.run(*args)
        assert result.code == 1, result
        assert f"error: corrupt_log: {log}: line 4 " in result.stderr, result
        no_crash(result, pixir)
    assert log.read_bytes() == before  # never rewritten
    assert len(fake.responses_requests()) == 2
    record("bad_inputs")


def test_a_torn_last_line_is_ignored_then_repaired_and_wrong_shaped_events_are_tolerated(
    pixir, fake
):
    log = a_session(pixir, fake)
    odd = {"id": "0" * 16, "session_id": log.stem, "seq": 90, "ts": "t", "type": "tool_call"}
    with log.open("ab") as fh:  # an event with a wrong-typed call id, then a torn line
        fh.write(json.dumps({**odd, "data": {"call_id": ["x"], "name": 7}}).encode() + b"\n")
        fh.write(b'{"id": "abc", "type": "assistant_message", "data": {"text": "cut sh')
    assert pixir.run("log", log.stem).code == 0
    fake.script(step(text("resumed")))
    result = pixir.run("resume", log.stem, "again")
    assert result.code == 0 and result.stdout == "resumed\n", result
    events = check_log(log)
    assert [e["type"] for e in events if e["type"] == "log_repaired"] == ["log_repaired"]
    record("bad_inputs")


# -- tool calls from the model ---------------------------------------------------------------------


def tree_digest(root: Path) -> dict[str, str]:
    """Every file and link under `root` with a digest of its content (or link target)."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            out[rel] = "-> " + os.readlink(path)
        elif path.is_file():
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            out[rel] = "dir"
    return out


# (tool, arguments, expected error kind); None = the call must succeed
TOOL_CASES: list[tuple[str, dict, str | None]] = [
    # wrong argument types and shapes
    ("read", {"path": 5}, "invalid_arguments"),
    ("read", {"path": "a.txt", "offset": "2"}, "invalid_arguments"),
    ("read", {"path": "a.txt", "offset": 0}, "invalid_arguments"),
    ("read", {"path": "a.txt", "limit": True}, "invalid_arguments"),
    ("read", {}, "invalid_arguments"),
    ("write", {"path": "n.txt", "content": None}, "invalid_arguments"),
    ("write", {"path": "n.txt", "content": ["a"]}, "invalid_arguments"),
    ("write", {"path": "n.txt", "content": "x", "mode": "0777"}, "invalid_arguments"),
    ("edit", {"path": "a.txt", "old_string": 1, "new_string": "x"}, "invalid_arguments"),
    (
        "edit",
        {"path": "a.txt", "old_string": "a", "new_string": "b", "replace_all": "yes"},
        "invalid_arguments",
    ),
    ("bash", {"command": ["ls"]}, "invalid_arguments"),
    ("bash", {"command": "true", "timeout_ms": -1}, "invalid_arguments"),
    ("bash", {"command": "true", "timeout_ms": 1.5}, "invalid_arguments"),
    ("update_plan", {"steps": [{"step": "x", "status": "done?"}]}, "invalid_arguments"),
    ("teleport", {"to": "mars"}, "unknown_tool"),
    # a NUL byte in a path or a command
    ("read", {"path": "a\x00.txt"}, "invalid_arguments"),
    ("write", {"path": "a\x00.txt", "content": "x"}, "invalid_arguments"),
    ("edit", {"path": "a\x00.txt", "old_string": "a", "new_string": "b"}, "invalid_arguments"),
    ("bash", {"command": "echo a\x00b"}, "invalid_arguments"),
    # paths that leave the workspace
    ("write", {"path": "../outside/new.txt", "content": "x"}, "outside_workspace"),
    ("write", {"path": "sub/../../outside/new.txt", "content": "x"}, "outside_workspace"),
    ("write", {"path": "{outside}/new.txt", "content": "x"}, "outside_workspace"),
    (
        "edit",
        {"path": "{outside}/keep.txt", "old_string": "keep", "new_string": "gone"},
        "outside_workspace",
    ),
    ("write", {"path": "link-out.txt", "content": "x"}, "outside_workspace"),
    (
        "edit",
        {"path": "link-out.txt", "old_string": "keep", "new_string": "gone"},
        "outside_workspace",
    ),
    ("write", {"path": "dangling-out.txt", "content": "x"}, "outside_workspace"),
    ("write", {"path": "dir-out/new.txt", "content": "x"}, "outside_workspace"),
    (
        "edit",
        {"path": "dir-out/keep.txt", "old_string": "keep", "new_string": "gone"},
        "outside_workspace",
    ),
    ("write", {"path": "dir-out/deeper/new.txt", "content": "x"}, "outside_workspace"),
    ("write", {"path": "~/new.txt", "content": "x"}, "outside_workspace"),
    # pixir's own folder, directly or through a link
    ("write", {"path": ".pixir/sessions/evil.jsonl", "content": "{}\n"}, "protected_path"),
    ("write", {"path": "sub/../.pixir/.gitignore", "content": ""}, "protected_path"),
    ("edit", {"path": ".pixir/.gitignore", "old_string": "*", "new_string": "!"}, "protected_path"),
    ("write", {"path": "link-pixir/x", "content": "x"}, "protected_path"),
    ("write", {"path": ".pixir", "content": "x"}, "protected_path"),
    ("read", {"path": "{home}/auth.json"}, "protected_path"),
    # directories, binary files, huge files and outputs
    ("write", {"path": "sub", "content": "x"}, "is_directory"),
    ("write", {"path": ".", "content": "x"}, "is_directory"),
    ("read", {"path": "sub"}, "is_directory"),
    ("read", {"path": "blob.bin"}, "binary_file"),
    ("edit", {"path": "blob.bin", "old_string": "ELF", "new_string": "FLE"}, "binary_file"),
    ("edit", {"path": "latin1.txt", "old_string": "caf", "new_string": "tea"}, "not_text"),
    ("edit", {"path": "missing.txt", "old_string": "a", "new_string": "b"}, "not_found"),
    ("read", {"path": "huge.txt"}, None),  # capped, with how to read on
    ("bash", {"command": "head -c 30000000 /dev/zero | tr '\\0' 'y'; echo; echo tail-end"}, None),
    ("bash", {"command": "seq 1 300000"}, None),
    ("write", {"path": "sub/ok.txt", "content": "inside\n"}, None),
]


@pytest.mark.timeout(120)
def test_bad_tool_calls_fail_clearly_and_write_nothing_outside_the_workspace(pixir, fake):
    pixir.login_api_key()
    root = pixir.root
    outside = root / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep me\n")
    ws = pixir.workspace
    pixir.write_file("a.txt", "a\nb\nc\n")
    (ws / "sub").mkdir()
    (ws / "link-out.txt").symlink_to(outside / "keep.txt")
    (ws / "dangling-out.txt").symlink_to(outside / "not-yet.txt")
    (ws / "dir-out").symlink_to(outside, target_is_directory=True)
    pixir.write_file("blob.bin", b"\x7fELF\x00\x01\x02" * 1000)
    pixir.write_file("latin1.txt", "caf\xe9\n".encode("latin-1"))
    pixir.write_file("huge.txt", "".join(f"line {n} " + "x" * 80 + "\n" for n in range(100_000)))
    (ws / ".pixir").mkdir()
    (ws / ".pixir" / ".gitignore").write_text("*\n")
    (ws / "link-pixir").symlink_to(ws / ".pixir", target_is_directory=True)

    calls = []
    for n, (name, args, _) in enumerate(TOOL_CASES):
        if isinstance(args.get("path"), str):
            args = {**args, "path": args["path"].format(outside=outside, home=pixir.home)}
        calls.append(tool_call(name, args, call_id=f"call_{n:03d}"))
    fake.script(step(*calls), step(text("survived"), match={"last_tool_output": "Wrote"}))

    before_outside = tree_digest(outside)
    before_root = sorted(p.name for p in root.iterdir())
    before_home = tree_digest(pixir.home)
    pixir_dir = tree_digest(ws / ".pixir")

    result = pixir.run("do many odd things", "--transport", "http_sse", timeout=90)
    assert result.code == 0 and result.stdout == "survived\n", result

    events = check_log(pixir.sessions()[-1])
    results = {e["data"]["call_id"]: e["data"] for e in events if e["type"] == "tool_result"}
    problems = []
    for n, (name, args, expected) in enumerate(TOOL_CASES):
        got = results[f"call_{n:03d}"]
        kind = None if got["ok"] else got["error"]["kind"]
        if kind != expected:
            problems.append(
                f"{name} {args}: expected {expected}, got {kind}: {got['output'][:200]}"
            )
        elif expected:
            message = json.loads(got["output"])["error"]["message"]
            assert message and len(message) < 500, message
    assert not problems, "\n".join(problems)
    record("bad_tool_calls", len(TOOL_CASES))

    # what the big outputs gave the model: capped, saying so, the end kept for bash
    by_id = {f"call_{n:03d}": c for n, c in enumerate(TOOL_CASES)}
    outputs = {
        by_id[cid][0] + str(sorted(by_id[cid][1])): r["output"] for cid, r in results.items()
    }
    huge = results[f"call_{[c[1] for c in TOOL_CASES].index({'path': 'huge.txt'}):03d}"]["output"]
    assert len(huge.encode()) <= 51 * 1024 and "continue with offset=" in huge
    for cid, data in results.items():
        assert len(data["output"].encode()) <= 51 * 1024, (by_id[cid], len(data["output"]))
    flood = next(r for cid, r in results.items() if "tail-end" in str(by_id[cid][1]))
    assert flood["output"].rstrip().endswith("tail-end") and "Exit code: 0" in flood["output"]
    assert outputs  # (kept for a readable failure message above)

    # the filesystem: nothing outside the workspace changed, nothing new beside it
    assert tree_digest(outside) == before_outside
    assert sorted(p.name for p in root.iterdir()) == before_root
    assert {k: v for k, v in tree_digest(pixir.home).items() if "shiv" not in k} == {
        k: v for k, v in before_home.items() if "shiv" not in k
    }
    after_pixir = tree_digest(ws / ".pixir")
    assert after_pixir[".gitignore"] == pixir_dir[".gitignore"]
    assert set(after_pixir) - set(pixir_dir) <= {"sessions", f"sessions/{pixir.session_id()}.jsonl"}
    assert pixir.read_file("sub/ok.txt") == "inside\n"
    assert pixir.read_file("a.txt") == "a\nb\nc\n"
    assert (ws / "blob.bin").read_bytes() == b"\x7fELF\x00\x01\x02" * 1000


def test_a_one_line_edit_in_a_big_file_of_repeated_lines_shows_a_one_line_diff(tmp_path):
    """difflib gives up matching lines that repeat in more than 1 % of a big file, and
    reported this one-line edit as 7 000 lines replaced (found by test_crash.py)."""
    from pixir.tools.registry import ToolContext, run_tool

    big = "version = 1\n" + "filler line\n" * 7000
    (tmp_path / "b.txt").write_text(big)
    args = {"path": "b.txt", "old_string": "version = 1", "new_string": "version = 2"}
    result = run_tool("edit", args, ToolContext(workspace=tmp_path))
    assert result.ok and result.summary == "+1 −1", result.summary
    hunk = "@@ -1,4 +1,4 @@\n-version = 1\n+version = 2\n" + " filler line\n" * 2 + " filler line"
    assert result.output.endswith(hunk), result.output[:300]
    assert (tmp_path / "b.txt").read_text() == big.replace("version = 1", "version = 2")
    record("bad_inputs")
