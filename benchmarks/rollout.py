"""Rollout makespan: `clumio-org apply` of a 2,000-account × 4-region organization in three waves, on the sandbox's
VirtualClock (simulated minutes cost no real time).

Prints each figure against its bound and exits 1 when one is missed:
  - the StackSet operations AWS ran (ListStackSetOperations) against the operations the plan scheduled (one per
    wave, + OU chunks of ≤ 50): equal, and each wave's count is ceil(its OUs / 50);
  - the simulated makespan against the lower bound the waves and the AWS concurrency rules imply, bound ≤ 1.1×.
    Lower bound: waves run one after another (each gated on Clumio); inside a wave, regions run in PARALLEL and each
    region deploys its n accounts in ceil(n / c) rounds of `instance_seconds`, where c is the wave's MaxConcurrent
    (STRICT_FAILURE_TOLERANCE: min(MaxConcurrent, FailureTolerance + 1), §A5); a connection cannot be verified
    before `connect_seconds` after its stack — so  Σ_waves ceil(n_w / c_w) × instance_seconds + connect_seconds;
  - apply ≥ 50× faster than one operation per (account, region), as Terraform's aws_cloudformation_stack_instance
    makes them: run, not modelled — on a fresh sandbox world with the same timing, a sample of such operations is
    submitted one after another (operations on one StackSet run one at a time, §A9), each polled to its end at the
    same poll interval; ONLY the count is extrapolated: instances × the sample's mean simulated seconds.

Run from the repository root:
  python benchmarks/rollout.py [--quick] [--accounts 2000] [--regions 4] [--poll-seconds 10]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import math
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from support.bounds import Bounds  # noqa: E402

from reconciler.cli.app import main  # noqa: E402
from reconciler.files.config import load_desired  # noqa: E402
from reconciler.sandbox.clock import VirtualClock  # noqa: E402
from reconciler.sandbox.server import start_in_thread  # noqa: E402
from reconciler.sandbox.world import World  # noqa: E402
from reconciler.sandbox.worldgen import MANAGEMENT_ACCOUNT, generate_world_spec  # noqa: E402

REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1"]
INSTANCE_SECONDS = 150.0
CONNECT_SECONDS = 30.0
OU_CHUNK = 50  # OrganizationalUnitIds per StackSet operation (§A)
MAKESPAN_BOUND = 1.1
SPEEDUP_BOUND = 50.0
TERRAFORM_STACK_SET = "terraform-style"


def _accounts(spec: dict[str, Any]) -> tuple[list[tuple[str, str, bool]], dict[str, list[str]]]:
    """(id, top-level OU name, active) for every member account, and the active accounts under each top OU."""
    found: list[tuple[str, str, bool]] = []

    def walk(ous: list[dict[str, Any]], top: str | None) -> None:
        for ou in ous:
            name = top or ou["name"]
            for acct in ou.get("accounts", []):
                found.append((acct["id"], name, acct.get("state", "ACTIVE") == "ACTIVE"))
            walk(ou.get("ous", []), name)

    walk(spec["ous"], None)
    by_top: dict[str, list[str]] = {}
    for account, top, active in found:
        if active:
            by_top.setdefault(top, []).append(account)
    return found, by_top


def desired_config(spec: dict[str, Any], regions: list[str], canary: list[str], critical_ou: str) -> dict[str, Any]:
    return {
        "version": 1,
        "organization": {"id": spec["organization"]["id"], "management_account": MANAGEMENT_ACCOUNT,
                         "home_region": "us-east-1"},
        "clumio": {"api_url": "https://us-west-2.api.clumio.com", "asset_types": ["EC2/EBS", "RDS", "S3"]},
        "stack_set": {"name": "clumio-org"},
        "targets": {"organization": True},
        "regions": regions,
        "rollout": {
            "region_concurrency": "parallel",
            "waves": [
                {"name": "canary", "accounts": canary, "max_concurrent": 1, "failure_tolerance": 0},
                {"name": "critical", "ous": [f"/{critical_ou}"], "max_concurrent": 50, "failure_tolerance": "5%",
                 "concurrency_mode": "soft"},
                {"name": "rest", "rest": True, "max_concurrent": "10%", "failure_tolerance": "10%",
                 "concurrency_mode": "soft"},
            ],
            "verify_connections": {"timeout_seconds": 1800},
        },
        "state": {"backend": "local", "path": "state.json"},
    }


def lower_bound(desired: Any, wave_accounts: list[int]) -> tuple[float, list[str]]:
    """Σ over waves of ceil(n / c) × instance_seconds + connect_seconds, with c per the AWS rules (§A5)."""
    total, lines = 0.0, []
    for spec, n in zip(desired.rollout.waves, wave_accounts, strict=True):
        concurrency = spec.max_concurrent.resolve(n, 1)
        if spec.concurrency_mode.value == "STRICT_FAILURE_TOLERANCE":
            concurrency = min(concurrency, spec.failure_tolerance.resolve(n, 0) + 1)
        rounds = math.ceil(n / concurrency)
        seconds = rounds * INSTANCE_SECONDS + CONNECT_SECONDS
        total += seconds
        lines.append(f"    {spec.name:<9} {n:>5} accounts, concurrency {concurrency:>4} → {rounds:>3} rounds "
                     f"× {INSTANCE_SECONDS:.0f}s + {CONNECT_SECONDS:.0f}s gate = {seconds:,.0f}s")
    return total, lines


def scheduled_operations(plan_file: Path) -> list[dict[str, Any]]:
    """The StackSet operations the plan scheduled (CreateStackSet is a call, not an operation AWS lists)."""
    data = json.loads(plan_file.read_text())
    return [op for op in data["operations"] if op["kind"] != "CreateStackSet"]


def check_operations(bounds: Bounds, aws_ops: int, planned: list[dict[str, Any]]) -> None:
    """AWS ran exactly the operations the plan scheduled, and each wave's count is its OU chunks of ≤ 50."""
    print("operations the plan scheduled (wave: kind × count, OUs targeted):")
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for op in planned:
        groups.setdefault((str(op["wave"]), op["kind"]), []).append(op)
    for (wave, kind), ops in groups.items():
        ous = {ou for op in ops for ou in ((op["targets"] or {}).get("organizational_unit_ids") or [])}
        chunks = max(1, math.ceil(len(ous) / OU_CHUNK))
        print(f"    {wave:<9} {kind:<22} × {len(ops)}  ({len(ous)} OUs → {chunks} chunk(s) of ≤ {OU_CHUNK})")
        bounds.equal(f"wave {wave} {kind} operations vs its OU chunks", len(ops), chunks)
    bounds.equal("StackSet operations AWS ran vs the plan's", aws_ops, len(planned))


def terraform_style(spec: dict[str, Any], regions: list[str], poll_seconds: float, sample: int
                    ) -> tuple[int, float]:
    """(operations run, mean simulated seconds each): one CreateStackInstances per (account, region), one after
    another, each polled to its end, on a fresh world with the same timing and an empty StackSet."""
    from reconciler.sandbox.template import render_clumio_template

    clock = VirtualClock()
    world = World.from_spec(copy.deepcopy(spec), clock)
    sandbox = start_in_thread(world)
    try:
        cfn = sandbox.client("cloudformation")
        world.clumio.issued.add((world.clumio.token, world.clumio.external_id))
        cfn.create_stack_set(
            StackSetName=TERRAFORM_STACK_SET, TemplateBody=render_clumio_template(world.clumio.current),
            PermissionModel="SERVICE_MANAGED", Capabilities=["CAPABILITY_NAMED_IAM"],
            AutoDeployment={"Enabled": False, "RetainStacksOnAccountRemoval": False},
            Parameters=[{"ParameterKey": "ClumioToken", "ParameterValue": world.clumio.token},
                        {"ParameterKey": "RoleExternalId", "ParameterValue": world.clumio.external_id}])
        found, _ = _accounts(spec)
        pairs = [(a, r) for a, _, active in found if active for r in regions]
        step = max(1, len(pairs) // sample)
        seconds = []
        for account, region in pairs[::step][:sample]:
            started = clock.now()
            op = cfn.create_stack_instances(
                StackSetName=TERRAFORM_STACK_SET, Regions=[region],
                DeploymentTargets={"OrganizationalUnitIds": ["r-gen0"], "Accounts": [account],
                                   "AccountFilterType": "INTERSECTION"})["OperationId"]
            while True:
                clock.advance(poll_seconds)
                status = cfn.describe_stack_set_operation(StackSetName=TERRAFORM_STACK_SET,
                                                          OperationId=op)["StackSetOperation"]["Status"]
                if status not in ("RUNNING", "QUEUED", "STOPPING"):
                    break
            if status != "SUCCEEDED":
                raise SystemExit(f"terraform-style operation for {account}/{region} ended {status}")
            seconds.append((clock.now() - started).total_seconds())
    finally:
        sandbox.stop()
    return len(seconds), sum(seconds) / len(seconds)


def run(accounts: int, regions: list[str], poll_seconds: float, sample: int, quick: bool = False) -> int:
    bounds = Bounds(quick)
    print(f"command: python benchmarks/rollout.py {shlex.join(sys.argv[1:])}".rstrip())
    spec = generate_world_spec(accounts, regions=regions, seed=11, instance_seconds=INSTANCE_SECONDS,
                               connect_seconds=CONNECT_SECONDS)
    found, by_top = _accounts(spec)
    critical_ou = sorted(by_top)[0]
    canary = sorted(a for a, top, active in found if active and top != critical_ou)[:2]
    clock = VirtualClock()
    sandbox = start_in_thread(World.from_spec(spec, clock))
    workdir = Path(tempfile.mkdtemp(prefix="clumio-org-rollout-"))
    config = workdir / "clumio-org.yaml"
    plan_file = workdir / "plan.json"
    config.write_text(yaml.safe_dump(desired_config(spec, regions, canary, critical_ou), sort_keys=False))
    desired = load_desired(config)
    active = sum(1 for _, _, ok in found if ok)
    critical_n = len(by_top[critical_ou])
    wave_accounts = [len(canary), critical_n, active - len(canary) - critical_n]

    saved_env = dict(os.environ)
    os.environ.update(sandbox.env())
    os.environ.update({"CI": "true", "CLUMIO_ORG_POLL_SECONDS": str(poll_seconds), "AWS_CONFIG_FILE": os.devnull,
                       "AWS_SHARED_CREDENTIALS_FILE": os.devnull})
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            planned_code = main(["plan", "-c", str(config), "--out", str(plan_file)], clock=clock)
        sim_start = clock.now()
        wall_start = time.monotonic()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            code = main(["apply", "-c", str(config), str(plan_file)], clock=clock)
        wall = time.monotonic() - wall_start
        makespan = (clock.now() - sim_start).total_seconds()
        cfn = sandbox.client("cloudformation")
        ops = [o for page in cfn.get_paginator("list_stack_set_operations").paginate(StackSetName="clumio-org")
               for o in page["Summaries"]]
        rows = [r for page in cfn.get_paginator("list_stack_instances").paginate(StackSetName="clumio-org")
                for r in page["Summaries"]]
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        sandbox.stop()
    if code != 0 or planned_code not in (0, 2):
        print(out.getvalue()[-4000:])
        print(f"plan exited {planned_code}, apply exited {code}")
        return 1
    instances = len(rows)
    current = sum(1 for r in rows if r["Status"] == "CURRENT")
    bound, bound_lines = lower_bound(desired, wave_accounts)
    summary = [line for line in out.getvalue().splitlines() if line[:6] in ("wave  ", "canary", "critic", "rest  ")]

    print(f"world: {accounts} accounts ({active} active) × {len(regions)} regions, 3 waves; instance "
          f"{INSTANCE_SECONDS:.0f}s, Clumio connect {CONNECT_SECONDS:.0f}s; poll {poll_seconds:g}s")
    print(f"stack instances deployed: {instances} ({current} CURRENT)")
    bounds.equal("stack instances CURRENT vs deployed", current, instances)
    check_operations(bounds, len(ops), scheduled_operations(plan_file))
    print(f"simulated makespan: {makespan:,.0f}s ({makespan / 3600:.2f} h); real time {wall:.1f}s")
    print("lower bound (waves × AWS concurrency rules):")
    print("\n".join(bound_lines))
    print(f"    total {bound:,.0f}s")
    bounds.ratio("simulated makespan s vs the lower bound", makespan, bound, MAKESPAN_BOUND, "s")
    ran, per_op = terraform_style(spec, regions, poll_seconds, sample)
    terraform = instances * per_op
    print(f"one operation per (account, region) (Terraform aws_cloudformation_stack_instance): ran {ran} one after "
          f"another, {per_op:,.0f} simulated s each; extrapolated by count only: {instances} operations = "
          f"{terraform:,.0f}s ({terraform / 86400:.1f} days)")
    bounds.at_least("apply speed-up over one operation per (account, region) ×", terraform / makespan,
                    SPEEDUP_BOUND, "×", 0, full_size=True)
    if summary:
        print("apply's summary:")
        print("\n".join("    " + line for line in summary))
    return bounds.exit_code()


def cli() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="200 accounts × 2 regions, 10 Terraform-style operations")
    parser.add_argument("--accounts", type=int, help="default 2000")
    parser.add_argument("--regions", type=int, help=f"how many of {REGIONS} (default and max {len(REGIONS)})")
    parser.add_argument("--poll-seconds", type=float, default=10.0, help="CLUMIO_ORG_POLL_SECONDS (simulated)")
    parser.add_argument("--terraform-sample", type=int, help="one-instance operations run (default 40)")
    args = parser.parse_args()
    regions = args.regions or (2 if args.quick else len(REGIONS))
    return run(args.accounts or (200 if args.quick else 2000), REGIONS[:max(1, min(regions, len(REGIONS)))],
               args.poll_seconds, args.terraform_sample or (10 if args.quick else 40), args.quick)


if __name__ == "__main__":
    sys.exit(cli())
