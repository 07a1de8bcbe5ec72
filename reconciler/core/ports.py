"""Ports: the small interfaces discovery, apply and drift use to reach AWS and Clumio.

Providers (reconciler/providers/) implement them with boto3 and urllib3 and convert raw JSON to our typed models at
that edge, once; tests of the core hand in in-memory fakes. Nothing here imports an I/O library.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from reconciler.core.errors import ProviderError
from reconciler.core.guardrails import LandingZone, ScpPolicy
from reconciler.core.live import (
    ClumioTemplateInfo,
    Connection,
    LiveInstance,
    LiveStackSet,
    OperationResult,
    OperationView,
    OrgTree,
)
from reconciler.core.plan import Operation, StackSetDefinition
from reconciler.core.secrets import Secret

STACKSETS_SERVICE_PRINCIPAL = "member.org.stacksets.cloudformation.amazonaws.com"


@dataclass(frozen=True)
class OrganizationInfo:
    """DescribeOrganization: id, management account, feature set (must be ALL for service-managed StackSets)."""

    id: str
    management_account: str
    feature_set: str


class OrgReader(Protocol):
    """Read-only view of AWS Organizations, STS, IAM and EC2 for the calling (admin) account."""

    def caller_account(self) -> str: ...
    def describe_organization(self) -> OrganizationInfo: ...
    def read_tree(self, on_accounts: Callable[[Sequence[str]], None] | None = None) -> OrgTree:
        """The whole tree, walked once per run with paginators. ``on_accounts`` is told the account ids as the walk
        finds them (each parent's, as its listing ends; all of them at once when the tree was read already), so a
        read that needs only account ids can start before the walk ends."""
        ...
    def service_access_enabled(self, principal: str = STACKSETS_SERVICE_PRINCIPAL) -> bool: ...
    def delegated_administrators(self, principal: str = STACKSETS_SERVICE_PRINCIPAL) -> frozenset[str]: ...
    def enabled_regions(self) -> frozenset[str]: ...
    def role_exists(self, role_name: str) -> bool:
        """Whether an IAM role of that name exists in the calling account."""
        ...


class GuardrailsUnreadable(ProviderError):
    """The caller may not read the organization's policies or its Control Tower landing zone (AccessDenied): the
    guardrail check is skipped with a note, never guessed."""


class GuardrailReader(Protocol):
    """Organizations policy reads and Control Tower, for the guardrail check (docs/reference/guardrails.md §1)."""

    def policies_for_target(self, target_id: str) -> tuple[str, ...]:
        """ListPoliciesForTarget (SERVICE_CONTROL_POLICY, every page): the SCP ids attached directly to the root, OU
        or account. Raises GuardrailsUnreadable on AccessDenied."""
        ...
    def describe_policy(self, policy_id: str) -> ScpPolicy: ...
    def scp_ids(self) -> tuple[str, ...]:
        """ListPolicies (SERVICE_CONTROL_POLICY, every page): the id of every SCP in the organization, attached or
        not. Raises GuardrailsUnreadable on AccessDenied."""
        ...
    def policy_targets_page(self, policy_id: str, token: str | None) -> tuple[tuple[str, ...], str | None]:
        """One page of ListTargetsForPolicy (MaxResults 20): the roots, OUs and accounts ``policy_id`` is attached
        to directly, and the NextToken (None on the last page; a page may be empty and still have one). One page at
        a time, so the caller can stop a long listing. Raises GuardrailsUnreadable on AccessDenied."""
        ...
    def landing_zone(self) -> LandingZone | None:
        """ListLandingZones then GetLandingZone; None when the organization has none."""
        ...


@dataclass(frozen=True)
class TemplateParameter:
    """A StackSet parameter as sent: a plain value, a secret (sent, never shown), or UsePreviousValue."""

    key: str
    value: str | Secret | None = None
    use_previous: bool = False


class OperationInProgress(ProviderError):
    """OperationInProgressException (§A9): another operation runs on the StackSet; ``running_operation_id`` when AWS
    named it."""

    def __init__(self, message: str, running_operation_id: str | None = None) -> None:
        super().__init__(message)
        self.running_operation_id = running_operation_id


class StaleRequest(ProviderError):
    """StaleRequestException (§A9): retry after backing off."""


class OperationIdAlreadyExists(ProviderError):
    """OperationIdAlreadyExistsException: the id was used before — by us, so follow that operation."""


class StackSetNotFound(ProviderError):
    """StackSetNotFoundException."""


class StackSetReads(Protocol):
    """What discovery reads of the StackSets one port reaches: the definitions, their instances, and whether an
    operation holds a StackSet now."""

    def describe_stack_set(self, name: str) -> LiveStackSet | None: ...
    def list_stack_sets(self) -> list[str]:
        """Names of the ACTIVE StackSets this port reaches (ListStackSets), sorted."""
        ...
    def list_instances(self, name: str, regions: Sequence[str] | None = None) -> list[LiveInstance]:
        """Every instance of the StackSet (read in parallel per region when ``regions`` is given)."""
        ...
    def recent_operations(self, stack_set: str, limit: int = 100) -> list[OperationView]:
        """The newest ``limit`` operations (the first page of ListStackSetOperations, newest first): enough to find a
        running one without reading the StackSet's whole history."""
        ...


class StackSetOperationReads(Protocol):
    """Following operations: one by id, the whole history (to find ours again after a crash), per-account results."""

    def describe_operation(self, stack_set: str, operation_id: str) -> OperationView: ...
    def list_operations(self, stack_set: str) -> list[OperationView]: ...
    def list_operation_results(self, stack_set: str, operation_id: str) -> list[OperationResult]: ...


class StackSetWrites(Protocol):
    """The calls that change a StackSet or its instances; each instance call returns the operation id AWS runs."""

    def create_stack_set(self, definition: StackSetDefinition, template_body: str,
                         parameters: Sequence[TemplateParameter]) -> None: ...
    def update_stack_set(self, definition: StackSetDefinition, template_body: str,
                         parameters: Sequence[TemplateParameter], operation: Operation) -> str: ...
    def create_instances(self, operation: Operation) -> str: ...
    def update_instances(self, operation: Operation, overrides: Sequence[TemplateParameter]) -> str: ...
    def delete_instances(self, operation: Operation) -> str: ...
    def stop_operation(self, stack_set: str, operation_id: str) -> None: ...
    def delete_stack_set(self, name: str) -> None:
        """DeleteStackSet: only an empty StackSet can be deleted (StackSetNotEmptyException otherwise)."""
        ...


class StackSetDriftDetection(Protocol):
    """DetectStackSetDrift and the per-instance resource drifts it leaves behind (§A8)."""

    def detect_drift(self, stack_set: str, operation_id: str | None = None) -> str: ...
    def list_resource_drifts(self, stack_set: str, account: str, region: str,
                             operation_id: str) -> list[Mapping[str, str]]: ...


class StackSets(StackSetReads, StackSetOperationReads, StackSetWrites, StackSetDriftDetection, Protocol):
    """CloudFormation StackSets for one StackSet home region, with CallAs applied by the provider: the four
    protocols above, which the AWS provider implements together. A consumer that needs one part takes that part,
    so its test fake is that part only."""


@dataclass(frozen=True)
class DeploymentParameters:
    """PUT /connections/aws/org-deployment-parameters (clumio-api.md §3.1): ClumioToken and RoleExternalId."""

    token: Secret
    external_id: Secret


@dataclass(frozen=True)
class ClumioTemplate:
    """The org template Clumio serves for the configured asset types: body, version, and its content hash."""

    version: str
    body: str
    sha256: str
    url: str | None = None


class Clumio(Protocol):
    """The Clumio REST API (clumio-api.md)."""

    def check_token(self) -> None:
        """Raise PreflightError when the token is missing, rejected or expired."""
        ...
    def latest_template(self) -> ClumioTemplateInfo: ...
    def org_template(self, asset_types: Sequence[str]) -> ClumioTemplate: ...
    def org_deployment_parameters(self, org_id: str) -> DeploymentParameters: ...
    def list_connections(self, accounts: Sequence[str] | None = None,
                         regions: Sequence[str] | None = None) -> list[Connection]: ...
    def delete_connection(self, connection_id: str) -> None:
        """DELETE /connections/aws/{id} (§3.3); a connection already gone is not an error."""
        ...
