"""A fresh `pip install .` prints no warning from the project's own packaging, and the wheel carries the license and
every data folder the installed tool reads (schemas, example configs, sandbox worlds, CI recipes, templates)."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
# pip's own notes about this machine's index configuration are not the project's packaging.
NOT_OURS = re.compile(r"^WARNING: (Location '.*' is ignored|The index url)")


@pytest.mark.slow
def test_building_the_wheel_prints_no_packaging_warning(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(tmp_path), str(ROOT)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    noise = [line for line in (done.stdout + done.stderr).splitlines()
             if re.search(r"warn", line, re.IGNORECASE) and not NOT_OURS.search(line.strip())]
    assert noise == []
    wheel = next(tmp_path.glob("clumio_org-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("reconciler/schemas/plan.schema.json", "reconciler/examples/demo.yaml",
                   "reconciler/examples/sandbox/demo.yaml", "reconciler/examples/ci/plan.yml",
                   "reconciler/sandbox/templates/clumio-org.yaml", "reconciler/config/regions.json"):
        assert needed in names, needed
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    assert "License-Expression: Apache-2.0" in zipfile.ZipFile(wheel).read(metadata).decode()
