"""Start-up: `--help` and `validate` load only what they use (no AWS SDK, no rich, no sandbox), `--help` still lists
every command with its own one-line help, and every listed command loads. (The wall-time bound lives in
benchmarks/startup.py.)"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.cli.app import COMMANDS, load_command, main

ROOT = Path(__file__).resolve().parents[3]
HEAVY = ("boto3", "botocore", "rich", "reconciler.sandbox", "jsonschema", "pydantic")
# jsonschema is loaded only for a file the quick schema check does not accept, pydantic (typer's coercion) only for a
# value that is not plain text, a flag or a path: each costs more than half of the start-up budget.

PROBE = """
import json, sys
from reconciler.cli.app import main
code = main(sys.argv[1:])
loaded = sorted({m for m in sys.modules for heavy in HEAVY if m == heavy or m.startswith(heavy + ".")})
print("\\n@@" + json.dumps({"code": code, "loaded": loaded}))
"""
# What only the commands that read a desired-state file need: `--help` runs none of them.
NOT_FOR_HELP = ("yaml", "reconciler.config", "reconciler.core.desired")


def _run_fresh(*argv: str, heavy: tuple[str, ...] = HEAVY) -> tuple[dict[str, object], str]:
    probe = PROBE.replace("HEAVY", repr(heavy))
    done = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True, cwd=ROOT,
                          timeout=60, check=False)
    out, _, report = done.stdout.rpartition("\n@@")
    assert report, done.stderr
    return json.loads(report), out


@pytest.mark.parametrize("argv", [["--help"], ["validate", "examples/demo.yaml"],
                                  ["validate", "--format", "json", "examples/demo.yaml"]])
def test_help_and_validate_load_no_aws_sdk_rich_or_sandbox(argv: list[str]) -> None:
    report, out = _run_fresh(*argv)
    assert report["code"] == 0, out
    assert report["loaded"] == [], f"`clumio-org {' '.join(argv)}` imported {report['loaded']}"


def test_help_loads_neither_yaml_nor_the_config_model() -> None:
    report, out = _run_fresh("--help", heavy=NOT_FOR_HELP)
    assert report["code"] == 0, out
    assert report["loaded"] == [], f"`clumio-org --help` imported {report['loaded']}"


def test_an_invalid_file_still_gets_jsonschema_s_located_messages(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text((ROOT / "examples" / "demo.yaml").read_text().replace("organization:", "organisation:", 1))
    report, out = _run_fresh("validate", str(bad))
    assert report["code"] == 1
    assert f"{bad}:" in out and "organisation" in out
    assert "jsonschema" in str(report["loaded"])


def test_help_lists_every_command_with_its_one_line_help() -> None:
    report, out = _run_fresh("--help")
    listed = re.findall(r"^  (\S+)  ", out.split("Commands:", 1)[1], flags=re.MULTILINE)
    assert listed == list(COMMANDS)
    flat = " ".join(out.split())
    for _, summary in COMMANDS.values():
        assert summary in flat


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_listed_command_loads_and_its_summary_is_its_own_help(name: str) -> None:
    command = load_command(name)
    assert command.name == name
    first_paragraph = " ".join((command.help or "").split("\n\n")[0].split())
    assert first_paragraph == COMMANDS[name][1]


def test_an_unknown_command_still_suggests_the_close_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plna"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: no such command 'plna'. Did you mean 'plan'?"), err


@pytest.mark.parametrize("argv", [[], ["state"], ["sandbox"]])
def test_a_group_without_its_command_prints_its_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 1
    out, err = capsys.readouterr()
    assert out.startswith(f"Usage: clumio-org {' '.join([*argv, ''])}[OPTIONS] COMMAND") and "Commands:" in out
    assert err == ""


def test_a_group_lists_each_command_s_whole_first_paragraph(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["state", "--help"]) == 0
    flat = " ".join(capsys.readouterr().out.split())
    assert "unlock Release a lock left by a run that died. Make sure that run is really gone first." in flat
    assert "..." not in flat.split("Commands:", 1)[1]


def test_a_format_choice_is_read_without_pydantic() -> None:
    report, out = _run_fresh("plan", "-c", "missing.yaml", "--format", "json", heavy=("pydantic",))
    assert report["code"] == 1, out  # the file is missing: the option was read first
    assert report["loaded"] == [], f"`plan --format json` imported {report['loaded']}"
