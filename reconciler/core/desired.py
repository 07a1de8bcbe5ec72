"""Desired: the typed, frozen model of a reviewed desired-state file (what should be true)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from reconciler.core.guardrails import GuardrailMode


class CallAs(enum.Enum):
    """Who calls the StackSets API (reference/aws-stacksets.md §A1): the management account itself (SELF) or a
    registered delegated administrator, which must pass ``CallAs=DELEGATED_ADMIN`` on every StackSet call."""

    SELF = "SELF"
    DELEGATED_ADMIN = "DELEGATED_ADMIN"


class RegionConcurrencyType(enum.Enum):
    """OperationPreferences.RegionConcurrencyType (§A5): regions one after another, or all at once."""

    SEQUENTIAL = "SEQUENTIAL"
    PARALLEL = "PARALLEL"


class ConcurrencyMode(enum.Enum):
    """OperationPreferences.ConcurrencyMode (§A5). Under STRICT_FAILURE_TOLERANCE the real concurrency is
    min(MaxConcurrent, FailureTolerance + 1): tolerance 0 means one account at a time, whatever MaxConcurrent says."""

    STRICT_FAILURE_TOLERANCE = "STRICT_FAILURE_TOLERANCE"
    SOFT_FAILURE_TOLERANCE = "SOFT_FAILURE_TOLERANCE"


@dataclass(frozen=True)
class Amount:
    """A count of accounts or a percentage of a region's targets; exactly one is set.

    AWS rounds percentages down (§A5); for MaxConcurrent it never goes below 1, for FailureTolerance it may be 0.
    """

    count: int | None = None
    percent: int | None = None

    def resolve(self, total: int, minimum: int) -> int:
        """The number of accounts this amount means for ``total`` targets in one region."""
        value = self.count if self.count is not None else (total * (self.percent or 0)) // 100
        return max(minimum, value)

    def __str__(self) -> str:
        return f"{self.percent}%" if self.percent is not None else str(self.count)

    @classmethod
    def parse(cls, text: str) -> Amount:
        """The inverse of ``str``: ``"25%"`` or ``"3"`` (as a plan file writes it). Raises ValueError otherwise."""
        if text.endswith("%"):
            return cls(percent=int(text[:-1]))
        return cls(count=int(text))


@dataclass(frozen=True)
class OrganizationSpec:
    """The AWS Organization: its id, its management account, the home region where the StackSet lives."""

    id: str
    management_account: str
    home_region: str
    call_as: CallAs = CallAs.SELF
    assume_role_arn: str | None = None


@dataclass(frozen=True)
class ClumioSpec:
    """How to reach Clumio. The API token is never in the file: ``token_env`` names the environment variable."""

    api_url: str
    token_env: str = "CLUMIO_API_TOKEN"
    asset_types: tuple[str, ...] = ("EC2/EBS", "RDS", "DynamoDB", "S3")
    # "latest" follows Clumio's current template; "24.4" holds the StackSet at that version.
    template_version: str = "latest"


@dataclass(frozen=True)
class StackSetSpec:
    """The service-managed StackSet that carries the Clumio integration to member accounts (seed steps 3–5)."""

    name: str = "clumio-org"
    description: str = "Clumio backup integration for the AWS Organization (managed by clumio-org)"
    send_deployment_events: bool = True
    permissions_boundary_arn: str = ""
    create_inventory_topic_key: bool = False
    inventory_topic_key_arn: str = ""
    auto_deployment: bool = True
    retain_stacks_on_account_removal: bool = False
    managed_execution: bool = False
    tags: tuple[tuple[str, str], ...] = ()
    capabilities: tuple[str, ...] = ("CAPABILITY_IAM", "CAPABILITY_NAMED_IAM")

    def template_parameters(self) -> dict[str, str]:
        """The non-secret template parameters (seed step 4). ClumioToken and RoleExternalId are added at apply
        time from Clumio and are never part of the desired state."""
        return {
            "SendCFTDeploymentEventsToClumio": "True" if self.send_deployment_events else "False",
            "PermissionsBoundaryARN": self.permissions_boundary_arn,
            "CreateClumioInventoryTopicEncryptionKey": "True" if self.create_inventory_topic_key else "False",
            "ClumioInventoryTopicEncryptionKey": self.inventory_topic_key_arn,
        }


class AutoDeploymentReach(enum.Enum):
    """``targets.auto_deployment_reach``: where the StackSet's OU list may let auto-deployment go.

    Auto-deployment acts on accounts that join or move into a targeted OU's subtree and ignores account filters
    (reference/aws-stacksets.md §A3). ``desired`` (the default) keeps the OU list to OUs whose whole subtree is
    desired, so a new account there is always one the file asked for; an account reachable only through a wider OU
    is skipped, with the reason. ``any`` deploys such accounts through their parent OU and accepts that
    auto-deployment will also reach new accounts there (the plan lists them by OU)."""

    DESIRED = "desired"
    ANY = "any"


class SuspendedAccounts(enum.Enum):
    """``targets.suspended_accounts``: what happens to the instances of SUSPENDED or CLOSED accounts.

    AWS skips them in every operation (SKIPPED_SUSPENDED_ACCOUNT, §A7), so ``keep`` (the default) leaves them
    alone and lists them as information; ``remove`` removes them with RetainStacks=true (their roles are gone)."""

    KEEP = "keep"
    REMOVE = "remove"


class ExistingConnections(enum.Enum):
    """``targets.existing_connections``: desired (account, region) pairs Clumio already connects outside any StackSet
    (a portal ``ClumioService`` stack, Terraform's ``clumio_aws_connection``; docs/reference/brownfield.md §3, §6).

    ``leave`` (the default) deploys nothing there: backups keep running on the old connection. ``move`` deploys the
    StackSet's instance next to the old stack, waits until Clumio shows the connection taken over by it (the old
    stack then reported as ``retired_stack_arn``), and only then names the old stack for the user to delete, so the
    connection never stops."""

    LEAVE = "leave"
    MOVE = "move"


@dataclass(frozen=True)
class TargetsSpec:
    """Where the StackSet goes: the whole organization and/or OUs (ids ``ou-…``/``r-…`` or paths ``/A/B``) and/or
    single accounts, minus excluded accounts and OUs. OUs include every descendant OU (§A1)."""

    organization: bool = False
    ous: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    exclude_accounts: tuple[str, ...] = ()
    exclude_ous: tuple[str, ...] = ()
    auto_deployment_reach: AutoDeploymentReach = AutoDeploymentReach.DESIRED
    suspended_accounts: SuspendedAccounts = SuspendedAccounts.KEEP
    existing_connections: ExistingConnections = ExistingConnections.LEAVE


@dataclass(frozen=True)
class WaveSpec:
    """One rollout wave: which accounts (ids, OUs, the first ``sample`` accounts, or ``rest``) and how fast.

    Waves run in order; a wave whose failures exceed its tolerance stops the run before the next one.
    """

    name: str
    accounts: tuple[str, ...] = ()
    ous: tuple[str, ...] = ()
    sample: int | None = None
    rest: bool = False
    max_concurrent: Amount = field(default_factory=lambda: Amount(count=1))
    failure_tolerance: Amount = field(default_factory=lambda: Amount(count=0))
    concurrency_mode: ConcurrencyMode = ConcurrencyMode.STRICT_FAILURE_TOLERANCE


@dataclass(frozen=True)
class RolloutSpec:
    """How apply rolls out: region concurrency and order (§A5), waves, and how long to wait for Clumio."""

    region_concurrency: RegionConcurrencyType = RegionConcurrencyType.PARALLEL
    region_order: tuple[str, ...] = ()
    waves: tuple[WaveSpec, ...] = ()
    verify_connections_seconds: int = 900


@dataclass(frozen=True)
class ManagementAccountSpec:
    """The management account never receives a service-managed instance (§A1); onboarding it takes a second,
    self-managed StackSet with the administration and execution roles (seed, "Onboarding the management account")."""

    onboard: bool = False
    stack_set_name: str = "clumio-org-management"
    administration_role_name: str = "AWSCloudFormationStackSetAdministrationRole"
    execution_role_name: str = "AWSCloudFormationStackSetExecutionRole"


@dataclass(frozen=True)
class StateSpec:
    """Where state lives: a local file (path relative to the config file) or an S3 object."""

    backend: str = "local"  # "local" | "s3"
    path: str = ".clumio-org/state.json"
    bucket: str | None = None
    key: str | None = None
    region: str | None = None
    kms_key_id: str | None = None


@dataclass(frozen=True)
class GuardrailsSpec:
    """``guardrails``: what plan does with an (account, region) an SCP or Control Tower will make fail."""

    on_deny: GuardrailMode = GuardrailMode.WARN


@dataclass(frozen=True)
class Desired:
    """Everything a desired-state file says should be true, validated and with defaults filled in.

    ``digest`` is a SHA-256 of the canonical (defaults applied, env interpolated) content: a saved plan records it
    and ``apply`` refuses when the file changed since. ``source`` is the file's path (for messages and for resolving
    relative paths such as a local state file).
    """

    organization: OrganizationSpec
    clumio: ClumioSpec
    stack_set: StackSetSpec
    targets: TargetsSpec
    regions: tuple[str, ...]
    rollout: RolloutSpec
    management_account: ManagementAccountSpec
    state: StateSpec
    guardrails: GuardrailsSpec = field(default_factory=GuardrailsSpec)
    source: str = ""
    digest: str = ""
    version: int = 1
    # Where each value is written, as (key, line, column) with keys spelled as messages name them
    # ("targets.exclude.ous[0]"), so a problem found only at plan time (an OU the organization lacks) points into
    # the file. Not part of the digest: moving a line changes no meaning.
    places: tuple[tuple[str, int, int], ...] = ()

    def where(self, key: str) -> str:
        """``FILE:LINE:COL: key`` for a value written in the file (at its nearest written parent when ``key`` is a
        default), or ``key`` alone for a Desired built without a file."""
        known = {name: (line, column) for name, line, column in self.places}
        probe = key
        while probe and probe not in known:
            cut = max(probe.rfind("."), probe.rfind("["))
            probe = probe[:cut] if cut > 0 else ""
        if not probe or not self.source:
            return key
        line, column = known[probe]
        return f"{self.source}:{line}:{column}: {key}"
