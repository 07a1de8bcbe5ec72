"""The plain executor (STYLE.md): walk the plan's operations wave by wave — journal, submit, wait, record — gate
each wave on Clumio, and stop before the next wave when a wave spent its failure budget."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace

from reconciler.apply.context import ApplyRun
from reconciler.apply.gate import ConnectionGate
from reconciler.apply.journal import Journal
from reconciler.apply.lanes import lanes_by_stack_set, run_lanes
from reconciler.apply.model import ApplyResult, Failure, OperationOutcome, Outcome, WaveResult
from reconciler.apply.options import ApplyOptions, ApplyPorts
from reconciler.apply.progress import Progress
from reconciler.apply.resume import not_found, settle_unfinished
from reconciler.apply.runtime import Runtime
from reconciler.apply.timing import Timing
from reconciler.core.errors import ReconcilerError, Resumable
from reconciler.core.keys import InstanceKey
from reconciler.core.live import OperationStatus
from reconciler.core.plan import Action, Operation, OperationKind, Plan, WavePlan
from reconciler.core.ports import StackSets
from reconciler.plan.coverage import moves
from reconciler.state import JournalStatus

log = logging.getLogger(__name__)

STACK_SET_WAVE = "stack-set"
REMOVALS_WAVE = "removals"
# Operations whose instances must show up `connected` in Clumio before the next wave (deletes need not).
GATED_KINDS = (OperationKind.CREATE_STACK_INSTANCES, OperationKind.UPDATE_STACK_INSTANCES,
               OperationKind.UPDATE_STACK_SET)


def group_waves(operations: Sequence[Operation]) -> list[tuple[str, list[Operation]]]:
    """Consecutive operations of the same wave, in plan order; operations of no wave (StackSet-wide ones, and the
    removals after the last wave) form their own groups, so a whole-set update is gated like a wave."""
    groups: list[tuple[str, list[Operation]]] = []
    for op in operations:
        name = op.wave or (REMOVALS_WAVE if op.kind is OperationKind.DELETE_STACK_INSTANCES else STACK_SET_WAVE)
        if groups and groups[-1][0] == name:
            groups[-1][1].append(op)
        else:
            groups.append((name, [op]))
    return groups


def failure_budget(wave: WavePlan | None) -> int:
    """How many accounts of a wave may fail before the run stops: the wave's failure tolerance, resolved like AWS
    resolves it (percentages of the wave's accounts, rounded down, §A5)."""
    if wave is None:
        return 0
    return wave.failure_tolerance.resolve(len(wave.accounts), 0)


class Executor:
    """Runs one plan. ``confirm_stop`` is asked on Ctrl-C whether to StopStackSetOperation the running operation
    (the CLI asks on a TTY and answers yes in CI)."""

    def __init__(self, plan: Plan, ports: ApplyPorts, journal: Journal, options: ApplyOptions, *,
                 timing: Timing, progress: Progress,
                 confirm_stop: Callable[[str], bool] = lambda _op: True,
                 recheck: Callable[[str, Sequence[Operation]], str | None] | None = None) -> None:
        self.plan = plan
        self.ports = ports
        self.journal = journal
        self.options = options
        self.timing = timing
        # The one object progress and the clock reach every step through (the waiter, the submitter, the gate).
        self.runtime = Runtime(timing, progress)
        self.confirm_stop = confirm_stop
        # Apply rechecks the guardrails before each wave (docs/reference/guardrails.md §5): a reason stops the run.
        self.recheck = recheck
        self.context = ApplyRun(plan, ports, journal, options, self.runtime)
        self.gate = ConnectionGate(ports.clumio, self.runtime,
                                   moved={pair: row.stack_arn for pair, row in moves(plan.coverage).items()})
        self._waves = {w.name: w for w in plan.waves}
        # The gate verifies what the plan creates or changes: a whole-set UpdateStackSet also reaches instances the
        # plan leaves alone (a suspended account's, whose stack AWS skips), which must not hold a wave back.
        self._changed = {c.key for c in plan.changes if c.action is not Action.REMOVE}

    @property
    def progress(self) -> Progress:
        return self.runtime.progress

    def run(self) -> ApplyResult:
        result = ApplyResult(self.plan.plan_id)
        if not self.plan.operations:
            result.outcome = Outcome.NOTHING_TO_DO
            return result
        started = self.timing.now()
        self.context.stack_sets.prepare()
        self.journal.begin(self.plan)
        groups = group_waves(self.plan.operations)
        try:
            # Operations an earlier, killed apply of *another* plan left SUBMITTED/RUNNING: followed to their end so
            # nothing started here collides with them.
            settle_unfinished(self.journal, self.context.port_for, self.runtime, except_plan=self.plan.plan_id)
            self._walk(groups, result)
        except KeyboardInterrupt:
            self._interrupted(result)
            result.seconds = self.timing.now() - started
            return result
        except ReconcilerError as exc:
            if not isinstance(exc, Resumable):
                raise
            self._suspended(result, exc)
            result.seconds = self.timing.now() - started
            return result
        self._count(result)
        result.outcome = Outcome.FAILED if result.failures or result.stopped_before else Outcome.SUCCEEDED
        result.seconds = self.timing.now() - started
        self.journal.end(result.outcome, result.stop_reason)
        return result

    def _walk(self, groups: list[tuple[str, list[Operation]]], result: ApplyResult) -> None:
        """The waves in plan order; before each, the guardrail recheck; after one over its failure budget, the
        rest is journalled SKIPPED and the run stops."""
        for number, (name, ops) in enumerate(groups, start=1):
            blocked = self.recheck(name, ops) if self.recheck is not None else None
            if blocked is not None:
                result.stopped_before, result.stop_reason = name, blocked
                self._skip(groups[number - 1:])
                return
            wave = self._run_wave(name, ops, number, len(groups))
            result.waves.append(wave)
            if wave.over_budget:
                result.stopped_before = groups[number][0] if number < len(groups) else None
                result.stop_reason = self._stop_reason(wave)
                self._skip(groups[number - 1:])
                return

    def _skip(self, groups: Sequence[tuple[str, list[Operation]]]) -> None:
        self.journal.skipped(self.plan.plan_id, [op for _, ops in groups for op in ops
                                                 if self.journal.entry(op.operation_id) is None])

    def _count(self, result: ApplyResult) -> None:
        result.operations_submitted = self.context.submitted
        result.operations_followed = self.context.followed

    # -- one wave ------------------------------------------------------------------------------------------
    def _run_wave(self, name: str, ops: list[Operation], number: int, total: int) -> WaveResult:
        wave = WaveResult(name)
        started = self.timing.now()
        self.progress.wave_started(name, number, total, len(ops), sum(len(op.instances) for op in ops))
        gated: list[InstanceKey] = []
        broken: OperationOutcome | None = None
        for op, outcome in run_lanes(self.context, lanes_by_stack_set(ops)):
            wave.operations += 1
            wave.instances += len(op.instances)
            wave.failures.extend(outcome.failures)
            if not outcome.ok:
                broken = broken or outcome
                if not outcome.failures:
                    wave.failures.extend(_whole_operation_failed(op, outcome))
                continue
            if op.kind in GATED_KINDS:
                failed = {(f.account, f.region) for f in outcome.failures}
                gated.extend(k for k in op.instances
                             if (k.account, k.region) not in failed and k in self._changed)
        if gated and broken is None:
            self._gate(wave, gated)
        wave.budget = failure_budget(self._waves.get(name))
        wave.over_budget = broken is not None or len(wave.failed_accounts) > wave.budget
        wave.seconds = self.timing.now() - started
        self.progress.wave_finished(wave)
        return wave

    def _gate(self, wave: WaveResult, gated: list[InstanceKey]) -> None:
        """The Clumio gate step: every (account, region) the wave created or changed is connected at the desired
        version, or is a failure of the wave (reference/clumio-api.md §7); what it found is recorded in state."""
        versions = self.context.stack_sets.gate_versions()
        gate = self.gate.verify(wave.name, gated, versions, self.options.verify_connections_seconds)
        wave.gate = gate
        by_pair = {(k.account, k.region): k.stack_set for k in gated}
        wave.failures.extend(replace(f, stack_set=by_pair.get((f.account, f.region), "")) for f in gate.missing)
        self.progress.gate_finished(wave.name, gate)
        missing = {(f.account, f.region) for f in gate.missing}
        self.journal.record_connected({k: (k.account, k.region) not in missing for k in gated})

    def _stop_reason(self, wave: WaveResult) -> str:
        cancelled = wave.cancelled_only_accounts
        failed = [a for a in wave.failed_accounts if a not in cancelled]
        text = f"wave {wave.name} failed for {len(failed)} account(s) ({', '.join(failed) or 'none named'})"
        if cancelled:
            text += f", {len(cancelled)} more cancelled by AWS once the tolerance was exceeded ({', '.join(cancelled)})"
        return text + f"; its failure budget is {wave.budget}"

    # -- Ctrl-C --------------------------------------------------------------------------------------------
    def _interrupted(self, result: ApplyResult) -> None:
        """Stop submitting; offer to stop the running operation; record where the run stopped."""
        result.outcome = Outcome.INTERRUPTED
        details: list[str] = []
        for running in list(self.context.running.values()):
            op = running.op
            try:
                stop = self.confirm_stop(op.operation_id)
            except (KeyboardInterrupt, EOFError):
                stop = True
            if stop:
                details.append(self._stop(running.port, op))
            else:
                details.append(f"{op.operation_id} left running in AWS (the next apply follows it)")
        detail = "interrupted; " + "; ".join(details) if details else "interrupted before the next submit"
        result.stop_reason = detail
        remaining = [op for op in self.plan.operations if self.journal.entry(op.operation_id) is None]
        self.journal.skipped(self.plan.plan_id, remaining)
        self.journal.end(Outcome.INTERRUPTED, detail)
        self._count(result)
        result.notes.append(detail)


    # -- credentials expired, an endpoint gone ------------------------------------------------------------
    def _suspended(self, result: ApplyResult, exc: ReconcilerError) -> None:
        """Stop submitting and keep the journal as it is: operations already submitted keep running in AWS (nothing
        can stop them without credentials anyway) and stay SUBMITTED/RUNNING, so the next run follows them."""
        result.outcome = Outcome.SUSPENDED
        running = sorted(self.context.running)
        detail = exc.message + (f"; still running in AWS: {', '.join(running)}" if running else "")
        result.stop_reason = detail
        self._count(result)
        result.notes.append(detail)
        try:
            self.journal.suspend(detail)
        except ReconcilerError as error:  # the state backend may be what went away; the journal still has the rest
            log.warning("could not record the stop in state: %s", error.message)

    def _stop(self, port: StackSets, op: Operation) -> str:
        """StopStackSetOperation for an operation Ctrl-C caught just after (or during) its submit. AWS may not know
        it yet — the call never left, or is still being taken — so a not-found answer is checked once more."""
        for attempt in range(2):
            try:
                port.stop_operation(op.stack_set, op.operation_id)
            except ReconcilerError as exc:
                if not not_found(exc):
                    return f"stopping {op.operation_id} failed: {exc.message}"
                if attempt == 0:
                    self.timing.sleep(self.timing.poll_seconds / 10)
                    continue
                return (f"{op.operation_id} never reached AWS (the next apply checks again by its id before "
                        "submitting it)")
            self.journal.finished(op.operation_id, JournalStatus.STOPPED)
            return f"StopStackSetOperation sent for {op.operation_id}"
        raise AssertionError("unreachable")


def _whole_operation_failed(op: Operation, outcome: OperationOutcome) -> Iterator[Failure]:
    """An operation that FAILED/STOPPED with no per-instance rows (e.g. UpdateStackSet refused as a whole)."""
    reason = outcome.status_reason or f"operation {op.operation_id} {outcome.status.value}"
    if outcome.status is OperationStatus.STOPPED:
        reason = f"operation {op.operation_id} was stopped"
    accounts = sorted({(k.account, k.region) for k in op.instances}) or [("-", "-")]
    for account, region in accounts:
        yield Failure(account, region, reason, op.stack_set)
