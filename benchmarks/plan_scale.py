"""plan at scale: `clumio-org plan` against generated sandbox orgs, and make_plan's CPU and memory at 100,000
instances in memory. Each figure is printed against its bound; the exit code is 1 when any is missed.

The sandbox runs in its own process (as real AWS would be: its CPU is not ours) with a generated world, the Clumio
StackSet already deployed everywhere, AWS page sizes (Organizations 20, ListStackInstances 100, Clumio 100) and
50 ms on every AWS and Clumio call. `clumio-org plan --detailed-exitcode` runs as a process of its own
(benchmarks/support/plan_process.py: the CLI's entry point plus a call counter), so its wall, CPU and peak RSS are
the whole process's: start-up, imports, discovery, plan, rendering.

Part 1 — 2,000 accounts × 17 regions (34,000 instances, 3 OU levels, a template update pending everywhere, SCPs on
  20 % of the OUs and a Control Tower landing zone): API calls ≤ 1.05 × the minimum the APIs allow; plan wall
  ≤ 1.3 × Σ calls ÷ lanes × latency with the lanes the tool really uses (its pool sizes, read from the product),
  read by read; client CPU ≤ 100 µs per instance; SCP reads ≤ the fewest the APIs allow (by policy or per target,
  whichever is fewer: docs/reference/guardrails.md §1). Then each read again alone, in this process, to show where
  the time goes.
Part 2 — 800 accounts × 8 regions, nothing to do: the per-region split of ListStackInstances the tool chose, and the
  plan's wall against the same bound.
Part 3 — 100,000 instances in memory (a process of its own): diff+schedule CPU ≤ 3 s, and that process's peak RSS
  (the Live, the plan and the interpreter) ≤ 500 MB.

Run from the repository root:  python benchmarks/plan_scale.py [--quick] [--accounts 2000] [--regions 17]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from support.bounds import Bounds, compiled_as_installed, machine_line  # noqa: E402
from support.plan_figures import World, guardrail_bound, report_plan, serve_world  # noqa: E402
from support.served import run_plan, tool_lanes, walk_spec  # noqa: E402

DIFF_SCHEDULE_CPU_BOUND = 3.0
IN_MEMORY_RSS_BOUND_MB = 500.0


def part_one(bounds: Bounds, accounts: int, n_regions: int, latency_ms: float) -> None:
    print(f"\nPart 1: {accounts} accounts × {n_regions} regions, 3 OU levels (fanout 4), a template update pending, "
          f"{latency_ms:g} ms per call", flush=True)
    with tempfile.TemporaryDirectory(prefix="clumio-org-bench-") as tmp:
        world = serve_world(Path(tmp), accounts, n_regions, ou_depth=3, latency_ms=latency_ms, noop=False)
        try:
            print(f"  sandbox serving in {world.served.start_seconds:.1f}s", flush=True)
            run = run_plan(world.served, world.config)
            label = f"{accounts}×{n_regions}"
            report_plan(bounds, world, run, latency_ms, expect_exit=2, cpu_bound=True, rss_bound_mb=None,
                        label=label, breakdown=lambda: read_breakdown(world, latency_ms))
            guardrail_bound(bounds, label, world, run.calls)
        finally:
            world.served.stop()


def read_breakdown(world: World, latency_ms: float) -> list[str]:
    """Time each read of discovery on its own, in this process, to show which read (ours, or the server) costs."""
    from reconciler.files.config import load_desired
    from reconciler.providers.factory import build_ports

    saved = dict(os.environ)
    os.environ.update(world.served.client_env())
    try:
        desired = load_desired(world.config)
        build_ports(desired)  # botocore loads its service models once per process: not an API cost
        lanes = tool_lanes(len(world.regions))
        lines: list[str] = []

        def timed(label: str, read: Any, operation: str, width: int) -> None:
            ports = build_ports(desired)
            started = time.perf_counter()
            read(ports)
            wall = time.perf_counter() - started
            calls = sum(ports.api_calls.snapshot().values())
            ideal = calls / width * latency_ms / 1000
            lines.append(f"{label:<40} {calls:>5} calls {wall:7.2f}s  (calls ÷ {width} lanes × latency = "
                         f"{ideal:.2f}s; {operation})")

        regions = sorted(desired.regions)
        _, _, members = walk_spec(world.spec)
        first = sorted(a for a, _ in members)[:100]
        timed("Organizations tree walk", lambda p: p.org.read_tree(), "ListOUs/ListAccountsForParent",
              lanes["organizations.ListAccountsForParent"][0])
        timed("ListStackInstances, per region", lambda p: p.stacksets.list_instances(desired.stack_set.name,
                                                                                      regions),
              "StackInstanceRegion each", lanes["cloudformation.ListStackInstances"][0])
        timed("ListStackInstances, one listing", lambda p: p.stacksets.list_instances(desired.stack_set.name),
              "one NextToken chain", 1)
        timed("Clumio ListConnections, 100 accounts", lambda p: p.clumio.list_connections(first),
              "$in batches", lanes["clumio.ListConnections"][0])
        return lines
    finally:
        os.environ.clear()
        os.environ.update(saved)


def part_two(bounds: Bounds, accounts: int, n_regions: int, latency_ms: float) -> None:
    print(f"\nPart 2: {accounts} accounts × {n_regions} regions, nothing to do, {latency_ms:g} ms per call",
          flush=True)
    with tempfile.TemporaryDirectory(prefix="clumio-org-bench-") as tmp:
        world = serve_world(Path(tmp), accounts, n_regions, ou_depth=3, latency_ms=latency_ms, noop=True)
        try:
            run = run_plan(world.served, world.config)
            report_plan(bounds, world, run, latency_ms, expect_exit=0, cpu_bound=False, rss_bound_mb=None,
                        label=f"{accounts}×{n_regions} no-op")
        finally:
            world.served.stop()


def part_three(bounds: Bounds, accounts: int, n_regions: int) -> None:
    print(f"\nPart 3: in-memory Live, {accounts} accounts × {n_regions} regions = {accounts * n_regions} desired "
          f"instances, in a process of its own", flush=True)
    cmd = [sys.executable, __file__, "--in-memory-only", "--big-accounts", str(accounts), "--regions",
           str(n_regions)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    lines = output.splitlines()
    figures = json.loads(lines[-1]) if proc.returncode == 0 and lines else {}
    for line in lines[:-1]:
        print(line)
    if not figures:
        bounds.equal("in-memory make_plan process exit code", proc.returncode, 0)
        return
    bounds.at_most("diff+schedule CPU s", figures["diff_schedule_cpu"], DIFF_SCHEDULE_CPU_BOUND, "s")
    bounds.at_most("in-memory plan process peak RSS MB", usage.ru_maxrss / 1024, IN_MEMORY_RSS_BOUND_MB, "MB", 0)


def in_memory(accounts: int, n_regions: int) -> None:
    """Part 3's child: build the Live, time expand/diff/schedule and make_plan, print the figures as JSON last."""
    from support.big_live import big_world

    from reconciler.plan.build import make_plan
    from reconciler.plan.diff import diff
    from reconciler.plan.expand import expand
    from reconciler.plan.schedule import schedule
    from reconciler.sandbox.world import ALL_REGIONS

    regions = sorted(ALL_REGIONS)[:n_regions]
    desired, live, template = big_world(accounts, regions)
    print(f"  {len(live.instances)} deployed on template 24.3")
    gc.collect()
    t0 = time.process_time()
    exp = expand(desired, live.org)
    t1 = time.process_time()
    found = diff(desired, live, exp, template)
    t2 = time.process_time()
    scheduled = schedule(desired, live, exp, found, "0" * 16)
    t3 = time.process_time()
    print(f"  expand {t1 - t0:.2f}s, diff {t2 - t1:.2f}s, schedule {t3 - t2:.2f}s: {len(found.changes)} changes, "
          f"{len(scheduled.operations)} operations")
    gc.collect()
    c0 = time.process_time()
    plan = make_plan(desired, live, template=template)
    whole = time.process_time() - c0
    print(f"  whole make_plan (expand, diff, schedule, fingerprint) CPU: {whole:.2f}s; {len(plan.changes)} changes")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"diff_schedule_cpu": t3 - t1, "make_plan_cpu": whole, "rss_mb": rss}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="200 × 4 in part 1, 100 × 8 in part 2, 500 × 17 in memory: under a minute")
    parser.add_argument("--accounts", type=int, help="part 1 accounts (default 2000)")
    parser.add_argument("--regions", type=int, help="part 1 and part 3 regions (default 17)")
    parser.add_argument("--noop-accounts", type=int, help="part 2 accounts (default 800, × 8 regions)")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--big-accounts", type=int, help="part 3 accounts (default 5883: × 17 ≈ 100,000)")
    parser.add_argument("--skip-sandbox", action="store_true", help="run part 3 only")
    parser.add_argument("--in-memory-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    big = args.big_accounts or (500 if args.quick else 5883)
    if args.in_memory_only:
        in_memory(big, args.regions or 17)
        return 0
    print(f"command: python benchmarks/plan_scale.py {shlex.join(sys.argv[1:] if argv is None else argv)}".rstrip())
    print(machine_line())
    print(compiled_as_installed())
    bounds = Bounds(args.quick)
    if not args.skip_sandbox:
        part_one(bounds, args.accounts or (200 if args.quick else 2000), args.regions or (4 if args.quick else 17),
                 args.latency_ms)
        part_two(bounds, args.noop_accounts or (100 if args.quick else 800), 8, args.latency_ms)
    part_three(bounds, big, args.regions or 17)
    return bounds.exit_code()


if __name__ == "__main__":
    sys.exit(main())
