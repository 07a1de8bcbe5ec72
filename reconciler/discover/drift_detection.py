"""Resource drift detection through the StackSets port: start DetectStackSetDrift and wait, or read the last result."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime

from reconciler.core.errors import ReconcilerError
from reconciler.core.keys import InstanceKey
from reconciler.core.live import LiveInstance, LiveStackSet, OperationStatus, StackDriftStatus
from reconciler.core.ports import OperationInProgress, StackSets
from reconciler.drift.classify import resource_row
from reconciler.drift.model import Detection

log = logging.getLogger(__name__)

DETECT_DRIFT = "DETECT_DRIFT"


class DetectionBlocked(ReconcilerError):
    """Another (non-drift) operation holds the StackSet, so no detection can start now (§A9)."""


def detect(stacksets: StackSets, stack_set: str, *, sleep: Callable[[float], None], poll_seconds: float,
           timeout_seconds: float, now: Callable[[], datetime]) -> Detection:
    """Start a drift detection on ``stack_set`` (or follow the one already running) and wait for it.

    Waiting goes through ``sleep`` (the sandbox's virtual clock in tests); the time waited is the sum of the
    sleeps, bounded by ``timeout_seconds``. A detection still running at the timeout is reported as TIMED_OUT —
    the report then shows the last completed result, and the detection carries on in AWS.
    """
    try:
        operation_id = stacksets.detect_drift(stack_set)
    except OperationInProgress as exc:
        operation_id = _follow_running_detection(stacksets, stack_set, exc)
    log.info("drift detection %s started on %s", operation_id, stack_set)
    waited = 0.0
    while True:
        view = stacksets.describe_operation(stack_set, operation_id)
        if view.status.finished:
            status = "COMPLETED" if view.status is OperationStatus.SUCCEEDED else view.status.value
            return Detection(stack_set, True, status, now(), 0.0, operation_id)
        if waited >= timeout_seconds:
            return Detection(stack_set, True, "TIMED_OUT", None, None, operation_id)
        step = max(0.0, min(poll_seconds, timeout_seconds - waited)) or poll_seconds
        sleep(step)
        waited += step


def _follow_running_detection(stacksets: StackSets, stack_set: str, exc: OperationInProgress) -> str:
    """Only one drift detection may run per StackSet (§A8): when one already runs, wait for it instead."""
    running = [op for op in stacksets.list_operations(stack_set)
               if not op.status.finished and (exc.running_operation_id in (None, op.operation_id))]
    for op in running:
        if op.action == DETECT_DRIFT:
            return op.operation_id
    other = running[0].operation_id if running else (exc.running_operation_id or "another operation")
    raise DetectionBlocked(
        f"cannot start drift detection on StackSet {stack_set}: operation {other} is in progress",
        hint="run `clumio-org drift` without --detect to report the last detection, or retry when it finished",
    ) from exc


def last_detection(ss: LiveStackSet, now: datetime) -> Detection:
    """The last completed detection from DescribeStackSet.StackSetDriftDetectionDetails, with its age."""
    details = ss.drift
    if details is None or details.last_check is None:
        return Detection(ss.name, False, "NOT_CHECKED", None, None)
    age = max(0.0, (now - details.last_check).total_seconds())
    return Detection(ss.name, False, details.detection_status or details.drift_status, details.last_check, age)


def last_detection_operation(stacksets: StackSets, stack_set: str) -> str | None:
    """The id of the newest finished DETECT_DRIFT operation (ListStackInstanceResourceDrifts needs one)."""
    ops = [op for op in stacksets.list_operations(stack_set) if op.action == DETECT_DRIFT and op.status.finished]
    if not ops:
        return None
    ops.sort(key=lambda op: (op.created is not None, op.created or datetime.min, op.operation_id))
    return ops[-1].operation_id


def resource_drifts(stacksets: StackSets, instances: Iterable[LiveInstance], operation_ids: Mapping[str, str | None],
                    ) -> dict[InstanceKey, Sequence[Mapping[str, str]]]:
    """ListStackInstanceResourceDrifts for each DRIFTED instance (only those: one call per drifted instance)."""
    found: dict[InstanceKey, Sequence[Mapping[str, str]]] = {}
    for inst in instances:
        if inst.drift_status is not StackDriftStatus.DRIFTED:
            continue
        operation_id = operation_ids.get(inst.key.stack_set)
        if operation_id is None:
            continue
        rows = stacksets.list_resource_drifts(inst.key.stack_set, inst.key.account, inst.key.region, operation_id)
        found[inst.key] = [dict(r) for r in rows if resource_row(r)[2] != "IN_SYNC"]
    return found
