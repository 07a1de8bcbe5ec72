"""Rollout makespan: `clumio-org apply` of a 2,000-account × 4-region organization in three waves, on the sandbox's
VirtualClock (simulated minutes cost no real time).

Prints:
  - the number of StackSet operations the apply made (ListStackSetOperations);
  - the simulated makespan against the lower bound the waves and the AWS concurrency rules imply, target ≤ 1.1×.
    Lower bound: waves run one after another (each gated on Clumio); inside a wave, regions run in PARALLEL and each
    region deploys its n accounts in ceil(n / c) rounds of `instance_seconds`, where c is the wave's MaxConcurrent
    (STRICT_FAILURE_TOLERANCE: min(MaxConcurrent, FailureTolerance + 1), §A5); a connection cannot be verified
    before `connect_seconds` after its stack — so  Σ_waves ceil(n_w / c_w) × instance_seconds + connect_seconds;
  - the makespan of one operation per (account, region), as Terraform's aws_cloudformation_stack_set_instance makes
    them, with the same timing model: operations on one StackSet run one at a time (§A9), each deploying one stack
    instance in `instance_seconds` — N × instance_seconds; target: apply ≥ 50× faster.

Run from the repository root:  python benchmarks/rollout.py [--accounts 2000] [--regions 4] [--poll-seconds 10]
"""

from __future__ import annotations

import argparse
import contextlib
import io
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

import reconciler.apply.timing as apply_timing  # noqa: E402
from reconciler.cli.app import main  # noqa: E402
from reconciler.config import load_desired  # noqa: E402
from reconciler.sandbox.clock import VirtualClock  # noqa: E402
from reconciler.sandbox.server import start_in_thread  # noqa: E402
from reconciler.sandbox.world import World  # noqa: E402
from reconciler.sandbox.worldgen import MANAGEMENT_ACCOUNT, generate_world_spec  # noqa: E402

REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1"]
INSTANCE_SECONDS = 150.0
CONNECT_SECONDS = 30.0


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


def run(accounts: int, regions: list[str], poll_seconds: float) -> int:
    spec = generate_world_spec(accounts, regions=regions, seed=11, instance_seconds=INSTANCE_SECONDS,
                               connect_seconds=CONNECT_SECONDS)
    found, by_top = _accounts(spec)
    critical_ou = sorted(by_top)[0]
    canary = sorted(a for a, top, active in found if active and top != critical_ou)[:2]
    clock = VirtualClock()
    sandbox = start_in_thread(World.from_spec(spec, clock))
    workdir = Path(tempfile.mkdtemp(prefix="clumio-org-rollout-"))
    config = workdir / "clumio-org.yaml"
    config.write_text(yaml.safe_dump(desired_config(spec, regions, canary, critical_ou), sort_keys=False))
    desired = load_desired(config)
    active = sum(1 for _, _, ok in found if ok)
    critical_n = len(by_top[critical_ou])
    wave_accounts = [len(canary), critical_n, active - len(canary) - critical_n]

    saved_env = dict(os.environ)
    os.environ.update(sandbox.env())
    os.environ.update({"CI": "true", "CLUMIO_ORG_POLL_SECONDS": str(poll_seconds), "AWS_CONFIG_FILE": os.devnull,
                       "AWS_SHARED_CREDENTIALS_FILE": os.devnull})
    apply_timing.default_sleep = lambda seconds: clock.advance(seconds)
    apply_timing.default_now = lambda: clock.now().timestamp()
    out = io.StringIO()
    try:
        sim_start = clock.now()
        wall_start = time.monotonic()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            code = main(["apply", "-c", str(config), "--auto-approve"])
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
    if code != 0:
        print(out.getvalue()[-4000:])
        print(f"apply exited {code}")
        return 1
    instances = len(rows)
    current = sum(1 for r in rows if r["Status"] == "CURRENT")
    bound, bound_lines = lower_bound(desired, wave_accounts)
    terraform = instances * INSTANCE_SECONDS
    ratio_bound = makespan / bound
    speedup = terraform / makespan
    summary = [line for line in out.getvalue().splitlines() if line[:6] in ("wave  ", "canary", "critic", "rest  ")]

    print(f"command: python benchmarks/rollout.py {shlex.join(sys.argv[1:])}".rstrip())
    print(f"world: {accounts} accounts ({active} active) × {len(regions)} regions, 3 waves; instance "
          f"{INSTANCE_SECONDS:.0f}s, Clumio connect {CONNECT_SECONDS:.0f}s; poll {poll_seconds:g}s")
    print(f"stack instances deployed: {instances} ({current} CURRENT)")
    print(f"StackSet operations: {len(ops)} (one CreateStackInstances per wave; CreateStackSet has none)")
    print(f"simulated makespan: {makespan:,.0f}s ({makespan / 3600:.2f} h); real time {wall:.1f}s")
    print("lower bound (waves × AWS concurrency rules):")
    print("\n".join(bound_lines))
    print(f"    total {bound:,.0f}s")
    print(f"makespan / lower bound: {ratio_bound:.3f}×  (target ≤ 1.1×) {'OK' if ratio_bound <= 1.1 else 'MISSED'}")
    print(f"one operation per (account, region) (Terraform aws_cloudformation_stack_set_instance): "
          f"{instances} operations × {INSTANCE_SECONDS:.0f}s = {terraform:,.0f}s ({terraform / 86400:.1f} days)")
    print(f"apply is {speedup:,.0f}× faster  (target ≥ 50×) {'OK' if speedup >= 50 else 'MISSED'}")
    if summary:
        print("apply's summary:")
        print("\n".join("    " + line for line in summary))
    return 0 if ratio_bound <= 1.1 and speedup >= 50 else 2


def cli() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--regions", type=int, default=4, help=f"how many of {REGIONS} (max {len(REGIONS)})")
    parser.add_argument("--poll-seconds", type=float, default=10.0, help="CLUMIO_ORG_POLL_SECONDS (simulated)")
    args = parser.parse_args()
    return run(args.accounts, REGIONS[:max(1, min(args.regions, len(REGIONS)))], args.poll_seconds)


if __name__ == "__main__":
    sys.exit(cli())
