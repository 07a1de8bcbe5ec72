"""StackSet operations simulated over time: a per-instance timeline fixed when the operation starts.

When an operation starts, ``schedule`` lays out when each (account, region) step starts and ends, following
OperationPreferences as AWS documents them (aws-stacksets.md §A5): regions SEQUENTIAL in RegionOrder or PARALLEL;
per region at most MaxConcurrent accounts at once (a percentage rounds down, never below 1); under
STRICT_FAILURE_TOLERANCE concurrency is min(MaxConcurrent, tolerance + 1) and shrinks as failures occur; failures are
counted per region and once a region's tolerance is exceeded its not-yet-started steps are CANCELLED and later regions
are not attempted. The world then applies each step's effects when the clock passes its start and end times.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

CANCELLED_REASON = "Cancelled since failure tolerance has exceeded"
STOPPED_REASON = "Cancelled since the operation was stopped by the user"
SUSPENDED_REASON = ("This account is suspended. To remove this instance from the stack set, run "
                    "DeleteStackInstances with the RetainStacks parameter.")


@dataclass(frozen=True)
class Target:
    """One (account, region) an operation will act on, with the outcome decided when the operation starts."""

    account: str
    region: str
    ou_id: str | None
    outcome: str = "SUCCEEDED"  # SUCCEEDED | FAILED | SKIPPED (suspended account: no time, not a failure)
    reason: str | None = None
    seconds: float | None = None  # overrides the operation's per-instance duration (fast failures)


# Mutable: the world advances it as simulated time passes.
@dataclass(slots=True)
class Step:
    account: str
    region: str
    ou_id: str | None
    start: float
    end: float
    outcome: str  # SUCCEEDED | FAILED | CANCELLED | SKIPPED
    reason: str | None
    started: bool = False
    finished: bool = False

    def result_status(self, now: float) -> str:
        """ListStackSetOperationResults Status at ``now``."""
        if now < self.start or (not self.started and now < self.end):
            return "PENDING"
        if now < self.end and not self.finished:
            return "RUNNING"
        # Suspended accounts are skipped, not failed (June 2023, aws-stacksets.md §A7).
        return "SUCCEEDED" if self.outcome == "SKIPPED" else self.outcome


@dataclass(slots=True)
class Operation:
    id: str
    action: str  # CREATE | UPDATE | DELETE | DETECT_DRIFT
    created: datetime
    preferences: dict[str, Any]
    targets_param: dict[str, Any] | None
    retain_stacks: bool | None
    pending_targets: list[Target]  # computed at submit; becomes steps when the operation starts
    # What the stacks run once the step succeeds (CREATE/UPDATE): template version and parameters.
    template_version: str | None = None
    overrides_given: dict[str, Any] = field(default_factory=dict)
    outdate_all: bool = False  # subset UpdateStackSet with a template/parameter change
    automatic: bool = False
    steps: list[Step] = field(default_factory=list)
    started_at: float | None = None
    end_at: float | None = None
    stopped_at: float | None = None
    finished: bool = False
    tolerance_exceeded: bool = False
    _start_order: list[int] = field(default_factory=list)
    _end_order: list[int] = field(default_factory=list)
    _cursor_start: int = 0
    _cursor_end: int = 0
    drift_summary: dict[str, Any] | None = None
    result_order: list[int] = field(default_factory=list)  # step indices by (account, region), for result pages

    def status(self, now: float) -> str:
        if self.started_at is None:
            return "STOPPED" if self.stopped_at is not None else "QUEUED"
        if not self.finished and (self.end_at is None or now < self.end_at):
            return "STOPPING" if self.stopped_at is not None else "RUNNING"
        if self.stopped_at is not None:
            return "STOPPED"
        return "FAILED" if self.tolerance_exceeded else "SUCCEEDED"

    def failed_count(self) -> int:
        return sum(1 for s in self.steps if s.finished and s.outcome == "FAILED")

    def begin(self, at: float, default_seconds: float) -> None:
        self.started_at = at
        self.steps, self.tolerance_exceeded = schedule(self.pending_targets, self.preferences, at, default_seconds)
        self.pending_targets = []
        self._index()

    def _index(self) -> None:
        pending = [i for i, s in enumerate(self.steps) if not s.finished]
        self._start_order = sorted((i for i in pending if not self.steps[i].started),
                                   key=lambda i: self.steps[i].start)
        self._end_order = sorted(pending, key=lambda i: self.steps[i].end)
        self._cursor_start = self._cursor_end = 0
        self.end_at = max((s.end for s in self.steps), default=self.started_at)

    def stop(self, at: float) -> None:
        """StopStackSetOperation: steps not yet started are CANCELLED now; running ones finish (STOPPING)."""
        self.stopped_at = at
        for step in self.steps:
            if not step.started and step.start > at:
                step.start = step.end = at
                step.outcome, step.reason = "CANCELLED", STOPPED_REASON
        self._index()

    def due_starts(self, now: float) -> list[Step]:
        out = []
        while self._cursor_start < len(self._start_order):
            step = self.steps[self._start_order[self._cursor_start]]
            if step.start > now:
                break
            self._cursor_start += 1
            out.append(step)
        return out

    def due_ends(self, now: float) -> list[Step]:
        out = []
        while self._cursor_end < len(self._end_order):
            step = self.steps[self._end_order[self._cursor_end]]
            if step.end > now:
                break
            self._cursor_end += 1
            out.append(step)
        return out


def to_datetime(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


def _region_limits(prefs: dict[str, Any], n: int) -> tuple[int, int, bool]:
    """(max concurrent, failure tolerance, strict) for a region with ``n`` targets (§A5)."""
    if prefs.get("FailureTolerancePercentage") is not None:
        tolerance = n * int(prefs["FailureTolerancePercentage"]) // 100
    else:
        tolerance = int(prefs.get("FailureToleranceCount") or 0)
    if prefs.get("MaxConcurrentPercentage") is not None:
        concurrent = max(1, n * int(prefs["MaxConcurrentPercentage"]) // 100)
    else:
        concurrent = max(1, int(prefs.get("MaxConcurrentCount") or 1))
    strict = prefs.get("ConcurrencyMode", "STRICT_FAILURE_TOLERANCE") != "SOFT_FAILURE_TOLERANCE"
    return concurrent, tolerance, strict


def _schedule_region(targets: list[Target], prefs: dict[str, Any], t0: float,
                     seconds: float) -> tuple[list[Step], float | None]:
    """Steps for one region and the time its failure tolerance was exceeded (None if it was not)."""
    concurrent, tolerance, strict = _region_limits(prefs, len(targets))
    steps: list[Step] = []
    running: list[tuple[float, int]] = []  # (end, step index)
    failures = 0
    exceeded_at: float | None = None
    now = t0
    i = 0
    while i < len(targets):
        allowed = min(concurrent, tolerance + 1 - failures) if strict else concurrent
        while len(running) < max(allowed, 1) and i < len(targets):
            target = targets[i]
            i += 1
            if target.outcome == "SKIPPED":
                steps.append(Step(target.account, target.region, target.ou_id, now, now, "SKIPPED", target.reason))
                continue
            end = now + (target.seconds if target.seconds is not None else seconds)
            steps.append(Step(target.account, target.region, target.ou_id, now, end, target.outcome, target.reason))
            heapq.heappush(running, (end, len(steps) - 1))
        if i >= len(targets) or not running:
            break
        now, index = heapq.heappop(running)
        done = [index]
        while running and running[0][0] == now:
            done.append(heapq.heappop(running)[1])
        failures += sum(1 for d in done if steps[d].outcome == "FAILED")
        if failures > tolerance:
            exceeded_at = now
            break
    for target in targets[i:]:
        steps.append(Step(target.account, target.region, target.ou_id, now, now, "CANCELLED", CANCELLED_REASON))
    total_failures = sum(1 for s in steps if s.outcome == "FAILED")
    if exceeded_at is None and total_failures > tolerance:
        exceeded_at = max(s.end for s in steps)
    return steps, exceeded_at


def schedule(targets: list[Target], prefs: dict[str, Any], t0: float, seconds: float) -> tuple[list[Step], bool]:
    """Lay out every target's step; returns the steps and whether some region exceeded its failure tolerance."""
    by_region: dict[str, list[Target]] = {}
    for target in targets:
        by_region.setdefault(target.region, []).append(target)
    order = [r for r in prefs.get("RegionOrder") or () if r in by_region]
    order += [r for r in by_region if r not in order]
    steps: list[Step] = []
    if prefs.get("RegionConcurrencyType") == "PARALLEL":
        results = [_schedule_region(by_region[r], prefs, t0, seconds) for r in order]
        first_fail = min((at for _, at in results if at is not None), default=None)
        for region_steps, at in results:
            if first_fail is not None and at is None:
                # Another region exceeded its tolerance: nothing new starts anywhere after that moment.
                for step in region_steps:
                    if step.start >= first_fail and step.outcome != "SKIPPED":
                        step.start = step.end = first_fail
                        step.outcome, step.reason = "CANCELLED", CANCELLED_REASON
            steps.extend(region_steps)
        return steps, first_fail is not None
    start = t0
    failed = False
    for region in order:
        if failed:  # later regions are not attempted (§A5)
            steps.extend(Step(t.account, t.region, t.ou_id, start, start, "CANCELLED", CANCELLED_REASON)
                         for t in by_region[region])
            continue
        region_steps, at = _schedule_region(by_region[region], prefs, start, seconds)
        steps.extend(region_steps)
        start = max((s.end for s in region_steps), default=start)
        failed = at is not None
    return steps, failed
