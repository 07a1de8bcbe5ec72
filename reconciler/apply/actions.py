"""One small action per operation kind — the AWS call it makes and nothing else (reference/aws-stacksets.md §A4).

The instance actions and UpdateStackSet return the operation id AWS answers with; journalling, submitting exactly
once and waiting are the steps around them (operation.py). CreateStackSet starts no operation, so its action is the
whole step: create, journal, done."""

from __future__ import annotations

from collections.abc import Callable

from reconciler.apply.context import ApplyRun
from reconciler.apply.model import OperationOutcome
from reconciler.core.errors import ProviderError, ReconcilerError
from reconciler.core.live import OperationStatus
from reconciler.core.plan import Operation, OperationKind
from reconciler.core.ports import StackSets
from reconciler.state import JournalEntry, JournalStatus

Submit = Callable[[ApplyRun, StackSets, Operation], str]


def update_stack_set(run: ApplyRun, port: StackSets, op: Operation) -> str:
    definition, body = run.stack_sets.definition_and_body(port, op)
    params = run.stack_sets.parameters(definition, creating=False)
    return port.update_stack_set(run.stack_sets.tagged(definition), body, params.parameters, op)


def create_instances(_run: ApplyRun, port: StackSets, op: Operation) -> str:
    return port.create_instances(op)


def update_instances(_run: ApplyRun, port: StackSets, op: Operation) -> str:
    return port.update_instances(op, ())


def delete_instances(_run: ApplyRun, port: StackSets, op: Operation) -> str:
    return port.delete_instances(op)


SUBMITS: dict[OperationKind, Submit] = {
    OperationKind.UPDATE_STACK_SET: update_stack_set,
    OperationKind.CREATE_STACK_INSTANCES: create_instances,
    OperationKind.UPDATE_STACK_INSTANCES: update_instances,
    OperationKind.DELETE_STACK_INSTANCES: delete_instances,
}


def create_stack_set(run: ApplyRun, op: Operation, entry: JournalEntry | None) -> OperationOutcome:
    """CreateStackSet has no operation: create, journal, done. After a crash between the call and the journal
    write, DescribeStackSet tells us it exists."""
    port = run.port_for(op.stack_set)
    source = run.stack_sets
    definition = source.definition(op)
    started = run.timing.now()
    params = source.parameters(definition, creating=True)
    if entry is not None and port.describe_stack_set(op.stack_set) is not None:
        # Killed between CreateStackSet and the journal write: it was created with the values fetched then.
        run.journal.record_stack_set(definition, params.secrets_sent)
        run.progress.operation_submitted(op, "resumed: already created")
    else:
        run.journal.submitted(run.plan.plan_id, op)
        tagged, body = source.tagged(definition), source.body()
        try:
            run.runtime.retry.call(lambda: port.create_stack_set(tagged, body, params.parameters),
                                   f"CreateStackSet {op.stack_set}")
        except ProviderError as exc:
            if "namealreadyexists" not in exc.message.lower().replace(" ", ""):
                raise
            raise ReconcilerError(
                f"StackSet {op.stack_set} was created by someone else since the plan was made",
                hint="re-run plan: it will compare the existing StackSet with the desired state") from exc
        run.journal.record_stack_set(definition, params.secrets_sent)
        run.submitted += 1
        run.progress.operation_submitted(op, "created")
    outcome = OperationOutcome(op.operation_id, OperationStatus.SUCCEEDED, (), None, run.timing.now() - started)
    run.journal.finished(op.operation_id, JournalStatus.SUCCEEDED)
    run.progress.operation_finished(op, outcome)
    return outcome
