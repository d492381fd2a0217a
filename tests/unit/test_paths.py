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


def test_sessions_live_at_the_root_of_the_repository(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    repo = tmp_path / "repo"
    deep = repo / "a" / "b"
    deep.mkdir(parents=True)
    assert paths.sessions_root(deep) == deep  # no repository: where pixir runs
    (repo / ".git").mkdir()
    assert paths.sessions_root(deep) == repo
    assert paths.sessions_root(repo) == repo
    (repo / "a" / ".git").write_text("gitdir: ../.git/worktrees/a\n")  # a worktree's .git file
    assert paths.sessions_root(deep) == repo / "a"


def test_the_home_directory_is_never_a_repository_root(tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / ".git").mkdir(parents=True)  # a dotfiles repository
    (home / "project").mkdir()
    monkeypatch.setenv("HOME", str(home))
    assert paths.sessions_root(home / "project") == home / "project"
