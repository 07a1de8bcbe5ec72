"""The AWS provider against the sandbox, over the wire: the Organizations tree, caller checks, StackSet reads and
writes, CallAs for a delegated admin, and AWS errors turned into our typed errors (reference/aws-stacksets.md)."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import pytest

from reconciler.core.desired import CallAs, ConcurrencyMode, Desired, RegionConcurrencyType
from reconciler.core.errors import ProviderError
from reconciler.core.keys import InstanceKey
from reconciler.core.live import (
    AccountState,
    OperationResultStatus,
    OperationStatus,
    PermissionModel,
    StackInstanceDetailedStatus,
    StackInstanceStatus,
)
from reconciler.core.plan import (
    AccountFilterType,
    DeploymentTargets,
    Operation,
    OperationKind,
    OperationPreferences,
    StackSetDefinition,
)
from reconciler.core.ports import (
    OperationIdAlreadyExists,
    OperationInProgress,
    StackSetNotFound,
    TemplateParameter,
)
from reconciler.providers.factory import Ports, build_ports
from tests.fakes import make_desired

ORG_ID = "o-demo7k2p9xq4"
MANAGEMENT = "100000000001"
DELEGATED_ADMIN = "210000000003"
CANARY_OU = "ou-d3m0-canary01"
DEV_OU = "ou-d3m0-devwork1"
SUSPENDED = "320000000004"
REGIONS = ("us-east-1", "us-west-2")


def demo_desired(sandbox: Any, call_as: CallAs = CallAs.SELF) -> Desired:
    desired = make_desired(organization=True, regions=REGIONS, call_as=call_as)
    return replace(desired,
                   organization=replace(desired.organization, id=ORG_ID, management_account=MANAGEMENT),
                   clumio=replace(desired.clumio, api_url=sandbox.clumio_url))


@pytest.fixture
def ports(sandbox_env: Any) -> Ports:
    return build_ports(demo_desired(sandbox_env))


@pytest.fixture
def admin_ports(sandbox_env: Any, monkeypatch: pytest.MonkeyPatch) -> Ports:
    """Ports acting as the StackSets delegated administrator (an access key naming the account acts as it)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", f"AKIASBX{DELEGATED_ADMIN}")
    return build_ports(demo_desired(sandbox_env, CallAs.DELEGATED_ADMIN))


def definition(template_sha: str = "") -> StackSetDefinition:
    return StackSetDefinition(
        name="clumio-org", permission_model=PermissionModel.SERVICE_MANAGED, description="Clumio for Northwind",
        template_version="24.4", template_sha256=template_sha, parameters=(),
        capabilities=("CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"), tags=(("team", "platform"),),
        auto_deployment=True, retain_stacks_on_account_removal=False, managed_execution=False)


def create_stack_set(ports: Ports) -> None:
    template = ports.clumio.org_template(["EC2/EBS", "S3"])
    secrets = ports.clumio.org_deployment_parameters(ORG_ID)
    params = [TemplateParameter("ClumioToken", secrets.token), TemplateParameter("RoleExternalId", secrets.external_id),
              *(TemplateParameter(k, v) for k, v in make_desired().stack_set.template_parameters().items())]
    ports.stacksets.create_stack_set(definition(template.sha256), template.body, params)


def create_op(op_id: str, ous: tuple[str, ...] = (CANARY_OU,), regions: tuple[str, ...] = REGIONS,
              accounts: tuple[str, ...] = (), filter_type: AccountFilterType | None = None) -> Operation:
    prefs = OperationPreferences(RegionConcurrencyType.PARALLEL, max_concurrent_count=10,
                                 failure_tolerance_count=0, concurrency_mode=ConcurrencyMode.SOFT_FAILURE_TOLERANCE)
    return Operation(index=0, operation_id=op_id, kind=OperationKind.CREATE_STACK_INSTANCES, stack_set="clumio-org",
                     wave="canary", regions=regions, targets=DeploymentTargets(ous, accounts, filter_type),
                     preferences=prefs)


def finish(sandbox: Any, ports: Ports, op_id: str) -> None:
    for _ in range(100):
        if ports.stacksets.describe_operation("clumio-org", op_id).status.finished:
            return
        sandbox.world.clock.advance(60)
    raise AssertionError(f"operation {op_id} never finished")


# --- Organizations ----------------------------------------------------------------------------------------------

def test_tree_is_read_with_nested_ous_suspended_and_management_accounts(ports: Ports) -> None:
    tree = ports.org.read_tree()
    assert (tree.org_id, tree.management_account, tree.root_id) == (ORG_ID, MANAGEMENT, "r-d3m0")
    assert tree.path_of("ou-d3m0-proddata") == "/Workloads/Prod/Data"  # three levels deep (§B)
    assert "300000000013" in tree.accounts_under("ou-d3m0-workload")
    assert tree.accounts[SUSPENDED].state is AccountState.SUSPENDED
    assert tree.accounts[MANAGEMENT].parent_id == "r-d3m0"
    assert len(tree.accounts) == 32 and len(tree.ous) == 10


def test_tree_walk_costs_two_calls_per_parent_and_is_cached(ports: Ports) -> None:
    ports.org.read_tree()
    ports.org.read_tree()
    calls = ports.api_calls
    parents = 11  # the root and 10 OUs
    assert calls["organizations.ListOrganizationalUnitsForParent"] == parents
    assert calls["organizations.ListAccountsForParent"] == parents
    assert calls["organizations.ListRoots"] == 1 and calls["organizations.DescribeOrganization"] == 1


def test_management_caller_sees_trusted_access_admins_regions_and_roles(ports: Ports) -> None:
    assert ports.org.caller_account() == MANAGEMENT
    assert ports.org.service_access_enabled()
    assert ports.org.delegated_administrators() == frozenset({DELEGATED_ADMIN})
    assert {"us-east-1", "ap-southeast-2"} <= ports.org.enabled_regions()
    assert "ap-northeast-1" not in ports.org.enabled_regions()
    assert ports.org.role_exists("AWSCloudFormationStackSetAdministrationRole")
    assert not ports.org.role_exists("NoSuchRole")


def test_member_account_without_rights_gets_the_missing_permission_named(sandbox_env: Any,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIASBX300000000001")
    member = build_ports(demo_desired(sandbox_env))
    with pytest.raises(ProviderError) as error:
        member.org.read_tree()
    assert "organizations:ListRoots" in error.value.message
    assert error.value.hint and "organizations:ListRoots" in error.value.hint


# --- StackSets --------------------------------------------------------------------------------------------------

def test_missing_stack_set_reads_as_none_and_raises_not_found_for_operations(ports: Ports) -> None:
    assert ports.stacksets.describe_stack_set("clumio-org") is None
    with pytest.raises(StackSetNotFound):
        ports.stacksets.create_instances(create_op("clumio-org-00000000000000aa-000"))


def test_created_stack_set_reads_back_typed_with_noecho_masked(sandbox_env: Any, ports: Ports) -> None:
    create_stack_set(ports)
    live = ports.stacksets.describe_stack_set("clumio-org")
    assert live is not None
    assert live.permission_model is PermissionModel.SERVICE_MANAGED
    assert live.auto_deployment is True and live.retain_stacks_on_account_removal is False
    assert live.tags == (("team", "platform"),)
    assert live.parameters["ClumioToken"] == "****"  # NoEcho comes back masked
    assert "ClumioTemplateVersion" in live.template_body


def test_instances_are_created_with_our_operation_id_and_listed_per_region(sandbox_env: Any, ports: Ports) -> None:
    create_stack_set(ports)
    op_id = "clumio-org-00000000000000aa-001"
    assert ports.stacksets.create_instances(create_op(op_id)) == op_id
    finish(sandbox_env, ports, op_id)
    view = ports.stacksets.describe_operation("clumio-org", op_id)
    assert view.status is OperationStatus.SUCCEEDED and view.action == "CREATE"
    before = ports.api_calls["cloudformation.ListStackInstances"]
    instances = ports.stacksets.list_instances("clumio-org", REGIONS)
    assert ports.api_calls["cloudformation.ListStackInstances"] - before == len(REGIONS)  # one page per region
    assert [i.key for i in instances] == sorted(
        InstanceKey("clumio-org", a, r) for a in ("400000000001", "400000000002") for r in REGIONS)
    assert all(i.status is StackInstanceStatus.CURRENT and i.last_operation_id == op_id for i in instances)
    assert instances == ports.stacksets.list_instances("clumio-org")  # same rows without the region split
    results = ports.stacksets.list_operation_results("clumio-org", op_id)
    assert {(r.account, r.region, r.status) for r in results} == {
        (a, r, OperationResultStatus.SUCCEEDED) for a in ("400000000001", "400000000002") for r in REGIONS}


def test_suspended_account_instance_has_no_stack_id(sandbox_env: Any, ports: Ports) -> None:
    create_stack_set(ports)
    op_id = "clumio-org-00000000000000aa-002"
    ports.stacksets.create_instances(create_op(op_id, ous=(DEV_OU,), regions=("us-east-1",),
                                               accounts=(SUSPENDED,), filter_type=AccountFilterType.INTERSECTION))
    finish(sandbox_env, ports, op_id)
    (instance,) = ports.stacksets.list_instances("clumio-org")
    assert instance.detailed_status is StackInstanceDetailedStatus.SKIPPED_SUSPENDED_ACCOUNT  # §A7
    assert instance.status is StackInstanceStatus.OUTDATED and instance.stack_id is None


def test_second_operation_while_one_runs_names_the_running_one(sandbox_env: Any, ports: Ports) -> None:
    create_stack_set(ports)
    first = "clumio-org-00000000000000aa-003"
    ports.stacksets.create_instances(create_op(first))
    with pytest.raises(OperationInProgress) as error:
        ports.stacksets.create_instances(create_op("clumio-org-00000000000000aa-004", ous=(DEV_OU,)))
    assert error.value.running_operation_id == first  # §A9: parsed from the message
    running = [op for op in ports.stacksets.list_operations("clumio-org") if op.status is OperationStatus.RUNNING]
    assert [op.operation_id for op in running] == [first]


def test_reused_operation_id_is_reported_as_already_existing(sandbox_env: Any, ports: Ports) -> None:
    create_stack_set(ports)
    op_id = "clumio-org-00000000000000aa-005"
    ports.stacksets.create_instances(create_op(op_id))
    finish(sandbox_env, ports, op_id)
    with pytest.raises(OperationIdAlreadyExists):
        ports.stacksets.create_instances(create_op(op_id))


def test_stop_operation_ends_it_stopped(sandbox_env: Any, ports: Ports) -> None:
    create_stack_set(ports)
    op_id = "clumio-org-00000000000000aa-006"
    ports.stacksets.create_instances(create_op(op_id, ous=("ou-d3m0-workload",)))
    ports.stacksets.stop_operation("clumio-org", op_id)
    finish(sandbox_env, ports, op_id)
    assert ports.stacksets.describe_operation("clumio-org", op_id).status is OperationStatus.STOPPED


def test_delegated_admin_sees_the_management_stack_set_only_with_call_as(sandbox_env: Any, ports: Ports,
                                                                         admin_ports: Ports,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    create_stack_set(ports)
    live = admin_ports.stacksets.describe_stack_set("clumio-org")
    assert live is not None and live.description == "Clumio for Northwind"
    assert admin_ports.org.caller_account() == DELEGATED_ADMIN
    # The same caller without CallAs looks in its own account and finds nothing (§A1).
    assert admin_ports.management_stacksets.describe_stack_set("clumio-org") is None


def test_every_stackset_call_of_a_delegated_admin_carries_call_as(sandbox_env: Any, ports: Ports,
                                                                  admin_ports: Ports) -> None:
    create_stack_set(ports)
    seen: list[tuple[str, dict[str, Any]]] = []
    cfn = admin_ports.stacksets._cfn  # type: ignore[attr-defined]
    cfn.meta.events.register("before-call.cloudformation",
                             lambda model, params, **_: seen.append((model.name, dict(params["body"]))))
    port = admin_ports.stacksets
    op_id = "clumio-org-00000000000000aa-007"
    port.describe_stack_set("clumio-org")
    port.create_instances(create_op(op_id))
    port.list_instances("clumio-org", REGIONS)
    port.list_operations("clumio-org")
    port.describe_operation("clumio-org", op_id)
    port.list_operation_results("clumio-org", op_id)
    port.stop_operation("clumio-org", op_id)
    finish(sandbox_env, admin_ports, op_id)
    port.detect_drift("clumio-org", "clumio-org-00000000000000aa-008")
    names = {name for name, _ in seen}
    assert {"DescribeStackSet", "CreateStackInstances", "ListStackInstances", "ListStackSetOperations",
            "DescribeStackSetOperation", "ListStackSetOperationResults", "StopStackSetOperation",
            "DetectStackSetDrift"} <= names
    assert all(body.get("CallAs") == "DELEGATED_ADMIN" for _, body in seen), seen


def test_debug_logging_never_shows_the_clumio_secrets(sandbox_env: Any, ports: Ports,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    secrets = ports.clumio.org_deployment_parameters(ORG_ID)
    with caplog.at_level(logging.DEBUG):
        create_stack_set(ports)
        ports.stacksets.describe_stack_set("clumio-org")
    assert "CreateStackSet" in caplog.text  # botocore did log at DEBUG
    assert secrets.token.reveal() not in caplog.text and secrets.external_id.reveal() not in caplog.text


def test_every_call_the_provider_makes_validates_against_the_botocore_model(sandbox_env: Any, ports: Ports) -> None:
    from botocore.validate import ParamValidator

    seen: list[tuple[Any, dict[str, Any]]] = []
    org_clients = [getattr(ports.org, f"_{name}") for name in ("org", "sts", "ec2", "iam")]
    clients = [ports.stacksets._cfn, *org_clients]  # type: ignore[attr-defined]
    for client in clients:
        client.meta.events.register("before-parameter-build",
                                    lambda model, params, **_: seen.append((model, dict(params))))
    create_stack_set(ports)
    live = ports.stacksets.describe_stack_set("clumio-org")
    assert live is not None
    op = create_op("clumio-org-00000000000000aa-010")
    ports.stacksets.create_instances(op)
    finish(sandbox_env, ports, op.operation_id)
    update = replace(op, operation_id="clumio-org-00000000000000aa-011", kind=OperationKind.UPDATE_STACK_SET)
    template = ports.clumio.org_template(["EC2/EBS", "S3"])
    ports.stacksets.update_stack_set(definition(template.sha256), template.body,
                                     [TemplateParameter("ClumioToken", use_previous=True),
                                      TemplateParameter("RoleExternalId", use_previous=True)], update)
    finish(sandbox_env, ports, update.operation_id)
    overrides = replace(op, operation_id="clumio-org-00000000000000aa-012", kind=OperationKind.UPDATE_STACK_INSTANCES)
    ports.stacksets.update_instances(overrides, [TemplateParameter("PermissionsBoundaryARN", "")])
    finish(sandbox_env, ports, overrides.operation_id)
    drift_id = ports.stacksets.detect_drift("clumio-org", "clumio-org-00000000000000aa-013")
    finish(sandbox_env, ports, drift_id)
    ports.stacksets.list_resource_drifts("clumio-org", "400000000001", "us-east-1", drift_id)
    delete = replace(op, operation_id="clumio-org-00000000000000aa-014", kind=OperationKind.DELETE_STACK_INSTANCES,
                     retain_stacks=True)
    ports.stacksets.delete_instances(delete)
    ports.stacksets.list_operation_results("clumio-org", delete.operation_id)
    ports.stacksets.stop_operation("clumio-org", delete.operation_id)
    ports.stacksets.list_instances("clumio-org", REGIONS)
    ports.stacksets.list_operations("clumio-org")
    ports.org.read_tree()
    ports.org.caller_account()
    ports.org.service_access_enabled()
    ports.org.delegated_administrators()
    ports.org.enabled_regions()
    ports.org.role_exists("AWSCloudFormationStackSetExecutionRole")
    names = {model.name for model, _ in seen}
    assert {"CreateStackSet", "UpdateStackSet", "CreateStackInstances", "UpdateStackInstances",
            "DeleteStackInstances", "DetectStackSetDrift", "ListStackInstanceResourceDrifts",
            "StopStackSetOperation", "ListStackSetOperationResults", "ListAccountsForParent",
            "ListDelegatedAdministrators", "DescribeRegions", "GetRole", "GetCallerIdentity"} <= names
    for model, params in seen:
        if model.input_shape is None:  # DescribeOrganization takes no input at all
            assert params == {}, model.name
            continue
        report = ParamValidator().validate(params, model.input_shape)
        assert not report.has_errors(), (model.name, report.generate_report())


def test_drifted_resources_are_read_as_rows(sandbox_env: Any, ports: Ports) -> None:
    create_stack_set(ports)
    op_id = "clumio-org-00000000000000aa-020"
    ports.stacksets.create_instances(create_op(op_id))
    finish(sandbox_env, ports, op_id)
    event = sandbox_env.world.apply_event("drift-stack", {"account": "400000000001", "region": "us-east-1"})
    drift_id = ports.stacksets.detect_drift("clumio-org")
    finish(sandbox_env, ports, drift_id)
    rows = ports.stacksets.list_resource_drifts("clumio-org", "400000000001", "us-east-1", drift_id)
    drifted_rows = [(r["logical_resource_id"], r["drift_status"]) for r in rows if r["drift_status"] != "IN_SYNC"]
    assert drifted_rows == [(event["resource"], "MODIFIED")]
    assert all(r["resource_type"].startswith("AWS::") for r in rows)
    live = ports.stacksets.describe_stack_set("clumio-org")
    assert live is not None and live.drift is not None and live.drift.drift_status == "DRIFTED"
    drifted = {(i.key.account, i.key.region) for i in ports.stacksets.list_instances("clumio-org")
               if i.drift_status.value == "DRIFTED"}
    assert drifted == {("400000000001", "us-east-1")}
