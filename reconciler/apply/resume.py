"""Resuming after a killed apply: find an operation again by its deterministic id, and follow what an earlier run
left SUBMITTED/RUNNING to its end before anything new starts (never a second operation for one step)."""

from __future__ import annotations

from collections.abc import Callable

from reconciler.apply.context import ApplyRun
from reconciler.apply.journal import Journal
from reconciler.apply.record import journal_status
from reconciler.apply.runtime import Runtime
from reconciler.apply.wait import OperationWaiter
from reconciler.core.errors import ProviderError, ReconcilerError
from reconciler.core.live import OperationView
from reconciler.core.plan import Operation
from reconciler.core.ports import StackSets
from reconciler.state import JournalEntry, JournalStatus


def found_again(run: ApplyRun, op: Operation, port: StackSets, entry: JournalEntry | None) -> bool:
    """The resume step: an operation the journal has SUBMITTED/RUNNING (a killed run of this plan) that AWS has
    under its id is followed, never submitted a second time."""
    if entry is None or entry.status not in (JournalStatus.SUBMITTED, JournalStatus.RUNNING):
        return False
    if find_operation(run.waiter, port, op.stack_set, op.operation_id) is None:
        return False
    run.followed += 1
    run.progress.operation_submitted(op, "resumed: following")
    return True


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


def settle_unfinished(journal: Journal, port_for: Callable[[str], StackSets], runtime: Runtime, *,
                      except_plan: str | None = None) -> int:
    """Follow every journal entry left SUBMITTED/RUNNING by a killed apply (of another plan than
    ``except_plan``) to its end and journal how it ended; returns how many were found. Run before discovery, so a
    new plan is made against a world where our own operations have finished."""
    waiter = OperationWaiter(runtime)
    count = 0
    for entry in journal.unfinished():
        if entry.plan_id == except_plan:
            continue
        count += 1
        port = port_for(entry.stack_set)
        view = find_operation(waiter, port, entry.stack_set, entry.operation_id)
        if view is None:
            runtime.progress.note(f"journal: {entry.operation_id} (plan {entry.plan_id}) never reached AWS")
            journal.finished(entry.operation_id, JournalStatus.SKIPPED)
            continue
        runtime.progress.note(f"journal: following {entry.operation_id} left {entry.status.value} by an earlier "
                              f"apply (plan {entry.plan_id})")
        view = waiter.wait(port, entry.stack_set, entry.operation_id, bound=runtime.timing.own_wait_seconds)
        failures = waiter.failures(port, entry.stack_set, entry.operation_id, view)
        journal.finished(entry.operation_id, journal_status(view.status), failures)
    return count


def not_found(exc: ReconcilerError) -> bool:
    text = f"{type(exc).__name__} {exc.message}".lower()
    return "notfound" in text.replace(" ", "") or "not found" in text


