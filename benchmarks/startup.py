"""Start-up: the wall time of `clumio-org --help` and `clumio-org validate examples/demo.yaml`, each run N times in a
fresh process, median printed against its bound (≤ 0.2 s) and against `python -c pass` (the interpreter's own
start-up on this machine). Exits 1 when a bound is missed.

Run from the repository root:  python benchmarks/startup.py [--quick] [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from support.bounds import Bounds, compiled_as_installed, machine_line  # noqa: E402

BOUND_SECONDS = 0.2
COMMANDS = (("--help",), ("validate", "examples/demo.yaml"))


def clumio_org() -> list[str]:
    """The installed console script next to this interpreter (what a user runs), else ``python -m reconciler``."""
    script = Path(sys.executable).with_name("clumio-org")
    if script.is_file():
        return [str(script)]
    found = shutil.which("clumio-org")
    return [found] if found else [sys.executable, "-m", "reconciler"]


def median_wall(argv: list[str], runs: int) -> float:
    """Median wall seconds of ``argv`` in a fresh process (one untimed run first, so byte-code caches exist)."""
    env = {**os.environ, "NO_COLOR": "1"}
    walls = []
    for index in range(runs + 1):
        started = time.perf_counter()
        done = subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              check=False)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"`{' '.join(argv)}` exited {done.returncode}: {done.stderr.decode()[-400:]}")
        if index:
            walls.append(wall)
    return statistics.median(walls)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="5 runs per command")
    parser.add_argument("--runs", type=int)
    args = parser.parse_args()
    runs = args.runs or (5 if args.quick else 15)
    print(machine_line())
    print(compiled_as_installed())
    bounds = Bounds()
    baseline = median_wall([sys.executable, "-c", "pass"], runs)
    print(f"  {'python -c pass':<52} {baseline:>10.3f}s  (median of {runs})")
    program = clumio_org()
    for command in COMMANDS:
        wall = median_wall([*program, *command], runs)
        bounds.at_most(f"clumio-org {' '.join(command)} (median of {runs})", wall, BOUND_SECONDS, "s", digits=3)
        print(f"  {'':<52} {wall - baseline:>10.3f}s over python -c pass ({wall / baseline:.1f}×)")
    return bounds.exit_code()


if __name__ == "__main__":
    sys.exit(main())
