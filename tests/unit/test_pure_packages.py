"""core/, config/, plan/ and drift/ do no I/O: they import no module that reaches the file system, the network,
processes or the clock, and call no file method — reconciler/files reads and writes the files, providers/ the
services and the system clock. The only reads allowed are of the package's own data (importlib.resources)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PURE = ("core", "config", "plan", "drift")
IO_MODULES = frozenset({"os", "tempfile", "shutil", "subprocess", "socket", "time", "urllib", "http", "io", "filelock",
                        "boto3", "botocore", "requests", "urllib3", "typer", "rich"})
IO_CALLS = frozenset({"open", "read_text", "read_bytes", "write_text", "write_bytes", "mkdir", "unlink",
                      "stat", "exists", "is_file", "is_dir", "sleep", "now", "fsync", "mkstemp"})
# Reading the package's own data files (the region list, the JSON schema) is loading code, not I/O.
PACKAGE_DATA = ("resources.files(",)
# Known and left: the plan's created_at stamp when a caller passes none (tests, import) reads the clock.
ALLOWED = {"reconciler/plan/build.py": ["line 76: calls now()"],
           "reconciler/plan/destroy.py": ["line 106: calls now()"]}
MODULES = sorted(p for package in PURE for p in (ROOT / "reconciler" / package).rglob("*.py"))


def _problems(path: Path) -> list[str]:
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            found += [f"line {node.lineno}: imports {n}" for n in names if n.split(".")[0] in IO_MODULES]
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name in IO_CALLS and not any(m in lines[node.lineno - 1] for m in PACKAGE_DATA):
                found.append(f"line {node.lineno}: calls {name}()")
    return found


@pytest.mark.parametrize("module", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_pure_module_does_no_io(module: Path) -> None:
    assert _problems(module) == ALLOWED.get(str(module.relative_to(ROOT)), [])


def test_the_check_sees_io(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import os\nfrom pathlib import Path\n\ndef f(p: Path) -> bytes:\n    return p.read_bytes()\n")
    assert _problems(sample) == ["line 1: imports os", "line 5: calls read_bytes()"]
