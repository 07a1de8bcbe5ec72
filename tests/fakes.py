"""In-memory fakes of the three ports (OrgReader, StackSets, Clumio) for tests of the pure core (plan, apply,
drift) with no AWS at all; the world builders of tests/worlds.py are re-exported here.

The fakes model the StackSets rules the core depends on (reference/aws-stacksets.md): OU targets expand recursively
minus the management account, AccountFilterType narrows them, suspended accounts give OUTDATED /
SKIPPED_SUSPENDED_ACCOUNT instances, subset UpdateStackSet leaves the rest OUTDATED, one operation at a time per
StackSet (``busy`` makes the next call raise OperationInProgress). Operations finish instantly; ``calls`` records
every mutating call so tests can count them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from reconciler.core.desired import Desired
from reconciler.core.guardrails import LandingZone, ScpPolicy
from reconciler.core.keys import InstanceKey
from reconciler.core.live import (
    AccountState,
    ClumioTemplateInfo,
    Connection,
    ConnectionStatus,
    Live,
    LiveInstance,
    LiveStackSet,
    OperationResult,
    OperationResultStatus,
    OperationStatus,
    OperationView,
    OrgTree,
    StackInstanceDetailedStatus,
    StackInstanceStatus,
)
from reconciler.core.plan import AccountFilterType, Operation, StackSetDefinition
from reconciler.core.ports import (
    STACKSETS_SERVICE_PRINCIPAL,
    ClumioTemplate,
    DeploymentParameters,
    GuardrailsUnreadable,
    OperationIdAlreadyExists,
    OperationInProgress,
    OrganizationInfo,
    StackSetNotFound,
    TemplateParameter,
)
from reconciler.core.secrets import Secret
from tests.worlds import (
    FAKE_EXTERNAL_ID,
    FAKE_TOKEN,
    HOME_REGION,
    MANAGEMENT,
    ORG_ID,
    REGIONS,
    ROOT,
    TEMPLATE_TEXT,
    OrgBuilder,
    amount,
    connection,
    demo_org,
    instance,
    live_stack_set,
    make_desired,
    make_live,
    make_template,
    wave,
)

__all__ = [
    "FAKE_EXTERNAL_ID",
    "FAKE_TOKEN",
    "FakeCallCounter",
    "FakeClumio",
    "FakeGuardrails",
    "FakeOrg",
    "FakePorts",
    "FakeStackSets",
    "HOME_REGION",
    "MANAGEMENT",
    "ORG_ID",
    "OrgBuilder",
    "REGIONS",
    "ROOT",
    "TEMPLATE_TEXT",
    "amount",
    "connection",
    "demo_org",
    "fake_ports",
    "instance",
    "live_from_ports",
    "live_stack_set",
    "make_desired",
    "make_live",
    "make_template",
    "wave",
]

# ---------------------------------------------------------------------------------------------------------------
# Port fakes
# ---------------------------------------------------------------------------------------------------------------


class FakeOrg:
    """OrgReader over an OrgTree; ``caller`` is the calling account (management or a delegated admin)."""

    def __init__(self, tree: OrgTree, *, caller: str | None = None, trusted_access: bool = True,
                 delegated_admins: Iterable[str] = (), regions: Iterable[str] = REGIONS,
                 roles: Iterable[str] = ()) -> None:
        self.tree = tree
        self.caller = caller or tree.management_account
        self.trusted_access = trusted_access
        self.admins = frozenset(delegated_admins)
        self.regions = frozenset(regions)
        self.roles = set(roles)
        self.calls: list[str] = []

    def caller_account(self) -> str:
        self.calls.append("caller_account")
        return self.caller

    def describe_organization(self) -> OrganizationInfo:
        self.calls.append("describe_organization")
        return OrganizationInfo(self.tree.org_id, self.tree.management_account, "ALL")

    def read_tree(self, on_accounts: Callable[[Sequence[str]], None] | None = None) -> OrgTree:
        self.calls.append("read_tree")
        if on_accounts is not None:
            on_accounts(list(self.tree.accounts))
        return self.tree

    def service_access_enabled(self, principal: str = STACKSETS_SERVICE_PRINCIPAL) -> bool:
        self.calls.append("service_access_enabled")
        return self.trusted_access

    def delegated_administrators(self, principal: str = STACKSETS_SERVICE_PRINCIPAL) -> frozenset[str]:
        self.calls.append("delegated_administrators")
        return self.admins

    def enabled_regions(self) -> frozenset[str]:
        self.calls.append("enabled_regions")
        return self.regions

    def role_exists(self, role_name: str) -> bool:
        self.calls.append("role_exists")
        return role_name in self.roles


class FakeGuardrails:
    """GuardrailReader in memory: ``attachments`` (target id → SCP ids), ``policies`` (id → ScpPolicy), an optional
    landing zone; ``denied`` makes every policy read raise GuardrailsUnreadable, ``by_policy_denied`` only ListPolicies
    and ListTargetsForPolicy. No policies at all means SCPs are not enabled (nothing on the root). ``calls`` records
    each read."""

    def __init__(self, attachments: Mapping[str, Sequence[str]] | None = None,
                 policies: Iterable[ScpPolicy] = (), landing_zone: LandingZone | None = None,
                 denied: bool = False, by_policy_denied: bool = False) -> None:
        self.attachments = {k: tuple(v) for k, v in (attachments or {}).items()}
        self.by_policy_denied = by_policy_denied
        self.policies = {p.id: p for p in policies}
        self.zone = landing_zone
        self.denied = denied
        self.calls: list[tuple[str, str]] = []

    def policies_for_target(self, target_id: str) -> tuple[str, ...]:
        self.calls.append(("ListPoliciesForTarget", target_id))
        if self.denied:
            raise GuardrailsUnreadable("AWS denied organizations:ListPoliciesForTarget: not allowed")
        return tuple(sorted(self.attachments.get(target_id, ())))

    def scp_ids(self) -> tuple[str, ...]:
        self.calls.append(("ListPolicies", ""))
        if self.denied or self.by_policy_denied:
            raise GuardrailsUnreadable("AWS denied organizations:ListPolicies: not allowed")
        return tuple(sorted(self.policies))

    def policy_targets_page(self, policy_id: str, token: str | None) -> tuple[tuple[str, ...], str | None]:
        """Pages of 20, in target order, as the Organizations API pages them."""
        self.calls.append(("ListTargetsForPolicy", policy_id))
        if self.denied or self.by_policy_denied:
            raise GuardrailsUnreadable("AWS denied organizations:ListTargetsForPolicy: not allowed")
        targets = sorted(t for t, ids in self.attachments.items() if policy_id in ids)
        start = int(token or 0)
        more = start + 20 < len(targets)
        return tuple(targets[start:start + 20]), str(start + 20) if more else None

    def describe_policy(self, policy_id: str) -> ScpPolicy:
        self.calls.append(("DescribePolicy", policy_id))
        return self.policies[policy_id]

    def landing_zone(self) -> LandingZone | None:
        self.calls.append(("ListLandingZones", ""))
        return self.zone


@dataclass
class _FakeStackSet:
    live: LiveStackSet
    instances: dict[tuple[str, str], LiveInstance] = field(default_factory=dict)
    operations: dict[str, OperationView] = field(default_factory=dict)
    results: dict[str, list[OperationResult]] = field(default_factory=dict)


class FakeStackSets:
    """StackSets port in memory. Operations finish at once (SUCCEEDED, or FAILED when an account in
    ``failing_accounts`` is reached); set ``busy[name] = op_id`` to make the next mutating call raise
    OperationInProgress once."""

    def __init__(self, org: OrgTree, *, failing_accounts: Iterable[str] = ()) -> None:
        self.org = org
        self.sets: dict[str, _FakeStackSet] = {}
        self.failing_accounts = set(failing_accounts)
        self.busy: dict[str, str] = {}
        self.calls: list[tuple[str, str]] = []
        self._seq = 0

    # -- reads ---------------------------------------------------------------------------------------------
    def describe_stack_set(self, name: str) -> LiveStackSet | None:
        self.calls.append(("describe_stack_set", name))
        ss = self.sets.get(name)
        return ss.live if ss else None

    def list_stack_sets(self) -> list[str]:
        self.calls.append(("list_stack_sets", ""))
        return sorted(self.sets)

    def delete_stack_set(self, name: str) -> None:
        self.calls.append(("delete_stack_set", name))
        if self._get(name).instances:
            from reconciler.core.errors import ProviderError

            raise ProviderError(f"StackSet {name} is not empty")
        del self.sets[name]

    def list_instances(self, name: str, regions: Sequence[str] | None = None) -> list[LiveInstance]:
        self.calls.append(("list_instances", name))
        ss = self._get(name)
        return sorted((i for i in ss.instances.values() if regions is None or i.key.region in regions),
                      key=lambda i: i.key)

    def describe_operation(self, stack_set: str, operation_id: str) -> OperationView:
        return self._get(stack_set).operations[operation_id]

    def list_operations(self, stack_set: str) -> list[OperationView]:
        return list(self._get(stack_set).operations.values())

    def recent_operations(self, stack_set: str, limit: int = 100) -> list[OperationView]:
        # Operations are kept in the order they started; AWS lists the newest first.
        return list(reversed(self.list_operations(stack_set)))[:limit]

    def list_operation_results(self, stack_set: str, operation_id: str) -> list[OperationResult]:
        return list(self._get(stack_set).results.get(operation_id, []))

    def list_resource_drifts(self, stack_set: str, account: str, region: str,
                             operation_id: str) -> list[Mapping[str, str]]:
        return []

    # -- writes --------------------------------------------------------------------------------------------
    def create_stack_set(self, definition: StackSetDefinition, template_body: str,
                         parameters: Sequence[TemplateParameter]) -> None:
        self.calls.append(("create_stack_set", definition.name))
        self.sets[definition.name] = _FakeStackSet(self._live_from(definition, template_body, parameters, None))

    def update_stack_set(self, definition: StackSetDefinition, template_body: str,
                         parameters: Sequence[TemplateParameter], operation: Operation) -> str:
        ss = self._begin("update_stack_set", operation)
        old = ss.live
        ss.live = self._live_from(definition, template_body, parameters, old)
        changed = old.template_body != ss.live.template_body or dict(old.parameters) != dict(ss.live.parameters)
        reached = set(self._reach(ss, operation)) if (operation.targets or operation.accounts) else None
        if changed:
            for k, inst in ss.instances.items():
                if inst.status is not StackInstanceStatus.INOPERABLE:
                    ss.instances[k] = replace(inst, status=StackInstanceStatus.OUTDATED)
        keys = [k for k in ss.instances if reached is None or k in reached]
        return self._finish(ss, operation, "UPDATE", keys)

    def create_instances(self, operation: Operation) -> str:
        ss = self._begin("create_instances", operation)
        keys = self._reach(ss, operation)
        return self._finish(ss, operation, "CREATE", keys)

    def update_instances(self, operation: Operation, overrides: Sequence[TemplateParameter]) -> str:
        ss = self._begin("update_instances", operation)
        keys = [k for k in self._reach(ss, operation) if k in ss.instances]
        return self._finish(ss, operation, "UPDATE", keys)

    def delete_instances(self, operation: Operation) -> str:
        ss = self._begin("delete_instances", operation)
        keys = [k for k in self._reach(ss, operation) if k in ss.instances]
        op_id = self._finish(ss, operation, "DELETE", keys, create=False)
        for k in keys:
            if k[0] not in self.failing_accounts:
                ss.instances.pop(k, None)
        return op_id

    def stop_operation(self, stack_set: str, operation_id: str) -> None:
        ss = self._get(stack_set)
        ss.operations[operation_id] = replace(ss.operations[operation_id], status=OperationStatus.STOPPED)

    def detect_drift(self, stack_set: str, operation_id: str | None = None) -> str:
        self._seq += 1
        op_id = operation_id or f"drift-{self._seq}"
        ss = self._get(stack_set)
        ss.operations[op_id] = OperationView(op_id, stack_set, "DETECT_DRIFT", OperationStatus.SUCCEEDED)
        return op_id

    # -- helpers -------------------------------------------------------------------------------------------
    def _get(self, name: str) -> _FakeStackSet:
        if name not in self.sets:
            raise StackSetNotFound(f"StackSet {name} not found")
        return self.sets[name]

    def _begin(self, call: str, operation: Operation) -> _FakeStackSet:
        self.calls.append((call, operation.operation_id))
        ss = self._get(operation.stack_set)
        if operation.stack_set in self.busy:
            running = self.busy.pop(operation.stack_set)
            raise OperationInProgress(f"Another Operation on StackSet is in progress: {running}", running)
        if operation.operation_id in ss.operations:
            raise OperationIdAlreadyExists(f"operation {operation.operation_id} already exists")
        return ss

    def _reach(self, ss: _FakeStackSet, operation: Operation) -> list[tuple[str, str]]:
        """(account, region) pairs the call names, with the service-managed expansion rules of §A1/§A3."""
        regions = operation.regions or tuple(sorted({k[1] for k in ss.instances}))
        if operation.targets is not None and operation.targets.organizational_unit_ids:
            t = operation.targets
            in_ous: set[str] = set()
            for ou in t.organizational_unit_ids:
                in_ous |= self.org.accounts_under(ou)
            in_ous.discard(self.org.management_account)
            listed = set(t.accounts)
            flt = t.account_filter_type or AccountFilterType.UNION
            accounts = {AccountFilterType.NONE: in_ous, AccountFilterType.INTERSECTION: in_ous & listed,
                        AccountFilterType.DIFFERENCE: in_ous - listed, AccountFilterType.UNION: in_ous | listed}[flt]
        else:
            accounts = set(operation.accounts or (operation.targets.accounts if operation.targets else ()))
        return [(a, r) for a in sorted(accounts) for r in regions]

    def _finish(self, ss: _FakeStackSet, operation: Operation, action: str, keys: Iterable[tuple[str, str]],
                create: bool = True) -> str:
        results: list[OperationResult] = []
        failed = 0
        for account, region in keys:
            acct = self.org.accounts.get(account)
            suspended = acct is not None and acct.state is not AccountState.ACTIVE
            failing = account in self.failing_accounts
            if create or action == "UPDATE":
                status, detailed, reason = StackInstanceStatus.CURRENT, StackInstanceDetailedStatus.SUCCEEDED, None
                if suspended:
                    status = StackInstanceStatus.OUTDATED
                    detailed = StackInstanceDetailedStatus.SKIPPED_SUSPENDED_ACCOUNT
                    reason = "This account is suspended."
                elif failing:
                    status, detailed, reason = (StackInstanceStatus.OUTDATED, StackInstanceDetailedStatus.FAILED,
                                                "ResourceLogicalId:Topic, ResourceStatusReason:fake failure")
                ss.instances[(account, region)] = LiveInstance(
                    InstanceKey(ss.live.name, account, region), status, detailed, reason,
                    stack_id=None if suspended else f"arn:aws:cloudformation:{region}:{account}:stack/x",
                    last_operation_id=operation.operation_id,
                )
            failed += failing
            results.append(OperationResult(account, region,
                                           OperationResultStatus.FAILED if failing else OperationResultStatus.SUCCEEDED,
                                           "fake failure" if failing else None))
        status = OperationStatus.FAILED if failed else OperationStatus.SUCCEEDED
        now = datetime.now(UTC)
        ss.operations[operation.operation_id] = OperationView(
            operation.operation_id, ss.live.name, action, status, failed_count=failed, created=now, ended=now)
        ss.results[operation.operation_id] = results
        return operation.operation_id

    def _live_from(self, d: StackSetDefinition, body: str, parameters: Sequence[TemplateParameter],
                   old: LiveStackSet | None) -> LiveStackSet:
        params: dict[str, str] = dict(old.parameters) if old else {}
        for p in parameters:
            if p.use_previous:
                continue
            params[p.key] = "****" if isinstance(p.value, Secret) else str(p.value or "")
        return LiveStackSet(
            name=d.name, stack_set_id=f"{d.name}:fake-id", status="ACTIVE", permission_model=d.permission_model,
            description=d.description, template_body=body, parameters=params, capabilities=d.capabilities,
            tags=d.tags, auto_deployment=d.auto_deployment,
            retain_stacks_on_account_removal=d.retain_stacks_on_account_removal,
            managed_execution=d.managed_execution, administration_role_arn=d.administration_role_arn,
            execution_role_name=d.execution_role_name,
        )


class FakeClumio:
    """Clumio port in memory: one template version on offer, connections you set (or ``connect_all``)."""

    def __init__(self, template: ClumioTemplate | None = None, *, token_ok: bool = True) -> None:
        self.template = template or make_template()
        self.token_ok = token_ok
        self.connections: dict[tuple[str, str], Connection] = {}
        self.calls: list[str] = []

    def check_token(self) -> None:
        from reconciler.core.errors import PreflightError

        self.calls.append("check_token")
        if not self.token_ok:
            raise PreflightError("Clumio rejected the API token", hint="create a new token in the Clumio portal")

    def latest_template(self) -> ClumioTemplateInfo:
        self.calls.append("latest_template")
        return ClumioTemplateInfo(self.template.version, self.template.url)

    def org_template(self, asset_types: Sequence[str]) -> ClumioTemplate:
        self.calls.append("org_template")
        return self.template

    def org_deployment_parameters(self, org_id: str) -> DeploymentParameters:
        self.calls.append("org_deployment_parameters")
        return DeploymentParameters(Secret(FAKE_TOKEN), Secret(FAKE_EXTERNAL_ID))

    def list_connections(self, accounts: Sequence[str] | None = None,
                         regions: Sequence[str] | None = None) -> list[Connection]:
        self.calls.append("list_connections")
        return sorted((c for c in self.connections.values()
                       if (accounts is None or c.account in accounts) and (regions is None or c.region in regions)),
                      key=lambda c: c.id)

    def delete_connection(self, connection_id: str) -> None:
        self.calls.append("delete_connection")
        account, region = connection_id.split("_", 1)
        self.connections.pop((account, region), None)

    def connect(self, keys: Iterable[InstanceKey], version: str | None = None,
                status: ConnectionStatus = ConnectionStatus.CONNECTED) -> None:
        for k in keys:
            self.connections[(k.account, k.region)] = connection(k.account, k.region, status,
                                                                 version or self.template.version)


class FakeCallCounter(dict[str, int]):
    """Stands in for the providers' ApiCallCounter (``record``, ``snapshot``, ``reset``)."""

    def record(self, key: str) -> None:
        self[key] = self.get(key, 0) + 1

    def snapshot(self) -> dict[str, int]:
        return dict(self)

    def reset(self) -> None:
        self.clear()


@dataclass
class FakePorts:
    """The bundle ``reconciler.providers.factory.build_ports`` returns, with fakes inside."""

    org: FakeOrg
    stacksets: FakeStackSets
    clumio: FakeClumio
    management_stacksets: FakeStackSets
    api_calls: FakeCallCounter = field(default_factory=FakeCallCounter)
    guardrails: FakeGuardrails = field(default_factory=FakeGuardrails)


def fake_ports(tree: OrgTree | None = None, **kwargs: Any) -> FakePorts:
    tree = tree or demo_org()
    return FakePorts(FakeOrg(tree, **kwargs), FakeStackSets(tree), FakeClumio(), FakeStackSets(tree))


def live_from_ports(ports: FakePorts, desired: Desired) -> Live:
    """What discovery would read from the fakes (a stand-in until reconciler.discover.live is used)."""
    tree = ports.org.read_tree()
    stack_sets: dict[str, LiveStackSet] = {}
    instances: dict[InstanceKey, LiveInstance] = {}
    for port, name in ((ports.stacksets, desired.stack_set.name),
                       (ports.management_stacksets, desired.management_account.stack_set_name)):
        ss = port.describe_stack_set(name)
        if ss is not None:
            stack_sets[name] = ss
            instances.update({i.key: i for i in port.list_instances(name)})
    conns = {(c.account, c.region): c for c in ports.clumio.list_connections()}
    return Live(tree, stack_sets, instances, conns, ports.clumio.latest_template(), ports.org.regions)
