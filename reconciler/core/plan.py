"""Plan: the reviewed contract between ``plan`` and ``apply`` — changes per instance, grouped into waves of
StackSet operations."""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass, field

from reconciler.core.coverage import CoverageRow
from reconciler.core.desired import Amount, ConcurrencyMode, RegionConcurrencyType
from reconciler.core.guardrails import GuardrailReport
from reconciler.core.keys import InstanceKey
from reconciler.core.live import PermissionModel

PLAN_FORMAT_VERSION = 1
# How a plan's ``created_at`` (and the drift report's times) are written: UTC, to the second.
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class Action(enum.Enum):
    """What happens to one stack instance (or to the StackSet itself); rendered ``+ ~ -``."""

    ADD = "add"
    CHANGE = "change"
    REMOVE = "remove"

    # Members are singletons compared by identity: hashed by identity too, in C (Enum's own __hash__ is Python
    # code, and a plan groups and counts 34,000 changes by action several times over).
    __hash__ = object.__hash__

    @property
    def symbol(self) -> str:
        return _SYMBOLS[self._value_]


_SYMBOLS = {"add": "+", "change": "~", "remove": "-"}


@dataclass(frozen=True)
class Change:
    """One (StackSet, account, region) that apply will touch, and why.

    ``reason`` is for humans ("new account in /Workloads/Prod", "OUTDATED: …", "template 24.3 → 24.4").
    ``wave`` names the rollout wave; ``ou_path`` is the account's OU path, for the PR matrix.
    """

    key: InstanceKey
    action: Action
    reason: str
    wave: str | None = None
    ou_path: str | None = None


@dataclass(frozen=True)
class PropertyChange:
    """One StackSet property that differs (``template``, ``parameters.PermissionsBoundaryARN``, ``tags``,
    ``auto_deployment``…). Secret parameters appear by name only, with ``(sensitive)`` values."""

    name: str
    before: str | None
    after: str | None


@dataclass(frozen=True)
class StackSetDefinition:
    """The desired StackSet as apply will send it, minus secrets.

    The template body itself is fetched from Clumio again at apply time; ``template_sha256`` pins it, so apply refuses
    if Clumio now serves different content than the reviewer saw.
    """

    name: str
    permission_model: PermissionModel
    description: str
    template_version: str
    template_sha256: str
    parameters: tuple[tuple[str, str], ...]
    capabilities: tuple[str, ...]
    tags: tuple[tuple[str, str], ...]
    auto_deployment: bool | None
    retain_stacks_on_account_removal: bool | None
    managed_execution: bool
    administration_role_arn: str | None = None
    execution_role_name: str | None = None


@dataclass(frozen=True)
class StackSetChange:
    """The StackSet itself is created (ADD) or its definition updated (CHANGE)."""

    stack_set: str
    action: Action
    definition: StackSetDefinition
    properties: tuple[PropertyChange, ...] = ()


@dataclass(frozen=True)
class Skip:
    """An account the targets reach but the plan leaves alone, with the reason (management account, SUSPENDED,
    excluded …)."""

    account: str
    reason: str
    stack_set: str | None = None


class OuTargetStatus(enum.Enum):
    """An OU of the StackSet's target list, desired against live: kept, gained by this plan, or dropped by it."""

    KEEP = "keep"
    ADD = "add"
    REMOVE = "remove"


@dataclass(frozen=True)
class OuTarget:
    """One OU (or the root) in the StackSet's deployment targets, the list auto-deployment watches.

    ``accounts`` counts the desired accounts it reaches now; ``excluded`` names the accounts excluded by id inside
    it (operations leave them out with DIFFERENCE, but auto-deployment would deploy to them if they left and
    re-joined it); ``note`` says why a live OU goes, or what an added one brings.
    """

    ou_id: str
    path: str
    status: OuTargetStatus
    accounts: int = 0
    excluded: tuple[str, ...] = ()
    note: str | None = None


@dataclass(frozen=True)
class Leak:
    """An OU the StackSet targets although its subtree holds more than the desired accounts: accepted with
    ``targets.auto_deployment_reach: any``. Auto-deployment will deploy to every account that joins or moves into
    it; ``excluded_ous`` are the excluded OU paths inside it, ``accounts`` the accounts there now that the file does
    not want (they get no stack unless they move in again)."""

    ou_id: str
    path: str
    excluded_ous: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()


@dataclass(frozen=True)
class TargetsPlan:
    """The StackSet's own targets as data: the desired OU cover against the live OU list.

    ``ous`` holds every OU of either list with its status; ``live_ous`` is the live list as AWS reports it
    (DescribeStackSet OrganizationalUnitIds, else the instances' OrganizationalUnitId). ``leaks`` lists accepted
    leaks by OU; ``kept_suspended`` the instances of SUSPENDED/CLOSED accounts left alone (information, not a
    change); ``assumptions`` what the plan assumes where AWS does not document the behaviour
    (docs/reference/targets.md).
    """

    stack_set: str
    auto_deployment: bool
    reach: str
    ous: tuple[OuTarget, ...] = ()
    live_ous: tuple[str, ...] = ()
    leaks: tuple[Leak, ...] = ()
    kept_suspended: tuple[InstanceKey, ...] = ()
    notes: tuple[str, ...] = ()
    assumptions: tuple[str, ...] = ()
    leaked: tuple[InstanceKey, ...] = ()

    @property
    def desired_ous(self) -> tuple[str, ...]:
        return tuple(t.ou_id for t in self.ous if t.status is not OuTargetStatus.REMOVE)


class OperationKind(enum.Enum):
    """The StackSet calls apply makes, in the order DESIGN.md fixes inside one StackSet."""

    CREATE_STACK_SET = "CreateStackSet"
    UPDATE_STACK_SET = "UpdateStackSet"
    CREATE_STACK_INSTANCES = "CreateStackInstances"
    UPDATE_STACK_INSTANCES = "UpdateStackInstances"
    DELETE_STACK_INSTANCES = "DeleteStackInstances"


class AccountFilterType(enum.Enum):
    """DeploymentTargets.AccountFilterType (§A3). UNION is not accepted by CreateStackInstances."""

    NONE = "NONE"
    INTERSECTION = "INTERSECTION"
    DIFFERENCE = "DIFFERENCE"
    UNION = "UNION"


@dataclass(frozen=True)
class DeploymentTargets:
    """Service-managed targets: OUs (≤ 50 per call) plus accounts narrowed or widened by the filter type."""

    organizational_unit_ids: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    account_filter_type: AccountFilterType | None = None


@dataclass(frozen=True)
class OperationPreferences:
    """OperationPreferences sent with every operation call; AWS does not store them on the StackSet (§A5)."""

    region_concurrency_type: RegionConcurrencyType
    region_order: tuple[str, ...] = ()
    max_concurrent_count: int | None = None
    max_concurrent_percentage: int | None = None
    failure_tolerance_count: int | None = None
    failure_tolerance_percentage: int | None = None
    concurrency_mode: ConcurrencyMode = ConcurrencyMode.STRICT_FAILURE_TOLERANCE


@dataclass(frozen=True)
class Operation:
    """One StackSet API call apply will make, with everything needed to make it and to follow it.

    ``operation_id`` is derived from (plan id, index): re-running an interrupted apply of the same plan sends the
    same id, and AWS answers OperationIdAlreadyExists instead of starting a second operation (§A4).
    ``instances`` lists every (account, region) the call reaches, for progress, the Clumio gate and the journal.
    CREATE_STACK_SET has no AWS OperationId; its ``operation_id`` is still recorded in the journal.
    """

    index: int
    operation_id: str
    kind: OperationKind
    stack_set: str
    wave: str | None
    regions: tuple[str, ...] = ()
    targets: DeploymentTargets | None = None
    accounts: tuple[str, ...] = ()
    preferences: OperationPreferences | None = None
    instances: tuple[InstanceKey, ...] = ()
    retain_stacks: bool | None = None
    estimate_seconds: float = 0.0
    note: str | None = None


@dataclass(frozen=True)
class WavePlan:
    """A rollout wave as scheduled: its accounts, its amounts as the config gave them, and the concurrency AWS will
    really use."""

    index: int
    name: str
    accounts: tuple[str, ...]
    max_concurrent: Amount
    failure_tolerance: Amount
    concurrency_mode: ConcurrencyMode
    effective_concurrency: int
    estimate_seconds: float = 0.0
    note: str | None = None


@dataclass(frozen=True)
class Plan:
    """What ``apply`` will do, and the evidence it was made against.

    ``desired_digest``, ``live_fingerprint`` and ``state_serial`` are the contract: ``apply PLANFILE`` refuses if any
    moved since the plan was made, saying which. A plan never holds a secret: ClumioToken and RoleExternalId are
    fetched at apply time. ``operations`` are in execution order; ``changes`` are sorted by key.
    ``coverage`` lists every desired (account, region) another Clumio deployment already covers (another Clumio
    StackSet, a connection made outside any StackSet), which the plan leaves alone; ``coverage_counts`` counts every
    desired pair per class (``new``, ``managed``, ``other-stackset``, ``outside-stackset``).
    """

    plan_id: str
    created_at: str
    config_path: str
    desired_digest: str
    live_fingerprint: str
    state_serial: int | None
    state_lineage: str | None
    stack_set_changes: tuple[StackSetChange, ...]
    changes: tuple[Change, ...]
    skipped: tuple[Skip, ...]
    waves: tuple[WavePlan, ...]
    operations: tuple[Operation, ...]
    estimate_seconds: float
    warnings: tuple[str, ...] = ()
    format_version: int = PLAN_FORMAT_VERSION
    # The StackSet's OU targets, desired vs live (None in plans made before targets were planned).
    targets: TargetsPlan | None = None
    extra: tuple[tuple[str, str], ...] = field(default=())
    coverage: tuple[CoverageRow, ...] = ()
    coverage_counts: tuple[tuple[str, int], ...] = ()
    # What the guardrails (SCPs, Control Tower) say about the planned pairs; skipped pairs are not in ``changes``.
    guardrails: GuardrailReport = field(default_factory=GuardrailReport)

    def summary(self) -> dict[str, int]:
        """Counts for ``Plan: N to add, M to change, K to remove.`` (instances; StackSet changes count as change)."""
        return dict(self._counts)

    @functools.cached_property
    def _counts(self) -> dict[str, int]:
        # Counted once per plan: the plan id, the overview and each renderer ask (4 passes over 34,000 changes).
        actions = [change.action for change in self.changes]
        add, remove = actions.count(Action.ADD), actions.count(Action.REMOVE)
        counts = {"add": add, "change": len(actions) - add - remove, "remove": remove}
        for ss in self.stack_set_changes:
            counts["add" if ss.action is Action.ADD else "change"] += 1
        return {**counts, "skipped": len(self.skipped)}

    @property
    def empty(self) -> bool:
        return not self.changes and not self.stack_set_changes
