"""Start-up budget: loading the auth code and the auth commands imports no network or JWT
library; only the functions that talk or decode do (SPEC §1)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
MODULES = [
    "pixir.auth.credential",
    "pixir.auth.store",
    "pixir.auth.oauth",
    "pixir.auth.claims",
    "pixir.auth.device",
    "pixir.auth.browser",
    "pixir.auth.summary",
    "pixir.commands.login",
    "pixir.commands.logout",
    "pixir.commands.status",
    "pixir.commands.doctor",
]


def test_auth_modules_import_neither_requests_nor_jwt():
    code = (
        "import importlib, sys\n"
        f"for name in {MODULES!r}: importlib.import_module(name)\n"
        "roots = ('requests', 'jwt', 'urllib3')\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in roots)\n"
        "print(bad)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
