"""Hard inputs at volume: 10,000 generated desired-state files through the CLI, in-process, on the in-memory fakes.

Each case (tests/config_inputs.py: mutations of examples/*.yaml, alias bombs, deep nesting, control and bidi
characters, byte-order marks, CRLF, binary, empty files, directories, oversized files, explicit YAML tags) runs
`validate`, `validate --format json` and `plan`; one case in five also runs `apply --auto-approve`. Bounds, each 0:
internal errors, cases over 5 s, located problems printed without FILE:LINE:COL, messages continued on an unlocated
line, raw control characters on the terminal, exit codes outside 0/1 (0/1/3 for apply). Exits 1 when any is missed.

Run from the repository root:  python benchmarks/config_fuzz.py [--quick] [--cases 10000] [--seed 10]
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


import reconciler.providers.factory as factory  # noqa: E402
from reconciler.cli.app import main  # noqa: E402
from reconciler.sandbox.clock import VirtualClock  # noqa: E402
from tests.config_inputs import example_sources, make_case, run_case  # noqa: E402
from tests.fakes import fake_ports  # noqa: E402

SLOW_SECONDS = 5.0
CLASSES = ("internal", "unlocated", "split", "raw", "exit")


def _use_fakes() -> None:
    factory.build_ports = lambda desired, **_: fake_ports()  # type: ignore[assignment]
    os.environ["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9"  # nothing may leave the process; a stray call fails fast
    os.environ.setdefault("CLUMIO_API_TOKEN", "fake")


def main_() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="300 cases")
    parser.add_argument("--cases", type=int)
    parser.add_argument("--seed", type=int, default=10)
    parser.add_argument("--show", type=int, default=5, help="examples printed per finding class")
    args = parser.parse_args()
    args.cases = args.cases or (300 if args.quick else 10_000)
    _use_fakes()
    rng = random.Random(args.seed)
    sources = example_sources(fit_fakes=True)
    findings: dict[str, list[str]] = collections.defaultdict(list)
    kinds: collections.Counter[str] = collections.Counter()
    slow: list[str] = []
    started = time.monotonic()
    for number in range(args.cases):
        case = make_case(rng, sources)
        kinds[case.kind] += 1
        commands = ("validate", "validate-json", "plan") + (("apply",) if number % 5 == 0 else ())
        with tempfile.TemporaryDirectory() as folder:
            began = time.monotonic()
            for finding in run_case(case, Path(folder), lambda argv: main(argv, clock=VirtualClock()), commands):
                command, _, rest = finding.partition(": ")
                kind, _, detail = rest.partition(": ")
                findings[kind].append(f"case {number} ({case.kind}) {command}: {detail}")
            elapsed = time.monotonic() - began
        if elapsed > SLOW_SECONDS:
            slow.append(f"case {number} ({case.kind}): {elapsed:.1f} s")
    total = time.monotonic() - started
    print(f"{args.cases} cases (seed {args.seed}) in {total:.0f} s: "
          + ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items())))
    rows = [("internal errors", len(findings["internal"])), (f"cases over {SLOW_SECONDS:.0f} s", len(slow)),
            ("located problems without FILE:LINE", len(findings["unlocated"])),
            ("messages split over unlocated lines", len(findings["split"])),
            ("outputs with raw control characters", len(findings["raw"])),
            ("unexpected exit codes", len(findings["exit"]))]
    for label, count in rows:
        print(f"  {label:<40} {count:>6}   bound 0   {'ok' if count == 0 else 'MISSED'}")
    for kind in CLASSES:
        for line in findings[kind][: args.show]:
            print(f"    {kind}: {line}")
    for line in slow[: args.show]:
        print(f"    slow: {line}")
    return 0 if all(count == 0 for _, count in rows) else 1


if __name__ == "__main__":
    sys.exit(main_())
