"""``clumio-org drift``: report where the org, its StackSets and Clumio moved away from the desired state.

Exit codes, the same in every format: 0 no drift, 2 drift found (in the categories ``--fail-on`` counts), 1 error.
"""

from __future__ import annotations

import enum
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

from reconciler.cli.common import ConfigOption, load_config, resolve_config_path
from reconciler.core.desired import Desired
from reconciler.core.keys import InstanceKey
from reconciler.core.live import Live
from reconciler.core.ports import StackSetNotFound, StackSets
from reconciler.core.recorded import Recorded
from reconciler.core.settings import parse_settings
from reconciler.drift.classify import DriftInputs, ResourceDrifts, information
from reconciler.drift.detect import (
    DetectionBlocked,
    detect,
    last_detection,
    last_detection_operation,
    resource_drifts,
)
from reconciler.drift.ignore import PLACEHOLDER_OWNER, default_ignore_path, load_ignore_file, write_baseline
from reconciler.drift.model import Detection, DriftReport
from reconciler.drift.report import build_report, parse_categories

DEFAULT_DETECT_TIMEOUT = 1800.0


class Format(enum.Enum):
    TEXT = "text"
    MARKDOWN = "markdown"
    JSON = "json"
    JUNIT = "junit"


@dataclass
class Clock:
    """Where drift's time comes from: ``now`` for ages, expiries and thresholds, ``sleep`` while a detection runs.

    Tests and benchmarks replace both with the sandbox's VirtualClock (``clock.now = world.clock.now``,
    ``clock.sleep = world.clock.advance``), so waiting for a detection takes no real time.
    """

    now: Callable[[], datetime]
    sleep: Callable[[float], None]


clock = Clock(now=lambda: datetime.now(UTC), sleep=time.sleep)


def poll_seconds() -> float:
    """The first poll interval while a detection runs (``$CLUMIO_ORG_POLL_SECONDS``, as apply reads it)."""
    return parse_settings(os.environ).poll_seconds


def render(report: DriftReport, fmt: Format) -> str:
    if fmt is Format.JSON:
        from reconciler.render.drift_json import render_drift_json

        return render_drift_json(report)
    if fmt is Format.MARKDOWN:
        from reconciler.render.drift_markdown import render_drift_markdown

        return render_drift_markdown(report)
    if fmt is Format.JUNIT:
        from reconciler.render.drift_junit import render_drift_junit

        return render_drift_junit(report)
    from reconciler.render.drift_text import render_drift_text

    return render_drift_text(report)


def _detect_all(ports_by_name: dict[str, StackSets], timeout: float) -> tuple[list[Detection], list[str]]:
    """A fresh detection per StackSet; where none can finish (timeout, another operation running) the report falls
    back to the last completed detection and says why, so a nightly job still gets its report."""
    found: list[Detection] = []
    notes: list[str] = []
    for name, port in ports_by_name.items():
        try:
            result = detect(port, name, sleep=clock.sleep, poll_seconds=poll_seconds(), timeout_seconds=timeout,
                            now=clock.now)
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


def _read_state(desired: Desired, live: Live) -> Recorded | None:
    """The state, refused when it is not the one the managed StackSet says deploys it (another lineage)."""
    from reconciler.state import open_backend
    from reconciler.state.lineage import check_lineage

    backend = open_backend(desired)
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


def gather(desired: Desired, ports: object, *, detect_drift: bool, timeout: float) -> Gathered:
    """Detect (when asked), then discover Live, read state and the drifted resources: every API call drift makes."""
    from reconciler.core.guardrails import GuardrailMode
    from reconciler.discover.live import discover, stack_set_ports
    from reconciler.plan.guardrails.check import drift_view

    by_name = stack_set_ports(desired, ports)  # type: ignore[arg-type]
    detections, notes = _detect_all(by_name, timeout) if detect_drift else ([], [])
    skipping = desired.guardrails.on_deny is GuardrailMode.SKIP  # pairs a plan skips are not drift
    live = discover(desired, ports, guardrails=skipping)  # type: ignore[arg-type]
    now = clock.now()
    fresh = {d.stack_set for d in detections}
    detections += [last_detection(live.stack_sets[name], now) for name in by_name
                   if name in live.stack_sets and name not in fresh]
    from reconciler.plan.build import expand_uncovered

    expansion, coverage = expand_uncovered(desired, live)
    live, expansion = drift_view(desired, live, expansion)
    state = _read_state(desired, live)
    notes += _foreign_notes(desired, live, expansion, coverage)
    inputs = DriftInputs(
        desired=desired, live=live, expansion=expansion, now=now, coverage=coverage,
        state=state, resource_drifts=_resource_drifts(by_name, live, detections),
        connecting_seconds=float(desired.rollout.verify_connections_seconds),
    )
    return Gathered(inputs, detections, notes)


def _foreign_notes(desired: Desired, live: Live, expansion: Any, coverage: Sequence[Any]) -> list[str]:
    """Clumio deployments drift leaves alone, said once: desired pairs another deployment covers (the plan's
    "Existing Clumio deployments"), and connections another deployment made for pairs this config does not
    target."""
    from reconciler.drift.classify import managed_stack_sets
    from reconciler.plan.coverage import covered_elsewhere, made_elsewhere

    covered = covered_elsewhere(coverage)
    notes = [f"{len(covered)} desired (account, region) already have Clumio from another deployment and are left "
             "alone (see `clumio-org plan`, \"Existing Clumio deployments\")"] if covered else []
    wanted = {(k.account, k.region) for k in [*expansion.targets, *expansion.management_keys]} | set(covered)
    wanted |= {(k.account, k.region) for k in live.instances}
    managed = managed_stack_sets(desired)
    found = [f"{a}/{r} ({by})" for (a, r) in sorted(live.connections)
             if (a, r) not in wanted and (by := made_elsewhere(live, managed, a, r)) is not None]
    if not found:
        return notes
    shown = ", ".join(found[:10]) + (f" and {len(found) - 10} more" if len(found) > 10 else "")
    return notes + [f"{len(found)} Clumio connection(s) made outside the managed StackSets, for accounts/regions "
                     f"this config does not target, are left alone: {shown}"]


def run_drift(desired: Desired, *, config_path: Path, detect_drift: bool, timeout: float,
              fail_on: list[str], ignore_file: Path | None, ports: object | None = None) -> DriftReport:
    """The whole drift run: gather, classify, apply the ignore file. Input mistakes fail before any API call."""
    categories = parse_categories(fail_on)
    parse_settings(os.environ)  # a bad setting stops the run before any API call, with or without --detect
    entries = load_ignore_file(ignore_file or default_ignore_path(config_path), required=ignore_file is not None)
    if ports is None:
        from reconciler.providers.factory import build_ports

        ports = build_ports(desired)
    got = gather(desired, ports, detect_drift=detect_drift, timeout=timeout)
    placeholders = [f"#{e.index}" for e in entries if e.owner == PLACEHOLDER_OWNER]
    notes = got.notes + ([f"ignore entries {', '.join(placeholders)} still name owner {PLACEHOLDER_OWNER}: "
                          "set who answers for each"] if placeholders else [])
    notes += information(got.inputs)
    return build_report(got.inputs, config_path=str(config_path), ignore_entries=entries, fail_on=categories,
                        detections=got.detections, notes=notes)


EXIT_HELP = ("Exit codes, the same in every format: 0 no drift, 2 drift found (in the --fail-on categories), "
             "1 error. An ignore entry past its expiry silences nothing and is itself drift (category ignore).")


def register(app: typer.Typer) -> None:
    @app.command(epilog=EXIT_HELP)
    def drift(
        config: Path | None = ConfigOption,
        fmt: Format = typer.Option(Format.TEXT, "--format", "-f", case_sensitive=False,
                                   help="text | markdown (issue/chat) | json (schemas/drift-report.schema.json) "
                                        "| junit (CI dashboards)."),
        out: Path | None = typer.Option(None, "--out", "-o", help="Write the report to FILE instead of stdout."),
        markdown_out: Path | None = typer.Option(None, "--markdown-out", metavar="FILE",
                                                 help="Also write the Markdown report to FILE (an issue body or "
                                                      "chat message) from the same run."),
        detect_drift: bool = typer.Option(False, "--detect", help="Start DetectStackSetDrift and wait for it; "
                                          "otherwise report the last detection and its age."),
        timeout: float = typer.Option(DEFAULT_DETECT_TIMEOUT, "--timeout", min=0,
                                      help="Seconds to wait for --detect before reporting the last result."),
        fail_on: list[str] = typer.Option([], "--fail-on", metavar="CATEGORY",
                                          help="Only these categories count for exit code 2 (repeat or comma "
                                               "separate: membership,status,version,resources,clumio,ignore); "
                                               "the others are still reported."),
        ignore_file: Path | None = typer.Option(None, "--ignore-file",
                                                help="Ignore file. Default: .clumio-org-ignore.yaml next to the "
                                                     "config."),
        write_ignore: Path | None = typer.Option(None, "--write-ignore", metavar="FILE",
                                                 help="Write the current findings to FILE as an ignore baseline "
                                                      "to review (placeholder owner, expiry in 30 days)."),
    ) -> None:
        """Report drift: membership, instance status, template/parameter versions, resources, Clumio connections."""
        config_path = resolve_config_path(config)
        desired = load_config(config_path)
        report = run_drift(desired, config_path=config_path, detect_drift=detect_drift, timeout=timeout,
                           fail_on=fail_on, ignore_file=ignore_file)
        if write_ignore is not None:
            count = write_baseline(write_ignore, report.findings, report.generated_at.date())
            typer.echo(f"wrote {count} ignore entries to {write_ignore}: set each reason and owner before "
                       "committing it", err=True)
        text = render(report, fmt)
        if markdown_out is not None:
            markdown_out.parent.mkdir(parents=True, exist_ok=True)
            markdown_out.write_text(render(report, Format.MARKDOWN))
        if out is None:
            sys.stdout.write(text)
            sys.stdout.flush()
        else:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(text)
            verdict = "drift found" if report.drifted else "no drift"
            typer.echo(f"drift: {verdict} ({len(report.findings)} findings, {len(report.ignored)} ignored); "
                       f"{fmt.value} report written to {out}")
        raise typer.Exit(report.exit_code)
