"""Resuming after a killed apply: find an operation again by its deterministic id, and follow what an earlier run
left SUBMITTED/RUNNING to its end before anything new starts (never a second operation for one step)."""

from __future__ import annotations

from collections.abc import Callable

from reconciler.apply.journal import Journal
from reconciler.apply.progress import Progress
from reconciler.apply.timing import Timing
from reconciler.apply.wait import OperationWaiter
from reconciler.core.errors import ProviderError, ReconcilerError
from reconciler.core.live import OperationView
from reconciler.core.ports import StackSets
from reconciler.state import JournalStatus


def find_operation(waiter: OperationWaiter, port: StackSets, stack_set: str,
                   operation_id: str) -> OperationView | None:
    """The operation if AWS has it; None if AWS never got it (DescribeStackSetOperation says not found and
    ListStackSetOperations does not list it either)."""
    try:
        return waiter.describe(port, stack_set, operation_id)
    except ProviderError as exc:
        if not not_found(exc):
            raise
    try:
        listed = {v.operation_id: v for v in port.list_operations(stack_set)}
    except ProviderError as exc:
        if not_found(exc):
            return None  # the StackSet itself does not exist: nothing of ours ever ran on it
        raise
    return listed.get(operation_id)


def settle_unfinished(journal: Journal, port_for: Callable[[str], StackSets], waiter: OperationWaiter,
                      progress: Progress, timing: Timing, *, except_plan: str | None = None) -> int:
    """Follow every journal entry left SUBMITTED/RUNNING by a killed apply (of another plan than
    ``except_plan``) to its end and journal how it ended; returns how many were found. Run before discovery, so a
    new plan is made against a world where our own operations have finished."""
    count = 0
    for entry in journal.unfinished():
        if entry.plan_id == except_plan:
            continue
        count += 1
        port = port_for(entry.stack_set)
        view = find_operation(waiter, port, entry.stack_set, entry.operation_id)
        if view is None:
            progress.note(f"journal: {entry.operation_id} (plan {entry.plan_id}) never reached AWS")
            journal.finished(entry.operation_id, JournalStatus.SKIPPED)
            continue
        progress.note(f"journal: following {entry.operation_id} left {entry.status.value} by an earlier apply "
                      f"(plan {entry.plan_id})")
        view = waiter.wait(port, entry.stack_set, entry.operation_id, bound=timing.own_wait_seconds)
        failures = waiter.failures(port, entry.stack_set, entry.operation_id, view)
        journal.finished(entry.operation_id, JournalStatus(view.status.value), failures)
    return count


def not_found(exc: ReconcilerError) -> bool:
    text = f"{type(exc).__name__} {exc.message}".lower()
    return "notfound" in text.replace(" ", "") or "not found" in text


