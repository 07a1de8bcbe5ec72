"""The sandbox in its own process (as real AWS would be: its CPU is not ours), generated worlds and configs, the
tool's lanes (read from the product), and one `clumio-org plan` process measured from the outside."""

from __future__ import annotations

import json
import math
import os
import shlex
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
ORG_PAGE, CFN_PAGE, CLUMIO_PAGE = 20, 100, 100  # the sandbox's (and AWS's, Clumio's) largest page sizes


def tool_lanes(regions: int, scp_chains: int | None = None, full_access_pages: int = 0,
               scp_listings: int = 0) -> dict[str, tuple[float, str]]:
    """Per paginated read, the parallel lanes the tool really uses (its own pool sizes), and where that is set.
    ``scp_chains``: how many ListTargetsForPolicy chains run at once (one per SCP but FullAWSAccess), when known;
    with ``full_access_pages`` of FullAWSAccess's one chain among the ``scp_listings`` ListTargetsForPolicy calls,
    the width is those calls ÷ the rounds the longest chain takes. Every other call is made once (ListPolicies: one
    chain), on one lane."""
    from reconciler.discover import guardrails, live
    from reconciler.providers.aws import organizations, stacksets

    tree = (organizations.TREE_WORKERS, "providers.aws.organizations.TREE_WORKERS")
    where = f"{guardrails.__name__.removeprefix('reconciler.')}.WORKERS"
    policies = (guardrails.WORKERS, where)
    chains: tuple[float, str] = policies
    if scp_chains is not None:
        chains = (max(1, min(guardrails.WORKERS, scp_chains)), f"min({where}, {scp_chains} SCP target lists)")
    if full_access_pages and scp_listings:
        rounds = max(full_access_pages, math.ceil(scp_listings / guardrails.WORKERS))
        chains = (scp_listings / rounds, f"FullAWSAccess's {full_access_pages} pages in one chain")
    return {
        "organizations.ListTargetsForPolicy": chains,
        "organizations.ListOrganizationalUnitsForParent": tree,
        "organizations.ListAccountsForParent": tree,
        "cloudformation.ListStackInstances": (min(stacksets.REGION_WORKERS, regions),
                                              f"min(providers.aws.stacksets.REGION_WORKERS, {regions} regions)"),
        "clumio.ListConnections": (live.CONNECTION_LANES, "discover.live.CONNECTION_LANES"),
        "organizations.ListPoliciesForTarget": policies,
        "organizations.DescribePolicy": policies,
    }


def network_bound(calls: dict[str, int], lanes: dict[str, tuple[float, str]], latency_s: float
                  ) -> tuple[float, float, list[str]]:
    """Σ over reads of calls ÷ lanes × latency: (seconds, the lanes that makes overall, one line per read)."""
    seconds, lines = 0.0, []
    for name in sorted(calls, key=lambda n: -calls[n]):
        width, source = lanes.get(name, (1, "made once, one lane"))
        part = calls[name] / width * latency_s
        seconds += part
        lines.append(f"{name:<50} {calls[name]:>6} calls ÷ {width:>2g} lanes × {latency_s * 1000:g} ms = "
                     f"{part:6.2f}s  ({source})")
    overall = sum(calls.values()) * latency_s / seconds if seconds else 1.0
    return seconds, overall, lines


# ---------------------------------------------------------------------------------------------------------------
# Worlds and configs
# ---------------------------------------------------------------------------------------------------------------


def regions_with_home(count: int) -> list[str]:
    from reconciler.sandbox.world import ALL_REGIONS

    return sorted(["us-east-1", *sorted(r for r in ALL_REGIONS if r != "us-east-1")][:count])


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


def walk_spec(spec: dict[str, Any]) -> tuple[dict[str, int], dict[str, int], list[tuple[str, list[str]]]]:
    """(child OUs per node, accounts per node, [(active member account, its ancestors)]) of a world spec."""
    root = spec["organization"].get("root_id", "r-gen0")
    child_ous: Counter[str] = Counter()
    child_accounts: Counter[str] = Counter({root: 1})  # the management account sits under the root
    members: list[tuple[str, list[str]]] = []

    def walk(ous: list[dict[str, Any]], parent: str, above: list[str]) -> None:
        for ou in ous:
            node = f"{parent}/{ou['name']}"
            child_ous[parent] += 1
            child_ous.setdefault(node, 0)
            for account in ou.get("accounts", []):
                child_accounts[node] += 1
                if account.get("state", "ACTIVE") == "ACTIVE":
                    members.append((account["id"], [*above, node]))
            walk(ou.get("ous") or [], node, [*above, node])

    child_ous.setdefault(root, 0)
    walk(spec.get("ous") or [], root, [root])
    return dict(child_ous), dict(child_accounts), members


@dataclass(frozen=True)
class ScpReads:
    """The SCP reads of a world: calls by operation, which way (by policy / per target), and how many pages of
    FullAWSAccess's target list (one chain, on one lane) they include."""

    calls: dict[str, int]
    way: str
    full_access_pages: int = 0


def guardrail_minimum(spec: dict[str, Any], distinct_policies: int, *, fewest: str = "calls") -> ScpReads:
    """The Organizations calls that tell the SCPs attached to every target (each active member account, every OU
    and the root above one) and each policy in force (docs/reference/guardrails.md §1):

    - per target: one ListPoliciesForTarget per target;
    - by policy: ⌈SCPs ÷ 20⌉ ListPolicies, ⌈targets ÷ 20⌉ ListTargetsForPolicy per SCP but FullAWSAccess (which AWS
      attaches everywhere; a target no other SCP names holds it alone, since every target holds one), the root's
      ListPoliciesForTarget (are SCPs in force?), and for the targets another SCP names either their own listing or
      FullAWSAccess's target list (⌈every root, OU and account ÷ 20⌉ pages in one chain);

    either way one DescribePolicy per distinct policy in force. ``fewest="calls"`` is the minimum the APIs allow;
    ``fewest="rounds"`` is the tool's rule, which pages FullAWSAccess only when its one chain takes no more rounds
    than the listings on the tool's lanes (more calls in between, but a shorter wait)."""
    from reconciler.discover import guardrails

    child_ous, child_accounts, members = walk_spec(spec)
    root = spec["organization"].get("root_id", "r-gen0")
    needed = {a for a, _ in members} | {node for _, above in members for node in above}
    per_target = ScpReads({"organizations.ListPoliciesForTarget": len(needed),
                           "organizations.DescribePolicy": distinct_policies}, "per target")
    section = spec.get("guardrails") or {}
    if not section:
        return per_target
    named: dict[str, set[str]] = {}  # SCP name → the nodes it is attached to
    for target, names in (section.get("attachments") or {}).items():
        node = root if target == "root" else (target if target.isdigit() else root + target)
        for name in names:
            named.setdefault(name, set()).add(node)
    scps = len(section.get("policies") or []) + 1
    unsure = len(({n for nodes in named.values() for n in nodes} & needed) - {root})
    org_pages = math.ceil((len(set(child_ous) | set(child_accounts)) + sum(child_accounts.values())) / ORG_PAGE)
    page_full = (org_pages < unsure if fewest == "calls"
                 else bool(unsure) and org_pages <= math.ceil(unsure / guardrails.WORKERS))
    by_policy = ScpReads({
        "organizations.ListPolicies": math.ceil(scps / ORG_PAGE),
        "organizations.ListTargetsForPolicy": sum(max(1, math.ceil(len(named.get(p["name"], ())) / ORG_PAGE))
                                                  for p in section.get("policies") or [])
        + (org_pages if page_full else 0),
        "organizations.ListPoliciesForTarget": 1 + (0 if page_full else unsure),
        "organizations.DescribePolicy": distinct_policies,
    }, "by policy", org_pages if page_full else 0)
    return by_policy if sum(by_policy.calls.values()) < sum(per_target.calls.values()) else per_target


def minimum_calls(observed: dict[str, int], spec: dict[str, Any], status: dict[str, Any],
                  distinct_policies: int) -> dict[str, int]:
    """The fewest calls that read the same data: paginated listings at the APIs' largest page sizes (every node of
    the tree listed once, every StackSet's instances, every connection), the SCP reads of :func:`guardrail_minimum`
    (the cheaper of by policy and per target, for the world's attachments); every other call once."""
    child_ous, child_accounts, members = walk_spec(spec)
    nodes = set(child_ous) | set(child_accounts)
    instances = sum(s["instances"] for s in status["stack_sets"])
    connections = sum(status["connections"].values())
    scps = guardrail_minimum(spec, distinct_policies).calls
    paged = {
        "organizations.ListOrganizationalUnitsForParent":
            sum(max(1, math.ceil(child_ous.get(n, 0) / ORG_PAGE)) for n in nodes),
        "organizations.ListAccountsForParent":
            sum(max(1, math.ceil(child_accounts.get(n, 0) / ORG_PAGE)) for n in nodes),
        "cloudformation.ListStackInstances": max(1, math.ceil(instances / CFN_PAGE)),
        "clumio.ListConnections": max(1, math.ceil(connections / CLUMIO_PAGE)),
    }
    guardrail_reads = {"organizations.ListPolicies", "organizations.ListTargetsForPolicy",
                       "organizations.ListPoliciesForTarget", "organizations.DescribePolicy"}
    found = {name: paged.get(name, scps.get(name, 0) if name in guardrail_reads else 1) for name in observed}
    # A read the minimum needs but the tool did not make still counts in the minimum.
    if guardrail_reads & set(observed):
        found.update({name: count for name, count in scps.items() if name not in found})
    return found


# ---------------------------------------------------------------------------------------------------------------
# The sandbox process
# ---------------------------------------------------------------------------------------------------------------


class ServedWorld:
    """``sandbox start`` in its own process with a world file; ``env`` points clients at it."""

    def __init__(self, spec: dict[str, Any], folder: Path) -> None:
        self.spec = spec
        self.folder = folder
        world_file = folder / "world.yaml"
        world_file.write_text(yaml.safe_dump(spec, sort_keys=False))
        cmd = [sys.executable, "-m", "reconciler", "sandbox", "start", "--world", str(world_file), "--port", "0",
               "--time-scale", "1"]
        started = time.perf_counter()
        # Its own runtime file: other sandboxes may be running on this machine.
        env = {**os.environ, "CLUMIO_ORG_SANDBOX_DIR": str(folder)}
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
                                     env=env)
        self.env = self._read_env()
        self.start_seconds = time.perf_counter() - started

    def _read_env(self) -> dict[str, str]:
        env: dict[str, str] = {}
        assert self.proc.stdout is not None
        deadline = time.time() + 600
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise SystemExit(f"sandbox exited before serving (code {self.proc.poll()})")
            if line.startswith("export "):
                name, _, value = line[len("export "):].strip().partition("=")
                env[name] = shlex.split(value)[0] if value else ""
                if name == "CLUMIO_API_URL":
                    return env
        self.stop()
        raise SystemExit("sandbox did not start within 600 s")

    def status(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.env["AWS_ENDPOINT_URL"].rstrip("/") + "/_sandbox/status",
                                    timeout=120) as answer:
            return dict(json.load(answer))

    def set_latency(self, latency_ms: float) -> None:
        request = urllib.request.Request(self.env["AWS_ENDPOINT_URL"].rstrip("/") + "/_sandbox/events/set-faults",
                                         data=json.dumps({"latency_ms": latency_ms}).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60):
            pass

    def client_env(self) -> dict[str, str]:
        """A user's shell pointed at the sandbox, with any real AWS profile and config hidden."""
        env = {k: v for k, v in os.environ.items()
               if k not in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN")}
        env.update(self.env)
        env.update({"AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                    "AWS_EC2_METADATA_DISABLED": "true", "CI": "true", "NO_COLOR": "1"})
        return env

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)


@dataclass
class PlanRun:
    """One `clumio-org plan` process measured from the outside (wait4: this process only)."""

    exit_code: int
    wall: float
    cpu: float
    peak_rss_mb: float
    calls: dict[str, int]
    pages_by_region: dict[str, int] = field(default_factory=dict)
    output_tail: str = ""


def run_plan(served: ServedWorld, config: Path, *extra: str) -> PlanRun:
    """`clumio-org plan -c CONFIG --detailed-exitcode` as a process of its own (benchmarks/support/plan_process.py:
    the real CLI entry point plus a call counter written at exit)."""
    folder = Path(tempfile.mkdtemp(prefix="clumio-org-bench-plan-", dir=served.folder))
    calls_file, out_file = folder / "calls.json", folder / "plan.out"
    cmd = [sys.executable, str(Path(__file__).with_name("plan_process.py")), str(calls_file), "plan", "-c",
           str(config), "--detailed-exitcode", *extra]
    with out_file.open("w") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=served.client_env(),
                                cwd=config.parent)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    recorded = json.loads(calls_file.read_text()) if calls_file.exists() else {"calls": {}}
    return PlanRun(exit_code=proc.returncode, wall=wall, cpu=usage.ru_utime + usage.ru_stime,
                   peak_rss_mb=usage.ru_maxrss / 1024, calls=recorded["calls"],
                   pages_by_region=recorded.get("list_stack_instances_pages", {}),
                   output_tail="\n".join(out_file.read_text(errors="replace").splitlines()[-25:]))


def split_line(pages_by_region: dict[str, int]) -> str:
    """What per-region split of ListStackInstances the tool chose, from the calls it made."""
    chains = {region: pages for region, pages in pages_by_region.items()}
    total = sum(chains.values())
    if not chains:
        return "ListStackInstances not called"
    if list(chains) == ["*"]:
        return f"one listing over every region: 1 chain of {total} pages"
    unsplit = chains.pop("*", 0)
    longest = max(chains.values())
    text = f"split by region: {len(chains)} chains in parallel, {total} pages, the longest {longest}"
    return text + (f" (+ {unsplit} unsplit pages)" if unsplit else "")


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
