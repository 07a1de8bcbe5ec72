"""drift at scale: the API calls of one `clumio-org drift` run against a generated 2,000-account × 17-region org,
against the same minimum plan is measured by (the fewest calls the APIs allow to read the same data).

The sandbox runs in its own process with a generated world (reconciler.sandbox.worldgen: 3 levels of OUs, 1 %
suspended accounts, the Clumio StackSet already deployed everywhere, AWS page sizes, a per-call latency). The
benchmark runs what `clumio-org drift` runs — discovery, the last drift detection, classification, the ignore file,
the JSON report — then plan's reads (discovery, preflight, the Clumio template) on fresh ports, and prints calls by
operation with the ratios drift/minimum (bound ≤ 1.05) and drift/plan (bound ≤ 1.0), plus wall and classification
CPU time; exits 1 when a bound is missed. 50 ms applies to every AWS and Clumio call.

Run from the repository root:
  python benchmarks/drift_cost.py [--quick] [--accounts 2000] [--regions 17] [--latency-ms 50]
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from support.bounds import Bounds, compiled_as_installed, machine_line  # noqa: E402
from support.served import ServedWorld, minimum_calls, regions_with_home, write_config  # noqa: E402

CALLS_BOUND = 1.05


def edit_one_stack(env: dict[str, str], spec: dict[str, Any]) -> None:
    """The sandbox's drift-stack event on the first account's first region, so detection finds one instance."""
    import requests

    leaf = spec["ous"][0]
    while "ous" in leaf:
        leaf = leaf["ous"][0]
    account = next(a["id"] for a in leaf["accounts"] if a.get("state", "ACTIVE") == "ACTIVE")
    base = env["AWS_ENDPOINT_URL"].rstrip("/")
    response = requests.post(f"{base}/_sandbox/events/drift-stack", json={"account": account,
                             "region": spec["regions"]["enabled"][0]}, timeout=60)
    response.raise_for_status()


@dataclass
class SandboxTime:
    """The sandbox's "now" read over the wire; a detection's waits are real sleeps (the served world runs on a
    scaled wall clock)."""

    now: Callable[[], Any]

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def sandbox_clock(env: dict[str, str]) -> Any:
    """The sandbox's own "now" (its clock runs from a fixed start), so ages in the report are the world's."""
    from datetime import datetime

    import requests

    def now() -> datetime:
        status = requests.get(env["AWS_ENDPOINT_URL"].rstrip("/") + "/_sandbox/status", timeout=60).json()
        return datetime.fromisoformat(status["now"])

    return now


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 accounts × 4 regions: under a minute")
    parser.add_argument("--accounts", type=int, help="default 2000")
    parser.add_argument("--regions", type=int, help="default 17")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--detect", action="store_true",
                        help="run `drift --detect` (one stack edited by hand first) and count its extra calls")
    parser.add_argument("--compare-plan", action="store_true",
                        help="also run plan's reads on fresh ports and print its calls next to drift's")
    args = parser.parse_args(argv)
    print(f"command: python benchmarks/drift_cost.py {shlex.join(sys.argv[1:] if argv is None else argv)}".rstrip(),
          flush=True)
    print(machine_line())
    print(compiled_as_installed())
    accounts = args.accounts or (200 if args.quick else 2000)
    n_regions = args.regions or (4 if args.quick else 17)

    from reconciler.discover.live import discover
    from reconciler.discover.preflight import preflight
    from reconciler.drift.classify import classify
    from reconciler.drift.report import build_report
    from reconciler.files.config import load_desired
    from reconciler.providers.factory import build_ports
    from reconciler.render.drift_json import render_drift_json
    from reconciler.sandbox.worldgen import generate_world_spec
    from reconciler.usecases.context import Context
    from reconciler.usecases.drift import gather

    regions = regions_with_home(n_regions)
    spec = generate_world_spec(accounts, regions=regions, ou_depth=3, fanout=4, deployed=True,
                               faults={"latency_ms": args.latency_ms})
    bounds = Bounds()
    saved_env = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="clumio-org-bench-") as tmp:
        folder = Path(tmp)
        print(f"sandbox world: {accounts} accounts × {len(regions)} regions, 3 OU levels (fanout 4), "
              f"{args.latency_ms:g} ms per AWS and Clumio call; starting the sandbox …", flush=True)
        served = ServedWorld(spec, folder)
        config = write_config(folder, spec, regions)
        env = served.env
        try:
            os.environ.update(served.client_env())
            desired = load_desired(config)
            build_ports(desired)  # warm-up: botocore loads its service models once per process, not an API cost

            if args.detect:
                edit_one_stack(env, spec)
                os.environ.setdefault("CLUMIO_ORG_POLL_SECONDS", "5")
            flag = " --detect" if args.detect else ""
            print(f"running drift (what `clumio-org drift -c clumio-org.yaml --format json{flag}` runs) …",
                  flush=True)
            drift_ports = build_ports(desired)
            wall0 = time.perf_counter()
            ctx = Context(desired, clock=SandboxTime(sandbox_clock(env)), given_ports=drift_ports)
            got = gather(ctx, detect_drift=args.detect, timeout=3600)
            report = build_report(got.inputs, config_path=str(config), detections=got.detections, notes=got.notes)
            render_drift_json(report)
            drift_wall = time.perf_counter() - wall0
            live = got.inputs.live
            cpu0 = time.process_time()
            classify(got.inputs)
            classify_cpu = time.process_time() - cpu0

            plan_calls: dict[str, int] = {}
            if args.compare_plan:
                print("running plan's reads for comparison …", flush=True)
                plan_ports = build_ports(desired)
                plan_live = discover(desired, plan_ports)
                preflight(desired, plan_ports, plan_live)
                plan_ports.clumio.org_template(desired.clumio.asset_types)
                plan_calls = plan_ports.api_calls.snapshot()
            status = served.status()
        finally:
            served.stop()
            os.environ.clear()
            os.environ.update(saved_env)

    drift_calls = drift_ports.api_calls.snapshot()
    minimum = minimum_calls(drift_calls, spec, status, 1)
    total, least = sum(drift_calls.values()), sum(minimum.values())
    print(f"read {len(live.org.accounts)} accounts, {len(live.instances)} instances, {len(live.connections)} "
          f"connections; report: {len(report.findings)} findings "
          f"{ {c.value: n for c, n in report.summary().items() if n} }")
    for reason in sorted({f"{f.category.value}: {f.reason}" for f in report.findings})[:8]:
        print(f"  finding: {reason}")
    print("calls by operation (drift / minimum the APIs allow" + (" / plan" if plan_calls else "") + "):")
    for name in sorted(set(drift_calls) | set(plan_calls)):
        row = f"  {name:<52} {drift_calls.get(name, 0):>5} / {minimum.get(name, 0):>5}"
        print(row + (f" / {plan_calls.get(name, 0):>5}" if plan_calls else ""))
    bounds.ratio("drift API calls vs minimum the APIs allow", total, least, CALLS_BOUND)
    if plan_calls:
        bounds.ratio("drift API calls vs plan's API calls", total, sum(plan_calls.values()), 1.0)
    if args.detect:
        polls = drift_calls.get("cloudformation.DescribeStackSetOperation", 0)
        print(f"  --detect: {polls} DescribeStackSetOperation polls while the detection ran (time-dependent, "
              f"every {os.environ.get('CLUMIO_ORG_POLL_SECONDS')} s), "
              f"{drift_calls.get('cloudformation.ListStackInstanceResourceDrifts', 0)} ListStackInstanceResourceDrifts "
              f"for {sum(1 for f in report.findings if f.category.value == 'resources')} drifted instance(s)")
    print(f"  drift wall time {drift_wall:.2f}s at {args.latency_ms:g} ms per call; classification CPU "
          f"{classify_cpu:.2f}s for {len(live.instances)} instances")
    return bounds.exit_code()


if __name__ == "__main__":
    sys.exit(main())
