"""`pixir doctor`: is this installation ready to run a Turn? Offline, never prints a secret."""

from __future__ import annotations

import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path

from pixir import __version__, paths
from pixir.auth import store
from pixir.auth.summary import describe, relative
from pixir.buildinfo import commit_text
from pixir.buildinfo import describe as describe_build
from pixir.commands import print_json, settings_for, workspace_for
from pixir.config import Settings
from pixir.context import agents_in_use
from pixir.errors import PixirError
from pixir.provider.models import resolve_model
from pixir.sanitize import terminal

OK, WARN, FAIL = "ok", "warn", "fail"


def run(args) -> int:
    checks = collect(args)
    worst = {c["status"] for c in checks}
    status = "blocked" if FAIL in worst else "ready_with_warnings" if WARN in worst else "ready"
    code = 1 if status == "blocked" else 0
    if args.json:
        print_json({"ok": code == 0, "status": status, "version": __version__, "checks": checks})
        return code
    marks = {OK: "ok  ", WARN: "warn", FAIL: "FAIL"}
    width = max(len(c["name"]) for c in checks)
    for check in checks:
        print(terminal(f"{marks[check['status']]}  {check['name']:<{width}}  {check['detail']}"))
    print(f"\nstatus: {status}")
    return code


def collect(args) -> list[dict]:
    """Every check as `{"name", "status": ok|warn|fail, "detail"}`, in display order."""
    checks: list[dict] = []

    def add(name: str, status: str, detail: str) -> None:
        checks.append({"name": name, "status": status, "detail": detail})

    add("pixir", OK, f"{__version__}, {commit_text(describe_build())} ({sys.argv[0] or 'pixir'})")
    add("python", OK, f"{platform.python_version()} ({sys.executable})")

    home = paths.home()
    add("home", *_writable_dir(home, create_ok=True))

    workspace = Path(os.getcwd())
    try:
        workspace = workspace_for(args)
        add("workspace", *_writable_dir(workspace, create_ok=False))
        add("agents", OK, ", ".join(agents_in_use(workspace)) or "no AGENTS.md applies")
    except PixirError as err:
        add("workspace", FAIL, err.message)

    settings = None
    try:
        settings = settings_for(args, warn=False)
        path = paths.config_file()
        detail = str(path) if path.exists() else f"{path} (not present: built-in defaults)"
        if settings.warnings:
            add("config", WARN, "; ".join(settings.warnings))
        else:
            add("config", OK, detail)
    except PixirError as err:
        add("config", FAIL, err.message)

    if settings is not None:
        try:
            model = resolve_model(settings, allow_unknown=args.allow_unknown_model)
            add("model", OK, model)
        except PixirError as err:
            add("model", FAIL, err.message)
        add("transport", OK, settings.transport)

    add("credential", *_credential(settings, getattr(args, "auth", None)))
    bash = shutil.which("bash")
    add("bash", OK if bash else WARN, bash or "not on PATH: the bash tool will fail")
    if settings is not None:
        add("sandbox", *_sandbox(settings, workspace))
    return checks


def _sandbox(settings: Settings, workspace: Path) -> tuple[str, str]:
    """The sandbox bash commands would run in (docs/sandbox.md), and what it lacks."""
    from pixir.sandbox.policy import sandbox_for

    sandbox = sandbox_for(settings, settings.permission_default, workspace)
    problems = [notice] if (notice := sandbox.notice()) else []
    problems += [
        f"sandbox.writable: {place} does not exist"
        for place in settings.sandbox.writable
        if not os.path.exists(place)
    ]
    if not sandbox.confined:
        return WARN, "; ".join(problems)
    policy = sandbox.policy
    mode = settings.permission_default.replace("_", "-")
    if policy.mode == "read_only":
        reach = f"{mode} mode: commands write nothing"
    else:
        reach = f"{mode} mode: commands write only in {', '.join(policy.writable)}"
    detail = f"{sandbox.summary()}; {reach}, never in {' or '.join(policy.protected)}"
    return (WARN if problems else OK), "; ".join([detail, *problems])


def _writable_dir(path: Path, create_ok: bool) -> tuple[str, str]:
    if not path.exists():
        parent = next((p for p in path.parents if p.exists()), None)
        if create_ok and parent is not None and os.access(parent, os.W_OK):
            return OK, f"{path} (will be created)"
        return FAIL, f"{path} does not exist"
    try:
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        return FAIL, f"{path} is not writable ({exc.strerror})"
    return OK, str(path)


def _credential(settings: Settings | None, forced: str | None) -> tuple[str, str]:
    """Presence, kind and expiry of the credential that would be used — never its value."""
    try:
        facts = describe(settings or Settings(), forced)
    except PixirError as err:
        return FAIL, err.message
    loose = ""
    if facts["source"] == "stored" and store.loose_permissions():
        loose = " (warning: auth.json is readable by others; chmod 600 it)"
    if facts["kind"] == "api_key":
        if facts["source"] == "env":
            return OK, "API key from OPENAI_API_KEY"
        return (WARN if loose else OK), f"API key stored by `pixir login --with-api-key`{loose}"
    who = ", ".join(
        part
        for part in (f"plan {facts['plan']}" if facts["plan"] else "", facts["email"] or "")
        if part
    )
    who = f" ({who})" if who else ""
    left = facts["expires_in_s"]
    if left is None:
        return WARN, f"ChatGPT subscription{who}, expiry unknown{loose}"
    when = facts["expires_at"].replace("T", " ")[:16] + " UTC"
    if left <= 0:
        return (
            WARN,
            f"ChatGPT subscription{who}; access token expired {relative(left)} ago ({when}), "
            f"refreshed on the next call{loose}",
        )
    state = WARN if loose else OK
    return (
        state,
        f"ChatGPT subscription{who}; access token valid for {relative(left)} ({when}){loose}",
    )
