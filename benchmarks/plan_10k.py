"""10,000 accounts × 17 regions (170,000 stack instances, OUs 4 levels deep): a no-op `clumio-org plan` against the
sandbox, beside the peer baselines run against the same sandbox in the same run.

The sandbox runs in its own process with a generated world (reconciler.sandbox.worldgen, fanout 4: 340 OUs, 1 %
suspended accounts, SCPs on 20 % of the OUs, a Control Tower landing zone), the Clumio StackSet already deployed to
every account in every region exactly as the config asks, AWS page sizes and 50 ms on every AWS and Clumio call.
`clumio-org plan --detailed-exitcode` runs as a process of its own (benchmarks/support/plan_process.py: the CLI's
entry point plus a call counter), so its wall is the whole process — interpreter start-up, imports, discovery, plan,
rendering — and its peak RSS is that process's alone (wait4). Bounds (issue #16):
  - the plan exits 0 (nothing to do);
  - API calls ≤ 1.05 × the minimum the APIs allow;
  - plan wall ≤ 1.3 × Σ calls ÷ lanes × latency, with the lanes the tool really uses (its pool sizes, read from
    the product), read by read;
  - plan process peak RSS ≤ 400 MB;
  - ≥ 30× faster than a Terraform-style refresh: one DescribeStackInstance per (account, region) in state, on
    Terraform's default 10 parallel lanes. 170,000 calls at 50 ms take over 14 minutes, so a sample of them is run
    (spread over accounts and regions) and ONLY its count is extrapolated: wall × instances ÷ sample;
  - ≥ 3× faster than a naive script, run in full: the OU tree walked recursively (ListOrganizationalUnitsForParent
    and ListAccountsForParent, one call after another) and one unfiltered ListStackInstances listing.
Also printed: the time to generate, build and serve the world, and the tool's per-region split.

Run from the repository root:  python benchmarks/plan_10k.py [--quick] [--accounts 10000] [--regions 17]
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from support.bounds import Bounds, compiled_as_installed, machine_line  # noqa: E402
from support.plan_figures import World, guardrail_bound, report_plan, serve_world  # noqa: E402
from support.served import run_plan  # noqa: E402

TERRAFORM_LANES = 10  # terraform plan/apply -parallelism default
TERRAFORM_BOUND = 30.0
NAIVE_BOUND = 3.0
RSS_BOUND_MB = 400.0
STACK_SET = "clumio-org"


def _client(world: World, service: str, lanes: int = 10) -> Any:
    import boto3
    from botocore.config import Config

    env = world.served.env
    return boto3.session.Session().client(
        service, endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1",
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        config=Config(max_pool_connections=lanes))


def member_accounts(spec: dict[str, Any]) -> list[str]:
    """Every member account (suspended ones too: their instances are in Terraform's state like any other)."""
    found: list[str] = []

    def walk(ous: list[dict[str, Any]]) -> None:
        for ou in ous:
            found.extend(account["id"] for account in ou.get("accounts", []))
            walk(ou.get("ous") or [])

    walk(spec.get("ous") or [])
    return found


def terraform_refresh(world: World, sample: int) -> tuple[int, int, float]:
    """(calls in state, calls run, wall of the run): DescribeStackInstance for a sample of the (account, region)
    pairs Terraform's state would hold (one aws_cloudformation_stack_instance each), on Terraform's 10 lanes."""
    pairs = [(account, region) for account in member_accounts(world.spec) for region in world.regions]
    step = max(1, len(pairs) // sample)
    chosen = pairs[::step][:sample]
    cfn = _client(world, "cloudformation", TERRAFORM_LANES)
    cfn.describe_stack_set(StackSetName=STACK_SET)  # connection and model warm-up, not timed

    def read(pair: tuple[str, str]) -> None:
        cfn.describe_stack_instance(StackSetName=STACK_SET, StackInstanceAccount=pair[0],
                                    StackInstanceRegion=pair[1])

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=TERRAFORM_LANES) as pool:
        list(pool.map(read, chosen))
    return len(pairs), len(chosen), time.perf_counter() - started


def naive_script(world: World) -> tuple[int, int, float]:
    """(accounts read, instances read, wall): a hand-written script's reads, one call after another."""
    org = _client(world, "organizations")
    cfn = _client(world, "cloudformation")
    started = time.perf_counter()
    root = org.list_roots()["Roots"][0]["Id"]
    accounts: list[str] = []

    def walk(parent: str) -> None:
        for page in org.get_paginator("list_accounts_for_parent").paginate(ParentId=parent):
            accounts.extend(a["Id"] for a in page["Accounts"])
        for page in org.get_paginator("list_organizational_units_for_parent").paginate(ParentId=parent):
            for ou in page["OrganizationalUnits"]:
                walk(ou["Id"])

    walk(root)
    instances = [row for page in cfn.get_paginator("list_stack_instances").paginate(StackSetName=STACK_SET)
                 for row in page["Summaries"]]
    return len(accounts), len(instances), time.perf_counter() - started


def run(accounts: int, n_regions: int, ou_depth: int, latency_ms: float, sample: int, quick: bool = False) -> int:
    bounds = Bounds(quick)
    print(machine_line())
    print(compiled_as_installed())
    print(f"world: {accounts} accounts × {n_regions} regions, OUs {ou_depth} levels deep (fanout 4), no-op, "
          f"{latency_ms:g} ms per AWS and Clumio call", flush=True)
    with tempfile.TemporaryDirectory(prefix="clumio-org-bench-") as tmp:
        world = serve_world(Path(tmp), accounts, n_regions, ou_depth=ou_depth, latency_ms=latency_ms, noop=True)
        try:
            status = world.served.status()
            print(f"  world generated in {world.generate_seconds:.1f}s; sandbox built and serving in "
                  f"{world.served.start_seconds:.1f}s ({status['organization']['accounts']} accounts, "
                  f"{status['organization']['ous']} OUs)", flush=True)
            print("the tool: clumio-org plan --detailed-exitcode (a process of its own)", flush=True)
            plan = run_plan(world.served, world.config)
            figures = report_plan(bounds, world, plan, latency_ms, expect_exit=0, cpu_bound=False,
                                  rss_bound_mb=RSS_BOUND_MB, label=f"{accounts}×{n_regions}")
            guardrail_bound(bounds, f"{accounts}×{n_regions}", world, plan.calls)
            print(f"peer: Terraform-style refresh, DescribeStackInstance per (account, region), "
                  f"{TERRAFORM_LANES} lanes", flush=True)
            in_state, ran, tf_wall = terraform_refresh(world, sample)
            tf_total = tf_wall * in_state / ran
            print(f"  ran {ran} of {in_state} calls in {tf_wall:.1f}s ({tf_wall / ran * 1000:.1f} ms per call on "
                  f"{TERRAFORM_LANES} lanes); extrapolated by count only: {tf_total:,.0f}s for all {in_state}")
            print("peer: naive script, recursive ListAccountsForParent + unfiltered ListStackInstances", flush=True)
            n_accounts, n_instances, naive_wall = naive_script(world)
            print(f"  read {n_accounts} accounts and {n_instances} instances in {naive_wall:.1f}s (run in full)")
        finally:
            world.served.stop()
    wall = figures["wall"]
    print("side by side (wall seconds, this run):")
    print(f"  clumio-org plan (no-op, whole process)   {wall:10.1f}s")
    print(f"  Terraform-style refresh (extrapolated)   {tf_total:10.1f}s")
    print(f"  naive script                             {naive_wall:10.1f}s")
    bounds.at_least("plan speed-up over the Terraform-style refresh ×", tf_total / wall, TERRAFORM_BOUND, "×", 1,
                    full_size=True)
    bounds.at_least("plan speed-up over the naive script ×", naive_wall / wall, NAIVE_BOUND, "×", 1, full_size=True)
    return bounds.exit_code()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="300 accounts × 4 regions, OUs 3 levels deep, 200 Terraform calls")
    parser.add_argument("--accounts", type=int)
    parser.add_argument("--regions", type=int)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--terraform-sample", type=int, help="DescribeStackInstance calls run (default 2000)")
    args = parser.parse_args(argv)
    print(f"command: python benchmarks/plan_10k.py {shlex.join(sys.argv[1:] if argv is None else argv)}".rstrip())
    accounts = args.accounts or (300 if args.quick else 10_000)
    regions = args.regions or (4 if args.quick else 17)
    sample = args.terraform_sample or (200 if args.quick else 2000)
    return run(accounts, regions, 3 if args.quick else 4, args.latency_ms, sample, args.quick)


if __name__ == "__main__":
    sys.exit(main())
