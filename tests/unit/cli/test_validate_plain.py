"""`validate` with plain arguments runs without typer, and says exactly what the typer command says: the same
output, errors and exit code for files that pass, files that fail, and every command line it hands over."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.cli.app import main as typer_main
from reconciler.cli.validate_plain import plain_arguments

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture()
def broken(tmp_path: Path) -> Path:
    text = (ROOT / "examples" / "minimal.yaml").read_text()
    path = tmp_path / "broken.yaml"
    path.write_text(text.replace("  - us-west-2", "  - us-wets-2").replace("organization:", "organisation:", 1))
    return path


CASES = [
    ["validate", "examples/demo.yaml"],
    ["validate", "./examples//demo.yaml", "examples/minimal.yaml"],
    ["validate", "--format", "json", "examples/demo.yaml", "BROKEN"],
    ["validate", "-f", "json", "BROKEN"],
    ["validate", "--format=json", "examples/minimal.yaml"],
    ["validate", "BROKEN", "examples/missing.yaml", "examples"],
    ["validate", "-c", "examples/demo.yaml", "BROKEN"],
    ["validate", "--format", "xml", "examples/demo.yaml"],
    ["validate", "-f=json", "examples/demo.yaml"],
    ["validate", "--format"],
    ["validate", "--help"],
    ["validate", "examples/demo.yaml", "--quiet"],
]


@pytest.mark.parametrize("argv", CASES, ids=[" ".join(c) for c in CASES])
def test_validate_prints_the_same_with_or_without_typer(
    argv: list[str], broken: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    args = [str(broken) if a == "BROKEN" else a for a in argv]
    seen = []
    for run in (typer_main, main):
        code = run(args)
        seen.append((code, *capsys.readouterr()))
    assert seen[0] == seen[1]


def test_a_failing_file_fails_the_plain_run_with_located_lines(
    broken: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    assert main(["validate", "--format", "json", str(broken)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is False
    assert {d["line"] for d in report["files"][0]["diagnostics"]} != {None}


@pytest.mark.parametrize("argv", [["validate"], ["validate", "--help"], ["--debug", "validate", "x.yaml"],
                                  ["validate", "-fjson", "x.yaml"], ["validate", "--", "x.yaml"], ["plan"]])
def test_anything_but_plain_arguments_goes_to_the_typer_command(argv: list[str]) -> None:
    assert plain_arguments(argv) is None


def test_the_console_script_s_validate_loads_no_typer() -> None:
    probe = ("import sys\nfrom reconciler.cli import main\ncode = main(sys.argv[1:])\n"
             "print(sorted(m for m in sys.modules if m == 'typer' or m.startswith('typer.')), code)")
    done = subprocess.run([sys.executable, "-c", probe, "validate", "examples/demo.yaml"], capture_output=True,
                          text=True, cwd=ROOT, timeout=60, check=False)
    assert done.stdout.splitlines() == ["examples/demo.yaml: ok", "[] 0"], done.stderr
