"""Commands confined by the kernel (docs/sandbox.md): the built `dist/pixir` runs real commands,
scripted by the fake backend, under Landlock — and without it when told or when missing."""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
from pathlib import Path

import pytest

from pixir.sandbox import landlock
from tests.fake_backend import step, text, tool_call

try:
    KERNEL_ABI = landlock.version()
    MISSING = ""
except landlock.Unavailable as why:  # pragma: no cover - this machine has Landlock
    KERNEL_ABI, MISSING = 0, str(why)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not KERNEL_ABI, reason=f"no Landlock here: {MISSING}"),
]
NOTE = "[pixir sandbox] This command ran under Landlock"


@pytest.fixture
def px(pixir):
    pixir.login_api_key()
    pixir.write_file("README", "old\n")
    pixir.write_file("src/app.py", "print('app')\n")
    return pixir


@pytest.fixture
def outside():
    """A directory outside the workspace and every temp dir (the test's own tmp_path lives in
    /tmp, which `auto` may write): where no confined command may write."""
    for base in ("/var/tmp", str(Path(__file__).resolve().parents[2] / ".venv")):
        if os.path.isdir(base) and os.access(base, os.W_OK):
            folder = Path(tempfile.mkdtemp(prefix="pixir-sandbox-test-", dir=base))
            break
    else:  # pragma: no cover
        pytest.fail("no writable directory outside /tmp for the test")
    yield folder.resolve()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def listener():
    """A loopback TCP port that counts the connections it received."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        server.setblocking(False)
        yield server


def connections(server: socket.socket) -> int:
    count = 0
    while True:
        try:
            server.accept()[0].close()
        except BlockingIOError:
            return count
        count += 1


def connect(port: int) -> str:
    return f"python3 -c \"import socket; socket.create_connection(('127.0.0.1', {port}))\""


def bash_calls(*commands: str) -> dict:
    """One model response asking for every command in turn."""
    return step(*(tool_call("bash", {"command": c}) for c in commands))


def results(px) -> list[dict]:
    return [e["data"] for e in px.log_events() if e["type"] == "tool_result"]


def sent_outputs(fake) -> list[str]:
    """The tool outputs the model received in the last request."""
    rec = fake.responses_requests()[-1]
    items = rec.extra.get("effective_input") or rec.json["input"]
    return [i["output"] for i in items if i.get("type") == "function_call_output"]


def listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if ".pixir" not in p.parts)


# -- read_only ------------------------------------------------------------------------------


def test_read_only_runs_any_command_and_no_write_of_any_shape_lands(px, fake, outside, listener):
    port = listener.getsockname()[1]
    writes = [
        "python3 -c \"open('src/py.txt', 'w').write('x')\"",
        "echo hi >> README",
        "echo hi > src/redirected.txt",
        "cp README src/copy",
        "mkdir src/made",
        "git init -q .",
        f"touch {outside}/touched",
        connect(port),
    ]
    fake.script(
        bash_calls("python3 -c 'print(6*7)'", *writes, "git log -1 || cat README"),
        step(text("looked")),
    )
    before = listing(px.workspace)
    result = px.run("--read-only", "look around")
    assert result.code == 0, result
    assert listing(px.workspace) == before
    assert px.read_file("README") == "old\n"
    assert os.listdir(outside) == []
    assert connections(listener) == 0
    events = px.log_events()
    assert not [e for e in events if e["type"] == "permission_decision"]  # all of them ran
    first, *denied, last = results(px)
    assert first["exit_code"] == 0 and first["output"].endswith("Output:\n42\n")
    for command, outcome in zip(writes, denied, strict=True):
        assert outcome["exit_code"] != 0, command
        assert "Permission denied" in outcome["output"] or "PermissionError" in outcome["output"]
        assert NOTE in outcome["output"] and "read-only" in outcome["output"], command
    assert last["exit_code"] == 0 and "old" in last["output"]
    received = sent_outputs(fake)
    assert received[0].endswith("Output:\n42\n")  # the harmless command's output reached it
    assert all(NOTE in output for output in received[1:-1])


def test_the_issues_recipes_write_nothing_under_read_only(px, fake):
    recipes = ["file --co -m /dev/null"]
    if shutil.which("tree"):  # not installed everywhere
        recipes.append("tree -R -H . -L 1")
    fake.script(bash_calls(*recipes), step(text("done")))
    before = listing(px.workspace)
    result = px.run("--read-only", "run the recipes")
    assert result.code == 0, result
    assert listing(px.workspace) == before  # no null.mgc, no 00Tree.html
    assert all(r["ok"] for r in results(px))  # they ran: the allow-list would have let them


def test_read_only_tcp_is_refused_only_from_abi_4(px, fake, listener):
    port = listener.getsockname()[1]
    fake.script(bash_calls(connect(port), "echo x > src/new"), step(text("done")))
    result = px.run("--read-only", "connect", env={"PIXIR_LANDLOCK_ABI": "3"})
    assert result.code == 0, result
    # ABI 3 has no network rights: the connection goes through, and pixir said so
    assert connections(listener) == 1
    assert result.stderr.count("cannot filter TCP") == 1
    connected, wrote = results(px)
    assert connected["exit_code"] == 0
    assert wrote["exit_code"] == 1 and not px.path("src/new").exists()


# -- auto ---------------------------------------------------------------------------------


def test_auto_writes_in_the_workspace_and_temp_and_nowhere_else(px, fake, outside):
    px.write_config({"model": "gpt-5.5"})
    config = px.home / "config.json"
    fake.script(
        bash_calls(
            "echo more >> README && echo new > src/made.txt && mkdir -p src/pkg/deep && "
            "t=$(mktemp) && echo temp > $t && cat $t",
            f"echo x > {outside}/escaped",
            f'echo \'{{"sandbox": {{"enabled": false}}}}\' > {config}',
            "echo forged > .pixir/sessions/forged.jsonl",
            "rm -f .pixir/sessions/*.jsonl",
            "echo x > fresh.txt",
        ),
        step(tool_call("write", {"path": "later.txt", "content": "from write\n"})),
        bash_calls("echo from bash >> later.txt"),
        step(text("done")),
    )
    result = px.run("change things")
    assert result.code == 0, result
    assert px.read_file("README") == "old\nmore\n"
    assert px.read_file("src/made.txt") == "new\n" and px.path("src/pkg/deep").is_dir()
    assert os.listdir(outside) == []
    assert json.loads(config.read_text()) == {"model": "gpt-5.5"}
    assert [p.name for p in px.sessions()] == [f"{json_session(px)}.jsonl"]
    assert not px.path("fresh.txt").exists()
    assert px.read_file("later.txt") == "from write\nfrom bash\n"
    made, *denied, later = [r for r in results(px) if "exit_code" in r]
    assert made["exit_code"] == 0 and made["output"].endswith("temp\n")
    for outcome in denied:
        assert outcome["exit_code"] != 0 and NOTE in outcome["output"]
    assert "create a new top-level file or directory with the write tool" in denied[-1]["output"]
    assert later["exit_code"] == 0


def json_session(px) -> str:
    return px.log_events()[0]["session_id"]


def test_git_clean_cannot_take_the_session_log_with_it(px, fake):
    import subprocess

    subprocess.run(["git", "init", "-q"], cwd=px.workspace, check=True)
    fake.script(bash_calls("git clean -fdxq; echo cleaned"), step(text("clean")))
    result = px.run("clean up")
    assert result.code == 0, result
    # untracked, so git removes what it may: inside src/, but no top-level entry
    assert not px.path("src/app.py").exists()
    assert px.path("README").exists() and px.path("src").is_dir()
    types = [e["type"] for e in px.log_events()]
    assert types[0] == "session_started" and types[-1] == "assistant_message"
    fake.script(step(text("still here")))
    again = px.run("-c", "and now?")
    assert again.code == 0 and "still here" in again.stdout


def test_network_false_refuses_tcp_and_the_default_allows_it(px, fake, listener):
    port = listener.getsockname()[1]
    fake.script(bash_calls(connect(port)), step(text("online")))
    assert px.run("connect").code == 0
    assert connections(listener) == 1 and results(px)[0]["exit_code"] == 0
    px.write_config({"sandbox": {"network": False}})
    fake.script(bash_calls(connect(port)), step(text("offline")))
    assert px.run("connect again").code == 0
    assert connections(listener) == 0
    outcome = results(px)[0]
    assert outcome["exit_code"] == 1 and "PermissionError" in outcome["output"]
    assert "no TCP connection" in outcome["output"]


def test_sandbox_writable_adds_a_place(px, fake, outside):
    (outside / "listed").mkdir()
    (outside / "other").mkdir()
    px.write_config({"sandbox": {"writable": [str(outside / "listed")]}})
    fake.script(
        bash_calls(f"echo x > {outside}/listed/new", f"echo x > {outside}/other/new"),
        step(text("done")),
    )
    assert px.run("write there").code == 0
    assert (outside / "listed" / "new").read_text() == "x\n"
    assert not (outside / "other" / "new").exists()


# -- no sandbox: --sandbox off, config, no Landlock --------------------------------------------


@pytest.mark.parametrize(
    ("how", "why"),
    [
        ({"args": ("--sandbox", "off")}, "--sandbox off"),
        ({"config": {"sandbox": {"enabled": False}}}, "sandbox.enabled is false in config.json"),
        ({"env": {"PIXIR_LANDLOCK_ABI": "0"}}, "PIXIR_LANDLOCK_ABI=0"),
    ],
)
def test_without_the_sandbox_commands_run_as_before_and_pixir_says_so_once(
    px, fake, outside, how, why
):
    if "config" in how:
        px.write_config(how["config"])
    args, env = how.get("args", ()), how.get("env")
    fake.script(
        bash_calls(f"echo x > {outside}/unconfined", "echo y > fresh.txt"), step(text("done"))
    )
    result = px.run(*args, "write outside", env=env)
    assert result.code == 0, result
    assert (outside / "unconfined").exists() and px.path("fresh.txt").exists()
    warning = f"warning: no sandbox for commands: {why}; commands run unconfined\n"
    assert result.stderr.count("warning: no sandbox") == 1 and warning in result.stderr
    assert all(NOTE not in r["output"] for r in results(px))
    # read_only falls back to the allow-list: python is refused, `ls` runs
    fake.script(bash_calls("python3 -c 'print(6*7)'", "ls"), step(text("listed")))
    result = px.run(*args, "--read-only", "--json", "look", env=env)
    assert result.code == 0, result
    assert px.json_out(result)["output"] == "listed"  # stdout: the one JSON object
    assert "read_only allows only its allow-list of read-only commands" in result.stderr
    refused, listed = results(px)
    assert refused["error"]["kind"] == "permission_denied"
    assert "allow-list" in refused["error"]["message"] and listed["ok"]
    decisions = [e for e in px.log_events() if e["type"] == "permission_decision"]
    assert len(decisions) == 1


def test_the_notice_is_an_event_in_jsonl(px, fake):
    fake.script(bash_calls("true"), step(text("done")))
    result = px.run("--jsonl", "--sandbox", "off", "go")
    assert result.code == 0, result
    notices = [e for e in px.jsonl_out(result) if e.get("type") == "notice"]
    assert [n["data"]["text"] for n in notices] == [
        "no sandbox for commands: --sandbox off; commands run unconfined"
    ]


# -- what the model and the user are told ------------------------------------------------------


def test_preview_shows_the_sandbox_the_model_is_told_about(px):
    def developer(*args: str, env=None) -> str:
        result = px.run("preview", "--json", *args, "hi", env=env)
        assert result.code == 0, result
        body = px.json_out(result)["body"]
        return body["input"][0]["content"][0]["text"]

    confined = developer("--read-only")
    assert f"Sandbox: Landlock (ABI {KERNEL_ABI}) confines every bash command" in confined
    assert "cannot write, create, delete or rename files" in confined
    auto = developer()
    assert f"it may write only beneath {px.workspace}" in auto
    assert f"never in {px.workspace / '.pixir'} or {px.home}" in auto
    assert "Sandbox: none (--sandbox off)" in developer("--sandbox", "off")
    assert "Sandbox: none (PIXIR_LANDLOCK_ABI=0)" in developer(env={"PIXIR_LANDLOCK_ABI": "0"})


def test_doctor_reports_the_sandbox_in_force(px):
    def check(*args: str, env=None) -> dict:
        result = px.run("doctor", "--json", *args, env=env)
        checks = {c["name"]: c for c in px.json_out(result)["checks"]}
        return checks["sandbox"]

    found = check()
    assert found["status"] == "ok"
    assert found["detail"].startswith(f"Landlock ABI {KERNEL_ABI}; auto mode: commands write only")
    missing = check(env={"PIXIR_LANDLOCK_ABI": "0"})
    assert missing["status"] == "warn" and "PIXIR_LANDLOCK_ABI=0" in missing["detail"]
    old = check(env={"PIXIR_LANDLOCK_ABI": "3"})
    assert old["detail"].startswith("Landlock ABI 3; this ABI cannot filter TCP")
    human = px.run("doctor")
    assert f"sandbox     Landlock ABI {KERNEL_ABI}" in human.stdout


@pytest.mark.parametrize(
    ("how", "said"),
    [
        ({"config": {"sandbox": {"enabled": "yes"}}}, "'sandbox'.enabled: expected true or false"),
        ({"config": {"sandbox": {"writable": ["rel"]}}}, "expected an array of absolute paths"),
        ({"args": ("--sandbox", "maybe")}, "argument --sandbox: invalid choice: 'maybe'"),
        ({"env": {"PIXIR_LANDLOCK_ABI": "seven"}}, "PIXIR_LANDLOCK_ABI='seven': expected an"),
    ],
)
def test_bad_sandbox_settings_are_exit_2_before_anything_runs(px, fake, how, said):
    if "config" in how:
        px.write_config(how["config"])
    result = px.run(*how.get("args", ()), "hi", env=how.get("env"))
    assert result.code == 2, result
    assert said in result.stderr
    assert px.sessions() == [] and fake.responses_requests() == []
