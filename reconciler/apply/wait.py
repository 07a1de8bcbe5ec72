"""Following a StackSet operation to its end: poll DescribeStackSetOperation with capped backoff, then read every
failed (account, region) from ListStackSetOperationResults (reference/aws-stacksets.md §A6)."""

from __future__ import annotations

import logging

from reconciler.apply.model import Failure, FailureStatus
from reconciler.apply.runtime import Runtime
from reconciler.core.errors import ProviderError, ReconcilerError
from reconciler.core.live import OperationResultStatus, OperationStatus, OperationView
from reconciler.core.plan import Operation
from reconciler.core.ports import StackSets

log = logging.getLogger(__name__)

# How often a results list that has not caught up with a FAILED operation is read again (eventual consistency, §A6).
RESULTS_CATCH_UP_READS = 3
# The result rows that are failures (OperationResultStatus.failed), as apply reports them.
FAILURE_STATUS = {OperationResultStatus.FAILED: FailureStatus.FAILED,
                  OperationResultStatus.CANCELLED: FailureStatus.CANCELLED}


FOLLOW_LATER = "it keeps running in AWS; re-run apply later (it will find and follow the operation)"


class OperationTimeout(ProviderError):
    """An operation did not finish within the bound apply allows for it."""


class OperationWaiter:
    """The one waiter: polls an operation until it has finished; every wait is bounded, goes through the injected
    clock, and every call through the run's retry policy."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.timing = runtime.timing
        self.retry = runtime.retry

    def describe(self, port: StackSets, stack_set: str, operation_id: str) -> OperationView:
        """DescribeStackSetOperation (strongly consistent), through the retry policy."""
        return self.retry.call(lambda: port.describe_operation(stack_set, operation_id),
                               f"DescribeStackSetOperation {operation_id}")

    def wait(self, port: StackSets, stack_set: str, operation_id: str, *, bound: float,
             op: Operation | None = None) -> OperationView:
        """Poll until the operation is SUCCEEDED, FAILED or STOPPED; raise OperationTimeout after ``bound`` s."""
        started = self.timing.now()
        intervals = self.timing.poll_intervals()
        view = self.describe(port, stack_set, operation_id)
        while not view.status.finished:
            self.check_bound(stack_set, operation_id, view, started, bound,
                             hint=f"{FOLLOW_LATER}, or raise the bound with CLUMIO_ORG_WAIT_SECONDS")
            self.timing.sleep(intervals.next())
            view = self.describe(port, stack_set, operation_id)
            if op is not None and self.runtime.progress.wants_instance_counts:
                self._report_counts(port, op, started)
        return view

    def check_bound(self, stack_set: str, operation_id: str, view: OperationView, started: float, bound: float, *,
                    hint: str = FOLLOW_LATER) -> None:
        """Raise OperationTimeout once an operation still running was followed for ``bound`` seconds."""
        waited = self.timing.now() - started
        if waited >= bound:
            raise OperationTimeout(f"operation {operation_id} on StackSet {stack_set} is still {view.status.value} "
                                   f"after {int(waited)}s", hint=hint)

    def _report_counts(self, port: StackSets, op: Operation, started: float) -> None:
        """Instances done/total for the live display; ListStackSetOperationResults is eventually consistent, so
        these counts are indicative only and never used for decisions."""
        try:
            rows = port.list_operation_results(op.stack_set, op.operation_id)
        except ReconcilerError:
            return
        done = sum(1 for r in rows if r.status.finished)
        failed = sum(1 for r in rows if r.status.failed)
        total = max(len(op.instances), len(rows))
        elapsed = self.timing.now() - started
        eta = (elapsed / done * (total - done)) if done else (op.estimate_seconds - elapsed or None)
        self.runtime.progress.operation_polled(op, done, total, failed, eta)

    def failures(self, port: StackSets, stack_set: str, operation_id: str,
                 view: OperationView) -> tuple[Failure, ...]:
        """Every FAILED/CANCELLED (account, region) with its StatusReason; when the operation failed as a whole but
        the results list has not caught up (eventual consistency), poll it a few times before settling."""
        attempt = 0
        while True:
            rows = self.retry.call(lambda: port.list_operation_results(stack_set, operation_id),
                                   f"ListStackSetOperationResults {operation_id}")
            found = tuple(sorted(
                Failure(r.account, r.region, r.status_reason or f"{r.status.value} (no reason given)", stack_set,
                        FAILURE_STATUS[r.status])
                for r in rows if r.status.failed
            ))
            expected = view.failed_count or (1 if view.status is OperationStatus.FAILED else 0)
            if len(found) >= expected or attempt >= RESULTS_CATCH_UP_READS:
                return found
            self.timing.sleep(self.timing.backoff(attempt, base=2.0))
            attempt += 1
