"""The StackSet requests the AWS provider builds are valid for botocore's own service model (shapes, required
members, enums), carry CallAs when the config says DELEGATED_ADMIN, and follow reference/aws-stacksets.md §A2–§A5."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator

from reconciler.core.desired import CallAs, ConcurrencyMode, RegionConcurrencyType
from reconciler.core.errors import ReconcilerError
from reconciler.core.keys import InstanceKey
from reconciler.core.live import PermissionModel
from reconciler.core.plan import (
    AccountFilterType,
    DeploymentTargets,
    Operation,
    OperationKind,
    OperationPreferences,
    StackSetDefinition,
)
from reconciler.core.ports import TemplateParameter
from reconciler.core.secrets import Secret
from reconciler.providers.aws import stackset_requests as build

CFN = botocore.session.get_session().get_service_model("cloudformation")
TOKEN = "5e1f2c3d-secret-clumio-token"
BODY = "AWSTemplateFormatVersion: '2010-09-09'\nResources: {}\n"


def assert_valid(operation: str, params: dict[str, Any]) -> None:
    report = ParamValidator().validate(params, CFN.operation_model(operation).input_shape)
    assert not report.has_errors(), report.generate_report()


def definition(model: PermissionModel = PermissionModel.SERVICE_MANAGED) -> StackSetDefinition:
    return StackSetDefinition(
        name="clumio-org" if model is PermissionModel.SERVICE_MANAGED else "clumio-org-management",
        permission_model=model, description="Clumio", template_version="24.4", template_sha256="ab" * 32,
        parameters=(("PermissionsBoundaryARN", ""),), capabilities=("CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"),
        tags=(("owner", "platform"),), auto_deployment=True, retain_stacks_on_account_removal=False,
        managed_execution=False,
        administration_role_arn="arn:aws:iam::100000000001:role/AWSCloudFormationStackSetAdministrationRole"
        if model is PermissionModel.SELF_MANAGED else None,
        execution_role_name="AWSCloudFormationStackSetExecutionRole"
        if model is PermissionModel.SELF_MANAGED else None)


PREFS = OperationPreferences(region_concurrency_type=RegionConcurrencyType.PARALLEL, max_concurrent_percentage=25,
                             failure_tolerance_count=2,
                             concurrency_mode=ConcurrencyMode.SOFT_FAILURE_TOLERANCE)
PARAMS = (TemplateParameter("ClumioToken", Secret(TOKEN)), TemplateParameter("RoleExternalId", use_previous=True),
          TemplateParameter("SendCFTDeploymentEventsToClumio", "True"))


def operation(kind: OperationKind, **kw: Any) -> Operation:
    base: dict[str, Any] = dict(index=1, operation_id="clumio-org-0123456789abcdef-001", kind=kind,
                                stack_set="clumio-org", wave="canary", regions=("us-east-1", "us-west-2"),
                                targets=DeploymentTargets(("ou-d3m0-canary01",), ("400000000001",),
                                                          AccountFilterType.INTERSECTION),
                                preferences=PREFS,
                                instances=(InstanceKey("clumio-org", "400000000001", "us-east-1"),))
    base.update(kw)
    return Operation(**base)


def test_create_stack_set_request_is_valid_and_reveals_secrets_only_in_the_request() -> None:
    request = build.create_stack_set(definition(), BODY, PARAMS, CallAs.DELEGATED_ADMIN)
    assert_valid("CreateStackSet", request)
    assert request["AutoDeployment"] == {"Enabled": True, "RetainStacksOnAccountRemoval": False}  # §A2 required
    assert request["CallAs"] == "DELEGATED_ADMIN"
    assert {"ParameterKey": "ClumioToken", "ParameterValue": TOKEN} in request["Parameters"]
    assert {"ParameterKey": "RoleExternalId", "UsePreviousValue": True} in request["Parameters"]
    assert TOKEN not in repr(PARAMS)


def test_self_managed_stack_set_names_its_roles_and_sends_no_call_as() -> None:
    request = build.create_stack_set(definition(PermissionModel.SELF_MANAGED), BODY, PARAMS, CallAs.DELEGATED_ADMIN)
    assert_valid("CreateStackSet", request)
    assert "CallAs" not in request  # CallAs is SERVICE_MANAGED only (§A1)
    assert "AutoDeployment" not in request
    assert request["ExecutionRoleName"] == "AWSCloudFormationStackSetExecutionRole"


def test_full_update_carries_auto_deployment_and_operation_id() -> None:
    op = operation(OperationKind.UPDATE_STACK_SET, targets=None, regions=())
    request = build.update_stack_set(definition(), BODY, PARAMS, op, CallAs.SELF)
    assert_valid("UpdateStackSet", request)
    assert request["OperationId"] == "clumio-org-0123456789abcdef-001"
    assert "AutoDeployment" in request and "DeploymentTargets" not in request and "Regions" not in request
    assert "CallAs" not in request


def test_subset_update_sends_targets_and_regions_but_not_auto_deployment() -> None:
    request = build.update_stack_set(definition(), BODY, PARAMS, operation(OperationKind.UPDATE_STACK_SET),
                                     CallAs.DELEGATED_ADMIN)
    assert_valid("UpdateStackSet", request)
    assert request["DeploymentTargets"]["AccountFilterType"] == "INTERSECTION"
    assert request["Regions"] == ["us-east-1", "us-west-2"]
    assert "AutoDeployment" not in request  # §A2: not together with DeploymentTargets/Regions


def test_self_managed_subset_update_targets_accounts() -> None:
    op = operation(OperationKind.UPDATE_STACK_SET, stack_set="clumio-org-management", targets=None,
                   accounts=("100000000001",), regions=("us-east-1",))
    request = build.update_stack_set(definition(PermissionModel.SELF_MANAGED), BODY, PARAMS, op, CallAs.SELF)
    assert_valid("UpdateStackSet", request)
    assert request["Accounts"] == ["100000000001"]


def test_create_instances_request_is_valid_with_preferences() -> None:
    request = build.create_stack_instances(operation(OperationKind.CREATE_STACK_INSTANCES), CallAs.DELEGATED_ADMIN)
    assert_valid("CreateStackInstances", request)
    assert request["OperationPreferences"] == {
        "RegionConcurrencyType": "PARALLEL", "ConcurrencyMode": "SOFT_FAILURE_TOLERANCE",
        "MaxConcurrentPercentage": 25, "FailureToleranceCount": 2}
    assert request["CallAs"] == "DELEGATED_ADMIN"
    assert "ParameterOverrides" not in request  # omitted: overrides stay as they are (§A4)


def test_sequential_region_order_is_sent() -> None:
    prefs = OperationPreferences(RegionConcurrencyType.SEQUENTIAL, region_order=("us-west-2", "us-east-1"),
                                 max_concurrent_count=3, failure_tolerance_percentage=10)
    request = build.create_stack_instances(operation(OperationKind.CREATE_STACK_INSTANCES, preferences=prefs),
                                           CallAs.SELF)
    assert_valid("CreateStackInstances", request)
    assert request["OperationPreferences"]["RegionOrder"] == ["us-west-2", "us-east-1"]


def test_update_instances_sends_overrides() -> None:
    overrides = (TemplateParameter("PermissionsBoundaryARN", "arn:aws:iam::aws:policy/Boundary"),)
    request = build.update_stack_instances(operation(OperationKind.UPDATE_STACK_INSTANCES), overrides, CallAs.SELF)
    assert_valid("UpdateStackInstances", request)
    assert request["ParameterOverrides"] == [
        {"ParameterKey": "PermissionsBoundaryARN", "ParameterValue": "arn:aws:iam::aws:policy/Boundary"}]


@pytest.mark.parametrize("retain", [True, False, None])
def test_delete_instances_always_says_whether_to_retain_stacks(retain: bool | None) -> None:
    request = build.delete_stack_instances(operation(OperationKind.DELETE_STACK_INSTANCES, retain_stacks=retain),
                                           CallAs.SELF)
    assert_valid("DeleteStackInstances", request)
    assert request["RetainStacks"] is bool(retain)  # RetainStacks is required (§A4)


def test_difference_filter_for_exclusions_is_valid() -> None:
    targets = DeploymentTargets(("ou-d3m0-workload",), ("320000000004",), AccountFilterType.DIFFERENCE)
    request = build.create_stack_instances(operation(OperationKind.CREATE_STACK_INSTANCES, targets=targets),
                                           CallAs.SELF)
    assert_valid("CreateStackInstances", request)
    assert request["DeploymentTargets"] == {"OrganizationalUnitIds": ["ou-d3m0-workload"],
                                            "Accounts": ["320000000004"], "AccountFilterType": "DIFFERENCE"}


def test_more_than_fifty_ous_in_one_call_is_refused() -> None:
    targets = DeploymentTargets(tuple(f"ou-abcd-{i:08d}" for i in range(51)))
    with pytest.raises(ReconcilerError, match="at most 50"):
        build.create_stack_instances(operation(OperationKind.CREATE_STACK_INSTANCES, targets=targets), CallAs.SELF)


def test_an_operation_without_regions_is_refused_before_aws_sees_it() -> None:
    with pytest.raises(ReconcilerError, match="no targets or no regions"):
        build.create_stack_instances(operation(OperationKind.CREATE_STACK_INSTANCES, regions=()), CallAs.SELF)


def test_template_body_over_the_inline_limit_is_refused() -> None:
    with pytest.raises(ReconcilerError, match="51200"):
        build.create_stack_set(definition(), "x" * 51_201, PARAMS, CallAs.SELF)
