"""Small worlds for apply's unit tests: StackSets operations that run for fake minutes, a Clumio that connects what
deployed, hand-built plans, and a fake clock the executor sleeps on."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from reconciler.apply.executor import Executor
from reconciler.apply.journal import Journal
from reconciler.apply.model import ApplyResult
from reconciler.apply.options import ApplyOptions
from reconciler.apply.progress import PlainProgress
from reconciler.apply.timing import Timing
from reconciler.core.desired import Amount, ConcurrencyMode, RegionConcurrencyType
from reconciler.core.errors import ProviderError
from reconciler.core.keys import InstanceKey
from reconciler.core.live import (
    Connection,
    ConnectionStatus,
    OperationStatus,
    OperationView,
    OrgTree,
    PermissionModel,
    StackInstanceStatus,
)
from reconciler.core.plan import (
    Action,
    Change,
    Operation,
    OperationKind,
    OperationPreferences,
    Plan,
    StackSetChange,
    StackSetDefinition,
    WavePlan,
)
from reconciler.core.ports import OperationIdAlreadyExists, OperationInProgress
from reconciler.state import LocalBackend, State
from tests.fakes import FakeClumio, FakeStackSets, demo_org, make_template

PLAN_ID = "0123456789abcdef"
STACK_SET = "clumio-org"
REGIONS = ("us-east-1", "us-west-2")
TEMPLATE = make_template("24.4")
CANARY = ("222200000001",)
REST = ("333300000001", "333300000002", "666600000001")


FAKE_EPOCH = datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC)


class FakeClock:
    """A ``reconciler.core.clock.Clock`` that moves only when slept on; ``t`` is the seconds slept so far."""

    def __init__(self) -> None:
        self.t = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds

    def now(self) -> datetime:
        return FAKE_EPOCH + timedelta(seconds=self.t)


@dataclass
class _SleepingWith:
    """``clock``'s time with another sleeper (a test's, that crashes or interrupts on its n-th sleep)."""

    clock: FakeClock
    sleep: Callable[[float], None]

    def now(self) -> datetime:
        return self.clock.now()


class SlowStackSets(FakeStackSets):
    """FakeStackSets whose operations stay RUNNING for ``duration`` fake seconds; while one runs, the next mutating
    call gets OperationInProgress naming it (§A9). ``faults`` are raised, in order, by the next mutating calls.
    Failure tolerance is honoured: an operation FAILS only when more accounts fail than its tolerance count."""

    def __init__(self, org: OrgTree, clock: FakeClock, *, duration: float = 300.0,
                 failing_accounts: Iterable[str] = ()) -> None:
        super().__init__(org, failing_accounts=failing_accounts)
        self.clock = clock
        self.duration = duration
        self.pending: dict[str, tuple[str, OperationView, float]] = {}
        self.faults: list[Exception] = []
        self.stopped: list[str] = []

    def _settle(self) -> None:
        for op_id, (stack_set, final, end) in list(self.pending.items()):
            if self.clock.t >= end:
                self.sets[stack_set].operations[op_id] = final
                del self.pending[op_id]

    def running(self, stack_set: str) -> str | None:
        self._settle()
        return next((op_id for op_id, (name, _, _) in self.pending.items() if name == stack_set), None)

    def start_foreign(self, stack_set: str, op_id: str, duration: float) -> None:
        view = OperationView(op_id, stack_set, "UPDATE", OperationStatus.RUNNING)
        self.sets[stack_set].operations[op_id] = view
        self.pending[op_id] = (stack_set, replace(view, status=OperationStatus.SUCCEEDED), self.clock.t + duration)

    def _begin(self, call, operation):  # type: ignore[no-untyped-def]
        if self.faults:
            self.calls.append((call, operation.operation_id))
            raise self.faults.pop(0)
        ss = self._get(operation.stack_set)
        if operation.operation_id in ss.operations:
            self.calls.append((call, operation.operation_id))
            raise OperationIdAlreadyExists(f"operation {operation.operation_id} already exists")
        running = self.running(operation.stack_set)
        if running:
            self.calls.append((call, operation.operation_id))
            raise OperationInProgress(f"Another Operation on StackSet is in progress: {running}", running)
        return super()._begin(call, operation)

    def _finish(self, ss, operation, action, keys, create=True):  # type: ignore[no-untyped-def]
        op_id = super()._finish(ss, operation, action, keys, create)
        final = ss.operations[op_id]
        tolerance = (operation.preferences.failure_tolerance_count or 0) if operation.preferences else 0
        if final.status is OperationStatus.FAILED and final.failed_count <= tolerance:
            final = replace(final, status=OperationStatus.SUCCEEDED)
        ss.operations[op_id] = replace(final, status=OperationStatus.RUNNING)
        self.pending[op_id] = (ss.live.name, final, self.clock.t + self.duration)
        return op_id

    def describe_operation(self, stack_set: str, operation_id: str) -> OperationView:
        self._settle()
        ops = self._get(stack_set).operations
        if operation_id not in ops:
            raise ProviderError(f"cloudformation:DescribeStackSetOperation failed: OperationNotFoundException: "
                                f"{operation_id}")
        return ops[operation_id]

    def list_operations(self, stack_set: str) -> list[OperationView]:
        self._settle()
        return super().list_operations(stack_set)

    def stop_operation(self, stack_set: str, operation_id: str) -> None:
        self.stopped.append(operation_id)
        if operation_id not in self._get(stack_set).operations:  # as AWS answers an id it never got
            raise ProviderError(f"cloudformation:StopStackSetOperation failed: OperationNotFoundException: "
                                f"{operation_id}")
        self.pending.pop(operation_id, None)
        super().stop_operation(stack_set, operation_id)

    def mutating_calls(self, name: str | None = None) -> list[tuple[str, str]]:
        return [c for c in self.calls if not c[0].startswith(("describe", "list")) and (name is None or c[0] == name)]


class ConnectingClumio(FakeClumio):
    """Clumio that shows a connection `connected` at the StackSet's template version for every CURRENT instance
    of the watched StackSets, except accounts in ``never_connect``."""

    def __init__(self, watched: Sequence[FakeStackSets]) -> None:
        super().__init__(TEMPLATE)
        self.watched = watched
        self.never_connect: set[str] = set()
        self.list_calls = 0

    def list_connections(self, accounts: Sequence[str] | None = None,
                         regions: Sequence[str] | None = None) -> list[Connection]:
        self.list_calls += 1
        found = []
        for port in self.watched:
            for ss in port.sets.values():
                for (account, region), inst in ss.instances.items():
                    if inst.status is not StackInstanceStatus.CURRENT:
                        continue
                    if (accounts is not None and account not in accounts) or \
                            (regions is not None and region not in regions):
                        continue
                    status = ConnectionStatus.CONNECTING if account in self.never_connect \
                        else ConnectionStatus.CONNECTED
                    found.append(Connection(f"{account}_{region}", account, region, status, self.template.version))
        return found


@dataclass
class World:
    """Everything one executor run needs; ``run()`` executes ``plan`` and returns the result."""

    tmp: Path
    clock: FakeClock = field(default_factory=FakeClock)
    org: OrgTree = field(default_factory=demo_org)
    lines: list[str] = field(default_factory=list)
    failing: tuple[str, ...] = ()
    duration: float = 300.0

    def __post_init__(self) -> None:
        self.stacksets = SlowStackSets(self.org, self.clock, duration=self.duration, failing_accounts=self.failing)
        self.management = SlowStackSets(self.org, self.clock, duration=self.duration)
        self.clumio = ConnectingClumio([self.stacksets, self.management])
        self.backend = LocalBackend(self.tmp / "state.json")

    @property
    def management_stacksets(self) -> SlowStackSets:
        return self.management

    def state(self) -> State:
        state = self.backend.read()
        assert state is not None
        return state

    def executor(self, plan: Plan, *, rotate: bool = False, verify_seconds: float = 900.0,
                 sleep=None, confirm_stop=lambda _op: True) -> Executor:  # type: ignore[no-untyped-def]
        clock = self.clock if sleep is None else _SleepingWith(self.clock, sleep)
        timing = Timing(clock=clock, poll_seconds=10, poll_max_seconds=60, foreign_wait_seconds=3600)
        journal = Journal(self.backend, self.backend.read())
        options = ApplyOptions(org_id=self.org.org_id, asset_types=("EC2/EBS",),
                               verify_connections_seconds=verify_seconds, rotate_credentials=rotate,
                               management_stack_set="clumio-org-management")
        return Executor(plan, self, journal, options, timing=timing, progress=PlainProgress(self.lines.append),
                        confirm_stop=confirm_stop)

    def run(self, plan: Plan, **kwargs) -> ApplyResult:  # type: ignore[no-untyped-def]
        return self.executor(plan, **kwargs).run()


def definition(name: str = STACK_SET, *, template=TEMPLATE,  # type: ignore[no-untyped-def]
               permission_model: PermissionModel = PermissionModel.SERVICE_MANAGED) -> StackSetDefinition:
    return StackSetDefinition(
        name=name, permission_model=permission_model, description="Clumio", template_version=template.version,
        template_sha256=template.sha256,
        parameters=(("PermissionsBoundaryARN", ""), ("SendCFTDeploymentEventsToClumio", "True")),
        capabilities=("CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"), tags=(), auto_deployment=True,
        retain_stacks_on_account_removal=False, managed_execution=False)


def op(index: int, kind: OperationKind, wave: str | None, accounts: Sequence[str] = (), *,
       stack_set: str = STACK_SET, regions: Sequence[str] = REGIONS, tolerance: int = 0,
       plan_id: str = PLAN_ID) -> Operation:
    prefs = OperationPreferences(RegionConcurrencyType.PARALLEL, max_concurrent_count=tolerance + 1,
                                 failure_tolerance_count=tolerance,
                                 concurrency_mode=ConcurrencyMode.STRICT_FAILURE_TOLERANCE)
    instances = tuple(InstanceKey(stack_set, a, r) for a in sorted(accounts) for r in regions)
    return Operation(index=index, operation_id=f"clumio-org-{plan_id}-{index:03d}", kind=kind, stack_set=stack_set,
                     wave=wave, regions=tuple(regions) if kind is not OperationKind.CREATE_STACK_SET else (),
                     accounts=tuple(sorted(accounts)), preferences=prefs, instances=instances,
                     estimate_seconds=300.0)


def plan_of(ops: Sequence[Operation], *, waves: Sequence[tuple[str, Sequence[str], str]] = (),
            changes: Sequence[StackSetChange] | None = None, plan_id: str = PLAN_ID,
            state_serial: int | None = None) -> Plan:
    if changes is None:
        changes = [StackSetChange(STACK_SET, Action.ADD, definition())] \
            if any(o.kind is OperationKind.CREATE_STACK_SET for o in ops) else []
    wave_plans = tuple(WavePlan(i, name, tuple(accts), Amount(count=1), Amount.parse(tol),
                                ConcurrencyMode.STRICT_FAILURE_TOLERANCE, 1)
                       for i, (name, accts, tol) in enumerate(waves))
    instance_changes = tuple(Change(k, Action.ADD, "new", o.wave) for o in ops for k in o.instances)
    return Plan(plan_id=plan_id, created_at="2026-01-05T09:00:00Z", config_path="clumio-org.yaml",
                desired_digest="d" * 64, live_fingerprint="f" * 64, state_serial=state_serial,
                state_lineage=None, stack_set_changes=tuple(changes), changes=instance_changes, skipped=(),
                waves=wave_plans, operations=tuple(ops), estimate_seconds=600.0)


def onboarding_plan(plan_id: str = PLAN_ID, *, canary_tolerance: str = "0", tolerance: int = 0) -> Plan:
    """Create the StackSet, then a canary wave of one account and a second wave of three, in two regions."""
    ops = [
        op(0, OperationKind.CREATE_STACK_SET, None, plan_id=plan_id),
        op(1, OperationKind.CREATE_STACK_INSTANCES, "canary", CANARY, plan_id=plan_id, tolerance=tolerance),
        op(2, OperationKind.CREATE_STACK_INSTANCES, "rest", REST, plan_id=plan_id, tolerance=tolerance),
    ]
    return plan_of(ops, waves=[("canary", CANARY, canary_tolerance), ("rest", REST, "0")], plan_id=plan_id)
