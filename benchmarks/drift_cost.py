"""drift at scale: the API calls of one `clumio-org drift` run against a generated 2,000-account × 17-region org,
against the same minimum plan is measured by (the fewest calls the APIs allow to read the same data).

The sandbox runs in its own process with a generated world (reconciler.sandbox.worldgen: 3 levels of OUs, 1 %
suspended accounts, the Clumio StackSet already deployed everywhere, AWS page sizes, a per-call latency). The
benchmark runs what `clumio-org drift` runs — discovery, the last drift detection, classification, the ignore file,
the JSON report — then plan's reads (discovery, preflight, the Clumio template) on fresh ports, and prints calls by
operation with the ratios drift/minimum (target ≤ 1.05) and drift/plan, plus wall and classification CPU time.

Run from the repository root:  python benchmarks/drift_cost.py [--accounts 2000] [--regions 17] [--latency-ms 50]
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from plan_scale import minimum_calls, ratio_line, start_sandbox, write_config  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--regions", type=int, default=17)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--compare-plan", action="store_true",
                        help="also run plan's reads on fresh ports and print its calls next to drift's")
    args = parser.parse_args()
    print("command: python " + " ".join(shlex.quote(a) for a in sys.argv), flush=True)

    from reconciler.cli import drift as drift_cli
    from reconciler.config import load_desired
    from reconciler.drift.classify import classify
    from reconciler.drift.report import build_report
    from reconciler.plan.discover import discover
    from reconciler.plan.preflight import preflight
    from reconciler.providers.factory import build_ports
    from reconciler.render.drift_json import render_drift_json
    from reconciler.sandbox.world import ALL_REGIONS
    from reconciler.sandbox.worldgen import generate_world_spec

    regions = sorted(ALL_REGIONS)[:args.regions]
    spec = generate_world_spec(args.accounts, regions=regions, ou_depth=3, fanout=4, deployed=True,
                               faults={"latency_ms": args.latency_ms})
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        world_file = folder / "world.yaml"
        world_file.write_text(yaml.safe_dump(spec, sort_keys=False))
        config = write_config(folder, spec, regions)
        print(f"sandbox world: {args.accounts} accounts × {len(regions)} regions, 3 OU levels (fanout 4), "
              f"{args.latency_ms:g} ms per call; starting the sandbox …", flush=True)
        os.environ["CLUMIO_ORG_SANDBOX_DIR"] = str(folder)  # its own runtime file: other sandboxes may be running
        proc, env = start_sandbox(world_file)
        try:
            os.environ.update(env)
            for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
                os.environ.pop(name, None)
            os.environ["AWS_CONFIG_FILE"] = os.devnull
            os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
            os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
            desired = load_desired(config)
            build_ports(desired)  # warm-up: botocore loads its service models once per process, not an API cost

            print("running drift (what `clumio-org drift -c clumio-org.yaml --format json` runs) …", flush=True)
            drift_ports = build_ports(desired)
            wall0 = time.perf_counter()
            got = drift_cli.gather(desired, drift_ports, detect_drift=False, timeout=0)
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
        finally:
            proc.terminate()
            proc.wait(timeout=30)

    drift_calls = drift_ports.api_calls.snapshot()
    minimum = minimum_calls(drift_calls, live)
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
    print(ratio_line("drift API calls vs minimum the APIs allow", total, least, 1.05))
    if plan_calls:
        print(ratio_line("drift API calls vs plan's API calls", total, sum(plan_calls.values()), 1.0))
    print(f"  drift wall time {drift_wall:.2f}s at {args.latency_ms:g} ms per call; classification CPU "
          f"{classify_cpu:.2f}s for {len(live.instances)} instances")


if __name__ == "__main__":
    main()
