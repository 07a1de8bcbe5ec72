"""The CI recipes in examples/ci pass zizmor (GitHub Actions security audit) and actionlint (workflow syntax,
expressions, action inputs, shellcheck of run: blocks) with no finding; both come with the test extra."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
WORKFLOWS = sorted(str(p) for p in (ROOT / "examples" / "ci").glob("*.yml") if p.name in
                   ("plan.yml", "apply.yml", "drift.yml"))


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: `make install-test` installs it with the test extra")
    return found


def test_the_recipes_are_the_three_workflows() -> None:
    assert [Path(p).name for p in WORKFLOWS] == ["apply.yml", "drift.yml", "plan.yml"]


def test_zizmor_finds_nothing() -> None:
    done = subprocess.run([_tool("zizmor"), "--offline", "--no-progress", *WORKFLOWS], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_finds_nothing() -> None:
    done = subprocess.run([_tool("actionlint"), "-no-color", *WORKFLOWS], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
