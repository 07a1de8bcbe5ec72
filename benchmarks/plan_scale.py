"""plan at scale: API calls and wall time of a plan against a generated sandbox org, and diff+schedule CPU and
memory at 100,000 instances.

Part 1 starts the sandbox in its own process (as real AWS would be: its CPU is not ours) with a generated world —
2,000 accounts × 17 regions in 3 levels of OUs, the Clumio StackSet already deployed everywhere, AWS page sizes
(Organizations 20, ListStackInstances 100, Clumio 100) and a per-call latency — and runs what `clumio-org plan`
runs: discovery, preflight, the Clumio template, make_plan. It prints:
  - API calls against the minimum the APIs allow (paginated calls: the fewest pages that hold the data; every other
    call: once), target ≤ 1.05×;
  - wall time against calls ÷ parallel lanes × latency, target ≤ 1.3×;
  - diff+schedule CPU at that size.
  - the guardrail reads (SCPs on 20 % of the OUs, a Control Tower landing zone): ListPoliciesForTarget +
    DescribePolicy against one per target listed (each targeted account, every OU and the root above them) plus one
    per distinct policy — exit 1 when over (docs/reference/guardrails.md §1).
Part 2 builds a 100,000-instance Live in memory (80 % deployed on an older template, 20 % missing, three waves)
and times make_plan's CPU (target ≤ 3 s) and its peak memory with tracemalloc (target ≤ 500 MB).

Run from the repository root:  python benchmarks/plan_scale.py [--accounts 2000] [--regions 17] [--latency-ms 50]
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import resource
import shlex
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from reconciler.core.desired import (  # noqa: E402
    Amount,
    ClumioSpec,
    ConcurrencyMode,
    Desired,
    ManagementAccountSpec,
    OrganizationSpec,
    RolloutSpec,
    StackSetSpec,
    StateSpec,
    TargetsSpec,
    WaveSpec,
)
from reconciler.core.keys import InstanceKey  # noqa: E402
from reconciler.core.live import (  # noqa: E402
    Account,
    AccountState,
    Connection,
    ConnectionStatus,
    Live,
    LiveInstance,
    LiveStackSet,
    OrganizationalUnit,
    OrgTree,
    PermissionModel,
    StackInstanceDetailedStatus,
    StackInstanceStatus,
)
from reconciler.core.ports import ClumioTemplate  # noqa: E402

LANES = 8  # discovery, the Organizations walk and the Clumio listing each read with pools of 8 workers
ORG_PAGE, CFN_PAGE, CLUMIO_PAGE = 20, 100, 100


def ratio_line(label: str, value: float, reference: float, target: float, unit: str = "") -> str:
    ratio = value / reference if reference else float("inf")
    verdict = "ok" if ratio <= target else "OVER TARGET"
    return (f"  {label:<44} {value:>10.2f}{unit} vs {reference:>10.2f}{unit}  ratio {ratio:5.3f} "
            f"(target ≤ {target}) {verdict}")


# ---------------------------------------------------------------------------------------------------------------
# Part 1: the sandbox at 2,000 accounts × 17 regions
# ---------------------------------------------------------------------------------------------------------------


def start_sandbox(world_file: Path) -> tuple[subprocess.Popen[str], dict[str, str]]:
    cmd = [sys.executable, "-m", "reconciler", "sandbox", "start", "--world", str(world_file), "--port", "0",
           "--time-scale", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    env: dict[str, str] = {}
    assert proc.stdout is not None
    deadline = time.time() + 300
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise SystemExit(f"sandbox exited before serving (code {proc.poll()})")
        if line.startswith("export "):
            name, _, value = line[len("export "):].strip().partition("=")
            env[name] = shlex.split(value)[0] if value else ""
            if name == "CLUMIO_API_URL":
                return proc, env
    proc.terminate()
    raise SystemExit("sandbox did not start within 300 s")


def point_environment_at(env: dict[str, str]) -> None:
    """Point this process at the sandbox as a user's shell would, hiding any real AWS profile and config."""
    os.environ.update(env)
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)
    os.environ["AWS_CONFIG_FILE"] = os.devnull
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"


def write_config(folder: Path, spec: dict[str, Any], regions: list[str]) -> Path:
    org = spec["organization"]
    config = {
        "version": 1,
        "organization": {"id": org["id"], "management_account": org["management_account"],
                         "home_region": "us-east-1"},
        "clumio": {"api_url": "https://us-west-2.api.clumio.com"},
        "targets": {"organization": True},
        "regions": regions,
        "rollout": {"region_concurrency": "parallel", "waves": [
            {"name": "canary", "sample": 20, "max_concurrent": 5, "failure_tolerance": 1},
            {"name": "rest", "rest": True, "max_concurrent": "25%", "failure_tolerance": "5%",
             "concurrency_mode": "soft"}]},
        "state": {"backend": "local", "path": "state.json"},
    }
    path = folder / "clumio-org.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def minimum_calls(observed: dict[str, int], live: Live) -> dict[str, int]:
    """The fewest calls that read the same data: paginated listings at the APIs' largest page sizes, every other
    call once."""
    tree = live.org
    nodes = [tree.root_id, *tree.ous]
    child_ous: Counter[str] = Counter(ou.parent_id for ou in tree.ous.values())
    child_accounts: Counter[str] = Counter(a.parent_id for a in tree.accounts.values())
    per_set: Counter[str] = Counter(k.stack_set for k in live.instances)
    paged = {
        "organizations.ListOrganizationalUnitsForParent":
            sum(max(1, math.ceil(child_ous[n] / ORG_PAGE)) for n in nodes),
        "organizations.ListAccountsForParent": sum(max(1, math.ceil(child_accounts[n] / ORG_PAGE)) for n in nodes),
        "cloudformation.ListStackInstances": sum(max(1, math.ceil(c / CFN_PAGE)) for c in per_set.values()) or 1,
        "clumio.ListConnections": max(1, math.ceil(len(live.connections) / CLUMIO_PAGE)),
    }
    return {name: paged.get(name, 1) for name in observed}


POLICY_SHARE = 5  # every 5th OU carries an SCP besides FullAWSAccess (20 % of OUs)


def guardrail_section(spec: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """SCPs on every 5th OU of the world (four distinct policies, cycled) and a landing zone governing two regions;
    returns the world's ``guardrails`` section and the number of distinct policies in force (FullAWSAccess too)."""
    regions = sorted((spec.get("regions") or {}).get("enabled") or ["us-east-1"])
    docs = [
        {"Effect": "Deny", "NotAction": ["iam:*", "sts:*"], "Resource": "*",
         "Condition": {"StringNotEquals": {"aws:RequestedRegion": regions[: max(1, len(regions) - 2)]}}},
        {"Effect": "Deny", "Action": "iam:CreateRole", "Resource": "*",
         "Condition": {"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/stacksets-exec-*"}}},
        {"Effect": "Deny", "Action": "organizations:LeaveOrganization", "Resource": "*"},
        {"Effect": "Deny", "Action": "sns:CreateTopic", "Resource": "arn:aws:sns:*:*:Clumio*"},
    ]
    policies = [{"name": f"bench-scp-{i}", "content": {"Version": "2012-10-17", "Statement": [doc]}}
                for i, doc in enumerate(docs)]
    names: list[str] = []

    def walk(ous: list[dict[str, Any]], prefix: str) -> None:
        for ou in ous:
            path = f"{prefix}/{ou['name']}"
            names.append(path)
            walk(ou.get("ous") or [], path)

    walk(spec.get("ous") or [], "")
    chosen = names[::POLICY_SHARE]
    attachments = {path: [policies[i % len(policies)]["name"]] for i, path in enumerate(chosen)}
    used = {n for ids in attachments.values() for n in ids}
    section = {"policies": policies, "attachments": attachments,
               "control_tower": {"version": "3.3", "governed_regions": regions[:2]}}
    return section, len(used) + 1


def guardrail_minimum(live: Live, distinct_policies: int) -> tuple[int, int]:
    """(targets listed, distinct policies): every active member account, and the root and each OU above one."""
    tree = live.org
    members = [a for a in tree.accounts.values()
               if a.id != tree.management_account and a.state is AccountState.ACTIVE]
    nodes: set[str] = set()
    for account in members:
        nodes.update(tree.ancestors(account.id))
    return len(members) + len(nodes), distinct_policies


def part_one(accounts: int, n_regions: int, latency_ms: float) -> bool:
    from reconciler.config import load_desired
    from reconciler.discover.live import discover
    from reconciler.discover.preflight import preflight
    from reconciler.plan.build import make_plan
    from reconciler.providers.factory import build_ports
    from reconciler.sandbox.world import ALL_REGIONS
    from reconciler.sandbox.worldgen import generate_world_spec

    # The home region (us-east-1) must be among the enabled regions.
    regions = sorted(["us-east-1", *sorted(r for r in ALL_REGIONS if r != "us-east-1")][:n_regions])
    spec = generate_world_spec(accounts, regions=regions, ou_depth=3, fanout=4, deployed=True,
                               faults={"latency_ms": latency_ms})
    spec["guardrails"], distinct_policies = guardrail_section(spec)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        world_file = folder / "world.yaml"
        world_file.write_text(yaml.safe_dump(spec, sort_keys=False))
        config = write_config(folder, spec, regions)
        print(f"Part 1: sandbox world {accounts} accounts × {len(regions)} regions, 3 OU levels (fanout 4), "
              f"{latency_ms:g} ms per call; starting the sandbox …", flush=True)
        proc, env = start_sandbox(world_file)
        try:
            point_environment_at(env)
            desired = load_desired(config)
            # Warm-up: botocore loads its service models once per process; that is not an API cost.
            build_ports(desired)
            ports = build_ports(desired)
            wall0 = time.perf_counter()
            live = discover(desired, ports, guardrails=True)
            preflight(desired, ports, live)
            template = ports.clumio.org_template(desired.clumio.asset_types)
            wall = time.perf_counter() - wall0
            gc.collect()
            cpu0 = time.process_time()
            plan = make_plan(desired, live, template=template)
            cpu = time.process_time() - cpu0
            phases = phase_breakdown(desired, live, latency_ms)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    observed = ports.api_calls.snapshot()
    minimum = minimum_calls(observed, live)
    targets, policies = guardrail_minimum(live, distinct_policies)
    minimum.update({k: v for k, v in {"organizations.ListPoliciesForTarget": targets,
                                      "organizations.DescribePolicy": policies}.items() if k in minimum})
    calls, least = sum(observed.values()), sum(minimum.values())
    print(f"  read {len(live.org.accounts)} accounts, {len(live.org.ous)} OUs, {len(live.instances)} instances, "
          f"{len(live.connections)} connections; plan: {plan.summary()}, {len(plan.operations)} operations")
    print("  calls by operation (made / minimum):")
    for name in sorted(observed):
        print(f"    {name:<52} {observed[name]:>5} / {minimum[name]:>5}")
    print(ratio_line("API calls vs minimum the APIs allow", calls, least, 1.05))
    ideal = calls / LANES * latency_ms / 1000
    print(ratio_line(f"wall s vs calls ÷ {LANES} lanes × {latency_ms:g} ms", wall, ideal, 1.3, "s"))
    print(f"  make_plan (expand+diff+schedule+fingerprint) CPU at {len(live.instances)} instances: {cpu:.2f}s")
    print("  where the wall time goes (each read again alone, fresh ports):")
    for line in phases:
        print("    " + line)
    read = observed.get("organizations.ListPoliciesForTarget", 0) + observed.get("organizations.DescribePolicy", 0)
    counts = plan.guardrails.counts()
    print(f"  guardrails: SCPs on {len(spec['guardrails']['attachments'])} of {len(live.org.ous)} OUs; the plan "
          f"names {counts['will_fail']} (account, region) pairs that will fail, {counts['unknown']} unknown")
    ok = read <= targets + policies
    print(f"  {'guardrail reads vs one per target + one per distinct policy':<60} {read:>6} vs {targets} + "
          f"{policies} = {targets + policies}  {'ok' if ok else 'OVER THE MINIMUM'}")
    return ok


def phase_breakdown(desired: Desired, live: Live, latency_ms: float) -> list[str]:
    """Time each read of discovery on its own, to show which side (our calls, or the server) costs the time."""
    from reconciler.providers.factory import build_ports

    lines: list[str] = []

    def timed(label: str, fn: Any, lanes: int) -> None:
        ports = build_ports(desired)
        t0 = time.perf_counter()
        fn(ports)
        wall = time.perf_counter() - t0
        calls = sum(ports.api_calls.snapshot().values())
        ideal = calls / lanes * latency_ms / 1000
        lines.append(f"{label:<40} {calls:>4} calls  {wall:7.2f}s  (calls ÷ {lanes} × latency = {ideal:.2f}s, "
                     f"{wall / calls * 1000:.0f} ms per call)")

    regions = sorted(desired.regions)
    timed("Organizations tree walk", lambda p: p.org.read_tree(), LANES)
    timed("ListStackInstances, per region", lambda p: p.stacksets.list_instances(desired.stack_set.name, regions),
          LANES)
    first = sorted(live.org.accounts)[:100]
    timed("Clumio ListConnections, 100 accounts", lambda p: p.clumio.list_connections(first), 1)
    return lines


# ---------------------------------------------------------------------------------------------------------------
# Part 2: 100,000 instances in memory
# ---------------------------------------------------------------------------------------------------------------


def big_world(n_accounts: int, regions: list[str]) -> tuple[Desired, Live, ClumioTemplate]:
    root = "r-big0"
    ous: dict[str, OrganizationalUnit] = {}
    leaves: list[str] = []
    for a in range(4):
        top = f"ou-big0-1{a:07d}"
        ous[top] = OrganizationalUnit(top, f"U{a}", root)
        for b in range(4):
            mid = f"ou-big0-2{a:03d}{b:04d}"
            ous[mid] = OrganizationalUnit(mid, f"U{a}-{b}", top)
            for c in range(4):
                leaf = f"ou-big0-3{a:02d}{b:02d}{c:03d}"
                ous[leaf] = OrganizationalUnit(leaf, f"U{a}-{b}-{c}", mid)
                leaves.append(leaf)
    mgmt = "900000000000"
    accounts = {mgmt: Account(mgmt, "management", AccountState.ACTIVE, root)}
    for i in range(n_accounts):
        aid = f"{100000000000 + i:012d}"
        state = AccountState.SUSPENDED if i % 100 == 99 else AccountState.ACTIVE
        accounts[aid] = Account(aid, f"a{i}", state, leaves[i % len(leaves)])
    tree = OrgTree("o-big0000001", mgmt, root, ous, accounts)

    def template(version: str) -> ClumioTemplate:
        import hashlib

        body = f'Metadata:\n  ClumioTemplateVersion: "{version}"\nResources: {{}}\n'
        return ClumioTemplate(version, body, hashlib.sha256(body.encode()).hexdigest())

    old, new = template("24.3"), template("24.4")
    spec = StackSetSpec()
    desired = Desired(
        organization=OrganizationSpec("o-big0000001", mgmt, "us-east-1"),
        clumio=ClumioSpec(api_url="https://clumio.invalid"), stack_set=spec,
        targets=TargetsSpec(organization=True), regions=tuple(regions),
        rollout=RolloutSpec(waves=(
            WaveSpec("canary", sample=20, max_concurrent=Amount(count=5), failure_tolerance=Amount(count=1)),
            WaveSpec("prod", ous=("/U0",), max_concurrent=Amount(percent=25), failure_tolerance=Amount(percent=5)),
            WaveSpec("rest", rest=True, max_concurrent=Amount(percent=50), failure_tolerance=Amount(percent=10),
                     concurrency_mode=ConcurrencyMode.SOFT_FAILURE_TOLERANCE))),
        management_account=ManagementAccountSpec(), state=StateSpec(), digest="b" * 64)
    ss = LiveStackSet(spec.name, "id", "ACTIVE", PermissionModel.SERVICE_MANAGED, spec.description, old.body,
                      {**spec.template_parameters(), "ClumioToken": "****", "RoleExternalId": "****"},
                      tuple(sorted(spec.capabilities)), (), True, False, False)
    instances: dict[InstanceKey, LiveInstance] = {}
    connections: dict[tuple[str, str], Connection] = {}
    for i, aid in enumerate(sorted(a for a in accounts if a != mgmt)):
        if i % 5 == 4:
            continue  # 20 % of accounts not deployed yet
        for region in regions:
            key = InstanceKey(spec.name, aid, region)
            instances[key] = LiveInstance(key, StackInstanceStatus.CURRENT, StackInstanceDetailedStatus.SUCCEEDED)
            connections[(aid, region)] = Connection(f"{aid}_{region}", aid, region, ConnectionStatus.CONNECTED, "24.3")
    live = Live(tree, {spec.name: ss}, instances, connections)
    return desired, live, new


def part_two(n_accounts: int, n_regions: int) -> None:
    from reconciler.plan.diff import diff
    from reconciler.plan.expand import expand
    from reconciler.plan.schedule import schedule
    from reconciler.sandbox.world import ALL_REGIONS

    regions = sorted(ALL_REGIONS)[:n_regions]
    desired, live, template = big_world(n_accounts, regions)
    print(f"\nPart 2: in-memory Live, {n_accounts} accounts × {len(regions)} regions = "
          f"{n_accounts * len(regions)} desired instances ({len(live.instances)} deployed on template 24.3)")
    gc.collect()
    t0 = time.process_time()
    exp = expand(desired, live.org)
    t1 = time.process_time()
    d = diff(desired, live, exp, template)
    t2 = time.process_time()
    sched = schedule(desired, live, exp, d, "0" * 16)
    t3 = time.process_time()
    print(f"  expand {t1 - t0:.2f}s, diff {t2 - t1:.2f}s, schedule {t3 - t2:.2f}s: {len(d.changes)} changes, "
          f"{len(sched.operations)} operations")
    print(ratio_line("diff+schedule CPU s vs target 3 s", t3 - t1, 3.0, 1.0, "s"))
    from reconciler.plan.build import make_plan

    gc.collect()
    c0 = time.process_time()
    make_plan(desired, live, template=template)
    print(f"  whole make_plan (expand, diff, schedule, fingerprint) CPU: {time.process_time() - c0:.2f}s")
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    plan = make_plan(desired, live, template=template)
    peak = (tracemalloc.get_traced_memory()[1] - base) / 2**20
    tracemalloc.stop()
    print(ratio_line("make_plan peak traced memory MB vs 500 MB", peak, 500.0, 1.0, "MB"))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  process max RSS (world + plan + interpreter): {rss:.0f} MB; plan holds {len(plan.changes)} changes")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--regions", type=int, default=17)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--big-accounts", type=int, default=5883, help="part 2 accounts (× 17 regions ≈ 100,000)")
    parser.add_argument("--skip-sandbox", action="store_true", help="run part 2 only")
    args = parser.parse_args()
    print("command: python " + " ".join(shlex.quote(a) for a in sys.argv))
    ok = part_one(args.accounts, args.regions, args.latency_ms) if not args.skip_sandbox else True
    part_two(args.big_accounts, args.regions)
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
