"""One `clumio-org plan` against a generated world in the sandbox, its figures printed against their bounds."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from support.bounds import Bounds
from support.served import (
    PlanRun,
    ServedWorld,
    guardrail_minimum,
    guardrail_section,
    minimum_calls,
    network_bound,
    regions_with_home,
    split_line,
    tool_lanes,
    write_config,
)

CALLS_BOUND = 1.05  # calls ≤ 1.05 × the minimum the APIs allow
WALL_BOUND = 1.3  # whole plan process wall ≤ 1.3 × Σ calls ÷ lanes × latency
CPU_BOUND_US = 100.0  # client CPU per stack instance
ASSET_TYPES = ["EC2/EBS", "RDS", "S3"]  # what the sandbox's seeded StackSets were deployed with


@dataclass
class World:
    """A generated world served by the sandbox, and the config that plans over it."""

    spec: dict[str, Any]
    served: ServedWorld
    config: Path
    regions: list[str]
    distinct_policies: int
    generate_seconds: float


def serve_world(folder: Path, accounts: int, n_regions: int, *, ou_depth: int, latency_ms: float,
                noop: bool, guardrails: bool = True) -> World:
    """Generate and serve a world with the Clumio StackSet deployed everywhere; with ``noop`` it is deployed exactly
    as the config asks (template, asset types, parameters, description), so the plan has nothing to do."""
    from reconciler.core.desired import StackSetSpec
    from reconciler.sandbox.worldgen import generate_world_spec

    regions = regions_with_home(n_regions)
    started = time.perf_counter()
    spec = generate_world_spec(accounts, regions=regions, ou_depth=ou_depth, fanout=4, deployed=True,
                               faults={"latency_ms": latency_ms})
    distinct = 1
    if guardrails:
        spec["guardrails"], distinct = guardrail_section(spec)
    if noop:
        desired = StackSetSpec()
        spec["stacksets"]["existing"][0].update({"parameters": desired.template_parameters(),
                                                 "description": desired.description,
                                                 "capabilities": sorted(desired.capabilities)})
    generated = time.perf_counter() - started
    served = ServedWorld(spec, folder)
    config = write_config(folder, spec, regions)
    if noop:
        data = yaml.safe_load(config.read_text())
        data["clumio"]["asset_types"] = ASSET_TYPES
        config.write_text(yaml.safe_dump(data, sort_keys=False))
    return World(spec, served, config, regions, distinct, generated)


def report_plan(bounds: Bounds, world: World, run: PlanRun, latency_ms: float, *, expect_exit: int | None,
                cpu_bound: bool, rss_bound_mb: float | None, label: str,
                breakdown: Callable[[], list[str]] | None = None) -> dict[str, Any]:
    """Print calls by operation against the minimum, the network bound read by read, the split chosen, CPU and
    peak RSS; check each bound given; return the figures."""
    status = world.served.status()
    instances = sum(s["instances"] for s in status["stack_sets"])
    observed = run.calls
    minimum = minimum_calls(observed, world.spec, status, world.distinct_policies)
    calls, least = sum(observed.values()), sum(minimum.values())
    latency = latency_ms / 1000
    chains = len((world.spec.get("guardrails") or {}).get("policies") or []) or None
    rule = guardrail_minimum(world.spec, world.distinct_policies, fewest="rounds")
    widths = tool_lanes(len(world.regions), chains, rule.full_access_pages,
                        observed.get("organizations.ListTargetsForPolicy", 0))
    ideal, lanes, lines = network_bound(observed, widths, latency)
    print(f"  `clumio-org plan` exited {run.exit_code}; {instances} instances, "
          f"{sum(status['connections'].values())} connections; {run.output_tail.splitlines()[-1:] or ''}")
    if expect_exit is not None and not bounds.equal(f"{label}: plan exit code", run.exit_code, expect_exit):
        print(run.output_tail)
    print("  calls by operation (made / minimum):")
    for name in sorted(observed):
        print(f"    {name:<52} {observed[name]:>6} / {minimum[name]:>6}")
    print(f"  ListStackInstances: {split_line(run.pages_by_region)}")
    print("  network bound, read by read (Σ calls ÷ the lanes the tool uses × latency):")
    for line in lines:
        print("    " + line)
    bounds.ratio(f"{label}: API calls vs minimum the APIs allow", calls, least, CALLS_BOUND)
    bounds.ratio(f"{label}: plan process wall s vs calls ÷ {lanes:.2f} lanes × {latency_ms:g} ms",
                 run.wall, ideal, WALL_BOUND, "s", full_size=True)
    per_instance = run.cpu / max(1, instances) * 1e6
    if cpu_bound:
        bounds.at_most(f"{label}: client CPU µs per instance ({run.cpu:.1f}s)", per_instance, CPU_BOUND_US, "µs", 1,
                       full_size=True)
    else:
        print(f"  client CPU: {run.cpu:.1f}s = {per_instance:.1f} µs per instance (for information)")
    if rss_bound_mb is not None:
        bounds.at_most(f"{label}: plan process peak RSS MB", run.peak_rss_mb, rss_bound_mb, "MB", 0)
    else:
        print(f"  plan process peak RSS: {run.peak_rss_mb:.0f} MB (for information)")
    if breakdown is not None:
        print("  where the wall time goes (each read again alone, in this process, fresh ports):")
        for line in breakdown():
            print("    " + line)
    return {"calls": calls, "minimum": least, "wall": run.wall, "ideal": ideal, "cpu": run.cpu,
            "rss": run.peak_rss_mb, "instances": instances, "minimum_by_call": minimum}


def guardrail_bound(bounds: Bounds, label: str, world: World, calls: dict[str, int]) -> None:
    """The SCP reads against the tool's rule for this world (docs/reference/guardrails.md §1), with the fewest the
    APIs allow and the per-target count beside it."""
    least = guardrail_minimum(world.spec, world.distinct_policies)
    rule = guardrail_minimum(world.spec, world.distinct_policies, fewest="rounds")
    per_target = guardrail_minimum({**world.spec, "guardrails": None}, world.distinct_policies)
    names = {*least.calls, *rule.calls, *per_target.calls}
    read = sum(calls.get(name, 0) for name in names)

    def parts(reads: Any) -> str:
        return ", ".join(f"{name.split('.')[1]} {count}" for name, count in reads.calls.items())

    print(f"  SCP reads: {read} calls; the tool's rule {sum(rule.calls.values())} ({rule.way}: {parts(rule)}); "
          f"the fewest calls {sum(least.calls.values())}; per target {sum(per_target.calls.values())}")
    bounds.at_most(f"{label}: SCP reads (≤ the tool's rule, {rule.way})", read, sum(rule.calls.values()), "", 0)
