"""The drift run: detect (when asked), discover, read state, classify, apply the ignore file. Every API call drift
makes is here; the CLI parses the options and renders the report."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from reconciler.core.keys import InstanceKey
from reconciler.core.live import Live
from reconciler.core.ports import StackSetNotFound, StackSets
from reconciler.core.recorded import Recorded
from reconciler.discover.drift_detection import (
    DetectionBlocked,
    detect,
    last_detection,
    last_detection_operation,
    resource_drifts,
)
from reconciler.drift.classify import DriftInputs, ResourceDrifts, information
from reconciler.drift.ignore import PLACEHOLDER_OWNER, default_ignore_path
from reconciler.drift.model import Detection, DriftReport
from reconciler.drift.report import build_report, parse_categories
from reconciler.files.ignore import load_ignore_file
from reconciler.usecases.context import Context, collector_paused


def _detect_all(ctx: Context, ports_by_name: dict[str, StackSets],
                timeout: float) -> tuple[list[Detection], list[str]]:
    """A fresh detection per StackSet; where none can finish (timeout, another operation running) the report falls
    back to the last completed detection and says why, so a nightly job still gets its report."""
    found: list[Detection] = []
    notes: list[str] = []
    for name, port in ports_by_name.items():
        try:
            result = detect(port, name, sleep=ctx.clock.sleep, poll_seconds=ctx.settings.poll_seconds,
                            timeout_seconds=timeout, now=ctx.clock.now)
        except StackSetNotFound:
            continue  # nothing to detect; membership reports the missing StackSet
        except DetectionBlocked as exc:
            notes.append(f"{exc.message}; showing the last completed detection")
            continue
        if result.status == "TIMED_OUT":
            notes.append(f"drift detection {result.operation_id} on {name} still running after {timeout:g} s "
                         "(--timeout); showing the last completed detection")
            continue
        found.append(result)
    return found, notes


def _resource_drifts(ports_by_name: dict[str, StackSets], live: Live,
                     detections: list[Detection]) -> ResourceDrifts:
    """Drifted resources of each DRIFTED instance, from this run's detection or the last completed one."""
    operation_ids: dict[str, str | None] = {d.stack_set: d.operation_id for d in detections if d.started_here}
    found: dict[InstanceKey, Sequence[Mapping[str, str]]] = {}
    for name, port in ports_by_name.items():
        instances = [i for i in live.instances.values() if i.key.stack_set == name]
        if name not in operation_ids and any(i.drift_status.value == "DRIFTED" for i in instances):
            operation_ids[name] = last_detection_operation(port, name)
        found.update(resource_drifts(port, instances, operation_ids))
    return found


def _read_state(ctx: Context, live: Live) -> Recorded | None:
    """The state, refused when it is not the one the managed StackSet says deploys it (another lineage)."""
    from reconciler.state.lineage import check_lineage

    backend = ctx.backend
    stored = backend.read()
    check_lineage(live.stack_sets, stored, backend.describe(), command="apply")
    state: Recorded | None = stored
    return state


@dataclass(frozen=True)
class Gathered:
    """What one drift run read: the classification inputs, the detections behind resource drift, and notes."""

    inputs: DriftInputs
    detections: list[Detection]
    notes: list[str]


def gather(ctx: Context, *, detect_drift: bool, timeout: float) -> Gathered:
    """Detect (when asked), then discover Live, read state and the drifted resources: every API call drift makes."""
    from reconciler.core.guardrails import GuardrailMode
    from reconciler.discover.live import discover, stack_set_ports
    from reconciler.plan.guardrails.check import drift_view

    desired, ports = ctx.desired, ctx.ports
    # The run's ports are the whole StackSets ports (drift detection starts operations), not only their reads.
    by_name = cast(dict[str, StackSets], stack_set_ports(desired, ports))
    detections, notes = _detect_all(ctx, by_name, timeout) if detect_drift else ([], [])
    skipping = desired.guardrails.on_deny is GuardrailMode.SKIP  # pairs a plan skips are not drift
    with collector_paused():
        live = discover(desired, ports, guardrails=skipping)
    now = ctx.clock.now()
    fresh = {d.stack_set for d in detections}
    detections += [last_detection(live.stack_sets[name], now) for name in by_name
                   if name in live.stack_sets and name not in fresh]
    from reconciler.plan.build import expand_uncovered

    expansion, coverage, _counts = expand_uncovered(desired, live)
    live, expansion = drift_view(desired, live, expansion)
    state = _read_state(ctx, live)
    notes += _foreign_notes(desired, live, expansion, coverage)
    inputs = DriftInputs(
        desired=desired, live=live, expansion=expansion, now=now, coverage=coverage,
        state=state, resource_drifts=_resource_drifts(by_name, live, detections),
        connecting_seconds=float(desired.rollout.verify_connections_seconds),
    )
    return Gathered(inputs, detections, notes)


def _foreign_notes(desired: Any, live: Live, expansion: Any, coverage: Sequence[Any]) -> list[str]:
    """Clumio deployments drift leaves alone, said once: desired pairs another deployment covers (the plan's
    "Existing Clumio deployments"), and connections another deployment made for pairs this config does not
    target."""
    from reconciler.drift.classify import managed_stack_sets
    from reconciler.plan.coverage import covered_elsewhere, made_elsewhere, retired_stack_notes

    covered = covered_elsewhere(coverage)
    notes = [f"{len(covered)} desired (account, region) already have Clumio from another deployment and are left "
             "alone (see `clumio-org plan`, \"Existing Clumio deployments\")"] if covered else []
    desired_pairs = {(k.account, k.region) for k in [*expansion.targets, *expansion.management_keys]}
    notes += retired_stack_notes(live, desired_pairs)
    wanted = desired_pairs | set(covered)
    wanted |= {(k.account, k.region) for k in live.instances}
    managed = managed_stack_sets(desired)
    found = [f"{a}/{r} ({by})" for (a, r) in sorted(live.connections)
             if (a, r) not in wanted and (by := made_elsewhere(live, managed, a, r)) is not None]
    if not found:
        return notes
    shown = ", ".join(found[:10]) + (f" and {len(found) - 10} more" if len(found) > 10 else "")
    return notes + [f"{len(found)} Clumio connection(s) made outside the managed StackSets, for accounts/regions "
                     f"this config does not target, are left alone: {shown}"]


def run_drift(ctx: Context, *, config_path: Path, detect_drift: bool, timeout: float,
              fail_on: list[str], ignore_file: Path | None) -> DriftReport:
    """The whole drift run: gather, classify, apply the ignore file. Input mistakes fail before any API call."""
    categories = parse_categories(fail_on)
    ctx.settings  # noqa: B018 - a bad setting stops the run before any API call, with or without --detect
    entries = load_ignore_file(ignore_file or default_ignore_path(config_path), required=ignore_file is not None)
    got = gather(ctx, detect_drift=detect_drift, timeout=timeout)
    placeholders = [f"#{e.index}" for e in entries if e.owner == PLACEHOLDER_OWNER]
    notes = got.notes + ([f"ignore entries {', '.join(placeholders)} still name owner {PLACEHOLDER_OWNER}: "
                          "set who answers for each"] if placeholders else [])
    notes += information(got.inputs)
    return build_report(got.inputs, config_path=str(config_path), ignore_entries=entries, fail_on=categories,
                        detections=got.detections, notes=notes)
