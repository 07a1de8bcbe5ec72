"""The off-boarding plan `clumio-org destroy` runs (pure; docs/reference/brownfield.md §5, Clumio's off-boarding
document): the managed StackSet's instances wave by wave in reverse order, then the StackSet, then the management
account's StackSet, then the Clumio connections the deleted stacks leave behind."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from reconciler.core.desired import Desired, WaveSpec
from reconciler.core.keys import InstanceKey
from reconciler.core.live import AccountState, Live, LiveInstance, StackInstanceStatus
from reconciler.core.plan import TIMESTAMP_FORMAT, Action, Change, Operation, OperationKind, Plan, WavePlan
from reconciler.plan.coverage import stack_name_of, stack_set_of_stack
from reconciler.plan.expand import expand
from reconciler.plan.planfile import operation_id
from reconciler.plan.schedule import estimate, group_keys, preferences

OUTSIDE_WAVES = "outside the waves"
MANAGEMENT_WAVE = "management account"


@dataclass(frozen=True)
class DestroyPlan:
    """``plan`` holds the DeleteStackInstances operations (deterministic ids, so an interrupted destroy is resumed
    like an apply); ``stack_sets`` are deleted after them in this order; ``connections`` (ids) last. ``removes``:
    the (account, region)s whose stacks and connections this destroy removes, remembered in state before the
    first deletion so a re-run finds their connections again without reading a stack from them."""

    plan: Plan
    stack_sets: tuple[str, ...]
    connections: tuple[str, ...]
    retained: tuple[InstanceKey, ...]
    removes: tuple[tuple[str, str], ...] = ()

    @property
    def empty(self) -> bool:
        return not self.plan.operations and not self.stack_sets and not self.connections


def managed_names(desired: Desired) -> list[str]:
    names = [desired.stack_set.name]
    if desired.management_account.onboard:
        names.append(desired.management_account.stack_set_name)
    return names


def _retain(inst: LiveInstance, live: Live, retain_stacks: bool) -> bool:
    account = live.org.accounts.get(inst.key.account)
    return (retain_stacks or account is None or account.state is not AccountState.ACTIVE
            or inst.status is StackInstanceStatus.INOPERABLE)


def make_destroy_plan(desired: Desired, live: Live, *, retain_stacks: bool = False, created_at: str | None = None,
                      remembered: frozenset[tuple[str, str]] = frozenset()) -> DestroyPlan:
    """Everything the config manages, removed in the order Clumio's off-boarding asks for. ``remembered``: the
    (account, region)s an interrupted destroy was removing (state's ``offboarding``); their connections are left
    behind by it even when they name no stack."""
    expansion = expand(desired, live.org)
    names = managed_names(desired)
    service, management = names[0], names[1] if len(names) > 1 else None
    by_wave: dict[str, list[LiveInstance]] = {}
    order = [OUTSIDE_WAVES, *[w.name for w in reversed(expansion.waves)]]
    specs: dict[str, WaveSpec] = {w.name: w for w in expansion.waves}
    for key, inst in live.instances.items():
        if key.stack_set == service:
            by_wave.setdefault(expansion.accounts.get(key.account, OUTSIDE_WAVES), []).append(inst)
        elif key.stack_set == management:
            by_wave.setdefault(MANAGEMENT_WAVE, []).append(inst)
    order.append(MANAGEMENT_WAVE)
    ops: list[Operation] = []
    changes: list[Change] = []
    waves: list[WavePlan] = []
    retained: list[InstanceKey] = []
    for name in order:
        insts = sorted(by_wave.get(name, []), key=lambda i: i.key)
        if not insts:
            continue
        spec = specs.get(name) or WaveSpec(name=name)
        wave = f"destroy {name}"
        self_managed = name == MANAGEMENT_WAVE
        for keep in (False, True):
            keys = [i.key for i in insts if _retain(i, live, retain_stacks) is keep]
            if keep:
                retained += keys
            for group in group_keys(keys, live, expansion.anchors, self_managed, listed_only=True):
                secs, note = estimate(desired, spec, group.keys)
                ops.append(Operation(
                    index=len(ops) + 1, operation_id="", kind=OperationKind.DELETE_STACK_INSTANCES,
                    stack_set=group.keys[0].stack_set, wave=wave, regions=group.regions, targets=group.targets,
                    accounts=group.accounts, preferences=preferences(desired, spec, group.regions),
                    instances=group.keys, retain_stacks=keep, estimate_seconds=secs, note=note))
        for inst in insts:
            why = "destroy: RetainStacks (the stack keeps running)" if inst.key in retained else "destroy"
            acct = live.org.accounts.get(inst.key.account)
            changes.append(Change(inst.key, Action.REMOVE, why, wave,
                                  live.org.path_of(acct.parent_id) if acct is not None else None))
        accounts = tuple(sorted({i.key.account for i in insts}))
        waves.append(WavePlan(len(waves) + 1, wave, accounts, spec.max_concurrent, spec.failure_tolerance,
                              spec.concurrency_mode, 1, sum(o.estimate_seconds for o in ops if o.wave == wave)))
    plan_id = _plan_id(desired, ops)
    ops = [_with_id(op, plan_id) for op in ops]
    plan = Plan(
        plan_id=plan_id, created_at=created_at or datetime.now(UTC).strftime(TIMESTAMP_FORMAT),
        config_path=desired.source, desired_digest=desired.digest, live_fingerprint="destroy", state_serial=None,
        state_lineage=None, stack_set_changes=(), changes=tuple(changes), skipped=(), waves=tuple(waves),
        operations=tuple(ops), estimate_seconds=sum(o.estimate_seconds for o in ops))
    stack_sets = tuple(n for n in (service, management) if n is not None and n in live.stack_sets)
    left = _left_behind(live, names, set(retained), remembered)
    kept = {(k.account, k.region) for k in retained}
    deleted = {(k.account, k.region) for k in live.instances if k.stack_set in names} - kept
    return DestroyPlan(plan, stack_sets, tuple(conn_id for _, conn_id in left), tuple(retained),
                       tuple(sorted(deleted | {pair for pair, _ in left})))


def _left_behind(live: Live, names: list[str], retained: set[InstanceKey],
                 remembered: frozenset[tuple[str, str]]) -> list[tuple[tuple[str, str], str]]:
    """((account, region), connection id) of the instances this destroy deletes (not the retained ones, whose
    stacks keep running), of those an interrupted destroy was removing, and of those whose stack is a managed
    StackSet's instance stack."""
    kept = {(k.account, k.region) for k in retained}
    deleted = {(k.account, k.region) for k in live.instances if k.stack_set in names} - kept
    others = {pair for other in live.other_clumio_stack_sets.values() for pair in other.instances}
    found = []
    for pair, conn in sorted(live.connections.items()):
        if pair in kept or pair in others:
            continue
        if pair in deleted or pair in remembered or stack_set_of_stack(stack_name_of(conn)) in names:
            found.append((pair, conn.id))
    return found


def _plan_id(desired: Desired, ops: list[Operation]) -> str:
    seed = json.dumps(["destroy", desired.digest,
                       [[op.stack_set, op.retain_stacks, [str(k) for k in op.instances]] for op in ops]])
    return hashlib.sha256(seed.encode()).hexdigest()[:16]


def _with_id(op: Operation, plan_id: str) -> Operation:
    from dataclasses import replace

    return replace(op, operation_id=operation_id(plan_id, op.index))
