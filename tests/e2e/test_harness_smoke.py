"""The harness runs the built executable from day one: `--version` and `doctor --json`."""

from __future__ import annotations

import re

import pytest

from tests.harness import PixirRunner

pytestmark = pytest.mark.e2e


def test_version_from_outside_the_checkout(fake, tmp_path):
    runner = PixirRunner(fake, tmp_path)
    result = runner.run("--version", cwd=tmp_path)  # tmp_path is outside the repository
    assert result.code == 0, result
    assert re.match(r"pixir \d+\.\d+\.\d+\S* \(", result.stdout), result


def test_doctor_json_is_one_object_with_a_status(pixir):
    result = pixir.run("doctor", "--json")
    report = pixir.json_out(result)
    assert report["status"] in ("ready", "ready_with_warnings", "blocked"), result
    assert result.code in (0, 1), result  # `blocked` exits 1: a fresh HOME has no credential
    assert pixir.fake.api_key not in result.stdout + result.stderr
