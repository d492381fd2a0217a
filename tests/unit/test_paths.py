import os

from pixir import paths


def test_home_is_pixir_home_or_dot_pixir(monkeypatch, tmp_path):
    monkeypatch.setenv("PIXIR_HOME", str(tmp_path / "h"))
    assert paths.home() == tmp_path / "h"
    monkeypatch.delenv("PIXIR_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert paths.home() == tmp_path / ".pixir"


def test_home_is_created_private(pixir_home):
    old = os.umask(0o022)
    try:
        created = paths.ensure_home()
    finally:
        os.umask(old)
    assert created == pixir_home
    assert os.stat(created).st_mode & 0o777 == 0o700


def test_workspace_state_dir_is_git_ignored(tmp_path):
    sessions = paths.ensure_sessions_dir(tmp_path)
    assert sessions == tmp_path / ".pixir" / "sessions" and sessions.is_dir()
    assert (tmp_path / ".pixir" / ".gitignore").read_text() == "*\n"
    # idempotent, and a user's own .gitignore edits are kept
    (tmp_path / ".pixir" / ".gitignore").write_text("*\n# mine\n")
    paths.ensure_sessions_dir(tmp_path)
    assert (tmp_path / ".pixir" / ".gitignore").read_text() == "*\n# mine\n"
