"""Schedule: changes → waves → the fewest StackSet operations the AWS rules allow, each with its preferences, a
deterministic id and an estimated duration."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from reconciler.core.desired import ConcurrencyMode, Desired, RegionConcurrencyType, WaveSpec
from reconciler.core.keys import InstanceKey
from reconciler.core.live import Live, PermissionModel
from reconciler.core.plan import (
    AccountFilterType,
    Action,
    DeploymentTargets,
    Operation,
    OperationKind,
    OperationPreferences,
    WavePlan,
)
from reconciler.plan.diff import Diff
from reconciler.plan.expand import Expansion

MAX_OUS_PER_OPERATION = 50  # reference/aws-stacksets.md §A3, §A10
# The seed's "2 to 3 minutes per instance"; the sandbox's timing uses the same figure.
INSTANCE_SECONDS = 150.0
CONNECT_SECONDS = 30.0  # Clumio turns a connection from connecting to connected after its stack succeeds
API_CALL_SECONDS = 5.0  # CreateStackSet and other calls that start no instance work


@dataclass(frozen=True)
class Schedule:
    waves: tuple[WavePlan, ...]
    operations: tuple[Operation, ...]
    estimate_seconds: float


@dataclass(frozen=True)
class Group:
    """One call's reach: accounts × regions exactly (a full cross product), with its targets."""

    regions: tuple[str, ...]
    accounts: tuple[str, ...]
    targets: DeploymentTargets | None
    keys: tuple[InstanceKey, ...]


def group_keys(keys: Iterable[InstanceKey], live: Live, anchors: Mapping[str, str],
               self_managed: bool, *, listed_only: bool = False) -> list[Group]:
    """Split keys into calls: accounts with identical region sets share one call (regions in one call, §A4); a
    service-managed call names ≤ 50 OUs and narrows them to exactly its accounts with NONE (the OUs hold nothing
    else), DIFFERENCE (the shorter list) or INTERSECTION (§A3; never UNION, which CreateStackInstances refuses).
    ``listed_only`` forces INTERSECTION, for deletes: an account that joins the OU later is never reached."""
    by_account: dict[str, list[str]] = defaultdict(list)
    stack_set = ""
    for key in keys:
        by_account[key.account].append(key.region)
        stack_set = key.stack_set
    by_regions: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for account, in_regions in by_account.items():
        by_regions[tuple(sorted(in_regions))].append(account)
    groups: list[Group] = []
    for regions, members in sorted(by_regions.items()):
        accounts = sorted(members)
        if self_managed:
            keys_out = tuple(InstanceKey(stack_set, a, r) for a in accounts for r in regions)
            groups.append(Group(regions, tuple(accounts), None, keys_out))
            continue
        by_ou: dict[str, list[str]] = defaultdict(list)
        for account in accounts:
            by_ou[anchors.get(account) or _fallback_ou(live, account)].append(account)
        ou_ids = sorted(by_ou)
        for start in range(0, len(ou_ids), MAX_OUS_PER_OPERATION):
            chunk = ou_ids[start:start + MAX_OUS_PER_OPERATION]
            chosen = sorted(a for ou in chunk for a in by_ou[ou])
            targets = (DeploymentTargets(tuple(chunk), tuple(chosen), AccountFilterType.INTERSECTION) if listed_only
                       else _targets(live, chunk, chosen))
            groups.append(Group(regions, (), targets,
                                tuple(InstanceKey(stack_set, a, r) for a in chosen for r in regions)))
    return groups


def _fallback_ou(live: Live, account: str) -> str:
    acct = live.org.accounts.get(account)
    return acct.parent_id if acct is not None else live.org.root_id


def _targets(live: Live, ous: Sequence[str], chosen: Sequence[str]) -> DeploymentTargets:
    reach: set[str] = set()
    for ou in ous:
        reach |= live.org.accounts_under(ou)
    reach.discard(live.org.management_account)
    others = reach.difference(chosen)
    if not others and reach.issuperset(chosen):
        return DeploymentTargets(tuple(ous), (), AccountFilterType.NONE)
    if len(others) < len(chosen) and reach.issuperset(chosen):
        return DeploymentTargets(tuple(ous), tuple(sorted(others)), AccountFilterType.DIFFERENCE)
    return DeploymentTargets(tuple(ous), tuple(chosen), AccountFilterType.INTERSECTION)


def preferences(desired: Desired, spec: WaveSpec, regions: Sequence[str]) -> OperationPreferences:
    order = [r for r in desired.rollout.region_order if r in regions]
    order += sorted(r for r in regions if r not in order)
    mc, ft = spec.max_concurrent, spec.failure_tolerance
    return OperationPreferences(
        region_concurrency_type=desired.rollout.region_concurrency,
        region_order=tuple(order) if desired.rollout.region_order else (),
        max_concurrent_count=mc.count if mc.percent is None else None,
        max_concurrent_percentage=mc.percent,
        failure_tolerance_count=ft.count if ft.percent is None else None,
        failure_tolerance_percentage=ft.percent,
        concurrency_mode=spec.concurrency_mode,
    )


def concurrency(spec: WaveSpec, accounts: int) -> tuple[int, str | None]:
    """Accounts AWS really deploys at once in one region for ``accounts`` targets, and a note when STRICT mode
    caps it below MaxConcurrent (§A5: min(MaxConcurrent, FailureTolerance + 1))."""
    mc = spec.max_concurrent.resolve(accounts, 1)
    tol = spec.failure_tolerance.resolve(accounts, 0)
    if spec.concurrency_mode is ConcurrencyMode.STRICT_FAILURE_TOLERANCE and tol + 1 < mc:
        if tol == 0:
            note = f"STRICT tolerance 0 forces one account at a time (MaxConcurrent {spec.max_concurrent} ignored)"
        else:
            note = (f"STRICT_FAILURE_TOLERANCE caps concurrency at tolerance + 1 = {tol + 1} "
                    f"(MaxConcurrent {spec.max_concurrent})")
        return tol + 1, note
    return mc, None


def estimate(desired: Desired, spec: WaveSpec, keys: Sequence[InstanceKey]) -> tuple[float, str | None]:
    """Seconds one operation takes under the timing model: per region, ceil(accounts / concurrency) batches of
    INSTANCE_SECONDS; SEQUENTIAL regions add up, PARALLEL ones take the longest."""
    per_region: dict[str, int] = defaultdict(int)
    for key in keys:
        per_region[key.region] += 1
    times: list[float] = []
    notes: set[str] = set()
    for count in per_region.values():
        eff, note = concurrency(spec, count)
        times.append(math.ceil(count / eff) * INSTANCE_SECONDS)
        if note:
            notes.add(note)
    if not times:
        return API_CALL_SECONDS, None
    total = sum(times) if desired.rollout.region_concurrency is RegionConcurrencyType.SEQUENTIAL else max(times)
    return total, "; ".join(sorted(notes)) or None


class _Builder:
    def __init__(self, desired: Desired, live: Live, expansion: Expansion, d: Diff) -> None:
        self.desired, self.live, self.expansion, self.diff = desired, live, expansion, d
        self.ops: list[Operation] = []

    def add(self, kind: OperationKind, stack_set: str, spec: WaveSpec, wave: str | None, group: Group | None,
            retain: bool | None = None, note: str | None = None) -> None:
        keys = group.keys if group else tuple(
            k for k in self.live.instances if k.stack_set == stack_set)
        secs, timing_note = (API_CALL_SECONDS, None) if kind is OperationKind.CREATE_STACK_SET else \
            estimate(self.desired, spec, keys)
        regions = group.regions if group else ()
        self.ops.append(Operation(
            index=0, operation_id="", kind=kind, stack_set=stack_set, wave=wave, regions=regions,
            targets=group.targets if group else None, accounts=group.accounts if group else (),
            preferences=None if kind is OperationKind.CREATE_STACK_SET else preferences(
                self.desired, spec, regions or tuple(sorted({k.region for k in keys}))),
            instances=keys, retain_stacks=retain, estimate_seconds=secs,
            note="; ".join(n for n in (note, timing_note) if n) or None,
        ))

    def groups(self, stack_set: str, keys: list[InstanceKey], *, listed_only: bool = False) -> list[Group]:
        self_managed = self.diff.definitions[stack_set].permission_model is PermissionModel.SELF_MANAGED
        return group_keys(keys, self.live, self.expansion.anchors, self_managed, listed_only=listed_only)


def schedule(desired: Desired, live: Live, expansion: Expansion, d: Diff, plan_id: str) -> Schedule:
    """Operations in execution order: CreateStackSet first; then per wave and per StackSet UpdateStackSet (template,
    parameters and repairs of that wave's instances: the canary wave's subset before the rest), then
    CreateStackInstances; DeleteStackInstances last, after every wave (DESIGN.md "Order inside a StackSet")."""
    b = _Builder(desired, live, expansion, d)
    waves = expansion.waves
    first = waves[0]
    buckets = _Buckets.of(d, first.name)
    existing: dict[str, int] = defaultdict(int)
    for key in live.instances:
        if key not in d.kept and key not in d.narrowing.reached:
            existing[key.stack_set] += 1

    for ch in d.stack_set_changes:
        if ch.action is Action.ADD:
            b.add(OperationKind.CREATE_STACK_SET, ch.stack_set, first, first.name, None)
    _narrow(b, desired.stack_set.name, first, buckets.narrowed)
    pushed: set[str] = set()
    for spec in waves:
        for name in d.definitions:
            _wave_of_stack_set(b, spec, name, buckets, whole_set=existing[name] if len(waves) == 1 else None,
                               first=spec is first, pushed=pushed)
    last = waves[-1]
    for name in d.definitions:
        for retain in (False, True):
            for group in b.groups(name, buckets.removes.get((name, retain), []), listed_only=True):
                b.add(OperationKind.DELETE_STACK_INSTANCES, name, last, None, group, retain=retain)

    ops = tuple(replace(op, index=i, operation_id=f"clumio-org-{plan_id}-{i:03d}")
                for i, op in enumerate(b.ops, start=1))
    wave_plans = _wave_plans(desired, expansion, ops)
    total = sum(w.estimate_seconds for w in wave_plans) + sum(op.estimate_seconds for op in ops if op.wave is None)
    return Schedule(wave_plans, ops, total)


@dataclass
class _Buckets:
    """The diff's instance changes by where they are scheduled: updates and adds per (wave, StackSet), removals per
    (StackSet, RetainStacks), and the removals a targets narrowing makes (by RetainStacks) before any wave."""

    updates: dict[tuple[str, str], list[InstanceKey]] = field(default_factory=lambda: defaultdict(list))
    adds: dict[tuple[str, str], list[InstanceKey]] = field(default_factory=lambda: defaultdict(list))
    removes: dict[tuple[str, bool], list[InstanceKey]] = field(default_factory=lambda: defaultdict(list))
    narrowed: dict[bool, list[InstanceKey]] = field(default_factory=lambda: defaultdict(list))

    @classmethod
    def of(cls, d: Diff, first_wave: str) -> _Buckets:
        out = cls()
        for c in d.changes:
            if c.action is Action.ADD:
                out.adds[(c.wave or first_wave, c.key.stack_set)].append(c.key)
            elif c.action is Action.CHANGE:
                out.updates[(c.wave or first_wave, c.key.stack_set)].append(c.key)
            elif c.key in d.narrowing.reached:
                out.narrowed[c.key in d.retain].append(c.key)
            else:
                out.removes[(c.key.stack_set, c.key in d.retain)].append(c.key)
        return out


def _wave_of_stack_set(b: _Builder, spec: WaveSpec, name: str, buckets: _Buckets, *, whole_set: int | None,
                       first: bool, pushed: set[str]) -> None:
    """One wave's operations on one StackSet: its UpdateStackSet(s), then its CreateStackInstances. ``whole_set``
    is the StackSet's instance count when the plan has a single wave (else None); ``pushed`` collects the StackSets
    an UpdateStackSet has reached so far."""
    d = b.diff
    keys = buckets.updates.get((spec.name, name), [])
    every = bool(keys) and len(keys) == whole_set
    if every or (name in d.definition_only and first):
        # One whole-set UpdateStackSet: reaches every instance (so this wave's repairs too), has no 50-OU
        # limit, and is the only legal shape when AutoDeployment changes (§A2).
        b.add(OperationKind.UPDATE_STACK_SET, name, spec, spec.name, None)
        keys = []
        pushed.add(name)
    for group in b.groups(name, keys):
        b.add(OperationKind.UPDATE_STACK_SET, name, spec, spec.name, group)
        pushed.add(name)
    created = buckets.adds.get((spec.name, name), [])
    for group in b.groups(name, created):
        b.add(OperationKind.CREATE_STACK_INSTANCES, name, spec, spec.name, group)
    if created and name in d.push and name not in pushed:
        # CreateStackInstances deploys the StackSet's *current* template; the new one arrives with the first
        # UpdateStackSet. This wave has nothing older to update, so its new instances take that update.
        for group in b.groups(name, created):
            b.add(OperationKind.UPDATE_STACK_SET, name, spec, spec.name, group,
                  note="brings this wave's new instances to the new template first (canary)")
        pushed.add(name)


def _narrow(b: _Builder, name: str, spec: WaveSpec, narrowed: Mapping[bool, list[InstanceKey]]) -> None:
    """Before any wave: drop the live OUs wider than the cover. Instances of suspended accounts under them go first
    with RetainStacks (AWS cannot delete their stacks), then one NONE delete per ≤ 50 OUs takes the OU off the list
    with every instance left under it (docs/reference/targets.md); the desired ones are created again in their
    waves."""
    narrowing = b.diff.narrowing
    if not narrowing.ous:
        return
    for group in b.groups(name, narrowed.get(True, []), listed_only=True):
        b.add(OperationKind.DELETE_STACK_INSTANCES, name, spec, None, group, retain=True,
              note="suspended/closed accounts under an OU that leaves the targets")
    keys = narrowed.get(False, [])
    regions = tuple(sorted({k.region for k in b.live.instances if k.stack_set == name}))
    ous = list(narrowing.ous)
    for start in range(0, len(ous), MAX_OUS_PER_OPERATION):
        chunk = ous[start:start + MAX_OUS_PER_OPERATION]
        under: set[str] = set()
        for ou in chunk:
            under |= b.live.org.accounts_under(ou)
        reached = tuple(sorted(k for k in keys if k.account in under))
        group = Group(regions, (), DeploymentTargets(tuple(chunk), (), AccountFilterType.NONE), reached)
        b.add(OperationKind.DELETE_STACK_INSTANCES, name, spec, None, group, retain=False,
              note="narrows the StackSet's targets: " + ", ".join(chunk) + " leave the OU list")


def _wave_plans(desired: Desired, expansion: Expansion, ops: Sequence[Operation]) -> tuple[WavePlan, ...]:
    members: dict[str, list[str]] = defaultdict(list)
    for account, wave in expansion.accounts.items():
        members[wave].append(account)
    out: list[WavePlan] = []
    for i, spec in enumerate(expansion.waves, start=1):
        accounts = sorted(members.get(spec.name, []))
        wave_ops = [op for op in ops if op.wave == spec.name]
        secs = sum(op.estimate_seconds for op in wave_ops)
        if any(op.instances for op in wave_ops if op.kind is not OperationKind.DELETE_STACK_INSTANCES):
            secs += CONNECT_SECONDS
        eff, note = concurrency(spec, max(len(accounts), 1))
        out.append(WavePlan(
            index=i, name=spec.name, accounts=tuple(accounts), max_concurrent=spec.max_concurrent,
            failure_tolerance=spec.failure_tolerance, concurrency_mode=spec.concurrency_mode,
            effective_concurrency=eff, estimate_seconds=secs, note=note,
        ))
    return tuple(out)
