"""The AGENTS.md files a session follows, through the built dist/pixir against the fake: the
user's own (~/.pixir/AGENTS.md, in PIXIR_HOME) applies to every workspace, before the
repository's, and the files in use are named once on stderr."""

from __future__ import annotations

import pytest

from tests.fake_backend import step, text

pytestmark = pytest.mark.e2e


def developer_text(fake) -> str:
    head = fake.responses_requests()[-1].json["input"][0]
    assert head["role"] == "developer"
    return head["content"][0]["text"]


@pytest.fixture
def repo(pixir):
    pixir.login_api_key()
    (pixir.workspace / ".git").mkdir()
    pixir.write_file("AGENTS.md", "REPO RULE: run make test")
    pixir.write_file("pkg/AGENTS.md", "PKG RULE: no new dependencies")
    pixir.home.mkdir(mode=0o700, parents=True, exist_ok=True)
    (pixir.home / "AGENTS.md").write_text("USER RULE: answer in British English")
    return pixir


def test_the_users_agents_md_comes_first_and_the_files_are_named_once(repo, fake):
    fake.script(step(text("Done.")))
    result = repo.run("-C", "pkg", "tidy up")
    assert result.code == 0, result
    sent = developer_text(fake)
    assert sent.index("USER RULE") < sent.index("REPO RULE") < sent.index("PKG RULE")
    mine = repo.home / "AGENTS.md"
    notes = [line for line in result.stderr.splitlines() if "AGENTS.md in use" in line]
    assert notes == [f"note: AGENTS.md in use: {mine}, AGENTS.md, pkg/AGENTS.md"]
    assert result.stdout == "Done.\n"


def test_another_workspace_still_follows_the_users_own(repo, fake, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    fake.script(step(text("Hi.")))
    result = repo.run("hello", cwd=elsewhere)
    assert result.code == 0, result
    assert "USER RULE" in developer_text(fake) and "REPO RULE" not in developer_text(fake)
    assert f"note: AGENTS.md in use: {repo.home / 'AGENTS.md'}\n" in result.stderr


@pytest.mark.parametrize("flag", ["-q", "--json", "--jsonl"])
def test_programs_and_quiet_runs_get_no_note(repo, fake, flag):
    fake.script(step(text("Done.")))
    result = repo.run(flag, "tidy up")
    assert result.code == 0, result
    assert "AGENTS.md in use" not in result.stderr + result.stdout
    assert "USER RULE" in developer_text(fake)  # the files still apply


def test_a_resume_names_them_again_and_doctor_lists_them(repo, fake):
    fake.script(step(text("One.")), step(text("Two.")))
    assert repo.run("first").code == 0
    again = repo.run("-c", "second")
    assert again.code == 0, again
    assert again.stderr.count("AGENTS.md in use") == 1
    doctor = repo.run("doctor", "--json")
    checks = {c["name"]: c for c in repo.json_out(doctor)["checks"]}
    assert checks["agents"]["detail"] == f"{repo.home / 'AGENTS.md'}, AGENTS.md"
