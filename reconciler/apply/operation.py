"""One operation of a plan, in steps: journal it SUBMITTED, resume it or submit it (one action per kind,
actions.py), journal it RUNNING, wait for it with the one waiter, and journal how it ended (record.py)."""

from __future__ import annotations

from reconciler.apply.actions import SUBMITS, create_stack_set
from reconciler.apply.context import ApplyRun, Running
from reconciler.apply.model import OperationOutcome
from reconciler.apply.record import done, outcome_from_journal, record_outcome
from reconciler.apply.resume import found_again
from reconciler.core.live import OperationView
from reconciler.core.plan import Operation, OperationKind
from reconciler.core.ports import StackSets


def run_operation(run: ApplyRun, op: Operation) -> OperationOutcome:
    """Start one operation and follow it to its end."""
    started = start(run, op)
    if isinstance(started, OperationOutcome):
        return started
    view = run.waiter.wait(started.port, op.stack_set, op.operation_id, bound=run.timing.own_wait_seconds, op=op)
    return complete(run, started, view)


def start(run: ApplyRun, op: Operation) -> OperationOutcome | Running:
    """Journal, then submit (or find again after a crash): the operation is RUNNING in AWS when this returns a
    Running; operations with nothing to wait for (CreateStackSet, already done) return their outcome."""
    entry = run.journal.entry(op.operation_id)
    if done(entry):
        assert entry is not None
        run.progress.operation_submitted(op, "already done (journal):")
        return outcome_from_journal(op, entry)
    if op.kind is OperationKind.CREATE_STACK_SET:
        return create_stack_set(run, op, entry)
    port = run.port_for(op.stack_set)
    running = Running(op, port, run.timing.now())
    # Registered before the submit: a Ctrl-C landing anywhere after it (the journal write that follows the call
    # included) still finds the operation to stop.
    run.running[op.operation_id] = running
    try:
        if not found_again(run, op, port, entry):
            _submit(run, op, port)
        run.journal.running(op.operation_id)
    except KeyboardInterrupt:
        raise
    except BaseException:
        run.running.pop(op.operation_id, None)
        raise
    return running


def _submit(run: ApplyRun, op: Operation, port: StackSets) -> None:
    try:
        action = SUBMITS[op.kind]
    except KeyError:
        raise AssertionError(f"unexpected operation kind {op.kind}") from None
    run.journal.submitted(run.plan.plan_id, op)
    submission = run.submitter.submit(port, op, lambda: action(run, port, op))
    if submission.followed:
        run.followed += 1
        run.progress.operation_submitted(op, "following (already submitted)")
    else:
        run.submitted += 1
        run.progress.operation_submitted(op, "submitted")


def complete(run: ApplyRun, running: Running, view: OperationView) -> OperationOutcome:
    """The operation finished: read its failed (account, region) rows, record everything, report."""
    op = running.op
    run.running.pop(op.operation_id, None)
    failures = run.waiter.failures(running.port, op.stack_set, op.operation_id, view)
    outcome = OperationOutcome(op.operation_id, view.status, failures, view.status_reason,
                               run.timing.now() - running.started, len(op.instances))
    record_outcome(run, op, outcome)
    run.progress.operation_finished(op, outcome)
    return outcome

