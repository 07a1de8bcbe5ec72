"""The apply journal: every submit and every completion written to state atomically, so a killed apply can be
resumed by the next one without a second operation for the same step (issue 5, point 5)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from reconciler.apply.model import Failure, Outcome
from reconciler.core.keys import InstanceKey
from reconciler.core.live import StackInstanceStatus
from reconciler.core.plan import Operation, OperationKind, Plan, StackSetDefinition
from reconciler.core.secrets import Secret
from reconciler.state import (
    InstanceRecord,
    JournalEntry,
    JournalFailure,
    JournalStatus,
    StackSetRecord,
    State,
    StateBackend,
    utc_now,
)

# last_apply.outcome while a run is under way; when it ends, its Outcome's value (reconciler/state/model.py)
RUNNING = "running"


class Journal:
    """Holds the current State and writes it through the backend after every step.

    The backend's ``write`` returns the state as stored (serial bumped); we keep writing from that one, so a second
    writer is detected by the backend instead of being overwritten.
    """

    def __init__(self, backend: StateBackend, state: State | None) -> None:
        self.backend = backend
        self.state = state if state is not None else State.new()

    def _write(self, state: State) -> None:
        self.state = self.backend.write(state)

    # -- reading -------------------------------------------------------------------------------------------
    def entry(self, operation_id: str) -> JournalEntry | None:
        return self.state.journal_entry(operation_id)

    def unfinished(self) -> list[JournalEntry]:
        return self.state.unfinished_operations()

    def interrupted_plan(self) -> str | None:
        """The plan id of an apply that was killed (started, never finished), if that is the latest apply."""
        last = self.state.last_apply or {}
        if last.get("plan_id") and not last.get("finished_at"):
            return str(last["plan_id"])
        return None

    def relink(self, lineage: str) -> None:
        """Take on the managed StackSet's lineage (``--adopt`` into a new state, ``--force`` for a state of another
        deployment): written at once, over the stored lineage, so the link holds even if nothing else changes."""
        self.state = self.backend.write(replace(self.state, lineage=lineage), force=True)

    # -- run boundaries ------------------------------------------------------------------------------------
    def begin(self, plan: Plan) -> None:
        last = self.state.last_apply or {}
        started = last.get("started_at") if last.get("plan_id") == plan.plan_id and not last.get("finished_at") \
            else utc_now()
        self._write(self.state.with_last_apply(plan_id=plan.plan_id, started_at=started, finished_at=None,
                                               outcome=RUNNING))

    def end(self, outcome: Outcome, detail: str | None = None) -> None:
        # The serial this very write stores (the backend bumps the one it was given): "applied (serial N)".
        fields: dict[str, object] = {"finished_at": utc_now(), "outcome": outcome.value,
                                     "finished_serial": self.state.serial + 1}
        if detail:
            fields["detail"] = detail
        self._write(self.state.with_last_apply(**fields))

    def suspend(self, detail: str) -> None:
        """The run stopped for a reason the next run cures (credentials expired, an endpoint went away): the apply
        stays unfinished (no ``finished_at``), so applying the same plan file again resumes it."""
        self._write(self.state.with_last_apply(outcome=Outcome.SUSPENDED.value, detail=detail))

    def applied(self, plan_id: str) -> tuple[str, int | None] | None:
        """(outcome, serial) when plan ``plan_id`` was applied before and that apply ended; None otherwise."""
        last = self.state.last_apply or {}
        if last.get("plan_id") == plan_id and last.get("finished_at"):
            serial = last.get("finished_serial")
            return str(last.get("outcome") or "finished"), int(serial) if isinstance(serial, int) else None
        if last.get("plan_id") != plan_id and any(e.plan_id == plan_id for e in self.state.journal):
            return "superseded by a later apply", None
        return None

    # -- operations ----------------------------------------------------------------------------------------
    def submitted(self, plan_id: str, op: Operation) -> None:
        """Written *before* the call: a crash right after it leaves an entry whose id finds the operation."""
        self._write(self.state.with_journal_entry(JournalEntry(
            plan_id=plan_id, operation_id=op.operation_id, index=op.index, kind=op.kind.value,
            stack_set=op.stack_set, wave=op.wave, status=JournalStatus.SUBMITTED, submitted_at=utc_now())))

    def running(self, operation_id: str) -> None:
        self._set(operation_id, JournalStatus.RUNNING)

    def finished(self, operation_id: str, status: JournalStatus, failures: Iterable[Failure] = ()) -> None:
        self._set(operation_id, status, finished_at=utc_now(),
                  failures=[JournalFailure(f.account, f.region, f.reason) for f in failures])

    def skipped(self, plan_id: str, ops: Iterable[Operation]) -> None:
        """Operations not run (a wave over its budget, or Ctrl-C): recorded so `state show` says where it stopped."""
        state = self.state
        for op in ops:
            if state.journal_entry(op.operation_id) is None:
                state = state.with_journal_entry(JournalEntry(
                    plan_id=plan_id, operation_id=op.operation_id, index=op.index, kind=op.kind.value,
                    stack_set=op.stack_set, wave=op.wave, status=JournalStatus.SKIPPED))
        if state is not self.state:
            self._write(state)

    def _set(self, operation_id: str, status: JournalStatus, **fields: object) -> None:
        entry = self.state.journal_entry(operation_id)
        if entry is None:
            return
        self._write(self.state.with_journal_entry(replace(entry, status=status, **fields)))  # type: ignore[arg-type]

    # -- what was applied ----------------------------------------------------------------------------------
    def record_instances(self, op: Operation, failures: Iterable[Failure], template_version: str | None,
                         *, write: bool = True) -> None:
        """Every (account, region) the operation reached, with how it ended; deleted instances leave state."""
        failed = {(f.account, f.region) for f in failures}
        now = utc_now()
        instances = dict(self.state.instances)
        for key in op.instances:
            if op.kind is OperationKind.DELETE_STACK_INSTANCES and (key.account, key.region) not in failed:
                instances.pop(key, None)
                continue
            previous = instances.get(key)
            if (key.account, key.region) in failed:
                record = InstanceRecord(StackInstanceStatus.OUTDATED.value, op.operation_id,
                                        previous.template_version if previous else None, None, now)
            else:
                record = InstanceRecord(StackInstanceStatus.CURRENT.value, op.operation_id, template_version,
                                        previous.connected if previous else None, now)
            instances[key] = record
        state = replace(self.state, instances=instances)
        if write:
            self._write(state)
        else:
            self.state = state

    def record_connected(self, connected: Mapping[InstanceKey, bool]) -> None:
        if not connected:
            return
        instances = dict(self.state.instances)
        for key, ok in connected.items():
            if key in instances:
                instances[key] = replace(instances[key], connected=ok)
        self._write(replace(self.state, instances=instances))

    def record_stack_set(self, definition: StackSetDefinition, secrets: Mapping[str, Secret] | None) -> None:
        """What the StackSet now carries: template version and hash, non-secret parameters, and fingerprints of the
        NoEcho values (kept from before when they were passed as UsePreviousValue)."""
        previous = self.state.stack_sets.get(definition.name)
        fingerprints = dict(previous.secret_fingerprints) if previous else {}
        if secrets is not None:
            fingerprints.update({name: value.fingerprint() for name, value in secrets.items()})
        record = StackSetRecord(
            template_version=definition.template_version,
            template_sha256=definition.template_sha256,
            parameters=dict(definition.parameters),
            secret_fingerprints=fingerprints,
            permission_model=definition.permission_model.value,
            updated_at=utc_now(),
        )
        self._write(self.state.with_stack_set(definition.name, record))
