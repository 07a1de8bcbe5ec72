"""World builders for tests: Organizations trees, Desired objects, Clumio templates and Live snapshots, built
directly from the core dataclasses (no YAML, no AWS)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from reconciler.core.desired import (
    Amount,
    AutoDeploymentReach,
    CallAs,
    ClumioSpec,
    ConcurrencyMode,
    Desired,
    ManagementAccountSpec,
    OrganizationSpec,
    RegionConcurrencyType,
    RolloutSpec,
    StackSetSpec,
    StateSpec,
    SuspendedAccounts,
    TargetsSpec,
    WaveSpec,
)
from reconciler.core.keys import InstanceKey
from reconciler.core.live import (
    Account,
    AccountState,
    ClumioTemplateInfo,
    Connection,
    ConnectionStatus,
    Live,
    LiveInstance,
    LiveStackSet,
    OrganizationalUnit,
    OrgTree,
    PermissionModel,
    StackInstanceDetailedStatus,
    StackInstanceStatus,
)
from reconciler.core.ports import (
    ClumioTemplate,
)

ORG_ID = "o-fake000001"
MANAGEMENT = "111111111111"
ROOT = "r-fake"
HOME_REGION = "us-east-1"
REGIONS = ("us-east-1", "us-west-2")
FAKE_TOKEN = "0f0f0f0f-1111-2222-3333-444444444444"
FAKE_EXTERNAL_ID = "fake-external-id-secret"

# ---------------------------------------------------------------------------------------------------------------
# Worlds
# ---------------------------------------------------------------------------------------------------------------


@dataclass
class OrgBuilder:
    """Builds an OrgTree: ``b.ou("/Workloads/Prod", "ou-prod")`` then ``b.account("222…", "/Workloads/Prod")``.

    Parent OUs named in a path are created on the way with ids derived from their names.
    """

    org_id: str = ORG_ID
    management_account: str = MANAGEMENT
    root_id: str = ROOT
    ous: dict[str, OrganizationalUnit] = field(default_factory=dict)
    accounts: dict[str, Account] = field(default_factory=dict)
    _paths: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._paths["/"] = self.root_id
        self.accounts.setdefault(
            self.management_account,
            Account(self.management_account, "management", AccountState.ACTIVE, self.root_id),
        )

    def ou(self, path: str, ou_id: str | None = None) -> str:
        """Create (or find) the OU at ``path``; returns its id."""
        path = "/" + path.strip("/")
        if path in self._paths:
            return self._paths[path]
        parent_path, _, name = path.rpartition("/")
        parent = self.ou(parent_path or "/")
        new_id = ou_id or "ou-fake-" + hashlib.sha1(path.encode()).hexdigest()[:10]
        self.ous[new_id] = OrganizationalUnit(new_id, name, parent)
        self._paths[path] = new_id
        return new_id

    def account(self, account_id: str, where: str = "/", *, name: str | None = None,
                state: AccountState = AccountState.ACTIVE) -> str:
        parent = where if where.startswith(("ou-", "r-")) else self.ou(where)
        self.accounts[account_id] = Account(account_id, name or f"acct-{account_id}", state, parent)
        return account_id

    def move(self, account_id: str, where: str) -> None:
        parent = where if where.startswith(("ou-", "r-")) else self.ou(where)
        self.accounts[account_id] = replace(self.accounts[account_id], parent_id=parent)

    def build(self) -> OrgTree:
        return OrgTree(self.org_id, self.management_account, self.root_id, dict(self.ous), dict(self.accounts))


def demo_org() -> OrgTree:
    """A small world: nested OUs three deep, a suspended account, an account at the root, the management account.

    /Security              222200000001 222200000002
    /Workloads             (no direct accounts)
    /Workloads/Prod        333300000001 333300000002
    /Workloads/Prod/Data   333300000011
    /Workloads/Dev         444400000001 444400000002 (SUSPENDED)
    /Sandbox               555500000001
    root                   111111111111 (management) 666600000001
    """
    b = OrgBuilder()
    b.ou("/Security", "ou-fake-security")
    b.ou("/Workloads", "ou-fake-workload")
    b.ou("/Workloads/Prod", "ou-fake-prodwork")
    b.ou("/Workloads/Prod/Data", "ou-fake-proddata")
    b.ou("/Workloads/Dev", "ou-fake-devwork1")
    b.ou("/Sandbox", "ou-fake-sandbox1")
    b.account("222200000001", "/Security")
    b.account("222200000002", "/Security")
    b.account("333300000001", "/Workloads/Prod")
    b.account("333300000002", "/Workloads/Prod")
    b.account("333300000011", "/Workloads/Prod/Data")
    b.account("444400000001", "/Workloads/Dev")
    b.account("444400000002", "/Workloads/Dev", state=AccountState.SUSPENDED)
    b.account("555500000001", "/Sandbox")
    b.account("666600000001", "/")
    return b.build()


def wave(name: str, *, accounts: Iterable[str] = (), ous: Iterable[str] = (), sample: int | None = None,
         rest: bool = False, max_concurrent: int | str = 1, failure_tolerance: int | str = 0,
         mode: ConcurrencyMode = ConcurrencyMode.STRICT_FAILURE_TOLERANCE) -> WaveSpec:
    """A WaveSpec; amounts are ints (counts) or ``"25%"`` strings."""
    return WaveSpec(name=name, accounts=tuple(accounts), ous=tuple(ous), sample=sample, rest=rest,
                    max_concurrent=amount(max_concurrent), failure_tolerance=amount(failure_tolerance),
                    concurrency_mode=mode)


def amount(value: int | str) -> Amount:
    if isinstance(value, str) and value.endswith("%"):
        return Amount(percent=int(value[:-1]))
    return Amount(count=int(value))


def make_desired(*, organization: bool = False, ous: Iterable[str] = (), accounts: Iterable[str] = (),
                 exclude_accounts: Iterable[str] = (), exclude_ous: Iterable[str] = (),
                 regions: Iterable[str] = REGIONS, waves: Iterable[WaveSpec] = (),
                 region_concurrency: RegionConcurrencyType = RegionConcurrencyType.PARALLEL,
                 region_order: Iterable[str] = (), onboard_management: bool = False,
                 call_as: CallAs = CallAs.SELF, template_version: str = "latest",
                 stack_set: StackSetSpec | None = None, org: OrgTree | None = None,
                 reach: str = "desired", suspended: str = "keep",
                 digest: str = "d" * 64, source: str = "clumio-org.yaml") -> Desired:
    """A Desired built directly (no YAML), with the fake org's ids unless ``org`` is given."""
    return Desired(
        organization=OrganizationSpec(
            id=org.org_id if org else ORG_ID,
            management_account=org.management_account if org else MANAGEMENT,
            home_region=HOME_REGION,
            call_as=call_as,
        ),
        clumio=ClumioSpec(api_url="https://clumio.invalid", template_version=template_version),
        stack_set=stack_set or StackSetSpec(),
        targets=TargetsSpec(organization=organization, ous=tuple(ous), accounts=tuple(accounts),
                            exclude_accounts=tuple(exclude_accounts), exclude_ous=tuple(exclude_ous),
                            auto_deployment_reach=AutoDeploymentReach(reach),
                            suspended_accounts=SuspendedAccounts(suspended)),
        regions=tuple(regions),
        rollout=RolloutSpec(region_concurrency=region_concurrency, region_order=tuple(region_order),
                            waves=tuple(waves)),
        management_account=ManagementAccountSpec(onboard=onboard_management),
        state=StateSpec(),
        source=source,
        digest=digest,
    )


TEMPLATE_TEXT = """AWSTemplateFormatVersion: "2010-09-09"
Description: Clumio organization connection (version {version}).
Metadata:
  ClumioTemplateVersion: "{version}"
Parameters:
  ClumioToken: {{Type: String, NoEcho: true}}
  RoleExternalId: {{Type: String, NoEcho: true}}
  SendCFTDeploymentEventsToClumio: {{Type: String, Default: "True"}}
  PermissionsBoundaryARN: {{Type: String, Default: ""}}
  CreateClumioInventoryTopicEncryptionKey: {{Type: String, Default: "False"}}
  ClumioInventoryTopicEncryptionKey: {{Type: String, Default: ""}}
Resources:
  Topic: {{Type: AWS::SNS::Topic}}
"""


def make_template(version: str = "24.4") -> ClumioTemplate:
    body = TEMPLATE_TEXT.format(version=version)
    return ClumioTemplate(version=version, body=body, sha256=hashlib.sha256(body.encode()).hexdigest())


# ---------------------------------------------------------------------------------------------------------------
# Live worlds built without any port (for plan / drift unit tests)
# ---------------------------------------------------------------------------------------------------------------


def live_stack_set(desired: Desired, template: ClumioTemplate, *, name: str | None = None,
                   permission_model: PermissionModel = PermissionModel.SERVICE_MANAGED,
                   **overrides: Any) -> LiveStackSet:
    """A LiveStackSet exactly as ``desired`` would create it with ``template`` (NoEcho parameters masked)."""
    spec = desired.stack_set
    params = {**spec.template_parameters(), "ClumioToken": "****", "RoleExternalId": "****"}
    base = LiveStackSet(
        name=name or spec.name,
        stack_set_id=f"{name or spec.name}:fake-id",
        status="ACTIVE",
        permission_model=permission_model,
        description=spec.description,
        template_body=template.body,
        parameters=params,
        capabilities=tuple(sorted(spec.capabilities)),
        tags=tuple(sorted(spec.tags)),
        auto_deployment=spec.auto_deployment if permission_model is PermissionModel.SERVICE_MANAGED else None,
        retain_stacks_on_account_removal=(spec.retain_stacks_on_account_removal
                                          if permission_model is PermissionModel.SERVICE_MANAGED else None),
        managed_execution=spec.managed_execution,
    )
    return replace(base, **overrides)


def make_live(org: OrgTree, *, stack_sets: Iterable[LiveStackSet] = (),
              instances: Iterable[LiveInstance] = (), connections: Iterable[Connection] = (),
              template: ClumioTemplate | None = None) -> Live:
    return Live(
        org=org,
        stack_sets={ss.name: ss for ss in stack_sets},
        instances={inst.key: inst for inst in instances},
        connections={(c.account, c.region): c for c in connections},
        clumio_template=ClumioTemplateInfo(template.version) if template else None,
        enabled_regions=frozenset(REGIONS) | frozenset(("eu-west-1", "eu-central-1")),
    )


def instance(stack_set: str, account: str, region: str,
             status: StackInstanceStatus = StackInstanceStatus.CURRENT,
             detailed: StackInstanceDetailedStatus | None = StackInstanceDetailedStatus.SUCCEEDED,
             reason: str | None = None, ou: str | None = None) -> LiveInstance:
    return LiveInstance(InstanceKey(stack_set, account, region), status, detailed, reason,
                        stack_id=None if detailed is StackInstanceDetailedStatus.SKIPPED_SUSPENDED_ACCOUNT
                        else f"arn:aws:cloudformation:{region}:{account}:stack/StackSet-{stack_set}/x",
                        organizational_unit_id=ou)


def connection(account: str, region: str, status: ConnectionStatus = ConnectionStatus.CONNECTED,
               version: str | None = "24.4") -> Connection:
    return Connection(f"{account}_{region}", account, region, status, version)
