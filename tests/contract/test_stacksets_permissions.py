"""Contract: who may call and deploy — delegated admin, self-managed StackSets (aws-stacksets.md §A1, §A3)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.contract.sandbox_helpers import (
    APP_ONE,
    APP_TWO,
    MANAGEMENT,
    NESTED,
    OTHER,
    OU_APPS,
    create_clumio_stack_set,
    deploy,
    instances,
    wait_for_operation,
    world_spec,
)

SIMPLE_TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Colour: {Type: String, Default: blue}
Resources:
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      DisplayName: !Sub "topic-${Colour}"
"""


def test_delegated_admin_manages_the_management_accounts_stack_sets_with_call_as(sandbox_factory):
    """§A1: a registered delegated admin acts on the StackSets that live in the management account with
    CallAs=DELEGATED_ADMIN, including Describe and List."""
    sandbox = sandbox_factory(world_spec())
    admin = sandbox.client("cloudformation", account=OTHER)
    create_clumio_stack_set(sandbox, client=admin, CallAs="DELEGATED_ADMIN")
    op_id = admin.create_stack_instances(StackSetName="clumio", Regions=["us-east-1"], CallAs="DELEGATED_ADMIN",
                                         DeploymentTargets={"OrganizationalUnitIds": [OU_APPS]})["OperationId"]
    op = wait_for_operation(sandbox, admin, op_id, CallAs="DELEGATED_ADMIN")
    assert op["Status"] == "SUCCEEDED"
    management = sandbox.client("cloudformation")
    assert management.describe_stack_set(StackSetName="clumio")["StackSet"]["StackSetARN"].split(":")[4] == MANAGEMENT
    assert admin.list_stack_instances(StackSetName="clumio", CallAs="DELEGATED_ADMIN")["Summaries"]


def test_delegated_admin_without_call_as_looks_in_its_own_account(sandbox_factory):
    """§A1 (inference noted in Uncertainties): without CallAs the call looks in the caller's own account."""
    sandbox = sandbox_factory(world_spec())
    create_clumio_stack_set(sandbox)
    admin = sandbox.client("cloudformation", account=OTHER)
    with pytest.raises(ClientError) as error:
        admin.describe_stack_set(StackSetName="clumio")
    assert error.value.response["Error"]["Code"] == "StackSetNotFoundException"


def test_unregistered_account_cannot_call_as_delegated_admin(sandbox_factory):
    """§A1: only a registered delegated admin may use CallAs=DELEGATED_ADMIN."""
    sandbox = sandbox_factory(world_spec())
    create_clumio_stack_set(sandbox)
    stranger = sandbox.client("cloudformation", account=APP_ONE)
    with pytest.raises(ClientError) as error:
        stranger.describe_stack_set(StackSetName="clumio", CallAs="DELEGATED_ADMIN")
    assert error.value.response["Error"]["Code"] == "ValidationError"
    assert "delegated administrator" in error.value.response["Error"]["Message"]


def test_self_managed_stack_set_deploys_to_listed_accounts_including_the_management_account(sandbox_factory):
    """§A1: SELF_MANAGED targets explicit Accounts and is the only way to deploy to the management account."""
    sandbox = sandbox_factory(world_spec())
    cf = sandbox.client("cloudformation")
    cf.create_stack_set(StackSetName="self", TemplateBody=SIMPLE_TEMPLATE)
    op_id = cf.create_stack_instances(StackSetName="self", Accounts=[MANAGEMENT, APP_ONE],
                                      Regions=["us-east-1"])["OperationId"]
    wait_for_operation(sandbox, cf, op_id, name="self")
    summaries = instances(cf, "self")
    assert {summaries[(a, "us-east-1")]["Status"] for a in (MANAGEMENT, APP_ONE)} == {"CURRENT"}
    stack_set = cf.describe_stack_set(StackSetName="self")["StackSet"]
    assert stack_set["PermissionModel"] == "SELF_MANAGED"
    assert stack_set["ExecutionRoleName"] == "AWSCloudFormationStackSetExecutionRole"


def test_self_managed_stack_set_rejects_ou_targets(sandbox_factory):
    """§A1/§A3: SELF_MANAGED targets are explicit Accounts, not OUs."""
    sandbox = sandbox_factory(world_spec())
    cf = sandbox.client("cloudformation")
    cf.create_stack_set(StackSetName="self", TemplateBody=SIMPLE_TEMPLATE)
    with pytest.raises(ClientError) as error:
        cf.create_stack_instances(StackSetName="self", Regions=["us-east-1"],
                                  DeploymentTargets={"OrganizationalUnitIds": [OU_APPS]})
    assert "can only have accounts as target" in error.value.response["Error"]["Message"]


def test_self_managed_target_without_execution_role_fails_with_a_clear_reason(sandbox_factory):
    """§A1: every target account needs AWSCloudFormationStackSetExecutionRole."""
    spec = world_spec()
    spec["ous"][0]["accounts"][1]["roles"] = []  # app-two has no execution role
    sandbox = sandbox_factory(spec)
    cf = sandbox.client("cloudformation")
    cf.create_stack_set(StackSetName="self", TemplateBody=SIMPLE_TEMPLATE)
    op_id = cf.create_stack_instances(StackSetName="self", Accounts=[APP_ONE, APP_TWO], Regions=["us-east-1"],
                                      OperationPreferences={"FailureToleranceCount": 1})["OperationId"]
    wait_for_operation(sandbox, cf, op_id, name="self")
    failed = instances(cf, "self")[(APP_TWO, "us-east-1")]
    assert failed["StackInstanceStatus"]["DetailedStatus"] == "FAILED"
    assert "AWSCloudFormationStackSetExecutionRole" in failed["StatusReason"]
    assert instances(cf, "self")[(APP_ONE, "us-east-1")]["Status"] == "CURRENT"


def test_self_managed_without_administration_role_fails_every_instance(sandbox_factory):
    """§A1: the administrator account needs AWSCloudFormationStackSetAdministrationRole."""
    spec = world_spec()
    spec["organization"]["management_roles"] = ["AWSCloudFormationStackSetExecutionRole"]
    sandbox = sandbox_factory(spec)
    cf = sandbox.client("cloudformation")
    cf.create_stack_set(StackSetName="self", TemplateBody=SIMPLE_TEMPLATE)
    op_id = cf.create_stack_instances(StackSetName="self", Accounts=[APP_ONE, NESTED], Regions=["us-east-1"],
                                      OperationPreferences={"FailureToleranceCount": 5})["OperationId"]
    wait_for_operation(sandbox, cf, op_id, name="self")
    reasons = {v["StatusReason"] for v in instances(cf, "self").values()}
    assert len(reasons) == 1 and "AWSCloudFormationStackSetAdministrationRole" in reasons.pop()


def test_service_managed_stack_set_needs_trusted_access(sandbox_factory):
    """§A1: SERVICE_MANAGED needs StackSets trusted access with Organizations."""
    spec = world_spec(stacksets={"trusted_access": False})
    sandbox = sandbox_factory(spec)
    with pytest.raises(ClientError) as error:
        create_clumio_stack_set(sandbox)
    assert "organizations access" in error.value.response["Error"]["Message"]
    sandbox.client("organizations").enable_aws_service_access(
        ServicePrincipal="member.org.stacksets.cloudformation.amazonaws.com")
    cf = create_clumio_stack_set(sandbox)
    assert deploy(sandbox, cf, [OU_APPS], ["us-east-1"])["Status"] == "SUCCEEDED"


def test_service_managed_stack_set_requires_auto_deployment(sandbox_factory):
    """§A2: AutoDeployment is required for SERVICE_MANAGED."""
    sandbox = sandbox_factory(world_spec())
    with pytest.raises(ClientError) as error:
        sandbox.client("cloudformation").create_stack_set(StackSetName="s", TemplateBody=SIMPLE_TEMPLATE,
                                                          PermissionModel="SERVICE_MANAGED")
    assert "AutoDeployment" in error.value.response["Error"]["Message"]


def test_management_account_may_not_call_as_delegated_admin(sandbox_factory):
    """§A1 (quota-monitor-for-aws #102, cdk-stacksets #265): the management account is not a delegated admin, so
    CallAs=DELEGATED_ADMIN from it is refused with AWS's message."""
    sandbox = sandbox_factory(world_spec())
    create_clumio_stack_set(sandbox)
    with pytest.raises(ClientError) as error:
        sandbox.client("cloudformation").list_stack_sets(CallAs="DELEGATED_ADMIN")
    assert error.value.response["Error"]["Message"] == "Account used is not a delegated administrator"


def test_member_creating_a_service_managed_stack_set_without_call_as_is_refused(sandbox_factory):
    """§A1: a delegated admin must say CallAs=DELEGATED_ADMIN to operate a SERVICE_MANAGED stack set."""
    sandbox = sandbox_factory(world_spec())
    with pytest.raises(ClientError) as error:
        create_clumio_stack_set(sandbox, client=sandbox.client("cloudformation", account=OTHER))
    assert "management account or delegated admin" in error.value.response["Error"]["Message"]
