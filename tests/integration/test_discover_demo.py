"""Discovery of the sandbox's demo world over the wire: the right Live snapshot (nested OUs, the suspended account,
the management account, StackSets, instances, connections, running operations) for the fewest API calls."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from reconciler.core.desired import CallAs, Desired, ManagementAccountSpec
from reconciler.core.live import AccountState, ConnectionStatus, OperationStatus
from reconciler.core.plan import DeploymentTargets, Operation, OperationKind
from reconciler.core.ports import TemplateParameter
from reconciler.discover.live import discover, split_by_region
from reconciler.providers.factory import Ports, build_ports
from tests.contract.test_provider_aws_sandbox import DELEGATED_ADMIN, MANAGEMENT, ORG_ID, definition, demo_desired

REGIONS = ("us-east-1", "us-west-2")
CANARY = ("400000000001", "400000000002")
PARENTS = 11  # root + 10 OUs in the demo world


def deploy(ports: Ports, op_id: str, ou: str = "ou-d3m0-canary01") -> None:
    if ports.stacksets.describe_stack_set("clumio-org") is None:
        template = ports.clumio.org_template(["EC2/EBS", "S3"])
        secrets = ports.clumio.org_deployment_parameters(ORG_ID)
        ports.stacksets.create_stack_set(definition(template.sha256), template.body, [
            TemplateParameter("ClumioToken", secrets.token), TemplateParameter("RoleExternalId", secrets.external_id)])
    ports.stacksets.create_instances(Operation(
        index=0, operation_id=op_id, kind=OperationKind.CREATE_STACK_INSTANCES, stack_set="clumio-org", wave=None,
        regions=REGIONS, targets=DeploymentTargets((ou,))))


@pytest.fixture
def desired(sandbox_env: Any) -> Desired:
    return demo_desired(sandbox_env)


def test_fresh_org_is_discovered_with_nested_ous_suspended_and_management_accounts(desired: Desired) -> None:
    ports = build_ports(desired)
    live = discover(desired, ports)
    org = live.org
    assert (org.org_id, org.management_account) == (ORG_ID, MANAGEMENT)
    assert org.resolve_ou("/Workloads/Dev/Experiments") == "ou-d3m0-devexper"
    assert {"320000000011", "300000000013"} <= org.accounts_under(org.resolve_ou("/Workloads") or "")
    assert org.accounts["320000000004"].state is AccountState.SUSPENDED
    assert org.accounts[MANAGEMENT].parent_id == org.root_id
    assert live.stack_sets == {} and live.instances == {} and live.connections == {}
    assert live.clumio_template is not None and live.clumio_template.version == "24.4"
    assert {"us-east-1", "eu-central-1"} <= live.enabled_regions
    assert live.running_operations == {}


def test_fresh_org_costs_the_minimum_calls(desired: Desired) -> None:
    ports = build_ports(desired)
    discover(desired, ports)
    assert dict(ports.api_calls) == {
        "organizations.DescribeOrganization": 1, "organizations.ListRoots": 1,
        "organizations.ListOrganizationalUnitsForParent": PARENTS, "organizations.ListAccountsForParent": PARENTS,
        "ec2.DescribeRegions": 1, "cloudformation.DescribeStackSet": 1,
        # One listing finds every other Clumio StackSet (brownfield discovery); none exists here.
        "cloudformation.ListStackSets": 1,
        "clumio.ListTemplates": 1, "clumio.ListConnections": 1}


def test_deployed_instances_connections_and_a_running_operation_are_seen(sandbox_env: Any,
                                                                         desired: Desired) -> None:
    ports = build_ports(desired)
    deploy(ports, "clumio-org-00000000000000cc-000")
    sandbox_env.world.clock.advance(3600)
    deploy(ports, "clumio-org-00000000000000cc-001", ou="ou-d3m0-security")  # left running
    ports.api_calls.reset()
    live = discover(desired, ports)
    assert set(live.stack_sets) == {"clumio-org"}
    canary = {(k.account, k.region) for k in live.instances if k.account in CANARY}
    assert canary == {(a, r) for a in CANARY for r in REGIONS}
    assert {(a, r) for (a, r), c in live.connections.items() if c.status is ConnectionStatus.CONNECTED} == canary
    running = live.running_operations["clumio-org"]
    assert running.operation_id == "clumio-org-00000000000000cc-001" and running.status is OperationStatus.RUNNING
    calls = ports.api_calls
    # 32 accounts × 2 regions fit one page: one listing beats one per region; never a call per instance.
    assert calls["cloudformation.ListStackInstances"] == 1
    assert calls["cloudformation.ListStackSetOperations"] == 1
    assert calls["cloudformation.DescribeStackInstance"] == 0
    assert calls["clumio.ListConnections"] == 1


def test_connections_can_be_skipped_and_stack_sets_narrowed(desired: Desired) -> None:
    ports = build_ports(desired)
    deploy(ports, "clumio-org-00000000000000cc-002")
    desired = replace(desired, management_account=ManagementAccountSpec(onboard=True))
    live = discover(desired, ports, connections=False, stack_set_names=["clumio-org-management"])
    assert live.stack_sets == {} and live.connections == {}
    assert ports.api_calls["clumio.ListConnections"] == 0
    assert ports.api_calls["cloudformation.DescribeStackSet"] == 2  # the deploy's own check, then the management one


def test_delegated_admin_discovers_the_management_accounts_stack_set(sandbox_env: Any, desired: Desired,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    deploy(build_ports(desired), "clumio-org-00000000000000cc-003")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", f"AKIASBX{DELEGATED_ADMIN}")
    admin = demo_desired(sandbox_env, CallAs.DELEGATED_ADMIN)
    live = discover(admin, build_ports(admin))
    assert set(live.stack_sets) == {"clumio-org"}
    assert live.running_operations["clumio-org"].operation_id == "clumio-org-00000000000000cc-003"
    assert len(live.org.accounts) == 32  # a delegated admin may read the whole tree


def test_region_split_only_when_it_costs_no_more_pages() -> None:
    assert not split_by_region(["us-east-1", "us-west-2"], 32)  # 2 pages split vs 1 page
    assert split_by_region([f"r{i}" for i in range(17)], 2000)  # 340 pages either way, 17 at a time
    assert not split_by_region(["us-east-1"], 5000)


@pytest.mark.slow  # adaptive retries slow the client down after a throttle, as they should: ~20 s
def test_discovery_rides_out_throttling(sandbox_env: Any, desired: Desired) -> None:
    sandbox_env.world.apply_event("set-faults", {"throttle_rate": 0.05, "seed": 7})
    ports = build_ports(desired)
    live = discover(desired, ports)
    assert len(live.org.accounts) == 32 and len(live.org.ous) == 10


def test_management_accounts_self_managed_stack_set_is_discovered_alongside(sandbox_env: Any,
                                                                            desired: Desired) -> None:
    from reconciler.core.live import PermissionModel

    ports = build_ports(desired)
    deploy(ports, "clumio-org-00000000000000cc-004")
    template = ports.clumio.org_template(["EC2/EBS", "S3"])
    secrets = ports.clumio.org_deployment_parameters(ORG_ID)
    management = replace(
        definition(template.sha256), name="clumio-org-management", permission_model=PermissionModel.SELF_MANAGED,
        auto_deployment=None, retain_stacks_on_account_removal=None,
        administration_role_arn=f"arn:aws:iam::{MANAGEMENT}:role/AWSCloudFormationStackSetAdministrationRole",
        execution_role_name="AWSCloudFormationStackSetExecutionRole")
    ports.management_stacksets.create_stack_set(management, template.body, [
        TemplateParameter("ClumioToken", secrets.token), TemplateParameter("RoleExternalId", secrets.external_id)])
    sandbox_env.world.clock.advance(3600)
    ports.management_stacksets.create_instances(Operation(
        index=1, operation_id="clumio-org-00000000000000cc-005", kind=OperationKind.CREATE_STACK_INSTANCES,
        stack_set="clumio-org-management", wave=None, regions=REGIONS, accounts=(MANAGEMENT,)))
    sandbox_env.world.clock.advance(3600)
    onboard = replace(desired, management_account=ManagementAccountSpec(onboard=True))
    ports.api_calls.reset()
    live = discover(onboard, ports)
    assert set(live.stack_sets) == {"clumio-org", "clumio-org-management"}
    assert live.stack_sets["clumio-org-management"].permission_model is PermissionModel.SELF_MANAGED
    assert {(k.account, k.region) for k in live.instances if k.stack_set == "clumio-org-management"} == {
        (MANAGEMENT, r) for r in REGIONS}
    assert ports.api_calls["cloudformation.ListStackInstances"] == 2  # one listing per StackSet
