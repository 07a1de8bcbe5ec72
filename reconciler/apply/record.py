"""Journalling an operation's end as its own step: what it reached goes to state, then the journal entry closes —
in as few atomic writes as possible, so a killed run leaves either the old record or the new one."""

from __future__ import annotations

from reconciler.apply.context import ApplyRun
from reconciler.apply.model import Failure, OperationOutcome
from reconciler.core.live import OperationStatus
from reconciler.core.plan import Operation, OperationKind
from reconciler.state import JournalEntry, JournalStatus

# How an operation's final status is journalled; anything else (FAILED) is FAILED.
JOURNAL_STATUS = {OperationStatus.SUCCEEDED: JournalStatus.SUCCEEDED, OperationStatus.STOPPED: JournalStatus.STOPPED}


def journal_status(status: OperationStatus) -> JournalStatus:
    return JOURNAL_STATUS.get(status, JournalStatus.FAILED)


def record_outcome(run: ApplyRun, op: Operation, outcome: OperationOutcome) -> None:
    """Instances, the StackSet record (UpdateStackSet changes the definition even when it fails, §A4) and the
    journal entry."""
    version = run.stack_sets.gate_versions().get(op.stack_set)
    run.journal.record_instances(op, outcome.failures, version, write=False)
    if op.kind is OperationKind.UPDATE_STACK_SET:
        # Recomputed rather than remembered so a resumed (followed) update records the same decision.
        definition, _ = run.stack_sets.definition_and_body(run.port_for(op.stack_set), op)
        params = run.stack_sets.parameters(definition, creating=False)
        run.journal.record_stack_set(definition, params.secrets_sent)
    run.journal.finished(op.operation_id, journal_status(outcome.status), outcome.failures)


def done(entry: JournalEntry | None) -> bool:
    """The journal says this operation succeeded in an earlier run: it is not run again."""
    return entry is not None and entry.status is JournalStatus.SUCCEEDED


def outcome_from_journal(op: Operation, entry: JournalEntry) -> OperationOutcome:
    failures = tuple(Failure(f.account, f.region, f.reason, op.stack_set) for f in entry.failures)
    return OperationOutcome(op.operation_id, OperationStatus.SUCCEEDED, failures, None, 0.0, len(op.instances))
