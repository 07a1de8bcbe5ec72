"""Live: what AWS Organizations, CloudFormation StackSets and Clumio say is true right now (read only)."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from reconciler.core.frozen import freeze
from reconciler.core.guardrails import Guardrails
from reconciler.core.keys import InstanceKey
from reconciler.core.template import is_clumio_template, template_sha256, template_version_of


class AccountState(enum.Enum):
    """Organizations Account.State (reference/aws-stacksets.md §B); ``Status`` is retired in 2026."""

    PENDING_ACTIVATION = "PENDING_ACTIVATION"
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    PENDING_CLOSURE = "PENDING_CLOSURE"
    CLOSED = "CLOSED"


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    name: str
    state: AccountState
    parent_id: str


@dataclass(frozen=True, slots=True)
class OrganizationalUnit:
    id: str
    name: str
    parent_id: str


@dataclass(frozen=True, eq=False)
class OrgTree:
    """The Organizations tree, read once per run.

    ``accounts_under`` recurses through every descendant OU, as StackSets does for OU targets (§A1, §B); callers drop
    the management account and non-ACTIVE accounts themselves, because plan must list them as skipped, with reasons.
    """

    org_id: str
    management_account: str
    root_id: str
    ous: Mapping[str, OrganizationalUnit]
    accounts: Mapping[str, Account]

    def __post_init__(self) -> None:
        freeze(self, "ous", "accounts")

    @cached_property
    def _children(self) -> dict[str, tuple[list[str], list[str]]]:
        kids: dict[str, tuple[list[str], list[str]]] = {self.root_id: ([], [])}
        for ou in self.ous.values():
            kids.setdefault(ou.id, ([], []))
            kids.setdefault(ou.parent_id, ([], []))[0].append(ou.id)
        for acct in self.accounts.values():
            kids.setdefault(acct.parent_id, ([], []))[1].append(acct.id)
        return kids

    def child_ous(self, parent_id: str) -> tuple[str, ...]:
        return tuple(sorted(self._children.get(parent_id, ([], []))[0]))

    def accounts_under(self, parent_id: str) -> frozenset[str]:
        """Every account in ``parent_id`` (root or OU) and all its descendant OUs."""
        found: set[str] = set()
        stack = [parent_id]
        while stack:
            node = stack.pop()
            ous, accts = self._children.get(node, ([], []))
            found.update(accts)
            stack.extend(ous)
        return frozenset(found)

    def path_of(self, ou_id: str) -> str:
        """``/Workloads/Prod`` for an OU id; ``/`` for the root."""
        parts: list[str] = []
        node = ou_id
        while node != self.root_id and node in self.ous:
            parts.append(self.ous[node].name)
            node = self.ous[node].parent_id
        return "/" + "/".join(reversed(parts))

    @cached_property
    def _by_path(self) -> dict[str, str]:
        paths = {self.path_of(ou_id).lower(): ou_id for ou_id in self.ous}
        paths["/"] = self.root_id
        return paths

    def resolve_ou(self, ref: str) -> str | None:
        """An OU id (``ou-…``/``r-…``) or a path (``/Workloads/Prod``, case-insensitive) → the OU id, or None."""
        if ref.startswith("/"):
            return self._by_path.get(ref.rstrip("/").lower() or "/")
        if ref == self.root_id or ref in self.ous:
            return ref
        return None

    def ancestors(self, account_id: str) -> tuple[str, ...]:
        """The OU chain above an account, nearest first, ending with the root."""
        chain: list[str] = []
        node = self.accounts[account_id].parent_id
        while True:
            chain.append(node)
            if node == self.root_id or node not in self.ous:
                break
            node = self.ous[node].parent_id
        return tuple(chain)


class PermissionModel(enum.Enum):
    SERVICE_MANAGED = "SERVICE_MANAGED"
    SELF_MANAGED = "SELF_MANAGED"


class StackInstanceStatus(enum.Enum):
    """How an instance stands relative to its StackSet (§A7)."""

    CURRENT = "CURRENT"
    OUTDATED = "OUTDATED"
    INOPERABLE = "INOPERABLE"


class StackInstanceDetailedStatus(enum.Enum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    INOPERABLE = "INOPERABLE"
    SKIPPED_SUSPENDED_ACCOUNT = "SKIPPED_SUSPENDED_ACCOUNT"
    FAILED_IMPORT = "FAILED_IMPORT"


class StackDriftStatus(enum.Enum):
    DRIFTED = "DRIFTED"
    IN_SYNC = "IN_SYNC"
    UNKNOWN = "UNKNOWN"
    NOT_CHECKED = "NOT_CHECKED"


@dataclass(frozen=True)
class StackSetDriftDetails:
    """DescribeStackSet.StackSetDriftDetectionDetails: the last *completed* drift detection (§A8)."""

    drift_status: str
    detection_status: str | None
    last_check: datetime | None
    drifted_count: int = 0
    in_sync_count: int = 0
    failed_count: int = 0
    total_count: int = 0  # TotalStackInstancesCount: the instances that detection looked at


# The tag that ties a managed StackSet to the clumio-org state deploying it (the state's lineage). Set on every
# CreateStackSet/UpdateStackSet apply makes; read apart from ``tags`` at the provider edge, so it is never a plan
# change or drift.
LINEAGE_TAG = "clumio-org:state-lineage"


@dataclass(frozen=True)
class LiveStackSet:
    """A StackSet as DescribeStackSet returns it. NoEcho parameter values come back masked (``****``), so
    ``parameters`` never holds a secret; the state file's fingerprints tell whether they changed. ``lineage`` is
    the :data:`LINEAGE_TAG` value (None when untagged: created by hand or by an older clumio-org); ``tags`` are the
    others. ``template_version``, ``template_sha256`` and ``is_clumio`` are derived from the body once per model
    (reconciler.core.template): read them, never the body."""

    name: str
    stack_set_id: str
    status: str
    permission_model: PermissionModel
    description: str
    template_body: str
    parameters: Mapping[str, str]
    capabilities: tuple[str, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()
    auto_deployment: bool | None = None
    retain_stacks_on_account_removal: bool | None = None
    managed_execution: bool = False
    organizational_unit_ids: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    administration_role_arn: str | None = None
    execution_role_name: str | None = None
    drift: StackSetDriftDetails | None = None
    lineage: str | None = None

    def __post_init__(self) -> None:
        freeze(self, "parameters")

    @cached_property
    def template_version(self) -> str | None:
        """The body's ``Metadata.ClumioTemplateVersion`` (None: not Clumio's template, or an unversioned one)."""
        return template_version_of(self.template_body)

    @cached_property
    def template_sha256(self) -> str:
        """Hex SHA-256 of the body, as plans pin it and state records it."""
        return template_sha256(self.template_body)

    @property
    def is_clumio(self) -> bool:
        """Carries Clumio's template: the version metadata and both secret parameters (brownfield.md §1)."""
        return is_clumio_template(self.template_version, self.parameters)


@dataclass(frozen=True, slots=True)
class LiveInstance:
    """A StackInstanceSummary (§A7). ``stack_id`` is absent for suspended accounts; ``organizational_unit_id`` is the
    OU named in the targets, possibly an ancestor of the account's parent."""

    key: InstanceKey
    status: StackInstanceStatus
    detailed_status: StackInstanceDetailedStatus | None = None
    status_reason: str | None = None
    stack_id: str | None = None
    organizational_unit_id: str | None = None
    drift_status: StackDriftStatus = StackDriftStatus.NOT_CHECKED
    last_drift_check: datetime | None = None
    last_operation_id: str | None = None


class ConnectionStatus(enum.Enum):
    """Clumio connection_status (reference/clumio-api.md §4); the documented list is not exhaustive, so an unknown
    value maps to UNKNOWN instead of failing."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    UNLINKED = "unlinked"
    UNKNOWN = "unknown"

    @classmethod
    def _missing_(cls, value: object) -> ConnectionStatus:
        return cls.UNKNOWN


@dataclass(frozen=True, slots=True)
class Connection:
    """A Clumio AWS connection for one account and region (id ``<account>_<region>``, clumio-api.md §3.3)."""

    id: str
    account: str
    region: str
    status: ConnectionStatus
    installed_template_version: str | None = None
    created: datetime | None = None
    # The CloudFormation stack that made the connection (§3.3 ``stack_arn`` / ``stack_name``): a StackSet's instance
    # stack is named ``StackSet-<name>-<uuid>``; a portal stack ``ClumioService``; Terraform's module has none.
    stack_arn: str | None = None
    stack_name: str | None = None
    # A connection Clumio migrated to a connection group (a StackSet's) names the stack it replaced, which "has to be
    # removed from AWS as well" (clumio-python-sdk AWSConnection.retired_stack_arn; docs/reference/brownfield.md §6).
    retired_stack_arn: str | None = None
    connection_group_id: str | None = None


@dataclass(frozen=True)
class ClumioTemplateInfo:
    """What Clumio offers now: the latest org template version and where to fetch it (clumio-api.md §3.2, §6)."""

    version: str
    url: str | None = None


class OperationStatus(enum.Enum):
    """StackSetOperation.Status (§A6)."""

    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    STOPPING = "STOPPING"
    STOPPED = "STOPPED"
    QUEUED = "QUEUED"

    @property
    def finished(self) -> bool:
        return self in (OperationStatus.SUCCEEDED, OperationStatus.FAILED, OperationStatus.STOPPED)


@dataclass(frozen=True)
class OperationView:
    """DescribeStackSetOperation / ListStackSetOperations row."""

    operation_id: str
    stack_set: str
    action: str
    status: OperationStatus
    status_reason: str | None = None
    failed_count: int = 0
    created: datetime | None = None
    ended: datetime | None = None


class OperationResultStatus(enum.Enum):
    """StackSetOperationResultSummary.Status: how one (account, region) of an operation stands (§A6). CANCELLED is
    an account not attempted once the failure tolerance was exceeded."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def finished(self) -> bool:
        return self in (OperationResultStatus.SUCCEEDED, OperationResultStatus.FAILED, OperationResultStatus.CANCELLED)

    @property
    def failed(self) -> bool:
        """Did not end up deployed: FAILED itself, or CANCELLED by another account's failure."""
        return self in (OperationResultStatus.FAILED, OperationResultStatus.CANCELLED)


@dataclass(frozen=True, slots=True)
class OperationResult:
    """ListStackSetOperationResults row: one (account, region) of an operation (§A6)."""

    account: str
    region: str
    status: OperationResultStatus
    status_reason: str | None = None
    organizational_unit_id: str | None = None


@dataclass(frozen=True)
class OtherClumioStackSet:
    """A StackSet this config does not manage that carries the Clumio template (its ``ClumioTemplateVersion``
    metadata and ClumioToken / RoleExternalId parameters), whatever its name, with the (account, region) pairs its
    instances occupy. ``port`` says which StackSets port found it: ``service`` (as configured) or ``self``."""

    stack_set: LiveStackSet
    template_version: str | None
    instances: Mapping[tuple[str, str], LiveInstance]
    port: str = "service"

    def __post_init__(self) -> None:
        freeze(self, "instances")


@dataclass(frozen=True, eq=False)
class Live:
    """Everything discovery read in one run. ``stack_sets`` holds only StackSets that exist; ``instances`` and
    ``connections`` are keyed for O(1) diffing at 100,000 instances."""

    org: OrgTree
    stack_sets: Mapping[str, LiveStackSet]
    instances: Mapping[InstanceKey, LiveInstance]
    connections: Mapping[tuple[str, str], Connection] = field(default_factory=dict)
    clumio_template: ClumioTemplateInfo | None = None
    enabled_regions: frozenset[str] = frozenset()
    running_operations: Mapping[str, OperationView] = field(default_factory=dict)
    # Clumio StackSets found besides the managed ones (reconciler.discover.existing), by name.
    other_clumio_stack_sets: Mapping[str, OtherClumioStackSet] = field(default_factory=dict)
    guardrails: Guardrails | None = None  # read only when asked (plan, apply; drift under on_deny: skip)

    def __post_init__(self) -> None:
        freeze(self, "stack_sets", "instances", "connections", "running_operations", "other_clumio_stack_sets")
