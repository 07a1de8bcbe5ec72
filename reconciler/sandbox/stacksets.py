"""StackSets as the sandbox simulates them: the StackSet model and the engine that runs operations over time."""

from __future__ import annotations

import hashlib
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from reconciler.sandbox.api import AwsFault
from reconciler.sandbox.instances import InstanceTable, StackInstance
from reconciler.sandbox.operations import SUSPENDED_REASON, Operation, Step, Target, to_datetime
from reconciler.sandbox.organizations import Organization
from reconciler.sandbox.template import ParsedTemplate

# StackSetDriftDetectionDetails before the first drift detection completes.
NOT_CHECKED: dict[str, Any] = {
    "DriftStatus": "NOT_CHECKED", "TotalStackInstancesCount": 0, "DriftedStackInstancesCount": 0,
    "InSyncStackInstancesCount": 0, "InProgressStackInstancesCount": 0, "FailedStackInstancesCount": 0}


class StackHooks(Protocol):
    """What happens outside CloudFormation when a stack changes (Clumio connections)."""

    def stack_deployed(self, instance: StackInstance, at: float) -> None: ...
    def stack_deleted(self, account: str, region: str, retained: bool, at: float) -> None: ...
    def stack_failure(self, stack_set: StackSet, account: str, params: dict[str, str]) -> str | None: ...
    def guardrail_failure(self, stack_set: StackSet, account: str, region: str) -> str | None: ...


# Mutable simulation state, changed in place under the world lock.
@dataclass(slots=True)
class StackSet:
    name: str
    id: str
    owner: str  # administrator account (the management account for SERVICE_MANAGED)
    region: str
    description: str | None
    template_body: str
    template: ParsedTemplate
    parameters: dict[str, str]  # values given on Create/Update (defaults are not listed, as AWS does)
    capabilities: list[str]
    tags: list[dict[str, str]]
    permission_model: str
    auto_deployment: dict[str, Any] | None
    managed_execution: bool
    admin_role_arn: str | None
    execution_role_name: str | None
    status: str = "ACTIVE"
    ou_ids: list[str] = field(default_factory=list)
    instances: InstanceTable = field(default_factory=InstanceTable)
    operations: dict[str, Operation] = field(default_factory=dict)
    queue: list[Operation] = field(default_factory=list)  # the running operation first, then QUEUED ones
    drift_details: dict[str, Any] | None = None

    @property
    def arn(self) -> str:
        return f"arn:aws:cloudformation:{self.region}:{self.owner}:stackset/{self.id}"

    @property
    def service_managed(self) -> bool:
        return self.permission_model == "SERVICE_MANAGED"

    def effective_parameters(self, overrides: dict[str, str]) -> dict[str, str]:
        values = {n: p.default for n, p in self.template.parameters.items() if p.default is not None}
        values.update(self.parameters)
        values.update(overrides)
        return values

    def stack_id(self, account: str, region: str) -> str:
        h = hashlib.md5(f"{self.id}/{account}/{region}".encode()).hexdigest()
        suffix = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"  # UUID-shaped, cheap at 100,000 instances
        return f"arn:aws:cloudformation:{region}:{account}:stack/StackSet-{self.name}-{suffix}/{suffix}"


class StackSetEngine:
    """Runs every StackSet's operations: one at a time per StackSet, steps applied as the clock passes them."""

    def __init__(self, org: Organization, hooks: StackHooks, instance_seconds: float, drift_seconds: float,
                 failing_accounts: Callable[[], dict[str, str]]) -> None:
        self.org = org
        self.hooks = hooks
        self.instance_seconds = instance_seconds
        self.drift_seconds = drift_seconds
        self.failing_accounts = failing_accounts
        # Seed: "2 to 3 minutes per instance". Jitter spreads durations (seeded, so runs repeat exactly).
        self.instance_jitter_seconds = 0.0
        self.rng = random.Random(0)
        self.stack_sets: dict[tuple[str, str, str], StackSet] = {}  # (owner, region, name)
        self._busy: set[str] = set()  # ids of StackSets with running or queued operations
        # Bumped whenever instances may have changed in place (a write call, an event, time passing over a
        # running operation): read-side indexes built for one generation are rebuilt for the next.
        self.generation = 0

    # --- lookup -------------------------------------------------------------------------------------------
    def find(self, owner: str, region: str, name_or_id: str, *, deleted_ok: bool = False) -> StackSet:
        name = name_or_id.split(":", 1)[0]
        stack_set = self.stack_sets.get((owner, region, name))
        if stack_set is None or (stack_set.status == "DELETED" and not deleted_ok) or (
                ":" in name_or_id and stack_set.id != name_or_id):
            raise AwsFault("StackSetNotFoundException", f"StackSet {name_or_id} not found", 404)
        return stack_set

    def all(self) -> list[StackSet]:
        return [self.stack_sets[k] for k in sorted(self.stack_sets)]

    # --- operations ---------------------------------------------------------------------------------------
    def submit(self, stack_set: StackSet, op: Operation, now: float) -> Operation:
        """Queue ``op``; it starts now if nothing runs on the StackSet (callers check OperationInProgress)."""
        stack_set.operations[op.id] = op
        stack_set.queue.append(op)
        self._busy.add(stack_set.id)
        if len(stack_set.queue) == 1:
            self._start(stack_set, op, now)
        return op

    def running(self, stack_set: StackSet) -> Operation | None:
        return stack_set.queue[0] if stack_set.queue else None

    def settle(self, now: float) -> None:
        """Apply every step whose start or end the clock has passed, finishing and starting operations in turn."""
        if not self._busy:
            return
        self.generation += 1
        by_id = {s.id: s for s in self.stack_sets.values() if s.id in self._busy}
        for stack_set in by_id.values():
            self._settle_one(stack_set, now)
            if not stack_set.queue:
                self._busy.discard(stack_set.id)

    def _settle_one(self, stack_set: StackSet, now: float) -> None:
        while stack_set.queue:
            op = stack_set.queue[0]
            for step in op.due_starts(now):
                self._step_started(stack_set, op, step)
            for step in op.due_ends(now):
                self._step_finished(stack_set, op, step)
            if op.end_at is None or op.end_at > now:
                return
            op.finished = True
            stack_set.queue.pop(0)
            self._operation_finished(stack_set, op)
            if stack_set.queue:
                self._start(stack_set, stack_set.queue[0], op.end_at)

    def _start(self, stack_set: StackSet, op: Operation, at: float) -> None:
        seconds = self.drift_seconds if op.action == "DETECT_DRIFT" else self.instance_seconds
        if op.action in ("CREATE", "UPDATE"):
            op.pending_targets = [self._decide(stack_set, t) for t in op.pending_targets]
        elif op.action == "DELETE" and not op.retain_stacks:
            # Retaining a stack never touches it, which is why RetainStacks=true clears INOPERABLE instances and
            # suspended accounts (§A4); a real delete fails where the account cannot be reached.
            op.pending_targets = [self._decide_delete(t) for t in op.pending_targets]
        if self.instance_jitter_seconds and op.action != "DETECT_DRIFT":
            op.pending_targets = [
                replace(t, seconds=seconds + self.rng.random() * self.instance_jitter_seconds)
                if t.seconds is None and t.outcome != "SKIPPED" else t for t in op.pending_targets]
        op.begin(at, seconds)
        if op.action == "UPDATE":
            if op.outdate_all:
                for instance in stack_set.instances:
                    if instance.status != "INOPERABLE":
                        instance.status = "OUTDATED"
            for step in op.steps:
                target = stack_set.instances.get((step.account, step.region))
                if target is not None:
                    target.status, target.detailed, target.reason = "OUTDATED", "PENDING", None
                    target.last_operation_id = op.id
        if op.action == "DETECT_DRIFT":
            previous = stack_set.drift_details or NOT_CHECKED
            stack_set.drift_details = {**previous, "DriftDetectionStatus": "IN_PROGRESS"}

    def _decide_delete(self, target: Target) -> Target:
        failing = self.failing_accounts()
        account = self.org.accounts.get(target.account)
        if account is None or account.state != "ACTIVE":
            return Target(target.account, target.region, target.ou_id, "FAILED",
                          f"Account {target.account} is suspended or closed; its stack cannot be deleted. Run "
                          f"DeleteStackInstances with RetainStacks set to true.", 5.0)
        if target.account in failing:
            return Target(target.account, target.region, target.ou_id, "FAILED", failing[target.account])
        return target

    def _decide(self, stack_set: StackSet, target: Target) -> Target:
        """The outcome of deploying to ``target``, fixed when the operation starts (faults, roles, tokens)."""
        account = self.org.accounts.get(target.account)
        if account is not None and account.state != "ACTIVE":
            return Target(target.account, target.region, target.ou_id, "SKIPPED", SUSPENDED_REASON)
        if not stack_set.service_managed:
            admin_role = (stack_set.admin_role_arn or "").rsplit("/", 1)[-1] or \
                "AWSCloudFormationStackSetAdministrationRole"
            exec_role = stack_set.execution_role_name or "AWSCloudFormationStackSetExecutionRole"
            owner = self.org.accounts.get(stack_set.owner)
            if owner is not None and admin_role not in owner.roles:
                return Target(target.account, target.region, target.ou_id, "FAILED",
                              f"Account {stack_set.owner} should have '{admin_role}' role with trust relationship "
                              f"to CloudFormation service.", 5.0)
            if account is None or exec_role not in account.roles:  # outside the org: no role we know of
                return Target(target.account, target.region, target.ou_id, "FAILED",
                              f"Account {target.account} should have '{exec_role}' role with trust relationship "
                              f"to Role '{admin_role}'.", 5.0)
        failing = self.failing_accounts()
        if target.account in failing:
            return Target(target.account, target.region, target.ou_id, "FAILED", failing[target.account])
        denied = self.hooks.guardrail_failure(stack_set, target.account, target.region)
        if denied is not None:  # an SCP denies a call the stack makes (docs/reference/guardrails.md §6)
            return Target(target.account, target.region, target.ou_id, "FAILED", denied, 10.0)
        instance = stack_set.instances.get((target.account, target.region))
        params = stack_set.effective_parameters(instance.overrides if instance else {})
        reason = self.hooks.stack_failure(stack_set, target.account, params)
        if reason is not None:
            return Target(target.account, target.region, target.ou_id, "FAILED", reason)
        return target

    def _step_started(self, stack_set: StackSet, op: Operation, step: Step) -> None:
        step.started = True
        instance = stack_set.instances.get((step.account, step.region))
        if instance is None or op.action == "DETECT_DRIFT" or step.outcome in ("SKIPPED", "CANCELLED"):
            return
        instance.detailed = "RUNNING"
        instance.last_operation_id = op.id

    def _step_finished(self, stack_set: StackSet, op: Operation, step: Step) -> None:
        step.started = step.finished = True
        key = (step.account, step.region)
        instance = stack_set.instances.get(key)
        if instance is None:
            return
        if op.action == "DETECT_DRIFT":
            self._drift_checked(instance, op, step)
            return
        instance.last_operation_id = op.id
        if op.action == "DELETE":
            if step.outcome == "SUCCEEDED":
                stack_set.instances.remove(key)
                self.hooks.stack_deleted(step.account, step.region, bool(op.retain_stacks), step.end)
            elif step.outcome == "FAILED":
                instance.status, instance.detailed, instance.reason = "INOPERABLE", "INOPERABLE", step.reason
            else:
                instance.detailed, instance.reason = step.outcome, step.reason
            return
        if step.outcome == "SUCCEEDED":
            instance.status, instance.detailed, instance.reason = "CURRENT", "SUCCEEDED", None
            if instance.stack_id is None:
                instance.stack_id = stack_set.stack_id(step.account, step.region)
            instance.template_version = stack_set.template.clumio_version
            instance.asset_types = stack_set.template.asset_types
            instance.deployed_params = stack_set.effective_parameters(instance.overrides)
            self.hooks.stack_deployed(instance, step.end)
        elif step.outcome == "SKIPPED":
            instance.status, instance.detailed, instance.reason = "OUTDATED", "SKIPPED_SUSPENDED_ACCOUNT", step.reason
        else:
            instance.status, instance.detailed, instance.reason = "OUTDATED", step.outcome, step.reason

    def _drift_checked(self, instance: StackInstance, op: Operation, step: Step) -> None:
        if step.outcome != "SUCCEEDED" or instance.stack_id is None:
            return
        results = []
        for logical_id in sorted(op.drift_summary.get("resources", {}) if op.drift_summary else {}):
            drift = instance.drifted.get(logical_id)
            results.append((logical_id, "MODIFIED" if drift else "IN_SYNC", drift[0] if drift else None))
        instance.drift_results = tuple(results)
        instance.drift_results_op = op.id
        instance.drift_status = "DRIFTED" if instance.drifted else "IN_SYNC"
        instance.last_drift_check = to_datetime(step.end)

    def _operation_finished(self, stack_set: StackSet, op: Operation) -> None:
        if op.action != "DETECT_DRIFT":
            return
        checked = [stack_set.instances.get((s.account, s.region)) for s in op.steps]
        drifted = sum(1 for i in checked if i is not None and i.drift_results_op == op.id and i.drifted)
        in_sync = sum(1 for i in checked if i is not None and i.drift_results_op == op.id and not i.drifted)
        failed = len(op.steps) - drifted - in_sync
        status = "STOPPED" if op.stopped_at is not None else ("PARTIAL_SUCCESS" if failed else "COMPLETED")
        stack_set.drift_details = {
            "DriftStatus": "DRIFTED" if drifted else "IN_SYNC", "DriftDetectionStatus": status,
            "LastDriftCheckTimestamp": to_datetime(op.end_at), "TotalStackInstancesCount": len(op.steps),
            "DriftedStackInstancesCount": drifted, "InSyncStackInstancesCount": in_sync,
            "InProgressStackInstancesCount": 0, "FailedStackInstancesCount": failed}
        op.drift_summary = {**(op.drift_summary or {}), "details": stack_set.drift_details}


def new_stack_set_id(name: str, owner: str, region: str, created: datetime) -> str:
    digest = hashlib.sha256(f"{owner}/{region}/{name}/{created.isoformat()}".encode()).hexdigest()
    return f"{name}:{uuid.UUID(digest[:32])}"
