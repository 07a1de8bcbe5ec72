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


def tool_lanes(regions: int) -> dict[str, tuple[int, str]]:
    """Per paginated read, the parallel lanes the tool really uses (its own pool sizes), and where that is set.
    Every other call is made once, on one lane."""
    from reconciler.discover import guardrails
    from reconciler.providers.aws import organizations, stacksets
    from reconciler.providers.clumio import client

    tree = (organizations.TREE_WORKERS, "providers.aws.organizations.TREE_WORKERS")
    policies = (guardrails.WORKERS, f"{guardrails.__name__.removeprefix('reconciler.')}.WORKERS")
    return {
        "organizations.ListOrganizationalUnitsForParent": tree,
        "organizations.ListAccountsForParent": tree,
        "cloudformation.ListStackInstances": (min(stacksets.REGION_WORKERS, regions),
                                              f"min(providers.aws.stacksets.REGION_WORKERS, {regions} regions)"),
        "clumio.ListConnections": (client.LIST_WORKERS, "providers.clumio.client.LIST_WORKERS"),
        "organizations.ListPoliciesForTarget": policies,
        "organizations.DescribePolicy": policies,
    }


def network_bound(calls: dict[str, int], lanes: dict[str, tuple[int, str]], latency_s: float
                  ) -> tuple[float, float, list[str]]:
    """Σ over reads of calls ÷ lanes × latency: (seconds, the lanes that makes overall, one line per read)."""
    seconds, lines = 0.0, []
    for name in sorted(calls, key=lambda n: -calls[n]):
        width, source = lanes.get(name, (1, "made once, one lane"))
        part = calls[name] / width * latency_s
        seconds += part
        lines.append(f"{name:<50} {calls[name]:>6} calls ÷ {width:>2} lanes × {latency_s * 1000:g} ms = "
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


def minimum_calls(observed: dict[str, int], spec: dict[str, Any], status: dict[str, Any],
                  distinct_policies: int) -> dict[str, int]:
    """The fewest calls that read the same data: paginated listings at the APIs' largest page sizes (every node of
    the tree listed once, every StackSet's instances, every connection), one ListPoliciesForTarget per target (each
    active member account, every OU and the root above one) and one DescribePolicy per distinct policy; every other
    call once."""
    child_ous, child_accounts, members = walk_spec(spec)
    nodes = set(child_ous) | set(child_accounts)
    instances = sum(s["instances"] for s in status["stack_sets"])
    connections = sum(status["connections"].values())
    targets = len(members) + len({node for _, above in members for node in above})
    paged = {
        "organizations.ListOrganizationalUnitsForParent":
            sum(max(1, math.ceil(child_ous.get(n, 0) / ORG_PAGE)) for n in nodes),
        "organizations.ListAccountsForParent":
            sum(max(1, math.ceil(child_accounts.get(n, 0) / ORG_PAGE)) for n in nodes),
        "cloudformation.ListStackInstances": max(1, math.ceil(instances / CFN_PAGE)),
        "clumio.ListConnections": max(1, math.ceil(connections / CLUMIO_PAGE)),
        "organizations.ListPoliciesForTarget": targets,
        "organizations.DescribePolicy": distinct_policies,
    }
    return {name: paged.get(name, 1) for name in observed}


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
