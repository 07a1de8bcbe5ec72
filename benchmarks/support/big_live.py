"""An in-memory Live of many stack instances (80 % deployed on an older template, 20 % missing, three waves), to
time make_plan's CPU without any network."""

from __future__ import annotations

import hashlib

from reconciler.core.desired import (
    Amount,
    ClumioSpec,
    ConcurrencyMode,
    Desired,
    ManagementAccountSpec,
    OrganizationSpec,
    RolloutSpec,
    StackSetSpec,
    StateSpec,
    TargetsSpec,
    WaveSpec,
)
from reconciler.core.keys import InstanceKey
from reconciler.core.live import (
    Account,
    AccountState,
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
from reconciler.core.ports import ClumioTemplate


def big_world(n_accounts: int, regions: list[str]) -> tuple[Desired, Live, ClumioTemplate]:
    root = "r-big0"
    ous: dict[str, OrganizationalUnit] = {}
    leaves: list[str] = []
    for a in range(4):
        top = f"ou-big0-1{a:07d}"
        ous[top] = OrganizationalUnit(top, f"U{a}", root)
        for b in range(4):
            mid = f"ou-big0-2{a:03d}{b:04d}"
            ous[mid] = OrganizationalUnit(mid, f"U{a}-{b}", top)
            for c in range(4):
                leaf = f"ou-big0-3{a:02d}{b:02d}{c:03d}"
                ous[leaf] = OrganizationalUnit(leaf, f"U{a}-{b}-{c}", mid)
                leaves.append(leaf)
    mgmt = "900000000000"
    accounts = {mgmt: Account(mgmt, "management", AccountState.ACTIVE, root)}
    for i in range(n_accounts):
        aid = f"{100000000000 + i:012d}"
        state = AccountState.SUSPENDED if i % 100 == 99 else AccountState.ACTIVE
        accounts[aid] = Account(aid, f"a{i}", state, leaves[i % len(leaves)])
    tree = OrgTree("o-big0000001", mgmt, root, ous, accounts)

    def template(version: str) -> ClumioTemplate:
        body = f'Metadata:\n  ClumioTemplateVersion: "{version}"\nResources: {{}}\n'
        return ClumioTemplate(version, body, hashlib.sha256(body.encode()).hexdigest())

    old, new = template("24.3"), template("24.4")
    spec = StackSetSpec()
    desired = Desired(
        organization=OrganizationSpec("o-big0000001", mgmt, "us-east-1"),
        clumio=ClumioSpec(api_url="https://clumio.invalid"), stack_set=spec,
        targets=TargetsSpec(organization=True), regions=tuple(regions),
        rollout=RolloutSpec(waves=(
            WaveSpec("canary", sample=20, max_concurrent=Amount(count=5), failure_tolerance=Amount(count=1)),
            WaveSpec("prod", ous=("/U0",), max_concurrent=Amount(percent=25), failure_tolerance=Amount(percent=5)),
            WaveSpec("rest", rest=True, max_concurrent=Amount(percent=50), failure_tolerance=Amount(percent=10),
                     concurrency_mode=ConcurrencyMode.SOFT_FAILURE_TOLERANCE))),
        management_account=ManagementAccountSpec(), state=StateSpec(), digest="b" * 64)
    ss = LiveStackSet(spec.name, "id", "ACTIVE", PermissionModel.SERVICE_MANAGED, spec.description, old.body,
                      {**spec.template_parameters(), "ClumioToken": "****", "RoleExternalId": "****"},
                      tuple(sorted(spec.capabilities)), (), True, False, False)
    instances: dict[InstanceKey, LiveInstance] = {}
    connections: dict[tuple[str, str], Connection] = {}
    for i, aid in enumerate(sorted(a for a in accounts if a != mgmt)):
        if i % 5 == 4:
            continue  # 20 % of accounts not deployed yet
        for region in regions:
            key = InstanceKey(spec.name, aid, region)
            instances[key] = LiveInstance(key, StackInstanceStatus.CURRENT, StackInstanceDetailedStatus.SUCCEEDED)
            connections[(aid, region)] = Connection(f"{aid}_{region}", aid, region, ConnectionStatus.CONNECTED, "24.3")
    live = Live(tree, {spec.name: ss}, instances, connections)
    return desired, live, new
