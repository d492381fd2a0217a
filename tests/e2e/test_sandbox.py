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
FLAT = {"PIXIR_SANDBOX_NAMESPACE": "0"}  # as where user namespaces are not allowed


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


def test_the_issues_recipes_are_refused_by_the_allow_list_without_a_sandbox(px, fake):
    recipes = ["file --co -m /dev/null", "tree -R -H . -L 1"]  # refused before they run
    fake.script(bash_calls(*recipes), step(text("done")))
    before = listing(px.workspace)
    result = px.run("--read-only", "run the recipes", env={"PIXIR_LANDLOCK_ABI": "0"})
    assert result.code == 0, result
    assert listing(px.workspace) == before
    refused = results(px)
    assert [r["error"]["kind"] for r in refused] == ["permission_denied"] * 2
    assert "file --compile can write" in refused[0]["error"]["message"]
    assert "tree -R can write" in refused[1]["error"]["message"]


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
            "mkdir build && echo x > build/y && echo x > new.txt && ls",
            f"echo x > {outside}/escaped",
            f'echo \'{{"sandbox": {{"enabled": false}}}}\' > {config}',
            "echo forged > .pixir/sessions/forged.jsonl",
            "rm -f .pixir/sessions/*.jsonl",
        ),
        step(text("done")),
    )
    result = px.run("change things")
    assert result.code == 0, result
    assert "warning" not in result.stderr  # the sandbox is all it should be
    assert px.read_file("README") == "old\nmore\n"
    assert px.read_file("src/made.txt") == "new\n" and px.path("src/pkg/deep").is_dir()
    # the top of the workspace is the model's to change: .pixir/ is kept by a mount
    assert px.read_file("build/y") == px.read_file("new.txt") == "x\n"
    assert os.stat(px.path("new.txt")).st_uid == os.geteuid()
    assert os.listdir(outside) == []
    assert json.loads(config.read_text()) == {"model": "gpt-5.5"}
    assert [p.name for p in px.sessions()] == [f"{json_session(px)}.jsonl"]
    made, top, *denied = results(px)
    assert made["exit_code"] == 0 and made["output"].endswith("temp\n")
    assert top["exit_code"] == 0 and top["output"].endswith("README\nbuild\nnew.txt\nsrc\n")
    for outcome in denied:
        assert outcome["exit_code"] != 0 and NOTE in outcome["output"]
        assert "top-level" not in outcome["output"]
    assert "Read-only file system" in denied[-1]["output"]


def test_the_top_of_the_workspace_is_the_commands_but_pixir_dir_stays_whole(px, fake):
    import subprocess

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=px.workspace, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    git("checkout", "-qb", "other")
    px.path("README").unlink()
    px.write_file("CHANGES.md", "new\n")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "two")
    git("checkout", "-q", "main")
    fake.script(step(text("first")))
    assert px.run("start").code == 0
    log = px.sessions()[-1]
    fake.script(
        bash_calls(
            "git checkout -q other && ls",  # removes README, adds CHANGES.md
            "git checkout -q main && git status --porcelain && ls",
            "sed -i s/old/new/ README && cat README",  # a temporary file renamed over it
            "git clean -fdxq; ls -A",
        ),
        step(text("switched")),
    )
    result = px.run("-c", "switch branches")
    assert result.code == 0, result
    switched, back, edited, cleaned = results(px)[-4:]
    assert switched["exit_code"] == 0 and switched["output"].endswith("\nCHANGES.md\nsrc\n")
    assert back["exit_code"] == 0 and back["output"].endswith("\nREADME\nsrc\n")
    assert edited["exit_code"] == 0 and edited["output"].endswith("new\n")
    assert px.read_file("README") == "new\n" and not px.path("CHANGES.md").exists()
    # git clean -x removes every untracked file it may: not the Log of this very session
    assert "failed to remove .pixir" in cleaned["output"]
    assert sorted(os.listdir(px.workspace)) == [".git", ".pixir", "README", "src"]
    assert log.exists() and px.path(".pixir/.gitignore").read_text() == "*\n"
    fake.script(step(text("still here")))
    again = px.run("-c", "and now?")
    assert again.code == 0 and "still here" in again.stdout


def test_git_init_in_an_empty_workspace(pixir, fake):
    pixir.login_api_key()
    fake.script(
        bash_calls("git init -q && git status --porcelain --ignored && ls -A"),
        step(text("made")),
    )
    result = pixir.run("make a repository")
    assert result.code == 0, result
    (made,) = results(pixir)
    assert made["exit_code"] == 0, made["output"]
    assert made["output"].endswith("Output:\n!! .pixir/\n.git\n.pixir\n")
    assert pixir.path(".git/HEAD").is_file()


def json_session(px) -> str:
    return px.log_events()[0]["session_id"]


def test_without_namespaces_a_new_top_level_entry_needs_the_write_tool(px, fake):
    # where user namespaces are not allowed, Landlock alone keeps .pixir/: the top of the
    # workspace is granted entry by entry, and pixir says so once
    fake.script(
        bash_calls("echo x > fresh.txt", "echo forged > .pixir/sessions/forged.jsonl"),
        step(tool_call("write", {"path": "later.txt", "content": "from write\n"})),
        bash_calls("echo from bash >> later.txt"),
        step(text("done")),
    )
    result = px.run("change things", env=FLAT)
    assert result.code == 0, result
    warning = (
        "warning: no mount namespace for commands (PIXIR_SANDBOX_NAMESPACE=0): they cannot "
        "create, delete or rename entries at the top of /tmp, "  # the test's tmp_path is there
    )
    assert result.stderr.count("warning:") == 1 and warning in result.stderr
    assert f", {px.root}, {px.workspace} (docs/sandbox.md)\n" in result.stderr
    assert not px.path("fresh.txt").exists()
    assert px.read_file("later.txt") == "from write\nfrom bash\n"
    fresh, forged, *_, later = [r for r in results(px) if "exit_code" in r]
    assert fresh["exit_code"] == 1 and "Permission denied" in fresh["output"]
    assert "create a new top-level file or directory with the write tool" in fresh["output"]
    assert forged["exit_code"] == 1 and NOTE in forged["output"]
    assert later["exit_code"] == 0
    assert [p.name for p in px.sessions()] == [f"{json_session(px)}.jsonl"]


def test_git_clean_cannot_take_the_session_log_with_it_without_namespaces(px, fake):
    import subprocess

    subprocess.run(["git", "init", "-q"], cwd=px.workspace, check=True)
    fake.script(bash_calls("git clean -fdxq; echo cleaned"), step(text("clean")))
    result = px.run("clean up", env=FLAT)
    assert result.code == 0, result
    # untracked, so git removes what it may: inside src/, but no top-level entry
    assert not px.path("src/app.py").exists()
    assert px.path("README").exists() and px.path("src").is_dir()
    types = [e["type"] for e in px.log_events()]
    assert types[0] == "session_started" and types[-1] == "assistant_message"
    fake.script(step(text("still here")))
    again = px.run("-c", "and now?", env=FLAT)
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


# -- as an unprivileged user: the user namespace ---------------------------------------------


@pytest.fixture
def stranger(fake):
    """A PixirRunner that runs a copy of dist/pixir as a uid with no account (setpriv), so its
    commands take the unprivileged way: a user namespace of their own. Needs root."""
    if os.geteuid() != 0:
        pytest.skip("running pixir as another user needs root; as a user, every run is this")
    if not shutil.which("setpriv"):
        pytest.skip("setpriv (util-linux) is not installed")
    import pwd
    import subprocess

    from tests.harness import PixirRunner, pixir_command

    uid = next(n for n in range(47000, 48000) if not _has_account(pwd, n))
    become = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--"]
    path = "/usr/local/bin:/usr/bin:/bin"
    probe = subprocess.run([*become, "env", f"PATH={path}", "python3", "-c", "pass"], check=False)
    if probe.returncode != 0:
        pytest.skip(f"no python3 on {path} that uid {uid} may run")
    base = Path(tempfile.mkdtemp(prefix="pixir-stranger-", dir="/tmp"))
    base.chmod(0o755)
    try:
        binary = base / "pixir"
        shutil.copy(pixir_command()[-1], binary)
        binary.chmod(0o755)
        runner = PixirRunner(fake, base, executable=[*become, str(binary)])
        runner.env.update(PATH=path, SHIV_ROOT=str(base / "shiv"))
        runner.login_api_key()
        runner.uid = uid
        runner.hand_over = lambda: _chown_all(base, uid)
        yield runner
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _has_account(pwd, uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
    except KeyError:
        return False
    return True


def _chown_all(root: Path, uid: int) -> None:
    for folder, dirs, files in os.walk(root):
        for name in (folder, *(os.path.join(folder, n) for n in dirs + files)):
            os.lchown(name, uid, uid)


def test_an_unprivileged_users_commands_change_the_top_but_never_pixir_dir(stranger, fake):
    px = stranger
    px.write_file("README", "old\n")
    px.hand_over()
    fake.script(step(text("first")))
    first = px.run("start")
    assert first.code == 0, first
    log = px.sessions()[-1]
    before = log.read_bytes()
    fake.script(
        bash_calls(
            "id -u; id -g; mkdir build && echo x > build/y && echo x > new.txt && "
            "sed -i s/old/new/ README && ls",
            f"echo forged > .pixir/sessions/{log.name}",
            "rm -rf .pixir",
            "mv .pixir elsewhere",
            f"echo x > {px.home}/config.json",
            f"echo forged >> /proc/$PPID/cwd/.pixir/sessions/{log.name}",
        ),
        step(text("done")),
    )
    result = px.run("-c", "work")
    assert result.code == 0, result
    assert "warning" not in result.stderr, result.stderr
    made, *denied = results(px)[-6:]
    assert made["exit_code"] == 0, made["output"]
    assert made["output"].endswith(f"Output:\n{px.uid}\n{px.uid}\nREADME\nbuild\nnew.txt\n")
    # files a command makes are the user's own (not nobody's), and work as usual
    assert os.stat(px.path("new.txt")).st_uid == os.stat(px.path("build/y")).st_gid == px.uid
    assert px.read_file("README") == "new\n"
    for outcome in denied:
        assert outcome["exit_code"] != 0 and NOTE in outcome["output"], outcome["output"]
    assert log.read_bytes().startswith(before) and os.stat(log).st_uid == px.uid
    assert sorted(os.listdir(px.path(".pixir"))) == [".gitignore", "sessions"]
    assert sorted(os.listdir(px.home)) == ["auth.json"]
    fake.script(step(text("resumed")))
    again = px.run("-c", "and now?")
    assert again.code == 0 and "resumed" in again.stdout


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
    assert "at the top level" not in auto
    flat = developer(env=FLAT)
    assert f", {px.workspace} it can change the entries that exist, but not create" in flat
    assert "Sandbox: none (--sandbox off)" in developer("--sandbox", "off")
    assert "Sandbox: none (PIXIR_LANDLOCK_ABI=0)" in developer(env={"PIXIR_LANDLOCK_ABI": "0"})


def test_doctor_reports_the_sandbox_in_force(px):
    def check(*args: str, env=None) -> dict:
        result = px.run("doctor", "--json", *args, env=env)
        checks = {c["name"]: c for c in px.json_out(result)["checks"]}
        return checks["sandbox"]

    found = check()
    assert found["status"] == "ok"
    assert found["detail"].startswith(  # the workspace's .pixir/ too, made when missing
        f"Landlock ABI {KERNEL_ABI} and a mount namespace where {px.workspace / '.pixir'} and "
        f"{px.home} are read-only; auto mode: commands write only"
    )
    flat = check(env=FLAT)
    assert flat["status"] == "warn"
    assert flat["detail"].startswith(
        f"Landlock ABI {KERNEL_ABI}; no mount namespace (PIXIR_SANDBOX_NAMESPACE=0); auto mode"
    )
    assert flat["detail"].endswith(f", {px.workspace} (docs/sandbox.md)")
    assert "they cannot create, delete or rename entries at the top of" in flat["detail"]
    missing = check(env={"PIXIR_LANDLOCK_ABI": "0"})
    assert missing["status"] == "warn" and "PIXIR_LANDLOCK_ABI=0" in missing["detail"]
    old = check(env={"PIXIR_LANDLOCK_ABI": "3"})
    assert old["detail"].startswith("Landlock ABI 3; this ABI cannot filter TCP")
    human = px.run("doctor")
    assert f"sandbox     Landlock ABI {KERNEL_ABI}" in human.stdout
    assert not px.path(".pixir").exists()  # finding the namespace out made nothing


@pytest.mark.parametrize(
    ("how", "said"),
    [
        ({"config": {"sandbox": {"enabled": "yes"}}}, "'sandbox'.enabled: expected true or false"),
        ({"config": {"sandbox": {"writable": ["rel"]}}}, "expected an array of absolute paths"),
        ({"args": ("--sandbox", "maybe")}, "argument --sandbox: invalid choice: 'maybe'"),
        ({"env": {"PIXIR_LANDLOCK_ABI": "seven"}}, "PIXIR_LANDLOCK_ABI='seven': expected an"),
        ({"env": {"PIXIR_SANDBOX_NAMESPACE": "no"}}, "PIXIR_SANDBOX_NAMESPACE='no': expected 0"),
    ],
)
def test_bad_sandbox_settings_are_exit_2_before_anything_runs(px, fake, how, said):
    if "config" in how:
        px.write_config(how["config"])
    result = px.run(*how.get("args", ()), "hi", env=how.get("env"))
    assert result.code == 2, result
    assert said in result.stderr
    assert px.sessions() == [] and fake.responses_requests() == []
