"""`clumio-org validate` end to end: the shipped examples pass, broken files fail with FILE:LINE:COL lines."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.cli import main

ROOT = Path(__file__).parents[2]
EXAMPLES = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "examples").glob("*.yaml"))


def _cli() -> list[str]:
    script = shutil.which("clumio-org")
    return [script] if script else [sys.executable, "-m", "reconciler"]


def test_examples_are_all_ok_through_the_installed_command() -> None:
    assert {"examples/minimal.yaml", "examples/enterprise.yaml", "examples/demo.yaml"} <= set(EXAMPLES)
    env = {k: v for k, v in os.environ.items() if k != "CLUMIO_ORG_CONFIG"}
    done = subprocess.run(
        [*_cli(), "validate", *EXAMPLES], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == [f"{name}: ok" for name in EXAMPLES]


def test_examples_are_all_ok_as_json(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    assert main(["validate", "--format", "json", *EXAMPLES]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is True
    assert [(f["file"], f["valid"], f["diagnostics"]) for f in report["files"]] == [(n, True, []) for n in EXAMPLES]


def _broken(tmp_path: Path) -> Path:
    text = (ROOT / "examples" / "minimal.yaml").read_text()
    text = text.replace('management_account: "111111111111"', 'management_account: "11111111111"')
    text = text.replace("  - us-west-2", "  - us-wets-2")
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    return path


def test_a_broken_file_lists_every_problem_with_line_column_and_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = _broken(tmp_path)
    good = ROOT / "examples" / "minimal.yaml"
    assert main(["validate", str(good), str(broken)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{good}: ok"
    assert lines[1].startswith(f"{broken}:11:23: organization.management_account:")
    assert lines[2].startswith("  hint: quote account ids")
    assert (
        lines[3] == f'{broken}:22:5: regions[1]: unknown AWS region "us-wets-2" (CloudFormation is not offered there)'
    )
    assert lines[4] == "  hint: did you mean us-west-2?"


def test_a_broken_file_as_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = _broken(tmp_path)
    assert main(["validate", "-f", "json", str(broken)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is False
    diagnostics = report["files"][0]["diagnostics"]
    assert [(d["line"], d["column"]) for d in diagnostics] == [(11, 23), (22, 5)]
    assert diagnostics[1]["hint"] == "did you mean us-west-2?"


def test_a_missing_file_fails_with_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path / "absent.yaml")]) == 1
    assert capsys.readouterr().out.strip() == f"{tmp_path / 'absent.yaml'}: file not found\n  hint: check the path"


def test_other_commands_see_the_same_diagnostics_through_load_config(tmp_path: Path) -> None:
    from reconciler.cli.common import load_config
    from reconciler.core.errors import ConfigError

    broken = _broken(tmp_path)
    with pytest.raises(ConfigError) as raised:
        load_config(broken)
    assert "2 problems" in raised.value.message
    assert f"{broken}:22:5:" in raised.value.message
    assert len(raised.value.diagnostics) == 2


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["validate"], "error: desired-state file clumio-org.yaml not found"),
     (["validate", "-f", "xml", "x.yaml"], "--format")],
)
def test_usage_mistakes_are_errors_not_tracebacks(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err and "internal error" not in err
