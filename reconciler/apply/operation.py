"""One operation of a plan, from journal entry to recorded outcome — including finding it again after a crash."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace

from reconciler.apply import redact
from reconciler.apply.journal import Journal
from reconciler.apply.model import Failure, OperationOutcome
from reconciler.apply.options import ApplyOptions, ApplyPorts
from reconciler.apply.params import ParameterSet, definition_from_live, stack_set_parameters
from reconciler.apply.progress import Progress
from reconciler.apply.resume import find_operation, settle_unfinished
from reconciler.apply.submit import Submitter
from reconciler.apply.timing import Timing
from reconciler.apply.wait import OperationTimeout, OperationWaiter
from reconciler.core.errors import ProviderError, ReconcilerError
from reconciler.core.live import LINEAGE_TAG, OperationStatus, OperationView
from reconciler.core.plan import Operation, OperationKind, Plan, StackSetDefinition
from reconciler.core.ports import ClumioTemplate, DeploymentParameters, StackSets
from reconciler.state import JournalEntry, JournalStatus

log = logging.getLogger(__name__)

STACK_SET_KINDS = (OperationKind.CREATE_STACK_SET, OperationKind.UPDATE_STACK_SET)


class TemplateChanged(ReconcilerError):
    """Clumio now serves a template whose content differs from the one the plan was reviewed with."""


@dataclass(frozen=True)
class Running:
    """An operation AWS is running for us: which port to ask about it, and when we started following it."""

    op: Operation
    port: StackSets
    started: float


class OperationRunner:
    """Journal SUBMITTED → submit (or find it again) → journal RUNNING → wait → results → journal the end.

    ``running`` holds the operations being waited for, so Ctrl-C can offer to stop them.
    """

    def __init__(self, plan: Plan, ports: ApplyPorts, journal: Journal, options: ApplyOptions, *, timing: Timing,
                 progress: Progress) -> None:
        self.plan = plan
        self.ports = ports
        self.journal = journal
        self.options = options
        self.timing = timing
        self.progress = progress
        self.waiter = OperationWaiter(timing, progress)
        self.submitter = Submitter(timing, self.waiter, progress)
        self.definitions: dict[str, StackSetDefinition] = {c.stack_set: c.definition for c in plan.stack_set_changes}
        self.template: ClumioTemplate | None = None
        self.deployment: DeploymentParameters | None = None
        # Operations submitted and not yet finished, so Ctrl-C can offer to stop them.
        self.running: dict[str, Running] = {}
        self._live: dict[str, tuple[StackSetDefinition, str]] = {}
        self.submitted = 0
        self.followed = 0

    # -- before anything runs ------------------------------------------------------------------------------
    def prepare(self) -> None:
        """Fetch Clumio's template and deployment parameters when the plan writes a StackSet definition, and refuse
        if the template is not the one the plan was reviewed with."""
        pending = [op for op in self.plan.operations if op.kind in STACK_SET_KINDS and op.stack_set in self.definitions
                   and not _done(self.journal.entry(op.operation_id))]
        if not pending:
            return
        clumio = self.ports.clumio
        self.template = clumio.org_template(self.options.asset_types)
        for op in pending:
            definition = self._definition(op)
            if self.template.sha256 != definition.template_sha256:
                raise TemplateChanged(
                    "Clumio's template changed since the plan was made; re-run plan",
                    hint=f"the plan was made with template {definition.template_version} (sha256 "
                         f"{definition.template_sha256[:12]}…), Clumio now serves {self.template.version} (sha256 "
                         f"{self.template.sha256[:12]}…); run `clumio-org plan` again and review it",
                )
        self.deployment = clumio.org_deployment_parameters(self.options.org_id)
        redact.remember(self.deployment.token, self.deployment.external_id)

    def gate_versions(self) -> dict[str, str | None]:
        """The template version each StackSet's connections must report: the plan's definition, else what state
        says was deployed, else any."""
        versions: dict[str, str | None] = {
            name: record.template_version for name, record in self.journal.state.stack_sets.items()}
        versions.update({name: d.template_version for name, d in self.definitions.items()})
        return versions

    def port_for(self, stack_set: str) -> StackSets:
        if self.options.management_stack_set and stack_set == self.options.management_stack_set:
            return self.ports.management_stacksets
        return self.ports.stacksets

    # -- resume --------------------------------------------------------------------------------------------
    def settle_earlier_operations(self) -> None:
        """Operations an earlier, killed apply of *another* plan left SUBMITTED/RUNNING: follow each to its end so
        nothing we start collides with it, and journal how it ended."""
        settle_unfinished(self.journal, self.port_for, self.waiter, self.progress, self.timing,
                          except_plan=self.plan.plan_id)

    def find(self, port: StackSets, stack_set: str, operation_id: str) -> OperationView | None:
        return find_operation(self.waiter, port, stack_set, operation_id)

    # -- one operation -------------------------------------------------------------------------------------
    def run(self, op: Operation) -> OperationOutcome:
        """Start one operation and follow it to its end."""
        started = self.start(op)
        if isinstance(started, OperationOutcome):
            return started
        view = self.waiter.wait(started.port, op.stack_set, op.operation_id, bound=self.timing.own_wait_seconds,
                                op=op)
        return self.complete(started, view)

    def run_lanes(self, lanes: Sequence[Sequence[Operation]]) -> list[tuple[Operation, OperationOutcome]]:
        """Operations of one wave, one lane per StackSet: inside a lane one after another (one operation at a time
        per StackSet, §A9), lanes side by side (different StackSets do not wait for each other). After a failed
        operation no new one starts; running ones are followed to their end. Results in completion order."""
        if len(lanes) == 1:
            results: list[tuple[Operation, OperationOutcome]] = []
            for op in lanes[0]:
                outcome = self.run(op)
                results.append((op, outcome))
                if not outcome.ok:
                    break
            return results
        queues = [deque(lane) for lane in lanes]
        active: dict[int, Running] = {}
        results = []
        broken = False
        intervals = self.timing.poll_intervals()
        while True:
            for lane, queue in enumerate(queues):
                while not broken and lane not in active and queue:
                    op = queue.popleft()
                    started = self.start(op)
                    if isinstance(started, OperationOutcome):
                        results.append((op, started))
                        broken = not started.ok
                    else:
                        active[lane] = started
                        intervals.reset(self.timing.poll_seconds)
            if not active:
                return results
            self.timing.sleep(intervals.next())
            for lane, running in list(active.items()):
                view = self.waiter.describe(running.port, running.op.stack_set, running.op.operation_id)
                if view.status.finished:
                    del active[lane]
                    outcome = self.complete(running, view)
                    results.append((running.op, outcome))
                    broken = broken or not outcome.ok
                elif self.timing.now() - running.started >= self.timing.own_wait_seconds:
                    raise OperationTimeout(
                        f"operation {running.op.operation_id} on StackSet {running.op.stack_set} is still "
                        f"{view.status.value} after {int(self.timing.now() - running.started)}s",
                        hint="it keeps running in AWS; re-run apply later (it will find and follow the operation)")

    def start(self, op: Operation) -> OperationOutcome | Running:
        """Journal, then submit (or find again after a crash): the operation is RUNNING in AWS when this returns a
        Running; operations with nothing to wait for (CreateStackSet, already done) return their outcome."""
        entry = self.journal.entry(op.operation_id)
        if _done(entry):
            assert entry is not None
            self.progress.operation_submitted(op, "already done (journal):")
            return _outcome_from_journal(op, entry)
        if op.kind is OperationKind.CREATE_STACK_SET:
            return self._create_stack_set(op, entry)
        port = self.port_for(op.stack_set)
        running = Running(op, port, self.timing.now())
        # Registered before the submit: a Ctrl-C landing anywhere after it (the journal write that follows the
        # call included) still finds the operation to stop.
        self.running[op.operation_id] = running
        try:
            self._submit_or_find(op, port, entry)
            self.journal.running(op.operation_id)
        except KeyboardInterrupt:
            raise
        except BaseException:
            self.running.pop(op.operation_id, None)
            raise
        return running

    def _submit_or_find(self, op: Operation, port: StackSets, entry: JournalEntry | None) -> None:
        view = None
        if entry is not None and entry.status in (JournalStatus.SUBMITTED, JournalStatus.RUNNING):
            view = self.find(port, op.stack_set, op.operation_id)
        if view is not None:
            self.followed += 1
            self.progress.operation_submitted(op, "resumed: following")
            return
        self.journal.submitted(self.plan.plan_id, op)
        submission = self.submitter.submit(port, op, lambda: self._call(port, op))
        if submission.followed:
            self.followed += 1
            self.progress.operation_submitted(op, "following (already submitted)")
        else:
            self.submitted += 1
            self.progress.operation_submitted(op, "submitted")

    def complete(self, running: Running, view: OperationView) -> OperationOutcome:
        """The operation finished: read its failed (account, region) rows, record everything, report."""
        op = running.op
        self.running.pop(op.operation_id, None)
        failures = self.waiter.failures(running.port, op.stack_set, op.operation_id, view)
        outcome = OperationOutcome(op.operation_id, view.status, failures, view.status_reason,
                                   self.timing.now() - running.started, len(op.instances))
        self._record(op, outcome)
        self.progress.operation_finished(op, outcome)
        return outcome

    def _call(self, port: StackSets, op: Operation) -> str:
        if op.kind is OperationKind.UPDATE_STACK_SET:
            definition, body = self._definition_and_body(port, op)
            params = self._parameters(definition, creating=False)
            return port.update_stack_set(self._tagged(definition), body, params.parameters, op)
        if op.kind is OperationKind.CREATE_STACK_INSTANCES:
            return port.create_instances(op)
        if op.kind is OperationKind.UPDATE_STACK_INSTANCES:
            return port.update_instances(op, ())
        if op.kind is OperationKind.DELETE_STACK_INSTANCES:
            return port.delete_instances(op)
        raise AssertionError(f"unexpected operation kind {op.kind}")

    def _create_stack_set(self, op: Operation, entry: JournalEntry | None) -> OperationOutcome:
        """CreateStackSet has no operation: create, journal, done. After a crash between the call and the journal
        write, DescribeStackSet tells us it exists."""
        port = self.port_for(op.stack_set)
        definition = self._definition(op)
        started = self.timing.now()
        exists = entry is not None and port.describe_stack_set(op.stack_set) is not None
        if not exists:
            self.journal.submitted(self.plan.plan_id, op)
            params = self._parameters(definition, creating=True)
            assert self.template is not None
            body = self.template.body
            try:
                tagged = self._tagged(definition)
                self.waiter.retry.call(lambda: port.create_stack_set(tagged, body, params.parameters),
                                       f"CreateStackSet {op.stack_set}")
            except ProviderError as exc:
                if "namealreadyexists" not in exc.message.lower().replace(" ", ""):
                    raise
                raise ReconcilerError(
                    f"StackSet {op.stack_set} was created by someone else since the plan was made",
                    hint="re-run plan: it will compare the existing StackSet with the desired state") from exc
            self.journal.record_stack_set(definition, params.secrets_sent)
            self.submitted += 1
            self.progress.operation_submitted(op, "created")
        else:
            # Killed between CreateStackSet and the journal write: it was created with the values fetched then.
            self.journal.record_stack_set(definition, self._parameters(definition, creating=True).secrets_sent)
            self.progress.operation_submitted(op, "resumed: already created")
        outcome = OperationOutcome(op.operation_id, OperationStatus.SUCCEEDED, (), None, self.timing.now() - started)
        self.journal.finished(op.operation_id, JournalStatus.SUCCEEDED)
        self.progress.operation_finished(op, outcome)
        return outcome

    def _parameters(self, definition: StackSetDefinition, *, creating: bool) -> ParameterSet:
        if self.deployment is None:
            self.deployment = self.ports.clumio.org_deployment_parameters(self.options.org_id)
            redact.remember(self.deployment.token, self.deployment.external_id)
        return stack_set_parameters(definition, self.deployment, creating=creating,
                                    rotate=self.options.rotate_credentials,
                                    record=self.journal.state.stack_sets.get(definition.name))

    def _definition_and_body(self, port: StackSets, op: Operation) -> tuple[StackSetDefinition, str]:
        """The definition and template an UpdateStackSet sends. A plan that only re-pushes OUTDATED instances
        (a new OperationId retries them, §A4) carries no definition: then the StackSet's live definition and
        template are sent back unchanged, with the NoEcho values as UsePreviousValue."""
        if op.stack_set in self.definitions:
            assert self.template is not None
            return self.definitions[op.stack_set], self.template.body
        if op.stack_set not in self._live:
            live = port.describe_stack_set(op.stack_set)
            if live is None:
                raise ReconcilerError(f"StackSet {op.stack_set} does not exist, but the plan updates it",
                                      hint="someone deleted it since the plan was made; re-run plan")
            record = self.journal.state.stack_sets.get(op.stack_set)
            self._live[op.stack_set] = (definition_from_live(live, record), live.template_body)
        return self._live[op.stack_set]

    def _tagged(self, definition: StackSetDefinition) -> StackSetDefinition:
        """The definition as sent: its tags plus the state's lineage (LINEAGE_TAG), which ties the StackSet to this
        state; UpdateStackSet replaces the tag list, so every call carries it."""
        tags = {**dict(definition.tags), LINEAGE_TAG: self.journal.state.lineage}
        return replace(definition, tags=tuple(sorted(tags.items())))

    def _definition(self, op: Operation) -> StackSetDefinition:
        try:
            return self.definitions[op.stack_set]
        except KeyError:
            raise ReconcilerError(f"the plan has {op.kind.value} for {op.stack_set} but no definition of it",
                                  hint="the plan file is damaged; re-run plan") from None

    def _record(self, op: Operation, outcome: OperationOutcome) -> None:
        """Instances, the StackSet record (UpdateStackSet changes the definition even when it fails, §A4) and the
        journal entry, in as few atomic writes as possible."""
        version = self.gate_versions().get(op.stack_set)
        self.journal.record_instances(op, outcome.failures, version, write=False)
        if op.kind is OperationKind.UPDATE_STACK_SET:
            # Recomputed rather than remembered so a resumed (followed) update records the same decision.
            definition, _ = self._definition_and_body(self.port_for(op.stack_set), op)
            params = self._parameters(definition, creating=False)
            self.journal.record_stack_set(definition, params.secrets_sent)
        status = {OperationStatus.SUCCEEDED: JournalStatus.SUCCEEDED, OperationStatus.STOPPED: JournalStatus.STOPPED}
        self.journal.finished(op.operation_id, status.get(outcome.status, JournalStatus.FAILED), outcome.failures)


def _done(entry: JournalEntry | None) -> bool:
    return entry is not None and entry.status is JournalStatus.SUCCEEDED


def _outcome_from_journal(op: Operation, entry: JournalEntry) -> OperationOutcome:
    failures = tuple(Failure(f.account, f.region, f.reason, op.stack_set) for f in entry.failures)
    return OperationOutcome(op.operation_id, OperationStatus.SUCCEEDED, failures, None, 0.0, len(op.instances))
